#!/usr/bin/env python3
"""Training time to a target WER: decode a test set with each kept epoch checkpoint of a training.

For #10's "time to at most 6 % WER": the training must keep every epoch's checkpoint
(``--set training.keep_best=1000``). Each checkpoint is decoded as it is (one epoch's weights,
not an average: a conservative figure) with the recipe's decode config, and scored at the word
level. The time to an epoch is the sum of the epochs' measured wall times up to it (training +
validation, from the checkpoint's history), plus the run's start-up before its first epoch
(data loading, model build: the first row of log/train_runs.tsv less its epochs' time).

Epochs are tried in order from --first, every --every epochs; with --stop-at-target the scan
stops at the first epoch at or under --target and then tries the epochs just before it, so the
first epoch that reaches the target is found without decoding every later one.

    e.g.: bench/time_to_wer.py --exp egs/an4/asr1/exp/gpu_4x320 --feats scp:egs/an4/asr1/dump/test/feats.scp \\
              --text egs/an4/asr1/data/test/text --decode-config egs/an4/asr1/conf/decode.yaml --device cuda
"""
from __future__ import annotations

import argparse
import csv
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import _args  # noqa: E402 (bench/, the script's own dir, is on sys.path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True, type=_args.existing_dir,
                   help="exp dir of asrkit-train (checkpoints/epoch<N>.pt)")
    p.add_argument("--feats", required=True, help="feature rspecifier of the test set (raw fbank; CMVN is the model's)")
    p.add_argument("--text", required=True, type=_args.existing_file,
                   help="reference text (Kaldi text) of the test set")
    p.add_argument("--decode-config", default=str(REPO / "egs/an4/asr1/conf/decode.yaml"), type=_args.existing_file)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=_args.positive_int, default=130)
    p.add_argument("--target", type=float, default=6.0, help="WER %% to reach")
    p.add_argument("--first", type=_args.positive_int, default=1)
    p.add_argument("--every", type=_args.positive_int, default=1)
    p.add_argument("--stop-at-target", action="store_true")
    p.add_argument("--max-seconds", type=_args.nonnegative_float, default=0.0,
                   help="stop trying epochs after this long (0: no limit)")
    args = p.parse_args()

    import dataclasses

    from asrkit.data.table import read_table
    from asrkit.decoding.config import DecodeConfig
    from asrkit.decoding.inputs import DecodeInputs
    from asrkit.decoding.recognizer import Recognizer
    from asrkit.models.package import save_package
    from asrkit.scoring.score import score_texts
    from asrkit.training import checkpoint as ckpt
    from asrkit.training.timing import epoch_seconds

    start = time.perf_counter()
    exp = Path(args.exp)
    found = ckpt.list_checkpoints(exp)
    if not found:
        raise _args.BenchError(f"{exp}/checkpoints: no epoch<N>.pt")
    last_state = ckpt.load_checkpoint(found[max(found)])
    history = last_state["train_state"]["history"]
    cumulative, total = {}, 0.0
    for row in history:
        total += epoch_seconds(row) or 0.0
        cumulative[int(row["epoch"])] = total
    startup = _startup_seconds(exp, history)
    refs = read_table(args.text, allow_empty_value=True)
    config = dataclasses.replace(DecodeConfig.from_yaml(args.decode_config), device=args.device,
                                 batch_size=args.batch_size)

    print(f"# bench/time_to_wer.py {' '.join(shlex.quote(a) for a in sys.argv[1:])}")
    print(f"# {exp}: {len(found)} checkpoint(s) kept of {len(history)} epoch(s); start-up before the first "
          f"epoch {startup:.1f} s; device {args.device}")
    print("| epoch | training time to it s | WER % | CER % |")
    print("|---|---|---|---|")
    feats = None
    results = {}

    def try_epoch(e: int) -> float:
        nonlocal feats
        state = ckpt.load_checkpoint(found[e])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.pt"
            save_package(path, state["model"], ckpt.package_meta(state, found[e]))
            rec = Recognizer.from_files(path, config)
        if feats is None:
            items, _ = DecodeInputs(feats=args.feats).open(rec.features)
            feats = []
            for utt, f, err in items:
                if err is not None:
                    raise err
                feats.append((utt, f))
        out = rec.decode(feats)
        hyps = {r.utt_id: (r.texts[0] if r.texts else "") for r in out}
        score = score_texts(refs, hyps)
        results[e] = score.wer
        print(f"| {e} | {startup + cumulative.get(e, float('nan')):.1f} | {score.wer:.2f} | {score.cer:.2f} |",
              flush=True)
        return score.wer

    epochs = [e for e in sorted(found) if e >= args.first and (e - args.first) % args.every == 0]
    hit = None
    for e in epochs:
        if args.max_seconds and time.perf_counter() - start > args.max_seconds:
            print(f"# stopped: --max-seconds {args.max_seconds:g} used")
            break
        if try_epoch(e) <= args.target:
            hit = e
            if args.stop_at_target:
                break
    if hit is not None and args.stop_at_target:
        # The scan stepped over up to every-1 epochs: the first hit may be among them.
        for e in range(hit - 1, hit - args.every, -1):
            if e in found and e not in results:
                if try_epoch(e) > args.target:
                    break
                hit = e
    if hit is None:
        print(f"# no tried epoch reached WER <= {args.target:g} %")
    else:
        first = min(e for e, w in results.items() if w <= args.target)
        print(f"# first epoch at WER <= {args.target:g} %: {first}, after {startup + cumulative[first]:.1f} s "
              f"of training (start-up {startup:.1f} s + {cumulative[first]:.1f} s of epochs)")


def _startup_seconds(exp: Path, history) -> float:
    """Seconds the first run spent before its first epoch: its wall time less its epochs' times."""
    from asrkit.training.timing import RUNS_FILE, epoch_seconds

    path = exp / RUNS_FILE
    if not path.is_file():
        return 0.0
    with open(path) as f:
        rows = [r for r in csv.reader(f, delimiter="\t") if r and not r[0].startswith("#")]
    if not rows:
        return 0.0
    run_seconds, from_epoch, to_epoch = float(rows[0][2]), int(rows[0][3]), int(rows[0][4])
    epochs = sum(epoch_seconds(r) or 0.0 for r in history if from_epoch < int(r["epoch"]) <= to_epoch)
    return max(0.0, run_seconds - epochs)


if __name__ == "__main__":
    _args.run(main)
