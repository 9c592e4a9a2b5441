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
