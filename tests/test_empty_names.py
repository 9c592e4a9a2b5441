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

from tests.cli_checks import run_in_process as _run

REF = "a-1 the cat sat\na-2 on the mat\n"


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
    ("average", [""], "'EXP_DIR | CHECKPOINT...'"),
    ("average", ["--out", "", "exp"], "'--out'"),
    # The other commands alike: an option's '' was taken as not given (asrkit-decode --config ''
    # decoded with the packed options, --lm '' without the LM, --output-dir '' to stdout, exit 0;
    # compute-fbank --segments '' cut nothing; train-lm --valid-text '' held out part of the
    # training text), and a positional '' as the current directory (fix-data-dir '' repaired it,
    # make-data-dir <audio> '' wrote its tables there).
    *[("decode", ["--model", "m.pt", *opt, "a.wav"], f"'{opt[0]}'") for opt in (
        ["--config", ""], ["--lm", ""], ["--output-dir", ""], ["--ctm", ""], ["--segments-out", ""],
        ["--utt-ids", ""], ["--spk-transforms", "", "--utt2spk", "utt2spk"], ["--utt2spk", ""])],
    ("decode", ["--model", "", "a.wav"], "'--model'"),
    ("decode", ["--model", "m.pt", "--feats", ""], "'--feats'"),
    ("decode", ["--model", "m.pt", "--wav-scp", ""], "'--wav-scp'"),
    ("decode", ["--model", "m.pt", "--wav-scp", "wav.scp", "--segments", ""], "'--segments'"),
    ("decode", ["--model", "m.pt", "a.wav", ""], "'[AUDIO ...]'"),
    *[("adapt-speakers", ["--model", "m.pt", "--utt2spk", "utt2spk", "--feats", "scp:f.scp", *opt, "text", "ark:t.ark"],
       f"'{opt[0]}'") for opt in (["--config", ""], ["--model", ""], ["--utt2spk", ""], ["--feats", ""])],
    ("adapt-speakers", ["--model", "m.pt", "--utt2spk", "utt2spk", "--feats", "scp:f.scp", "", "ark:t.ark"], "'<hyp-text>'"),
    ("adapt-speakers", ["--model", "m.pt", "--utt2spk", "utt2spk", "--feats", "scp:f.scp", "text", ""],
     "'<transforms-wspecifier>'"),
    ("compute-fbank", ["", "ark:x.ark"], "'[WAV_RSPECIFIER]'"),
    ("compute-fbank", ["scp:wav.scp", ""], "'[FEATS_WSPECIFIER]'"),
    ("compute-fbank", ["--config", "", "scp:wav.scp", "ark:x.ark"], "'--config'"),
    ("compute-fbank", ["--segments", "", "scp:wav.scp", "ark:x.ark"], "'--segments'"),
    ("compute-fbank", ["--write-utt2num-frames", "", "scp:wav.scp", "ark:x.ark"], "'--write-utt2num-frames'"),
    ("train-lm", ["--lang-dir", "data", "--config", "", "text", "lm"], "'--config'"),
    ("train-lm", ["--lang-dir", "", "text", "lm"], "'--lang-dir'"),
    ("train-lm", ["--lang-dir", "data", "--valid-text", "", "text", "lm"], "'--valid-text'"),
    ("train-lm", ["--lang-dir", "data", "", "lm"], "'<text-file>'"),
    ("train-lm", ["--lang-dir", "data", "text", ""], "'<lm-exp-dir>'"),
    ("pack-model", ["--decode-config", "", "m.pt", "out.pt"], "'--decode-config'"),
    ("pack-model", ["--decode-config", "d.yaml", "", "out.pt"], "'<model-in>'"),
    ("pack-model", ["--decode-config", "d.yaml", "m.pt", ""], "'<model-out>'"),
    ("validate-data-dir", [""], "'<data-dir>'"),
    ("fix-data-dir", [""], "'<data-dir>'"),
    ("perturb-data-dir-speed", ["", "out"], "'<src-data-dir>'"),
    ("perturb-data-dir-speed", ["data", ""], "'<dst-data-dir>'"),
    ("make-data-dir", ["", "out"], "'AUDIO-DIR'"),
    ("make-data-dir", ["audio", ""], "'DATA-DIR'"),
    ("make-data-dir", ["--transcripts", "", "audio", "out"], "'--transcripts'"),
    ("launch", ["--config", "", "x.log", "true"], "'--config'"),
    # asrkit-train took --valid-dir '' for no dev set (patience then stopped nothing), --cmvn '' for
    # no normalisation, --fbank-config '' for none (a model that cannot decode audio), --init ''
    # for no initial weights
    *[("train", ["--train-dir", "data", "--lang-dir", "data", *opt, "exp"], f"'{opt[0]}'") for opt in (
        ["--config", ""], ["--valid-dir", ""], ["--cmvn", ""], ["--fbank-config", ""], ["--init", ""])],
    ("train", ["--train-dir", "", "--lang-dir", "data", "exp"], "'--train-dir'"),
    ("train", ["--train-dir", "data", "--lang-dir", "", "exp"], "'--lang-dir'"),
    ("train", ["--train-dir", "data", "--lang-dir", "data", ""], "'[EXP_DIR]'"),
    ("tokenize", ["", "text"], "'<tokens.model>'"),
    ("train-tokenizer", ["", "lang"], "'<text-file>'"),
    ("train-tokenizer", ["text", ""], "'<lang-dir>'"),
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


# String options of the commands that are not file, folder or table names: '' is theirs to judge.
# And the CMVN commands' specifiers, whose own parsers already named an empty one ("bad specifier
# '': empty", "bad stats output '': give a file name": tests/test_hostile_inputs.py).
NOT_NAMES = {
    ("compute-cmvn", "feats_rspecifier"), ("compute-cmvn", "stats_out"), ("apply-cmvn", "stats"),
    ("apply-cmvn", "feats_rspecifier"), ("apply-cmvn", "feats_wspecifier"),
    ("adapt-speakers", "--device"), ("align", "--device"), ("compute-fbank", "--window-type"),
    ("decode", "--device"), ("launch", "--gpu"), ("launch", "--mem"), ("launch", "--num-threads"),
    ("launch", "--time"), ("make-data-dir", "--text-ext"), ("make-data-dir", "--audio-ext"),
    ("make-data-dir", "--speaker"), ("make-data-dir", "--speaker-regex"), ("perturb-data-dir-speed", "--factors"),
    ("train", "--set"), ("train", "--init-modules"), ("train", "--freeze"),
    ("train-tokenizer", "--user-defined-symbols"),
}


def test_every_name_of_every_command_refuses_empty():
    """Each command's string arguments and options are names (with the callback) or listed above:
    a new file option without it takes '' for the current directory or for 'not given' again."""
    import click

    from asrkit.cli import command_names
    from asrkit.cli._common import refuse_empty_name

    unguarded = []
    for name in command_names():
        command = importlib.import_module(f"asrkit.cli.{name.replace('-', '_')}").main
        for p in command.params:
            if getattr(p, "is_flag", False) or not isinstance(p.type, (click.types.StringParamType, click.Path)):
                continue
            label = p.opts[0] if isinstance(p, click.Option) else p.name
            if p.callback is not refuse_empty_name and (name, label) not in NOT_NAMES:
                unguarded.append(f"{name} {label}")
    assert not unguarded, unguarded
