"""Hidden tests of attention and the KV cache (handout §4): public tests on odd shapes, new seeds, edge cases.

Copied at grading time to assignment1_basics/tests/hidden/, so the public fixtures apply; the oracles
(einsum attention with complex-number RoPE) are imported from the public module. Shapes are deliberately
irregular (T = 7, d_h = 24, 6 query heads in 3 groups, d_v ≠ d) so that a unit that only works when two
sizes coincide fails. Edge cases: more queries than keys (the first rows see nothing), bf16 inputs, biases,
per-row RoPE offsets during decoding, irregular chunks, cache reuse after `reset`. Expected values come
from grader/private/snapshots.
"""

import pytest
import torch
import torch.nn.functional as F

from assignment1_basics import adapters
from assignment1_basics.tests.test_attention import attention_oracle, attn_state_dict, qkv, random_mask, rope_tables

pytestmark = pytest.mark.a1_attention

TOL = {"atol": 1e-5, "rtol": 1e-5}
COMPOSED = {"atol": 1e-4, "rtol": 1e-4}
EXACT = {"atol": 1e-10, "rtol": 1e-10}


def masked_attention_oracle(q, k, v, allowed):
    """fp64 attention with repeat_interleave heads; rows with no allowed key give 0."""
    g = q.shape[-3] // k.shape[-3]
    k, v = k.double().repeat_interleave(g, dim=-3), v.double().repeat_interleave(g, dim=-3)
    scores = (q.double() @ k.transpose(-1, -2)) / q.shape[-1] ** 0.5
    scores = scores.masked_fill(~allowed, float("-inf"))
    empty = ~allowed.any(-1, keepdim=True)
    p = scores.masked_fill(empty, 0.0).softmax(-1).masked_fill(empty, 0.0)
    return p @ v


# --------------------------------------------------------------------------- SDPA

@pytest.mark.parametrize("Tq,Tk", [(7, 7), (3, 7), (1, 9)])
def test_sdpa_gqa_mask_causal_odd_shapes(Tq, Tk, randn, check):
    q = randn(2, 6, Tq, 24, seed=1100)
    k, v = randn(2, 3, Tk, 24, seed=1101), randn(2, 3, Tk, 20, seed=1102)
    mask = random_mask((2, 1, Tq, Tk), seed=1103, p_keep=0.8)
    y = adapters.run_scaled_dot_product_attention(q, k, v, mask=mask, is_causal=True)
    check("y", y, **TOL)
    allowed = mask & torch.ones(Tq, Tk, dtype=torch.bool).tril(Tk - Tq)
    assert torch.allclose(y.double(), masked_attention_oracle(q, k, v, allowed), **TOL)


def test_sdpa_more_queries_than_keys(randn, check):
    q, k, v = qkv(randn, (2,), 6, 2, 7, 4, 24, seed=1110)
    y = adapters.run_scaled_dot_product_attention(q, k, v, is_causal=True)
    check("y", y, **TOL)
    allowed = torch.ones(7, 4, dtype=torch.bool).tril(4 - 7)  # rows 0-2 see nothing
    assert torch.allclose(y.double(), masked_attention_oracle(q, k, v, allowed), **TOL)
    assert torch.isfinite(y).all()


def test_sdpa_fully_masked_rows_gqa_grad(randn, check):
    q, k, v = qkv(randn, (3,), 6, 3, 7, 7, 24, seed=1120, dtype=torch.float64)
    for t in (q, k, v):
        t.requires_grad_(True)
    mask = random_mask((3, 6, 7, 7), seed=1123)
    mask[0, 2] = False   # a whole head
    mask[1, :, 4] = False  # one query row in every head
    y = adapters.run_scaled_dot_product_attention(q, k, v, mask=mask, is_causal=True)
    (y * torch.linspace(-1, 1, 24, dtype=torch.float64)).sum().backward()
    check("y", y, **EXACT)
    check("grads", torch.stack([q.grad, k.grad.repeat_interleave(2, 1), v.grad.repeat_interleave(2, 1)]),
          **EXACT)


def test_sdpa_bf16(randn, check):
    q, k, v = qkv(randn, (2,), 4, 2, 7, 7, 24, seed=1130)
    y = adapters.run_scaled_dot_product_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), is_causal=True)
    check("y", y, atol=2e-2, rtol=2e-2)
    check("dtype", str(y.dtype))
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    assert torch.allclose(y.float(), want, atol=3e-2, rtol=3e-2)


def test_sdpa_leading_dims_gqa(randn, check):
    q, k, v = qkv(randn, (2, 3), 6, 2, 5, 7, 24, seed=1140)
    y = adapters.run_scaled_dot_product_attention(q, k, v, scale=0.2)
    check("y", y, **TOL)
    want = F.scaled_dot_product_attention(q, k, v, scale=0.2, enable_gqa=True)
    assert torch.allclose(y, want, **TOL)


# --------------------------------------------------------------------------- modules

def test_mha_bias_matches_einsum(randn, check):
    d, H, T = 72, 3, 7
    sd = attn_state_dict(randn, d, H, H, seed=1200, bias=True)
    x = randn(3, T, d, seed=1205)
    y = adapters.run_multihead_attention(d, H, sd, x, positions=torch.arange(T), rope=rope_tables(24, 16))
    check("y", y, **COMPOSED)
    assert torch.allclose(y, attention_oracle(x, sd, H, H, positions=torch.arange(T)), **COMPOSED)


@pytest.mark.parametrize("n_kv_heads", [1, 3, 6])
def test_gqa_odd_shapes_batched_positions(n_kv_heads, randn, check):
    d, H, T = 144, 6, 7
    sd = attn_state_dict(randn, d, H, n_kv_heads, seed=1210 + n_kv_heads)
    x = randn(2, T, d, seed=1219)
    positions = torch.stack([torch.arange(T) + 3, torch.arange(T) + 11])
    y = adapters.run_grouped_query_attention(d, H, n_kv_heads, sd, x, positions=positions,
                                             rope=rope_tables(24, 32))
    check("y", y, **COMPOSED)
    assert torch.allclose(y, attention_oracle(x, sd, H, n_kv_heads, positions=positions), **COMPOSED)


def test_gqa_key_padding_mask(randn, check):
    d, H, G, T = 144, 6, 3, 7
    sd = attn_state_dict(randn, d, H, G, seed=1220)
    x = randn(2, T, d, seed=1225)
    pad = torch.ones(2, 1, 1, T, dtype=torch.bool)
    pad[1, ..., 5:] = False  # row 1: the last two tokens are padding
    y = adapters.run_grouped_query_attention(d, H, G, sd, x, mask=pad, rope=rope_tables(24, 16))
    check("y", y, **COMPOSED)


def test_gqa_mha_to_gqa_bias(randn, check):
    d, H, G = 144, 6, 2
    sd = attn_state_dict(randn, d, H, H, seed=1230, bias=True)
    converted = adapters.run_mha_to_gqa(sd, H, G)
    check("shapes", {k: list(v.shape) for k, v in sorted(converted.items())})
    check("k_bias", converted["k_proj.bias"], **TOL)
    check("v_proj", converted["v_proj.weight"], **TOL)
    y = adapters.run_grouped_query_attention(d, H, G, converted, randn(2, 7, d, seed=1235))
    check("y", y, **COMPOSED)


def test_gqa_parameter_count_bias(check):
    gqa = adapters.get_attention_class("gqa")(144, 6, 3, bias=True)
    check("count", sum(p.numel() for p in gqa.parameters()))
    check("names", sorted(gqa.state_dict()))
    check.raises("sdpa_head_dims_differ", ValueError, adapters.run_scaled_dot_product_attention,
                 torch.zeros(1, 2, 3, 8), torch.zeros(1, 2, 3, 6), torch.zeros(1, 2, 3, 6))


# --------------------------------------------------------------------------- KV cache

@pytest.mark.parametrize("n_kv_heads", [6, 3, 1], ids=["mha", "gqa", "mqa"])
def test_kv_cache_irregular_chunks_batched_positions(n_kv_heads, randn, check):
    d, H, T, B = 144, 6, 7, 2
    attn = adapters.get_attention_class("gqa")(d, H, n_kv_heads, dtype=torch.float64)
    sd = attn_state_dict(randn, d, H, n_kv_heads, seed=1300 + n_kv_heads, dtype=torch.float64)
    attn.load_state_dict(sd)
    x = randn(B, T, d, seed=1309, dtype=torch.float64)
    positions = torch.stack([torch.arange(T), torch.arange(T) + 9])  # (B, T), per-row offsets
    tables = rope_tables(24, 32, dtype=torch.float64)
    cache = adapters.get_kv_cache_class()(3, 9, n_kv_heads, 24, dtype=torch.float64)
    outs, s = [], 0
    with torch.no_grad():
        full = attn(x, positions=positions, rope=tables)
        for n in (2, 1, 4):
            outs.append(attn(x[:, s:s + n], positions=positions[:, s:s + n], rope=tables, kv_cache=cache))
            s += n
    y = torch.cat(outs, dim=1)
    check("y", y, **EXACT)
    check("length", cache.length)
    assert torch.allclose(y, full, **EXACT)
    assert torch.allclose(full, attention_oracle(x, sd, H, n_kv_heads, positions=positions), **EXACT)


def test_kv_cache_reuse_after_reset(randn, check):
    d, H, G = 144, 6, 3
    attn = adapters.get_attention_class("gqa")(d, H, G, dtype=torch.float64)
    attn.load_state_dict(attn_state_dict(randn, d, H, G, seed=1320, dtype=torch.float64))
    tables = rope_tables(24, 16, dtype=torch.float64)
    cache = adapters.get_kv_cache_class()(4, 8, G, 24, dtype=torch.float64)
    with torch.no_grad():
        attn(randn(4, 6, d, seed=1321, dtype=torch.float64), rope=tables, kv_cache=cache)
        cache.reset()
        x = randn(1, 5, d, seed=1322, dtype=torch.float64)
        steps = torch.cat([attn(x[:, :2], rope=tables, kv_cache=cache)]
                          + [attn(x[:, t:t + 1], rope=tables, kv_cache=cache) for t in range(2, 5)], dim=1)
        full = attn(x, rope=tables)
    check("steps", steps, **EXACT)
    check("shapes", [list(t.shape) for t in cache.get()])
    assert torch.allclose(steps, full, **EXACT)


def test_kv_cache_overflow_through_attention(randn, check):
    d, H = 48, 4
    attn = adapters.get_attention_class("mqa")(d, H)
    cache = adapters.get_kv_cache_class()(1, 5, 1, 12)
    tables = rope_tables(12, 16)
    with torch.no_grad():
        attn(randn(1, 4, d, seed=1330), rope=tables, kv_cache=cache)
        check.raises("past_max_seq", ValueError, attn, randn(1, 2, d, seed=1331), rope=tables, kv_cache=cache)
        y = attn(randn(1, 1, d, seed=1332), rope=tables, kv_cache=cache)
    check("last_token_shape", list(y.shape))
    check("length", cache.length)


def test_kv_cache_latent_append_get(randn, check):
    cache = adapters.get_latent_kv_cache_class()(3, 9, 10, 6)
    c1, r1 = randn(2, 5, 10, seed=1340), randn(2, 5, 6, seed=1341)
    c2, r2 = randn(2, 2, 10, seed=1342), randn(2, 2, 6, seed=1343)
    cache.append(c1, r1, 0)
    cache.append(c2, r2, 5)
    c_kv, k_rope = cache.get()
    check("c_kv", c_kv, **TOL)
    check("k_rope", k_rope, **TOL)
    check("length_numel", [cache.length, cache.numel()])
    check("buffer_shapes", {n: list(b.shape) for n, b in sorted(cache.named_buffers())})
    check.raises("past_max_seq", ValueError, cache.append, c2, r2, 8)
    assert torch.equal(c_kv, torch.cat([c1, c2], 1)) and torch.equal(k_rope, torch.cat([r1, r2], 1))
