"""Sample bad submissions for `make grade` and `make check`: each one is a way a submission can go wrong.

Every sample is a zip built from the starter package (the stub modules of `assignment1_basics/`,
its `tests/` left out) with one edit, so that the rest of the package behaves exactly like the
stubs: every graded test fails with `NotImplementedError`, except where the edit changes that.
What the grader must conclude for each is in `SAMPLES`; unpacking is tested in
`grader/tests/test_samples.py`, grading them by the pipeline's own tests (grading.md §3.1, §3.2).

Left out: good submissions (the reference and the mutants serve there) and attacks that need
more than one package file changed.
"""

import io
import pathlib
import stat
import zipfile

A = "assignment1_basics"
STAMP = (2024, 1, 1, 0, 0, 0)  # fixed member dates, so the same starter gives byte-identical zips

SAMPLES = {  # name -> what it is and what grading must conclude
    "corrupt_zip": "a truncated zip: unusable, 'not a valid zip file', score 0",
    "no_package": "a write-up and an empty assignment1_basics/ folder: 'no package found', score 0",
    "path_escape": "stubs plus members escaping the folder: those refused, the stubs graded (0)",
    "symlink": "bpe.py replaced by a link to the reference, plus a link to /etc/passwd: links refused",
    "syntax_error": "a syntax error in tokenizer.py: reported at unpack, BPE tests still run",
    "import_raises": "bpe.py raises at import: its tests fail with that error, the tokenizer's still run",
    "import_exit": "bpe.py calls os._exit(0) at import: its cases crash, the tokenizer's still run",
    "train_bpe_loops": "train_bpe never returns: killed at the per-case timeout, later cases still run",
    "train_bpe_floods_stdout": "train_bpe prints 100 MB then raises: capture capped, cases fail",
    "fake_pass": "adapters.py patches pytest so every report says passed: no observations, score 0",
}

LOOPS = '''

def train_bpe(*args, **kwargs):  # sample bad submission: never returns
    while True:
        pass
'''

FLOODS = '''

def train_bpe(*args, **kwargs):  # sample bad submission: 100 MB of output, then the stub's error
    import sys

    block = "x" * ((1 << 20) - 1) + "\\n"
    for _ in range(100):
        sys.stdout.write(block)
    sys.stdout.flush()
    raise NotImplementedError("a1 train_bpe")
'''

FAKE_PASS = '''"""Sample bad submission: turn every pytest report into a pass, as in grading.md §3.1."""

try:
    import _pytest.reports as _reports

    _make = _reports.TestReport.from_item_and_call.__func__

    def _always_passed(cls, item, call):
        report = _make(cls, item, call)
        report.outcome, report.longrepr = "passed", None
        return report

    _reports.TestReport.from_item_and_call = classmethod(_always_passed)
except Exception:  # not under pytest: nothing to patch
    pass
'''


def _starter_files(starter_dir: pathlib.Path) -> dict[str, bytes]:
    """The student-owned modules of the starter: every .py outside tests/ and __pycache__."""
    files = {}
    for path in sorted(starter_dir.rglob("*.py")):
        rel = path.relative_to(starter_dir)
        if not {"tests", "__pycache__"} & set(rel.parts):
            files[rel.as_posix()] = path.read_bytes()
    missing = {"__init__.py", "adapters.py", "bpe.py", "tokenizer.py"} - set(files)
    if missing:
        raise FileNotFoundError(f"starter package {starter_dir} lacks {', '.join(sorted(missing))}")
    return files


def _zip(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A deterministic zip of regular members (mode 0644) and symlink members (name -> target)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, STAMP)
            info.external_attr, info.compress_type = (stat.S_IFREG | 0o644) << 16, zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[name])
        for name, target in sorted((links or {}).items()):
            info = zipfile.ZipInfo(name, STAMP)
            info.create_system, info.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buffer.getvalue()


def _package(files: dict[str, bytes], prefix: str = f"{A}/", **edits: bytes) -> dict[str, bytes]:
    return {prefix + rel: content for rel, content in (files | edits).items()}


def bad_submissions(out_dir, starter_dir) -> dict[str, pathlib.Path]:
    """Write every sample of `SAMPLES` as `out_dir/<name>.zip`; returns name -> path."""
    out_dir, starter = pathlib.Path(out_dir), _starter_files(pathlib.Path(starter_dir))
    bpe = starter["bpe.py"]
    good = _zip(_package(starter))
    zips = {
        "corrupt_zip": good[: len(good) // 2],  # the central directory is cut off
        "no_package": _zip({"writeup.md": b"# Assignment 1\n", f"{A}/README.md": b"code is on my laptop\n"}),
        "path_escape": _zip(_package(starter) | {
            "../evil.py": b"import os\n", f"{A}/../../../tmp/evil.py": b"import os\n",
            "/etc/cron.d/evil.py": b"import os\n"}),
        "symlink": _zip(
            {k: v for k, v in _package(starter).items() if k != f"{A}/bpe.py"},
            links={f"{A}/bpe.py": f"../../grader/private/reference/{A}/bpe.py", f"{A}/passwd.py": "/etc/passwd"}),
        "syntax_error": _zip(_package(starter, **{"tokenizer.py": starter["tokenizer.py"] + b"\ndef broken(:\n"})),
        "import_raises": _zip(_package(starter, **{"bpe.py": b'raise RuntimeError("sample: broken at import")\n'
                                                   + bpe})),
        "import_exit": _zip(_package(starter, **{"bpe.py": b"import os\n\nos._exit(0)\n" + bpe})),
        "train_bpe_loops": _zip(_package(starter, prefix=f"submission-main/{A}/",
                                         **{"bpe.py": bpe + LOOPS.encode()})),
        "train_bpe_floods_stdout": _zip(_package(starter, **{"bpe.py": bpe + FLOODS.encode()})),
        "fake_pass": _zip(_package(starter, **{"adapters.py": FAKE_PASS.encode() + starter["adapters.py"]})),
    }
    assert set(zips) == set(SAMPLES)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in zips.items():
        paths[name] = out_dir / f"{name}.zip"
        paths[name].write_bytes(data)
    return paths


def all_samples(assignment: str, out_dir) -> dict[str, pathlib.Path]:
    """Everything `make grade` grades: starter, reference, every mutant, and the bad samples.

    The bad samples are built from the *reference* (so grading shows that a broken part costs
    only its own tests), except `fake_pass`, built from the starter, so that any point it got
    would be unearned.
    """
    from grader import mutants, pipeline

    out_dir = pathlib.Path(out_dir)
    p = pipeline.paths(assignment)
    subs = {"starter": pipeline.REPO / assignment, "reference": p["reference"]}
    for m in mutants.load_all(p["mutants"]):
        dest = out_dir / "mutants" / m.name / assignment
        if dest.exists():
            import shutil
            shutil.rmtree(dest)
        subs[f"mutant:{m.name}"] = mutants.apply(m, p["reference"], dest)
    from_reference = bad_submissions(out_dir / "bad-from-reference", p["reference"])
    from_starter = bad_submissions(out_dir / "bad-from-starter", pipeline.REPO / assignment)
    for name, path in from_reference.items():
        subs[f"bad:{name}"] = from_starter[name] if name == "fake_pass" else path
    return subs
