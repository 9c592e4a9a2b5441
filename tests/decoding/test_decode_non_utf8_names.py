"""asrkit-decode given an audio file whose name is not UTF-8 (a Latin-1 corpus copied as it is)
refuses it before the model loads; the remedy it gave, 'list it in a wav.scp given with
--wav-scp', refused the same path again ('not UTF-8 text'), as every table does. It now gives an
ln -s that runs as printed. Found by the hostile-file matrix (/tmp/hE_matrix.py)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import soundfile as sf


def _decode(cwd, *names):
    return subprocess.run([sys.executable, "-m", "asrkit", "decode", "--model", os.fsencode(cwd) + b"/none.pt",
                           *names], cwd=cwd, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"))


def test_a_name_that_is_not_utf8_gets_a_link_command_that_works(tmp_path):
    folder = tmp_path / "Bob's data"
    folder.mkdir()
    name = b"caf\xe9 'n' \\.wav"
    path = os.path.join(os.fsencode(folder), name)
    sf.write(path, np.zeros(1600, np.int16), 16000, subtype="PCM_16")
    proc = _decode(folder, name)
    err = proc.stderr.decode(errors="replace").strip().splitlines()
    assert proc.returncode == 1 and err[-1].startswith("ERROR (asrkit-decode): ") and "Traceback" not in proc.stderr.decode(errors="replace")
    assert "nor can a wav.scp line hold its name as it is" in err[-1] and "--wav-scp" not in err[-1]
    command = err[-1].split("link to it under a UTF-8 name: ", 1)[1]
    subprocess.run(["bash", "-c", command], cwd=folder, check=True)
    link = folder / "caf_ 'n' \\.wav"
    assert link.is_symlink() and os.path.samefile(link, path)
    # the link's name is taken: what fails now is the missing model
    proc = _decode(folder, link.name)
    assert "not UTF-8" not in proc.stderr.decode() and "none.pt" in proc.stderr.decode().strip().splitlines()[-1]


def test_a_link_command_for_a_name_starting_with_a_dash_runs(tmp_path):
    # 'ln -s $'/.../-caf\xe9.wav' -caf_.wav' failed: 'ln: invalid option'
    folder = tmp_path / "Bob's data"
    folder.mkdir()
    path = os.path.join(os.fsencode(folder), b"-caf\xe9.wav")
    sf.write(path, np.zeros(1600, np.int16), 16000, subtype="PCM_16")
    proc = _decode(folder, b"./-caf\xe9.wav")
    err = proc.stderr.decode(errors="replace").strip().splitlines()
    assert proc.returncode == 1 and err[-1].startswith("ERROR (asrkit-decode): "), err
    command = err[-1].split("link to it under a UTF-8 name: ", 1)[1]
    subprocess.run(["bash", "-c", command], cwd=folder, check=True, capture_output=True)
    link = folder / "-caf_.wav"
    assert link.is_symlink() and os.path.samefile(link, path)
