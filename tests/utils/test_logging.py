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
