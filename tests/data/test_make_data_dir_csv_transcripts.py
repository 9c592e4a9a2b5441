"""A user's transcripts as one CSV ("path,text", paths quoted, spaces in them) given to
--transcripts: it was read as '<key> <text>' lines and failed with "key '\\"Speaker' appears
twice" (a quoted path cut at its first space), or, without spaces, skipped every line as a
transcript without audio ('a0001.wav,HELLO' names no file); neither said the file's format was
the trouble. A .csv whose first key holds a comma or a quote is now an error that says so and
gives a command converting it, which works as printed."""
from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from asrkit.data.from_audio import make_data_dir
from asrkit.utils.errors import AsrkitError
from user_corpus import make_user_corpus


def _write_csv(path, rows, header=True):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_MINIMAL)
        if header:
            w.writerow(["path", "text"])
        w.writerows(rows)


def test_csv_with_quoted_paths_is_refused_with_a_working_conversion(an4_root, tmp_path):
    expected = make_user_corpus(an4_root, tmp_path / "c", 8, layout="beside")
    audio = tmp_path / "c/audio"
    rows = []
    for key, words in sorted(expected.items()):
        wav = audio / f"{key}.wav"
        spaced = wav.with_name(wav.stem + " take.wav")   # a name with a space: the CSV quotes it
        wav.rename(spaced)
        wav.with_suffix(".txt").unlink()
        rows.append((str(spaced.relative_to(audio)), words))
    csv_path = tmp_path / "my transcripts.csv"
    _write_csv(csv_path, rows)
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "data", transcripts=csv_path)
    msg = str(e.value)
    assert msg.startswith(f"{csv_path}:1: a CSV file") and "<key><TAB><text>" in msg, msg
    assert not (tmp_path / "data").exists()
    # The command it gives converts the file; the result is read, every row matched.
    command = msg.split("e.g. ", 1)[1].rsplit(" (tail drops", 1)[0]
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True)
    report = make_data_dir(audio, tmp_path / "data", transcripts=tmp_path / "prompts.tsv", speaker="me")
    assert (report.num_utts, report.skipped) == (8, {})


def test_csv_without_header_or_quotes_is_refused_too(an4_root, tmp_path):
    expected = make_user_corpus(an4_root, tmp_path / "c", 4)
    _write_csv(tmp_path / "t.CSV", [(f"{k}.wav", v) for k, v in expected.items()], header=False)
    r = subprocess.run([sys.executable, "-m", "asrkit", "make-data-dir", "--transcripts", str(tmp_path / "t.CSV"),
                        str(tmp_path / "c/audio"), str(tmp_path / "d")], capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "t.CSV:1: a CSV file" in r.stderr.strip().splitlines()[-1]


def test_space_separated_prompts_named_csv_are_still_read(an4_root, tmp_path):
    """Only a comma or quote in the first key marks a CSV: '<key> <text>' lines with commas in
    the text are prompts, whatever the file is called."""
    expected = make_user_corpus(an4_root, tmp_path / "c", 4)
    (tmp_path / "p.csv").write_text("".join(f"{k} {v}, again\n" for k, v in expected.items()))
    report = make_data_dir(tmp_path / "c/audio", tmp_path / "data", transcripts=tmp_path / "p.csv")
    assert report.num_utts == 4


def test_ljspeech_metadata_is_refused_with_a_working_conversion(an4_root, tmp_path):
    """LJSpeech's metadata.csv ('LJ001-0001|Text, as read.|text, as read.') has neither a comma nor a
    quote in its first key: every line was a key of its own, and the run ended with 'no utterance
    has both audio and a non-empty transcript' after 2 x N skips. It is named now, with a command
    taking the id and the last (normalized) field, which works as printed."""
    expected = make_user_corpus(an4_root, tmp_path / "c", 6)
    meta = tmp_path / "metadata.csv"
    meta.write_text("".join(f"{k}|{v.title()}.|{v.lower()}, read\n" for k, v in expected.items()))
    with pytest.raises(AsrkitError) as e:
        make_data_dir(tmp_path / "c/audio", tmp_path / "data", transcripts=meta)
    msg = str(e.value)
    assert msg.startswith(f"{meta}:1: a '|'-separated file") and "LJSpeech" in msg, msg
    assert not (tmp_path / "data").exists()
    command = msg.split("e.g. ", 1)[1].rsplit(" (the last field", 1)[0]
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True)
    report = make_data_dir(tmp_path / "c/audio", tmp_path / "data", transcripts=tmp_path / "prompts.txt",
                           case="upper", punctuation="drop")
    assert (report.num_utts, report.skipped) == (6, {})
    text = dict(line.split(" ", 1) for line in (tmp_path / "data/text").read_text().splitlines())
    assert sorted(v.strip() for v in text.values()) == sorted(f"{v.upper()} READ" for v in expected.values())
