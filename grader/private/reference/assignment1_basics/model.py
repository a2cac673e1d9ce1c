"""The pre-norm Transformer block and the decoder-only language model (handout §6.1–§6.2).

A block is the Llama-style pre-norm residual pair (Xiong et al. 2020, "On Layer Normalization in the
Transformer Architecture", compare Vaswani et al. 2017 §3.1, which normalises after the residual add):

    h = x + Attn(RMSNorm₁(x))        causal grouped-query self-attention, RoPE on q and k (interleaved)
    y = h + SwiGLU(RMSNorm₂(h))

`TransformerLM` embeds token ids, runs `n_layers` blocks, applies a final RMSNorm and projects to the
vocabulary with `lm_head` (or with the transposed token embedding when `tie_embeddings`, Press & Wolf 2017).
The logits are unnormalised. With one `KVCache` per layer (`make_kv_caches`) the model continues a
sequence: the new tokens attend to every cached token and sit at positions `start + arange(T)`.

Parameter names are part of the API (the tests load weights by name): `norm1`, `attn.{q,k,v,o}_proj`,
`norm2`, `ffn.{w1,w2,w3}` in a block; `tok_emb`, `blocks.{i}`, `norm_f`, `lm_head` in the model. The RoPE
tables are non-persistent buffers, so a `state_dict` holds exactly the parameters.

Deliberately left out: dropout, biases, weight initialisation schemes beyond the layers' own, MLA blocks
(handout §5 is a separate module), mixture-of-experts layers and padding masks.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from .attention import GroupedQueryAttention
from .config import ModelConfig
from .kv_cache import KVCache
from .layers import Embedding, Linear, RMSNorm, SwiGLU
from .positional import rope_cache

# ---------------------------------------------------------------------------------------------------
# The pre-norm block (handout §6.1)


class TransformerBlock(nn.Module):
    """One pre-norm decoder block: `h = x + Attn(RMSNorm₁(x))`, `y = h + SwiGLU(RMSNorm₂(h))`.

    Parameters (submodules): `norm1`, `norm2` (`RMSNorm(d_model)`), `attn` (`GroupedQueryAttention`,
    keys `attn.q_proj.weight`, …, `attn.o_proj.weight`), `ffn` (`SwiGLU(d_model, d_ff)`, keys
    `ffn.w1.weight`, …).
    Buffers (non-persistent, not in the `state_dict`): the RoPE tables `rope_cos`, `rope_sin` of shape
    `(max_seq_len, head_dim // 2)`, fp64 when `dtype` is fp64 and fp32 otherwise.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, *, n_kv_heads: int | None = None,
                 max_seq_len: int, rope_theta: float = 10000.0, eps: float = 1e-5, device=None, dtype=None):
        """Args:
        d_model: model dimension d.
        n_heads: number of query heads H; `head_dim = d_model / n_heads` must be even (RoPE pairs).
        d_ff: SwiGLU hidden size.
        n_kv_heads: number of key/value heads G (None: `n_heads`, i.e. MHA).
        max_seq_len: number of positions of the RoPE tables; positions must be `< max_seq_len`.
        rope_theta: the RoPE base θ.
        eps: the RMSNorm epsilon of both norms.
        device, dtype: where and in which dtype to create the parameters.
        """
        super().__init__()
        # BEGIN SOLUTION
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        kw = {"device": device, "dtype": dtype}
        self.norm1 = RMSNorm(d_model, eps, **kw)
        self.attn = GroupedQueryAttention(d_model, n_heads, n_kv_heads, **kw)
        self.norm2 = RMSNorm(d_model, eps, **kw)
        self.ffn = SwiGLU(d_model, d_ff, **kw)
        table_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        cos, sin = rope_cache(d_model // n_heads, max_seq_len, rope_theta, table_dtype)
        self.register_buffer("rope_cos", cos.to(device), persistent=False)  # (max_seq_len, d_h/2)
        self.register_buffer("rope_sin", sin.to(device), persistent=False)
        # END SOLUTION

    def forward(
        self,
        x: Float[Tensor, " batch seq d_model"],
        *,
        positions: Int[Tensor, " seq"] | Int[Tensor, " batch seq"] | None = None,
        kv_cache: KVCache | None = None,
    ) -> Float[Tensor, " batch seq d_model"]:
        """The block's output, same shape and dtype as `x`.

        Args:
            x: `(B, T, d_model)`.
            positions: RoPE positions `(T,)` or `(B, T)`; default `start + arange(T)` with
                `start = kv_cache.length` (0 without a cache).
            kv_cache: this layer's cache; the new keys and values are appended to it and the queries
                attend to every cached token (causal, bottom-right aligned).
        """
        # BEGIN SOLUTION
        h = x + self.attn(self.norm1(x), is_causal=True, positions=positions,
                          rope=(self.rope_cos, self.rope_sin), kv_cache=kv_cache)  # (B, T, d)
        return h + self.ffn(self.norm2(h))  # (B, T, d)
        # END SOLUTION


# ---------------------------------------------------------------------------------------------------
# The language model (handout §6.2)


class TransformerLM(nn.Module):
    """A decoder-only Transformer language model described by a `ModelConfig`.

    Parameters (submodules): `tok_emb` (`Embedding(V, d)`), `blocks` (an `nn.ModuleList` of
    `TransformerBlock`, keys `blocks.0.norm1.weight`, …), `norm_f` (`RMSNorm(d)`) and `lm_head`
    (`Linear(d, V)`), which is absent when `cfg.tie_embeddings`: the logits then use `tok_emb.weight`.
    Each block's RoPE tables have `cfg.context_length` positions.
    """

    def __init__(self, cfg: ModelConfig, *, device=None, dtype=None):
        """Args:
        cfg: the model's sizes (`vocab_size`, `context_length`, `d_model`, `n_layers`, `n_heads`,
            `kv_heads`, `ffn_dim`, `rope_theta`, `norm_eps`, `tie_embeddings`); kept as `self.cfg`.
        device, dtype: where and in which dtype to create the parameters.
        """
        super().__init__()
        # BEGIN SOLUTION
        self.cfg = cfg
        kw = {"device": device, "dtype": dtype}
        self.tok_emb = Embedding(cfg.vocab_size, cfg.d_model, **kw)
        self.blocks = nn.ModuleList(
            TransformerBlock(cfg.d_model, cfg.n_heads, cfg.ffn_dim, n_kv_heads=cfg.kv_heads,
                             max_seq_len=cfg.context_length, rope_theta=cfg.rope_theta, eps=cfg.norm_eps,
                             **kw)
            for _ in range(cfg.n_layers))
        self.norm_f = RMSNorm(cfg.d_model, cfg.norm_eps, **kw)
        if not cfg.tie_embeddings:
            self.lm_head = Linear(cfg.d_model, cfg.vocab_size, **kw)
        # END SOLUTION

    def forward(
        self,
        ids: Int[Tensor, " batch seq"],
        *,
        positions: Int[Tensor, " seq"] | Int[Tensor, " batch seq"] | None = None,
        kv_caches: list[KVCache] | None = None,
    ) -> Float[Tensor, " batch seq vocab"]:
        """Unnormalised next-token logits for every position of `ids`.

        Args:
            ids: token ids `(B, T)` with `T <= context_length`.
            positions: RoPE positions `(T,)` or `(B, T)`; default `start + arange(T)`, where `start` is the
                number of tokens already in `kv_caches` (0 without caches).
            kv_caches: one `KVCache` per layer (from `make_kv_caches`), or None to attend within `ids` only.

        Returns:
            Logits `(B, T, vocab_size)` in the parameters' dtype.

        Raises:
            ValueError: if `T > context_length` or `kv_caches` does not hold one cache per layer.
        """
        # BEGIN SOLUTION
        B, T = ids.shape
        if T > self.cfg.context_length:
            raise ValueError(f"sequence length {T} exceeds context_length={self.cfg.context_length}")
        if kv_caches is not None and len(kv_caches) != len(self.blocks):
            raise ValueError(f"kv_caches must hold one cache per layer ({len(self.blocks)}), "
                             f"got {len(kv_caches)}")
        if positions is None:
            start = kv_caches[0].length if kv_caches is not None else 0
            positions = torch.arange(start, start + T, device=ids.device)  # (T,)
        x = self.tok_emb(ids)  # (B, T, d)
        for i, block in enumerate(self.blocks):
            x = block(x, positions=positions, kv_cache=None if kv_caches is None else kv_caches[i])
        x = self.norm_f(x)  # (B, T, d)
        if self.cfg.tie_embeddings:
            return x @ self.tok_emb.weight.T  # (B, T, V): the embedding matrix read as the output projection
        return self.lm_head(x)  # (B, T, V)
        # END SOLUTION

    def make_kv_caches(self, batch: int, max_seq: int | None = None) -> list[KVCache]:
        """One empty `KVCache` per layer for `batch` rows of up to `max_seq` tokens (default
        `context_length`), with the model's K/V head count, head size, dtype and device.
        """
        # BEGIN SOLUTION
        cfg, w = self.cfg, self.tok_emb.weight
        max_seq = cfg.context_length if max_seq is None else max_seq
        return [KVCache(batch, max_seq, cfg.kv_heads, cfg.head_dim, w.dtype, w.device)
                for _ in range(cfg.n_layers)]
        # END SOLUTION
