"""tokens.txt is a table keyed by tokens, not ids: the id rules of the table readers (3a2dfabf: no
BOM starting a later line; b9b3d793: no ASCII control character) do not apply to it. A transcript
word holding U+FEFF (a value, left alone and passed by validate-data-dir) gave a char tokenizer
the token '\\ufeff', a tokens.txt line starting with a BOM, and every later command (tokenize,
train, train-lm) refused the lang dir asrkit-train-tokenizer had just written."""
from __future__ import annotations

import io

import pytest

from asrkit.text.tokenizer import Tokenizer
from asrkit.utils.errors import AsrkitError

BOM = "\ufeff"


@pytest.mark.parametrize("model_type, size", [("char", []), ("bpe", ["--vocab-size", "11"]),
                                              ("unigram", ["--vocab-size", "11"])])
def test_a_bom_in_a_transcript_word_makes_a_lang_dir_that_loads(asrkit, tmp_path, model_type, size):
    text = tmp_path / "text"
    text.write_text(f"u1 ab{BOM}c de\nu2 abc\nu3 zz{BOM}y\n", encoding="utf-8")
    lang = tmp_path / "lang"
    asrkit("train-tokenizer", "--model-type", model_type, *size, text, lang)
    listed = (lang / "tokens.txt").read_text(encoding="utf-8").splitlines()
    assert any(line.startswith(BOM) for line in listed[1:]), listed  # the case itself
    tok = Tokenizer.load(lang)
    assert BOM in tok.tokens
    ids = asrkit("tokenize", lang / "tokens.model", input=f"u9 zz{BOM}y ab{BOM}c\n".encode()).stdout
    assert tok.unk_id not in [int(i) for i in ids.split()[1:]]
    back = asrkit("tokenize", "--decode", lang / "tokens.model", input=ids).stdout.decode("utf-8")
    assert back == f"u9 zz{BOM}y ab{BOM}c\n"


def test_a_foreign_model_with_a_control_character_piece_loads_with_its_tokens_txt(tmp_path):
    """A sentencepiece model trained by sentencepiece itself (identity normalization) keeps a ^A
    of its text as a piece; the model loads, and its tokens.txt did too before b9b3d793."""
    import sentencepiece as spm

    from asrkit.text.token_list import read_token_list, token_list_text

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["ab\x01c de", "abc", f"zz\x01y{BOM}"]),
                                   model_writer=model, model_type="char", vocab_size=20, hard_vocab_limit=False,
                                   unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, normalization_rule_name="identity",
                                   minloglevel=2)
    (tmp_path / "tokens.model").write_bytes(model.getvalue())
    tokens = Tokenizer(model.getvalue()).tokens
    assert "\x01" in tokens and BOM in tokens
    (tmp_path / "tokens.txt").write_text(token_list_text(tokens), encoding="utf-8")
    assert read_token_list(tmp_path / "tokens.txt") == tokens
    assert Tokenizer.load(tmp_path).tokens == tokens


def test_a_control_character_in_a_transcript_is_still_the_tokenizers_error(asrkit, tmp_path):
    """asrkit-train-tokenizer refuses a transcript holding ^A in its own words, naming the
    utterance (as before b9b3d793), not with the table readers' id error."""
    text = tmp_path / "text"
    text.write_text("u1 ab\x01c de\nu2 abc\nu3 zz\x01y\n", encoding="utf-8")
    for model_type, size in (("char", []), ("bpe", ["--vocab-size", "11"]), ("unigram", ["--vocab-size", "11"])):
        proc = asrkit("train-tokenizer", "--model-type", model_type, *size, text, tmp_path / "lang", check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and not (tmp_path / "lang").exists(), err
        assert (f"ERROR (asrkit-train-tokenizer): {text}: utterance 'u1' has the control character U+0001 '\\x01' "
                f"(a terminal escape or a damaged transcript) (and 1 more utterance(s)): clean the text" in err), err


def test_ids_keep_the_id_rules(tmp_path):
    """Only the token list is read without them: a data dir's table still refuses both."""
    from asrkit.data.table import read_table

    scp = tmp_path / "wav.scp"
    scp.write_text(f"u1 a.wav\n{BOM}u2 b.wav\n", encoding="utf-8")
    with pytest.raises(AsrkitError, match=r"wav\.scp:2: starts with a UTF-8 byte-order mark"):
        read_table(scp)
    assert read_table(scp, keys_are_ids=False) == {"u1": "a.wav", f"{BOM}u2": "b.wav"}
    scp.write_text("u1 a.wav\nu\x012 b.wav\n", encoding="utf-8")
    with pytest.raises(AsrkitError, match=r"wav\.scp:2: the control character U\+0001"):
        read_table(scp)
    assert read_table(scp, keys_are_ids=False) == {"u1": "a.wav", "u\x012": "b.wav"}
