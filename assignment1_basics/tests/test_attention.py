"""Public tests of attention and the KV cache (handout §4): SDPA, MHA, GQA, MQA, `mha_to_gqa`, `KVCache`.

Every test records its outputs with `check` (compared with snapshots of the course's reference at the
tolerances of handout §8) and also asserts against independent math written here, so that a failure says
what is wrong: `F.scaled_dot_product_attention` where its conventions agree with ours (equal query and key
lengths, top-left = bottom-right), an explicit `tril(diagonal=Tk − Tq)` mask where they do not, and a
plain-einsum attention with its own RoPE (complex rotation, as in Meta's Llama code) for the modules.
The decoding test compares the full causal forward with token-by-token and chunked decoding through the
cache in fp64 at 1e-10. Left out here (hidden suite): odd shapes (T = 7, d_h = 24, 6 heads in 3 groups),
biases, `Tq > Tk`, bf16 and new seeds.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from assignment1_basics import adapters
from assignment1_basics.tests.forbidden import ForbiddenCalls

pytestmark = pytest.mark.a1_attention

TOL = {"atol": 1e-5, "rtol": 1e-5}       # single op in fp32 (handout §8)
COMPOSED = {"atol": 1e-4, "rtol": 1e-4}  # MHA with RoPE in fp32
EXACT = {"atol": 1e-10, "rtol": 1e-10}   # fp64 decoding vs full forward
THETA = 10000.0


# --------------------------------------------------------------------------- independent oracles

def rope_tables(head_dim: int, max_pos: int, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin), each (max_pos, head_dim // 2): the `rope` argument of the attention modules."""
    theta = THETA ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(max_pos, dtype=torch.float64)[:, None] * theta
    return torch.cos(angles).to(dtype), torch.sin(angles).to(dtype)


def rope_oracle(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Interleaved RoPE as a complex product: (x[2i] + i·x[2i+1]) · exp(i·m·θ_i). x (B, H, T, d_h)."""
    d_h = x.shape[-1]
    theta = THETA ** (-torch.arange(0, d_h, 2, dtype=torch.float64) / d_h)
    angles = positions.double()[..., None] * theta  # (T, d/2) or (B, T, d/2)
    if angles.dim() == 3:
        angles = angles[:, None]  # broadcast over heads
    z = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d_h // 2, 2).contiguous())
    return torch.view_as_real(z * torch.polar(torch.ones_like(angles), angles)).flatten(-2).to(x.dtype)


def attention_oracle(x, sd, n_heads, n_kv_heads, *, positions=None, causal=True):
    """Self-attention from the state dict with einsum, explicit repeat_interleave and a plain softmax."""
    B, T, d = x.shape
    d_h = d // n_heads

    def proj(name, n):
        y = torch.einsum("btd,ed->bte", x, sd[f"{name}.weight"])
        if f"{name}.bias" in sd:
            y = y + sd[f"{name}.bias"]
        return y.view(B, T, n, d_h).transpose(1, 2)

    q, k, v = proj("q_proj", n_heads), proj("k_proj", n_kv_heads), proj("v_proj", n_kv_heads)
    if positions is not None:
        q, k = rope_oracle(q, positions), rope_oracle(k, positions)
    k = k.repeat_interleave(n_heads // n_kv_heads, dim=1)  # query head h reads kv head h // (H/G)
    v = v.repeat_interleave(n_heads // n_kv_heads, dim=1)
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(d_h)
    if causal:
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    o = torch.einsum("bhqk,bhkd->bhqd", scores.softmax(-1), v).transpose(1, 2).reshape(B, T, d)
    y = torch.einsum("btd,ed->bte", o, sd["o_proj.weight"])
    return y + sd["o_proj.bias"] if "o_proj.bias" in sd else y


def attn_state_dict(randn, d, n_heads, n_kv_heads, seed, dtype=torch.float32, bias=False):
    d_kv = n_kv_heads * (d // n_heads)
    sd = {"q_proj.weight": randn(d, d, seed=seed, scale=d ** -0.5, dtype=dtype),
          "k_proj.weight": randn(d_kv, d, seed=seed + 1, scale=d ** -0.5, dtype=dtype),
          "v_proj.weight": randn(d_kv, d, seed=seed + 2, scale=d ** -0.5, dtype=dtype),
          "o_proj.weight": randn(d, d, seed=seed + 3, scale=d ** -0.5, dtype=dtype)}
    if bias:
        for i, (name, n) in enumerate([("q_proj", d), ("k_proj", d_kv), ("v_proj", d_kv), ("o_proj", d)]):
            sd[f"{name}.bias"] = randn(n, seed=seed + 10 + i, scale=0.1, dtype=dtype)
    return sd


def qkv(randn, lead, Hq, Hkv, Tq, Tk, d, seed, dtype=torch.float32):
    return (randn(*lead, Hq, Tq, d, seed=seed, dtype=dtype),
            randn(*lead, Hkv, Tk, d, seed=seed + 1, dtype=dtype),
            randn(*lead, Hkv, Tk, d, seed=seed + 2, dtype=dtype))


def random_mask(shape, seed, p_keep=0.7):
    """A random bool mask (True = may attend) with at least one allowed key per row (column 0)."""
    m = torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) < p_keep
    m[..., 0] = True
    return m


# --------------------------------------------------------------------------- scaled dot-product attention

def test_sdpa_matches_torch_with_mask(dims, randn, check):
    B, H, T, d_h = dims["B"], dims["H"], dims["T"], dims["d_h"]
    q, k, v = qkv(randn, (B,), H, H, T, T, d_h, seed=100)
    mask = random_mask((B, H, T, T), seed=103)
    y = adapters.run_scaled_dot_product_attention(q, k, v, mask=mask)
    check("y", y, **TOL, hint="softmax(q kᵀ / sqrt(d) + M) v with M = 0 where mask is True and −inf where "
                              "it is False (True means 'may attend')")
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(y, want, **TOL), (
        "differs from F.scaled_dot_product_attention(attn_mask=mask): check the scale 1/sqrt(d) and that "
        "True in the bool mask means 'may attend'")


@pytest.mark.parametrize("heads", [(4, 4), (8, 2), (6, 1)], ids=["mha", "gqa", "mqa"])
def test_sdpa_causal_gqa_matches_torch(heads, dims, randn, check):
    Hq, Hkv = heads
    q, k, v = qkv(randn, (2,), Hq, Hkv, dims["T"], dims["T"], dims["d_h"], seed=110)
    y = adapters.run_scaled_dot_product_attention(q, k, v, is_causal=True)
    check("y", y, **TOL, hint="query head h reads key/value head h // (Hq // Hkv) (repeat_interleave), "
                              "not h % Hkv (repeat/tile)")
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    assert torch.allclose(y, want, **TOL), (
        "differs from F.scaled_dot_product_attention(is_causal=True, enable_gqa=True): query head h must "
        "use KV head h // (Hq // Hkv), and query i may see keys j <= i")


@pytest.mark.parametrize("Tq", [1, 5])
def test_sdpa_causal_bottom_right(Tq, dims, randn, check):
    Tk = dims["T"]
    q, k, v = qkv(randn, (2,), 4, 2, Tq, Tk, dims["d_h"], seed=120)
    y = adapters.run_scaled_dot_product_attention(q, k, v, is_causal=True)
    check("y", y, **TOL, hint="bottom-right alignment: query i is at position Tk − Tq + i and sees keys "
                              "j <= i + Tk − Tq, i.e. tril(diagonal=Tk − Tq); the last query sees every key")
    explicit = torch.ones(Tq, Tk, dtype=torch.bool).tril(diagonal=Tk - Tq)
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=explicit, enable_gqa=True)
    assert torch.allclose(y, want, **TOL), (
        f"with Tq={Tq} < Tk={Tk} the causal mask is tril(diagonal=Tk − Tq) (bottom-right); "
        "F.scaled_dot_product_attention(is_causal=True) uses top-left and is wrong for decoding")


def test_sdpa_mask_and_causal_combined(dims, randn, check):
    T = dims["T"]
    q, k, v = qkv(randn, (2,), 4, 4, T, T, dims["d_h"], seed=130)
    mask = random_mask((2, 1, T, T), seed=133)  # broadcast over heads
    y = adapters.run_scaled_dot_product_attention(q, k, v, mask=mask, is_causal=True)
    check("y", y, **TOL, hint="with both a mask and is_causal, a key is allowed only if both allow it (AND)")
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask & torch.ones(T, T, dtype=torch.bool).tril())
    assert torch.allclose(y, want, **TOL), "mask and the causal mask must be AND-ed"


def test_sdpa_custom_scale(dims, randn, check):
    q, k, v = qkv(randn, (2,), 4, 4, dims["T"], dims["T"], dims["d_h"], seed=140)
    y = adapters.run_scaled_dot_product_attention(q, k, v, scale=0.3)
    check("y", y, **TOL, hint="scale multiplies q kᵀ; only scale=None means 1/sqrt(d)")
    assert torch.allclose(y, F.scaled_dot_product_attention(q, k, v, scale=0.3), **TOL), "scale is ignored"


def test_sdpa_fully_masked_row_zero(dims, randn, check):
    T, d_h = dims["T"], dims["d_h"]
    q, k, v = qkv(randn, (2,), 4, 4, T, T, d_h, seed=150, dtype=torch.float64)
    q.requires_grad_(True)
    k.requires_grad_(True)
    mask = random_mask((2, 4, T, T), seed=153)
    mask[:, :, 3] = False  # query row 3 may attend to nothing
    y = adapters.run_scaled_dot_product_attention(q, k, v, mask=mask)
    y.sum().backward()
    check("y", y, atol=1e-10, rtol=1e-10, hint="a row with no allowed key outputs 0: replace a −inf row "
                                               "maximum by 0 and divide by max(denominator, tiny)")
    check("grad_q", q.grad, atol=1e-10, rtol=1e-10)
    check("grad_k", k.grad, atol=1e-10, rtol=1e-10)
    assert torch.isfinite(y).all() and torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all(), (
        "a fully masked row must give 0, not NaN (a plain softmax of an all −inf row is 0/0), "
        "and no NaN may reach the gradients")
    assert y[:, :, 3].abs().max() == 0 and q.grad[:, :, 3].abs().max() == 0, (
        "the fully masked row must output exactly 0 and get a zero gradient")


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_sdpa_gradcheck(causal, randn, check):
    q, k, v = (randn(1, 4, 3, seed=160 + i, dtype=torch.float64).requires_grad_(True) for i in range(3))
    mask = torch.tensor([[1, 0, 1, 1]] * 4, dtype=torch.bool)
    ok = torch.autograd.gradcheck(
        lambda a, b, c: adapters.run_scaled_dot_product_attention(a, b, c, mask=mask, is_causal=causal),
        (q, k, v), eps=1e-6, atol=1e-5)
    check("gradcheck", ok, hint="use differentiable torch operations only (no .detach() or in-place writes on "
                                "tensors that need a gradient, except the row maximum)")


@pytest.mark.parametrize("lead", [(), (3,), (2, 3)], ids=["none", "one", "two"])
def test_sdpa_leading_dims(lead, dims, randn, check):
    T, d_h = dims["T"], dims["d_h"]
    q = randn(*lead, 4, T, d_h, seed=170)
    k, v = randn(*lead, 4, T + 2, d_h, seed=171), randn(*lead, 4, T + 2, 8, seed=172)
    y = adapters.run_scaled_dot_product_attention(q, k, v)
    check("y", y, **TOL, hint="work on the last three dimensions (heads, tokens, features) and broadcast "
                              "over everything before them; d_v may differ from d")
    assert y.shape == (*lead, 4, T, 8), f"output shape {tuple(y.shape)}, want {(*lead, 4, T, 8)}"
    assert torch.allclose(y, F.scaled_dot_product_attention(q, k, v), **TOL)


# --------------------------------------------------------------------------- multi-head attention

@pytest.mark.parametrize("rope", [False, True], ids=["no_rope", "rope"])
def test_mha_matches_einsum_reference(rope, dims, randn, check):
    B, T, d, H = dims["B"], dims["T"], dims["d"], dims["H"]
    sd = attn_state_dict(randn, d, H, H, seed=200)
    x = randn(B, T, d, seed=205)
    positions = torch.arange(T) if rope else None
    tables = rope_tables(d // H, dims["max_len"]) if rope else None
    y = adapters.run_multihead_attention(d, H, sd, x, positions=positions, rope=tables)
    check("y", y, **COMPOSED, hint="split heads with view(B, T, H, d_h).transpose(1, 2), apply RoPE "
                                   "(interleaved) to q and k only, causal attention, merge heads, o_proj")
    want = attention_oracle(x, sd, H, H, positions=positions)
    assert torch.allclose(y, want, **COMPOSED), (
        "MultiHeadAttention differs from the einsum reference: q_proj/k_proj/v_proj/o_proj are y = x Wᵀ, "
        "head i is columns i·d_h … (i+1)·d_h − 1, RoPE rotates q and k (not v) after the head split")


def test_mha_rope_batched_positions(dims, randn, check):
    B, T, d, H = 3, 7, dims["d"], dims["H"]
    sd = attn_state_dict(randn, d, H, H, seed=210)
    x = randn(B, T, d, seed=215)
    positions = torch.stack([torch.arange(T) + s for s in (0, 5, 20)])  # (B, T)
    y = adapters.run_multihead_attention(d, H, sd, x, positions=positions, rope=rope_tables(d // H, 64))
    check("y", y, **COMPOSED, hint="positions (B, T) give each batch row its own offsets")
    assert torch.allclose(y, attention_oracle(x, sd, H, H, positions=positions), **COMPOSED)


def test_mha_parameter_count(dims, check):
    d, H = dims["d"], dims["H"]
    MHA = adapters.get_attention_class("mha")
    plain, biased = MHA(d, H), MHA(d, H, bias=True)
    count = sum(p.numel() for p in plain.parameters())
    check("names", sorted(plain.state_dict()), hint="q_proj, k_proj, v_proj, o_proj, each with a weight")
    check("shapes", {k: list(v.shape) for k, v in sorted(plain.state_dict().items())})
    check("count", count, hint="4 d² without bias")
    check("count_bias", sum(p.numel() for p in biased.parameters()), hint="4 d² + 4 d with bias=True")
    check("names_bias", sorted(biased.state_dict()), hint="with bias=True: q_proj.bias, … (like nn.Linear)")
    assert count == 4 * d * d, f"MHA has {count} parameters, want 4 d² = {4 * d * d}"


def test_mha_invalid_sizes_raise(check):
    MHA = adapters.get_attention_class("mha")
    check("valid", sorted(MHA(64, 8).state_dict()))
    check.raises("d_model_not_divisible", ValueError, MHA, 60, 8)
    check.raises("zero_heads", ValueError, MHA, 64, 0)


# --------------------------------------------------------------------------- grouped-query and multi-query

def test_gqa_full_groups_equals_mha(dims, randn, check):
    B, T, d, H = dims["B"], dims["T"], dims["d"], dims["H"]
    sd = attn_state_dict(randn, d, H, H, seed=300)
    x = randn(B, T, d, seed=305)
    tables = rope_tables(d // H, 64)
    gqa = adapters.run_grouped_query_attention(d, H, H, sd, x, rope=tables)
    mha = adapters.run_multihead_attention(d, H, sd, x, rope=tables)
    check("y", gqa, **COMPOSED, hint="with n_kv_heads = n_heads, GQA is MHA")
    assert torch.allclose(gqa, mha, atol=1e-6), "GQA with n_kv_heads == n_heads must equal MHA"


def test_gqa_single_group_equals_mqa(dims, randn, check):
    B, T, d, H = dims["B"], dims["T"], dims["d"], dims["H"]
    sd = attn_state_dict(randn, d, H, 1, seed=310)
    x = randn(B, T, d, seed=315)
    tables = rope_tables(d // H, 64)
    gqa = adapters.run_grouped_query_attention(d, H, 1, sd, x, rope=tables)
    mqa = adapters.run_multi_query_attention(d, H, sd, x, rope=tables)
    check("y", mqa, **COMPOSED, hint="MQA: one key and one value head (k_proj, v_proj are (d_h, d)) shared "
                                     "by every query head")
    assert torch.allclose(gqa, mqa, atol=1e-6), "MQA must equal GQA with n_kv_heads = 1"
    assert torch.allclose(mqa, attention_oracle(x, sd, H, 1, positions=torch.arange(T)), **COMPOSED)


@pytest.mark.parametrize("n_kv_heads", [1, 2, 4])
def test_gqa_matches_torch_sdpa(n_kv_heads, dims, randn, check):
    B, T, d, H = dims["B"], dims["T"], 96, 8
    sd = attn_state_dict(randn, d, H, n_kv_heads, seed=320 + n_kv_heads)
    x = randn(B, T, d, seed=329)
    y = adapters.run_grouped_query_attention(d, H, n_kv_heads, sd, x)
    check("y", y, **COMPOSED, hint="kv(h) = h // (H / G): the H/G consecutive query heads of a group share "
                                   "one K/V head")
    d_h = d // H
    q = (x @ sd["q_proj.weight"].T).view(B, T, H, d_h).transpose(1, 2)
    k = (x @ sd["k_proj.weight"].T).view(B, T, n_kv_heads, d_h).transpose(1, 2)
    v = (x @ sd["v_proj.weight"].T).view(B, T, n_kv_heads, d_h).transpose(1, 2)
    o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    want = o.transpose(1, 2).reshape(B, T, d) @ sd["o_proj.weight"].T
    assert torch.allclose(y, want, **COMPOSED), (
        "GQA differs from F.scaled_dot_product_attention(enable_gqa=True): query head h reads KV head "
        "h // (n_heads // n_kv_heads) (repeat_interleave), not h % n_kv_heads")


def test_gqa_mha_to_gqa_identical_heads(dims, randn, check):
    B, T, d, H, G = dims["B"], dims["T"], dims["d"], dims["H"], 2
    d_h, g = d // H, H // G
    sd = attn_state_dict(randn, d, H, H, seed=330)
    for name in ("k_proj.weight", "v_proj.weight"):  # heads identical within each group of g
        w = sd[name].view(H, d_h, d)
        sd[name] = w[::g].repeat_interleave(g, dim=0).reshape(d, d)
    converted = adapters.run_mha_to_gqa(dict(sd), H, G)
    check("k_proj", converted["k_proj.weight"], **TOL, hint="mean of the g consecutive K heads of a group")
    check("v_proj", converted["v_proj.weight"], **TOL)
    x = randn(B, T, d, seed=335)
    tables = rope_tables(d_h, 64)
    mha = adapters.run_multihead_attention(d, H, sd, x, rope=tables)
    gqa = adapters.run_grouped_query_attention(d, H, G, converted, x, rope=tables)
    check("y", gqa, **COMPOSED)
    assert torch.allclose(gqa, mha, **COMPOSED), (
        "an MHA whose K/V heads are identical within each group must give the same output after mha_to_gqa: "
        "mean-pool (not sum) the heads h = kv·g … kv·g + g − 1")


def test_gqa_mha_to_gqa_mean_pool(dims, randn, check):
    d, H, G = dims["d"], dims["H"], 2
    d_h = d // H
    sd = attn_state_dict(randn, d, H, H, seed=340)
    before = {k: v.clone() for k, v in sd.items()}
    converted = adapters.run_mha_to_gqa(sd, H, G)
    check("shapes", {k: list(v.shape) for k, v in sorted(converted.items())},
          hint="k_proj and v_proj become (n_kv_heads · d_h, d); q_proj and o_proj are unchanged")
    check("k_proj", converted["k_proj.weight"], **TOL)
    want = sd["k_proj.weight"].view(G, H // G, d_h, d).mean(1).reshape(G * d_h, d)
    assert torch.allclose(converted["k_proj.weight"], want, **TOL), "K heads are mean-pooled per group"
    assert all(torch.equal(before[k], sd[k]) for k in sd), "mha_to_gqa must not modify its input"


@pytest.mark.parametrize("n_kv_heads", [1, 2, 4])
def test_gqa_parameter_count(n_kv_heads, dims, check):
    d, H = dims["d"], dims["H"]
    d_h = d // H
    gqa = adapters.get_attention_class("gqa")(d, H, n_kv_heads)
    count = sum(p.numel() for p in gqa.parameters())
    check("shapes", {k: list(v.shape) for k, v in sorted(gqa.state_dict().items())},
          hint="q_proj (H·d_h, d), k_proj and v_proj (G·d_h, d), o_proj (d, H·d_h)")
    check("count", count, hint="2 d² + 2 · d · G · d_h")
    assert count == 2 * d * d + 2 * d * n_kv_heads * d_h


def test_mqa_parameter_count(dims, check):
    d, H = dims["d"], dims["H"]
    mqa = adapters.get_attention_class("mqa")(d, H)
    check("shapes", {k: list(v.shape) for k, v in sorted(mqa.state_dict().items())},
          hint="MQA: k_proj and v_proj are (d_h, d)")
    check("count", sum(p.numel() for p in mqa.parameters()), hint="2 d² + 2 · d · d_h")


def test_gqa_invalid_sizes_raise(check):
    GQA = adapters.get_attention_class("gqa")
    check("valid", sorted(GQA(64, 4, 2).state_dict()))
    check.raises("heads_not_divisible_by_groups", ValueError, GQA, 64, 4, 3)
    check.raises("d_model_not_divisible", ValueError, GQA, 66, 4, 2)
    check.raises("sdpa_heads_not_divisible", ValueError, adapters.run_scaled_dot_product_attention,
                 torch.zeros(1, 4, 2, 8), torch.zeros(1, 3, 2, 8), torch.zeros(1, 3, 2, 8))


# --------------------------------------------------------------------------- KV cache

KINDS = {"mha": 4, "gqa": 2, "mqa": 1}  # kind -> n_kv_heads with H = 4


def build_attention(kind, d, H, randn, seed):
    G = KINDS[kind]
    module = (adapters.get_attention_class(kind)(d, H, G, dtype=torch.float64) if kind == "gqa"
              else adapters.get_attention_class(kind)(d, H, dtype=torch.float64))
    module.load_state_dict(attn_state_dict(randn, d, H, G, seed=seed, dtype=torch.float64))
    return module


@pytest.mark.parametrize("kind", list(KINDS))
def test_kv_cache_decoding_matches_full(kind, dims, randn, check):
    B, T, d, H = 2, 10, 48, 4
    d_h, G = d // H, KINDS[kind]
    attn = build_attention(kind, d, H, randn, seed=400)
    x = randn(B, T, d, seed=405, dtype=torch.float64)
    tables = rope_tables(d_h, 32, dtype=torch.float64)
    KVCache = adapters.get_kv_cache_class()
    with torch.no_grad():
        full = attn(x, rope=tables)
        cache = KVCache(B + 1, 16, G, d_h, dtype=torch.float64)  # max_batch > B: use only B rows
        steps = [attn(x[:, t:t + 1], positions=torch.arange(t, t + 1), rope=tables, kv_cache=cache)
                 for t in range(T)]
        length_after = cache.length
        cache.reset()
        chunks = [attn(x[:, s:s + 3], positions=torch.arange(s, min(s + 3, T)), rope=tables, kv_cache=cache)
                  for s in range(0, T, 3)]
    one_at_a_time, chunked = torch.cat(steps, dim=1), torch.cat(chunks, dim=1)
    check("one_at_a_time", one_at_a_time, **EXACT,
          hint="append the new k, v (after RoPE) at start_pos = cache.length, attend over cache.get(), and use "
               "bottom-right causal alignment (the new token sees every cached token)")
    check("chunked", chunked, **EXACT, hint="a chunk of 3 tokens sees the cache plus a causal 3×3 block: "
                                            "tril(diagonal=Tk − Tq)")
    check("length", [length_after, cache.length], hint="length counts the tokens written so far")
    assert torch.allclose(one_at_a_time, full, **EXACT), (
        "decoding one token at a time with the cache must equal the full causal forward (fp64, 1e-10)")
    assert torch.allclose(chunked, full, **EXACT), "decoding in chunks of 3 must equal the full forward"
    assert torch.allclose(full, attention_oracle(x, attn.state_dict(), H, G, positions=torch.arange(T)),
                          **EXACT)


def test_kv_cache_default_positions_offset(dims, randn, check):
    B, T, d, H = 2, 8, 48, 4
    attn = build_attention("gqa", d, H, randn, seed=410)
    x = randn(B, T, d, seed=415, dtype=torch.float64)
    tables = rope_tables(d // H, 32, dtype=torch.float64)
    cache = adapters.get_kv_cache_class()(B, T, KINDS["gqa"], d // H, dtype=torch.float64)
    with torch.no_grad():
        full = attn(x, rope=tables)
        steps = torch.cat([attn(x[:, :5], rope=tables, kv_cache=cache)]
                          + [attn(x[:, t:t + 1], rope=tables, kv_cache=cache) for t in range(5, T)], dim=1)
    check("steps", steps, **EXACT, hint="without positions, RoPE positions start at cache.length, not at 0")
    assert torch.allclose(steps, full, **EXACT), (
        "with a cache and positions=None, use positions cache.length + arange(T) for RoPE")


def test_kv_cache_numel_formula(check):
    B, T, d_h = 3, 5, 8
    KVCache, Latent = adapters.get_kv_cache_class(), adapters.get_latent_kv_cache_class()
    counts = {}
    for name, G in (("mha", 6), ("gqa", 2), ("mqa", 1)):
        cache = KVCache(4, 16, G, d_h)
        cache.append(torch.zeros(B, G, T, d_h), torch.zeros(B, G, T, d_h), 0)
        counts[name] = cache.numel()
        assert counts[name] == 2 * B * G * T * d_h, (
            f"{name}: numel() = {counts[name]}, want 2·B·G·T·d_h = {2 * B * G * T * d_h} (elements in use, "
            "not the whole pre-allocated buffer)")
    latent = Latent(4, 16, 12, 4)
    latent.append(torch.zeros(B, T, 12), torch.zeros(B, T, 4), 0)
    counts["mla"] = latent.numel()
    check("numel", counts, hint="KV: 2 · B · n_kv_heads · T · d_h; MLA: B · T · (d_c + d_r)")
    check("latent_buffers", sorted(name for name, _ in latent.named_buffers()),
          hint="LatentKVCache registers exactly two buffers, c_kv and k_rope")
    check("latent_state_dict", sorted(latent.state_dict()), hint="register the buffers with persistent=False")
    assert counts["mla"] == B * T * 16


def test_kv_cache_overflow_raises(randn, check):
    KVCache = adapters.get_kv_cache_class()
    cache = KVCache(2, 6, 2, 4)
    cache.append(randn(2, 2, 4, 4, seed=420), randn(2, 2, 4, 4, seed=421), 0)
    check.raises("past_max_seq", ValueError, cache.append,
                 randn(2, 2, 3, 4, seed=422), randn(2, 2, 3, 4, seed=423), 4)
    check("length_unchanged", cache.length, hint="a failed append must not change the cache")
    cache.append(randn(2, 2, 2, 4, seed=424), randn(2, 2, 2, 4, seed=425), 4)  # exactly fills max_seq
    check("length_full", cache.length)
    check.raises("one_more", ValueError, cache.append,
                 randn(2, 2, 1, 4, seed=426), randn(2, 2, 1, 4, seed=427), 6)
    latent = adapters.get_latent_kv_cache_class()(1, 3, 5, 2)
    check.raises("latent_past_max_seq", ValueError, latent.append, torch.zeros(1, 4, 5), torch.zeros(1, 4, 2), 0)


def test_kv_cache_append_and_get(randn, check):
    KVCache = adapters.get_kv_cache_class()
    cache = KVCache(3, 10, 2, 4)
    k1, v1 = randn(2, 2, 4, 4, seed=430), randn(2, 2, 4, 4, seed=431)
    k2, v2 = randn(2, 2, 3, 4, seed=432), randn(2, 2, 3, 4, seed=433)
    cache.append(k1, v1, 0)
    cache.append(k2, v2, 4)
    k, v = cache.get(7)
    check("k", k, **TOL, hint="get(upto) returns k[:B, :, :upto] with B the batch actually appended")
    check("v", v, **TOL)
    check("length", cache.length)
    assert torch.equal(k, torch.cat([k1, k2], dim=2)) and torch.equal(v, torch.cat([v1, v2], dim=2)), (
        "append(k, v, start_pos) writes at positions start_pos … start_pos + T − 1 along dim 2")
    assert cache.length == 7, f"length is {cache.length} after 4 + 3 tokens"
    check("get_prefix", cache.get(2)[0], **TOL, hint="get(upto) keeps only the first upto positions")
    cache.reset()
    check("length_after_reset", cache.length, hint="reset() sets length to 0")


def test_kv_cache_get_returns_views(randn, check):
    cache = adapters.get_kv_cache_class()(2, 8, 2, 4)
    cache.append(randn(2, 2, 5, 4, seed=440), randn(2, 2, 5, 4, seed=441), 0)
    k, v = cache.get(5)
    shares = [k.untyped_storage().data_ptr() == cache.k.untyped_storage().data_ptr(),
              v.untyped_storage().data_ptr() == cache.v.untyped_storage().data_ptr()]
    k[0, 0, 0, 0] = 123.0
    seen = cache.get(5)[0][0, 0, 0, 0].item()
    check("shares_storage", shares, hint="return slices of the buffers (k[:B, :, :upto]), not .clone() copies")
    check("write_through_view", seen)
    assert all(shares) and seen == 123.0, "get must return views of the cache buffers, not copies"
    latent = adapters.get_latent_kv_cache_class()(2, 8, 6, 2)
    latent.append(randn(2, 3, 6, seed=442), randn(2, 3, 2, seed=443), 0)
    c_kv, k_rope = latent.get(3)
    check("latent_views", [c_kv.untyped_storage().data_ptr() == latent.c_kv.untyped_storage().data_ptr(),
                           k_rope.untyped_storage().data_ptr() == latent.k_rope.untyped_storage().data_ptr(),
                           list(c_kv.shape), list(k_rope.shape)])


# --------------------------------------------------------------------------- from scratch

def test_attention_no_torch_shortcuts(dims, randn, check):
    d, H = dims["d"], dims["H"]
    q, k, v = qkv(randn, (2,), 4, 2, 5, 5, 8, seed=500)
    x = randn(2, 5, d, seed=505)
    tables = rope_tables(d // H, 16)
    with ForbiddenCalls() as spy:
        adapters.run_scaled_dot_product_attention(q, k, v, is_causal=True)
        adapters.run_grouped_query_attention(d, H, 2, attn_state_dict(randn, d, H, 2, seed=510), x, rope=tables)
        attn = adapters.get_attention_class("mha")(d, H)
        cache = adapters.get_kv_cache_class()(2, 8, H, d // H)
        with torch.no_grad():
            attn(x, rope=tables, kv_cache=cache)
    check("forbidden_calls", spy.calls, hint="write attention from matmul/einsum, exp and sums; do not call "
                                             "F.scaled_dot_product_attention or F.softmax / Tensor.softmax")
    assert not spy.calls, f"attention called {spy.calls}"
