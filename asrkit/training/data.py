"""Training data: a dump dir's utterances, their features (through kaldiio, CMVN applied) and batches.

A dump dir holds ``feats.scp``, ``utt2num_frames`` and ``text`` (or, to train straight from
audio, ``wav.scp`` with optional ``segments`` and ``utt2dur``: :mod:`asrkit.training.audio_data`).
Utterances that cannot be trained on (no features, no transcript, an empty transcript) are
reported by count, with their ids, and left out; more than ``max_missing_ratio`` of them is an
error, as Kaldi fails a stage where fewer than 95 % of the utterances succeed. Transcripts too
long for CTC after the listener's downsampling are named and counted (CTC gives them loss 0).
Features that turn out unreadable, empty or not finite only when a batch reads them are the
trainer's to skip and count (:mod:`asrkit.training.bad_utterances`).

The table of utterances is a few flat numpy arrays (:class:`~asrkit.training.utt_table.UttTable`),
built while the tables are read line by line, so that a corpus of 281k utterances costs tens of MB
in the training process and stays shared with its DataLoader workers.
"""
from __future__ import annotations

import ctypes
import functools
import os
import re
import signal
import sys
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from asrkit.data.datadir import DataDir, dir_problem
from asrkit.data.matrix_io import parse_scp_value, read_entry
from asrkit.data.table import ascii_int, iter_table_fast, line_of
from asrkit.text.tokenizer import UnknownTally
from asrkit.training.utt_table import (IntListsBuilder, PrefixStrings, PrefixStringsBuilder, Strings, StringsBuilder,
                                       Utterance, UttTable)
from asrkit.utils.bad_items import max_failures
from asrkit.utils.config import SettingError
from asrkit.utils.errors import AsrkitError, shown
from asrkit.utils.logging import get_logger, progress

log = get_logger(__name__)
# DataLoader workers per CPU core, at most (I/O-bound readers use a few per core; more is a typo).
MAX_WORKERS_PER_CORE = 8

__all__ = ["Utterance", "UttTable", "load_utterances", "load_cmvn", "FeatureDataset", "Batch", "collate",
           "make_loader"]
_TOKENIZE_CHUNK = 4096  # transcripts encoded per sentencepiece call
_DIM_VOTES = 5  # utterances whose feature dimension decides the set's
# With CMVN stats: the most readable utterances looked at for one of the stats' dimension before
# the stats are called another set's (the first 5 alone refused a set whose first 5 were odd).
_STATS_DIM_LOOK = 100
# The lengths are an int32 column: a table saying 10**10 frames was an OverflowError traceback.
MAX_FRAMES = np.iinfo(np.int32).max
_PLAIN_ARK_ENTRY = re.compile(r"[^\[\]|:]+:[0-9]+")  # "feats.ark:123": nothing parse_scp_value could refuse


def _report(kind: str, ids: Sequence[str], where: Path) -> None:
    if not ids:
        return
    shown = " ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
    log.warning("%s: %d utterance(s) %s, left out: %s (all ids with -v)", where, len(ids), kind, shown)
    log.debug("%s: utterances %s: %s", where, kind, " ".join(ids))


class UnreadableUtterance(AsrkitError):
    """An utterance whose audio could not be read where its length is measured (a raw dump dir
    without utt2num_frames): a bad item, as it is when a batch reads it, not the end of the run."""


@dataclass
class DumpDirInputs:
    """What a dump dir trains from, read before the utterances are: one row per utterance key.
    Public: audio_data builds one from a raw (wav.scp) dump dir."""

    file: Path  # feats.scp or wav.scp: the file the sources' line numbers are of
    keys: List[str]  # utterances, in order
    source_of: Sequence[int]  # row of ``sources`` for the k-th key
    sources: Union[Strings, PrefixStrings]
    source_lines: np.ndarray
    length_of: Callable[[str], Optional[int]]  # frames of an utterance (None: unknown -> left out)
    length_table: Path  # named when lengths are missing
    starts: Optional[Dict[str, Tuple[float, float]]] = None  # segments: utt -> (start, end)


def bad_frame_count(d: DataDir, utt: str, value: str) -> AsrkitError:
    """utt2num_frames' ``value`` for ``utt`` is no integer in ASCII digits (int() took '٣', '1_0'),
    or a negative one."""
    table = d.file("utt2num_frames")
    lineno = line_of(table, utt)
    return AsrkitError(f"{table}{'' if lineno is None else f':{lineno}'}: bad frame count {shown(value)} for {utt!r} "
                       f"(expected an integer in ASCII digits{', not negative' if value.startswith('-') else ''})")


def frame_count(d: DataDir, utt: str, value: str) -> int:
    """utt2num_frames' ``value`` for ``utt``, checked: a negative count, which the table alone can
    say, left the utterance out as 'shorter than one frame', named as its features' or audio's fault."""
    n = ascii_int(value)
    if n is None or n < 0:
        raise bad_frame_count(d, utt, value)
    return n


def _feats_inputs(d: DataDir) -> DumpDirInputs:
    scp = d.file("feats.scp")
    keys: List[str] = []
    values: List[str] = []
    lines = array("i")
    for key, value, lineno in iter_table_fast(scp):
        keys.append(key)
        values.append(value)
        lines.append(lineno)
        if not _PLAIN_ARK_ENTRY.fullmatch(value):  # a malformed entry fails now, not mid-epoch
            parse_scp_value(key, value, f"{scp}:{lineno}")
    if len(set(keys)) != len(keys):
        # (worded as every other table reader words it: this one left out the first line)
        seen: Dict[str, int] = {}
        for key, lineno in zip(keys, lines):
            if key in seen:
                raise AsrkitError(f"{scp}:{lineno}: duplicate key {key!r} (first on line {seen[key]})")
            seen[key] = lineno
    sources = PrefixStringsBuilder()
    sources.add_many(values)
    del values
    built = sources.build()
    if d.has("utt2num_frames"):
        frames = d.read("utt2num_frames")

        def length_of(u: str) -> Optional[int]:
            v = frames.get(u)
            if v is None:
                return None
            return frame_count(d, u, v)
    else:
        log.warning("%s: no utt2num_frames, reading every feature matrix for its length", d.path)
        index = {k: i for i, k in enumerate(keys)}

        def length_of(u: str) -> Optional[int]:
            i = index[u]
            entry = parse_scp_value(u, built[i], f"{scp}:{lines[i]}")  # (malformed: refused above, at load)
            try:
                return int(read_entry(entry, files_only=True).shape[0])
            except AsrkitError as e:
                # One missing or cut-short ark of many ended the run here, while with utt2num_frames
                # the same entry is skipped and counted when its batch reads it.
                raise UnreadableUtterance(str(e)) from None
    return DumpDirInputs(scp, keys, range(len(keys)), built, np.asarray(lines, dtype=np.int32), length_of,
                   d.file("utt2num_frames"))


def load_utterances(data_dir: str, tokenizer, max_missing_ratio: float = 0.05, keep_text: bool = True,
                    fbank=None, min_speed: float = 1.0,
                    ctc_misfits: Optional[Callable[..., List[Tuple[int, str]]]] = None) -> UttTable:
    """The trainable utterances of a dump dir, in ``feats.scp`` (or wav.scp/segments) order, tokenized.

    ``keep_text`` keeps the transcripts (validation scores against them; training needs only
    the token ids). A dump dir without ``feats.scp`` but with ``wav.scp`` is read as raw audio:
    ``fbank`` (the :class:`~asrkit.features.fbank.FbankConfig` the features will be computed
    with) turns durations into frame counts, and ``min_speed`` < 1 (the slowest speed
    perturbation factor) lengthens them as that factor will.
    """
    d = DataDir(data_dir)
    problem = dir_problem(d.path)
    if problem:  # a file given for the dir is "not a directory": "no such directory" sent users looking for it
        raise AsrkitError(f"{d.path}: not a data directory ({problem})")
    if d.has("feats.scp") or not d.has("wav.scp"):
        d.require("feats.scp", "text")
        inputs = _feats_inputs(d)
    else:
        from asrkit.training.audio_data import raw_inputs

        d.require("text")
        if fbank is None:
            raise AsrkitError(f"{d.path}: a dump dir of audio (wav.scp, no feats.scp) needs the fbank options to "
                              f"compute features with: --fbank-config or {d.file('fbank.yaml')}")
        inputs = raw_inputs(d, fbank, min_speed)
    text = d.read("text")
    in_inputs = set(inputs.keys)
    no_feats = [u for u in text if u not in in_inputs]
    del in_inputs

    ids, tokens, texts = StringsBuilder(), IntListsBuilder(), StringsBuilder() if keep_text else None
    num_frames, source_index, starts, ends = array("i"), array("i"), array("d"), array("d")
    no_text, empty, no_frames, too_short, implausible, unreadable = [], [], [], [], [], []
    unknown = UnknownTally()
    chunk: List[Tuple[int, str, int]] = []  # (key row, utt, frames) waiting to be tokenized

    def flush() -> None:
        if not chunk:
            return
        utts = [x[1] for x in chunk]
        flat, lengths = unknown.encode_flat(tokenizer, utts, [text[u] for u in utts])
        keep = lengths > 0
        for j in np.flatnonzero(~keep):
            empty.append(utts[j])
            log.warning("%s: transcript of %r encodes to no tokens, left out", d.file("text"), utts[j])
        # More tokens than feature frames (100 a second at Kaldi's 10 ms shift) is no speech rate
        # (a fast talker says ~15 characters a second): the transcript is not this audio's.
        # Trained on, one such line (21,000 tokens on 633 frames) took minutes and GBs of memory
        # per step.
        frames = np.fromiter((x[2] for x in chunk), dtype=np.int64, count=len(chunk))
        for j in np.flatnonzero(keep & (lengths > frames)):
            implausible.append(utts[j])
        keep &= lengths <= frames
        if not keep.all():
            flat = flat[np.repeat(keep, lengths)]
            chunk[:] = [x for x, k in zip(chunk, keep) if k]
            utts = [x[1] for x in chunk]
            lengths = lengths[keep]
        ids.add_many(utts)
        tokens.add_flat(flat, lengths)
        if texts is not None:
            texts.add_many([text[u] for u in utts])
        num_frames.extend(x[2] for x in chunk)
        source_index.extend(inputs.source_of[x[0]] for x in chunk)
        if inputs.starts is not None:
            for u in utts:
                s, e = inputs.starts[u]
                starts.append(s)
                ends.append(e)
        chunk.clear()

    for k, u in enumerate(inputs.keys):
        t = text.get(u)
        if t is None:
            no_text.append(u)
            continue
        if not t.strip():
            empty.append(u)
            continue
        try:
            n = inputs.length_of(u)
        except UnreadableUtterance as e:
            log.warning("skipping %s", e)
            unreadable.append(u)
            continue
        if n is None:
            no_frames.append(u)
            continue
        if n > MAX_FRAMES:
            lineno = line_of(inputs.length_table, u)
            raise AsrkitError(f"{inputs.length_table}{'' if lineno is None else f':{lineno}'}: utterance {u!r} would "
                              f"have {n} frames, more than any recording (at most {MAX_FRAMES}, 248 days at a 10 ms "
                              f"shift): a damaged table")
        if n <= 0:
            too_short.append(u)
            continue
        chunk.append((k, u, n))
        if len(chunk) >= _TOKENIZE_CHUNK:
            flush()
    flush()
    _report("have features but no transcript in text", no_text, d.file("text"))
    _report(f"have a transcript but no entry in {inputs.file.name}", no_feats, inputs.file)
    _report("have an empty transcript", [u for u in empty if u in text and not text[u].strip()], d.file("text"))
    _report(f"are missing from {inputs.length_table.name}", no_frames, inputs.length_table)
    _report("are shorter than one frame", too_short, inputs.file)
    _report("could not be read for their length (see above)", unreadable, inputs.file)
    # (lengths measured from the features or audio were said to be "by utt2dur", a file the dir lacks)
    by = inputs.length_table.name if inputs.length_table.is_file() else f"the lengths measured from {inputs.file.name}"
    _report(f"have more tokens than frames (by {by}; no speech is that fast: a transcript "
            f"not of this audio, or a wrong frame count)", implausible, d.file("text"))
    unknown.warn(log, str(d.file("text")))
    total = len(inputs.keys) + len(no_feats)
    table = UttTable(ids.build(), np.asarray(num_frames, dtype=np.int32), tokens.build(), inputs.sources,
                     np.asarray(source_index, dtype=np.int32), inputs.source_lines, str(inputs.file),
                     texts.build() if texts is not None else None,
                     np.asarray(starts, dtype=np.float64) if inputs.starts is not None else None,
                     np.asarray(ends, dtype=np.float64) if inputs.starts is not None else None,
                     str(inputs.length_table) if inputs.length_table.is_file() else None)
    bad = total - len(table)
    # Why they were left out: "lack features or a transcript" alone sent users looking for
    # missing files when every utterance had both (a transcript longer than its frames, a wrong
    # frame shift, unreadable audio).
    why = ", ".join(f"{len(ids)} {what}" for ids, what in (
        (no_text, "without a transcript"), (no_feats, f"not in {inputs.file.name}"), (empty, "with an empty transcript"),
        (no_frames, f"not in {inputs.length_table.name}"), (too_short, "shorter than one frame"),
        (unreadable, "unreadable"), (implausible, "with more tokens than frames")) if ids)
    if not len(table):
        raise AsrkitError(f"{d.path}: no usable utterance is left ({why}; see the warnings above)")
    _refuse_nothing_known(table, tokenizer, text, d.file("text"))
    # The rule of every command (asrkit.utils.bad_items): Kaldi's 5 %, i.e. total // 20 may fail.
    if bad > max_failures(total, round(max_missing_ratio * 100, 6)):  # 0.29 * 100 is 28.999...96
        raise AsrkitError(
            f"{d.path}: {bad} of {total} utterances lack features or a transcript "
            f"(more than batching.max_missing_ratio={max_missing_ratio}: probably a serious error in the data; "
            f"see the warnings above); fix the data dir (asrkit-fix-data-dir) or raise the ratio (left out: {why})"
        )
    if ctc_misfits is not None:
        _report_ctc_misfits(table, ctc_misfits, d.path)
    log.info("%s: %d utterances, %d frames (utterance table: %.1f MB)", d.path, len(table),
             int(table.num_frames.sum(dtype=np.int64)), table.nbytes / 1e6)
    return table


def _refuse_nothing_known(table: UttTable, tokenizer, text: Dict[str, str], where: Path) -> None:
    """AsrkitError when the tokenizer knows no token of any transcript (every word became <unk>):
    asrkit-train-lm's and asrkit-align's rule. A model trained on them learnt to emit <unk> (its dev
    loss, on such a dev set, measured that), with one warning and exit 0: lower-case transcripts
    for an upper-case tokenizer, or the --lang-dir of another corpus."""
    from asrkit.text.tokenizer import META, nothing_known_error
    from asrkit.text.token_list import UNK

    known = np.array([t != UNK and bool(t.replace(META, "")) for t in tokenizer.tokens])
    if known[table.tokens.flat].any():
        return
    head = (f"{where}: the tokenizer (--lang-dir) knows no token of any of the {len(table)} transcripts (every word "
            f"became <unk>): nothing to train or validate on")
    raise nothing_known_error(head, tokenizer, tokenizer.tokens,
                              [text[table.utt_id(i)] for i in range(min(100, len(table)))],
                              "the words of the text (not the utterance ids)")


def _report_ctc_misfits(table: UttTable, ctc_misfits: Callable[..., List[Tuple[int, str]]], where: Path) -> None:
    """Name and count the utterances whose transcripts CTC cannot align to their downsampled frames.

    CTC's loss for them is 0 (``zero_infinity``), which used to pass in silence; they stay in
    training, since the attention decoder still learns from them. Many of them mean the listener
    downsamples too much for the token unit; all of them is an error. ``ctc_misfits(frames, flat, offsets)`` is
    :meth:`asrkit.models.config.LASConfig.ctc_misfits`.
    """
    found = ctc_misfits(table.num_frames, table.tokens.flat, table.tokens.offsets)
    unfit = [table.utt_id(i) for i, _ in found]
    first = f"utterance {unfit[0]!r}: {found[0][1]}" if found else None
    if not unfit:
        return
    if len(unfit) == len(table):
        # Then the CTC head learns nothing at all, and a joint decoding (conf/decode.yaml's
        # ctc_weight) follows an untrained head: a useless model after a whole training.
        raise AsrkitError(f"{where}: every one of the {len(table)} utterance(s) is too short for its transcript to be "
                          f"aligned by CTC (first: {first}): the CTC branch would learn nothing; use less downsampling "
                          f"in model.listener.subsample, larger tokens, or model.ctc_weight: 0 (attention only)")
    shown = " ".join(unfit[:5]) + (" ..." if len(unfit) > 5 else "")
    # (a bound LASConfig.ctc_misfits: its config's weight) CTC alone was told "only the attention
    # decoder learns from them", of a model whose loss has no attention term: nothing learns from them.
    ctc_alone = getattr(getattr(ctc_misfits, "__self__", None), "ctc_weight", 0) >= 1
    learns = ("nothing learns from them (model.ctc_weight 1: CTC alone)" if ctc_alone
              else "only the attention decoder learns from them")
    log.warning("%s: %d of %d utterance(s) are too short for their transcripts to be aligned by CTC (first: %s): "
                "their CTC loss is 0, %s: %s (all ids with -v; many of "
                "them: less downsampling in model.listener.subsample, or larger tokens)",
                where, len(unfit), len(table), first, learns, shown)
    log.debug("%s: utterances too short for CTC: %s", where, " ".join(unfit))


def warn_dev_overlap(train: UttTable, valid: UttTable, train_dir: str, valid_dir: str) -> List[str]:
    """Warn when dev utterances are training utterances too (the same ids); returns them.

    The validation loss then measures partly what the model was trained on: the best epoch
    (``training.best_metric``), early stopping and asrkit-average all favour overfitting, in
    silence. A warning, not an error: a smoke test may validate on its training set on purpose.
    """
    train_ids = set(train.ids)
    shared = [u for u in valid.ids if u in train_ids]
    del train_ids
    if shared:
        shown = " ".join(shared[:5]) + (" ..." if len(shared) > 5 else "")
        log.warning("%s: %d of %d dev utterance(s) are also training utterances in %s (the same ids): the "
                    "validation loss, and the best epoch chosen by it, measure data the model trains on; hold "
                    "them out of the training set (asrkit-holdout-lists): %s (all ids with -v)",
                    valid_dir, len(shared), len(valid), train_dir, shown)
        log.debug("%s: dev utterances also in %s: %s", valid_dir, train_dir, " ".join(shared))
    return shared


def release_free_memory() -> None:
    """Hand freed heap back to the OS (glibc's malloc_trim).

    The dicts and strings of text, utt2num_frames and feats.scp are garbage once the table is
    built (and the sampler's sort, a loaded checkpoint, once the training is set up), but glibc
    keeps freed heap pages; every DataLoader worker forked later would start with them counted
    in its memory. Elsewhere than glibc this does nothing.
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def load_cmvn(path: Optional[str], norm_vars: bool = True) -> Optional[np.ndarray]:
    """Global CMVN stats ``(2, D+1)`` (asrkit-compute-cmvn's output), or None.

    Checked here, naming ``path``: stats of 0 frames, or with no variance in any dim (every
    feature scaled by 1e10: the packed model would be refused), are an error, floored variances
    of some dims a warning, said once (they were said per utterance read, naming no file)."""
    if path is None:
        return None
    from asrkit.features.cmvn import cmvn_transform, load_cmvn as read_stats

    stats = read_stats(path)
    if isinstance(stats, dict):
        raise AsrkitError(f"{path}: training needs global CMVN stats (one matrix), not a per-speaker table")
    cmvn_transform(stats, norm_vars, where=str(path))
    return np.asarray(stats, dtype=np.float64)


class FeatureDataset(torch.utils.data.Dataset):
    """Item ``i``: ``(i, feats (T, D) float32 with CMVN applied, tokens)``.

    Reads the dumped features on demand (each read opens its ark, so DataLoader workers never
    share a file position), or with ``cache=True`` once up front: AN4's fbank is ~60 MB, and a
    corpus that fits in memory should not be re-read from disk every epoch.
    """

    # Dumped features have exactly the frames utt2num_frames gives (or were measured for it);
    # audio's lengths are estimates from durations and speed factors (audio_data.py).
    exact_lengths = True

    def __init__(self, table: UttTable, cmvn: Optional[np.ndarray] = None, norm_vars: bool = True,
                 cache: bool = False) -> None:
        from asrkit.features.cmvn import Cmvn

        self.table = table
        self.cmvn = cmvn
        self.norm_vars = norm_vars
        # The transform once, not per utterance read; its floored variances were said by load_cmvn.
        self._normalize = None if cmvn is None else Cmvn(cmvn, norm_vars, warn=False)
        # An unreadable utterance is the trainer's to skip and count (training/bad_utterances.py):
        # the cache keeps its error, and raises it where reading it would have.
        self._cache: Optional[List[Union[torch.Tensor, AsrkitError]]] = None
        self.idim: Optional[int] = None
        self.idim = self._feature_dim()
        if cache:
            self._cache = [self._read_or_error(i)
                           for i in progress(range(len(table)), desc="caching features", unit="utt")]

    def _feature_dim(self) -> int:
        """The features' dimension: the CMVN stats' when given (asrkit-compute-cmvn summed the
        whole set's most common one), else the most common one of the first few utterances that
        read (bad ones are skipped later). The first alone said it: one odd first utterance (40-dim
        among 23-dim ones) made every other utterance the bad one, and the run fail naming good
        ones; and the vote alone, with stats, made 3 odd ones at the start the set's, against the
        stats of the other 21 ('stats of other features'). With stats, utterances are read until
        one has their dimension (at most _STATS_DIM_LOOK readable ones): 6 odd ones at the start
        refused a set whose other 94 % matched its stats; the odd ones passed are named."""
        first: Optional[AsrkitError] = None
        stats_dim = None if self.cmvn is None else self.cmvn.shape[1] - 1
        dims: List[int] = []
        read: List[int] = []  # the utterances whose dims these are
        for i in range(len(self.table)):
            try:
                dims.append(self._dim_of(i))
                read.append(i)
            except AsrkitError as e:
                first = first or e
                continue
            if dims[-1] == stats_dim or len(dims) == (_DIM_VOTES if stats_dim is None else _STATS_DIM_LOOK):
                break
        if not dims:
            raise AsrkitError(f"{self.table.source_file}: not one utterance's features can be read (first: {first})")
        voted = max(dims, key=dims.count)  # ties: the first one's
        if stats_dim is None:
            return voted
        if stats_dim not in dims:
            raise AsrkitError(
                f"CMVN stats (--cmvn) are for {stats_dim}-dim features, {self.table.source_file} has {voted}-dim "
                f"features: stats of other features"
            )
        if len(dims) > 1:
            odd = [self.table.utt_id(i) for i in read[:-1]]
            log.warning("%s: the first %d utterances read have %s-dim features, not the CMVN stats' %d (bad items "
                        "when read): %s%s", self.table.source_file, len(odd), "/".join(map(str, sorted(set(dims[:-1])))),
                        stats_dim, " ".join(odd[:5]), " ..." if len(odd) > 5 else "")
        return stats_dim

    def _dim_of(self, i: int) -> int:
        # Before CMVN: stats of other features made every utterance fail to normalise, reported
        # as "not one utterance's features can be read" about features that read well.
        return int(self._checked(i).shape[1])

    def _read_or_error(self, i: int) -> Union[torch.Tensor, AsrkitError]:
        try:
            return self._read(i)
        except AsrkitError as e:
            return e

    def set_epoch(self, epoch: int) -> None:
        """Dumped features have no per-epoch randomness (the audio dataset has)."""

    def _features(self, i: int) -> np.ndarray:
        t = self.table
        utt = t.utt_id(i)
        return read_entry(parse_scp_value(utt, t.source(i), t.where(i)), files_only=True)

    def _length_mismatch(self, i: int, frames: int) -> Optional[AsrkitError]:
        if not self.exact_lengths or frames == self.table.num_frames[i]:
            return None
        # Batches are made from utt2num_frames, never from the features: a stale or foreign
        # one made batches of any size (out of memory), left out utterances it called too long,
        # and named CTC misfits by lengths the features do not have, all without a word.
        table = Path(self.table.source_file).with_name("utt2num_frames")
        return AsrkitError(f"{self.table.source_file}: utterance {self.table.utt_id(i)!r} has {frames} "
                           f"frames, {table} says {int(self.table.num_frames[i])}: that utt2num_frames is not "
                           f"of these features (write it again with asrkit-compute-fbank --write-utt2num-frames, "
                           f"or remove it to have the lengths read from the features)")

    def stale_length(self, i: int) -> Optional[AsrkitError]:
        """The error for utterance ``i`` when its features are not as long as utt2num_frames says;
        None when they are, or cannot be read (its batch says why). For the utterances batching
        leaves out as too long, which no batch ever reads."""
        if not self.exact_lengths:
            return None
        try:
            return self._length_mismatch(i, self._features(i).shape[0])
        except AsrkitError:
            return None

    def _checked(self, i: int) -> np.ndarray:
        feats = self._features(i)
        check_trainable(feats, self.table.utt_id(i), self.table.source_file, self.idim)
        mismatch = self._length_mismatch(i, feats.shape[0])
        if mismatch is not None:
            raise mismatch
        return feats

    def _read(self, i: int) -> torch.Tensor:
        feats = self._checked(i)
        if self._normalize is not None:
            feats = self._normalize(self.table.utt_id(i), feats)
        return torch.from_numpy(np.array(feats, dtype=np.float32))  # a writable copy

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int) -> Tuple[int, torch.Tensor, np.ndarray]:
        feats = self._cache[i] if self._cache is not None else self._read(i)
        if isinstance(feats, AsrkitError):
            raise feats
        return i, feats, self.table.tokens[i]


def check_trainable(feats: np.ndarray, utt_id: str, where: str, dim: Optional[int] = None) -> None:
    """Features a model can train on: (frames >= 1, ``dim``) and all finite; else an AsrkitError
    naming ``where`` and the utterance (np.isfinite on load: ~0.1 ms for 1000 x 80)."""
    from asrkit.features.cmvn import check_features

    if feats.ndim != 2 or feats.shape[0] == 0:
        raise AsrkitError(f"{where}: utterance {utt_id!r} has features of shape {feats.shape}")
    if dim is not None and feats.shape[1] != dim:  # "earlier utterances" (check_features) may be later ones
        raise AsrkitError(f"{where}: utterance {utt_id!r}: feature dimension {feats.shape[1]}, the set's is {dim}")
    try:
        check_features(utt_id, feats, dim)
    except AsrkitError as e:
        raise AsrkitError(f"{where}: {e}") from None


@dataclass
class Batch:
    indices: List[int]
    feats: torch.Tensor  # (B, T, D) zero-padded
    feat_lens: torch.Tensor  # (B,)
    ys: torch.Tensor  # (B, L) padded with -1
    y_lens: torch.Tensor  # (B,)
    bad: List[Tuple[str, str]] = field(default_factory=list)  # (utt id, reason) left out (bad_utterances.py)
    fatal: Optional[str] = None  # an item's error that is no bad utterance's: the run stops (bad_utterances.py)

    def to(self, device: torch.device, non_blocking: bool = False) -> "Batch":
        return Batch(self.indices, self.feats.to(device, non_blocking=non_blocking),
                     self.feat_lens.to(device, non_blocking=non_blocking),
                     self.ys.to(device, non_blocking=non_blocking), self.y_lens.to(device, non_blocking=non_blocking),
                     self.bad, self.fatal)

    def pin_memory(self) -> "Batch":
        return Batch(self.indices, self.feats.pin_memory(), self.feat_lens.pin_memory(), self.ys.pin_memory(),
                     self.y_lens.pin_memory(), self.bad, self.fatal)

    @property
    def num_frames(self) -> int:
        return int(self.feat_lens.sum())


def collate(items: List[Tuple[int, torch.Tensor, Sequence[int]]]) -> Batch:
    feat_lens = torch.tensor([f.shape[0] for _, f, _ in items], dtype=torch.long)
    y_lens = torch.tensor([len(t) for _, _, t in items], dtype=torch.long)
    dim = items[0][1].shape[1]
    feats = torch.zeros(len(items), int(feat_lens.max()), dim)
    ys = torch.full((len(items), int(y_lens.max())), -1, dtype=torch.long)
    for b, (_, f, t) in enumerate(items):
        feats[b, : f.shape[0]] = f
        ys[b, : len(t)] = torch.as_tensor(np.asarray(t, dtype=np.int64))
    return Batch([i for i, _, _ in items], feats, feat_lens, ys, y_lens)


def check_num_workers(num_workers: int) -> None:
    """Refuse more DataLoader workers than :data:`MAX_WORKERS_PER_CORE` per core of this machine.

    Checked on the machine that trains, not when the config loads (--print-config on a small login
    node must not refuse a config meant for a large one): every worker is a process of its own, and
    a typo's 100000 would start them until the machine ran out. asrkit.training.train_asr calls it
    before the data is read when a run starts afresh (from make_loader alone, it came after the
    training set's features had all been read, with batching.cache_features), and make_loader
    again for its other callers and for a resumed run, which may have no epoch left to load for.
    """
    cores = os.cpu_count() or 1
    if num_workers > MAX_WORKERS_PER_CORE * cores:
        raise SettingError(f"batching.num_workers {num_workers} is more than {MAX_WORKERS_PER_CORE} per core of this "
                           f"machine ({cores} cores): each worker is a process of its own", ["batching.num_workers"])


def _end_with_parent(parent_pid: int, worker_id: int) -> None:
    """A DataLoader worker's first step: end when the process that started it ends.

    torch's worker watchdog takes the parent's pid only after the worker's start-up, so a parent
    killed in between (SIGKILL from a user or the OOM killer, which lands most often right after a
    checkpoint, where the next epoch forks its workers) left a worker watching pid 1: it waited for
    work for ever and held the run's stderr open, and whatever read it (asrkit-launch's log, a
    pipeline) never saw its end. PR_SET_PDEATHSIG has the kernel kill the worker with its parent;
    the pid check after it covers a parent gone before the call.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def make_loader(dataset: torch.utils.data.Dataset, batch_sampler, num_workers: int = 0,
                pin_memory: bool = False, collate_fn=collate) -> torch.utils.data.DataLoader:
    check_num_workers(num_workers)
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=batch_sampler, collate_fn=collate_fn, num_workers=num_workers,
        pin_memory=pin_memory, persistent_workers=False,
        worker_init_fn=functools.partial(_end_with_parent, os.getpid()) if num_workers else None,
    )
