"""Peak memory and time of resampling long audio (asrkit.features.resample.resample), as asrkit-decode
and compute-fbank --resample do for a recording at another rate than the model's.

    OMP_NUM_THREADS=1 tools/venv/bin/python bench/resample_memory.py --seconds 3600 --rate 16000 --target 8000

Prints the output length, the wall time and the process's peak resident memory (the input, one
float32 array of rate x seconds samples, is part of it). Run with PYTHONPATH=<another checkout> to
measure other code.
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np

import _args
from asrkit.features import resample


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=_args.positive_float, default=3600.0)
    p.add_argument("--rate", type=_args.positive_int, default=16000)
    p.add_argument("--target", type=_args.positive_int, default=8000)
    a = p.parse_args()
    x = (np.random.default_rng(0).standard_normal(int(a.rate * a.seconds)) * 1000).astype(np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    y = resample.resample(x, a.rate, a.target)
    took = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{a.seconds:g} s at {a.rate} Hz -> {a.target} Hz: {len(y)} samples in {took:.1f} s; peak RSS {peak:.0f} MB "
          f"({before:.0f} MB with the input, before resampling)")


if __name__ == "__main__":
    _args.run(main)
