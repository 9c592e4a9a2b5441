#!/usr/bin/env python3
"""How long decoded hypotheses stall: the longest run of sharp attention steps (peak weight >= 0.2)
that do not pass the furthest encoder frame reached, per utterance. It chose the loop guard's
``AttentionScorer.STALL_STEPS`` (docs/decoding.md): hypotheses that do not loop stay short of it,
loops do not.

    bench/attention_stall.py MODEL FEATS_SCP [--ctc-weight W] [--penalty P] [--beam B]

Decodes every utterance of the scp (the model's CMVN applied) with the guards as asrkit-decode
would set them for that CTC weight, then runs the chosen hypothesis back through the speller
(teacher forcing) and prints the histogram of the longest stalls and the six worst utterances.
"""
from __future__ import annotations

import argparse
import collections

import kaldiio
import torch

import _args

from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.recognizer import Recognizer
from asrkit.decoding.scorers import AttentionScorer
from asrkit.models.package import load_package


def longest_stall(model, feats: torch.Tensor, tokens) -> int:
    """The most stalled steps the loop guard itself counts while the speller reads ``tokens``."""
    with torch.no_grad():
        enc, enc_lens = model.encode(feats[None], torch.tensor([feats.shape[0]]))
        # Teacher forcing through the guard's own scorer: its state's "stall" is what it ends on.
        scorer = AttentionScorer(model, enc, enc_lens, max_backtrack=1)
        state = scorer.init_state(torch.zeros(1, dtype=torch.long))
        prev = torch.tensor([model.sos])
        worst = 0
        for tok in list(tokens) + [model.eos]:
            _, state = scorer.score(prev, state)
            worst = max(worst, int(state["stall"]))
            prev = torch.tensor([tok])
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=_args.existing_file)
    ap.add_argument("feats_scp", type=_args.existing_file)
    ap.add_argument("--ctc-weight", type=float, default=0.3)
    ap.add_argument("--penalty", type=float, default=0.0)
    ap.add_argument("--beam", type=_args.positive_int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    pkg = load_package(args.model)
    rec = Recognizer(pkg, DecodeConfig(beam=args.beam, ctc_weight=args.ctc_weight, penalty=args.penalty))
    # prepare_whole: the edge pad asrkit-decode puts around a recording decoded whole (the loop
    # guard was measured with it; normalize alone left it out)
    items = [(k, rec.prepare_whole(k, v).feats) for k, v in kaldiio.load_scp(args.feats_scp).items()]
    results = rec.decode(items, normalized=True)
    rows = sorted(((longest_stall(pkg.model, torch.from_numpy(x), r.hyps[0].tokens), utt, r.texts[0])
                   for (utt, x), r in zip(items, results)), reverse=True)
    print("longest stall: utterances", sorted(collections.Counter(s for s, _, _ in rows).items()))
    for stall, utt, text in rows[:6]:
        print(stall, utt, text[:100])


if __name__ == "__main__":
    _args.run(main)
