"""``asrkit-train`` as a library call: the named steps from a command line to exp/<name>/model.pt.

:func:`train` runs in every process of a run (one, or one per GPU under DDP). It reads the
config, the data and the tokenizer, builds the model, resumes from the exp dir's latest
checkpoint when there is one, trains, and (rank 0) packs the best epoch into ``model.pt``.
:func:`launch_local` starts N such processes on this machine for ``--ngpu N``, as torchrun would.
"""
from __future__ import annotations

import logging
import os
import random
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from asrkit.launch.distributed import DistInfo, detect_distributed, init_distributed
from asrkit.training import checkpoint as ckpt
from asrkit.training.config import TrainConfig, dump_config, load_config
from asrkit.training.data import FeatureDataset, load_cmvn, load_utterances
from asrkit.training.timing import RunRecord
from asrkit.training.trainer import Trainer
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import atomic_open
from asrkit.utils.logging import FORMAT, DATEFMT, get_logger

log = get_logger(__name__)


@dataclass
class TrainArgs:
    exp_dir: str
    train_dir: str
    valid_dir: Optional[str]
    lang_dir: str
    cmvn: Optional[str] = None
    config: Optional[str] = None
    overrides: List[str] = field(default_factory=list)
    seed: Optional[int] = None
    ngpu: Optional[int] = None  # None: training.device decides; 0: CPU; N: N GPUs
    fbank_config: Optional[str] = None
    norm_vars: bool = True
    verbose: int = 0


def build_model(idim: int, vocab_size: int, model_config: Dict[str, Any], where: str = "config"):
    from asrkit.models.las import LAS, LASConfig

    try:
        return LAS(idim, vocab_size, LASConfig.from_dict(model_config))
    except (ValueError, TypeError) as e:
        raise AsrkitError(f"{where}: model: {e}") from None


def find_fbank_config(train_dir: str, explicit: Optional[str]) -> Dict[str, Any]:
    """The feature options the training features were made with, for the packed model.

    ``asrkit-compute-fbank`` writes ``fbank.yaml`` beside its feats.scp; a recipe's dump dir
    concatenates the job pieces' scps, so look beside the dump dir's feats.scp, then beside
    the ark its first line points into.
    """
    from asrkit.features.fbank import FbankConfig

    if explicit:
        return FbankConfig.from_yaml(explicit).to_dict()
    candidates = [Path(train_dir) / "fbank.yaml"]
    try:
        with open(Path(train_dir) / "feats.scp", encoding="utf-8") as f:
            first = f.readline().split(maxsplit=1)
        if len(first) == 2:
            ark = first[1].strip().rsplit(":", 1)[0]
            candidates.append(Path(ark).parent / "fbank.yaml")
    except OSError:
        pass
    for path in candidates:
        if path.is_file():
            log.info("feature config for the packed model: %s", path)
            return FbankConfig.from_yaml(path).to_dict()
    log.warning("no fbank.yaml beside %s/feats.scp: the packed model gets the default FbankConfig "
                "(pass --fbank-config if the features were made with other options)", train_dir)
    return FbankConfig().to_dict()


def _stderr_is(path: Path) -> bool:
    """Whether stderr already goes to ``path`` (a run.pl-style launcher's log): then don't log twice."""
    try:
        return path.exists() and os.path.samestat(os.fstat(2), os.stat(path))
    except OSError:
        return False


def _log_to_file(path: Path) -> Optional[logging.Handler]:
    if _stderr_is(path):
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
    logging.getLogger().addHandler(handler)
    return handler


def select_device(ngpu: Optional[int], cfg: TrainConfig, dist_info: Optional[DistInfo]) -> torch.device:
    want = cfg.training.device
    if ngpu is not None:
        want = "cpu" if ngpu == 0 else "cuda"
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cuda":
        if not torch.cuda.is_available():
            raise AsrkitError("a GPU was asked for (--ngpu or training.device) but CUDA is not available here")
        return torch.device("cuda", dist_info.local_rank if dist_info else 0)
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def train(args: TrainArgs) -> Optional[Path]:
    """Train (or resume) into ``args.exp_dir``; returns the packed model's path on rank 0."""
    exp = Path(args.exp_dir)
    dist_info = detect_distributed()
    rank = dist_info.rank if dist_info else 0
    world = dist_info.world_size if dist_info else 1
    cfg = load_config(args.config, args.overrides)
    if args.seed is not None:
        cfg.training.seed = args.seed
    if rank != 0:
        logging.getLogger().setLevel(logging.WARNING)
    handler = _log_to_file(exp / "log" / "train.log") if rank == 0 else None
    runs = None
    try:
        if rank == 0:
            log.info("%s", " ".join(sys.argv))
            # This run's row in log/train_runs.tsv, from now on: data loading is training time too.
            found = ckpt.list_checkpoints(exp)
            done_before = max(found) if found else 0
            runs = RunRecord(exp, fresh=not found, epochs_done=lambda: done_before)
            runs.start()
        return _train(args, cfg, exp, dist_info, rank, world, runs)
    except KeyboardInterrupt:
        if runs is not None:
            runs.outcome = "interrupted"
        raise
    finally:
        if runs is not None:
            runs.finish()
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()


def _train(args: TrainArgs, cfg: TrainConfig, exp: Path, dist_info: Optional[DistInfo], rank: int,
           world: int, runs: Optional[RunRecord] = None) -> Optional[Path]:
    start = time.time()
    device = select_device(args.ngpu, cfg, dist_info)
    if dist_info is not None:
        backend = init_distributed(dist_info, "nccl" if device.type == "cuda" else "gloo")
        log.info("rank %d of %d (%s, %s)", rank, world, backend, device)
    # Each rank its own dropout/SpecAugment stream; DDP copies rank 0's initial weights to all.
    seed_everything(cfg.training.seed + rank)
    log.info("seed %d, device %s", cfg.training.seed, device)

    from asrkit.text.tokenizer import Tokenizer

    tok_path = Path(args.lang_dir) / "tokens.model"
    if not tok_path.is_file():
        raise AsrkitError(f"{tok_path}: no such file (make it with asrkit-train-tokenizer)")
    tokenizer = Tokenizer.load(str(tok_path))
    cmvn = load_cmvn(args.cmvn)
    b = cfg.batching
    train_set = FeatureDataset(load_utterances(args.train_dir, tokenizer, b.max_missing_ratio),
                               str(Path(args.train_dir) / "feats.scp"), cmvn, args.norm_vars, b.cache_features)
    valid_set = None
    if args.valid_dir:
        valid_set = FeatureDataset(load_utterances(args.valid_dir, tokenizer, b.max_missing_ratio),
                                   str(Path(args.valid_dir) / "feats.scp"), cmvn, args.norm_vars,
                                   b.cache_features)
        if valid_set.idim != train_set.idim:
            raise AsrkitError(f"{args.valid_dir}/feats.scp has {valid_set.idim}-dim features, "
                              f"{args.train_dir}/feats.scp {train_set.idim}-dim")
    model = build_model(train_set.idim, tokenizer.vocab_size, cfg.model, args.config or "config")
    log.info("model: %.2fM parameters, idim %d, vocab %d",
             sum(p.numel() for p in model.parameters()) / 1e6, train_set.idim, tokenizer.vocab_size)
    meta = {
        "model_config": model.config.to_dict(), "idim": train_set.idim, "vocab_size": tokenizer.vocab_size,
        "feature_config": find_fbank_config(args.train_dir, args.fbank_config),
        "cmvn": cmvn, "cmvn_norm_vars": args.norm_vars,
        "tokenizer": tokenizer.to_bytes(), "tokens": list(tokenizer.tokens),
    }
    trainer = Trainer(cfg, model, train_set, valid_set, tokenizer, exp, meta, device, rank, world)
    trainer.resume()
    if runs is not None:  # the budget counts every run of this training, not only this one
        runs.epochs_done = lambda: trainer.state.epoch
        trainer.time_used = runs.used
    if rank == 0:  # only once the config is known to fit the exp dir's checkpoints
        with atomic_open(exp / "config.yaml") as f:
            f.write(dump_config(cfg))
    if trainer.finished():
        log.info("%s: training already finished at epoch %d", exp, trainer.state.epoch)
    trainer.run()
    out = None
    if rank == 0:
        out = pack_best(exp, cfg.training.best_metric)
        hist = trainer.state.history
        why = " (stopped early)" if trainer.state.stopped_early else " (time budget)" if trainer.out_of_time else ""
        log.info("Done %d epochs out of %d%s in %.0f s; packed model: %s", trainer.state.epoch,
                 cfg.training.max_epochs, why, time.time() - start, out)
        if runs is not None:
            runs.outcome = "budget" if trainer.out_of_time else "done"
            log.info("training time over %d run(s): %.0f s (%s)", runs.row.run, runs.used(), runs.path)
        if hist:
            log.info("last epoch: %s", ", ".join(f"{k} {v:.4g}" for k, v in hist[-1].items()
                                                  if isinstance(v, float)))
    if dist_info is not None:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return out


def pack_best(exp: Path, metric: str) -> Path:
    """Write ``exp/model.pt`` from the best checkpoint by ``metric`` (the last one if none has it)."""
    found = ckpt.list_checkpoints(exp)
    if not found:
        raise AsrkitError(f"{exp}/checkpoints: no checkpoint to pack")
    last = ckpt.load_checkpoint(found[max(found)])
    ranked = [e for e in ckpt.rank_epochs(last["train_state"]["history"], metric) if e in found]
    best_epoch = ranked[0] if ranked else max(found)
    state = last if best_epoch == max(found) else ckpt.load_checkpoint(found[best_epoch])
    row = next((r for r in last["train_state"]["history"] if r["epoch"] == best_epoch), {})
    out = exp / "model.pt"
    write_package(out, state["model"], state["package"], {"epochs": [best_epoch], "metric": metric,
                                                          "metrics": row})
    log.info("best epoch %d by %s (%s)", best_epoch, metric, row.get(metric))
    return out


def write_package(path: Path, state_dict: Dict[str, torch.Tensor], meta: Dict[str, Any],
                  extra: Dict[str, Any]) -> None:
    from asrkit.models.package import save_package

    model = build_model(meta["idim"], meta["vocab_size"], meta["model_config"], str(path))
    model.load_state_dict(state_dict)
    save_package(path, model, feature_config=meta["feature_config"], cmvn=meta["cmvn"],
                 cmvn_norm_vars=meta["cmvn_norm_vars"], tokenizer=meta["tokenizer"], tokens=meta["tokens"],
                 extra=extra)


# ---------------------------------------------------------------------- --ngpu N on one machine
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(local_rank: int, args: TrainArgs, world: int, port: int) -> None:
    os.environ.update({"RANK": str(local_rank), "LOCAL_RANK": str(local_rank), "WORLD_SIZE": str(world),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    from asrkit.utils.logging import setup_logging

    setup_logging(args.verbose)
    try:
        train(args)
    except AsrkitError as e:
        print(f"ERROR (asrkit-train rank {local_rank}): {e}", file=sys.stderr)
        sys.exit(1)


def launch_local(args: TrainArgs, nproc: int) -> None:
    """Run :func:`train` in ``nproc`` processes on this machine (one per GPU), as torchrun does."""
    import torch.multiprocessing as mp

    port = _free_port()
    log.info("starting %d training processes (DDP, master 127.0.0.1:%d)", nproc, port)
    try:
        mp.start_processes(_worker, args=(args, nproc, port), nprocs=nproc, join=True, start_method="spawn")
    except mp.ProcessExitedException as e:
        raise AsrkitError(f"training process {e.error_index} exited with status {e.exit_code} "
                          f"(its error is above; log: {args.exp_dir}/log/train.log)") from None
    except mp.ProcessRaisedException as e:
        raise AsrkitError(f"a training process failed:\n{e}") from None
