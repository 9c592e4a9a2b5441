"""A corpus in LibriSpeech's layout (<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac beside one
<speaker>-<chapter>.trans.txt of '<id> <text>' lines per chapter) given to asrkit-make-data-dir
without --transcripts, as a LibriSpeech-shaped corpus's user does first: the error said only that
no audio file had a <name>.txt beside it, while the chapters' transcripts were right there. It now
names them and gives the command that joins them into one --transcripts file, which works as
printed; a single text file named after no audio (prompts.txt left in the folder) is named too."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from asrkit.data.from_audio import make_data_dir
from asrkit.utils.errors import AsrkitError
from user_corpus import an4_recordings


def _librispeech_corpus(an4_root, root):
    expected = {}
    by_speaker = {}
    for wav, spk, words in an4_recordings(an4_root, 12):
        by_speaker.setdefault(spk, []).append((wav, words))
    for s, (spk, takes) in enumerate(sorted(by_speaker.items())):
        sid, chapter = str(100 + s), "2001"
        folder = root / sid / chapter
        folder.mkdir(parents=True)
        lines = []
        for n, (wav, words) in enumerate(takes):
            uid = f"{sid}-{chapter}-{n:04d}"
            os.symlink(wav, folder / f"{uid}.wav")
            lines.append(f"{uid} {words}\n")
            expected[uid] = words
        (folder / f"{sid}-{chapter}.trans.txt").write_text("".join(lines))
    return expected


def test_librispeech_trans_txt_files_are_named_with_a_working_command(an4_root, tmp_path):
    root = tmp_path / "LibriMine"
    expected = _librispeech_corpus(an4_root, root)
    with pytest.raises(AsrkitError) as e:
        make_data_dir(root, tmp_path / "data", speaker_from_dir=True)
    msg = str(e.value)
    assert msg.startswith(f"{root}: no transcripts: none of its 12 audio files") and ".trans.txt" in msg, msg
    assert not (tmp_path / "data").exists()
    command = msg.split("join them into one and give that: ", 1)[1].split("; then --transcripts", 1)[0]
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True)
    report = make_data_dir(root, tmp_path / "data", transcripts=tmp_path / "prompts.txt", speaker_from_dir=True)
    assert (report.num_utts, report.skipped) == (len(expected), {})
    text = dict(line.split(" ", 1) for line in (tmp_path / "data/text").read_text().splitlines())
    assert sorted(text.values()) == sorted(expected.values())


def test_one_stray_transcript_file_is_named_from_the_command(an4_root, tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    lines = []
    for wav, _spk, words in an4_recordings(an4_root, 3):
        os.symlink(wav, root / wav.name)
        lines.append(f"{wav.stem} {words}\n")
    (root / "prompts.txt").write_text("".join(lines))
    r = subprocess.run([sys.executable, "-m", "asrkit", "make-data-dir", str(root), str(tmp_path / "d")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR (asrkit-make-data-dir): ") and \
        "its 1 .txt file (prompts.txt) is named after no audio file" in last and \
        f"give it as --transcripts {root / 'prompts.txt'}" in last, last


def _ids(data):
    return [line.split(" ", 1)[0] for line in (data / "utt2spk").read_text().splitlines()]


def test_librispeech_ids_are_kaldis(an4_root, tmp_path):
    """--speaker-from-dir on 100/2001/100-2001-0000.flac gave the id 100-2001-100-2001-0000 (the
    folders joined on before a name that already starts with its speaker); Kaldi's LibriSpeech ids,
    which its users' lists and scoring keys hold, are 100-2001-0000. Sorted, speaker by speaker."""
    root = tmp_path / "LibriMine"
    expected = _librispeech_corpus(an4_root, root)
    (tmp_path / "prompts.txt").write_text("".join(f"{u} {w}\n" for u, w in sorted(expected.items())))
    make_data_dir(root, tmp_path / "data", transcripts=tmp_path / "prompts.txt", speaker_from_dir=True)
    ids = _ids(tmp_path / "data")
    assert ids == sorted(expected), ids
    spk = [line.split()[1] for line in (tmp_path / "data/utt2spk").read_text().splitlines()]
    assert spk == sorted(spk) and all(u.startswith(s + "-") for u, s in zip(ids, spk))
    text = dict(line.split(" ", 1) for line in (tmp_path / "data/text").read_text().splitlines())
    assert text == expected


def test_only_names_that_repeat_their_folders_are_their_own_ids(an4_root, tmp_path):
    """A name that repeats its whole folder path (alice/take1/alice-take1-2, LibriSpeech's) is its
    own id. A name that merely starts with its speaker (alice/take1/alice-1, sess1/alice-001) keeps
    its folders, as before: eded6354 changed those ids too, made a file's id depend on which other
    files there were (alice/alice-1 lost its short id once alice/x/alice-1 came), and broke lists of
    ids users had made. Where the short id is another file's (alice/alice-x beside alice/x: distinct
    ids before), the name keeps its folders; nothing is refused or merged that was not before."""
    root = tmp_path / "c"
    layout = ["alice/take1/alice-1", "alice/take1/alice-take1-2", "alice/alice-x", "alice/x", "alice/alice-1",
              "alice/x/alice-1", "bob/bob"]
    takes = [(wav, words) for wav, _spk, words in an4_recordings(an4_root, len(layout))]
    for rel, (wav, words) in zip(layout, takes):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(wav, root / f"{rel}.wav")
        (root / f"{rel}.txt").write_text(words + "\n")
    make_data_dir(root, tmp_path / "data", speaker_from_dir=True)
    assert _ids(tmp_path / "data") == ["alice-1", "alice-alice-x", "alice-take1-2", "alice-take1-alice-1",
                                       "alice-x", "alice-x-alice-1", "bob-bob"]
    # alice/alice-1's id is its own whether or not alice/x/alice-1 is there
    (root / "alice/x/alice-1.wav").unlink()
    make_data_dir(root, tmp_path / "data1", speaker_from_dir=True, max_skip_ratio=0.5)
    assert "alice-1" in _ids(tmp_path / "data1")
    # two formats of one recording are refused as before, naming both files
    os.symlink(takes[0][0], root / "bob/bob.flac")
    with pytest.raises(AsrkitError, match=r"bob/bob.(wav|flac) and bob/bob.(wav|flac) would both be"):
        make_data_dir(root, tmp_path / "data2", speaker_from_dir=True, extensions=["wav", "flac"])
