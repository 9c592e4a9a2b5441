"""asrkit-train --init: the init model's features and CMVN against this run's (errors where its
listener would see features that mean something else, warnings where they are merely another
corpus's)."""
from __future__ import annotations

import logging

import kaldiio
import numpy as np
import pytest
import torch

from asrkit.features.fbank import FbankConfig
from asrkit.models.las import LAS, LASConfig
from asrkit.models.package import PackageMeta, save_package
from asrkit.training import finetune
from asrkit.utils.errors import AsrkitError

from .test_train_cli import _run_inproc
from .yesno_dump import TINY_MODEL, train_args

YESNO_FBANK = FbankConfig(sample_frequency=8000, num_mel_bins=23)  # as yesno_dump writes fbank.yaml


def stats(mean, std, n=1000.0):
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    return np.stack([np.append(mean * n, n), np.append((std ** 2 + mean ** 2) * n, 0.0)])


def meta(fbank=YESNO_FBANK, cmvn=None, norm_vars=True, idim=23):
    return PackageMeta(model_config=LASConfig.from_dict(TINY_MODEL), idim=idim, vocab_size=5,
                       feature_config=fbank, cmvn=cmvn, cmvn_norm_vars=norm_vars,
                       tokens=["<blank>", "<unk>", "N", "Y", "<sos/eos>"])


def test_feature_options_that_change_the_meaning_are_errors(caplog):
    for change, said in (({"sample_frequency": 16000}, "sample_frequency: 16000"),
                         ({"frame_shift": 20.0}, "frame_shift: 20.0 -> 10.0"),
                         ({"frame_length": 30.0}, "frame_length: 30.0 -> 25.0"),
                         ({"low_freq": 60.0}, "low_freq: 60.0 -> 20.0"),
                         ({"high_freq": 3800.0}, "high_freq: 3800.0 -> 4000.0"),
                         ({"use_log_fbank": False}, "use_log_fbank: False -> True")):
        theirs = FbankConfig(**{**YESNO_FBANK.to_dict(), **change})
        with pytest.raises(AsrkitError) as e:
            finetune.check_features(meta(theirs), "a.pt", 23, YESNO_FBANK, "dump/train/feats.scp")
        msg = str(e.value)
        assert "\n" not in msg and msg.startswith("--init a.pt: its listener learnt from features made with other "
                                                  "options than dump/train/feats.scp (") and said in msg, msg
        assert "leave the listener out of --init-modules" in msg
        # Only the listener sees the features: a speller taken alone is not refused.
        finetune.check_features(meta(theirs), "a.pt", 23, YESNO_FBANK, "dump/train/feats.scp", listener=False)
    # high_freq 0 is Nyquist: the same edge as 4000 at 8 kHz.
    finetune.check_features(meta(FbankConfig(**{**YESNO_FBANK.to_dict(), "high_freq": 4000.0})), "a.pt", 23,
                            YESNO_FBANK, "f")
    # Options that only reshape the features a little: one warning line.
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        finetune.check_features(meta(FbankConfig(**{**YESNO_FBANK.to_dict(), "dither": 1.0})), "a.pt", 23,
                                YESNO_FBANK, "f")
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith("--init a.pt: ") and "dither: 1.0 -> 0.0" in warned[0]


def test_cmvn_missing_or_another_norm_vars_is_an_error():
    theirs = stats(np.full(23, 10.0), np.full(23, 3.0))
    with pytest.raises(AsrkitError) as e:
        finetune.check_cmvn(meta(cmvn=theirs), "a.pt", None, True, None)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("--init a.pt: its listener learnt from features normalised with CMVN")
    assert "this run has no --cmvn" in msg and "give --cmvn" in msg
    finetune.check_cmvn(meta(cmvn=theirs), "a.pt", None, True, None, listener=False)
    with pytest.raises(AsrkitError, match=r"^--init a.pt: .*normalised variances too \(cmvn_norm_vars true\), this "
                                          r"run gives --norm-vars false: give --norm-vars true$"):
        finetune.check_cmvn(meta(cmvn=theirs), "a.pt", theirs, False, "cmvn.ark")
    with pytest.raises(AsrkitError, match="removed the means only .* give --norm-vars false"):
        finetune.check_cmvn(meta(cmvn=theirs, norm_vars=False), "a.pt", theirs, True, "cmvn.ark")


def test_another_corpus_stats_warn_only_when_far_apart(caplog):
    theirs = stats(np.full(23, 10.0), np.full(23, 3.0))

    def said(ours, init=meta(cmvn=theirs)):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            finetune.check_cmvn(init, "a.pt", ours, True, "dump/train/cmvn.ark")
        return [(r.levelname, r.getMessage()) for r in caplog.records]

    assert said(theirs) == []  # the same stats: nothing to say
    # Another corpus, half a std off (AN4 at 8 kHz against FSDD is 0.57 at most): one info line.
    near = said(stats(np.full(23, 11.5), np.full(23, 3.3)))
    assert len(near) == 1 and near[0][0] == "INFO" and near[0][1].startswith("--init a.pt: its CMVN stats are not "
                                                                             "--cmvn dump/train/cmvn.ark")
    assert "the new model packs --cmvn's" in near[0][1]
    # Features of another scale (a 20 dB quieter corpus, or un-logged ones): one warning line.
    for ours in (stats(np.full(23, 4.0), np.full(23, 3.0)), stats(np.full(23, 10.0), np.full(23, 9.0))):
        far = said(ours)
        assert len(far) == 1 and far[0][0] == "WARNING", far
        assert far[0][1].startswith("--init a.pt: its CMVN stats and --cmvn dump/train/cmvn.ark are far apart")
        assert "The new model packs --cmvn's stats" in far[0][1]
    # An init model without stats met with --cmvn: said, not refused (its stats may just be unknown).
    none = said(theirs, init=meta(cmvn=None))
    assert len(none) == 1 and none[0][0] == "WARNING" and "packs no CMVN stats" in none[0][1]


def _pack(tmp_path, yesno_setup, name, fbank=YESNO_FBANK, cmvn=True, norm_vars=True):
    from asrkit.text.tokenizer import Tokenizer

    tokens = Tokenizer.load(str(yesno_setup / "data" / "lang" / "tokens.model")).tokens
    torch.manual_seed(3)
    model = LAS(23, len(tokens), LASConfig.from_dict(TINY_MODEL))
    stats_ = kaldiio.load_mat(str(yesno_setup / "dump" / "train" / "cmvn.ark")) if cmvn else None
    path = tmp_path / name
    save_package(path, model.state_dict(), PackageMeta(model_config=model.config, idim=23, vocab_size=len(tokens),
                                                       feature_config=fbank, cmvn=stats_, cmvn_norm_vars=norm_vars,
                                                       tokens=list(tokens)))
    return path


def _without_cmvn(args):
    i = args.index("--cmvn")
    return args[:i] + args[i + 2:]


def test_train_refuses_an_init_listener_of_other_inputs(yesno_setup, tmp_path):
    """Before: exit 0, the listener fine-tuned on features it never saw, not a word said."""
    path = _pack(tmp_path, yesno_setup, "cmvn.pt")
    code, err = _run_inproc(*_without_cmvn(train_args(yesno_setup, tmp_path / "e1", "--init", path)))
    assert code == 1 and f"ERROR (asrkit-train): --init {path}: its listener learnt from features normalised " in err
    assert "this run has no --cmvn" in err and not (tmp_path / "e1" / "checkpoints").exists()
    code, err = _run_inproc(*train_args(yesno_setup, tmp_path / "e2", "--init", path, "--norm-vars", "false"))
    assert code == 1 and f"ERROR (asrkit-train): --init {path}: " in err and "give --norm-vars true" in err
    # 16 kHz features with the same 23 bins: the same dims, other frequencies.
    wide = _pack(tmp_path, yesno_setup, "16k.pt", fbank=FbankConfig(sample_frequency=16000, num_mel_bins=23))
    code, err = _run_inproc(*train_args(yesno_setup, tmp_path / "e3", "--init", wide))
    assert code == 1 and f"ERROR (asrkit-train): --init {wide}: its listener learnt from features made with " in err
    assert "sample_frequency: 16000" in err and not (tmp_path / "e3" / "checkpoints").exists()
    # Without the listener the speller may come from it.
    code, err = _run_inproc(*train_args(yesno_setup, tmp_path / "e4", "--init", wide, "--init-modules", "speller",
                                        "--set", "training.max_epochs=1"))
    assert code == 0, err


@pytest.mark.parametrize("given", [("--init-modules", "listener"), ("--set", "finetune.init_modules=[speller]")])
def test_init_modules_without_init_is_refused_before_reading_data(yesno_setup, tmp_path, given):
    """--init-modules listener without --init was ignored: the run trained from random weights at
    exit 0, without a word, its user believing its listener came from another model."""
    code, err = _run_inproc(*train_args(yesno_setup, tmp_path / "e", *given, "--set", "training.max_epochs=1"))
    assert code == 1, err
    assert f"ERROR (asrkit-train): {given[0]} " in err
    assert "(--init-modules) without finetune.init (--init MODEL), the model to take them from: the run would " \
           "train from random weights; give --init, or leave --init-modules out" in err
    assert not (tmp_path / "e").exists()  # refused before anything was read or written
