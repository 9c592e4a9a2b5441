"""The training held for ever where it would write its second checkpoint: a test that kills it once
its first checkpoint is on disk then always finds it running (a loaded machine's test process
could look again only after the last epochs were done), and the kill still lands after epoch 1 is
whole (its checkpoint, curves and log line) and before epoch 2's. Used by sitecustomize.py here (a
training run.sh starts) and tests/training/hold_at_second_checkpoint.py (one started directly)."""
import threading


def hold_at_second_checkpoint() -> None:
    from asrkit.training import checkpoint

    save = checkpoint.save_checkpoint
    saved = []

    def save_then_hold(path, state):
        if saved:
            threading.Event().wait()  # (the test's SIGKILL ends the process here)
        save(path, state)
        saved.append(path)

    checkpoint.save_checkpoint = save_then_hold
