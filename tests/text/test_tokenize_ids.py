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


def test_an_id_the_table_readers_refuse_is_refused_here_too(asrkit, tmp_path):
    """An id starting with a BOM (texts each saved with one and joined with cat) or holding an
    ESC (pasted 'ls --color' output): every table reader refuses it (3a2dfabf, b9b3d793), but
    asrkit-tokenize wrote it on to token_int, exit 0. A BOM or ^A inside a transcript is a value's,
    and --no-utt-id lines have no id."""
    lang = tmp_path / "lang"
    asrkit("train-tokenizer", "--model-type", "char", "-", lang, input=b"a YES NO\nb NO YES\n")
    model = lang / "tokens.model"
    for text, error in (("u1 YES\n\ufeffu2 NO\n", "<stdin>:2: starts with a UTF-8 byte-order mark (BOM), which would "
                                                   "become part of its key (files each saved with one and joined with "
                                                   "cat?); Kaldi tables are plain text: remove them"),
                        ("u1 YES\nu\x1b[0m2 NO\n", "<stdin>:2: the control character U+001B '\\x1b' at character 1 of "
                                                   "the id 'u\\x1b[0m2': Kaldi ids cannot hold one; rename it in every "
                                                   "table that holds it")):
        proc = asrkit("tokenize", model, input=text.encode(), check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and err.strip().splitlines()[-1] == f"ERROR (asrkit-tokenize): {error}", err
    ok = asrkit("tokenize", model, input="u1 YES\ufeffNO\nu2 N\x01O\n".encode()).stdout.decode()
    assert [line.split(" ")[0] for line in ok.splitlines()] == ["u1", "u2"]
    plain = asrkit("tokenize", "--no-utt-id", model, input="YES\n\ufeffNO\n".encode()).stdout.decode()
    assert len(plain.splitlines()) == 2
