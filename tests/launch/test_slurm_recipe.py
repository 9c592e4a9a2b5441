"""The LibriSpeech recipe's stage 4 on two Slurm nodes equals the same training as 2 local processes.

The recipe path for real: cmd.sh's Slurm lines (uncommented, as a user would) with the recipe's
conf/slurm.conf, ``./run.sh --stage 4 --num-nodes 2 --ngpu 0`` -> asr.sh -> ``asrkit-launch
--backend slurm --num-nodes 2`` -> ``sbatch --nodes=2 --ntasks-per-node=1`` -> ``srun`` ->
two ``asrkit-train`` tasks, one per node (gloo, CPU), on the session's two-node cluster
(tests/launch/slurm_cluster.py). The data are 8 + 2 real yesno utterances in the recipe's
dump/train_960 and dump/dev. The reference is the command line the recipe ran (the first line
of its log) run again by the local backend as 2 processes with torchrun's variables
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT).
"""
from __future__ import annotations

import re
import shlex

import pytest
import torch
import yaml

from recipes.recipe_helpers import make_recipe_copy, run_sh
from training.yesno_dump import TINY_CONFIG, global_cmvn, make_dump, yesno_waves

from .test_local import check_log

pytestmark = pytest.mark.slurm


def _slurm_cmd_sh(recipe) -> None:
    """The recipe's cmd.sh with its Slurm lines uncommented, memory cut to what the test nodes have."""
    text = (recipe / "cmd.sh").read_text()
    text, n = re.subn(r"^# (export (train|cuda|decode)_cmd=\"asrkit-launch --backend slurm)", r"\1", text, flags=re.M)
    assert n == 3, "cmd.sh has no commented Slurm line per command any more"
    text, n = re.subn(r"--mem [0-9]+[KMGT]?\b", "--mem 1G", text)
    assert n >= 3
    (recipe / "cmd.sh").unlink()  # a link into the checkout
    (recipe / "cmd.sh").write_text(text)


def _checkpoint(exp) -> dict:
    return torch.load(exp / "checkpoints" / "epoch1.pt", map_location="cpu", weights_only=False)


def test_librispeech_stage4_on_two_nodes_equals_two_local_processes(slurm_cluster, tmp_path, yesno_root):
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    recipe = make_recipe_copy(tmp_path, "librispeech")
    _slurm_cmd_sh(recipe)
    waves = yesno_waves(yesno_root)
    train = make_dump(recipe / "dump" / "train_960", waves[:8])
    make_dump(recipe / "dump" / "dev", waves[8:10])
    global_cmvn(train)
    texts = [line.split(maxsplit=1)[1] for line in (train / "text").read_text().splitlines()]
    (recipe / "data" / "lang_char").mkdir(parents=True)
    (recipe / "data" / "lang_char" / "tokens.model").write_bytes(
        train_tokenizer(texts, TokenizerConfig(model_type="char")).to_bytes())
    # Batches of 2 utterances (581-674 frames each): each rank takes 2 of the 4 batches, so one
    # epoch is 2 optimizer steps, each made of both ranks' gradients.
    config = {**TINY_CONFIG, "batching": {"max_frames": 1400},
              "training": {**TINY_CONFIG["training"], "max_epochs": 1, "num_plots": 0, "valid_cer": False}}
    (recipe / "tiny.yaml").write_text(yaml.safe_dump(config))

    run_sh(["./run.sh", "--stage", "4", "--stop-stage", "4", "--num-nodes", "2", "--ngpu", "0", "--token-type", "char",
            "--num-avg", "0", "--train-config", "tiny.yaml"], cwd=recipe, env=slurm_cluster.env, timeout=600)
    exp = recipe / "exp" / "tiny_char"
    assert (exp / ".done").is_file() and (exp / "model.pt").is_file()
    assert sorted(p.name for p in (exp / "checkpoints").iterdir()) == ["epoch1.pt"]
    log = (exp / "log" / "train.log").read_text()
    command = log.splitlines()[0][2:]
    assert command.startswith("asrkit-train --config tiny.yaml ") and command.endswith(" exp/tiny_char"), command
    check_log(exp / "log" / "train.log", command, 0)
    assert re.search(r"^# Running 2 tasks \(1 per node\) of Slurm job \d+ on 127\.0\.0\.\[1-2\]$", log, re.M), log[:2000]
    assert "rank 0 of 2 (gloo, cpu)" in log and "per rank (2 ranks)" in log, log[-3000:]
    # Only rank 0 logs: its summary is there as often as its other lines, never more (this log
    # is asrkit-train's own exp/log/train.log too, so its lines may come twice: file and stderr).
    assert log.count("Done 1 epochs out of 1") == log.count("rank 0 of 2 (gloo, cpu)")
    assert "rank 1 of 2" not in log
    assert re.search(r"^# sbatch --export=ALL --mem=1G --time=24:00:00 .*--nodes=2 --ntasks-per-node=1 ",
                     (exp / "log" / "q" / "train.sh").read_text(), re.M)

    # The same command, as 2 local processes with torchrun's variables.
    ref = "exp/ref"
    local = command[: -len("exp/tiny_char")] + ref
    run_sh(". ./path.sh && asrkit-launch --ntasks 2 exp/ref/log/launch.log " + shlex.quote(local), cwd=recipe,
           env=slurm_cluster.env, timeout=600)
    slurm_state, local_state = _checkpoint(exp), _checkpoint(recipe / ref)
    assert slurm_state["train_state"]["history"][0]["step"] == 2
    assert local_state["train_state"]["history"][0]["step"] == 2
    assert slurm_state["model"].keys() == local_state["model"].keys()
    for name, value in slurm_state["model"].items():
        # Bit for bit: the same seeds, the same batches per rank, and a sum of two gradients
        # does not depend on which rank adds.
        torch.testing.assert_close(value, local_state["model"][name], rtol=0, atol=0, msg=name)
