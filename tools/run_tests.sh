#!/usr/bin/env bash
# Set up tools/venv if needed, then run the test suite. Extra arguments go to pytest.
#   e.g. tools/run_tests.sh            # everything
#        tools/run_tests.sh tests/data -k scp
# The corpora are found through ASRKIT_CORPORA (default ../shared/corpora beside the checkout);
# tests that need a missing corpus skip with a message, unless ASRKIT_REQUIRE_CORPORA=1.
# ASRKIT_VENV=<dir>: run with that environment's Python instead of setting up tools/venv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# ASRKIT_VENV names an environment that already has asrkit's test extras (as recipes' path.sh
# takes it): install.sh is not run, since it would build tools/venv (5.4 GB) beside it anyway.
if [ -n "${ASRKIT_VENV:-}" ]; then
  python=$ASRKIT_VENV/bin/python
  "$python" -c 'import pytest, torch, asrkit' 2> /dev/null \
    || { echo "$0: ASRKIT_VENV=$ASRKIT_VENV: $python cannot run or import pytest, torch and asrkit" >&2; exit 1; }
else
  "$root/tools/install.sh"
  python=$root/tools/venv/bin/python
fi
# The suite runs on up to 4 cores (pytest-xdist; ASRKIT_TEST_WORKERS=1: one process). Tests that
# share a Slurm cluster stay on one worker (tests/conftest.py); torch gets one thread per worker.
# (nproc without OMP_NUM_THREADS/OMP_THREAD_LIMIT: GNU nproc reports those instead of the cores, so
# a shell with path.sh's OMP_NUM_THREADS=1 ran the whole suite in one process)
workers=${ASRKIT_TEST_WORKERS:-$(n=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo 1); echo $(( n < 4 ? n : 4 )))}
case $workers in ''|*[!0-9]*|0) echo "$0: ASRKIT_TEST_WORKERS must be a positive integer, got '$workers'" >&2; exit 1 ;; esac
xdist=()
if [ "$workers" -gt 1 ]; then
  xdist=(-n "$workers" --dist loadgroup)
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
fi
exec "$python" -m pytest "${xdist[@]}" "$@"
