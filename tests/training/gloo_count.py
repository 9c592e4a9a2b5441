"""How many of gloo's worker threads this process has (torch names them ``pt_gloo_runloop``):
the scripts that run asrkit-train under a launcher count them to show that a group is gone
before Python's exit (see asrkit.launch.distributed.leave_distributed)."""
from pathlib import Path


def gloo_threads() -> int:
    names = []
    for task in Path("/proc/self/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:  # a thread that ended meanwhile
            pass
    return sum(name.startswith("pt_gloo") for name in names)
