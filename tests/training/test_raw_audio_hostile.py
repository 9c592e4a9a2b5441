"""Training from audio (a raw dump dir) fed what a careless or unlucky user feeds it: lengths that
are not of the audio, broken noise lists, CMVN of other features. Each is named, with its file,
before it costs memory or silently changes what the model trains on."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from asrkit.features.fbank import FbankConfig
from asrkit.text.tokenizer import Tokenizer
from asrkit.training.audio_data import AudioDataset
from asrkit.training.config import AugmentConfig
from asrkit.training.data import load_utterances
from asrkit.utils.errors import AsrkitError

from .yesno_dump import train_args, yesno_waves

WORDS = {"0": "NO", "1": "YES"}


@pytest.fixture(scope="module")
def raw40(tmp_path_factory, yesno_root, yesno_setup):
    """A raw dump dir of 40 yesno recordings (Kaldi's 5 % lets 2 of them be bad), with utt2dur."""
    import soundfile

    d = tmp_path_factory.mktemp("raw40") / "train"
    d.mkdir()
    ws = yesno_waves(yesno_root)[:40]
    (d / "wav.scp").write_text("".join(f"{w.stem} {w}\n" for w in ws))
    (d / "text").write_text("".join(f"{w.stem} {' '.join(WORDS[c] for c in w.stem.split('_'))}\n" for w in ws))
    (d / "utt2dur").write_text("".join(f"{w.stem} {soundfile.info(str(w)).duration:.4f}\n" for w in ws))
    shutil.copy(yesno_setup / "dump" / "train" / "fbank.yaml", d / "fbank.yaml")
    return d


def _copy(raw40: Path, tmp_path: Path) -> Path:
    d = tmp_path / "train"
    shutil.copytree(raw40, d)
    return d


def _table(d: Path, yesno_setup: Path, **kw):
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    fbank = FbankConfig.from_yaml(d / "fbank.yaml")
    return load_utterances(str(d), tok, fbank=fbank, **kw), fbank


def _raw_args(yesno_setup: Path, train: Path, exp: Path, *extra: str) -> list:
    a = train_args(yesno_setup, exp, "--set", "training.max_epochs=1", "--set", "training.num_plots=0", *extra)
    a[a.index("--train-dir") + 1] = train
    i = a.index("--valid-dir")
    del a[i:i + 2]
    return a


@pytest.mark.parametrize("table", ["utt2dur", "utt2num_frames"])
def test_an_utterance_longer_than_its_length_table_says_is_skipped_and_named(raw40, yesno_setup, tmp_path, table):
    """Batches are cut from utt2dur/utt2num_frames; one that was not of this audio (a stale one,
    another set's) made batches of 3x batching.max_frames, without a word (dumped features were
    checked against utt2num_frames, audio never)."""
    d = _copy(raw40, tmp_path)
    lines = (d / "utt2dur").read_text().splitlines()
    utt = lines[2].split()[0]
    if table == "utt2dur":
        lines[2] = f"{utt} 2.0"
    else:
        (d / "utt2dur").unlink()
        lines = [f"{line.split()[0]} {int(float(line.split()[1]) * 100) - 1}" for line in lines]
        lines[2] = f"{utt} 198"
    (d / table).write_text("".join(line + "\n" for line in lines))
    t, fbank = _table(d, yesno_setup, min_speed=0.9)
    ds = AudioDataset(t, fbank, augment=AugmentConfig(speed_factors=[0.9, 1.0]))
    assert t.utt_id(2) == utt and int(t.num_frames[2]) == 220  # 198 frames at speed 0.9
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{d}/wav.scp:3: utterance {utt!r} has ") + r"\d+ "
                       + re.escape(f"frames of audio, {d}/{table} gives it 220 at speed factor 0.9: that {table} "
                                   f"is not of this audio")):
        for epoch in (1, 2, 3, 4):  # whichever factor the epoch draws, 6 s is no 2 s
            ds.set_epoch(epoch)
            ds[2]
    for i in range(len(t)):  # the others, at every factor, are within what was counted
        if i != 2:
            ds[i]
