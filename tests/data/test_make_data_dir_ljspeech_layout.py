"""asrkit-make-data-dir on a corpus in LJSpeech's layout: wavs/<id>.wav and metadata.csv of
'id|text|normalized text' lines beside wavs/."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from asrkit.data.table import read_table
from tests.user_corpus import make_ljspeech_corpus


@pytest.mark.parametrize("audio", [".", "wavs"])
def test_no_transcripts_names_the_metadata_csv_that_holds_them(an4_root, tmp_path, asrkit, audio):
    # 'no transcripts: none of its 6 audio files has a <name>.txt beside it' said nothing of the
    # metadata.csv that holds every transcript, whether the corpus folder or wavs/ was given.
    root = tmp_path / "LJSpeech-1.1"
    expected = make_ljspeech_corpus(an4_root, root, 6)
    audio_dir = root / audio
    r = asrkit("make-data-dir", audio_dir, tmp_path / "data", check=False)
    assert r.returncode == 1
    message = r.stderr.decode()
    m = re.search(r"give it as --transcripts (\S+),", message)
    assert m and os.path.samefile(m.group(1), root / "metadata.csv"), message
    given = m.group(1)
    # what that error says next, followed: its awk line, then the file it writes
    r = asrkit("make-data-dir", "--transcripts", given, audio_dir, tmp_path / "data", check=False)
    command = re.search(r"e\.g\. (awk .*> prompts\.txt)", r.stderr.decode()).group(1)
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True)
    asrkit("make-data-dir", "--transcripts", tmp_path / "prompts.txt", "--case", "upper", "--punctuation", "drop",
           audio_dir, tmp_path / "data")
    text = read_table(tmp_path / "data" / "text")
    assert {u.rsplit("-", 2)[-2] + "-" + u.rsplit("-", 1)[-1]: w for u, w in text.items()} == expected
