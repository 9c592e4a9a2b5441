"""The ``specaug:`` section of a model config, apart from torch: a config loads without importing it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SpecAugConfig:
    """The ``specaug:`` section of a model config (defaults: ESPnet's AN4/LibriSpeech-like policy)."""

    freq_masks: int = 2          # number of frequency masks
    freq_width: int = 30         # each 0..freq_width bins wide
    time_masks: int = 2          # number of time masks
    time_width: int = 40         # each 0..time_width frames wide ...
    time_width_ratio: float = 0.2  # ... and at most this fraction of the utterance
    time_warp: int = 5           # warp window W in frames (0 = no time warp)
