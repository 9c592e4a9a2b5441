"""Decoder inputs and targets from padded token sequences: one builder for the LAS speller and the LM.

A sequence ``y1 .. yn`` is read as ``<sos> y1 .. yn`` and predicts ``y1 .. yn <eos>``
(docs/contracts.md: one ``<sos/eos>`` id, V-1)::

    >>> ys = torch.tensor([[4, 5, 6], [7, -1, -1]])
    >>> ys_in, ys_out = decoder_targets(ys, torch.tensor([3, 1]), sos=9, eos=9)
    >>> ys_in.tolist()
    [[9, 4, 5, 6], [9, 7, 0, 0]]
    >>> ys_out.tolist()
    [[4, 5, 6, 9], [7, 9, -1, -1]]
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

IGNORE_ID = -1  # padding of ``ys`` and of the targets; cross-entropy's ignore_index


def decoder_targets(ys: Tensor, y_lens: Tensor, sos: int, eos: int) -> Tuple[Tensor, Tensor]:
    """ys (B, L) padded with -1, y_lens (B,) -> (ys_in (B, L+1), ys_out (B, L+1)).

    ``ys_in`` starts with ``sos`` and holds 0 where ``ys`` is padded (a valid embedding index
    whose outputs are ignored); ``ys_out`` ends each sequence with ``eos`` and is -1 after it.
    """
    b, l = ys.shape
    steps = torch.arange(l + 1, device=ys.device)[None, :]  # (1, L+1)
    ys_in = torch.cat([ys.new_full((b, 1), sos), ys.clamp(min=0)], dim=1)  # (B, L+1)
    ys_out = torch.cat([ys, ys.new_full((b, 1), IGNORE_ID)], dim=1)
    ys_out = torch.where(steps < y_lens[:, None], ys_out, ys_out.new_full((), IGNORE_ID))
    ys_out = torch.where(steps == y_lens[:, None], ys_out.new_full((), eos), ys_out)  # (B, L+1)
    return ys_in, ys_out
