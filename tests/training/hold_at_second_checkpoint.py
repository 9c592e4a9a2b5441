"""``asrkit`` with the arguments given, held for ever where it would write its second checkpoint
(tests/recipes/hold_training/hold_checkpoints.py says why)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "hold_training"))
from hold_checkpoints import hold_at_second_checkpoint  # noqa: E402

from asrkit.cli import main  # noqa: E402

hold_at_second_checkpoint()
main(sys.argv[1:])  # (as a console script runs it)
