"""From features (or audio) to text with a packed model: the library behind asrkit-decode.

    rec = Recognizer.from_files("exp/x/model.pt", DecodeConfig(beam=10, ctc_weight=0.3),
                                lm_path="exp/lm/lm.pt")           # loads the model (and the LM)
    results = rec.decode([("utt1", feats1), ("utt2", feats2)])   # feats: (T, D) before CMVN
    feats = rec.features(samples, 16000, "utt3")                  # fbank with the packed config

A Recognizer over objects already loaded (a Package, an LSTMLM) is ``Recognizer(pkg, config,
lm)``. Utterances are decoded ``batch_size`` at a time, longest first (so a batch holds similar
lengths), and returned in the order given.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from asrkit.decoding.beam_search import Hypothesis, beam_search, greedy_search
from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.scorers import AttentionScorer, CTCScorer, LMScorer
from asrkit.utils.device import resolve_device
from asrkit.utils.errors import AsrkitError

log = logging.getLogger("decode")


@dataclass
class UttResult:
    utt_id: str
    hyps: List[Hypothesis]  # best first
    texts: List[str]
    num_frames: int
    steps: int  # decoder steps of the batch it was decoded in


class Recognizer:
    @classmethod
    def from_files(cls, model_path: Union[str, os.PathLike], config: DecodeConfig,
                   lm_path: Optional[Union[str, os.PathLike]] = None, device: Optional[str] = None) -> "Recognizer":
        """Load model.pt (and ``lm_path`` when ``config.lm_weight`` > 0) onto ``device`` (default:
        ``config.device``); an LM of another token list than the model's is refused."""
        from asrkit.models.lm import load_lm
        from asrkit.models.package import load_package

        dev = resolve_device(device or config.device)
        pkg = load_package(model_path, dev)
        lm = None
        if lm_path and config.lm_weight > 0:
            lm = load_lm(lm_path, dev, tokens=pkg.tokens)
        elif lm_path:
            log.info("lm_weight is 0: %s is not used", lm_path)
        return cls(pkg, config, lm)

    def __init__(self, package, config: DecodeConfig, lm=None) -> None:
        self.pkg = package
        self.model = package.model
        self.config = config
        self.device = next(self.model.parameters()).device
        self.lm = lm if (lm is not None and config.lm_weight > 0) else None
        ctc_weight = config.ctc_weight
        if ctc_weight > 0 and getattr(self.model, "ctc", None) is None:
            log.warning("the model has no CTC branch: decoding with ctc_weight 0 instead of %g", ctc_weight)
            ctc_weight = 0.0
        if config.lm_weight > 0 and lm is None:
            raise AsrkitError(f"lm_weight is {config.lm_weight} but no LM was given (--lm exp/lm/lm.pt)")
        self.weights = {"att": 1.0 - ctc_weight, "ctc": ctc_weight}
        if self.lm is not None:
            self.weights["lm"] = config.lm_weight
        self.opts = config.search_options(ctc_weight)
        self.max_backtrack = config.guards(ctc_weight)[1]
        self.V = self.model.vocab_size
        self.eos = self.model.eos

    @property
    def frame_shift_s(self) -> float:
        """Seconds per input frame (for real-time factors): the packed fbank's shift, else Kaldi's 10 ms."""
        fbank = self.pkg.meta.feature_config
        return (fbank.frame_shift if fbank is not None else 10.0) / 1000.0

    def normalize(self, feats: np.ndarray) -> np.ndarray:
        """Apply the CMVN packed in the model (if any) to raw features (T, D)."""
        if feats.ndim != 2 or feats.shape[1] != self.pkg.meta.idim:
            raise AsrkitError(f"features are {tuple(feats.shape)}, the model expects (T, {self.pkg.meta.idim})")
        if self.pkg.meta.cmvn is None:
            return feats.astype(np.float32, copy=False)
        from asrkit.features.cmvn import apply_cmvn

        meta = self.pkg.meta
        return np.asarray(apply_cmvn(feats, meta.cmvn, norm_vars=meta.cmvn_norm_vars), dtype=np.float32)

    def features(self, samples: np.ndarray, sample_rate: int, utt_id: str) -> np.ndarray:
        """Fbank with the packed feature config (raw: :meth:`normalize` applies the CMVN, as for --feats)."""
        from asrkit.features.fbank import compute_fbank

        if self.pkg.meta.feature_config is None:
            raise AsrkitError("the model holds no feature config, so it cannot decode audio; use --feats")
        if samples.size == 0:
            raise AsrkitError(f"utterance {utt_id!r}: empty audio")
        return compute_fbank(samples, sample_rate, self.pkg.meta.feature_config, utt_id=utt_id)

    @torch.inference_mode()
    def decode_normalized(self, batch: Sequence[Tuple[str, np.ndarray]]) -> List[UttResult]:
        """One batch of (utt_id, normalized feats (T, D)) -> results in the same order."""
        lens = torch.tensor([f.shape[0] for _, f in batch])
        x = torch.zeros(len(batch), int(lens.max()), self.pkg.meta.idim)
        for i, (_, f) in enumerate(batch):
            x[i, :f.shape[0]] = torch.from_numpy(np.ascontiguousarray(f))
        x, lens = x.to(self.device), lens.to(self.device)
        enc, enc_lens = self.model.encode(x, lens)  # (B, T', H), (B,)
        full = {"att": AttentionScorer(self.model, enc, enc_lens, self.max_backtrack)}
        if self.lm is not None:
            full["lm"] = LMScorer(self.lm)
        ctc = None
        if self.weights["ctc"] > 0:
            ctc = CTCScorer(self.model.ctc_log_probs(enc), enc_lens, blank=0, eos=self.eos)
        search = greedy_search if self.config.mode == "greedy" else beam_search
        res = search(full, ctc, self.weights, enc_lens, self.opts, self.V, sos=self.eos, eos=self.eos, blank=0)
        out = []
        for (utt, f), hyps in zip(batch, res.hyps):
            texts = [self.text(h.tokens) for h in hyps]
            out.append(UttResult(utt, hyps, texts, f.shape[0], res.steps))
        return out

    def text(self, tokens: List[int]) -> str:
        tok = self.pkg.tokenizer
        if tok is not None:
            return tok.decode(tokens)
        return " ".join(self.pkg.tokens[t] for t in tokens)

    def decode(self, items: Sequence[Tuple[str, np.ndarray]], normalized: bool = False) -> List[UttResult]:
        """Decode (utt_id, feats (T, D)) pairs in batches of config.batch_size, longest first."""
        feats = [(u, f if normalized else self.normalize(f)) for u, f in items]
        order = sorted(range(len(feats)), key=lambda i: -feats[i][1].shape[0])
        results: List[Optional[UttResult]] = [None] * len(feats)
        bs = self.config.batch_size
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            for i, r in zip(idx, self.decode_normalized([feats[i] for i in idx])):
                results[i] = r
        return results  # type: ignore[return-value]
