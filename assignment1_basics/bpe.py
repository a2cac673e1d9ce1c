"""Byte-level BPE training: pre-tokenization, parallel counting and the merge loop (handout §1).

The trainer follows GPT-2 (Radford et al. 2019) and Sennrich et al. (2016): text is split on special
tokens, cut into pre-tokens by the GPT-2 regular expression, counted, and then the most frequent adjacent
pair of tokens is merged again and again until the vocabulary is full. Pair counts are updated
incrementally (only words that contain the merged pair are touched) and the best pair comes from a heap
with lazy invalidation, so a 10K-merge run on a large corpus stays in pure Python.

Deliberately left out: the printable-unicode byte remapping of GPT-2's `encoder.json` (we compare raw
bytes everywhere), normalisation (NFC etc.), and any dropout or sampling variant of BPE.
"""

import collections
import os
from typing import BinaryIO

# The GPT-2 pre-tokenization pattern (handout §1.3): contractions, letter runs, digit runs and
# punctuation runs, each with at most one leading space, then whitespace runs. `\s+(?!\S)` leaves the
# last space of a run for the next word, so " world" stays one pre-token.
GPT2_PRETOKENIZE_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# ---------------------------------------------------------------------------------------------------
# Pre-tokenization


def chunk_boundaries(f: BinaryIO, n_chunks: int, split_tokens: list[bytes], scan_bytes: int = 4096) -> list[int]:
    """Byte offsets that cut a file into about `n_chunks` pieces, each cut at the start of a split token.

    Handout §1.4. Start from the `n_chunks` uniform guesses `i * size // n_chunks` and move each guess
    forward to the start of the next occurrence of any token in `split_tokens`, reading windows of
    `scan_bytes` bytes that overlap by `max(len(t) for t in split_tokens) - 1` bytes so that a token
    straddling a window edge is still found. A guess with no token after it becomes the file size.

    Args:
        f: a file opened in binary mode; its position is restored before returning.
        n_chunks: the number of pieces wanted (>= 1). Fewer come back when tokens are rare or the file
            is smaller than `n_chunks` bytes.
        split_tokens: the byte strings a cut may sit in front of (usually the UTF-8 special tokens).
            With an empty list no cut can be placed and the result is `[0, size]`.
        scan_bytes: the size of each read window (>= 1).

    Returns:
        A sorted list without duplicates that starts with 0 and ends with the file size (`[0]` for an
        empty file). Consecutive entries delimit the chunks.

    Raises:
        ValueError: if `n_chunks < 1`, `scan_bytes < 1` or a split token is empty.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.bpe chunk_boundaries: see handout §1.4")
    # END SOLUTION


def pretokenize_counts(text: str, special_tokens: list[str]) -> collections.Counter[bytes]:
    """Count the GPT-2 pre-tokens of `text`, never crossing or including a special token.

    Handout §1.3. The text is first split on the special tokens (one alternation of the escaped tokens,
    longest first, so that a token that is a prefix of another never wins over it); the special spans
    are dropped and each remaining segment is cut with `GPT2_PRETOKENIZE_PATTERN`.

    Args:
        text: the text to count.
        special_tokens: special tokens to split on (may be empty; duplicates are harmless).

    Returns:
        A Counter mapping each pre-token's UTF-8 bytes to its number of occurrences. Special tokens
        never appear in it; an empty text gives an empty Counter.

    Performance:
        Use `findall` on whole segments and convert only the distinct pre-tokens to bytes at the end;
        this runs at several MB/s on one core.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.bpe pretokenize_counts: see handout §1.3")
    # END SOLUTION


# ---------------------------------------------------------------------------------------------------
# Training


def train_bpe(
    input_path: str | os.PathLike,
    vocab_size: int,
    special_tokens: list[str],
    *,
    num_processes: int = 1,
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Train a byte-level BPE tokenizer on a UTF-8 text file.

    Handout §1.2–§1.6. The vocabulary layout is exact: ids 0–255 are the single bytes, ids
    256…255+S the special tokens' UTF-8 bytes in the order given (duplicates dropped, first kept), then
    one id per merge in creation order. Each merge picks the adjacent pair maximising
    `(count, bytes(a), bytes(b))`: the most frequent pair, ties broken towards the lexicographically
    greater pair of raw byte strings. Merges never cross a pre-token boundary or touch a special token.

    Args:
        input_path: path of a UTF-8 text file, read in binary mode (no newline translation).
        vocab_size: the size of the returned vocabulary; `vocab_size - 256 - S` merges are made.
        special_tokens: strings added to the vocabulary and never merged; the text is split on them.
        num_processes: worker processes for pre-tokenization (chunks are cut at special tokens; with no
            special tokens the file is one chunk). The result is identical for every value.

    Returns:
        (vocab, merges): `vocab` maps id -> token bytes; `merges` lists `(bytes(a), bytes(b))` in
        creation order. Training stops early, returning fewer merges, when no pair is left.

    Raises:
        ValueError: if `vocab_size < 256 + S` (S = number of distinct special tokens).

    Performance:
        Pair counts must be updated incrementally (only words containing the merged pair are
        revisited). The reference takes about 0.3 s for a 130 KB corpus at vocab 500 on one core; a
        trainer that recounts every pair after every merge is more than 10x slower and scores 0.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.bpe train_bpe: see handout §1.5")
    # END SOLUTION
