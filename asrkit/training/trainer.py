"""The training loop: epochs of bucketed batches, validation, checkpoints, early stopping.

One :class:`Trainer` per process. Under DDP every rank trains on its share of the batches and
only rank 0 validates, plots and writes files; the ranks agree on when to stop through one
broadcast per epoch. A run is resumable at every epoch boundary: the checkpoint holds the
model, optimizer, scheduler, sampler position and RNG states, so a killed run restarted on
the same exp dir ends with the same weights as one that never stopped.
"""
from __future__ import annotations

import contextlib
import copy
import csv
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import torch
import torch.distributed as dist
from torch import nn

from asrkit.training import checkpoint as ckpt
from asrkit.training.config import METRICS, TrainConfig
from asrkit.training.data import Batch, FeatureDataset, collate, make_loader
from asrkit.training.greedy import cer, forced_alignment, greedy_search
from asrkit.training.optim import build_optimizer, build_scheduler
from asrkit.training.plots import save_alignment_png
from asrkit.training.sampler import BucketBatchSampler
from asrkit.training.timing import next_epoch_fits, projection
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import atomic_open
from asrkit.utils.logging import get_logger, progress

log = get_logger(__name__)

CURVE_FIELDS = ["epoch", "step", "lr", "train_loss", "train_acc", "valid_loss", "valid_acc", "valid_cer",
                "train_frames_per_s", "train_utts_per_s", "train_time_s", "valid_time_s", "skipped_batches",
                "epoch_time_s"]


@dataclass
class TrainState:
    """What the loop itself must remember across a resume."""

    epoch: int = 0  # last finished epoch
    step: int = 0  # optimizer steps taken
    history: List[Dict[str, Any]] = field(default_factory=list)
    bad_epochs: int = 0  # epochs since the best one (early stopping)
    stopped_early: bool = False


def _kill_at() -> Optional[tuple]:
    """``ASRKIT_TEST_KILL_AT=E:B``: SIGKILL this process after batch B of epoch E.

    Only for the resume test: a crash at a known point, with nothing cleaned up, as a real
    kill would leave the exp dir.
    """
    value = os.environ.get("ASRKIT_TEST_KILL_AT")
    if not value:
        return None
    epoch, batch = value.split(":")
    return int(epoch), int(batch)


_KILL_AT = _kill_at()


def _diff(old: Dict[str, Any], new: Dict[str, Any], prefix: str = "") -> List[str]:
    """``key: old -> new`` for every leaf that differs between two config dicts."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


def _host_copy(tree: Any) -> Any:
    """A copy of a (nested) state dict with every tensor cloned to host memory."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().to("cpu", copy=True)
    if isinstance(tree, dict):
        out = type(tree)((k, _host_copy(v)) for k, v in tree.items())
        if hasattr(tree, "_metadata"):  # module versions, which load_state_dict reads
            out._metadata = copy.deepcopy(tree._metadata)
        return out
    if isinstance(tree, (list, tuple)):
        return type(tree)(_host_copy(v) for v in tree)
    return copy.deepcopy(tree)


class _Background:
    """Run ``fn`` in a thread; ``join()`` waits and re-raises what it raised."""

    def __init__(self, fn) -> None:
        self._error: Optional[BaseException] = None

        def target() -> None:
            try:
                fn()
            except BaseException as e:  # noqa: BLE001  (handed to the training thread)
                self._error = e

        self._thread = threading.Thread(target=target, name="checkpoint-writer", daemon=False)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    return f"{v:.6g}" if isinstance(v, float) else v


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and "out of memory" in str(e).lower())


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


class Trainer:
    def __init__(self, cfg: TrainConfig, model: nn.Module, train_set: FeatureDataset,
                 valid_set: Optional[FeatureDataset], tokenizer, exp_dir: Path,
                 package_meta: Dict[str, Any], device: torch.device, rank: int = 0, world_size: int = 1) -> None:
        self.cfg = cfg
        self.exp_dir = Path(exp_dir)
        self.train_set = train_set
        self.valid_set = valid_set
        self.tokenizer = tokenizer
        self.package_meta = package_meta
        self.device = device
        self.rank = rank
        self.world_size = world_size
        self.is_main = rank == 0
        self.model = model.to(device)
        if world_size > 1:
            self.model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None)
        b = cfg.batching
        self.sampler = BucketBatchSampler([u.num_frames for u in train_set.utts], b.max_frames, b.max_batch_size,
                                          shuffle=b.shuffle, seed=cfg.training.seed, rank=rank,
                                          world_size=world_size)
        if self.sampler.too_long:
            ids = [train_set.utts[i].utt_id for i in self.sampler.too_long]
            log.warning("%d training utterance(s) longer than batching.max_frames=%d are not trained on: %s%s "
                        "(all ids with -v)", len(ids), b.max_frames, " ".join(ids[:5]), " ..." if len(ids) > 5 else "")
            log.debug("too long for batching.max_frames: %s", " ".join(ids))
        if self.sampler.per_rank == 0:
            raise AsrkitError(f"no training batch fits batching.max_frames={b.max_frames} "
                              f"(shortest utterance: {min(u.num_frames for u in train_set.utts)} frames)")
        log.info("training batches: %d per epoch%s, max_frames=%d, max_batch_size=%s, %d utterances",
                 self.sampler.per_rank, f" per rank ({world_size} ranks)" if world_size > 1 else "", b.max_frames,
                 b.max_batch_size or "unlimited", sum(len(x) for x in self.sampler.batches))
        self.optimizer = build_optimizer(self.model.parameters(), cfg.optim)
        steps_per_epoch = math.ceil(self.sampler.per_rank / cfg.optim.accum_grad)
        self.scheduler = build_scheduler(self.optimizer, cfg.optim, steps_per_epoch * cfg.training.max_epochs)
        self.amp = cfg.training.amp and device.type == "cuda"
        self.state = TrainState()
        self._writer: Optional[_Background] = None
        # The training's wall time so far, for training.max_time: this run's unless the caller
        # counts earlier runs too (asrkit.training.timing.RunRecord.used).
        start = time.monotonic()
        self.time_used: Callable[[], float] = lambda: time.monotonic() - start
        self.out_of_time = False  # set when training.max_time stopped this run

    # ------------------------------------------------------------------ resume / checkpoints
    def resume(self) -> bool:
        """Continue from the exp dir's latest checkpoint, if any; True when one was loaded."""
        path = ckpt.latest_checkpoint(self.exp_dir)
        if path is None:
            return False
        state = ckpt.load_checkpoint(path)
        if state["config"].get("model") != self.cfg.model:
            raise AsrkitError(f"{path}: was trained with another model config than the one given now (see "
                              f"{self.exp_dir}/config.yaml); use a new exp dir, or that config to continue")
        changed = _diff(state["config"], self.cfg.to_dict())
        if changed:
            log.warning("config differs from the checkpoint's, continuing with the new values: %s", ", ".join(changed))
        unwrap(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.sampler.load_state_dict(state["sampler"])
        self.state = TrainState(**state["train_state"])
        rng = state["rng"]
        if isinstance(rng, list):  # one per rank; a run resumed on fewer ranks takes the first ones
            rng = rng[min(self.rank, len(rng) - 1)]
        ckpt.set_rng_state(rng)
        log.info("resumed from %s: epoch %d done, %d steps", path, self.state.epoch, self.state.step)
        return True

    def _gather_rng(self) -> Any:
        mine = ckpt.rng_state()
        if self.world_size == 1:
            return mine
        every: List[Any] = [None] * self.world_size
        dist.all_gather_object(every, mine)
        return every

    def save_checkpoint(self) -> Path:
        """This epoch's checkpoint (rank 0 writes; every rank must call it).

        The state is copied to host memory here, at once, so training can go on changing the
        weights; with ``training.async_checkpoint`` the file is then written (atomically) and
        old checkpoints pruned in a background thread while the next epoch trains.
        """
        rng = self._gather_rng()  # collective: every rank calls it
        path = ckpt.checkpoint_path(self.exp_dir, self.state.epoch)
        if not self.is_main:
            return path
        self.wait_checkpoint()
        state = {
            "format": "asrkit-checkpoint",
            "model": _host_copy(unwrap(self.model).state_dict()),
            "optimizer": _host_copy(self.optimizer.state_dict()),
            "scheduler": self.scheduler.state_dict(),
            "sampler": self.sampler.state_dict(),
            "rng": rng,
            "train_state": copy.deepcopy(vars(self.state)),
            "config": self.cfg.to_dict(),
            "package": self.package_meta,
            "metrics": dict(self.state.history[-1]) if self.state.history else {},
        }
        history = list(self.state.history)

        def write() -> None:
            ckpt.save_checkpoint(path, state)
            kept = ckpt.prune_checkpoints(self.exp_dir, history, self.cfg.training.best_metric,
                                          self.cfg.training.keep_best)
            log.info("wrote %s (kept epochs %s)", path, " ".join(map(str, kept)))

        if self.cfg.training.async_checkpoint:
            self._writer = _Background(write)
        else:
            write()
        return path

    def wait_checkpoint(self) -> None:
        """Block until the checkpoint being written in the background is on disk (re-raising its error)."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.join()

    # ------------------------------------------------------------------ one batch
    def forward_backward(self, batch: Batch, scale: float = 1.0, sync: bool = True):
        """Loss of one batch and its gradients added to ``.grad`` (DDP-averaged when ``sync``)."""
        batch = batch.to(self.device, non_blocking=True)
        ctx = self.model.no_sync() if (self.world_size > 1 and not sync) else contextlib.nullcontext()
        with ctx:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp):
                out = self.model(batch.feats, batch.feat_lens, batch.ys, batch.y_lens)
            (out.loss * scale).backward()
        return out

    def _optimizer_step(self) -> bool:
        clip = self.cfg.optim.grad_clip
        params = [p for p in self.model.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, clip if clip > 0 else float("inf"))
        ok = bool(torch.isfinite(norm))
        if ok:
            self.optimizer.step()
            self.scheduler.step()
            self.state.step += 1
        else:
            log.warning("step %d: gradient norm is %s, update skipped", self.state.step, float(norm))
        self.optimizer.zero_grad(set_to_none=True)
        return ok

    # ------------------------------------------------------------------ epochs
    def train_epoch(self, epoch: int) -> Dict[str, Any]:
        self.model.train()
        self.sampler.set_epoch(epoch)
        unwrap(self.model).teacher_forcing = self.cfg.training.teacher_forcing(epoch)
        loader = make_loader(self.train_set, self.sampler, self.cfg.batching.num_workers,
                             pin_memory=self.device.type == "cuda")
        accum = self.cfg.optim.accum_grad
        k = self.cfg.training.log_interval
        n_batches = len(self.sampler)
        tot_loss = tot_acc = 0.0
        n_utts = n_frames = skipped = 0
        win_frames, win_start = 0, time.perf_counter()
        start = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        it = progress(loader, total=n_batches, desc=f"epoch {epoch}", unit="batch", disable=not self.is_main)
        for i, batch in enumerate(it, 1):
            last = i % accum == 0 or i == n_batches
            try:
                out = self.forward_backward(batch, scale=1.0 / accum, sync=last)
            except RuntimeError as e:
                if not _is_oom(e) or self.world_size > 1:
                    raise
                # A batch too big for the GPU costs one batch, not the run.
                ids = [self.train_set.utts[j].utt_id for j in batch.indices]
                log.warning("epoch %d batch %d: out of memory (%d utts x %d frames, first %s): skipped",
                            epoch, i, len(ids), int(batch.feat_lens.max()), ids[0])
                self.optimizer.zero_grad(set_to_none=True)
                torch.cuda.empty_cache()
                skipped += 1
                continue
            loss = float(out.loss.detach())
            if not math.isfinite(loss):
                log.warning("epoch %d batch %d: loss is %s, batch skipped", epoch, i, loss)
                self.optimizer.zero_grad(set_to_none=True)
                skipped += 1
                continue
            if last:
                self._optimizer_step()
            if _KILL_AT == (epoch, i):
                self.wait_checkpoint()  # the kill is meant to land after the last checkpoint
                os.kill(os.getpid(), signal.SIGKILL)
            bsz = len(batch.indices)
            tot_loss += loss * bsz
            tot_acc += float(out.acc) * bsz
            n_utts += bsz
            n_frames += batch.num_frames
            win_frames += batch.num_frames
            if self.is_main and i % k == 0:
                now = time.perf_counter()
                log.info("epoch %d batch %d/%d step %d: loss %.4f acc %.4f lr %.3g %.0f frames/s", epoch, i,
                         n_batches, self.state.step, loss, float(out.acc), self.lr(),
                         win_frames * self.world_size / max(now - win_start, 1e-9))
                win_frames, win_start = 0, now
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed = time.perf_counter() - start
        return {
            "train_loss": tot_loss / max(n_utts, 1), "train_acc": tot_acc / max(n_utts, 1),
            "train_frames_per_s": n_frames * self.world_size / elapsed,
            "train_utts_per_s": n_utts * self.world_size / elapsed, "train_time_s": elapsed,
            "skipped_batches": skipped,
        }

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @torch.no_grad()
    def validate(self, epoch: int) -> Dict[str, Any]:
        """Loss, accuracy and greedy CER on the dev set (rank 0 only), and the attention plots."""
        if self.valid_set is None:
            return {}
        model = unwrap(self.model)
        model.eval()
        t = self.cfg.training
        start = time.perf_counter()
        sampler = BucketBatchSampler([u.num_frames for u in self.valid_set.utts], self.cfg.batching.max_frames,
                                     self.cfg.batching.max_batch_size, shuffle=False)
        # Dev utterances too long for the budget are still validated on, one per batch.
        loader = make_loader(self.valid_set, sampler.batches + [[i] for i in sampler.too_long],
                             self.cfg.batching.num_workers)
        tot_loss = tot_acc = 0.0
        n = 0
        pairs = []
        sos = eos = self.tokenizer.sos_id
        for batch in progress(loader, desc="validation", unit="batch"):
            batch = batch.to(self.device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp):
                out = model(batch.feats, batch.feat_lens, batch.ys, batch.y_lens)
                if t.valid_cer:
                    enc, enc_lens = model.encode(batch.feats, batch.feat_lens)
                    maxlen = int(batch.y_lens.max()) * 2 + 10
                    hyps = greedy_search(model, enc, enc_lens, sos, eos, maxlen)
            bsz = len(batch.indices)
            tot_loss += float(out.loss) * bsz
            tot_acc += float(out.acc) * bsz
            n += bsz
            if t.valid_cer:
                pairs += [(self.valid_set.utts[j].text, self.tokenizer.decode(h)) for j, h in zip(batch.indices, hyps)]
        result = {"valid_loss": tot_loss / max(n, 1), "valid_acc": tot_acc / max(n, 1),
                  "valid_cer": cer(pairs) if t.valid_cer else None}
        for ref, hyp in pairs[:2]:
            log.debug("dev ref: %s | hyp: %s", ref, hyp)
        self.plot_alignments(model, epoch)
        result["valid_time_s"] = time.perf_counter() - start
        return result

    def plot_alignments(self, model: nn.Module, epoch: int) -> None:
        n = min(self.cfg.training.num_plots, len(self.valid_set))
        if n == 0:
            return
        items = [self.valid_set[i] for i in range(n)]
        batch = collate(items).to(self.device)
        enc, enc_lens = model.encode(batch.feats, batch.feat_lens)
        atts = forced_alignment(model, enc, enc_lens, [toks for _, _, toks in items], self.tokenizer.sos_id)
        for i, att in enumerate(atts):
            utt = self.valid_set.utts[i].utt_id
            save_alignment_png(self.exp_dir / "plots" / f"{utt}.epoch{epoch}.png", att.numpy())

    def write_curves(self) -> None:
        with atomic_open(self.exp_dir / "log" / "curves.csv", "w") as f:
            w = csv.DictWriter(f, fieldnames=CURVE_FIELDS, extrasaction="ignore")
            w.writeheader()
            for row in self.state.history:
                w.writerow({k: _csv_value(row.get(k)) for k in CURVE_FIELDS})

    def _improved(self) -> bool:
        """Whether the last epoch is strictly better than every earlier one (a tie is no progress)."""
        metric = self.cfg.training.best_metric
        values = [r[metric] for r in self.state.history if r.get(metric) is not None]
        if len(values) <= 1:
            return True
        best_before = METRICS[metric](values[:-1])
        return values[-1] < best_before if METRICS[metric] is min else values[-1] > best_before

    def _broadcast(self, obj: Any) -> Any:
        if self.world_size == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def finished(self) -> bool:
        return self.state.stopped_early or self.state.epoch >= self.cfg.training.max_epochs

    def check_memory(self) -> None:
        """Run the largest batch once before training (CUDA only), so running out of memory shows at once.

        The gradients are thrown away; a batch that does not fit is an error asking for a
        smaller ``batching.max_frames`` rather than a run that skips batches all along.
        """
        if self.device.type != "cuda" or not self.cfg.training.oom_check:
            return
        lengths = [u.num_frames for u in self.train_set.utts]
        batch = max(self.sampler.batches, key=lambda b: (len(b) * max(lengths[i] for i in b), len(b)))
        self.model.train()
        try:
            self.forward_backward(collate([self.train_set[i] for i in batch]))
        except RuntimeError as e:
            if not _is_oom(e):
                raise
            raise AsrkitError(f"the largest batch ({len(batch)} utterances x {max(lengths[i] for i in batch)} "
                              f"frames) does not fit in GPU memory: lower batching.max_frames") from None
        finally:
            self.optimizer.zero_grad(set_to_none=True)
        log.info("largest batch (%d utterances, %.1f GiB peak) fits in GPU memory", len(batch),
                 torch.cuda.max_memory_allocated(self.device) / 2**30)

    def run(self) -> None:
        """Train until max_epochs or early stopping, one checkpoint per epoch."""
        t = self.cfg.training
        if self.state.epoch == 0 and not self.finished():
            self.check_memory()
        while not self.finished():
            # Rank 0's clock decides for every rank, so all stop at the same epoch.
            if not self._broadcast(next_epoch_fits(self.state.history, self.time_used(), t.max_time)):
                self.out_of_time = True
                if self.is_main:
                    log.info("time budget: %.0f s of training.max_time=%.0f s used, and the last epoch took "
                             "longer than what is left: stopping after epoch %d of %d (a re-run with a larger "
                             "training.max_time continues)", self.time_used(), t.max_time, self.state.epoch,
                             t.max_epochs)
                break
            epoch_start = time.perf_counter()
            epoch = self.state.epoch + 1
            row: Dict[str, Any] = {"epoch": epoch}
            row.update(self.train_epoch(epoch))
            row.update({"step": self.state.step, "lr": self.lr()})
            if self.is_main:
                row.update(self.validate(epoch))
                row["epoch_time_s"] = time.perf_counter() - epoch_start
            row = self._broadcast(row)
            self.state.epoch = epoch
            self.state.history.append(row)
            self.state.bad_epochs = 0 if self._improved() else self.state.bad_epochs + 1
            if t.patience and self.state.bad_epochs >= t.patience:
                self.state.stopped_early = True
            self.sampler.set_epoch(epoch + 1)
            if self.is_main:
                fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
                log.info("epoch %d: train loss %.4f acc %.4f | valid loss %s acc %s cer %s | lr %.3g | "
                         "%.0f frames/s, %.1f s train, %.1f s valid", epoch, row["train_loss"], row["train_acc"],
                         fmt(row.get("valid_loss")), fmt(row.get("valid_acc")), fmt(row.get("valid_cer")),
                         row["lr"], row["train_frames_per_s"], row["train_time_s"], row.get("valid_time_s", 0.0))
                last = epoch if self.state.stopped_early else t.max_epochs
                log.info("%s", projection(self.state.history, last, self.time_used(), t.max_time))
                self.write_curves()
            self.save_checkpoint()
            if self.state.stopped_early and self.is_main:
                log.info("early stopping: %s has not improved for %d epochs", t.best_metric, t.patience)
        self.wait_checkpoint()
