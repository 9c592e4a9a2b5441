"""asrkit's fbank against kaldi-native-fbank (Kaldi's reference implementation) on real speech."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from feat_helpers import read_wav_reference

from asrkit.features.fbank import FbankConfig, SampleRateMismatch, compute_fbank
from asrkit.features.wav import read_wav_source
from asrkit.utils.errors import AsrkitError

knf = pytest.importorskip("kaldi_native_fbank")

torch.set_num_threads(1)


def knf_fbank(samples: np.ndarray, cfg: FbankConfig) -> np.ndarray:
    """The same options through kaldi-native-fbank."""
    opts = knf.FbankOptions()
    f = opts.frame_opts
    f.samp_freq = cfg.sample_frequency
    f.frame_length_ms = cfg.frame_length
    f.frame_shift_ms = cfg.frame_shift
    f.dither = cfg.dither
    f.preemph_coeff = cfg.preemphasis_coefficient
    f.remove_dc_offset = cfg.remove_dc_offset
    f.window_type = cfg.window_type
    f.round_to_power_of_two = cfg.round_to_power_of_two
    f.snip_edges = cfg.snip_edges
    opts.mel_opts.num_bins = cfg.num_mel_bins
    opts.mel_opts.low_freq = cfg.low_freq
    opts.mel_opts.high_freq = cfg.high_freq
    opts.use_energy = cfg.use_energy
    opts.raw_energy = cfg.raw_energy
    opts.energy_floor = cfg.energy_floor
    opts.htk_compat = cfg.htk_compat
    opts.use_log_fbank = cfg.use_log_fbank
    opts.use_power = cfg.use_power
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(cfg.sample_frequency, samples.tolist())
    fb.input_finished()
    return np.stack([fb.get_frame(i) for i in range(fb.num_frames_ready)])


def assert_close_to_kaldi(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} vs Kaldi's {ref.shape}"
    diff = np.abs(ours.astype(np.float64) - ref)
    # float32 rounding in the log of tiny mel energies reaches ~5e-3 at worst (issue 2).
    assert diff.max() <= 1e-2, f"{what}: max abs diff {diff.max():.3g}"
    assert diff.mean() <= 1e-4, f"{what}: mean abs diff {diff.mean():.3g}"


def test_an4_matches_kaldi_native_fbank(an4_wavs):
    cfg = FbankConfig()
    # 26 utterances: every 5th of the 130 test utterances, so all 10 speakers are covered.
    picked = an4_wavs[::5]
    assert len(picked) >= 20
    for wav in picked:
        samples, rate = read_wav_source(str(wav), wav.stem)
        ref_samples, ref_rate = read_wav_reference(wav)
        np.testing.assert_array_equal(samples, ref_samples)
        assert rate == ref_rate == 16000
        ours = compute_fbank(samples, rate, cfg, wav.stem)
        assert ours.dtype == np.float32 and ours.shape[1] == 80
        assert_close_to_kaldi(ours, knf_fbank(samples, cfg), wav.stem)


@pytest.mark.parametrize("overrides", [
    dict(num_mel_bins=40, use_energy=True),
    dict(num_mel_bins=23, window_type="hamming", snip_edges=False, low_freq=64.0, high_freq=-400.0),
    dict(frame_length=32.0, frame_shift=12.5, preemphasis_coefficient=0.0, remove_dc_offset=False),
])
def test_other_options_match_kaldi(an4_wavs, overrides):
    cfg = FbankConfig(**overrides)
    for wav in an4_wavs[:3]:
        samples, rate = read_wav_source(str(wav), wav.stem)
        ours = compute_fbank(samples, rate, cfg, wav.stem)
        assert ours.shape[1] == cfg.dim
        assert_close_to_kaldi(ours, knf_fbank(samples, cfg), f"{wav.stem} {overrides}")


def test_yesno_8khz(yesno_root):
    wavs = sorted(yesno_root.rglob("*.wav"))[:3]
    assert wavs
    cfg = FbankConfig(sample_frequency=8000, num_mel_bins=40)
    for wav in wavs:
        samples, rate = read_wav_source(str(wav), wav.stem)
        assert rate == 8000
        assert_close_to_kaldi(compute_fbank(samples, rate, cfg, wav.stem), knf_fbank(samples, cfg), wav.stem)
    with pytest.raises(SampleRateMismatch, match=rf"utterance '{wavs[0].stem}': sample rate 8000 Hz .* 16000"):
        compute_fbank(samples, rate, FbankConfig(), wavs[0].stem)


def test_too_short_is_an_error():
    with pytest.raises(AsrkitError, match="too short for one frame"):
        compute_fbank(np.zeros(100, np.float32), 16000, FbankConfig(), "tiny")


def test_config_yaml_round_trip_and_errors(tmp_path):
    path = tmp_path / "fbank.yaml"
    path.write_text("num-mel-bins: 40\nsample_frequency: 8000\nuse_energy: 'true'\n")
    cfg = FbankConfig.from_yaml(path)
    assert (cfg.num_mel_bins, cfg.sample_frequency, cfg.use_energy, cfg.dim) == (40, 8000.0, True, 41)
    cfg.to_yaml(tmp_path / "out.yaml")
    assert FbankConfig.from_yaml(tmp_path / "out.yaml") == cfg
    assert cfg.replace(num_mel_bins=None, dither=0.5) == FbankConfig(**{**cfg.to_dict(), "dither": 0.5})
    for text, message in [("num_mels: 40\n", "unknown fbank option 'num_mels'"),
                          ("num_mel_bins: 40.5\n", "option 'num_mel_bins': expected int"),
                          ("- 1\n", "expected a mapping"),
                          ("window_type: square\n", "window_type must be one of"),
                          ("high_freq: 9000\n", "Nyquist"),
                          # each of these ended in a torchaudio traceback (assertion, log or division)
                          ("preemphasis_coefficient: 2\n", "preemphasis_coefficient must be in [0, 1], got 2.0"),
                          ("energy_floor: -1\n", "energy_floor must be >= 0, got -1.0"),
                          ("vtln_warp: 0\n", "vtln_warp must be > 0 (1: no warp), got 0.0"),
                          ("vtln_warp: 0.9\nvtln_low: 7800\n", "with vtln_warp need low_freq < vtln_low < vtln_high"),
                          ("frame_shift: 0.001\n", "frame_length and frame_shift must be at least one sample"),
                          ("frame_length: .nan\n", "frame_length must be a finite number, got nan"),
                          # these four were torchaudio tracebacks (an assertion, an int overflow)
                          ("num_mel_bins: 3\n", "num_mel_bins must be >= 4, got 3"),
                          ("num_mel_bins: 99999999999999999999\n", "num_mel_bins 99999999999999999999 is too many"),
                          ("sample_frequency: 8000\nframe_length: 0.125\n", "frame_length must be at least two samples"),
                          ("sample_frequency: 8000\nframe_length: 24.875\nround_to_power_of_two: false\n",
                           "199 samples at 8000 Hz, an odd FFT size"),
                          # every utterance failed on its own ("8000 Hz does not match 8000.5 Hz")
                          ("sample_frequency: 8000.5\n", "sample_frequency must be a whole number of Hz up to 768000, got 8000.5"),
                          # int() of an infinite number of samples: OverflowError tracebacks
                          ("sample_frequency: 1.0e+308\n", "sample_frequency must be a whole number of Hz up to 768000, got 1e+308"),
                          ("frame_length: 1.0e+308\n", "is more samples at 16000 Hz than one read holds")]:
        path.write_text(text)
        with pytest.raises(AsrkitError, match=re.escape(message)):
            FbankConfig.from_yaml(path)
    with pytest.raises(AsrkitError, match="no such file"):
        FbankConfig.from_yaml(tmp_path / "missing.yaml")


@pytest.mark.parametrize("options, empty", [
    (dict(num_mel_bins=128), [3]),  # 16 kHz, 25 ms frames: one 31.25 Hz FFT bin too few at the low end
    (dict(num_mel_bins=80, frame_length=10.0), [2, 7]),
    (dict(sample_frequency=8000, num_mel_bins=200), None),
])
def test_mel_bins_without_an_fft_bin_are_refused_as_kaldi_does(options, empty):
    """Kaldi's MelBanks refuses a filter bank with an empty mel bin ("You may have set
    --num-mel-bins too large"); torchaudio computes it, a column that is log(epsilon) in every
    frame. check_mel_bins finds the same empty bins as torchaudio's own filter bank."""
    import torchaudio.compliance.kaldi as kaldi

    cfg = FbankConfig(**options)
    window = int(cfg.sample_frequency * cfg.frame_length / 1000)
    padded = 1 << (window - 1).bit_length()
    bank, _ = kaldi.get_mel_banks(cfg.num_mel_bins, padded, cfg.sample_frequency, cfg.low_freq, cfg.high_freq,
                                  cfg.vtln_low, cfg.vtln_high, cfg.vtln_warp)
    dead = (bank.sum(1) == 0).nonzero().flatten().tolist()
    assert dead == (empty if empty is not None else dead) and dead
    samples = np.random.default_rng(0).normal(scale=1000, size=int(cfg.sample_frequency)).astype(np.float32)
    feats = compute_fbank(samples, int(cfg.sample_frequency), cfg)
    assert (feats[:, dead] == feats[0, dead]).all()  # the same constant in every frame
    with pytest.raises(AsrkitError, match=f"num_mel_bins {cfg.num_mel_bins} is too many .* would hold no FFT bin"):
        cfg.check_mel_bins()
    for good in (dict(), dict(sample_frequency=8000), dict(sample_frequency=8000, num_mel_bins=23),
                 dict(num_mel_bins=40, frame_length=10.0), dict(sample_frequency=44100, num_mel_bins=128),
                 # found without an array of FFT bins (2**22 of them here)
                 dict(sample_frequency=768000, frame_length=5000.0), dict(sample_frequency=8000, frame_length=1e6)):
        FbankConfig(**good).check_mel_bins()
