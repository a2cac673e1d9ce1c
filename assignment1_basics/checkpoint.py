"""Saving and restoring a training run: model weights, optimizer state, iteration (handout §7.6).

A checkpoint is one `torch.save`d dict `{"model": state_dict, "optimizer": state_dict, "iteration": int,
"format": 1}`, optionally with extra entries of plain data (the training loop adds `"config"`, the model's
`ModelConfig.to_dict()`, and `"rng"`, the data generator's state, so a resumed run draws the same batches).
Since torch 2.6, `torch.load` defaults to `weights_only=True`, which unpickles only tensors, Python numbers,
strings, lists, tuples and dicts: so everything stored here is one of those (a NumPy integer as the
iteration would make the load fail). Loading maps every tensor to the CPU first (a checkpoint written on a
GPU loads anywhere) and strips the `_orig_mod.` prefix that `torch.compile` adds to parameter names.

Deliberately left out: sharded or distributed checkpoints, safetensors, atomic writes and keeping the
last k files.
"""

import operator
import os
from typing import Any, BinaryIO

import torch
from torch import nn

FORMAT = 1
RESERVED_KEYS = ("model", "optimizer", "iteration", "format")
COMPILE_PREFIX = "_orig_mod."


def _unwrap(model: nn.Module) -> nn.Module:
    """The module behind a `torch.compile` wrapper (which keeps the original as `_orig_mod`)."""
    return getattr(model, "_orig_mod", model)


def save_checkpoint(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    iteration: int,
    out: str | os.PathLike | BinaryIO,
    *,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write `{"model", "optimizer", "iteration", "format": 1}` (plus `extra`) with `torch.save` (handout §7.6).

    Args:
        model: the model; its `state_dict()` is stored (a `torch.compile`d model stores its original
            module's, without the `_orig_mod.` prefix).
        optimizer: its `state_dict()` is stored; None stores None (weights only, e.g. for sampling).
        iteration: the number of optimizer steps taken so far; stored as a Python `int` (a NumPy integer is
            converted).
        out: a path or a binary file-like object (e.g. `io.BytesIO`).
        extra: more entries of plain data (numbers, strings, lists, tuples, dicts, tensors), e.g.
            `{"config": cfg.to_dict(), "rng": generator.get_state()}`.

    Raises:
        ValueError: if `extra` uses one of the reserved keys `model`, `optimizer`, `iteration`, `format`.
        TypeError: if `iteration` is not an integer.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.checkpoint save_checkpoint: see handout §7.6")
    # END SOLUTION


def read_checkpoint(src: str | os.PathLike | BinaryIO) -> dict[str, Any]:
    """The raw checkpoint dict, loaded safely onto the CPU (handout §7.6).

    Uses `torch.load(src, map_location="cpu", weights_only=True)`: tensors saved on any device come back on
    the CPU, and nothing but plain data is unpickled.

    Args:
        src: a path or a binary file-like object positioned at the start of the checkpoint.

    Returns:
        The stored dict, extra entries included.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.checkpoint read_checkpoint: see handout §7.6")
    # END SOLUTION


def load_checkpoint(
    src: str | os.PathLike | BinaryIO | dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
) -> int:
    """Restore the model (and the optimizer) from a checkpoint; return the stored iteration (handout §7.6).

    The model's keys are matched after stripping any `_orig_mod.` prefix (a checkpoint of a
    `torch.compile`d model loads into a plain one and vice versa), with `strict=True`.

    Args:
        src: a path, a binary file-like object, or a dict already returned by `read_checkpoint`.
        model: receives the stored weights (`load_state_dict`).
        optimizer: receives the stored optimizer state; None skips it.

    Returns:
        The stored iteration, a Python `int`.

    Raises:
        ValueError: if an optimizer is given but the checkpoint holds no optimizer state.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.checkpoint load_checkpoint: see handout §7.6")
    # END SOLUTION
