"""Command-line layer: one module per ``asrkit-*`` command, each a thin click wrapper.

``asrkit <sub>`` finds ``asrkit/cli/<sub with _ for ->.py`` and runs its ``main``, so a
command's code is always one file away from its name.
"""
from __future__ import annotations

import os
import sys


def _interrupted_while_starting(exc_type, exc, tb, _python_hook=sys.excepthook):
    # Ctrl-C while the command is still importing (click, its modules: most of a short command's
    # run) reached Python's own hook: a 20-line traceback instead of the one line a command stopped
    # later says. Python still ends the process by SIGINT after this hook.
    if issubclass(exc_type, KeyboardInterrupt) and not hasattr(exc, "signum"):
        name = os.path.basename(sys.argv[0]) if sys.argv and _is_our_script(sys.argv[0]) else "asrkit"
        try:
            sys.stderr.write(f"ERROR ({name}): interrupted\n")
            sys.stderr.flush()
        except Exception:  # (stderr closed: the signal still says it)
            pass
        return
    _python_hook(exc_type, exc, tb)


def started_as_a_command() -> bool:
    """A console script ``asrkit[-<sub>]`` or ``python -m asrkit`` is ``__main__``: not a Python
    program that imports asrkit (its exceptions, hooks and signals stay its own), nor one under
    ``python -i``, whose prompt after the command keeps Python's own Ctrl-C."""
    if sys.flags.inspect or sys.flags.interactive:
        return False
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None:
        return spec.name == "asrkit.__main__"
    return _is_our_script(getattr(main, "__file__", None) or "")


def the_process_is_a_command() -> bool:
    """:func:`started_as_a_command`, and the interpreter was started to run it: a host program
    that runs the console script inside itself (``runpy.run_path``, IPython's ``%run``) has it for
    ``__main__`` only while it runs. For ``_common.ProcessEntry``, which hands SIGINT back to its
    default once the command is done."""
    if not started_as_a_command():
        return False
    if not hasattr(sys, "orig_argv"):  # (Python < 3.10: __main__ is all there is to go by)
        return True
    ran = _what_python_ran(sys.orig_argv)
    main = sys.modules.get("__main__")
    if getattr(main, "__spec__", None) is not None:
        return ran in ("-m asrkit", "-m asrkit.__main__")
    return ran is not None and os.path.basename(ran) == os.path.basename(getattr(main, "__file__", None) or "")


def _what_python_ran(argv: list):
    """The script, or '-m <module>', of the interpreter's command line ``argv`` (``python -X dev
    asrkit-x``, ``python -um asrkit``); None for -c and for stdin."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return argv[i + 1] if i + 1 < len(argv) else None
        if arg == "-" or not arg.startswith("-"):
            return None if arg == "-" else arg
        if arg.startswith("--"):
            i += 2 if arg == "--check-hash-based-pycs" else 1
            continue
        for j, letter in enumerate(arg[1:], 2):
            if letter in "cmWX":  # (their value is the rest of the word or the next word)
                value = arg[j:] or (argv[i + 1] if i + 1 < len(argv) else "")
                if letter == "c":
                    return None
                if letter == "m":
                    return f"-m {value}"
                if not arg[j:]:
                    i += 1
                break
        i += 1
    return None


def _is_our_script(path: str) -> bool:
    # (not a user's own asrkit_tools.py or asrkit-batch.py importing asrkit.cli: a console script's
    # name has no extension)
    name = os.path.basename(path)
    return (name == "asrkit" or name.startswith("asrkit-")) and "." not in name


def put_back_the_excepthook() -> None:
    """Python's hook (or the one there before) again, after a command run inside a host program
    (``runpy.run_path`` of a console script): the host's uncaught exceptions are its own."""
    if sys.excepthook is _interrupted_while_starting:
        sys.excepthook = _interrupted_while_starting.__defaults__[0]


# (first, before the imports below: they are where a Ctrl-C lands)
if started_as_a_command():
    sys.excepthook = _interrupted_while_starting

import importlib  # noqa: E402
import pkgutil  # noqa: E402

import click  # noqa: E402

from asrkit.cli._common import ProcessEntry, interrupt_ends_the_command  # noqa: E402


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
        return importlib.import_module(f"asrkit.cli.{name.replace('-', '_')}").main

    def resolve_command(self, ctx: click.Context, args: list):
        # (the subcommand being run: --help imports every one of them to list it, under the
        # group's own make_context, where a Ctrl-C is the group's)
        name = args[0] if args and args[0] in command_names() else None
        with interrupt_ends_the_command(f"asrkit-{name}" if name else "asrkit"):
            return super().resolve_command(ctx, args)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="asrkit")
def main() -> None:
    """asrkit: Listen, Attend and Spell speech recognition, Kaldi style.

    Every subcommand is also installed as ``asrkit-<sub>``; ``asrkit <sub> --help`` describes it.
    """
