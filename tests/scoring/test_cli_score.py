"""asrkit-score as a user runs it: outputs, bad inputs, and the real AN4 test transcripts."""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Dict

import pytest

from .sclite_tool import parse_table

REF = """spk1-u1 the cat sat on the mat
spk1-u2 hello world
spk2-u3 a b c d
spk2-u4
spk2-u5 x y
"""
HYP = """spk1-u1 the cat sat at mat mat
spk2-u3 a x c d e
spk2-u4 foo
spk2-u5
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def stderr(proc) -> str:
    return proc.stderr.decode(errors="replace")


def test_outputs_and_summary(asrkit, tmp_path):
    ref, hyp = write(tmp_path / "ref", REF), write(tmp_path / "hyp", HYP)
    out = tmp_path / "decode"
    # 1 of the 5 reference utterances has no hypothesis: more than Kaldi's 5 %, so only with the flag.
    proc = asrkit("score", "--output-dir", out, ref, hyp, check=False)
    assert proc.returncode == 1 and not out.exists()
    assert "1 of 5 utterances have no hypothesis (spk1-u2), more than 5 %" in stderr(proc)
    assert "--allow-missing" in stderr(proc)
    proc = asrkit("score", "--allow-missing", "--output-dir", out, ref, hyp)
    lines = proc.stdout.decode().splitlines()
    assert lines == [
        "%WER 64.29 [ 9 / 14, 2 ins, 4 del, 3 sub ]",  # sclite: 64.3 % (9), Sub 3, Del 4, Ins 2
        "%CER 66.67 [ 22 / 33, 5 ins, 13 del, 4 sub ]",  # sclite -c: 66.7 % (22), Sub 4, Del 13, Ins 5
        "%SER 100.00 [ 5 / 5 ]",
        "Scored 5 sentences, 1 not present in hyp.",
    ]
    assert (out / "wer.txt").read_text().splitlines() == lines
    result = (out / "result.txt").read_text()
    assert "Utterances missing from the hypothesis (scored as all deletions): 1\n  spk1-u2" in result
    assert "| Sum/Avg |     5     14 |  50.0   21.4   28.6   14.3   64.3  100.0 |" in result  # as sclite's
    assert "REF:  the cat sat ON THE mat \nHYP:  the cat sat AT MAT mat \nEval:             S  S       " in result
    assert "REF:  HELLO WORLD \nHYP:  ***** ***** \nEval: D     D     " in result
    assert re.search(r"1 +->  on ==> at", result)
    assert "CER: character level" in result
    err = stderr(proc)
    assert "spk1-u2 has no hypothesis" in err
    assert "Done 4 out of 5 utterances" in err


def test_mode_wer_and_kaldi_rspecifiers(asrkit, tmp_path):
    ref, hyp = write(tmp_path / "ref", REF), write(tmp_path / "hyp", HYP)
    proc = asrkit("score", "--allow-missing", "--mode", "wer", f"ark:{ref}", f"ark,t:{hyp}")
    lines = proc.stdout.decode().splitlines()
    assert lines[0].startswith("%WER 64.29") and not any(ln.startswith("%CER") for ln in lines)
    proc = asrkit("score", "--allow-missing", "--mode", "cer", "--case-sensitive", ref, hyp)
    assert proc.stdout.decode().startswith("%CER 66.67")


def test_utt2spk_groups_speakers(asrkit, tmp_path):
    ref, hyp = write(tmp_path / "ref", REF), write(tmp_path / "hyp", HYP)
    utt2spk = write(tmp_path / "utt2spk", "".join(f"{line.split()[0]} everyone\n" for line in REF.splitlines()))
    asrkit("score", "--allow-missing", "--utt2spk", utt2spk, "--output-dir", tmp_path / "o", ref, hyp)
    rows = parse_table((tmp_path / "o" / "result.txt").read_text().split("CER:")[0])
    assert [r[0] for r in rows] == ["everyone", "Sum/Avg", "Mean", "S.D.", "Median"]


def test_help_has_an_example(asrkit):
    out = asrkit("score", "--help").stdout.decode()
    assert "e.g." in out and "<ref-text> <hyp-text>" in out


@pytest.mark.parametrize(
    "ref_text, hyp_text, utt2spk, message",
    [
        pytest.param(REF + "\n", HYP, None, "ref:6: empty line", id="blank-line"),
        pytest.param(REF, HYP + "  spk1-u2 indented\n", None, "hyp:5: line starts with whitespace", id="indented"),
        pytest.param(REF + "spk1-u1 again\n", HYP, None, "ref:6: duplicate key 'spk1-u1' (first on line 1)",
                     id="duplicate-id"),
        pytest.param("", HYP, None, "ref: no utterances in the reference", id="empty-ref"),
        pytest.param(REF, HYP, "spk1-u1 s1\n", "utt2spk: no speaker for utterance 'spk1-u2'", id="utt2spk-gap"),
        pytest.param(REF, HYP, "spk1-u1\n", "utt2spk:1: malformed line", id="utt2spk-malformed"),
        # The reference given for --utt2spk (arguments swapped): every transcript was a speaker
        # in result.txt's table, 'the cat sat on the mat' among them.
        pytest.param(REF, HYP, REF.replace("spk2-u4\n", "spk2-u4 x\n"),
                     "utt2spk:1: utterance 'spk1-u1': expected one speaker id, got 'the cat sat on the mat'",
                     id="utt2spk-is-a-text"),
    ],
)
def test_bad_inputs_give_file_line_errors(asrkit, tmp_path, ref_text, hyp_text, utt2spk, message):
    ref, hyp = write(tmp_path / "ref", ref_text), write(tmp_path / "hyp", hyp_text)
    args = ["score", "--output-dir", tmp_path / "out"]
    if utt2spk is not None:
        args += ["--utt2spk", write(tmp_path / "utt2spk", utt2spk)]
    proc = asrkit(*args, ref, hyp, check=False)
    assert proc.returncode == 1
    err = stderr(proc)
    assert "ERROR (asrkit-score): " in err and message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("ref_name,hyp_name,utt2spk_name", [
    ("wer.txt", "hyp", None), ("ref", "result.txt", None), ("ref", "hyp", "result.txt")])
def test_an_input_is_never_replaced_by_a_report(asrkit, tmp_path, ref_name, hyp_name, utt2spk_name):
    """A reference, hypothesis or utt2spk kept in --output-dir as wer.txt or result.txt was replaced
    by the report with exit 0 (hostile-input sweep 6): refused before anything is written."""
    out = tmp_path / "out"
    out.mkdir()
    ref, hyp = write(out / ref_name, REF), write(out / hyp_name, HYP)
    args = ["score", "--allow-missing", "--output-dir", out]
    if utt2spk_name:
        spk = "".join(f"{line.split()[0]} s\n" for line in REF.splitlines())
        args += ["--utt2spk", write(out / utt2spk_name, spk)]
    # named through another path to the same file
    proc = asrkit(*args, ref, tmp_path / "out" / ".." / "out" / hyp_name, check=False)
    assert proc.returncode == 1
    name, option = next((n, o) for n, o in ((ref_name, "<ref-text>"), (hyp_name, "<hyp-text>"),
                                             (utt2spk_name, "--utt2spk")) if n in ("wer.txt", "result.txt"))
    assert f"ERROR (asrkit-score): --output-dir's {name} is the same file as {option} " in stderr(proc)
    assert "it would be overwritten; give another --output-dir" in stderr(proc)
    assert ref.read_text() == REF and hyp.read_text() == HYP
    assert sorted(p.name for p in out.iterdir()) == sorted(n for n in (ref_name, hyp_name, utt2spk_name) if n)


def test_a_word_in_another_unicode_form_is_warned_about(asrkit, tmp_path):
    """'café' as e + U+0301 against é (U+00E9) is scored as an error, as sclite and Kaldi score it,
    but no longer without a word: a hypothesis from a tokenizer trained on the other form scored
    every accented word wrong with exit 0 and no hint why (hostile-input sweep 6)."""
    from asrkit.scoring.score import score_texts, unicode_form_clashes

    ref = write(tmp_path / "ref", "s-1 caf\u00e9 ok na\u00efve\ns-2 \u00e9t\u00e9\ns-3 plain\n")
    hyp = write(tmp_path / "hyp", "s-1 CAFE\u0301 ok naive\ns-2 e\u0301te\u0301\ns-3 plain\n")
    proc = asrkit("score", "--mode", "wer", ref, hyp)
    assert proc.stdout.decode().startswith("%WER 60.00 [ 3 / 5, 0 ins, 0 del, 3 sub ]")  # the numbers are sclite's
    assert (f"WARNING [score] {hyp}: 2 word(s) are their reference's in another Unicode form (e.g. utterance s-1: "
            f"'CAFE\\u0301' in the hypothesis, 'caf\\xe9' in {ref}): scored as errors, as sclite does") in stderr(proc)
    # 'naive' is another spelling, not another form; case counts with --case-sensitive
    assert unicode_form_clashes({"u": "caf\u00e9 na\u00efve"}, {"u": "CAFE\u0301 naive"}) == [("u", "caf\u00e9", "CAFE\u0301")]
    assert unicode_form_clashes({"u": "caf\u00e9"}, {"u": "CAFE\u0301"}, case_sensitive=True) == []
    assert score_texts({"u": "caf\u00e9"}, {"u": "caf\u00e9"}).form_clashes == []
    assert "Unicode form" not in stderr(asrkit("score", ref, ref))


def test_missing_and_unreadable_files(asrkit, tmp_path):
    ref = write(tmp_path / "ref", REF)
    proc = asrkit("score", ref, tmp_path / "nope", check=False)
    assert proc.returncode == 1 and f"{tmp_path / 'nope'}: no such file" in stderr(proc)
    (tmp_path / "bin").write_bytes(b"u1 \xff\xfe\n")
    proc = asrkit("score", ref, tmp_path / "bin", check=False)
    assert proc.returncode == 1 and "not UTF-8" in stderr(proc)
    proc = asrkit("score", ref, check=False)
    assert proc.returncode == 2 and "Missing argument" in stderr(proc)


def test_a_file_name_that_is_not_utf8_goes_into_result_txt_as_its_bytes(tmp_path, monkeypatch):
    """A hypothesis named in Latin-1 ('hyp\\xff', held by Python as a surrogate) was scored, then
    writing result.txt's '# asrkit-score ...' and 'Hypothesis:' lines was a UnicodeEncodeError
    traceback, and no report: the name goes in as the bytes it is, as the log files write it."""
    import os
    import sys

    from cli_checks import run_asrkit_in_process

    ref, out = write(tmp_path / "ref", REF), tmp_path / "o"
    hyp = write(tmp_path / os.fsdecode(b"hyp\xff"), HYP)
    args = ["--allow-missing", "--output-dir", str(out), str(ref), str(hyp)]
    monkeypatch.setattr(sys, "argv", ["asrkit-score", *args])  # (what result.txt's header quotes)
    run_asrkit_in_process("score", *args)
    result = (out / "result.txt").read_bytes()
    assert b"hyp\xff" in result.split(b"\n")[0] and result.startswith(b"# asrkit-score --allow-missing"), result[:200]
    assert re.search(rb"^Hypothesis: +" + re.escape(os.fsencode(hyp)) + rb"$", result, re.M), result[:400]


def test_dash_is_stdin_and_streams_are_read_once(asrkit, tmp_path):
    """Kaldi's '-' (and ark:-) for stdin, as asrkit-decode and asrkit-align take it: it was "-: no such
    file". Both tables from one stream was "the hypothesis is empty" (the second read found nothing),
    a command rspecifier "cat ref |: no such file", scp: "scp:ref: no such file"."""
    ref, hyp = write(tmp_path / "ref", REF), write(tmp_path / "hyp", HYP)
    for args, stdin in (((ref, "-"), HYP), (("-", hyp), REF), ((ref, "ark:-"), HYP)):
        proc = asrkit("score", "--allow-missing", *args, input=stdin.encode())
        assert "%WER 64.29 [ 9 / 14, 2 ins, 4 del, 3 sub ]" in proc.stdout.decode(), stderr(proc)
    proc = asrkit("score", "-", "-", input=HYP.encode(), check=False)
    assert proc.returncode == 1
    assert ("<ref-text> and <hyp-text> are both stdin: a stream can be read only once; give a file for one of "
            "them") in stderr(proc)
    proc = asrkit("score", ref, f"ark:cat {ref} |", check=False)
    assert proc.returncode == 1 and "reading a table from a command is not supported" in stderr(proc)
    proc = asrkit("score", ref, f"scp:{ref}", check=False)
    assert proc.returncode == 1 and "an scp lists where tables are, it is not a text" in stderr(proc)
    assert "Traceback" not in stderr(proc)


def an4_test_set(an4_root: Path):
    """AN4's test transcripts as a Kaldi text and utt2spk, ids speaker-first as ESPnet's recipe makes them."""
    ref: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    for line in (an4_root / "etc" / "an4_test.transcription").read_text().splitlines():
        words, _, raw_id = line.rpartition("(")
        num, spk, tail = raw_id.rstrip(")").split("-")
        utt = f"{spk}-{num}-{tail}"
        ref[utt] = words.strip()
        utt2spk[utt] = spk
    return dict(sorted(ref.items())), utt2spk


def test_an4_test_set_matches_sclite(asrkit, an4_root, tmp_path, sclite):
    ref, utt2spk = an4_test_set(an4_root)
    assert len(ref) == 130
    rng = random.Random(0)
    vocab = sorted({w for t in ref.values() for w in t.split()})
    hyp: Dict[str, str] = {}
    for i, (utt, text) in enumerate(ref.items()):
        if i % 40 == 7:
            continue  # a few utterances the decoder "lost"
        words = text.split()
        for _ in range(rng.choice([0, 0, 1, 2])):
            k = rng.randrange(len(words) + 1)
            x = rng.random()
            if x < 0.4 and k < len(words):
                words[k] = rng.choice(vocab)
            elif x < 0.7 and k < len(words):
                del words[k]
            else:
                words.insert(k, rng.choice(vocab))
        hyp[utt] = " ".join(words).lower() if i % 3 == 0 else " ".join(words)  # sclite ignores case
    for name, table in (("text", ref), ("hyp", hyp), ("utt2spk", utt2spk)):
        write(tmp_path / name, "".join(f"{k} {v}\n".replace(" \n", "\n") for k, v in table.items()))
    out = tmp_path / "decode_test"
    proc = asrkit("score", "--utt2spk", tmp_path / "utt2spk", "--output-dir", out, tmp_path / "text", tmp_path / "hyp")
    assert "Scored 130 sentences, 4 not present in hyp." in proc.stdout.decode()
    result = (out / "result.txt").read_text()
    word_part, _, char_part = result.partition("CER: character level")
    full_hyp = {u: hyp.get(u, "") for u in ref}
    assert parse_table(word_part) == sclite.run(ref, full_hyp).table
    assert parse_table(char_part) == sclite.run(ref, full_hyp, char=True).table
    assert len(parse_table(word_part)) == 10 + 4  # the 10 AN4 test speakers, Sum/Avg, Mean, S.D., Median
