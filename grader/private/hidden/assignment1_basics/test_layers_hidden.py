"""Hidden tests of the Transformer building blocks (handout §3): public tests on irregular shapes, new seeds.

Copied at grading time to assignment1_basics/tests/hidden/, so the public `randn` fixture applies. Shapes
are deliberately odd (T = 7, d = 37, d_ff = 53, leading dims 3 × 5 × 7) so that a unit which only works for
the canonical sizes, or mixes up two dimensions that happen to be equal, fails. Expected values come from
grader/private/snapshots. Left out: anything the public suite already checks on canonical sizes only.
"""

import pytest
import torch

from assignment1_basics import adapters
from assignment1_basics.tests.forbidden import ForbiddenCalls

pytestmark = pytest.mark.a1_layers

TOL = {"atol": 1e-5, "rtol": 1e-5}  # single op in fp32 (handout §8)


@pytest.mark.parametrize("lead", [(7,), (3, 7), (3, 5, 7)])
def test_linear_matches_reference(lead, randn, check):
    w = randn(23, 37, seed=110, scale=37 ** -0.5)
    y = adapters.run_linear(37, 23, w, randn(*lead, 37, seed=111))
    check("y", y, **TOL)


def test_linear_init_truncated_normal(check):
    torch.manual_seed(7)
    w = adapters.get_linear_class()(300, 101).weight.detach().double()
    sigma = (2 / 401) ** 0.5
    check("weight_shape", list(w.shape))
    check("std_over_sigma", (w.std() / sigma).item(), atol=0.02)
    check("within_3_sigma", (w.abs().max() / sigma).item() <= 3 + 1e-6)


def test_embedding_matches_reference(randn, check):
    w = randn(97, 13, seed=120)
    ids = torch.randint(0, 97, (3, 7), generator=torch.Generator().manual_seed(121))
    check("y", adapters.run_embedding(97, 13, w, ids), **TOL)
    check.raises("id_equal_to_vocab", IndexError, adapters.run_embedding, 97, 13, w, torch.tensor([[96, 97]]))


def test_rmsnorm_matches_reference(randn, check):
    x = randn(3, 7, 37, seed=130, scale=0.3)
    g = 1 + 0.2 * randn(37, seed=131)
    check("y", adapters.run_rmsnorm(37, 1e-6, g, x), **TOL)
    check("y_fp64", adapters.run_rmsnorm(37, 1e-5, g.double(), x.double()), atol=1e-12, rtol=1e-12)


def test_rmsnorm_bf16_upcast(randn, check):
    x = randn(5, 7, 24, seed=132, scale=30.0, dtype=torch.bfloat16)
    y = adapters.run_rmsnorm(24, 1e-5, torch.ones(24, dtype=torch.bfloat16), x)
    check("y", y, atol=2e-2, rtol=2e-2)
    check("dtype", str(y.dtype))


def test_swiglu_matches_reference(randn, check):
    d, d_ff = 37, 53
    w1, w2, w3 = randn(d_ff, d, seed=140), randn(d, d_ff, seed=141), randn(d_ff, d, seed=142)
    x = randn(3, 7, d, seed=143)
    y = adapters.run_swiglu(d, d_ff, w1 * d ** -0.5, w2 * d_ff ** -0.5, w3 * d ** -0.5, x)
    check("y", y, **TOL)


def test_swiglu_default_d_ff(check):
    for d in (24, 48, 96):
        sd = adapters.get_swiglu_class()(d).state_dict()
        check(f"shapes_d{d}", {k: list(v.shape) for k, v in sorted(sd.items())})


@pytest.mark.parametrize("dim", [-1, -2, 0])
def test_softmax_matches_reference(dim, randn, check):
    x = randn(3, 7, 37, seed=150, scale=5.0)
    check("y", adapters.run_softmax(x, dim), **TOL)
    check("y_plus_500", adapters.run_softmax(x + 500.0, dim), **TOL)


def test_silu_matches_reference(randn, check):
    check("y", adapters.run_silu(randn(3, 5, 7, seed=160, scale=6.0)), **TOL)


def test_layers_no_torch_shortcuts(randn, check):
    x = randn(3, 7, 37, seed=170)
    with ForbiddenCalls() as spy:
        adapters.run_linear(37, 23, randn(23, 37, seed=171), x)
        adapters.run_softmax(x, 0)
        adapters.run_rmsnorm(37, 1e-5, torch.ones(37), x)
        adapters.run_embedding(11, 37, randn(11, 37, seed=172), torch.tensor([0, 10]))
    check("forbidden_calls", spy.calls)
