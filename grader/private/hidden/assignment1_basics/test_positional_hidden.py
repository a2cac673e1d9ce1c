"""Hidden tests of positions (handout §3.3): the public tests with T = 7, head_dim = 24 and new seeds.

Copied at grading time to assignment1_basics/tests/hidden/. head_dim = 24 gives 12 frequency pairs (not a
power of two), positions start at odd offsets, batch rows carry different positions and leading dimensions
are odd (3 × 5). Expected values come from grader/private/snapshots. Left out: partial rotary dimensions.
"""

import pytest
import torch

from assignment1_basics import adapters

pytestmark = pytest.mark.a1_positional

TOL = {"atol": 1e-5, "rtol": 1e-5}  # single op in fp32 (handout §8)
D_H, T, MAX_LEN = 24, 7, 41


def test_sinusoidal_pe_matches_reference(check):
    check("pe", adapters.run_sinusoidal_pe(37, 22), **TOL)
    pe = adapters.run_sinusoidal_pe(9, 6, base=100.0, dtype=torch.float64)
    check("pe_base_100", pe, atol=1e-12, rtol=1e-12)


def test_sinusoidal_pe_edge_cases(check):
    check("empty_shape", list(adapters.run_sinusoidal_pe(0, 2).shape))
    check.raises("odd_d_model", ValueError, adapters.run_sinusoidal_pe, 3, 1)


@pytest.mark.parametrize("style", ["interleaved", "half"])
def test_rope_matches_reference(style, randn, check):
    x = randn(3, 5, T, D_H, seed=200)
    y = adapters.run_rope(D_H, 10000.0, MAX_LEN, x, torch.arange(13, 13 + T), style)
    check("y", y, **TOL)
    check("y_theta_500", adapters.run_rope(D_H, 500.0, MAX_LEN, x, torch.arange(T), style), **TOL)


@pytest.mark.parametrize("style", ["interleaved", "half"])
def test_rope_random_positions_per_batch(style, randn, check):
    x = randn(3, 5, T, D_H, seed=201)
    pos = torch.randint(0, MAX_LEN, (3, T), generator=torch.Generator().manual_seed(202))
    check("y", adapters.run_rope(D_H, 10000.0, MAX_LEN, x, pos, style), **TOL)


def test_rope_three_dim_input(randn, check):
    x = randn(3, T, D_H, seed=203)  # (B, T, d) without a head dimension
    pos = torch.randint(0, MAX_LEN, (3, T), generator=torch.Generator().manual_seed(204))
    check("y", adapters.run_rope(D_H, 10000.0, MAX_LEN, x, pos), **TOL)


def test_rope_preserves_norm(randn, check):
    x = randn(3, 5, T, D_H, seed=205, dtype=torch.float64)
    y = adapters.run_rope(D_H, 10000.0, MAX_LEN, x, torch.arange(MAX_LEN - T, MAX_LEN))
    check("norms", y.norm(dim=-1), atol=1e-10, rtol=1e-10)


def test_rope_fp16(randn, check):
    x = randn(3, T, D_H, seed=206, dtype=torch.float16)
    y = adapters.run_rope(D_H, 10000.0, MAX_LEN, x, torch.arange(30, 30 + T), "half")
    check("y", y, atol=2e-2, rtol=2e-2)
    check("dtype", str(y.dtype))


def test_rope_invalid_inputs_raise(randn, check):
    x = randn(T, D_H, seed=207)
    check("valid", adapters.run_rope(D_H, 10000.0, T, x, torch.arange(T)), **TOL)
    check.raises("position_past_cache", IndexError, adapters.run_rope, D_H, 10000.0, T, x,
                 torch.arange(T) + 1)
