"""Whether a process has ended, as the tests that kill runs and their workers check it; a
signal landing at a command's renames, for the tests of what it leaves; and a wait on a named
pipe turned into a failure."""
from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Iterator


def ended(pid: int) -> bool:
    """Not running: no such process, or a zombie (Z) or dead (X) one, left for whoever adopted
    it to reap, which a test cannot wait for (``os.kill(pid, 0)`` still finds a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):  # gone, or going while read
        return True
    return state in ("Z", "X")


class Hung(Exception):
    """A wait that :func:`no_waiting_for` cut short. Not an OSError, which the readers under test
    word as a read error and go on from."""


@contextlib.contextmanager
def no_waiting_for(what: str, seconds: int = 20, error: type = Hung) -> Iterator[None]:
    """Within it, a blocking call (an open() of a named pipe with no writer) that lasts ``seconds``
    raises :class:`Hung` (or ``error``) instead of hanging the test run."""
    def hung(*_):
        raise error(f"waited on {what}")

    old = signal.signal(signal.SIGALRM, hung)
    signal.siginterrupt(signal.SIGALRM, True)  # else the kernel restarts the open() the test is about
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def a_process_left_holding_the_output(tmp_path: Path) -> Iterator[str]:
    """The shell words that leave a ``sleep 60`` in the background holding a ``cmd |`` command's
    stdout (ssh's ControlPersist master does so), for the test to put in front of its command. The
    read within is bounded (:func:`no_waiting_for`, past the sleep: never what tells a wait); after
    it, the sleep must still run: a read that waited for that end-of-file returned only once it had
    ended. No clock is read. The sleep is stopped at the end."""
    pid_file = tmp_path / "holder.pid"
    try:
        with no_waiting_for("the background process's hold of the pipe", 120, AssertionError):
            yield f"(sleep 60 & echo $! > {pid_file}); "
        assert not ended(int(pid_file.read_text())), "the read returned only once the background process had ended"
    finally:
        if pid_file.exists() and pid_file.read_text().strip():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)


@contextlib.contextmanager
def sigint_after_each_rename(monkeypatch) -> Iterator[None]:
    """Within it, ``os.replace`` raises SIGINT (Python's KeyboardInterrupt) right after each rename:
    where a Ctrl-C or SIGTERM that arrives while a command renames its outputs into place lands,
    deterministically (no timing)."""
    real = os.replace

    def renamed_then_interrupted(src, dst):
        real(src, dst)
        signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        monkeypatch.setattr(os, "replace", renamed_then_interrupted)
        yield
    finally:
        monkeypatch.setattr(os, "replace", real)
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def a_terminal(typed: bytes = b"\x04") -> Iterator[int]:
    """A pseudo-terminal's own end (its descriptor), to give a command as a stdin that is a
    terminal, with ``typed`` already typed at it: an end of input (Ctrl-D) by default, so that a
    reader that does read the terminal fails at once rather than at the test's timeout."""
    main, sub = os.openpty()
    try:
        if typed:
            os.write(main, typed)
        yield sub
    finally:
        os.close(sub)
        os.close(main)


def a_writer_comes_and_goes_at_open(monkeypatch, fifo: Path) -> None:
    """From here on, a non-blocking open of named pipe ``fifo`` for reading (fileio's) is followed at
    once by a writer that opens it and closes it having written nothing, before the reader's first
    look: the order a reader preempted on a loaded machine meets, made every time, not by a race."""
    real_open = os.open

    def open_then_a_writer_comes_and_goes(path, flags, *args, **kw):
        fd = real_open(path, flags, *args, **kw)
        if os.fspath(path) == str(fifo) and flags & os.O_NONBLOCK and not flags & (os.O_WRONLY | os.O_RDWR):
            os.close(real_open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # (a reader is there: no wait)
        return fd

    monkeypatch.setattr(os, "open", open_then_a_writer_comes_and_goes)
