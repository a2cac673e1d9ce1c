"""Judge: turn what a worker reported for each case into an outcome, against the snapshots.

Runs only in the grader process (and, for `compare`, in the local mode of `check`). A case
scores only if the worker said it passed AND every observation the reference recorded for it
arrived and matches within the snapshot's tolerance (DESIGN.md §3, grading.md §1.6). Nothing
here touches an object built by a submission: values arrive as JSON or `.npy` bytes and are
rebuilt as plain numpy/Python values, type and dtype checked before values.

Every verdict has two texts: `message` (visible items: shapes, max abs error, first differing
index) and `brief` (hidden items: verdict and error magnitude only).
"""

import builtins
from dataclasses import dataclass, field

import numpy as np

from grader import protocol

OUTCOMES = ("passed", "failed", "error", "timeout", "crashed", "missing", "malformed", "not_run",
            "grader_error", "needs_gpu")


@dataclass
class CaseReport:
    """What the worker stage observed for one case (filled by grader.worker)."""
    cid: str
    status: str = "not_run"            # done | timeout | crashed | not_run | malformed
    outcome: dict | None = None        # the worker's outcome frame
    observations: dict = field(default_factory=dict)  # name -> (header, payload)
    note: str = ""                     # why timeout / crashed / malformed
    seconds: float = 0.0


@dataclass
class Verdict:
    cid: str
    outcome: str
    message: str
    brief: str

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


# --------------------------------------------------------------------------- one observation

def _fmt(x) -> str:
    return f"{x:.3g}" if isinstance(x, float) else repr(x)


def _close(a, b, atol, rtol) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if type(a) not in (int, float) or type(b) not in (int, float):
            return False
        if a != a and b != b:
            return True
        return abs(a - b) <= atol + rtol * abs(b)
    return type(a) is type(b) and a == b


def _diff_plain(exp, got, atol, rtol, path="") -> str | None:
    """First difference between two decoded plain values, or None."""
    if type(exp) is not type(got) and not (type(exp) in (int, float) and type(got) in (int, float)
                                           and (atol or rtol)):
        return f"at {path or 'top level'}: expected a {type(exp).__name__}, got a {type(got).__name__}"
    if isinstance(exp, list):
        if len(exp) != len(got):
            first = next((i for i, (e, g) in enumerate(zip(exp, got)) if e != g), min(len(exp), len(got)))
            return (f"at {path or 'top level'}: expected {len(exp)} items, got {len(got)} "
                    f"(first difference at index {first})")
        for i, (e, g) in enumerate(zip(exp, got)):
            d = _diff_plain(e, g, atol, rtol, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(exp, dict):
        missing = [k for k in exp if k not in got]
        extra = [k for k in got if k not in exp]
        if missing or extra:
            return (f"at {path or 'top level'}: keys differ ({len(missing)} missing, e.g. "
                    f"{_fmt(missing[0]) if missing else '-'}; {len(extra)} unexpected, e.g. "
                    f"{_fmt(extra[0]) if extra else '-'})")
        for k in exp:
            d = _diff_plain(exp[k], got[k], atol, rtol, f"{path}[{_fmt(k)}]")
            if d:
                return d
        return None
    if not _close(got, exp, atol, rtol):
        return f"at {path or 'top level'}: expected {_fmt(exp)[:200]}, got {_fmt(got)[:200]}"
    return None


def compare(expected: dict, header: dict, payload: bytes) -> tuple[bool, str]:
    """Compare one observation with its snapshot entry. Returns (ok, message)."""
    ok, message, _ = compare_full(expected, header, payload)
    return ok, message


def compare_full(expected: dict, header: dict, payload: bytes) -> tuple[bool, str, str]:
    """(ok, message for visible items, brief for hidden items)."""
    atol = float(expected.get("atol") or 0.0)
    rtol = float(expected.get("rtol") or 0.0)
    kind = header.get("kind")
    if kind != expected["kind"]:
        want = "a tensor/array" if expected["kind"] == "array" else "a plain Python value"
        return False, f"expected {want}, got {'a tensor/array' if kind == 'array' else 'a plain value'}", \
            "wrong kind of value"
    if kind == "json":
        got = protocol.decode_value(header.get("value"))
        exp = protocol.decode_value(expected["value"])
        if not (atol or rtol):
            same = protocol.canonical_json(header.get("value")) == protocol.canonical_json(expected["value"])
            if same:
                return True, "", ""
        diff = _diff_plain(exp, got, atol, rtol)
        if diff is None:
            return True, "", ""
        return False, f"value differs {diff}", "value differs"
    got = protocol.npy_to_array(payload)
    exp = np.asarray(expected["array"])
    if got.dtype != exp.dtype:
        return False, f"dtype {got.dtype} but the reference gives {exp.dtype}", "wrong dtype"
    if got.shape != exp.shape:
        return False, f"shape {tuple(got.shape)} but the reference gives {tuple(exp.shape)}", "wrong shape"
    if got.size == 0:
        return True, "", ""
    if exp.dtype.kind in "biu" or not (atol or rtol):
        bad = ~((got == exp) | (np.isnan(got) & np.isnan(exp)) if exp.dtype.kind in "fc" else (got == exp))
    else:
        g, e = got.astype(np.float64), exp.astype(np.float64)
        bad = ~np.isclose(g, e, atol=atol, rtol=rtol, equal_nan=True)
    if not bad.any():
        return True, "", ""
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    n_bad = int(bad.sum())
    if exp.dtype.kind in "fc":
        with np.errstate(invalid="ignore"):
            err = np.abs(got.astype(np.float64) - exp.astype(np.float64))
        max_err = float(np.nanmax(np.where(np.isfinite(err), err, np.inf)))
        msg = (f"{n_bad} of {exp.size} values differ (max abs error {max_err:.2e}, atol {atol:g}, "
               f"rtol {rtol:g}); first at index {where}: got {got[where]!r}, expected {exp[where]!r}")
        return False, msg, f"values differ (max abs error {max_err:.1e})"
    msg = f"{n_bad} of {exp.size} values differ; first at index {where}: got {got[where]!r}, expected {exp[where]!r}"
    return False, msg, f"{n_bad} of {exp.size} values differ"


# --------------------------------------------------------------------------- one case

def _raised(exc) -> str:
    """Hidden items name only built-in exceptions: a class name is the submission's to choose
    and could carry a hidden input out (grader/private/adversarial.py, oracle_probe)."""
    known = isinstance(getattr(builtins, str(exc), None), type) and issubclass(getattr(builtins, exc), BaseException)
    return f"raised {exc}" if known or exc == "CollectionError" else "raised an exception"


def judge_case(report: CaseReport, expected: dict | None) -> Verdict:
    """The outcome table of grading.md §1.6, fail closed."""
    cid = report.cid
    if expected is None:
        return Verdict(cid, "grader_error", "no snapshot recorded for this case", "grader error")
    if report.status in ("timeout", "crashed", "not_run", "malformed"):
        text = report.note or report.status.replace("_", " ")
        return Verdict(cid, report.status, text, report.status.replace("_", " "))
    out = report.outcome or {}
    worker_outcome = out.get("outcome")
    # Observations first: a mismatch is the most useful thing to tell, even for a failed test.
    for name in report.observations:
        if name not in expected:
            return Verdict(cid, "malformed", f"unknown observation {name!r}", "malformed report")
    for name, entry in expected.items():
        if name not in report.observations:
            continue
        header, payload = report.observations[name]
        try:
            ok, message, brief = compare_full(entry, header, payload)
        except protocol.ProtocolError as exc:
            return Verdict(cid, "malformed", f"observation {name!r}: {exc}", "malformed report")
        if not ok:
            hint = f" Hint: {entry['hint']}" if entry.get("hint") else ""
            return Verdict(cid, "failed", f"observation {name!r}: {message}.{hint}", brief)
    if worker_outcome == "error":
        exc = out.get("exc") or "exception"
        return Verdict(cid, "error", f"{exc}: {str(out.get('message', ''))[:500]}", _raised(exc))
    if worker_outcome in ("failed", "skipped"):
        return Verdict(cid, "failed", str(out.get("message", ""))[:500] or worker_outcome, "test failed")
    missing = [n for n in expected if n not in report.observations]
    if missing:
        return Verdict(cid, "missing", f"observations never recorded: {', '.join(missing)}",
                       "incomplete report")
    if worker_outcome != "passed":
        return Verdict(cid, "malformed", "no verdict from the worker", "malformed report")
    return Verdict(cid, "passed", "passed", "passed")
