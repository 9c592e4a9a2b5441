"""What the shared Trainer needs to train a LAS model (asrkit-train): batches, loss, validation, package.

Batches are length buckets of a dump dir's utterances under a frames budget
(:class:`~asrkit.training.sampler.BucketBatchSampler`), read by a DataLoader; the loss is the
model's joint CTC-attention loss; validation reports the dev loss, token accuracy, greedy CER
and writes attention plots; checkpoints carry the packed model's :class:`PackageMeta`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from asrkit.models.las import LAS
from asrkit.models.package import FORMAT as PACKAGE_FORMAT
from asrkit.models.package import PackageMeta
from asrkit.training.bad_utterances import BadItem, SkipBad, collate_good, split_bad
from asrkit.training.config import TrainConfig
from asrkit.training.data import Batch, FeatureDataset, collate, make_loader
from asrkit.training.finetune import check_fbank_matches
from asrkit.training.plots import plot_file_name, save_alignment_png
from asrkit.training.sampler import BucketBatchSampler
from asrkit.training.trainer import StepOutput
from asrkit.training.validation import cer, forced_alignment, greedy_hyps
from asrkit.utils.bad_items import BadItems
from asrkit.utils.config import SettingError
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger, progress

log = get_logger(__name__)
# Utterances too long for batching.max_frames whose features are read at the start to tell a
# stale utt2num_frames from real length (each a read of one utterance).
MAX_LENGTHS_CHECKED = 100


class LASTask:
    units, items = "frames", "utts"
    smaller_batches = "lower batching.max_frames"
    config_file = "config.yaml"
    curve_fields = ["epoch", "step", "lr", "train_loss", "train_acc", "valid_loss", "valid_acc", "valid_cer",
                    "train_frames_per_s", "train_utts_per_s", "train_time_s", "valid_time_s", "skipped_batches",
                    "skipped_utts", "epoch_time_s"]

    def __init__(self, model: LAS, meta: PackageMeta, cfg: TrainConfig, train_set: FeatureDataset,
                 valid_set: Optional[FeatureDataset], tokenizer, exp_dir: Path, rank: int = 0,
                 world_size: int = 1) -> None:
        self.model = model
        self.meta = meta
        self.cfg = cfg
        self.train_set = train_set
        self.valid_set = valid_set
        self.tokenizer = tokenizer
        self.exp_dir = Path(exp_dir)
        self._reported_dev: set = set()  # dev utterances skipped and named already (once per run)
        self._check_train_options()
        b = cfg.batching
        self.sampler = BucketBatchSampler(train_set.table.num_frames, b.max_frames, b.max_batch_size,
                                          shuffle=b.shuffle, seed=cfg.training.seed, rank=rank,
                                          world_size=world_size)
        # The first of those too long are read (no batch ever will): a stale utt2num_frames is
        # named as such, not passed off as utterances too long for max_frames.
        stale = {i: e for i in self.sampler.too_long[:MAX_LENGTHS_CHECKED]
                 for e in [train_set.stale_length(i)] if e is not None}
        for e in stale.values():
            log.warning("skipping %s", e)
        ids = [train_set.table.utt_id(i) for i in self.sampler.too_long if i not in stale]
        if ids:
            # (out of how many: 42 % of a set dropped read like a few stragglers)
            total = len(train_set.table.num_frames)
            log.warning("%s%d of %d training utterances (%.1f %%) are longer than batching.max_frames=%d and are "
                        "not trained on: %s%s (all ids with -v)", cfg.given_before("batching.max_frames"), len(ids),
                        total, 100.0 * len(ids) / total, b.max_frames,
                        " ".join(ids[:5]), " ..." if len(ids) > 5 else "")
            log.debug("too long for batching.max_frames: %s", " ".join(ids))
        if self.sampler.per_rank == 0 and len(self.sampler.batches):
            # (it was "no training batch fits batching.max_frames", about batches that all fit)
            raise SettingError(f"only {len(self.sampler.batches)} training batch(es) of at most batching.max_frames="
                               f"{b.max_frames} frames for {world_size} ranks, which need one each: lower "
                               f"batching.max_frames (or batching.max_batch_size), or train on fewer GPUs",
                               ["batching.max_frames", "batching.max_batch_size"])
        if self.sampler.per_rank == 0:
            raise SettingError(f"no training batch fits batching.max_frames={b.max_frames} "
                               f"(shortest utterance: {int(train_set.table.num_frames.min())} frames)",
                               ["batching.max_frames"])
        log.info("training batches: %d per epoch%s, max_frames=%d, max_batch_size=%s, %d utterances",
                 self.sampler.per_rank, f" per rank ({world_size} ranks)" if world_size > 1 else "", b.max_frames,
                 b.max_batch_size or "unlimited", int(self.sampler.batches.sizes().sum()))

    def package(self) -> Tuple[str, Dict[str, Any]]:
        return PACKAGE_FORMAT, self.meta.to_dict()

    def start_epoch(self, model: nn.Module, epoch: int) -> None:
        model.teacher_forcing = self.cfg.training.teacher_forcing(epoch)
        self.train_set.set_epoch(epoch)  # on-the-fly augmentation draws from (seed, epoch, utterance)

    def train_batches(self, pin_memory: bool) -> Iterable[Batch]:
        return make_loader(SkipBad(self.train_set), self.sampler, self.cfg.batching.num_workers, pin_memory=pin_memory,
                           collate_fn=collate_good)

    def split_bad(self, batch: Batch) -> Tuple[Optional[Batch], List[Tuple[str, str]]]:
        return split_bad(batch)

    def forward(self, model: nn.Module, batch: Batch, device: torch.device) -> StepOutput:
        batch = batch.to(device, non_blocking=True)
        out = model(batch.feats, batch.feat_lens, batch.ys, batch.y_lens)
        return StepOutput(loss=out.loss, weight=len(batch.indices), items=len(batch.indices),
                          units=batch.num_frames, stats={"acc": out.acc}, stat_weights={"acc": out.num_tokens})

    def describe(self, batch: Batch) -> str:
        ids = [self.train_set.table.utt_id(j) for j in batch.indices]
        return f"{len(ids)} utterances x {int(batch.feat_lens.max())} frames, first {ids[0]}"

    def item_ids(self, batch: Batch) -> List[str]:
        return [self.train_set.table.utt_id(j) for j in batch.indices]

    def train_metrics(self, row: Dict[str, Any]) -> Dict[str, Any]:
        return {}

    def largest_batch(self) -> Optional[Batch]:
        lengths = self.train_set.table.num_frames
        batches = self.sampler.batches
        sizes = batches.sizes()
        # A batch's first utterance is its longest (the sampler sorts longest first).
        padded = sizes * lengths[batches.flat[batches.bounds[:-1]]].astype(np.int64)
        batch = batches[max(range(len(batches)), key=lambda j: (int(padded[j]), int(sizes[j])))]
        readable = SkipBad(self.train_set)
        return split_bad(collate_good([readable[i] for i in batch]))[0]  # bad ones: skipped in the epoch

    def spare_batch(self) -> Optional[Batch]:
        readable = SkipBad(self.train_set)
        for i in range(len(self.train_set)):  # the first readable one; bad ones are counted in their epoch
            batch = split_bad(collate_good([readable[i]]))[0]
            if batch is not None:
                return batch
        return None

    def check_dev_set(self, valid_dir: str) -> None:
        """Read every dev utterance once before this run's first epoch, as validation will: more
        unreadable ones than Kaldi's 5 % failed the run only at the first validation, an epoch of
        training later. Those within the rule are named here, and only counted by validation."""
        if self.valid_set is None:
            return
        self._check_dev_options(valid_dir)
        readable = SkipBad(self.valid_set)
        bad = BadItems(log, "dev utterances", failed="are unreadable")
        for i in progress(range(len(self.valid_set)), desc="reading the dev set", unit="utt"):
            item = readable[i]
            if isinstance(item, BadItem):
                bad.skip(item.utt_id, item.reason, logged=item.utt_id in self._reported_dev)
                self._reported_dev.add(item.utt_id)
            else:
                bad.ok()
        message = bad.past_the_rule(len(self.valid_set))
        if message is not None:
            raise AsrkitError(f"{valid_dir} (--valid-dir): {message}; fix the dev set, or train without it")

    def _check_dev_options(self, valid_dir: str) -> None:
        """Dumped dev features made with other fbank options than the training features (a 20 ms
        shift, other mel edges) were validated on in silence: only their dimension was compared, and
        the dev loss, the best epoch and early stopping then measured features the model never saw
        (a training set re-dumped with new options, its dev set left as it was)."""
        recorded = _recorded_options(self.valid_set, "--valid-dir")
        if recorded is None or self.meta.feature_config is None:
            return
        beside, dev = recorded
        check_fbank_matches(
            self.meta.feature_config, dev,
            lambda d: (f"{beside}: the dev features were made with other options than the training features ({d}): "
                       f"the dev loss would measure features the model never sees; make them with the training "
                       f"set's options (asrkit-compute-fbank --config)"),
            lambda d: f"{beside}: the dev features were made with other options than the training features ({d})",
            log)

    def _check_train_options(self) -> None:
        """A --fbank-config that does not describe the dumped training features (their own fbank.yaml
        says a 10 ms shift, it a 20 ms one) was packed into model.pt in silence, only the dimension
        compared: the model then computed other features from audio than it learnt from."""
        recorded = _recorded_options(self.train_set, "--train-dir")
        if recorded is None or self.meta.feature_config is None:
            return
        beside, made = recorded
        check_fbank_matches(
            made, self.meta.feature_config,
            lambda d: (f"the feature config (--fbank-config) is not the one {beside} records the training features "
                       f"were made with ({d}): model.pt would compute other features from audio than it learnt from; "
                       f"give --fbank-config {beside}, or leave it out"),
            lambda d: (f"the feature config (--fbank-config) differs from {beside}, which the training features were "
                       f"made with ({d})"),
            log)

    def validate(self, model: nn.Module, epoch: int, device: torch.device, amp: bool) -> Dict[str, Any]:
        """Loss, accuracy and greedy CER on the dev set, and the attention plots."""
        if self.valid_set is None:
            return {}
        t = self.cfg.training
        sampler = BucketBatchSampler(self.valid_set.table.num_frames, self.cfg.batching.max_frames,
                                     self.cfg.batching.max_batch_size, shuffle=False)
        # Dev utterances too long for the budget are still validated on, one per batch.
        loader = make_loader(SkipBad(self.valid_set), list(sampler.batches) + [[i] for i in sampler.too_long],
                             self.cfg.batching.num_workers, collate_fn=collate_good)
        tot_loss = tot_acc = 0.0
        n = tokens = 0
        pairs = []
        bad = BadItems(log, "dev utterances", failed="were skipped")
        for batch in progress(loader, desc="validation", unit="batch"):
            batch, skipped = split_bad(batch)
            for utt, why in skipped:
                bad.skip(utt, why, logged=utt in self._reported_dev)
                self._reported_dev.add(utt)
            if batch is None:
                continue
            bad.ok(len(batch.indices))
            batch = batch.to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                out = model(batch.feats, batch.feat_lens, batch.ys, batch.y_lens)
                if t.valid_cer:
                    enc, enc_lens = model.encode(batch.feats, batch.feat_lens)
                    hyps = greedy_hyps(model, enc, enc_lens, max_tokens=int(batch.y_lens.max()) * 2 + 10)
            bsz = len(batch.indices)
            tot_loss += float(out.loss) * bsz
            # Per token, as each batch's accuracy is: weighted by its utterances, the dev accuracy of one
            # model changed with batching.max_frames (how short and long transcripts were grouped).
            tot_acc += round(float(out.acc) * int(out.num_tokens))  # (the count of correct tokens)
            tokens += int(out.num_tokens)
            n += bsz
            if t.valid_cer:
                # Each hypothesis bounded by its own reference's length (the search's bound is the batch's
                # longest): a model that does not stop yet had a CER of 1.1, 1.7 or 2.0 by
                # batching.max_frames alone, and best_metric valid_cer ranked epochs by the batching.
                lens = batch.y_lens.tolist()
                pairs += [(self.valid_set.table.text(j), self.tokenizer.decode(list(h)[:2 * n + 10]))
                          for j, h, n in zip(batch.indices, hyps, lens)]
        if bad.failed:  # the same rule as for training utterances: a few skipped, more is an error
            bad.check(total=len(self.valid_set))
        result = {"valid_loss": tot_loss / max(n, 1), "valid_acc": tot_acc / max(tokens, 1),
                  "valid_cer": cer(pairs) if t.valid_cer else None}
        for ref, hyp in pairs[:2]:
            log.debug("dev ref: %s | hyp: %s", ref, hyp)
        self.plot_alignments(model, epoch, device)
        return result

    def plot_alignments(self, model: nn.Module, epoch: int, device: torch.device) -> None:
        n = min(self.cfg.training.num_plots, len(self.valid_set))
        if n == 0:
            return
        readable = SkipBad(self.valid_set)
        items = [x for x in (readable[i] for i in range(n)) if not isinstance(x, BadItem)]
        if not items:
            return
        batch = collate(items).to(device)
        enc, enc_lens = model.encode(batch.feats, batch.feat_lens)
        atts = forced_alignment(model, enc, enc_lens, [toks for _, _, toks in items], self.tokenizer.sos_id)
        for (i, _, _), att in zip(items, atts):
            utt = self.valid_set.table.utt_id(i)
            save_alignment_png(self.exp_dir / "plots" / plot_file_name(utt, epoch), att.numpy())

    def epoch_line(self, row: Dict[str, Any]) -> str:
        def fmt(v):
            return "n/a" if v is None else f"{v:.4f}"

        return (f"epoch {row['epoch']}: train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} | valid loss "
                f"{fmt(row.get('valid_loss'))} acc {fmt(row.get('valid_acc'))} cer {fmt(row.get('valid_cer'))} | "
                f"lr {row['lr']:.3g} | {row['train_frames_per_s']:.0f} frames/s, {row['train_time_s']:.1f} s train, "
                f"{row.get('valid_time_s', 0.0):.1f} s valid")


def _recorded_options(dataset: Optional[FeatureDataset], option: str) -> Optional[Tuple[Path, Any]]:
    """(fbank.yaml, its options): what asrkit-compute-fbank recorded beside a set of dumped features;
    None for a set of audio (computed with the training options themselves) or without one."""
    from asrkit.features.fbank import FbankConfig
    from asrkit.training.audio_data import AudioDataset

    if dataset is None or isinstance(dataset, AudioDataset):
        return None
    beside = Path(dataset.table.source_file).parent / "fbank.yaml"
    if not beside.is_file():
        return None
    try:
        return beside, FbankConfig.from_yaml(beside)
    except AsrkitError as e:
        log.warning("%s (%s): cannot tell which options its features were made with: %s", beside.parent, option, e)
        return None
