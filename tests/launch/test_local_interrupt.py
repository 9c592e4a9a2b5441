"""asrkit-launch's local back-end stopping its jobs on Ctrl-C: all of them, whatever arrives meanwhile."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

import asrkit.launch.local as local
from asrkit.launch.job import Launch, parse_job_range
from process_checks import ended

# Each job ignores SIGTERM (as a training that catches it to save a checkpoint may take its
# time), so it is stopped only by the SIGKILL after the grace.
JOB_IGNORING_SIGTERM = "trap '' TERM; echo $$ > pid.JOB; sleep 600"


def _ctrl_c_once_started(tmp_path: Path, n: int):
    """A thread that sends this process SIGINT (a Ctrl-C) once all n jobs run; their pid files."""
    pids = [tmp_path / f"pid.{i}" for i in range(1, n + 1)]

    def press():
        deadline = time.monotonic() + 300
        while not all(p.exists() and p.read_text().endswith("\n") for p in pids):
            if time.monotonic() > deadline:
                return  # the test fails on the launcher's own result
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=press, daemon=True)
    thread.start()
    return pids


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """SIGINT as Python's default (KeyboardInterrupt): pytest-xdist's workers (.ci/run's -n 2)
    ignore it, so the Ctrl-C these tests send went nowhere and each waited for its sleep 600."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _launch(tmp_path: Path, n: int) -> Launch:
    return Launch(JOB_IGNORING_SIGTERM, str(tmp_path / "log/s.JOB.log"), parse_job_range(f"JOB=1:{n}"))


def _kill_leftovers(pids) -> None:
    for p in pids:
        if p.exists() and p.read_text().strip():
            try:
                os.killpg(int(p.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_second_ctrl_c_during_the_clean_up_stops_every_job(tmp_path, monkeypatch):
    """Ctrl-C pressed again (or a second SIGTERM) while the jobs took their grace broke off the
    clean-up: the jobs not yet killed ran on unowned with no footer in their logs, and the reaper,
    told that the launcher had ended them, left them running."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(local, "KILL_GRACE_S", 1.0)
    pids = _ctrl_c_once_started(tmp_path, 3)
    real_killpg = os.killpg
    presses = []

    def killpg(pgid, sig):
        real_killpg(pgid, sig)
        if not presses:  # the user presses Ctrl-C again as the first job is told to stop
            presses.append(pgid)
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(local.os, "killpg", killpg)
    try:
        with pytest.raises(KeyboardInterrupt):
            local.run_local(_launch(tmp_path, 3), max_jobs_run=3, show_progress=False)
        assert presses
        for p in pids:
            assert ended(int(p.read_text())), f"{p.name}: the job still runs after the launcher returned"
        for i in (1, 2, 3):
            assert "# Ended (code 137)" in (tmp_path / f"log/s.{i}.log").read_text(), i
    finally:
        _kill_leftovers(pids)


def test_ctrl_c_tells_every_job_to_stop_before_killing_any(tmp_path, monkeypatch):
    """The jobs were stopped one after the other, each given its grace: N jobs that catch SIGTERM
    kept Ctrl-C waiting N x 5 s. All get SIGTERM first, then SIGKILL after one grace."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(local, "KILL_GRACE_S", 0.5)
    pids = _ctrl_c_once_started(tmp_path, 3)
    real_killpg = os.killpg
    sent = []

    def killpg(pgid, sig):
        sent.append(sig)
        real_killpg(pgid, sig)

    monkeypatch.setattr(local.os, "killpg", killpg)
    try:
        with pytest.raises(KeyboardInterrupt):
            local.run_local(_launch(tmp_path, 3), max_jobs_run=3, show_progress=False)
        assert sent == [signal.SIGTERM] * 3 + [signal.SIGKILL] * 3
    finally:
        _kill_leftovers(pids)
