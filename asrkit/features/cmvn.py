"""Cepstral mean and variance normalization with Kaldi's statistics format.

Stats are Kaldi's ``(2, D+1)`` float64 matrix: row 0 holds the per-dimension sums of the
features and the frame count in the last column, row 1 the sums of squares (last column 0).
Stats add up, so per-utterance, per-speaker and global stats are all the same object, and a
file written here is read by Kaldi's ``apply-cmvn`` and vice versa.

e.g.::

    >>> stats = accumulate_cmvn(feats)                         # doctest: +SKIP
    >>> normalized = apply_cmvn(feats, stats, norm_vars=True)  # float32, zero mean, unit variance
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import sys
from typing import IO, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

import numpy as np

from asrkit.utils.errors import AsrkitError

log = logging.getLogger("cmvn")

NO_FEATURES = "no features to compute CMVN stats from"
# Kaldi floors the variance here (with a warning) instead of dividing by zero.
VAR_FLOOR = 1.0e-20
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# The largest feature magnitude accepted: about sqrt(float32's max), so a value's square (a
# variance, an energy) still fits float32. No front end comes near it (a log-mel value of int16
# audio is within +-30, a linear mel energy below 1e16), and a float32 feature of 1e30 passed
# every check: compute-cmvn summed its square into the set's stats, squashing that dim to ~0 for
# every other utterance, and asrkit-decode wrote an empty text for it, exit 0.
FEATURE_ABS_MAX = 2.0 ** 64
# Frames converted to float64 at a time: an utterance converted whole took three times its own
# size (3.1 GB for 3M frames of 80 dims, 960 MB); a chunk is 10 MB at 80 dims. An utterance up to
# this long is summed in one go, as before.
CHUNK_FRAMES = 1 << 14


def accumulate_cmvn(feats: np.ndarray, stats: Optional[np.ndarray] = None, utt_id: str = "") -> np.ndarray:
    """Add the frames of ``feats`` (T, D) to ``stats`` (2, D+1) (new zero stats when None).

    NaN or infinite features are an error naming ``utt_id``: they would poison every
    statistic they are summed into, silently.
    """
    name = f"utterance {utt_id!r}" if utt_id else "features"
    if feats.ndim != 2:
        raise AsrkitError(f"{name}: expected a (frames, dim) matrix, got shape {feats.shape}")
    dim = feats.shape[1]
    if stats is None:
        stats = np.zeros((2, dim + 1), dtype=np.float64)
    elif stats.shape != (2, dim + 1):
        raise AsrkitError(f"{name}: feature dimension {dim} does not match the stats' {stats.shape[1] - 1}")
    sums, squares = np.zeros(dim), np.zeros(dim)
    for first in range(0, feats.shape[0], CHUNK_FRAMES):
        x = feats[first:first + CHUNK_FRAMES].astype(np.float64, copy=False)
        if not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x))[0]
            raise AsrkitError(f"{name}: non-finite feature value {x[bad[0], bad[1]]} at frame {first + bad[0]}, "
                              f"dim {bad[1]}")
        sums += x.sum(axis=0)
        squares += np.einsum("td,td->d", x, x)
    if not (np.isfinite(sums).all() and np.isfinite(squares).all()):
        # finite doubles (a DM matrix of 1e200) whose squares overflow: checked before adding, so
        # the stats accumulated so far stay finite
        raise AsrkitError(f"{name}: feature values too large for CMVN stats (their sums of squares overflow)")
    stats[0, :dim] += sums
    stats[1, :dim] += squares
    stats[0, dim] += feats.shape[0]
    return stats


def check_features(utt: str, feats: np.ndarray, dim: Optional[int] = None, need_frames: bool = False) -> None:
    """An utterance's features fit for CMVN: a (frames, dim) matrix of finite numbers within
    FEATURE_ABS_MAX (of ``dim`` columns when given; with ``need_frames``, of at least one frame);
    else an AsrkitError naming the utterance, for the caller to skip it."""
    if feats.ndim != 2:
        raise AsrkitError(f"utterance {utt!r}: expected a (frames, dim) matrix, got shape {feats.shape}")
    if feats.shape[1] == 0:
        # else, read first, its dimension 0 became the one every later utterance was refused for
        raise AsrkitError(f"utterance {utt!r}: features with no dimensions (shape {feats.shape})")
    if need_frames and feats.shape[0] == 0:
        # (compute-cmvn: stats of nothing but such utterances were written with a count of 0, which
        # every reader refuses later as Kaldi's "insufficient stats")
        raise AsrkitError(f"utterance {utt!r}: no frames (a 0 x {feats.shape[1]} matrix)")
    if dim is not None and feats.shape[1] != dim:
        raise AsrkitError(f"utterance {utt!r}: feature dimension {feats.shape[1]}, the set's is {dim}")
    check_values(feats, f"utterance {utt!r}: ")


def check_values(feats: np.ndarray, name: str = "") -> None:
    """An AsrkitError starting with ``name`` (e.g. "utterance 'u1': ") at the first value of
    ``feats`` (T, D) that is not finite or lies beyond FEATURE_ABS_MAX: the value check of
    :func:`check_features`, which asrkit-decode makes on its own features too."""
    finite = np.isfinite(feats)
    if not finite.all():
        frame, d = np.argwhere(~finite)[0]
        raise AsrkitError(f"{name}non-finite feature value {feats[frame, d]} at frame {frame}, dim {d}")
    if feats.size and not max(float(feats.max()), -float(feats.min())) <= FEATURE_ABS_MAX:  # (no |feats| copy)
        frame, d = np.argwhere(np.abs(feats) > FEATURE_ABS_MAX)[0]
        value = feats[frame, d]
        if abs(value) > _FLOAT32_MAX:
            # A double matrix (Kaldi's DM) may hold finite values no float32 feature can: 1e200
            # became inf in apply-cmvn's float32 output, and its square inf in compute-cmvn's stats.
            raise AsrkitError(f"{name}feature value {value:g} at frame {frame}, dim {d} is beyond float32's range "
                              f"(features are float32, as in Kaldi)")
        raise AsrkitError(f"{name}feature value {value:g} at frame {frame}, dim {d} is beyond "
                          f"{FEATURE_ABS_MAX:.3g}, larger than any front end makes (damaged features?)")


class SetDimension:
    """The set's feature dimension: the most common one of all its utterances (ties: the one seen
    first), known once every utterance is read.

    A vote of the first 5 utterances decided it: 3 odd 40-dim ones at the start of a set of 80-dim
    ones made the 21 good ones the bad ones ("feature dimension 80, the set's is 40"), and with
    --max-bad-percent 100 the 40-dim stats were written, exit 0. Callers sum each dimension apart
    (a few (2, D+1) matrices) and keep the set's at the end; only the utterances' names are held
    here, so a stream (ark:-) of any length is read once. (Per-utterance stats need no set
    dimension: each is of its own utterance's features, as in Kaldi.)
    """

    def __init__(self) -> None:
        self._utts: Dict[int, List[str]] = {}  # (in the order each dimension was first seen)

    def add(self, utt: str, dim: int) -> None:
        self._utts.setdefault(dim, []).append(utt)

    @property
    def dim(self) -> Optional[int]:
        """The set's dimension (None before any utterance)."""
        return max(self._utts, key=lambda d: len(self._utts[d])) if self._utts else None

    def utterances(self, dim: int) -> List[str]:
        """The utterances of dimension ``dim``, in the order read."""
        return self._utts.get(dim, [])

    def others(self) -> List[Tuple[str, str]]:
        """``(utt, message)`` for each utterance of another dimension than the set's, in the
        order read per dimension: bad items for the caller's tally."""
        dim = self.dim
        return [(utt, f"utterance {utt!r}: feature dimension {d}, the set's is {dim}")
                for d, utts in self._utts.items() if d != dim for utt in utts]

    def refuse_others(self) -> None:
        """An AsrkitError naming the first utterance of another dimension, if any (for a caller
        that gave no SetDimension to learn them)."""
        others = self.others()
        if others:
            more = f" (and {len(others) - 1} more of other dimensions)" if len(others) > 1 else ""
            raise AsrkitError(others[0][1] + more)


def check_stats(stats: np.ndarray, where: str = "CMVN stats") -> np.ndarray:
    """Validate a stats matrix read from somewhere; returns it as float64."""
    stats = np.asarray(stats, dtype=np.float64)
    if stats.ndim != 2 or stats.shape[0] != 2 or stats.shape[1] < 2:
        raise AsrkitError(f"{where}: not Kaldi CMVN stats (expected a 2 x (dim+1) matrix, got shape {stats.shape})")
    if not np.isfinite(stats).all():
        row, col = np.argwhere(~np.isfinite(stats))[0]
        raise AsrkitError(f"{where}: non-finite CMVN stats ({stats[row, col]} in row {row}, column {col})")
    return stats


# A variance below minus this share of the mean square is impossible, not rounding (see cmvn_transform).
NEGATIVE_VAR_TOLERANCE = 1e-4
CONSTANT_STD = 1e-4  # a dim whose standard deviation is at most this share of its mean (or of 1) is constant


class ConstantStats(AsrkitError):
    """Stats in which no dim varies (see :func:`cmvn_transform`)."""


def cmvn_transform(stats: np.ndarray, norm_vars: bool = True, where: str = "CMVN stats",
                   warn: bool = True, floor_constant: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """``(scale (D,), offset (D,))`` such that normalized = feats * scale + offset, as Kaldi's ApplyCmvn.
    ``warn``: say when variances are floored (False where the stats were checked when loaded).

    Some dims without variance are floored to VAR_FLOOR with a warning, as Kaldi floors them.
    Stats in which no dim varies are a :class:`ConstantStats` error naming ``where`` unless
    ``floor_constant``: global stats (asrkit-apply-cmvn's, asrkit-train's --cmvn, the packed
    model's) are of a whole set, in which every dim varies, so such stats are damaged, and every
    feature scaled by up to 1e10 is noise. Stats of one utterance or speaker of a table come from
    that data itself, where none varying is legitimate (an utterance of one frame, or of digital
    silence: fbank at its energy floor in every bin): the caller passes ``floor_constant`` to floor
    them as Kaldi does (x - mean is then 0) and counts them (:class:`Cmvn`)."""
    stats = check_stats(stats, where)
    dim = stats.shape[1] - 1
    count = stats[0, dim]
    if count < 1.0:
        raise AsrkitError(f"{where}: insufficient stats for CMVN (frame count {count})")
    mean = stats[0, :dim] / count
    if not norm_vars:
        return np.ones(dim), -mean
    squares = stats[1, :dim] / count
    var = squares - mean * mean
    # No frames give a sum of squares below the squared sum over the count (a negative variance)
    # beyond rounding (a text file's 6 digits: ~1e-6 of it). Kaldi floors such a variance to
    # 1e-20 with a warning: apply-cmvn scaled those dims by 1e10, exit 0, for a 2 x (D+1)
    # matrix that was never stats (features of two frames, a hand-edited or damaged file).
    impossible = var < -NEGATIVE_VAR_TOLERANCE * np.maximum(squares, 0.0)
    if impossible.any():
        d = int(np.argmax(impossible))
        raise AsrkitError(f"{where}: not valid CMVN stats: dim {d} has a negative variance ({var[d]:g}: its sum "
                          f"of squares {stats[1, d]:g} is below its squared sum over the {count:g} frames, "
                          f"{stats[0, d] ** 2 / count:g}); damaged, or not stats")
    floored = var < VAR_FLOOR
    if floored.all() and not floor_constant:
        raise ConstantStats(f"{where}: the variance of every one of the {dim} dims is below {VAR_FLOOR:g} (stats of "
                          f"constant features, or damaged): every feature would be scaled by {VAR_FLOOR ** -0.5:g}")
    # Stats of constant features seldom give a variance of exactly 0: float64 sums of squares leave
    # rounding of ~1e-11 (asrkit-compute-cmvn over 300k frames of one vector floored 18 of 40 dims
    # and scaled the rest by ~1e5): a model decoded wrong text with exit 0.
    if not floor_constant and np.all(var <= (CONSTANT_STD * np.maximum(np.abs(mean), 1.0)) ** 2):
        raise ConstantStats(f"{where}: none of the {dim} dims varies (standard deviations at most {CONSTANT_STD:g} of "
                          f"their means): stats of constant features, or damaged")
    if floored.any():
        if warn:
            log.warning("%s: flooring variance of %d dims to %g", where, int(floored.sum()), VAR_FLOOR)
        var = np.maximum(var, VAR_FLOOR)
    scale = 1.0 / np.sqrt(var)
    return scale, -mean * scale


def _normalize(feats: np.ndarray, scale: np.ndarray, offset: np.ndarray, name: str,
               first_frame: int = 0) -> np.ndarray:
    """``feats * scale + offset`` as float32, CHUNK_FRAMES at a time; an AsrkitError naming ``name``
    where that overflows float32 (a variance floored to 1e-20 scales by 1e10: a feature 1e29 off
    the mean is then inf). ``first_frame``: where ``feats`` starts in the utterance, for that error."""
    if len(feats) > CHUNK_FRAMES:
        out = np.empty(feats.shape, dtype=np.float32)
        for first in range(0, len(feats), CHUNK_FRAMES):
            out[first:first + CHUNK_FRAMES] = _normalize(feats[first:first + CHUNK_FRAMES], scale, offset, name, first)
        return out
    out = feats.astype(np.float64) * scale + offset
    big = ~(np.abs(out) <= _FLOAT32_MAX)
    if big.any():
        frame, d = np.argwhere(big)[0]
        raise AsrkitError(f"{name}: normalized feature {out[frame, d]:g} at frame {first_frame + frame}, dim {d} "
                          f"overflows float32 (the stats' variance of dim {d} is {1 / scale[d] ** 2:g}: were they "
                          f"computed from other features?)")
    return out.astype(np.float32)


def apply_cmvn(feats: np.ndarray, stats: np.ndarray, norm_vars: bool = True, utt_id: str = "") -> np.ndarray:
    """Normalize ``feats`` (T, D) with Kaldi ``stats`` (2, D+1): mean 0 (and variance 1); float32 out."""
    scale, offset = cmvn_transform(stats, norm_vars)
    if feats.ndim != 2 or feats.shape[1] != scale.shape[0]:
        raise AsrkitError(f"CMVN stats are for {scale.shape[0]}-dim features, got features of shape {feats.shape}")
    return _normalize(feats, scale, offset, f"utterance {utt_id!r}" if utt_id else "features")


def compute_cmvn_stats(
    feats: Iterable[Tuple[str, np.ndarray]], spk2utt: Optional[Mapping[str, Iterable[str]]] = None,
    dims: Optional[SetDimension] = None,
) -> Tuple[Union[np.ndarray, Dict[str, np.ndarray]], Dict[str, int]]:
    """Global stats (``spk2utt`` None) or ``{speaker: stats}`` from ``(utt, feats)`` pairs.

    Only the utterances of the set's dimension are in the stats (see :class:`SetDimension`):
    ``dims`` learns the others, for the caller to count as bad items; without it they are an
    error naming them. Returns ``(stats, counts)``; counts has ``utts`` (in the stats: with
    ``spk2utt``, those of its speakers), ``missing`` (utterances named in spk2utt without
    features of the set's dimension), ``empty_speakers`` (speakers with no such features at all,
    left out of the table as Kaldi does) and, with ``spk2utt``, ``unlisted`` (utterances with
    features in none of its speakers, left out).
    """
    refuse = dims is None
    dims = SetDimension() if dims is None else dims
    if spk2utt is None:
        totals: Dict[int, np.ndarray] = {}
        for utt, mat in feats:
            stats = accumulate_cmvn(mat, None, utt)
            dim = mat.shape[1]
            if dim in totals:
                totals[dim] += stats
            else:
                totals[dim] = stats
            dims.add(utt, dim)
        if refuse:
            dims.refuse_others()
        if dims.dim is None:
            raise AsrkitError(NO_FEATURES)
        return totals[dims.dim], {"utts": len(dims.utterances(dims.dim)), "missing": 0, "empty_speakers": 0}
    # Each utterance is summed into its speakers' stats as it is read: the stats of every utterance
    # were held until the end (1.3 KB each at 80 dims: 370 MB for a 281k-utterance set). One such
    # table per dimension, the set's kept.
    speakers_of: Dict[str, List[str]] = {}
    for spk, utts in spk2utt.items():
        for utt in utts:
            speakers_of.setdefault(utt, []).append(spk)
    accs: Dict[int, Dict[str, np.ndarray]] = {}
    unlisted: List[str] = []
    for utt, mat in feats:
        stats = accumulate_cmvn(mat, None, utt)  # (the checks, for the unlisted too)
        if utt not in speakers_of:
            unlisted.append(utt)
            continue
        dims.add(utt, mat.shape[1])
        acc = accs.setdefault(mat.shape[1], {})
        for spk in speakers_of[utt]:
            if spk in acc:
                acc[spk] += stats
            else:
                acc[spk] = stats.copy()
    if refuse:
        dims.refuse_others()
    acc = accs.get(dims.dim, {}) if dims.dim is not None else {}
    seen = set(dims.utterances(dims.dim)) if dims.dim is not None else set()
    out: Dict[str, np.ndarray] = {}
    missing = empty = 0
    for spk, utts in spk2utt.items():
        for utt in utts:
            if utt not in seen:
                log.warning("no features for utterance %r of speaker %r", utt, spk)
                missing += 1
        if spk not in acc:
            log.warning("speaker %r has no features: left out of the stats", spk)
            empty += 1
            continue
        out[spk] = acc[spk]
    if not out:
        raise AsrkitError("no speaker in spk2utt has features: no CMVN stats written")
    warn_unlisted(unlisted)
    # What went into the stats: the unlisted were counted too ("1 speakers (60 utterances)" for a
    # spk2utt of 31 of them).
    return out, {"utts": len(seen), "missing": missing, "empty_speakers": empty, "unlisted": len(unlisted)}


def warn_unlisted(unlisted: List[str]) -> None:
    """The warning for utterances with features in no speaker of spk2utt: their frames are in no
    speaker's stats (Kaldi leaves them out without a word)."""
    if unlisted:
        log.warning("%d utterance(s) with features are in no speaker of spk2utt, left out of the stats: %s%s",
                    len(unlisted), " ".join(unlisted[:10]), " ..." if len(unlisted) > 10 else "")


class Cmvn:
    """CMVN for a loader: global stats, or per-speaker stats with an utt2spk map.

    ``Cmvn(stats)(utt, feats)`` normalizes one utterance; the transform per speaker is
    computed once. An utterance whose speaker has no stats is an error naming both.
    ``warn=False``: floored variances are not said again (the stats were checked where loaded).
    ``utt2spk_where`` names the utt2spk table in the error for an utterance it lacks.
    """

    def __init__(self, stats: Union[np.ndarray, Mapping[str, np.ndarray]], norm_vars: bool = True,
                 utt2spk: Optional[Mapping[str, str]] = None, where: str = "CMVN stats", warn: bool = True,
                 utt2spk_where: str = "utt2spk") -> None:
        self.norm_vars = norm_vars
        self.where = where
        self.utt2spk = utt2spk
        self.utt2spk_where = utt2spk_where
        if isinstance(stats, Mapping):
            # A key whose stats are unusable (a speaker of 0 frames: Kaldi's "insufficient stats")
            # fails its own utterances only, as a bad item, not every other speaker's.
            self._table: Dict[str, Union[Tuple[np.ndarray, np.ndarray], AsrkitError]] = {}
            constant: List[str] = []
            for k, v in stats.items():
                try:
                    self._table[k] = cmvn_transform(v, norm_vars, f"{where} [{k}]", warn)
                except ConstantStats:
                    # A key's stats are of its own utterances: an utterance of one frame or of
                    # digital silence has no dim that varies. Skipping it lost it from a dump
                    # (and its hypothesis from a decoding); Kaldi floors them.
                    self._table[k] = cmvn_transform(v, norm_vars, f"{where} [{k}]", warn=False,
                                                    floor_constant=True)
                    constant.append(k)
                except AsrkitError as e:
                    self._table[k] = e
            if constant and warn:
                log.warning("%s: the stats of %d of the %d %s have no dim that varies (one frame, or digital "
                            "silence), their variances floored to %g as Kaldi floors them: %s%s", where,
                            len(constant), len(self._table), "speakers" if utt2spk is not None else "utterances",
                            VAR_FLOOR, " ".join(constant[:10]), " ..." if len(constant) > 10 else "")
            self._global = None
        else:
            self._table = None
            self._global = cmvn_transform(stats, norm_vars, where, warn)

    def __call__(self, utt: str, feats: np.ndarray) -> np.ndarray:
        if self._global is not None:
            scale, offset = self._global
        else:
            key = utt if self.utt2spk is None else self.utt2spk.get(utt)
            if key is None:
                raise AsrkitError(f"utterance {utt!r}: not in {self.utt2spk_where}")
            if key not in self._table:
                what = f"speaker {key!r} of utterance {utt!r}" if self.utt2spk is not None else f"utterance {utt!r}"
                raise AsrkitError(f"{self.where}: no stats for {what}")
            if isinstance(self._table[key], AsrkitError):
                raise AsrkitError(f"utterance {utt!r}: {self._table[key]}")
            scale, offset = self._table[key]
        if feats.ndim != 2 or feats.shape[1] != scale.shape[0]:
            raise AsrkitError(f"utterance {utt!r}: features of shape {feats.shape}, CMVN stats are for "
                              f"{scale.shape[0]}-dim features")
        return _normalize(feats, scale, offset, f"utterance {utt!r}")


def is_specifier(arg: str) -> bool:
    """Kaldi's ClassifyWspecifier/ClassifyRspecifier: ``ark:``/``scp:`` (with options) vs a filename."""
    m = re.match(r"^([a-z]+(?:,[a-z]+)*):", arg)
    return bool(m) and bool({"ark", "scp"} & set(m.group(1).split(",")))


def table_path(rspecifier: str) -> str:
    """The file of a text-table rspecifier (``ark:data/x/spk2utt`` -> ``data/x/spk2utt``); a bare path as is.
    ``-`` and ``ark:-`` are stdin (/dev/stdin), as in Kaldi and asrkit-score (``-`` was "no such file")."""
    if not is_specifier(rspecifier):
        return "/dev/stdin" if rspecifier == "-" else rspecifier
    opts, path = rspecifier.split(":", 1)
    if "scp" in opts.split(","):
        raise AsrkitError(f"bad table rspecifier {rspecifier!r}: give the table itself, e.g. ark:data/train/spk2utt")
    if path == "-":
        return "/dev/stdin"
    if path.endswith("|"):
        raise AsrkitError(f"bad table rspecifier {rspecifier!r}: a file is required")
    return path


def write_stats(stats: np.ndarray, wxfilename: str, binary: bool = True) -> None:
    """One stats matrix to a file (no key), as compute-cmvn-stats writes global stats; atomic."""
    with open_stats_output(wxfilename) as f:
        write_stats_to(f, stats, binary)


def write_stats_to(f: IO[bytes], stats: np.ndarray, binary: bool = True) -> None:
    """One stats matrix to ``f``, an output :func:`open_stats_output` opened."""
    from kaldiio.matio import write_array, write_array_ascii

    if binary:
        write_array(f, stats)  # writes Kaldi's "\0B" binary marker itself
    else:
        write_array_ascii(f, stats)


@contextlib.contextmanager
def open_stats_output(wxfilename: str) -> Iterator[IO[bytes]]:
    """The global stats output, open for writing: a temporary file renamed into place when the
    block ends without an error (stdout for ``-``).

    Open it before the features are read: global stats are written once every utterance is read
    (Kaldi's compute-cmvn-stats too), so an output that cannot be written (under a file, in a
    folder this user cannot write, on a read-only mount, a full disk or quota, an ACL) failed only
    then, after minutes to hours of reading, for a typo in the last argument. Creating the file is
    the one test that covers every reason. On a failure the folders made for it are removed."""
    from asrkit.utils.fileio import atomic_open, missing_dirs, name_os_error, remove_empty_dirs

    check_stats_output(wxfilename)
    if wxfilename == "-":
        try:
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
        except OSError as e:
            name_os_error(e, "<stdout>")
            raise
        return
    made = missing_dirs([wxfilename])
    opened = False
    try:
        with atomic_open(wxfilename, "wb") as f:
            opened = True
            yield f
    except BaseException as e:
        if not opened and isinstance(e, OSError) and e.errno not in (errno.ENOTDIR, errno.EEXIST, errno.ENOENT):
            # (the output, not the folder its temporary file's mkdir or mkstemp failed in: the
            # user named the output; a path error keeps the component it is about)
            e.filename = wxfilename
        remove_empty_dirs(made)
        raise


def check_stats_output(wxfilename: str) -> None:
    """What :func:`write_stats` refuses by its name, checked before the stats are computed (an
    empty name was refused only once every utterance had been read); whether it can be written
    is found by :func:`open_stats_output` creating it."""
    # Kaldi's wxfilename: "-" is stdout (a file named "-" would be written otherwise); an output
    # pipe, an empty name or a directory would be a file with an odd name or a rename traceback.
    if wxfilename == "-":
        if sys.stdout is None:
            raise AsrkitError("cannot write stats to '-': stdout is closed")
        return
    if not wxfilename.strip() or wxfilename.lstrip().startswith("|"):
        raise AsrkitError(f"bad stats output {wxfilename!r}: give a file name, or - for stdout (output pipes "
                          "are not supported: write - and pipe it)")
    if os.path.isdir(wxfilename):
        raise AsrkitError(f"bad stats output {wxfilename!r}: is a directory, not a file name")
    from asrkit.utils.fileio import is_stream, not_a_directory

    if is_stream(wxfilename):
        return
    # In the words a failed mkdir does not find: the folder in the way, the link to nothing.
    folder = os.path.dirname(os.path.abspath(wxfilename))
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    if not os.path.exists(folder):  # a link to nothing (exp -> an unmounted scratch disk)
        from asrkit.utils.errors import broken_link_message

        broken = broken_link_message(wxfilename)
        if broken:
            raise AsrkitError(broken)
        return
    in_the_way = not_a_directory(folder)
    if in_the_way:
        raise AsrkitError(f"{in_the_way} (the stats output {wxfilename} goes under it)")


def load_cmvn(path_or_rspecifier: str) -> Union[np.ndarray, Dict[str, np.ndarray]]:
    """Read stats as Kaldi's apply-cmvn does: a filename gives one (global) matrix, an
    rspecifier (``ark:cmvn.ark``, ``scp:cmvn.scp``) a table keyed by speaker or utterance.

    Only Kaldi's matrix formats are read (a pickle or numpy entry is refused), and stats that
    are not finite are an error naming the file and the key."""
    from asrkit.data.matrix_io import read_single
    from asrkit.data.specifier import read_matrices

    spec = path_or_rspecifier
    if not spec.strip():
        raise AsrkitError(f"bad CMVN stats {spec!r}: give a stats file (cmvn.ark) or a table (ark:cmvn_spk.ark)")
    if is_specifier(spec):
        table = {k: check_stats(m, f"{spec} [{k}]") for k, m in read_matrices(spec)}
        if not table:
            raise AsrkitError(f"{spec}: no CMVN stats in the table")
        return table
    return check_stats(read_single(spec), spec)
