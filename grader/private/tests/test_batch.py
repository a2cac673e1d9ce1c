"""`grader batch` (grader/batch.py): resumable after kill -9, repeatable, regrades never lose a good result.

Needs the reference and mutants (grader/private), so it lives here. Public items only, perf off and short
case limits (`timeout_scale=0.1`): what is tested is the batch machinery, not the tokenizer (~20 s in all).
"""

import copy
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest

from grader import batch, mutants, pipeline, report, sandbox

A = "assignment1_basics"
REPO = pipeline.REPO
FAST = {"perf": False, "hidden": False, "timeout_scale": 0.1}
pytestmark = pytest.mark.grader


def _folder(tmp: pathlib.Path, names: tuple[str, ...]) -> pathlib.Path:
    """Submissions: reference, starter (tests left out), corrupt (a broken zip) and mutants by name."""
    p = pipeline.paths(A)
    subs = tmp / "subs"
    by_name = {m.name: m for m in mutants.load_all(p["mutants"])}
    for name in names:
        if name == "reference":
            shutil.copytree(p["reference"], subs / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif name == "corrupt":
            subs.mkdir(parents=True, exist_ok=True)
            (subs / "corrupt.zip").write_bytes(b"PK\x03\x04 not a zip")
        elif name == "starter":
            shutil.copytree(REPO / A, subs / name, ignore=shutil.ignore_patterns("tests", "__pycache__"))
        else:
            mutants.apply(by_name[name], p["reference"], subs / name)
    return subs


@pytest.fixture(scope="module")
def level():
    return sandbox.detect_level()


def _quiet(*_):
    pass


def test_batch_kill9_then_rerun_equals_uninterrupted(tmp_path, level):
    some = mutants.load_all(pipeline.paths(A)["mutants"])[0].name
    subs = _folder(tmp_path, ("reference", "starter", "corrupt", some))
    whole = batch.run_batch(subs, A, tmp_path / "whole", jobs=2, level=level, say=_quiet, **FAST)
    assert whole["graded"] == 4 and not whole["errors"]

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "-o", str(out), "-j", "1", "--no-perf",
           "--no-hidden", "--timeout-scale", "0.1", "--sandbox", level, "--allow-unsandboxed"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob("results/*/results.json")) and time.monotonic() < deadline:
        assert proc.poll() is None, "the batch ended before any result appeared"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p: p.stat().st_mtime_ns for p in out.glob("state/*/run-*.json")}
    assert 1 <= len(done) < 4, "the kill must land in the middle of the batch"
    assert not (out / "gradebook.csv").exists()

    again = batch.run_batch(subs, A, out, jobs=2, level=level, say=_quiet, **FAST)
    assert again["graded"] == 4 - len(done), "nothing graded twice"
    assert {p: p.stat().st_mtime_ns for p in done} == done, "finished runs are never rewritten"
    assert (out / "gradebook.csv").read_text() == (tmp_path / "whole" / "gradebook.csv").read_text()
    assert not (out / "work").exists()


def test_batch_same_submission_five_times_identical(tmp_path, level):
    name = mutants.load_all(pipeline.paths(A)["mutants"])[0].name
    subs = _folder(tmp_path, (name,))
    out = tmp_path / "out"
    # The rubric's own case limits here: with FAST's 0.1 a loaded machine turns slow cases into timeouts,
    # and five grades would differ for a reason that is not the grader's.
    summary = batch.run_batch(subs, A, out, jobs=2, repeat=5, level=level, say=_quiet,
                              **{**FAST, "timeout_scale": 1.0})
    errors = [r.read_text()[:2000] for r in out.glob("results/*/results.grader_error.json")]
    assert summary["graded"] == 5 and not summary["errors"], errors
    runs = [json.loads(p.read_text()) for p in sorted(out.glob("state/*/run-*.json"))]
    assert len(runs) == 5
    rub = batch.rubric_mod.load(A, include_hidden=False)
    docs = [report.results_json(batch.load(r, rub)) for r in runs]
    scores = [[(t["number"], t["score"], t["status"]) for t in d["tests"]] for d in docs]
    assert all(s == scores[0] for s in scores), "five grades of one submission must agree"
    assert docs[0]["score"] < docs[0]["extra_data"]["max_score"], "the mutant loses public points"
    assert summary["entries"][0]["flaky"] == {}
    assert "None: every case had the same outcome" in (out / "report.md").read_text()
    published = json.loads((out / "results" / name / "results.json").read_text())
    assert report.validate(published) == []
    assert (out / "histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A case whose outcome changes between runs is reported as flaky.
    changed = copy.deepcopy(runs[1])
    item = next(i for i in changed["items"] if i["verdicts"])
    item["verdicts"][0][1] = "timeout" if item["verdicts"][0][1] != "timeout" else "passed"
    cfg = batch.SimpleNamespace(rubric=rub)
    _, flaky = batch.assemble(cfg, name, [runs[0], changed], None)
    assert list(flaky) == [item["verdicts"][0][0]]


def test_batch_grader_error_never_replaces_good_result(tmp_path, level, monkeypatch):
    subs = _folder(tmp_path, ("starter",))
    out = tmp_path / "out"
    batch.run_batch(subs, A, out, jobs=1, level=level, say=_quiet, **FAST)
    results = out / "results" / "starter"
    good = (results / "results.json").read_text()
    assert json.loads(good)["extra_data"]["grading_status"] == "ok"

    def broken(*args, **kwargs):
        raise RuntimeError("snapshot store unreadable")

    monkeypatch.setattr(batch.pipeline, "grade", broken)
    summary = batch.run_batch(subs, A, out, jobs=1, force=True, level=level, say=_quiet, **FAST)
    assert summary["errors"] == ["starter"]
    assert (results / "results.json").read_text() == good
    failed = json.loads((results / "results.grader_error.json").read_text())
    assert failed["extra_data"]["grading_status"] == "grader_error"
    text = (out / "report.md").read_text()
    assert "starter: Grader error: RuntimeError: snapshot store unreadable" in text
    row = (out / "gradebook.csv").read_text().splitlines()[1].split(",")
    assert row[0] == "starter" and row[3] == "ok", "the gradebook keeps the good result"

    # The next run retries the failed unit (no --force needed) and clears the error.
    monkeypatch.undo()
    summary = batch.run_batch(subs, A, out, jobs=1, level=level, say=_quiet, **FAST)
    assert summary["graded"] == 1 and not summary["errors"]
    assert not (results / "results.grader_error.json").exists()

    # Changed inputs (tests, snapshots) change the key: regraded, the old file kept beside.
    monkeypatch.setattr(batch.pipeline, "inputs_digest", lambda a: "sha256:changed")
    summary = batch.run_batch(subs, A, out, jobs=1, level=level, say=_quiet, **FAST)
    assert summary["graded"] == 1
    assert json.loads((results / "results.previous.json").read_text())["score"] == json.loads(good)["score"]

    # Tests or rubric edited while a batch runs: the run is a grader error, never saved under the old key.
    real = pipeline.grade

    def edited_meanwhile(*args, **kwargs):
        res = real(*args, **kwargs)
        res.extra["rubric"] = "sha256:edited"
        return res

    monkeypatch.setattr(batch.pipeline, "grade", edited_meanwhile)
    summary = batch.run_batch(subs, A, out, jobs=1, force=True, level=level, say=_quiet, **FAST)
    assert summary["errors"] == ["starter"]
    assert "changed during the batch" in (out / "report.md").read_text()


def test_batch_refuses_unsandboxed_without_flag(tmp_path, capsys):
    from grader import cli

    (tmp_path / "subs").mkdir()
    rc = cli.main(["batch", str(tmp_path / "subs"), "-o", str(tmp_path / "out"), "--sandbox", "none"])
    assert rc == 2
    assert "--allow-unsandboxed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
