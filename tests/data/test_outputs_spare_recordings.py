"""An output is refused when it is a recording the wav.scp names, by whatever name either goes by
(asrkit.data.specifier.wav_scp_files_named, behind asrkit-compute-fbank, -decode and -align)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from asrkit.data.specifier import wav_scp_files_named
from asrkit.decoding.run import check_output_paths, check_outputs_spare_inputs
from asrkit.utils.errors import AsrkitError


@pytest.fixture
def corpus(tmp_path, yesno_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wav = sorted((yesno_root / "waves_yesno").glob("*.wav"))[0]
    (tmp_path / "corpus").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "out").mkdir()
    shutil.copy(wav, tmp_path / "corpus" / "a.wav")
    return tmp_path


def refuse(outputs, wav_scp):
    check_outputs_spare_inputs([(o, f"--ctm {o}") for o in outputs], [("--wav-scp", wav_scp)])


def test_a_recording_listed_through_a_symlink_of_another_name(corpus):
    # Kaldi data dirs often list links (data/wav/u1.wav -> /corpus/a.wav): writing onto the file
    # the link leads to replaced the recording, its base name being another than the link's
    (corpus / "data" / "u1.wav").symlink_to(corpus / "corpus" / "a.wav")
    Path("wav.scp").write_text("u1 data/u1.wav\n")
    with pytest.raises(AsrkitError, match=r"--ctm corpus/a.wav is the same file as the recording data/u1.wav "):
        refuse(["corpus/a.wav"], "wav.scp")
    with pytest.raises(AsrkitError, match=r"is the same file as the recording data/u1.wav"):
        refuse([f"{corpus}/corpus/../corpus/a.wav"], "scp:wav.scp")
    # an absolute entry in the root directory's listing is looked up there, not in "."
    assert wav_scp_files_named("wav.scp", ["out/x.ctm"]) == []


def test_an_output_that_is_a_symlink_of_another_name_to_a_recording(corpus):
    # a log is appended to in place, through the link: log/decode.log -> a recording grew a log
    (corpus / "out" / "log").mkdir()
    (corpus / "out" / "log" / "decode.log").symlink_to(corpus / "corpus" / "a.wav")
    Path("wav.scp").write_text("u1 corpus/a.wav\n")
    with pytest.raises(AsrkitError, match=r"--output-dir's log/decode.log is the same file as the recording "
                                          r"corpus/a.wav of --wav-scp wav.scp"):
        check_output_paths(Path("out"), None, None, inputs=[("--wav-scp", "wav.scp")])


def test_other_files_of_the_same_name_hard_links_pipes_and_stdin_pass(corpus):
    Path("wav.scp").write_text("u1 corpus/a.wav\nu2 sox corpus/a.wav -t wav - |\nu3 -\n")
    shutil.copy("corpus/a.wav", "out/a.wav")  # another file of that name, elsewhere
    refuse(["out/a.wav"], "wav.scp")
    # a hard link is a file of its own: the output is renamed onto its own name (docs/errors.md)
    os.link("corpus/a.wav", "out/hard.wav")
    refuse(["out/hard.wav"], "wav.scp")
    assert wav_scp_files_named("wav.scp", ["out/-", "out/|"]) == []
    assert wav_scp_files_named("wav.scp", [f"{corpus}/out/a.wav"]) == ["corpus/a.wav"]
