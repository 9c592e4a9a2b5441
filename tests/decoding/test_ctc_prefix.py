"""The vectorized CTC prefix scorer against a brute-force sum over every alignment."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from asrkit.decoding.ctc_prefix import CTCPrefixScorer

V, BLANK, EOS = 4, 0, 3  # blank, two labels and <eos> (which the CTC can also emit, as in a real model)


def collapse(path):
    out, prev = [], None
    for s in path:
        if s != prev and s != BLANK:
            out.append(s)
        prev = s
    return tuple(out)


def brute_force(logp: torch.Tensor):
    """{label sequence: log P(exactly it)} over all V**T alignments of one utterance (T, V)."""
    probs = {}
    lp = logp.double()
    for path in itertools.product(range(V), repeat=lp.size(0)):
        p = math.exp(sum(lp[t, s].item() for t, s in enumerate(path)))
        key = collapse(path)
        probs[key] = probs.get(key, 0.0) + p
    return probs


def prefix_prob(probs, prefix):
    return sum(p for seq, p in probs.items() if seq[:len(prefix)] == tuple(prefix))


def walk(scorer, row_utt, prefix):
    """Advance the scorer along ``prefix`` for one row; return the state."""
    state = scorer.init_state(torch.tensor([row_utt]))
    for step, tok in enumerate(prefix):
        _, pending = scorer.score(state, torch.tensor([[tok]]), step)
        state = scorer.select(state, pending, torch.tensor([0]))
    return state


@pytest.mark.parametrize("T", [1, 3, 5])
def test_prefix_scores_equal_brute_force(T):
    torch.manual_seed(T)
    logp = torch.randn(1, T, V).mul(2).log_softmax(-1)
    probs = brute_force(logp[0])
    scorer = CTCPrefixScorer(logp, torch.tensor([T]), blank=BLANK, eos=EOS)
    cands = torch.tensor([[1, 2, 3, EOS]])  # label 3 doubles as <eos>: scored as the end
    for prefix in [(), (1,), (2,), (1, 1), (1, 2), (2, 1, 2), (1, 2, 1, 2, 1, 2)]:
        state = walk(scorer, 0, prefix)
        expect_psi = prefix_prob(probs, prefix)
        got_psi = state.log_psi.exp().item()
        assert got_psi == pytest.approx(expect_psi, rel=1e-4, abs=1e-12), prefix
        delta, _ = scorer.score(state, cands, len(prefix))
        for k, c in enumerate(cands[0].tolist()):
            if c == EOS:
                expect = probs.get(tuple(prefix), 0.0)
            else:
                expect = prefix_prob(probs, prefix + (c,))
            got = (state.log_psi + delta[0, k]).exp().item() if expect_psi > 0 else 0.0
            assert got == pytest.approx(expect, rel=1e-4, abs=1e-12), (prefix, c)


def test_padding_does_not_change_scores():
    """Two utterances of different lengths in one batch score as each alone."""
    torch.manual_seed(0)
    long = torch.randn(1, 7, V).log_softmax(-1)
    short = torch.randn(1, 4, V).log_softmax(-1)
    batch = torch.cat([long, torch.cat([short, torch.randn(1, 3, V)], dim=1)], dim=0)
    both = CTCPrefixScorer(batch, torch.tensor([7, 4]), blank=BLANK, eos=EOS)
    alone = CTCPrefixScorer(short, torch.tensor([4]), blank=BLANK, eos=EOS)
    cands = torch.tensor([[1, 2, EOS]])
    for prefix in [(), (1,), (1, 2), (2, 2, 1)]:
        sb = walk(both, 1, prefix)
        sa = walk(alone, 0, prefix)
        db, _ = both.score(sb, cands, len(prefix))
        da, _ = alone.score(sa, cands, len(prefix))
        torch.testing.assert_close(db, da, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(sb.log_psi, sa.log_psi, rtol=1e-5, atol=1e-5)


def test_hypothesis_longer_than_input_is_impossible():
    logp = torch.randn(1, 2, V).log_softmax(-1)
    scorer = CTCPrefixScorer(logp, torch.tensor([2]), blank=BLANK, eos=EOS)
    state = walk(scorer, 0, (1, 2))
    delta, _ = scorer.score(state, torch.tensor([[1, 2]]), 2)
    assert torch.isinf(delta).all() and (delta < 0).all()
