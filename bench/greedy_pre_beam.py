#!/usr/bin/env python3
"""What greedy search's CTC pre-beam costs: greedy with CTC scoring 2 candidates (a ratio of 1.5,
beam search's default), up to 150 (greedy's default, asrkit/decoding/config.py) and every token,
against a beam of 10 (15 candidates per hypothesis), for each vocabulary size.

    bench/greedy_pre_beam.py [--vocab 30,128,1000,5000] [--frames 200] [--tokens 40] [--batch 4]

The scores are random (an attention scorer that ends after --tokens steps, CTC posteriors over
--frames encoder frames): the search's own cost, the same for any model of that vocabulary; the
model's forward pass comes on top. One torch thread. The accuracy side is in
egs/an4/asr1/RESULTS.md, "Greedy decoding with CTC".
"""
from __future__ import annotations

import argparse
import time

import torch

import _args

from asrkit.decoding.beam_search import SearchOptions, beam_search, greedy_search
from asrkit.decoding.scorers import CTCScorer, FullScorer


class RandomAttention(FullScorer):
    """Random log-probabilities; <eos> is forced after ``length`` tokens (a fixed amount of work)."""

    def __init__(self, vocab: int, eos: int, length: int) -> None:
        self.vocab, self.eos, self.length = vocab, eos, length

    def init_state(self, rows):
        return torch.zeros(rows.numel(), dtype=torch.long)

    def score(self, prev, state):
        lp = torch.randn(prev.numel(), self.vocab).log_softmax(-1)
        lp[:, self.eos] = torch.where(state >= self.length, 0.0, -30.0)
        return lp, state + 1

    def reorder(self, state, rows):
        return state[rows]

    def drop_utterances(self, rows) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=_args.positive_int_list, default=[30, 128, 1000, 5000])
    ap.add_argument("--frames", type=_args.positive_int, default=200)
    ap.add_argument("--tokens", type=_args.positive_int, default=40)
    ap.add_argument("--batch", type=_args.positive_int, default=4)
    args = ap.parse_args()
    if min(args.vocab) < 3:
        ap.error(f"--vocab: a vocabulary has at least 3 tokens (blank, one, <eos>), got {min(args.vocab)}")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"{args.batch} utterances of {args.frames} encoder frames, {args.tokens} tokens each; seconds")
    print("| vocabulary | greedy, 2 candidates | greedy, up to 150 (default) | greedy, every token | beam 10 |")
    print("|---|---|---|---|---|")
    for vocab in args.vocab:
        eos = vocab - 1
        lens = torch.full((args.batch,), args.frames)
        ctc_lp = torch.randn(args.batch, args.frames, vocab).log_softmax(-1)
        row = []
        for search, ratio, beam in ((greedy_search, 1.5, 1), (greedy_search, 150.0, 1), (greedy_search, 0.0, 1),
                                    (beam_search, 1.5, 10)):
            opts = SearchOptions(beam=beam, nbest=1, pre_beam_ratio=ratio)
            start = time.perf_counter()
            search({"att": RandomAttention(vocab, eos, args.tokens)}, CTCScorer(ctc_lp, lens, 0, eos),
                   {"att": 0.6, "ctc": 0.4}, lens, opts, vocab, eos, eos, 0)
            row.append(f"{time.perf_counter() - start:.2f}")
        print(f"| {vocab} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    _args.run(main)
