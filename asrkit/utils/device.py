"""The one place a device name from a config or an option becomes a ``torch.device``.

LM training and decoding (``--device``) take ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; LAS training
(``training.device``, ``--ngpu``) the first three, each rank taking the GPU of its local rank. A GPU
asked for on a machine without one is an :class:`AsrkitError` naming the option, never a CUDA
traceback later on.

>>> resolve_device("cpu")
device(type='cpu')
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from asrkit.utils.errors import AsrkitError

if TYPE_CHECKING:
    import torch

NAMES = ("auto", "cpu", "cuda")


def bad_device_name(name: str) -> bool:
    """Whether ``name`` is none of ``auto``, ``cpu``, ``cuda``, ``cuda:N``; without torch, so that a
    config is checked as it loads (asrkit-train-lm's, before its text is read)."""
    base, _, num = str(name).strip().partition(":")
    return base not in NAMES or bool(num and (base != "cuda" or not (num.isascii() and num.isdigit())))  # int() reads "٣"


def resolve_device(name: str, option: Optional[str] = None, index: Optional[int] = None) -> "torch.device":
    """``auto`` (a GPU if there is one), ``cpu``, ``cuda`` or ``cuda:N`` -> a torch.device.

    ``index`` picks the GPU for a plain ``cuda``/``auto`` (a DDP rank's local rank); ``option``
    names the setting in error messages (``--ngpu 2``, ``training.device 'cuda'``; default
    ``device 'NAME'``).
    """
    import torch

    name = str(name).strip()
    option = option or f"device {name!r}"
    if bad_device_name(name):
        raise AsrkitError(f"{option}: expected auto, cpu, cuda or cuda:N")
    base, _, num = name.partition(":")
    if base == "auto":
        base = "cuda" if torch.cuda.is_available() else "cpu"
    if base == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise AsrkitError(f"{option}: a GPU is asked for, but CUDA is not available here "
                          f"(torch sees no CUDA device)")
    gpu = int(num) if num else (index if index is not None else None)
    if gpu is not None and gpu >= torch.cuda.device_count():
        raise AsrkitError(f"{option}: GPU {gpu} asked for, this machine has {torch.cuda.device_count()}")
    return torch.device("cuda", gpu) if gpu is not None else torch.device("cuda")


def out_of_memory(e: BaseException) -> bool:
    """Whether ``e`` is torch (or Python) running out of memory: CUDA's "out of memory", the CPU
    allocator's "can't allocate memory", a MemoryError. Commands turn it into one line that says
    which setting to lower, where it came out as a traceback."""
    text = str(e).lower()
    return isinstance(e, MemoryError) or (
        isinstance(e, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text))
