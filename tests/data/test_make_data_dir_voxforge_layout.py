"""asrkit-make-data-dir on a corpus in VoxForge's layout: <speaker>/wav/a01.wav, and <speaker>/etc/PROMPTS
of '<speaker>/mfc/a01 <text>' lines (the folder in the key is mfc/, not wav/)."""
from __future__ import annotations

import os
import re
import subprocess

from asrkit.data.table import read_table
from tests.user_corpus import an4_recordings


def test_keys_naming_another_folder_than_the_audios_get_the_sed_that_fixes_them(an4_root, tmp_path, asrkit):
    # Every line was 'transcript without audio', every file 'audio without a transcript', then
    # 'no utterance has both audio and a non-empty transcript': nothing said the keys' mfc/ was wav/.
    root = tmp_path / "voxforge"
    expected = {}
    for i, (wav, spk, words) in enumerate(an4_recordings(an4_root, 9)):
        session = root / f"{spk}-20080101-abc"
        (session / "wav").mkdir(parents=True, exist_ok=True)
        (session / "etc").mkdir(exist_ok=True)
        os.symlink(wav, session / "wav" / f"a{i:02d}.wav")
        with open(session / "etc" / "PROMPTS", "a") as f:
            f.write(f"{session.name}/mfc/a{i:02d} {words}\n")
        expected[f"{session.name}/wav/a{i:02d}.wav"] = words
    subprocess.run(f"cat {root}/*/etc/PROMPTS > prompts_all.txt", shell=True, cwd=tmp_path, check=True)
    r = asrkit("make-data-dir", "--transcripts", "prompts_all.txt", "--speaker-from-dir", root, "data",
               cwd=tmp_path, check=False)
    assert r.returncode == 1
    message = r.stderr.decode()
    assert "9 of the 9 keys of prompts_all.txt that name no audio file name folder 'mfc' where the audio of " \
           "that name is in 'wav'" in message, message
    command = re.search(r"write them with the audio's folder, (sed .* > prompts\.txt), then --transcripts", message)
    assert command, message
    subprocess.run(["bash", "-c", command.group(1)], cwd=tmp_path, check=True)
    asrkit("make-data-dir", "--transcripts", "prompts.txt", "--speaker-from-dir", root, "data", cwd=tmp_path)
    wav_scp = read_table(tmp_path / "data" / "wav.scp")
    text = read_table(tmp_path / "data" / "text")
    assert {os.path.relpath(wav_scp[u], root): w for u, w in text.items()} == expected


def test_the_sed_never_writes_over_the_transcripts_it_reads(an4_root, tmp_path, asrkit):
    # The PROMPTS joined as prompts.txt, the name the docs give --transcripts: the remedy was
    # 'sed ... prompts.txt > prompts.txt', which emptied the file before sed read it.
    root = tmp_path / "voxforge"
    expected = {}
    lines = []
    for i, (wav, spk, words) in enumerate(an4_recordings(an4_root, 4)):
        (root / spk / "wav").mkdir(parents=True, exist_ok=True)
        os.symlink(wav, root / spk / "wav" / f"a{i:02d}.wav")
        lines.append(f"{spk}/mfc/a{i:02d} {words}\n")
        expected[f"{spk}/wav/a{i:02d}.wav"] = words
    (tmp_path / "prompts.txt").write_text("".join(lines))
    r = asrkit("make-data-dir", "--transcripts", "prompts.txt", "--speaker-from-dir", root, "data",
               cwd=tmp_path, check=False)
    message = r.stderr.decode()
    command = re.search(r"write them with the audio's folder, (sed .* > (\S+)), then --transcripts (\S+)$",
                        message, re.M)
    assert command and command.group(2) == command.group(3) != "prompts.txt", message
    subprocess.run(["bash", "-c", command.group(1)], cwd=tmp_path, check=True)
    assert (tmp_path / "prompts.txt").read_text() == "".join(lines)
    asrkit("make-data-dir", "--transcripts", command.group(3), "--speaker-from-dir", root, "data", cwd=tmp_path)
    wav_scp = read_table(tmp_path / "data" / "wav.scp")
    text = read_table(tmp_path / "data" / "text")
    assert {os.path.relpath(wav_scp[u], root): w for u, w in text.items()} == expected
