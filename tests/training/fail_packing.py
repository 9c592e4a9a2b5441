"""``asrkit`` with the arguments given, its rank 0 failing to pack model.pt (as a full disk would)
once every rank's training loop has ended: the other ranks wait in the run's last barrier."""
import sys

from asrkit.cli import main
from asrkit.training import checkpoint
from asrkit.utils.errors import AsrkitError


def pack_best(*args, **kwargs):
    raise AsrkitError("model.pt: cannot be packed (this test's stand-in for a full disk)")


checkpoint.pack_best = pack_best
main.main(sys.argv[1:])
