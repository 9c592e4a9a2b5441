"""A run killed in the middle of epoch 2 and restarted ends with exactly the weights of one never killed."""
from __future__ import annotations

import torch

from .yesno_dump import train_args

# Everything random on: dropout, SpecAugment, scheduled sampling, shuffled buckets, a loader worker.
RANDOM = ["--set", "model.listener.dropout=0.2", "--set", "model.speller.dropout=0.2",
          "--set", "model.specaug={freq_masks: 1, freq_width: 4, time_masks: 1, time_width: 20, time_warp: 3}",
          "--set", "training.teacher_forcing_start=0.7", "--set", "training.teacher_forcing_end=0.7",
          "--set", "batching.num_workers=1", "--set", "training.num_plots=0"]


def test_killed_run_resumes_exactly(yesno_setup, tmp_path, asrkit):
    ref = tmp_path / "ref"
    asrkit(*train_args(yesno_setup, ref, "--seed", "7", *RANDOM))

    exp = tmp_path / "killed"
    proc = asrkit(*train_args(yesno_setup, exp, "--seed", "7", *RANDOM), check=False,
                  env={"ASRKIT_TEST_KILL_AT": "2:1"})  # SIGKILL after the first update of epoch 2
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert (exp / "checkpoints" / "epoch1.pt").is_file()
    assert not (exp / "checkpoints" / "epoch2.pt").exists() and not (exp / "model.pt").exists()

    from asrkit.training.timing import read_runs

    assert [(r.run, r.status) for r in read_runs(exp)] == [(1, "running")]  # as SIGKILL left it
    proc = asrkit(*train_args(yesno_setup, exp, "--seed", "7", *RANDOM))
    assert "resumed from" in proc.stderr.decode() and "epoch 1 done" in proc.stderr.decode()
    # Both runs count in the training's time: the killed one up to its last update.
    runs = read_runs(exp)
    assert [(r.run, r.from_epoch, r.status) for r in runs] == [(1, 0, "killed"), (2, 1, "done")]
    assert runs[1].to_epoch == 2 and all(r.seconds > 0 for r in runs)
    assert "training time over 2 run(s)" in proc.stderr.decode()

    a = torch.load(ref / "checkpoints" / "epoch2.pt", weights_only=False)
    b = torch.load(exp / "checkpoints" / "epoch2.pt", weights_only=False)
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for s1, s2 in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        for k in s1:
            assert torch.equal(s1[k], s2[k]), k
    assert a["train_state"]["history"][1]["train_loss"] == b["train_state"]["history"][1]["train_loss"]
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
