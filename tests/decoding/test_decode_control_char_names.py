"""An audio file whose name holds an ASCII control character (^A, an ESC of 'ls --color' output
pasted into a name): asrkit-decode made it the utterance id as it was, and wrote it to stdout and
text, where every table reader after (asrkit-score, validate-data-dir) refused the id. It becomes
``_``, as white space in a name does."""
from __future__ import annotations

import shutil

from asrkit.decoding.inputs import file_utt_ids

from test_decode_cli import inproc, yesno  # noqa: F401  (fixtures)


def test_a_control_character_in_a_file_name_becomes_an_underscore_in_its_id(inproc, yesno, tmp_path):  # noqa: F811
    renamed = []
    assert file_utt_ids(["a/ctrl\x01char.wav", "b/esc\x1b[31mred.flac", "c/tab\there.wav"], renamed) == [
        "ctrl_char", "esc_[31mred", "tab_here"]
    assert [u for _, u in renamed] == ["ctrl_char", "esc_[31mred", "tab_here"]
    tmp, model, wavs = yesno
    wav = tmp_path / "ctrl\x01char.wav"
    shutil.copy(wavs[0], wav)
    out = inproc("decode", "--model", model, "--beam", "2", "--maxlenratio", "0.3", wav).stdout.decode()
    assert out.split(" ", 1)[0] == "ctrl_char", out
    hyp, ref = tmp_path / "hyp", tmp_path / "ref"
    hyp.write_text(out)
    ref.write_text(out)
    assert inproc("score", ref, hyp).returncode == 0
