"""Command-line layer: one module per ``asrkit-*`` command, each a thin click wrapper.

``asrkit <sub>`` finds ``asrkit/cli/<sub with _ for ->.py`` and runs its ``main``, so a
command's code is always one file away from its name.
"""
from __future__ import annotations

import importlib
import pkgutil

import click

from asrkit.cli._common import ProcessEntry


def command_names() -> list[str]:
    import asrkit.cli as pkg

    return sorted(
        m.name.replace("_", "-") for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")
    )


class _LazyGroup(ProcessEntry, click.Group):
    def parse_args(self, ctx: click.Context, args: list) -> list:
        from asrkit.cli._common import help_output_named

        with help_output_named("asrkit"):
            return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return command_names()

    def get_command(self, ctx: click.Context, name: str):
        if name not in command_names():
            return None
        module = importlib.import_module(f"asrkit.cli.{name.replace('-', '_')}")
        return module.main


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="asrkit")
def main() -> None:
    """asrkit: Listen, Attend and Spell speech recognition, Kaldi style.

    Every subcommand is also installed as ``asrkit-<sub>``; ``asrkit <sub> --help`` describes it.
    """
