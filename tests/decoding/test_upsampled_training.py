"""A model trained on audio resampled up (a corpus of 8 kHz recordings among 16 kHz ones, features
made with asrkit-compute-fbank --resample) learned the empty mel bins above 4 kHz as the
resampler leaves them: decoding 8 kHz audio leaves them so too, as the recipe decodes the dumped
features, instead of giving them the training mean (the fill that a model trained on full-band
audio only needs, which stays for packages that do not record such training).
Real FSDD (8 kHz) audio, the tiny random AN4 model of test_decode_cli."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from asrkit.data.matrix_io import iter_ark_file
from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.recognizer import Recognizer
from asrkit.features.fbank import FbankConfig
from asrkit.models.package import UPSAMPLED_RATES, read_package, read_package_dict
from asrkit.utils.errors import AsrkitError

from test_decode_cli import an4, inproc  # noqa: F401  (fixtures)

FAST = ["--beam", "2", "--maxlenratio", "0.3"]


@pytest.fixture
def fsdd8k(fsdd_root, tmp_path):
    """Four FSDD recordings (8 kHz) in a wav.scp."""
    wavs = sorted((fsdd_root / "recordings").glob("*_0.wav"))[:4]
    assert len(wavs) == 4 and all(sf.info(str(w)).samplerate == 8000 for w in wavs)
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"{w.stem} {w}\n" for w in wavs))
    return scp, wavs


def dumped_with_resample(inproc, model, scp, tmp_path):
    """What a recipe's stage 1 dumps for ``scp`` with --fbank-args --resample, in the model's fbank config."""
    cfg = tmp_path / "fbank.yaml"
    cfg.write_text("sample_frequency: 16000\nnum_mel_bins: 40\n")
    assert read_package(model)[0].feature_config == FbankConfig(sample_frequency=16000.0, num_mel_bins=40)
    (tmp_path / "dump").mkdir()
    inproc("compute-fbank", "--config", cfg, "--resample", f"scp:{scp}",
           f"ark,scp:{tmp_path / 'dump' / 'feats.ark'},{tmp_path / 'dump' / 'feats.scp'}")
    return tmp_path / "dump" / "feats.scp", dict(iter_ark_file(str(tmp_path / "dump" / "feats.ark")))


def test_model_trained_on_upsampled_audio_decodes_it_as_its_dumped_features(inproc, an4, fsdd8k, tmp_path):
    _, model, _ = an4
    scp, wavs = fsdd8k
    packed = tmp_path / "final.pt"
    conf = tmp_path / "decode.yaml"
    conf.write_text("beam: 2\nmaxlenratio: 0.3\n")
    inproc("pack-model", "--decode-config", conf, "--upsampled-from", "8000", model, packed)
    assert read_package_dict(packed)["extra"][UPSAMPLED_RATES] == [8000]
    feats_scp, dumped = dumped_with_resample(inproc, model, scp, tmp_path)
    rec = Recognizer.from_files(packed, DecodeConfig())
    for w in wavs:
        x, rate = sf.read(str(w), dtype="int16")
        # every bin as compute-fbank --resample made it, the top ones included
        assert np.array_equal(rec.features(x.astype(np.float32), rate, w.stem), dumped[w.stem])
    from_audio = inproc("decode", "--model", packed, "--wav-scp", scp)
    from_feats = inproc("decode", "--model", packed, "--feats", f"scp:{feats_scp}")
    assert from_audio.stdout.decode().splitlines() == from_feats.stdout.decode().splitlines()
    assert len(from_audio.stdout.decode().splitlines()) == 4
    assert "left as they are, not given the model's mean: the model was trained on audio resampled up from " \
           "8000 Hz" in from_audio.stderr.decode()

    # the package that does not record it (every model packed before) still fills them
    old = Recognizer.from_files(model, DecodeConfig())
    dims = old.pkg.meta.feature_config.dims_above(4000)
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    f = old.features(x.astype(np.float32), rate, "u")
    assert np.array_equal(f[:, dims], np.broadcast_to(old._train_mean[dims], f[:, dims].shape).astype(f.dtype))
    keep = [d for d in range(40) if d not in dims]
    assert np.array_equal(f[:, keep], dumped[wavs[0].stem][:, keep])


def test_only_the_bins_the_model_learned_empty_are_left(inproc, an4, fsdd8k, tmp_path):
    """Trained on 11025 Hz audio resampled up, a model saw nothing above 5512 Hz, but 4-5.5 kHz
    held sound: 8 kHz audio gets the mean in that band only. An empty list says no such training."""
    _, model, _ = an4
    _, wavs = fsdd8k
    conf = tmp_path / "decode.yaml"
    conf.write_text("beam: 2\n")
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    x = x.astype(np.float32)
    filled = {}
    for name, rates in (("r11", ["--upsampled-from", "11025"]), ("none", [])):
        out = tmp_path / f"{name}.pt"
        inproc("pack-model", "--decode-config", conf, *rates, model, out)
        rec = Recognizer.from_files(out, DecodeConfig())
        f = rec.features(x.copy(), rate, "u")
        filled[name] = [d for d in range(40) if np.all(f[:, d] == np.float32(rec._train_mean[d]))]
    fb = read_package(model)[0].feature_config
    above8, above11 = fb.dims_above(4000), fb.dims_above(11025 / 2)
    assert 0 < len(above11) < len(above8)
    assert filled["none"] == above8
    assert filled["r11"] == [d for d in above8 if d not in above11]


def test_upsampled_rates_that_do_not_fit_are_refused(inproc, an4, tmp_path):
    _, model, _ = an4
    conf = tmp_path / "decode.yaml"
    conf.write_text("beam: 2\n")
    out = tmp_path / "final.pt"
    bad = inproc("pack-model", "--decode-config", conf, "--upsampled-from", "16000", model, out, check=False)
    assert bad.returncode == 1 and not out.exists()
    assert bad.stderr.decode().strip().splitlines()[-1] == (
        f"ERROR (asrkit-pack-model): {model}: upsampled rates: 16000 Hz is not below the feature config's "
        f"16000 Hz (only rates of audio resampled up to it belong there)")
    # a damaged field in a model.pt is named on loading, never a traceback while decoding
    blob = read_package_dict(model)
    blob["extra"] = {**blob["extra"], UPSAMPLED_RATES: "8000"}
    torch.save(blob, out)
    with pytest.raises(AsrkitError) as e:
        Recognizer.from_files(out, DecodeConfig())
    assert str(e.value).startswith(f"{out}: damaged asrkit model: extra: {UPSAMPLED_RATES}: '8000' (a str) "
                                   f"is not a list")
