#!/usr/bin/env python3
"""Probe: does unsupervised speaker adaptation rescue an unseen voice? (FSDD, issue #10 item 1)

Kaldi's answer to a speaker the model never heard is a second, speaker-adapted pass: fMLLR, an
affine transform of one speaker's features, estimated on the first pass's hypotheses. This is
that transform for a trained LAS model: ``A x + b`` on the CMVN-normalised features (before the
model's own per-utterance mean removal, which commutes with it), initialised to the identity and
trained with the model's loss (attention + CTC) on the first-pass hypotheses of all of a test
speaker's utterances; every weight of the model stays frozen, dropout and SpecAugment off.
``--keep`` adapts on the utterances the model itself scores best (loss per token), a confidence
filter. The adapted features are written back un-normalised, so ``asrkit-decode --feats``
decodes them with the model's own CMVN, as the first pass did::

    asrkit-decode --model M --config conf/decode.yaml --feats scp:dump/test/feats.scp --output-dir d1
    bench/speaker_adapt_probe.py M dump/test/feats.scp d1/text adapted --lr 0.01 --epochs 30 --keep 0.5
    asrkit-decode --model M --config conf/decode.yaml --feats scp:adapted.scp --output-dir d2
    asrkit-score data/test/text d2/text

No reference transcript is read: the test speaker's words come only from the first pass.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Tuple

import kaldiio
import numpy as np
import torch

import _args
from asrkit.data.specifier import read_matrices
from asrkit.features.cmvn import cmvn_transform
from asrkit.models.package import load_package

Item = Tuple[str, torch.Tensor, torch.Tensor]


def pad(items: List[Item], dim: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> feats (B, T, D), feat_lens, token ids (B, L) padded with -1, token lengths."""
    frames = max(x.shape[0] for _, x, _ in items)
    tokens = max(len(y) for _, _, y in items)
    feats = torch.zeros(len(items), frames, dim)
    ys = torch.full((len(items), tokens), -1, dtype=torch.long)
    for i, (_, x, y) in enumerate(items):
        feats[i, :x.shape[0]] = x
        ys[i, :len(y)] = y
    return (feats, torch.tensor([x.shape[0] for _, x, _ in items]), ys,
            torch.tensor([len(y) for _, _, y in items]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=_args.existing_file, help="packed model (model.pt / model.avg.pt)")
    p.add_argument("feats_scp", type=_args.existing_file,
                   help="the test speaker's features (feats.scp, as dumped: before CMVN)")
    p.add_argument("hyp_text", type=_args.existing_file, help="the first pass's hypotheses (Kaldi text)")
    p.add_argument("out", help="writes <out>.ark and <out>.scp")
    p.add_argument("--epochs", type=_args.positive_int, default=30)
    p.add_argument("--lr", type=_args.positive_float, default=0.01)
    p.add_argument("--batch", type=_args.positive_int, default=16)
    p.add_argument("--keep", type=_args.share, default=1.0,
                   help="adapt on this share of the utterances, best scored first")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    pkg = load_package(args.model)
    model = pkg.model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    if pkg.meta.cmvn is None or pkg.tokenizer is None:
        raise _args.BenchError(f"{args.model}: the probe needs a model with CMVN stats and a tokenizer")
    scale, offset = cmvn_transform(pkg.meta.cmvn, pkg.meta.cmvn_norm_vars, warn=False)
    hyps = {}
    with open(args.hyp_text, encoding="utf-8") as f:
        for line in f:
            utt, *words = line.split()
            hyps[utt] = " ".join(words)
    items: List[Item] = []
    for utt, feats in read_matrices(f"scp:{args.feats_scp}"):
        x = torch.tensor(feats * scale + offset, dtype=torch.float32)
        items.append((utt, x, torch.tensor(pkg.tokenizer.encode(hyps.get(utt, "")), dtype=torch.long)))
    dim = scale.shape[0]

    # The model's own loss per token on its own hypothesis: low where it was sure.
    with torch.no_grad():
        per_token = [model(*pad([it], dim)).loss.item() / (len(it[2]) + 1) for it in items]
    chosen = [items[i] for i in np.argsort(per_token)[:max(1, int(round(len(items) * args.keep)))]]
    print(f"{len(items)} utterances, adapting on {len(chosen)}; loss per token {np.mean(per_token):.3f}",
          file=sys.stderr)

    weight = torch.nn.Parameter(torch.zeros(dim, dim))   # A = I + weight
    bias = torch.nn.Parameter(torch.zeros(dim))
    opt = torch.optim.Adam([weight, bias], lr=args.lr)
    for epoch in range(args.epochs):
        order, total = torch.randperm(len(chosen)), 0.0
        for start in range(0, len(chosen), args.batch):
            feats, feat_lens, ys, y_lens = pad([chosen[i] for i in order[start:start + args.batch]], dim)
            loss = model(feats + feats @ weight + bias, feat_lens, ys, y_lens).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(ys)
        print(f"epoch {epoch + 1}: loss {total / len(chosen):.3f}, mean |A - I| {weight.abs().mean():.4f}",
              file=sys.stderr)

    with torch.no_grad(), kaldiio.WriteHelper(f"ark,scp:{args.out}.ark,{args.out}.scp") as writer:
        for utt, x, _ in items:
            writer[utt] = (((x + x @ weight + bias).numpy() - offset) / scale).astype(np.float32)
    return 0


if __name__ == "__main__":
    _args.run(main)
