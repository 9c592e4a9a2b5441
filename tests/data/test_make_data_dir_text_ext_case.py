"""The transcript beside each audio file, its extension in any letter case: A.TXT beside A.WAV
(a corpus from Windows, a recorder's card) was "audio without a transcript" while the audio's
own .WAV was taken; two transcripts differing only in case are an error, not one picked."""
from __future__ import annotations

import pytest

from asrkit.data.datadir import DataDir
from asrkit.data.from_audio import make_data_dir
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
