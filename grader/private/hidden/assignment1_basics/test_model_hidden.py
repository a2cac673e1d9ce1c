"""Hidden tests of the pre-norm block and the language model (handout §6.1–§6.2): odd shapes, new seeds.

Copied at grading time to assignment1_basics/tests/hidden/. Shapes are deliberately irregular (T = 7,
head_dim 24 with 3 heads, MQA, d_ff 100, V = 97, three layers) so that code which only works for the
public sizes, or mixes up two dimensions that happen to be equal there, fails. New here: explicit (and
per-row) position offsets, a tied GQA model, cache chunks with a batch of 3. Expected values come from
grader/private/snapshots; the independent fp64 forward of `_model_util` backs each value test.
"""

import pytest
import torch

from assignment1_basics import adapters
from assignment1_basics.config import ModelConfig
from assignment1_basics.tests import _model_util as mu

pytestmark = pytest.mark.a1_model

TOL = {"atol": 1e-4, "rtol": 1e-4}
D, H, D_FF = 72, 3, 100  # head_dim 24
MQA = ModelConfig(vocab_size=97, context_length=20, d_model=D, n_layers=3, n_heads=H, n_kv_heads=1, d_ff=D_FF,
                  rope_theta=500.0, norm_eps=1e-6)
TIED_GQA = ModelConfig(vocab_size=61, context_length=12, d_model=48, n_layers=2, n_heads=6, n_kv_heads=2,
                       tie_embeddings=True)


def ids_of(cfg: ModelConfig, B: int, T: int, seed: int) -> torch.Tensor:
    return torch.randint(0, cfg.vocab_size, (B, T), generator=torch.Generator().manual_seed(seed))


def err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


@pytest.mark.parametrize("n_kv_heads", [1, 3], ids=["mqa", "mha"])
def test_block_matches_reference(n_kv_heads, randn, check):
    sd = mu.block_weights(D, H, n_kv_heads, D_FF, seed=1200)
    x = randn(2, 7, D, seed=1201, scale=1.5)
    y = adapters.run_transformer_block(D, H, D_FF, 16, 500.0, sd, x, n_kv_heads=n_kv_heads, eps=1e-6)
    check("y", y, **TOL)
    assert err(y, mu.oracle_block(sd, x, H, n_kv_heads, 500.0, 1e-6)) < 1e-4


def test_block_batched_positions(randn, check):
    sd = mu.block_weights(D, H, 1, D_FF, seed=1202)
    x = randn(2, 7, D, seed=1203)
    pos = torch.stack([torch.arange(7) + 3, torch.arange(7) + 9])  # (B, T): a different offset per row
    y = adapters.run_transformer_block(D, H, D_FF, 16, 10000.0, sd, x, n_kv_heads=1, positions=pos)
    check("y", y, **TOL)
    assert err(y, mu.oracle_block(sd, x, H, 1, 10000.0, 1e-5, positions=pos)) < 1e-4


def test_lm_matches_reference(check):
    sd = mu.lm_weights(MQA, seed=1210)
    ids = ids_of(MQA, 2, 7, seed=1211)
    logits = adapters.run_transformer_lm(MQA, sd, ids)
    check("logits", logits, **TOL)
    assert err(logits, mu.oracle_lm(MQA, sd, ids)) < 1e-4


def test_lm_positions_offset(check):
    sd = mu.lm_weights(MQA, seed=1212)
    ids = ids_of(MQA, 2, 7, seed=1213)
    pos = torch.arange(7) + 11
    logits = adapters.run_transformer_lm(MQA, sd, ids, positions=pos)
    check("logits", logits, **TOL)
    assert err(logits, mu.oracle_lm(MQA, sd, ids, positions=pos)) < 1e-4


def test_lm_tied_embeddings(check):
    sd = mu.lm_weights(TIED_GQA, seed=1214)
    ids = ids_of(TIED_GQA, 3, 7, seed=1215)
    logits = adapters.run_transformer_lm(TIED_GQA, sd, ids)
    check("logits", logits, **TOL)
    check("keys", sorted(adapters.get_transformer_lm(TIED_GQA).state_dict()))
    assert err(logits, mu.oracle_lm(TIED_GQA, sd, ids)) < 1e-4


def test_lm_truncated_input(check):
    model = adapters.get_transformer_lm(MQA, mu.lm_weights(MQA, seed=1216))
    ids = ids_of(MQA, 2, 7, seed=1217)
    full, part = model(ids), model(ids[:, :3])
    check("part", part, **TOL)
    assert err(part, full[:, :3]) < 1e-4


def test_lm_context_limit(check):
    model = adapters.get_transformer_lm(TIED_GQA, mu.lm_weights(TIED_GQA, seed=1218))
    check("at_limit_shape", list(model(ids_of(TIED_GQA, 1, 12, seed=1219)).shape))
    check.raises("over_limit", ValueError, model, ids_of(TIED_GQA, 2, 13, seed=1220))


@pytest.mark.parametrize("chunks", [[2, 5, 2], [1] * 9, [9]], ids=["mixed", "one_by_one", "single"])
def test_lm_kv_cache_matches_full(chunks, check):
    model = adapters.get_transformer_lm(TIED_GQA, mu.lm_weights(TIED_GQA, seed=1221, dtype=torch.float64))
    ids = ids_of(TIED_GQA, 3, 9, seed=1222)
    full = model(ids)
    cached = adapters.run_transformer_lm_cached(model, ids, chunks)
    check("cached", cached, atol=1e-10, rtol=1e-10)
    assert err(cached, full) < 1e-10


@pytest.mark.parametrize("cfg", [
    MQA,
    TIED_GQA,
    ModelConfig(vocab_size=1000, context_length=32, d_model=96, n_layers=4, n_heads=6, n_kv_heads=3),
], ids=["mqa", "tied_gqa", "gqa_default_dff"])
def test_lm_structure(cfg, check):
    model = adapters.get_transformer_lm(cfg)
    n = sum(p.numel() for p in model.parameters())
    shapes = {k: list(v.shape) for k, v in sorted(model.state_dict().items())}
    check("n_params", n)
    check("shapes", shapes)
    assert n == mu.expected_param_count(cfg)
    assert shapes == {k: list(v.shape) for k, v in sorted(mu.lm_weights(cfg, seed=0).items())}
