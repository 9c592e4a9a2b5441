"""Training the token LSTM LM (asrkit.models.lm) on text: what asrkit-train-lm runs.

``conf/lm.yaml``::

    model: {embed: 256, hidden: 512, layers: 2, dropout: 0.2}   # asrkit.models.lm.LMConfig
    lr: 0.001             # Adam
    batch_size: 64        # sentences per batch (sorted by length into buckets, shuffled per epoch)
    max_epochs: 20
    patience: 3           # stop after this many epochs without a better dev perplexity (0: never)
    dev_ratio: 0.05       # held-out share of the sentences when no dev text is given
    grad_clip: 5.0
    seed: 1
    device: auto          # auto | cpu | cuda

The LM trains through the same :class:`~asrkit.training.trainer.Trainer` as the acoustic model
(:class:`LMTask` says what a batch and a validation are), so it writes the same per-epoch
checkpoints and a run that stops (killed, out of time) continues where it stopped when started
again on the same exp dir, ending with the same weights. At the end the best epoch by dev
perplexity (train perplexity without dev sentences) is packed into ``lm.pt``.
"""
from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch

from asrkit.models.lm import FORMAT as LM_FORMAT
from asrkit.models.build import build_model
from asrkit.models.lm import LSTMLM
from asrkit.training import checkpoint as ckpt
from asrkit.training.config import LM_ADAM_BETAS, LMTrainConfig, OptimConfig, TrainingConfig
from asrkit.training.sampler import EpochBatchSampler
from asrkit.training.stop_signal import stop_on_signals
from asrkit.training.trainer import StepOutput, Trainer, seed_everything
from asrkit.utils.config import dump_yaml, to_dict
from asrkit.utils.device import resolve_device
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import atomic_open
from asrkit.utils.logging import get_logger

log = get_logger("train_lm")

__all__ = ["LMTrainConfig", "LMTask", "SentenceBatchSampler", "perplexity", "split_dev", "train_lm"]


def split_dev(sents: List[List[int]], ratio: float, seed: int) -> Tuple[List[List[int]], List[List[int]]]:
    """A seeded random held-out share (at least one sentence when there are two or more)."""
    idx = list(range(len(sents)))
    random.Random(seed).shuffle(idx)
    n_dev = min(len(sents) - 1, max(1, round(ratio * len(sents)))) if ratio > 0 and len(sents) > 1 else 0
    dev = [sents[i] for i in idx[:n_dev]]
    train = [sents[i] for i in idx[n_dev:]]
    return train, dev


class SentenceBatchSampler(EpochBatchSampler):
    """Length-sorted buckets of ``batch_size`` sentences (little padding), shuffled every epoch.

    Epoch ``e`` sees the ``e``-th shuffle of one ``random.Random(seed)``: the shuffles are
    replayed from the seed rather than kept as RNG state, so a resumed run sees the same order.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, shuffle: bool = True) -> None:
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        self.batches = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
        self.seed, self.shuffle = seed, shuffle
        self.per_rank = len(self.batches)

    def epoch_batches(self, epoch: int) -> List[List[int]]:
        batches = list(self.batches)
        if self.shuffle:
            rng = random.Random(self.seed)
            for _ in range(epoch):
                batches = list(self.batches)
                rng.shuffle(batches)
        return batches


def _batches(sents: Sequence[List[int]], batch_size: int) -> List[List[List[int]]]:
    """Length-sorted buckets of sentences, in order (for perplexity)."""
    return [[sents[i] for i in b] for b in SentenceBatchSampler([len(x) for x in sents], batch_size, 0, False)]


def _pad(batch: List[List[int]], device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    lens = torch.tensor([len(s) for s in batch])
    ys = torch.full((len(batch), max(1, int(lens.max()))), -1, dtype=torch.long)
    for i, s in enumerate(batch):
        ys[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return ys.to(device), lens.to(device)


@torch.no_grad()
def perplexity(lm: LSTMLM, sents: Sequence[List[int]], batch_size: int, device: torch.device) -> float:
    """exp(mean NLL per token, <eos> included) of ``sents``."""
    lm.eval()
    nll, n = 0.0, 0
    for batch in _batches(sents, batch_size):
        loss, count = lm.loss(*_pad(batch, device))
        nll += float(loss.detach())
        n += int(count)
    try:
        return math.exp(nll / max(n, 1))
    except OverflowError:  # (a diverged LM, over ~709 nats a token: a traceback that ended the run)
        return math.inf


class LMTask:
    """What the shared Trainer needs to train an LSTMLM: sentence batches, per-token NLL, perplexity."""

    units, items = "tokens", "sentences"
    smaller_batches = "lower batch_size"
    config_file = "lm.yaml"  # (an LM exp dir has no config.yaml: the resume's error sent the user to none)
    curve_fields = ["epoch", "step", "lr", "train_loss", "train_ppl", "valid_ppl", "train_tokens_per_s",
                    "train_sentences_per_s", "train_time_s", "valid_time_s", "skipped_batches", "epoch_time_s"]

    def __init__(self, model: LSTMLM, config: LMTrainConfig, train: List[List[int]], dev: List[List[int]],
                 tokens: List[str]) -> None:
        self.model, self.config, self.train, self.dev, self.tokens = model, config, train, dev, tokens
        self.sampler = SentenceBatchSampler([len(s) for s in train], config.batch_size, config.seed)
        self._device = torch.device("cpu")

    def package(self) -> Tuple[str, Dict[str, Any]]:
        return LM_FORMAT, {"config": to_dict(self.config.model), "tokens": list(self.tokens)}

    def start_epoch(self, model, epoch: int) -> None:
        pass

    def train_batches(self, pin_memory: bool) -> Iterable[List[List[int]]]:
        return ([self.train[i] for i in b] for b in self.sampler)

    def split_bad(self, batch: List[List[int]]) -> Tuple[List[List[int]], List[Tuple[str, str]]]:
        return batch, []  # sentences are token ids in memory: none turns bad while training

    def forward(self, model, batch: List[List[int]], device: torch.device) -> StepOutput:
        nll, count = model.loss(*_pad(batch, device))
        n = int(count)
        return StepOutput(loss=nll / count.clamp(min=1), weight=n, items=len(batch), units=n)

    def item_ids(self, batch: List[List[int]]) -> List[str]:
        return []  # token-id sentences without names; describe() says what the batch was

    def describe(self, batch: List[List[int]]) -> str:
        return f"{len(batch)} sentences, the longest {max(len(s) for s in batch)} tokens"

    def train_metrics(self, row: Dict[str, Any]) -> Dict[str, Any]:
        return {"train_ppl": math.exp(min(row["train_loss"], 700.0))}

    def validate(self, model, epoch: int, device: torch.device, amp: bool) -> Dict[str, Any]:
        return {"valid_ppl": perplexity(model, self.dev, self.config.batch_size, device)} if self.dev else {}

    def largest_batch(self) -> Optional[List[List[int]]]:
        return None

    def spare_batch(self) -> Optional[List[List[int]]]:
        return [self.train[0]] if len(self.train) else None

    def epoch_line(self, row: Dict[str, Any]) -> str:
        dev = f"dev perplexity {row['valid_ppl']:.3f}" if row.get("valid_ppl") is not None else "no dev sentences"
        return (f"epoch {row['epoch']}: train perplexity {row['train_ppl']:.3f}, {dev} | lr {row['lr']:.3g} | "
                f"{row['train_tokens_per_s']:.0f} tokens/s, {row['train_time_s']:.1f} s train, "
                f"{row.get('valid_time_s', 0.0):.1f} s valid")


# What the dev sentences depend on besides the text files (cli/train_lm.py's reading and split_dev).
DEV_SET_FROM = ("the dev sentences held out of the text are drawn by seed and dev_ratio, and every sentence longer "
                "than max_len is cut")


def train_lm(train: List[List[int]], dev: List[List[int]], tokens: List[str], config: LMTrainConfig,
             out_dir: Path) -> Dict[str, Any]:
    """Train on token-id sentences into ``out_dir`` (or resume there); write ``lm.pt`` (the best epoch)
    and ``lm.yaml``; return a summary."""
    if not train:
        raise AsrkitError("no training sentences")
    device = resolve_device(config.device)
    seed_everything(config.seed)
    lm = build_model(lambda: LSTMLM(len(tokens), config.model), "the LM config's model: section")
    n_params = sum(p.numel() for p in lm.parameters())
    best_metric = "valid_ppl" if dev else "train_ppl"
    optim = OptimConfig(name="adam", lr=config.lr, betas=LM_ADAM_BETAS, eps=1e-8, scheduler="none",
                        warmup_steps=0, grad_clip=config.grad_clip, accum_grad=1)
    loop = TrainingConfig(max_epochs=config.max_epochs, patience=config.patience, keep_best=1,
                          best_metric=best_metric, amp=False, oom_check=False, num_plots=0, valid_cer=False,
                          seed=config.seed, device=config.device)
    # The dev sentences' fingerprint: a resume validating on others is refused (refuse_unranked_epochs).
    digest = hashlib.sha1()
    for sent in dev:
        digest.update(" ".join(map(str, sent)).encode() + b"\n")
    dev_set = f"{len(dev)} sentences, sha1 {digest.hexdigest()[:12]}"
    trainer = Trainer(LMTask(lm, config, train, dev, tokens), optim, loop, out_dir,
                      {**config.to_dict(), "dev_set": dev_set}, device,
                      config_class=LMTrainConfig)
    # SIGUSR1 (sbatch --signal=B:USR1@300): a checkpoint where it stands, then TrainingStopped (exit 75).
    with stop_on_signals(trainer.stop_request):
        trainer.resume()
        trainer.refuse_unranked_epochs(bool(dev), "dev sentences (a --valid-text, or dev_ratio above 0)", "lm.pt",
                                       metric="valid_ppl",
                                       dev_set_from=(("seed", "dev_ratio", "max_len"), DEV_SET_FROM))
        with atomic_open(out_dir / "lm.yaml") as f:
            dump_yaml(config.to_dict(), f, sort_keys=False)
        log.info("LM: %d parameters, %d train / %d dev sentences, device %s, seed %d%s", n_params, len(train),
                 len(dev), device, config.seed,
                 "" if dev else " (no dev sentences: the best epoch is the best train perplexity)")
        trainer.run()
        out = ckpt.pack_best(out_dir, best_metric, out_dir / "lm.pt")
        history = trainer.state.history
        best = next(r for r in history if r["epoch"] == ckpt.rank_epochs(history, best_metric)[0])
        return {"best_epoch": best["epoch"], "best_dev_ppl": best.get("valid_ppl", best["train_ppl"]),
                "epochs": len(history), "history": history, "parameters": n_params, "path": out,
                "stopped_early": trainer.state.stopped_early}
