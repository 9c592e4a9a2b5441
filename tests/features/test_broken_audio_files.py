"""Broken audio as an outside tester makes it from real recordings (AN4): stereo whose channels
cancel in the mean (read without a word as digital silence), WAV headers with the fmt chunk
missing or after the data, a sample rate of 0 or 4 GHz (libsndfile's reasons were about something
else). Each is now a one-line error naming the file."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from asrkit.features.wav import read_wav_source
from asrkit.utils.errors import AsrkitError


@pytest.fixture(scope="module")
def speech(an4_wavs):
    x, rate = sf.read(an4_wavs[0], dtype="int16")
    return x, rate


def _refused(source: str, match: str) -> str:
    with pytest.raises(AsrkitError) as e:
        read_wav_source(source, "utterance 'u'")
    assert str(e.value).startswith("utterance 'u': ") and match in str(e.value), str(e.value)
    return str(e.value)


def test_channels_that_cancel_in_the_mean_are_an_error(tmp_path, speech):
    """A stereo recording whose right channel is its left inverted (a balanced lead wired
    backwards) averaged to digital silence, and asrkit-decode wrote a made-up text for it."""
    x, rate = speech
    inverted = np.stack([x, -x.astype(np.int32)], 1).clip(-32768, 32767).astype(np.int16)
    path = tmp_path / "inverted.wav"
    sf.write(path, inverted, rate, subtype="PCM_16")
    _refused(str(path), "its 2 channels cancel out when averaged (the mix is digital silence: one channel is "
                        "another inverted?); choose one with --channel N (0-based)")
    # nearly inverted (a little noise on one side): still 20 dB or more down
    noisy = inverted.astype(np.int32)
    noisy[:, 1] += np.random.default_rng(0).integers(-20, 21, len(x))
    sf.write(tmp_path / "noisy.wav", noisy.astype(np.int16), rate, subtype="PCM_16")
    assert "dB below the loudest channel" in _refused(str(tmp_path / "noisy.wav"), "channels cancel out")
    np.testing.assert_array_equal(read_wav_source(str(path), "u", channel=0)[0], x.astype(np.float32))
    # what a downmix is for still reads: one silent channel (-6 dB), the same speech twice
    for right in (np.zeros_like(x), x):
        sf.write(tmp_path / "ok.wav", np.stack([x, right], 1), rate, subtype="PCM_16")
        assert np.abs(read_wav_source(str(tmp_path / "ok.wav"), "u")[0]).max() > 0


def _riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def _fmt(rate: int = 16000) -> bytes:
    return _chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, rate, (rate * 2) & 0xFFFFFFFF, 2, 16))


def test_wav_headers_without_fmt_or_with_impossible_rates_are_named(tmp_path, speech):
    """libsndfile's reasons were about something else: "No 'data' chunk marker" for a WAV whose
    data chunk is there but its fmt chunk is missing or written after it, "Internal error :
    SF_INFO struct incomplete" for a rate of 0 or 4 GHz."""
    x, _ = speech
    pcm = _chunk(b"data", x.astype("<i2").tobytes())
    no_fmt = "malformed WAV header: no 'fmt ' chunk before the 'data' chunk (missing, or written after the samples)"
    cases = {
        "fmt-missing": (_riff(pcm), no_fmt),
        "fmt-after-data": (_riff(pcm, _fmt()), no_fmt),
        "rate-0": (_riff(_fmt(0), pcm), "malformed WAV header: sample rate 0 Hz"),
        "rate-4ghz": (_riff(_fmt(0xFFFFFFFF), pcm),
                      "sample rate 4294967295 Hz in the header is over the 768000 Hz asrkit reads"),
    }
    for name, (blob, message) in cases.items():
        (tmp_path / f"{name}.wav").write_bytes(blob)
        for source in (str(tmp_path / f"{name}.wav"), f"cat {tmp_path / name}.wav |"):
            _refused(source, message)
    # what real writers put around the samples still reads, and gives the samples
    odd = _chunk(b"odd ", b"xyz")  # an odd-sized chunk with its pad byte
    for blob in (_riff(_chunk(b"JUNK", bytes(28)), _fmt(), _chunk(b"fact", struct.pack("<I", len(x))), odd, pcm),
                 _riff(_fmt(), pcm, _chunk(b"LIST", b"INFOISFT" + struct.pack("<I", 4) + b"abc\0"))):
        (tmp_path / "ok.wav").write_bytes(blob)
        np.testing.assert_array_equal(read_wav_source(str(tmp_path / "ok.wav"), "u")[0], x.astype(np.float32))
