"""Training utterances found unusable while a batch reads them: left out of the batch, named, counted.

An utterance whose features cannot be read (an scp offset past the end of its ark, a truncated
ark, an entry that is not a Kaldi matrix such as kaldiio's ``PKL``), that has no frames, or
whose features hold NaN or Inf shows only when its batch is read, in the middle of an epoch.
It must neither end the run there nor reach the model (one NaN frame makes the whole batch's
loss NaN). The dataset raises an :class:`AsrkitError` naming it; :class:`SkipBad` hands that
on through the DataLoader as a :class:`BadItem`, :func:`collate_good` batches the others and
lists it in ``Batch.bad``, and the trainer counts it per epoch and fails past Kaldi's 5 %
(``docs/errors.md``).

e.g.::

    loader = make_loader(SkipBad(dataset), sampler, collate_fn=collate_good)
    for batch in loader:           # batch.bad: [(utt_id, reason)], batch.indices: the good ones
        ...
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import torch

from asrkit.training.data import Batch, collate
from asrkit.utils.errors import AsrkitError


@dataclass
class BadItem:
    """What :class:`SkipBad` returns for an utterance the dataset could not give."""

    index: int
    utt_id: str
    reason: str  # the AsrkitError's message: names the file (and scp line) and the utterance
    fatal: bool = False  # not the utterance's fault (a bad noise recording): the run stops


class SkipBad(torch.utils.data.Dataset):
    """``dataset[i]``, or a :class:`BadItem` when that raises an AsrkitError (``dataset.table.utt_id(i)``
    names it). Other errors (a full disk, a bug) still stop the run."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        try:
            return self.dataset[i]
        except AsrkitError as e:
            # (raised here, in a loader worker, it would reach the user as a multi-process traceback)
            return BadItem(i, self.dataset.table.utt_id(i), str(e), fatal=getattr(e, "fatal", False))


def collate_good(items: List[Any]) -> Batch:
    """:func:`~asrkit.training.data.collate` of the good items; ``.bad`` lists the others.

    A batch of bad items only has no indices (and empty tensors): nothing to train on.
    """
    good = [x for x in items if not isinstance(x, BadItem)]
    bad = [(x.utt_id, x.reason) for x in items if isinstance(x, BadItem)]
    batch = collate(good) if good else _empty_batch()
    batch.bad = bad
    batch.fatal = next((x.reason for x in items if isinstance(x, BadItem) and x.fatal), None)
    return batch


def _empty_batch() -> Batch:
    empty = torch.zeros(0, dtype=torch.long)
    return Batch([], torch.zeros(0, 0, 0), empty, torch.zeros(0, 0, dtype=torch.long), empty)


def split_bad(batch: Batch) -> Tuple[Optional[Batch], List[Tuple[str, str]]]:
    """(the batch, or None when nothing in it is usable; its bad utterances as (id, reason)).
    An AsrkitError when an item failed for a reason that is not its own (``BadItem.fatal``)."""
    if batch.fatal is not None:
        raise AsrkitError(batch.fatal)
    return (batch if batch.indices else None), list(batch.bad)
