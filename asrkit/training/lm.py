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

The best epoch by dev perplexity is written to ``lm.pt`` (atomically, after every improvement),
so an interrupted run still leaves a usable LM.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import yaml

from asrkit.models.lm import LMConfig, LSTMLM, save_lm
from asrkit.utils.config import Wording, from_dict, load_yaml_mapping, to_dict
from asrkit.utils.device import resolve_device
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import atomic_open
from asrkit.utils.logging import get_logger, progress

log = get_logger("train_lm")


@dataclass
class LMTrainConfig:
    model: LMConfig = field(default_factory=LMConfig)
    lr: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 20
    patience: int = 3
    dev_ratio: float = 0.05
    grad_clip: float = 5.0
    seed: int = 1
    device: str = "auto"

    @classmethod
    def from_dict(cls, d: Optional[Dict[str, Any]], where: str = "lm config") -> "LMTrainConfig":
        cfg = from_dict(cls, d, where, wording=_WORDING)
        cfg.validate(where)
        return cfg

    @classmethod
    def from_yaml(cls, path) -> "LMTrainConfig":
        return cls.from_dict(load_yaml_mapping(path, "LM training options"), str(path))

    def validate(self, where: str = "lm config") -> None:
        if self.lr <= 0 or self.batch_size < 1 or self.max_epochs < 1:
            raise AsrkitError(f"{where}: lr, batch_size and max_epochs must be positive")
        if not 0 <= self.dev_ratio < 1:
            raise AsrkitError(f"{where}: dev_ratio must be in [0, 1), got {self.dev_ratio}")

    def to_dict(self) -> Dict[str, Any]:
        return to_dict(self)


# An unknown key is named by its path from the top (``model.hiden``), as in asrkit-train's config.
_WORDING = Wording(unknown="{source}: unknown key{s} {dotted} (known: {known})")


def split_dev(sents: List[List[int]], ratio: float, seed: int) -> Tuple[List[List[int]], List[List[int]]]:
    """A seeded random held-out share (at least one sentence when there are two or more)."""
    idx = list(range(len(sents)))
    random.Random(seed).shuffle(idx)
    n_dev = min(len(sents) - 1, max(1, round(ratio * len(sents)))) if ratio > 0 and len(sents) > 1 else 0
    dev = [sents[i] for i in idx[:n_dev]]
    train = [sents[i] for i in idx[n_dev:]]
    return train, dev


def _batches(sents: Sequence[List[int]], batch_size: int, rng: Optional[random.Random]) -> List[List[List[int]]]:
    """Length-sorted buckets of sentences (little padding), in shuffled order when ``rng`` is given."""
    order = sorted(range(len(sents)), key=lambda i: len(sents[i]))
    batches = [[sents[i] for i in order[s:s + batch_size]] for s in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


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
    for batch in _batches(sents, batch_size, None):
        loss, count = lm.loss(*_pad(batch, device))
        nll += float(loss.detach())
        n += int(count)
    return math.exp(nll / max(n, 1))


def train_lm(train: List[List[int]], dev: List[List[int]], vocab_size: int, tokens: List[str],
             config: LMTrainConfig, out_dir: Path) -> Dict[str, Any]:
    """Train on token-id sentences, write ``out_dir/lm.pt`` (best dev epoch) and ``lm.yaml``; return a summary."""
    if not train:
        raise AsrkitError("no training sentences")
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    device = resolve_device(config.device)
    lm = LSTMLM(vocab_size, config.model).to(device)
    opt = torch.optim.Adam(lm.parameters(), lr=config.lr)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_open(out_dir / "lm.yaml") as f:
        yaml.safe_dump(config.to_dict(), f, sort_keys=False)
    n_params = sum(p.numel() for p in lm.parameters())
    log.info("LM: %d parameters, %d train / %d dev sentences, device %s, seed %d",
             n_params, len(train), len(dev), device, config.seed)
    best, best_epoch, bad = float("inf"), 0, 0
    history = []
    for epoch in range(1, config.max_epochs + 1):
        start = time.monotonic()
        lm.train()
        nll, n = 0.0, 0
        for batch in progress(_batches(train, config.batch_size, rng), desc=f"epoch {epoch}", unit="batch"):
            loss, count = lm.loss(*_pad(batch, device))
            opt.zero_grad()
            (loss / count.clamp(min=1)).backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(lm.parameters(), config.grad_clip)
            opt.step()
            nll += float(loss.detach())
            n += int(count)
        train_ppl = math.exp(nll / max(n, 1))
        dev_ppl = perplexity(lm, dev, config.batch_size, device) if dev else train_ppl
        history.append({"epoch": epoch, "train_ppl": train_ppl, "dev_ppl": dev_ppl})
        improved = dev_ppl < best
        log.info("epoch %d: train perplexity %.3f, dev perplexity %.3f%s (%.1f s)", epoch, train_ppl, dev_ppl,
                 " (best)" if improved else "", time.monotonic() - start)
        if improved:
            best, best_epoch, bad = dev_ppl, epoch, 0
            save_lm(out_dir / "lm.pt", lm, tokens, extra={"epoch": epoch, "dev_ppl": dev_ppl, "train_ppl": train_ppl})
        else:
            bad += 1
            if config.patience and bad >= config.patience:
                log.info("no better dev perplexity for %d epochs: stopping", bad)
                break
    return {"best_epoch": best_epoch, "best_dev_ppl": best, "epochs": len(history), "history": history,
            "parameters": n_params}
