"""Files of a data dir or a run given where a Kaldi ``text`` is expected: a ``wav.scp`` or a
``segments`` file (the arguments swapped, or the wrong file of the data dir) and a CTM (asrkit-decode --ctm's or
asrkit-align's output, given for the run's text). Read as a text, each was trained on or scored
with exit 0; told apart by their lines, so that the command names the file instead."""
from __future__ import annotations

import os
import re
import shutil
from typing import List, Mapping, Optional, Sequence, Tuple, Union

from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike

_AUDIO_SUFFIXES = frozenset((".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".sph", ".nist", ".wv1",
                             ".wv2", ".aif", ".aiff", ".au", ".m4a"))

# A CTM line's times and confidence ('<utt> <channel> <start> <duration> <word> [<confidence>]'):
# the times are written with a decimal point, as every CTM writer writes them.
_CTM_TIME = re.compile(r"\d*\.\d+")
# its channel: a number or one letter, as CTM writers write it ('1', NIST's 'A'/'B'); a word of a
# transcript there ('u1 один 1.5 2.0 два') makes it a text
_CTM_CHANNEL = re.compile(r"[0-9]+|[A-Za-z]")
_CTM_CONFIDENCE = re.compile(r"\d*\.?\d+(?:[eE][-+]?\d+)?")

CTM_FORMAT = "'<utt> <channel> <start> <duration> <word> [<confidence>]'"

# A table read as a Kaldi text: ``{utt: transcript}``, or its lines as ``(first field, rest)`` pairs
# where its first fields repeat (a CTM of several words an utterance, a plain text of sentences),
# so that every line is looked at, not the last of each key.
Lines = Union[Mapping[str, str], Sequence[Tuple[str, str]]]

# A file of one line is not refused on its shape: a single transcript may be a CTM line's
# ('u1 A 1.5 2.0 X'), a segments line's ('u1 price 0.50 1.99') or an audio path ('u1 data/x.wav'),
# and one line is no evidence what the file is.
LEAST_LINES = 2


def _pairs(lines: Lines) -> List[Tuple[str, str]]:
    return list(lines.items()) if isinstance(lines, Mapping) else list(lines)


def looks_like_wav_scp(transcripts: Lines) -> bool:
    """Whether every transcript is an audio file name or a command ending in '|': a wav.scp given
    as the text (the two arguments swapped, or the wrong file of the data dir)."""
    def audio(value: str) -> bool:
        value = value.strip()
        if value.endswith("|"):
            # a command a shell would run (sox ..., cat ..., a script's path), a path, an option or
            # '-' among its words: not a letter-target transcript ('N O | Y E S |', each word ended
            # by '|'), whose letters may name a program ('w e |': /usr/bin/w)
            first, *args = value[:-1].split() or [""]
            shaped = "/" in first or any("/" in a or "." in a or a.startswith("-") for a in args)
            return bool(first) and shaped and (shutil.which(first) is not None or os.path.isfile(first))
        # an audio file's path ("YES.WAV", one word the model spells, is a transcript)
        return (len(value.split()) == 1 and value[value.rfind("."):].lower() in _AUDIO_SUFFIXES
                and ("/" in value or os.path.isfile(value)))

    return bool(transcripts) and all(audio(v) for _, v in _pairs(transcripts))


def is_ctm_line(fields: Sequence[str]) -> bool:
    """Whether a line's fields are a CTM line's: an utterance and a channel, two times with a
    decimal point, a word and maybe a confidence. (A transcript of that shape on every line of a
    text is not one a corpus has: '1 0 3 5' has no decimal times.)"""
    return (len(fields) in (5, 6) and _CTM_CHANNEL.fullmatch(fields[1]) is not None
            and all(_CTM_TIME.fullmatch(f) for f in fields[2:4])
            and (len(fields) == 5 or _CTM_CONFIDENCE.fullmatch(fields[5]) is not None))


def looks_like_ctm(transcripts: Lines) -> bool:
    """Whether every line of a table read as a Kaldi text is a CTM line."""
    return bool(transcripts) and all(is_ctm_line([utt, *text.split()]) for utt, text in _pairs(transcripts))


def looks_like_segments(transcripts: Lines) -> bool:
    """Whether every line is a Kaldi segments line, '<utt-id> <recording-id> <start> <end>', its
    times with a decimal point and its end after its start, as Kaldi requires (a transcript of
    one word and two such numbers is not a corpus's; 'item 1.99 0.50', a price list's, is not one)."""
    def segment(value: str) -> bool:
        fields = value.split()
        return (len(fields) == 3 and all(_CTM_TIME.fullmatch(f) for f in fields[1:])
                and float(fields[1]) < float(fields[2]))

    return bool(transcripts) and all(segment(v) for _, v in _pairs(transcripts))


def other_file_kind(transcripts: Lines) -> Optional[str]:
    """What a table read as a Kaldi text is instead, in words for an error ("a CTM (... lines)",
    "a wav.scp (...)"); None for a text, and for a file of one line (:data:`LEAST_LINES`)."""
    if len(transcripts) < LEAST_LINES:
        return None
    if looks_like_ctm(transcripts):
        return f"a CTM ({CTM_FORMAT} lines)"
    if looks_like_wav_scp(transcripts):
        return "a wav.scp (every line '<utt-id> <audio file or command |>')"
    if looks_like_segments(transcripts):
        return "a segments file (every line '<utt-id> <recording-id> <start> <end>')"
    return None


def refuse_other_file(path: PathLike, transcripts: Lines, advice: str) -> None:
    """AsrkitError ``'<path>: <what it is>, <advice>'`` when :func:`other_file_kind` finds
    ``transcripts`` (a table read as a Kaldi text) to be another file of a data dir or a run;
    ``advice`` says what the command takes instead ("not a text: score the Kaldi text ...")."""
    kind = other_file_kind(transcripts)
    if kind:
        raise AsrkitError(f"{path}: {kind}, {advice}")


def read_again(path: PathLike) -> List[Tuple[str, str]]:
    """``path``'s lines as ``(key, value)`` pairs, its keys repeated, to tell what a file a text
    reader refused for a duplicate key is (a CTM of several words an utterance); [] when it cannot
    be read again (stdin)."""
    from asrkit.data.table import iter_table_fast

    try:
        return [(key, value) for key, value, _ in iter_table_fast(path, allow_empty_value=True)]
    except AsrkitError:
        return []
