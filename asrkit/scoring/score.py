"""Score a hypothesis ``text`` against a reference ``text``: per utterance, per speaker, in total.

The numbers are sclite's (``sclite -i rm -o sum`` for words, with ``-c`` for characters): the
alignment of :mod:`asrkit.scoring.alignment`, Corr/Sub/Del/Ins/Err as percentages of the reference
tokens, S.Err as the percentage of utterances with any error, and the speaker table's Mean, S.D.
and Median rows computed the way sclite computes them (speakers without reference tokens are left
out of the token percentages; S.D. is the sample standard deviation).
"""
from __future__ import annotations

import math
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from asrkit.scoring.alignment import AlignedPair, ErrorCounts, align, error_counts, fold_case
from asrkit.scoring.tokens import LEVELS, tokenize
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import progress

# The largest alignment of one utterance (reference x hypothesis tokens): two bits each, so 512 MB,
# and about half a minute (45,000 x 45,000 words: 32 s, 530 MB). An hour-long recording scored as
# one utterance is ~9,000 words and ~45,000 characters: 2.0e9.
MAX_ALIGN_CELLS = 2 ** 31


def sclite_speaker(utt_id: str, previous: str = "", case_sensitive: bool = True) -> str:
    """The speaker sclite's ``-i rm`` id convention gives ``(spk-utt)``: the text before the first
    '-'; in an id without one, before the first '_' (yesno's 0_1_0_0, CHiME's F01_22GC010A_BUS);
    in an id with neither (WSJ's 011c0201), ``previous``, the speaker of the utterance before it
    (sclite keeps the last one parsed), '' for the first. Without -s sclite folds ASCII case:
    'A-1' and 'a-2' are one speaker 'a'. Each utterance was its own speaker here when its id had
    no '-', and 'A' and 'a' two: a speaker table and its Mean/S.D./Median unlike sclite's."""
    spk = id_speaker(utt_id)
    if spk is None:
        return previous
    return spk if case_sensitive else fold_case(spk)


def id_speaker(utt_id: str) -> Optional[str]:
    """The speaker part of ``utt_id`` as sclite -i rm takes it (:func:`sclite_speaker`), None for
    an id with neither '-' nor '_'."""
    for sep in "-_":
        if sep in utt_id:
            return utt_id.split(sep, 1)[0]
    return None


@dataclass
class UttScore:
    utt: str
    spk: str
    alignment: List[AlignedPair]
    counts: ErrorCounts

    @property
    def has_error(self) -> bool:
        return self.counts.errors > 0


def sclite_pct(num: float, den: float) -> float:
    """sclite's ``pct()``: ``num / den * 100`` in double precision, 0 for an empty denominator.

    The order of operations matters for the rounding of exact halves (567/1200 -> 47.25 -> 47.3).
    """
    if den == 0:
        return 0.0
    return float(num) / float(den) * 100.0


def sclite_round(value: float, digits: int = 1) -> float:
    """sclite's ``F_ROUND``: half away from zero (so 56.25 prints as 56.3, where printf alone gives 56.2)."""
    import numpy as np

    scale = 10.0 ** digits
    return float(np.float32(int(value * scale + (0.5 if value > 0.0 else -0.5)))) / scale


@dataclass
class SpeakerScore:
    """One row of sclite's speaker table."""

    spk: str
    num_sent: int = 0
    sent_err: int = 0
    counts: ErrorCounts = field(default_factory=ErrorCounts)

    @property
    def num_ref(self) -> int:
        return self.counts.ref_len

    def percents(self) -> Dict[str, float]:
        """Corr, Sub, Del, Ins, Err in percent of the reference tokens, S.Err of the sentences.

        As in sclite, a speaker without reference tokens gets the raw counts instead.
        """
        c, n = self.counts, self.counts.ref_len
        values = {"Corr": c.corr, "Sub": c.sub, "Del": c.dels, "Ins": c.ins, "Err": c.errors}
        out = {k: (sclite_pct(v, n) if n else float(v)) for k, v in values.items()}
        out["S.Err"] = sclite_pct(self.sent_err, self.num_sent)
        return out


PERCENT_COLUMNS = ("Corr", "Sub", "Del", "Ins", "Err")


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def _sd(xs: Sequence[float]) -> float:
    if not xs:
        return 0.0
    m = _mean(xs)
    ss = sum((x - m) * (x - m) for x in xs)
    return math.sqrt(ss / (len(xs) - 1)) if ss != 0.0 else 0.0


def _median(xs: Sequence[float]) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2.0


@dataclass
class LevelScore:
    """Everything scored at one level ("word" for WER, "char" for CER)."""

    level: str
    utts: List[UttScore]
    case_sensitive: bool = False

    @property
    def totals(self) -> ErrorCounts:
        total = ErrorCounts()
        for u in self.utts:
            total = total + u.counts
        return total

    @property
    def error_rate(self) -> float:
        return self.totals.error_rate

    @property
    def num_sent(self) -> int:
        return len(self.utts)

    @property
    def sent_err(self) -> int:
        return sum(u.has_error for u in self.utts)

    def speakers(self) -> List[SpeakerScore]:
        """Speaker rows in the order speakers first appear in the reference.

        sclite lists them in order of first appearance in its hypothesis file; for Kaldi texts,
        which are sorted by utterance id, the two orders are the same.
        """
        rows: Dict[str, SpeakerScore] = {}
        for u in self.utts:
            row = rows.setdefault(u.spk, SpeakerScore(u.spk))
            row.num_sent += 1
            row.sent_err += u.has_error
            row.counts = row.counts + u.counts
        return list(rows.values())

    def overall(self) -> SpeakerScore:
        """The Sum/Avg row."""
        return SpeakerScore("Sum/Avg", self.num_sent, self.sent_err, self.totals)

    def has_speaker_without_ref(self) -> bool:
        return any(s.num_ref == 0 for s in self.speakers())

    def speaker_stats(self) -> Dict[str, Dict[str, float]]:
        """sclite's Mean, S.D. and Median rows over the speakers (SCTK's ``print_system_summary``).

        Returns ``{"Mean": {...}, "S.D.": {...}, "Median": {...}}`` with keys "# Snt", "# Wrd",
        the percent columns and "S.Err", unrounded. S.D. is the sample standard deviation.
        Speakers without reference tokens are meant to be left out of the token percentages;
        sclite removes them with a loop that tests the original speaker index against arrays it
        has already shifted, so with several such speakers it can drop a different one. That
        is reproduced here, because these rows are compared number for number with sclite's.
        """
        spks = self.speakers()
        rows = [s.percents() for s in spks]
        columns: Dict[str, List[float]] = {col: [r[col] for r in rows] for col in PERCENT_COLUMNS}
        zero = [i for i, s in enumerate(spks) if s.num_ref == 0]
        if zero:
            # sclite deletes the value at each such speaker's index i, shifting the rest left and
            # appending -1000, then keeps the first len - zero values. The j-th deletion (from 0)
            # so takes the value first at i + j, or one of the -1000s once that passes the end.
            # Done as deletions in the list, it was quadratic: 11 s for 200,000 one-utterance
            # speakers of which a fifth had empty references (ids without '-', silence segments).
            n = len(spks)
            gone = {i + j for j, i in enumerate(zero) if i + j < n}
            columns = {col: ([v for k, v in enumerate(values) if k not in gone]
                             + [-1000.0] * len(zero))[: n - len(zero)] for col, values in columns.items()}
        columns["# Snt"] = [float(s.num_sent) for s in spks]
        columns["# Wrd"] = [float(s.num_ref) for s in spks]
        columns["S.Err"] = [r["S.Err"] for r in rows]
        return {
            name: {col: fn(values) for col, values in columns.items()}
            for name, fn in (("Mean", _mean), ("S.D.", _sd), ("Median", _median))
        }

    def _key(self, token: str) -> str:
        return token if self.case_sensitive else fold_case(token)

    def confusions(self) -> Counter:
        """Counts of (ref, hyp) substitution pairs."""
        return Counter(
            (self._key(p.ref), self._key(p.hyp)) for u in self.utts for p in u.alignment if p.op == "S"
        )

    def insertions(self) -> Counter:
        return Counter(self._key(p.hyp) for u in self.utts for p in u.alignment if p.op == "I")

    def deletions(self) -> Counter:
        return Counter(self._key(p.ref) for u in self.utts for p in u.alignment if p.op == "D")


@dataclass
class ScoreResult:
    """What :func:`score_texts` returns: one :class:`LevelScore` per level asked for."""

    levels: Dict[str, LevelScore]
    missing: List[str]  # reference utterances without a hypothesis: scored as all deletions
    extra: List[str]  # hypothesis utterances without a reference: ignored
    # (utt, ref word, hyp word): one word spelt in two Unicode forms (see unicode_form_clashes)
    form_clashes: List[Tuple[str, str, str]] = field(default_factory=list)
    # (utt, "reference" or "hypothesis", word): a word holding a non-ASCII space (see inner_spaces)
    inner_spaces: List[Tuple[str, str, str]] = field(default_factory=list)

    @property
    def word(self) -> Optional[LevelScore]:
        return self.levels.get("word")

    @property
    def char(self) -> Optional[LevelScore]:
        return self.levels.get("char")

    @property
    def wer(self) -> float:
        """Word error rate in percent (needs the "word" level)."""
        if self.word is None:
            raise ValueError("WER was not scored (levels did not include 'word')")
        return self.word.error_rate

    @property
    def cer(self) -> float:
        """Character error rate in percent, sclite ``-c`` style (needs the "char" level)."""
        if self.char is None:
            raise ValueError("CER was not scored (levels did not include 'char')")
        return self.char.error_rate


def score_texts(
    ref: Mapping[str, str],
    hyp: Mapping[str, str],
    utt2spk: Optional[Mapping[str, str]] = None,
    levels: Sequence[str] = LEVELS,
    case_sensitive: bool = False,
    show_progress: bool = False,
) -> ScoreResult:
    """Score ``hyp`` (utt-id -> transcript) against ``ref`` at each of ``levels``.

    Every reference utterance is scored; one missing from ``hyp`` counts as all deletions and is
    listed in ``missing``. Speakers come from ``utt2spk`` when given (every reference utterance
    must be in it), else from the utterance id the sclite way (:func:`sclite_speaker`).
    ``show_progress`` shows a progress bar (commands set it; library callers such as the
    trainer's validation leave it off).

    >>> r = score_texts({"s1-a": "the cat sat"}, {"s1-a": "the cat sit"})
    >>> round(r.wer, 2), round(r.cer, 2)
    (33.33, 11.11)
    """
    for level in levels:
        if level not in LEVELS:
            raise ValueError(f"unknown scoring level {level!r} (expected one of {LEVELS})")
    if utt2spk is not None:
        for utt in ref:
            if utt not in utt2spk:
                raise AsrkitError(f"utterance {utt!r} of the reference is not in utt2spk")
    missing = [utt for utt in ref if utt not in hyp]
    extra = [utt for utt in hyp if utt not in ref]
    result: Dict[str, LevelScore] = {}
    for level in levels:
        utts: List[UttScore] = []
        shared: Dict[AlignedPair, AlignedPair] = {}
        spk = ""
        for utt, ref_text in progress(ref.items(), total=len(ref), desc=f"scoring {level}s", unit="utt",
                                      disable=not show_progress):
            spk = utt2spk[utt] if utt2spk is not None else sclite_speaker(utt, spk, case_sensitive)
            ref_tokens, hyp_tokens = tokenize(ref_text, level), tokenize(hyp.get(utt, ""), level)
            cells = len(ref_tokens) * len(hyp_tokens)
            if cells > MAX_ALIGN_CELLS:
                # The alignment keeps two bits per (ref, hyp) token pair: two 10 MB lines (5M words
                # each) would need a 6 TB table (they ran for days towards it, a Python step a cell).
                raise AsrkitError(
                    f"utterance {utt!r}: {len(ref_tokens)} reference x {len(hyp_tokens)} hypothesis "
                    f"{'words' if level == 'word' else 'characters'} is {cells:.3g} alignment cells, over the "
                    f"{MAX_ALIGN_CELLS:.3g} asrkit-score aligns (512 MB, about half a minute); cut such a transcript into "
                    f"utterances (Kaldi segments)")
            ali = align(ref_tokens, hyp_tokens, case_sensitive, shared)
            utts.append(UttScore(utt, spk, ali, error_counts(ali)))
        result[level] = LevelScore(level, utts, case_sensitive)
    return ScoreResult(result, missing, extra, unicode_form_clashes(ref, hyp, case_sensitive),
                       inner_spaces(ref, hyp))


def id_case_clashes(missing: Sequence[str], extra: Sequence[str]) -> List[Tuple[str, str]]:
    """``(reference id, hypothesis id)`` for each reference utterance without a hypothesis that
    has one under an id differing only in case ('A-1' and 'a-1')."""
    by_key = {utt.casefold(): utt for utt in extra}
    return [(utt, by_key[utt.casefold()]) for utt in missing if utt.casefold() in by_key]


def inner_spaces(ref: Mapping[str, str], hyp: Mapping[str, str]) -> List[Tuple[str, str, str]]:
    """``(utt, "reference" or "hypothesis", word)`` for each word that holds a white space other
    than ASCII's (U+00A0 no-break space, U+3000 ideographic space, U+2028, U+0085...). sclite
    and Kaldi split words at ASCII white space only, and so does asrkit-score, so such a word is
    one word; but asrkit's tokenizer (like Python's str.split and ESPnet's word tokenizer) breaks
    words there, so a model never writes one back: a reference '日本\u3000語' scored every
    hypothesis wrong with no hint why. Only non-ASCII texts are looked at."""
    found: List[Tuple[str, str, str]] = []
    for side, table in (("reference", ref), ("hypothesis", hyp)):
        for utt, text in table.items():
            if text.isascii() or not any(c.isspace() for c in text if not c.isascii()):
                continue
            found += [(utt, side, w) for w in tokenize(text, "word") if any(c.isspace() for c in w)]
    return found


def unicode_form_clashes(ref: Mapping[str, str], hyp: Mapping[str, str],
                         case_sensitive: bool = False) -> List[Tuple[str, str, str]]:
    """``(utt, ref word, hyp word)`` for each hypothesis word that is not among its reference's
    words as written but is once both are in Unicode's NFC form: 'café' as e + U+0301 against
    é (U+00E9). sclite and Kaldi compare code points, and so does asrkit-score, so such a word is
    an error (and one more character for CER); a hypothesis from a tokenizer trained on the other
    form scored every accented word wrong with no hint why. Only non-ASCII texts are looked at."""
    clashes: List[Tuple[str, str, str]] = []
    key = (lambda w: w) if case_sensitive else fold_case
    for utt, hyp_text in hyp.items():
        ref_text = ref.get(utt)
        if ref_text is None or (ref_text.isascii() and hyp_text.isascii()):
            continue
        words = tokenize(ref_text, "word")
        ref_words = {key(w) for w in words}
        by_form = {unicodedata.normalize("NFC", key(w)): w for w in words}
        for word in tokenize(hyp_text, "word"):
            if key(word) in ref_words:
                continue
            same = by_form.get(unicodedata.normalize("NFC", key(word)))
            if same is not None:
                clashes.append((utt, same, word))
    return clashes


def top(counter: Counter, n: int) -> List[Tuple[object, int]]:
    """The ``n`` most frequent entries, ties broken by the entry itself so reports are stable."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
