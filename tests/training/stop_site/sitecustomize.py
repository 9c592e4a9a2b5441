"""Put first on PYTHONPATH by test_stop_signal.py: every Python process started with
ASRKIT_TEST_STOP_CALL set (the ranks that asrkit-train --ngpu N spawns, which run no script of the
test's own) is asked to stop at that batch (stop_at_batch.py). No other process is touched.
(Python imports the first sitecustomize on its path; the venv has none of its own to hide.)"""
import os
import sys

if os.environ.get("ASRKIT_TEST_STOP_CALL"):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from stop_at_batch import stop_as_the_environment_says

    stop_as_the_environment_says()
