"""Stereo MP3 takes go into wav.scp as 'sox ... |' pipes (channels averaged), but a sox built
without its MP3 handler (Debian's sox without libsox-fmt-mp3) fails each such pipe only at
feature extraction: make-data-dir said "Done 68 utterances", and stage 1 then lost 12 of 62
training utterances ("sox FAIL formats: no handler for file extension `mp3'"). It is now an error
of make-data-dir, naming the format, the first file and the package."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from asrkit.data import from_audio
from asrkit.data.from_audio import make_data_dir
from asrkit.utils.errors import AsrkitError


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
    from_audio.sox_formats.cache_clear()
    yield
    from_audio.sox_formats.cache_clear()


def test_stereo_mp3_that_sox_cannot_read_is_an_error_before_anything_is_written(tmp_path, fake_sox):
    if "MP3" not in soundfile.available_formats():
        pytest.skip("this libsndfile writes no MP3")
    audio = tmp_path / "My Takes"
    audio.mkdir()
    for i in range(3):
        _stereo(audio / f"t{i}.ogg", "OGG", subtype="VORBIS")
        (audio / f"t{i}.txt").write_text("A\n")
    _stereo(audio / "m 1.MP3", "MP3")
    (audio / "m 1.txt").write_text("B\n")
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "data", extensions=["ogg", "mp3"])
    msg = str(e.value)
    assert "cannot read *.mp3" in msg and "libsox-fmt-mp3" in msg and "first: m 1.MP3" in msg, msg
    assert "several channels" in msg
    assert not (tmp_path / "data").exists()
    # The OGGs alone (sox reads them) are fine.
    (audio / "m 1.MP3").unlink()
    (audio / "m 1.txt").unlink()
    report = make_data_dir(audio, tmp_path / "data", extensions=["ogg"])
    assert report.num_utts == 3


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
    from_audio.sox_formats.cache_clear()
    try:
        (tmp_path / "a").mkdir()
        _stereo(tmp_path / "a/x.wav", "WAV")
        (tmp_path / "a/x.txt").write_text("hi\n")
        assert make_data_dir(tmp_path / "a", tmp_path / "d").num_utts == 1
    finally:
        from_audio.sox_formats.cache_clear()
