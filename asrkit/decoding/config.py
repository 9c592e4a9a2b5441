"""``conf/decode.yaml``: the decoding options, a dataclass with defaults, overridable by flags.

    mode: beam          # beam | greedy
    beam: 10
    ctc_weight: 0.3     # CTC prefix score weight; the attention decoder gets 1 - ctc_weight
    lm_weight: 0.0      # shallow fusion weight of --lm (0: the LM is not used)
    penalty: 0.0        # per-token bonus (> 0) or penalty (< 0)
    length_norm: false  # rank finished hypotheses by score per token
    maxlenratio: 0.0    # max output tokens = ratio * encoder frames (0: encoder frames)
    minlenratio: 0.0
    nbest: 1
    pre_beam_ratio: null # CTC scores ceil(ratio * beam) candidates per hypothesis (0: all tokens; null: 1.5 in beam search, 150 in greedy)
    eos_threshold: null # <eos> only when its score >= X x the best other token's (0: always; null: 1.5 at ctc_weight 0, else 0)
    max_backtrack: null # end a hypothesis whose attention peak stays > N encoder frames behind its furthest for 3 steps (0: off; null: 8 at ctc_weight 0, else 0)
    batch_size: 16      # utterances decoded together
    device: cpu         # cpu | cuda | auto
    level_norm: true    # shift each recording's log-mel level to the training data's (packed CMVN mean)
    word_times: true    # CTC-align each hypothesis: word times and confidences (needs a CTC head)
    word_rule: energy   # energy | spike | extend: where a word starts and ends (docs/decoding.md)
    # Long recordings (asrkit.decoding.segment): split at pauses the CTC head finds.
    segment: auto       # auto: recordings longer than max_segment_s | always | never
    max_segment_s: 20.0
    min_pause_s: 0.3    # a run of pause frames at least this long is a pause to cut at
    pause_blank_prob: 0.9  # a pause frame: CTC blank (plus a word-boundary token's) posterior at least this
    segment_pad_s: 0.2  # pause kept on each side of a piece
    segment_target_s: null  # pieces joined back up to this length (null: the model's training utterances' 95th percentile; 0: not joined)
    segment_window_s: 30.0
    segment_context_s: 2.0

The module imports no torch (``--print-config`` and ``--help`` stay fast).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from asrkit.utils.config import (ConfigError, Problem, UnknownKeysError, dump_yaml, from_dict, non_finite,
                                 number_text, over_bounds, read_config_file, reads_stdin, refusal, to_dict,
                                 written_by_newer, yaml_source)
from asrkit.utils.errors import AsrkitError

# How word boundaries are placed (asrkit.decoding.ctc_align.word_times); the first is the default.
WORD_RULES = ("energy", "spike", "extend")


# (eos_threshold, max_backtrack) for attention-only decoding: Hannun et al. 2019's threshold, and
# 8 encoder frames (~0.3 s at 40 ms) of backward jump taken as a loop.
ATTENTION_ONLY_GUARDS = (1.5, 8)

# Every hypothesis is a row of every scorer's state (batch x beam rows, each with the CTC prefix
# scorer's frames x candidates): a beam of 10**9, a typo, asked the allocator for 8 GB before the
# first step and died with a traceback (or the kernel's OOM killer). Published LAS/ESPnet beams
# are 1 to 100; 1000 leaves room for n-best rescoring experiments.
MAX_BEAM = 1000


# ESPnet's pre-beam: in beam search CTC scores the ceil(1.5 * beam) best candidates of the others.
PRE_BEAM_RATIO = 1.5
# Greedy search's one hypothesis: CTC scores up to 150 candidates, what a beam of 10 scores per
# step (10 x 15). That is every token of a character or BPE-128 model, measured on AN4 train_dev
# over 12 models against 1.5 (two candidates): WER 10.79 -> 10.25 % (char), 55.1 -> 38.5 % (BPE
# 128) (egs/an4/asr1/RESULTS.md, "Greedy decoding with CTC"). Every token of a 5000-token model
# made greedy 3.5x slower than that beam; 150 keeps it faster (bench in the same section).
GREEDY_PRE_BEAM_RATIO = 150.0

MIN_SEGMENT_S = 1.0  # the shortest max_segment_s: a spoken word lasts up to about a second

# Upper bounds no real use comes near. Only NaN and inf were refused, and a huge finite value
# overflowed where it became a count: segment_pad_s 1e308 in int(round(pad / frame)) (an
# OverflowError), maxlenratio 1e308 in the tensor of output lengths (a RuntimeError),
# max_backtrack 10**23 in the attention scorer's int64 comparison, pre_beam_ratio 1e308 in
# ceil(ratio * beam); each a traceback from the middle of a decode.
# - The segment durations: a day (a piece, pause, pad or window longer than that means nothing).
SEGMENT_OPTIONS_S = ("max_segment_s", "min_pause_s", "segment_pad_s", "segment_target_s", "segment_window_s",
                     "segment_context_s")
MAX_SEGMENT_OPTION_S = 24 * 3600.0
# - The quiet added at a recording's edges: seconds, not hours (it is held as feature frames).
MAX_EDGE_PAD_S = 10.0
# - How far below a recording's loud frames its quiet ones lie: the fbank's log floor (digital
#   silence) is ~110 dB below speech, so a larger figure would call nothing quiet.
MAX_EDGE_QUIET_DB = 120.0
# - Output tokens per encoder frame: speech runs at under one character per 40 ms frame.
MAX_LENRATIO = 10.0
# - Weights, ratios and the penalty: a million times their usual size (0 to a few). A penalty of
#   1e308 per token summed to inf, and every hypothesis came out empty, at exit 0.
MAX_FACTOR = 1e6
# - Counts (encoder frames, utterances): ten million, more than a day of 10 ms frames.
MAX_COUNT = 10 ** 7


# Where and how fast a run decodes, not what it says: never packed with a model (one packed on a
# GPU machine with device: cuda would fail on every CPU), always this run's own.
RUNTIME_OPTIONS = ("device", "batch_size")


@dataclass
class DecodeConfig:
    mode: str = "beam"
    beam: int = 10
    ctc_weight: float = 0.3
    lm_weight: float = 0.0
    penalty: float = 0.0
    length_norm: bool = False
    maxlenratio: float = 0.0
    minlenratio: float = 0.0
    nbest: int = 1
    # None: PRE_BEAM_RATIO in beam search, GREEDY_PRE_BEAM_RATIO in greedy search.
    pre_beam_ratio: Optional[float] = None
    # Guards against an attention decoder that stops early or loops (docs/decoding.md, "Attention-
    # only decoding"). None: ATTENTION_ONLY_GUARDS when ctc_weight is 0, off with CTC scores,
    # which already tie the output to the input (and where the threshold cost yesno 3 errors).
    eos_threshold: Optional[float] = None
    max_backtrack: Optional[int] = None
    batch_size: int = 16
    device: str = "cpu"
    # A recording 20 dB quieter than the training data shifts every log-mel value by the same -4.6
    # and took AN4 test from 6.7 to 84 % WER; shifted back to the training level (the packed CMVN
    # mean), 6.6 % (docs/decoding.md, "Recording level").
    level_norm: bool = True
    word_times: bool = True
    word_rule: str = "energy"
    segment: str = "auto"
    max_segment_s: float = 20.0
    min_pause_s: float = 0.3
    pause_blank_prob: float = 0.9
    segment_pad_s: float = 0.2
    # None: the model's own figure (Recognizer.segment_target_s); models packed without one: 0.
    segment_target_s: Optional[float] = None
    segment_window_s: float = 30.0
    segment_context_s: float = 2.0
    # A recording that starts or ends in its speech (a take cut close around its word, as FSDD's
    # are) gets edge_pad_s of quiet added at that edge: models learn from utterances with a pause
    # before and after, and with none an 0.4 s word is 5 encoder frames after 8x reduction (the
    # FSDD recipe's fold models misread 45-66 % of the takes; docs/decoding.md, "Recordings cut
    # close"). An edge is in speech when fewer than edge_min_quiet_s of its frames lie
    # edge_quiet_db or more below the recording's loud ones. Recordings cut into pieces have
    # segment_pad_s instead. 0: never padded.
    edge_pad_s: float = 0.2
    edge_quiet_db: float = 20.0
    edge_min_quiet_s: float = 0.1

    @classmethod
    def from_dict(cls, d: Optional[Dict[str, Any]], where: str = "decode config",
                  validate: bool = True) -> "DecodeConfig":
        d = dict(d or {})
        if "beam_size" in d:  # ESPnet's name for it
            if "beam" in d:  # (was "unknown key 'beam_size'", a name this very function accepts)
                raise ConfigError(f"{where}: beam {d['beam']!r} and beam_size {d['beam_size']!r}: beam_size is "
                                  f"ESPnet's name for beam; give one of them", ["beam_size", "beam"])
            d["beam"] = d.pop("beam_size")
        cfg = from_dict(cls, d, where)
        if validate:
            cfg.validate(where)
        return cfg

    @classmethod
    def from_yaml(cls, path, command: str = "asrkit-decode --config",
                  given: Optional[Dict[str, Any]] = None) -> "DecodeConfig":
        """The options of YAML file ``path``; ``-`` (/dev/stdin) reads them from stdin, named in
        errors as ``command``'s option; an error names the line of the key at fault
        (:func:`asrkit.utils.config.load_yaml_config`).

        ``given``: the values the command line's flags set over the file's (field -> value). The
        file's values they replace are not read (``--beam 5`` over a file's ``beam: 0`` was refused
        for the 0), and the file's own error (the same with or without the flags) is refused here,
        at its line; the rest is returned without the flags, for the caller to set them and check
        the combination, which its error names."""
        given = dict(given or {})
        file = read_config_file(path, "decoding options", command,
                                {*given, *(("beam_size",) if "beam" in given else ())})  # (ESPnet's name for beam)
        with file.located():
            cfg = cls.from_dict(file.kept, file.where, validate=not given)
            if given:
                try:
                    dataclasses.replace(cfg, **given).validate(file.where)
                except AsrkitError as e:
                    file.raise_if_its_own(e, lambda values: cls.from_dict(values, file.where), file.where)
        return cfg

    @classmethod
    def resolve(cls, config_path: Optional[Union[str, "os.PathLike[str]"]],
                model_path: Optional[Union[str, "os.PathLike[str]"]] = None,
                has_lm: bool = False, given: Optional[Dict[str, Any]] = None) -> Tuple["DecodeConfig", str]:
        """The options a run starts from, before its command-line flags, and where they come from:
        ``config_path`` (``--config``) when given (the whole of it: a file does not merge with the
        model's), else the options packed in ``model_path`` (asrkit-pack-model), else asrkit's
        defaults. A packed ``lm_weight`` applies only when the run has an LM (``has_lm``): the LM
        it was chosen with is not in the model, and "lm_weight is 0.3 but no LM was given" would
        refuse the model's own options. ``given``: the command line's flags, as :meth:`from_yaml` takes them."""
        if config_path:
            return cls.from_yaml(config_path, given=given), (yaml_source(config_path, "asrkit-decode --config")
                                                if reads_stdin(config_path) else f"--config {config_path}")
        packed = None
        if model_path is not None:
            from asrkit.models.package import packed_decode_options  # (torch: only with a model)

            packed = packed_decode_options(model_path)
        if packed is None:
            return cls(), "asrkit's defaults (the model has none packed)"
        model = str(model_path)
        try:
            cfg = cls.from_dict({k: v for k, v in packed.items() if k not in RUNTIME_OPTIONS},
                                f"{model}: its packed decoding options")
        except UnknownKeysError as e:
            # nobody typed them: "<model>: unknown model option 'decode_options.x': ... a newer asrkit"
            raise written_by_newer(model, UnknownKeysError(str(e), e.names, "decode_options")) from None
        source = f"packed in {model}"
        if cfg.lm_weight > 0 and not has_lm:
            source += f" (its lm_weight {cfg.lm_weight:g} is for decoding with an LM; without one, 0)"
            cfg.lm_weight = 0.0
        return cfg, source

    @classmethod
    def with_flags(cls, config_path: Optional[Union[str, "os.PathLike[str]"]],
                   model_path: Optional[Union[str, "os.PathLike[str]"]] = None, has_lm: bool = False,
                   given: Optional[Dict[str, Any]] = None) -> Tuple["DecodeConfig", str]:
        """:meth:`resolve`'s options with the command line's flags ``given`` (field -> value) set over
        them and checked together, and where the options come from: what asrkit-decode and
        asrkit-adapt-speakers run with. An error of the file alone names its line (:meth:`from_yaml`);
        one the flags bring in names both sources: asrkit-adapt-speakers' own copy of this said
        "options: nbest must be in [1, beam], got 0; device must be ..." for a file's nbest: 0
        beside --device gpu, naming no file."""
        given = dict(given or {})
        cfg, source = cls.resolve(config_path, model_path, has_lm=has_lm, given=given)
        for k, value in given.items():
            setattr(cfg, k, value)
        try:
            cfg.validate("options")
        except AsrkitError as e:
            # (packed options with a flag of the run: "nbest must be in [1, beam], got 3" named no 3)
            raise AsrkitError(f"{e} (the options: {source}, then the command line's flags)") from None
        return cfg, source

    def packed(self) -> Dict[str, Any]:
        """The options a model carries (asrkit-pack-model): all but RUNTIME_OPTIONS."""
        return {k: v for k, v in self.to_dict().items() if k not in RUNTIME_OPTIONS}

    def validate(self, where: str = "decode config") -> None:
        problems = non_finite(self)
        if problems:  # NaN passes every comparison below
            raise refusal(f"{where}: ", problems)

        def bad(key: str, text: str) -> None:  # (the key for the line of a file's value)
            problems.append(Problem(text, key))

        if self.mode not in ("beam", "greedy"):
            bad("mode", f"mode must be beam or greedy, got {self.mode!r}")
        if self.beam < 1:
            bad("beam", f"beam must be >= 1, got {self.beam}")
        elif self.beam > MAX_BEAM:
            bad("beam", f"beam must be at most {MAX_BEAM} (each hypothesis is a row of every scorer's state), got "
                        f"{self.beam}")
        if not 0.0 <= self.ctc_weight <= 1.0:
            bad("ctc_weight", f"ctc_weight must be in [0, 1], got {self.ctc_weight}")
        if self.lm_weight < 0:
            bad("lm_weight", f"lm_weight must be >= 0, got {self.lm_weight}")
        # (Against a beam that is itself wrong the nbest bound says nothing: that one is named above.)
        if self.nbest < 1 or (self.mode == "beam" and self.beam >= 1 and self.nbest > self.beam):
            bad("nbest", f"nbest must be in [1, beam], got {self.nbest}")
        elif self.mode == "greedy" and self.nbest > 1:
            # greedy search keeps one hypothesis: --nbest 3 gave one without a word
            bad("nbest", f"nbest must be 1 with mode greedy (one hypothesis), got {self.nbest}")
        if self.eos_threshold is not None and self.eos_threshold < 0:
            bad("eos_threshold", f"eos_threshold must be >= 0 (0: off), got {self.eos_threshold}")
        if self.max_backtrack is not None and self.max_backtrack < 0:
            bad("max_backtrack", f"max_backtrack must be >= 0 (0: off), got {self.max_backtrack}")
        if self.pre_beam_ratio is not None and self.pre_beam_ratio < 0:
            bad("pre_beam_ratio", f"pre_beam_ratio must be >= 0 (0: all tokens), got {self.pre_beam_ratio}")
        if self.batch_size < 1:
            bad("batch_size", f"batch_size must be >= 1, got {self.batch_size}")
        # (a message naming several keys: the line is the first one's that is wrong)
        negative = [k for k in ("maxlenratio", "minlenratio") if getattr(self, k) < 0]
        if negative:
            bad(negative[0], "maxlenratio and minlenratio must be >= 0")
        problems += self._too_large()
        top = self.maxlenratio if self.maxlenratio > 0 else 1.0  # (0: the encoder frames)
        if top < self.minlenratio <= MAX_LENRATIO:
            # output_lengths clamps the minimum to the maximum: <eos> was barred until the last
            # step, so every hypothesis ran to the maximum length ('THRE' decoded as 'THROE')
            bad("minlenratio", f"minlenratio {self.minlenratio:g} is over maxlenratio {self.maxlenratio:g}"
                               + (" (0: 1, the encoder frames)" if self.maxlenratio <= 0 else "")
                               + ": every hypothesis would be forced to the maximum length")
        if self.device not in ("cpu", "cuda", "auto") and not self.device.startswith("cuda:"):
            bad("device", f"device must be cpu, cuda[:N] or auto, got {self.device!r}")
        if self.word_rule not in WORD_RULES:
            bad("word_rule", f"word_rule must be one of {', '.join(WORD_RULES)}, got {self.word_rule!r}")
        if self.segment not in ("auto", "always", "never"):
            bad("segment", f"segment must be auto, always or never, got {self.segment!r}")
        not_positive = [k for k in ("max_segment_s", "segment_window_s") if not getattr(self, k) > 0]
        if not_positive:
            bad(not_positive[0], "max_segment_s and segment_window_s must be > 0")
        elif self.max_segment_s < MIN_SEGMENT_S:
            # pieces shorter than a word: max_segment_s 0.001 cut every recording into fragments
            # of a syllable, decoded to letters and no word
            bad("max_segment_s", f"max_segment_s must be at least {MIN_SEGMENT_S:g} s (a piece holds a word or "
                                 f"more), got {number_text(self.max_segment_s)}")
        negative = [k for k in ("min_pause_s", "segment_pad_s", "segment_context_s") if getattr(self, k) < 0]
        if negative:
            bad(negative[0], "min_pause_s, segment_pad_s and segment_context_s must be >= 0")
        if self.segment_target_s is not None and self.segment_target_s < 0:
            bad("segment_target_s", f"segment_target_s must be >= 0 (0: pieces not joined; null: the model's), "
                                    f"got {number_text(self.segment_target_s)}")
        negative = [k for k in ("edge_pad_s", "edge_min_quiet_s") if getattr(self, k) < 0]
        if negative:
            bad(negative[0], "edge_pad_s and edge_min_quiet_s must be >= 0")
        if not 0.0 < self.edge_quiet_db <= MAX_EDGE_QUIET_DB:
            bad("edge_quiet_db",
                f"edge_quiet_db must be in (0, {MAX_EDGE_QUIET_DB:g}], got {number_text(self.edge_quiet_db)}")
        if not 0.0 < self.pause_blank_prob <= 1.0:
            bad("pause_blank_prob", f"pause_blank_prob must be in (0, 1], got {self.pause_blank_prob}")
        if problems:
            raise refusal(f"{where}: ", problems)

    def _too_large(self) -> List[str]:
        """One problem per option over its upper bound (the bounds above), naming the bound."""
        def over(names, bound, unit=""):
            return over_bounds([(name, getattr(self, name), bound) for name in names], unit)

        problems = (over(SEGMENT_OPTIONS_S, MAX_SEGMENT_OPTION_S, " s (24 h)")
                    + over(("edge_pad_s", "edge_min_quiet_s"), MAX_EDGE_PAD_S, " s")
                    + over(("maxlenratio", "minlenratio"), MAX_LENRATIO, " (output tokens per encoder frame)")
                    + over(("lm_weight", "eos_threshold", "pre_beam_ratio"), MAX_FACTOR)
                    + over(("max_backtrack", "batch_size"), MAX_COUNT))
        if abs(self.penalty) > MAX_FACTOR:
            problems.append(Problem(f"penalty must be in [-{MAX_FACTOR:g}, {MAX_FACTOR:g}], got "
                                    f"{number_text(self.penalty)}",
                                    "penalty"))
        return problems

    def to_dict(self) -> Dict[str, Any]:
        return to_dict(self)

    def to_yaml(self) -> str:
        """The resolved config as YAML (what ``--print-config`` prints and decode.yaml holds)."""
        text = dump_yaml(self.to_dict(), sort_keys=False)
        # null means "chosen by the CTC weight": say what that is, or the printout hides what runs.
        eos, back = self.guards(self.ctc_weight)
        eos0, back0 = self.guards(0.0)
        notes = {"pre_beam_ratio": f"{self.pre_beam():g} in {self.mode} search"}
        for key, now, attention_only in (("eos_threshold", eos, eos0), ("max_backtrack", back, back0)):
            notes[key] = (f"{now:g} (attention only)" if self.ctc_weight == 0 else
                          f"{now:g} at ctc_weight {self.ctc_weight:g}; {attention_only:g} for a model without a CTC head")
        for key, note in notes.items():
            if getattr(self, key) is None:
                text = text.replace(f"\n{key}: null\n", f"\n{key}: null  # in effect: {note}\n", 1)
        return text

    def pre_beam(self) -> float:
        """The pre-beam ratio in effect: the one given, else the default of the search mode."""
        if self.pre_beam_ratio is not None:
            return self.pre_beam_ratio
        return PRE_BEAM_RATIO if self.mode == "beam" else GREEDY_PRE_BEAM_RATIO

    def guards(self, ctc_weight: float) -> Tuple[float, int]:
        """(eos_threshold, max_backtrack) in effect when decoding at ``ctc_weight`` (the one used:
        0 for a model without a CTC head): the values given, else the attention-only defaults."""
        auto = ATTENTION_ONLY_GUARDS if ctc_weight == 0 else (0.0, 0)
        return (auto[0] if self.eos_threshold is None else self.eos_threshold,
                auto[1] if self.max_backtrack is None else self.max_backtrack)

    def search_options(self, ctc_weight: Optional[float] = None):
        """The :class:`asrkit.decoding.beam_search.SearchOptions` of this config; ``ctc_weight``: the
        weight used, when it is not the config's (a model without a CTC head)."""
        from asrkit.decoding.beam_search import SearchOptions

        eos_threshold, _ = self.guards(self.ctc_weight if ctc_weight is None else ctc_weight)
        return SearchOptions(beam=self.beam if self.mode == "beam" else 1, nbest=self.nbest if self.mode == "beam" else 1,
                             penalty=self.penalty, length_norm=self.length_norm, maxlenratio=self.maxlenratio,
                             minlenratio=self.minlenratio, pre_beam_ratio=self.pre_beam(),
                             eos_threshold=eos_threshold)
