"""U+001C..U+001F and U+0085: control characters that Python's str.split() takes for white space.

asrkit-score (and Kaldi, sclite) split words at ASCII white space only, so such a character
inside a word leaves it one word there; the tokenizer split it in two, so no model made with it
could write the word back and every one scored as an error, with exit 0."""
from __future__ import annotations

import pytest

SEPARATORS = ["\x1c", "\x1d", "\x1e", "\x1f", "\x85"]


@pytest.mark.parametrize("sep", SEPARATORS)
def test_training_refuses_them_as_any_control_character(asrkit, tmp_path, sep):
    """As a BEL (U+0007) is: the utterance named, exit 1, nothing written; and validation says it."""
    text = tmp_path / "text"
    text.write_text(f"u1 YES NO\nu2 YES{sep}NO\n", encoding="utf-8")
    proc = asrkit("train-tokenizer", "--model-type", "char", text, tmp_path / "lang", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and not (tmp_path / "lang").exists(), err
    assert f"ERROR (asrkit-train-tokenizer): {text}: utterance 'u2' has the control character U+{ord(sep):04X}" in err
    d = tmp_path / "d"
    d.mkdir()
    (d / "utt2spk").write_text("s-1 s\n")
    (d / "spk2utt").write_text("s s-1\n")
    (d / "text").write_text(f"s-1 YES{sep}NO\n", encoding="utf-8")
    proc = asrkit("validate-data-dir", "--no-wav", d, check=False)
    assert proc.returncode == 1
    assert f"ERROR: {d}/text:1: the control character U+{ord(sep):04X}" in proc.stderr.decode()


@pytest.mark.parametrize("sep", SEPARATORS)
def test_encoding_makes_them_unk_not_a_word_break(asrkit, tmp_path, sep):
    """asrkit-tokenize with a tokenizer trained on clean text: the character is <unk>, counted
    and named as a BEL is, not silently a word boundary that asrkit-score does not see."""
    text = tmp_path / "text"
    text.write_text("u1 YES NO\n", encoding="utf-8")
    asrkit("train-tokenizer", "--model-type", "char", text, tmp_path / "lang")
    model = tmp_path / "lang" / "tokens.model"
    proc = asrkit("tokenize", "--pieces", model, input=f"u1 YES{sep}NO\nu2 YES\x07NO\n".encode())
    assert proc.stdout.decode() == "u1 \u2581 Y E S <unk> N O\nu2 \u2581 Y E S <unk> N O\n"
    err = proc.stderr.decode()
    assert "2 utterance(s) have characters the tokenizer does not know, mapped to <unk>: " in err, err
    assert f"{sep!r} x1" in err and "'\\x07' x1" in err, err


@pytest.mark.parametrize("sep", SEPARATORS)
def test_the_scorer_keeps_them_inside_a_word(asrkit, tmp_path, sep):
    """The rule the tokenizer now follows: to asrkit-score 'YES<sep>NO' is one word, so 'YES NO'
    is not it (which is why a tokenizer must not split there)."""
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    ref.write_text(f"s-1 YES{sep}NO\n", encoding="utf-8")
    hyp.write_text("s-1 YES NO\n", encoding="utf-8")
    out = asrkit("score", ref, hyp).stdout.decode()
    assert "%WER 200.00 [ 2 / 1," in out, out
