"""The log file on a full disk: one line naming it, then the log goes on on stderr only."""
from __future__ import annotations

import logging
import os

import pytest

from asrkit.utils.logging import DATEFMT, FORMAT, LogFileHandler


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (writes fail with ENOSPC)")
def test_log_file_on_a_full_disk_is_abandoned_with_one_line(capsys):
    handler = LogFileHandler("/dev/full")
    handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
    log = logging.getLogger("test_full_log")
    log.addHandler(handler)
    log.propagate = False
    try:
        for i in range(5):
            log.warning("line %d", i)
    finally:
        log.removeHandler(handler)
        handler.close()  # flushing fails once more: must not raise
    err = capsys.readouterr().err
    assert handler.failed
    assert err.count("/dev/full: no space left on device: log file abandoned, the log goes on on stderr only") == 1
    assert "Traceback" not in err and "Logging error" not in err


def test_a_name_that_is_not_utf8_goes_into_the_log_file_as_its_bytes(tmp_path, capsys):
    """asrkit-decode --output-dir $'D\\xff' (a Latin-1 folder name, held by Python as the surrogate
    '\\udcff') logged its command line, and a failed run its ERROR, with logging's "--- Logging
    error ---" and a UnicodeEncodeError traceback on stderr, the line missing from the log."""
    from asrkit.utils.logging import error_to_log_files

    path = tmp_path / "decode.log"
    handler = LogFileHandler(str(path))
    handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
    log = logging.getLogger("test_non_utf8_log")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        log.info("command line: asrkit-decode --output-dir %s", "D\udcff")
        error_to_log_files("asrkit-decode", "D\udcff/text: no space left on device", [handler])
    finally:
        log.removeHandler(handler)
        handler.close()
    err = capsys.readouterr().err
    assert "Logging error" not in err and "Traceback" not in err, err
    lines = path.read_bytes().splitlines()
    assert lines[0].endswith(b"command line: asrkit-decode --output-dir D\xff"), lines
    assert lines[1].endswith(b"ERROR [asrkit-decode] D\xff/text: no space left on device"), lines


def test_a_command_run_in_process_closes_its_log_file(tmp_path):
    """asrkit-decode --output-dir D, run in a process that goes on (a test's, a notebook's), left
    D/log/decode.log open when it ended, failed or not: the next command's logging set-up dropped
    it unclosed ("ResourceWarning: unclosed file <... name='D/log/decode.log'>", an error under
    ``-W error::ResourceWarning``). asrkit-train-lm's log/train_lm.log the same."""
    import gc
    import warnings

    from cli_checks import run_asrkit_in_process

    (tmp_path / "a.wav").write_bytes(b"")
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always", ResourceWarning)
        proc = run_asrkit_in_process("decode", "--model", tmp_path / "missing.pt", "--output-dir", tmp_path / "d",
                                     tmp_path / "a.wav", check=False)
        assert not [h for h in logging.getLogger().handlers if isinstance(h, LogFileHandler)]
        gc.collect()
    assert proc.returncode == 1
    assert [str(w.message) for w in got if issubclass(w.category, ResourceWarning)] == []
    # (its ERROR line went into the log before it was closed)
    assert (tmp_path / "d" / "log" / "decode.log").read_text().rstrip().endswith("no such model file")


def test_a_newline_in_a_file_name_keeps_the_command_line_one_line(tmp_path, monkeypatch):
    """The command line a command echoes first on stderr, asrkit-decode's log/decode.log and
    asrkit-score's '# asrkit-score ...' header of result.txt quoted a file name holding a newline
    with shlex.quote, which keeps it: the line went on over two, the second one read as output.
    Such a word is bash's $'...' now (as printf %q writes it), one line a user can paste back."""
    import subprocess
    import sys

    from cli_checks import run_asrkit_in_process

    from asrkit.utils.logging import shell_word

    ref, hyp, out = tmp_path / "ref", tmp_path / "h\nyp\x1b", tmp_path / "o"
    ref.write_text("u1 A B\n")
    hyp.write_text("u1 A C\n")
    args = ["--output-dir", str(out), str(ref), str(hyp)]
    monkeypatch.setattr(sys, "argv", ["asrkit-score", *args])  # (what the command echoes)
    err = run_asrkit_in_process("score", *args).stderr.decode()
    header = next(line for line in (out / "result.txt").read_text().splitlines()
                  if line.startswith("# asrkit-score"))
    for line in (err.splitlines()[0], header.removeprefix("# ")):
        assert line == "asrkit-score --output-dir " + " ".join(shell_word(a) for a in args[1:]), line
        assert "$'" in line and line.count("\n") == 0
        pasted = subprocess.run(["bash", "-c", "printf '%s\\0' " + line.split(" ", 1)[1]], capture_output=True).stdout
        assert pasted.split(b"\0")[:-1] == [a.encode() for a in args], pasted


@pytest.mark.parametrize("word", ["a\u2028b", "a\x85b\n", "\u2029\x9b\x1b[0m"])
def test_a_line_separator_in_a_word_reads_back_in_the_c_locale(word):
    """A word holding U+2028/U+2029 or a C1 control was written $'a\\u2028b': bash reads \\u as the
    character only in a UTF-8 locale, and a recipe's path.sh sets LC_ALL=C, so asrkit-launch's job
    (bash -c '<command>') gave the program the six characters '\\u2028' instead of its file name.
    Their UTF-8 bytes in octal, as printf %q writes them, are the same word in any locale."""
    import subprocess

    from asrkit.launch.job import join_command
    from asrkit.utils.logging import shell_word

    for line in (shell_word(word), join_command(["x", word])[2:]):
        got = subprocess.run(["bash", "-c", f"printf '%s' {line}"], capture_output=True,
                             env={**os.environ, "LC_ALL": "C"}).stdout
        assert got == word.encode(), (line, got)
        assert "\n" not in line and "\u2028" not in line, line
