"""Length-bucketed batches under a frames-per-batch budget, shuffled between epochs.

Utterances are sorted by length (longest first) and cut greedily into batches whose padded size
(batch size x longest utterance) stays within ``max_frames``, so a batch of short utterances
holds many and a batch of long ones few, and padding costs little. The order of the batches is
shuffled each epoch from ``(seed, epoch)`` alone, so a resumed run sees the same order as an
uninterrupted one. Under DDP every rank takes a disjoint share of the same shuffled list, all
ranks the same number of batches (the few left over that epoch are skipped, a different few
each epoch).
"""
from __future__ import annotations

import random
from collections.abc import Sequence as SequenceABC
from typing import Dict, Iterator, List, Sequence

import numpy as np


class EpochBatchSampler:
    """What every batch sampler of a resumable training shares: the epoch and the position in it.

    A subclass sets ``batches`` and ``per_rank`` and defines ``epoch_batches(epoch)``, a pure
    function of the epoch, so that ``state_dict()`` (epoch, batches consumed) is enough to
    resume mid-epoch on the very batch an interrupted run would have taken next.
    """

    seed: int
    batches: Sequence[List[int]]
    per_rank: int
    epoch: int = 1
    start: int = 0  # batches of this epoch already consumed (for a mid-epoch resume)

    def epoch_batches(self, epoch: int) -> List[List[int]]:
        raise NotImplementedError

    def epoch_items(self, epoch: int) -> int:
        """How many items this rank's batches of ``epoch`` hold."""
        return sum(len(b) for b in self.epoch_batches(epoch))

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch = epoch
        self.start = start

    def __iter__(self) -> Iterator[List[int]]:
        yield from self.epoch_batches(self.epoch)[self.start :]

    def __len__(self) -> int:
        return self.per_rank - self.start

    def state_dict(self) -> Dict[str, int]:
        return {"epoch": self.epoch, "start": self.start, "seed": self.seed, "num_batches": len(self.batches)}

    def load_state_dict(self, state: Dict[str, int]) -> None:
        self.set_epoch(state["epoch"], state.get("start", 0))


class Batches(SequenceABC):
    """Batches of utterance indices as slices of one array: ``batch j`` is
    ``flat[bounds[j]:bounds[j + 1]]``, handed out as a list of ints."""

    def __init__(self, flat: np.ndarray, bounds: np.ndarray) -> None:
        self.flat = flat
        self.bounds = bounds

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def __getitem__(self, j):
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(len(self)))]
        if not -len(self) <= j < len(self):
            raise IndexError(j)
        j %= len(self)
        return self.flat[self.bounds[j]:self.bounds[j + 1]].tolist()

    def sizes(self) -> np.ndarray:
        return np.diff(self.bounds)


class BucketBatchSampler(EpochBatchSampler):
    """A batch sampler for ``torch.utils.data.DataLoader(batch_sampler=...)``.

    >>> s = BucketBatchSampler([5, 3, 9, 4], max_frames=10, shuffle=False)
    >>> list(s)
    [[2], [0, 3], [1]]
    """

    def __init__(
        self,
        lengths: Sequence[int],
        max_frames: int,
        max_batch_size: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} not in [0, {world_size})")
        self.max_frames = max_frames
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        # Longest first, ties in input order: deterministic, and the first batch is the
        # largest in memory, so an out-of-memory shows up at once. Sorted so, a batch's longest
        # utterance is its first: it holds max_frames // that length (at most max_batch_size).
        # Found batch by batch in numpy, the batches kept as slices of one index array: lists of
        # Python ints cost ~11 MB more for 281k utterances (issue #12's memory target).
        # int32 and a stable sort (ties stay in index order) rather than a lexsort on an index
        # array: at 281k utterances every int64 copy is 2 MB that glibc's heap keeps.
        lens = np.asarray(lengths, dtype=np.int32)
        order = np.argsort(-lens, kind="stable")
        fits = lens[order] <= max_frames
        self.too_long: List[int] = order[~fits].tolist()
        kept = order[fits].astype(np.int32)
        kept_lens = lens[kept]
        bounds = [0]
        while bounds[-1] < len(kept):
            first = bounds[-1]
            longest = int(kept_lens[first])
            size = max_frames // longest if longest > 0 else len(kept)  # all empty from here on
            if max_batch_size:
                size = min(size, max_batch_size)
            bounds.append(min(first + max(size, 1), len(kept)))
        self.batches = Batches(kept, np.asarray(bounds, dtype=np.int64))
        self.per_rank = len(self.batches) // world_size

    def _epoch_order(self, epoch: int) -> List[int]:
        order = list(range(len(self.batches)))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
        left = len(order) - self.per_rank * self.world_size
        if left and not self.shuffle:
            # Unshuffled, the last few batches were the ones left out every epoch: the shortest
            # utterances were never trained on, and nothing said so. A different run of them now.
            first = (len(order) - epoch * left) % len(order)  # epoch 1: the last ones, as before
            dropped = {(first + k) % len(order) for k in range(left)}
            order = [j for j in order if j not in dropped]
        order = order[: self.per_rank * self.world_size]
        return order[self.rank :: self.world_size]

    def epoch_batches(self, epoch: int) -> List[List[int]]:
        """This rank's batches of ``epoch``, in order (independent of any earlier epoch)."""
        return [self.batches[j] for j in self._epoch_order(epoch)]

    def epoch_items(self, epoch: int) -> int:
        return int(self.batches.sizes()[self._epoch_order(epoch)].sum())

    def __iter__(self) -> Iterator[List[int]]:
        # One batch's list at a time: the epoch's lists together are the ~11 MB saved above.
        for j in self._epoch_order(self.epoch)[self.start :]:
            yield self.batches[j]
