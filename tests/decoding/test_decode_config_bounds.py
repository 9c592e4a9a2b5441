"""Upper bounds of the decoding options: a huge finite value (NaN and inf were already refused)
is an option error at start-up, not an OverflowError or RuntimeError in the middle of a decode."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from asrkit.decoding.config import MAX_COUNT, MAX_FACTOR, MAX_LENRATIO, MAX_SEGMENT_OPTION_S, DecodeConfig
from asrkit.utils.errors import AsrkitError

# (option, value, message): each value ended in a traceback or in empty hypotheses at exit 0.
TOO_LARGE = [
    ("segment_pad_s", 1e308, "segment_pad_s must be at most 86400 s (24 h), got 1e+308"),
    ("segment_context_s", 1e308, "segment_context_s must be at most 86400 s (24 h), got 1e+308"),
    ("min_pause_s", 1e308, "min_pause_s must be at most 86400 s (24 h), got 1e+308"),
    ("segment_window_s", 1e308, "segment_window_s must be at most 86400 s (24 h), got 1e+308"),
    ("max_segment_s", 1e308, "max_segment_s must be at most 86400 s (24 h), got 1e+308"),
    ("maxlenratio", 1e308, "maxlenratio must be at most 10 (output tokens per encoder frame), got 1e+308"),
    ("minlenratio", 11.0, "minlenratio must be at most 10 (output tokens per encoder frame), got 11"),
    ("max_backtrack", 99999999999999999999999, "max_backtrack must be at most 10000000, got 99999999999999999999999"),
    ("batch_size", 10 ** 7 + 1, "batch_size must be at most 10000000, got 10000001"),
    ("pre_beam_ratio", 1e308, "pre_beam_ratio must be at most 1e+06, got 1e+308"),
    ("lm_weight", 1e7, "lm_weight must be at most 1e+06, got 1e+07"),
    ("eos_threshold", 1e308, "eos_threshold must be at most 1e+06, got 1e+308"),
    ("penalty", -1e308, "penalty must be in [-1e+06, 1e+06], got -1e+308"),
    ("edge_pad_s", 1e308, "edge_pad_s must be at most 10 s, got 1e+308"),
    ("edge_min_quiet_s", 11.0, "edge_min_quiet_s must be at most 10 s, got 11"),
    ("edge_quiet_db", 1e308, "edge_quiet_db must be in (0, 120], got 1e+308"),
]


@pytest.mark.parametrize("key, value, message", TOO_LARGE, ids=[t[0] for t in TOO_LARGE])
def test_a_huge_option_value_is_an_error_naming_the_option_and_its_bound(tmp_path, key, value, message):
    conf = tmp_path / "decode.yaml"
    conf.write_text(f"{key}: {value!r}\n".replace("e+308", ".0e+308"))  # YAML 1.1 floats need the dot
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:1: {message}") + "$"):  # (the key's line)
        DecodeConfig.from_yaml(conf)


def test_the_command_line_flags_are_bounded_too():
    from click.testing import CliRunner

    from asrkit.cli import main

    for flags, message in [(["--max-segment-s", "1e308"], "max_segment_s must be at most 86400 s"),
                           (["--maxlenratio", "1e308"], "maxlenratio must be at most 10"),
                           (["--max-backtrack", "99999999999999999999999"], "max_backtrack must be at most 10000000"),
                           (["--pre-beam-ratio", "1e308"], "pre_beam_ratio must be at most 1e+06"),
                           (["--edge-pad-s", "1e308"], "edge_pad_s must be at most 10 s"),
                           (["--edge-pad-s", "-1"], "edge_pad_s and edge_min_quiet_s must be >= 0"),
                           (["--edge-pad-s", "nan"], "edge_pad_s must be a finite number, got nan")]:
        res = CliRunner().invoke(main, ["decode", "--print-config", *flags])
        assert res.exit_code == 1 and f"options: {message}" in res.stderr, (flags, res.stderr, res.exception)


@pytest.mark.parametrize("maxlenratio, minlenratio, message", [
    (0.2, 0.5, "minlenratio 0.5 is over maxlenratio 0.2"),
    (0.0, 1.5, "minlenratio 1.5 is over maxlenratio 0 (0: 1, the encoder frames)"),
])
def test_a_minimum_length_over_the_maximum_is_an_error(maxlenratio, minlenratio, message):
    """output_lengths clamps the minimum to the maximum, so every hypothesis ran to the maximum
    length at exit 0 (a digit decoded as 'T' or 'THROE')."""
    with pytest.raises(AsrkitError, match=re.escape(f"decode config: {message}: every hypothesis would be forced")):
        DecodeConfig.from_dict(dict(maxlenratio=maxlenratio, minlenratio=minlenratio))
    DecodeConfig.from_dict(dict(maxlenratio=maxlenratio, minlenratio=maxlenratio or 1.0))  # equal: allowed


def test_values_at_the_bounds_are_accepted_and_overflow_nothing():
    """The bounds are where the decoder's arithmetic still holds: each value used to overflow
    in one of these (int(round(pad / frame)), the int64 output lengths, ceil(ratio * beam))."""
    from asrkit.decoding.beam_search import SearchOptions, output_lengths, pre_beam_size
    from asrkit.decoding.segment import _frames, find_pieces

    top = dict(max_segment_s=MAX_SEGMENT_OPTION_S, min_pause_s=MAX_SEGMENT_OPTION_S,
               segment_pad_s=MAX_SEGMENT_OPTION_S, segment_window_s=MAX_SEGMENT_OPTION_S,
               segment_context_s=MAX_SEGMENT_OPTION_S, maxlenratio=MAX_LENRATIO, minlenratio=MAX_LENRATIO,
               lm_weight=MAX_FACTOR, eos_threshold=MAX_FACTOR, pre_beam_ratio=MAX_FACTOR, penalty=-MAX_FACTOR,
               max_backtrack=MAX_COUNT, batch_size=MAX_COUNT, beam=1000, nbest=1000)
    cfg = DecodeConfig.from_dict(top)
    blank = np.array([0.0, 1.0, 1.0, 0.0, 0.95, 0.0], dtype=np.float32)
    assert find_pieces(blank, 0.04, cfg.max_segment_s, cfg.min_pause_s, cfg.pause_blank_prob, cfg.segment_pad_s) \
        == [(0, 6)]
    assert _frames(cfg.segment_window_s, 0.01, 4) == 8640000
    minlen, maxlen = output_lengths(torch.tensor([500]), SearchOptions(maxlenratio=cfg.maxlenratio,
                                                                       minlenratio=cfg.minlenratio))
    assert (minlen.item(), maxlen.item()) == (5000, 5000)
    assert pre_beam_size(cfg.beam, cfg.pre_beam_ratio, 5000) == 5000


def test_an_option_error_says_where_the_options_came_from(tmp_path):
    """A packed nbest 3 with the run's --beam 2 was 'options: nbest must be in [1, beam], got 3',
    naming neither the model nor its packed options."""
    from click.testing import CliRunner

    from asrkit.cli import main

    conf = tmp_path / "decode.yaml"
    conf.write_text("beam: 4\nnbest: 3\n")
    res = CliRunner().invoke(main, ["decode", "--print-config", "--config", str(conf), "--beam", "2"])
    assert res.exit_code == 1
    assert (f"options: nbest must be in [1, beam], got 3 (the options: --config {conf}, then the command "
            f"line's flags)") in res.stderr, res.stderr


@pytest.mark.parametrize("text, message", [
    # messages naming several keys: the line of the one at fault (none was found in their words)
    ("edge_pad_s: 0.1\nedge_min_quiet_s: -1\n", "2: edge_pad_s and edge_min_quiet_s must be >= 0"),
    ("beam: 3\nsegment_window_s: 0\n", "2: max_segment_s and segment_window_s must be > 0"),
    ("maxlenratio: 1\nminlenratio: -1\n", "2: maxlenratio and minlenratio must be >= 0"),
    # ESPnet's name beside ours: beam_size's line (it was beam's, the first key the message named)
    ("beam: 3\nbeam_size: 4\n", "2: beam 3 and beam_size 4: beam_size is ESPnet's name for beam"),
])
def test_an_error_names_the_line_of_the_key_at_fault(tmp_path, text, message):
    conf = tmp_path / "decode.yaml"
    conf.write_text(text)
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:{message}")):
        DecodeConfig.from_yaml(conf)


def test_a_file_value_a_flag_replaces_is_not_checked(tmp_path):
    """The file was checked before the flags replaced its values: --beam 5 over a file's beam: 0
    was refused for the 0, and --beam 30 over a file's nbest 20 for the default beam 10."""
    from click.testing import CliRunner

    from asrkit.cli import main

    conf = tmp_path / "decode.yaml"
    for text, flags, beam in (("beam: 0\n", ["--beam", "5"], 5), ("beam_size: abc\n", ["--beam", "3"], 3),
                              ("nbest: 20\n", ["--beam", "30"], 30)):
        conf.write_text(text)
        res = CliRunner().invoke(main, ["decode", "--print-config", "--config", str(conf), *flags])
        assert res.exit_code == 0 and f"\nbeam: {beam}\n" in f"\n{res.stdout}", (text, res.stderr)
    # the file's own error, whatever the flags, is still the file's at its line
    conf.write_text("beam: 0\nnbest: 0\n")
    res = CliRunner().invoke(main, ["decode", "--print-config", "--config", str(conf), "--beam", "5"])
    assert res.exit_code == 1 and f"ERROR (asrkit-decode): {conf}:2: nbest must be in [1, beam], got 0\n" in res.stderr


def test_a_file_error_beside_a_flag_error_is_the_files_at_its_line(tmp_path):
    """A file's bad value together with a bad flag was the combination's error, the file's value
    named under 'options' without its line: 'options: device must be cpu, cuda[:N] or auto, got
    'gpu'; max_segment_s must be at least 1 s ... (the options: --config decode.yaml, then the
    command line's flags)'. The file is wrong whatever the flags: its error is named at its line,
    as a file's error alone is (and asrkit-train-lm's options likewise)."""
    from click.testing import CliRunner

    from asrkit.cli import main
    from asrkit.training.config import LMTrainConfig

    conf = tmp_path / "decode.yaml"
    conf.write_text("beam: 4\nmax_segment_s: 0.5\n")
    res = CliRunner().invoke(main, ["decode", "--print-config", "--config", str(conf), "--device", "gpu"])
    assert res.exit_code == 1
    assert (f"ERROR (asrkit-decode): {conf}:2: max_segment_s must be at least 1 s (a piece holds a word or more), "
            f"got 0.5\n") in res.stderr, res.stderr
    # the flag's own error, the file being right, is still the combination's
    conf.write_text("beam: 4\n")
    res = CliRunner().invoke(main, ["decode", "--print-config", "--config", str(conf), "--device", "gpu"])
    assert res.exit_code == 1 and "got 'gpu' (the options: --config" in res.stderr, res.stderr
    lm = tmp_path / "lm.yaml"
    lm.write_text("lr: 0.01\ngrad_clip: -1\n")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{lm}:2: grad_clip must be >= 0 (0: no clipping), got -1")
                       + "$"):
        LMTrainConfig.load(str(lm), {"patience": -1})


def test_a_problem_the_files_own_values_have_not_is_the_flags(tmp_path):
    """The file's error was told from the flags' by checking its values less those the flags
    replace, at their defaults: a file of 'beam: 20' and 'nbest: 15' under --beam 5 was refused at
    the file's line 2, 'nbest must be in [1, beam], got 15' (beam's default, 10, is below 15 too),
    though the file is right and --beam 5 made it wrong (and so beside --device gpu, which hid the
    device's error). A problem is the file's only where its own values have it too."""
    from asrkit.decoding.config import DecodeConfig

    conf = tmp_path / "decode.yaml"
    conf.write_text("beam: 20\nnbest: 15\n")
    for given in ({"beam": 5}, {"beam": 5, "device": "gpu"}):
        with pytest.raises(AsrkitError) as e:
            DecodeConfig.with_flags(conf, given=given)
        assert str(e.value).startswith("options: nbest must be in [1, beam], got 15") and \
            str(e.value).endswith(f"(the options: --config {conf}, then the command line's flags)"), str(e.value)
    # a file wrong by itself is still named at its line: nbest 15 over the default beam, a beam too low
    conf.write_text("nbest: 15\n")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:1: nbest must be in [1, beam], got 15") + "$"):
        DecodeConfig.with_flags(conf, given={"beam": 5, "device": "gpu"})
    conf.write_text("beam: 12\nnbest: 15\n")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:2: nbest must be in [1, beam], got 15") + "$"):
        DecodeConfig.with_flags(conf, given={"beam": 5})
    # and a flag's value the same as the file's it replaces is the flag's
    conf.write_text("beam: 0\n")
    with pytest.raises(AsrkitError, match=r"^options: beam must be >= 1, got 0 \(the options: "):
        DecodeConfig.with_flags(conf, given={"beam": 0})


def test_a_file_error_is_the_files_beside_a_bad_value_a_flag_replaces(tmp_path):
    """A file's value that a flag replaces is not read, and may be wrong ('lr: 0' under --lr 0.01):
    the check of the file's values whole then stops at it, and said nothing of its other values,
    so 'grad_clip: -1' beside a bad --patience was the command line's again ('command line:
    patience must be >= 0 ...; grad_clip must be >= 0 ...'), as before 37a31bc0. Only a check of
    the whole file that goes past a problem without finding it makes the problem the flags'."""
    from asrkit.decoding.config import DecodeConfig
    from asrkit.training.config import LMTrainConfig

    lm = tmp_path / "lm.yaml"
    for lr in ("0", "abc"):
        lm.write_text(f"lr: {lr}\ngrad_clip: -1\n")
        with pytest.raises(AsrkitError, match="^" + re.escape(f"{lm}:2: grad_clip must be >= 0 (0: no clipping), got -1")
                           + "$"):
            LMTrainConfig.load(str(lm), {"lr": 0.01, "patience": -1})
    lm.write_text("lr: 0\n")  # (the flag's own 0: the command line's)
    with pytest.raises(AsrkitError, match=r"^command line: lr must be positive, got 0$"):
        LMTrainConfig.load(str(lm), {"lr": 0.0})
    conf = tmp_path / "decode.yaml"
    conf.write_text("beam: abc\nmax_segment_s: 0.5\n")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:2: max_segment_s must be at least 1 s")):
        DecodeConfig.with_flags(conf, given={"beam": 5, "device": "gpu"})
