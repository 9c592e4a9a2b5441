#!/usr/bin/env python3
"""Convert CMU's an4_raw.bigendian audio (headerless 16-bit big-endian, 16 kHz, mono ``.raw``)
into WAV files beside it (``x.raw`` -> ``x.wav``), so the tree has the same layout as a WAV copy
of AN4. Files already converted are skipped, and each WAV is written under a temporary name and
renamed, so an interrupted run can simply be started again.

    e.g. local/raw_to_wav.py downloads/an4/wav
"""
from __future__ import annotations

import argparse
import sys
import wave
from pathlib import Path

import numpy as np

from asrkit.utils.fileio import atomic_open


def convert(raw: Path, wav: Path, sample_rate: int) -> None:
    data = raw.read_bytes()
    if not data:  # (it became a WAV of no samples, counted as converted)
        raise ValueError(f"{raw}: empty (0 bytes), no audio")
    if len(data) % 2:
        raise ValueError(f"{raw}: odd number of bytes ({len(data)}), not 16-bit audio")
    samples = np.frombuffer(data, dtype=">i2").astype("<i2")
    with atomic_open(wav, "wb", encoding=None) as f:
        with wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            w.writeframes(samples.tobytes())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("wav_root", type=Path, help="folder searched recursively for .raw files")
    p.add_argument("--sample-rate", type=int, default=16000)
    args = p.parse_args(argv)
    raws = sorted(args.wav_root.rglob("*.raw"))
    if not raws:
        print(f"{p.prog}: ERROR: no .raw files under {args.wav_root}", file=sys.stderr)
        return 1
    done = 0
    for raw in raws:
        wav = raw.with_suffix(".wav")
        try:
            if not wav.is_file():
                convert(raw, wav, args.sample_rate)
            done += 1
        except (OSError, ValueError) as e:
            print(f"{p.prog}: WARNING: {e}", file=sys.stderr)
    print(f"{p.prog}: Done {done} out of {len(raws)} files", file=sys.stderr)
    return 0 if done == len(raws) else 1


if __name__ == "__main__":
    sys.exit(main())
