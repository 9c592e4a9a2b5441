#!/usr/bin/env python3
"""Training speed of asrkit-train on AN4: frames/s, utterances/s and seconds per epoch.

Prepares AN4 once (ESPnet's split: train_nodev 848 / train_dev 100, Kaldi fbank 80 bins with
egs/an4/asr1/conf/fbank.yaml, global CMVN, sentencepiece BPE 30) under --work-dir, then times
whole epochs of the trainer exactly as asrkit-train runs them (bucketed batches from the
in-memory feature cache, CMVN, SpecAugment, AMP on CUDA, optimizer steps), plus the validation
pass (loss, accuracy, greedy CER, attention plots) and the per-epoch checkpoint. The first
epoch is reported apart: it holds one-off costs (cuDNN autotuning, allocator warm-up).

On a slow CPU, --max-batches times only the first N batches of each epoch and extrapolates
the epoch time from the measured frames/s (said so in the table).

    e.g.: bench/train_speed.py --epochs 3                         # GPU: whole epochs
          OMP_NUM_THREADS=2 bench/train_speed.py --epochs 1 --max-batches 4 --device cpu
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import _args  # noqa: E402 (bench/, the script's own dir, is on sys.path)


def prepare_an4(an4: Path, work: Path) -> Path:
    """dump/{train_nodev,train_dev}, dump/train_nodev/cmvn.ark and lang/tokens.model under ``work``."""
    import numpy as np

    from asrkit.data.specifier import MatrixWriter
    from asrkit.features.cmvn import accumulate_cmvn, write_stats
    from asrkit.features.fbank import FbankConfig, compute_fbank
    from asrkit.features.wav import read_wav_source
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    done = work / ".prepared"
    if done.exists():
        return work
    cfg = FbankConfig.from_yaml(REPO / "egs" / "an4" / "asr1" / "conf" / "fbank.yaml")
    utts = {}
    for line in (an4 / "etc" / "an4_train.transcription").read_text().splitlines():
        text, _, rest = line.rpartition("(")
        utt = rest.strip().rstrip(")")
        words = [w for w in text.split() if w not in ("<s>", "</s>")]
        utts[utt] = " ".join(words)
    paths = {Path(p).name: an4 / "wav" / (p + ".wav") for p in (an4 / "etc" / "an4_train.fileids").read_text().split()}
    ids = sorted(utts)
    split = {"train_dev": ids[:100], "train_nodev": ids[100:]}
    for name, keys in split.items():
        out = work / "dump" / name
        out.mkdir(parents=True, exist_ok=True)
        frames = {}
        stats = None
        with MatrixWriter(f"ark,scp:{out / 'feats.ark'},{out / 'feats.scp'}") as w:
            for k in keys:
                samples, rate = read_wav_source(str(paths[k]), k)
                feats = compute_fbank(samples, rate, cfg, k)
                w.write(k, feats)
                frames[k] = feats.shape[0]
                if name == "train_nodev":
                    stats = accumulate_cmvn(feats, stats)
        (out / "utt2num_frames").write_text("".join(f"{k} {frames[k]}\n" for k in keys))
        (out / "text").write_text("".join(f"{k} {utts[k]}\n" for k in keys))
        (out / "fbank.yaml").write_text(cfg.to_yaml())
        if stats is not None:
            write_stats(np.asarray(stats), str(out / "cmvn.ark"))
    tok = train_tokenizer([utts[k] for k in split["train_nodev"]], TokenizerConfig(model_type="bpe", vocab_size=30))
    (work / "lang").mkdir(exist_ok=True)
    (work / "lang" / "tokens.model").write_bytes(tok.to_bytes())
    done.touch()
    return work


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--an4-root", default=str(REPO.parent / "shared" / "corpora" / "an4"), type=_args.existing_dir)
    ap.add_argument("--config", default=str(REPO / "egs" / "an4" / "asr1" / "conf" / "train.yaml"),
                    type=_args.existing_file)
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="config override, as asrkit-train")
    ap.add_argument("--work-dir", default=os.path.join(tempfile.gettempdir(), "asrkit_bench_an4"),
                    type=_args.output_dir)
    ap.add_argument("--epochs", type=_args.positive_int, default=3)
    ap.add_argument("--max-batches", type=_args.nonnegative_int, default=0,
                    help="time only the first N batches of each epoch")
    ap.add_argument("--no-valid", action="store_true", help="skip the validation pass")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = ap.parse_args()

    import torch

    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.config import load_config
    from asrkit.training.data import FeatureDataset, load_cmvn, load_utterances
    from asrkit.models.las import LAS
    from asrkit.models.package import PackageMeta
    from asrkit.training.las_task import LASTask
    from asrkit.training.trainer import Trainer, seed_everything
    from asrkit.utils.device import resolve_device
    from asrkit.utils.logging import setup_logging

    setup_logging(0)
    work = Path(args.work_dir)
    t0 = time.perf_counter()
    prepare_an4(Path(args.an4_root), work)
    prep_s = time.perf_counter() - t0
    cfg = load_config(args.config, args.overrides)
    device = resolve_device(args.device, "--device")
    seed_everything(cfg.training.seed)
    tok = Tokenizer.load(work / "lang" / "tokens.model")
    cmvn = load_cmvn(str(work / "dump" / "train_nodev" / "cmvn.ark"))
    t0 = time.perf_counter()
    sets = {}
    for name in ("train_nodev", "train_dev"):
        d = work / "dump" / name
        sets[name] = FeatureDataset(load_utterances(str(d), tok), cmvn,
                                    cache=cfg.batching.cache_features)
    load_s = time.perf_counter() - t0
    model = LAS(sets["train_nodev"].idim, tok.vocab_size, cfg.model)
    nparams = sum(p.numel() for p in model.parameters())
    with tempfile.TemporaryDirectory() as exp:
        meta = PackageMeta(model_config=cfg.model, idim=model.idim, vocab_size=tok.vocab_size, tokens=tok.tokens)
        task = LASTask(model, meta, cfg, sets["train_nodev"], sets["train_dev"], tok, Path(exp))
        trainer = Trainer(task, cfg.optim, cfg.training, Path(exp), cfg.to_dict(), device)
        n_batches_full = trainer.sampler.per_rank
        if args.max_batches:
            full = trainer.sampler.epoch_batches
            trainer.sampler.epoch_batches = lambda e: full(e)[: args.max_batches]
            trainer.sampler.per_rank = min(trainer.sampler.per_rank, args.max_batches)
        total_frames = int(sets["train_nodev"].table.num_frames.sum())
        rows = []
        for epoch in range(1, args.epochs + 1):
            t0 = time.perf_counter()
            r = trainer.train_epoch(epoch)
            v = {} if args.no_valid else trainer.validate(epoch)
            # The per-epoch checkpoint asrkit-train writes (model, Adam state, RNG) counts too.
            t1 = time.perf_counter()
            trainer.state.epoch = epoch
            trainer.state.history.append({"epoch": epoch, **r, **v})
            trainer.save_checkpoint()
            r["checkpoint_s"] = time.perf_counter() - t1  # the blocking part (host copy) when async
            rows.append((epoch, r, v, time.perf_counter() - t0))
        trainer.wait_checkpoint()
    b = cfg.batching
    print(f"\nasrkit-train speed on AN4 train_nodev ({len(sets['train_nodev'])} utts, {total_frames} frames, "
          f"{total_frames / 100 / 3600:.2f} h), dev {len(sets['train_dev'])} utts")
    print(f"device: {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
                                 f" ({torch.get_num_threads()} threads, {os.cpu_count()} cores)"))
    print(f"model: {args.config} ({nparams / 1e6:.1f} M params{', ' + ' '.join(args.overrides) if args.overrides else ''}); "
          f"amp bf16: {trainer.amp}")
    print(f"batches: max_frames={b.max_frames} (padded), max_batch_size={b.max_batch_size or 'none'}, "
          f"{n_batches_full} batches/epoch (avg {len(sets['train_nodev']) / n_batches_full:.1f} utts), "
          f"cache_features={b.cache_features}, num_workers={b.num_workers}")
    print(f"one-off: AN4 prep {prep_s:.1f} s (cached in {work}), feature load {load_s:.1f} s")
    print("| epoch | batches | train frames/s | train utts/s | train s/epoch | valid s | checkpoint s | epoch s (all) |")
    print("|---|---|---|---|---|---|---|---|")
    for epoch, r, v, wall in rows:
        est = total_frames / r["train_frames_per_s"]
        extrap = args.max_batches and args.max_batches < n_batches_full
        tr_s = f"{est:.1f} (extrapolated)" if extrap else f"{r['train_time_s']:.2f}"
        vs = v.get("valid_time_s", 0.0)
        ep = f"{est + vs + r['checkpoint_s']:.1f} (extrapolated)" if extrap else f"{wall:.2f}"
        timed = min(args.max_batches or n_batches_full, n_batches_full)
        print(f"| {epoch} | {timed} of {n_batches_full} | {r['train_frames_per_s']:.0f} | "
              f"{r['train_utts_per_s']:.1f} | {tr_s} | {vs:.2f} | {r['checkpoint_s']:.2f} | {ep} |")
    print("command: " + " ".join(shlex.quote(a) for a in [sys.executable.split('/')[-1]] + sys.argv))


if __name__ == "__main__":
    _args.run(main)
