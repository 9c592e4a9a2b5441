"""Training time across runs: log/train_runs.tsv, the training.max_time budget, the projection line."""
from __future__ import annotations

import csv
import dataclasses
import time

import pytest

from asrkit.training.timing import (BudgetClock, RunRecord, config_fingerprint, next_epoch_estimate, next_epoch_fits,
                                   projection, read_runs)
from asrkit.utils.errors import AsrkitError

from .yesno_dump import TINY_CONFIG, train_args


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_next_epoch_fits_uses_the_last_measured_epoch():
    history = [{"epoch": 1, "epoch_time_s": 50.0}, {"epoch": 2, "epoch_time_s": 30.0}]
    assert next_epoch_estimate(history) == 30.0
    assert next_epoch_fits(history, used_s=70.0, max_time=100.0)
    assert not next_epoch_fits(history, used_s=70.1, max_time=100.0)
    assert next_epoch_fits(history, used_s=1e9, max_time=0)  # 0: no budget
    assert next_epoch_fits([], used_s=1e9, max_time=1.0)  # the first epoch always runs
    # A history from a checkpoint written before epoch_time_s existed: train + valid time.
    assert next_epoch_estimate([{"epoch": 1, "train_time_s": 20.0, "valid_time_s": 5.0}]) == 25.0


def test_projection_line():
    history = [{"epoch": e, "epoch_time_s": 60.0} for e in (1, 2)]
    line = projection(history, max_epochs=12, used_s=110.0, max_time=0, now=0.0)
    assert line.startswith("epoch 2 took 60.0 s; 110 s of training so far; 10 epochs to go at ~60 s each: "
                           "~10.0 min more, done about ")
    line = projection(history, max_epochs=12, used_s=130.0, max_time=400.0, now=0.0)
    assert line.endswith("; time budget 400 s: 4.5 min left, room for ~4 more epoch(s)")
    assert "to go" not in projection(history, max_epochs=2, used_s=130.0, max_time=0)
    # an end past time_t (--max-epochs 99999999999999999999) was an OverflowError traceback
    assert projection(history, max_epochs=10 ** 20, used_s=110.0, max_time=0).endswith(
        "done about never (past the calendar)")


def test_run_record_adds_up_runs_and_marks_the_killed_one(tmp_path):
    clock = FakeClock()
    first = RunRecord(tmp_path, fresh=True, epochs_done=lambda: 0, clock=clock, heartbeat_s=3600)
    first.start()
    clock.now += 40.0
    first._write()  # what the heartbeat does; then the process dies (SIGKILL): no finish()
    rows = read_runs(tmp_path)
    assert [(r.run, r.seconds, r.status) for r in rows] == [(1, 40.0, "running")]

    second = RunRecord(tmp_path, fresh=False, epochs_done=lambda: 3, clock=clock, heartbeat_s=3600)
    assert second.spent_before == 40.0
    second.start()
    clock.now += 25.0
    assert second.used() == 65.0
    second.outcome = "budget"
    second.finish()
    rows = read_runs(tmp_path)
    assert [(r.run, r.seconds, r.from_epoch, r.to_epoch, r.status) for r in rows] == [
        (1, 40.0, 0, 0, "killed"), (2, 25.0, 3, 3, "budget")]
    lines = (tmp_path / "log/train_runs.tsv").read_text().splitlines()
    assert lines[0] == "# run\tstarted\tseconds\tfrom_epoch\tto_epoch\tstatus\tconfig"

    # A training started afresh (no checkpoints) after runs that trained epochs (their checkpoints
    # deleted: a new training) starts the table afresh.
    third = RunRecord(tmp_path, fresh=True, epochs_done=lambda: 0, clock=clock, heartbeat_s=3600)
    third.finish("done")
    assert [(r.run, r.status) for r in read_runs(tmp_path)] == [(1, "done")]


def test_a_fresh_start_keeps_the_runs_that_finished_no_epoch(tmp_path):
    """A run stopped by SIGUSR1 before its first batch wrote nothing to resume from: its row said
    'stopped' (and the run 'the same command run again starts it'), and the next run, finding no
    checkpoint, dropped it, with its time (data loading, up to the stop) and that of any run killed
    or failed within epoch 1 before it. Those rows are kept; a malformed table is still no
    error for a fresh run, which writes it over (said in a warning)."""
    clock = FakeClock()
    killed = RunRecord(tmp_path, fresh=True, epochs_done=lambda: 0, clock=clock, heartbeat_s=3600)
    killed.start()
    clock.now += 30.0
    killed._write()  # SIGKILLed within epoch 1: no finish(), no checkpoint
    stopped = RunRecord(tmp_path, fresh=True, epochs_done=lambda: 0, clock=clock, heartbeat_s=3600)
    stopped.start()
    stopped.began = True
    clock.now += 20.0
    stopped.outcome = "stopped"
    stopped.finish()
    again = RunRecord(tmp_path, fresh=True, epochs_done=lambda: 0, clock=clock, heartbeat_s=3600)
    assert again.spent_before == 50.0
    again.start()
    again.began = True
    clock.now += 5.0
    again.finish("done")
    assert [(r.run, r.seconds, r.status) for r in read_runs(tmp_path)] == [
        (1, 30.0, "killed"), (2, 20.0, "stopped"), (3, 5.0, "done")]
    (tmp_path / "log/train_runs.tsv").write_text("# header\n1\t2026\tx\t0\t1\tdone\n")
    with pytest.raises(AsrkitError, match=r"train_runs.tsv:2: malformed line"):
        RunRecord(tmp_path, fresh=False, epochs_done=lambda: 1, clock=clock, heartbeat_s=3600)
    RunRecord(tmp_path, fresh=True, epochs_done=lambda: 0, clock=clock, heartbeat_s=3600).finish("done")
    assert [(r.run, r.status) for r in read_runs(tmp_path)] == [(1, "done")]


def test_a_fresh_start_of_another_config_moves_the_runs_that_finished_no_epoch_aside(tmp_path):
    """Rows of runs that finished no epoch were kept whatever the config of the run that found them:
    one killed in epoch 1, then a training with other --set values or another config file, counted
    the first one's time as its own (train_seconds, '(2 runs)', training.max_time). A requeue of
    the same config (budget aside) still counts them; the rows of an asrkit that did not record the
    config (six columns) too; another config's go to train_runs.tsv.old."""
    from asrkit.training.config import TrainConfig

    base = TrainConfig().to_dict()
    config = lambda section, key, value: config_fingerprint({**base, section: {**base[section], key: value}})
    same = config_fingerprint(base)
    assert config("training", "max_time", 600.0) == same  # (a requeue with more budget: the same training)
    assert len({same, config("training", "seed", 7), config("optim", "lr", 0.5)}) == 3
    assert config_fingerprint(TrainConfig().to_dict()) == same

    clock = FakeClock()
    path, old = tmp_path / "log/train_runs.tsv", tmp_path / "log/train_runs.tsv.old"
    path.parent.mkdir()
    path.write_text("# run\tstarted\tseconds\tfrom_epoch\tto_epoch\tstatus\n1\t2026\t7.0\t0\t0\tkilled\n")
    for spent in (7.0, 37.0):  # (the old six-column row, then this config's own, count)
        killed = RunRecord(tmp_path, fresh=True, epochs_done=lambda: 0, clock=clock, heartbeat_s=3600, config=same)
        assert killed.spent_before == spent
        killed.start()
        clock.now += 30.0
        killed._write()  # SIGKILLed within epoch 1: no finish(), no checkpoint
    assert [(r.run, r.config) for r in read_runs(tmp_path)] == [(1, ""), (2, same), (3, same)]
    kept = path.read_text()
    other = RunRecord(tmp_path, fresh=True, epochs_done=lambda: 0, clock=clock, heartbeat_s=3600,
                      config=config("optim", "lr", 0.5))
    assert other.spent_before == 0.0 and old.read_text() == kept
    other.start()
    assert [(r.run, r.status, r.config) for r in read_runs(tmp_path)] == [(1, "running", config("optim", "lr", 0.5))]

    # A .old that cannot be replaced (a directory there) is named, in one line, the table left as it was.
    (tmp_path / "log/train_runs.tsv.old").unlink()
    (tmp_path / "log/train_runs.tsv.old/x").mkdir(parents=True)
    table = path.read_text()
    with pytest.raises(AsrkitError, match=r"train_runs\.tsv\.old: cannot move train_runs\.tsv there: "):
        RunRecord(tmp_path, fresh=True, epochs_done=lambda: 0, clock=clock, heartbeat_s=3600, config=same)
    assert path.read_text() == table


def test_a_run_on_other_data_is_another_training(tmp_path, monkeypatch):
    """asrkit-train run by hand with another --train-dir (or --valid-dir, --lang-dir, --cmvn),
    after a run that finished no epoch, counted that run's rows as its own time: its fingerprint
    was the config's alone. The same data spelled otherwise, or another exp dir or --ngpu, is the
    same training."""
    from asrkit.training.config import TrainConfig, build_config
    from asrkit.training.train_asr import TrainArgs, runs_fingerprint

    monkeypatch.chdir(tmp_path)
    args = TrainArgs(exp_dir="exp", train_dir="dump/train", valid_dir="dump/dev", lang_dir="data/lang",
                     config=TrainConfig(), cmvn="dump/train/cmvn.ark")
    same = runs_fingerprint(args)
    assert runs_fingerprint(dataclasses.replace(args, train_dir=str(tmp_path / "dump/train/"))) == same
    assert runs_fingerprint(dataclasses.replace(args, exp_dir="exp2", ngpu=2)) == same  # (a requeue elsewhere)
    others = [dataclasses.replace(args, **{key: value}) for key, value in (
        ("train_dir", "dump/train_sp"), ("valid_dir", "dump/test"), ("valid_dir", None), ("lang_dir", "data/lang2"),
        ("cmvn", None), ("config", build_config({}, ["training.seed=7"])))]
    assert len({same, *map(runs_fingerprint, others)}) == len(others) + 1
    # (what a run finds then: tests/training/test_stop_signal.py::test_runs_that_left_nothing_count_only_for_their_config)


def test_a_run_that_ends_before_training_leaves_no_row(tmp_path):
    """A run refused or stopped before its training loop (a resume refused for another config)
    trained nothing: its row is taken out again, and an earlier 'running' row stays 'killed'."""
    clock = FakeClock()
    first = RunRecord(tmp_path, fresh=True, epochs_done=lambda: 1, clock=clock, heartbeat_s=3600)
    first.start()
    clock.now += 40.0
    first._write()  # SIGKILLed: no finish()
    for outcome in ("failed", "interrupted"):
        refused = RunRecord(tmp_path, fresh=False, epochs_done=lambda: 1, clock=clock, heartbeat_s=3600)
        refused.start()
        clock.now += 1.0
        refused.outcome = outcome
        refused.finish()
        assert [(r.run, r.seconds, r.status) for r in read_runs(tmp_path)] == [(1, 40.0, "killed")]
    ran = RunRecord(tmp_path, fresh=False, epochs_done=lambda: 1, clock=clock, heartbeat_s=3600)
    ran.start()
    ran.began = True
    clock.now += 5.0
    ran.finish()  # failed in training: its time counts
    assert [(r.run, r.status) for r in read_runs(tmp_path)] == [(1, "killed"), (2, "failed")]


def test_a_refused_continuation_is_no_run(yesno_setup, tmp_path, asrkit):
    """A continuation refused for another model config was logged as a 'failed' run, and the
    recipe's RESULTS.md row said '(2 runs)' for a training of one."""
    exp = tmp_path / "exp"
    asrkit(*train_args(yesno_setup, exp, "--set", "training.max_epochs=1"))
    proc = asrkit(*train_args(yesno_setup, exp, "--set", "training.max_epochs=2", "--set", "model.speller.hidden=24"),
                  check=False)
    assert proc.returncode == 1 and "another model config" in proc.stderr.decode(), proc.stderr.decode()[-2000:]
    assert [(r.run, r.status) for r in read_runs(exp)] == [(1, "done")]


def test_run_record_heartbeat_updates_the_row(tmp_path):
    record = RunRecord(tmp_path, fresh=True, epochs_done=lambda: 2, heartbeat_s=0.01)
    record.start()
    try:
        for _ in range(3000):  # the thread writes at least once; no assumption on how soon
            if read_runs(tmp_path)[0].to_epoch == 2:
                break
            time.sleep(0.01)
        assert read_runs(tmp_path)[0].to_epoch == 2
    finally:
        record.finish("done")
    assert read_runs(tmp_path)[0].status == "done"


def test_malformed_runs_file_is_a_clear_error(tmp_path):
    (tmp_path / "log").mkdir()
    (tmp_path / "log/train_runs.tsv").write_text("# header\n1\t2026\tx\t0\t1\tdone\n")
    with pytest.raises(AsrkitError, match=r"train_runs.tsv:2: malformed line"):
        read_runs(tmp_path)


def test_time_budget_stops_at_an_epoch_boundary_and_a_larger_one_resumes(yesno_setup, tmp_path, asrkit):
    """A budget smaller than any epoch: epoch 1 runs (it always does), then training stops and
    packs model.pt; the same budget again trains nothing more; a larger one continues to max_epochs.
    No assumption about how long an epoch takes beyond "more than 1 ms" and "less than a day"."""
    exp = tmp_path / "exp"
    proc = asrkit(*train_args(yesno_setup, exp, "--set", "training.max_time=0.001"))
    err = proc.stderr.decode()
    assert "Done 1 epochs out of 2 (time budget)" in err, err[-3000:]
    assert "stopping after epoch 1 of 2" in err
    assert (exp / "model.pt").is_file() and not (exp / "checkpoints/epoch2.pt").exists()
    log = (exp / "log/train.log").read_text()
    assert "epoch 1 took " in log and "1 epoch to go at ~" in log and "time budget 0 s: 0 s left" in log
    rows = list(csv.DictReader(open(exp / "log/curves.csv")))
    assert float(rows[0]["epoch_time_s"]) > 0

    asrkit(*train_args(yesno_setup, exp, "--set", "training.max_time=0.001"))
    assert not (exp / "checkpoints/epoch2.pt").exists()

    proc = asrkit(*train_args(yesno_setup, exp, "--set", "training.max_time=86400"))
    err = proc.stderr.decode()
    assert "Done 2 epochs out of 2 in" in err and (exp / "checkpoints/epoch2.pt").is_file()
    runs = read_runs(exp)
    assert [(r.run, r.from_epoch, r.to_epoch, r.status) for r in runs] == [
        (1, 0, 1, "budget"), (2, 1, 1, "budget"), (3, 1, 2, "done")]
    assert all(r.seconds > 0 for r in runs)
    assert "training time over 3 run(s): " in err


def test_negative_budget_is_refused():
    from asrkit.training.config import build_config

    with pytest.raises(AsrkitError, match=r"training.max_time must be >= 0 seconds \(0: no budget\), got -1"):
        build_config({}, ["training.max_time=-1"])


def test_budget_clock_moves_with_steps_from_each_epochs_anchor():
    clock = BudgetClock(max_time=1000.0)
    assert clock.share(0) == clock.share(50) == 0.0  # before epoch 1 is timed: no decay within it
    clock.anchor(used_s=200.0, step=10, epoch_estimate_s=100.0, steps_per_epoch=10)
    assert clock.share(10) == pytest.approx(0.2)
    assert clock.share(15) == pytest.approx(0.25)  # halfway through the epoch, by steps not by clock
    assert clock.share(20) == pytest.approx(0.3)
    clock.anchor(used_s=320.0, step=20, epoch_estimate_s=120.0, steps_per_epoch=10)  # the real time wins
    assert clock.share(20) == pytest.approx(0.32)


def test_linear_decay_over_the_budget():
    from asrkit.training.config import OptimConfig
    from asrkit.training.optim import lr_multiplier

    cfg = OptimConfig(scheduler="warmup_linear", warmup_steps=10, final_lr_ratio=0.1, decay_over="budget")
    share = {"v": 0.0}
    mult = lr_multiplier(cfg, total_steps=100000, budget_used=lambda step: share["v"])
    assert mult(4) == pytest.approx(0.5)  # warmup as ever
    assert mult(50) == 1.0
    share["v"] = 0.5
    assert mult(50) == pytest.approx(0.55)  # half the budget: halfway from 1 to final_lr_ratio
    assert mult(4) == pytest.approx(0.5)  # never above the warmup ramp
    share["v"] = 1.7  # overshooting the budget keeps the final rate
    assert mult(50) == pytest.approx(0.1)
    # By epochs (the default) the step count alone decides, whatever the clock says.
    by_steps = lr_multiplier(OptimConfig(scheduler="warmup_linear", warmup_steps=10, final_lr_ratio=0.1), 110)
    assert by_steps(60) == pytest.approx(0.55)


def test_decay_over_the_last_epochs_holds_the_rate_before_them():
    from asrkit.training.config import OptimConfig
    from asrkit.training.optim import lr_multiplier

    cfg = OptimConfig(scheduler="warmup_linear", warmup_steps=10, final_lr_ratio=0.1, decay_epochs=2)
    mult = lr_multiplier(cfg, total_steps=100, decay_steps=20)  # 10 epochs of 10 steps, the last 2 decaying
    assert mult(4) == pytest.approx(0.5)  # warmup as ever
    assert [mult(s) for s in (10, 50, 79, 80)] == [1.0, 1.0, 1.0, 1.0]
    assert mult(90) == pytest.approx(0.55) and mult(100) == pytest.approx(0.1) and mult(500) == pytest.approx(0.1)
    # a tail longer than the training after warmup decays from the end of warmup, as decay_epochs 0
    whole = lr_multiplier(cfg, total_steps=100, decay_steps=1000)
    assert whole(55) == pytest.approx(lr_multiplier(cfg, total_steps=100)(55)) == pytest.approx(0.55)


def test_decay_epochs_needs_warmup_linear_over_epochs_and_fits_max_epochs():
    from asrkit.training.config import build_config

    for sets in (["optim.decay_epochs=3"], ["optim.scheduler=noam", "optim.decay_epochs=3"]):
        with pytest.raises(AsrkitError, match=r"optim.decay_epochs: 3 needs optim.scheduler: warmup_linear with "
                                              r"optim.decay_over: epochs, got scheduler"):
            build_config({}, sets)
    with pytest.raises(AsrkitError, match=r"got scheduler 'warmup_linear', decay_over 'budget'"):
        build_config({}, ["optim.scheduler=warmup_linear", "optim.decay_over=budget", "training.max_time=60",
                          "optim.decay_epochs=3"])
    for bad in ("31", "-1"):
        with pytest.raises(AsrkitError, match=r"optim.decay_epochs must be in \[0, training.max_epochs=30\] .*got "
                                              + bad):
            build_config({}, ["optim.scheduler=warmup_linear", "training.max_epochs=30", f"optim.decay_epochs={bad}"])
    # a negative count was told it needed scheduler warmup_linear, which would not have made it one
    with pytest.raises(AsrkitError, match=r"^--set 'optim.decay_epochs=-1': optim.decay_epochs must be in \[0, "
                                          r"training.max_epochs=30\] .*got -1$"):
        build_config({}, ["optim.decay_epochs=-1"])
    cfg = build_config({}, ["optim.scheduler=warmup_linear", "training.max_epochs=30", "optim.decay_epochs=30"])
    assert cfg.optim.decay_epochs == 30


def test_decay_over_budget_needs_warmup_linear_and_a_budget():
    from asrkit.training.config import build_config

    with pytest.raises(AsrkitError, match=r"optim.decay_over: budget needs optim.scheduler: warmup_linear and a "
                                          r"time budget .*max_time 0"):
        build_config({}, ["optim.scheduler=warmup_linear", "optim.decay_over=budget"])
    with pytest.raises(AsrkitError, match=r"got scheduler 'warmup'"):
        build_config({}, ["optim.decay_over=budget", "training.max_time=60"])
    with pytest.raises(AsrkitError, match=r"optim.decay_over: 'time' is not one of epochs, budget"):
        build_config({}, ["optim.decay_over=time"])
    cfg = build_config({}, ["optim.scheduler=warmup_linear", "optim.decay_over=budget", "training.max_time=60"])
    assert cfg.optim.decay_over == "budget"


def test_training_decays_its_rate_over_the_budget(yesno_setup, tmp_path, asrkit):
    """Through asrkit-train with a day's budget: by the end of epoch 2 at least twice epoch 1's
    time is spent, and the rate is down by at least that share of the way to the final one,
    below epoch 1's. Only "an epoch takes more than 0 s" is assumed."""
    import torch

    exp = tmp_path / "exp"
    asrkit(*train_args(yesno_setup, exp, "--set", "optim.scheduler=warmup_linear", "--set", "optim.decay_over=budget",
                       "--set", "optim.warmup_steps=0", "--set", "optim.final_lr_ratio=0.1",
                       "--set", "training.max_time=86400"))
    rows = torch.load(exp / "checkpoints/epoch2.pt", weights_only=True)["train_state"]["history"]
    assert [r["epoch"] for r in rows] == [1, 2]
    peak = TINY_CONFIG["optim"]["lr"]
    spent = 2 * rows[0]["epoch_time_s"] / 86400
    assert 0.9 * peak < rows[1]["lr"] < rows[0]["lr"] <= peak
    assert rows[1]["lr"] <= peak * (1 - 0.9 * spent) * (1 + 1e-12)


@pytest.mark.parametrize("line, why", [
    (b"1\t2026\t\xff\xfe\t0\t1\tdone", "not UTF-8 text"),  # was a UnicodeDecodeError traceback
    (b"1\t2026\tnan\t0\t1\tdone", "seconds 'nan' is not a number of seconds >= 0"),  # every later run: out of time
    (b"1\t2026\tinf\t0\t1\tdone", "seconds 'inf' is not a number of seconds >= 0"),
    (b"1\t2026\t-1e9\t0\t1\tdone", "seconds '-1e9' is not a number of seconds >= 0"),  # a larger budget in silence
    (b"1\t2026\t5.0\t-3\t1\tdone", "a negative epoch"),
    (b"\0" * 100000, "expected 7 tab-separated fields"),  # a NUL-filled crash file: the line shown is cut
])
def test_damaged_runs_file_is_one_line_naming_the_line(tmp_path, line, why):
    (tmp_path / "log").mkdir()
    (tmp_path / "log/train_runs.tsv").write_bytes(b"# run\tstarted\tseconds\tfrom_epoch\tto_epoch\tstatus\n" + line + b"\n")
    with pytest.raises(AsrkitError) as e:
        read_runs(tmp_path)
    assert str(e.value).startswith(f"{tmp_path}/log/train_runs.tsv:2: malformed line ({why}")
    assert len(str(e.value)) < 1000  # (the whole 100 kB line was shown)
