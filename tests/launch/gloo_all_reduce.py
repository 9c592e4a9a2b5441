"""One rank of a distributed job: join through detect_distributed/init_distributed, all_reduce, print.

Run by the launcher tests under srun (Slurm's variables) and under the local backend's --ntasks
(torchrun's variables); every rank prints ``rank R/W local L master A:P BACKEND sum S node N gpus G``
(node and GPUs from Slurm's SLURMD_NODENAME and SLURM_GPUS_ON_NODE, ``-`` when not under Slurm).
"""
import os

import torch
import torch.distributed as dist

from asrkit.launch.distributed import detect_distributed, init_distributed

torch.set_num_threads(1)
info = detect_distributed()
assert info is not None, "not started as a distributed task"
backend = init_distributed(info)
t = torch.tensor([float(info.rank + 1)])
dist.all_reduce(t)
print(f"rank {info.rank}/{info.world_size} local {info.local_rank} master {info.master_addr}:{info.master_port} "
      f"{backend} sum {int(t.item())} node {os.environ.get('SLURMD_NODENAME', '-')} "
      f"gpus {os.environ.get('SLURM_GPUS_ON_NODE', '-')}", flush=True)
dist.barrier()  # (as train_asr.py ends a run: a gloo group torn down while another rank's is busy can abort)
dist.destroy_process_group()
