"""``tokens.txt``: one ``<token> <id>`` per line, ids 0..V-1 in order (docs/contracts.md).

The layout is ``0 <blank>``, ``1 <unk>``, the sentencepiece pieces, ``V-1 <sos/eos>``; it is
written for people and for other tools (e.g. Kaldi's ``int2sym.pl``), while the ids themselves
come from :class:`asrkit.text.tokenizer.Tokenizer`.
"""
from __future__ import annotations

from typing import List, Sequence

from asrkit.data.table import ascii_digits, iter_table
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike, atomic_open

BLANK = "<blank>"
UNK = "<unk>"
SOS_EOS = "<sos/eos>"


def token_list_text(tokens: Sequence[str]) -> str:
    """The text of a tokens.txt, for a writer that has its own temporary name (AtomicFiles)."""
    return "".join(f"{tok} {i}\n" for i, tok in enumerate(tokens))


def write_token_list(path: PathLike, tokens: Sequence[str]) -> None:
    with atomic_open(path) as f:
        f.write(token_list_text(tokens))


def read_token_list(path: PathLike) -> List[str]:
    """Tokens by id; the ids must run 0, 1, 2, ... so that line order and id agree."""
    tokens: List[str] = []
    # Its keys are tokens, not ids: a transcript's word may hold a BOM (left alone in a value), and
    # a char tokenizer then lists it as a token of its own, a line starting with one.
    for line in iter_table(path, keys_are_ids=False):
        if not ascii_digits(line.value) or int(line.value) != len(tokens):  # not '٣' (int() reads it)
            raise AsrkitError(f"{path}:{line.lineno}: expected id {len(tokens)} for token {line.key!r}, "
                              f"got {line.value!r}")
        tokens.append(line.key)
    if len(tokens) < 3 or tokens[0] != BLANK or tokens[1] != UNK or tokens[-1] != SOS_EOS:
        raise AsrkitError(f"{path}: not an asrkit token list (expected {BLANK} 0, {UNK} 1, ..., {SOS_EOS} last)")
    return tokens
