"""`grader release`: the student repository, made from this one (DESIGN.md §2; grading.md §3.1).

What ships: every file git would commit (tracked files plus untracked ones that `.gitignore` does
not exclude, read from the working tree), except

- `grader/private/`: reference solutions, hidden tests, hidden snapshots, mutants, hidden rubric;
- `benchmarks/`: maintainer tools that time the reference (they import it through
  `benchmarks/_reference.py` and cannot run without it);
- `grader/bundle.py` and `grader/release.py`: the commands that package private material (the
  Gradescope bundle, this release); the CLI registers them only where the files exist.

Maintainer tests that need the reference or hidden material live in `grader/private/tests/`, so
they leave with it; `grader/tests/` ships and passes without it.

The rule `grader release` enforces before it writes anything (it writes nothing when it fails):

1. No released Python file imports `grader.private` or a left-out package (`benchmarks`).
2. No released file names the private folder *in code*. In Python that means a string
   constant (docstrings excluded) that is `"private"` or has `private` as a path or module
   component (`grader/private/...`, `grader.private`); in other text files, a non-comment line
   holding `grader/private` or `grader.private`. Comments, docstrings and Markdown may describe
   the folder: saying it is not shipped reveals nothing.
3. The only exceptions are the places in `ALLOWED`, each with the number of mentions it may
   hold and why: the grader locating private material when present (DESIGN.md §2 allows it; the
   callers check that it exists, which `make test` in the release exercises), and test data that
   names the path to prove it is refused. A new mention anywhere else, or one more in an allowed
   file, fails the release until someone adds it here with a reason.
4. Nothing private leaks by content: no released file is byte-identical to a private file (the
   reference's `adapters.py` and the given files `__init__.py`, `config.py`, `generate.py` are public twins by design), no hidden test
   function name and no hidden rubric item id appears in any released text file.

Left out: git history (the release is a folder; push it as a fresh repository), rewriting of
files, and the maintainer commands' behaviour without private material (`grader verify`,
`snapshots` and `samples` need the reference and fail when run in the release).
"""

import ast
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
EXCLUDED = ("grader/private/", "benchmarks/", "grader/bundle.py", "grader/release.py")
EXCLUDED_PACKAGES = ("grader.private", "benchmarks")
ALLOWED = {  # path -> (mentions at most, why)
    "grader/pipeline.py": (1, "paths(): the grader's locator of private material, used when present"),
    "grader/rubric.py": (1, "private_path(): hidden rubric items, loaded when the file is present"),
    "grader/sandbox.py": (4, "level 2 checks the folder is root-only when present; warnings name it"),
    "grader/samples.py": (1, "sample attack: a zip symlink aimed at the reference, refused at unpacking"),
    "grader/tests/test_sandbox.py": (1, "lays out hidden tests when present; proves none reach the sandbox"),
    "grader/tests/test_submission.py": (1, "a zip member under a private path: the shallowest package wins"),
    "Makefile": (2, "`make check` (maintainers) runs grader/private/tests when present"),
}
PUBLIC_TWINS = ("adapters.py", "__init__.py", "config.py", "generate.py")   # reference files identical to the stubs by design
_PART = re.compile(r"(^|[/\\.])private([/\\.]|$)")
_LINE = re.compile(r"grader[/.]private")
_TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".json", ".cfg", ".ini", ".sh", ".yml", ".yaml", ""}


# --------------------------------------------------------------------------- file lists

def repo_files(repo: pathlib.Path = REPO) -> list[str]:
    """Files git would commit (posix paths relative to `repo`), or a plain walk without git."""
    repo = pathlib.Path(repo)
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=repo, capture_output=True, check=True).stdout.decode()
        names = sorted({n for n in out.split("\0") if n})
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "out", "__pycache__", ".pytest_cache"}
        names = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*")
                       if p.is_file() and not skip & set(p.relative_to(repo).parts))
    return [n for n in names if (repo / n).is_file() and not (repo / n).is_symlink()
            and "__pycache__" not in n.split("/") and not n.endswith(".pyc")]


def released_files(repo: pathlib.Path = REPO) -> list[str]:
    return [n for n in repo_files(repo) if not n.startswith(EXCLUDED)]


# --------------------------------------------------------------------------- the rule

def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _python_mentions(text: str, name: str) -> tuple[list[str], list[str]]:
    """(forbidden imports, code mentions of the private folder) in one Python file."""
    try:
        tree = ast.parse(text, filename=name)
    except SyntaxError as exc:
        return [], [f"{name}: cannot be parsed ({exc.msg}, line {exc.lineno}); it cannot be checked"]
    docs = _docstring_nodes(tree)
    imports, mentions = [], []
    for node in ast.walk(tree):
        mods = []
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        bad = [m for m in mods if any(m == p or m.startswith(p + ".") for p in EXCLUDED_PACKAGES)]
        if bad:
            imports.append(f"{name}:{node.lineno}: imports {bad[0]}, which is not released")
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                and (node.value == "private" or _PART.search(node.value))):
            mentions.append(f"{name}:{node.lineno}: names the private folder: {node.value[:80]!r}")
    return imports, mentions


def _text_mentions(text: str, name: str) -> list[str]:
    if name.endswith(".md"):
        return []
    return [f"{name}:{i}: names the private folder: {line.strip()[:80]!r}"
            for i, line in enumerate(text.splitlines(), 1)
            if _LINE.search(line) and not line.lstrip().startswith("#")]


def _read_text(path: pathlib.Path) -> str | None:
    if path.suffix not in _TEXT_SUFFIXES and path.name != "Makefile":
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def _private_secrets(repo: pathlib.Path) -> tuple[dict[bytes, str], set[str]]:
    """Contents of private files (public twins and tiny files left out) and hidden names."""
    contents, names = {}, set()
    private = [n for n in repo_files(repo) if n.startswith("grader/private/")]
    public_tests = set()
    for n in repo_files(repo):
        if re.match(r"[^/]+/tests/.*\.py$", n) and not n.startswith(EXCLUDED):
            public_tests |= set(re.findall(r"def (test_\w+)", (repo / n).read_text(encoding="utf-8")))
    for n in private:
        data = (repo / n).read_bytes()
        if len(data) >= 64 and not (n.startswith("grader/private/reference/") and n.endswith(PUBLIC_TWINS)):
            contents[data] = n
        if n.startswith("grader/private/hidden/") and n.endswith(".py"):
            names |= set(re.findall(r"def (test_\w+)", data.decode("utf-8"))) - public_tests
        if n.startswith("grader/private/rubrics/") and n.endswith(".toml"):
            names |= set(re.findall(r'^id\s*=\s*"([^"]+)"', data.decode("utf-8"), re.M))
    return contents, names


def check(repo: pathlib.Path = REPO, files: list[str] | None = None) -> list[str]:
    """Problems that stop the release (the rule of the module docstring); [] when it may ship."""
    repo = pathlib.Path(repo)
    files = released_files(repo) if files is None else files
    secrets, hidden_names = _private_secrets(repo)
    problems, counts = [], {}
    for n in files:
        path = repo / n
        if n.startswith(EXCLUDED):
            problems.append(f"{n}: lies in a folder that is never released")
            continue
        if path.read_bytes() in secrets:
            problems.append(f"{n}: identical to {secrets[path.read_bytes()]}")
        text = _read_text(path)
        if text is None:
            continue
        if n.endswith(".py"):
            imports, mentions = _python_mentions(text, n)
            problems += imports
        else:
            mentions = _text_mentions(text, n)
        counts[n] = mentions
        leaked = sorted(h for h in hidden_names if re.search(rf"\b{re.escape(h)}\b", text))
        if leaked:
            problems.append(f"{n}: names hidden tests or items: {', '.join(leaked[:5])}")
    for n, mentions in counts.items():
        allowed = ALLOWED.get(n, (0, ""))[0]
        if len(mentions) > allowed:
            why = "" if allowed == 0 else f" (allowed: {allowed}, for: {ALLOWED[n][1]})"
            problems += [m + why for m in mentions]
    return problems


# --------------------------------------------------------------------------- building it

def build(out: pathlib.Path, repo: pathlib.Path = REPO) -> tuple[list[str], list[str]]:
    """Write the release into `out` (must not exist or be empty). Returns (files, problems);
    when there are problems nothing is written."""
    out, repo = pathlib.Path(out), pathlib.Path(repo)
    files = released_files(repo)
    problems = check(repo, files)
    if problems:
        return files, problems
    if out.exists() and any(out.iterdir()):
        return files, [f"{out} exists and is not empty; pass --force to replace it"]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".release-", dir=out.parent))
    for n in files:
        (staging / n).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / n, staging / n)
    if out.exists():
        out.rmdir()
    staging.rename(out)
    return files, []


def cmd_release(args) -> int:
    out = pathlib.Path(args.out)
    if args.force and out.exists():
        shutil.rmtree(out)
    files, problems = build(out)
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    if problems:
        print(f"release: refused ({len(problems)} problem(s)); nothing written", file=sys.stderr)
        return 1
    print(f"release: {len(files)} files in {out} (left out: {', '.join(EXCLUDED)})")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("release", help="the student repository: everything but grader/private/")
    p.add_argument("-o", "--out", default="out/release")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(fn=cmd_release)
