"""Attention over the listener output: content (additive), location-aware, multi-head additive.

Every attention splits its work in two so the per-step cost of decoding stays small:
``precompute(enc)`` runs once per utterance (the key projection of the whole encoder output,
Bahdanau's ``W h``) and returns tensors that go into the decoder's ``memory``;
``forward(query, memory, prev_att)`` is the per-step part. All tensors keep the batch in dim 0
so beam search can ``index_select`` them.

``memory`` always holds ``enc`` (N, T, De) and ``mask_bias`` (N, T): 0 on real frames and -inf on
padding, added to the energies so padded frames get exactly zero weight without a per-step
``masked_fill``.
"""
from __future__ import annotations

from typing import Dict, Tuple, Type

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asrkit.models.config import AttentionConfig


def _softmax(e: Tensor, dim: int) -> Tensor:
    """Softmax in float32 at least: stable weights under bf16 autocast, and the decoder state's
    ``att`` keeps one dtype at every step (what torch.compile / CUDA graphs want)."""
    return F.softmax(e, dim=dim, dtype=torch.promote_types(e.dtype, torch.float32))


class AdditiveAttention(nn.Module):
    """Bahdanau content attention: e_t = w . tanh(W h_t + V s)."""

    def __init__(self, enc_dim: int, query_dim: int, config: AttentionConfig) -> None:
        super().__init__()
        self.scaling = config.scaling
        self.key = nn.Linear(enc_dim, config.dim)
        self.query = nn.Linear(query_dim, config.dim, bias=False)
        self.energy = nn.Linear(config.dim, 1, bias=False)

    def precompute(self, enc: Tensor) -> Dict[str, Tensor]:
        return {"att_keys": self.key(enc)}                     # (N, T, A)

    def _energy_input(self, query: Tensor, memory: Dict[str, Tensor], prev_att: Tensor) -> Tensor:
        return memory["att_keys"] + self.query(query).unsqueeze(1)  # (N, T, A)

    def forward(self, query: Tensor, memory: Dict[str, Tensor], prev_att: Tensor) -> Tuple[Tensor, Tensor]:
        e = self.energy(torch.tanh(self._energy_input(query, memory, prev_att))).squeeze(2)  # (N, T)
        att = _softmax(memory["mask_bias"].add(e, alpha=self.scaling), dim=1)               # (N, T)
        context = torch.bmm(att.unsqueeze(1), memory["enc"]).squeeze(1)                      # (N, De)
        return context, att


class LocationAttention(AdditiveAttention):
    """Chorowski et al. 2015: e_t = w . tanh(W h_t + V s + U (F * a_prev)_t)."""

    def __init__(self, enc_dim: int, query_dim: int, config: AttentionConfig) -> None:
        super().__init__(enc_dim, query_dim, config)
        self.conv = nn.Conv1d(1, config.conv_channels, 2 * config.conv_width + 1,
                              padding=config.conv_width, bias=False)
        self.loc = nn.Linear(config.conv_channels, config.dim, bias=False)

    def _energy_input(self, query: Tensor, memory: Dict[str, Tensor], prev_att: Tensor) -> Tensor:
        f = self.conv(prev_att.unsqueeze(1)).transpose(1, 2)   # (N, T, C)
        return memory["att_keys"] + self.query(query).unsqueeze(1) + self.loc(f)  # (N, T, A)


class MultiHeadAdditiveAttention(nn.Module):
    """H additive heads with their own keys, queries and values; contexts concatenated, projected.

    The returned weights (for plots and the decoder state) are the mean over heads.
    """

    def __init__(self, enc_dim: int, query_dim: int, config: AttentionConfig) -> None:
        super().__init__()
        self.scaling = config.scaling
        self.heads, self.dim = config.heads, config.dim
        self.vdim = max(1, enc_dim // config.heads)
        self.key = nn.Linear(enc_dim, self.heads * self.dim)
        self.value = nn.Linear(enc_dim, self.heads * self.vdim, bias=False)
        self.query = nn.Linear(query_dim, self.heads * self.dim, bias=False)
        self.energy = nn.Parameter(torch.empty(self.heads, self.dim))
        nn.init.normal_(self.energy, std=self.dim ** -0.5)
        self.out = nn.Linear(self.heads * self.vdim, enc_dim)

    def precompute(self, enc: Tensor) -> Dict[str, Tensor]:
        n, t, _ = enc.shape
        return {
            "att_keys": self.key(enc).view(n, t, self.heads, self.dim),      # (N, T, H, A)
            "att_values": self.value(enc).view(n, t, self.heads, self.vdim),  # (N, T, H, Dv)
        }

    def forward(self, query: Tensor, memory: Dict[str, Tensor], prev_att: Tensor) -> Tuple[Tensor, Tensor]:
        n = query.size(0)
        q = self.query(query).view(n, 1, self.heads, self.dim)             # (N, 1, H, A)
        e = (torch.tanh(memory["att_keys"] + q) * self.energy).sum(-1)     # (N, T, H)
        att = _softmax(memory["mask_bias"].unsqueeze(2).add(e, alpha=self.scaling), dim=1)  # (N, T, H)
        ctx = torch.einsum("nth,nthv->nhv", att, memory["att_values"])     # (N, H, Dv)
        return self.out(ctx.reshape(n, -1)), att.mean(2)                   # (N, De), (N, T)


ATTENTIONS: Dict[str, Type[nn.Module]] = {
    "content": AdditiveAttention,
    "location": LocationAttention,
    "multihead": MultiHeadAdditiveAttention,
}


def build_attention(enc_dim: int, query_dim: int, config: AttentionConfig) -> nn.Module:
    try:
        cls = ATTENTIONS[config.type]
    except KeyError:
        raise ValueError(f"unknown attention type {config.type!r} (choose from {', '.join(ATTENTIONS)})") from None
    return cls(enc_dim, query_dim, config)
