"""CTC forced alignment (batched Viterbi) and the word times and confidences it gives.

asrkit-decode (``--ctm``, ``words`` in nbest.jsonl), asrkit-align and the Transcriber all time
words this way: the token sequence (a chosen hypothesis, or a given transcript) is aligned to the
CTC posteriors of the model's own CTC head, and each word gets the frames of its tokens::

    al = ctc_forced_align(log_probs, lens, [[5, 9, 9], [7]])    # log_probs (B, T', V), lens (B,)
    al[0].spans          # [(first, last + 1) encoder frame of each token]
    words = word_times(al[0], pieces, text_of, frame_s=0.04, offset_s=0.0075)

**The aligner.** Viterbi over CTC's extended label sequence ``blank y1 blank y2 ... yL blank``
(S = 2L + 1 states), batched over utterances: one Python loop over frames, each a handful of
tensor ops on (B, S); the back-pointers (one byte per frame and state) are followed on the
host. Each utterance keeps its own frame count and label count. A transcript needs at least
``L + (number of repeated adjacent labels)`` frames (CTC must put a blank between repeats);
one that does not fit gets ``None``, as does an empty one. torchaudio has an aligner too
(``torchaudio.functional.forced_align``), but for one utterance at a time, and torchaudio 2.8
put it on its removal list (it was later kept, in a library announced as no longer actively
maintained): asrkit does not depend on it; tests compare the two where it exists.

**Words.** A sentencepiece piece that starts with ``▁`` starts a word; a piece that is only
``▁`` (char models' space, bpe's lone boundary) belongs to no word and is not timed, since CTC
often puts it in the pause between words. Without a tokenizer every token is a word (what the
recogniser's text shows). A word runs from the first frame of its first token to the end of the
last frame of its last token (the ``spike`` rule), or, with ``rule="extend"``, over the blank
frames next to it up to half the gap to the neighbouring word and at most ``max_extend``
frames (CTC's peaks sit inside the speech, a little late; see docs/decoding.md for what each
rule measured). The ``energy`` rule (the default) starts from the spike span and moves both
boundaries to the 10 ms feature frames where the word's speech begins and ends
(:func:`energy_span`): an encoder frame is 40-80 ms, and a word's last token spikes anywhere in
its final syllable, so spike ends were off by a median 73 ms on FSDD digits, 50 ms after.
Frame ``j`` of an encoder with time reduction ``r`` covers feature frames ``j*r .. j*r + r - 1``;
a boundary between encoder frames ``j-1`` and ``j`` is placed at ``j * r * shift + (window -
shift) / 2`` seconds, i.e. between the centres of the feature frames on either side.

**Confidence.** A token's confidence is its CTC posterior at its spike: the highest posterior
of the token over the frames aligned to it. A word's is the mean over its tokens. Both lie in
[0, 1]; a word the model would not have emitted there scores low.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch

from asrkit.decoding.config import WORD_RULES
from asrkit.text.token_list import UNK

NEG_INF = float("-inf")
# ctc_forced_align keeps a byte per (encoder frame, state) of a batch for the way back (states: two
# per token, plus one): an hour of 16 kHz speech with ~15,000 tokens is ~2.7e9. asrkit-align
# refuses an utterance over this, and packs its batches under it (4 GiB).
MAX_ALIGN_CELLS = 2 ** 32
WORD_START = "\u2581"  # sentencepiece's word boundary mark


@dataclass
class Alignment:
    """One utterance's forced alignment."""

    tokens: List[int]
    spans: List[Tuple[int, int]]  # per token: [first, last + 1) encoder frames
    confidence: List[float]  # per token: the highest posterior of the token over its frames
    score: float  # log-probability of the best path
    num_frames: int


# Word times are kept to the millisecond, the CTM's precision: the Transcriber gave them unrounded
# (0.36000000000000004) and a CTM line's start + duration could be a millisecond off its end.
TIME_DECIMALS = 3
# A word's confidence likewise, to the CTM's 3 decimals (the CTM wrote 3, nbest.jsonl 4 and the
# Transcriber all of them): a mean posterior is no finer than that, and ties at a threshold then
# fall the same way whichever output a user reads.
CONF_DECIMALS = 3


@dataclass
class Word:
    """A timed word. Its times and confidence are rounded (TIME_DECIMALS, CONF_DECIMALS) as it is
    made, so the CTM, nbest.jsonl and the Transcriber give the same numbers."""

    word: str
    start: float  # seconds from the start of the utterance
    end: float
    confidence: float

    def __post_init__(self) -> None:
        self.start = round(float(self.start), TIME_DECIMALS)
        self.end = round(float(self.end), TIME_DECIMALS)
        self.confidence = round(float(self.confidence), CONF_DECIMALS)

    def to_dict(self) -> dict:
        return {"word": self.word, "start": self.start, "end": self.end, "conf": self.confidence}


def min_frames(tokens: Sequence[int]) -> int:
    """Frames CTC needs for ``tokens``: one per token plus one blank between each repeated pair."""
    return len(tokens) + sum(1 for a, b in zip(tokens, tokens[1:]) if a == b)


def align_cells(frames: int, tokens: int, batch: int = 1) -> int:
    """The back-pointer bytes :func:`ctc_forced_align` keeps for ``batch`` utterances padded to
    ``frames`` encoder frames and ``tokens`` tokens."""
    return batch * frames * (2 * tokens + 1)


@torch.inference_mode()
def ctc_forced_align(log_probs: torch.Tensor, lens: torch.Tensor, targets: Sequence[Sequence[int]],
                     blank: int = 0) -> List[Optional[Alignment]]:
    """The best CTC path of each ``targets[b]`` through ``log_probs[b, :lens[b]]`` (B, T, V).

    Returns one :class:`Alignment` per utterance, or None where the tokens cannot be aligned
    (empty, or more than :func:`min_frames` allows).
    """
    B, T, V = log_probs.shape
    dev = log_probs.device
    lens_h = [int(n) for n in lens.cpu()]
    out: List[Optional[Alignment]] = [None] * B
    ok = [b for b in range(B) if targets[b] and 0 < min_frames(targets[b]) <= lens_h[b]]
    if not ok:
        return out
    L = max(len(targets[b]) for b in ok)
    S = 2 * L + 1
    n = len(ok)
    z = torch.full((n, S), blank, dtype=torch.long)  # extended label sequences
    for i, b in enumerate(ok):
        z[i, 1:2 * len(targets[b]):2] = torch.tensor(targets[b], dtype=torch.long)
    z = z.to(dev)
    s_len = torch.tensor([2 * len(targets[b]) + 1 for b in ok], device=dev)
    t_len = torch.tensor([lens_h[b] for b in ok], device=dev)
    lp = log_probs.index_select(0, torch.tensor(ok, device=dev)).float()  # (n, T, V)
    states = torch.arange(S, device=dev)[None, :]
    valid = states < s_len[:, None]  # (n, S)
    # A label may be reached from two states back (skipping a blank) unless it repeats that label.
    skip = torch.zeros(n, S, dtype=torch.bool, device=dev)
    skip[:, 2:] = (z[:, 2:] != blank) & (z[:, 2:] != z[:, :-2])
    minus = torch.full((n, 2), NEG_INF, device=dev)

    alpha = torch.full((n, S), NEG_INF, device=dev)
    emit0 = lp[:, 0].gather(1, z)  # (n, S)
    alpha[:, :2] = emit0[:, :2]
    alpha = alpha.masked_fill(~valid, NEG_INF)
    back = torch.zeros(T, n, S, dtype=torch.int8, device=dev)
    for t in range(1, int(t_len.max())):
        from_prev = torch.cat([minus[:, :1], alpha[:, :-1]], dim=1)
        from_skip = torch.cat([minus, alpha[:, :-2]], dim=1).masked_fill(~skip, NEG_INF)
        best, arg = torch.stack([alpha, from_prev, from_skip]).max(dim=0)  # (n, S)
        new = (best + lp[:, t].gather(1, z)).masked_fill(~valid, NEG_INF)
        live = (t < t_len)[:, None]
        alpha = torch.where(live, new, alpha)
        back[t] = torch.where(live, arg.to(torch.int8), torch.zeros_like(back[t]))
    # The path ends in the last label or the final blank.
    last = alpha.gather(1, (s_len - 1)[:, None]).squeeze(1)
    before = alpha.gather(1, (s_len - 2)[:, None]).squeeze(1)
    end = torch.where(before > last, s_len - 2, s_len - 1)
    score = torch.maximum(last, before)

    back_h = back.cpu().numpy()
    s = end.cpu().numpy().astype(np.int64)
    path = np.zeros((n, T), dtype=np.int64)
    rows = np.arange(n)
    for t in range(T - 1, -1, -1):
        path[:, t] = s
        s = s - back_h[t, rows, s]
    # Each frame's log-probability of the label its path state emits, (n, T): taken over every
    # state instead, (n, T, S) float32, it was four times the back-pointers (13.5 GB of an hour's
    # 2.7e9 cells).
    z_h = z.cpu().numpy()
    lp_h = lp.gather(2, torch.from_numpy(z_h[rows[:, None], path]).to(dev)[:, :, None]).squeeze(2).cpu().numpy()
    score_h = score.cpu().tolist()
    for i, b in enumerate(ok):
        if not np.isfinite(score_h[i]):
            continue
        frames = lens_h[b]
        st = path[i, :frames]
        label_pos = (st % 2) == 1
        k = (st - 1) // 2  # token index where label_pos
        nt = len(targets[b])
        first = np.full(nt, -1, dtype=np.int64)
        last_f = np.full(nt, -1, dtype=np.int64)
        best_lp = np.full(nt, NEG_INF)
        for t in np.flatnonzero(label_pos):
            j = int(k[t])
            if first[j] < 0:
                first[j] = t
            last_f[j] = t
            best_lp[j] = max(best_lp[j], float(lp_h[i, t]))
        out[b] = Alignment(tokens=list(targets[b]), spans=[(int(a), int(e) + 1) for a, e in zip(first, last_f)],
                           confidence=[float(np.exp(x)) for x in best_lp], score=float(score_h[i]),
                           num_frames=frames)
    return out


def word_groups(pieces: Sequence[str], sentencepiece: bool = True, unk_words: bool = False) -> List[List[int]]:
    """Token positions of each word: a piece starting with ``▁`` starts one, a lone ``▁`` is in none.

    ``unk_words``: ``<unk>`` is a word of its own, as a recognised text spells it (sentencepiece
    decodes it as " ⁇ ", spaces around: ``▁M <unk> L`` is "M ⁇ L", three words scored, which a
    decoding's CTM had as one, "M⁇L"). Off for a given transcript (asrkit-align), whose own words
    replace the rendering when the counts match: there an unknown character stays in its word.
    Without sentencepiece (``sentencepiece=False``) each token is a word.
    """
    if not sentencepiece:
        return [[i] for i in range(len(pieces))]
    words: List[List[int]] = []
    current: Optional[List[int]] = None
    for i, p in enumerate(pieces):
        if unk_words and p == UNK:
            words.append([i])
            current = None
            continue
        if p.startswith(WORD_START):
            current = None
            if p == WORD_START:
                continue
        if current is None:
            current = []
            words.append(current)
        current.append(i)
    return words


# The energy rule's constants, chosen on FSDD connected digits of the four training speakers'
# held-back takes (bench/README.md; the held-out speaker george confirmed them):
ENERGY_DROP_DB = 25.0  # speech: within this much of the word's loudest 10 ms frame (10-35 dB tried)
ENERGY_MAX_GAP = 6  # feature frames: a quieter stretch this long ends the word (a stop's closure is shorter)
ENERGY_FLOOR_MARGIN_DB = 6.0  # ... and this much above the recording's noise floor (noisy audio)
ENERGY_MAX_MOVE = 30  # feature frames: no boundary moves further than this from CTC's


def frame_energy_db(fbank: np.ndarray) -> np.ndarray:
    """Energy (dB) of each frame of Kaldi log-mel filterbank features (T, D) (natural-log mel
    energies, before CMVN): 10 log10 of the summed mel energies."""
    f = np.asarray(fbank, dtype=np.float64)
    return (10.0 / np.log(10.0)) * np.logaddexp.reduce(f, axis=1) if f.shape[0] else np.zeros(0)


def energy_span(energy_db: np.ndarray, first: int, end: int, low: int, high: int,
                floor_db: float) -> Tuple[int, int]:
    """The [start, end) feature frames of a word's speech around its CTC span [first, end).

    From the loudest frame of the span, the word grows in each direction over frames within
    ENERGY_DROP_DB of it (and ENERGY_FLOOR_MARGIN_DB above ``floor_db``), across quieter stretches
    shorter than ENERGY_MAX_GAP, but not past ``low``/``high`` (the neighbours' CTC spans) nor
    more than ENERGY_MAX_MOVE frames from the CTC span. A word with no frame loud enough keeps
    its CTC span.
    """
    T = len(energy_db)
    first, end = max(0, min(first, T - 1)), max(1, min(end, T))
    if end <= first:
        end = first + 1
    low = max(0, min(low, first), first - ENERGY_MAX_MOVE)
    high = min(T, max(high, end), end + ENERGY_MAX_MOVE)
    peak = first + int(np.argmax(energy_db[first:end]))
    threshold = max(energy_db[peak] - ENERGY_DROP_DB, floor_db + ENERGY_FLOOR_MARGIN_DB)
    if energy_db[peak] < threshold:
        return first, end

    def reach(step: int, stop: int) -> int:
        last, t, gap = peak, peak, 0
        while t + step != stop and gap < ENERGY_MAX_GAP:
            t += step
            if energy_db[t] >= threshold:
                last, gap = t, 0
            else:
                gap += 1
        return last

    return reach(-1, low - 1), reach(1, high) + 1


def noise_floor_db(energy_db: np.ndarray) -> float:
    """A recording's noise floor: the 5th percentile of its frame energies."""
    return float(np.percentile(energy_db, 5)) if len(energy_db) else 0.0


def word_times(al: Alignment, pieces: Sequence[str], text_of: Callable[[List[int]], str], frame_s: float,
               offset_s: float = 0.0, sentencepiece: bool = True, rule: str = "spike",
               max_extend: int = 1, energy_db: Optional[np.ndarray] = None, reduction: int = 1,
               unk_words: bool = False) -> List[Word]:
    """Words of an alignment with their times (seconds) and confidences.

    ``pieces``: the token strings of the model (indexed by id); ``text_of(ids)`` spells a word;
    ``frame_s``: seconds per encoder frame; ``offset_s``: added to every boundary (see the module
    docstring); ``rule``: ``spike``, ``extend`` or ``energy``; ``energy_db`` (the ``energy``
    rule): :func:`frame_energy_db` of the utterance's feature frames, ``reduction`` of them per
    encoder frame. ``unk_words``: see :func:`word_groups`.
    """
    if rule not in WORD_RULES:
        raise ValueError(f"unknown word boundary rule {rule!r} ({', '.join(WORD_RULES)})")
    groups = word_groups([pieces[t] for t in al.tokens], sentencepiece, unk_words)
    spans = [(al.spans[g[0]][0], al.spans[g[-1]][1]) for g in groups]
    if rule == "energy":
        if energy_db is None:
            raise ValueError("the energy word rule needs the frame energies (energy_db)")
        return _energy_words(al, groups, spans, text_of, frame_s / reduction, offset_s, energy_db, reduction)
    if rule == "extend":
        # Each gap between two words is shared at its middle; a word grows into it by at most
        # max_extend frames (and into the leading/trailing silence by as much).
        ext = []
        for w, (a, e) in enumerate(spans):
            low = (spans[w - 1][1] + a) // 2 if w > 0 else 0
            high = (e + spans[w + 1][0]) // 2 if w + 1 < len(spans) else al.num_frames
            ext.append((max(a - max_extend, low), min(e + max_extend, high)))
        spans = ext
    return [_word(al, g, text_of, a * frame_s + offset_s, e * frame_s + offset_s) for g, (a, e) in zip(groups, spans)]


def _word(al: Alignment, group: List[int], text_of: Callable[[List[int]], str], start: float, end: float) -> Word:
    conf = float(np.mean([al.confidence[i] for i in group]))
    # One field of a CTM line: sentencepiece spells <unk> as " ⁇ " (spaces around it), so a word
    # with an <unk> inside ("⁇Y⁇Y") was several fields, and every CTM reader misread the line.
    return Word(word="".join(text_of([al.tokens[i] for i in group]).split()), start=start, end=end,
                confidence=min(1.0, max(0.0, conf)))


def _energy_words(al: Alignment, groups: List[List[int]], spans: List[Tuple[int, int]],
                  text_of: Callable[[List[int]], str], shift_s: float, offset_s: float,
                  energy_db: np.ndarray, r: int) -> List[Word]:
    """The ``energy`` rule: each word's spike span (encoder frames) refined on feature frames."""
    if len(energy_db) == 0:
        return [_word(al, g, text_of, a * r * shift_s + offset_s, e * r * shift_s + offset_s)
                for g, (a, e) in zip(groups, spans)]
    floor = noise_floor_db(energy_db)
    T = len(energy_db)
    fine = []
    for w, (a, e) in enumerate(spans):
        low = spans[w - 1][1] * r if w > 0 else 0
        high = spans[w + 1][0] * r if w + 1 < len(spans) else T
        fine.append(list(energy_span(energy_db, a * r, e * r, low, high, floor)))
    for w in range(len(fine) - 1):  # words that grew into each other meet halfway
        if fine[w][1] > fine[w + 1][0]:
            mid = (fine[w][1] + fine[w + 1][0]) // 2
            fine[w][1] = fine[w + 1][0] = max(fine[w][0] + 1, min(mid, fine[w + 1][1] - 1))
    return [_word(al, g, text_of, a * shift_s + offset_s, e * shift_s + offset_s) for g, (a, e) in zip(groups, fine)]
