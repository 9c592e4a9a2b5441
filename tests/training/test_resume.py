"""A run killed (SIGKILL, from outside) after its first checkpoint, and restarted, ends with exactly
the weights of one never killed; so does one whose newest checkpoint was left unreadable."""
from __future__ import annotations

import shutil

import torch

from tests.cli_checks import run_asrkit_in_process

from .kill import sigkill_after_first_checkpoint
from .yesno_dump import train_args

# Everything random on: dropout, SpecAugment, scheduled sampling, shuffled buckets, a loader worker.
RANDOM = ["--set", "model.listener.dropout=0.2", "--set", "model.speller.dropout=0.2",
          "--set", "model.specaug={freq_masks: 1, freq_width: 4, time_masks: 1, time_width: 20, time_warp: 3}",
          "--set", "training.teacher_forcing_start=0.7", "--set", "training.teacher_forcing_end=0.7",
          "--set", "batching.num_workers=1", "--set", "training.num_plots=0", "--set", "training.max_epochs=4"]


def assert_same_run(a_dir, b_dir, epoch: int) -> None:
    """Bit-identical weights, optimizer state, losses and RNG states in the two runs' epoch checkpoints."""
    a = torch.load(a_dir / "checkpoints" / f"epoch{epoch}.pt", weights_only=True)
    b = torch.load(b_dir / "checkpoints" / f"epoch{epoch}.pt", weights_only=True)
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for s1, s2 in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        for k in s1:
            assert torch.equal(s1[k], s2[k]), k
    losses = [[r["train_loss"] for r in x["train_state"]["history"]] for x in (a, b)]
    assert losses[0] == losses[1]
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert torch.equal(a["rng"]["python"]["state"], b["rng"]["python"]["state"])


def test_killed_run_resumes_exactly(yesno_setup, tmp_path, asrkit):
    ref = tmp_path / "ref"
    asrkit(*train_args(yesno_setup, ref, "--seed", "7", *RANDOM))

    # Killed as soon as its first checkpoint is on disk (it is renamed into place whole), so the
    # kill lands somewhere in epochs 2-4: wherever it lands, the resumed run must end the same.
    exp = tmp_path / "killed"
    sigkill_after_first_checkpoint(train_args(yesno_setup, exp, "--seed", "7", *RANDOM), exp)
    first = exp / "checkpoints" / "epoch1.pt"
    assert first.is_file() and not (exp / "checkpoints" / "epoch4.pt").exists() and not (exp / "model.pt").exists()

    from asrkit.training.timing import read_runs

    assert [(r.run, r.status) for r in read_runs(exp)] == [(1, "running")]  # as SIGKILL left it
    proc = asrkit(*train_args(yesno_setup, exp, "--seed", "7", *RANDOM))
    assert "resumed from" in proc.stderr.decode() and "Done 4 epochs out of 4" in proc.stderr.decode()
    assert_same_run(ref, exp, 4)
    # Both runs count in the training's time: the killed one up to its last update.
    runs = read_runs(exp)
    assert [(r.run, r.status) for r in runs] == [(1, "killed"), (2, "done")]
    assert runs[0].from_epoch == 0 and runs[1].from_epoch >= 1 and runs[1].to_epoch == 4
    assert all(r.seconds > 0 for r in runs)
    assert "training time over 2 run(s)" in proc.stderr.decode()


def test_unreadable_newest_checkpoint_resumes_from_the_one_before(yesno_setup, tmp_path):
    # (both runs in this process: nothing of a process is at stake, and a subprocess costs a torch import)
    args = ("--seed", "5", "--set", "training.max_epochs=2", "--set", "training.num_plots=0")
    ref = tmp_path / "ref"
    run_asrkit_in_process(*train_args(yesno_setup, ref, *args))
    exp = tmp_path / "exp"
    shutil.copytree(ref, exp)
    (exp / "model.pt").unlink()
    newest = exp / "checkpoints" / "epoch2.pt"
    newest.write_bytes(newest.read_bytes()[:5000])  # a write cut short by a full disk
    proc = run_asrkit_in_process(*train_args(yesno_setup, exp, *args))
    err = proc.stderr.decode()
    assert f"{newest}: not an asrkit checkpoint" in err and "skipped, resuming from an earlier checkpoint" in err
    assert "resumed from" in err and "epoch1.pt: epoch 1 done" in err
    assert_same_run(ref, exp, 2)


def test_constant_rate_run_resumed_with_a_decay_tail_is_the_held_then_decayed_run(yesno_setup, tmp_path, asrkit):
    """optim.decay_epochs: a finished constant-rate run (scheduler warmup) continued for more
    epochs with warmup_linear decaying over the new ones ends with exactly the weights of a fresh
    run of the held-then-decayed schedule, because both hold lr until the tail starts."""
    tail = ["--set", "optim.scheduler=warmup_linear", "--set", "optim.decay_epochs=2", "--set", "training.max_epochs=4"]
    ref = tmp_path / "ref"
    asrkit(*train_args(yesno_setup, ref, "--seed", "3", *RANDOM[:-2], *tail))
    exp = tmp_path / "const"
    asrkit(*train_args(yesno_setup, exp, "--seed", "3", *RANDOM[:-2], "--set", "training.max_epochs=2"))
    proc = asrkit(*train_args(yesno_setup, exp, "--seed", "3", *RANDOM[:-2], *tail))
    assert "resumed from" in proc.stderr.decode() and "Done 4 epochs out of 4" in proc.stderr.decode()
    assert_same_run(ref, exp, 4)
    rates = [r["lr"] for r in torch.load(ref / "checkpoints" / "epoch4.pt", weights_only=True)["train_state"]["history"]]
    assert rates[0] == rates[1] > rates[2] > rates[3]  # held, then decaying
