"""yesno's stage 0 stopped part-way, then run.sh --stage 1: its local/data.sh rewrote data/train
and data/test first and made data/train_nodev and data/train_dev from them last, so a stage 0
that stopped in between (Ctrl-C, a failure) left the last run's train_nodev and train_dev beside
the new train and test, and --stage 1 made features of the mix with exit 0 (trained on one
corpus, tested on another). Its data.sh now removes those sets first, as AN4's does, and the run
from --stage 1 stops at one line naming stage 0. (AN4: test_an4_stage0_stopped_is_refused.)
A stage 0 that failed before it changed data/ (a --yesno-root with no waves, AN4's bad --num-dev)
removed its record of what made data/, and a run from --stage 1 with that corpus root took the
last run's data/ without a word: run.sh now marks data/ until stage 0 ends."""
from __future__ import annotations

import shutil

import pytest

from recipe_helpers import read_table, run_sh

# run.sh marks data/ while stage 0 runs (data/stage0_unfinished) and refuses it from --stage 1 on
# (before, asr.sh stopped at "no data/train_nodev ...: run stage 0 first", which a stage 0 that
# failed before it removed the held-out sets did not reach)
UNFINISHED = "./run.sh: ERROR: data/ is from a stage 0 that did not finish"


def test_yesno_stage0_stopped_part_way_is_refused_from_stage_1(recipe_dir, yesno_root, tmp_path):
    recipe = recipe_dir("yesno")
    run_sh(["./run.sh", "--stop-stage", "0", "--yesno-root", str(yesno_root)], cwd=recipe)
    assert len(read_table(recipe / "data/train_nodev/text")) == 25
    other = tmp_path / "other/waves_yesno"
    other.mkdir(parents=True)
    for wav in sorted((yesno_root / "waves_yesno").glob("*.wav"))[:20]:
        shutil.copy(wav, other / wav.name)
    # A failure after data/train and data/test are written, before the held-out split (as a
    # Ctrl-C there would stop it): the split's list cannot be written.
    (recipe / "data/local/dev.list").unlink()
    (recipe / "data/local/dev.list").mkdir()
    proc = run_sh(["./run.sh", "--stop-stage", "0", "--yesno-root", str(other.parent)], cwd=recipe, check=False)
    assert proc.returncode != 0 and len(read_table(recipe / "data/test/text")) == 10, proc.stderr
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1].startswith(UNFINISHED) and "run from --stage 0" in proc.stderr, proc.stderr
    assert not (recipe / "dump").exists()
    # stage 0 again, to its end: the later stages take data/ again
    (recipe / "data/local/dev.list").rmdir()
    run_sh(["./run.sh", "--stop-stage", "0", "--yesno-root", str(other.parent)], cwd=recipe)
    assert len(read_table(recipe / "data/train_nodev/text")) + len(read_table(recipe / "data/train_dev/text")) == 10


def test_an4_stage0_stopped_is_refused(recipe_dir, an4_root):
    """AN4's data.sh removed its held-out sets first already: kept so (a failure after
    data_prep.py, before the split, is refused from --stage 1 on, naming stage 0)."""
    recipe = recipe_dir("an4")
    run_sh(["./run.sh", "--stop-stage", "0", "--an4-root", str(an4_root), "--max-utts", "40"], cwd=recipe)
    proc = run_sh(["./run.sh", "--stop-stage", "0", "--an4-root", str(an4_root), "--max-utts", "30", "--num-dev", "40"],
                  cwd=recipe, check=False)
    assert proc.returncode == 1 and "not more than --num-dev 40" in proc.stderr, proc.stderr
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1"], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1].startswith(UNFINISHED), proc.stderr
    assert not (recipe / "dump").exists()


def test_yesno_stage0_failed_before_it_changed_data_is_refused_from_stage_1(recipe_dir, yesno_root, tmp_path):
    recipe = recipe_dir("yesno")
    run_sh(["./run.sh", "--stop-stage", "0", "--yesno-root", str(yesno_root)], cwd=recipe)
    other = tmp_path / "other"
    other.mkdir()  # (no waves_yesno/ in it yet)
    proc = run_sh(["./run.sh", "--stop-stage", "0", "--yesno-root", str(other)], cwd=recipe, check=False)
    assert proc.returncode == 1 and "no waves_yesno/ folder there" in proc.stderr, proc.stderr
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1", "--yesno-root", str(other)], cwd=recipe,
                  check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1].startswith(UNFINISHED), proc.stderr
    assert not (recipe / "dump").exists()


def test_an4_stage0_failed_before_it_changed_data_is_refused_from_stage_1(recipe_dir, an4_root, tmp_path):
    recipe = recipe_dir("an4")
    other = tmp_path / "other"
    other.mkdir()
    run_sh(["./run.sh", "--stop-stage", "0", "--an4-root", str(an4_root), "--max-utts", "12"], cwd=recipe)
    proc = run_sh(["./run.sh", "--stop-stage", "0", "--an4-root", str(other)], cwd=recipe, check=False)
    assert proc.returncode == 1 and "expected etc/ and wav/ there" in proc.stderr, proc.stderr
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1", "--an4-root", str(other)], cwd=recipe,
                  check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1].startswith(UNFINISHED), proc.stderr
    assert not (recipe / "dump").exists()



@pytest.mark.parametrize("name", ["yesno", "an4"])
def test_a_stage0_option_in_a_config_file_is_checked_from_stage_1(name, recipe_dir, yesno_root, an4_root, tmp_path):
    """run.sh checked a stage-0 option given again from --stage 1 on only on the command line:
    'yesno_root=<other>' (or AN4's max_utts=) in a --config file changed nothing, data/ being made
    already, and the run went on with exit 0 on the old data under the new options."""
    recipe = recipe_dir(name)
    if name == "yesno":
        other = tmp_path / "other"
        (other / "waves_yesno").mkdir(parents=True)
        first, line = ["--yesno-root", str(yesno_root)], f"yesno_root={other}"
        message = f"--yesno-root '{other}': data/ was made by stage 0 with --yesno-root '{yesno_root.resolve()}'"
    else:
        first, line = ["--an4-root", str(an4_root), "--max-utts", "12"], "max_utts=16"
        message = "--max-utts '16': data/ was made by stage 0 with --max-utts '12'"
    (tmp_path / "my.conf").write_text(line + "\n")
    run_sh(["./run.sh", "--stop-stage", "0", *first], cwd=recipe)
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1", "--config", str(tmp_path / "my.conf")],
                  cwd=recipe, check=False)
    assert proc.returncode == 1 and f"run.sh: ERROR: {message}" in proc.stderr, proc.stderr
    assert not (recipe / "dump").exists()
    # run.sh --print-config true prints every option, stage 0's too: its output, printed from
    # --stage 1 on without the corpus option (the default printed), given back with --config
    # passes the check (it was refused: "--an4-root '': data/ was made by stage 0 with ...").
    keep = [] if name == "yesno" else ["--max-utts", "12"]
    printed = run_sh(["./run.sh", "--print-config", "true", *keep], cwd=recipe).stdout
    (tmp_path / "printed.conf").write_text(printed)
    proc = run_sh(["./run.sh", "--config", str(tmp_path / "printed.conf"), "--stage", "6", "--stop-stage", "6"],
                  cwd=recipe, check=False)
    assert proc.returncode == 1 and "asr.sh: ERROR: stage 6: no exp/" in proc.stderr, proc.stderr
