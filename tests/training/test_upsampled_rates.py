"""A model trained on 8 kHz audio resampled up among 16 kHz audio records so (extra
"upsampled_rates"), so that asrkit-decode leaves the mel bins above 4 kHz as the model learned them:
asrkit-compute-fbank --write-utt2sample-rate writes each utterance's rate as read, asrkit-train
takes the rates below the fbank config's from <train-dir>/utt2sample_rate (dumped features) or,
training from audio with augment.resample, from the recordings. Real AN4 (16 kHz) and yesno
(8 kHz) audio, the tiny yesno model."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf

from asrkit.features.extract import compute_fbank_table
from asrkit.features.fbank import FbankConfig
from asrkit.models.package import UPSAMPLED_RATES, read_package

from .yesno_dump import global_cmvn, yesno_waves

FBANK = FbankConfig(sample_frequency=16000, num_mel_bins=23)


@pytest.fixture
def mixed_scp(an4_root, yesno_root, tmp_path):
    """Three AN4 recordings (16 kHz) and three yesno ones (8 kHz), with yes/no transcripts."""
    an4 = sorted((Path(an4_root) / "wav" / "an4test_clstk" / "fvap").glob("*.wav"))[:3]
    yesno = yesno_waves(yesno_root)[:3]
    assert len(an4) == 3 and all(sf.info(str(w)).samplerate == 16000 for w in an4)
    assert all(sf.info(str(w)).samplerate == 8000 for w in yesno)
    d = tmp_path / "data"
    d.mkdir()
    utts = [(f"an4-{w.stem}", w) for w in an4] + [(f"yesno-{w.stem}", w) for w in yesno]
    (d / "wav.scp").write_text("".join(f"{u} {w}\n" for u, w in utts))
    (d / "text").write_text("".join(f"{u} {'YES NO' if u.startswith('an4') else 'NO YES'}\n" for u, _ in utts))
    return d, [u for u, _ in utts]


def _dump(data: Path, out: Path, nj: int = 1, **kw) -> Path:
    out.mkdir(parents=True)
    compute_fbank_table(f"scp:{data / 'wav.scp'}", f"ark,scp:{out / 'feats.ark'},{out / 'feats.scp'}", FBANK,
                        nj=nj, resample=True, **kw)
    shutil.copy(data / "text", out / "text")
    return out


@pytest.mark.parametrize("nj", [1, 2])
def test_compute_fbank_writes_the_rate_each_utterance_was_read_at(mixed_scp, tmp_path, nj):
    data, utts = mixed_scp
    out = _dump(data, tmp_path / "dump", nj=nj, utt2sample_rate=tmp_path / "dump" / "utt2sample_rate")
    lines = (out / "utt2sample_rate").read_text().splitlines()
    assert lines == [f"{u} {16000 if u.startswith('an4') else 8000}" for u in utts]
    # in the order of (and for the same utterances as) utt2num_frames
    assert [x.split()[0] for x in (out / "utt2num_frames").read_text().splitlines()] == utts


def test_compute_fbank_cli_option(mixed_scp, tmp_path, asrkit):
    data, utts = mixed_scp
    asrkit("compute-fbank", "--sample-frequency", "16000", "--resample", "--write-utt2sample-rate",
           tmp_path / "rates", f"scp:{data / 'wav.scp'}", f"ark:{tmp_path / 'f.ark'}")
    assert (tmp_path / "rates").read_text().split() == [x for u in utts for x in (u, "16000" if "an4" in u else "8000")]


def _train(asrkit, yesno_setup, train: Path, exp: Path, *extra: str):
    return asrkit("train", "--config", yesno_setup / "conf" / "train.yaml", "--train-dir", train,
                  "--lang-dir", yesno_setup / "data" / "lang", "--cmvn", train / "cmvn.ark", "--ngpu", "0",
                  "--set", "training.max_epochs=1", *extra, exp)


def test_training_on_dumped_features_records_the_rates_resampled_up(mixed_scp, yesno_setup, tmp_path, asrkit):
    data, utts = mixed_scp
    train = _dump(data, tmp_path / "dump", utt2sample_rate=tmp_path / "dump" / "utt2sample_rate")
    global_cmvn(train)
    err = _train(asrkit, yesno_setup, train, tmp_path / "exp").stderr.decode()
    assert "resampled up from 8000 Hz" in err, err
    meta = read_package(tmp_path / "exp" / "model.pt")[0]
    assert meta.upsampled_rates == [8000] and meta.extra[UPSAMPLED_RATES] == [8000]
    # ... kept by asrkit-average
    asrkit("average", "--num", "1", "--out", tmp_path / "avg.pt", tmp_path / "exp")
    assert read_package(tmp_path / "avg.pt")[0].upsampled_rates == [8000]

    # Only the utterances trained on count: the 8 kHz ones gone from the set, none was resampled up.
    wide = tmp_path / "wide"
    shutil.copytree(train, wide)
    (wide / "feats.scp").write_text("".join(x + "\n" for x in (train / "feats.scp").read_text().splitlines()[:3]))
    (wide / "utt2num_frames").write_text(
        "".join(x + "\n" for x in (train / "utt2num_frames").read_text().splitlines()[:3]))
    (wide / "text").write_text("".join(x + "\n" for x in (train / "text").read_text().splitlines()[:3]))
    _train(asrkit, yesno_setup, wide, tmp_path / "exp_wide")
    assert read_package(tmp_path / "exp_wide" / "model.pt")[0].extra[UPSAMPLED_RATES] == []

    # Without utt2sample_rate nothing tells: nothing recorded (decoding keeps its fill).
    (train / "utt2sample_rate").unlink()
    _train(asrkit, yesno_setup, train, tmp_path / "exp_unknown")
    assert UPSAMPLED_RATES not in read_package(tmp_path / "exp_unknown" / "model.pt")[0].extra


def test_a_bad_utt2sample_rate_line_is_named(mixed_scp, yesno_setup, tmp_path, asrkit):
    data, utts = mixed_scp
    train = _dump(data, tmp_path / "dump")
    global_cmvn(train)
    (train / "utt2sample_rate").write_text(f"{utts[0]} 16000\n{utts[1]} 16k\n")
    proc = asrkit("train", "--config", yesno_setup / "conf" / "train.yaml", "--train-dir", train,
                  "--lang-dir", yesno_setup / "data" / "lang", "--cmvn", train / "cmvn.ark", "--ngpu", "0",
                  tmp_path / "exp", check=False)
    assert proc.returncode == 1
    assert f"ERROR (asrkit-train): {train / 'utt2sample_rate'}:2: sample rate '16k' of utterance {utts[1]!r}" \
        in proc.stderr.decode()


def test_training_from_audio_with_resample_records_the_rates(mixed_scp, yesno_setup, tmp_path, asrkit):
    data, utts = mixed_scp
    raw = tmp_path / "raw"
    shutil.copytree(data, raw)
    FBANK.to_yaml(raw / "fbank.yaml")
    global_cmvn(_dump(data, tmp_path / "dump"))
    shutil.copy(tmp_path / "dump" / "cmvn.ark", raw / "cmvn.ark")
    # read from the recordings' headers (no utt2sample_rate)
    _train(asrkit, yesno_setup, raw, tmp_path / "exp", "--set", "augment.resample=true")
    assert read_package(tmp_path / "exp" / "model.pt")[0].upsampled_rates == [8000]
