"""Kaldi-style logging and progress reporting.

Log lines look like Kaldi's (``2026-11-24 18:00:00 INFO [compute_fbank] Done 130 out of 130``)
and go to stderr and, when asked, to a log file under ``exp/*/log/``. Progress bars are tqdm
on a terminal and plain periodic log lines otherwise, so batch-job logs stay readable.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shlex
import sys
import time
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")

FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"
DATEFMT = "%Y-%m-%d %H:%M:%S"


# Characters that end or break a log line (Python's str.splitlines breaks at \x1c-\x1e, \x85,
# \u2028 and \u2029 too) or act on a terminal: written as escapes in a command line (shell_word).
_LINE_BREAKERS = {"\x85", "\u2028", "\u2029"}
_NAMED_ESCAPES = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
                  "\r": "\\r", "\x1b": "\\E", "\\": "\\\\", "'": "\\'"}


def _control(c: str) -> bool:
    return c < " " or "\x7f" <= c <= "\x9f" or c in _LINE_BREAKERS


def has_control_chars(word: str) -> bool:
    """Whether :func:`shell_word` writes ``word`` with escapes (``$'...'``)."""
    return any(_control(c) for c in word)


def shell_word(word: str) -> str:
    """``word`` as a bash word a user can paste back: :func:`shlex.quote`, or, when it holds a
    control character (a newline in a file name), bash's ``$'...'`` with escapes, as ``printf %q``
    writes it (``$'a\\nb'``; a byte that is not UTF-8, held as a surrogate, stays the byte it is,
    as the log files write it). shlex.quote kept the newline: the command line echoed at the top
    of a command's log ('# asrkit-score ...' of result.txt too) went on over two lines, the second
    one read as output."""
    if not has_control_chars(word):
        return shlex.quote(word)
    out = []
    for c in word:
        if c in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[c])
        elif _control(c):
            # (octal bytes, UTF-8 for \x85 or U+2028: bash's \u escape is the character only in a
            # UTF-8 locale, and a recipe's path.sh sets LC_ALL=C, where $'\u2028' is six characters)
            out.append("".join(f"\\{b:03o}" for b in c.encode()))
        else:
            out.append(c)
    return "$'" + "".join(out) + "'"


def command_line(words: Iterable[str]) -> str:
    """``words`` joined as one line of bash (:func:`shell_word` each)."""
    return " ".join(shell_word(w) for w in words)


def setup_logging(verbose: int = 0, log_file: Optional[str] = None) -> None:
    """Configure the root logger once per process: stderr, plus ``log_file`` if given."""
    level = logging.DEBUG if verbose > 0 else logging.INFO
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()  # (a StreamHandler leaves its stream open; a log file is closed)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
        if not stderr_goes_to(log_file):
            handlers.append(LogFileHandler(log_file))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
        root.addHandler(handler)
    root.setLevel(level)


def close_log_files() -> None:
    """Take the log files (:class:`LogFileHandler`) off the root logger and close them: what a
    command run in a process that goes on (a test's, a notebook's) does at its end. Left open, a
    run's log/decode.log stayed open until the next command replaced the handlers, and was then
    dropped unclosed (a ResourceWarning, an error under ``-W error::ResourceWarning``)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, LogFileHandler):
            root.removeHandler(handler)
            handler.close()


def stderr_goes_to(path: str) -> bool:
    """Whether stderr is already the file ``path``: a launcher's log of the job that is also the
    command's own (``asrkit-launch exp/lm/log/train_lm.log asrkit-train-lm ... exp/lm``, as asr.sh
    runs stage 3; ``2>> D/log/decode.log``). A log file opened there as well had every line twice,
    and under asrkit-launch, which writes the job's output at its own offset, lines written over
    one another ('...0 s of training so far' cut to ')'): stderr then writes the log alone."""
    try:
        return os.path.samestat(os.fstat(2), os.stat(path))
    except OSError:  # (no stderr, or no log yet)
        return False


def error_to_log_files(name: str, message: str, handlers: Optional[Iterable[logging.Handler]] = None) -> None:
    """Write ``ERROR [name] message`` to the log files among ``handlers`` (default: the root
    logger's) and nowhere else: a command prints its fatal error on stderr itself, and its
    ``exp/*/log/*.log`` must say why the run ended too, as a Kaldi log does."""
    record = logging.makeLogRecord({"name": name, "levelno": logging.ERROR, "levelname": "ERROR", "msg": message})
    for handler in list(logging.getLogger().handlers if handlers is None else handlers):
        if isinstance(handler, LogFileHandler):
            handler.handle(record)


class LogFileHandler(logging.FileHandler):
    """A log file that a full disk (or any failing write) cannot fill stderr with tracebacks.

    logging's own handler prints "--- Logging error ---" and a traceback for every line it
    cannot write. This one says once, in one line naming the file, that the file stops there,
    and writes nothing more to it: the log goes on on stderr, and the command fails (or not) on
    its own outputs, whose errors name them (``exp/x/checkpoints/epoch3.pt: no space left on
    device``).
    """

    def __init__(self, path: str) -> None:
        # surrogateescape: a name that is not UTF-8 (a Latin-1 folder, held by Python as surrogates)
        # goes into the log as the bytes it is, as asrkit-launch writes its log's header; strict,
        # each such line was logging's "--- Logging error ---" and a traceback on stderr
        # (asrkit-decode --output-dir $'D\xff': its command line, and a full disk's ERROR there).
        super().__init__(path, encoding="utf-8", errors="surrogateescape")
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)
            return
        self.failed = True
        from asrkit.utils.errors import os_error_message

        error.filename = error.filename or self.baseFilename
        why = os_error_message(error) or f"{self.baseFilename}: {error.strerror or error}"
        self._close_quietly()
        warning = logging.makeLogRecord({"name": "logging", "levelno": logging.WARNING, "levelname": "WARNING",
                                         "msg": "%s: log file abandoned, the log goes on on stderr only",
                                         "args": (why,)})
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(self.format(warning) + "\n")

    def _close_quietly(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().close()
        self.stream = None

    def close(self) -> None:
        # Closing flushes; on a full disk that fails once more, and closing must not raise.
        self._close_quietly()


def get_logger(name: str) -> logging.Logger:
    """A logger named after the module's last component, as Kaldi names the binary."""
    return logging.getLogger(name.rsplit(".", 1)[-1])


def progress(
    iterable: Iterable[T],
    total: Optional[int] = None,
    desc: str = "",
    unit: str = "it",
    disable: bool = False,
    every_s: float = 30.0,
) -> Iterator[T]:
    """Iterate with a tqdm bar on a TTY, or a plain log line every ``every_s`` seconds."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    if disable:
        yield from iterable
        return
    if sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
        return
    log = logging.getLogger("progress")
    start = last = time.monotonic()
    n = 0
    for n, item in enumerate(iterable, 1):
        yield item
        now = time.monotonic()
        if now - last >= every_s:
            last = now
            of = f"/{total}" if total else ""
            log.info("%s %d%s %s (%.1f %s/s)", desc, n, of, unit, n / (now - start), unit)
