"""A training stopped on request, to be continued: SIGUSR1 -> a checkpoint where it stands, exit 75.

Slurm users ask for a warning before the time limit (``sbatch --signal=B:USR1@300``; asrkit-launch's
batch script passes it on to the command) or send one (``scancel --signal=USR1 --batch``) and
expect the job to save its state and end, so that a requeued one continues. The handler here only
records the signal: the :class:`~asrkit.training.trainer.Trainer` reads the request at every
optimizer-step boundary and at each epoch's start (under DDP every rank's request is all-reduced
there, so all ranks stop at the same step whichever of them heard it), writes
``checkpoints/interrupted.pt`` and raises :class:`TrainingStopped`.

SIGTERM is not a stop request: it stops the run at once, as before (the last checkpoint stays the
resume point). asrkit-launch's batch script and its local backend follow their SIGTERM with a
SIGKILL 3 s later, torchrun and asrkit-launch send SIGTERM to the ranks left after one failed
(waiting in a collective, no step boundary ever comes), and Slurm's preemption gives GraceTime,
0 s by default: a stop that waits for a step boundary would be cut short by the SIGKILL more
often than not, and a SIGTERM must stay what ends a training that hangs.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Iterator, Optional

# What stops a training with a checkpoint (docs/training.md, "Stopping and requeueing").
STOP_SIGNALS = (signal.SIGUSR1,)
# sysexits.h's EX_TEMPFAIL, "a temporary failure; the user is invited to retry": neither 0 (a
# recipe would go on to decode an unfinished model), nor 1 (an error to look into), nor 128 + 10
# (what a process with no handler for SIGUSR1 died with, having saved nothing).
STOPPED_STATUS = 75
MID_EPOCH_NAME = "interrupted.pt"  # checkpoints/<this>: no epoch<N>.pt, so nothing ranks, averages or packs it


def torchrun_passes_no_stop() -> Optional[str]:
    """A note for this run's log when torchrun started it without passing SIGUSR1 on (its default):
    torchrun starts its ranks in sessions of their own and has no handler for it, so a SIGUSR1 sent
    to torchrun or its process group ends torchrun (status 138) and never reaches the ranks, which
    train on unowned (docs/launch.md, "torchrun and SIGUSR1"). None elsewhere, and under a torchrun
    too old to say which signals it passes on (no TORCHELASTIC_SIGNALS_TO_HANDLE)."""
    passed = os.environ.get("TORCHELASTIC_SIGNALS_TO_HANDLE")
    if passed is None or "TORCHELASTIC_RUN_ID" not in os.environ:
        return None
    # Split and stripped as torchrun reads them: the list as given ('SIGTERM, SIGINT') made the
    # command below two words in a shell, torchrun taking the second for the script to run.
    names = [name.strip() for name in passed.split(",") if name.strip()]
    if "SIGUSR1" in names:
        return None
    return (f"torchrun passes on {'only ' + ','.join(names) if names else 'no signal'}: a SIGUSR1 (Slurm's "
            f"warning before the time limit) ends torchrun and never reaches this training; to stop it with its "
            f"state saved, start torchrun with --signals-to-handle {','.join([*names, 'SIGUSR1'])} (docs/launch.md)")


class StopRequest:
    """The signal handler: records that a stop was asked for, and by which signal (the first)."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self.heard = 0  # how many came (a second one while the checkpoint is written changes nothing)

    def __call__(self, signum: int, frame=None) -> None:
        self.heard += 1
        if self.signum is None:
            self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else "a request"


@contextlib.contextmanager
def stop_on_signals(request: StopRequest) -> Iterator[StopRequest]:
    """``request`` handles :data:`STOP_SIGNALS` during the block, and after it when it heard one
    (main thread only; elsewhere Python cannot set handlers, and the signals keep what they had)."""
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {sig: signal.signal(sig, request) for sig in STOP_SIGNALS}
    # (blocked by --ngpu N's first process while it started this one: train_asr._stop_signals_passed_on)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, set(STOP_SIGNALS))
    try:
        yield request
    finally:
        # Once asked to stop, the process ends by it (status 75): a second signal coming as it exits
        # (scancel --signal=USR1 twice, one to the process group and one passed on) is only counted,
        # not its default action, which ended the process with status 138 and a requeue on 75 waited
        # in vain.
        if not request.requested:
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


class TrainingStopped(SystemExit):
    """A training stopped by a :class:`StopRequest` with its state on disk: the process exits with
    :data:`STOPPED_STATUS` (a SystemExit, so no command's error handling words it as a failure;
    ``message``, the log line already written, says where it stopped and how to continue)."""

    def __init__(self, message: str) -> None:
        super().__init__(STOPPED_STATUS)
        self.message = message
