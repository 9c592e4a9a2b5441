"""An output directory that is a regular file, or lies under one, is one line in one wording from
every command: '<name> is a file, not a directory', exit 1, nothing written.

It was click's usage error (exit 2, "Invalid value for '--output-dir': Directory 'f' is a file.")
from asrkit-score, -decode, -train-tokenizer and -train-lm, and otherwise mkdir's words, two of
them: "f: exists and is not a directory" (make-data-dir, holdout-lists, compute-cmvn) and
"f/x: a component of the path is not a directory" (every command, for an output under the file),
while compute-fbank and asrkit-launch already named the file in the way as above.
"""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import List

import pytest

from tests.cli_checks import run_in_process as _run

REF = "a-1 the cat sat\na-2 on the mat\n"
YESNO = Path(__file__).resolve().parents[1] / "egs" / "yesno" / "asr1" / "corpus" / "waves_yesno"


@pytest.fixture
def work(tmp_path: Path, monkeypatch) -> Path:
    """Inputs each command would take, and 'afile', a regular file, as the current directory."""
    (tmp_path / "text").write_text(REF)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "text").write_text(REF)
    (tmp_path / "data" / "utt2spk").write_text("a-1 a\na-2 b\n")
    (tmp_path / "audio").mkdir()
    for wav in sorted(YESNO.glob("*.wav"))[:2]:
        shutil.copy(wav, tmp_path / "audio" / wav.name)
        (tmp_path / "audio" / wav.with_suffix(".txt").name).write_text("no no no no yes yes yes yes\n")
    (tmp_path / "afile").write_text("my notes\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# (command, its arguments with OUT for the output directory, what the line adds after the name)
CASES = [
    ("score", ["--output-dir", "OUT", "text", "text"], ""),
    ("decode", ["--model", "m.pt", "--output-dir", "OUT", "audio/a.wav"], ""),
    ("train-tokenizer", ["--model-type", "char", "text", "OUT"], ""),
    ("train-lm", ["--lang-dir", "data", "text", "OUT"], ""),
    ("make-data-dir", ["audio", "OUT"], ""),
    ("holdout-lists", ["--dev-fraction", "0.5", "data", "OUT"], ""),
    ("train", ["--train-dir", "data", "--lang-dir", "data", "OUT"], " (the exp dir to train into)"),
]


@pytest.mark.parametrize("under", [False, True], ids=["is-a-file", "under-a-file"])
@pytest.mark.parametrize("command,args,context", CASES, ids=[c for c, _, _ in CASES])
def test_an_output_dir_in_the_way_is_one_line_naming_the_file(work: Path, command: str, args: List[str],
                                                               context: str, under: bool):
    out = "afile/sub" if under else "afile"
    before = sorted(str(p) for p in work.rglob("*"))
    result = _run(command, [out if a == "OUT" else a for a in args])
    assert result.exit_code == 1, result.output
    assert f"ERROR (asrkit-{command}): afile is a file, not a directory{context}\n" in result.output, result.output
    assert (work / "afile").read_text() == "my notes\n"
    assert sorted(str(p) for p in work.rglob("*")) == before


def test_compute_cmvn_names_the_file_its_stats_would_go_under(work: Path):
    result = _run("compute-cmvn", ["ark,t:text", "afile/cmvn.ark"])
    assert result.exit_code == 1, result.output
    assert (f"ERROR (asrkit-compute-cmvn): {work / 'afile'} is a file, not a directory (the stats output "
            "afile/cmvn.ark goes under it)\n") in result.output, result.output


def test_mkdirs_errors_of_a_file_in_the_way_name_it(tmp_path: Path):
    """Whatever command meets it (and the recipes' local/*.py, which word their errors with it)."""
    from asrkit.utils.errors import os_error_message

    (tmp_path / "f").write_text("")
    for e in (OSError(errno.EEXIST, os.strerror(errno.EEXIST), str(tmp_path / "f")),
              OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(tmp_path / "f" / "a" / "b"))):
        assert os_error_message(e) == f"{tmp_path / 'f'} is a file, not a directory"
    os.mkfifo(tmp_path / "p")
    assert os_error_message(OSError(errno.ENOTDIR, "x", str(tmp_path / "p" / "a"))) == \
        f"{tmp_path / 'p'} is a named pipe, not a directory"
