"""Fbank options that were not range-checked: sample_frequency 0 (a ZeroDivisionError traceback
from the check meant to refuse it), and vtln_warp / blackman_coeff values that made features of
constant columns at exit 0 or failed every utterance as "is the audio corrupt?"."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from feat_helpers import leftovers, run_cli, write_scp

from asrkit.cli import compute_fbank as compute_fbank_cli
from asrkit.features.fbank import FbankConfig, compute_fbank
from asrkit.utils.errors import AsrkitError

torch.set_num_threads(1)


# at: the line of the key at fault (of the first one the file gives, where several are)
@pytest.mark.parametrize("text, message, at", [
    ("sample_frequency: 0\n", "sample_frequency must be > 0, got 0", ":1"),
    ("sample_frequency: -8000\n", "sample_frequency must be > 0, got -8000", ":1"),
    ("vtln_warp: 1.0e+308\n", "vtln_warp must be in [0.5, 2] (1: no warp; Kaldi's VTLN searches 0.85 to 1.25), got 1e+308",
     ":1"),
    ("vtln_warp: 5\n", "vtln_warp must be in [0.5, 2] (1: no warp; Kaldi's VTLN searches 0.85 to 1.25), got 5", ":1"),
    ("vtln_warp: 0.4\n", "vtln_warp must be in [0.5, 2]", ":1"),
    ("window_type: blackman\nblackman_coeff: 1.0e+308\n",
     "blackman_coeff must be in [0.375, 0.625] (a window that tapers; Kaldi's default is 0.42), got 1e+308", ":2"),
    ("blackman_coeff: 0.3\n", "blackman_coeff must be in [0.375, 0.625]", ":1"),
    # vtln_high <= 0 is an offset from Nyquist (Kaldi's, torchaudio's rule), not from high_freq:
    # this one passed and torchaudio asserted, a traceback
    ("high_freq: -600\nvtln_warp: 0.9\n", "with vtln_warp need low_freq < vtln_low < vtln_high < high_freq, got 20.0, "
                                          "100.0, 7500 (vtln_high=-500.0) and 7400", ":1"),  # high_freq's
    # a warp folding the spectrum over itself: bends at 6000 Hz (3000 x 2) and 3500 Hz
    ("vtln_warp: 2\nvtln_low: 3000\nvtln_high: 3500\n", "vtln_warp 2 folds the frequency axis with vtln_low 3000 "
                                                        "and vtln_high 3500", ":1"),
    # a bound of two keys: the one out of range (no line was found in the words "need 0 <= low_freq < ...")
    ("dither: 0\nlow_freq: 9000\nhigh_freq: 8000\n", "need 0 <= low_freq < high_freq <= 8000 (Nyquist)", ":2"),
    ("dither: 0\nhigh_freq: 9000\n", "need 0 <= low_freq < high_freq <= 8000 (Nyquist)", ":2"),
])
def test_out_of_range_options_are_one_line_errors(tmp_path, text, message, at):
    path = tmp_path / "fbank.yaml"
    path.write_text(text)
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{path}{at}: bad fbank config: {message}")):
        FbankConfig.from_yaml(path)


def test_the_bounds_take_kaldis_values():
    for options in (dict(vtln_warp=0.5), dict(vtln_warp=0.85), dict(vtln_warp=1.25), dict(vtln_warp=2.0),
                    dict(window_type="blackman"), dict(window_type="blackman", blackman_coeff=0.375),
                    dict(window_type="blackman", blackman_coeff=0.625), dict(high_freq=-400, vtln_warp=0.9)):
        FbankConfig(**options)


def test_the_blackman_bounds_are_where_the_window_stops_tapering():
    """Inside the bounds Kaldi's generalized Blackman window is >= 0 and peaks mid-frame."""
    from torchaudio.compliance.kaldi import _feature_window_function as window

    def shape(a):
        w = window("blackman", 400, a, torch.device("cpu"), torch.float64)
        return float(w.min()), int(w.argmax())

    for a in (0.375, 0.42, 0.5, 0.625):
        low, peak = shape(a)
        assert low >= 0 and peak == 199, a
    assert shape(0.37)[0] < 0 and shape(0.63)[1] != 199


@pytest.mark.parametrize("options, empty", [
    (dict(vtln_warp=2.0), [2, 7]),  # within the bounds, yet 80 bins squeezed onto too few FFT bins
    (dict(vtln_warp=1.25, num_mel_bins=100), [1]),
    (dict(vtln_warp=0.5, num_mel_bins=120), [89, 94, 99]),
])
def test_a_warped_bank_is_checked_for_empty_mel_bins_as_kaldi_does(options, empty):
    """check_mel_bins skipped a warped bank: vtln_warp 5 gave 18 of 80 constant columns at exit 0.
    It finds the same empty bins as torchaudio's warped filter bank, and names the warp."""
    import torchaudio.compliance.kaldi as kaldi

    cfg = FbankConfig(**options)
    bank, _ = kaldi.get_mel_banks(cfg.num_mel_bins, cfg._fft_size(), cfg.sample_frequency, cfg.low_freq,
                                  cfg.high_freq, cfg.vtln_low, cfg.vtln_high, cfg.vtln_warp)
    assert (bank.sum(1) == 0).nonzero().flatten().tolist() == empty
    samples = np.random.default_rng(0).normal(scale=1000, size=16000).astype(np.float32)
    feats = compute_fbank(samples, 16000, cfg)
    assert (feats[:, empty] == feats[0, empty]).all()  # dead dimensions
    shown = ", ".join(map(str, empty))
    with pytest.raises(AsrkitError, match=re.escape(f"with vtln_warp {cfg.vtln_warp:g} (") + ".*"
                       + re.escape(f"{len(empty)} (0-based: {shown}) of its mel bins would hold no FFT bin")):
        cfg.check_mel_bins()
    for warp in (0.85, 0.9, 1.1, 1.2):  # Kaldi's VTLN range with the default 80 bins, and FSDD's 8 kHz / 40
        FbankConfig(vtln_warp=warp).check_mel_bins()
        FbankConfig(vtln_warp=warp, sample_frequency=8000, num_mel_bins=40).check_mel_bins()


@pytest.mark.parametrize("args, message", [
    (["--sample-frequency", "0"], "bad fbank config: sample_frequency must be > 0, got 0"),
    (["--vtln-warp", "5"], "bad fbank config: vtln_warp must be in [0.5, 2]"),
    (["--vtln-warp", "2"], "bad fbank config: num_mel_bins 80 is too many for frame_length 25.0 ms at 16000 Hz "
                           "with vtln_warp 2"),
    (["--window-type", "blackman", "--blackman-coeff", "1e308"], "bad fbank config: blackman_coeff must be in"),
])
def test_compute_fbank_refuses_them_at_start_up(tmp_path, an4_wavs, args, message):
    scp = write_scp(tmp_path / "wav.scp", [("u1", an4_wavs[0])])
    out = tmp_path / "out"
    res = run_cli(compute_fbank_cli, [*args, f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp"])
    assert res.exit_code == 1 and message in res.stderr, res.stderr[-500:]
    assert "is the audio corrupt" not in res.stderr and leftovers(out) == []


def test_a_model_with_sample_frequency_0_is_a_damaged_model_named(tmp_path):
    from asrkit.models.las import LASConfig
    from asrkit.models.package import PackageMeta

    d = PackageMeta(model_config=LASConfig(), idim=80, vocab_size=30, feature_config=FbankConfig()).to_dict()
    d["feature_config"]["sample_frequency"] = 0.0
    with pytest.raises(AsrkitError, match=re.escape("exp/x/model.pt: damaged asrkit model: feature_config: "
                                                    "bad fbank config: sample_frequency must be > 0, got 0")):
        PackageMeta.from_dict(d, "exp/x/model.pt")


@pytest.mark.parametrize("yaml_text, args, where", [
    # the whole combination in the file: only found by check_mel_bins, after loading (at the bins' line,
    # kept from the loading: the file is not read again)
    ("sample_frequency: 8000\nnum_mel_bins: 200\n", [], "{conf}:2"),
    # half in the file (the rate), half on the command line (the bins)
    ("sample_frequency: 8000\n", ["--num-mel-bins", "200"], "{conf} with --num-mel-bins 200"),
    # found by validate while the overrides are applied
    ("sample_frequency: 8000\n", ["--high-freq", "5000"], "{conf} with --high-freq 5000.0"),
    # an option's own bad value, no file involved: the message names the option and its value
    # already (tests/test_hostile_inputs.py's huge-dither-fbank), so nothing goes before it
    (None, ["--num-mel-bins", "3"], ""),
])
def test_a_bad_combination_names_the_yaml_and_the_options(tmp_path, yaml_text, args, where):
    """"bad fbank config: num_mel_bins 200 is too many ... at 8000 Hz" did not say the 8000 Hz was
    --config's: the user looking at the command line saw no 8000 anywhere."""
    conf = tmp_path / "conf.yaml"
    config_args = []
    if yaml_text is not None:
        conf.write_text(yaml_text)
        config_args = ["--config", str(conf)]
    scp = write_scp(tmp_path / "wav.scp", [("u1", tmp_path / "never-read.wav")])
    out = tmp_path / "out"
    res = run_cli(compute_fbank_cli, [*config_args, *args, f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp"])
    assert res.exit_code == 1, res.stderr[-500:]
    prefix = f"{where.format(conf=conf)}: " if where else ""
    assert f"ERROR (asrkit-compute-fbank): {prefix}bad fbank config: " in res.stderr, res.stderr
    assert leftovers(out) == []


def test_a_file_value_an_option_replaces_is_not_checked(tmp_path):
    """The file was checked before the options replaced its values: --num-mel-bins 40 over a file's
    num_mel_bins: 2 was refused for the 2 (asrkit-train's --set replaces a file's value unchecked)."""
    conf = tmp_path / "fbank.yaml"
    conf.write_text("dither: 0.0\nnum-mel-bins: 2\n")
    assert FbankConfig.from_options(conf, {"num_mel_bins": 40}).num_mel_bins == 40
    conf.write_text("dither: 0.0\nnum_mel_bins: abc\n")
    assert FbankConfig.from_options(conf, {"num_mel_bins": 40}).num_mel_bins == 40
    # the file's own error, whatever the options, is still the file's at its line
    conf.write_text("dither: -1\nnum_mel_bins: 2\n")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:1: bad fbank config: dither must be in [0, ")):
        FbankConfig.from_options(conf, {"num_mel_bins": 40})


def test_from_options_keeps_the_source_for_training_from_audio(tmp_path):
    conf = tmp_path / "fbank.yaml"
    conf.write_text("sample_frequency: 8000\nnum_mel_bins: 200\n")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:2: bad fbank config: num_mel_bins 200 is too many")):
        FbankConfig.from_yaml(conf).check_mel_bins()
    # the source is no option of the config: not written to fbank.yaml, not part of equality
    assert not {"source", "lines"} & set(FbankConfig.from_yaml(conf).to_dict())
    assert FbankConfig.from_yaml(conf) == FbankConfig(sample_frequency=8000, num_mel_bins=200)
    assert FbankConfig.from_options(None, {"dither": None}) == FbankConfig()
