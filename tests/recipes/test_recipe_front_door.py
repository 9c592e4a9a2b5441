"""How a recipe's run.sh is started: cmd.sh's launchers, the shell and the place it is started from.
Each case must fail with one line before any stage works, or work."""
from __future__ import annotations

from recipe_helpers import run_sh


def _edit_cmd_sh(recipe, var, value):
    text = (recipe / "cmd.sh").read_text()
    (recipe / "cmd.sh").unlink()  # a link to the checkout's file
    lines = [f'export {var}="{value}"' if line.startswith(f"export {var}=") else line for line in text.splitlines()]
    (recipe / "cmd.sh").write_text("\n".join(lines) + "\n")


def test_a_launcher_this_machine_lacks_is_named_before_stage_0(recipe_dir):
    """cmd.sh edited to Kaldi's queue.pl (not installed): stage 0 made data/, then stage 1 failed with
    bash's 'queue.pl: command not found' and 'see dump/train_nodev/log/fbank.*.log', a log never written."""
    recipe = recipe_dir("yesno")
    _edit_cmd_sh(recipe, "train_cmd", "queue.pl --mem 2G")
    proc = run_sh(["./run.sh"], cwd=recipe, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        'asr.sh: ERROR: cmd.sh: train_cmd="queue.pl --mem 2G": no command \'queue.pl\' on this machine: '
        "asrkit's launcher is asrkit-launch --backend local or slurm (see the lines in cmd.sh)")
    assert not (recipe / "data").exists() and not (recipe / "dump").exists()
    _edit_cmd_sh(recipe, "train_cmd", "")
    _edit_cmd_sh(recipe, "decode_cmd", "")
    proc = run_sh(["./run.sh"], cwd=recipe, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        'asr.sh: ERROR: cmd.sh sets no train_cmd: give it a launcher, e.g. export train_cmd="asrkit-launch --backend local"')
    assert not (recipe / "data").exists()
