"""Hidden performance workload of assignment 1 (handout §1.9, perf_bpe_medium), same shape as
tests/perf_cases.py.

`prepare_bpe_medium` writes a 1.5 MB generated multilingual corpus (untimed); `run_bpe_medium` trains a
2,000-entry vocabulary in one process and returns the merges, which must equal the reference's. Left out:
thresholds (rubric).
"""

import pathlib

from assignment1_basics.tests import corpus

EOT = "<|endoftext|>"


def prepare_bpe_medium(workdir: pathlib.Path):
    path = workdir / "medium.txt"
    corpus.write_corpus(path, 1_500_000, 9)
    return path


def run_bpe_medium(adapters, path):
    vocab, merges = adapters.run_train_bpe(path, 2000, [EOT], num_processes=1)
    return {"vocab": vocab, "merges": merges}
