"""The `grader` command line (DESIGN.md §5).

    grader test [ASSIGNMENT]                  public tests on the working copy, points table
    grader grade SUBMISSION -a ASSIGNMENT     one submission (zip or folder): results.json + table
    grader samples [-a ASSIGNMENT]            `make grade`: the bundled sample submissions, gradebook
    grader snapshots ASSIGNMENT [--check]     record expected values from the reference
    grader verify ASSIGNMENT                  `make check`: parity, snapshots, rubric, reference
                                              100 %, starter 0, every mutant loses points

Exit status: 0 when grading completed (whatever the submission scored), 1 when the grader
itself failed (grader_error) or a verification failed, 2 for bad usage.
"""

import argparse
import concurrent.futures
import importlib
import json
import pathlib
import subprocess
import sys
import tempfile

from grader import pipeline, report, rubric as rubric_mod, sandbox

REPO = pipeline.REPO
ASSIGNMENTS = ("assignment1_basics",)
EXTENSIONS = ("batch", "bundle", "release")   # each defines register(subparsers)


def cmd_test(args) -> int:
    """Run the public tests locally (compared with the public snapshots) and print points."""
    a = args.assignment
    with tempfile.TemporaryDirectory() as tmp:
        outcomes_file = pathlib.Path(tmp) / "outcomes.json"
        cmd = [sys.executable, "-m", "pytest", f"{a}/tests", "-q", "--outcomes-file", str(outcomes_file),
               *args.pytest_args]
        subprocess.run(cmd, cwd=REPO)
        outcomes = json.loads(outcomes_file.read_text()) if outcomes_file.exists() else {}
    rub = rubric_mod.load(a, include_hidden=False)
    cases = sorted(pipeline.expected_cases(a, include_hidden=False))
    from rich.console import Console
    from rich.table import Table
    t = Table(title=f"{a}: public tests (advisory; grades come from the grader)")
    for col in ("#", "item", "passed", "points"):
        t.add_column(col)
    got = total = 0.0
    for item in rub.items:
        if item.visibility != "public":
            continue
        mine = rub.cases_of(item, cases)
        n = sum(outcomes.get(c) == "passed" for c in mine)
        frac = (n == len(mine)) if item.all_or_nothing else (n / len(mine) if mine else 0)
        got += item.points * frac
        total += item.points
        t.add_row(item.number, item.title, f"{n}/{len(mine)}", f"{item.points * frac:g}/{item.points:g}")
    t.add_row("", "public total", "", f"{got:g}/{total:g}")
    Console().print(t)
    perf_pts = sum(p.points for p in rub.perf)
    print(f"Not run here: hidden items ({rub.hidden_points:g} points) and performance items "
          f"({perf_pts:g} points), which the grader measures against the reference.")
    return 0


def cmd_grade(args) -> int:
    level = args.sandbox or sandbox.detect_level()
    if sandbox.warning(level):
        print(sandbox.warning(level), file=sys.stderr)
    res = pipeline.grade(args.submission, args.assignment, level=level, run_perf=not args.no_perf,
                         timeout_scale=args.timeout_scale)
    out = pathlib.Path(args.out)
    report.write_results(res, out / "results.json")
    (out / "worker.log").write_text(res.log, encoding="utf-8")
    print(report.table(res))
    print(f"results: {out / 'results.json'}  (grading status: {res.status})")
    return 1 if res.status == "grader_error" else 0


def cmd_samples(args) -> int:
    from grader import samples as samples_mod
    level = args.sandbox or sandbox.detect_level()
    if sandbox.warning(level):
        print(sandbox.warning(level), file=sys.stderr)
    out = pathlib.Path(args.out)
    results, failed = [], False
    for a in args.assignments:
        subs = samples_mod.all_samples(a, out / "submissions" / a)
        from grader import mutants as mutants_mod
        by_name = {f"mutant:{m.name}": m for m in mutants_mod.load_all(pipeline.paths(a)["mutants"])}

        def one(name):
            # Performance items for the reference and the starter only, graded first and alone. A mutant is
            # graded on the test modules of the file it changes, as verify does (Mutant.modules).
            res = pipeline.grade(subs[name], a, level=level, run_perf=name in ("reference", "starter"),
                                 timeout_scale=args.timeout_scale,
                                 modules=by_name[name].modules() if name in by_name else None)
            res.submission = name
            report.write_results(res, out / a / name / "results.json")
            (out / a / name / "worker.log").write_text(res.log, encoding="utf-8")
            print(f"[graded] {a}: {name}: {res.score:g}/{res.max_score:g} ({res.status})", flush=True)
            return res

        first = [n for n in subs if n in ("reference", "starter")]
        results += [one(n) for n in first]
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results += list(pool.map(one, [n for n in subs if n not in first]))
    failed = any(r.status == "grader_error" for r in results)
    report.write_atomic(out / "gradebook.csv", report.csv_rows(results))
    from rich.console import Console
    from rich.table import Table
    t = Table(title="Gradebook (sample submissions; performance items for reference and starter only; "
                    "mutants on the test modules of the file they change)")
    for col in ("assignment", "submission", "status", "score", "%"):
        t.add_column(col, no_wrap=True)
    for r in results:
        pct = 100 * r.score / r.max_score if r.max_score else 0
        t.add_row(r.assignment, r.submission, r.status, f"{r.score:.2f}/{r.max_score:g}", f"{pct:.1f}")
    Console(width=max(Console().width, 110)).print(t)
    print(f"gradebook: {out / 'gradebook.csv'}; per-submission results.json under {out}/")
    return 1 if failed else 0


def cmd_snapshots(args) -> int:
    from grader import record
    problems = record.record(args.assignment, check_only=args.check, only=args.only)
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print("snapshots are current" if args.check else "snapshots recorded")
    return 1 if problems else 0


def cmd_verify(args) -> int:
    from grader import verify
    if not pipeline.paths(args.assignment)["reference"].is_dir():
        print("verify needs the private course files (reference, hidden tests, mutants): a maintainer command, "
              "not available in the student release", file=sys.stderr)
        return 2
    problems, results = verify.verify(args.assignment, jobs=args.jobs, mutants=args.mutants)
    for name, res in results:
        print(f"  {name:40s} {res.score:8g}/{res.max_score:<8g} {res.status}")
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    print("verify: OK" if not problems else f"verify: {len(problems)} problem(s)")
    return 1 if problems else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="grader", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("test", help="public tests on the working copy, points table")
    t.add_argument("assignment", nargs="?", default="assignment1_basics", choices=ASSIGNMENTS)
    t.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    t.set_defaults(fn=cmd_test)
    g = sub.add_parser("grade", help="grade one submission (zip or folder)")
    g.add_argument("submission")
    g.add_argument("-a", "--assignment", default="assignment1_basics", choices=ASSIGNMENTS)
    g.add_argument("-o", "--out", default="out/grade")
    g.add_argument("--sandbox", choices=("bubblewrap", "uid", "none"), default=None)
    g.add_argument("--no-perf", action="store_true", help="skip performance items")
    g.add_argument("--timeout-scale", type=float, default=1.0, help="scale the rubric's per-case time limits")
    g.set_defaults(fn=cmd_grade)
    s = sub.add_parser("samples", help="grade the bundled sample submissions (make grade)")
    s.add_argument("-a", "--assignments", nargs="+", default=list(ASSIGNMENTS))
    s.add_argument("-o", "--out", default="out/samples")
    s.add_argument("--sandbox", choices=("bubblewrap", "uid", "none"), default=None)
    s.add_argument("-j", "--jobs", type=int, default=2, help="submissions graded at once (perf items run alone)")
    s.add_argument("--timeout-scale", type=float, default=0.25,
                   help="scale the rubric's per-case time limits (the samples' endless loop is cut short)")
    s.set_defaults(fn=cmd_samples)
    r = sub.add_parser("snapshots", help="record expected values from the reference")
    r.add_argument("assignment", choices=ASSIGNMENTS)
    r.add_argument("--check", action="store_true", help="compare with the committed snapshots only")
    r.add_argument("--only", metavar="GLOB", help="just the test modules whose file name matches, e.g. 'test_layers*'")
    r.set_defaults(fn=cmd_snapshots)
    v = sub.add_parser("verify", help="reference 100 %%, starter 0, mutants caught, parity, snapshots")
    v.add_argument("assignment", choices=ASSIGNMENTS)
    v.add_argument("-j", "--jobs", type=int, default=2)
    v.add_argument("--mutants", metavar="GLOB", help="only the mutants whose name matches (while writing them)")
    v.set_defaults(fn=cmd_verify)
    for name in EXTENSIONS:   # commands that live in their own step module register themselves
        if (pathlib.Path(__file__).parent / f"{name}.py").is_file():
            importlib.import_module(f"grader.{name}").register(sub)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
