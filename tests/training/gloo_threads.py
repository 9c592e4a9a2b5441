"""Run under torchrun (2 processes, gloo): ``asrkit train`` with the arguments after <out-dir>,
then write how many of gloo's worker threads this process had when its training loop ended and
how many it still has once the command returned: ``<out-dir>/threads<rank>.json``.

Threads still there at that point go with the interpreter's exit, where one that frees a
collective's tensors is ended for want of the GIL and aborts the process (exit 134) at random.
"""
import json
import os
import sys
from pathlib import Path

import asrkit.training.train_asr as train_asr
from asrkit.cli import main
from gloo_count import gloo_threads


counts = {}
trained = train_asr.Trainer.run


def counted_run(self, *args, **kwargs):
    result = trained(self, *args, **kwargs)
    counts["trained"] = gloo_threads()  # (each thread names itself once it runs: long since, here)
    return result


train_asr.Trainer.run = counted_run
out = Path(sys.argv[1])
try:
    main(sys.argv[2:], standalone_mode=False)  # (as a console script runs it)
finally:
    counts["returned"] = gloo_threads()
    (out / f"threads{os.environ['RANK']}.json").write_text(json.dumps(counts))
