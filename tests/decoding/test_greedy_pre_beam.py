"""Greedy search with CTC: the CTC prefix scorer sees up to 150 candidates (every token of a char
or BPE-128 model), not ceil(1.5 * 1) = 2 (AN4 train_dev, egs/an4/asr1/RESULTS.md)."""
from __future__ import annotations

import yaml

from asrkit.decoding.beam_search import SearchOptions, pre_beam_size
from asrkit.decoding.config import DecodeConfig

from decoding_tiny import V, tiny_las
from test_beam_search import LENGTHS, make_batch, run, tokens


def test_greedy_default_scores_every_token_of_a_small_vocabulary():
    model = tiny_las()
    x, lens = make_batch(LENGTHS)
    greedy = DecodeConfig(mode="greedy", ctc_weight=0.5).search_options()
    every = SearchOptions(beam=1, pre_beam_ratio=0.0)
    two = SearchOptions(beam=1, pre_beam_ratio=1.5)
    got = tokens(run(model, x, lens, greedy, 0.5, greedy=True))
    assert got == tokens(run(model, x, lens, every, 0.5, greedy=True))
    # (the tiny model's attention and CTC disagree: two candidates give other texts)
    assert got != tokens(run(model, x, lens, two, 0.5, greedy=True))


def test_the_pre_beam_in_effect_by_mode():
    assert DecodeConfig(mode="beam").search_options().pre_beam_ratio == 1.5
    assert DecodeConfig(mode="greedy").search_options().pre_beam_ratio == 150.0
    # a large vocabulary keeps greedy's CTC work at a default beam's (10 hypotheses x 15)
    assert pre_beam_size(1, 150.0, 5000) == 150 and pre_beam_size(1, 150.0, V) == V
    # given, it is kept in either mode (a packed 1.5 too)
    assert DecodeConfig(mode="greedy", pre_beam_ratio=1.5).search_options().pre_beam_ratio == 1.5
    assert DecodeConfig(mode="beam", pre_beam_ratio=0.0).search_options().pre_beam_ratio == 0.0


def test_print_config_says_what_runs_and_reads_back():
    for mode, effect in (("greedy", "150 in greedy search"), ("beam", "1.5 in beam search")):
        cfg = DecodeConfig(mode=mode)
        text = cfg.to_yaml()
        assert f"pre_beam_ratio: null  # in effect: {effect}\n" in text
        assert DecodeConfig.from_dict(yaml.safe_load(text)) == cfg
    assert "pre_beam_ratio: 4.0\n" in DecodeConfig(pre_beam_ratio=4.0).to_yaml()
