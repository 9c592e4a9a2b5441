"""The transcript beside each audio file, its extension in any letter case: A.TXT beside A.WAV
(a corpus from Windows, a recorder's card) was "audio without a transcript" while the audio's
own .WAV was taken; two transcripts differing only in case are an error, not one picked."""
from __future__ import annotations

import pytest

from asrkit.data.datadir import DataDir
from asrkit.data.from_audio import make_data_dir
from asrkit.data.make_report import NO_TRANSCRIPT
from asrkit.utils.errors import AsrkitError
from user_corpus import make_user_corpus


def test_upper_and_mixed_case_transcript_extensions_are_read(an4_root, tmp_path):
    expected = make_user_corpus(an4_root, tmp_path / "c", 6, layout="beside")
    audio = tmp_path / "c/audio"
    txts = sorted(audio.rglob("*.txt"))
    txts[0].rename(txts[0].with_suffix(".TXT"))
    txts[1].rename(txts[1].with_suffix(".Txt"))
    wav = txts[2].with_suffix(".wav")
    wav.rename(wav.with_suffix(".WAV"))
    txts[2].rename(txts[2].with_suffix(".TXT"))
    report = make_data_dir(audio, tmp_path / "data", speaker_from_dir=True)
    assert (report.num_utts, report.skipped) == (6, {})
    text = DataDir(tmp_path / "data").read("text")
    assert sorted(text.values()) == sorted(expected.values())
    # --text-ext in upper case finds the lower-case ones too.
    report = make_data_dir(audio, tmp_path / "data2", speaker_from_dir=True, text_ext="TXT")
    assert report.num_utts == 6


def test_two_transcripts_differing_in_case_are_an_error(an4_root, tmp_path):
    make_user_corpus(an4_root, tmp_path / "c", 3, layout="beside")
    audio = tmp_path / "c/audio"
    txt = sorted(audio.rglob("*.txt"))[0]
    txt.with_suffix(".TXT").write_text("SOMETHING ELSE\n")
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "data", speaker_from_dir=True)
    assert f"two transcripts beside it ({txt.stem}.TXT, {txt.stem}.txt)" in str(e.value)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("ext", ["txt", "normalized.txt"])
def test_two_recordings_differing_in_case_each_take_their_own_transcript(an4_root, tmp_path, ext):
    """A.wav and a.wav (two files on Linux), with A.txt and a.txt, were "two transcripts beside it
    (A.txt, a.txt), their names differing only in letter case: keep one", keeping one losing the
    other recording's transcript. Each takes its own letter case's now, also where --text-ext
    holds a dot (LibriTTS's A.normalized.txt); a.wav beside A.wav and A.txt alone is without a
    transcript (it took A.wav's); without an a.wav, A.txt and a.txt for A.wav are still the error."""
    make_user_corpus(an4_root, tmp_path / "c", 3, layout="beside")
    audio = tmp_path / "c/audio"
    for t in audio.rglob("*.txt"):
        t.rename(t.with_suffix("." + ext))
    wavs = sorted(audio.rglob("*.wav"))
    folder = wavs[0].parent
    (folder / "A.wav").symlink_to(wavs[1].resolve())
    (folder / f"A.{ext}").write_text("UPPER\n")
    (folder / "a.wav").symlink_to(wavs[2].resolve())
    (folder / f"a.{ext}").write_text("LOWER\n")
    report = make_data_dir(audio, tmp_path / "data", speaker="s", text_ext=ext)
    assert (report.num_utts, report.skipped) == (5, {})
    text = DataDir(tmp_path / "data").read("text")
    assert (text[f"s-{folder.name}-A"], text[f"s-{folder.name}-a"]) == ("UPPER", "LOWER")
    (folder / f"a.{ext}").unlink()
    report = make_data_dir(audio, tmp_path / "data1", speaker="s", text_ext=ext, max_skip_ratio=0.5)
    assert (report.num_utts, report.skipped) == (4, {NO_TRANSCRIPT: [f"{folder.name}/a.wav"]})
    assert DataDir(tmp_path / "data1").read("text")[f"s-{folder.name}-A"] == "UPPER"
    (folder / f"a.{ext}").write_text("LOWER\n")
    (folder / "a.wav").unlink()
    with pytest.raises(AsrkitError, match=rf"A.wav: two transcripts beside it \(A.{ext}, a.{ext}\), their names "
                                          r"differing only in letter case: keep one"):
        make_data_dir(audio, tmp_path / "data2", speaker="s", text_ext=ext)


def test_transcript_keys_match_audio_extensions_in_any_case(an4_root, tmp_path):
    """'A.wav HELLO' in the transcript file for A.WAV (and 'b.WAV' for b.wav) was a transcript
    without audio and the audio without a transcript, both counted, while --audio-ext had taken
    the .WAV."""
    expected = make_user_corpus(an4_root, tmp_path / "c", 4)
    audio = tmp_path / "c/audio"
    names = sorted(expected)
    (audio / f"{names[0]}.wav").rename(audio / f"{names[0]}.WAV")
    lines = [f"{names[0]}.wav {expected[names[0]]}", f"{names[1]}.WAV {expected[names[1]]}",
             f"./{names[2]}.Wav {expected[names[2]]}", f"{names[3]} {expected[names[3]]}"]
    (tmp_path / "p.txt").write_text("\n".join(lines) + "\n")
    report = make_data_dir(audio, tmp_path / "data", transcripts=tmp_path / "p.txt", speaker="me")
    assert (report.num_utts, report.skipped) == (4, {})
    assert DataDir(tmp_path / "data").read("text") == {f"me-{k}": v for k, v in expected.items()}


def test_a_key_whose_extension_is_not_audio_is_not_case_folded(an4_root, tmp_path):
    expected = make_user_corpus(an4_root, tmp_path / "c", 2)
    name = sorted(expected)[0]
    (tmp_path / "p.txt").write_text(f"{name}.TXT words\n" + "".join(f"{k} {v}\n" for k, v in expected.items()))
    report = make_data_dir(tmp_path / "c/audio", tmp_path / "data", transcripts=tmp_path / "p.txt",
                           max_skip_ratio=0.5)
    assert report.num_utts == 2 and sum(len(v) for v in report.skipped.values()) == 1


@pytest.mark.parametrize("ext", ["", ".", "a/b", "/", ".."])
def test_a_text_ext_that_is_no_extension_is_one_line(an4_root, tmp_path, asrkit, ext):
    # Path.with_suffix raised ValueError ("Invalid suffix '.'"): a traceback from the CLI.
    make_user_corpus(an4_root, tmp_path / "c", 3, layout="beside")
    proc = asrkit("make-data-dir", "--text-ext", ext, tmp_path / "c/audio", tmp_path / "data", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and f"--text-ext {ext!r}: not a file extension" in err, err
    assert "Traceback" not in err and not (tmp_path / "data").exists()


def test_a_transcript_named_after_the_whole_audio_name_is_read(an4_root, tmp_path):
    # a0001.wav.txt (some tools' naming) was skipped as a "text file with no audio", its audio
    # skipped as "audio without a transcript".
    expected = make_user_corpus(an4_root, tmp_path / "c", 4, layout="beside")
    audio = tmp_path / "c/audio"
    txts = sorted(audio.rglob("*.txt"))
    for t in txts[:2]:
        t.rename(t.parent / (t.stem + ".wav.txt"))
    report = make_data_dir(audio, tmp_path / "data", speaker_from_dir=True)
    assert (report.num_utts, report.skipped) == (4, {})
    assert sorted(DataDir(tmp_path / "data").read("text").values()) == sorted(expected.values())
    # both namings beside one recording (whisper.cpp's -otxt output beside the corpus's own): the
    # exact stem's is read, as before, and the other counted as a text file with no audio
    (txts[0].parent / (txts[0].stem + ".txt")).write_text("SOMETHING ELSE\n")
    report = make_data_dir(audio, tmp_path / "data2", speaker_from_dir=True)
    assert report.num_utts == 4 and "SOMETHING ELSE" in DataDir(tmp_path / "data2").read("text").values()
    assert [reason_files for reason_files in report.skipped.values()] == [[str(
        (txts[0].parent / (txts[0].stem + ".wav.txt")).relative_to(audio))]], report.skipped


def test_case_twins_with_a_whole_name_transcript_count_each_file_once(an4_root, tmp_path):
    """A.wav with A.txt, a.wav with a.wav.txt: a.wav took a.wav.txt, and it was counted as a "text
    file with no audio of its name beside it" too (A.txt, another recording's, was taken for an
    a.txt read first), a skip that was none in the summary and against --max-skip-ratio."""
    make_user_corpus(an4_root, tmp_path / "c", 3, layout="beside")
    audio = tmp_path / "c/audio"
    wavs = sorted(audio.rglob("*.wav"))
    folder = wavs[0].parent
    (folder / "A.wav").symlink_to(wavs[1].resolve())
    (folder / "A.txt").write_text("UPPER\n")
    (folder / "a.wav").symlink_to(wavs[2].resolve())
    (folder / "a.wav.txt").write_text("LOWER\n")
    report = make_data_dir(audio, tmp_path / "data", speaker="s")
    assert (report.num_audio, report.num_utts, report.skipped) == (5, 5, {})
    text = DataDir(tmp_path / "data").read("text")
    assert (text[f"s-{folder.name}-A"], text[f"s-{folder.name}-a"]) == ("UPPER", "LOWER")
