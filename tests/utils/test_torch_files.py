"""Writing torch files: a failed write is the write's OSError naming the file, never torch's
"unexpected pos" RuntimeError, and nothing is left behind. (The real full disks are in
tests/test_hostile_inputs.py; here the write fails at a chosen byte, which a tmpfs cannot do.)"""
from __future__ import annotations

import errno
import io
import os

import pytest
import torch

from asrkit.utils.errors import os_error_message
from asrkit.utils.torch_files import load_weights_only, save_torch

STATE = {"w": torch.arange(50_000, dtype=torch.float32), "meta": {"epoch": 3}}


class _DiskFullAfter(io.RawIOBase):
    """A raw file that takes ``room`` bytes and then fails as a full disk does."""

    def __init__(self, room: int) -> None:
        self.room = room

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        n = len(memoryview(data))
        if n > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= n
        return n


@pytest.mark.parametrize("room", [0, 300, 100_000])
def test_torch_alone_hides_the_full_disk(room):
    """Why save_torch exists: torch.save turns the write's OSError into a RuntimeError."""
    with pytest.raises(RuntimeError, match="unexpected pos"):
        torch.save(STATE, io.BufferedWriter(_DiskFullAfter(room)))


@pytest.mark.parametrize("room", [0, 300, 100_000])
def test_a_failed_write_is_the_os_error_naming_the_file(tmp_path, monkeypatch, room):
    real_open = open

    def full_disk_open(path, mode="r", *args, **kw):
        if "w" in mode and os.path.basename(str(path)).startswith(".model.pt."):
            real_open(path, mode).close()  # the temporary file exists, as on a real disk
            return io.BufferedWriter(_DiskFullAfter(room))
        return real_open(path, mode, *args, **kw)

    monkeypatch.setattr("builtins.open", full_disk_open)
    with pytest.raises(OSError) as e:
        save_torch(STATE, tmp_path / "model.pt")
    monkeypatch.undo()
    assert e.value.errno == errno.ENOSPC
    assert os_error_message(e.value) == f"{tmp_path / 'model.pt'}: no space left on device"
    assert os.listdir(tmp_path) == []  # no model.pt, no temporary file


def test_written_file_reads_back(tmp_path):
    save_torch(STATE, tmp_path / "x.pt")
    back = load_weights_only(tmp_path / "x.pt", "x")
    assert torch.equal(back["w"], STATE["w"]) and back["meta"] == {"epoch": 3}
    assert os.listdir(tmp_path) == ["x.pt"]


def test_other_runtime_errors_stay_what_they_are(tmp_path, monkeypatch):
    def broken_save(obj, f):
        raise RuntimeError("not about the disk")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(RuntimeError, match="not about the disk"):
        save_torch(STATE, tmp_path / "x.pt")
    assert os.listdir(tmp_path) == []
