"""Reading the audio a ``wav.scp`` names: files, ``cmd |`` pipes, and ``segments`` cut from them.

Samples come back as float32 at int16 scale (-32768..32767), which is what Kaldi's feature code
sees, so energies and log-mel values match Kaldi's own numbers. The RIFF parser is our own
(numpy ``frombuffer`` on the data chunk): it is faster than ``wave``/kaldiio for short
utterances and lets every failure say what is wrong with which utterance's audio.

Kaldi's conventions are kept: a value ending in ``|`` is run through ``/bin/sh`` and its stdout
read as WAV; with ``segments`` the utterance is ``samples[int(start * rate):int(end * rate)]``
of its recording, ``end == -1`` meaning to the end, and an end up to 0.5 s past the recording
(``extract-segments --max-overshoot``) is clipped rather than refused.

e.g.::

    >>> for entry in read_wav_scp("data/test/wav.scp"):          # doctest: +SKIP
    ...     samples, rate = entry.load()
"""
from __future__ import annotations

import struct
import subprocess
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from asrkit.data.datadir import parse_segment
from asrkit.data.table import iter_table
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike

# Streaming writers (sox, ffmpeg to a pipe) cannot seek back to fill in the sizes, so they
# write one of these as the data chunk size; the data then simply runs to the end of the stream.
_UNKNOWN_SIZES = {0, 0xFFFFFFFF, 0x7FFFF000, 0x7FFFFFFF}
_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
MAX_OVERSHOOT_S = 0.5  # as Kaldi's extract-segments


def parse_wav_bytes(data: bytes, what: str, streamed: bool = False, channel: int = -1) -> Tuple[np.ndarray, int]:
    """Decode a 16-bit PCM RIFF/WAVE byte string into ``(samples (N,) float32, sample_rate)``.

    ``what`` names the source in errors (e.g. ``utterance 'a1' (a1.wav)``). ``streamed`` allows a
    data chunk shorter than its header says (pipes); for a file that is a truncated wav, an error.
    ``channel`` picks one channel of a multi-channel file; -1 demands mono, as Kaldi does.
    """
    if len(data) == 0:
        raise AsrkitError(f"{what}: empty file (0 bytes)")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AsrkitError(f"{what}: not a RIFF/WAVE file (starts with {data[:4]!r})")
    pos = 12
    fmt: Optional[Tuple[int, int, int, int, int]] = None
    while True:
        if pos + 8 > len(data):
            if fmt is None:
                raise AsrkitError(f"{what}: truncated WAV header (no 'fmt ' chunk)")
            raise AsrkitError(f"{what}: truncated WAV header (no 'data' chunk)")
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            if body + 16 > len(data):
                raise AsrkitError(f"{what}: truncated WAV header ('fmt ' chunk cut short)")
            if size < 16:
                raise AsrkitError(f"{what}: malformed 'fmt ' chunk ({size} bytes)")
            fmt = struct.unpack_from("<HHIIH", data, body)[:4] + struct.unpack_from("<H", data, body + 14)
            if fmt[0] == _WAVE_FORMAT_EXTENSIBLE and size >= 26:
                fmt = (struct.unpack_from("<H", data, body + 24)[0],) + fmt[1:]
        elif cid == b"data":
            if fmt is None:
                raise AsrkitError(f"{what}: 'data' chunk before 'fmt ' chunk")
            break
        pos = body + size + (size & 1)  # chunks are padded to even sizes
    audio_format, num_channels, rate, _, bits = fmt
    if audio_format != _WAVE_FORMAT_PCM or bits != 16:
        kind = f"{bits}-bit PCM" if audio_format == _WAVE_FORMAT_PCM else f"format tag {audio_format}"
        raise AsrkitError(f"{what}: unsupported WAV encoding ({kind}); only 16-bit PCM is read "
                          f"(convert in wav.scp, e.g. 'sox in.wav -b 16 -t wav - |')")
    if num_channels < 1 or rate < 1:
        raise AsrkitError(f"{what}: malformed 'fmt ' chunk ({num_channels} channels, {rate} Hz)")
    available = len(data) - body
    if size in _UNKNOWN_SIZES and (streamed or size != 0):
        size = available
    elif size > available:
        if not streamed:
            raise AsrkitError(f"{what}: truncated WAV file (header promises {size} bytes of samples, "
                              f"file has {available})")
        size = available
    frame_bytes = 2 * num_channels
    size -= size % frame_bytes
    if size == 0:
        raise AsrkitError(f"{what}: empty WAV file (no samples)")
    samples = np.frombuffer(data, dtype="<i2", count=size // 2, offset=body)
    if num_channels > 1:
        if channel < 0:
            raise AsrkitError(f"{what}: WAV has {num_channels} channels; choose one with --channel")
        if channel >= num_channels:
            raise AsrkitError(f"{what}: --channel {channel} but the WAV has {num_channels} channels")
        samples = samples.reshape(-1, num_channels)[:, channel]
    return samples.astype(np.float32), rate


def read_wav_source(source: str, what: str, channel: int = -1) -> Tuple[np.ndarray, int]:
    """Read one wav.scp value: a file path, or a shell command ending in ``|``."""
    if source.endswith("|"):
        cmd = source[:-1].strip()
        proc = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            detail = f": {err[-1]}" if err else ""
            raise AsrkitError(f"{what}: command '{cmd}' exited with status {proc.returncode}{detail}")
        return parse_wav_bytes(proc.stdout, what, streamed=True, channel=channel)
    try:
        with open(source, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise AsrkitError(f"{what}: no such file") from None
    except OSError as e:
        raise AsrkitError(f"{what}: cannot read: {e.strerror}") from None
    return parse_wav_bytes(data, what, channel=channel)


@dataclass(frozen=True)
class WavEntry:
    """One utterance to read: a whole wav.scp entry, or a segment of one."""

    utt_id: str
    source: str  # path or "cmd |"
    where: str  # the table line that named it, for messages: "data/x/wav.scp:12"
    reco_id: str = ""
    start: float = 0.0
    end: float = -1.0  # -1: to the end of the recording
    channel: int = -1

    @property
    def what(self) -> str:
        return f"utterance {self.utt_id!r} ({self.where}: {self.source})"

    def load(self, recording: Optional[Tuple[np.ndarray, int]] = None) -> Tuple[np.ndarray, int]:
        """``(samples (N,) float32 int16-scale, sample_rate)``; raises AsrkitError naming the utterance.

        ``recording`` is the already-read whole recording, so consecutive segments of one
        recording are cut from a single read.
        """
        samples, rate = recording if recording is not None else read_wav_source(self.source, self.what, self.channel)
        if not self.reco_id:
            return samples, rate
        begin = int(self.start * rate)
        stop = len(samples) if self.end == -1 else int(self.end * rate)
        if stop > len(samples):
            if stop - len(samples) > int(MAX_OVERSHOOT_S * rate):
                raise AsrkitError(f"{self.what}: segment ends at {self.end} s, past the recording "
                                  f"({len(samples) / rate:.3f} s)")
            stop = len(samples)
        if begin >= stop:
            raise AsrkitError(f"{self.what}: segment [{self.start}, {self.end}] s holds no samples "
                              f"(recording is {len(samples) / rate:.3f} s)")
        return samples[begin:stop], rate


def _scp_path(wav_rspecifier: str) -> str:
    """The wav.scp path from ``scp:path`` (Kaldi's form) or a bare path."""
    spec = wav_rspecifier
    if ":" in spec and spec.split(":", 1)[0].replace(",", "").isalpha():
        opts, path = spec.split(":", 1)
        kinds = [o for o in opts.split(",") if o in ("scp", "ark")]
        if kinds != ["scp"]:
            raise AsrkitError(f"bad wav rspecifier {spec!r}: asrkit reads audio from a wav.scp, "
                              f"e.g. scp:data/test/wav.scp")
        spec = path
    if spec in ("", "-"):
        raise AsrkitError(f"bad wav rspecifier {wav_rspecifier!r}: give a wav.scp file, e.g. scp:data/test/wav.scp")
    return spec


def read_wav_scp(wav_rspecifier: str, segments: Optional[PathLike] = None, channel: int = -1) -> List[WavEntry]:
    """The utterances a wav.scp (and optional segments file) describes, in file order.

    Malformed lines and duplicate ids are errors naming ``file:line``, raised before any audio
    is read: a broken table is the user's to fix, not something to skip.
    """
    path = _scp_path(wav_rspecifier)
    recos: Dict[str, Tuple[str, int]] = {}
    for line in iter_table(path):
        if line.key in recos:
            raise AsrkitError(f"{path}:{line.lineno}: duplicate id {line.key!r} (first on line {recos[line.key][1]})")
        recos[line.key] = (line.value, line.lineno)
    if segments is None:
        return [WavEntry(utt, src, f"{path}:{n}", channel=channel) for utt, (src, n) in recos.items()]
    entries: List[WavEntry] = []
    seen: Dict[str, int] = {}
    for line in iter_table(segments):
        where = f"{segments}:{line.lineno}"
        if line.key in seen:
            raise AsrkitError(f"{where}: duplicate utterance {line.key!r} (first on line {seen[line.key]})")
        seen[line.key] = line.lineno
        reco, start, end = parse_segment(line.value, where)
        if reco not in recos:
            raise AsrkitError(f"{where}: recording {reco!r} of utterance {line.key!r} is not in {path}")
        src, n = recos[reco]
        entries.append(WavEntry(line.key, src, f"{path}:{n}", reco, start, end, channel))
    return entries


def iter_wavs(entries: List[WavEntry]) -> Iterator[Tuple[WavEntry, Optional[Tuple[np.ndarray, int]], Optional[AsrkitError]]]:
    """Yield ``(entry, (samples, rate), None)`` or ``(entry, None, error)`` for each entry in order.

    A bad utterance is reported, not raised, so a caller can log it and go on as Kaldi does.
    Consecutive segments of one recording share one read of it.
    """
    cache_key: Optional[str] = None
    cache: Optional[Tuple[np.ndarray, int]] = None
    cache_err: Optional[AsrkitError] = None
    for entry in entries:
        recording = None
        if entry.reco_id:
            if entry.reco_id != cache_key:
                cache_key, cache, cache_err = entry.reco_id, None, None
                try:
                    cache = read_wav_source(entry.source, f"recording {entry.reco_id!r} ({entry.where}: "
                                                          f"{entry.source})", entry.channel)
                except AsrkitError as e:
                    cache_err = e
            if cache_err is not None:
                yield entry, None, AsrkitError(f"utterance {entry.utt_id!r}: {cache_err}")
                continue
            recording = cache
        try:
            yield entry, entry.load(recording), None
        except AsrkitError as e:
            yield entry, None, e

