#!/usr/bin/env python3
"""Connected-digit utterances from the Free Spoken Digit Dataset, deterministically.

FSDD holds isolated digits (``recordings/<digit>_<speaker>_<take>.wav``, 8 kHz, 50 takes of each
digit per speaker). Each utterance made here is 1-7 digits spoken by ONE speaker, chosen at
random (seeded), joined by short random pauses, with a little silence before and after. The
split is speaker independent: the test speakers' recordings are used only in test. Validation
utterances come from the training speakers but from takes that training never uses.

Silence is not digital zero but noise at about -80 dBFS, so the log mel energies of pauses
stay finite and look like a quiet recording. Output: ``<out>/<set>/{wav.scp,text,utt2spk,
spk2utt}`` and the audio as WAV files under ``<wav-dir>/<set>/``.

    e.g. local/make_connected_digits.py --seed 1 /work/shared/corpora/fsdd data data/wav
"""
from __future__ import annotations

import argparse
import re
import sys
import wave
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from asrkit.data.datadir import write_data_dir
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import atomic_open

WORDS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"]
NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")
RATE = 8000


def read_wav(path: Path) -> np.ndarray:
    try:
        with wave.open(str(path), "rb") as w:
            if w.getframerate() != RATE or w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise AsrkitError(f"{path}: expected 8 kHz 16-bit mono, got {w.getframerate()} Hz, "
                                  f"{8 * w.getsampwidth()}-bit, {w.getnchannels()} channel(s)")
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)
    except (wave.Error, EOFError) as e:
        raise AsrkitError(f"{path}: not a readable WAV file ({e})") from None


def index_recordings(fsdd_root: Path) -> Dict[str, Dict[int, List[Tuple[int, Path]]]]:
    """speaker -> digit -> [(take, path)], sorted so the result does not depend on the file system."""
    rec_dir = fsdd_root / "recordings"
    if not rec_dir.is_dir():
        raise AsrkitError(f"{rec_dir}: no such directory (is {fsdd_root} a copy of FSDD?)")
    index: Dict[str, Dict[int, List[Tuple[int, Path]]]] = {}
    for path in sorted(rec_dir.iterdir()):
        m = NAME.match(path.name)
        if m:
            index.setdefault(m[2], {}).setdefault(int(m[1]), []).append((int(m[3]), path))
    if not index:
        raise AsrkitError(f"{rec_dir}: no recordings named <digit>_<speaker>_<take>.wav")
    for spk in index:
        for digit in index[spk]:
            index[spk][digit].sort()
    return index


def make_set(name: str, pools: Dict[str, Dict[int, List[Path]]], count: int, rng: np.random.Generator,
             args, wav_dir: Path, out_dir: Path) -> int:
    speakers = sorted(pools)
    cache: Dict[Path, np.ndarray] = {}
    rows = []
    (wav_dir / name).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        spk = speakers[rng.integers(len(speakers))]
        n = int(rng.integers(args.min_digits, args.max_digits + 1))
        digits = [int(d) for d in rng.integers(0, 10, size=n)]
        pieces = [rng.uniform(args.edge_min, args.edge_max)]
        audio = []
        for j, d in enumerate(digits):
            choices = pools[spk][d]
            path = choices[rng.integers(len(choices))]
            if path not in cache:
                cache[path] = read_wav(path)
            audio.append(cache[path])
            pieces.append(rng.uniform(args.pause_min, args.pause_max) if j < n - 1 else
                          rng.uniform(args.edge_min, args.edge_max))
        chunks = []
        for j, pause in enumerate(pieces):
            chunks.append(rng.normal(0.0, args.noise, size=int(pause * RATE)).astype(np.float32))
            if j < len(audio):
                chunks.append(audio[j])
        samples = np.clip(np.rint(np.concatenate(chunks)), -32768, 32767).astype("<i2")
        utt = f"{spk}-{name}-{i:05d}"
        wav = (wav_dir / name / f"{utt}.wav").resolve()
        with atomic_open(wav, "wb") as f:
            with wave.open(f, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(RATE)
                w.writeframes(samples.tobytes())
        rows.append((utt, spk, " ".join(WORDS[d] for d in digits), str(wav)))
    write_data_dir(out_dir / name, wav_scp={u: w for u, _, _, w in rows}, text={u: t for u, _, t, _ in rows},
                   utt2spk={u: s for u, s, _, _ in rows})
    return len(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("fsdd_root", type=Path, help="folder holding recordings/")
    p.add_argument("data_dir", type=Path, help="where data/<set>/ go")
    p.add_argument("wav_dir", type=Path, help="where the generated WAV files go (<wav-dir>/<set>/)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--test-speakers", default="theo", help="comma-separated; never used in train or dev")
    p.add_argument("--dev-takes", type=int, default=5, help="the last N takes of each digit of each "
                   "training speaker are used only in dev")
    p.add_argument("--num-train", type=int, default=1500)
    p.add_argument("--num-dev", type=int, default=150)
    p.add_argument("--num-test", type=int, default=300)
    p.add_argument("--min-digits", type=int, default=1)
    p.add_argument("--max-digits", type=int, default=7)
    p.add_argument("--pause-min", type=float, default=0.05, help="seconds between digits")
    p.add_argument("--pause-max", type=float, default=0.30)
    p.add_argument("--edge-min", type=float, default=0.10, help="seconds before the first and after the last digit")
    p.add_argument("--edge-max", type=float, default=0.30)
    p.add_argument("--noise", type=float, default=3.0, help="std of the silence noise (16-bit sample units)")
    args = p.parse_args(argv)
    try:
        if not 1 <= args.min_digits <= args.max_digits:
            raise AsrkitError(f"--min-digits {args.min_digits} / --max-digits {args.max_digits}: need 1 <= min <= max")
        index = index_recordings(args.fsdd_root)
        test_spk = [s for s in args.test_speakers.split(",") if s]
        unknown = [s for s in test_spk if s not in index]
        if unknown or not test_spk:
            raise AsrkitError(f"--test-speakers {args.test_speakers}: not FSDD speakers here "
                              f"(found: {', '.join(sorted(index))})")
        train_spk = sorted(set(index) - set(test_spk))
        if not train_spk:
            raise AsrkitError("no training speakers left after removing the test speakers")
        pools = {"train": {}, "dev": {}, "test": {}}
        for spk in sorted(index):
            for digit in range(10):
                takes = [path for _, path in index[spk].get(digit, [])]
                if not takes:
                    raise AsrkitError(f"{args.fsdd_root}/recordings: no recording of digit {digit} by {spk}")
                if spk in test_spk:
                    pools["test"].setdefault(spk, {})[digit] = takes
                else:
                    if len(takes) <= args.dev_takes:
                        raise AsrkitError(f"{spk} has {len(takes)} takes of digit {digit}: too few for --dev-takes {args.dev_takes}")
                    pools["train"].setdefault(spk, {})[digit] = takes[:-args.dev_takes] if args.dev_takes else takes
                    pools["dev"].setdefault(spk, {})[digit] = takes[-args.dev_takes:] if args.dev_takes else takes
        # One generator per set, seeded from (seed, set), so changing --num-test leaves train as it was.
        for k, (name, count) in enumerate([("train", args.num_train), ("dev", args.num_dev), ("test", args.num_test)]):
            if count <= 0:
                continue
            rng = np.random.default_rng([args.seed, k])
            n = make_set(name, pools[name], count, rng, args, args.wav_dir, args.data_dir)
            print(f"{p.prog}: {args.data_dir / name}: {n} utterances, speakers {', '.join(sorted(pools[name]))}",
                  file=sys.stderr)
    except AsrkitError as e:
        print(f"{p.prog}: ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
