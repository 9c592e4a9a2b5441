#!/usr/bin/env python3
"""AN4 -> Kaldi data dirs data/train and data/test, as ESPnet's egs/an4 prepares them.

Reads ``<an4-root>/etc/an4_{train,test}.transcription`` (``<s> YES </s> (an251-fash-b)``; the
test file has no ``<s>``) and finds each recording at
``<an4-root>/wav/{an4_clstk,an4test_clstk}/<spk>/<file>.wav``. Utterance ids put the speaker
first (``fash-an251-b``, ESPnet's rule, so utt2spk sorts with spk2utt); the text is the
transcription's words (already upper case). ``--max-utts N`` keeps the first N utterances of
each set (a quick slice for tests).

    e.g. local/data_prep.py /work/shared/corpora/an4 data
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from asrkit.data.datadir import write_data_dir
from asrkit.data.table import corpus_text_lines
from asrkit.utils.errors import AsrkitError, os_error_message

SETS = {"train": "an4_clstk", "test": "an4test_clstk"}
LINE = re.compile(r"^(?P<words>.*?)\s*\((?P<file>[^()\s]+)\)\s*$")


def _other_case(wav: Path, listed: dict) -> Path:
    """``wav`` with its extension in another case (``an251-fash-b.WAV``, a copy made on Windows or
    a FAT disk: it was 'recording ... not found' beside the file), else ``wav`` itself."""
    folder = wav.parent
    if folder not in listed:
        try:
            listed[folder] = {p.stem + p.suffix.lower(): p.name for p in folder.iterdir()}
        except FileNotFoundError:
            listed[folder] = {}
    return folder / listed[folder].get(wav.name, wav.name)


def prepare(an4_root: Path, out: Path, set_name: str, max_utts: int = 0) -> int:
    trans = an4_root / "etc" / f"an4_{set_name}.transcription"
    if not trans.is_file():
        raise AsrkitError(f"{trans}: no such file (is {an4_root} a copy of AN4, with etc/ and wav/?)")
    wav_dir = an4_root / "wav" / SETS[set_name]
    rows = {}
    named = set()  # <spk>/<file>.wav of every line, as named in its folder
    listed = {}  # speaker folder -> {<file>.wav: its name there}
    try:  # (an unreadable file or folder was a PermissionError traceback)
        lines = corpus_text_lines(trans)  # a BOM dropped (it was read into the first word)
    except OSError as e:
        raise AsrkitError(f"{trans}: cannot read: {e.strerror}") from None
    for lineno, line in lines:
        if not line.strip():
            continue
        m = LINE.match(line.strip())
        if not m:
            raise AsrkitError(f"{trans}:{lineno}: expected '<words> (<file-id>)', got {line!r}")
        words = [w for w in m["words"].split() if w not in ("<s>", "</s>")]
        file_id = m["file"]
        parts = file_id.split("-")
        if len(parts) != 3:
            raise AsrkitError(f"{trans}:{lineno}: file id {file_id!r} is not <prefix>-<speaker>-<suffix>")
        pre, spk, post = parts
        wav = wav_dir / spk / f"{file_id}.wav"
        try:
            found = wav.is_file()
            if not found:
                wav = _other_case(wav, listed)
                found = wav.is_file()
        except OSError as e:
            raise AsrkitError(f"{trans}:{lineno}: recording of {file_id}: cannot read {e.filename}: {e.strerror}") from None
        if not found:
            # CMU's own tarball unpacked by hand holds x.raw (headerless audio) where x.wav goes
            raw = "" if not wav.with_suffix(".raw").is_file() else (
                f" (there is {wav.with_suffix('.raw').name}, CMU's headerless audio: local/raw_to_wav.py "
                f"{wav_dir.parent} writes a .wav beside each .raw)")
            raise AsrkitError(f"{trans}:{lineno}: recording of {file_id} not found: {wav}{raw}")
        if not words:
            raise AsrkitError(f"{trans}:{lineno}: empty transcription for {file_id}")
        utt = f"{spk}-{pre}-{post}"
        if utt in rows:
            raise AsrkitError(f"{trans}:{lineno}: {file_id} appears twice")
        rows[utt] = (spk, " ".join(words).upper(), str(wav.resolve()))
        named.add(f"{spk}/{wav.name}")
    if not rows:
        raise AsrkitError(f"{trans}: no utterances")
    # A recording no transcription line names is not an utterance (Kaldi's and ESPnet's AN4 preps
    # are driven by the transcription too), but it is said, with a count, not left out unseen.
    # (a recording straight in the set's folder, in no speaker folder, was passed over unseen)
    unnamed = sorted(p.relative_to(wav_dir).as_posix() for p in [*wav_dir.glob("*"), *wav_dir.glob("*/*")]
                     if p.suffix.lower() == ".wav" and not p.is_dir() and p.relative_to(wav_dir).as_posix() not in named)
    if unnamed:
        shown = ", ".join(unnamed[:3]) + (", ..." if len(unnamed) > 3 else "")
        print(f"data_prep.py: WARNING: {wav_dir}: {len(unnamed)} recording(s) in no line of {trans.name}, "
              f"left out: {shown}", file=sys.stderr)
    utts = sorted(rows)
    if max_utts > 0:
        utts = utts[:max_utts]
    write_data_dir(out / set_name, wav_scp={u: rows[u][2] for u in utts}, text={u: rows[u][1] for u in utts},
                   utt2spk={u: rows[u][0] for u in utts})
    return len(utts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("an4_root", type=Path, help="folder holding etc/ and wav/ (WAV files)")
    p.add_argument("data_dir", type=Path, help="where data/train and data/test go")
    p.add_argument("--max-utts", type=int, default=0, help="keep the first N utterances of each set (0: all)")
    args = p.parse_args(argv)
    try:
        for set_name in SETS:
            n = prepare(args.an4_root, args.data_dir, set_name, args.max_utts)
            print(f"{p.prog}: {args.data_dir / set_name}: {n} utterances", file=sys.stderr)
    except AsrkitError as e:
        print(f"{p.prog}: ERROR: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # an output it cannot write (data/ read-only, a full disk) was a traceback
        if os_error_message(e) is None:
            raise
        print(f"{p.prog}: ERROR: {os_error_message(e)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
