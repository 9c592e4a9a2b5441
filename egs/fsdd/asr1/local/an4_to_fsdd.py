#!/usr/bin/env python3
"""AN4 data dirs (16 kHz) -> one data dir of extra voices for FSDD training, read at 8 kHz.

FSDD has five speakers; AN4 (CMU's census database) has 84 (74 train + 10 test), and many of its
utterances are digit strings. Every utterance of every input dir goes in (``--words all``), or
only those made of digit words (``--words digits``). AN4 speaks 0 as OH inside numbers
(``TWO OH ONE``) as well as ZERO; OH becomes ZERO, the one word FSDD has for 0, so the model
never learns two spellings of one digit (AN4's letter O is a separate word and stays).

Each wav.scp entry reads the 16 kHz recording at FSDD's 8 kHz: ``--resample sox`` writes a
``sox <wav> -r 8000 -t wav - |`` pipe, ``--resample none`` the plain path (for feature
extraction that resamples in-process). Utterance and speaker ids get an ``an4_`` prefix, so they
can never collide with FSDD's.

    e.g. local/an4_to_fsdd.py --words digits data/an4_16k/train data/an4_16k/test data/an4_8k
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from asrkit.data.datadir import DataDir, write_data_dir
from asrkit.utils.errors import AsrkitError

DIGITS = {"ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"}
RATE = 8000
# The one place that says how AN4's 16 kHz audio reaches FSDD's rate.
WAV_ENTRY = {
    "sox": lambda path: f"sox {shlex.quote(path)} -r {RATE} -t wav - |",
    "none": lambda path: path,
}


def convert(srcs, words: str, resample: str):
    wav_scp, text, utt2spk = {}, {}, {}
    skipped = 0
    for src in srcs:
        d = DataDir(src)
        d.require("wav.scp", "text", "utt2spk")
        src_wav, src_text, src_spk = d.read("wav.scp"), d.read("text"), d.read("utt2spk")
        for utt, line in src_text.items():
            if utt not in src_wav or utt not in src_spk:
                raise AsrkitError(f"{src}: utterance {utt!r} has text but no wav.scp or utt2spk entry")
            if src_wav[utt].rstrip().endswith("|"):
                raise AsrkitError(f"{src}/wav.scp: {utt!r} is a pipe; expected the path of a 16 kHz WAV file")
            tokens = ["ZERO" if w == "OH" else w for w in line.split()]
            if words == "digits" and not set(tokens) <= DIGITS:
                skipped += 1
                continue
            new = f"an4_{utt}"
            if new in text:
                raise AsrkitError(f"{src}: utterance {utt!r} is also in another input dir")
            wav_scp[new] = WAV_ENTRY[resample](src_wav[utt])
            text[new] = " ".join(tokens)
            utt2spk[new] = f"an4_{src_spk[utt]}"
    return wav_scp, text, utt2spk, skipped


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("srcs", nargs="+", type=Path, help="AN4 data dirs (local/data_prep.py of the AN4 recipe)")
    p.add_argument("out", type=Path, help="the data dir written")
    p.add_argument("--words", choices=("digits", "all"), default="digits",
                   help="digits: only utterances made of digit words (OH counts as ZERO); all: every utterance")
    p.add_argument("--resample", choices=sorted(WAV_ENTRY), default="none",
                   help="none: the 16 kHz paths as they are (for asrkit-compute-fbank --resample); "
                        "sox: 'sox <wav> -r 8000 -t wav - |' pipes")
    args = p.parse_args(argv)
    try:
        wav_scp, text, utt2spk, skipped = convert(args.srcs, args.words, args.resample)
        if not text:
            raise AsrkitError(f"{', '.join(map(str, args.srcs))}: no utterance kept (--words {args.words})")
        write_data_dir(args.out, wav_scp=wav_scp, text=text, utt2spk=utt2spk)
    except AsrkitError as e:
        print(f"{p.prog}: ERROR: {e}", file=sys.stderr)
        return 1
    how = (f"read at {RATE} Hz through sox pipes" if args.resample == "sox"
           else f"16 kHz paths, to be resampled to {RATE} Hz by the feature extraction")
    print(f"{p.prog}: {args.out}: {len(text)} utterances of {len(set(utt2spk.values()))} speakers "
          f"(--words {args.words}: {skipped} left out), {how} (--resample {args.resample})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
