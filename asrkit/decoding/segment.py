"""Cutting a long recording into utterance-sized pieces at its pauses, with the model's CTC head.

A LAS decoder attends over the whole encoder output at every step, so one search over an hour
costs (steps x frames), quadratic in length, and a model trained on utterances of seconds does
not hold its attention over minutes. asrkit-decode therefore splits a recording longer than
``max_segment_s`` into pieces, decodes the pieces batched through the same beam search, and
joins their text. Every step is linear in the length of the recording:

1. **Blank posteriors.** The encoder runs over windows of ``segment_window_s`` seconds, each
   seen with ``segment_context_s`` seconds of audio on either side (the context frames are
   dropped from the output), batched ``batch_size`` windows at a time; the CTC head gives each
   encoder frame its blank posterior. A frame is a *pause frame* when that posterior is at least
   ``pause_blank_prob``. CTC puts blanks wherever no token is being said, silence or noise alike,
   so this is more robust to background noise than an energy threshold. A character model's
   word boundary (a token of its own, ``▁`` or ``<space>``) counts with the blank: a model
   trained on words spoken apart (FSDD's connected digits, at 80 ms per encoder frame) says
   ``▁``, not blank, through every pause, and its "blank" posterior there was 0.0003 (see
   :func:`pause_token_ids`).
2. **Cuts.** A run of pause frames at least ``min_pause_s`` long is a pause where a piece may
   end; the speech between two such pauses is a piece, trimmed to its first and last non-pause
   frame. A piece longer than ``max_segment_s`` is split again at its longest internal run of
   pause frames (whatever its length; the one nearest the middle among equals), and where it
   has none, at the frame with the highest blank posterior in its middle half; so a word is cut
   only when ``max_segment_s`` of speech pass without a single blank frame.
3. **Joining.** Cutting at every pause made pieces of single words wherever a speaker paused
   for breath or between spelled letters: one 4 s AN4 utterance padded to 24 s with low noise
   became up to 7 pieces of 0.2-1 s, decoded apart, without the context the model was trained
   with. So neighbouring pieces are joined again across their pauses, the shortest pause first,
   while the joined piece (pauses included) stays within ``segment_target_s``, by default the
   95th percentile of the model's training utterances' durations (packed as
   ``extra["train_durations_s"]``): pieces as long as what the model learnt on, cut where the
   speaker paused longest.
4. **Padding.** Each piece keeps ``segment_pad_s`` seconds of the pause on either side (at most
   half of the pause, so neighbours never overlap): the model was trained on utterances with
   some silence around them.

Pieces hold whole encoder frames, so their feature frames start at multiples of the encoder's
time reduction and their own encoder output lines up with the recording's. A recording without
any non-pause frame gives no piece (and an empty hypothesis)::

    spans = split_recording(model, feats, config, frame_shift_s=0.01)  # [(first, end) feature frames]
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

from asrkit.utils.errors import AsrkitError


# Tokens that stand for the gap between words in a token list (sentencepiece's and ESPnet's).
WORD_BOUNDARY_TOKENS = ("\u2581", "<space>")


def pause_token_ids(tokens: Sequence[str]) -> Tuple[int, ...]:
    """The CTC outputs whose posteriors add up to a frame's pause posterior: the blank (id 0) and
    a word boundary that is a token of its own. 100 FSDD test utterances of theo joined with
    0.3-1.0 s noise pauses (bench/long_audio.py) were cut at 24 of their 99 pauses by the blank
    alone, into pieces of 7.6-20 s for a model trained on 1-5 s (16.98 % WER, against 7.44 % for the
    utterances decoded apart); the model said '\u2581' at 0.87-1.0 through each pause."""
    return (0,) + tuple(i for i, t in enumerate(tokens) if i != 0 and t in WORD_BOUNDARY_TOKENS)


def blank_posteriors(model, feats: np.ndarray, window: int, context: int, batch_size: int,
                     pause_ids: Sequence[int] = (0,)) -> np.ndarray:
    """CTC pause posterior of every encoder frame of ``feats`` (T, D) (normalized features): the
    posteriors of ``pause_ids`` (:func:`pause_token_ids`; the blank alone by default) added up.

    ``window`` and ``context`` are in feature frames, multiples of the encoder's time reduction.
    Returns (ceil(T / r),) float32.
    """
    import torch

    r = model.listener.time_reduction
    T = feats.shape[0]
    starts = list(range(0, T, window))
    out = np.zeros(-(-T // r), dtype=np.float32)
    device = next(model.parameters()).device
    with torch.inference_mode():
        for b0 in range(0, len(starts), batch_size):
            group = starts[b0:b0 + batch_size]
            spans = [(max(0, s - context), min(T, s + window + context)) for s in group]
            lens = torch.tensor([e - a for a, e in spans])
            x = torch.zeros(len(group), int(lens.max()), feats.shape[1])
            for i, (a, e) in enumerate(spans):
                x[i, :e - a] = torch.from_numpy(np.ascontiguousarray(feats[a:e]))
            enc, enc_lens = model.encode(x.to(device), lens.to(device))
            blank = model.ctc_log_probs(enc)[:, :, list(pause_ids)].exp().sum(-1).clamp(max=1.0).cpu().numpy()
            for i, s in enumerate(group):
                a = spans[i][0]
                first = (s - a) // r  # encoder frames of left context to drop
                count = -(-(min(T, s + window) - s) // r)
                out[s // r:s // r + count] = blank[i, first:first + count]
    return out


def _runs(mask: np.ndarray) -> List[Tuple[int, int]]:
    """[start, end) of each run of True in a 1-D bool array."""
    if mask.size == 0:
        return []
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def find_pieces(blank: np.ndarray, frame_s: float, max_segment_s: float, min_pause_s: float,
                pause_blank_prob: float, pad_s: float, target_s: float = 0.0) -> List[Tuple[int, int]]:
    """Pieces of a recording as [start, end) encoder frames, from its blank posteriors (N,).

    ``target_s`` > 0: neighbouring pieces are joined again across their pauses, the shortest
    pause first, while the joined piece stays within ``target_s`` (see the module's step 3).
    """
    pause = blank >= pause_blank_prob
    n = len(blank)
    min_pause = max(1, int(math.ceil(min_pause_s / frame_s - 1e-9)))
    max_len = max(1, int(max_segment_s / frame_s))
    # Regions of speech between pauses long enough to cut at.
    regions: List[Tuple[int, int]] = []
    start = 0
    for a, e in _runs(pause):
        if e - a >= min_pause or a == 0 or e == n:
            if a > start:
                regions.append((start, a))
            start = e
    if start < n:
        regions.append((start, n))
    pieces: List[Tuple[int, int]] = []
    for a, e in regions:
        pieces.extend(_split_long(blank, pause, a, e, max_len))
    if target_s > 0:
        pieces = _join_short(pieces, min(max_len, max(1, int(target_s / frame_s + 1e-9))))
    # Pad into the pauses, sharing each pause between its two neighbours.
    pad = int(round(pad_s / frame_s))
    out = []
    for i, (a, e) in enumerate(pieces):
        low = (pieces[i - 1][1] + a + 1) // 2 if i > 0 else 0
        high = (e + pieces[i + 1][0]) // 2 if i + 1 < len(pieces) else n
        out.append((max(low, a - pad), min(high, e + pad)))
    return out


def _split_long(blank: np.ndarray, pause: np.ndarray, a: int, e: int, max_len: int) -> List[Tuple[int, int]]:
    """Trim [a, e) to its non-pause frames and split it until no piece is longer than max_len."""
    speech = np.flatnonzero(~pause[a:e])
    if speech.size == 0:
        return []
    a, e = a + int(speech[0]), a + int(speech[-1]) + 1
    if e - a <= max_len:
        return [(a, e)]
    mid = (a + e) / 2
    inner = [(s + a, t + a) for s, t in _runs(pause[a:e])]
    if inner:
        s, t = max(inner, key=lambda r: (r[1] - r[0], -abs((r[0] + r[1]) / 2 - mid)))
        left, right = (a, s), (t, e)
    else:
        q = (e - a) // 4
        # Strictly inside [a, e): with a piece of 2 or 3 frames (max_segment_s under 4 encoder
        # frames) q is 0, the argmax could be frame a, and the right half was the piece itself
        # again, recursing until Python's RecursionError.
        cut = min(max(a + q + int(np.argmax(blank[a + q:e - q])), a + 1), e - 1)
        left, right = (a, cut), (cut, e)
    return _split_long(blank, pause, *left, max_len) + _split_long(blank, pause, *right, max_len)


def _join_short(pieces: List[Tuple[int, int]], max_len: int) -> List[Tuple[int, int]]:
    """Join neighbouring pieces across their pauses, shortest pause first (ties: the earlier),
    as long as the joined piece, pauses included, spans at most ``max_len`` frames."""
    n = len(pieces)
    if n < 2:
        return pieces
    # Pieces joined so far are runs [lo, hi] of consecutive ones: first[hi] = lo and last[lo] = hi.
    first, last = list(range(n)), list(range(n))
    for i in sorted(range(n - 1), key=lambda i: (pieces[i + 1][0] - pieces[i][1], i)):
        lo, hi = first[i], last[i + 1]  # the run piece i ends and the one piece i + 1 starts
        if pieces[hi][1] - pieces[lo][0] <= max_len:
            first[hi], last[lo] = lo, hi
    out, lo = [], 0
    while lo < n:
        out.append((pieces[lo][0], pieces[last[lo]][1]))
        lo = last[lo] + 1
    return out


def split_recording(model, feats: np.ndarray, config, frame_shift_s: float,
                    target_s: float = 0.0, pause_ids: Sequence[int] = (0,),
                    quiet: Optional[np.ndarray] = None) -> List[Tuple[int, int]]:
    """Pieces of one recording's normalized features (T, D) as [start, end) feature frames.

    ``config`` is a DecodeConfig (its segment_* options, ``batch_size``); the model needs a CTC
    head. ``target_s``: the length pieces are joined up to (0: not joined; the Recognizer passes
    ``segment_target_s`` as resolved for its model). ``pause_ids``: the outputs that mean a pause
    (:func:`pause_token_ids` of the model's tokens; the Recognizer passes them). ``quiet``: (T,)
    bool, feature frames that are a pause whatever the CTC head says, as digital silence is (the
    Recognizer's: 16-bit dither far below the recording's speech).
    """
    if getattr(model, "ctc", None) is None:
        raise AsrkitError("the model has no CTC head to find pauses with")
    r = model.listener.time_reduction
    window = _frames(config.segment_window_s, frame_shift_s, r)
    context = _frames(config.segment_context_s, frame_shift_s, r) if config.segment_context_s > 0 else 0
    blank = blank_posteriors(model, feats, window, context, config.batch_size, pause_ids)
    # Digital silence is a pause whatever the CTC head makes of it: a model that never heard zeros
    # (the log floor, far below its training data) need not call them blank, and 10 s of zeros
    # on each side of FSDD test utterances became pieces of 11-14 s, mostly zeros, decoded into
    # insertions (the FSDD theo model: 9.5 -> 36.9 % WER; bench/presentation_robustness.py).
    blank[silent_encoder_frames(feats, r)] = 1.0
    if quiet is not None:
        blank[_whole_encoder_frames(quiet, r)] = 1.0
    enc_s = frame_shift_s * r
    spans = find_pieces(blank, enc_s, config.max_segment_s, config.min_pause_s, config.pause_blank_prob,
                        config.segment_pad_s, target_s)
    T = feats.shape[0]
    return [(a * r, min(T, e * r)) for a, e in spans]


def silent_encoder_frames(feats: np.ndarray, r: int) -> np.ndarray:
    """(ceil(T / r),) bool: the encoder frames of ``feats`` (T, D) whose feature frames are all
    digital silence (:func:`asrkit.models.las.digital_silence`)."""
    import torch

    from asrkit.models.las import digital_silence

    return _whole_encoder_frames(digital_silence(torch.from_numpy(np.ascontiguousarray(feats))[None])[0, :, 0].numpy(), r)


def _whole_encoder_frames(frames: np.ndarray, r: int) -> np.ndarray:
    """(ceil(T / r),) bool: the encoder frames all of whose ``r`` feature frames are set in
    ``frames`` (T,) bool (the last one's missing frames count as set)."""
    pad = -len(frames) % r
    return np.concatenate([frames, np.ones(pad, dtype=bool)]).reshape(-1, r).all(1)


def _frames(seconds: float, frame_shift_s: float, r: int) -> int:
    """``seconds`` in feature frames, rounded up to a whole number of encoder frames."""
    return max(r, int(math.ceil(seconds / frame_shift_s / r)) * r)


def end_centiseconds(end_s: float) -> int:
    """Where a segment whose audio ends at ``end_s`` ends, in centiseconds: the one at or after
    it. Kaldi's extract-segments and asrkit-compute-fbank --segments take floor(end x rate)
    samples, so an end cut down (1.015 s written 1.01) gave one frame fewer than were decoded;
    up is under one 10 ms shift more, so no extra frame (and at most 10 ms past the recording's
    end, which both take as its end)."""
    return math.ceil(round(end_s * 100, 6))  # (6 places: the float's noise, 1.0000000002, is no centisecond)


def piece_id(utt: str, start_s: float, end_s: float) -> str:
    """Kaldi's segment id habit: ``<recording>-<start>-<end>`` in centiseconds, 7 digits each."""
    return f"{utt}-{int(round(start_s * 100)):07d}-{int(round(end_s * 100)):07d}"


def describe(spans: Sequence[Tuple[int, int]], frame_shift_s: float) -> str:
    lens = [(e - a) * frame_shift_s for a, e in spans]
    if not lens:
        return "no speech found"
    return f"{len(lens)} pieces of {min(lens):.1f}-{max(lens):.1f} s (mean {sum(lens) / len(lens):.1f} s)"
