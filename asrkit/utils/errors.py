"""The one exception type commands turn into a clear one-line message and a non-zero exit, and
the one place that words the machine's own errors (a full disk, a read-only file system)."""
from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Optional


class AsrkitError(Exception):
    """An error in the user's input or environment, reported without a traceback.

    The message should name the file, line or utterance at fault, e.g.
    ``data/train/wav.scp:12: malformed line (expected '<utt-id> <wav>')``.
    """


# The most characters of a value an error message quotes (:func:`shown`).
SHOWN_MAX = 200


def shown(text: str, limit: int = SHOWN_MAX) -> str:
    """``repr(text)`` for an error message, cut after ``limit`` characters with the length said: a
    damaged table's line of a megabyte (300,000 words after an utterance's speaker id) was quoted
    whole, its one-line error 1.2 MB long (4.8 MB for a feats.scp value in asrkit-decode)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


# The longest path Linux opens (PATH_MAX) and room for an scp value's ':<offset>[<range>]' after it.
NAME_WHOLE_MAX = 4096 + 64


def shown_name(text: str) -> str:
    """``text`` (a table value that names a file or a command: a wav.scp or scp value, an ark
    path) for a message, as it is, but cut after SHOWN_MAX characters with its length said when no
    file could have that name: an scp value of a megabyte (a damaged line) was quoted whole in
    every message of its utterance, twice in some (a 2 MB wav.scp value: a 4 MB skip line and
    error line). One that may name a file is whole: a cut after 200 characters hid the file name
    and offset of a missing ark at the end of a cluster's 290-character path
    ('.../exp_dir_level_04_of_a_... (287 characters): no such file')."""
    if "\0" in text:  # (no file name holds one: shown escaped, a raw NUL made the log binary to grep)
        text = text.replace("\0", "\\x00")
    return text if len(text) <= NAME_WHOLE_MAX else f"{text[:SHOWN_MAX]}... ({len(text)} characters)"


# The errors of the machine rather than of the input: reported as one line naming the path.
MACHINE_ERRORS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large",
    errno.EIO: "input/output error",
    # The reader of a pipe we write (ark:- | head) exited: what was not read is lost, so the
    # command fails, in one line rather than click's silent exit 1.
    errno.EPIPE: "broken pipe (the command reading this output exited before it was all written)",
}
# A path that cannot be what the command needs (an output directory under a file, a file where a
# directory must go, a name over the system's limit): the user's to fix, so one line too.
PATH_ERRORS = {
    errno.ENOTDIR: "a component of the path is not a directory",
    errno.EISDIR: "is a directory",
    errno.EEXIST: "exists and is not a directory",
    errno.ENAMETOOLONG: "file name too long",
    errno.ELOOP: "too many levels of symbolic links",
    errno.ENOENT: "no such file or directory",
}


def os_error_message(e: OSError) -> Optional[str]:
    """``<path>: no space left on device`` for the errors above, else None (a bug: traceback).

    The path is the output the user named, not our temporary name for it
    (``dump/x/.feats.ark.123.ab12cd34.tmp`` is reported as ``dump/x/feats.ark``).
    """
    what = MACHINE_ERRORS.get(e.errno) or PATH_ERRORS.get(e.errno)
    if what is None:
        return None
    path = e.filename
    if not isinstance(path, (str, bytes, os.PathLike)):
        # None, or a descriptor (os.fdopen's errors carry the fd): a name cannot come from it
        path = None
    if path is None:
        return f"{what} (writing an output whose name is not known here; check the disk and the output paths)"
    from asrkit.utils.fileio import final_name

    name = final_name(os.fsdecode(path))
    if e.errno in (errno.EEXIST, errno.ENOENT):
        broken = broken_link_message(name)
        if broken is not None:
            return broken
    if e.errno in (errno.EEXIST, errno.ENOTDIR):
        # mkdir's "exists and is not a directory" of a file, or "a component of the path is not a
        # directory" of a deeper name: the name in the way, in the words every command uses for it
        from asrkit.utils.fileio import not_a_directory

        in_the_way = not_a_directory(name)
        if in_the_way is not None:
            return in_the_way
    # '-' as an output file is /dev/stdout (asrkit-align's <ctm-out> -): the user wrote no such name
    return f"{'<stdout>' if name == '/dev/stdout' else name}: {what}"


def broken_link_message(path: str) -> Optional[str]:
    """``"<link>: a broken symbolic link (to ...)"`` for the first of ``path`` and its parents that
    is a symbolic link to nothing, or None. An output under a link to storage that is gone (exp ->
    an unmounted scratch disk, as Kaldi's create_split_dir.pl makes them) was "exp: exists and is
    not a directory" (mkdir's EEXIST)."""
    from asrkit.utils.fileio import not_found_reason

    p = Path(path)
    for q in (p, *p.parents):
        try:
            if q.is_symlink() and not q.exists():
                return f"{q}: {not_found_reason(q, 'directory')}"
        except (OSError, ValueError):
            return None
    return None


_WORKER_MARK = "in DataLoader worker process"


def _worker_exception_text(text: str) -> Optional[str]:
    """The exception line(s) at the end of a traceback that torch's DataLoader made the message of
    the exception it re-raised, or None when ``text`` is not such a message."""
    if _WORKER_MARK not in text or "Original Traceback" not in text:
        return None
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Original Traceback"))
    # Frames are indented; the exception itself ("pkg.Type: message", maybe several lines) is not.
    for i in range(start + 1, len(lines)):
        if lines[i] and not lines[i].startswith(" "):
            return "\n".join(lines[i:]).strip()
    return None


def rank_error(e: BaseException, rank: int, world: int) -> BaseException:
    """``e`` marked as rank ``rank`` of ``world``'s, for its command's ERROR line (:func:`error_source`):
    torchrun prints every rank's stderr to one terminal, and 8 ranks' "ERROR (asrkit-train): ..."
    lines did not say which had failed. A message that named the rank first does not say it twice."""
    if isinstance(e, AsrkitError):
        text = str(e)
        for said in (f"rank {rank} of {world}: ", f"rank {rank}: "):
            if text.startswith(said):
                e = AsrkitError(text[len(said):])
                break
    e.asrkit_rank = f"rank {rank} of {world}"
    return e


def error_source(prog: str, e: BaseException) -> str:
    """What an ERROR line names in its parentheses: ``prog``, and the rank of a multi-rank run's process."""
    rank = getattr(e, "asrkit_rank", None)
    return f"{prog} {rank}" if rank else prog


def from_worker(e: BaseException) -> BaseException:
    """The exception a DataLoader worker raised, as if raised here.

    torch re-raises a worker's exception as the same type with the worker's whole traceback as
    its message, and drops an OSError's errno and path: an ``AsrkitError`` would print as a
    traceback, and a full disk or a refused permission in a worker would look like a bug.
    Anything else comes back unchanged.
    """
    text = _worker_exception_text(str(e))
    if text is None:
        return e
    message = text.partition(": ")[2]  # after the exception's type
    if isinstance(e, AsrkitError):
        return AsrkitError(message)
    if isinstance(e, OSError):
        m = re.fullmatch(r"\[Errno (\d+)\] (.*?)(?:: '(.*)')?", message, flags=re.S)
        if m:
            return type(e)(int(m.group(1)), m.group(2), m.group(3))
    return e
