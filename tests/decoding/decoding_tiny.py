"""Tiny randomly initialised models for the decoding tests (fast on one CPU thread)."""
from __future__ import annotations

import torch

from asrkit.models.las import LAS, LASConfig
from asrkit.models.lm import LMConfig, LSTMLM

V = 9  # <blank>, <unk>, 6 pieces, <sos/eos>
IDIM = 12


def tiny_las(idim: int = IDIM, vocab: int = V, seed: int = 0, eos_bias: float = 1.5, ctc: float = 0.5) -> LAS:
    torch.manual_seed(seed)
    cfg = LASConfig.from_dict({
        "listener": {"vgg": False, "hidden": 16, "subsample": [1, 2], "proj": 16},
        "attention": {"type": "location", "dim": 16, "conv_channels": 2, "conv_width": 3},
        "speller": {"hidden": 16, "embed": 8},
        "ctc_weight": ctc,
    })
    model = LAS(idim, vocab, cfg)
    with torch.no_grad():
        # A random model rarely says <eos>; a bias makes hypotheses end at varied lengths, as
        # a trained model's do, so the end-of-search paths get exercised.
        model.speller.output.bias[vocab - 1] += eos_bias
        # ...and a sharper CTC head makes the CTC scores matter for the ranking.
        if model.ctc is not None:
            model.ctc.proj.weight.mul_(4.0)
    return model.eval()


def tiny_lm(vocab: int = V, seed: int = 1) -> LSTMLM:
    torch.manual_seed(seed)
    return LSTMLM(vocab, LMConfig(embed=8, hidden=16, layers=1, dropout=0.0)).eval()
