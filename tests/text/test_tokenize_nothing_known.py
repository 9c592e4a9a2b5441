"""asrkit-tokenize on a text the tokenizer knows nothing of (lower-case words for an upper-case
tokenizer) wrote a token_int of nothing but <unk> with one warning and exit 0; asrkit-train-lm
and asrkit-align refuse such a text, with the likely cause."""
from __future__ import annotations


def _lang(asrkit, tmp_path):
    (tmp_path / "text").write_text("u1 YES NO\nu2 NO YES\n")
    asrkit("train-tokenizer", "--model-type", "char", tmp_path / "text", tmp_path / "lang")
    return tmp_path / "lang" / "tokens.model"


def test_a_text_of_which_nothing_is_known_fails_with_its_cause(asrkit, tmp_path):
    model = _lang(asrkit, tmp_path)
    proc = asrkit("tokenize", model, input=b"u1 yes no\nu2 no\nu3\n", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == (
        f"ERROR (asrkit-tokenize): <stdin>: the tokenizer {model} knows no token of any of the 2 texts (every word "
        f"became <unk>): the text is lower case and the tokens upper case; upper-case the text and tokenize it again")
    other = asrkit("tokenize", model, input="u1 日本\n".encode(), check=False)
    assert other.returncode == 1 and b"share no characters" in other.stderr


def test_one_known_word_or_no_words_at_all_pass(asrkit, tmp_path):
    model = _lang(asrkit, tmp_path)
    assert asrkit("tokenize", model, input=b"u1 yes\nu2 NO\n").stdout.decode().splitlines()[1].startswith("u2 2 ")
    assert asrkit("tokenize", model, input=b"u1\nu2\n").stdout == b"u1\nu2\n"
    assert asrkit("tokenize", "--decode", model, input=b"u1 1 1\n").stdout == "u1 \u2047 \u2047\n".encode()


def test_a_text_of_nothing_but_the_unk_symbol_passes(asrkit, tmp_path):
    # a noise-only utterance's transcript ('utt1 <unk>', one utterance at a time from a grep) was
    # refused as "the text is lower case and the tokens upper case" (b4e7188)
    model = _lang(asrkit, tmp_path)
    proc = asrkit("tokenize", model, input=b"u1 <unk>\nu2 <unk> <unk>\n", check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(proc.stdout.decode().splitlines()) == 2
