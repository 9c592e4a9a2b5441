#!/usr/bin/env python3
"""Word boundaries against a reference CTM: median and 90th percentile of |start error| and |end error|.

The reference is where each word's speech lies (the FSDD recipe's stage 0 writes
``data/<set>/ref.ctm``, from where its builder put each digit). A hypothesis CTM comes from
``asrkit-decode --ctm`` (words of the recognised text) or ``asrkit-align`` (words of the
reference transcript). Only utterances whose hypothesis words equal the reference words are
scored (a misrecognised utterance has no word-for-word pairing); the table says how many::

    asrkit-decode --model m.pt --wav-scp data/test/wav.scp --output-dir d --ctm d/ctm
    asrkit-align --model m.pt data/test/wav.scp data/test/text d/align.ctm
    bench/word_times.py data/test/ref.ctm d/ctm d/align.ctm
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np


def read_ctm(path: Path):
    """{utt: [(word, start, end)]} in file order."""
    out = defaultdict(list)
    for line in path.read_text().splitlines():
        f = line.split()
        if len(f) >= 5:
            out[f[0]].append((f[4], float(f[2]), float(f[2]) + float(f[3])))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ref")
    p.add_argument("hyps", nargs="+")
    args = p.parse_args()
    ref = read_ctm(Path(args.ref))
    print("| hypothesis CTM | utterances scored | words | start median / p90 ms | end median / p90 ms |")
    print("|---|---|---|---|---|")
    for h in args.hyps:
        hyp = read_ctm(Path(h))
        starts, ends, utts = [], [], 0
        for utt, rw in ref.items():
            hw = hyp.get(utt)
            if not hw or [w for w, _, _ in hw] != [w for w, _, _ in rw]:
                continue
            utts += 1
            starts += [abs(a[1] - b[1]) for a, b in zip(hw, rw)]
            ends += [abs(a[2] - b[2]) for a, b in zip(hw, rw)]
        if not starts:
            print(f"| {h} | 0 of {len(ref)} | 0 | - | - |")
            continue
        s, e = np.array(starts) * 1000, np.array(ends) * 1000
        print(f"| {h} | {utts} of {len(ref)} | {len(s)} | {np.median(s):.0f} / {np.percentile(s, 90):.0f} | "
              f"{np.median(e):.0f} / {np.percentile(e, 90):.0f} |")


if __name__ == "__main__":
    main()
