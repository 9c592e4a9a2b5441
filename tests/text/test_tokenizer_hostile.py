"""asrkit-train-tokenizer on option combinations that once left no way through."""
from __future__ import annotations

import pytest

from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer
from asrkit.utils.errors import AsrkitError

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
