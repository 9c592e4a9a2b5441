"""``asrkit`` with the arguments given, its rank 0 failing to pack model.pt (as a full disk would)
once every rank's training loop has ended: the other ranks wait in the run's last barrier.

With ``--threads-to DIR`` first, each rank also writes ``DIR/threads<rank>.json``: how many of
gloo's worker threads it had when its training loop ended and how many when the command was
done (as tests/training/gloo_threads.py counts them for a run that ended well); with
``--interrupt-rank R`` after it, rank R is interrupted (KeyboardInterrupt, as Ctrl-C raises it)
where its training loop would begin; with ``--term-while-leaving``, each rank gets a SIGTERM as
it leaves the group."""
import json
import os
import sys
from pathlib import Path

import asrkit.training.train_asr as train_asr
from asrkit.cli import main
from gloo_count import gloo_threads
from asrkit.training import checkpoint
from asrkit.utils.errors import AsrkitError


def pack_best(*args, **kwargs):
    raise AsrkitError("model.pt: cannot be packed (this test's stand-in for a full disk)")


checkpoint.pack_best = pack_best
args = sys.argv[1:]
if args[:1] != ["--threads-to"]:
    main(args)  # (as a console script runs it: the command is the process)
out, args = Path(args[1]), args[2:]
interrupted = None
if args[:1] == ["--interrupt-rank"]:  # that rank gets a Ctrl-C instead of its training loop
    interrupted, args = int(args[1]), args[2:]
if args[:1] == ["--term-while-leaving"]:  # a SIGTERM (a launcher ending the ranks) as the group is left
    import signal

    import torch.distributed as dist

    args, destroy = args[1:], dist.destroy_process_group

    def destroy_when_terminated(*a, **kw):
        os.kill(os.getpid(), signal.SIGTERM)
        return destroy(*a, **kw)

    dist.destroy_process_group = destroy_when_terminated
counts = {}
trained = train_asr.Trainer.run


def counted_run(self, *a, **kw):
    if self.rank == interrupted:
        counts["trained"] = gloo_threads()
        raise KeyboardInterrupt
    result = trained(self, *a, **kw)
    counts["trained"] = gloo_threads()
    return result


train_asr.Trainer.run = counted_run
try:
    main(args, standalone_mode=False)  # (as a console script runs it: the command is the process)
finally:  # (asrkit's exit 1 is a SystemExit, raised in its own except clause)
    counts["returned"] = gloo_threads()
    (out / f"threads{os.environ['RANK']}.json").write_text(json.dumps(counts))
