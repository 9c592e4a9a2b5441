"""wav.scp and segments tables: the utterances they name (:class:`WavEntry`), each read through
:func:`asrkit.features.wav.read_wav_source`.

Kaldi's conventions are kept: a value ending in ``|`` is a command whose stdout is the audio, ``-``
is the recording on stdin (one such line at most), and with ``segments`` each utterance is cut
from its recording as Kaldi's extract-segments cuts it (:func:`asrkit.features.wav.segment_bounds`).
A malformed wav.scp is an error naming ``file:line`` before any audio is read; a bad utterance is an
``AsrkitError`` naming it and its source (:func:`iter_wavs` reports it and goes on), and so is a
segments line that names no usable segment, as extract-segments warns of and skips it. e.g.::

    >>> for entry in read_wav_scp("data/test/wav.scp"):          # doctest: +SKIP
    ...     samples, rate = entry.load()
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from asrkit.data.datadir import read_segment
from asrkit.data.table import iter_table_fast
from asrkit.features.wav import (DEFAULT_MAX_SAMPLES, DOWNMIX, EXPECT_MONO, STDIN, read_wav_source, segment_bounds,
                                 stdin_audio_bytes)
from asrkit.utils.errors import AsrkitError, shown_name
from asrkit.utils.fileio import PathLike, names_stdin
from asrkit.utils.logging import get_logger

if TYPE_CHECKING:  # (numpy is loaded by the reader, when audio is read)
    import numpy as np

log = get_logger(__name__)


@dataclass(frozen=True)
class WavEntry:
    """One utterance to read: a whole wav.scp entry, or a segment of one."""

    utt_id: str
    source: str  # path or "cmd |"
    where: str  # the table line that named it, for messages: "data/x/wav.scp:12"
    reco_id: str = ""
    start: float = 0.0
    end: float = -1.0  # -1: to the end of the recording
    channel: Optional[int] = DOWNMIX
    max_samples: int = DEFAULT_MAX_SAMPLES
    problem: str = ""  # a segments line naming no usable segment: why (the utterance fails when read)

    @property
    def line(self) -> str:
        """``data/x/wav.scp:12: <its value>`` for messages (a value of megabytes cut: shown_name)."""
        return f"{self.where}: {shown_name(self.source)}"

    @property
    def what(self) -> str:
        return f"utterance {self.utt_id!r} ({self.line})"

    def read_recording(self, what: Optional[str] = None) -> Tuple[np.ndarray, int]:
        if self.problem:
            raise AsrkitError(self.problem)
        # (a "-" entry got here through read_wav_scp's checks, or a caller's that refuses it)
        return read_wav_source(self.source, what or self.what, self.channel, self.max_samples, stdin=True)

    def load(self, recording: Optional[Tuple[np.ndarray, int]] = None) -> Tuple[np.ndarray, int]:
        """``(samples (N,) float32 int16-scale, sample_rate)``; raises AsrkitError naming the utterance.

        ``recording`` is the already-read whole recording, so consecutive segments of one
        recording are cut from a single read.
        """
        if self.problem:
            raise AsrkitError(self.problem)
        if recording is None and self.reco_id:
            # Only the segment's samples are read where the file allows (int16 WAV): each segment of
            # an hour-long recording read the whole of it, 138 ms for 2 s of 8 kHz audio, so a
            # training epoch from audio spent hours re-reading recordings.
            return read_wav_source(self.source, self.what, self.channel, self.max_samples, stdin=True,
                                   span=(self.start, self.end))
        samples, rate = recording if recording is not None else self.read_recording()
        if not self.reco_id:
            return samples, rate
        begin, stop = segment_bounds(len(samples), rate, self.start, self.end, self.what)
        return samples[begin:stop], rate


def scp_path_or_none(wav_rspecifier: str) -> Optional[str]:
    """:func:`scp_path`, or None for what it refuses (its error comes when the table is read)."""
    try:
        return scp_path(wav_rspecifier)
    except AsrkitError:
        return None


def scp_path(wav_rspecifier: str) -> str:
    """The wav.scp path from ``scp:path`` (Kaldi's form) or a bare path. Public: compute-fbank
    (asrkit.features.extract) checks that no output is the table it reads."""
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
    if spec.rstrip().endswith("|"):
        # Kaldi's "scp:cmd |" would otherwise be "cmd |: no such file", as if it were a file name.
        raise AsrkitError(f"bad wav rspecifier {wav_rspecifier!r}: a wav.scp made by a command is not read here; "
                          "write it to a file first (cmd > wav.scp), then give scp:wav.scp")
    return spec


def _say_unused_segments(path: str, said: Optional[Set[str]]) -> None:
    """A data dir's wav.scp read without the segments file beside it: its recordings became the
    utterances, whole and under their recording ids (the README's pipeline
    'asrkit-compute-fbank scp:data/test/wav.scp ark:- | ...' on a data dir with segments: one
    61 s "utterance" for 23), and nothing said so until scoring or a fix-data-dir dropped them all.
    ``said``: the wav.scp paths this command was told of already (it may read its table twice), or
    None to tell this read."""
    segments = os.path.join(os.path.dirname(path), "segments")
    if (said is not None and path in said) or not os.path.isfile(path) or not _has_lines(segments):
        return
    if said is not None:
        said.add(path)
    log.warning("%s has a segments file beside it, which was not given: its recordings are read whole, "
                "as utterances named by their recording ids; to read the utterances it describes, give "
                "--segments %s", path, segments)


def _has_lines(path: str) -> bool:
    """Whether ``path`` is a file holding more than white space (a segments file of blank lines
    describes no utterance: nothing was left out)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False  # (a named pipe there: opening it waited for a writer for ever)
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 16), b""):
                if block.strip():
                    return True
    except OSError:
        pass
    return False


def read_wav_scp(wav_rspecifier: str, segments: Optional[PathLike] = None, channel: Optional[int] = DOWNMIX,
                 max_samples: int = DEFAULT_MAX_SAMPLES, stdin_taken: Optional[str] = None,
                 stdin_refused: Optional[str] = None, segments_said: Optional[Set[str]] = None,
                 whole_recordings: bool = False) -> List[WavEntry]:
    """The utterances a wav.scp (and optional segments file) describes, in file order.

    Malformed wav.scp lines and duplicate ids are errors naming ``file:line``, raised before any
    audio is read: a broken table is the user's to fix, not something to skip. A segments line that
    names no usable segment (malformed, times not numbers or reversed, a recording not in wav.scp)
    is an entry whose reading fails with its ``file:line`` (:attr:`WavEntry.problem`): Kaldi's
    extract-segments warns and skips such a line, where asrkit stopped the whole set on it. The
    callers skip and count it as any bad utterance (compute-fbank's 5 % rule included); a segments
    file with no usable line is an error here. ``channel`` and ``max_samples`` apply to every entry
    (see the module docstring).

    A recording ``-`` is read from stdin, as in Kaldi. One such line at most, and not when stdin
    is read as something else: the wav.scp or segments file itself, or the caller's input that
    ``stdin_taken`` names (``--utt-ids /dev/stdin``); each of these is an error naming the line.
    ``stdin_refused``: why this caller cannot read a recording from stdin at all (the error).

    Without ``segments``, a segments file beside the wav.scp is warned of (its recordings are read
    whole): once per table for the ``segments_said`` set the caller holds across its reads (its
    wav.scp paths told of), else on each call; never with ``whole_recordings`` (a reader that
    wants the recordings whole, as asrkit-train's noise list).
    """
    if channel is not None and channel < EXPECT_MONO:
        raise AsrkitError(f"--channel must be -1 (mono only) or a channel number >= 0, got {channel}")
    if max_samples < 1:
        raise AsrkitError(f"the sample limit must be >= 1, got {max_samples}")
    path = scp_path(wav_rspecifier)
    _refuse_audio_as_table(path)
    recos: Dict[str, Tuple[str, int]] = {}
    # The fast reader (the same errors, word for word): a 300k-line wav.scp took 0.9 s to split
    # a line at a time, paid by every asrkit-decode --nj job before its first utterance.
    for key, value, lineno in iter_table_fast(path):
        if key in recos:
            raise AsrkitError(f"{path}:{lineno}: duplicate id {key!r} (first on line {recos[key][1]})")
        recos[key] = (value, lineno)
    _check_stdin_entries(path, recos, segments, stdin_taken, stdin_refused)
    if segments is None:
        if not whole_recordings:
            _say_unused_segments(path, segments_said)
        return [WavEntry(utt, src, f"{path}:{n}", channel=channel, max_samples=max_samples)
                for utt, (src, n) in recos.items()]
    entries: List[WavEntry] = []
    seen: Dict[str, int] = {}
    for key, value, lineno in iter_table_fast(segments):
        where = f"{segments}:{lineno}"
        if key in seen:
            raise AsrkitError(f"{where}: duplicate utterance {key!r} (first on line {seen[key]})")
        seen[key] = lineno
        segment, problem = read_segment(key, value, where, recos, path)
        if segment is None:
            entries.append(WavEntry(key, "", where, problem=problem))
            continue
        reco, start, end = segment
        src, n = recos[reco]
        entries.append(WavEntry(key, src, f"{path}:{n}", reco, start, end, channel, max_samples))
    if entries and all(e.problem for e in entries):
        raise AsrkitError(f"{segments}: no usable segment in its {len(entries)} line(s) (first: {entries[0].problem}); "
                          f"asrkit-validate-data-dir names each bad line")
    return entries


# How the audio files a wav.scp names begin: one given in its place was "x.wav:1: not UTF-8 text".
_AUDIO_MAGIC = (b"RIFF", b"RF64", b"fLaC", b"OggS", b"ID3", b"FORM", b".snd", b"caff")


def _refuse_audio_as_table(path: str) -> None:
    """An audio file given where its wav.scp goes is an error saying so. Its magic alone is not
    enough: a wav.scp's first id may begin so (caffrey_01, FORMAL_2, RIFF_07), and such tables
    were refused as audio; an audio file's next bytes are binary (sizes, with NULs), a table's
    text. A SPHERE header is text, but its first line is the magic alone."""
    try:
        # (stat, not fstat after open: opening a named pipe waited for its writer, for ever where
        # it had none, before the table reader could name it)
        if not stat.S_ISREG(os.stat(path).st_mode):
            return  # (a pipe's first bytes are the table's: not read here)
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return  # (the table reader names it)
    if head.startswith(b"NIST_1A\n") or head.startswith(_AUDIO_MAGIC) and _binary(head):
        raise AsrkitError(f"{path}: is an audio file, not a wav.scp: give a table of '<utterance-id> <audio file or "
                          f"command |>' lines (e.g. echo \"utt1 {path}\" > wav.scp; then scp:wav.scp)")


def _binary(head: bytes) -> bool:
    if any(b < 0x20 and b not in b"\t\n\r" for b in head):
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < len(head) - 3  # (not merely a character cut where the read ended)
    return False


def _check_stdin_entries(path: str, recos: Dict[str, Tuple[str, int]], segments: Optional[PathLike],
                         stdin_taken: Optional[str], stdin_refused: Optional[str]) -> None:
    """The ``-`` (stdin) recordings of a wav.scp: refused where stdin cannot hold them (see read_wav_scp)."""
    first: Optional[Tuple[str, int]] = None
    for reco, (src, n) in recos.items():
        if src != STDIN:
            continue
        where = f"{path}:{n}: recording {reco!r} is '-' (stdin)"
        if stdin_refused:
            raise AsrkitError(f"{where}: {stdin_refused}")
        if first is not None:
            # Kaldi reads the second from a stdin already drained: an empty recording at best.
            raise AsrkitError(f"{where}, as recording {first[0]!r} on line {first[1]} is: stdin holds one "
                              f"recording; name the others by file")
        first = (reco, n)
        taken = stdin_taken or ("the wav.scp itself" if names_stdin(path) else
                                f"the segments file {segments}" if segments is not None and names_stdin(segments)
                                else None)
        if taken:
            raise AsrkitError(f"{where}, but stdin is read as {taken}: one of the two must be a file")


def preload_stdin(entries: Sequence["WavEntry"]) -> None:
    """Read stdin now when one of ``entries`` is ``-``: forked workers (compute-fbank --nj) get
    /dev/null as their stdin (multiprocessing's doing), and two reading it would split the
    stream between them. The result, audio or the reason there is none, is theirs by the fork."""
    if any(e.source == STDIN for e in entries):
        try:
            stdin_audio_bytes(entries[0].max_samples)
        except AsrkitError:
            pass  # kept, and given to each utterance of the recording when it is read


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
        if entry.problem:
            yield entry, None, AsrkitError(entry.problem)
            continue
        if entry.reco_id:
            if entry.reco_id != cache_key:
                cache_key, cache, cache_err = entry.reco_id, None, None
                try:
                    cache = entry.read_recording(f"recording {entry.reco_id!r} ({entry.line})")
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
