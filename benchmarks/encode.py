"""Benchmark 3: single-process encode throughput of the reference tokenizer, beside tiktoken (handout §2.6).

A 10K vocabulary is trained by the reference on a generated multilingual corpus (seed 0); a different
generated text (seed 1, a few MB) is then encoded by
- the reference `Tokenizer` (special token <|endoftext|>): cold (a fresh tokenizer per run, empty pre-token
  cache) and warm (the same tokenizer encoding the same text again);
- a `tiktoken.Encoding` built from the same vocabulary (mergeable_ranks = {bytes: id}, GPT-2 pattern, same
  special token), single-threaded `encode`. Reports MB/s (UTF-8 bytes / s, median of `--repeat`) and whether
  the ids are identical, with and without special tokens. Target: reference cold ≥ 2 MB/s (spec anchors: 2.0
  cold, 4.2–4.5 warm, tiktoken 12–17 MB/s). Left out: the 32K-merge vocabulary of the rubric item (training it
  takes minutes); `encode_iterable` memory.

    python -m benchmarks.encode [--train-size 2MB] [--text-size 4MB] [--repeat 3] [--save]
"""

import argparse
import pathlib
import tempfile

from benchmarks import _common, _reference

SPECIAL = "<|endoftext|>"


def _first_difference(a: list[int], b: list[int]) -> int | None:
    end = None if len(a) == len(b) else min(len(a), len(b))
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), end)


def run(train_size: str = "2MB", text_size: str = "4MB", vocab_size: int = 10_000, repeat: int = 3,
        save: bool = False) -> dict:
    ref = _reference.activate(("bpe", "tokenizer", "tests.corpus"))
    corpus = ref.corpus
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "train.txt"
        corpus.write_corpus(path, corpus.parse_size(train_size), 0)
        train_s, (vocab, merges) = _common.timed(ref.bpe.train_bpe, path, vocab_size, [SPECIAL],
                                                 num_processes=2)
    text = corpus.generate(corpus.parse_size(text_size), 1)
    mb = len(text.encode("utf-8")) / 1e6

    ids = {}

    def cold():
        ids["ref"] = ref.tokenizer.Tokenizer(vocab, merges, [SPECIAL]).encode(text)

    warm_tok = ref.tokenizer.Tokenizer(vocab, merges, [SPECIAL])
    warm_tok.encode(text)
    t_cold = _common.repeat(cold, repeat)
    t_warm = _common.repeat(lambda: warm_tok.encode(text), repeat)

    enc = _reference.tiktoken_encoding(vocab, [SPECIAL])
    def tik():
        ids["tik"] = enc.encode(text, allowed_special="all")

    t_tik = _common.repeat(tik, repeat, warmup=1)

    plain_ref = ref.tokenizer.Tokenizer(vocab, merges, None).encode(text)
    plain_tik = _reference.tiktoken_encoding(vocab, None).encode(text, disallowed_special=())

    def rate(t):
        return round(mb / t["median_s"], 2)

    return _common.emit("encode", {
        "command": f"python -m benchmarks.encode --train-size {train_size} --text-size {text_size} "
                   f"--repeat {repeat}",
        "workload": {"train_corpus": train_size, "vocab_size": vocab_size, "merges": len(merges),
                     "train_seconds_2_processes": round(train_s, 2), "text_mb": round(mb, 3),
                     "tokens": len(ids["ref"]), "bytes_per_token": round(mb * 1e6 / len(ids["ref"]), 3)},
        "reference_cold_mb_per_s": rate(t_cold), "reference_cold": t_cold,
        "reference_warm_mb_per_s": rate(t_warm), "reference_warm": t_warm,
        "tiktoken_mb_per_s": rate(t_tik), "tiktoken": t_tik,
        "ids_identical_with_specials": ids["ref"] == ids["tik"],
        "first_difference_with_specials": _first_difference(ids["ref"], ids["tik"]),
        "ids_identical_without_specials": plain_ref == plain_tik,
        "first_difference_without_specials": _first_difference(plain_ref, plain_tik),
        "target_cold_mb_per_s": 2.0,
        "meets_target": rate(t_cold) >= 2.0,
    }, save)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-size", default="2MB")
    ap.add_argument("--text-size", default="4MB")
    ap.add_argument("--vocab", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/encode.json")
    args = ap.parse_args(argv)
    run(args.train_size, args.text_size, args.vocab, args.repeat, args.save)


if __name__ == "__main__":
    main()
