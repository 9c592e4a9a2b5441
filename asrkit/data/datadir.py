"""A Kaldi data directory: plain-text tables keyed by utterance (or recording, or speaker).

``data/<set>/`` holds ``wav.scp`` (recording -> path or pipe), optional ``segments``
(utt -> recording start end), ``text`` (utt -> transcript), ``utt2spk``, ``spk2utt``, and after
feature extraction ``feats.scp`` and ``utt2num_frames``. This class only knows where the
tables are and how to read them; checking and repairing live in ``validate.py``/``fix.py``.
"""
from __future__ import annotations

import math
import re
import shlex
from pathlib import Path
from typing import Container, Dict, List, Mapping, Optional, Tuple

from asrkit.data.table import (IS_A_DIRECTORY, ascii_int, format_table, iter_table, read_list_table, read_table,
                               read_utt2spk, split_fields, utt2spk_to_spk2utt)
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import AtomicFiles, PathLike, not_found_reason, signals_deferred

# A time as Kaldi's ConvertStringToReal (strtod) reads it. Python's float() also takes '1_0'
# (10.0) and non-ASCII digits ('١' is 1.0), which no Kaldi tool reads as a time.
_TIME = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|inf|infinity)", re.IGNORECASE | re.ASCII)

# Tables whose values may legitimately be empty (an utterance with an empty transcript).
_EMPTY_VALUE_OK = {"text"}
TABLES = ("wav.scp", "segments", "text", "utt2spk", "spk2utt", "feats.scp", "utt2num_frames", "utt2dur",
          "reco2file_and_channel", "spk2gender", "cmvn.scp")
# What each table is keyed by, so fix and split filter it by the right ids. wav.scp is keyed by
# utterance when there is no segments file.
UTT_TABLES = ("utt2spk", "text", "segments", "feats.scp", "utt2num_frames", "utt2dur", "utt2uniq", "utt2lang",
              "utt2sample_rate")
RECO_TABLES = ("wav.scp", "reco2file_and_channel", "reco2dur")
SPK_TABLES = ("spk2gender", "cmvn.scp")
# Tables a data dir may lack, keyed by speaker or recording only. One that would hold no line (a
# piece's or a fixed dir's speakers all missing from it) is left out, not written empty: validation
# refuses an empty table (fix-data-dir and split-data-dir use this).
OPTIONAL_TABLES = ("spk2gender", "reco2file_and_channel", "reco2dur")


def kaldi_real(text: str) -> Optional[float]:
    """``text`` as Kaldi's ConvertStringToReal (strtod) reads a time or duration, or None: every
    reader of a table of seconds goes through this, so none accepts what another refuses."""
    return float(text) if _TIME.fullmatch(text) else None


def segment_channel(fields: List[str]) -> Optional[str]:
    """The fifth field of a segments line split by :func:`split_fields` (the key already taken off)
    when it is Kaldi's optional channel (a number >= 0), else None.

    Kaldi's extract-segments reads ``<utt> <recording> <start> <end> [<channel>]``, the channel
    0-based in a multi-channel recording; its data-dir tools (validate_data_dir.sh, the CTM and STM
    converters) refuse the field, keeping each channel as a recording of its own. asrkit's readers
    of segments (fbank, training from audio, perturbing, fixing, splitting) carry no per-segment
    channel, so the line is refused as such: "malformed" sent users looking for a typo.
    """
    if len(fields) == 4 and re.fullmatch(r"[0-9]+", fields[3]):
        return fields[3]
    return None


def segment_channel_problem(channel: str) -> str:
    """Why a segments line with a channel field is refused, and what to do instead."""
    return (f"a fifth field, channel {channel} (which Kaldi's extract-segments reads), is not supported: asrkit "
            f"reads no per-segment channel; give the channel its own recording id in wav.scp, e.g. "
            f"'<reco>-{channel} sox <file> -t wav - remix {int(channel) + 1} |', as Kaldi's data dirs do "
            f"(its validate_data_dir.sh refuses the field too)")


class SegmentChannelError(AsrkitError):
    """A segments line with Kaldi's channel field (:func:`segment_channel`), refused as unsupported
    rather than malformed; a class of its own so that asrkit-fix-data-dir can word its reason."""


# What a segments line without its 3 fields is called, by the readers and asrkit-validate-data-dir alike.
MALFORMED_SEGMENT = "malformed segment (expected '<utt> <recording> <start> <end>')"


def segment_times_problem(start_text: str, end_text: str) -> Optional[str]:
    """Why a segments line's ``<start> <end>`` name no segment, or None: the same words from
    asrkit-validate-data-dir (an error) and from the readers (that utterance skipped)."""
    start, end = kaldi_real(start_text), kaldi_real(end_text)
    if start is None or end is None or not (math.isfinite(start) and math.isfinite(end)):
        return f"start and end must be finite numbers, got {start_text!r} {end_text!r}"
    if start < 0:
        return f"negative start time {start_text}"
    # Kaldi allows end -1 for "to the end of the recording".
    if end != -1 and end <= start:
        return f"segment end {end_text} is not after its start {start_text}"
    return None


def parse_segment(value: str, where: str) -> Tuple[str, float, float]:
    """``<recording> <start> <end>`` of a segments line -> ``(recording, start, end)``.

    Times are finite seconds, start >= 0 and end > start, or end -1 (to the end of the
    recording); anything else (``nan``, ``inf``, a reversed segment) is an error naming ``where``
    (:func:`segment_times_problem`).
    """
    # ASCII white space only, as every table reader (split_fields): str.split() cut a recording
    # id holding U+00A0 in two ("malformed line") and read 'rec\u30000 1' as 'rec 0 1'.
    fields = split_fields(value)
    channel = segment_channel(fields)
    if channel is not None:
        raise SegmentChannelError(f"{where}: {segment_channel_problem(channel)}")
    if len(fields) != 3:
        raise AsrkitError(f"{where}: {MALFORMED_SEGMENT}")
    problem = segment_times_problem(fields[1], fields[2])
    if problem is not None:
        raise AsrkitError(f"{where}: {problem}")
    return fields[0], float(kaldi_real(fields[1])), float(kaldi_real(fields[2]))


def try_parse_segment(value: str, where: str) -> Tuple[Optional[Tuple[str, float, float]], str]:
    """:func:`parse_segment` for the readers that skip a bad line: ``(segment, "")``, or ``(None,
    why)`` when the line names no usable segment. A channel field still raises
    (:class:`SegmentChannelError`): a form asrkit does not read, on every line that uses it, not
    one line's fault."""
    try:
        return parse_segment(value, where), ""
    except SegmentChannelError:
        raise
    except AsrkitError as e:
        return None, str(e)


def read_segment(utt: str, value: str, where: str, recordings: Container[str],
                 wav_scp: PathLike) -> Tuple[Optional[Tuple[str, float, float]], str]:
    """A segments line for a reader that skips a bad one, as Kaldi's extract-segments does:
    ``((recording, start, end), "")``, or ``(None, why)`` when it names no usable segment (see
    :func:`parse_segment`, or a recording not in ``recordings``), ``why`` naming the utterance and
    ``where``. A channel field still raises, as in :func:`try_parse_segment`."""
    segment, why = try_parse_segment(value, where)
    if segment is None:
        return None, f"utterance {utt!r}: {why}"
    reco, start, end = segment
    if reco not in recordings:
        return None, f"utterance {utt!r}: {where}: recording {reco!r} of utterance {utt!r} is not in {wav_scp}"
    return (reco, start, end), ""


def positive_seconds(value: str) -> bool:
    """Whether a duration table's value (utt2dur, reco2dur) is a finite number of seconds > 0,
    what validate-data-dir accepts and fix-data-dir keeps."""
    seconds = kaldi_real(value)
    return seconds is not None and math.isfinite(seconds) and seconds > 0


def sample_rate_hz(value: str) -> Optional[int]:
    """utt2sample_rate's value (asrkit-compute-fbank --write-utt2sample-rate) as a rate in Hz, or
    None when it is not a positive integer: asrkit-train refuses the table then, so
    validate-data-dir refuses the line and fix-data-dir drops its utterance (both passed '8k')."""
    rate = ascii_int(value)
    return rate if rate is not None and rate >= 1 else None


def speaker_order_break(utt2spk: Mapping[str, str]) -> Optional[Tuple[str, str]]:
    """The first two utterances, next to each other in utterance-id (C-locale) order, whose speakers
    go down there: where ``utt2spk`` sorted by utterance and sorted by speaker disagree, which
    Kaldi's validate_data_dir.sh refuses. Speaker prefixes alone do not prevent it: speakers 'a'
    and 'a-b' give 'a-b-y' before 'a-x'. None when the orders agree (asrkit-validate-data-dir's
    warning, asrkit-make-data-dir's refusal)."""
    by_utt = sorted(utt2spk, key=str.encode)
    return next(((a, b) for a, b in zip(by_utt, by_utt[1:]) if utt2spk[b].encode() < utt2spk[a].encode()), None)


# A table that is there but no regular file (a device, a FIFO, a socket, or a link to one).
NOT_A_REGULAR_FILE = "not a regular file (a device or pipe)"


def dir_problem(path: Path) -> Optional[str]:
    """Why ``path`` cannot be read as a directory (a file given for one is "not a directory", not
    "no such directory", which sent the user looking for a path that is there), or None."""
    if path.is_dir():
        return None
    return "not a directory" if path.exists() else "no such directory"


class DataDir:
    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"DataDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def other_tables(self, known) -> List[str]:
        """The files here that look like Kaldi tables (``*.scp``, ``utt2*``, ``spk2*``, ``reco2*``:
        vad.scp, utt2category...) but are not in ``known``, sorted: a command that filters or splits
        the tables it knows names these, which it leaves as they were (Kaldi's scripts handle some)."""
        return sorted(p.name for p in self.path.iterdir()
                      if p.name not in known and p.is_file() and not p.name.startswith(".")
                      and (p.name.endswith(".scp") or p.name.startswith(("utt2", "spk2", "reco2"))))

    def not_a_file(self, name: str) -> Optional[str]:
        """Why table ``name``, which :meth:`has` says is absent, is there all the same (a
        directory, a device, a pipe of that name, a link to one, or a link to nothing), or None
        (also for a table that :meth:`has`)."""
        path = self.file(name)
        if path.is_dir():
            return IS_A_DIRECTORY
        if path.is_symlink() and not path.exists():
            # A link to a table that is gone (text -> ../../data/train/text, moved) is there in ls
            # and was taken for an absent table: split-data-dir's pieces and the speed copies came
            # without transcripts, exit 0, and fix-data-dir "needed no change".
            return not_found_reason(path, "file")
        # A link to /dev/zero (or a FIFO) was "no such file" for a required table and, for an
        # optional one, absent: split-data-dir wrote pieces without text, fix-data-dir "needed no
        # change". Such a table cannot be hashed for the split stamp, nor read twice.
        return NOT_A_REGULAR_FILE if path.exists() and not path.is_file() else None

    def require(self, *names: str) -> None:
        problem = dir_problem(self.path)
        if problem:
            raise AsrkitError(f"{self.path}: not a data directory ({problem})")
        for name in names:
            if not self.has(name):
                raise AsrkitError(f"{self.path / name}: {self.not_a_file(name) or 'no such file'} (required in data "
                                  f"dir {self.path})")

    def read(self, name: str) -> Dict[str, str]:
        if name == "utt2spk":
            return read_utt2spk(self.file(name), f"asrkit-fix-data-dir {shlex.quote(str(self.path))} drops that "
                                                 "utterance")
        return read_table(self.file(name), allow_empty_value=name in _EMPTY_VALUE_OK)

    def read_spk2utt(self) -> Dict[str, List[str]]:
        return read_list_table(self.file("spk2utt"))

    def segments(self, bad: Optional[Dict[str, Tuple[str, str]]] = None) -> Dict[str, tuple]:
        """utt -> (recording, start_s, end_s); end -1 means to the end of the recording.

        With ``bad``, a line naming no usable segment (:func:`parse_segment`) is put there (utt ->
        (its recording field, '' if none; why, naming its ``file:line``)) for the caller to skip and
        count, as the audio readers do, instead of raising; a channel field and a duplicate id
        still raise."""
        out: Dict[str, tuple] = {}
        for line in iter_table(self.file("segments")):
            if line.key in out or (bad is not None and line.key in bad):
                raise AsrkitError(f"{self.file('segments')}:{line.lineno}: duplicate key {line.key!r}")
            where = f"{self.file('segments')}:{line.lineno}"
            if bad is None:
                out[line.key] = parse_segment(line.value, where)
                continue
            segment, why = try_parse_segment(line.value, where)
            if segment is None:
                bad[line.key] = ((split_fields(line.value) or [""])[0], why)
            else:
                out[line.key] = segment
        return out

    def utt_ids(self) -> List[str]:
        """Utterance ids in file order, from the first of utt2spk, text, segments, wav.scp present."""
        for name in ("utt2spk", "text", "segments", "feats.scp", "wav.scp"):
            if self.has(name):
                return list(self.read(name))
        raise AsrkitError(f"{self.path}: no utt2spk, text, segments, feats.scp or wav.scp: not a data directory")


def write_data_dir(path: PathLike, wav_scp: Dict[str, str], text: Dict[str, str], utt2spk: Dict[str, str]) -> None:
    """Write a new data dir's wav.scp, text, utt2spk and spk2utt, sorted as Kaldi requires.

    What every recipe's data prep ends with; the three tables must cover the same utterances.
    The other Kaldi tables of an earlier data dir in ``path`` (segments, feats.scp, spk2gender,
    ...) are removed: they would describe other utterances.
    """
    if not (set(wav_scp) == set(text) == set(utt2spk)):
        raise AsrkitError(f"{path}: wav.scp, text and utt2spk would cover different utterances")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    spk2utt = utt2spk_to_spk2utt(dict(sorted(utt2spk.items())))
    # The other tables of an earlier data dir made here (segments, feats.scp, spk2gender, utt2dur,
    # ...) describe other utterances than the new ones: left beside them, they made the dir
    # inconsistent (a stale segments file even decided which audio the new utterances are).
    stale = [name for name in dict.fromkeys(TABLES + UTT_TABLES + RECO_TABLES + SPK_TABLES)
             if name not in ("wav.scp", "text", "utt2spk", "spk2utt") and (path / name).is_file()]
    # All four or none: a full disk after wav.scp must not leave a new wav.scp beside an earlier
    # run's text (a corpus made again into the same data/all). A Ctrl-C or SIGTERM is held until
    # the stale tables are gone too: it landed once the four were in, beside the old segments.
    with signals_deferred():
        with AtomicFiles() as files:
            for name, table in (("wav.scp", wav_scp), ("text", text), ("utt2spk", utt2spk)):
                with files.open(path / name) as f:
                    f.write(format_table(table, sort=True))
            with files.open(path / "spk2utt") as f:
                f.write(format_table(list(spk2utt.items())))
        for name in stale:
            (path / name).unlink(missing_ok=True)
    if stale:
        from asrkit.utils.logging import get_logger

        get_logger(__name__).info("%s: removed %s of an earlier data dir there", path, " ".join(stale))
