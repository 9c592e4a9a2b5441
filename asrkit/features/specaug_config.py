"""The ``specaug:`` section of a model config, apart from torch: a config loads without importing it."""
from __future__ import annotations

from dataclasses import dataclass

from asrkit.utils.config import ConfigError


@dataclass
class SpecAugConfig:
    """The ``specaug:`` section of a model config (defaults: ESPnet's AN4/LibriSpeech-like policy)."""

    freq_masks: int = 2          # number of frequency masks
    freq_width: int = 30         # each 0..freq_width bins wide
    time_masks: int = 2          # number of time masks
    time_width: int = 40         # each 0..time_width frames wide ...
    time_width_ratio: float = 0.2  # ... and at most this fraction of the utterance
    time_warp: int = 5           # warp window W in frames (0 = no time warp)
    # VTLP-style frequency warp (Jaitly & Hinton 2013), on the mel bins: each utterance draws a
    # factor a in [1 - freq_warp, 1 + freq_warp] and its spectrum is stretched by a below a knee
    # at 80 % of the bins (above it, linearly back to the top bin). 0 = off. A voice's formants
    # sit higher or lower with its vocal tract length; this varies that across training.
    freq_warp: float = 0.0

    def __post_init__(self) -> None:
        out_of_range = [k for k in ("freq_masks", "freq_width", "time_masks", "time_width", "time_warp")
                        if getattr(self, k) < 0]
        out_of_range += [] if 0.0 <= self.time_width_ratio <= 1.0 else ["time_width_ratio"]
        if out_of_range:
            raise ConfigError(f"specaug: mask counts, widths and time_warp must be >= 0 and time_width_ratio in "
                              f"[0, 1], got {self.freq_masks}, {self.freq_width}, {self.time_masks}, "
                              f"{self.time_width}, {self.time_warp} and {self.time_width_ratio}", out_of_range)
        if not 0.0 <= self.freq_warp < 0.5:
            raise ConfigError(f"specaug.freq_warp must be in [0, 0.5) (a relative stretch), got {self.freq_warp}",
                              ["freq_warp"])
