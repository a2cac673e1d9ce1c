"""The Gradescope bundle end to end (grading.md §1): `grader autograder` builds the zip, and its
`run_autograder` grades submissions in a local folder laid out as Gradescope lays it out.

    tmp/autograder/source/          the unzipped bundle (+ .venv: a link to this test's virtualenv)
    tmp/autograder/run_autograder   copied from the bundle, run as the platform runs it
    tmp/autograder/submission/      the upload;  tmp/autograder/submission_metadata.json
    tmp/autograder/results/         written by the grader

Left out: setup.sh (apt and the network), performance items (`--no-perf`, to keep this test
short; the pipeline's own tests cover perf) and the starter (`grader verify` grades it). Needs grader/private (the bundle ships the reference).
"""

import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import zipfile

import pytest

from grader import bundle as bundle_mod, report, rubric, sandbox

pytestmark = pytest.mark.grader
REPO = pathlib.Path(__file__).resolve().parents[3]
A = "assignment1_basics"
LEVEL_FLAGS = ["--allow-unsandboxed"] if sandbox.detect_level() == "none" else []


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle")
    proc = subprocess.run([sys.executable, "-m", "grader", "autograder", A, "-o", str(out),
                           "--timeout-s", "900", "--margin-s", "30"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    total = bundle_mod.max_points_without_gpu(A)["total"]
    assert f"total points: {total:g}" in proc.stdout and "memory" in proc.stdout, proc.stdout
    return out / f"{A}-autograder.zip"


def _zip_package(src: pathlib.Path, dest: pathlib.Path) -> None:
    with zipfile.ZipFile(dest, "w") as zf:
        for f in sorted(src.glob("*.py")):
            zf.write(f, f"{A}/{f.name}")


@pytest.fixture()
def gradescope(bundle, tmp_path):
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    shutil.copyfile(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    (root / "source" / ".venv").symlink_to(pathlib.Path(sys.prefix), target_is_directory=True)
    (root / "submission").mkdir()

    def run(*extra: str, env: dict | None = None) -> tuple[int, dict, str]:
        proc = subprocess.run([str(root / "run_autograder"), "--root", str(root), *extra],
                              capture_output=True, text=True, timeout=240, env={**os.environ, **(env or {})})
        doc = json.loads((root / "results" / "results.json").read_text())
        assert report.validate(doc) == []
        return proc.returncode, doc, proc.stdout + proc.stderr
    return root, run


def test_bundle_holds_one_assignment_and_no_mutants(bundle):
    with zipfile.ZipFile(bundle) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        run_script = zf.read("run_autograder").decode()
        setup = zf.read("setup.sh").decode()
    names = set(infos)
    assert {"setup.sh", "run_autograder", "bundle.toml", "requirements.lock", "pyproject.toml"} <= names
    for script in ("setup.sh", "run_autograder"):
        assert (infos[script].external_attr >> 16) & stat.S_IXUSR, f"{script} must be executable"
    assert run_script.startswith("#!/usr/bin/env bash\n")
    assert f"exec .venv/bin/python -m grader gradescope --assignment {A}" in run_script
    assert "download.pytorch.org/whl/cpu" in setup and "useradd" in setup and "bubblewrap" in setup
    allowed = (f"{A}/", f"grader/private/reference/{A}/", f"grader/private/hidden/{A}/",
               f"grader/private/snapshots/{A}/")
    for n in names - {"setup.sh", "run_autograder", "bundle.toml", "requirements.lock", "pyproject.toml",
                      f"grader/rubrics/{A}.toml", f"grader/private/rubrics/{A}.toml"}:
        assert n.startswith(allowed) or (n.startswith("grader/") and n.count("/") == 1), n
        assert "private/mutants" not in n and "/tests/" not in n.replace(f"{A}/tests/", ""), n
    assert not any(n.endswith(".toml") and "rubrics/" not in n for n in names - {"bundle.toml", "pyproject.toml"})
    for sub in ("reference", "hidden", "snapshots"):   # complete: every private file of this assignment
        for f in (REPO / "grader" / "private" / sub / A).rglob("*"):
            rel = f.relative_to(REPO).as_posix()
            assert not f.is_file() or "__pycache__" in rel or rel in names, f"{rel} missing"
    assert f"{A}/tests/_snapshots/test_bpe.json" in names and f"{A}/__init__.py" in names


def test_run_autograder_reference_scores_full_marks(gradescope):
    root, run = gradescope
    _zip_package(REPO / "grader" / "private" / "reference" / A, root / "submission" / "submission.zip")
    (root / "submission_metadata.json").write_text(json.dumps(
        {"id": 7, "created_at": "2026-01-01T00:00:00Z", "users": [{"name": "x" * 500}]}))
    rc, doc, log = run("--no-perf", *LEVEL_FLAGS)
    assert rc == 0, log
    graded = [t for t in doc["tests"] if t["max_score"] > 0]
    assert {"public", "hidden"} <= {t["tags"][0] for t in graded}
    assert all(t["score"] == t["max_score"] and t["status"] == "passed" for t in graded), doc["tests"]
    correctness = sum(item.points for item in rubric.load(A).items)     # perf items are 0/0 with --no-perf
    assert doc["score"] == correctness == sum(t["max_score"] for t in doc["tests"])
    for t in doc["tests"]:
        assert t["visibility"] == ("after_due_date" if "hidden" in t["tags"] else "visible"), t
    assert doc["stdout_visibility"] == "hidden"
    assert doc["extra_data"]["submission_metadata"] == {"id": 7, "created_at": "2026-01-01T00:00:00Z"}
    assert doc["extra_data"]["bundle"]["timeout_s"] == 900       # read from the bundle's own bundle.toml


def test_metadata_is_untrusted_and_optional(tmp_path):
    path = tmp_path / "submission_metadata.json"
    assert bundle_mod.read_metadata(path) == {}                                  # absent
    for text in ("[not, json", "[1, 2]", '{"id": {"nested": 1}, "created_at": 5}', " " * (2 << 20)):
        path.write_text(text)
        assert bundle_mod.read_metadata(path) in ({}, {"created_at": 5}), text
    path.write_text(json.dumps({"id": 3, "created_at": "2026-01-01", "users": [], "x": "y" * 1000}))
    assert bundle_mod.read_metadata(path) == {"id": 3, "created_at": "2026-01-01"}


def test_run_autograder_refuses_without_sandbox(gradescope):
    root, run = gradescope
    rc, doc, log = run(env={"GRADER_SANDBOX": "none"})
    assert rc == 1 and doc["score"] == 0 and doc["tests"] == []
    assert "sandbox" in doc["output"] and doc["extra_data"]["grading_status"] == "grader_error"


def test_run_autograder_grader_error_leaves_a_valid_file(gradescope):
    root, run = gradescope
    rc, doc, log = run("--assignment", "assignment9_missing")
    assert rc == 1 and doc["score"] == 0, log
    assert doc["output"].startswith("Grader error") and "Traceback" in log
