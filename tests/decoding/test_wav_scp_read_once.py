"""asrkit-decode, -align and -compute-fbank read a wav.scp once at start-up: the outputs'
same-file check uses the entries the run decodes, so a wav.scp from a pipe is checked too."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


@pytest.fixture
def corpus(tmp_path, yesno_root):
    wav = sorted((yesno_root / "waves_yesno").glob("*.wav"))[0]
    shutil.copy(wav, tmp_path / "a.wav")
    (tmp_path / "wav.scp").write_text("u1 a.wav\n")
    return tmp_path


def bash(cmd: str, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(["bash", "-c", cmd.replace("ASRKIT", f"{sys.executable} -m asrkit")], capture_output=True,
                          cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("cmd", [
    # the check once skipped a wav.scp that is a pipe (it can be read once, and was read for the
    # decoding only): --ctm a.wav replaced the recording the run read
    "ASRKIT decode --model no-model.pt --wav-scp <(cat wav.scp) --ctm a.wav",
    "ASRKIT align --model no-model.pt <(cat wav.scp) text a.wav",
    "ASRKIT compute-fbank --sample-frequency 8000 scp:<(cat wav.scp) ark:a.wav",
])
def test_a_recording_of_a_piped_wav_scp_is_not_an_output(corpus, cmd):
    (corpus / "text").write_text("u1 YES\n")
    before = (corpus / "a.wav").read_bytes()
    proc = bash(cmd, corpus)
    err = proc.stderr.decode()
    assert proc.returncode != 0, err
    assert "same file" in err and "a.wav" in err and "Traceback" not in err, err
    assert (corpus / "a.wav").read_bytes() == before


def test_decode_reads_the_wav_scp_once(corpus, monkeypatch):
    import asrkit.data.table as table
    from asrkit.decoding.inputs import DecodeInputs
    from asrkit.decoding.run import check_output_paths

    reads = []
    for name in ("iter_table", "iter_table_fast"):
        real = getattr(table, name)
        monkeypatch.setattr(table, name, lambda path, *a, _real=real, **k: (reads.append(str(path)), _real(path, *a, **k))[1])
    import asrkit.features.wav_scp as wav_scp

    for name in ("iter_table", "iter_table_fast"):  # (whichever the reader imported)
        if hasattr(wav_scp, name):
            monkeypatch.setattr(wav_scp, name, getattr(table, name))
    monkeypatch.chdir(corpus)
    inputs = DecodeInputs(wav_scp="wav.scp")
    check_output_paths(corpus / "out", None, None, inputs=[("--wav-scp", "wav.scp")], wav_sources=inputs.wav_sources())
    items, total = inputs.open(lambda samples, rate, utt: samples)
    assert total == 1 and reads == ["wav.scp"]
