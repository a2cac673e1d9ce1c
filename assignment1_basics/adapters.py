"""The only functions the tests call: each one wires a test to your implementation (handout §0).

Every adapter imports the module it needs inside the function, so a mistake in one module (even a
syntax error) only fails the tests of that module. If you organise your package differently, change the
import lines here; keep the names, signatures and return values.

Left out: adapters of later parts of the assignment (they are added with those parts).
"""

import collections
import os
from typing import Any, BinaryIO

# ---------------------------------------------------------------------------------------------------
# BPE training (handout §1)


def run_train_bpe(
    input_path: str | os.PathLike,
    vocab_size: int,
    special_tokens: list[str],
    num_processes: int = 1,
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Train byte-level BPE on a file; returns (vocab, merges). Handout §1.2–§1.6."""
    from .bpe import train_bpe

    return train_bpe(input_path, vocab_size, special_tokens, num_processes=num_processes)


def run_chunk_boundaries(f: BinaryIO, n_chunks: int, split_tokens: list[bytes], scan_bytes: int = 4096) -> list[int]:
    """Chunk offsets of a binary file, each at the start of a split token. Handout §1.4."""
    from .bpe import chunk_boundaries

    return chunk_boundaries(f, n_chunks, split_tokens, scan_bytes)


def run_pretokenize_counts(text: str, special_tokens: list[str]) -> collections.Counter[bytes]:
    """Pre-token counts of a text, split on special tokens first. Handout §1.3."""
    from .bpe import pretokenize_counts

    return pretokenize_counts(text, special_tokens)


# ---------------------------------------------------------------------------------------------------
# Tokenizer (handout §2)


def get_tokenizer(
    vocab: dict[int, bytes],
    merges: list[tuple[bytes, bytes]],
    special_tokens: list[str] | None = None,
) -> Any:
    """A tokenizer object with encode, encode_iterable and decode. Handout §2.1–§2.4."""
    from .tokenizer import Tokenizer

    return Tokenizer(vocab, merges, special_tokens)


def get_tokenizer_from_files(
    vocab_path: str | os.PathLike,
    merges_path: str | os.PathLike,
    special_tokens: list[str] | None = None,
) -> Any:
    """A tokenizer read from vocab.json and merges.txt (the project's hex format). Handout §2.1."""
    from .tokenizer import Tokenizer

    return Tokenizer.from_files(vocab_path, merges_path, special_tokens)
