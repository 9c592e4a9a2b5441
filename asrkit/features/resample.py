"""Resampling (torchaudio's band-limited sinc interpolation, memory bounded for any pair of
rates), speed perturbation, and the sample rates refused when audio is brought to a model's rate.

torch and torchaudio are imported on the first resampling, not with this module. e.g.::

    >>> samples = resample(samples, rate, 16000)                  # doctest: +SKIP
"""
from __future__ import annotations

import math
from typing import Optional

from asrkit.utils.errors import AsrkitError

# Below 4 kHz (2 kHz of bandwidth) most consonants are gone: a model hears mostly the mean in its
# upper mel bins and names digits or letters at random (AN4's model: "ONE ONE ONE" for a 1 kHz
# copy of "P O W E L O"). Audio this far below the rate it is brought to is refused, like any
# unreadable input, instead of a confident guess (a header's 1 Hz is corruption, not speech).
MIN_SAMPLE_RATE = 4000


def resample_problem(num_samples: int, rate: int, target: int, max_samples: int, whose: str,
                     limit_hint: str = "") -> Optional[str]:
    """Why ``num_samples`` at ``rate`` cannot be brought to ``target`` Hz for recognition, or None:
    a copy over ``max_samples`` (the read was capped, its resampled copy must be too: a corrupt
    header's 1 Hz made seconds of audio hours, gigabytes), or a rate under :data:`MIN_SAMPLE_RATE`.
    ``whose`` names the target (``"the model's"``); the callers add the utterance and its source."""
    out_len = math.ceil(num_samples * target / rate)
    if out_len > max_samples:
        return (f"resampling {num_samples} samples from {rate} Hz to {target} Hz gives {out_len}, over the limit of "
                f"{max_samples} samples per read ({limit_hint}a corrupt sample rate in the header?)")
    return low_rate_problem(rate, target, whose)


def low_rate_problem(rate: int, target: int, whose: str) -> Optional[str]:
    """Why audio at ``rate`` is refused for a ``target`` Hz model or config (``whose`` names it), or
    None: under :data:`MIN_SAMPLE_RATE`, and under the target (a model of a lower rate is the
    user's choice)."""
    if rate < min(MIN_SAMPLE_RATE, target):
        return (f"sample rate {rate} Hz is too low to recognise speech (at least {MIN_SAMPLE_RATE} Hz; {whose} is "
                f"{target} Hz)")
    return None


# torchaudio's resampler builds one filter per output phase: target/g filters of about rate/g taps
# (g = gcd(rate, target)). For a rate sharing little with the target that is enormous (44101 Hz to
# 16 kHz: 16000 filters of 44135 taps, 12 GB and 90 s for one second of audio), so past this many
# filter elements the same windowed sinc is evaluated per output sample instead.
_RESAMPLE_KERNEL_LIMIT = 1 << 22
_LOWPASS_ZEROS, _ROLLOFF = 6, 0.99  # torchaudio.functional.resample's defaults
# Input samples resampled at a time (with the filter's reach either side): in one call
# torchaudio's resampler peaked at ~45 bytes per input sample, 2.6 GB for an hour of 16 kHz audio
# and ~12 GB for the 2**28 samples --max-samples lets through, where the samples are 1 GB.
_RESAMPLE_BLOCK = 1 << 22


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """``samples`` (N,) at ``rate`` -> (M,) float32 at ``target_rate``, with torchaudio's
    band-limited sinc interpolation (``torchaudio.functional.resample`` defaults)."""
    rate, target_rate = int(rate), int(target_rate)
    if rate == target_rate:
        return samples
    if rate < 1 or target_rate < 1:
        raise AsrkitError(f"cannot resample from {rate} Hz to {target_rate} Hz")
    g = math.gcd(rate, target_rate)
    orig, new = rate // g, target_rate // g
    width = math.ceil(_LOWPASS_ZEROS * orig / (min(orig, new) * _ROLLOFF))
    if new * (orig + 2 * width) > _RESAMPLE_KERNEL_LIMIT:
        return _resample_per_sample(samples, rate, target_rate)
    import numpy as np
    import torch
    import torchaudio.functional as taf

    wave = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    n = len(wave)
    # Blocks of whole filter periods (orig input samples give new outputs), each with the
    # filter's reach (width) of real samples either side: the outputs kept from a block are
    # computed from the very samples the whole-signal call would use, and the signal's own
    # edges get torchaudio's zero padding as before.
    step = max(1, _RESAMPLE_BLOCK // orig) * orig
    reach = -(-width // orig) * orig
    with torch.no_grad():
        if n <= step + 2 * reach:
            return taf.resample(wave, rate, target_rate).numpy()
        out = []
        for begin in range(0, n, step):
            end = min(begin + step, n)
            lo, hi = max(0, begin - reach), min(n, end + reach)
            piece = taf.resample(wave[lo:hi], rate, target_rate)
            first = (begin - lo) // orig * new
            out.append(piece[first:] if end == n else piece[first:first + (end - begin) // orig * new])
        return torch.cat(out).numpy()


def _resample_per_sample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """torchaudio's Hann-windowed sinc, evaluated at each output sample's own position: memory
    and time grow with the taps per output sample, not with the rates' lowest common multiple."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float64)
    n = len(x)
    out_len = math.ceil(target_rate * n / rate)
    base = min(rate, target_rate) * _ROLLOFF
    half = _LOWPASS_ZEROS * rate / base  # input samples either side with non-zero weight
    taps = int(2 * half) + 2
    chunk = max(1, (1 << 20) // taps)
    out = np.empty(out_len, dtype=np.float32)
    for start in range(0, out_len, chunk):
        j = np.arange(start, min(start + chunk, out_len), dtype=np.float64)
        centre = j * rate / target_rate
        first = np.ceil(centre - half).astype(np.int64)
        p = first[:, None] + np.arange(taps)[None, :]
        t = np.clip((p - centre[:, None]) * (base / rate), -_LOWPASS_ZEROS, _LOWPASS_ZEROS)
        window = np.cos(t * (math.pi / _LOWPASS_ZEROS / 2)) ** 2
        weights = np.sinc(t) * window * (base / rate)
        inside = (p >= 0) & (p < n)
        values = np.where(inside, x[np.clip(p, 0, max(n - 1, 0))], 0.0)
        out[start:start + len(j)] = (values * weights).sum(axis=1)
    return out


def speed_perturb(samples: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """``samples`` played ``factor`` times as fast (tempo and pitch), ``len / factor`` samples long."""
    if factor == 1.0:
        return samples
    # Read as if recorded at rate * factor, resampled back to rate (sox's "speed" does the same).
    src = int(round(rate * factor))
    g = math.gcd(src, int(rate))
    return resample(samples, src // g, int(rate) // g)
