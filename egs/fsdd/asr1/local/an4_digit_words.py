#!/usr/bin/env python3
"""AN4's spoken digits cut out of its utterances, as isolated recordings in FSDD's layout.

FSDD's utterances are isolated digits joined by pauses (local/make_connected_digits.py); AN4's
84 voices say about 1960 digits, but inside read numbers and commands ("ENTER FIVE TWO ..."),
and only 204 of its utterances are digit strings alone. Cut at word times from a forced
alignment (asrkit-align's CTM), every digit any AN4 speaker says becomes one recording
``<out>/recordings/<digit>_an4-<speaker>_<take>.wav`` (8 kHz, 16-bit), which
``make_connected_digits.py --all-train`` joins into connected-digit utterances of those voices,
built exactly as FSDD's are.

A word's cut reaches ``--pad`` seconds beyond its aligned times on each side, but never past the
midpoint to its neighbour word, so no piece of another word comes with it. Words aligned with a
confidence (the CTM's last field) below ``--min-conf`` are left out, counted: a doubtful
alignment would put a wrong label on the audio. AN4 says 0 as OH inside numbers and as ZERO;
both become digit 0, FSDD's one word for it (an4_to_fsdd.py does the same; AN4's letter O is not
in digit strings' CTM as OH).

    e.g. asrkit-align --model pretrain_an4/exp/an4_8k/pretrained.pt pretrain_an4/data/all/wav.scp \
           pretrain_an4/data/all/text an4_words/align.ctm
         local/an4_digit_words.py pretrain_an4/data/all an4_words/align.ctm an4_words
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, Tuple

import numpy as np

from asrkit.data.ctm import read_ctm
from asrkit.data.datadir import DataDir
from asrkit.features.resample import resample
from asrkit.features.wav import read_wav_source
from asrkit.utils.errors import AsrkitError
from make_connected_digits import RATE, WORDS, write_wav  # this script's folder: FSDD's layout and format

DIGIT = {w: i for i, w in enumerate(WORDS)}
DIGIT["OH"] = 0


def cut_words(data_dir: Path, ctm: Path, out: Path, pad: float, min_conf: float) -> Tuple[int, int, int]:
    d = DataDir(data_dir)
    d.require("wav.scp", "utt2spk")
    wav_scp, utt2spk = d.read("wav.scp"), d.read("utt2spk")
    aligned = {utt: sorted(words) for utt, words in read_ctm(ctm).items()}  # by time
    rec_dir = out / "recordings"
    rec_dir.mkdir(parents=True, exist_ok=True)
    takes: Dict[Tuple[str, int], int] = defaultdict(int)
    written = doubtful = missing = 0
    for utt in sorted(aligned):
        seq = aligned[utt]
        if not any(w.word in DIGIT for w in seq):
            continue
        if utt not in wav_scp or utt not in utt2spk:
            missing += 1
            continue
        samples, rate = read_wav_source(wav_scp[utt], f"{data_dir}/wav.scp: {utt}")
        samples = resample(samples, rate, RATE)
        # "an4_" prefixes come from an4_to_fsdd.py's ids; the speaker name must match FSDD's file pattern.
        spk = "an4-" + utt2spk[utt].removeprefix("an4_").replace("_", "-")
        for k, w in enumerate(seq):
            if w.word not in DIGIT:
                continue
            if w.confidence < min_conf:
                doubtful += 1
                continue
            left = seq[k - 1].end if k > 0 else 0.0
            right = seq[k + 1].start if k + 1 < len(seq) else len(samples) / RATE
            lo = max(w.start - pad, (left + w.start) / 2 if k > 0 else 0.0)
            hi = min(w.end + pad, (w.end + right) / 2 if k + 1 < len(seq) else right)
            piece = samples[int(lo * RATE):int(np.ceil(hi * RATE))]
            if len(piece) < RATE // 100:
                doubtful += 1
                continue
            digit = DIGIT[w.word]
            takes[spk, digit] += 1
            write_wav(rec_dir / f"{digit}_{spk}_{takes[spk, digit] - 1}.wav", piece)
            written += 1
    return written, doubtful, missing


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dir", type=Path, help="AN4 data dir (wav.scp, utt2spk) the CTM was aligned on")
    p.add_argument("ctm", type=Path, help="word alignment (asrkit-align's CTM)")
    p.add_argument("out", type=Path, help="writes <out>/recordings/<digit>_an4-<speaker>_<take>.wav")
    p.add_argument("--pad", type=float, default=0.05, help="seconds kept beyond a word's aligned times")
    p.add_argument("--min-conf", type=float, default=0.5, help="leave out words aligned with less confidence")
    args = p.parse_args(argv)
    try:
        written, doubtful, missing = cut_words(args.data_dir, args.ctm, args.out, args.pad, args.min_conf)
        if not written and doubtful:
            # (an aligner too weak for AN4's voices, not a CTM of other utterances, as the line below has it)
            raise AsrkitError(f"{args.ctm}: no digit word cut: all {doubtful} were aligned with a confidence under "
                              f"--min-conf {args.min_conf:g}, or too short: the aligner is too weak for them (one "
                              f"trained on a few utterances, as run.sh --pretrain-max-utts N trains it?)")
        if not written:
            raise AsrkitError(f"{args.ctm}: no digit word cut (is it a CTM of AN4's utterances?)")
    except (AsrkitError, OSError) as e:
        print(f"{p.prog}: ERROR: {e}", file=sys.stderr)
        return 1
    print(f"{p.prog}: {args.out}/recordings: {written} digit words; left out {doubtful} doubtful "
          f"(confidence < {args.min_conf} or too short), {missing} utterances not in {args.data_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
