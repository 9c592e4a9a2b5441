#!/usr/bin/env python3
"""One LibriSpeech part (e.g. ``LibriSpeech/dev-clean``) -> a Kaldi data dir, as Kaldi's
``egs/librispeech/s5/local/data_prep.sh`` makes it.

The layout is ``<part>/<reader>/<chapter>/<reader>-<chapter>-<utt>.flac`` with one
``<reader>-<chapter>.trans.txt`` per chapter (``<utt-id> <TRANSCRIPT>``). Each chapter is a
"speaker" (``<reader>-<chapter>``, Kaldi's choice: it gives per-chapter CMVN statistics);
``spk2gender`` comes from ``SPEAKERS.TXT`` beside the part when it is there. The audio stays
FLAC: wav.scp decodes it through a pipe (``flac -c -d -s x.flac |``, or ``sox x.flac -t wav - |``
with --decoder sox). ``--audio-ext wav`` reads WAV files in the same layout directly (used by
asrkit's tests, which build a LibriSpeech-shaped fixture from AN4's WAV files).

    e.g. local/data_prep.py downloads/LibriSpeech/dev-clean data/dev_clean
"""
from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path
from typing import Optional

from asrkit.data.datadir import write_data_dir
from asrkit.data.table import corpus_text_lines, write_table
from asrkit.utils.errors import AsrkitError, os_error_message



def _folders(folder: Path, audio_ext: str = "", misplaced: Optional[list] = None) -> list:
    """The sub-folders of ``folder``, sorted. An unreadable folder is an error naming it: glob
    passed over it without a word, and its readers' or chapters' utterances were lost. Audio files
    beside those folders (a part or reader folder flattened in a copy) go into ``misplaced``."""
    try:
        entries = sorted(folder.iterdir())
        folders = [p for p in entries if p.is_dir()]
    except OSError as e:
        raise AsrkitError(f"{e.filename or folder}: cannot read: {e.strerror}") from None
    if misplaced is not None:
        misplaced += [p for p in entries if p not in folders and p.name.lower().endswith(f".{audio_ext}")]
    return folders


def prepare(part: Path, out: Path, audio_ext: str, decoder: str) -> int:
    if not part.is_dir():
        raise AsrkitError(f"{part}: no such directory (a LibriSpeech part such as LibriSpeech/dev-clean)")
    wav_scp, text, utt2spk = {}, {}, {}
    readers = {}  # speaker (<reader>-<chapter>) -> reader
    trans_files, audio_files = [], []
    # (chapter folder, utterance id) -> its audio, the extension in any case: a copy made on
    # Windows or a FAT disk holds 100-2000-0000.FLAC, which was 'audio of 100-2000-0000 not found'
    audio_of = {}
    misplaced = []
    for reader_dir in _folders(part, audio_ext, misplaced):
        for chapter_dir in _folders(reader_dir, audio_ext, misplaced):
            try:
                files = sorted(chapter_dir.iterdir())
            except OSError as e:
                raise AsrkitError(f"{e.filename or chapter_dir}: cannot read: {e.strerror}") from None
            trans = [p for p in files if p.name.endswith(".trans.txt")]
            audio = [p for p in files if p.name.lower().endswith(f".{audio_ext}")]
            for p in audio:
                key = (chapter_dir, p.name[:-len(audio_ext) - 1])
                if key in audio_of:
                    raise AsrkitError(f"{chapter_dir}: two recordings of {key[1]}: {audio_of[key].name} and {p.name}: keep one")
                audio_of[key] = p
            if audio and not trans:
                # Kaldi's data_prep.sh stops here too: a chapter's transcript file missing is a
                # damaged copy (an unpacking cut short), not audio to leave out with a warning.
                expected = chapter_dir / f"{reader_dir.name}-{chapter_dir.name}.trans.txt"
                raise AsrkitError(f"{expected}: missing: the {len(audio)} .{audio_ext} file(s) of {chapter_dir} "
                                  f"have no transcript (a copy unpacked in part?)")
            trans_files += trans
            audio_files += audio
    if not trans_files:
        raise AsrkitError(f"{part}: no <reader>/<chapter>/<reader>-<chapter>.trans.txt files")
    for trans in trans_files:
        reader, chapter = trans.parent.parent.name, trans.parent.name
        if trans.name != f"{reader}-{chapter}.trans.txt":
            raise AsrkitError(f"{trans}: expected the name {reader}-{chapter}.trans.txt in {trans.parent}")
        try:  # (a transcript that is unreadable, a directory or a broken link was a traceback)
            lines = corpus_text_lines(trans)  # a BOM dropped; not UTF-8: <file>:<line>: ...
        except OSError as e:
            raise AsrkitError(f"{trans}: cannot read: {e.strerror}") from None
        for lineno, line in lines:
            if not line.strip():
                continue
            fields = line.split(maxsplit=1)
            # <reader>-<chapter>-<n>, the reader and chapter those of its folders: LibriSpeech's are
            # numbers, another corpus's in this layout may not be (a reader 'anna' was
            # "expected 'anna-10-<n> <TRANSCRIPT>', got 'anna-10-0000 ...'", the line it asked for)
            prefix = f"{reader}-{chapter}-"
            if len(fields) < 2 or not fields[0].startswith(prefix) or not re.fullmatch(r"[0-9]+", fields[0][len(prefix):]):
                raise AsrkitError(f"{trans}:{lineno}: expected '{reader}-{chapter}-<n> <TRANSCRIPT>', got {line!r}")
            utt = fields[0]
            audio = audio_of.get((trans.parent, utt), trans.parent / f"{utt}.{audio_ext}").resolve()
            if not audio.is_file():
                raise AsrkitError(f"{trans}:{lineno}: audio of {utt} not found: {audio}")
            if utt in text:
                raise AsrkitError(f"{trans}:{lineno}: {utt} appears twice")
            if audio_ext == "flac":
                q = shlex.quote(str(audio))
                wav_scp[utt] = f"flac -c -d -s {q} |" if decoder == "flac" else f"sox {q} -t wav - |"
            else:
                wav_scp[utt] = str(audio)
            text[utt] = " ".join(fields[1].split()).upper()
            utt2spk[utt] = f"{reader}-{chapter}"
            readers[utt2spk[utt]] = reader
    # Audio in no transcript line is not an utterance (as in Kaldi's data_prep.sh), but it is said.
    unnamed = sorted(p.name for p in audio_files if p.name[:-len(audio_ext) - 1] not in text)
    if unnamed:
        shown = ", ".join(unnamed[:3]) + (", ..." if len(unnamed) > 3 else "")
        print(f"data_prep.py: WARNING: {part}: {len(unnamed)} .{audio_ext} file(s) in no line of a .trans.txt, "
              f"left out: {shown}", file=sys.stderr)
    if misplaced:  # (left out without a word: only <reader>/<chapter>/ folders were read)
        shown = ", ".join(p.relative_to(part).as_posix() for p in misplaced[:3]) + (", ..." if len(misplaced) > 3 else "")
        print(f"data_prep.py: WARNING: {part}: {len(misplaced)} .{audio_ext} file(s) outside <reader>/<chapter>/ "
              f"folders, left out: {shown}", file=sys.stderr)
    if not text:
        # (every .trans.txt empty: an empty data dir was written with exit 0, and stage 1 stopped
        # at its validation, whose advice was asrkit-fix-data-dir)
        raise AsrkitError(f"{part}: no utterances: its {len(trans_files)} .trans.txt file(s) hold no line")
    spk2gender = {}
    speakers_txt = part.parent / "SPEAKERS.TXT"
    if speakers_txt.is_file():  # read before anything is written: an unreadable one stops it
        gender = {}
        try:
            speakers = speakers_txt.read_bytes()
        except OSError as e:
            raise AsrkitError(f"{speakers_txt}: cannot read: {e.strerror}") from None
        # Only the ids and the sex are read: a reader's name in another encoding must not stop it.
        for line in speakers.decode("utf-8", errors="replace").splitlines():
            if line.startswith(";") or "|" not in line:
                continue
            reader, sex = (f.strip() for f in line.split("|")[:2])
            gender[reader] = sex.lower()
        # Kaldi's spk2gender holds m or f: another sex ('U', none) was written as it was, and stage
        # 1's validation stopped at 'gender must be m or f' or a malformed line.
        spk2gender = {s: gender[r] for s, r in sorted(readers.items()) if gender.get(r) in ("m", "f")}
        unknown = sorted({r for r in readers.values() if gender.get(r) not in ("m", "f")})
        if unknown:  # (spk2gender went without a word: it must name every speaker, or none)
            shown = ", ".join(f"{r} ({'not listed' if r not in gender else repr(gender[r].upper())})"
                              for r in unknown[:3]) + (", ..." if len(unknown) > 3 else "")
            print(f"data_prep.py: WARNING: {len(unknown)} reader(s) of {part} without a sex M or F in {speakers_txt}: "
                  f"{shown}: no spk2gender written", file=sys.stderr)
    write_data_dir(out, wav_scp=wav_scp, text=text, utt2spk=utt2spk)
    if spk2gender and len(spk2gender) == len(set(utt2spk.values())):
        write_table(out / "spk2gender", spk2gender)
    return len(text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("part", type=Path, help="a LibriSpeech part, e.g. LibriSpeech/dev-clean")
    p.add_argument("data_dir", type=Path, help="the Kaldi data dir to write, e.g. data/dev_clean")
    p.add_argument("--audio-ext", choices=["flac", "wav"], default="flac")
    p.add_argument("--decoder", choices=["flac", "sox"], default="flac", help="program that decodes FLAC in wav.scp")
    args = p.parse_args(argv)
    try:
        n = prepare(args.part, args.data_dir, args.audio_ext, args.decoder)
    except AsrkitError as e:
        print(f"{p.prog}: ERROR: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # an output it cannot write (data/ read-only, a full disk) was a traceback
        if os_error_message(e) is None:
            raise
        print(f"{p.prog}: ERROR: {os_error_message(e)}", file=sys.stderr)
        return 1
    print(f"{p.prog}: {args.data_dir}: {n} utterances from {args.part}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
