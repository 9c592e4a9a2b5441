"""The tiny LAS configuration the model tests share (a module of its own: test files import it,
and ``from conftest import`` would pick whichever conftest another test directory loaded first)."""
from __future__ import annotations

import copy

from asrkit.models.las import LASConfig

IDIM, VOCAB = 20, 12

TINY = {
    "listener": {"vgg": True, "vgg_channels": [4, 8], "hidden": 16, "subsample": [1, 2], "proj": 12},
    "attention": {"type": "location", "dim": 10, "conv_channels": 3, "conv_width": 4, "heads": 2},
    "speller": {"layers": 2, "hidden": 16, "embed": 8},
    "ctc_weight": 0.3,
    "label_smoothing": 0.0,
}


def tiny_config(**overrides) -> LASConfig:
    """TINY with ``section=dict`` merged into that section, or ``key=value`` for top-level keys."""
    d = copy.deepcopy(TINY)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(d.get(key), dict):
            d[key].update(value)
        else:
            d[key] = value
    return LASConfig.from_dict(d)
