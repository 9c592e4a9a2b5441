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


@pytest.mark.parametrize("command", ["decode", "adapt-speakers", "pack-model", "align"])
def test_a_sparse_model_weight_is_the_one_error_line_without_torchs_warning(tmp_path, command):
    """torch's "Validating sparse tensor invariants" UserWarning (two lines, from the read of the
    packed decoding options) came before asrkit-decode's and asrkit-adapt-speakers' one ERROR line
    naming the weight; the commands that read only the model itself did not print it."""
    import warnings

    from asrkit.models.package import PackageMeta, save_package

    from cli_checks import run_asrkit_in_process
    from decoding_tiny import IDIM, tiny_las

    model = tiny_las()
    state = dict(model.state_dict())
    name = next(k for k, v in state.items() if v.dim() == 2)
    state[name] = state[name].to_sparse()
    path = tmp_path / "model.pt"
    save_package(path, state, PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS))
    (tmp_path / "wav.scp").write_text("u1 /dev/null\n")
    (tmp_path / "text").write_text("u1 p1\n")
    (tmp_path / "utt2spk").write_text("u1 s1\n")
    (tmp_path / "decode.yaml").write_text("beam: 2\n")
    args = {"decode": ["--model", path, "--wav-scp", tmp_path / "wav.scp", "--output-dir", tmp_path / "d"],
            "adapt-speakers": ["--model", path, "--utt2spk", tmp_path / "utt2spk", "--wav-scp", tmp_path / "wav.scp",
                               tmp_path / "text", f"ark,t:{tmp_path / 'trans.txt'}"],
            "pack-model": ["--decode-config", tmp_path / "decode.yaml", path, tmp_path / "out.pt"],
            "align": ["--model", path, tmp_path / "wav.scp", tmp_path / "text", tmp_path / "ctm"]}[command]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_asrkit_in_process(command, *args, check=False)
    assert res.returncode == 1
    assert f"model.pt: damaged asrkit model: weight '{name}' is a torch.sparse_coo tensor" in res.stderr.decode()
    assert [str(w.message) for w in caught if "sparse tensor invariants" in str(w.message)] == []
