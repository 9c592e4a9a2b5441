"""A run whose own output file is a named pipe: refused naming it, not waited on (asrkit-train, -train-lm)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def assert_named_pipe_refused(asrkit, args, exp: Path, name: str, prog: str, timeout: int) -> None:
    """Make ``exp/<name>`` a named pipe, run ``asrkit <args>`` (training into ``exp``) and check it
    stops with one line naming the pipe, before any checkpoint."""
    (exp / "log").mkdir(parents=True)
    os.mkfifo(exp / name)
    try:
        proc = asrkit(*args, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"asrkit-{prog} waited on the named pipe {exp / name}")
    assert proc.returncode == 1
    assert (f"ERROR (asrkit-{prog}): {exp / name}: a named pipe where the run writes its {name}; move it "
            f"away").encode() in proc.stderr, proc.stderr
    assert not (exp / "checkpoints").exists()
