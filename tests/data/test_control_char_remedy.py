"""The remedy of a control character in an id (bcbd2d9c): 'let asrkit-fix-data-dir <data-dir> drop
it' was printed by every table reader, also for files in no data dir (asrkit-score's hypothesis
file, a table on stdin), where that command repairs nothing, and with '<data-dir>' where the dir
was known. It is now given only for a data dir's table, as a command that runs as printed."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from asrkit.data.datadir import RECO_TABLES, SPK_TABLES, UTT_TABLES
from asrkit.data.table import iter_table, iter_table_fast, read_table
from asrkit.data.validate import validate_data_dir
from asrkit.utils.errors import AsrkitError

NAMES = ["my data", "Bob's files", "a;b $HOME", "-x"]


def _data_dir(d: Path) -> None:
    d.mkdir()
    (d / "wav.scp").write_text("u\x011 a.wav\nu2 b.wav\n")
    (d / "utt2spk").write_text("u\x011 u\nu2 u\n")
    (d / "spk2utt").write_text("u u\x011 u2\n")
    (d / "text").write_text("u\x011 A\nu2 B\n")


def test_the_tables_named_are_the_ones_fix_data_dir_filters():
    from asrkit.data.table import FIXED_TABLES

    assert FIXED_TABLES == set(UTT_TABLES + RECO_TABLES + SPK_TABLES + ("spk2utt",))


@pytest.mark.parametrize("folder", NAMES)
def test_a_data_dir_table_gives_a_fix_data_dir_command_that_works(tmp_path, monkeypatch, folder):
    _data_dir(tmp_path / folder)
    monkeypatch.chdir(tmp_path)  # (a relative dir: '-x' must not be read as an option)
    d = Path(folder)
    for reader in (read_table, lambda p: list(iter_table(p)), lambda p: list(iter_table_fast(p))):
        with pytest.raises(AsrkitError) as e:
            reader(d / "wav.scp")
        assert str(e.value).endswith("; rename it in every table that holds it, or let asrkit-fix-data-dir "
                                     f"{shlex.quote(folder if not folder.startswith('-') else './' + folder)} drop it"), e.value
    errs = [str(p) for p in validate_data_dir(d, check_wav_files=False) if p.is_error]
    assert any("or let asrkit-fix-data-dir" in e for e in errs), errs
    command = re.search(r"or let (asrkit-fix-data-dir .*) drop it$", str(e.value)).group(1)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, check=True, timeout=120, capture_output=True)
    assert read_table(d / "wav.scp") == {"u2": "b.wav"} and read_table(d / "spk2utt") == {"u": "u2"}


def test_a_file_in_no_data_dir_gets_no_fix_data_dir_remedy(asrkit, tmp_path):
    """asrkit-score's hypothesis file (exp/.../decode/text has no utt2spk beside it), a list
    beside a data dir's tables, stdin: asrkit-fix-data-dir has no data dir there to repair."""
    _data_dir(tmp_path / "data")
    (tmp_path / "data/text").write_text("u1 A\nu2 B\n")
    (tmp_path / "decode").mkdir()
    (tmp_path / "decode/text").write_text("u\x1b[0m1 A\nu2 B\n")
    proc = asrkit("score", "--output-dir", tmp_path / "out", tmp_path / "data/text", tmp_path / "decode/text",
                  check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].endswith("Kaldi ids cannot hold one; rename it in every table that holds it"), err
    (tmp_path / "data/hyp.txt").write_text("u\x011 A\n")
    with pytest.raises(AsrkitError) as e:
        read_table(tmp_path / "data/hyp.txt")
    assert "fix-data-dir" not in str(e.value)
    from asrkit.data.table import data_dir_of

    assert data_dir_of("-") is None and data_dir_of("<stdin>") is None and data_dir_of(tmp_path / "decode/text") is None
    # the reference, a data dir's text, does get it
    (tmp_path / "data/text").write_text("u\x011 A\nu2 B\n")
    proc = asrkit("score", "--output-dir", tmp_path / "out", tmp_path / "data/text", tmp_path / "decode/text",
                  check=False)
    err = proc.stderr.decode()
    assert err.strip().splitlines()[-1].endswith(f"or let asrkit-fix-data-dir {tmp_path / 'data'} drop it"), err
