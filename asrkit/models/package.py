"""The packed model ``exp/<name>/model.pt``: everything decoding needs, in one file.

What travels with the weights is one typed record, :class:`PackageMeta`; the file is one
``torch.save``d dict (docs/contracts.md)::

    format: "asrkit-model", version: 1, state_dict,
    model_config (dict), idim, vocab_size, feature_config (dict or None),
    cmvn ((2, D+1) float64 tensor or None), cmvn_norm_vars, tokenizer (bytes or None),
    tokens (list of str), extra (dict)

Only plain types and tensors go in, so the file loads with ``weights_only=True`` and no asrkit
or numpy class is pickled. Every field is checked on reading: a damaged or foreign file is an
:class:`AsrkitError` naming the file and the field, never a traceback. Training writes it
(from a checkpoint's weights and meta, without building a model), decoding reads it; this module
sits below both and imports neither::

    meta = PackageMeta(model_config=LASConfig(), idim=80, vocab_size=30, feature_config=FbankConfig(),
                       cmvn=stats, tokenizer=tok.to_bytes(), tokens=tok.tokens)
    save_package("exp/x/model.pt", model.state_dict(), meta)
    pkg = load_package("exp/x/model.pt", device="cuda")   # pkg.model (eval mode), pkg.meta, pkg.tokenizer
"""
from __future__ import annotations

import dataclasses
import os
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from asrkit.features.fbank import FbankConfig
from asrkit.models.build import model_from_state_dict
from asrkit.models.las import LAS, LASConfig
from asrkit.utils.config import UnknownKeysError, written_by_newer
from asrkit.utils.errors import AsrkitError
from asrkit.utils.torch_files import (check_finite_weights, check_torch_file_path, load_weights_only, other_content,
                                      refuse_non_dense, save_torch, torch_load_quietly)

if TYPE_CHECKING:
    from asrkit.text.tokenizer import Tokenizer

# extra[TRAIN_DURATIONS]: how long the training utterances were, {statistic: seconds} with the
# statistics of DURATION_STATS; decoding joins the pieces of a cut recording up to about that.
TRAIN_DURATIONS = "train_durations_s"
DURATION_STATS = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
MAX_DURATION_S = 24 * 3600.0

# extra[DECODE_OPTIONS]: the decoding options the model is to be decoded with, {option: value}: a
# recipe's conf/decode.yaml, chosen on its dev set, put in by asrkit-pack-model, so that
# `asrkit-decode --model final.pt a.wav` decodes as the recipe did. Only their form is checked
# here; what they mean is the decoding package's to check (asrkit.decoding.config), above this one.
DECODE_OPTIONS = "decode_options"

# extra[UPSAMPLED_RATES]: the sample rates, each below the feature config's, of training
# recordings that were resampled up to it (asrkit-compute-fbank --resample, training's
# augment.resample), sorted; [] for none. Their features' mel bins above the lower rate's Nyquist
# frequency hold only what the resampler left there, and the model learned them so: decoding
# audio resampled up from such a rate leaves those bins as they are instead of giving them the
# training mean. Absent (models packed before it was recorded): not known, the bins are filled.
# The CMVN stats cannot tell (measured: with 200 AN4 and 200 8 kHz FSDD recordings, 13 % of the
# frames, the top bins' standard deviation is at most 1.25 times the median bin's; AN4-only models
# reach 1.12).
UPSAMPLED_RATES = "upsampled_rates"

FORMAT = "asrkit-model"
VERSION = 1
REQUIRED = ("format", "version", "model_config", "idim", "vocab_size", "state_dict")


@dataclass
class PackageMeta:
    """What model.pt holds besides the weights: how to rebuild the model and feed it.

    ``feature_config`` None: the model decodes features only (``--feats``), not audio.
    ``cmvn``: Kaldi stats (2, idim+1) float64 applied before the model, or None.
    ``tokenizer``: the sentencepiece model bytes, or None (then ``tokens`` spell the output).
    ``extra``: free-form facts from training (epochs packed or averaged, their metrics).
    """

    model_config: LASConfig
    idim: int
    vocab_size: int
    feature_config: Optional[FbankConfig] = None
    cmvn: Optional[np.ndarray] = None
    cmvn_norm_vars: bool = True
    tokenizer: Optional[bytes] = None
    tokens: List[str] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tokens and len(self.tokens) != self.vocab_size:
            raise AsrkitError(f"{len(self.tokens)} tokens but the model has vocab_size {self.vocab_size}")
        if self.feature_config is not None and self.feature_config.dim != self.idim:
            # every utterance would fail, one by one, after its audio was read and featurized
            raise AsrkitError(f"feature_config makes {self.feature_config.dim}-dim features, but the model "
                              f"takes idim {self.idim}")
        if self.cmvn is not None:
            self.cmvn = np.asarray(self.cmvn, dtype=np.float64)
            if self.cmvn.shape != (2, self.idim + 1):
                raise AsrkitError(f"CMVN stats of shape {self.cmvn.shape} do not fit {self.idim}-dim features "
                                  f"(expected (2, {self.idim + 1}))")
            # NaN, a frame count below 1: every utterance failed on "the model's CMVN stats: ...",
            # which named no file (what a damaged or hand-edited model.pt gave); every variance 0
            # decoded to wrong text with exit 0 and one flooring warning.
            from asrkit.features.cmvn import cmvn_transform

            cmvn_transform(self.cmvn, self.cmvn_norm_vars, "CMVN stats", warn=False)

    def replace(self, **changes: Any) -> "PackageMeta":
        return dataclasses.replace(self, **changes)

    def train_duration_s(self, stat: str) -> Optional[float]:
        """A statistic (DURATION_STATS) of the training utterances' durations in seconds, or None
        for a model packed without them (before asrkit-train wrote them)."""
        value = self.extra.get(TRAIN_DURATIONS, {}).get(stat)
        return None if value is None else float(value)

    @property
    def upsampled_rates(self) -> Optional[List[int]]:
        """The rates of training recordings resampled up to the model's (UPSAMPLED_RATES), or
        None where the package does not say."""
        rates = self.extra.get(UPSAMPLED_RATES)
        return None if rates is None else sorted(int(r) for r in rates)

    @property
    def decode_options(self) -> Optional[Dict[str, Any]]:
        """The decoding options packed with the model (asrkit-pack-model), or None."""
        options = self.extra.get(DECODE_OPTIONS)
        return None if options is None else dict(options)

    def to_dict(self) -> Dict[str, Any]:
        """The file's fields (no format, version or weights): tensors, bytes and plain types only."""
        return {
            "model_config": self.model_config.to_dict(),
            "idim": int(self.idim),
            "vocab_size": int(self.vocab_size),
            "feature_config": self.feature_config.to_dict() if self.feature_config is not None else None,
            "cmvn": None if self.cmvn is None else torch.from_numpy(np.array(self.cmvn, dtype=np.float64)),
            "cmvn_norm_vars": bool(self.cmvn_norm_vars),
            "tokenizer": bytes(self.tokenizer) if self.tokenizer is not None else None,
            "tokens": list(self.tokens),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str) -> "PackageMeta":
        """The meta of a model.pt (or a checkpoint's copy of it), every field's type checked.

        ``where`` names the file in errors: ``<where>: damaged asrkit model: <field> ...``.
        """
        def bad(what: str) -> AsrkitError:
            return AsrkitError(f"{where}: damaged asrkit model: {what}")

        def typed(key: str, types, what: str, optional: bool = False) -> Any:
            value = d.get(key)
            if value is None and optional:
                return None
            if not isinstance(value, types) or (isinstance(value, bool) and types is int):  # True is an int
                raise bad(f"{key} is {_show(value)}, expected {what}")
            return value

        idim = typed("idim", int, "a positive integer")
        vocab_size = typed("vocab_size", int, "a positive integer")
        if idim < 1 or vocab_size < 2:
            raise bad(f"idim {idim} / vocab_size {vocab_size}: expected idim >= 1, vocab_size >= 2")
        # (typed's errors are already worded; inside the try they were worded twice:
        # "m.pt: damaged asrkit model: m.pt: damaged asrkit model: feature_config is 'fbank' ...")
        model_dict = typed("model_config", dict, "a mapping")
        fbank = typed("feature_config", dict, "a mapping", optional=True)
        try:
            model_config = LASConfig.from_dict(model_dict)
            feature_config = FbankConfig.from_dict(fbank, "feature_config") if fbank is not None else None
        except UnknownKeysError as e:
            raise written_by_newer(where, e) from None
        except (ValueError, AsrkitError) as e:
            raise bad(str(e)) from None
        cmvn = typed("cmvn", torch.Tensor, "a (2, idim+1) tensor", optional=True)
        # (a sparse or meta one was a TypeError traceback from .numpy(); a complex one lost its
        # imaginary part with a warning)
        if cmvn is not None and (cmvn.layout != torch.strided or cmvn.is_meta or cmvn.is_complex()):
            kind = "meta-device" if cmvn.is_meta else cmvn.layout if cmvn.layout != torch.strided else cmvn.dtype
            raise bad(f"cmvn is a {kind} tensor, expected a dense real one")
        tokenizer = typed("tokenizer", (bytes, bytearray), "sentencepiece model bytes", optional=True)
        tokens = typed("tokens", list, "a list of strings", optional=True) or []
        if not all(isinstance(t, str) for t in tokens):
            raise bad("tokens: expected a list of strings")
        # Without a tokenizer the tokens, joined by spaces, are the text: a token holding a space
        # or a newline would split a text line, an empty one or two alike would spell nothing
        # or the wrong word (silently; sentencepiece pieces use U+2581, never whitespace).
        seen: Dict[str, int] = {}
        for i, t in enumerate(tokens):
            if not t or any(c.isspace() or unicodedata.category(c) == "Cc" for c in t):
                raise bad(f"tokens: token {i} is {t!r}, empty or holding whitespace or a control character")
            if t in seen:
                raise bad(f"tokens: token {i} is {t!r}, as token {seen[t]} is")
            seen[t] = i
        norm_vars = d.get("cmvn_norm_vars", True)
        if not isinstance(norm_vars, bool):
            raise bad(f"cmvn_norm_vars is {_show(norm_vars)}, expected true or false")
        extra = dict(typed("extra", dict, "a mapping", optional=True) or {})
        durations = extra.get(TRAIN_DURATIONS)
        if durations is not None and not (isinstance(durations, dict) and all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                and 0 < v <= MAX_DURATION_S for k, v in durations.items())):  # (NaN fails 0 < v)
            raise bad(f"extra: {TRAIN_DURATIONS} is {_show(durations)}, expected a mapping of statistics to "
                      f"seconds in (0, {MAX_DURATION_S:g}]")
        rates = extra.get(UPSAMPLED_RATES)
        if rates is not None:
            problem = upsampled_rates_problem(rates, feature_config)
            if problem:
                raise bad(f"extra: {UPSAMPLED_RATES}: {problem}")
        problem = decode_options_problem(extra[DECODE_OPTIONS]) if DECODE_OPTIONS in extra else None
        if problem:
            raise bad(f"extra: {DECODE_OPTIONS} {problem}")
        try:
            return cls(model_config=model_config, idim=idim, vocab_size=vocab_size, feature_config=feature_config,
                       cmvn=None if cmvn is None else cmvn.double().numpy(), cmvn_norm_vars=norm_vars,
                       tokenizer=bytes(tokenizer) if tokenizer is not None else None, tokens=list(tokens),
                       extra=extra)
        except AsrkitError as e:
            raise bad(str(e)) from None


def upsampled_rates_problem(rates: Any, feature_config: Optional[FbankConfig]) -> Optional[str]:
    """What is wrong with ``rates`` as extra[UPSAMPLED_RATES] of a model with ``feature_config``, or None."""
    if not isinstance(rates, list) or not all(isinstance(r, int) and not isinstance(r, bool) for r in rates):
        return f"{_show(rates)} is not a list of sample rates in Hz"
    if rates and feature_config is None:
        return "rates given for a model that holds no feature config (it reads no audio)"
    wrong = [r for r in rates if not 0 < r < feature_config.sample_frequency] if rates else []
    if wrong:
        return (f"{wrong[0]} Hz is not below the feature config's {int(feature_config.sample_frequency)} Hz "
                f"(only rates of audio resampled up to it belong there)")
    return None


def with_upsampled_rates(meta: PackageMeta, rates: List[int], where: str) -> PackageMeta:
    """``meta`` with extra[UPSAMPLED_RATES] = ``rates`` (sorted, once each); AsrkitError naming
    ``where`` (the model file) when they do not fit its feature config."""
    rates = sorted(set(int(r) for r in rates))
    problem = upsampled_rates_problem(rates, meta.feature_config)
    if problem:
        raise AsrkitError(f"{where}: upsampled rates: {problem}")
    return meta.replace(extra={**meta.extra, UPSAMPLED_RATES: rates})


@dataclass
class Package:
    """A loaded model.pt: the model (eval mode, on the requested device), its meta and tokenizer."""

    model: LAS
    meta: PackageMeta
    tokenizer: Optional["Tokenizer"]  # built from meta.tokenizer; None when the file holds none

    @property
    def tokens(self) -> List[str]:
        """The output symbols in id order (the tokenizer's when the file lists none)."""
        return self.meta.tokens or (self.tokenizer.tokens if self.tokenizer is not None else [])


def save_package(path: Union[str, os.PathLike], state_dict: Mapping[str, torch.Tensor], meta: PackageMeta) -> None:
    """Write ``state_dict`` (a LAS's weights) and ``meta`` to ``path`` atomically."""
    blob = {"format": FORMAT, "version": VERSION, **meta.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}}
    save_torch(blob, path)


def read_package_dict(path: Union[str, os.PathLike]) -> Dict[str, Any]:
    """The raw dict of a model.pt, checked to be one; AsrkitError naming the file otherwise."""
    check_torch_file_path(path, "a model", "model.pt")  # (a user may point at the exp dir)
    return package_dict(load_weights_only(path, "asrkit model"), path)


def package_dict(blob: Any, path: Union[str, os.PathLike]) -> Dict[str, Any]:
    """:func:`read_package_dict`'s checks of what was read from ``path``."""
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        other = blob.get("format") if isinstance(blob, dict) else None
        # asrkit's other torch files, named with what to give instead (the checkpoint's name
        # is a literal, as below the training package this module must not import it)
        if other == "asrkit-checkpoint" and blob.get("package_format") == "asrkit-lm":
            # asrkit-train-lm's checkpoints share the format; pointing at asrkit-train and
            # asrkit-average (which refuses LM checkpoints) sent the user the wrong way
            raise AsrkitError(f"{path}: an asrkit-train-lm checkpoint (of an LM), not an acoustic model: give the "
                              f"model.pt of asrkit-train, and the LM's lm.pt (in its exp dir) as the LM (--lm)")
        if other == "asrkit-checkpoint":
            raise AsrkitError(f"{path}: an asrkit-train checkpoint, not a packed model: give the model.pt "
                              f"asrkit-train wrote in the exp dir, or pack checkpoints with asrkit-average")
        if other == "asrkit-lm":
            raise AsrkitError(f"{path}: an asrkit LM (asrkit-train-lm), not an acoustic model (asrkit-decode and the "
                              "Transcriber take it as the LM: --lm, lm=)")
        raise AsrkitError(f"{path}: not an asrkit model ({other_content(blob, FORMAT)})")
    missing = [k for k in REQUIRED if k not in blob]
    if missing:
        raise AsrkitError(f"{path}: damaged asrkit model, missing {', '.join(missing)}")
    version = blob["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise AsrkitError(f"{path}: damaged asrkit model: version is {_show(version)}, expected an integer >= 1")
    if version > VERSION:
        raise AsrkitError(f"{path}: model format version {version} is newer than this asrkit "
                          f"reads ({VERSION}); upgrade asrkit")
    weights = blob["state_dict"]
    if not isinstance(weights, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in weights.items()):
        raise AsrkitError(f"{path}: damaged asrkit model: state_dict is not a mapping of names to tensors")
    refuse_non_dense(weights, f"{path}: damaged asrkit model")  # (before anything reads the values)
    return blob


def read_package(path: Union[str, os.PathLike]) -> Tuple[PackageMeta, Dict[str, torch.Tensor]]:
    """The meta and the weights of a model.pt, every field checked and every weight finite, without
    building the model (asrkit-pack-model copies them; load_package builds it)."""
    blob = read_package_dict(path)
    meta = PackageMeta.from_dict(blob, str(path))
    check_finite_weights(blob["state_dict"], f"{path}: damaged asrkit model")
    return meta, blob["state_dict"]


def load_package(path: Union[str, os.PathLike], device: Union[str, torch.device] = "cpu") -> Package:
    """Rebuild the model (eval mode, on ``device``) and its tokenizer from model.pt."""
    meta, weights = read_package(path)
    return build_package(meta, weights, path, device)


def build_package(meta: PackageMeta, weights: Dict[str, torch.Tensor], path: Union[str, os.PathLike],
                  device: Union[str, torch.device] = "cpu") -> Package:
    """:func:`load_package`'s model and tokenizer from what :func:`read_package` read of ``path``
    (named in errors): every check decoding makes of a model file."""
    model = model_from_state_dict(lambda: LAS(meta.idim, meta.vocab_size, meta.model_config), weights, str(path))
    model.to(device).eval()
    tokenizer = None
    if meta.tokenizer is not None:
        from asrkit.text.tokenizer import Tokenizer  # lazily: the text package sits beside, not below

        try:
            tokenizer = Tokenizer.from_bytes(meta.tokenizer)
        except AsrkitError as e:
            raise AsrkitError(f"{path}: damaged tokenizer in the model: {e}") from None
        # Another tokenizer than the model was trained with spells its output ids as other
        # pieces: garbage text with exit 0, or "token id 10 out of range" at the first
        # utterance, which named neither the model nor its tokenizer.
        if tokenizer.vocab_size != meta.vocab_size:
            raise AsrkitError(f"{path}: damaged asrkit model: its tokenizer has {tokenizer.vocab_size} tokens, "
                              f"its output layer {meta.vocab_size}")
        if meta.tokens and meta.tokens != tokenizer.tokens:
            first = next(i for i, (a, b) in enumerate(zip(meta.tokens, tokenizer.tokens)) if a != b)
            raise AsrkitError(f"{path}: damaged asrkit model: its token list differs from its tokenizer's "
                              f"(token {first}: {meta.tokens[first]!r} vs {tokenizer.tokens[first]!r})")
    return Package(model=model, meta=meta, tokenizer=tokenizer)


def decode_options_problem(options: Any) -> Optional[str]:
    """What is wrong with the form of packed decoding options (a mapping of option names to plain
    values), or None."""
    if not isinstance(options, dict):
        return f"is {_show(options)}, expected a mapping of decoding options"
    for key, value in options.items():
        if not isinstance(key, str) or not (value is None or isinstance(value, (bool, int, float, str))):
            return f"has {_show(key)}: {_show(value)}, expected option names with plain values"
    return None


def packed_decode_options(path: Union[str, os.PathLike]) -> Optional[Dict[str, Any]]:
    """The decoding options packed in model file ``path``, or None: read before the model is, as
    they decide the device it loads onto. The weights are mapped, not read. A file that cannot be
    read so gives None: loading it as a model names what is wrong with it."""
    if not os.path.isfile(path):  # (a FIFO would wait for a writer)
        return None
    blob = None
    for mmap in (True, False):  # (a file system that cannot map files: read it)
        try:
            blob = torch_load_quietly(path, mmap=mmap)
            break
        except Exception:
            continue
    if not isinstance(blob, dict) or blob.get("format") != FORMAT or not isinstance(blob.get("extra"), dict):
        return None
    options = blob["extra"].get(DECODE_OPTIONS)
    if options is None:
        return None
    problem = decode_options_problem(options)
    if problem:
        raise AsrkitError(f"{path}: damaged asrkit model: extra: {DECODE_OPTIONS} {problem}")
    return dict(options)


def _show(value: Any) -> str:
    """A wrong value for a message: its repr (shortened) and its type."""
    text = repr(value)
    return f"{text[:40] + '...' if len(text) > 40 else text} (a {type(value).__name__})"


def duration_stats(seconds: np.ndarray) -> Dict[str, float]:
    """extra[TRAIN_DURATIONS] of utterances lasting ``seconds`` (an empty array: {})."""
    seconds = np.asarray(seconds, dtype=np.float64)
    seconds = seconds[(seconds > 0) & (seconds <= MAX_DURATION_S)]
    if seconds.size == 0:
        return {}
    return {k: round(float(np.percentile(seconds, q)), 3) for k, q in DURATION_STATS.items()}
