"""The listener: an optional VGG-like Conv2d front-end, then pyramidal BLSTM layers.

Chan et al. 2016 ("Listen, Attend and Spell"): a pBLSTM layer concatenates ``k`` adjacent frames
of its input before running, so three layers with ``k = 2`` reduce time 8x. Every layer runs on
packed sequences, so padding costs no compute and never changes an utterance's result: frames
beyond an utterance's length are kept at zero between layers, which is what the padding of a
batch of one would hold.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from asrkit.models.config import ListenerConfig


def length_mask(lens: Tensor, max_len: int) -> Tensor:
    """(B,) lengths -> (B, max_len) bool, True on real frames."""
    return torch.arange(max_len, device=lens.device)[None, :] < lens[:, None]


class VGGFrontEnd(nn.Module):
    """Two VGG blocks over (time, frequency): 4x fewer frames, channels x freq/4 features."""

    def __init__(self, idim: int, channels: List[int]) -> None:
        super().__init__()
        c1, c2 = channels
        self.conv = nn.ModuleList([
            nn.Conv2d(1, c1, 3, padding=1), nn.Conv2d(c1, c1, 3, padding=1),
            nn.Conv2d(c1, c2, 3, padding=1), nn.Conv2d(c2, c2, 3, padding=1),
        ])
        freq = -(-(-(-idim // 2)) // 2)  # ceil(ceil(idim/2)/2), as ceil-mode pooling gives
        self.odim = c2 * freq

    def forward(self, x: Tensor, lens: Tensor) -> Tuple[Tensor, Tensor]:
        h = x.unsqueeze(1)                                     # (B, 1, T, D)
        for i, conv in enumerate(self.conv):
            mask = length_mask(lens, h.size(2))[:, None, :, None]
            # zero the padded frames after each conv: a lone utterance sees zeros there too
            h = F.relu(conv(h)).masked_fill(~mask, 0.0)        # (B, C, T, D)
            if i % 2 == 1:
                # inputs are >= 0 after relu and padded frames are 0, so a pool window that
                # straddles the end of an utterance gives the same max as a truncated window
                h = F.max_pool2d(h, 2, ceil_mode=True)         # (B, C, ceil(T/2), ceil(D/2))
                lens = torch.div(lens + 1, 2, rounding_mode="floor")
        b, c, t, d = h.shape
        return h.transpose(1, 2).reshape(b, t, c * d), lens    # (B, T/4, C*D/4)


class PyramidBLSTMLayer(nn.Module):
    """Concatenate ``k`` adjacent frames, run a BLSTM on the packed batch, project."""

    def __init__(self, idim: int, hidden: int, k: int, proj: int, dropout: float) -> None:
        super().__init__()
        self.k = k
        self.lstm = nn.LSTM(idim * k, hidden, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden, proj) if proj > 0 else None
        self.dropout = nn.Dropout(dropout)
        self.odim = proj if proj > 0 else 2 * hidden
        # True: pack_padded_sequence (cuDNN runs packed batches natively); False: the padded
        # CPU path below; None: packed on CUDA, padded elsewhere. Results are the same.
        self.packed: Optional[bool] = None

    def forward(self, x: Tensor, lens: Tensor, lens_cpu: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """``lens_cpu``: the same lengths on the CPU, which packing needs (kept to avoid a sync per layer)."""
        if self.k > 1:
            b, t, d = x.shape
            pad = (-t) % self.k
            if pad:
                x = F.pad(x, (0, 0, 0, pad))                   # zeros, like the padded frames
            x = x.reshape(b, (t + pad) // self.k, d * self.k)  # (B, T/k, k*D)
            lens = torch.div(lens + self.k - 1, self.k, rounding_mode="floor")
            lens_cpu = torch.div(lens_cpu + self.k - 1, self.k, rounding_mode="floor")
        t_out = x.size(1)
        valid = length_mask(lens, t_out)[..., None]            # (B, T', 1)
        if self.packed if self.packed is not None else x.is_cuda:
            packed = pack_padded_sequence(x, lens_cpu, batch_first=True, enforce_sorted=False)
            out, _ = self.lstm(packed)
            h, _ = pad_packed_sequence(out, batch_first=True, total_length=t_out)  # (B, T', 2H), zero-padded
        else:
            h = self._blstm_padded(x, lens).masked_fill(~valid, 0.0)                # (B, T', 2H)
        if self.proj is not None:
            h = torch.tanh(self.proj(h)).masked_fill(~valid, 0.0)
        return self.dropout(h), lens, lens_cpu                 # (B, T', odim)

    def _blstm_padded(self, x: Tensor, lens: Tensor) -> Tensor:
        """The BLSTM without packing, for the CPU, where packed LSTMs of mixed lengths leave the
        fused kernel and their backward is ~35x slower (30 s vs 0.9 s for 32 x 300 frames).

        The forward direction runs on the padded batch as is (trailing padding cannot reach
        earlier frames). The backward direction runs forward over each utterance reversed within
        its own length, so it starts at the utterance's last real frame, never in padding; its
        output is reversed back. Same weights as the packed path, same results.
        """
        b, t, _ = x.shape
        steps = torch.arange(t, device=x.device)[None, :]                      # (1, T)
        rev = torch.where(steps < lens[:, None], lens[:, None] - 1 - steps, steps)  # (B, T), an involution
        rev = rev.unsqueeze(2)
        h0 = x.new_zeros(1, b, self.lstm.hidden_size)
        fwd = torch.lstm(x, (h0, h0), self._weights(""), True, 1, 0.0, self.training, False, True)[0]
        x_rev = x.gather(1, rev.expand(-1, -1, x.size(2)))
        bwd = torch.lstm(x_rev, (h0, h0), self._weights("_reverse"), True, 1, 0.0, self.training, False, True)[0]
        bwd = bwd.gather(1, rev.expand(-1, -1, bwd.size(2)))
        return torch.cat([fwd, bwd], dim=2)                                     # (B, T, 2H)

    def _weights(self, suffix: str) -> List[Tensor]:
        return [getattr(self.lstm, f"{name}_l0{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


class Listener(nn.Module):
    """feats (B, T, D) -> encoder output (B, T', odim) with T' = T / (4 if vgg) / prod(subsample)."""

    def __init__(self, idim: int, config: ListenerConfig) -> None:
        super().__init__()
        self.config = config
        self.vgg = VGGFrontEnd(idim, config.vgg_channels) if config.vgg else None
        dim = self.vgg.odim if self.vgg is not None else idim
        layers = []
        for k in config.subsample:
            layer = PyramidBLSTMLayer(dim, config.hidden, k, config.proj, config.dropout)
            layers.append(layer)
            dim = layer.odim
        self.layers = nn.ModuleList(layers)
        self.odim = dim

    @property
    def time_reduction(self) -> int:
        r = 4 if self.vgg is not None else 1
        for k in self.config.subsample:
            r *= k
        return r

    def output_lengths(self, lens: Tensor) -> Tensor:
        """The encoder lengths ``forward`` returns, without running it."""
        for k in self.config.time_steps():
            lens = torch.div(lens + k - 1, k, rounding_mode="floor")
        return lens

    def forward(self, feats: Tensor, feat_lens: Tensor) -> Tuple[Tensor, Tensor]:
        # zero anything beyond the lengths, so callers may pad with whatever they like
        x = feats.masked_fill(~length_mask(feat_lens, feats.size(1))[..., None], 0.0)
        lens = feat_lens
        if self.vgg is not None:
            x, lens = self.vgg(x, lens)
        # the one host sync of the listener: packing wants CPU lengths; later layers derive theirs
        lens_cpu = lens.cpu()
        for layer in self.layers:
            x, lens, lens_cpu = layer(x, lens, lens_cpu)
        return x, lens                                         # (B, T', odim), (B,)

