"""Per-epoch checkpoints: written atomically, found again for a resume, pruned to the N best.

``exp/<name>/checkpoints/epoch<N>.pt`` holds everything a resumed run needs to continue as if
it had never stopped: model, optimizer, scheduler, sampler position, every RNG state (python,
numpy, torch, CUDA), the trainer's history, and what the packed model needs (configs, CMVN,
tokenizer) so that ``asrkit-average`` can work from the checkpoints alone.
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from asrkit.models.package import PackageMeta, save_package
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import atomic_open
from asrkit.utils.logging import get_logger

log = get_logger(__name__)

_NAME = re.compile(r"^epoch(\d+)\.pt$")


def checkpoint_path(exp_dir: Path, epoch: int) -> Path:
    return Path(exp_dir) / "checkpoints" / f"epoch{epoch}.pt"


def list_checkpoints(exp_dir: Path) -> Dict[int, Path]:
    """Epoch -> path of every checkpoint in the exp dir, by epoch."""
    d = Path(exp_dir) / "checkpoints"
    if not d.is_dir():
        return {}
    found = {}
    for p in d.iterdir():
        m = _NAME.match(p.name)
        if m:
            found[int(m.group(1))] = p
    return dict(sorted(found.items()))


def save_checkpoint(path: Path, state: Dict[str, Any]) -> None:
    with atomic_open(path, "wb") as f:
        torch.save(state, f)


def load_checkpoint(path: Path, map_location: Any = "cpu") -> Dict[str, Any]:
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except FileNotFoundError:
        raise AsrkitError(f"{path}: no such file") from None
    except Exception as e:
        raise AsrkitError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or state.get("format") != "asrkit-checkpoint":
        raise AsrkitError(f"{path}: not an asrkit training checkpoint")
    return state


def rng_state() -> Dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:  # another number of GPUs than when saved: the current device's own state
            torch.cuda.set_rng_state(cuda[min(torch.cuda.current_device(), len(cuda) - 1)])


def rank_epochs(history: List[Dict[str, Any]], metric: str) -> List[int]:
    """Epochs ordered best first by ``metric`` (lower is better, except accuracy); ties: earlier first."""
    sign = -1.0 if metric == "valid_acc" else 1.0
    rows = [r for r in history if r.get(metric) is not None]
    return [int(r["epoch"]) for r in sorted(rows, key=lambda r: (sign * float(r[metric]), int(r["epoch"])))]


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


def latest_checkpoint(exp_dir: Path) -> Optional[Path]:
    found = list_checkpoints(exp_dir)
    return found[max(found)] if found else None


# ---------------------------------------------------------------------- packing into model.pt
def package_meta(state: Dict[str, Any], path: Path) -> PackageMeta:
    """The packed model's meta a checkpoint carries (written by the trainer as PackageMeta.to_dict())."""
    return PackageMeta.from_dict(state["package"], str(path))


def pack_best(exp: Path, metric: str) -> Path:
    """Write ``exp/model.pt`` from the best checkpoint by ``metric`` (the last one if none has it)."""
    found = list_checkpoints(exp)
    if not found:
        raise AsrkitError(f"{exp}/checkpoints: no checkpoint to pack")
    last = load_checkpoint(found[max(found)])
    ranked = [e for e in rank_epochs(last["train_state"]["history"], metric) if e in found]
    best_epoch = ranked[0] if ranked else max(found)
    state = last if best_epoch == max(found) else load_checkpoint(found[best_epoch])
    row = next((r for r in last["train_state"]["history"] if r["epoch"] == best_epoch), {})
    out = Path(exp) / "model.pt"
    meta = package_meta(state, found[best_epoch])
    save_package(out, state["model"], meta.replace(extra={"epochs": [best_epoch], "metric": metric, "metrics": row}))
    log.info("best epoch %d by %s (%s)", best_epoch, metric, row.get(metric))
    return out
