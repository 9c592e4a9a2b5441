"""Kaldi-style logging and progress reporting.

Log lines look like Kaldi's (``2026-11-24 18:00:00 INFO [compute_fbank] Done 130 out of 130``)
and go to stderr and, when asked, to a log file under ``exp/*/log/``. Progress bars are tqdm
on a terminal and plain periodic log lines otherwise, so batch-job logs stay readable.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")

FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"
DATEFMT = "%Y-%m-%d %H:%M:%S"


def setup_logging(verbose: int = 0, log_file: Optional[str] = None) -> None:
    """Configure the root logger once per process: stderr, plus ``log_file`` if given."""
    level = logging.DEBUG if verbose > 0 else logging.INFO
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
        root.addHandler(handler)
    root.setLevel(level)


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
