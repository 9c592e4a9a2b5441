#!/usr/bin/env python3
"""The same AN4 test utterances as other formats, rates and channel counts, through asrkit-decode
(issue #9, "Formats"): FLAC, OGG/Vorbis, 8 kHz and 44.1 kHz WAV and stereo WAV, each made with
sox from the 16 kHz WAV and decoded with the same model and options as the WAV. Prints, per
format, the texts that differ from the 16 kHz WAV's and the WER against the references, e.g.:
    tools/venv/bin/python bench/audio_formats.py --model egs/an4/asr1/exp/<tag>/model.pt --num 20

Needs sox. Lossless copies at the model's rate (FLAC, stereo of identical channels) must give
the WAV's text; resampled or lossy copies may differ where the model is unsure.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _args  # noqa: E402
from decode_speed import an4_test  # noqa: E402

from asrkit.scoring.score import score_texts  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FORMATS = {  # name: (file suffix, sox output options)
    "wav 16 kHz (original)": (".wav", []),
    "flac": (".flac", []),
    "ogg vorbis": (".ogg", []),
    "wav 8 kHz": (".wav", ["-r", "8000"]),
    "wav 44.1 kHz": (".wav", ["-r", "44100"]),
    "wav stereo": (".wav", ["-c", "2"]),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, type=_args.existing_file, help="packed AN4 model.pt")
    p.add_argument("--an4", default=os.environ.get("ASRKIT_CORPORA", str(REPO.parent / "shared/corpora")) + "/an4",
                   type=_args.existing_dir)
    p.add_argument("--num", type=_args.positive_int, default=20, help="the first N test utterances")
    p.add_argument("--decode-args", default="", help="more asrkit-decode options, e.g. '--beam 10'")
    args = p.parse_args()
    utts = an4_test(Path(args.an4))[:args.num]
    refs = {u: t for u, _, t in utts}
    bindir = Path(sys.executable).parent
    texts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (suffix, opts) in FORMATS.items():
            d = Path(tmp) / name.replace(" ", "_")
            d.mkdir()
            scp = []
            for u, wav, _ in utts:
                out = d / (u + suffix)
                subprocess.run(["sox", "-R", str(wav), *opts, str(out)], check=True)  # -R: the same dither every run
                scp.append(f"{u} {out}\n")
            (d / "wav.scp").write_text("".join(scp))
            subprocess.run([str(bindir / "asrkit-decode"), "--model", args.model, *args.decode_args.split(),
                            "--wav-scp", str(d / "wav.scp"), "--output-dir", str(d / "out")],
                           check=True, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
            texts[name] = dict((line.split(maxsplit=1) + [""])[:2]
                               for line in (d / "out" / "text").read_text().splitlines())
    base = texts["wav 16 kHz (original)"]
    words = sum(len(t.split()) for t in refs.values())
    print(f"| format | texts unlike the 16 kHz WAV's (of {len(utts)}) | WER % ({words} words) |\n|---|---|---|")
    for name, hyp in texts.items():
        differ = sum(hyp.get(u, "").strip() != base.get(u, "").strip() for u in refs)
        wer = score_texts(refs, {u: hyp.get(u, "") for u in refs}, levels=("word",)).wer
        print(f"| {name} | {differ} | {wer:.2f} |")
    print(f"\ncommand: {' '.join([sys.executable] + sys.argv)}")


if __name__ == "__main__":
    _args.run(main)
