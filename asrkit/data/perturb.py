"""Speed perturbation of a data dir, as Kaldi's utils/data/perturb_data_dir_speed_3way.sh.

Each factor F other than 1 adds a copy of every utterance at F times the speed (tempo and
pitch both change, as Ko et al. 2015), with utterance, speaker and recording ids prefixed
``sp<F>-``; F = 1 keeps the original ids. Two methods make the copies' audio:

- ``sox`` (Kaldi's): nothing is rewritten, the copies are ``sox ... speed F |`` pipes in wav.scp
  that the feature extraction runs, so the data dir stays a few text tables (sox must be installed);
- ``audio``: each recording is read once here and its copies are written as 16-bit FLAC files
  under ``<dst>/audio/`` by :func:`asrkit.features.resample.speed_perturb` (torchaudio's band-limited
  resampling, the one on-the-fly training uses): no external program.

An utterance that cannot be copied (no transcript, no recording, a duration that is not a
number, with ``audio`` unreadable audio) is skipped and named under the shared bad-item rule
(:mod:`asrkit.utils.bad_items`).
"""
from __future__ import annotations

import io
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

from asrkit.data.datadir import DataDir, kaldi_real, positive_seconds
from asrkit.data.table import line_of, utt2spk_to_spk2utt, write_table
from asrkit.utils.bad_items import BadItems
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import (PathLike, id_file_name, missing_dirs, name_os_error, not_a_directory,
                                 remove_empty_dirs, replace_dir, tmp_dir_for)
from asrkit.utils.logging import get_logger

log = get_logger(__name__)

# Tables that no longer hold once the audio changes speed: features must be computed again.
DROPPED = ("feats.scp", "utt2num_frames", "cmvn.scp")
# Tables whose values hold at any speed: each copy gets them under its own ids, as Kaldi's
# perturb_data_dir_speed.sh copies utt2lang and reco2file_and_channel (both were left out without
# a word: a language-tagged or STM-scored set lost its tags in every copy, the originals' too).
COPIED_BY_UTT = ("utt2lang",)
COPIED_BY_RECO = ("reco2file_and_channel",)
# The source tables read (spk2utt is made again from utt2spk; DROPPED are not read).
_READ = ("segments", "text", "utt2dur", "reco2dur", *COPIED_BY_UTT, *COPIED_BY_RECO, "spk2gender", "utt2uniq")
METHODS = ("sox", "audio")
AUDIO_DIR = "audio"  # <dst>/audio/sp<F>/<recording>.flac with --method audio


@dataclass
class PerturbReport:
    num_utts: int                # utterances in the source
    factors: List[float]
    dropped_tables: List[str]    # source tables not carried over (features to recompute)
    # other files of the source this command does not know how to copy (utt2category, vad.scp,
    # frame_shift...): not in <dst>, named so that their loss is not silent
    other_files: List[str] = field(default_factory=list)


def factor_prefix(factor: float) -> str:
    """'' for 1.0, else Kaldi's 'sp0.9-' ('%g' so 1.10 and 1.1 give the same ids)."""
    return "" if factor == 1.0 else f"sp{factor:g}-"


def _refuse_stdin_recordings(d: DataDir, wav_scp: Dict[str, str]) -> None:
    """A recording ``-`` (Kaldi's stdin) cannot be perturbed: its copies were 'sox -t wav - ...
    speed 0.9 |' entries beside the '-' one, each reading a stdin that holds the recording once."""
    reco = next((r for r, v in wav_scp.items() if v.strip() == "-"), None)
    if reco is not None:
        where = d.file("wav.scp")
        raise AsrkitError(f"{where}:{line_of(where, reco)}: recording {reco!r} is '-' (stdin): its speed copies "
                          f"would each read stdin, which holds it once; write it to a file and name that")


def speed_pipe(wav_entry: str, factor: float) -> str:
    """A wav.scp value (path or ``cmd |``) -> the same audio at ``factor`` times the speed."""
    if factor == 1.0:
        return wav_entry
    effect = f"-t wav - speed {factor:g} |"
    entry = wav_entry.rstrip()
    if entry.endswith("|"):
        return f"{entry} sox -t wav - {effect}"
    # wav.scp may name FLAC, OGG, MP3... files directly (libsndfile reads them): sox then picks
    # the input type from the extension. A .wav or extensionless path is forced to WAV, as Kaldi does.
    suffix = Path(entry).suffix.lower()
    in_type = "-t wav " if suffix in ("", ".wav") else ""
    return f"sox {in_type}{shlex.quote(entry)} {effect}"


# As training's augment.speed_factors: past these the copy is hardly speech (and 1e9 asked the
# resampler for 12 GB, inf was an OverflowError traceback, 1e-9 a copy 10**9 times as long).
MIN_FACTOR, MAX_FACTOR = 0.5, 2.0


def check_factors(factors: Sequence[float]) -> List[float]:
    out: List[float] = []
    for f in factors:
        # At the precision the ids and sox's effect spell it (%g): 1.00000000001 was a copy
        # 'sp1-' made with 'speed 1', an unperturbed duplicate of every utterance.
        f = float(f"{f:g}")
        if not f > 0:
            raise AsrkitError(f"speed factor {f:g} is not positive")
        if not MIN_FACTOR <= f <= MAX_FACTOR:
            raise AsrkitError(f"speed factor {f:g} is outside [{MIN_FACTOR:g}, {MAX_FACTOR:g}] (Kaldi's recipes use "
                              f"0.9 1.0 1.1)")
        if f in out:
            raise AsrkitError(f"speed factor {f:g} is given twice")
        out.append(f)
    if not out:
        raise AsrkitError("no speed factors given")
    return out


def copy_path(dst: Path, factor: float, reco: str) -> Path:
    """Where ``--method audio`` writes recording ``reco`` at ``factor``: the id made one file name
    (fileio.id_file_name: a '/' in it cannot make a folder; one of 28 CJK characters, valid
    everywhere else, failed the run with "file name too long")."""
    return dst / AUDIO_DIR / factor_prefix(factor).rstrip("-") / f"{id_file_name(reco)}.flac"


def perturb_data_dir_speed(src: PathLike, dst: PathLike, factors: Sequence[float],
                           method: str = "sox") -> PerturbReport:
    """Write ``dst``: ``src``'s utterances once per factor, combined in one sorted data dir."""
    factors = check_factors(factors)
    if method not in METHODS:
        raise AsrkitError(f"--method {method!r}: one of {', '.join(METHODS)}")
    if method == "sox" and any(f != 1.0 for f in factors) and shutil.which("sox") is None:
        raise AsrkitError("sox not found on PATH: speed-perturbed wav.scp entries are 'sox ... speed F |' "
                          "pipes (install it, e.g. apt-get install sox, or use --method audio; in a recipe, "
                          "--speed-perturb-method audio)")
    d = DataDir(src)
    d.require("wav.scp", "utt2spk")
    if Path(dst).resolve() == d.path.resolve():
        raise AsrkitError(f"{dst}: the output data dir must differ from the input")
    _check_replaceable(Path(dst), d.path)
    if method == "audio" and any(f != 1.0 for f in factors) and \
            any(ord(c) < 32 or ord(c) == 127 for c in str(Path(dst).resolve())):
        # (its copies' paths go into wav.scp: a line break cut each of their lines in two, exit 0)
        raise AsrkitError(f"{str(dst)!r}: the output path holds a line break or control character, which no wav.scp "
                          f"line naming the copies under it can hold (the path as links resolve): give another")
    # A table this command copies that is a directory or no regular file (a link to /dev/zero, a
    # FIFO) was taken for an absent one: a 'text' folder gave copies with no transcripts, exit 0,
    # where validate-, fix- and split-data-dir refuse it.
    for name in _READ:
        problem = d.not_a_file(name)
        if problem:
            raise AsrkitError(f"{d.file(name)}: {problem}")
    wav_scp, utt2spk = d.read("wav.scp"), d.read("utt2spk")
    _refuse_stdin_recordings(d, wav_scp)
    # (a segments line naming no usable segment: its utterance skipped and counted below, as
    # compute-fbank skips it; Kaldi's perturb_data_dir_speed.sh scales whatever it finds)
    bad_segments: Dict[str, Tuple[str, str]] = {}
    segments = d.segments(bad_segments) if d.has("segments") else None
    text = d.read("text") if d.has("text") else None
    keyed_by_utt = {n: d.read(n) for n in ("utt2dur",) if d.has(n)}
    keyed_by_reco = {n: d.read(n) for n in ("reco2dur",) if d.has(n)}
    copied_by_utt = {n: d.read(n) for n in COPIED_BY_UTT if d.has(n)}
    copied_by_reco = {n: d.read(n) for n in COPIED_BY_RECO if d.has(n)}
    spk2gender = d.read("spk2gender") if d.has("spk2gender") else None
    uniq = d.read("utt2uniq") if d.has("utt2uniq") else {}

    # An utterance we cannot copy faithfully is skipped and named (the shared bad-item rule).
    tally = BadItems(log, "utterances")
    # The durations the copies cannot carry, by recording and by utterance: each value checked once.
    bad_recos: Dict[str, str] = {}
    bad_durations: Dict[str, str] = {}
    for bad, tables, what in ((bad_recos, keyed_by_reco, "recording"), (bad_durations, keyed_by_utt, "utterance")):
        for name, table in tables.items():
            for key, value in table.items():
                why = _duration_problem(value, factors)
                if why:
                    bad.setdefault(key, f"{d.file(name)}: {what} {key!r}: {why}")
    keep: List[str] = []
    for utt in utt2spk:
        reco = segments[utt][0] if segments is not None and utt in segments else utt
        if text is not None and utt not in text:
            tally.skip(utt, f"{d.file('text')}: no transcript for utterance {utt!r} (in utt2spk)")
        elif utt in bad_segments:
            tally.skip(utt, f"utterance {utt!r}: {bad_segments[utt][1]}")
        elif segments is not None and utt not in segments:
            tally.skip(utt, f"{d.file('segments')}: no segment for utterance {utt!r} (in utt2spk)")
        elif reco not in wav_scp:
            tally.skip(utt, f"{d.file('wav.scp')}: no recording {reco!r} for utterance {utt!r}")
        elif reco in bad_recos:
            tally.skip(utt, f"utterance {utt!r}: {bad_recos[reco]}")
        elif utt in bad_durations:
            tally.skip(utt, bad_durations[utt])
        elif segments is not None and (f := _collapsed(segments[utt], factors)) is not None:
            start_s, end_s = _scaled_times(segments[utt], f)
            tally.skip(utt, f"{d.file('segments')}: utterance {utt!r}: segment {segments[utt][1]:g} "
                            f"{segments[utt][2]:g} is too short to scale: at speed {f:g} it is {start_s} {end_s}, "
                            f"which no reader takes (end not after start)")
        else:
            keep.append(utt)
    # Only utt2spk's utterances are copied: one with a transcript or a segment but no speaker
    # was left out of every copy without a word (Kaldi's apply_map.pl fails on it).
    for name, table in (("text", text), ("segments", None if segments is None else [*segments, *bad_segments])):
        for utt in table or ():
            if utt not in utt2spk and (name == "text" or text is None or utt not in text):
                tally.skip(utt, f"{d.file(name)}: utterance {utt!r} is not in utt2spk (no speaker)")
    _warn_unused_recordings(d, wav_scp, utt2spk, text, segments, {reco for reco, _ in bad_segments.values()})
    dst = Path(dst)
    reco_of = (lambda u: segments[u][0]) if segments is not None else (lambda u: u)
    if method == "sox" and any(f != 1.0 for f in factors):
        # A WAV cut short is refused by asrkit's reader, but 'sox ... speed F |' reads the fragment
        # without a word, and its stream states no length: the copies would train on the fragment
        # with the whole transcript. Its header tells (a header and a size, no samples read).
        _refuse_formats_sox_cannot_read(wav_scp, {reco_of(u) for u in keep}, d)
        cut = _truncated_wavs(wav_scp, {reco_of(u) for u in keep}, d)
        for utt in [u for u in keep if reco_of(u) in cut]:
            tally.skip(utt, f"utterance {utt!r}: {cut[reco_of(utt)]}")
        keep = [u for u in keep if reco_of(u) not in cut]
    made = missing_dirs([dst])
    tmp = tmp_dir_for(dst)
    try:
        if method == "audio":
            bad = _write_copies(wav_scp, sorted({reco_of(u) for u in keep}), factors, d, tmp)
            for utt in [u for u in keep if reco_of(u) in bad]:
                tally.skip(utt, f"utterance {utt!r}: {bad[reco_of(utt)]}")
            keep = [u for u in keep if reco_of(u) not in bad]
        tally.ok(len(keep))
        tally.check()
        kept = set(keep)
        used_recos = {reco_of(u) for u in keep}
        used_spks = {utt2spk[u] for u in keep}
        for kind, ids in (("utterance", keep), ("speaker", sorted(used_spks)), ("recording", sorted(used_recos))):
            _check_no_collision(kind, ids, factors, d)

        out: Dict[str, Dict[str, str]] = {n: {} for n in ("wav.scp", "utt2spk", "utt2uniq")}
        if segments is not None:
            out["segments"] = {}
        if text is not None:
            out["text"] = {}
        for n in (*keyed_by_utt, *keyed_by_reco, *copied_by_utt, *copied_by_reco):
            out[n] = {}
        if spk2gender is not None:
            out["spk2gender"] = {}
        for f in factors:
            p = factor_prefix(f)
            for reco, entry in wav_scp.items():
                if reco in used_recos:
                    out["wav.scp"][p + reco] = (str(copy_path(dst.resolve(), f, reco)) if method == "audio" and f != 1.0
                                                else speed_pipe(entry, f))
            for utt in keep:
                out["utt2spk"][p + utt] = p + utt2spk[utt]
                # a source that is itself a copy (utt2uniq: sp0.9-a -> a) keeps pointing at the
                # original, as Kaldi's script does: else a second perturbation lost the grouping
                out["utt2uniq"][p + utt] = uniq.get(utt, utt)
                if text is not None:
                    out["text"][p + utt] = text[utt]
            if segments is not None:
                for utt in keep:
                    start_s, end_s = _scaled_times(segments[utt], f)
                    out["segments"][p + utt] = f"{p + segments[utt][0]} {start_s} {end_s}"
            for name, table in keyed_by_utt.items():
                for key, value in table.items():
                    if key in kept:
                        out[name][p + key] = f"{kaldi_real(value) / f:.3f}"
            for name, table in keyed_by_reco.items():
                for key, value in table.items():
                    if key in used_recos:
                        out[name][p + key] = f"{kaldi_real(value) / f:.3f}"
            for name, table in copied_by_utt.items():
                for key, value in table.items():
                    if key in kept:
                        out[name][p + key] = value
            for name, table in copied_by_reco.items():
                for key, value in table.items():
                    if key in used_recos:
                        out[name][p + key] = value
            if spk2gender is not None:
                for spk, g in spk2gender.items():
                    if spk in used_spks:
                        out["spk2gender"][p + spk] = g

        _swap_in(dst, out, tmp)
    except BaseException as e:
        name_os_error(e, dst)
        shutil.rmtree(tmp, ignore_errors=True)
        remove_empty_dirs(made)  # (made for the temporary copy: a failed run left new1/x/ behind, empty)
        raise
    return PerturbReport(num_utts=len(keep), factors=factors,
                         dropped_tables=[n for n in DROPPED if d.has(n)], other_files=_other_files(d))


# What the source may hold besides the tables copied: spk2utt (made again) and what a run of
# asrkit-fix-data-dir or asrkit-split-data-dir leaves (.backup/, split<N>/: directories).
_KNOWN = ("wav.scp", "utt2spk", "spk2utt", "segments", "text", "utt2dur", "reco2dur", "spk2gender", "utt2uniq",
          *COPIED_BY_UTT, *COPIED_BY_RECO, *DROPPED)


def _warn_unused_recordings(d: DataDir, wav_scp: Dict[str, str], utt2spk: Dict[str, str],
                            text: Optional[Dict[str, str]], segments: Optional[Dict[str, tuple]],
                            named_by_bad_segments: Set[str]) -> None:
    """Name, with a count, the wav.scp lines no utterance uses; they are left out of the copies.

    They are not counted under the 5 % rule: no transcript, segment or speaker refers to them, so
    leaving them out loses nothing the source holds as an utterance (utt2spk is Kaldi's list of
    utterances; fix_data_dir.sh drops such lines, validate_data_dir.sh names them). Counted as
    failed utterances, 10 spare lines in a wav.scp of 60 failed the run as '10 of 60 utterances'
    where the source had 50. One a transcript or segment names is a counted skip (above), and so is
    one only a bad segments line names (``named_by_bad_segments``: not said to be unused)."""
    if segments is not None:
        used = {value[0] for value in segments.values()} | named_by_bad_segments
    else:
        used = set(utt2spk) | set(text or ())
    unused = [r for r in wav_scp if r not in used]
    if unused:
        log.warning("%s: %d of its %d lines name %s no utterance of %s uses (%s%s): left out of the copies "
                    "(asrkit-fix-data-dir %s removes them)", d.file("wav.scp"), len(unused), len(wav_scp),
                    "a recording" if segments is not None else "an id", d.file("segments" if segments is not None
                                                                               else "utt2spk"),
                    " ".join(unused[:3]), " ..." if len(unused) > 3 else "", d.path)


def _other_files(d: DataDir) -> List[str]:
    return sorted(p.name for p in d.path.iterdir()
                  if p.name not in _KNOWN and not p.name.startswith(".") and p.is_file())


def _check_no_collision(kind: str, ids: Sequence[str], factors: Sequence[float], d: DataDir) -> None:
    """An id of the source that is also a copy's id (utterance 'sp0.9-a' beside 'a', with 0.9 and
    1.0 among the factors) would silently merge two entries: one transcript, audio or speaker
    lost. A fatal error naming both (the ids are the user's to rename)."""
    if 1.0 not in factors:
        return  # copies of different factors differ in their prefixes: only the originals can clash
    originals = set(ids)
    for f in factors:
        p = factor_prefix(f)
        if not p:
            continue
        for i in ids:
            if p + i in originals:
                raise AsrkitError(f"{d.path}: the {f:g} copy of {kind} {i!r} would be {p + i!r}, which is also "
                                  f"the id of the source's own {kind} {p + i!r} (kept by factor 1): the two would "
                                  f"merge; rename the source's ids starting with 'sp<F>-', or leave 1.0 out of --factors")


def _check_replaceable(dst: Path, src: Path) -> None:
    """``dst`` is replaced as a whole at the end (a data dir is rewritten, not merged): it must not
    hold the input, nor be a directory other than a data dir. 'perturb data/train data' removed
    data/ with every other set in it (and the input itself); 'perturb data/train exp' all of exp/."""
    if src.resolve().is_relative_to(dst.resolve()):
        raise AsrkitError(f"{dst}: the output data dir holds the input {src}: replacing it would delete the input "
                          f"(give a new directory, e.g. {src}_sp)")
    if not dst.exists() and not dst.is_symlink():
        return
    if not dst.is_dir() or dst.is_symlink():
        in_the_way = not_a_directory(dst) or f"{dst}: exists and is not a directory"  # (or: a link to one)
        raise AsrkitError(f"{in_the_way}: not replaced (give a data dir to write)")
    # A data dir holds tables (files), maybe our audio copies, split<N>/ pieces and fix's .backup.
    foreign = sorted(p.name + "/" for p in dst.iterdir()
                     if p.is_dir() and not (p.name in (AUDIO_DIR, ".backup") or p.name.startswith("split")))
    if foreign:
        raise AsrkitError(f"{dst}: exists and holds {', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''}, "
                          f"so it is not a data dir: it is not replaced (remove it yourself, or give a new directory)")


def _scaled_times(segment: tuple, factor: float) -> Tuple[str, str]:
    """A segment's start and end at ``factor`` times the speed, as written; -1 (to the end) stays -1."""
    _, start, end = segment
    return f"{start / factor:.3f}", "-1" if end < 0 else f"{end / factor:.3f}"


def _collapsed(segment: tuple, factors: Sequence[float]) -> Optional[float]:
    """The first factor at which ``segment``'s scaled times, to the millisecond written, no longer
    have the end after the start (a sub-millisecond segment), or None: written, the copy's
    segments file failed validation and every reader, from a source that passed."""
    for f in factors:
        start_s, end_s = _scaled_times(segment, f)
        if end_s != "-1" and float(end_s) <= float(start_s):
            return f
    return None


def _duration_problem(value: str, factors: Sequence[float]) -> str:
    """What makes a utt2dur or reco2dur value unusable for the copies ('' when nothing): not a
    duration asrkit-validate-data-dir accepts (positive_seconds), or one written as 0.000 at some
    factor (the copies' durations are written to the millisecond, factor 1 too). A duration of 0,
    or of under half a millisecond, was written '0.000' with exit 0: a table validation refuses
    (fix-data-dir drops the utterance), the latter from a source that passed."""
    if not positive_seconds(value):
        x = kaldi_real(value)
        if x == 0:
            return f"{value!r} is a duration of 0 s (asrkit-validate-data-dir refuses it)"
        return f"{value!r} is not a duration in seconds"
    for f in factors:
        if not float(f"{kaldi_real(value) / f:.3f}") > 0:
            return f"{value!r} s is too short to scale: at speed {f:g} it is 0.000 to the millisecond written"
    return ""


def _refuse_formats_sox_cannot_read(wav_scp: Dict[str, str], recos: set, d: DataDir) -> None:
    """wav.scp may name MP3 or Opus files, which asrkit reads in-process (asrkit-make-data-dir
    takes them), but a sox built without them cannot: every copy's 'sox x.mp3 ... speed F |' failed
    at feature extraction, after this command had said nothing. Fatal, naming the way out.

    sox is asked about one file of each extension other than .wav (it reads some types by their
    content whatever the name: .wave, .oga, .rf64), and only its "no handler" counts: a file
    missing or damaged is the feature extraction's to name, as for a WAV.
    """
    from asrkit.data.sox import sox_info

    by_suffix: Dict[str, List[str]] = {}
    for reco in sorted(recos):
        entry = wav_scp[reco].strip()
        suffix = Path(entry).suffix.lower()
        if not entry.endswith("|") and suffix not in ("", ".wav"):
            by_suffix.setdefault(suffix, []).append(reco)
    for suffix, suffix_recos in sorted(by_suffix.items()):
        probe = next((r for r in suffix_recos if Path(wav_scp[r].strip()).is_file()), None)
        if probe is None:
            continue
        proc = sox_info(wav_scp[probe].strip())
        if proc is None:
            return
        if proc.returncode != 0 and "no handler" in proc.stderr:
            where = d.file("wav.scp")
            raise AsrkitError(f"{where}:{line_of(where, probe)}: recording {probe!r} is a {suffix} file, which this "
                              f"sox cannot read ({proc.stderr.strip().splitlines()[-1]}; {len(suffix_recos)} "
                              f"{suffix} recording(s) in all): the speed copies' 'sox ... speed F |' pipes would "
                              f"all fail; use --method audio (asrkit reads them itself; in a recipe, --speed-perturb-method "
                              f"audio), or a sox that reads {suffix}")


def _truncated_wavs(wav_scp: Dict[str, str], recos: set, d: DataDir) -> Dict[str, str]:
    """{recording: why} for the plain-path entries among ``recos`` whose WAV header promises more
    than the file holds (pipes and missing files are left to the feature extraction)."""
    from asrkit.features.wav import check_wav_file

    bad: Dict[str, str] = {}
    for reco in sorted(recos):
        entry = wav_scp[reco].strip()
        if entry.endswith("|"):
            continue
        try:
            check_wav_file(entry, f"{d.file('wav.scp')}: recording {reco!r} ({entry})")
        except AsrkitError as e:
            bad[reco] = str(e)
        except OSError:
            pass
    return bad


def _write_copies(wav_scp: Dict[str, str], recos: List[str], factors: Sequence[float], d: DataDir,
                  tmp: Path) -> Dict[str, str]:
    """Write each recording's speed copies under ``tmp/audio/`` (``--method audio``); returns
    {recording: why} for those that could not be read or written."""
    import numpy as np

    from asrkit.features.resample import speed_perturb
    from asrkit.features.wav import ALL_CHANNELS, read_wav_source
    from asrkit.utils.logging import progress

    bad: Dict[str, str] = {}
    changed = [f for f in factors if f != 1.0]
    if not changed:
        return bad
    import soundfile as sf

    for f in changed:
        (tmp / copy_path(Path("."), f, "x").parent).mkdir(parents=True, exist_ok=True)
    for reco in progress(recos, desc="speed copies", unit="rec"):
        try:
            # Every channel kept, as sox's 'speed' keeps them: a downmix made the copies of a
            # stereo recording mono, so '--channel 1' refused them and '--channel 0' (or the
            # default, which refuses the stereo originals) trained on the two channels' mix.
            samples, rate = read_wav_source(wav_scp[reco], f"{d.file('wav.scp')}: recording {reco!r}",
                                            channel=ALL_CHANNELS)
        except AsrkitError as e:
            bad[reco] = str(e)
            continue
        for f in changed:
            fast = np.stack([speed_perturb(samples[:, c], rate, f) for c in range(samples.shape[1])], axis=1)
            y = np.clip(np.round(fast), -32768, 32767).astype(np.int16)
            # Encoded in memory and written by Python: libsndfile reports a full disk as
            # "System error." (a LibsndfileError traceback), without the errno or the file.
            flac = io.BytesIO()
            try:
                sf.write(flac, y, rate, format="FLAC", subtype="PCM_16")
            except (sf.LibsndfileError, RuntimeError, ValueError) as e:
                # (FLAC holds rates up to 655,350 Hz: 700 kHz audio, which asrkit reads, was a traceback)
                bad[reco] = (f"{d.file('wav.scp')}: recording {reco!r}: its speed copies cannot be written as FLAC "
                             f"at {rate} Hz ({str(getattr(e, 'error_string', '') or e).strip()})")
                break
            (tmp / copy_path(Path("."), f, reco)).write_bytes(flac.getvalue())
    return bad


def _swap_in(dst: Path, tables: Dict[str, Dict[str, str]], tmp: Path) -> None:
    """Write every table into ``tmp`` (a sibling temp dir, which may already hold the audio
    copies) and rename it to ``dst``: no half-written data dir (the caller removes ``tmp`` on any
    error; a killed run's is removed by the next one)."""
    for name, table in tables.items():
        write_table(tmp / name, table, sort=True)
    spk2utt = utt2spk_to_spk2utt(dict(sorted(tables["utt2spk"].items())))
    write_table(tmp / "spk2utt", list(spk2utt.items()))
    replace_dir(tmp, dst)
