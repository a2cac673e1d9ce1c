"""Public tests of positions (handout §3.3): the sinusoidal table and RoPE in both pair layouts.

Besides matching the reference's values (snapshots, single-op tolerance of handout §8), the tests check the
mathematical laws that make these encodings work, each derived here from the definitions: the closed form
and row 0 of the table, its shift property (a fixed rotation per frequency), and for RoPE norm preservation,
relative-position scores, identity at position 0, the permutation linking the two layouts, and offsets.
Left out here (hidden suite): T = 7, head_dim = 24 and new seeds.
"""

import math

import pytest
import torch

from assignment1_basics import adapters

pytestmark = pytest.mark.a1_positional

TOL = {"atol": 1e-5, "rtol": 1e-5}  # single op in fp32 (handout §8)
THETA = 10000.0


# --------------------------------------------------------------------------- sinusoidal table

def test_sinusoidal_pe_matches_reference(check):
    pe = adapters.run_sinusoidal_pe(50, 64)
    check("pe", pe, **TOL, hint="PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same angle): "
                                "interleaved, not [sin | cos]")
    for p, col in [(1, 0), (1, 1), (7, 10), (7, 11), (49, 62), (49, 63)]:
        i = col // 2
        angle = p / THETA ** (2 * i / 64)
        want = math.sin(angle) if col % 2 == 0 else math.cos(angle)
        assert abs(pe[p, col].item() - want) < 1e-5, (
            f"PE[{p}, {col}] = {pe[p, col].item():.6f}, want {want:.6f}: "
            f"{'sin' if col % 2 == 0 else 'cos'}({p} / 10000^({2 * i}/64))")


def test_sinusoidal_pe_first_row(check):
    pe = adapters.run_sinusoidal_pe(4, 16)
    check("row0", pe[0], **TOL, hint="at p = 0 every angle is 0: sin columns are 0, cos columns are 1")
    want = torch.tensor([0.0, 1.0] * 8)
    assert torch.equal(pe[0], want), "PE[0] must be [0, 1, 0, 1, …] (sin at even, cos at odd columns)"


def test_sinusoidal_pe_shift_property(check):
    d, k = 32, 5
    pe = adapters.run_sinusoidal_pe(40, d, dtype=torch.float64)
    omega = THETA ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # (d/2,)
    c, s = torch.cos(k * omega), torch.sin(k * omega)
    sin_p, cos_p = pe[:-k, 0::2], pe[:-k, 1::2]
    # (sin, cos) at p + k = the 2x2 rotation by k·ω_i of (sin, cos) at p, for every p
    shifted = torch.stack((sin_p * c + cos_p * s, cos_p * c - sin_p * s), dim=-1).flatten(-2)
    check("pe_plus_k", pe[k:], atol=1e-10, rtol=1e-10, hint="the fp64 table must be exact to rounding")
    err = (shifted - pe[k:]).abs().max().item()
    assert err < 1e-10, (
        f"PE[p + {k}] is not a fixed rotation of PE[p] (error {err:.2e}): check the frequencies")


def test_sinusoidal_pe_edge_cases(check):
    empty = adapters.run_sinusoidal_pe(0, 8)
    check("empty_shape", list(empty.shape), hint="max_len = 0 gives a (0, d_model) tensor")
    check("dtype_default", str(adapters.run_sinusoidal_pe(3, 8).dtype), hint="the default dtype is fp32")
    check("dtype_fp64", str(adapters.run_sinusoidal_pe(3, 8, dtype=torch.float64).dtype))
    check.raises("odd_d_model", ValueError, adapters.run_sinusoidal_pe, 4, 7)


# --------------------------------------------------------------------------- RoPE

STYLES = ["interleaved", "half"]


def qk(randn, dims, seed, dtype=torch.float32):
    return randn(dims["B"], dims["H"], dims["T"], dims["d_h"], seed=seed, dtype=dtype)


@pytest.mark.parametrize("style", STYLES)
def test_rope_matches_reference(style, dims, randn, check):
    x = qk(randn, dims, 70)
    y = adapters.run_rope(dims["d_h"], THETA, dims["max_len"], x, torch.arange(dims["T"]), style)
    check("y", y, **TOL, hint="θ_i = 10000^(-2i/d) with i = 0 … d/2-1; interleaved pairs (x[2i], x[2i+1]), "
                              "half pairs (x[i], x[i + d/2]); (a, b) -> (a cos - b sin, a sin + b cos)")


@pytest.mark.parametrize("style", STYLES)
def test_rope_random_positions_per_batch(style, dims, randn, check):
    x = qk(randn, dims, 71)
    gen = torch.Generator().manual_seed(72)
    pos = torch.randint(0, dims["max_len"], (dims["B"], dims["T"]), generator=gen)
    y = adapters.run_rope(dims["d_h"], THETA, dims["max_len"], x, pos, style)
    check("y", y, **TOL, hint="positions (B, T) broadcast over the head dimension: give cos/sin the shape "
                              "(B, 1, T, d/2)")
    for b in range(dims["B"]):
        one = adapters.run_rope(dims["d_h"], THETA, dims["max_len"], x[b], pos[b], style)
        assert torch.allclose(y[b], one, atol=1e-6), f"batch row {b} must use its own positions pos[{b}]"


def test_rope_preserves_norm(dims, randn, check):
    x = qk(randn, dims, 73, torch.float64)
    pos = torch.arange(30, 30 + dims["T"])
    y = adapters.run_rope(dims["d_h"], THETA, dims["max_len"], x, pos)
    norms = y.norm(dim=-1)
    check("norms", norms, atol=1e-10, rtol=1e-10,
          hint="a rotation changes no norm: rotate pairs, do not scale")
    assert torch.allclose(norms, x.norm(dim=-1), atol=1e-10), "RoPE must preserve the norm of every vector"


def test_rope_scores_depend_on_offset_only(dims, randn, check):
    d_h, max_len = dims["d_h"], dims["max_len"]
    q, k = randn(d_h, seed=74, dtype=torch.float64), randn(d_h, seed=75, dtype=torch.float64)
    scores = []
    for m, n in [(3, 1), (10, 8), (40, 38), (62, 60)]:  # m - n = 2 every time
        rq = adapters.run_rope(d_h, THETA, max_len, q[None], torch.tensor([m]))
        rk = adapters.run_rope(d_h, THETA, max_len, k[None], torch.tensor([n]))
        scores.append((rq * rk).sum().item())
    check("scores", scores, atol=1e-10, rtol=1e-10, hint="⟨R_m q, R_n k⟩ depends only on m - n")
    assert max(scores) - min(scores) < 1e-10, f"⟨R_m q, R_n k⟩ at m - n = 2 differs: {scores}"


def test_rope_position_zero_is_identity(dims, randn, check):
    x = qk(randn, dims, 76)
    y = adapters.run_rope(dims["d_h"], THETA, dims["max_len"], x, torch.zeros(dims["T"], dtype=torch.long))
    check("y", y, **TOL, hint="at position 0 every angle is 0: cos = 1, sin = 0")
    assert torch.equal(y, x), "RoPE at position 0 must return x unchanged"


def test_rope_interleaved_half_permutation(dims, randn, check):
    d_h = dims["d_h"]
    x = qk(randn, dims, 77, torch.float64)
    pos = torch.arange(5, 5 + dims["T"])
    perm = torch.cat((torch.arange(0, d_h, 2), torch.arange(1, d_h, 2)))  # [0, 2, 4, …, 1, 3, 5, …]
    inter = adapters.run_rope(d_h, THETA, dims["max_len"], x, pos, "interleaved")
    half = adapters.run_rope(d_h, THETA, dims["max_len"], x[..., perm], pos, "half")
    check("half_of_permuted", half, atol=1e-12, rtol=1e-12)
    assert torch.allclose(inter[..., perm], half, atol=1e-12), (
        "apply_rope(x, 'interleaved')[..., perm] must equal apply_rope(x[..., perm], 'half'): "
        "interleaved pairs "
        "(x[2i], x[2i+1]), half pairs (x[i], x[i + d/2]), the same angle for pair i")


@pytest.mark.parametrize("style", STYLES)
def test_rope_offsets_match_full_sequence(style, dims, randn, check):
    x = qk(randn, dims, 78)
    full = adapters.run_rope(dims["d_h"], THETA, dims["max_len"], x, torch.arange(dims["T"]), style)
    pieces = [adapters.run_rope(dims["d_h"], THETA, dims["max_len"], x[..., t:t + 1, :], torch.tensor([t]),
                                style) for t in range(5, 10)]
    stepped = torch.cat(pieces, dim=-2)
    check("tokens_5_to_9", stepped, **TOL, hint="a token's rotation depends only on its own position")
    assert torch.allclose(stepped, full[..., 5:10, :], atol=1e-6), (
        "rotating tokens 5…9 one at a time at positions 5…9 must equal "
        "rotating the whole sequence and slicing")


def test_rope_half_precision(dims, randn, check):
    x = qk(randn, dims, 79, torch.bfloat16)
    y = adapters.run_rope(dims["d_h"], THETA, dims["max_len"], x, torch.arange(40, 40 + dims["T"]))
    check("y", y, atol=2e-2, rtol=2e-2, hint="rotate bf16/fp16 inputs in fp32 and cast the result back")
    assert y.dtype == torch.bfloat16, "apply_rope returns the input dtype"


def test_rope_invalid_inputs_raise(dims, randn, check):
    x = randn(2, 6, 8, seed=80)
    y = adapters.run_rope(8, THETA, 6, x, torch.arange(6))
    check("valid", y, **TOL)
    check.raises("position_past_cache", IndexError, adapters.run_rope, 8, THETA, 6, x, torch.arange(1, 7))
    check.raises("odd_head_dim", ValueError, adapters.run_rope, 7, THETA, 6, randn(2, 6, 7, seed=81),
                 torch.arange(6))
