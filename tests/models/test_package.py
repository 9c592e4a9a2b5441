"""model.pt: round trip gives identical outputs; a file that is not an asrkit model is a clear error."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest
import torch

from asrkit.models.las import LAS
from asrkit.models.package import FORMAT, load_package, read_package_dict, save_package
from asrkit.utils.errors import AsrkitError

from tiny_las import IDIM, VOCAB, tiny_config


def _outputs(model, batch):
    model.eval()
    with torch.no_grad():
        out = model(*batch)
        enc, enc_lens = model.encode(batch[0], batch[1])
        memory, state = model.init_decoder(enc, enc_lens)
        logp, _, att = model.decode_step(torch.full((4,), model.sos), state, memory)
    return out.loss_utt, enc, model.ctc_log_probs(enc), logp, att


@pytest.mark.parametrize("att", ["location", "multihead"])
def test_round_trip_gives_identical_outputs(tmp_path, make_las, batch, att):
    model = make_las(attention={"type": att}, specaug={"time_warp": 3})
    cmvn = np.arange(2 * (IDIM + 1), dtype=np.float64).reshape(2, IDIM + 1)
    tokens = [f"t{i}" for i in range(VOCAB)]
    path = tmp_path / "exp" / "model.pt"
    save_package(path, model, feature_config={"num_mel_bins": IDIM}, cmvn=cmvn, cmvn_norm_vars=False,
                 tokens=tokens, extra={"epoch": 3})
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]  # no temporary left behind
    pkg = load_package(path)
    assert not pkg.model.training
    assert pkg.model_config == model.config and pkg.idim == IDIM and pkg.vocab_size == VOCAB
    assert pkg.tokens == tokens and pkg.extra == {"epoch": 3} and pkg.tokenizer is None
    assert pkg.cmvn.dtype == np.float64 and np.array_equal(pkg.cmvn, cmvn) and pkg.cmvn_norm_vars is False
    num_mel_bins = pkg.feature_config["num_mel_bins"] if isinstance(pkg.feature_config, dict) \
        else pkg.feature_config.num_mel_bins
    assert num_mel_bins == IDIM
    for a, b in zip(_outputs(model, batch), _outputs(pkg.model, batch)):
        assert torch.equal(a, b)
    raw = read_package_dict(path)
    assert raw["format"] == FORMAT and set(raw) >= {"version", "model_config", "idim", "vocab_size", "state_dict",
                                                    "feature_config", "cmvn", "cmvn_norm_vars", "tokenizer", "tokens"}


def test_state_dict_override_and_no_cmvn(tmp_path, make_las, batch):
    model = make_las()
    other = make_las(seed=5)
    save_package(tmp_path / "m.pt", model, state_dict=other.state_dict())
    pkg = load_package(tmp_path / "m.pt")
    assert pkg.cmvn is None and pkg.feature_config is None and pkg.tokens == []
    for a, b in zip(_outputs(other, batch), _outputs(pkg.model, batch)):
        assert torch.equal(a, b)


def _sentencepiece_bytes() -> bytes:
    spm = pytest.importorskip("sentencepiece")
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["YES NO YES", "NO NO YES NO"] * 20), model_writer=buf,
                                   model_type="char", vocab_size=7, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
                                   minloglevel=2)
    return buf.getvalue()


def test_tokenizer_travels_in_the_package(tmp_path):
    tok_mod = pytest.importorskip("asrkit.text.tokenizer")
    tok = tok_mod.Tokenizer.from_bytes(_sentencepiece_bytes())
    torch.manual_seed(0)
    model = LAS(IDIM, tok.vocab_size, tiny_config())
    save_package(tmp_path / "m.pt", model, tokenizer=tok)
    pkg = load_package(tmp_path / "m.pt")
    assert pkg.tokens == tok.tokens
    assert pkg.tokenizer.to_bytes() == tok.to_bytes()
    assert pkg.tokenizer.decode(pkg.tokenizer.encode("YES NO")) == "YES NO"


def test_token_count_must_match_the_model(tmp_path, make_las):
    with pytest.raises(AsrkitError, match="3 tokens but the model has vocab_size 12"):
        save_package(tmp_path / "m.pt", make_las(), tokens=["a", "b", "c"])
    assert not os.path.exists(tmp_path / "m.pt")


def test_not_a_model_is_a_clear_error(tmp_path, make_las):
    text = tmp_path / "text"
    text.write_text("utt1 YES NO\n")
    with pytest.raises(AsrkitError, match=f"^{text}: not an asrkit model"):
        load_package(text)
    other = tmp_path / "other.pt"
    torch.save({"model": make_las().state_dict()}, other)  # e.g. a raw training checkpoint
    with pytest.raises(AsrkitError, match=f"^{other}: not an asrkit model"):
        load_package(other)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(AsrkitError, match=f"^{tensor}: not an asrkit model"):
        load_package(tensor)
    with pytest.raises(AsrkitError, match="no such model file"):
        load_package(tmp_path / "missing.pt")


def test_damaged_or_mismatched_model_is_a_clear_error(tmp_path, make_las):
    path = tmp_path / "m.pt"
    save_package(path, make_las())
    blob = torch.load(path, weights_only=True)
    del blob["state_dict"]
    torch.save(blob, path)
    with pytest.raises(AsrkitError, match="missing state_dict"):
        load_package(path)
    save_package(path, make_las())
    blob = torch.load(path, weights_only=True)
    blob["model_config"]["listener"]["hidden"] = 99
    torch.save(blob, path)
    with pytest.raises(AsrkitError, match=f"^{path}: model does not match its config"):
        load_package(path)
    save_package(path, make_las())
    blob = torch.load(path, weights_only=True)
    blob["version"] = 99
    torch.save(blob, path)
    with pytest.raises(AsrkitError, match="newer than this asrkit"):
        load_package(path)


def test_damaged_tokenizer_names_the_model_file(tmp_path, make_las):
    pytest.importorskip("asrkit.text.tokenizer")
    path = tmp_path / "m.pt"
    save_package(path, make_las(), tokenizer=b"not a sentencepiece model", tokens=[str(i) for i in range(VOCAB)])
    with pytest.raises(AsrkitError, match=f"^{path}: damaged tokenizer"):
        load_package(path)
