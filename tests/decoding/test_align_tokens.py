"""asrkit-align's transcripts against a model's tokens, without a model: a transcript of which the
model knows nothing is its own kind of bad utterance (NothingKnown), with the case that would help."""
from types import SimpleNamespace

import pytest

from asrkit.decoding.align import NothingKnown, nothing_known_message, transcript_tokens
from asrkit.text.tokenizer import UnknownTally
from asrkit.utils.errors import AsrkitError


def test_a_word_level_model_knowing_none_of_the_words():
    rec = SimpleNamespace(pkg=SimpleNamespace(tokenizer=None, tokens=["<blank>", "<unk>", "YES", "NO", "<sos/eos>"]))
    assert transcript_tokens(rec, "u", "YES NO", UnknownTally()) == [2, 3]
    assert transcript_tokens(rec, "u", "", UnknownTally()) == []  # aligns to no words
    with pytest.raises(NothingKnown, match="^utterance 'u': word\\(s\\) yes no not in the model's token list$") as e:
        transcript_tokens(rec, "u", "yes no", UnknownTally())
    assert e.value.case == "upper"
    with pytest.raises(NothingKnown) as e:
        transcript_tokens(rec, "u", "ja nein", UnknownTally())
    assert e.value.case is None
    with pytest.raises(AsrkitError) as e:  # one known word: an ordinary bad utterance, as before
        transcript_tokens(rec, "u", "YES maybe", UnknownTally())
    assert not isinstance(e.value, NothingKnown)


def test_the_cause_named_is_the_case_most_transcripts_would_be_known_in():
    assert nothing_known_message("t", 3, ["upper", None, "upper"]).endswith(
        "the transcripts are lower case and the model's tokens upper case; upper-case the words of the text (not the "
        "utterance ids) and align again")
    assert "the transcripts are upper case and the model's tokens lower case" in nothing_known_message("t", 1, ["lower"])
    assert "share no characters" in nothing_known_message("t", 2, [None, None])
