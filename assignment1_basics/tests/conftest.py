"""Shared fixtures of the assignment-1 tests: corpora, fixture files, a tokenizer vocabulary, seeded tensors.

What is here, and why it is built this way:

- `write_text` writes a string to a file as UTF-8 bytes (no newline translation on any platform), the way
  `train_bpe` expects its input.
- `small_corpus_path` is the ~130 KB English corpus of handout §1.8, generated once per session by `corpus.py`
  (seeded), so no corpus ships with the repository.
- `fixture_vocab` / `fixture_merges` come from `fixtures/bpe1000_vocab.json` and
  `fixtures/bpe1000_merges.txt`, a 1,000-entry vocabulary the course's reference trainer produced once on a
  generated corpus. They are parsed here with `json` and `bytes.fromhex`, never with student code: the
  tokenizer tests must not depend on the student's trainer (or file reader) being right.
- `tokenizer` is that vocabulary wrapped by the student's `get_tokenizer`, with `<|endoftext|>` special.
- `dims` holds the canonical small Transformer dimensions of handout §7 and `randn` makes seeded tensors.
  torch is imported inside the fixture, so the tokenizer tests never pay for importing it.

Serves handout §1.8, §2.5, §3 and §7.
"""

import json
import pathlib

import pytest

from assignment1_basics.tests import corpus

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
EOT = "<|endoftext|>"

SMALL_CORPUS_BYTES = 130_000
SMALL_CORPUS_SEED = 0


def read_vocab_file(path: pathlib.Path) -> dict[int, bytes]:
    """vocab.json of the project format: decimal id -> hex string of the token's bytes."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {int(k): bytes.fromhex(v) for k, v in raw.items()}


def read_merges_file(path: pathlib.Path) -> list[tuple[bytes, bytes]]:
    """merges.txt of the project format: one merge a line, two hex strings separated by a space."""
    merges = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            left, right = line.split(" ")
            merges.append((bytes.fromhex(left), bytes.fromhex(right)))
    return merges


@pytest.fixture
def write_text(tmp_path):
    """write_text(text, name="corpus.txt") -> path: the text as UTF-8 bytes, newlines untouched."""
    def write(text: str, name: str = "corpus.txt") -> pathlib.Path:
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8"))
        return path
    return write


@pytest.fixture
def fixture_text():
    """fixture_text(name) -> the text of tests/fixtures/<name>, decoded as UTF-8 (newlines untouched)."""
    return lambda name: (FIXTURES / name).read_bytes().decode("utf-8")


@pytest.fixture(scope="session")
def small_corpus_path(tmp_path_factory) -> pathlib.Path:
    """The ~130 KB English corpus of handout §1.8 (documents separated by <|endoftext|>)."""
    path = tmp_path_factory.mktemp("corpus") / "small_en.txt"
    corpus.write_corpus(path, SMALL_CORPUS_BYTES, SMALL_CORPUS_SEED, languages=("en",))
    return path


@pytest.fixture(scope="session")
def _fixture_vocab_merges():
    vocab = read_vocab_file(FIXTURES / "bpe1000_vocab.json")
    merges = read_merges_file(FIXTURES / "bpe1000_merges.txt")
    return vocab, merges


@pytest.fixture
def fixture_vocab(_fixture_vocab_merges) -> dict[int, bytes]:
    """A fresh copy (tests may not see each other's changes) of the 1,000-entry fixture vocabulary."""
    return dict(_fixture_vocab_merges[0])


@pytest.fixture
def fixture_merges(_fixture_vocab_merges) -> list[tuple[bytes, bytes]]:
    return list(_fixture_vocab_merges[1])


@pytest.fixture
def tokenizer(fixture_vocab, fixture_merges):
    """The student's tokenizer over the fixture vocabulary, with <|endoftext|> as its special token."""
    from assignment1_basics import adapters  # here, so a broken adapters.py fails tests, not collection

    return adapters.get_tokenizer(fixture_vocab, fixture_merges, special_tokens=[EOT])


# ---------------------------------------------------------------------------------------------------
# Transformer building blocks (handout §3): canonical dimensions and seeded tensors

DIMS = {"B": 4, "T": 12, "H": 4, "d_h": 16, "d": 64, "d_ff": 128, "V": 512, "max_len": 64}


@pytest.fixture
def dims() -> dict[str, int]:
    """Canonical small dimensions (handout §7): B, T, H, d_h, d (model), d_ff, V (vocab), max_len."""
    return dict(DIMS)


@pytest.fixture
def randn():
    """randn(*shape, seed, dtype=torch.float32, scale=1.0) -> a standard-normal tensor from its own generator.

    Each call seeds a fresh CPU generator, so a tensor depends only on its arguments, not on test order.
    """
    import torch

    def make(*shape: int, seed: int, dtype=None, scale: float = 1.0):
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(*shape, generator=gen, dtype=torch.float64) * scale
        return x.to(dtype or torch.float32)
    return make
