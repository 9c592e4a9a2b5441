"""The packed model ``exp/<name>/model.pt``: everything decoding needs, in one file.

One ``torch.save``d dict (docs/contracts.md)::

    format: "asrkit-model", version, model_config (dict), idim, vocab_size, state_dict,
    feature_config (dict), cmvn ((2, D+1) float64 stats or None), cmvn_norm_vars,
    tokenizer (sentencepiece model bytes), tokens (list of str)

Only plain types and tensors go in (the CMVN stats are stored as a float64 tensor), so the file
loads with ``weights_only=True`` and no asrkit or numpy class is pickled. Training writes it, decoding reads it; this module sits below
both and imports neither.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union

import numpy as np
import torch

from asrkit.models.las import LAS, LASConfig
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import atomic_open

FORMAT = "asrkit-model"
VERSION = 1
REQUIRED = ("format", "version", "model_config", "idim", "vocab_size", "state_dict")


@dataclass
class Package:
    """A loaded model.pt: the model (in eval mode, on the requested device) and its companions."""

    model: LAS
    model_config: LASConfig
    idim: int
    vocab_size: int
    feature_config: Any              # asrkit.features.fbank.FbankConfig when importable, else the dict
    cmvn: Optional[np.ndarray]       # (2, D+1) float64 Kaldi stats, or None
    cmvn_norm_vars: bool
    tokenizer: Any                   # asrkit.text.tokenizer.Tokenizer, or None when the file holds none
    tokens: List[str]
    extra: Dict[str, Any]            # free-form info the trainer stored (epoch, valid loss, ...)


def save_package(
    path: Union[str, os.PathLike],
    model: LAS,
    *,
    feature_config: Any = None,
    cmvn: Optional[np.ndarray] = None,
    cmvn_norm_vars: bool = True,
    tokenizer: Any = None,
    tokens: Optional[List[str]] = None,
    extra: Optional[Dict[str, Any]] = None,
    state_dict: Optional[Dict[str, torch.Tensor]] = None,
) -> None:
    """Write ``model`` and what decoding needs to ``path`` atomically.

    ``feature_config``: an FbankConfig (any dataclass) or a dict. ``tokenizer``: a Tokenizer
    (anything with ``to_bytes()`` and ``tokens``) or the raw sentencepiece model bytes; ``tokens``
    defaults to ``tokenizer.tokens``. ``state_dict`` overrides the model's own weights (e.g.
    averaged checkpoints, or the weights of a DDP-wrapped model's module).
    """
    if dataclasses.is_dataclass(feature_config) and not isinstance(feature_config, type):
        feature_config = dataclasses.asdict(feature_config)
    if tokenizer is not None and not isinstance(tokenizer, (bytes, bytearray)):
        if tokens is None:
            tokens = list(tokenizer.tokens)
        tokenizer = tokenizer.to_bytes()
    if tokens is not None and len(tokens) != model.vocab_size:
        raise AsrkitError(f"{path}: {len(tokens)} tokens but the model has vocab_size {model.vocab_size}")
    weights = state_dict if state_dict is not None else model.state_dict()
    blob = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": model.config.to_dict(),
        "idim": model.idim,
        "vocab_size": model.vocab_size,
        "state_dict": {k: v.detach().cpu() for k, v in weights.items()},
        "feature_config": dict(feature_config) if feature_config is not None else None,
        "cmvn": None if cmvn is None else torch.from_numpy(np.array(cmvn, dtype=np.float64)),
        "cmvn_norm_vars": bool(cmvn_norm_vars),
        "tokenizer": bytes(tokenizer) if tokenizer is not None else None,
        "tokens": list(tokens) if tokens is not None else None,
        "extra": dict(extra or {}),
    }
    with atomic_open(path, "wb") as f:
        torch.save(blob, f)


def read_package_dict(path: Union[str, os.PathLike]) -> Dict[str, Any]:
    """The raw dict of a model.pt, checked to be one; AsrkitError naming the file otherwise."""
    if not os.path.isfile(path):
        raise AsrkitError(f"{path}: no such model file")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a file that is not a torch archive
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AsrkitError(f"{path}: not an asrkit model (not a torch file, or one holding more than "
                          f"tensors and plain types: {first[:200]})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise AsrkitError(f"{path}: not an asrkit model (no format: {FORMAT!r} entry)")
    missing = [k for k in REQUIRED if k not in blob]
    if missing:
        raise AsrkitError(f"{path}: damaged asrkit model, missing {', '.join(missing)}")
    if blob["version"] > VERSION:
        raise AsrkitError(f"{path}: model format version {blob['version']} is newer than this asrkit "
                          f"reads ({VERSION}); upgrade asrkit")
    return blob


def load_package(path: Union[str, os.PathLike], device: Union[str, torch.device] = "cpu") -> Package:
    """Rebuild the model (eval mode, on ``device``), feature config, CMVN and tokenizer."""
    blob = read_package_dict(path)
    try:
        config = LASConfig.from_dict(blob["model_config"])
        model = LAS(int(blob["idim"]), int(blob["vocab_size"]), config)
        model.load_state_dict(blob["state_dict"])
    except (ValueError, TypeError, RuntimeError) as e:
        raise AsrkitError(f"{path}: model does not match its config: {str(e).splitlines()[0]}") from None
    model.to(device).eval()
    tokenizer = None
    if blob.get("tokenizer") is not None:
        from asrkit.text.tokenizer import Tokenizer  # lazily: the text package sits beside, not below

        try:
            tokenizer = Tokenizer.from_bytes(blob["tokenizer"])
        except AsrkitError as e:
            raise AsrkitError(f"{path}: damaged tokenizer in the model: {e}") from None
    cmvn = blob.get("cmvn")
    return Package(
        model=model,
        model_config=config,
        idim=int(blob["idim"]),
        vocab_size=int(blob["vocab_size"]),
        feature_config=_feature_config(blob.get("feature_config")),
        cmvn=None if cmvn is None else np.asarray(cmvn, dtype=np.float64) if not torch.is_tensor(cmvn)
        else cmvn.numpy().astype(np.float64),
        cmvn_norm_vars=bool(blob.get("cmvn_norm_vars", True)),
        tokenizer=tokenizer,
        tokens=list(blob.get("tokens") or (tokenizer.tokens if tokenizer is not None else [])),
        extra=dict(blob.get("extra") or {}),
    )


def _feature_config(d: Optional[Dict[str, Any]]) -> Any:
    if d is None:
        return None
    try:
        from asrkit.features.fbank import FbankConfig
    except ImportError:
        return dict(d)
    from_dict = getattr(FbankConfig, "from_dict", None)
    return from_dict(d) if from_dict is not None else FbankConfig(**d)

