#!/usr/bin/env python3
"""Count the words spoken in yesno recordings and list those that differ from their names.

A yesno transcript is its file name (8 digits, 1 = YES, 0 = NO). Each spoken word is one peak of
the 50 ms energy envelope (dB): a peak louder than 60 % of the way from the file's noise floor
to its loudest frame, and separated from the previous peak by a dip at least DIP dB below the
lower of the two. Prints each file whose count differs from its name, with its envelope.

    local/count_words.py corpus/waves_yesno/*.wav
"""
import sys
import wave
from typing import List

import numpy as np

DIP = 8.0


def envelope(path: str) -> np.ndarray:
    with wave.open(path) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
        hop = w.getframerate() // 20
    return np.array([10 * np.log10(1.0 + np.mean(x[i:i + hop] ** 2)) for i in range(0, len(x) - hop + 1, hop)])


def count_words(db: np.ndarray) -> int:
    floor, top = np.percentile(db, 10), db.max()
    loud = floor + 0.6 * (top - floor)
    peaks: List[float] = []
    low = np.inf                                   # the lowest point since the last peak
    for i in range(1, len(db) - 1):
        low = min(low, db[i])
        if db[i] >= loud and db[i] >= db[i - 1] and db[i] >= db[i + 1]:
            if peaks and low > min(peaks[-1], db[i]) - DIP:
                peaks[-1] = max(peaks[-1], db[i])  # no real pause: the same word
            else:
                peaks.append(db[i])
            low = np.inf
    return len(peaks)


def main(paths: List[str]) -> int:
    bad = 0
    for path in paths:
        name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        db = envelope(path)
        n, expected = count_words(db), len(name.split("_"))
        if n != expected:
            bad += 1
            print(f"{path}: {n} words spoken, {expected} in its name; energy (dB per 50 ms): "
                  + " ".join(f"{v:.0f}" for v in db))
    print(f"{bad} of {len(paths)} recordings differ from their names", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
