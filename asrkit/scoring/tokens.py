"""How a transcript becomes the tokens that are aligned: words for WER, characters for CER.

Character scoring follows ``sclite -c``: every word is split into its characters and the spaces
between words are dropped, so a hypothesis that only joins or splits words ("ab cd" vs "abcd")
has no character error. (ESPnet's CER instead scores spaces as ``<space>`` tokens.) Characters are
Unicode code points, as sclite counts them with ``-e utf-8``.
"""
from __future__ import annotations

from typing import List

from asrkit.data.table import split_fields

LEVELS = ("word", "char")


def word_tokens(text: str) -> List[str]:
    """Words split at ASCII white space only, as sclite splits them (U+3000 is inside a word),
    then read as sclite reads a transcript's words (checked against it symbol by symbol in
    tests/scoring/test_hostile_transcripts.py): every backslash is removed ('don\\'t', JSON-escaped,
    is "don't"; a word '\\' is a word of no characters), then one trailing '*' of a word of two
    or more characters ('q*' is 'q', 'c**' is 'c*', '*' stays), and a word that is then '@',
    sclite's null word, is no word at all. asrkit-score kept them all as written: 'q*' against
    'q' was a substitution and '@' an insertion where sclite counts a correct word and nothing."""
    words = split_fields(text)
    if "\\" in text:
        words = [w.replace("\\", "") for w in words]
    if "*" in text:
        words = [w[:-1] if len(w) > 1 and w[-1] == "*" else w for w in words]
    if "@" in text:
        words = [w for w in words if w != "@"]
    return words


def char_tokens(text: str) -> List[str]:
    """The characters of :func:`word_tokens`, as sclite -c splits them: without '@' (its null
    character: 'a@b' is a, b), and a word emptied of its backslashes one empty token."""
    if "@" not in text and "\\" not in text:
        return [c for word in word_tokens(text) for c in word]
    return [c for word in word_tokens(text) for c in (word.replace("@", "") if word else [""])]


def tokenize(text: str, level: str) -> List[str]:
    if level == "word":
        return word_tokens(text)
    if level == "char":
        return char_tokens(text)
    raise ValueError(f"unknown scoring level {level!r} (expected one of {LEVELS})")
