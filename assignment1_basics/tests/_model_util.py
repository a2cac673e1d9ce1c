"""Helpers of the model and decoding tests (handout §6): seeded weights and an independent forward pass.

- `block_weights` / `lm_weights` build a seeded state dict with the parameter names of handout §6, so the
  value tests never depend on a student's initialisation. Linear weights are scaled by `d_in^-1/2` and
  norm gains are `1 + 0.1·N(0, 1)`, which keeps activations of order 1 through a few layers.
- `oracle_block` / `oracle_lm` compute the same model in fp64 without any code of the package under test:
  RMSNorm from its formula, RoPE with complex numbers (Llama's `torch.polar` formulation, pair i =
  `(x[2i], x[2i+1])`), attention with `F.scaled_dot_product_attention(is_causal=True, enable_gqa=...)`,
  SwiGLU with `F.silu`.

- `nucleus`, `chi_square` and `SumModel` serve the decoding tests: the nucleus of handout §6.3 computed
  in fp64 with Python's stable `sorted`, Pearson's statistic, and a stand-in model whose greedy output
  is `sum(last context_length tokens) mod V` (`sum_model_tokens`).

Left out: anything with a KV cache (`F.scaled_dot_product_attention` aligns causal masks top-left when the
query and key lengths differ, so the cache tests compare against the model's own full forward instead).
"""

import collections

import torch
import torch.nn.functional as F
from torch import nn

from assignment1_basics.config import ModelConfig


def _randn(gen: torch.Generator, *shape: int, scale: float, dtype: torch.dtype) -> torch.Tensor:
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).to(dtype)


def block_weights(d: int, n_heads: int, n_kv_heads: int, d_ff: int, seed: int,
                  dtype: torch.dtype = torch.float32, prefix: str = "",
                  gen: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """A seeded state dict of one block: norm1, attn.{q,k,v,o}_proj, norm2, ffn.{w1,w2,w3}."""
    gen = torch.Generator().manual_seed(seed) if gen is None else gen
    d_h = d // n_heads
    shapes = {
        "norm1.weight": (d,),
        "attn.q_proj.weight": (n_heads * d_h, d),
        "attn.k_proj.weight": (n_kv_heads * d_h, d),
        "attn.v_proj.weight": (n_kv_heads * d_h, d),
        "attn.o_proj.weight": (d, n_heads * d_h),
        "norm2.weight": (d,),
        "ffn.w1.weight": (d_ff, d),
        "ffn.w2.weight": (d, d_ff),
        "ffn.w3.weight": (d_ff, d),
    }
    out = {}
    for name, shape in shapes.items():
        if len(shape) == 1:  # a norm gain
            out[prefix + name] = 1 + _randn(gen, *shape, scale=0.1, dtype=dtype)
        else:
            out[prefix + name] = _randn(gen, *shape, scale=shape[1] ** -0.5, dtype=dtype)
    return out


def lm_weights(cfg: ModelConfig, seed: int, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """A seeded state dict of a TransformerLM: tok_emb, blocks.{i}.*, norm_f and lm_head (untied only)."""
    gen = torch.Generator().manual_seed(seed)
    d, V = cfg.d_model, cfg.vocab_size
    out = {"tok_emb.weight": _randn(gen, V, d, scale=1.0, dtype=dtype)}
    for i in range(cfg.n_layers):
        out.update(block_weights(d, cfg.n_heads, cfg.kv_heads, cfg.ffn_dim, seed, dtype,
                                 prefix=f"blocks.{i}.", gen=gen))
    out["norm_f.weight"] = 1 + _randn(gen, d, scale=0.1, dtype=dtype)
    if not cfg.tie_embeddings:
        out["lm_head.weight"] = _randn(gen, V, d, scale=d ** -0.5, dtype=dtype)
    return out


# ---------------------------------------------------------------------------------------------------
# The independent forward pass (fp64)


def rmsnorm(x: torch.Tensor, g: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g


def rope_complex(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    """RoPE as a complex product: pair i = x[2i] + i·x[2i+1] times exp(i·m·θ^(−2i/d)); x (B, H, T, d)."""
    d = x.shape[-1]
    freqs = theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # (d/2,)
    angles = positions.to(torch.float64)[..., None] * freqs  # (T, d/2) or (B, T, d/2)
    rot = torch.polar(torch.ones_like(angles), angles)
    if positions.dim() == 2:
        rot = rot[:, None]  # (B, 1, T, d/2): the same rotation for every head
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], d // 2, 2).contiguous())
    return torch.view_as_real(xc * rot).flatten(-2)


def oracle_block(sd: dict[str, torch.Tensor], x: torch.Tensor, n_heads: int, n_kv_heads: int, theta: float,
                 eps: float, positions: torch.Tensor | None = None, prefix: str = "") -> torch.Tensor:
    """`h = x + Attn(RMSNorm1(x))`, `y = h + SwiGLU(RMSNorm2(h))` in fp64; x (B, T, d)."""
    w = {k[len(prefix):]: v.to(torch.float64) for k, v in sd.items() if k.startswith(prefix)}
    x = x.to(torch.float64)
    B, T, d = x.shape
    d_h = d // n_heads
    positions = torch.arange(T) if positions is None else positions
    a = rmsnorm(x, w["norm1.weight"], eps)
    q = (a @ w["attn.q_proj.weight"].T).view(B, T, n_heads, d_h).transpose(1, 2)
    k = (a @ w["attn.k_proj.weight"].T).view(B, T, n_kv_heads, d_h).transpose(1, 2)
    v = (a @ w["attn.v_proj.weight"].T).view(B, T, n_kv_heads, d_h).transpose(1, 2)
    q, k = rope_complex(q, positions, theta), rope_complex(k, positions, theta)
    o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=n_kv_heads != n_heads)
    h = x + o.transpose(1, 2).reshape(B, T, d) @ w["attn.o_proj.weight"].T
    b = rmsnorm(h, w["norm2.weight"], eps)
    return h + (F.silu(b @ w["ffn.w1.weight"].T) * (b @ w["ffn.w3.weight"].T)) @ w["ffn.w2.weight"].T


def oracle_lm(cfg: ModelConfig, sd: dict[str, torch.Tensor], ids: torch.Tensor,
              positions: torch.Tensor | None = None) -> torch.Tensor:
    """Logits (B, T, V) in fp64: embedding, the blocks, the final norm, lm_head (or tok_embᵀ when tied)."""
    x = sd["tok_emb.weight"].to(torch.float64)[ids]
    for i in range(cfg.n_layers):
        x = oracle_block(sd, x, cfg.n_heads, cfg.kv_heads, cfg.rope_theta, cfg.norm_eps, positions,
                         prefix=f"blocks.{i}.")
    x = rmsnorm(x, sd["norm_f.weight"].to(torch.float64), cfg.norm_eps)
    head = sd["tok_emb.weight"] if cfg.tie_embeddings else sd["lm_head.weight"]
    return x @ head.to(torch.float64).T


def expected_param_count(cfg: ModelConfig) -> int:
    """`V·d` + L·(`2d² + 2·d·G·d_h` + `3·d·d_ff` + `2d`) + `d` + `V·d` (the head, 0 when tied)."""
    V, d, L, G, d_h, d_ff = (cfg.vocab_size, cfg.d_model, cfg.n_layers, cfg.kv_heads, cfg.head_dim,
                             cfg.ffn_dim)
    per_layer = 2 * d * d + 2 * d * G * d_h + 3 * d * d_ff + 2 * d
    return V * d + L * per_layer + d + (0 if cfg.tie_embeddings else V * d)


# ---------------------------------------------------------------------------------------------------
# Decoding: the nucleus computed independently, a chi-square statistic, and a stand-in model


# Upper 0.999 quantiles of the χ² distribution by degrees of freedom (α = 0.001).
CHI2_999 = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52, 6: 22.46, 7: 24.32, 8: 26.12}


def nucleus(logits: torch.Tensor, temperature: float, top_p: float) -> dict[int, float]:
    """{id: renormalised probability} of the shortest most-likely prefix with mass >= top_p (fp64)."""
    p = torch.softmax(logits.double() / temperature, dim=-1)
    order = sorted(range(len(p)), key=lambda i: (-p[i].item(), i))  # descending, lower id first on ties
    kept, mass = [], 0.0
    for i in order:
        kept.append(i)
        mass += p[i].item()
        if mass >= top_p:
            break
    return {i: p[i].item() / mass for i in kept}


def chi_square(counts: collections.Counter, probs: dict[int, float]) -> float:
    """Pearson's statistic of observed `counts` against the expected `n · probs` over the nucleus ids."""
    n = sum(counts.values())
    return sum((counts.get(i, 0) - n * q) ** 2 / (n * q) for i, q in probs.items())


class SumModel(nn.Module):
    """A stand-in LM: the logits at position t put 10 on `(ids[0] + … + ids[t]) mod V`, 0 elsewhere.

    Greedy decoding therefore appends the sum of the ids the model was given modulo V, which reveals the
    context window exactly. It has the interface `generate` may use: `cfg.context_length`, parameters
    (for the device) and `forward(ids, positions=None, kv_caches=None)`; it keeps no cache.
    """

    def __init__(self, vocab_size: int, context_length: int):
        super().__init__()
        self.cfg = ModelConfig(vocab_size=vocab_size, context_length=context_length, d_model=8, n_layers=1,
                               n_heads=2)
        self.scale = nn.Parameter(torch.tensor(10.0))
        self.max_len_seen = 0

    def forward(self, ids, *, positions=None, kv_caches=None):
        self.max_len_seen = max(self.max_len_seen, ids.shape[1])
        target = torch.cumsum(ids, dim=1) % self.cfg.vocab_size  # (B, T)
        return F.one_hot(target, self.cfg.vocab_size).to(self.scale.dtype) * self.scale


def sum_model_tokens(prompt: list[int], n: int, V: int, C: int, eos: int | None = None) -> list[int]:
    """What greedy `generate` must return for `SumModel(V, C)`: each token is sum(last C tokens) mod V."""
    tokens, out = list(prompt), []
    for _ in range(n):
        nxt = sum(tokens[-C:]) % V
        out.append(nxt)
        tokens.append(nxt)
        if nxt == eos:
            break
    return out
