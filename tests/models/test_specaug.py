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


def test_freq_warp_stretches_each_utterance_and_keeps_padding():
    # A ramp over the bins (value = bin index): after the warp, bin k holds its source position,
    # so every utterance's mapping can be read off and checked against the documented one.
    aug = SpecAugment(SpecAugConfig(freq_masks=0, time_masks=0, time_warp=0, freq_warp=0.1)).train()
    b, t, d = 64, 7, 40
    lens = torch.tensor([7, 3] * (b // 2))
    x = torch.arange(d, dtype=torch.float32).expand(b, t, d).clone()
    x[1::2, 3:] = -9.0
    torch.manual_seed(3)
    y = aug(x, lens)
    assert torch.equal(y[1::2, 3:], x[1::2, 3:])               # padding untouched
    src = y[:, 0, :]                                            # (B, D) source bin of each output bin
    assert torch.equal(y[:, :3], src[:, None, :].expand(b, 3, d))  # one warp per utterance, every frame
    assert torch.allclose(src[:, 0], torch.zeros(b)) and torch.allclose(src[:, -1], torch.full((b,), d - 1.0))
    assert (src[:, 1:] >= src[:, :-1]).all()                   # monotonic: the spectrum is not shuffled
    knee = int(0.8 * (d - 1))
    alpha = torch.arange(1, knee + 1) / src[:, 1:knee + 1]      # k / src(k) below the knee: the factor
    assert torch.allclose(alpha, alpha[:, :1].expand_as(alpha), atol=1e-4)   # one factor per utterance
    a = alpha[:, 0]
    assert (a >= 0.9 - 1e-4).all() and (a <= 1.1 + 1e-4).all()
    assert a.max() - a.min() > 0.1                              # drawn per utterance, both ways
    assert (a > 1.0).any() and (a < 1.0).any()


def test_freq_warp_off_by_default_and_range_checked():
    import pytest

    aug = SpecAugment(SpecAugConfig(freq_masks=0, time_masks=0, time_warp=0)).train()
    x, lens = _batch()
    assert torch.equal(aug(x, lens), x)
    for bad in (-0.1, 0.5, 2.0):
        with pytest.raises(ValueError, match="freq_warp"):
            SpecAugConfig(freq_warp=bad)
