"""Recordings cut close around their speech (DecodeConfig.edge_pad_s): FSDD's takes start and end
within milliseconds of the word, and the recipe's models, trained on utterances with pauses
around them, misread about half of them as they are. Real FSDD and AN4 audio, tiny random packed
models (test_decode_cli's): the tests check what is padded and how, and that every output is of
the recording itself; the accuracy it buys is a recipe figure (egs/fsdd/asr1/RESULTS.md)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.recognizer import EDGE_PAD_BELOW_DB, Recognizer
from asrkit.utils.errors import AsrkitError

from test_decode_cli import an4, build_model, inproc, read_text  # noqa: F401  (fixtures)

FAST = ["--beam", "2", "--maxlenratio", "0.3"]
DB = np.log(10) / 10


def fsdd_takes(fsdd_root: Path, speaker: str, n: int):
    takes = sorted((fsdd_root / "recordings").glob(f"*_{speaker}_*.wav"))
    return takes[::max(1, len(takes) // n)][:n]


@pytest.fixture(scope="module")
def fsdd(fsdd_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fsdddec")
    wavs = fsdd_takes(fsdd_root, "jackson", 12)
    words = "ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE".split()
    model = build_model(tmp, wavs, words, 8000, 40, "fsdd")
    return tmp, model, wavs


def levels(feats: np.ndarray) -> np.ndarray:
    return feats.astype(np.float64).mean(axis=1)


def read(path: Path) -> np.ndarray:
    x, _ = sf.read(str(path), dtype="int16")
    return x.astype(np.float32)


def test_takes_cut_close_are_padded_and_recordings_with_pauses_are_not(fsdd, fsdd_root, an4):
    """Most FSDD takes (every speaker) get a pad at one edge or both; AN4's recordings, which
    have their own quiet edges, nearly never; an AN4 recording cut in its speech gets it at that
    edge only; and edge_pad_s 0 pads nothing."""
    rec = Recognizer.from_files(fsdd[1], DecodeConfig())
    n = round(0.2 / rec.frame_shift_s)
    padded = 0
    takes = [t for s in ("george", "jackson", "nicolas", "theo", "yweweler") for t in fsdd_takes(fsdd_root, s, 10)]
    for t in takes:
        lead, trail = rec.edge_pads(rec.features(read(t), 8000, t.stem))
        assert lead in (0, n) and trail in (0, n)
        padded += bool(lead or trail)
    assert padded >= 0.8 * len(takes), f"{padded} of {len(takes)} takes padded"

    a4 = Recognizer.from_files(an4[1], DecodeConfig())
    x = read(an4[2][0])
    feats = a4.features(x, 16000, "a")
    assert a4.edge_pads(feats) == (0, 0)
    loud = int(np.argmax(levels(feats)))  # cut at its loudest frame: it now starts in speech
    assert a4.edge_pads(a4.features(x[loud * 160:], 16000, "b")) == (n, 0)
    assert a4.edge_pads(a4.features(x[:loud * 160], 16000, "c")) == (0, n)
    off = Recognizer.from_files(an4[1], DecodeConfig(edge_pad_s=0.0))
    assert off.edge_pads(off.features(x[loud * 160:], 16000, "b")) == (0, 0)


def test_a_padded_take_is_its_own_features_between_quiet_far_below_it(fsdd, fsdd_root):
    """The take's frames are normalized exactly as without a pad (its level measured on its own
    frames); the pad is white noise EDGE_PAD_BELOW_DB under the take's loud frames."""
    rec = Recognizer.from_files(fsdd[1], DecodeConfig())
    take = fsdd_takes(fsdd_root, "nicolas", 3)[1]
    raw = rec.features(read(take), 8000, "t")
    lead, trail = rec.edge_pads(raw)
    assert lead, "this take starts in its word"
    p = rec.prepare_whole("t", raw)
    assert p.spans is None and p.pad == (lead, trail)
    assert p.feats.shape[0] == lead + raw.shape[0] + trail
    np.testing.assert_array_equal(p.feats[lead:lead + raw.shape[0]], rec.normalize(raw, "t"))
    scale, offset = rec._cmvn
    undone = (p.feats.astype(np.float64) - offset) / scale  # the CMVN undone (the level shift is common)
    pad_raw = undone[:lead]
    below = np.percentile(levels(undone[lead:lead + raw.shape[0]]), 98) - levels(pad_raw)
    assert np.allclose(below.mean(), EDGE_PAD_BELOW_DB * DB, atol=0.01 * DB)
    assert pad_raw.std(axis=0).max() > 0.1  # noise, not one frame repeated


def test_resampled_audio_keeps_the_model_mean_in_its_empty_bins_in_the_pad(an4, fsdd_root):
    """An 8 kHz take through a 16 kHz model: the bins above 4 kHz hold the training mean in the
    recording (Recognizer.features), and so in its pad; white noise there would be a band the
    recording does not have."""
    rec = Recognizer.from_files(an4[1], DecodeConfig())
    raw = rec.features(read(fsdd_takes(fsdd_root, "theo", 2)[0]), 8000, "t")
    dead = ~rec._live_bins(raw)
    assert dead.sum() >= 5
    p = rec.prepare_whole("t", raw)
    assert sum(p.pad) > 0
    scale, offset = rec._cmvn
    pad = np.concatenate([p.feats[:p.pad[0]], p.feats[p.feats.shape[0] - p.pad[1]:]])
    want = np.broadcast_to(rec._train_mean[dead], (len(pad), dead.sum()))
    np.testing.assert_allclose(((pad - offset) / scale)[:, dead], want, atol=1e-4)


def test_decoded_and_aligned_takes_are_timed_within_themselves(inproc, fsdd, tmp_path):
    """Lengths, word times and CTM lines are the take's own, and asrkit-align (which pads the
    same way) times the decoded text as --ctm did."""
    tmp, model, wavs = fsdd
    out = tmp_path / "d"
    inproc("decode", "--model", model, *FAST, "--output-dir", out, "--ctm", tmp_path / "ctm", *wavs)
    recs = {r["utt"]: r for r in map(json.loads, (out / "nbest.jsonl").read_text().splitlines())}
    assert len(recs) == len(wavs)
    for w in wavs:
        r = recs[w.stem]
        frames = len(read(w)) // 80 - 1  # 25 ms windows every 10 ms at 8 kHz (snip_edges)
        assert abs(r["num_frames"] - frames) <= 1
        for word in r["hyps"][0]["words"]:
            assert 0.0 <= word["start"] <= word["end"] <= r["num_frames"] * 0.01 + 1e-6
    texts = read_text(out / "text")
    said = {u: t for u, t in texts.items() if t}
    if said:
        (tmp_path / "wav.scp").write_text("".join(f"{w.stem} {w}\n" for w in wavs if w.stem in said))
        (tmp_path / "hyp").write_text("".join(f"{u} {t}\n" for u, t in said.items()))
        inproc("align", "--model", model, f"scp:{tmp_path / 'wav.scp'}", tmp_path / "hyp", tmp_path / "ctm_al")
        want = [ln for ln in (tmp_path / "ctm").read_text().splitlines() if ln.split()[0] in said]
        assert (tmp_path / "ctm_al").read_text().splitlines() == want


def test_pad_options_are_checked(tmp_path):
    for bad, message in [({"edge_pad_s": -0.1}, "edge_pad_s and edge_min_quiet_s must be >= 0"),
                         ({"edge_quiet_db": 0.0}, "edge_quiet_db must be in (0, 120], got 0")]:
        with pytest.raises(AsrkitError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            DecodeConfig.from_dict(bad)


def test_the_pad_is_a_flag_of_asrkit_decode(inproc):
    out = inproc("decode", "--print-config", "--edge-pad-s", "0").stdout.decode()
    assert "edge_pad_s: 0.0" in out.splitlines()
    assert "edge_pad_s: 0.2" in inproc("decode", "--print-config").stdout.decode().splitlines()
