"""Public tests of decoding (handout §6.3): temperature and nucleus (top-p) sampling, and `generate`.

Sampling is checked through laws that hold for any correct implementation, whatever order it draws its
random numbers in: greedy picks the first maximum, a tiny `top_p` is greedy, tokens outside the nucleus
(computed here independently, in fp64) never appear in 2,000 seeded draws while every nucleus token does,
and the in-nucleus frequencies pass a chi-square test at α = 0.001 with a fixed seed. `generate` runs on a
stand-in model whose greedy next token is the sum of the ids it sees modulo V (so the output reveals
exactly which context window the model was given), and on a small `TransformerLM` for the KV-cache path.
Left out here (hidden suite): new seeds and logits, prompts longer than the context, EOS edge cases.
"""

import collections
import functools

import pytest
import torch

from assignment1_basics import adapters
from assignment1_basics.config import ModelConfig
from assignment1_basics.tests import _model_util as mu
from assignment1_basics.tests._model_util import CHI2_999, SumModel, chi_square, nucleus, sum_model_tokens

pytestmark = pytest.mark.a1_model

N_DRAWS = 2000
# Probabilities (sorted: id 1 .30, 3 .25, 4 .20, 2 .10, 6 .06, 0 .05, 5 .04).
PROBS = torch.tensor([0.05, 0.30, 0.10, 0.25, 0.20, 0.04, 0.06])
LOGITS = torch.log(PROBS) + 1.5


def draws(logits: torch.Tensor, temperature: float, top_p: float, seed: int,
          n: int = N_DRAWS) -> collections.Counter:
    gen = torch.Generator().manual_seed(seed)
    return collections.Counter(adapters.run_sample_next(logits, temperature, top_p, gen) for _ in range(n))


@functools.cache
def logits_draws(temperature: float, top_p: float) -> collections.Counter:
    """N_DRAWS seeded draws from LOGITS, shared by the support and chi-square tests of one setting."""
    return draws(LOGITS, temperature, top_p, seed=303)


# --------------------------------------------------------------------------- sample_next

def test_sample_next_greedy_first_maximum(check):
    tied = torch.tensor([0.5, 2.0, -1.0, 2.0, 2.0, 1.9])
    got = adapters.run_sample_next(tied, 0.0, 1.0)
    check("tied", got, hint="temperature 0 is greedy: argmax, and on ties the FIRST maximum (lowest id)")
    rows = torch.randn(5, 40, generator=torch.Generator().manual_seed(300))
    picks = [adapters.run_sample_next(r, 0.0, 0.9) for r in rows]
    check("random_rows", picks)
    assert got == 1, f"greedy over logits with maxima at ids 1, 3, 4 returned {got}: ties go to the lowest id"
    assert picks == rows.argmax(-1).tolist(), "temperature 0 must return argmax(logits)"


def test_sample_next_tiny_top_p_is_greedy(check):
    rows = torch.randn(8, 64, generator=torch.Generator().manual_seed(301)) * 2
    gen = torch.Generator().manual_seed(302)
    picks = [adapters.run_sample_next(r, 0.8, 1e-6, gen) for r in rows]
    tied = adapters.run_sample_next(torch.tensor([0.0, 3.0, 1.0, 3.0]), 1.0, 1e-6, gen)
    check("picks", picks, hint="a tiny top_p keeps exactly one token: the most likely one")
    check("tied", tied, hint="sort with a stable sort so equal probabilities keep the lower id first")
    assert picks == rows.argmax(-1).tolist() and tied == 1, (
        "with top_p → 0 the nucleus is the single most likely token (lowest id on ties): sampling is greedy")


@pytest.mark.parametrize("temperature,top_p", [(1.0, 0.7), (0.5, 0.9)], ids=["t1_p07", "t05_p09"])
def test_sample_next_nucleus_support(temperature, top_p, check):
    counts = logits_draws(temperature, top_p)
    want = nucleus(LOGITS, temperature, top_p)
    check("support", sorted(counts),
          hint="keep the shortest prefix whose cumulative probability is >= top_p, including the token that "
               "crosses top_p; apply 1/τ to the logits")
    outside = sorted(set(counts) - set(want))
    assert not outside, f"ids {outside} lie outside the nucleus {sorted(want)} but were sampled"
    assert set(counts) == set(want), (
        f"the nucleus is {sorted(want)} but only {sorted(counts)} were sampled in {N_DRAWS} draws: keep the "
        "token whose probability makes the cumulative sum reach top_p, and divide the logits (not the "
        "probabilities) by the temperature")


@pytest.mark.parametrize("temperature,top_p", [(1.0, 0.7), (0.5, 0.9), (1.6, 1.0)],
                         ids=["t1_p07", "t05_p09", "t16_all"])
def test_sample_next_chi_square(temperature, top_p, check):
    counts = logits_draws(temperature, top_p)
    want = nucleus(LOGITS, temperature, top_p)
    stat = chi_square(counts, want)
    bound = CHI2_999[len(want) - 1]
    check("chi_square_below_bound", stat < bound,
          hint="p = softmax(logits / τ), restricted to the nucleus and renormalised, sampled with "
               "torch.multinomial(..., generator=generator)")
    assert stat < bound, (
        f"in-nucleus frequencies {dict(sorted(counts.items()))} do not fit the renormalised nucleus "
        f"probabilities { {i: round(q, 3) for i, q in want.items()} } (χ² = {stat:.1f} > {bound})")


def test_sample_next_ties_at_nucleus_edge(check):
    probs = torch.tensor([0.04, 0.12, 0.25, 0.09, 0.25, 0.25])  # ids 2, 4, 5 tie at 0.25
    counts = draws(torch.log(probs), 1.0, 0.45, seed=305, n=500)
    check("support", sorted(counts), hint="a stable descending sort keeps tied ids in increasing order, so "
                                          "the nucleus of mass 0.45 is ids 2 and 4, never 5")
    assert sorted(counts) == [2, 4], (
        f"sampled {sorted(counts)} in 500 draws, want exactly [2, 4] (ties: lower id first)")


def test_sample_next_invalid_args_raise(check):
    logits = torch.zeros(5)
    check("valid_call", adapters.run_sample_next(logits, 0.0, 1.0),
          hint="all-equal logits: greedy returns id 0")
    check.raises("negative_temperature", ValueError, adapters.run_sample_next, logits, -0.1, 1.0)
    check.raises("top_p_zero", ValueError, adapters.run_sample_next, logits, 1.0, 0.0)
    check.raises("top_p_above_one", ValueError, adapters.run_sample_next, logits, 1.0, 1.01)
    check.raises("top_p_negative", ValueError, adapters.run_sample_next, logits, 0.0, -0.5)


# --------------------------------------------------------------------------- generate

def test_generate_greedy_context_cropped(check):
    model = SumModel(vocab_size=31, context_length=5)
    prompt = [3, 1, 4]
    got = adapters.run_generate(model, prompt, 12, temperature=0.0)
    check("tokens", got, hint="feed the model the last context_length tokens (prompt + generated) each step")
    want = sum_model_tokens(prompt, 12, 31, 5)
    assert got == want, (f"generated {got}, want {want}: each step feeds the last context_length tokens and "
                         "appends the argmax of the last position's logits")
    assert model.max_len_seen <= 5, f"the model was given {model.max_len_seen} > context_length tokens"


def test_generate_eos_stops(check):
    model = SumModel(vocab_size=31, context_length=5)
    prompt = [3, 1, 4]
    full = sum_model_tokens(prompt, 12, 31, 5)
    eos = full[3]  # the 4th generated token
    got = adapters.run_generate(model, prompt, 12, temperature=0.0, eos_id=eos)
    check("tokens", got, hint="stop right after emitting eos_id, and include it in the output")
    want = sum_model_tokens(prompt, 12, 31, 5, eos=eos)
    assert got == want, f"with eos_id={eos} generated {got}, want {want} (EOS included, then stop)"


def test_generate_max_new_tokens(check):
    model = SumModel(vocab_size=31, context_length=5)
    gen = torch.Generator().manual_seed(306)
    lengths = [len(adapters.run_generate(model, [2, 7], n, temperature=1.0, top_p=0.9, generator=gen))
               for n in (0, 1, 9)]
    check("lengths", lengths, hint="return only the new tokens, exactly max_new_tokens of them without EOS")
    check.raises("empty_prompt", ValueError, adapters.run_generate, model, [], 3)
    check.raises("bad_top_p", ValueError, adapters.run_generate, model, [1], 3, top_p=0.0)
    assert lengths == [0, 1, 9], (
        f"asked for 0, 1 and 9 new tokens, got {lengths} (the prompt is not returned)")


LM_CFG = ModelConfig(vocab_size=64, context_length=16, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2,
                     d_ff=64)


def test_generate_cache_matches_no_cache(check):
    model = adapters.get_transformer_lm(LM_CFG, mu.lm_weights(LM_CFG, seed=307))
    prompt = [5, 17, 42, 8, 33, 1]
    plain = adapters.run_generate(model, prompt, 20, temperature=0.0)  # crosses the 16-token context
    cached = adapters.run_generate(model, prompt, 20, temperature=0.0, use_cache=True)
    check("same_tokens", cached == plain, hint="with use_cache, feed only the tokens the caches have not "
                                               "seen, at positions start + arange(T)")
    check("n_tokens", len(cached))
    assert cached == plain, (f"use_cache=True generated {cached}, use_cache=False {plain}: cached decoding "
                             "must give the same tokens (positions continue at the cache length; rebuild the "
                             "caches when the context is cropped)")


def test_generate_greedy_matches_forward(check):
    model = adapters.get_transformer_lm(LM_CFG, mu.lm_weights(LM_CFG, seed=308))
    prompt = [9, 3, 60]
    got = adapters.run_generate(model, prompt, 8, temperature=0.0, use_cache=True)
    tokens, want = list(prompt), []
    with torch.no_grad():
        for _ in range(8):
            nxt = int(model(torch.tensor([tokens[-LM_CFG.context_length:]]))[0, -1].argmax())
            want.append(nxt)
            tokens.append(nxt)
    check("matches_forward", got == want,
          hint="greedy generation appends the argmax of the last position's logits")
    assert got == want, f"generate gave {got}, step-by-step argmax of the forward pass gives {want}"
