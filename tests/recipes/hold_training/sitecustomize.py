"""Put first on PYTHONPATH by run_killing_training (test_recipe_template.py): an asrkit-train that
run.sh starts through asr.sh and asrkit-launch is held for ever where it would write its second
checkpoint, as tests/training/hold_at_second_checkpoint.py holds one started directly. The test
kills it once epoch1.pt is on disk: on a loaded machine it could look again only after epoch 2 was
done and the run had ended. No other process (asrkit-launch, the shell helpers) is touched.
(Python imports the first sitecustomize on its path; the venv has none of its own to hide.)"""
import os
import sys

if os.path.basename(sys.argv[0]) == "asrkit-train":
    import threading

    from asrkit.training import checkpoint

    _save = checkpoint.save_checkpoint
    _saved = []

    def _save_then_hold(path, state):
        if _saved:
            threading.Event().wait()  # (the test's SIGKILL ends the process here)
        _save(path, state)
        _saved.append(path)

    checkpoint.save_checkpoint = _save_then_hold
