"""Unpack an untrusted submission (a .zip or a folder) into a clean copy of one assignment package.

First step of a grading run (DESIGN.md §4; grading.md §3.1 and §3.2 "Unpacking"). What comes out
is `dest/<assignment>/` holding only the student-owned `.py` modules of the package, everything
else listed as refused with a reason, and a digest of what was accepted.

Rules, in order: find the package (a folder named like the assignment at most 3 levels deep, the
shallowest winning, else a folder holding `adapters.py`, else the submission root when `.py` files
sit there); keep regular `.py` files inside it; drop `tests/`, `__pycache__`, hidden entries and
files that configure Python or pytest (`conftest.py`, `*.pth`, `pytest.ini`, ...) or pose as
grader output (`results.json`). A zip is read member by member (never `extractall`), counting the
bytes actually decompressed; a folder is walked without following links, and each file is opened
with `O_NOFOLLOW` and checked to be the inode seen by the walk. Members that are never accepted are
never decompressed or read, so a bomb outside the package costs nothing.

Left out on purpose: nested archives other than one zip uploaded alone into a folder, Python
files whose names are not safe ASCII, and any import or execution of submitted code (a syntax
error is found with `ast.parse` only and reported; the file is still copied).
"""

import ast
import collections
import hashlib
import os
import pathlib
import re
import stat
import threading
import zipfile
import zlib
from dataclasses import dataclass, field

# A path component: ASCII letters, digits and a few punctuation marks, not starting with a dot.
SAFE_COMPONENT = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\- +()@,=~]{0,254}")
_PYTEST, _STARTUP = "pytest configuration; the course's own is used", "runs at Python start-up; not accepted"
NEVER_ACCEPTED = {  # name -> why, for files that could change how Python, pytest or the grader behave
    "conftest.py": _PYTEST, "pytest.ini": _PYTEST, "pyproject.toml": _PYTEST, "setup.cfg": _PYTEST,
    "tox.ini": _PYTEST, "sitecustomize.py": _STARTUP, "usercustomize.py": _STARTUP,
    "results.json": "grader output; only the grader writes it",
}
MAX_PACKAGE_DEPTH = 3  # folders above the package: `a/b/c/<assignment>/` is the deepest found


@dataclass
class Unpacked:
    package_dir: pathlib.Path | None  # dest/<assignment>/ holding accepted .py files, or None if unusable
    accepted: list[str] = field(default_factory=list)  # relative paths copied (inside the package)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path as found, reason)
    problems: list[str] = field(default_factory=list)  # fatal or notable problems, phrased for a student
    digest: str = ""  # "sha256:<hex>" over accepted files (sorted path + content)


class _Fatal(Exception):
    """The submission cannot be used at all; the message is shown to the student."""


class _TooLarge(Exception):
    """A member decompressed past the byte budget."""


@dataclass
class _Member:
    shown: str  # the path as found (made printable)
    parts: tuple[str, ...] | None  # safe components, or None when refused while listing
    why: str = ""  # reason for refusal found while listing
    read: object = None  # callable(limit: int) -> bytes, for regular files


# --- listing: zip and folder both become a list of members ----------------------------------------


def _show(name: str) -> str:
    return name if name.isprintable() and name.isascii() else ascii(name)[1:-1]


def _check_parts(name: str) -> tuple[tuple[str, ...] | None, str]:
    """Split a relative posix path into safe components, or say why it is refused."""
    if "\\" in name:
        return None, "unsafe path: backslash in the name"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return None, "unsafe path: absolute"
    parts = tuple(name.rstrip("/").split("/"))
    if ".." in parts:
        return None, "unsafe path: '..' escapes the folder"
    for part in parts:
        if part.startswith(".") and part != ".":
            return None, "hidden file or folder"
        if not SAFE_COMPONENT.fullmatch(part):
            return None, "unsafe path: empty component or characters outside A-Z a-z 0-9 _ - . and space"
    return parts, ""


def _stream(fileobj, limit: int, label: str) -> bytes:
    """Read at most `limit` bytes, counting what is really delivered (declared sizes are not trusted)."""
    chunks, total = [], 0
    while chunk := fileobj.read(min(1 << 16, limit + 1 - total)):
        total += len(chunk)
        chunks.append(chunk)
        if total > limit:
            raise _TooLarge(label)
    return b"".join(chunks)


def _list_zip(zf: zipfile.ZipFile, max_files: int) -> list[_Member]:
    infos = zf.infolist()
    if len(infos) > max_files:
        raise _Fatal(f"submission has too many files: more than {max_files}")
    counts = collections.Counter(info.orig_filename for info in infos)
    members = []
    for info in infos:
        shown = _show(info.orig_filename)
        mode = info.external_attr >> 16
        if (info.orig_filename.endswith("/") or stat.S_ISDIR(mode)) and not stat.S_ISLNK(mode):
            continue  # folder entries carry nothing; folders are implied by file paths
        parts, why = _check_parts(info.orig_filename)
        if "\0" in info.orig_filename or info.filename != info.orig_filename:
            parts, why = None, "unsafe path: NUL or separator tricks in the name"
        elif counts[info.orig_filename] > 1:
            parts, why = None, "duplicate name in the zip (every copy refused)"
        elif stat.S_ISLNK(mode):
            parts, why = None, "symbolic link"
        elif mode & ~0o7777 and not stat.S_ISREG(mode):
            parts, why = None, "not a regular file"
        elif info.flag_bits & 0x1:
            parts, why = None, "encrypted"

        def read(limit, info=info):
            with zf.open(info) as f:
                return _stream(f, limit, info.orig_filename)

        members.append(_Member(shown, parts, why, read))
    return members


def _list_folder(root: pathlib.Path, max_files: int) -> list[_Member]:
    members, stack, seen = [], [((), root)], 0
    while stack:
        parts, path = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            members.append(_Member("/".join(parts) + "/", None, f"cannot be read: {e.strerror}"))
            continue
        for entry in entries:
            seen += 1
            if seen > max_files:
                raise _Fatal(f"submission has too many files: more than {max_files}")
            sub = parts + (entry.name,)
            shown = "/".join(_show(p) for p in sub)
            ok, why = _check_parts("/".join(sub))
            if entry.is_symlink():
                ok, why = None, "symbolic link"
            elif ok and entry.is_dir(follow_symlinks=False):
                if entry.name == "__pycache__":
                    members.append(_Member(shown + "/", None, "compiled cache"))
                else:
                    stack.append((sub, pathlib.Path(entry.path)))
                continue
            elif ok and not entry.is_file(follow_symlinks=False):
                ok, why = None, "not a regular file"
            if ok is None:
                members.append(_Member(shown + ("/" if entry.is_dir(follow_symlinks=False) else ""), None, why))
                continue
            st = entry.stat(follow_symlinks=False)

            def read(limit, path=entry.path, st=st, label=shown):
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with os.fdopen(fd, "rb") as f:
                    now = os.fstat(fd)
                    if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                        raise _Fatal(f"{label} changed while the submission was read")
                    return _stream(f, limit, label)

            members.append(_Member(shown, sub, "", read))
    return members


# --- finding the package and sorting members --------------------------------------------------------


def _find_package(members: list[_Member], assignment: str) -> tuple[str, ...] | None:
    files: dict[tuple[str, ...], set[str]] = {}  # folder -> names of files directly inside
    for m in members:
        if m.parts is not None:
            files.setdefault(m.parts[:-1], set()).add(m.parts[-1])

    def has_py(folder):
        return any(n.endswith(".py") for n in files.get(folder, ()))

    named = [f for f in files if len(f) <= MAX_PACKAGE_DEPTH + 1 and f and f[-1] == assignment and has_py(f)]
    if named:  # prefer a folder holding adapters.py (a repo may itself be called like the package)
        return min(named, key=lambda f: ("adapters.py" not in files[f], len(f), f))
    holders = [f for f in files if len(f) <= MAX_PACKAGE_DEPTH and "adapters.py" in files[f]]
    if holders:
        return min(holders, key=lambda f: (len(f), f))
    return () if has_py(()) else None


def _verdict(rel: tuple[str, ...]) -> str:
    """Why a file inside the package is refused; "" when it is accepted."""
    name = rel[-1]
    if "__pycache__" in rel:
        return "compiled cache"
    if "tests" in rel[:-1]:
        return "course-owned tests folder; the course's tests are used"
    if name in NEVER_ACCEPTED:
        return NEVER_ACCEPTED[name]
    if name.endswith(".pth"):
        return "path configuration file; runs at Python start-up"
    if not name.endswith(".py"):
        return "not a Python module"
    return ""


# CPython 3.11's parser is not safe across threads (verify and batch unpack in a thread pool): ast.parse
# of deeply nested sources in two threads at once failed with "AST constructor recursion depth mismatch".
_PARSE_LOCK = threading.Lock()


def _syntax_note(rel: str, source: bytes) -> str | None:
    try:
        with _PARSE_LOCK:
            ast.parse(source, filename=rel)  # parses only: nothing submitted is imported or run
    except SyntaxError as e:
        return f"{rel} line {e.lineno}: SyntaxError: {e.msg}"
    except (ValueError, RecursionError, MemoryError) as e:
        return f"{rel}: cannot be parsed: {type(e).__name__}: {e}"
    return None


# --- the public entry point -------------------------------------------------------------------------


def unpack(src: str | os.PathLike, assignment: str, dest: str | os.PathLike, *,
           max_total_bytes: int = 20 << 20, max_files: int = 2000, max_file_bytes: int = 5 << 20) -> Unpacked:
    """Copy the student-owned modules of `assignment` from `src` into the fresh folder `dest`.

    Returns what was accepted and refused; never raises for a bad submission (only for a bad
    `src` or a non-empty `dest`, which are the caller's mistakes). Nothing is written outside
    `dest`, and nothing at all when the submission is unusable (`package_dir` None).
    """
    src, dest = pathlib.Path(src), pathlib.Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"unpack destination {dest} must not exist or be empty")
    if not src.exists():
        raise FileNotFoundError(src)
    result = Unpacked(package_dir=None)
    try:
        files = _collect(src, assignment, result, max_total_bytes, max_files, max_file_bytes)
    except _Fatal as e:
        result.problems.insert(0, str(e))
        result.accepted = []
        return result
    dest.mkdir(parents=True, exist_ok=True)
    package = dest / assignment
    package.mkdir()
    digest = hashlib.sha256()
    for rel in sorted(files):
        target = package.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(fd, 0o644)
            f.write(files[rel])
        digest.update(b"%s\0%d\0" % (rel.encode(), len(files[rel])) + files[rel])
    result.package_dir, result.accepted = package, sorted(files)
    result.digest = "sha256:" + digest.hexdigest()
    return result


def _collect(src, assignment, result, max_total_bytes, max_files, max_file_bytes) -> dict[str, bytes]:
    """List, locate, sort and read; returns accepted relative path -> content, or raises _Fatal."""
    if src.is_dir():
        members = _list_folder(src, max_files)
        zips = [m for m in members if m.parts and m.parts[-1].lower().endswith(".zip") and len(m.parts) == 1]
        if _find_package(members, assignment) is None and len(zips) == 1:
            return _collect(src / zips[0].parts[0], assignment, result,
                            max_total_bytes, max_files, max_file_bytes)  # an upload of one zip
        return _sort_and_read(members, assignment, result, max_total_bytes, max_file_bytes)
    try:
        with zipfile.ZipFile(src) as zf:
            return _sort_and_read(_list_zip(zf, max_files), assignment, result, max_total_bytes, max_file_bytes)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError, NotImplementedError,
            OSError) as e:
        raise _Fatal(f"not a valid zip file: {e}") from None


def _sort_and_read(members, assignment, result, max_total_bytes, max_file_bytes) -> dict[str, bytes]:
    root = _find_package(members, assignment)
    if root is None:
        result.refused = [(m.shown, m.why or "outside the package") for m in members]
        raise _Fatal(f"no {assignment} package found in the submission "
                     f"(expected a folder {assignment}/ with adapters.py)")
    files, budget, notes = {}, max_total_bytes, []
    for m in members:
        if m.parts is None:
            result.refused.append((m.shown, m.why))
            if m.why.startswith(("unsafe", "symbolic", "duplicate", "not a regular", "encrypted")):
                notes.append(f"refused {m.shown}: {m.why}")
            continue
        if m.parts[: len(root)] != root:
            result.refused.append((m.shown, f"outside the {assignment} package"))
            continue
        rel = m.parts[len(root):]
        why = _verdict(rel)
        if why:
            result.refused.append((m.shown, why))
            if rel[-1] in NEVER_ACCEPTED or rel[-1].endswith(".pth"):
                notes.append(f"ignored {m.shown}: {why}")
            continue
        try:
            content = m.read(min(max_file_bytes, budget))
        except _TooLarge:
            mb = (max_total_bytes if budget < max_file_bytes else max_file_bytes) / (1 << 20)
            raise _Fatal(f"submission too large: more than {mb:g} MB uncompressed") from None
        except OSError as e:
            result.refused.append((m.shown, f"cannot be read: {e.strerror}"))
            notes.append(f"refused {m.shown}: cannot be read ({e.strerror})")
            continue
        budget -= len(content)
        files["/".join(rel)] = content
        if note := _syntax_note("/".join(rel), content):
            notes.append(note)
    folders = {"/".join(rel.split("/")[:i]) for rel in files for i in range(1, rel.count("/") + 1)}
    cases = collections.Counter(rel.lower() for rel in files)
    clashes = {rel: "a folder has the same name" for rel in folders & set(files)}  # `x.py`, `x.py/y.py`
    clashes |= {rel: "another file differs only in case" for rel in files if cases[rel.lower()] > 1}
    for rel, why in sorted(clashes.items()):  # neither can be written faithfully on every file system
        result.refused.append(("/".join(root + (rel,)), why))
        notes.append(f"refused {rel}: {why}")
        del files[rel]
    if not files:
        raise _Fatal(f"no {assignment} package found in the submission "
                     f"(expected a folder {assignment}/ with adapters.py)")
    if "adapters.py" not in files:
        notes.append(f"{assignment}/adapters.py is missing: every test calls your code through it")
    result.problems.extend(notes)
    return files
