"""The shared recipe runs (recipe_helpers.RecipeRuns, copy_recipe_run) that recipe tests start from:
a copy must read only its own files, keep the times the stages' checks read, and a run is made once."""
from __future__ import annotations

import os

import pytest

from recipe_helpers import RecipeRuns, copy_recipe_run, make_recipe_copy


def fake_run(recipe):
    """The shapes a real run leaves: a feats.scp naming its own arks, an ark, a log, a RESULTS.md."""
    (recipe / "dump/test").mkdir(parents=True)
    (recipe / "dump/test/feats.ark").write_bytes(b"u1 \0BFM \x04\x01")
    (recipe / "dump/test/feats.scp").write_text(f"u1 {recipe}/dump/test/feats.ark:3\n")
    (recipe / "exp/m/log").mkdir(parents=True)
    (recipe / "exp/m/log/train.log").write_text(f"# asrkit-train --train-dir {recipe}/dump/train\n")
    (recipe / "exp/m/final.pt").symlink_to("model.pt")
    (recipe / "RESULTS.md").write_text("# results\n")
    os.utime(recipe / "dump/test/feats.scp", (1_000_000, 1_000_000))
    return "made"


def test_a_copy_names_its_own_files_and_keeps_their_times(tmp_path):
    src = make_recipe_copy(tmp_path / "a", "yesno")
    fake_run(src)
    dst = copy_recipe_run(src, tmp_path / "b")
    assert dst != src and (dst / "run.sh").resolve() == (src / "run.sh").resolve()
    assert (dst / "dump/test/feats.scp").read_text() == f"u1 {dst}/dump/test/feats.ark:3\n"
    assert (dst / "dump/test/feats.scp").stat().st_mtime == 1_000_000
    assert str(src) not in (dst / "exp/m/log/train.log").read_text()
    assert os.readlink(dst / "exp/m/final.pt") == "model.pt" and (dst / "RESULTS.md").is_file()
    assert (src / "dump/test/feats.scp").read_text() == f"u1 {src}/dump/test/feats.ark:3\n"  # the source untouched


def test_a_binary_file_or_link_naming_the_run_is_refused(tmp_path):
    src = make_recipe_copy(tmp_path / "a", "yesno")
    fake_run(src)
    (src / "exp/m/model.pt").write_bytes(b"PK\0\0" + str(src).encode())
    with pytest.raises(AssertionError, match="a binary file naming"):
        copy_recipe_run(src, tmp_path / "b")
    (src / "exp/m/model.pt").unlink()
    (src / "exp/m/best.pt").symlink_to(src / "exp/m/final.pt")
    with pytest.raises(AssertionError, match="a link into the run"):
        copy_recipe_run(src, tmp_path / "c")


def test_a_run_is_made_once_and_a_failed_one_again(tmp_path):
    runs, calls = RecipeRuns(tmp_path / "runs"), []

    def make(recipe):
        calls.append(recipe)
        return fake_run(recipe)

    first, made = runs.get("k", "yesno", make, tmp_path / "t1")
    second, _ = runs.get("k", "yesno", make, tmp_path / "t2")
    assert len(calls) == 1 and made == "made" and first != second
    assert (second / "dump/test/feats.scp").read_text() == f"u1 {second}/dump/test/feats.ark:3\n"

    def broken(recipe):
        calls.append(recipe)
        (recipe / "data").mkdir()
        raise AssertionError("stage 2 failed")

    for attempt in (1, 2):
        with pytest.raises(AssertionError, match="stage 2 failed"):
            runs.get("bad", "yesno", broken, tmp_path / f"b{attempt}")
    assert len(calls) == 3 and not (tmp_path / "runs/bad.done").exists()
