"""Maintainer tests of the project-made corpus generator (`assignment1_basics/tests/corpus.py`).

Run by `make check`; not graded. They pin the properties the tokenizer tests and benchmarks rely on:
determinism, size, document separation, script coverage, and that streaming to disk gives the same bytes.
Left out: exact text (snapshots of the graded tests already pin it through the expected merges and ids).
"""

import hashlib
import pathlib
import re
import subprocess
import sys

import pytest

from assignment1_basics.tests.corpus import ALL_LANGUAGES, generate, parse_size, write_corpus

pytestmark = pytest.mark.grader
SPECIAL = "<|endoftext|>"
ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_corpus_same_arguments_same_text():
    a, b = generate(200_000, seed=3), generate(200_000, seed=3)
    assert a == b
    assert generate(200_000, seed=4) != a, "a different seed must give a different corpus"


def test_corpus_digest_is_stable_across_processes():
    # A fresh interpreter with a different hash seed must produce the same bytes (no hash() or set order).
    code = ("import hashlib; from assignment1_basics.tests.corpus import generate; "
            "print(hashlib.sha256(generate(100_000, 7).encode()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}, cwd=ROOT).stdout.strip()
    assert out == hashlib.sha256(generate(100_000, 7).encode()).hexdigest()


@pytest.mark.parametrize("n", [0, 1, 17, 1000, 130_000, 1_234_567])
def test_corpus_size_within_a_few_bytes(n):
    size = len(generate(n).encode("utf-8"))
    assert n - len(SPECIAL) - 3 <= size <= n


def test_corpus_is_prefix_of_longer_corpus():
    assert generate(300_000, 1).startswith(generate(100_000, 1))


def test_corpus_documents_separated_by_special_token():
    text = generate(500_000, 0)
    docs = text.split(SPECIAL)
    assert len(docs) > 50
    assert all(d.strip() for d in docs[:-1]), "no empty documents"
    assert "<|endoftext" not in text.replace(SPECIAL, ""), "no partial special token anywhere"


def test_corpus_custom_and_empty_special_token():
    assert "<|doc|>" in generate(50_000, special_token="<|doc|>")
    assert SPECIAL not in generate(50_000, special_token="<|doc|>")
    assert SPECIAL not in generate(50_000, special_token="")


def test_corpus_covers_scripts_emoji_code_markdown():
    text = generate(2_000_000, 0)
    probes = {"Cyrillic": "\u0400-\u04ff", "Greek": "\u0370-\u03ff", "CJK": "\u4e00-\u9fff",
              "Kana": "\u3040-\u30ff", "Arabic": "\u0600-\u06ff", "Devanagari": "\u0900-\u097f",
              "emoji": "\U0001f300-\U0001faff", "Latin accents": "äöüéèñ"}
    for name, chars in probes.items():
        assert re.search(f"[{chars}]", text), f"no {name} text"
    for marker in ("```", "def ", "| name |", "](https://", "# ", "%", "$"):
        assert marker in text, f"missing {marker!r}"
    assert len(text.encode("utf-8")) > 1.2 * len(text), "expected plenty of multi-byte characters"


def test_corpus_english_only_is_ascii_prose():
    text = generate(130_000, 0, languages=("en",))
    assert text.isascii()
    assert " the " in text and SPECIAL in text and "```" not in text


def test_corpus_language_order_does_not_matter_and_unknown_rejected():
    assert generate(20_000, languages=("de", "en")) == generate(20_000, languages=("en", "de"))
    with pytest.raises(ValueError):
        generate(1000, languages=("xx",))
    with pytest.raises(ValueError):
        generate(1000, languages=("emoji",))


def test_corpus_write_equals_generate(tmp_path):
    path = tmp_path / "c.txt"
    n = write_corpus(path, 3_000_000, seed=2, languages=("en", "ru", "code"))
    data = path.read_bytes()
    assert len(data) == n
    assert data == generate(3_000_000, 2, languages=("en", "ru", "code")).encode("utf-8")


def test_corpus_cli_writes_file(tmp_path):
    out = tmp_path / "cli.txt"
    subprocess.run([sys.executable, "-m", "assignment1_basics.tests.corpus", str(out), "--size", "50KB",
                    "--seed", "5"], check=True, capture_output=True, cwd=ROOT)
    assert out.read_text(encoding="utf-8") == generate(50_000, 5)


def test_parse_size_units():
    assert parse_size("130KB") == 130_000 and parse_size("100MB") == 10**8 and parse_size("1GiB") == 2**30
    assert parse_size("5000") == 5000 and set(ALL_LANGUAGES) >= {"en", "zh", "code", "markdown"}
