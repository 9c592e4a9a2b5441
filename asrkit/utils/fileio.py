"""Atomic file output: nothing half-written is ever left under the final name."""
from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import hashlib
import io
import logging
import os
import re
import select
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, BinaryIO, Iterator, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote

from asrkit.utils.errors import AsrkitError

PathLike = Union[str, os.PathLike]
_log = logging.getLogger("fileio")


# When this process started (close enough: when asrkit's file helpers were first imported).
# A temporary file of ours from before then cannot be one this run is still writing.
RUN_START = time.time()
_TMP_NAME = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.tmp$")
_TMP_TAIL = re.compile(r"^(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.tmp$")  # after ".<name>."


def tmp_path_for(path: PathLike) -> Path:
    """A unique temporary name in the same directory, so the final rename is atomic.

    The name is ``.<name>.<pid>.<random>.tmp``. Stale ones for the same ``path``, left by a run
    that was killed (SIGKILL, a power cut), are removed first: see :func:`remove_stale_tmp`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # name the output as the user gave it, not the temporary's absolute path
        e.filename = str(path)
        raise
    # mkstemp makes the file 0600; the final output should get the usual umask-based mode
    # (0644), as a plain open() would, so other users and jobs can read it.
    try:
        try:
            os.fchmod(fd, 0o666 & ~current_umask())
        finally:
            os.close(fd)
        return Path(tmp)
    except BaseException:
        # (a Ctrl-C or SIGTERM landing here: the caller never learns the name to remove)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def tmp_dir_for(path: PathLike) -> Path:
    """A new temporary directory beside ``path`` (``.<name>.<pid>.<random>.tmp``), to fill and then
    rename into place; stale ones of killed runs are removed first, as for files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(path)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent))
    except OSError as e:
        e.filename = str(path)
        raise
    # mkdtemp makes the directory 0700 and the rename keeps it: a split<N>/ or a perturbed data
    # dir that no other user (or job under another account) could enter. The usual mode (0755).
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        return tmp
    except BaseException:
        os.rmdir(tmp)
        raise


def replace_dir(tmp: PathLike, path: PathLike) -> None:
    """Rename the filled temporary directory ``tmp`` (from :func:`tmp_dir_for`) onto ``path``,
    replacing the directory there, if any.

    The old one is first renamed aside under a temporary name of ``path`` and removed last: removed
    in place, a kill part-way left a half-deleted directory under the final name, and a killed
    run's aside copy is removed by the next run (:func:`remove_stale_tmp`). Another run putting
    its own ``path`` there in between (two identical commands at once) is moved aside in turn, so
    both succeed: rename() onto a directory that is not empty fails with ENOTEMPTY.
    """
    tmp, path = Path(tmp), Path(path)
    for attempt in range(10):
        old = None
        try:
            if os.path.lexists(path):
                old = tmp_dir_for(path)
                try:
                    os.replace(path, old / "x")
                except FileNotFoundError:  # another run moved it first
                    pass
            try:
                os.replace(tmp, path)
                return
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == 9:
                    e.filename, e.filename2 = str(path), None
                    raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_tmp(path: PathLike) -> List[Path]:
    """Remove the temporary files a killed run left for ``path``; returns what was removed.

    Only our own pattern (``.<name>.<pid>.<random>.tmp``, or the older ``.<name>.<random>.tmp``)
    for this very output is touched, only when it was last modified before this run started,
    and only when the process named in it is gone (so a concurrent run's file is left alone).
    """
    path = Path(path)
    removed: List[Path] = []
    try:
        candidates = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return removed
    prefix = f".{path.name}."
    for cand in candidates:
        m = _TMP_TAIL.match(cand.name[len(prefix):]) if cand.name.startswith(prefix) else None
        if not m:
            continue
        pid = m.group("pid")
        if pid is not None and (int(pid) == os.getpid() or _pid_alive(int(pid))):
            continue
        try:
            st = cand.lstat()
            if st.st_mtime >= RUN_START:
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(cand)
            elif stat.S_ISREG(st.st_mode):
                cand.unlink()
            else:
                continue
        except OSError:
            continue
        removed.append(cand)
        _log.info("removed %s, a temporary file left by an interrupted run", cand)
    return removed


def tmp_output_with_pid(name: str) -> Optional[str]:
    """The output file name a temporary name of ours that carries a process id stands for
    (``.text.12.ab12cd34.tmp`` -> ``text``), else None (the older form without one,
    ``.x.ab12cd34.tmp``, is too like a user's ``.notes.20241201.tmp`` to be told apart by name)."""
    m = _TMP_NAME.match(name)
    return m.group("name") if m and m.group("pid") else None


def final_name(path: PathLike) -> str:
    """The output a temporary name of ours stands for (``d/.x.ark.12.ab12cd34.tmp`` -> ``d/x.ark``,
    and a file in a temporary directory, ``.d_sp.12.ab12cd34.tmp/text`` -> ``d_sp/text``)."""
    p = Path(path)
    parts = [m.group("name") if (m := _TMP_NAME.match(part)) else part for part in p.parts]
    return str(Path(*parts)) if parts != list(p.parts) else str(path)


def name_os_error(e: BaseException, path: PathLike) -> None:
    """Give an OSError raised by a write (which carries no file name) the output it was for."""
    if isinstance(e, OSError) and e.filename is None:
        e.filename = str(path)


def parent_not_a_directory(path: PathLike) -> Optional[str]:
    """Why ``path`` cannot be created under its parents when one of them exists but is not a
    directory (``"x is a file, not a directory"``), else None.

    mkdir -p under a file fails with EEXIST ("File exists") or ENOTDIR naming some deeper
    component, neither of which tells the user which name is in the way.
    """
    return _first_not_a_directory(reversed(Path(path).parents))


def not_a_directory(path: PathLike) -> Optional[str]:
    """Why no directory can be made or used at ``path``: it, or a parent, exists and is not a
    directory (``"x is a file, not a directory"``, the words of :func:`parent_not_a_directory`), else
    None. Every command says so of an output directory that is a file or lies under one."""
    return _first_not_a_directory([*reversed(Path(path).parents), Path(path)])


def _first_not_a_directory(paths) -> Optional[str]:
    for p in paths:  # from the top down: the first one in the way
        try:
            mode = os.stat(p).st_mode
        except OSError:
            return None  # missing (or unreadable): nothing below it is in the way yet
        if not stat.S_ISDIR(mode):
            kind = "a file" if stat.S_ISREG(mode) else (special_kind(mode) or "not a directory")
            return f"{p} is {kind}, not a directory"
    return None


def id_file_name(key: str, max_chars: int = 160) -> str:
    """A Kaldi id (any string without white space) as one file name of at most ``max_chars``
    ASCII characters: every ``/`` and ``%`` and all that is not ASCII %-escaped (``spk1/u1`` would
    write into a folder, ``../../x`` outside it), a leading ``.`` too (``..`` is a folder, ``.x``
    hidden), and an id too long for a file name (255 bytes; a %-quoted CJK letter takes 9) cut, not
    inside a %XX, with a hash of the whole id, so that two ids never share a file. The default
    leaves room for a suffix and a temporary name's ``.<pid>.<random>.tmp``."""
    raw = key.encode("utf-8", "surrogateescape")
    name = quote(raw, safe="")
    if name.startswith("."):
        name = "%2E" + name[1:]
    if len(name) > max_chars:
        cut = max_chars - 17
        while "%" in name[cut - 2:cut]:
            cut -= 1
        name = f"{name[:cut]}-{hashlib.sha1(raw).hexdigest()[:16]}"
    return name


def not_found_reason(path: PathLike, noun: str = "file") -> str:
    """Why nothing can be opened at ``path`` (``"no such <noun>"`` when it is simply missing).

    A symlink loop or a link to nothing is "there" to the user, who made it and sees it in ls:
    "no such file" sent them looking for a typo instead of at the link.
    """
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link loop (too many levels of symbolic links): it cannot be resolved"
        if e.errno == errno.ENOTDIR:
            return parent_not_a_directory(path) or f"no such {noun} (a component of the path is not a directory)"
        if e.errno == errno.ENOENT and os.path.islink(path):
            with contextlib.suppress(OSError):
                return f"a broken symbolic link (to {os.readlink(path)}, which does not exist)"
        if e.errno not in (errno.ENOENT, None):
            return f"cannot look it up: {e.strerror}"
    except ValueError:  # a NUL in the name
        pass
    return f"no such {noun}"


_DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP during the block, then deliver them to the handlers that were set
    (Python runs signal handlers in the main thread only; elsewhere nothing is held)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list = []
    # (A handler installed outside Python, which getsignal shows as None, could not be put back.)
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum)) for sig in _DEFERRED_SIGNALS
                if signal.getsignal(sig) is not None}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


def current_umask() -> int:
    """The process's umask (os.umask can only be read by setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_SPECIAL_DIRS = ("/dev/", "/proc/")
_SPECIAL_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def file_identity(path: PathLike) -> Optional[Tuple[int, int]]:
    """(device, inode) of what ``path`` names, links followed: two spellings of one file (a link,
    ./x and x) compare equal; None where it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def same_regular_file(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` name one regular file (another spelling, a link to it); streams
    and devices are never the same file here (each read of them is its own)."""
    ia = file_identity(a)
    return ia is not None and os.path.isfile(a) and ia == file_identity(b)


def special_kind(mode: int) -> Optional[str]:
    """What a file of ``st_mode`` ``mode`` is when neither a regular file nor a directory (``"a
    named pipe"``, ``"a character device"``, ...), for messages; None otherwise."""
    return next((kind for test, kind in _SPECIAL_KINDS if test(mode)), None)


def is_stream(path: PathLike) -> bool:
    """Whether ``path`` is a stream rather than a file to replace: anything under /dev or /proc
    (``/dev/stdout``, ``/dev/fd/3``), a symlink into them, a FIFO, a device, a socket.

    Such an output is written in place: it cannot be half-written, and renaming a temporary
    file over it would replace the node itself (``--ctm /dev/stdout`` left a regular file named
    /dev/stdout behind, breaking every later program's stdout). /dev/stdout is tested by its
    name: when stdout is redirected to a file, it links to that regular file.
    """
    p = os.path.abspath(os.fspath(path))
    try:
        if p.startswith(_SPECIAL_DIRS) or (os.path.islink(p) and
                                           os.path.abspath(os.readlink(p)).startswith(_SPECIAL_DIRS)):
            # Not exists(): with stdout closed, /dev/stdout links to nothing, and taken for a file
            # not made yet it was replaced by one (asrkit-align <ctm-out> - >&-, as root); a
            # descriptor's name is a stream whether or not it is open (open_output says which).
            return os.path.lexists(p) or descriptor_of(p) is not None
        mode = os.stat(p).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


_FD_ALIASES = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def descriptor_of(abspath: str) -> Optional[int]:
    """The descriptor an absolute path names (/dev/stdout, /dev/fd/N, /proc/self/fd/N), or None.
    Public: the tokenizer tells a shell's pipe (``<(...)``) from a named pipe by it."""
    for prefix in ("/dev/fd/", "/proc/self/fd/"):
        if abspath.startswith(prefix) and abspath[len(prefix):].isascii() and abspath[len(prefix):].isdigit():
            return int(abspath[len(prefix):])
    return _FD_ALIASES.get(abspath)


def names_stdin(path: PathLike) -> bool:
    """Whether ``path`` names this process's stdin (/dev/stdin, /dev/fd/0, /proc/self/fd/0: what
    a command's ``-`` becomes): an input whose "no such file" or "0 bytes" means stdin was closed
    or empty, not a file or named pipe."""
    return descriptor_of(os.path.abspath(os.fspath(path))) == 0


# How long a reader waits for a named pipe's writer (``mkfifo f; asrkit-score ref f`` with the
# program that fills f not started yet, or never): open() waited for one for ever, with no word.
# A minute, not seconds: a writer that opens the pipe by name only once it has started (a Python
# program importing torch on a loaded machine) comes seconds late, and when the reader has given
# up, that writer waits for ever on a pipe nobody reads. FIFO_WRITER_NOTE_S in, a warning says
# what is waited on, so a pipe that nobody will write to is named long before the error.
FIFO_WRITER_WAIT_S = 60.0
FIFO_WRITER_NOTE_S = 5.0


class _PipeWithFirstBytes(io.RawIOBase):
    """A pipe's descriptor, the bytes already read from it (to learn that it has a writer) in front."""

    def __init__(self, fd: int, first: bytes, name: str) -> None:
        super().__init__()
        self._fd, self._first, self.name = fd, first, name

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, b) -> int:
        if self._first:
            n = min(len(b), len(self._first))
            b[:n], self._first = self._first[:n], self._first[n:]
            return n
        data = os.read(self._fd, len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def _writer_came_and_went(fd: int) -> bool:
    """Whether a named pipe opened for reading has had a writer since, and has none now: its reads
    are empty either way, but Linux reports a hang-up (POLLHUP) only for a writer that came and went."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(ev & select.POLLHUP for _, ev in poller.poll(0))


def _open_named_pipe(path: PathLike) -> BinaryIO:
    """A named pipe opened without waiting for a writer for ever: see :func:`named_pipe_reader`."""
    return named_pipe_reader(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), path)


def named_pipe_reader(fd: int, path: PathLike) -> BinaryIO:
    """``fd``, a named pipe ``path`` opened for reading non-blocking (an open() that waits for a
    writer waits for ever), as a blocking reader once it has a writer: waited on FIFO_WRITER_WAIT_S
    (a warning after FIFO_WRITER_NOTE_S), then refused, closed. An empty read means no writer (yet),
    one that would block a writer that has not written yet. Every named pipe asrkit reads is waited
    on here (open_read's, the tokenizer model's), with the same words."""
    deadline: Optional[float] = None
    note_at: Optional[float] = None
    while True:
        try:
            first = os.read(fd, 1 << 16)
        except BlockingIOError:
            first = b""
            break
        except OSError:
            os.close(fd)
            raise
        if first or _writer_came_and_went(fd):
            # (a writer that opened it and closed it having written nothing: an empty input, read
            # as an empty file is, at once; it was waited on as "no writer", then refused as one)
            break
        now = time.monotonic()
        if deadline is None:
            # (no word at once: a pipeline's writer, started beside the reader, opens it within ms)
            deadline, note_at = now + FIFO_WRITER_WAIT_S, now + FIFO_WRITER_NOTE_S
        elif note_at is not None and now >= note_at and now < deadline:
            _log.warning("%s: a named pipe with no writer yet after %g s: waiting up to %g s for one; start the "
                         "program that writes it (or give a file)", path, FIFO_WRITER_NOTE_S, FIFO_WRITER_WAIT_S)
            note_at = None
        elif now >= deadline:
            os.close(fd)
            raise AsrkitError(f"{path}: a named pipe with no writer (waited {FIFO_WRITER_WAIT_S:.0f} s for one, or "
                              f"its writer wrote nothing): start the program that writes it first, or give a file")
        time.sleep(0.05)
    os.set_blocking(fd, True)
    return io.BufferedReader(_PipeWithFirstBytes(fd, first, os.fspath(path)))  # type: ignore[return-value]


def open_read(path: PathLike) -> BinaryIO:
    """``open(path, "rb")``, except that stdin's names (/dev/stdin, /proc/self/fd/0: what a
    command's ``-`` becomes) read descriptor 0 itself when it cannot be opened by name: a socket
    given as stdin (a job runner's, ``socketpair``) was "/dev/stdin: No such device or address",
    where Kaldi's ``-`` reads std::cin. A named pipe (not a descriptor's name: ``<(...)``'s
    /dev/fd/63 has its writer running) with no writer is an AsrkitError after FIFO_WRITER_WAIT_S:
    every table, transcript list and config read through here waited for one for ever."""
    try:
        if stat.S_ISFIFO(os.stat(path).st_mode) and descriptor_of(os.path.abspath(os.fspath(path))) is None:
            return _open_named_pipe(path)
    except (OSError, ValueError):
        pass  # (named as open() names it, below)
    try:
        return open(path, "rb")
    except OSError as e:
        if e.errno != errno.ENXIO or not names_stdin(path):
            raise
        return os.fdopen(os.dup(0), "rb")


def refuse_one_stream_twice(inputs: Mapping[str, Optional[PathLike]]) -> None:
    """An :class:`AsrkitError` when two of ``inputs`` (option name -> path or None) name one stream:
    stdin twice (``- -``), one FIFO twice. The second read would find it drained, and its error
    would blame that input's contents ("empty list", "no non-empty sentences")."""
    seen = {}
    for what, path in inputs.items():
        if path is None or not is_stream(path):
            continue
        try:
            st = os.stat(path)
            key = (st.st_dev, st.st_ino)
        except OSError:  # stdin closed: its reader names that; a missing file: its reader names it
            if not names_stdin(path):
                continue
            key = "stdin"
        if key in seen:
            shown = "stdin" if names_stdin(path) else os.fspath(path)
            raise AsrkitError(f"{seen[key]} and {what} are both {shown}: a stream can be read only once; give a "
                              f"file for one of them")
        seen[key] = what


def stdin_reader(inputs: Sequence[Tuple[str, Optional[PathLike]]]) -> Optional[str]:
    """``"<option> <path>"`` of the first of ``inputs`` ((option, path or None) pairs) whose path
    names stdin, or None: what a wav.scp line ``-`` would compete with for stdin."""
    return next((f"{option} {path}" for option, path in inputs if path and names_stdin(path)), None)


def stdin_closed_problem(path: PathLike) -> Optional[str]:
    """``"<path>: stdin is closed"`` when ``path`` names stdin and the process started with it
    closed (``<&-``): opening /dev/stdin then fails as "no such file", or, once descriptor 0 is
    reused, opens whatever file this process has opened since."""
    if names_stdin(path) and sys.stdin is None:
        return f"{path}: stdin is closed"
    return None


def non_blocking(f: Any) -> bool:
    """Whether the descriptor of ``f`` (a file or a descriptor number) is in non-blocking mode."""
    try:
        return bool(fcntl.fcntl(f if isinstance(f, int) else f.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK)
    except (AttributeError, OSError, ValueError):  # (no descriptor: a test's StringIO; closed)
        return False


class WholeWrites(io.RawIOBase):
    """A raw file whose write writes all it is given or raises: under a text layer, which never
    looks at the count a raw write returns, what a short write left out was lost with exit 0.

    A write may take part of the data (a file size limit or a quota reached inside it), or none
    where the descriptor is non-blocking (O_NONBLOCK, shared with the program that made the pipe,
    which set it) and the pipe is full: then it waits until the reader takes more, as a blocking
    descriptor does. An OSError that names no file gets ``name`` (the output's, as the user gave it).
    ``owns``: whether closing this closes ``raw`` (not the process's stdout: not this object's).
    """

    def __init__(self, raw: Any, name: str, owns: bool = False) -> None:
        super().__init__()
        self._raw = raw
        self._name = name
        self._owns = owns

    def writable(self) -> bool:
        return True

    def write(self, b) -> Optional[int]:
        view = memoryview(b).cast("B")
        done = 0
        while done < len(view):
            try:
                n = self._raw.write(view[done:])
            except OSError as e:
                if e.filename is None:
                    e.filename = self._name
                raise
            if n is None:  # (non-blocking and full)
                # poll, not select.select, which refuses a descriptor past 1023 (ValueError): a
                # process with many files open under a raised ``ulimit -n`` gets one
                poller = select.poll()
                poller.register(self._raw.fileno(), select.POLLOUT)
                poller.poll()
                continue
            done += n
        return done

    def fileno(self) -> int:
        return self._raw.fileno()

    def seekable(self) -> bool:
        return self._raw.seekable()

    def tell(self) -> int:
        return self._raw.tell()

    def isatty(self) -> bool:
        return self._raw.isatty()

    @property
    def name(self):
        return self._raw.name

    def close(self) -> None:
        super().close()
        if self._owns:
            self._raw.close()


def open_output(path: PathLike, mode: str = "w", encoding: str | None = "utf-8", errors: str | None = None) -> IO:
    """``open(path, mode)``, except that a name for one of this process's descriptors
    (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``) writes through that descriptor.

    Opening /dev/stdout anew, when stdout was redirected to a file (``> out.txt``), truncated the
    file and wrote from its start with an offset of its own: asrkit-decode --ctm /dev/stdout
    wrote the CTM over the text lines already in out.txt. A duplicate of the descriptor shares
    its offset, so the outputs follow one another as they would down a pipe.
    """
    if "b" in mode:
        encoding = errors = None
    fd = descriptor_of(os.path.abspath(os.fspath(path)))
    if fd is None:
        return open(path, mode, encoding=encoding, errors=errors)
    if fd <= 2 and (sys.stdin, sys.stdout, sys.stderr)[fd] is None:
        # Python found it closed at start: the number may since name a file this process opened
        # (a log, the model), which the output would be written into.
        raise AsrkitError(f"{path}: {('stdin', 'stdout', 'stderr')[fd]} is closed")
    try:
        dup = os.dup(fd)
    except OSError as e:
        if e.errno == errno.EBADF:
            raise AsrkitError(f"{path}: descriptor {fd} is closed (the command was started with it closed)") from None
        raise
    if not non_blocking(dup) or "r" in mode:
        return os.fdopen(dup, mode, encoding=encoding, errors=errors)
    # A pipe made non-blocking by the program that made it (the mode is the pipe's, shared by the
    # duplicate): into a full one, `--ctm -` lost what its buffer could not write, with exit 0.
    binary = io.BufferedWriter(WholeWrites(io.FileIO(dup, mode.replace("b", "").replace("t", "")), os.fspath(path),
                                           owns=True))
    return binary if "b" in mode else io.TextIOWrapper(binary, encoding=encoding, errors=errors)


def missing_dirs(outputs: Sequence[Optional[PathLike]]) -> List[Path]:
    """The folders above ``outputs`` that are not there yet (each output's temporary file makes
    them), deepest first."""
    missing = set()
    for out in outputs:
        if out is None or out == "-" or is_stream(out):
            continue
        parent = Path(out).parent
        while parent != parent.parent and not parent.exists() and not parent.is_symlink():
            missing.add(parent)
            parent = parent.parent
    return sorted(missing, key=lambda p: len(p.parts), reverse=True)


def remove_empty_dirs(dirs: List[Path]) -> None:
    """The folders this run made for its outputs, when it failed: an empty dump/test/ left behind
    looked like a run that had written there (and a recipe's 'skip if the folder exists' stage
    skipped it). Only empty ones, deepest first, so nothing another process wrote is lost."""
    for d in dirs:
        try:
            d.rmdir()
        except OSError:
            pass


def written_through(path: PathLike) -> Path:
    """The file a write to ``path`` replaces: ``path`` itself, or, where it is a symbolic link
    (``decode/text -> /data/hyp/text``), the file the link names, as open() for writing follows
    it. Kaldi's tools and a shell's ``>`` write through a link; our temporary file renamed onto the
    link replaced the link itself with a regular file, and its target kept the old content. The
    temporary file goes beside the target, so the rename is still atomic. A link to a directory,
    one whose target's folder is not there, or a loop is replaced as before: there is no file to
    write through to."""
    p = Path(path)
    if not p.is_symlink():
        return p
    target = Path(os.path.realpath(p))
    if target.is_symlink() or target.is_dir() or not target.parent.is_dir():
        return p
    return target


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open ``path`` for writing through a temporary file renamed into place on success.

    On an exception the temporary file is removed and ``path`` is left untouched. A path that
    is not a regular file (:func:`is_stream`) is written directly; a symbolic link is written
    through (:func:`written_through`).
    """
    if "b" in mode:
        encoding = None
    if is_stream(path):
        # Written in place; a full device (/dev/full, a pipe's disk) is still named.
        try:
            with open_output(path, mode, encoding=encoding) as f:
                yield f
        except BaseException as e:
            name_os_error(e, path)
            raise
        return
    final = written_through(path)
    tmp = tmp_path_for(final)
    try:
        with open(tmp, mode, encoding=encoding) as f:
            yield f
        os.replace(tmp, final)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        name_os_error(e, path)
        raise


class NamedOutput:
    """A file open for writing one output (:meth:`AtomicFiles.open`): an OSError writing, flushing
    or closing it gets that output's name. AtomicFiles guessed the name from its temporary files'
    times: an scp on a full disk (or on /dev/full) beside an ark on another one was named as the
    ark, asrkit-score's result.txt -> /dev/full as wer.txt, and an output that is a stream (never
    a temporary file) was not named at all."""

    def __init__(self, f: IO, name: PathLike) -> None:
        self._f = f
        self.output = name

    def _named(self, call, *args):
        try:
            return call(*args)
        except OSError as e:
            name_os_error(e, self.output)
            raise

    def write(self, data):
        return self._named(self._f.write, data)

    def writelines(self, lines) -> None:
        self._named(self._f.writelines, lines)

    def flush(self) -> None:
        self._named(self._f.flush)

    def close(self) -> None:
        self._named(self._f.close)

    def seek(self, *args):  # (both flush what is buffered first)
        return self._named(self._f.seek, *args)

    def tell(self):
        return self._named(self._f.tell)

    def __getattr__(self, attr):  # closed, seekable, buffer, fileno...
        return getattr(self._f, attr)

    def __enter__(self) -> "NamedOutput":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


class AtomicFiles:
    """Several outputs committed together (e.g. feats.ark and feats.scp).

    ``tmp(path)`` hands out a temporary name for a final path; ``commit()`` renames all of
    them into place, ``abort()`` removes them. Used as a context manager it commits on
    success and aborts on any exception.

    One output may be the set's ``index`` (feats.scp beside its feats.ark): the one readers go
    by. Its old file is moved aside before the first rename (and put back if that one fails) and
    the new one renamed last, so a run SIGKILLed between two renames leaves no index rather than
    an old one beside new files.
    """

    def __init__(self) -> None:
        self._pending: dict[Path, Path] = {}
        self._index: Optional[Path] = None

    def tmp(self, path: PathLike, index: bool = False) -> Path:
        """The name to write ``path``'s content under (``path`` itself for /dev/stdout, a FIFO...)."""
        path = Path(path)
        if is_stream(path):
            return path
        final = written_through(path)
        if final not in self._pending:
            self._pending[final] = tmp_path_for(final)
        if index:
            self._index = final
        return self._pending[final]

    def open(self, path: PathLike, mode: str = "w", encoding: str | None = "utf-8", errors: str | None = None,
             index: bool = False) -> IO:
        """``path``'s temporary file (``path`` itself for a stream), open for writing: an error
        writing, flushing or closing it names ``path`` (a write's OSError carries no file name).
        Write every output through it, or name the errors of one written otherwise: nothing here
        can tell afterwards which output a nameless error was about. ``errors``: open()'s
        (``surrogateescape`` writes a file name that is not UTF-8 as the bytes it is)."""
        return NamedOutput(open_output(self.tmp(path, index=index), mode, encoding=encoding, errors=errors), path)

    def commit(self) -> None:
        # A Ctrl-C or SIGTERM between two renames left a mixed set, the new ark beside the old scp:
        # after asrkit-apply-cmvn in place (ark,scp:x.ark,x.scp over scp:x.scp), the old scp read the
        # new, normalized ark, and the run made again normalized it twice. It lands once all are in.
        with signals_deferred():
            try:
                for final in self._pending:
                    # os.replace refuses a directory only when its turn comes, the outputs before it
                    # already renamed: a mixed set (holdout-lists' new train.list beside a dev.list
                    # that is a directory; a new tokens.model beside the old tokenizer.yaml).
                    if final.is_dir() and not final.is_symlink():
                        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(final))
                # signals_deferred holds off Ctrl-C, not SIGKILL (the OOM killer, a job's time
                # limit): killed between the renames, compute-fbank over an older output left the
                # old feats.scp beside the new arks, whose offsets then read other utterances'
                # features or garbage. With no index there, the set is plainly unfinished.
                order = list(self._pending)
                aside = None
                if self._index in self._pending:
                    order.remove(self._index)
                    order.append(self._index)
                    if len(order) > 1 and os.path.lexists(self._index):
                        # Moved aside, not removed: a first rename that fails (a read-only or
                        # immutable file, EIO) put the old set back whole, where removing it
                        # lost a good scp for nothing. A kill leaves it under our temporary
                        # pattern, for the next run's remove_stale_tmp.
                        aside = tmp_path_for(self._index)
                        try:
                            os.replace(self._index, aside)
                        except BaseException:
                            with contextlib.suppress(OSError):
                                os.unlink(aside)
                            raise
                renamed = False
                try:
                    for final in order:
                        tmp = self._pending[final]
                        os.replace(tmp, final)
                        del self._pending[final]
                        renamed = True
                except BaseException:
                    if aside is not None and not renamed:
                        with contextlib.suppress(OSError):
                            os.replace(aside, self._index)
                            aside = None
                    raise
                finally:
                    if aside is not None:
                        with contextlib.suppress(OSError):
                            os.unlink(aside)
            except BaseException:
                self.abort()
                raise
            self._pending.clear()
            self._index = None

    def abort(self) -> None:
        for tmp in self._pending.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self._pending.clear()
        self._index = None

    def __enter__(self) -> "AtomicFiles":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
