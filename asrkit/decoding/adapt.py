"""Unsupervised speaker adaptation for a second decoding pass, Kaldi's fMLLR habit for a LAS model.

Kaldi decodes an unseen speaker twice: a first pass, an affine feature transform per speaker
estimated on its hypotheses (fMLLR, ``steps/decode_fmllr.sh``), and a second pass on the
transformed features. Here the transform acts on the model's normalised features (after the
packed CMVN and the recording-level step, where :meth:`Recognizer.normalize` leaves them, so
estimation and decoding see one domain): ``x' = A x + b``, stored as Kaldi stores fMLLR
transforms, one ``D x (D+1)`` matrix ``[A | b]`` per speaker. It starts at the identity and is
trained with the model's own loss (attention + CTC, as in training) on the first pass's
hypotheses of that speaker's utterances, every weight of the model frozen, dropout and
SpecAugment off. Only the share ``keep`` of the utterances the model scores best (loss per
token on its own hypothesis, a confidence) is used: a wrong hypothesis teaches the wrong word.

Chosen on FSDD's leave-one-speaker-out folds (egs/fsdd/asr1/RESULTS.md): better on 9 of 10
held-out voices, by 0.5-4.2 points of WER, and one word worse on the tenth.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from asrkit.decoding.adapt_config import AdaptConfig
from asrkit.training.config import OptimConfig
from asrkit.training.data import collate
from asrkit.training.optim import Adam
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import progress

# (utterance id, normalised features (T, D) float32, token ids of its first-pass hypothesis)
AdaptItem = Tuple[str, np.ndarray, List[int]]


@dataclass
class AdaptResult:
    transform: np.ndarray      # (D, D+1): [A | b], float32
    used: int                  # utterances the estimate was made on
    loss_before: float         # mean loss per token on them, identity transform
    loss_after: float          # the same with the transform


def identity_transform(dim: int) -> np.ndarray:
    """``[I | 0]``: what a speaker with nothing to adapt on gets."""
    return np.hstack([np.eye(dim, dtype=np.float32), np.zeros((dim, 1), dtype=np.float32)])


def apply_transform(feats: np.ndarray, transform: np.ndarray, where: str = "") -> np.ndarray:
    """``feats`` (T, D) -> ``feats A^T + b`` with ``transform`` ``[A | b]`` (D, D+1), float32.
    Kaldi's transform-feats also takes a linear (D, D) one; so does this."""
    dim = feats.shape[1]
    if transform.ndim != 2 or transform.shape[0] != dim or transform.shape[1] not in (dim, dim + 1):
        raise AsrkitError(f"{where}transform of shape {tuple(transform.shape)} for {dim}-dim features "
                          f"(expected ({dim}, {dim + 1}) or ({dim}, {dim}))")
    out = feats.astype(np.float64) @ transform[:, :dim].T.astype(np.float64)
    if transform.shape[1] == dim + 1:
        out += transform[:, dim]
    return out.astype(np.float32)


def _batch(items: Sequence[AdaptItem], device: torch.device) -> Tuple[torch.Tensor, ...]:
    """-> feats, feat_lens, ys, y_lens on ``device``, padded as training pads them (training.data.collate)."""
    b = collate([(i, torch.from_numpy(f), t) for i, (_, f, t) in enumerate(items)]).to(device)
    return b.feats, b.feat_lens, b.ys, b.y_lens


def usable_items(items: Sequence[AdaptItem], config: AdaptConfig) -> List[AdaptItem]:
    """The utterances a transform can learn from: a hypothesis, and at most ``max_frames``."""
    return [it for it in items if it[2] and it[1].shape[0] <= config.max_frames]


def confidence_losses(model: torch.nn.Module, items: Sequence[AdaptItem], batch_size: int,
                      device: torch.device) -> np.ndarray:
    """The model's loss per token (labels + <eos>) on each item's own hypothesis, (N,): how sure it
    is of it. Batched by length: one utterance at a time, 100 AN4 test utterances took 5.2 s
    against 2.8 s (1 thread); the listener packs its batches and attention and CTC take the
    lengths, so padding changes nothing but float rounding (7e-7 relative there)."""
    out = np.empty(len(items))
    by_length = sorted(range(len(items)), key=lambda i: items[i][1].shape[0])
    with torch.no_grad():
        for start in range(0, len(by_length), batch_size):
            index = by_length[start:start + batch_size]
            loss_utt = model(*_batch([items[i] for i in index], device)).loss_utt
            out[index] = loss_utt.double().cpu().numpy() / [len(items[i][2]) + 1 for i in index]
    return out


def estimate_transform(model: torch.nn.Module, items: Sequence[AdaptItem], config: AdaptConfig,
                       device: Optional[torch.device] = None, desc: str = "adapt") -> Optional[AdaptResult]:
    """One speaker's ``[A | b]`` from its utterances; None when fewer than ``config.min_utts`` are
    usable (:func:`usable_items`). The model is left as it was (eval mode, its parameters'
    ``requires_grad`` restored). ``desc`` names the epochs' progress (the speaker)."""
    device = device or next(model.parameters()).device
    usable = usable_items(items, config)
    if not usable or len(usable) < config.min_utts:
        return None
    dim = usable[0][1].shape[1]
    was_training = model.training
    grads = [p.requires_grad for p in model.parameters()]
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(config.seed)
    try:
        # cuDNN's LSTM has no backward pass in eval mode; the transform needs one through it.
        with torch.backends.cudnn.flags(enabled=False):
            per_token = confidence_losses(model, usable, config.batch_size, device)
            order = np.argsort(per_token, kind="stable")
            chosen = [usable[i] for i in order[:max(1, int(round(len(usable) * config.keep)))]]
            weight = torch.zeros(dim, dim, device=device, requires_grad=True)   # A = I + weight^T
            bias = torch.zeros(dim, device=device, requires_grad=True)
            # asrkit's Adam, as training's: torch.optim's imports torch._dynamo (seconds, ~150 MB).
            opt = Adam([weight, bias], lr=config.lr)
            # The rate falls linearly to 0 and steps are clipped as in training: at a constant rate the
            # loss on a badly recognised voice still swung by 2x between the last epochs (FSDD nicolas:
            # 4.8 -> 9.1 per utterance), and the transform kept wherever the last step left it.
            steps = config.epochs * math.ceil(len(chosen) / config.batch_size)
            step = 0

            def mean_loss() -> float:
                total, tokens = 0.0, 0
                with torch.no_grad():
                    for start in range(0, len(chosen), config.batch_size):
                        feats, lens, ys, y_lens = _batch(chosen[start:start + config.batch_size], device)
                        out = model(feats + feats @ weight + bias, lens, ys, y_lens)
                        total += out.loss_utt.sum().item()
                        tokens += int(out.num_tokens)
                return total / max(tokens, 1)

            before = mean_loss()
            # (one speaker's epochs took minutes on a busy CPU, with no line until its end)
            for _ in progress(range(config.epochs), desc=desc, unit="epoch"):
                perm = torch.randperm(len(chosen), generator=gen).tolist()
                for start in range(0, len(chosen), config.batch_size):
                    feats, lens, ys, y_lens = _batch([chosen[i] for i in perm[start:start + config.batch_size]],
                                                     device)
                    loss = model(feats + feats @ weight + bias, lens, ys, y_lens).loss
                    opt.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_([weight, bias], OptimConfig.grad_clip)   # training's default
                    opt.param_groups[0]["lr"] = config.lr * (1.0 - step / steps)
                    opt.step()
                    step += 1
            after = mean_loss()
    finally:
        for p, g in zip(model.parameters(), grads):
            p.requires_grad_(g)
        model.train(was_training)
    a = (torch.eye(dim, device=device) + weight.detach()).T
    transform = torch.cat([a, bias.detach()[:, None]], dim=1).cpu().numpy().astype(np.float32)
    if not np.isfinite(transform).all():
        raise AsrkitError(f"the transform diverged (non-finite) on {len(chosen)} utterances: lower the learning rate "
                          f"(now {config.lr})")
    return AdaptResult(transform, len(chosen), before, after)


def group_by_speaker(items: Sequence[AdaptItem], utt2spk: Dict[str, str]) -> Dict[str, List[AdaptItem]]:
    """Speaker -> its items, speakers in the order first met."""
    groups: Dict[str, List[AdaptItem]] = {}
    for it in items:
        groups.setdefault(utt2spk[it[0]], []).append(it)
    return groups


# How asrkit-decode writes the model's <unk> in a hypothesis (sentencepiece's rendering of it).
UNK_AS_DECODED = "\u2047"


def _hypothesis_tokens(rec, utt: str, text: str, unknown) -> List[int]:
    """:func:`~asrkit.decoding.align.transcript_tokens` of a first-pass hypothesis. Its '⁇' is the
    model's own <unk>, encoded back to <unk> but not tallied in ``unknown`` (a text.tokenizer.
    UnknownTally): a first pass that emitted <unk> was warned of as "characters the tokenizer does
    not know: '⁇' x12 ...; clean the text or retrain the tokenizer on it", of the model's own output."""
    from asrkit.decoding.align import transcript_tokens

    utts, chars = len(unknown.utts), dict(unknown.chars)
    try:
        return transcript_tokens(rec, utt, text, unknown)
    finally:
        if len(unknown.utts) > utts and all(n == chars.get(c, 0) for c, n in unknown.chars.items()
                                            if c != UNK_AS_DECODED):
            del unknown.utts[utts:]
            unknown.chars = chars


def adapt_speakers(rec, inputs, hyp_text: str, utt2spk_path: str, wspecifier: str, config: AdaptConfig,
                   max_bad_percent: float) -> Dict[str, AdaptResult]:
    """asrkit-adapt-speakers: read ``inputs`` (a :class:`~asrkit.decoding.inputs.DecodeInputs`)
    normalised by ``rec`` (a :class:`~asrkit.decoding.recognizer.Recognizer`), tokenize each
    utterance's hypothesis, estimate each speaker's transform and write them to ``wspecifier``.
    Bad utterances are skipped and counted (BadItems' rule); returns the speakers' results."""
    from asrkit.data.specifier import MatrixWriter, parse_matrix_wspecifier
    from asrkit.data.table import read_table, read_utt2spk
    from asrkit.decoding.align import NothingKnown, nothing_known_message, transcript_tokens
    from asrkit.text.tokenizer import UnknownTally
    from asrkit.utils.bad_items import BadItems
    from asrkit.utils.logging import get_logger

    log = get_logger("adapt_speakers")
    # The writer opens after every utterance is read and every speaker adapted: an output that
    # cannot be written (a directory, an output pipe) was refused only then, the work lost.
    parse_matrix_wspecifier(wspecifier)
    hyps = read_table(hyp_text, allow_empty_value=True)
    utt2spk = read_utt2spk(utt2spk_path)
    # Before any audio is read: an empty one (a first pass that wrote nothing, a `> text` left
    # behind) was "all N utterances failed (first: utterance ...: no hypothesis in text)". A first
    # pass with nothing recognised still has a line per utterance (the id alone).
    for table, path, what in ((hyps, hyp_text, "no hypotheses"), (utt2spk, utt2spk_path, "no utterances")):
        if not table:
            raise AsrkitError(f"{path}: empty: {what} to adapt on")
    # (the utterances come from the features or audio: an empty wav.scp was "<hyp-text>: no
    # utterances to process", naming a text that held every hypothesis)
    tally = BadItems(log, "utterances", max_percent=max_bad_percent, source=inputs.source)
    unknown = UnknownTally()
    items: List[AdaptItem] = []
    tokenized = 0  # non-empty hypotheses that reached the tokenizer
    nothing_known: List[Optional[str]] = []  # the NothingKnown ones: the case each would be known in
    stream, total = inputs.open(rec.features)
    if inputs.feats:
        from asrkit.decoding.run import warn_if_normalized_twice

        stream = warn_if_normalized_twice(rec, stream, inputs.feats, command="asrkit-adapt-speakers")
    seen = set()
    for utt, feats, err in progress(stream, total=total, desc="adapt: read", unit="utt"):
        seen.add(utt)
        try:
            if err is not None:
                raise err
            if utt not in hyps:
                raise AsrkitError(f"utterance {utt!r}: no hypothesis in {hyp_text}")
            if utt not in utt2spk:
                raise AsrkitError(f"utterance {utt!r}: not in {utt2spk_path}")
            # As the adapted pass will see it (a take cut close gets the same edge pad).
            x = rec.prepare_whole(utt, feats).feats
            has_words = bool(hyps[utt].strip())
            tokenized += has_words
            try:
                tokens = _hypothesis_tokens(rec, utt, hyps[utt], unknown) if has_words else []
            except NothingKnown as e:
                nothing_known.append(e.case)
                tokens = []   # a hypothesis of <unk> alone teaches nothing; still transformed at decoding
        except AsrkitError as e:
            tally.skip(utt, e)
            continue
        items.append((utt, x, tokens))
        tally.ok()
    if nothing_known and len(nothing_known) == tokenized:
        # Not identity transforms for every speaker, with a warning each and exit 0: hypotheses in
        # the other case, or of another model's tokens, as asrkit-align and asrkit-train-lm refuse them.
        raise AsrkitError(nothing_known_message(str(hyp_text), tokenized, nothing_known, "hypotheses", "adapt"))
    unknown.warn(log, hyp_text)
    # A hypothesis whose utterance the features or audio lack teaches nothing: said, not dropped in
    # silence (a text of 8 gave "wrote transforms" for the 6 read). Not a failure, as in asrkit-align:
    # a whole set's text often goes with one piece of a split.
    orphans = [u for u in hyps if u not in seen]
    if orphans:
        log.warning("%s: %d hypothesis(es) have no utterance among the %d given, and are not used: %s%s", hyp_text,
                    len(orphans), len(seen), " ".join(orphans[:5]), " ..." if len(orphans) > 5 else "")
    tally.check()
    results: Dict[str, AdaptResult] = {}
    with MatrixWriter(wspecifier) as writer:
        groups = group_by_speaker(items, utt2spk)
        for i, (spk, spk_items) in enumerate(groups.items(), 1):
            result = estimate_transform(rec.model, spk_items, config, desc=f"adapt {spk!r} ({i}/{len(groups)})")
            if result is None:
                log.warning("speaker %r: %d of its %d utterances usable (a hypothesis, at most --max-frames %d "
                            "frames), fewer than --min-utts %d: identity transform", spk,
                            len(usable_items(spk_items, config)), len(spk_items), config.max_frames, config.min_utts)
                writer.write(spk, identity_transform(spk_items[0][1].shape[1]))
                continue
            if not result.loss_after < result.loss_before:
                # The identity does better on the very utterances the transform was fitted to: written
                # all the same (AN4, --lr 10: 0.36 -> 4.2 per token, exit 0), it made the second
                # pass worse than the first.
                log.warning("speaker %r: the transform raised the loss per token on the %d utterances it was fitted "
                            "to (%.4f -> %.4f): identity transform (a lower --lr may help)", spk, result.used,
                            result.loss_before, result.loss_after)
                writer.write(spk, identity_transform(spk_items[0][1].shape[1]))
                continue
            log.info("speaker %r: adapted on %d of %d utterances, loss per token %.4f -> %.4f", spk, result.used,
                     len(spk_items), result.loss_before, result.loss_after)
            writer.write(spk, result.transform)
            results[spk] = result
    log.info("wrote transforms of %d speakers to %s", len(groups), wspecifier)
    return results
