import pytest

from asrkit.utils.fileio import AtomicFiles, atomic_open


def test_atomic_open_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_open(target) as f:
            f.write("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_open_replaces_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_open(target) as f:
        f.write("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_files_commit_together_or_not_at_all(tmp_path):
    with pytest.raises(ValueError):
        with AtomicFiles() as files:
            files.tmp(tmp_path / "a").write_text("a")
            files.tmp(tmp_path / "b").write_text("b")
            raise ValueError
    assert list(tmp_path.iterdir()) == []
    with AtomicFiles() as files:
        files.tmp(tmp_path / "a").write_text("a")
        files.tmp(tmp_path / "b").write_text("b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
