"""Hidden tests of BPE training (handout §1.8): new inputs for the public tests and many-case checks.

Copied at grading time to assignment1_basics/tests/hidden/, so the public conftest fixtures apply. Expected
values come from grader/private/snapshots; two tests also carry an independent oracle written here: a
recount-every-merge trainer (`naive_merges`) and a brute-force boundary finder (`bytes.find`). Left out:
timing (a rubric perf item).
"""

import random

import pytest
import regex

from assignment1_basics import adapters
from assignment1_basics.tests.conftest import EOT
from assignment1_basics.tests.corpus import write_corpus

GPT2 = regex.compile(r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def naive_merges(text: str, n_merges: int, specials: list[str]) -> list[tuple[bytes, bytes]]:
    """The oracle: recount every pair from scratch before each merge (handout §1.5, no incremental update)."""
    segments = [text]
    if specials:
        alternation = "|".join(regex.escape(s) for s in sorted(set(specials), key=lambda s: (-len(s), s)))
        segments = regex.split(alternation, text)
    words: dict[tuple[bytes, ...], int] = {}
    for segment in segments:
        for piece in GPT2.findall(segment):
            word = tuple(bytes([b]) for b in piece.encode("utf-8"))
            words[word] = words.get(word, 0) + 1
    merges = []
    for _ in range(n_merges):
        counts: dict[tuple[bytes, bytes], int] = {}
        for word, freq in words.items():
            for pair in zip(word, word[1:]):
                counts[pair] = counts.get(pair, 0) + freq
        if not counts:
            break
        best = max(counts, key=lambda p: (counts[p], p))
        merges.append(best)
        rewritten: dict[tuple[bytes, ...], int] = {}
        for word, freq in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            rewritten[tuple(out)] = rewritten.get(tuple(out), 0) + freq
        words = rewritten
    return merges


ALPHABETS = ["ab", "aab ", "xyz \n", "éa日 ", "🙂a\n ", "ab\r\n", "0123 ,.", "ααβ γ", "aaaa"]


def random_corpus(rng: random.Random) -> tuple[str, list[str]]:
    """A small corpus full of repeats and ties: words from a tiny alphabet, sometimes with special tokens."""
    alphabet = rng.choice(ALPHABETS)
    specials = [EOT] if rng.random() < 0.4 else []
    parts = []
    for _ in range(rng.randrange(5, 60)):
        parts.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 9))))
        if specials and rng.random() < 0.15:
            parts.append(EOT)
        parts.append(rng.choice([" ", " ", "\n", "", "  "]))
    return "".join(parts), specials


@pytest.mark.a1_bpe_train
def test_bpe_incremental_equals_naive(tmp_path, check):
    rng = random.Random(20260)
    results = []
    for case in range(200):
        text, specials = random_corpus(rng)
        n_merges = rng.randrange(1, 40)
        path = tmp_path / f"c{case}.txt"
        path.write_bytes(text.encode("utf-8"))
        vocab, merges = adapters.run_train_bpe(path, 256 + len(specials) + n_merges, specials)
        expected = naive_merges(text, n_merges, specials)
        first_bad = next((i for i, (a, b) in enumerate(zip(merges, expected)) if a != b), None)
        assert merges == expected, (
            f"case {case}: corpus {text[:80]!r}..., specials {specials}: merge {first_bad} is "
            f"{merges[first_bad] if first_bad is not None else None}, a full recount gives "
            f"{expected[first_bad] if first_bad is not None else None} "
            f"(lengths {len(merges)}, {len(expected)}). "
            "After each merge, pair_counts must equal a recount from scratch.")
        results.append(merges)
    check("merges", results)


@pytest.mark.a1_bpe_train
def test_bpe_matches_reference_multilingual(tmp_path, check):
    path = tmp_path / "multi.txt"
    write_corpus(path, 200_000, 11)
    vocab, merges = adapters.run_train_bpe(path, 1000, [EOT])
    check("merges", merges)
    check("vocab", vocab)


@pytest.mark.a1_bpe_train
def test_bpe_num_processes_invariant(tmp_path, check):
    path = tmp_path / "multi.txt"
    write_corpus(path, 300_000, 5, languages=("en", "de", "ru", "zh", "emoji", "code"))
    specials = [EOT, "<|pad|>"]
    outputs = {n: adapters.run_train_bpe(path, 400, specials, num_processes=n) for n in (1, 2, 4)}
    check("merges", outputs[1][1])
    check("vocab", outputs[1][0])
    for n in (2, 4):
        assert outputs[n] == outputs[1], (
            f"num_processes={n} gives a different result from 1: cut chunks only at the start of a special "
            "token (every token, overlapping scan windows), and sum the per-chunk Counters")


def _expected_bounds(data: bytes, n_chunks: int, tokens: list[bytes]) -> list[int]:
    """Brute force: each guess i * size // n_chunks moves to the first token start at or after it."""
    size = len(data)
    out = {0, size}
    for i in range(1, n_chunks):
        guess = i * size // n_chunks
        hits = [h for h in (data.find(t, guess) for t in tokens) if h >= 0]
        out.add(min(hits) if hits else size)
    return sorted(out)


CHUNK_CASES = {
    # id: (data, n_chunks, split tokens, scan_bytes)
    "several_tokens": (b"aaaa<|pad|>bbbbbbbb" + EOT.encode() + b"cc<|pad|>d" * 3, 5,
                       [EOT.encode(), b"<|pad|>"], 8),
    "none_present": (b"just text without any special token\n" * 5, 3, [EOT.encode()], 16),
    "no_split_tokens": (b"abc" * 50, 4, [], 4096),
    "smaller_than_n_chunks": (b"<|x|>", 8, [b"<|x|>"], 4096),
    "empty_file": (b"", 3, [EOT.encode()], 4096),
    "guess_inside_token": (b"a" * 10 + EOT.encode() + b"b" * 3 + EOT.encode(), 2, [EOT.encode()], 4),
    "scan_bytes_1": (b"xx" + EOT.encode() + b"yyyyyy" + EOT.encode() + b"z", 3, [EOT.encode()], 1),
    "prefix_tokens": (b"q" * 20 + b"<|a|>" + b"r" * 7 + b"<|a|><|ab|>", 4, [b"<|a|>", b"<|a|><|ab|>"], 3),
}


@pytest.mark.a1_bpe_train
@pytest.mark.parametrize("case", list(CHUNK_CASES))
def test_chunk_boundaries_edges(case, tmp_path, check):
    data, n_chunks, tokens, scan = CHUNK_CASES[case]
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    with open(path, "rb") as f:
        bounds = adapters.run_chunk_boundaries(f, n_chunks, tokens, scan_bytes=scan)
    check("boundaries", list(bounds))
    assert list(bounds) == _expected_bounds(data, n_chunks, tokens)


@pytest.mark.a1_bpe_train
def test_chunk_boundaries_straddle_every_offset(tmp_path, check):
    rng = random.Random(7)
    tokens = [EOT.encode(), b"<|pad|>"]
    found = []
    for trial in range(120):
        data = bytearray(rng.choice(b"abc \n") for _ in range(rng.randrange(0, 400)))
        for _ in range(rng.randrange(0, 6)):
            at = rng.randrange(len(data) + 1)
            data[at:at] = rng.choice(tokens)
        data = bytes(data)
        n_chunks, scan = rng.randrange(1, 9), rng.randrange(1, 40)
        path = tmp_path / f"d{trial}.bin"
        path.write_bytes(data)
        with open(path, "rb") as f:
            bounds = list(adapters.run_chunk_boundaries(f, n_chunks, tokens, scan_bytes=scan))
        assert bounds == _expected_bounds(data, n_chunks, tokens), (
            f"trial {trial}: n_chunks={n_chunks}, scan_bytes={scan}, size {len(data)}: got {bounds}. Windows "
            "must overlap by max token length - 1, and every split token is searched in every window.")
        found.append(bounds)
    check("boundaries", found)


PRETOKENIZE_CASES = {
    "contractions_lowercase_only": ("We'll see: they're DON'T", [], {
        b"We": 1, b"'ll": 1, b" see": 1, b":": 1, b" they": 1, b"'re": 1, b" DON": 1, b"'": 1, b"T": 1}),
    "unicode_whitespace": ("apples\u00a0and\tTabs!!  ", [], {
        b"apples": 1, "\u00a0".encode(): 1, b"and": 1, b"\t": 1, b"Tabs": 1, b"!!": 1, b"  ": 1}),
    "three_newlines": ("x\n\n\n\ty", [], {b"x": 1, b"\n\n\n": 1, b"\t": 1, b"y": 1}),
    "two_specials_adjacent": (f"a{EOT}<|pad|>{EOT} a", [EOT, "<|pad|>"], {b"a": 1, b" a": 1}),
    "special_chars_regex_escaped": ("x(.*)y(.*)z", ["(.*)"], {b"x": 1, b"y": 1, b"z": 1}),
}


@pytest.mark.a1_bpe_train
@pytest.mark.parametrize("case", list(PRETOKENIZE_CASES))
def test_pretokenize_counts_hand_derived(case, check):
    text, specials, expected = PRETOKENIZE_CASES[case]
    counts = adapters.run_pretokenize_counts(text, specials)
    check("counts", dict(sorted(counts.items())))
    assert dict(counts) == expected


TIE_CASES = {
    "same_left_greater_right": ("st\nsh\n" * 3, 1, [(b"s", b"t")]),
    "high_bytes_beat_ascii": ("é\nzz\n" * 4, 1, [("é".encode()[:1], "é".encode()[1:])]),
    "control_byte_is_smallest": ("\x01\x01\nab\n" * 2, 1, [(b"a", b"b")]),
}


@pytest.mark.a1_bpe_train
@pytest.mark.parametrize("case", list(TIE_CASES))
def test_bpe_tiebreak_lexicographic(case, write_text, check):
    text, n_merges, expected = TIE_CASES[case]
    vocab, merges = adapters.run_train_bpe(write_text(text), 256 + n_merges, [])
    check("merges", merges)
    assert merges == expected
