"""Attention-only decoding that neither stops early nor loops: the <eos> threshold and the loop guard.

Scripted decoders (a fixed table of scores per step, a fixed path of attention peaks) make the
failure happen for certain, so each test shows the failure without the guard and its absence with it.
"""
from __future__ import annotations

import pytest
import torch

from asrkit.decoding.beam_search import SearchOptions, beam_search, greedy_search
from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.scorers import AttentionScorer, FullScorer
from asrkit.utils.errors import AsrkitError

BLANK, A, B, EOS = 0, 1, 2, 3
V = 4
NEG = -1e9


class Scripted(FullScorer):
    """Log-probs from ``table[step]`` (the last row repeats), whatever the prefix."""

    def __init__(self, table):
        self.table = torch.tensor(table, dtype=torch.float32)

    def init_state(self, rows):
        return torch.zeros(rows.numel(), dtype=torch.long)

    def score(self, prev, state):
        return self.table[state.clamp(max=len(self.table) - 1)], state + 1

    def reorder(self, state, rows):
        return state.index_select(0, rows)


def search(scorer, opts, greedy, frames=6):
    fn = greedy_search if greedy else beam_search
    return fn({"att": scorer}, None, {"att": 1.0}, torch.tensor([frames]), opts, V, sos=EOS, eos=EOS, blank=BLANK)


# Step 0: A is best, <eos> a close second (an attention decoder unsure where the speech ends).
# From "A": A is poor and <eos> worse, so the complete "A <eos>" scores below the empty "<eos>".
EARLY = [[NEG, -0.4, -5.0, -1.1],
         [NEG, -1.0, -5.0, -1.5],
         [NEG, -3.0, -5.0, -1.0]]


def test_without_the_threshold_the_beam_stops_at_once():
    res = search(Scripted(EARLY), SearchOptions(beam=2), greedy=False)
    assert res.hyps[0][0].tokens == []  # the empty hypothesis (score -1.1) won: every word deleted


def test_eos_threshold_keeps_eos_out_until_it_is_near_the_best():
    res = search(Scripted(EARLY), SearchOptions(beam=2, nbest=2, eos_threshold=1.5), greedy=False)
    # Step 0: -1.1 < 1.5 * -0.4, refused; step 1: -1.5 >= 1.5 * -1.0, allowed.
    assert res.hyps[0][0].tokens == [A]
    assert res.hyps[0][0].score == pytest.approx(-1.9)
    assert all(h.tokens for h in res.hyps[0])


def test_eos_threshold_never_blocks_the_forced_end():
    """At the maximum length <eos> is the only choice, whatever its score."""
    never = [[NEG, -0.1, -5.0, -20.0]]
    for greedy in (True, False):
        res = search(Scripted(never), SearchOptions(beam=2, eos_threshold=1.5, maxlenratio=0.5), greedy, frames=6)
        assert res.hyps[0][0].tokens == [A, A, A]  # 0.5 * 6 frames


class LoopingLAS:
    """A decoder whose attention walks frames 0..9 and then jumps back to 1 and walks again, for
    ever, emitting A each step and never <eos>: an attention loop (a word read again)."""

    PATH = [*range(10), *range(1, 10), *range(1, 10)]

    def init_decoder(self, enc, enc_lens):
        n = enc.size(0)
        return {"enc": enc}, {"t": torch.zeros(n, dtype=torch.long)}

    def decode_step(self, prev, state, memory):
        t = state["t"]
        T = memory["enc"].size(1)
        peak = torch.tensor(self.PATH)[t.clamp(max=len(self.PATH) - 1)]
        att = torch.nn.functional.one_hot(peak, T).float()
        logp = torch.tensor([NEG, -0.1, -4.0, -15.0]).expand(t.numel(), V).clone()
        logp[t == 0, EOS] = -30.0  # so that the empty hypothesis never wins the beam
        return logp, {"t": t + 1}, att


def loop_search(max_backtrack, greedy, frames=20, model=None):
    enc = torch.zeros(2, frames, 3)
    lens = torch.tensor([frames, frames])
    scorer = AttentionScorer(model or LoopingLAS(), enc, lens, max_backtrack=max_backtrack)
    fn = greedy_search if greedy else beam_search
    return fn({"att": scorer}, None, {"att": 1.0}, lens, SearchOptions(beam=3), V, sos=EOS, eos=EOS, blank=BLANK)


@pytest.mark.parametrize("greedy", [True, False])
def test_a_looping_hypothesis_runs_to_the_maximum_without_the_guard(greedy):
    res = loop_search(0, greedy)
    assert [h[0].tokens for h in res.hyps] == [[A] * 20] * 2  # one token per encoder frame


@pytest.mark.parametrize("greedy", [True, False])
def test_the_loop_guard_ends_a_hypothesis_that_stays_behind_after_a_jump_back(greedy):
    assert AttentionScorer.LOOP_STEPS == 3
    res = loop_search(2, greedy)
    # Steps 10, 11, 12 look at frames 1, 2, 3, each more than 2 behind frame 9: the third ends
    # the hypothesis, and the tokens of the loop's first two steps go with it: what is left is
    # the 10 tokens read once.
    assert [h[0].tokens for h in res.hyps] == [[A] * 10] * 2
    # A jump back by no more than the allowance is not a loop.
    assert [h[0].tokens for h in loop_search(8, greedy).hyps] == [[A] * 20] * 2


class CirclingLAS(LoopingLAS):
    """Attention that reaches frame 9 and then circles over frames 5-9 for ever: a loop that never
    falls more than the allowance behind (a word or two read again and again)."""

    PATH = [*range(10), *([5, 6, 7, 8, 9] * 20)]


@pytest.mark.parametrize("greedy", [True, False])
def test_a_loop_within_the_allowance_ends_at_a_stall(greedy):
    assert AttentionScorer.STALL_STEPS == 16
    # Without the guard it runs to the maximum length (one token per encoder frame).
    assert [h[0].tokens for h in loop_search(0, greedy, frames=60, model=CirclingLAS()).hyps] == [[A] * 60] * 2
    # With it: steps 10-25 peak at or before frame 9 without passing it; the 16th ends the
    # hypothesis and the tokens since frame 9 go: the 10 tokens read once are left.
    res = loop_search(8, greedy, frames=60, model=CirclingLAS())
    assert [h[0].tokens for h in res.hyps] == [[A] * 10] * 2


class GlancingLAS(LoopingLAS):
    """Attention that glances back once and goes on (a character model spelling a word it read
    from its start: FSDD's connected digits at 80 ms frames do this every few words)."""

    PATH = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 10, 11, 12, 2, 13, 14, 15, 16, 17, 18, 19]


@pytest.mark.parametrize("greedy", [True, False])
def test_a_glance_back_is_no_loop(greedy):
    """A single step far behind (9 and 10 frames here) is not a loop: ending hypotheses there took
    a leave-one-speaker-out FSDD model's greedy dev WER from 0 % to 26.8 % (all deletions)."""
    res = loop_search(2, greedy, model=GlancingLAS())
    assert [h[0].tokens for h in res.hyps] == [[A] * 20] * 2


class LookAheadFirstLAS(LoopingLAS):
    """Attention that peaks at the last frame while emitting the first token, then reads from the
    start (what an FSDD fold's model learned: 48 frames, the first peak at 47, then 1, 2, 4, ...),
    and once more jumps far ahead before going on from there."""

    PATH = [19, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 19, 12, 13, 14, 15, 16, 17, 18, 19]


@pytest.mark.parametrize("greedy", [True, False])
def test_a_glance_ahead_is_not_progress(greedy):
    """The furthest frame moves on only by steps forward: counted from the glance at frame 19,
    every real step was 'behind' and the hypotheses ended empty (the FSDD model's greedy dev WER
    was 90.4 %, all deletions, against 0.34 % without the guard)."""
    res = loop_search(2, greedy, model=LookAheadFirstLAS())
    assert [h[0].tokens for h in res.hyps] == [[A] * 20] * 2
    # The guard still ends a loop after it: read to frame 9, then back to 1 for good.
    class LookThenLoop(LoopingLAS):
        PATH = [19, *range(10), *range(1, 10), *range(1, 10)]

    res = loop_search(2, greedy, model=LookThenLoop())
    assert [h[0].tokens for h in res.hyps] == [[A] * 11] * 2


def test_a_flat_attention_is_no_loop():
    """A weak model's attention is near uniform and its argmax wanders: no peak, no jump back."""

    class Flat(LoopingLAS):
        def decode_step(self, prev, state, memory):
            logp, new, att = super().decode_step(prev, state, memory)
            return logp, new, 0.1 * att + 0.9 / att.size(1)  # peak weight ~0.15 < SHARP

    enc, lens = torch.zeros(1, 20, 3), torch.tensor([20])
    scorer = AttentionScorer(Flat(), enc, lens, max_backtrack=2)
    res = greedy_search({"att": scorer}, None, {"att": 1.0}, lens, SearchOptions(beam=1), V, sos=EOS, eos=EOS,
                        blank=BLANK)
    assert res.hyps[0][0].tokens == [A] * 20


def test_decode_config_guards_are_for_attention_only_decoding():
    cfg = DecodeConfig()
    assert cfg.guards(0.0) == (1.5, 8) and cfg.guards(0.3) == (0.0, 0)
    assert cfg.search_options(0.0).eos_threshold == 1.5 and cfg.search_options().eos_threshold == 0.0
    assert DecodeConfig(ctc_weight=0.0).search_options().eos_threshold == 1.5
    given = DecodeConfig(eos_threshold=2.0, max_backtrack=0)
    assert given.guards(0.0) == (2.0, 0) and given.guards(0.5) == (2.0, 0)
    with pytest.raises(AsrkitError, match="eos_threshold must be >= 0 .*max_backtrack must be >= 0"):
        DecodeConfig.from_dict({"eos_threshold": -1, "max_backtrack": -2})
    with pytest.raises(AsrkitError, match=r"pre_beam_ratio must be >= 0 \(0: all tokens\), got -1.0"):
        DecodeConfig.from_dict({"pre_beam_ratio": -1})
