#!/usr/bin/env python3
"""Time what asrkit-train's stop request costs under DDP: one all-reduce (MAX) of one int64 per
optimizer step (``Trainer.stop_asked``), on gloo between 2 CPU processes of this machine, against
the gradient all-reduce the same step makes anyway (a float32 tensor of --params values, the
model's size; AN4's recipe model: 5.2 M).

The two are run alternately, --rounds times each of --steps calls, and the best and the median
per call are printed, so a loaded machine slows both alike.

    e.g.: OMP_NUM_THREADS=1 tools/venv/bin/python bench/stop_flag_allreduce.py --steps 500 --rounds 5
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _args  # noqa: E402 (bench/, the script's own dir, is on sys.path)


def _rank(rank: int, port: int, steps: int, rounds: int, params: int, out) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    flag, grads = torch.zeros(1, dtype=torch.int64), torch.zeros(params)
    times = {"flag": [], "grads": []}
    for _ in range(rounds):
        for name, tensor, n in (("flag", flag, steps), ("grads", grads, max(1, steps // 10))):
            dist.barrier()
            start = time.perf_counter()
            for _ in range(n):
                dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
                if name == "flag":
                    int(tensor.item())  # (as stop_asked reads it)
            times[name].append((time.perf_counter() - start) / n)
    if rank == 0:
        out.put(times)
    dist.barrier()
    dist.destroy_process_group()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=_args.positive_int, default=500, help="flag all-reduces per round")
    ap.add_argument("--rounds", type=_args.positive_int, default=5)
    ap.add_argument("--params", type=_args.positive_int, default=5_200_000,
                    help="values in the gradient all-reduce compared with (AN4's model: 5.2 M)")
    a = ap.parse_args()
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_rank, args=(r, port, a.steps, a.rounds, a.params, out)) for r in range(2)]
    for p in procs:
        p.start()
    times = out.get()
    for p in procs:
        p.join()
    print(f"# {' '.join(sys.argv)}")
    for name, what in (("flag", "stop flag, 1 int64"), ("grads", f"gradients, {a.params} float32")):
        per = [t * 1e6 for t in times[name]]
        print(f"{what}: best {min(per):.0f} us, median {statistics.median(per):.0f} us per all-reduce")
    print(f"flag / gradients (medians): {statistics.median(times['flag']) / statistics.median(times['grads']):.3%}")


if __name__ == "__main__":
    _args.run(main)
