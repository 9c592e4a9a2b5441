"""SpecAugment (Park et al. 2019) on padded batches: time warp, frequency masks, time masks, and an
optional VTLP-style frequency warp (Jaitly & Hinton 2013; ``freq_warp``).

An ``nn.Module`` that acts only in training mode (``model.eval()`` turns it off) and only inside
each utterance's length: padded frames are returned untouched. Everything is drawn on the
batch's device with tensor ops, without a Python loop over utterances or a host sync, so it
costs next to nothing on GPU. Masked values are set to 0, the mean of CMVN-normalised features.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from asrkit.features.specaug_config import SpecAugConfig

__all__ = ["SpecAugConfig", "SpecAugment"]


class SpecAugment(nn.Module):
    """feats (B, T, D), lens (B,) -> augmented feats (B, T, D); identity in eval mode."""

    def __init__(self, config: SpecAugConfig) -> None:
        super().__init__()
        self.config = config

    def forward(self, feats: Tensor, lens: Tensor) -> Tensor:
        if not self.training:
            return feats
        cfg = self.config
        b, t, d = feats.shape
        dev = feats.device
        lens = lens.to(dev)
        valid = torch.arange(t, device=dev)[None, :] < lens[:, None]           # (B, T)
        x = self.time_warp(feats, lens) if cfg.time_warp > 0 else feats
        if cfg.freq_warp > 0:
            x = torch.where(valid[:, :, None], self.freq_warp(x), x)
        mask = torch.zeros(b, t, d, dtype=torch.bool, device=dev)
        bins = torch.arange(d, device=dev)[None, :]
        for _ in range(cfg.freq_masks):
            width = (torch.rand(b, device=dev) * (min(cfg.freq_width, d) + 1)).floor()
            start = (torch.rand(b, device=dev) * (d - width + 1)).floor()
            band = (bins >= start[:, None]) & (bins < (start + width)[:, None])  # (B, D)
            mask |= band[:, None, :]
        frames = torch.arange(t, device=dev)[None, :]
        max_width = torch.clamp((lens.to(torch.float32) * cfg.time_width_ratio).floor(), max=cfg.time_width)
        for _ in range(cfg.time_masks):
            width = (torch.rand(b, device=dev) * (max_width + 1)).floor()
            start = (torch.rand(b, device=dev) * (lens - width + 1)).floor()
            span = (frames >= start[:, None]) & (frames < (start + width)[:, None])  # (B, T)
            mask |= span[:, :, None]
        mask &= valid[:, :, None]
        return x.masked_fill(mask, 0.0)

    def freq_warp(self, feats: Tensor) -> Tensor:
        """Stretch each utterance's bins by its own factor a: output bin k reads source bin k / a.

        Below the knee (80 % of the bins) the mapping is k / a; above it, a straight line to the
        top bin, so bins 0 and D-1 stay where they are and nothing is read from outside the
        spectrum. The mel bins are not linear in Hz above ~1 kHz, so a is a stretch of the mel
        axis, not exactly Kaldi's VTLN warp of the filter-bank's Hz axis; as an augmentation that
        only has to move formants the way a different vocal tract would, that suffices.
        """
        w = self.config.freq_warp
        b, t, d = feats.shape
        if d < 3:
            return feats
        dev = feats.device
        alpha = 1.0 + (torch.rand(b, device=dev) * 2.0 - 1.0) * w                 # (B,)
        k = torch.arange(d, device=dev, dtype=torch.float32)[None, :]             # (1, D)
        top = float(d - 1)
        knee = 0.8 * top
        knee_src = knee / alpha[:, None]                                         # (B, 1)
        above = knee_src + (k - knee) * (top - knee_src) / (top - knee)
        src = torch.where(k <= knee, k / alpha[:, None], above).clamp(0.0, top)   # (B, D)
        i0 = src.floor().long()
        i1 = (i0 + 1).clamp(max=d - 1)
        frac = (src - i0.to(src.dtype))[:, None, :].to(feats.dtype)              # (B, 1, D)
        x0 = feats.gather(2, i0[:, None, :].expand(b, t, d))
        x1 = feats.gather(2, i1[:, None, :].expand(b, t, d))
        return x0 + (x1 - x0) * frac

    def time_warp(self, feats: Tensor, lens: Tensor) -> Tensor:
        """Move a random centre frame c by w in [-W, W], stretching [0, c) and [c, len) linearly.

        Utterances shorter than 2W+2 frames are left alone; frames beyond ``len`` map to
        themselves, so padding is untouched.
        """
        w_max = self.config.time_warp
        b, t, _ = feats.shape
        dev = feats.device
        lf = lens.to(torch.float32)
        ok = lf >= 2 * w_max + 2                                                # (B,)
        centre = w_max + (torch.rand(b, device=dev) * (lf - 2 * w_max).clamp(min=1)).floor()
        shift = (torch.rand(b, device=dev) * (2 * w_max + 1)).floor() - w_max
        shift = torch.where(ok, shift, torch.zeros_like(shift))
        # at least 1: a left part squeezed to nothing would drop frame 0 (ESPnet also adds 1)
        new_centre = (centre + shift).clamp(min=1)                              # (B,) in [1, len)
        out_t = torch.arange(t, device=dev, dtype=torch.float32)[None, :]      # (1, T)
        left = out_t * centre[:, None] / new_centre.clamp(min=1)[:, None]
        right = centre[:, None] + (out_t - new_centre[:, None]) * (
            (lf - centre) / (lf - new_centre).clamp(min=1))[:, None]
        src = torch.where(out_t < new_centre[:, None], left, right)
        src = torch.where(out_t < lf[:, None], src, out_t)                      # (B, T) source frame
        last = torch.where(out_t < lf[:, None], (lf[:, None] - 1), out_t).clamp(min=0)
        src = torch.minimum(src.clamp(min=0), last)
        i0 = src.floor().long()
        i1 = torch.minimum(i0 + 1, last.long())
        frac = (src - i0.to(src.dtype)).unsqueeze(2).to(feats.dtype)           # (B, T, 1)
        d = feats.size(2)
        x0 = feats.gather(1, i0.unsqueeze(2).expand(-1, -1, d))
        x1 = feats.gather(1, i1.unsqueeze(2).expand(-1, -1, d))
        return x0 + (x1 - x0) * frac                                            # (B, T, D)
