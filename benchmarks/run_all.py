"""Run every assignment-1 tokenizer benchmark and write benchmarks/results/assignment1_tokenizer.md (`make
bench`).

Each benchmark runs in its own process (`python -m benchmarks.<name> --save`), one after another so they never
share the 2 cores, and writes `benchmarks/results/<name>.json`; this script then renders the table. Left out:
GPU benchmarks (assignment 2 onwards keeps its own).

    python -m benchmarks.run_all [--large-size 100MB] [--large-repeat 3] [--only bpe_small,encode]
"""

import argparse
import json
import pathlib
import subprocess
import sys

from assignment1_basics.tests.corpus import parse_size
from benchmarks._common import RESULTS

REPO = pathlib.Path(__file__).resolve().parents[1]


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _row(item, figure, target, ok, command) -> str:
    return f"| {item} | {figure} | {target} | {'yes' if ok else '**no**'} | `{command}` |"


def render(large_name: str = "bpe_large") -> str:
    small, large, enc = _load("bpe_small"), _load(large_name), _load("encode")
    rows = []
    if small:
        r = small["reference"]
        rows.append(_row("BPE small: 130 KB English, vocab 500, 1 process",
                         f"{r['median_s']:.3f} s median of {len(r['times_s'])} (HF `tokenizers` 1 thread: "
                         f"{small['hf_tokenizers_1_thread']['median_s']:.3f} s)", "≤ 0.3 s",
                         small["meets_target"], small["command"]))
    if large:
        r, h, w = large["reference"], large["hf_tokenizers"], large["workload"]
        item = (f"BPE large: {w['corpus_bytes'] / 1e6:.0f} MB multilingual, vocab {w['vocab_size']}, "
                f"{w['processes']} processes")
        figure = (f"reference {r['median_s']:.1f} s ({r['peak_rss_mb']:.0f} MB peak RSS), "
                  f"HF {h['median_s']:.1f} s ({h['peak_rss_mb']:.0f} MB); "
                  f"ratio {large['ratio_reference_over_hf']:.2f}× (median of {len(r['times_s'])})")
        rows.append(_row(item, figure, "ratio ≤ 3×", large["meets_target"], large["command"]))
    if enc:
        w = enc["workload"]
        same = enc["ids_identical_with_specials"] and enc["ids_identical_without_specials"]
        item = f"Encode: {w['text_mb']:.1f} MB multilingual, {w['merges']} merges, 1 process"
        figure = (f"reference {enc['reference_cold_mb_per_s']} MB/s cold, "
                  f"{enc['reference_warm_mb_per_s']} MB/s "
                  f"warm; tiktoken {enc['tiktoken_mb_per_s']} MB/s; ids identical: {'yes' if same else 'NO'}")
        rows.append(_row(item, figure, "cold ≥ 2 MB/s", enc["meets_target"] and same, enc["command"]))
    machine = (small or large or enc or {}).get("machine", {})
    lines = [
        "# Assignment 1 tokenizer benchmarks",
        "",
        f"Measured {machine.get('date', '?')} on {machine.get('cpu', '?')}, "
        f"{machine.get('cores_available', '?')} cores, no GPU, {machine.get('os', '?')}, "
        f"Python {machine.get('python', '?')}; packages "
        + ", ".join(f"{k} {v}" for k, v in machine.get("packages", {}).items()) + ".",
        "Written by `python -m benchmarks.run_all` (`make bench`); raw figures in the JSON files beside this "
        "one.",
        "",
        "| Benchmark | Measured | Target | Met | Command |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large-size", default="100MB")
    ap.add_argument("--large-repeat", type=int, default=3)
    ap.add_argument("--only", default="bpe_small,bpe_large,encode", help="comma-separated benchmarks to run")
    args = ap.parse_args(argv)
    extra = {"bpe_large": ["--size", args.large_size, "--repeat", str(args.large_repeat)]}
    for name in args.only.split(","):
        print(f"== {name}", flush=True)
        subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--save", *extra.get(name, [])],
                       cwd=REPO, check=True)
    large_name = "bpe_large" if parse_size(args.large_size) >= 10**8 else f"bpe_large_{args.large_size}"
    text = render(large_name)
    (RESULTS / "assignment1_tokenizer.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
