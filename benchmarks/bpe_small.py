"""Benchmark 1: reference `train_bpe`, ~130 KB English corpus, vocab 500 (handout §1.9, perf_bpe_small).

Target: median ≤ 0.3 s on 2 cores (spec anchor: 0.29 s). The corpus is `generate(130_000, seed,
languages=("en",))`, the workload of `test_bpe_matches_reference_small`. For context the HF `tokenizers`
trainer runs on the same file in the same process (spec anchor 0.047 s; its merges differ by tie-break, so
only its time is reported). Left out: the naive recount-every-merge trainer (spec §1.9 gives its figure, 3.9
s).

    python -m benchmarks.bpe_small [--repeat 5] [--save]
"""

import argparse
import pathlib
import tempfile

from benchmarks import _common, _reference
from benchmarks.hf import train_hf

SPECIAL = "<|endoftext|>"


def run(repeat: int = 5, seed: int = 0, vocab_size: int = 500, save: bool = False) -> dict:
    ref = _reference.activate(("bpe", "tests.corpus"))
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "english_130k.txt"
        n_bytes = ref.corpus.write_corpus(path, 130_000, seed, languages=("en",))
        out = {}

        def reference():
            out["ref"] = ref.bpe.train_bpe(path, vocab_size, [SPECIAL], num_processes=1)

        t_ref = _common.repeat(reference, repeat, warmup=1)
        t_hf = _common.repeat(lambda: train_hf(path, vocab_size, [SPECIAL], threads=1), repeat, warmup=1)
    vocab, merges = out["ref"]
    return _common.emit("bpe_small", {
        "command": f"python -m benchmarks.bpe_small --repeat {repeat}",
        "workload": {"corpus_bytes": n_bytes, "languages": ["en"], "seed": seed, "vocab_size": vocab_size,
                     "num_processes": 1, "merges": len(merges)},
        "reference": t_ref,
        "hf_tokenizers_1_thread": t_hf,
        "target_median_s": 0.3,
        "meets_target": t_ref["median_s"] <= 0.3,
    }, save)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/bpe_small.json")
    args = ap.parse_args(argv)
    run(args.repeat, args.seed, save=args.save)


if __name__ == "__main__":
    main()
