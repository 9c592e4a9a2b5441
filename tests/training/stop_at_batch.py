"""A training asked to stop (SIGUSR1) at a known batch, as ``sbatch --signal=B:USR1@300`` would ask.

As a script, ``asrkit`` with the arguments given (and in every process started with stop_site/
first on PYTHONPATH: the ranks of --ngpu N), under these environment variables:
``ASRKIT_TEST_STOP_CALL=k``: at the process's k-th batch (forward and backward, counted from 1);
``ASRKIT_TEST_STOP_RANK=r``: only on the rank r (``RANK``; default: every rank);
``ASRKIT_TEST_STOP_HOLD=dir``: instead of raising the signal itself, the process writes
``dir/reached`` there and waits for ``dir/go``, for the test to send the signal from outside in
between (the signal lands in that batch whatever the machine's load);
``ASRKIT_TEST_STOP_AGAIN_AT_EXIT=1``: one more SIGUSR1 as the process exits (atexit), after the
command has stopped.
"""
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Optional


def stop_at(call: int, rank: Optional[int] = None, hold: Optional[Path] = None) -> None:
    """Make the Trainer's ``call``-th forward-backward (of this process) raise SIGUSR1 in itself,
    or (``hold``) wait there for one from outside."""
    from asrkit.training.trainer import Trainer

    forward_backward = Trainer.forward_backward
    calls = []

    def counted(self, *args, **kwargs):
        out = forward_backward(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == call and (rank is None or self.rank == rank):
            if hold is None:
                signal.raise_signal(signal.SIGUSR1)
            else:
                (hold / "reached").write_text("")
                while not (hold / "go").exists():
                    threading.Event().wait(0.01)
        return out

    Trainer.forward_backward = counted


def wait_for(path: Path, proc, limit_s: float = 600) -> None:
    """Until ``path`` exists (AssertionError if ``proc`` ends first)."""
    deadline = time.monotonic() + limit_s
    while not path.exists():
        assert proc.poll() is None, f"ended before {path.name}: {proc.communicate()[1].decode()[-3000:]}"
        assert time.monotonic() < deadline, f"no {path} in {limit_s} s"
        time.sleep(0.01)


def stop_as_the_environment_says() -> None:
    """:func:`stop_at` as the ASRKIT_TEST_STOP_* variables say (above)."""
    only = os.environ.get("ASRKIT_TEST_STOP_RANK")
    held = os.environ.get("ASRKIT_TEST_STOP_HOLD")
    stop_at(int(os.environ["ASRKIT_TEST_STOP_CALL"]), None if only is None else int(only),
            Path(held) if held else None)


if __name__ == "__main__":
    stop_as_the_environment_says()
    if os.environ.get("ASRKIT_TEST_STOP_AGAIN_AT_EXIT"):
        import atexit

        atexit.register(signal.raise_signal, signal.SIGUSR1)
    from asrkit.cli import main

    main(sys.argv[1:])  # (as a console script runs it)
