"""asrkit-decode of a file whose name starts with '-': '--' before it (or ./-dash.wav) decodes it,
as Unix tools take such names; without either, the usage error says so (tests/test_dash_names_hint.py)."""
from __future__ import annotations

import shutil

from test_decode_cli import inproc, yesno  # noqa: F401  (fixtures)


def test_dash_named_wav_decodes_after_double_dash(inproc, yesno, tmp_path, monkeypatch):  # noqa: F811
    # (click parses the same argument list in this process as in a new one: no interpreter start-up each)
    _, model, wavs = yesno
    shutil.copy(wavs[0], tmp_path / "-dash.wav")
    shutil.copy(wavs[0], tmp_path / "dash.wav")
    monkeypatch.chdir(tmp_path)
    proc = inproc("decode", "--model", model, "-dash.wav", check=False)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "No such option '-d'. '-dash.wav' is a file whose name starts with '-': put '--'" in err, err
    assert "Traceback" not in err
    ref = inproc("decode", "--model", model, "--beam", "2", "dash.wav").stdout.decode().split(" ", 1)
    for args in (["--", "-dash.wav"], ["./-dash.wav"]):
        out = inproc("decode", "--model", model, "--beam", "2", *args).stdout.decode()
        assert out.split(" ", 1) == ["-dash", ref[1]], (args, out, ref)
