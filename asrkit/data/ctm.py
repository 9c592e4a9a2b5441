"""Reading Kaldi/NIST CTM files: ``<utt> <channel> <start> <duration> <word> [<confidence>]``.

asrkit writes CTMs (asrkit-decode --ctm, asrkit-align; ``asrkit.decoding.align.ctm_lines``);
recipes and benchmarks that use word times read them back with :func:`read_ctm`, one strict
reader: a malformed line is an error naming file and line, never a word dropped in silence.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List

from asrkit.data.datadir import kaldi_real
from asrkit.data.table import BOM, mid_file_bom_problem, read_line_blocks, refuse_bom, split_fields
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike

_FORMAT = "'<utt> <channel> <start> <duration> <word> [<confidence>]'"


@dataclass(frozen=True, order=True)  # ordered by time: start, then end
class CtmWord:
    start: float  # seconds from the utterance's (or recording's) start
    end: float
    word: str
    confidence: float = 1.0  # a CTM without the sixth field: fully confident


def read_ctm(path: PathLike) -> Dict[str, List[CtmWord]]:
    """``{utt: [words in file order]}``. Blank lines and NIST's ``;;`` comments are skipped;
    anything else that is not six (or five) fields with finite, non-negative times, or a
    confidence outside [0, 1], is an error naming ``path:line``. Lines end at LF, CRLF or CR."""
    words: Dict[str, List[CtmWord]] = defaultdict(list)
    name = str(path)
    n = 0
    try:
        with open(path, "rb") as f:
            # In blocks of whole lines, bounded: a file without line breaks (/dev/zero, a damaged
            # file) was read whole in search of its first line.
            for _, block in read_line_blocks(f, name):
                for raw in block.splitlines():
                    n += 1
                    if n == 1:
                        # A Windows editor's BOM was part of the first utterance id: its first word
                        # went to an utterance '\ufeffu1' of its own, the rest to 'u1', with no error.
                        refuse_bom(raw, name)
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        # (was the offset in the decoder's chunk, with no line: "byte 39")
                        raise AsrkitError(f"{path}:{n}: not UTF-8 text ({e.reason} at byte {e.start} of the line); "
                                          f"is it a CTM?") from None
                    if line.startswith(BOM):  # (CTMs each saved with one, joined with cat: the same)
                        raise AsrkitError(f"{path}:{n}: {mid_file_bom_problem(name)}")
                    fields = split_fields(line)
                    if not fields or fields[0].startswith(";;"):
                        continue
                    words[fields[0]].append(_parse(fields, f"{path}:{n}", line))
    except OSError as e:
        raise AsrkitError(f"{path}: cannot read ({e.strerror or e})") from None
    return dict(words)


def _parse(fields: List[str], where: str, line: str) -> CtmWord:
    if len(fields) not in (5, 6):
        raise AsrkitError(f"{where}: expected {_FORMAT}, got {len(fields)} fields: {line.strip()!r}")
    start, dur = kaldi_real(fields[2]), kaldi_real(fields[3])
    conf = kaldi_real(fields[5]) if len(fields) == 6 else 1.0
    if start is None or dur is None or conf is None:
        raise AsrkitError(f"{where}: expected {_FORMAT} with numbers for the times, got {line.strip()!r}")
    if not (math.isfinite(start) and math.isfinite(dur)) or start < 0 or dur < 0:
        raise AsrkitError(f"{where}: start and duration must be finite and >= 0, got {line.strip()!r}")
    if not 0.0 <= conf <= 1.0:  # also NaN
        raise AsrkitError(f"{where}: confidence must be in [0, 1], got {line.strip()!r}")
    return CtmWord(start, start + dur, fields[4], conf)
