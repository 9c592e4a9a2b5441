"""asrkit-tokenize keeps a Kaldi text's utterance ids as the table readers read them."""
from __future__ import annotations


def test_an_id_is_cut_at_ascii_white_space_only(asrkit, tmp_path):
    """A no-break space (U+00A0) inside an utterance id: every table reader keeps it in the key
    (Kaldi splits at ASCII white space), but asrkit-tokenize cut the id there, so token_int named
    utterance 'u2' (no such id in text) and the rest of the id was encoded as an unknown word."""
    lang = tmp_path / "lang"
    asrkit("train-tokenizer", "--model-type", "char", "-", lang, input=b"a YES NO\nb NO YES\n")
    text = "u1 YES\u00a0NO\nu2\u00a0x YES NO\nu3\tNO\x0bYES\nu4\n".encode()
    proc = asrkit("tokenize", lang / "tokens.model", input=text)
    keys = [line.split(" ")[0] for line in proc.stdout.decode().splitlines()]
    assert keys == ["u1", "u2\u00a0x", "u3", "u4"]
    lines = dict(line.split(" ", 1) for line in proc.stdout.decode().splitlines()[:3])
    # inside a transcript it is a word break, as the tokenizer was trained
    assert lines["u1"] == lines["u2\u00a0x"] and "tokenizer does not know" not in proc.stderr.decode()
