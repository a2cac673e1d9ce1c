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

import pathlib
import shutil
import tomllib
from dataclasses import dataclass


@dataclass
class Mutant:
    name: str
    description: str
    edits: list[dict]


def load_all(mutants_dir: pathlib.Path) -> list[Mutant]:
    out = []
    for path in sorted(pathlib.Path(mutants_dir).glob("*.toml")):
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        out.append(Mutant(path.stem, raw.get("description", ""), raw.get("edit", [])))
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
