"""asrkit-align on utterances too large to align at once (hostile-input sweep 8a): the aligner's
table of one byte per (encoder frame, CTC state) is bounded per utterance and per batch."""
from __future__ import annotations

import types

import numpy as np
import pytest

from asrkit.decoding import align as align_mod
from asrkit.decoding import ctc_align
from asrkit.decoding.recognizer import Prepared
from asrkit.utils.errors import AsrkitError


class FakeRecognizer:
    """What align_items uses of a Recognizer; align() records its batches."""

    config = types.SimpleNamespace(batch_size=16)
    time_reduction = 1
    frame_shift_s = 0.01
    device = "cpu"

    def __init__(self, error=None):
        self.batches = []
        self.error = error

    def prepare_whole(self, utt, feats):
        return Prepared(feats, None)

    def unpadded_words(self, words, lead, frames):
        return words

    def align(self, batch):
        if self.error is not None:
            raise self.error
        self.batches.append([u for u, _, _ in batch])
        return [[] for _ in batch]


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(align_mod, "transcript_tokens",
                        lambda rec, utt, text, unknown: list(range(2, 2 + len(text.split()))))
    monkeypatch.setattr(ctc_align, "MAX_ALIGN_CELLS", 1000)


def items(frames):
    return [(f"u{i}", np.zeros((n, 2), np.float32), None) for i, n in enumerate(frames)]


def test_batches_stay_under_the_limit_and_an_utterance_over_it_is_named(small_limit):
    """16 utterances were one batch whatever their size (16 x 20 min was 16 times one's memory),
    and an utterance whose table the machine could not hold was a RuntimeError traceback
    ('DefaultCPUAllocator: can't allocate memory: you tried to allocate 3780090000 bytes')."""
    rec = FakeRecognizer()
    texts = {f"u{i}": "A B C" for i in range(5)}  # 3 tokens: 7 states
    summary = align_mod.align_items(rec, items([40, 40, 40, 40, 200]), 5, texts, emit=lambda utt, words: None,
                                    max_bad_percent=100)
    # 40 frames x 7 states: three utterances (840 cells) in a batch, not four (1120)
    assert rec.batches == [["u0", "u1", "u2"], ["u3"]]
    assert summary.bad.failed == ["u4"] and summary.bad.done == 4
    assert summary.bad.first_error.startswith("utterance 'u4': aligning its 3 tokens to its 200 CTC frames takes "
                                              "1.4e+03 cells, over the 1e+03 asrkit-align holds")


def test_running_out_of_memory_is_one_line_naming_the_batch(small_limit):
    rec = FakeRecognizer(RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
                                      "allocate memory: you tried to allocate 3780090000 bytes."))
    with pytest.raises(AsrkitError, match=r"^out of memory aligning 2 utterance\(s\) \(u0 u1\) on cpu: lower the "
                                          r"batch size \(now 16\), or cut long recordings"):
        align_mod.align_items(rec, items([30, 30]), 2, {"u0": "A", "u1": "B"}, emit=lambda utt, words: None)
    with pytest.raises(AsrkitError, match=r"^out of memory aligning 1 utterance\(s\) \(u0\) on cpu: cut the "
                                          r"recording into utterances \(--segments\)$"):
        align_mod.align_items(rec, items([30]), 1, {"u0": "A"}, emit=lambda utt, words: None)
    rec = FakeRecognizer(RuntimeError("some other failure"))
    with pytest.raises(RuntimeError, match="some other failure"):
        align_mod.align_items(rec, items([30]), 1, {"u0": "A"}, emit=lambda utt, words: None)
