"""LAS: shapes, padding invariance, decode_step vs forward, select_batch, attentions, CTC, config."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from asrkit.models.attention import ATTENTIONS
from asrkit.models.las import LAS, LASConfig, select_batch

from tiny_las import IDIM, VOCAB, tiny_config

ATTS = sorted(ATTENTIONS)


@pytest.mark.parametrize("vgg,subsample,reduction", [(True, [1, 2], 8), (False, [1, 2, 2], 4), (True, [1], 4),
                                                     (False, [2, 2, 2], 8)])
def test_encoder_shapes_and_lengths(make_las, batch, vgg, subsample, reduction):
    model = make_las(listener={"vgg": vgg, "subsample": subsample}).eval()
    feats, feat_lens, _, _ = batch
    enc, enc_lens = model.encode(feats, feat_lens)
    assert model.listener.time_reduction == reduction
    expected = []
    for n in feat_lens.tolist():
        for k in ([2, 2] if vgg else []) + subsample:
            n = -(-n // k)  # every stage keeps a partial last window
        expected.append(n)
    assert enc_lens.tolist() == model.listener.output_lengths(feat_lens).tolist() == expected
    # the torch-free count the training data checks use (LASConfig.ctc_misfit)
    assert [model.config.listener.output_length(n) for n in feat_lens.tolist()] == expected
    assert enc.shape == (4, int(enc_lens.max()), model.listener.odim)
    # padded encoder frames are exactly zero, so nothing downstream can read junk from them
    for i, n in enumerate(enc_lens):
        assert torch.all(enc[i, n:] == 0)


def test_listener_without_projection(make_las, batch):
    model = make_las(listener={"proj": 0, "hidden": 7}).eval()
    enc, _ = model.encode(batch[0], batch[1])
    assert enc.shape[-1] == 14


def test_forward_output(make_las, batch):
    model = make_las().train()
    out = model(*batch)
    for name in ("loss", "loss_att", "loss_ctc", "acc"):
        assert getattr(out, name).dim() == 0, name
    assert out.loss_utt.shape == (4,)
    assert int(out.num_tokens) == int(batch[3].sum()) + 4  # labels + one <eos> each
    assert 0.0 <= float(out.acc) <= 1.0
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def _set_packed(model, packed):
    for layer in model.listener.layers:
        layer.packed = packed


@pytest.mark.parametrize("att,vgg,packed", [(a, v, False) for a in ATTS for v in (True, False)]
                         + [("location", True, True), ("content", False, True)])
def test_padding_does_not_change_any_utterance_loss(make_las, batch, att, vgg, packed):
    model = make_las(attention={"type": att}, listener={"vgg": vgg}).eval()
    _set_packed(model, packed)
    feats, feat_lens, ys, y_lens = batch
    out = model(feats, feat_lens, ys, y_lens)
    for i in range(len(feat_lens)):
        n, m = int(feat_lens[i]), int(y_lens[i])
        one = model(feats[i:i + 1, :n], feat_lens[i:i + 1], ys[i:i + 1, :m], y_lens[i:i + 1])
        torch.testing.assert_close(out.loss_utt[i], one.loss_utt[0], atol=1e-5, rtol=1e-5)
    # and the batch loss is the mean of the per-utterance losses
    torch.testing.assert_close(out.loss, out.loss_utt.mean())


def test_packed_and_padded_blstm_paths_agree(make_las, batch):
    """The CPU path (padded, per-utterance reversal) and the packed one (used on CUDA) are the
    same function of the same weights: outputs and gradients agree."""
    model = make_las(listener={"dropout": 0.0}).train()
    results = []
    for packed in (True, False):
        _set_packed(model, packed)
        model.zero_grad()
        out = model(*batch)
        out.loss.backward()
        enc, _ = model.encode(batch[0], batch[1])
        results.append((out.loss_utt.detach(), enc.detach(), [p.grad.clone() for p in model.parameters()]))
    (loss_a, enc_a, grads_a), (loss_b, enc_b, grads_b) = results
    torch.testing.assert_close(loss_a, loss_b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(enc_a, enc_b, atol=1e-5, rtol=1e-5)
    for ga, gb in zip(grads_a, grads_b):
        torch.testing.assert_close(ga, gb, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("att", ATTS)
def test_decode_step_reproduces_teacher_forced_forward(make_las, batch, att):
    model = make_las(attention={"type": att}, ctc_weight=0.0).eval()
    feats, feat_lens, ys, y_lens = batch
    out = model(feats, feat_lens, ys, y_lens)
    enc, enc_lens = model.encode(feats, feat_lens)
    memory, state = model.init_decoder(enc, enc_lens)
    prev = torch.full((4,), model.sos)
    nll = torch.zeros(4)
    for i in range(ys.size(1) + 1):
        logp, state, att_w = model.decode_step(prev, state, memory)
        assert logp.shape == (4, VOCAB) and att_w.shape == enc.shape[:2]
        target = torch.where(i < y_lens, ys[:, min(i, ys.size(1) - 1)], torch.full_like(y_lens, model.eos))
        live = i <= y_lens
        nll += torch.where(live, -logp.gather(1, target[:, None]).squeeze(1), torch.zeros(4))
        prev = target.clamp(min=0)
    torch.testing.assert_close(nll, out.loss_utt, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logp.exp().sum(1), torch.ones(4))


def test_select_batch_expands_and_reorders_decoder_state(make_las, batch):
    model = make_las(attention={"type": "location"}).eval()
    enc, enc_lens = model.encode(batch[0], batch[1])
    memory, state = model.init_decoder(enc, enc_lens)
    prev = torch.tensor([2, 3, 4, 5])
    logp, state1, _ = model.decode_step(prev, state, memory)
    # 3 beams per utterance, and in reverse utterance order
    idx = torch.tensor([3, 3, 3, 2, 2, 2, 1, 1, 1, 0, 0, 0])
    mem_x, state_x = select_batch(memory, idx), select_batch(state, idx)
    assert set(mem_x) == set(memory) and set(state_x) == set(state)
    assert all(v.size(0) == 12 for v in list(mem_x.values()) + list(state_x.values()))
    logp_x, state1_x, _ = model.decode_step(prev.index_select(0, idx), state_x, mem_x)
    torch.testing.assert_close(logp_x, logp.index_select(0, idx))
    for k in state1:
        torch.testing.assert_close(state1_x[k], state1[k].index_select(0, idx))
    nested = select_batch({"a": [enc, (enc_lens,)], "n": 3}, torch.tensor([1]))
    assert nested["a"][0].shape[0] == 1 and nested["a"][1][0].tolist() == [enc_lens[1].item()]
    assert nested["n"] == 3


@pytest.mark.parametrize("att", ATTS)
def test_attention_weights_are_a_distribution_over_real_frames(make_las, batch, att):
    model = make_las(attention={"type": att}).eval()
    enc, enc_lens = model.encode(batch[0], batch[1])
    memory, state = model.init_decoder(enc, enc_lens)
    prev = torch.full((4,), model.sos)
    for _ in range(3):
        _, state, w = model.decode_step(prev, state, memory)
        torch.testing.assert_close(w.sum(1), torch.ones(4))
        for i, n in enumerate(enc_lens):
            assert torch.all(w[i, n:] == 0)
    assert "att_keys" in memory and memory["att_keys"].shape[:2] == enc.shape[:2]


def test_location_attention_uses_the_previous_alignment(make_las, batch):
    model = make_las(attention={"type": "location"}).eval()
    enc, enc_lens = model.encode(batch[0], batch[1])
    memory, state = model.init_decoder(enc, enc_lens)
    prev = torch.full((4,), model.sos)
    _, _, w1 = model.decode_step(prev, state, memory)
    shifted = dict(state, att=torch.roll(state["att"], 1, dims=1) * 0 + F.one_hot(torch.zeros(4, dtype=torch.long),
                                                                                  enc.size(1)).float())
    _, _, w2 = model.decode_step(prev, shifted, memory)
    assert not torch.allclose(w1, w2)


def test_unknown_attention_type_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown attention type 'dot'.*content"):
        LAS(IDIM, VOCAB, tiny_config(attention={"type": "dot"}))


def test_ctc_on_and_off(make_las, batch):
    with_ctc = make_las(ctc_weight=0.4).eval()
    out = with_ctc(*batch)
    enc, enc_lens = with_ctc.encode(batch[0], batch[1])
    logp = with_ctc.ctc_log_probs(enc)
    assert logp.shape == (4, enc.size(1), VOCAB)
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(4, enc.size(1)))
    torch.testing.assert_close(out.loss, 0.4 * out.loss_ctc + 0.6 * out.loss_att)
    ctc_ref = F.ctc_loss(logp.transpose(0, 1), batch[2].clamp(min=0), enc_lens, batch[3], reduction="none",
                         zero_infinity=True)
    torch.testing.assert_close(out.loss_ctc, ctc_ref.mean())

    no_ctc = make_las(ctc_weight=0.0).eval()
    assert no_ctc.ctc is None and not any(k.startswith("ctc.") for k in no_ctc.state_dict())
    out = no_ctc(*batch)
    assert out.loss_ctc is None
    torch.testing.assert_close(out.loss, out.loss_att)
    with pytest.raises(RuntimeError, match="no CTC head"):
        no_ctc.ctc_log_probs(enc)

    only_ctc = make_las(ctc_weight=1.0).eval()
    out = only_ctc(*batch)
    torch.testing.assert_close(out.loss, out.loss_ctc)


def test_label_smoothing_raises_the_loss_of_a_confident_model(make_las, batch):
    plain = make_las(ctc_weight=0.0).eval()
    smooth = make_las(ctc_weight=0.0, label_smoothing=0.1).eval()
    smooth.load_state_dict(plain.state_dict())
    assert not torch.allclose(plain(*batch).loss, smooth(*batch).loss)


def test_scheduled_sampling_only_in_training(make_las, batch):
    model = make_las(ctc_weight=0.0)
    model.eval()
    ref = model(*batch).loss
    torch.testing.assert_close(model(*batch, teacher_forcing=0.0).loss, ref)  # eval: always the truth
    model.train()  # no dropout and no SpecAugment in TINY, so only sampling can change the loss
    torch.testing.assert_close(model(*batch).loss, ref)
    model.teacher_forcing = 0.0
    sampled = model(*batch).loss
    assert not torch.allclose(sampled, ref)
    sampled.backward()
    model.teacher_forcing = 1.0
    torch.testing.assert_close(model(*batch, teacher_forcing=1.0).loss, ref)


def test_specaug_runs_only_in_training(make_las, batch):
    model = make_las(specaug={"freq_masks": 2, "freq_width": 5, "time_masks": 2, "time_width": 10, "time_warp": 2})
    seen = []
    model.listener.register_forward_pre_hook(lambda mod, args: seen.append(args[0].clone()))
    feats, feat_lens = batch[0], batch[1]
    model.eval()
    model(*batch)
    assert torch.equal(seen[-1], feats)
    model.train()
    torch.manual_seed(3)
    model(*batch)
    changed = seen[-1] != feats
    assert changed.any()
    for i, n in enumerate(feat_lens):
        assert not changed[i, n:].any()  # padding untouched
    model.train()
    model.encode(feats, feat_lens)  # encode (used by decoding) never augments, whatever the mode
    assert torch.equal(seen[-1], feats)


def test_config_from_dict_round_trip_and_errors():
    cfg = tiny_config(specaug={"freq_masks": 1})
    assert LASConfig.from_dict(cfg.to_dict()) == cfg
    assert LASConfig.from_dict(None) == LASConfig()
    with pytest.raises(ValueError, match=r"model\.listener: unknown option\(s\) hiden"):
        LASConfig.from_dict({"listener": {"hiden": 3}})
    with pytest.raises(ValueError, match=r"model: unknown option\(s\) ctcweight"):
        LASConfig.from_dict({"ctcweight": 0.3})
    with pytest.raises(ValueError, match="ctc_weight must be in"):
        LAS(IDIM, VOCAB, LASConfig(ctc_weight=1.5))


def test_yaml_config_builds_default_model():
    import yaml

    text = """
listener: {vgg: true, hidden: 8, subsample: [1, 2], proj: 8}
attention: {type: multihead, heads: 2, dim: 4}
speller: {layers: 1, hidden: 8, embed: 4}
ctc_weight: 0.5
specaug: {time_warp: 0}
"""
    cfg = LASConfig.from_dict(yaml.safe_load(text))
    assert cfg.attention.heads == 2 and cfg.specaug.time_warp == 0 and cfg.specaug.freq_masks == 2
    model = LAS(80, 30, cfg)
    assert model.listener.time_reduction == 8


def test_decode_step_traces_as_one_graph(make_las, batch):
    """No graph breaks in a decoder step (no host syncs, no data-dependent Python), so training
    and beam search can torch.compile it or capture it in a CUDA graph."""
    model = make_las(attention={"type": "location"}).eval()
    enc, enc_lens = model.encode(batch[0], batch[1])
    memory, state = model.init_decoder(enc, enc_lens)
    prev = torch.full((4,), model.sos)
    compiled = torch.compile(model.decode_step, backend="eager", fullgraph=True)
    ref = model.decode_step(prev, state, memory)
    got = compiled(prev, state, memory)
    torch.testing.assert_close(got[0], ref[0])
    torch.testing.assert_close(got[2], ref[2])


def test_real_an4_batch_padding_invariance_and_gradients(an4_root):
    """Real 16 kHz speech (four AN4 recordings of different lengths) through Kaldi fbank and a
    VGG + pyramid model: every utterance's loss is the same batched as alone, gradients finite."""
    import wave

    import numpy as np

    from asrkit.features.fbank import FbankConfig, compute_fbank

    wavs = sorted((an4_root / "wav" / "an4_clstk").rglob("*.wav"))[:4]
    assert len(wavs) == 4
    feats = []
    for path in wavs:
        with wave.open(str(path)) as w:
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)
            rate = w.getframerate()
        feats.append(torch.from_numpy(compute_fbank(samples, rate, FbankConfig(num_mel_bins=40))))
    mean = torch.cat(feats).mean(0)
    feats = [f - mean for f in feats]
    feat_lens = torch.tensor([len(f) for f in feats])
    assert len(set(feat_lens.tolist())) > 1, "want recordings of different lengths"
    padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True)
    y_lens = torch.tensor([5, 3, 7, 2])
    ys = torch.randint(2, VOCAB - 1, (4, 7), generator=torch.Generator().manual_seed(0))
    ys = ys.masked_fill(torch.arange(7)[None] >= y_lens[:, None], -1)
    torch.manual_seed(0)
    model = LAS(40, VOCAB, tiny_config(listener={"vgg": True, "subsample": [2, 2]})).eval()
    out = model(padded, feat_lens, ys, y_lens)
    for i in range(4):
        n, m = int(feat_lens[i]), int(y_lens[i])
        one = model(padded[i:i + 1, :n], feat_lens[i:i + 1], ys[i:i + 1, :m], y_lens[i:i + 1])
        torch.testing.assert_close(out.loss_utt[i], one.loss_utt[0], atol=1e-5, rtol=1e-5)
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_bad_listener_options_are_clear_errors():
    with pytest.raises(ValueError, match=r"listener.subsample must be a non-empty list.*got 2"):
        LASConfig.from_dict({"listener": {"subsample": 2}})
    with pytest.raises(ValueError, match="listener.subsample"):
        LASConfig.from_dict({"listener": {"subsample": []}})
    with pytest.raises(ValueError, match="listener.vgg_channels"):
        LASConfig.from_dict({"listener": {"vgg_channels": [4]}})


def test_lecun_init_as_espnet():
    torch.manual_seed(0)
    big = {"listener": {"vgg": False, "hidden": 64, "subsample": [1, 2], "proj": 64},
           "speller": {"layers": 2, "hidden": 64, "embed": 32}, "attention": {"dim": 64}}
    model = LAS(IDIM, VOCAB, tiny_config(init="lecun", **big))
    default = LAS(IDIM, VOCAB, tiny_config(**big))
    for name, p in model.named_parameters():
        if "bias" in name and not name.startswith("speller.cells"):
            assert torch.count_nonzero(p) == 0, name
        elif p.dim() > 1 and name != "speller.embed.weight" and p.numel() >= 1000:
            # LeCun normal: std = fan_in ** -0.5 (within sampling error)
            assert abs(p.std().item() * p[0].numel() ** 0.5 - 1.0) < 0.1, name
    assert abs(model.speller.embed.weight.std().item() - 1.0) < 0.15
    for cell in model.speller.cells:
        h = cell.hidden_size
        assert torch.all(cell.bias_ih[h:2 * h] == 1.0) and torch.count_nonzero(cell.bias_ih[:h]) == 0
        assert torch.count_nonzero(cell.bias_hh) == 0
    # The default keeps PyTorch's own initialisation (uniform LSTM biases, not a forget bias of 1).
    assert not torch.all(default.speller.cells[0].bias_ih[64:128] == 1.0)
    with pytest.raises(ValueError, match="init must be pytorch or lecun, got 'xavier'"):
        LAS(IDIM, VOCAB, tiny_config(init="xavier"))


def test_utt_mean_norm_removes_a_per_utterance_offset(make_las, batch):
    """utt_mean_norm: an utterance's constant offset (a channel, a level) reaches neither the
    encoder nor the loss, padding is not counted in the mean, and decoding (encode) and training
    (forward) normalise alike."""
    feats, feat_lens, ys, y_lens = batch
    model = make_las(utt_mean_norm=True).eval()
    offset = torch.randn(4, 1, IDIM) * 5.0
    moved = feats + offset
    for i, n in enumerate(feat_lens):
        moved[i, n:] = -3.0  # other padding junk than the batch's: it must not matter either
    enc, lens = model.encode(feats, feat_lens)
    enc2, lens2 = model.encode(moved, feat_lens)
    torch.testing.assert_close(enc, enc2, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model(feats, feat_lens, ys, y_lens).loss_utt,
                               model(moved, feat_lens, ys, y_lens).loss_utt, atol=1e-4, rtol=1e-5)
    seen = []
    model.listener.register_forward_pre_hook(lambda mod, args: seen.append(args[0].clone()))
    model.encode(feats, feat_lens)
    for i, n in enumerate(feat_lens):
        torch.testing.assert_close(seen[-1][i, :n].mean(0), torch.zeros(IDIM), atol=1e-5, rtol=0)
    # Off by default, and then the offset does reach the encoder.
    plain = make_las().eval()
    assert LASConfig().utt_mean_norm is False
    assert not torch.allclose(plain.encode(feats, feat_lens)[0], plain.encode(moved, feat_lens)[0], atol=1e-3)


def test_attention_config_knows_every_attention():
    from asrkit.models.attention import ATTENTIONS
    from asrkit.models.config import ATTENTION_TYPES

    assert tuple(ATTENTIONS) == ATTENTION_TYPES


def test_ctc_misfits_are_the_utterances_ctc_has_no_alignment_for():
    # The oracle is torch's CTC loss itself: infinite exactly where no alignment exists.
    import numpy as np

    cfg = LASConfig.from_dict({"listener": {"vgg": False, "subsample": [1, 2, 2]}, "ctc_weight": 0.5})
    rng = np.random.default_rng(0)
    lists = [[], [3], [3, 3], [1, 2, 2, 2, 1]] + [list(rng.integers(1, 4, rng.integers(0, 12))) for _ in range(200)]
    frames = np.array([int(rng.integers(1, 40)) for _ in lists], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in lists])]).astype(np.int64)
    flat = np.array([x for t in lists for x in t], dtype=np.int16)
    found = dict(cfg.ctc_misfits(frames, flat, offsets))
    for i, (tokens, n) in enumerate(zip(lists, frames)):
        enc = cfg.listener.output_length(int(n))
        loss = F.ctc_loss(torch.zeros(enc, 1, 5).log_softmax(-1), torch.tensor([tokens], dtype=torch.long).view(1, -1),
                          torch.tensor([enc]), torch.tensor([len(tokens)]), reduction="none", zero_infinity=False)
        assert (i in found) == bool(torch.isinf(loss).item()), (tokens, int(n), enc)
    assert 0 < len(found) < len(lists)
    assert re.match(r"\d+ tokens need \d+ encoder frames for CTC, its \d+ frames give \d+ after the listener's 4x",
                    next(iter(found.values())))
    assert LASConfig.from_dict({"ctc_weight": 0.0}).ctc_misfits(frames, flat, offsets) == []


def test_utt_mean_norm_leaves_digital_silence_out_of_the_mean(make_las, fsdd_root):
    """Zeros around a real FSDD recording (a recorder's or editor's padding: the fbank's log floor
    in every bin) change nothing in the features the encoder gets for the speech; counted in the
    mean they pulled it ~12 nats down and the FSDD theo model from 9.5 to 123 % WER with 1 s on
    each side. A recording of nothing but zeros is still normalised (to zeros, not NaN)."""
    from asrkit.features.fbank import FbankConfig, compute_fbank
    from asrkit.features.wav import read_wav_source

    samples, rate = read_wav_source(str(fsdd_root / "recordings" / "0_george_0.wav"), "george")
    fbank = FbankConfig(sample_frequency=float(rate), num_mel_bins=IDIM)
    pad = np.zeros(rate, dtype=np.float32)  # 1 s: 100 frames of 80 samples, so the frames line up
    plain = torch.from_numpy(compute_fbank(samples, rate, fbank))
    padded = torch.from_numpy(compute_fbank(np.concatenate([pad, samples, pad]), rate, fbank))
    scale, offset = torch.rand(IDIM) + 0.2, torch.randn(IDIM) * 3  # any per-bin CMVN
    plain, padded = plain * scale + offset, padded * scale + offset
    model = make_las(utt_mean_norm=True).eval()
    T = plain.shape[0]
    assert torch.equal(padded[100:100 + T], plain)
    normed = model.normalize(padded[None], torch.tensor([padded.shape[0]]))[0]
    # The mean is that of every frame with sound in it: the speech's, and the few frames that
    # straddle its edges (part speech, part zeros), which are no digital silence.
    floor = (padded == padded.amin(0)).all(1)
    assert 190 < int(floor.sum()) < 200
    torch.testing.assert_close(normed, padded - padded[~floor].mean(0), atol=1e-4, rtol=0)
    want = model.normalize(plain[None], torch.tensor([T]))[0]
    assert (normed[100:100 + T] - want).abs().mean() < 0.5  # those edge frames' share; with the zeros: ~10
    silence = padded[:90][None]
    torch.testing.assert_close(model.normalize(silence, torch.tensor([90])), torch.zeros_like(silence))


def test_utt_mean_frames_loud_measures_the_mean_on_the_speech(make_las, fsdd_root):
    """utt_mean_frames: loud takes the mean over an utterance's loud frames (las.loud_frames). Quiet
    room noise around a real FSDD recording (1 s each side, 50 dB under its peak) then leaves the
    speech's normalised features almost as they were without it; counted in the mean ("all") it
    moves them by several nats. A constant offset is still removed entirely."""
    from asrkit.features.fbank import FbankConfig, compute_fbank
    from asrkit.features.wav import read_wav_source

    samples, rate = read_wav_source(str(fsdd_root / "recordings" / "3_jackson_7.wav"), "jackson")
    fbank = FbankConfig(sample_frequency=float(rate), num_mel_bins=IDIM)
    noise = np.random.default_rng(0).standard_normal(rate).astype(np.float32) * np.abs(samples).max() * 10 ** (-50 / 20)
    plain = torch.from_numpy(compute_fbank(samples, rate, fbank))
    padded = torch.from_numpy(compute_fbank(np.concatenate([noise, samples, noise]), rate, fbank))
    T = plain.shape[0]
    assert torch.equal(padded[100:100 + T], plain)  # 1 s is 100 frames of 80 samples: they line up
    moved = {}
    for frames in ("all", "loud"):
        model = make_las(utt_mean_norm=True, utt_mean_frames=frames).eval()
        normed = model.normalize(padded[None], torch.tensor([padded.shape[0]]))[0][100:100 + T]
        moved[frames] = (normed - model.normalize(plain[None], torch.tensor([T]))[0]).abs().mean().item()
        offset = torch.randn(IDIM) * 5
        torch.testing.assert_close(model.normalize((plain + offset)[None], torch.tensor([T])),
                                   model.normalize(plain[None], torch.tensor([T])), atol=1e-4, rtol=0)
    assert moved["all"] > 2.0, moved    # the noise's 200 frames outnumber the recording's
    assert moved["loud"] < 0.5, moved
    assert LASConfig().utt_mean_frames == "all"  # models packed before the option normalise as they did
    with pytest.raises(ValueError, match="utt_mean_frames must be all or loud, got 'voiced'"):
        LAS(IDIM, VOCAB, tiny_config(utt_mean_norm=True, utt_mean_frames="voiced"))
