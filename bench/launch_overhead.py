#!/usr/bin/env python3
"""The local launcher's own overhead: N trivial jobs (``true``) through ``asrkit-launch``.

Since ``true`` does no work, the whole wall time of ``asrkit-launch JOB=1:N log/t.JOB.log true``
is overhead: Python start-up, one ``bash`` per job (run.pl pays that too), writing N logs with
their header and footer. Also shown: the in-process ``run_local`` part alone and the start-up
of the command (``--help``). Prints a table and the command that made it, e.g.:
    tools/venv/bin/python bench/launch_overhead.py --jobs 100 --repeats 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _args  # noqa: E402
from asrkit.launch.job import Launch, parse_job_range  # noqa: E402
from asrkit.launch.local import default_max_jobs, run_local  # noqa: E402


def wall(cmd: list[str], cwd: str) -> float:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise _args.command_failed(cmd, proc.returncode, proc.stderr)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=_args.positive_int, default=100, help="number of trivial jobs")
    parser.add_argument("--max-jobs-run", type=_args.positive_int, default=None,
                        help="concurrency (default: the cores)")
    parser.add_argument("--repeats", type=_args.positive_int, default=5,
                        help="runs per row; the table shows min and median")
    args = parser.parse_args()
    limit = args.max_jobs_run or default_max_jobs()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cli = [sys.executable, "-m", "asrkit", "launch", "--max-jobs-run", str(limit), f"JOB=1:{args.jobs}",
               "log/t.JOB.log", "true"]
        startup = [wall([sys.executable, "-m", "asrkit", "launch", "--help"], tmp) for _ in range(args.repeats)]
        whole = [wall(cli, tmp) for _ in range(args.repeats)]
        assert len(list(Path(tmp, "log").glob("t.*.log"))) == args.jobs
        launch = Launch("true", str(Path(tmp, "lib/t.JOB.log")), parse_job_range(f"JOB=1:{args.jobs}"))
        library = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = run_local(launch, max_jobs_run=limit, show_progress=False)
            library.append(time.perf_counter() - start)
            assert not result.failed
        rows = [("asrkit-launch --help (start-up only)", startup),
                (f"asrkit-launch JOB=1:{args.jobs} ... true (whole command)", whole),
                (f"run_local, {args.jobs} jobs (in-process)", library)]

    print("# " + " ".join(["python", "bench/launch_overhead.py"] + sys.argv[1:]))
    print(f"# {args.jobs} jobs of `true`, at most {limit} at a time, {os.cpu_count()} cores, {args.repeats} runs")
    print(f"{'what':<50} {'min s':>7} {'median s':>9} {'ms/job':>7}")
    for name, times in rows:
        per_job = "" if "start-up" in name else f"{1000 * min(times) / args.jobs:7.1f}"
        print(f"{name:<50} {min(times):7.3f} {statistics.median(times):9.3f} {per_job:>7}")
    overhead = min(whole)
    print(f"# launcher overhead for {args.jobs} trivial jobs: {overhead:.2f} s (target < 2 s): "
          f"{'PASS' if overhead < 2 else 'FAIL'}")


if __name__ == "__main__":
    _args.run(main)
