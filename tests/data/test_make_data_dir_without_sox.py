"""Multi-channel audio without sox: tools/install.sh installs no sox, and a stereo WAV, FLAC or MP3
corpus was refused whole ("sox not found on PATH: N file(s) have several channels"), where asrkit
reads all three in-process. Each such file's mono audio (the channels' mean, or --channel N) is
now written as 16-bit WAV under DATA-DIR/mono_wav/, a plain path in wav.scp that every asrkit
command and Kaldi tool reads alike. Where sox is there the pipes stay
(test_from_audio.test_several_channels_other_formats_and_rates_go_through_sox)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from asrkit.data.datadir import DataDir
from asrkit.data.from_audio import make_data_dir
from asrkit.data.make_report import NO_MONO_COPY
from asrkit.data.mono_copies import MONO_DIR
from asrkit.features.wav import read_wav_source
from asrkit.utils.errors import AsrkitError

RATE = 16000


def _speech_like(seed: int) -> np.ndarray:
    """A second of int16 samples that vary as speech does (channels of it neither cancel nor are silent)."""
    rng = np.random.default_rng(seed)
    t = np.arange(RATE) / RATE
    x = 6000 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + rng.normal(0, 300, RATE)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def _corpus(root, formats=("wav", "flac")):
    """Stereo files (left: one talker, right: another) of ``formats``, a mono WAV, a .txt beside each."""
    root.mkdir(parents=True, exist_ok=True)
    sides = {}
    for i, fmt in enumerate(formats):
        left, right = _speech_like(2 * i), _speech_like(2 * i + 1) // 2
        soundfile.write(root / f"st_{fmt}.{fmt}", np.stack([left, right], 1), RATE, format=fmt.upper(),
                        **({} if fmt == "mp3" else {"subtype": "PCM_16"}))
        (root / f"st_{fmt}.txt").write_text("HELLO\n")
        sides[f"spk1-st_{fmt}"] = (left, right)
    soundfile.write(root / "mono.wav", _speech_like(99), RATE, subtype="PCM_16")
    (root / "mono.txt").write_text("HI\n")
    return sides


@pytest.fixture
def no_sox(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name, *a, **k: None)  # no sox anywhere


def test_stereo_wav_and_flac_become_mono_wavs_in_the_data_dir(tmp_path, no_sox):
    sides = _corpus(tmp_path / "c")
    report = make_data_dir(tmp_path / "c", tmp_path / "d")
    assert (report.num_utts, report.skipped) == (3, {})
    wav = DataDir(tmp_path / "d").read("wav.scp")
    assert wav["spk1-mono"] == str((tmp_path / "c/mono.wav").resolve())  # mono: as it is
    for utt, (left, right) in sides.items():
        copy = tmp_path / "d" / MONO_DIR / f"{utt}.wav"
        assert wav[utt] == str(copy.absolute())
        info = soundfile.info(str(copy))
        # what Kaldi's wav reader takes, and what the sox pipe gave: 16-bit PCM, one channel
        assert (info.format, info.subtype, info.channels, info.samplerate) == ("WAV", "PCM_16", 1, RATE)
        samples, _ = read_wav_source(wav[utt], "x", channel=-1)  # compute-fbank's default takes it
        mean = (left.astype(np.float64) + right) / 2
        assert np.abs(samples - mean).max() <= 0.5  # the mean, as 'sox -c 1' (the default meaning kept)
    # --channel 1: that side alone, exactly; the copies of the run before replaced
    make_data_dir(tmp_path / "c", tmp_path / "d", channel=1)
    for utt, (left, right) in sides.items():
        samples, _ = read_wav_source(DataDir(tmp_path / "d").read("wav.scp")[utt], "x")
        assert np.array_equal(samples, right.astype(np.float32))


def test_mp3_too_and_the_command_line_with_sox_left_off_path(tmp_path):
    """The command as a user without sox runs it: PATH holds no sox (nor anything else)."""
    if "MP3" not in soundfile.available_formats():
        pytest.skip("this libsndfile writes no MP3")
    sides = _corpus(tmp_path / "c", ("mp3",))
    bare = tmp_path / "bin"
    bare.mkdir()
    r = subprocess.run([sys.executable, "-m", "asrkit", "make-data-dir", "--audio-ext", "wav,mp3",
                        str(tmp_path / "c"), str(tmp_path / "d")], capture_output=True, text=True,
                       env={**os.environ, "PATH": str(bare)})
    assert r.returncode == 0, r.stderr
    assert "Done 2 utterances out of 2 audio files" in r.stderr and "mono 16-bit WAV" in r.stderr
    wav = DataDir(tmp_path / "d").read("wav.scp")
    samples, _ = read_wav_source(wav["spk1-st_mp3"], "x", channel=-1)
    decoded, _ = read_wav_source(str(tmp_path / "c/st_mp3.mp3"), "y")  # the channels' mean, as decoded
    assert sides and np.array_equal(samples, np.rint(decoded))


def test_a_rerun_replaces_the_copies_and_they_are_never_taken_for_corpus_audio(tmp_path, no_sox):
    """The data dir inside the audio folder: its copies were read as audio without transcripts on
    the next run. A file gone from the corpus has its copy gone too."""
    _corpus(tmp_path / "c")
    out = tmp_path / "c/data/all"
    assert make_data_dir(tmp_path / "c", out).num_audio == 3
    (tmp_path / "c/st_flac.flac").unlink()
    (tmp_path / "c/st_flac.txt").unlink()
    report = make_data_dir(tmp_path / "c", out)
    assert (report.num_audio, report.num_utts, report.skipped) == (2, 2, {})
    assert sorted(p.name for p in (out / MONO_DIR).glob("*.wav")) == ["spk1-st_wav.wav"]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


def test_a_folder_of_that_name_not_written_here_is_left_alone(tmp_path, no_sox):
    _corpus(tmp_path / "c")
    mine = tmp_path / "d" / MONO_DIR
    mine.mkdir(parents=True)
    (mine / "keep.wav").write_bytes(b"mine")
    with pytest.raises(AsrkitError, match=r"mono_wav: exists and was not written by asrkit-make-data-dir"):
        make_data_dir(tmp_path / "c", tmp_path / "d")
    assert [p.name for p in mine.iterdir()] == ["keep.wav"] and not (tmp_path / "d/wav.scp").exists()


def test_a_file_the_reader_refuses_is_counted_and_a_refused_run_leaves_nothing(tmp_path, no_sox):
    """Channels that cancel in the mean (one the other inverted) give silence: skipped and
    counted, the reader's reason logged; past --max-skip-ratio nothing is written."""
    _corpus(tmp_path / "c")
    x = _speech_like(7)
    soundfile.write(tmp_path / "c/cancel.wav", np.stack([x, -x], 1), RATE, subtype="PCM_16")
    (tmp_path / "c/cancel.txt").write_text("GONE\n")
    with pytest.raises(AsrkitError, match=r"1 of 4 audio files and transcripts skipped"):
        make_data_dir(tmp_path / "c", tmp_path / "d")
    assert not (tmp_path / "d").exists()
    report = make_data_dir(tmp_path / "c", tmp_path / "d", max_skip_ratio=0.5)
    assert report.skipped == {NO_MONO_COPY: [str((tmp_path / "c/cancel.wav").resolve())]}
    assert report.num_utts == 3 and "spk1-cancel" not in DataDir(tmp_path / "d").read("text")


def test_a_full_disk_while_writing_the_copies_is_one_line_and_leaves_nothing(tmp_path, no_sox, monkeypatch):
    import errno
    from pathlib import Path

    from click.testing import CliRunner

    from asrkit.cli.make_data_dir import main

    _corpus(tmp_path / "c")

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    r = CliRunner().invoke(main, [str(tmp_path / "c"), str(tmp_path / "d")])
    assert r.exit_code == 1 and r.output.strip().splitlines()[-1] == (
        f"ERROR (asrkit-make-data-dir): {tmp_path / 'd' / MONO_DIR / 'spk1-st_flac.wav'}: no space left on device")
    assert not (tmp_path / "d").exists()


def _no_space(path):
    import errno

    return OSError(errno.ENOSPC, "No space left on device", str(path))


def test_a_failed_copy_removes_the_parent_folders_the_run_made(tmp_path, no_sox, monkeypatch):
    """Only DATA-DIR itself was removed: nd/sub/ of nd/sub/all stayed behind, empty."""
    from pathlib import Path

    _corpus(tmp_path / "c")

    def full(self, data):
        raise _no_space(self)

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OSError):
        make_data_dir(tmp_path / "c", tmp_path / "nd/sub/all")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_tables_that_cannot_be_written_leave_no_copies_in_a_new_data_dir(tmp_path, no_sox, monkeypatch):
    """The copies were moved into place before the tables were written: a full disk at the tables
    left DATA-DIR/mono_wav/ (copies and marker) and no tables."""
    from click.testing import CliRunner

    from asrkit.cli.make_data_dir import main

    _corpus(tmp_path / "c")
    out = tmp_path / "nd/sub/all"

    def full(path, **tables):
        raise _no_space(os.path.join(path, "text"))

    monkeypatch.setattr("asrkit.data.mono_copies.write_data_dir", full)
    r = CliRunner().invoke(main, [str(tmp_path / "c"), str(out)])
    assert r.exit_code == 1 and r.output.strip().splitlines()[-1] == (
        f"ERROR (asrkit-make-data-dir): {out / 'text'}: no space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_tables_that_cannot_be_written_on_a_rerun_leave_the_old_copies_under_the_old_tables(
        tmp_path, no_sox, monkeypatch):
    """A rerun with --channel 1 replaced the copies of the channels' mean, then failed writing the
    tables: the old wav.scp named channel-1 audio under its ids, unsaid. The old copies go back;
    where the tables were written after all (a failure after them), the new copies stay."""
    from asrkit.data import mono_copies

    sides = _corpus(tmp_path / "c")
    out = tmp_path / "d"
    make_data_dir(tmp_path / "c", out)
    tables = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def audio():
        wav = DataDir(out).read("wav.scp")
        return {utt: read_wav_source(wav[utt], "x")[0] for utt in sides}

    mean = audio()
    write = mono_copies.write_data_dir

    def full(path, **kw):
        raise _no_space(os.path.join(path, "text"))

    monkeypatch.setattr(mono_copies, "write_data_dir", full)
    with pytest.raises(OSError, match="No space left"):
        make_data_dir(tmp_path / "c", out, channel=1)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == tables
    after = audio()
    assert all(np.array_equal(after[utt], mean[utt]) for utt in sides)
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporary folder left

    def written_then_failed(path, **kw):
        write(path, **kw)
        raise _no_space(os.path.join(path, "spk2gender"))

    monkeypatch.setattr(mono_copies, "write_data_dir", written_then_failed)
    with pytest.raises(OSError):
        make_data_dir(tmp_path / "c", out, channel=1)
    after = audio()
    assert all(np.array_equal(after[utt], right.astype(np.float32)) for utt, (left, right) in sides.items())
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
