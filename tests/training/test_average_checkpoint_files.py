"""asrkit-average given checkpoint files of a run, as ESPnet's average_checkpoints.py takes snapshots."""
from __future__ import annotations

import shutil

from asrkit.models.package import load_package

from .test_damaged_checkpoints import _damage, trained  # noqa: F401  (fixture)
from .test_train_cli import _run_inproc


def test_checkpoint_files_of_one_run_are_averaged(trained, tmp_path):  # noqa: F811
    """'asrkit-average exp/las/checkpoints/epoch2.pt' was "not a directory", and a shell pattern's
    expansion (epoch*.pt) "Got unexpected extra arguments": a Kaldi/ESPnet user names snapshots."""
    exp = tmp_path / "exp"
    shutil.copytree(trained, exp)
    ckpts = exp / "checkpoints"
    code, err = _run_inproc("average", ckpts / "epoch2.pt")
    assert code == 0, err
    assert load_package(exp / "model.avg.pt").meta.extra["epochs"] == [2]
    # a pattern's expansion: all of them by default, the --num best of them with --num
    code, err = _run_inproc("average", "--out", tmp_path / "all.pt", ckpts / "epoch1.pt", ckpts / "epoch2.pt")
    assert code == 0, err
    assert sorted(load_package(tmp_path / "all.pt").meta.extra["epochs"]) == [1, 2]
    code, err = _run_inproc("average", "--num", "1", "--out", tmp_path / "one.pt", ckpts / "epoch1.pt",
                            ckpts / "epoch2.pt")
    assert code == 0, err
    by_dir = tmp_path / "by_dir.pt"
    assert _run_inproc("average", "--num", "1", "--out", by_dir, exp)[0] == 0
    assert load_package(tmp_path / "one.pt").meta.extra["epochs"] == load_package(by_dir).meta.extra["epochs"]
    # what is not one run's checkpoints is refused, naming it, and nothing is written
    other = tmp_path / "other"
    shutil.copytree(trained, other)
    for args, message in (
            ([exp / "model.pt"], f"{exp / 'model.pt'}: not a checkpoint of an exp dir (<exp-dir>/checkpoints/"
                                 f"epoch<N>.pt, as asrkit-train writes them): give the exp dir, or its checkpoints"),
            ([ckpts / "epoch7.pt", ckpts / "epoch1.pt"], f"{ckpts / 'epoch7.pt'}: no such checkpoint"),
            ([exp, ckpts / "epoch1.pt"], f"{exp}: a directory among 2 arguments: give one exp dir, or checkpoint "
                                         f"files of one run (<exp-dir>/checkpoints/epoch<N>.pt)"),
            ([ckpts / "epoch1.pt", other / "checkpoints" / "epoch2.pt"],
             f"checkpoints of 2 exp dirs ({exp}, {other}): average checkpoints of one run only")):
        code, err = _run_inproc("average", "--out", tmp_path / "no.pt", *args)
        assert code == 1 and err.strip().splitlines()[-1] == f"ERROR (asrkit-average): {message}", err
        assert not (tmp_path / "no.pt").exists()
    # an exp dir, and its checkpoints folder, as before
    code, err = _run_inproc("average", "--out", tmp_path / "no.pt", ckpts)
    assert code == 1 and "holds the checkpoints themselves; give the exp dir they are in" in err
    code, err = _run_inproc("average", "--out", tmp_path / "no.pt", tmp_path / "nothere")
    assert code == 1 and f"{tmp_path / 'nothere'}: no such exp dir" in err


def test_checkpoint_files_named_from_inside_their_folder(trained, tmp_path, monkeypatch):  # noqa: F811
    """'cd exp/las/checkpoints; asrkit-average epoch1.pt epoch2.pt' said 'epoch1.pt: not a
    checkpoint of an exp dir', though each is one: the folder was read from the name as given."""
    exp = tmp_path / "exp"
    shutil.copytree(trained, exp)
    monkeypatch.chdir(exp / "checkpoints")
    code, err = _run_inproc("average", "epoch1.pt", "epoch2.pt")
    assert code == 0, err
    assert sorted(load_package(exp / "model.avg.pt").meta.extra["epochs"]) == [1, 2]


def test_a_checkpoint_given_twice_is_named(trained, tmp_path):  # noqa: F811
    """'asrkit-average epoch2.pt epoch2.pt' (a typo for epoch1.pt epoch2.pt), or one checkpoint by
    two paths (a symlinked exp dir, a checkpoint symlinked under another epoch's name), averaged
    in silence: one checkpoint where the user asked for two, or one checkpoint's weights counted
    twice. It is averaged once, with a warning naming the file and the other path."""
    exp = tmp_path / "exp"
    shutil.copytree(trained, exp)
    ckpts = exp / "checkpoints"
    code, err = _run_inproc("average", "--out", tmp_path / "a.pt", ckpts / "epoch2.pt", ckpts / "epoch2.pt")
    assert code == 0, err
    assert f"{ckpts / 'epoch2.pt'}: given twice: averaged once" in err, err
    assert load_package(tmp_path / "a.pt").meta.extra["epochs"] == [2]
    link = tmp_path / "link"
    link.symlink_to(exp)
    code, err = _run_inproc("average", "--out", tmp_path / "b.pt", ckpts / "epoch2.pt",
                            link / "checkpoints" / "epoch2.pt")
    assert code == 0, err
    assert (f"{link / 'checkpoints' / 'epoch2.pt'}: the same file as {ckpts / 'epoch2.pt'} (given twice): "
            f"averaged once") in err, err
    # a checkpoint symlinked under a later epoch's name: the same weights, once
    (ckpts / "epoch3.pt").symlink_to("epoch2.pt")
    for args, epochs, given in (([ckpts / "epoch2.pt", ckpts / "epoch3.pt"], [2], " (given twice)"),
                                ([exp], [1, 2], "")):
        out = tmp_path / "c.pt"
        code, err = _run_inproc("average", "--out", out, *args)
        assert code == 0, err
        assert f"{ckpts / 'epoch3.pt'}: the same file as {ckpts / 'epoch2.pt'}{given}: averaged once" in err, err
        assert sorted(load_package(out).meta.extra["epochs"]) == epochs, err
        out.unlink()
    # distinct checkpoints: no such warning
    code, err = _run_inproc("average", "--out", tmp_path / "d.pt", ckpts / "epoch1.pt", ckpts / "epoch2.pt")
    assert code == 0 and "given twice" not in err and "the same file" not in err, err


def test_a_checkpoint_linked_under_another_epoch_is_the_reason_given_for_fewer(trained, tmp_path):  # noqa: F811
    """With epoch3.pt a link to epoch2.pt and '--num 3' from the exp dir, the link was averaged once
    and the count's warning then blamed the config: '3 checkpoint(s) asked for, 2 available
    (training.keep_best limits how many are kept)', which kept all three. It names the link now;
    keep_best only where the link alone does not account for the shortfall."""
    exp = tmp_path / "exp"
    shutil.copytree(trained, exp)
    (exp / "checkpoints" / "epoch3.pt").symlink_to("epoch2.pt")
    code, err = _run_inproc("average", "--num", "3", "--out", tmp_path / "a.pt", exp)
    assert code == 0, err
    assert ("3 checkpoint(s) asked for, 2 available (epoch3.pt is epoch2.pt: one file, averaged once): "
            "averaging 2") in err, err
    assert "keep_best" not in err, err
    assert sorted(load_package(tmp_path / "a.pt").meta.extra["epochs"]) == [1, 2]
    code, err = _run_inproc("average", "--num", "5", "--out", tmp_path / "b.pt", exp)
    assert code == 0, err
    assert ("5 checkpoint(s) asked for, 2 available (epoch3.pt is epoch2.pt: one file, averaged once; "
            "2 epoch(s) trained): averaging 2") in err, err


def test_a_run_shorter_than_num_is_the_reason_given_not_keep_best(trained, tmp_path):  # noqa: F811
    """A recipe's stage 4 stopped by its time budget after epoch 1 (AN4, --train-max-time 60) warned
    '5 checkpoint(s) asked for, 1 available (training.keep_best limits how many are kept)', though
    keep_best (5) had kept every epoch: the run was shorter than --num. keep_best is named where
    it is the reason: a trained epoch's checkpoint gone."""
    exp = tmp_path / "exp"
    shutil.copytree(trained, exp)
    code, err = _run_inproc("average", "--num", "5", "--out", tmp_path / "a.pt", exp)
    assert code == 0, err
    assert "5 checkpoint(s) asked for, 2 available (2 epoch(s) trained): averaging 2" in err, err
    code, err = _run_inproc("average", "--num", "5", "--max-epoch", "1", "--out", tmp_path / "b.pt", exp)
    assert code == 0, err
    assert "5 checkpoint(s) asked for, 1 available (1 epoch(s) trained up to --max-epoch 1): averaging 1" in err, err
    (exp / "checkpoints" / "epoch1.pt").unlink()   # (the last epoch's holds the run's history)
    code, err = _run_inproc("average", "--num", "2", "--out", tmp_path / "c.pt", exp)
    assert code == 0, err
    assert ("2 checkpoint(s) asked for, 1 available (training.keep_best limits how many are kept): averaging 1"
            in err), err


def test_the_epochs_trained_are_the_run_s_where_its_record_falls_short(trained, tmp_path):  # noqa: F811
    """The epochs trained were counted from the record of the latest checkpoint averaged: with none
    (a train_state without history) '0 epoch(s) trained' beside two checkpoints, and with --max-epoch
    2 where keep_best had deleted epoch 2's checkpoint, '1 epoch(s) trained up to --max-epoch 2'
    (epoch 1's record), keep_best unnamed; a link epoch3.pt -> epoch2.pt was the reason given with
    --max-epoch 2 too. The checkpoints' own epochs say how far the run got."""
    exp = tmp_path / "exp"
    shutil.copytree(trained, exp)
    ckpts = exp / "checkpoints"
    (ckpts / "epoch2.pt").rename(ckpts / "epoch3.pt")   # (a later epoch's: not read with --max-epoch 2)
    code, err = _run_inproc("average", "--num", "5", "--max-epoch", "2", "--out", tmp_path / "a.pt", exp)
    assert code == 0, err
    assert ("5 checkpoint(s) asked for, 1 available (2 epoch(s) trained up to --max-epoch 2; training.keep_best "
            "limits how many are kept): averaging 1") in err, err
    (ckpts / "epoch3.pt").rename(ckpts / "epoch2.pt")
    # a link beyond --max-epoch is no reason either
    (ckpts / "epoch3.pt").symlink_to("epoch2.pt")
    code, err = _run_inproc("average", "--num", "5", "--max-epoch", "2", "--out", tmp_path / "c.pt", exp)
    assert code == 0, err
    assert "5 checkpoint(s) asked for, 2 available (2 epoch(s) trained up to --max-epoch 2): averaging 2" in err, err
    (ckpts / "epoch3.pt").unlink()
    _damage(ckpts / "epoch2.pt", lambda s: s["train_state"].pop("history"))
    code, err = _run_inproc("average", "--num", "5", "--out", tmp_path / "b.pt", exp)
    assert code == 0, err
    assert "5 checkpoint(s) asked for, 2 available (2 epoch(s) trained): averaging 2" in err, err
