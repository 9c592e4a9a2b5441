"""Kaldi-compatible log-mel filterbank features (``compute-fbank-feats``) via torchaudio.

The options are Kaldi's, with Kaldi's names and defaults except where noted: 80 mel bins (ESPnet's
choice for LAS-style models) and no dither. The whole resolved config travels with the features
(``fbank.yaml`` beside feats.scp, and inside the packed model) so decoding computes the same thing.

e.g.::

    >>> cfg = FbankConfig.from_yaml("conf/fbank.yaml")              # doctest: +SKIP
    >>> feats = compute_fbank(samples, 16000, cfg)                  # (T, 80) float32
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Iterable, List, Mapping, Optional

from asrkit.features.containers import MAX_SAMPLE_RATE
from asrkit.features.wav import DEFAULT_MAX_SAMPLES, INT16_SCALE
from asrkit.utils.config import (ConfigError, ConfigFile, Problem, Wording, dump_yaml, errors_at_lines, from_dict,
                                 non_finite, number_text, read_config_file, refusal, to_dict)
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike, atomic_open

_WINDOWS = ("hamming", "hanning", "povey", "rectangular", "blackman")
# An option is named as written (dashed or not), as Kaldi users write it.
_WORDING = Wording(unknown="{where}: unknown fbank option{s} {quoted} (known: {known})",
                   key="{where}: option {key!r}")


# The highest audio rate asrkit reads (why: asrkit.features.containers.MAX_SAMPLE_RATE); also what an
# fbank config may ask for, which keeps int() of a frame's samples finite.
MAX_SAMPLE_FREQUENCY = MAX_SAMPLE_RATE
# Dither noise no louder than full-scale audio (a standard deviation at int16 scale).
MAX_DITHER = INT16_SCALE
# A VTLN warp factor is a ratio of vocal-tract lengths: Kaldi's VTLN searches 0.85 to 1.25, and
# adult to child is well inside 0.5 to 2. Past that the warp squeezes the filter bank onto a few
# FFT bins: 5 left 18 of 80 mel bins empty and 1e308 all 80 (constant features, exit 0).
MIN_VTLN_WARP, MAX_VTLN_WARP = 0.5, 2.0
# Kaldi's generalized Blackman window is a - 0.5 cos(x) + (0.5 - a) cos(2x), 0 at the frame's
# ends and 1 in its middle for any a; it is >= 0 only for a >= 0.375 and peaks in the middle only
# for a <= 0.625: outside, no taper. (1e308 made every window value inf and every utterance fail
# as "non-finite features; is the audio corrupt?".)
MIN_BLACKMAN_COEFF, MAX_BLACKMAN_COEFF = 0.375, 0.625


class SampleRateMismatch(AsrkitError):
    """Audio at a rate the config does not expect: fatal for a whole run, as in Kaldi."""


@dataclass
class FbankConfig:
    """Options of Kaldi's ``compute-fbank-feats``; names as in torchaudio.compliance.kaldi.fbank."""

    sample_frequency: float = 16000.0  # Hz; audio at another rate is an error, never resampled silently
    frame_length: float = 25.0  # ms
    frame_shift: float = 10.0  # ms
    num_mel_bins: int = 80
    # Kaldi's default is 1.0 (random noise against log(0)); 0 keeps features deterministic, so a
    # rerun, an --nj split and decoding of the same wav all give bit-identical features. The
    # log floor (float epsilon) already guards digital silence.
    dither: float = 0.0
    preemphasis_coefficient: float = 0.97
    remove_dc_offset: bool = True
    window_type: str = "povey"
    blackman_coeff: float = 0.42
    round_to_power_of_two: bool = True
    snip_edges: bool = True
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0: offset from the Nyquist frequency
    use_energy: bool = False  # add log energy as an extra first column
    raw_energy: bool = True
    energy_floor: float = 0.0
    htk_compat: bool = False
    use_log_fbank: bool = True
    use_power: bool = True
    vtln_warp: float = 1.0
    vtln_low: float = 100.0
    vtln_high: float = -500.0

    # Where the values came from ("conf/fbank.yaml", "conf/fbank.yaml with --num-mel-bins 200"), for
    # errors found after loading (check_mel_bins runs only once audio is to be read), and the line
    # of each key of a file read alone (none with options over it: their error names them). Not
    # fields: neither saved in fbank.yaml nor compared.
    source: ClassVar[str] = ""
    lines: ClassVar[Dict[str, int]] = {}

    def __post_init__(self) -> None:
        self.validate()

    @property
    def dim(self) -> int:
        return self.num_mel_bins + (1 if self.use_energy else 0)

    def dims_above(self, hz: float) -> List[int]:
        """Feature dims whose mel filter reaches above ``hz`` Hz (Kaldi's mel bins, no VTLN): in
        audio resampled up from a rate of ``2 * hz`` they hold nothing but the resampler's leakage."""
        high = self.high_edge

        def mel(f: float) -> float:
            return 1127.0 * math.log(1.0 + f / 700.0)

        low_mel = mel(self.low_freq)
        step = (mel(high) - low_mel) / (self.num_mel_bins + 1)
        first = 1 if self.use_energy else 0  # torchaudio puts the energy first
        return [first + i for i in range(self.num_mel_bins)
                if 700.0 * (math.exp((low_mel + (i + 2) * step) / 1127.0) - 1.0) > hz + 1e-3]  # float slack

    def validate(self) -> None:
        problems = non_finite(self)
        if problems:  # NaN passes every comparison below
            raise refusal("bad fbank config: ", problems)
        # (each with the keys it is about, the one at fault first: the line a file's error names)
        if self.sample_frequency <= 0:
            problems.append(Problem(f"sample_frequency must be > 0, got {number_text(self.sample_frequency)}",
                                    "sample_frequency"))
        elif self.sample_frequency != int(self.sample_frequency) or self.sample_frequency > MAX_SAMPLE_FREQUENCY:
            # Audio rates are whole numbers of Hz, at most containers.MAX_SAMPLE_RATE: no audio matched 16000.5
            # (every utterance failed one by one), a model.pt's 1e12 had decoding resample to it (a
            # 3 TB allocation and a MemoryError traceback), and 1e308 overflowed int() of samples.
            problems.append(Problem(f"sample_frequency must be a whole number of Hz up to {MAX_SAMPLE_FREQUENCY}, "
                                    f"got {number_text(self.sample_frequency)}", "sample_frequency"))
        if self.frame_length <= 0 or self.frame_shift <= 0:
            problems.append(Problem(f"frame_length/frame_shift must be > 0, got {self.frame_length}/{self.frame_shift}",
                                    *[k for k in ("frame_length", "frame_shift") if getattr(self, k) <= 0]))
        # torchaudio asserts more than 3 (Kaldi: at least 3): a traceback for 3 otherwise
        if self.num_mel_bins < 4:
            problems.append(Problem(f"num_mel_bins must be >= 4, got {self.num_mel_bins}", "num_mel_bins"))
        if self.window_type not in _WINDOWS:
            problems.append(Problem(f"window_type must be one of {', '.join(_WINDOWS)}, got {self.window_type!r}",
                                    "window_type"))
        if not 0 <= self.dither <= MAX_DITHER:
            # Dither is the standard deviation of noise added to int16-scale samples (Kaldi's 1.0 is
            # one 16-bit step). Above full scale the noise drowns any audio (1e10: features of noise,
            # exit 0), and 1e30 overflowed the power spectrum: every utterance "non-finite features;
            # is the audio corrupt?", which the audio was not.
            problems.append(Problem(f"dither must be in [0, {MAX_DITHER:g}] (the standard deviation of noise added "
                                    f"to int16-scale samples; Kaldi's default is 1.0, one 16-bit step), got "
                                    f"{number_text(self.dither)}", "dither"))
        if not 0.0 <= self.preemphasis_coefficient <= 1.0:
            problems.append(Problem(f"preemphasis_coefficient must be in [0, 1], got {self.preemphasis_coefficient}",
                                    "preemphasis_coefficient"))
        if self.energy_floor < 0:
            problems.append(Problem(f"energy_floor must be >= 0, got {self.energy_floor}", "energy_floor"))
        if not MIN_BLACKMAN_COEFF <= self.blackman_coeff <= MAX_BLACKMAN_COEFF:
            problems.append(Problem(f"blackman_coeff must be in [{MIN_BLACKMAN_COEFF:g}, {MAX_BLACKMAN_COEFF:g}] (a "
                                    f"window that tapers; Kaldi's default is 0.42), got "
                                    f"{number_text(self.blackman_coeff)}",
                                    "blackman_coeff"))
        if self.sample_frequency <= 0:  # the checks below divide by it (0: a ZeroDivisionError traceback)
            raise refusal("bad fbank config: ", problems)
        # torchaudio asserts (a traceback) on a frame shift or length under one sample
        if min(self.frame_length, self.frame_shift) * self.sample_frequency / 1000 < 1:
            shorter = "frame_length" if self.frame_length <= self.frame_shift else "frame_shift"
            problems.append(Problem(f"frame_length and frame_shift must be at least one sample "
                                    f"({1000 / self.sample_frequency:g} ms at {number_text(self.sample_frequency)} "
                                    f"Hz), got "
                                    f"{self.frame_length}/{self.frame_shift} ms", shorter, "sample_frequency"))
        nyquist = self.sample_frequency / 2
        high = self.high_edge
        if not 0 <= self.low_freq < high <= nyquist:
            keys = ["low_freq"] if not 0 <= self.low_freq < nyquist else ["high_freq"] if high > nyquist else []
            problems.append(Problem(f"need 0 <= low_freq < high_freq <= {number_text(nyquist)} (Nyquist), got low_freq="
                                    f"{self.low_freq}, high_freq={self.high_freq}",
                                    *keys, "high_freq", "low_freq", "sample_frequency"))
        if self.vtln_warp <= 0:
            problems.append(Problem(f"vtln_warp must be > 0 (1: no warp), got {self.vtln_warp}", "vtln_warp"))
        elif not MIN_VTLN_WARP <= self.vtln_warp <= MAX_VTLN_WARP:
            problems.append(Problem(f"vtln_warp must be in [{MIN_VTLN_WARP:g}, {MAX_VTLN_WARP:g}] (1: no warp; Kaldi's "
                                    f"VTLN searches 0.85 to 1.25), got {number_text(self.vtln_warp)}", "vtln_warp"))
        elif self.vtln_warp != 1.0:  # Kaldi's (and torchaudio's) bounds for a warped filter bank
            vtln_high = self._vtln_high()
            if not self.low_freq < self.vtln_low < vtln_high < high:
                # (the keys of the first bound out of order, then the warp that asks for the bounds)
                pairs = ((self.low_freq < self.vtln_low, ("vtln_low", "low_freq")),
                         (self.vtln_low < vtln_high, ("vtln_high", "vtln_low")),
                         (vtln_high < high, ("vtln_high", "high_freq")))
                problems.append(Problem(f"with vtln_warp need low_freq < vtln_low < vtln_high < high_freq, got "
                                        f"{self.low_freq}, {self.vtln_low}, {vtln_high:g} (vtln_high={self.vtln_high}) "
                                        f"and {high:g}", *next(keys for ok, keys in pairs if not ok), "vtln_warp"))
            elif self.vtln_low * max(1.0, self.vtln_warp) > vtln_high * min(1.0, self.vtln_warp):
                # The warp's bends (Kaldi's l and h) out of order fold the spectrum over itself:
                # the filters' edges are no longer in order (and check_mel_bins would misjudge them).
                problems.append(Problem(f"vtln_warp {self.vtln_warp:g} folds the frequency axis with vtln_low "
                                        f"{self.vtln_low:g} and vtln_high {vtln_high:g}: need vtln_low * max(1, "
                                        f"vtln_warp) <= vtln_high * min(1, vtln_warp)", "vtln_warp", "vtln_low",
                                        "vtln_high"))
        if not problems:
            problems += self._frame_problems()
        if problems:
            raise refusal("bad fbank config: ", problems)

    def _frame_problems(self) -> List[str]:
        """What torchaudio would assert on (a traceback) or choke on (a filter bank of
        num_mel_bins x FFT bins floats: 10**12 bins asked for 5 TB)."""
        if self.sample_frequency * max(self.frame_length, self.frame_shift) / 1000 > DEFAULT_MAX_SAMPLES:
            # (1e308 ms is an infinite number of samples: int() of it was an OverflowError)
            longer = "frame_length" if self.frame_length >= self.frame_shift else "frame_shift"
            return [Problem(f"frame_length/frame_shift {self.frame_length}/{self.frame_shift} ms is more samples at "
                            f"{self.sample_frequency:g} Hz than one read holds ({DEFAULT_MAX_SAMPLES})", longer,
                            "sample_frequency")]
        window = self.window_samples
        if window < 2:
            return [Problem(f"frame_length must be at least two samples ({2000 / self.sample_frequency:g} ms at "
                            f"{self.sample_frequency:g} Hz), got {self.frame_length} ms", "frame_length",
                            "sample_frequency")]
        padded = self._fft_size()
        if padded % 2:
            return [Problem(f"frame_length {self.frame_length} ms is {window} samples at {self.sample_frequency:g} Hz, "
                            f"an odd FFT size with round_to_power_of_two false: choose an even number of samples",
                            "frame_length", "round_to_power_of_two", "sample_frequency")]
        if self.num_mel_bins > padded:
            # Each FFT bin lies inside at most two (overlapping) filters: past that many, some
            # filter certainly has none. (check_mel_bins finds every empty one.)
            return [Problem(self._too_many_bins(f"at least {self.num_mel_bins - padded}"), *self._BINS_KEYS)]
        return []

    @property
    def high_edge(self) -> float:
        """The mel filters' upper edge in Hz: high_freq, or for high_freq <= 0 that offset from the
        Nyquist frequency (as Kaldi and torchaudio read it)."""
        return self.high_freq if self.high_freq > 0 else self.sample_frequency / 2 + self.high_freq

    @property
    def window_samples(self) -> int:
        """Samples in one analysis window (frame_length at sample_frequency, as Kaldi counts them)."""
        return int(self.sample_frequency * self.frame_length / 1000)

    @property
    def shift_samples(self) -> int:
        """Samples from one frame's start to the next's (frame_shift at sample_frequency)."""
        return int(self.sample_frequency * self.frame_shift / 1000)

    def least_audio_s(self, num_frames: int) -> float:
        """The shortest audio, in seconds, that gives ``num_frames`` frames: a time within the
        recording that holds them all (asrkit-decode's --segments-out of an utterance decoded
        whole). With snip_edges, n - 1 shifts and a window; without it, n shifts less half of one."""
        shift = self.shift_samples
        n = (num_frames - 1) * shift + self.window_samples if self.snip_edges else num_frames * shift - shift // 2
        return n / self.sample_frequency

    def _vtln_high(self) -> float:
        # <= 0: an offset from the Nyquist frequency, as in Kaldi and torchaudio (not from
        # high_freq: with high_freq -600, torchaudio's assertion passed here as a traceback)
        return self.vtln_high if self.vtln_high > 0 else self.sample_frequency / 2 + self.vtln_high

    def _fft_size(self) -> int:
        window = self.window_samples
        return 1 << (window - 1).bit_length() if self.round_to_power_of_two else window

    # What too many mel bins for the FFT is about, the likeliest to change first.
    _BINS_KEYS = ("num_mel_bins", "frame_length", "sample_frequency", "vtln_warp", "low_freq", "high_freq")

    def _too_many_bins(self, how_many: str) -> str:
        # a warp squeezes part of the bank onto fewer FFT bins: say so, or the warp goes unsuspected
        warped = f" with vtln_warp {self.vtln_warp:g}" if self.vtln_warp != 1.0 else ""
        return (f"num_mel_bins {self.num_mel_bins} is too many for frame_length {self.frame_length} ms "
                f"at {number_text(self.sample_frequency)} Hz{warped} ({self._fft_size() // 2} FFT bins from "
                f"{number_text(self.low_freq)} Hz): "
                f"{how_many} of its mel bins would hold no FFT bin (Kaldi: 'You may have set --num-mel-bins too large'), "
                f"a feature dimension that is the same constant in every frame; use fewer mel bins"
                f"{', a vtln_warp nearer 1' if warped else ''} or a longer frame_length")

    def check_mel_bins(self) -> None:
        """Kaldi's check (``MelBanks``) that every mel filter catches at least one FFT bin: an
        empty one is a constant log(epsilon) column, a feature dimension holding nothing (128
        bins at 16 kHz with 25 ms frames, 80 bins with 10 ms frames). An AsrkitError otherwise.

        Not part of :meth:`validate`: a model trained on such features still decodes. Made
        where features are computed for a corpus (asrkit-compute-fbank, training from audio).
        A VTLN-warped bank is checked as warped, as Kaldi's MelBanks does."""
        empty = self._empty_mel_bins(self._fft_size(), self.high_edge)
        if empty:
            shown = ", ".join(map(str, empty[:10])) + (", ..." if len(empty) > 10 else "")
            where = f"{self.source}: " if self.source else ""
            with errors_at_lines(self.source, self.lines):
                raise ConfigError(f"{where}bad fbank config: " + self._too_many_bins(f"{len(empty)} (0-based: {shown})"),
                                  self._BINS_KEYS)

    def _empty_mel_bins(self, padded: int, high: float) -> List[int]:
        # Filter i spans mel points i..i+2 of num_mel_bins + 2 evenly spaced from low_freq to
        # high_freq; FFT bin k sits at k * rate / padded Hz (k < padded / 2). In units of FFT
        # bins, the filter is empty when no integer lies inside its span: found without building
        # the bank (so without an array of padded / 2 bins: a 1e12 Hz rate would be 128 GB).
        # Plain Python, not numpy (the same float64 operations in the same order): asr.sh's
        # start-up check (--print-config) makes it, and numpy's import was half of that command's
        # CPU; only a VTLN warp needs torchaudio's function, and so numpy.
        def mel(f: float) -> float:
            return 1127.0 * math.log(1.0 + f / 700.0)

        low_mel, high_mel = mel(self.low_freq), mel(high)
        delta = (high_mel - low_mel) / (self.num_mel_bins + 1)
        points = [low_mel + delta * float(i) for i in range(self.num_mel_bins + 2)]
        if self.vtln_warp != 1.0:
            # The warp moves each point (with torchaudio's own function, which the features are
            # made with); validate keeps it increasing, so a filter still spans its warped
            # points i..i+2.
            import numpy as np
            import torch
            from torchaudio.compliance.kaldi import vtln_warp_mel_freq

            warped = vtln_warp_mel_freq(self.vtln_low, self._vtln_high(), self.low_freq, high, self.vtln_warp,
                                        torch.from_numpy(np.array(points, dtype=np.float64))).numpy()
            in_bins = (700.0 * (np.exp(warped / 1127.0) - 1.0) * (padded / self.sample_frequency)).tolist()
        else:
            in_bins = [700.0 * (math.exp(p / 1127.0) - 1.0) * (padded / self.sample_frequency) for p in points]
        # A bin on an edge counts, as float32 rounding (torchaudio's) may put it a hair inside:
        # only a certainly empty filter is refused.
        slack = [1e-6 * max(b, 1.0) for b in in_bins]
        top = padded // 2 - 1
        return [i for i in range(self.num_mel_bins)
                if min(math.floor(in_bins[i + 2] + slack[i + 2]), top) < math.ceil(in_bins[i] - slack[i])]

    # --- YAML ---------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Optional[Mapping[str, Any]], where: str = "fbank config") -> "FbankConfig":
        """Build from a mapping; Kaldi's dashed names (``num-mel-bins``) are accepted too."""
        return from_dict(cls, d, where, wording=_WORDING, normalize_key=_field_name)

    @classmethod
    def from_yaml(cls, path: PathLike, command: str = "asrkit-compute-fbank --config") -> "FbankConfig":
        """The options of YAML file ``path``; ``-`` (/dev/stdin) reads them from stdin, named in
        errors as ``command``'s option; an error names the line of the key at fault
        (:func:`asrkit.utils.config.load_yaml_config`)."""
        file = _read_yaml(path, command)
        with file.located():
            config = cls.from_dict(file.values, where=file.where)
        config.source, config.lines = file.where, file.lines
        return config

    @classmethod
    def from_options(cls, path: Optional[PathLike], overrides: Mapping[str, Any],
                     command: str = "asrkit-compute-fbank --config") -> "FbankConfig":
        """The config of ``--config FILE`` (or the defaults) with command-line ``overrides`` (field
        name -> value, None: not given) on top, as asrkit-compute-fbank takes them.

        An error, now or from :meth:`check_mel_bins` later, names the file and the options: a bad
        combination (too many mel bins for the rate) may be half in each, and "bad fbank config"
        alone left the user to guess that a YAML file was involved at all.

        A value of the file that an option replaces is not checked, as asrkit-train's --set and
        asrkit-train-lm's options replace theirs: ``--num-mel-bins 40`` over a file's
        ``num_mel_bins: 2`` was refused for the 2 that nothing would use. An error of the file's
        own values (the same without the options) names the file and the line, as without them.
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        if path and not given:
            return cls.from_yaml(path, command)
        options = " ".join(f"--{k.replace('_', '-')} {str(v).lower() if isinstance(v, bool) else v}"
                           for k, v in given.items())
        if not path:
            config = cls().replace(**given)  # an option's own bad value: the message names it and its value
            config.source = options
            return config
        file = _read_yaml(path, command, given)
        where = f"{file.where} with {options}"
        try:
            config = cls.from_dict({**file.kept, **given}, where=where)
        except AsrkitError as e:
            # the file's, whatever the options
            file.raise_if_its_own(e, lambda values: cls.from_dict(values, where=file.where), where)
            raise e from None
        config.source, config.lines = where, {}
        return config

    def to_dict(self) -> Dict[str, Any]:
        return to_dict(self)

    def to_yaml(self, path: Optional[PathLike] = None) -> str:
        text = "# asrkit fbank config (FbankConfig), resolved\n" + dump_yaml(self.to_dict(), sort_keys=False)
        if path is not None:
            with atomic_open(path) as f:
                f.write(text)
        return text

    def replace(self, **overrides: Any) -> "FbankConfig":
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})


def _field_name(key: Any) -> str:
    """The field a key of the YAML names: Kaldi's dashed names (``num-mel-bins``) are accepted."""
    return str(key).replace("-", "_")


def _read_yaml(path: PathLike, command: str, given: Iterable[str] = ()) -> ConfigFile:
    """YAML file ``path`` of options, those ``given`` replaced by the command line's
    (:func:`asrkit.utils.config.read_config_file`), or the error that it is a Kaldi config."""
    try:
        return read_config_file(path, "fbank options", command, given, _field_name)
    except AsrkitError as e:
        _refuse_kaldi_conf(path)
        raise e from None


def _refuse_kaldi_conf(path: PathLike) -> None:
    """A Kaldi conf/fbank.conf ('--num-mel-bins=80' lines) given for the YAML config is an error
    saying so: "expected a mapping of fbank options, got str" sent a Kaldi user looking for a typo."""
    import os
    import re

    try:
        if not os.path.isfile(path):
            return  # (stdin or a pipe: read once already)
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [(n, line.split("#", 1)[0].strip()) for n, line in enumerate(f.read(1 << 16).splitlines(), 1)]
    except OSError:
        return
    first = next(((n, line) for n, line in lines if line), None)
    if first is not None and re.match(r"--[A-Za-z]", first[1]):
        raise AsrkitError(f"{path}:{first[0]}: a Kaldi config ({first[1]!r}), but asrkit's fbank config is YAML: one "
                          f"'name: value' line per option, e.g. convert it with "
                          f"sed -E 's/^--([^=]+)=(.*)/\\1: \\2/' {path} > fbank.yaml (asrkit's defaults differ from "
                          f"Kaldi's: 80 mel bins, no dither)")


def _named(utt_id: str) -> str:
    return f"utterance {utt_id!r}" if utt_id else "audio"


def check_fbank_input(num_samples: int, sample_rate: int, config: FbankConfig, utt_id: str = "") -> None:
    """The refusals :func:`compute_fbank` makes before any arithmetic: a sample rate other than the
    config's, audio shorter than one frame. Kept apart so that a training process whose loader
    workers compute the features can check audio without importing torchaudio (~16 MB of RSS)."""
    name = _named(utt_id)
    if sample_rate != config.sample_frequency:
        raise SampleRateMismatch(f"{name}: sample rate {sample_rate} Hz does not match the fbank config's "
                                 f"sample_frequency {config.sample_frequency:g} Hz (resample it in wav.scp, or set "
                                 f"--sample-frequency)")
    window = config.window_samples
    if config.snip_edges and num_samples < window:
        raise AsrkitError(f"{name}: too short for one frame ({num_samples} samples < {window})")
    if not config.snip_edges and _unsnipped_frames(num_samples, config) < 1:
        raise AsrkitError(f"{name}: too short for one frame ({num_samples} samples < half a frame shift, "
                          f"{config.shift_samples // 2 + (config.shift_samples & 1)}, with snip_edges false)")


def _unsnipped_frames(num_samples: int, config: FbankConfig) -> int:
    """Kaldi's frame count without ``snip_edges``: one per shift, rounded to the nearest."""
    shift = config.shift_samples
    return (num_samples + shift // 2) // shift


def _reflected(samples: np.ndarray, config: FbankConfig) -> np.ndarray:
    """The samples Kaldi's frames read without ``snip_edges``, laid end to end with the edges
    reflected (sample -1 is sample 0, sample n is sample n-1, again and again for audio shorter
    than a window), so that snipped frames of the result are Kaldi's unsnipped frames of ``samples``.
    torchaudio reflects each edge once, and asserts (a traceback, the whole run lost) for audio
    shorter than one window, where Kaldi gives it frames."""
    import numpy as np

    n, shift, window = len(samples), config.shift_samples, config.window_samples
    frames = _unsnipped_frames(n, config)
    first = shift // 2 - window // 2
    positions = np.arange(first, first + (frames - 1) * shift + window) % (2 * n)
    return samples[np.where(positions < n, positions, 2 * n - 1 - positions)]


def compute_fbank(samples: np.ndarray, sample_rate: int, config: FbankConfig, utt_id: str = "",
                  first_frame: int = 0) -> np.ndarray:
    """Log-mel filterbank of one utterance: ``samples`` (N,) at int16 scale -> (T, D) float32.

    A sample rate other than ``config.sample_frequency`` is an error naming ``utt_id``; so is
    audio shorter than one frame (Kaldi gives such an utterance no features), and so are
    features that are not finite (NaN or infinite samples), which would poison CMVN and training.
    ``first_frame``: the recording's frame these samples start at, for that error's frame number.
    """
    import numpy as np
    import torch
    import torchaudio.compliance.kaldi as kaldi

    check_fbank_input(len(samples), sample_rate, config, utt_id)
    name = _named(utt_id)
    options = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}  # (not the ``source``)
    if not config.snip_edges and len(samples) < config.window_samples:
        samples, options["snip_edges"] = _reflected(np.asarray(samples), config), True
    wave = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    with torch.no_grad():
        feats = kaldi.fbank(wave.unsqueeze(0), channel=0, **options)  # (T, D)
    out = feats.numpy()
    if not np.isfinite(out).all():
        frame = first_frame + int(np.argwhere(~np.isfinite(out))[0][0])
        raise AsrkitError(f"{name}: non-finite features (first at frame {frame}); is the audio corrupt?")
    return out


def compute_fbank_chunked(samples: np.ndarray, sample_rate: int, config: FbankConfig, utt_id: str = "",
                          chunk_s: float = 60.0) -> np.ndarray:
    """:func:`compute_fbank` of a long recording, ``chunk_s`` seconds of frames at a time.

    Kaldi's frames are computed each from its own window of samples, so with ``snip_edges``
    (frame i starts at sample i * shift) chunks of whole frames give exactly the frames of one
    call, while memory holds one chunk's windows and spectra instead of the whole recording's.
    Without ``snip_edges`` the first and last frames reflect the signal's ends, so the recording
    is done in one call.
    """
    import numpy as np

    shift = int(config.sample_frequency * config.frame_shift / 1000)
    window = config.window_samples
    per_chunk = max(1, int(chunk_s * 1000 / config.frame_shift))
    if not config.snip_edges or len(samples) < window:
        return compute_fbank(samples, sample_rate, config, utt_id)
    frames = 1 + (len(samples) - window) // shift
    if frames <= per_chunk:  # (no copy into a concatenation for the usual short utterance)
        return compute_fbank(samples, sample_rate, config, utt_id)
    parts = []
    for first in range(0, frames, per_chunk):
        n = min(per_chunk, frames - first)
        a = first * shift
        parts.append(compute_fbank(samples[a:a + (n - 1) * shift + window], sample_rate, config, utt_id, first))
    return np.concatenate(parts)
