"""Average the weights of the N best checkpoints of an exp dir into a packed model.

Averaging the last or best few epochs' weights (as ESPnet's ``average_checkpoints.py`` does)
usually gives a model a little better than any single one of them. Floating-point tensors are
averaged in float64; integer buffers (e.g. counters) are taken from the best checkpoint.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from asrkit.models.build import model_from_state_dict
from asrkit.models.config import LASConfig
from asrkit.models.las import LAS
from asrkit.models.package import save_package
from asrkit.training import checkpoint as ckpt
from asrkit.training.exp_lock import LOCK_NAME
from asrkit.training.timing import RUNS_FILE
from asrkit.utils.config import completed, dict_diff, to_dict
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike, not_found_reason
from asrkit.utils.logging import get_logger
from asrkit.utils.torch_files import check_finite_weights

log = get_logger(__name__)


def best_epochs(exp_dir: Path, num: int, metric: Optional[str] = None,
                max_epoch: Optional[int] = None) -> Tuple[List[int], str]:
    """The ``num`` best epochs that still have a checkpoint, best first, and the metric used
    ("latest" when none was recorded: the latest epochs then).

    ``max_epoch``: only epochs up to it, ranked by what was known then (that epoch's history),
    which is what a run stopped there would have averaged, if its checkpoints were all kept."""
    epochs, metric, _ = _ranked(exp_dir, num, metric, max_epoch)
    return epochs, metric


def checkpoints_given(paths: Sequence[PathLike]) -> Tuple[Path, Optional[List[int]]]:
    """The exp dir and the epochs to choose from, for asrkit-average's arguments: one exp dir (every
    checkpoint of it: None), or checkpoint files of one run (``exp/las/checkpoints/epoch<N>.pt``,
    as ESPnet's average_checkpoints.py takes snapshot files: a shell pattern's expansion, or one
    file), which were refused as 'not a directory' or 'unexpected extra arguments'."""
    paths = [Path(p) for p in paths]
    if len(paths) == 1 and (paths[0].is_dir() or not (paths[0].exists() or ckpt.checkpoint_name(paths[0].name))):
        return paths[0], None  # (the exp dir's own errors: no such exp dir, a checkpoints folder...)
    runs: Dict[Path, Path] = {}
    epochs = set()
    given: Dict[Tuple[int, int], Path] = {}  # (device, inode) -> the path it was first given as
    for p in paths:
        if p.is_dir():
            raise AsrkitError(f"{p}: a directory among {len(paths)} arguments: give one exp dir, or checkpoint files "
                              f"of one run (<exp-dir>/checkpoints/epoch<N>.pt)")
        if p.parent.name != "checkpoints":  # (epoch1.pt given from inside the checkpoints folder)
            p = Path(os.path.abspath(p))
        if not ckpt.checkpoint_name(p.name) or p.parent.name != "checkpoints":
            raise AsrkitError(f"{p}: not a checkpoint of an exp dir (<exp-dir>/checkpoints/epoch<N>.pt, as asrkit-train "
                              f"writes them): give the exp dir, or its checkpoints")
        if not p.is_file():
            raise AsrkitError(f"{p}: {not_found_reason(p, 'checkpoint') if not p.exists() else 'not a regular file'}")
        key = _file_key(p)
        if key is not None and key in given:
            # 'epoch2.pt epoch2.pt' (a typo for epoch1.pt) averaged one checkpoint where two were
            # asked for, in silence; one file by two paths (a symlink) is the same case.
            _warn_twice(p, given[key])
            continue
        given[key] = p
        runs.setdefault(p.parent.parent.resolve(), p.parent.parent)
        epochs.add(int(p.name[len("epoch"):-len(".pt")]))
    if len(runs) > 1:
        raise AsrkitError(f"checkpoints of {len(runs)} exp dirs ({', '.join(map(str, runs.values()))}): average "
                          f"checkpoints of one run only")
    return next(iter(runs.values())), sorted(epochs)


def _file_key(p: Path) -> Optional[Tuple[int, int]]:
    try:
        st = p.stat()
    except OSError:  # (a dangling link: refused where it is read, as before)
        return None
    return st.st_dev, st.st_ino


def _warn_twice(p: Path, first: Path, given: bool = True) -> None:
    log.warning("%s: %s: averaged once", p, "given twice" if str(p) == str(first) else
                f"the same file as {first}{' (given twice)' if given else ''}")


def _checkpoints(exp_dir: Path, only: Optional[Sequence[int]], warn: bool = False,
                 same: Optional[Dict[int, Path]] = None) -> Dict[int, Path]:
    """Epoch -> checkpoint of the exp dir, of the epochs ``only`` where given; a file that is
    another epoch's too (a symlink) only under the earlier epoch (``warn``: saying so; ``same``
    gets each such epoch and the earlier epoch's path)."""
    found = ckpt.list_checkpoints(exp_dir)
    found = found if only is None else {e: p for e, p in found.items() if e in set(only)}
    # epoch3.pt -> epoch2.pt was averaged as two epochs: one checkpoint's weights counted twice.
    first: Dict[Tuple[int, int], Path] = {}
    for e in sorted(found):
        key = _file_key(found[e])
        if key is not None and key in first:
            if warn:
                _warn_twice(found[e], first[key], given=False)
            if same is not None:
                same[e] = first[key]
            del found[e]
        elif key is not None:
            first[key] = found[e]
    return found


def _same_files(same: Dict[int, Path], epochs: Sequence[int]) -> str:
    """'epoch3.pt is epoch2.pt' for each of ``epochs`` (up to three), for a warning."""
    shown = [f"epoch{e}.pt is {same[e].name}" for e in epochs[:3]]
    return ", ".join(shown) + (", ..." if len(epochs) > 3 else "")


def _ranked(exp_dir: Path, num: int, metric: Optional[str],
            max_epoch: Optional[int], only: Optional[Sequence[int]] = None) -> Tuple[List[int], str, List[Dict]]:
    """:func:`best_epochs` and the run's record it ranked them by: the per-epoch rows of the latest
    checkpoint (up to ``max_epoch``). ``only``: the epochs to choose from (checkpoint files given)."""
    if not Path(exp_dir).is_dir():  # (a typo in the path read as "no checkpoints" in a dir that is not there)
        raise AsrkitError(f"{exp_dir}: no such exp dir" if not Path(exp_dir).exists() else f"{exp_dir}: not a directory")
    ckpt.refuse_checkpoints_folder(exp_dir)
    same: Dict[int, Path] = {}
    found = _checkpoints(exp_dir, only, warn=True, same=same)
    if not found:
        raise AsrkitError(f"{Path(exp_dir) / 'checkpoints'}: no checkpoints (epoch<N>.pt) to average")
    latest_kept = max(found)  # (the run trained at least that many epochs, whatever --max-epoch reads)
    if max_epoch is not None:
        if max_epoch < 1:
            raise AsrkitError(f"--max-epoch {max_epoch}: must be at least 1")
        kept = sorted(found)
        found = {e: p for e, p in found.items() if e <= max_epoch}
        same = {e: p for e, p in same.items() if e <= max_epoch}
        if not found:
            raise AsrkitError(f"{Path(exp_dir) / 'checkpoints'}: no checkpoint of epoch <= {max_epoch} "
                              f"(kept: epochs {', '.join(map(str, kept))})")
        if len(found) < max_epoch and max(kept) > max_epoch:
            # keep_best deleted the checkpoints that later epochs beat: the best of the first
            # max_epoch epochs may be gone, and this is not what a run stopped there would average.
            log.warning("%d of the first %d epochs have a checkpoint (training.keep_best deletes the others): the "
                        "average is over those, not necessarily the best %d a run stopped at epoch %d would have "
                        "kept", len(found), max_epoch, num, max_epoch)
    last = ckpt.load_checkpoint(found[max(found)])
    # An LM's exp dir (asrkit-train-lm) is named as such here, before its config (which has no
    # training: section) is looked into.
    ckpt.package_meta(last, found[max(found)])
    training = last["config"].get("training")
    kept_by = (training.get("best_metric") if isinstance(training, dict) else None) or "valid_loss"
    metric = metric or kept_by
    record = ckpt.epoch_rows(last)
    every = ckpt.rank_epochs(record, metric)
    if max_epoch is not None:
        every = [e for e in every if e <= max_epoch]
    if only is not None:  # (the others were not asked for: not "among the best but deleted")
        every = [e for e in every if e in found]
    ranked = [e for e in every if e in found]
    values = {int(r["epoch"]): float(r[metric]) for r in record if r.get(metric) is not None}
    diverged = [e for e in ranked if not math.isfinite(values.get(e, 0.0))]
    left_out = diverged if len(diverged) < len(ranked) else []
    if left_out:
        # A NaN/inf dev score ranks last, but with fewer finite epochs than --num it was averaged
        # in all the same (a run that diverged at its last epoch, always kept): that epoch's
        # weights pulled the average toward a model whose dev score could not even be computed.
        log.warning("epoch(s) %s have a non-finite %s (the run diverged there): left out of the average",
                    ", ".join(map(str, sorted(diverged))), metric)
        ranked = [e for e in ranked if e not in diverged]
    # An epoch whose file is an earlier epoch's (epoch3.pt -> epoch2.pt) has a checkpoint, averaged
    # once under the earlier epoch: blaming training.keep_best for it sent the user to the config.
    linked = [e for e in every[:num] if e in same]
    if linked:
        log.warning("epoch(s) %s are among the %d best by %s but their checkpoint is an earlier epoch's file (%s): "
                    "averaging the best that remain, %s", ", ".join(map(str, linked)), num, metric,
                    _same_files(same, linked), ", ".join(map(str, ranked[:num])) or "none")
    gone = [e for e in every[:num] if e not in found and e not in same]
    if gone and max_epoch is None:
        # Ranked by another metric than the one training kept checkpoints by (or asked for more
        # than it kept), the best epochs may be deleted ones: averaging the rest silently passed
        # off other epochs as "the N best".
        log.warning("epoch(s) %s are among the %d best by %s but have no checkpoint (training.keep_best kept the "
                    "best by %s): averaging the best that remain, %s", ", ".join(map(str, sorted(gone))), num, metric,
                    kept_by, ", ".join(map(str, ranked[:num])) or "none")
    if not ranked:  # no validation metric recorded: the latest epochs
        log.warning("no %s recorded in %s: averaging the latest checkpoints", metric, found[max(found)])
        # named as what they are: "Done averaging ... best by valid_cer" (and model.avg.pt's
        # metric) claimed a ranking that was never made
        ranked, metric = sorted(found, reverse=True), "latest"
    if len(ranked) < num:
        if only is not None:
            why = ["of those given"]
        else:
            # A run shorter than --num epochs (a time budget's first epoch) was blamed on
            # training.keep_best too, which sent the user to a config that had kept every epoch.
            # The record is the latest checkpoint's up to --max-epoch: where that epoch's file is
            # deleted, or the record lost (a train_state without history), the checkpoints' own
            # epochs say how far the run got.
            reached = max([latest_kept] + [int(r["epoch"]) for r in record])
            trained = reached if max_epoch is None else min(reached, max_epoch)
            why = [f"{trained} epoch(s) trained" + (f" up to --max-epoch {max_epoch}" if max_epoch is not None else "")
                   ] if trained < num else []
            if left_out:  # (kept, and left out above: not keep_best's doing)
                why.append(f"epoch(s) {', '.join(map(str, sorted(left_out)))} diverged: non-finite {metric}")
            if len(ranked) + len(same) + len(left_out) < min(trained, num):
                why.append("training.keep_best limits how many are kept")
        if same:
            # (epoch3.pt -> epoch2.pt took one: keep_best is named only where the links alone fall short)
            why = [f"{_same_files(same, sorted(same))}: one file, averaged once"] + \
                (why if len(ranked) + len(same) < num else [])
        log.warning("%d checkpoint(s) asked for, %d available (%s): averaging %d", num, len(ranked), "; ".join(why),
                    len(ranked))
    return ranked[:num], metric, record


def average_state_dicts(states: List[Dict[str, torch.Tensor]],
                        names: Optional[List[str]] = None) -> Dict[str, torch.Tensor]:
    """The mean of ``states`` (same names and shapes); ``names`` say which file each came from."""
    names = names or [f"checkpoint {i}" for i in range(len(states))]
    keys = list(states[0])
    for name, s in zip(names[1:], states[1:]):
        if list(s) != keys or any(s[k].shape != states[0][k].shape for k in keys):
            raise AsrkitError(f"{name} has other parameters than {names[0]}: not the same model")
    out = {}
    for k in keys:
        first = states[0][k]
        if first.is_floating_point():
            acc = torch.zeros_like(first, dtype=torch.float64)
            for s in states:
                acc += s[k].to(torch.float64)
            out[k] = (acc / len(states)).to(first.dtype)
        else:
            out[k] = first.clone()
    return out


def average_checkpoints(exp_dir: Path, num: int, out: Optional[Path] = None, metric: Optional[str] = None,
                        max_epoch: Optional[int] = None, only: Optional[Sequence[int]] = None) -> Path:
    """Write ``exp_dir/model.avg.pt`` (or ``out``) from the ``num`` best checkpoints (of the epochs
    up to ``max_epoch``, if given; of the epochs ``only``, if given); returns its path."""
    if num < 1:
        raise AsrkitError(f"--num {num}: must be at least 1")
    exp_dir = Path(exp_dir)
    out = Path(out) if out else exp_dir / "model.avg.pt"
    _refuse_run_file(out, exp_dir)
    epochs, metric, record = _ranked(exp_dir, num, metric, max_epoch, only)
    found = _checkpoints(exp_dir, only)
    # the checkpoint whose rows are the run's record (of the epochs up to --max-epoch, as ranked)
    latest = max(e for e in found if max_epoch is None or e <= max_epoch)
    rows = {}  # each checkpoint's per-epoch rows
    states = []
    first = None
    for e in epochs:
        state = ckpt.load_checkpoint(found[e])
        meta = ckpt.package_meta(state, found[e])
        rows[e] = ckpt.epoch_rows(state)
        if first is None:
            first = (found[e], completed(LASConfig, state["config"].get("model")), meta)
        else:
            _same_model(found[e], completed(LASConfig, state["config"].get("model")), meta, *first)
        # asrkit-train never writes such a checkpoint; one that holds NaN or Inf all the same
        # (damaged, or from elsewhere) would make a model.avg.pt that every decoder refuses.
        check_finite_weights(state["model"], f"{found[e]}: damaged asrkit checkpoint")
        # Weights whose names or shapes do not fit the model its config describes (damaged, or
        # edited) were averaged and written as a model.avg.pt that every decoder then refused
        # ("model does not match its config"), with exit 0 here.
        model_from_state_dict(lambda: LAS(meta.idim, meta.vocab_size, meta.model_config), state["model"],
                              f"{found[e]}: damaged asrkit checkpoint")
        states.append(state["model"])
    for e in epochs:
        if e != latest:
            _same_run(found[e], rows[e], found[latest], record)
    meta = first[2]
    averaged = average_state_dicts(states, [str(found[e]) for e in epochs])
    save_package(out, averaged, meta.replace(extra={**meta.extra, "epochs": epochs, "metric": metric, "averaged": True}))
    log.info("Done averaging %d checkpoint(s) (epochs %s, %s) into %s", len(epochs), " ".join(map(str, epochs)),
             "the latest" if metric == "latest" else f"best by {metric}", out)
    return out


# The files of the exp dir that the run itself writes (docs/training.md): config.yaml (the record
# of what was trained; --out e/config.yaml replaced it by a zip, with exit 0),
# model.pt (the best epoch, re-packed by a re-run: an average written there would be replaced),
# the logs (train_runs.tsv is the time the budget and asr.sh's train_seconds add up) and the lock.
RUN_FILES = ("config.yaml", "model.pt", "log/train.log", "log/curves.csv", str(RUNS_FILE), LOCK_NAME)


def _refuse_run_file(out: Path, exp_dir: Path) -> None:
    """AsrkitError when ``out`` is a checkpoint's name or one of :data:`RUN_FILES` of ``exp_dir``
    (checked before any checkpoint is read: the run's own files are never written)."""
    where = out.resolve()
    if out.parent.resolve() == (exp_dir / "checkpoints").resolve() and ckpt.checkpoint_name(out.name):
        # A packed model under a checkpoint's name replaced it (that epoch lost to a resume,
        # and the next asrkit-average, or the packing at the end of training, failed on it).
        raise AsrkitError(f"--out {out}: that is where the run's checkpoints go; write the averaged model elsewhere "
                          f"(default: {exp_dir / 'model.avg.pt'})")
    for name in RUN_FILES:
        if where == (exp_dir / name).resolve():
            raise AsrkitError(f"--out {out}: that is the run's own {name}; write the averaged model elsewhere "
                              f"(default: {exp_dir / 'model.avg.pt'})")
    # Another run's files as much (exp2/checkpoints/epoch1.pt, exp2/model.pt: a typo of one exp dir
    # for the other replaced that run's checkpoint or packed model, exit 0).
    if out.parent.name == "checkpoints" and ckpt.checkpoint_name(out.name):
        raise AsrkitError(f"--out {out}: that is where {out.parent.parent}'s checkpoints go; write the averaged "
                          f"model elsewhere (default: {exp_dir / 'model.avg.pt'})")
    for name in RUN_FILES:
        depth = len(Path(name).parts)
        if out.parts[-depth:] == Path(name).parts and _is_run_dir(Path(*out.parts[:-depth]) if out.parts[:-depth]
                                                                   else Path(".")):
            raise AsrkitError(f"--out {out}: that is the {name} of another training run; write the averaged model "
                              f"elsewhere (default: {exp_dir / 'model.avg.pt'})")


def _is_run_dir(d: Path) -> bool:
    """Whether ``d`` holds an asrkit-train run: its checkpoints folder, or its config and log."""
    try:
        return bool(ckpt.list_checkpoints(d)) or ((d / "config.yaml").is_file() and (d / "log" / "train.log").is_file())
    except (AsrkitError, OSError):
        return False


def _same_rows(a: List[Dict], b: List[Dict]) -> bool:
    """Rows equal, a NaN equal to a NaN (a diverged epoch's dev loss is the same record in both)."""
    def same(x, y) -> bool:
        return x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))

    return len(a) == len(b) and all(r.keys() == q.keys() and all(same(r[k], q[k]) for k in r) for r, q in zip(a, b))


def _same_run(path: Path, rows: List[Dict], latest_path: Path, record: List[Dict]) -> None:
    """AsrkitError when ``path``'s per-epoch rows are not the start of the run's ``record``: a
    checkpoint of another run of the same model (another seed, copied in) passed every check of
    :func:`_same_model`, and the weights of two independently trained networks were averaged into
    a broken model.avg.pt, exit 0. A run only appends rows, so each of its checkpoints holds the
    first rows of its latest one's."""
    if not record:  # a run's record lost (a train_state without history): nothing to compare with
        return
    for i, row in enumerate(rows):
        if i >= len(record) or not _same_rows([row], [record[i]]):
            raise AsrkitError(f"{path}: not of the same run as {latest_path} (its record of epoch "
                              f"{row.get('epoch', i + 1)} differs: a checkpoint of another run copied in?); "
                              f"average checkpoints of one run only")


def _same_model(path: Path, config, meta, first_path: Path, first_config, first_meta) -> None:
    """Weights of different models cannot be averaged: say which checkpoint differs and how."""
    changed = dict_diff(first_config or {}, config or {}, "model.")
    if meta.idim != first_meta.idim or meta.vocab_size != first_meta.vocab_size:
        changed.append(f"idim/vocab_size: {first_meta.idim}/{first_meta.vocab_size} -> {meta.idim}/{meta.vocab_size}")
    # The same sizes with another token list or input normalisation (a checkpoint copied in from a
    # run of another --lang-dir or --cmvn) were averaged in silence: output units of different
    # meanings, or weights fitted to features of another scale, under the first one's tokens and stats.
    elif meta.tokens != first_meta.tokens:
        i = next((i for i, (a, b) in enumerate(zip(first_meta.tokens, meta.tokens)) if a != b), None)
        changed.append(f"token {i}: {first_meta.tokens[i]!r} -> {meta.tokens[i]!r}" if i is not None else
                       f"tokens: {len(first_meta.tokens)} listed -> {len(meta.tokens)}")
    if (first_meta.cmvn is None) != (meta.cmvn is None):
        changed.append(f"cmvn: {'none' if first_meta.cmvn is None else 'global stats'} -> "
                       f"{'none' if meta.cmvn is None else 'global stats'}")
    elif first_meta.cmvn is not None and not np.array_equal(first_meta.cmvn, meta.cmvn):
        changed.append("cmvn: other stats")
    elif first_meta.cmvn is not None and first_meta.cmvn_norm_vars != meta.cmvn_norm_vars:
        changed.append(f"cmvn_norm_vars: {first_meta.cmvn_norm_vars} -> {meta.cmvn_norm_vars}")
    a, b = first_meta.feature_config, meta.feature_config
    if a != b:
        changed.extend(dict_diff(to_dict(a), to_dict(b), "features.") if a and b else
                       [f"features: {'none' if a is None else 'fbank'} -> {'none' if b is None else 'fbank'}"])
    if changed:
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        raise AsrkitError(f"{path}: another model than {first_path} ({shown}); average checkpoints of one run only")
