"""Transcripts as make-data-dir reads them: a ``--transcripts`` file of ``<key> <text>`` lines
(:func:`read_transcript_file`; a CSV, LJSpeech's metadata.csv, Common Voice's validated.tsv, a
Sphinx transcription file or UTF-16 text refused with the conversion that fixes it) and their
normalisation (``--case``, ``--punctuation``: :func:`normalise_transcript`, :func:`drop_punctuation`, the
<unk> and [noise] markers kept).

Used by :mod:`asrkit.data.from_audio`; imports no other make-data-dir module."""
from __future__ import annotations

import re
import shlex
import unicodedata
from pathlib import Path
from typing import Dict, Optional, Tuple

from asrkit.data.table import BOM, no_stdin_data, read_bounded
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import names_stdin

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CONTROL_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _reads_as_text(text: str) -> bool:
    """Whether every character is one a transcript holds: no control character but tab and line
    ends, nothing unassigned or private."""
    return not _CONTROL.search(text) and all(unicodedata.category(c) not in ("Cc", "Cn", "Co", "Cs")
                                             or c in "\t\n\r" for c in text)


def utf16_without_bom(raw: bytes) -> str:
    """'LE' or 'BE' where ``raw`` is UTF-16 text without a byte-order mark, else ''. Its characters'
    high bytes are on one side of each pair: a NUL for ASCII (a space, a line end: no 8-bit text
    has a NUL), 01-1F for Greek, Cyrillic, Hebrew, Arabic, Indic... (no 8-bit text has those
    control bytes either); and the pairs must read as printable text. Mostly CJK text without a
    space or line end is not told from 8-bit text: it is left unknown."""
    if len(raw) < 2 or len(raw) % 2:
        return ""
    even, odd = raw[0::2], raw[1::2]
    for order, high, low in (("LE", odd, even), ("BE", even, odd)):
        # (mostly ASCII text: every other byte a NUL, on the side the byte order puts it)
        mostly_ascii = high.count(0) * 2 > len(high) and low.count(0) * 10 < len(low)
        # (ASCII among other text: a NUL beside each space and line end, every line end so; one
        # stray NUL in 8-bit text has its line ends at either side, beside other bytes)
        pairs = list(zip(low, high))  # (each character's low byte, its high byte)
        nuls_one_side = (high.count(0) and not low.count(0) and pairs.count((0x0A, 0)) == raw.count(b"\n")
                         and ((0x0A, 0) in pairs or (0x20, 0) in pairs))
        low_block = sum(b < 0x20 for b in high) * 10 >= 9 * len(high) and sum(b < 0x20 for b in low) * 2 < len(low)
        if mostly_ascii:
            return order
        if not (nuls_one_side or low_block):
            continue
        try:
            if _reads_as_text(raw.decode(f"utf-16-{order.lower()}")):
                return order
        except UnicodeDecodeError:
            continue
    return ""


def utf16_read_as_utf8(raw: bytes, text: str) -> str:
    """'LE'/'BE' where ``text``, ``raw`` read as UTF-8, holds control characters because ``raw`` is
    UTF-16 without a byte-order mark (ASCII and Cyrillic, and much CJK, pass UTF-8's checks as
    NULs and other control bytes), else ''. One real control character (a terminal's ESC) is not."""
    return utf16_without_bom(raw) if _CONTROL.search(text) else ""


def utf16_control_problem(raw: bytes) -> str:
    """The problem of UTF-16 text read as UTF-8 (:func:`utf16_read_as_utf8`), for the error."""
    m = _CONTROL_BYTE.search(raw)
    at = f"U+{raw[m.start()]:04X} at byte {m.start()}" if m else "control bytes"
    return f"not UTF-8 text (the control character {at}, as UTF-16 text read as UTF-8 has)"


def not_utf8_kind(raw: bytes) -> Tuple[str, str]:
    """(what a text file that is not UTF-8 likely is, the iconv that converts it): UTF-16 by its
    byte-order mark; UTF-16LE/BE without one (:func:`utf16_without_bom`; some exporters write no
    mark, and 'iconv -f UTF-16' then takes it for big-endian); else the encoding is not known, the
    usual 8-bit ones given as a guess. Public: from_audio groups its transcripts by it."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "UTF-16 (a byte-order mark FF FE or FE FF)", "iconv -f UTF-16 -t UTF-8"
    return utf16_kind(utf16_without_bom(raw))


def utf16_kind(order: str) -> Tuple[str, str]:
    """:func:`not_utf8_kind` of text without a byte-order mark whose :func:`utf16_without_bom` is
    ``order``: for a caller that has it already (:func:`utf16_read_as_utf8`), so that the pairs are
    not read again. Public: from_audio's transcripts beside the audio."""
    if order == "LE":
        return "UTF-16LE without a byte-order mark (by its byte pairs)", "iconv -f UTF-16LE -t UTF-8"
    if order == "BE":
        return "UTF-16BE without a byte-order mark (by its byte pairs)", "iconv -f UTF-16BE -t UTF-8"
    # (older corpora and Windows editors: é as the single byte E9)
    return "", "iconv -f WINDOWS-1252 -t UTF-8"


def utf16_hint(kind: Tuple[str, str]) -> str:
    """What a transcript file that is not UTF-8 likely is, and the conversion, for the error: of its
    :func:`not_utf8_kind` ``kind``. Public: from_audio's errors for transcripts beside the audio give
    it too."""
    what, iconv = kind
    if what:
        return f": it is {what}; save it as UTF-8, e.g. {iconv}"
    return f"; if it is Latin-1 or Windows-1252 text, convert it, e.g. {iconv}"


CSV_TO_TSV = ("python3 -c 'import csv,sys; [print(*r[:2], sep=\"\\t\") for r in csv.reader(open(sys.argv[1], "
              "newline=\"\"))]' {path} | tail -n +2 > prompts.tsv")


PIPE_TO_PROMPTS = "awk -F'|' '{{ print $1, $NF }}' {path} > prompts.txt"


def _refuse_csv(path: Path, content: str) -> None:
    """A .csv of "path,text" rows read as '<key> <text>' lines gave keys like '"my' (a quoted
    path cut at its first space: "key appears twice") or 'a0001.wav,HELLO' (no such file: every
    line skipped), neither saying that the file's format was the trouble."""
    if path.suffix.lower() != ".csv":
        return
    for lineno, line in enumerate(_LINE_BREAK.split(content), 1):
        line = line.lstrip(BOM)
        if not line.strip():
            continue
        key = line.split("\t", 1)[0].strip() if "\t" in line else line.split(maxsplit=1)[0]
        if "|" in key:
            # LJSpeech's metadata.csv ('LJ001-0001|text|normalized text'): every key was a whole
            # line, every transcript "without audio", and every recording "without a transcript".
            raise AsrkitError(f"{path}:{lineno}: a '|'-separated file ({line.strip()[:40]!r}; LJSpeech's "
                              f"metadata.csv is 'id|text|normalized text'): --transcripts reads '<key> <text>' "
                              f"lines; convert it first, e.g. {PIPE_TO_PROMPTS.format(path=shlex.quote(str(path)))} "
                              f"(the last field: LJSpeech's normalized text)")
        if "," in key or key.startswith('"'):
            raise AsrkitError(f"{path}:{lineno}: a CSV file ({line.strip()[:40]!r}): --transcripts reads '<key> <text>' "
                              f"or '<key><TAB><text>' lines; convert it first, e.g. "
                              f"{CSV_TO_TSV.format(path=shlex.quote(str(path)))} (tail drops a header row)")
        return


# A table with a header row, Common Voice's validated.tsv ('client_id<TAB>path<TAB>sentence...';
# newer releases put sentence_id between): read as '<key><TAB><text>' lines, its keys were the
# speakers' client ids, so "key appears twice" at the second clip of a speaker, or, with one clip
# each, every line a transcript without audio; neither named the format.
_HEADER_AUDIO = ("path", "file", "filename", "file_name", "audio", "wav", "audio_path")
_HEADER_TEXT = ("sentence", "text", "transcript", "transcription", "normalized_text")
HEADER_TO_PROMPTS = "awk -F'\\t' 'NR > 1 {{ print ${audio} \"\\t\" ${text} }}' {path} > prompts.tsv"


def _refuse_header_table(path: Path, content: str) -> None:
    """Refuse a tab-separated table whose first line names its columns with the audio's column
    not first (the key must be the audio file's name), giving the awk line that writes it as
    '<key><TAB><text>' lines. A header with the audio first reads as it did (one skipped line)."""
    for lineno, line in enumerate(_LINE_BREAK.split(content), 1):
        line = line.lstrip(BOM)
        if not line.strip():
            continue
        columns = [c.strip().lower() for c in line.split("\t")]
        audio = next((i for i, c in enumerate(columns) if c in _HEADER_AUDIO), None)
        text = next((i for i, c in enumerate(columns) if c in _HEADER_TEXT), None)
        if audio is None or text is None or audio == 0:
            return
        command = HEADER_TO_PROMPTS.format(audio=audio + 1, text=text + 1, path=shlex.quote(str(path)))
        raise AsrkitError(f"{path}:{lineno}: a table with a header row ({', '.join(columns[:4])}"
                          f"{', ...' if len(columns) > 4 else ''}; Common Voice's validated.tsv has "
                          f"client_id, path, sentence): --transcripts reads '<key> <text>' lines keyed by the "
                          f"audio file's name; convert it first, e.g. {command} (NR > 1 drops the header)")


# CMU Sphinx's transcription files (AN4's etc/*.transcription, SphinxTrain's layout) put the
# utterance id last: "<s> YES </s> (an251-fash-b)". Read as '<key> <text>' lines, their first
# words became keys, and the error was "key 'RUBOUT' appears twice", which says nothing of the
# format; the <s> </s> markers would also have become words.
_SPHINX_LINE = re.compile(r"\(([^()\s]+)\)\s*$")
SPHINX_TO_PROMPTS = r"sed -E 's/\r$//; s/^(.*[^ ]) *\(([^()]+)\)$/\2 \1/; s/ *<\/?s> */ /g' {path} > prompts.txt"


def _sphinx_hint(path: Path, content: str) -> str:
    """For a duplicate key: the conversion, when every line ends in its own '(<id>)' as Sphinx's do
    (prompts annotated '(laughs)' repeat theirs)."""
    ids = [_SPHINX_LINE.search(line) for line in _LINE_BREAK.split(content) if line.strip()]
    if not ids or not all(ids) or len({m.group(1) for m in ids}) < len(ids):
        return ""
    return (f": it looks like a Sphinx transcription file ('<text> (<id>)' lines) and --transcripts reads "
            f"'<key> <text>' lines; convert it first, e.g. {SPHINX_TO_PROMPTS.format(path=shlex.quote(str(path)))}")


def read_transcript_file(path: Path) -> Dict[str, Tuple[str, int]]:
    """``<key> <text>`` lines -> {key: (text, line number)}; blank lines are ignored."""
    try:
        raw = read_bounded(path)
    except OSError as e:
        raise AsrkitError(f"{path}: cannot read the transcripts: {e.strerror}") from None
    if not raw and names_stdin(path):  # an empty or failed pipe upstream, not a file of no transcripts
        raise AsrkitError(no_stdin_data(path))
    try:
        content = raw.decode("utf-8-sig")  # a byte-order mark (Windows editors) is not part of the first key
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise AsrkitError(f"{path}:{line}: not UTF-8 text ({e.reason} at byte {e.start})"
                          f"{utf16_hint(not_utf8_kind(raw))}") from None
    order = utf16_read_as_utf8(raw, content)
    if order:
        # (its keys read as 'a\x001\x00', every line a transcript without audio, or a control
        # character refused as a terminal escape: neither said it was UTF-16)
        line = raw[:_CONTROL_BYTE.search(raw).start()].count(b"\n") + 1
        raise AsrkitError(f"{path}:{line}: {utf16_control_problem(raw)}{utf16_hint(utf16_kind(order))}")
    _refuse_csv(path, content)
    _refuse_header_table(path, content)
    out: Dict[str, Tuple[str, int]] = {}
    # Lines end at \n, \r\n or \r only. str.splitlines() would also break at U+2028, U+0085,
    # a form feed..., cutting a transcript short and making the rest a bogus key (and every
    # later line number wrong); inside a transcript those are white space.
    for lineno, line in enumerate(_LINE_BREAK.split(content), 1):
        # A BOM at the start of a later line: files each saved with one, then concatenated.
        line = line.lstrip(BOM)
        # A tab, when there is one, ends the key: then a key may hold spaces ("my take 1<TAB>text").
        parts = [p.strip() for p in line.split("\t", 1)] if "\t" in line else line.strip().split(maxsplit=1)
        if not parts or not parts[0]:
            continue
        key = parts[0]
        if key in out:
            raise AsrkitError(f"{path}:{lineno}: key {key!r} appears twice (first on line {out[key][1]})"
                              + _sphinx_hint(path, content))
        out[key] = (parts[1] if len(parts) > 1 else "", lineno)
    if not out:
        raise AsrkitError(f"{path}: no transcripts in it (expected '<file-name> <text>' lines)")
    return out


def drop_punctuation(text: str) -> str:
    """Punctuation (Unicode category P*) as word breaks, except an apostrophe inside a word (don't)."""
    out = []
    for i, c in enumerate(text):
        if unicodedata.category(c).startswith("P"):
            inside = 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
            out.append("'" if c in "'\u2019" and inside else " ")
        else:
            out.append(c)
    return "".join(out)


# A Kaldi/ESPnet marker word, <unk>, <sil>, [noise], [laughter] (a word of its own, punctuation
# after it allowed): its brackets kept by --punctuation drop, which made "[noise]" the word NOISE.
# --case applies to it as to any word ([NOISE] and [noise] one word), but <unk> in any case is
# sentencepiece's unknown symbol, <unk>: "<UNK>" under --case upper was a word of its own.
_MARKER = re.compile(r"(?<!\S)(<[^<>\[\]\s]+>|\[[^<>\[\]\s]+\])(?=$|\s|[,.;:!?])")


def normalise_transcript(text: str, case: str, punctuation: str) -> str:
    """``text`` under ``--case`` and ``--punctuation``, markers kept, white space collapsed. Public:
    from_audio normalises every transcript with it."""
    def cased(part: str) -> str:
        return part.upper() if case == "upper" else part.lower() if case == "lower" else part

    parts = _MARKER.split(text)  # odd indices: the markers
    for i in range(len(parts)):
        if i % 2:
            parts[i] = "<unk>" if parts[i].lower() == "<unk>" and case != "keep" else cased(parts[i])
        else:
            parts[i] = cased(drop_punctuation(parts[i]) if punctuation == "drop" else parts[i])
    return " ".join("".join(parts).split())


def punctuated_word(text: str) -> Optional[str]:
    """The first word of ``text`` holding punctuation that ``--punctuation drop`` takes out, other
    than a dash (uh-huh, a partial word th-) or an apostrophe beside a letter or digit (don't, and
    at a word's edge: 'em, 'tis, boys', TED-LIUM's 's); markers ([noise]) are no such words. None
    when there is none. Public: validate warns of a data dir's text with it."""
    for i, part in enumerate(_MARKER.split(text)):
        if i % 2:
            continue
        for word in part.split():
            # (most words are letters alone: one C-speed test, not a category per character)
            if not word.isalnum() and _holds_punctuation(word):
                return word
    return None


_APOSTROPHES = "'\u2019"


def _holds_punctuation(word: str) -> bool:
    # An apostrophe at a word's edge is the corpus's spelling in LibriSpeech ('EM, BOYS'), CMUdict
    # and Kaldi's lexicons ('TIS, 'CAUSE), not punctuation to drop: the warning's remedy rewrote
    # their references. A word quoted between two ('YES') is punctuation still.
    quoted = len(word) > 1 and word[0] in _APOSTROPHES and word[-1] in _APOSTROPHES
    for j, c in enumerate(word):
        category = unicodedata.category(c)
        if not category.startswith("P") or category == "Pd":
            continue
        beside = (j > 0 and word[j - 1].isalnum()) or (j + 1 < len(word) and word[j + 1].isalnum())
        if not (c in _APOSTROPHES and beside and not quoted):
            return True
    return False


def has_visible_char(text: str) -> bool:
    """Whether ``text`` has a character that is not white space or an invisible format character
    (Unicode category Cf: zero-width space, BOM, direction marks): one that is only those reads as
    empty, and would train the model on an invisible label. Public: from_audio skips such transcripts."""
    return any(not c.isspace() and unicodedata.category(c) != "Cf" for c in text)
