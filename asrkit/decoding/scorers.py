"""The scorers a beam search combines, behind one interface, batched over all hypotheses.

A *full* scorer gives log-probabilities of every token for every row (hypothesis) at once;
a *partial* scorer (the CTC prefix scorer) scores only the candidates the full scorers'
weighted sum pre-selects. The beam search holds a weights table ``{name: weight}`` and never
looks inside a scorer's state: it only asks it to score, and to keep / reorder rows with
``index_select``. Nothing here copies to the host.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
from torch import Tensor

from asrkit.decoding.ctc_prefix import CTCPrefixScorer


class FullScorer:
    """Scores every token: ``score(prev (N,), state) -> (logp (N, V), new_state)``."""

    def init_state(self, rows: Tensor) -> Any:
        """The state for the empty hypothesis of utterances ``rows`` (N,) (repeat an utterance for beams)."""
        raise NotImplementedError

    def score(self, prev: Tensor, state: Any) -> Tuple[Tensor, Any]:
        raise NotImplementedError

    def reorder(self, state: Any, rows: Tensor) -> Any:
        """Keep rows ``rows`` of the state (the parent of each surviving hypothesis)."""
        raise NotImplementedError

    def drop_utterances(self, rows: Tensor) -> None:
        """Keep only rows ``rows`` of any fixed per-row data (utterances that finished are dropped)."""

    def must_end(self, state: Any) -> Optional[Tensor]:
        """Rows (N,) bool whose hypothesis must end at the step that produced ``state``, or None."""
        return None

    def end_trim(self, state: Any) -> Optional[Tensor]:
        """Rows (N,) long: how many of its last tokens a hypothesis made to end by ``must_end``
        drops (those already emitted inside what ended it), or None for none."""
        return None


class AttentionScorer(FullScorer):
    """The LAS speller: ``decode_step`` over the encoder output of one batch of utterances.

    ``memory`` (encoder output, attention keys, padding mask) is per utterance and fixed; it is
    expanded to rows once in :meth:`init_state` and kept out of the state that is reordered
    every step, since all beams of one utterance share it.

    ``max_backtrack`` > 0 is the loop guard: a hypothesis whose attention peak (the encoder
    frame of highest weight) stays more than that many frames behind the furthest peak it has
    reached for ``LOOP_STEPS`` steps in a row is re-reading input it has already transcribed,
    which is how an attention decoder loops; :meth:`must_end` makes it end at that step and
    :meth:`end_trim` drops the tokens emitted since the jump back, so the repeated words do not
    come out. Only peaks of weight >= ``SHARP`` count. One step behind is not enough: a
    character model glances back to a word's start while spelling it (FSDD's at 80 ms frames),
    and ending hypotheses at such a glance took its greedy dev WER from 0 % to 26.8 %; three steps
    kept it at 0 % and the gain on a looping model (docs/decoding.md).

    Only steps forward move the furthest peak: a sharp peak more than ``max_backtrack`` frames
    ahead of the step before's is a glance ahead, not progress, until the next sharp step stays
    there. A model may look at the end of its input before reading it from the start (an FSDD
    fold's model peaked at the last of 48 frames when emitting its first token, then read from
    frame 1): counted as progress, that glance made every real step "behind", and greedy
    attention-only decoding of its dev set returned empty hypotheses (WER 90.4 %, 0.34 % without
    the guard); validation's greedy CER said 0.86-0.90 for a model at 99.8 % token accuracy.

    A loop within the last ``max_backtrack`` frames (a word or two read again and again, which a
    length bonus in beam search rewards) never stays behind long enough for that; it is caught
    by a stall instead: ``STALL_STEPS`` sharp steps in a row without the furthest peak moving on.
    Measured on dev sets, hypotheses that do not loop stalled at most 8 steps (AN4, BPE 30) and 2
    (FSDD, characters); loops 12-75 and growing. Such a hypothesis also drops what it emitted
    since its furthest peak.
    """

    SHARP = 0.2
    LOOP_STEPS = 3
    STALL_STEPS = 16
    _KEYS = ("peak", "last", "behind", "since", "stall", "idle")

    def __init__(self, model, enc: Tensor, enc_lens: Tensor, max_backtrack: int = 0) -> None:
        from asrkit.models.las import select_batch

        self.model = model
        self._select = select_batch
        self._memory, self._state0 = model.init_decoder(enc, enc_lens)
        self.memory: Dict[str, Tensor] = self._memory
        self.max_backtrack = max_backtrack

    def init_state(self, rows: Tensor) -> Any:
        self.memory = self._select(self._memory, rows)
        state = self._select(self._state0, rows)
        if self.max_backtrack > 0:
            # The furthest peak so far per row (-1 before the first step) and the last sharp one;
            # how many sharp steps in a row have peaked behind the furthest, and all steps since
            # the first of those; how many sharp steps have not moved it on, and all steps since it
            # last moved.
            zeros = torch.zeros(rows.numel(), dtype=torch.long, device=rows.device)
            none = torch.full((rows.numel(),), -1, dtype=torch.long, device=rows.device)
            state = {**state, "peak": none, "last": none, "behind": zeros, "since": zeros, "stall": zeros,
                     "idle": zeros}
        return state

    def score(self, prev: Tensor, state: Any) -> Tuple[Tensor, Any]:
        dec = {k: v for k, v in state.items() if k not in self._KEYS}
        logp, new, att = self.model.decode_step(prev, dec, self.memory)  # (N, V), (N, T')
        if self.max_backtrack > 0:
            weight, peak = att.max(dim=1)
            # A flat attention's argmax means nothing (a weak model's can wander over the whole
            # input at every step): only a sharp peak moves the furthest frame or counts as a jump.
            sharp = weight >= self.SHARP
            back = sharp & (peak < state["peak"] - self.max_backtrack)
            new["behind"] = torch.where(back, state["behind"] + 1, torch.where(sharp, 0, state["behind"]))
            new["since"] = torch.where(new["behind"] > 0, state["since"] + 1, 0)
            ahead = sharp & (peak > state["peak"]) & (peak - state["last"] <= self.max_backtrack)
            new["stall"] = torch.where(ahead, 0, state["stall"] + (sharp & (state["peak"] >= 0)).long())
            new["idle"] = torch.where(ahead, 0, state["idle"] + 1)
            new["peak"] = torch.where(ahead, peak, state["peak"])
            new["last"] = torch.where(sharp, peak, state["last"])
        return logp, new

    def must_end(self, state: Any) -> Optional[Tensor]:
        if self.max_backtrack <= 0:
            return None
        return (state["behind"] >= self.LOOP_STEPS) | (state["stall"] >= self.STALL_STEPS)

    def end_trim(self, state: Any) -> Optional[Tensor]:
        # The tokens of the steps since the jump back (or since the furthest peak) but this one,
        # whose token becomes <eos>.
        if self.max_backtrack <= 0:
            return None
        back = torch.where(state["behind"] >= self.LOOP_STEPS, state["since"], 0)
        stalled = torch.where(state["stall"] >= self.STALL_STEPS, state["idle"], 0)
        return (torch.maximum(back, stalled) - 1).clamp(min=0)

    def reorder(self, state: Any, rows: Tensor) -> Any:
        return self._select(state, rows)

    def drop_utterances(self, rows: Tensor) -> None:
        """Shrink the fixed memory to the rows of utterances still being searched."""
        self.memory = self._select(self.memory, rows)


class LMScorer(FullScorer):
    """A token language model (asrkit.models.lm.LSTMLM) for shallow fusion."""

    def __init__(self, lm) -> None:
        self.lm = lm

    def init_state(self, rows: Tensor) -> Any:
        return self.lm.init_state(rows.numel(), rows.device)

    def score(self, prev: Tensor, state: Any) -> Tuple[Tensor, Any]:
        return self.lm.step(prev, state)

    def reorder(self, state: Any, rows: Tensor) -> Any:
        return {k: v.index_select(0, rows) for k, v in state.items()}


class CTCScorer:
    """Partial scorer: CTC prefix scores of the pre-selected candidates (see ctc_prefix)."""

    def __init__(self, log_probs: Tensor, lens: Tensor, blank: int, eos: int) -> None:
        self.impl = CTCPrefixScorer(log_probs, lens, blank=blank, eos=eos)

    def init_state(self, rows: Tensor) -> Any:
        return self.impl.init_state(rows)

    def score_partial(self, cand: Tensor, state: Any, step: int) -> Tuple[Tensor, Any]:
        return self.impl.score(state, cand, step)

    def select(self, state: Any, pending: Any, flat: Tensor) -> Any:
        return self.impl.select(state, pending, flat)

    def reorder(self, state: Any, rows: Tensor) -> Any:
        return self.impl.reorder(state, rows)
