"""Maintainer test: the reference tokenizer's ids equal tiktoken's, built from the same vocabulary (spec §7).

The graded tokenizer tests take their expected ids from the reference; this pins the reference to an
independent implementation (tiktoken's Rust rank-merge with the GPT-2 pattern, mergeable_ranks = {bytes: id}).
A vocabulary of 1,500 is trained by the reference on a 300 KB multilingual generated corpus (code, markdown,
emoji included); a different 300 KB generated text is then encoded with and without the special token.
Left out: the 10K/32K vocabularies (benchmarks/encode.py compares those) and encode_iterable.
"""

import pytest

from benchmarks._reference import tiktoken_encoding

pytestmark = pytest.mark.grader
SPECIAL = "<|endoftext|>"


@pytest.fixture(scope="module")
def trained(reference_pkg, tmp_path_factory):
    path = tmp_path_factory.mktemp("tik") / "train.txt"
    reference_pkg.corpus.write_corpus(path, 300_000, seed=11)
    vocab, merges = reference_pkg.bpe.train_bpe(path, 1_500, [SPECIAL], num_processes=1)
    return vocab, merges, reference_pkg.corpus.generate(300_000, seed=12)


def _first_difference(a, b):
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def test_reference_ids_equal_tiktoken_with_special_tokens(reference_pkg, trained):
    vocab, merges, text = trained
    assert SPECIAL in text
    ours = reference_pkg.tokenizer.Tokenizer(vocab, merges, [SPECIAL]).encode(text)
    theirs = tiktoken_encoding(vocab, [SPECIAL]).encode(text, allowed_special="all")
    i = _first_difference(ours, theirs)
    assert ours == theirs, f"first difference at token {i}: {ours[i:i + 5]} vs {theirs[i:i + 5]}"
    assert ours.count(vocab_id(vocab, SPECIAL)) == text.count(SPECIAL)


def test_reference_ids_equal_tiktoken_without_special_tokens(reference_pkg, trained):
    vocab, merges, text = trained
    ours = reference_pkg.tokenizer.Tokenizer(vocab, merges, None).encode(text)
    theirs = tiktoken_encoding(vocab, None).encode(text, disallowed_special=())
    i = _first_difference(ours, theirs)
    assert ours == theirs, f"first difference at token {i}: {ours[i:i + 5]} vs {theirs[i:i + 5]}"
    assert vocab_id(vocab, SPECIAL) not in ours, "without special tokens <|endoftext|> is ordinary text"


def test_reference_decode_inverts_encode(reference_pkg, trained):
    vocab, merges, text = trained
    tok = reference_pkg.tokenizer.Tokenizer(vocab, merges, [SPECIAL])
    assert tok.decode(tok.encode(text)) == text


def vocab_id(vocab, token: str) -> int:
    return next(i for i in sorted(vocab) if vocab[i] == token.encode("utf-8"))
