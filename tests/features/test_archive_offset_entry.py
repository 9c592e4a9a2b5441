"""A wav.scp value that is Kaldi's extended filename into an archive of WAVs ('<utt> wav.ark:12',
what wav-copy's ark,scp output lists) was 'no such file', though the archive is there: asrkit
opens a value as a whole file. The error now says what the value is and the entry Kaldi reads it
with. Found by the hostile-file matrix (/tmp/hE_matrix.py)."""
from __future__ import annotations

import io
import shlex

import numpy as np
import soundfile as sf
from feat_helpers import run_cli, write_scp

from asrkit.cli import compute_fbank as compute_fbank_cli


def test_an_archive_offset_in_a_wav_scp_is_named_as_such(tmp_path):
    x = (np.sin(np.arange(16000) * 0.1) * 8000).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="WAV", subtype="PCM_16")
    ark = tmp_path / "my wav.ark"
    ark.write_bytes(b"u1 " + buf.getvalue())
    good = tmp_path / "good.wav"
    good.write_bytes(buf.getvalue())
    scp = write_scp(tmp_path / "wav.scp", [("good", good), ("u1", f"{ark}:3"), ("gone", tmp_path / "gone.wav:3")])
    out = tmp_path / "out"
    result = run_cli(compute_fbank_cli, ["--max-bad-percent", "100", f"scp:{scp}",
                                         f"ark,scp:{out}/feats.ark,{out}/feats.scp"])
    assert result.exit_code == 0, result.stderr
    assert (f"skipping utterance 'u1' ({scp}:2: {ark}:3): no such file ({ark} is there: a Kaldi archive offset, "
            f"which asrkit does not read; Kaldi reads it with the wav.scp line: <utt> wav-copy '{ark}:3' - |)\n") \
        in result.stderr
    # a missing file is only that
    assert f"skipping utterance 'gone' ({scp}:3: {tmp_path}/gone.wav:3): no such file\n" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_archive_hint_is_for_an_archive_and_its_line_pastes(tmp_path):
    # 'u3 a1.wav:12' with a1.wav an ordinary WAV was called 'a Kaldi archive offset'; and the line
    # given was wrapped in quotes around an inner quoted path, which broke when pasted
    x = (np.sin(np.arange(1600) * 0.1) * 8000).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="WAV", subtype="PCM_16")
    a1 = tmp_path / "a1.wav"
    a1.write_bytes(buf.getvalue())
    ark = tmp_path / "Bob's wav.ark"
    ark.write_bytes(b"u1 " + buf.getvalue() + b"u2 " + buf.getvalue())
    second = 3 + len(buf.getvalue()) + 3
    scp = write_scp(tmp_path / "wav.scp", [("u3", f"{a1}:12"), ("u2", f"{ark}:{second}"), ("u4", f"{ark}:5")])
    out = tmp_path / "out"
    result = run_cli(compute_fbank_cli, ["--max-bad-percent", "100", f"scp:{scp}",
                                         f"ark,scp:{out}/feats.ark,{out}/feats.scp"])
    assert f"skipping utterance 'u3' ({scp}:1: {a1}:12): no such file\n" in result.stderr, result.stderr
    assert f"skipping utterance 'u4' ({scp}:3: {ark}:5): no such file\n" in result.stderr, result.stderr
    line = result.stderr.split("Kaldi reads it with the wav.scp line: ", 1)[1].split("\n", 1)[0]
    assert line.endswith(")")
    line = line[:-1].replace("<utt>", "u2")
    # what a wav.scp line holds: the id, then the command Kaldi runs, its archive path one word
    key, command = line.split(" ", 1)
    assert key == "u2" and command.endswith(" |")
    assert shlex.split(command[:-1]) == ["wav-copy", f"{ark}:{second}", "-"]
