"""Average the weights of the N best checkpoints of an exp dir into a packed model.

Averaging the last or best few epochs' weights (as ESPnet's ``average_checkpoints.py`` does)
usually gives a model a little better than any single one of them. Floating-point tensors are
averaged in float64; integer buffers (e.g. counters) are taken from the best checkpoint.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch

from asrkit.models.package import save_package
from asrkit.training import checkpoint as ckpt
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger

log = get_logger(__name__)


def best_epochs(exp_dir: Path, num: int, metric: Optional[str] = None) -> Tuple[List[int], str]:
    """The ``num`` best epochs that still have a checkpoint, best first, and the metric used."""
    found = ckpt.list_checkpoints(exp_dir)
    if not found:
        raise AsrkitError(f"{Path(exp_dir) / 'checkpoints'}: no checkpoints (epoch<N>.pt) to average")
    last = ckpt.load_checkpoint(found[max(found)])
    metric = metric or last["config"]["training"]["best_metric"]
    ranked = [e for e in ckpt.rank_epochs(last["train_state"]["history"], metric) if e in found]
    if not ranked:  # no validation metric recorded: the latest epochs
        log.warning("no %s recorded in %s: averaging the latest checkpoints", metric, found[max(found)])
        ranked = sorted(found, reverse=True)
    if len(ranked) < num:
        log.warning("%d checkpoint(s) asked for, %d available (training.keep_best limits how many are kept): "
                    "averaging %d", num, len(ranked), len(ranked))
    return ranked[:num], metric


def average_state_dicts(states: List[Dict[str, torch.Tensor]]) -> Dict[str, torch.Tensor]:
    keys = list(states[0])
    for i, s in enumerate(states[1:], 1):
        if list(s) != keys:
            raise AsrkitError(f"checkpoint {i} has other parameters than the first: not the same model")
    out = {}
    for k in keys:
        first = states[0][k]
        if first.is_floating_point():
            acc = torch.zeros_like(first, dtype=torch.float64)
            for s in states:
                acc += s[k].to(torch.float64)
            out[k] = (acc / len(states)).to(first.dtype)
        else:
            out[k] = first.clone()
    return out


def average_checkpoints(exp_dir: Path, num: int, out: Optional[Path] = None, metric: Optional[str] = None) -> Path:
    """Write ``exp_dir/model.avg.pt`` (or ``out``) from the ``num`` best checkpoints; returns its path."""
    if num < 1:
        raise AsrkitError(f"--num {num}: must be at least 1")
    exp_dir = Path(exp_dir)
    epochs, metric = best_epochs(exp_dir, num, metric)
    found = ckpt.list_checkpoints(exp_dir)
    states = []
    meta = None
    for e in epochs:
        state = ckpt.load_checkpoint(found[e])
        states.append(state["model"])
        meta = meta or ckpt.package_meta(state, found[e])
    out = Path(out) if out else exp_dir / "model.avg.pt"
    save_package(out, average_state_dicts(states), meta.replace(extra={"epochs": epochs, "metric": metric,
                                                                        "averaged": True}))
    log.info("Done averaging %d checkpoint(s) (epochs %s, best by %s) into %s", len(epochs),
             " ".join(map(str, epochs)), metric, out)
    return out
