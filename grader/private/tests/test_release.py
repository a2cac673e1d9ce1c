"""`grader release`: the student repository leaks nothing private and still works (DESIGN.md §2,
grading.md §3.1 "hidden tests leaking").

Checks on the released tree, independent of the rule `grader.release` enforces: no private file
(by path or by content), no hidden test name, and every line that names a private path is
documentation (Markdown, a comment, a docstring) or sits in a file the rule allows. Then
`grader test` runs inside the release, with the release's own grader (PYTHONPATH; this test's
virtualenv, no new one), and every public test fails on the stubs with NotImplementedError; the
released grader tests pass there.
Finally the rule refuses a made-up repository that imports, names or copies private material.
"""

import ast
import os
import pathlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from grader import release, rubric

pytestmark = pytest.mark.grader
REPO = pathlib.Path(__file__).resolve().parents[3]
A = "assignment1_basics"
PRIVATE_PATH = re.compile(r"[/.'\"]private[/.'\"]")


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "repo"
    proc = subprocess.run([sys.executable, "-m", "grader", "release", "-o", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _files(root: pathlib.Path) -> dict[str, pathlib.Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def _doc_lines(text: str) -> set[int]:
    """Line numbers covered by docstrings of a Python file."""
    lines = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                lines |= set(range(first.lineno, first.end_lineno + 1))
    return lines


def test_release_has_no_private_file_or_name(released):
    files = _files(released)
    assert f"{A}/bpe.py" in files and f"{A}/tests/_snapshots/test_bpe.json" in files and "Makefile" in files
    assert not [n for n in files if n.startswith(("grader/private", "benchmarks")) or "mutants/" in n]
    private = [p for p in (REPO / "grader" / "private").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    twins = set(release.PUBLIC_TWINS)
    secret = {p.read_bytes(): p for p in private if p.stat().st_size >= 64
              and not ("reference" in p.parts and p.name in twins)}
    hidden_tests = set()
    for p in (REPO / "grader" / "private" / "hidden").rglob("*.py"):
        hidden_tests |= set(re.findall(r"def (test_\w+)", p.read_text()))
    for p in (REPO / A / "tests").glob("*.py"):
        hidden_tests -= set(re.findall(r"def (test_\w+)", p.read_text()))
    assert hidden_tests, "the hidden tests define their own test names"
    for name, path in files.items():
        data = path.read_bytes()
        assert data not in secret, f"{name} is a copy of {secret.get(data)}"
        text = data.decode("utf-8", errors="replace")
        assert not [h for h in hidden_tests if h in text], f"{name} names a hidden test"


def test_release_names_private_paths_only_in_documentation(released):
    code_mentions = {}
    for name, path in _files(released).items():
        if name.endswith((".md", ".json")) or path.suffix not in (".py", ".toml", ".sh", "") and name != "Makefile":
            continue
        text = path.read_text(encoding="utf-8")
        docs = _doc_lines(text) if name.endswith(".py") else set()
        for i, line in enumerate(text.splitlines(), 1):
            if PRIVATE_PATH.search(line) and i not in docs and not line.lstrip().startswith("#"):
                code_mentions.setdefault(name, []).append(line.strip())
    for name, lines in code_mentions.items():
        assert name in release.ALLOWED, f"{name} names a private path in code: {lines}"
        assert len(lines) <= release.ALLOWED[name][0], f"{name}: {lines}"


def test_release_make_test_fails_on_stubs_with_not_implemented(released, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(released)}
    env.pop("GRADER_MODE", None)
    where = subprocess.run([sys.executable, "-c", "import grader; print(grader.__file__)"], cwd=released,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert pathlib.Path(where).resolve().is_relative_to(released.resolve()), where
    junit = tmp_path / "junit.xml"
    proc = subprocess.run([sys.executable, "-m", "grader", "test", A, "--", f"--junitxml={junit}"],
                          cwd=released, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    public = sum(i.points for i in rubric.load(A, include_hidden=False).items)
    assert re.search(rf"public total\s*│\s*│\s*0/{public:g}\s", proc.stdout), proc.stdout
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert len(cases) >= 40
    for case in cases:
        verdicts = [c for c in case if c.tag in ("failure", "error")]
        assert verdicts, f"{case.get('name')} passed on the stubs"
        assert "NotImplementedError" in verdicts[0].get("message", ""), (case.get("name"), verdicts[0].attrib)


def test_release_grader_tests_pass_without_private(released):
    env = {**os.environ, "PYTHONPATH": str(released)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "grader/tests"],
                          cwd=released, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def _write(root: pathlib.Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_release_refuses_code_that_names_or_copies_private(tmp_path):
    hidden = "def test_secret_property(check):\n    check('x', 1)  # a hidden test, long enough to count\n"
    _write(tmp_path, {
        "grader/private/hidden/a/test_h.py": hidden,
        "grader/private/rubrics/a.toml": '[[item]]\nid = "hidden_secret_item"\n',
        "a/doc.py": '"""Hidden tests live in grader/private/hidden/ and are never shipped."""\n# grader/private\n',
        "README.md": "`grader/private/` is not released.\n",
        "a/imports.py": "from grader.private import hidden\n",
        "a/benchmarks_user.py": "import benchmarks._reference\n",
        "a/path.py": "import pathlib\nP = pathlib.Path('grader') / 'private' / 'hidden'\n",
        "a/copy.py": hidden,
        "a/names.py": "# see hidden_secret_item\n",
        "ci/check.sh": "pytest grader/private/tests\n",
    })
    problems = release.check(tmp_path)
    for culprit in ("a/imports.py", "a/benchmarks_user.py", "a/path.py", "a/copy.py", "a/names.py", "ci/check.sh"):
        assert any(p.startswith(culprit) for p in problems), (culprit, problems)
    assert not any(p.startswith(("a/doc.py", "README.md")) for p in problems), problems
    files, refused = release.build(tmp_path / "out", tmp_path)
    assert refused and not (tmp_path / "out").exists()
