"""A "user's own corpus" made from real AN4 recordings, in the layouts asrkit-make-data-dir reads.

AN4's train recordings (16 kHz WAV) are linked, not copied, under new names into a folder the
way a user's corpus arrives: a flat folder of audio files plus one transcript file
(``<name> <text>`` per line), or one folder per speaker with ``<name>.txt`` beside each file;
or in LJSpeech's layout (wavs/ and a metadata.csv of 'id|text|normalized text').
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, List, Tuple

_LINE = re.compile(r"^(?:<s>\s*)?(.*?)\s*(?:</s>)?\s*\(([^()]+)\)\s*$")


def an4_recordings(an4_root: Path, n: int, part: str = "train") -> List[Tuple[Path, str, str]]:
    """The first ``n`` (recording, speaker, transcript) of AN4 ``part``, in the transcription's order."""
    sub = "an4_clstk" if part == "train" else "an4test_clstk"
    out = []
    for line in (an4_root / "etc" / f"an4_{part}.transcription").read_text().splitlines():
        m = _LINE.match(line.strip())
        words, name = m.group(1).replace("</s>", "").strip(), m.group(2)
        spk = name.split("-")[1]
        out.append((an4_root / "wav" / sub / spk / f"{name}.wav", spk, words))
        if len(out) == n:
            break
    return out


def make_user_corpus(an4_root: Path, dest: Path, n: int, layout: str = "transcripts",
                     part: str = "train") -> Dict[str, str]:
    """Write the corpus under ``dest``; returns {path below the audio folder without extension: text}.

    ``transcripts``: dest/audio/<name>.wav and dest/prompts.txt. ``beside``: dest/audio/<spk>/<name>.wav
    and dest/audio/<spk>/<name>.txt. Names are the AN4 file names (an251-fash-b).
    """
    audio = dest / "audio"
    audio.mkdir(parents=True)
    expected = {}
    lines = []
    for wav, spk, words in an4_recordings(an4_root, n, part):
        if layout == "transcripts":
            key = wav.stem
            os.symlink(wav, audio / wav.name)
            lines.append(f"{key} {words}\n")
        else:
            (audio / spk).mkdir(exist_ok=True)
            key = f"{spk}/{wav.stem}"
            os.symlink(wav, audio / spk / wav.name)
            (audio / spk / f"{wav.stem}.txt").write_text(words + "\n")
        expected[key] = words
    if layout == "transcripts":
        (dest / "prompts.txt").write_text("".join(lines))
    return expected


def make_ljspeech_corpus(an4_root: Path, root: Path, n: int) -> Dict[str, str]:
    """LJSpeech's layout under ``root``: wavs/LJ001-0000.wav ... and metadata.csv ('id|Text.|Text.');
    returns {id: AN4's transcript}."""
    (root / "wavs").mkdir(parents=True)
    lines, expected = [], {}
    for i, (wav, _, words) in enumerate(an4_recordings(an4_root, n)):
        os.symlink(wav, root / "wavs" / f"LJ001-{i:04d}.wav")
        lines.append(f"LJ001-{i:04d}|{words.capitalize()}.|{words.capitalize()}.\n")
        expected[f"LJ001-{i:04d}"] = words
    (root / "metadata.csv").write_text("".join(lines))
    return expected
