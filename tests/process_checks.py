"""Whether a process has ended, as the tests that kill runs and their workers check it."""
from __future__ import annotations

from pathlib import Path


def ended(pid: int) -> bool:
    """Not running: no such process, or a zombie (Z) or dead (X) one, left for whoever adopted
    it to reap, which a test cannot wait for (``os.kill(pid, 0)`` still finds a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):  # gone, or going while read
        return True
    return state in ("Z", "X")
