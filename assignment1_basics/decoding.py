"""Decoding: temperature and nucleus (top-p) sampling, and an autoregressive `generate` loop (handout §6.3).

`sample_next` turns one row of logits into a token id: greedy at temperature 0, otherwise a draw from
`softmax(logits / τ)` restricted to the nucleus of Holtzman et al. 2020 ("The Curious Case of Neural Text
Degeneration", §3.1): the smallest set of most likely tokens whose probability mass reaches `top_p`.
`generate` feeds a prompt to a `TransformerLM`, samples one token at a time, crops the context to the
model's `context_length`, and can keep the keys and values of earlier tokens in the model's KV caches
(`use_cache=True`) so each step only runs the new token.

Deliberately left out: batched generation, top-k, repetition penalties, beam search, stop strings and
speculative decoding.
"""

import torch
from jaxtyping import Float
from torch import Tensor, nn

from .layers import softmax

# ---------------------------------------------------------------------------------------------------
# One token from one row of logits


def sample_next(
    logits: Float[Tensor, " vocab"],
    *,
    temperature: float,
    top_p: float,
    generator: torch.Generator | None = None,
) -> int:
    """The next token id drawn from `logits` with temperature τ and nucleus threshold `top_p`.

    * `τ == 0`: greedy, the id of the largest logit; on ties the lowest id (the first maximum).
    * `τ > 0`: `p = softmax(logits / τ)` in fp32 (fp64 for fp64 logits). With `top_p < 1`, sort `p`
      descending with a stable sort (equal probabilities keep the lower id first), keep the shortest prefix
      whose cumulative sum is `>= top_p` (at least one token), renormalise it, and draw one token with
      `torch.multinomial(..., generator=generator)`. `top_p == 1` keeps every token.

    Args:
        logits: unnormalised scores of one position, shape `(V,)`.
        temperature: τ `>= 0`; τ < 1 sharpens the distribution, τ > 1 flattens it.
        top_p: nucleus mass in `(0, 1]`.
        generator: the random generator the draw uses (None: torch's global one).

    Returns:
        A Python int in `[0, V)`.

    Raises:
        ValueError: if `temperature < 0`, `top_p <= 0`, `top_p > 1`, or `logits` is not 1-D.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.decoding sample_next: see handout §6")
    # END SOLUTION


# ---------------------------------------------------------------------------------------------------
# The generation loop


@torch.no_grad()
def generate(
    model: nn.Module,
    prompt_ids: list[int],
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_p: float = 1.0,
    eos_id: int | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = False,
) -> list[int]:
    """Sample up to `max_new_tokens` tokens after `prompt_ids`, one at a time, and return them.

    What is used of `model`: `model.cfg.context_length`, the call
    `model(ids (1, T), positions=(T,), kv_caches=...) -> logits (1, T, V)`, and, with `use_cache`,
    `model.make_kv_caches(1, context_length)`. Each step samples the next token from the logits of the
    last position with `sample_next(..., temperature=, top_p=, generator=)`.

    * The model sees at most the last `context_length` tokens (prompt plus generated), at positions
      `0 … T−1`.
    * `use_cache=True` gives the same tokens as `use_cache=False` (up to rounding): the prompt is fed once
      (prefill), then each new token alone at its position `start_pos = number of tokens already cached`.
      When the sequence no longer fits in `context_length`, the caches are rebuilt from the cropped
      context, exactly as without a cache.
    * Generation stops after emitting `eos_id` (which is included in the result) or after
      `max_new_tokens` tokens.

    Args:
        model: a `TransformerLM` (or any module with the interface above).
        prompt_ids: the prompt, a non-empty list of token ids.
        max_new_tokens: the most tokens to generate, `>= 0`.
        temperature, top_p, generator: passed on to `sample_next`.
        eos_id: the end-of-sequence id, or None to always generate `max_new_tokens` tokens.
        use_cache: keep keys and values of earlier tokens in KV caches instead of re-running them.

    Returns:
        The generated ids only (not the prompt), at most `max_new_tokens` of them.

    Raises:
        ValueError: if `prompt_ids` is empty, `max_new_tokens < 0`, or `temperature`/`top_p` are invalid.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.decoding generate: see handout §6")
    # END SOLUTION
