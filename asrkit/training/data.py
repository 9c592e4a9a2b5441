"""Training data: a dump dir's utterances, their features (through kaldiio, CMVN applied) and batches.

A dump dir holds ``feats.scp``, ``utt2num_frames`` and ``text``. Utterances that cannot be
trained on (no features, no transcript, an empty transcript; for a CTC-only model a transcript
too long for the downsampled frames) are reported by count, with their ids, and left out; more than
``max_missing_ratio`` of them is an error, as Kaldi fails a stage where fewer than 95 % of the
utterances succeed. Features that turn out unreadable or not finite only when a batch reads them
are the trainer's to skip and count (:mod:`asrkit.training.bad_utterances`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from asrkit.data.datadir import DataDir
from asrkit.data.specifier import load_scp, read_matrix
from asrkit.text.tokenizer import UnknownTally
from asrkit.utils.bad_items import max_failures
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger, progress

log = get_logger(__name__)


@dataclass
class Utterance:
    utt_id: str
    num_frames: int
    text: str
    tokens: List[int]


def _report(kind: str, ids: Sequence[str], where: Path) -> None:
    if not ids:
        return
    shown = " ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
    log.warning("%s: %d utterance(s) %s, left out: %s (all ids with -v)", where, len(ids), kind, shown)
    log.debug("%s: utterances %s: %s", where, kind, " ".join(ids))


def load_utterances(data_dir: str, tokenizer, max_missing_ratio: float = 0.05,
                    ctc_misfit: Optional[Callable[[int, List[int]], Optional[str]]] = None,
                    drop_misfits: bool = False) -> List[Utterance]:
    """The trainable utterances of a dump dir, in ``feats.scp`` order, tokenized.

    ``ctc_misfit(frames, tokens)``: why the CTC branch cannot learn from an utterance (a
    transcript too long for the downsampled frames: ``LASConfig.ctc_misfit``), or None. Such
    utterances are named and counted in a warning, which CTC's ``zero_infinity`` kept silent; with
    ``drop_misfits`` (a CTC-only model, which learns nothing from them) they are also left out and
    count against ``max_missing_ratio``, otherwise the attention decoder still learns from them.
    """
    d = DataDir(data_dir)
    d.require("feats.scp", "text")
    feats = d.read("feats.scp")
    text = d.read("text")
    if d.has("utt2num_frames"):
        frames_table = d.read("utt2num_frames")
    else:
        log.warning("%s: no utt2num_frames, reading every feature matrix for its length", d.path)
        loader = load_scp(str(d.file("feats.scp")))
        frames_table = {u: str(read_matrix(loader, u, str(d.file("feats.scp"))).shape[0]) for u in feats}

    no_text = [u for u in feats if u not in text]
    no_feats = [u for u in text if u not in feats]
    empty = [u for u in feats if u in text and not text[u].strip()]
    no_frames = [u for u in feats if u in text and text[u].strip() and u not in frames_table]
    _report("have features but no transcript in text", no_text, d.file("text"))
    _report("have a transcript but no features in feats.scp", no_feats, d.file("feats.scp"))
    _report("have an empty transcript", empty, d.file("text"))
    _report("are missing from utt2num_frames", no_frames, d.file("utt2num_frames"))

    utts: List[Utterance] = []
    unfit: List[str] = []
    first_unfit: Optional[str] = None
    unknown = UnknownTally()
    for u in feats:
        if u not in text or not text[u].strip() or u not in frames_table:
            continue
        try:
            n = int(frames_table[u])
        except ValueError:
            raise AsrkitError(f"{d.file('utt2num_frames')}: bad frame count {frames_table[u]!r} for {u!r}") from None
        tokens = unknown.encode(tokenizer, u, text[u])
        if not tokens:
            empty.append(u)
            log.warning("%s: transcript of %r encodes to no tokens, left out", d.file("text"), u)
            continue
        why = ctc_misfit(n, tokens) if ctc_misfit is not None else None
        if why is not None:
            unfit.append(u)
            log.debug("%s: utterance %r: %s", d.path, u, why)
            first_unfit = first_unfit or f"utterance {u!r}: {why}"
            if drop_misfits:
                continue
        utts.append(Utterance(u, n, text[u], tokens))
    unknown.warn(log, str(d.file("text")))
    if unfit and drop_misfits:
        _report(f"are too short for their transcripts to be aligned by CTC (first: {first_unfit})", unfit, d.path)
    elif unfit:
        shown = " ".join(unfit[:5]) + (" ..." if len(unfit) > 5 else "")
        log.warning("%s: %d of %d utterance(s) are too short for their transcripts to be aligned by CTC (first: "
                    "%s): their CTC loss is 0, only the attention decoder learns from them: %s (all ids with -v; "
                    "many of them: less downsampling in model.listener.subsample, or larger tokens)",
                    d.path, len(unfit), len(feats), first_unfit, shown)
        log.debug("%s: utterances too short for CTC: %s", d.path, " ".join(unfit))
    total = len(set(feats) | set(text))
    bad = total - len(utts)
    if not utts:
        raise AsrkitError(f"{d.path}: no utterance has both features and a non-empty transcript that the "
                          f"model can learn{f' (first: {first_unfit})' if first_unfit else ''}")
    # The rule of every command (asrkit.utils.bad_items): Kaldi's 5 %, i.e. total // 20 may fail.
    if bad > max_failures(total, max_missing_ratio * 100):
        raise AsrkitError(
            f"{d.path}: {bad} of {total} utterances lack features or a transcript, or are too short for it "
            f"(more than batching.max_missing_ratio={max_missing_ratio}: probably a serious error in the data; "
            f"see the warnings above); fix the data dir (asrkit-fix-data-dir) or raise the ratio"
        )
    log.info("%s: %d utterances, %d frames", d.path, len(utts), sum(x.num_frames for x in utts))
    return utts


def load_cmvn(path: Optional[str]) -> Optional[np.ndarray]:
    """Global CMVN stats ``(2, D+1)`` (asrkit-compute-cmvn's output), or None."""
    if path is None:
        return None
    from asrkit.features.cmvn import load_cmvn as read_stats

    stats = read_stats(path)
    if isinstance(stats, dict):
        raise AsrkitError(f"{path}: training needs global CMVN stats (one matrix), not a per-speaker table")
    return np.asarray(stats, dtype=np.float64)


class FeatureDataset(torch.utils.data.Dataset):
    """Item ``i``: ``(i, feats (T, D) float32 with CMVN applied, tokens)``.

    Reads through kaldiio on demand (each DataLoader worker opens its own files), or with
    ``cache=True`` once up front: AN4's fbank is ~60 MB, and a corpus that fits in memory
    should not be re-read from disk every epoch.
    """

    def __init__(self, utts: List[Utterance], feats_scp: str, cmvn: Optional[np.ndarray] = None,
                 norm_vars: bool = True, cache: bool = False) -> None:
        self.utts = utts
        self.feats_scp = feats_scp
        self.cmvn = cmvn
        self.norm_vars = norm_vars
        self._loader = load_scp(feats_scp)
        # An unreadable utterance is the trainer's to skip and count (training/bad_utterances.py):
        # the cache keeps its error, and raises it where reading it would have.
        self._cache: Optional[List[Union[torch.Tensor, AsrkitError]]] = None
        self.idim: Optional[int] = None
        self.idim = self._feature_dim()
        if cmvn is not None and cmvn.shape[1] != self.idim + 1:
            raise AsrkitError(
                f"CMVN stats are for {cmvn.shape[1] - 1}-dim features, {feats_scp} has {self.idim}-dim features"
            )
        if cache:
            self._cache = [self._read_or_error(i)
                           for i in progress(range(len(utts)), desc="caching features", unit="utt")]

    def _feature_dim(self) -> int:
        """The features' dimension: the first utterance that reads says it (bad ones are skipped later)."""
        first: Optional[AsrkitError] = None
        for i in range(len(self.utts)):
            try:
                return int(self._read(i).shape[1])
            except AsrkitError as e:
                first = first or e
        raise AsrkitError(f"{self.feats_scp}: not one utterance's features can be read (first: {first})")

    def _read_or_error(self, i: int) -> Union[torch.Tensor, AsrkitError]:
        try:
            return self._read(i)
        except AsrkitError as e:
            return e

    def _read(self, i: int) -> torch.Tensor:
        utt = self.utts[i]
        feats = read_matrix(self._loader, utt.utt_id, self.feats_scp)
        check_trainable(feats, utt.utt_id, self.feats_scp, self.idim)
        if self.cmvn is not None:
            from asrkit.features.cmvn import apply_cmvn

            feats = apply_cmvn(feats, self.cmvn, norm_vars=self.norm_vars)
        return torch.from_numpy(np.array(feats, dtype=np.float32))  # a writable copy

    def __len__(self) -> int:
        return len(self.utts)

    def __getitem__(self, i: int) -> Tuple[int, torch.Tensor, List[int]]:
        feats = self._cache[i] if self._cache is not None else self._read(i)
        if isinstance(feats, AsrkitError):
            raise feats
        return i, feats, self.utts[i].tokens


def check_trainable(feats: np.ndarray, utt_id: str, where: str, dim: Optional[int] = None) -> None:
    """Features a model can train on: (frames >= 1, ``dim``) and all finite; else an AsrkitError
    naming ``where`` and the utterance (np.isfinite on load: ~0.1 ms for 1000 x 80)."""
    from asrkit.features.cmvn import check_features

    if feats.ndim != 2 or feats.shape[0] == 0:
        raise AsrkitError(f"{where}: utterance {utt_id!r} has features of shape {feats.shape}")
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

    def to(self, device: torch.device, non_blocking: bool = False) -> "Batch":
        return Batch(self.indices, self.feats.to(device, non_blocking=non_blocking),
                     self.feat_lens.to(device, non_blocking=non_blocking),
                     self.ys.to(device, non_blocking=non_blocking), self.y_lens.to(device, non_blocking=non_blocking),
                     self.bad)

    def pin_memory(self) -> "Batch":
        return Batch(self.indices, self.feats.pin_memory(), self.feat_lens.pin_memory(), self.ys.pin_memory(),
                     self.y_lens.pin_memory(), self.bad)

    @property
    def num_frames(self) -> int:
        return int(self.feat_lens.sum())


def collate(items: List[Tuple[int, torch.Tensor, List[int]]]) -> Batch:
    feat_lens = torch.tensor([f.shape[0] for _, f, _ in items], dtype=torch.long)
    y_lens = torch.tensor([len(t) for _, _, t in items], dtype=torch.long)
    dim = items[0][1].shape[1]
    feats = torch.zeros(len(items), int(feat_lens.max()), dim)
    ys = torch.full((len(items), int(y_lens.max())), -1, dtype=torch.long)
    for b, (_, f, t) in enumerate(items):
        feats[b, : f.shape[0]] = f
        ys[b, : len(t)] = torch.tensor(t, dtype=torch.long)
    return Batch([i for i, _, _ in items], feats, feat_lens, ys, y_lens)


def make_loader(dataset: torch.utils.data.Dataset, batch_sampler, num_workers: int = 0,
                pin_memory: bool = False, collate_fn=collate) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=batch_sampler, collate_fn=collate_fn, num_workers=num_workers,
        pin_memory=pin_memory, persistent_workers=False,
    )
