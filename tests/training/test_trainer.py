"""Trainer bookkeeping without real training: early stopping, keeping the N best checkpoints,
checkpoints that hold only tensors and plain types, and the fallback past unreadable ones."""
from __future__ import annotations

import logging
import random

import numpy as np
import pytest
import torch

from asrkit.training import checkpoint as ckpt

from .ddp_grads import build


def test_rank_and_prune(tmp_path):
    hist = [{"epoch": 1, "valid_loss": 3.0, "valid_acc": 0.1}, {"epoch": 2, "valid_loss": 2.0, "valid_acc": 0.5},
            {"epoch": 3, "valid_loss": 2.5, "valid_acc": 0.5}, {"epoch": 4, "valid_loss": 2.7, "valid_acc": 0.2}]
    assert ckpt.rank_epochs(hist, "valid_loss") == [2, 3, 4, 1]
    assert ckpt.rank_epochs(hist, "valid_acc") == [2, 3, 4, 1]  # higher is better; ties: earlier first
    # a NaN (a diverging epoch's dev loss) ranks last; it made the order that of the epochs: [1, 2, 3, 4]
    nan = [{"epoch": 1, "valid_loss": 3.0, "valid_acc": 0.2}, {"epoch": 2, "valid_loss": float("nan"),
           "valid_acc": float("nan")}, {"epoch": 3, "valid_loss": 1.0, "valid_acc": 0.9},
           {"epoch": 4, "valid_loss": 2.0, "valid_acc": 0.5}]
    assert ckpt.rank_epochs(nan, "valid_loss") == [3, 4, 1, 2]
    assert ckpt.rank_epochs(nan, "valid_acc") == [3, 4, 1, 2]
    for e in range(1, 5):
        ckpt.save_checkpoint(ckpt.checkpoint_path(tmp_path, e), {"epoch": e})
    assert ckpt.prune_checkpoints(tmp_path, hist, "valid_loss", keep=2) == [2, 3, 4]  # 2 best + the last
    assert sorted(ckpt.list_checkpoints(tmp_path)) == [2, 3, 4]
    # only the names asrkit writes: epoch03.pt was a second epoch 3 (which one was used depended on
    # the directory order), epoch\u0664.pt (Arabic-Indic 4) epoch 4
    for name in ("epoch03.pt", "epoch\u0664.pt", "epoch+5.pt"):
        assert not ckpt.checkpoint_name(name)
        (tmp_path / "checkpoints" / name).write_bytes(b"")
    assert ckpt.list_checkpoints(tmp_path) == {e: ckpt.checkpoint_path(tmp_path, e) for e in (2, 3, 4)}
    with pytest.raises(Exception, match="not an asrkit training checkpoint"):
        torch.save({"x": 1}, tmp_path / "bad.pt")
        ckpt.load_checkpoint(tmp_path / "bad.pt")


def test_early_stopping_and_keep_best(yesno_setup, tmp_path, monkeypatch):
    trainer, _, _ = build(yesno_setup)
    trainer.exp_dir = tmp_path
    trainer.loop.max_epochs = 20
    trainer.loop.patience = 2
    trainer.loop.keep_best = 1
    losses = iter([5.0, 4.0, 4.0, 4.5, 3.0])  # epoch 2 is best; 3 ties (no progress), 4 is worse: stop
    monkeypatch.setattr(trainer, "train_epoch", lambda e: {"train_loss": 1.0, "train_acc": 0.0,
                                                          "train_frames_per_s": 1.0, "train_time_s": 1.0})
    monkeypatch.setattr(trainer, "validate", lambda e: {"valid_loss": next(losses), "valid_acc": 0.0,
                                                        "valid_cer": None})
    trainer.run()
    assert trainer.state.epoch == 4 and trainer.state.stopped_early
    assert sorted(ckpt.list_checkpoints(tmp_path)) == [2, 4]  # the best and the last
    assert (tmp_path / "log" / "curves.csv").read_text().count("\n") == 5


def test_a_nan_dev_loss_is_no_best_epoch(yesno_setup, tmp_path, monkeypatch):
    """A NaN dev loss (a diverging epoch whose weights stayed finite) compares false with everything:
    after a first epoch of NaN no later epoch "improved", so early stopping ended the run at epoch
    1 + patience, and the pruning kept the NaN epoch among the best. It is never the best now."""
    trainer, _, _ = build(yesno_setup)
    trainer.exp_dir = tmp_path
    trainer.loop.max_epochs = 5
    trainer.loop.patience = 2
    trainer.loop.keep_best = 1
    losses = iter([float("nan"), 4.0, 3.0, float("nan"), 2.0])
    monkeypatch.setattr(trainer, "train_epoch", lambda e: {"train_loss": 1.0, "train_acc": 0.0,
                                                          "train_frames_per_s": 1.0, "train_time_s": 1.0})
    monkeypatch.setattr(trainer, "validate", lambda e: {"valid_loss": next(losses), "valid_acc": 0.0,
                                                        "valid_cer": None})
    trainer.run()
    assert trainer.state.epoch == 5 and not trainer.state.stopped_early
    assert sorted(ckpt.list_checkpoints(tmp_path)) == [5]  # the best is the last


def test_accumulation_counts_steps_and_log_line(yesno_setup, tmp_path, caplog):
    trainer, _, _ = build(yesno_setup)
    trainer.optim.accum_grad = 3
    from asrkit.training.sampler import BucketBatchSampler

    lengths = trainer.task.train_set.table.num_frames
    trainer.task.sampler = BucketBatchSampler(lengths, 700, seed=1)  # one utterance a batch
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
    trainer.loop.max_epochs = 1
    monkeypatch.setattr(trainer, "train_epoch", lambda e: {"train_loss": 1.0, "train_acc": 0.0,
                                                          "train_frames_per_s": 1.0, "train_time_s": 1.0})
    monkeypatch.setattr(trainer, "validate", lambda e: {})
    monkeypatch.setattr(trainer, "write_curves", lambda: None)
    assert trainer.loop.async_checkpoint
    with pytest.raises(OSError):
        trainer.run()


def test_curves_count_only_the_epochs_a_checkpoint_holds(yesno_setup, tmp_path, monkeypatch):
    """A checkpoint write that failed (a full disk) or was killed left log/curves.csv with a row for
    that epoch, which the resumed run then trained again; now a row is written with its checkpoint,
    and a resume rewrites curves.csv from the checkpoint it continues."""
    import errno

    def fake_epochs(trainer):
        monkeypatch.setattr(trainer, "train_epoch", lambda e: {"train_loss": 1.0, "train_acc": 0.0,
                                                              "train_frames_per_s": 1.0, "train_time_s": 1.0})
        monkeypatch.setattr(trainer, "validate", lambda e: {"valid_loss": 5.0 - e, "valid_acc": 0.0,
                                                            "valid_cer": None})

    def rows():
        return [line.split(",")[0] for line in (tmp_path / "log/curves.csv").read_text().splitlines()[1:]]

    trainer, _, _ = build(yesno_setup)
    trainer.exp_dir = tmp_path
    trainer.loop.max_epochs = 3
    fake_epochs(trainer)
    save = ckpt.save_checkpoint

    def full_at_epoch_2(path, state):
        if path.name == "epoch2.pt":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        save(path, state)

    monkeypatch.setattr(ckpt, "save_checkpoint", full_at_epoch_2)
    with pytest.raises(OSError):
        trainer.run()
    assert sorted(ckpt.list_checkpoints(tmp_path)) == [1] and rows() == ["1"]
    (tmp_path / "log/curves.csv").write_text((tmp_path / "log/curves.csv").read_text() + "2,as a killed run left it\n")
    monkeypatch.setattr(ckpt, "save_checkpoint", save)
    resumed, _, _ = build(yesno_setup)
    resumed.exp_dir = tmp_path
    resumed.loop.max_epochs = 3
    fake_epochs(resumed)
    assert resumed.resume() and rows() == ["1"]
    resumed.run()
    assert rows() == ["1", "2", "3"]


def _full_state(epoch: int) -> dict:
    """The keys load_checkpoint requires, with small plain values."""
    return {"model": {"w": torch.full((2,), float(epoch))}, "optimizer": {}, "scheduler": {}, "sampler": {},
            "rng": ckpt.rng_state(), "train_state": {"epoch": epoch, "history": []}, "config": {},
            "package_format": "asrkit-model", "package": {}}


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    """The python, numpy and torch RNG states survive save + torch.load(weights_only=True) exactly."""
    random.seed(3), np.random.seed(4), torch.manual_seed(5)
    random.gauss(0, 1), np.random.standard_normal()  # a cached gaussian in both, the rarer half of the state
    ckpt.save_checkpoint(tmp_path / "epoch1.pt", _full_state(1))
    expected = (random.random(), random.gauss(0, 1), np.random.rand(), np.random.standard_normal(), torch.rand(1))
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    state = torch.load(tmp_path / "epoch1.pt", weights_only=True)  # what load_checkpoint does, spelled out
    ckpt.set_rng_state(state["rng"])
    assert (random.random(), random.gauss(0, 1), np.random.rand(), np.random.standard_normal()) == expected[:4]
    assert torch.equal(torch.rand(1), expected[4])


class _Payload:
    """Unpickling this creates ``marker``: what a hostile checkpoint would do with weights_only=False."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_hostile_checkpoint(path, marker) -> None:
    state = _full_state(1)
    state["train_state"]["note"] = _Payload(str(marker))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": ckpt.FORMAT, "version": ckpt.VERSION, **state}, path)


def test_hostile_checkpoint_is_refused_and_runs_nothing(tmp_path):
    path, marker = tmp_path / "checkpoints" / "epoch1.pt", tmp_path / "pwned"
    write_hostile_checkpoint(path, marker)
    with pytest.raises(Exception, match=f"^{path}: not an asrkit checkpoint \\(not a torch file, or one holding"):
        ckpt.load_checkpoint(path)
    assert not marker.exists()


def test_resume_takes_the_newest_readable_checkpoint(tmp_path, caplog):
    for e in (1, 2, 3):
        ckpt.save_checkpoint(ckpt.checkpoint_path(tmp_path, e), _full_state(e))
    blob = ckpt.checkpoint_path(tmp_path, 3).read_bytes()
    ckpt.checkpoint_path(tmp_path, 3).write_bytes(blob[: len(blob) // 2])  # a full disk's truncated write
    write_hostile_checkpoint(ckpt.checkpoint_path(tmp_path, 2), tmp_path / "pwned")
    with caplog.at_level(logging.WARNING):
        path, state = ckpt.latest_readable_checkpoint(tmp_path)
    assert path == ckpt.checkpoint_path(tmp_path, 1) and state["train_state"]["epoch"] == 1
    warned = [r.getMessage() for r in caplog.records]
    assert any("epoch3.pt: not an asrkit checkpoint" in w and "resuming from an earlier" in w for w in warned)
    assert any("epoch2.pt: not an asrkit checkpoint" in w for w in warned)
    assert not (tmp_path / "pwned").exists()
    ckpt.checkpoint_path(tmp_path, 1).write_bytes(b"not a checkpoint")
    with pytest.raises(Exception, match="none of the 3 checkpoint\\(s\\) can be read"):
        ckpt.latest_readable_checkpoint(tmp_path)
    assert ckpt.latest_readable_checkpoint(tmp_path / "fresh") is None


@pytest.mark.parametrize("max_frames", [700, 1300, 2500, 4000])
def test_largest_batch_is_the_one_of_most_padded_frames(yesno_setup, max_frames):
    """What the CUDA memory check runs first: the batch of most padded frames (size x longest),
    the larger batch on a tie; the first such in the sampler's order."""
    from asrkit.training.sampler import BucketBatchSampler

    trainer, _, _ = build(yesno_setup)
    lengths = trainer.task.train_set.table.num_frames
    trainer.task.sampler = BucketBatchSampler(lengths, max_frames, seed=1)
    batches = list(trainer.sampler.batches)
    want = max(batches, key=lambda b: (len(b) * max(int(lengths[i]) for i in b), len(b)))
    got = trainer.task.largest_batch()
    assert sorted(got.indices) == sorted(want)


def test_train_acc_does_not_depend_on_how_utterances_are_batched(yesno_setup, tmp_path):
    """train_acc averaged each batch's per-token accuracy weighted by the batch's utterances: one
    model's epoch on one train set logged 0.2449, 0.2382 or 0.2400 by batching.max_frames alone
    (transcripts of 3 and of 30 tokens grouped otherwise), beside the same train_loss. It is
    correct tokens over all tokens now, as valid_acc is (ee58308)."""
    from asrkit.models.las import LAS
    from asrkit.models.package import PackageMeta
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.config import build_config
    from asrkit.training.data import FeatureDataset, load_utterances
    from asrkit.training.las_task import LASTask
    from asrkit.training.trainer import Trainer

    from .yesno_dump import TINY_CONFIG, copy_with_uneven_texts

    train_dir = copy_with_uneven_texts(yesno_setup / "dump" / "train", tmp_path / "train")
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    train = FeatureDataset(load_utterances(str(train_dir), tok))
    rows, n_batches = [], []
    for max_frames in (700, 1500, 100_000):
        # a learning rate of ~0: every batching sees the same model all epoch
        cfg = build_config({**TINY_CONFIG, "optim": {"lr": 1e-12, "warmup_steps": 0},
                            "batching": {"max_frames": max_frames}, "training": {"num_plots": 0}})
        torch.manual_seed(0)
        model = LAS(train.idim, tok.vocab_size, cfg.model)
        meta = PackageMeta(model_config=cfg.model, idim=train.idim, vocab_size=tok.vocab_size, tokens=tok.tokens)
        task = LASTask(model, meta, cfg, train, None, tok, tmp_path / f"exp{max_frames}")
        trainer = Trainer(task, cfg.optim, cfg.training, tmp_path / f"exp{max_frames}", cfg.to_dict(),
                          torch.device("cpu"))
        rows.append(trainer.train_epoch(1))
        n_batches.append(len(trainer.sampler))
    assert len(set(n_batches)) == 3, n_batches  # three batchings indeed
    losses = [r["train_loss"] for r in rows]
    accs = [r["train_acc"] for r in rows]
    assert max(losses) - min(losses) < 1e-4 * abs(losses[0])  # the loss never depended on it
    assert max(accs) - min(accs) < 1e-6, accs
