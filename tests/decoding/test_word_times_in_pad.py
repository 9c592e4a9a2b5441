"""Word times of a recording decoded with an edge pad after it only (no pad before): a word the
model put in the trailing pad kept its time there, past the end of the recording, in --ctm."""
from __future__ import annotations

from types import SimpleNamespace

from asrkit.decoding.ctc_align import Word
from asrkit.decoding.recognizer import Recognizer


def test_a_trailing_pad_alone_still_bounds_the_word_times():
    rec = SimpleNamespace(frame_shift_s=0.01)
    words = [Word("ONE", 0.20, 0.60, 0.9), Word("SIX", 1.60, 1.73, 0.4)]
    got = Recognizer.unpadded_words(rec, words, 0, 155)   # 155 frames = 1.55 s of its own
    # (a word wholly in the pad keeps one frame inside: its CTM duration was 0.000)
    assert [(w.word, round(w.start, 6), round(w.end, 6)) for w in got] == [("ONE", 0.20, 0.60), ("SIX", 1.54, 1.55)]
    # with a pad before too, times shift back by it and are bounded the same way
    got = Recognizer.unpadded_words(rec, words, 10, 145)
    assert [(w.word, round(w.start, 6), round(w.end, 6)) for w in got] == [("ONE", 0.1, 0.5), ("SIX", 1.44, 1.45)]
    # at the start too; a word shorter than a frame keeps its own length
    got = Recognizer.unpadded_words(rec, [Word("A", 0.02, 0.09, 1.0), Word("B", 0.10, 0.105, 1.0)], 10, 145)
    assert [(w.word, round(w.start, 6), round(w.end, 6)) for w in got] == [("A", 0.0, 0.01), ("B", 0.0, 0.005)]
    assert Recognizer.unpadded_words(rec, None, 0, 155) is None
