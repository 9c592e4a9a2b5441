"""A rank under torchrun that takes SIGUSR1 as asrkit-train's ranks do (stop_signal.stop_on_signals),
without training: ``python stop_under_torchrun.py OUT``. Each rank writes OUT/ready<RANK> (holding
the note asrkit-train logs about torchrun's SIGUSR1, or nothing); rank 0,
once both are ready, sends SIGUSR1 to its parent, torchrun itself (as asrkit-launch's batch script
sends it to the command's process group: torchrun starts its ranks in sessions of their own, so
only torchrun gets it). A rank that hears the request writes OUT/heard<RANK> and exits 75; one
that hears nothing exits 0 as soon as torchrun is gone (its parent changed), or after 20 s."""
import os
import signal
import sys
import time
from pathlib import Path

from asrkit.training.stop_signal import STOPPED_STATUS, StopRequest, stop_on_signals, torchrun_passes_no_stop

out, rank, torchrun = Path(sys.argv[1]), os.environ["RANK"], os.getppid()
request = StopRequest()
with stop_on_signals(request):
    (out / f"ready{rank}").write_text(torchrun_passes_no_stop() or "")
    start = time.monotonic()
    while rank == "0" and not (out / "ready1").exists() and time.monotonic() - start < 20:
        time.sleep(0.05)
    if rank == "0":
        os.kill(os.getppid(), signal.SIGUSR1)
    while not request.requested and os.getppid() == torchrun and time.monotonic() - start < 20:
        time.sleep(0.05)
if request.requested:
    (out / f"heard{rank}").write_text("")
sys.exit(STOPPED_STATUS if request.requested else 0)
