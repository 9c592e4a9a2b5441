"""DataLoader workers end with the training process that started them, however it ends."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")   # a zombie has ended
    except FileNotFoundError:
        return True


def test_a_worker_whose_parent_dies_while_it_starts_ends_too():
    # A worker left behind held test_resume's killed run's stderr pipe open: the test waited for
    # its end for ever (a CI run hung there). 60 s is a bound for a loaded machine, not a timing:
    # torch's own watchdog ends a worker 5 s after its parent, where it started in time.
    # (its stdout is read to its first line only: a worker left behind holds it open)
    proc = subprocess.Popen([sys.executable, Path(__file__).with_name("parent_dies_at_worker_start.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    with proc.stdout:
        first = proc.stdout.readline().decode()
        assert proc.wait(timeout=300) == -9, first
    pid = int(first)
    deadline = time.monotonic() + 60
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        assert _gone(pid), "the DataLoader worker outlived the process that started it (its watchdog watches pid 1)"
    finally:
        if not _gone(pid):
            os.kill(pid, 9)
