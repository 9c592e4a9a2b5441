#!/usr/bin/env python3
"""Where a LAS training step spends its time: listener, speller loop, backward, optimizer.

Model-only (no data loading, no trainer): batches of random features with the frame and token
counts of real AN4 training utterances (read from the wave headers and transcripts), the model
section of a training config (default: egs/an4/asr1/conf/train.yaml), Adam. Complements
bench/train_speed.py, which times whole asrkit-train epochs.

    e.g.: bench/model_speed.py --batch 32 --steps 5                  # CPU, threads from OMP_NUM_THREADS
          bench/model_speed.py --device cuda --batch 212 --steps 20 --amp
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import _args  # noqa: E402 (bench/, the script's own dir, is on sys.path)


def an4_lengths(an4: Path):
    """(frames, tokens) per AN4 training utterance: 25 ms / 10 ms frames, characters + spaces."""
    texts = {}
    for line in (an4 / "etc" / "an4_train.transcription").read_text().splitlines():
        text, _, rest = line.rpartition("(")
        words = [w for w in text.split() if w not in ("<s>", "</s>")]
        texts[rest.strip().rstrip(")")] = " ".join(words)
    out = []
    for rel in (an4 / "etc" / "an4_train.fileids").read_text().split():
        with wave.open(str(an4 / "wav" / (rel + ".wav"))) as w:
            n, rate = w.getnframes(), w.getframerate()
        frames = 1 + (n - int(0.025 * rate)) // int(0.010 * rate)
        out.append((frames, len(texts[Path(rel).name])))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO / "egs/an4/asr1/conf/train.yaml"), type=_args.existing_file)
    p.add_argument("--an4", default=str(REPO.parent / "shared/corpora/an4"), type=_args.existing_dir)
    p.add_argument("--batch", type=_args.positive_int, default=32)
    p.add_argument("--steps", type=_args.positive_int, default=5, help="timed steps (after one warm-up step)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA)")
    p.add_argument("--idim", type=_args.positive_int, default=80)
    p.add_argument("--vocab", type=_args.positive_int, default=32)
    args = p.parse_args()

    import torch
    import yaml

    from asrkit.models.las import LAS, LASConfig
    from asrkit.training.optim import Adam

    torch.manual_seed(0)
    dev = torch.device(args.device)
    cfg = LASConfig.from_dict(yaml.safe_load(Path(args.config).read_text())["model"])
    model = LAS(args.idim, args.vocab, cfg).to(dev).train()
    opt = Adam(model.parameters(), lr=1e-3)  # asrkit-train's optimizer
    lengths = an4_lengths(Path(args.an4))
    # sorted like the trainer's length buckets, so padding is what training really sees
    lengths.sort()
    g = torch.Generator().manual_seed(0)

    def make_batch(i):
        start = (i * args.batch * 7) % max(1, len(lengths) - args.batch)
        sel = lengths[start:start + args.batch]
        fl = torch.tensor([f for f, _ in sel])
        yl = torch.tensor([t for _, t in sel])
        feats = torch.randn(len(sel), int(fl.max()), args.idim, generator=g)
        ys = torch.randint(1, args.vocab - 1, (len(sel), int(yl.max())), generator=g)
        ys = ys.masked_fill(torch.arange(ys.size(1))[None] >= yl[:, None], -1)
        return [t.to(dev) for t in (feats, fl, ys, yl)]

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    parts = {"listener": 0.0, "speller+losses": 0.0, "backward": 0.0, "optimizer": 0.0}
    frames = utts = 0
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if args.amp else torch.autocast(dev.type, enabled=False)
    for step in range(args.steps + 1):
        feats, fl, ys, yl = make_batch(step)
        sync()
        t0 = time.perf_counter()
        with amp:
            enc, enc_lens = model.encode(feats, fl)   # timed apart; forward runs it again below
        sync()
        t1 = time.perf_counter()
        with amp:
            out = model(feats, fl, ys, yl)
        sync()
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        sync()
        t3 = time.perf_counter()
        opt.step()
        sync()
        t4 = time.perf_counter()
        if step == 0:
            continue  # warm-up: allocator, cuDNN plans
        parts["listener"] += t1 - t0
        parts["speller+losses"] += (t2 - t1) - (t1 - t0)
        parts["backward"] += t3 - t2
        parts["optimizer"] += t4 - t3
        frames += int(fl.sum())
        utts += len(fl)
    total = parts["speller+losses"] + parts["listener"] + parts["backward"] + parts["optimizer"]
    print("command: " + " ".join(shlex.quote(a) for a in sys.argv))
    print(f"device {dev} threads {torch.get_num_threads()} amp {args.amp} batch {args.batch} steps {args.steps} "
          f"params {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M")
    print("| part | s/step | share |")
    print("|---|---|---|")
    for k, v in parts.items():
        print(f"| {k} | {v / args.steps:.3f} | {100 * v / total:.0f} % |")
    print(f"| total | {total / args.steps:.3f} | |")
    print(f"{utts / total:.1f} utt/s, {frames / total:.0f} input frames/s; "
          f"an AN4 epoch (848 utts) ~ {848 / (utts / total):.1f} s of model time")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _args.run(main)
