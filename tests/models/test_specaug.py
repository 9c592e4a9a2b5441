"""SpecAugment: masks inside each utterance only, nothing in eval mode, time warp keeps padding."""
from __future__ import annotations

import torch

from asrkit.features.specaug import SpecAugConfig, SpecAugment


def _batch():
    g = torch.Generator().manual_seed(0)
    lens = torch.tensor([100, 60, 13, 5])
    x = torch.randn(4, 100, 40, generator=g) + 3.0  # away from 0, so a masked value is visible
    for i, n in enumerate(lens):
        x[i, n:] = -9.0
    return x, lens


def test_identity_in_eval_mode():
    aug = SpecAugment(SpecAugConfig()).eval()
    x, lens = _batch()
    assert aug(x, lens) is x


def test_masks_stay_within_lengths_and_widths():
    cfg = SpecAugConfig(freq_masks=2, freq_width=8, time_masks=2, time_width=10, time_width_ratio=0.2, time_warp=0)
    aug = SpecAugment(cfg).train()
    x, lens = _batch()
    torch.manual_seed(0)
    for _ in range(50):
        y = aug(x, lens)
        assert y.shape == x.shape
        masked = y == 0
        assert torch.equal(y[~masked], x[~masked])  # anything changed was set to 0
        for i, n in enumerate(lens.tolist()):
            assert torch.equal(y[i, n:], x[i, n:])  # padding untouched
            m = masked[i, :n]
            full_bins = m.all(0)                    # bins masked on every real frame
            full_frames = m.all(1)                  # frames masked on every bin
            assert int(full_bins.sum()) <= 2 * 8
            assert int(full_frames.sum()) <= 2 * min(10, int(n * 0.2))
            # every masked cell is explained by a frequency or a time mask
            assert torch.equal(m, full_bins[None, :] | full_frames[:, None])


def test_masks_are_drawn_per_utterance_and_vary():
    aug = SpecAugment(SpecAugConfig(time_warp=0)).train()
    x, lens = _batch()
    x = x[[0, 0]]
    lens = lens[[0, 0]]
    torch.manual_seed(1)
    y = aug(x, lens)
    assert not torch.equal(y[0], y[1])


def test_time_warp_keeps_padding_and_range():
    aug = SpecAugment(SpecAugConfig(freq_masks=0, time_masks=0, time_warp=5)).train()
    x, lens = _batch()
    torch.manual_seed(2)
    warped_any = False
    for _ in range(20):
        y = aug(x, lens)
        for i, n in enumerate(lens.tolist()):
            assert torch.equal(y[i, n:], x[i, n:])
            # linear interpolation between real frames never leaves their range
            assert y[i, :n].min() >= x[i, :n].min() - 1e-5 and y[i, :n].max() <= x[i, :n].max() + 1e-5
            assert torch.equal(y[i, 0], x[i, 0])  # the first frame is a fixed point of the warp
        # utterances too short to warp (< 2W+2 frames) are left alone
        assert torch.equal(y[3], x[3])
        warped_any |= not torch.equal(y[0], x[0])
    assert warped_any


def test_works_on_the_batch_device_and_dtype():
    aug = SpecAugment(SpecAugConfig()).train()
    x, lens = _batch()
    y = aug(x.double(), lens)
    assert y.dtype == torch.float64
