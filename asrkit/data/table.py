"""Kaldi text tables: one ``<key> <value>`` per line (wav.scp, text, utt2spk, feats.scp, ...)."""
from __future__ import annotations

import io
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple

from asrkit.utils.errors import AsrkitError, shown
from asrkit.utils.fileio import PathLike, atomic_open, names_stdin, not_found_reason, open_read, stdin_closed_problem


# Kaldi splits a table line (and sclite a transcript) at ASCII white space only, C's isspace in
# the "C" locale; Python's str.split() splits at Unicode's too (U+00A0 no-break space, U+3000 the
# CJK full-width space, U+2028...), so "日本\u3000語" was two words to asrkit-score and one word to
# sclite, and a key holding U+00A0 was cut there.
SPACE = " \t\n\v\f\r"
_SPACE_RUN = re.compile("[ \t\n\v\f\r]+")


def split_fields(text: str, maxsplit: int = -1) -> List[str]:
    """``text.split(None, maxsplit)`` at ASCII white space only (Kaldi's and sclite's fields)."""
    text = text.strip(SPACE)
    if not text:
        return []
    return _SPACE_RUN.split(text, maxsplit=max(maxsplit, 0))


# Kaldi reads a number in a table (utt2num_frames, a token list's ids) with strtol: ASCII digits
# only. Python's str.isdigit() and int() take any script's digits too ('٣'.isdigit() and
# int('٣') == 3, full-width '３', and int() '1_0' and ' 5'), so a value Kaldi refuses was read.
_ASCII_INT = re.compile(r"[+-]?[0-9]+")


def ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits 0-9, nothing else (a count, an id, an index)."""
    return text.isascii() and text.isdigit()


def ascii_int(text: str) -> Optional[int]:
    """The integer ``text`` spells in ASCII digits with an optional sign (strtol's, Kaldi's
    ConvertStringToInteger without its white space); None for anything else."""
    return int(text) if _ASCII_INT.fullmatch(text) else None


def line_of(path: PathLike, key: str, keys_are_ids: bool = True) -> Optional[int]:
    """The line number of ``key`` in table ``path`` (for an error found after reading it into a
    dict), or None."""
    try:
        for line in iter_table(path, allow_empty_value=True, keys_are_ids=keys_are_ids):
            if line.key == key:
                return line.lineno
    except (AsrkitError, OSError):
        pass
    return None


# ASCII control characters other than the white space that splits a line's fields (NUL is
# named on its own, as a damaged file's).
ID_CONTROL = re.compile("[\x01-\x08\x0e-\x1f\x7f]")

# The longest key of a table of ids. No id comes near it (asrkit-make-data-dir's are a speaker and a
# path, at most PATH_MAX, 4096): a longer key is a line whose white space was lost (a damaged or
# binary file), and read as an id it was quoted whole in every message naming it (a 20 MB text
# line, an id with an empty transcript: 40 MB of asrkit-validate-data-dir's stderr, 80 MB of
# asrkit-score's, 20 MB of asrkit-fix-data-dir's).
MAX_ID_CHARS = 1 << 16


# The tables asrkit-fix-data-dir filters (datadir's UTT_TABLES, RECO_TABLES, SPK_TABLES and
# spk2utt, which import this module; tests/data/test_control_char_remedy.py checks they agree).
FIXED_TABLES = frozenset(("utt2spk", "text", "segments", "feats.scp", "utt2num_frames", "utt2dur", "utt2uniq",
                          "utt2lang", "utt2sample_rate", "wav.scp", "reco2file_and_channel", "reco2dur",
                          "spk2gender", "cmvn.scp", "spk2utt"))


def data_dir_of(name: PathLike) -> Optional[Path]:
    """The data dir whose table ``name`` is (one asrkit-fix-data-dir filters, beside the utt2spk or
    spk2utt it needs to tell the utterances), or None: stdin, a pipe, a hypothesis file of
    asrkit-score or a list, where 'asrkit-fix-data-dir <data-dir>' named nothing that applies."""
    text = str(name)
    if not text or text.startswith("<") or names_stdin(text):
        return None
    path = Path(text)
    try:
        if path.name in FIXED_TABLES and any((path.parent / t).is_file() for t in ("utt2spk", "spk2utt")):
            return path.parent
    except OSError:  # (a name too long, a folder we may not read: no remedy rather than no error)
        pass
    return None


def fix_data_dir_command(data_dir: PathLike) -> str:
    """'asrkit-fix-data-dir <data_dir>' as a shell runs it: quoted ('my data', "Bob's files"), and
    a relative name starting with '-' given as ./-x, which click would take for an option."""
    text = str(data_dir)
    return f"asrkit-fix-data-dir {shlex.quote('./' + text if text.startswith('-') else text)}"


def id_control_problem(key: str, data_dir: Optional[PathLike] = None) -> Optional[str]:
    """Why id ``key`` (a table's key, a speaker id) is no Kaldi id, when it holds an ASCII control
    character (an ESC from 'ls --color' output, a ^A), or None. Kaldi's IsToken refuses them in
    every table key, and they sort apart from 'LC_ALL=C sort' (which compares whole lines: 'a\x01x'
    before 'a '): validation passed such an id, and fix-data-dir wrote an order Kaldi refuses; the readers
    took it (compute-fbank wrote it to feats.scp).

    ``data_dir``: the data dir the table is in (:func:`data_dir_of`), whose asrkit-fix-data-dir
    command the message gives; without one (stdin, asrkit-score's hypothesis file) it gives none,
    as there is no data dir for that command to repair."""
    m = ID_CONTROL.search(key)
    if m is None:
        return None
    # What to do, as no reader can guess the id meant: asrkit-fix-data-dir drops such an utterance
    # (a speaker's, all of them); one that is wanted is the user's to rename, in every table.
    fix = "" if data_dir is None else f", or let {fix_data_dir_command(data_dir)} drop it"
    return (f"the control character U+{ord(m.group()):04X} {m.group()!r} at character {m.start()} of the id "
            f"{key!r}: Kaldi ids cannot hold one; rename it in every table that holds it{fix}")


def id_length_problem(key: str, data_dir: Optional[PathLike] = None) -> Optional[str]:
    """Why ``key``, a table line's key, is no id, when it is over MAX_ID_CHARS long (a line whose white
    space was lost), or None; named with the id cut short. ``data_dir`` as :func:`id_control_problem`'s.
    Public: asrkit.data.validate's scanner (validate-data-dir, fix-data-dir) says it too."""
    if len(key) <= MAX_ID_CHARS:
        return None
    fix = "" if data_dir is None else f", or let {fix_data_dir_command(data_dir)} drop it"
    return (f"an id {shown(key, 80)}: no id is that long (a line whose white space was lost: a damaged or binary "
            f"file?); mend the line{fix}")


# A UTF-8 byte-order mark (Windows editors write one) would become part of the first key, and
# that utterance would then be "missing" everywhere else: named instead.
BOM = "\ufeff"


def bom_sed(first_line_only: bool, path: Optional[str] = None) -> str:
    """The sed that removes UTF-8 BOMs starting lines (line 1's alone, or every line's): editing
    file ``path`` in place, or, without one, as a filter for a pipe. One spelling for every
    message that prints it (tables, text arks, asrkit-tokenize's stdin)."""
    script = f"'{'1' if first_line_only else ''}s/^\\xEF\\xBB\\xBF//'"
    return f"sed {script}" if path is None else f"sed -i {script} {shlex.quote(path)}"


def _a_file_to_edit(name: str) -> bool:
    """Whether ``name`` is a file a message can give a command that edits it in place: not stdin
    nor a stream the message names in angle brackets (``<stdin>``, ``<rxfilename>``)."""
    return not (name.startswith("<") or names_stdin(name))


def bom_problem(name: str) -> str:
    """What is wrong with table ``name`` that starts with a BOM (its line 1)."""
    how = f" ({bom_sed(True, name)})" if _a_file_to_edit(name) else ""
    return (f"starts with a UTF-8 byte-order mark (BOM), which would become part of the first key; Kaldi "
            f"tables are plain text: remove it{how}")


def mid_file_bom_problem(name: str) -> str:
    """What is wrong with a line of table ``name``, after its first, that starts with a BOM."""
    how = f" ({bom_sed(False, name)})" if _a_file_to_edit(name) else ""
    return (f"starts with a UTF-8 byte-order mark (BOM), which would become part of its key (files each "
            f"saved with one and joined with cat?); Kaldi tables are plain text: remove them{how}")


# gzip's mark, 1F 8B, and its one compression method, 08 (deflate, RFC 1952): the two bytes alone
# also begin a damaged table or a key of bytes that are no gzip, whose gunzip remedy then failed.
GZIP_MAGIC = b"\x1f\x8b\x08"


def gzip_problem(name: str, pipe: Optional[str] = None) -> str:
    """What is wrong with ``name`` that is gzip-compressed, and what to do: read it through gunzip
    as ``pipe`` says a reader takes a command (``'ark:'``, ``'scp:'``, ``''`` for a single-object
    file that may be ``cmd |``), or, with ``pipe`` None, decompress it. Input that is no file
    (stdin, a pipe's output) is told to pass through gunzip on its way in."""
    what = "is gzip-compressed (it starts with gzip's bytes 1F 8B), not "
    what += {None: "text", "ark:": "a Kaldi archive", "scp:": "a Kaldi table"}.get(pipe, "a Kaldi matrix")
    if not _a_file_to_edit(name) or not os.path.isfile(name):
        return f"{what}: pass it through gunzip -c on its way in"
    if pipe is None:
        # (gunzip takes only a name ending in .gz: a table named text is moved to text.gz and back)
        how = (f"gunzip -k {shlex.quote(name)}" if name.endswith(".gz") else
               f"mv {shlex.quote(name)} {shlex.quote(name + '.gz')} && gunzip {shlex.quote(name + '.gz')}")
        return f"{what}: decompress it ({how})"
    return f"{what}: read it through gunzip, as {shlex.quote(f'{pipe}gunzip -c {shlex.quote(name)} |')}"


def refuse_bom(first_line: bytes, name: str) -> None:
    """The error for text ``name`` (a file, ``<stdin>``) whose first line, as read, starts with a BOM,
    or with gzip's mark (a ``text.gz`` or ``feats.scp.gz`` was "not UTF-8 text", or, where the
    compressed bytes held a CR and no LF, "CR-only (old Mac) line endings")."""
    if first_line.startswith(BOM.encode("utf-8")):
        raise AsrkitError(f"{name}:1: {bom_problem(name)}")
    if first_line.startswith(GZIP_MAGIC):
        raise AsrkitError(f"{name}: {gzip_problem(name)}")
    utf16 = utf16_problem(first_line, name)
    if utf16 is not None:
        raise AsrkitError(f"{name}:1: {utf16}")


def utf16_problem(first: bytes, name: str, kind: str = "Kaldi tables are") -> Optional[str]:
    """What is wrong with text ``name`` whose first bytes ``first`` are UTF-16's byte-order mark,
    else None. A wav.scp (or a --config) saved as Windows Notepad's 'Unicode' was "not UTF-8 text
    (invalid start byte at byte 0 of the line)", which says nothing of what the file is or what to do."""
    if first[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        return None
    how = (f" (iconv -f UTF-16 -t UTF-8 {shlex.quote(name)} > {shlex.quote(name + '.utf8')})"
           if _a_file_to_edit(name) else "")
    return (f"the file is UTF-16 (it starts with the byte-order mark {first[:2].hex(' ').upper()}, as Windows "
            f"Notepad's 'Unicode' saves it); {kind} UTF-8 text: convert it{how}")


def corpus_text_lines(path: PathLike) -> List[Tuple[int, str]]:
    """(line number, line) of a corpus's own text file (a transcription, a SPEAKERS.TXT), not a
    Kaldi table: a leading UTF-8 BOM (a Windows editor's) is dropped, CRLF line ends are read as
    LF, and a line that is not UTF-8 is an error naming the file and line (a UnicodeDecodeError
    traceback in the recipes' data preps, or, for a BOM, a first word that began with it)."""
    data = read_bounded(path)
    if data.startswith(BOM.encode("utf-8")):
        data = data[len(BOM.encode("utf-8")):]
    lines = []
    for lineno, raw in enumerate(data.splitlines(), 1):
        try:
            lines.append((lineno, raw.decode("utf-8")))
        except UnicodeDecodeError as e:
            raise AsrkitError(f"{path}:{lineno}: not UTF-8 text ({e.reason} at byte {e.start} of the line: "
                              f"{raw[e.start:e.start + 1]!r}); convert it, e.g. iconv -f latin1 -t utf-8") from None
    return lines


def cr_only_at(first_line: bytes, ids: Optional[Callable[[], Set[str]]] = None) -> Optional[int]:
    """Where the first CR is when ``first_line``, as read, is the whole input (no LF) and its line
    ends are CRs (old Mac); else None. The one rule of every reader, validate- and fix-data-dir:

    - a CR inside a line of a file with LF line ends stays part of that line, and a lone CR
      ending the only line is its line end;
    - a CR inside the only line is a line end unless the caller knows the ids the lines must
      start with (``ids``: the data dir's other tables, asrkit-score's other file) and fewer than
      half those after the first start with one: then it is a CR inside a one-line transcript
      ('u1 NO NO<CR>NO YES'), which fix-data-dir cut at the CR and dropped the rest as an
      utterance 'NO'. With no ids to tell by, the two cannot be told apart ('u1 A<CR>u2 B' is
      an old Mac file whose last line has no CR as well as a transcript holding a CR), and
      reading an old Mac file as one line merges every utterance into the first: refused.
    """
    body = first_line.rstrip(b"\r")
    if first_line.endswith(b"\n") or b"\r" not in body:
        return None
    known = ids() if ids is not None else set()
    if known and not _cr_lines_are_table_lines(first_line, known):
        return None
    return body.index(b"\r")


def _cr_lines_are_table_lines(data: bytes, ids: Set[str]) -> bool:
    """Whether ``data``, split at its CRs, reads as lines of a table of ``ids``: at least half the
    lines after the first start with one."""
    rest = [split_fields(piece.decode("utf-8", "replace")) for piece in data.split(b"\r")[1:]]
    keys = [fields[0] for fields in rest if fields]
    return 2 * sum(key in ids for key in keys) >= len(keys) > 0


def refuse_cr_only(first_line: bytes, name: str) -> None:
    """The error for text ``name`` with CR-only line endings (:func:`cr_only_at`). Read as one
    line, its first key took every other line as its value (asrkit-score scored such a reference
    as one utterance, exit 0; asrkit-tokenize encoded the ids of the other lines)."""
    at = cr_only_at(first_line)
    if at is not None:
        # (an input that ends in a CR too is plainly lines; one that does not may be one line)
        one_line = "" if first_line.endswith(b"\r") else ", or take the CR out of a one-line transcript"
        raise AsrkitError(f"{name}: CR-only (old Mac) line endings: no LF, a CR at byte {at} of the input; "
                          f"convert it (tr '\\r' '\\n'){one_line}")


# A file with no line break (/dev/zero, a disk image, a NUL-filled file a crash left) was read
# whole to find its first line: a MemoryError traceback, or 630 MB of memory for a 200 MB file
# before the one-line error. Every reader here reads in blocks and refuses a line past these
# bounds at once. No real table line comes near MAX_LINE_BYTES: the longest are spk2utt lines
# (one speaker of a whole corpus: 281k LibriSpeech-size ids are ~8 MB) and long-form
# transcripts (an hour of speech is ~60 KB); a sox pipe in wav.scp is a few hundred bytes.
MAX_LINE_BYTES = 64 << 20
# Also the size of one read; a line still without its end after a whole block that holds a NUL
# byte is binary data, refused then rather than after MAX_LINE_BYTES.
READ_BLOCK = 1 << 20


class LineReadError(AsrkitError):
    """A line no text reader takes (:func:`read_line_blocks`); ``lineno`` and ``problem`` for
    readers that collect problems (validation) instead of stopping."""

    def __init__(self, name: str, lineno: int, problem: str) -> None:
        super().__init__(f"{name}:{lineno}: {problem}")
        self.lineno = lineno
        self.problem = problem


def read_line_blocks(f: IO[bytes], name: str) -> Iterator[Tuple[int, bytes]]:
    """``(number of its first line, block)`` for the bytes of ``f`` in blocks of whole lines
    (each ends with LF, but the file's last may not), read up to :data:`READ_BLOCK` bytes at a time.

    Raises :class:`LineReadError` (``name:line: ...``) for a line longer than
    :data:`MAX_LINE_BYTES`, or one holding a NUL byte and still without its end after
    :data:`READ_BLOCK` bytes, as soon as it is seen: memory stays bounded whatever the input.
    """
    lineno = 1
    parts: List[bytes] = []  # the start of a line whose end is not read yet
    pending = 0  # its length
    long_line = False  # whether it is past READ_BLOCK (its NULs looked for)
    # read1: what a pipe has now, so that a stream is read as it comes, not a MiB at a time.
    read = getattr(f, "read1", f.read)
    while True:
        block = read(READ_BLOCK)
        if not block:
            break
        cut = block.find(b"\n")
        if cut < 0:
            parts.append(block)
            pending += len(block)
            if pending >= READ_BLOCK:
                # the line's start is looked at once, when it gets this long, then each block
                if b"\0" in block if long_line else any(b"\0" in p for p in parts):
                    raise LineReadError(name, lineno, f"a NUL byte in a line over {READ_BLOCK >> 20} MiB long with "
                                                      f"no line break (a binary or damaged file?)")
                long_line = True
            if pending > MAX_LINE_BYTES:
                raise LineReadError(name, lineno, _too_long())
            continue
        if pending + cut > MAX_LINE_BYTES:
            raise LineReadError(name, lineno, _too_long())
        last = block.rfind(b"\n") + 1
        if parts:
            parts.append(block[:last])
            out = b"".join(parts)
        else:
            out = block[:last] if last < len(block) else block
        yield lineno, out
        lineno += out.count(b"\n")
        rest = block[last:]
        parts = [rest] if rest else []
        pending = len(rest)
        long_line = False
    if parts:
        yield lineno, b"".join(parts)


def _too_long() -> str:
    return (f"a line over {MAX_LINE_BYTES >> 20} MiB long (no text table's line is; a binary or damaged "
            f"file?)")


def read_bounded(path: PathLike, name: Optional[str] = None) -> bytes:
    """The bytes of text file ``path``, read as :func:`read_line_blocks` reads them (an error
    naming the line for one no reader takes, before reading the rest). OSError as open() raises it;
    a terminal (:func:`refuse_terminal`) is an AsrkitError."""
    with open_read(path) as f:
        refuse_terminal(f, path)
        return b"".join(block for _, block in read_line_blocks(f, str(path) if name is None else name))


def refuse_terminal(f: IO, path: PathLike, close: bool = True) -> None:
    """Raise (closing ``f`` if ``close``) when ``f`` reads a terminal: ``-`` (or /dev/stdin,
    /proc/self/fd/0, /dev/tty) typed at a prompt, the pipe forgotten. Reading it waited, with no
    word, for someone to type a table in, where ``ark:-`` and ``-`` audio from a terminal are
    refused (asrkit.data.matrix_io.stdin_bytes, asrkit.features.wav). ``path``: ``<stdin>`` or a name."""
    try:
        terminal = os.isatty(f.fileno())
    except (OSError, ValueError):
        terminal = False
    if terminal:
        if close:
            f.close()
        what = "stdin is a terminal" if path == "<stdin>" or names_stdin(path) else "a terminal"
        raise AsrkitError(f"{path}: {what}, not a text file: pipe the lines in or name a file")


def bounded_lines(f: IO[bytes], name: str) -> Iterator[bytes]:
    """The lines of ``f`` as iterating a binary file gives them (split at LF only, LF kept),
    from :func:`read_line_blocks`."""
    for _, block in read_line_blocks(f, name):
        yield from io.BytesIO(block)


# A blank line's problem, in these words wherever a table is read or scanned (fix-data-dir drops
# such lines without counting them as malformed).
EMPTY_LINE = "empty line"

# A directory where a table should be: reading it must fail, not pass for an absent table (a
# `text` that was a directory was "not there", and asrkit-fix-data-dir kept every utterance).
IS_A_DIRECTORY = "is a directory, not a table file"


# The characters asrkit.text.tokenizer.bad_character refuses are among these (Unicode's Cc block,
# and U+2581): a transcript with none, nearly all, is passed without calling it per character.
_TOKENIZER_SUSPECT = re.compile("[\x00-\x1f\x7f-\x9f\u2581]")


def transcript_problem(text: str) -> Optional[str]:
    """Why transcript ``text`` cannot train a tokenizer (a control character: a NUL, an ANSI
    escape; or U+2581), in asrkit-train-tokenizer's words, or None. Said when the data dir is
    made or validated: the tokenizer refused it only stages later."""
    if not _TOKENIZER_SUSPECT.search(text):
        return None
    from asrkit.text.tokenizer import bad_character  # (sentencepiece: only for such a text)

    return bad_character(text)


@dataclass(frozen=True)
class TableLine:
    key: str
    value: str
    lineno: int


def open_table(path: PathLike) -> BinaryIO:
    """``path`` opened to be read as a table (bytes); a closed stdin, a missing file, a directory or
    another refusal is one error naming it."""
    closed = stdin_closed_problem(path)
    if closed:
        raise AsrkitError(closed)
    try:
        f = open_read(path)
    except FileNotFoundError:
        # (a link to a moved file, data/train/utt2spk -> ../../x/utt2spk, was "no such file": the
        # user, who sees it in ls, looked for a typo)
        raise AsrkitError(f"{path}: {not_found_reason(path)}") from None
    except IsADirectoryError:
        raise AsrkitError(f"{path}: {IS_A_DIRECTORY}") from None
    except OSError as e:
        raise AsrkitError(f"{path}: cannot read: {e.strerror}") from None
    refuse_terminal(f, path)
    return f


def iter_table(path: PathLike, allow_empty_value: bool = False, keys_are_ids: bool = True) -> Iterator[TableLine]:
    """Yield the lines of a table, raising ``file:line: message`` on a malformed one.

    Blank lines are malformed (Kaldi rejects them too). ``allow_empty_value`` admits a bare
    key, as in a ``text`` whose transcript is empty. Each line is decoded on its own, so text
    that is not UTF-8 is reported with its line number.

    ``keys_are_ids=False`` is for a table keyed by something other than utterance, speaker or
    recording ids (tokens.txt's tokens): a key may then start with a BOM on a later line or hold
    an ASCII control character, as a transcript's word may, which an id may not.
    """
    path = Path(path)
    with open_table(path) as f:
        n = 0
        for n, line in enumerate(iter_table_lines(bounded_lines(f, str(path)), str(path), allow_empty_value,
                                                  keys_are_ids=keys_are_ids), 1):
            yield line
    if n == 0 and names_stdin(path):
        raise AsrkitError(no_stdin_data(path))


def no_stdin_data(path: PathLike) -> str:
    """The error for a table read from stdin (``-``) that holds nothing: an empty or failed pipe
    upstream, not a table of nothing (an aligner read it as "no transcript" for every utterance)."""
    return f"{path}: no data on stdin (0 lines read)"


def iter_table_lines(lines: Iterable[bytes], name: str, allow_empty_value: bool = False,
                     first_lineno: int = 1, keys_are_ids: bool = True) -> Iterator[TableLine]:
    """:func:`iter_table` over lines already opened (a pipe's or stdin's bytes); ``name`` is for messages."""
    for lineno, raw in enumerate(lines, first_lineno):
        if lineno == 1:
            refuse_bom(raw, name)
            refuse_cr_only(raw, name)
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            raise AsrkitError(f"{name}:{lineno}: not UTF-8 text ({e.reason} at byte {e.start} of the line)") from None
        parts = split_fields(line, 1)
        if keys_are_ids and lineno > 1 and line.startswith(BOM):
            # Tables each saved by a Windows editor and joined with cat: the later ones' BOMs
            # began keys ('\ufeffu7'), which were read, written to feats.scp and matched nothing
            # in text or utt2spk, with no error (line 1's is refused by refuse_bom).
            raise AsrkitError(f"{name}:{lineno}: {mid_file_bom_problem(name)}")
        if parts and "\0" in parts[0]:
            # No Kaldi id holds one (Kaldi's IsToken refuses control characters); a file a crash
            # left with blocks of zeros does, and its id of 4096 NULs was written on and printed.
            # (A NUL in a value is its reader's to name: train-tokenizer names the utterance, a
            # wav.scp path is a bad utterance.)
            raise AsrkitError(f"{name}:{lineno}: a NUL byte in the key, at character {line.index(chr(0))} of the "
                              f"line (a binary or damaged file?)")
        if parts and keys_are_ids and ID_CONTROL.search(parts[0]):
            raise AsrkitError(f"{name}:{lineno}: {id_control_problem(parts[0], data_dir_of(name))}")
        if not parts:
            raise AsrkitError(f"{name}:{lineno}: {EMPTY_LINE}")
        if line[:1] in SPACE:
            raise AsrkitError(f"{name}:{lineno}: line starts with whitespace")
        if len(parts) == 1 and not allow_empty_value:
            raise AsrkitError(f"{name}:{lineno}: malformed line (expected '<key> <value>'): {shown(line)}")
        if keys_are_ids and len(parts[0]) > MAX_ID_CHARS:
            raise AsrkitError(f"{name}:{lineno}: {id_length_problem(parts[0], data_dir_of(name))}")
        yield TableLine(parts[0], parts[1].strip(SPACE) if len(parts) > 1 else "", lineno)


def iter_table_fast(path: PathLike, allow_empty_value: bool = False,
                    keys_are_ids: bool = True) -> Iterator[Tuple[str, str, int]]:
    """:func:`iter_table` as ``(key, value, lineno)`` tuples, reading the file in blocks of lines.

    For tables of hundreds of thousands of lines (a training set's feats.scp and text): about
    ten times faster than a ``TableLine`` per line. Any line the quick checks do not accept
    is handed to :func:`iter_table`, so the errors are word for word the same.
    """
    path = Path(path)
    if stdin_closed_problem(path):
        yield from ((x.key, x.value, x.lineno) for x in iter_table(path, allow_empty_value, keys_are_ids))  # names it
        return
    try:
        f = open_read(path)
    except OSError:
        yield from ((x.key, x.value, x.lineno) for x in iter_table(path, allow_empty_value, keys_are_ids))  # names it
        return
    name = str(path)
    empty = True
    refuse_terminal(f, path)
    with f:
        # Block by block (read_line_blocks), each of whole lines: a file with no line break is
        # refused at its first MiB, not read whole; a table of 281k lines is ~20 blocks.
        for first, data in read_line_blocks(f, name):
            empty = False
            try:
                text = data.decode("utf-8")
                if first == 1:
                    lf = data.find(b"\n")
                    if text.startswith(BOM) or cr_only_at(data if lf < 0 else data[:lf + 1]) is not None:
                        raise UnicodeError  # iter_table_lines names it
                if "\0" in text or BOM in text or ID_CONTROL.search(text):
                    raise UnicodeError  # (a control character in a value is no problem: slower, same result)
            except UnicodeError:
                # From the bytes read, not by opening the path again: stdin or a pipe can be read
                # once (a BOM in a transcript piped to asrkit-align -, re-read, was an empty table).
                yield from ((x.key, x.value, x.lineno) for x in iter_table_lines(io.BytesIO(data), name,
                                                                                allow_empty_value, first,
                                                                                keys_are_ids))
                continue
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            # With plain spaces the only white space (what asrkit and Kaldi write), a line splits at
            # its first space: the same fields as split_fields, at a third of its cost per line.
            spaces_only = not any(c in text for c in "\t\v\f\r")
            for lineno, line in enumerate(lines, first):
                if spaces_only:
                    key, _, value = line.partition(" ")
                    value = value.strip(" ")
                    if key and value:
                        yield key, value, lineno
                        continue
                    if key and allow_empty_value:
                        yield key, "", lineno
                        continue
                line = line.rstrip("\r")
                parts = split_fields(line, 1)
                if len(parts) == 2 and line[0] not in SPACE:
                    yield parts[0], parts[1].strip(SPACE), lineno
                elif len(parts) == 1 and allow_empty_value and line[0] not in SPACE:
                    yield parts[0], "", lineno
                else:  # malformed: iter_table's own words for it
                    # (with its LF back: a first line without one reads as a whole CR-only input)
                    raw = data.split(b"\n")[lineno - first] + b"\n"
                    for x in iter_table_lines([raw], name, allow_empty_value, lineno, keys_are_ids):
                        yield x.key, x.value, lineno
    if empty and names_stdin(path):
        raise AsrkitError(no_stdin_data(path))


def read_table(path: PathLike, allow_empty_value: bool = False, unique: bool = True,
               keys_are_ids: bool = True) -> Dict[str, str]:
    """Read a table into an insertion-ordered dict; duplicate keys are an error if ``unique``;
    ``keys_are_ids`` as :func:`iter_table`'s."""
    table: Dict[str, str] = {}
    for key, value, lineno in iter_table_fast(path, allow_empty_value, keys_are_ids):
        if key in table and unique:
            # The first line is found by reading the file again (no line numbers kept for the
            # common case); a pipe or stdin gives nothing the second time (None).
            first = line_of(path, key, keys_are_ids)
            where = f"first on line {first}" if first is not None else "listed before"
            raise AsrkitError(f"{path}:{lineno}: duplicate key {key!r} ({where})")
        table[key] = value
    return table


def read_utt2spk(path: PathLike, hint: str = "") -> Dict[str, str]:
    """utt2spk: one speaker id per utterance. 'u1 spk0 two' would be speaker 'spk0 two': a split's
    or a perturbed copy's spk2utt then writes it as speaker 'spk0' with an utterance 'two', and a
    score's speaker table, per-speaker CMVN or adaptation takes a speaker no other table has (a
    text given for the utt2spk made every transcript a speaker). ``hint`` ends the message."""
    table = read_table(path)
    for lineno, (utt, spk) in enumerate(table.items(), 1):  # one line per key: none blank or twice
        if len(split_fields(spk)) != 1:
            raise AsrkitError(f"{path}:{lineno}: utterance {utt!r}: expected one speaker id, got {shown(spk)}"
                              + (f" ({hint})" if hint else ""))
        if "\0" in spk:
            # as in a key (read_table): a speaker id is a key of spk2utt and of the speakers' arks
            raise AsrkitError(f"{path}:{lineno}: utterance {utt!r}: a NUL byte in its speaker id (a binary or "
                              f"damaged file?)")
    return table


def read_list_table(path: PathLike) -> Dict[str, List[str]]:
    """A table whose value is a whitespace-separated list (spk2utt)."""
    return {k: split_fields(v) for k, v in read_table(path).items()}


def read_spk2utt(path: PathLike) -> Dict[str, List[str]]:
    """spk2utt, each utterance under one speaker once. One listed twice (a hand-edited or merged
    table; utt2spk cannot say it) had its frames counted twice in its speaker's CMVN stats, or
    in two speakers' stats, with exit 0."""
    table = read_list_table(path)
    first: Dict[str, Tuple[str, int]] = {}
    for lineno, (spk, utts) in enumerate(table.items(), 1):  # one line per key: none blank or twice
        for utt in utts:
            if utt in first:
                where = "again" if first[utt][0] == spk else f"under speaker {spk!r} too"
                raise AsrkitError(f"{path}:{lineno}: utterance {utt!r} is listed {where} (first under speaker "
                                  f"{first[utt][0]!r} on line {first[utt][1]}): an utterance belongs to one speaker, "
                                  f"once (make spk2utt from utt2spk: utils/utt2spk_to_spk2utt.sh)")
            first[utt] = (spk, lineno)
    return table


def format_table(table: Mapping[str, object] | List[Tuple[str, object]], sort: bool = False) -> str:
    """``key value`` lines (list values joined with spaces; a bare key for an empty value)."""
    items = list(table.items()) if isinstance(table, Mapping) else list(table)
    if sort:
        items.sort(key=lambda kv: kv[0])
    out = []
    for key, value in items:
        if isinstance(value, (list, tuple)):
            value = " ".join(str(v) for v in value)
        value = str(value)
        out.append(f"{key} {value}\n" if value != "" else f"{key}\n")
    return "".join(out)


def write_table(path: PathLike, table: Mapping[str, object] | List[Tuple[str, object]], sort: bool = False) -> None:
    """Write ``key value`` lines atomically; list values are joined with spaces."""
    with atomic_open(path) as f:
        f.write(format_table(table, sort))


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> Dict[str, List[str]]:
    spk2utt: Dict[str, List[str]] = {}
    for utt, spk in utt2spk.items():
        spk2utt.setdefault(spk, []).append(utt)
    return dict(sorted(spk2utt.items()))


def kaldi_sorted(keys: List[str]) -> bool:
    """Kaldi requires C-locale (byte-wise) sorted keys; Python's str order is the same for ASCII."""
    return all(a < b for a, b in zip(keys, keys[1:]))


def find_unsorted(keys: List[str]) -> Optional[int]:
    """Index of the first key not strictly greater than its predecessor, or None."""
    for i in range(1, len(keys)):
        if not keys[i - 1] < keys[i]:
            return i
    return None
