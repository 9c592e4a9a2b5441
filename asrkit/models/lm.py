"""Token LSTM language model for shallow fusion, and its packed file ``lm.pt``.

The LM reads the tokenizer's ids (docs/contracts.md): a sentence is ``<sos/eos> y1 .. yn`` in,
``y1 .. yn <sos/eos>`` out. ``lm.pt`` is one ``torch.save``d dict of plain types (loads with
``weights_only=True``): ``format: "asrkit-lm"``, ``version``, ``config``, ``vocab_size``,
``state_dict``, ``tokens_sha256`` (of the token list), ``tokens`` (the list itself; LMs packed
before it was there lack it), ``extra``. Decoding checks the checksum against the ASR model's
tokens, so an LM trained with another tokenizer is refused instead of silently scoring the wrong
symbols.

>>> lm = LSTMLM(10, LMConfig(embed=8, hidden=16, layers=1))
>>> state = lm.init_state(3, torch.device("cpu"))
>>> logp, state = lm.step(torch.full((3,), 9), state)
>>> logp.shape
torch.Size([3, 10])
"""
from __future__ import annotations

import hashlib
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asrkit.models.build import model_from_state_dict
from asrkit.models.config import LMConfig
from asrkit.models.targets import IGNORE_ID, decoder_targets
from asrkit.utils.config import UnknownKeysError, to_dict, written_by_newer
from asrkit.utils.errors import AsrkitError
from asrkit.utils.torch_files import (check_finite_weights, check_torch_file_path, load_weights_only, other_content,
                                     save_torch)

FORMAT = "asrkit-lm"
VERSION = 1


class LSTMLM(nn.Module):
    def __init__(self, vocab_size: int, config: Optional[LMConfig] = None) -> None:
        super().__init__()
        config = config or LMConfig()
        self.vocab_size, self.config = vocab_size, config
        self.sos = self.eos = vocab_size - 1
        self.embed = nn.Embedding(vocab_size, config.embed)
        self.lstm = nn.LSTM(config.embed, config.hidden, config.layers, batch_first=True,
                            dropout=config.dropout if config.layers > 1 else 0.0)
        self.drop = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.hidden, vocab_size)

    def forward(self, ys_in: Tensor) -> Tensor:
        """ys_in (B, L) token ids starting with <sos> -> logits (B, L, V)."""
        h, _ = self.lstm(self.drop(self.embed(ys_in)))  # (B, L, H)
        return self.output(self.drop(h))

    def loss(self, ys: Tensor, y_lens: Tensor) -> Tuple[Tensor, Tensor]:
        """ys (B, L) padded with -1, y_lens (B,) -> (summed NLL over tokens incl. <eos>, token count)."""
        ys_in, ys_out = decoder_targets(ys, y_lens, self.sos, self.eos)  # (B, L+1) each
        logits = self.forward(ys_in)  # (B, L+1, V)
        nll = F.cross_entropy(logits.float().transpose(1, 2), ys_out, ignore_index=IGNORE_ID, reduction="sum")
        return nll, (ys_out != IGNORE_ID).sum()

    def init_state(self, n: int, device: torch.device) -> Dict[str, Tensor]:
        """Zero state for ``n`` rows, batch in dim 0 so a beam search can index_select it."""
        z = torch.zeros(n, self.config.layers, self.config.hidden, device=device)
        return {"h": z, "c": z.clone()}

    def step(self, prev: Tensor, state: Dict[str, Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
        """prev (N,) -> (log-probs (N, V), new state)."""
        hc = (state["h"].transpose(0, 1).contiguous(), state["c"].transpose(0, 1).contiguous())  # (layers, N, H)
        out, (h, c) = self.lstm(self.embed(prev)[:, None, :], hc)  # (N, 1, H)
        logp = F.log_softmax(self.output(out[:, 0]).float(), dim=-1)
        return logp, {"h": h.transpose(0, 1), "c": c.transpose(0, 1)}


def tokens_checksum(tokens: List[str]) -> str:
    return hashlib.sha256("\n".join(tokens).encode("utf-8")).hexdigest()


def save_lm(path: Union[str, os.PathLike], state_dict: Mapping[str, Tensor], config: LMConfig, tokens: List[str],
            extra: Optional[Dict[str, Any]] = None) -> None:
    """Write ``lm.pt`` atomically: an LSTMLM's weights, its config and a checksum of its tokens."""
    blob = {
        "format": FORMAT,
        "version": VERSION,
        "config": to_dict(config),
        "vocab_size": len(tokens),
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "tokens_sha256": tokens_checksum(tokens),
        # (a checksum alone says that two lists differ, not where: "9 vs 9 tokens or different pieces")
        "tokens": list(tokens),
        "extra": dict(extra or {}),
    }
    save_torch(blob, path)


def load_lm(path: Union[str, os.PathLike], device: Union[str, torch.device] = "cpu",
            tokens: Optional[List[str]] = None, model: Optional[Union[str, os.PathLike]] = None) -> LSTMLM:
    """Read ``lm.pt`` (eval mode, on ``device``); with ``tokens`` (those of the ASR model file
    ``model``, named in the error), refuse an LM of another tokenizer."""
    check_torch_file_path(path, "an LM", "lm.pt")  # (the LM's exp dir was "no such LM file")
    blob = load_weights_only(path, "asrkit LM")
    if isinstance(blob, dict) and blob.get("format") == "asrkit-checkpoint":
        # ("is it an ASR model?" for the LM's own checkpoint, or asrkit-train's)
        whose = "asrkit-train-lm" if blob.get("package_format") == FORMAT else "asrkit-train"
        raise AsrkitError(f"{path}: an {whose} checkpoint, not a packed LM: give the lm.pt asrkit-train-lm wrote "
                          f"in its exp dir")
    if isinstance(blob, dict) and blob.get("format") == "asrkit-model":  # (models/package.py's FORMAT)
        # (the model given twice, or --model and --lm swapped: "is it an ASR model?" asked what was known)
        raise AsrkitError(f"{path}: an acoustic model (asrkit-train's model.pt, a recipe's final.pt), not an asrkit "
                          f"LM: give the lm.pt asrkit-train-lm wrote in its exp dir")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise AsrkitError(f"{path}: not an asrkit LM ({other_content(blob, FORMAT)})")
    version = blob.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise AsrkitError(f"{path}: damaged asrkit LM: version is {version!r}, expected an integer >= 1")
    if version > VERSION:
        raise AsrkitError(f"{path}: LM format version {version} is newer than this asrkit reads ({VERSION})")
    if tokens is not None and blob.get("tokens_sha256") != tokens_checksum(tokens):
        # (the message named the LM alone, and "9 vs 9 tokens or different pieces" for two lists of one size)
        whose = "the model's" if model is None else f"the model {model}'s"
        raise AsrkitError(f"{path}: the LM was trained with a different token list than {whose} "
                          f"({_token_lists_differ(blob, tokens)}); train it with the model's data/lang")
    vocab_size = blob.get("vocab_size")
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < 2:
        raise AsrkitError(f"{path}: damaged asrkit LM: vocab_size is {vocab_size!r}, expected an integer >= 2")
    if tokens is not None and vocab_size != len(tokens):
        # the checksum fits but the output layer does not: scoring would fail at the first step
        raise AsrkitError(f"{path}: damaged asrkit LM: vocab_size {vocab_size}, but its token list has "
                          f"{len(tokens)} tokens")
    if isinstance(blob.get("state_dict"), dict):
        check_finite_weights(blob["state_dict"], f"{path}: damaged asrkit LM")
    try:
        config = LMConfig.from_dict(blob.get("config"), "config")
        if not isinstance(blob.get("state_dict"), dict):
            raise AsrkitError("missing state_dict")
        lm = model_from_state_dict(lambda: LSTMLM(vocab_size, config), blob["state_dict"], "the weights")
    except UnknownKeysError as e:
        raise written_by_newer(str(path), e, "LM") from None
    except (KeyError, ValueError, TypeError, RuntimeError, AsrkitError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AsrkitError(f"{path}: damaged asrkit LM: {first}") from None
    return lm.to(device).eval()


def _token_lists_differ(blob: Dict[str, Any], tokens: List[str]) -> str:
    """Where an LM's token list (``blob["tokens"]``, when it holds one) differs from ``tokens``."""
    own = blob.get("tokens")
    if not (isinstance(own, list) and all(isinstance(t, str) for t in own)):
        size = blob.get("vocab_size")
        if isinstance(size, int) and not isinstance(size, bool) and size != len(tokens):
            return f"{size} vs {len(tokens)} tokens"
        return f"{len(tokens)} tokens each, but other pieces"
    at = next((i for i, (a, b) in enumerate(zip(own, tokens)) if a != b), None)
    if at is None and len(own) == len(tokens):
        return "the same tokens, but a checksum that is not theirs: a damaged lm.pt"
    if at is None:
        return f"{len(own)} vs {len(tokens)} tokens"
    return f"token {at}: {own[at]!r} vs {tokens[at]!r}" + (
        f"; {len(own)} vs {len(tokens)} tokens" if len(own) != len(tokens) else "")
