"""asrkit-train-tokenizer on option combinations that once left no way through."""
from __future__ import annotations

import pytest

from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer
from asrkit.utils.errors import AsrkitError
from tests.cli_checks import run_asrkit_in_process

TEXT = ["ab ba", "abc"]


def test_a_user_symbol_that_is_a_character_of_the_text_is_one_piece():
    """With --user-defined-symbols a (a character of the text) a char model has 5 pieces: the
    symbol was counted twice, so --vocab-size 5 was "too small, use 6" and 6 "too high, use 5"."""
    config = TokenizerConfig(model_type="char", vocab_size=5, user_defined_symbols=["a"])
    tok = train_tokenizer(TEXT, config)
    assert sorted(tok.tokens[2:-1]) == ["a", "b", "c", "\u2581"]
    assert train_tokenizer(TEXT, TokenizerConfig(model_type="char", user_defined_symbols=["a"])).tokens == tok.tokens
    with pytest.raises(AsrkitError, match=r"Vocabulary size too high \(6\).*use --vocab-size 5"):
        train_tokenizer(TEXT, TokenizerConfig(model_type="char", vocab_size=6, user_defined_symbols=["a"]))
    with pytest.raises(AsrkitError, match=r"--vocab-size 5 is too small .*\('c'\); use --vocab-size 6"):
        train_tokenizer(TEXT, TokenizerConfig(model_type="char", vocab_size=5, user_defined_symbols=["a", "xy"]))


@pytest.mark.parametrize("symbols,piece", [(["a b"], "'a b'"), (["x\ty"], "'x\\\\ty'"), ([], "'\\\\t'")])
def test_a_foreign_model_with_a_piece_holding_white_space_is_refused(tmp_path, symbols, piece):
    """sentencepiece itself takes a user symbol 'a b', and with the identity normalization keeps a
    tab of the text as a piece: such a model loaded, and its tokens.txt line 'a b 2', its --pieces
    output and Kaldi's int2sym.pl split the token in two."""
    import io

    import sentencepiece as spm

    from asrkit.text.tokenizer import Tokenizer

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["ab ba", "abc x\ty"]), model_writer=model,
                                   model_type="char", vocab_size=20, hard_vocab_limit=False,
                                   user_defined_symbols=symbols, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
                                   normalization_rule_name="identity", minloglevel=2)
    path = tmp_path / "tokens.model"
    path.write_bytes(model.getvalue())
    with pytest.raises(AsrkitError, match=rf"tokens\.model: sentencepiece model has the piece {piece} \(id \d+\), "
                                          rf"which holds white space"):
        Tokenizer.load(path)


def test_pieces_of_unknown_characters_are_unk_and_decode_back(asrkit, tmp_path):
    """--pieces wrote an unknown character as itself ('です'), a token no tokens.txt has, where
    the ids said 1 (<unk>): --decode --pieces then refused asrkit-tokenize's own output."""
    from asrkit.text.tokenizer import Tokenizer

    (tmp_path / "text").write_text("u1 日本語\n", encoding="utf-8")
    asrkit("train-tokenizer", "--model-type", "char", tmp_path / "text", tmp_path / "lang")
    model = tmp_path / "lang" / "tokens.model"
    tok = Tokenizer.load(model)
    assert tok.encode_as_pieces("日本語です") == ["\u2581", "日", "本", "語", "<unk>"]
    assert tok.encode_as_pieces("日本語です") == [tok.tokens[i] for i in tok.encode("日本語です")]
    pieces = asrkit("tokenize", "--pieces", model, input="u1 日本語です\n".encode()).stdout
    assert pieces.decode() == "u1 \u2581 日 本 語 <unk>\n"
    back = asrkit("tokenize", "--decode", "--pieces", model, input=pieces).stdout
    assert back == asrkit("tokenize", "--decode", model, input=asrkit("tokenize", model, input="u1 日本語です\n".encode()).stdout).stdout
    assert back.decode() == "u1 日本語 \u2047\n"


def test_a_sclite_trn_file_is_not_trained_on(asrkit, tmp_path):
    """A trn file ('<transcript> (<utt-id>)', ESPnet's ref.trn) given for the text: its first
    words were taken for ids and '(s-0)'... trained on, so '(', ')', '-' and digits became tokens."""
    trn = tmp_path / "ref.trn"
    trn.write_text("".join(f"w{i} x y (s-{i})\n" for i in range(5)) + "(s-9)\n", encoding="utf-8")
    proc = asrkit("train-tokenizer", "--model-type", "char", trn, tmp_path / "lang", check=False)
    assert proc.returncode == 1 and not (tmp_path / "lang").exists()
    assert (f"ERROR (asrkit-train-tokenizer): {trn}: every line ends in a '(<id>)', as in a sclite trn file"
            in proc.stderr.decode()), proc.stderr.decode()
    # a Kaldi text whose lines end in words in parentheses, all one or not all of them, is a text
    text = tmp_path / "text"
    text.write_text("u1 a (noise)\nu2 b (noise)\n", encoding="utf-8")
    asrkit("train-tokenizer", "--model-type", "char", text, tmp_path / "lang1")
    text.write_text("u1 a (noise)\nu2 b (laughter)\nu3 c\n", encoding="utf-8")
    asrkit("train-tokenizer", "--model-type", "char", text, tmp_path / "lang2")
    # every line ends in a tag, the tags repeat or are words: a Kaldi text (53091f4 refused it)
    text.write_text("u1 a (laugh)\nu2 b (noise)\nu3 c (laugh)\nu4 d (noise)\n", encoding="utf-8")
    asrkit("train-tokenizer", "--model-type", "char", text, tmp_path / "lang3")
    text.write_text("u1 a (noise)\nu2 b (laugh)\n", encoding="utf-8")
    asrkit("train-tokenizer", "--model-type", "char", text, tmp_path / "lang4")


@pytest.mark.parametrize("lines, kind", [
    (["s-1 1 0.00 0.30 zero 0.98", "s-2 1 0.00 0.41 one 0.87"], "a CTM ('<utt> <channel> <start>"),
    (["s-1 1 0.00 0.30 yes 0.98", "s-1 1 0.30 0.30 no 0.90", "s-2 1 0.00 0.30 yes 0.91"], "a CTM ('<utt> <channel>"),
    (["s-1 /data/waves/s-1.wav", "s-2 sox /data/waves/s-2.flac -t wav - |"], "a wav.scp (every line"),
    (["s-1 rec1 0.00 1.25", "s-2 rec1 1.25 2.50"], "a segments file (every line"),
], ids=["ctm-one-word", "ctm-three-words", "wav.scp", "segments"])
def test_a_ctm_or_a_wav_scp_is_not_trained_on(tmp_path, lines, kind):
    """A CTM (asrkit-decode --ctm's, asrkit-align's), a wav.scp or a segments file given for the text
    was trained on with exit 0, its times or paths made tokens ('.', '/', digits); a CTM of several words an
    utterance said only 'duplicate key', with the advice for a plain text of sentences."""
    path = tmp_path / "text"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    proc = run_asrkit_in_process("train-tokenizer", "--model-type", "char", path, tmp_path / "lang", check=False)
    assert proc.returncode == 1 and not (tmp_path / "lang").exists()
    assert f"ERROR (asrkit-train-tokenizer): {path}: {kind}" in proc.stderr.decode(), proc.stderr.decode()
    # transcripts of numbers, one a wav file's name: a text
    path.write_text("s-1 1 0 3 5 0.5\ns-2 yes.wav\n", encoding="utf-8")
    assert run_asrkit_in_process("train-tokenizer", "--model-type", "char", path, tmp_path / "lang").returncode == 0


@pytest.mark.parametrize("model_type, vocab_size", [("char", None), ("bpe", "2"), ("unigram", "2")])
def test_transcripts_of_unknown_words_alone_make_no_tokenizer(asrkit, tmp_path, model_type, vocab_size):
    """Sentencepiece reads '<unk>' as its unknown symbol: a text of nothing else trained, with exit 0, a
    tokenizer of '▁' alone, whose every model could write nothing but '⁇'."""
    (tmp_path / "text").write_text("u1 <unk>\nu2 <unk> <unk>\n")
    size = ["--vocab-size", vocab_size] if vocab_size else []
    proc = asrkit("train-tokenizer", "--model-type", model_type, *size, tmp_path / "text", tmp_path / "lang",
                  check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert f"ERROR (asrkit-train-tokenizer): {tmp_path / 'text'}: the transcripts hold no word but <unk>" in err
    assert not (tmp_path / "lang" / "tokens.model").exists()
    # <unk> among words stays the unknown word; the other words make the tokens
    (tmp_path / "text").write_text("u1 YES <unk> NO\nu2 <unk>\n")
    asrkit("train-tokenizer", "--model-type", "char", tmp_path / "text", tmp_path / "lang")
    listed = [line.split()[0] for line in (tmp_path / "lang" / "tokens.txt").read_text().splitlines()]
    assert set("YESNO") <= set(listed) and listed.count("<unk>") == 1
