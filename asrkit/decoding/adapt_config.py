"""The options of speaker adaptation (asrkit-adapt-speakers'), apart from the estimation in
:mod:`asrkit.decoding.adapt`: asr.sh checks --adapt-args with ``asrkit-adapt-speakers --print-config``
before any stage, and that module's torch import made each check cost some 3 s of CPU."""
from __future__ import annotations

import math
from dataclasses import dataclass

from asrkit.training.config import fits_a_seed, lr_underflow
from asrkit.utils.errors import AsrkitError


@dataclass
class AdaptConfig:
    """How one speaker's transform is estimated (asrkit-adapt-speakers' options)."""

    epochs: int = 30           # passes over the speaker's chosen utterances
    lr: float = 0.01           # Adam's step
    keep: float = 0.5          # share of the speaker's utterances adapted on, best scored first
    batch_size: int = 16       # utterances per step
    max_frames: int = 3000     # longer utterances are left out of the estimate (memory of the backward pass)
    # A speaker with fewer usable utterances keeps the identity: D*(D+1) numbers fitted to an AN4
    # speaker's 6 surest of 13 utterances took AN4 train_dev from 8.1 to 14.2 % WER, while FSDD's
    # 300 (150 adapted on) gained 0.5-4 points on 9 of 10 held-out voices (egs/fsdd/asr1/RESULTS.md).
    min_utts: int = 50
    seed: int = 0              # the order of the utterances in each epoch

    def validate(self, where: str = "options") -> None:
        if not 1 <= self.epochs <= 10000:
            raise AsrkitError(f"{where}: epochs must be in 1..10000, got {self.epochs}")
        if not (math.isfinite(self.lr) and 0 < self.lr <= 10):
            raise AsrkitError(f"{where}: lr must be in (0, 10], got {self.lr}")
        # (as asrkit-train's optim.lr: Adam's step at --lr 1e-320 is 0 in float32, so every
        # transform stayed the identity it starts from)
        tiny = lr_underflow("lr", self.lr)
        if tiny:
            raise AsrkitError(f"{where}: {tiny[0]}")
        if not (math.isfinite(self.keep) and 0 < self.keep <= 1):
            raise AsrkitError(f"{where}: keep must be in (0, 1], got {self.keep}")
        if not 1 <= self.batch_size <= 100000:
            raise AsrkitError(f"{where}: batch_size must be in 1..100000, got {self.batch_size}")
        if self.max_frames < 1:
            raise AsrkitError(f"{where}: max_frames must be >= 1, got {self.max_frames}")
        if self.min_utts < 1:
            raise AsrkitError(f"{where}: min_utts must be >= 1, got {self.min_utts}")
        # torch's generator refuses a seed past 64 bits with a ValueError traceback, and only after
        # every utterance has been read
        if not fits_a_seed(self.seed):
            raise AsrkitError(f"{where}: seed must be a 64-bit integer (-2**63 <= seed < 2**63), got {self.seed}")
