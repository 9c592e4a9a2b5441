"""The commands the BOM and UTF-16 errors print work as printed, on a path with a space or a quote
in it (a folder 'my data', a recipe under a user's "Bob's files"): the path was pasted in bare, so
the shell split it and sed said "can't read my", or waited for a closing quote. A text ark whose
later keys hold one (55429231) said only "remove it"."""
from __future__ import annotations

import io
import re
import shlex
import subprocess

import kaldiio
import numpy as np
import pytest

from asrkit.data.matrix_io import iter_ark, iter_ark_file
from asrkit.data.table import read_table
from asrkit.utils.errors import AsrkitError

BOM = "\ufeff"
NAMES = ["my data", "Bob's files", "a;b $HOME"]


def _printed_command(message: str) -> str:
    found = re.search(r"\(((?:sed|iconv) .*)\)$", message)
    assert found, message
    return found.group(1)


def _run(command: str, tmp_path) -> None:
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True, timeout=60)


@pytest.mark.parametrize("folder", NAMES)
def test_the_table_bom_commands_work_as_printed(tmp_path, folder):
    d = tmp_path / folder
    d.mkdir()
    path = d / "wav.scp"
    for content, line in ((f"{BOM}u1 a.wav\nu2 b.wav\n", 1), (f"u1 a.wav\n{BOM}u2 b.wav\n{BOM}u3 c.wav\n", 2)):
        path.write_text(content, encoding="utf-8")
        with pytest.raises(AsrkitError) as e:
            read_table(path)
        assert str(e.value).startswith(f"{path}:{line}: starts with a UTF-8 byte-order mark"), e.value
        _run(_printed_command(str(e.value)), tmp_path)
        assert BOM not in path.read_text(encoding="utf-8")
        assert list(read_table(path)) == ["u1", "u2", "u3"][:content.count("\n")]
    path.write_bytes("u1 a.wav\nu2 b.wav\n".encode("utf-16"))
    with pytest.raises(AsrkitError) as e:
        read_table(path)
    _run(_printed_command(str(e.value)), tmp_path)
    assert read_table(d / "wav.scp.utf8") == {"u1": "a.wav", "u2": "b.wav"}


def _text_entry(key: str, mat: np.ndarray) -> bytes:
    buf = io.BytesIO()
    kaldiio.save_ark(buf, {key: mat}, text=True)
    return buf.getvalue()


@pytest.mark.parametrize("folder", NAMES)
def test_the_ark_bom_command_works_as_printed(tmp_path, folder):
    """Text arks each saved with a BOM and joined with cat: the error gives the sed that removes
    them, which then leaves an ark of every entry."""
    rng = np.random.default_rng(0)
    feats = {u: rng.standard_normal((3, 4)).astype(np.float32) for u in ("u1", "u2", "u3")}
    d = tmp_path / folder
    d.mkdir()
    ark = d / "joined.ark"
    ark.write_bytes(b"".join((b"\xef\xbb\xbf" if k != "u1" else b"") + _text_entry(k, m) for k, m in feats.items()))
    with pytest.raises(AsrkitError) as e:
        list(iter_ark_file(str(ark)))
    assert str(e.value).startswith(f"{ark}: entry 2: the key '\\ufeffu2' starts with a UTF-8 byte-order mark"), e.value
    assert str(e.value).endswith(": remove them (sed -i 's/^\\xEF\\xBB\\xBF//' " + _quoted(ark) + ")"), e.value
    _run(_printed_command(str(e.value)), tmp_path)
    read = dict(iter_ark_file(str(ark)))
    assert list(read) == list(feats)
    for k, m in feats.items():
        np.testing.assert_allclose(read[k], m, rtol=1e-6)


def _quoted(path) -> str:
    import shlex

    return shlex.quote(str(path))


def test_no_ark_command_where_sed_cannot_do_it(tmp_path):
    """No sed for an ark read from stdin or a pipe (no file to edit), nor before a binary entry,
    where a key need not start a line and sed would change the BOM's bytes after any line feed of
    the data."""
    rng = np.random.default_rng(1)
    m = rng.standard_normal((3, 4)).astype(np.float32)
    text = _text_entry("u1", m) + b"\xef\xbb\xbf" + _text_entry("u2", m)
    with pytest.raises(AsrkitError) as e:
        list(iter_ark(io.BufferedReader(io.BytesIO(text)), "<stdin>"))
    assert str(e.value).endswith("(text archives each saved with one and joined with cat?): remove them"), e.value
    buf = io.BytesIO()
    kaldiio.save_ark(buf, {"u2": m})
    binary = tmp_path / "mixed.ark"
    binary.write_bytes(_text_entry("u1", m) + b"\xef\xbb\xbf" + buf.getvalue())
    with pytest.raises(AsrkitError) as e:
        list(iter_ark_file(str(binary)))
    assert str(e.value).endswith("(text archives each saved with one and joined with cat?): remove them"), e.value


def test_a_control_character_id_says_what_to_do_and_that_works(tmp_path):
    """b9b3d793's refusal said only that Kaldi ids cannot hold one; asrkit-fix-data-dir, which it now
    names, drops the utterance, and the data dir reads."""
    from asrkit.data.fix import fix_data_dir

    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text("u\x011 a.wav\nu2 b.wav\n")
    (d / "utt2spk").write_text("u\x011 u\nu2 u\n")
    (d / "spk2utt").write_text("u u\x011 u2\n")
    (d / "text").write_text("u\x011 A\nu2 B\n")
    with pytest.raises(AsrkitError) as e:
        read_table(d / "wav.scp")
    assert str(e.value) == (f"{d}/wav.scp:1: the control character U+0001 '\\x01' at character 1 of the id "
                            f"'u\\x011': Kaldi ids cannot hold one; rename it in every table that holds it, or let "
                            f"asrkit-fix-data-dir {shlex.quote(str(d))} drop it")
    fix_data_dir(d)
    assert read_table(d / "wav.scp") == {"u2": "b.wav"} and read_table(d / "spk2utt") == {"u": "u2"}
