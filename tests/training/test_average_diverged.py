"""asrkit-average over a run whose dev score went non-finite at an epoch (hostile-input sweep)."""
from __future__ import annotations

import shutil

import torch

from asrkit.models.package import load_package

from .test_damaged_checkpoints import trained  # noqa: F401  (fixture)
from .test_train_cli import _run_inproc


def test_an_epoch_with_a_non_finite_dev_score_is_left_out(trained, tmp_path):  # noqa: F811
    """A run that diverged at its last epoch (NaN dev loss; the last checkpoint is always kept)
    had that epoch averaged in whenever fewer finite epochs than --num were kept."""
    exp = tmp_path / "exp"
    shutil.copytree(trained, exp)
    last = exp / "checkpoints" / "epoch2.pt"
    state = torch.load(last, weights_only=True)
    for row in state["train_state"]["history"]:
        if row["epoch"] == 2:
            row["valid_loss"] = float("nan")
    torch.save(state, last)
    code, err = _run_inproc("average", "--num", "2", "--metric", "valid_loss", "--out", tmp_path / "avg.pt", exp)
    assert code == 0, err
    assert "epoch(s) 2 have a non-finite valid_loss (the run diverged there): left out of the average" in err
    # the count's reason is that epoch, not training.keep_best (which kept both)
    assert ("2 checkpoint(s) asked for, 1 available (epoch(s) 2 diverged: non-finite valid_loss): averaging 1"
            in err), err
    assert "keep_best" not in err, err
    assert load_package(tmp_path / "avg.pt").meta.extra["epochs"] == [1]


def test_a_checkpoint_of_another_run_of_the_same_model_is_refused(yesno_setup, trained, tmp_path):  # noqa: F811
    """A checkpoint copied in from another run of the same config (only training.seed differs)
    passed every check, and the weights of two independently trained networks were averaged into a
    broken model, with exit 0."""
    from .yesno_dump import train_args

    other = tmp_path / "other"
    code, err = _run_inproc(*train_args(yesno_setup, other, "--seed", "4", "--set", "training.num_plots=0"))
    assert code == 0, err
    exp = tmp_path / "exp"
    shutil.copytree(trained, exp)
    shutil.copy(other / "checkpoints" / "epoch1.pt", exp / "checkpoints" / "epoch1.pt")
    code, err = _run_inproc("average", "--num", "2", "--out", tmp_path / "avg.pt", exp)
    assert code == 1 and (f"ERROR (asrkit-average): {exp / 'checkpoints' / 'epoch1.pt'}: not of the same run as "
                          f"{exp / 'checkpoints' / 'epoch2.pt'} (its record of epoch 1 differs") in err, err
    assert not (tmp_path / "avg.pt").exists()
    # the run's own checkpoints still average, the latest left out or not
    shutil.copy(trained / "checkpoints" / "epoch1.pt", exp / "checkpoints" / "epoch1.pt")
    code, err = _run_inproc("average", "--num", "2", "--out", tmp_path / "avg.pt", exp)
    assert code == 0, err
    code, err = _run_inproc("average", "--num", "1", "--max-epoch", "1", "--out", tmp_path / "e1.pt", exp)
    assert code == 0, err


def test_checkpoints_from_before_and_after_an_upgrade_average(trained, tmp_path):  # noqa: F811
    """A run resumed across an asrkit upgrade holds checkpoints whose raw model configs differ by
    an option the older asrkit did not write (model.utt_mean_frames): it was refused as "another
    model than ... (model.utt_mean_frames: 'all' -> None)". Configs are compared with their
    defaults filled in; a real difference is still refused."""
    exp = tmp_path / "exp"
    shutil.copytree(trained, exp)
    first = exp / "checkpoints" / "epoch1.pt"
    state = torch.load(first, weights_only=True)
    del state["config"]["model"]["utt_mean_frames"], state["package"]["model_config"]["utt_mean_frames"]
    torch.save(state, first)
    code, err = _run_inproc("average", "--num", "2", "--out", tmp_path / "avg.pt", exp)
    assert code == 0, err
    assert sorted(load_package(tmp_path / "avg.pt").meta.extra["epochs"]) == [1, 2]
    for model in (state["config"]["model"], state["package"]["model_config"]):
        model["utt_mean_norm"] = not model.get("utt_mean_norm", False)
    torch.save(state, first)
    code, err = _run_inproc("average", "--num", "2", "--out", tmp_path / "avg2.pt", exp)
    assert code == 1 and "another model than" in err and "model.utt_mean_norm" in err, err
