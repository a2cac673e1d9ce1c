"""Hidden tests of decoding (handout §6.3): new logits and seeds, edge cases of `generate`.

Copied at grading time to assignment1_basics/tests/hidden/. Sampling is judged by laws (support of 2,000
seeded draws, a chi-square bound at α = 0.001, greedy ties), never by exact draws, so any correct use of
`torch.multinomial` passes. `generate` runs on the public stand-in `SumModel` (prompt longer than the
context, EOS as the very first token or never) and on a tied MQA `TransformerLM` for the KV-cache path,
greedy and sampled with the same seed in fp64. Expected values come from grader/private/snapshots.
"""

import collections

import pytest
import torch

from assignment1_basics import adapters
from assignment1_basics.config import ModelConfig
from assignment1_basics.tests import _model_util as mu
from assignment1_basics.tests._model_util import CHI2_999, SumModel, chi_square, nucleus, sum_model_tokens

pytestmark = pytest.mark.a1_model

# Probabilities 0.22, 0.02, 0.22, 0.15, 0.09, 0.30 (two ties at 0.22), shifted logits.
LOGITS = torch.log(torch.tensor([0.22, 0.02, 0.22, 0.15, 0.09, 0.30])) - 4.0


def draws(logits, temperature, top_p, seed, n=2000):
    gen = torch.Generator().manual_seed(seed)
    return collections.Counter(adapters.run_sample_next(logits, temperature, top_p, gen) for _ in range(n))


def test_sample_next_greedy_first_maximum(check):
    logits = torch.tensor([-5.0, float("-inf"), -2.5, -7.0, -2.5, -2.5])
    got = adapters.run_sample_next(logits, 0.0, 0.3)
    check("tied", got)
    assert got == 2


def test_sample_next_tiny_top_p_is_greedy(check):
    rows = torch.randn(6, 33, generator=torch.Generator().manual_seed(1300)) * 3
    gen = torch.Generator().manual_seed(1301)
    picks = [adapters.run_sample_next(r, 2.0, 1e-4, gen) for r in rows]
    check("picks", picks)
    assert picks == rows.argmax(-1).tolist()


@pytest.mark.parametrize("temperature,top_p", [(1.0, 0.5), (2.0, 0.8), (0.7, 1.0)],
                         ids=["t1_p05", "t2_p08", "t07_all"])
def test_sample_next_top_p_cut(temperature, top_p, check):
    counts = draws(LOGITS, temperature, top_p, seed=1302)
    want = nucleus(LOGITS, temperature, top_p)
    stat = chi_square(counts, want)
    check("support", sorted(counts))
    check("chi_square_below_bound", stat < CHI2_999[len(want) - 1])
    assert set(counts) == set(want) and stat < CHI2_999[len(want) - 1]


def test_sample_next_fp64_logits(check):
    logits = torch.randn(17, generator=torch.Generator().manual_seed(1303), dtype=torch.float64)
    got = adapters.run_sample_next(logits, 0.0, 1.0)
    tiny = adapters.run_sample_next(logits, 0.5, 1e-9, torch.Generator().manual_seed(1304))
    check("ids", [got, tiny])
    assert got == tiny == int(logits.argmax())


def test_generate_prompt_longer_than_context(check):
    model = SumModel(vocab_size=23, context_length=4)
    prompt = [5, 9, 2, 11, 7, 3, 8, 1, 6]
    got = adapters.run_generate(model, prompt, 10, temperature=0.0)
    check("tokens", got)
    assert got == sum_model_tokens(prompt, 10, 23, 4) and model.max_len_seen <= 4


def test_generate_eos_edge_cases(check):
    model = SumModel(vocab_size=23, context_length=4)
    first = sum_model_tokens([4, 4], 1, 23, 4)[0]
    at_once = adapters.run_generate(model, [4, 4], 10, temperature=0.0, eos_id=first)
    never = adapters.run_generate(model, [4, 4], 10, temperature=0.0, eos_id=22 if first != 22 else 21)
    check("eos_first", at_once)
    check("eos_never_len", len(never))
    assert at_once == [first]
    assert never == sum_model_tokens([4, 4], 10, 23, 4, eos=22 if first != 22 else 21)


def test_generate_invalid_args_raise(check):
    model = SumModel(vocab_size=23, context_length=4)
    check("valid_call", adapters.run_generate(model, [1, 2], 2, temperature=0.0))
    check.raises("negative_max_new_tokens", ValueError, adapters.run_generate, model, [1, 2], -1)
    check.raises("negative_temperature", ValueError, adapters.run_generate, model, [1, 2], 3,
                 temperature=-1.0)
    check.raises("top_p_above_one", ValueError, adapters.run_generate, model, [1, 2], 3, top_p=1.5)


CFG = ModelConfig(vocab_size=53, context_length=12, d_model=48, n_layers=2, n_heads=3, n_kv_heads=1,
                  tie_embeddings=True)


def test_generate_cache_matches_no_cache_greedy(check):
    model = adapters.get_transformer_lm(CFG, mu.lm_weights(CFG, seed=1310))
    plain = adapters.run_generate(model, [7, 1, 30], 25, temperature=0.0)
    cached = adapters.run_generate(model, [7, 1, 30], 25, temperature=0.0, use_cache=True)
    check("same_tokens", cached == plain)
    assert cached == plain


def test_generate_cache_matches_no_cache_sampled(check):
    model = adapters.get_transformer_lm(CFG, mu.lm_weights(CFG, seed=1311, dtype=torch.float64))
    runs = []
    for use_cache in (False, True):
        gen = torch.Generator().manual_seed(1312)
        runs.append(adapters.run_generate(model, [2, 40, 11, 9], 20, temperature=1.3, top_p=0.85,
                                          generator=gen, use_cache=use_cache))
    check("same_tokens", runs[0] == runs[1])
    check("n_tokens", len(runs[1]))
    assert runs[0] == runs[1]
