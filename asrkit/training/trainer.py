"""The training loop every asrkit model trains through: epochs, checkpoints, resume, early stopping.

One :class:`Trainer` per process, for one :class:`TrainTask`: asrkit-train's LAS
(:mod:`asrkit.training.las_task`) and asrkit-train-lm's LM (:mod:`asrkit.training.train_lm`).
The task owns the data and says what one batch's loss and one epoch's validation are; the
trainer owns everything else: gradient accumulation and clipping, optimizer and scheduler
steps, AMP, DDP, per-epoch checkpoints, resume, early stopping, the log and ``log/curves.csv``.

Under DDP every rank trains on its share of the batches and only rank 0 validates and writes
files; the ranks agree on when to stop through one broadcast per epoch. A run is resumable at
every epoch boundary: the checkpoint holds the model, optimizer, scheduler, sampler position and
RNG states, so a killed run restarted on the same exp dir ends with the same weights as one that
never stopped. A stop request (SIGUSR1: :mod:`asrkit.training.stop_signal`) ends the run at the
next optimizer step with the same state, the position within the epoch and the epoch's running
sums in ``checkpoints/interrupted.pt``, from which a rerun continues to the same weights too.
(Except under ``optim.decay_over: budget``, whose rate follows the wall clock: a resume continues
from the time every run spent, restarts included.)
"""
from __future__ import annotations

import contextlib
import copy
import csv
import math
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, Tuple

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from asrkit.training import checkpoint as ckpt
from asrkit.training.config import OptimConfig, TrainingConfig
from asrkit.training.optim import apply_config, build_optimizer, build_scheduler
from asrkit.training.stop_signal import StopRequest, TrainingStopped
from asrkit.training.timing import BudgetClock, next_epoch_estimate, next_epoch_fits, projection
from asrkit.utils.bad_items import BadItems
from asrkit.utils.config import completed, dict_diff
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import atomic_open
from asrkit.utils.logging import get_logger, progress
from asrkit.utils.torch_files import special_file_kind

log = get_logger(__name__)


@dataclass
class StepOutput:
    """One batch's forward pass, as the trainer needs it."""

    loss: Tensor  # the scalar backward() runs on (a mean over the batch)
    weight: int  # how much the batch counts in the epoch's mean loss (utterances, tokens)
    items: int  # utterances / sentences in the batch (for items/s)
    units: int  # frames / tokens in the batch (for the throughput the log reports)
    stats: Dict[str, Tensor] = field(default_factory=dict)  # more per-batch means, weighted like the loss
    # What a stat is a mean over where that is not ``weight`` (a token accuracy: the batch's tokens).
    # Weighted by utterances, one model's train_acc changed with batching.max_frames alone.
    stat_weights: Dict[str, Any] = field(default_factory=dict)


class TrainTask(Protocol):
    """One kind of model for the :class:`Trainer`: its data, its loss, its validation, its package."""

    model: nn.Module  # what is trained (the trainer moves it to the device and wraps it for DDP)
    sampler: Any  # set_epoch(epoch, start=0), epoch_batches(epoch), per_rank, __len__, state_dict()...
    units: str  # what StepOutput.units counts ("frames", "tokens"): "train_<units>_per_s"
    items: str  # what StepOutput.items counts ("utts", "sentences")
    curve_fields: List[str]  # the columns of log/curves.csv
    smaller_batches: str  # how to make batches smaller, for the out-of-memory error ("lower batching.max_frames")
    config_file: str  # the exp dir's record of the resolved config ("config.yaml"), for the resume's errors

    def package(self) -> Tuple[str, Dict[str, Any]]:
        """(format, meta as plain types): what checkpoints carry so the best epoch can be packed."""

    def start_epoch(self, model: nn.Module, epoch: int) -> None:
        """Per-epoch settings of the (unwrapped) model, e.g. scheduled sampling."""

    def train_batches(self, pin_memory: bool) -> Iterable[Any]:
        """This rank's batches of the sampler's current epoch, from its current position."""

    def split_bad(self, batch: Any) -> Tuple[Optional[Any], List[Tuple[str, str]]]:
        """(the batch without the items found unusable while reading it, None when none is left;
        those items as (id, reason)): the trainer skips, names and counts them."""

    def forward(self, model: nn.Module, batch: Any, device: torch.device) -> StepOutput:
        """The (possibly DDP-wrapped) model's loss on one batch."""

    def describe(self, batch: Any) -> str:
        """A batch in a log line (a skipped out-of-memory batch)."""

    def item_ids(self, batch: Any) -> List[str]:
        """The names of a batch's items (utterance ids), for the warning when its loss is not finite."""

    def train_metrics(self, row: Dict[str, Any]) -> Dict[str, Any]:
        """Values derived from an epoch's training row (the LM's perplexity)."""

    def validate(self, model: nn.Module, epoch: int, device: torch.device, amp: bool) -> Dict[str, Any]:
        """Rank 0's validation of the (unwrapped) model after ``epoch``; {} without a dev set."""

    def largest_batch(self) -> Optional[Any]:
        """The batch most likely to run out of GPU memory, tried before epoch 1; None to skip."""

    def spare_batch(self) -> Optional[Any]:
        """Any one usable training item as a batch (None when there is none): under DDP it stands
        in, at weight 0, for a rank's batch whose items are all unusable before the rank has
        trained on any batch of its own."""

    def epoch_line(self, row: Dict[str, Any]) -> str:
        """The log line that sums up an epoch."""


@dataclass
class TrainState:
    """What the loop itself must remember across a resume."""

    epoch: int = 0  # last finished epoch
    step: int = 0  # optimizer steps taken
    history: List[Dict[str, Any]] = field(default_factory=list)
    bad_epochs: int = 0  # epochs since the best one (early stopping)
    stopped_early: bool = False


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global RNGs: model initialisation, dropout, SpecAugment."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _token_difference(old: List[str], new: List[str]) -> str:
    for i, (a, b) in enumerate(zip(old, new)):
        if a != b:
            return f"id {i} is {a!r} there, {b!r} now"
    return f"{len(old)} tokens there, {len(new)} now"


def _cmvn_difference(theirs: Dict[str, Any], ours: Dict[str, Any]) -> Optional[str]:
    """How a checkpoint's CMVN differs from this run's (None: the same, or a package without one)."""
    if "cmvn" not in theirs or "cmvn" not in ours:
        return None
    a, b = theirs["cmvn"], ours["cmvn"]
    if (a is None) != (b is None):
        return "global stats there, none now" if b is None else "none there, global stats now"
    if a is not None:
        a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
        if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-9, atol=0.0):
            return "other stats"
        if bool(theirs.get("cmvn_norm_vars", True)) != bool(ours.get("cmvn_norm_vars", True)):
            return f"norm_vars {bool(theirs.get('cmvn_norm_vars'))} there, {bool(ours.get('cmvn_norm_vars'))} now"
    return None


def _few(names: List[str], show: int = 10) -> str:
    return " ".join(names[:show]) + (f" ... ({len(names)} in all)" if len(names) > show else "")


def _check_finite(weights: Dict[str, Tensor], where: str) -> None:
    """No checkpoint (so no model.pt) of a model whose weights hold NaN or Inf: an update from
    finite gradients can still overflow (a huge learning rate), and such a model decodes nothing."""
    for name, value in weights.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            bad = value[~torch.isfinite(value)].flatten()[0].item()
            raise AsrkitError(f"{where}: the model's weights are not finite ({bad} in {name}): the training "
                              f"diverged (lower optim.lr, keep optim.grad_clip on); no checkpoint written")


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

    @property
    def failed(self) -> bool:
        """Finished with an error (join() raises it); never blocks."""
        return not self._thread.is_alive() and self._error is not None


def _mid_epoch_sums(mid: Dict[str, Any], rank: int, rng: Any) -> Dict[str, Any]:
    """What train_epoch continues from, of an interrupted.pt's ``mid_epoch`` entry for ``rank``:
    read here, in resume()'s reach, so that a damaged entry (a key missing, a string for a number)
    is its one-line error rather than a traceback from the epoch's loop."""
    sums = mid["ranks"][rank]
    return {"epoch": int(mid["epoch"]), "batch": int(mid["batch"]), "rng": rng,
            **{k: float(sums[k]) for k in ("tot_loss", "elapsed", "epoch_s")},
            **{k: int(sums[k]) for k in ("weight", "n_items", "n_units", "skipped", "updates", "bad_steps")},
            **{k: {str(n): float(v) for n, v in sums[k].items()} for k in ("tot_stats", "stat_weight")},
            **{k: [str(x) for x in sums[k]] for k in ("failed", "bad_step_ids")},
            "first_error": None if sums["first_error"] is None else str(sums["first_error"])}


def _sum_per_key(dicts: Iterable[Dict[str, float]]) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0.0) + v
    return out


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    return f"{v:.6g}" if isinstance(v, float) else v


def _is_oom(e: BaseException) -> bool:
    # The CPU allocator words it "can't allocate memory": a batch or a model too big for the host
    # (attention.conv_channels 1e8 asked for 190 GB in the first forward) was a traceback there.
    return isinstance(e, torch.cuda.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and any(m in str(e).lower() for m in ("out of memory", "can't allocate memory")))


def _worker_death(e: BaseException, where: str) -> Optional[AsrkitError]:
    """The one-line error for a DataLoader worker that died (torch's RuntimeError, raised from its
    SIGCHLD handler wherever the main process was, e.g. inside the model's forward, and so shown
    as a 90-line traceback through the model's code); None for any other error."""
    message = str(e).strip()
    if not isinstance(e, RuntimeError) or not message.startswith("DataLoader worker (pid"):
        return None
    return AsrkitError(f"{where}: {message.rstrip('.')}: a data loader worker died (killed: most often by the "
                       f"kernel's out-of-memory killer, see dmesg; fewer batching.num_workers or a smaller batch use "
                       f"less memory; a crash: in a library reading a damaged input file); the checkpoints of the "
                       f"finished epochs are kept, and a rerun resumes from the last")


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


class Trainer:
    """Train ``task.model`` with ``optim`` for ``loop.max_epochs`` into ``exp_dir``.

    ``config`` is the run's whole resolved config as plain types: every checkpoint stores it, and
    a resume refuses a checkpoint whose ``model`` section differs (another model) and logs the
    other keys that changed.
    """

    def __init__(self, task: TrainTask, optim: OptimConfig, loop: TrainingConfig, exp_dir: Path,
                 config: Dict[str, Any], device: torch.device, rank: int = 0, world_size: int = 1,
                 config_class: Optional[type] = None) -> None:
        self.task = task
        self.optim = optim
        self.loop = loop
        self.config = config
        # A checkpoint's config is read as ``config_class`` with the options it does not name at
        # their defaults (utils.config.completed): an asrkit that has added a model option since
        # the run began (model.utt_mean_frames) refused to resume it, "changed:
        # model.utt_mean_frames: None -> 'all'", and no config could continue it.
        self.config_class = config_class
        self.exp_dir = Path(exp_dir)
        self.device = device
        self.rank = rank
        self.world_size = world_size
        self.is_main = rank == 0
        self.model = task.model.to(device)
        if world_size > 1:
            self.model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None)
        # Frozen parameters (requires_grad False: asrkit-train --freeze) get no optimizer state.
        self.optimizer = build_optimizer([p for p in self.model.parameters() if p.requires_grad], optim)
        steps_per_epoch = math.ceil(task.sampler.per_rank / optim.accum_grad)
        self._steps_per_epoch = steps_per_epoch
        if self.is_main and optim.accum_grad > task.sampler.per_rank:
            # The epoch's last batch makes the update, of its batches' losses each scaled by 1 /
            # accum_grad: accum_grad 10**9 over 3 batches made updates a billionth of the gradient
            # (below Adam's eps), and a model that learnt nothing was packed at exit 0 without a word.
            log.warning("optim.accum_grad %d is more than the %d batch(es) of an epoch%s: each epoch makes one update, "
                        "from its %d batch(es) scaled by 1/%d, a %g share of the gradient; give optim.accum_grad %d "
                        "or less", optim.accum_grad, task.sampler.per_rank, " on each rank" if world_size > 1 else "",
                        task.sampler.per_rank, optim.accum_grad, task.sampler.per_rank / optim.accum_grad,
                        task.sampler.per_rank)
        self.budget_clock = BudgetClock(loop.max_time) if loop.max_time > 0 else None
        self.scheduler = build_scheduler(self.optimizer, optim, steps_per_epoch * loop.max_epochs,
                                         self.budget_clock.share if self.budget_clock else None,
                                         decay_steps=steps_per_epoch * optim.decay_epochs)
        self.amp = loop.amp and device.type == "cuda"
        self.state = TrainState()
        self.resumed_config: Dict[str, Any] = {}  # the config of the checkpoint resume() continued from
        self._writer: Optional[_Background] = None
        self._bad_steps = 0  # updates skipped in a row (non-finite loss or gradient norm)
        self._batch = 0  # the batch of the epoch the loop last received (named when a loader worker dies)
        # The last batch this rank trained on: under DDP it stands in, at weight 0, for a batch whose
        # items are all unusable, since the other ranks wait for this rank in the gradient all-reduce.
        self._stand_in: Any = None
        self._bad_step_ids: List[str] = []  # the items of those skipped updates, for the error
        self._reported: set = set()  # bad training items named already: later epochs only count them
        # The training's wall time so far, for training.max_time: this run's unless the caller
        # counts earlier runs too (asrkit.training.timing.RunRecord.used).
        start = time.monotonic()
        self.time_used: Callable[[], float] = lambda: time.monotonic() - start
        self.out_of_time = False  # set when training.max_time stopped this run
        # Called (rank 0) just before a checkpoint is written: whoever records the run's time
        # updates it here, so a run killed once its checkpoint is on disk has its time recorded.
        self.before_checkpoint: Callable[[], None] = lambda: None
        # Set by a signal handler (stop_signal.stop_on_signals); read at every optimizer step.
        self.stop_request = StopRequest()
        # What a resume from interrupted.pt continues within its epoch: the position and this
        # rank's running sums and RNG state (taken by train_epoch).
        self._mid: Optional[Dict[str, Any]] = None
        self._epoch_start = 0.0  # perf_counter at the current epoch's start (its epoch_time_s)

    @property
    def sampler(self):
        return self.task.sampler

    # ------------------------------------------------------------------ resume / checkpoints
    def resume(self) -> bool:
        """Continue from the exp dir's newest readable checkpoint, if any; True when one was loaded."""
        found = ckpt.latest_readable_checkpoint(self.exp_dir)
        found = self._mid_epoch_checkpoint(found) or found
        if found is None:
            return False
        path, state = found
        package_format, package = self.task.package()
        if state["package_format"] != package_format:
            raise AsrkitError(f"{path}: a checkpoint of {state['package_format']!r}, not of {package_format!r} "
                              f"as this run trains; use a new exp dir")
        config = self._completed(state["config"])
        if config.get("model") != self.config.get("model"):
            # Which keys: the config file and every --set of two runs were left to compare by hand.
            theirs_model, ours_model = config.get("model"), self.config.get("model")
            changed = (dict_diff(theirs_model, ours_model, "model.") if isinstance(theirs_model, dict)
                       and isinstance(ours_model, dict) else [f"model: {theirs_model!r} -> {ours_model!r}"])
            raise AsrkitError(f"{path}: was trained with another model config than the one given now (see "
                              f"{self.exp_dir / self.task.config_file}); use a new exp dir, or that config to "
                              f"continue (changed: {', '.join(changed)[:500]})")
        # Adam's moments are no Adadelta state: its load_state_dict said "the optimizer state's rho is
        # None ...; move it away to resume from an earlier one", which every earlier one shares.
        theirs_optim = config.get("optim")
        if isinstance(theirs_optim, dict) and theirs_optim.get("name", self.optim.name) != self.optim.name:
            raise AsrkitError(f"{path}: was trained with optim.name {theirs_optim['name']}, this run's config says "
                              f"{self.optim.name}: an optimizer's state does not carry over to another; resume with "
                              f"optim.name: {theirs_optim['name']}, or use a new exp dir")
        frozen = state.get("frozen", [])
        if frozen != self.frozen():
            raise AsrkitError(f"{path}: was trained with {len(frozen)} frozen parameter tensors, this run freezes "
                              f"{len(self.frozen())}: resume with the same --freeze, or use a new exp dir")
        # The same model config with other data: another --lang-dir (a token list of another
        # size failed in load_state_dict with a traceback; one of the same size resumed silently,
        # every output unit now meaning another token) or features of another dimension.
        theirs = state["package"]
        for key, what in (("tokens", "token list"), ("idim", "feature dimension")):
            if key in package and key in theirs and theirs[key] != package[key]:
                shown = (_token_difference(theirs[key], package[key]) if key == "tokens"
                         else f"{theirs[key]} there, {package[key]} now")
                given = "--lang-dir" if key == "tokens" else "features"  # (an LM run has no features)
                raise AsrkitError(f"{path}: was trained with another {what} than this run's ({shown}); use a new "
                                  f"exp dir, or the {given} it was trained with")
        # The same for the input normalisation: a run resumed with another --cmvn (or none, or
        # another --norm-vars) fed the trained weights features of another scale, in silence.
        why = _cmvn_difference(theirs, package)
        if why:
            raise AsrkitError(f"{path}: was trained with another CMVN than this run's ({why}); use a new exp dir, or "
                              f"the --cmvn and --norm-vars it was trained with")
        # dev_set: a dev set's fingerprint, compared by refuse_unranked_epochs. finetune.init and
        # init_modules are not read on a resume (finetune.apply says so): listed here as "continuing
        # with the new values", they said the opposite.
        changed = [c for c in dict_diff(config, self.config)
                   if not c.startswith(("dev_set:", "finetune.init:", "finetune.init_modules:"))]
        if changed and self.rank == 0:  # (every rank resumes; one line is what a user reads, not one per rank)
            log.warning("config differs from the checkpoint's, continuing with the new values: %s", ", ".join(changed))
        try:
            unwrap(self.model).load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            apply_config(self.optimizer, self.scheduler, self.optim)
            self.sampler.load_state_dict(state["sampler"])
            self.state = TrainState(**state["train_state"])
            rng = state["rng"]
            if isinstance(rng, list):  # one per rank; a run resumed on fewer ranks takes the first ones
                rng = rng[min(self.rank, len(rng) - 1)]
            ckpt.set_rng_state(rng)
            if "mid_epoch" in state:
                self._mid = _mid_epoch_sums(state["mid_epoch"], self.rank, rng)
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as e:
            # What torch and the samplers raise for state that does not fit: the file's fault here,
            # its types having been checked when it was read.
            first = (f"no {e.args[0]!r} entry" if isinstance(e, KeyError) else
                     next((line.strip() for line in str(e).splitlines()
                           if line.strip() and not line.startswith("Error(s) in loading")), type(e).__name__))
            raise AsrkitError(f"{path}: cannot resume from this checkpoint: {first[:200].rstrip('.')}; move it away "
                              f"to resume from an earlier one") from None
        self.resumed_config = config
        if self.is_main:  # the epochs of this checkpoint, whatever a killed or failed run wrote after it
            self.write_curves()
        within = (f", and batch {self._mid['batch']} of epoch {self._mid['epoch']} (stopped there)"
                  if self._mid is not None else "")
        log.info("resumed from %s: epoch %d done%s, %d steps", path, self.state.epoch, within, self.state.step)
        return True

    def _mid_epoch_checkpoint(self, found: Optional[Tuple[Path, Dict[str, Any]]]
                              ) -> Optional[Tuple[Path, Dict[str, Any]]]:
        """(path, state) of checkpoints/interrupted.pt when a resume continues from it rather than
        from ``found`` (the newest readable epoch checkpoint): it holds a later state, and this run
        can continue its epoch exactly (the same ranks and batches). Otherwise None, saying why."""
        path = ckpt.mid_epoch_path(self.exp_dir)
        if not os.path.lexists(path):
            return None
        kind = "a directory" if path.is_dir() else special_file_kind(path)
        if kind is not None:  # (reading a named pipe waited for a writer forever)
            raise AsrkitError(f"{path}: {kind} under the name of a stopped run's checkpoint, where this run would "
                              f"write one; move it away")
        since = f"from {found[0]}" if found is not None else "from the start"
        try:
            state = ckpt.load_checkpoint(path)
        except AsrkitError as e:
            log.warning("%s: skipped, resuming %s", e, since)
            return None
        done = found[1]["train_state"].get("epoch", 0) if found is not None else 0
        mid = state["mid_epoch"] if "mid_epoch" in state else None
        if mid is None:
            log.warning("%s: holds no position within an epoch: skipped, resuming %s", path, since)
            return None
        if mid["epoch"] <= done:  # (its epoch finished after it was written; it goes with the next checkpoint)
            log.info("%s: stopped within epoch %d, which %s holds finished: not taken", path, mid["epoch"], found[0])
            return None
        sampler = state["sampler"]
        ranks = len(mid["ranks"])
        # (another seed shuffles the epoch's batches otherwise: the batches after the place it stopped
        # would hold some it had trained on, and miss others)
        if (ranks != self.world_size or sampler.get("num_batches") != len(self.sampler.batches)
                or sampler.get("seed", self.sampler.seed) != self.sampler.seed):
            why = (f"written by {ranks} rank(s), this run has {self.world_size}" if ranks != self.world_size else
                   f"its epoch had {sampler.get('num_batches')} batches, this run's has {len(self.sampler.batches)} "
                   f"(other batching options)" if sampler.get("num_batches") != len(self.sampler.batches) else
                   f"its epoch's batches were shuffled with seed {sampler.get('seed')}, this run's seed is "
                   f"{self.sampler.seed}")
            log.warning("%s: %s, so it cannot continue that epoch where it stopped: resuming %s, epoch %d trained "
                        "again from its start", path, why, since, mid["epoch"])
            return None
        return path, state

    def _completed(self, config: Dict[str, Any]) -> Dict[str, Any]:
        """``config`` (a checkpoint's) completed as ``self.config_class``, its ``dev_set`` kept."""
        if self.config_class is None:
            return config
        own = {k: v for k, v in config.items() if k != "dev_set"}
        done = completed(self.config_class, own)
        return config if done is own else {**config, **done}

    def refuse_unranked_epochs(self, validates: bool, no_dev: str, packed: str, metric: Optional[str] = None,
                               dev_set_from: Tuple[Tuple[str, ...], str] = ((), "")) -> None:
        """AsrkitError when a resumed run that will train more epochs could not rank them against the
        earlier ones, validated on a dev set (``metric``, default training.best_metric): this run has
        none (``no_dev`` says how), or another one (the config's ``dev_set``, a fingerprint, differs).
        asrkit-train resumed without --valid-dir: the new epochs had no best_metric, so model.pt (and
        pruning) kept the best earlier epoch, epoch 2 of 4 with exit 0; asrkit-train-lm resumed
        without --valid-text held out dev_ratio of the text instead, whose perplexities were ranked
        against the dev text's, and lm.pt was epoch 2 of 4 too. ``dev_set_from``: the config keys
        the dev set is made with besides the files (the LM's seed, dev_ratio and max_len) and how,
        named when this run changed them: "another dev set" alone left a resume with another --seed
        a riddle."""
        metric = metric or self.loop.best_metric
        scored = [r["epoch"] for r in self.state.history if r.get(metric) is not None]
        if not scored or self.finished():
            return
        if not validates:
            raise AsrkitError(f"{self.exp_dir}: its epochs up to {max(scored)} were validated on a dev set ({metric}), "
                              f"this run has no {no_dev}: the epochs it trains could not be ranked against them by "
                              f"{metric}, so {packed} could be the wrong epoch; validate on the dev set they were "
                              f"validated on, or train into a new exp dir")
        theirs, ours = self.resumed_config.get("dev_set"), self.config.get("dev_set")
        if theirs is not None and ours is not None and theirs != ours:
            keys, how = dev_set_from
            changed = [f"{k} {self.resumed_config[k]} -> {self.config[k]}" for k in keys
                       if k in self.resumed_config and k in self.config and self.resumed_config[k] != self.config[k]]
            cause = f" (this run changed {', '.join(changed)}: {how})" if changed else ""
            raise AsrkitError(f"{self.exp_dir}: its epochs up to {max(scored)} were validated on another dev set "
                              f"({theirs}) than this run's ({ours}){cause}: the epochs it trains could not be ranked "
                              f"against them by {metric}, so {packed} could be the wrong epoch; validate on the dev "
                              f"set they were validated on, or train into a new exp dir")

    def frozen(self) -> List[str]:
        """Names of the parameters that are not trained (kept in checkpoints: a resume must freeze the same)."""
        return [k for k, p in unwrap(self.model).named_parameters() if not p.requires_grad]

    def _gather(self, obj: Any) -> List[Any]:
        """``obj`` of every rank, in rank order (a collective: every rank calls it)."""
        if self.world_size == 1:
            return [obj]
        every: List[Any] = [None] * self.world_size
        dist.all_gather_object(every, obj)
        return every

    def _gather_rng(self) -> Any:
        every = self._gather(ckpt.rng_state())
        return every[0] if self.world_size == 1 else every

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
        state = self._state(rng, f"epoch {self.state.epoch}")
        history = list(self.state.history)
        self.before_checkpoint()

        def write() -> None:
            ckpt.save_checkpoint(path, state)
            # Only now: a run whose checkpoint write failed (a full disk) or was killed had
            # curves.csv count an epoch that a resume trains again.
            self.write_curves(history)
            kept = ckpt.prune_checkpoints(self.exp_dir, history, self.loop.best_metric, self.loop.keep_best)
            # A stopped run's state within this epoch (or an earlier one) is behind this checkpoint now.
            ckpt.mid_epoch_path(self.exp_dir).unlink(missing_ok=True)
            log.info("wrote %s (kept epochs %s)", path, " ".join(map(str, kept)))

        if self.loop.async_checkpoint:
            self._writer = _Background(write)
        else:
            write()
        return path

    def _state(self, rng: Any, where: str) -> Dict[str, Any]:
        """What a checkpoint holds (rank 0), copied to host memory now; ``rng``: every rank's RNG states."""
        package_format, package = self.task.package()
        weights = _host_copy(unwrap(self.model).state_dict())
        _check_finite(weights, where)
        return {
            "model": weights,
            "optimizer": _host_copy(self.optimizer.state_dict()),
            "scheduler": self.scheduler.state_dict(),
            "sampler": self.sampler.state_dict(),
            "rng": rng,
            "train_state": copy.deepcopy(vars(self.state)),
            "config": self.config,
            "frozen": self.frozen(),
            "package_format": package_format,
            "package": package,
            "metrics": dict(self.state.history[-1]) if self.state.history else {},
        }

    # ------------------------------------------------------------------ stopping on request
    def stop_asked(self) -> Optional[str]:
        """The name of the signal that asked this run to stop, on any rank; None when none did (a
        collective under DDP: every rank calls it at the same points, so all stop at the same step)."""
        signum = self.stop_request.signum or 0
        if self.world_size > 1:
            on = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
            flag = torch.tensor([signum], dtype=torch.int64, device=on)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            signum = int(flag.item())
        return signal.Signals(signum).name if signum else None

    def _stop_within(self, why: str, epoch: int, batch: int, sums: Dict[str, Any]) -> None:
        """Write checkpoints/interrupted.pt (rank 0): the state after ``batch`` of ``epoch`` (an
        optimizer step's boundary) with every rank's running sums; then end the run (every rank)."""
        rng = self._gather_rng()  # collectives: every rank calls them
        every = self._gather(sums)
        path = ckpt.mid_epoch_path(self.exp_dir)
        message = (f"stopped by {why} in epoch {epoch} after batch {batch} of {self.sampler.per_rank} (step "
                   f"{self.state.step}): its state is in {path}; the same command run again continues from there")
        if self.is_main:
            self.wait_checkpoint()  # (the epoch before's, which this one follows)
            state = self._state(rng, f"epoch {epoch} batch {batch}")
            state["mid_epoch"] = {"epoch": epoch, "batch": batch, "ranks": every}
            state["sampler"] = {**state["sampler"], "start": batch}  # (the sampler's own counts the epoch's start)
            self.before_checkpoint()
            ckpt.save_checkpoint(path, state)  # atomically: a second signal or a kill leaves the last one whole
            log.warning("%s", message)
        raise TrainingStopped(message)

    def _stop_between(self, why: str) -> None:
        """End the run at an epoch's start (every rank): nothing new to save."""
        self.wait_checkpoint()
        if self._mid is not None:
            where = (f"before training on from batch {self._mid['batch']} of epoch {self._mid['epoch']}: its state "
                     f"stays in {ckpt.mid_epoch_path(self.exp_dir)}")
        elif self.state.epoch:
            where = (f"after epoch {self.state.epoch}: its state is in "
                     f"{ckpt.checkpoint_path(self.exp_dir, self.state.epoch)}")
        else:
            # (not "nothing written": asrkit-train keeps this run's row in log/train_runs.tsv, its time
            # counted by the next run of this training)
            where = "before its first batch: nothing was trained, no checkpoint written"
        again = "continues from there" if self.state.epoch or self._mid is not None else "starts it"
        message = f"stopped by {why} {where}; the same command run again {again}"
        if self.is_main:
            log.warning("%s", message)
        raise TrainingStopped(message)

    def wait_checkpoint(self) -> None:
        """Block until the checkpoint being written in the background is on disk (re-raising its error)."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.join()

    def check_checkpoint(self) -> None:
        """Raise at once the error of a background checkpoint write that failed (a full disk:
        ``exp/checkpoints/epoch3.pt: no space left on device``), rather than one epoch later."""
        if self._writer is not None and self._writer.failed:
            self.wait_checkpoint()

    # ------------------------------------------------------------------ one batch
    def forward_backward(self, batch: Any, scale: float = 1.0, sync: bool = True) -> StepOutput:
        """Loss of one batch and its gradients added to ``.grad`` (DDP-averaged when ``sync``)."""
        ctx = self.model.no_sync() if (self.world_size > 1 and not sync) else contextlib.nullcontext()
        with ctx:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp):
                out = self.task.forward(self.model, batch, self.device)
            (out.loss * scale).backward()
        return out

    def _optimizer_step(self) -> Optional[float]:
        """The update from the accumulated gradients; None when it was made, else the gradient
        norm that was not finite (the update is skipped)."""
        clip = self.optim.grad_clip
        params = [p for p in self.model.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, clip if clip > 0 else float("inf"))
        bad = None if bool(torch.isfinite(norm)) else float(norm)
        if bad is None:
            self.optimizer.step()
            self.scheduler.step()
            self.state.step += 1
        self.optimizer.zero_grad(set_to_none=True)
        return bad

    def _skipped_update(self, where: str, what: str, batch: Any) -> None:
        """One more update skipped for a non-finite value; at training.max_bad_steps in a row, an error
        naming the items of those batches."""
        self._bad_steps += 1
        ids = self.task.item_ids(batch)
        self._bad_step_ids += [i for i in ids if i not in self._bad_step_ids]
        limit = self.loop.max_bad_steps
        log.warning("%s: %s, update skipped (%d in a row; training stops at training.max_bad_steps=%d); "
                    "batch of %s%s", where, what, self._bad_steps, limit, self.task.describe(batch),
                    f": {' '.join(ids)}" if ids else "")
        if self._bad_steps >= limit:
            named = f"; their {self.task.items}: {_few(self._bad_step_ids)}" if self._bad_step_ids else ""
            raise AsrkitError(
                f"{where}: {self._bad_steps} updates in a row skipped for a non-finite loss or gradient norm "
                f"(training.max_bad_steps={limit}; the last: {what}{named}): the "
                f"model diverged (lower optim.lr, keep optim.grad_clip on) or the data holds extreme values; "
                f"stopped without writing this epoch")

    def _good_update(self) -> None:
        self._bad_steps = 0
        self._bad_step_ids = []

    def _skip_bad_items(self, epoch: int, bad: List[Tuple[str, str]], tally: BadItems, total: int) -> None:
        """Count the items a batch could not use; fail as soon as this rank's alone break Kaldi's 5 %
        rule for the ``total`` items of all ranks (the other ranks' are added up at the epoch's end)."""
        for name, why in bad:
            tally.skip(name, why, logged=name in self._reported)  # named once a run, counted every epoch
            self._reported.add(name)
        message = tally.past_the_rule(total)
        if message is not None:
            raise AsrkitError(f"epoch {epoch}: {message}")

    # ------------------------------------------------------------------ epochs
    def train_epoch(self, epoch: int) -> Dict[str, Any]:
        self.model.train()
        # A resume from interrupted.pt continues its epoch after the batches it had trained on.
        mid = self._mid if self._mid is not None and self._mid["epoch"] == epoch else None
        if mid is not None:
            self._mid = None
        first = mid["batch"] if mid is not None else 0
        self.sampler.set_epoch(epoch, first)
        self.task.start_epoch(unwrap(self.model), epoch)
        batches = self.task.train_batches(pin_memory=self.device.type == "cuda")
        accum = self.optim.accum_grad
        k = self.loop.log_interval
        n_batches = self.sampler.per_rank
        units, items = self.task.units, self.task.items
        tot_loss, weight = 0.0, 0
        tot_stats: Dict[str, float] = {}
        stat_weight: Dict[str, float] = {}
        n_items = n_units = skipped = updates = seen = 0
        bad_items = BadItems(log, f"training {items}", failed="were skipped")
        before = 0.0  # training seconds of this epoch in the run that stopped within it
        if mid is not None:
            tot_loss, weight, n_items, n_units = mid["tot_loss"], mid["weight"], mid["n_items"], mid["n_units"]
            tot_stats, stat_weight = dict(mid["tot_stats"]), dict(mid["stat_weight"])
            skipped, updates, seen, before = mid["skipped"], mid["updates"], first, mid["elapsed"]
            bad_items.failed, bad_items.first_error = list(mid["failed"]), mid["first_error"]
            self._bad_steps, self._bad_step_ids = mid["bad_steps"], list(mid["bad_step_ids"])
        # Kaldi's 5 % is of the epoch's items on all ranks: bad utterances that happen to share a
        # rank must not fail a run the same data passes on one process.
        total_items = sum(self._gather(self.sampler.epoch_items(epoch)))
        win_units, win_start = 0, time.perf_counter()
        start = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        loader = iter(batches)
        if mid is not None:
            # After the loader's start, which draws its workers' base seed from torch's generator (as
            # at the epoch's start in the run that stopped): the state after its last batch.
            ckpt.set_rng_state(mid["rng"])
        it = progress(loader, total=n_batches - first, desc=f"epoch {epoch}", unit="batch", disable=not self.is_main)
        for i, batch in enumerate(it, first + 1):
            if i > first + 1 and (i - 1) % accum == 0:
                # An optimizer step's boundary (the batch just read is not trained on): stop here when asked.
                why = self.stop_asked()
                if why is not None:
                    self._stop_within(why, epoch, i - 1, {
                        "tot_loss": tot_loss, "weight": weight, "tot_stats": tot_stats, "stat_weight": stat_weight,
                        "n_items": n_items, "n_units": n_units, "skipped": skipped, "updates": updates,
                        "failed": list(bad_items.failed), "first_error": bad_items.first_error,
                        "elapsed": before + time.perf_counter() - start,
                        "epoch_s": time.perf_counter() - self._epoch_start,
                        "bad_steps": self._bad_steps, "bad_step_ids": list(self._bad_step_ids)})
            seen = self._batch = i
            self.check_checkpoint()
            last = i % accum == 0 or i == n_batches
            batch, bad = self.task.split_bad(batch)
            if bad:
                self._skip_bad_items(epoch, bad, bad_items, total_items)
            stand_in = batch is None and self.world_size > 1
            if batch is None and not stand_in:
                self.optimizer.zero_grad(set_to_none=True)
                skipped += 1
                continue
            if stand_in:
                # Skipping here would leave the other ranks waiting in this batch's all-reduce: take
                # part with an earlier batch at weight 0 (its gradients are zeros), learn nothing of it.
                if self._stand_in is None:
                    self._stand_in = self.task.spare_batch()
                    if self._stand_in is not None:
                        log.warning("rank %d, epoch %d batch %d: no earlier batch on this rank yet; %s stands in",
                                    self.rank, epoch, i, self.task.describe(self._stand_in))
                if self._stand_in is None:
                    raise AsrkitError(f"epoch {epoch} batch {i}: not one of its {len(bad)} {items} can be used "
                                      f"(first: {bad[0][1]}), and under DDP this rank found no usable {items} "
                                      f"to stand in for it in the gradient all-reduce")
                batch = self._stand_in
            try:
                out = self.forward_backward(batch, scale=0.0 if stand_in else 1.0 / accum, sync=last)
            except RuntimeError as e:
                if not _is_oom(e) or self.world_size > 1:
                    raise
                # A batch too big for the GPU costs one batch, not the run.
                log.warning("epoch %d batch %d: out of memory (%s): skipped", epoch, i, self.task.describe(batch))
                self.optimizer.zero_grad(set_to_none=True)
                torch.cuda.empty_cache()
                skipped += 1
                continue
            loss = float(out.loss.detach())
            if not math.isfinite(loss):
                self.optimizer.zero_grad(set_to_none=True)
                skipped += 1
                if not stand_in:
                    self._skipped_update(f"epoch {epoch} batch {i}", f"loss is {loss}", batch)
                continue
            if last:
                norm = self._optimizer_step()
                if norm is None:
                    updates += 1
                    self._good_update()
                else:
                    self._skipped_update(f"epoch {epoch} batch {i} step {self.state.step}",
                                         f"gradient norm is {norm}", batch)
            if stand_in:  # its loss and counts are not this epoch's
                skipped += 1
                continue
            self._stand_in = batch if self.world_size > 1 else None
            stats = {name: float(v) for name, v in out.stats.items()}
            tot_loss += loss * out.weight
            for name, v in stats.items():
                w = float(out.stat_weights.get(name, out.weight))
                tot_stats[name] = tot_stats.get(name, 0.0) + v * w
                stat_weight[name] = stat_weight.get(name, 0.0) + w
            weight += out.weight
            n_items += out.items
            n_units += out.units
            win_units += out.units
            if self.is_main and i % k == 0:
                now = time.perf_counter()
                log.info("epoch %d batch %d/%d step %d: loss %.4f%s lr %.3g %.0f %s/s", epoch, i, n_batches,
                         self.state.step, loss, "".join(f" {name} {v:.4f}" for name, v in stats.items()), self.lr(),
                         win_units * self.world_size / max(now - win_start, 1e-9), units)
                win_units, win_start = 0, now
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed = before + time.perf_counter() - start
        if self.world_size > 1:
            # The epoch's means over every rank's batches: rank 0's row alone (which is the one
            # logged) gave the loss and accuracy of half the data on 2 ranks, another value than
            # one process had for the same model on the same data.
            every = self._gather((tot_loss, weight, tot_stats, stat_weight))
            tot_loss, weight = sum(e[0] for e in every), sum(e[1] for e in every)
            tot_stats, stat_weight = _sum_per_key(e[2] for e in every), _sum_per_key(e[3] for e in every)
        if self.world_size > 1:  # every rank gets the whole epoch's tally, and so the same verdict
            every = self._gather((bad_items.failed, bad_items.first_error))
            bad_items.failed = [name for names, _ in every for name in names]
            bad_items.first_error = next((first for _, first in every if first), None)
            message = bad_items.past_the_rule(total_items)
            if message is not None:
                raise AsrkitError(f"epoch {epoch}: {message} (on {self.world_size} ranks)")
        if bad_items.failed and self.is_main:
            log.warning("epoch %d: %d of %d training %s skipped: %s", epoch, len(bad_items.failed), total_items,
                        items, bad_items.named())
        if updates == 0:
            # Nothing learnt: a checkpoint, a curve row or a model.pt of this epoch would pass an
            # untrained model off as a trained one.
            raise AsrkitError(f"epoch {epoch}: no update was made: all {seen} batches were skipped "
                              f"(non-finite loss or gradients, unusable {items} or out of memory: see the warnings "
                              f"above); stopped without writing this epoch")
        return {
            "train_loss": tot_loss / max(weight, 1),
            **{f"train_{name}": v / max(stat_weight[name], 1) for name, v in tot_stats.items()},
            f"train_{units}_per_s": n_units * self.world_size / elapsed,
            f"train_{items}_per_s": n_items * self.world_size / elapsed, "train_time_s": elapsed,
            "skipped_batches": skipped, f"skipped_{items}": len(bad_items.failed),
        }

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @torch.no_grad()
    def validate(self, epoch: int) -> Dict[str, Any]:
        """The task's validation of the model after ``epoch`` (rank 0 only), with its time."""
        start = time.perf_counter()
        model = unwrap(self.model)
        model.eval()
        result = self.task.validate(model, epoch, self.device, self.amp)
        if result:
            result["valid_time_s"] = time.perf_counter() - start
        return result

    def write_curves(self, history: Optional[List[Dict[str, Any]]] = None) -> None:
        """log/curves.csv: a row for each epoch of ``history`` (default: the run's so far)."""
        fields = self.task.curve_fields
        with atomic_open(self.exp_dir / "log" / "curves.csv", "w") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            for row in self.state.history if history is None else history:
                w.writerow({k: _csv_value(row.get(k)) for k in fields})

    def _improved(self) -> bool:
        """Whether the last epoch is strictly better than every earlier one (a tie is no progress)."""
        metric = self.loop.best_metric
        values = [r[metric] for r in self.state.history if r.get(metric) is not None]
        if values and math.isnan(values[-1]):
            return False
        # (A NaN of an earlier epoch is no best to beat: min([nan, 3.0]) is nan, and nothing is
        # below it, so every later epoch counted as no progress and early stopping ended the run.)
        before = [v for v in values[:-1] if not math.isnan(v)]
        if not before:
            return True
        best_before = ckpt.METRICS[metric](before)
        return values[-1] < best_before if ckpt.METRICS[metric] is min else values[-1] > best_before

    def _broadcast(self, obj: Any) -> Any:
        if self.world_size == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def finished(self) -> bool:
        return self.state.stopped_early or self.state.epoch >= self.loop.max_epochs

    def check_memory(self) -> None:
        """Run the task's largest batch once before training (CUDA only), so running out of memory
        shows at once: the gradients are thrown away; a batch that does not fit is an error asking
        for smaller batches rather than a run that skips batches all along."""
        if self.device.type != "cuda" or not self.loop.oom_check:
            return
        batch = self.task.largest_batch()
        if batch is None:
            return
        self.model.train()
        try:
            self.forward_backward(batch)
        except RuntimeError as e:
            if not _is_oom(e):
                raise
            raise AsrkitError(f"the largest batch ({self.task.describe(batch)}) does not fit in GPU memory: "
                              f"{self.task.smaller_batches}") from None
        finally:
            self.optimizer.zero_grad(set_to_none=True)
        log.info("largest batch (%s, %.1f GiB peak) fits in GPU memory", self.task.describe(batch),
                 torch.cuda.max_memory_allocated(self.device) / 2**30)

    def run(self) -> None:
        """Train until max_epochs or early stopping, one checkpoint per epoch."""
        t = self.loop
        if self.is_main and not self.finished():
            ckpt.check_writable(self.exp_dir)
        if self.state.epoch == 0 and not self.finished():
            self.check_memory()
        while not self.finished():
            why = self.stop_asked()  # (before the first epoch, and after each one's checkpoint)
            if why is not None:
                self._stop_between(why)
            # Rank 0's clock decides for every rank (the history is the same on all), so all stop
            # at the same epoch and set the same learning rate under optim.decay_over: budget.
            used = self._broadcast(self.time_used())
            if self.budget_clock is not None:
                self.budget_clock.anchor(used, self.state.step, next_epoch_estimate(self.state.history),
                                         self._steps_per_epoch)
            if not next_epoch_fits(self.state.history, used, t.max_time):
                self.out_of_time = True
                if self.is_main:
                    log.info("time budget: %.0f s of training.max_time=%.0f s used, and the last epoch took "
                             "longer than what is left: stopping after epoch %d of %d (a re-run with a larger "
                             "training.max_time continues)", self.time_used(), t.max_time, self.state.epoch,
                             t.max_epochs)
                break
            epoch = self.state.epoch + 1
            # (an epoch continued from interrupted.pt: its time in the run that stopped within it counted)
            epoch_start = self._epoch_start = time.perf_counter() - (
                self._mid["epoch_s"] if self._mid is not None and self._mid["epoch"] == epoch else 0.0)
            row: Dict[str, Any] = {"epoch": epoch}
            self._batch = 0
            try:
                row.update(self.train_epoch(epoch))
            except RuntimeError as e:
                died = _worker_death(e, f"epoch {epoch}, " + (f"after batch {self._batch}" if self._batch
                                                               else "before its first batch"))
                if died is None:
                    raise
                raise died from None
            row.update(self.task.train_metrics(row))
            row.update({"step": self.state.step, "lr": self.lr()})
            if self.is_main:
                try:
                    row.update(self.validate(epoch))
                except RuntimeError as e:
                    if _is_oom(e):  # (a traceback through the model's code; no batch is skipped here)
                        first = str(e).strip().splitlines()[0][:200]
                        raise AsrkitError(f"epoch {epoch}, validation: out of memory ({first}): "
                                          f"{self.task.smaller_batches}; the checkpoints of the finished epochs "
                                          f"are kept, and a rerun resumes from the last") from None
                    died = _worker_death(e, f"epoch {epoch}, validation")
                    if died is None:
                        raise
                    raise died from None
                row["epoch_time_s"] = time.perf_counter() - epoch_start
            row = self._broadcast(row)
            self.state.epoch = epoch
            self.state.history.append(row)
            improved = self._improved()
            self.state.bad_epochs = 0 if improved else self.state.bad_epochs + 1
            if t.patience and self.state.bad_epochs >= t.patience:
                self.state.stopped_early = True
            self.sampler.set_epoch(epoch + 1)
            if self.is_main:
                best = improved and row.get(t.best_metric) is not None
                log.info("%s%s", self.task.epoch_line(row), " (best)" if best else "")
                last = epoch if self.state.stopped_early else t.max_epochs
                log.info("%s", projection(self.state.history, last, self.time_used(), t.max_time))
            self.save_checkpoint()
            if self.state.stopped_early and self.is_main:
                log.info("early stopping: %s has not improved for %d epochs", t.best_metric, t.patience)
        self.wait_checkpoint()
        self._refuse_diverged()

    def _refuse_diverged(self) -> None:
        """An error when no epoch's best_metric is finite: a learning rate that blows the weights up
        to huge but finite values (no NaN for _check_finite to find) gave a dev loss of inf every
        epoch, and that diverged model was packed as the best epoch at exit 0 (asrkit-train's
        optim.lr 3e37; asrkit-train-lm's --lr 3e37, "best dev perplexity nan")."""
        metric = self.loop.best_metric
        rows = [r for r in self.state.history if r.get(metric) is not None]
        if not rows or any(math.isfinite(float(r[metric])) for r in rows):
            return
        shown = ", ".join(f"epoch {r['epoch']}: {float(r[metric]):g}" for r in rows[:3]) + (", ..." if len(rows) > 3 else "")
        # (Its checkpoints hold the diverged weights, which a rerun would resume from: said, not deleted.)
        raise AsrkitError(f"no epoch has a finite {metric} ({shown}): the training diverged; nothing packed. Lower the "
                          f"learning rate and train again in a new exp dir (or remove {self.exp_dir}/checkpoints: a "
                          f"rerun resumes from their diverged weights)")
