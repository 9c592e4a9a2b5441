"""Split a data directory into N pieces for N parallel jobs, as Kaldi's ``utils/split_data.sh``.

The pieces go to ``<data>/split<N>/<JOB>/`` with JOB = 1..N, each a complete, sorted data dir
(wav.scp or segments+wav.scp, text, utt2spk, spk2utt, feats.scp, utt2num_frames, ... whatever the
source has, filtered to the piece's utterances). By default speakers are kept whole, so per-speaker
CMVN works inside a job; ``per_utt`` splits by utterance instead. Sizes are balanced in
utterances. A split made the same way from tables of the same content (sizes and SHA-256 hashes,
kept in ``split<N>/.split_mode``) and no older than any of them is reused, unless its pieces'
files are no longer as it wrote them (their sizes and hashes are kept there too).
"""
from __future__ import annotations

import hashlib
import itertools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, TypeVar

from asrkit.data.datadir import (OPTIONAL_TABLES, RECO_TABLES, SPK_TABLES, TABLES, UTT_TABLES, DataDir,
                                 SegmentChannelError, try_parse_segment)
from asrkit.data.table import split_fields, utt2spk_to_spk2utt, write_table
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike, atomic_open, remove_stale_tmp, replace_dir, tmp_dir_for
from asrkit.utils.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")

STAMP = ".split_mode"
# The line of the stamp after which each piece file's size and hash follow ("1/text 1234 <sha>").
_PIECES = "pieces"
# Every table a piece may carry; spk2utt is rebuilt per piece from utt2spk.
_SOURCES = tuple(dict.fromkeys(TABLES + UTT_TABLES + RECO_TABLES + SPK_TABLES))


def split_scp(lines: Sequence[T], n: int) -> List[List[T]]:
    """Cut ``lines`` into ``n`` contiguous pieces, order kept, as Kaldi's ``utils/split_scp.pl``.

    Every piece gets ``len(lines) // n`` lines and the first ``len(lines) % n`` pieces one more,
    which is split_scp.pl's cut without ``--utt2spk``; asrkit-compute-fbank --nj and
    asrkit-decode --nj/--job both cut with it, so job JOB holds the same lines in either.

    >>> split_scp(["a", "b", "c", "d", "e"], 2)
    [['a', 'b', 'c'], ['d', 'e']]
    """
    if n < 1:
        raise AsrkitError(f"cannot split into {n} pieces (need at least 1)")
    if n > len(lines):
        raise AsrkitError(f"cannot split {len(lines)} lines into {n} non-empty pieces")
    base, extra = divmod(len(lines), n)
    pieces, start = [], 0
    for i in range(n):
        size = base + (1 if i < extra else 0)
        pieces.append(list(lines[start:start + size]))
        start += size
    return pieces


def split_by_weight(weights: Sequence[int], n: int) -> List[range]:
    """Contiguous ranges of ``weights`` (e.g. utterances per speaker), n non-empty, sums balanced.

    Each cut goes where the running total comes nearest to k/n of the whole, leaving at least
    one item for every piece still to come.
    """
    if n < 1 or n > len(weights):
        raise AsrkitError(f"cannot split {len(weights)} items into {n} non-empty pieces")
    # Running totals from one pass: summing weights[:i] again at every cut was O(items x pieces),
    # 7.4 s for 1M one-utterance speakers into 1000 jobs (utt2spk mapping each utterance to itself).
    before = [0, *itertools.accumulate(weights)]  # before[i] = sum(weights[:i])
    total = before[-1]
    cuts = [0]
    for k in range(1, n):
        target = total * k / n
        # Advance at least one item, and leave n-k items for the remaining pieces.
        i, hi = cuts[-1] + 1, len(weights) - (n - k)
        while i < hi and abs(before[i + 1] - target) <= abs(before[i] - target):
            i += 1
        cuts.append(i)
    cuts.append(len(weights))
    return [range(a, b) for a, b in zip(cuts, cuts[1:])]


@dataclass
class SplitResult:
    dirs: List[Path]
    reused: bool
    sizes: List[int]


def sizes_text(sizes: Sequence[int], shown: int = 10) -> str:
    """Utterances per piece for a log line: each of a few pieces, else the first and last ones and
    the range (split into 5000 pieces, the line listed 5000 numbers, 20 kB, twice)."""
    if len(sizes) <= shown:
        return " ".join(map(str, sizes))
    if min(sizes) == max(sizes):
        return f"{sizes[0]} each"
    return (f"{' '.join(map(str, sizes[:shown - 2]))} ... {' '.join(map(str, sizes[-2:]))} "
            f"(from {min(sizes)} to {max(sizes)})")


def split_dir_of(path: PathLike, n: int) -> Path:
    return Path(path) / f"split{n}"


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stamp_text(d: DataDir, mode: str) -> str:
    """The mode, the source tables (one added or removed since also means a new split) and each
    one's size and SHA-256: the content decides reuse, not mtimes alone. The split was reused when
    its stamp was newer than every table, so a table replaced by one with an older mtime (cp -a,
    cp -p, rsync -t, tar x) or edited within the file system's timestamp tick (a few ms) after
    the split left the jobs on the old pieces without a word."""
    names = [name for name in _SOURCES if d.has(name)]
    lines = [mode, " ".join(names)]
    for name in names:
        path = d.file(name)
        lines.append(f"{name} {path.stat().st_size} {_file_sha256(path)}")
    return "\n".join(lines) + "\n"


def _pieces_text(out: Path, n: int) -> str:
    """The stamp's lines for the pieces just written under ``out``: each file's size and SHA-256."""
    lines = [_PIECES]
    for j in range(1, n + 1):
        for path in sorted((out / str(j)).iterdir(), key=lambda p: p.name.encode()):
            lines.append(f"{j}/{path.name} {path.stat().st_size} {_file_sha256(path)}")
    return "\n".join(lines) + "\n"


def _up_to_date(d: DataDir, out: Path, n: int, stamp_text: str) -> List[str]:
    """The stamp's lines for the pieces when the split has the same tables of the same content,
    none newer than it (as Kaldi's split_data.sh); else [] (a stamp of a split made before the
    pieces' hashes were kept, or lacking a piece's table, is not up to date either)."""
    stamp = out / STAMP
    if not stamp.is_file():
        return []
    if not all((out / str(j) / "utt2spk").is_file() for j in range(1, n + 1)):
        return []
    try:
        text = stamp.read_text(encoding="utf-8")
    except (OSError, UnicodeError):  # unreadable: made again, which names the problem
        return []
    if not text.startswith(stamp_text + _PIECES + "\n"):
        return []
    newest = max(d.file(name).stat().st_mtime for name in _SOURCES if d.has(name))
    if stamp.stat().st_mtime < newest:
        return []
    pieces = text[len(stamp_text):].splitlines()[1:]
    # Every table each piece gets whatever its utterances (all but the optional ones) has its line,
    # as _pieces_text writes them: the hashes then speak for every piece's utt2spk and tables.
    listed = {line.rsplit(" ", 2)[0] for line in pieces}
    sure = [name for name in _SOURCES if name == "spk2utt" or (d.has(name) and name not in OPTIONAL_TABLES)]
    if any(f"{j}/{name}" not in listed for j in range(1, n + 1) for name in sure):
        return []
    return pieces


def _damaged_pieces(out: Path, pieces: List[str]) -> str:
    """What is wrong with the pieces of a split whose stamp is up to date ('' if nothing), from
    ``pieces``, the stamp's lines for them (each file's size and SHA-256): pieces edited or
    removed by hand were reused ("utterances 1 12" for a 24-utterance dir; a piece's text
    edited), so their jobs left utterances out, or used other tables than the source's, without
    a word. The source's tables are as the stamp says (_up_to_date), so pieces as the split wrote
    them hold its utterances and tables."""
    # Files a job writes beside the pieces' are not the split's: only those it wrote are checked.
    for line in pieces:
        rel, size, digest = line.rsplit(" ", 2)
        path = out / rel
        j, name = rel.split("/", 1)
        try:
            if not path.is_file():
                return f"piece {j} has no {name}"
            if str(path.stat().st_size) != size or _file_sha256(path) != digest:
                return f"piece {j}'s {name} changed"
        except OSError as e:
            return f"piece {j}'s {name} cannot be read ({e.strerror})"
    return ""


def split_data_dir(path: PathLike, n: int, per_utt: bool = False, force: bool = False) -> SplitResult:
    """Write ``<path>/split<n>/{1..n}/``; see the module docstring."""
    d = DataDir(path)
    d.require("utt2spk")
    # Every table a piece would carry, not only utt2spk: one that is a directory or a link to
    # /dev/zero was skipped as absent, and the pieces came without it (exit 0).
    for name in _SOURCES:
        problem = d.not_a_file(name)
        if problem:
            raise AsrkitError(f"{d.file(name)}: {problem}")
    mode = "per-utt" if per_utt else "per-spk"
    out = split_dir_of(d.path, n)
    if n < 1:
        raise AsrkitError(f"number of pieces must be at least 1, got {n}")
    if os.path.lexists(out) and not out.is_dir():
        # replace_dir renames whatever is there aside and removes it: a user's file was deleted
        raise AsrkitError(f"{out}: {'a broken symbolic link' if out.is_symlink() else 'a file, not a directory'} "
                          f"where the {n} pieces go; move it away")
    # The stamp of the tables as they are before reading them: one edited while the split runs
    # differs from it next time, and is split again.
    stamp_text = _stamp_text(d, mode)
    stamped = [] if force else _up_to_date(d, out, n, stamp_text)
    if stamped:
        damaged = _damaged_pieces(out, stamped)
        if not damaged:
            sizes = [sum(1 for _ in open(out / str(j) / "utt2spk", "rb")) for j in range(1, n + 1)]
            # A run killed while removing the old split it had renamed aside left that aside copy;
            # no later run writes split<N>/ while it is up to date, so none removed it.
            remove_stale_tmp(out)
            log.info("%s is up to date (%s), not splitting again", out, mode)
            return SplitResult([out / str(j) for j in range(1, n + 1)], True, sizes)
        log.warning("%s: %s since the split (edited by hand?): splitting again", out, damaged)

    tables: Dict[str, Dict[str, str]] = {name: d.read(name) for name in _SOURCES
                                         if d.has(name) and name != "spk2utt"}
    utt2spk = tables["utt2spk"]
    if not utt2spk:  # (was "cannot split 0 speakers into 2 pieces (use --per-utt, or fewer jobs)")
        raise AsrkitError(f"{d.file('utt2spk')}: no utterances (an empty file): nothing to split")
    utts = sorted(utt2spk, key=str.encode)
    for name in UTT_TABLES + (("wav.scp",) if "segments" not in tables else ()):
        if name in tables and name != "utt2spk" and len(tables[name].keys() & utt2spk.keys()) != len(utt2spk):
            missing = len(utt2spk.keys() - tables[name].keys())
            log.warning("%s lacks %d utterances of utt2spk; those pieces will lack them too "
                        "(run asrkit-fix-data-dir %s)", d.file(name), missing, d.path)
        # The other way round too, as Kaldi's split_data.sh warns on any count mismatch: an
        # utterance that utt2spk lacks goes to no piece, so no job would ever see it.
        if name in tables and name != "utt2spk":
            extra = [u for u in tables[name] if u not in utt2spk]
            if extra:
                log.warning("%s has %d utterances that are not in utt2spk (%s%s); no piece has them "
                            "(run asrkit-fix-data-dir %s)", d.file(name), len(extra), " ".join(extra[:3]),
                            " ..." if len(extra) > 3 else "", d.path)
    if "segments" in tables and "wav.scp" in tables:
        # (as for a table lacking utterances: a segment whose recording wav.scp lacks went into its
        # piece without audio, without a word, and feature extraction then skipped it)
        lost = sorted({reco for u, value in tables["segments"].items() if u in utt2spk
                       for reco in split_fields(value)[:1] if reco not in tables["wav.scp"]}, key=str.encode)
        if lost:
            log.warning("%s names %d recordings that %s lacks (%s%s); their utterances' pieces will lack their "
                        "audio (run asrkit-fix-data-dir %s)", d.file("segments"), len(lost), d.file("wav.scp"),
                        " ".join(lost[:3]), " ..." if len(lost) > 3 else "", d.path)
    if "segments" in tables:
        # A reversed or malformed segment went into its piece without a word: the piece's feature
        # extraction skips it (Kaldi's extract-segments too), so the split says so, as for the above.
        bad = [u for u, value in tables["segments"].items() if u in utt2spk and not _usable_segment(value)]
        if bad:
            log.warning("%s has %d segments with unusable times or fields (%s%s); feature extraction will skip "
                        "their utterances (asrkit-validate-data-dir %s names each line; asrkit-fix-data-dir %s "
                        "drops them)", d.file("segments"), len(bad), " ".join(bad[:3]), " ..." if len(bad) > 3 else "",
                        d.path, d.path)
    if d.has("spk2utt"):
        # Each piece's spk2utt is rebuilt from utt2spk, so a stale or broken spk2utt changes
        # nothing here, but it says the data dir was edited by hand: utt2spk is the one that counts.
        try:
            stale = {s: sorted(us) for s, us in d.read_spk2utt().items()} != \
                {s: sorted(us) for s, us in utt2spk_to_spk2utt(utt2spk).items()}
            why = "does not match"
        except AsrkitError as e:
            stale, why = True, f"cannot be read ({e}), so was not checked against"
        if stale:
            log.warning("%s %s %s; the pieces' spk2utt are made from utt2spk (run asrkit-fix-data-dir %s)",
                        d.file("spk2utt"), why, d.file("utt2spk"), d.path)

    if per_utt:
        if n > len(utts):
            raise AsrkitError(f"{d.file('utt2spk')}: cannot split {len(utts)} utterances into {n} pieces")
        pieces = split_scp(utts, n)
    else:
        spk2utt = utt2spk_to_spk2utt({u: utt2spk[u] for u in utts})
        # Speakers in the order their first utterance sorts, so pieces stay contiguous in utt order
        # when speaker ids prefix utterance ids (Kaldi's recommendation).
        speakers = sorted(spk2utt, key=lambda s: spk2utt[s][0].encode())
        if n > len(speakers):
            raise AsrkitError(f"{d.file('utt2spk')}: cannot split {len(speakers)} speakers into {n} pieces "
                              "(use --per-utt, or fewer jobs)")
        ranges = split_by_weight([len(spk2utt[s]) for s in speakers], n)
        pieces = [sorted((u for s in speakers[r.start:r.stop] for u in spk2utt[s]), key=str.encode) for r in ranges]

    tmp = tmp_dir_for(out)
    try:
        _write_pieces(tmp, tables, pieces)
        with atomic_open(tmp / STAMP) as f:
            f.write(stamp_text + _pieces_text(tmp, n))
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # Kaldi's split_data.sh splits vad.scp, utt2warp, ... too: the pieces came without them, unsaid.
    unknown = d.other_tables(_SOURCES)
    if unknown:
        log.warning("%s: not in the pieces (not known to this command): %s", d.path, " ".join(unknown))
    log.info("split %s into %d pieces %s: %s utterances", d.path, n, mode, sizes_text([len(p) for p in pieces]))
    return SplitResult([out / str(j) for j in range(1, n + 1)], False, [len(p) for p in pieces])


def _usable_segment(value: str) -> bool:
    """Whether a segments line's value reads as '<recording> <start> <end>' with usable times."""
    try:
        return try_parse_segment(value, "segments")[0] is not None
    except SegmentChannelError:
        return True  # (not skipped: feature extraction stops on it with its own error)


def _write_pieces(out: Path, tables: Dict[str, Dict[str, str]], pieces: List[List[str]]) -> None:
    """Write every piece in one pass over each table (not one pass per piece: 280k utts x 32 jobs)."""
    job_of = {u: j for j, piece in enumerate(pieces) for u in piece}
    n = len(pieces)
    # In per-utt mode a recording's segments may land in several pieces; it goes to each of them.
    if "segments" in tables:
        reco_jobs: Dict[str, set] = {}
        for u, value in tables["segments"].items():
            if u in job_of:
                reco_jobs.setdefault(split_fields(value)[0], set()).add(job_of[u])
    else:
        reco_jobs = {u: {j} for u, j in job_of.items()}
    spk_jobs: Dict[str, set] = {}
    for u, j in job_of.items():
        spk_jobs.setdefault(tables["utt2spk"][u], set()).add(j)

    buckets: Dict[str, List[List]] = {}
    for name, table in tables.items():
        by_job: List[List] = [[] for _ in range(n)]
        if name in UTT_TABLES:
            for key, value in table.items():
                if key in job_of:
                    by_job[job_of[key]].append((key, value))
        else:
            owners = reco_jobs if name in RECO_TABLES else spk_jobs if name in SPK_TABLES else None
            if owners is None:
                continue
            for key, value in table.items():
                for j in owners.get(key, ()):
                    by_job[j].append((key, value))
        buckets[name] = by_job
    for j, piece in enumerate(pieces):
        piece_dir = out / str(j + 1)
        piece_dir.mkdir(parents=True)
        for name, by_job in buckets.items():
            if by_job[j] or name not in OPTIONAL_TABLES:  # (written empty, the piece failed validation)
                write_table(piece_dir / name, sorted(by_job[j], key=lambda kv: kv[0].encode()))
        spk2utt = utt2spk_to_spk2utt({u: tables["utt2spk"][u] for u in piece})
        write_table(piece_dir / "spk2utt", sorted(spk2utt.items(), key=lambda kv: kv[0].encode()))
