"""A training process that dies while its DataLoader worker is starting (run by test_loader_workers).

torch's worker takes its parent's pid when it builds its watchdog, after start-up; a parent
SIGKILLed in between (a kill, the OOM killer, right after a checkpoint when the next epoch forks
its worker) leaves a worker whose watchdog watches pid 1, and it waits for work for ever, holding
the run's stderr open. The watchdog is built here one second late, so the parent is surely gone by
then; the worker's pid is printed, then this process kills itself.
"""
import os
import signal
import sys
import time

import torch
from torch.utils.data._utils import worker

from asrkit.training.data import make_loader

_make_watchdog = worker.ManagerWatchdog.__init__


def _late_watchdog(self):
    time.sleep(1.0)
    _make_watchdog(self)


worker.ManagerWatchdog.__init__ = _late_watchdog


class Numbers(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return i


loader = make_loader(Numbers(), [[0, 1], [2, 3]], num_workers=1, collate_fn=lambda items: items)
batches = iter(loader)
print(batches._workers[0].pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
sys.exit("not killed")
