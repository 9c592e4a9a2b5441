"""A socket as stdin (a job runner's, a parent's socketpair): '-' became /dev/stdin, which cannot be
opened by name there ("/dev/stdin: cannot read: No such device or address"), where Kaldi's '-' reads
std::cin and asrkit's own scp:- read it. Descriptor 0 is read itself."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def _run_with_socket_stdin(args, data: bytes, cwd):
    ours, theirs = socket.socketpair()
    try:
        ours.sendall(data)
        ours.shutdown(socket.SHUT_WR)
        return subprocess.run([sys.executable, "-m", "asrkit", *args], stdin=theirs.fileno(), capture_output=True,
                              cwd=cwd, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("args,data,out", [
    (["score", "ref", "-"], b"u1 YES NO\nu2 NO\n", "%WER 0.00"),  # a text table '-'
    (["compute-fbank", "--config", "-", "--print-config"], b"num_mel_bins: 40\n", "num_mel_bins: 40"),  # YAML
])
def test_dash_reads_a_socket_given_as_stdin(tmp_path, args, data, out):
    (tmp_path / "ref").write_text("u1 YES NO\nu2 NO\n")
    proc = _run_with_socket_stdin(args, data, tmp_path)
    text = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == 0 and out in text, text
