"""ark:- (and a '-' stats rxfilename) typed at a prompt with the pipe forgotten waited for ever
for someone to type a Kaldi ark in; stdin that is a terminal is refused there."""
from __future__ import annotations

import os
import subprocess
import sys

import kaldiio
import numpy as np
import pytest


@pytest.mark.parametrize("args", [
    ["apply-cmvn", "{tmp}/cmvn.ark", "ark:-", "ark:{tmp}/o.ark"],
    ["compute-cmvn", "ark:-", "{tmp}/cmvn.ark"],
])
def test_a_kaldi_ark_from_a_terminal_is_refused(tmp_path, args):
    stats = np.zeros((2, 4))
    stats[0, 3] = 10.0
    stats[1, :3] = 10.0
    kaldiio.save_mat(str(tmp_path / "cmvn.ark"), stats)  # global stats of 3-dim features, 10 frames
    master, slave = os.openpty()
    try:
        # An end of input (Ctrl-D) typed first: a reader that does read the terminal fails at once
        # (with another message) rather than waiting for the test's timeout.
        os.write(master, b"\x04")
        proc = subprocess.run([sys.executable, "-m", "asrkit", *[a.format(tmp=tmp_path) for a in args]],
                              stdin=slave, capture_output=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    finally:
        os.close(slave)
        os.close(master)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "<stdin>: stdin is a terminal, not a Kaldi ark" in err, err
    assert "Traceback" not in err
