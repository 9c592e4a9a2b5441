"""A run resumed with another config: the values it says it continues with are the ones it trains with,
and a change it cannot carry out is refused naming the option."""
from __future__ import annotations

import shutil

import pytest
import torch

from tests.cli_checks import error_line, run_asrkit, run_asrkit_in_process

from .yesno_dump import train_args

FAST = ["--set", "training.num_plots=0", "--set", "training.valid_cer=false", "--set", "optim.scheduler=none"]


def _last(exp, epoch):
    return torch.load(exp / "checkpoints" / f"epoch{epoch}.pt", weights_only=True)


@pytest.fixture(scope="module")
def one_epoch_run(yesno_setup, tmp_path_factory):
    """An exp dir of 1 epoch trained with FAST's settings, which the tests below resume in a copy of
    their own (one training instead of one each; tests/conftest.py keeps them on one xdist worker).
    The tests of what a resume says and trains with run asrkit-train in this process (a subprocess
    costs a torch import, 2-3 s CPU); the exact resume after a kill stays a process of its own."""
    exp = tmp_path_factory.mktemp("one_epoch") / "exp"
    run_asrkit_in_process(*train_args(yesno_setup, exp, *FAST, "--set", "training.max_epochs=1"))
    return exp


def _one_epoch(one_epoch_run, tmp_path):
    """tmp_path/exp: a copy of one_epoch_run's exp dir."""
    exp = tmp_path / "exp"
    shutil.copytree(one_epoch_run, exp)
    return exp


def test_resumed_run_trains_with_the_new_optimizer_settings(yesno_setup, one_epoch_run, tmp_path):
    """The optimizer's settings came back from the checkpoint over the config's: a resume with
    --set optim.lr=... logged "continuing with the new values: optim.lr: 0.005 -> 0.0001" and
    trained on at 0.005 (betas, eps and weight decay the same), config.yaml saying 0.0001."""
    exp = _one_epoch(one_epoch_run, tmp_path)
    proc = run_asrkit_in_process(*train_args(yesno_setup, exp, *FAST, "--set", "training.max_epochs=2",
                                             "--set", "optim.lr=0.0001", "--set", "optim.betas=[0.8, 0.9]",
                                             "--set", "optim.weight_decay=0.001"))
    assert "continuing with the new values" in proc.stderr.decode() and "resumed from" in proc.stderr.decode()
    state = _last(exp, 2)
    assert [r["lr"] for r in state["train_state"]["history"]] == [0.005, 0.0001]
    group = state["optimizer"]["param_groups"][0]
    assert (group["lr"], tuple(group["betas"]), group["weight_decay"]) == (0.0001, (0.8, 0.9), 0.001)
    assert state["scheduler"]["base_lrs"] == [0.0001]


def test_resume_with_another_optimizer_names_optim_name(yesno_setup, one_epoch_run, tmp_path):
    """Adam's state loaded into Adadelta was "cannot resume from this checkpoint: the optimizer
    state's rho is None ...; move it away to resume from an earlier one", which would not help."""
    exp = _one_epoch(one_epoch_run, tmp_path)
    before = (exp / "checkpoints" / "epoch1.pt").read_bytes()
    proc = run_asrkit_in_process(*train_args(yesno_setup, exp, *FAST, "--set", "training.max_epochs=2",
                                             "--set", "optim.name=adadelta"), check=False)
    assert error_line(proc) == (f"ERROR (asrkit-train): {exp}/checkpoints/epoch1.pt: was trained with optim.name "
                                f"adam, this run's config says adadelta: an optimizer's state does not carry over to "
                                f"another; resume with optim.name: adam, or use a new exp dir")
    assert (exp / "checkpoints" / "epoch1.pt").read_bytes() == before
    assert not (exp / "checkpoints" / "epoch2.pt").exists()

    # Another model size: the keys that differ are named (the two runs' configs were left to compare by hand).
    config = (exp / "config.yaml").read_text()
    proc = run_asrkit_in_process(*train_args(yesno_setup, exp, *FAST, "--set", "training.max_epochs=2",
                                             "--set", "model.speller.hidden=64",
                                             "--set", "model.listener.subsample=[1, 2, 2]"), check=False)
    assert error_line(proc).endswith("use a new exp dir, or that config to continue (changed: "
                                     "model.listener.subsample: [2, 2] -> [1, 2, 2], model.speller.hidden: 32 -> 64)")
    assert (exp / "config.yaml").read_text() == config
    assert not (exp / "checkpoints" / "epoch2.pt").exists()


def test_a_read_only_checkpoints_folder_is_named_before_an_epoch_is_trained(yesno_setup, one_epoch_run, tmp_path):
    """checkpoints/ not writable (copied from another machine, a chmod): the run trained an epoch,
    its whole time, and only then failed writing its checkpoint."""
    import os
    import subprocess
    import sys

    from tests.cli_checks import without_root_override

    exp = _one_epoch(one_epoch_run, tmp_path)
    ckpts = exp / "checkpoints"
    ckpts.chmod(0o555)
    try:
        args = [str(a) for a in train_args(yesno_setup, exp, *FAST, "--set", "training.max_epochs=2")]
        proc = subprocess.run(without_root_override([sys.executable, "-m", "asrkit", *args]), capture_output=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
    finally:
        ckpts.chmod(0o755)
    assert error_line(proc) == f"ERROR (asrkit-train): {ckpts}: cannot write this run's checkpoints there " \
                               f"(permission denied)"
    assert "epoch 2 " not in proc.stderr.decode() and "train_loss" not in proc.stderr.decode()
    assert sorted(p.name for p in ckpts.iterdir()) == ["epoch1.pt"]


def test_an_lm_resumed_with_another_seed_names_it_as_what_moved_its_dev_set(yesno_setup, tmp_path):
    """The LM's dev sentences, without --valid-text, are drawn from the text by seed and dev_ratio:
    a resume with another --seed was refused as "validated on another dev set" with nothing to
    say why, the user's text and dev text being the same files."""
    lines = [ln.split(maxsplit=1)[1] for ln in (yesno_setup / "dump" / "train" / "text").read_text().splitlines()]
    text = tmp_path / "text"
    text.write_text("".join(f"{line}\n" for line in lines * 6))
    conf = tmp_path / "lm.yaml"
    conf.write_text("model: {embed: 8, hidden: 16, layers: 1}\nbatch_size: 4\n")
    exp = tmp_path / "lm"
    args = ["train-lm", "--config", conf, "--lang-dir", yesno_setup / "data" / "lang", "--device", "cpu"]
    run_asrkit_in_process(*args, "--max-epochs", "1", "--seed", "1", text, exp)
    proc = run_asrkit_in_process(*args, "--max-epochs", "2", "--seed", "5", text, exp, check=False)
    assert "validated on another dev set" in error_line(proc)
    assert "(this run changed seed 1 -> 5: the dev sentences held out of the text are drawn by seed and dev_ratio, " \
           "and every sentence longer than max_len is cut)" in error_line(proc)
    proc = run_asrkit_in_process(*args, "--max-epochs", "2", "--max-len", "5", text, exp, check=False)
    assert "(this run changed max_len 400 -> 5: the dev sentences" in error_line(proc)
    assert not (exp / "checkpoints" / "epoch2.pt").exists()
    run_asrkit_in_process(*args, "--max-epochs", "2", "--seed", "1", text, exp)  # its own seed: trains on
    assert (exp / "checkpoints" / "epoch2.pt").exists()


def test_a_checkpoint_of_an_asrkit_without_a_newer_option_resumes(yesno_setup, one_epoch_run, tmp_path):
    """A run begun before asrkit added a model option (as model.utt_mean_frames was) stored a config
    without it: resumed by a newer asrkit it was refused as "another model config ... (changed:
    model.utt_mean_frames: None -> 'all')", and no config could continue it. The option not named
    is at its default, which is what the run trained with."""
    exp = _one_epoch(one_epoch_run, tmp_path)
    path = exp / "checkpoints" / "epoch1.pt"
    state = torch.load(path, weights_only=True)
    del state["config"]["model"]["utt_mean_frames"], state["config"]["training"]["max_bad_steps"]
    torch.save(state, path)
    proc = run_asrkit_in_process(*train_args(yesno_setup, exp, *FAST, "--set", "training.max_epochs=2"))
    err = proc.stderr.decode()
    assert "resumed from" in err and "Done 2 epochs out of 2" in err
    assert "continuing with the new values: training.max_epochs: 1 -> 2\n" in err  # and nothing it left out
    # A model option it does give otherwise is another model still.
    state["config"]["model"]["utt_mean_norm"] = True
    (exp / "checkpoints" / "epoch2.pt").unlink()
    torch.save(state, path)
    proc = run_asrkit_in_process(*train_args(yesno_setup, exp, *FAST, "--set", "training.max_epochs=3"),
                                 check=False)
    assert error_line(proc).endswith("(changed: model.utt_mean_norm: True -> False)")


# Run as `python -c`: asrkit-train whose epoch-2 checkpoint write is SIGKILLed half way through the
# file, as a kill (the OOM killer, a node's time limit) lands while a checkpoint is being written.
_DIES_WRITING_EPOCH2 = """
import io, os, signal, sys
from pathlib import Path
import torch
from asrkit.training import checkpoint
from asrkit.utils.fileio import tmp_path_for
real = checkpoint.save_torch
def dying(obj, path):
    if Path(path).name == "epoch2.pt":
        buf = io.BytesIO()
        torch.save(obj, buf)
        with open(tmp_path_for(path), "wb") as f:
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    real(obj, path)
checkpoint.save_torch = dying
from asrkit.cli import main
main(sys.argv[1:], prog_name="asrkit")
"""


def test_a_run_killed_while_writing_a_checkpoint_resumes_from_the_last_whole_one(yesno_setup, tmp_path, asrkit):
    import os
    import signal
    import subprocess
    import sys

    from .test_resume import assert_same_run

    args = [*FAST, "--seed", "4", "--set", "training.max_epochs=3"]
    ref = tmp_path / "ref"
    asrkit(*train_args(yesno_setup, ref, *args))
    exp = tmp_path / "exp"
    proc = subprocess.run([sys.executable, "-c", _DIES_WRITING_EPOCH2, *map(str, train_args(yesno_setup, exp, *args))],
                          capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-3000:]
    ckpts = exp / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir() if not p.name.endswith(".tmp")) == ["epoch1.pt"]
    assert any(p.name.endswith(".tmp") for p in ckpts.iterdir())  # the half-written file, under a temporary name
    err = asrkit(*train_args(yesno_setup, exp, *args)).stderr.decode()
    assert "resumed from" in err and "epoch1.pt: epoch 1 done" in err and "Done 3 epochs out of 3" in err
    assert sorted(p.name for p in ckpts.iterdir()) == ["epoch1.pt", "epoch2.pt", "epoch3.pt"]
    assert_same_run(ref, exp, 3)


def test_a_checkpoint_without_its_epoch_count_is_damaged(tmp_path):
    """A checkpoint whose train_state had no epoch was read as TrainState's default, epoch 0: a
    resume said "epoch 0 done" and trained its weights again from epoch 1, over this very file."""
    import pytest

    from asrkit.training import checkpoint as ckpt
    from asrkit.utils.errors import AsrkitError

    from .test_trainer import _full_state

    path = ckpt.checkpoint_path(tmp_path, 1)
    state = _full_state(1)
    for train_state in ({"history": []}, {"epoch": "1", "history": []}):
        ckpt.save_checkpoint(path, {**state, "train_state": train_state})
        with pytest.raises(AsrkitError, match=r"epoch1\.pt: damaged asrkit checkpoint: train_state holds no epoch "
                                              r"count \(its epoch is "):
            ckpt.load_checkpoint(path)
    ckpt.save_checkpoint(path, state)
    assert ckpt.load_checkpoint(path)["train_state"]["epoch"] == 1
