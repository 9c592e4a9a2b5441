"""A letter typed composed (U+00E9) or decomposed (e + U+0301) is one text to the tokenizer:
Unicode's canonical equivalence. A tokenizer trained on one form took the other for unknown
characters (<unk>), in training, the LM's text and asrkit-tokenize, named as 'é', which it has."""
from __future__ import annotations

import unicodedata

import pytest

from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

SENTENCES = ["café noël", "été", "déjà vu", "la mer"]


def nfc(t):
    return unicodedata.normalize("NFC", t)


def nfd(t):
    return unicodedata.normalize("NFD", t)


@pytest.mark.parametrize("trained, other", [(nfc, nfd), (nfd, nfc)])
@pytest.mark.parametrize("model_type, vocab_size", [("char", None), ("bpe", 22)])
def test_the_other_form_of_a_letter_gets_the_same_tokens(trained, other, model_type, vocab_size):
    tok = train_tokenizer([trained(s) for s in SENTENCES], TokenizerConfig(model_type=model_type,
                                                                          vocab_size=vocab_size))
    texts = [trained(s) for s in SENTENCES]
    flat, lengths, unknown = tok.encode_flat([other(s) for s in SENTENCES])
    assert unknown == {}
    assert [list(map(int, flat[a:a + n])) for a, n in zip([0, *lengths.cumsum()[:-1]], lengths)] == \
        [tok.encode(t) for t in texts]
    for s, t in zip(SENTENCES, texts):
        assert tok.encode_with_unknown(other(s)) == (tok.encode(t), [])
        assert tok.encode(other(s)) == tok.encode(t) and 1 not in tok.encode(t)
        assert tok.decode(tok.encode(other(s))) == t
    # a character it knows in neither form is still unknown, and named
    ids, unknown = tok.encode_with_unknown(other("ñ mer"))
    assert 1 in ids and unknown and all(set(u) <= set(nfc("ñ") + nfd("ñ")) for u in unknown)


def test_a_tokenizer_of_both_forms_keeps_each_as_typed():
    """Trained on both (train-tokenizer warns), each form has its own pieces: nothing is rewritten."""
    tok = train_tokenizer([nfc("café"), nfd("été")], TokenizerConfig(model_type="char"))
    assert tok.encode(nfd("café")) != tok.encode(nfc("café"))
    assert 1 not in tok.encode(nfd("café")) and 1 not in tok.encode(nfc("café"))


def test_asrkit_tokenize_reads_the_other_form_without_unknowns(asrkit, tmp_path):
    (tmp_path / "text").write_text("".join(f"u{i} {nfc(s)}\n" for i, s in enumerate(SENTENCES)), encoding="utf-8")
    asrkit("train-tokenizer", "--model-type", "char", tmp_path / "text", tmp_path / "lang")
    model = tmp_path / "lang" / "tokens.model"
    composed = asrkit("tokenize", model, input=(tmp_path / "text").read_bytes())
    typed = "".join(f"u{i} {nfd(s)}\n" for i, s in enumerate(SENTENCES)).encode()
    decomposed = asrkit("tokenize", model, input=typed)
    assert decomposed.stdout == composed.stdout and b"does not know" not in decomposed.stderr
