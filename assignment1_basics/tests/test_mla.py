"""Public tests of multi-head latent attention, DeepSeek MLA (handout §5).

Expected values come from the snapshots (recorded from the course's reference) and every test also checks
the MLA equations directly against `mla_oracle`, an einsum implementation written here from DeepSeek-V2
§2.1 (RoPE through complex multiplication, as in DeepSeek-V3's `apply_rotary_emb`, so it shares no code
with `positional.py`). The dimensions are chosen so that the mistakes one can make give different numbers:
`d_n = 8, d_r = 4, d_v = 10` (the scales `(d_n + d_r)^-1/2`, `d_n^-1/2` and `(d_n + d_v)^-1/2` differ),
3 heads, T = 9 or 11 (chunks of 3 do not divide it). Tolerances (handout §8): composed fp32 1e-4,
naive vs absorbed fp64 1e-12, decoding with the cache vs the full forward fp64 1e-10.
Left out here (hidden suite): odd sizes, other seeds, the default positions of a cached call.
"""

import pytest
import torch

from assignment1_basics import adapters
from assignment1_basics.tests.forbidden import ForbiddenCalls

pytestmark = pytest.mark.a1_mla

TOL = {"atol": 1e-4, "rtol": 1e-4}      # composed op in fp32 (handout §8)
TOL64 = {"atol": 1e-10, "rtol": 1e-10}  # fp64 results compared with the reference's
THETA, MAX_LEN = 10000.0, 64
SIZES = {"d_model": 40, "n_heads": 3, "q_lora_rank": 20, "kv_lora_rank": 12, "qk_nope_head_dim": 8,
         "qk_rope_head_dim": 4, "v_head_dim": 10}
NO_Q_LORA = {**SIZES, "q_lora_rank": 0}
VARIANTS = {"q_lora": SIZES, "no_q_lora": NO_Q_LORA}
ORDER = ("d_model", "n_heads", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
         "v_head_dim")


# --------------------------------------------------------------------------- helpers written from the paper

def mla_shapes(s: dict) -> dict[str, list[int]]:
    """The parameter shapes of handout §5 (DeepSeek-V3 `MLA` names)."""
    d, H, r_q, d_c = s["d_model"], s["n_heads"], s["q_lora_rank"], s["kv_lora_rank"]
    d_n, d_r, d_v = s["qk_nope_head_dim"], s["qk_rope_head_dim"], s["v_head_dim"]
    shapes = {"wkv_a.weight": [d_c + d_r, d], "kv_norm.weight": [d_c], "wkv_b.weight": [H * (d_n + d_v), d_c],
              "wo.weight": [d, H * d_v]}
    if r_q:
        shapes.update({"wq_a.weight": [r_q, d], "q_norm.weight": [r_q],
                       "wq_b.weight": [H * (d_n + d_r), r_q]})
    else:
        shapes["wq.weight"] = [H * (d_n + d_r), d]
    return shapes


def mla_weights(randn, s: dict, seed: int, dtype=torch.float32, gain: float = 1.0) -> dict:
    """Seeded weights: matrices scaled by fan_in^-1/2 (times `gain`), norm gains near 1."""
    out = {}
    for i, (name, shape) in enumerate(sorted(mla_shapes(s).items())):
        if name.endswith("norm.weight"):
            out[name] = 1 + 0.1 * randn(*shape, seed=seed + i, dtype=dtype)
        else:
            out[name] = randn(*shape, seed=seed + i, dtype=dtype, scale=gain * shape[1] ** -0.5)
    return out


def rope_complex(z: torch.Tensor, pos: torch.Tensor, theta: float = THETA) -> torch.Tensor:
    """Interleaved RoPE as complex multiplication: pair (z[2i], z[2i+1]) times exp(i·pos·θ^(-2i/d))."""
    d = z.shape[-1]
    freqs = theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # (d/2,)
    angles = pos.to(torch.float64)[..., None] * freqs  # (T, d/2)
    zc = torch.view_as_complex(z.to(torch.float64).reshape(*z.shape[:-1], d // 2, 2).contiguous())
    return torch.view_as_real(zc * torch.polar(torch.ones_like(angles), angles)).flatten(-2)


def rms(z: torch.Tensor, g: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return z / torch.sqrt(z.pow(2).mean(-1, keepdim=True) + eps) * g


def mla_latents(w: dict, s: dict, x: torch.Tensor, pos: torch.Tensor):
    """c^KV = RMSNorm([W^DKV h]_:d_c) and k^R = RoPE([W^DKV h]_d_c:), in fp64: what the cache must hold."""
    w = {k: v.double() for k, v in w.items()}
    kv = x.double() @ w["wkv_a.weight"].T  # (B, T, d_c + d_r)
    d_c = s["kv_lora_rank"]
    return rms(kv[..., :d_c], w["kv_norm.weight"]), rope_complex(kv[..., d_c:], pos)


def mla_oracle(w: dict, s: dict, x: torch.Tensor, pos: torch.Tensor,
               scale: float | None = None) -> torch.Tensor:
    """DeepSeek-V2 §2.1 MLA, causal, in fp64, with per-head keys and values built explicitly."""
    w = {k: v.double() for k, v in w.items()}
    x = x.double()
    B, T, _ = x.shape
    H, d_n, d_r, d_v = s["n_heads"], s["qk_nope_head_dim"], s["qk_rope_head_dim"], s["v_head_dim"]
    if s["q_lora_rank"]:
        q = rms(x @ w["wq_a.weight"].T, w["q_norm.weight"]) @ w["wq_b.weight"].T
    else:
        q = x @ w["wq.weight"].T
    q = q.reshape(B, T, H, d_n + d_r)
    q_c, q_r = q[..., :d_n], rope_complex(q[..., d_n:].transpose(1, 2), pos)  # q_r: (B, H, T, d_r)
    c_kv, k_r = mla_latents(w, s, x, pos)  # (B, T, d_c), (B, T, d_r)
    kv = (c_kv @ w["wkv_b.weight"].T).reshape(B, T, H, d_n + d_v)
    k_c, v = kv[..., :d_n], kv[..., d_n:]
    scale = (d_n + d_r) ** -0.5 if scale is None else scale
    scores = (torch.einsum("bthn,bshn->bhts", q_c, k_c) + torch.einsum("bhtr,bsr->bhts", q_r, k_r)) * scale
    scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    o = torch.einsum("bhts,bshv->bthv", torch.softmax(scores, dim=-1), v).reshape(B, T, H * d_v)
    return o @ w["wo.weight"].T


def make_mla(s: dict, w: dict):
    """The student's module with weights `w` loaded, in w's dtype."""
    mla = adapters.get_mla_class()(*(s[k] for k in ORDER), rope_theta=THETA, max_seq_len=MAX_LEN,
                                   dtype=w["wkv_a.weight"].dtype)
    mla.load_state_dict(w)
    return mla


def run(s: dict, w: dict, x: torch.Tensor, **kw) -> torch.Tensor:
    return adapters.run_mla(*(s[k] for k in ORDER), w, x, rope_theta=THETA, max_seq_len=MAX_LEN, **kw)


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


# --------------------------------------------------------------------------- parameters

def test_mla_parameter_names_and_shapes(check):
    Mla = adapters.get_mla_class()
    for variant, s in VARIANTS.items():
        got = {k: list(v.shape) for k, v in sorted(Mla(*(s[k] for k in ORDER)).state_dict().items())}
        check(f"shapes_{variant}", got,
              hint="names and shapes of DeepSeek-V3's MLA: wq_a, q_norm, wq_b (only wq when "
                   "q_lora_rank = 0), wkv_a (d_c + d_r, d), kv_norm (d_c), wkv_b (H·(d_n + d_v), d_c), "
                   "wo (d, H·d_v); no biases, no buffers in the state dict")
        assert got == mla_shapes(s), f"{variant}: state dict {got}, want {mla_shapes(s)}"


def test_mla_invalid_sizes_raise(check):
    Mla = adapters.get_mla_class()
    check("valid_numel", sum(p.numel() for p in Mla(40, 3, 20, 12, 8, 4, 10).parameters()))
    check.raises("odd_rope_dim", ValueError, Mla, 40, 3, 20, 12, 8, 5, 10)
    check.raises("zero_kv_lora_rank", ValueError, Mla, 40, 3, 20, 0, 8, 4, 10)


# --------------------------------------------------------------------------- forward

@pytest.mark.parametrize("variant", list(VARIANTS))
def test_mla_matches_reference(variant, randn, check):
    s = VARIANTS[variant]
    w = mla_weights(randn, s, seed=300)
    x = randn(2, 9, s["d_model"], seed=310)
    y = run(s, w, x, positions=torch.arange(9))
    check("y", y, **TOL, hint="c^Q = RMSNorm(W^DQ h), q = W^UQ c^Q split per head into "
                              "[q^C (d_n) ; q^R (d_r)]; [c^KV ; k^R] = W^DKV h, c^KV normalised; "
                              "RoPE (interleaved) on q^R and k^R only; [k^C ; v] = W^UKV c^KV per head; "
                              "causal softmax; u = W^O [o_1; …; o_H]")
    err = max_err(y, mla_oracle(w, s, x, torch.arange(9)))
    assert err < 1e-4, f"MLA output differs from the einsum reference by {err:.2e} (see the hint above)"


def test_mla_scale(randn, check):
    s = SIZES
    w = mla_weights(randn, s, seed=320, dtype=torch.float64, gain=2.0)  # large scores: the scale matters
    x = randn(2, 9, s["d_model"], seed=321, dtype=torch.float64)
    pos = torch.arange(9)
    y = run(s, w, x, positions=pos)
    check("y", y, **TOL64, hint="scores are (q^C·k^C + q^R·k^R) / sqrt(d_n + d_r)")
    d_n, d_r, d_v = s["qk_nope_head_dim"], s["qk_rope_head_dim"], s["v_head_dim"]
    candidates = {"1/sqrt(d_n + d_r)": (d_n + d_r) ** -0.5, "1/sqrt(d_n)": d_n ** -0.5,
                  "1/sqrt(d_r)": d_r ** -0.5, "1/sqrt(d_v)": d_v ** -0.5,
                  "1/sqrt(d_n + d_v)": (d_n + d_v) ** -0.5,
                  "1/sqrt(d_model)": s["d_model"] ** -0.5, "no scale": 1.0}
    errs = {name: max_err(y, mla_oracle(w, s, x, pos, scale)) for name, scale in candidates.items()}
    best = min(errs, key=errs.get)
    assert errs["1/sqrt(d_n + d_r)"] < 1e-10, (
        f"the output matches the scale {best} best (error {errs[best]:.1e}); "
        f"MLA scales the scores by 1/sqrt(d_n + d_r) = 1/sqrt({d_n + d_r}), the size of the q·k product")


def test_mla_depends_on_relative_positions_only(randn, check):
    s = SIZES
    w = mla_weights(randn, s, seed=330, dtype=torch.float64)
    x = randn(2, 9, s["d_model"], seed=331, dtype=torch.float64)
    y0 = run(s, w, x, positions=torch.arange(9))
    y17 = run(s, w, x, positions=torch.arange(17, 26))
    check("y_from_17", y17, **TOL64, hint="rotate only q^R and k^R (the last d_r dims of each query head and "
                                          "of wkv_a's output), with the same positions for queries and keys")
    err = max_err(y0, y17)
    assert err < 1e-10, (
        f"shifting every position by 17 changed the output by {err:.1e}: with RoPE on q^R and k^R only, the "
        "scores depend on position differences alone. Do not rotate q^C or c^KV, and rotate k^R at the "
        "same positions as the queries")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_mla_absorbed_equals_naive(variant, randn, check):
    s = VARIANTS[variant]
    w = mla_weights(randn, s, seed=340, dtype=torch.float64)
    x = randn(3, 11, s["d_model"], seed=341, dtype=torch.float64)
    naive = run(s, w, x, positions=torch.arange(11), absorb=False)
    absorbed = run(s, w, x, positions=torch.arange(11), absorb=True)
    check("naive", naive, **TOL64)
    check("absorbed", absorbed, **TOL64,
          hint="absorbed: W^UK_i, W^UV_i = wkv_b.weight.view(H, d_n + d_v, d_c) split at d_n; "
               "q_lat = q^C W^UK_i (d_c), scores q_lat·c^KV + q^R·k^R, o_lat = P c^KV, o_i = o_lat W^UV_iᵀ")
    err = max_err(naive, absorbed)
    assert err < 1e-12, f"naive and absorbed paths differ by {err:.1e} in fp64 (must agree to 1e-12)"
    assert max_err(naive, mla_oracle(w, s, x, torch.arange(11))) < 1e-10, "the naive path is wrong"


# --------------------------------------------------------------------------- cache and decoding

def latent_cache(B: int, s: dict):
    return adapters.get_latent_kv_cache_class()(B, MAX_LEN, s["kv_lora_rank"], s["qk_rope_head_dim"],
                                                dtype=torch.float64)


@pytest.mark.parametrize("absorb", [False, True], ids=["naive", "absorbed"])
def test_mla_cache_holds_normed_latent_and_rotated_key(absorb, randn, check):
    s = SIZES
    w = mla_weights(randn, s, seed=350, dtype=torch.float64)
    x = randn(2, 7, s["d_model"], seed=351, dtype=torch.float64)
    mla, cache = make_mla(s, w), latent_cache(2, s)
    mla(x[:, :5], positions=torch.arange(5), kv_cache=cache, absorb=absorb)
    mla(x[:, 5:], positions=torch.arange(5, 7), kv_cache=cache, absorb=absorb)
    c_kv, k_rope = cache.get(7)
    check("length", int(cache.length), hint="each call appends its T tokens at start = kv_cache.length")
    check("c_kv", c_kv, **TOL64, hint="cache c^KV AFTER kv_norm (the first d_c outputs of wkv_a, normalised)")
    check("k_rope", k_rope, **TOL64, hint="cache k^R after RoPE at the token's own position: the last d_r "
                                          "outputs of wkv_a, rotated once, shared by every head")
    want_c, want_k = mla_latents(w, s, x, torch.arange(7))
    assert list(c_kv.shape) == [2, 7, 12] and list(k_rope.shape) == [2, 7, 4], (
        f"the cache holds (B, T, d_c) and (B, T, d_r), got {list(c_kv.shape)} and {list(k_rope.shape)}")
    assert max_err(c_kv, want_c) < 1e-10, "cached c^KV must be RMSNorm(first d_c outputs of wkv_a)"
    assert max_err(k_rope, want_k) < 1e-10, (
        "cached k^R must be RoPE(last d_r outputs of wkv_a) at the token's position")


def decode(s, w, x, chunk: int, absorb: bool) -> torch.Tensor:
    """Feed x through the student's module `chunk` tokens at a time with a latent cache."""
    mla, cache = make_mla(s, w), latent_cache(x.shape[0], s)
    outs = []
    for t in range(0, x.shape[1], chunk):
        piece = x[:, t:t + chunk]
        outs.append(mla(piece, positions=torch.arange(t, t + piece.shape[1]), kv_cache=cache, absorb=absorb))
    return torch.cat(outs, dim=1)


@pytest.mark.parametrize("chunk", [1, 3], ids=["one_token", "chunks_of_3"])
@pytest.mark.parametrize("absorb", [False, True], ids=["naive", "absorbed"])
def test_mla_decode_equals_full_forward(absorb, chunk, randn, check):
    s = SIZES
    w = mla_weights(randn, s, seed=360, dtype=torch.float64)
    x = randn(2, 11, s["d_model"], seed=361, dtype=torch.float64)
    full = run(s, w, x, positions=torch.arange(11), absorb=absorb)
    stepped = decode(s, w, x, chunk, absorb)
    check("stepped", stepped, **TOL64,
          hint="with a cache, the T new queries sit at absolute positions start … start + T − 1 and "
               "attend to all start + T cached tokens: query t sees key j iff j <= start + t "
               "(bottom-right causal alignment)")
    err = max_err(stepped, full)
    assert err < 1e-10, (
        f"decoding {chunk} token(s) at a time differs from the full causal forward by {err:.1e}: append the "
        "new c^KV and k^R at start = kv_cache.length, attend over cache.get(start + T), rotate with the "
        "given positions, and align the causal mask bottom-right (tril(diagonal=start))")


def test_mla_no_q_lora_decode(randn, check):
    s = NO_Q_LORA
    w = mla_weights(randn, s, seed=370, dtype=torch.float64)
    x = randn(2, 8, s["d_model"], seed=371, dtype=torch.float64)
    stepped = decode(s, w, x, 3, absorb=True)
    check("stepped", stepped, **TOL64, hint="q_lora_rank = 0: q = wq(h), no q_norm")
    assert max_err(stepped, mla_oracle(w, s, x, torch.arange(8))) < 1e-10, (
        "with q_lora_rank = 0 the query is wq(h) directly (no wq_a, q_norm, wq_b)")


# --------------------------------------------------------------------------- from scratch

def test_mla_no_torch_shortcuts(randn, check):
    s = SIZES
    w = mla_weights(randn, s, seed=380)
    x = randn(2, 5, s["d_model"], seed=381)
    mla = make_mla(s, w)
    cache = adapters.get_latent_kv_cache_class()(2, 8, s["kv_lora_rank"], s["qk_rope_head_dim"])
    with ForbiddenCalls() as spy:
        mla(x, positions=torch.arange(5))
        mla(x, positions=torch.arange(5), absorb=True)
        mla(x[:, :2], positions=torch.arange(2), kv_cache=cache, absorb=True)
    check("forbidden_calls", spy.calls,
          hint="build MLA from your Linear, RMSNorm, RoPE and softmax (or einsum/matmul/exp): "
               "no F.scaled_dot_product_attention, F.softmax, F.linear or F.rms_norm")
    assert not spy.calls, f"MLA called {spy.calls}"
