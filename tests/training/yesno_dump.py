"""A tiny real dump dir for training tests: yesno waves -> Kaldi fbank (kaldiio ark/scp) + text.

Features come from the real corpus through torchaudio's Kaldi fbank, 23 bins (Kaldi's yesno
recipe uses 23), written with kaldiio, so the tests exercise the same reading path as a recipe.
"""
from __future__ import annotations

import shutil
import wave
from pathlib import Path
from typing import List, Optional

import kaldiio
import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi

from asrkit.features.fbank import FbankConfig

WORDS = {"0": "NO", "1": "YES"}

# A LAS small enough that a few epochs of 8 utterances take about a second on one thread.
TINY_MODEL = {
    "listener": {"vgg": False, "hidden": 32, "proj": 32, "subsample": [2, 2]},
    "attention": {"type": "location", "dim": 32, "conv_channels": 4, "conv_width": 5},
    "speller": {"hidden": 32, "embed": 16},
    "ctc_weight": 0.3,
}
TINY_CONFIG = {
    "model": TINY_MODEL,
    "optim": {"lr": 0.005, "warmup_steps": 5},
    "batching": {"max_frames": 2500},
    "training": {"max_epochs": 2, "log_interval": 1, "num_plots": 2},
}


def yesno_waves(root: Path) -> List[Path]:
    return sorted((Path(root) / "waves_yesno").glob("*.wav"))


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)


def fbank(path: Path, bins: int = 23) -> np.ndarray:
    samples = torch.from_numpy(read_wav(path))[None]
    return kaldi.fbank(samples, num_mel_bins=bins, sample_frequency=8000, dither=0.0).numpy()


def make_dump(out: Path, waves: List[Path], bins: int = 23, drop_text: Optional[List[str]] = None,
              max_frames: Optional[int] = None) -> Path:
    """Write out/{feats.ark,feats.scp,utt2num_frames,text,fbank.yaml} for ``waves``; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    feats = {}
    for w in waves:
        f = fbank(w, bins)
        feats[w.stem] = f[:max_frames] if max_frames else f
    kaldiio.save_ark(str(out / "feats.ark"), feats, scp=str(out / "feats.scp"))
    with open(out / "utt2num_frames", "w") as f:
        for utt, m in feats.items():
            f.write(f"{utt} {m.shape[0]}\n")
    # The options above, written as asrkit-compute-fbank writes them beside its feats.scp.
    FbankConfig(sample_frequency=8000, num_mel_bins=bins).to_yaml(out / "fbank.yaml")
    with open(out / "text", "w") as f:
        for utt in feats:
            if drop_text and utt in drop_text:
                continue
            f.write(f"{utt} {' '.join(WORDS[c] for c in utt.split('_'))}\n")
    return out


def make_raw_dump(out: Path, waves: List[Path], fbank_yaml: Path) -> Path:
    """Write a dump dir of audio, out/{wav.scp,text,utt2dur}, for ``waves``, with a copy of
    ``fbank_yaml`` (the options fbank is computed with while loading); returns ``out``."""
    import soundfile

    out.mkdir(parents=True)
    (out / "wav.scp").write_text("".join(f"{w.stem} {w}\n" for w in waves))
    (out / "text").write_text("".join(f"{w.stem} {' '.join(WORDS[c] for c in w.stem.split('_'))}\n" for w in waves))
    (out / "utt2dur").write_text("".join(f"{w.stem} {soundfile.info(str(w)).duration:.4f}\n" for w in waves))
    shutil.copy(fbank_yaml, out / "fbank.yaml")
    return out


def copy_with_uneven_texts(dump: Path, out: Path) -> Path:
    """A copy of dump dir ``dump`` whose transcripts are of very different lengths (every other one a
    lone NO, the rest doubled), so that per-batch means weigh otherwise by how utterances are
    batched; returns ``out``."""
    shutil.copytree(dump, out)
    lines = (out / "text").read_text().splitlines()
    (out / "text").write_text("".join(f"{line.split()[0]} {'NO' if i % 2 else line.split(maxsplit=1)[1] * 2}\n"
                                      for i, line in enumerate(lines)))
    return out


def global_cmvn(dump: Path) -> Path:
    """Kaldi global CMVN stats (2, D+1) of a dump dir's features, as asrkit-compute-cmvn writes them."""
    mats = [m for _, m in kaldiio.load_scp(str(dump / "feats.scp")).items()]
    x = np.concatenate(mats).astype(np.float64)
    stats = np.zeros((2, x.shape[1] + 1))
    stats[0, :-1] = x.sum(0)
    stats[0, -1] = x.shape[0]
    stats[1, :-1] = (x ** 2).sum(0)
    kaldiio.save_mat(str(dump / "cmvn.ark"), stats)
    return dump / "cmvn.ark"


def train_args(root: Path, exp: Path, *extra: str) -> list:
    """The asrkit-train command line for the yesno set-up."""
    return ["train", "--config", root / "conf" / "train.yaml", "--train-dir", root / "dump" / "train",
            "--valid-dir", root / "dump" / "dev", "--lang-dir", root / "data" / "lang",
            "--cmvn", root / "dump" / "train" / "cmvn.ark", "--ngpu", "0", *extra, exp]


def config_at_lines(path: Path, config: dict) -> dict:
    """``config`` written to YAML file ``path``, one key a line; the line of each key (by its last
    name, for a test's keys named once)."""
    import yaml

    path.write_text(yaml.safe_dump(config, default_flow_style=False, sort_keys=False))
    return {ln.split(":")[0].strip(): i for i, ln in enumerate(path.read_text().splitlines(), 1)}


def launch_two_ranks(root, exp, overrides=(), **args) -> None:
    """What asrkit-train --ngpu 2 runs, on CPU (2 spawned processes, gloo), in this process: 1 epoch
    of the yesno set-up with its dev set (no CER), seed 7, ``overrides`` (config keys) on top;
    ``args``: TrainArgs fields to give other values."""
    import pytest

    from asrkit.training.config import load_config
    from asrkit.training.train_asr import TrainArgs, launch_local

    config = load_config(str(root / "conf" / "train.yaml"),
                         [*overrides, "training.seed=7", "training.max_epochs=1", "training.valid_cer=false"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")
        launch_local(TrainArgs(**{"exp_dir": str(exp), "train_dir": str(root / "dump" / "train"),
                                  "valid_dir": str(root / "dump" / "dev"), "lang_dir": str(root / "data" / "lang"),
                                  "cmvn": str(root / "dump" / "train" / "cmvn.ark"), "ngpu": 0, "config": config,
                                  **args}), 2)
