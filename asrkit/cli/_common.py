"""What every command shares: help options, logging set-up and the error-to-exit-code rule."""
from __future__ import annotations

import functools
import sys
from typing import Callable

import click

from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import setup_logging

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def asrkit_command(name: str, **kwargs) -> Callable:
    """``click.command`` with asrkit's conventions.

    Adds ``-v/--verbose``, sets up Kaldi-style logging, prints the command line first (as
    Kaldi binaries do) and turns an :class:`AsrkitError` into ``ERROR (name): message`` on
    stderr with exit status 1 instead of a traceback.
    """

    def decorator(fn: Callable) -> click.Command:
        @functools.wraps(fn)
        def wrapper(*args, verbose: int = 0, **kw):
            setup_logging(verbose)
            prog = f"asrkit-{name}"
            click.echo(prog + " " + " ".join(_quote(a) for a in _own_args()), err=True)
            try:
                return fn(*args, **kw)
            except AsrkitError as e:
                click.echo(f"ERROR ({prog}): {e}", err=True)
                sys.exit(1)
            except KeyboardInterrupt:
                click.echo(f"ERROR ({prog}): interrupted", err=True)
                sys.exit(130)

        wrapper = click.option("-v", "--verbose", count=True, help="More logging (repeat for more).")(wrapper)
        return click.command(name=name, context_settings=CONTEXT_SETTINGS, **kwargs)(wrapper)

    return decorator


def _own_args() -> list:
    """The command's own arguments: under ``asrkit <sub>`` (or ``python -m asrkit <sub>``)
    argv[1] is the subcommand name, which the echoed ``asrkit-<sub>`` line already says."""
    import os

    if os.path.basename(sys.argv[0]).startswith("asrkit-"):
        return sys.argv[1:]
    return sys.argv[2:]


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
