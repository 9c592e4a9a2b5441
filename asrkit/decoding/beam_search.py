"""Batched beam search and greedy search over the scorers of asrkit.decoding.scorers.

One search decodes a batch of B utterances with ``beam`` hypotheses each: every scorer state
has ``N = B * beam`` rows, a step scores all rows at once, the best ``beam`` extensions of each
utterance come from one ``topk`` over its ``beam * K`` candidates, and states follow their
parents with ``index_select``. There is no Python loop over hypotheses and the only host
synchronisation per step is the check whether any utterance is still searching.

Scores follow ESPnet's weighting: ``total = sum_name weight[name] * score[name] + penalty`` per
token (``<eos>`` included), with the attention decoder weighted ``1 - ctc_weight``. The CTC
prefix scorer only sees the ``K = ceil(pre_beam_ratio * beam)`` best candidates of the other
scorers' weighted sum (ESPnet's pre-beam); the blank never is a candidate.

Finished hypotheses (``<eos>`` chosen, or forced at the maximum length) leave the beam, as in
ESPnet, and the best ``nbest`` per utterance are kept in tensors, ranked by score, or score per
token (``<eos>`` counted) with length normalisation. An utterance stops when no hypothesis is
left, or - exactly, when no score can rise (penalty <= 0, no length normalisation) - when its
n-th best finished hypothesis already beats every running one. Utterances that stop are
dropped from the batch, so the rest runs on smaller tensors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from asrkit.decoding.scorers import CTCScorer, FullScorer

NEG_INF = float("-inf")


@dataclass
class Hypothesis:
    tokens: List[int]  # without <sos> and <eos>
    score: float  # the weighted total the search ranked by (penalty included, not normalised)
    scores: Dict[str, float] = field(default_factory=dict)  # unweighted sum per scorer, <eos> included
    ended: bool = True  # False: made to end at the maximum length (cut short, not ended by the model)


@dataclass
class SearchOptions:
    beam: int = 10
    nbest: int = 1
    penalty: float = 0.0  # added per output token (<eos> included); > 0 favours longer outputs
    length_norm: bool = False  # rank finished hypotheses by score / (tokens + 1)
    maxlenratio: float = 0.0  # max output tokens = ratio * encoder frames; 0: the encoder frames
    minlenratio: float = 0.0  # <eos> is not allowed before ratio * encoder frames tokens
    pre_beam_ratio: float = 1.5  # CTC scores ceil(ratio * beam) candidates per hypothesis; 0: all
    max_tokens: int = 0  # a cap on output tokens besides maxlenratio (0: none); validation passes one
    # <eos> is a candidate only when its score >= eos_threshold * the best other token's (log
    # domain, so > 1 is laxer; Hannun et al. 2019 use 1.5); 0: always. Against stopping early.
    eos_threshold: float = 0.0


@dataclass
class SearchResult:
    hyps: List[List[Hypothesis]]  # per utterance, best first
    steps: int  # decoder steps the batch ran


def output_lengths(enc_lens: Tensor, opts: SearchOptions) -> Tuple[Tensor, Tensor]:
    """(min, max) output tokens per utterance from the encoder lengths (B,)."""
    lens = enc_lens.to(torch.float64)
    maxlen = lens.clone() if opts.maxlenratio <= 0 else torch.floor(lens * opts.maxlenratio)
    maxlen = maxlen.clamp(min=1).long()
    if opts.max_tokens > 0:
        maxlen = maxlen.clamp(max=opts.max_tokens)
    minlen = torch.floor(lens * max(opts.minlenratio, 0.0)).long()
    return torch.minimum(minlen, maxlen), maxlen


def pre_beam_size(beam: int, ratio: float, vocab_size: int) -> int:
    if ratio <= 0:
        return vocab_size
    return min(vocab_size, max(beam, math.ceil(ratio * beam)))


class _Search:
    """The state shared by beam and greedy search: scorers, weights, finished store."""

    def __init__(self, full: Dict[str, FullScorer], ctc: Optional[CTCScorer], weights: Dict[str, float],
                 enc_lens: Tensor, opts: SearchOptions, beam: int, vocab_size: int, sos: int, eos: int,
                 blank: int) -> None:
        self.full = {k: v for k, v in full.items() if weights.get(k, 0.0) != 0.0 or k == "att"}
        self.ctc = ctc if ctc is not None and weights.get("ctc", 0.0) != 0.0 else None
        self.names = list(self.full) + (["ctc"] if self.ctc is not None else [])
        self.weights = weights
        self.opts = opts
        self.W = beam
        self.V = vocab_size
        self.sos, self.eos, self.blank = sos, eos, blank
        self.device = enc_lens.device
        self.B = enc_lens.numel()
        minlen, maxlen = output_lengths(enc_lens.cpu(), opts)
        self.Lmax = int(maxlen.max())
        self.K = pre_beam_size(beam, opts.pre_beam_ratio, vocab_size) if self.ctc is not None else vocab_size
        # Without an attention weight the pre-beam would be arbitrary: let CTC see every token.
        if self.ctc is not None and all(weights.get(k, 0.0) == 0.0 for k in self.full):
            self.K = vocab_size
        rows = torch.arange(self.B, device=self.device).repeat_interleave(beam)  # (N,) utterance of each row
        self.row_min = minlen.to(self.device)[rows]
        self.row_max = maxlen.to(self.device)[rows]
        self.active = torch.arange(self.B, device=self.device)  # original index of each active utterance
        self.states = {k: sc.init_state(rows) for k, sc in self.full.items()}
        if self.ctc is not None:
            self.states["ctc"] = self.ctc.init_state(rows)
        self.prev = torch.full((self.B * beam,), sos, dtype=torch.long, device=self.device)
        self.ys = torch.full((self.B * beam, self.Lmax + 1), eos, dtype=torch.long, device=self.device)
        self.parts = torch.zeros(self.B * beam, len(self.names), device=self.device)
        nb = max(1, opts.nbest)
        self.fin_key = torch.full((self.B, nb), NEG_INF, device=self.device)
        self.fin_score = torch.full((self.B, nb), NEG_INF, device=self.device)
        self.fin_parts = torch.zeros(self.B, nb, len(self.names), device=self.device)
        self.fin_ys = torch.full((self.B, nb, self.Lmax + 1), eos, dtype=torch.long, device=self.device)
        self.fin_len = torch.zeros(self.B, nb, dtype=torch.long, device=self.device)
        self.fin_cut = torch.zeros(self.B, nb, dtype=torch.bool, device=self.device)
        self.monotone = opts.penalty <= 0 and not opts.length_norm and all(w >= 0 for w in weights.values())

    def candidates(self, step: int):
        """Score every row's extensions -> (cand (N, K) or None, cand_scores (N, K), step parts, pending)."""
        N = self.prev.numel()
        wsum = torch.zeros(N, self.V, device=self.device)
        logps, new_states = {}, {}
        for name, sc in self.full.items():
            lp, st = sc.score(self.prev, self.states[name])  # (N, V)
            logps[name], new_states[name] = lp, st
            w = self.weights.get(name, 0.0)
            if w != 0.0:
                wsum = wsum + w * lp
        wsum[:, self.blank] = NEG_INF
        cols = torch.arange(self.V, device=self.device)
        no_end = step < self.row_min  # (N,)
        force_end = step >= self.row_max  # (N,)
        self.trim: Optional[Tensor] = None  # (N,) tokens an ended row drops (store_finished); None: none
        for name, sc in self.full.items():
            looped = sc.must_end(new_states[name])
            if looped is not None:
                force_end = force_end | looped
                trim = sc.end_trim(new_states[name])
                if trim is not None:
                    trim = trim.masked_fill(~looped, 0)
                    self.trim = trim if self.trim is None else torch.maximum(self.trim, trim)
        if self.opts.eos_threshold > 0:
            best_other = wsum.masked_fill((cols == self.eos)[None], NEG_INF).max(dim=1).values  # (N,)
            no_end = no_end | (wsum[:, self.eos] < self.opts.eos_threshold * best_other)
        no_end = no_end & ~force_end  # a hypothesis made to end may always end
        wsum = wsum.masked_fill(no_end[:, None] & (cols == self.eos)[None], NEG_INF)
        wsum = wsum.masked_fill(force_end[:, None] & (cols != self.eos)[None], NEG_INF)
        pending = None
        if self.ctc is not None:
            cand = wsum.topk(self.K, dim=1).indices  # (N, K) pre-beam
            cscore, pending = self.ctc.score_partial(cand, self.states["ctc"], step)
            cand_scores = wsum.gather(1, cand) + self.weights["ctc"] * cscore
        else:
            cand, cscore = None, None
            cand_scores = wsum
        return cand, cand_scores, logps, cscore, new_states, pending

    def advance(self, parent: Tensor, kidx: Tensor, cand, logps, cscore, new_states, pending, step: int) -> Tensor:
        """Move every row to its chosen (parent, candidate); returns the chosen tokens (N,)."""
        K = self.K if cand is not None else self.V
        flat = parent * K + kidx
        token = cand.reshape(-1).index_select(0, flat) if cand is not None else kidx
        parts = [logps[n].reshape(-1).index_select(0, parent * self.V + token) for n in self.full]
        if cscore is not None:
            parts.append(cscore.reshape(-1).index_select(0, flat))
        self.parts = self.parts.index_select(0, parent) + torch.stack(parts, dim=1)
        self.ys = self.ys.index_select(0, parent)
        self.ys[:, step] = token
        self.row_trim = None if self.trim is None else self.trim.index_select(0, parent)
        for name, sc in self.full.items():
            self.states[name] = sc.reorder(new_states[name], parent)
        if self.ctc is not None:
            self.states["ctc"] = self.ctc.select(self.states["ctc"], pending, flat)
        self.prev = token
        return token

    def store_finished(self, score: Tensor, ended: Tensor, step: int) -> None:
        """Merge rows that just ended (score (Ba, W), ended (Ba, W)) into the n-best store."""
        Ba, W = score.shape
        key = score / (step + 1) if self.opts.length_norm else score
        key = key.masked_fill(~ended, NEG_INF)
        act = self.active
        nb = self.fin_key.size(1)
        keys = torch.cat([self.fin_key[act], key], dim=1)  # (Ba, nb + W)
        best = keys.topk(nb, dim=1).indices  # (Ba, nb)
        self.fin_key[act] = keys.gather(1, best)
        self.fin_score[act] = torch.cat([self.fin_score[act], score], 1).gather(1, best)
        S = self.parts.size(1)
        parts = torch.cat([self.fin_parts[act], self.parts.view(Ba, W, S)], 1)
        self.fin_parts[act] = parts.gather(1, best[:, :, None].expand(Ba, nb, S))
        L = self.ys.size(1)
        ys = torch.cat([self.fin_ys[act], self.ys.view(Ba, W, L)], 1)
        self.fin_ys[act] = ys.gather(1, best[:, :, None].expand(Ba, nb, L))
        # A hypothesis a scorer made to end (an attention loop) drops the tokens it emitted inside
        # the loop; its score keeps them (they were what the search ranked it by).
        if self.row_trim is None:
            ended_len = torch.full((Ba, W), step, dtype=torch.long, device=self.device)
        else:
            ended_len = (step - self.row_trim.view(Ba, W)).clamp(min=0)
        lens = torch.cat([self.fin_len[act], ended_len], 1)
        self.fin_len[act] = lens.gather(1, best)
        # Ended at the maximum length, where <eos> is the only token left: the output may be cut
        # short (a maxlenratio too low for the model's tokens, or a loop), which the caller says.
        cut = (step >= self.row_max).view(Ba, W)
        self.fin_cut[act] = torch.cat([self.fin_cut[act], cut], 1).gather(1, best)

    def prune(self, running: Tensor) -> Tensor:
        """Exact early stop: once scores can only fall, an utterance whose n-th best finished
        hypothesis beats all its running ones is done."""
        if not self.monotone:
            return running
        done = self.fin_key[self.active][:, -1] >= running.max(dim=1).values  # (Ba,)
        return running.masked_fill(done[:, None], NEG_INF)

    def compact(self, keep_utt: Tensor) -> None:
        """Drop the utterances that stopped: keep_utt (Ba,) bool over the active ones."""
        idx = keep_utt.nonzero().squeeze(1)
        rows = (idx[:, None] * self.W + torch.arange(self.W, device=self.device)[None]).reshape(-1)
        self.active = self.active.index_select(0, idx)
        for name, sc in self.full.items():
            self.states[name] = sc.reorder(self.states[name], rows)
            sc.drop_utterances(rows)
        if self.ctc is not None:
            self.states["ctc"] = self.ctc.reorder(self.states["ctc"], rows)
        self.prev = self.prev.index_select(0, rows)
        self.ys = self.ys.index_select(0, rows)
        self.parts = self.parts.index_select(0, rows)
        self.row_min = self.row_min.index_select(0, rows)
        self.row_max = self.row_max.index_select(0, rows)

    def result(self, steps: int) -> SearchResult:
        key, score = self.fin_key.cpu(), self.fin_score.cpu()
        parts, ys, lens, cut = self.fin_parts.cpu(), self.fin_ys.cpu(), self.fin_len.cpu(), self.fin_cut.cpu()
        out: List[List[Hypothesis]] = []
        for b in range(self.B):
            hyps = []
            for j in range(key.size(1)):
                if key[b, j] == NEG_INF:
                    continue
                hyps.append(Hypothesis(tokens=ys[b, j, :lens[b, j]].tolist(), score=float(score[b, j]),
                                       scores={n: float(parts[b, j, s]) for s, n in enumerate(self.names)},
                                       ended=not bool(cut[b, j])))
            out.append(hyps)
        return SearchResult(hyps=out, steps=steps)


def beam_search(full: Dict[str, FullScorer], ctc: Optional[CTCScorer], weights: Dict[str, float],
                enc_lens: Tensor, opts: SearchOptions, vocab_size: int, sos: int, eos: int, blank: int = 0
                ) -> SearchResult:
    """Beam search for a batch of utterances whose encoder lengths are ``enc_lens`` (B,).

    ``full`` maps names to full scorers (``att``, ``lm``), ``ctc`` is the partial scorer or
    None, and ``weights`` maps the same names to their weights.
    """
    W = max(1, opts.beam)
    s = _Search(full, ctc, weights, enc_lens, opts, W, vocab_size, sos, eos, blank)
    running = torch.full((s.B, W), NEG_INF, device=s.device)
    running[:, 0] = 0.0  # one empty hypothesis per utterance, not W copies of it
    step = 0
    for step in range(s.Lmax + 1):
        Ba = running.size(0)
        cand, cand_scores, logps, cscore, new_states, pending = s.candidates(step)
        K = cand_scores.size(1)
        total = running.view(-1, 1) + cand_scores + s.opts.penalty  # (N, K)
        top, top_i = total.view(Ba, W * K).topk(W, dim=1)  # (Ba, W)
        base = (torch.arange(Ba, device=s.device) * W)[:, None]
        parent = (base + torch.div(top_i, K, rounding_mode="floor")).view(-1)
        token = s.advance(parent, (top_i % K).view(-1), cand, logps, cscore, new_states, pending, step)
        valid = top > NEG_INF
        ended = (token.view(Ba, W) == s.eos) & valid
        s.store_finished(top, ended, step)
        running = s.prune(top.masked_fill(ended | ~valid, NEG_INF))
        searching = (running > NEG_INF).any(dim=1)  # (Ba,)
        n = int(searching.sum())  # the one host sync per step
        if n == 0:
            break
        if n < Ba:
            s.compact(searching)
            running = running[searching]
    return s.result(step + 1)


def greedy_search(full: Dict[str, FullScorer], ctc: Optional[CTCScorer], weights: Dict[str, float],
                  enc_lens: Tensor, opts: SearchOptions, vocab_size: int, sos: int, eos: int, blank: int = 0
                  ) -> SearchResult:
    """The best extension at every step, batched over utterances (the same scores as a beam of 1)."""
    s = _Search(full, ctc, weights, enc_lens, opts, 1, vocab_size, sos, eos, blank)
    score = torch.zeros(s.B, device=s.device)
    step = 0
    for step in range(s.Lmax + 1):
        cand, cand_scores, logps, cscore, new_states, pending = s.candidates(step)
        best, kidx = cand_scores.max(dim=1)  # (Ba,)
        parent = torch.arange(score.numel(), device=s.device)
        token = s.advance(parent, kidx, cand, logps, cscore, new_states, pending, step)
        score = score + best + s.opts.penalty
        valid = score > NEG_INF
        ended = (token == s.eos) & valid
        s.store_finished(score[:, None], ended[:, None], step)
        searching = ~ended & valid
        n = int(searching.sum())
        if n == 0:
            break
        if n < score.numel():
            s.compact(searching)
            score = score[searching]
    return s.result(step + 1)
