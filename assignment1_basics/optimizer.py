"""The optimisation side of training: AdamW, the cosine learning-rate schedule, global-norm clipping (handout §7).

`AdamW` is Adam with decoupled weight decay (Loshchilov & Hutter 2019, "Decoupled Weight Decay
Regularization", Algorithm 2), written in the form of `torch.optim.AdamW`: the decay `θ ← θ − αλθ` is applied
to the parameter before the Adam step and never enters the moment estimates, and `ε` is added to the square
root of the bias-corrected second moment. `cosine_lr` is the warm-up + cosine schedule (Loshchilov & Hutter
2017, SGDR, without restarts) and `clip_grad_norm_` rescales all gradients together when their global L2 norm
is too large, like `torch.nn.utils.clip_grad_norm_`.

Deliberately left out: AMSGrad, maximize, foreach/fused kernels, sparse gradients, per-parameter-group
exclusions from weight decay (the training loop decays every parameter), and restarts of the schedule.
"""

import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn


# ---------------------------------------------------------------------------------------------------
# AdamW (handout §7.2)


class AdamW(torch.optim.Optimizer):
    """Adam with decoupled weight decay, matching `torch.optim.AdamW` (handout §7.2).

    For each parameter θ with a gradient g, at step `t ← t + 1` (α = `lr`, λ = `weight_decay`):

        θ ← θ − α·λ·θ                      (decoupled decay, before the Adam step)
        m ← β1·m + (1 − β1)·g
        v ← β2·v + (1 − β2)·g²
        m̂ = m / (1 − β1^t),   v̂ = v / (1 − β2^t)
        θ ← θ − α·m̂ / (sqrt(v̂) + ε)

    State per parameter (`self.state[p]`): `step` (int t), `exp_avg` (m) and `exp_avg_sq` (v), both shaped
    like the parameter. Parameters whose `grad` is None are skipped: their state and t do not change.
    Hyperparameters are read from each `param_group` at every step, so a scheduler (or the training loop)
    may change `group["lr"]` between steps.
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ):
        """Args:
        params: parameters to optimise, or dicts of parameter groups (as for any `torch.optim.Optimizer`).
        lr: the learning rate α, `>= 0`.
        betas: `(β1, β2)`, each in `[0, 1)`.
        eps: ε, added to `sqrt(v̂)`, `>= 0`.
        weight_decay: λ, `>= 0`; the decay per step is `α·λ`.

        Raises:
            ValueError: if a hyperparameter is out of range.
        """
        # BEGIN SOLUTION
        raise NotImplementedError("a1.optimizer AdamW.__init__: see handout §7.2")
        # END SOLUTION

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Update every parameter that has a gradient, once.

        Args:
            closure: optional; re-evaluates the model and returns the loss (as for `torch.optim`).

        Returns:
            The closure's loss, or None without a closure.
        """
        # BEGIN SOLUTION
        raise NotImplementedError("a1.optimizer AdamW.step: see handout §7.2")
        # END SOLUTION


# ---------------------------------------------------------------------------------------------------
# Learning-rate schedule (handout §7.3)


def cosine_lr(t: int, lr_max: float, lr_min: float, warmup_iters: int, cosine_iters: int) -> float:
    """The learning rate at iteration t: linear warm-up, cosine decay, then constant (handout §7.3).

    With T_w = `warmup_iters` and T_c = `cosine_iters`:

        t < T_w:          lr = lr_max · t / T_w
        T_w ≤ t ≤ T_c:    lr = lr_min + ½ · (1 + cos(π · (t − T_w) / (T_c − T_w))) · (lr_max − lr_min)
        t > T_c:          lr = lr_min

    `T_w = 0` means no warm-up (t = 0 already gives lr_max). `T_c == T_w` gives lr_max at `t = T_w` and
    lr_min after it, with no division by zero.

    Args:
        t: the iteration, `>= 0` (the update from step t to t + 1 uses `cosine_lr(t, …)`).
        lr_max: α_max, the peak learning rate.
        lr_min: α_min, the final learning rate.
        warmup_iters: T_w, `>= 0`.
        cosine_iters: T_c, `>= T_w`: the iteration at which the decay reaches lr_min.

    Returns:
        The learning rate as a Python float.

    Raises:
        ValueError: if `t < 0`, `T_w < 0` or `T_c < T_w`.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.optimizer cosine_lr: see handout §7.3")
    # END SOLUTION


# ---------------------------------------------------------------------------------------------------
# Gradient clipping (handout §7.4)


def clip_grad_norm_(parameters: Iterable[nn.Parameter], max_norm: float, eps: float = 1e-6) -> Tensor:
    """Scale all gradients in place so that their global L2 norm is at most about `max_norm` (handout §7.4).

    `N = sqrt(Σ_p Σ_i g_{p,i}²)` over the parameters that have a gradient (`grad is None`, which includes
    frozen parameters, is skipped). If `N > max_norm`, every gradient is multiplied by the same factor
    `max_norm / (N + eps)`; otherwise nothing changes. Same result as `torch.nn.utils.clip_grad_norm_`.

    Args:
        parameters: the parameters (any iterable, e.g. `model.parameters()`; it is read once).
        max_norm: the largest allowed global norm, `>= 0` (`float("inf")` never clips).
        eps: added to N in the scale factor.

    Returns:
        N, the global norm before clipping, as a 0-dim tensor (fp32, or fp64 for fp64 gradients; 0 when no
        parameter has a gradient).

    Raises:
        ValueError: if `max_norm < 0`.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.optimizer clip_grad_norm_: see handout §7.4")
    # END SOLUTION
