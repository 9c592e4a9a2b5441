"""Run under ``torchrun --nproc_per_node 2 --max-restarts 1``: join the group, all-reduce, and in
the first attempt let rank 1 fail (exit 3), so that torchrun restarts both ranks; the second
attempt must join, all-reduce and leave. Prints ``attempt <n> rank <r> done``."""
import os
import sys

import torch
import torch.distributed as dist

from asrkit.launch.distributed import detect_distributed, init_distributed, leave_distributed

info = detect_distributed()
init_distributed(info, "gloo", timeout_s=120)
t = torch.ones(1) * (info.rank + 1)
dist.all_reduce(t)
assert t.item() == 3.0, t
attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT")
if attempt == "0" and info.rank == 1:
    sys.exit(3)
leave_distributed()
print(f"attempt {attempt} rank {info.rank} done", flush=True)
