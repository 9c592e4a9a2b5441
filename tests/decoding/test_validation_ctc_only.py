"""The dev CER of a model trained with CTC alone (model.ctc_weight 1): its speller learned nothing,
so the attention-only greedy text the trainer scored was noise (a yesno model that decodes
perfectly showed cer 3.2 in every epoch); its CTC head's greedy decoding is what it says."""
from __future__ import annotations

import torch

from asrkit.training.validation import greedy_hyps

from decoding_tiny import tiny_las


def _ctc_says(model, frames):
    """Make the CTC head say ``frames[t]`` at encoder frame t, whatever its input: a bias per frame
    cannot be set on a linear head, so the encoder output is replaced by one-hot frame codes."""
    T, H = len(frames), model.ctc.proj.in_features
    enc = torch.zeros(1, T, H)
    with torch.no_grad():
        model.ctc.proj.weight.zero_()
        model.ctc.proj.bias.zero_()
        for t, tok in enumerate(frames):
            enc[0, t, t % H] = 1.0
            model.ctc.proj.weight[tok, t % H] = 10.0
    return enc, torch.tensor([T])


def test_a_ctc_only_model_is_measured_by_its_ctc_best_path():
    model = tiny_las(ctc=1.0)
    # blank 0; repeats merge, a blank between two 3s keeps both
    enc, lens = _ctc_says(model, [0, 3, 3, 0, 3, 5, 5, 0, 2])
    with torch.inference_mode():
        assert greedy_hyps(model, enc, lens, max_tokens=100) == [[3, 3, 5, 2]]
        assert greedy_hyps(model, enc, lens, max_tokens=2) == [[3, 3]]


def test_a_joint_model_is_still_measured_by_its_speller():
    model = tiny_las(ctc=0.5)
    enc, lens = _ctc_says(model, [0, 3, 3, 0, 3, 5, 5, 0, 2])
    with torch.inference_mode():
        hyps = greedy_hyps(model, enc, lens, max_tokens=100)
    assert hyps != [[3, 3, 5, 2]]   # (the random speller's text, not the CTC path)
