"""Benchmark 2: reference `train_bpe` at 10K vocab on a generated 100 MB corpus, against the HF trainer.

Both trainers read the same file (`write_corpus(path, size, seed)`, all languages, documents separated by
<|endoftext|>) in the same run, alternating, each in a fresh process so that its peak RSS is its own. The
reference uses `num_processes=2`; HF uses 2 rayon threads. Target: reference / HF wall-time ratio ≤ 3 (lessons
§7.1 gives 6.98 s vs 0.76 s, 9×, at 1.74 MB, where the Python merge loop dominates; at 100 MB pre-tokenization
dominates). Reported per trainer: the time of the training call alone (median over `--repeat`), the process's
wall time including start-up, and peak RSS (parent and its largest child). Left out: checking merges against
HF (tie-breaks differ by design, spec §1.9).

    python -m benchmarks.bpe_large [--size 100MB] [--vocab 10000] [--repeat 1] [--save]
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks import _common

SPECIAL = "<|endoftext|>"
REPO = pathlib.Path(__file__).resolve().parents[1]


def _worker(kind: str, path: str, vocab_size: int, processes: int) -> None:
    """Runs inside a fresh process: train once, print {seconds, merges, peak_rss_mb} as JSON."""
    if kind == "ref":
        from benchmarks import _reference

        bpe = _reference.activate(("bpe",)).bpe
        seconds, (vocab, merges) = _common.timed(bpe.train_bpe, path, vocab_size, [SPECIAL],
                                                 num_processes=processes)
        n_merges = len(merges)
    else:
        from benchmarks.hf import train_hf

        seconds, info = _common.timed(train_hf, path, vocab_size, [SPECIAL], threads=processes)
        n_merges = info["merges"]
    print(json.dumps({"seconds": seconds, "merges": n_merges, "peak_rss_mb": _common.peak_rss_mb()}))


def _spawn(kind: str, path: pathlib.Path, vocab_size: int, processes: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bpe_large", "--worker", kind, str(path),
           "--vocab", str(vocab_size), "--processes", str(processes)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = time.perf_counter() - t0
    return out


def _summary(runs: list[dict]) -> dict:
    return {
        "median_s": statistics.median(r["seconds"] for r in runs),
        "times_s": [round(r["seconds"], 2) for r in runs],
        "process_wall_s": [round(r["process_wall_s"], 2) for r in runs],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "merges": runs[0]["merges"],
    }


def run(size: str = "100MB", vocab_size: int = 10_000, repeat: int = 1, seed: int = 0, processes: int = 2,
        save: bool = False) -> dict:
    from assignment1_basics.tests.corpus import parse_size, write_corpus

    n = parse_size(size)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / f"corpus_{size}.txt"
        gen_s, n_bytes = _common.timed(write_corpus, path, n, seed)
        ref_runs, hf_runs = [], []
        for _ in range(repeat):  # alternate so that drift on the machine hits both alike
            ref_runs.append(_spawn("ref", path, vocab_size, processes))
            hf_runs.append(_spawn("hf", path, vocab_size, processes))
    ref, hf = _summary(ref_runs), _summary(hf_runs)
    ratio = ref["median_s"] / hf["median_s"]
    return _common.emit("bpe_large" if n >= 10**8 else f"bpe_large_{size}", {
        "command": f"python -m benchmarks.bpe_large --size {size} --vocab {vocab_size} --repeat {repeat}",
        "workload": {"corpus_bytes": n_bytes, "seed": seed, "vocab_size": vocab_size, "processes": processes},
        "corpus_write": {"seconds": round(gen_s, 3), "mb_per_s": round(n_bytes / 1e6 / gen_s, 1)},
        "reference": ref,
        "hf_tokenizers": hf,
        "ratio_reference_over_hf": round(ratio, 2),
        "target_ratio": 3.0,
        "meets_target": ratio <= 3.0,
    }, save)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--size", default="100MB", help="corpus size, e.g. 2MB for a quick run")
    ap.add_argument("--vocab", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/bpe_large*.json")
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args.worker[0], args.worker[1], args.vocab, args.processes)
    else:
        run(args.size, args.vocab, args.repeat, args.seed, args.processes, args.save)


if __name__ == "__main__":
    main()
