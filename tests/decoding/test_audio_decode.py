"""asrkit-decode on audio as users have it: other formats, rates and channel counts, long
recordings cut at their pauses, word times (--ctm), asrkit-align, the Transcriber API,
--print-config, file-name ids and broken models. Real AN4 audio, tiny random packed models
(test_decode_cli's), so texts are compared between paths, never against the reference."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from asrkit.data.specifier import read_matrices
from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.recognizer import Recognizer
from asrkit.decoding.segment import find_pieces
from asrkit.features.fbank import FbankConfig, compute_fbank, compute_fbank_chunked
from asrkit.models.package import read_package_dict, save_package
from asrkit.utils.errors import AsrkitError

from debian_packages import require_program
from test_decode_cli import an4, inproc, read_text  # noqa: F401  (fixtures)

FAST = ["--beam", "2", "--maxlenratio", "0.3"]


def sox(*args) -> None:
    # Installed when missing (as root), else a skip that .ci/run turns into a failure: never a
    # FileNotFoundError that depends on whether an earlier test happened to install sox.
    subprocess.run([require_program("sox"), *map(str, args)], check=True)


@pytest.fixture(scope="module")
def joined(an4):
    """The AN4 wavs joined into one recording with 0.6-0.9 s pauses of low noise between them:
    (path, [(start s, end s) of each utterance in it])."""
    tmp, _, wavs = an4
    rng = np.random.default_rng(0)
    parts, spans, t = [], [], 0
    for i, w in enumerate(wavs + wavs):  # 8 utterances, ~25 s
        x, rate = sf.read(str(w), dtype="int16")
        if i:
            gap = np.rint(rng.normal(0, 3.0, int(rng.uniform(0.6, 0.9) * rate))).astype(np.int16)
            parts.append(gap)
            t += len(gap)
        spans.append((t / rate, (t + len(x)) / rate))
        parts.append(x)
        t += len(x)
    path = tmp / "joined.wav"
    sf.write(str(path), np.concatenate(parts), 16000, subtype="PCM_16")
    return path, spans


def test_formats_rates_and_channels(inproc, an4, tmp_path):
    tmp, model, wavs = an4
    src = wavs[0]
    sox(src, tmp_path / "u.flac")
    sox(src, "-c", "2", tmp_path / "stereo.wav")  # both channels the same
    sox("-M", src, wavs[1], tmp_path / "two.wav")  # channel 1 is another utterance
    sox(src, "-r", "44100", tmp_path / "r44.wav")
    sox(src, "-r", "8000", tmp_path / "r8.ogg")
    # FLAC gives the WAV's features exactly
    from asrkit.features.wav import read_wav_source

    fb = FbankConfig(sample_frequency=16000.0, num_mel_bins=40)
    a, b = (compute_fbank(*read_wav_source(str(p), str(p)), fb) for p in (src, tmp_path / "u.flac"))
    assert np.array_equal(a, b)
    files = [src, tmp_path / "u.flac", tmp_path / "stereo.wav", tmp_path / "r44.wav", tmp_path / "r8.ogg"]
    proc = inproc("decode", "--model", model, *FAST, *files)
    out = proc.stdout.decode().splitlines()
    texts = dict((ln.split(" ", 1) + [""])[:2] for ln in out)
    assert list(texts) == [src.stem, "u", "stereo", "r44", "r8"]
    assert texts["u"] == texts["stereo"] == texts[src.stem]  # same samples, same text
    err = proc.stderr.decode()
    assert "resampling utterance 'r44' from 44100 Hz to the model's 16000 Hz" in err
    assert "resampling utterance 'r8' from 8000 Hz" in err
    assert "mel bins above 4000 Hz get the model's mean" in err and "r44' from 44100 Hz to the model's 16000 Hz (" in err
    # --channel 1 of the two-utterance file decodes the second utterance
    ch1 = inproc("decode", "--model", model, *FAST, "--channel", "1", tmp_path / "two.wav").stdout.decode()
    alone = inproc("decode", "--model", model, *FAST, wavs[1]).stdout.decode()
    assert ch1.split(" ", 1)[1] == alone.split(" ", 1)[1]
    bad = inproc("decode", "--model", model, *FAST, "--channel", "2", tmp_path / "two.wav", check=False)
    assert bad.returncode == 1 and "--channel 2 but the audio has 2 channel(s)" in bad.stderr.decode()


def test_audio_resampled_up_gets_the_model_mean_above_its_nyquist(an4, tmp_path):
    """8 kHz audio through a 16 kHz model: the mel bins above 4 kHz hold only the resampler's
    leakage, so they get the model's CMVN mean (0 once normalized); the others are the fbank of
    the resampled audio, and audio resampled down is left alone."""
    from asrkit.features.resample import resample

    tmp, model, wavs = an4
    rec = Recognizer.from_files(model, DecodeConfig())
    fb = rec.pkg.meta.feature_config
    assert fb.dims_above(8000) == [] and fb.dims_above(0) == list(range(40))
    dims = fb.dims_above(4000)
    assert 0 < len(dims) < 40 and dims == list(range(40 - len(dims), 40))  # the top bins
    sox(wavs[0], "-r", "8000", tmp_path / "r8.wav")
    sox(wavs[0], "-r", "44100", tmp_path / "r44.wav")
    x8, _ = sf.read(str(tmp_path / "r8.wav"), dtype="int16")
    x8 = x8.astype(np.float32)
    f8 = rec.features(x8, 8000, "r8")
    plain = compute_fbank(resample(x8, 8000, 16000), 16000, fb)
    keep = [d for d in range(40) if d not in dims]
    assert np.array_equal(f8[:, keep], plain[:, keep])
    assert not np.allclose(plain[:, dims], f8[:, dims])
    assert np.abs(rec.normalize(f8, "r8")[:, dims]).max() < 1e-4
    x44, _ = sf.read(str(tmp_path / "r44.wav"), dtype="int16")
    x44 = x44.astype(np.float32)
    assert np.array_equal(rec.features(x44, 44100, "r44"), compute_fbank(resample(x44, 44100, 16000), 16000, fb))


def test_band_limited_audio_at_the_models_rate_gets_the_model_mean_in_its_empty_bins(an4, tmp_path):
    """The same gap at the model's own rate (8 kHz audio a device upsampled, a telephone line, MP3
    or Opus at a low bitrate cut the top too): found in the spectrum, those top bins get the
    model's mean, the rest is the plain fbank. (Left as the log of nothing, MP3 at ~26 kbit/s took
    the AN4 model from 7 to 104 % WER; bench/presentation_robustness.py.) Full-band audio is untouched."""
    tmp, model, wavs = an4
    rec = Recognizer.from_files(model, DecodeConfig())
    fb = rec.pkg.meta.feature_config
    for wav in wavs:
        sox(wav, "-r", "8000", tmp_path / "r8.wav")
        sox(tmp_path / "r8.wav", "-r", "16000", tmp_path / "up.wav")
        sox(wav, "-e", "float", tmp_path / "tel.wav", "sinc", "300-3400")
        tel, _ = sf.read(str(tmp_path / "tel.wav"), dtype="float32")
        rng = np.random.default_rng(0)
        # 6 dB lower, written to 16 bits with TPDF dither as sox does by default: the band above the
        # cut holds that noise, 34-49 dB below the median bin here, where 40 dB alone stopped short
        dithered = np.round(tel * 16384 + rng.uniform(-0.5, 0.5, len(tel)) + rng.uniform(-0.5, 0.5, len(tel)))
        sf.write(str(tmp_path / "tel16.wav"), dithered.astype(np.int16), 16000, subtype="PCM_16")
        for name, path, above in (("up", tmp_path / "up.wav", 4000), ("tel", tmp_path / "tel.wav", 3400),
                                  ("tel16", tmp_path / "tel16.wav", 3400)):
            x, _ = sf.read(str(path), dtype="float32")
            x *= 32768
            got, plain = rec.features(x, 16000, name), compute_fbank(x, 16000, fb)
            changed = [d for d in range(40) if not np.array_equal(got[:, d], plain[:, d])]
            # the top bins, those wholly above the cut (a bin straddling it keeps some energy)
            assert changed and changed == list(range(40 - len(changed), 40)), (wav.name, name, changed)
            assert set(changed) <= set(fb.dims_above(above)) and len(changed) >= len(fb.dims_above(above)) - 3
            assert np.abs(rec.normalize(got, name)[:, changed]).max() < 1e-4
        x, _ = sf.read(str(wav), dtype="int16")
        x = x.astype(np.float32)
        assert np.array_equal(rec.features(x, 16000, "a"), compute_fbank(x, 16000, fb))


def test_audio_below_4_khz_is_refused_and_named(an4, inproc, tmp_path):
    """A 1 kHz copy (500 Hz of bandwidth) is skipped with its rate named, not decoded into
    confident nonsense; 4 kHz, the lowest rate decoded, still is."""
    tmp, model, wavs = an4
    sox(wavs[0], "-r", "1000", tmp_path / "r1k.wav")
    sox(wavs[0], "-r", "4000", tmp_path / "r4k.wav")
    proc = inproc("decode", "--model", model, *FAST, tmp_path / "r1k.wav", tmp_path / "r4k.wav", wavs[0], check=False)
    err = proc.stderr.decode()
    assert f"utterance 'r1k' ({tmp_path / 'r1k.wav'}): sample rate 1000 Hz is too low to recognise speech (at least 4000 Hz" in err
    assert proc.returncode == 1 and "ERROR" in err  # 1 of 3 is over the 5 % rule
    assert "Traceback" not in err
    ok = inproc("decode", "--model", model, *FAST, "--max-bad-percent", "50", tmp_path / "r1k.wav",
                tmp_path / "r4k.wav", wavs[0]).stdout.decode().split("\n")
    assert [ln.split(" ")[0] for ln in ok if ln] == ["r4k", wavs[0].stem]


def test_energy_word_rule_needs_log_mel_features(an4):
    """The energy rule reads the fbank's own energies (CMVN undone); a model without a log-mel
    feature config (one that decodes --feats only) times words by the spike rule instead."""
    import dataclasses

    tmp, model, wavs = an4
    rec = Recognizer.from_files(model, DecodeConfig(level_norm=False))
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    raw = rec.features(x.astype(np.float32), rate, "u")
    feats = rec.normalize(raw, "u")
    energy = rec.energy_db(feats)
    assert energy.shape == (raw.shape[0],)
    own = 10 / np.log(10) * np.logaddexp.reduce(raw.astype(np.float64), axis=1)
    assert np.allclose(energy, own, atol=1e-3)
    # level_norm moves every frame by the same number of dB; the rule's thresholds are relative
    shifted = Recognizer.from_files(model, DecodeConfig()).energy_db(Recognizer.from_files(model, DecodeConfig())
                                                                     .normalize(raw, "u"))
    assert np.std(shifted - own) < 1e-3
    tokens = rec.pkg.tokenizer.encode("A B")
    spike = Recognizer.from_files(model, DecodeConfig(word_rule="spike"))
    assert rec.align([("u", feats, tokens)]) != spike.align([("u", feats, tokens)])  # refined
    rec.pkg.meta = dataclasses.replace(rec.pkg.meta, feature_config=None)
    assert rec.energy_db(feats) is None
    assert rec.align([("u", feats, tokens)]) == spike.align([("u", feats, tokens)])


def test_find_pieces_cuts_at_pauses_and_splits_long_speech():
    f = 0.04  # seconds per encoder frame
    blank = np.full(300, 0.99)  # 12 s: speech at 1-3 s, 3.2-4 s (a short pause between) and 6-11.6 s
    blank[25:75] = 0.1
    blank[80:100] = 0.2
    blank[150:290] = 0.3
    blank[220] = 0.8  # the most blank-like frame of the long stretch (no pause frame in it)
    pieces = find_pieces(blank, f, max_segment_s=4.0, min_pause_s=0.3, pause_blank_prob=0.9, pad_s=0.2)
    # the 0.2 s pause at 3-3.2 s is too short to cut at; 6-11.6 s is over 4 s and has no pause
    # frame, so it is cut at its most blank-like frame
    core = [(25, 100), (150, 220), (220, 290)]
    assert len(pieces) == 3
    for (a, e), (ca, ce) in zip(pieces, core):
        assert a <= ca and e >= ce and ca - a <= 5 and e - ce <= 5  # at most pad_s (5 frames) of pause
    assert all(e1 <= a2 for (_, e1), (a2, _) in zip(pieces, pieces[1:]))  # never overlapping
    assert find_pieces(np.full(50, 0.95), f, 4.0, 0.3, 0.9, 0.2) == []  # nothing but pause
    # a --max-segment-s under 4 encoder frames: pieces of 2-3 frames whose most blank-like frame
    # was their first were "cut" there into themselves again, until a RecursionError
    speech = np.full(40, 0.1)
    speech[::3] = 0.5  # the first frame of many a short piece is its most blank-like
    for max_s in (0.04, 0.08, 0.12):
        pieces = find_pieces(speech, f, max_segment_s=max_s, min_pause_s=0.3, pause_blank_prob=0.9, pad_s=0.0)
        assert pieces[0][0] == 0 and pieces[-1][1] == 40 and all(e - a <= max(1, int(max_s / f)) for a, e in pieces)


class _SaysSpaceInPauses(torch.nn.Module):
    """A CTC model stand-in (time reduction 1) that, like the FSDD digit model, says the word
    boundary '\u2581' (id 2), not blank, through every pause: a frame [0, 1] is a pause
    ('\u2581' 0.95, blank 0.03), a [1, 0] a letter ('E', id 3, 0.95). (Neither is lowest in every
    dim, so neither is taken for digital silence, a pause whatever the model says.)"""

    class listener:
        time_reduction = 1

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.ctc = torch.nn.Identity()

    def encode(self, x, lens):
        return x, lens

    def ctc_log_probs(self, enc):
        speech = enc[..., :1] > 0.5
        p = torch.where(speech, torch.tensor([0.03, 0.005, 0.01, 0.95, 0.005]),
                        torch.tensor([0.03, 0.005, 0.95, 0.01, 0.005]))
        return p.log()


def test_a_word_boundary_token_counts_as_a_pause():
    from asrkit.decoding.segment import pause_token_ids, split_recording

    assert pause_token_ids(["<blank>", "<unk>", "\u2581T", "\u2581", "E"]) == (0, 3)  # a piece of its own only
    assert pause_token_ids(["<blank>", "<space>", "a", "b"]) == (0, 1)  # ESPnet's char lists
    assert pause_token_ids(["<blank>", "YES", "NO"]) == (0,)
    feats = np.tile(np.float32([0, 1]), (400, 1))  # 4 s at 10 ms: three words of 0.5 s, 0.5-1 s pauses
    for a, e in [(50, 100), (150, 200), (300, 350)]:
        feats[a:e] = [1, 0]
    model, config = _SaysSpaceInPauses(), DecodeConfig(max_segment_s=20.0, segment_pad_s=0.0)
    tokens = ["<blank>", "<unk>", "\u2581", "E", "<sos/eos>"]
    # the blank alone: no frame is a pause, so nothing is cut (the FSDD model's 99 pauses gave 24 cuts)
    assert split_recording(model, feats, config, 0.01) == [(0, 400)]
    assert split_recording(model, feats, config, 0.01, pause_ids=pause_token_ids(tokens)) == [
        (50, 100), (150, 200), (300, 350)]


def test_pieces_are_joined_across_the_shortest_pauses_up_to_the_target():
    f = 0.04
    blank = np.full(500, 0.99)  # 20 s: words at 1-1.4, 1.8-2.4, 2.8-3.2 s (one utterance), then 12-12.8, 13.6-14 s
    words = [(25, 35), (45, 60), (70, 80), (300, 320), (340, 350)]
    for a, e in words:
        blank[a:e] = 0.1
    cut = find_pieces(blank, f, max_segment_s=20.0, min_pause_s=0.3, pause_blank_prob=0.9, pad_s=0.0)
    assert cut == words  # every pause of 0.3 s or more was a cut: five single words
    joined = find_pieces(blank, f, 20.0, 0.3, 0.9, 0.0, target_s=4.0)
    assert joined == [(25, 80), (300, 350)]  # the two utterances; never across the 8.8 s pause
    # up to the target, pauses included: 2.2 s holds the first utterance's 2.2 s (25-80) exactly
    assert find_pieces(blank, f, 20.0, 0.3, 0.9, 0.0, target_s=2.2) == [(25, 80), (300, 350)]
    # under it, the shortest pause first: the first utterance's two 0.4 s pauses are equal, so the
    # earlier one (1.4 s joined; the third word would make 2.2 s), and the second utterance's
    # 0.8 s pause would make 2 s: a cut
    assert find_pieces(blank, f, 20.0, 0.3, 0.9, 0.0, target_s=1.5) == [(25, 60), (70, 80), (300, 320), (340, 350)]
    assert find_pieces(blank, f, 20.0, 0.3, 0.9, 0.0, target_s=60.0) == [(25, 350)]
    # never over max_segment_s, whatever the target
    assert find_pieces(blank, f, 10.0, 0.3, 0.9, 0.0, target_s=60.0) == [(25, 80), (300, 350)]
    # padding comes after joining, into the pauses that remain
    padded = find_pieces(blank, f, 20.0, 0.3, 0.9, 0.2, target_s=4.0)
    assert padded == [(20, 85), (295, 355)]


def test_the_join_target_comes_from_the_model_or_the_config(an4, tmp_path):
    """segment_target_s null: the packed model's 95th percentile of training durations; a model
    packed without them: 0 (pieces not joined); a number in the config wins. A damaged figure in
    model.pt is refused by name."""
    tmp, model, _ = an4
    d = read_package_dict(model)
    assert "train_durations_s" not in d["extra"]
    assert Recognizer.from_files(model, DecodeConfig()).segment_target_s == 0.0
    d["extra"] = {**d["extra"], "train_durations_s": {"p50": 2.5, "p95": 5.25, "max": 7.0}}
    with_durations = tmp_path / "m.pt"
    torch.save(d, with_durations)
    assert Recognizer.from_files(with_durations, DecodeConfig()).segment_target_s == 5.25
    assert Recognizer.from_files(with_durations, DecodeConfig(segment_target_s=0.0)).segment_target_s == 0.0
    assert Recognizer.from_files(with_durations, DecodeConfig(segment_target_s=9.0)).segment_target_s == 9.0
    for bad in ({"p95": float("nan")}, {"p95": -1.0}, {"p95": "5"}, [5.0], {"p95": True}, {"p95": 1e9}):
        d["extra"]["train_durations_s"] = bad
        torch.save(d, tmp_path / "bad.pt")
        with pytest.raises(AsrkitError, match=r"bad\.pt: damaged asrkit model: extra: train_durations_s is"):
            Recognizer.from_files(tmp_path / "bad.pt", DecodeConfig())
    with pytest.raises(AsrkitError, match="segment_target_s must be >= 0"):
        DecodeConfig(segment_target_s=-1.0).validate()


def test_digital_silence_is_a_pause_whatever_the_ctc_head_says(an4):
    """10 s of zeros on each side of an AN4 recording: the pieces are the speech and segment_pad_s
    of the zeros, not the zeros, though the (random) model's CTC head calls nothing blank. (The
    FSDD theo model, which never heard zeros, made pieces of 11-14 s, mostly zeros, of such FSDD
    test copies: 36.9 % WER against 9.5 % for the originals.)"""
    from asrkit.decoding.segment import split_recording

    tmp, model, wavs = an4
    rec = Recognizer.from_files(model, DecodeConfig(max_segment_s=5.0))
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    pad = np.zeros(10 * rate, dtype=np.float32)  # 1000 frames of 160 samples
    feats = rec.normalize(rec.features(np.concatenate([pad, x.astype(np.float32), pad]), rate, "z"), "z")
    speech = (1000 - 2, 1000 + len(x) // 160 + 1)  # its frames, and the two that straddle each edge
    r = rec.time_reduction
    spans = split_recording(rec.model, feats, rec.config, rec.frame_shift_s)
    assert spans, spans
    assert spans[0][0] >= speech[0] - 20 - r and spans[-1][1] <= speech[1] + 20 + r, (spans, speech)  # 0.2 s pad
    assert spans[0][0] <= speech[0] + r and spans[-1][1] >= speech[1] - r - 2


def test_16_bit_dither_far_below_the_speech_is_a_pause_whatever_the_ctc_head_says(an4):
    """10 s of +-1 LSB dither on each side of an AN4 recording: the pieces are the speech, not the
    dither, though the (random) model's CTC head calls nothing blank. (The FSDD recipe's model read
    such padding as thousands of digits: 486 % WER against 6.26 %.) A quiet recording (the same
    speech 40 dB down, under 16-bit noise) keeps its speech: only frames far under its own loud
    ones count."""
    tmp, model, wavs = an4
    rec = Recognizer.from_files(model, DecodeConfig(max_segment_s=5.0))
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    rng = np.random.default_rng(1)
    dither = np.round(rng.uniform(-0.5, 0.5, 10 * rate) + rng.uniform(-0.5, 0.5, 10 * rate)).astype(np.float32)
    feats = rec.features(np.concatenate([dither, x.astype(np.float32), dither[::-1]]), rate, "d")
    quiet = rec.dither_frames(feats)
    speech = slice(1000 + 5, 1000 + len(x) // 160 - 5)
    assert quiet[:990].mean() > 0.95 and quiet[-990:].mean() > 0.95, (quiet[:990].mean(), quiet[-990:].mean())
    level = feats[speech].mean(axis=1)
    assert not quiet[speech][level >= np.median(level)].any()  # at most the utterance's own silences
    spans = rec.normalize_and_cut("d", feats).spans
    r = rec.time_reduction
    assert spans and spans[0][0] >= 1000 - 20 - r and spans[-1][1] <= 1000 + len(x) // 160 + 20 + r, spans
    # a quarter second of it in 20 s of dither: the loud frames are found among those above the noise
    # (the 98th percentile of all frames was the dither's own level, and nothing was marked)
    word = x[len(x) // 2 - rate // 8:len(x) // 2 + rate // 8].astype(np.float32)
    short = rec.dither_frames(rec.features(np.concatenate([dither, word, dither[::-1]]), rate, "w"))
    assert short[:990].mean() > 0.95 and short[-990:].mean() > 0.95, (short[:990].mean(), short[-990:].mean())
    # the same speech 40 dB down as float audio: its frames are not dither, whatever their level
    soft = rec.features(x.astype(np.float32) / 100, rate, "soft")
    level = soft.mean(axis=1)
    assert not rec.dither_frames(soft)[level >= np.median(level)].any()


def test_chunked_fbank_equals_one_call(joined):
    path, _ = joined
    x, rate = sf.read(str(path), dtype="int16")
    x = x.astype(np.float32)
    cfg = FbankConfig(sample_frequency=16000.0, num_mel_bins=40)
    assert np.array_equal(compute_fbank_chunked(x, rate, cfg, chunk_s=3.0), compute_fbank(x, rate, cfg))


def test_long_recording_cut_decoded_in_pieces_and_joined(inproc, an4, joined, tmp_path):
    tmp, model, wavs = an4
    path, spans = joined
    out = tmp_path / "d"
    proc = inproc("decode", "--model", model, *FAST, "--max-segment-s", "5", "--output-dir", out,
                  "--segments-out", tmp_path / "segments", "--ctm", tmp_path / "ctm", path)
    assert "utterance 'joined' (" in proc.stderr.decode() and "pieces of" in proc.stderr.decode()
    duration = spans[-1][1]
    seg = [ln.split() for ln in (tmp_path / "segments").read_text().splitlines()]
    assert len(seg) >= 5 and all(s[1] == "joined" for s in seg)
    times = [(float(s[2]), float(s[3])) for s in seg]
    assert all(0 <= a < e <= duration + 0.02 and e - a <= 5.0 + 0.4 + 1e-6 for a, e in times)
    # their frames do not overlap; a segment ends a window past its last frame's start (so that it
    # holds that frame's audio), at most 20 ms into the next one's where their frames adjoin
    assert all(e1 <= a2 + 0.02 + 1e-9 for (_, e1), (a2, _) in zip(times, times[1:]))
    assert [s[0] for s in seg] == [f"joined-{round(a * 100):07d}-{round(e * 100):07d}" for a, e in times]
    rec = json.loads((out / "nbest.jsonl").read_text())
    assert [p["id"] for p in rec["segments"]] == [s[0] for s in seg]
    text = read_text(out / "text")["joined"]
    assert text == " ".join(p["text"] for p in rec["segments"] if p["text"])
    # each piece is decoded as it would be alone (the same search over the same frames; normalized
    # as the recording they come from: one level for one recording)
    rec_ = Recognizer.from_files(model, DecodeConfig(beam=2, maxlenratio=0.3, segment="never"))
    x, rate = sf.read(str(path), dtype="int16")
    raw = rec_.features(x.astype(np.float32), rate, "joined")
    feats = rec_.normalize(raw, "joined")
    pieces = Recognizer.from_files(model, DecodeConfig(max_segment_s=5.0)).normalize_and_cut("joined", raw).spans
    fs = rec_.frame_shift_s
    assert [round(p["start"] / fs) for p in rec["segments"]] == [a for a, _ in pieces]
    alone = rec_.decode([(p["id"], feats[a:e]) for p, (a, e) in zip(rec["segments"], pieces)], normalized=True)
    assert [r.texts[0] if r.texts else "" for r in alone] == [p["text"] for p in rec["segments"]]
    # and each piece cut again by compute-fbank --segments (Kaldi's extract-segments' floor(end x
    # rate) samples) is those frames: it ended at its frames x shift, and gave 2 fewer
    (tmp_path / "wav.scp").write_text(f"joined {path}\n")
    rec_.pkg.meta.feature_config.to_yaml(tmp_path / "fbank.yaml")
    inproc("compute-fbank", "--config", tmp_path / "fbank.yaml", "--segments", tmp_path / "segments",
           f"scp:{tmp_path / 'wav.scp'}", f"ark:{tmp_path / 'cut.ark'}")
    cut = dict(read_matrices(f"ark:{tmp_path / 'cut.ark'}"))
    assert [cut[s[0]].shape[0] for s in seg] == [e - a for a, e in pieces]
    for s, (a, e) in zip(seg, pieces):
        np.testing.assert_allclose(cut[s[0]], raw[a:e], rtol=1e-5, atol=1e-4)
    # word times lie inside the recording, in order, each inside a piece
    ctm = [ln.split() for ln in (tmp_path / "ctm").read_text().splitlines()]
    assert [w[4] for w in ctm] == [w["word"] for w in rec["hyps"][0]["words"]]
    starts = [float(w[2]) for w in ctm]
    assert starts == sorted(starts)
    for w in ctm:
        s, d = float(w[2]), float(w[3])
        assert any(a - 0.05 <= s and s + d <= e + 0.05 for a, e in times), w
        assert 0.0 <= float(w[5]) <= 1.0


def test_ctm_nbest_words_and_align_agree(inproc, an4, tmp_path):
    tmp, model, wavs = an4
    out = tmp_path / "d"
    inproc("decode", "--model", model, *FAST, "--nbest", "2", "--output-dir", out, "--ctm", tmp_path / "ctm",
           *wavs)
    recs = [json.loads(ln) for ln in (out / "nbest.jsonl").read_text().splitlines()]
    ctm = [ln.split() for ln in (tmp_path / "ctm").read_text().splitlines()]
    texts = read_text(out / "text")
    for r in recs:
        best = r["hyps"][0]
        lines = [c for c in ctm if c[0] == r["utt"]]
        assert [c[4] for c in lines] == [w["word"] for w in best["words"]] == texts[r["utt"]].split()
        dur = r["num_frames"] * 0.01
        for c, w in zip(lines, best["words"]):
            assert float(c[2]) == pytest.approx(w["start"], abs=1e-3) and 0 <= w["start"] <= w["end"] <= dur + 0.02
            assert float(c[5]) == w["conf"] and 0 <= w["conf"] <= 1  # the same rounding (it was 4 vs 3)
        assert all("words" in h for h in r["hyps"])
    # asrkit-align of the decoded texts times them as --ctm did (same tokens, same posteriors)
    from asrkit.models.package import load_package

    tok = load_package(model).tokenizer
    same = [u for u, r in zip(texts, recs) if tok.encode(texts[u]) == r["hyps"][0]["tokens"] and texts[u]]
    assert same, "no hypothesis round-trips through the tokenizer"
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"{w.stem} {w}\n" for w in wavs if w.stem in same))
    hyp = tmp_path / "hyp"
    hyp.write_text("".join(f"{u} {texts[u]}\n" for u in same))
    proc = inproc("align", "--model", model, f"scp:{scp}", hyp, tmp_path / "ctm_al")
    assert f"Done {len(same)} out of {len(same)}" in proc.stderr.decode()
    got = (tmp_path / "ctm_al").read_text().splitlines()
    want = [ln for ln in (tmp_path / "ctm").read_text().splitlines() if ln.split()[0] in same]
    assert got == want


def test_align_bad_inputs(inproc, an4, tmp_path):
    tmp, model, wavs = an4
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"{w.stem} {w}\n" for w in wavs))
    text = tmp_path / "text"
    # one has no transcript, one far more words than its audio has frames for
    text.write_text(f"{wavs[0].stem} YES NO\n{wavs[1].stem} " + "A " * 400 + "\n" + f"{wavs[2].stem} \n")
    ctm = tmp_path / "ctm"
    proc = inproc("align", "--model", model, scp, text, ctm, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "more than 5 %" in err
    assert f"utterance {wavs[3].stem!r}: no transcript" in err and "CTC frames, its audio has" in err
    assert not ctm.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    proc = inproc("align", "--model", model, "--max-bad-percent", "100", scp, text, ctm)
    assert "Done 2 out of 4 utterances (2 failed)" in proc.stderr.decode()
    lines = ctm.read_text().splitlines()
    assert [ln.split()[4] for ln in lines] == ["YES", "NO"]  # the empty transcript aligns to no words
    # characters the tokenizer does not know: a warning, and the CTM keeps the transcript's words
    # (not sentencepiece's "⁇" for <unk>)
    text.write_text(f"{wavs[0].stem} YES wörld ☃ NO\n")
    proc = inproc("align", "--model", model, "--max-bad-percent", "100", scp, text, ctm)
    assert "characters the tokenizer does not know" in proc.stderr.decode()
    assert [ln.split()[4] for ln in ctm.read_text(encoding="utf-8").splitlines()] == ["YES", "wörld", "☃", "NO"]
    nohead = tmp_path / "noctc.pt"
    blob = read_package_dict(model)
    cfg = blob["model_config"]
    cfg["ctc_weight"] = 0.0
    blob["state_dict"] = {k: v for k, v in blob["state_dict"].items() if not k.startswith("ctc.")}
    torch.save(blob, nohead)
    proc = inproc("align", "--model", nohead, scp, text, ctm, check=False)
    assert proc.returncode == 1 and "no CTC head" in proc.stderr.decode()


def test_align_transcripts_the_model_knows_nothing_of(inproc, an4, tmp_path):
    """Lower-case transcripts for an upper-case model: every word was <unk>, aligned anyway with
    confidence 0, and exit 0 with a warning. Such a transcript is a bad utterance, and when every
    one is, a single line says why."""
    tmp, model, wavs = an4
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"{w.stem} {w}\n" for w in wavs))
    words = ["YES NO", "THREE TWO", "ENTER", "RUBOUT"]
    text, ctm = tmp_path / "text", tmp_path / "ctm"
    # every transcript lower case: one line with the cause, no CTM
    text.write_text("".join(f"{w.stem} {t.lower()}\n" for w, t in zip(wavs, words)))
    proc = inproc("align", "--model", model, scp, text, ctm, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and not ctm.exists()
    assert (f"ERROR (asrkit-align): {text}: the model knows no token of any of the {len(wavs)} transcripts (every "
            f"word is unknown to it): the transcripts are lower case and the model's tokens upper case; upper-case the "
            f"words of the text (not the utterance ids) and align again") in err
    assert f"skipping utterance {wavs[0].stem!r}: the model knows no token of its transcript" in err
    # another script altogether: no case would help
    text.write_text("".join(f"{w.stem} γειά σου\n" for w in wavs))
    proc = inproc("align", "--model", model, scp, text, ctm, check=False)
    assert proc.returncode == 1 and "the text and the model's tokens share no characters" in proc.stderr.decode()
    # one of four: a bad utterance, past the 5 % rule; allowed, the others align
    text.write_text("".join(f"{w.stem} {t.lower() if i == 1 else t}\n" for i, (w, t) in enumerate(zip(wavs, words))))
    proc = inproc("align", "--model", model, scp, text, ctm, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "more than 5 %" in err and not ctm.exists()
    assert f"utterance {wavs[1].stem!r}: the model knows no token of its transcript (every word became <unk>): " \
           f"nothing to align; in upper case it would be known" in err
    proc = inproc("align", "--model", model, "--max-bad-percent", "100", scp, text, ctm)
    assert f"Done {len(wavs) - 1} out of {len(wavs)} utterances (1 failed)" in proc.stderr.decode()
    assert wavs[1].stem not in {ln.split()[0] for ln in ctm.read_text().splitlines()}
    # some known characters are enough: aligned, with the unknown ones warned about
    text.write_text("".join(f"{w.stem} {t}\n" for w, t in zip(wavs, ["YES wörld", *words[1:]])))
    proc = inproc("align", "--model", model, scp, text, ctm)
    assert f"Done {len(wavs)} out of {len(wavs)}" in proc.stderr.decode()


def test_transcriber_gives_the_cli_hypotheses(inproc, an4, tmp_path):
    from asrkit import Transcriber

    tmp, model, wavs = an4
    cli = [ln.split(" ", 1)[1] if " " in ln else "" for ln in
           inproc("decode", "--model", model, *FAST, "--ctm", tmp_path / "ctm", *wavs).stdout.decode().splitlines()]
    t = Transcriber.from_file(str(model), device="cpu", beam=2, maxlenratio=0.3)
    one = t.transcribe(str(wavs[0]))
    assert one.text == cli[0] and one.words is not None and one.duration > 0
    assert [w.word for w in one.words] == one.text.split()
    # the CTM's times, to the millisecond, and confidences (they were unrounded: 0.36000000000000004)
    ctm = [ln.split() for ln in (tmp_path / "ctm").read_text().splitlines()]
    utt = ctm[0][0]
    assert [(w.start, w.end, w.confidence) for w in one.words] == \
        [(float(c[2]), round(float(c[2]) + float(c[3]), 3), float(c[5])) for c in ctm if c[0] == utt]
    x, rate = sf.read(str(wavs[1]), dtype="int16")
    xf, _ = sf.read(str(wavs[2]), dtype="float32")
    many = t.transcribe([wavs[0], (x, rate), (xf, 16000), (torch.from_numpy(xf[:, None].repeat(2, 1)), 16000),
                         str(wavs[3])])
    assert [r.text for r in many] == [cli[0], cli[1], cli[2], cli[2], cli[3]]
    with pytest.raises(AsrkitError, match="input 0: expected a path or a"):
        t.transcribe([b"bytes"])
    with pytest.raises(AsrkitError, match="input 0: non-finite"):
        t.transcribe((np.full(16000, np.nan, dtype=np.float32), 16000))
    # int16 values handed over as floats would be 90 dB too loud: refused, as for float WAV files
    with pytest.raises(AsrkitError, match=r"input 0: float samples reach 3.2e\+04, beyond the \+-1.0 full scale"):
        t.transcribe((x.astype(np.float32) * 0 + 32000, rate))
    # a rate over what any converter records (the resampler's memory would follow it)
    with pytest.raises(AsrkitError, match="sample rate 1000000000 Hz is over the 768000 Hz asrkit reads"):
        t.transcribe((xf, 1_000_000_000))
    with pytest.raises(AsrkitError, match="unknown decoding option"):
        Transcriber.from_file(str(model), beam_size=3)


def test_print_config_needs_no_model(inproc, tmp_path):
    conf = tmp_path / "decode.yaml"
    conf.write_text("beam: 7\nctc_weight: 0.4\n")
    proc = inproc("decode", "--config", conf, "--beam", "12", "--print-config")
    got = yaml.safe_load(proc.stdout.decode())
    want = DecodeConfig(beam=12, ctc_weight=0.4).to_dict()
    assert got == want
    # A guard left null says what is in effect (the YAML still reads back as null).
    out = proc.stdout.decode()
    assert "eos_threshold: null  # in effect: 0 at ctc_weight 0.4; 1.5 for a model without a CTC head" in out
    greedy = inproc("decode", "--ctc-weight", "0", "--max-backtrack", "3", "--print-config").stdout.decode()
    assert "eos_threshold: null  # in effect: 1.5 (attention only)" in greedy and "max_backtrack: 3\n" in greedy
    bad = inproc("decode", "--beam", "0", "--print-config", check=False)
    assert bad.returncode == 1 and "beam must be >= 1" in bad.stderr.decode()
    assert inproc("decode", "a.wav", check=False).returncode == 2  # --model still required to decode
    # Inputs given are checked too, reading nothing: asr.sh's start-up check gives a --feats, and a
    # stray word in its --decode-args was taken for an audio file only at stage 5.
    assert inproc("decode", "--feats", f"scp:{tmp_path}/none.scp", "--print-config").returncode == 0
    both = inproc("decode", "--feats", f"scp:{tmp_path}/none.scp", "--beam", "20", "0.3", "--print-config", check=False)
    assert both.returncode == 1 and "give exactly one input" in both.stderr.decode()


def test_file_names_with_whitespace_decode_under_an_id_without_it(inproc, an4, tmp_path):
    # "voice memo 1.wav" was refused ("the file name has whitespace"): an end user had to write a
    # wav.scp to decode one recording. Its id is the name with each run of whitespace made "_".
    tmp, model, wavs = an4
    spaced = tmp_path / "voice memo\t 1.wav"
    newline = tmp_path / "new\nline.wav"
    for p in (spaced, newline):
        p.write_bytes(wavs[0].read_bytes())
    proc = inproc("decode", "--model", model, *FAST, "--output-dir", tmp_path / "out", spaced, newline, wavs[0])
    err = proc.stderr.decode()
    lines = (tmp_path / "out" / "text").read_text().splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["voice_memo_1", "new_line", wavs[0].stem], lines
    assert lines[0].split(" ", 1)[1] == lines[2].split(" ", 1)[1]  # the same audio, the same text
    assert f"{str(spaced)!r}: utterance id 'voice_memo_1' (a Kaldi id has no whitespace)" in err, err
    assert f"{str(wavs[0])!r}: utterance id" not in err


def test_file_names_that_cannot_be_ids(inproc, an4, tmp_path):
    tmp, model, wavs = an4
    spaced = tmp_path / "a b.wav"
    spaced.write_bytes(wavs[0].read_bytes())
    (tmp_path / "a_b.wav").write_bytes(wavs[0].read_bytes())
    (tmp_path / "   .wav").write_bytes(wavs[0].read_bytes())
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    for d in "xy":
        (tmp_path / d / "u.wav").write_bytes(wavs[0].read_bytes())
    cases = [([spaced, tmp_path / "a_b.wav"], "both give utterance id 'a_b'"),
             ([tmp_path / "   .wav"], "no file name to make an utterance id of"),
             ([tmp_path / "x" / "u.wav", tmp_path / "y" / "u.wav"], "both give utterance id 'u'"),
             ([wavs[0], tmp_path / "u.flac", tmp_path / "x" / "u.wav"], "both give utterance id 'u'"),
             # one file twice was "'a' and 'a' both give utterance id", as if two files clashed
             ([spaced, spaced], f"{str(spaced)!r} given twice"),
             ([spaced, tmp_path / "x" / ".." / "a b.wav"], "the same file, given twice")]
    (tmp_path / "u.flac").write_bytes(b"")
    for files, message in cases:
        proc = inproc("decode", "--model", model, "--output-dir", tmp_path / "out", *files, check=False)
        assert proc.returncode == 1 and message in proc.stderr.decode(), proc.stderr.decode()
        assert not (tmp_path / "out" / "text").exists()


def test_nan_weights_are_refused_by_name(inproc, an4, tmp_path):
    tmp, model, wavs = an4
    blob = read_package_dict(model)
    name = next(k for k, v in blob["state_dict"].items() if v.is_floating_point())
    blob["state_dict"][name] = blob["state_dict"][name].clone().fill_(float("nan"))
    bad = tmp_path / "nan.pt"
    torch.save(blob, bad)
    proc = inproc("decode", "--model", bad, "--output-dir", tmp_path / "out", wavs[0], check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and f"non-finite value(s) (NaN or Inf) in weight {name!r}" in err and str(bad) in err
    assert not (tmp_path / "out" / "text").exists()


def test_failed_run_leaves_no_partial_outputs(inproc, an4, tmp_path):
    tmp, model, wavs = an4
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"not audio")
    outs = {"--output-dir": tmp_path / "out", "--ctm": tmp_path / "ctm", "--segments-out": tmp_path / "segs"}
    proc = inproc("decode", "--model", model, *FAST, *[a for kv in outs.items() for a in kv], wavs[0], garbage,
                  check=False)
    assert proc.returncode == 1 and "1 of 2 utterances failed" in proc.stderr.decode()
    assert not (tmp_path / "ctm").exists() and not (tmp_path / "segs").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["log"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.wav", "out"]  # no temp files either


def test_a_quiet_or_loud_recording_decodes_as_at_the_training_level(inproc, an4, tmp_path):
    """A gain adds 2 ln(gain) to every log-mel value; level_norm takes it out against the packed
    CMVN mean (AN4 test 20 dB quieter: 84 % WER before, as at the original level after)."""
    tmp, model, wavs = an4
    x, _ = sf.read(str(wavs[0]), dtype="int16")
    x = x.astype(np.float32)
    on = Recognizer.from_files(model, DecodeConfig())
    off = Recognizer.from_files(model, DecodeConfig(level_norm=False))
    ref = on.normalize(on.features(x, 16000, "a"), "a")
    ref_off = off.normalize(off.features(x, 16000, "a"), "a")
    for gain in (0.1, 0.01, 3.0):
        got = on.normalize(on.features(x * gain, 16000, "a"), "a")
        assert np.abs(got - ref).max() < 1e-3, gain
        plain = off.normalize(off.features(x * gain, 16000, "a"), "a")
        assert np.abs(plain - ref_off).mean() > 0.1, gain
    # digital silence around a recording (padding, edited gaps: the log floor, 20+ nats down) is
    # no part of its level; counted, 3 s of it on each side took AN4 test from 6.4 to 105 % WER
    pad = np.zeros(48000, dtype=np.float32)  # 3 s: frames stay aligned (300 x 160 samples)
    padded = on.normalize(on.features(np.concatenate([pad, x * 0.1, pad]), 16000, "a"), "a")
    inner = padded[300:300 + len(ref)]
    assert np.abs(inner - ref).mean() < 0.05, np.abs(inner - ref).mean()
    # ... and so it is when the zeros are over 98 % of the recording (a short answer in minutes of
    # padding), where the 98th percentile of the frame levels was the floor and the speech was
    # lifted ~100 dB (a 4 s AN4 answer inside 5 min of zeros decoded as 40 words of nonsense)
    long_pad = np.zeros(50 * len(x), dtype=np.float32)
    padded = on.normalize(on.features(np.concatenate([long_pad, x * 0.1, long_pad]), 16000, "a"), "a")
    start = len(long_pad) // 160
    assert np.abs(padded[start:start + len(ref)] - ref).mean() < 0.05
    # a recording of nothing but digital silence (zeros; a DC offset, which the fbank removes)
    # has no level: it is left as it is, not lifted to speech level ("R A R L A R L A ..." with
    # the AN4 model, where without the shift it decodes to nothing)
    for silence in (np.zeros(48000, dtype=np.float32), np.full(48000, 1000.0, dtype=np.float32)):
        assert np.array_equal(on.normalize(on.features(silence, 16000, "s"), "s"),
                              off.normalize(off.features(silence, 16000, "s"), "s"))
    # the utterance's own level is what moves, not the spectral shape: a filtered copy keeps its tilt
    tilt = on.normalize(on.features(np.convolve(x, [1.0, -0.97])[: len(x)].astype(np.float32), 16000, "a"), "a")
    assert np.abs(tilt - ref).mean() > 0.1
    # end to end: a copy at -20 dB (float WAV, so no requantisation) gives the original's text
    sf.write(str(tmp_path / "quiet.wav"), x * 0.1 / 32768, 16000, subtype="FLOAT")
    sf.write(str(tmp_path / "orig.wav"), x / 32768, 16000, subtype="FLOAT")
    texts = inproc("decode", "--model", model, *FAST, tmp_path / "orig.wav", tmp_path / "quiet.wav").stdout.decode()
    lines = [ln.split(" ", 1)[1] if " " in ln else "" for ln in texts.splitlines()]
    assert len(lines) == 2 and lines[0] == lines[1]
    cfg = inproc("decode", "--no-level-norm", "--print-config").stdout.decode()
    assert "level_norm: false" in cfg
    # features the model cannot describe (no feature config) are only CMVN-normalized
    blob = read_package_dict(model)
    blob["feature_config"] = None
    torch.save(blob, tmp_path / "feats_only.pt")
    feats_only = Recognizer.from_files(tmp_path / "feats_only.pt", DecodeConfig())
    raw = on.features(x * 0.1, 16000, "a")
    assert np.array_equal(feats_only.normalize(raw, "a"), off.normalize(raw, "a"))


def test_dither_around_a_recording_is_no_part_of_its_level(an4):
    """1 s of 16-bit dither (zeros requantised with +-1 LSB of TPDF noise, what a recorder or editor
    leaves for silence) on each side of AN4 test recordings: their speech frames get the level of
    the recording without it. Dither lies 58-64 dB below an AN4 recording's loud frames; within
    the 60 dB of the first rule it was partly counted and moved some recordings up to 5 nats
    (the AN4 model exp/lecun_s1: 7.2 -> 39.6 % WER on AN4 test)."""
    tmp, model, wavs = an4
    rec = Recognizer.from_files(model, DecodeConfig())
    rng = np.random.default_rng(0)
    for wav in wavs:
        x, rate = sf.read(str(wav), dtype="int16")
        x = x.astype(np.float32)
        ref = rec.normalize(rec.features(x, rate, "a"), "a")
        dither = [np.round(rng.uniform(-0.5, 0.5, rate) + rng.uniform(-0.5, 0.5, rate)).astype(np.float32)
                  for _ in range(2)]
        padded = rec.normalize(rec.features(np.concatenate([dither[0], x, dither[1]]), rate, "a"), "a")
        inner = padded[100:100 + len(ref)]  # 1 s: 100 frames of 160 samples
        # 0.01-0.05 (a quieter recording keeps a little of the dither within the range); 0.01-1.6 before
        assert np.abs(inner - ref).mean() < 0.1, (wav.name, np.abs(inner - ref).mean())


def test_a_cut_recordings_level_is_measured_on_its_pieces(an4, monkeypatch):
    """30 s of room noise at -60 dBFS before an AN4 recording: measured over the whole recording,
    the noise outweighed the speech and lifted both (a trained AN4 model then read words into the
    noise: train_dev 17.6 -> 41 % WER). normalize_and_cut measures the level again on the pieces
    found, and its speech frames come out as the recording's alone; the pauses are found again at
    the new level. (A tiny random model's CTC head finds no real pauses: its pieces are given.)"""
    tmp, model, wavs = an4
    rec = Recognizer.from_files(model, DecodeConfig())
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    x = x.astype(np.float32)
    lead = np.random.default_rng(0).normal(0, 32767 * 10 ** (-60 / 20), 30 * rate).astype(np.float32)
    raw = rec.features(np.concatenate([lead, x]), rate, "a")
    ref = rec.normalize(rec.features(x, rate, "a"), "a")
    speech = (3000 + 2, 3000 + len(ref) - 2)  # 30 s: 3000 frames of 160 samples; away from the seam
    whole = rec.normalize(raw, "a")[speech[0]:speech[1]]
    assert np.abs(whole - ref[2:-2]).mean() > 0.3  # the noise counted: every speech value moved (0.46)
    calls = []

    def pieces(utt, feats, quiet=None):
        calls.append(feats.copy())
        return [speech]

    monkeypatch.setattr(rec, "pieces", pieces)
    feats, spans, _ = rec.normalize_and_cut("a", raw)
    assert spans == [speech] and len(calls) == 2  # cut, measured on the piece, cut again
    assert np.abs(feats[speech[0]:speech[1]] - ref[2:-2]).mean() < 0.05
    assert np.array_equal(calls[1], feats)
    # a recording whose pieces hold its level: cut once, nothing measured again
    calls.clear()
    plain = rec.features(np.concatenate([x, x, x, x, x, x]), rate, "b")
    monkeypatch.setattr(rec, "pieces", lambda utt, feats, quiet=None: calls.append(1) or [(0, len(feats))])
    feats, spans, _ = rec.normalize_and_cut("b", plain)
    assert len(calls) == 1 and np.array_equal(feats, rec.normalize(plain, "b"))


def test_long_quiet_edges_of_a_recording_decoded_whole_are_no_part_of_its_level(an4):
    """A short recording with seconds of room tone around its speech (press record, wait, speak,
    wait, stop) was measured over the tone too, too quiet, and lifted (yesno test with 5 s of pink
    noise at the corpus's floor on each side: up 12 dB, 0.42 -> 30 % WER). Only EDGE_QUIET_CAP_S
    (2 s, beyond the edges of 99 % of AN4's and yesno's training recordings) of each edge's quiet
    counts: 8 s of it on each side measure as 2 s do."""
    tmp, model, wavs = an4
    rec = Recognizer.from_files(model, DecodeConfig())
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    x = x.astype(np.float32)
    rng = np.random.default_rng(0)
    tone = rng.normal(0, 3.0, 8 * rate).astype(np.float32)  # 42 dB under the loud frames: counted (LEVEL_RANGE_DB)
    # the same 2 s next to the speech in both: 6 s more of it further out in the long one
    short = rec.features(np.concatenate([tone[-2 * rate:], x, tone[:2 * rate]]), rate, "a")
    long = rec.features(np.concatenate([tone, x, tone]), rate, "a")
    got_short, got_long = rec.prepare_whole("a", short), rec.prepare_whole("a", long)
    assert got_short.pad == got_long.pad == (0, 0)  # quiet at both edges: nothing added
    n = rec.features(x, rate, "a").shape[0] - 4  # the speech's frames, away from the seams
    a, b = got_short.feats[202:202 + n], got_long.feats[802:802 + n]
    moved_db = float(np.mean((b - a) / rec._cmvn[0])) * 10 / np.log(10)
    assert abs(moved_db) < 0.5, moved_db  # 8.5 dB before
    # a recording like the training ones (edges well under 2 s) is measured as before, on all its frames
    plain = rec.features(x, rate, "a")
    got = rec.prepare_whole("a", plain)
    assert got.pad != (0, 0) or np.array_equal(got.feats, rec.normalize(plain, "a"))


def test_text_on_stdout_is_utf8_whatever_the_locale():
    """Under an ASCII or latin-1 stdout (PYTHONIOENCODING=ascii, a latin-1 terminal) the first
    non-ASCII id or word was a UnicodeEncodeError traceback; text lines are UTF-8 as in a file."""
    import io

    from asrkit.decoding.recognizer import UttResult
    from asrkit.decoding.run import Outputs

    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="ascii")
    stdout.write("before\n")
    outputs = Outputs(None, stdout, {"att": 1.0})
    outputs.emit(UttResult("jä-1", [], ["grüße ☃"], 10, 1))
    outputs.close(True)
    assert raw.getvalue() == "before\njä-1 grüße ☃\n".encode("utf-8")


def test_transcriber_names_every_bad_input_and_refuses_a_huge_beam(an4, monkeypatch):
    """A 100-input call with bad inputs named only the first, one retry per bad file; a beam of
    10**9 (a typo) asked the allocator for 8 GB and died with a traceback, and an allocator failure
    in the search was a RuntimeError traceback, not an error naming the batch and what to lower."""
    from asrkit import Transcriber
    from asrkit.decoding.recognizer import Recognizer

    tmp, model, wavs = an4
    t = Transcriber.from_file(str(model), device="cpu", beam=2, maxlenratio=0.3)
    inputs = [str(wavs[0]), str(tmp / "missing.wav"), str(wavs[1]), (np.zeros(0, np.float32), 16000), b"x"]
    with pytest.raises(AsrkitError, match=r"^input 1 \(.*missing.wav\): no such file \(and 2 more bad input\(s\) "
                                          r"of 5: input 3, input 4; nothing was decoded\)$"):
        t.transcribe(inputs)
    assert [r.text for r in t.transcribe(w for w in [str(wavs[0]), str(wavs[1])])] == \
        [r.text for r in t.transcribe([str(wavs[0]), str(wavs[1])])]
    with pytest.raises(AsrkitError, match=r"beam must be at most 1000 .*got 1000000000"):
        Transcriber.from_file(str(model), beam=10**9)

    def no_memory(self, batch):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(Recognizer, "decode_normalized", no_memory)
    with pytest.raises(AsrkitError, match=r"out of memory decoding 2 utterance\(s\) \(input [01] input [01]\) with beam 2 "
                                          r"on cpu: lower the beam or the batch size"):
        t.transcribe([str(wavs[0]), str(wavs[1])])
