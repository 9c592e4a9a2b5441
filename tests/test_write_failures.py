"""Writes that fail: a file size limit hit part-way (EFBIG, as a quota or a full disk fails a
write), stdout into a file under that limit, an output file that is a directory. Each is one
ERROR line naming the output, exit 1, and no output half-written: a previous good one is left as
it was. A fixed sample of the sweep run by hand (``tools/venv/bin/python tests/write_failures.py
--out DIR``, DEVELOPERS.md), with the cases it found faults in."""
from __future__ import annotations

from pathlib import Path

import pytest

from cli_checks import run_in_process
from write_failures import judge, run_forked, snapshot

REF = "".join(f"spk{i % 3}-u{i:03d} the cat sat on the mat number {i}\n" for i in range(40))


@pytest.mark.parametrize("command,args,label", [
    ("align", ["--model", "m.pt", "scp:wav.scp", "text", "OUT"], "<ctm-out>"),
    ("average", ["--out", "OUT", "exp"], "--out"),
    ("decode", ["--model", "m.pt", "--ctm", "OUT", "a.wav"], "--ctm"),
    ("decode", ["--model", "m.pt", "--segments-out", "OUT", "a.wav"], "--segments-out"),
    ("pack-model", ["--decode-config", "d.yaml", "m.pt", "OUT"], "<model-out>"),
    ("compute-fbank", ["--write-utt2num-frames", "OUT", "wav.scp", "ark:f.ark"], "--write-utt2num-frames"),
    ("compute-fbank", ["--write-utt2sample-rate", "OUT", "wav.scp", "ark:f.ark"], "--write-utt2sample-rate"),
], ids=["align", "average", "decode-ctm", "decode-segments-out", "pack-model", "fbank-utt2num-frames",
        "fbank-utt2sample-rate"])
def test_an_output_file_that_is_a_directory_is_one_line(tmp_path: Path, monkeypatch, command, args, label):
    """It was click's usage error (exit 2, "Invalid value for '<ctm-out>': File 'x' is a directory."),
    where every other command's output in the way is one ERROR line."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("someone's file\n")
    monkeypatch.chdir(tmp_path)
    result = run_in_process(command, [str(out) if a == "OUT" else a for a in args])
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("ERROR")]
    assert result.exit_code == 1 and errors == [
        f"ERROR (asrkit-{command}): {out}: is a directory, where the run would write {label}"], result.stderr
    assert [p.name for p in out.iterdir()] == ["keep"]


def _judged(tmp_path: Path, command: str, args, outputs, fsize: int, prior: bool = False,
            stdout: bool = False) -> str:
    """The sweep's verdict on ``command`` run under file size limit ``fsize`` (a new interpreter)."""
    import os

    o = tmp_path / "out"
    o.mkdir(exist_ok=True)
    fd = os.open(o / "stdout", os.O_WRONLY | os.O_CREAT, 0o644) if stdout else None
    good = run_forked(command, args, stdout=fd, cwd=tmp_path, real=True, stdin=REF.encode())
    assert good.code == 0, good.stderr
    if not prior:
        for p in outputs:
            p.unlink()
    before = snapshot(outputs)
    if fd is not None:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
    try:
        r = run_forked(command, args, fsize=fsize, stdout=fd, cwd=tmp_path, real=True, stdin=REF.encode())
    finally:
        if fd is not None:
            os.close(fd)
    return judge(r, o, [] if stdout else outputs, before, names=["<stdout>"] if stdout else [str(o)],
                 expect_failure=True)


def test_score_over_a_limit_keeps_the_previous_results(tmp_path: Path):
    (tmp_path / "text").write_text(REF)
    out = tmp_path / "out"
    outputs = [out / "wer.txt", out / "result.txt"]
    assert _judged(tmp_path, "score", ["--output-dir", out, tmp_path / "text", tmp_path / "text"], outputs,
                   fsize=1024, prior=True) == "error"


def test_train_tokenizer_over_a_limit_writes_nothing(tmp_path: Path):
    (tmp_path / "text").write_text(REF)
    lang = tmp_path / "out"
    outputs = [lang / "tokens.model", lang / "tokens.txt", lang / "tokenizer.yaml"]
    assert _judged(tmp_path, "train-tokenizer", ["--model-type", "char", tmp_path / "text", lang], outputs,
                   fsize=1) == "error"


def test_stdout_cut_inside_the_last_write_fails(tmp_path: Path, unbuffered: bool):
    """The limit inside the last write of asrkit-tokenize's stdout: with PYTHONUNBUFFERED=1 (as
    Docker images and batch jobs set) the raw file took part of it, the text layer never looked
    at the count, and the rest was lost with exit 0; buffered, the ERROR line was followed by
    "Exception ignored ... OSError: [Errno 27] File too large" and exit 120."""
    (tmp_path / "text").write_text(REF)
    r = run_in_process("train-tokenizer", ["--model-type", "char", str(tmp_path / "text"), str(tmp_path / "lang")])
    assert r.exit_code == 0, r.stderr
    whole = run_in_process("tokenize", [str(tmp_path / "lang" / "tokens.model")], input=REF.encode()).stdout_bytes
    assert _judged(tmp_path, "tokenize", [tmp_path / "lang" / "tokens.model"], [], fsize=len(whole) - 3,
                   stdout=True) == "error"
