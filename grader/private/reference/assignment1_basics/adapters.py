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


# ---------------------------------------------------------------------------------------------------
# Attention and the KV cache (handout §4). Attention weights are a state dict with the keys
# `q_proj.weight`, `k_proj.weight`, `v_proj.weight`, `o_proj.weight` (plus `*.bias` when the
# projections have biases); `rope` is the `(cos, sin)` pair of `rope_cache` or None.


def run_scaled_dot_product_attention(
    Q: Any, K: Any, V: Any, mask: Any = None, is_causal: bool = False, scale: float | None = None
) -> Any:
    """softmax(Q Kᵀ · scale + M) V with bottom-right causal alignment and GQA heads. Handout §4.1."""
    from .attention import scaled_dot_product_attention

    return scaled_dot_product_attention(Q, K, V, mask=mask, is_causal=is_causal, scale=scale)


def _load_attention(cls_name: str, sizes: tuple, weights: dict[str, Any]) -> Any:
    from . import attention

    w = weights["q_proj.weight"]
    module = getattr(attention, cls_name)(*sizes, bias="q_proj.bias" in weights, device=w.device, dtype=w.dtype)
    module.load_state_dict(weights)
    return module


def run_multihead_attention(
    d_model: int, n_heads: int, weights: dict[str, Any], in_features: Any, *,
    positions: Any = None, rope: Any = None, mask: Any = None, is_causal: bool = True
) -> Any:
    """MultiHeadAttention with `weights` loaded, applied to `in_features` (B, T, d_model). Handout §4.2."""
    mha = _load_attention("MultiHeadAttention", (d_model, n_heads), weights)
    return mha(in_features, mask=mask, is_causal=is_causal, positions=positions, rope=rope)


def run_grouped_query_attention(
    d_model: int, n_heads: int, n_kv_heads: int, weights: dict[str, Any], in_features: Any, *,
    positions: Any = None, rope: Any = None, mask: Any = None, is_causal: bool = True
) -> Any:
    """GroupedQueryAttention with `weights` loaded, applied to `in_features` (B, T, d_model). Handout §4.2."""
    gqa = _load_attention("GroupedQueryAttention", (d_model, n_heads, n_kv_heads), weights)
    return gqa(in_features, mask=mask, is_causal=is_causal, positions=positions, rope=rope)


def run_multi_query_attention(
    d_model: int, n_heads: int, weights: dict[str, Any], in_features: Any, *,
    positions: Any = None, rope: Any = None, mask: Any = None, is_causal: bool = True
) -> Any:
    """MultiQueryAttention with `weights` loaded, applied to `in_features` (B, T, d_model). Handout §4.2."""
    mqa = _load_attention("MultiQueryAttention", (d_model, n_heads), weights)
    return mqa(in_features, mask=mask, is_causal=is_causal, positions=positions, rope=rope)


def run_mha_to_gqa(mha_state_dict: dict[str, Any], n_heads: int, n_kv_heads: int) -> dict[str, Any]:
    """An MHA state dict converted to GQA by mean-pooling K and V heads per group. Handout §4.2."""
    from .attention import mha_to_gqa

    return mha_to_gqa(mha_state_dict, n_heads, n_kv_heads)


def get_attention_class(kind: str) -> type:
    """Your attention class: "mha" MultiHeadAttention, "gqa" GroupedQueryAttention, "mqa"
    MultiQueryAttention (the tests build them, load weights and call them with a KV cache). Handout §4.2–§4.3.
    """
    from . import attention

    return {"mha": attention.MultiHeadAttention, "gqa": attention.GroupedQueryAttention,
            "mqa": attention.MultiQueryAttention}[kind]


def get_kv_cache_class() -> type:
    """Your KVCache class: KVCache(max_batch, max_seq, n_kv_heads, head_dim, dtype, device). Handout §4.3."""
    from .kv_cache import KVCache

    return KVCache


def get_latent_kv_cache_class() -> type:
    """Your LatentKVCache class: LatentKVCache(max_batch, max_seq, kv_lora_rank, rope_dim, dtype, device).
    Handout §4.3.
    """
    from .kv_cache import LatentKVCache

    return LatentKVCache


# ---------------------------------------------------------------------------------------------------
# Multi-head latent attention (handout §5). MLA weights are a state dict with the parameter names of
# DeepSeek-V3's `MLA`: `wq_a.weight`, `q_norm.weight`, `wq_b.weight` (or only `wq.weight` when
# q_lora_rank = 0), `wkv_a.weight`, `kv_norm.weight`, `wkv_b.weight`, `wo.weight`.


def get_mla_class() -> type:
    """Your MultiHeadLatentAttention class: MultiHeadLatentAttention(d_model, n_heads, q_lora_rank,
    kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim, rms_eps=1e-6, *, rope_theta, max_seq_len,
    device, dtype), called as module(x, positions=, kv_cache=, absorb=). Handout §5.
    """
    from .mla import MultiHeadLatentAttention

    return MultiHeadLatentAttention


def run_mla(
    d_model: int, n_heads: int, q_lora_rank: int, kv_lora_rank: int, qk_nope_head_dim: int,
    qk_rope_head_dim: int, v_head_dim: int, weights: dict[str, Any], in_features: Any, *,
    positions: Any = None, absorb: bool = False, rope_theta: float = 10000.0, max_seq_len: int = 64,
    rms_eps: float = 1e-6,
) -> Any:
    """MultiHeadLatentAttention with `weights` loaded, applied causally to `in_features` (B, T, d_model),
    naive path (absorb=False) or weight-absorbed path (absorb=True). Handout §5.
    """
    from .mla import MultiHeadLatentAttention

    w = weights["wkv_a.weight"]
    mla = MultiHeadLatentAttention(d_model, n_heads, q_lora_rank, kv_lora_rank, qk_nope_head_dim,
                                   qk_rope_head_dim, v_head_dim, rms_eps, rope_theta=rope_theta,
                                   max_seq_len=max_seq_len, device=w.device, dtype=w.dtype)
    mla.load_state_dict(weights)
    return mla(in_features, positions=positions, absorb=absorb)


# ---------------------------------------------------------------------------------------------------
# Resource accounting (handout §8). `cfg` is a `config.ModelConfig`; attention variants are given as
# keyword sizes, turned here into your `accounting.AttentionSpec`. Every function returns an exact int.


def run_count_params(cfg: Any) -> int:
    """Trainable parameters of TransformerLM(cfg). Handout §8."""
    from .accounting import count_params

    return count_params(cfg)


def run_forward_flops(cfg: Any, T: int) -> int:
    """Forward FLOPs for one sequence of T tokens. Handout §8."""
    from .accounting import forward_flops

    return forward_flops(cfg, T)


def run_forward_flops_per_token(cfg: Any, T: int) -> int:
    """Forward FLOPs per token at sequence length T. Handout §8."""
    from .accounting import forward_flops_per_token

    return forward_flops_per_token(cfg, T)


def run_train_flops(cfg: Any, B: int, T: int) -> int:
    """FLOPs of one training step on B sequences of T tokens. Handout §8."""
    from .accounting import train_flops

    return train_flops(cfg, B, T)


def run_kv_cache_bytes(cfg: Any, B: int, T: int, bytes_per_elem: int) -> int:
    """KV-cache bytes of all layers for B sequences of T tokens. Handout §8."""
    from .accounting import kv_cache_bytes

    return kv_cache_bytes(cfg, B, T, bytes_per_elem)


def run_adamw_train_state_bytes(cfg: Any) -> int:
    """fp32 AdamW training-state bytes (parameters, gradients, m, v). Handout §8."""
    from .accounting import adamw_train_state_bytes

    return adamw_train_state_bytes(cfg)


def run_attention_param_count(kind: str, d_model: int, n_heads: int, **sizes: int) -> int:
    """Parameters of one attention layer; `sizes` are the other fields of AttentionSpec. Handout §8."""
    from .accounting import AttentionSpec, attention_param_count

    return attention_param_count(AttentionSpec(kind, d_model, n_heads, **sizes))


def run_attention_flops(kind: str, d_model: int, n_heads: int, T: int, **sizes: int) -> int:
    """Forward FLOPs of one attention layer over T tokens (full T × T scores). Handout §8."""
    from .accounting import AttentionSpec, attention_flops

    return attention_flops(AttentionSpec(kind, d_model, n_heads, **sizes), T)


def run_kv_cache_elems_per_token(kind: str, d_model: int, n_heads: int, **sizes: int) -> int:
    """Numbers cached per token per layer for one attention variant. Handout §8."""
    from .accounting import AttentionSpec, kv_cache_elems_per_token

    return kv_cache_elems_per_token(AttentionSpec(kind, d_model, n_heads, **sizes))


# ---------------------------------------------------------------------------------------------------
# Training utilities and the training loop (handout §7)


def run_cross_entropy(logits: Any, targets: Any) -> Any:
    """Mean cross-entropy of `logits` (..., V) against integer `targets` (...): a 0-dim tensor. Handout §7.1."""
    from .loss import cross_entropy

    return cross_entropy(logits, targets)


def get_adamw_class() -> type:
    """Your AdamW optimizer class (a torch.optim.Optimizer subclass). Handout §7.2."""
    from .optimizer import AdamW

    return AdamW


def run_cosine_lr(t: int, lr_max: float, lr_min: float, warmup_iters: int, cosine_iters: int) -> float:
    """The learning rate at iteration t (linear warm-up, cosine decay, constant). Handout §7.3."""
    from .optimizer import cosine_lr

    return cosine_lr(t, lr_max, lr_min, warmup_iters, cosine_iters)


def run_clip_grad_norm(parameters: Any, max_norm: float, eps: float = 1e-6) -> Any:
    """Clip the gradients of `parameters` in place to a global L2 norm; returns the norm before. Handout §7.4."""
    from .optimizer import clip_grad_norm_

    return clip_grad_norm_(parameters, max_norm, eps)


def run_get_batch(dataset: Any, batch_size: int, context_length: int, device: str, generator: Any = None) -> Any:
    """(x, y) windows of `dataset` (1-D token array), int64 (B, m) on `device`. Handout §7.5."""
    from .data import get_batch

    return get_batch(dataset, batch_size, context_length, device, generator)


def run_save_checkpoint(model: Any, optimizer: Any, iteration: int, out: Any, extra: dict | None = None) -> None:
    """torch.save model and optimizer state and the iteration to a path or file object. Handout §7.6."""
    from .checkpoint import save_checkpoint

    save_checkpoint(model, optimizer, iteration, out, extra=extra)


def run_load_checkpoint(src: Any, model: Any, optimizer: Any = None) -> int:
    """Restore model (and optimizer) state from a checkpoint; returns the stored iteration. Handout §7.6."""
    from .checkpoint import load_checkpoint

    return load_checkpoint(src, model, optimizer)


def run_train(
    model_config: dict,
    train_config: dict,
    train_tokens: Any,
    val_tokens: Any,
    resume: bool = False,
    log: Any = None,
) -> list[dict]:
    """Train a TransformerLM from dicts of ModelConfig and TrainConfig fields; one record per evaluation.

    Handout §7.7.
    """
    from .config import ModelConfig
    from .train import TrainConfig, train

    return train(ModelConfig(**model_config), TrainConfig(**train_config), train_tokens, val_tokens,
                 resume=resume, log=log)


# ---------------------------------------------------------------------------------------------------
# Transformer block, language model and decoding (handout §6). Block weights are a state dict with the
# keys `norm1.weight`, `attn.{q,k,v,o}_proj.weight`, `norm2.weight`, `ffn.{w1,w2,w3}.weight`; model
# weights add the prefix `blocks.{i}.` to those and the keys `tok_emb.weight`, `norm_f.weight` and (untied
# only) `lm_head.weight`. `cfg` is a `config.ModelConfig`.


def run_transformer_block(
    d_model: int, n_heads: int, d_ff: int, max_seq_len: int, theta: float, weights: dict[str, Any],
    in_features: Any, *, n_kv_heads: int | None = None, eps: float = 1e-5, positions: Any = None
) -> Any:
    """A pre-norm TransformerBlock with `weights` loaded, applied to `in_features` (B, T, d_model).

    Handout §6.1.
    """
    from .model import TransformerBlock

    w = weights["attn.q_proj.weight"]
    block = TransformerBlock(d_model, n_heads, d_ff, n_kv_heads=n_kv_heads, max_seq_len=max_seq_len,
                             rope_theta=theta, eps=eps, device=w.device, dtype=w.dtype)
    block.load_state_dict(weights)
    return block(in_features, positions=positions)


def get_transformer_lm(cfg: Any, weights: dict[str, Any] | None = None, *, dtype: Any = None) -> Any:
    """Your TransformerLM(cfg) in `dtype` (default: the dtype of `weights`, else fp32), with `weights`
    loaded (strictly) when given. Handout §6.2.
    """
    import torch

    from .model import TransformerLM

    if dtype is None:
        dtype = weights["tok_emb.weight"].dtype if weights is not None else torch.float32
    model = TransformerLM(cfg, dtype=dtype)
    if weights is not None:
        model.load_state_dict(weights)
    return model


def run_transformer_lm(cfg: Any, weights: dict[str, Any], in_indices: Any, *, positions: Any = None) -> Any:
    """Logits (B, T, vocab_size) of a TransformerLM with `weights` loaded, for `in_indices` (B, T).

    Handout §6.2.
    """
    return get_transformer_lm(cfg, weights)(in_indices, positions=positions)


def run_transformer_lm_cached(model: Any, in_indices: Any, chunk_sizes: list[int]) -> Any:
    """Feed `in_indices` (B, T) to `model` in consecutive chunks of `chunk_sizes` tokens through one set of
    caches, `model.make_kv_caches(B, T)`, leaving positions to the model's default (the number of tokens
    already cached); returns the logits of every chunk concatenated, (B, T, V). Handout §6.2.
    """
    import torch

    B, T = in_indices.shape
    caches = model.make_kv_caches(B, T)
    out, start = [], 0
    for n in chunk_sizes:
        out.append(model(in_indices[:, start:start + n], kv_caches=caches))
        start += n
    return torch.cat(out, dim=1)


def run_sample_next(logits: Any, temperature: float, top_p: float, generator: Any = None) -> int:
    """One token id drawn from `logits` (V,) with temperature and nucleus sampling. Handout §6.3."""
    from .decoding import sample_next

    return sample_next(logits, temperature=temperature, top_p=top_p, generator=generator)


def run_generate(
    model: Any, prompt_ids: list[int], max_new_tokens: int, *, temperature: float = 1.0, top_p: float = 1.0,
    eos_id: int | None = None, generator: Any = None, use_cache: bool = False
) -> list[int]:
    """The ids `generate` samples after `prompt_ids` (the prompt excluded). Handout §6.3."""
    from .decoding import generate

    return generate(model, prompt_ids, max_new_tokens, temperature=temperature, top_p=top_p, eos_id=eos_id,
                    generator=generator, use_cache=use_cache)
