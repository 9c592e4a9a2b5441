"""Writing torch files: a failed write is the write's OSError naming the file, never torch's
"unexpected pos" RuntimeError, and nothing is left behind. (The real full disks are in
tests/test_hostile_inputs.py; here the write fails at a chosen byte, which a tmpfs cannot do.)"""
from __future__ import annotations

import errno
import io
import os
import pickle
import re

import pytest
import torch

from asrkit.utils.errors import AsrkitError, os_error_message
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


def test_an_os_error_naming_a_descriptor_is_still_one_line(tmp_path):
    """os.fdopen's errors carry the descriptor as their file name: the report raised TypeError on it."""
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(IsADirectoryError) as e:
            os.fdopen(fd, "rb")
    finally:
        os.close(fd)
    assert isinstance(e.value.filename, int)
    message = os_error_message(e.value)
    assert message is not None and message.startswith("is a directory"), message


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


def _flip_bytes_of_record(path, member: str, count: int = 64) -> None:
    """Overwrite ``count`` bytes in the middle of one stored record, as a bad disk or copy would."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(member))
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", f.read(4))
        start = info.header_offset + 30 + name_len + extra_len + info.file_size // 2
        f.seek(start)
        old = f.read(count)
        f.seek(start)
        f.write(bytes(b ^ 0x5A for b in old))


def test_a_damaged_archive_is_refused_naming_the_record(tmp_path):
    """torch.load alone reads changed tensor bytes as other numbers, finite ones: the model then
    decodes to empty text with exit 0. The CRC-32 torch stores for each record catches it."""
    path = tmp_path / "model.pt"
    save_torch(STATE, path)
    _flip_bytes_of_record(path, "/data/0")
    assert not torch.equal(torch.load(path, weights_only=True)["w"], STATE["w"])  # torch itself notices nothing
    with pytest.raises(AsrkitError, match=r"model\.pt: a damaged asrkit model: its record '[^']*/data/0' "
                                          r"fails its CRC-32 check"):
        load_weights_only(path, "asrkit model")


def test_an_archive_with_bytes_cut_out_is_refused_as_damaged(tmp_path):
    """Five bytes lost inside the archive (the mutation sweep, tests/mutations.py: delete@10518 of a
    packed model) shift its directory so that the first record lies before the file's start:
    zipfile's seek there was an '[Errno 22] Invalid argument' traceback from asrkit-decode."""
    path = tmp_path / "model.pt"
    save_torch(STATE, path)
    data = path.read_bytes()
    path.write_bytes(data[:1000] + data[1005:])
    with pytest.raises(AsrkitError, match=r"model\.pt: a damaged asrkit model: its zip directory points before the "
                                          r"start of the file \(bytes were lost"):
        load_weights_only(path, "asrkit model")


def test_an_archive_whose_end_record_names_other_disks_is_refused_as_damaged(tmp_path):
    """A changed byte in the ZIP64 locator before the end record (its count of disks; the mutation
    sweep, tests/mutations.py --seed 79: flip-20-bits of an lm.pt) made zipfile raise "zipfiles that
    span multiple disks are not supported": a BadZipFile traceback from asrkit-decode --lm."""
    import struct

    path = tmp_path / "lm.pt"
    save_torch(STATE, path)
    data = bytearray(path.read_bytes())
    locator = data.rfind(b"PK\x06\x07")  # torch writes ZIP64 records: the locator's last field is the disk count
    assert locator > 0
    data[locator + 16:locator + 20] = struct.pack("<I", 2)
    path.write_bytes(bytes(data))
    with pytest.raises(AsrkitError, match=r"lm\.pt: a damaged asrkit LM: its zip end record names other disks"):
        load_weights_only(path, "asrkit LM")


def test_an_archive_written_without_crcs_still_loads(tmp_path):
    """torch.serialization.set_crc32_options(False) stores 0 for every record: nothing to check."""
    if not hasattr(torch.serialization, "set_crc32_options"):
        pytest.skip(f"torch {torch.__version__} has no set_crc32_options (2.5.1 has none): it always writes CRCs")
    path = tmp_path / "model.pt"
    torch.serialization.set_crc32_options(False)
    try:
        save_torch(STATE, path)
    finally:
        torch.serialization.set_crc32_options(True)
    assert torch.equal(load_weights_only(path, "asrkit model")["w"], STATE["w"])


def test_a_torch_without_bytes_in_its_safe_loader_is_named(tmp_path, monkeypatch):
    """torch before 2.5 refuses the bytes of a model's tokenizer in weights_only loading (its
    message, as torch 2.1.2 says it, is below): every packaged model was 'not an asrkit model'.
    The suite runs on a newer torch, so its refusal is played here."""
    path = tmp_path / "model.pt"
    save_torch({"tokenizer": b"\x00spm"}, path)

    def old_torch_load(*args, **kwargs):
        raise pickle.UnpicklingError("Weights only load failed. Re-running `torch.load` with `weights_only` set to "
                                     "`False` will likely succeed, but it can result in arbitrary code execution."
                                     "Do it only if you get the file from a trusted source. WeightsUnpickler error: "
                                     "Unsupported class _codecs.encode")

    monkeypatch.setattr(torch, "load", old_torch_load)
    with pytest.raises(AsrkitError, match=r"model\.pt: an asrkit model that torch \S+ cannot read: it holds bytes, "
                                          r"which torch's safe loader reads from torch 2\.5 on \(asrkit needs torch >= 2\.5\)$"):
        load_weights_only(path, "asrkit model")


def test_a_symlink_loop_is_named_as_one_when_loading(tmp_path):
    """torch's OSError for a loop fell through to 'not an asrkit checkpoint (not a torch file ...)'."""
    (tmp_path / "loop.pt").symlink_to("loop.pt")
    with pytest.raises(AsrkitError, match=r"loop\.pt: a symbolic link loop .*cannot be resolved"):
        load_weights_only(tmp_path / "loop.pt", "asrkit checkpoint")
    (tmp_path / "dangling.pt").symlink_to("gone.pt")
    with pytest.raises(AsrkitError, match=r"dangling\.pt: a broken symbolic link \(to gone\.pt"):
        load_weights_only(tmp_path / "dangling.pt", "asrkit checkpoint")


def test_other_toolkits_models_and_asrkits_other_files_are_named_as_what_they_are(tmp_path):
    """A model of another toolkit, or asrkit's own model where a checkpoint is read, was named by
    what it lacks: an ESPnet model.acc.best (a bare state dict) "not an asrkit model (no format:
    'asrkit-model' entry)"; a Kaldi final.mdl "not a torch file: it starts with b'\\x00B<T'"; a
    model.pt given to asrkit-average, or copied in as checkpoints/epoch3.pt, "not an asrkit training
    checkpoint (no format: 'asrkit-checkpoint' entry)", though its format entry is there; a
    model.pt.gz "not a torch file: it starts with b'\x1f\x8b\x08\x00'". Each is now named as what it is."""
    from asrkit.models.lm import load_lm
    from asrkit.models.package import read_package_dict
    from asrkit.training.checkpoint import load_checkpoint

    state_dict = tmp_path / "model.acc.best"
    torch.save({"encoder.embed.weight": torch.zeros(3, 2), "decoder.output.bias": torch.zeros(3)}, state_dict)
    bare = ("a bare state dict of 2 tensors, as torch.save(model.state_dict()) writes and ESPnet's model.acc.best "
            "is: weights alone, without the config, features and tokenizer asrkit packs beside them")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{state_dict}: not an asrkit model ({bare})") + "$"):
        read_package_dict(state_dict)
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{state_dict}: not an asrkit LM ({bare})") + "$"):
        load_lm(state_dict)
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{state_dict}: not an asrkit training checkpoint ({bare})")):
        load_checkpoint(state_dict)

    for name, data, token in (("final.mdl", b"\0B<TransitionModel> <Topology> " + bytes(40), "'<TransitionModel>' (binary)"),
                              ("final.txt", b"<Nnet> \n<AffineTransform> 3 2\n", "'<Nnet>' (text)")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(AsrkitError, match="^" + re.escape(
                f"{tmp_path / name}: not an asrkit model (a Kaldi model or object, {token}: asrkit reads only the "
                f"torch files it writes itself, and cannot convert Kaldi's)") + "$"):
            read_package_dict(tmp_path / name)

    import gzip

    (tmp_path / "m.pt.gz").write_bytes(gzip.compress(state_dict.read_bytes()))
    with pytest.raises(AsrkitError, match="^" + re.escape(
            f"{tmp_path}/m.pt.gz: not an asrkit model (gzip-compressed: it starts with gzip's bytes 1F 8B; decompress "
            f"it, e.g. gunzip -k {tmp_path}/m.pt.gz, then give {tmp_path}/m.pt)") + "$"):
        read_package_dict(tmp_path / "m.pt.gz")

    for fmt, packed in (("asrkit-model", "model (asrkit-train's model.pt, or asrkit-average's output)"),
                        ("asrkit-lm", "LM (asrkit-train-lm's lm.pt)")):
        torch.save({"format": fmt, "version": 1}, tmp_path / "epoch3.pt")
        with pytest.raises(AsrkitError, match="^" + re.escape(
                f"{tmp_path}/epoch3.pt: a packed {packed}, not a training checkpoint: checkpoints are the exp dir's "
                f"checkpoints/epoch<N>.pt") + "$"):
            load_checkpoint(tmp_path / "epoch3.pt")
    torch.save({"format": "espnet", "model": {}}, tmp_path / "other.pt")
    with pytest.raises(AsrkitError, match=re.escape("not an asrkit training checkpoint (its format is 'espnet', not "
                                                    "'asrkit-checkpoint')")):
        load_checkpoint(tmp_path / "other.pt")


def test_the_gunzip_a_gzipped_model_is_told_to_run_keeps_the_model(tmp_path, monkeypatch):
    """d70e9ab's remedy for a gzip'ed model was 'gunzip -c <path> > model.pt': for a gzip'ed model.pt
    given in its own directory the shell emptied model.pt before gunzip read it (measured: 588 bytes,
    then 0, and 'gzip: model.pt: unexpected end of file'), and elsewhere it wrote over the model.pt of
    the directory it was run in. The printed command, run as printed where the model was given, now
    leaves the file given intact and writes the torch file it names."""
    import gzip
    import subprocess

    from asrkit.models.package import read_package_dict

    monkeypatch.chdir(tmp_path)
    torch.save({"w": torch.zeros(3)}, "plain.pt")
    plain = (tmp_path / "plain.pt").read_bytes()
    for name in ("model.pt", "m.pt.gz", "model"):
        (tmp_path / name).write_bytes(gzip.compress(plain))
        with pytest.raises(AsrkitError) as e:
            read_package_dict(name)
        command, given = re.search(r"decompress it, e\.g\. (.*?)(?:, then give (\S+))?\)$", str(e.value)).groups()
        subprocess.run(command, shell=True, cwd=tmp_path, check=False)
        assert gzip.decompress((tmp_path / name).read_bytes()) == plain, (name, command)
        given = given or command.split("> ")[-1]
        assert given != name and (tmp_path / given).read_bytes() == plain, (name, command)
        (tmp_path / given).unlink()
