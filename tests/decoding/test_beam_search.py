"""Batched beam search: beam 1 == greedy, batched == one-by-one, LM weight 0 == no LM, n-best."""
from __future__ import annotations

import pytest
import torch

from asrkit.decoding.beam_search import SearchOptions, beam_search, greedy_search
from asrkit.decoding.scorers import AttentionScorer, CTCScorer, LMScorer

from decoding_tiny import IDIM, V, tiny_las, tiny_lm

EOS = V - 1


def make_batch(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(len(lengths), max(lengths), IDIM)
    for i, n in enumerate(lengths):
        x[i, :n] = torch.randn(n, IDIM, generator=g)
    return x, torch.tensor(lengths)


@torch.inference_mode()
def run(model, x, lens, opts, ctc_weight=0.0, lm=None, lm_weight=0.0, greedy=False):
    enc, enc_lens = model.encode(x, lens)
    full = {"att": AttentionScorer(model, enc, enc_lens)}
    weights = {"att": 1.0 - ctc_weight, "ctc": ctc_weight}
    if lm is not None:
        full["lm"] = LMScorer(lm)
        weights["lm"] = lm_weight
    ctc = CTCScorer(model.ctc_log_probs(enc), enc_lens, blank=0, eos=EOS) if ctc_weight > 0 else None
    search = greedy_search if greedy else beam_search
    return search(full, ctc, weights, enc_lens, opts, V, sos=EOS, eos=EOS, blank=0)


def tokens(res):
    return [[h.tokens for h in hyps] for hyps in res.hyps]


def assert_same(a, b):
    assert tokens(a) == tokens(b)
    for ha, hb in zip(a.hyps, b.hyps):
        for x, y in zip(ha, hb):
            assert x.score == pytest.approx(y.score, rel=1e-4, abs=1e-4)
            for k in x.scores:
                assert x.scores[k] == pytest.approx(y.scores[k], rel=1e-4, abs=1e-4)


LENGTHS = [23, 9, 17, 4, 30, 12]


@pytest.mark.parametrize("ctc_weight,lm_weight", [(0.0, 0.0), (0.4, 0.0), (0.3, 0.5), (1.0, 0.0)])
def test_beam1_equals_greedy(ctc_weight, lm_weight):
    model, lm = tiny_las(), tiny_lm()
    x, lens = make_batch(LENGTHS)
    opts = SearchOptions(beam=1, nbest=1)
    use_lm = lm if lm_weight > 0 else None
    b = run(model, x, lens, opts, ctc_weight, use_lm, lm_weight)
    g = run(model, x, lens, opts, ctc_weight, use_lm, lm_weight, greedy=True)
    assert_same(b, g)
    assert all(len(h) == 1 for h in b.hyps)


@pytest.mark.parametrize("beam,ctc_weight,lm_weight,greedy", [
    (4, 0.0, 0.0, False), (5, 0.3, 0.0, False), (3, 0.5, 0.7, False), (1, 0.3, 0.7, True),
])
def test_batched_equals_one_by_one(beam, ctc_weight, lm_weight, greedy):
    model, lm = tiny_las(), tiny_lm()
    x, lens = make_batch(LENGTHS, seed=3)
    opts = SearchOptions(beam=beam, nbest=min(beam, 3))
    use_lm = lm if lm_weight > 0 else None
    batched = run(model, x, lens, opts, ctc_weight, use_lm, lm_weight, greedy)
    for i, n in enumerate(LENGTHS):
        alone = run(model, x[i:i + 1, :n], lens[i:i + 1], opts, ctc_weight, use_lm, lm_weight, greedy)
        assert tokens(alone)[0] == tokens(batched)[i], f"utterance {i} (length {n})"
        assert_same(type(alone)(hyps=[batched.hyps[i]], steps=0), alone)


def test_lm_weight_zero_equals_no_lm():
    model, lm = tiny_las(), tiny_lm()
    x, lens = make_batch(LENGTHS, seed=5)
    opts = SearchOptions(beam=4, nbest=2)
    with_lm0 = run(model, x, lens, opts, 0.3, lm, 0.0)
    without = run(model, x, lens, opts, 0.3)
    assert_same(with_lm0, without)
    fused = run(model, x, lens, opts, 0.3, lm, 1.0)
    assert all("lm" in h.scores for hyps in fused.hyps for h in hyps)


@pytest.mark.parametrize("length_norm,penalty", [(False, 0.0), (True, 0.0), (False, 0.5), (False, -0.5)])
def test_nbest_sorted_and_scores_consistent(length_norm, penalty):
    model, lm = tiny_las(), tiny_lm()
    x, lens = make_batch(LENGTHS, seed=7)
    opts = SearchOptions(beam=6, nbest=4, length_norm=length_norm, penalty=penalty)
    w = {"att": 0.7, "ctc": 0.3, "lm": 0.5}
    res = run(model, x, lens, opts, 0.3, lm, 0.5)
    for hyps in res.hyps:
        assert 1 <= len(hyps) <= 4
        keys = [h.score / (len(h.tokens) + 1) if length_norm else h.score for h in hyps]
        assert keys == sorted(keys, reverse=True)
        assert len({tuple(h.tokens) for h in hyps}) == len(hyps)
        for h in hyps:
            total = sum(w[k] * v for k, v in h.scores.items()) + penalty * (len(h.tokens) + 1)
            assert h.score == pytest.approx(total, rel=1e-4, abs=1e-3)
            assert all(0 < t < EOS for t in h.tokens)  # never blank, never <sos/eos> inside


def test_wider_beam_scores_at_least_greedy():
    model = tiny_las()
    x, lens = make_batch(LENGTHS, seed=11)
    g = run(model, x, lens, SearchOptions(beam=1), 0.3, greedy=True)
    b = run(model, x, lens, SearchOptions(beam=8), 0.3)
    for hg, hb in zip(g.hyps, b.hyps):
        assert hb[0].score >= hg[0].score - 1e-4


def test_min_and_max_length():
    model = tiny_las(eos_bias=-5.0)  # rarely ends by itself: maxlen must stop it
    x, lens = make_batch([20, 8], seed=2)
    enc_lens = model.encode(x, lens)[1]
    res = run(model, x, lens, SearchOptions(beam=3, maxlenratio=0.5), 0.3)
    for hyps, n in zip(res.hyps, enc_lens.tolist()):
        assert hyps and all(len(h.tokens) <= int(n * 0.5) for h in hyps)
    model = tiny_las(eos_bias=8.0)  # would end at once: minlen must hold it off
    res = run(model, x, lens, SearchOptions(beam=3, minlenratio=0.3), 0.3)
    for hyps, n in zip(res.hyps, enc_lens.tolist()):
        assert hyps and all(len(h.tokens) >= int(n * 0.3) for h in hyps)


def test_validation_greedy_is_decodings_attention_only_greedy(monkeypatch):
    """The trainer's dev CER comes from the greedy search asrkit-decode --mode greedy --ctc-weight 0
    runs, its guards included (an early model that loops stops at them instead of max_tokens)."""
    import asrkit.training.validation as validation
    from asrkit.decoding.config import ATTENTION_ONLY_GUARDS, DecodeConfig

    model = tiny_las(eos_bias=-1.0)
    x, lens = make_batch(LENGTHS, seed=5)
    cfg = DecodeConfig(mode="greedy", ctc_weight=0.0)
    seen = {}
    real_scorer, real_search = validation.AttentionScorer, validation.greedy_search

    def scorer(*args, **kwargs):
        seen["max_backtrack"] = args[3] if len(args) > 3 else kwargs.get("max_backtrack", 0)
        return real_scorer(*args, **kwargs)

    def search(full, ctc, weights, enc_lens, opts, *args, **kwargs):
        seen["eos_threshold"] = opts.eos_threshold
        return real_search(full, ctc, weights, enc_lens, opts, *args, **kwargs)

    monkeypatch.setattr(validation, "AttentionScorer", scorer)
    monkeypatch.setattr(validation, "greedy_search", search)
    with torch.inference_mode():
        enc, enc_lens = model.encode(x, lens)
        decode = greedy_search({"att": AttentionScorer(model, enc, enc_lens, cfg.guards(0.0)[1])}, None, {"att": 1.0},
                               enc_lens, cfg.search_options(0.0), V, sos=EOS, eos=EOS, blank=0)
        valid = validation.greedy_hyps(model, enc, enc_lens, max_tokens=10_000)
    assert valid == [hyps[0].tokens if hyps else [] for hyps in decode.hyps]
    assert (seen["eos_threshold"], seen["max_backtrack"]) == ATTENTION_ONLY_GUARDS == cfg.guards(0.0)
