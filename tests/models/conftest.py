"""Small LAS models and batches for the model tests: tiny sizes keep every test well under a second."""
from __future__ import annotations

import copy

import pytest
import torch

from asrkit.models.las import LAS, LASConfig

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


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def make_las():
    def make(seed: int = 0, **overrides) -> LAS:
        torch.manual_seed(seed)
        return LAS(IDIM, VOCAB, tiny_config(**overrides))

    return make


@pytest.fixture
def batch():
    """Four utterances of different lengths, padded with junk (not zeros) to prove it is ignored."""
    g = torch.Generator().manual_seed(1)
    feat_lens = torch.tensor([61, 37, 50, 9])
    feats = torch.randn(4, 61, IDIM, generator=g)
    ys = torch.tensor([[2, 3, 4, 5, 6], [7, 8, -1, -1, -1], [9, 10, 2, -1, -1], [3, -1, -1, -1, -1]])
    y_lens = torch.tensor([5, 2, 3, 1])
    for i, n in enumerate(feat_lens):
        feats[i, n:] = 7.0
    return feats, feat_lens, ys, y_lens
