"""Stereo MP3 takes go into wav.scp as 'sox ... |' pipes (channels averaged), but a sox built
without its MP3 handler (Debian's sox without libsox-fmt-mp3) fails each such pipe only at
feature extraction: make-data-dir said "Done 68 utterances", and stage 1 then lost 12 of 62
training utterances ("sox FAIL formats: no handler for file extension `mp3'"). It became an error
of make-data-dir, naming the format, the first file and the package; a multi-channel file
libsndfile reads (the MP3) now gets a mono WAV copy in the data dir instead, as where there is no
sox at all, and the error stays for what only sox could convert (--sample-rate)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from asrkit.data.datadir import DataDir
from asrkit.data.from_audio import make_data_dir
from asrkit.data.sox import sox_formats
from asrkit.features.wav import read_wav_source


def _stereo(path, fmt, **kw):
    t = np.arange(16000, dtype=np.float32) / 16000
    x = 0.3 * np.sin(2 * np.pi * 220 * t)
    soundfile.write(str(path), np.stack([x, 0.8 * x], 1), 44100, format=fmt, **kw)


@pytest.fixture
def fake_sox(tmp_path, monkeypatch):
    """A sox that reads WAV, FLAC and OGG only, as 'sox -h' tells."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sox").write_text("#!/bin/sh\necho 'SoX v14.4.2'\necho 'AUDIO FILE FORMATS: flac ogg vorbis wav'\n")
    (bin_dir / "sox").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    sox_formats.cache_clear()
    yield
    sox_formats.cache_clear()


def test_stereo_mp3_that_sox_cannot_read_gets_a_mono_copy_not_a_pipe(tmp_path, fake_sox, caplog):
    """It was "the installed sox cannot read *.mp3 ... (Debian: apt-get install libsox-fmt-mp3)", the
    whole corpus refused for a format asrkit reads in-process."""
    if "MP3" not in soundfile.available_formats():
        pytest.skip("this libsndfile writes no MP3")
    audio = tmp_path / "My Takes"
    audio.mkdir()
    for i in range(3):
        _stereo(audio / f"t{i}.ogg", "OGG", subtype="VORBIS")
        (audio / f"t{i}.txt").write_text("A\n")
    _stereo(audio / "m 1.MP3", "MP3")
    (audio / "m 1.txt").write_text("B\n")
    with caplog.at_level("INFO"):
        report = make_data_dir(audio, tmp_path / "data", extensions=["ogg", "mp3"])
    assert (report.num_utts, report.skipped) == (4, {})
    assert "the installed sox cannot read *.mp3 (not in 'sox -h' AUDIO FILE FORMATS): writing 1 multi-channel" \
        in caplog.text
    wav = DataDir(tmp_path / "data").read("wav.scp")
    assert all(wav[f"spk1-t{i}"].startswith("sox ") for i in range(3))  # sox reads those: pipes, as before
    copy = tmp_path / "data/mono_wav/spk1-m_1.wav"
    assert wav["spk1-m_1"] == str(copy.absolute()) and soundfile.info(str(copy)).channels == 1
    mean, _ = read_wav_source(str(audio / "m 1.MP3"), "x")
    assert np.array_equal(read_wav_source(wav["spk1-m_1"], "y")[0], np.rint(mean))


def test_sample_rate_conversion_of_a_format_sox_cannot_read_says_so(tmp_path, fake_sox):
    if "MP3" not in soundfile.available_formats():
        pytest.skip("this libsndfile writes no MP3")
    (tmp_path / "a").mkdir()
    soundfile.write(str(tmp_path / "a/x.mp3"), np.zeros(4410, np.float32), 44100, format="MP3")
    (tmp_path / "a/x.txt").write_text("hi\n")
    r = subprocess.run([sys.executable, "-m", "asrkit", "make-data-dir", "--audio-ext", "mp3", "--sample-rate",
                        "16000", str(tmp_path / "a"), str(tmp_path / "d")], capture_output=True, text=True,
                       env={**os.environ})
    assert r.returncode != 0 and "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR (asrkit-make-data-dir):") and "--sample-rate 16000" in last and "*.mp3" in last


def test_a_sox_whose_help_names_no_formats_is_trusted(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sox").write_text("#!/bin/sh\necho 'some sox'\n")
    (bin_dir / "sox").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    sox_formats.cache_clear()
    try:
        (tmp_path / "a").mkdir()
        _stereo(tmp_path / "a/x.wav", "WAV")
        (tmp_path / "a/x.txt").write_text("hi\n")
        assert make_data_dir(tmp_path / "a", tmp_path / "d").num_utts == 1
    finally:
        sox_formats.cache_clear()
