"""Atomic file output: nothing half-written is ever left under the final name."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, Union

PathLike = Union[str, os.PathLike]


def tmp_path_for(path: PathLike) -> Path:
    """A unique temporary name in the same directory, so the final rename is atomic."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes the file 0600; the final output should get the usual umask-based mode
    # (0644), as a plain open() would, so other users and jobs can read it.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    return Path(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open ``path`` for writing through a temporary file renamed into place on success.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    if "b" in mode:
        encoding = None
    tmp = tmp_path_for(path)
    try:
        with open(tmp, mode, encoding=encoding) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class AtomicFiles:
    """Several outputs committed together (e.g. feats.ark and feats.scp).

    ``tmp(path)`` hands out a temporary name for a final path; ``commit()`` renames all of
    them into place, ``abort()`` removes them. Used as a context manager it commits on
    success and aborts on any exception.
    """

    def __init__(self) -> None:
        self._pending: dict[Path, Path] = {}

    def tmp(self, path: PathLike) -> Path:
        path = Path(path)
        if path not in self._pending:
            self._pending[path] = tmp_path_for(path)
        return self._pending[path]

    def commit(self) -> None:
        for final, tmp in self._pending.items():
            os.replace(tmp, final)
        self._pending.clear()

    def abort(self) -> None:
        for tmp in self._pending.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self._pending.clear()

    def __enter__(self) -> "AtomicFiles":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
