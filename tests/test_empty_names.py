"""An empty file or directory name ('' : a shell variable left empty, "$dir") is a usage error
naming the argument or option, before any work (hostile-input sweep 9).

Path('') is '.': asrkit-split-data-dir split the current directory ('wrote 2 pieces in /split2'),
asrkit-holdout-lists read its utt2spk there or wrote its lists there ('-> /{train,dev}.list'),
asrkit-align aligned everything and then failed on a temporary name ('.20480: no such file'), and
an option's '' was taken as the option not given: asrkit-score --output-dir '' wrote no wer.txt
with exit 0, --utt2spk '' took the speakers from the ids, holdout-lists --dev-list '' held out
nothing and trained on all.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import List

import pytest
from click.testing import CliRunner

from asrkit.utils.logging import setup_logging

REF = "a-1 the cat sat\na-2 on the mat\n"


def _run(command: str, args: List[str]):
    module = importlib.import_module(f"asrkit.cli.{command.replace('-', '_')}")
    try:
        return CliRunner().invoke(module.main, args, catch_exceptions=False)
    finally:
        setup_logging()


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch) -> Path:
    """A data dir that would split and hold out fine, as the current directory too."""
    for d in (tmp_path, tmp_path / "data"):
        d.mkdir(exist_ok=True)
        (d / "text").write_text(REF)
        (d / "utt2spk").write_text("a-1 a\na-2 b\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


CASES = [
    ("score", ["--output-dir", "", "text", "text"], "'--output-dir'"),
    ("score", ["--utt2spk", "", "text", "text"], "'--utt2spk'"),
    ("score", ["", "text"], "'<ref-text>'"),
    ("score", ["text", ""], "'<hyp-text>'"),
    ("align", ["--model", "m.pt", "wav.scp", "text", ""], "'<ctm-out>'"),
    ("align", ["--model", "m.pt", "wav.scp", "", "x.ctm"], "'<text-file>'"),
    ("align", ["--model", "m.pt", "", "text", "x.ctm"], "'<wav-rspecifier>'"),
    ("align", ["--model", "", "wav.scp", "text", "x.ctm"], "'--model'"),
    ("align", ["--model", "m.pt", "--segments", "", "wav.scp", "text", "x.ctm"], "'--segments'"),
    ("compute-cmvn", ["--spk2utt", "", "scp:feats.scp", "ark:x.ark"], "'--spk2utt'"),
    ("apply-cmvn", ["--utt2spk", "", "ark:cmvn.ark", "scp:feats.scp", "ark:x.ark"], "'--utt2spk'"),
    ("split-data-dir", ["", "2"], "'<data-dir>'"),
    ("holdout-lists", ["--dev-fraction", "0.5", "", "out"], "'DATA-DIR'"),
    ("holdout-lists", ["--dev-fraction", "0.5", "data", ""], "'OUT-DIR'"),
    ("holdout-lists", ["--dev-list", "", "data", "out"], "'--dev-list'"),
    ("holdout-lists", ["--test-list", "", "data", "out"], "'--test-list'"),
    ("average", [""], "'EXP_DIR'"),
    ("average", ["--out", "", "exp"], "'--out'"),
]


@pytest.mark.parametrize("command,args,named", CASES, ids=[f"{c}-{n.strip(chr(39))}" for c, _, n in CASES])
def test_an_empty_name_is_a_usage_error_naming_it(inputs: Path, command: str, args: List[str], named: str):
    before = sorted(p.name for p in inputs.rglob("*"))
    result = _run(command, args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {named}: an empty name (a shell variable left empty?)" in result.output, result.output
    assert sorted(p.name for p in inputs.rglob("*")) == before


def test_a_table_rspecifier_without_a_name_is_named(inputs: Path):
    result = _run("score", ["text", "ark,t:"])
    assert result.exit_code == 1
    assert "ERROR (asrkit-score): ark,t:: no file name after 'ark,t:'" in result.output, result.output
