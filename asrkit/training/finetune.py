"""Fine-tuning: start a LAS from a packed model's (or a checkpoint's) weights (``--init``) and keep modules fixed (``--freeze``).

Modules are named by their dotted path in the model, as ``model.named_parameters()`` spells
them: the top-level ``listener``, ``speller``, ``ctc``, the shorthand ``attention`` for
``speller.attention``, or any finer module (``speller.output``, ``speller.cells``,
``listener.layers.0``). A name covers every parameter under it.

    meta, weights = read_init_model("exp/an4/model.pt")
    taken = init_from(model, meta, weights, "exp/an4/model.pt", ["listener"], tokens, feats="dump/train")
    frozen = freeze(model, ["listener"])         # requires_grad False; the optimizer never sees them

What may be reused (one-line errors otherwise, naming the init model and what differs):
- the features must have the same dimension (``idim``); other feature options that differ
  (sample rate, frame shift) are a warning;
- the parameters indexed by token id (``LAS.TOKEN_MODULES``: ``speller.embed``,
  ``speller.output``, ``ctc``) are taken only when both models have the same token list;
  every other module may come from a model of another tokenizer;
- every parameter taken must exist in the init model with the same shape (the same sizes in
  the config's model section for the modules reused).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

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


def check_features(meta: PackageMeta, path: str, idim: int, fbank: Optional[FbankConfig], feats: str) -> None:
    if meta.idim != idim:
        raise AsrkitError(f"--init {path}: its model takes {meta.idim}-dim features, {feats} has {idim}-dim ones: "
                          f"fine-tuning needs features made with the same number of bins")
    if meta.feature_config is not None and fbank is not None and meta.feature_config != fbank:
        log.warning("--init %s: its features were made with other options than these (%s): the listener "
                    "will see features unlike the ones it learnt from", path,
                    ", ".join(dict_diff(meta.feature_config.to_dict(), fbank.to_dict())))


def init_from(model: LAS, meta: PackageMeta, weights: Dict[str, Tensor], path: str, modules: Sequence[str],
              tokens: Sequence[str], lang: str = "the tokenizer") -> List[str]:
    """Copy the init model's weights of ``modules`` (``["all"]``: every parameter) into ``model``.

    ``tokens`` is this run's token list (from ``lang``); returns the names of the tensors taken.
    Raises AsrkitError, before changing anything, when a tensor is missing, of another shape, or
    tied to a token list that differs.
    """
    own = model.state_dict()
    every = list(modules) == ["all"]
    prefixes = [] if every else resolve_modules(model, modules, "--init-modules")
    names = [k for k in own if every or _under(k, prefixes)]
    tied = [p for p in model.TOKEN_MODULES if any(_under(k, [p]) for k in names)]
    if tied:
        theirs = package_tokens(meta)
        if theirs != list(tokens):
            raise AsrkitError(f"--init {path}: its token list is not this run's ({lang}: "
                              f"{_first_difference(theirs, tokens)}); {', '.join(tied)} are tied to token ids and "
                              f"cannot be reused: take only modules without them, e.g. --init-modules "
                              f"listener,attention,speller.cells")
    missing = [k for k in names if k not in weights]
    if missing:
        raise AsrkitError(f"--init {path}: its model has no {missing[0]}{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}"
                          f": leave that module out of --init-modules")
    for k in names:
        if tuple(weights[k].shape) != tuple(own[k].shape):
            diff = dict_diff(meta.model_config.to_dict(), model.config.to_dict(), "model.")
            raise AsrkitError(f"--init {path}: {k} is {tuple(weights[k].shape)} there and {tuple(own[k].shape)} in "
                              f"this run's model; the modules taken need the same sizes (its config differs in: "
                              f"{'; '.join(diff[:4]) or 'nothing listed'})")
    # A diverged model's NaN would make every loss NaN: the run would stop after
    # training.max_bad_steps skipped updates, advising a lower learning rate, never naming the file.
    check_finite_weights({k: weights[k] for k in names}, f"--init {path}")
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
          feats: str, lang: str) -> None:
    """The finetune section of a run (``TrainConfig.finetune``): --init on a fresh run, --freeze always."""
    if cfg.init and resuming:
        log.info("--init %s not read: the exp dir has checkpoints, and the run resumes from them (they hold the "
                 "weights)", cfg.init)
    elif cfg.init:
        meta, weights = read_init_model(cfg.init)
        check_features(meta, cfg.init, idim, fbank, feats)
        taken = init_from(model, meta, weights, cfg.init, cfg.init_modules, tokens, lang)
        n, size = count(model, taken)
        rest = [k for k, _ in model.named_parameters() if k not in set(taken)]
        log.info("--init %s: %d tensors (%.2fM parameters) taken: %s; %s", cfg.init, n, size / 1e6, summary(taken),
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
