"""What the bench/ scripts share to refuse what they cannot measure before any work, and to say
why in one line rather than a traceback.

- argparse types for numbers: a count of 0 (``--repeat 0``), a negative or non-finite number is a
  usage error naming the option (exit 2), not a ZeroDivisionError or a figure of nothing;
- argparse types for paths: a missing input file or folder, or an output folder under a file,
  is reported before any work;
- ``run(main)``: a missing file, an ``AsrkitError`` (a model that is not one, a config that does
  not load), soundfile's error (audio it cannot read or write), a failed command
  (``subprocess.CalledProcessError``, or ``command_failed(...)`` where the script ran it itself)
  or the script's own ``BenchError`` ends the script with one line ``<script>: ERROR: <message>``
  and exit 1.

This module imports nothing of asrkit: a script run with ``PYTHONPATH=<another checkout>`` (a
before/after figure) uses that checkout's asrkit, and its AsrkitError is known by its class name.
A script copied into an older checkout to measure it needs this file beside it.
"""
from __future__ import annotations

import argparse
import errno
import math
import subprocess
import sys
from pathlib import Path
from typing import Callable, List, Optional


def _int(s: str, least: int, what: str) -> int:
    try:
        n = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}, not {s!r}") from None
    if n < least:
        raise argparse.ArgumentTypeError(f"{what}, not {s!r}")
    return n


def positive_int(s: str) -> int:
    """A count: 1 or more."""
    return _int(s, 1, "must be a whole number of 1 or more")


def nonnegative_int(s: str) -> int:
    """0 or more (where 0 means none, or no limit, as the option's help says)."""
    return _int(s, 0, "must be a whole number of 0 or more")


def positive_int_list(s: str) -> List[int]:
    """Comma-separated counts, e.g. '130,16,1'."""
    try:
        return [_int(x, 1, "") for x in s.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be comma-separated whole numbers of 1 or more, not {s!r}") from None


def _float(s: str, ok: Callable[[float], bool], what: str) -> float:
    try:
        x = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}, not {s!r}") from None
    if not math.isfinite(x) or not ok(x):
        raise argparse.ArgumentTypeError(f"{what}, not {s!r}")
    return x


def positive_float(s: str) -> float:
    return _float(s, lambda x: x > 0, "must be a number above 0")


def nonnegative_float(s: str) -> float:
    return _float(s, lambda x: x >= 0, "must be a number of 0 or more")


def fraction(s: str) -> float:
    """A share: 0 to 1."""
    return _float(s, lambda x: 0 <= x <= 1, "must be a number from 0 to 1")


def share(s: str) -> float:
    """A share of something that must not be empty: above 0, at most 1."""
    return _float(s, lambda x: 0 < x <= 1, "must be a number above 0 and at most 1")


# Paths. These raise OSError, which argparse does not catch (it turns only ArgumentTypeError,
# TypeError and ValueError into a usage error): run() reports it as '<path>: <why>'.
def existing_file(s: str) -> str:
    p = Path(s)
    if p.is_dir():
        raise IsADirectoryError(errno.EISDIR, "a folder, not a file", s)
    if not p.is_file():
        raise FileNotFoundError(errno.ENOENT, "no such file", s)
    return s


def existing_dir(s: str) -> str:
    p = Path(s)
    if p.exists() and not p.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", s)
    if not p.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such folder", s)
    return s


def output_dir(s: str) -> str:
    """A folder to write into: it may not exist yet, but neither it nor a folder above it is a file."""
    if Path(s).exists() and not Path(s).is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", s)
    for p in Path(s).parents:  # the nearest one that exists must be a folder
        if p.exists():
            if not p.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"cannot be made: {p} is a file", s)
            break
    return s


def output_file(s: str) -> str:
    """A file to write: not a folder, in a folder that exists."""
    p = Path(s)
    if p.is_dir():
        raise IsADirectoryError(errno.EISDIR, "a folder, not a file", s)
    parent = p.parent
    if parent.exists() and not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"cannot be written: {parent} is a file", s)
    if not parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"cannot be written: no folder {parent}", s)
    return s


class BenchError(Exception):
    """What a script finds wrong itself (no AN4 WAVs where it looked, a model without what it
    measures): run() prints the message as the one ERROR line."""


def last_line(stderr) -> str:
    """The last non-blank line of a command's stderr (bytes or str): an asrkit command's ERROR line."""
    err = stderr.decode(errors="replace") if isinstance(stderr, bytes) else (stderr or "")
    return (err.strip().splitlines() or [""])[-1].strip()


def command_failed(cmd, returncode: int, stderr) -> BenchError:
    """The error to raise for a command ``cmd`` (a list, or a string) that a script ran itself and
    that exited ``returncode``: '<its name> failed (exit N): <the last line of its stderr>', one
    line, as a ``subprocess.run(check=True)`` failure is reported (the whole stderr tail, printed
    before, buried the line that said why)."""
    cmd = cmd if isinstance(cmd, str) else " ".join(str(c) for c in list(cmd)[:1])
    name = Path(cmd.split()[0]).name if cmd.strip() else "a command"
    last = last_line(stderr)
    return BenchError(f"{name} failed (exit {returncode})" + (f": {last}" if last else ""))


def _is_a(e: BaseException, class_name: str) -> bool:
    # by name: this module imports neither asrkit (see above) nor soundfile
    return any(c.__name__ == class_name for c in type(e).__mro__)


def error_line(e: BaseException) -> Optional[str]:
    """The one-line message for an error of the input or the environment; None for any other."""
    if isinstance(e, subprocess.CalledProcessError):
        return str(command_failed(e.cmd, e.returncode, e.stderr))
    if isinstance(e, OSError) and e.errno is not None:
        return f"{e.filename}: {e.strerror}" if e.filename is not None else str(e.strerror)
    # soundfile's message names the file: "Error opening '<path>': Format not recognised."
    if isinstance(e, BenchError) or _is_a(e, "AsrkitError") or _is_a(e, "SoundFileError"):
        return str(e)
    return None


def run(main: Callable[[], Optional[int]]) -> None:
    """Run a script's ``main()`` and exit with its status, or with one ERROR line (exit 1)."""
    try:
        status = main()
    except Exception as e:  # noqa: BLE001 (anything not an input/environment error is re-raised)
        line = error_line(e)
        if line is None:
            raise
        print(f"{Path(sys.argv[0]).name}: ERROR: {line}", file=sys.stderr)
        sys.exit(1)
    sys.exit(status or 0)
