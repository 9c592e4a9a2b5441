#!/usr/bin/env python3
"""Time asrkit's audio reader (features.wav.read_wav_source) per file: AN4 16-bit WAVs and the
same recordings as OGG/Vorbis, FLAC and MP3, best of 3 passes (page cache warm). ``--tree`` reads with another
checkout's asrkit (for a before/after on the same machine and minute).

    OMP_NUM_THREADS=1 tools/venv/bin/python bench/audio_read_speed.py [--tree /path/to/old/checkout]
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

import _args

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--an4-root", default=str(REPO.parent / "shared" / "corpora" / "an4"), type=_args.existing_dir)
    ap.add_argument("--tree", default=str(REPO), help="the checkout whose asrkit reads")
    ap.add_argument("--wavs", type=int, default=400)
    ap.add_argument("--oggs", type=int, default=100, help="how many of the WAVs are also read as OGG, FLAC and MP3")
    args = ap.parse_args()
    # A --tree without asrkit/ (a typo, a checkout not unpacked) measured this checkout's reader
    # under the other tree's name: a 'before' figure that was the 'after' one.
    if not os.path.isfile(os.path.join(args.tree, "asrkit", "__init__.py")):
        ap.error(f"--tree {args.tree}: no asrkit/__init__.py there (a checkout or git archive of asrkit)")
    if args.wavs < 1 or args.oggs < 1:
        ap.error(f"--wavs and --oggs must be 1 or more, got {args.wavs} and {args.oggs}")
    sys.path.insert(0, args.tree)
    import soundfile

    import asrkit
    from asrkit.features.wav import read_wav_source

    if Path(asrkit.__file__).resolve().parent != Path(args.tree, "asrkit").resolve():
        raise _args.BenchError(f"asrkit was imported from {Path(asrkit.__file__).parent}, not --tree {args.tree}")

    files = sorted(glob.glob(os.path.join(args.an4_root, "wav", "an4_clstk", "*", "*.wav")))[:args.wavs]
    if not files:
        raise _args.BenchError(f"no AN4 WAVs under {args.an4_root}/wav/an4_clstk")
    with tempfile.TemporaryDirectory() as tmp:
        # (FLAC and MP3: each has its own checks of the stated length, a second file joined on, the
        # last frame; the figures of those checks' cost)
        copies = {"ogg": [], "flac": [], "mp3": []}
        for f in files[:args.oggs]:
            x, rate = soundfile.read(f, dtype="int16")
            for fmt, subtype in (("ogg", "VORBIS"), ("flac", "PCM_16"), ("mp3", "MPEG_LAYER_III")):
                out = os.path.join(tmp, f"{Path(f).stem}.{fmt}")
                soundfile.write(out, x, rate, format=fmt.upper(), subtype=subtype)
                copies[fmt].append(out)
        print(f"# {' '.join(['bench/audio_read_speed.py'] + sys.argv[1:])}  (asrkit from {args.tree})")
        for name, paths in (("wav", files), *copies.items()):
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                for p in paths:
                    read_wav_source(p, p)
                best = min(best, time.perf_counter() - start)
            print(f"{name}: {len(paths)} files, {best / len(paths) * 1000:.3f} ms per file")


if __name__ == "__main__":
    _args.run(main)
