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
    assert load_package(tmp_path / "avg.pt").meta.extra["epochs"] == [1]
