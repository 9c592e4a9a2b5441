"""ark:- (and a '-' stats rxfilename) typed at a prompt with the pipe forgotten waited for ever
for someone to type a Kaldi ark in; stdin that is a terminal is refused there."""
from __future__ import annotations

import os
import subprocess
import sys

import kaldiio
import numpy as np
import pytest
from process_checks import a_terminal


@pytest.mark.parametrize("args", [
    ["apply-cmvn", "{tmp}/cmvn.ark", "ark:-", "ark:{tmp}/o.ark"],
    ["compute-cmvn", "ark:-", "{tmp}/cmvn.ark"],
])
def test_a_kaldi_ark_from_a_terminal_is_refused(tmp_path, args):
    stats = np.zeros((2, 4))
    stats[0, 3] = 10.0
    stats[1, :3] = 10.0
    kaldiio.save_mat(str(tmp_path / "cmvn.ark"), stats)  # global stats of 3-dim features, 10 frames
    with a_terminal() as tty:
        proc = subprocess.run([sys.executable, "-m", "asrkit", *[a.format(tmp=tmp_path) for a in args]],
                              stdin=tty, capture_output=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "<stdin>: stdin is a terminal, not a Kaldi ark" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("args,name", [
    (["compute-cmvn", "scp:-", "{tmp}/cmvn.ark"], "<stdin>"),
    (["compute-cmvn", "scp:/dev/stdin", "{tmp}/cmvn.ark"], "/dev/stdin"),
    (["compute-cmvn", "scp:/proc/self/fd/0", "{tmp}/cmvn.ark"], "/proc/self/fd/0"),
    (["compute-fbank", "scp:/dev/stdin", "ark:{tmp}/o.ark"], "/dev/stdin"),  # a wav.scp
    (["score", "{tmp}/text", "-"], "/dev/stdin"),
])
def test_a_text_table_from_a_terminal_is_refused(tmp_path, args, name):
    """scp:/dev/stdin (or /proc/self/fd/0, or a text table '-') typed at a prompt waited for ever for
    someone to type the table in, where ark:- is refused: the table readers refuse a terminal alike."""
    (tmp_path / "text").write_text("u1 A\n")
    with a_terminal() as tty:
        proc = subprocess.run([sys.executable, "-m", "asrkit", *[a.format(tmp=tmp_path) for a in args]],
                              stdin=tty, capture_output=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    err = proc.stderr.decode()
    assert proc.returncode == 1 and f"{name}: stdin is a terminal, not a text file" in err, err
    assert "Traceback" not in err and not (tmp_path / "cmvn.ark").exists() and not (tmp_path / "o.ark").exists()


def test_a_table_on_stdin_from_a_pipe_or_a_file_is_read(tmp_path):
    """The nearest valid inputs: scp:/dev/stdin, scp:/proc/self/fd/0 and scp:- piped or redirected."""
    kaldiio.save_ark(str(tmp_path / "f.ark"), {"u1": np.ones((4, 3), np.float32)}, scp=str(tmp_path / "f.scp"))
    scp = (tmp_path / "f.scp").read_bytes()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for spec in ("scp:-", "scp:/dev/stdin", "scp:/proc/self/fd/0"):
        out = tmp_path / f"c{len(spec)}.ark"
        piped = subprocess.run([sys.executable, "-m", "asrkit", "compute-cmvn", spec, str(out)], input=scp,
                               capture_output=True, timeout=300, env=env)
        assert piped.returncode == 0 and out.exists(), piped.stderr.decode()
        out.unlink()
        with open(tmp_path / "f.scp", "rb") as f:
            redirected = subprocess.run([sys.executable, "-m", "asrkit", "compute-cmvn", spec, str(out)], stdin=f,
                                        capture_output=True, timeout=300, env=env)
        assert redirected.returncode == 0 and out.exists(), redirected.stderr.decode()
