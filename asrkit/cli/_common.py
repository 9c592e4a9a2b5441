"""What every command shares: help options, logging set-up and the error-to-exit-code rule."""
from __future__ import annotations

import atexit
import contextlib
import contextvars
import errno
import functools
import io
import os
import signal
import sys
import threading
from typing import Callable, Iterator, Optional, Tuple

import click
import click.utils

from asrkit.utils.errors import AsrkitError, error_source, from_worker, os_error_message
from asrkit.utils.logging import close_log_files, command_line, error_to_log_files, setup_logging

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def asrkit_command(name: str, **kwargs) -> Callable:
    """``click.command`` with asrkit's conventions.

    Adds ``-v/--verbose``, sets up Kaldi-style logging, prints the command line first (as
    Kaldi binaries do) and turns an :class:`AsrkitError` into ``ERROR (name): message`` on
    stderr with exit status 1 instead of a traceback. A full disk, a read-only file system or a
    missing permission (``ENOSPC``, ``EROFS``, ``EACCES`` and their kin) anywhere in a command
    become one line naming the path the same way (:func:`os_error_message`). SIGTERM (what a
    batch system or ``kill`` sends) and SIGHUP (a closed terminal or ssh session; not when
    ignored, as under nohup) unwind like Ctrl-C, so every temporary output is removed on the
    way out; the command then ends by that signal, as Kaldi's binaries do (a shell says 143, 129
    or 130 for Ctrl-C; :class:`EndBySignal`).
    """

    def decorator(fn: Callable) -> click.Command:
        @functools.wraps(fn)
        def wrapper(*args, verbose: int = 0, **kw):
            stderr, stdout = sys.stderr, sys.stdout
            if stderr is not None:
                sys.stderr = _Diagnostics(stderr)
            sys.stdout = whole_writes(stdout)
            try:
                return run(*args, verbose=verbose, **kw)
            finally:
                sys.stderr, sys.stdout = stderr, stdout

        def run(*args, verbose: int = 0, **kw):
            setup_logging(verbose)
            prog = f"asrkit-{name}"
            click.echo(prog + " " + command_line(own_args()), err=True)
            previous = _catch_terminating_signals()
            try:
                if kw.get("print_config") and sys.stdout is None:
                    # Started with stdout closed (">&-"): click.echo writes nothing to no stream, so
                    # the config was lost with exit 0.
                    raise AsrkitError("<stdout>: stdout is closed (--print-config prints the config there)")
                _refuse_output_dirs_in_the_way(kw)
                return fn(*args, **kw)
            except AsrkitError as e:
                message = str(from_worker(e))
                click.echo(f"ERROR ({error_source(prog, e)}): {message}", err=True)
                error_to_log_files(error_source(prog, e), message)
                sys.exit(1)
            except OSError as e:
                source = error_source(prog, e)
                e = from_worker(e)
                # (named so by the command, as decode's and tokenize's writes are: stdout still
                # holds what failed, which the interpreter's last flush would fail on again:
                # "Exception ignored ... OSError" after the ERROR line, and exit 120)
                on_stdout = _stdout_failed(e) or e.filename == "<stdout>"
                if on_stdout:
                    e.filename = "<stdout>"
                message = os_error_message(e)
                if message is None:
                    raise
                # (the log files first: one on the full disk says it is abandoned, and the ERROR
                # line stays the last on stderr)
                error_to_log_files(source, message)
                click.echo(f"ERROR ({source}): {message}", err=True)
                if e.errno == errno.EPIPE or on_stdout:
                    _drop_stdout()
                sys.exit(1)
            except Terminated as e:
                click.echo(f"ERROR ({error_source(prog, e)}): terminated by {signal.Signals(e.signum).name}", err=True)
                raise EndBySignal(e.signum) from None
            except KeyboardInterrupt as e:
                click.echo(f"ERROR ({error_source(prog, e)}): interrupted", err=True)
                raise EndBySignal(signal.SIGINT) from None
            finally:
                close_log_files()  # (after the error has gone into them)
                for sig, handler in previous.items():
                    signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

        wrapper = click.option("-v", "--verbose", count=True, help="More logging (repeat for more).")(wrapper)
        # (a command's own class must be an AsrkitCommand: its process ends by a signal that stops it)
        kwargs.setdefault("cls", AsrkitCommand)
        assert issubclass(kwargs["cls"], AsrkitCommand), kwargs["cls"]
        command = click.command(name=name, context_settings=CONTEXT_SETTINGS, **kwargs)(wrapper)
        for param in command.params:
            if isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)):
                param.type = _ascii_number(param.type)
        _hint_dash_names(command)
        return command

    return decorator


class OutputDir(click.Path):
    """click's type of a directory the command writes. As click.Path(file_okay=False), one that
    was a file was click's usage error (exit 2, "Directory 'f' is a file."), and one under a file
    failed at the first write, in mkdir's words: :func:`asrkit_command` refuses both before the
    command runs, in the words every command gives an output in the way (exit 1)."""

    def __init__(self) -> None:
        super().__init__(file_okay=False)

    def convert(self, value, param, ctx):
        if os.path.exists(value) and not os.path.isdir(value):
            return value  # (the command's error, :func:`_refuse_output_dirs_in_the_way`)
        return super().convert(value, param, ctx)


class OutputFile(click.Path):
    """click's type of a file the command writes. As click.Path(dir_okay=False), one that was a
    directory was click's usage error (exit 2, "File 'f' is a directory.") from asrkit-align's
    <ctm-out>, asrkit-average's --out and asrkit-decode's --ctm and --segments-out, where every
    other command's output in the way is one ERROR line (exit 1): :func:`asrkit_command` refuses
    it before the command runs, in asrkit-decode's words for its --output-dir files."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value, param, ctx):
        if value != "-" and os.path.isdir(value):  # ('-': stdout)
            return value  # (the command's error, :func:`_refuse_output_dirs_in_the_way`)
        return super().convert(value, param, ctx)


def _refuse_output_dirs_in_the_way(kw: dict) -> None:
    """AsrkitError for the first :class:`OutputDir` argument in ``kw`` that is, or lies under,
    something other than a directory ("f is a file, not a directory"), and for the first
    :class:`OutputFile` that is a directory."""
    from asrkit.utils.fileio import not_a_directory

    for param in click.get_current_context().command.params:
        value = kw.get(param.name)
        if isinstance(param.type, OutputDir) and value:
            in_the_way = not_a_directory(value)
            if in_the_way:
                raise AsrkitError(in_the_way)
        if isinstance(param.type, OutputFile) and value and value != "-" and os.path.isdir(value):
            label = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
            raise AsrkitError(f"{value}: is a directory, where the run would write {label}")


def _hint_dash_names(command: click.Command) -> None:
    """A file named like an option (-dash.wav) was click's bare "No such option '-d'." (click
    splits -dash.wav into -d -a -s ...), naming a letter the user never typed as one: the usage
    error now says how to give such a name, as Unix tools take it (-- or ./-dash.wav)."""
    parse_args = command.parse_args

    def parse_args_with_hint(ctx: click.Context, args: list) -> list:
        given = list(args)  # (click's parser consumes the list it is given)
        try:
            with help_output_named(f"asrkit-{command.name}"):
                return parse_args(ctx, args)
        except click.NoSuchOption as e:
            hint = _dash_name_hint(e.option_name, given)
            if hint:
                e.message = f"{e.message} {hint}"
            raise

    command.parse_args = parse_args_with_hint


@contextlib.contextmanager
def help_output_named(prog: str) -> Iterator[None]:
    """Around click's parsing, where --help and --version print: ``--help > /dev/full`` was a
    click traceback; now one line naming <stdout>, exit 1, as for a command's own output. Written
    whole (:func:`whole_writes`), as a command's output is."""
    stdout = sys.stdout
    try:
        sys.stdout = whole_writes(stdout) if stdout is not None else None
        yield
    except click.exceptions.Exit as e:
        # (how --help and --version end) with stdout closed (">&-"): click.echo printed to no
        # stream, exit 0
        if e.exit_code == 0 and sys.stdout is None:
            click.echo(f"ERROR ({prog}): <stdout>: stdout is closed", err=True)
            sys.exit(1)
        raise
    except OSError as e:
        if not (_stdout_failed(e) or e.filename == "<stdout>"):
            raise
        e.filename = "<stdout>"
        click.echo(f"ERROR ({prog}): {os_error_message(e)}", err=True)
        _drop_stdout()
        sys.exit(1)
    finally:
        sys.stdout = stdout


def _dash_name_hint(option_name: str, args: list) -> Optional[str]:
    """The hint for click's "No such option ``option_name``" among ``args``: for the argument
    that gave it, when it names a file or is a cluster click split into a letter (-dash.wav)."""
    words = args[:args.index("--")] if "--" in args else args
    culprits = [a for a in words if a.startswith("-") and a != "-" and (
        a.split("=", 1)[0] == option_name if a.startswith("--")
        else not option_name.startswith("--") and option_name[1:] in a[1:])]
    # An earlier option's value can match too (--lm -x.arpa -xyz.wav): one naming a file first.
    for arg in sorted(culprits, key=lambda a: not os.path.exists(a)):
        if os.path.exists(arg):
            return f"'{arg}' is a file whose name starts with '-': put '--' before the file names, or write ./{arg}"
        if not arg.startswith("--") and ("." in arg or "/" in arg):  # (not a mistyped -vx)
            return f"(A file whose name starts with '-'? Put '--' before the file names, or write ./{arg})"
    return None


class _AsciiNumber:
    """A mixin for click's number types: the value is written in ASCII, without digit separators.
    Python's int() and float() read '٣' (an Arabic-Indic 3), '３' (full width) and '1_0' (10), so
    `--nj ٣` ran three jobs; Kaldi's option parser, as every C tool, takes ASCII only."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and (not value.isascii() or "_" in value):
            self.fail(f"{value!r} is not a number in ASCII digits", param, ctx)
        return super().convert(value, param, ctx)


def _ascii_number(kind: click.ParamType) -> click.ParamType:
    """A copy of the number type ``kind`` (INT, FLOAT, an IntRange...) that takes ASCII numbers only;
    a copy, since click.INT and click.FLOAT are shared by every command."""
    cls = type(f"Ascii{type(kind).__name__}", (_AsciiNumber, type(kind)), {})
    strict = cls.__new__(cls)
    strict.__dict__.update(kind.__dict__)  # (an IntRange's bounds)
    return strict


class _Diagnostics:
    """stderr, whose failed writes are dropped. Its first line (the command line) or a summary line
    on a full log disk or a closed pipe (``2>&1 | head -1``) failed the whole command, exit 1, with
    nothing done or all done, while the log lines between were dropped (Python's logging drops a
    failed write, as Kaldi's stderr does): the log is not an output, the files are."""

    # (one thread at a time points the descriptor away: a second one would save /dev/null as
    # where stderr goes and put it back last)
    _pointed_away = threading.RLock()

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except OSError:
            self._drop_what_failed()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError:
            self._drop_what_failed()

    def _drop_what_failed(self) -> None:
        """Empty the stream's buffer of what it failed to write, into /dev/null. A buffered stderr
        (the default: no PYTHONUNBUFFERED) keeps a failed write's bytes, and the interpreter's
        last flush failed on them again: exit 120 after a command that had done all its work.
        Only this process's descriptor is pointed away, and back at once: later lines go where
        stderr goes (a disk with space again takes them)."""
        with self._pointed_away:
            try:
                fd = self._stream.fileno()
                saved = os.dup(fd)
            except (AttributeError, OSError, ValueError):  # (no descriptor: a test's StringIO)
                return
            try:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, fd)
                os.close(null)
                self._stream.flush()
            except OSError:
                pass
            finally:
                os.dup2(saved, fd)
                os.close(saved)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def whole_writes(stdout):
    """``stdout`` as it is, or, where its binary layer is the raw file (PYTHONUNBUFFERED=1 or
    ``python -u``, as Docker images and batch jobs often set) or its descriptor is non-blocking
    (O_NONBLOCK, set by the program that made the pipe: node, an event loop), one that writes whole
    (:class:`asrkit.utils.fileio.WholeWrites`). A raw file's write may take only part of the data
    (a file size limit or a quota reached inside it), and the text layer never looks at the
    count: the rest of asrkit-decode's last line was lost with exit 0 and "Done 4 out of 4
    utterances"; into a full non-blocking pipe, asrkit-score's whole summary was, with exit 0.
    Used by :func:`asrkit_command` for the command's run."""
    from asrkit.utils.fileio import WholeWrites, non_blocking

    raw = getattr(stdout, "buffer", None)
    if isinstance(raw, io.BufferedWriter) and non_blocking(stdout):
        try:
            stdout.flush()
        except OSError:
            pass
        raw = raw.raw
    if not isinstance(raw, io.RawIOBase):
        return stdout
    return io.TextIOWrapper(WholeWrites(raw, "<stdout>"), encoding=stdout.encoding, errors=stdout.errors,
                            line_buffering=stdout.line_buffering, write_through=True)


def _stdout_failed(e: OSError) -> bool:
    """Whether ``e``, an error without a file name, came from click.echo writing stdout (the way
    every command prints): asrkit-score's summary or a --print-config into /dev/full was "no space
    left on device (writing an output whose name is not known here ...)", though stdout was the
    only output. (Python drops what a failed flush held, so flushing again cannot tell.)"""
    if e.filename is not None or sys.stdout is None or e.__traceback__ is None:
        return False
    tb = e.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    if tb.tb_frame.f_code is not click.utils.echo.__code__:
        return False
    try:
        return tb.tb_frame.f_locals.get("file").fileno() == sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # (no fileno: a test's StringIO; closed)
        return False


def _drop_stdout() -> None:
    """Point stdout at /dev/null after its reader went away, so the interpreter's last flush of
    what is still buffered does not print "Exception ignored ... BrokenPipeError" after our line."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, AttributeError, ValueError):
        pass


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the process is, so ``finally`` blocks and atomic outputs clean
    up exactly as they do for Ctrl-C (code that stops on KeyboardInterrupt stops on this too)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, frame):
    # A second one (the clean-up itself hanging) ends the process at once, as usual.
    signal.signal(signum, signal.SIG_DFL)
    raise Terminated(signum)


class EndBySignal(SystemExit):
    """The command was stopped by ``signum`` (its ERROR line written): exit status 128 + signum,
    and where the command is the process (:class:`ProcessEntry`), an end by the signal itself, as
    Kaldi's binaries and Python's own uncaught KeyboardInterrupt end.

    An exit status of 128 + n alone told the shell waiting for the command that it had ended on
    its own: bash, which had the Ctrl-C too, goes on after a child that exited (its
    wait-and-cooperative-exit), so ``for f in ...; do asrkit-decode ...; done`` went on to its
    next item after Ctrl-C, and so did a recipe's script running asrkit steps. Raised, it unwinds
    as before (a caller's ``finally``); a command run inside another Python program (click's
    CliRunner, a notebook calling ``main.main(...)``) only exits with 128 + n, leaving that
    program's signal handling as it was."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


class ProcessEntry:
    """``__call__`` of asrkit's commands and of the ``asrkit`` group: what a console script (and
    ``python -m asrkit``) runs, so the command is the process. Stopped by a signal, the process
    then ends by it: the exit unwinds as Python's does (non-daemon threads, atexit handlers), and
    :func:`_die_by`, registered last, raises the signal at its end. ``main()`` called directly
    (CliRunner, a Python program) only exits with the status."""

    def make_context(self, info_name, args, parent=None, **extra):
        prog = "asrkit" if isinstance(self, click.Group) else f"asrkit-{self.name}"
        with interrupt_ends_the_command(prog), _click_errors_shown():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx):
        with _click_errors_shown():  # (the group's 'No such command', a command's own click errors)
            return super().invoke(ctx)

    def __call__(self, *args, **kwargs):
        outermost = not _IN_A_PROCESS_ENTRY.get()
        # The process's own entry: a console script and asrkit/__main__.py call main() with no
        # arguments. A program calling commands with theirs (asrkit-batch.py), one running the
        # console script inside itself (runpy, IPython's %run) or python -i's prompt afterwards
        # lost its own Ctrl-C handling for good once the first command was done.
        from asrkit.cli import put_back_the_excepthook, the_process_is_a_command

        the_process = outermost and not args and not kwargs and the_process_is_a_command()
        inside = _IN_A_PROCESS_ENTRY.set(True)
        try:
            return super().__call__(*args, **kwargs)
        except EndBySignal as e:
            if threading.current_thread() is threading.main_thread():
                with contextlib.suppress(OSError, ValueError):
                    # Ctrl-C pressed again while the exit takes its time ends the process at once,
                    # as a second SIGTERM already does (_raise_terminated).
                    signal.signal(e.signum, signal.SIG_DFL)
                atexit.register(_die_by, e.signum)
            raise
        finally:
            _IN_A_PROCESS_ENTRY.reset(inside)
            if the_process:
                _default_sigint_once_done()
            elif outermost:
                put_back_the_excepthook()


@contextlib.contextmanager
def _click_errors_shown() -> Iterator[None]:
    """click's own handling of its errors (a usage error: the message, exit 2), where stderr may
    not take it. With stderr closed (``2>&-``) click wrote the usage on stdout, into the command's
    output (``> out.txt``); on a full disk or a pipe whose reader is gone the write failed, and the
    exit was 1 (a traceback to no one) or 120 (the interpreter's last flush failing on the bytes
    kept): the exit status is the one thing left to say it, so it stays the error's. Only in the
    command's process (click's main called as a library handles its errors itself)."""
    try:
        yield
    except click.ClickException as e:
        if not _IN_A_PROCESS_ENTRY.get():
            raise
        if sys.stderr is not None:
            with contextlib.suppress(OSError):
                e.show(file=_Diagnostics(sys.stderr))
        sys.exit(e.exit_code)


# Whether the code running is under a ProcessEntry.__call__ (set by it for its call alone, then
# reset: an inner call finds it set, the outermost not); not while click's main is called as a
# library (CliRunner, a program's main.main([...], standalone_mode=False)). A context variable,
# not a counter every call changes: each thread, and each context a program runs a command in,
# has its own.
_IN_A_PROCESS_ENTRY: contextvars.ContextVar[bool] = contextvars.ContextVar("asrkit_in_a_process_entry",
                                                                         default=False)


@contextlib.contextmanager
def interrupt_ends_the_command(prog: str) -> Iterator[None]:
    """Ctrl-C before the command's own code runs (its arguments parsed; its module imported, for
    ``asrkit <sub>``: 0.15 s for compute-fbank) ends it as one stopped later does, with its one
    line and then by SIGINT. click's main made it 'Aborted!' and exit 1, and a shell loop around
    the command went on. Also for asrkit.cli's group, which imports the module."""
    try:
        yield
    except KeyboardInterrupt:
        if not _IN_A_PROCESS_ENTRY.get():
            raise  # (click's main called as a library: its click.Abort, for the program to handle)
        click.echo(f"ERROR ({prog}): interrupted", err=True)
        raise EndBySignal(signal.SIGINT) from None


def _default_sigint_once_done() -> None:
    # The command is over, its outputs in place or removed; Python's exit (torch's finalizers:
    # seconds on a loaded machine) is not. A Ctrl-C there raised KeyboardInterrupt inside an
    # atexit callback: 'Exception ignored' and a traceback, then exit 0, so a shell loop went on.
    # At its default it ends the process by SIGINT, as a Kaldi binary's would.
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signal.SIGINT, signal.SIG_DFL)


class AsrkitCommand(ProcessEntry, click.Command):
    """A command made by :func:`asrkit_command`."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _no_breaks_at_hyphens():
            super().format_help(ctx, formatter)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # (a usage error prints the usage line alone, not through format_help: its metavars were
        # cut there, '<src-data-' / 'dir>')
        with _no_breaks_at_hyphens():
            super().format_usage(ctx, formatter)


@contextlib.contextmanager
def _no_breaks_at_hyphens() -> Iterator[None]:
    """click's help wrapping, for the while, breaks lines at spaces only: it broke them at hyphens
    too (textwrap's default), so an option or command named in the prose came out cut in two
    ("--max-" / "samples", "asrkit-" / "pack-model"), at some terminal width or other; a user copies
    those names. click's wrap_text takes no such option and builds its wrapper from
    click._textwrap.TextWrapper at each call, so that class is what is swapped."""
    import click._textwrap as textwrap_module

    plain = textwrap_module.TextWrapper

    class AtSpaces(plain):
        def __init__(self, *args, **kwargs) -> None:
            kwargs["break_on_hyphens"] = False
            super().__init__(*args, **kwargs)

    textwrap_module.TextWrapper = AtSpaces
    try:
        yield
    finally:
        textwrap_module.TextWrapper = plain


def _die_by(signum: int) -> None:
    """atexit: registered last, this runs first; the handlers registered before it are run from
    here, then stdout is flushed (what Python would do next), then the signal ends the process.
    Where it cannot, the exit goes on with status 128 + signum."""
    atexit.unregister(_die_by)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):  # (a closed pipe: nothing more can be said there)
                stream.flush()
    try:
        signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
        os.kill(os.getpid(), signum)
    except (OSError, ValueError):
        pass


def _catch_terminating_signals() -> dict:
    """Install the SIGTERM and SIGHUP handler (main thread only); returns the previous ones to restore.

    SIGHUP's default killed the command where it stood: its temporary outputs stayed, and
    asrkit-launch's jobs, each in a session of its own (so Ctrl-C reaches them only through the
    launcher), ran on unowned, their logs never closed, when the terminal or ssh session running
    it closed. An ignored SIGHUP (nohup) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _raise_terminated)}
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, _raise_terminated)
    return previous


def max_bad_percent_option(fn: Callable) -> Callable:
    """``--max-bad-percent``: the share of bad utterances a run tolerates (docs/errors.md)."""
    from asrkit.utils.bad_items import MAX_FAILED_PERCENT

    return click.option(
        "--max-bad-percent", type=click.FloatRange(0, 100), default=MAX_FAILED_PERCENT, show_default=True,
        help="Fail (writing nothing) when more than this percentage of the utterances are bad (Kaldi's rule: "
             "5). A JOB=1:N piece of a set can pass 100 (fail only when none succeeded) and check the "
             "whole set afterwards, as Kaldi's make_fbank.sh does and asr.sh does.")(fn)


def require_unless_print_config(*given: Tuple[Optional[str], str]) -> None:
    """A usage error for the first (value, name) not given: what a command that prints its resolved
    config with --print-config (asrkit-train, -train-lm, -compute-fbank) needs only to run."""
    for value, name in given:
        if not value:
            raise click.UsageError(f"missing {name} (only --print-config runs without it)")


def refuse_empty_name(ctx: click.Context, param: click.Parameter, value):
    """click callback of a file or directory name: '' (a shell variable left empty: "$dir") is a
    usage error naming the argument or option. Path('') is '.', so it was taken as the current
    directory (asrkit-split-data-dir split it, asrkit-holdout-lists read and wrote there), and an
    option's '' as the option not given (asrkit-score --output-dir '' wrote nothing, exit 0)."""
    if value == "" or (isinstance(value, tuple) and "" in value):
        raise click.BadParameter("an empty name (a shell variable left empty?)", ctx=ctx, param=param)
    # A directory named '-': asrkit-decode --output-dir - (Kaldi's '-' for stdout) made ./-/ and
    # wrote the hypotheses there, printing nothing, exit 0.
    if value == "-" and isinstance(param.type, click.Path) and not param.type.file_okay:
        raise click.BadParameter("'-' is not stdin or stdout here but a directory name (write ./- for a "
                                 "directory named '-')", ctx=ctx, param=param)
    return value


def dash_as_stdio(path, stream: str = "stdout"):
    """Kaldi's ``-`` for a file argument: the process's stdout (or stdin), as ``/dev/stdout``
    (``/dev/stdin``), which the writers write in place (:func:`asrkit.utils.fileio.is_stream`).
    asrkit-decode --ctm - and asrkit-align's <ctm-out> - wrote a file named '-' in the current
    directory, and align's <text-file> - was 'no such file'."""
    if path == "-" and stream == "stdin" and sys.stdin is None:
        # Started with stdin closed ("<&-"): /dev/stdin then links to nothing, "no such file".
        raise AsrkitError("<stdin>: stdin is closed")
    return f"/dev/{stream}" if path == "-" else path


def own_args() -> list:
    """The command's own arguments: under ``asrkit <sub>`` (or ``python -m asrkit <sub>``)
    argv[1] is the subcommand name, which the echoed ``asrkit-<sub>`` line already says. Public:
    asrkit-decode logs its command line from them too."""
    if os.path.basename(sys.argv[0]).startswith("asrkit-"):
        return sys.argv[1:]
    return sys.argv[2:]
