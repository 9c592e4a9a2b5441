"""Per-epoch checkpoints: written atomically, read safely, found again for a resume, pruned to the N best.

``exp/<name>/checkpoints/epoch<N>.pt`` holds everything a resumed run needs to continue as if
it had never stopped: model, optimizer, scheduler, sampler position, every RNG state (python,
numpy, torch, CUDA), the trainer's history, and the packed model's meta (configs, CMVN,
tokenizer), so that packing the best epoch and ``asrkit-average`` work from checkpoints alone.

Like model.pt, a checkpoint holds only tensors, plain containers, numbers, strings and bytes:
the python and numpy RNG states are stored as tensors and numbers, not as pickled objects, and
every checkpoint is read with ``torch.load(weights_only=True)``. A checkpoint holding anything
else (an object whose unpickling would run code) is refused with an error naming the file.
A resume takes the newest checkpoint that can be read, warning about any newer one that cannot.
"""
from __future__ import annotations

import math
import os
import random
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from asrkit.models.lm import FORMAT as LM_FORMAT
from asrkit.models.lm import LMConfig, save_lm
from asrkit.models.package import FORMAT as PACKAGE_FORMAT
from asrkit.models.package import PackageMeta, save_package
from asrkit.training.stop_signal import MID_EPOCH_NAME
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger
from asrkit.utils.torch_files import load_weights_only, other_content, save_torch, special_file_kind

log = get_logger(__name__)

# The names checkpoint_path writes, and only those: with \d+, epoch021.pt and epoch21.pt were both
# epoch 21 (which one a resume or asrkit-average took depended on the directory order), and
# epoch\u0663.pt (an Arabic-Indic 3, which \d and int() take) was epoch 3. \Z, not $: $ also
# matches before a last newline, and 'epoch1.pt\n' was epoch 1. asr.sh's has_epoch_checkpoint
# tells "has checkpoints" by this same rule.
_NAME = re.compile(r"^epoch(0|[1-9][0-9]*)\.pt\Z")


def checkpoint_name(name: str) -> bool:
    """Whether ``name`` is a checkpoint's file name (``epoch<N>.pt``)."""
    return _NAME.match(name) is not None


def refuse_checkpoints_folder(exp_dir: Path) -> None:
    """AsrkitError when ``exp_dir`` is itself a checkpoints folder (it holds epoch<N>.pt files, no
    checkpoints/): given exp/las/checkpoints, asrkit-average looked in checkpoints/checkpoints and
    found nothing, and a training started afresh in a folder nested in its own run's."""
    exp_dir = Path(exp_dir)
    try:
        if (exp_dir / "checkpoints").exists() or not exp_dir.is_dir():
            return
        names = [p.name for p in exp_dir.iterdir()]
    except OSError:
        return  # (unreadable: the exp dir's lock or listing names it, in the command's own words)
    if any(checkpoint_name(name) for name in names):
        parent = exp_dir.parent if exp_dir.name else exp_dir.resolve().parent  # (".": "..")
        raise AsrkitError(f"{exp_dir}: holds the checkpoints themselves; give the exp dir they are in ({parent})")


def checkpoint_path(exp_dir: Path, epoch: int) -> Path:
    return Path(exp_dir) / "checkpoints" / f"epoch{epoch}.pt"


def mid_epoch_path(exp_dir: Path) -> Path:
    """Where a training stopped on request within an epoch leaves its state (asrkit.training.stop_signal):
    not an ``epoch<N>.pt``, so that listing, pruning, averaging and packing never take it, nor a
    user's ``epoch*.pt`` pattern."""
    return Path(exp_dir) / "checkpoints" / MID_EPOCH_NAME


def has_checkpoints(exp_dir: Path) -> bool:
    """Whether a run on ``exp_dir`` resumes (an epoch's checkpoint, or a mid-epoch one) rather than
    starts afresh; needed by asrkit-train's --init (not read then, nor checked by the command) and
    its runs table. A dangling link at the mid-epoch name is none: the run passes it over and
    starts from the start, and with --init not read it trained from random weights."""
    return bool(list_checkpoints(exp_dir)) or mid_epoch_path(exp_dir).exists()


def list_checkpoints(exp_dir: Path) -> Dict[int, Path]:
    """Epoch -> path of every checkpoint in the exp dir, by epoch."""
    d = Path(exp_dir) / "checkpoints"
    if not d.is_dir():
        if d.exists() or d.is_symlink():
            # Not "no checkpoints": a fresh run would train its first epoch and only then fail to
            # write it, and asrkit-average would look in the wrong place.
            raise AsrkitError(f"{d}: not a directory (where the exp dir's checkpoints go); move it away")
        return {}
    found = {}
    for p in d.iterdir():
        m = _NAME.match(p.name)
        if m:
            found[int(m.group(1))] = p
    return dict(sorted(found.items()))


def check_writable(exp_dir: Path) -> None:
    """AsrkitError unless a file can be made in the exp dir's checkpoints/, when it exists: a
    read-only one (checkpoints copied from another machine, a chmod) failed only when the first
    epoch's checkpoint was written, after that epoch had been trained in vain. (One that does not
    exist yet is made in the exp dir, whose lock the run has already written.)"""
    import os
    import tempfile

    d = Path(exp_dir) / "checkpoints"
    if not d.is_dir():
        return
    try:
        fd, probe = tempfile.mkstemp(prefix=".write_test.", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        why = e.strerror or str(e)
        raise AsrkitError(f"{d}: cannot write this run's checkpoints there ({why[:1].lower()}{why[1:]})") from None


FORMAT = "asrkit-checkpoint"
# 2: RNG states as tensors (version 1 pickled python/numpy objects and could not be read safely).
VERSION = 2


def save_checkpoint(path: Path, state: Dict[str, Any]) -> None:
    """Write ``state`` (without format/version, which are added here) atomically."""
    save_torch({"format": FORMAT, "version": VERSION, **state}, path)


def load_checkpoint(path: Path) -> Dict[str, Any]:
    """A checkpoint's dict, read with weights_only=True; AsrkitError naming the file otherwise."""
    return checkpoint_dict(load_weights_only(path, "asrkit checkpoint"), path)


def checkpoint_dict(state: Any, path: Path) -> Dict[str, Any]:
    """:func:`load_checkpoint`'s checks of what was read from ``path`` (a caller that has read the
    file already, to tell a checkpoint from a model, need not read it again)."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        if isinstance(state, dict) and state.get("format") in ("asrkit-model", "asrkit-lm"):
            # (a model.pt copied in as epochN.pt, or given to asrkit-average: "no format: 'asrkit-checkpoint'
            # entry", for a file whose format entry is plain to see)
            packed = ("model (asrkit-train's model.pt, or asrkit-average's output)" if state["format"] == "asrkit-model"
                      else "LM (asrkit-train-lm's lm.pt)")
            raise AsrkitError(f"{path}: a packed {packed}, not a training checkpoint: checkpoints are the exp dir's "
                              f"checkpoints/epoch<N>.pt")
        raise AsrkitError(f"{path}: not an asrkit training checkpoint ({other_content(state, FORMAT)})")
    version = state.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version != VERSION:
        raise AsrkitError(f"{path}: checkpoint format version {version!r}, this asrkit reads {VERSION}")
    missing = [k for k in ("model", "optimizer", "scheduler", "sampler", "rng", "train_state", "config",
                           "package_format", "package") if k not in state]
    if missing:
        raise AsrkitError(f"{path}: damaged asrkit checkpoint, missing {', '.join(missing)}")
    _check_contents(state, path)
    return state


# TrainState's fields (asrkit.training.trainer, which imports this module).
TRAIN_STATE_KEYS = ("epoch", "step", "history", "bad_epochs", "stopped_early")


def _check_contents(state: Dict[str, Any], path: Path) -> None:
    """The types every reader of a checkpoint indexes into (resume, asrkit-average, packing, --init):
    a damaged or foreign entry is one error naming the file, not a TypeError deep in one of them."""
    def bad(what: str) -> AsrkitError:
        return AsrkitError(f"{path}: damaged asrkit checkpoint: {what}")

    weights = state["model"]
    if not isinstance(weights, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in weights.items()):
        raise bad("model is not a mapping of names to tensors")
    for key in ("optimizer", "scheduler", "sampler", "config", "package"):
        if not isinstance(state[key], dict):
            raise bad(f"{key} is a {type(state[key]).__name__}, expected a mapping")
    train_state = state["train_state"]
    if not isinstance(train_state, dict) or set(train_state) - set(TRAIN_STATE_KEYS):
        raise bad(f"train_state is not the trainer's state (a mapping of {', '.join(TRAIN_STATE_KEYS)})")
    history = train_state.get("history", [])
    if not isinstance(history, list) or not all(
            isinstance(row, dict) and _is_int(row.get("epoch"))
            and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in row.values())
            for row in history):
        raise bad("train_state.history is not a list of per-epoch rows of numbers")
    rng = state["rng"]
    if not (isinstance(rng, dict) or (isinstance(rng, list) and rng and all(isinstance(r, dict) for r in rng))):
        raise bad(f"rng is a {type(rng).__name__}, expected a mapping (or one per rank)")
    # The name is the epoch a resume continues after and asrkit-average ranks by: another run's
    # epoch1.pt copied in as epoch3.pt was resumed as "epoch 1 done", and the run wrote its
    # epoch 2 over this run's own epoch2.pt without a word.
    named = _NAME.match(Path(path).name)
    epoch = train_state.get("epoch")
    if named and not _is_int(epoch):
        # (TrainState's default, 0, was taken: "resumed ...: epoch 0 done", and the trained weights
        # trained again from epoch 1, written over this checkpoint)
        raise bad(f"train_state holds no epoch count (its epoch is {epoch!r})")
    if named and epoch != int(named.group(1)):
        raise bad(f"it holds the state after epoch {epoch}, not after epoch {named.group(1)} as its name says "
                  f"(a checkpoint of another run, or renamed)")
    mid = state.get("mid_epoch")
    if mid is not None:
        # (a stopped run's interrupted.pt renamed epoch<N>.pt would be ranked, averaged and packed as
        # a finished epoch)
        if named:
            raise bad(f"it holds a state within epoch {mid.get('epoch') if isinstance(mid, dict) else '?'}, "
                      f"not at an epoch's end ({MID_EPOCH_NAME} renamed?)")
        if not (isinstance(mid, dict) and _is_int(mid.get("batch")) and mid["batch"] >= 0
                and mid.get("epoch") == (epoch if _is_int(epoch) else 0) + 1 and isinstance(mid.get("ranks"), list)
                and mid["ranks"] and all(isinstance(r, dict) for r in mid["ranks"])):
            raise bad("mid_epoch is not a position within the epoch after train_state's")


def epoch_rows(state: Dict[str, Any]) -> List[Dict[str, Any]]:
    """A checkpoint's per-epoch rows; none when its train_state has no history (TrainState's
    default, which _check_contents lets pass: indexing it was a KeyError traceback)."""
    return state["train_state"].get("history", [])


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def rng_state() -> Dict[str, Any]:
    """Every RNG's state as tensors and numbers (nothing that needs unpickling to read back)."""
    version, mt, gauss_next = random.getstate()
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64), "gauss_next": gauss_next},
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "cached_gaussian": float(cached_gaussian)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    py, npy = state["python"], state["numpy"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss_next"]))
    np.random.set_state(("MT19937", npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:  # another number of GPUs than when saved: the current device's own state
            torch.cuda.set_rng_state(cuda[min(torch.cuda.current_device(), len(cuda) - 1)])


# Which of two values of a metric is better; an unknown metric counts as lower-is-better.
METRICS = {"valid_loss": min, "valid_acc": max, "valid_cer": min, "valid_ppl": min, "train_ppl": min}


def rank_epochs(history: List[Dict[str, Any]], metric: str) -> List[int]:
    """Epochs ordered best first by ``metric`` (see METRICS); ties: earlier first."""
    sign = -1.0 if METRICS.get(metric) is max else 1.0
    rows = [r for r in history if r.get(metric) is not None]

    def key(r):
        # NaN (a dev loss of a diverging epoch) compares false with everything, and sorted() then
        # ranked losses 3.0, nan, 1.0, 2.0 as epochs 1, 2, 3, 4: the worst epoch kept as best, the
        # best one pruned, and asrkit-average averaging the wrong ones. It ranks last instead.
        value = sign * float(r[metric])
        return (math.isnan(value), value, int(r["epoch"]))

    return [int(r["epoch"]) for r in sorted(rows, key=key)]


def prune_checkpoints(exp_dir: Path, history: List[Dict[str, Any]], metric: str, keep: int) -> List[int]:
    """Delete checkpoints that are neither among the ``keep`` best nor the last; returns the kept epochs."""
    found = list_checkpoints(exp_dir)
    if not found:
        return []
    best = [e for e in rank_epochs(history, metric) if e in found][:keep]
    kept = set(best) | {max(found)}
    for epoch, path in found.items():
        if epoch not in kept:
            path.unlink()
    return sorted(kept)


def latest_readable_checkpoint(exp_dir: Path) -> Optional[Tuple[Path, Dict[str, Any]]]:
    """(path, state) of the newest checkpoint that reads, None when there is none at all.

    A newer one that does not read (truncated by a full disk, damaged, hostile) is skipped with a
    warning naming it; it is overwritten when its epoch is trained again. When checkpoints exist
    but none reads, that is an error: starting again from scratch would silently throw a run away.
    """
    found = list_checkpoints(exp_dir)
    errors = []
    for epoch in sorted(found, reverse=True):
        kind = "a directory" if found[epoch].is_dir() else special_file_kind(found[epoch])
        if kind is not None:
            # Not skipped as a damaged one is: this run would train the epoch again only to find it
            # cannot write it there (a named pipe: it waited for a reader forever).
            raise AsrkitError(f"{found[epoch]}: {kind} under a checkpoint's name, where this run would write epoch "
                              f"{epoch}'s checkpoint; move it away")
        try:
            state = load_checkpoint(found[epoch])
        except AsrkitError as e:
            errors.append(str(e))
            log.warning("%s: skipped, resuming from an earlier checkpoint", e)
            continue
        return found[epoch], state
    if errors:
        raise AsrkitError(f"{Path(exp_dir) / 'checkpoints'}: none of the {len(errors)} checkpoint(s) can be read "
                          f"(newest: {errors[0]}); move them away to start again")
    return None


# ---------------------------------------------------------------------- packing the best epoch
def package_meta(state: Dict[str, Any], path: Path) -> PackageMeta:
    """The packed model's meta an asrkit-train checkpoint carries (PackageMeta.to_dict() as written)."""
    if state.get("package_format") != PACKAGE_FORMAT:
        raise AsrkitError(f"{path}: not a checkpoint of an acoustic model (asrkit-train) but of "
                          f"{state.get('package_format')!r}")
    return PackageMeta.from_dict(state["package"], str(path))


def _pack_model(out: Path, state: Dict[str, Any], path: Path, extra: Dict[str, Any]) -> None:
    meta = package_meta(state, path)
    save_package(out, state["model"], meta.replace(extra={**meta.extra, **extra}))  # training's facts kept


def _pack_lm(out: Path, state: Dict[str, Any], path: Path, extra: Dict[str, Any]) -> None:
    meta = state["package"]
    try:
        config = LMConfig.from_dict(meta["config"], f"{path}: package: config")
        tokens = list(meta["tokens"])
    except (KeyError, TypeError) as e:
        raise AsrkitError(f"{path}: damaged asrkit checkpoint: package lacks {e}") from None
    save_lm(out, state["model"], config, tokens, extra=extra)


# The package a checkpoint's package_format names -> how to write it from the checkpoint.
PACKERS = {PACKAGE_FORMAT: _pack_model, LM_FORMAT: _pack_lm}


def pack_best(exp: Path, metric: str, out: Path) -> Path:
    """Write ``out`` (model.pt, lm.pt) from the best checkpoint by ``metric`` (the last one if none has it).

    The weights and the meta come from the checkpoint as written; no model is built.
    """
    found = list_checkpoints(exp)
    if not found:
        raise AsrkitError(f"{exp}/checkpoints: no checkpoint to pack")
    last = load_checkpoint(found[max(found)])
    ranked = [e for e in rank_epochs(epoch_rows(last), metric) if e in found]
    best_epoch = ranked[0] if ranked else max(found)
    state = last if best_epoch == max(found) else load_checkpoint(found[best_epoch])
    row = next((r for r in epoch_rows(last) if r["epoch"] == best_epoch), {})
    packer = PACKERS.get(state.get("package_format"))
    if packer is None:
        raise AsrkitError(f"{found[best_epoch]}: unknown package_format {state.get('package_format')!r}")
    packer(Path(out), state, found[best_epoch], {"epochs": [best_epoch], "metric": metric, "metrics": row})
    if row.get(metric) is None:  # (was "best epoch 2 by valid_loss (None)")
        log.info("%s: the last epoch, %d (no epoch has a %s: trained without a dev set)", Path(out).name, best_epoch,
                 metric)
    else:
        log.info("best epoch %d by %s (%s)", best_epoch, metric, row.get(metric))
    return Path(out)
