"""Public tests of resource accounting (handout §8): parameters, FLOPs and memory as exact integers.

The expected numbers are the anchors of handout §8 (configs A and B, worked out by hand from the formulas)
and formulas written out again here term by term; snapshots record the same integers (no tolerance). When a
count is off, the assertion message looks the difference up among the terms of the formula and names the
one that is probably missing or counted twice. Two tests tie the formulas to real modules: the parameter
count equals `sum(p.numel())` of your `TransformerLM` (handout §6), and the MLA count equals that of your
`MultiHeadLatentAttention` (handout §5).
Left out here (hidden suite): other configurations, T not a power of two, other byte widths.
"""

import dataclasses

import pytest

from assignment1_basics import adapters
from assignment1_basics.config import ModelConfig

pytestmark = pytest.mark.a1_accounting

# Config A (GPT-2 XL sizes) and config B (the CS336 model) of handout §8.
CFG_A = ModelConfig(vocab_size=50_257, context_length=1024, d_model=1600, n_layers=48, n_heads=25, d_ff=6400)
CFG_B = ModelConfig(vocab_size=10_000, context_length=256, d_model=512, n_layers=4, n_heads=16, d_ff=1344)


def explain(got: int, want: int, terms: dict[str, int]) -> str:
    """Say which term of the formula the difference `want − got` probably is."""
    diff = want - got
    for name, value in terms.items():
        for k in (1, 2, 3):
            if diff == k * value and value:
                times = "" if k == 1 else f"{k} × "
                return f"got {got:,}, want {want:,}: {diff:,} short, which is {times}{name}; probably missing"
            if diff == -k * value and value:
                times = "" if k == 1 else f"{k} × "
                return (f"got {got:,}, want {want:,}: {-diff:,} too many, which is {times}{name}; "
                        "counted twice?")
    return f"got {got:,}, want {want:,} (difference {diff:,})"


def param_terms(cfg: ModelConfig) -> dict[str, int]:
    d, L, V, G, d_h = cfg.d_model, cfg.n_layers, cfg.vocab_size, cfg.kv_heads, cfg.head_dim
    return {"the final RMSNorm (d)": d, "the output head or the embedding (V·d)": V * d,
            "the two RMSNorm gains of every block (L·2d)": L * 2 * d, "one RMSNorm per block (L·d)": L * d,
            "one SwiGLU matrix per block (L·d·d_ff)": L * d * cfg.ffn_dim,
            "one attention projection per block (L·d²)": L * d * d,
            "K and V with n_heads instead of n_kv_heads (L·2·d·(H − G)·d_h)":
                L * 2 * d * (cfg.n_heads - G) * d_h}


def params_formula(cfg: ModelConfig) -> int:
    """Handout §8, written out: embedding, L blocks, final norm, head (absent when tied)."""
    d, V, G, d_h = cfg.d_model, cfg.vocab_size, cfg.kv_heads, cfg.head_dim
    attention = 2 * d * d + 2 * d * G * d_h  # W_Q, W_O; W_K, W_V
    block = attention + 3 * d * cfg.ffn_dim + 2 * d  # + SwiGLU w1, w2, w3 + norm1, norm2
    return V * d + cfg.n_layers * block + d + (0 if cfg.tie_embeddings else V * d)


def flops_formula(cfg: ModelConfig, T: int) -> int:
    """Forward FLOPs, matmuls only, 2 per multiply-add, full T × T attention."""
    d, G, d_h = cfg.d_model, cfg.kv_heads, cfg.head_dim
    projections = 2 * T * (2 * d * d + 2 * d * G * d_h)  # q, o: d → d; k, v: d → G·d_h
    scores = 2 * T * T * d + 2 * T * T * d  # Q Kᵀ and P V over all H heads of size d_h
    ffn = 2 * T * 3 * d * cfg.ffn_dim
    return cfg.n_layers * (projections + scores + ffn) + 2 * T * d * cfg.vocab_size


def flop_terms(cfg: ModelConfig, T: int) -> dict[str, int]:
    d, L = cfg.d_model, cfg.n_layers
    return {"half of the attention scores (L·2·T²·d: the causal half?)": L * 2 * T * T * d,
            "the output head (2·T·d·V)": 2 * T * d * cfg.vocab_size,
            "one attention projection (L·2·T·d²)": L * 2 * T * d * d,
            "one SwiGLU matmul (L·2·T·d·d_ff)": L * 2 * T * d * cfg.ffn_dim}


# --------------------------------------------------------------------------- parameters

@pytest.mark.parametrize("name, cfg, want", [("A", CFG_A, 2_127_057_600), ("B", CFG_B, 22_696_448)])
def test_count_params_anchors(name, cfg, want, check):
    got = adapters.run_count_params(cfg)
    check("params", got, hint="V·d + L·(4d² + 3·d·d_ff + 2d) + d + V·d (embedding, blocks, final norm, head)")
    assert type(got) is int, f"return a Python int, got {type(got).__name__}"
    assert got == want == params_formula(cfg), explain(got, want, param_terms(cfg))


def test_count_params_tied_embeddings(check):
    tied = dataclasses.replace(CFG_B, tie_embeddings=True)
    got = adapters.run_count_params(tied)
    check("params_tied", got, hint="tied: the head reuses tok_emb.weight, so V·d is counted once")
    want = 17_576_448  # config B without one V·d (handout §8)
    assert got == want == params_formula(tied), explain(got, want, param_terms(tied))


def test_count_params_gqa_and_default_d_ff(check):
    cases = {"gqa4": dataclasses.replace(CFG_B, n_kv_heads=4),
             "mqa": dataclasses.replace(CFG_B, n_kv_heads=1),
             "default_d_ff": dataclasses.replace(CFG_B, d_ff=None)}
    for name, cfg in cases.items():
        got = adapters.run_count_params(cfg)
        check(name, got, hint="GQA attention: 2d² + 2·d·n_kv·d_h; d_ff None means cfg.ffn_dim (default_d_ff)")
        want = params_formula(cfg)
        assert got == want, f"{name}: " + explain(got, want, param_terms(cfg))
    per_layer = 2 * 512 * 512 + 2 * 512 * 4 * 32
    assert per_layer == 655_360  # the GQA anchor of handout §8 (G = 4)
    assert adapters.run_count_params(cases["gqa4"]) == 22_696_448 - 4 * (4 * 512 * 512 - per_layer)


MODEL_CFGS = {
    "mha": ModelConfig(vocab_size=97, context_length=16, d_model=48, n_layers=2, n_heads=4, d_ff=80),
    "gqa_tied": ModelConfig(vocab_size=101, context_length=16, d_model=48, n_layers=3, n_heads=6,
                            n_kv_heads=2, tie_embeddings=True),
}


@pytest.mark.parametrize("name", list(MODEL_CFGS))
def test_count_params_equals_model(name, check):
    cfg = MODEL_CFGS[name]
    got = adapters.run_count_params(cfg)
    numel = sum(p.numel() for p in adapters.get_transformer_lm(cfg).parameters())
    check("params", got, hint="count every weight of TransformerLM(cfg): tok_emb, blocks (norm1, "
                              "attn.q/k/v/o, norm2, ffn.w1/w2/w3), norm_f, lm_head (absent when tied)")
    check("model_numel", numel, hint="the model of handout §6 (parameters tok_emb, blocks.{i}.…, "
                                     "norm_f, lm_head); check it against the formula of §8")
    assert got == params_formula(cfg), explain(got, params_formula(cfg), param_terms(cfg))
    assert numel == got, (
        f"sum(p.numel()) of your TransformerLM is {numel:,} but count_params gives {got:,}: "
        + explain(numel, got, param_terms(cfg)))


# --------------------------------------------------------------------------- FLOPs

@pytest.mark.parametrize("name, cfg, want", [("A", CFG_A, 4_513_336_524_800), ("B", CFG_B, 9_533_652_992)])
def test_forward_flops_anchors(name, cfg, want, check):
    T = cfg.context_length
    got = adapters.run_forward_flops(cfg, T)
    check("forward_flops", got, hint="L·(8·T·d² + 4·T²·d + 6·T·d·d_ff) + 2·T·d·V: matmuls only, 2 FLOPs per "
                                     "multiply-add, the full T × T attention")
    assert type(got) is int, f"return a Python int, got {type(got).__name__}"
    assert got == want == flops_formula(cfg, T), explain(got, want, flop_terms(cfg, T))
    per_token = adapters.run_forward_flops_per_token(cfg, T)
    check("per_token", per_token, hint="forward_flops(cfg, T) // T (exact: every term has a factor T)")
    assert per_token * T == want, f"per-token FLOPs {per_token:,} × T ≠ {want:,}"


def test_forward_flops_gqa_tied_and_short_sequence(check):
    cases = {"gqa4_T100": (dataclasses.replace(CFG_B, n_kv_heads=4), 100),
             "tied_T256": (dataclasses.replace(CFG_B, tie_embeddings=True), 256),
             "mha_T1": (CFG_B, 1)}
    for name, (cfg, T) in cases.items():
        got = adapters.run_forward_flops(cfg, T)
        check(name, got, hint="GQA: K and V project to n_kv·d_h; a tied head still costs 2·T·d·V")
        want = flops_formula(cfg, T)
        assert got == want, f"{name}: " + explain(got, want, flop_terms(cfg, T))


def test_train_flops(check):
    cases = {"A_B1": (CFG_A, 1, 1024), "B_B8": (CFG_B, 8, 256), "B_B3_T50": (CFG_B, 3, 50)}
    for name, (cfg, B, T) in cases.items():
        got = adapters.run_train_flops(cfg, B, T)
        check(name, got, hint="training = forward + backward = 3 × forward (backward = 2 × forward), "
                              "per sequence × B")
        want = 3 * B * flops_formula(cfg, T)
        assert got == want, (f"{name}: got {got:,}, want 3 · B · forward = {want:,}"
                             + (" (you used 2 × forward)" if got == 2 * B * flops_formula(cfg, T) else ""))
    assert adapters.run_train_flops(CFG_A, 1, 1024) == 13_540_009_574_400  # handout §8


# --------------------------------------------------------------------------- memory

def test_kv_cache_bytes(check):
    cases = {"A_bf16": (CFG_A, 1, 1024, 2, 314_572_800), "B_fp32": (CFG_B, 1, 256, 4, 4_194_304),
             "B_gqa4_B3": (dataclasses.replace(CFG_B, n_kv_heads=4), 3, 100, 2, 2 * 4 * 3 * 100 * 4 * 32 * 2),
             "B_mqa": (dataclasses.replace(CFG_B, n_kv_heads=1), 2, 256, 4, 2 * 4 * 2 * 256 * 1 * 32 * 4)}
    for name, (cfg, B, T, nbytes, want) in cases.items():
        got = adapters.run_kv_cache_bytes(cfg, B, T, nbytes)
        check(name, got, hint="2 (K and V) · L · B · T · n_kv · d_h · bytes_per_elem, "
                              "with n_kv = cfg.kv_heads")
        extra_heads = want // cfg.kv_heads * (cfg.n_heads - cfg.kv_heads)
        terms = {"the factor 2 for keys and values": want // 2,
                 "(n_heads − n_kv) heads (use n_kv_heads, not n_heads)": extra_heads}
        assert got == want, f"{name}: " + explain(got, want, terms)


def test_adamw_train_state_bytes(check):
    for name, cfg in {"A": CFG_A, "B_tied": dataclasses.replace(CFG_B, tie_embeddings=True)}.items():
        got = adapters.run_adamw_train_state_bytes(cfg)
        check(name, got, hint="fp32: parameter, gradient, m and v, 4 bytes each: 16 bytes per parameter")
        want = 16 * params_formula(cfg)
        assert got == want, f"{name}: got {got:,}, want 16 × {params_formula(cfg):,} = {want:,}"


# --------------------------------------------------------------------------- attention variants

MLA_TOY = {"kv_lora_rank": 12, "qk_rope_head_dim": 4, "qk_nope_head_dim": 12, "v_head_dim": 12}


def test_kv_cache_elems_per_token_variants(check):
    got = {"mha": adapters.run_kv_cache_elems_per_token("mha", 48, 4, head_dim=12),
           "gqa": adapters.run_kv_cache_elems_per_token("gqa", 48, 4, n_kv_heads=2),
           "mqa": adapters.run_kv_cache_elems_per_token("mqa", 48, 4),
           "mla": adapters.run_kv_cache_elems_per_token("mla", 48, 4, **MLA_TOY)}
    check("elems", got, hint="MHA 2·H·d_h, GQA 2·G·d_h, MQA 2·d_h (keys and values); MLA d_c + d_r")
    want = {"mha": 96, "gqa": 48, "mqa": 24, "mla": 16}  # DeepSeek-V2 Table 1, d_h = 12, H = 4, G = 2
    assert got == want, f"per-token cache sizes {got}, want {want} (MLA caches only c^KV and k^R: d_c + d_r)"
    v2_like = adapters.run_kv_cache_elems_per_token("mla", 1024, 8, kv_lora_rank=4 * 128, qk_rope_head_dim=64,
                                                    qk_nope_head_dim=128, v_head_dim=128)
    assert 2 * v2_like == 9 * 128, "with d_c = 4·d_h and d_r = d_h/2, MLA caches 4.5·d_h numbers per token"


def test_attention_param_count_variants(check):
    got = {"mha": adapters.run_attention_param_count("mha", 512, 16),
           "gqa": adapters.run_attention_param_count("gqa", 512, 16, n_kv_heads=4),
           "mqa": adapters.run_attention_param_count("mqa", 512, 16),
           "mha_head_dim": adapters.run_attention_param_count("mha", 48, 4, head_dim=16)}
    check("params", got, hint="q and o: d·H·d_h each; k and v: d·G·d_h each (G = H for MHA, 1 for MQA)")
    want = {"mha": 4 * 512 ** 2, "gqa": 655_360, "mqa": 2 * 512 ** 2 + 2 * 512 * 32,
            "mha_head_dim": 4 * 48 * 64}
    assert got == want, f"attention parameters {got}, want {want}"


def test_attention_flops_variants(check):
    T, d = 100, 512
    got = {"mha": adapters.run_attention_flops("mha", d, 16, T),
           "gqa": adapters.run_attention_flops("gqa", d, 16, T, n_kv_heads=4),
           "mla": adapters.run_attention_flops("mla", 48, 4, 10, q_lora_rank=20, **MLA_TOY)}
    check("flops", got, hint="2·T·(projection weights) + 2·T²·H·d_qk (scores) + 2·T²·H·d_v (P·V), "
                             "full T × T; MLA: d_qk = d_n + d_r, d_v = v_head_dim, norm gains cost no matmul")
    mla_matrices = 48 * 20 + 20 * 4 * 16 + 48 * 16 + 12 * 4 * 24 + 4 * 12 * 48  # wq_a, wq_b, wkv_a, wkv_b, wo
    want = {"mha": 8 * T * d * d + 4 * T * T * d,
            "gqa": 2 * T * (2 * d * d + 2 * d * 4 * 32) + 4 * T * T * d,
            "mla": 2 * 10 * mla_matrices + 2 * 10 * 10 * 4 * 16 + 2 * 10 * 10 * 4 * 12}
    assert got == want, (f"attention FLOPs {got}, want {want}" + (
        " (the scores look halved: count the full T × T square)"
        if got["mha"] == 8 * T * d * d + 2 * T * T * d else ""))


def test_attention_param_count_mla_equals_module(check):
    for q_lora_rank in (20, 0):
        got = adapters.run_attention_param_count("mla", 48, 4, q_lora_rank=q_lora_rank, **MLA_TOY)
        mla = adapters.get_mla_class()(48, 4, q_lora_rank, 12, 12, 4, 12)
        numel = sum(p.numel() for p in mla.parameters())
        check(f"params_q_lora_{q_lora_rank}", got,
              hint="wq_a, q_norm, wq_b (or wq), wkv_a, kv_norm, wkv_b, wo: matrices and the two norm gains")
        assert got == numel, (
            f"q_lora_rank={q_lora_rank}: attention_param_count gives {got:,}, your "
            f"MultiHeadLatentAttention has {numel:,} parameters: "
            + explain(got, numel, {"q_norm (q_lora_rank)": q_lora_rank, "kv_norm (d_c)": 12,
                                   "both norm gains": q_lora_rank + 12}))
