"""One training at a time per exp dir: an ``flock`` on ``<exp>/.lock``, held while the run lives.

Two runs on one exp dir (asr.sh started again while the first still trains, a Slurm job
requeued while its old process lives on, a wrapper such as ``timeout`` killed but not the python
under it) both resumed from the same checkpoint and wrote the same epochs, ``model.pt``,
``curves.csv`` and ``train_runs.tsv`` over each other without a word (and the second marked the
first one's row ``killed``). The second one now fails at once, naming the first one's pid.

The kernel drops the lock when its process ends, SIGKILL included, so a dead run never leaves a
stale lock behind. The file stays: removing it would race with a run taking it.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Optional

from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import file_identity, not_a_directory
from asrkit.utils.logging import get_logger

log = get_logger(__name__)

LOCK_NAME = ".lock"

# The lock descriptors this process holds. A forked child (a DataLoader worker) shares the lock
# with its descriptor and kept it after the run was SIGKILLed (~6 s, until the worker noticed):
# the re-run was refused naming the dead run's pid. Children close them as they start.
_held: set = set()


def _close_held_in_child() -> None:
    for fd in _held:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_held_in_child)


@contextlib.contextmanager
def exp_dir_lock(exp: Path, command: str) -> Iterator[None]:
    """Hold ``exp``'s lock for the block; AsrkitError naming the holder when another run has it."""
    exp = Path(exp)
    in_the_way = not_a_directory(exp)
    if in_the_way:
        raise AsrkitError(f"{in_the_way} (the exp dir to train into)")
    exp.mkdir(parents=True, exist_ok=True)
    path = exp / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    _held.add(fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                # A file system without locks (some NFS mounts): train unguarded, as before.
                log.warning("%s: cannot lock the exp dir (%s): nothing stops a second training into it",
                            path, os.strerror(e.errno or 0))
            else:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
                who = f"pid {holder[0]} on {holder[1]}" if len(holder) >= 2 else "another process"
                raise AsrkitError(f"{exp}: another {command} ({who}) is training into this exp dir; wait for it "
                                  f"to end or stop it, or train into another exp dir") from None
        else:
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
            except OSError as e:
                # A descriptor's error carries no file name: on a full disk the run said only "no
                # space left on device (writing an output whose name is not known here)".
                raise OSError(e.errno, e.strerror, str(path)) from None
        yield
    finally:
        _held.discard(fd)
        os.close(fd)


def refuse_non_files(exp: Path, names: Iterable[str]) -> None:
    """AsrkitError naming a named pipe or a directory under one of ``names``, the files a run
    writes in ``exp`` (asrkit-train's average.RUN_FILES, asrkit-train-lm's lm.yaml, lm.pt and logs).
    They are written in place when not regular files (a link to /dev/null stays one), and opening
    a pipe waits for a reader: log/train_runs.tsv as one hung asrkit-train before its first line,
    and timeout's SIGTERM too (the run's last act is to write it); the log or lm.yaml as one hung
    asrkit-train-lm the same way. A directory at model.pt or lm.pt failed only at packing, after
    the whole training. Checked under the exp dir's lock, before anything is written."""
    for name in names:
        path = exp / name
        if path.is_fifo():
            raise AsrkitError(f"{path}: a named pipe where the run writes its {name}; move it away")
        if path.is_dir():
            raise AsrkitError(f"{path}: a directory where the run writes its {name}; move it away")


# Files of an exp dir that only one kind of run writes: each refuses the other's dir.
# asrkit-train's (asrkit.training.average.RUN_FILES has them all) without its log/train.log, the name
# a Kaldi-style launcher may give an LM run's own log ($cmd exp/lm/log/train.log).
ASR_ONLY_FILES = ("model.pt", "log/train_runs.tsv")
LM_ONLY_FILES = ("lm.pt", "lm.yaml", "log/train_lm.log")
# Each kind of run: the other kind, and the files that tell its exp dir.
_OTHER_KIND = {"asrkit-train": ("asrkit-train-lm", LM_ONLY_FILES), "asrkit-train-lm": ("asrkit-train", ASR_ONLY_FILES)}


@contextlib.contextmanager
def claim_exp_dir(exp: Path, command: str, run_files: Iterable[str]) -> Iterator[None]:
    """What a training run (``command``: asrkit-train or asrkit-train-lm) checks before it writes
    into ``exp``, and the lock it holds while it writes there: ``exp`` is no checkpoints folder
    and no directory of other files (both checked before the lock file goes in), no other run
    trains into it, none of ``run_files`` (the files the run writes) is a directory or a named
    pipe, and it is no exp dir of the other kind of run."""
    from asrkit.training.checkpoint import refuse_checkpoints_folder  # (torch: not at import)

    refuse_checkpoints_folder(exp)
    other, other_files = _OTHER_KIND[command]
    # (the other kind's files are signs of an exp dir too: refuse_another_run names that run)
    refuse_foreign_dir(exp, [*run_files, *other_files], command)
    with exp_dir_lock(exp, command):
        refuse_non_files(exp, run_files)
        refuse_another_run(exp, other_files, other)
        yield


# Files at the top of a data dir or a lang dir, which no exp dir holds.
_INPUT_DIR_FILES = (("feats.scp", "a data dir"), ("wav.scp", "a data dir"), ("tokens.model", "a lang dir"))


def refuse_input_dirs(exp: Path, inputs: Mapping[str, Optional[str]]) -> None:
    """AsrkitError when ``exp`` is one of the run's input dirs (``inputs``: option -> dir) or holds a
    data or lang dir's files. A data dir given as EXP_DIR (an option's name left off, so that its
    dir became the positional argument) was trained into: checkpoints/, log/, config.yaml and
    model.pt went in among its feats.scp and text, or beside tokens.model, with exit 0. Checked
    before the lock file goes in."""
    here = file_identity(exp)  # (None: no exp dir yet, so none of the inputs)
    for option, path in inputs.items():
        if path and here is not None and here == file_identity(path):
            raise AsrkitError(f"{exp}: is the {option} dir, not an exp dir (the run would write its checkpoints, "
                              f"logs and model.pt among its files); give EXP_DIR a directory of its own")
    for name, kind in _INPUT_DIR_FILES:
        if (exp / name).exists():
            raise AsrkitError(f"{exp}: holds {name}, so it is {kind}, not an exp dir (the run would write its "
                              f"checkpoints, logs and model.pt among its files); give EXP_DIR a directory of its own")


# Signs of an exp dir besides a run's own files: its lock (every kind of run's), and what asr.sh
# writes there before the run starts (log/ too, a run file's).
_MADE_FOR_A_RUN = (LOCK_NAME, "checkpoints", "train_inputs", ".done")
# What the refusal names as each kind of run's.
_SHOWN_SIGNS = {"asrkit-train": ("checkpoints/", "log/", "config.yaml", "model.pt"),
                "asrkit-train-lm": ("log/", "lm.yaml", "lm.pt")}


def refuse_foreign_dir(exp: Path, run_files: Iterable[str], command: str) -> None:
    """AsrkitError when ``exp`` is a directory that holds something, but nothing an exp dir
    holds: none of ``run_files`` (by their first part: log/ for log/train.log), no checkpoints/,
    nor what asr.sh or a Kaldi-style launcher writes there before ``command`` starts
    (train_inputs, .done, a ``*.log``). ``asrkit-train ... /``, or $HOME, was trained into with
    exit 0: checkpoints/, log/, config.yaml and model.pt went in among the user's own files. A new
    or empty directory is a fresh exp dir, and one a run has started in is resumed, as before."""
    try:
        if not exp.is_dir():
            return
        names = sorted(p.name for p in exp.iterdir())
    except OSError:
        return  # (unreadable: the lock names it, in the command's own words)
    signs = {Path(f).parts[0] for f in run_files} | set(_MADE_FOR_A_RUN)
    if not names or any(n in signs or n.endswith(".log") for n in names):
        return
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    raise AsrkitError(f"{exp}: not an exp dir: it holds {len(names)} entr{'y' if len(names) == 1 else 'ies'} "
                      f"({shown}) and none of an {command} run's ({', '.join(_SHOWN_SIGNS[command])}), so "
                      f"the run would write its own among them; give EXP_DIR a new or empty directory, or the exp "
                      f"dir of the run to resume")


def refuse_another_run(exp: Path, names: Iterable[str], command: str) -> None:
    """AsrkitError when ``exp`` holds one of ``names``, files only ``command``'s runs write: an
    exp dir of another kind of run, whose log/curves.csv (its learning curve) this run would
    write over. asrkit-train-lm given an acoustic model's exp dir replaced its curves with exit 0
    once its checkpoints were gone (pruned after averaging); with them, it failed only at the
    resume. asrkit-train given an LM's exp dir did the same to the LM's curves."""
    for name in names:
        if (exp / name).exists():
            raise AsrkitError(f"{exp}: the exp dir of an {command} run (it holds its {name}): this run would write its "
                              f"log/curves.csv over that run's; give it an exp dir of its own")
