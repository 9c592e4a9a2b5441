"""How a recipe's run.sh is started: cmd.sh's launchers, the shell and the place it is started from.
Each case must fail with one line before any stage works, or work."""
from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

import pytest

from recipe_helpers import make_recipe_copy, new_recipe, run_sh, without_root_override


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


@pytest.mark.parametrize("name", ["yesno", "an4", "fsdd", "librispeech", "a recipe of setup.sh"])
def test_run_sh_started_with_sh_says_to_use_bash(recipe_dir, tmp_path, name):
    """`sh run.sh` where sh is dash (Debian, Ubuntu) stopped with 'run.sh: 16: set: Illegal option -o pipefail'."""
    if shutil.which("dash") is None:
        pytest.skip("no dash here: the sh that is not bash")
    recipe = new_recipe(tmp_path) if name == "a recipe of setup.sh" else recipe_dir(name)
    proc = run_sh(["dash", "run.sh", "--stop-stage", "0"], cwd=recipe, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["run.sh: run me with bash (./run.sh, or bash run.sh), not sh"]
    assert not (recipe / "data").exists()


@pytest.mark.parametrize("name", ["yesno", "an4", "fsdd", "librispeech", "a recipe of setup.sh"])
def test_run_sh_through_a_link_elsewhere_names_the_recipe_directory(recipe_dir, tmp_path, name):
    """~/bin/yesno.sh -> egs/yesno/asr1/run.sh, started from ~/bin, was told 'cd . && ./yesno.sh'."""
    recipe = new_recipe(tmp_path) if name == "a recipe of setup.sh" else recipe_dir(name)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "mine.sh").symlink_to(recipe / "run.sh")
    proc = run_sh(["./mine.sh"], cwd=bindir, check=False)
    assert proc.returncode == 1
    target = Path(os.path.realpath(recipe / "run.sh")).parent  # the copy's run.sh is itself a link
    assert proc.stderr.strip().splitlines() == [
        f"./mine.sh: run me from my recipe directory: cd {target} && ./run.sh (no ./path.sh in {bindir})"]


def test_a_recipe_directory_reached_through_a_link_runs(recipe_dir, tmp_path):
    """cd ~/yesno (a link to egs/yesno/asr1) && ./run.sh: path.sh went up the link's path, to /, and
    said 'path.sh: no asrkit environment at //tools/venv: run //tools/install.sh first'."""
    recipe = recipe_dir("yesno")
    link = tmp_path / "my yesno"
    link.symlink_to(recipe)
    # PWD as a shell that did `cd "$link"` leaves it: bash takes it as the directory's name
    proc = run_sh(["./run.sh", "--stop-stage", "0"], cwd=link, env={"PWD": str(link)}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (recipe / "data/train_nodev/wav.scp").is_file()


def test_a_checkout_under_a_folder_with_a_comma_is_named_before_stage_0(tmp_path):
    """Stage 1 writes ark,scp:<ark>,<scp> with the dump folder's absolute path, where a comma (a
    checkout under lr0.1,bs32/) cannot be told from the one between the names: stage 0 ran, then
    every fbank job failed. A --dumpdir elsewhere runs."""
    recipe = make_recipe_copy(tmp_path / "lr0.1,bs32", "yesno")
    proc = run_sh(["./run.sh", "--stop-stage", "0"], cwd=recipe, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"asr.sh: ERROR: --dumpdir 'dump' is {recipe}/dump, whose comma stage 1's 'ark,scp:<ark>,<scp>' output "
        "cannot hold (Kaldi's wspecifier splits at the first comma): give --dumpdir a folder whose path has no "
        "comma"], proc.stderr
    assert not (recipe / "data").exists()
    run_sh(["./run.sh", "--stop-stage", "0", "--dumpdir", str(tmp_path / "dump")], cwd=recipe)
    assert (recipe / "data/train_nodev/wav.scp").is_file()


def test_a_recipe_directory_this_user_cannot_write_is_named_before_stage_0(recipe_dir, tmp_path):
    """A read-only recipe directory stopped stage 0 at mkdir's bare "mkdir: cannot create directory
    'data': Permission denied". data/, dump/ and exp/ as links to folders of the user's still run."""
    recipe = recipe_dir("yesno")
    recipe.chmod(0o555)
    try:
        proc = run_sh(without_root_override(["./run.sh", "--stop-stage", "0"]), cwd=recipe, check=False)
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines()[-1].startswith(
            f"asr.sh: ERROR: cannot make data/ in {recipe}: "), proc.stderr
        assert proc.stderr.strip().endswith("run the recipe in a copy of asrkit you can write (git clone), "
                                            "or make data a link to a folder of yours")
        assert not (recipe / "data").exists()
        recipe.chmod(0o755)
        for d in ("data", "dump", "exp"):
            (tmp_path / "mine" / d).mkdir(parents=True)
            (recipe / d).symlink_to(tmp_path / "mine" / d)
        recipe.chmod(0o555)
        run_sh(without_root_override(["./run.sh", "--stop-stage", "0"]), cwd=recipe)
        assert (tmp_path / "mine/data/train_nodev/wav.scp").is_file()
        # a --dumpdir whose folders are not there yet is made by mkdir -p, as before
        run_sh(without_root_override(["./run.sh", "--stop-stage", "0", "--dumpdir", str(tmp_path / "new/a/dump")]),
               cwd=recipe)
    finally:
        recipe.chmod(0o755)


def test_a_file_where_data_dump_or_exp_goes_is_named_before_stage_0(recipe_dir, tmp_path):
    """A file where the stages make a folder (one named data, --dumpdir or --expdir naming a file
    or a folder under one) went on to mkdir's bare "cannot create directory 'x': File exists": data
    at stage 0, --expdir at stage 4, after the features, and with --stop-stage 0 not at all (exit 0).
    So did a link to no folder (exp -> a scratch disk not mounted)."""
    recipe = recipe_dir("yesno")
    (recipe / "afile").write_text("")
    (recipe / "gone").symlink_to(tmp_path / "scratch" / "exp")
    broken = f"gone: a broken symbolic link (to {tmp_path}/scratch/exp, which does not exist): make that folder"
    for args, message in ((["--dumpdir", "afile"], "--dumpdir 'afile': afile is a file, not a folder: move it away"),
                          (["--expdir", "afile/x"], "--expdir 'afile/x': afile is a file, not a folder: move it away"),
                          (["--expdir", "gone"], f"--expdir 'gone': {broken}"),
                          (["--dumpdir", "gone/x"], f"--dumpdir 'gone/x': {broken}")):
        proc = run_sh(["./run.sh", "--stop-stage", "0", *args], cwd=recipe, check=False)
        assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == (
            f"asr.sh: ERROR: {message}, or give {args[0]} another folder"), proc.stderr
        assert not (recipe / "data").exists()
    (tmp_path / "scratch" / "exp").mkdir(parents=True)  # the disk back: the link is a folder
    run_sh(["./asr.sh", "--stage", "1", "--stop-stage", "0", "--expdir", "gone", "--dumpdir", "gone/x"], cwd=recipe)
    (recipe / "data").write_text("")
    proc = run_sh(["./run.sh", "--stop-stage", "0"], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == \
        "asr.sh: ERROR: data is a file, not a folder: the stages write data/ there; move it away", proc.stderr


def test_a_results_link_to_a_folder_gone_is_named_before_any_stage(recipe_dir, tmp_path):
    """A RESULTS.md that is a link to a file in a folder since removed passed the --results check
    (the link's own folder exists) and failed when stage 6 appended to it, after the training."""
    recipe = recipe_dir("yesno")
    (recipe / "RESULTS.md").symlink_to(tmp_path / "gone" / "RESULTS.md")
    proc = run_sh(["./run.sh", "--stage", "1"], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == (
        f"asr.sh: ERROR: --results 'RESULTS.md' is a link to {tmp_path}/gone/RESULTS.md, in no folder that exists: give "
        f"a file to append the rows to, in a folder that exists (default: RESULTS.md)"), proc.stderr
    (tmp_path / "gone").mkdir()  # (the file itself need not be there: the append makes it)
    proc = run_sh(["./run.sh", "--stage", "1"], cwd=recipe, check=False)
    assert "RESULTS.md" not in proc.stderr and "no data/train_nodev" in proc.stderr, proc.stderr


def test_a_results_file_this_user_cannot_write_is_named_before_stage_1(recipe_dir, tmp_path):
    """A read-only RESULTS.md (or a recipe directory where it cannot be made) failed only at stage 6,
    after the training. It is named with the other directories when stage 6 is in the range."""
    recipe = recipe_dir("yesno")
    (recipe / "RESULTS.md").write_text("# results\n")
    (recipe / "RESULTS.md").chmod(0o444)
    proc = run_sh(without_root_override(["./run.sh", "--stage", "1"]), cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == (
        "asr.sh: ERROR: cannot write RESULTS.md (-r--r--r--): "
        f"{pwd.getpwuid(os.geteuid()).pw_name} may not write it, and stage 6 adds its rows "
        "there; make it writable (chmod u+w RESULTS.md), or give --results a file of yours"), proc.stderr
    assert not (recipe / "dump").exists()
    # not asked when stage 6 is not run: the run goes on to its next check (no data/ yet)
    proc = run_sh(without_root_override(["./run.sh", "--stage", "1", "--stop-stage", "5"]), cwd=recipe, check=False)
    assert "RESULTS.md" not in proc.stderr and "no data/train_nodev" in proc.stderr, proc.stderr
    (recipe / "RESULTS.md").unlink()
    for d in ("data", "dump", "exp"):
        (tmp_path / "mine" / d).mkdir(parents=True)
        (recipe / d).symlink_to(tmp_path / "mine" / d)
    recipe.chmod(0o555)
    try:
        proc = run_sh(without_root_override(["./run.sh", "--stage", "1"]), cwd=recipe, check=False)
        assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1].startswith(
            f"asr.sh: ERROR: cannot make RESULTS.md in {recipe}: "), proc.stderr
        assert proc.stderr.strip().endswith("and stage 6 adds its rows to it; give --results a file in a folder of "
                                            "yours"), proc.stderr
        proc = run_sh(without_root_override(["./run.sh", "--stage", "1", "--results", str(tmp_path / "R.md")]),
                      cwd=recipe, check=False)
        assert "RESULTS.md" not in proc.stderr and "no data/train_nodev" in proc.stderr, proc.stderr
    finally:
        recipe.chmod(0o755)


def test_yesno_root_this_user_cannot_read_is_named(recipe_dir, tmp_path):
    """waves_yesno/ of mode 000 was bash's 'local/data.sh: line 38: cd: .../waves_yesno: Permission
    denied'; a --yesno-root of mode 000 was 'no waves_yesno/ folder there', though there is one."""
    recipe = recipe_dir("yesno")
    root = tmp_path / "yesno"
    shutil.copytree(recipe / "corpus/waves_yesno", root / "waves_yesno")
    for closed in (root / "waves_yesno", root):
        closed.chmod(0)
        try:
            proc = run_sh(without_root_override(["local/data.sh", "--yesno-root", str(root)]), cwd=recipe, check=False)
        finally:
            closed.chmod(0o755)
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines()[-1].startswith(
            f"local/data.sh: ERROR: --yesno-root {root}: "), proc.stderr
        assert proc.stderr.strip().endswith(f" cannot read the folder {closed} (d---------)"), proc.stderr
    run_sh(["local/data.sh", "--yesno-root", str(root)], cwd=recipe)


def test_a_yesno_root_this_user_can_only_pass_through_runs(recipe_dir, tmp_path):
    """A --yesno-root of mode 711 (a shared home folder: others may pass through, not list it)
    holding a readable waves_yesno/ ran stage 0 at 1742106; aed8b44 refused it as a folder
    'root cannot read', though only waves_yesno/ is listed."""
    recipe = recipe_dir("yesno")
    root = tmp_path / "yesno"
    shutil.copytree(recipe / "corpus/waves_yesno", root / "waves_yesno")
    root.chmod(0o111)  # --x for every user, the owner (the test's own user) included
    try:
        proc = run_sh(without_root_override(["local/data.sh", "--yesno-root", str(root)]), cwd=recipe, check=False)
    finally:
        root.chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert len((recipe / "data/test/wav.scp").read_text().splitlines()) == 30
