#!/usr/bin/env python3
"""Word boundaries against a reference CTM: median and 90th percentile of |start error| and |end error|.

The reference is where each word's speech lies (the FSDD recipe's stage 0 writes
``data/<set>/ref.ctm``, from where its builder put each digit). A hypothesis CTM comes from
``asrkit-decode --ctm`` (words of the recognised text) or ``asrkit-align`` (words of the
reference transcript). Each hypothesis is scored twice:

- ``exact``: only utterances whose hypothesis words equal the reference words;
- ``hits``: the correctly recognised words of every utterance, paired with their reference
  words by sclite's alignment (asrkit.scoring.alignment.align). Keeping only exact utterances
  drops every word of an utterance with one error, and which utterances those are is not
  random (FSDD theo: 144 of 300 decoded exactly); the hits keep ~80 % of the words.

The table says how many utterances and words each row scored::

    asrkit-decode --model m.pt --wav-scp data/test/wav.scp --output-dir d --ctm d/ctm
    asrkit-align --model m.pt data/test/wav.scp data/test/text d/align.ctm
    bench/word_times.py data/test/ref.ctm d/ctm d/align.ctm
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import _args
from asrkit.data.ctm import read_ctm
from asrkit.scoring.alignment import CORRECT, DELETION, INSERTION, align


def read_words(path: Path):
    """{utt: [(word, start, end)]} in file order (asrkit's CTM reader: a malformed line is an error)."""
    return {utt: [(w.word, w.start, w.end) for w in words] for utt, words in read_ctm(path).items()}


def hit_pairs(rw, hw):
    """Index pairs (ref i, hyp j) of the words sclite's alignment calls correct."""
    pairs, i, j = [], 0, 0
    for p in align([w for w, _, _ in rw], [w for w, _, _ in hw]):
        if p.op == CORRECT:
            pairs.append((i, j))
        i += p.op != INSERTION
        j += p.op != DELETION
    return pairs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ref", type=_args.existing_file)
    p.add_argument("hyps", nargs="+", type=_args.existing_file)
    args = p.parse_args()
    ref = read_words(Path(args.ref))
    print("| hypothesis CTM | pairing | utterances scored | words | start median / p90 ms | end median / p90 ms |")
    print("|---|---|---|---|---|---|")
    for h in args.hyps:
        hyp = read_words(Path(h))
        for pairing in ("exact", "hits"):
            starts, ends, utts = [], [], 0
            for utt, rw in ref.items():
                hw = hyp.get(utt, [])
                if pairing == "exact":
                    if [w for w, _, _ in hw] != [w for w, _, _ in rw]:
                        continue
                    pairs = list(zip(range(len(rw)), range(len(hw))))
                else:
                    pairs = hit_pairs(rw, hw)
                if not pairs:
                    continue
                utts += 1
                starts += [abs(hw[j][1] - rw[i][1]) for i, j in pairs]
                ends += [abs(hw[j][2] - rw[i][2]) for i, j in pairs]
            if not starts:
                print(f"| {h} | {pairing} | 0 of {len(ref)} | 0 | - | - |")
                continue
            s, e = np.array(starts) * 1000, np.array(ends) * 1000
            print(f"| {h} | {pairing} | {utts} of {len(ref)} | {len(s)} | {np.median(s):.0f} / {np.percentile(s, 90):.0f} | "
                  f"{np.median(e):.0f} / {np.percentile(e, 90):.0f} |")

if __name__ == "__main__":
    _args.run(main)
