"""Fine-tuning: start a LAS from a packed model's (or a checkpoint's) weights (``--init``) and keep modules fixed (``--freeze``).

Modules are named by their dotted path in the model, as ``model.named_parameters()`` spells
them: the top-level ``listener``, ``speller``, ``ctc``, the shorthand ``attention`` for
``speller.attention``, or any finer module (``speller.output``, ``speller.cells``,
``listener.layers.0``). A name covers every parameter under it.

    meta, weights = read_init_model("exp/an4/model.pt")
    taken = init_from(model, meta, weights, "exp/an4/model.pt", ["listener"], tokens, feats="dump/train")
    frozen = freeze(model, ["listener"])         # requires_grad False; the optimizer never sees them

What may be reused (one-line errors otherwise, naming the init model and what differs):
- the features must have the same dimension (``idim``). When the listener is taken, the feature
  options that set what a feature dim means (``MEANING_OPTIONS``: sample rate, frame length and
  shift, mel bins, low/high frequency, energy, log, power, VTLN warp) must be the same, and so must
  the normalisation: an init model with CMVN stats needs --cmvn, with the same norm_vars. Other
  fbank options (dither, window, pre-emphasis...) that differ are a warning; so is an init model
  without CMVN stats met with --cmvn, and this run's stats (another corpus's: normal in
  fine-tuning; the new model packs them) whose means lie more than ``CMVN_SHIFT_WARN`` of the init
  stats' std away from the init model's, or whose std is more than twice or less than half its;
- the parameters indexed by token id (``LAS.TOKEN_MODULES``: ``speller.embed``,
  ``speller.output``, ``ctc``) are taken only when both models have the same token list;
  every other module may come from a model of another tokenizer;
- every parameter taken must exist in the init model with the same shape (the same sizes in
  the config's model section for the modules reused).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from asrkit.features.fbank import FbankConfig
from asrkit.models.las import LAS
from asrkit.models.package import PackageMeta, package_dict
from asrkit.training import checkpoint as ckpt
from asrkit.utils.config import dict_diff
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger
from asrkit.utils.torch_files import check_finite_weights, check_torch_file_path, load_weights_only

log = get_logger(__name__)

ALIASES = {"attention": "speller.attention"}
TOP_LEVEL = "listener, speller, attention (speller.attention), ctc"


def _under(name: str, prefixes: Sequence[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def resolve_modules(model: nn.Module, names: Sequence[str], option: str) -> List[str]:
    """The dotted module paths ``names`` stand for in ``model`` (aliases resolved); an unknown
    name, or one without parameters, is an error naming ``option``."""
    modules = dict(model.named_modules())
    out = []
    for name in names:
        path = ALIASES.get(name.strip(), name.strip())
        module = modules.get(path) if path else None
        if module is None or next(module.parameters(), None) is None:
            why = "has no parameters" if module is not None else "is not a module of this model"
            raise AsrkitError(f"{option} {name}: {why} (top level: {TOP_LEVEL}; finer: a dotted path such as "
                              f"speller.output or listener.layers.0)")
        if path not in out:
            out.append(path)
    return out


def read_init_model(path: str) -> Tuple[PackageMeta, Dict[str, Tensor]]:
    """The meta and weights of a packed model.pt, or of a training checkpoint (no model is built).

    A checkpoint (``exp/x/checkpoints/epoch<N>.pt``) holds the same meta as the model it would be
    packed into, so either is a starting point; an LM checkpoint is refused.
    """
    # (a directory: a user pointing at the exp dir, not at its model.pt)
    check_torch_file_path(path, "a model", "model.pt")
    blob = load_weights_only(path, "asrkit model or training checkpoint")  # read once, checked as either
    if isinstance(blob, dict) and blob.get("format") == ckpt.FORMAT:
        state = ckpt.checkpoint_dict(blob, Path(path))
        return ckpt.package_meta(state, Path(path)), state["model"]
    blob = package_dict(blob, path)
    return PackageMeta.from_dict(blob, str(path)), blob["state_dict"]


def package_tokens(meta: PackageMeta) -> List[str]:
    """A package's output symbols in id order (its tokenizer's when it lists none)."""
    if meta.tokens or meta.tokenizer is None:
        return list(meta.tokens)
    from asrkit.text.tokenizer import Tokenizer

    return list(Tokenizer.from_bytes(meta.tokenizer).tokens)


def _first_difference(a: Sequence[str], b: Sequence[str]) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"id {i} is {x!r} there, {y!r} here"
    return f"{len(a)} tokens there, {len(b)} here"


# Options that move a feature dim to other frequencies or times, or put it on another scale: a
# listener trained on one setting sees other inputs under another (FbankConfig's other options,
# dither, window, pre-emphasis, edges, only reshape them a little).
MEANING_OPTIONS = ("sample_frequency", "frame_length", "frame_shift", "num_mel_bins", "low_freq", "high_freq",
                   "use_energy", "htk_compat", "use_log_fbank", "use_power", "vtln_warp")
# Two corpora's own stats differ: AN4 at 8 kHz and FSDD (egs/fsdd's --init-listener) by at most
# 0.57 std per dim. A whole std or more is rather stats of other features, or a level shift the
# listener will have to unlearn.
CMVN_SHIFT_WARN = 1.0


def fbank_differences(theirs: FbankConfig, ours: FbankConfig) -> Tuple[List[str], List[str]]:
    """(differences that change what the features mean, other differences), as ``key: old -> new``."""
    a, b = theirs.to_dict(), ours.to_dict()
    # (high_freq <= 0 is an offset from Nyquist: 0 and 4000 are the same edge at 8 kHz)
    a["high_freq"], b["high_freq"] = theirs.high_edge, ours.high_edge
    diff = dict_diff(a, b)
    meaning = [d for d in diff if d.split(":")[0] in MEANING_OPTIONS]
    return meaning, [d for d in diff if d not in meaning]


def check_fbank_matches(theirs: FbankConfig, ours: FbankConfig, refusal: Callable[[str], str],
                        warning: Callable[[str], str], logger: logging.Logger = log) -> None:
    """Features made with ``ours`` against features made with ``theirs`` (the init model's against
    this run's, the training set's against the dev set's or --fbank-config): AsrkitError(refusal(d))
    where they differ in what a dim means, a warning(d) on ``logger`` (the caller's, which the log line
    names) where in other options only; ``d``: the differences, ``key: old -> new`` joined by '; '."""
    meaning, other = fbank_differences(theirs, ours)
    if meaning:
        raise AsrkitError(refusal("; ".join(meaning)))
    if other:
        logger.warning("%s", warning("; ".join(other)))


def check_features(meta: PackageMeta, path: str, idim: int, fbank: Optional[FbankConfig], feats: str,
                   listener: bool = True, named: Optional[str] = None) -> None:
    """The init model's features against this run's (``fbank``: None where unknown); ``listener``:
    whether the listener is taken (only it sees the features). ``named``: the init model as the
    messages name it (:func:`apply`), ``--init <path>`` by default."""
    named = named or f"--init {path}"
    if meta.idim != idim:
        raise AsrkitError(f"{named}: its model takes {meta.idim}-dim features, {feats} has {idim}-dim ones: "
                          f"fine-tuning needs features made with the same number of bins")
    if not listener or meta.feature_config is None:
        return
    if fbank is None:
        log.warning("%s: its features' options (%s Hz, %s ms shift, %d bins) cannot be compared with "
                    "these, whose options are not known (give --fbank-config with the options %s was made with)",
                    named, f"{meta.feature_config.sample_frequency:g}", f"{meta.feature_config.frame_shift:g}",
                    meta.feature_config.num_mel_bins, feats)
        return
    check_fbank_matches(
        meta.feature_config, fbank,
        lambda d: (f"{named}: its listener learnt from features made with other options than {feats} ({d}): "
                   f"the same dim would mean other frequencies or times; make the features with its options "
                   f"(asrkit-compute-fbank --config), or leave the listener out of --init-modules"),
        lambda d: (f"{named}: its features were made with other options than these ({d}): the listener will "
                   f"see features a little unlike the ones it learnt from"))


def _mean_std(stats: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    n = max(float(stats[0, -1]), 1.0)
    mean = stats[0, :-1] / n
    return mean, np.sqrt(np.maximum(stats[1, :-1] / n - mean ** 2, 1e-10))


def check_cmvn(meta: PackageMeta, path: str, cmvn: Optional[np.ndarray], norm_vars: bool,
               cmvn_path: Optional[str], listener: bool = True, named: Optional[str] = None) -> None:
    """The init model's CMVN (``meta.cmvn``, ``meta.cmvn_norm_vars``) against this run's (``cmvn``
    from ``cmvn_path``, ``norm_vars``): a listener trained on normalised features must get
    normalised ones, the same way; another corpus's stats are expected, and said (once).
    ``named``: as :func:`check_features`'s."""
    named = named or f"--init {path}"
    if not listener or (meta.cmvn is None and cmvn is None):
        return
    if cmvn is None:
        raise AsrkitError(f"{named}: its listener learnt from features normalised with CMVN stats (packed in "
                          f"it, norm_vars {str(meta.cmvn_norm_vars).lower()}), and this run has no --cmvn: it would "
                          f"see features that are not; give --cmvn (this corpus's stats, asrkit-compute-cmvn), or "
                          f"leave the listener out of --init-modules")
    if meta.cmvn is None:
        log.warning("%s: its model packs no CMVN stats (its listener learnt from features without CMVN, or "
                    "it was packed without them), and this run normalises with --cmvn %s: the listener will see "
                    "inputs on another scale", named, cmvn_path)
        return
    if bool(meta.cmvn_norm_vars) != bool(norm_vars):
        raise AsrkitError(f"{named}: its listener learnt from features whose CMVN "
                          f"{'normalised variances too' if meta.cmvn_norm_vars else 'removed the means only'} "
                          f"(cmvn_norm_vars {str(meta.cmvn_norm_vars).lower()}), this run gives --norm-vars "
                          f"{str(norm_vars).lower()}: give --norm-vars {str(meta.cmvn_norm_vars).lower()}")
    m0, s0 = _mean_std(np.asarray(meta.cmvn, dtype=np.float64))
    m1, s1 = _mean_std(np.asarray(cmvn, dtype=np.float64))
    shift = np.abs(m1 - m0) / s0
    ratio = s1 / s0
    d, r = int(np.argmax(shift)), int(np.argmax(np.abs(np.log(ratio))))
    said = (f"means differ by up to {shift[d]:.2f} of its std (dim {d}: {m0[d]:.2f} there, {m1[d]:.2f} here), "
            f"stds by a factor {ratio[r]:.2f} at most (dim {r})")
    if shift[d] > CMVN_SHIFT_WARN or not 0.5 <= ratio[r] <= 2.0:
        log.warning("%s: its CMVN stats and --cmvn %s are far apart (%s): is --cmvn of these features? "
                    "The new model packs --cmvn's stats", named, cmvn_path, said)
    elif not np.array_equal(np.asarray(meta.cmvn), np.asarray(cmvn)):
        log.info("%s: its CMVN stats are not --cmvn %s (%s); the new model packs --cmvn's", named, cmvn_path,
                 said)


def init_from(model: LAS, meta: PackageMeta, weights: Dict[str, Tensor], path: str, modules: Sequence[str],
              tokens: Sequence[str], lang: str = "the tokenizer", named: Optional[str] = None) -> List[str]:
    """Copy the init model's weights of ``modules`` (``["all"]``: every parameter) into ``model``.

    ``tokens`` is this run's token list (from ``lang``); returns the names of the tensors taken.
    Raises AsrkitError, before changing anything, when a tensor is missing, of another shape, or
    tied to a token list that differs. ``named``: as :func:`check_features`'s.
    """
    named = named or f"--init {path}"
    own = model.state_dict()
    every = list(modules) == ["all"]
    prefixes = [] if every else resolve_modules(model, modules, "--init-modules")
    names = [k for k in own if every or _under(k, prefixes)]
    tied = [p for p in model.TOKEN_MODULES if any(_under(k, [p]) for k in names)]
    if tied:
        theirs = package_tokens(meta)
        if theirs != list(tokens):
            raise AsrkitError(f"{named}: its token list is not this run's ({lang}: "
                              f"{_first_difference(theirs, tokens)}); {', '.join(tied)} are tied to token ids and "
                              f"cannot be reused: take only modules without them, e.g. --init-modules "
                              f"listener,attention,speller.cells")
    missing = [k for k in names if k not in weights]
    if missing:
        raise AsrkitError(f"{named}: its model has no {missing[0]}{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}"
                          f": leave that module out of --init-modules")
    for k in names:
        if tuple(weights[k].shape) != tuple(own[k].shape):
            diff = dict_diff(meta.model_config.to_dict(), model.config.to_dict(), "model.")
            raise AsrkitError(f"{named}: {k} is {tuple(weights[k].shape)} there and {tuple(own[k].shape)} in "
                              f"this run's model; the modules taken need the same sizes (its config differs in: "
                              f"{'; '.join(diff[:4]) or 'nothing listed'})")
    # A diverged model's NaN would make every loss NaN: the run would stop after
    # training.max_bad_steps skipped updates, advising a lower learning rate, never naming the file.
    check_finite_weights({k: weights[k] for k in names}, named)
    with torch.no_grad():
        for k in names:
            own[k].copy_(weights[k])
    return names


def freeze(model: nn.Module, names: Sequence[str]) -> List[str]:
    """``requires_grad = False`` for every parameter under ``names``; returns their names."""
    prefixes = resolve_modules(model, names, "--freeze")
    frozen = []
    for k, p in model.named_parameters():
        if _under(k, prefixes):
            p.requires_grad_(False)
            frozen.append(k)
    if all(not p.requires_grad for p in model.parameters()):
        raise AsrkitError(f"--freeze {','.join(names)}: that is every parameter of the model, nothing would train")
    return frozen


def count(model: nn.Module, names: Sequence[str]) -> Tuple[int, int]:
    """(tensors, parameters) among ``names`` of the model's parameters."""
    params = dict(model.named_parameters())
    return len(names), sum(params[k].numel() for k in names if k in params)


def summary(names: Sequence[str]) -> str:
    """The modules a list of tensor names covers, shortly: ``listener, speller.attention``."""
    tops: List[str] = []
    for k in names:
        parts = k.split(".")
        top = ".".join(parts[:2]) if parts[0] == "speller" else parts[0]
        if top not in tops:
            tops.append(top)
    return ", ".join(tops)


def apply(model: LAS, cfg: Any, resuming: bool, idim: int, tokens: Sequence[str], fbank: Optional[FbankConfig],
          feats: str, lang: str, cmvn: Optional[np.ndarray] = None, norm_vars: bool = True,
          cmvn_path: Optional[str] = None, named: Optional[str] = None) -> None:
    """The finetune section of a run (``TrainConfig.finetune``): --init on a fresh run, --freeze always.

    ``cmvn`` (read from ``cmvn_path``) and ``norm_vars``: this run's normalisation, checked against
    the init model's when its listener is taken. ``named``: the init model as the messages name it
    (``TrainConfig.init_named``: the config file's line where finetune.init came from it), ``--init
    <path>`` by default."""
    named = named or f"--init {cfg.init}"
    if cfg.init and resuming:
        log.info("%s not read: the exp dir has checkpoints, and the run resumes from them (they hold the "
                 "weights)", named)
    elif cfg.init:
        meta, weights = read_init_model(cfg.init)
        listener = list(cfg.init_modules) == ["all"] or any(
            _under(p, ["listener"]) for p in resolve_modules(model, cfg.init_modules, "--init-modules"))
        check_features(meta, cfg.init, idim, fbank, feats, listener, named)
        check_cmvn(meta, cfg.init, cmvn, norm_vars, cmvn_path, listener, named)
        taken = init_from(model, meta, weights, cfg.init, cfg.init_modules, tokens, lang, named)
        n, size = count(model, taken)
        rest = [k for k, _ in model.named_parameters() if k not in set(taken)]
        log.info("%s: %d tensors (%.2fM parameters) taken: %s; %s", named, n, size / 1e6, summary(taken),
                 f"initialised afresh: {summary(rest)}" if rest else "nothing initialised afresh")
    if cfg.freeze:
        if not cfg.init:
            log.warning("--freeze %s without --init: those modules keep their random initial weights",
                        ",".join(cfg.freeze))
        frozen = freeze(model, cfg.freeze)
        n, size = count(model, frozen)
        total = sum(p.numel() for p in model.parameters())
        trained = [p for p in model.parameters() if p.requires_grad]
        log.info("--freeze %s: %d tensors (%.2fM parameters) get no updates; training %d tensors (%.2fM of %.2fM "
                 "parameters)", ",".join(cfg.freeze), n, size / 1e6, len(trained),
                 sum(p.numel() for p in trained) / 1e6, total / 1e6)
