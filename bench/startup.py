#!/usr/bin/env python3
"""Start-up costs (issue #9 item 6): every command's ``--help``, ``import torch`` alone, and one
short recording decoded end to end by ``asrkit-decode`` (the whole process, one thread).

Each figure is the minimum and the median wall time of ``--repeats`` runs, so a busy machine
shows in the median; the targets are 0.5 s for ``--help`` and 3 s for the decode. The decode
needs a packed model (``--model``); the recording defaults to a 3-second AN4 utterance, e.g.:
    tools/venv/bin/python bench/startup.py --model egs/an4/asr1/exp/<tag>/model.pt
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _args  # noqa: E402
from launch_overhead import wall  # noqa: E402 (one thread, fails loudly on a non-zero exit)

CORPORA = Path(os.environ.get("ASRKIT_CORPORA", ROOT.parent / "shared" / "corpora"))
AN4_3S = "an4/wav/an4_clstk/fbbh/cen2-fbbh-b.wav"  # 3.0 s, 16 kHz


def timed(cmd: list[str], repeats: int) -> tuple[float, float]:
    times = [wall(cmd, os.getcwd()) for _ in range(repeats)]
    return min(times), statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=_args.existing_file, help="packed model for the end-to-end decode (skipped without)")
    p.add_argument("--wav", default=str(CORPORA / AN4_3S), help="the recording to decode")
    p.add_argument("--repeats", type=_args.positive_int, default=5)
    args = p.parse_args()
    if args.model:  # the recording is decoded only with a model: checked before the --help timings
        _args.existing_file(args.wav)
    bindir = Path(sys.executable).parent
    commands = sorted(c.stem.replace("_", "-") for c in (ROOT / "asrkit" / "cli").glob("*.py")
                      if not c.stem.startswith("_"))
    print(f"| what | min s | median s | target |\n|---|---|---|---|")
    worst = 0.0
    for name in ["asrkit"] + [f"asrkit-{c}" for c in commands]:
        exe = bindir / name
        if not exe.exists():
            continue
        lo, med = timed([str(exe), "--help"], args.repeats)
        worst = max(worst, lo)
        print(f"| `{name} --help` | {lo:.2f} | {med:.2f} | 0.5 |")
    lo, med = timed([sys.executable, "-c", "import torch"], args.repeats)
    print(f"| `python -c 'import torch'` (no asrkit) | {lo:.2f} | {med:.2f} | |")
    if args.model:
        import soundfile

        seconds = soundfile.info(args.wav).duration
        lo, med = timed([str(bindir / "asrkit-decode"), "--model", args.model, args.wav], args.repeats)
        print(f"| `asrkit-decode --model M` one {seconds:.1f} s file, whole process | {lo:.2f} | {med:.2f} | 3 |")
    print(f"\nslowest --help (min): {worst:.2f} s; command: {' '.join([sys.executable] + sys.argv)}")


if __name__ == "__main__":
    _args.run(main)
