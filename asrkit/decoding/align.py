"""Forced alignment of given transcripts to audio: what asrkit-align calls once its options are parsed.

Each utterance's transcript is tokenized with the model's tokenizer and aligned to the CTC
posteriors of the model's CTC head (:func:`asrkit.decoding.ctc_align.ctc_forced_align`, the
same aligner and word rule that time ``asrkit-decode --ctm``), ``batch_size`` utterances at a
time, longest first; the words go out as Kaldi CTM lines (``<utt> 1 <start> <dur> <word>
<conf>``, in input order), written atomically::

    rec = Recognizer.from_files("exp/las/model.pt", DecodeConfig(batch_size=16))
    items, total = DecodeInputs(wav_scp="data/test/wav.scp").open(rec.features)
    summary = align_items(rec, items, total, read_table("data/test/text", allow_empty_value=True),
                          emit=lambda utt, words: ...)
    summary.bad.check()

A bad utterance (unreadable audio, no transcript, a transcript with more tokens than its audio
has CTC frames for, one of which the model knows no token -- every word ``<unk>``, as lower-case
text for an upper-case model --, non-finite features) is skipped, named and counted; the caller applies
Kaldi's 5 % rule. An empty transcript aligns to no words. Utterances are aligned whole (not
cut as asrkit-decode cuts long recordings): give long recordings with a ``segments`` file.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np

from asrkit.decoding import ctc_align
from asrkit.decoding.ctc_align import CONF_DECIMALS, TIME_DECIMALS, Word, align_cells, min_frames
from asrkit.decoding.inputs import Item
from asrkit.decoding.recognizer import Recognizer
from asrkit.text.tokenizer import case_that_knows, knows_some_token
from asrkit.text.tokenizer import words as words_of
from asrkit.utils.bad_items import MAX_FAILED_PERCENT, BadItems
from asrkit.utils.device import out_of_memory
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import progress

log = logging.getLogger("align")


@dataclass
class AlignSummary:
    bad: BadItems = field(default_factory=lambda: BadItems(log, "utterances"))
    audio_s: float = 0.0
    align_s: float = 0.0  # model time: CMVN'd features in, words out
    words: int = 0

    @property
    def rtf(self) -> float:
        return self.align_s / self.audio_s if self.audio_s else 0.0


class NothingKnown(AsrkitError):
    """A transcript none of whose tokens the model knows (every word became ``<unk>``): aligning it
    would time ``<unk>`` against whatever the audio holds, with confidence 0 and exit 0.
    ``case``: "upper" or "lower" when the transcript in that case would be known, else None."""

    def __init__(self, message: str, case: Optional[str]) -> None:
        super().__init__(message)
        self.case = case


def transcript_tokens(rec: Recognizer, utt: str, text: str, unknown) -> List[int]:
    """Token ids of ``text`` with the model's tokenizer (``unknown``: a text.tokenizer.UnknownTally);
    a model without one has word-level tokens, and a word outside its list is an AsrkitError.
    A transcript of which the model knows no token at all is :class:`NothingKnown`."""
    tok = rec.pkg.tokenizer
    if tok is not None:
        ids = unknown.encode(tok, utt, text)
        if tok.unk_id in ids and not knows_some_token(tok, rec.pkg.tokens, text, ids):
            case = case_that_knows(tok, rec.pkg.tokens, text)
            raise NothingKnown(f"utterance {utt!r}: the model knows no token of its transcript (every word became "
                               f"<unk>): nothing to align" + (f"; in {case} case it would be known" if case else ""),
                               case)
        return ids
    index = {t: i for i, t in enumerate(rec.pkg.tokens)}
    words = words_of(text)  # as the scorer splits (tokenizer.words)
    missing = [w for w in words if w not in index]
    if missing:
        message = f"utterance {utt!r}: word(s) {' '.join(missing[:5])} not in the model's token list"
        if len(missing) == len(words):
            raise NothingKnown(message, case_that_knows(rec.pkg.tokenizer, rec.pkg.tokens, text))
        raise AsrkitError(message)
    return [index[w] for w in words]


def nothing_known_message(source: str, n: int, cases: List[Optional[str]], texts: str = "transcripts",
                          verb: str = "align") -> str:
    """The one line for a run in which no transcript had a token the model knows, with its likely cause."""
    head = f"{source}: the model knows no token of any of the {n} {texts} (every word is unknown to it)"
    case = max(("upper", "lower"), key=cases.count) if any(cases) else None
    if case is None:
        return (head + ": the text and the model's tokens share no characters (a model of another language, "
                       "or a text in another script or encoding?)")
    other = "lower" if case == "upper" else "upper"
    return (head + f": the {texts} are {other} case and the model's tokens {case} case; {case}-case the words "
                   f"of the text (not the utterance ids) and {verb} again")


def ctm_lines(utt: str, words: List[Word]) -> List[str]:
    """Kaldi CTM: ``<utt> 1 <start> <dur> <word> <conf>``, seconds from the utterance's start (the
    word's times, kept to the millisecond: start + dur is its end; its confidence as it was made)."""
    t, c = TIME_DECIMALS, CONF_DECIMALS
    return [f"{utt} 1 {w.start:.{t}f} {max(0.0, w.end - w.start):.{t}f} {w.word} {w.confidence:.{c}f}" for w in words]


def align_items(rec: Recognizer, items: Iterable[Item], total: Optional[int], transcripts: Dict[str, str],
                emit: Callable[[str, List[Word]], None], chunk: int = 0,
                max_bad_percent: float = MAX_FAILED_PERCENT, source: str = "the text file",
                items_source: Optional[str] = None) -> AlignSummary:
    """Align every item to its transcript, calling ``emit(utt, words)`` in input order.

    A transcript of which the model knows no token is a bad item; when that is every transcript
    read (``source`` names their file), an AsrkitError says so and why, in one line.
    ``items_source`` (:attr:`DecodeInputs.source`) is named when the items were none."""
    from asrkit.text.tokenizer import UnknownTally

    s = AlignSummary(bad=BadItems(log, "utterances", max_percent=max_bad_percent, source=items_source))
    unknown = UnknownTally()
    chunk = chunk or rec.config.batch_size * 8
    pending: List[Tuple[str, np.ndarray, List[int], Tuple[int, int]]] = []  # (utt, feats, tokens, pad)
    r = rec.time_reduction

    def flush():
        if not pending:
            return
        start = time.perf_counter()
        order = sorted(range(len(pending)), key=lambda i: -pending[i][1].shape[0])
        enc = [-(-feats.shape[0] // r) for _, feats, _, _ in pending]
        got: List[Optional[List[Word]]] = [None] * len(pending)
        # Up to batch_size utterances, fewer where their table would pass MAX_ALIGN_CELLS: 16
        # utterances of 20 min each were 16 times one's memory.
        batches: List[List[int]] = []
        for i in order:
            last = batches[-1] if batches else []
            if 0 < len(last) < rec.config.batch_size and align_cells(
                    max(enc[j] for j in last + [i]), max(len(pending[j][2]) for j in last + [i]),
                    len(last) + 1) <= ctc_align.MAX_ALIGN_CELLS:
                last.append(i)
            else:
                batches.append([i])
        for idx in batches:
            try:
                aligned = rec.align([pending[i][:3] for i in idx])
            except (MemoryError, RuntimeError) as e:
                if not out_of_memory(e):
                    raise
                names = " ".join(pending[i][0] for i in idx[:3]) + (" ..." if len(idx) > 3 else "")
                how = (f"lower the batch size (now {rec.config.batch_size}), or cut long recordings" if len(idx) > 1
                       else "cut the recording")
                raise AsrkitError(f"out of memory aligning {len(idx)} utterance(s) ({names}) on {rec.device}: "
                                  f"{how} into utterances (--segments)") from None
            for i, words in zip(idx, aligned):
                got[i] = words
        s.align_s += time.perf_counter() - start
        for (utt, feats, tokens, (lead, trail)), words in zip(pending, got):
            frames = feats.shape[0] - lead - trail
            if words is None:
                s.bad.skip(utt, f"utterance {utt!r}: its transcript ({len(tokens)} tokens) does not fit "
                                f"its audio ({frames} frames) under CTC")
                continue
            words = rec.unpadded_words(words, lead, frames)
            # The transcript's own words, not the tokenizer's rendering of them: a character the
            # tokenizer does not know comes back from its pieces as "⁇" (sentencepiece's <unk>).
            # Split as the tokenizer splits (words()): str.split() also cut at U+001C..U+001F and
            # U+0085, so "RUBOUT\x1fG" was two words here and one there, the counts differed,
            # and the CTM got the tokenizer's "RUBOUT⁇G".
            ref = words_of(transcripts[utt])
            if len(ref) == len(words):
                words = [dataclasses.replace(w, word=r) for w, r in zip(words, ref)]
            s.bad.ok()
            s.audio_s += frames * rec.frame_shift_s
            s.words += len(words)
            emit(utt, words)
        pending.clear()

    seen = set()
    tokenized = 0  # transcripts that reached the tokenizer (audio read, transcript given)
    nothing_known: List[Optional[str]] = []  # the NothingKnown ones: the case each would be known in
    for utt, feats, err in progress(items, total=total, desc="align", unit="utt"):
        seen.add(utt)
        if err is None:
            try:
                if utt not in transcripts:
                    # (the file named: "no transcript in the text file" left a user with a text per
                    # set to guess which one was given)
                    raise AsrkitError(f"utterance {utt!r}: no transcript in {source}")
                tokenized += 1
                try:
                    tokens = transcript_tokens(rec, utt, transcripts[utt], unknown)
                except NothingKnown as e:
                    nothing_known.append(e.case)
                    raise
                # As asrkit-decode decodes it whole: the same edge pad, so the same times.
                prepared = rec.prepare_whole(utt, feats)
                feats = prepared.feats
                # Decided here, before the batch: a transcript CTC cannot fit names itself. Counted
                # on the audio's own frames, not the edge pad's: a 0.1 s segment given a 7-word
                # transcript fitted only thanks to the 0.4 s of added quiet, and its words came out
                # stacked at the edge a frame each (confidence 0.000), with exit 0.
                enc_frames = -(-feats.shape[0] // r)
                own = feats.shape[0] - sum(prepared.pad)
                if min_frames(tokens) > -(-own // r):
                    raise AsrkitError(f"utterance {utt!r}: its transcript needs {min_frames(tokens)} CTC frames, "
                                      f"its audio has {-(-own // r)} ({own} feature frames)")
                cells = align_cells(enc_frames, len(tokens))
                if cells > ctc_align.MAX_ALIGN_CELLS:
                    # An allocation of that size was a RuntimeError traceback ("DefaultCPUAllocator:
                    # can't allocate memory") where memory was short, after the audio's encoding.
                    raise AsrkitError(
                        f"utterance {utt!r}: aligning its {len(tokens)} tokens to its {enc_frames} CTC frames "
                        f"takes {cells:.3g} cells, over the {ctc_align.MAX_ALIGN_CELLS:.3g} asrkit-align holds "
                        f"(a byte each); cut the recording into utterances (--segments; asrkit-decode "
                        f"--segments-out writes one at its pauses)")
            except AsrkitError as e:
                err = e
        if err is not None:
            s.bad.skip(utt, err)
            continue
        pending.append((utt, feats, tokens, prepared.pad))
        if len(pending) >= chunk:
            flush()
    flush()
    if nothing_known and len(nothing_known) == tokenized and s.bad.done == 0:
        # Not "all N utterances failed (first: ...)": one cause, said once (lower-case text for an
        # upper-case model aligned every word as <unk> with confidence 0, and exit 0).
        raise AsrkitError(nothing_known_message(source, tokenized, nothing_known))
    unknown.warn(log, "transcripts")
    # A transcript whose utterance the audio list lacks is not aligned: said, not dropped in
    # silence ("Done 6 out of 6" for a text of 8). Not a failure: a text file often covers more
    # than one piece of a split wav.scp.
    orphans = [u for u in transcripts if u not in seen]
    if orphans:
        log.warning("%d transcript(s) have no audio among the %d utterances given, and are not aligned: %s%s",
                    len(orphans), len(seen), " ".join(orphans[:5]), " ..." if len(orphans) > 5 else "")
    return s
