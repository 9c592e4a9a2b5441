"""The local back-end (Kaldi's run.pl): run JOB=1:N on this machine, a few at a time.

Each job is ``bash -c 'set -o pipefail; <command>'`` in its own process group, with stdout and
stderr appended to its log. A job with ``ntasks > 1`` starts that many copies with torchrun's
variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), so a
distributed training runs the same way here as under ``srun``; when one copy fails the others
are stopped, as ``srun --kill-on-bad-exit`` does.
"""
from __future__ import annotations

import contextlib
import errno
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from typing import IO, Iterator, Optional

from asrkit.launch.distributed import RENDEZVOUS_ID_VAR
from asrkit.launch.job import (FailureWarnings, JobResult, KeptLogs, Launch, LaunchResult, check_logs, log_error,
                               log_footer, log_header, make_log_dir, rotate_log)
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import is_stream, name_os_error, signals_deferred
from asrkit.utils.logging import get_logger, progress

logger = get_logger(__name__)

KILL_GRACE_S = 5.0
WAITER_JOIN_S = 60.0
# Linux takes no single argument of 128 KiB or more (MAX_ARG_STRLEN, E2BIG): the command is joined
# into one for 'bash -c', so a launch whose words were few enough for its own argv (a job given
# 30000 file names) failed at its start with an OSError traceback. A command this long (with room
# for the gate's words) is read by the job's bash from a file instead.
MAX_BASH_C_BYTES = 120_000

# The reaper's program (python -I -S -c, argv[1]: KILL_GRACE_S): the process groups of the
# running jobs arrive on stdin as "+PGID" and "-PGID"; "done" means the launcher ended them
# itself. End of input without it means the launcher died unable to (SIGKILL, the OOM killer):
# the jobs, each in a session of its own so that they can be stopped as a group, ran on
# unowned, often for hours of training.
_REAPER = r"""
import os, signal, sys, time
groups, clean = set(), False
for line in sys.stdin:
    line = line.strip()
    if line == "done":
        clean = True
        break
    if line[:1] == "+":
        groups.add(int(line[1:]))
    elif line[:1] == "-":
        groups.discard(int(line[1:]))
if not clean:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for g in list(groups):
            try:
                os.killpg(g, sig)
            except OSError:
                groups.discard(g)
        deadline = time.monotonic() + float(sys.argv[1])
        while groups and time.monotonic() < deadline:
            time.sleep(0.1)
            for g in list(groups):
                try:
                    os.killpg(g, 0)
                except OSError:
                    groups.discard(g)
"""


class _Reaper:
    """A process of its own session that stops the running jobs if the launcher is killed
    outright (nothing in the launcher runs then); a launcher that ends any other way stops its
    jobs itself and tells the reaper so."""

    def __init__(self) -> None:
        self.proc: Optional[subprocess.Popen] = None
        if not sys.executable:  # an embedded interpreter: no python to start
            return
        try:
            self.proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _REAPER, str(KILL_GRACE_S)],
                                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True, text=True)
        except OSError as e:  # the jobs can still run; only a SIGKILL of this launcher would orphan them
            logger.debug("no reaper for the jobs (%s): a SIGKILL of asrkit-launch would leave them running", e)

    def _send(self, line: str) -> None:
        if self.proc is None:
            return
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except OSError:  # the reaper is gone (killed by someone): the jobs run as before it existed
            self.proc = None

    def started(self, job: "_Job") -> None:
        for p in job.procs:
            self._send(f"+{p.pid}")

    def ended(self, job: "_Job") -> None:
        for p in job.procs:
            self._send(f"-{p.pid}")

    def close(self, clean: bool = True) -> None:
        """``clean``: the launcher ended every job itself; else the reaper stops those still listed."""
        if self.proc is None:
            return
        if clean:
            self._send("done")
        if self.proc is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=WAITER_JOIN_S)


def default_max_jobs() -> int:
    """The CPU cores this process may use (its affinity mask, not the whole machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _Job:
    """One running job: its processes (one per task) and its open log."""

    def __init__(self, launch: Launch, index: int, done: "queue.SimpleQueue[_Job]",
                 kept: Optional[KeptLogs] = None) -> None:
        self.index = index
        self.log = launch.log_path(index)
        self.threads = launch.num_threads
        self.code: Optional[int] = None
        command = launch.command_for(index)
        self.started = time.time()
        extra = [f"Running {launch.ntasks} tasks (RANK 0..{launch.ntasks - 1})"] if launch.ntasks > 1 else []
        what = f"JOB={index}" if launch.jobs is not None else "the job"
        # MASTER_PORT is found free and let go, not held as asrkit-train --ngpu holds its own
        # (distributed.reserve_port): the command is anyone's, and a held port refuses the plain
        # bind (no SO_REUSEADDR: socket, socketserver.TCPServer) of a command serving on it itself.
        # Found first, so a failure (EMFILE, ENOBUFS) leaves the job's log as it was.
        try:
            port = _free_port() if launch.ntasks > 1 else None
        except OSError as e:
            raise AsrkitError(f"cannot start {what} (log {self.log}): no port for its tasks' rendezvous: "
                              f"{e.strerror}") from None
        envs = _task_envs(launch.ntasks, launch.thread_env(), port, _rendezvous_id(index))
        # Written before the log is touched, as the port: a failure leaves the log as it was.
        self._command_file = _command_file(command, what, self.log)
        try:
            self._start(command, extra, envs, what, done, kept)
        except BaseException:
            self._close_command_file()
            raise

    def _start(self, command: str, extra: list, envs: list, what: str, done: "queue.SimpleQueue[_Job]",
               kept: Optional[KeptLogs]) -> None:
        make_log_dir(self.log)
        rotate_log(self.log, kept)  # an earlier run's log is kept as <log>.<N>, never overwritten
        try:
            # surrogateescape: a word of the command that is not UTF-8 (a Latin-1 file name, which
            # Python holds as surrogates) goes into the header as the bytes it was; it was a
            # UnicodeEncodeError traceback, and an empty log left behind.
            log = open(self.log, "w", encoding="utf-8", errors="surrogateescape")
        except OSError as e:
            raise log_error(e, self.log) from None
        self.procs: list = []
        # The gate: each task waits for a line on it before running the command, sent once the
        # reaper knows the task (release()). A launcher killed outright between a task's start
        # and the reaper's "+PGID" left that task running unowned (the window grew on a loaded
        # machine); now the task reads the end of the pipe there instead and runs nothing.
        self._gate: Optional[int] = None
        try:
            gate, self._gate = os.pipe()
        except OSError as e:
            log.close()
            name_os_error(e, self.log)
            raise
        wait_for_gate = (f"read -r -u {gate} _ || {{ echo 'asrkit-launch ended before this job could start' >&2; "
                         f"exit 1; }}; exec {gate}<&-; ")
        # (/dev/fd/N opens the file anew: each task reads it from its start)
        script = command if self._command_file is None else f". /dev/fd/{self._command_file.fileno()}"
        fds = (gate,) if self._command_file is None else (gate, self._command_file.fileno())
        try:
            with log:
                log.write(log_header(command, self.started, extra))
                log.flush()
                for env in envs:
                    self.procs.append(subprocess.Popen(
                        ["bash", "-c", wait_for_gate + "set -o pipefail; " + script], stdout=log,
                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                        pass_fds=fds))
        except OSError as e:
            self._close_gate()
            # A job runs whole or not at all: the tasks started before the one that failed are not
            # known to the launcher yet, and ran on unowned.
            self.kill()
            if not self.procs and _own_log_file(self.log):
                # nothing ran: an empty log would only mislead
                with contextlib.suppress(OSError):
                    os.unlink(self.log)
            if e.errno in (errno.EAGAIN, errno.ENOMEM):  # fork() refused: was a BlockingIOError traceback
                raise AsrkitError(f"cannot start {what} (log {self.log}): {e.strerror}: the process limit "
                                  f"(ulimit -u) or the memory is used up; lower --max-jobs-run") from None
            name_os_error(e, self.log)  # a full disk: the command's one handler reports it, naming the log
            raise
        finally:
            os.close(gate)
        self._waiter = threading.Thread(target=self._wait, args=(done,), daemon=True)
        try:
            self._waiter.start()
        except RuntimeError as e:  # "can't start new thread": the job would run with no one to wait for it
            self.kill()
            raise AsrkitError(f"cannot wait for {what} (log {self.log}): {e}; lower --max-jobs-run") from None

    def _wait(self, done: "queue.SimpleQueue[_Job]") -> None:
        first_failure: Optional[int] = None
        if len(self.procs) == 1:
            self.procs[0].wait()
        else:
            # Any task failing stops the rest: its peers would block in a collective forever.
            while True:
                codes = [p.poll() for p in self.procs]  # poll every task, not just the first alive
                if None not in codes:
                    break
                failed = [c for c in codes if c not in (None, 0)]
                if failed:
                    # The job's status is the failing task's, not the SIGTERM its peers then get.
                    first_failure = _exit_code(failed[0])
                    self.kill()
                    break
                time.sleep(0.05)
            for p in self.procs:
                p.wait()
        codes = [_exit_code(p.returncode) for p in self.procs]
        self.code = first_failure if first_failure is not None else next((c for c in codes if c != 0), 0)
        self._close_command_file()
        done.put(self)

    def _close_command_file(self) -> None:
        if self._command_file is not None:
            self._command_file.close()
            self._command_file = None

    def release(self) -> None:
        """Let the tasks run the command (the reaper knows them now)."""
        if self._gate is None:
            return
        with contextlib.suppress(OSError):  # (a task already stopped: nothing reads the gate)
            os.write(self._gate, b"\n" * len(self.procs))
        self._close_gate()

    def _close_gate(self) -> None:
        if self._gate is not None:
            os.close(self._gate)
            self._gate = None

    def kill(self) -> None:
        """SIGTERM the job's process groups (the bash and everything it started), then SIGKILL."""
        _stop(self.procs)

    def finish(self) -> JobResult:
        ended = time.time()
        try:
            with open(self.log, "a", encoding="utf-8") as log:
                log.write(log_footer(self.code, self.started, ended, self.threads))
        except OSError as e:
            name_os_error(e, self.log)
            raise
        return JobResult(self.index, self.code, self.log, ended - self.started)


def _stop(procs: list) -> None:
    """SIGTERM the process groups of ``procs``, then SIGKILL those still there after KILL_GRACE_S.

    All at once: stopped one job after the other, N jobs that take their grace (a training that
    catches SIGTERM) kept Ctrl-C waiting 5 s each, over 2 minutes for JOB=1:32.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in procs if p.poll() is None]
        for p in alive:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + KILL_GRACE_S
        while any(p.poll() is None for p in alive) and time.monotonic() < deadline:
            time.sleep(0.05)


def run_local(launch: Launch, max_jobs_run: Optional[int] = None, show_progress: bool = True) -> LaunchResult:
    """Run every job of ``launch``, at most ``max_jobs_run`` at once; never raises for a failed job.

    On an exception (Ctrl-C, SIGTERM turned into KeyboardInterrupt) the running jobs are
    killed and their logs closed with the exit status they got, then the exception goes on.
    """
    if max_jobs_run is None:
        max_jobs_run = default_max_jobs()
    if max_jobs_run < 1:
        raise AsrkitError(f"--max-jobs-run must be at least 1, got {max_jobs_run}")
    t0 = time.monotonic()
    result = LaunchResult(backend="local")
    indexes = launch.indexes
    # Every log before any job starts: one that cannot be written was found when its job's turn
    # came, and the jobs running then were killed, their work lost.
    check_logs(launch)
    jobs = _run(launch, indexes, max_jobs_run)
    try:
        for r in progress(jobs, total=len(indexes), desc="jobs", unit="job",
                          disable=not show_progress or len(indexes) == 1):
            result.results.append(r)
    finally:
        jobs.close()  # an exception here (e.g. Ctrl-C in a progress update) still stops the jobs
    result.results.sort(key=lambda r: r.index)
    result.elapsed_s = time.monotonic() - t0
    return result


def _run(launch: Launch, indexes: list[int], max_jobs_run: int) -> Iterator[JobResult]:
    pending = deque(indexes)
    running: dict[int, _Job] = {}
    done: "queue.SimpleQueue[_Job]" = queue.SimpleQueue()
    kept = KeptLogs()
    warnings = FailureWarnings(logger, launch)
    reaper = _Reaper()
    stopped = True  # whether every job this launcher started has ended or been stopped by it
    try:
        while pending or running:
            while pending and len(running) < max_jobs_run:
                index = pending.popleft()
                # A Ctrl-C between a job's start and its entry in `running` would leave that
                # job unkilled: let it land just after, when the job is known.
                with signals_deferred():
                    running[index] = _Job(launch, index, done, kept)
                    reaper.started(running[index])
                    running[index].release()
            job = done.get()
            del running[job.index]
            reaper.ended(job)
            result = job.finish()
            if result.code != 0:
                warnings.failed(result)
            yield result
    except BaseException:
        stopped = False
        # A second Ctrl-C or SIGTERM (pressed again while a job takes its grace to stop) broke off
        # this clean-up: the jobs not yet killed ran on unowned, their logs without a footer,
        # and the reaper, told "done", left them be. It now lands once every job is stopped.
        with signals_deferred():
            _stop([p for job in running.values() for p in job.procs])
            for job in running.values():
                # The processes are gone (kill() waited for them); the waiter only has to notice,
                # which on a loaded machine may take a while.
                job._waiter.join(timeout=WAITER_JOIN_S)
                if job.code is not None:
                    job.finish()
            stopped = True
        raise
    finally:
        # Not stopped (an error within the clean-up itself): the reaper stops what is left.
        reaper.close(clean=stopped)


def _command_file(command: str, what: str, log: str) -> Optional[IO[bytes]]:
    """A file holding ``command`` for the job's bash to source (``. /dev/fd/N``), open, when it is
    too long for one argument (:data:`MAX_BASH_C_BYTES`); None when it is not.

    The file has no name (tempfile.TemporaryFile: O_TMPFILE, or unlinked at once), so it goes
    with the last process holding it, a launcher killed outright (SIGKILL, the OOM killer)
    included: a named temporary file stayed in TMPDIR for good. A fixed name of the job's
    (<log dir>/q/<log name>.command, replaced by the next run) was replaced by another launch
    logging to the same name meanwhile: 6 of 10 pairs of such launches ran one command twice and
    the other not at all, both exit 0."""
    data = (command + "\n").encode("utf-8", "surrogateescape")
    if len(data) < MAX_BASH_C_BYTES:
        return None
    too_long = f"cannot start {what} (log {log}): its command ({len(data):,} bytes, too long for one argument)"
    try:
        f = tempfile.TemporaryFile(prefix="asrkit-launch-", suffix=".sh")
    except OSError as e:
        raise AsrkitError(f"{too_long} cannot be put in a temporary file in {tempfile.gettempdir()}: "
                          f"{e.strerror}") from None
    try:
        f.write(data)
        f.flush()
    except OSError as e:
        f.close()
        raise AsrkitError(f"{too_long} cannot be written to a temporary file in {tempfile.gettempdir()}: "
                          f"{e.strerror}") from None
    return f


def _task_envs(ntasks: int, extra: dict, port: Optional[int], rendezvous_id: str) -> list[Optional[dict]]:
    if ntasks == 1:
        return [dict(os.environ, **extra) if extra else None]  # None: the launcher's environment unchanged
    envs = []
    for rank in range(ntasks):
        env = dict(os.environ, **extra)
        # RENDEZVOUS_ID_VAR: the port was found free and let go, and may be taken before rank 0
        # binds it; asrkit-train's rank 0 then moves on (distributed.rendezvous_ports).
        env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(ntasks), LOCAL_WORLD_SIZE=str(ntasks),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), **{RENDEZVOUS_ID_VAR: rendezvous_id})
        envs.append(env)
    return envs


def _rendezvous_id(index: int) -> str:
    """A name for job ``index``'s rendezvous, unique on the machine and over time."""
    return f"local-{os.getpid()}-{index}-{secrets.token_hex(4)}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exit_code(returncode: int) -> int:
    # Popen reports death by signal as -N; shells (and run.pl's logs) say 128+N.
    return 128 - returncode if returncode < 0 else returncode


def _own_log_file(path: str) -> bool:
    """Whether ``path`` is a plain file this run may remove: not a device or stream (as root,
    ``asrkit-launch /dev/full ...`` removed /dev/full itself when the header write failed, and
    the next writer made a plain file there) and not a symbolic link to something else."""
    return os.path.isfile(path) and not os.path.islink(path) and not is_stream(path)
