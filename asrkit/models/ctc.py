"""The CTC head on the listener (joint CTC-attention, Kim, Hori & Watanabe 2017).

Token 0 is the CTC blank (docs/contracts.md). The head is one linear layer; its log-probs also
serve the CTC prefix scorer at decoding time.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class CTCHead(nn.Module):
    def __init__(self, enc_dim: int, vocab_size: int, blank: int = 0) -> None:
        super().__init__()
        self.blank = blank
        self.proj = nn.Linear(enc_dim, vocab_size)

    def log_probs(self, enc: Tensor) -> Tensor:
        """enc (B, T', De) -> (B, T', V) log-probabilities, float32 even under autocast."""
        return F.log_softmax(self.proj(enc).float(), dim=-1)

    def loss(self, enc: Tensor, enc_lens: Tensor, ys: Tensor, y_lens: Tensor) -> Tensor:
        """Per-utterance CTC negative log-likelihood (B,), summed over the utterance's tokens.

        ``zero_infinity``: an utterance whose labels cannot fit its frames gets loss 0 (and no
        gradient) instead of poisoning the batch with inf.
        """
        logp = self.log_probs(enc).transpose(0, 1)              # (T', B, V)
        targets = ys.clamp(min=0)                               # -1 padding is beyond y_lens anyway
        return F.ctc_loss(logp, targets, enc_lens, y_lens, blank=self.blank,
                          reduction="none", zero_infinity=True)  # (B,)
