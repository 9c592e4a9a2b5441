"""A sparse weight in an LM or in a checkpoint given to asrkit-average: torch loads it with
weights_only as it does a dense one, and the finiteness check that reads every weight then raised
a NotImplementedError traceback (a packed model's own check already named it)."""
from __future__ import annotations

import pytest
import torch

from asrkit.models.lm import load_lm, save_lm
from asrkit.utils.errors import AsrkitError
from asrkit.utils.torch_files import check_finite_weights

from decoding_tiny import V, tiny_lm

TOKENS = ["<blank>", "<unk>"] + [f"p{i}" for i in range(V - 3)] + ["<sos/eos>"]


def test_a_sparse_lm_weight_is_one_line_naming_the_file(tmp_path):
    lm = tiny_lm()
    state = dict(lm.state_dict())
    name = next(k for k, v in state.items() if v.dim() == 2)
    state[name] = state[name].to_sparse()
    save_lm(tmp_path / "lm.pt", state, lm.config, TOKENS)
    with pytest.raises(AsrkitError, match=rf"lm.pt: damaged asrkit LM: weight '{name}' is a torch.sparse_coo "
                                          r"tensor, not a dense one"):
        load_lm(tmp_path / "lm.pt", tokens=TOKENS)


def test_the_finiteness_check_names_a_sparse_weight_of_any_file():
    """asrkit-average and --init (fine-tuning) check checkpoints through the same function."""
    state = {"a": torch.zeros(2, 2), "b": torch.eye(3).to_sparse()}
    with pytest.raises(AsrkitError, match=r"^exp/checkpoints/epoch3.pt: damaged asrkit checkpoint: weight 'b' is "
                                          r"a torch.sparse_coo tensor, not a dense one$"):
        check_finite_weights(state, "exp/checkpoints/epoch3.pt: damaged asrkit checkpoint")
    check_finite_weights({"a": torch.zeros(2, 2)}, "x")  # a dense one passes
