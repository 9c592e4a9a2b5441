"""Listen, Attend and Spell with a joint CTC head: the model trained by asrkit-train.

The interface (docs/contracts.md) is what the trainer and the beam search use::

    model = LAS(idim, vocab_size, LASConfig())
    out = model(feats, feat_lens, ys, y_lens)            # LASOutput; out.loss is minimised
    enc, enc_lens = model.encode(feats, feat_lens)
    memory, state = model.init_decoder(enc, enc_lens)
    logp, state, att = model.decode_step(prev_tokens, state, memory)

Token ids follow docs/contracts.md: 0 is the CTC blank, V-1 is <sos/eos>; ``ys`` are padded with -1.

Scheduled sampling: ``model.teacher_forcing`` (float in [0, 1], default 1.0) is the probability
that a training step feeds the true previous token rather than the model's own greedy guess;
the trainer lowers it on its schedule (or ``forward(..., teacher_forcing=r)`` overrides it for
one call). At 1.0 the output layer runs once on the whole sequence instead of once per step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asrkit.features.specaug import SpecAugment
from asrkit.models.config import AttentionConfig, LASConfig, ListenerConfig, SpecAugConfig, SpellerConfig
from asrkit.models.ctc import CTCHead
from asrkit.models.listener import Listener
from asrkit.models.speller import Speller
from asrkit.models.targets import IGNORE_ID, decoder_targets

__all__ = ["LAS", "LASConfig", "LASOutput", "select_batch", "AttentionConfig", "ListenerConfig", "SpecAugConfig",
           "SpellerConfig"]

Tree = Union[Tensor, Dict[str, Any], list, tuple]


@dataclass
class LASOutput:
    """What ``LAS.forward`` returns. Scalars are 0-dim tensors (no host sync in the forward)."""

    loss: Tensor                     # mean over utterances of loss_utt: what training minimises
    loss_att: Tensor                 # mean over utterances of the summed attention cross-entropy
    loss_ctc: Optional[Tensor]       # mean over utterances of the CTC loss (None without CTC)
    acc: Tensor                      # attention token accuracy (teacher forced), <eos> included
    loss_utt: Tensor                 # (B,) per-utterance a*ctc + (1-a)*att, summed over tokens
    num_tokens: Tensor               # number of predicted tokens (labels + one <eos> each)


def digital_silence(feats: Tensor, valid: Optional[Tensor] = None) -> Tensor:
    """(B, T, 1) bool: the frames of log-mel ``feats`` (B, T, D) that are digital silence, the
    fbank's log floor in every bin. Any per-bin CMVN or level shift keeps the floor each bin's
    lowest value, so they are the frames lowest in every bin of their utterance (its ``valid``
    (B, T, 1) frames; default all); no frame with sound in it is lowest everywhere."""
    if valid is None:
        valid = torch.ones(feats.shape[0], feats.shape[1], 1, dtype=torch.bool, device=feats.device)
    lowest = torch.where(valid, feats, torch.full_like(feats, float("inf"))).amin(1, keepdim=True)  # (B, 1, D)
    return (feats == lowest).all(-1, keepdim=True) & valid


def loud_frames(feats: Tensor, frames: Tensor) -> Tensor:
    """(B, T, 1) bool: each utterance's loud ``frames`` (B, T, 1) bool, at least one each: those
    whose mean over the feature dims lies at or above the midpoint of its 2nd and 98th
    percentiles over ``frames``. Speech and the pauses or room tone around it lie tens of dB apart,
    so the midpoint parts them whatever their shares of the utterance (a median would not: 1 s of
    room tone around a 0.5 s digit is most of the frames). Midway between two of its own
    quantiles: any level shift, per-bin offset or scale of the level leaves it the same."""
    level = feats.mean(-1, keepdim=True)                                              # (B, T, 1)
    masked = torch.where(frames, level, torch.full_like(level, float("nan")))
    q = torch.nanquantile(masked, torch.tensor([0.02, 0.98], dtype=level.dtype, device=level.device),
                          dim=1, keepdim=True)                                          # (2, B, 1, 1)
    return frames & (level >= (q[0] + q[1]) / 2)


class LAS(nn.Module):
    # The modules whose parameters are indexed by token id (embedding rows, output and CTC
    # classes): they mean something only with the token list they were trained with.
    TOKEN_MODULES = ("speller.embed", "speller.output", "ctc")

    def __init__(self, idim: int, vocab_size: int, config: Optional[LASConfig] = None) -> None:
        super().__init__()
        config = config or LASConfig()
        self.idim, self.vocab_size, self.config = idim, vocab_size, config
        self.sos = self.eos = vocab_size - 1
        self.specaug = SpecAugment(config.specaug) if config.specaug is not None else None
        self.listener = Listener(idim, config.listener)
        self.speller = Speller(vocab_size, self.listener.odim, config.speller, config.attention)
        self.ctc = CTCHead(self.listener.odim, vocab_size) if config.ctc_weight > 0 else None
        self.teacher_forcing = 1.0
        if config.init == "lecun":
            self._lecun_init()

    def _lecun_init(self) -> None:
        """ESPnet's ``lecun_normal_init_parameters`` + ``set_forget_bias_to_one`` for the speller.

        A forget gate that starts open lets the speller carry its state over many steps from the
        first updates, which is what ESPnet relies on for its RNN decoders.
        """
        for name, p in self.named_parameters():
            if name.endswith("bias") or ".bias_" in name or name.startswith("bias_"):
                nn.init.zeros_(p)
            elif p.dim() > 1:  # Linear (out, in), LSTM (4H, in), Conv (out, in, k...): fan-in = all but dim 0
                nn.init.normal_(p, std=p[0].numel() ** -0.5)
        nn.init.normal_(self.speller.embed.weight, std=1.0)
        for cell in self.speller.cells:
            h = cell.hidden_size
            with torch.no_grad():
                cell.bias_ih[h:2 * h].fill_(1.0)  # gates are ordered input, forget, cell, output

    # -- encoder ---------------------------------------------------------------------------
    def normalize(self, feats: Tensor, feat_lens: Tensor) -> Tensor:
        """feats (B, T, D) -> the same with ``utt_mean_norm`` applied (padding left as it is).

        The mean leaves out frames of digital silence (:func:`digital_silence`). Zeros around a
        recording (an editor's or recorder's padding) hold no level and no spectrum, yet counted
        they pulled the mean ~12 nats down per second
        of them against a 1-3 s FSDD utterance: the FSDD theo model went from 9.5 to 123 % WER
        with 1 s on each side (bench/presentation_robustness.py). A recording with none is
        normalised as before. With ``utt_mean_frames: loud`` only the louder half of the rest
        counts (:func:`loud_frames`).
        """
        if not self.config.utt_mean_norm:
            return feats
        valid = (torch.arange(feats.shape[1], device=feats.device)[None, :]
                 < feat_lens.to(feats.device)[:, None]).unsqueeze(-1)                  # (B, T, 1)
        kept = valid & ~digital_silence(feats, valid)
        # An utterance of nothing but digital silence keeps every frame (a mean of nothing is NaN).
        kept = torch.where(kept.any(1, keepdim=True), kept, valid)
        if self.config.utt_mean_frames == "loud":
            kept = kept & loud_frames(feats, kept)
        mean = (feats * kept).sum(1, keepdim=True) / kept.sum(1, keepdim=True).to(feats).clamp(min=1)  # (B, 1, D)
        return torch.where(valid, feats - mean, feats)

    def encode(self, feats: Tensor, feat_lens: Tensor) -> Tuple[Tensor, Tensor]:
        """feats (B, T, D), feat_lens (B,) -> enc (B, T', H), enc_lens (B,). No SpecAugment."""
        return self.listener(self.normalize(feats, feat_lens), feat_lens)

    def ctc_log_probs(self, enc: Tensor) -> Tensor:
        """enc (B, T', H) -> CTC log-probs (B, T', V); only for a model with ctc_weight > 0."""
        if self.ctc is None:
            raise RuntimeError("this model has no CTC head (ctc_weight is 0)")
        return self.ctc.log_probs(enc)

    # -- decoder ---------------------------------------------------------------------------
    def init_decoder(self, enc: Tensor, enc_lens: Tensor) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """-> (memory, state), dicts of tensors with the batch in dim 0 (see select_batch).

        memory: ``enc`` (N, T', H), ``mask_bias`` (N, T') (0 / -inf), ``att_keys`` (the key
        projection, computed once here) and for multihead ``att_values``.
        state: ``h{i}``, ``c{i}`` per speller layer (N, Hd), ``context`` (N, H), ``att`` (N, T').
        """
        return self.speller.init(enc, enc_lens)

    def decode_step(self, prev_tokens: Tensor, state: Dict[str, Tensor], memory: Dict[str, Tensor]
                    ) -> Tuple[Tensor, Dict[str, Tensor], Tensor]:
        """prev_tokens (N,) -> (log-probs (N, V) float32, new state, attention weights (N, T'))."""
        x, state, att = self.speller.step(self.speller.embed(prev_tokens), state, memory)
        logp = F.log_softmax(self.speller.logits(x).float(), dim=-1)
        return logp, state, att

    # -- training --------------------------------------------------------------------------
    def forward(self, feats: Tensor, feat_lens: Tensor, ys: Tensor, y_lens: Tensor,
                teacher_forcing: Optional[float] = None) -> LASOutput:
        """feats (B, T, D), feat_lens (B,), ys (B, L) padded with -1, y_lens (B,) -> LASOutput."""
        feats = self.normalize(feats, feat_lens)
        if self.specaug is not None:
            feats = self.specaug(feats, feat_lens)             # identity in eval mode
        enc, enc_lens = self.listener(feats, feat_lens)        # (B, T', H); normalised above, before SpecAugment
        ys_in, ys_out = decoder_targets(ys, y_lens, self.sos, self.eos)  # (B, L+1) each

        logits = self._teacher_forced_logits(enc, enc_lens, ys_in, teacher_forcing)  # (B, L+1, V)
        ce = F.cross_entropy(logits.float().transpose(1, 2), ys_out, ignore_index=IGNORE_ID,
                             label_smoothing=self.config.label_smoothing, reduction="none")  # (B, L+1)
        att_utt = ce.sum(1)                                    # (B,)
        target = ys_out != IGNORE_ID
        num_tokens = target.sum()
        acc = ((logits.argmax(-1) == ys_out) & target).sum() / num_tokens.clamp(min=1)

        a = self.config.ctc_weight
        if self.ctc is not None:
            ctc_utt = self.ctc.loss(enc, enc_lens, ys, y_lens)  # (B,)
            loss_utt = a * ctc_utt + (1.0 - a) * att_utt
            loss_ctc: Optional[Tensor] = ctc_utt.mean()
        else:
            loss_utt, loss_ctc = att_utt, None
        return LASOutput(loss=loss_utt.mean(), loss_att=att_utt.mean(), loss_ctc=loss_ctc, acc=acc,
                         loss_utt=loss_utt, num_tokens=num_tokens)

    def _teacher_forced_logits(self, enc: Tensor, enc_lens: Tensor, ys_in: Tensor,
                               teacher_forcing: Optional[float]) -> Tensor:
        """Run the speller over ys_in (B, L+1) -> logits (B, L+1, V).

        The loop holds only the recurrent part; embeddings and (without sampling) the output
        layer run batched over all steps outside it, and nothing in it syncs with the host.
        """
        ratio = self.teacher_forcing if teacher_forcing is None else teacher_forcing
        sampling = self.training and ratio < 1.0
        memory, state = self.init_decoder(enc, enc_lens)
        emb = self.speller.embed(ys_in)                        # (B, L+1, E)
        if sampling:
            use_truth = torch.rand(ys_in.shape, device=ys_in.device) < ratio  # (B, L+1)
        outs = []
        logits_steps = []
        for i in range(ys_in.size(1)):
            e = emb[:, i]
            if sampling and i > 0:
                guess = logits_steps[-1].argmax(-1)            # (B,) the model's previous token
                e = torch.where(use_truth[:, i, None], e, self.speller.embed(guess))
            x, state, _ = self.speller.step(e, state, memory)  # (B, Hd+H)
            if sampling:
                logits_steps.append(self.speller.logits(x))
            else:
                outs.append(x)
        if sampling:
            return torch.stack(logits_steps, dim=1)
        return self.speller.logits(torch.stack(outs, dim=1))  # (B, L+1, V)


def select_batch(tree: Tree, idx: Tensor) -> Tree:
    """Pick rows ``idx`` of every tensor in a (nested) dict/list/tuple along dim 0.

    How beam search expands (``idx`` repeats rows) and reorders (``idx`` = source beam of each
    hypothesis) the decoder ``memory`` and ``state``.
    """
    if isinstance(tree, Tensor):
        return tree.index_select(0, idx)
    if isinstance(tree, dict):
        return {k: select_batch(v, idx) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(select_batch(v, idx) for v in tree)
    return tree
