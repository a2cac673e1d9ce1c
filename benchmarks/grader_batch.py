"""Batch grading at course scale (issue: grading at course scale): throughput, kill -9 resume, repeatability.

    python -m benchmarks.grader_batch [--n 20] [--save]

On one folder of N submissions (the reference, the starter, mutants of the reference; every one a
different content hash, so nothing is shared):
1. throughput: `grader batch -j 1` and `-j 2`, correctness items (public + hidden), perf off, under the
   machine's best sandbox; wall time each and their ratio (the j1 and j2 runs alternate, `--rounds` times);
2. sandbox overhead per submission: `-j 1` on the first `--overhead-n` submissions at level "none" and at the
   detected level, same run, alternating; the difference divided by the number of submissions;
3. kill -9: a `-j 2` batch killed when about half of the results are written, then rerun: its gradebook.csv
   must equal the uninterrupted `-j 2` run's byte for byte, and no finished run is graded again;
4. repeatability: one mutant graded 5 times (`--repeat 5`): the per-item scores of the 5 runs agree.

Performance items are left out: they are measured one submission at a time by design (grader/batch.py),
so workers do not change their cost. Each batch runs in a fresh process (`python -m grader batch`), as an
instructor runs it.
"""

import argparse
import json
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks import _common

REPO = pathlib.Path(__file__).resolve().parent.parent
A = "assignment1_basics"


def make_submissions(dest: pathlib.Path, n: int) -> list[str]:
    from grader import mutants, pipeline

    p = pipeline.paths(A)
    shutil.copytree(p["reference"], dest / "reference", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / A, dest / "starter", ignore=shutil.ignore_patterns("tests", "__pycache__"))
    for m in mutants.load_all(p["mutants"])[: n - 2]:
        mutants.apply(m, p["reference"], dest / m.name)
    return sorted(x.name for x in dest.iterdir())


def batch(subs: pathlib.Path, out: pathlib.Path, *extra: str, level: str) -> tuple[float, subprocess.CompletedProcess]:
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "-a", A, "-o", str(out), "--no-perf",
           "--sandbox", level, "--allow-unsandboxed", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    return time.perf_counter() - t0, proc


def killed_then_resumed(subs: pathlib.Path, out: pathlib.Path, n: int, level: str) -> dict:
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "-a", A, "-o", str(out), "--no-perf", "-j", "2",
           "--sandbox", level, "--allow-unsandboxed"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while len(list(out.glob("state/*/run-*.json"))) < n // 2 and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {q: q.stat().st_mtime_ns for q in out.glob("state/*/run-*.json")}
    wall, rerun = batch(subs, out, "-j", "2", level=level)
    rewritten = [q.name for q, t in done.items() if q.stat().st_mtime_ns != t]
    return {"finished_before_kill": len(done), "rerun_s": round(wall, 2), "rerun_exit": rerun.returncode,
            "rerun_said": rerun.stderr.strip().splitlines()[-1:] if rerun.stderr else [],
            "finished_runs_rewritten": rewritten}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--overhead-n", type=int, default=4)
    ap.add_argument("--save", action="store_true")
    args = ap.parse_args(argv)
    from grader import sandbox

    level = sandbox.detect_level()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        tmp = pathlib.Path(tmp)
        names = make_submissions(tmp / "subs", args.n)
        walls = {"j1": [], "j2": []}
        for r in range(args.rounds):
            for jobs in ("1", "2"):
                out = tmp / f"out-j{jobs}-{r}"
                wall, proc = batch(tmp / "subs", out, "-j", jobs, level=level)
                if proc.returncode != 0:
                    print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
                    raise SystemExit(f"batch -j {jobs} failed (exit {proc.returncode})")
                walls[f"j{jobs}"].append(wall)
        j1, j2 = statistics.median(walls["j1"]), statistics.median(walls["j2"])
        gradebook = (tmp / "out-j2-0" / "gradebook.csv").read_text()
        same_books = gradebook == (tmp / "out-j1-0" / "gradebook.csv").read_text()

        few = tmp / "few"
        few.mkdir()
        for name in names[: args.overhead_n]:
            shutil.copytree(tmp / "subs" / name, few / name)
        over = {"none": [], level: []}
        for r in range(2):
            for lv in ("none", level):
                wall, proc = batch(few, tmp / f"over-{lv}-{r}", "-j", "1", level=lv)
                over[lv].append(wall)
        per_sub = (statistics.median(over[level]) - statistics.median(over["none"])) / args.overhead_n

        kill = killed_then_resumed(tmp / "subs", tmp / "killed", args.n, level)
        kill["gradebook_equal"] = (tmp / "killed" / "gradebook.csv").read_text() == gradebook

        one = tmp / "one"
        one.mkdir()
        mutant = next(x for x in names if x not in ("reference", "starter"))  # partial credit: outcomes vary by case
        shutil.copytree(tmp / "subs" / mutant, one / mutant)
        wall5, proc = batch(one, tmp / "repeat", "-j", "2", "--repeat", "5", level=level)
        runs = [json.loads(q.read_text()) for q in sorted((tmp / "repeat").glob("state/*/run-*.json"))]
        scores = [[(i["number"], i["score"]) for i in run["items"]] for run in runs]

    result = {
        "sandbox_level": level,
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "submissions": args.n, "mode": "correctness items, public + hidden, perf off",
        "throughput": {"j1_s": round(j1, 2), "j2_s": round(j2, 2), "speedup_j2_over_j1": round(j1 / j2, 3),
                       "per_submission_j2_s": round(j2 / args.n, 2), "raw": walls,
                       "gradebooks_j1_j2_equal": same_books},
        "sandbox_overhead": {"submissions": args.overhead_n, "none_s": over["none"], f"{level}_s": over[level],
                             "per_submission_s": round(per_sub, 3)},
        "kill9": kill,
        "repeat5": {"runs": len(runs), "identical_scores": len(runs) == 5 and all(s == scores[0] for s in scores),
                    "submission": mutant, "score": round(sum(s for _, s in scores[0]), 4) if scores else None,
                    "wall_s": round(wall5, 2)},
    }
    _common.emit("grader_batch", result, args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
