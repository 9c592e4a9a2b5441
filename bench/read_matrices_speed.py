"""Reading Kaldi arks: asrkit's Kaldi-only reader (asrkit.data.matrix_io) against kaldiio's.

asrkit checks each entry's marker itself before decoding it (so a pickled entry is refused);
this measures what that costs. Synthetic features: --utts matrices of --frames x --dim float32,
written once with asrkit's MatrixWriter to a temporary ark/scp, then read back sequentially
(scp and ark) and by key, best of --repeat.

    tools/venv/bin/python bench/read_matrices_speed.py --utts 1000 --frames 200 --dim 80 --repeat 3
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import kaldiio
import numpy as np

import _args
from asrkit.data.specifier import load_scp, read_matrices, write_matrices


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--utts", type=_args.positive_int, default=1000)
    ap.add_argument("--frames", type=_args.positive_int, default=200)
    ap.add_argument("--dim", type=_args.positive_int, default=80)
    ap.add_argument("--repeat", type=_args.positive_int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    mats = {f"utt{i:06d}": rng.standard_normal((args.frames, args.dim)).astype(np.float32) for i in range(args.utts)}
    with tempfile.TemporaryDirectory() as tmp:
        ark, scp = Path(tmp) / "f.ark", Path(tmp) / "f.scp"
        write_matrices(f"ark,scp:{ark},{scp}", mats)
        size_mb = ark.stat().st_size / 1e6
        cases = [
            ("scp, in order", lambda: sum(1 for _ in kaldiio.ReadHelper(f"scp:{scp}")),
             lambda: sum(1 for _ in read_matrices(f"scp:{scp}"))),
            ("ark, in order", lambda: sum(1 for _ in kaldiio.ReadHelper(f"ark:{ark}")),
             lambda: sum(1 for _ in read_matrices(f"ark:{ark}"))),
            ("scp, by key", lambda: (lambda t: [t[k] for k in mats])(kaldiio.load_scp(str(scp))),
             lambda: (lambda t: [t[k] for k in mats])(load_scp(str(scp)))),
        ]
        print(f"{args.utts} matrices of {args.frames} x {args.dim} float32 ({size_mb:.1f} MB), best of {args.repeat}")
        print(f"{'read':16s} {'kaldiio s':>10s} {'asrkit s':>10s} {'asrkit us/utt':>14s}")
        for name, theirs, ours in cases:
            t_k, t_a = best_of(theirs, args.repeat), best_of(ours, args.repeat)
            print(f"{name:16s} {t_k:10.3f} {t_a:10.3f} {1e6 * t_a / args.utts:14.1f}")
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))


if __name__ == "__main__":
    _args.run(main)
