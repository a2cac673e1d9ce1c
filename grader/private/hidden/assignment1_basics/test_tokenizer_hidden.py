"""Hidden tests of the tokenizer (handout §2.5): new texts, random chunkings and partial UTF-8.

Copied at grading time to assignment1_basics/tests/hidden/, so the public conftest fixtures (`tokenizer`,
`fixture_vocab`, `fixture_merges`) apply. Expected ids come from grader/private/snapshots; the asserts are
properties any correct tokenizer has (streaming equals whole-text encoding, Python's own `errors="replace"`
decoding as the oracle for partial UTF-8). Left out: memory and throughput (rubric perf items).
"""

import functools
import random

import pytest

from assignment1_basics import adapters
from assignment1_basics.tests.conftest import EOT
from assignment1_basics.tests.corpus import generate

EOT_ID = 256

STREAM_TEXTS = [
    f"a\n\n\nb\n\n\n\n{EOT}\n\n\n{EOT}{EOT}   x  \n \n\t\n",
    "Grüße  aus   Köln!\n\n\n日本語のテキスト。🙂🙂 👨‍👩‍👧 end\r\n\r\n\r\n",
    f"def f(x):\n    return x  # {EOT} inside a comment\n\n\n\nclass A:\n\tpass{EOT}",
    f"{EOT}<|endoftext<|endoftext|>|>{EOT}<|endoftext",
]


@functools.lru_cache(maxsize=1)
def generated_text() -> str:
    """12 KB of generated multilingual text (one seed: building a seed's sentence pools is the slow part)."""
    return generate(12_000, seed=31)


def random_chunks(text: str, rng: random.Random) -> list[str]:
    """Cut `text` at random places (inside specials and whitespace runs too), sometimes into empty pieces."""
    cuts = sorted(rng.sample(range(len(text) + 1), rng.randrange(0, min(len(text), 40) + 1)))
    pieces, last = [], 0
    for c in cuts + [len(text)]:
        pieces.append(text[last:c])
        last = c
    return pieces


@pytest.mark.a1_tokenizer
def test_tokenizer_iterable_any_chunking(tokenizer, check):
    rng = random.Random(4242)
    texts = STREAM_TEXTS + [generated_text()[:1500], generated_text()[-1500:]]
    whole = [tokenizer.encode(t) for t in texts]
    check("ids", whole)
    for trial in range(500):
        k = trial % len(texts)
        chunks = random_chunks(texts[k], rng)
        streamed = list(tokenizer.encode_iterable(iter(chunks)))
        assert streamed == whole[k], (
            f"chunking {trial} of text {k} gives different ids from encode(); chunks: {chunks[:12]!r}... "
            "Hold back a suffix that may start a special token and the last pre-token of each chunk.")
    check("chunkings", 500)


@pytest.mark.a1_tokenizer
def test_tokenizer_iterable_is_lazy(tokenizer, check):
    pulled = []

    def lines():
        for i in range(5000):
            pulled.append(i)
            yield f"record {i}\n" if i % 7 else "\n\n\n"

    first_pull, count = None, 0
    for _ in tokenizer.encode_iterable(lines()):
        if first_pull is None:
            first_pull = len(pulled)
        count += 1
    check("count", count)
    assert first_pull is not None and first_pull <= 3, (
        f"the first id came out only after {first_pull} chunks were pulled: stream the input chunk by chunk")


PARTIAL_UTF8 = {
    "truncated_2_byte_end": "é".encode()[:1],
    "truncated_3_byte_middle": b"a" + "☃".encode()[:2] + b"b",
    "truncated_4_byte_end": "🙂".encode()[:3],
    "lone_continuation": b"x\x80y",
    "invalid_ff": b"\xff\xfe",
    "emoji_split_across_ids": "🙂".encode()[:2],
}


@pytest.mark.a1_tokenizer
@pytest.mark.parametrize("case", list(PARTIAL_UTF8))
def test_tokenizer_decode_partial_utf8(case, tokenizer, check):
    data = PARTIAL_UTF8[case]
    text = tokenizer.decode(list(data))  # ids 0-255 are the single bytes
    check("decoded", text)
    assert text == data.decode("utf-8", errors="replace"), 'decode with errors="replace": never raise'


@pytest.mark.a1_tokenizer
def test_tokenizer_decode_partial_utf8_merged_token(tokenizer, fixture_vocab, check):
    # A merged token may hold only part of a character (e.g. the first bytes of an emoji).
    partial = sorted(i for i, tok in fixture_vocab.items() if i > 256 and _is_partial(tok))[:5]
    assert partial, "the fixture vocabulary has merged tokens that are partial UTF-8 sequences"
    text = tokenizer.decode(partial)
    check("decoded", text)
    assert text == b"".join(fixture_vocab[i] for i in partial).decode("utf-8", errors="replace")


def _is_partial(tok: bytes) -> bool:
    try:
        tok.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@pytest.mark.a1_tokenizer
@pytest.mark.parametrize("part", [0, 1, 2])
def test_tokenizer_matches_reference_ids(part, tokenizer, check):
    text = generated_text()[part * 4000:(part + 1) * 4000]
    ids = tokenizer.encode(text)
    check("ids", ids)
    assert tokenizer.decode(ids) == text


ROUNDTRIP_TEXTS = {
    "long_whitespace_runs": " " * 17 + "\n" * 9 + "\t \t" + "x" + " " * 5,
    "combining_marks": "e\u0301 n\u0303 a\u0308\u0304",
    "lone_zwj_and_bom": "\u200d\ufeffa\u200d",
    "partial_special_text": "<|endoftext|<|endoftext|><|endoftext",
    "private_use_and_astral": "\ue000\U0010fffd𝔘𝔫𝔦",
}


@pytest.mark.a1_tokenizer
@pytest.mark.parametrize("case", list(ROUNDTRIP_TEXTS))
def test_tokenizer_roundtrip(case, tokenizer, check):
    text = ROUNDTRIP_TEXTS[case]
    ids = tokenizer.encode(text)
    check("ids", ids)
    assert tokenizer.decode(ids) == text


@pytest.mark.a1_tokenizer
def test_tokenizer_special_overlap_longest_first(fixture_vocab, fixture_merges, check):
    specials = ["<|a|>", "<|b|>", "<|a|><|b|>"]
    tok = adapters.get_tokenizer(fixture_vocab, fixture_merges, special_tokens=specials)
    ids = tok.encode("<|a|><|b|><|b|><|a|><|a|><|b|>")
    check("ids", ids)
    assert len(ids) == 4 and tok.decode(ids[:1]) == "<|a|><|b|>" and ids[0] == ids[3]


@pytest.mark.a1_tokenizer
def test_tokenizer_special_next_to_newlines(tokenizer, check):
    text = f"\r\n{EOT}\r\n\t{EOT}\t \n \n{EOT}"
    ids = tokenizer.encode(text)
    check("ids", ids)
    assert ids.count(EOT_ID) == 3 and tokenizer.decode(ids) == text


@pytest.mark.a1_tokenizer
def test_tokenizer_duplicate_bytes_lowest_id(fixture_vocab, fixture_merges, check):
    vocab = dict(fixture_vocab)
    top = max(vocab)
    vocab[top + 1] = b"t"          # a second id for a single byte
    word = next(tok for i, tok in sorted(vocab.items()) if i > 256 and len(tok) > 2 and tok.isalpha())
    vocab[top + 2] = word          # and for a merged token
    vocab[top + 3] = EOT.encode()  # and for the special token
    tok = adapters.get_tokenizer(vocab, fixture_merges, special_tokens=[EOT])
    text = f"t{EOT}{word.decode()}{EOT}t"
    ids = tok.encode(text)
    check("ids", ids)
    assert max(ids) <= top, "when two ids share the same bytes, encoding uses the lowest id"
