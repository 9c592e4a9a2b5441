"""Check a Kaldi data directory the way Kaldi's ``utils/validate_data_dir.sh`` does.

Unlike the table readers, which stop at the first bad line, validation keeps going and returns
every problem it finds, each tied to ``file:line`` so the user can fix them all in one pass:

>>> problems = validate_data_dir("data/train")            # doctest: +SKIP
>>> [str(p) for p in problems if p.is_error]              # doctest: +SKIP
['data/train/wav.scp:3: not sorted: "a2" comes after "a3" (sort with LC_ALL=C sort)']
"""
from __future__ import annotations

import math

import os
import re
import shlex
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Set, Tuple

from asrkit.data.datadir import (MALFORMED_SEGMENT, RECO_TABLES, SPK_TABLES, TABLES, UTT_TABLES, DataDir, dir_problem,
                                 kaldi_real, positive_seconds, sample_rate_hz, segment_channel, segment_channel_problem,
                                 segment_times_problem, speaker_order_break)
from asrkit.data.table import (BOM, EMPTY_LINE, SPACE, LineReadError, TableLine, ascii_digits, bom_problem, cr_only_at,
                               GZIP_MAGIC, data_dir_of, id_control_problem, id_length_problem, mid_file_bom_problem,
                               read_bounded, refuse_bom, split_fields, transcript_problem)
from asrkit.data.transcript_files import punctuated_word
from asrkit.utils.errors import AsrkitError, shown, shown_name
from asrkit.utils.fileio import PathLike, special_kind

ERROR = "error"
WARNING = "warning"

# Problems that repeat on every line from one cause (speaker-prefix warnings, lines out of order)
# are listed this many times per file, then counted in one more line.
MAX_REPEATED_WARNINGS = 5


@dataclass(frozen=True)
class Problem:
    file: str
    line: Optional[int]
    message: str
    level: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.level == ERROR

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


@dataclass
class ScannedTable:
    """A table read leniently: the well-formed lines, and what was wrong with the rest."""

    path: Path
    lines: List[TableLine] = field(default_factory=list)
    problems: List[Problem] = field(default_factory=list)
    # why no line of it could be read (its first problem): a reader refuses it whole
    unreadable: Optional[str] = None
    crlf_lines: int = 0  # lines ending in CR (Windows line ends), read as LF

    def first_lines(self) -> Dict[str, TableLine]:
        """key -> its first line (later duplicates are reported by :func:`check_sorted_unique`)."""
        out: Dict[str, TableLine] = {}
        for line in self.lines:
            out.setdefault(line.key, line)
        return out


def data_dir_ids(d: DataDir, but: str) -> Set[str]:
    """The ids (utterances, recordings, speakers) the tables of ``d`` other than ``but`` hold, their
    lines split at LF and at CR alike (another table may have CR-only line ends too)."""
    ids: Set[str] = set()
    for name in dict.fromkeys(TABLES + UTT_TABLES + RECO_TABLES + SPK_TABLES):
        if name == but or not d.has(name):
            continue
        try:
            data = read_bounded(d.file(name))
        except (OSError, AsrkitError):
            continue
        for line in re.split(r"[\r\n]", data.decode("utf-8", "replace")):
            fields = split_fields(line)
            if not fields:
                continue
            ids.add(fields[0].lstrip(BOM))
            if name in ("utt2spk", "spk2utt"):  # speakers, utterances
                ids.update(fields[1:])
            elif name == "segments":  # recordings
                ids.update(fields[1:2])
    return ids


def scan_table(path: PathLike, allow_empty_value: bool = False, nul_in_value: bool = False,
               ids: Optional[Callable[[], Set[str]]] = None) -> ScannedTable:
    """Read every line of a table, collecting malformed lines as problems instead of raising.
    ``nul_in_value``: a NUL after the key keeps the line (a transcript's, named by the caller).
    ``ids``: the ids of the data dir's other tables (:func:`data_dir_ids`), asked for only when the
    table holds CRs and no LF: its lines are read at the CRs only where they start with those ids."""
    path = Path(path)
    scanned = ScannedTable(path)
    try:
        data = read_bounded(path)
    except OSError as e:
        scanned.problems.append(Problem(str(path), None, f"cannot read: {e.strerror}"))
        return scanned
    except LineReadError as e:
        scanned.problems.append(Problem(str(path), e.lineno, e.problem))
        return scanned
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data.startswith(GZIP_MAGIC):
        # UTF-16 (Notepad's 'Unicode'): every line was "not UTF-8" or "a NUL byte", 130 errors none
        # saying what the file is, and fix-data-dir failed "130 not in text". Named as the readers do;
        # so is a gzip'ed table (a text.gz renamed text: "text:1: not UTF-8 text" and "12 not in text").
        try:
            refuse_bom(data[:len(GZIP_MAGIC)], str(path))
        except AsrkitError as e:
            scanned.unreadable = str(e).removeprefix(f"{path}:1: ").removeprefix(f"{path}: ")
            scanned.problems.append(Problem(str(path), 1, scanned.unreadable))
            return scanned
    # (a CR inside a one-line transcript is no line end: the line is kept whole, fix adds its LF)
    cr_only = cr_only_at(data, ids) if b"\n" not in data else None
    if cr_only is not None:
        # Old Mac line ends, which every reader refuses (refuse_cr_only): read as one line, the
        # table was one key whose "value" held every other line, 519 errors none of which said
        # why, and fix-data-dir failed with "no utterance is in all of ...". Named once; the lines
        # are read at the CRs, so fix-data-dir rewrites the table with LF, as it does a BOM.
        scanned.problems.append(Problem(str(path), None, f"CR-only (old Mac) line endings: no LF, a CR at byte "
                                                         f"{cr_only} (convert it: tr '\\r' '\\n')"))
        data = data.replace(b"\r", b"\n")
    # Lines end at \n only, as every table reader splits them (iter_table): bytes.splitlines()
    # also broke a line at a lone \r inside a transcript, so validation reported a bogus id and
    # asrkit-fix-data-dir cut the transcript at it without a word.
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    crlf = sum(raw.endswith(b"\r") for raw in lines)
    for lineno, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            scanned.problems.append(Problem(str(path), lineno, f"not UTF-8 text ({e.reason})"))
            continue
        line = line.rstrip("\r")
        parts = split_fields(line, 1)  # as the readers split it (asrkit.data.table)
        nul = line.find("\0")
        if nul >= 0 and not (nul_in_value and parts and "\0" not in parts[0]):
            # Only a damaged line holds one: the readers refuse it in a key (validation passed such
            # an id, which split, fbank and holdout-lists then refused), a wav.scp path or a
            # speaker id cannot hold one. asrkit-fix-data-dir drops the line, counted.
            scanned.problems.append(Problem(str(path), lineno, f"a NUL byte at character {nul} of the line "
                                            "(a binary or damaged file?)"))
            continue
        if line.startswith(BOM):
            # On a later line too: tables each saved with one and joined with cat. Named at its
            # line, and fix-data-dir keeps the line (written back without it), as on line 1; it
            # was an id '\ufeffu7' missing from every other table, its utterance dropped.
            problem = bom_problem(str(path)) if lineno == 1 else mid_file_bom_problem(str(path))
            scanned.problems.append(Problem(str(path), lineno, problem))
            parts = split_fields(line[1:], 1)
        control = id_control_problem(parts[0], data_dir_of(path)) if parts else None
        if control:
            scanned.problems.append(Problem(str(path), lineno, control))
            continue
        if not parts:
            scanned.problems.append(Problem(str(path), lineno, EMPTY_LINE))
        elif line[:1] in SPACE:
            scanned.problems.append(Problem(str(path), lineno, "line starts with whitespace"))
        elif len(parts) == 1 and not allow_empty_value:
            scanned.problems.append(Problem(str(path), lineno, f"malformed line (expected '<id> <value>'): {shown(line)}"))
        elif too_long := id_length_problem(parts[0], data_dir_of(path)):
            scanned.problems.append(Problem(str(path), lineno, too_long))
        else:
            scanned.lines.append(TableLine(parts[0], parts[1].strip(SPACE) if len(parts) > 1 else "", lineno))
    if data and not data.endswith(b"\n"):
        scanned.problems.append(Problem(str(path), len(lines), "no newline at end of file"))
    if crlf:
        scanned.crlf_lines = crlf
        scanned.problems.append(Problem(str(path), None, crlf_problem(path, crlf, len(lines)), WARNING))
    return scanned


def crlf_problem(path: PathLike, crlf: int, lines: int) -> str:
    """What is said of a table with Windows (CRLF) line ends. Not an error: every asrkit reader
    takes the CR for white space, as Kaldi's programs do; but awk, cut and Kaldi's perl scripts (a
    recipe's own local/ steps) keep it in the last field, a word 'SIX\\r' or a path 'a.wav\\r'."""
    d = data_dir_of(path)
    how = f"asrkit-fix-data-dir {shlex.quote(str(d))} rewrites the tables with LF, or " if d is not None else ""
    return (f"{crlf} of its {lines} lines end in CR (Windows CRLF line ends): asrkit reads them as LF, but awk, "
            f"cut and Kaldi's perl scripts keep the CR in the last field; convert it: {how}"
            f"sed -i 's/\\r$//' {shlex.quote(str(path))}")


def check_sorted_unique(table: ScannedTable) -> List[Problem]:
    """Kaldi needs every table sorted in C-locale (byte) order with unique ids."""
    problems: List[Problem] = []
    first_seen: Dict[str, int] = {}
    prev: Optional[TableLine] = None
    unsorted = 0
    for line in table.lines:
        if line.key in first_seen:
            problems.append(Problem(str(table.path), line.lineno,
                                    f"duplicate id {line.key!r} (first on line {first_seen[line.key]})"))
        elif prev is not None and line.key.encode() < prev.key.encode():
            unsorted += 1
            # One missing sort puts many lines out of order; the first few show it.
            if unsorted <= MAX_REPEATED_WARNINGS:
                problems.append(Problem(str(table.path), line.lineno,
                                        f"not sorted: {line.key!r} comes after {prev.key!r} (sort with LC_ALL=C sort)"))
        first_seen.setdefault(line.key, line.lineno)
        prev = line
    if unsorted > MAX_REPEATED_WARNINGS:
        problems.append(Problem(str(table.path), None,
                                f"{unsorted - MAX_REPEATED_WARNINGS} more lines out of order (sort with LC_ALL=C sort)"))
    return problems


def _normal_form(key: str) -> str:
    import unicodedata

    return "NFC" if unicodedata.is_normalized("NFC", key) else "NFD" if unicodedata.is_normalized("NFD", key) else "mixed"


class _Twins:
    """The ids of ``keys`` by their NFC form, made on the first missing id that is not ASCII: an id
    typed or saved on another system (macOS writes file names, and so ids made from them, in NFD:
    'e' + U+0301) looks the same as the other tables' NFC id but is not it, and "utterance 'spké-1'
    is not in utt2spk" beside an utt2spk that shows 'spké-1' gave no reason."""

    def __init__(self, keys) -> None:
        self._keys, self._by_nfc = keys, None

    def hint(self, key: str) -> str:
        if key.isascii():
            return ""
        import unicodedata

        if self._by_nfc is None:
            self._by_nfc = {unicodedata.normalize("NFC", k): k for k in self._keys if not k.isascii()}
        twin = self._by_nfc.get(unicodedata.normalize("NFC", key))
        if twin is None:
            return ""
        return (f" ({twin!r} there: the same characters in another Unicode form, {_normal_form(key)} here, "
                f"{_normal_form(twin)} there; ids are compared byte by byte, so write every table in one form, NFC)")


def _missing(problems: List[Problem], table: ScannedTable, keys, other: str, what: str = "utterance") -> None:
    """Report each id of ``table`` that ``keys`` lacks, at its line in ``table``."""
    twins = _Twins(keys)
    for key, line in table.first_lines().items():
        if key not in keys:
            problems.append(Problem(str(table.path), line.lineno,
                                    f"{what} {key!r} is not in {other}{twins.hint(key)}"))


def _missing_from(problems: List[Problem], ref: ScannedTable, keys, other: Path, what: str = "utterance") -> None:
    """Report each id of ``ref`` absent from ``other`` (which has no line for it), at its line in ``ref``."""
    twins = _Twins(keys)
    for key, line in ref.first_lines().items():
        if key not in keys:
            problems.append(Problem(str(ref.path), line.lineno,
                                    f"{what} {key!r} has no entry in {other}{twins.hint(key)}"))


def _absent(problems: List[Problem], d: DataDir, name: str, why: str) -> None:
    """A required table that is not there; one that is a directory, or unreadable, was named so when
    loaded."""
    if not d.has(name) and not d.not_a_file(name):
        problems.append(Problem(str(d.file(name)), None, f"no such file ({why})"))


def _wav_path(value: str) -> Optional[str]:
    """The file a wav.scp value names, or None for a pipe we cannot stat cheaply and for ``-``,
    Kaldi's stdin (read by asrkit-compute-fbank, -decode and -align; was "does not exist: -").

    A value with a space that is not a pipe is a path with a space, which is what the audio
    reader opens (a corpus folder named 'my recordings'): it was not checked, so a missing file
    there passed validation and failed feature extraction.
    """
    if value.rstrip().endswith("|") or value.strip() == "-":
        return None
    return value.strip()


def _wav_in_ark(path: str) -> bool:
    """Whether ``path`` (which does not exist) is Kaldi's wav-in-ark form ``foo.ark:123``."""
    head, _, tail = path.rpartition(":")
    return ascii_digits(tail) and os.path.isfile(head)


def validate_data_dir(path: PathLike, no_text: bool = False, no_feats: bool = False, no_wav: bool = False,
                      check_wav_files: bool = True, check_feats_headers: bool = False) -> List[Problem]:
    """All problems in a data directory, errors and warnings, in the order found.

    ``no_text``/``no_feats``/``no_wav`` skip those tables as Kaldi's options do. Audio is needed
    (wav.scp, or segments into wav.scp) unless ``no_wav`` or the directory holds feats.scp
    only (a dump dir after feature extraction). ``check_wav_files`` also checks that plain paths
    in wav.scp and the arks of feats.scp exist on disk, which Kaldi leaves to the first reader,
    and that each ark holds its offsets and its last matrix whole; ``check_feats_headers`` reads
    the matrix header at every offset as well (one small read per utterance).
    """
    d = DataDir(path)
    problems: List[Problem] = []
    problem = dir_problem(d.path)
    if problem:
        return [Problem(str(d.path), None, problem)]

    def load(name: str) -> Optional[ScannedTable]:
        if not d.has(name):
            there = d.not_a_file(name)
            if there:
                problems.append(Problem(str(d.file(name)), None, there))
            return None
        t = scan_table(d.file(name), allow_empty_value=name == "text", nul_in_value=name == "text",
                       ids=lambda: data_dir_ids(d, but=name))
        problems.extend(t.problems)
        if t.unreadable:
            return None  # (not also "has no entry" for every utterance)
        problems.extend(check_sorted_unique(t))
        if not t.lines and not t.problems:
            problems.append(Problem(str(t.path), None, "empty file"))
        return t

    utt2spk = load("utt2spk")
    spk2utt = load("spk2utt")
    if utt2spk is None:
        _absent(problems, d, "utt2spk", "every data dir needs utt2spk")
        return problems
    utts = utt2spk.first_lines()
    u2s = {k: line.value for k, line in utts.items()}

    # utt2spk values are one speaker id; Kaldi recommends the speaker id as utt-id prefix so
    # that sorting by utt and by speaker agree (split and per-speaker CMVN rely on it).
    prefix_warnings = 0
    for key, line in utts.items():
        if len(split_fields(line.value)) != 1:
            problems.append(Problem(str(utt2spk.path), line.lineno, f"expected one speaker id, got {shown(line.value)}"))
        elif control := id_control_problem(line.value, data_dir_of(utt2spk.path)):
            # (a key of spk2utt and of the speakers' stats: fix-data-dir drops its utterances)
            problems.append(Problem(str(utt2spk.path), line.lineno, f"utterance {key!r}: speaker id: {control}"))
        elif too_long := id_length_problem(line.value, data_dir_of(utt2spk.path)):
            # (likewise a key of spk2utt, where the check of keys refused it after fix-data-dir kept it)
            problems.append(Problem(str(utt2spk.path), line.lineno, f"utterance {shown(key, 80)}: speaker id: {too_long}"))
        elif not key.startswith(line.value):
            prefix_warnings += 1
            if prefix_warnings <= MAX_REPEATED_WARNINGS:
                problems.append(Problem(str(utt2spk.path), line.lineno,
                                        f"speaker id {line.value!r} is not a prefix of utterance id {key!r} "
                                        "(Kaldi recommends it so utt and speaker orders agree)", WARNING))
    if prefix_warnings > MAX_REPEATED_WARNINGS:
        problems.append(Problem(str(utt2spk.path), None,
                                f"{prefix_warnings - MAX_REPEATED_WARNINGS} more utterances without their "
                                "speaker id as prefix", WARNING))
    # Prefixes alone do not make the orders agree: speakers 'a' and 'a+b' sort one way, 'a-x' and
    # 'a+b-y' the other. Kaldi's validate_data_dir.sh refuses such a dir; asrkit's split and
    # per-speaker CMVN do not need the orders to agree, so it is said, not refused.
    if not prefix_warnings:
        # The orders agree exactly when the speakers never go down along the utterance order.
        pair = speaker_order_break(u2s)
        if pair is not None:
            first = pair[1]
            problems.append(Problem(str(utt2spk.path), utts[first].lineno,
                                    f"sorted by speaker, utterance {first!r} (speaker {u2s[first]!r}) comes "
                                    "elsewhere than sorted by utterance id: Kaldi's validate_data_dir.sh refuses "
                                    "this (make speaker ids prefixes that no other speaker id extends, e.g. "
                                    "ending in '-'); asrkit's tools accept it", WARNING))

    _check_spk2utt(problems, d, utt2spk, spk2utt, u2s)

    if not no_text:
        text = load("text")
        if text is None:
            _absent(problems, d, "text", "use --no-text for a dir without text")
        else:
            _missing_from(problems, utt2spk, text.first_lines(), text.path)
            _missing(problems, text, utts, utt2spk.path)
            # Kaldi allows an empty transcript, but asrkit-train skips the utterance (and counts
            # it against the 5 % rule): said here, before features are made for it.
            for line in text.first_lines().values():
                why = transcript_problem(line.value)
                if why:
                    problems.append(Problem(str(text.path), line.lineno, f"{why} in the transcript of {line.key!r}"))
            empty = [line for line in text.first_lines().values() if not line.value]
            for line in empty[:MAX_REPEATED_WARNINGS]:
                problems.append(Problem(str(text.path), line.lineno, f"empty transcript for {line.key!r} "
                                        "(asrkit-train skips the utterance)", WARNING))
            if len(empty) > MAX_REPEATED_WARNINGS:
                problems.append(Problem(str(text.path), None,
                                        f"{len(empty) - MAX_REPEATED_WARNINGS} more empty transcripts", WARNING))
            if d.has("wav.scp") or d.has("segments"):
                # (not a recipe's dump/<set>, whose text is a copy of data/<set>'s, warned of there:
                # fix-data-dir on the dump changed nothing the tokenizer and scoring read)
                _check_punctuation(problems, text)

    # (an optional table that is a directory, a FIFO or a link to /dev/zero was passed over as
    # absent, the dir "successfully validated": load() names it)
    u2d = load("utt2dur")
    if u2d is not None:
        _missing_from(problems, utt2spk, u2d.first_lines(), u2d.path)
        _missing(problems, u2d, utts, utt2spk.path)
        for line in u2d.first_lines().values():
            if not positive_seconds(line.value):
                problems.append(_bad_duration(u2d, line))

    def there(name: str) -> bool:  # a table of that name, a regular file or not
        return d.has(name) or d.not_a_file(name) is not None

    has_feats = there("feats.scp")
    if not no_wav and (there("wav.scp") or there("segments") or not has_feats):
        _check_audio(problems, d, load, utt2spk, check_wav_files)

    _check_keyed_tables(problems, d, load, utt2spk, spk2utt)

    feats = load("feats.scp") if not no_feats else None
    frames: Dict[str, Tuple[int, TableLine]] = {}  # with the headers read: utt -> (frames, its line)
    if feats is not None:
        _missing_from(problems, utt2spk, feats.first_lines(), feats.path)
        _missing(problems, feats, utts, utt2spk.path)
        if check_wav_files:
            _check_feats_files(problems, feats, check_feats_headers, frames)
    u2nf = load("utt2num_frames") if not no_feats else None
    if u2nf is not None:
        # Keyed as feats.scp, or, in a dump dir of audio (--feats-type raw: wav.scp, utt2num_frames,
        # no feats.scp), whose utt2num_frames asrkit-train batches by, as utt2spk: that one was never
        # read, and a duplicate, a NUL, a count of 'x' "successfully validated", the training then
        # refusing the table.
        keys, keys_path = (feats.first_lines(), feats.path) if feats is not None else (utts, utt2spk.path)
        _missing_from(problems, feats if feats is not None else utt2spk, u2nf.first_lines(), u2nf.path)
        _missing(problems, u2nf, keys, keys_path)
        for line in u2nf.first_lines().values():
            if not (ascii_digits(line.value) and int(line.value) > 0):  # Kaldi reads ASCII digits only
                problems.append(Problem(str(u2nf.path), line.lineno,
                                        f"number of frames must be a positive integer, got {shown(line.value)}"))
            elif line.key in frames and frames[line.key][0] != int(line.value):
                # Training batches by these counts (a stale 5 for 2000 frames packs a batch
                # 400 times too big); the header says it for free once read.
                n, at = frames[line.key]
                problems.append(Problem(str(u2nf.path), line.lineno,
                                        f"{line.key!r} has {line.value} frames here but {n} in its matrix "
                                        f"({feats.path}:{at.lineno}): stale (from other features?); make it "
                                        f"again from feats.scp"))
    return problems


def _check_punctuation(problems: List[Problem], text: ScannedTable) -> None:
    """One warning for transcripts with punctuation on their words. A data dir made elsewhere (a
    Kaldi or ESPnet data prep's 'U, M, N, SIX.') skips stage 0's normalisation: the recipe's char
    tokenizer made ',' and '.' tokens, the model learnt to write them, and 'SIX.' against 'SIX' was
    a word error, without a word said."""
    first = None
    count = 0
    lines = text.first_lines().values()
    for line in lines:
        word = punctuated_word(line.value)
        if word is not None:
            count += 1
            first = first or (line, word)
    if first is None:
        return
    line, word = first
    problems.append(Problem(str(text.path), line.lineno,
                            f"{count} of {len(lines)} transcripts hold punctuation ({word!r} in {line.key!r}): a "
                            f"char or BPE tokenizer learns it as tokens, and scoring counts {word!r} against the "
                            f"word without it as an error; to drop it as a new corpus's stage 0 does: "
                            f"asrkit-fix-data-dir --punctuation drop {shlex.quote(str(text.path.parent))} "
                            f"(--case upper too: stage 0's other normalisation)", WARNING))


def _check_feats_files(problems: List[Problem], feats: ScannedTable, read_headers: bool = False,
                       frames: Optional[Dict[str, Tuple[int, TableLine]]] = None) -> None:
    """Each feats.scp line's form and each ark it names, stat'ed once per ark (a dump dir of 281k
    lines names a few dozen): a dir whose arks were moved or deleted validated, and training then
    failed at its first batch.

    An offset at or past the end of its ark, and the last matrix of each ark running past its end,
    are errors too: an ark cut short (a full disk, a killed copy) validated, and training or
    decoding failed on its last utterances. That costs one small read per ark; ``read_headers``
    reads the header at every offset (one read per utterance) to find an offset that points at
    no matrix, or a row range past its matrix's rows; ``frames`` (when given) gets each matrix's
    frame count read so (``utt -> (frames, line)``), and a matrix of no frames is a warning."""
    from asrkit.data.matrix_io import parse_scp_value

    first_use: Dict[str, TableLine] = {}
    # ark -> (offset, line, rows) of its entries: all of them with read_headers, else the last only
    # (a list of 281k was a third of the time this takes; the others are found again if needed)
    at_offset: Dict[str, List[Tuple[int, TableLine, Optional[slice]]]] = {}
    first_at: Dict[str, TableLine] = {}  # the first line reading each ark at an offset
    for line in feats.first_lines().values():
        where = f"{feats.path}:{line.lineno}"
        try:
            entry = parse_scp_value(line.key, line.value, where)
        except AsrkitError as e:
            problems.append(Problem(str(feats.path), line.lineno, str(e).removeprefix(f"{where}: ")))
            continue
        if not entry.pipe:
            first_use.setdefault(entry.path, line)
            if entry.offset is not None:
                first_at.setdefault(entry.path, line)
                if read_headers:
                    at_offset.setdefault(entry.path, []).append((entry.offset, line, entry.rows))
                else:
                    last = at_offset.get(entry.path)
                    if last is None or entry.offset > last[0][0]:
                        at_offset[entry.path] = [(entry.offset, line, entry.rows)]
    for path, line in first_use.items():
        try:
            st = os.stat(path)
        except OSError as e:
            why = e.strerror or "cannot be opened"
            problems.append(Problem(str(feats.path), line.lineno, f"{path!r}: {why} (the ark of {line.key!r})"))
            continue
        if stat.S_ISDIR(st.st_mode):
            problems.append(Problem(str(feats.path), line.lineno, f"{path!r} is a directory, not an ark file"))
        elif special_kind(st.st_mode) and path in first_at:
            # every reader refuses it (an offset is a seek): a dir whose ark was a FIFO or a link to
            # /dev/zero validated, and training failed on its every utterance
            line = first_at[path]
            problems.append(Problem(str(feats.path), line.lineno, f"{path!r} is {special_kind(st.st_mode)}, not a "
                                    f"file: an scp offset is a seek (the ark of {line.key!r})"))
        elif stat.S_ISREG(st.st_mode) and path in at_offset:
            if not read_headers and at_offset[path][0][0] >= st.st_size:
                at_offset[path] = _entries_of(feats, path)  # every offset past the end is named
            _check_offsets(problems, feats, path, st.st_size, at_offset[path], read_headers, frames)


def _entries_of(feats: ScannedTable, path: str) -> List[Tuple[int, TableLine, Optional[slice]]]:
    """``(offset, line, rows)`` of each well-formed feats.scp entry into ark ``path`` at an offset."""
    from asrkit.data.matrix_io import parse_scp_value

    out = []
    for line in feats.first_lines().values():
        try:
            entry = parse_scp_value(line.key, line.value, "")
        except AsrkitError:
            continue  # (named already)
        if not entry.pipe and entry.path == path and entry.offset is not None:
            out.append((entry.offset, line, entry.rows))
    return out


CUT_SHORT = "the ark was cut short (a full disk, a killed run or copy?): make its features again"
# Kaldi's binary objects (matrix_io reads them): the size of one element, and whether it has columns
_BINARY_PLAIN = {b"FM": (4, True), b"FV": (4, False), b"DM": (8, True), b"DV": (8, False)}
_HEAD_BYTES = 32  # enough for any binary object's header


def _object_extent(head: bytes) -> Tuple[Optional[int], int, int, str]:
    """``(bytes from the offset to the object's end, rows, columns, type)`` of the Kaldi object
    whose start is ``head``; None for the size of a text matrix (not known without reading it
    whole, rows -1) and for a header cut short (type ''); raises ValueError for no Kaldi object."""
    if head == b"\0":
        return None, -1, -1, ""
    if head[:2] != b"\0B":
        if head.lstrip(b" \t\r\n")[:1] == b"[":
            return None, -1, -1, "text"
        raise ValueError(f"data starting with {head[:8]!r}")
    token, space, rest = head[2:].partition(b" ")
    start = 2 + len(token) + 1
    if token in _BINARY_PLAIN:
        elem, is_matrix = _BINARY_PLAIN[token]
        need = 10 if is_matrix else 5
        if len(rest) < need:
            return None, -1, -1, ""
        if rest[0] != 4 or (is_matrix and rest[5] != 4):
            raise ValueError(f"a corrupt {token.decode()} header")
        rows = struct.unpack("<i", rest[1:5])[0]
        cols = struct.unpack("<i", rest[6:10])[0] if is_matrix else 1
        if rows < 0 or cols < 0:
            raise ValueError(f"a corrupt {token.decode()} header ({rows} x {cols})")
        return start + need + rows * cols * elem, rows, cols, token.decode()
    if token in (b"CM", b"CM2", b"CM3"):
        if len(rest) < 16:
            return None, -1, -1, ""
        rows, cols = struct.unpack("<ii", rest[8:16])
        if rows < 0 or cols < 0:
            raise ValueError(f"a corrupt {token.decode()} header ({rows} x {cols})")
        body = {b"CM": 8 * cols + rows * cols, b"CM2": 2 * rows * cols, b"CM3": rows * cols}[token]
        return start + 16 + body, rows, cols, token.decode()
    if not space and len(head) < _HEAD_BYTES:
        return None, -1, -1, ""
    raise ValueError(f"no Kaldi matrix type ({token[:8]!r})")


def _check_offsets(problems: List[Problem], feats: ScannedTable, path: str, size: int,
                   entries: List[Tuple[int, TableLine, Optional[slice]]], read_headers: bool,
                   frames: Optional[Dict[str, Tuple[int, TableLine]]] = None) -> None:
    """The offsets into ark ``path`` of ``size`` bytes (see :func:`_check_feats_files`)."""
    def report(line: TableLine, message: str) -> None:
        problems.append(Problem(str(feats.path), line.lineno, message))

    inside = []
    past = 0
    for offset, line, rows in entries:
        if offset < size:
            inside.append((offset, line, rows))
            continue
        past += 1
        if past <= MAX_REPEATED_WARNINGS:
            report(line, f"offset {offset:,} of {line.key!r} is past the end of {path!r} ({size:,} bytes): "
                         f"{CUT_SHORT}")
    if past > MAX_REPEATED_WARNINGS:
        problems.append(Problem(str(feats.path), None, f"{past - MAX_REPEATED_WARNINGS} more offsets past the end "
                                                       f"of {path!r}"))
    if not inside:
        return
    if not read_headers:  # the last matrix only: where an ark cut short ends
        inside = [max(inside, key=lambda e: e[0])]
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        report(inside[0][1], f"{path!r}: {e.strerror or 'cannot be opened'} (the ark of {inside[0][1].key!r})")
        return
    try:
        for offset, line, rows in sorted(inside, key=lambda e: e[0]):
            head = os.pread(fd, _HEAD_BYTES, offset)
            try:
                extent, n_rows, n_cols, kind = _object_extent(head)
            except ValueError as e:
                report(line, f"no Kaldi matrix at offset {offset:,} of {path!r}, the entry of {line.key!r} ({e}): "
                             f"the offset is wrong, or the ark was written over")
                continue
            if kind == "":
                report(line, f"{path!r} ({size:,} bytes) ends inside the header of the matrix of {line.key!r} at "
                             f"offset {offset:,}: {CUT_SHORT}")
            elif extent is not None and offset + extent > size:
                report(line, f"the matrix of {line.key!r} at offset {offset:,} ({n_rows} x {n_cols} {kind}) ends at "
                             f"byte {offset + extent:,}, past the end of {path!r} ({size:,} bytes): {CUT_SHORT}")
            elif rows is not None and rows.stop is not None and n_rows >= 0 and rows.stop > n_rows:
                report(line, f"row range [{rows.start}:{rows.stop - 1}] of {line.key!r} is past the {n_rows} rows "
                             f"of its matrix")
            elif read_headers and n_rows >= 0 and n_cols > 0 and kind in ("FM", "DM", "CM", "CM2", "CM3"):
                n = len(range(n_rows)[rows]) if rows is not None else n_rows
                if frames is not None:
                    frames[line.key] = (n, line)
                if n == 0:
                    problems.append(Problem(str(feats.path), line.lineno,
                                            f"the matrix of {line.key!r} has no frames (0 x {n_cols}): "
                                            f"asrkit-compute-cmvn and asrkit-train skip the utterance", WARNING))
    finally:
        os.close(fd)


def _bad_duration(table: ScannedTable, line: TableLine) -> Problem:
    return Problem(str(table.path), line.lineno, f"duration must be a positive number of seconds, got {shown(line.value)}")


def _check_keyed_tables(problems: List[Problem], d: DataDir, load, utt2spk: ScannedTable,
                        spk2utt: Optional[ScannedTable]) -> None:
    """The optional tables asrkit-fix-data-dir filters (spk2gender, cmvn.scp, reco2file_and_channel,
    reco2dur, utt2uniq, utt2lang, utt2sample_rate), as Kaldi's validate_data_dir.sh checks them
    (utt2sample_rate, which asrkit-train reads, was not looked at: a rate of '8k' and ids of no
    utterance "successfully validated", the training then refusing the table).

    An id that is not a speaker, recording or utterance of the dir is an error (fix-data-dir
    drops it, so a dir it has fixed must not fail here; Kaldi's validate_data_dir.sh refuses it
    too). A speaker of the dir without stats
    in cmvn.scp is an error too (apply-cmvn would skip all its utterances); an id missing from
    the others only a warning (nothing in asrkit needs them whole, and fix-data-dir cannot add it).
    """
    utts = utt2spk.first_lines()
    speakers = {line.value for line in utts.values()}
    if spk2utt is not None:
        speakers |= set(spk2utt.first_lines())
    if d.has("segments"):
        recordings = {fields[0] for fields in (split_fields(line.value) for line in scan_table(d.file("segments")).lines)
                      if fields}
        reco_source = str(d.file("segments"))
    else:
        recordings = set(utts)
        reco_source = f"{utt2spk.path} (no segments: recordings are utterances)"
    where = {"speaker": str(utt2spk.path), "utterance": str(utt2spk.path), "recording": reco_source}
    for name, ids, what, missing_level in (("spk2gender", speakers, "speaker", WARNING),
                                           ("cmvn.scp", speakers, "speaker", ERROR),
                                           ("reco2file_and_channel", recordings, "recording", WARNING),
                                           ("reco2dur", recordings, "recording", WARNING),
                                           ("utt2uniq", set(utts), "utterance", WARNING),
                                           ("utt2lang", set(utts), "utterance", WARNING),
                                           ("utt2sample_rate", set(utts), "utterance", WARNING)):
        table = load(name)
        if table is None:
            continue
        lines = table.first_lines()
        _missing(problems, table, ids, where[what], what)
        absent = sorted((i for i in ids if i not in lines), key=str.encode)
        for key in absent[:MAX_REPEATED_WARNINGS]:
            problems.append(Problem(str(table.path), None, f"{what} {key!r} has no entry", missing_level))
        if len(absent) > MAX_REPEATED_WARNINGS:
            problems.append(Problem(str(table.path), None,
                                    f"{len(absent) - MAX_REPEATED_WARNINGS} more {what}s have no entry", missing_level))
        for key, line in lines.items():
            fields = split_fields(line.value)
            if name == "spk2gender" and fields not in (["m"], ["f"]):
                problems.append(Problem(str(table.path), line.lineno, f"gender must be m or f, got {shown(line.value)}"))
            elif name == "reco2file_and_channel" and (len(fields) != 2 or fields[1] not in ("A", "B", "1")):
                problems.append(Problem(str(table.path), line.lineno, "malformed line (expected "
                                        f"'<recording> <file> <channel A or B>'), got {shown(line.value)}"))
            elif name == "reco2file_and_channel" and fields[1] == "1":
                problems.append(Problem(str(table.path), line.lineno, "channel '1': Kaldi marks channels A or B",
                                        WARNING))
            elif name == "reco2dur" and not positive_seconds(line.value):
                problems.append(_bad_duration(table, line))
            elif name in ("utt2uniq", "utt2lang") and len(fields) != 1:
                problems.append(Problem(str(table.path), line.lineno, f"expected one id, got {shown(line.value)}"))
            elif name == "utt2sample_rate" and sample_rate_hz(line.value) is None:
                problems.append(Problem(str(table.path), line.lineno,
                                        f"sample rate must be a positive integer (Hz), got {shown(line.value)}"))


def _check_spk2utt(problems: List[Problem], d: DataDir, utt2spk: ScannedTable, spk2utt: Optional[ScannedTable],
                   u2s: Dict[str, str]) -> None:
    if spk2utt is None:
        _absent(problems, d, "spk2utt", "make it with: asrkit-fix-data-dir, or utt2spk_to_spk2utt.pl")
        return
    listed: Dict[str, str] = {}
    for line in spk2utt.first_lines().values():
        for utt in split_fields(line.value):
            if utt in listed:
                problems.append(Problem(str(spk2utt.path), line.lineno,
                                        f"utterance {utt!r} listed again (already under speaker {listed[utt]!r})"))
                continue
            listed[utt] = line.key
            if utt not in u2s:
                problems.append(Problem(str(spk2utt.path), line.lineno,
                                        f"utterance {utt!r} is not in {utt2spk.path}"))
            elif u2s[utt] != line.key:
                problems.append(Problem(str(spk2utt.path), line.lineno,
                                        f"utterance {utt!r} is under speaker {line.key!r} here but "
                                        f"{shown(u2s[utt])} in {utt2spk.path}"))
    for key, line in utt2spk.first_lines().items():
        if key not in listed:
            problems.append(Problem(str(utt2spk.path), line.lineno,
                                    f"utterance {key!r} (speaker {shown(line.value)}) is not in {spk2utt.path}"))


# How far a segment may end past its recording and be clipped, not skipped (Kaldi's extract-segments
# --max-overshoot; asrkit.features.wav.MAX_OVERSHOOT_S, not imported for this one number).
MAX_OVERSHOOT_S = 0.5


def _check_audio(problems: List[Problem], d: DataDir, load, utt2spk: ScannedTable, check_wav_files: bool) -> None:
    wav = load("wav.scp")
    if wav is None:
        _absent(problems, d, "wav.scp", "every utterance needs audio; use --no-wav to skip")
        return
    utts = utt2spk.first_lines()
    wav_lines = wav.first_lines()
    segments = load("segments")
    if segments is None:
        _missing_from(problems, utt2spk, wav_lines, wav.path)
        _missing(problems, wav, utts, utt2spk.path)
    else:
        seg_lines = segments.first_lines()
        _missing_from(problems, utt2spk, seg_lines, segments.path)
        _missing(problems, segments, utts, utt2spk.path)
        used = set()
        # With reco2dur, a segment past its recording's end is said here: feature extraction skips
        # it (Kaldi's extract-segments too), so the utterance vanished only stages later. (Its own
        # problems are reported where the recording tables are checked.)
        durations = {line.key: kaldi_real(line.value) for line in
                     (scan_table(d.file("reco2dur")).lines if d.has("reco2dur") else ())}
        past_end = 0
        for key, line in seg_lines.items():
            fields = split_fields(line.value)
            channel = segment_channel(fields)
            if channel is not None:
                used.add(fields[0])  # (the recording is named all the same: not "used by no segment" too)
                problems.append(Problem(str(segments.path), line.lineno, segment_channel_problem(channel)))
                continue
            if len(fields) != 3:
                problems.append(Problem(str(segments.path), line.lineno, MALFORMED_SEGMENT))
                continue
            reco, start_s, end_s = fields
            used.add(reco)
            if reco not in wav_lines:
                problems.append(Problem(str(segments.path), line.lineno,
                                        f"recording {reco!r} of utterance {key!r} is not in {wav.path}"))
            # (the readers' words for the line too: they skip its utterance)
            times = segment_times_problem(start_s, end_s)
            if times is not None:
                problems.append(Problem(str(segments.path), line.lineno, times))
                continue
            start, end = kaldi_real(start_s), kaldi_real(end_s)
            dur = durations.get(reco)
            if dur is not None and math.isfinite(dur) and dur > 0 and \
                    (start >= dur or (end != -1 and end > dur + MAX_OVERSHOOT_S)):
                past_end += 1
                if past_end <= MAX_REPEATED_WARNINGS:
                    problems.append(Problem(str(segments.path), line.lineno,
                                            f"segment {start_s} {end_s} of {key!r} goes past the end of its recording "
                                            f"{reco!r} ({dur:g} s in reco2dur, {MAX_OVERSHOOT_S:g} s of overshoot "
                                            f"allowed): feature extraction will skip it", WARNING))
        if past_end > MAX_REPEATED_WARNINGS:
            problems.append(Problem(str(segments.path), None, f"{past_end - MAX_REPEATED_WARNINGS} more segments "
                                                              f"past their recording's end", WARNING))
        for key, line in wav_lines.items():
            if key not in used:
                problems.append(Problem(str(wav.path), line.lineno,
                                        f"recording {key!r} is not used by any segment", WARNING))
    if check_wav_files:
        for key, line in wav_lines.items():
            p = _wav_path(line.value)
            if p is None:
                continue
            try:
                st: Optional[os.stat_result] = os.stat(p)  # one stat per line: wav.scp may have 281k
            except OSError:  # (a NUL in the name never gets here: scan_table drops its line)
                st = None
            if st is not None and stat.S_ISDIR(st.st_mode):
                # The audio reader then failed on it per utterance, at feature extraction.
                problems.append(Problem(str(wav.path), line.lineno, f"{p!r} is a directory, not an audio file"))
            elif st is not None and stat.S_ISREG(st.st_mode) and st.st_size == 0:
                # A warning: feature extraction skips and counts it, as any unreadable recording
                # (Kaldi's 95 % rule), rather than the whole set stopping here.
                problems.append(Problem(str(wav.path), line.lineno, f"{p!r} is an empty file (0 bytes), not audio; "
                                        f"feature extraction will skip it", WARNING))
            elif st is None:
                # Kaldi's wav-in-ark offset passed here (only the ark was looked at), but asrkit's
                # audio reader opens a path or runs a 'cmd |': it then failed as 'no such file'.
                why = (" (Kaldi's wav-in-ark offset form, which asrkit does not read: give the audio "
                       "file, or a command ending in '|')") if _wav_in_ark(p) else ""
                problems.append(Problem(str(wav.path), line.lineno,
                                        f"audio file of {key!r} does not exist: {shown_name(p)}{why}"))
