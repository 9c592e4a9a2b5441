"""Building a model whose sizes come from a config or a file without trusting them.

A skeleton is made on torch's ``meta`` device first, which allocates nothing: sizes that torch
cannot represent, or a model larger than this machine's memory (``hidden: 100000000`` in a YAML,
or in a hostile model.pt's config), are an :class:`AsrkitError` naming where they came from,
instead of an overflow traceback, an allocator's 40 GB failure or the kernel's OOM killer.
A packed file's weights are then assigned to that skeleton, checked name by name and shape by
shape, so a model that does not match its config costs no memory either.
"""
from __future__ import annotations

import os
from itertools import chain
from typing import Callable, Mapping, Optional, TypeVar

from asrkit.utils.errors import AsrkitError

M = TypeVar("M")
_BUILD_ERRORS = (RuntimeError, TypeError, ValueError, OverflowError, MemoryError)


def _first_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Error(s) in loading state_dict"):
        lines = lines[1:]  # the heading names only the class; the first reason follows
    return lines[0][:200] if lines else type(e).__name__


def _machine_memory() -> Optional[int]:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _make(make: Callable[[], M], what: str) -> M:
    try:
        return make()
    except _BUILD_ERRORS as e:
        raise AsrkitError(f"{what}: cannot build the model: {_first_line(e)}") from None


def _skeleton(make: Callable[[], M], what: str) -> M:
    import torch
    from torch.overrides import TorchFunctionMode

    class SkipNormalInit(TorchFunctionMode):
        # A meta tensor's normal_ runs torch._refs' Python version, whose decorator imports
        # torch._dynamo: 2-3 s and ~150 MB of resident memory in every asrkit-train and
        # asrkit-decode, for values a skeleton does not have anyway.
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in (torch.Tensor.normal_, torch.nn.init.normal_):
                tensor = args[0] if args else (kwargs or {}).get("tensor", (kwargs or {}).get("self"))
                if getattr(tensor, "is_meta", False):
                    return tensor
            return func(*args, **(kwargs or {}))

    with torch.device("meta"), SkipNormalInit():
        return _make(make, what)


def build_model(make: Callable[[], M], what: str) -> M:
    """``make()``, once a skeleton shows its weights fit in this machine's memory (as float32)."""
    n = sum(p.numel() for p in _skeleton(make, what).parameters())
    memory = _machine_memory()
    if memory is not None and 4 * n > memory:
        raise AsrkitError(f"{what}: the model would have {n / 1e6:,.0f}M parameters ({4 * n / 2 ** 30:,.1f} GiB "
                          f"as float32), more than this machine's {memory / 2 ** 30:.0f} GiB of memory; check "
                          f"its sizes")
    return _make(make, what)


def model_from_state_dict(make: Callable[[], M], state_dict: Mapping, what: str) -> M:
    """The model ``make`` describes, holding ``state_dict``'s tensors (cast to float32): a name or
    shape that does not match is an error before any memory is allocated for it."""
    model = _skeleton(make, what)
    # A weight of integers, booleans or complex numbers (a hand-edited or another tool's file) where
    # the model has floats: torch's reason ("Only Tensors of floating point and complex dtype can
    # require gradients") came after 200 characters naming equal shapes, and was cut off.
    for name, tensor in chain(model.named_parameters(), model.named_buffers()):
        value = state_dict.get(name)
        if tensor.is_floating_point() and hasattr(value, "is_floating_point") and not value.is_floating_point():
            raise AsrkitError(f"{what}: weight {name!r} is {value.dtype}, not floating point: the file is damaged "
                              f"or was not written for this model")
    try:
        model.load_state_dict(state_dict, assign=True)  # strict: missing, unexpected and shape errors
    except _BUILD_ERRORS as e:
        raise AsrkitError(f"{what}: model does not match its config: {_first_line(e)}") from None
    left = [n for n, t in chain(model.named_parameters(), model.named_buffers()) if t.is_meta]
    if left:
        raise AsrkitError(f"{what}: the file holds no value for {left[0]!r}")
    return model.float()
