"""Transcribing audio from Python: a packed model.pt, file paths or sample arrays in, text and word times out.

    >>> from asrkit import Transcriber                                     # doctest: +SKIP
    >>> t = Transcriber.from_file("exp/las/model.pt", device="cpu", beam=10)
    >>> r = t.transcribe("a.flac")
    >>> r.text, r.score, [(w.word, w.start, w.end, w.confidence) for w in r.words]
    >>> rs = t.transcribe(["a.wav", (samples, 44100), "meeting.ogg"])     # one batched call, results in order

The same library path as asrkit-decode (:class:`asrkit.decoding.recognizer.Recognizer`), so
the hypotheses are the CLI's: audio at another rate is resampled to the model's, multi-channel
audio averaged (or ``channel=N``), recordings longer than ``max_segment_s`` cut at their pauses
and joined; all inputs of one call are decoded together, ``batch_size`` at a time, longest first.

Inputs: a path (str or ``os.PathLike``; any format libsndfile reads; a str ending in ``|`` is a
``cmd |`` pipe, an ``os.PathLike`` is always the file it names), or a ``(samples, sample_rate)``
pair. Integer samples are taken at their type's scale (int16 as is; int16 values in a wider type,
as a list of ints becomes, are refused); float samples at full scale +-1.0 (what soundfile,
torchaudio and librosa return). A 2-D array is (frames, channels),
soundfile's layout (torchaudio's (channels, frames), more channels than frames, is refused by
name); the rate is a whole number of Hz (``16000.0`` is taken). Options are
:class:`asrkit.decoding.config.DecodeConfig`'s (``beam``, ``ctc_weight``, ``lm_weight`` with
``lm=``, ``nbest``, ``batch_size``, ...). A bad input raises :class:`asrkit.utils.errors.AsrkitError` naming it.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.ctc_align import Word
from asrkit.decoding.inputs import resampled_problem
from asrkit.decoding.recognizer import Piece, Recognizer, UttResult
from asrkit.features.wav import DEFAULT_MAX_SAMPLES, FLOAT_PEAK_LIMIT, INT16_SCALE, downmix
from asrkit.utils.errors import AsrkitError

Audio = Union[str, "os.PathLike[str]", Tuple[Any, int]]


@dataclass
class Transcript:
    """One input's best hypothesis."""

    text: str
    tokens: List[int]  # token ids (docs/contracts.md), as nbest.jsonl lists them
    score: float  # the weighted total the search ranked by
    words: Optional[List[Word]]  # with start/end (seconds) and confidence; None without a CTC head
    duration: float  # seconds of audio (feature frames x shift)
    scores: dict = field(default_factory=dict)  # unweighted sums per scorer (att, ctc, lm)
    segments: Optional[List[Piece]] = None  # the pieces of a recording that was cut at its pauses
    nbest: List[Tuple[str, float]] = field(default_factory=list)  # (text, score) of every hypothesis kept


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or hasattr(value, "detach")  # numpy, or a torch tensor


def _tensor_to_numpy(t: Any, name: str) -> np.ndarray:
    """A torch tensor's values as a numpy array, or an AsrkitError naming the input."""
    import torch

    try:
        t = t.detach()
        if t.layout != torch.strided:  # a sparse tensor: numpy has no such thing
            t = t.to_dense()
        if t.is_floating_point() and t.dtype not in (torch.float16, torch.float32, torch.float64):
            t = t.float()  # bfloat16, float8: types numpy lacks ("Got unsupported ScalarType BFloat16")
        return t.cpu().numpy()
    except (RuntimeError, TypeError, NotImplementedError) as e:  # a meta tensor holds no values
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AsrkitError(f"{name}: cannot read the tensor's samples ({t.dtype} on {t.device}: {msg})") from None


class Transcriber:
    """A loaded model (and LM) that turns audio into :class:`Transcript` s."""

    def __init__(self, recognizer: Recognizer, channel: Optional[int] = None,
                 max_samples: int = DEFAULT_MAX_SAMPLES) -> None:
        # Checked here, not at the first file (a TypeError from the reader for "1", and -1 meant
        # the reader's "mono only" for files but "no such channel" for arrays).
        if channel is not None and (isinstance(channel, bool) or not isinstance(channel, (int, np.integer))
                                    or channel < 0):
            raise AsrkitError(f"channel must be None (the mean of the channels) or a channel number >= 0 "
                              f"(0-based), got {channel!r}")
        if not isinstance(recognizer, Recognizer):
            # Transcriber("exp/x/model.pt") failed at the first transcribe() as "'str' object has no
            # attribute 'features'".
            raise AsrkitError(f"Transcriber() takes a loaded Recognizer, got {type(recognizer).__name__}: load a "
                              f"model file with Transcriber.from_file(path)")
        # asrkit-decode's --max-samples: files over it were refused naming that option, which the
        # API did not have (a 5 h recording could not be transcribed at all), and arrays had no
        # limit (2**30 samples needed some 20 GB for their features before an OOM kill).
        if isinstance(max_samples, bool) or not isinstance(max_samples, (int, np.integer)) or max_samples < 1:
            raise AsrkitError(f"max_samples must be a whole number >= 1 (samples per input, over its channels), "
                              f"got {max_samples!r}")
        self.recognizer = recognizer
        self.channel = channel
        self.max_samples = int(max_samples)

    @classmethod
    def from_file(cls, model: Union[str, "os.PathLike[str]"], device: str = "cpu", lm: Optional[str] = None,
                  config: Optional[Union[str, "os.PathLike[str]", DecodeConfig]] = None,
                  channel: Optional[int] = None, max_samples: int = DEFAULT_MAX_SAMPLES,
                  **options: Any) -> "Transcriber":
        """Load ``model`` (a packed model.pt) onto ``device``. ``config``: a decode.yaml or a
        DecodeConfig (None: the options packed in the model, asrkit-pack-model's, else the
        defaults); ``options`` override its fields (``beam=10``, ``ctc_weight=0.5``, ...)."""
        # Checked here, where the caller's argument names are known: None reached os.stat as a
        # TypeError traceback, bytes reached torch.load as "'bytes' object has no attribute 'seek'",
        # and a dict given as config os.fspath's TypeError.
        for what, value in (("model", model), ("lm", lm)):
            if not isinstance(value, (str, os.PathLike)) and not (what == "lm" and value is None):
                raise AsrkitError(f"Transcriber.from_file: {what} must be a path (str or os.PathLike) to "
                                  f"{'a packed model.pt' if what == 'model' else 'an lm.pt, or None'}, "
                                  f"got {type(value).__name__}")
        if isinstance(config, DecodeConfig):
            cfg = DecodeConfig.from_dict(config.to_dict())
        elif isinstance(config, (str, os.PathLike)):
            cfg = DecodeConfig.from_yaml(config)
        elif config is None:  # the options packed in the model (asrkit-pack-model), else the defaults
            cfg, _ = DecodeConfig.resolve(None, model, has_lm=lm is not None)
        else:
            raise AsrkitError(f"Transcriber.from_file: config must be a decode.yaml path or a DecodeConfig (single "
                              f"options go as keyword arguments: beam=10), got {type(config).__name__}")
        unknown = [k for k in options if k not in cfg.to_dict()]
        if unknown:
            raise AsrkitError(f"unknown decoding option(s) {', '.join(unknown)} (known: {', '.join(cfg.to_dict())})")
        cfg = DecodeConfig.from_dict({**cfg.to_dict(), **options, "device": device}, "Transcriber options")
        return cls(Recognizer.from_files(model, cfg, lm), channel, max_samples)

    @property
    def config(self) -> DecodeConfig:
        return self.recognizer.config

    def transcribe(self, audio: Union[Audio, Sequence[Audio]]) -> Union[Transcript, List[Transcript]]:
        """A Transcript for one input, or a list of them (in order) for a list of inputs."""
        # One input, or a list of them? A pair of an array and anything, or of anything but a path
        # and a number (16000.0 included), is one (samples, rate) input, not two inputs; an array
        # without its rate, bytes, None... are one (bad) input, named by _read, not iterated into
        # numbers or bytes each "input i".
        single = (isinstance(audio, (str, os.PathLike, bytes, bytearray, dict)) or _is_array(audio)
                  or not hasattr(audio, "__iter__")
                  or (isinstance(audio, tuple) and len(audio) == 2 and not isinstance(audio[0], (str, os.PathLike))
                      and (isinstance(audio[1], (int, float, np.number)) or _is_array(audio[0]))))
        inputs = [audio] if single else list(audio)
        rec = self.recognizer
        items, failed = [], []
        for i, a in enumerate(inputs):
            name = f"input {i}"
            # Every input is read before any is decoded; a bad one stops the call, but only after
            # the others were read too, so one error names every bad input of a 100-file call
            # rather than one per retry.
            try:
                samples, rate = self._read(a, name)
                # The limit holds for the copy resampled to the model's rate too, as in asrkit-decode.
                target = getattr(rec, "sample_rate", None)  # (None: a model without a feature config)
                problem = (resampled_problem(samples, rate, target, self.max_samples, "max_samples=; ")
                           if target else None)
                if problem is not None:
                    shown = f"{name} ({os.fspath(a)})" if isinstance(a, (str, os.PathLike)) else name
                    raise AsrkitError(f"{shown}: {problem}")
                items.append((name, rec.features(samples, rate, name)))
                # (not kept: the last input's samples stayed in memory through the whole decode,
                # 230 MB for an hour of 16 kHz audio, beside its features)
                del samples
            except AsrkitError as e:
                failed.append((name, str(e)))
        if failed:
            others = ", ".join(n for n, _ in failed[1:6]) + (", ..." if len(failed) > 6 else "")
            raise AsrkitError(failed[0][1] + (f" (and {len(failed) - 1} more bad input(s) of {len(inputs)}: "
                                               f"{others}; nothing was decoded)" if len(failed) > 1 else ""))
        results = rec.decode(items)
        out = [self._transcript(r) for r in results]
        return out[0] if single else out

    def _read(self, a: Audio, name: str) -> Tuple[np.ndarray, int]:
        from asrkit.features.wav import read_wav_source

        if isinstance(a, (str, os.PathLike)):
            # Only a str can be a "cmd |" pipe: a pathlib.Path is a file whatever its name ends with.
            return read_wav_source(os.fspath(a), f"{name} ({os.fspath(a)})", channel=self.channel,
                                   max_samples=self.max_samples, pipes=isinstance(a, str))
        if not (isinstance(a, tuple) and len(a) == 2):
            hint = ": give the sample rate with the samples, (samples, sample_rate)" if _is_array(a) else ""
            raise AsrkitError(f"{name}: expected a path or a (samples, sample_rate) pair, got {type(a).__name__}"
                              f"{hint}")
        samples, rate = a
        if hasattr(samples, "detach"):  # a torch tensor
            samples = _tensor_to_numpy(samples, name)
        try:
            x = np.asarray(samples)
        except (ValueError, TypeError) as e:  # a ragged list: numpy refuses to make an array of it
            raise AsrkitError(f"{name}: samples are not an array of numbers ({e})") from None
        if isinstance(rate, (float, np.floating)) and math.isfinite(rate) and float(rate).is_integer():
            rate = int(rate)  # 16000.0 is 16000 Hz
        if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
            shown = repr(rate) if len(repr(rate)) <= 40 else f"of type {type(rate).__name__}"
            raise AsrkitError(f"{name}: bad sample rate {shown} (a whole number of Hz > 0)")
        if x.ndim not in (1, 2):
            raise AsrkitError(f"{name}: samples must be (frames,) or (frames, channels), got shape {x.shape}")
        if x.ndim == 2 and 0 < x.shape[0] < x.shape[1]:
            # torchaudio.load's (channels, frames) layout: taken as (frames, channels) it would be
            # a few samples of thousands of channels, and fail as "too short for one frame".
            raise AsrkitError(f"{name}: samples of shape {x.shape} have more channels than frames; 2-D samples "
                              f"are (frames, channels), and torchaudio.load gives (channels, frames): pass "
                              f"wave.T (or wave[0] for the first channel)")
        # By kind, not np.issubdtype: numpy counts timedelta64 as a signed integer, and np.iinfo
        # then raised "Invalid integer data type 'm'".
        if x.dtype.kind not in "iuf":
            raise AsrkitError(f"{name}: samples of type {x.dtype} are not audio")
        if x.size == 0:  # (before the channels' mean: shape (2, 0) gave "non-finite sample values")
            raise AsrkitError(f"{name}: empty audio")
        if x.size > self.max_samples:
            raise AsrkitError(f"{name}: {x.size} samples (over all channels) is over the limit of {self.max_samples} "
                              f"samples per input (max_samples=; its features take about 18 MB a minute of 16 kHz "
                              f"audio)")
        if x.dtype.kind == "i":
            peak_int = max(abs(int(x.max())), abs(int(x.min())))
            if x.dtype.itemsize > 2 and 0 < peak_int <= -int(np.iinfo(np.int16).min):
                # int16 values in a wider type (a Python list of ints becomes int64): at int64's
                # scale they are 190 dB below full scale and decoded to an empty text without a
                # word. A real recording of 24 or 32 bits is that quiet only when it is silence.
                raise AsrkitError(f"{name}: {x.dtype} samples peak at {peak_int}, within int16's range: int16 values "
                                  f"in a wider type, taken at {x.dtype}'s scale, are near silence; pass them as "
                                  f"np.int16 (np.asarray(samples, dtype=np.int16) for a list of ints), or float "
                                  f"samples at +-1.0")
            y = x.astype(np.float32) * np.float32(INT16_SCALE / (np.iinfo(x.dtype).max + 1))
        elif x.dtype.kind == "u":  # centred on the middle of the range
            half = (np.iinfo(x.dtype).max + 1) / 2
            y = (x.astype(np.float32) - np.float32(half)) * np.float32(INT16_SCALE / half)
        else:
            peak = float(np.abs(x).max()) if np.isfinite(x).all() else 0.0
            if peak > FLOAT_PEAK_LIMIT:
                # as for float audio files: int16 values passed as floats, 90 dB too loud
                raise AsrkitError(f"{name}: float samples reach {peak:.4g}, beyond the +-1.0 full scale by more "
                                  f"than {FLOAT_PEAK_LIMIT:g}x; pass int16 arrays as int16, or divide by 32768")
            y = x.astype(np.float32) * np.float32(INT16_SCALE)
        if y.ndim == 2:
            if self.channel is None:
                y = downmix(y, name, int(rate))
            elif 0 <= self.channel < y.shape[1]:
                y = y[:, self.channel]
            else:
                raise AsrkitError(f"{name}: channel {self.channel} but the audio has {y.shape[1]} channel(s)")
        if not np.isfinite(y).all():
            raise AsrkitError(f"{name}: non-finite sample values")
        return np.ascontiguousarray(y), int(rate)

    def _transcript(self, r: UttResult) -> Transcript:
        best = r.hyps[0] if r.hyps else None
        return Transcript(text=r.texts[0] if r.texts else "", tokens=list(best.tokens) if best else [],
                          score=best.score if best else float("-inf"), words=r.words,
                          duration=r.num_frames * self.recognizer.frame_shift_s,
                          scores=dict(best.scores) if best else {}, segments=r.pieces,
                          nbest=[(t, h.score) for t, h in zip(r.texts, r.hyps)])
