"""Helpers for the feature tests: real AN4 waves, and small hand-made (good and bad) ones."""
from __future__ import annotations

import wave
from pathlib import Path
from typing import Iterable, List, Tuple

import numpy as np


def an4_test_wavs(an4_root: Path) -> List[Path]:
    return sorted((an4_root / "wav" / "an4test_clstk").glob("*/*.wav"))


def read_wav_reference(path: Path) -> Tuple[np.ndarray, int]:
    """Samples through the standard library's wave module: an independent reader to compare with."""
    with wave.open(str(path), "rb") as w:
        data = w.readframes(w.getnframes())
        return np.frombuffer(data, dtype="<i2").astype(np.float32), w.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return path


def write_scp(path: Path, entries: Iterable[Tuple[str, object]]) -> Path:
    path.write_text("".join(f"{k} {v}\n" for k, v in entries), encoding="utf-8")
    return path


def leftovers(directory: Path) -> List[str]:
    """Everything in ``directory`` (recursively): after a failed run this must be empty."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*")) if directory.exists() else []


def run_cli(module, args, input: bytes | None = None):
    """Run a command's click ``main`` in this process (no interpreter/torch start-up per call).

    Returns click's Result (``exit_code``, ``stdout``, ``stderr``, ``stdout_bytes``). Logging is
    pointed back at the real stderr afterwards, since the command set it up on the runner's.
    """
    from click.testing import CliRunner

    from asrkit.utils.logging import setup_logging

    try:
        return CliRunner().invoke(module.main, [str(a) for a in args], input=input, catch_exceptions=False)
    finally:
        setup_logging()
