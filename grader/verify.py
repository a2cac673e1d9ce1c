"""Verify: the course's own acceptance test of an assignment, run by `make check`.

1. parity: stubs and reference expose the same API (grader.parity);
2. rubric: totals add up and every recorded case maps to exactly one item (grader.rubric);
3. snapshots: re-recorded from the reference, identical to the committed stores (grader.record);
4. the reference scores 100 % (performance items included, against itself);
5. the starter stubs score 0, and every case fails with the stub's NotImplementedError;
6. every mutant loses points (correctness items; perf too for mutants marked `perf = true`). A mutant is
   graded on the test modules of the files it edits (`x.py` -> `test_x*.py`, public and hidden) or on those
   its TOML names in `tests` (Mutant.modules): points lost on a subset are lost in the full grade, and
   grading 100 mutants on the whole suite would not fit `make check`'s budget.

Returns a list of problems; an empty list means the assignment is sound.
"""

import concurrent.futures
import fnmatch
import pathlib
import tempfile

from grader import mutants as mutants_mod, parity, pipeline, record, rubric as rubric_mod

REPO = pipeline.REPO


def _say(msg: str) -> None:
    print(msg, flush=True)


def verify(assignment: str, *, jobs: int = 2, level: str | None = None, mutants: str | None = None) -> tuple[list[str], list]:
    problems: list[str] = []
    results = []
    p = pipeline.paths(assignment)

    _say(f"[verify] {assignment}: parity of stubs and reference")
    problems += [f"parity: {x}" for x in parity.check(assignment)]

    _say("[verify] snapshots are current (re-recording from the reference)")
    problems += [f"snapshots: {x}" for x in record.record(assignment, check_only=True)]

    rub = rubric_mod.load(assignment)
    cases = sorted(pipeline.expected_cases(assignment, include_hidden=True))
    perf_cases = set()
    for item in rub.perf:
        perf_cases.add((item.module, item.case))  # existence is checked by grading the reference
    problems += [f"rubric: {x}" for x in rubric_mod.validate(rub, cases)]

    _say("[verify] the reference scores 100 %")
    ref = pipeline.grade(p["reference"], assignment, level=level)
    results.append(("reference", ref))
    if ref.score != ref.max_score or ref.status != "ok":
        bad = [f"{r.item.number} {r.score:g}/{r.max_score:g}: {r.output[:300]}" for r in ref.items
               if r.score != r.max_score]
        problems.append("reference does not score 100 %: " + "; ".join(bad))

    _say("[verify] the starter stubs score 0 with NotImplementedError")
    starter = pipeline.grade(REPO / assignment, assignment, level=level, run_perf=False)
    results.append(("starter", starter))
    if starter.score != 0:
        problems.append(f"starter scores {starter.score:g}, expected 0: "
                        + "; ".join(r.item.number for r in starter.items if r.score))
    for r in starter.items:
        for v in r.verdicts:
            if "NotImplementedError" not in v.message:
                problems.append(f"starter: {v.cid} fails without the stub's NotImplementedError: "
                                f"{v.outcome}: {v.message[:200]}")

    muts = [m for m in mutants_mod.load_all(p["mutants"]) if mutants is None or fnmatch.fnmatchcase(m.name, mutants)]
    _say(f"[verify] {len(muts)} mutants must each lose points")
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        def run(m):
            try:
                pkg = mutants_mod.apply(m, p["reference"], pathlib.Path(tmp) / m.name / assignment)
            except ValueError as exc:
                return m, None, str(exc)
            res = pipeline.grade(pkg, assignment, level=level, run_perf=m.perf, modules=m.modules())
            return m, res, None

        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            for m, res, err in pool.map(run, muts):
                if err:
                    problems.append(f"mutant {m.name}: {err}")
                    continue
                results.append((f"mutant:{m.name}", res))
                lost = [r.item.number for r in res.items if r.score < r.max_score]
                _say(f"  mutant {m.name}: {res.score:g}/{res.max_score:g} (loses on {', '.join(lost) or 'nothing'})")
                if res.score >= res.max_score:
                    problems.append(f"mutant {m.name} is not caught: it scores {res.score:g}/{res.max_score:g}")
    return problems, results
