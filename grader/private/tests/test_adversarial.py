"""Maintainer tests: every adversarial bundle (grader/private/adversarial.py) scores exactly what its
honest parts earn, and the sandbox holds (grading.md §3.1, §3.2).

Each bundle is the reference with attacks appended; the expected score of every item is stated
in the bundle. Bundles that need bubblewrap (reads of private files) or a bound on processes
(fork and memory bombs) are skipped with the reason where the machine lacks them, so that a
bomb can never run unbounded. Per-case time limits are scaled down; performance items are not run.
The attacks live in the tokenizer part's files, so only its test modules (test_bpe*, test_tokenizer*,
public and hidden) are graded: the model parts would add minutes to `make check` and nothing to the proof.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

from grader import confine, pipeline, report, rubric, sandbox
from grader.private import adversarial as adv
from grader.private.tests.test_bad_inputs import tokenizer_modules

A = "assignment1_basics"
LEVEL = sandbox.detect_level()
SENTINEL = '{"score": 0, "sentinel": true}\n'
HIDDEN_BRIEF = re.compile(
    r"- case \d+: (passed|value differs|wrong kind of value|wrong dtype|wrong shape|\d+ of \d+ values differ"
    r"|values differ \(max abs error [0-9.e+-]+\)|raised [A-Za-z]+|raised an exception|test failed"
    r"|incomplete report|malformed report|malformed|timeout|crashed|not run|grader error)")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("adversarial")
    results = out / "results"
    results.mkdir()
    (results / "results.json").write_text(SENTINEL)
    zips = adv.write_all(out / "zips", pipeline.paths(A)["reference"], pipeline.REPO, results)
    return zips, results


def _skip_reason(needs: str) -> str | None:
    if "bubblewrap" in needs and LEVEL != "bubblewrap":
        return "needs bubblewrap (the attack would succeed, or run unbounded, at this level)"
    if "nproc" in needs and confine.process_limit() is None:
        return "no bound on processes here (root without a writable pids cgroup)"
    return None


def _grade(bundle, path, tmp_path, monkeypatch):
    if bundle.memory_mb:
        load = rubric.load

        def lower(*args, **kwargs):
            rub = load(*args, **kwargs)
            rub.memory_mb = bundle.memory_mb
            return rub
        monkeypatch.setattr(pipeline.rubric_mod, "load", lower)
    res = pipeline.grade(path, A, include_hidden=bundle.hidden, run_perf=False,
                         timeout_scale=bundle.timeout_scale, work_dir=tmp_path, modules=tokenizer_modules)
    doc = report.results_json(res)
    assert report.validate(doc) == []
    return res, doc


@pytest.mark.parametrize("name", sorted(adv.BUNDLES))
def test_adversarial_bundle_scores_exactly_its_honest_parts(built, tmp_path, monkeypatch, name):
    bundle = adv.BUNDLES[name]
    reason = _skip_reason(bundle.needs)
    if reason:
        pytest.skip(reason)
    zips, results = built
    res, doc = _grade(bundle, zips[name], tmp_path, monkeypatch)
    rejected = name == "zip_bomb"
    assert res.status == ("rejected" if rejected else "ok"), res.problems
    got = {r.item.number: r.score for r in res.items if r.max_score > 0}   # perf items: only when rejected
    default = bundle.expected.get("*", 1.0)
    want = {r.item.number: round(r.max_score * bundle.expected.get(r.item.number, default), 4)
            for r in res.items if r.max_score > 0}
    wrong = {n: (got[n], want[n]) for n in got if got[n] != want[n]}
    assert not wrong, f"{name}: item -> (score, expected): {wrong}\n" + "\n".join(
        f"{r.item.number}: {r.output[:300]}" for r in res.items if r.item.number in wrong)
    assert (results / "results.json").read_text() == SENTINEL, "a submission wrote the grader's results"
    check = EXTRA.get(name)
    if check:
        check(res, doc)


def _injection(res, doc):
    refused = "\n".join(res.extra["refused_files"])
    for needle in ("conftest.py", "evil.pth", "sitecustomize.py", "results.json", "stolen.py: symbolic link",
                   "../../evil.py", "/tmp/evil_abs.py", "tests/test_bpe.py", "pytest.ini",
                   "entry_points.txt"):
        assert needle in refused, needle
    for forged in (pipeline.REPO / "results.json", pipeline.REPO / "out" / "results.json"):
        assert not forged.exists(), forged


def _bombs(res, doc):
    verdicts = {v.cid.split("::")[1]: v.outcome for r in res.items for v in r.verdicts}
    assert verdicts["test_bpe_special_tokens_unmerged"] == "crashed", "the memory watchdog should kill it"
    assert verdicts["test_chunk_boundaries_token_straddles_window"] in ("timeout", "crashed")
    assert len(res.log) < 200_000
    pgrep = ["pgrep", "-f", adv.ORPHAN_MARKER]
    left = subprocess.run(pgrep, capture_output=True, text=True).stdout.split()
    assert left == [], f"a process outlived its worker: {left}"


def _oracle(res, doc):
    hidden = [t for t in doc["tests"] if t["visibility"] == "after_due_date" and "perf" not in t["tags"]
              and t["max_score"] > 0]   # items of modules not graded here are "Not run in this mode."
    assert hidden
    for t in hidden:
        lines = t["output"].splitlines()
        assert re.fullmatch(r"\d+/\d+ cases passed\.", lines[0]), t["output"]
        for line in lines[1:]:
            assert HIDDEN_BRIEF.fullmatch(line), f"hidden feedback says more than a verdict: {line!r}"
    assert "LEAK" not in str(hidden) and "LEAK" not in doc["output"]
    assert any("raised an exception" in t["output"] for t in hidden), "the probe's exceptions should be shown"


def _exits(res, doc):
    assert "100" not in doc["output"] and doc["score"] == res.score


EXTRA = {"injection_files": _injection, "resource_bombs": _bombs, "oracle_probe": _oracle,
         "exit_tricks": _exits}


PROBE = f"""
import os, sys
repo = {str(pipeline.REPO)!r}
print(sorted(os.listdir(repo)) if os.path.isdir(repo) else [])
print(sorted(os.listdir("/")))
print(open(os.path.join(sys.prefix, "pyvenv.cfg")).read() != "")
"""


@pytest.mark.skipif(LEVEL != "bubblewrap", reason="bubblewrap not available here")
def test_sandbox_shows_nothing_of_the_repository_but_the_virtualenv(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    box = sandbox.build(tmp_path / "box", A, pkg)
    proc = sandbox.spawn(box, "bubblewrap", ["-c", PROBE], limits=sandbox.Limits())
    out, _ = proc.communicate(timeout=60)
    repo_seen, root_seen, venv_ok = out.decode().strip().splitlines()[-3:]
    venv = pathlib.Path(sys.prefix)
    expected = [venv.name] if venv.parent == pipeline.REPO else []
    assert repo_seen == str(expected), "only the virtualenv of the repository may be visible"
    assert "work" not in root_seen or str(pipeline.REPO).startswith("/work")
    assert venv_ok == "True"


def test_sandbox_uid_level_confines_where_available(tmp_path):
    ready, net = confine.uid_ready()
    if not (ready and net):
        pytest.skip("level 2 unavailable here: not root, or the unprivileged user cannot run this Python "
                    "(e.g. it lives under a 0700 /root), or no network namespace")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    box = sandbox.build(tmp_path / "box", A, pkg)
    code = ("import os, socket\nprint(os.getuid())\ntry:\n"
            "    socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
            "    print('net')\nexcept OSError:\n    print('nonet')\n")
    proc = sandbox.spawn(box, "uid", ["-c", code], limits=sandbox.Limits())
    out, _ = proc.communicate(timeout=60)
    uid, net_state = out.decode().split()[-2:]
    assert int(uid) != 0 and net_state == "nonet"
    assert os.geteuid() == 0
