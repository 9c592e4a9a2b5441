"""Vectorized CTC prefix scoring (Watanabe et al. 2017; the idea of ESPnet's CTCPrefixScoreTH).

For a hypothesis ``g`` and a candidate token ``c`` the prefix score is the log probability,
under the CTC posteriors, of every label sequence that *starts with* ``g + c``::

    psi(g + c) = log sum_t phi_{t-1}(g, c) * x_t(c)

where ``phi`` is the forward probability of ``g`` ending at frame t-1 (excluding the paths
that end on ``c`` itself when ``c`` repeats ``g``'s last token, since CTC would merge them).
``psi(g + <eos>)`` is the probability of exactly ``g``. The beam search adds the difference
``psi(g + c) - psi(g)`` per step, so a finished hypothesis carries its full CTC log-likelihood.

Everything is batched over all hypotheses of all utterances (rows ``N = B * beam``) and over
the ``K`` candidates of each row; the only Python loop is over frames. Each utterance keeps its
own length: frames past it get ``log x(blank) = 0`` and ``-inf`` elsewhere, which leaves every
forward variable and the final ``<eos>`` score exactly as if the padding were not there.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

NEG_INF = float("-inf")


@dataclass
class CTCPrefixState:
    """Per-row CTC forward variables of the hypotheses in the beam."""

    r: torch.Tensor  # (T, 2, N): log forward prob of the prefix ending at t in a non-blank (0) / blank (1)
    log_psi: torch.Tensor  # (N,): log prefix probability of each row's hypothesis
    last: torch.Tensor  # (N,): last token of each row's hypothesis, -1 for the empty one
    utt: torch.Tensor  # (N,): the utterance each row belongs to (rows of x)


class CTCPrefixScorer:
    """Prefix scores of candidate tokens for all hypotheses at once.

    ``log_probs`` (B, T, V) are the CTC posteriors and ``lens`` (B,) each utterance's number of
    valid frames. ``eos`` is scored as the end of the hypothesis (the probability of exactly it).

    >>> x = torch.randn(1, 5, 4).log_softmax(-1)
    >>> s = CTCPrefixScorer(x, torch.tensor([5]), blank=0, eos=3)
    >>> st = s.init_state(torch.tensor([0]))
    >>> scores, new = s.score(st, torch.tensor([[1, 2, 3]]), step=0)
    >>> scores.shape
    torch.Size([1, 3])
    """

    def __init__(self, log_probs: torch.Tensor, lens: torch.Tensor, blank: int, eos: int) -> None:
        B, T, V = log_probs.shape
        lens = lens.to(log_probs.device)
        pad = torch.arange(T, device=log_probs.device)[None, :] >= lens[:, None]  # (B, T)
        x = log_probs.float().masked_fill(pad[:, :, None], NEG_INF)
        x[:, :, blank] = x[:, :, blank].masked_fill(pad, 0.0)
        self.x = x.transpose(0, 1).contiguous()  # (T, B, V)
        self.T = T
        self.blank = blank
        self.eos = eos

    def init_state(self, utt: torch.Tensor) -> CTCPrefixState:
        """The empty hypothesis (just ``<sos>``) for rows belonging to utterances ``utt`` (N,)."""
        xb = self.x[:, :, self.blank].index_select(1, utt)  # (T, N)
        r = torch.full((self.T, 2, utt.numel()), NEG_INF, device=self.x.device)
        r[:, 1] = torch.cumsum(xb, dim=0)
        log_psi = torch.zeros(utt.numel(), device=self.x.device)
        last = torch.full((utt.numel(),), -1, dtype=torch.long, device=self.x.device)
        return CTCPrefixState(r=r, log_psi=log_psi, last=last, utt=utt)

    def score(self, state: CTCPrefixState, cand: torch.Tensor, step: int):
        """Score candidates ``cand`` (N, K) extending each row's hypothesis of ``step`` tokens.

        Returns ``(delta (N, K), pending)``: ``delta = psi(g + c) - psi(g)`` and what
        :meth:`select` needs to build the state of the chosen extensions.
        """
        T, N, K = self.T, cand.size(0), cand.size(1)
        # Gather each row's candidate columns straight from its utterance's posteriors.
        xs = self.x.index_select(1, state.utt).gather(2, cand[None].expand(T, N, K))  # (T, N, K)
        xb = self.x[:, :, self.blank].index_select(1, state.utt)  # (T, N)
        r_sum = torch.logaddexp(state.r[:, 0], state.r[:, 1])  # (T, N)
        same = cand == state.last[:, None]  # (N, K)
        # phi: the prefix g may end at t-1 in anything, unless c repeats g's last label.
        log_phi = torch.where(same[None], state.r[:, 1, :, None], r_sum[:, :, None])  # (T, N, K)
        r = torch.full((T, 2, N, K), NEG_INF, device=xs.device)
        if step == 0:
            r[0, 0] = xs[0]
        start = max(step, 1)  # a prefix of step+1 labels cannot end before frame `step`
        if start < T:
            for t in range(start, T):
                r[t, 0] = torch.logaddexp(r[t - 1, 0], log_phi[t - 1]) + xs[t]
                r[t, 1] = torch.logaddexp(r[t - 1, 0], r[t - 1, 1]) + xb[t, :, None]
            log_psi = torch.logsumexp(
                torch.cat([log_phi[start - 1:T - 1] + xs[start:], r[start - 1, 0][None]], dim=0), dim=0
            )  # (N, K)
        elif start - 1 < T:  # a single frame: only the first label can be emitted, at frame 0
            log_psi = r[start - 1, 0]
        else:
            log_psi = torch.full((N, K), NEG_INF, device=xs.device)
        # <eos>: the probability that the labels are exactly g (ends at the last valid frame).
        log_psi = torch.where(cand == self.eos, r_sum[-1][:, None].expand(N, K), log_psi)
        prev = state.log_psi[:, None]
        delta = torch.where(prev > NEG_INF, log_psi - prev, torch.full_like(log_psi, NEG_INF))
        return delta, (r, log_psi, cand)

    def select(self, state: CTCPrefixState, pending, flat: torch.Tensor) -> CTCPrefixState:
        """State of the chosen extensions; ``flat`` (N',) indexes ``parent_row * K + k``."""
        r, log_psi, cand = pending
        T, _, N, K = r.shape
        return CTCPrefixState(
            r=r.reshape(T, 2, N * K).index_select(2, flat),
            log_psi=log_psi.reshape(N * K).index_select(0, flat),
            last=cand.reshape(N * K).index_select(0, flat),
            utt=state.utt.index_select(0, torch.div(flat, K, rounding_mode="floor")),
        )

    def reorder(self, state: CTCPrefixState, rows: torch.Tensor) -> CTCPrefixState:
        """Keep rows ``rows`` (expanding to beams, or dropping finished utterances)."""
        return CTCPrefixState(r=state.r.index_select(2, rows), log_psi=state.log_psi.index_select(0, rows),
                              last=state.last.index_select(0, rows), utt=state.utt.index_select(0, rows))
