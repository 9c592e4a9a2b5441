"""What the trainer measures on the dev set besides the loss: greedy CER and attention alignments.

The greedy hypotheses come from the decoding package's batched greedy search (the same one
``asrkit-decode --mode greedy`` runs, attention scores only), so a validation CER is what
decoding that model greedily gives; training imports decoding, never the other way round. A
model trained with CTC alone (``model.ctc_weight: 1``) is measured by the same greedy search on
its CTC head's prefix scores alone, as ``asrkit-decode --mode greedy`` decodes such a model.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from asrkit.decoding.beam_search import greedy_search
from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.scorers import AttentionScorer, CTCScorer


@torch.no_grad()
def greedy_hyps(model, enc: Tensor, enc_lens: Tensor, max_tokens: int) -> List[List[int]]:
    """Best token sequence per utterance (no ``<sos/eos>``), at most ``max_tokens`` tokens each.

    ``model`` is a LAS (docs/contracts.md); ``enc`` (B, T', H) and ``enc_lens`` (B,) its encoder
    output. The decoder's attention scores alone choose, as in ``asrkit-decode --mode greedy
    --ctc-weight 0`` (with its default guards); for a model trained with CTC alone its CTC prefix
    scores alone, as ``asrkit-decode --mode greedy`` decodes it. No utterance runs past its
    encoder frames or ``max_tokens``.
    """
    # Trained with its CTC loss alone, the speller learned nothing (decoding then uses CTC alone
    # too): its greedy text was noise, and a yesno model that decodes perfectly showed cer 3.2.
    # Not the CTC head's best path either: decoding's greedy search sums a prefix over its
    # alignments: one yesno model measured CER 53.9 % by the best path, 27.0 % decoded.
    ctc_weight = 1.0 if model.config.ctc_weight >= 1 else 0.0
    # Decoding's own options, its attention-only guards included (an end-of-sentence threshold, a
    # bound on attention moving back): without them an early model loops to max_tokens, and its
    # CER passed 2.0.
    config = DecodeConfig(mode="greedy", ctc_weight=ctc_weight)
    opts = dataclasses.replace(config.search_options(), max_tokens=max_tokens)
    scorer = AttentionScorer(model, enc, enc_lens, config.guards(ctc_weight)[1])
    ctc = CTCScorer(model.ctc_log_probs(enc), enc_lens, blank=0, eos=model.eos) if ctc_weight else None
    res = greedy_search({"att": scorer}, ctc, {"att": 1.0 - ctc_weight, "ctc": ctc_weight}, enc_lens, opts,
                        model.vocab_size, sos=model.sos, eos=model.eos)
    return [hyps[0].tokens if hyps else [] for hyps in res.hyps]


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
