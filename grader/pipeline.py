"""One grading run, end to end: submission → sandbox → worker → judge → rubric items (DESIGN.md §4).

`grade` never raises for anything a submission does: bad archives, import errors, crashes,
timeouts and floods all end as zero-scored cases with a message, and the run completes with
`grading_status` "ok" (or "rejected" when no package could be found). Faults of the grader
itself (a missing snapshot, a reference that fails its own perf case) are `grader_error` and
are flagged so the CLI can exit non-zero. Reporting formats live in grader.report.
"""

import hashlib
import importlib.metadata
import pathlib
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grader
from grader import judge, perf, rubric as rubric_mod, sandbox, snapshots, submission, worker

GRADER_DIR = pathlib.Path(__file__).resolve().parent
REPO = GRADER_DIR.parent


@dataclass
class ItemResult:
    item: object                      # rubric.Item or rubric.PerfItem
    score: float
    max_score: float
    outcome: str                      # passed | failed | needs_gpu | grader_error
    verdicts: list = field(default_factory=list)
    output: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class GradeResult:
    assignment: str
    submission: str
    items: list[ItemResult]
    status: str                       # ok | rejected | grader_error
    problems: list[str]
    sandbox_level: str
    execution_time: float
    extra: dict
    log: str = ""

    @property
    def score(self) -> float:
        return round(sum(i.score for i in self.items), 4)

    @property
    def max_score(self) -> float:
        return round(sum(i.max_score for i in self.items), 4)


def paths(assignment: str) -> dict[str, pathlib.Path]:
    private = GRADER_DIR / "private"
    return {"public_snapshots": REPO / assignment / "tests" / "_snapshots",
            "hidden_snapshots": private / "snapshots" / assignment,
            "hidden_tests": private / "hidden" / assignment,
            "reference": private / "reference" / assignment,
            "mutants": private / "mutants" / assignment}


def expected_cases(assignment: str, include_hidden: bool) -> dict[str, dict]:
    p = paths(assignment)
    cases = snapshots.load_store(p["public_snapshots"])
    if include_hidden:
        cases.update(snapshots.load_store(p["hidden_snapshots"]))
    return cases


def _versions() -> dict:
    out = {"python": platform.python_version(), "grader": grader.__version__}
    for dist in ("torch", "triton", "numpy", "pytest"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _tree_digest(*roots: pathlib.Path) -> str:
    h = hashlib.sha256()
    for root in roots:
        if root.is_dir():
            for f in sorted(root.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return "sha256:" + h.hexdigest()


def inputs_digest(assignment: str) -> str:
    """Digest of everything a grade depends on besides the submission and rubric: tests, snapshots."""
    p = paths(assignment)
    return _tree_digest(REPO / assignment / "tests", p["hidden_tests"],
                        p["public_snapshots"], p["hidden_snapshots"])


def grade(src, assignment: str, *, level: str | None = None, include_hidden: bool = True,
          run_perf: bool = True, work_dir: pathlib.Path | None = None,
          deadline_s: float | None = None, timeout_scale: float = 1.0,
          modules: Callable[[str], bool] | None = None) -> GradeResult:
    """Grade one submission (zip file or folder) of `assignment`.

    `modules`, when given, selects the test modules to run (by their path relative to the tests folder,
    e.g. "hidden/test_bpe_hidden.py"); items none of whose cases run are left out of the totals. verify uses
    it to grade a mutant on the tests of the file it changes: a loss there is a loss in the full grade.
    """
    t0 = time.monotonic()
    level = level or sandbox.detect_level()
    rub = rubric_mod.load(assignment, include_hidden=include_hidden)
    p = paths(assignment)
    hidden = include_hidden and p["hidden_tests"].is_dir()
    expected = expected_cases(assignment, hidden)
    tmp_ctx = tempfile.TemporaryDirectory(prefix="grade-") if work_dir is None else None
    work = pathlib.Path(tmp_ctx.name if tmp_ctx else work_dir)
    try:
        unpacked = submission.unpack(src, assignment, work / "submission")
        problems = list(unpacked.problems)
        extra = {"timeout_scale": timeout_scale, "versions": _versions(), "cuda": _cuda(), "sandbox": level, "rubric": rub.digest,
                 "submission_digest": unpacked.digest,
                 "inputs_digest": inputs_digest(assignment),
                 "refused_files": [f"{path}: {why}" for path, why in unpacked.refused][:50]}
        if unpacked.package_dir is None:
            items = [_zero(item, "Not graded: " + "; ".join(problems)) for item in rub.all_items()]
            return GradeResult(assignment, str(src), items, "rejected", problems, level,
                               time.monotonic() - t0, extra)
        box = sandbox.build(work / "sandbox", assignment, unpacked.package_dir,
                            hidden_dir=p["hidden_tests"] if hidden else None)
        limits = sandbox.Limits(cpu_s=rub.cpu_s, memory_mb=rub.memory_mb)
        cfg = worker.WorkerConfig(assignment=assignment, level=level, limits=limits,
                                  deadline=None if deadline_s is None else t0 + deadline_s)
        case_ids = sorted(c for c in expected if modules is None or modules(c.split("::", 1)[0]))
        timeouts = {}
        for item in rub.items:
            for cid in rub.cases_of(item, case_ids):
                timeouts[cid] = rub.timeout_for(item) * timeout_scale
        reports, log = worker.run_cases(box, case_ids, timeouts, cfg)
        verdicts = {cid: judge.judge_case(reports[cid], expected.get(cid)) for cid in case_ids}
        items = [_score_item(item, rub.cases_of(item, case_ids), verdicts) if rub.cases_of(item, case_ids)
                 else _zero(item, "Not run in this mode.", counted=False) for item in rub.items]
        if run_perf:
            items += _perf_items(rub, box, work, level, limits, hidden, cfg.deadline)
        else:
            items += [_zero(i, "Not run in this mode.", counted=False) for i in rub.perf]
        items.sort(key=lambda r: [int(x) for x in r.item.number.split(".")])
        status = "grader_error" if any(r.outcome == "grader_error" for r in items) else "ok"
        return GradeResult(assignment, str(src), items, status, problems, level,
                           time.monotonic() - t0, extra, log)
    finally:
        if tmp_ctx is not None:
            tmp_ctx.cleanup()


def _cuda() -> bool:
    try:
        import torch
        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - no torch means no GPU
        return False


def _zero(item, text: str, counted: bool = True) -> ItemResult:
    return ItemResult(item, 0.0, item.points if counted else 0.0, "failed", output=text)


def _score_item(item, cases: list[str], verdicts: dict) -> ItemResult:
    vs = [verdicts[c] for c in cases]
    if any(v.outcome == "grader_error" for v in vs):
        return ItemResult(item, 0.0, item.points, "grader_error", vs, "Grader error: " + vs[0].message)
    n_pass = sum(v.passed for v in vs)
    frac = (n_pass == len(vs)) if item.all_or_nothing else n_pass / len(vs)
    score = round(item.points * frac, 4)
    lines = [f"{n_pass}/{len(vs)} cases passed."]
    public = item.visibility == "public"
    for v in [v for v in vs if not v.passed][:5]:
        name = v.cid.split("::", 1)[1]
        lines.append(f"- {name}: {v.outcome}: {v.message}" if public else f"- case {vs.index(v) + 1}: {v.brief}")
    outcome = "passed" if score == item.points > 0 else "failed"
    return ItemResult(item, score, item.points, outcome, vs, "\n".join(lines))


def _perf_items(rub, box, work, level, limits, hidden, deadline=None) -> list[ItemResult]:
    """Each perf case: reference then submission, back to back, each in its own process.

    Past the run's deadline (time.monotonic()), the remaining items are not run and score 0.
    """
    items = [p for p in rub.perf if hidden or p.visibility == "public"]
    if not items:
        return []
    ref_pkg = paths(rub.assignment)["reference"]
    if not ref_pkg.is_dir():   # the student release: perf is measured against the reference only
        return [_zero(i, "Not run: needs the reference, which is not in the student release.", counted=False)
                for i in items]
    ref_box = sandbox.build(work / "reference-sandbox", rub.assignment, ref_pkg,
                            hidden_dir=paths(rub.assignment)["hidden_tests"] if hidden else None)
    out = []
    for item in items:
        if deadline is not None and time.monotonic() >= deadline:
            out.append(_zero(item, "Not run: the run's deadline passed before this item started."))
            continue
        ref = perf.measure(ref_box, level, item.module, item.case, repeats=item.repeats,
                           metric=item.metric, limits=limits, warmup=item.warmup)
        budget = max(30.0, (min(ref.wall) if ref.ok else 10.0) * item.zero_at * 2 + 10)
        if deadline is not None:
            budget = max(1.0, min(budget, deadline - time.monotonic()))
        sub = perf.measure(box, level, item.module, item.case, repeats=item.repeats,
                           metric=item.metric, limits=limits, warmup=item.warmup, run_timeout=budget)
        earned, message, ratio = perf.score(sub, ref, metric=item.metric, full_at=item.full_at,
                                            zero_at=item.zero_at, floor=item.floor, points=item.points)
        outcome = "grader_error" if not ref.ok else ("passed" if earned == item.points else "failed")
        extra = {"metric": item.metric, "ratio": ratio,
                 "submission": {"wall": sub.wall, "cpu": sub.cpu, "peak_rss_mb": sub.peak_rss_mb},
                 "reference": {"wall": ref.wall, "cpu": ref.cpu, "peak_rss_mb": ref.peak_rss_mb}}
        out.append(ItemResult(item, earned, item.points, outcome, [], message, extra))
    return out


def grade_perf(src, assignment: str, *, level: str | None = None, include_hidden: bool = True,
               work_dir: pathlib.Path | None = None) -> list[ItemResult]:
    """Only the performance items of one submission: `grader batch` runs these one at a time,
    after all correctness work (grading.md §1.6). A submission with no package scores 0."""
    level = level or sandbox.detect_level()
    rub = rubric_mod.load(assignment, include_hidden=include_hidden)
    p = paths(assignment)
    hidden = include_hidden and p["hidden_tests"].is_dir()
    tmp_ctx = tempfile.TemporaryDirectory(prefix="perf-") if work_dir is None else None
    work = pathlib.Path(tmp_ctx.name if tmp_ctx else work_dir)
    try:
        unpacked = submission.unpack(src, assignment, work / "submission")
        if unpacked.package_dir is None:
            return [_zero(i, "Not graded: " + "; ".join(unpacked.problems)) for i in rub.perf]
        box = sandbox.build(work / "sandbox", assignment, unpacked.package_dir,
                            hidden_dir=p["hidden_tests"] if hidden else None)
        limits = sandbox.Limits(cpu_s=rub.cpu_s, memory_mb=rub.memory_mb)
        return _perf_items(rub, box, work, level, limits, hidden)
    finally:
        if tmp_ctx is not None:
            tmp_ctx.cleanup()
