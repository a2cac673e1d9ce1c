"""Hidden tests of resource accounting (handout §8): configurations and lengths the public suite does not use.

Copied at grading time to assignment1_basics/tests/hidden/. GPT-2 small and a GQA model with the default
d_ff and tied embeddings, odd sequence lengths (T = 7, 333), fp16 and int8 caches, DeepSeek-V2's MLA sizes.
Every value is an exact int; expected values come from grader/private/snapshots and, where cheap, from the
public module's formulas. Left out: nothing the public suite checks only on its own configs.
"""

import dataclasses

import pytest

from assignment1_basics import adapters
from assignment1_basics.config import ModelConfig
from assignment1_basics.tests.test_accounting import flops_formula, params_formula

pytestmark = pytest.mark.a1_accounting

GPT2_SMALL = ModelConfig(vocab_size=50_257, context_length=1024, d_model=768, n_layers=12, n_heads=12,
                         d_ff=3072)
GQA_TIED = ModelConfig(vocab_size=32_000, context_length=2048, d_model=1024, n_layers=7, n_heads=16,
                       n_kv_heads=4, tie_embeddings=True)
CONFIGS = {"gpt2_small": GPT2_SMALL, "gqa_tied": GQA_TIED,
           "mqa_untied": dataclasses.replace(GQA_TIED, n_kv_heads=1, tie_embeddings=False)}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_count_params_configs(name, check):
    cfg = CONFIGS[name]
    got = adapters.run_count_params(cfg)
    check("params", got)
    check("matches_formula", got == params_formula(cfg))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_forward_and_train_flops_configs(name, check):
    cfg = CONFIGS[name]
    for T in (7, 333):
        got = adapters.run_forward_flops(cfg, T)
        check(f"forward_T{T}", got)
        check(f"forward_T{T}_matches_formula", got == flops_formula(cfg, T))
        check(f"per_token_T{T}", adapters.run_forward_flops_per_token(cfg, T))
    check("train_B5_T333", adapters.run_train_flops(cfg, 5, 333))


def test_count_params_equals_model(check):
    cfg = ModelConfig(vocab_size=67, context_length=8, d_model=40, n_layers=3, n_heads=5, n_kv_heads=5)
    got = adapters.run_count_params(cfg)
    check("params", got)
    check("equals_model_numel", got == sum(p.numel() for p in adapters.get_transformer_lm(cfg).parameters()))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_memory_configs(name, check):
    cfg = CONFIGS[name]
    check("kv_fp16_B3_T333", adapters.run_kv_cache_bytes(cfg, 3, 333, 2))
    check("kv_int8_B1_T1024", adapters.run_kv_cache_bytes(cfg, 1, 1024, 1))
    check("adamw_state", adapters.run_adamw_train_state_bytes(cfg))


V2_MLA = {"kv_lora_rank": 512, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128}


def test_attention_variants_other_sizes(check):
    check("mla_v2_params", adapters.run_attention_param_count("mla", 5120, 128, q_lora_rank=1536, **V2_MLA))
    check("mla_v2_lite_params", adapters.run_attention_param_count("mla", 2048, 16, **V2_MLA))
    check("mla_v2_flops_T7", adapters.run_attention_flops("mla", 5120, 128, 7, q_lora_rank=1536, **V2_MLA))
    check("mla_v2_elems", adapters.run_kv_cache_elems_per_token("mla", 5120, 128, q_lora_rank=1536, **V2_MLA))
    check("gqa_head_dim_params",
          adapters.run_attention_param_count("gqa", 100, 10, n_kv_heads=5, head_dim=12))
    check("gqa_head_dim_flops_T7", adapters.run_attention_flops("gqa", 100, 10, 7, n_kv_heads=5, head_dim=12))
    check("gqa_elems", adapters.run_kv_cache_elems_per_token("gqa", 100, 10, n_kv_heads=5, head_dim=12))
    check("mqa_flops_T333", adapters.run_attention_flops("mqa", 768, 12, 333))
