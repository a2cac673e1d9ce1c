"""Random training windows from one long token array: `get_batch` (handout §7.5).

A language-model corpus is a single 1-D array of token ids (the documents joined by `<|endoftext|>`), stored
as `uint16` in a `.npy` file and opened with `np.load(path, mmap_mode="r")`, so it is never read into memory
whole. A batch is B windows of m + 1 consecutive tokens starting at uniformly random offsets: the first m are
the input `x` and the last m the targets `y` (the next token at every position).

Deliberately left out: sampling without replacement (epochs), document-aware windows, packing and masks,
and background prefetching.
"""

import numpy as np
import numpy.typing as npt
import torch
from jaxtyping import Int
from torch import Tensor


def get_batch(
    data: npt.NDArray[np.integer],
    batch_size: int,
    context_length: int,
    device: str | torch.device,
    generator: torch.Generator | None = None,
) -> tuple[Int[Tensor, " batch seq"], Int[Tensor, " batch seq"]]:
    """Sample `batch_size` windows of `data` and return inputs and next-token targets (handout §7.5).

    Start offsets `s` are drawn uniformly from `[0, len(data) − m − 1]` (every window of m + 1 tokens that
    fits, the last one included) with `torch.randint(…, generator=generator)`; then `x[b] = data[s_b : s_b + m]`
    and `y[b] = data[s_b + 1 : s_b + m + 1]`. Only the sampled windows are read, so a memmap stays on disk.

    Args:
        data: a 1-D array of integer token ids (`np.ndarray` or `np.memmap`, any integer dtype).
        batch_size: B, the number of windows, `> 0`.
        context_length: m, the length of each window, `> 0`.
        device: where to put the result, e.g. `"cpu"`, `"cuda:0"`, `"mps"`; an invalid string raises
            before anything is sampled.
        generator: a CPU `torch.Generator` for the start offsets (None: torch's global generator). The
            same seeded generator gives the same batches.

    Returns:
        `(x, y)`, both `int64` of shape `(B, m)` on `device`, with `y[:, :-1] == x[:, 1:]`.

    Raises:
        ValueError: if `data` is not 1-D, `len(data) <= m`, or B or m is not positive.
        RuntimeError: for an invalid device string (from `torch.device`).
    """
    # BEGIN SOLUTION
    device = torch.device(device)  # validates the string before any work
    if data.ndim != 1:
        raise ValueError(f"data must be a 1-D array of token ids, got shape {data.shape}")
    if batch_size <= 0 or context_length <= 0:
        raise ValueError(f"batch_size and context_length must be positive, got {batch_size}, {context_length}")
    n = len(data)
    if n <= context_length:
        raise ValueError(f"len(data)={n} must exceed context_length={context_length} (a window needs m + 1 "
                         "tokens)")
    starts = torch.randint(0, n - context_length, (batch_size,), generator=generator)  # (B,) in [0, n − m − 1]
    idx = starts.numpy()[:, None] + np.arange(context_length + 1)  # (B, m + 1)
    window = torch.from_numpy(np.asarray(data[idx], dtype=np.int64))  # (B, m + 1): reads only these tokens
    x, y = window[:, :-1].contiguous(), window[:, 1:].contiguous()  # (B, m) each
    if device.type == "cuda":  # pinned host memory lets the copy overlap with compute
        return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    return x.to(device), y.to(device)
    # END SOLUTION
