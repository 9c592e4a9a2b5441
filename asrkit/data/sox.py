"""Which audio files wav.scp names as paths (the formats the installed libsndfile reads, mono, at
their own rate) and which as ``sox ... |`` pipes (:func:`needs_sox`, :func:`wav_scp_entry`), and what
the installed sox reads (:func:`sox_formats`, :func:`sox_info`, :func:`sox_reads_by_content`).

Used by :mod:`asrkit.data.from_audio` and :mod:`asrkit.data.perturb`; imports no other data module."""
from __future__ import annotations

import functools
import shlex
from pathlib import Path, PurePosixPath
from typing import Optional

from asrkit.utils.fileio import PathLike

# Extensions and the libsndfile format that reads them. A file of these goes into wav.scp as its
# path (asrkit reads it with libsndfile), its header checked by make-data-dir (from_audio), so a
# broken file is a counted skip now rather than a failed feature job later. Other extensions go
# through sox pipes. Public: from_audio also tells audio that --audio-ext leaves out by them.
LIBSNDFILE_FORMATS = {".wav": "WAV", ".wave": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG",
                       ".opus": "OGG", ".mp3": "MP3", ".aif": "AIFF", ".aiff": "AIFF", ".au": "AU",
                       ".snd": "AU", ".caf": "CAF", ".w64": "W64", ".rf64": "RF64", ".sph": "NIST",
                       ".nist": "NIST"}


@functools.lru_cache(maxsize=1)
def _installed_formats() -> frozenset:
    """The formats the installed libsndfile reads: asked once (it enumerates them on every call)."""
    import soundfile

    return frozenset(soundfile.available_formats())


def libsndfile_reads(path: PurePosixPath) -> bool:
    """Whether the installed libsndfile reads files of ``path``'s extension (MP3 needs 1.1 or later)."""
    return LIBSNDFILE_FORMATS.get(path.suffix.lower()) in _installed_formats()


@functools.lru_cache(maxsize=None)
def sox_formats() -> Optional[frozenset]:
    """The file types the installed sox reads ('AUDIO FILE FORMATS' of ``sox -h``); None when
    that cannot be told (no sox, or a help text of another shape)."""
    import subprocess

    try:
        out = subprocess.run(["sox", "-h"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if line.startswith("AUDIO FILE FORMATS:"):
            return frozenset(line.split(":", 1)[1].split())
    return None


def sox_info(path: PathLike):
    """``sox --i path`` run (its header read, no samples): the CompletedProcess, or None where sox
    could not be run. What sox itself makes of a file, whatever its extension says."""
    import subprocess

    try:
        return subprocess.run(["sox", "--i", str(path)], capture_output=True, text=True, errors="replace",
                              timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None


def sox_reads_by_content(path: Path) -> bool:
    """Whether sox reads ``path``, whose extension its 'sox -h' list lacks: it takes some types by
    their content whatever the name (a .wave or .rf64 WAV, an .oga Ogg Vorbis), which the list
    alone refused, though the pipes worked."""
    proc = sox_info(path)
    return proc is not None and proc.returncode == 0 and "Sample Rate" in proc.stdout


def needs_sox(path: PurePosixPath, sample_rate: Optional[int], channels: int = 1) -> bool:
    """Whether a file goes into wav.scp as a sox pipe: another format than libsndfile reads,
    several channels (averaged), or ``sample_rate`` asked for."""
    return sample_rate is not None or channels != 1 or not libsndfile_reads(path)


def wav_scp_entry(path: Path, sample_rate: Optional[int], channels: int = 1, channel: Optional[int] = None) -> str:
    """What wav.scp says for one file: its path (mono audio libsndfile reads), or a sox pipe to
    16-bit mono WAV (:func:`needs_sox`): the channels averaged, or ``channel`` (0-based) taken."""
    if not needs_sox(PurePosixPath(path.name), sample_rate, channels):
        text = str(path)
        if not text.endswith("|") and text == text.strip():
            return text
        return f"cat {shlex.quote(text)} |"  # a path a table would misread as a pipe or trim
    rate = f" -r {sample_rate}" if sample_rate else ""
    if channels > 1 and channel is not None:
        return f"sox {shlex.quote(str(path))} -t wav{rate} -b 16 - remix {channel + 1} |"  # (sox counts from 1)
    return f"sox {shlex.quote(str(path))} -t wav{rate} -c 1 -b 16 - |"
