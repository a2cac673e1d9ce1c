"""Attention: scaled dot-product attention, multi-head, grouped-query and multi-query attention (handout §4).

`scaled_dot_product_attention` is `softmax(q kᵀ · scale + M) v` (Vaswani et al. 2017 §3.2.1) with the
conventions of this course: a boolean mask where True means "may attend", causal masks aligned
**bottom-right** (query i of Tq sits at absolute position `Tk − Tq + i`, which is what decoding with a KV
cache needs), grouped-query heads inside (query head h reads key/value head `h // (Hq / Hkv)`), fully
masked rows giving 0 instead of NaN, and the softmax computed in fp32.

`GroupedQueryAttention` (Ainslie et al. 2023) projects the input to `n_heads` query heads and `n_kv_heads`
key/value heads, rotates q and k with RoPE (Su et al., RoFormer), attends, and projects back.
`MultiHeadAttention` (Vaswani §3.2.2) is the case `n_kv_heads = n_heads`, `MultiQueryAttention`
(Shazeer 2019) the case `n_kv_heads = 1`. `mha_to_gqa` converts an MHA checkpoint by mean-pooling the key
and value heads of each group (GQA §2.1).

Deliberately left out: dropout, attention sinks, sliding windows, ALiBi, fused or flash kernels and
anything that calls `F.scaled_dot_product_attention` or `F.softmax` (the tests watch for those calls).
"""

import math

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn

from .kv_cache import KVCache
from .layers import Linear
from .positional import apply_rope

# ---------------------------------------------------------------------------------------------------
# Scaled dot-product attention (handout §4.1)


def scaled_dot_product_attention(
    q: Float[Tensor, " ... q_heads q_seq d"],
    k: Float[Tensor, " ... kv_heads k_seq d"],
    v: Float[Tensor, " ... kv_heads k_seq d_v"],
    mask: Bool[Tensor, " ... q_heads q_seq k_seq"] | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> Float[Tensor, " ... q_heads q_seq d_v"]:
    """`softmax(q kᵀ · scale + M) v` over the last two dimensions, with grouped-query heads.

    Args:
        q: queries `(..., Hq, Tq, d)`; any number of leading dimensions (they must match k and v).
        k: keys `(..., Hkv, Tk, d)` with `Hq % Hkv == 0`; query head h reads key head `h // (Hq // Hkv)`.
        v: values `(..., Hkv, Tk, d_v)`.
        mask: optional bool tensor broadcastable to `(..., Hq, Tq, Tk)`; True = may attend.
        is_causal: if True, query i may see key j only if `j <= i + Tk − Tq` (bottom-right alignment);
            AND-ed with `mask` when both are given.
        scale: multiplies the scores; default `1 / sqrt(d)`.

    Returns:
        `(..., Hq, Tq, d_v)` in the dtype of `q`. A query row with no allowed key gives zeros, with a
        zero gradient and no NaN anywhere. The softmax is computed in fp32 (fp64 for fp64 inputs).

    Raises:
        ValueError: if the head dimensions d of q and k differ, k and v disagree, or `Hq % Hkv != 0`.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.attention scaled_dot_product_attention: see handout §4.1")
    # END SOLUTION


# ---------------------------------------------------------------------------------------------------
# Multi-head, grouped-query and multi-query attention (handout §4.2)


class GroupedQueryAttention(nn.Module):
    """Grouped-query self-attention with RoPE and an optional KV cache (handout §4.2; Ainslie et al. 2023).

    Parameters (`Linear` submodules, so the state-dict keys are `q_proj.weight`, …):
    `q_proj (H·d_h, d)`, `k_proj (G·d_h, d)`, `v_proj (G·d_h, d)`, `o_proj (d, H·d_h)` with
    `d_h = d_model / n_heads`, H = `n_heads` and G = `n_kv_heads`; with `bias=True` each projection also has
    a `bias` (`q_proj.bias`, …), initialised to zeros.
    """

    def __init__(self, d_model: int, n_heads: int, n_kv_heads: int, *, bias: bool = False,
                 device=None, dtype=None):
        """Args:
        d_model: model dimension d; must be divisible by `n_heads`.
        n_heads: number of query heads H.
        n_kv_heads: number of key/value heads G; must divide `n_heads`.
        bias: whether the four projections have a bias.
        device, dtype: where and in which dtype to create the parameters.

        Raises:
            ValueError: if `d_model % n_heads != 0`, `n_heads % n_kv_heads != 0` or a size is not positive.
        """
        super().__init__()
        # BEGIN SOLUTION
        raise NotImplementedError("a1.attention GroupedQueryAttention.__init__: see handout §4.2")
        # END SOLUTION

    def forward(
        self,
        x: Float[Tensor, " batch seq d_model"],
        *,
        mask: Bool[Tensor, " ... q_seq k_seq"] | None = None,
        is_causal: bool = True,
        positions: Int[Tensor, " seq"] | Int[Tensor, " batch seq"] | None = None,
        rope: tuple[Tensor, Tensor] | None = None,
        kv_cache: KVCache | None = None,
    ) -> Float[Tensor, " batch seq d_model"]:
        """Self-attention of `x` over itself (and over the cached tokens when `kv_cache` is given).

        Args:
            x: `(B, T, d_model)`.
            mask: optional bool mask broadcastable to `(B, H, T, Tk)`, True = may attend; AND-ed with the
                causal mask when `is_causal`.
            is_causal: bottom-right causal masking (see `scaled_dot_product_attention`).
            positions: token positions `(T,)` or `(B, T)` for RoPE; default `start + arange(T)` with
                `start = kv_cache.length` (0 without a cache).
            rope: `(cos, sin)` tables from `rope_cache(head_dim, …)`, applied with
                `style="interleaved"` to q and k (never v) after the head split; None = no RoPE.
            kv_cache: if given, the new keys and values (after RoPE) are appended at
                `start_pos = kv_cache.length` and the queries attend to every cached token.

        Returns:
            `(B, T, d_model)`.
        """
        # BEGIN SOLUTION
        raise NotImplementedError("a1.attention GroupedQueryAttention.forward: see handout §4.2")
        # END SOLUTION


class MultiHeadAttention(GroupedQueryAttention):
    """Multi-head self-attention (Vaswani et al. 2017 §3.2.2): `GroupedQueryAttention` with
    `n_kv_heads = n_heads`, so all four projections are `d × d`. Same parameter names and `forward`.
    """

    def __init__(self, d_model: int, n_heads: int, *, bias: bool = False, device=None, dtype=None):
        """Args: as `GroupedQueryAttention`, without `n_kv_heads`."""
        # BEGIN SOLUTION
        raise NotImplementedError("a1.attention MultiHeadAttention.__init__: see handout §4.2")
        # END SOLUTION


class MultiQueryAttention(GroupedQueryAttention):
    """Multi-query self-attention (Shazeer 2019): `GroupedQueryAttention` with `n_kv_heads = 1`, one key and
    one value head shared by every query head. Same parameter names and `forward`.
    """

    def __init__(self, d_model: int, n_heads: int, *, bias: bool = False, device=None, dtype=None):
        """Args: as `GroupedQueryAttention`, without `n_kv_heads`."""
        # BEGIN SOLUTION
        raise NotImplementedError("a1.attention MultiQueryAttention.__init__: see handout §4.2")
        # END SOLUTION


def mha_to_gqa(mha_state_dict: dict[str, Tensor], n_heads: int, n_kv_heads: int) -> dict[str, Tensor]:
    """Convert a `MultiHeadAttention` state dict to a `GroupedQueryAttention` one (GQA §2.1, uptraining).

    The key and value projections (`k_proj.weight`, `v_proj.weight` and their biases, under any key prefix)
    are split into `n_heads` heads of `d_h` rows; the `n_heads / n_kv_heads` consecutive heads of each
    group are replaced by their **mean**. Every other entry is returned unchanged. The input is not
    modified.

    Returns:
        A new dict with `k_proj.weight`, `v_proj.weight` of shape `(n_kv_heads·d_h, d)`.

    Raises:
        ValueError: if `n_heads % n_kv_heads != 0` or a K/V projection's rows are not divisible by `n_heads`.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.attention mha_to_gqa: see handout §4.2")
    # END SOLUTION
