"""The course's pytest plugin: the `check` fixture through which every graded test records.

Loaded with `-p grader.plugin` (pyproject's addopts, and the grader's worker command line), so
tests use the fixture without importing the grader. One fixture, three modes (DESIGN.md §3):

- local (default, `make test`): compare each observation with the public snapshot and fail at
  once with a message that says what differs and how to fix it;
- worker (`GRADER_MODE=worker`, set by the grader inside the sandbox): send each observation as
  data over the inherited pipe `GRADER_FD` and judge nothing;
- dry (`GRADER_MODE=dry`, for test authors): record and compare nothing;
- record (`GRADER_MODE=record`, reference runs of `grader snapshots` only): as worker, plus the
  tolerances and hints the test wrote, which go into the snapshot.

Inside the sandbox only this file and `protocol.py` exist; the local mode's imports of the
snapshot store and the comparison are therefore made lazily.
"""

import os
import pathlib

import pytest

from grader import protocol

MODE = os.environ.get("GRADER_MODE", "local")
_FD = int(os.environ["GRADER_FD"]) if MODE in ("worker", "record") else None


def case_id(item) -> str:
    """`test_bpe.py::test_x[p]`, relative to the assignment's `tests/` folder (stable anywhere)."""
    path = pathlib.Path(str(item.fspath))
    parts = path.parts
    idx = max(i for i, p in enumerate(parts) if p == "tests") if "tests" in parts else len(parts) - 1
    rel = "/".join(parts[idx + 1:])
    return f"{rel}::{item.name}"


def _send(header: dict, payload: bytes = b"") -> None:
    if _FD is not None:
        protocol.write_frame(_FD, header, payload)


# --------------------------------------------------------------------------- the fixture

class Check:
    """`check(name, value, atol=, rtol=, hint=)` records one observation of the running test.

    Values are tensors/arrays or plain Python values (see grader/protocol.py). `atol`/`rtol`
    are the comparison tolerances; they are recorded into the snapshot from the reference run
    and never taken from a submission's run. `hint` is shown to the student on a mismatch.
    """

    def __init__(self, cid: str, assignment_tests: pathlib.Path):
        self.cid = cid
        self.names: list[str] = []
        self._tests_dir = assignment_tests
        self._expected = None

    def __call__(self, name: str, value, *, atol: float | None = None, rtol: float | None = None,
                 hint: str | None = None) -> None:
        if name in self.names:
            raise ValueError(f"observation {name!r} recorded twice in {self.cid}")
        self.names.append(name)
        if protocol.is_array(value):
            arr = protocol.to_numpy(value)
            header = {"t": "obs", "id": self.cid, "name": name, "kind": "array",
                      "dtype": arr.dtype.name, "shape": list(arr.shape)}
            payload = protocol.array_to_npy(arr)
        else:
            header = {"t": "obs", "id": self.cid, "name": name, "kind": "json",
                      "value": protocol.encode_value(value)}
            payload = b""
        if MODE == "dry":   # test authors only: run the test body, compare nothing
            return
        if MODE == "local":
            self._compare_locally(name, header, payload, atol=atol, rtol=rtol, hint=hint)
            return
        if MODE == "record":
            header.update(atol=atol, rtol=rtol, hint=hint)
        _send(header, payload)

    def raises(self, name: str, exc_type: type[BaseException], fn, *args, **kwargs):
        """Call `fn(*args, **kwargs)` and record which exception it raised (or that none was).

        Behaviour-only checks still leave an observation, so a forged pass gains nothing.
        """
        try:
            fn(*args, **kwargs)
        except exc_type as exc:
            self(name, exc_type.__name__)
            return exc
        except Exception as exc:  # noqa: BLE001 - recorded, and the judge says what was expected
            self(name, type(exc).__name__)
            return exc
        self(name, "no exception")
        return None

    # -- local comparison against the public snapshot
    def _compare_locally(self, name, header, payload, *, atol, rtol, hint):
        from grader import judge, snapshots

        if self._expected is None:
            self._expected = snapshots.load_case(self._tests_dir, self.cid)
        if self._expected is None:
            pytest.fail(f"No snapshot is recorded for {self.cid}. The course's snapshots are "
                        "missing or out of date: instructors run `grader snapshots`.", pytrace=False)
        expected = self._expected.get(name)
        if expected is None:
            pytest.fail(f"{self.cid}: the snapshot has no observation {name!r}.", pytrace=False)
        ok, message = judge.compare(expected, header, payload)
        if not ok:
            text = f"{name}: {message}"
            if expected.get("hint"):
                text += f"\nHint: {expected['hint']}"
            pytest.fail(text, pytrace=False)

    def missing(self) -> list[str]:
        if MODE != "local" or self._expected is None:
            return []
        return [n for n in self._expected if n not in self.names]


def _tests_dir_of(item) -> pathlib.Path:
    path = pathlib.Path(str(item.fspath)).resolve()
    for parent in path.parents:
        if parent.name == "tests":
            return parent
    return path.parent


@pytest.fixture
def check(request):
    chk = Check(case_id(request.node), _tests_dir_of(request.node))
    yield chk
    missing = chk.missing()
    if missing and request.node.rep_call_passed:
        pytest.fail(f"{chk.cid} never recorded {missing}; every observation in the snapshot "
                    "must be recorded for the test to score.", pytrace=False)


# --------------------------------------------------------------------------- hooks

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.grader_exc = call.excinfo.typename if call.excinfo is not None else None
    if report.when == "call":
        item.rep_call_passed = report.passed
    elif report.when == "setup":
        item.rep_call_passed = False


def _short(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text[:2000]


class _WorkerReporter:
    """Sends start/outcome frames; one outcome per test, after its teardown."""

    def __init__(self):
        self.state: dict[str, dict] = {}

    def pytest_runtest_protocol(self, item, nextitem):
        self.state[item.nodeid] = {"id": case_id(item), "outcome": "passed"}
        _send({"t": "start", "id": case_id(item)})

    def pytest_runtest_logreport(self, report):
        st = self.state.get(report.nodeid)
        if st is None:
            return
        if report.failed and st["outcome"] == "passed":
            exc = getattr(report, "grader_exc", None)
            is_assert = report.when == "call" and exc in ("AssertionError", "Failed")
            st["outcome"] = "failed" if is_assert else "error"
            st["exc"] = exc
            st["message"] = _short(report)
            st["when"] = report.when
        elif report.skipped and st["outcome"] == "passed":
            st["outcome"] = "skipped"
            st["message"] = _short(report)
        if report.when == "teardown":
            _send({"t": "outcome", **st})

    def pytest_collection_finish(self, session):
        _send({"t": "collected", "ids": [case_id(item) for item in session.items]})

    def pytest_collectreport(self, report):
        if report.failed:
            _send({"t": "collect_error", "module": str(report.nodeid), "message": _short(report)})

    def pytest_sessionfinish(self, session, exitstatus):
        _send({"t": "end"})


class _LocalOutcomes:
    """`--outcomes-file F` (used by `grader test`): write {case id: outcome} as JSON at the end."""

    def __init__(self, path: str):
        self.path, self.outcomes = path, {}

    def pytest_runtest_logreport(self, report):
        cid = self.outcomes.setdefault(report.nodeid, {"id": None, "outcome": "passed"})
        if report.failed and cid["outcome"] == "passed":
            cid["outcome"] = "failed"
        elif report.skipped and cid["outcome"] == "passed":
            cid["outcome"] = "skipped"

    def pytest_collection_finish(self, session):
        for item in session.items:
            self.outcomes[item.nodeid] = {"id": case_id(item), "outcome": "not_run"}

    def pytest_runtest_logstart(self, nodeid, location):
        self.outcomes.setdefault(nodeid, {"id": None, "outcome": "passed"})["outcome"] = "passed"

    def pytest_sessionfinish(self, session, exitstatus):
        import json
        data = {v["id"]: v["outcome"] for v in self.outcomes.values() if v["id"]}
        pathlib.Path(self.path).write_text(json.dumps(data, indent=1), encoding="utf-8")


def pytest_addoption(parser):
    parser.addoption("--outcomes-file", default=None, help="write each case's outcome as JSON (grader test)")


def pytest_configure(config):
    if MODE in ("worker", "record"):
        config.pluginmanager.register(_WorkerReporter(), "grader-worker-reporter")
    path = config.getoption("--outcomes-file", default=None)
    if path:
        config.pluginmanager.register(_LocalOutcomes(path), "grader-local-outcomes")
