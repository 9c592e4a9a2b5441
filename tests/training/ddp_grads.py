"""Run under torchrun (2 processes, gloo): one DDP forward/backward of the trainer on this rank's half.

``python -m torch.distributed.run --standalone --nproc_per_node 2 ddp_grads.py <setup-root> <out-dir>``
writes ``<out-dir>/grads<rank>.pt``: the gradients after DDP's all-reduce.
"""
import sys
from pathlib import Path

import torch

from asrkit.launch.distributed import detect_distributed, init_distributed


def build(root: Path, rank: int = 0, world: int = 1):
    """The trainer on the yesno train set's first 4 utterances; model weights from seed 0."""
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.config import build_config
    from asrkit.training.data import FeatureDataset, collate, load_cmvn, load_utterances
    from asrkit.models.las import LAS
    from asrkit.models.package import PackageMeta
    from asrkit.training.las_task import LASTask
    from asrkit.training.trainer import Trainer

    try:
        from .yesno_dump import TINY_CONFIG
    except ImportError:
        from yesno_dump import TINY_CONFIG

    tok = Tokenizer.load(root / "data" / "lang" / "tokens.model")
    cfg = build_config(TINY_CONFIG)
    train = root / "dump" / "train"
    ds = FeatureDataset(load_utterances(str(train), tok)[:4], load_cmvn(str(train / "cmvn.ark")))
    torch.manual_seed(0)
    model = LAS(ds.idim, tok.vocab_size, cfg.model)
    meta = PackageMeta(model_config=cfg.model, idim=ds.idim, vocab_size=tok.vocab_size, tokens=tok.tokens)
    task = LASTask(model, meta, cfg, ds, None, tok, root / "exp_ddp", rank, world)
    trainer = Trainer(task, cfg.optim, cfg.training, root / "exp_ddp", cfg.to_dict(), torch.device("cpu"), rank, world)
    return trainer, ds, collate


def grads(trainer) -> dict:
    return {n: p.grad.detach().clone() for n, p in trainer.model.named_parameters() if p.grad is not None}


def main() -> None:
    torch.set_num_threads(1)
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    info = detect_distributed()
    assert info is not None and info.world_size == 2, "run under torchrun with 2 processes"
    init_distributed(info, "gloo")
    trainer, ds, collate = build(root, info.rank, info.world_size)
    half = [ds[i] for i in range(2 * info.rank, 2 * info.rank + 2)]  # rank 0: utts 0-1, rank 1: utts 2-3
    trainer.forward_backward(collate(half))
    g = {n.removeprefix("module."): v for n, v in grads(trainer).items()}
    torch.save(g, out / f"grads{info.rank}.pt")
    # As train_asr.py ends a distributed run: without the barrier a rank that tore its gloo group
    # down while the other's was still busy died of "terminate called without an active
    # exception" (SIGABRT) now and then (CI, 2026-12-05, under load).
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
