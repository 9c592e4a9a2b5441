"""The one decoder target builder shared by the LAS speller and the LM."""
import torch

from asrkit.models.lm import LMConfig, LSTMLM
from asrkit.models.targets import decoder_targets


def test_sos_in_eos_out_padding_ignored():
    ys = torch.tensor([[4, 5, 6], [7, -1, -1], [-1, -1, -1]])
    ys_in, ys_out = decoder_targets(ys, torch.tensor([3, 1, 0]), sos=9, eos=9)
    assert ys_in.tolist() == [[9, 4, 5, 6], [9, 7, 0, 0], [9, 0, 0, 0]]
    assert ys_out.tolist() == [[4, 5, 6, 9], [7, 9, -1, -1], [9, -1, -1, -1]]


def test_lm_counts_every_token_and_one_eos_per_sentence():
    torch.manual_seed(0)
    lm = LSTMLM(10, LMConfig(embed=4, hidden=8, layers=1, dropout=0.0))
    nll, count = lm.loss(torch.tensor([[1, 2, 3], [4, -1, -1]]), torch.tensor([3, 1]))
    assert int(count) == 3 + 1 + 2 and float(nll.detach()) > 0
