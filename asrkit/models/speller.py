"""The speller: an LSTM decoder that attends to the listener output (Chan et al. 2016).

One step, with s the top LSTM state and c the attention context::

    s_i      = LSTM(s_{i-1}, [embed(y_{i-1}); c_{i-1}])
    c_i, a_i = Attend(s_i, h, a_{i-1})
    P(y_i)   = softmax(W [s_i; c_i])

``step`` does all of it but the output layer (``logits``: dropout and projection), so
teacher-forced training runs that once on the whole (B, L, .) stack instead of once per step.
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
from torch import Tensor, nn

from asrkit.models.attention import build_attention
from asrkit.models.config import AttentionConfig, SpellerConfig


class Speller(nn.Module):
    def __init__(self, vocab_size: int, enc_dim: int, config: SpellerConfig, att_config: AttentionConfig) -> None:
        super().__init__()
        self.config = config
        self.enc_dim = enc_dim
        self.embed = nn.Embedding(vocab_size, config.embed)
        cells = [nn.LSTMCell(config.embed + enc_dim, config.hidden)]
        cells += [nn.LSTMCell(config.hidden, config.hidden) for _ in range(config.layers - 1)]
        self.cells = nn.ModuleList(cells)
        self.attention = build_attention(enc_dim, config.hidden, att_config)
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.hidden + enc_dim, vocab_size)

    def init(self, enc: Tensor, enc_lens: Tensor) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """(memory, state) for a batch of encoder outputs; see ``LAS.init_decoder``."""
        n, t, _ = enc.shape
        valid = torch.arange(t, device=enc.device)[None, :] < enc_lens[:, None]        # (N, T)
        mask_bias = torch.zeros(n, t, dtype=enc.dtype, device=enc.device).masked_fill(~valid, float("-inf"))
        memory = {"enc": enc, "mask_bias": mask_bias, **self.attention.precompute(enc)}
        zeros = enc.new_zeros(n, self.config.hidden)
        state: Dict[str, Tensor] = {}
        for i in range(len(self.cells)):
            state[f"h{i}"], state[f"c{i}"] = zeros, zeros
        state["context"] = enc.new_zeros(n, self.enc_dim)                                 # (N, De)
        # a uniform previous alignment over the real frames, as ESPnet's location attention starts;
        # float32 at least, the dtype softmax gives under autocast, so the state's dtypes are the
        # same at every step (one graph for torch.compile / CUDA graphs)
        att_dtype = torch.promote_types(enc.dtype, torch.float32)
        state["att"] = valid.to(att_dtype) / enc_lens.clamp(min=1).to(att_dtype)[:, None]  # (N, T)
        return memory, state

    def step(self, emb: Tensor, state: Dict[str, Tensor], memory: Dict[str, Tensor]
             ) -> Tuple[Tensor, Dict[str, Tensor], Tensor]:
        """emb (N, E) of the previous token -> ([s_i; c_i] (N, H+De), new state, weights (N, T))."""
        x = torch.cat([emb, state["context"]], dim=1)          # (N, E+De)
        new: Dict[str, Tensor] = {}
        for i, cell in enumerate(self.cells):
            h, c = cell(x, (state[f"h{i}"], state[f"c{i}"]))   # (N, H)
            new[f"h{i}"], new[f"c{i}"] = h, c
            x = self.dropout(h)
        context, att = self.attention(h, memory, state["att"])  # (N, De), (N, T)
        new["context"], new["att"] = context, att
        return torch.cat([h, context], dim=1), new, att

    def logits(self, x: Tensor) -> Tensor:
        """[s; c] (..., H+De) from ``step`` (one step or a stack of them) -> logits (..., V)."""
        return self.output(self.dropout(x))
