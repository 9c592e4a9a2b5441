"""From features (or audio) to text with a packed model: the library behind asrkit-decode.

    rec = Recognizer.from_files("exp/x/model.pt", DecodeConfig(beam=10, ctc_weight=0.3),
                                lm_path="exp/lm/lm.pt")           # loads the model (and the LM)
    results = rec.decode([("utt1", feats1), ("utt2", feats2)])   # feats: (T, D) before CMVN
    feats = rec.features(samples, 44100, "utt3")                  # resampled, fbank with the packed config
    results[0].texts[0], results[0].words                         # best text; its words with times

A Recognizer over objects already loaded (a Package, an LSTMLM) is ``Recognizer(pkg, config,
lm)``. Utterances are decoded ``batch_size`` at a time, longest first (so a batch holds similar
lengths), and returned in the order given. A recording longer than ``config.max_segment_s``
is cut at its pauses (:mod:`asrkit.decoding.segment`); its pieces are decoded in the same
batches as everything else and joined into one result. With ``config.word_times`` and a CTC
head, every hypothesis is aligned to the CTC posteriors (:mod:`asrkit.decoding.ctc_align`) for
word times and confidences.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple, Union

import numpy as np
import torch

from asrkit.decoding.beam_search import Hypothesis, beam_search, greedy_search, output_lengths
from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.ctc_align import Word, ctc_forced_align, frame_energy_db, word_times
from asrkit.decoding.scorers import AttentionScorer, CTCScorer, LMScorer
from asrkit.features.cmvn import check_values
from asrkit.features.fbank import FbankConfig
from asrkit.utils.device import out_of_memory, resolve_device
from asrkit.utils.errors import AsrkitError

log = logging.getLogger("decode")

# Audio longer than this is turned into features a minute at a time: torchaudio's fbank holds
# every frame's windowed samples and spectrum at once (~4 KB a frame, 1.5 GB for an hour).
FBANK_CHUNK_S = 60.0
# level_norm estimates a recording's level from its frames within this many dB of its loud ones
# (the 98th percentile of its frames' mean log-mel): a room's quiet stretches stay in (AN4 train's
# 948 recordings reach 39 dB down (median), 48 dB (99th percentile), 55 dB at most: 0.02 % of
# their frames lie beyond 50 dB; at 40 dB, test went 6.6 -> 7.5 %), digital silence (the log
# floor, ~110 dB down) and 16-bit dither (zeros requantised with +-1 LSB of noise: 58-64 dB down
# from a recording at AN4's level) are left out. At 60 dB the dither was half in: 1 s of it on
# each side of AN4 test recordings shifted some up to 5 nats (22 dB) and took the AN4 model
# (exp/lecun_s1) from 7.2 to 39.6 % WER (bench/presentation_robustness.py).
LEVEL_RANGE_DB = 50.0
# ... and of each edge's quiet run (its frames DecodeConfig.edge_quiet_db or more below the loud
# ones, as Recognizer.edge_pads finds them) only the EDGE_QUIET_CAP_S next to the speech counts
# in a recording decoded whole (a cut one is measured on its pieces: normalize_and_cut): a
# short recording with more quiet around its speech than training recordings had was measured too
# quiet and lifted (yesno test with 5 s of pink noise at the corpus's floor on each side: up 13 dB,
# 0.42 -> 30.4 % WER; 4.2 % with the cap, whose 2 s of tone still lift it ~5 dB). Training
# recordings' edge runs (lead and trail pooled; bench/edge_quiet.py): AN4 train 0.65 s (99th
# percentile), 2.27 s at most; yesno train 1.31 s, 1.37 s; FSDD's takes of its training speakers
# 0.28 s, 0.58 s. 2 s is the shortest cap that moves none of their levels more than 0.5 dB (AN4's
# longest edges, past its 99th percentile, by up to 2.4 dB at 1.5 s). (The FSDD recipe's made
# training utterances reach 7.75 s: edges drawn up to 10 s on purpose, the very presentation this
# mends.)
EDGE_QUIET_CAP_S = 2.0
# A cut recording whose level, measured on its pieces, differs from the whole recording's by at
# least this much is normalized and cut again (Recognizer.normalize_and_cut).
LEVEL_RECUT_DB = 1.0
# The fbank's log floor (torchaudio's kaldi.fbank: log(max(energy, float32 eps))): every mel bin
# of a frame of digital silence.
LOG_FLOOR = float(np.log(np.finfo(np.float32).eps))
# A recording's loud level: this percentile of the levels of its frames that hold sound
# (sounding), not their maximum, which a click could set.
LOUD_PERCENTILE = 98
# The furthest a normalized feature may lie from the training features' mean, in their standard
# deviations. Audio of any kind stays within ~10 (AN4 and FSDD recordings within 4.3, digital
# silence, DC and clipped noise 9.6, with an AN4 model); features of 1e10 passed the
# finite-value check and decoded to an empty text, exit 0, as if nothing had been said.
MAX_NORMALIZED = 1.0e4
# Dims that barely varied in training (a constant dim's variance is floored, or rounding noise
# of 1e-16) would put a harmless 1e-4 change at 1e4 deviations: they are left out of that check.
MIN_CHECKED_STD = 1.0e-3
# A high mel bin whose loud frames stay this far below the recording's median bin (each measured
# from the training data's mean in that bin) is above the band the audio holds: a low-bitrate
# codec's or a telephone line's cut, or audio upsampled before it reached asrkit. Measured on AN4:
# the top bins of full-band recordings (train and test, 160) at most 23 dB down; of 16 kHz MP3 at
# ~26 kbit/s 78 dB (median), of Opus at ~12 kbit/s 50 dB.
EMPTY_BAND_DB = 40.0
# ... or NOISE_BAND_DB below it and within QUANTISATION_MARGIN_DB of 16-bit quantisation noise
# (+-1 LSB of TPDF dither) in that bin: band-limited audio written to 16 bits with dither (sox's
# default) holds that noise above its cut, within 1 dB of it, and 35-51 dB below the median bin,
# half of the time too near for the rule above (AN4 test through `sox sinc 300-3400`). Full-band
# AN4's top bins lie 37-67 dB above that noise; the gap keeps quiet full-band audio (a float file
# at -40 dB holds less than 16-bit noise everywhere) whole.
NOISE_BAND_DB = 30.0
QUANTISATION_MARGIN_DB = 6.0
# The quiet put at a recording's edge (DecodeConfig.edge_pad_s) is white noise this far below the
# recording's loud frames: where the FSDD recipe's training utterances have their pauses (its
# -80 dBFS silence lies 34 dB (theo's median take) to 55 dB (george's) below the speech), and
# relative, so that a quiet recording's pad is as far below its speech as a loud one's.
EDGE_PAD_BELOW_DB = 45.0
# A model.pt may hold no tokenizer (its tokens spell the output) but not neither: decoding it was an
# IndexError traceback at the first token, after the model had loaded and the audio was read.
NO_SPELLING = ("the model holds neither a tokenizer nor a token list, so its output ids cannot be spelled "
               "(damaged or hand-made model.pt)")
# A model packed without a feature config (from features it cannot describe) decodes given features only.
NO_FEATURE_CONFIG = ("the model holds no feature config (it was packed to decode given features only), so it cannot "
                     "read audio, only features (asrkit-decode --feats)")


@dataclass
class Piece:
    """One piece of a recording that was cut at its pauses."""

    id: str  # <recording>-<start>-<end>, centiseconds
    start: float  # seconds from the start of the recording
    end: float  # where the audio of its frames ends, at the centisecond at or after it (segment.end_centiseconds)
    text: str
    score: float


@dataclass
class UttResult:
    utt_id: str
    hyps: List[Hypothesis]  # best first
    texts: List[str]
    num_frames: int
    steps: int  # decoder steps of the batch it was decoded in (the most of its pieces')
    hyp_words: List[Optional[List[Word]]] = field(default_factory=list)  # per hypothesis; None: not timed
    pieces: Optional[List[Piece]] = None  # the pieces of a recording that was cut; None: decoded whole

    @property
    def words(self) -> Optional[List[Word]]:
        """The best hypothesis's words with times and confidences (None without a CTC head)."""
        return self.hyp_words[0] if self.hyp_words else None


def sounding(level: np.ndarray) -> np.ndarray:
    """(T,) bool: the frames of (T,) mean log-mel levels that hold any sound. Digital silence (a
    DC offset too, which the fbank removes) sits at LOG_FLOOR in every bin and has no level; the
    1e-3 absorbs float32 rounding of the floor."""
    return level > LOG_FLOOR + 1e-3


def loud_level(level: np.ndarray, frames: np.ndarray) -> float:
    """The loud level of (T,) frame levels: their LOUD_PERCENTILE over ``frames`` (T,) bool, at
    least one."""
    return float(np.percentile(level[frames], LOUD_PERCENTILE))


class FrameLevels(NamedTuple):
    """A recording's frame levels as :meth:`Recognizer._levels` measures them, for its edge pads and
    the frames its level is measured on."""
    level: np.ndarray  # (T,) each frame's mean raw log-mel (Recognizer._frame_levels)
    sound: np.ndarray  # (T,) bool: the frames that hold any sound (sounding), at least one
    top: float  # the loud level (loud_level over the sounding frames)


class Prepared(NamedTuple):
    """A recording ready for :meth:`Recognizer.decode` (``normalized=True``): what
    :meth:`Recognizer.normalize_and_cut` makes of its raw features."""
    feats: np.ndarray  # (T', D) normalized, with any edge pad
    spans: Optional[List[Tuple[int, int]]]  # where it is cut (Recognizer.pieces); None: decoded whole
    pad: Tuple[int, int] = (0, 0)  # frames of quiet added before and after it (Recognizer.edge_pads)


def trained_ctc_only(package) -> bool:
    """Whether the packed model was trained with its CTC loss alone (model config ctc_weight 1)."""
    meta = getattr(package, "meta", None)
    return getattr(getattr(meta, "model_config", None), "ctc_weight", 0.0) >= 1.0


def empty_band_dims(feats: np.ndarray, train_mean: np.ndarray, first: int = 0,
                    noise: Optional[np.ndarray] = None) -> List[int]:
    """Dims of log-mel ``feats`` (T, D) (mel bins from dim ``first``: 1 with Kaldi's energy first)
    at the top of the spectrum that hold nothing of the recording, taken from the highest bin down
    while they are: each bin's loud frames (its 98th percentile), measured from the training
    data's mean in that bin (a corpus's own tilt is no gap), more than EMPTY_BAND_DB below the
    median bin's, or more than NOISE_BAND_DB below it and within QUANTISATION_MARGIN_DB of
    ``noise`` (D,), the same percentile of 16-bit quantisation noise. (Only the top: AN4's own
    lowest bins lie up to 34 dB down, too near to tell.)"""
    mel = feats[:, first:]
    if mel.shape[0] == 0 or mel.shape[1] < 3:
        return []
    db = np.log(10) / 10
    loud = np.percentile(mel, LOUD_PERCENTILE, axis=0)
    level = loud - train_mean[first:]
    low = level < np.median(level) - EMPTY_BAND_DB * db
    if noise is not None:
        low |= (level < np.median(level) - NOISE_BAND_DB * db) & (loud < noise[first:] + QUANTISATION_MARGIN_DB * db)
    n = len(low)
    above = n if low.all() else int(np.argmin(low[::-1]))  # how many of the highest bins are empty
    return [first + i for i in range(n - above, n)]


class Recognizer:
    @classmethod
    def from_files(cls, model_path: Union[str, os.PathLike], config: DecodeConfig,
                   lm_path: Optional[Union[str, os.PathLike]] = None, device: Optional[str] = None,
                   lm_weight_chosen: bool = False) -> "Recognizer":
        """Load model.pt (and ``lm_path`` when ``config.lm_weight`` > 0) onto ``device`` (default:
        ``config.device``); an LM of another token list than the model's is refused.
        ``lm_weight_chosen``: the caller's user gave the weight (0: an ablation, not an oversight)."""
        from asrkit.models.lm import load_lm
        from asrkit.models.package import load_package

        dev = resolve_device(device or config.device)
        pkg = load_package(model_path, dev)
        if not pkg.tokens:
            raise AsrkitError(f"{model_path}: {NO_SPELLING}")
        lm = None
        if lm_path and config.lm_weight > 0:
            lm = load_lm(lm_path, dev, tokens=pkg.tokens, model=model_path)
        elif lm_path:
            # (an info line: an LM given with --lm and no weight, the defaults' or a packed model's
            # 0, decoded without it at exit 0, unchecked)
            # (an explicit --lm-weight 0, an LM ablation, is said in an info line)
            (log.info if lm_weight_chosen else log.warning)(
                "lm_weight is 0: the LM %s is not used (give --lm-weight, e.g. 0.3, to fuse it)", lm_path)
        return cls(pkg, config, lm)

    def __init__(self, package, config: DecodeConfig, lm=None) -> None:
        if not package.tokens:
            raise AsrkitError(f"the model: {NO_SPELLING}")
        self.pkg = package
        self.model = package.model
        self.config = config
        self.device = next(self.model.parameters()).device
        self.lm = lm if (lm is not None and config.lm_weight > 0) else None
        ctc_weight = config.ctc_weight
        self.has_ctc = getattr(self.model, "ctc", None) is not None
        if ctc_weight > 0 and not self.has_ctc:
            log.warning("the model has no CTC branch: decoding with ctc_weight 0 instead of %g", ctc_weight)
            ctc_weight = 0.0
        elif ctc_weight < 1 and self.has_ctc and trained_ctc_only(package):
            # Trained with model.ctc_weight 1, the speller got no gradient: its scores are those of
            # its random initialisation. Weighted 0.7 (the default), they chose the CTC prefix
            # scorer's candidates: a yesno model (CTC WER 0 %) decoded every utterance to an
            # empty text in greedy mode, with exit 0.
            log.warning("the model was trained with CTC alone (its ctc_weight is 1: the attention decoder "
                        "learned nothing): decoding with ctc_weight 1 instead of %g", ctc_weight)
            ctc_weight = 1.0
        if config.lm_weight > 0 and lm is None:
            raise AsrkitError(f"lm_weight is {config.lm_weight} but no LM was given (--lm exp/lm/lm.pt)")
        self.weights = {"att": 1.0 - ctc_weight, "ctc": ctc_weight}
        if self.lm is not None:
            self.weights["lm"] = config.lm_weight
        if ctc_weight == 0 and config.penalty > 0 and config.mode == "beam" and self.lm is None:
            # A bonus chosen for joint decoding (conf/decode.yaml's) rewards every extra token, and
            # without CTC scores nothing pays for a loop's: AN4 train_dev 23.5 -> 29.8 % WER.
            log.warning("a length bonus (penalty %g) with attention-only beam search favours repeated words; "
                        "pass --penalty 0 unless it was tuned for ctc_weight 0", config.penalty)
        self.opts = config.search_options(ctc_weight)
        self.max_backtrack = config.guards(ctc_weight)[1]
        self.V = self.model.vocab_size
        self.eos = self.model.eos
        self.time_reduction = self.model.listener.time_reduction
        self.word_times = config.word_times and self.has_ctc
        self._resampled: Set[int] = set()
        self._band_limited_said = False
        self._kept_said = False
        self._noise: Optional[np.ndarray] = None
        self._pad_noise: Optional[np.ndarray] = None
        self._cmvn = None
        self._transforms: Optional[Tuple[Dict[str, np.ndarray], Dict[str, str]]] = None
        meta = self.pkg.meta
        if meta.cmvn is not None:
            from asrkit.features.cmvn import cmvn_transform

            self._cmvn = cmvn_transform(meta.cmvn, meta.cmvn_norm_vars, "the model's CMVN stats")
        # The training data's mean feature vector (what CMVN maps to 0).
        self._train_mean = -self._cmvn[1] / self._cmvn[0] if self._cmvn is not None else None
        # Mel bins the model learned empty: those above the Nyquist frequency of the lowest rate of
        # training audio resampled up (meta.upsampled_rates). Audio resampled up to the model's rate
        # holds there what those training recordings held, so they are left as they are (as in the
        # recipe's decoding of the dumped features); filling them with the mean moved the input
        # away from what the model saw. (None: a package that does not say; the fill stays.)
        fbank = meta.feature_config
        rates = meta.upsampled_rates
        self._learned_empty: Set[int] = set(fbank.dims_above(rates[0] / 2)) if rates and fbank is not None else set()
        self._learned_empty_from = rates[0] if rates else None
        # level_norm only for log-mel features (a gain is one added number only in a log domain); a
        # model without a feature config decodes features it cannot describe: left as given.
        self._level_norm = (config.level_norm and self._train_mean is not None and fbank is not None
                            and fbank.use_log_fbank)

    @property
    def frame_shift_s(self) -> float:
        """Seconds per input frame (for real-time factors): the packed fbank's shift, else Kaldi's 10 ms."""
        fbank = self.pkg.meta.feature_config
        return (fbank.frame_shift if fbank is not None else 10.0) / 1000.0

    def least_audio_s(self, num_frames: int) -> float:
        """Seconds of audio ``num_frames`` frames were made from, at least (the packed fbank's
        framing, else Kaldi's 25 ms windows every 10 ms): where an utterance decoded whole ends."""
        fbank = self.pkg.meta.feature_config
        return (fbank if fbank is not None else FbankConfig()).least_audio_s(num_frames)

    @property
    def sample_rate(self) -> Optional[int]:
        """The rate the model's features are made at (None: a model that decodes features only)."""
        fbank = self.pkg.meta.feature_config
        return int(fbank.sample_frequency) if fbank is not None else None

    @property
    def boundary_offset_s(self) -> float:
        """Where the boundary between two feature frames lies, from the start of the first one:
        between their centres, (window - shift) / 2 (Kaldi's 25 ms / 10 ms: 7.5 ms)."""
        fbank = self.pkg.meta.feature_config
        length, shift = (fbank.frame_length, fbank.frame_shift) if fbank is not None else (25.0, 10.0)
        return max(0.0, length - shift) / 2000.0

    def normalize(self, feats: np.ndarray, utt_id: str = "", level_frames: Optional[np.ndarray] = None) -> np.ndarray:
        """Check raw features (T, D) (no frames, another dimension or a non-finite value is an
        AsrkitError naming the utterance) and apply the CMVN packed in the model (if any).

        ``level_frames`` (T,) bool: the frames level_norm measures the recording's level on
        (default: all of them; :meth:`normalize_and_cut` passes a cut recording's pieces)."""
        self.check_features(feats, utt_id)
        return self._normalized(feats, utt_id, level_frames)

    def _normalized(self, feats: np.ndarray, utt_id: str, level_frames: Optional[np.ndarray] = None) -> np.ndarray:
        """:meth:`normalize` of features :meth:`check_features` has passed (checked once per
        recording, not again for its padded copy or a second level measure)."""
        if self._cmvn is None:
            x = feats.astype(np.float32, copy=False)
        else:
            scale, offset = self._cmvn
            x = feats.astype(np.float64)
            if self._level_norm:
                x = self._level_shifted(x, level_frames)
            x = (x * scale + offset).astype(np.float32)  # as apply_cmvn
        return self._speaker_adapted(x, utt_id)

    def check_features(self, feats: np.ndarray, utt_id: str = "") -> None:
        """An AsrkitError naming the utterance (and the frame) for raw features (T, D) with no
        frames, another dimension than the model's, a non-finite value, or one far outside the
        training features (:meth:`_check_in_range`, with a packed CMVN). Made on the recording
        as given, before any edge pad, so a frame named is the recording's own."""
        name = f"utterance {utt_id!r}: " if utt_id else ""
        if feats.ndim != 2 or feats.shape[1] != self.pkg.meta.idim:
            raise AsrkitError(f"{name}features are {tuple(feats.shape)}, the model expects (T, {self.pkg.meta.idim})")
        if feats.shape[0] == 0:
            raise AsrkitError(f"{name}no feature frames (0 x {feats.shape[1]})")
        check_values(feats, name)
        if self._cmvn is not None:
            # (before the level shift, which spreads one far value over every frame and bin)
            self._check_in_range(feats, *self._cmvn, name)

    @staticmethod
    def _check_in_range(x: np.ndarray, scale: np.ndarray, offset: np.ndarray, name: str) -> None:
        """An AsrkitError naming ``name`` when features ``x`` (T, D), normalized, lie more than
        MAX_NORMALIZED standard deviations of the training features from their mean in a dim
        that varied in training (a standard deviation of at least MIN_CHECKED_STD): features of
        another kind, or damaged ones."""
        # Per dim, the normalization is affine, so its furthest value comes from the dim's lowest
        # or highest: O(D) memory, where a (T, D) copy of an hour's features is 230 MB.
        z = np.maximum(np.abs(x.min(0) * scale + offset), np.abs(x.max(0) * scale + offset))
        far = (z > MAX_NORMALIZED) & (scale <= 1.0 / MIN_CHECKED_STD)
        if far.any():
            d = int(np.flatnonzero(far)[0])
            column = np.abs(x[:, d] * scale[d] + offset[d])
            frame = int(np.argmax(column > MAX_NORMALIZED))
            raise AsrkitError(f"{name}feature {x[frame, d]:g} at frame {frame}, dim {d} lies {column[frame]:.3g} "
                              f"standard deviations from the model's training features (at most "
                              f"{MAX_NORMALIZED:g}): features of another kind than the model's (another front "
                              f"end?), or damaged")

    def normalized_twice(self, mean: np.ndarray, std: np.ndarray) -> bool:
        """True when given features whose per-dim ``mean`` and ``std`` (D,) are these look
        normalised already (about mean 0 and deviation 1 in most dims, as asrkit-apply-cmvn or
        ESPnet's dump/ writes them) while the model's training features were far from that (the
        packed CMVN's means several of their deviations from 0): the packed CMVN, applied to every
        input, would normalise them a second time, and the hypotheses would be poor with no error
        (the yesno model's 0.42 % WER became 52.5 %). Features at the training level and raw
        features of another level are not (their mean is the training mean, or not near 0 in most
        dims, or they keep the training mean's shape across the bins; measured at every level from
        0 to -80 dB on AN4, FSDD and yesno test sets, one utterance at a time: no false alarm). False
        without a packed CMVN with variances, whose features cannot be told apart."""
        if self._cmvn is None or not self.pkg.meta.cmvn_norm_vars:
            return False
        scale, offset = self._cmvn
        live = (scale <= 1.0 / MIN_CHECKED_STD) & (scale > 0)
        if mean.shape != scale.shape or std.shape != scale.shape or not live.any():
            return False
        train_sd = 1.0 / scale[live]
        train_mean = -offset[live] * train_sd
        m, s = mean[live], std[live]
        far_from_standard = np.median(np.abs(train_mean) / train_sd) > 2.0
        looks_standard = np.median(np.abs(m)) < 0.5 and 0.2 < np.median(s) < 2.0
        far_from_training = np.median(np.abs(m - train_mean) / train_sd) > 2.0
        # Raw features of a quieter recording are the training mean shifted by one level in every
        # bin (their spectral shape kept), and at about -55 dB that shift brings them near 0: they
        # are told apart by the shape, flat across the bins only in normalised features.
        shape_gone = np.std(m) < 0.5 * np.std(m - train_mean)
        return bool(far_from_standard and looks_standard and far_from_training and shape_gone)

    def set_speaker_transforms(self, transforms: Dict[str, np.ndarray], utt2spk: Dict[str, str],
                               source: str = "") -> None:
        """Decode each utterance with its speaker's ``[A | b]`` (asrkit.decoding.adapt) applied to the
        normalised features: the second pass of speaker-adaptive decoding. ``source``: where the
        transforms come from, named in the errors."""
        where = f"{source}: " if source else ""
        dim = self.pkg.meta.idim
        for spk, t in transforms.items():
            if not np.isfinite(t).all():   # else every utterance of the speaker decodes to garbage, exit 0
                raise AsrkitError(f"{where}speaker {spk!r}: the transform holds a non-finite value")
            # Checked here, not at each utterance: transforms of another model's features (40-dim
            # for an 80-dim model) had every utterance read, featurised and skipped, one warning each.
            if t.ndim != 2 or t.shape[0] != dim or t.shape[1] not in (dim, dim + 1):
                raise AsrkitError(f"{where}speaker {spk!r}: transform of shape {tuple(t.shape)} for {dim}-dim features "
                                  f"(expected ({dim}, {dim + 1}) or ({dim}, {dim})): transforms of another model's "
                                  f"features?")
        self._transforms = (transforms, utt2spk)

    def _speaker_adapted(self, x: np.ndarray, utt_id: str) -> np.ndarray:
        if self._transforms is None:
            return x
        from asrkit.decoding.adapt import apply_transform

        transforms, utt2spk = self._transforms
        spk = utt2spk.get(utt_id)
        if spk is None:
            raise AsrkitError(f"utterance {utt_id!r}: not in the utt2spk table, so no speaker transform")
        if spk not in transforms:
            raise AsrkitError(f"utterance {utt_id!r}: no transform for its speaker {spk!r}")
        return apply_transform(x, transforms[spk], f"speaker {spk!r}: ")

    def _level_shifted(self, x: np.ndarray, level_frames: Optional[np.ndarray] = None) -> np.ndarray:
        """``x`` (T, D) log-mel with its mean level moved to the training data's.

        A gain g on the audio adds 2 ln g to every log-mel value: one number, the same in every
        bin and frame. Its estimate is the recording's mean over bins and over its frames within
        LEVEL_RANGE_DB of its loud ones, minus the training mean's mean over bins (the packed
        CMVN counts every frame); spectral shape and loudness changes within the recording
        are left alone. Bins that hold the training mean in every frame (resampled-up audio's
        bins above its Nyquist frequency, :meth:`features`) carry no level and are left out.
        """
        live = self._live_bins(x)
        if live.any():
            x[:, live] -= self._level_offset(x, live, level_frames)
        return x

    def _live_bins(self, x: np.ndarray) -> np.ndarray:
        return ~np.all(np.abs(x - self._train_mean) < 1e-4, axis=0)  # (float32 copies of the mean)

    def _level_offset(self, x: np.ndarray, live: np.ndarray, level_frames: Optional[np.ndarray] = None) -> float:
        """What :meth:`_level_shifted` subtracts from the ``live`` bins (:meth:`_live_bins`, at
        least one) of ``x`` (T, D) log-mel: its level minus the training data's, in nats (0 where
        nothing can be measured)."""
        mean = self._train_mean
        # Frames more than LEVEL_RANGE_DB below the recording's loud ones are left out of the
        # estimate: digital silence (padding, edited gaps) sits at the log floor, 25 nats down,
        # and 3 s of it on each side took AN4 test from 6.4 to 105 % WER when it was counted.
        frame_level = x[:, live].mean(axis=1)
        # Frames at the log floor in every bin (zeros, a DC offset, which the fbank removes) have
        # no level at all, and are left out before the percentile: a recording of nothing else
        # was lifted to speech level and decoded as letters ("R A R L A ..." for 5 s of zeros),
        # and one more than 98 % zeros (a short answer in a minute of padding) was measured at
        # the floor and its speech lifted ~100 dB.
        sound = sounding(frame_level)
        if level_frames is not None and (sound & level_frames).any():
            sound &= level_frames
        if not sound.any():
            return 0.0
        top = loud_level(frame_level, sound)
        kept = sound & (frame_level >= top - LEVEL_RANGE_DB * np.log(10) / 10)
        # Every frame has the same number of live bins, so the mean of the kept frames' levels is
        # the mean over those frames and bins, without copying them out of x.
        return float(frame_level[kept].mean() - mean[live].mean())

    def check_reads_audio(self, model_path: object) -> None:
        """AsrkitError naming ``model_path`` when the model holds no feature config: it decodes
        given features only. (Each utterance was skipped instead, as "skipping the model holds no
        feature config", and the run failed only after reading every recording.)"""
        if self.pkg.meta.feature_config is None:
            raise AsrkitError(f"{model_path}: {NO_FEATURE_CONFIG}")

    def features(self, samples: np.ndarray, sample_rate: int, utt_id: str) -> np.ndarray:
        """Fbank with the packed feature config (raw: :meth:`normalize` applies the CMVN, as for --feats).

        Audio at another rate than the model's is resampled to it (one info line per rate); audio
        resampled up gets the model's mean in the mel bins above its own Nyquist frequency.
        """
        from asrkit.features.fbank import compute_fbank, compute_fbank_chunked
        from asrkit.features.containers import MAX_SAMPLE_RATE
        from asrkit.features.resample import low_rate_problem, resample
        from asrkit.features.wav import constant_value

        fbank = self.pkg.meta.feature_config
        if fbank is None:
            raise AsrkitError(f"utterance {utt_id!r}: {NO_FEATURE_CONFIG}")
        if samples.size == 0:
            raise AsrkitError(f"utterance {utt_id!r}: empty audio")
        value = constant_value(samples)
        target = self.sample_rate
        empty: List[int] = []
        low = low_rate_problem(sample_rate, target, "the model's")
        if low is not None:
            raise AsrkitError(f"utterance {utt_id!r}: {low}")
        if sample_rate > MAX_SAMPLE_RATE:
            raise AsrkitError(f"utterance {utt_id!r}: sample rate {sample_rate} Hz is over the {MAX_SAMPLE_RATE} Hz "
                              f"asrkit reads")
        if sample_rate != target:
            if sample_rate < target and self._cmvn is not None:
                empty = self._to_fill(fbank.dims_above(sample_rate / 2), utt_id)
            if sample_rate not in self._resampled:
                self._resampled.add(sample_rate)
                log.info("resampling utterance %r from %d Hz to the model's %d Hz%s (further %d Hz audio is "
                         "resampled without a message)", utt_id, sample_rate, target,
                         f"; the {len(empty)} mel bins above {sample_rate // 2} Hz get the model's mean" if empty
                         else "", sample_rate)
            samples = resample(samples, sample_rate, target)
        with self._repeatable_dither():
            if len(samples) > FBANK_CHUNK_S * target:
                feats = compute_fbank_chunked(samples, target, fbank, utt_id=utt_id, chunk_s=FBANK_CHUNK_S)
            else:
                feats = compute_fbank(samples, target, fbank, utt_id=utt_id)
        if value is not None:
            # Decoded all the same (a text of silence is the model's to give), but said: a model
            # may well name words for it, and the user should know there was nothing to hear.
            # (Said once the recording is known to decode: a 1-sample file was called silence,
            # then skipped as too short for a frame.)
            # (asrkit-align reads audio through here too: there the text is the user's, the word times the guess)
            log.warning("utterance %r: every sample is %g (digital silence): there is no speech in it, so what the "
                        "model makes of it (a text, word times) is its guess", utt_id, value)
        if self._cmvn is not None and fbank.use_log_fbank:
            # The same gap in audio that comes at the model's rate already band-limited (MP3 or Opus
            # at a low bitrate, a telephone line, a device that upsampled): found in the spectrum.
            band = empty_band_dims(feats, self._train_mean, 1 if fbank.use_energy else 0,
                                   self._quantisation_noise())
            band = self._to_fill(band, utt_id) if band else band
            if band and not set(band) <= set(empty):
                if not self._band_limited_said:
                    self._band_limited_said = True
                    log.info("utterance %r: nothing in the top %d mel bins (band-limited audio: a low-bitrate codec, "
                             "a telephone line?): they get the model's mean (further such utterances without a "
                             "message)", utt_id, len(band))
                empty = sorted(set(empty) | set(band))
        if empty:
            # Audio resampled up has no energy above its old Nyquist frequency: the log of nothing
            # there lies far below anything seen in training (about -2.3 after CMVN for 8 kHz AN4
            # through a 16 kHz model) and wrecks the output (WER 99 %); the training mean, i.e. "no
            # evidence", leaves the rest of the spectrum to decide (25 %; bench/audio_formats.py).
            feats[:, empty] = self._train_mean[empty]
        return feats

    def _to_fill(self, dims: List[int], utt_id: str) -> List[int]:
        """Of the empty mel bins ``dims``, those the training mean is to fill: all but the ones
        the model learned empty (meta.upsampled_rates; said once)."""
        kept = [d for d in dims if d in self._learned_empty]
        if kept and not self._kept_said:
            self._kept_said = True
            log.info("utterance %r: %d empty mel bins left as they are, not given the model's mean: the model "
                     "was trained on audio resampled up from %d Hz, which held nothing there either (further "
                     "utterances without a message)", utt_id, len(kept), self._learned_empty_from)
        return [d for d in dims if d not in self._learned_empty]

    @contextmanager
    def _repeatable_dither(self) -> Iterator[None]:
        """Around the packed fbank: its dither (a training config's, e.g. Kaldi's 1.0) drawn from
        a fixed seed, the caller's torch RNG left as it was. Drawn from the global RNG, the same
        recording decoded to other scores on every run (and now and then to another text)."""
        fbank = self.pkg.meta.feature_config
        if fbank is None or fbank.dither <= 0:
            yield
            return
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            yield

    def _quantisation_noise(self) -> np.ndarray:
        """The 98th percentile, per feature dim, of 1 s of 16-bit quantisation noise (+-1 LSB of
        TPDF dither, a fixed draw) through the packed fbank: what a 16-bit file holds where its
        audio held nothing."""
        if self._noise is None:
            from asrkit.features.fbank import compute_fbank

            rate = self.sample_rate
            rng = np.random.default_rng(0)
            dither = np.round(rng.uniform(-0.5, 0.5, rate) + rng.uniform(-0.5, 0.5, rate)).astype(np.float32)
            with self._repeatable_dither():
                fbank = compute_fbank(dither, rate, self.pkg.meta.feature_config)
            self._noise = np.percentile(fbank, LOUD_PERCENTILE, axis=0)
        return self._noise

    # -- long recordings -------------------------------------------------------------------
    def normalize_and_cut(self, utt_id: str, feats: np.ndarray) -> Prepared:
        """Raw features (T, D) -> :class:`Prepared`: normalized, with :meth:`edge_pads` where it
        is decoded whole, and :meth:`pieces` where it is cut.

        A cut recording's level is measured again on its pieces alone, and its pauses found again
        at that level: measured on the whole recording, minutes of room noise around a few
        seconds of speech weighed as much as the speech, so the speech was lifted by the
        difference and the noise with it, into what the model took for words (AN4 train_dev with
        30 s of noise at -60 dBFS before each utterance: 41 % WER, 20 % without level_norm).
        """
        if not self.pieces_wanted(feats):
            return self.prepare_whole(utt_id, feats)
        x = self.normalize(feats, utt_id)
        quiet = self.dither_frames(feats)
        spans = self.pieces(utt_id, x, quiet)
        if not spans or not self._level_norm:
            return Prepared(x, spans)
        speech = np.zeros(feats.shape[0], dtype=bool)
        for a, b in spans:
            speech[a:b] = True
        raw = feats.astype(np.float64)
        live = self._live_bins(raw)
        if not live.any():
            return Prepared(x, spans)
        moved_db = abs(self._level_offset(raw, live, speech) - self._level_offset(raw, live)) * 10 / np.log(10)
        if moved_db < LEVEL_RECUT_DB:
            return Prepared(x, spans)
        again = self._normalized(feats, utt_id, level_frames=speech)
        log.info("utterance %r: level measured on its %d piece(s): %.1f dB from the whole recording's; "
                 "pauses found again", utt_id, len(spans), moved_db)
        return Prepared(again, self.pieces(utt_id, again, quiet))

    def prepare_whole(self, utt_id: str, feats: np.ndarray) -> Prepared:
        """Raw features (T, D) of a recording decoded (or aligned) whole -> :class:`Prepared`:
        normalized, with :meth:`edge_pads`; its level is measured on its own frames."""
        self.check_features(feats, utt_id)  # as it is: a frame named in an error is its own
        # (measured once for both: each was O(T) over the recording's frames)
        levels = self._levels(feats) if self.config.edge_pad_s > 0 or self._level_norm else None
        lead, trail, top = self._edge_plan(levels)
        measured = self._level_frames(levels)
        if not lead and not trail:
            return Prepared(self._normalized(feats, utt_id, level_frames=measured), None)
        pad = self._pad_frames(max(lead, trail), feats, top)  # one draw: both edges take its first frames
        padded = np.concatenate([pad[:lead], feats, pad[:trail]])
        own = np.zeros(padded.shape[0], dtype=bool)
        own[lead:lead + feats.shape[0]] = True if measured is None else measured
        return Prepared(self._normalized(padded, utt_id, level_frames=own), None, (lead, trail))

    def _level_frames(self, levels: Optional[FrameLevels]) -> Optional[np.ndarray]:
        """(T,) bool: the frames of a recording decoded whole (its :meth:`_levels`) that level_norm
        measures its level on: all but the part of each edge's quiet run (frames ``edge_quiet_db``
        or more below its loud ones, among those that hold sound) further than EDGE_QUIET_CAP_S
        from the speech. None: all of them."""
        if levels is None or not self._level_norm:
            return None
        level, sound, top = levels
        idx = np.flatnonzero(sound)
        quiet = level[idx] < top - self.config.edge_quiet_db * np.log(10) / 10
        if quiet.all():
            return None
        cap = int(round(EDGE_QUIET_CAP_S / self.frame_shift_s))
        lead, trail = int(np.argmin(quiet)), int(np.argmin(quiet[::-1]))
        if lead <= cap and trail <= cap:
            return None
        frames = np.ones(len(level), dtype=bool)
        frames[idx[:max(0, lead - cap)]] = False
        frames[idx[len(idx) - max(0, trail - cap):]] = False
        return frames

    def _levels(self, feats: np.ndarray) -> Optional[FrameLevels]:
        """What :meth:`_edge_plan` and :meth:`_level_frames` read of raw ``feats`` (T, D); None where
        nothing can be said of their level (not log-mel, or digital silence throughout)."""
        level = self._frame_levels(feats)
        if level is None:
            return None
        sound = sounding(level)
        if not sound.any():
            return None
        return FrameLevels(level, sound, loud_level(level, sound))

    def _frame_levels(self, feats: np.ndarray) -> Optional[np.ndarray]:
        """(T,) each frame's mean raw log-mel over the mel bins (Kaldi's energy dim left out), or
        None where the model's features are not log-mel (nothing can be said of their level)."""
        fbank = self.pkg.meta.feature_config
        if fbank is None or not fbank.use_log_fbank or feats.shape[0] == 0:
            return None
        return feats[:, 1 if fbank.use_energy else 0:].astype(np.float64, copy=False).mean(axis=1)

    def edge_pads(self, feats: np.ndarray) -> Tuple[int, int]:
        """Frames of quiet to put before and after a recording of raw ``feats`` (T, D) decoded
        whole: ``config.edge_pad_s`` at each edge with fewer than ``edge_min_quiet_s`` of frames
        ``edge_quiet_db`` or more below its loud ones (the 98th percentile of its frames' levels
        above the log floor), else none."""
        return self._edge_plan(self._levels(feats) if self.config.edge_pad_s > 0 else None)[:2]

    def _edge_plan(self, levels: Optional[FrameLevels]) -> Tuple[int, int, float]:
        """:meth:`edge_pads` of a recording of :meth:`_levels` ``levels``, and its loud level
        (what the pad is set under; nan where nothing is padded). None: nothing to say where
        speech is (no log-mel; digital silence throughout)."""
        cfg = self.config
        if levels is None or cfg.edge_pad_s <= 0:
            return 0, 0, float("nan")
        level, _, top = levels
        quiet = level < top - cfg.edge_quiet_db * np.log(10) / 10
        need = int(round(cfg.edge_min_quiet_s / self.frame_shift_s))
        n = max(1, int(round(cfg.edge_pad_s / self.frame_shift_s)))

        def quiet_run(q: np.ndarray) -> int:
            return len(q) if q.all() else int(np.argmin(q))

        return (n if quiet_run(quiet) < need else 0), (n if quiet_run(quiet[::-1]) < need else 0), top

    def _pad_frames(self, n: int, feats: np.ndarray, top: float) -> np.ndarray:
        """``n`` raw feature frames of quiet for an edge of ``feats`` (T, D): white noise (the
        packed fbank of a fixed draw) EDGE_PAD_BELOW_DB below the recording's loud level ``top``
        (:func:`loud_level`, as :meth:`edge_pads` measured it); the
        bins that hold the training mean throughout (audio resampled up, :meth:`features`) hold
        it in the pad too."""
        from asrkit.features.fbank import compute_fbank

        fbank = self.pkg.meta.feature_config
        if self._pad_noise is None or self._pad_noise.shape[0] < n:
            rate = self.sample_rate
            samples = int(round((n * fbank.frame_shift + fbank.frame_length) * rate / 1000.0))
            noise = np.random.default_rng(0).standard_normal(samples).astype(np.float32)
            with self._repeatable_dither():
                self._pad_noise = compute_fbank(noise, rate, fbank)
        pad = self._pad_noise[:n].astype(np.float64)
        pad += top - EDGE_PAD_BELOW_DB * np.log(10) / 10 - self._frame_levels(pad).mean()
        if self._train_mean is not None:
            dead = ~self._live_bins(feats)
            pad[:, dead] = self._train_mean[dead]
        return pad.astype(feats.dtype)

    def pieces_wanted(self, feats: np.ndarray) -> bool:
        """Whether a recording of ``feats`` (T, D) is cut (``config.segment``, ``max_segment_s``)."""
        cfg = self.config
        return cfg.segment == "always" or (cfg.segment == "auto" and
                                           feats.shape[0] * self.frame_shift_s > cfg.max_segment_s)

    def dither_frames(self, feats: np.ndarray) -> Optional[np.ndarray]:
        """(T,) bool: frames of raw log-mel ``feats`` (T, D) that hold nothing but 16-bit
        quantisation noise or dither (their mean level over the mel bins within
        QUANTISATION_MARGIN_DB of that noise's) and lie NOISE_BAND_DB or more below the
        recording's loud frames (its 98th percentile); None without a packed log-mel config.

        The pause finder takes them for pauses, as it takes digital silence: the FSDD recipe's
        model read 10 s of dither on each side of theo's test utterances as thousands of digits
        (486 % WER against 6.26 %), the dither 43 dB under the speech. The second condition keeps
        quiet recordings whole: a float file 40 dB down holds speech under 16-bit noise.
        """
        level = self._frame_levels(feats)
        if level is None:
            return None
        noise = float(self._quantisation_noise()[1 if self.pkg.meta.feature_config.use_energy else 0:].mean())
        db = np.log(10) / 10
        near_noise = level < noise + QUANTISATION_MARGIN_DB * db
        # The loud frames are taken among those above the noise: with 20 s of dither around one
        # spoken digit (0.5 s, 2.5 % of the frames) the 98th percentile of all frames was the
        # dither's own level, nothing lay 30 dB under it, and the digit got 30 inserted ones.
        sound = sounding(level) & ~near_noise
        if not sound.any():
            return None
        return near_noise & (level < loud_level(level, sound) - NOISE_BAND_DB * db)

    def pieces(self, utt_id: str, feats: np.ndarray,
               quiet: Optional[np.ndarray] = None) -> Optional[List[Tuple[int, int]]]:
        """Where a recording (normalized feats (T, D)) is cut, as [start, end) frames, or None
        to decode it whole (``config.segment``, ``max_segment_s``). ``quiet``: (T,) frames that
        are pauses whatever the CTC head says (:meth:`dither_frames`)."""
        if not self.pieces_wanted(feats):
            return None
        cfg = self.config
        seconds = feats.shape[0] * self.frame_shift_s
        if not self.has_ctc:
            raise AsrkitError(f"utterance {utt_id!r} is {seconds:.1f} s long, over max_segment_s "
                              f"{cfg.max_segment_s:g} s, and the model has no CTC head to find its pauses: "
                              f"cut it with --segments, or decode it whole with --segment never")
        from asrkit.decoding.segment import describe, pause_token_ids, split_recording

        spans = split_recording(self.model, feats, cfg, self.frame_shift_s, self.segment_target_s,
                                pause_token_ids(self.pkg.tokens), quiet)
        log.info("utterance %r (%.1f s): %s", utt_id, seconds, describe(spans, self.frame_shift_s))
        return spans

    @property
    def segment_target_s(self) -> float:
        """The length a cut recording's pieces are joined back up to: the config's
        ``segment_target_s``, else the 95th percentile of the durations the model was trained
        on (packed by asrkit-train), else 0 (not joined: a model packed before asrkit kept them)."""
        if self.config.segment_target_s is not None:
            return self.config.segment_target_s
        return self.pkg.meta.train_duration_s("p95") or 0.0

    # -- decoding --------------------------------------------------------------------------
    @torch.inference_mode()
    def decode_normalized(self, batch: Sequence[Tuple[str, np.ndarray]]) -> List[UttResult]:
        """One batch of (utt_id, normalized feats (T, D)) -> results in the same order."""
        lens = torch.tensor([f.shape[0] for _, f in batch])
        x = torch.zeros(len(batch), int(lens.max()), self.pkg.meta.idim)
        for i, (_, f) in enumerate(batch):
            x[i, :f.shape[0]] = torch.from_numpy(np.ascontiguousarray(f))
        x, lens = x.to(self.device), lens.to(self.device)
        enc, enc_lens = self.model.encode(x, lens)  # (B, T', H), (B,)
        full = {"att": AttentionScorer(self.model, enc, enc_lens, self.max_backtrack)}
        if self.lm is not None:
            full["lm"] = LMScorer(self.lm)
        ctc = None
        ctc_lp = self.model.ctc_log_probs(enc) if (self.weights["ctc"] > 0 or self.word_times) else None
        if self.weights["ctc"] > 0:
            ctc = CTCScorer(ctc_lp, enc_lens, blank=0, eos=self.eos)
        search = greedy_search if self.config.mode == "greedy" else beam_search
        res = search(full, ctc, self.weights, enc_lens, self.opts, self.V, sos=self.eos, eos=self.eos, blank=0)
        out = []
        max_tokens = output_lengths(enc_lens.cpu(), self.opts)[1].tolist()
        for (utt, f), hyps, n in zip(batch, res.hyps, max_tokens):
            if hyps and not hyps[0].ended:
                self._say_cut(utt, n)
            texts = [self.text(h.tokens) for h in hyps]
            out.append(UttResult(utt, hyps, texts, f.shape[0], res.steps))
        if self.word_times:
            self._time_words(out, [f for _, f in batch], ctc_lp, enc_lens)
        return out

    def _say_cut(self, utt: str, max_tokens: int) -> None:
        """Warn that ``utt``'s best hypothesis was made to end at the maximum length (``max_tokens``
        output tokens): its text may stop mid-word ('NO NO NO NO YE' for a yesno recording of 8
        words at maxlenratio 0.1), which was written as the transcript with exit 0."""
        ratio = self.opts.maxlenratio
        why = (f"maxlenratio {ratio:g} x its encoder frames: raise --maxlenratio (0: as many tokens as encoder "
               f"frames)" if ratio > 0 else
               "as many as its encoder frames: a decoder that loops, or a recording too short for its text")
        log.warning("utterance %r: the best hypothesis was cut at the maximum length, %d token(s) (%s)",
                    utt, max_tokens, why)

    def _time_words(self, results: List[UttResult], feats: List[np.ndarray], ctc_lp: torch.Tensor,
                    enc_lens: torch.Tensor) -> None:
        """Align every hypothesis of the batch to the CTC posteriors, all at once."""
        rows, targets = [], []
        for b, r in enumerate(results):
            for h in r.hyps:
                rows.append(b)
                targets.append(h.tokens)
        if not rows:
            return
        idx = torch.tensor(rows, device=ctc_lp.device)
        aligned = ctc_forced_align(ctc_lp.index_select(0, idx), enc_lens.index_select(0, idx), targets)
        k = 0
        for r, f in zip(results, feats):
            r.hyp_words = []
            energy = self.energy_db(f)
            for h in r.hyps:
                al = aligned[k]
                k += 1
                if al is None:
                    r.hyp_words.append([] if not h.tokens else None)
                    continue
                r.hyp_words.append(self.words_of(al, energy))

    def energy_db(self, feats: np.ndarray) -> Optional[np.ndarray]:
        """Frame energies (dB) of normalized feats (T, D) for the ``energy`` word rule (None for
        the other rules): the packed CMVN is undone first, so they are the fbank's own."""
        fbank = self.pkg.meta.feature_config
        if self.config.word_rule != "energy" or fbank is None or not fbank.use_log_fbank:
            return None  # not log-mel features (a model that only decodes --feats): spike times
        raw = np.asarray(feats, dtype=np.float64)
        if self._cmvn is not None:
            scale, offset = self._cmvn
            raw = (raw - offset) / scale
        return frame_energy_db(raw[:, 1:] if fbank.use_energy else raw)  # the mel bins, not Kaldi's energy

    def words_of(self, al, energy_db: Optional[np.ndarray] = None, recognised: bool = True) -> List[Word]:
        """The words of one :class:`asrkit.decoding.ctc_align.Alignment`, timed from its start
        (``energy_db``: :meth:`energy_db` of its features, for the ``energy`` rule). A
        ``recognised`` text's words are its text's (``<unk>`` one of its own); a given
        transcript's keep an unknown character inside its word."""
        rule = self.config.word_rule
        if rule == "energy" and energy_db is None:
            rule = "spike"  # features that are not log-mel energies
        return word_times(al, self.pkg.tokens, self.text, self.frame_shift_s * self.time_reduction,
                          self.boundary_offset_s, sentencepiece=self.pkg.tokenizer is not None,
                          rule=rule, energy_db=energy_db, reduction=self.time_reduction, unk_words=recognised)

    @torch.inference_mode()
    def align(self, batch: Sequence[Tuple[str, np.ndarray, List[int]]]) -> List[Optional[List[Word]]]:
        """Forced alignment of given token sequences: (utt_id, normalized feats (T, D), token ids)
        -> the words with times and confidences, or None where the tokens do not fit the audio
        (more tokens than CTC frames allow); one call is one batch."""
        if not self.has_ctc:
            raise AsrkitError("the model has no CTC head to align with")
        lens = torch.tensor([f.shape[0] for _, f, _ in batch])
        x = torch.zeros(len(batch), int(lens.max()), self.pkg.meta.idim)
        for i, (_, f, _) in enumerate(batch):
            x[i, :f.shape[0]] = torch.from_numpy(np.ascontiguousarray(f))
        enc, enc_lens = self.model.encode(x.to(self.device), lens.to(self.device))
        aligned = ctc_forced_align(self.model.ctc_log_probs(enc), enc_lens, [t for _, _, t in batch])
        return [[] if not t else (self.words_of(al, self.energy_db(f), recognised=False) if al is not None else None)
                for (_, f, t), al in zip(batch, aligned)]

    def text(self, tokens: List[int]) -> str:
        tok = self.pkg.tokenizer
        if tok is not None:
            return tok.decode(tokens)
        return " ".join(self.pkg.tokens[t] for t in tokens)

    def decode(self, items: Sequence[Tuple[str, np.ndarray]], normalized: bool = False,
               pieces: Optional[Sequence[Optional[List[Tuple[int, int]]]]] = None,
               pads: Optional[Sequence[Tuple[int, int]]] = None) -> List[UttResult]:
        """Decode (utt_id, feats (T, D)) pairs in batches of config.batch_size, longest first.

        Raw features are prepared here (:meth:`normalize_and_cut`; an AsrkitError for an item
        then stops the call). Normalized ones (``normalized``) come with their :class:`Prepared`
        ``pieces`` (None: worked out here) and ``pads`` (None: none), whose frames the results'
        times and lengths leave out.
        """
        if normalized or pieces is not None:
            feats = [(u, f if normalized else self.normalize(f, u)) for u, f in items]
            if pieces is None:
                pieces = [self.pieces(u, f) for u, f in feats]
        else:
            prepared = [self.normalize_and_cut(u, f) for u, f in items]
            feats = [(u, p.feats) for (u, _), p in zip(items, prepared)]
            pieces = [p.spans for p in prepared]
            pads = [p.pad for p in prepared]
        jobs: List[Tuple[int, int, np.ndarray]] = []  # (item, first frame, feats) per search input
        for i, ((u, f), spans) in enumerate(zip(feats, pieces)):
            if spans is None:
                jobs.append((i, 0, f))
            else:
                jobs.extend((i, a, f[a:b]) for a, b in spans)
        order = sorted(range(len(jobs)), key=lambda j: -jobs[j][2].shape[0])
        decoded: List[Optional[UttResult]] = [None] * len(jobs)
        bs = self.config.batch_size
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            batch = [(feats[jobs[j][0]][0], jobs[j][2]) for j in idx]
            try:
                batch_results = self.decode_normalized(batch)
            except (MemoryError, RuntimeError) as e:
                # A beam or batch the machine cannot hold: torch's allocator error (CPU "can't
                # allocate memory", CUDA "out of memory") came out as a traceback
                if not out_of_memory(e):
                    raise
                names = " ".join(u for u, _ in batch[:3]) + (" ..." if len(batch) > 3 else "")
                raise AsrkitError(f"out of memory decoding {len(batch)} utterance(s) ({names}) with beam "
                                  f"{self.config.beam} on {self.device}: lower the beam or the batch size "
                                  f"(now {bs})") from None
            for j, r in zip(idx, batch_results):
                decoded[j] = r
        per_item: Dict[int, List[Tuple[int, UttResult]]] = {}
        for (i, first, _), r in zip(jobs, decoded):
            per_item.setdefault(i, []).append((first, r))
        results = []
        for i, (u, f) in enumerate(feats):
            if pieces[i] is None:
                lead, trail = pads[i] if pads is not None else (0, 0)
                results.append(self._unpadded(per_item[i][0][1], lead, trail))
            else:
                results.append(self._join(u, f.shape[0], per_item.get(i, [])))
        return results

    def _unpadded(self, r: UttResult, lead: int, trail: int) -> UttResult:
        """``r`` of a recording decoded with ``lead`` and ``trail`` frames of edge pad, as of the
        recording itself: its length, and its words' times from its own start, within it."""
        if not lead and not trail:
            return r
        frames = r.num_frames - lead - trail
        return replace(r, num_frames=frames, hyp_words=[self.unpadded_words(ws, lead, frames) for ws in r.hyp_words])

    def unpadded_words(self, words: Optional[List[Word]], lead: int, frames: int) -> Optional[List[Word]]:
        """``words`` timed on a recording with ``lead`` frames of edge pad before its ``frames``
        own, timed on those (a word's time in the pad becomes the recording's edge). With no pad
        before, a pad after still bounds them: a word made in a trailing pad alone was written past
        the recording's end (the first 1.55 s of an AN4 file: 'SIX' at 1.728 s). A word squeezed
        to less than a frame at an edge keeps one frame (its own length, if shorter) inside the
        recording: it went into the CTM with a duration of 0.000."""
        if words is None:
            return words
        shift, end = lead * self.frame_shift_s, frames * self.frame_shift_s

        def within(t: float) -> float:
            return min(max(t - shift, 0.0), end)

        out = []
        for w in words:
            start, stop = within(w.start), within(w.end)
            least = min(self.frame_shift_s, w.end - w.start, end)
            if stop - start < least:
                if stop >= end:
                    start = end - least
                else:
                    stop = start + least
            out.append(Word(w.word, start, stop, w.confidence))
        return out

    def _join(self, utt: str, num_frames: int, parts: List[Tuple[int, UttResult]]) -> UttResult:
        """One result for a recording from its pieces' best hypotheses (times from its start)."""
        from asrkit.decoding.segment import end_centiseconds, piece_id

        fs = self.frame_shift_s
        tokens: List[int] = []
        score = 0.0
        scores: Dict[str, float] = {}
        words: Optional[List[Word]] = [] if self.word_times else None
        pieces, texts = [], []
        steps = 0
        for first, r in parts:
            # A piece ends where the audio of its frames does (as an utterance decoded whole,
            # run.segment_lines), not at its frames x shift: that segment, cut again by
            # extract-segments or compute-fbank --segments, gave 2 frames fewer (25 ms windows).
            start = first * fs
            end = end_centiseconds(start + self.least_audio_s(r.num_frames)) / 100
            steps = max(steps, r.steps)
            best = r.hyps[0] if r.hyps else None
            text = r.texts[0] if r.texts else ""
            pieces.append(Piece(piece_id(utt, start, end), start, end, text, best.score if best else 0.0))
            if best is None:
                continue
            tokens += best.tokens
            score += best.score
            for k, v in best.scores.items():
                scores[k] = scores.get(k, 0.0) + v
            if text:
                texts.append(text)
            if words is not None:
                if r.words is None:
                    words = None
                else:
                    words += [Word(w.word, w.start + start, w.end + start, w.confidence) for w in r.words]
        hyp = Hypothesis(tokens=tokens, score=score, scores=scores, ended=all(r.hyps and r.hyps[0].ended
                                                                              for _, r in parts))
        return UttResult(utt, [hyp], [" ".join(texts)], num_frames, steps,
                         hyp_words=[words] if self.word_times else [], pieces=pieces)
