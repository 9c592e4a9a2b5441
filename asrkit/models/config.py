"""The model configs: the ``model:`` sections of conf/train.yaml and conf/lm.yaml, apart from torch.

Plain dataclasses (asrkit.utils.config loads them), kept out of the modules that build the
models so that a config loads, and a typo in it fails, without importing torch. Their own
checks (``__post_init__``) run then too. The model modules re-export them
(``from asrkit.models.las import LASConfig`` works as before).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from asrkit.features.specaug_config import SpecAugConfig
from asrkit.utils.config import ConfigError, Problem, Wording, from_dict, number_text, over_bounds, refusal, to_dict


# Recurrent layers in a listener or speller, at most (ESPnet's LAS recipes have 1-6). A million
# small ones passed the parameter count (the memory check) and then trained about never; large
# ones took minutes building the model's skeleton before the count refused them.
MAX_LAYERS = 100
# Frames one pyramid step concatenates, at most (Chan et al. and ESPnet use 1 or 2): 1000 is ten
# seconds of 10 ms frames in one encoder frame. A factor past int64 (1e308 read as an int) was an
# OverflowError traceback once the data was read, where the transcripts' CTC lengths are checked.
MAX_SUBSAMPLE = 1000
# Units of one layer (LSTM cells, projection, embedding and attention sizes, VGG channels, heads), at
# most: ESPnet's largest LAS and LM layers are a few thousand wide. The parameter count (the memory
# check of asrkit.models.build) refuses what does not fit, but only once the data has been read, and
# a size past int64 (hidden: 1e26) never reached it: torch's "Overflow when unpacking long long",
# naming no key, after the training and dev sets were loaded.
MAX_UNITS = 10 ** 6


def _check_widths(section: str, **sizes: int) -> None:
    """A ConfigError naming each of ``sizes`` (``hidden=320``, worded ``listener.hidden`` for section
    ``listener``) over :data:`MAX_UNITS`."""
    too_wide = [Problem(problem, key) for key, value in sizes.items()
                for problem in over_bounds([(f"{section}.{key}" if section else key, value, MAX_UNITS)])]
    if too_wide:
        raise refusal("", too_wide)


@dataclass
class ListenerConfig:
    """Listener hyper-parameters (the ``listener:`` section of a model config).

    ``subsample[i]`` is how many adjacent frames are concatenated before BLSTM layer ``i``
    (1 = plain BLSTM, 2 = Chan's pyramid step); its length is the number of BLSTM layers.
    """

    vgg: bool = True                      # 2 conv blocks (conv3x3-relu x2, maxpool 2x2) = 4x time reduction
    vgg_channels: List[int] = field(default_factory=lambda: [64, 128])
    hidden: int = 320                     # LSTM units per direction
    subsample: List[int] = field(default_factory=lambda: [1, 1, 1, 1])
    proj: int = 320                       # tanh projection after each BLSTM (0 = none, output 2*hidden)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.subsample, (list, tuple)) or not self.subsample \
                or not all(isinstance(k, int) and k >= 1 for k in self.subsample):
            raise ConfigError(f"listener.subsample must be a non-empty list of integers >= 1 (one per BLSTM "
                              f"layer), got {self.subsample!r}", ["subsample"])
        if max(self.subsample) > MAX_SUBSAMPLE:
            raise ConfigError(f"listener.subsample factors must be at most {MAX_SUBSAMPLE} (frames concatenated into "
                              f"one), got {max(self.subsample)}", ["subsample"])
        if len(self.subsample) > MAX_LAYERS:
            raise ConfigError(f"listener.subsample must list at most {MAX_LAYERS} factors (one per BLSTM layer), got "
                              f"{len(self.subsample)}", ["subsample"])
        if len(self.vgg_channels) != 2 or not all(isinstance(c, int) and c >= 1 for c in self.vgg_channels):
            raise ConfigError(f"listener.vgg_channels must list 2 channel counts >= 1, got {self.vgg_channels!r}",
                              ["vgg_channels"])
        # (each named alone with its value: "listener.hidden must be >= 1 and listener.proj >= 0" put a
        # file's proj: -1 at hidden's line, the first key the message named)
        bad = [Problem(f"listener.hidden must be >= 1, got {self.hidden}", "hidden")] if self.hidden < 1 else []
        if self.proj < 0:
            bad.append(Problem(f"listener.proj must be >= 0 (0: none), got {self.proj}", "proj"))
        if bad:
            raise refusal("", bad)
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"listener.dropout must be in [0, 1), got {self.dropout}", ["dropout"])
        _check_widths("listener", hidden=self.hidden, proj=self.proj,
                      **{f"vgg_channels[{i}]": c for i, c in enumerate(self.vgg_channels)})

    @property
    def num_layers(self) -> int:
        return len(self.subsample)

    def time_steps(self) -> List[int]:
        """The factors by which the listener shortens the input, in order (VGG's two 2x pools first)."""
        return ([2, 2] if self.vgg else []) + list(self.subsample)

    def output_length(self, frames: int) -> int:
        """The encoder frames of a ``frames``-frame input (``Listener.output_lengths`` for one, without torch)."""
        for k in self.time_steps():
            frames = (frames + k - 1) // k
        return frames


ATTENTION_TYPES = ("content", "location", "multihead")  # the keys of asrkit.models.attention.ATTENTIONS


@dataclass
class AttentionConfig:
    """The ``attention:`` section of a model config."""

    type: str = "location"      # content | location | multihead
    dim: int = 320              # dimension of the additive energy MLP (per head for multihead)
    scaling: float = 2.0        # softmax sharpening (ESPnet's AttLoc uses 2.0; 1.0 = plain softmax)
    conv_channels: int = 10     # location: channels of the convolution over the previous alignment
    conv_width: int = 100       # location: kernel is 2*conv_width+1 frames (Chorowski et al. 2015)
    heads: int = 4              # multihead: number of heads

    def __post_init__(self) -> None:
        if self.type not in ATTENTION_TYPES:
            raise ConfigError(f"unknown attention type {self.type!r} (choose from {', '.join(ATTENTION_TYPES)})",
                              ["type"])
        out_of_range = [k for k, bad in (("dim", self.dim < 1), ("heads", self.heads < 1),
                                         ("conv_channels", self.conv_channels < 1), ("conv_width", self.conv_width < 0),
                                         ("scaling", not self.scaling > 0)) if bad]
        if out_of_range:
            raise ConfigError(f"attention.dim, heads and conv_channels must be >= 1, conv_width >= 0 and scaling "
                              f"> 0, got {self.dim}, {self.heads}, {self.conv_channels}, {self.conv_width} and "
                              f"{self.scaling}", out_of_range)
        _check_widths("attention", dim=self.dim, heads=self.heads, conv_channels=self.conv_channels)
        # Upper bounds no real model comes near (ESPnet's AN4 recipe: 100 and 2.0). The parameter
        # count check cannot catch them: conv_width 1e8 is 2e9 weights, under the memory check,
        # and then a convolution of 2e8 taps per utterance and decoding step ran for hours; a
        # scaling of 1e300 made every energy infinite and the attention weights NaN.
        # (Each named alone, as the listener's sizes.)
        bad = ([Problem(f"attention.conv_width must be at most {MAX_CONV_WIDTH} (encoder frames each side), got "
                        f"{self.conv_width}", "conv_width")] if self.conv_width > MAX_CONV_WIDTH else [])
        if self.scaling > MAX_SCALING:
            bad.append(Problem(f"attention.scaling must be at most {MAX_SCALING:g}, got {number_text(self.scaling)}",
                               "scaling"))
        if bad:
            raise refusal("", bad)


MAX_CONV_WIDTH = 1000
MAX_SCALING = 1000.0


@dataclass
class SpellerConfig:
    """The ``speller:`` section of a model config."""

    layers: int = 1             # 1 or 2 LSTM layers
    hidden: int = 320
    embed: int = 320            # token embedding size
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.layers < 1:
            raise ConfigError("speller.layers must be at least 1", ["layers"])
        if self.layers > MAX_LAYERS:
            raise ConfigError(f"speller.layers must be at most {MAX_LAYERS}, got {self.layers}", ["layers"])
        if self.hidden < 1 or self.embed < 1:
            raise ConfigError(f"speller.hidden and speller.embed must be >= 1, got {self.hidden} and {self.embed}",
                              [k for k in ("hidden", "embed") if getattr(self, k) < 1])
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"speller.dropout must be in [0, 1), got {self.dropout}", ["dropout"])
        _check_widths("speller", hidden=self.hidden, embed=self.embed)


@dataclass
class LASConfig:
    """A LAS model's configuration: what ``model:`` holds in conf/train.yaml and model.pt stores."""

    listener: ListenerConfig = field(default_factory=ListenerConfig)
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    speller: SpellerConfig = field(default_factory=SpellerConfig)
    ctc_weight: float = 0.5          # a in a*CTC + (1-a)*attention; 0 builds no CTC head
    label_smoothing: float = 0.0     # attention cross-entropy smoothing
    specaug: Optional[SpecAugConfig] = None  # None: no SpecAugment
    # Parameter initialisation: "pytorch" (each layer's own default) or "lecun", ESPnet's RNN
    # recipe: LeCun-normal weights, zero biases, N(0, 1) embeddings, speller forget-gate bias 1.
    init: str = "pytorch"
    # Subtract each utterance's own mean feature vector (over its real frames, after the global
    # CMVN) before the listener: a microphone, a recording level or a speaker's spectral tilt is
    # a constant offset in log-mel, which a model trained on few voices would otherwise learn as
    # part of them. Done inside the model, so training and every decoder always agree.
    utt_mean_norm: bool = False
    # Which of an utterance's frames that mean is taken over: "all" (every frame but digital
    # silence) or "loud" (those nearer its loud frames' level than its quiet ones': las.loud_frames).
    # Pauses and the quiet around the speech are room noise, not the voice: with "all" their share
    # (a bare take, a connected string, seconds of room tone before the speech) moves the mean the
    # speech is measured against.
    utt_mean_frames: str = "all"

    def __post_init__(self) -> None:
        # Checked here, not in LAS: a bad value then fails when the config loads, before data is read.
        if not 0.0 <= self.ctc_weight <= 1.0:
            raise ConfigError(f"ctc_weight must be in [0, 1], got {self.ctc_weight}", ["ctc_weight"])
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}", ["label_smoothing"])
        if self.utt_mean_frames not in ("all", "loud"):
            raise ConfigError(f"utt_mean_frames must be all or loud, got {self.utt_mean_frames!r}", ["utt_mean_frames"])
        if self.init not in ("pytorch", "lecun"):
            raise ConfigError(f"init must be pytorch or lecun, got {self.init!r}", ["init"])

    def ctc_misfits(self, frames, flat, offsets) -> List[Tuple[int, str]]:
        """The utterances whose CTC branch cannot learn from them, as ``(row, why)`` (none without CTC).

        Utterance ``i`` has ``frames[i]`` input frames and the tokens ``flat[offsets[i]:offsets[i+1]]``
        (numpy arrays: a training set's 281k utterances are checked in a few array operations).
        CTC must emit every token on its own encoder frame, and a blank between two equal ones:
        a transcript longer than that for the downsampled frames has no CTC alignment. Its CTC
        loss is then set to 0 (``zero_infinity``): the utterance teaches the CTC branch nothing
        (the attention decoder has no such bound, so with ``ctc_weight < 1`` it still learns).
        """
        import numpy as np

        if self.ctc_weight == 0:
            return []
        frames = np.asarray(frames, dtype=np.int64)
        offsets = np.asarray(offsets, dtype=np.int64)
        flat = np.asarray(flat)
        lengths = np.diff(offsets)
        # A repeat is a token equal to the one before it in the same utterance.
        same = np.zeros(len(flat), dtype=bool)
        same[1:] = flat[1:] == flat[:-1]
        same[offsets[:-1][lengths > 0]] = False
        repeats_before = np.concatenate([[0], np.cumsum(same, dtype=np.int64)])
        need = lengths + repeats_before[offsets[1:]] - repeats_before[offsets[:-1]]
        enc = self.listener.output_length(frames)
        reduction = math.prod(self.listener.time_steps())
        return [(int(i), f"{lengths[i]} tokens need {need[i]} encoder frames for CTC, its {frames[i]} frames give "
                         f"{enc[i]} after the listener's {reduction}x downsampling")
                for i in np.flatnonzero(need > enc)]

    @classmethod
    def from_dict(cls, d: Optional[Dict[str, Any]]) -> "LASConfig":
        """Build from a YAML mapping; unknown keys and mistyped values are errors naming them."""
        return from_dict(cls, d, path="model", wording=_WORDING)

    def to_dict(self) -> Dict[str, Any]:
        return to_dict(self)


_WORDING = Wording(unknown="{where}: unknown option(s) {keys} (known: {known})")


@dataclass
class LMConfig:
    """The token LSTM LM's ``model:`` section of conf/lm.yaml (asrkit.models.lm.LSTMLM)."""

    embed: int = 256
    hidden: int = 512
    layers: int = 2
    dropout: float = 0.2

    def __post_init__(self) -> None:
        out_of_range = [k for k in ("embed", "hidden", "layers") if getattr(self, k) < 1]
        out_of_range += [] if 0.0 <= self.dropout < 1.0 else ["dropout"]
        if out_of_range:
            raise ConfigError(f"embed, hidden and layers must be >= 1 and dropout in [0, 1), got {self.embed}, "
                              f"{self.hidden}, {self.layers} and {self.dropout}", out_of_range)
        # (MAX_LAYERS, as the LAS's: a million layers of size 1 passed the memory check and trained about never)
        if self.layers > MAX_LAYERS:
            raise ConfigError(f"layers must be at most {MAX_LAYERS}, got {self.layers}", ["layers"])
        _check_widths("", embed=self.embed, hidden=self.hidden)

    @classmethod
    def from_dict(cls, d: Optional[Dict[str, Any]], where: str = "lm model config") -> "LMConfig":
        return from_dict(cls, d, where)
