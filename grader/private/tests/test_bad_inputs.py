"""Maintainer tests: every way a submission can go wrong is graded to completion (make check).

Each bad sample (grader/samples.py) is built from the reference with one thing broken, so the
expected grade is exact: zero on the items the breakage touches, full marks elsewhere, a
message naming the problem, and grading status "ok" (or "rejected" when there is no package).
`fake_pass` is built from the starter: pytest patched to pass everything earns nothing.
Public tests of the tokenizer part only (the samples break bpe.py and tokenizer.py) and no performance
items, to keep `make check` fast; per-case time limits are scaled down so the endless loop is cut after
a few seconds.
"""

import pathlib

import pytest

from grader import pipeline, report, samples

A = "assignment1_basics"
BPE_TRAIN_ITEMS = {"1.3", "1.4", "1.5", "1.6"}     # items whose tests call train_bpe
BPE_ITEMS = {"1.1", "1.2"} | BPE_TRAIN_ITEMS
TOKENIZER_ITEMS = {"2.1", "2.2", "2.3", "2.4", "2.5"}


def tokenizer_modules(module: str) -> bool:
    """The test modules of handout §1–§2, where every sample's breakage shows."""
    return pathlib.PurePosixPath(module).name.startswith(("test_bpe", "test_tokenizer"))


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, pathlib.Path]:
    out = tmp_path_factory.mktemp("samples")
    from_ref = samples.bad_submissions(out / "ref", pipeline.paths(A)["reference"])
    from_starter = samples.bad_submissions(out / "starter", pipeline.REPO / A)
    return {**from_ref, "fake_pass": from_starter["fake_pass"]}


def _grade(path, tmp_path):
    res = pipeline.grade(path, A, include_hidden=False, run_perf=False, timeout_scale=0.1,
                         work_dir=tmp_path, modules=tokenizer_modules)
    doc = report.results_json(res)          # always a valid report
    assert doc["score"] == res.score and len(doc["tests"]) == len(res.items)
    assert report.validate(doc) == []
    return res, {r.item.number: r for r in res.items if r.max_score > 0}


def _full(items, numbers):
    return {n: (items[n].score, items[n].max_score) for n in numbers if items[n].score != items[n].max_score}


def _zero(items, numbers):
    return {n: items[n].score for n in numbers if items[n].score != 0}


@pytest.mark.parametrize("name,needle", [("corrupt_zip", "not a valid zip"),
                                         ("no_package", "no assignment1_basics package")])
def test_bad_archive_rejected_with_message(bad, tmp_path, name, needle):
    res, items = _grade(bad[name], tmp_path)
    assert res.status == "rejected" and res.score == 0
    assert any(needle in p for p in res.problems), res.problems


def test_bad_path_escape_refused_rest_graded(bad, tmp_path):
    res, items = _grade(bad["path_escape"], tmp_path)
    assert res.status == "ok"
    assert _full(items, BPE_ITEMS | TOKENIZER_ITEMS) == {}
    assert len([f for f in res.extra["refused_files"] if "evil" in f]) == 3


def test_bad_symlink_costs_only_bpe(bad, tmp_path):
    res, items = _grade(bad["symlink"], tmp_path)
    assert res.status == "ok"
    assert _zero(items, BPE_ITEMS) == {}
    assert _full(items, TOKENIZER_ITEMS) == {}


def test_bad_syntax_error_costs_only_tokenizer(bad, tmp_path):
    res, items = _grade(bad["syntax_error"], tmp_path)
    assert any("SyntaxError" in p for p in res.problems), res.problems
    assert _full(items, BPE_ITEMS) == {}
    assert _zero(items, TOKENIZER_ITEMS) == {}
    assert "SyntaxError" in items["2.1"].output


def test_bad_import_error_costs_only_its_module(bad, tmp_path):
    res, items = _grade(bad["import_raises"], tmp_path)
    assert res.status == "ok"
    assert _zero(items, BPE_ITEMS) == {}
    assert _full(items, TOKENIZER_ITEMS) == {}
    assert "RuntimeError" in items["1.1"].output


def test_bad_exit_at_import_costs_only_its_module(bad, tmp_path):
    res, items = _grade(bad["import_exit"], tmp_path)
    assert res.status == "ok"
    assert _zero(items, BPE_ITEMS) == {}
    assert _full(items, TOKENIZER_ITEMS) == {}
    assert "crashed" in items["1.3"].output


def test_bad_endless_train_bpe_times_out_rest_scores(bad, tmp_path):
    res, items = _grade(bad["train_bpe_loops"], tmp_path)
    assert res.status == "ok"
    assert _zero(items, BPE_TRAIN_ITEMS) == {}
    assert _full(items, {"1.1", "1.2"} | TOKENIZER_ITEMS) == {}
    assert "timeout" in items["1.3"].output or "crashed" in items["1.3"].output


def test_bad_stdout_flood_is_capped(bad, tmp_path):
    res, items = _grade(bad["train_bpe_floods_stdout"], tmp_path)
    assert res.status == "ok"
    assert _zero(items, BPE_TRAIN_ITEMS) == {}
    assert _full(items, {"1.1", "1.2"} | TOKENIZER_ITEMS) == {}
    assert len(res.log) < 200_000 and "bytes of output dropped" in res.log


def test_bad_pytest_monkeypatch_earns_nothing(bad, tmp_path):
    res, items = _grade(bad["fake_pass"], tmp_path)
    assert res.status == "ok" and res.score == 0
    # the patched pytest did report passes; the missing observations still score zero
    outcomes = {v.outcome for r in res.items for v in r.verdicts}
    assert outcomes <= {"missing", "failed", "error"}, outcomes
