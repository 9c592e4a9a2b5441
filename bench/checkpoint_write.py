#!/usr/bin/env python3
"""Time writing one training checkpoint: plain ``torch.save`` into an atomic file (before) against
``asrkit.utils.torch_files.save_torch`` (after: the same, with each write's OSError kept so a full
disk is reported as one), for the AN4 recipe's model (egs/an4/asr1/conf/train.yaml) with its Adam
state, written to --dir.

The two are run alternately, --repeats times each, and the best and the median are printed,
so a loaded machine slows both alike.

    e.g.: OMP_NUM_THREADS=1 tools/venv/bin/python bench/checkpoint_write.py --repeats 7
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import _args  # noqa: E402 (bench/, the script's own dir, is on sys.path)


def checkpoint_state(config: str) -> dict:
    """A checkpoint's state as the trainer writes it: model, Adam after one step, and the rest."""
    import torch

    from asrkit.models.las import LAS
    from asrkit.training import checkpoint as ckpt
    from asrkit.training.config import load_config
    from asrkit.training.optim import Adam

    cfg = load_config(str(config))
    torch.manual_seed(0)
    model = LAS(80, 32, cfg.model)
    opt = Adam(model.parameters(), lr=1e-3)  # asrkit-train's optimizer
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    opt.step()
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": {}, "sampler": {},
            "rng": ckpt.rng_state(), "train_state": {"epoch": 1, "history": []}, "config": cfg.to_dict(),
            "package_format": "asrkit-model", "package": {}, "metrics": {}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=_args.existing_file,
                    default=str(REPO / "egs" / "an4" / "asr1" / "conf" / "train.yaml"))
    ap.add_argument("--dir", type=_args.existing_dir, default=None,
                    help="Where to write [default: a temporary dir under /tmp].")
    ap.add_argument("--repeats", type=_args.positive_int, default=7)
    args = ap.parse_args()

    import torch

    from asrkit.training.checkpoint import FORMAT, VERSION
    from asrkit.utils.fileio import atomic_open
    from asrkit.utils.torch_files import save_torch

    torch.set_num_threads(1)
    state = {"format": FORMAT, "version": VERSION, **checkpoint_state(args.config)}

    def before(path: Path) -> None:
        with atomic_open(path, "wb") as f:
            torch.save(state, f)

    def after(path: Path) -> None:
        save_torch(state, path)

    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        times = {"before (torch.save into atomic_open)": [], "after (save_torch)": []}
        for _ in range(args.repeats):
            for (name, fn) in zip(times, (before, after)):
                path = Path(d) / "epoch1.pt"
                start = time.perf_counter()
                fn(path)
                times[name].append(time.perf_counter() - start)
        size = os.path.getsize(Path(d) / "epoch1.pt") / 2**20
    params = sum(v.numel() for v in state["model"].values()) / 1e6
    print(f"checkpoint of {params:.2f} M parameters + Adam state: {size:.1f} MiB, {args.repeats} writes each, "
          f"to {args.dir or tempfile.gettempdir()}")
    print("| writer | best s | median s | MiB/s (best) |")
    print("|---|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {min(ts):.3f} | {statistics.median(ts):.3f} | {size / min(ts):.0f} |")
    print("command: " + " ".join(["bench/checkpoint_write.py", *sys.argv[1:]]))


if __name__ == "__main__":
    _args.run(main)
