"""The only functions the tests call: each one wires a test to your implementation (handout §0).

Every adapter imports the module it needs inside the function, so a mistake in one module (even a
syntax error) only fails the tests of that module. If you organise your package differently, change the
import lines here; keep the names, signatures and return values.

Left out: adapters of later parts of the assignment (they are added with those parts).
"""

import collections
import os
from typing import Any, BinaryIO

# ---------------------------------------------------------------------------------------------------
# BPE training (handout §1)


def run_train_bpe(
    input_path: str | os.PathLike,
    vocab_size: int,
    special_tokens: list[str],
    num_processes: int = 1,
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Train byte-level BPE on a file; returns (vocab, merges). Handout §1.2–§1.6."""
    from .bpe import train_bpe

    return train_bpe(input_path, vocab_size, special_tokens, num_processes=num_processes)


def run_chunk_boundaries(f: BinaryIO, n_chunks: int, split_tokens: list[bytes], scan_bytes: int = 4096) -> list[int]:
    """Chunk offsets of a binary file, each at the start of a split token. Handout §1.4."""
    from .bpe import chunk_boundaries

    return chunk_boundaries(f, n_chunks, split_tokens, scan_bytes)


def run_pretokenize_counts(text: str, special_tokens: list[str]) -> collections.Counter[bytes]:
    """Pre-token counts of a text, split on special tokens first. Handout §1.3."""
    from .bpe import pretokenize_counts

    return pretokenize_counts(text, special_tokens)


# ---------------------------------------------------------------------------------------------------
# Tokenizer (handout §2)


def get_tokenizer(
    vocab: dict[int, bytes],
    merges: list[tuple[bytes, bytes]],
    special_tokens: list[str] | None = None,
) -> Any:
    """A tokenizer object with encode, encode_iterable and decode. Handout §2.1–§2.4."""
    from .tokenizer import Tokenizer

    return Tokenizer(vocab, merges, special_tokens)


def get_tokenizer_from_files(
    vocab_path: str | os.PathLike,
    merges_path: str | os.PathLike,
    special_tokens: list[str] | None = None,
) -> Any:
    """A tokenizer read from vocab.json and merges.txt (the project's hex format). Handout §2.1."""
    from .tokenizer import Tokenizer

    return Tokenizer.from_files(vocab_path, merges_path, special_tokens)


# ---------------------------------------------------------------------------------------------------
# Transformer building blocks (handout §3). Weights are passed in and loaded with `load_state_dict` by
# their parameter names, so the tests never depend on your initialisation.


def run_linear(d_in: int, d_out: int, weights: Any, in_features: Any) -> Any:
    """`in_features Wᵀ` with `weights` of shape (d_out, d_in). Handout §3."""
    from .layers import Linear

    layer = Linear(d_in, d_out, device=weights.device, dtype=weights.dtype)
    layer.load_state_dict({"weight": weights})
    return layer(in_features)


def run_embedding(vocab_size: int, d_model: int, weights: Any, token_ids: Any) -> Any:
    """Rows of `weights` (vocab_size, d_model) selected by `token_ids`. Handout §3."""
    from .layers import Embedding

    layer = Embedding(vocab_size, d_model, device=weights.device, dtype=weights.dtype)
    layer.load_state_dict({"weight": weights})
    return layer(token_ids)


def run_rmsnorm(d_model: int, eps: float, weights: Any, in_features: Any) -> Any:
    """RMSNorm over the last dimension with gain `weights` (d_model,). Handout §3."""
    from .layers import RMSNorm

    layer = RMSNorm(d_model, eps=eps, device=weights.device, dtype=weights.dtype)
    layer.load_state_dict({"weight": weights})
    return layer(in_features)


def run_silu(in_features: Any) -> Any:
    """`x · σ(x)` elementwise. Handout §3."""
    from .layers import silu

    return silu(in_features)


def run_swiglu(
    d_model: int, d_ff: int, w1_weight: Any, w2_weight: Any, w3_weight: Any, in_features: Any
) -> Any:
    """`W2 (silu(W1 x) ⊙ W3 x)`; w1, w3 are (d_ff, d_model), w2 is (d_model, d_ff). Handout §3."""
    from .layers import SwiGLU

    ffn = SwiGLU(d_model, d_ff, device=w1_weight.device, dtype=w1_weight.dtype)
    ffn.load_state_dict({"w1.weight": w1_weight, "w2.weight": w2_weight, "w3.weight": w3_weight})
    return ffn(in_features)


def run_softmax(in_features: Any, dim: int) -> Any:
    """Numerically stable softmax along `dim`. Handout §3."""
    from .layers import softmax

    return softmax(in_features, dim)


def get_linear_class() -> type:
    """Your Linear class (the tests check its initialisation statistics). Handout §3."""
    from .layers import Linear

    return Linear


def get_embedding_class() -> type:
    """Your Embedding class (the tests check its initialisation statistics). Handout §3."""
    from .layers import Embedding

    return Embedding


def get_swiglu_class() -> type:
    """Your SwiGLU class (the tests check the default d_ff). Handout §3."""
    from .layers import SwiGLU

    return SwiGLU


# ---------------------------------------------------------------------------------------------------
# Positions (handout §3.3)


def run_sinusoidal_pe(max_len: int, d_model: int, base: float = 10000.0, dtype: Any = None) -> Any:
    """The (max_len, d_model) sinusoidal table, interleaved sin/cos; dtype None means fp32. Handout §3.3."""
    from .positional import sinusoidal_positional_encoding

    if dtype is None:
        return sinusoidal_positional_encoding(max_len, d_model, base)
    return sinusoidal_positional_encoding(max_len, d_model, base, dtype)


def run_rope(
    head_dim: int,
    theta: float,
    max_seq_len: int,
    in_query_or_key: Any,
    token_positions: Any,
    style: str = "interleaved",
) -> Any:
    """RoPE of `in_query_or_key` (..., T, head_dim) at `token_positions` (T,) or (B, T). Handout §3.3.

    The cache is built in fp64 for fp64 inputs and in fp32 otherwise.
    """
    import torch

    from .positional import apply_rope, rope_cache

    cache_dtype = torch.float64 if in_query_or_key.dtype == torch.float64 else torch.float32
    cos, sin = rope_cache(head_dim, max_seq_len, theta, cache_dtype)
    return apply_rope(in_query_or_key, token_positions, cos, sin, style)
