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
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must lie in (0, 1], got {top_p}")
    if logits.dim() != 1:
        raise ValueError(f"logits must be 1-D (V,), got shape {tuple(logits.shape)}")
    if temperature == 0:
        return int(torch.argmax(logits))  # the first maximum: lowest id on ties
    work = logits.double() if logits.dtype == torch.float64 else logits.float()
    probs = softmax(work / temperature, dim=-1)  # (V,)
    if top_p >= 1:
        return int(torch.multinomial(probs, 1, generator=generator))
    sorted_p, order = torch.sort(probs, descending=True, stable=True)  # (V,), ties: lower id first
    cum = torch.cumsum(sorted_p, dim=0)  # (V,)
    # The shortest prefix with cumulative mass >= top_p ends at the first index where cum >= top_p: it
    # holds every token whose cum is still < top_p plus the one that crosses it (rounding may leave the
    # total a little under 1, hence the min).
    n_keep = min(int((cum < top_p).sum()) + 1, cum.numel())
    nucleus = sorted_p[:n_keep] / sorted_p[:n_keep].sum()  # renormalised (n_keep,)
    pick = torch.multinomial(nucleus, 1, generator=generator)  # index into the sorted order
    return int(order[pick])
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
    if len(prompt_ids) == 0:
        raise ValueError("prompt_ids must hold at least one token")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if temperature < 0 or not 0 < top_p <= 1:
        raise ValueError(f"invalid temperature={temperature} or top_p={top_p}")
    context = model.cfg.context_length
    device = next(model.parameters()).device
    tokens = list(prompt_ids)
    out: list[int] = []
    caches, n_cached = None, 0  # with use_cache: the caches hold tokens[:n_cached] at positions 0, 1, …
    for _ in range(max_new_tokens):
        if use_cache and caches is not None and len(tokens) <= context:
            new, offset = tokens[n_cached:], n_cached  # decode: only what the caches have not seen
        else:
            new, offset = tokens[-context:], 0  # the (cropped) context, at positions 0 … T−1
            if use_cache:  # (re)build: the caches must start at the first token the model sees
                caches = model.make_kv_caches(1, context)
        ids = torch.tensor([new], dtype=torch.long, device=device)  # (1, T_new)
        positions = torch.arange(offset, offset + len(new), device=device)  # (T_new,)
        logits = model(ids, positions=positions, kv_caches=caches if use_cache else None)  # (1, T_new, V)
        n_cached = offset + len(new)
        nxt = sample_next(logits[0, -1], temperature=temperature, top_p=top_p, generator=generator)
        out.append(nxt)
        tokens.append(nxt)
        if eos_id is not None and nxt == eos_id:
            break
    return out
    # END SOLUTION
