"""A small tarball in the layout of CMU's an4_raw.bigendian.tar.gz, made from real AN4 WAVs."""
from __future__ import annotations

import io
import re
import tarfile
import wave
from pathlib import Path
from typing import Dict, Tuple

_NAME = re.compile(r"\(([^()]+)\)\s*$")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_an4_raw_tarball(an4_root: Path, n_train: int, n_test: int) -> Tuple[bytes, Dict[str, Path]]:
    """(tar.gz bytes, {path under an4/wav/ of each recording without suffix + '.wav': original WAV}).

    ``an4/etc/an4_{train,test}.transcription`` keep the first N lines; their recordings become
    ``an4/wav/<an4_clstk|an4test_clstk>/<spk>/<id>.raw``: headerless 16-bit big-endian 16 kHz.
    """
    buf = io.BytesIO()
    originals: Dict[str, Path] = {}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for part, sub, n in (("train", "an4_clstk", n_train), ("test", "an4test_clstk", n_test)):
            lines = (an4_root / "etc" / f"an4_{part}.transcription").read_text().splitlines()[:n]
            _add(tar, f"an4/etc/an4_{part}.transcription", ("\n".join(lines) + "\n").encode())
            for line in lines:
                file_id = _NAME.search(line).group(1)
                spk = file_id.split("-")[1]
                wav_path = an4_root / "wav" / sub / spk / f"{file_id}.wav"
                with wave.open(str(wav_path)) as w:
                    frames = w.readframes(w.getnframes())
                samples = bytearray(frames)
                samples[0::2], samples[1::2] = frames[1::2], frames[0::2]  # little -> big endian
                _add(tar, f"an4/wav/{sub}/{spk}/{file_id}.raw", bytes(samples))
                originals[f"{sub}/{spk}/{file_id}.wav"] = wav_path
    return buf.getvalue(), originals
