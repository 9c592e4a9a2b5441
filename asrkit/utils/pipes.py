"""What is kept of a ``cmd |`` input's stderr (wav.scp entries, ``ark:cmd |``, ``scp:cmd |``, scp
entries ending in ``|``): its last 4 KiB, in memory, so that an error can name its last line.

It went to an unlinked temporary file with no size limit: a command writing stderr without end
(a warning per block, ``yes >&2``) filled /tmp unseen, and under a full disk or a file size limit
(``ulimit -f``) the command died of it (SIGXFSZ) and its real last line was lost.
"""
from __future__ import annotations

import errno
import io
import os
import select
import selectors
import subprocess
import threading
from typing import IO, Any, Tuple

from asrkit.utils.errors import AsrkitError

# Only the end is kept: a chatty command's stderr can run to megabytes, or never stop.
PIPE_ERR_TAIL = 4096
# Reads of what is already in the stderr pipe once the command has exited or been stopped: the
# pipe's own buffer (64 KiB) at most, unless a child still holding it open keeps writing.
_PIPE_ERR_LAST_READS = 16
_READ_CHUNK = 1 << 16


class StderrTail:
    """Drains a command's stderr in a thread, as its stdout is read (so neither pipe can fill and
    stall the command), keeping the last ``PIPE_ERR_TAIL`` bytes. :meth:`finish` takes what is
    already in the pipe and stops, without waiting for a child that still holds the pipe open
    (``cmd &``): the old spool file did not wait for one either."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._tail = bytearray()
        self._finished = False
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._drain, name="pipe-stderr", daemon=True)
        try:
            self._thread.start()
        except BaseException:
            os.close(self._stop_r)
            os.close(self._stop_w)
            raise

    def _keep(self, chunk: bytes) -> None:
        self._tail += chunk
        del self._tail[:-PIPE_ERR_TAIL]

    def _drain(self) -> None:
        # The thread closes the stream it reads: a signal's exception can cut finish()'s join
        # short, and a stream closed under a running drain made it die with a traceback of its own
        # beside the one-line error (seen as asrkit-decode's SIGTERM message).
        try:
            self._drain_until_stopped()
        finally:
            self._stream.close()

    def _drain_until_stopped(self) -> None:
        fd = self._stream.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            sel.register(self._stop_r, selectors.EVENT_READ)
            while True:
                ready = {key.fd for key, _ in sel.select()}
                if self._stop_r in ready:
                    break  # first: a child writing without end must not keep us here
                chunk = os.read(fd, _READ_CHUNK)
                if not chunk:
                    return
                self._keep(chunk)
        os.set_blocking(fd, False)
        for _ in range(_PIPE_ERR_LAST_READS):
            try:
                chunk = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                return
            if not chunk:
                return
            self._keep(chunk)

    def finish(self) -> bytes:
        """Stop draining and close our end (a child still writing to it gets SIGPIPE, instead of
        writing on unread); the kept end of stderr. Again after the first call: the same end."""
        if not self._finished:
            self._finished = True
            os.write(self._stop_w, b"x")
            # Interrupted (a signal's exception), the stop pipe stays open for the thread still
            # selecting on it; the process is on its way out.
            self._thread.join()
            os.close(self._stop_r)
            os.close(self._stop_w)
        return bytes(self._tail)

    def last_line(self) -> str:
        """``": <last line of stderr>"`` for an error message, or ``""`` when it wrote nothing;
        stops draining (:meth:`finish`) first."""
        lines = self.finish().decode(errors="replace").strip().splitlines()
        return f": {lines[-1]}" if lines else ""


def start_pipe(cmd: str, what: str = "", **popen: Any) -> Tuple[subprocess.Popen, StderrTail]:
    """``cmd`` started by the shell, its stdout to be read (``popen``: Popen's other arguments),
    its stderr drained into a :class:`StderrTail`. A command too long for the system to start is
    an AsrkitError, after ``what`` (the utterance or table it is from): a damaged wav.scp line of
    2 MB ending in '|' was an OSError traceback ('Argument list too long: /bin/sh')."""
    try:
        proc = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)
    except OSError as e:
        if e.errno != errno.E2BIG:
            raise
        raise AsrkitError(f"{what + ': ' if what else ''}the command is {len(cmd)} characters, too long for the "
                          f"system to start (argument list too long)") from None
    try:
        return proc, StderrTail(proc.stderr)
    except BaseException:  # (no thread to drain it: the command is not left to stall on stderr)
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        raise


# How often a command's idle stdout is looked at for its shell having exited (ended_with_shell).
ENDED_POLL_S = 0.5


def readable_within(fd: int, timeout_s: float) -> bool:
    """Whether ``fd`` has bytes (or its end) to read within ``timeout_s`` seconds. poll, not
    select.select: select refuses a descriptor past 1023 (ValueError), which a process with many
    files open gets under a raised ``ulimit -n`` (containers give 1,048,576), and every wav.scp
    command and 'ark:cmd |' was then a traceback."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout_s * 1000))


class _EndsWithShell(io.RawIOBase):
    """A ``cmd |`` command's stdout whose end is its shell's exit: what the pipe holds then, not the
    end-of-file a process it left in the background (``cmd &``, ssh's ControlPersist master) holds
    back for as long as that runs."""

    def __init__(self, proc: subprocess.Popen) -> None:
        super().__init__()
        self._proc, self._fd = proc, proc.stdout.fileno()

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, b) -> int:
        while not readable_within(self._fd, ENDED_POLL_S):
            if self._proc.poll() is not None and not readable_within(self._fd, 0):
                return 0  # (the shell has exited, after its pipeline; nothing more is its output)
        data = os.read(self._fd, len(b))
        b[:len(data)] = data
        return len(data)


def ended_with_shell(proc: subprocess.Popen, buffered: bool = True) -> IO[bytes]:
    """``proc.stdout`` (a :func:`start_pipe` command's) read to the shell's exit rather than to an
    end-of-file that a background child may hold back for ever (asrkit-decode --feats 'ark:cmd |'
    hung after the whole ark; a wav.scp command's recording likewise). Closing it leaves
    ``proc.stdout`` to its owner to close. ``buffered=False``: each read returns what the pipe has
    (a wav.scp command's reader refuses a stream that is no audio from its first bytes)."""
    raw = _EndsWithShell(proc)
    return io.BufferedReader(raw) if buffered else raw  # type: ignore[return-value]
