"""Reading wav.scp entries: files, pipes, segments, and every way audio can be bad."""
from __future__ import annotations

import struct

import numpy as np
import pytest
from feat_helpers import read_wav_reference, write_scp, write_wav

from asrkit.features.wav import EXPECT_MONO, iter_wavs, read_audio_bytes, read_wav_scp, read_wav_source
from asrkit.utils.errors import AsrkitError


def _load_all(entries):
    out = {}
    for entry, audio, error in iter_wavs(entries):
        out[entry.utt_id] = error if error is not None else audio
    return out


def test_paths_and_pipes_read_the_same_samples(tmp_path, an4_wavs):
    wav = an4_wavs[0]
    scp = write_scp(tmp_path / "wav.scp", [("a", wav), ("b", f"cat {wav} |"), ("c", f"cat {wav}|")])
    got = _load_all(read_wav_scp(f"scp:{scp}"))
    ref, rate = read_wav_reference(wav)
    for utt in "abc":
        samples, r = got[utt]
        assert r == rate == 16000 and samples.dtype == np.float32
        np.testing.assert_array_equal(samples, ref)
    assert abs(ref).max() > 1000, "int16 scale, as Kaldi's features expect"


@pytest.mark.parametrize("marker", [0xFFFFFFFF, 0x7FFFF000, 0])
def test_streamed_header_sizes_are_accepted_from_pipes(tmp_path, marker):
    samples = (np.arange(800) % 200 - 100).astype(np.int16)
    wav = write_wav(tmp_path / "x.wav", samples, 8000).read_bytes()
    # What a streaming writer puts in the header: it cannot seek back to fill in the sizes.
    streamed = wav[:4] + struct.pack("<I", marker) + wav[8:40] + struct.pack("<I", marker) + wav[44:]
    got, rate = read_audio_bytes(streamed, "x", streamed=True)
    np.testing.assert_array_equal(got, samples)
    assert rate == 8000
    (tmp_path / "s.bin").write_bytes(streamed)
    got, _ = read_wav_source(f"cat {tmp_path / 's.bin'} |", "x")
    np.testing.assert_array_equal(got, samples)
    if marker == 0:
        # In a file, a data size of 0 is taken at its word: the writer said there are no samples.
        with pytest.raises(AsrkitError, match="no samples"):
            read_wav_source(str(tmp_path / "s.bin"), "x")


def test_segments_cut_as_kaldi_does(tmp_path, an4_wavs):
    ref, rate = read_wav_reference(an4_wavs[1])
    dur = len(ref) / rate
    scp = write_scp(tmp_path / "wav.scp", [("rec1", an4_wavs[1]), ("rec2", f"cat {an4_wavs[1]} |")])
    segments = write_scp(tmp_path / "segments", [
        ("u1", "rec1 0.1 0.5"), ("u2", "rec1 0.5 -1"), ("u3", f"rec2 0.25 {dur + 0.3:.3f}"),  # overshoot clipped
    ])
    got = _load_all(read_wav_scp(f"scp:{scp}", segments))
    assert list(got) == ["u1", "u2", "u3"]
    np.testing.assert_array_equal(got["u1"][0], ref[int(0.1 * rate):int(0.5 * rate)])
    np.testing.assert_array_equal(got["u2"][0], ref[int(0.5 * rate):])
    np.testing.assert_array_equal(got["u3"][0], ref[int(0.25 * rate):])


def test_bad_segments(tmp_path, an4_wavs):
    scp = write_scp(tmp_path / "wav.scp", [("rec1", an4_wavs[0])])
    for line, message in [("u1 rec9 0 1", r"segments:1: recording 'rec9' of utterance 'u1' is not in"),
                          ("u1 rec1 0.5", r"segments:1: malformed line"),
                          ("u1 rec1 1.0 0.5", r"segments:1: bad segment times")]:
        segs = write_scp(tmp_path / "segments", [tuple(line.split(maxsplit=1))])
        with pytest.raises(AsrkitError, match=message):
            read_wav_scp(f"scp:{scp}", segs)
    segs = write_scp(tmp_path / "segments", [("u1", "rec1 0.1 99"), ("u2", "rec1 0.1 0.2")])
    got = _load_all(read_wav_scp(f"scp:{scp}", segs))
    assert isinstance(got["u1"], AsrkitError) and "past the recording" in str(got["u1"])
    assert not isinstance(got["u2"], AsrkitError)


def test_bad_audio_is_reported_per_utterance(tmp_path, an4_wavs):
    good = an4_wavs[0].read_bytes()
    (tmp_path / "truncated.wav").write_bytes(good[: len(good) // 2])
    (tmp_path / "empty.wav").write_bytes(b"")
    write_wav(tmp_path / "nosamples.wav", np.zeros(0), 16000)
    (tmp_path / "text.wav").write_bytes(b"this is not audio at all\n")
    (tmp_path / "header.wav").write_bytes(good[:30])
    write_wav(tmp_path / "stereo.wav", np.zeros(3200), 16000, channels=2)
    scp = write_scp(tmp_path / "wav.scp", [
        ("good", an4_wavs[0]), ("truncated", tmp_path / "truncated.wav"), ("empty", tmp_path / "empty.wav"),
        ("nosamples", tmp_path / "nosamples.wav"), ("text", tmp_path / "text.wav"),
        ("header", tmp_path / "header.wav"), ("stereo", tmp_path / "stereo.wav"),
        ("missing", tmp_path / "missing.wav"), ("failing", "exit 3 |"),
    ])
    got = _load_all(read_wav_scp(f"scp:{scp}", channel=EXPECT_MONO))
    assert not isinstance(got.pop("good"), AsrkitError)
    expected = {
        "truncated": f"truncated WAV file (header promises {len(good) - 44} bytes of samples, "
                     f"file has {len(good) // 2 - 44})",
        "empty": "empty file (0 bytes)",
        "nosamples": "empty WAV/PCM_16 audio (no samples)",
        "text": "not a recognised audio file (starts with b'this')",
        "header": "unsupported or corrupt audio (libsndfile: Error in WAV file. No 'data' chunk marker.)",
        "stereo": "audio has 2 channels; choose one with --channel N (0-based)",
        "missing": "no such file",
        "failing": "command 'exit 3' exited with status 3",
    }
    for utt, message in expected.items():
        err = got[utt]
        assert isinstance(err, AsrkitError), utt
        assert f"utterance '{utt}'" in str(err) and message in str(err), str(err)
        assert f"wav.scp:" in str(err), "the error names the wav.scp line"
        assert "\n" not in str(err), "one line"
    # --channel picks one channel of a multi-channel file; by default the channels are averaged.
    stereo = _load_all(read_wav_scp(f"scp:{scp}", channel=1))["stereo"]
    assert stereo[0].shape == (1600,)
    assert _load_all(read_wav_scp(f"scp:{scp}"))["stereo"][0].shape == (1600,)
    third = _load_all(read_wav_scp(f"scp:{scp}", channel=2))["stereo"]
    assert "--channel 2 but the audio has 2 channel(s)" in str(third)


def test_malformed_tables_fail_up_front(tmp_path, an4_wavs):
    scp = tmp_path / "wav.scp"
    scp.write_text(f"a {an4_wavs[0]}\nb\n")
    with pytest.raises(AsrkitError, match=r"wav.scp:2: malformed line"):
        read_wav_scp(f"scp:{scp}")
    scp.write_text(f"a {an4_wavs[0]}\na {an4_wavs[1]}\n")
    with pytest.raises(AsrkitError, match=r"wav.scp:2: duplicate id 'a' \(first on line 1\)"):
        read_wav_scp(f"scp:{scp}")
    with pytest.raises(AsrkitError, match="no such file"):
        read_wav_scp(f"scp:{tmp_path / 'nope.scp'}")
    with pytest.raises(AsrkitError, match="asrkit reads audio from a wav.scp"):
        read_wav_scp(f"ark:{scp}")
