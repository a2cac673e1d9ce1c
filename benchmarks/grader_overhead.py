"""Grader overhead: `grader grade` of the reference against bare pytest of the same tests.

Three figures, medians of `--repeat` runs, all on the reference package with the public and
hidden tests of assignment 1 (performance items left out: they are timed, not overhead):

- bare: `python -m pytest` over the same test files in a plain folder, `GRADER_MODE=dry`
  (the `check` fixture records nothing, compares nothing);
- grader: `pipeline.grade(..., run_perf=False)` at each available sandbox level: unpacking,
  sandbox layout, the worker, judging against snapshots, the report;
- start-up: one `python -c pass` in the sandbox, the fixed cost bubblewrap adds per process.

Target (issue): grader ≤ 1.10 × bare + sandbox start-up.

    python -m benchmarks.grader_overhead [--repeat 3] [--save]
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks._common import emit
from grader import pipeline, sandbox

A = "assignment1_basics"


def _median_time(fn, n: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), [round(t, 3) for t in times]


def _bare_folder(tmp: pathlib.Path) -> pathlib.Path:
    p = pipeline.paths(A)
    return sandbox.build(tmp / "bare", A, p["reference"], hidden_dir=p["hidden_tests"])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--save", action="store_true")
    args = ap.parse_args(argv)
    ref = pipeline.paths(A)["reference"]
    out: dict = {"command": f"python -m benchmarks.grader_overhead --repeat {args.repeat}",
                 "order": "interleaved: bare, then each sandbox level, repeated (so load drifts hit all alike)"}
    levels = ["none"] + (["bubblewrap"] if sandbox.detect_level() == "bubblewrap" else [])
    times: dict[str, list[float]] = {"bare": [], **{lv: [] for lv in levels}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = _bare_folder(pathlib.Path(tmp))
        env = {**os.environ, "GRADER_MODE": "dry", "PYTHONPATH": f"{folder}:{folder / '.grader'}"}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "grader.plugin", "-p", "no:cacheprovider",
               "-c", str(folder / ".grader" / "pytest.ini"), "--rootdir", str(folder), f"{A}/tests"]

        def bare():
            r = subprocess.run(cmd, cwd=folder, env=env, capture_output=True)
            if r.returncode != 0:
                raise RuntimeError(r.stdout.decode()[-2000:])

        for _ in range(args.repeat):
            times["bare"].append(_median_time(bare, 1)[0])
            for level in levels:
                def grade():
                    res = pipeline.grade(ref, A, level=level, run_perf=False)
                    assert res.score == res.max_score, "the reference must score 100 %"
                times[level].append(_median_time(grade, 1)[0])
        bare_med = statistics.median(times["bare"])
        out["bare_pytest"] = {"median_s": round(bare_med, 3), "times_s": [round(t, 3) for t in times["bare"]]}
        box = sandbox.build(pathlib.Path(tmp) / "b", A, ref)
        for level in levels:
            def start():
                proc = sandbox.spawn(box, level, ["-c", "pass"], limits=sandbox.Limits())
                proc.communicate()

            start_med, _ = _median_time(start, 5)
            med = statistics.median(times[level])
            out[f"grader_{level}"] = {"median_s": round(med, 3), "times_s": [round(t, 3) for t in times[level]],
                                      "ratio_to_bare": round(med / bare_med, 3),
                                      "process_start_s": round(start_med, 3),
                                      "meets_target": med <= 1.10 * bare_med + start_med}
    return emit("grader_overhead", out, args.save)


if __name__ == "__main__":
    main()
