"""Import the instructor reference of assignment 1 as the package `assignment1_basics`.

Benchmarks and the maintainer tests (grader/tests/conftest.py, fixture `reference_pkg`) time or compare the
reference, never the working copy's stubs. This module lays out a temporary folder in which
`assignment1_basics/` holds `grader/private/reference/assignment1_basics/*.py` plus the course's `tests/`
folder (for the corpus generator), and imports it from there.

Two ways to use it:
- `activate()`: for a benchmark process. The folder goes first on `sys.path` and stays there, so
  multiprocessing workers (spawn or forkserver) import the reference too.
- `isolated()`: a context manager for a shared process such as pytest. It imports the modules, then puts
  `sys.path` and `sys.modules` back as they were, so later imports of `assignment1_basics` get the working
  copy again. The returned module objects stay usable as long as they make no lazy absolute imports of
  `assignment1_basics` at call time (use `bpe` and `tokenizer` directly, not `adapters`).

Left out: the hidden tests and snapshots (not needed to time or compare). Needs `grader/private/`: it does not
exist in the student release, where this module raises FileNotFoundError with a clear message.
"""

import atexit
import contextlib
import importlib
import pathlib
import shutil
import sys
import tempfile
import types

REPO = pathlib.Path(__file__).resolve().parents[1]
REFERENCE = REPO / "grader" / "private" / "reference" / "assignment1_basics"
COURSE_TESTS = REPO / "assignment1_basics" / "tests"
PACKAGE = "assignment1_basics"
MODULES = ("bpe", "tokenizer", "adapters", "tests.corpus")


def build_tree(dest: pathlib.Path | None = None) -> pathlib.Path:
    """Copy the reference package and the course tests into `dest` (a new temporary folder by default)."""
    if not REFERENCE.is_dir() or not any(REFERENCE.glob("*.py")):
        raise FileNotFoundError(f"no reference package at {REFERENCE} (grader/private/ is not released)")
    if dest is None:
        dest = pathlib.Path(tempfile.mkdtemp(prefix="a1_reference_"))
        atexit.register(shutil.rmtree, dest, ignore_errors=True)
    pkg = dest / PACKAGE
    pkg.mkdir(parents=True, exist_ok=True)
    for src in sorted(REFERENCE.glob("*.py")):
        shutil.copyfile(src, pkg / src.name)
    shutil.copytree(COURSE_TESTS, pkg / "tests", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "_snapshots", "hidden"))
    (pkg / "tests" / "__init__.py").touch()
    return dest


def _drop_package_modules() -> dict[str, types.ModuleType]:
    dropped = {name: mod for name, mod in sys.modules.items()
               if name == PACKAGE or name.startswith(PACKAGE + ".")}
    for name in dropped:
        del sys.modules[name]
    return dropped


def _import_all(root: pathlib.Path, modules: tuple[str, ...]) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(root=root)
    for name in modules:
        mod = importlib.import_module(f"{PACKAGE}.{name}")
        origin = pathlib.Path(mod.__file__).resolve()
        if root.resolve() not in origin.parents:
            raise ImportError(f"{PACKAGE}.{name} was imported from {origin}, not from the reference copy")
        setattr(ns, name.rsplit(".", 1)[-1], mod)
    return ns


def activate(modules: tuple[str, ...] = MODULES) -> types.SimpleNamespace:
    """Make the reference *the* `assignment1_basics` of this process; return its modules (bpe, tokenizer…)."""
    root = build_tree()
    sys.path.insert(0, str(root))
    _drop_package_modules()
    importlib.invalidate_caches()
    return _import_all(root, modules)


@contextlib.contextmanager
def isolated(dest: pathlib.Path | None = None, modules: tuple[str, ...] = MODULES):
    """Yield the reference modules; `sys.path` and `sys.modules` are restored before the yield."""
    root = build_tree(dest)
    saved_path, saved = list(sys.path), _drop_package_modules()
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        ns = _import_all(root, modules)
    finally:
        sys.path[:] = saved_path
        _drop_package_modules()
        sys.modules.update(saved)
        importlib.invalidate_caches()
    yield ns


# --- an independent encoder built from the reference's vocabulary -------------------------------------------

GPT2_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def tiktoken_encoding(vocab: dict[int, bytes], special_tokens: list[str] | None = None,
                      name: str = "a1_reference"):
    """A `tiktoken.Encoding` with mergeable_ranks = {token bytes: id} (lowest id wins for repeated bytes).

    Ids follow merge creation order, so lowest rank = earliest merge, which makes tiktoken's rank-merge equal
    to applying the merges in order (spec §2.2). Special tokens keep their vocabulary ids and are left out of
    the ranks.
    """
    import tiktoken

    ids_of = {}
    for i in sorted(vocab, reverse=True):  # lowest id wins
        ids_of[vocab[i]] = i
    specials = {s: ids_of[s.encode("utf-8")] for s in special_tokens or []}
    special_ids = set(specials.values())
    ranks: dict[bytes, int] = {}
    for i in sorted(vocab):
        if i not in special_ids:
            ranks.setdefault(vocab[i], i)
    return tiktoken.Encoding(name=name, pat_str=GPT2_PAT, mergeable_ranks=ranks, special_tokens=specials)
