"""Tests of `grader.submission.unpack`: finding the package and refusing everything unsafe.

Every submission is built here in `tmp_path` (zips member by member, so that hostile names,
links and duplicates can be written); nothing is read from the repository.
"""

import os
import pathlib
import stat
import time
import warnings
import zipfile

import pytest

from grader.submission import unpack

pytestmark = pytest.mark.grader

A = "assignment1_basics"
PACKAGE = {
    "__init__.py": "",
    "adapters.py": "def run_train_bpe(*a, **k):\n    from assignment1_basics import bpe\n",
    "bpe.py": "def train_bpe(path, vocab_size, special_tokens):\n    raise NotImplementedError\n",
    "tokenizer.py": "class Tokenizer:\n    pass\n",
}


def make_zip(path: pathlib.Path, entries: dict[str, bytes | str], links: dict[str, str] = {}) -> pathlib.Path:
    """Write a zip with exactly these member names; `links` become symlink members (name -> target)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are written on purpose
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries.items():
                zf.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data)
            for name, target in links.items():
                info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, target)
    return path


def package_entries(prefix: str = f"{A}/", **extra) -> dict[str, str]:
    files = {prefix + k: v for k, v in PACKAGE.items()}
    files.update({prefix + k: v for k, v in extra.items()})
    return files


def write_tree(root: pathlib.Path, entries: dict[str, str]) -> pathlib.Path:
    for name, data in entries.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(data)
    return root


def tree(root: pathlib.Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def reasons(result) -> dict[str, str]:
    return dict(result.refused)


# --- finding the package -----------------------------------------------------------------------------


def test_unpack_zip_package_at_root(tmp_path):
    src = make_zip(tmp_path / "s.zip", package_entries(**{"utils/merge.py": "X = 1\n", "notes.md": "hi"}))
    r = unpack(src, A, tmp_path / "out")
    assert r.package_dir == tmp_path / "out" / A
    assert r.accepted == ["__init__.py", "adapters.py", "bpe.py", "tokenizer.py", "utils/merge.py"]
    assert reasons(r) == {f"{A}/notes.md": "not a Python module"}
    assert r.problems == [] and r.digest.startswith("sha256:") and len(r.digest) == 71
    assert (r.package_dir / "bpe.py").read_text() == PACKAGE["bpe.py"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in r.package_dir.rglob("*.py"))


def test_unpack_zip_with_top_folder(tmp_path):
    entries = package_entries(prefix=f"repo-main/{A}/")
    entries["repo-main/README.md"] = "readme"
    entries[f"repo-main/grader/private/reference/{A}/adapters.py"] = "deeper copy"
    r = unpack(make_zip(tmp_path / "s.zip", entries), A, tmp_path / "out")
    assert r.accepted == sorted(PACKAGE)
    assert reasons(r)["repo-main/README.md"] == f"outside the {A} package"


def test_unpack_zip_of_package_contents(tmp_path):
    r = unpack(make_zip(tmp_path / "s.zip", package_entries(prefix="")), A, tmp_path / "out")
    assert r.package_dir == tmp_path / "out" / A and r.accepted == sorted(PACKAGE)


def test_unpack_prefers_the_folder_with_adapters(tmp_path):
    # A repository checked out under the package's own name holds the real package one level down.
    entries = package_entries(prefix=f"{A}/{A}/")
    entries[f"{A}/setup.py"] = "print('repo')\n"
    r = unpack(make_zip(tmp_path / "s.zip", entries), A, tmp_path / "out")
    assert r.accepted == sorted(PACKAGE)


def test_unpack_folder_submission(tmp_path):
    src = write_tree(tmp_path / "sub", package_entries(prefix=f"work/{A}/", **{"__pycache__/bpe.cpython-311.pyc": "x"}))
    r = unpack(src, A, tmp_path / "out")
    assert r.accepted == sorted(PACKAGE)
    assert reasons(r)[f"work/{A}/__pycache__/"].startswith("compiled cache")


def test_unpack_folder_holding_one_uploaded_zip(tmp_path):
    (tmp_path / "upload").mkdir()
    make_zip(tmp_path / "upload" / "submission.zip", package_entries())
    r = unpack(tmp_path / "upload", A, tmp_path / "out")
    assert r.accepted == sorted(PACKAGE)


def test_unpack_missing_package(tmp_path):
    src = make_zip(tmp_path / "s.zip", {"README.md": "x", "notebooks/explore.ipynb": "{}"})
    r = unpack(src, A, tmp_path / "out")
    assert r.package_dir is None and r.accepted == [] and r.digest == ""
    assert r.problems == [f"no {A} package found in the submission (expected a folder {A}/ with adapters.py)"]
    assert not (tmp_path / "out").exists() or tree(tmp_path / "out") == []


def test_unpack_digest_same_for_zip_and_folder(tmp_path):
    entries = package_entries(**{"sub/x.py": "Y = 2\n"})
    z = unpack(make_zip(tmp_path / "s.zip", entries), A, tmp_path / "o1")
    f = unpack(write_tree(tmp_path / "dir", entries), A, tmp_path / "o2")
    assert z.digest == f.digest and z.accepted == f.accepted
    changed = unpack(make_zip(tmp_path / "t.zip", package_entries(**{"sub/x.py": "Y = 3\n"})), A, tmp_path / "o3")
    assert changed.digest != z.digest


def test_unpack_refuses_non_empty_dest(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old").write_text("x")
    with pytest.raises(FileExistsError):
        unpack(make_zip(tmp_path / "s.zip", package_entries()), A, tmp_path / "out")


# --- hostile zips ------------------------------------------------------------------------------------


def test_unpack_zip_slip_refused(tmp_path):
    hostile = ["../evil.py", "/abs.py", f"{A}/../../evil2.py", "C:/win.py", f"{A}\\..\\..\\bs.py", f"{A}//x.py"]
    src = make_zip(tmp_path / "s.zip", package_entries() | {h: "import os\n" for h in hostile})
    out = tmp_path / "deep" / "out"
    r = unpack(src, A, out)
    assert r.accepted == sorted(PACKAGE)
    assert all(reasons(r)[h].startswith("unsafe path") for h in hostile)
    assert any("../evil.py" in p for p in r.problems)
    assert sorted(p.name for p in tmp_path.rglob("*.py") if out not in p.parents) == []


def test_unpack_zip_symlink_refused(tmp_path):
    src = make_zip(tmp_path / "s.zip", package_entries(), links={f"{A}/leak.py": "/etc/passwd"})
    r = unpack(src, A, tmp_path / "out")
    assert reasons(r)[f"{A}/leak.py"] == "symbolic link" and "leak.py" not in r.accepted
    assert not any(p.is_symlink() for p in (tmp_path / "out").rglob("*"))


def test_unpack_folder_symlinks_refused(tmp_path):
    src = write_tree(tmp_path / "sub", package_entries())
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "key.py").write_text("KEY = 1\n")
    os.symlink(tmp_path / "secret" / "key.py", src / A / "key.py")
    os.symlink(tmp_path / "secret", src / A / "linked")
    r = unpack(src, A, tmp_path / "out")
    assert r.accepted == sorted(PACKAGE)
    assert reasons(r)[f"{A}/key.py"] == "symbolic link" and reasons(r)[f"{A}/linked"] == "symbolic link"


def test_unpack_duplicate_names_refused(tmp_path):
    src = tmp_path / "s.zip"
    make_zip(src, package_entries())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(src, "a") as zf:
            zf.writestr(f"{A}/bpe.py", "EVIL = 1\n")
    r = unpack(src, A, tmp_path / "out")
    assert "bpe.py" not in r.accepted and reasons(r)[f"{A}/bpe.py"].startswith("duplicate")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> pathlib.Path:
    """200 MB of zeros in one package module; about 200 KB compressed."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in package_entries().items():
            zf.writestr(name, data)
        with zf.open(f"{A}/zeros.py", "w") as f:
            block = b"\0" * (1 << 20)
            for _ in range(200):
                f.write(block)
    return path


def test_unpack_zip_bomb_stops(tmp_path, bomb):
    start = time.perf_counter()
    r = unpack(bomb, A, tmp_path / "out", max_total_bytes=4 << 20, max_file_bytes=8 << 20)
    assert time.perf_counter() - start < 2.0, "the bomb must be cut off, not decompressed"
    assert r.package_dir is None and r.accepted == []
    assert r.problems == ["submission too large: more than 4 MB uncompressed"]
    assert not (tmp_path / "out").exists() or tree(tmp_path / "out") == []


def test_unpack_per_file_cap(tmp_path):
    src = make_zip(tmp_path / "s.zip", package_entries(**{"big.py": "#" * 5000}))
    r = unpack(src, A, tmp_path / "out", max_file_bytes=4096)
    assert r.package_dir is None and r.problems[0].startswith("submission too large")


def test_unpack_total_cap_over_many_small_files(tmp_path):
    src = make_zip(tmp_path / "s.zip", package_entries(**{f"m{i}.py": "#" * 1000 for i in range(20)}))
    r = unpack(src, A, tmp_path / "out", max_total_bytes=10_000)
    assert r.package_dir is None and r.problems[0].startswith("submission too large")


def test_unpack_bomb_outside_package_is_never_read(tmp_path):
    src = make_zip(tmp_path / "s.zip", package_entries() | {"data/blob.bin": b"\0" * (3 << 20)})
    r = unpack(src, A, tmp_path / "out", max_total_bytes=1 << 20)
    assert r.accepted == sorted(PACKAGE) and reasons(r)["data/blob.bin"] == f"outside the {A} package"


def test_unpack_file_count_cap(tmp_path):
    many = {f"{A}/m{i}.py": "" for i in range(50)}
    r = unpack(make_zip(tmp_path / "s.zip", package_entries() | many), A, tmp_path / "o1", max_files=40)
    assert r.package_dir is None and r.problems == ["submission has too many files: more than 40"]
    r = unpack(write_tree(tmp_path / "dir", package_entries() | many), A, tmp_path / "o2", max_files=40)
    assert r.package_dir is None and r.problems == ["submission has too many files: more than 40"]


def test_unpack_corrupt_zip(tmp_path):
    good = make_zip(tmp_path / "g.zip", package_entries()).read_bytes()
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    (tmp_path / "cut.zip").write_bytes(good[: len(good) // 2])
    for name in ("junk.zip", "cut.zip"):
        r = unpack(tmp_path / name, A, tmp_path / f"out-{name}")
        assert r.package_dir is None and r.problems[0].startswith("not a valid zip file: ")


# --- course-owned and configuration files ------------------------------------------------------------


def test_unpack_drops_tests_conftest_and_startup_files(tmp_path):
    injected = {
        "conftest.py": "import pytest\n", "tests/conftest.py": "", "tests/test_bpe.py": "def test_x(): pass\n",
        "tests/_snapshots/x.json": "{}", "sitecustomize.py": "", "usercustomize.py": "", "evil.pth": "import os",
        "pytest.ini": "", "pyproject.toml": "", "setup.cfg": "", "tox.ini": "", "results.json": '{"score": 100}',
        "sub/conftest.py": "", "sub/results.json": "{}", "._adapters.py": "\x00\x05", ".hidden/x.py": "",
    }
    r = unpack(make_zip(tmp_path / "s.zip", package_entries(**injected)), A, tmp_path / "out")
    assert r.accepted == sorted(PACKAGE)
    refused = reasons(r)
    assert set(refused) == {f"{A}/{k}" for k in injected}
    assert refused[f"{A}/tests/test_bpe.py"].startswith("course-owned tests folder")
    assert refused[f"{A}/results.json"] == "grader output; only the grader writes it"
    assert refused[f"{A}/._adapters.py"] == "hidden file or folder"
    assert any("conftest.py" in p for p in r.problems) and any("results.json" in p for p in r.problems)
    assert tree(r.package_dir) == sorted(PACKAGE)


def test_unpack_reports_syntax_errors_and_still_copies(tmp_path):
    broken = {"bpe.py": "def f():\n    return 1\ndef broken(:\n", "tokenizer.py": b"X = '\xff\xfe'\n"}
    r = unpack(make_zip(tmp_path / "s.zip", package_entries(**broken)), A, tmp_path / "out")
    assert r.accepted == sorted(PACKAGE)
    assert any(p.startswith("bpe.py line 3: SyntaxError: ") for p in r.problems), r.problems
    assert any(p.startswith("tokenizer.py") for p in r.problems), r.problems
    assert (r.package_dir / "tokenizer.py").read_bytes() == broken["tokenizer.py"]


def test_unpack_notes_missing_adapters(tmp_path):
    entries = {f"{A}/bpe.py": "X = 1\n"}
    r = unpack(make_zip(tmp_path / "s.zip", entries), A, tmp_path / "out")
    assert r.accepted == ["bpe.py"] and any("adapters.py is missing" in p for p in r.problems)


def test_unpack_file_and_folder_with_one_name(tmp_path):
    src = make_zip(tmp_path / "s.zip", package_entries(**{"x.py": "A = 1\n", "x.py/y.py": "B = 2\n"}))
    r = unpack(src, A, tmp_path / "out")
    assert "x.py/y.py" in r.accepted and "x.py" not in r.accepted
    assert reasons(r)[f"{A}/x.py"] == "a folder has the same name"


def test_unpack_unreadable_file_refused(tmp_path, monkeypatch):
    src = write_tree(tmp_path / "sub", package_entries(**{"locked.py": "X = 1\n"}))
    real_open = os.open

    def deny(path, *args, **kwargs):  # chmod 0 would not stop root, so the refusal is simulated
        if str(path).startswith(str(src)) and str(path).endswith("locked.py"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    r = unpack(src, A, tmp_path / "out")
    assert r.accepted == sorted(PACKAGE) and reasons(r)[f"{A}/locked.py"] == "cannot be read: Permission denied"


def test_unpack_names_differing_in_case_refused(tmp_path):
    r = unpack(make_zip(tmp_path / "s.zip", package_entries(**{"BPE.py": "X = 1\n"})), A, tmp_path / "out")
    assert "bpe.py" not in r.accepted and "BPE.py" not in r.accepted
    assert reasons(r)[f"{A}/BPE.py"] == "another file differs only in case"


def test_unpack_name_not_utf8(tmp_path):
    src = make_zip(tmp_path / "s.zip", package_entries(**{"zz.py": "X = 1\n"}))
    data = src.read_bytes()  # mark every name UTF-8 (flag bit 11), then break one name's bytes
    data = data.replace(b"zz.py", b"z\xff.py").replace(b"\x14\x00\x00\x00", b"\x14\x00\x00\x08")
    src.write_bytes(data)
    r = unpack(src, A, tmp_path / "out")  # a zip that lies about its name encoding is malformed
    assert r.package_dir is None and r.problems[0].startswith("not a valid zip file: 'utf-8' codec")
