"""A spy on the torch functions that the from-scratch units of handout §3 must not call.

`ForbiddenCalls` is a `TorchFunctionMode`: inside `with ForbiddenCalls() as spy:` every torch function call
passes through it, and the names of the forbidden ones (`F.linear` and `nn.Linear`, `F.embedding` and
`nn.Embedding`, every softmax entry point, `F.rms_norm`, `F.scaled_dot_product_attention`) are appended to
`spy.calls` in order. Calls still run normally. `torch.sigmoid`, `einsum`, `matmul` and indexing are allowed.

Left out: blocking the calls (recording is enough to fail a test) and C++ paths that bypass
`__torch_function__` (none of the public torch entry points above does).
"""

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

FORBIDDEN = {
    F.linear: "F.linear (nn.Linear)",
    F.embedding: "F.embedding (nn.Embedding)",
    torch.embedding: "torch.embedding",
    F.softmax: "F.softmax",
    torch.softmax: "torch.softmax",
    torch.Tensor.softmax: "Tensor.softmax",
    F.rms_norm: "F.rms_norm (nn.RMSNorm)",
    F.scaled_dot_product_attention: "F.scaled_dot_product_attention",
}


class ForbiddenCalls(TorchFunctionMode):
    """Records the forbidden torch calls made inside the `with` block (see the module docstring)."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        try:
            name = FORBIDDEN.get(func)
        except TypeError:  # an unhashable callable is never one of ours
            name = None
        if name is not None:
            self.calls.append(name)
        return func(*args, **(kwargs or {}))
