"""The one exception type commands turn into a clear one-line message and a non-zero exit, and
the one place that words the machine's own errors (a full disk, a read-only file system)."""
from __future__ import annotations

import errno
import os
from typing import Optional


class AsrkitError(Exception):
    """An error in the user's input or environment, reported without a traceback.

    The message should name the file, line or utterance at fault, e.g.
    ``data/train/wav.scp:12: malformed line (expected '<utt-id> <wav>')``.
    """


# The errors of the machine rather than of the input: reported as one line naming the path.
MACHINE_ERRORS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large",
    errno.EIO: "input/output error",
}


def os_error_message(e: OSError) -> Optional[str]:
    """``<path>: no space left on device`` for the errors above, else None (a bug: traceback).

    The path is the output the user named, not our temporary name for it
    (``dump/x/.feats.ark.123.ab12cd34.tmp`` is reported as ``dump/x/feats.ark``).
    """
    what = MACHINE_ERRORS.get(e.errno)
    if what is None:
        return None
    path = e.filename
    if path is None:
        return f"{what} (writing an output whose name is not known here; check the disk and the output paths)"
    from asrkit.utils.fileio import final_name

    return f"{final_name(os.fsdecode(path))}: {what}"
