"""Small LAS models and batches for the model tests: tiny sizes keep every test well under a second."""
from __future__ import annotations

import pytest
import torch

from asrkit.models.las import LAS

from tiny_las import IDIM, VOCAB, tiny_config  # noqa: E402


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
