"""Tests of `grader.samples`: every bad sample is written, and unpacking sees in it what it should.

Grading the samples is tested with the pipeline; here only `unpack` runs on them, plus one
pytest run showing that the `fake_pass` sample really turns a failing test into a pass (so
that the grader's defence against it is tested against a working attack).
"""

import pathlib
import subprocess
import sys
import zipfile

import pytest

from grader.samples import SAMPLES, bad_submissions
from grader.submission import unpack

pytestmark = pytest.mark.grader

A = "assignment1_basics"
REPO = pathlib.Path(__file__).resolve().parents[2]
STUBS = {
    "__init__.py": '"""Stub package."""\n',
    "adapters.py": "def run_train_bpe(input_path, vocab_size, special_tokens, num_processes=1):\n"
                   "    from assignment1_basics.bpe import train_bpe\n"
                   "    return train_bpe(input_path, vocab_size, special_tokens)\n",
    "bpe.py": "def train_bpe(input_path, vocab_size, special_tokens):\n    raise NotImplementedError\n",
    "tokenizer.py": "class Tokenizer:\n    pass\n",
    "tests/__init__.py": "",
    "tests/conftest.py": "",
}
MODULES = ["__init__.py", "adapters.py", "bpe.py", "tokenizer.py"]


@pytest.fixture
def starter(tmp_path) -> pathlib.Path:
    """A stand-in for the repository's stub package (the tests do not depend on its progress)."""
    for name, text in STUBS.items():
        (tmp_path / "starter" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "starter" / name).write_text(text)
    return tmp_path / "starter"


def expect(name: str, r, modules: list[str]) -> None:
    """What `unpack` must report for each sample."""
    if name == "corrupt_zip":
        assert r.package_dir is None and r.problems[0].startswith("not a valid zip file: ")
    elif name == "no_package":
        assert r.package_dir is None and r.problems[0].startswith(f"no {A} package found")
    elif name == "path_escape":
        assert r.accepted == modules
        assert sum("unsafe path" in p for p in r.problems) == 3, r.problems
    elif name == "symlink":
        assert r.accepted == [m for m in modules if m != "bpe.py"]
        assert dict(r.refused)[f"{A}/bpe.py"] == dict(r.refused)[f"{A}/passwd.py"] == "symbolic link"
    elif name == "syntax_error":
        assert r.accepted == modules
        assert len(r.problems) == 1 and r.problems[0].startswith("tokenizer.py line "), r.problems
    else:
        assert r.accepted == modules and r.problems == [], r.problems


def test_samples_all_written_and_unpacked(tmp_path, starter):
    paths = bad_submissions(tmp_path / "samples", starter)
    assert set(paths) == set(SAMPLES)
    for name, path in paths.items():
        assert path.is_file() and path.parent == tmp_path / "samples"
        expect(name, unpack(path, A, tmp_path / "out" / name), MODULES)


def test_samples_are_deterministic(tmp_path, starter):
    first = bad_submissions(tmp_path / "a", starter)
    second = bad_submissions(tmp_path / "b", starter)
    assert all(first[n].read_bytes() == second[n].read_bytes() for n in SAMPLES)


def test_samples_leave_course_tests_out(tmp_path, starter):
    path = bad_submissions(tmp_path / "s", starter)["import_raises"]
    names = zipfile.ZipFile(path).namelist()
    assert sorted(names) == [f"{A}/{m}" for m in MODULES]


def test_samples_fake_pass_fools_plain_pytest(tmp_path, starter):
    r = unpack(bad_submissions(tmp_path / "s", starter)["fake_pass"], A, tmp_path / "run")
    (tmp_path / "run" / "test_victim.py").write_text(
        "def test_victim():\n    from assignment1_basics import adapters\n    assert False, 'must fail'\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_victim.py"],
                         cwd=r.package_dir.parent, capture_output=True, text=True, timeout=60)
    assert "1 passed" in run.stdout, run.stdout + run.stderr


def test_samples_from_the_real_starter(tmp_path):
    starter = REPO / A
    modules = sorted(p.relative_to(starter).as_posix() for p in starter.rglob("*.py")
                     if not {"tests", "__pycache__"} & set(p.relative_to(starter).parts))
    for name, path in bad_submissions(tmp_path / "samples", starter).items():
        expect(name, unpack(path, A, tmp_path / "out" / name), modules)
