#!/usr/bin/env python3
"""End-to-end speed of asrkit-compute-fbank on the AN4 test set (130 utterances, 357 s).

Runs the real command (reading the wavs, writing feats.ark/scp, utt2num_frames) as a user
would, one job, one thread (OMP_NUM_THREADS=1; the command sets torch to one thread), and
reports two real-time factors (seconds of audio per second of wall time):

- processing: the command's own clock, from reading wav.scp to the renamed outputs; this
  leaves out Python start-up and ``import torch`` (~1.5-2 s per process, whatever the amount
  of audio), and is the figure the 600x target is about;
- process: the whole process wall time, start-up included, what a 357 s set costs a user.

A reference loop of torchaudio's fbank alone (in-process, audio already in memory) is
printed for comparison. e.g.:

    tools/venv/bin/python bench/fbank_speed.py --an4 ../shared/corpora/an4 --repeat 5
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asrkit.features.wav import read_wav_source  # noqa: E402

TARGET = 600.0


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} cores, load avg {load} (1/5/15 min), Python {platform.python_version()}"


def command_prefix() -> list:
    script = Path(sys.executable).parent / "asrkit-compute-fbank"
    return [str(script)] if script.exists() else [sys.executable, "-m", "asrkit", "compute-fbank"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--an4", default=str(REPO.parent / "shared" / "corpora" / "an4"), help="AN4 corpus root")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the command (best and median reported)")
    parser.add_argument("--no-reference", action="store_true", help="skip the torchaudio-fbank-alone loop")
    args = parser.parse_args()

    an4 = Path(args.an4)
    fileids = an4 / "etc" / "an4_test.fileids"
    if not fileids.is_file():
        sys.exit(f"{fileids}: no such file (give --an4 <corpus root>)")
    work = Path(tempfile.mkdtemp(prefix="fbank_speed."))
    try:
        wavs = [(Path(i).name, an4 / "wav" / f"{i}.wav") for i in fileids.read_text().split()]
        (work / "wav.scp").write_text("".join(f"{u} {p}\n" for u, p in sorted(wavs)))
        audio = [read_wav_source(str(p), u) for u, p in wavs]
        seconds = sum(len(s) / r for s, r in audio)

        cmd = command_prefix() + [f"scp:{work}/wav.scp", f"ark,scp:{work}/dump/feats.ark,{work}/dump/feats.scp"]
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        walls, procs = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            walls.append(time.perf_counter() - start)
            if proc.returncode != 0:
                sys.exit(f"command failed ({proc.returncode}):\n{proc.stderr}")
            m = re.search(r"of audio\) in ([0-9.]+) s", proc.stderr)
            procs.append(float(m.group(1)))
            shutil.rmtree(work / "dump")

        print("# " + " ".join(["python", "bench/fbank_speed.py"] + sys.argv[1:]))
        print(f"# machine: {machine()}")
        print("# command: OMP_NUM_THREADS=1 " + " ".join(cmd).replace(str(work), "$WORK"))
        print(f"# data: AN4 test, {len(wavs)} utterances, {seconds:.1f} s of 16 kHz audio; {args.repeat} runs")
        print(f"{'measure':<44} {'best s':>7} {'median s':>9} {'best xRT':>9} {'median xRT':>11}")
        rows = [("compute-fbank, processing (command's clock)", procs),
                ("compute-fbank, whole process (with start-up)", walls)]
        if not args.no_reference:
            import torch
            import torchaudio.compliance.kaldi as kaldi

            torch.set_num_threads(1)
            ref = []
            tensors = [torch.from_numpy(s).unsqueeze(0) for s, _ in audio]
            for _ in range(args.repeat):
                start = time.perf_counter()
                for t in tensors:
                    kaldi.fbank(t, num_mel_bins=80, dither=0.0, energy_floor=0.0)
                ref.append(time.perf_counter() - start)
            rows.append(("torchaudio fbank alone (audio in memory)", ref))
        for name, times in rows:
            best, med = min(times), statistics.median(times)
            print(f"{name:<44} {best:>7.3f} {med:>9.3f} {seconds / best:>9.0f} {seconds / med:>11.0f}")
        verdict = "meets" if seconds / statistics.median(procs) >= TARGET else "MISSES"
        print(f"# processing real-time factor (median) {seconds / statistics.median(procs):.0f}x {verdict} "
              f"the {TARGET:.0f}x target")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
