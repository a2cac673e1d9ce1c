"""Positions: the original Transformer's sinusoidal encoding and rotary embeddings (RoPE) (handout §3.3).

`sinusoidal_positional_encoding` is the table added to the token embeddings in Vaswani et al. 2017 §3.5, in
its interleaved layout (sin at even, cos at odd dimensions). RoPE (Su et al., RoFormer §3.4) instead rotates
each pair of query/key dimensions by an angle proportional to the position, so that attention scores depend
only on relative positions. Both pair layouts in use are supported: "interleaved" (the paper, Meta's Llama
code) and "half" (GPT-NeoX, Hugging Face Llama).

Deliberately left out: partial rotary dimensions, NTK/YaRN frequency scaling, learned position embeddings
and ALiBi.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor


# ---------------------------------------------------------------------------------------------------
# Sinusoidal positional encoding (handout §3.3)


def sinusoidal_positional_encoding(
    max_len: int, d_model: int, base: float = 10000.0, dtype: torch.dtype = torch.float32
) -> Float[Tensor, " max_len d_model"]:
    """The table `PE[p, 2i] = sin(p / base^(2i/d))`, `PE[p, 2i+1] = cos(p / base^(2i/d))`.

    Interleaved layout: sin and cos of the same frequency sit side by side (not `[sin | cos]`). Angles are
    computed in fp64 and the table is cast to `dtype` at the end.

    Args:
        max_len: number of positions (rows), `>= 0`; 0 gives a `(0, d_model)` tensor.
        d_model: number of dimensions (columns), even.
        base: the wavelength base (10000 in the paper).
        dtype: dtype of the returned table.

    Returns:
        A `(max_len, d_model)` tensor; row 0 is `[0, 1, 0, 1, …]`.

    Raises:
        ValueError: if `d_model` is odd or not positive, or `max_len` is negative.
    """
    # BEGIN SOLUTION
    if d_model <= 0 or d_model % 2:
        raise ValueError(f"d_model must be a positive even number, got {d_model}")
    if max_len < 0:
        raise ValueError(f"max_len must be >= 0, got {max_len}")
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]  # (max_len, 1)
    omega = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d/2,)
    angles = pos * omega  # (max_len, d/2)
    pe = torch.stack((torch.sin(angles), torch.cos(angles)), dim=-1)  # (max_len, d/2, 2)
    return pe.reshape(max_len, d_model).to(dtype)
    # END SOLUTION


# ---------------------------------------------------------------------------------------------------
# Rotary position embeddings (handout §3.3)


def rope_cache(
    head_dim: int, max_pos: int, base: float = 10000.0, dtype: torch.dtype = torch.float32
) -> tuple[Float[Tensor, " max_pos half"], Float[Tensor, " max_pos half"]]:
    """cos and sin of the RoPE angles `m · θ_i`, `θ_i = base^(−2i/head_dim)`, `i = 0 … head_dim/2 − 1`.

    `i` is 0-indexed: the first pair turns by exactly `m` radians at position m. Angles are computed in
    fp64 and cast to `dtype`.

    Args:
        head_dim: dimension of one attention head, even.
        max_pos: number of positions in the cache; valid positions are `0 … max_pos − 1`.
        base: the frequency base θ of the paper (10000).
        dtype: dtype of the returned tables.

    Returns:
        `(cos, sin)`, each of shape `(max_pos, head_dim // 2)`, row m holding `cos(m θ_i)` / `sin(m θ_i)`.

    Raises:
        ValueError: if `head_dim` is odd or not positive, or `max_pos` is negative.
    """
    # BEGIN SOLUTION
    if head_dim <= 0 or head_dim % 2:
        raise ValueError(f"head_dim must be a positive even number, got {head_dim}")
    if max_pos < 0:
        raise ValueError(f"max_pos must be >= 0, got {max_pos}")
    theta = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # (d/2,)
    angles = torch.arange(max_pos, dtype=torch.float64)[:, None] * theta  # (max_pos, d/2)
    return torch.cos(angles).to(dtype), torch.sin(angles).to(dtype)
    # END SOLUTION


def apply_rope(
    x: Float[Tensor, " ... seq head_dim"],
    positions: Int[Tensor, " seq"] | Int[Tensor, " batch seq"],
    cos: Float[Tensor, " max_pos half"],
    sin: Float[Tensor, " max_pos half"],
    style: str = "interleaved",
) -> Float[Tensor, " ... seq head_dim"]:
    """Rotate each pair of dimensions of `x` by the angle of its token's position.

    Pair i is `(x[2i], x[2i+1])` with `style="interleaved"` and `(x[i], x[i + d/2])` with `style="half"`;
    it becomes `(a cos − b sin, a sin + b cos)` with the angle `m θ_i` of position m. fp16 and bf16 inputs
    are rotated in fp32 and cast back.

    Args:
        x: queries or keys, `(..., T, head_dim)`, e.g. `(B, H, T, d_h)`.
        positions: integer positions, `(T,)` shared by every batch row, or `(B, T)` with B the first
            dimension of `x` (broadcast over the head dimensions in between). They may start at an offset.
        cos, sin: tables from `rope_cache`, `(max_pos, head_dim // 2)`.
        style: "interleaved" or "half".

    Returns:
        The rotated tensor, same shape and dtype as `x`.

    Raises:
        ValueError: if `head_dim` is odd, does not match the tables, or `style` is unknown.
        IndexError: if a position is negative or `>= max_pos`.
    """
    # BEGIN SOLUTION
    d = x.shape[-1]
    if d % 2 or cos.shape[-1] != d // 2 or sin.shape != cos.shape:
        raise ValueError(f"head_dim {d} must be even and equal to 2 * cos.shape[-1] ({2 * cos.shape[-1]})")
    if style not in ("interleaved", "half"):
        raise ValueError(f"style must be 'interleaved' or 'half', got {style!r}")
    if positions.numel() and (int(positions.min()) < 0 or int(positions.max()) >= cos.shape[0]):
        raise IndexError(f"positions must lie in [0, {cos.shape[0]}), got max {int(positions.max())}")
    work = x.to(torch.float32) if x.dtype in (torch.float16, torch.bfloat16) else x
    c = cos[positions].to(work.dtype)  # (T, d/2) or (B, T, d/2)
    s = sin[positions].to(work.dtype)
    if positions.dim() == 2:  # (B, T, d/2) -> (B, 1, ..., 1, T, d/2): broadcast over the head dimensions
        c = c.view(c.shape[0], *([1] * (x.dim() - 3)), *c.shape[1:])
        s = s.view(c.shape)
    if style == "interleaved":  # pair i = (x[2i], x[2i+1]) is the complex number x[2i] + i·x[2i+1] (RoFormer eq. 34)
        z = torch.view_as_complex(work.unflatten(-1, (d // 2, 2)).contiguous())  # (..., T, d/2)
        out = torch.view_as_real(z * torch.complex(c, s)).flatten(-2)  # rotation by mθ_i = one multiply; (..., T, d)
    else:
        a, b = work[..., : d // 2], work[..., d // 2:]
        out = torch.cat((a * c - b * s, a * s + b * c), dim=-1)  # (..., T, d)
    return out.to(x.dtype)
    # END SOLUTION
