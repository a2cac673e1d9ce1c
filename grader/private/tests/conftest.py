"""Fixtures shared by the maintainer tests in grader/private/tests (run by `make check`; not released).

`reference_pkg`: the instructor reference of assignment 1 imported from a temporary copy in which it is the
package `assignment1_basics` (helper: benchmarks/_reference.py, also used by the benchmarks). Returns a
namespace with the modules `bpe`, `tokenizer` and `corpus` (the course's tests/corpus.py). `sys.path` and
`sys.modules` are restored right after the import, so the rest of the session still sees the working copy (the
reference's adapters are left out: their lazy imports would find the working copy). Keep this fixture here
only: other grader tests use it instead of building their own copy.
"""

import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def reference_pkg(tmp_path_factory):
    from benchmarks import _reference

    modules = ("bpe", "tokenizer", "tests.corpus")
    with _reference.isolated(tmp_path_factory.mktemp("a1_reference"), modules) as ns:
        yield ns
