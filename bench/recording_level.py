#!/usr/bin/env python3
"""How a recording's level moves WER: a data dir's audio at several gains (sox -v pipes, so the
copies are requantised to 16 bits as a quieter microphone would be), decoded with and without
``--level-norm`` (asrkit-decode's shift of each recording's log-mel level to the training data's).

    e.g.: bench/recording_level.py --model egs/an4/asr1/exp/x/model.pt --data egs/an4/asr1/data/test \\
            --config egs/an4/asr1/conf/decode.yaml --gains 1 0.1 0.01 --out /tmp/level
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import _args


def gain_scp(wav_scp: Path, gain: float, out: Path, pad_s: float = 0.0) -> Path:
    pad = f" pad {pad_s:g} {pad_s:g}" if pad_s else ""
    lines = []
    for line in wav_scp.read_text().splitlines():
        utt, _, src = line.partition(" ")
        src = src.strip()
        if src.endswith("|"):
            lines.append(f"{utt} {src[:-1].strip()} | sox -t wav - -t wav - vol {gain}{pad} |")
        else:
            lines.append(f"{utt} sox -v {gain} {shlex.quote(src)} -t wav -{pad} |")
    out.write_text("".join(ln + "\n" for ln in lines))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, type=_args.existing_file)
    p.add_argument("--data", required=True, type=_args.existing_dir, help="data dir with wav.scp and text")
    p.add_argument("--config", default=None, type=_args.existing_file, help="decoding options (conf/decode.yaml)")
    p.add_argument("--gains", nargs="+", type=_args.positive_float, default=[1.0, 0.1, 0.01])
    p.add_argument("--pad-s", type=_args.nonnegative_float, default=0.0,
                   help="also decode the gain-1 copies with this much digital silence (zeros) on each side")
    p.add_argument("--out", default="/tmp/recording_level", type=_args.output_dir)
    args = p.parse_args()
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent
    print("command: " + " ".join(shlex.quote(a) for a in sys.argv))
    print("| gain | level | --no-level-norm WER % | --level-norm WER % |")
    print("|---|---|---|---|")
    cases = [(g, 0.0) for g in args.gains] + ([(1.0, args.pad_s)] if args.pad_s else [])
    for gain, pad_s in cases:
        scp = gain_scp(data / "wav.scp", gain, out / f"wav_{gain:g}_{pad_s:g}.scp", pad_s)
        wers = []
        for flag in ("--no-level-norm", "--level-norm"):
            dec = out / f"dec_{gain:g}_{pad_s:g}{flag}"
            cmd = [str(bin_dir / "asrkit-decode"), "--model", args.model, flag, "--wav-scp", str(scp),
                   "--output-dir", str(dec)] + (["--config", args.config] if args.config else [])
            subprocess.run(cmd, check=True, capture_output=True)
            score = subprocess.run([str(bin_dir / "asrkit-score"), str(data / "text"), str(dec / "text")],
                                   check=True, capture_output=True, text=True).stdout
            m = re.search(r"%WER ([\d.]+) \[ (\d+) / (\d+)", score)
            wers.append(f"{m.group(1)} ({m.group(2)}/{m.group(3)})")
        db = 20 * __import__("math").log10(gain)
        what = f"{db:+.0f} dB" + (f", {pad_s:g} s of zeros each side" if pad_s else "")
        print(f"| {gain:g} | {what} | {wers[0]} | {wers[1]} |")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _args.run(main)
