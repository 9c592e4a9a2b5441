"""asrkit.data.ctm.read_ctm: what asrkit writes reads back; a malformed line is one error naming
file and line, never a word dropped."""
from __future__ import annotations

import pytest

from asrkit.data.ctm import CtmWord, read_ctm
from asrkit.decoding.align import ctm_lines
from asrkit.decoding.ctc_align import Word
from asrkit.utils.errors import AsrkitError


def test_what_asrkit_writes_reads_back(tmp_path):
    words = {"u2": [Word("TWO", 0.31, 0.62, 0.875), Word("OH", 0.62, 0.9, 1.0)], "u1": [Word("YES", 0.0, 0.25, 0.0)]}
    ctm = tmp_path / "a.ctm"
    ctm.write_text("".join(line + "\n" for utt, ws in words.items() for line in ctm_lines(utt, ws))
                   + ";; a NIST comment\n\n" + "u3\t1  1.5 0.5 NO\n")  # tabs, runs of blanks, no confidence
    got = read_ctm(ctm)
    assert list(got) == ["u2", "u1", "u3"]  # file order
    assert got["u2"] == [CtmWord(0.31, 0.62, "TWO", 0.875), CtmWord(0.62, 0.9, "OH", 1.0)]
    assert got["u1"] == [CtmWord(0.0, 0.25, "YES", 0.0)]
    assert got["u3"] == [CtmWord(1.5, 2.0, "NO", 1.0)]


def test_word_times_are_the_ctms():
    """The Transcriber's word times were unrounded while the CTM's were cut to milliseconds, its
    duration taken from the unrounded times (start 0.123 + dur 0.222 for a word ending at 0.346)."""
    w = Word("TWO", 0.1234, 0.3456, 0.875)
    assert (w.start, w.end) == (0.123, 0.346) and (w.to_dict()["start"], w.to_dict()["end"]) == (0.123, 0.346)
    [line] = ctm_lines("u1", [w])
    start, dur = map(float, line.split()[2:4])
    assert (start, round(start + dur, 3)) == (w.start, w.end)


def test_word_confidence_is_the_ctms():
    """A word's confidence was rounded three ways: 3 decimals in the CTM, 4 in nbest.jsonl, none in
    the Transcriber (0.87654 was 0.877, 0.8765 and 0.87654)."""
    w = Word("TWO", 0.1, 0.3, 0.87654)
    [line] = ctm_lines("u1", [w])
    assert w.confidence == w.to_dict()["conf"] == float(line.split()[5]) == 0.877


@pytest.mark.parametrize("line,message", [
    ("u1 1 zero 0.3 FIVE", "with numbers for the times, got 'u1 1 zero 0.3 FIVE'"),
    ("u1 1 0.3 FIVE", "got 4 fields"),
    ("u1 1 0.3 0.2 FIVE 0.9 extra", "got 7 fields"),
    ("u1 1 -0.3 0.2 FIVE", "start and duration must be finite and >= 0"),
    ("u1 1 0.3 nan FIVE", "start and duration must be finite and >= 0"),
    ("u1 1 0.3 inf FIVE", "start and duration must be finite and >= 0"),
    ("u1 1 0.3 0.2 FIVE 1.5", "confidence must be in [0, 1]"),
    ("u1 1 0.3 0.2 FIVE nan", "confidence must be in [0, 1]"),
    # float() reads '1_0' as 10 and other scripts' digits; strtod, sclite and Kaldi do not
    ("u1 1 1_0 0.2 FIVE", "with numbers for the times, got 'u1 1 1_0 0.2 FIVE'"),
    ("u1 1 0.3 \u0662 FIVE", "with numbers for the times"),
    ("u1 1 0.3 0.2 FIVE \uff11", "with numbers for the times"),
])
def test_a_malformed_line_is_an_error_naming_it(tmp_path, line, message):
    ctm = tmp_path / "bad.ctm"
    ctm.write_text(f"u0 1 0.000 0.300 ONE 0.900\n{line}\n")
    with pytest.raises(AsrkitError) as e:
        read_ctm(ctm)
    assert str(e.value).startswith(f"{ctm}:2: ") and message in str(e.value)


def test_unreadable_files_are_one_line_errors(tmp_path):
    with pytest.raises(AsrkitError, match="cannot read"):
        read_ctm(tmp_path / "missing.ctm")
    binary = tmp_path / "b.ctm"
    binary.write_bytes(b"u1 1 0.0 0.1 \xff\xfe\n")
    with pytest.raises(AsrkitError, match="not UTF-8 text"):
        read_ctm(binary)
