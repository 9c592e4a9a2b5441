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
has CTC frames for, non-finite features) is skipped, named and counted; the caller applies
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

from asrkit.decoding.ctc_align import Word, min_frames
from asrkit.decoding.inputs import Item
from asrkit.decoding.recognizer import Recognizer
from asrkit.utils.bad_items import MAX_FAILED_PERCENT, BadItems
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


def transcript_tokens(rec: Recognizer, utt: str, text: str, unknown) -> List[int]:
    """Token ids of ``text`` with the model's tokenizer (``unknown``: a text.tokenizer.UnknownTally);
    a model without one has word-level tokens, and a word outside its list is an AsrkitError."""
    tok = rec.pkg.tokenizer
    if tok is not None:
        return unknown.encode(tok, utt, text)
    index = {t: i for i, t in enumerate(rec.pkg.tokens)}
    missing = [w for w in text.split() if w not in index]
    if missing:
        raise AsrkitError(f"utterance {utt!r}: word(s) {' '.join(missing[:5])} not in the model's token list")
    return [index[w] for w in text.split()]


def ctm_lines(utt: str, words: List[Word]) -> List[str]:
    """Kaldi CTM: ``<utt> 1 <start> <dur> <word> <conf>``, seconds from the utterance's start."""
    return [f"{utt} 1 {w.start:.3f} {max(0.0, w.end - w.start):.3f} {w.word} {w.confidence:.3f}" for w in words]


def align_items(rec: Recognizer, items: Iterable[Item], total: Optional[int], transcripts: Dict[str, str],
                emit: Callable[[str, List[Word]], None], chunk: int = 0,
                max_bad_percent: float = MAX_FAILED_PERCENT) -> AlignSummary:
    """Align every item to its transcript, calling ``emit(utt, words)`` in input order."""
    from asrkit.text.tokenizer import UnknownTally

    s = AlignSummary(bad=BadItems(log, "utterances", max_percent=max_bad_percent))
    unknown = UnknownTally()
    chunk = chunk or rec.config.batch_size * 8
    pending: List[Tuple[str, np.ndarray, List[int]]] = []
    r = rec.time_reduction

    def flush():
        if not pending:
            return
        start = time.perf_counter()
        order = sorted(range(len(pending)), key=lambda i: -pending[i][1].shape[0])
        got: List[Optional[List[Word]]] = [None] * len(pending)
        bs = rec.config.batch_size
        for b in range(0, len(order), bs):
            idx = order[b:b + bs]
            for i, words in zip(idx, rec.align([pending[i] for i in idx])):
                got[i] = words
        s.align_s += time.perf_counter() - start
        for (utt, feats, tokens), words in zip(pending, got):
            if words is None:
                s.bad.skip(utt, f"utterance {utt!r}: its transcript ({len(tokens)} tokens) does not fit "
                                f"its audio ({feats.shape[0]} frames) under CTC")
                continue
            # The transcript's own words, not the tokenizer's rendering of them: a character the
            # tokenizer does not know comes back from its pieces as "⁇" (sentencepiece's <unk>).
            ref = transcripts[utt].split()
            if len(ref) == len(words):
                words = [dataclasses.replace(w, word=r) for w, r in zip(words, ref)]
            s.bad.ok()
            s.audio_s += feats.shape[0] * rec.frame_shift_s
            s.words += len(words)
            emit(utt, words)
        pending.clear()

    seen = set()
    for utt, feats, err in progress(items, total=total, desc="align", unit="utt"):
        seen.add(utt)
        if err is None:
            try:
                if utt not in transcripts:
                    raise AsrkitError(f"utterance {utt!r}: no transcript in the text file")
                tokens = transcript_tokens(rec, utt, transcripts[utt], unknown)
                feats = rec.normalize(feats, utt)
                # Decided here, before the batch: a transcript CTC cannot fit names itself.
                enc_frames = -(-feats.shape[0] // r)
                if min_frames(tokens) > enc_frames:
                    raise AsrkitError(f"utterance {utt!r}: its transcript needs {min_frames(tokens)} CTC frames, "
                                      f"its audio has {enc_frames} ({feats.shape[0]} feature frames)")
            except AsrkitError as e:
                err = e
        if err is not None:
            s.bad.skip(utt, err)
            continue
        pending.append((utt, feats, tokens))
        if len(pending) >= chunk:
            flush()
    flush()
    unknown.warn(log, "transcripts")
    # A transcript whose utterance the audio list lacks is not aligned: said, not dropped in
    # silence ("Done 6 out of 6" for a text of 8). Not a failure: a text file often covers more
    # than one piece of a split wav.scp.
    orphans = [u for u in transcripts if u not in seen]
    if orphans:
        log.warning("%d transcript(s) have no audio among the %d utterances given, and are not aligned: %s%s",
                    len(orphans), len(seen), " ".join(orphans[:5]), " ..." if len(orphans) > 5 else "")
    return s
