"""Repair a Kaldi data directory the way Kaldi's ``utils/fix_data_dir.sh`` does.

Keeps only the utterances present in every per-utterance table (and whose recording is in
wav.scp when there are segments, and whose speaker cmvn.scp has when there is one), keeps only
the recordings and speakers still used, sorts every
table in C-locale order, drops duplicate ids (the first line wins) and malformed lines, and
regenerates spk2utt from utt2spk. The originals go to ``<data>/.backup/`` first, as Kaldi does.
Asked, it also normalises the text's case and punctuation as a new corpus's stage 0 does.
What was dropped, and from which file, comes back in a :class:`FixReport`.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set

from asrkit.data.datadir import (OPTIONAL_TABLES, RECO_TABLES, SPK_TABLES, UTT_TABLES, DataDir, dir_problem,
                                 parse_segment, SegmentChannelError, positive_seconds, sample_rate_hz)
from asrkit.data.table import (EMPTY_LINE, ascii_digits, id_control_problem, id_length_problem, split_fields, transcript_problem,
                               utt2spk_to_spk2utt)
from asrkit.data.transcript_files import normalise_transcript
from asrkit.data.validate import ScannedTable, data_dir_ids, scan_table
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import AtomicFiles, PathLike, name_os_error
from asrkit.utils.logging import get_logger

log = get_logger(__name__)


@dataclass
class FixReport:
    num_utts_before: int
    num_utts_after: int
    # file name -> ids removed from it (missing elsewhere, duplicate, or unused)
    dropped: Dict[str, List[str]] = field(default_factory=dict)
    # file name -> {why: how many of its dropped ids}: an utterance's reason (reasons), or that no
    # utterance kept uses the recording or speaker (per-table counts were all 'not in every table',
    # a transcript dropped for a control character included)
    dropped_why: Dict[str, Dict[str, int]] = field(default_factory=dict)
    # file name -> line numbers dropped because malformed or duplicated
    bad_lines: Dict[str, List[int]] = field(default_factory=dict)
    changed: List[str] = field(default_factory=list)
    backup_dir: Optional[Path] = None
    # why each utterance of utt2spk (or any utterance table) went: reason -> ids, one reason each
    reasons: Dict[str, List[str]] = field(default_factory=dict)
    # file name -> line numbers dropped as malformed (not blank lines, not duplicates)
    malformed: Dict[str, List[int]] = field(default_factory=dict)
    # tables of the dir this does not know (vad.scp, utt2category, ...), left as they were
    unfiltered: List[str] = field(default_factory=list)
    # optional speaker/recording tables left with no line, removed (their originals in backup_dir)
    removed: List[str] = field(default_factory=list)
    # utterances kept whose transcript --case / --punctuation left empty ('...' under drop)
    emptied: List[str] = field(default_factory=list)
    # tables read with Windows (CRLF) line ends, written back with LF (validate's remedy for them)
    crlf: List[str] = field(default_factory=list)
    # utterances of the utt2spk made from spk2utt (there was no utt2spk): 0 when it was there
    utt2spk_rebuilt: int = 0

    @property
    def num_dropped(self) -> int:
        return self.num_utts_before - self.num_utts_after


def _channel_line(value: str) -> bool:
    fields = split_fields(value)
    return len(fields) == 2 and fields[1] in ("A", "B", "1")


# Lines of the per-speaker and per-recording tables that asrkit-validate-data-dir refuses, dropped
# as malformed: kept, the fixed dir failed validation, which then sent the user back here. (An
# entry missing from these tables is only a warning there.)
_VALUE_OK = {
    "spk2gender": lambda value: split_fields(value) in (["m"], ["f"]),
    "reco2file_and_channel": _channel_line,
    "reco2dur": positive_seconds,
}


def _read(d: DataDir, name: str, report: FixReport) -> Optional[Dict[str, str]]:
    """A table as key -> value, first line winning; malformed and duplicate lines are noted."""
    if not d.has(name):
        problem = d.not_a_file(name)
        if problem:
            raise AsrkitError(f"{d.file(name)}: {problem}")
        return None
    t: ScannedTable = scan_table(d.file(name), allow_empty_value=name == "text", nul_in_value=name == "text",
                                 ids=lambda: data_dir_ids(d, but=name))
    if t.unreadable:  # (every line would be dropped: the file is the problem, not its utterances)
        raise AsrkitError(f"{d.file(name)}: {t.unreadable}")
    if t.crlf_lines:
        report.crlf.append(name)
    out: Dict[str, str] = {}
    # Only the lines that are dropped: a BOM on line 1 or a missing final newline is a problem
    # of the file, whose line is still kept (and written back without it).
    kept = {line.lineno for line in t.lines}
    bad = sorted({p.line for p in t.problems if p.line is not None and p.line not in kept})
    blank = {p.line for p in t.problems if p.message == EMPTY_LINE}
    if any(n not in blank for n in bad):
        report.malformed[name] = [n for n in bad if n not in blank]
    ok = _VALUE_OK.get(name)
    refused = []
    for line in t.lines:
        if line.key in out:
            bad.append(line.lineno)
        elif ok is not None and not ok(line.value):
            refused.append(line.lineno)
        else:
            out[line.key] = line.value
    if refused:
        report.malformed[name] = sorted(report.malformed.get(name, []) + refused)
        bad += refused
    if bad:
        report.bad_lines[name] = sorted(bad)
    return out


def fix_data_dir(path: PathLike, backup: bool = True, case: str = "keep", punctuation: str = "keep") -> FixReport:
    """Repair ``path`` in place; raise :class:`AsrkitError` (changing nothing) if no utterance survives.
    ``case`` and ``punctuation`` normalise the text as asrkit-make-data-dir's --case and --punctuation do."""
    d = DataDir(path)
    problem = dir_problem(d.path)
    if problem:
        raise AsrkitError(f"{d.path}: {problem}")
    report = FixReport(0, 0)
    tables: Dict[str, Dict[str, str]] = {}
    for name in UTT_TABLES + RECO_TABLES + SPK_TABLES + ("spk2utt",):
        t = _read(d, name, report)
        if t is not None:
            tables[name] = t

    emptied: Set[str] = set()
    if "text" in tables and (case, punctuation) != ("keep", "keep"):
        # (a data dir made elsewhere, its text never through stage 0's normalisation; a transcript
        # left empty stays, as validate's warning and asrkit-train's skip say, and is counted:
        # it was 'kept 5 of 5' and nothing more)
        normalised = {u: normalise_transcript(v, case, punctuation) for u, v in tables["text"].items()}
        emptied = {u for u, v in normalised.items() if not v and tables["text"][u].strip()}
        tables["text"] = normalised

    ambiguous: Set[str] = set()
    if "utt2spk" not in tables:
        if "spk2utt" not in tables:
            raise AsrkitError(f"{d.path}: neither utt2spk nor spk2utt exists; cannot tell the utterances")
        # Kaldi's fix_data_dir.sh also rebuilds utt2spk from spk2utt when only that exists. An
        # utterance listed under two speakers has no speaker to keep: it went silently to the
        # last one; now it is dropped and counted.
        rebuilt: Dict[str, str] = {}
        for spk, us in tables["spk2utt"].items():
            for u in split_fields(us):
                if rebuilt.setdefault(u, spk) != spk:
                    ambiguous.add(u)
        tables["utt2spk"] = {u: spk for u, spk in rebuilt.items() if u not in ambiguous}
        report.changed.append("utt2spk")
        report.utt2spk_rebuilt = len(tables["utt2spk"])
    utt_keys = {name for name in UTT_TABLES if name in tables}
    if "segments" not in tables and "wav.scp" in tables:
        utt_keys.add("wav.scp")
    all_utts: Set[str] = set().union(*(tables[n].keys() for n in utt_keys))
    report.num_utts_before = len(tables["utt2spk"]) + len(ambiguous)
    if report.malformed.get("utt2spk"):
        # Each such line was an utterance too (no speaker, an id not UTF-8, ...): left out of the
        # count, 16 utterances came out as "kept 15 of 15". One whose id another table has is
        # counted below as not in utt2spk; the others by their line.
        raw = d.file("utt2spk").read_bytes().split(b"\n")
        unseen = []
        for n in report.malformed["utt2spk"]:
            fields = split_fields(raw[n - 1].decode("utf-8", "replace"))
            if fields and fields[0] in tables["utt2spk"]:
                continue  # a second, broken line of an utterance utt2spk has
            report.num_utts_before += 1
            if not fields or fields[0] not in all_utts:
                unseen.append(f"utt2spk:{n}")
        if unseen:
            report.reasons["a malformed line of utt2spk (no speaker, not UTF-8, ...)"] = unseen

    keep = set()
    # One reason per utterance dropped, the first that applies, so the counts add up to the drop.
    for utt in sorted(all_utts | ambiguous, key=str.encode):
        why = "under two speakers in spk2utt" if utt in ambiguous else _why_dropped(utt, tables, utt_keys)
        if why is None:
            keep.add(utt)
        else:
            report.reasons.setdefault(why, []).append(utt)
    report.num_utts_after = len(keep)
    report.emptied = sorted(emptied & keep, key=str.encode)
    if not keep:
        why = "; ".join(f"{len(ids)} {reason}" for reason, ids in
                        sorted(report.reasons.items(), key=lambda kv: (-len(kv[1]), kv[0])))
        where = (f"no utterance is in all of {', '.join(sorted(utt_keys))}" if set(report.reasons) != {SPK_NOT_IN_CMVN}
                 else "no utterance's speaker is in cmvn.scp (made for other speakers? remove it, or compute it "
                      "again: asrkit-compute-cmvn --spk2utt)")
        raise AsrkitError(f"{d.path}: {where}; nothing left to keep ({len(all_utts)} ids seen: {why})")

    new: Dict[str, Dict[str, str]] = {}
    # (in the tables' order: the set's changed with each run's string hashes, and with it the order
    # of the per-table lines, of 'originals of ... saved' and of report.changed and dropped)
    for name in sorted(utt_keys, key=(UTT_TABLES + ("wav.scp",)).index):
        new[name] = {u: v for u, v in tables[name].items() if u in keep}
    if "segments" in tables:
        recos = {split_fields(new["segments"][u])[0] for u in keep}
        for name in RECO_TABLES:
            if name in tables:
                new[name] = {r: v for r, v in tables[name].items() if r in recos}
    else:
        for name in RECO_TABLES:
            if name in tables and name != "wav.scp":
                new[name] = {r: v for r, v in tables[name].items() if r in keep}
    spk2utt = utt2spk_to_spk2utt(dict(sorted(new["utt2spk"].items())))
    for name in SPK_TABLES:
        if name in tables:
            new[name] = {s: v for s, v in tables[name].items() if s in spk2utt}

    why_of = {u: why for why, ids in report.reasons.items() for u in ids}
    for name, table in new.items():
        gone = sorted(set(tables[name]) - set(table))
        if gone:
            report.dropped[name] = gone
            by_utt = name in utt_keys or (name in RECO_TABLES and "segments" not in tables)
            unused = "recording(s) of no utterance kept" if name in RECO_TABLES else "speaker(s) of no utterance kept"
            counts: Dict[str, int] = {}
            for i in gone:
                why = why_of.get(i, unused) if by_utt else unused
                counts[why] = counts.get(why, 0) + 1
            report.dropped_why[name] = counts

    # An optional speaker or recording table with no line left (every line malformed, or for
    # speakers or recordings no longer here, or an empty file to start with) goes: written back
    # empty, the fixed dir failed asrkit-validate-data-dir ("empty file"), which sent the user
    # back here. Its lines were for nothing kept, and the original goes to .backup/ as any change.
    report.removed = [name for name in OPTIONAL_TABLES if name in new and not new[name]]
    for name in report.removed:
        del new[name]
        report.changed.append(name)

    # Decide what changes before touching anything, then back up, then write.
    outputs: Dict[str, List] = {name: sorted(t.items(), key=lambda kv: kv[0].encode()) for name, t in new.items()}
    outputs["spk2utt"] = [(s, sorted(us, key=str.encode)) for s, us in
                          sorted(spk2utt.items(), key=lambda kv: kv[0].encode())]
    for name, items in outputs.items():
        old = d.file(name).read_bytes().decode("utf-8", "replace") if d.has(name) else None
        if _render(items) != old and name not in report.changed:
            report.changed.append(name)
    # All tables change together or not at all (a full disk half-way must not leave a data dir
    # whose tables disagree), and their backups with them: committed on their own first, a run
    # that then failed at the tables left copies of the unchanged tables in .backup/, in place of
    # the originals an earlier fix had saved there.
    with AtomicFiles() as files:
        if backup and any(d.has(name) for name in report.changed):
            report.backup_dir = d.path / ".backup"
            report.backup_dir.mkdir(exist_ok=True)
            for name in report.changed:  # (renamed in before the tables: a backup is whole or absent)
                if d.has(name):
                    _back_up(files, d.file(name), report.backup_dir / name)
        for name in report.changed:
            if name not in report.removed:
                with files.open(d.file(name)) as f:
                    f.write(_render(outputs[name]))
    for name in report.removed:  # (after the tables are in: a failed run leaves it, as it left them)
        d.file(name).unlink()
    if report.num_dropped or ambiguous:
        # Kaldi's fix_data_dir.sh filters vad.scp and its --utt-extra-files too: left as they were,
        # such a table named the dropped utterances without a word.
        report.unfiltered = d.other_tables(set(UTT_TABLES + RECO_TABLES + SPK_TABLES) | {"spk2utt"})
    log.info("%s: kept %d of %d utterances", d.path, report.num_utts_after, report.num_utts_before)
    return report


def _back_up(files: AtomicFiles, table: Path, backup: Path) -> None:
    """shutil.copy2 of ``table`` to ``backup``'s temporary file. Not copy2 itself: its sendfile
    error on a full disk names the file copied, so a full disk under .backup/ was reported as the
    table (the input) being out of space."""
    try:
        with open(table, "rb") as src, files.open(backup, "wb") as dst:
            shutil.copyfileobj(src, dst)
    except OSError as e:
        name_os_error(e, table)  # (the backup's write errors carry its name already: this one is a read's)
        raise
    tmp = files.tmp(backup)
    if tmp != backup:  # (a stream, .backup/text -> /dev/null: its mode and times are not the table's to set)
        shutil.copystat(table, tmp)


SPK_NOT_IN_CMVN = "speaker not in cmvn.scp"


def _why_dropped(utt: str, tables: Dict[str, Dict[str, str]], utt_keys: Set[str]) -> Optional[str]:
    """Why ``utt`` cannot be kept, as the CLI words it, or None when it can."""
    for name in ["utt2spk"] + sorted(utt_keys - {"utt2spk"}):
        if utt not in tables[name]:
            return f"not in {name}"
    if len(split_fields(tables["utt2spk"][utt])) != 1:
        return "utt2spk gives not one speaker"
    if id_control_problem(tables["utt2spk"][utt]):
        # kept, spk2utt was made with it as a key, which validation then refused
        return "speaker id holds a control character"
    if id_length_problem(tables["utt2spk"][utt]):
        # kept, spk2utt was made with it as a key, which validation refuses as no id (MAX_ID_CHARS)
        return "speaker id too long to be an id"
    if "text" in tables and transcript_problem(tables["text"][utt]):
        # kept, the fixed dir failed asrkit-validate-data-dir (and asrkit-train-tokenizer): a NUL
        # there is what a damaged text file (a byte flipped, a crash's zeroed block) holds
        return "transcript holds a control character or U+2581, which no tokenizer takes"
    # Kaldi's fix_data_dir.sh keeps only the speakers cmvn.scp has, as apply-cmvn skips the others'
    # utterances; kept, they made the fixed dir fail asrkit-validate-data-dir ("speaker 'B' has no
    # entry"), which then pointed back at this command.
    if "cmvn.scp" in tables and tables["utt2spk"][utt] not in tables["cmvn.scp"]:
        return SPK_NOT_IN_CMVN
    # What asrkit-validate-data-dir reports in these tables, so a fixed dir validates.
    if "utt2num_frames" in tables and not (ascii_digits(tables["utt2num_frames"][utt])
                                          and int(tables["utt2num_frames"][utt]) > 0):
        return "utt2num_frames not a positive integer"
    if "utt2dur" in tables and not positive_seconds(tables["utt2dur"][utt]):
        return "utt2dur not a positive number of seconds"
    if "utt2sample_rate" in tables and sample_rate_hz(tables["utt2sample_rate"][utt]) is None:
        return "utt2sample_rate not a positive integer (Hz)"
    for name in ("utt2uniq", "utt2lang"):
        if name in tables and len(split_fields(tables[name][utt])) != 1:
            return f"{name} gives not one id"
    if "segments" in tables:
        try:
            reco, _, _ = parse_segment(tables["segments"][utt], "segments")
        except SegmentChannelError:
            return "segment has a channel (fifth) field, which asrkit does not support (see asrkit-validate-data-dir)"
        except AsrkitError:
            # asrkit-validate-data-dir names these as errors too; every reader of segments
            # refuses them, so the utterance has no usable audio.
            return "segment malformed or with unusable times (not finite, start < 0, end not after start)"
        if reco not in tables.get("wav.scp", {}):
            return "segment's recording not in wav.scp"
    return None


def _render(items: List) -> str:
    out = []
    for key, value in items:
        value = " ".join(value) if isinstance(value, list) else value
        out.append(f"{key} {value}\n" if value != "" else f"{key}\n")
    return "".join(out)
