#!/usr/bin/env python3
"""Synthesised noise recordings for on-the-fly noise mixing (asrkit-train's augment.noise_scp).

FSDD's voices were each recorded on one microphone in one room, so a model trained on four of
them also learns their channels and backgrounds. Mixing noise of many spectral shapes into the
training audio (multi-condition training) asks the model to ignore what a new speaker's room and
microphone add. No noise corpus (MUSAN) is at hand offline, so the noises are synthesised, with
fixed seeds: white, pink (1/f), brown (1/f^2, mostly below a few hundred Hz; all from 20 Hz up), low rumble (brown
noise below 150 Hz) and mains hum (50 or 60 Hz with harmonics, a little white noise under it),
several takes of each.

    local/make_noise.py --out noise --rate 8000    # noise/*.wav and noise/wav.scp (absolute paths)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile

from asrkit.utils.errors import os_error_message


def colored(white: np.ndarray, exponent: float, rate: int, cutoff_hz: float = 0.0) -> np.ndarray:
    """``white`` (Gaussian noise, two samples or more) shaped so that its power falls as
    1/f**exponent (0 white, 1 pink, 2 brown), optionally low-passed at ``cutoff_hz``; unit RMS.
    The caller draws ``white``, so its generator's other draws stay in the order it had them
    (make_connected_digits.py draws the exponent after the noise)."""
    n = len(white)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1.0 / rate)
    # Nothing below 20 Hz: brown noise would otherwise be mostly a slow drift, which Kaldi's
    # per-frame DC removal takes out before any filter bank sees it.
    spec[f < 20.0] = 0.0
    spec[f >= 20.0] *= f[f >= 20.0] ** (-exponent / 2.0)
    if cutoff_hz:
        spec[f > cutoff_hz] = 0.0
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def hum(rng: np.random.Generator, n: int, rate: int, mains_hz: float) -> np.ndarray:
    t = np.arange(n) / rate
    x = np.zeros(n)
    for k in range(1, 8):
        if k * mains_hz < rate / 2:
            x += rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * k * mains_hz * t + rng.uniform(0, 2 * np.pi))
    x += 0.05 * rng.standard_normal(n)
    return x / np.sqrt(np.mean(x ** 2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for the recordings and wav.scp")
    ap.add_argument("--rate", type=int, default=8000, help="sample rate (the fbank config's)")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each recording")
    ap.add_argument("--takes", type=int, default=3, help="recordings of each kind")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    # (not 0 < nan: a NaN length was a ValueError traceback, a huge one numpy's allocation error)
    if not (1000 <= args.rate <= 192000 and 0 < args.seconds <= 3600 and args.takes >= 1):
        sys.exit(f"{sys.argv[0]}: ERROR: --rate from 1000 to 192000, --seconds above 0 and at most 3600, "
                 f"--takes >= 1, got {args.rate}, {args.seconds}, {args.takes}")
    try:  # (an --out under a file, or one that is a file, was an OSError traceback)
        return make(args)
    except OSError as e:
        if os_error_message(e) is None:
            raise
        sys.exit(f"{sys.argv[0]}: ERROR: {os_error_message(e)}")


def make(args) -> int:
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    n = int(args.seconds * args.rate)
    kinds = {
        "white": lambda rng: colored(rng.standard_normal(n), 0.0, args.rate),
        "pink": lambda rng: colored(rng.standard_normal(n), 1.0, args.rate),
        "brown": lambda rng: colored(rng.standard_normal(n), 2.0, args.rate),
        "rumble": lambda rng: colored(rng.standard_normal(n), 2.0, args.rate, cutoff_hz=150.0),
        "hum50": lambda rng: hum(rng, n, args.rate, 50.0),
        "hum60": lambda rng: hum(rng, n, args.rate, 60.0),
    }
    lines = []
    for k, (name, make) in enumerate(kinds.items()):
        for take in range(args.takes):
            rng = np.random.default_rng([args.seed, k, take])
            x = make(rng) * 3000.0  # int16 scale, far from clipping at unit RMS
            path = out / f"{name}_{take}.wav"
            tmp = path.with_name(path.name + ".tmp")
            soundfile.write(tmp, np.clip(x, -32768, 32767).astype(np.int16), args.rate, format="WAV", subtype="PCM_16")
            tmp.replace(path)
            lines.append(f"{name}_{take} {path}\n")
    tmp = out / "wav.scp.tmp"
    tmp.write_text("".join(lines))
    tmp.replace(out / "wav.scp")
    print(f"{len(lines)} noise recordings of {args.seconds:g} s at {args.rate} Hz -> {out}/wav.scp", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
