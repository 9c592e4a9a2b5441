"""Where a command's stdout goes under a shell user's redirections: a full device (``>/dev/full``)
gives one line naming <stdout> and exit 1, for every command that prints with click.echo."""
from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from asrkit.utils.errors import os_error_message

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")


def _to_dev_full(args, cwd: Path) -> subprocess.CompletedProcess:
    with open("/dev/full", "w") as full:
        return subprocess.run([sys.executable, "-m", "asrkit", *args], stdout=full, stderr=subprocess.PIPE,
                              cwd=cwd, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))


@needs_dev_full
@pytest.mark.parametrize("args", [
    ["score", "ref", "hyp"],  # the summary lines
    ["train", "--print-config"],
    ["train-lm", "--print-config"],
    ["decode", "--print-config"],
    ["compute-fbank", "--print-config"],
], ids=lambda a: " ".join(a))
def test_click_echo_into_a_full_device_names_stdout(tmp_path: Path, args):
    """These said "no space left on device (writing an output whose name is not known here; check
    the disk and the output paths)": stdout, their only output, was not named."""
    (tmp_path / "ref").write_text("u1 YES NO YES\nu2 NO NO\n")
    (tmp_path / "hyp").write_text("u1 YES NO\nu2 NO NO\n")
    proc = _to_dev_full(args, tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert f"ERROR (asrkit-{args[0]}): <stdout>: no space left on device\n" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr


def test_dash_output_on_a_full_device_is_stdout():
    """asrkit-align's <ctm-out> - (written as /dev/stdout) into /dev/full said '/dev/stdout: no space
    left on device', a name the user never gave."""
    e = OSError(errno.ENOSPC, "No space left on device", "/dev/stdout")
    assert os_error_message(e) == "<stdout>: no space left on device"
    assert os_error_message(OSError(errno.ENOSPC, "x", "exp/ctm")) == "exp/ctm: no space left on device"


@pytest.mark.parametrize("args", [
    ["decode", "--model", "model.pt", "--wav-scp", "wav.scp", "--output-dir", "-"],
    ["score", "ref", "ref", "--output-dir", "-"],
    ["train-tokenizer", "--model-type", "char", "ref", "-"],
], ids=lambda a: a[0])
def test_dash_as_a_directory_is_refused(tmp_path: Path, args):
    """Kaldi's '-' is stdout: asrkit-decode --output-dir - made a directory named '-' and wrote the
    hypotheses there, nothing on stdout, exit 0."""
    (tmp_path / "ref").write_text("u1 YES NO YES\n")
    proc = subprocess.run([sys.executable, "-m", "asrkit", *args], capture_output=True, text=True, cwd=tmp_path,
                          timeout=600)
    assert proc.returncode == 2, proc.stderr
    assert "'-' is not stdin or stdout here but a directory name" in proc.stderr, proc.stderr
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("command", ["train", "train-lm", "decode", "compute-fbank", "adapt-speakers"])
def test_print_config_with_stdout_closed_is_named(tmp_path: Path, command: str):
    """``--print-config >&-``: click.echo writes nothing when there is no stdout, so the config was
    lost with exit 0."""
    proc = subprocess.run(["bash", "-c", 'exec "$@" >&-', "-", sys.executable, "-m", "asrkit", command,
                           "--print-config"], stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert f"ERROR (asrkit-{command}): <stdout>: stdout is closed" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


@needs_dev_full
def test_stderr_on_a_full_device_does_not_fail_the_command(tmp_path: Path, unbuffered: bool):
    """With stderr (the log) on a full disk, the first line, the command line, failed the command
    at once, exit 1, nothing done (and a summary line failed one that had written everything),
    while Python's logging, as Kaldi's stderr, drops a failed log write and goes on. Buffered
    (no PYTHONUNBUFFERED), stderr kept what failed and the interpreter's exit flush failed on it
    again: exit 120 after all was done."""
    (tmp_path / "ref").write_text("u1 YES NO YES\nu2 NO NO\n")
    (tmp_path / "hyp").write_text("u1 YES NO\nu2 NO NO\n")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "asrkit", "score", "--output-dir", "out", "ref", "hyp"],
                              stdout=subprocess.PIPE, stderr=full, text=True, cwd=tmp_path, timeout=600)
        assert proc.returncode == 0
        assert "%WER 20.00 [ 1 / 5," in proc.stdout, proc.stdout
        assert (tmp_path / "out" / "wer.txt").exists()
        # a failing command still fails
        bad = subprocess.run([sys.executable, "-m", "asrkit", "score", "ref", "missing"], stdout=subprocess.PIPE,
                             stderr=full, cwd=tmp_path, timeout=600)
    assert bad.returncode == 1


def test_stderr_reader_gone_does_not_fail_the_command(tmp_path: Path, unbuffered: bool):
    """``asrkit-score ... 2>&1 | head -1``-like: stderr's reader gone before the first line."""
    (tmp_path / "ref").write_text("u1 YES NO YES\n")
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run([sys.executable, "-m", "asrkit", "score", "ref", "ref"], stdout=subprocess.PIPE,
                              stderr=w, text=True, cwd=tmp_path, timeout=600)
    finally:
        os.close(w)
    assert proc.returncode == 0
    assert "%WER 0.00 [ 0 / 3," in proc.stdout, proc.stdout


def test_a_failed_log_line_is_not_kept_and_stderr_stays_where_it_was():
    """What a buffered stderr failed to write is dropped (the exit flush failed on it again, exit
    120), by pointing the descriptor at /dev/null for one flush: it then points where it did."""
    from asrkit.cli._common import _Diagnostics

    r, w = os.pipe()
    os.close(r)  # (the reader gone: EPIPE, Python ignoring SIGPIPE)
    try:
        stream = io.TextIOWrapper(open(w, "wb", closefd=False), encoding="utf-8", line_buffering=True)
        where = os.fstat(w).st_ino
        _Diagnostics(stream).write("a log line\n")
        stream.flush()  # (raised BrokenPipeError: the line was still held)
        assert os.fstat(w).st_ino == where
    finally:
        os.close(w)


@needs_dev_full
@pytest.mark.parametrize("args, prog", [
    (["decode", "--help"], "asrkit-decode"),
    (["score", "-h"], "asrkit-score"),
    (["--help"], "asrkit"),
    (["--version"], "asrkit"),
], ids=lambda a: " ".join(a) if isinstance(a, list) else a)
def test_help_into_a_full_device_is_named(tmp_path: Path, args, prog: str):
    """--help and --version print while click parses, outside the command: into /dev/full they were
    a click traceback."""
    proc = _to_dev_full(args, tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == f"ERROR ({prog}): <stdout>: no space left on device\n", proc.stderr


def test_help_through_the_installed_names_is_named(tmp_path: Path):
    """The same through asrkit-<sub> as through asrkit <sub>."""
    bindir = Path(sys.executable).parent
    if not (bindir / "asrkit-decode").exists():
        pytest.skip("asrkit is not installed beside this python")
    with open("/dev/full", "w") as full:
        got = [subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, text=True, timeout=600)
               for cmd in ([str(bindir / "asrkit-decode"), "-h"], [str(bindir / "asrkit"), "decode", "-h"])]
    for proc in got:
        assert (proc.returncode, proc.stderr) == (1, "ERROR (asrkit-decode): <stdout>: no space left on device\n")


@pytest.mark.parametrize("args, prog", [
    (["decode", "--help"], "asrkit-decode"),
    (["decode", "-h"], "asrkit-decode"),
    (["--help"], "asrkit"),
    (["--version"], "asrkit"),
], ids=lambda a: " ".join(a) if isinstance(a, list) else a)
def test_help_with_stdout_closed_is_named(tmp_path: Path, args, prog: str):
    """``--help >&-``: click.echo prints to no stream, so nothing was printed, exit 0."""
    proc = subprocess.run(["bash", "-c", 'exec "$@" >&-', "-", sys.executable, "-m", "asrkit", *args],
                          stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=600)
    assert (proc.returncode, proc.stderr) == (1, f"ERROR ({prog}): <stdout>: stdout is closed\n")
