"""Public tests of the tokenizer (handout §2): encode, decode, special tokens and streaming encode_iterable.

The vocabulary is the fixture pair in tests/fixtures/ (1,000 entries, trained once by the course's reference
on a generated multilingual corpus), read by conftest.py without student code, so these tests do not depend on
the student's trainer. Expected ids come from the snapshots; the asserts check properties that hold for any
correct tokenizer (round trips, specials kept whole, streaming equals encoding the whole text). Left out here
(hidden suite): 500 random chunkings, more partial-UTF-8 cases and new texts.
"""

import pytest

from assignment1_basics import adapters
from assignment1_basics.tests.conftest import EOT, FIXTURES

EOT_ID = 256  # the fixture vocabulary's layout: bytes, then <|endoftext|>, then merges

ROUNDTRIP_TEXTS = {
    "empty": "",
    "one_ascii_char": "s",
    "emoji": "🙂",
    "emoji_zwj_sequence": "👨‍👩‍👧‍👦",
    "mixed_scripts": "Grüße, мир! 日本語 and ελληνικά 🎉 ok\tdone\r\n",
    "with_specials": f"Hello{EOT}world\n\n{EOT}{EOT} bye{EOT}",
}


@pytest.mark.a1_tokenizer
@pytest.mark.parametrize("case", list(ROUNDTRIP_TEXTS))
def test_tokenizer_roundtrip(case, tokenizer, check):
    text = ROUNDTRIP_TEXTS[case]
    ids = tokenizer.encode(text)
    check("ids", ids,
          hint="apply merges by lowest rank inside each pre-token; special tokens map to their id")
    decoded = tokenizer.decode(ids)
    check("decoded", decoded)
    assert decoded == text, f"decode(encode(s)) must give s back; got {decoded!r} for {text!r}"
    assert ids.count(EOT_ID) == text.count(EOT), "each <|endoftext|> in the text must be exactly one id 256"


@pytest.mark.a1_tokenizer
@pytest.mark.parametrize("name", ["english", "german", "code", "emoji"])
def test_tokenizer_matches_reference_ids(name, tokenizer, fixture_text, check):
    text = fixture_text(f"{name}.txt")
    ids = tokenizer.encode(text)
    check("ids", ids,
          hint="inside each pre-token, repeatedly merge the adjacent pair with the LOWEST merge rank "
               "(its index in merges), all its occurrences left to right; cache per pre-token")
    assert tokenizer.decode(ids) == text, "decode(encode(text)) must give the text back"


# A hand-made vocabulary whose merges are few enough to follow by hand. In rank order:
# (b,c)=257 "bc", (a,b)=258 "ab", (a,bc)=259 "abc", (x,x)=260 "xx", (xx,x)=261 "xxx",
# (',l)=262 "'l", ('l,l)=263 "'ll"
HANDMADE_MERGES = [(b"b", b"c"), (b"a", b"b"), (b"a", b"bc"), (b"x", b"x"), (b"xx", b"x"),
                   (b"'", b"l"), (b"'l", b"l")]


def handmade_tokenizer():
    vocab = {i: bytes([i]) for i in range(256)} | {256: EOT.encode()}
    for a, b in HANDMADE_MERGES:
        vocab[len(vocab)] = a + b
    return adapters.get_tokenizer(vocab, HANDMADE_MERGES, special_tokens=[EOT])


@pytest.mark.a1_tokenizer
def test_tokenizer_matches_reference_ids_handmade_vocab(check):
    # "ab" -> 258. " abc": (b,c) has the lowest rank, then (a,bc) -> " ", abc (the leftmost pair (a,b) would
    # give ab, c instead). " xxxx": (x,x) everywhere, left to right -> xx, xx. " xxx" -> xx, x -> xxx.
    ids = handmade_tokenizer().encode("ab abc xxxx xxx")
    check("ids", ids)
    assert ids == [258, 32, 259, 32, 260, 260, 32, 261], (
        f"got {ids}: inside each pre-token, merge the adjacent pair with the LOWEST rank first (all its "
        "occurrences, left to right), not the leftmost mergeable pair")


@pytest.mark.a1_tokenizer
@pytest.mark.parametrize("order", ["short_first", "long_first"])
def test_tokenizer_special_overlap_longest_first(order, fixture_vocab, fixture_merges, check):
    short, long = "<|e|>", "<|e|><|e|>"
    specials = [short, long] if order == "short_first" else [long, short]
    tok = adapters.get_tokenizer(fixture_vocab, fixture_merges, special_tokens=specials)
    hint = "match special tokens longest first: sort the escaped alternation by length, descending"
    one = tok.encode(long)
    check("ids_long", one, hint=hint)
    assert len(one) == 1 and tok.decode(one) == long, (
        f"{long!r} must encode to the single id of the longer special token, got {one}. Specials missing "
        "from the vocabulary are appended with the next free ids; the alternation is sorted longest first.")
    three = tok.encode("x" + short * 3 + "y")
    check("ids_three", three, hint=hint)
    assert len(three) == 4 and three[1] == one[0] and tok.decode(three[2:3]) == short, (
        f"'x<|e|><|e|><|e|>y' must be x, the long special, the short special, y; got {three}")


NEWLINE_TEXTS = {
    "newline_before": f"line\n{EOT}",
    "double_newline_before": f"para\n\n{EOT}next",
    "newline_after": f"{EOT}\nnext",
    "double_newline_after": f"end.{EOT}\n\n",
    "spaces_both_sides": f"a  {EOT}  b",
    "newlines_both_sides": f"\n\n{EOT}\n\n{EOT}\n",
}


@pytest.mark.a1_tokenizer
@pytest.mark.parametrize("case", list(NEWLINE_TEXTS))
def test_tokenizer_special_next_to_newlines(case, tokenizer, check):
    text = NEWLINE_TEXTS[case]
    ids = tokenizer.encode(text)
    check("ids", ids,
          hint="split on special tokens BEFORE pre-tokenizing: a whitespace run never absorbs one")
    expected = []
    for i, segment in enumerate(text.split(EOT)):
        expected += ([EOT_ID] if i else []) + tokenizer.encode(segment)
    assert ids == expected, (
        f"encoding {text!r} must equal encoding each segment between the specials on its own, with id 256 "
        f"for each special; got {ids}, expected {expected}")
    assert tokenizer.decode(ids) == text


@pytest.mark.a1_tokenizer
def test_tokenizer_no_special_tokens(fixture_vocab, fixture_merges, check):
    text = f"a{EOT}b <|pad|>\n\nhello world"
    tok_none = adapters.get_tokenizer(fixture_vocab, fixture_merges, special_tokens=None)
    tok_empty = adapters.get_tokenizer(fixture_vocab, fixture_merges, special_tokens=[])
    ids = tok_none.encode(text)
    check("ids", ids, hint="without specials, '<|endoftext|>' is ordinary text; never build a regex "
                           "alternation from an empty list (it matches the empty string everywhere)")
    assert tok_empty.encode(text) == ids, "special_tokens=None and [] must behave identically"
    assert EOT_ID not in ids, "with no special tokens configured, '<|endoftext|>' is pre-tokenized as text"
    assert tok_none.decode(ids) == text


def _chunks_with_specials(text: str):
    return {
        "lines": text.splitlines(keepends=True),
        "pieces_of_7": [text[i:i + 7] for i in range(0, len(text), 7)],  # cuts through specials and words
        "single_chars": list(text),
        "with_empty_chunks": [c for line in text.splitlines(keepends=True) for c in ("", line, "")],
    }


@pytest.mark.a1_tokenizer
@pytest.mark.parametrize("chunking", ["lines", "pieces_of_7", "single_chars", "with_empty_chunks"])
def test_tokenizer_iterable_matches_encode(chunking, tokenizer, fixture_text, check):
    text = ("a\n\n\nb\nwe'll see, they've said\n" + fixture_text("english.txt")
            + f"{EOT}\n\n\n  {EOT}tail\n\n\n")
    chunks = _chunks_with_specials(text)[chunking]
    assert "".join(chunks) == text
    streamed = list(tokenizer.encode_iterable(iter(chunks)))
    check("ids", streamed,
          hint="keep a carry: hold back a suffix that may start a special token and the last pre-token, "
               "emit the rest; never encode each chunk on its own")
    assert streamed == tokenizer.encode(text), (
        "encode_iterable(chunks) must equal encode(''.join(chunks)) for every chunking; for example "
        "'a\\n\\n\\nb' pre-tokenizes as a, \\n\\n, \\n, b as one text but as three \\n when the lines "
        "are encoded separately")


@pytest.mark.a1_tokenizer
def test_tokenizer_iterable_contraction_cut(check):
    # "we'll" is the pre-tokens "we", "'ll" (one id, 263). Cut after the apostrophe, the carry "we'" splits as
    # "we", "'": holding back only "'" and emitting "we" is fine, but then "'l" splits as "'", "l" and holding
    # back only "l" would emit a lone "'". Hold back the pre-token before the last one too when it is a bare
    # "'".
    tok = handmade_tokenizer()
    text = "we'll go, they'll\n"
    expected = tok.encode(text)
    assert expected[2] == 263, "'ll is one pre-token: (',l) then ('l,l) give id 263"
    streamed = list(tok.encode_iterable(iter(text)))
    check("ids", streamed)
    assert streamed == expected, (
        f"one character per chunk gives {streamed}, encode gives {expected}: a contraction cut after its "
        "apostrophe must not be emitted early")


@pytest.mark.a1_tokenizer
def test_tokenizer_iterable_is_lazy(tokenizer, check):
    lines = [f"Line {i}: the lighthouse keeper wrote in his log.\n" for i in range(10)]
    pulled = []

    def gen(fail_after=None):
        for i, line in enumerate(lines):
            if fail_after is not None and i > fail_after:
                raise RuntimeError("the chunk source failed")
            pulled.append(i)
            yield line

    first = tokenizer.encode(lines[0])  # line 0 ends with "\n" before "Line", so its ids are a prefix
    got = []
    for token_id in tokenizer.encode_iterable(gen()):
        got.append(token_id)
        if len(got) == len(first):
            break
    check("ids_of_chunk_0", got)
    assert got == first, "the first ids streamed must be the ids of the first line"
    assert max(pulled) < 3, (
        f"chunk {max(pulled)} was requested before the ids of chunk 0 were yielded: pull the iterable one "
        "chunk at a time (no list(), no join) and yield ids as soon as they are certain")

    pulled.clear()
    got = []
    with pytest.raises(RuntimeError):
        for token_id in tokenizer.encode_iterable(gen(fail_after=5)):
            got.append(token_id)
    prefix = tokenizer.encode("".join(lines[:4]))
    check("ids_before_error", got[:len(prefix)])
    assert got[:len(prefix)] == prefix, (
        "a source that fails after chunk 5 must still have produced the ids of chunks 0-3 first: "
        "encode_iterable must stream, not collect the whole input")


@pytest.mark.a1_tokenizer
def test_tokenizer_from_files_roundtrip(tokenizer, fixture_text, check):
    tok = adapters.get_tokenizer_from_files(FIXTURES / "bpe1000_vocab.json", FIXTURES / "bpe1000_merges.txt",
                                            special_tokens=[EOT])
    text = fixture_text("german.txt") + EOT + fixture_text("emoji.txt")
    ids = tok.encode(text)
    check("ids", ids, hint="vocab.json maps decimal ids to hex bytes; merges.txt has two hex strings a line")
    assert ids == tokenizer.encode(text), "the tokenizer read from files must equal the one built in memory"
    assert tok.decode(ids) == text


@pytest.mark.a1_tokenizer
def test_tokenizer_decode_unknown_id_raises(tokenizer, fixture_vocab, check):
    exc = check.raises("unknown_id", KeyError, tokenizer.decode, [104, 105, max(fixture_vocab) + 7])
    assert isinstance(exc, KeyError), "decoding an id that is not in the vocabulary must raise KeyError"


@pytest.mark.a1_tokenizer
def test_tokenizer_decode_partial_utf8(tokenizer, check):
    snowman = "☃".encode()  # 3 bytes; ids 0-255 are the single bytes
    text = tokenizer.decode([104, 105, snowman[0], snowman[1]])
    check("decoded", text, hint='decode the joined bytes with .decode("utf-8", errors="replace")')
    assert text == "hi\ufffd", 'an incomplete UTF-8 sequence decodes to U+FFFD; use errors="replace"'
