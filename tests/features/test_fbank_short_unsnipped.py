"""snip_edges false on audio shorter than one window: Kaldi's frames, not torchaudio's assertion."""
from __future__ import annotations

import numpy as np
import pytest
from feat_helpers import run_cli, write_scp, write_wav

from asrkit.cli import compute_fbank as compute_fbank_cli
from asrkit.features.fbank import FbankConfig, compute_fbank
from asrkit.features.wav import read_wav_source
from asrkit.utils.errors import AsrkitError


def test_short_audio_matches_kaldi_native_fbank(an4_wavs):
    from test_fbank_vs_kaldi import assert_close_to_kaldi, knf_fbank

    speech, _ = read_wav_source(str(an4_wavs[0]), "an4")
    middle = speech[len(speech) // 2:]
    configs = [FbankConfig(snip_edges=False),
               FbankConfig(snip_edges=False, sample_frequency=8000, num_mel_bins=23, frame_shift=12.5,
                           window_type="hamming", use_energy=True)]
    for cfg in configs:
        # Kaldi: one frame per shift, rounded to the nearest; the window reflected at both ends,
        # again and again where the audio is shorter than half of it
        shift = cfg.shift_samples
        for n in (shift - shift // 2, shift, 2 * shift - 1, cfg.window_samples // 2, cfg.window_samples - 1):
            ours = compute_fbank(middle[:n], int(cfg.sample_frequency), cfg, "u")
            assert ours.shape[0] == (n + shift // 2) // shift
            assert_close_to_kaldi(ours, knf_fbank(middle[:n], cfg), f"{n} samples")
        with pytest.raises(AsrkitError, match=r"too short for one frame .*snip_edges false"):
            compute_fbank(middle[:shift - shift // 2 - 1], int(cfg.sample_frequency), cfg, "u")


def test_cli_gives_short_utterances_frames_and_skips_shorter(tmp_path):
    # A 20 ms click in a corpus ended the whole run with torchaudio's AssertionError traceback.
    t = np.arange(16000)
    tone = (np.sin(t * 2 * np.pi * 300 / 16000) * 5000).astype(np.int16)
    scp = write_scp(tmp_path / "wav.scp", [(f"u{n}", write_wav(tmp_path / f"u{n}.wav", tone[:n], 16000))
                                           for n in (16000, 320, 50)])
    out = tmp_path / "dump"
    result = run_cli(compute_fbank_cli, ["--snip-edges", "false", "--max-bad-percent", "50", f"scp:{scp}",
                                         f"ark,scp:{out}/feats.ark,{out}/feats.scp"])
    assert result.exit_code == 0, result.stderr
    assert "Done 2 out of 3 utterances; failed 1" in result.stderr
    assert "'u50': too short for one frame (50 samples < half a frame shift, 80" in result.stderr
    assert (out / "utt2num_frames").read_text() == "u16000 100\nu320 2\n"
