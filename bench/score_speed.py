#!/usr/bin/env python3
"""Speed of asrkit's scoring (pure-Python sclite-identical alignment) on synthetic Kaldi texts.

Prints a table and the command that made it, e.g.:
    tools/venv/bin/python bench/score_speed.py --utts 2600 --words 20
    tools/venv/bin/python bench/score_speed.py --long-line 750000   # one 5 MB hypothesis line
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _args  # noqa: E402
from asrkit.scoring import score_texts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utts", type=_args.positive_int, default=2600, help="number of utterances")
    parser.add_argument("--words", type=_args.positive_int, default=20, help="words per reference utterance")
    parser.add_argument("--error-rate", type=_args.fraction, default=0.1, help="fraction of substituted words")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--long-line", type=_args.nonnegative_int, default=0, metavar="WORDS",
                        help="instead: one hypothesis line of WORDS random words against a 6-word reference "
                             "(a runaway decoder's output): time and peak memory, WER and CER")
    args = parser.parse_args()
    if args.long_line:
        return long_line(args.long_line, args.seed)

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


def long_line(words: int, seed: int) -> None:
    import resource

    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 7))) for _ in range(500)]
    hyp = {"u1": " ".join(rng.choice(vocab) for _ in range(words))}
    ref = {"u1": "the cat sat on the mat"}
    print("# " + " ".join(["python", "bench/score_speed.py"] + sys.argv[1:]))
    start = time.perf_counter()
    result = score_texts(ref, hyp, levels=("word", "char"))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"one hypothesis line of {words} words ({len(hyp['u1']) / 1e6:.1f} MB), WER and CER: {seconds:.1f} s, "
          f"peak RSS {peak:.0f} MB (WER {result.levels['word'].totals.error_rate:.0f} %)")


if __name__ == "__main__":
    _args.run(main)
