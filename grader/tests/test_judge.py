"""Maintainer tests: the judge's comparison and outcome table (grader/judge.py)."""

import numpy as np

from grader import judge, protocol


def _obs(value):
    if isinstance(value, np.ndarray):
        return {"kind": "array", "dtype": value.dtype.name, "shape": list(value.shape)}, protocol.array_to_npy(value)
    return {"kind": "json", "value": protocol.encode_value(value)}, b""


def test_judge_exact_json_and_first_difference():
    exp = {"kind": "json", "value": protocol.encode_value([(b"a", b"b"), (b"c", b"d")])}
    ok, _ = judge.compare(exp, *_obs([(b"a", b"b"), (b"c", b"d")]))
    assert ok
    ok, msg = judge.compare(exp, *_obs([(b"a", b"b"), (b"c", b"x")]))
    assert not ok and "[1]" in msg


def test_judge_array_tolerance_dtype_shape():
    ref = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    exp = {"kind": "array", "array": ref, "atol": 1e-5, "rtol": 1e-5}
    assert judge.compare(exp, *_obs(ref + np.float32(1e-7)))[0]
    ok, msg = judge.compare(exp, *_obs(ref + np.float32(1e-2)))
    assert not ok and "max abs error" in msg
    assert not judge.compare(exp, *_obs(ref.astype(np.float64)))[0]
    assert not judge.compare(exp, *_obs(ref.T.copy()))[0]


def test_judge_case_needs_pass_and_all_observations():
    exp = {"a": {"kind": "json", "value": 1}, "b": {"kind": "json", "value": 2}}
    rep = judge.CaseReport("t.py::x", status="done", outcome={"outcome": "passed"},
                           observations={"a": _obs(1)})
    assert judge.judge_case(rep, exp).outcome == "missing"
    rep.observations["b"] = _obs(2)
    assert judge.judge_case(rep, exp).outcome == "passed"
    rep.outcome = {"outcome": "failed", "message": "assert"}
    assert judge.judge_case(rep, exp).outcome == "failed"
    rep.outcome = {"outcome": "passed"}
    rep.observations["c"] = _obs(3)
    assert judge.judge_case(rep, exp).outcome == "malformed"


def test_judge_forged_pass_without_right_values_fails():
    exp = {"merges": {"kind": "json", "value": protocol.encode_value([[b"t", b"h"]])}}
    rep = judge.CaseReport("t.py::x", status="done", outcome={"outcome": "passed"},
                           observations={"merges": _obs(True)})
    assert judge.judge_case(rep, exp).outcome == "failed"


def test_judge_crash_timeout_no_snapshot():
    for status in ("crashed", "timeout", "not_run"):
        assert judge.judge_case(judge.CaseReport("t.py::x", status=status), {}).outcome == status
    assert judge.judge_case(judge.CaseReport("t.py::x", status="done"), None).outcome == "grader_error"
