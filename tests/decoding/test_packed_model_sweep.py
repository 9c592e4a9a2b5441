"""Packed models a user may hand the decoder that are odd but loadable, and what decoding makes of them."""
from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import torch

from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.recognizer import Recognizer
from asrkit.models.package import PackageMeta, save_package

from decoding_tiny import IDIM, V, tiny_las
from test_decode_cli import inproc  # noqa: F401  (fixture)

TOKENS = ["<blank>", "<unk>"] + [f"p{i}" for i in range(V - 3)] + ["<sos/eos>"]


def test_a_model_trained_with_ctc_alone_is_decoded_with_ctc_alone(tmp_path, caplog):
    """model.ctc_weight 1 trains no attention decoder: its random scores were weighted 1 - ctc_weight."""
    model = tiny_las(ctc=1.0, seed=3)
    save_package(tmp_path / "model.pt", model.state_dict(),
                 PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS))
    feats = [(f"u{i}", np.random.default_rng(i).standard_normal((30 + 7 * i, IDIM)).astype(np.float32))
             for i in range(3)]
    for mode in ("beam", "greedy"):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            default = Recognizer.from_files(tmp_path / "model.pt", DecodeConfig(mode=mode, ctc_weight=0.3))
        assert default.weights == {"att": 0.0, "ctc": 1.0}
        assert any("trained with CTC alone" in r.getMessage() and "instead of 0.3" in r.getMessage()
                   for r in caplog.records)
        caplog.clear()
        ctc = Recognizer.from_files(tmp_path / "model.pt", DecodeConfig(mode=mode, ctc_weight=1.0))
        assert not any("CTC alone" in r.getMessage() for r in caplog.records)
        assert [r.texts for r in default.decode(feats, normalized=True)] == \
            [r.texts for r in ctc.decode(feats, normalized=True)]
    # a model trained jointly keeps the weight asked for
    joint = tiny_las(ctc=0.5)
    save_package(tmp_path / "joint.pt", joint.state_dict(),
                 PackageMeta(model_config=joint.config, idim=IDIM, vocab_size=V, tokens=TOKENS))
    assert Recognizer.from_files(tmp_path / "joint.pt", DecodeConfig(ctc_weight=0.3)).weights == \
        {"att": 0.7, "ctc": 0.3}


def _recognizer(tmp_path, model, **options) -> Recognizer:
    save_package(tmp_path / "m.pt", model.state_dict(),
                 PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS))
    return Recognizer.from_files(tmp_path / "m.pt", DecodeConfig(**options))


@pytest.mark.parametrize("mode", ["beam", "greedy"])
def test_a_hypothesis_cut_at_the_maximum_length_is_said(tmp_path, caplog, mode):
    """A text stopped mid-word by maxlenratio ('NO NO NO NO YE') was written with exit 0 and no word."""
    feats = [("long", np.random.default_rng(0).standard_normal((40, IDIM)).astype(np.float32))]
    never_ends = _recognizer(tmp_path, tiny_las(eos_bias=-30.0), mode=mode, maxlenratio=0.2)
    with caplog.at_level(logging.WARNING):
        result, = never_ends.decode(feats, normalized=True)
    assert not result.hyps[0].ended and len(result.hyps[0].tokens) == 4  # 20 encoder frames x 0.2
    said = [r.getMessage() for r in caplog.records if "cut at the maximum length" in r.getMessage()]
    assert len(said) == 1 and "'long'" in said[0] and "4 token(s)" in said[0] and "maxlenratio 0.2" in said[0]
    caplog.clear()
    ends = _recognizer(tmp_path, tiny_las(eos_bias=30.0), mode=mode, maxlenratio=0.2)
    with caplog.at_level(logging.WARNING):
        result, = ends.decode(feats, normalized=True)
    assert result.hyps[0].ended and result.hyps[0].tokens == []
    assert not any("cut at" in r.getMessage() for r in caplog.records)


def test_cmvn_stats_of_constant_features_are_refused_though_rounding_leaves_a_variance(tmp_path):
    """Every variance 0 was refused only when it summed to exactly 0: the stats asrkit itself
    computes from constant features leave rounding of ~1e-11 in most dims, and the model decoded
    to wrong text (its features scaled by ~1e5), exit 0."""
    import torch

    from asrkit.features.cmvn import accumulate_cmvn
    from asrkit.models.package import load_package
    from asrkit.utils.errors import AsrkitError

    rng = np.random.default_rng(0)
    level = (rng.standard_normal(IDIM) * 5 - 8).astype(np.float32)
    constant = accumulate_cmvn(np.tile(level, (54321, 1)))
    n = constant[0, -1]
    assert ((constant[1, :-1] / n - (constant[0, :-1] / n) ** 2) > 1e-20).any()  # not all exactly 0
    model = tiny_las()
    meta = dict(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS)
    with pytest.raises(AsrkitError, match=f"none of the {IDIM} dims varies"):
        PackageMeta(**meta, cmvn=constant)
    PackageMeta(**meta, cmvn=constant, cmvn_norm_vars=False)  # (only the means are applied)
    # some constant dims (a band the training audio never reached) are a model's own
    feats = rng.standard_normal((5000, IDIM)) * 2 - 8
    feats[:, -3:] = level[-3:]
    save_package(tmp_path / "m.pt", model.state_dict(), PackageMeta(**meta, cmvn=accumulate_cmvn(feats)))
    blob = torch.load(tmp_path / "m.pt", weights_only=True)
    blob["cmvn"] = torch.from_numpy(constant)  # edited in the file: the error names it
    torch.save(blob, tmp_path / "edited.pt")
    with pytest.raises(AsrkitError, match=r"edited\.pt: damaged asrkit model: CMVN stats: none of the"):
        load_package(tmp_path / "edited.pt")


@pytest.mark.parametrize("edit, message", [
    (lambda b: b["state_dict"].update(w=b["state_dict"]["w"].to_sparse()), "weight 'w' is a torch.sparse_coo tensor"),
    (lambda b: b["state_dict"].update(w=b["state_dict"]["w"].to("meta")),
     "weight 'w' is a meta-device tensor (shape only, no values)"),
    (lambda b: b.update(cmvn=b["cmvn"].to_sparse()), "cmvn is a torch.sparse_coo tensor"),
    (lambda b: b.update(cmvn=b["cmvn"].to("meta")), "cmvn is a meta-device tensor"),
    (lambda b: b.update(cmvn=b["cmvn"].to(torch.complex128)), "cmvn is a torch.complex128 tensor"),
])
def test_tensors_of_another_kind_are_one_line_naming_the_file(inproc, tmp_path, edit, message):  # noqa: F811
    """torch loads sparse, meta-device and complex tensors with weights_only; each was a traceback."""
    model = tiny_las()
    stats = np.zeros((2, IDIM + 1))
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((100, IDIM))
    stats[0, :IDIM], stats[1, :IDIM], stats[0, IDIM] = feats.sum(0), (feats ** 2).sum(0), 100
    save_package(tmp_path / "m.pt", model.state_dict(),
                 PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS, cmvn=stats))
    blob = torch.load(tmp_path / "m.pt", weights_only=True)
    name = next(iter(blob["state_dict"]))
    blob["state_dict"] = {("w" if k == name else k): v for k, v in blob["state_dict"].items()}
    edit(blob)
    blob["state_dict"] = {(name if k == "w" else k): v for k, v in blob["state_dict"].items()}
    torch.save(blob, tmp_path / "bad.pt")
    message = message.replace("'w'", repr(name))
    for args in (["decode", "--model", tmp_path / "bad.pt", "--feats", "scp:/nonexistent.scp"],
                 ["pack-model", "--decode-config", tmp_path / "d.yaml", tmp_path / "bad.pt", tmp_path / "out.pt"]):
        (tmp_path / "d.yaml").write_text("beam: 2\n")
        proc = inproc(*args, check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and "Traceback" not in err, err
        assert f"ERROR (asrkit-{args[0]}): {tmp_path / 'bad.pt'}: damaged asrkit model: {message}" in err
    assert not (tmp_path / "out.pt").exists()


def test_a_packed_dither_gives_the_same_features_on_every_run(tmp_path):
    """A training fbank config's dither, packed with the model, was drawn from torch's global RNG:
    the same recording decoded to other scores on every run."""
    from asrkit.features.fbank import FbankConfig

    model = tiny_las()
    save_package(tmp_path / "m.pt", model.state_dict(),
                 PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS,
                             feature_config=FbankConfig(num_mel_bins=IDIM, dither=1.0, sample_frequency=8000)))
    rec = Recognizer.from_files(tmp_path / "m.pt", DecodeConfig())
    samples = (np.random.default_rng(0).standard_normal(8000) * 300).astype(np.float32)
    samples[2000:4000] = 0.0  # where the dither is all there is
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first = rec.features(samples, 8000, "a")
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is left alone
    torch.manual_seed(7)
    assert np.array_equal(first, rec.features(samples, 8000, "a"))


def test_beam_and_its_espnet_name_together_are_named_as_such():
    """Given both, the error was "unknown key 'beam_size'", though beam_size alone is accepted."""
    from asrkit.utils.errors import AsrkitError

    assert DecodeConfig.from_dict({"beam_size": 4}).beam == 4
    with pytest.raises(AsrkitError, match=r"^c\.yaml: beam 3 and beam_size 5: beam_size is ESPnet's name for beam"):
        DecodeConfig.from_dict({"beam": 3, "beam_size": 5}, "c.yaml")


def _lm_of(tokens, path) -> None:
    from asrkit.models.lm import save_lm
    from decoding_tiny import tiny_lm

    lm = tiny_lm(vocab=len(tokens))
    save_lm(path, lm.state_dict(), lm.config, tokens)


def test_an_lm_of_another_token_list_is_refused_naming_both_files(inproc, tmp_path):  # noqa: F811
    """The refusal named the LM alone, and two lists of one size as '9 vs 9 tokens or different pieces'."""
    model = tiny_las()
    save_package(tmp_path / "asr.pt", model.state_dict(),
                 PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS))
    other = TOKENS[:3] + ["q"] + TOKENS[4:]
    _lm_of(other, tmp_path / "other_lm.pt")
    _lm_of(TOKENS, tmp_path / "lm.pt")
    (tmp_path / "feats.scp").write_text("")
    for lm, detail in (("other_lm.pt", "(token 3: 'q' vs 'p1')"), ("lm.pt", None)):
        proc = inproc("decode", "--model", tmp_path / "asr.pt", "--lm", tmp_path / lm, "--lm-weight", "0.3",
                      "--feats", f"scp:{tmp_path / 'feats.scp'}", check=False)
        err = proc.stderr.decode()
        if detail is None:  # the LM of the model's own tokens gets past loading, to the empty feature list
            assert "token list" not in err and "Traceback" not in err, err
            continue
        assert proc.returncode == 1 and "Traceback" not in err, err
        assert (f"ERROR (asrkit-decode): {tmp_path / lm}: the LM was trained with a different token list than the model "
                f"{tmp_path / 'asr.pt'}'s {detail}") in err, err


def test_the_acoustic_model_given_as_the_lm_is_named_so(tmp_path):
    """--model and --lm swapped, or the model given twice: the error asked 'is it an ASR model?'."""
    from asrkit.models.lm import load_lm
    from asrkit.utils.errors import AsrkitError

    model = tiny_las()
    save_package(tmp_path / "asr.pt", model.state_dict(),
                 PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS))
    with pytest.raises(AsrkitError, match=r"asr\.pt: an acoustic model \(asrkit-train's model\.pt, a recipe's "
                                          r"final\.pt\), not an asrkit LM: give the lm\.pt "
                                          r"asrkit-train-lm wrote"):
        load_lm(tmp_path / "asr.pt", tokens=TOKENS, model=tmp_path / "asr.pt")


@pytest.mark.parametrize("edit, kind", [(lambda t: t.to("meta"), "meta-device tensor (shape only, no values)"),
                                        (lambda t: t.to_sparse(), "torch.sparse_coo tensor")])
def test_an_lm_weight_of_another_kind_is_one_line_naming_the_file(tmp_path, edit, kind):
    """A meta-device weight in lm.pt was "Tensor.item() cannot be called on meta tensors", a traceback."""
    from asrkit.models.lm import load_lm
    from asrkit.utils.errors import AsrkitError

    _lm_of(TOKENS, tmp_path / "lm.pt")
    blob = torch.load(tmp_path / "lm.pt", weights_only=True)
    name = next(iter(blob["state_dict"]))
    blob["state_dict"][name] = edit(blob["state_dict"][name])
    torch.save(blob, tmp_path / "bad_lm.pt")
    with pytest.raises(AsrkitError, match=re.escape(f"bad_lm.pt: damaged asrkit LM: weight '{name}' is a {kind}")):
        load_lm(tmp_path / "bad_lm.pt", tokens=TOKENS)


def test_an_lm_given_without_a_weight_is_warned_about(tmp_path, caplog):
    """--lm with no --lm-weight (asrkit's default and a model packed without one: 0) decoded without the
    LM at exit 0, saying so in an info line."""
    model = tiny_las()
    save_package(tmp_path / "asr.pt", model.state_dict(),
                 PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS))
    _lm_of(TOKENS, tmp_path / "lm.pt")
    with caplog.at_level(logging.INFO):
        rec = Recognizer.from_files(tmp_path / "asr.pt", DecodeConfig(), tmp_path / "lm.pt")
    assert rec.lm is None
    assert [r.levelno for r in caplog.records if "is not used" in r.getMessage()] == [logging.WARNING]


def test_an_lm_weight_of_0_given_by_the_user_is_an_info_line(tmp_path, caplog):
    """--lm-weight 0 with --lm (an ablation: ./run.sh --use-lm true --lm-weight 0) was warned about
    as an LM given without a weight (545e92b)."""
    model = tiny_las()
    save_package(tmp_path / "asr.pt", model.state_dict(),
                 PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS))
    _lm_of(TOKENS, tmp_path / "lm.pt")
    with caplog.at_level(logging.INFO):
        Recognizer.from_files(tmp_path / "asr.pt", DecodeConfig(), tmp_path / "lm.pt", lm_weight_chosen=True)
    assert [r.levelno for r in caplog.records if "is not used" in r.getMessage()] == [logging.INFO]


def test_decode_with_lm_weight_0_on_the_command_line_warns_nothing(tmp_path, inproc):  # noqa: F811
    model = tiny_las()
    save_package(tmp_path / "asr.pt", model.state_dict(),
                 PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS))
    _lm_of(TOKENS, tmp_path / "lm.pt")
    feats = tmp_path / "feats.ark"
    import kaldiio
    import numpy as np
    kaldiio.save_ark(str(feats), {"u1": np.zeros((40, IDIM), dtype=np.float32)})
    for weight, warned in ((["--lm-weight", "0"], False), ([], True)):
        proc = inproc("decode", "--model", tmp_path / "asr.pt", "--lm", tmp_path / "lm.pt", *weight,
                      "--feats", f"ark:{feats}", "--output-dir", tmp_path / f"out{len(weight)}")
        assert ("WARNING" in proc.stderr.decode() and "is not used" in proc.stderr.decode()) == warned, proc.stderr
