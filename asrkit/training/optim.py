"""Optimizers (Adam, Adadelta) and learning-rate schedules, by name from the config.

The schedules are multipliers of ``optim.lr`` per optimizer step (``LambdaLR``), so their whole
state is the step count and a resumed run continues the same curve. The one exception is a
linear decay over the time budget (``optim.decay_over: budget``): its position is the share of
``training.max_time`` used so far, which the trainer keeps over all runs, so a resumed run
continues that curve too, but two runs on machines of different speed decay at different steps.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Iterable, Optional

import torch

from asrkit.training.config import OptimConfig


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: OptimConfig) -> torch.optim.Optimizer:
    params = list(params)
    # On CUDA the fused Adam kernel updates every parameter in a few launches instead of
    # several per tensor; its state_dict is the same, so checkpoints move between the two.
    fused = bool(params) and all(p.is_cuda for p in params)
    builders: Dict[str, Callable[[], torch.optim.Optimizer]] = {
        "adam": lambda: torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps,
                                         weight_decay=cfg.weight_decay, fused=fused or None),
        "adadelta": lambda: torch.optim.Adadelta(params, lr=cfg.lr, rho=cfg.rho, eps=cfg.eps,
                                                 weight_decay=cfg.weight_decay),
    }
    return builders[cfg.name]()


def lr_multiplier(cfg: OptimConfig, total_steps: int,
                  budget_used: Optional[Callable[[int], float]] = None) -> Callable[[int], float]:
    """Multiplier of ``cfg.lr`` at optimizer step ``step`` (0-based, as LambdaLR counts).

    ``budget_used(step)`` gives the share of the time budget spent by that step (0..1);
    ``warmup_linear`` decays over it instead of over ``total_steps`` when ``cfg.decay_over`` is
    ``budget``.
    """
    warmup = max(cfg.warmup_steps, 0)
    if cfg.decay_over == "budget" and budget_used is None:
        raise ValueError("optim.decay_over: budget needs the share of the time budget used")

    def ramp(step: int) -> float:
        return min(1.0, (step + 1) / warmup) if warmup else 1.0

    def none(step: int) -> float:
        return 1.0

    def noam(step: int) -> float:
        # Peak lr at the end of warmup, then lr * sqrt(warmup / step).
        s = step + 1
        return ramp(step) if s <= warmup else math.sqrt(max(warmup, 1) / s)

    def warmup_linear(step: int) -> float:
        if cfg.decay_over == "budget":
            # A budget-stopped run at a constant rate stops while still learning fast (AN4:
            # egs/an4/asr1/RESULTS.md); decaying over the clock lands the low rate where it stops.
            frac = min(1.0, max(0.0, budget_used(step)))
            return min(ramp(step), 1.0 - frac * (1.0 - cfg.final_lr_ratio))
        if step < warmup:
            return ramp(step)
        span = max(total_steps - warmup, 1)
        frac = min(1.0, (step - warmup) / span)
        return 1.0 - frac * (1.0 - cfg.final_lr_ratio)

    return {"none": none, "warmup": ramp, "noam": noam, "warmup_linear": warmup_linear}[cfg.scheduler]


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int,
                    budget_used: Optional[Callable[[int], float]] = None) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_multiplier(cfg, total_steps, budget_used))
