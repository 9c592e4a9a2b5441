"""Optimizers (Adam, Adadelta) and learning-rate schedules, by name from the config.

The schedules are multipliers of ``optim.lr`` per optimizer step (``LRSchedule``), so their whole
state is the step count and a resumed run continues the same curve. The one exception is a
linear decay over the time budget (``optim.decay_over: budget``): its position is the share of
``training.max_time`` used so far, which the trainer keeps over all runs, so a resumed run
continues that curve too, but two runs on machines of different speed decay at different steps.

Why not torch.optim: its optimizers import torch._dynamo when built and at every step (their
``_disable_dynamo`` decorators and the graph breaks around ``step``), though asrkit never
compiles: 2 s and 160 MB in every training process and DDP rank (bench/README.md, the scale
row). The classes here do the same arithmetic as torch.optim's Adam and Adadelta, in the same
order (each tensor on its own on the CPU, as torch does by default there; Adam's fused kernel on
CUDA, as asrkit asked torch for), and read and write the same state_dict, so checkpoints written
by either load in the other (tests/training/test_optim.py holds the two to equal results).
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable, Dict, Iterable, List, Optional

import torch

from asrkit.training.config import OptimConfig


class Optimizer:
    """What the trainer uses of torch.optim.Optimizer: one parameter group, ``step``,
    ``zero_grad`` and torch's state_dict layout (state by parameter index, the group's settings)."""

    state_keys: tuple = ()

    def __init__(self, params: Iterable[torch.nn.Parameter], **settings: Any) -> None:
        params = list(params)
        if any(not isinstance(p, torch.Tensor) for p in params):
            raise TypeError("an optimizer takes tensors")
        self.param_groups: List[Dict[str, Any]] = [{"params": params, **settings}]
        self.state: Dict[torch.Tensor, Dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_().zero_()

    def _new_state(self, p: torch.Tensor) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def _state_of(self, p: torch.Tensor) -> Dict[str, torch.Tensor]:
        if p not in self.state:
            self.state[p] = self._new_state(p)
        return self.state[p]

    def state_dict(self) -> Dict[str, Any]:
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """torch's rules: groups and their sizes must match; state moves to its parameter's
        device and dtype, the step counts staying where the update keeps them."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"the optimizer state has {len(groups)} parameter groups, this optimizer "
                             f"{len(self.param_groups)}")
        for mine, theirs in zip(self.param_groups, groups):
            if len(theirs["params"]) != len(mine["params"]):
                raise ValueError(f"the optimizer state is for {len(theirs['params'])} parameter tensors, "
                                 f"this model trains {len(mine['params'])}")
            for key in mine:
                if key != "params" and not _is_setting(theirs.get(key)):
                    raise ValueError(f"the optimizer state's {key} is {theirs.get(key)!r}, not a finite number")
        saved = state_dict["state"]
        new_state: Dict[torch.Tensor, Dict[str, torch.Tensor]] = {}
        for mine, theirs in zip(self.param_groups, groups):
            for i, p in zip(theirs["params"], mine["params"]):
                if i not in saved:
                    continue
                entry = saved[i]
                if set(entry) != set(self.state_keys):
                    raise ValueError(f"the optimizer state of parameter {i} holds {sorted(entry)}, "
                                     f"not {sorted(self.state_keys)}")
                fresh = self._new_state(p)
                for key, value in entry.items():
                    if not isinstance(value, torch.Tensor) or value.shape != fresh[key].shape:
                        raise ValueError(f"the optimizer state {key!r} of parameter {i} does not fit "
                                         f"its tensor of shape {tuple(p.shape)}")
                    fresh[key].copy_(value)
                new_state[p] = fresh
        for mine, theirs in zip(self.param_groups, groups):
            mine.update({k: copy.deepcopy(v) for k, v in theirs.items() if k != "params"})
            if "betas" in mine:
                mine["betas"] = tuple(mine["betas"])
        self.state = new_state

    def step(self) -> None:
        raise NotImplementedError


def _is_setting(value: Any) -> bool:
    """A learning rate, eps, decay or pair of betas as a checkpoint may hold them."""
    if isinstance(value, (list, tuple)):
        return len(value) == 2 and all(_is_setting(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class Adam(Optimizer):
    """torch.optim.Adam without AMSGrad (L2 weight decay added to the gradient, as torch's)."""

    state_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, fused: Optional[bool] = None) -> None:
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        # None: the fused kernel for CUDA tensors, the per-tensor update for the rest. The
        # kernel runs on the CPU too (so its path is tested where there is no GPU).
        self.fused = fused

    def _uses_kernel(self, p: torch.Tensor) -> bool:
        return p.is_cuda if self.fused is None else self.fused

    def _new_state(self, p: torch.Tensor) -> Dict[str, torch.Tensor]:
        # The step count is a float32 scalar, on the parameter's device for the fused kernel and
        # on the CPU for the per-tensor update (where torch keeps it, so .item() needs no sync).
        device = p.device if self._uses_kernel(p) else torch.device("cpu")
        return {"step": torch.zeros((), dtype=torch.float32, device=device),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("Adam does not take sparse gradients")
            states = [self._state_of(p) for p in params]
            kernel = [(p, s) for p, s in zip(params, states) if self._uses_kernel(p)]
            if kernel:
                self._fused(group, kernel)
            for p, s in zip(params, states):
                if not self._uses_kernel(p):
                    self._one(group, p, s)

    @staticmethod
    def _one(group: Dict[str, Any], param: torch.Tensor, state: Dict[str, torch.Tensor]) -> None:
        # torch.optim.adam._single_tensor_adam's operations, in its order.
        beta1, beta2 = group["betas"]
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        grad = param.grad
        state["step"] += 1
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        state["exp_avg"].lerp_(grad, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step = state["step"].item()
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        denom = (state["exp_avg_sq"].sqrt() / bias_correction2 ** 0.5).add_(eps)
        param.addcdiv_(state["exp_avg"], denom, value=-step_size)

    @staticmethod
    def _fused(group: Dict[str, Any], pairs: list) -> None:
        beta1, beta2 = group["betas"]
        by_kind: Dict[tuple, list] = {}
        for p, s in pairs:
            by_kind.setdefault((p.device, p.dtype), []).append((p, s))
        for same in by_kind.values():
            steps = [s["step"] for _, s in same]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_([p for p, _ in same], [p.grad for p, _ in same], [s["exp_avg"] for _, s in same],
                               [s["exp_avg_sq"] for _, s in same], [], steps, amsgrad=False, lr=group["lr"],
                               beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                               maximize=False, grad_scale=None, found_inf=None)


class Adadelta(Optimizer):
    """torch.optim.Adadelta (per tensor, as torch's single-tensor update)."""

    state_keys = ("step", "square_avg", "acc_delta")

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)

    def _new_state(self, p: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"step": torch.zeros((), dtype=torch.float32),
                "square_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "acc_delta": torch.zeros_like(p, memory_format=torch.preserve_format)}

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr, rho, eps, weight_decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise RuntimeError("Adadelta does not take sparse gradients")
                state = self._state_of(param)
                grad = param.grad
                state["step"] += 1
                if weight_decay != 0:
                    grad = grad.add(param, alpha=weight_decay)
                square_avg, acc_delta = state["square_avg"], state["acc_delta"]
                square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
                std = square_avg.add(eps).sqrt_()
                delta = acc_delta.add(eps).sqrt_()
                delta.div_(std).mul_(grad)
                acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
                param.add_(delta, alpha=-lr)


def _settings(cfg: OptimConfig) -> Dict[str, Any]:
    """The parameter group's settings of optimizer ``cfg.name``, besides the learning rate."""
    if cfg.name == "adam":
        return {"betas": tuple(cfg.betas), "eps": cfg.eps, "weight_decay": cfg.weight_decay}
    return {"rho": cfg.rho, "eps": cfg.eps, "weight_decay": cfg.weight_decay}


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: OptimConfig) -> Optimizer:
    builders: Dict[str, Callable[..., Optimizer]] = {"adam": Adam, "adadelta": Adadelta}
    return builders[cfg.name](list(params), lr=cfg.lr, **_settings(cfg))


def apply_config(optimizer: Optimizer, scheduler: "LRSchedule", cfg: OptimConfig) -> None:
    """After a resume's load_state_dict: ``cfg``'s lr, betas, eps, rho and weight decay in place of
    the checkpoint's, which load_state_dict brings back (as torch's does). A run resumed with
    ``--set optim.lr=1e-4`` (asrkit-train-lm --lr) logged "continuing with the new values: optim.lr:
    0.005 -> 0.0001" and went on at 0.005, its config.yaml saying 0.0001.

    The rate is rescaled, not recomputed: its multiplier may depend on the clock (a budget decay),
    and an unchanged lr leaves the rate exactly as the checkpoint had it.
    """
    for group, base in zip(optimizer.param_groups, scheduler.base_lrs):
        group.update(_settings(cfg))
        if base != cfg.lr:
            group["lr"] = (group["lr"] * (cfg.lr / base) if base > 0
                           else cfg.lr * scheduler.multiplier(scheduler.last_epoch))
        group["initial_lr"] = cfg.lr
    scheduler.base_lrs = [cfg.lr] * len(scheduler.base_lrs)


def lr_multiplier(cfg: OptimConfig, total_steps: int,
                  budget_used: Optional[Callable[[int], float]] = None,
                  decay_steps: int = 0) -> Callable[[int], float]:
    """Multiplier of ``cfg.lr`` at optimizer step ``step`` (0-based).

    ``decay_steps`` (> 0): ``warmup_linear`` holds the rate after warmup and decays over only the
    last ``decay_steps`` of ``total_steps`` (``optim.decay_epochs`` times the steps per epoch).

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
        start = max(warmup, total_steps - decay_steps) if decay_steps > 0 else warmup
        if step < start:
            return 1.0
        span = max(total_steps - start, 1)
        frac = min(1.0, (step - start) / span)
        return 1.0 - frac * (1.0 - cfg.final_lr_ratio)

    return {"none": none, "warmup": ramp, "noam": noam, "warmup_linear": warmup_linear}[cfg.scheduler]


class LRSchedule:
    """The learning rate of every step: the group's initial rate times ``multiplier(step)``, set
    when built (step 0) and after every ``step()``, as torch's LambdaLR. Its state_dict keeps
    LambdaLR's names (``last_epoch`` counts steps there too), so checkpoints of either load."""

    def __init__(self, optimizer: Optimizer, multiplier: Callable[[int], float]) -> None:
        self.optimizer = optimizer
        self.multiplier = multiplier
        self.base_lrs = [group.setdefault("initial_lr", group["lr"]) for group in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def _apply(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * self.multiplier(self.last_epoch)

    def step(self) -> None:
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> List[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> Dict[str, Any]:
        # lr_lambdas: what LambdaLR stores of plain functions, for a torch scheduler to load it.
        return {"base_lrs": list(self.base_lrs), "last_epoch": self.last_epoch, "_last_lr": self.get_last_lr(),
                "lr_lambdas": [None] * len(self.base_lrs)}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        # The rates themselves come back with the optimizer's state, as with LambdaLR: a budget
        # decay's multiplier depends on the clock, and recomputing it here would move the rate.
        base_lrs, last = state_dict["base_lrs"], state_dict["last_epoch"]
        if (not isinstance(base_lrs, (list, tuple)) or len(base_lrs) != len(self.optimizer.param_groups)
                or not all(isinstance(b, (int, float)) and math.isfinite(b) for b in base_lrs)):
            raise ValueError(f"the scheduler state's base_lrs {base_lrs!r} do not fit "
                             f"{len(self.optimizer.param_groups)} parameter group(s)")
        if not isinstance(last, int) or isinstance(last, bool) or last < 0:
            raise ValueError(f"the scheduler state's step count {last!r} is not a count")
        self.base_lrs = [float(b) for b in base_lrs]
        self.last_epoch = last


def build_scheduler(optimizer: Optimizer, cfg: OptimConfig, total_steps: int,
                    budget_used: Optional[Callable[[int], float]] = None, decay_steps: int = 0) -> LRSchedule:
    return LRSchedule(optimizer, lr_multiplier(cfg, total_steps, budget_used, decay_steps))
