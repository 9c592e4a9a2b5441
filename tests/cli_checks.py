"""Running an asrkit command as a user's shell would, with stdin of the test's choosing, and the one
error line a failure must print (shared by the tests of stdin handling)."""
from __future__ import annotations

import os
import subprocess
import sys


def run(args, stdin=None, input=None, cwd=None) -> subprocess.CompletedProcess:
    """``asrkit <args>`` in a subprocess; ``stdin`` a file or ``subprocess.DEVNULL``, or ``input`` bytes."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "asrkit", *map(str, args)], stdin=stdin, input=input,
                          capture_output=True, cwd=cwd, env=env, timeout=300)


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The failed command's one ``ERROR`` line; a traceback or a second error line fails the test."""
    assert proc.returncode != 0, proc.stderr.decode()
    lines = [ln for ln in proc.stderr.decode().splitlines() if ln.startswith("ERROR")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr.decode(), proc.stderr.decode()
    return lines[0]
