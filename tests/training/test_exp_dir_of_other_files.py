"""An EXP_DIR that is an existing directory of other files ('asrkit-train ... /', $HOME, a
project folder) was trained into with exit 0: checkpoints/, log/, config.yaml and model.pt went
in among the user's files. It is refused now, in one line, before anything is written; a new or
empty directory, an exp dir a run has started in (a resume), and one asr.sh or a launcher has
made for the run are taken as before."""
from __future__ import annotations

import pytest

from asrkit.training.average import RUN_FILES
from asrkit.training.exp_lock import refuse_foreign_dir
from asrkit.utils.errors import AsrkitError

from .test_train_cli import _run_inproc
from .yesno_dump import train_args


@pytest.mark.parametrize("command", ["train", "train-lm"])
def test_a_directory_of_other_files_is_refused_before_anything_is_written(yesno_setup, tmp_path, command):
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    (home / ".bashrc").write_text("export PS1='$ '\n")
    (home / "notes.txt").write_text("mine\n")
    (home / "todo.md").write_text("mine too\n")
    before = sorted(p.name for p in home.iterdir())
    if command == "train":
        code, err = _run_inproc(*train_args(yesno_setup, home))
        own = "checkpoints/, log/, config.yaml, model.pt"
    else:
        code, err = _run_inproc("train-lm", "--lang-dir", yesno_setup / "data" / "lang",
                                yesno_setup / "dump" / "train" / "text", home)
        own = "log/, lm.yaml, lm.pt"
    assert code == 1 and err.rstrip().splitlines()[-1] == (
        f"ERROR (asrkit-{command}): {home}: not an exp dir: it holds 4 entries (.bashrc, Documents, notes.txt, "
        f"...) and none of an asrkit-{command} run's ({own}), so the run would write its own among them; give "
        f"EXP_DIR a new or empty directory, or the exp dir of the run to resume"), err
    assert sorted(p.name for p in home.iterdir()) == before  # not even the lock file


@pytest.mark.parametrize("contents", [
    [],                                              # empty: a fresh exp dir (mkdir -p exp/las)
    ["checkpoints/epoch1.pt"],                       # a run's, to resume
    ["config.yaml"], ["model.pt"], [".lock"],
    ["log/train.log", "train_inputs"],               # asr.sh's stage 4, before asrkit-train starts
    [".done", "model.avg.pt"],
    ["train.log"],                                   # a launcher given <exp>/train.log
    ["lm.pt"],                                       # an LM's: refused later, naming that run
])
def test_an_exp_dir_or_one_made_for_the_run_is_taken(tmp_path, contents):
    exp = tmp_path / "exp"
    exp.mkdir()
    for name in contents:
        (exp / name).parent.mkdir(parents=True, exist_ok=True)
        (exp / name).write_text("")
    refuse_foreign_dir(exp, [*RUN_FILES, "lm.pt", "lm.yaml", "log/train_lm.log"], "asrkit-train")
    refuse_foreign_dir(tmp_path / "new", RUN_FILES, "asrkit-train")  # not there yet
    (tmp_path / "file").write_text("")
    refuse_foreign_dir(tmp_path / "file", RUN_FILES, "asrkit-train")  # (exp_dir_lock names it)


def test_one_entry_is_named_as_one(tmp_path):
    (tmp_path / "a.txt").write_text("")
    with pytest.raises(AsrkitError, match=r": not an exp dir: it holds 1 entry \(a.txt\) and none"):
        refuse_foreign_dir(tmp_path, RUN_FILES, "asrkit-train")
