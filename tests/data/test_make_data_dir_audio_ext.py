"""asrkit-make-data-dir --audio-ext values that can match no file are refused as such."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from asrkit.data.from_audio import make_data_dir
from asrkit.utils.errors import AsrkitError


@pytest.mark.parametrize("extensions,message", [
    # was "no audio files (looked for *. in it and its folders ...)" in a folder of WAVs
    ([], "--audio-ext: no extension given"),
    # a file's extension follows its last dot: never 'wav.gz'; and no glob is expanded
    (["wav", "wav.gz"], "--audio-ext 'wav.gz': an extension is the part of the name after its last dot"),
    (["*"], "--audio-ext '\\*': an extension is the part"),
])
def test_extensions_that_match_nothing(tmp_path, extensions, message):
    (tmp_path / "a").mkdir()
    soundfile.write(tmp_path / "a" / "x.wav", np.zeros(800, np.int16), 16000, subtype="PCM_16")
    (tmp_path / "a" / "x.txt").write_text("HI\n")
    with pytest.raises(AsrkitError, match=message):
        make_data_dir(tmp_path / "a", tmp_path / "d", extensions=extensions)
    assert make_data_dir(tmp_path / "a", tmp_path / "d", extensions=[".WAV"]).num_utts == 1


def test_a_sample_rate_over_what_asrkit_reads_is_refused(tmp_path):
    # every file's 'sox ... -r 1000000 ... |' was written, and each utterance then failed at
    # feature extraction as "sample rate 1000000 Hz in the header is over the 768000 Hz asrkit reads"
    (tmp_path / "a").mkdir()
    soundfile.write(tmp_path / "a" / "x.wav", np.zeros(800, np.int16), 16000, subtype="PCM_16")
    (tmp_path / "a" / "x.txt").write_text("HI\n")
    with pytest.raises(AsrkitError, match="--sample-rate 1000000: over the 768000 Hz asrkit reads"):
        make_data_dir(tmp_path / "a", tmp_path / "d", sample_rate=1_000_000)
    assert not (tmp_path / "d").exists()
