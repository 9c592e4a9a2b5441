"""A long recording's samples are let go once its features are made: asrkit-decode's input
readers and the Transcriber kept the last recording's samples (4 bytes a sample: 230 MB for an
hour of 16 kHz audio) alive beside its features through the whole decode of it (an hour's
recording peaked at 2.24 GB of resident memory, 2.04 GB without them)."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import soundfile as sf

from asrkit.decoding.inputs import from_wav_files, from_wav_scp
from asrkit.decoding.recognizer import Recognizer, UttResult
from asrkit.decoding.transcriber import Transcriber


def _wavs(tmp_path, n=2):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = tmp_path / f"r{i}.wav"
        sf.write(str(p), rng.integers(-3000, 3000, 16000).astype(np.int16), 16000, subtype="PCM_16")
        paths.append(str(p))
    return paths


class _Seen:
    """A featurize callback that keeps weak references to the samples it is given."""

    def __init__(self) -> None:
        self.refs = []

    def __call__(self, samples, rate, utt):
        self.refs.append(weakref.ref(samples))
        return np.zeros((len(samples) // 160, 3), np.float32)

    def alive(self):
        gc.collect()
        return [r() is not None for r in self.refs]


def test_file_readers_let_the_samples_go_before_their_item_is_decoded(tmp_path):
    paths = _wavs(tmp_path)
    seen = _Seen()
    items = from_wav_files(paths, seen)
    utt, feats, err = next(items)  # the caller decodes it now, the generator waiting at its yield
    assert err is None and feats.shape[0] == 100
    assert seen.alive() == [False]
    assert [u for u, _, _ in items] == ["r1"]

    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"u{i} {p}\n" for i, p in enumerate(paths)))
    seen = _Seen()
    items = from_wav_scp(str(scp), seen)
    utt, feats, err = next(items)
    assert (utt, err) == ("u0", None)
    assert seen.alive() == [False]


class _FakeRecognizer(Recognizer):
    """Features and decode of a Recognizer, the decode checking which samples are still alive."""

    def __init__(self) -> None:  # (no model)
        self.seen = _Seen()
        self.alive_at_decode = None

    @property
    def frame_shift_s(self) -> float:
        return 0.01

    def features(self, samples, sample_rate, utt_id):
        return self.seen(samples, sample_rate, utt_id)

    def decode(self, items, **_):
        self.alive_at_decode = self.seen.alive()
        return [UttResult(u, [], [], f.shape[0], 0) for u, f in items]


def test_transcriber_lets_the_samples_go_before_decoding(tmp_path):
    rec = _FakeRecognizer()
    t = Transcriber(rec)
    audio = (np.zeros(32000, np.int16), 16000)  # converted to float32 samples, a copy of its own
    out = t.transcribe([audio, _wavs(tmp_path, 1)[0]])
    assert [o.duration for o in out] == [2.0, 1.0]
    assert rec.alive_at_decode == [False, False]
