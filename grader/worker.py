"""Worker: run the course tests on a sandboxed package, case by case, and collect what they report.

The worker process is `pytest` with the recording plugin (grader/plugin.py) inside the sandbox.
This module is its parent: it reads frames from an inherited pipe, enforces the per-case and
startup timeouts by killing the process group, drains stdout/stderr into a capped log (head and
tail), and restarts a fresh worker for the cases not yet run after a crash or timeout
(grading.md §1.6). It never reads pytest's exit status or summary, and it judges nothing:
`CaseReport`s go to grader.judge.

Restart rule: a worker that dies before starting any case twice in a row means the package
cannot even be imported or collected: the remaining cases are `crashed`. Otherwise after 2
consecutive crashes/timeouts of one test function (its parametrized cases) the rest of that
function's cases are `crashed`, and everything else still runs, so one broken function costs only
its own tests, and an endless loop costs at most two time limits per test function.
"""

import os
import select
import subprocess
import threading
import time
from dataclasses import dataclass, field

from grader import protocol, sandbox
from grader.judge import CaseReport

LOG_HEAD = LOG_TAIL = 32 << 10


@dataclass
class WorkerConfig:
    assignment: str
    level: str
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    mode: str = "worker"                   # or "record" (reference runs of `grader snapshots`)
    startup_timeout: float = 60.0          # import + collection allowance, separate from cases
    deadline: float | None = None          # time.monotonic() after which nothing new starts


class CappedLog:
    """Keeps the first and last LOG_HEAD/LOG_TAIL bytes of a stream and counts the rest."""

    def __init__(self):
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = LOG_HEAD - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            del self.tail[:-LOG_TAIL]

    def text(self) -> str:
        dropped = self.total - len(self.head) - len(self.tail)
        mid = f"\n[... {dropped} bytes of output dropped ...]\n" if dropped > 0 else ""
        return (bytes(self.head) + mid.encode() + bytes(self.tail)).decode("utf-8", "replace")


def _drain(stream, log: CappedLog) -> None:
    for chunk in iter(lambda: stream.read1(1 << 16), b""):
        log.add(chunk)


STREAK_LIMIT = 2


def _function(cid: str) -> str:
    """`test_bpe.py::test_x[case]` -> `test_bpe.py::test_x`: the unit of the restart rule."""
    return cid.split("[", 1)[0]


def _module(cid: str) -> str:
    return cid.split("::", 1)[0]


def run_cases(sandbox_dir, cases: list[str], timeouts: dict[str, float], cfg: WorkerConfig
              ) -> tuple[dict[str, CaseReport], str]:
    """Run `cases` (ids relative to the tests folder) and return a report per case and the log."""
    reports = {cid: CaseReport(cid) for cid in cases}
    remaining = list(cases)
    log = CappedLog()
    startup_failures = 0
    streak: dict[str, int] = {}
    while remaining:
        if cfg.deadline is not None and time.monotonic() >= cfg.deadline:
            for cid in remaining:
                reports[cid].note = "not run: the run's deadline passed first"
            break
        started_any, ended = _one_worker(sandbox_dir, remaining, timeouts, cfg, reports, log)
        done = [cid for cid in remaining if reports[cid].status != "not_run"]   # in run order
        remaining = [cid for cid in remaining if reports[cid].status == "not_run"]
        if ended or not remaining:
            for cid in remaining:   # the worker finished but never started these: unknown to pytest
                reports[cid].status = "crashed"
                reports[cid].note = "the worker finished without running this case"
            break
        if not started_any:
            startup_failures += 1
            if startup_failures >= 2:
                for cid in remaining:
                    reports[cid].status = "crashed"
                    reports[cid].note = ("the worker died before running any test (while importing the "
                                         "package or collecting tests); see the log")
                break
            continue
        startup_failures = 0
        for cid in done:
            fn = _function(cid)
            crashed = reports[cid].status in ("crashed", "timeout")
            streak[fn] = streak.get(fn, 0) + 1 if crashed else 0
        for fn, n in list(streak.items()):
            if n >= STREAK_LIMIT:
                for cid in [c for c in remaining if _function(c) == fn]:
                    reports[cid].status = "crashed"
                    reports[cid].note = f"not run: {n} consecutive crashes or timeouts in {fn}"
                remaining = [c for c in remaining if _function(c) != fn]
                streak[fn] = 0
    return reports, log.text()


BOOT = ("import sys; sys.path[:0] = ['{sandbox}/.grader', '{sandbox}']; import pytest; "
        "sys.exit(pytest.main(sys.argv[1:]))")
PYTEST_ARGS = ["-c", "{sandbox}/.grader/pytest.ini", "--rootdir", "{sandbox}", "-p", "grader.plugin",
               "-p", "no:cacheprovider", "-p", "no:stepwise", "-s", "-q", "--no-header", "-rN",
               "--continue-on-collection-errors", "-W", "ignore::pytest.PytestUnknownMarkWarning"]


def collect(sandbox_dir, cfg: WorkerConfig, timeout: float = 120.0) -> tuple[list[str], str]:
    """Case ids pytest collects in the sandbox's tests folder (for recording snapshots)."""
    read_fd, write_fd = os.pipe()
    args = ["-c", BOOT, *PYTEST_ARGS, "--collect-only", f"{cfg.assignment}/tests"]
    try:
        proc = sandbox.spawn(sandbox_dir, cfg.level, args, limits=cfg.limits,
                             env={"GRADER_MODE": cfg.mode, "GRADER_FD": str(write_fd)}, pass_fds=(write_fd,))
    finally:
        os.close(write_fd)
    data = bytearray()

    def pull() -> None:
        while chunk := os.read(read_fd, 1 << 20):
            data.extend(chunk)

    reader = threading.Thread(target=pull, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
        reader.join(timeout=10)
    finally:
        sandbox.kill(proc)
        os.close(read_fd)
    ids, errors = [], []
    for header, _ in protocol.FrameReader().feed(bytes(data)):
        if header["t"] == "collected":
            ids = [str(i) for i in header["ids"]]
        elif header["t"] == "collect_error":
            errors.append(f"{header.get('module')}: {header.get('message')}")
    if errors:
        raise RuntimeError("collection failed:\n" + "\n".join(errors) + "\n" + out.decode(errors="replace")[-3000:])
    return ids, out.decode(errors="replace")


def _one_worker(sandbox_dir, cases, timeouts, cfg, reports, log) -> tuple[bool, bool]:
    """One pytest process over `cases`. Returns (started any case, reached the end frame)."""
    read_fd, write_fd = os.pipe()
    nodeids = [f"{cfg.assignment}/tests/{cid}" for cid in cases]
    args = ["-c", BOOT, *PYTEST_ARGS, *nodeids]
    env = {"GRADER_MODE": cfg.mode, "GRADER_FD": str(write_fd)}
    try:
        proc = sandbox.spawn(sandbox_dir, cfg.level, args, limits=cfg.limits, env=env, pass_fds=(write_fd,))
    finally:
        os.close(write_fd)
    drainer = threading.Thread(target=_drain, args=(proc.stdout, log), daemon=True)
    drainer.start()
    reader = protocol.FrameReader()
    current: str | None = None
    t_case = t_last = time.monotonic()
    started_any = ended = False
    wanted = set(cases)
    try:
        while True:
            now = time.monotonic()
            if current is not None:
                limit = timeouts.get(current, 60.0)
                wait = t_case + limit - now
                if wait <= 0:
                    rep = reports[current]
                    rep.status, rep.seconds = "timeout", now - t_case
                    rep.note = f"no result within {limit:g} s; the worker was killed"
                    break
            else:
                wait = t_last + cfg.startup_timeout - now
                if wait <= 0:
                    log.add(f"\n[grader] no frame for {cfg.startup_timeout:g} s between cases; killed\n".encode())
                    break
            ready, _, _ = select.select([read_fd], [], [], min(wait, 1.0))
            if not ready:
                continue
            data = os.read(read_fd, 1 << 20)
            if not data:
                if current is not None:
                    rep = reports[current]
                    rep.status, rep.seconds = "crashed", time.monotonic() - t_case
                    try:
                        code = proc.wait(timeout=2)
                    except subprocess.TimeoutExpired:
                        code = None
                    rep.note = f"the worker process ended during this case (exit status {code})"
                break
            t_last = time.monotonic()
            try:
                frames = reader.feed(data)
            except protocol.ProtocolError as exc:
                if current is not None:
                    reports[current].status, reports[current].note = "malformed", str(exc)
                log.add(f"\n[grader] protocol error: {exc}\n".encode())
                break
            for header, payload in frames:
                kind = header["t"]
                cid = header.get("id")
                if kind == "start":
                    if cid not in wanted or reports[cid].status != "not_run" or current is not None:
                        _malformed(reports, current, f"unexpected start frame for {cid!r}")
                        continue
                    current, t_case, started_any = cid, time.monotonic(), True
                elif kind == "obs":
                    if cid != current or current is None:
                        _malformed(reports, current, f"observation for {cid!r} outside its test")
                        continue
                    name = header.get("name")
                    obs = reports[current].observations
                    if type(name) is not str or name in obs:
                        _malformed(reports, current, f"duplicate or invalid observation name {name!r}")
                        continue
                    obs[name] = (header, payload)
                elif kind == "outcome":
                    if cid != current or current is None:
                        _malformed(reports, current, f"outcome for {cid!r} outside its test")
                        continue
                    rep = reports[current]
                    if rep.status == "not_run":
                        rep.status = "done"
                    rep.outcome, rep.seconds = header, time.monotonic() - t_case
                    current = None
                elif kind == "collect_error":
                    _collect_error(reports, wanted, header)
                elif kind == "end":
                    ended = True
    finally:
        sandbox.kill(proc)
        proc.wait()
        drainer.join(timeout=5)
        os.close(read_fd)
    return started_any, ended


def _malformed(reports, current, why: str) -> None:
    if current is not None and reports[current].status == "not_run":
        reports[current].status, reports[current].note = "malformed", why


def _collect_error(reports, wanted, header) -> None:
    """A test module failed to import: its cases are errors with the import message."""
    module = str(header.get("module", ""))
    rel = module.split("/tests/", 1)[-1]
    message = str(header.get("message", ""))[:2000]
    for cid in wanted:
        if _module(cid) == rel and reports[cid].status == "not_run":
            rep = reports[cid]
            rep.status = "done"
            rep.outcome = {"t": "outcome", "id": cid, "outcome": "error", "exc": "CollectionError",
                           "message": f"the test module could not be imported: {message}"}
