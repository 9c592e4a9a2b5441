#!/usr/bin/env python3
"""Speed of asrkit's scoring (pure-Python sclite-identical alignment) on synthetic Kaldi texts.

Prints a table and the command that made it, e.g.:
    tools/venv/bin/python bench/score_speed.py --utts 2600 --words 20
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asrkit.scoring import score_texts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utts", type=int, default=2600, help="number of utterances")
    parser.add_argument("--words", type=int, default=20, help="words per reference utterance")
    parser.add_argument("--error-rate", type=float, default=0.1, help="fraction of substituted words")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    vocab = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 7))) for _ in range(500)]
    ref, hyp = {}, {}
    for k in range(args.utts):
        words = [rng.choice(vocab) for _ in range(args.words)]
        utt = f"s{k % 40:02d}-{k:06d}"
        ref[utt] = " ".join(words)
        hyp[utt] = " ".join(w if rng.random() >= args.error_rate else rng.choice(vocab) for w in words)

    print("# " + " ".join(["python", "bench/score_speed.py"] + sys.argv[1:]))
    print(f"{'level':<6} {'utts':>6} {'ref tokens':>11} {'seconds':>8} {'tokens/s':>10}")
    for level in ("word", "char"):
        start = time.perf_counter()
        result = score_texts(ref, hyp, levels=(level,))
        seconds = time.perf_counter() - start
        n = result.levels[level].totals.ref_len
        print(f"{level:<6} {args.utts:>6} {n:>11} {seconds:>8.2f} {n / seconds:>10.0f}")


if __name__ == "__main__":
    main()
