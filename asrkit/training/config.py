"""The training configuration: a dataclass tree loaded from YAML, overridable from the command line.

``conf/train.yaml`` has one section per dataclass below::

    model:      {...}            # asrkit.models.las.LASConfig (listener:, attention:, speller:, ...)
    optim:      {name: adam, lr: 0.002, scheduler: warmup, warmup_steps: 1000, grad_clip: 5.0}
    batching:   {max_frames: 30000, num_workers: 0, cache_features: true}
    training:   {max_epochs: 30, patience: 5, keep_best: 5, best_metric: valid_loss}
    finetune:   {init: exp/an4/model.pt, init_modules: [listener], freeze: [listener]}   # optional
    augment:    {speed_factors: [0.9, 1.0, 1.1], noise_scp: null}   # raw-audio dump dirs only

``--set training.max_epochs=3`` overrides one key (the value is read as YAML, so ``3`` is an
int and ``[1, 2]`` a list). An unknown section or key is an error naming its whole path
(``unknown key 'model.listner'``), never ignored: a typo in a config must not train a different
model than the one asked for. Every section is typed, the model's too, so this happens when the
config loads, before any data is read or any process is started.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, ContextManager, Dict, Iterable, List, Optional, Tuple


from asrkit.features.fbank import FbankConfig
from asrkit.models.config import LASConfig, LMConfig
from asrkit.utils.config import (ConfigError, ConfigFile, Problem, UnknownKeysError, Wording, dump_yaml,
                                 errors_at_lines, errors_where_given, from_dict, non_finite, number_text, over_bounds,
                                 parse_yaml, read_config_file, refusal, to_dict, under_bounds)
from asrkit.utils.device import NAMES as DEVICE_NAMES, bad_device_name
from asrkit.utils.errors import AsrkitError, shown
from asrkit.utils.logging import get_logger

log = get_logger(__name__)


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | adadelta
    lr: float = 1e-3  # peak learning rate (after warmup) for adam; 1.0 is usual for adadelta
    betas: Tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-8  # adam; adadelta uses 1e-6 by custom (set it)
    rho: float = 0.95  # adadelta
    weight_decay: float = 0.0
    # none: constant lr; warmup: linear warmup then constant; noam: linear warmup then
    # inverse square root decay (peak = lr at warmup_steps); warmup_linear: linear warmup then
    # linear decay to lr * final_lr_ratio at the last step of max_epochs.
    scheduler: str = "warmup"
    warmup_steps: int = 1000
    final_lr_ratio: float = 0.05
    # What warmup_linear decays over: epochs (to the last step of training.max_epochs) or budget
    # (to the end of training.max_time, by the wall clock, whichever epoch that falls in).
    decay_over: str = "epochs"
    # warmup_linear over epochs: decay over only the last decay_epochs of training.max_epochs,
    # the rate held at lr before them (warmup, hold, decay); 0 decays from the end of warmup.
    # A resumed run of a constant-rate training can so be given a decaying tail.
    decay_epochs: int = 0
    grad_clip: float = 5.0  # max global grad norm; 0 disables clipping
    accum_grad: int = 1  # optimizer step every N batches


@dataclass
class BatchingConfig:
    max_frames: int = 30000  # padded input frames per batch (batch size x longest utterance)
    max_batch_size: int = 0  # 0: no limit besides max_frames
    shuffle: bool = True  # shuffle the order of the length buckets every epoch (seeded)
    num_workers: int = 0  # DataLoader worker processes; 0 reads in the training process
    cache_features: bool = False  # read every feature matrix once and keep it in memory
    max_missing_ratio: float = 0.05  # fail when more utterances than this lack features/text


@dataclass
class AugmentConfig:
    """On-the-fly augmentation of a dump dir of audio (wav.scp): asrkit.training.audio_data.

    Drawn afresh for every utterance each epoch, from (training.seed, epoch, utterance), so a
    resumed run sees the same audio as an uninterrupted one. Refused for dumped features.
    """

    speed_factors: List[float] = field(default_factory=list)  # e.g. [0.9, 1.0, 1.1]: one drawn per utterance
    noise_scp: Optional[str] = None  # a wav.scp of noise recordings (e.g. MUSAN noise) to mix in
    noise_prob: float = 0.5  # probability that an utterance gets noise (with noise_scp)
    noise_snr_db: Tuple[float, float] = (10.0, 20.0)  # SNR drawn uniformly from this range
    # Not drawn, but of the same audio path: audio at another rate than the fbank config's is
    # resampled to it (asrkit-compute-fbank's --resample; asr.sh --feats-type raw --fbank-args
    # --resample sets it); without it such an utterance is a bad one, named and counted.
    resample: bool = False

    @property
    def active(self) -> bool:
        return bool(self.active_keys)

    @property
    def active_keys(self) -> List[str]:
        """The keys that turn augmentation on, for an error that names where they were given (a
        speed_factors of [1.0] beside a noise_scp is not at fault)."""
        return ((["augment.speed_factors"] if self.speed_factors and self.speed_factors != [1.0] else [])
                + (["augment.noise_scp"] if self.noise_scp else []))


@dataclass
class TrainingConfig:
    max_epochs: int = 30
    # Wall-time budget in seconds over every run of this training (0: none): training stops at an
    # epoch boundary when the last epoch's measured time would not fit in what is left; a re-run
    # with a larger budget continues. The first epoch always runs.
    max_time: float = 0.0
    patience: int = 0  # stop after this many epochs without improvement; 0: never stop early
    keep_best: int = 5  # checkpoints kept besides the last one (ranked by best_metric)
    best_metric: str = "valid_loss"  # valid_loss | valid_acc | valid_cer
    log_interval: int = 50  # a log line every this many batches
    amp: bool = True  # bf16 autocast, only on CUDA
    oom_check: bool = True  # run the largest batch once before epoch 1 (CUDA only)
    async_checkpoint: bool = True  # write each checkpoint in a background thread while training goes on
    # Stop with an error after this many updates in a row skipped for a non-finite loss or
    # gradient norm (a diverged model or NaN/Inf data): one is skipped with a warning, ten are
    # not a passing accident, and training on would only write an untrained model.
    max_bad_steps: int = 10
    num_plots: int = 3  # attention plots of the first N dev utterances each epoch
    valid_cer: bool = True  # greedy-decode the dev set each epoch for CER
    seed: int = 1
    device: str = "auto"  # auto | cpu | cuda
    # Scheduled sampling: the probability of feeding the true previous token goes linearly
    # from teacher_forcing_start (epoch 1) to teacher_forcing_end (epoch 1 + decay_epochs).
    teacher_forcing_start: float = 1.0
    teacher_forcing_end: float = 1.0
    teacher_forcing_decay_epochs: int = 10

    def teacher_forcing(self, epoch: int) -> float:
        if self.teacher_forcing_decay_epochs <= 0:
            return self.teacher_forcing_end
        frac = min(1.0, (epoch - 1) / self.teacher_forcing_decay_epochs)
        return self.teacher_forcing_start + frac * (self.teacher_forcing_end - self.teacher_forcing_start)


@dataclass
class FinetuneConfig:
    """Starting from another model's weights (asrkit-train --init, --init-modules, --freeze).

    Module names are dotted paths of the LAS's modules (``listener``, ``speller``, ``ctc``,
    ``attention`` for ``speller.attention``, or finer: ``speller.output``, ``listener.layers.0``);
    see asrkit.training.finetune and docs/training.md.
    """

    init: Optional[str] = None  # a packed model.pt whose weights the model starts from (a fresh run only)
    init_modules: List[str] = field(default_factory=lambda: ["all"])  # what is taken from it; all: everything
    freeze: List[str] = field(default_factory=list)  # modules whose parameters are never updated


@dataclass
class TrainConfig:
    model: LASConfig = field(default_factory=LASConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    # The config file the values came from and the line of each of its keys that no --set replaced
    # (load_config), for errors found after loading (a finetune.init naming no file), without a
    # second read of a file that may have been stdin. Not fields: neither in config.yaml nor compared.
    source: ClassVar[str] = ""
    lines: ClassVar[Dict[str, int]] = {}
    # The dotted key of each override and the option that gave it ("--set 'batching.num_workers=9'",
    # "--seed 5"), in order, for the errors of the training processes (spawned ranks get them pickled).
    sets: ClassVar[List[Tuple[str, str]]] = []

    def to_dict(self) -> Dict[str, Any]:
        return to_dict(self)

    def located(self) -> ContextManager[None]:
        """A ConfigError raised inside, naming :attr:`source`, names the line of its key in the file."""
        return errors_at_lines(self.source, self.lines)

    def given_at(self, keys: Iterable[str]) -> Optional[str]:
        """Where the first of dotted ``keys`` given a value got it: the last option that set it (or a
        section holding it, which a --set replaces whole, defaults and all), else the line of the key
        itself in the file (``conf/train.yaml:12``); None for defaults alone. A default under a
        section the file gives is not named at the section's line: 'conf/train.yaml:3:' pointed at
        'batching:' for a value the user never wrote, and at 'augment:' for an augment error whose
        noise_scp the file gives two lines below."""
        for key in keys:
            option = next((label for k, label in reversed(self.sets) if key == k or key.startswith(k + ".")), None)
            if option is not None:
                return option
            line = self.lines.get(key)
            if line is not None:
                return f"{self.source}:{line}"
        return None

    def given_before(self, key: str) -> str:
        """``where: `` (:meth:`given_at`) for the front of a message or warning about dotted ``key``
        that the run gives once under way, as a :class:`SettingError` gets it; "" for a default."""
        given = self.given_at([key])
        return f"{given}: " if given else ""

    def init_named(self) -> str:
        """finetune.init as the messages about its model name it: ``--init exp/x/model.pt`` (--set
        finetune.init is its other spelling), or the config file's line where the file gave it
        (``conf/train.yaml:8: finetune.init: exp/x/model.pt``), as asrkit-train names one that is
        no model file: "--init <it>: its model takes 40-dim features" named an option the command
        line did not have."""
        line = self.lines.get("finetune.init")  # (none where a --set or --init replaced it)
        return f"{self.source}:{line}: finetune.init: {self.finetune.init}" if line else f"--init {self.finetune.init}"

    def where_given(self) -> ContextManager[None]:
        """A SettingError raised inside (a check made once the run is under way) names where its key
        was given, as the errors found when the config loaded do."""
        return errors_where_given(self.given_at)


# What asrkit-train can pick its best epoch by (asrkit.training.checkpoint.METRICS says which way is better).
ASR_METRICS = ("valid_loss", "valid_acc", "valid_cer")
# "max_epochs: expected a number" as before the shared loader (tests/training pin it); an
# unknown key is named by its path from the top, as it would be written with --set. The LM's
# config (below) words its errors the same way.
_WORDING = Wording(unknown="{source}: unknown key{s} {dotted} (known: {known})",
                   expected={int: "a number (int)", float: "a number (float)"})
# Options that existed once: naming them beats "unknown key" for someone with an old config.
REMOVED = {
    ("training", "max_valid_decode_ratio"): "it never had an effect (validation decodes at most twice the "
                                            "longest reference + 10 tokens); delete it",
}


# Upper bounds no real use comes near (as asrkit.decoding.config's). Only NaN and inf were
# refused, and a huge finite value passed the check and broke training later: optim.lr 1e300
# overflowed float32 at the first optimizer step (a RuntimeError traceback, asrkit-train-lm's
# --lr too), weight_decay the same; eps 1e300 made every update 0 and final_lr_ratio 1e300 grew
# the rate past float32 mid-run; training.max_epochs 1e30 (an int) trained "done about never".
# - The learning rate: what a float32 optimizer parameter can hold (float32 ends at 3.4e38).
#   Inside that a rate that makes training diverge is the user's to try: training.max_bad_steps
#   stops the run naming it (the tests make one diverge with 1e37).
MAX_LR = 1e38
# - Adam's first update is lr / (1 - betas[0]) (its bias correction) times a ratio of about one, so
#   that, not lr alone, must fit float32: lr 1e38 with betas[0] 0.9 is a step of 1e39, and the first
#   optimizer step was a RuntimeError traceback ("value cannot be converted to type float without
#   overflow"; asrkit-train-lm's too), as was lr 1e33 with betas[0] 0.999999.
FLOAT32_MAX = 3.4028234663852886e38
# - optim.eps: at least float32's smallest normal number (a smaller one is 0 or subnormal in the
#   optimizer's float32 state, which a GPU may flush to 0).
FLOAT32_TINY = 1.1754943508222875e-38
# The LM's Adam (asrkit.training.train_lm), which its config does not set.
LM_ADAM_BETAS = (0.9, 0.999)
# - eps and the L2 weight decay: usually 1e-8..1e-6 and 0..1e-2; past 1 they outweigh the
#   gradient itself and the model learns nothing.
MAX_EPS = 1.0
MAX_WEIGHT_DECAY = 1.0
# - Counts of epochs (max_epochs, patience, keep_best, the teacher-forcing decay): a million.
MAX_EPOCHS = 10 ** 6
# - Counts of steps, batches, frames and utterances: a billion (a million epochs of a thousand
#   batches; a batch of 30000 frames is usual).
MAX_COUNT = 10 ** 9
# - The LM's sentences per batch and tokens per sentence: a million.
MAX_LM_TOKENS = 10 ** 6
# - The time budget: 1e8 s, three years.
MAX_TIME_S = 1e8
# - SpecAugment's masks per utterance (2 to ~20 in the literature; each is a pass over the batch,
#   so 1e9 of them hung the first step) and their widths and time warp in frames or bins (a
#   width past float32 overflowed in torch.clamp).
MAX_SPECAUG_MASKS = 1000
MAX_SPECAUG_WIDTH = 10 ** 6
# augment.noise_snr_db: at -300 dB the noise, scaled 1e15 times, overflowed the fbank, and every
# noisy utterance was skipped as "non-finite features; is the audio corrupt?", blaming its
# recording; past 100 dB the noise is below 16-bit quantisation, i.e. none.
MIN_SNR_DB, MAX_SNR_DB = -30.0, 100.0


def _set_named(item: str) -> str:
    """``--set 'section.key=value'`` for an error, cut as a config's values are quoted (a --set of a
    megabyte was quoted whole in its one-line error, where the same value in a file is not)."""
    return f"--set {shown(item)}"


def _parse_override(item: str) -> tuple:
    if "=" not in item:
        raise AsrkitError(f"{_set_named(item)}: expected section.key=value, e.g. training.max_epochs=3")
    key, raw = item.split("=", 1)
    # The loader of the config files, so a value is one line of error too (PyYAML's own message
    # spans five, with a caret under the column) and its aliases cannot expand without bound.
    value = parse_yaml(raw, f"{_set_named(item)}: value", lines=False) if raw.strip() else ""
    path = key.strip().split(".")
    if len(path) < 2 or not all(path):
        raise AsrkitError(f"{_set_named(item)}: expected section.key=value, e.g. training.max_epochs=3")
    # Hydra's and jq's ways to one item of a list (subsample.0, subsample[0]) were "unknown key
    # 'model.listener.subsample[0]'" or a list replaced by {'0': 3} ("must be a non-empty list").
    at = next((i for i, part in enumerate(path) if i and (part.isdigit() or "[" in part)), None)
    if at is not None:
        whole = ".".join(path[:at] + [path[at].split("[")[0]] if "[" in path[at] else path[:at])
        raise AsrkitError(f"{_set_named(item)}: a list is set whole, not item by item: e.g. --set '{whole}=[...]'")
    return path, value


def _is_section(path: List[str]) -> bool:
    """Whether ``path`` (``["model", "listener"]``) names a section of TrainConfig (a dataclass)."""
    cls: Any = TrainConfig
    for part in path:
        if not dataclasses.is_dataclass(cls):
            return False
        hint = typing.get_type_hints(cls).get(part)
        if typing.get_origin(hint) is typing.Union:  # Optional[SpecAugConfig]
            hint = next((a for a in typing.get_args(hint) if a is not type(None)), None)
        cls = hint
    return isinstance(cls, type) and dataclasses.is_dataclass(cls)


def build_config(raw: Optional[Dict[str, Any]], overrides: Iterable[str] = (), where: str = "config",
                 labels: Optional[Dict[str, str]] = None) -> TrainConfig:
    """A TrainConfig from a YAML mapping plus ``section.key=value`` overrides (applied last).

    An error that an override brings in names it, not ``where``: ``--set
    model.listener.hidden=abc`` was reported as ``conf/train.yaml: model.listener.hidden: expected
    a number`` though the file says 128. ``labels`` names an override set by another option
    (``{"training.seed=5": "--seed 5"}``); the rest are named ``--set 'section.key=value'``.
    """
    overrides = list(overrides)
    try:
        return _build_config(raw, overrides, where)
    except AsrkitError as e:
        message = str(e)
        culprit = _culprit(raw, overrides, where, message) if message.startswith(f"{where}: ") else None
        if culprit is None:
            raise
        label = (labels or {}).get(culprit, _set_named(culprit))
        raise ConfigError(f"{label}: {message[len(where) + 2:]}") from None


def _culprit(raw: Optional[Dict[str, Any]], overrides: List[str], where: str, message: str) -> Optional[str]:
    """The override with which ``message`` first appears, applying them in order; None when the
    file alone gives it (or when no prefix gives it: options at fault together). Each prefix is
    tried also without the file's values that the later overrides replace: the file's own 'eps: 0'
    beside an 'lr: abc' that --set optim.lr=0.1 replaced was blamed on the --set (the file alone
    failed on the lr, a message other than the eps's)."""
    for i in range(len(overrides) + 1):
        for file_values in (raw, _without_set(raw, overrides[i:])):
            try:
                _build_config(file_values, overrides[:i], where)
            except AsrkitError as e:
                if str(e) == message:
                    return overrides[i - 1] if i else None
    return None


def _without_set(raw: Optional[Dict[str, Any]], overrides: List[str]) -> Dict[str, Any]:
    """``raw`` (copied where changed) less the values that ``overrides`` replace."""
    raw = dict(raw or {})
    for item in overrides:
        path, node = _set_key(item).split("."), raw
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                break  # (not there, or no section: what the file gives is left as it is)
            node[part] = node = dict(child)
        else:
            node.pop(path[-1], None)
    return raw


def _build_config(raw: Optional[Dict[str, Any]], overrides: Iterable[str], where: str) -> TrainConfig:
    raw = dict(raw or {})
    for item in overrides:
        path, value = _parse_override(item)
        node = raw
        for depth, part in enumerate(path[:-1], 1):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                if _is_section(path[:depth]):
                    # The file's (or an earlier --set's) value is at fault, worded as from_dict words
                    # it: "--set 'training.seed=1': 'training' is not a section" blamed the option
                    # for a file's "training: 3".
                    raise ConfigError(f"{where}: {'.'.join(path[:depth])}: expected a mapping, got {child!r}",
                                      ['.'.join(path[:depth])])
                raise AsrkitError(f"{_set_named(item)}: {part!r} is not a section")
            else:
                child = node[part] = dict(child)
            node = child
        node[path[-1]] = value
    sections = [f.name for f in fields(TrainConfig)]
    for section in raw:
        if section not in sections:
            # (its name as text, as from_dict's unknown keys: a YAML key may be a number, 1: or 1.5:)
            raise UnknownKeysError(f"{where}: unknown section {section!r} (known: {', '.join(sections)})",
                                   [str(section)], where)
    for (section, key), why in REMOVED.items():
        if isinstance(raw.get(section), dict) and key in raw[section]:
            raise ConfigError(f"{where}: {section}.{key} was removed: {why}", [f'{section}.{key}'])
    cfg = from_dict(TrainConfig, raw, where, wording=_WORDING)
    validate(cfg, where)
    return cfg


def validate(cfg: TrainConfig, where: str = "config") -> None:
    o, b, t = cfg.optim, cfg.batching, cfg.training
    if o.name not in ("adam", "adadelta"):
        raise ConfigError(f"{where}: optim.name: {o.name!r} is not one of adam, adadelta", ["optim.name"])
    if o.scheduler not in ("none", "warmup", "noam", "warmup_linear"):
        raise ConfigError(f"{where}: optim.scheduler: {o.scheduler!r} is not one of none, warmup, noam, warmup_linear",
                          ["optim.scheduler"])
    if o.decay_over not in ("epochs", "budget"):
        raise ConfigError(f"{where}: optim.decay_over: {o.decay_over!r} is not one of epochs, budget",
                          ["optim.decay_over"])
    if o.decay_over == "budget" and (o.scheduler != "warmup_linear" or t.max_time <= 0):
        raise ConfigError(f"{where}: optim.decay_over: budget needs optim.scheduler: warmup_linear and a time budget "
                          f"(training.max_time > 0; asr.sh --train-max-time), got scheduler {o.scheduler!r}, "
                          f"max_time {t.max_time:g}", ["optim.decay_over", "optim.scheduler", "training.max_time"])
    # num_plots -5 and teacher_forcing_decay_epochs -1 were taken as 0 without a word. Named one by
    # one with the value, as optim's below, and before the decay_epochs check that reads max_epochs:
    # "training: max_epochs, keep_best, log_interval and max_bad_steps must be >= 1, patience, ..."
    # left the user to find which of seven keys, and max_epochs -1 was reported as
    # "optim.decay_epochs must be in [0, training.max_epochs=-1] ..., got 0", a key nobody set.
    too_small = under_bounds([(f"training.{k}", getattr(t, k), 1, True)
                              for k in ("max_epochs", "keep_best", "log_interval", "max_bad_steps")]
                             + [(f"training.{k}", getattr(t, k), 0, True)
                                for k in ("patience", "num_plots", "teacher_forcing_decay_epochs")])
    if too_small:
        raise refusal(f"{where}: ", too_small)
    # (the range first: -1 was told to need scheduler warmup_linear, which would not have made it one)
    if not 0 <= o.decay_epochs <= t.max_epochs:
        raise ConfigError(f"{where}: optim.decay_epochs must be in [0, training.max_epochs={t.max_epochs}] (the last "
                          f"epochs, over which the rate decays), got {o.decay_epochs}",
                          ["optim.decay_epochs", "training.max_epochs"])
    if o.decay_epochs and (o.scheduler != "warmup_linear" or o.decay_over != "epochs"):
        raise ConfigError(f"{where}: optim.decay_epochs: {o.decay_epochs} needs optim.scheduler: warmup_linear with "
                          f"optim.decay_over: epochs, got scheduler {o.scheduler!r}, decay_over {o.decay_over!r}",
                          ["optim.decay_epochs", "optim.scheduler", "optim.decay_over"])
    # Named one by one with the value: "optim: accum_grad must be >= 1, lr > 0 and warmup_steps >= 0"
    # for an lr of -1 left the user to find which of three keys, in which file or --set, was wrong.
    too_small = under_bounds([("optim.accum_grad", o.accum_grad, 1, True), ("optim.lr", o.lr, 0, False),
                              ("optim.warmup_steps", o.warmup_steps, 0, True)])
    too_small += lr_underflow("optim.lr", o.lr)
    if too_small:
        raise refusal(f"{where}: ", too_small)
    # final_lr_ratio is where warmup_linear decays to: past 1 it is no decay but a rise.
    too_large = over_bounds([("optim.lr", o.lr, MAX_LR), ("optim.eps", o.eps, MAX_EPS),
                            ("optim.weight_decay", o.weight_decay, MAX_WEIGHT_DECAY),
                            ("optim.final_lr_ratio", o.final_lr_ratio, 1),
                            ("optim.warmup_steps", o.warmup_steps, MAX_COUNT),
                            ("optim.accum_grad", o.accum_grad, MAX_COUNT),
                            ("batching.max_frames", b.max_frames, MAX_COUNT),
                            ("batching.max_batch_size", b.max_batch_size, MAX_COUNT),
                            ("training.max_epochs", t.max_epochs, MAX_EPOCHS),
                            ("training.patience", t.patience, MAX_EPOCHS),
                            ("training.keep_best", t.keep_best, MAX_EPOCHS),
                            ("training.teacher_forcing_decay_epochs", t.teacher_forcing_decay_epochs, MAX_EPOCHS),
                            ("training.max_time", t.max_time, MAX_TIME_S),
                            ("training.log_interval", t.log_interval, MAX_COUNT),
                            ("training.max_bad_steps", t.max_bad_steps, MAX_COUNT),
                            ("training.num_plots", t.num_plots, MAX_COUNT)])
    s = cfg.model.specaug
    if s is not None:
        too_large += over_bounds([(f"model.specaug.{k}", getattr(s, k), MAX_SPECAUG_MASKS)
                                 for k in ("freq_masks", "time_masks")])
        too_large += over_bounds([(f"model.specaug.{k}", getattr(s, k), MAX_SPECAUG_WIDTH)
                                 for k in ("freq_width", "time_width", "time_warp")])
    if too_large:
        raise refusal(f"{where}: ", too_large)
    # An eps of 0 (torch takes it) divides 0 by 0 wherever a weight's gradient is 0 at the first step
    # (the embedding row of a token no batch held): its weights went NaN, and the run stopped at
    # epoch 1 blaming optim.lr ("the training diverged"). One below float32's smallest normal number
    # is 0 in the float32 state (1e-320 did the same); Adadelta divides by it as Adam does.
    if o.eps < FLOAT32_TINY:
        raise ConfigError(f"{where}: optim.eps must be > 0 (at least {FLOAT32_TINY:.3g}, float32's smallest normal "
                          f"number; usually 1e-8 for adam, 1e-6 for adadelta): the optimizer divides by it where a "
                          f"gradient is 0, got {number_text(o.eps)}", ["optim.eps"])
    # torch's optimizers refuse these with a ValueError (a traceback) only once the data is read;
    # a negative final_lr_ratio would silently turn the decay into gradient ascent, and a
    # negative grad_clip silently switch clipping off (0 is the documented way).
    # (eps is not among them: checked above, "eps >= 0" here told a user whose betas were wrong a rule
    # for eps that 0 broke)
    # Named one by one, as above: "optim: betas must be in [0, 1), weight_decay >= 0 and rho in
    # [0, 1]" left the user to find which of three keys, and put its error at betas' line.
    bad = [] if all(0 <= b < 1 for b in o.betas) else [Problem(f"optim.betas must be in [0, 1), got {list(o.betas)}",
                                                                "optim.betas")]
    bad += under_bounds([("optim.weight_decay", o.weight_decay, 0, True)])
    if not 0 <= o.rho <= 1:
        bad.append(Problem(f"optim.rho must be in [0, 1], got {number_text(o.rho)}", "optim.rho"))
    if bad:
        raise refusal(f"{where}: ", bad)
    overflow = adam_overflow(o.lr, o.betas[0]) if o.name == "adam" else None
    if overflow:
        raise ConfigError(f"{where}: optim.lr {o.lr:g} with optim.betas[0] {o.betas[0]:g}: {overflow}; lower optim.lr",
                          ["optim.lr", "optim.betas"])
    bad = ([Problem(f"optim.grad_clip must be >= 0 (0: no clipping), got {number_text(o.grad_clip)}",
                    "optim.grad_clip")] if o.grad_clip < 0 else [])
    bad += under_bounds([("optim.final_lr_ratio", o.final_lr_ratio, 0, True)])
    if bad:
        raise refusal(f"{where}: ", bad)
    too_small = under_bounds([("batching.max_frames", b.max_frames, 0, False),
                              ("batching.num_workers", b.num_workers, 0, True),
                              ("batching.max_batch_size", b.max_batch_size, 0, True)])
    if too_small:
        raise refusal(f"{where}: ", too_small)
    # A negative ratio failed every run only once the data was read, with "0 of N utterances lack
    # features or a transcript (more than batching.max_missing_ratio=-1.0)".
    if not 0 <= b.max_missing_ratio <= 1:
        raise ConfigError(f"{where}: batching.max_missing_ratio must be in [0, 1] (the share of utterances that may "
                          f"lack features or a transcript), got {number_text(b.max_missing_ratio)}",
                          ["batching.max_missing_ratio"])
    if t.best_metric not in ASR_METRICS:
        raise ConfigError(f"{where}: training.best_metric: {t.best_metric!r} is not one of {', '.join(ASR_METRICS)}",
                          ["training.best_metric"])
    if t.best_metric == "valid_cer" and not t.valid_cer:
        raise ConfigError(f"{where}: training.best_metric valid_cer needs training.valid_cer: true",
                          ["training.best_metric", "training.valid_cer"])
    if cfg.model.ctc_weight >= 1 and t.best_metric == "valid_acc":
        # The accuracy is the attention decoder's, which a loss of CTC alone never trains: its ties
        # at 0.0 picked epoch 1 for model.pt, exit 0. Refused here, before any data is read (LASTask
        # refused it only once the training and dev sets had been loaded). The two keys at fault
        # together, the message names both; the line is best_metric's, the one to change. (It named
        # no source: a file's two keys were an error of no file.)
        raise ConfigError(f"{where}: training.best_metric valid_acc is the attention decoder's token accuracy, and "
                          f"model.ctc_weight 1 (CTC alone) never trains the decoder: choose the best epoch by "
                          f"valid_loss or valid_cer (greedy decoding by the CTC head alone)",
                          ["training.best_metric", "model.ctc_weight"])
    if t.max_time < 0:
        raise ConfigError(f"{where}: training.max_time must be >= 0 seconds (0: no budget), got "
                          f"{number_text(t.max_time)}",
                          ["training.max_time"])
    out_of_range = [f"training.{k}" for k in ("teacher_forcing_start", "teacher_forcing_end")
                    if not 0 <= getattr(t, k) <= 1]
    if out_of_range:
        raise ConfigError(f"{where}: training.teacher_forcing_start/end must be in [0, 1]", out_of_range)
    # No cuda:N here, unlike decoding's --device: each DDP rank takes the GPU of its local rank, and
    # one fixed GPU would put every rank on it (CUDA_VISIBLE_DEVICES picks GPUs for a training).
    if t.device not in DEVICE_NAMES:
        hint = " (each rank takes the GPU of its local rank; CUDA_VISIBLE_DEVICES picks which)" \
            if str(t.device).startswith("cuda:") else ""
        raise ConfigError(f"{where}: training.device: {t.device!r} is not one of auto, cpu, cuda{hint}",
                          ["training.device"])
    if not fits_a_seed(t.seed):
        raise ConfigError(f"{where}: training.seed must be a 64-bit integer (-2**63 <= seed < 2**63), got {t.seed}",
                          ["training.seed"])
    f = cfg.finetune
    # An empty path read as "none" (a falsy string): 'init: ""' trained from random weights and
    # 'noise_scp: ""' without noise, at exit 0, where the command line refuses an empty --init.
    for key, path in (("finetune.init", f.init), ("augment.noise_scp", cfg.augment.noise_scp)):
        if path is not None and not path.strip():
            raise ConfigError(f"{where}: {key}: {path!r} is an empty path: give a file, or null (or leave the key "
                              f"out) for none", [key])
    for key, names in (("init_modules", f.init_modules), ("freeze", f.freeze)):
        if any(not n or not n.strip() or "," in n for n in names):
            raise ConfigError(f"{where}: finetune.{key}: {names!r}: expected module names such as listener, "
                              f"attention, speller.output (one per list item)", [f"finetune.{key}"])
    if not f.init_modules:
        raise ConfigError(f"{where}: finetune.init_modules is empty: name the modules to take from "
                          f"finetune.init (all: every one)", ["finetune.init_modules"])
    if "all" in f.init_modules and len(f.init_modules) > 1:
        raise ConfigError(f"{where}: finetune.init_modules: 'all' and {', '.join(n for n in f.init_modules if n != 'all')}"
                          f" together: give either all or the modules",
                          ["finetune.init_modules"])
    # Taken from nothing, they were ignored: the run trained from random weights at exit 0, the
    # user believing its listener came from another model. (A resumed run reads no --init either.)
    if not f.init and list(f.init_modules) != ["all"]:
        raise ConfigError(f"{where}: finetune.init_modules {', '.join(f.init_modules)} (--init-modules) without "
                          f"finetune.init (--init MODEL), the model to take them from: the run would train from "
                          f"random weights; give --init, or leave --init-modules out",
                          ["finetune.init_modules", "finetune.init"])
    a = cfg.augment
    if any(not (0.5 <= f <= 2.0) for f in a.speed_factors):
        raise ConfigError(f"{where}: augment.speed_factors must be in [0.5, 2], got {a.speed_factors}",
                          ["augment.speed_factors"])
    if not 0 <= a.noise_prob <= 1:
        raise ConfigError(f"{where}: augment.noise_prob must be in [0, 1], got {a.noise_prob}", ["augment.noise_prob"])
    if not all(MIN_SNR_DB <= v <= MAX_SNR_DB for v in a.noise_snr_db):  # (NaN too: set from Python)
        raise ConfigError(f"{where}: augment.noise_snr_db must be [low, high] within [{MIN_SNR_DB:g}, {MAX_SNR_DB:g}] "
                          f"dB (the speech's power over the noise's: 0 is as loud, -30 a noise 1000 times louder), "
                          f"got {list(a.noise_snr_db)}",
                          ["augment.noise_snr_db"])
    if a.noise_snr_db[0] > a.noise_snr_db[1]:
        raise ConfigError(f"{where}: augment.noise_snr_db must be [low, high], got {list(a.noise_snr_db)}",
                          ["augment.noise_snr_db"])


def lr_underflow(key: str, lr: float) -> List[Problem]:
    """The problem of a learning rate ``lr`` > 0 that float32 cannot hold as a normal number: the
    optimizer's step (lr times a ratio of about one) is then 0 or subnormal, which a GPU flushes
    to 0: optim.lr 1e-320 trained every epoch without changing a weight, and packed the random
    initial model at exit 0."""
    if not 0 < lr < FLOAT32_TINY:
        return []
    return [Problem(f"{key} must be at least {FLOAT32_TINY:.3g} (float32's smallest normal number: a smaller rate "
                    f"changes no weight), got {lr!r}", key)]


def adam_overflow(lr: float, beta1: float) -> Optional[str]:
    """Why Adam's first update at ``lr`` with ``betas[0]`` ``beta1`` (in [0, 1)) cannot be made in
    float32, or None."""
    step = lr / (1 - beta1)
    return (f"Adam's first step is lr / (1 - betas[0]) = {step:g}, more than float32 holds ({FLOAT32_MAX:.3g})"
            if step > FLOAT32_MAX else None)


def fits_a_seed(seed: int) -> bool:
    """Whether torch.manual_seed takes ``seed`` (plus a rank): it refuses what is outside 64 bits
    with a ValueError, only once the data has been read."""
    return -2**63 <= seed < 2**63


def load_config(path: Optional[str], overrides: Iterable[str] = (),
                labels: Optional[Dict[str, str]] = None, command: str = "asrkit-train --config") -> TrainConfig:
    """The config of YAML file ``path`` (None: the defaults) with ``overrides`` (--set's) on top;
    ``-`` (/dev/stdin) reads it from stdin, named in errors as ``command``'s option."""
    overrides = list(overrides)
    if path is None:
        cfg = build_config({}, overrides, labels=labels)
    else:
        # (a key a --set replaced is not at fault at its line; a bad --set is named as itself)
        file = read_config_file(path, "sections (model:, optim:, batching:, training:, finetune:)", command,
                                [_set_key(item) for item in overrides])
        with file.located():
            cfg = build_config(file.values, overrides, where=file.where, labels=labels)
        cfg.source, cfg.lines = file.where, file.lines
    cfg.sets = [(_set_key(item), (labels or {}).get(item, _set_named(item))) for item in overrides]
    return cfg


def _set_key(item: str) -> str:
    """The dotted key of ``--set 'section.key=value'`` (what it is, even malformed: a key to drop)."""
    return item.split("=", 1)[0].strip()


def dump_config(cfg: TrainConfig) -> str:
    return dump_yaml(cfg.to_dict(), sort_keys=False, default_flow_style=None)


def resolve_fbank_config(train_dir: str, explicit: Optional[str]) -> Optional[FbankConfig]:
    """The options the training features were made with, which model.pt carries for decoding audio.

    ``--fbank-config`` when given (asr.sh passes ``dump/<train>/fbank.yaml``); else
    ``<train-dir>/fbank.yaml``, which asrkit-compute-fbank writes beside the feats.scp it makes.
    With neither (features from Kaldi or another tool), None and a warning: the model then
    decodes features (``asrkit-decode --feats``) but not audio. Nothing is guessed from feats.scp.
    """
    if explicit:
        return FbankConfig.from_yaml(explicit, "asrkit-train --fbank-config")
    beside = Path(train_dir) / "fbank.yaml"
    if beside.is_file():
        log.info("feature config for the packed model: %s", beside)
        return FbankConfig.from_yaml(beside)
    if beside.exists() or beside.is_symlink():
        # (it was warned about as "no ... fbank.yaml", and model.pt packed without the options)
        import os

        from asrkit.utils.fileio import not_found_reason, special_kind

        kind = ("a directory" if beside.is_dir() else special_kind(os.stat(beside).st_mode) if beside.exists()
                else not_found_reason(beside))
        raise AsrkitError(f"{beside}: {kind}, not the feature config (asrkit-compute-fbank writes it beside the "
                          f"features); put the options the features were made with there, or give --fbank-config")
    log.warning("no --fbank-config and no %s: model.pt will hold no feature config, so it can decode features "
                "(asrkit-decode --feats) but not audio; pass --fbank-config with the options the features were "
                "made with", beside)
    return None


@dataclass
class LMTrainConfig:
    model: LMConfig = field(default_factory=LMConfig)
    lr: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 20
    patience: int = 3
    dev_ratio: float = 0.05
    grad_clip: float = 5.0
    seed: int = 1
    device: str = "auto"
    # Tokens per training sentence, at most: a longer line (a paragraph or a whole book on one
    # line) is cut into pieces of this length. One 100k-word line was one batch of one LSTM
    # sequence whose activations held the 23 GB machine until it thrashed.
    max_len: int = 400

    @classmethod
    def from_dict(cls, d: Optional[Dict[str, Any]], where: str = "lm config") -> "LMTrainConfig":
        cfg = from_dict(cls, d, where, wording=_WORDING)
        cfg.validate(where)
        return cfg

    @classmethod
    def from_yaml(cls, path, command: str = "asrkit-train-lm --config") -> "LMTrainConfig":
        return cls.load(path, {}, command)

    @classmethod
    def load(cls, path: Optional[str], given: Dict[str, Any],
             command: str = "asrkit-train-lm --config") -> "LMTrainConfig":
        """The config of file ``path`` (None: the defaults) with the command line's values ``given``
        (field -> value) over it, checked once the two are put together: the file's values were
        checked before the command line's replaced them, so ``--max-epochs 3`` could not run a
        file saying ``max_epochs: 0`` (as asrkit-train's --set can), nor ``--lr 0.01`` one whose
        ``lr: abc`` it replaces. An error the file alone has names the file; one the command line
        brings in, "command line"."""
        if not path:
            return cls._load(ConfigFile({}, "lm config"), given)
        file = read_config_file(path, "LM training options", command, given)
        with file.located():
            return cls._load(file, given)

    @classmethod
    def _load(cls, file: ConfigFile, given: Dict[str, Any]) -> "LMTrainConfig":
        # (the file's values that the command line replaces are not read: its type check of them
        # refused a replaced 'lr: abc')
        base = from_dict(cls, file.kept, file.where, wording=_WORDING)
        if not given:
            base.validate(file.where)
            return base
        cfg = dataclasses.replace(base, **given)
        try:
            cfg.validate("command line")
        except AsrkitError as e:
            file.raise_if_its_own(e, lambda values: from_dict(cls, values, file.where, wording=_WORDING).validate(
                file.where), "command line")
            raise e from None
        return cfg

    def validate(self, where: str = "lm config") -> None:
        # The command line's --lr sets the field directly, past from_dict's finite-number check:
        # NaN passes "<= 0" (and torch's Adam then refuses it with a traceback), inf trains to NaN.
        bad = non_finite(self)
        if bad:
            raise refusal(f"{where}: ", bad[:1])
        # Named one by one: "--max-epochs 0" gave "lr, batch_size, max_epochs and max_len must be positive".
        bad = [(k, v) for k, v in (("lr", self.lr), ("batch_size", self.batch_size), ("max_epochs", self.max_epochs),
                                   ("max_len", self.max_len)) if v <= 0]
        if bad:
            raise ConfigError(f"{where}: {' and '.join(k for k, _ in bad)} must be positive, got "
                              f"{', '.join(number_text(v) for _, v in bad)}", [k for k, _ in bad])
        tiny = lr_underflow("lr", self.lr)
        if tiny:
            raise refusal(f"{where}: ", tiny)
        # patience -1 would stop after the first epoch ("-1 epochs without improvement" is always
        # reached); a negative grad_clip would silently switch clipping off.
        if not fits_a_seed(self.seed):
            raise ConfigError(f"{where}: seed must be a 64-bit integer (-2**63 <= seed < 2**63), got {self.seed}",
                              ["seed"])
        # (each named alone: "patience (0: never stop early) and grad_clip (0: no clipping) must be
        # >= 0" put a file's grad_clip: -1 at patience's line, the first key the message named)
        bad = ([Problem(f"patience must be >= 0 (0: never stop early), got {self.patience}", "patience")]
               if self.patience < 0 else [])
        if self.grad_clip < 0:
            bad.append(Problem(f"grad_clip must be >= 0 (0: no clipping), got {number_text(self.grad_clip)}",
                               "grad_clip"))
        if bad:
            raise refusal(f"{where}: ", bad)
        if not 0 <= self.dev_ratio < 1:
            raise ConfigError(f"{where}: dev_ratio must be in [0, 1), got {self.dev_ratio}", ["dev_ratio"])
        # (resolve_device's rule, without torch: "device: gpu" was refused only once the
        # whole text had been read and tokenized, the exp dir's log begun)
        if bad_device_name(self.device):
            raise ConfigError(f"{where}: device must be auto, cpu, cuda or cuda:N, got {self.device!r}", ["device"])
        # The bounds of asrkit-train's options (above): --lr 1e300 was a float32 overflow traceback
        # at the first step. A sentence or a batch of a million tokens or sentences is no longer
        # a cap on memory.
        too_large = over_bounds([("lr", self.lr, MAX_LR), ("max_epochs", self.max_epochs, MAX_EPOCHS),
                                ("patience", self.patience, MAX_EPOCHS), ("batch_size", self.batch_size, MAX_LM_TOKENS),
                                ("max_len", self.max_len, MAX_LM_TOKENS)])
        if too_large:
            raise refusal(f"{where}: ", too_large)
        overflow = adam_overflow(self.lr, LM_ADAM_BETAS[0])
        if overflow:
            raise ConfigError(f"{where}: lr {self.lr:g}: {overflow}; lower lr", ["lr"])

    def to_dict(self) -> Dict[str, Any]:
        return to_dict(self)

