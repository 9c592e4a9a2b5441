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
    """Words split at ASCII white space only, as sclite splits them (U+3000 is inside a word).

    sclite drops one trailing '*' from a word of two or more characters when it reads a
    transcript ('q*' is 'q', 'c**' is 'c*', '*' stays): so does this, or 'q*' against 'q' was a
    substitution where sclite counts a correct word."""
    words = split_fields(text)
    if "*" in text:
        words = [w[:-1] if len(w) > 1 and w[-1] == "*" else w for w in words]
    return words


def char_tokens(text: str) -> List[str]:
    return [c for word in word_tokens(text) for c in word]


def tokenize(text: str, level: str) -> List[str]:
    if level == "word":
        return word_tokens(text)
    if level == "char":
        return char_tokens(text)
    raise ValueError(f"unknown scoring level {level!r} (expected one of {LEVELS})")
