"""Wall time of one training across all its runs: the per-run record, the time budget, the projection.

A training often takes several runs of ``asrkit-train`` on one exp dir: killed and resumed,
or stopped by its time budget (``training.max_time``) and continued with a larger one. Each
run adds a row to ``<exp>/log/train_runs.tsv`` (tab-separated, one header line)::

    # run  started               seconds  from_epoch  to_epoch  status  config
    1      2026-11-30T10:00:03Z  612.4    0           5         killed  3f9a0c1e5b27
    2      2026-11-30T10:12:40Z  590.0    5           11        done    3f9a0c1e5b27

``seconds`` is the run's wall time from its start (data loading included) to its end, or to
its last update while it runs: the row is rewritten every few seconds and just before each
checkpoint is written, so a run killed with SIGKILL (which cannot write anything at its end)
still counts up to a few seconds before the kill, and at least up to its last checkpoint. ``from_epoch``/``to_epoch`` are the epochs finished when the run started and at its
last update. ``status``: ``running`` (a row the next run finds still ``running`` belonged to a
process that died without a word, and becomes ``killed``), ``done`` (max_epochs reached or
early stopping), ``budget`` (stopped by ``training.max_time``), ``failed`` (an error). ``config``
is the run's :func:`config_fingerprint` (empty in the rows of an asrkit that did not record it,
which wrote six columns). A run that fails or is interrupted before its training loop starts (a
continuation refused for another config) trained nothing and leaves no row.
The rows of a training add up to its training time: what ``asr.sh`` puts in ``train_seconds``
and in the RESULTS.md row. A training started afresh (no checkpoint in the exp dir) after runs
that finished epochs (their checkpoints since deleted: a new training) starts the table afresh;
after runs that finished none (killed, failed or stopped within the first epoch, with nothing to
resume from) it keeps their rows: the same training started again (a requeue), and their time was
spent on it; unless a row's config, or its data (--train-dir, --valid-dir, --lang-dir, --cmvn), is
another than this run's: that was another training, and the table goes to ``train_runs.tsv.old``
(said in one log line), this run's starting it afresh.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from asrkit.utils.errors import AsrkitError, os_error_message
from asrkit.utils.fileio import atomic_open
from asrkit.utils.logging import get_logger

log = get_logger(__name__)

RUNS_FILE = Path("log") / "train_runs.tsv"
COLUMNS = ("run", "started", "seconds", "from_epoch", "to_epoch", "status", "config")
HEARTBEAT_S = 5.0  # how often a running row is rewritten: the most a SIGKILLed run's time can miss


@dataclass
class RunRow:
    run: int
    started: str  # UTC, ISO 8601
    seconds: float
    from_epoch: int
    to_epoch: int
    status: str
    config: str = ""  # config_fingerprint; "": unknown (a row of an asrkit that wrote six columns)

    def line(self) -> str:
        return "\t".join([str(self.run), self.started, f"{self.seconds:.1f}", str(self.from_epoch),
                          str(self.to_epoch), self.status, self.config])


def config_fingerprint(config: Dict[str, Any], inputs: Optional[Dict[str, Optional[str]]] = None) -> str:
    """A short digest of a run's resolved config (``TrainConfig.to_dict()``) and ``inputs`` (option
    -> path: --train-dir, --valid-dir, ...), in its row: runs of one training that finished no epoch
    are told from those of another config, or on other data, by it.

    ``training.max_time`` is left out: the budget is what the rows are added up against, and a
    training requeued with more of it (asr.sh --train-max-time) is the same training. The inputs are
    compared as the files they name (``dump/train`` and ``./dump/train/`` are one); asrkit-train
    run by hand with another --train-dir, after a run that finished no epoch, counted that run's
    time as its own (asr.sh moves such rows aside by its own record of the inputs)."""
    config = {**config, "training": {k: v for k, v in dict(config.get("training") or {}).items() if k != "max_time"}}
    if inputs:
        config = {"config": config,
                  "inputs": {k: None if v is None else os.path.realpath(v) for k, v in sorted(inputs.items())}}
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def read_runs(exp_dir: Path) -> List[RunRow]:
    """The rows of ``<exp>/log/train_runs.tsv`` (none when there is no such file)."""
    path = Path(exp_dir) / RUNS_FILE
    if not path.is_file():
        return []
    rows = []
    for lineno, raw in enumerate(path.read_bytes().splitlines(), 1):
        def malformed(why: str) -> AsrkitError:
            shown = raw[:80].decode("utf-8", "replace") + (" ..." if len(raw) > 80 else "")
            return AsrkitError(f"{path}:{lineno}: malformed line ({why}): {shown!r}")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:  # a crash or a disk error left bytes there: was a traceback
            raise malformed("not UTF-8 text") from None
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        try:
            # (six: a table of an asrkit that did not record the config; its rows count as before)
            if len(f) not in (len(COLUMNS), len(COLUMNS) - 1):
                raise ValueError
            row = RunRow(int(f[0]), f[1], float(f[2]), int(f[3]), int(f[4]), f[5], *f[6:])
        except ValueError:
            raise malformed(f"expected {len(COLUMNS)} tab-separated fields: {' '.join(COLUMNS)} (or the first "
                            f"{len(COLUMNS) - 1})") from None
        # float() takes nan, inf and negatives: a nan ended every later run at once as 'out of time'
        # (exit 0, nothing trained), a negative one gave training.max_time that much more in silence.
        if not (math.isfinite(row.seconds) and row.seconds >= 0):
            raise malformed(f"seconds {f[2]!r} is not a number of seconds >= 0")
        if row.from_epoch < 0 or row.to_epoch < 0:
            raise malformed("a negative epoch")
        rows.append(row)
    return rows


class RunRecord:
    """This run's row in ``train_runs.tsv``, kept up to date by a background thread (rank 0 only).

    ``epochs_done`` tells the epochs finished so far (read at each update). ``used()`` is the
    training's wall time so far: the earlier runs' seconds plus this run's. ``config`` is this
    run's :func:`config_fingerprint` ("": not known, every earlier row taken as this training's).
    """

    def __init__(self, exp_dir: Path, fresh: bool, epochs_done: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic, heartbeat_s: float = HEARTBEAT_S,
                 config: str = "") -> None:
        self.path = Path(exp_dir) / RUNS_FILE
        self._clock = clock
        self._start = clock()
        self.epochs_done = epochs_done  # replaceable once the trainer exists
        self.outcome = "failed"  # what finish() writes unless the caller says how the run ended
        # Set when the training loop starts: a run that failed or was stopped before it (a resume
        # refused for another config, a bad dev set) trained nothing, and its row is taken out
        # again at finish(); a refused continuation made RESULTS.md say "(2 runs)".
        self.began = False
        self._heartbeat_s = heartbeat_s
        try:
            earlier = read_runs(exp_dir)
        except AsrkitError as e:
            if not fresh:
                raise
            # (a fresh run has no budget spent to read from it: it wrote the table over, as before)
            log.warning("%s: not kept, the table started afresh", e)
            earlier = []
        # A fresh start dropped every row, also those of the runs before it that ended within the
        # first epoch with nothing saved (a SIGUSR1 before the first batch, a kill, an error): the
        # table said 'stopped' and 'the same command run again starts it', then forgot that run.
        if fresh and any(row.to_epoch for row in earlier):
            log.info("%s: its runs trained epochs whose checkpoints are gone: a new training, its table started "
                     "afresh", self.path)
            earlier = []
        elif fresh and config and any(row.config and row.config != config for row in earlier):
            # Killed or stopped within epoch 1 under another config (another --set or config file):
            # another training, whose time counted toward this one's (train_seconds, the RESULTS.md
            # row's "(N runs)", training.max_time). Kept beside, as asr.sh does for other data.
            old = self.path.with_name(self.path.name + ".old")
            try:
                os.replace(self.path, old)
            except OSError as e:  # (os.replace's error named the table, not the .old in the way)
                raise AsrkitError(f"{old}: cannot move {self.path.name} there: {e.strerror or e}") from None
            log.info("%s: runs with another config or data that left nothing to resume, moved to %s (not counted in this "
                     "training's time)", self.path, old)
            earlier = []
        for row in earlier:
            if row.status == "running":  # its process died without updating it (SIGKILL, power cut)
                row.status = "killed"
        self.earlier = earlier
        self.spent_before = sum(r.seconds for r in earlier)
        epoch = epochs_done()
        self.row = RunRow(len(earlier) + 1, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), 0.0, epoch,
                          epoch, "running", config)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def elapsed(self) -> float:
        """This run's wall time so far."""
        return self._clock() - self._start

    def used(self) -> float:
        """The training's wall time so far, over every run."""
        return self.spent_before + self.elapsed()

    def start(self) -> None:
        self._write()
        self._thread = threading.Thread(target=self._beat, name="train-runs", daemon=True)
        self._thread.start()

    def update(self) -> None:
        """Rewrite the row now (as the heartbeat does); a failure to write is a warning."""
        try:
            self._write()
        except OSError as e:
            log.warning("%s", _os_error(e))

    def finish(self, status: Optional[str] = None) -> None:
        """Stop the updates and write the row's last state (``status``, else ``self.outcome``).

        Called on the way out, also after an error: a failure to write is a warning here, so
        it never hides the error that ended the run.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        status = status or self.outcome
        try:
            if not self.began and status in ("failed", "interrupted"):
                self._write_rows(self.earlier)
            else:
                self._write(status)
        except OSError as e:
            log.warning("%s", _os_error(e))

    def _beat(self) -> None:
        while not self._stop.wait(self._heartbeat_s):
            try:
                self._write()
            except OSError as e:  # a full disk must not stop the training; the end tries again
                log.warning("%s", _os_error(e))

    def _write(self, status: Optional[str] = None) -> None:
        with self._lock:
            self.row.seconds = self.elapsed()
            self.row.to_epoch = self.epochs_done()
            if status is not None:
                self.row.status = status
            # An OSError names the file: start() leaves it to the command (a full disk, said as
            # everywhere else); the updates after it only warn.
            self._write_rows([*self.earlier, self.row])

    def _write_rows(self, rows: List[RunRow]) -> None:
        with atomic_open(self.path) as f:
            f.write("# " + "\t".join(COLUMNS) + "\n")
            for row in rows:
                f.write(row.line() + "\n")


def _os_error(e: OSError) -> str:
    return os_error_message(e) or f"cannot write {e.filename}: {e.strerror or e}"


# ---------------------------------------------------------------------- budget and projection
def epoch_seconds(row: Dict) -> Optional[float]:
    """The measured wall time of one epoch's history row (training and validation)."""
    if row.get("epoch_time_s") is not None:
        return float(row["epoch_time_s"])
    if row.get("train_time_s") is not None:  # rows of checkpoints written before epoch_time_s existed
        return float(row["train_time_s"]) + float(row.get("valid_time_s") or 0.0)
    return None


def next_epoch_estimate(history: Sequence[Dict]) -> Optional[float]:
    """How long the next epoch will take: the last epoch's measured time (None before epoch 1).

    The last one, not a mean: it is the closest to the machine's present load, and the first
    epoch (which reads cached features from disk) is often the slowest.
    """
    for row in reversed(history):
        s = epoch_seconds(row)
        if s is not None:
            return s
    return None


def next_epoch_fits(history: Sequence[Dict], used_s: float, max_time: float) -> bool:
    """Whether another epoch fits in ``max_time`` seconds (0: no budget) after ``used_s`` spent.

    The first epoch always runs: without it there is no model to keep.
    """
    if max_time <= 0:
        return True
    estimate = next_epoch_estimate(history)
    if estimate is None:
        return True
    return used_s + estimate <= max_time


class BudgetClock:
    """The share of the time budget used, as the learning-rate schedule reads it at each step.

    Anchored at each epoch's start to the time used so far and the next epoch's estimate (rank 0's,
    broadcast), and moved on by the step count within the epoch: under DDP every rank must set the
    same rate at the same step, which each rank's own clock would not give.
    """

    def __init__(self, max_time: float) -> None:
        self.max_time = max_time
        self._share = 0.0  # at _step
        self._step = 0
        self._per_step = 0.0  # unknown before the first epoch is timed: no decay within epoch 1

    def anchor(self, used_s: float, step: int, epoch_estimate_s: Optional[float], steps_per_epoch: int) -> None:
        self._share = used_s / self.max_time
        self._step = step
        self._per_step = (epoch_estimate_s or 0.0) / max(steps_per_epoch, 1) / self.max_time

    def share(self, step: int) -> float:
        return self._share + max(0, step - self._step) * self._per_step


def _duration(s: float) -> str:
    s = max(0.0, s)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def projection(history: Sequence[Dict], max_epochs: int, used_s: float, max_time: float,
               now: Optional[float] = None) -> str:
    """One log line after an epoch: its time, and the projected time to max_epochs (and the budget)."""
    last = history[-1]
    epoch = int(last["epoch"])
    this = epoch_seconds(last) or 0.0
    recent = [s for s in (epoch_seconds(r) for r in history[-3:]) if s is not None]
    per_epoch = sum(recent) / len(recent) if recent else this
    left = max(0, max_epochs - epoch)
    text = f"epoch {epoch} took {this:.1f} s; {_duration(used_s)} of training so far"
    if left:
        rest = left * per_epoch
        try:
            end = time.strftime("%H:%M", time.localtime((now if now is not None else time.time()) + rest))
        except (OverflowError, OSError, ValueError):
            # --max-epochs 99999999999999999999 ends past time_t: this log line's OverflowError
            # was the run's traceback after its first epoch.
            end = "never (past the calendar)"
        text += (f"; {left} epoch{'s' if left > 1 else ''} to go at ~{per_epoch:.0f} s each: ~{_duration(rest)} "
                 f"more, done about {end}")
    if max_time > 0:
        remaining = max_time - used_s
        fit = int(max(0.0, remaining) // per_epoch) if per_epoch > 0 else left
        text += f"; time budget {max_time:.0f} s: {_duration(remaining)} left, room for ~{min(fit, left)} more epoch(s)"
    return text
