"""Batched greedy decoding and CER for the validation pass (the beam search lives in asrkit.decoding).

Works through the model's decoding interface only (``init_decoder``/``decode_step``, see
docs/contracts.md), one step for the whole batch at a time.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor


@torch.no_grad()
def greedy_search(model, enc: Tensor, enc_lens: Tensor, sos: int, eos: int, maxlen: int) -> List[List[int]]:
    """Best token sequence per utterance, ``<sos/eos>`` excluded, at most ``maxlen`` tokens."""
    memory, state = model.init_decoder(enc, enc_lens)
    n = enc.size(0)
    prev = torch.full((n,), sos, dtype=torch.long, device=enc.device)
    ended = torch.zeros(n, dtype=torch.bool, device=enc.device)
    steps: List[Tensor] = []
    for _ in range(maxlen):
        logp, state, _ = model.decode_step(prev, state, memory)  # (N, V)
        tok = logp.argmax(-1).masked_fill(ended, eos)  # (N,)
        steps.append(tok)
        ended = ended | (tok == eos)
        # One device sync per step, to stop as soon as every utterance has ended.
        if bool(ended.all()):
            break
        prev = tok
    if not steps:
        return [[] for _ in range(n)]
    out = torch.stack(steps, 1).tolist()  # (N, steps), one transfer
    return [row[: row.index(eos)] if eos in row else row for row in out]


@torch.no_grad()
def forced_alignment(model, enc: Tensor, enc_lens: Tensor, ys: Sequence[Sequence[int]], sos: int) -> List[Tensor]:
    """Attention weights ``(len(y) + 1, T')`` of each utterance with the reference fed back (for plots)."""
    memory, state = model.init_decoder(enc, enc_lens)
    n = enc.size(0)
    longest = max(len(y) for y in ys) + 1
    inputs = torch.full((n, longest), sos, dtype=torch.long)
    for b, y in enumerate(ys):
        inputs[b, 1 : len(y) + 1] = torch.tensor(list(y), dtype=torch.long)
    inputs = inputs.to(enc.device)
    atts = []
    for t in range(longest):
        _, state, att = model.decode_step(inputs[:, t], state, memory)
        atts.append(att)  # (N, T')
    att = torch.stack(atts, 1).float().cpu()  # (N, L+1, T')
    return [att[b, : len(ys[b]) + 1, : int(enc_lens[b])] for b in range(n)]


def cer(pairs: Sequence[Tuple[str, str]]) -> Optional[float]:
    """Character error rate (a fraction) over ``(ref, hyp)`` texts, counted as asrkit-score counts it."""
    from asrkit.scoring.alignment import align, error_counts
    from asrkit.scoring.tokens import char_tokens

    errs = tot = 0
    for ref, hyp in pairs:
        counts = error_counts(align(char_tokens(ref), char_tokens(hyp)))
        errs += counts.errors
        tot += counts.ref_len
    return errs / tot if tot else None
