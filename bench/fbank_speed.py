#!/usr/bin/env python3
"""End-to-end speed of asrkit-compute-fbank on the AN4 test set (130 utterances, 357 s), from
WAV and from FLAC copies of the same audio.

Runs the real command (reading the audio, writing feats.ark/scp, utt2num_frames) as a user
would, one job, one thread (OMP_NUM_THREADS=1; the command sets torch to one thread), and
reports real-time factors (seconds of audio per second of wall time):

- processing: the command's own clock, from reading wav.scp to the renamed outputs; this
  leaves out Python start-up and ``import torch`` (~1.5-2 s per process, whatever the amount
  of audio), and is the figure the 600x target is about;
- process: the whole process wall time, start-up included, what a 357 s set costs a user;
- read, and read + fbank, in process: ``asrkit.features.wav.read_wav_source`` over the 130
  files alone, and followed by ``compute_fbank``, to show what the audio reader costs.

The FLAC copies are written here with soundfile (16-bit, same samples). The command and the
reader are the ones of the tree this script lives in (PYTHONPATH is set to it), so copying the
script (and bench/_args.py beside it) into an older checkout measures that checkout's reader (a reader that refuses FLAC
prints n/a). A reference loop of torchaudio's fbank alone (audio already in memory) is printed
for comparison. e.g.:

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

import _args  # noqa: E402 (bench/, the script's own dir, is on sys.path)
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


def timed(fn, repeat: int) -> list:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def run_command(cmd: list, env: dict, work: Path, repeat: int):
    """(processing times on the command's clock, whole-process wall times)."""
    walls, procs = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        if proc.returncode != 0:
            return None, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        m = re.search(r"of audio\) in ([0-9.]+) s", proc.stderr)
        procs.append(float(m.group(1)))
        shutil.rmtree(work / "dump")
    return procs, walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--an4", default=str(REPO.parent / "shared" / "corpora" / "an4"), type=_args.existing_dir,
                        help="AN4 corpus root")
    parser.add_argument("--repeat", type=_args.positive_int, default=3,
                        help="runs of each measure (best and median reported)")
    parser.add_argument("--formats", default="wav,flac", help="comma-separated: wav, flac")
    parser.add_argument("--no-reference", action="store_true", help="skip the torchaudio-fbank-alone loop")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    if not set(formats) <= {"wav", "flac"}:
        parser.error(f"--formats: wav and/or flac, not {args.formats!r}")

    import torch

    from asrkit.features.fbank import FbankConfig, compute_fbank
    from asrkit.utils.errors import AsrkitError

    torch.set_num_threads(1)
    an4 = Path(args.an4)
    fileids = an4 / "etc" / "an4_test.fileids"
    if not fileids.is_file():
        raise _args.BenchError(f"{fileids}: no such file (give --an4 <corpus root>)")
    work = Path(tempfile.mkdtemp(prefix="fbank_speed."))
    try:
        wavs = sorted((Path(i).name, an4 / "wav" / f"{i}.wav") for i in fileids.read_text().split())
        audio = [read_wav_source(str(p), u) for u, p in wavs]
        seconds = sum(len(s) / r for s, r in audio)
        lists = {"wav": wavs}
        if "flac" in formats:
            import numpy as np
            import soundfile

            (work / "flac").mkdir()
            lists["flac"] = [(u, work / "flac" / f"{u}.flac") for u, _ in wavs]
            for (_, path), (samples, rate) in zip(lists["flac"], audio):
                soundfile.write(path, samples.astype(np.int16), rate, format="FLAC", subtype="PCM_16")

        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        rows, notes, cmd = [], [], None
        for fmt in formats:
            files = lists[fmt]
            scp = work / f"{fmt}.scp"
            scp.write_text("".join(f"{u} {p}\n" for u, p in files))
            cfg = FbankConfig()

            def read_all():
                for u, p in files:
                    read_wav_source(str(p), u)

            def read_fbank_all():
                for u, p in files:
                    samples, rate = read_wav_source(str(p), u)
                    compute_fbank(samples, rate, cfg, u)

            try:
                read_all()
            except AsrkitError as e:
                notes.append(f"# {fmt}: n/a, this tree's reader refuses it: {e}")
                continue
            # Cheap (tens of ms), so repeated more: the best of many is what survives a loaded machine.
            rows.append((f"{fmt}: read only (in process, {max(args.repeat, 20)} runs)",
                         timed(read_all, max(args.repeat, 20))))
            rows.append((f"{fmt}: read + fbank (in process)", timed(read_fbank_all, args.repeat)))
            cmd = command_prefix() + [f"scp:{scp}", f"ark,scp:{work}/dump/feats.ark,{work}/dump/feats.scp"]
            procs, walls = run_command(cmd, env, work, args.repeat)
            if procs is None:
                notes.append(f"# {fmt}: compute-fbank failed: {walls}")
                continue
            rows.append((f"{fmt}: compute-fbank, processing", procs))
            rows.append((f"{fmt}: compute-fbank, whole process", walls))

        print("# " + " ".join(["python", "bench/fbank_speed.py"] + sys.argv[1:]))
        print(f"# machine: {machine()}")
        print(f"# tree: {REPO}")
        if cmd:
            shown = " ".join(cmd).replace(str(work), "$WORK")
            print("# command: OMP_NUM_THREADS=1 " + re.sub(r"\$WORK/\w+\.scp", "$WORK/<fmt>.scp", shown))
        print(f"# data: AN4 test, {len(wavs)} utterances, {seconds:.1f} s of 16 kHz audio; {args.repeat} runs; "
              f"formats: {', '.join(formats)} (FLAC copies written with soundfile, 16-bit)")
        for note in notes:
            print(note)
        if not args.no_reference:
            import torchaudio.compliance.kaldi as kaldi

            tensors = [torch.from_numpy(s).unsqueeze(0) for s, _ in audio]

            def reference():
                for t in tensors:
                    kaldi.fbank(t, num_mel_bins=80, dither=0.0, energy_floor=0.0)

            rows.append(("torchaudio fbank alone (audio in memory)", timed(reference, args.repeat)))
        print(f"{'measure':<44} {'best s':>7} {'median s':>9} {'best xRT':>9} {'median xRT':>11}")
        for name, times in rows:
            best, med = min(times), statistics.median(times)
            print(f"{name:<44} {best:>7.3f} {med:>9.3f} {seconds / best:>9.0f} {seconds / med:>11.0f}")
        wav_procs = dict(rows).get("wav: compute-fbank, processing")
        if wav_procs:
            rtf = seconds / statistics.median(wav_procs)
            print(f"# WAV processing real-time factor (median) {rtf:.0f}x {'meets' if rtf >= TARGET else 'MISSES'} "
                  f"the {TARGET:.0f}x target")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    _args.run(main)
