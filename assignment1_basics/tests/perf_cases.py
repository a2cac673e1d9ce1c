"""Performance workloads of assignment 1 (handout §1.9 and §2.6), timed by the grader from outside.

Each case is a pair: `prepare_<name>(workdir) -> state` builds the inputs (untimed: corpus files, the fixture
vocabulary parsed without student code), and `run_<name>(adapters, state) -> value` is the timed part. The
grader (grader/perfrun.py) calls `run_` once as a warm-up and then several times, in a fresh process per
submission, and checks that the returned value equals the reference's, so a fast but wrong submission scores
0. Values are small: merge lists, or a count and a SHA-256 of the ids. Nothing here measures time or memory
itself.

Left out: the thresholds (they live in the rubric) and the hidden workload (grader/private/hidden/).
"""

import hashlib
import pathlib
from array import array

from assignment1_basics.tests import corpus
from assignment1_basics.tests.conftest import (EOT, FIXTURES, SMALL_CORPUS_BYTES, SMALL_CORPUS_SEED,
                                               read_merges_file, read_vocab_file)


def ids_digest(ids) -> tuple[int, str]:
    """(number of ids, SHA-256 of the ids as little-endian uint32); consumes an iterable in bounded memory."""
    h, buf, count = hashlib.sha256(), array("I"), 0
    for token_id in ids:
        buf.append(token_id)
        if len(buf) == 65536:
            h.update(buf.tobytes())
            count += len(buf)
            buf = array("I")
    h.update(buf.tobytes())
    return count + len(buf), h.hexdigest()


def _fixture_tokenizer_inputs() -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    return read_vocab_file(FIXTURES / "bpe1000_vocab.json"), read_merges_file(FIXTURES / "bpe1000_merges.txt")


# --------------------------------------------------------------------------- perf_bpe_small (§1.9)

def prepare_bpe_small(workdir: pathlib.Path):
    path = workdir / "small_en.txt"
    corpus.write_corpus(path, SMALL_CORPUS_BYTES, SMALL_CORPUS_SEED, languages=("en",))
    return path


def run_bpe_small(adapters, path):
    """~130 KB English corpus, vocab 500, one process (the test_bpe_matches_reference_small workload)."""
    vocab, merges = adapters.run_train_bpe(path, 500, [EOT], num_processes=1)
    return {"vocab": vocab, "merges": merges}


# ---------------------------------------------------------------------- perf_encode_iterable_memory (§2.6)

def prepare_encode_iterable_memory(workdir: pathlib.Path):
    path = workdir / "stream_5mb.txt"
    corpus.write_corpus(path, 5_000_000, 3)
    return path, *_fixture_tokenizer_inputs()


def run_encode_iterable_memory(adapters, state):
    """Stream a 5 MB file line by line through encode_iterable; ids are hashed, never stored."""
    path, vocab, merges = state
    tokenizer = adapters.get_tokenizer(vocab, merges, special_tokens=[EOT])
    with open(path, encoding="utf-8", newline="") as f:
        return ids_digest(tokenizer.encode_iterable(f))


# --------------------------------------------------------------------------- perf_encode_throughput (§2.6)

def prepare_encode_throughput(workdir: pathlib.Path):
    return corpus.generate(1_000_000, seed=4), *_fixture_tokenizer_inputs()


def run_encode_throughput(adapters, state):
    """encode() of 1 MB of generated multilingual text, with a tokenizer built fresh (cold cache) each run."""
    text, vocab, merges = state
    tokenizer = adapters.get_tokenizer(vocab, merges, special_tokens=[EOT])
    return ids_digest(tokenizer.encode(text))
