"""asrkit-align's edges (hostile-input sweep): a transcript that fits a recording only thanks to
the edge pad, and words split differently by str.split() and the tokenizer."""
from __future__ import annotations

import types

import numpy as np
import pytest

from asrkit.decoding import align as align_mod
from asrkit.decoding.ctc_align import Word
from asrkit.decoding.recognizer import Prepared


class PaddingRecognizer:
    """What align_items uses of a Recognizer: every recording gets ``pad`` frames of quiet at each
    edge (as Recognizer.prepare_whole pads a take cut close); align() makes one word per token."""

    config = types.SimpleNamespace(batch_size=16)
    time_reduction = 1
    frame_shift_s = 0.01
    device = "cpu"

    def __init__(self, pad: int = 0):
        self.pad = pad

    def prepare_whole(self, utt, feats):
        if not self.pad:
            return Prepared(feats, None)
        quiet = np.zeros((self.pad, feats.shape[1]), np.float32)
        return Prepared(np.concatenate([quiet, feats, quiet]), None, (self.pad, self.pad))

    def unpadded_words(self, words, lead, frames):
        return words

    def align(self, batch):
        return [[Word(f"tok{t}", i * 0.01, (i + 1) * 0.01, 0.5) for i, t in enumerate(tokens)]
                for _, _, tokens in batch]


@pytest.fixture
def word_tokens(monkeypatch):
    """One token per word, the words split as the tokenizer splits them."""
    from asrkit.text.tokenizer import words

    monkeypatch.setattr(align_mod, "transcript_tokens",
                        lambda rec, utt, text, unknown: list(range(2, 2 + len(words(text)))))


def test_a_transcript_that_fits_only_in_the_edge_pad_is_skipped(word_tokens):
    """A 0.1 s segment with a 7-word transcript fitted the 0.4 s of quiet added around it, and its
    words came out stacked at the edge, a frame each with confidence 0, and exit 0."""
    rec = PaddingRecognizer(pad=20)
    feats = {"short": np.ones((3, 2), np.float32), "long": np.ones((10, 2), np.float32)}
    got = {}
    summary = align_mod.align_items(rec, [(u, f, None) for u, f in feats.items()], 2,
                                    {"short": "A B C D E", "long": "A B C D E"},
                                    emit=lambda utt, words: got.update({utt: words}), max_bad_percent=100)
    assert list(got) == ["long"]
    assert summary.bad.failed == ["short"]
    assert summary.bad.first_error == ("utterance 'short': its transcript needs 5 CTC frames, its audio has 3 "
                                       "(3 feature frames)")


def test_ctm_words_are_the_transcripts_split_as_the_tokenizer_splits(word_tokens):
    """str.split() cut "RUBOUT\\x1fG" in two where the tokenizer (and asrkit-score, Kaldi, sclite)
    see one word: the counts differed and the CTM got the tokenizer's rendering, not the words."""
    got = {}
    align_mod.align_items(PaddingRecognizer(), [("u", np.ones((20, 2), np.float32), None)], 1,
                          {"u": "RUBOUT\x1fG M\x85N\u00a0E"}, emit=lambda utt, words: got.update({utt: words}))
    assert [w.word for w in got["u"]] == ["RUBOUT\x1fG", "M\x85N", "E"]
