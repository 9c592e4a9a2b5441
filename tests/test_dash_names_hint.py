"""A file whose name starts with '-' given as an argument (asrkit-decode --model m.pt -dash.wav):
click split it into short options and said only "No such option '-d'.", a letter the user never
typed as an option. Every command's usage error now says how to name such a file ('--' or
./-dash.wav), as Unix tools take it."""
from __future__ import annotations

import importlib

import click
import pytest

from asrkit.cli import command_names
from tests.cli_checks import run_in_process as _run


def _short_options(command: str) -> set:
    module = importlib.import_module(f"asrkit.cli.{command.replace('-', '_')}")
    return {o for p in module.main.params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts
            if not o.startswith("--")}


@pytest.mark.parametrize("command", command_names())
def test_every_command_says_how_to_name_a_dash_file(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-dash.wav").write_bytes(b"RIFF")
    assert "-d" not in _short_options(command)  # (else '-dash.wav' would be -d's value 'ash.wav')
    res = _run(command, ["-dash.wav"])
    assert res.exit_code == 2, res.output
    assert ("No such option '-d'. '-dash.wav' is a file whose name starts with '-': put '--' before the "
            "file names, or write ./-dash.wav") in res.output, res.output


def test_the_hint_without_the_file_and_none_for_a_mistyped_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # No such file (yet, or a typo in it): still a name click cut into letters.
    res = _run("score", ["-nofile.txt", "hyp"])
    assert res.exit_code == 2
    assert ("No such option '-n'. (A file whose name starts with '-'? Put '--' before the file names, or "
            "write ./-nofile.txt)") in res.output, res.output
    # A mistyped option is not taken for a file name: click's own message, as it was.
    for args, said in ((["--bogus"], "No such option '--bogus'."), (["-vx"], "No such option '-x'.")):
        res = _run("score", args)
        assert res.exit_code == 2 and said in res.output and "file" not in res.output.split("Error:")[1], res.output
    # An option's value that looks the same is not the one named (--lm's file, then the culprit).
    (tmp_path / "-dash.wav").write_bytes(b"RIFF")
    res = _run("decode", ["--model", "-d.pt", "-dash.wav"])
    assert res.exit_code == 2 and "'-dash.wav' is a file whose name starts with '-'" in res.output, res.output


def test_a_long_option_named_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "--take.wav").write_bytes(b"RIFF")
    res = _run("decode", ["--model", "m.pt", "--take.wav"])
    assert res.exit_code == 2
    assert "No such option '--take.wav'. '--take.wav' is a file whose name starts with '-'" in res.output, res.output
