"""Multi-head latent attention (MLA), the attention of DeepSeek-V2 §2.1 (handout §5).

MLA caches one small latent per token instead of per-head keys and values. Keys and values are
down-projected jointly to a latent `c^KV` of size `d_c` (`kv_lora_rank`) and up-projected per head by
`W^UKV`; position information travels in a separate RoPE part: each query head has its own `q^R` of size
`d_r` (`qk_rope_head_dim`), and one rotated key `k^R` of size `d_r` is shared by all heads. The cache holds
only `c^KV` (after its RMSNorm) and `k^R`: `d_c + d_r` numbers per token per layer, against `2·H·d_h` for
multi-head attention (DeepSeek-V2 Table 1).

Symbols (DeepSeek-V2 §2.1.2–2.1.3) and parameter names (DeepSeek-V3 `inference/model.py`, class `MLA`):

    c^Q   = RMSNorm(W^DQ h)                      wq_a (q_lora_rank, d), q_norm
    q     = W^UQ c^Q = [q^C (d_n) ; q^R (d_r)]   wq_b (H·(d_n + d_r), q_lora_rank); wq (…, d) if it is 0
    [c^KV ; k^R] = W^DKV h                       wkv_a (d_c + d_r, d), kv_norm on c^KV
    [k^C ; v]    = W^UKV c^KV, per head          wkv_b (H·(d_n + d_v), d_c); head i's rows: W^UK_i, W^UV_i
    u     = W^O [o_1; …; o_H]                    wo (d, H·d_v)

Scores `(q^C·k^C + q^R·k^R) / sqrt(d_n + d_r)`, causal. Two execution paths give the same result:
"naive" up-projects K and V from the cached latents; "absorbed" folds `W^UK_i` into the query
(`q_lat = q^C W^UK_i`, scores against `c^KV` directly) and `W^UV_i` into the output, so no per-head key
or value is ever materialised (the `attn_impl="absorb"` branch of DeepSeek-V3).

Deliberately left out: YaRN / long-context RoPE scaling, the mixed-precision tricks of DeepSeek's
kernels, dropout and padding masks.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from .layers import Linear, RMSNorm, softmax
from .positional import apply_rope, rope_cache


class MultiHeadLatentAttention(nn.Module):
    """Causal multi-head latent attention with a latent KV cache (DeepSeek-V2 §2.1; handout §5).

    Parameters (names are the API; tests load weights by name):
    `wq_a (q_lora_rank, d)`, `q_norm` (RMSNorm of size q_lora_rank), `wq_b (H·(d_n+d_r), q_lora_rank)`,
    or only `wq (H·(d_n+d_r), d)` when `q_lora_rank == 0`; `wkv_a (d_c + d_r, d)`, `kv_norm` (RMSNorm of
    size d_c), `wkv_b (H·(d_n+d_v), d_c)`, `wo (d, H·d_v)`. No biases.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        q_lora_rank: int,
        kv_lora_rank: int,
        qk_nope_head_dim: int,
        qk_rope_head_dim: int,
        v_head_dim: int,
        rms_eps: float = 1e-6,
        *,
        rope_theta: float = 10000.0,
        max_seq_len: int = 2048,
        device=None,
        dtype=None,
    ):
        """Args:
        d_model: model dimension d.
        n_heads: number of heads H.
        q_lora_rank: size of the query latent c^Q; 0 means no query compression (a single `wq`).
        kv_lora_rank: size d_c of the KV latent c^KV (what the cache stores, with k^R).
        qk_nope_head_dim: size d_n of the per-head query/key part without position (q^C, k^C).
        qk_rope_head_dim: size d_r of the rotated part (q^R per head, one shared k^R); even.
        v_head_dim: size d_v of one value head.
        rms_eps: eps of the two RMSNorms (q_norm, kv_norm).
        rope_theta: RoPE base θ.
        max_seq_len: number of positions in the RoPE table; positions must stay below it.
        device, dtype: where and in which dtype to create the weights.

        Raises:
            ValueError: if a size is not positive (q_lora_rank: negative), or `qk_rope_head_dim` is odd.
        """
        super().__init__()
        # BEGIN SOLUTION
        sizes = {"d_model": d_model, "n_heads": n_heads, "kv_lora_rank": kv_lora_rank,
                 "qk_nope_head_dim": qk_nope_head_dim, "qk_rope_head_dim": qk_rope_head_dim,
                 "v_head_dim": v_head_dim, "max_seq_len": max_seq_len}
        for name, value in sizes.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if q_lora_rank < 0:
            raise ValueError(f"q_lora_rank must be >= 0, got {q_lora_rank}")
        if qk_rope_head_dim % 2:
            raise ValueError(f"qk_rope_head_dim must be even (RoPE rotates pairs), got {qk_rope_head_dim}")
        self.n_heads, self.q_lora_rank, self.kv_lora_rank = n_heads, q_lora_rank, kv_lora_rank
        self.d_n, self.d_r, self.d_v = qk_nope_head_dim, qk_rope_head_dim, v_head_dim
        self.scale = (qk_nope_head_dim + qk_rope_head_dim) ** -0.5  # the q·k size, not d_v or d_n
        kw = {"device": device, "dtype": dtype}
        d_qk = n_heads * (qk_nope_head_dim + qk_rope_head_dim)
        if q_lora_rank > 0:
            self.wq_a = Linear(d_model, q_lora_rank, **kw)  # W^DQ
            self.q_norm = RMSNorm(q_lora_rank, rms_eps, **kw)
            self.wq_b = Linear(q_lora_rank, d_qk, **kw)  # W^UQ (and W^QR)
        else:
            self.wq = Linear(d_model, d_qk, **kw)
        self.wkv_a = Linear(d_model, kv_lora_rank + qk_rope_head_dim, **kw)  # W^DKV (and W^KR)
        self.kv_norm = RMSNorm(kv_lora_rank, rms_eps, **kw)
        self.wkv_b = Linear(kv_lora_rank, n_heads * (qk_nope_head_dim + v_head_dim), **kw)  # W^UK, W^UV
        self.wo = Linear(n_heads * v_head_dim, d_model, **kw)  # W^O
        # RoPE tables in fp64 (not parameters, not in the state dict); apply_rope casts them to x's dtype.
        cos, sin = rope_cache(qk_rope_head_dim, max_seq_len, rope_theta, torch.float64)
        self.register_buffer("rope_cos", cos.to(device), persistent=False)
        self.register_buffer("rope_sin", sin.to(device), persistent=False)
        # END SOLUTION

    def forward(
        self,
        x: Float[Tensor, " batch seq d_model"],
        *,
        positions: Int[Tensor, " seq"] | Int[Tensor, " batch seq"] | None = None,
        kv_cache=None,
        absorb: bool = False,
    ) -> Float[Tensor, " batch seq d_model"]:
        """Causal MLA over `x`, optionally continuing a cached prefix.

        Args:
            x: the new tokens' hidden states `(B, T, d)`.
            positions: RoPE positions of the new tokens, `(T,)` or `(B, T)`; by default
                `start + arange(T)` with `start = kv_cache.length` (0 without a cache).
            kv_cache: a `LatentKVCache` (handout §4) or None. With a cache, the new `c^KV` (after
                `kv_norm`) and rotated `k^R` are appended at `start = kv_cache.length`, and the queries
                attend to all `start + T` cached tokens.
            absorb: False for the naive path (up-project K and V), True for the weight-absorbed path.

        Returns:
            `(B, T, d)`, same dtype as `x`. Query t (absolute index `start + t`) sees keys `0 … start + t`
            (bottom-right causal alignment).
        """
        # BEGIN SOLUTION
        B, T, _ = x.shape
        H, d_n, d_r, d_v, d_c = self.n_heads, self.d_n, self.d_r, self.d_v, self.kv_lora_rank
        start = 0 if kv_cache is None else int(kv_cache.length)
        if positions is None:
            positions = torch.arange(start, start + T, device=x.device)

        # Queries: q = W^UQ RMSNorm(W^DQ h), split per head into [q^C ; q^R]; RoPE on q^R only.
        if self.q_lora_rank > 0:
            q = self.wq_b(self.q_norm(self.wq_a(x)))  # (B, T, H·(d_n + d_r))
        else:
            q = self.wq(x)
        q = q.view(B, T, H, d_n + d_r).transpose(1, 2)  # (B, H, T, d_n + d_r)
        q_nope, q_rope = q.split([d_n, d_r], dim=-1)  # (B, H, T, d_n), (B, H, T, d_r)
        q_rope = apply_rope(q_rope, positions, self.rope_cos, self.rope_sin, "interleaved")

        # Keys/values: [c^KV ; k^R] = W^DKV h; c^KV is normalised, k^R rotated once for all heads.
        c_kv, k_rope = self.wkv_a(x).split([d_c, d_r], dim=-1)  # (B, T, d_c), (B, T, d_r)
        c_kv = self.kv_norm(c_kv)
        k_rope = apply_rope(k_rope, positions, self.rope_cos, self.rope_sin, "interleaved")  # (B, T, d_r)
        if kv_cache is not None:
            kv_cache.append(c_kv, k_rope, start)
            c_kv, k_rope = kv_cache.get(start + T)  # (B, S, d_c), (B, S, d_r) with S = start + T
        S = c_kv.shape[1]

        # The shared k^R contributes the same key to every head: no per-head copy.
        scores_rope = torch.einsum("bhtr,bsr->bhts", q_rope, k_rope)  # (B, H, T, S)
        w_ukv = self.wkv_b.weight.view(H, d_n + d_v, d_c)
        w_uk, w_uv = w_ukv[:, :d_n], w_ukv[:, d_n:]  # W^UK_i (H, d_n, d_c), W^UV_i (H, d_v, d_c)
        if absorb:
            q_lat = torch.einsum("bhtn,hnc->bhtc", q_nope, w_uk)  # q^C W^UK_i, in latent space (B, H, T, d_c)
            scores_nope = torch.einsum("bhtc,bsc->bhts", q_lat, c_kv)  # (B, H, T, S)
        else:
            k_nope = torch.einsum("bsc,hnc->bhsn", c_kv, w_uk)  # k^C (B, H, S, d_n)
            v = torch.einsum("bsc,hvc->bhsv", c_kv, w_uv)  # v (B, H, S, d_v)
            scores_nope = torch.einsum("bhtn,bhsn->bhts", q_nope, k_nope)  # (B, H, T, S)
        scores = (scores_nope + scores_rope) * self.scale

        # Bottom-right causal mask: query t sits at absolute position S − T + t and sees keys j ≤ S − T + t.
        allowed = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)  # (T, S)
        probs = softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)  # (B, H, T, S)

        if absorb:
            o_lat = torch.einsum("bhts,bsc->bhtc", probs, c_kv)  # P c^KV (B, H, T, d_c)
            o = torch.einsum("bhtc,hvc->bhtv", o_lat, w_uv)  # o_lat W^UV_iᵀ (B, H, T, d_v)
        else:
            o = torch.einsum("bhts,bhsv->bhtv", probs, v)  # (B, H, T, d_v)
        return self.wo(o.transpose(1, 2).reshape(B, T, H * d_v))  # (B, T, d)
        # END SOLUTION
