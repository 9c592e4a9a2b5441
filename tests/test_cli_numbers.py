"""Number options take ASCII numbers only, in every command. Python's int() and float() read
'٣' (an Arabic-Indic 3), '３' (full width) and '1_0' (10): `asrkit-decode --nj ٣` split the set
into three jobs, where Kaldi's option parser (and every C tool's strtol) refuses them."""
from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from asrkit.cli import command_names, main


def _number_params():
    group_ctx = click.Context(main)
    for name in command_names():
        command = main.get_command(group_ctx, name)
        for param in command.params:
            if isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)):
                yield name, command, param


NUMBER_PARAMS = list(_number_params())


def test_every_command_has_number_options_to_check():
    assert len(NUMBER_PARAMS) >= 30
    assert {name for name, _, _ in NUMBER_PARAMS} >= {"decode", "train", "split-data-dir", "adapt-speakers"}


@pytest.mark.parametrize("text", ["\u0663", "\uff13", "1_0", "\u0661.\u0665"])
def test_non_ascii_numbers_are_refused_by_every_number_option(text):
    for name, command, param in NUMBER_PARAMS:
        ctx = click.Context(command)
        with pytest.raises(click.BadParameter, match="is not a number in ASCII digits"):
            param.type.convert(text, param, ctx)


def test_ascii_numbers_still_convert_and_ranges_still_hold():
    for name, command, param in NUMBER_PARAMS:
        ctx = click.Context(command)
        value = param.type.convert("3", param, ctx)
        assert value == 3, (name, param.name)
    split = dict((p.name, p) for n, _, p in NUMBER_PARAMS if n == "split-data-dir")["num"]
    with pytest.raises(click.BadParameter, match="not in the range"):
        split.type.convert("0", split, click.Context(main))


def test_a_non_ascii_nj_is_a_usage_error_naming_the_option():
    res = CliRunner().invoke(main, ["decode", "--model", "m.pt", "--nj", "\u0663", "a.wav"])
    assert res.exit_code == 2
    assert "Invalid value for '--nj': '\u0663' is not a number in ASCII digits" in res.output
    # the shared click.INT is left as it was, for other programs in the process
    assert click.INT.convert("\u0663", None, None) == 3
