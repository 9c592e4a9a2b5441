"""Reading torch files (model.pt, lm.pt, checkpoints) so that nothing in them can run.

``torch.load(weights_only=True)`` unpickles only tensors and plain containers and numbers;
anything else (a pickled class, a numpy array, an object whose unpickling would run code) makes
it refuse the file. Every asrkit file that torch writes holds only such types, so every one is
read through :func:`load_weights_only`, and a file torch cannot read is one error shape for all.
"""
from __future__ import annotations

import re
from typing import Any

from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike


def load_weights_only(path: PathLike, what: str) -> Any:
    """The object in ``path``; an AsrkitError naming it when it is missing or not a safe torch file.

    ``what`` says what the file should have been: ``<path>: not an <what> (not a torch file, or
    one holding more than tensors and plain types: <torch's first line>)``.
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise AsrkitError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AsrkitError(f"{path}: is a directory, not an {what}") from None
    except Exception as e:  # torch raises many types for a file that is not a torch archive
        raise AsrkitError(f"{path}: not an {what} (not a torch file, or one holding more than "
                          f"tensors and plain types: {_reason(e)})") from None


def _reason(e: Exception) -> str:
    """torch's reason in a few words: the object refused (its long advice is about loading it anyway)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    refused = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if refused:
        return f"it holds {refused.group(1)}, and unpickling that could run code"
    first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    return first[:200]


def check_finite_weights(state_dict: Any, where: str) -> None:
    """AsrkitError naming the first weight tensor with a NaN or infinite value.

    A model whose training diverged decodes every utterance to an empty hypothesis and exits 0;
    that silent failure is caught here, when the model is loaded.
    """
    import torch

    for name, value in state_dict.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            bad = int((~torch.isfinite(value)).sum())
            raise AsrkitError(f"{where}: {bad} non-finite value(s) (NaN or Inf) in weight {name!r}; "
                              f"the training that made it diverged, or the file is damaged")
