"""asrkit-make-data-dir --transcripts: an audio file skipped for its name or a broken link is
counted once, not again as its transcript's 'transcript without audio'."""
from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile

from asrkit.data.from_audio import make_data_dir
from asrkit.data.make_report import BAD_NAME, BROKEN_LINK
from asrkit.utils.errors import AsrkitError


def test_broken_links_and_bad_names_are_counted_once(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    tone = (np.sin(np.arange(8000) * 0.1) * 5000).astype(np.int16)
    for i in range(38):
        soundfile.write(audio / f"good{i}.wav", tone, 16000, subtype="PCM_16")
    os.symlink(tmp_path / "gone.wav", audio / "dang.wav")  # a link whose file was moved away
    soundfile.write(audio / "cr\x01x.wav", tone, 16000, subtype="PCM_16")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("".join(f"good{i} HELLO\n" for i in range(38)) + "dang.wav HI\n" + "cr\x01x THERE\n")
    # 2 of 40 audio files are unusable: 5 %, within --max-skip-ratio 0.05; each was counted twice
    # (4 of 42: the corpus refused)
    report = make_data_dir(audio, tmp_path / "data", transcripts=prompts)
    assert report.skipped == {BROKEN_LINK: ["dang.wav"], BAD_NAME: ["'cr\\x01x.wav'"]}
    assert report.num_utts == 38
    with pytest.raises(AsrkitError, match=r"2 of 40 audio files and transcripts skipped"):
        make_data_dir(audio, tmp_path / "data", transcripts=prompts, max_skip_ratio=0.04)


def test_a_line_break_in_the_folders_path_is_refused(tmp_path):
    # every wav.scp line was cut in two ('spk1-a /x/cr' and 'root/a.wav'), exit 0
    audio = tmp_path / "cr\nroot"
    audio.mkdir()
    soundfile.write(audio / "a.wav", np.zeros(800, np.int16), 16000, subtype="PCM_16")
    (audio / "a.txt").write_text("HI\n")
    with pytest.raises(AsrkitError, match=r"the folder's path holds a line break or control character"):
        make_data_dir(audio, tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_the_data_dir_is_neither_the_audio_folder_nor_the_transcripts_read(tmp_path):
    audio = tmp_path / "corpus"
    audio.mkdir()
    soundfile.write(audio / "a.wav", np.zeros(800, np.int16), 16000, subtype="PCM_16")
    (audio / "a.txt").write_text("Hello\n")
    (audio / "segments").write_text("the corpus's own file\n")
    # the corpus's own 'segments' (and 'text', 'wav.scp'...) was removed or replaced in place
    with pytest.raises(AsrkitError, match="the data dir is the audio folder itself"):
        make_data_dir(audio, tmp_path / "corpus" / "x" / "..")
    assert sorted(p.name for p in audio.iterdir()) == ["a.txt", "a.wav", "segments"]
    # --transcripts data/all/text into data/all: the transcripts read were replaced (lower-cased here)
    (tmp_path / "all").mkdir()
    (tmp_path / "all" / "text").write_text("a Hello There\n")
    with pytest.raises(AsrkitError, match="the transcripts read are the data dir's own 'text'"):
        make_data_dir(audio, tmp_path / "all", transcripts=tmp_path / "all" / "text", case="lower")
    assert (tmp_path / "all" / "text").read_text() == "a Hello There\n"
    assert make_data_dir(audio, tmp_path / "new", transcripts=tmp_path / "all" / "text").num_utts == 1


@pytest.mark.parametrize("name", ["x.wav", "a\tb.wav", "caf\udce9.wav"])
def test_a_folder_whose_every_audio_file_is_skipped_names_them_not_their_transcripts(asrkit, tmp_path, name):
    # A truncated header (or a name no wav.scp can hold) was the only audio: the error said "no
    # transcripts: none of its 0 audio files has a <name>.txt beside it" and "its 1 .txt file
    # (x.txt) is named after no audio file", sending the user after a transcript that is there,
    # and the broken file was named nowhere.
    audio = tmp_path / "audio"
    audio.mkdir()
    path = os.path.join(os.fsencode(audio), os.fsencode(name))
    tone = (np.sin(np.arange(8000) * 0.1) * 5000).astype(np.int16)
    soundfile.write(path, tone, 16000, subtype="PCM_16")
    if name == "x.wav":
        with open(path, "r+b") as f:
            f.truncate(20)  # inside the fmt chunk
    with open(os.path.splitext(path)[0] + b".txt", "w") as f:
        f.write("HELLO\n")
    proc = asrkit("make-data-dir", audio, tmp_path / "data", check=False)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 1 and "Traceback" not in err
    assert "no transcripts" not in err and "named after no audio file" not in err
    assert err.strip().splitlines()[-1] == (f"ERROR (asrkit-make-data-dir): {audio}: no utterance has both audio and "
                                            f"a non-empty transcript (1 skipped, reasons above)")
    shown = {"x.wav": "x.wav", "a\tb.wav": "'a\\tb.wav'", "caf\udce9.wav": "'caf\\udce9.wav'"}[name]
    assert f"skipped 1: " in err and shown in err
    assert not (tmp_path / "data").exists()


def test_a_folder_whose_only_audio_is_skipped_and_has_no_transcript_keeps_the_transcript_advice(asrkit, tmp_path):
    # 921c5b4b sent every folder whose audio was all skipped to the counts check's 'no utterance has
    # both audio and a non-empty transcript': with no .txt there at all, the advice on where
    # transcripts go (--text-ext, --transcripts) was lost, and that is what the folder lacks
    audio = tmp_path / "audio"
    audio.mkdir()
    tone = (np.sin(np.arange(8000) * 0.1) * 5000).astype(np.int16)
    soundfile.write(audio / "b1.wav", tone, 16000, subtype="PCM_16")
    with open(audio / "b1.wav", "r+b") as f:
        f.truncate(20)
    proc = asrkit("make-data-dir", audio, tmp_path / "data", check=False)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"ERROR (asrkit-make-data-dir): {audio}: no transcripts: none of its 1 audio files (skipped, reasons above) "
        f"has a <name>.txt beside it (other extension: --text-ext; one file of '<name> <text>' lines: --transcripts)")
    assert "skipped 1: " in err and "b1.wav" in err.strip().splitlines()[-2]
    assert not (tmp_path / "data").exists()


def test_a_folder_named_like_audio_is_named_when_it_is_all_there_is(asrkit, tmp_path):
    # 'u05.wav/' (an unzipped archive named after its file) beside u05.txt was "no audio files
    # (looked for *.wav, *.flac ...)", with u05.wav in the listing the user looked at
    audio = tmp_path / "audio"
    (audio / "u05.wav").mkdir(parents=True)
    (audio / "u05.txt").write_text("HELLO\n")
    proc = asrkit("make-data-dir", audio, tmp_path / "data", check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode().strip().splitlines()[-1] == (
        f"ERROR (asrkit-make-data-dir): {audio}: no audio files (looked for *.wav, *.flac in it and its folders; "
        f"see --audio-ext; u05.wav/ is a folder, not an audio file)")
