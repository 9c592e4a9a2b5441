"""The Transcriber given a model whose tokens hold white space (a sentencepiece model trained by
sentencepiece itself with a user symbol 'x y', or a hand-made token list): the text would split
such a token into two words, and tokens.txt or a CTM line would have a field too many. Refused
at load, naming the model and the token, before any audio is read."""
from __future__ import annotations

import io

import pytest
import sentencepiece as spm

from asrkit import Transcriber
from asrkit.features.fbank import FbankConfig
from asrkit.models.package import PackageMeta, save_package
from asrkit.utils.errors import AsrkitError

from decoding_tiny import tiny_las


def _save(path, vocab, **meta):
    model = tiny_las(idim=23, vocab=vocab)
    save_package(path, model.state_dict(), PackageMeta(
        model_config=model.config, idim=23, vocab_size=vocab,
        feature_config=FbankConfig(sample_frequency=8000.0, num_mel_bins=23), **meta))


def test_a_token_list_with_a_spaced_token_is_refused(tmp_path):
    tokens = ["<blank>", "<unk>", "a", "b c", "d", "e", "f", "g", "<sos/eos>"]
    _save(tmp_path / "m.pt", len(tokens), tokens=tokens)
    with pytest.raises(AsrkitError, match=r"m\.pt: .*token 3 is 'b c', empty or holding whitespace"):
        Transcriber.from_file(tmp_path / "m.pt")


def test_a_sentencepiece_piece_with_a_space_is_refused(tmp_path):
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["a b c d", "e f g"] * 50), model_writer=buf,
                                   vocab_size=12, model_type="char", user_defined_symbols=["x y"], unk_id=0,
                                   bos_id=-1, eos_id=-1, pad_id=-1, normalization_rule_name="identity",
                                   minloglevel=2)
    _save(tmp_path / "m.pt", 12, tokenizer=buf.getvalue())
    with pytest.raises(AsrkitError, match=r"m\.pt: .*the piece 'x y' \(id 2\), which holds white space"):
        Transcriber.from_file(tmp_path / "m.pt")
