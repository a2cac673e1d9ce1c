"""A byte-level BPE tokenizer: encode, streaming encode and decode with a trained vocabulary (handout §2).

Encoding follows GPT-2 and tiktoken: split the text on special tokens (longest first), cut every other
segment into pre-tokens with the GPT-2 pattern, and turn each pre-token into ids by repeatedly merging
its adjacent pair of lowest merge rank. Pre-token results are cached, which is what makes a pure-Python
encoder fast on real text (words repeat). `encode_iterable` streams with bounded memory and gives the
same ids as `encode` on the joined text for every way of cutting it into chunks.

Deliberately left out: the printable-unicode byte remapping of GPT-2's files (our files store hex),
normalisation, BPE dropout, and batch or multi-threaded encoding.
"""

import json
import os
from collections.abc import Iterable, Iterator

# The GPT-2 pre-tokenization pattern (handout §1.3), the same string as in bpe.py. It is repeated here so
# that this module does not import bpe.py: a mistake there must not break the tokenizer.
GPT2_PRETOKENIZE_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# ---------------------------------------------------------------------------------------------------
# File format (worked example: implemented, not graded)


def save_vocab_merges(
    vocab: dict[int, bytes],
    merges: list[tuple[bytes, bytes]],
    vocab_path: str | os.PathLike,
    merges_path: str | os.PathLike,
) -> None:
    """Write a vocabulary and merge list in the project's file format (handout §2.1).

    `vocab.json` maps each decimal id (as a JSON string key) to the hex string of its bytes, in
    increasing id order; `merges.txt` has one merge per line, the two tokens' hex strings separated by
    one space. Hex keeps every byte exact: no printable-unicode remapping is needed or used.

    Args:
        vocab: id -> token bytes.
        merges: `(bytes(a), bytes(b))` in creation order.
        vocab_path: where to write `vocab.json`.
        merges_path: where to write `merges.txt`.
    """
    with open(vocab_path, "w", encoding="utf-8") as f:
        json.dump({str(i): vocab[i].hex() for i in sorted(vocab)}, f, indent=0)
    with open(merges_path, "w", encoding="utf-8", newline="\n") as f:
        for a, b in merges:
            f.write(f"{a.hex()} {b.hex()}\n")


# ---------------------------------------------------------------------------------------------------
# The graded tokenizer: everything below this line is yours to write.


class Tokenizer:
    """Byte-level BPE tokenizer built from a vocabulary, a merge list and optional special tokens.

    Handout §2. Special tokens missing from `vocab` are appended with the next free ids (max id + 1,
    in the order given). When several ids share the same bytes, encoding uses the lowest of them.

    Args:
        vocab: id -> token bytes; must contain every single byte that the text to encode uses, and
            both parts and the result of every merge.
        merges: `(bytes(a), bytes(b))` in creation order; the index of a merge is its rank.
        special_tokens: strings that are always encoded as their own single id and never split
            (None and [] both mean none; duplicates are dropped). Overlaps resolve longest first.
        cache_size: at most this many pre-tokens keep their ids in the encode cache (0 disables it).

    Raises:
        ValueError: if a merge's parts or result are not in `vocab`.
    """

    def __init__(
        self,
        vocab: dict[int, bytes],
        merges: list[tuple[bytes, bytes]],
        special_tokens: list[str] | None = None,
        cache_size: int = 65_536,
    ) -> None:
        # BEGIN SOLUTION
        raise NotImplementedError("a1.tokenizer Tokenizer.__init__: see handout §2.1")
        # END SOLUTION

    @classmethod
    def from_files(
        cls,
        vocab_path: str | os.PathLike,
        merges_path: str | os.PathLike,
        special_tokens: list[str] | None = None,
    ) -> "Tokenizer":
        """Build a tokenizer from files written by `save_vocab_merges` (handout §2.1).

        Args:
            vocab_path: a `vocab.json` mapping decimal ids to hex strings of token bytes.
            merges_path: a `merges.txt` with one merge per line, two hex strings separated by a space;
                blank lines are ignored.
            special_tokens: as in `Tokenizer`.

        Returns:
            The tokenizer.
        """
        # BEGIN SOLUTION
        raise NotImplementedError("a1.tokenizer Tokenizer.from_files: see handout §2.1")
        # END SOLUTION

    def encode(self, text: str) -> list[int]:
        """Encode a text into token ids (handout §2.2).

        Special tokens are matched first, longest first (with `["<|e|>", "<|e|><|e|>"]` the text
        `"<|e|><|e|>"` is one id); every other segment is cut with the GPT-2 pattern and each pre-token
        is merged by lowest merge rank until no adjacent pair has a rank. Without special tokens,
        `"<|endoftext|>"` is ordinary text.

        Args:
            text: any string (may be empty).

        Returns:
            The ids; `decode(encode(text)) == text` for every valid string.

        Performance:
            Look up pair ranks in a dict and cache pre-token -> ids (bounded by `cache_size`); never
            scan the whole merge list per pre-token. The reference encodes about 2–4 MB/s on one core
            with a 10K vocabulary; a submission more than 15x slower scores 0 on this item.
        """
        # BEGIN SOLUTION
        raise NotImplementedError("a1.tokenizer Tokenizer.encode: see handout §2.2")
        # END SOLUTION

    def encode_iterable(self, chunks: Iterable[str]) -> Iterator[int]:
        """Lazily encode a stream of text chunks with bounded memory (handout §2.4).

        For every way of cutting a text into chunks (file lines or arbitrary pieces, including cuts
        inside a special token, a word or a run of newlines), `list(encode_iterable(chunks))` equals
        `encode("".join(chunks))`. Chunks are pulled one at a time and ids are yielded as soon as they
        can no longer change, so the ids of early chunks come out before later chunks are read.

        Args:
            chunks: an iterable of strings (e.g. an open text file); it is never materialised.

        Returns:
            An iterator over the ids.

        Performance:
            Memory stays O(longest pre-token + cache), independent of the input length. Encoding each
            line on its own is wrong: `"a\\n\\n\\nb"` pre-tokenizes differently as one text and as lines.
        """
        # BEGIN SOLUTION
        raise NotImplementedError("a1.tokenizer Tokenizer.encode_iterable: see handout §2.4")
        # END SOLUTION

    def decode(self, ids: Iterable[int]) -> str:
        """Turn ids back into text (handout §2.3).

        Args:
            ids: token ids.

        Returns:
            The concatenated token bytes decoded as UTF-8 with `errors="replace"`: an incomplete or
            invalid sequence becomes U+FFFD and never raises.

        Raises:
            KeyError: if an id is not in the vocabulary.
        """
        # BEGIN SOLUTION
        raise NotImplementedError("a1.tokenizer Tokenizer.decode: see handout §2.3")
        # END SOLUTION
