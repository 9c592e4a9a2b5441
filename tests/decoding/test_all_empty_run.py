"""A run whose every decoded utterance got an empty text (a model of another corpus, features it
was not trained on, damaged CMVN stats: a hand-edited huge variance did it) ended with exit 0 and
nothing said; now a warning does (not an error: silence rightly decodes to nothing)."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np

from asrkit.decoding.recognizer import UttResult
from asrkit.decoding.run import decode_items


class _Stub:
    """What decode_items asks of a Recognizer; ``texts`` maps an utterance to its best text."""

    frame_shift_s = 0.01
    config = SimpleNamespace(batch_size=4)

    def __init__(self, texts):
        self.texts = texts

    def normalize_and_cut(self, utt, feats):
        return SimpleNamespace(feats=feats, spans=None, pad=(0, 0))

    def decode(self, batch, normalized, pieces, pads):
        return [UttResult(u, [SimpleNamespace()], [self.texts[u]], f.shape[0], 1) for u, f in batch]


def _run(texts, caplog):
    items = [(u, np.zeros((20, 4), dtype=np.float32), None) for u in texts]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="decode"):
        decode_items(_Stub(texts), items, len(items), lambda r: None)
    return [r.getMessage() for r in caplog.records if "empty text" in r.getMessage()]


def test_a_run_of_only_empty_texts_is_said(caplog):
    said = _run({"a": "", "b": "", "c": ""}, caplog)
    assert said == ["every one of the 3 decoded utterances got an empty text: are the inputs speech, and the "
                    "features (rate, --feats normalised already?) those the model was trained on?"]
    assert _run({"a": "", "b": "YES", "c": ""}, caplog) == []
    assert _run({"a": "", "b": ""}, caplog) == []   # two silent files: nothing to say
