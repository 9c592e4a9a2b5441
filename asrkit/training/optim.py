"""Optimizers (Adam, Adadelta) and learning-rate schedules, by name from the config.

The schedules are multipliers of ``optim.lr`` per optimizer step (``LambdaLR``), so their whole
state is the step count and a resumed run continues the same curve.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Iterable

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


def lr_multiplier(cfg: OptimConfig, total_steps: int) -> Callable[[int], float]:
    """Multiplier of ``cfg.lr`` at optimizer step ``step`` (0-based, as LambdaLR counts)."""
    warmup = max(cfg.warmup_steps, 0)

    def ramp(step: int) -> float:
        return min(1.0, (step + 1) / warmup) if warmup else 1.0

    def none(step: int) -> float:
        return 1.0

    def noam(step: int) -> float:
        # Peak lr at the end of warmup, then lr * sqrt(warmup / step).
        s = step + 1
        return ramp(step) if s <= warmup else math.sqrt(max(warmup, 1) / s)

    def warmup_linear(step: int) -> float:
        if step < warmup:
            return ramp(step)
        span = max(total_steps - warmup, 1)
        frac = min(1.0, (step - warmup) / span)
        return 1.0 - frac * (1.0 - cfg.final_lr_ratio)

    return {"none": none, "warmup": ramp, "noam": noam, "warmup_linear": warmup_linear}[cfg.scheduler]


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: OptimConfig,
                    total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_multiplier(cfg, total_steps))
