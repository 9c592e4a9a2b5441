"""Training straight from audio: fbank computed in the DataLoader workers, with on-the-fly augmentation.

A raw dump dir holds ``wav.scp`` (and optionally ``segments``), ``text``, ``fbank.yaml`` (the
options to compute features with) and ``utt2num_frames`` or ``utt2dur`` (lengths for batching;
without either each recording is read once at start-up). No features are written to disk: for LibriSpeech
960 h that saves ~110 GB of fbank per speed-perturbation factor.

Features are computed by the code ``asrkit-compute-fbank`` runs (:meth:`WavEntry.load`,
:func:`~asrkit.features.fbank.compute_fbank`), so they equal dumped ones for the same audio.
On top of them, per utterance and epoch (:class:`~asrkit.training.config.AugmentConfig`):

- **speed perturbation**: a factor drawn from ``augment.speed_factors`` changes tempo and pitch
  together, as ``sox speed`` does for Kaldi's 3-way perturbation, by band-limited resampling
  (torchaudio); an epoch sees each utterance once, at one of the factors;
- **noise**: with probability ``augment.noise_prob`` a random stretch of a recording from
  ``augment.noise_scp`` (a wav.scp of noise, e.g. MUSAN's) is added at an SNR drawn from
  ``augment.noise_snr_db``.

Every draw comes from a generator seeded with ``(training.seed, epoch, utterance index)``, so the
features an utterance gets do not depend on the number of workers, the order of the batches or
on whether the run was resumed: a resumed run trains on exactly what an uninterrupted one did.
"""
from __future__ import annotations

import math
import os
from array import array
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from asrkit.data.datadir import DataDir, kaldi_real, read_segment
from asrkit.data.table import iter_table_fast
from asrkit.features.fbank import FbankConfig, check_fbank_input, compute_fbank
from asrkit.features.resample import low_rate_problem, resample, resample_problem, speed_perturb
from asrkit.features.wav import DEFAULT_MAX_SAMPLES, EXPECT_MONO, STDIN, check_wav_file, constant_value, read_wav_source
from asrkit.features.wav_scp import WavEntry, read_wav_scp
from asrkit.training.data import MAX_FRAMES, DumpDirInputs, FeatureDataset, UnreadableUtterance, frame_count
from asrkit.training.utt_table import PrefixStringsBuilder, UttTable
from asrkit.utils.config import SettingError
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger

log = get_logger(__name__)

# Frames an utterance may run past the length batching counted on: rounding of utt2dur's seconds
# and of the resampling (speed factors, augment.resample), plus 2 % of the length.
_LENGTH_SLACK = 2
_DITHER = 1  # (the dither's seed is drawn from (seed, epoch, utterance, _DITHER), apart from the augmentation's)
# Kaldi's "-" (the recording on stdin) cannot be a training recording: each is read again every
# epoch, by DataLoader workers, which multiprocessing gives /dev/null as stdin.
_NO_STDIN = ("training reads every recording again each epoch, in DataLoader workers, and stdin can be read "
             "once; write the recording to a file and name it in the wav.scp")


def is_raw(data_dir: str) -> bool:
    """Whether a dump dir trains from audio: wav.scp and no feats.scp."""
    d = DataDir(data_dir)
    return not d.has("feats.scp") and d.has("wav.scp")


def num_frames(num_samples: int, cfg: FbankConfig) -> int:
    """Frames Kaldi's fbank makes of ``num_samples`` samples (0: too short for one)."""
    window = cfg.window_samples
    shift = int(cfg.sample_frequency * cfg.frame_shift / 1000)
    if cfg.snip_edges:
        return 0 if num_samples < window else 1 + (num_samples - window) // shift
    return (num_samples + shift // 2) // shift


def _duration_of_file(source: str, where: str) -> float:
    samples, rate = read_wav_source(source, where)
    return len(samples) / rate


def raw_inputs(d: DataDir, fbank: FbankConfig, min_speed: float = 1.0) -> DumpDirInputs:
    """The utterances of a raw dump dir (see :func:`asrkit.training.data.load_utterances`)."""
    scp = d.file("wav.scp")
    sources, rows, lines = PrefixStringsBuilder(), {}, array("i")
    for key, value, lineno in iter_table_fast(scp):
        if key in rows:
            raise AsrkitError(f"{scp}:{lineno}: duplicate id {key!r}")
        if value == STDIN:
            raise AsrkitError(f"{scp}:{lineno}: recording {key!r} is '-' (stdin): {_NO_STDIN}")
        rows[key] = len(sources)
        sources.add(value)
        lines.append(lineno)
    built = sources.build()
    # Lengths: utt2num_frames (exact: asr.sh writes it while computing CMVN), else utt2dur, else
    # every recording is read once.
    frames: Dict[str, str] = d.read("utt2num_frames") if d.has("utt2num_frames") else {}
    durs: Dict[str, str] = d.read("utt2dur") if d.has("utt2dur") and not frames else {}
    segments: Optional[Dict[str, Tuple[float, float]]] = None
    # A segments line naming no usable segment: why, by utterance. Its utterance is skipped and
    # counted (batching.max_missing_ratio), as compute-fbank, decode and align skip it (Kaldi's
    # extract-segments too); the first such line ended the training.
    bad_segments: Dict[str, str] = {}
    if d.has("segments"):
        segments, keys, source_rows = {}, [], array("i")
        seg = d.file("segments")
        for key, value, lineno in iter_table_fast(seg):
            where = f"{seg}:{lineno}"
            if key in segments or key in bad_segments:
                raise AsrkitError(f"{where}: duplicate utterance {key!r}")
            segment, problem = read_segment(key, value, where, rows, scp)
            if segment is None:
                bad_segments[key] = problem
                keys.append(key)
                source_rows.append(0)  # (never read: its length is asked first, and fails)
                continue
            reco, start, end = segment
            if end != -1 and num_frames(int(math.ceil((end - start) * fbank.sample_frequency / min_speed)),
                                        fbank) > MAX_FRAMES:  # else named as if by utt2dur, which may not exist
                raise AsrkitError(f"{where}: utterance {key!r} would have more frames than any recording (at most "
                                  f"{MAX_FRAMES}, 248 days at a 10 ms shift): a damaged table")
            segments[key] = (start, end)
            keys.append(key)
            source_rows.append(rows[reco])
    else:
        keys, source_rows = list(rows), range(len(rows))
    if not durs and not frames and segments is None:
        log.warning("%s: no utt2num_frames or utt2dur, reading every recording once for its length (asr.sh "
                    "--feats-type raw writes utt2num_frames)", d.path)
    rate = fbank.sample_frequency
    index = {k: i for i, k in enumerate(keys)} if not durs and not frames else None

    def length_of(u: str) -> Optional[int]:
        if u in bad_segments:
            raise UnreadableUtterance(bad_segments[u])
        if frames:
            if u not in frames:
                return None
            return int(math.ceil(frame_count(d, u, frames[u]) / min_speed))
        if segments is not None and segments[u][1] != -1:
            seconds = segments[u][1] - segments[u][0]
        elif u in durs:
            seconds = kaldi_real(durs[u])
            if seconds is None or not math.isfinite(seconds) or seconds < 0:
                raise AsrkitError(f"{d.file('utt2dur')}: bad duration {durs[u]!r} for {u!r}")
        elif durs:
            return None
        else:
            k = index[u]
            r = source_rows[k]
            try:
                seconds = _duration_of_file(built[r], f"utterance {u!r} ({scp}:{lines[r]}: {built[r]})")
            except AsrkitError as e:
                # One unreadable recording of many ended the run here, while with utt2num_frames
                # the same file is skipped and counted when its batch reads it.
                raise UnreadableUtterance(str(e)) from None
            if segments is not None:
                seconds -= segments[u][0]
        # The slowest speed factor lengthens the audio most: batches are cut for that length.
        return num_frames(int(math.ceil(seconds * rate / min_speed)), fbank)

    # The table the lengths were read from, as messages name it: segments that all end give theirs
    # (a transcript too long for a 30 ms segment was said to be too long 'by utt2dur', which said 2.5 s).
    by_segments = not frames and segments is not None and all(end != -1 for _, end in segments.values())
    table = "utt2num_frames" if frames else "segments" if by_segments else "utt2dur"
    return DumpDirInputs(scp, keys, source_rows, built, np.frombuffer(lines, dtype=np.int32).copy(), length_of,
                   d.file(table), segments)


def mix_noise(samples: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``samples`` plus a random stretch of ``noise`` (repeated if shorter) scaled to ``snr_db``."""
    n = len(samples)
    if len(noise) >= n:
        start = int(rng.integers(len(noise) - n + 1))
        piece = noise[start:start + n]
    else:
        piece = np.resize(noise, n)  # tiled
    p_speech = float(np.mean(np.square(samples, dtype=np.float64)))
    p_noise = float(np.mean(np.square(piece, dtype=np.float64)))
    if p_noise == 0.0 or p_speech == 0.0:
        return samples
    scale = math.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (samples + scale * piece).astype(np.float32)


class AudioDataset(FeatureDataset):
    """Item ``i``: ``(i, fbank (T, D) float32 with CMVN applied, tokens)`` computed from the audio.

    ``augment`` (an :class:`~asrkit.training.config.AugmentConfig`, training set only) perturbs
    the audio as the module docstring says; :meth:`set_epoch` picks the epoch the draws are
    seeded with. ``cache`` keeps the features of the first read (only without augmentation).
    """

    exact_lengths = False  # the lengths batching used are estimates (utt2dur, speed factors)

    def __init__(self, table: UttTable, fbank: FbankConfig, cmvn: Optional[np.ndarray] = None,
                 norm_vars: bool = True, augment=None, seed: int = 0, cache: bool = False,
                 resample: bool = False) -> None:
        fbank.check_mel_bins()  # an empty mel bin would be a dead input dimension for the whole training
        self.fbank = fbank
        self.resample = resample
        self.augment = augment if augment is not None and augment.active else None
        # Its draws are seeded by numpy's SeedSequence, which takes no negative number: training.seed
        # -3 (which torch takes) was a ValueError traceback from the first batch. Taken modulo
        # 2**64, each 64-bit seed stays its own stream.
        self.seed = seed % 2**64
        self.epoch = 1
        self.noises: List[WavEntry] = []
        self._noise_checked: set = set()  # noise recordings found mixable (their wav.scp lines)
        if self.augment is not None and self.augment.noise_scp:
            try:
                # (noise clips are mixed in whole: a segments file beside them is not theirs to use,
                # and the warning's --segments is no asrkit-train option)
                self.noises = read_wav_scp(self.augment.noise_scp, stdin_refused=_NO_STDIN, whole_recordings=True)
            except AsrkitError as e:
                # ("bad wav rspecifier '-'" named an option asrkit-train has not)
                raise _noise_list_error(str(e)) from None
            if not self.noises:
                raise _noise_list_error(f"{self.augment.noise_scp}: no noise recordings")
            self._check_noise_headers()
        if cache and self.augment is not None:
            log.info("batching.cache_features ignored for %s: on-the-fly augmentation gives new features every "
                     "epoch", table.source_file)
            cache = False
        super().__init__(table, cmvn, norm_vars, cache)
        # Imported in the process the loader workers fork from, so that they share its modules
        # instead of importing a copy each (4 MB a worker); no features are computed here.
        import torchaudio.compliance.kaldi  # noqa: F401

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _length_mismatch(self, i: int, frames: int) -> Optional[AsrkitError]:
        """An utterance longer than the length batching counted on (at the slowest speed factor):
        a stale or foreign utt2dur/utt2num_frames made batches of any size past batching.max_frames
        (out of GPU memory, mid-epoch), without a word. Shorter is harmless (segments may end
        before a rounded duration does), and a little longer is rounding."""
        counted = int(self.table.num_frames[i])
        if self.table.length_file is None or frames <= counted + _LENGTH_SLACK + counted // 50:
            return None
        return self._not_of_this_audio(i, frames, counted)

    def _slowest(self) -> float:
        factors = self.augment.speed_factors if self.augment is not None else []
        return min(min(factors), 1.0) if factors else 1.0

    def _not_of_this_audio(self, i: int, frames: int, counted: int) -> AsrkitError:
        t = self.table
        speed = f" at speed factor {self._slowest():g}" if self._slowest() < 1 else ""
        return AsrkitError(f"{t.where(i)}: utterance {t.utt_id(i)!r} has {frames} frames of audio, {t.length_file} "
                           f"gives it {counted}{speed}: that {Path(t.length_file).name} is not of this audio (write it "
                           f"again, or remove it to have the recordings measured)")

    def stale_length(self, i: int) -> Optional[AsrkitError]:
        """For an utterance batching leaves out as too long for batching.max_frames (no batch reads it):
        the error when its audio is much shorter than its length table (or its segment) says, so that a
        stale utt2dur is named as such, not passed off as utterances too long to train on; or why its
        audio cannot be read (a segment ending past its recording: no batch would ever say so)."""
        t = self.table
        if t.length_file is None and (t.ends is None or t.ends[i] == -1):
            return None  # (measured from the audio itself)
        try:
            entry = self._entry(i)
            samples, rate = self._at_config_rate(*entry.load(), entry.what)
        except AsrkitError as e:
            # A segment running 20 s past its recording was 'longer than batching.max_frames', the
            # length only the segments file claimed.
            return _for_training(e)
        if t.length_file is None:
            return None  # (a segment that reads is as long as it says)
        if rate != self.fbank.sample_frequency:
            return None
        frames = num_frames(int(math.ceil(len(samples) / self._slowest())), self.fbank)
        counted = int(t.num_frames[i])
        if frames + _LENGTH_SLACK + frames // 50 >= counted:
            return None
        return self._not_of_this_audio(i, frames, counted)

    def _entry(self, i: int) -> WavEntry:
        t = self.table
        if t.starts is None:
            return WavEntry(t.utt_id(i), t.source(i), t.where(i), channel=EXPECT_MONO)
        # reco_id only marks the entry as a segment (the recording's id is not kept: its line is named).
        return WavEntry(t.utt_id(i), t.source(i), t.where(i), reco_id=f"line{t.where(i)}",
                        start=float(t.starts[i]), end=float(t.ends[i]), channel=EXPECT_MONO)

    def _at_config_rate(self, samples: np.ndarray, rate: int, what: str) -> Tuple[np.ndarray, int]:
        """With ``resample``, audio at another rate is brought to the fbank config's (before any
        speed perturbation, so the factors mean the same for every recording); without it the rate is
        left for compute_fbank to refuse, naming the utterance."""
        target = int(self.fbank.sample_frequency)
        if self.resample and rate != target:
            # as compute-fbank --resample and asrkit-decode refuse it
            problem = resample_problem(len(samples), rate, target, DEFAULT_MAX_SAMPLES, "the fbank config's")
            if problem is not None:
                raise AsrkitError(f"{what}: {problem}")
            return resample(samples, rate, target), target
        return samples, rate

    def _dim_of(self, i: int) -> int:
        """The config's dimension, once utterance ``i`` is read and passes compute_fbank's checks
        (so a set with no usable audio fails at the start, naming the first error). Its features
        are not computed: in the training process, whose loader workers compute them, that cost
        ~19 MB of resident memory (torch's FFT code, allocator heap; bench/scale_data.py)."""
        entry = self._entry(i)
        try:
            samples, rate = self._at_config_rate(*entry.load(), entry.what)
            try:
                check_fbank_input(len(samples), rate, self.fbank, entry.utt_id)
            except AsrkitError as e:
                raise _located(e, entry) from None
        except AsrkitError as e:
            raise _for_training(e) from None
        return self.fbank.dim

    def _check_noise_headers(self) -> None:
        """Every noise file's header, before the first epoch: a noise recording that cannot be read,
        is empty, shorter than a frame or at another rate (without augment.resample) would fail
        only when an utterance drew it, mid-epoch. Commands ('... |') are run only when drawn."""
        import soundfile

        target = int(self.fbank.sample_frequency)
        window = self.fbank.window_samples
        for e in self.noises:
            if e.source.endswith("|"):
                continue
            what = e.what
            try:
                try:
                    check_wav_file(e.source, what)
                    if not os.path.isfile(e.source):  # (soundfile would wait on a FIFO for a writer)
                        raise OSError(f"{e.source}: not a regular file")
                    info = soundfile.info(e.source)
                    frames, rate = int(info.frames), int(info.samplerate)
                    if rate < 1:
                        raise ValueError(f"sample rate {rate}")
                except (OSError, RuntimeError, ValueError):  # (LibsndfileError is a RuntimeError)
                    # the reader itself, for its own error (or a file only it reads)
                    samples, rate = read_wav_source(e.source, what)
                    frames = len(samples)
            except AsrkitError as err:
                raise _noise_list_error(str(err)) from None
            if not self.resample and rate != target:
                raise _noise_list_error(f"{what}: noise at {rate} Hz for the fbank config's "
                                        f"{target} Hz (resample it in the noise wav.scp, or set augment.resample=true)")
            problem = low_rate_problem(rate, target, "the fbank config's") if rate != target else None
            if problem is not None:  # (else found at its first draw, mid-epoch)
                raise _noise_list_error(f"{what}: {problem}")
            if 0 <= frames * target / rate < window:
                raise _noise_list_error(f"{what}: {_too_short_noise(frames, window)}")

    def _noise(self, e: WavEntry, rate: int, speech: str) -> Tuple[np.ndarray, int]:
        """The samples of noise recording ``e`` at its own rate (``rate``, the speech's and the fbank
        config's, unless augment.resample); an AsrkitError naming it for one that cannot be mixed
        into ``speech``."""
        noise, noise_rate = e.load()
        if noise_rate != rate and not self.resample:
            raise AsrkitError(f"{e.what}: noise at {noise_rate} Hz for {rate} Hz speech ({speech})")
        if e.where in self._noise_checked:  # (a pass or two over minutes of samples, once per process)
            return noise, noise_rate
        # (mix_noise adds nothing, or the fbank removes it: the utterance trained clean, and nothing said so)
        if not np.any(noise):
            raise AsrkitError(f"{e.what}: a noise recording of digital silence (every sample 0), "
                              f"nothing to mix in; take it out of augment.noise_scp")
        level = constant_value(noise)
        if level is not None:
            raise AsrkitError(f"{e.what}: a noise recording of one constant value ({level:g}), a DC offset the fbank "
                              f"removes: nothing to mix in; take it out of augment.noise_scp")
        window = self.fbank.window_samples
        if len(noise) * rate / noise_rate < window:
            raise AsrkitError(f"{e.what}: {_too_short_noise(len(noise), window)}")
        if not e.source.endswith("|"):  # (a command may give other audio next time)
            self._noise_checked.add(e.where)
        return noise, noise_rate

    def _noise_at(self, e: WavEntry, rate: int, n: int, rng: np.random.Generator, speech: str) -> np.ndarray:
        """Noise to mix into ``n`` samples of ``speech`` at ``rate``. Noise at another rate
        (augment.resample) is resampled only in the stretch drawn, plus a margin for the filter:
        resampling the whole recording at every draw took 0.7 s for 10 minutes of 16 kHz MUSAN
        music, for each utterance of 8 kHz speech, a training many times slower, without a word."""
        noise, noise_rate = self._noise(e, rate, speech)
        if noise_rate == rate:
            return noise
        # Kept either side of the stretch, and their outputs dropped: the resampling filter's reach
        # (torchaudio's 6 zero crossings of the lower rate's sinc), in samples of the noise.
        pad = 8 + int(math.ceil(6.1 * noise_rate / min(noise_rate, rate)))
        need = int(math.ceil(n * noise_rate / rate)) + 2 * pad
        cut = len(noise) > need
        if cut:
            start = int(rng.integers(len(noise) - need + 1))
            noise = noise[start:start + need]
        problem = resample_problem(len(noise), noise_rate, rate, DEFAULT_MAX_SAMPLES, "the fbank config's")
        if problem is not None:
            raise AsrkitError(f"{e.what}: {problem}")
        out = resample(noise, noise_rate, rate)
        if not cut:
            return out  # (shorter than the speech: mix_noise tiles it)
        first = pad * rate // noise_rate
        return out[first:first + n]

    def _features(self, i: int) -> np.ndarray:
        try:
            return self._computed(i)
        except NoiseError:
            raise
        except AsrkitError as e:
            raise _for_training(e) from None

    def _computed(self, i: int) -> np.ndarray:
        entry = self._entry(i)
        samples, rate = self._at_config_rate(*entry.load(), entry.what)
        if rate != self.fbank.sample_frequency:
            # the utterance's fault, refused before any noise (of the config's rate) is blamed for it
            try:
                check_fbank_input(len(samples), rate, self.fbank, entry.utt_id)
            except AsrkitError as e:
                raise _located(e, entry) from None
        a = self.augment
        if a is not None:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            if a.speed_factors:
                samples = speed_perturb(samples, rate, a.speed_factors[int(rng.integers(len(a.speed_factors)))])
            if self.noises and rng.random() < a.noise_prob:
                noise_entry = self.noises[int(rng.integers(len(self.noises)))]
                try:
                    noise = self._noise_at(noise_entry, rate, len(samples), rng, entry.what)
                except AsrkitError as e:
                    raise NoiseError(f"{e} [a recording of augment.noise_scp, drawn for {entry.what}]") from None
                samples = mix_noise(samples, noise, float(rng.uniform(*a.noise_snr_db)), rng)
        try:
            if not self.fbank.dither:
                return compute_fbank(samples, rate, self.fbank, entry.utt_id)
            # Dither is drawn from torch's global generator: that of whichever loader worker (or
            # the training process) read the utterance, so its features depended on the number of
            # workers and on what the process had drawn before. Seeded as the augmentation is.
            import torch

            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(np.random.default_rng([self.seed, self.epoch, i, _DITHER]).integers(2**63)))
                return compute_fbank(samples, rate, self.fbank, entry.utt_id)
        except AsrkitError as e:
            raise _located(e, entry) from None


def _noise_list_error(problem: str) -> SettingError:
    """A noise list (augment.noise_scp) that cannot be used: named where the config gave it."""
    return SettingError(f"augment.noise_scp: {problem}", ["augment.noise_scp"])


class NoiseError(AsrkitError):
    """A noise recording that cannot be mixed in: the noise list's fault, not the utterance's that
    drew it, so the run stops (:class:`~asrkit.training.bad_utterances.SkipBad`); skipped as a bad
    utterance, it dropped good speech from training and blamed it on the data."""

    fatal = True


def _too_short_noise(samples: int, window: int) -> str:
    return (f"{samples} samples of noise, shorter than one frame ({window}): tiled to an utterance's length it is a "
            f"tone or a constant, not noise; take it out of augment.noise_scp")


# The readers' advice names asrkit-compute-fbank's options, which asrkit-train has not.
_TRAINING_ADVICE = (
    ("choose one with --channel N (0-based), as Kaldi's --channel",
     "training reads mono audio: choose a channel in wav.scp, e.g. '<id> sox <file> -t wav - remix 1 |'"),
    ("(resample it in wav.scp, or set --sample-frequency)",
     "(resample it in wav.scp, or set augment.resample=true; asr.sh: --fbank-args --resample)"),
)


def _for_training(e: AsrkitError) -> AsrkitError:
    message = str(e)
    for theirs, ours in _TRAINING_ADVICE:
        message = message.replace(theirs, ours)
    return e if message == str(e) else AsrkitError(message)


def _located(e: AsrkitError, entry: WavEntry) -> AsrkitError:
    """compute_fbank's error (it names the utterance) with the wav.scp line and source it came from."""
    return AsrkitError(f"{e} [{entry.line}]")
