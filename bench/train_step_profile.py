#!/usr/bin/env python3
"""Where a training step's time goes: one LAS config, real dumped features, forward + backward + Adam.

Times the same batches (the trainer's own BucketBatchSampler over a dump dir's feats.scp, its
epoch-0 order for --seed, up to --frames real frames in all) for each config given, back to back, so configs can be
compared under the same load; with --profile it also prints torch.profiler's table of operators.
Targets are random tokens, one per 12 frames (AN4's BPE-30 rate; 3 to 60 per utterance): the cost
of a step depends on the lengths, not on which tokens. Not a training run: use bench/train_speed.py
for whole epochs through asrkit-train.

    e.g.: OMP_NUM_THREADS=1 bench/train_step_profile.py --feats egs/an4/asr1/dump/train_nodev/feats.scp \
            --config egs/an4/asr1/conf/train_cpu_small.yaml --variant "" \
            --variant "model.listener.subsample=[2,2,1]" --variant "batching.max_frames=3000"
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import _args  # noqa: E402 (bench/, the script's own dir, is on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feats", required=True, type=_args.existing_file, help="a dump dir's feats.scp (real features)")
    ap.add_argument("--config", required=True, type=_args.existing_file, help="training config YAML")
    ap.add_argument("--variant", action="append", default=[],
                    help="space-separated --set overrides for one variant ('' = the config as is); repeatable")
    ap.add_argument("--frames", type=_args.positive_int, default=34000, help="real frames to time per variant")
    ap.add_argument("--vocab", type=_args.positive_int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", action="store_true", help="print torch.profiler's operator table per variant")
    args = ap.parse_args()

    import kaldiio
    import torch

    from asrkit.models.las import LAS
    from asrkit.training.config import load_config
    from asrkit.training.sampler import BucketBatchSampler
    from asrkit.training.optim import Adam

    torch.manual_seed(args.seed)
    feats = {k: torch.from_numpy(v.copy()) for k, v in kaldiio.load_scp(args.feats).items()}
    lengths = {k: v.shape[0] for k, v in feats.items()}
    idim = next(iter(feats.values())).shape[1]
    print(f"{args.feats}: {len(feats)} utterances, dim {idim}; torch threads {torch.get_num_threads()}")
    print("| variant | batches | real frames | seconds | frames/s |")
    print("|---|---|---|---|---|")
    for variant in args.variant or [""]:
        cfg = load_config(args.config, variant.split())
        model = LAS(idim, args.vocab, cfg.model).train()
        opt = Adam(model.parameters(), lr=1e-3)  # asrkit-train's optimizer
        keys = list(feats)
        sampler = BucketBatchSampler([lengths[k] for k in keys], cfg.batching.max_frames,
                                     cfg.batching.max_batch_size, seed=args.seed)
        chosen, total = [], 0
        for b in ([keys[i] for i in batch] for batch in sampler.epoch_batches(0)):
            if total >= args.frames:
                break
            chosen.append(b)
            total += sum(lengths[k] for k in b)
        gen = torch.Generator().manual_seed(args.seed)

        def step(keys):
            x = torch.nn.utils.rnn.pad_sequence([feats[k] for k in keys], batch_first=True)
            x_lens = torch.tensor([lengths[k] for k in keys])
            y_lens = torch.clamp(x_lens // 12, 3, 60)
            ys = torch.full((len(keys), int(y_lens.max())), -1, dtype=torch.long)
            for i, n in enumerate(y_lens.tolist()):
                ys[i, :n] = torch.randint(2, args.vocab - 1, (n,), generator=gen)
            out = model(x, x_lens, ys, y_lens)
            opt.zero_grad()
            out.loss.backward()
            opt.step()

        step(chosen[0])  # warm-up: oneDNN primitives, allocator
        prof = None
        if args.profile:
            from torch.profiler import ProfilerActivity, profile
            prof = profile(activities=[ProfilerActivity.CPU])
            prof.__enter__()
        t0 = time.perf_counter()
        for b in chosen:
            step(b)
        elapsed = time.perf_counter() - t0
        if prof is not None:
            prof.__exit__(None, None, None)
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
        print(f"| {variant or '(config as is)'} | {len(chosen)} | {total} | {elapsed:.2f} | {total / elapsed:.0f} |")
    print("command: " + " ".join(sys.argv))


if __name__ == "__main__":
    _args.run(main)
