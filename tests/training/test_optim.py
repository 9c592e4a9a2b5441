"""asrkit's Adam, Adadelta and learning-rate schedule against torch.optim's: the same numbers,
the same state_dict both ways, damaged state refused; and a training process that never imports
torch._dynamo (why asrkit has its own: asrkit/training/optim.py)."""
from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch

from asrkit.training.config import OptimConfig
from asrkit.training.optim import Adadelta, Adam, LRSchedule, build_optimizer, build_scheduler, lr_multiplier

from .yesno_dump import train_args


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.rnn = torch.nn.LSTM(5, 7, batch_first=True, bidirectional=True)
        self.out = torch.nn.Linear(14, 3)
        self.unused = torch.nn.Linear(2, 2)  # no gradient ever: no state, as torch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.rnn(x)[0]).pow(2).mean()


def _train(net: _Net, opt, steps: int, start: int = 0, sched=None) -> None:
    for i in range(start, start + steps):
        g = torch.Generator().manual_seed(100 + i)
        opt.zero_grad(set_to_none=True)
        net(torch.randn(3, 4, 5, generator=g) * (1 + i)).backward()
        opt.step()
        if sched is not None:
            sched.step()


def _same_params(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, x), y in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(x, y), name


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_updates_exactly_as_torch_adam(weight_decay):
    mine, theirs = _Net(), _Net()
    kw = dict(lr=0.01, betas=(0.8, 0.99), eps=1e-7, weight_decay=weight_decay)
    _train(mine, Adam(mine.parameters(), **kw), 25)
    _train(theirs, torch.optim.Adam(theirs.parameters(), **kw), 25)
    _same_params(mine, theirs)
    moved = _Net()
    assert not torch.equal(mine.out.weight, moved.out.weight)


def test_adam_fused_kernel_path_equals_torch_fused_adam():
    """The path CUDA training takes, run on the CPU (the kernel exists there too)."""
    mine, theirs = _Net(), _Net()
    kw = dict(lr=0.02, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.001)
    opt = Adam(mine.parameters(), fused=True, **kw)
    _train(mine, opt, 20)
    _train(theirs, torch.optim.Adam(theirs.parameters(), fused=True, **kw), 20)
    _same_params(mine, theirs)
    assert opt.state[mine.out.weight]["step"].item() == 20


def test_adadelta_updates_exactly_as_torch_adadelta():
    mine, theirs = _Net(), _Net()
    kw = dict(lr=1.0, rho=0.95, eps=1e-6, weight_decay=0.001)
    _train(mine, Adadelta(mine.parameters(), **kw), 25)
    _train(theirs, torch.optim.Adadelta(theirs.parameters(), **kw), 25)
    _same_params(mine, theirs)


@pytest.mark.parametrize("name", ["adam", "adadelta"])
def test_state_dicts_cross_load_both_ways(name):
    """A checkpoint written with torch.optim (every asrkit before this one) resumes here to the
    same numbers as if torch had continued, and the other way round."""
    cfg = OptimConfig(name=name, lr=0.01 if name == "adam" else 1.0, scheduler="noam", warmup_steps=4)
    torch_cls = {"adam": torch.optim.Adam, "adadelta": torch.optim.Adadelta}[name]
    kw = ({"lr": cfg.lr, "betas": tuple(cfg.betas), "eps": cfg.eps} if name == "adam"
          else {"lr": cfg.lr, "rho": cfg.rho, "eps": cfg.eps})
    mult = lr_multiplier(cfg, 100)

    ref = _Net()
    ref_opt = torch_cls(ref.parameters(), **kw)
    ref_sched = torch.optim.lr_scheduler.LambdaLR(ref_opt, mult)
    _train(ref, ref_opt, 16, sched=ref_sched)

    # torch for 8 steps, asrkit for 8
    a = _Net()
    a_opt = torch_cls(a.parameters(), **kw)
    a_sched = torch.optim.lr_scheduler.LambdaLR(a_opt, mult)
    _train(a, a_opt, 8, sched=a_sched)
    b = _Net()
    b.load_state_dict(a.state_dict())
    b_opt = build_optimizer(b.parameters(), cfg)
    b_sched = build_scheduler(b_opt, cfg, 100)
    b_opt.load_state_dict(a_opt.state_dict())
    b_sched.load_state_dict(a_sched.state_dict())
    _train(b, b_opt, 8, start=8, sched=b_sched)
    _same_params(b, ref)
    assert b_opt.param_groups[0]["lr"] == ref_opt.param_groups[0]["lr"]

    # asrkit for 8 steps, torch for 8
    c = _Net()
    c_opt = build_optimizer(c.parameters(), cfg)
    c_sched = build_scheduler(c_opt, cfg, 100)
    _train(c, c_opt, 8, sched=c_sched)
    d = _Net()
    d.load_state_dict(c.state_dict())
    d_opt = torch_cls(d.parameters(), **kw)
    d_sched = torch.optim.lr_scheduler.LambdaLR(d_opt, mult)
    d_opt.load_state_dict(c_opt.state_dict())
    d_sched.load_state_dict(c_sched.state_dict())
    _train(d, d_opt, 8, start=8, sched=d_sched)
    _same_params(d, ref)


def test_schedule_gives_lambdalr_rates():
    cfg = OptimConfig(name="adam", lr=0.002, scheduler="warmup_linear", warmup_steps=5, final_lr_ratio=0.1)
    mult = lr_multiplier(cfg, 40)
    net1, net2 = _Net(), _Net()
    mine = LRSchedule(Adam(net1.parameters(), lr=cfg.lr), mult)
    theirs = torch.optim.lr_scheduler.LambdaLR(torch.optim.Adam(net2.parameters(), lr=cfg.lr), mult)
    rates = []
    for _ in range(45):
        assert mine.get_last_lr() == theirs.get_last_lr()
        rates.append(mine.get_last_lr()[0])
        mine.step()
        theirs.optimizer.step()
        theirs.step()
    assert rates[0] == pytest.approx(0.002 / 5) and rates[-1] == pytest.approx(0.0002)


@pytest.mark.parametrize("damage, says", [
    (lambda s: s["param_groups"].append(dict(s["param_groups"][0])), "2 parameter groups"),
    (lambda s: s["param_groups"][0]["params"].pop(), "parameter tensors, this model trains"),
    (lambda s: s["state"][0].pop("exp_avg"), "holds ['exp_avg_sq', 'step']"),
    (lambda s: s["state"][0].update(exp_avg=torch.zeros(3)), "does not fit its tensor of shape"),
    (lambda s: s["state"][0].update(exp_avg="x"), "does not fit"),
    (lambda s: s["param_groups"][0].update(lr="0.1"), "lr is '0.1', not a finite number"),
    (lambda s: s["param_groups"][0].update(betas=(0.9,)), "betas is (0.9,)"),
    (lambda s: s["param_groups"][0].update(eps=float("nan")), "eps is nan"),
])
def test_damaged_optimizer_state_is_a_value_error_and_changes_nothing(damage, says):
    net = _Net()
    opt = Adam(net.parameters(), lr=0.01)
    _train(net, opt, 2)
    state = copy.deepcopy(opt.state_dict())
    damage(state)
    fresh = Adam(_Net().parameters(), lr=0.5)
    with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        fresh.load_state_dict(state)
    assert fresh.state == {} and fresh.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("state, says", [
    ({"base_lrs": [0.1, 0.2], "last_epoch": 3}, "do not fit 1 parameter group"),
    ({"base_lrs": ["x"], "last_epoch": 3}, "do not fit"),
    ({"base_lrs": [0.1], "last_epoch": -2}, "is not a count"),
    ({"base_lrs": [0.1], "last_epoch": 2.5}, "is not a count"),
])
def test_damaged_scheduler_state_is_a_value_error(state, says):
    sched = LRSchedule(Adam(_Net().parameters(), lr=0.01), lambda s: 1.0)
    with pytest.raises(ValueError, match=says):
        sched.load_state_dict(state)
    with pytest.raises(KeyError):
        sched.load_state_dict({"last_epoch": 1})


def test_zero_grad_keeps_or_drops_gradients():
    net = _Net()
    opt = Adam(net.parameters(), lr=0.01)
    net(torch.ones(1, 2, 5)).backward()
    opt.zero_grad(set_to_none=False)
    assert net.out.weight.grad is not None and not net.out.weight.grad.any()
    opt.zero_grad()
    assert net.out.weight.grad is None and net.unused.weight.grad is None


def test_a_training_process_never_imports_dynamo(yesno_setup, tmp_path):
    """torch.optim imported torch._dynamo at construction and every step: 2 s and 160 MB in every
    training process (bench/README.md, the scale row). Two epochs of asrkit-train, then a look."""
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('dynamo imported:', 'torch._dynamo' in sys.modules, flush=True))\n"
            "from asrkit.cli import main\n"
            "main(sys.argv[1:])\n")
    exp = tmp_path / "exp"
    proc = subprocess.run([sys.executable, "-c", code, *map(str, train_args(yesno_setup, exp))], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Done 2 epochs out of 2" in proc.stderr
    assert "dynamo imported: False" in proc.stdout, proc.stdout
