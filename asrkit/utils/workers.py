"""Worker processes that never outlive the command that started them.

A command killed with SIGKILL runs no clean-up at all, so its workers must notice on their own:
on Linux each worker asks the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``),
and checks once that the parent is still the one that forked it (it may have died before the
request was made). Elsewhere a thread in the worker polls the parent's pid.

``run_workers(target, jobs)`` runs ``target(*args)`` for each job in its own forked process and
returns the results in job order; an exception in a worker comes back as the same exception
(an ``AsrkitError`` with its message, an ``OSError`` with its errno and path), and the other
workers are stopped at once. So are all of them when the parent is interrupted (Ctrl-C,
SIGTERM), before the exception goes on.
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Sequence, Tuple

from asrkit.utils.errors import AsrkitError

PR_SET_PDEATHSIG = 1
STOP_GRACE_S = 5.0


def die_with_parent(parent_pid: int) -> None:
    """Make this (child) process die when ``parent_pid`` does; exit now if it already has."""
    done = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            done = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            done = False
    if os.getppid() != parent_pid:  # the parent died before the request above
        os._exit(1)
    if not done:
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _child(target: Callable, args: Tuple, conn, parent_pid: int) -> None:
    # Forked with SIGINT/SIGTERM blocked (see run_workers), so the parent's Python handlers
    # never run here. The parent handles Ctrl-C and stops its workers; a worker just dies on
    # SIGTERM (the parent removes the temporary files it handed out).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    die_with_parent(parent_pid)
    try:
        result = ("ok", target(*args))
    except AsrkitError as e:
        result = ("asrkit", str(e))
    except OSError as e:
        result = ("os", (e.errno, e.strerror, e.filename))
    except BaseException:  # a bug: keep its traceback for the parent's report
        result = ("bug", traceback.format_exc())
    try:
        conn.send(result)
    finally:
        conn.close()


def stop(procs: Sequence[multiprocessing.Process]) -> None:
    """SIGTERM the live ones, then SIGKILL what is left after a grace period."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()


def running_limit() -> int:
    """How many workers may run at once: each holds two descriptors in the parent (its result
    pipe and its exit sentinel) while it runs, and forking one takes two more for a moment."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 64
    if soft == resource.RLIM_INFINITY:
        return 4096
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 64
    return max(1, (soft - in_use - 16) // 3)


def run_workers(target: Callable[..., Any], jobs: Sequence[Tuple], name: str = "job") -> List[Any]:
    """``[target(*args) for args in jobs]``, each call in its own forked process.

    As many run at once as the open-file limit allows (:func:`running_limit`), the next starting
    as one ends: all were forked at once, so asrkit-compute-fbank --nj 600 under the usual limit of
    1024 failed part-way with an OSError traceback, 'Too many open files'."""
    ctx = multiprocessing.get_context("fork")
    parent = os.getpid()
    limit = running_limit()
    if len(jobs) > limit:
        logging.getLogger("workers").info("%d %ss, %d at a time (the open-file limit allows no more)",
                                          len(jobs), name, limit)
    live: Dict[int, multiprocessing.Process] = {}
    pending: Dict[Any, int] = {}  # result pipe -> job index
    results: List[Any] = [None] * len(jobs)
    try:
        started = 0
        while started < len(jobs) or pending:
            while started < len(jobs) and len(pending) < limit:
                recv, send = ctx.Pipe(duplex=False)
                p = ctx.Process(target=_child, args=(target, tuple(jobs[started]), send, parent), daemon=False)
                blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
                try:
                    p.start()
                    # Recorded while the stop signals are still held: a SIGTERM that was waiting is
                    # raised as soon as the mask is restored, and a started worker missing from
                    # ``live`` would not be stopped -- worse, multiprocessing's exit handler would
                    # then wait for it (a worker blocked on a pipe held the command for minutes).
                    live[started] = p
                    pending[recv] = started
                    send.close()
                finally:
                    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
                started += 1
            for c in multiprocessing.connection.wait(list(pending)):
                i = pending.pop(c)
                try:
                    kind, value = c.recv()
                except EOFError:
                    live[i].join()
                    code = live[i].exitcode
                    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
                    raise AsrkitError(f"{name} {i + 1} died without a result ({how})") from None
                finally:
                    c.close()
                if kind == "ok":
                    results[i] = value
                elif kind == "asrkit":
                    raise AsrkitError(value)
                elif kind == "os":
                    raise OSError(*value)
                else:
                    raise RuntimeError(f"{name} {i + 1} failed:\n{value}")
                # its descriptors go now, not when the command ends
                done = live.pop(i)
                done.join()
                done.close()
        return results
    finally:
        stop(list(live.values()))
        for c in pending:
            c.close()
