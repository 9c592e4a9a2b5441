#!/usr/bin/env python3
"""How long the quiet at recordings' edges is, and whose level level_norm's cap on it moves.

For each set of recordings (a data dir's wav.scp, or audio files named by a glob): the length of
each edge's quiet run (frames ``edge_quiet_db``, 20 dB, or more below the recording's loud ones,
as asrkit-decode's edge pad finds them) as percentiles, lead, trail and both pooled; and how many
recordings' level offset (what level_norm subtracts) changes when only EDGE_QUIET_CAP_S of each
edge's quiet counts (asrkit.decoding.recognizer: ``Recognizer._level_frames``) against every
frame counting (the rule before it), computed from the frame levels through the same code, no
model needed (the training mean cancels in the difference). Used to choose the cap from training
recordings (docs/decoding.md, "Recording level").

    e.g.: tools/venv/bin/python bench/edge_quiet.py --fbank-config egs/an4/asr1/conf/fbank.yaml \\
            "an4_train=$ASRKIT_CORPORA/an4/wav/an4_clstk/*/*.wav"
          tools/venv/bin/python bench/edge_quiet.py --fbank-config egs/yesno/asr1/conf/fbank.yaml \\
            yesno_test=egs/yesno/asr1/data/test
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _args  # noqa: E402

DB = 10 / np.log(10)  # dB per nat of a log-mel value
PERCENTILES = (50, 90, 95, 99, 100)


def recordings(source: str):
    """(id, wav.scp value) of a data dir, or of the audio files a glob names (id: the file name)."""
    scp = os.path.join(source, "wav.scp")
    if os.path.isdir(source):
        if not os.path.isfile(scp):
            raise _args.BenchError(f"{source}: a folder without a wav.scp")
        with open(scp, encoding="utf-8") as f:
            return [tuple(line.split(None, 1)) for line in f if line.strip()]
    paths = sorted(glob.glob(source))
    if not paths:
        raise _args.BenchError(f"{source}: no data dir, and no file matches it as a glob")
    return [(os.path.basename(p), p) for p in paths]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fbank-config", required=True, type=_args.existing_file, help="the recipe's conf/fbank.yaml")
    ap.add_argument("sets", nargs="+", metavar="NAME=SOURCE", help="a data dir (its wav.scp) or a glob of audio files")
    args = ap.parse_args()
    sets = []
    for s in args.sets:
        name, sep, source = s.partition("=")
        if not sep or not name or not source:
            ap.error(f"{s!r}: give NAME=SOURCE (a data dir or a glob of audio files)")
        sets.append((name, source))

    from asrkit.decoding.config import DecodeConfig
    from asrkit.decoding import recognizer
    from asrkit.features.fbank import FbankConfig, compute_fbank
    from asrkit.features.wav import read_wav_source

    fbank = FbankConfig.from_yaml(args.fbank_config)
    R = recognizer.Recognizer
    # What _levels, _level_frames and _level_offset read of a Recognizer: one feature column holding each
    # frame's mean log-mel (their offset is a mean of frame levels), a training mean of 0.
    rec = types.SimpleNamespace(_train_mean=np.zeros(1), config=DecodeConfig(), _level_norm=True,
                                frame_shift_s=fbank.frame_shift / 1000.0,
                                pkg=types.SimpleNamespace(meta=types.SimpleNamespace(
                                    feature_config=types.SimpleNamespace(use_log_fbank=True, use_energy=False))))
    rec._frame_levels = types.MethodType(R._frame_levels, rec)
    quiet_nats = rec.config.edge_quiet_db / DB
    print(f"cap {recognizer.EDGE_QUIET_CAP_S:g} s, edge quiet {rec.config.edge_quiet_db:g} dB, {args.fbank_config}")
    for name, source in sets:
        leads, trails, moved = [], [], []
        for utt, value in recordings(source):
            samples, rate = read_wav_source(value.strip(), utt)
            level = compute_fbank(samples, rate, fbank).astype(np.float64).mean(axis=1)
            sound = recognizer.sounding(level)
            if not sound.any():
                continue
            quiet = level < recognizer.loud_level(level, sound) - quiet_nats
            leads.append(len(quiet) if quiet.all() else int(np.argmin(quiet)))
            trails.append(len(quiet) if quiet.all() else int(np.argmin(quiet[::-1])))
            x, live = level[:, None], np.ones(1, dtype=bool)
            frames = R._level_frames(rec, R._levels(rec, x))
            moved.append(abs(R._level_offset(rec, x, live, frames) - R._level_offset(rec, x, live)) * DB)
        if not moved:
            raise _args.BenchError(f"{name}: no recording with any sound in {source}")
        lead, trail = np.array(leads) * rec.frame_shift_s, np.array(trails) * rec.frame_shift_s
        moved = np.array(moved)

        def pct(v):
            return " ".join(f"{np.percentile(v, p):.2f}" for p in PERCENTILES)

        print(f"{name}: {len(moved)} recordings; edge quiet (s) p50/p90/p95/p99/max: lead {pct(lead)}; "
              f"trail {pct(trail)}; both {pct(np.r_[lead, trail])}")
        print(f"{name}: level moved by the cap: {np.sum(moved > 1e-6)} recordings, {np.sum(moved > 0.5)} by more "
              f"than 0.5 dB, {np.sum(moved > 1)} by more than 1 dB, at most {moved.max():.2f} dB")


if __name__ == "__main__":
    _args.run(main)
