"""A small LAS learns 8 real yesno recordings to zero greedy errors within a few hundred CPU steps.

Real speech (Kaldi's waves_yesno, 8 kHz), Kaldi fbank through torchaudio, global mean/variance
normalisation, characters as tokens (blank 0, unk 1, ..., <sos/eos> last, as docs/contracts.md
lays out ids). This proves listener, location attention, speller and CTC learn together; it is
the model half of issue 3's overfit check (the trainer has its own end-to-end one).
"""
from __future__ import annotations

import time
import wave

import numpy as np
import torch
import torchaudio

from asrkit.models.las import LAS, LASConfig

CHARS = ["<blank>", "<unk>", " ", "E", "N", "O", "S", "Y", "<sos/eos>"]
MAX_STEPS = 400


def _load(yesno_root, n=8):
    files = sorted(yesno_root.rglob("*.wav"))[:n]
    assert len(files) == n, f"expected {n} yesno waves under {yesno_root}"
    feats, ys = [], []
    for path in files:
        with wave.open(str(path)) as w:
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)
            rate = w.getframerate()
        fb = torchaudio.compliance.kaldi.fbank(torch.from_numpy(samples)[None], num_mel_bins=23,
                                               sample_frequency=rate, dither=0.0)  # (T, 23)
        feats.append(fb)
        text = " ".join("YES" if c == "1" else "NO" for c in path.stem.split("_"))
        ys.append([CHARS.index(c) for c in text])
    stacked = torch.cat(feats)
    mean, std = stacked.mean(0), stacked.std(0)
    feats = [(f - mean) / std for f in feats]
    feat_lens = torch.tensor([len(f) for f in feats])
    y_lens = torch.tensor([len(y) for y in ys])
    padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True)
    ys_padded = torch.nn.utils.rnn.pad_sequence([torch.tensor(y) for y in ys], batch_first=True, padding_value=-1)
    return padded, feat_lens, ys_padded, y_lens, ys


def _greedy(model, feats, feat_lens, max_len=40):
    """Batched greedy search through the decoder interface the beam search uses."""
    model.eval()
    with torch.no_grad():
        enc, enc_lens = model.encode(feats, feat_lens)
        memory, state = model.init_decoder(enc, enc_lens)
        prev = torch.full((feats.size(0),), model.sos)
        steps = []
        for _ in range(max_len):
            logp, state, _ = model.decode_step(prev, state, memory)
            prev = logp.argmax(-1)
            steps.append(prev)
    model.train()
    hyps = []
    for row in torch.stack(steps, 1).tolist():
        hyps.append(row[:row.index(model.eos)] if model.eos in row else row)
    return hyps


def test_small_las_overfits_eight_yesno_utterances(yesno_root):
    feats, feat_lens, ys, y_lens, refs = _load(yesno_root)
    torch.manual_seed(0)
    config = LASConfig.from_dict({
        "listener": {"vgg": False, "hidden": 48, "proj": 48, "subsample": [4, 2]},
        "attention": {"type": "location", "dim": 48, "conv_channels": 4, "conv_width": 10},
        "speller": {"hidden": 48, "embed": 16},
        "ctc_weight": 0.5,
    })
    model = LAS(feats.size(2), len(CHARS), config).train()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    start = time.monotonic()
    errors, history = len(refs), []
    for step in range(1, MAX_STEPS + 1):
        out = model(feats, feat_lens, ys, y_lens)
        opt.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if step % 20 == 0:
            hyps = _greedy(model, feats, feat_lens)
            errors = sum(h != r for h, r in zip(hyps, refs))
            history.append((step, round(float(out.loss.detach()), 2), errors))
            if errors == 0:
                break
    print(f"overfit: {step} steps, {time.monotonic() - start:.1f} s, (step, loss, wrong utts): {history}")
    assert errors == 0, f"still {errors}/8 utterances wrong after {MAX_STEPS} steps: {history}"
