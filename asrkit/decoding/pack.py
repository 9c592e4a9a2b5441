"""A packed model with the decoding options it is to be decoded with (``asrkit-pack-model``).

A recipe chooses its decoding on a dev set (egs/an4/asr1/conf/decode.yaml: CTC weight 0.4 and a
length bonus of 1.0, against asrkit's defaults of 0.3 and none); an end user who decodes the
recipe's model with ``asrkit-decode --model M a.wav`` would otherwise get the defaults. The options
travel in the model file (``extra["decode_options"]``, models/package.py), and asrkit-decode,
asrkit-adapt-speakers and the Transcriber start from them when no ``--config`` is given.

    pack_model("exp/x/model.avg.pt", "exp/x/final.pt", DecodeConfig.from_yaml("conf/decode.yaml"))
"""
from __future__ import annotations

import os
from typing import Optional, Sequence, Union

from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.recognizer import NO_SPELLING
from asrkit.models.package import (DECODE_OPTIONS, PackageMeta, build_package, read_package, save_package,
                                   with_upsampled_rates)
from asrkit.training.checkpoint import checkpoint_name
from asrkit.utils.errors import AsrkitError

PathLike = Union[str, os.PathLike]


def pack_model(model_path: PathLike, out_path: PathLike, config: Optional[DecodeConfig],
               upsampled_rates: Optional[Sequence[int]] = None) -> PackageMeta:
    """Write ``model_path``'s model to ``out_path`` (atomically; the same path is fine) with
    ``config``'s options packed in (all but the runtime ones, RUNTIME_OPTIONS; None: the options
    the model holds are kept, or none), and, when given, rates of training audio resampled up
    (models/package.py: UPSAMPLED_RATES), added to those it records. The model is
    checked as decoding checks it, model and tokenizer built, so that a damaged one is refused
    here, not handed out (read_package alone passed a garbage tokenizer or a model config that
    does not fit the weights, which asrkit-decode then refused)."""
    out = os.fspath(out_path)
    if os.path.basename(os.path.dirname(os.path.abspath(out))) == "checkpoints" and checkpoint_name(os.path.basename(out)):
        # A packed model under a checkpoint's name replaced that epoch (lost to a resume, and the
        # next asrkit-average failed on it), exit 0; asrkit-average refuses such an --out too.
        raise AsrkitError(f"<model-out> {out}: that is where {os.path.dirname(os.path.dirname(os.path.abspath(out)))}'s "
                          f"training checkpoints go; give another path (e.g. final.pt beside checkpoints/)")
    meta, weights = read_package(model_path)
    if not build_package(meta, weights, model_path).tokens:  # (what Recognizer.from_files refuses besides)
        raise AsrkitError(f"{model_path}: {NO_SPELLING}")
    if upsampled_rates:
        # Added to those the model records (asrkit-train's, from its utt2sample_rate, or an earlier
        # pack's): they replaced them, and audio at a rate dropped so decoded with its empty bins
        # filled, unlike training, with exit 0 ("recorded ... from 6000 Hz" said nothing of 4000).
        meta = with_upsampled_rates(meta, list(meta.upsampled_rates or []) + list(upsampled_rates),
                                    str(model_path))
    if config is not None:
        meta = meta.replace(extra={**meta.extra, DECODE_OPTIONS: config.packed()})
    save_package(out_path, weights, meta)
    return meta
