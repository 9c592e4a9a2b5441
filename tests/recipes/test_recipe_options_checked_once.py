"""run.sh calls asr.sh twice: with --stage 1 --stop-stage 0, to check the options before its stage 0
(a download, hours of data prep), then for the stages, whose checks of the options (asrkit-train,
-compute-fbank and -decode --print-config: Python starts, a second of CPU) were the first call's
again. The first now prints a key of what they read (the options, the files they name), and the
second, given it, skips them: unless something they read changed in between."""
from __future__ import annotations

import shutil

from recipe_helpers import REPO, run_sh

# cmd.sh of the tests: the real launchers, and an asrkit-train that logs each check of the training
# options (--print-config) before running it; with EDIT_CONFIG, the first check also edits that
# config, as a user editing it while stage 0 runs.
CMD_SH = """\
export train_cmd="asrkit-launch --backend local" cuda_cmd="asrkit-launch --backend local" decode_cmd="asrkit-launch --backend local"
asrkit-train() {
  if [[ " $* " == *" --print-config "* ]]; then
    echo checked >> "$CHECKS_LOG"
    [ -z "${EDIT_CONFIG:-}" ] || [ "$(wc -l < "$CHECKS_LOG")" -ne 1 ] || echo "# edited" >> "$EDIT_CONFIG"
  fi
  command asrkit-train "$@"
}
export -f asrkit-train
"""


def test_run_sh_checks_the_options_once_unless_they_change(recipe_dir, tmp_path):
    recipe = recipe_dir("yesno")
    (recipe / "cmd.sh").unlink()
    (recipe / "cmd.sh").write_text(CMD_SH)
    config = tmp_path / "train.yaml"  # (recipe/conf is the checkout's)
    shutil.copy(REPO / "egs/yesno/asr1/conf/train.yaml", config)
    log = tmp_path / "checks.log"
    for edit, checks in (("", 1), (str(config), 2)):
        log.write_text("")
        # (no data/: the stages' call stops once its options are checked, before any work)
        proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--train-config", str(config)], cwd=recipe,
                      check=False, env={"CHECKS_LOG": str(log), "EDIT_CONFIG": edit})
        assert proc.returncode == 1 and "no data/train_nodev" in proc.stderr.splitlines()[-1], proc.stderr
        assert len(log.read_text().splitlines()) == checks, (edit, proc.stderr)


def test_a_key_of_other_options_skips_no_check(recipe_dir):
    """The key is of the options' values: one handed to a call with other options is no leave to skip."""
    recipe = recipe_dir("yesno")
    asr = ["./asr.sh", "--stage", "1", "--stop-stage", "0", "--train-set", "train_nodev", "--valid-set", "train_dev"]
    key = run_sh(asr, cwd=recipe, env={"ASR_SH_OPTIONS_CHECKED": ""}).stdout.strip()
    assert key
    proc = run_sh([*asr, "--train-args", "--set training.max_epochs=abc"], cwd=recipe, check=False,
                  env={"ASR_SH_OPTIONS_CHECKED": key})
    assert proc.returncode == 1 and "--train-config with --train-args '--set training.max_epochs=abc'" in proc.stderr, \
        proc.stderr
