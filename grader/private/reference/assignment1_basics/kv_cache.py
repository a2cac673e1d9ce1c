"""Key/value caches for incremental decoding (handout §4.3).

When a model generates one token at a time, the keys and values of the tokens already seen do not change
(causal attention), so they are computed once and kept. `KVCache` holds them for standard attention (MHA,
GQA, MQA): `2 · n_kv_heads · head_dim` numbers per token and layer. `LatentKVCache` holds what DeepSeek's
multi-head latent attention keeps instead (DeepSeek-V2 §2.1.2–2.1.3): the compressed latent `c^KV` and the
shared RoPE key `k^R`, `kv_lora_rank + rope_dim` numbers per token and layer.

Both are `nn.Module`s whose storage is pre-allocated once as non-persistent buffers (`register_buffer(...,
persistent=False)`): `.to(device)` moves them with the model, but they never enter a `state_dict`. The
number of tokens written so far is a plain Python int, not a buffer, so the latent cache registers exactly
its two buffers. `append` writes in place; `get` returns views (slices) of the buffers, never copies.

Deliberately left out: paged or ring-buffer storage, sliding windows, per-row lengths for ragged batches
(every batch row holds the same number of tokens) and quantised caches.
"""

import torch
from jaxtyping import Float
from torch import Tensor, nn


def _check_write(name: str, start_pos: int, n_new: int, length: int, max_seq: int) -> None:
    """Shared bounds check of `append`: no gap before `start_pos`, nothing written past `max_seq`."""
    if start_pos < 0 or start_pos > length:
        raise ValueError(f"{name}: start_pos must lie in [0, length={length}] (no gaps), got {start_pos}")
    if start_pos + n_new > max_seq:
        raise ValueError(f"{name}: writing positions [{start_pos}, {start_pos + n_new}) exceeds "
                         f"max_seq={max_seq}")


# ---------------------------------------------------------------------------------------------------
# Standard K/V cache (MHA, GQA, MQA)


class KVCache(nn.Module):
    """Pre-allocated keys and values of one attention layer (handout §4.3).

    Buffers (non-persistent): `k` and `v`, each `(max_batch, n_kv_heads, max_seq, head_dim)`, zeros at
    the start. After tokens `0 … length − 1` have been appended, `k[:B, :, :length]` holds their keys
    (B = the batch size of the appended tensors).
    """

    def __init__(self, max_batch: int, max_seq: int, n_kv_heads: int, head_dim: int,
                 dtype: torch.dtype = torch.float32, device=None):
        """Args:
        max_batch: largest batch the cache can hold.
        max_seq: largest number of tokens per row; writing past it raises `ValueError`.
        n_kv_heads: number of key/value heads G (n_heads for MHA, 1 for MQA).
        head_dim: dimension d_h of one head.
        dtype, device: of the buffers; appended tensors are cast to `dtype`.
        """
        super().__init__()
        # BEGIN SOLUTION
        for name, value in (("max_batch", max_batch), ("max_seq", max_seq), ("n_kv_heads", n_kv_heads),
                            ("head_dim", head_dim)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        shape = (max_batch, n_kv_heads, max_seq, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.max_batch, self.max_seq = max_batch, max_seq
        self._length = 0  # tokens written so far (a Python int, not a buffer)
        self._batch = 0   # batch size of the rows in use
        # END SOLUTION

    @property
    def length(self) -> int:
        """Number of tokens written so far (the next token's position)."""
        # BEGIN SOLUTION
        return self._length
        # END SOLUTION

    def append(self, k: Float[Tensor, " batch kv_heads seq head_dim"],
               v: Float[Tensor, " batch kv_heads seq head_dim"], start_pos: int) -> None:
        """Write `k`, `v` (B, n_kv_heads, T, head_dim) at positions `[start_pos, start_pos + T)` in place.

        Afterwards `length == start_pos + T` (a `start_pos` below `length` overwrites and rewinds).

        Raises:
            ValueError: if `start_pos + T > max_seq`, `start_pos` is negative or beyond `length` (a gap),
                B exceeds `max_batch` or differs from the batch already in the cache, or the head
                dimensions do not match the buffers.
        """
        # BEGIN SOLUTION
        B, G, T, d_h = k.shape
        if v.shape != k.shape or (G, d_h) != (self.k.shape[1], self.k.shape[3]):
            raise ValueError(f"k and v must both be (B, {self.k.shape[1]}, T, {self.k.shape[3]}), "
                             f"got {tuple(k.shape)} and {tuple(v.shape)}")
        if B > self.max_batch or (start_pos > 0 and B != self._batch):
            raise ValueError(f"batch size {B} must be <= max_batch={self.max_batch} and equal to the "
                             f"cached batch ({self._batch}) when appending")
        _check_write("KVCache.append", start_pos, T, self._length, self.max_seq)
        self.k[:B, :, start_pos:start_pos + T] = k  # (B, G, T, d_h) written in place
        self.v[:B, :, start_pos:start_pos + T] = v
        self._batch, self._length = B, start_pos + T
        # END SOLUTION

    def get(self, upto: int | None = None) -> tuple[Float[Tensor, " batch kv_heads upto head_dim"],
                                                   Float[Tensor, " batch kv_heads upto head_dim"]]:
        """Views `(k[:B, :, :upto], v[:B, :, :upto])` of the buffers (no copy); `upto` defaults to `length`.

        Raises:
            ValueError: if `upto` is negative or larger than `length`.
        """
        # BEGIN SOLUTION
        upto = self._length if upto is None else upto
        if not 0 <= upto <= self._length:
            raise ValueError(f"upto must lie in [0, length={self._length}], got {upto}")
        return self.k[:self._batch, :, :upto], self.v[:self._batch, :, :upto]  # (B, G, upto, d_h) views
        # END SOLUTION

    def reset(self) -> None:
        """Forget every token (`length = 0`); the buffers are kept (and later overwritten)."""
        # BEGIN SOLUTION
        self._length, self._batch = 0, 0
        # END SOLUTION

    def numel(self) -> int:
        """Number of cached elements in use: `2 · B · n_kv_heads · length · head_dim` (keys and values)."""
        # BEGIN SOLUTION
        _, G, _, d_h = self.k.shape
        return 2 * self._batch * G * self._length * d_h
        # END SOLUTION


# ---------------------------------------------------------------------------------------------------
# Latent cache (DeepSeek MLA)


class LatentKVCache(nn.Module):
    """Pre-allocated MLA cache: the normalised latent `c^KV` and the shared RoPE key `k^R` (handout §4.3).

    Buffers (non-persistent, and no others): `c_kv` `(max_batch, max_seq, kv_lora_rank)` and `k_rope`
    `(max_batch, max_seq, rope_dim)`. Same `append` / `get` / `length` rules as `KVCache`, with the
    token axis at dimension 1.
    """

    def __init__(self, max_batch: int, max_seq: int, kv_lora_rank: int, rope_dim: int,
                 dtype: torch.dtype = torch.float32, device=None):
        """Args:
        max_batch: largest batch the cache can hold.
        max_seq: largest number of tokens per row; writing past it raises `ValueError`.
        kv_lora_rank: latent dimension d_c.
        rope_dim: dimension d_r of the shared RoPE key.
        dtype, device: of the buffers; appended tensors are cast to `dtype`.
        """
        super().__init__()
        # BEGIN SOLUTION
        for name, value in (("max_batch", max_batch), ("max_seq", max_seq), ("kv_lora_rank", kv_lora_rank),
                            ("rope_dim", rope_dim)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.register_buffer("c_kv", torch.zeros(max_batch, max_seq, kv_lora_rank, dtype=dtype, device=device),
                             persistent=False)
        self.register_buffer("k_rope", torch.zeros(max_batch, max_seq, rope_dim, dtype=dtype, device=device),
                             persistent=False)
        self.max_batch, self.max_seq = max_batch, max_seq
        self._length = 0
        self._batch = 0
        # END SOLUTION

    @property
    def length(self) -> int:
        """Number of tokens written so far (the next token's position)."""
        # BEGIN SOLUTION
        return self._length
        # END SOLUTION

    def append(self, c_kv: Float[Tensor, " batch seq kv_lora_rank"], k_rope: Float[Tensor, " batch seq rope_dim"],
               start_pos: int) -> None:
        """Write `c_kv` (B, T, d_c) and `k_rope` (B, T, d_r) at positions `[start_pos, start_pos + T)`.

        Afterwards `length == start_pos + T`.

        Raises:
            ValueError: as `KVCache.append` (past `max_seq`, a gap, a batch or size mismatch).
        """
        # BEGIN SOLUTION
        B, T, d_c = c_kv.shape
        if d_c != self.c_kv.shape[2] or k_rope.shape != (B, T, self.k_rope.shape[2]):
            raise ValueError(f"c_kv must be (B, T, {self.c_kv.shape[2]}) and k_rope (B, T, "
                             f"{self.k_rope.shape[2]}), got {tuple(c_kv.shape)} and {tuple(k_rope.shape)}")
        if B > self.max_batch or (start_pos > 0 and B != self._batch):
            raise ValueError(f"batch size {B} must be <= max_batch={self.max_batch} and equal to the "
                             f"cached batch ({self._batch}) when appending")
        _check_write("LatentKVCache.append", start_pos, T, self._length, self.max_seq)
        self.c_kv[:B, start_pos:start_pos + T] = c_kv  # (B, T, d_c) written in place
        self.k_rope[:B, start_pos:start_pos + T] = k_rope  # (B, T, d_r)
        self._batch, self._length = B, start_pos + T
        # END SOLUTION

    def get(self, upto: int | None = None) -> tuple[Float[Tensor, " batch upto kv_lora_rank"],
                                                   Float[Tensor, " batch upto rope_dim"]]:
        """Views `(c_kv[:B, :upto], k_rope[:B, :upto])` of the buffers (no copy); `upto` defaults to `length`.

        Raises:
            ValueError: if `upto` is negative or larger than `length`.
        """
        # BEGIN SOLUTION
        upto = self._length if upto is None else upto
        if not 0 <= upto <= self._length:
            raise ValueError(f"upto must lie in [0, length={self._length}], got {upto}")
        return self.c_kv[:self._batch, :upto], self.k_rope[:self._batch, :upto]  # views
        # END SOLUTION

    def reset(self) -> None:
        """Forget every token (`length = 0`); the buffers are kept (and later overwritten)."""
        # BEGIN SOLUTION
        self._length, self._batch = 0, 0
        # END SOLUTION

    def numel(self) -> int:
        """Number of cached elements in use: `B · length · (kv_lora_rank + rope_dim)`."""
        # BEGIN SOLUTION
        return self._batch * self._length * (self.c_kv.shape[2] + self.k_rope.shape[2])
        # END SOLUTION
