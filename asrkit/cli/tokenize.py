"""asrkit-tokenize: text to token ids (or pieces) and back, with a model from asrkit-train-tokenizer."""
from __future__ import annotations

import io
import os
import re
import shlex
import stat
import sys
from typing import IO, TYPE_CHECKING, Dict, Iterator, Optional, Tuple

import click

from asrkit.cli._common import asrkit_command, refuse_empty_name
from asrkit.data.table import (BOM, bom_problem, bom_sed, id_control_problem, mid_file_bom_problem, read_line_blocks,
                               refuse_bom, refuse_cr_only, split_fields)
from asrkit.utils.bad_items import BadItems
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import name_os_error
from asrkit.utils.logging import get_logger, progress

if TYPE_CHECKING:
    from asrkit.text.tokenizer import Tokenizer, UnknownTally


@asrkit_command("tokenize")
@click.option("--decode", is_flag=True, help="Read token ids (or pieces with --pieces) and write text.")
@click.option("--pieces", is_flag=True, help="Write (or, with --decode, read) pieces instead of integer ids.")
@click.option("--utt-id/--no-utt-id", default=True, show_default=True,
              help="Lines start with an utterance id (Kaldi text), which is copied through.")
@click.argument("model", callback=refuse_empty_name, metavar="<tokens.model>", type=click.Path(dir_okay=False))
def main(decode: bool, pieces: bool, utt_id: bool, model: str) -> None:
    """Encode stdin's lines with <tokens.model> to stdout, or decode them with --decode.

    Lines are Kaldi text ('<utt-id> <transcript>') unless --no-utt-id. Ids follow data/lang/tokens.txt
    (0 <blank>, 1 <unk>, ..., V-1 <sos/eos>); decoding skips <blank> and <sos/eos>. Characters
    the tokenizer does not know become <unk>: counted, and named in one warning. A bad line
    (not UTF-8, empty, ids that are not the tokenizer's) is skipped with a warning naming it;
    the command fails when none is left or more than 5 % were skipped (Kaldi's rule). As in every
    table, an utterance id twice, one holding a NUL byte or another ASCII control character, or one
    starting with a byte-order mark (BOM) is an error (not with --no-utt-id).

    \b
    e.g. asrkit-tokenize data/lang/tokens.model < data/train/text \\
           > data/train/token_int
    """
    from asrkit.data.matrix_io import stdin_bytes
    from asrkit.text.tokenizer import Tokenizer, UnknownTally  # sentencepiece: not for --help

    log = get_logger("tokenize")
    tok = Tokenizer.load(model)
    # Started with stdin or stdout closed ("<&-", ">&-"): one line, not an AttributeError traceback.
    if sys.stdout is None:
        raise AsrkitError("<stdout>: stdout is closed (the tokens go to stdout: redirect it to a file)")
    stdin = stdin_bytes()
    out = sys.stdout
    tally = BadItems(log, "lines", source="<stdin>")
    unknown = UnknownTally()
    this = shlex.join(["asrkit-tokenize", *(["--decode"] if decode else []), *(["--pieces"] if pieces else []),
                       *([] if utt_id else ["--no-utt-id"]), "./" + model if model.startswith("-") else model])
    try:
        _filter(tok, stdin, out, tally, unknown, decode, pieces, utt_id, this)
    except OSError as e:  # stdout on a full disk: the one handler words it
        name_os_error(e, "<stdout>")
        raise
    # (before the warning: one cause, said once, as asrkit-train-lm does; the lines written stay
    # written, as with the bad-line rule: a token_int of nothing but <unk> was exit 0)
    error = unknown.nothing_known(tok, "<stdin>", model, then="tokenize it again")
    if error is not None:
        raise error
    unknown.warn(log, "<stdin>")
    tally.check()
    click.echo(f"Done {tally.done} lines ({'decoded' if decode else 'encoded'} with {model}, {tok.vocab_size} tokens)",
               err=True)


def _stdin_lines(stdin: IO[bytes], out) -> Iterator[bytes]:
    """stdin's lines (split at LF, LF kept), read in bounded blocks: /dev/zero or a binary file
    given as stdin was read whole looking for a line end (a MemoryError, or the OOM killer)."""
    for _, block in read_line_blocks(stdin, "<stdin>"):
        yield from io.BytesIO(block)
        # A block is what a pipe held: its lines go out now, not when stdout's buffer fills, so a
        # process feeding lines one by one gets each one's tokens before it sends the next.
        out.flush()


def _regular_file_of(fd: int) -> Optional[str]:
    """The path of the regular file open as ``fd`` (stdin redirected from data/train/text, stdout
    to token_int), relative to the working directory where it is under it, or None (a pipe, a
    terminal, a file since deleted or renamed, no /proc)."""
    try:
        st = os.fstat(fd)
        path = os.readlink(f"/proc/self/fd/{fd}")
        there = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode) or (there.st_dev, there.st_ino) != (st.st_dev, st.st_ino):
        return None
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else ("./" + rel if rel.startswith("-") else rel)


def _without_boms(sed: str, this: str, tool: str = "sed") -> str:
    """The command that feeds asrkit-tokenize (``this``, as it was run) its input through ``sed``
    (or another filter, ``tool``: UTF-16's iconv): stdin has no file for 'sed -i' to edit, so its
    errors said only 'remove them'."""
    source, dest = _regular_file_of(0), _regular_file_of(1)
    out = "" if dest is None else f" > {shlex.quote(dest)}"
    if source is not None:
        return f"{sed} {shlex.quote(source)} | {this}{out}"
    return f"put {tool} in the pipe before it: ... | {sed} | {this}{out}"


# A BOM starting any line: an utterance id cannot start with one (line 1's, with --no-utt-id, is
# the file's own; a later line's is then a transcript's, left alone).
_SED_ALL, _SED_FIRST = bom_sed(False), bom_sed(True)
# (iconv reads the byte order from the BOM and drops it)
_ICONV = "iconv -f UTF-16 -t UTF-8"


def _filter(tok: Tokenizer, stdin, out, tally: BadItems, unknown: UnknownTally, decode: bool, pieces: bool,
            utt_id: bool, this: str) -> None:
    first_line: Dict[str, int] = {}  # utterance id -> its line, for a duplicate's error
    for lineno, raw in enumerate(progress(_stdin_lines(stdin, out), desc="tokenize", unit="lines"), 1):
        where = f"<stdin>:{lineno}"
        if lineno == 1:
            if raw.startswith(BOM.encode("utf-8")):
                raise AsrkitError(f"<stdin>:1: {bom_problem('<stdin>')} "
                                  f"({_without_boms(_SED_ALL if utt_id else _SED_FIRST, this)})")
            try:
                refuse_bom(raw, "<stdin>")
            except AsrkitError as e:
                # (UTF-16: the table readers' message gives the iconv for a file, which stdin has not)
                raise AsrkitError(f"{e} ({_without_boms(_ICONV, this, 'iconv')})") from None
            refuse_cr_only(raw, "<stdin>")
        try:
            key, body = _fields(raw, where, utt_id)
        except AsrkitError as e:
            tally.skip(where, e)
            continue
        if key is not None:
            _check_key(key, raw, lineno, first_line, this)
        try:
            result = _convert_at(tok, key, body, where, decode, pieces, unknown)
        except AsrkitError as e:
            tally.skip(where, e)
            continue
        if key is None:
            out.write(result + "\n")
        else:
            out.write(f"{key} {result}\n" if result else f"{key}\n")
        tally.ok()
    out.flush()


def _check_key(key: str, raw: bytes, lineno: int, first_line: Dict[str, int], this: str) -> None:
    """The table readers' rules for an utterance id (iter_table_lines, read_table): fatal, not a
    skipped line. A NUL-filled crash file gave one 'utterance' of NULs, and a text listed twice
    (cat a b with overlapping sets) a token_int with every such id twice, both with exit 0."""
    if "\0" in key:
        at = raw.decode("utf-8").index("\0")
        raise AsrkitError(f"<stdin>:{lineno}: a NUL byte in the key, at character {at} of the line (a binary or "
                          f"damaged file?)")
    # (texts each saved with a BOM and joined with cat, an id pasted from 'ls --color': written on
    # to token_int as '\ufeffu2', 'u\x1b[0m2', exit 0, where every table reader refuses them)
    if key.startswith(BOM):
        raise AsrkitError(f"<stdin>:{lineno}: {mid_file_bom_problem('<stdin>')} ({_without_boms(_SED_ALL, this)})")
    control = id_control_problem(key)
    if control:
        raise AsrkitError(f"<stdin>:{lineno}: {control}")
    first = first_line.setdefault(key, lineno)
    if first != lineno:
        raise AsrkitError(f"<stdin>:{lineno}: duplicate key {key!r} (first on line {first})")


def _fields(raw: bytes, where: str, utt_id: bool) -> Tuple[Optional[str], str]:
    """(utterance id or None with --no-utt-id, the rest) of a line."""
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise AsrkitError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if not utt_id:
        return None, line
    # At ASCII white space only, as every table reader (split_fields): str.split() also cut at a
    # no-break space or U+3000, so 'u2\u00a0x YES' came out as utterance 'u2' with an unknown word 'x'.
    fields = split_fields(line, 1)
    if not fields:
        raise AsrkitError(f"{where}: empty line (expected '<utt-id> <transcript>'; --no-utt-id for plain lines)")
    return fields[0], (fields[1] if len(fields) > 1 else "")


def _convert_at(tok: Tokenizer, key: Optional[str], body: str, where: str, decode: bool, pieces: bool,
                unknown: UnknownTally) -> str:
    try:
        return _convert(tok, key or where, body, decode, pieces, unknown)
    except AsrkitError as e:
        raise AsrkitError(f"{where}: {e}") from None


def _convert(tok: Tokenizer, utt: str, body: str, decode: bool, pieces: bool, unknown: UnknownTally) -> str:
    if not decode:
        ids = unknown.encode(tok, utt, body)
        return " ".join([tok.tokens[i] for i in ids] if pieces else map(str, ids))  # (encode_as_pieces' tokens)
    tokens = body.split()
    if pieces:
        return tok.decode_pieces(tokens)
    # int() also takes "٣" (an Arabic-Indic 3), "１" (full-width), "1_0" (10) and "+3": ids that
    # no Kaldi tool writes, which decoded to some token without a word.
    if not all(_ID.fullmatch(t) for t in tokens):
        raise AsrkitError(f"expected integer token ids, got {body!r} (--pieces to decode pieces)")
    return tok.decode([int(t) for t in tokens])


_ID = re.compile(r"-?[0-9]+")
