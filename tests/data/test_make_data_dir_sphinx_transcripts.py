"""A Kaldi user's first try on AN4: its own etc/an4_test.transcription (CMU Sphinx's layout,
'<text> (<id>)' lines, '<s> ... </s>' around train's) given to --transcripts. Read as '<key> <text>'
lines its first words were keys, and the run stopped at "key 'RUBOUT' appears twice (first on line
1)", which says nothing of the format. The error now names it and gives a command that converts it,
which works as printed; a '<key> <text>' file whose texts end in a parenthesis is read as before."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from asrkit.data.from_audio import make_data_dir
from asrkit.data.transcript_files import read_transcript_file
from asrkit.utils.errors import AsrkitError


def _convert(msg: str, cwd) -> None:
    command = msg.split("e.g. ", 1)[1]
    subprocess.run(["bash", "-c", command], cwd=cwd, check=True)


def test_an4_test_transcription_is_named_with_a_working_conversion(an4_root, tmp_path):
    trans = an4_root / "etc/an4_test.transcription"
    audio = an4_root / "wav/an4test_clstk"
    r = subprocess.run([sys.executable, "-m", "asrkit", "make-data-dir", "--transcripts", str(trans),
                        "--speaker-from-dir", str(audio), str(tmp_path / "d")], capture_output=True, text=True)
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert last.startswith(f"ERROR (asrkit-make-data-dir): {trans}:5: key 'RUBOUT' appears twice"), last
    assert "Sphinx transcription file" in last, last
    assert not (tmp_path / "d").exists()
    _convert(last, tmp_path)
    report = make_data_dir(audio, tmp_path / "d", transcripts=tmp_path / "prompts.txt", speaker_from_dir=True)
    assert (report.num_utts, report.skipped) == (130, {})
    text = dict(line.split(" ", 1) for line in (tmp_path / "d/text").read_text().splitlines())
    assert text["fcaw-an406-fcaw-b"] == "RUBOUT G M E F THREE NINE"


def test_sentence_markers_of_a_train_transcription_are_dropped_by_the_conversion(an4_root, tmp_path):
    """Train's lines are '<s> YES </s> (an251-fash-b)': the conversion drops the markers, which
    would otherwise be words of the transcript (<S> with --case upper)."""
    audio = tmp_path / "audio"
    shutil.copytree(an4_root / "wav/an4_clstk/fash", audio / "fash")
    trans = tmp_path / "my train.transcription"   # a space in the path: the command quotes it
    lines = [line for line in (an4_root / "etc/an4_train.transcription").read_text().splitlines() if "-fash-" in line]
    trans.write_text("\r\n".join(lines) + "\r\n")   # CRLF, as a copy from Windows has it
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "d", transcripts=trans, speaker_from_dir=True, case="upper")
    assert "Sphinx transcription file" in str(e.value)
    _convert(str(e.value), tmp_path)
    report = make_data_dir(audio, tmp_path / "d", transcripts=tmp_path / "prompts.txt", speaker_from_dir=True,
                           case="upper", punctuation="drop")
    assert (report.num_utts, report.skipped) == (len(lines), {})
    text = (tmp_path / "d/text").read_text()
    assert "fash-an251-fash-b YES\n" in text and "<" not in text, text


def test_prompts_whose_texts_end_in_a_parenthesis_keep_the_plain_error(tmp_path):
    """Only a file whose every line ends in a '(<id>)' of its own is called Sphinx's: in '<key> <text>'
    prompts a repeated key is the user's error, named as before."""
    for body in ("a0001 hello (laughs)\na0002 fine\na0001 again (coughs)\n",
                 "a0001 hello (laughs)\na0002 fine (laughs)\na0001 again (laughs)\n"):
        p = tmp_path / "p.txt"
        p.write_text(body)
        with pytest.raises(AsrkitError) as e:
            read_transcript_file(p)
        assert str(e.value) == f"{p}:3: key 'a0001' appears twice (first on line 1)"
