"""Reading the transcripts asrkit-score compares: a Kaldi ``text`` or a sclite ``trn`` file.

A Kaldi text is ``<utt-id> <transcript>`` per line; sclite's trn (what ESPnet's scoring and
sclite users keep as ref.trn/hyp.trn) is ``<transcript> (<utt-id>)``. Read as a Kaldi text, a trn
file's first words became the ids and its ids words of the transcripts: two trn files scored with
exit 0, each id one more correct word (3/7 errors where sclite counts 3/5). A file is read as trn
when every line ends with a parenthesized id (and not all the same one); either format may be
given for either side. A CTM (every line '<utt> <channel> <start> <duration> <word> [<conf>]') is
neither, and is refused: read as a Kaldi text, its lines were utterances.

sclite's alternation markup (``{ want / wanna }``: one word, either spelling) and any other
braces but a word's own (a lone ``{``, after which sclite loses words) are refused with the line
at fault: asrkit-score would score the group as four words where sclite scores one. A braced word
(``{noise}``, TED-LIUM's ``{BREATH}`` tags) is the word inside, as sclite reads it. sclite's other markup needs no
option and is scored as sclite scores it by default (asrkit.scoring.tokens): a word in
parentheses (``(uh)``, optionally deletable only with sclite -D), ``%HESITATION``, a fragment
``sever-`` (correct only with sclite -F) and ``<unk>`` are plain words, the null word ``@`` is
none, backslashes and one trailing ``*`` are dropped.
"""
from __future__ import annotations

import functools
import re
from typing import Callable, Dict, List, Optional, Tuple, Union

from asrkit.data.not_a_text import CTM_FORMAT, LEAST_LINES, is_ctm_line, refuse_other_file
from asrkit.data.table import (SPACE, bounded_lines, iter_table_lines, no_stdin_data, open_table, refuse_bom,
                               refuse_cr_only, split_fields)
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike, names_stdin

KALDI, TRN = "Kaldi text", "sclite trn"

# A trn line: its transcript (maybe none), then its id in parentheses (no white space in it).
_TRN_LINE = re.compile(r"(.*?)\(([^()\s]+)\)")
_ALTERNATION = re.compile(r"\{[^{}]*/[^{}]*\}")
_BRACED_WORD = re.compile(r"(?<!\S)\{([^{}/\s]+)\}(?!\S)")


def read_transcripts(path: PathLike) -> Tuple[Dict[str, str], str]:
    """``({utt: transcript} in file order, KALDI or TRN)``; a malformed line, a duplicate id or
    sclite alternation markup is an error naming ``path:line``."""
    return _readings(path)[0]()


def read_transcript_pair(ref_path: PathLike, hyp_path: PathLike
                         ) -> Tuple[Tuple[Dict[str, str], str], Tuple[Dict[str, str], str]]:
    """:func:`read_transcripts` of a reference and its hypothesis, each file's format chosen with
    the other's: a Kaldi text whose lines all end in a parenthesized word ('u1 hello (noise)', one
    line, or tags that differ) also reads as trn, and was scored as one (ids 'noise', 'laugh'),
    refused as sharing no id with its Kaldi hypothesis. The readings that share the most ids win;
    when none shares any, each file's own reading (trn when its lines are trn lines) is taken, and
    its errors are the ones named."""
    refs = _attempts(ref_path)  # (the reference's errors first, before the hypothesis is opened)
    hyps = _attempts(hyp_path)
    best, best_shared = None, 0
    for ref in refs:
        for hyp in hyps:
            if isinstance(ref, tuple) and isinstance(hyp, tuple):
                shared = len(ref[0].keys() & hyp[0].keys())
                if shared > best_shared:
                    best, best_shared = (ref, hyp), shared
    if best is not None:
        return best
    for first in (refs[0], hyps[0]):
        if isinstance(first, AsrkitError):
            raise first
    return refs[0], hyps[0]


def _attempts(path: PathLike) -> List[Union[Tuple[Dict[str, str], str], AsrkitError]]:
    """Each reading of ``path`` (:func:`_readings`): its ``(table, format)`` or its error. When no
    reading works, the likeliest one's error is raised here."""
    out: List[Union[Tuple[Dict[str, str], str], AsrkitError]] = []
    for read in _readings(path):
        try:
            out.append(read())
        except AsrkitError as e:
            out.append(e)
    if all(isinstance(x, AsrkitError) for x in out):
        raise out[0]
    return out


def _readings(path: PathLike) -> List[Callable[[], Tuple[Dict[str, str], str]]]:
    """The ways ``path`` can be read, its likelier first: as trn when every line is a trn line,
    then as a Kaldi text; each a function giving ``(table, format)`` or raising the reading's error
    (the file itself is read once, here)."""
    raw = _raw_lines(path)
    trn = _as_trn(raw, str(path))
    if trn is None and _is_ctm(raw):
        # Read as a Kaldi text, each CTM line was an utterance: one word an utterance (FSDD's
        # digits) was scored with exit 0 as '1 0.00 0.30 zero 0.98' (a WER of 400 %); more words
        # were a 'duplicate key' error that did not say what the file is.
        raise AsrkitError(f"{path}: a CTM ({CTM_FORMAT} lines, as "
                          f"asrkit-decode --ctm and asrkit-align write), not a text: score the Kaldi text "
                          f"('<utt-id> <transcript>' lines) of the same run (asrkit-decode --output-dir DIR writes "
                          f"DIR/text)")
    kaldi = functools.partial(_kaldi_entries, raw, str(path))
    readings = [] if trn is None else [functools.partial(_table, path, TRN, lambda: trn)]
    return readings + [functools.partial(_table, path, KALDI, kaldi)]


def _is_ctm(raw: List[bytes]) -> bool:
    """Whether every line of ``raw`` but blank ones is a CTM line (a trn file's blank lines
    included, so its lines, not a table's), and there are two or more (one line is no evidence:
    :data:`asrkit.data.not_a_text.LEAST_LINES`)."""
    seen = 0
    for line in raw:
        try:
            fields = split_fields(line.decode("utf-8"))
        except UnicodeDecodeError:
            return False  # the Kaldi reader names the line
        if not fields:
            continue
        if not is_ctm_line(fields):
            return False
        seen += 1
    return seen >= LEAST_LINES


def _kaldi_entries(raw: List[bytes], name: str) -> List[Tuple[str, str, int]]:
    return [(x.key, x.value, x.lineno) for x in iter_table_lines(raw, name, allow_empty_value=True)]


def _table(path: PathLike, fmt: str, entries_of: Callable[[], List[Tuple[str, str, int]]]
           ) -> Tuple[Dict[str, str], str]:
    entries = entries_of()
    table: Dict[str, str] = {}
    first: Dict[str, int] = {}
    for utt, text, lineno in entries:
        if utt in table:
            raise AsrkitError(f"{path}:{lineno}: duplicate key {utt!r} (first on line {first[utt]})")
        if "\0" in text:
            # (table readers leave a NUL in a value to the value's reader) sclite's C strings end
            # there, so its numbers and ours differ, on a transcript that is damaged anyway
            raise AsrkitError(f"{path}:{lineno}: utterance {utt!r}: a NUL byte in its transcript, at character "
                              f"{text.index(chr(0))} (a binary or damaged file?)")
        alt = _ALTERNATION.search(text)
        if alt:
            raise AsrkitError(f"{path}:{lineno}: utterance {utt!r} holds {alt.group(0)!r}, sclite's alternation "
                              f"markup, which asrkit-score does not implement (it would score the group as "
                              f"{len(split_fields(alt.group(0)))} words where sclite scores one): write one of the "
                              f"alternatives, or score this file with sclite")
        # sclite reads a word '{x}' (an alternation of one) as x: TED-LIUM's {NOISE} {BREATH} tags
        text = _BRACED_WORD.sub(r"\1", text) if "{" in text else text
        if "{" in text or "}" in text:
            # sclite reads any braces as an alternation: '{noise}' is the word 'noise' (a hypothesis
            # 'noise' is correct), and a lone '{' loses words
            word = next(w for w in split_fields(text) if "{" in w or "}" in w)
            raise AsrkitError(f"{path}:{lineno}: utterance {utt!r} holds {word!r}: braces are sclite's alternation "
                              f"markup ('{{ a / b }}' is one word, either; '{{x}}' is x), which asrkit-score does not "
                              f"implement: remove them, or score this file with sclite")
        table[utt] = text
        first[utt] = lineno
    if fmt == KALDI:
        # a data dir's wav.scp for its text was scored with exit 0, each path one word
        refuse_other_file(path, table, "not a text: score the Kaldi text ('<utt-id> <transcript>' lines), such as "
                                       "data/test/text")
    return table, fmt


def _raw_lines(path: PathLike) -> List[bytes]:
    """The lines of ``path`` as bytes, opened and read as :func:`iter_table` does (its errors for
    a missing file, a directory, a closed or empty stdin, a line no reader takes); read once, so
    that stdin can be looked at for its format and then parsed."""
    with open_table(path) as f:
        lines = list(bounded_lines(f, str(path)))
    if not lines and names_stdin(path):
        raise AsrkitError(no_stdin_data(path))
    if lines:
        refuse_bom(lines[0], str(path))
        refuse_cr_only(lines[0], str(path))
    return lines


def _as_trn(raw: List[bytes], name: str) -> Optional[List[Tuple[str, str, int]]]:
    """``[(utt, transcript, lineno)]`` when ``raw`` are a trn file's lines, else None (a Kaldi
    text). Each line but blank ones and ``;;`` comments must end in a parenthesized id, and the
    ids must not all be one: a Kaldi text whose every line ends in the same ``(noise)`` is no trn
    file. (A trn file that lists one id twice still is one, and its duplicate is named as such.)
    A file of which nearly every line is a trn line, with ids that (nearly) all differ, is a trn
    file with a bad line, named: read as a Kaldi text, its first words were ids again. Parenthesized
    words that repeat are a Kaldi text's tags ('(noise)', '(laugh)'), not a trn file's ids."""
    out = []
    bad = []  # line numbers of the lines that are no trn line
    for lineno, line in enumerate(raw, 1):
        try:
            text = line.decode("utf-8").strip(SPACE)
        except UnicodeDecodeError:
            return None  # the Kaldi reader names the line
        if not text or text.startswith(";;"):
            continue  # sclite skips blank lines and comments in a trn file (a Kaldi text has neither)
        m = _TRN_LINE.fullmatch(text)
        if m is None:
            bad.append(lineno)
            if len(bad) > len(raw) // 20:
                return None
            continue
        out.append((m.group(2), " ".join(split_fields(m.group(1))), lineno))
    if not out or (len(out) > 1 and len({utt for utt, _, _ in out}) == 1):
        return None
    if bad:
        if len(out) < 10:
            return None  # too few lines to tell
        if len({utt for utt, _, _ in out}) < 0.9 * len(out):
            return None
        raise AsrkitError(f"{name}:{bad[0]}: no '(<utt-id>)' at the end of the line, where the other "
                          f"{len(out)} lines of this sclite trn file have one"
                          + (f" ({len(bad) - 1} more such line(s))" if len(bad) > 1 else ""))
    return out
