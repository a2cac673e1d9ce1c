"""The language model's configuration: one frozen dataclass, validated on construction (handout §6).

Given code, not an exercise: the tests, the accounting functions (handout §8), the training entry point
and checkpoints all describe a model by a `ModelConfig`, so its fields and their meaning are fixed by the
course. The grader always uses the course's copy of this file.

Left out: multi-head latent attention settings (MLA is a separate module, handout §5, not a block option)
and dropout (the course's models never use it).
"""

import math
from dataclasses import asdict, dataclass


def default_d_ff(d_model: int) -> int:
    """SwiGLU's hidden size when none is given: `64 · ceil((8/3) · d / 64)` (handout §3.2)."""
    return 64 * math.ceil(8 * d_model / 3 / 64)


@dataclass(frozen=True)
class ModelConfig:
    """A decoder-only Transformer LM: pre-norm blocks, RoPE, SwiGLU, RMSNorm (handout §6).

    n_kv_heads: None means n_heads (MHA); 1 is MQA; anything dividing n_heads is GQA.
    d_ff: None means `default_d_ff(d_model)`.
    tie_embeddings: the output head reuses the token embedding (no `lm_head` parameter).
    """

    vocab_size: int
    context_length: int
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int | None = None
    d_ff: int | None = None
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = False

    def __post_init__(self):
        for name in ("vocab_size", "context_length", "d_model", "n_layers", "n_heads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"ModelConfig.{name} must be a positive int, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not a multiple of n_heads={self.n_heads}")
        if self.head_dim % 2:
            raise ValueError(f"head_dim={self.head_dim} is odd; RoPE rotates pairs of dimensions")
        if self.n_kv_heads is not None and (self.n_kv_heads <= 0 or self.n_heads % self.n_kv_heads):
            raise ValueError(f"n_kv_heads={self.n_kv_heads} must divide n_heads={self.n_heads}")
        if self.d_ff is not None and self.d_ff <= 0:
            raise ValueError(f"d_ff must be positive, got {self.d_ff}")
        if self.rope_theta <= 0 or self.norm_eps <= 0:
            raise ValueError("rope_theta and norm_eps must be positive")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:
        """The number of K/V heads actually used (n_kv_heads, or n_heads when it is None)."""
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def ffn_dim(self) -> int:
        """The SwiGLU hidden size actually used (d_ff, or its default)."""
        return default_d_ff(self.d_model) if self.d_ff is None else self.d_ff

    def to_dict(self) -> dict:
        """Plain Python values only, so a checkpoint holding it loads with `weights_only=True`."""
        return asdict(self)
