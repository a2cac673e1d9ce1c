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
        raise NotImplementedError("a1.mla MultiHeadLatentAttention.__init__: see handout §5")
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
        raise NotImplementedError("a1.mla MultiHeadLatentAttention.forward: see handout §5")
        # END SOLUTION
