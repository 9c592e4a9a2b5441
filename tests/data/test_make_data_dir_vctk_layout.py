"""asrkit-make-data-dir on a corpus in VCTK's layout: wav48/<speaker>/<name>.wav with each transcript in
a parallel tree, txt/<speaker>/<name>.txt holding the words alone."""
from __future__ import annotations

import os
import re
import subprocess

from asrkit.data.table import read_table
from tests.user_corpus import an4_recordings


def test_transcripts_in_a_parallel_folder_get_the_command_that_joins_them_as_keyed_lines(an4_root, tmp_path, asrkit):
    # The error said to join them with 'find ... -exec cat {} + > prompts.txt' as '<name> <text>'
    # lines (LibriSpeech's): VCTK's hold the words alone, so each transcript's first word became a key.
    root = tmp_path / "vctk"
    expected = {}
    for i, (wav, spk, words) in enumerate(an4_recordings(an4_root, 8)):
        name = f"p{spk} take {i}" if i == 0 else f"p{spk}_{i:03d}"  # (a name with spaces too)
        for tree in ("wav48", "txt"):
            (root / tree / f"p{spk}").mkdir(parents=True, exist_ok=True)
        os.symlink(wav, root / "wav48" / f"p{spk}" / f"{name}.wav")
        text = f"{words.capitalize()}.\r\n" if i == 1 else f"{words.capitalize()}.\n"
        (root / "txt" / f"p{spk}" / f"{name}.txt").write_text(text, newline="")
        expected[name] = words
    r = asrkit("make-data-dir", root, tmp_path / "data", check=False)
    assert r.returncode == 1
    message = r.stderr.decode()
    assert "are named after audio files in another folder" in message, message
    command = re.search(r"give that: (find .*> prompts\.txt); then --transcripts prompts\.txt", message).group(1)
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True)
    asrkit("make-data-dir", "--transcripts", tmp_path / "prompts.txt", "--case", "upper", "--punctuation", "drop",
           root / "wav48", tmp_path / "data")
    wav_scp = read_table(tmp_path / "data" / "wav.scp")
    text = read_table(tmp_path / "data" / "text")
    assert {os.path.basename(wav_scp[u])[:-len(".wav")]: words for u, words in text.items()} == expected
