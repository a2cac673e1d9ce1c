"""Public tests of the Transformer building blocks (handout §3): Linear, Embedding, RMSNorm, SiLU, SwiGLU,
softmax.

Weights and inputs are seeded tensors from the `randn` fixture; expected values come from the snapshots
(recorded from the course's reference) at the single-op tolerance of handout §8, and most tests also
assert the formula directly so that a failure says what is wrong. Initialisation is checked by statistics
(mean, std, truncation) with tolerances far above sampling noise. Left out here (hidden suite): odd shapes
and new seeds.
"""

import math

import pytest
import torch

from assignment1_basics import adapters
from assignment1_basics.tests.forbidden import ForbiddenCalls

pytestmark = pytest.mark.a1_layers

TOL = {"atol": 1e-5, "rtol": 1e-5}  # single op in fp32 (handout §8)
TRUNC_STD = 0.98658  # std of a standard normal truncated at ±3


# --------------------------------------------------------------------------- Linear

LEADING = {"batch_seq": (4, 12), "flat": (5,), "three_leading": (2, 3, 5)}


@pytest.mark.parametrize("lead", list(LEADING))
def test_linear_matches_reference(lead, dims, randn, check):
    d_in, d_out = dims["d"], 48  # not square: x W (instead of x Wᵀ) cannot even run
    w = randn(d_out, d_in, seed=10, scale=d_in ** -0.5)
    x = randn(*LEADING[lead], d_in, seed=11)
    y = adapters.run_linear(d_in, d_out, w, x)
    check("y", y, **TOL, hint="y = x Wᵀ with W of shape (d_out, d_in): einsum('...i,oi->...o', x, W); "
                              "keep every leading dimension of x")
    assert torch.allclose(y, x @ w.T, atol=1e-5, rtol=1e-5), (
        "Linear must compute x @ W.T (W is (d_out, d_in))")


def init_stats(w: torch.Tensor, sigma: float) -> dict[str, float]:
    z = w.detach().double() / sigma
    return {"mean": z.mean().item(), "std": z.std().item(), "max_abs": z.abs().max().item()}


def test_linear_init_truncated_normal(check):
    Linear = adapters.get_linear_class()
    torch.manual_seed(0)
    w = Linear(256, 512).weight
    sigma = math.sqrt(2 / (256 + 512))
    stats = init_stats(w, sigma)
    check("weight_shape", list(w.shape), hint="weight has shape (d_out, d_in), like nn.Linear")
    check("mean_over_sigma", stats["mean"], atol=0.02, hint="initialise with mean 0")
    check("std_over_sigma", stats["std"], atol=0.02,
          hint="σ² = 2 / (d_in + d_out); a normal truncated at ±3σ has a std of 0.987σ")
    check("within_3_sigma", stats["max_abs"] <= 3 + 1e-6,
          hint="truncate at ±3σ, e.g. nn.init.trunc_normal_(w, std=σ, a=-3σ, b=3σ)")
    check("dtype_kwarg", str(Linear(3, 5, dtype=torch.float64).weight.dtype),
          hint="pass device= and dtype= on to the torch.empty that creates the weight")
    assert abs(stats["std"] - TRUNC_STD) < 0.02 and stats["max_abs"] <= 3 + 1e-6, (
        f"weight/σ has std {stats['std']:.4f} (want {TRUNC_STD}) "
        f"and max |w|/σ {stats['max_abs']:.3f} (want <= 3)")


# --------------------------------------------------------------------------- Embedding

def test_embedding_matches_reference(dims, randn, check):
    V, d = dims["V"], dims["d"]
    w = randn(V, d, seed=20)
    ids = torch.randint(0, V, (dims["B"], dims["T"]), generator=torch.Generator().manual_seed(21))
    y = adapters.run_embedding(V, d, w, ids)
    check("y", y, **TOL, hint="y = W[ids]: one row of W per id, output shape ids.shape + (d,)")
    assert torch.equal(y, w[ids]), "Embedding must return the rows W[ids]"


def test_embedding_out_of_range_raises(dims, randn, check):
    V, d = 10, 4
    w = randn(V, d, seed=22)
    y = adapters.run_embedding(V, d, w, torch.tensor([0, 9]))
    check("valid_ids", y, **TOL)
    check.raises("id_equal_to_vocab", IndexError, adapters.run_embedding, V, d, w, torch.tensor([1, 10]))
    check.raises("negative_id", IndexError, adapters.run_embedding, V, d, w, torch.tensor([-1]))


def test_embedding_init_truncated_normal(check):
    Embedding = adapters.get_embedding_class()
    torch.manual_seed(1)
    w = Embedding(1000, 128).weight
    stats = init_stats(w, 1.0)
    check("weight_shape", list(w.shape), hint="weight has shape (num_embeddings, d)")
    check("mean", stats["mean"], atol=0.02, hint="initialise with mean 0")
    check("std", stats["std"], atol=0.02, hint="σ = 1 truncated at ±3 (std 0.987), whatever d is")
    check("within_3", stats["max_abs"] <= 3 + 1e-6,
          hint="truncate at ±3: nn.init.trunc_normal_(w, 0, 1, -3, 3)")


# --------------------------------------------------------------------------- RMSNorm

def rmsnorm_oracle(x: torch.Tensor, g: torch.Tensor, eps: float) -> torch.Tensor:
    x64 = x.double()
    return x64 / torch.sqrt(x64.pow(2).mean(-1, keepdim=True) + eps) * g.double()


def test_rmsnorm_matches_reference(dims, randn, check):
    d = dims["d"]
    x = randn(dims["B"], dims["T"], d, seed=30, scale=2.0)
    g = 1 + 0.1 * randn(d, seed=31)
    y = adapters.run_rmsnorm(d, 1e-5, g, x)
    check("y", y, **TOL, hint="y = x / sqrt(mean(x², over the LAST dim) + eps) * weight")
    assert torch.allclose(y.double(), rmsnorm_oracle(x, g, 1e-5), atol=1e-5), "RMSNorm normalises over dim -1"


def test_rmsnorm_zeros_give_zeros(dims, check):
    x = torch.zeros(2, 3, dims["d"])
    y = adapters.run_rmsnorm(dims["d"], 1e-5, torch.ones(dims["d"]), x)
    check("y", y, **TOL, hint="add eps inside the square root: 0 / sqrt(0 + eps) = 0, never 0 / 0")
    assert torch.isfinite(y).all(), "RMSNorm of zeros must be 0, not NaN: add eps before the square root"


def test_rmsnorm_small_inputs_eps_inside_sqrt(dims, randn, check):
    d = dims["d"]
    x = randn(3, 5, d, seed=32, scale=1e-3)  # mean(x²) ≈ 1e-6, comparable to eps
    y = adapters.run_rmsnorm(d, 1e-5, torch.ones(d), x)
    check("y", y, **TOL,
          hint="eps goes inside the square root: x / sqrt(mean(x²) + eps), not x / (rms + eps)")


def test_rmsnorm_fp16_upcast(dims, randn, check):
    d = dims["d"]
    x = randn(3, 5, d, seed=33, scale=500.0, dtype=torch.float16)  # x² overflows fp16 (max 65504)
    y = adapters.run_rmsnorm(d, 1e-5, torch.ones(d, dtype=torch.float16), x)
    check("y", y, atol=1e-2, rtol=1e-2,
          hint="compute the statistics in fp32 (x.float()), then cast the result back to the input dtype")
    assert y.dtype == torch.float16, "RMSNorm returns the input dtype"
    assert torch.isfinite(y).all() and y.abs().max() > 0.5, (
        "upcast to fp32 before squaring: 500² overflows fp16")


# --------------------------------------------------------------------------- SiLU and SwiGLU

def test_silu_matches_reference(dims, randn, check):
    x = randn(dims["B"], dims["T"], dims["d"], seed=40, scale=3.0)
    y = adapters.run_silu(x)
    check("y", y, **TOL, hint="silu(x) = x * sigmoid(x) (torch.sigmoid is allowed)")
    assert torch.allclose(y, x * torch.sigmoid(x), atol=1e-6), "silu(x) = x * sigmoid(x)"


def test_swiglu_matches_reference(dims, randn, check):
    d, d_ff = dims["d"], dims["d_ff"]
    w1 = randn(d_ff, d, seed=41, scale=d ** -0.5)
    w2 = randn(d, d_ff, seed=42, scale=d_ff ** -0.5)
    w3 = randn(d_ff, d, seed=43, scale=d ** -0.5)
    x = randn(dims["B"], dims["T"], d, seed=44)
    y = adapters.run_swiglu(d, d_ff, w1, w2, w3, x)
    check("y", y, **TOL,
          hint="SwiGLU(x) = W2 (silu(W1 x) * W3 x): the SiLU gate uses w1, the linear branch w3")
    gate = x @ w1.T
    assert torch.allclose(y, (gate * torch.sigmoid(gate) * (x @ w3.T)) @ w2.T, atol=1e-5), (
        "SwiGLU must compute W2 (silu(W1 x) ⊙ W3 x) with the state-dict keys w1.weight, w2.weight, w3.weight")


def test_swiglu_default_d_ff(check):
    SwiGLU = adapters.get_swiglu_class()
    for d in (64, 100, 200):
        shapes = {k: list(v.shape) for k, v in sorted(SwiGLU(d).state_dict().items())}
        check(f"shapes_d{d}", shapes, hint="default d_ff = 64 * ceil((8/3) * d / 64); w1, w3 are (d_ff, d), "
                                           "w2 is (d, d_ff)")


# --------------------------------------------------------------------------- softmax

@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_softmax_matches_reference(dim, dims, randn, check):
    x = randn(dims["B"], dims["T"], dims["d"], seed=50, scale=3.0)
    y = adapters.run_softmax(x, dim)
    check("y", y, **TOL, hint="exp(x - max) / sum(exp(x - max)), max and sum along `dim` with keepdim=True")
    assert torch.allclose(y.sum(dim), torch.ones(()), atol=1e-5), f"softmax must sum to 1 along dim {dim}"


def test_softmax_large_inputs_stable(dims, randn, check):
    x = randn(dims["T"], dims["d"], seed=51, scale=3.0)
    up = adapters.run_softmax(x + 1000.0, -1)
    down = adapters.run_softmax(x - 1000.0, -1)
    check("plus_1000", up, **TOL, hint="subtract the row maximum before exp: exp(1000) overflows to inf")
    check("minus_1000", down, **TOL, hint="subtract the row maximum before exp: exp(-1000) underflows to 0")
    assert torch.isfinite(up).all() and torch.isfinite(down).all(), "softmax(x ± 1000) must stay finite"


# --------------------------------------------------------------------------- from scratch

def test_layers_no_torch_shortcuts(dims, randn, check):
    d, d_ff = dims["d"], dims["d_ff"]
    x = randn(2, 3, d, seed=60)
    with ForbiddenCalls() as spy:
        adapters.run_linear(d, d_ff, randn(d_ff, d, seed=61), x)
        adapters.run_embedding(dims["V"], d, randn(dims["V"], d, seed=62), torch.tensor([[1, 2, 3]]))
        adapters.run_rmsnorm(d, 1e-5, torch.ones(d), x)
        w1, w2, w3 = randn(d_ff, d, seed=63), randn(d, d_ff, seed=64), randn(d_ff, d, seed=65)
        adapters.run_swiglu(d, d_ff, w1, w2, w3, x)
        adapters.run_softmax(x, -1)
    check("forbidden_calls", spy.calls,
          hint="write these units from tensor operations (einsum, matmul, "
               "indexing, exp, rsqrt); do not call the torch modules they replace")
    assert not spy.calls, f"from-scratch units called {spy.calls}"
