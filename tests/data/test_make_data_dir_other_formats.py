"""A user's folder of recordings in several formats, some of which --audio-ext leaves out.

The default --audio-ext is wav,flac. A folder of WAV, FLAC, OGG and MP3 takes (x.ogg + x.txt
beside it) lost its OGG and MP3 recordings without a word: their transcripts were never looked
at, so nothing was counted, and "Done 44 utterances out of 44 audio files" hid 24 of 68.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile

from asrkit.data.datadir import DataDir
from asrkit.data.from_audio import make_data_dir
from asrkit.data.make_report import NO_AUDIO
from asrkit.utils.errors import AsrkitError
from cli_checks import run_in_process
from user_corpus import make_user_corpus


def _convert_some(audio_dir, fmt_of):
    """Re-encode some of the corpus's WAV files as OGG / MP3 (stereo here would need sox: mono)."""
    converted = []
    for i, wav in enumerate(sorted(audio_dir.rglob("*.wav"))):
        ext = fmt_of(i)
        if ext is None:
            continue
        x, rate = soundfile.read(str(wav), dtype="float32")
        wav.unlink()  # a symlink into the corpus
        out = wav.with_suffix("." + ext)
        soundfile.write(str(out), x, rate, format={"ogg": "OGG", "mp3": "MP3", "OGG": "OGG"}[ext],
                        **({"subtype": "VORBIS"} if ext.lower() == "ogg" else {}))
        converted.append(out)
    return converted


def _needs_mp3():
    if "MP3" not in soundfile.available_formats():
        pytest.skip("this libsndfile writes no MP3")


def test_text_beside_audio_of_a_format_not_taken_is_counted_and_named(an4_root, tmp_path):
    _needs_mp3()
    make_user_corpus(an4_root, tmp_path / "c", 12, layout="beside")
    audio = tmp_path / "c/audio"
    converted = _convert_some(audio, lambda i: ("ogg", "mp3")[i % 2] if i % 3 == 0 else None)
    assert len(converted) == 4
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "data", speaker_from_dir=True)
    assert "4 of 12 audio files and transcripts skipped" in str(e.value)
    assert not (tmp_path / "data").exists()          # nothing half-written
    # Under the limit: counted with a reason that says how to take them.
    report = make_data_dir(audio, tmp_path / "data", speaker_from_dir=True, max_skip_ratio=0.5)
    assert report.num_utts == 8
    (reason, names), = report.skipped.items()
    assert reason.endswith("(to take it: --audio-ext wav,flac,mp3,ogg)"), reason
    assert sorted(names) == sorted(str(p.relative_to(audio)) for p in converted)
    # and the Done line counts them among the audio files, as the error above did ('out of 8 audio
    # files, 4 audio in a format ...': 8 + 4 of 8)
    out = run_in_process("make-data-dir", ["--speaker-from-dir", "--max-skip-ratio", "0.5", str(audio),
                                           str(tmp_path / "data3")]).output
    assert f"Done 8 utterances out of 12 audio files, 4 {reason} -> " in out, out
    # Taken, all 12 are there.
    report = make_data_dir(audio, tmp_path / "data2", speaker_from_dir=True, extensions=["wav", "flac", "ogg", "mp3"])
    assert (report.num_utts, report.skipped) == (12, {})


def test_transcript_file_key_of_a_format_not_taken_says_so(an4_root, tmp_path):
    make_user_corpus(an4_root, tmp_path / "c", 10)
    audio = tmp_path / "c/audio"
    _convert_some(audio, lambda i: "OGG" if i == 0 else None)   # upper-case extension too
    (tmp_path / "c/prompts.txt").open("a").write("gone GONE\n")
    report = make_data_dir(audio, tmp_path / "data", transcripts=tmp_path / "c/prompts.txt", max_skip_ratio=0.5)
    assert (report.num_utts, report.num_audio) == (9, 10)
    other = [r for r in report.skipped if r != NO_AUDIO]
    assert len(other) == 1 and "--audio-ext wav,flac,ogg" in other[0]
    assert [n.split()[0] for n in report.skipped[other[0]]] == [sorted(audio.glob("*.OGG"))[0].stem]
    assert [n.split()[0] for n in report.skipped[NO_AUDIO]] == ["gone"]   # a plain missing file stays one


def test_two_lines_naming_one_recording_of_a_format_not_taken_count_it_once(an4_root, tmp_path):
    """'y' and 'y.ogg' in --transcripts name one recording: it was 2 skips and 2 audio files."""
    make_user_corpus(an4_root, tmp_path / "c", 10)
    audio = tmp_path / "c/audio"
    [ogg] = _convert_some(audio, lambda i: "ogg" if i == 0 else None)
    (tmp_path / "c/prompts.txt").open("a").write(f"{ogg.name} SAME AGAIN\n")
    args = ["--transcripts", str(tmp_path / "c/prompts.txt"), "--max-skip-ratio", "0.5"]
    res = run_in_process("make-data-dir", [*args, str(audio), str(tmp_path / "data")])
    report = make_data_dir(audio, tmp_path / "data2", transcripts=tmp_path / "c/prompts.txt", max_skip_ratio=0.5)
    (reason, names), = report.skipped.items()
    assert (report.num_utts, report.num_audio, len(names)) == (9, 10, 1), report
    assert f"Done 9 utterances out of 10 audio files, 1 {reason} -> " in res.output, res.output


def test_same_recording_in_two_formats_one_taken_is_not_a_skip(an4_root, tmp_path):
    """--audio-ext is also how one format of a corpus kept twice is chosen: the left-out copies
    of taken recordings are no skip."""
    make_user_corpus(an4_root, tmp_path / "c", 6, layout="beside")
    audio = tmp_path / "c/audio"
    for wav in sorted(audio.rglob("*.wav")):
        x, rate = soundfile.read(str(wav), dtype="float32")
        soundfile.write(str(wav.with_suffix(".flac")), x, rate)
    report = make_data_dir(audio, tmp_path / "data", speaker_from_dir=True, extensions=["flac"])
    assert (report.num_utts, report.skipped) == (6, {})


def test_only_other_formats_the_error_names_them(tmp_path, capfd):
    (tmp_path / "a").mkdir()
    soundfile.write(str(tmp_path / "a/x.ogg"), np.zeros(1600, np.float32), 16000, format="OGG", subtype="VORBIS")
    (tmp_path / "a/x.txt").write_text("hi\n")
    r = subprocess.run([sys.executable, "-m", "asrkit", "make-data-dir", str(tmp_path / "a"), str(tmp_path / "d")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "it holds 1 *.ogg file(s): --audio-ext wav,flac,ogg" in r.stderr.strip().splitlines()[-1]
