"""Where a command's stdout goes under a shell user's redirections: a full device (``>/dev/full``)
gives one line naming <stdout> and exit 1, for every command that prints with click.echo."""
from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import os
import subprocess
import sys
import threading
import time
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


@needs_dev_full
@pytest.mark.parametrize("args", [["score", "--bogus"], ["bogus"]], ids=lambda a: a[0])
def test_a_usage_error_with_stderr_full_or_closed_is_exit_2_and_nothing_on_stdout(tmp_path: Path, args):
    """A usage error into a full stderr was exit 1 (its traceback written to no one; 120 where
    the interpreter's last flush failed again); with stderr closed (``2>&-``) click printed the
    usage on stdout, into the command's output (``> out.txt``)."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "asrkit", *args], stdout=subprocess.PIPE, stderr=full,
                              cwd=tmp_path, timeout=600)
    assert (proc.returncode, proc.stdout) == (2, b"")
    proc = subprocess.run(["bash", "-c", 'exec "$@" 2>&-', "-", sys.executable, "-m", "asrkit", *args],
                          stdout=subprocess.PIPE, cwd=tmp_path, timeout=600)
    assert (proc.returncode, proc.stdout) == (2, b"")


def _filled_non_blocking(w: int) -> int:
    """Pipe end ``w`` made non-blocking and written to until it is full: the bytes written."""
    fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
    filled = 0
    with contextlib.suppress(BlockingIOError):
        while True:
            filled += os.write(w, b"x" * 512)
    return filled


@pytest.mark.parametrize("writer", ["stdout", "open_output"])
def test_a_full_non_blocking_pipe_is_waited_on_not_lost(writer: str):
    """A pipe its maker set non-blocking (O_NONBLOCK: node, an event loop; the mode is shared
    with the command's descriptor) and full: asrkit-score's summary into it was lost with exit
    0, and so was what a '-' output (written as /dev/stdout) could not write at once. Both writers
    now wait for the reader, as on a blocking pipe."""
    from asrkit.cli._common import whole_writes
    from asrkit.utils.fileio import open_output

    r, w = os.pipe()
    fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)  # (small: full at once)
    filled = _filled_non_blocking(w)
    received = bytearray()

    def read_late() -> None:  # (later than the write: the pipe is full when it comes)
        time.sleep(0.5)
        while chunk := os.read(r, 65536):
            received.extend(chunk)

    reader = threading.Thread(target=read_late)
    reader.start()
    text = "".join(f"u{i} %WER 0.00 [ 0 / 3, 0 ins, 0 del, 0 sub ]\n" for i in range(2000))
    try:
        if writer == "stdout":
            process_stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(w, "w", closefd=False)), encoding="utf-8")
            stdout = whole_writes(process_stdout)
            stdout.write(text)
            stdout.flush()
        else:
            with open_output(f"/dev/fd/{w}") as f:
                f.write(text)
    finally:
        os.close(w)
        reader.join()
        os.close(r)
    assert received[filled:].decode() == text


def test_a_full_non_blocking_pipe_is_waited_on_by_a_process_with_descriptors_past_1023():
    """The wait for a full non-blocking pipe's reader (above) looked at the pipe with select.select,
    which refuses a descriptor past 1023: a process holding many files open (a raised ``ulimit -n``,
    as containers give) got a ValueError traceback for its output. poll has no such limit."""
    import resource

    from asrkit.utils.fileio import WholeWrites

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"this machine allows {hard} open files")
    if soft != resource.RLIM_INFINITY and soft < 1100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1100 if hard == resource.RLIM_INFINITY else min(hard, 1100), hard))
    found_full = threading.Event()

    class NoticingFull(io.FileIO):
        def write(self, b):
            n = super().write(b)
            if n is None:  # (the pipe full: WholeWrites waits for the reader next)
                found_full.set()
            return n

    held = []
    try:
        while not held or held[-1] < 1030:
            held.append(os.open(os.devnull, os.O_RDONLY))
        r, w = os.pipe()  # (both past 1023)
        assert w > 1023
        filled = _filled_non_blocking(w)
        received = bytearray()

        def read_once_the_write_found_it_full() -> None:  # (no clock: an event says when)
            found_full.wait(300)  # (a bound on a hang only)
            while chunk := os.read(r, 65536):
                received.extend(chunk)

        reader = threading.Thread(target=read_once_the_write_found_it_full)
        reader.start()
        data = b"y" * 100000
        try:
            out = WholeWrites(NoticingFull(w, "w", closefd=False), "pipe")
            assert out.write(data) == len(data)
        finally:
            found_full.set()
            os.close(w)
            reader.join()
            os.close(r)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert received == b"x" * filled + data
