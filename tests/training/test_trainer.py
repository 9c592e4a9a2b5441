"""Trainer bookkeeping without real training: early stopping, keeping the N best checkpoints."""
from __future__ import annotations

import pytest
import torch

from asrkit.training import checkpoint as ckpt

from .ddp_grads import build


def test_rank_and_prune(tmp_path):
    hist = [{"epoch": 1, "valid_loss": 3.0, "valid_acc": 0.1}, {"epoch": 2, "valid_loss": 2.0, "valid_acc": 0.5},
            {"epoch": 3, "valid_loss": 2.5, "valid_acc": 0.5}, {"epoch": 4, "valid_loss": 2.7, "valid_acc": 0.2}]
    assert ckpt.rank_epochs(hist, "valid_loss") == [2, 3, 4, 1]
    assert ckpt.rank_epochs(hist, "valid_acc") == [2, 3, 4, 1]  # higher is better; ties: earlier first
    for e in range(1, 5):
        ckpt.save_checkpoint(ckpt.checkpoint_path(tmp_path, e), {"format": "asrkit-checkpoint", "epoch": e})
    assert ckpt.prune_checkpoints(tmp_path, hist, "valid_loss", keep=2) == [2, 3, 4]  # 2 best + the last
    assert sorted(ckpt.list_checkpoints(tmp_path)) == [2, 3, 4]
    with pytest.raises(Exception, match="not an asrkit training checkpoint"):
        torch.save({"x": 1}, tmp_path / "bad.pt")
        ckpt.load_checkpoint(tmp_path / "bad.pt")


def test_early_stopping_and_keep_best(yesno_setup, tmp_path, monkeypatch):
    trainer, _, _ = build(yesno_setup)
    trainer.exp_dir = tmp_path
    trainer.cfg.training.max_epochs = 20
    trainer.cfg.training.patience = 2
    trainer.cfg.training.keep_best = 1
    losses = iter([5.0, 4.0, 4.0, 4.5, 3.0])  # epoch 2 is best; 3 ties (no progress), 4 is worse: stop
    monkeypatch.setattr(trainer, "train_epoch", lambda e: {"train_loss": 1.0, "train_acc": 0.0,
                                                          "train_frames_per_s": 1.0, "train_time_s": 1.0})
    monkeypatch.setattr(trainer, "validate", lambda e: {"valid_loss": next(losses), "valid_acc": 0.0,
                                                        "valid_cer": None})
    trainer.run()
    assert trainer.state.epoch == 4 and trainer.state.stopped_early
    assert sorted(ckpt.list_checkpoints(tmp_path)) == [2, 4]  # the best and the last
    assert (tmp_path / "log" / "curves.csv").read_text().count("\n") == 5


def test_accumulation_counts_steps_and_log_line(yesno_setup, tmp_path, caplog):
    trainer, _, _ = build(yesno_setup)
    trainer.cfg.batching.max_frames = 700  # one utterance per batch: 4 batches
    trainer.cfg.optim.accum_grad = 3
    from asrkit.training.sampler import BucketBatchSampler

    utts = trainer.train_set.utts
    trainer.sampler = BucketBatchSampler([u.num_frames for u in utts], 700, seed=1)
    assert len(trainer.sampler.batches) == 4
    with caplog.at_level("INFO"):
        row = trainer.train_epoch(1)
    assert trainer.state.step == 2  # after batches 3 and 4 (the epoch's last batch flushes)
    assert row["train_loss"] > 0 and row["train_frames_per_s"] > 0
    lines = [r.getMessage() for r in caplog.records if "batch 4/4" in r.getMessage()]
    assert lines and all(w in lines[0] for w in ("loss", "acc", "lr", "frames/s"))


def test_background_checkpoint_error_is_not_lost(yesno_setup, tmp_path, monkeypatch):
    trainer, _, _ = build(yesno_setup)
    (tmp_path / "file").write_text("")
    trainer.exp_dir = tmp_path / "file" / "exp"  # cannot be created: the writer thread fails
    trainer.cfg.training.max_epochs = 1
    monkeypatch.setattr(trainer, "train_epoch", lambda e: {"train_loss": 1.0, "train_acc": 0.0,
                                                          "train_frames_per_s": 1.0, "train_time_s": 1.0})
    monkeypatch.setattr(trainer, "validate", lambda e: {})
    monkeypatch.setattr(trainer, "write_curves", lambda: None)
    assert trainer.cfg.training.async_checkpoint
    with pytest.raises(OSError):
        trainer.run()
