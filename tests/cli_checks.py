"""Running an asrkit command as a user's shell would (the ``asrkit`` fixture of tests/conftest.py),
with stdin of the test's choosing, and the one error line a failure must print."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys


def run_asrkit(*args: str, check: bool = True, input: bytes | None = None, stdin=None, cwd=None, env=None,
               timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``asrkit <sub> ...`` in a subprocess, as a user's shell would; stdout/stderr captured as
    bytes. ``stdin``: a file or ``subprocess.DEVNULL``; ``input``: bytes piped in."""
    full_env = dict(os.environ)
    full_env.setdefault("OMP_NUM_THREADS", "1")
    if env:
        full_env.update(env)
    proc = subprocess.run([sys.executable, "-m", "asrkit", *map(str, args)], input=input, stdin=stdin,
                          capture_output=True, cwd=cwd, env=full_env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"asrkit {' '.join(map(str, args))} exited {proc.returncode}\n--- stderr ---\n"
            + proc.stderr.decode(errors="replace")[-5000:]
        )
    return proc


def run_in_process(command: str | None, args, input: bytes | None = None, catch_exceptions: bool = False):
    """``asrkit-<command> args`` through its click ``main`` in this process (no interpreter start-up per
    call), click's Result returned; ``command`` None: ``asrkit args`` (the subcommand first, as
    :func:`run_asrkit` runs it). logging is pointed back at the real stderr afterwards, since the
    command set it up on the runner's. ``catch_exceptions``: an exception that gets out of the command
    is kept in the Result (``exception``) rather than raised."""
    import importlib

    from click.testing import CliRunner

    from asrkit.utils.logging import setup_logging

    module = importlib.import_module("asrkit.cli" if command is None else f"asrkit.cli.{command.replace('-', '_')}")
    try:
        return CliRunner().invoke(module.main, [str(a) for a in args], input=input, catch_exceptions=catch_exceptions)
    finally:
        setup_logging()


def run_asrkit_in_process(*args, check: bool = True) -> subprocess.CompletedProcess:
    """:func:`run_asrkit` through ``asrkit``'s own ``main`` in this process (no torch import per call,
    2-3 s CPU each): for a test of what a command prints, writes and exits with, not of a process
    (signals, start-up, a real stdin). An exception that gets out of the command is raised."""
    res = run_in_process(None, args)
    proc = subprocess.CompletedProcess(args, res.exit_code, res.stdout_bytes, res.stderr_bytes or b"")
    if check and proc.returncode != 0:
        raise AssertionError(f"asrkit {' '.join(map(str, args))} exited {proc.returncode}\n--- stderr ---\n"
                             + proc.stderr.decode(errors="replace")[-5000:])
    return proc


def run(args, stdin=None, input=None, cwd=None) -> subprocess.CompletedProcess:
    """:func:`run_asrkit` of an argument list, its exit status left to the test."""
    return run_asrkit(*args, check=False, stdin=stdin, input=input, cwd=cwd)


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The failed command's one ``ERROR`` line; a traceback or a second error line fails the test."""
    assert proc.returncode != 0, proc.stderr.decode()
    lines = [ln for ln in proc.stderr.decode().splitlines() if ln.startswith("ERROR")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr.decode(), proc.stderr.decode()
    return lines[0]


def without_root_override(cmd):
    """``cmd`` run so that file permissions apply: as root, under setpriv without CAP_DAC_OVERRIDE
    and CAP_DAC_READ_SEARCH (root reads a mode-000 file otherwise); skips when that cannot be."""
    import pytest

    if os.geteuid() != 0:
        return list(cmd)
    if not shutil.which("setpriv"):
        pytest.skip("root, and no setpriv to drop CAP_DAC_OVERRIDE: permissions cannot be tested")
    drop = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", *cmd]
