"""Hidden tests of multi-head latent attention (handout §5): odd sizes, new seeds, default cache positions.

Copied at grading time to assignment1_basics/tests/hidden/, so the public fixtures and the public module's
helpers (`mla_weights`, `mla_latents`) apply. Sizes are deliberately irregular (5 heads,
d = 36, d_c = 10, d_n = d_r = 6, d_v = 7, T = 7, RoPE base 500), positions start at an offset or differ per
batch row, and the cached decoding test leaves `positions` to the module's default (the cache length) with
uneven chunks 2, 1, 4. Expected values come from grader/private/snapshots. Left out: bf16.
"""

import pytest
import torch

from assignment1_basics import adapters
from assignment1_basics.tests.test_mla import mla_latents, mla_weights

pytestmark = pytest.mark.a1_mla

TOL = {"atol": 1e-4, "rtol": 1e-4}      # composed op in fp32 (handout §8)
TOL64 = {"atol": 1e-10, "rtol": 1e-10}
THETA, MAX_LEN = 500.0, 40
SIZES = {"d_model": 36, "n_heads": 5, "q_lora_rank": 14, "kv_lora_rank": 10, "qk_nope_head_dim": 6,
         "qk_rope_head_dim": 6, "v_head_dim": 7}
VARIANTS = {"q_lora": SIZES, "no_q_lora": {**SIZES, "q_lora_rank": 0}}
ORDER = ("d_model", "n_heads", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
         "v_head_dim")


def run(s, w, x, **kw):
    return adapters.run_mla(*(s[k] for k in ORDER), w, x, rope_theta=THETA, max_seq_len=MAX_LEN, **kw)


def make_mla(s, w):
    mla = adapters.get_mla_class()(*(s[k] for k in ORDER), rope_theta=THETA, max_seq_len=MAX_LEN,
                                   dtype=w["wkv_a.weight"].dtype)
    mla.load_state_dict(w)
    return mla


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_mla_matches_reference(variant, randn, check):
    s = VARIANTS[variant]
    w = mla_weights(randn, s, seed=1300)
    x = randn(3, 7, 36, seed=1310)
    check("y", run(s, w, x, positions=torch.arange(11, 18)), **TOL)
    w64 = mla_weights(randn, s, seed=1301, dtype=torch.float64, gain=1.5)
    x64 = randn(3, 7, 36, seed=1311, dtype=torch.float64)
    check("y_fp64", run(s, w64, x64, positions=torch.arange(7)), **TOL64)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_mla_absorbed_equals_naive(variant, randn, check):
    s = VARIANTS[variant]
    w = mla_weights(randn, s, seed=1320, dtype=torch.float64)
    x = randn(2, 7, 36, seed=1321, dtype=torch.float64)
    pos = torch.arange(3, 10)
    naive, absorbed = run(s, w, x, positions=pos), run(s, w, x, positions=pos, absorb=True)
    check("absorbed", absorbed, **TOL64)
    check("naive_minus_absorbed_below_1e-12", (naive - absorbed).abs().max().item() < 1e-12)


def test_mla_batched_positions(randn, check):
    s = SIZES
    w = mla_weights(randn, s, seed=1330, dtype=torch.float64)
    x = randn(3, 7, 36, seed=1331, dtype=torch.float64)
    pos = torch.stack([torch.arange(7), torch.arange(5, 12), torch.arange(20, 27)])  # (B, T)
    y = run(s, w, x, positions=pos, absorb=True)
    check("y", y, **TOL64)
    rows = torch.cat([run(s, w, x[b:b + 1], positions=pos[b]) for b in range(3)])
    check("rows_agree", (y - rows).abs().max().item() < 1e-10)


def test_mla_invalid_sizes_raise(check):
    Mla = adapters.get_mla_class()
    check("valid_numel", sum(p.numel() for p in Mla(*(SIZES[k] for k in ORDER)).parameters()))
    check.raises("odd_rope_dim", ValueError, Mla, 36, 5, 14, 10, 6, 3, 7)
    check.raises("negative_q_lora_rank", ValueError, Mla, 36, 5, -1, 10, 6, 6, 7)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("absorb", [False, True], ids=["naive", "absorbed"])
def test_mla_decode_default_positions(absorb, variant, randn, check):
    s = VARIANTS[variant]
    w = mla_weights(randn, s, seed=1340, dtype=torch.float64)
    x = randn(3, 7, 36, seed=1341, dtype=torch.float64)
    mla = make_mla(s, w)
    cache = adapters.get_latent_kv_cache_class()(3, 9, 10, 6, dtype=torch.float64)
    outs, t = [], 0
    for n in (2, 1, 4):
        outs.append(mla(x[:, t:t + n], kv_cache=cache, absorb=absorb))  # positions default to start + arange
        t += n
    stepped = torch.cat(outs, dim=1)
    check("stepped", stepped, **TOL64)
    full = run(s, w, x, positions=torch.arange(7))
    check("equals_full_forward", (stepped - full).abs().max().item() < 1e-10)


def test_mla_cache_contents(randn, check):
    s = SIZES
    w = mla_weights(randn, s, seed=1350, dtype=torch.float64)
    x = randn(2, 7, 36, seed=1351, dtype=torch.float64)
    mla = make_mla(s, w)
    cache = adapters.get_latent_kv_cache_class()(2, 12, 10, 6, dtype=torch.float64)
    mla(x[:, :4], positions=torch.arange(4), kv_cache=cache)
    mla(x[:, 4:], positions=torch.arange(4, 7), kv_cache=cache, absorb=True)
    c_kv, k_rope = cache.get(7)
    check("c_kv", c_kv, **TOL64)
    check("k_rope", k_rope, **TOL64)
    want_c, _ = mla_latents(w, s, x, torch.arange(7))
    check("c_kv_is_normed_latent", (c_kv - want_c).abs().max().item() < 1e-10)
