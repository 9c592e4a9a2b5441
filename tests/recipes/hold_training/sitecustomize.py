"""Put first on PYTHONPATH by run_killing_training (test_recipe_template.py): an asrkit-train that
run.sh starts through asr.sh and asrkit-launch is held where it would write its second checkpoint
(hold_checkpoints.py). No other process (asrkit-launch, the shell helpers) is touched.
(Python imports the first sitecustomize on its path; the venv has none of its own to hide.)"""
import os
import sys

if os.path.basename(sys.argv[0]) == "asrkit-train":
    from hold_checkpoints import hold_at_second_checkpoint

    hold_at_second_checkpoint()
