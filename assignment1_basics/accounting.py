"""Resource accounting with exact integers: parameters, FLOPs and memory of the model (handout §8).

Every answer is a Python `int` computed from the shapes alone, never by building a model. The conventions
(handout §8, the same as Kaplan et al. 2020 §2.1 and the CS336 handout):

* FLOPs count **matrix multiplications only**, 2 FLOPs per multiply-add: a `(m × k) @ (k × n)` product
  costs `2·m·k·n`. Norms, softmax, RoPE, SiLU, the elementwise product of SwiGLU, residual additions and
  the embedding lookup (an index, not a matmul) are left out.
* Attention scores are counted over the **full `T × T`** square (no saving for the causal mask), for
  `q kᵀ` and again for `P v`.
* The output head costs `2·T·d·V` whether or not it is tied to the embedding; tying saves parameters,
  not compute.
* Training = forward + backward, with backward = 2 × forward (one matmul for the input gradient and one
  for the weight gradient per forward matmul): 3 × forward.

The model is the one of handout §6 (`ModelConfig`): token embedding, L pre-norm blocks (RMSNorm, attention
with `q,k,v,o` projections and no biases, RMSNorm, SwiGLU), a final RMSNorm, an output head. Attention
variants (MHA, GQA, MQA, MLA) are described by `AttentionSpec`.

Deliberately left out: activation memory, optimizer-state sharding, mixed-precision copies, the softmax
and norm FLOPs, and the weight-absorbed MLA path (its FLOPs depend on the order of the products).
"""

from dataclasses import dataclass

from .config import ModelConfig

# ---------------------------------------------------------------------------------------------------
# Attention variants (given code: describes one attention layer)

ATTENTION_KINDS = ("mha", "gqa", "mqa", "mla")


@dataclass(frozen=True)
class AttentionSpec:
    """One attention layer, for `attention_param_count`, `attention_flops`, `kv_cache_elems_per_token`.

    kind: "mha", "gqa", "mqa" (projections `q,k,v,o`, no biases) or "mla" (DeepSeek MLA, handout §5).
    head_dim: the head size d_h of mha/gqa/mqa; None means `d_model // n_heads`.
    n_kv_heads: the number of K/V heads G, required for "gqa" (must divide n_heads); "mha" uses n_heads,
        "mqa" uses 1.
    kv_lora_rank (d_c), qk_rope_head_dim (d_r), q_lora_rank (0: no query compression),
    qk_nope_head_dim (d_n), v_head_dim (d_v): the MLA sizes, used only by "mla".

    Given code: do not change it.
    """

    kind: str
    d_model: int
    n_heads: int
    n_kv_heads: int | None = None
    head_dim: int | None = None
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    q_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0

    def __post_init__(self):
        if self.kind not in ATTENTION_KINDS:
            raise ValueError(f"kind must be one of {ATTENTION_KINDS}, got {self.kind!r}")
        if self.d_model <= 0 or self.n_heads <= 0:
            raise ValueError("d_model and n_heads must be positive")
        if self.kind == "gqa" and (self.n_kv_heads is None or self.n_kv_heads <= 0
                                   or self.n_heads % self.n_kv_heads):
            raise ValueError(f"gqa needs n_kv_heads dividing n_heads={self.n_heads}, got {self.n_kv_heads}")
        if self.kind == "mla" and min(self.kv_lora_rank, self.qk_rope_head_dim, self.qk_nope_head_dim,
                                      self.v_head_dim) <= 0:
            raise ValueError("mla needs positive kv_lora_rank, qk_rope_head_dim, qk_nope_head_dim and "
                             "v_head_dim")

    @property
    def head_size(self) -> int:
        """d_h of mha/gqa/mqa: `head_dim`, or `d_model // n_heads` when it is None."""
        return self.d_model // self.n_heads if self.head_dim is None else self.head_dim

    @property
    def kv_heads(self) -> int:
        """The number of K/V heads G: n_heads (mha), n_kv_heads (gqa), 1 (mqa)."""
        return {"mha": self.n_heads, "gqa": self.n_kv_heads, "mqa": 1}.get(self.kind, self.n_heads)


def attention_param_count(spec: AttentionSpec) -> int:
    """Parameters of one attention layer described by `spec` (handout §8).

    mha/gqa/mqa: `2·d·H·d_h + 2·d·G·d_h` (MHA with `H·d_h = d`: `4d²`; GQA: `2d² + 2·d·G·d_h`).
    mla: the matrices `wq_a, wq_b` (or `wq`), `wkv_a, wkv_b, wo` plus the gains of `q_norm` (if
    `q_lora_rank > 0`) and `kv_norm`: exactly `sum(p.numel())` of `MultiHeadLatentAttention`.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.accounting attention_param_count: see handout §8")
    # END SOLUTION


def attention_flops(spec: AttentionSpec, T: int) -> int:
    """Forward FLOPs of one self-attention layer over a sequence of T tokens (handout §8).

    Matmuls only, 2 FLOPs per multiply-add, full `T × T` scores: `2·T·(weight-matrix entries)` for the
    projections, `2·T²·H·d_qk` for `q kᵀ` and `2·T²·H·d_v` for `P v` (mha/gqa/mqa: `d_qk = d_v = d_h`;
    mla: `d_qk = d_n + d_r`, `d_v = v_head_dim`, the naive path; norm gains cost no matmul).
    MHA with `H·d_h = d`: `8·T·d² + 4·T²·d`.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.accounting attention_flops: see handout §8")
    # END SOLUTION


def kv_cache_elems_per_token(spec: AttentionSpec) -> int:
    """Numbers cached per token for one layer (DeepSeek-V2 Table 1; handout §8).

    mha `2·H·d_h`, gqa `2·G·d_h`, mqa `2·d_h` (keys and values); mla `d_c + d_r` (the latent c^KV and
    the shared k^R).
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.accounting kv_cache_elems_per_token: see handout §8")
    # END SOLUTION


# ---------------------------------------------------------------------------------------------------
# The language model of handout §6


def count_params(cfg: ModelConfig) -> int:
    """Trainable parameters of `TransformerLM(cfg)` (handout §6, §8).

    `V·d` (embedding) + `L·(attention + 3·d·d_ff + 2·d)` (per block: attention projections, SwiGLU
    `w1, w2, w3`, two RMSNorm gains) + `d` (final norm) + `V·d` (output head; 0 if tied). Attention is
    `4d²` for MHA and `2d² + 2·d·n_kv·d_h` for GQA/MQA.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.accounting count_params: see handout §8")
    # END SOLUTION


def forward_flops(cfg: ModelConfig, T: int) -> int:
    """Forward FLOPs for one sequence of T tokens (handout §8).

    `L·(attention_flops + 6·T·d·d_ff) + 2·T·d·V`; for MHA
    `L·(8·T·d² + 4·T²·d + 6·T·d·d_ff) + 2·T·d·V`. Matmuls only, full `T × T` attention, the head counted
    even when tied.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.accounting forward_flops: see handout §8")
    # END SOLUTION


def forward_flops_per_token(cfg: ModelConfig, T: int) -> int:
    """`forward_flops(cfg, T) // T`, exact: every term of the forward count is a multiple of T."""
    # BEGIN SOLUTION
    raise NotImplementedError("a1.accounting forward_flops_per_token: see handout §8")
    # END SOLUTION


def train_flops(cfg: ModelConfig, B: int, T: int) -> int:
    """FLOPs of one training step on B sequences of T tokens: `3 · B · forward_flops(cfg, T)`.

    Backward costs 2 × forward (input and weight gradients of every matmul).
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.accounting train_flops: see handout §8")
    # END SOLUTION


def kv_cache_bytes(cfg: ModelConfig, B: int, T: int, bytes_per_elem: int) -> int:
    """Bytes of the KV cache of all layers for B sequences of T tokens: `2·L·B·T·n_kv·d_h·bytes_per_elem`.

    The factor 2 is keys and values; `n_kv` is `cfg.kv_heads` (n_heads for MHA).
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.accounting kv_cache_bytes: see handout §8")
    # END SOLUTION


def adamw_train_state_bytes(cfg: ModelConfig) -> int:
    """Bytes of the fp32 training state under AdamW, activations excluded: 16 per parameter.

    Parameter, gradient, first moment m and second moment v, 4 bytes each.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.accounting adamw_train_state_bytes: see handout §8")
    # END SOLUTION
