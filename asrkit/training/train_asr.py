"""``asrkit-train`` as a library call: the named steps from its options to exp/<name>/model.pt.

The command resolves its options once into :class:`TrainArgs` (the config, loaded and checked
before any data is read; the feature config; paths) and calls :func:`train`, which runs in every
process of a run (one, or one per GPU under DDP): it reads the tokenizer, CMVN and data, builds
the model and the packed model's :class:`PackageMeta`, hands both to the shared
:class:`~asrkit.training.trainer.Trainer` through a :class:`~asrkit.training.las_task.LASTask`
(which resumes from the exp dir's newest readable checkpoint), and (rank 0) packs the best
epoch into ``model.pt`` from its checkpoint. :func:`launch_local` starts N such processes on
this machine for ``--ngpu N``, as torchrun would.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from asrkit.features.fbank import FbankConfig
from asrkit.launch.distributed import (DistInfo, abandon_distributed, detect_distributed, init_distributed,
                                       leave_distributed, peer_failure, reserve_port, signals_heard_in_collectives)
from asrkit.models.build import build_model
from asrkit.models.las import LAS
from asrkit.models.package import TRAIN_DURATIONS, PackageMeta, duration_stats, with_upsampled_rates
from asrkit.training import checkpoint as ckpt
from asrkit.training import finetune
from asrkit.training.config import TrainConfig, dump_config
from asrkit.training.audio_data import AudioDataset, is_raw
from asrkit.training.average import RUN_FILES
from asrkit.training.exp_lock import claim_exp_dir, refuse_input_dirs
from asrkit.training.data import (FeatureDataset, check_num_workers, load_cmvn, load_utterances,
                                  release_free_memory, warn_dev_overlap)
from asrkit.training.las_task import LASTask
from asrkit.training.sample_rates import upsampled_rates
from asrkit.training.stop_signal import (STOP_SIGNALS, STOPPED_STATUS, StopRequest, TrainingStopped, stop_on_signals,
                                         torchrun_passes_no_stop)
from asrkit.training.timing import RunRecord, config_fingerprint
from asrkit.training.trainer import Trainer, seed_everything
from asrkit.utils.config import SettingError
from asrkit.utils.device import resolve_device
from asrkit.utils.errors import AsrkitError, error_source, from_worker, os_error_message, rank_error
from asrkit.utils.fileio import atomic_open, signals_deferred
from asrkit.utils.logging import DATEFMT, FORMAT, LogFileHandler, error_to_log_files, get_logger

log = get_logger(__name__)


@dataclass
class TrainArgs:
    """asrkit-train's options, resolved: what :func:`train` needs, each thing once."""

    exp_dir: str
    train_dir: str
    valid_dir: Optional[str]
    lang_dir: str
    config: TrainConfig  # loaded and checked (with --set and --seed applied) before any data is read
    fbank: Optional[FbankConfig] = None  # the features' options for model.pt (config.resolve_fbank_config)
    cmvn: Optional[str] = None
    norm_vars: bool = True
    ngpu: Optional[int] = None  # None: training.device decides; 0: CPU; N: N GPUs
    verbose: int = 0


def runs_fingerprint(args: TrainArgs) -> str:
    """This run's ``config`` in log/train_runs.tsv: its config and the data it trains on
    (:func:`asrkit.training.timing.config_fingerprint`)."""
    return config_fingerprint(args.config.to_dict(), {
        "--train-dir": args.train_dir, "--valid-dir": args.valid_dir, "--lang-dir": args.lang_dir,
        "--cmvn": args.cmvn})


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
    handler = LogFileHandler(str(path))
    handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
    logging.getLogger().addHandler(handler)
    return handler


def select_device(ngpu: Optional[int], cfg: TrainConfig, dist_info: Optional[DistInfo]) -> torch.device:
    """--ngpu decides when given (0: CPU, N: a GPU per rank), else training.device."""
    if ngpu is not None:
        name, option = ("cpu" if ngpu == 0 else "cuda"), f"--ngpu {ngpu}"
    else:
        # (named where it was given: "training.device 'cuda': ... CUDA is not available" left the
        # user to find which of a recipe's config, its --train-args and the defaults said cuda)
        name = cfg.training.device
        option = f"{cfg.given_before('training.device')}training.device {name!r}"
    return resolve_device(name, option, index=dist_info.local_rank if dist_info else 0)


def train(args: TrainArgs) -> Optional[Path]:
    """Train (or resume) into ``args.exp_dir``; returns the packed model's path on rank 0.

    SIGUSR1 from the start on stops it with its state saved (:mod:`asrkit.training.stop_signal`):
    :class:`TrainingStopped` is raised then, on every rank."""
    dist_info = None
    try:
        dist_info = detect_distributed()
        with stop_on_signals(StopRequest()) as request:
            if dist_info is None:
                return _train_ranked(args, dist_info, request)
            with signals_heard_in_collectives(functools.partial(_say_terminated, dist_info)):
                return _train_ranked(args, dist_info, request)
    except (AsrkitError, OSError, KeyboardInterrupt) as e:  # (KeyboardInterrupt: also SIGTERM's, SIGHUP's)
        failed = e
        if dist_info is not None:
            failed = rank_error(from_worker(e) if isinstance(e, AsrkitError) else e, dist_info.rank,
                                dist_info.world_size)
        if isinstance(failed, AsrkitError):
            _tell_torchrun(f"ERROR ({error_source('asrkit-train', failed)}): {from_worker(failed)}")
        if failed is e:
            raise
        raise failed from None


def _say_terminated(dist_info: DistInfo, why: str) -> None:
    """The ERROR line of a rank ended from signals_heard_in_collectives' thread: written to the fd
    itself (the main thread, stuck in C, may hold sys.stderr's lock)."""
    line = f"ERROR (asrkit-train rank {dist_info.rank} of {dist_info.world_size}): terminated by {why}"
    with contextlib.suppress(OSError):
        os.write(2, (line + "\n").encode("utf-8", "replace"))
    _tell_torchrun(line)


def _tell_torchrun(message: str) -> None:
    """Give torchrun this rank's error: its closing summary ("Root Cause (first observed failure)")
    said "traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html",
    last on the screen, sending the user to PyTorch's documentation instead of the ERROR line above.
    The file is torchrun's error file (TORCHELASTIC_ERROR_FILE, one per rank), in its format."""
    import json

    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            # (torch's own format: the summary shows py_callstack; a plain string was also a warning)
            json.dump({"message": {"message": message, "extraInfo": {"py_callstack": message,
                                                                     "timestamp": str(int(time.time()))}}}, f)
    except OSError:  # (the summary then says what it said before)
        pass


def _train_ranked(args: TrainArgs, dist_info: Optional[DistInfo], request: StopRequest) -> Optional[Path]:
    exp = Path(args.exp_dir)
    rank = dist_info.rank if dist_info else 0
    world = dist_info.world_size if dist_info else 1
    if rank != 0:
        logging.getLogger().setLevel(logging.WARNING)
    else:
        refuse_input_dirs(exp, {"--train-dir": args.train_dir, "--valid-dir": args.valid_dir, "--lang-dir": args.lang_dir})
    # Before anything is written into the exp dir: a second run into it fails here (exp_lock.py).
    lost = failed = stopped = None
    try:
        try:
            with claim_exp_dir(exp, "asrkit-train", RUN_FILES) if rank == 0 else contextlib.nullcontext():
                out = _train_logged(args, exp, dist_info, rank, world, request)
        except TrainingStopped as e:  # (every rank, at the same step; rank 0 has written the checkpoint)
            stopped = TrainingStopped(e.message)  # (not e: its frames hold the DDP model, and so the group)
        # Only after a training that ended well: a rank that failed leaves the others waiting in
        # the barrier, and ends them by leaving the group below (its launcher would, later).
        # (Not without one of its own: train() called in a process whose group is someone else's.)
        if dist_info is not None:
            leave_distributed()
        if stopped is not None:
            raise stopped
        return out
    except _PeerLost as e:
        lost = str(e)
    except RuntimeError as e:  # (rank 0 failed packing model.pt while this one waited in the barrier)
        lost = _peer_lost(e, dist_info, rank, world)
        if lost is None:
            raise
    except AsrkitError as e:
        if dist_info is None:
            raise
        # The same message, without the traceback and the exceptions before it: they hold this
        # run's frames, the DDP wrapper with them, and so the group, to the interpreter's exit.
        failed = AsrkitError(str(e))
    except KeyboardInterrupt as e:  # (Ctrl-C; SIGTERM and SIGHUP, which asrkit-train raises as one)
        if dist_info is None:
            raise
        failed = type(e)(*e.args)
    # Out of the except clauses: the training's frames are gone. A group left to the interpreter's
    # exit aborted a rank of 1 such run in 16 here ('terminate called without an active exception',
    # exit 134, after the rank's own line), as a finished run did before 590aaa13.
    # A launcher's SIGTERM to the ranks left (asrkit-launch, torchrun) came in here too: taken
    # after the group is gone, not in the middle of leaving it.
    with signals_deferred():
        abandon_distributed()
    if failed is not None:
        raise failed
    raise SystemExit(1)


class _PeerLost(Exception):
    """This rank's collective broke as another rank ended (the message says so, logged already)."""


def _peer_lost(e: RuntimeError, dist_info: Optional[DistInfo], rank: int, world: int) -> Optional[str]:
    """One log line when ``e`` is a collective broken by another rank's end; None otherwise.

    That rank's own ERROR line names the cause; this one printed gloo's 'Connection closed by
    peer' traceback after, and longer than, it. A log line, not a second ERROR line: asrkit-launch
    and run.pl users read a failed job's last ERROR line as its cause."""
    lost = peer_failure(e, rank, world) if dist_info is not None else None
    if lost is not None:
        log.error("%s", lost)
    return lost


def _train_logged(args: TrainArgs, exp: Path, dist_info: Optional[DistInfo], rank: int, world: int,
                  request: StopRequest) -> Optional[Path]:
    handler = _log_to_file(exp / "log" / "train.log") if rank == 0 else None
    runs = lost = None
    try:
        if rank == 0:
            log.info("%s", " ".join(sys.argv))
            # This run's row in log/train_runs.tsv, from now on: data loading is training time too.
            found = ckpt.list_checkpoints(exp)
            done_before = max(found) if found else 0
            runs = RunRecord(exp, fresh=not ckpt.has_checkpoints(exp), epochs_done=lambda: done_before,
                             config=runs_fingerprint(args))
            runs.start()
        # (the checks made from here on against this machine and the data name the config's line too)
        with args.config.where_given():
            return _train(args, exp, dist_info, rank, world, runs, request)
    except TrainingStopped:
        if runs is not None:
            runs.outcome = "stopped"
        raise
    except KeyboardInterrupt:
        if runs is not None:
            runs.outcome = "interrupted"
        raise
    except AsrkitError as e:  # its log file is closed before asrkit-train's wrapper prints this
        if handler is not None:
            error_to_log_files("asrkit-train", str(from_worker(e)), [handler])  # what stderr says
        raise
    except OSError as e:  # (a full disk, a refused permission: worded by the wrapper, as stderr says it)
        message = os_error_message(from_worker(e)) if handler is not None else None
        if message is not None:
            error_to_log_files("asrkit-train", message, [handler])
        raise
    except RuntimeError as e:  # (here, so that rank 0's line reaches its train.log too)
        lost = _peer_lost(e, dist_info, rank, world)
        if lost is None:
            raise
    finally:
        if runs is not None:
            runs.finish()
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
    raise _PeerLost(lost)  # (out of the except clause: the gloo error's frames are let go)


def _durations(num_frames, fbank) -> dict:
    """The training utterances' duration statistics for the packed model (decoding joins a cut
    recording's pieces up to about that length); frames of dumped features without a feature
    config are taken as Kaldi's 10 ms."""
    shift_ms = fbank.frame_shift if fbank is not None else 10.0
    return duration_stats(num_frames.astype("float64") * shift_ms / 1000.0)


def _dataset(args: TrainArgs, data_dir: str, tokenizer, cmvn, train: bool) -> FeatureDataset:
    """A dump dir's dataset: dumped features (feats.scp), or fbank computed from its audio (wav.scp)."""
    cfg = args.config
    b, aug = cfg.batching, cfg.augment
    # Dev utterances are validated on whatever CTC makes of them; the training set's are counted.
    misfit = cfg.model.ctc_misfits if train else None
    # The training set's transcripts are not kept: training needs only their token ids.
    if not is_raw(data_dir):
        if train and aug.active:
            raise SettingError(f"augment: on-the-fly augmentation needs a dump dir of audio (wav.scp), {data_dir} "
                               f"holds features (feats.scp); dump with asr.sh --feats-type raw, or drop augment",
                               aug.active_keys)
        if train and aug.resample:
            raise SettingError(f"augment.resample: only for a dump dir of audio (wav.scp); {data_dir} holds features "
                               f"(feats.scp), whose rate was fixed when they were computed (asrkit-compute-fbank "
                               f"--resample)", ["augment.resample"])
        return FeatureDataset(load_utterances(data_dir, tokenizer, b.max_missing_ratio, keep_text=not train,
                                              ctc_misfits=misfit), cmvn, args.norm_vars, b.cache_features)
    if args.fbank is None:
        raise AsrkitError(f"{data_dir} holds audio (wav.scp, no feats.scp): give --fbank-config, or put the "
                          f"fbank options in {data_dir}/fbank.yaml, to compute its features with")
    augment = aug if train else None
    min_speed = min(aug.speed_factors) if train and aug.speed_factors else 1.0
    table = load_utterances(data_dir, tokenizer, b.max_missing_ratio, keep_text=not train, fbank=args.fbank,
                            min_speed=min(min_speed, 1.0), ctc_misfits=misfit)
    log.info("%s: fbank computed from the audio in the data loader%s", data_dir,
             f" ({'augmented: ' + str(aug) if augment is not None and aug.active else 'no augmentation'})")
    return AudioDataset(table, args.fbank, cmvn, args.norm_vars, augment, cfg.training.seed,
                        b.cache_features, resample=aug.resample)


def _train(args: TrainArgs, exp: Path, dist_info: Optional[DistInfo], rank: int, world: int,
           runs: Optional[RunRecord] = None, request: Optional[StopRequest] = None) -> Optional[Path]:
    start = time.time()
    cfg = args.config
    device = select_device(args.ngpu, cfg, dist_info)
    # With the device, before any data is read (with batching.cache_features, every feature matrix),
    # where the run starts afresh. A run with checkpoints may have nothing left to train (a finished
    # run trained on a larger machine, started again here by asr.sh's stage 4: no loader is made,
    # and it was not refused); make_loader checks it when an epoch starts.
    if not ckpt.has_checkpoints(exp):
        check_num_workers(cfg.batching.num_workers)
    if dist_info is not None:
        backend = init_distributed(dist_info, "nccl" if device.type == "cuda" else "gloo")
        log.info("rank %d of %d (%s, %s)", rank, world, backend, device)
        note = torchrun_passes_no_stop()
        if note is not None and rank == 0:
            log.info("%s", note)
    # Each rank its own dropout/SpecAugment stream; DDP copies rank 0's initial weights to all.
    seed_everything(cfg.training.seed + rank)
    log.info("seed %d, device %s", cfg.training.seed, device)

    from asrkit.text.tokenizer import Tokenizer

    lang = Path(args.lang_dir)
    if lang.exists() and not lang.is_dir():
        # (it was "<it>/tokens.model: no such file (make it with asrkit-train-tokenizer)": the model
        # itself given for its dir sent the user to remake a sound tokenizer)
        raise AsrkitError(f"--lang-dir {lang}: a file, not a directory (give the directory that holds tokens.model"
                          f"{f': {lang.parent}' if lang.name == 'tokens.model' else ''})")
    tok_path = lang / "tokens.model"
    # (a directory of that name was "no such file"; other kinds that are no regular file, a named
    # pipe or a device, are named by Tokenizer.load, not called missing)
    if tok_path.is_dir() or not tok_path.exists():
        raise AsrkitError(f"{tok_path}: {'a directory, not a tokenizer model' if tok_path.is_dir() else 'no such file'} "
                          f"(make it with asrkit-train-tokenizer)")
    tokenizer = Tokenizer.load(str(tok_path))
    cmvn = load_cmvn(args.cmvn, args.norm_vars)
    train_set = _dataset(args, args.train_dir, tokenizer, cmvn, train=True)
    valid_set = None
    if args.valid_dir:
        valid_set = _dataset(args, args.valid_dir, tokenizer, cmvn, train=False)
        if valid_set.idim != train_set.idim:
            raise AsrkitError(f"{args.valid_dir} has {valid_set.idim}-dim features, {args.train_dir} {train_set.idim}-dim")
        if rank == 0:
            warn_dev_overlap(train_set.table, valid_set.table, args.train_dir, args.valid_dir)
    if valid_set is None and rank == 0 and cfg.training.patience:
        # (no epoch has a dev metric: every epoch counted as an improvement, and nothing said so)
        log.warning("%sno --valid-dir: training.patience %d stops nothing (early stopping watches %s on the dev "
                    "set); every one of training.max_epochs=%d epochs runs", cfg.given_before("training.patience"),
                    cfg.training.patience,
                    cfg.training.best_metric, cfg.training.max_epochs)
    if args.fbank is not None and args.fbank.dim != train_set.idim:
        raise AsrkitError(f"the feature config ({args.fbank.dim}-dim fbank) does not describe "
                          f"{args.train_dir}/feats.scp ({train_set.idim}-dim features): give --fbank-config with "
                          f"the options they were made with")
    spec = cfg.model.specaug
    if rank == 0 and spec is not None and spec.freq_masks and spec.freq_width >= train_set.idim:
        # (SpecAugConfig's default 30 is ESPnet's for 80 bins: `specaug: {}` on 23-bin features hid
        # every bin of one utterance in about twelve, in silence)
        log.warning("%smodel.specaug.freq_width %d is not below the features' %d bins: a frequency mask can hide "
                    "every bin of an utterance; set it to a fraction of them (ESPnet's 30 is for 80 bins)",
                    cfg.given_before("model.specaug.freq_width"), spec.freq_width, train_set.idim)
    model = build_model(lambda: LAS(train_set.idim, tokenizer.vocab_size, cfg.model), "the config's model: section")
    log.info("model: %.2fM parameters, idim %d, vocab %d",
             sum(p.numel() for p in model.parameters()) / 1e6, train_set.idim, tokenizer.vocab_size)
    # Before the Trainer builds its optimizer, which takes only the parameters left trainable.
    resuming = ckpt.has_checkpoints(exp)
    finetune.apply(model, cfg.finetune, resuming=resuming, idim=train_set.idim,
                   tokens=tokenizer.tokens, fbank=args.fbank, feats=f"{args.train_dir}/feats.scp", lang=str(tok_path),
                   cmvn=cmvn, norm_vars=args.norm_vars, cmvn_path=args.cmvn, named=cfg.init_named())
    meta = PackageMeta(model_config=cfg.model, idim=train_set.idim, vocab_size=tokenizer.vocab_size,
                       feature_config=args.fbank, cmvn=cmvn, cmvn_norm_vars=args.norm_vars,
                       tokenizer=tokenizer.to_bytes(), tokens=list(tokenizer.tokens),
                       extra={TRAIN_DURATIONS: _durations(train_set.table.num_frames, args.fbank)})
    # The rates its training audio was resampled up from: decoding leaves the mel bins those
    # recordings had empty as the model learned them (asrkit.training.sample_rates).
    rates = upsampled_rates(args.train_dir, train_set.table, args.fbank, is_raw(args.train_dir),
                            cfg.augment.resample)
    if rates is not None:
        meta = with_upsampled_rates(meta, rates, f"{args.train_dir}/utt2sample_rate")
        if rates:
            log.info("training audio resampled up from %s Hz: recorded in the model",
                     ", ".join(str(r) for r in rates))
    task = LASTask(model, meta, cfg, train_set, valid_set, tokenizer, exp, rank, world)
    dev_set = {"dev_set": valid_set.table.fingerprint()} if valid_set is not None else {}
    trainer = Trainer(task, cfg.optim, cfg.training, exp, {**cfg.to_dict(), **dev_set}, device, rank, world,
                      config_class=TrainConfig)
    if request is not None:
        trainer.stop_request = request
    if not trainer.resume() and resuming and cfg.finetune.init:
        # Only checkpoints/interrupted.pt was there, and it was passed over (unreadable, or written
        # by other ranks, batches or seed: warned above): the run would start from the start with
        # --init unread, from random weights.
        raise AsrkitError(f"{ckpt.mid_epoch_path(exp)}: not resumed from (above), and --init {cfg.finetune.init} "
                          f"is read only by a run that starts afresh: move it away to train from --init, or "
                          f"resume it as it was written")
    trainer.refuse_unranked_epochs(valid_set is not None, "--valid-dir", "model.pt")
    if runs is not None:  # the budget counts every run of this training, not only this one
        runs.epochs_done = lambda: trainer.state.epoch
        trainer.time_used = runs.used
        trainer.before_checkpoint = runs.update
    if rank == 0:  # only once the config is known to fit the exp dir's checkpoints
        with atomic_open(exp / "config.yaml") as f:
            f.write(dump_config(cfg))
    if trainer.finished():
        log.info("%s: training already finished at epoch %d", exp, trainer.state.epoch)
    elif rank == 0 and args.valid_dir:  # (rank 0 validates) at once, not after an epoch of training
        task.check_dev_set(args.valid_dir)
    # Last before the loader workers fork: the tables' text, the sampler's sort and a resumed
    # checkpoint are garbage by now, and glibc would keep their heap in every process.
    release_free_memory()
    if runs is not None:
        runs.began = True
    trainer.run()
    out = None
    if rank == 0:
        out = ckpt.pack_best(exp, cfg.training.best_metric, exp / "model.pt")
        hist = trainer.state.history
        why = " (stopped early)" if trainer.state.stopped_early else " (time budget)" if trainer.out_of_time else ""
        # A run resumed with a smaller max_epochs than its checkpoints hold trains nothing more.
        of = (f"out of {cfg.training.max_epochs}" if trainer.state.epoch <= cfg.training.max_epochs
              else f"(more than training.max_epochs {cfg.training.max_epochs}: trained by an earlier run)")
        log.info("Done %d epochs %s%s in %.0f s; packed model: %s", trainer.state.epoch, of, why,
                 time.time() - start, out)
        if runs is not None:
            runs.outcome = "budget" if trainer.out_of_time else "done"
            log.info("training time over %d run(s): %.0f s (%s)", runs.row.run, runs.used(), runs.path)
        if hist:
            log.info("last epoch: %s", ", ".join(f"{k} {v:.4g}" for k, v in hist[-1].items()
                                                  if isinstance(v, float)))
    return out


# ---------------------------------------------------------------------- --ngpu N on one machine

def _worker(local_rank: int, args: TrainArgs, world: int, port: int) -> None:
    os.environ.update({"RANK": str(local_rank), "LOCAL_RANK": str(local_rank), "WORLD_SIZE": str(world),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    from asrkit.utils.logging import setup_logging

    setup_logging(args.verbose)
    try:
        train(args)
    except AsrkitError as e:
        print(f"ERROR ({error_source('asrkit-train', e)}): {e}", file=sys.stderr)
        sys.exit(1)


@contextlib.contextmanager
def _stop_signals_passed_on():
    """--ngpu N's first process: a stop signal (SIGUSR1) sent to it alone is passed on to the ranks,
    which stop at a step together; one sent to the process group as well reaches each rank twice,
    which changes nothing. It is blocked here, not handled: the ranks start with this thread's
    signal mask, so one that comes while they start (a second or more) waits until
    stop_on_signals handles it, rather than ending the rank by its default action."""
    import signal
    import threading

    import multiprocessing
    import torch.multiprocessing as mp

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = set(STOP_SIGNALS)
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)

    def relay() -> None:
        while True:
            signum = signal.sigwait(wanted)
            for child in multiprocessing.active_children():
                with contextlib.suppress(OSError):
                    os.kill(child.pid, signum)

    # (daemon: still waiting when the ranks are done; a signal then goes to it, and is passed on to no one)
    threading.Thread(target=relay, name="asrkit-stop-relay", daemon=True).start()
    stopped = False
    try:
        yield
    except mp.ProcessExitedException as e:
        # The ranks stopped on request and this process ends with their status 75: a signal coming
        # now stays blocked (the relay takes it) rather than ending it with status 138.
        stopped = e.exit_code == STOPPED_STATUS
        raise
    finally:
        if not stopped:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, wanted)


def launch_local(args: TrainArgs, nproc: int) -> None:
    """Run :func:`train` in ``nproc`` processes on this machine (one per GPU), as torchrun does."""
    import torch.multiprocessing as mp

    held = reserve_port()  # until the ranks have ended (reserve_port says why)
    port = held.getsockname()[1]
    log.info("starting %d training processes (DDP, master 127.0.0.1:%d)", nproc, port)
    try:
        with held, _stop_signals_passed_on():
            mp.start_processes(_worker, args=(args, nproc, port), nprocs=nproc, join=True, start_method="spawn")
    except mp.ProcessExitedException as e:
        if e.exit_code == STOPPED_STATUS:  # (rank 0 has said where, and written the checkpoint)
            raise TrainingStopped(f"training process {e.error_index} stopped on request") from None
        raise AsrkitError(f"training process {e.error_index} exited with status {e.exit_code} "
                          f"(its error is above; log: {args.exp_dir}/log/train.log)") from None
    except mp.ProcessRaisedException as e:
        raise AsrkitError(f"a training process failed:\n{e}") from None
