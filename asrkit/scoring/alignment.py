"""Edit-distance alignment of a reference and a hypothesis token sequence, exactly as sclite does it.

sclite (SCTK ``src/sclite/net_dp.c`` with the word distance of ``word.c``) minimises a weighted
edit distance: correct 0, substitution 4, insertion 3, deletion 3. Many alignments share the
minimum, and which one is reported decides the Sub/Del/Ins split, so the tie-breaking is copied
too: each cell prefers the diagonal (correct or substitution) when it is no worse than both
others, then a deletion when it is strictly better than the insertion, else the insertion. The
path is traced back from the last cell. With these weights the total cost is not the Levenshtein
distance (a substitution costs more than one insertion), so the counts can differ from Kaldi's
``compute-wer`` on some sentences: that is sclite's behaviour and the one reproduced here.

Comparison is case-insensitive by default, like sclite without ``-s``: only ASCII letters are
folded, as sclite's default 8-bit (non-UTF-8) mode does.
"""
from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence

CORRECT, SUBSTITUTION, DELETION, INSERTION = "C", "S", "D", "I"

# sclite's word-to-word distances (wwd_WORD in SCTK's word.c).
SUB_COST = 4
INS_COST = 3
DEL_COST = 3

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold_case(token: str) -> str:
    """Lower-case ASCII letters only, the way sclite compares words without ``-s``."""
    return token.translate(_ASCII_LOWER)


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def upper_case(token: str) -> str:
    """Upper-case ASCII letters only, as sclite shows an error's words in its alignments."""
    return token.translate(_ASCII_UPPER)


class AlignedPair(NamedTuple):
    """One column of an alignment: ``op`` is C, S, D or I; ``ref``/``hyp`` is None where absent."""

    op: str
    ref: Optional[str]
    hyp: Optional[str]


@dataclass
class ErrorCounts:
    """Correct, substituted, deleted and inserted token counts (sclite's #C #S #D #I)."""

    corr: int = 0
    sub: int = 0
    dels: int = 0
    ins: int = 0

    @property
    def ref_len(self) -> int:
        return self.corr + self.sub + self.dels

    @property
    def hyp_len(self) -> int:
        return self.corr + self.sub + self.ins

    @property
    def errors(self) -> int:
        return self.sub + self.dels + self.ins

    @property
    def error_rate(self) -> float:
        """Errors per reference token in percent (WER or CER).

        With no reference token it is undefined: 0 when there is no error either, and
        ``inf`` when there are insertions (as Kaldi's compute-wer prints it; sclite's detailed
        report says "UNDEF%"), never a misleading 0 %.
        """
        if self.ref_len == 0:
            return math.inf if self.errors else 0.0
        return percent(self.errors, self.ref_len)

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        return ErrorCounts(self.corr + other.corr, self.sub + other.sub, self.dels + other.dels, self.ins + other.ins)


def percent(num: float, den: float) -> float:
    """sclite's percentage: 0 for an empty denominator rather than a division error."""
    return 100.0 * num / den if den else 0.0


def align(ref_tokens: Sequence[str], hyp_tokens: Sequence[str], case_sensitive: bool = False,
          shared: Optional[Dict[AlignedPair, AlignedPair]] = None) -> List[AlignedPair]:
    """Align two token sequences with sclite's weights and tie-breaking.

    >>> [p.op for p in align("the cat sat on the mat".split(), "the cat sat at mat mat".split())]
    ['C', 'C', 'C', 'S', 'S', 'C']
    >>> [p.op for p in align(["a", "b"], ["b", "a"])]
    ['D', 'C', 'I']

    The tokens in the result are the ones given (not case-folded). ``shared``: the columns met so
    far (pass one dict for all utterances of a scoring), so that a repeated column is one object.
    """
    if case_sensitive:
        ref_keys: Sequence[str] = ref_tokens
        hyp_keys: Sequence[str] = hyp_tokens
    else:
        ref_keys = [fold_case(t) for t in ref_tokens]
        hyp_keys = [fold_case(t) for t in hyp_tokens]
    n, m = len(ref_keys), len(hyp_keys)
    if n * m >= _VECTOR_CELLS:
        return _trace(_ops_vectorized(ref_keys, hyp_keys), ref_tokens, hyp_tokens, ref_keys, hyp_keys, shared)

    # ops[i][j] is the last edit on the best path to cell (i, j): i ref tokens against j hyp tokens.
    # "S" stands for the diagonal (correct or substitution, told apart on the way back).
    ops: List[bytearray] = [bytearray(b"I" * (m + 1))]
    prev = [INS_COST * j for j in range(m + 1)]
    for i in range(1, n + 1):
        r = ref_keys[i - 1]
        left = prev[0] + DEL_COST
        cur = [left]
        row = bytearray(b"D")
        for diag, up, h in zip(prev, prev[1:], hyp_keys):
            if r != h:
                diag += SUB_COST
            up += DEL_COST
            left += INS_COST
            if diag <= up and diag <= left:
                left = diag
                row.append(83)  # S
            elif up < left:
                left = up
                row.append(68)  # D
            else:
                row.append(73)  # I
            cur.append(left)
        ops.append(row)
        prev = cur
    return _trace(ops, ref_tokens, hyp_tokens, ref_keys, hyp_keys, shared)


# From this many cells on, a row of the table is computed by numpy (a few ns a cell) rather than a
# Python step per cell (~0.4 us): a 10 MB hypothesis line against a short reference took half a
# minute and most of a GB of Python integers.
_VECTOR_CELLS = 4096


def _ops_vectorized(ref_keys: Sequence[str], hyp_keys: Sequence[str]):
    """The ``ops`` table of :func:`align`, packed two bits a cell, computed a row at a time: the
    same values and the same choice per cell as the loop in :func:`align`.

    A cell's value is min(diag, up, left) whichever way the tie is broken, and left is the cell
    before it plus an insertion, so along a row ``cur[j] = min over k <= j of (A[k] + INS*(j-k))``
    with ``A`` = min(diag, up): a running minimum of ``A - INS*k``. With the values known, each
    cell's choice (diagonal if no worse than both, else deletion if strictly better than the
    insertion, else the insertion) is a comparison of arrays."""
    import numpy as np

    n, m = len(ref_keys), len(hyp_keys)
    vocab: dict = {}
    hyp_ids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in hyp_keys), dtype=np.int64, count=m)
    ref_ids = [vocab.get(t, -1) for t in ref_keys]
    # Two bits a cell, four cells a byte: the table is what grows with n x m (512 MB at MAX_ALIGN_CELLS).
    width = (m + 4) // 4
    packed = np.empty((n + 1, width), dtype=np.uint8)
    codes = np.zeros(4 * width, dtype=np.uint8)

    def pack(i: int) -> None:
        packed[i] = codes[0::4] | (codes[1::4] << 2) | (codes[2::4] << 4) | (codes[3::4] << 6)

    codes[:m + 1] = _CODE_I
    pack(0)
    ins_ramp = INS_COST * np.arange(m + 1, dtype=np.int64)
    prev = ins_ramp.copy()
    best = np.empty(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        diag = prev[:-1] + np.where(hyp_ids != ref_ids[i - 1], SUB_COST, 0)
        up = prev[1:] + DEL_COST
        best[0] = prev[0] + DEL_COST
        np.minimum(diag, up, out=best[1:])
        best -= ins_ramp
        cur = np.minimum.accumulate(best) + ins_ramp
        left = cur[:-1] + INS_COST
        row = codes[1:m + 1]
        row[:] = _CODE_I
        row[up < left] = _CODE_D
        row[(diag <= up) & (diag <= left)] = _CODE_S
        codes[0] = _CODE_D
        pack(i)
        prev = cur
    return _PackedOps(packed)


_CODE_S, _CODE_D, _CODE_I = 1, 2, 3
_CODE_OP = (0, 83, 68, 73)  # a two-bit code -> the op byte of the plain table (S, D, I)


class _PackedOps:
    """:func:`_ops_vectorized`'s table, read a cell at a time as the plain one (``at(i, j)``)."""

    def __init__(self, packed) -> None:
        self.packed = packed

    def at(self, i: int, j: int) -> int:
        return _CODE_OP[(self.packed.item(i, j >> 2) >> ((j & 3) << 1)) & 3]


def _trace(ops, ref_tokens: Sequence[str], hyp_tokens: Sequence[str], ref_keys: Sequence[str],
           hyp_keys: Sequence[str], shared: Optional[Dict[AlignedPair, AlignedPair]] = None) -> List[AlignedPair]:
    """The path through ``ops`` back from the last cell, as aligned pairs in order."""
    n, m = len(ref_keys), len(hyp_keys)
    path: List[AlignedPair] = []
    i, j = n, m
    at = ops.at if isinstance(ops, _PackedOps) else (lambda i, j: ops[i][j])
    # One object per distinct column, up to a bound: the 3.75M columns of a looping 5 MB
    # hypothesis line (characters) were 240 MB of identical pairs; a few dozen differ. Shared
    # over a whole scoring, a million utterances' columns are a few thousand objects, not 1.2 GB.
    if shared is None:
        shared = {}
    while i > 0 or j > 0:
        op = at(i, j)
        if op == 83:
            i, j = i - 1, j - 1
            same = ref_keys[i] == hyp_keys[j]
            pair = AlignedPair(CORRECT if same else SUBSTITUTION, ref_tokens[i], hyp_tokens[j])
        elif op == 68:  # "D"
            i -= 1
            pair = AlignedPair(DELETION, ref_tokens[i], None)
        else:
            j -= 1
            pair = AlignedPair(INSERTION, None, hyp_tokens[j])
        first = shared.get(pair)
        if first is None:
            if len(shared) < _SHARED_PAIRS:
                shared[pair] = pair
            first = pair
        path.append(first)
    path.reverse()
    return path


_SHARED_PAIRS = 1 << 16  # distinct columns kept for sharing (a few MB at most)


def error_counts(alignment: Iterable[AlignedPair]) -> ErrorCounts:
    """Count the C/S/D/I columns of an alignment from :func:`align`.

    >>> error_counts(align("a b c".split(), "a x c d".split()))
    ErrorCounts(corr=2, sub=1, dels=0, ins=1)
    """
    counts = ErrorCounts()
    for pair in alignment:
        if pair.op == CORRECT:
            counts.corr += 1
        elif pair.op == SUBSTITUTION:
            counts.sub += 1
        elif pair.op == DELETION:
            counts.dels += 1
        else:
            counts.ins += 1
    return counts
