"""A training SIGKILLed from outside, as a user's kill or the OOM killer would stop it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def sigkill_after_first_checkpoint(args, exp: Path) -> str:
    """Run ``python -m asrkit <args>`` training into ``exp`` and SIGKILL it once epoch1.pt exists.

    The checkpoint is renamed into place whole, so the kill lands after it, in epoch 2 (where the
    run is held, before epoch 2's checkpoint: hold_at_second_checkpoint.py), whatever the load.
    Returns its stderr.
    """
    proc = subprocess.Popen([sys.executable, Path(__file__).with_name("hold_at_second_checkpoint.py"),
                             *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    first = Path(exp) / "checkpoints" / "epoch1.pt"
    deadline = time.monotonic() + 600
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    err = proc.communicate()[1].decode()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it was killed:\n{err[-2000:]}"
    return err
