"""Mutants: seeded bugs, each a typical student mistake applied to a copy of the reference.

A mutant is `grader/private/mutants/<assignment>/<name>.toml`:

    description = "Ties broken by the smaller pair instead of the greater."
    [[edit]]
    file = "bpe.py"
    find = '''exact text of the reference'''
    replace = '''the buggy text'''

Optional keys: `perf = true` (also grade the performance items) and `tests = ["test_tokenizer*"]`
(the test modules that grade it; by default `test_<stem>*` of each edited file, see grader.verify).
Each `find` must occur exactly once in its file, so a mutant that no longer applies (the
reference changed) is reported rather than silently testing the reference. `make check`
grades every mutant and requires it to lose points.
"""

import fnmatch
import pathlib
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Mutant:
    name: str
    description: str
    edits: list[dict]
    tests: list[str] = field(default_factory=list)   # test-module globs that grade it (default: see modules)
    perf: bool = False                                  # also grade the performance items

    def modules(self) -> Callable[[str], bool] | None:
        """Which test modules grade this mutant: its `tests` globs, else `test_<stem>*` of each edited file.

        None (every module) when it edits adapters.py or __init__.py, which every test goes through. Points
        lost on a subset of modules are lost in the full grade: items are sums over their cases.
        """
        files = [pathlib.PurePosixPath(e["file"]) for e in self.edits]
        if any(f.name in ("adapters.py", "__init__.py") for f in files):
            return None
        globs = self.tests or [f"test_{f.stem}*" for f in files]
        return lambda module: any(fnmatch.fnmatchcase(pathlib.PurePosixPath(module).name, g) for g in globs)


def load_all(mutants_dir: pathlib.Path) -> list[Mutant]:
    out = []
    for path in sorted(pathlib.Path(mutants_dir).glob("*.toml")):
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        out.append(Mutant(path.stem, raw.get("description", ""), raw.get("edit", []), list(raw.get("tests", [])),
                          bool(raw.get("perf", False))))
    return out


def apply(mutant: Mutant, reference_dir: pathlib.Path, dest: pathlib.Path) -> pathlib.Path:
    """Copy the reference package to `dest` and apply the mutant's edits. Raises ValueError."""
    shutil.copytree(reference_dir, dest, ignore=shutil.ignore_patterns("__pycache__"))
    if not mutant.edits:
        raise ValueError(f"mutant {mutant.name} has no edits")
    for edit in mutant.edits:
        path = dest / edit["file"]
        text = path.read_text(encoding="utf-8")
        n = text.count(edit["find"])
        if n != 1:
            raise ValueError(f"mutant {mutant.name}: the text to replace occurs {n} times in {edit['file']}")
        path.write_text(text.replace(edit["find"], edit["replace"]), encoding="utf-8")
    return dest
