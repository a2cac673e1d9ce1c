"""Public tests of the pre-norm Transformer block and the language model (handout §6.1–§6.2).

Weights are seeded state dicts built by `_model_util` (never the student's initialisation). Values are
compared with the snapshots (recorded from the course's reference) at the composed tolerance of handout §8
(`1e-4` in fp32) and asserted against an independent fp64 forward pass written with torch built-ins
(`_model_util.oracle_block` / `oracle_lm`), so a failure says what differs. Structural tests check the
state-dict keys, the parameter count formula, tied embeddings, causality (a truncated input really feeds
fewer tokens), the length limit, and that decoding through KV caches equals the full forward (fp64, 1e-10).
Left out here (hidden suite): MQA, head_dim 24, T = 7, explicit position offsets and new seeds.
"""

import pytest
import torch

from assignment1_basics import adapters
from assignment1_basics.config import ModelConfig
from assignment1_basics.tests import _model_util as mu
from assignment1_basics.tests.forbidden import ForbiddenCalls

pytestmark = pytest.mark.a1_model

TOL = {"atol": 1e-4, "rtol": 1e-4}  # composed ops (block, LM logits) in fp32 (handout §8)
CACHE_TOL = 1e-10  # KV-cache decoding vs the full forward, fp64 (handout §8)

D, H, D_FF, THETA, EPS = 48, 4, 80, 10000.0, 1e-5  # head_dim 12
CFG = ModelConfig(vocab_size=211, context_length=24, d_model=D, n_layers=2, n_heads=H, n_kv_heads=2,
                  d_ff=D_FF)
TIED = ModelConfig(vocab_size=97, context_length=16, d_model=32, n_layers=2, n_heads=2, tie_embeddings=True)


def seeded_ids(cfg: ModelConfig, B: int, T: int, seed: int) -> torch.Tensor:
    return torch.randint(0, cfg.vocab_size, (B, T), generator=torch.Generator().manual_seed(seed))


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


# --------------------------------------------------------------------------- the block

@pytest.mark.parametrize("n_kv_heads", [H, 2], ids=["mha", "gqa"])
def test_block_matches_reference(n_kv_heads, randn, check):
    sd = mu.block_weights(D, H, n_kv_heads, D_FF, seed=200)
    x = randn(3, 11, D, seed=201)
    y = adapters.run_transformer_block(D, H, D_FF, 32, THETA, sd, x, n_kv_heads=n_kv_heads, eps=EPS)
    check("y", y, **TOL, hint="pre-norm: h = x + Attn(RMSNorm1(x)) (causal, interleaved RoPE on q and k), "
                              "y = h + SwiGLU(RMSNorm2(h))")
    want = mu.oracle_block(sd, x, H, n_kv_heads, THETA, EPS)
    err = max_err(y, want)
    assert y.shape == x.shape and err < 1e-4, (
        f"block output differs from h = x + Attn(RMSNorm1(x)), y = h + SwiGLU(RMSNorm2(h)) by {err:.2e}: "
        "normalise the input of each sub-layer, never the residual stream itself")


def test_block_zero_branches_identity(randn, check):
    sd = mu.block_weights(D, H, H, D_FF, seed=202)
    sd["attn.o_proj.weight"] = torch.zeros_like(sd["attn.o_proj.weight"])
    sd["ffn.w2.weight"] = torch.zeros_like(sd["ffn.w2.weight"])
    x = randn(2, 9, D, seed=203, scale=3.0)
    y = adapters.run_transformer_block(D, H, D_FF, 32, THETA, sd, x, eps=EPS)
    check("y", y, **TOL, hint="with both branches zeroed a pre-norm block is the identity")
    err = max_err(y, x)
    assert err < 1e-6, (
        f"with o_proj = 0 and w2 = 0 the block must return x unchanged (error {err:.2e}): the residual adds "
        "the branch to x itself (x + Attn(RMSNorm(x))), and no norm is applied after the addition")


def test_block_causal(randn, check):
    sd = mu.block_weights(D, H, 2, D_FF, seed=204)
    x = randn(2, 10, D, seed=205)
    x2 = x.clone()
    x2[:, 6:] = randn(2, 4, D, seed=206)  # change only the tokens after position 5
    y1 = adapters.run_transformer_block(D, H, D_FF, 32, THETA, sd, x, n_kv_heads=2, eps=EPS)
    y2 = adapters.run_transformer_block(D, H, D_FF, 32, THETA, sd, x2, n_kv_heads=2, eps=EPS)
    check("y_prefix", y2[:, :6], **TOL)
    err = max_err(y1[:, :6], y2[:, :6])
    assert err < 1e-6, (
        f"changing tokens 6… changed the outputs at positions 0…5 by {err:.2e}: attention must be causal")


# --------------------------------------------------------------------------- the language model

def test_lm_matches_reference(check):
    sd = mu.lm_weights(CFG, seed=210)
    ids = seeded_ids(CFG, 3, 17, seed=211)
    logits = adapters.run_transformer_lm(CFG, sd, ids)
    check("logits", logits, **TOL, hint="embedding → blocks → final RMSNorm (norm_f) → lm_head; "
                                        "the logits are not normalised (no softmax)")
    want = mu.oracle_lm(CFG, sd, ids)
    err = max_err(logits, want)
    assert logits.shape == (3, 17, CFG.vocab_size) and err < 1e-4, (
        f"LM logits differ from tok_emb → blocks → norm_f → lm_head by {err:.2e}")


def test_lm_tied_embeddings(check):
    sd = mu.lm_weights(TIED, seed=212)
    model = adapters.get_transformer_lm(TIED)
    keys = sorted(model.state_dict())
    check("has_lm_head", any(k.startswith("lm_head") for k in keys),
          hint="with tie_embeddings there is no lm_head parameter")
    ids = seeded_ids(TIED, 2, 13, seed=213)
    logits = adapters.run_transformer_lm(TIED, sd, ids)
    check("logits", logits, **TOL, hint="tied head: logits = norm_f(h) @ tok_emb.weight.T")
    err = max_err(logits, mu.oracle_lm(TIED, sd, ids))
    assert "lm_head.weight" not in keys and err < 1e-4, (
        f"tied embeddings: no lm_head key (found {[k for k in keys if 'lm_head' in k]}), and the logits "
        f"must be norm_f(h) @ tok_emb.weight.T (error {err:.2e})")


@pytest.mark.parametrize("cfg", [CFG, TIED], ids=["untied_gqa", "tied_mha"])
def test_lm_state_dict_keys(cfg, check):
    sd = adapters.get_transformer_lm(cfg).state_dict()
    shapes = {k: list(v.shape) for k, v in sorted(sd.items())}
    check("shapes", shapes, hint="names: tok_emb, blocks.{i}.norm1, blocks.{i}.attn.{q,k,v,o}_proj, "
                                 "blocks.{i}.norm2, blocks.{i}.ffn.{w1,w2,w3}, norm_f, lm_head "
                                 "(untied only); RoPE tables are non-persistent buffers")
    want = {k: list(v.shape) for k, v in sorted(mu.lm_weights(cfg, seed=0).items())}
    extra, missing = sorted(set(shapes) - set(want)), sorted(set(want) - set(shapes))
    assert shapes == want, (
        f"state_dict keys differ: unexpected {extra}, missing {missing}; register the RoPE tables with "
        "register_buffer(..., persistent=False) and keep the parameter names of handout §6")


@pytest.mark.parametrize("cfg", [
    CFG,
    TIED,
    ModelConfig(vocab_size=50, context_length=8, d_model=64, n_layers=3, n_heads=8, n_kv_heads=1),
], ids=["gqa", "tied", "mqa_default_dff"])
def test_lm_param_count(cfg, check):
    model = adapters.get_transformer_lm(cfg)
    n = sum(p.numel() for p in model.parameters())
    check("n_params", n,
          hint="V·d + L·(2d² + 2·d·G·d_h + 3·d·d_ff + 2d) + d + V·d (no head when tied)")
    want = mu.expected_param_count(cfg)
    assert n == want, f"{n} parameters, want {want} (handout §6.2 formula)"


def test_lm_truncated_input(check):
    sd = mu.lm_weights(CFG, seed=214)
    ids = seeded_ids(CFG, 2, 20, seed=215)
    model = adapters.get_transformer_lm(CFG, sd)
    full = model(ids)
    half = model(ids[:, :10])  # really fewer tokens: positions 10… are not in the input at all
    check("half", half, **TOL, hint="the logits at t depend only on tokens 0…t (causal mask)")
    err = max_err(half, full[:, :10])
    assert half.shape == (2, 10, CFG.vocab_size) and err < 1e-4, (
        f"logits of ids[:, :10] differ from the first 10 positions of the full input by {err:.2e}: "
        "the model must be causal and work for any T <= context_length")


def test_lm_too_long_raises(check):
    model = adapters.get_transformer_lm(CFG, mu.lm_weights(CFG, seed=216))
    ok = model(seeded_ids(CFG, 1, CFG.context_length, seed=217))
    check("full_length_shape", list(ok.shape), hint="T == context_length is allowed")
    check.raises("too_long", ValueError, model, seeded_ids(CFG, 1, CFG.context_length + 1, seed=218))


@pytest.mark.parametrize("chunks", [[1] * 13, [3, 3, 3, 3, 1], [5, 1, 4, 3]],
                         ids=["one_by_one", "threes", "mixed"])
def test_lm_kv_cache_matches_full(chunks, check):
    sd = mu.lm_weights(CFG, seed=219, dtype=torch.float64)
    model = adapters.get_transformer_lm(CFG, sd)
    ids = seeded_ids(CFG, 2, 13, seed=220)
    full = model(ids)
    cached = adapters.run_transformer_lm_cached(model, ids, chunks)
    check("cached", cached, atol=CACHE_TOL, rtol=CACHE_TOL,
          hint="with caches and no positions, a chunk sits at positions start + arange(T), "
               "start = the number of tokens already cached")
    err = max_err(cached, full)
    assert err < CACHE_TOL, (
        f"decoding through KV caches in chunks {chunks} differs from the full forward by {err:.2e}: "
        "new tokens must be rotated at their absolute positions (start + arange(T)) and attend to every "
        "cached token (bottom-right causal mask)")


def test_lm_no_torch_shortcuts(check):
    model = adapters.get_transformer_lm(CFG, mu.lm_weights(CFG, seed=221))
    ids = seeded_ids(CFG, 1, 9, seed=222)
    with ForbiddenCalls() as spy:
        model(ids)
    check("forbidden_calls", spy.calls, hint="build the model from your own layers and attention")
    assert not spy.calls, f"the model called {spy.calls}"
