"""Transformer building blocks from scratch: Linear, Embedding, RMSNorm, SiLU, SwiGLU, softmax (handout §3).

Each unit is the few lines of tensor algebra behind the `torch.nn` module of the same name, with the layouts
of Llama-style models: weights are `(d_out, d_in)` and `y = x Wᵀ`, there are no biases, the norm is RMSNorm
(Zhang & Sennrich 2019) and the feed-forward layer is SwiGLU (Shazeer 2020, "GLU Variants Improve
Transformer"). Parameter names (`weight`; `w1`, `w2`, `w3`) are part of the API: the tests load weights
by name.

Deliberately left out: biases, dropout, LayerNorm, fused kernels and anything that calls `nn.Linear`,
`F.linear`, `nn.Embedding`, `F.embedding`, `F.softmax` or `F.rms_norm` (the tests watch for those calls).
"""

import math

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn


def _stats_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype statistics are computed in (handout §0): fp64 for fp64 inputs, fp32 for everything else."""
    return torch.float64 if dtype == torch.float64 else torch.float32


# ---------------------------------------------------------------------------------------------------
# Linear and Embedding


class Linear(nn.Module):
    """A bias-free linear map `y = x Wᵀ` over the last dimension (handout §3).

    Parameters: `weight` of shape `(d_out, d_in)` (the `nn.Linear` layout), initialised from a normal
    distribution with `σ² = 2 / (d_in + d_out)` truncated at `±3σ`.
    """

    def __init__(self, d_in: int, d_out: int, *, device=None, dtype=None):
        """Args:
        d_in: size of the input's last dimension.
        d_out: size of the output's last dimension.
        device, dtype: where and in which dtype to create `weight` (as for `nn.Linear`).
        """
        super().__init__()
        # BEGIN SOLUTION
        self.weight = nn.Parameter(torch.empty(d_out, d_in, device=device, dtype=dtype))
        std = math.sqrt(2.0 / (d_in + d_out))
        nn.init.trunc_normal_(self.weight, mean=0.0, std=std, a=-3.0 * std, b=3.0 * std)
        # END SOLUTION

    def forward(self, x: Float[Tensor, " ... d_in"]) -> Float[Tensor, " ... d_out"]:
        """`x Wᵀ` for any number of leading dimensions; the output has `x`'s leading shape."""
        # BEGIN SOLUTION
        return torch.einsum("...i,oi->...o", x, self.weight)  # (..., d_out)
        # END SOLUTION


class Embedding(nn.Module):
    """A lookup table `y = W[ids]` (handout §3).

    Parameters: `weight` of shape `(num_embeddings, d)`, initialised from a standard normal truncated at ±3.
    """

    def __init__(self, num_embeddings: int, d: int, *, device=None, dtype=None):
        """Args:
        num_embeddings: vocabulary size V; valid ids are `0 … V−1`.
        d: embedding dimension.
        device, dtype: where and in which dtype to create `weight`.
        """
        super().__init__()
        # BEGIN SOLUTION
        self.weight = nn.Parameter(torch.empty(num_embeddings, d, device=device, dtype=dtype))
        nn.init.trunc_normal_(self.weight, mean=0.0, std=1.0, a=-3.0, b=3.0)
        # END SOLUTION

    def forward(self, token_ids: Int[Tensor, " ..."]) -> Float[Tensor, " ... d"]:
        """The rows of `weight` selected by `token_ids` (any shape of integer ids).

        Raises:
            IndexError: if an id is negative or `>= num_embeddings` (plain indexing would wrap negatives).
        """
        # BEGIN SOLUTION
        n = self.weight.shape[0]
        if token_ids.numel() and (int(token_ids.min()) < 0 or int(token_ids.max()) >= n):
            raise IndexError(f"token_ids must lie in [0, {n}), got min {int(token_ids.min())}, "
                             f"max {int(token_ids.max())}")
        return self.weight[token_ids]  # (..., d)
        # END SOLUTION


# ---------------------------------------------------------------------------------------------------
# Normalisation and activations


class RMSNorm(nn.Module):
    """Root-mean-square normalisation over the last dimension (handout §3.2).

    `y = x / sqrt(mean(x²) + eps) ⊙ g`, the mean taken over the last dimension.

    Parameters: `weight` (the gain g) of shape `(d,)`, initialised to ones.
    """

    def __init__(self, d: int, eps: float = 1e-5, *, device=None, dtype=None):
        """Args:
        d: size of the last dimension.
        eps: added to the mean square inside the square root.
        device, dtype: where and in which dtype to create `weight`.
        """
        super().__init__()
        # BEGIN SOLUTION
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d, device=device, dtype=dtype))
        # END SOLUTION

    def forward(self, x: Float[Tensor, " ... d"]) -> Float[Tensor, " ... d"]:
        """Normalised `x`, same shape and dtype.

        The statistics are computed in fp32 (fp64 for fp64 inputs) and the result is cast back: in fp16 the
        square of a value above 256 already overflows. `x = 0` gives 0, never NaN.
        """
        # BEGIN SOLUTION
        in_dtype = x.dtype
        xf = x.to(_stats_dtype(in_dtype))
        inv_rms = torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + self.eps)  # (..., 1)
        return (xf * inv_rms * self.weight.to(xf.dtype)).to(in_dtype)
        # END SOLUTION


def silu(x: Float[Tensor, " ..."]) -> Float[Tensor, " ..."]:
    """SiLU (swish), `x · σ(x)`, elementwise; `torch.sigmoid` is allowed."""
    # BEGIN SOLUTION
    return x * torch.sigmoid(x)
    # END SOLUTION


class SwiGLU(nn.Module):
    """The SwiGLU feed-forward layer `W2 (silu(W1 x) ⊙ W3 x)` (Shazeer 2020; handout §3).

    Parameters (three `Linear` submodules, so the state-dict keys are `w1.weight`, `w2.weight`,
    `w3.weight`): `w1` of shape `(d_ff, d)`, `w2` of shape `(d, d_ff)`, `w3` of shape `(d_ff, d)`.
    """

    def __init__(self, d: int, d_ff: int | None = None, *, device=None, dtype=None):
        """Args:
        d: model dimension.
        d_ff: hidden dimension; by default `64 · ceil((8/3) · d / 64)` (about 8d/3, rounded up to a
            multiple of 64).
        device, dtype: where and in which dtype to create the weights.
        """
        super().__init__()
        # BEGIN SOLUTION
        if d_ff is None:
            d_ff = 64 * math.ceil(8 * d / 3 / 64)
        self.w1 = Linear(d, d_ff, device=device, dtype=dtype)
        self.w2 = Linear(d_ff, d, device=device, dtype=dtype)
        self.w3 = Linear(d, d_ff, device=device, dtype=dtype)
        # END SOLUTION

    def forward(self, x: Float[Tensor, " ... d"]) -> Float[Tensor, " ... d"]:
        """The feed-forward output, same shape as `x`."""
        # BEGIN SOLUTION
        gate = silu(self.w1(x))  # (..., d_ff)
        return self.w2(gate * self.w3(x))  # (..., d)
        # END SOLUTION


def softmax(x: Float[Tensor, " ..."], dim: int) -> Float[Tensor, " ..."]:
    """`exp(x − max) / Σ exp(x − max)` along `dim`, same shape and dtype as `x`.

    Subtracting the maximum first keeps `exp` from overflowing (`x + 1000` gives the same result as `x`).
    Computed in fp32 (fp64 for fp64 inputs). A row that is all `−inf` may give NaN.
    """
    # BEGIN SOLUTION
    xf = x.to(_stats_dtype(x.dtype))
    shifted = xf - xf.amax(dim=dim, keepdim=True)
    e = torch.exp(shifted)
    return (e / e.sum(dim=dim, keepdim=True)).to(x.dtype)
    # END SOLUTION
