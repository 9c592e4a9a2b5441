"""An asrkit command stopped by Ctrl-C, SIGTERM or SIGHUP ends by that signal, as Kaldi's binaries
and Python itself do, so that the shell waiting for it stops too."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from cli_checks import run_asrkit


@pytest.fixture
def tokens_model(tmp_path):
    lang = tmp_path / "lang"
    run_asrkit("train-tokenizer", "--model-type", "char", "-", lang, input=b"a YES NO\nb NO YES\n")
    return lang / "tokens.model"


def _default_signals() -> None:
    # (a suite run in the background inherits SIGINT ignored, one under nohup SIGHUP: a terminal's
    # foreground job has both at their defaults)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _tokenizing(cmd, **kw) -> subprocess.Popen:
    """``cmd`` (running asrkit-tokenize) once the command reads its stdin: a first line is sent and
    its tokens read back, so the signal comes while it waits for the next (no timing)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, OMP_NUM_THREADS="1"), preexec_fn=_default_signals, **kw)
    proc.stdin.write(b"u1 YES NO\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    assert line.startswith(b"u1 "), proc.communicate()[1].decode()
    return proc


def _end(proc: subprocess.Popen) -> str:
    proc.stdin.close()  # (a command the signal did not stop reads the end of its input and ends)
    proc.stdin = None
    _, err = proc.communicate(timeout=300)
    return err.decode()


def test_ctrl_c_stops_a_shell_loop_over_a_command(tokens_model):
    """Ctrl-C (SIGINT to the terminal's foreground process group: the loop's bash and the command)
    in ``for i in 1 2; do asrkit-tokenize ...; done``. The command said 'interrupted' and exited
    130, and bash, which waits for a child that had the SIGINT too and goes on when that child
    exits (wait-and-cooperative-exit), ran the next item: Ctrl-C stopped one item, not the loop."""
    loop = 'for i in 1 2; do "$0" -m asrkit tokenize "$1"; echo "ended $?" >&2; done'
    proc = _tokenizing(["bash", "-c", loop, sys.executable, str(tokens_model)], start_new_session=True)
    try:
        os.killpg(proc.pid, signal.SIGINT)
        err = _end(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGINT, err
    assert err.count("ERROR (asrkit-tokenize): interrupted") == 1 and "ended" not in err, err
    assert "Traceback" not in err, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_command_ends_by_the_signal_that_stopped_it(tokens_model, sig):
    """Its one line, then death by the signal (a shell's $? is still 128 + n), not an exit."""
    proc = _tokenizing([sys.executable, "-m", "asrkit", "tokenize", str(tokens_model)])
    try:
        proc.send_signal(sig)
        err = _end(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    said = "interrupted" if sig == signal.SIGINT else f"terminated by {sig.name}"
    assert proc.returncode == -sig, err
    assert err.count(f"ERROR (asrkit-tokenize): {said}") == 1 and "Traceback" not in err, err


def test_the_commands_own_script_ends_by_the_signal_too(tokens_model):
    """asrkit-tokenize itself (the console script runs the command, not the asrkit group)."""
    proc = _tokenizing([os.path.join(os.path.dirname(sys.executable), "asrkit-tokenize"), str(tokens_model)])
    try:
        proc.send_signal(signal.SIGTERM)
        err = _end(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGTERM, err
    assert err.count("ERROR (asrkit-tokenize): terminated by SIGTERM") == 1, err


def test_a_command_run_inside_a_python_program_leaves_its_signals_alone(tmp_path):
    """A command run in-process (click's CliRunner, a notebook calling main.main(...)) and stopped
    by Ctrl-C exits 130 there, as before: ending by the signal is for a command that is the
    process. It set SIGINT to its default in the host and registered an exit handler that killed
    the host by SIGINT when it later ended normally."""
    script = tmp_path / "host.py"
    script.write_text(
        "import signal\n"
        "from click.testing import CliRunner\n"
        "import asrkit.cli.score as score\n"
        "def ctrl_c(*a, **k):\n"
        "    raise KeyboardInterrupt\n"
        "score.read_transcript_pair = ctrl_c\n"
        "before = signal.getsignal(signal.SIGINT)\n"
        "result = CliRunner().invoke(score.main, ['ref', 'hyp'])\n"
        "print(result.exit_code, signal.getsignal(signal.SIGINT) is before)\n")
    # (SIGINT at its default, as in a terminal: pytest-xdist's workers, and so their children, ignore
    # it, and Python installs its KeyboardInterrupt handler only where SIGINT is not ignored)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), preexec_fn=_default_signals)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert proc.stdout.decode().split() == ["130", "True"], proc.stdout.decode()


@pytest.mark.parametrize("entry", ["console script", "python -m asrkit"])
def test_ctrl_c_while_the_command_starts_says_one_line(tmp_path, entry):
    """Ctrl-C while the command still imports its modules (most of a short command's run: in a
    loop over asrkit-tokenize or asrkit-fix-data-dir, nearly every Ctrl-C) printed Python's
    traceback of the import, 20 lines, where a command stopped later says one. The SIGINT comes at
    ``import click``, the first import asrkit.cli makes (no timing)."""
    script = tmp_path / ("asrkit-fix-data-dir" if entry == "console script" else "run_m.py")
    start = ("from asrkit.cli.fix_data_dir import main\nsys.exit(main())\n" if entry == "console script"
             else "import runpy\nsys.argv[0] = 'asrkit'\nrunpy.run_module('asrkit', run_name='__main__', alter_sys=True)\n")
    script.write_text(
        "import builtins, os, signal, sys\n"
        "_import = builtins.__import__\n"
        "def ctrl_c_at_click(name, *a, **k):\n"
        "    if name == 'click':\n"
        "        builtins.__import__ = _import\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return _import(name, *a, **k)\n"
        "builtins.__import__ = ctrl_c_at_click\n" + start)
    args = [] if entry == "console script" else ["fix-data-dir"]
    proc = subprocess.run([sys.executable, str(script), *args, str(tmp_path / "no-such-dir")], capture_output=True,
                          timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"), preexec_fn=_default_signals)
    err = proc.stderr.decode()
    name = "asrkit-fix-data-dir" if entry == "console script" else "asrkit"
    assert proc.returncode == -signal.SIGINT, err
    assert err.splitlines() == [f"ERROR ({name}): interrupted"], err


def test_ctrl_c_while_a_finished_command_exits_ends_it_by_the_signal(tmp_path):
    """Ctrl-C after the command's work, while Python exits (torch's finalizers take seconds on a
    loaded machine: a fifth of asrkit-compute-fbank's run on 40 files) raised KeyboardInterrupt in
    an atexit callback: 'Exception ignored', a traceback, and exit 0, so a shell loop went on. Now
    the process ends by SIGINT, as a Kaldi binary does. The SIGINT comes from an exit handler that
    runs after the command's own (no timing)."""
    (tmp_path / "ref").write_text("u1 A B\n")
    (tmp_path / "hyp").write_text("u1 A B\n")
    script = tmp_path / "asrkit-score"
    script.write_text(
        "import atexit, os, signal, sys\n"
        "atexit.register(lambda: os.kill(os.getpid(), signal.SIGINT))\n"
        "from asrkit.cli.score import main\n"
        "sys.exit(main())\n")
    proc = subprocess.run([sys.executable, str(script), "--output-dir", "sc", "ref", "hyp"], cwd=tmp_path,
                          capture_output=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"),
                          preexec_fn=_default_signals)
    err = proc.stderr.decode()
    assert proc.returncode == -signal.SIGINT, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert (tmp_path / "sc" / "wer.txt").exists()  # (the work was done: its outputs stay)


@pytest.mark.parametrize("name", ["asrkit_tools.py", "host.py"])
def test_a_python_program_importing_asrkit_keeps_its_own_excepthook(tmp_path, name):
    """Only a command that is the process says 'interrupted' for an uncaught Ctrl-C: a user's own
    program (asrkit_tools.py as much as host.py) keeps Python's traceback and its own hook."""
    script = tmp_path / name
    script.write_text("import sys\nimport asrkit.cli\nprint(sys.excepthook is sys.__excepthook__)\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=300)
    assert proc.stdout.decode().split() == ["True"], proc.stderr.decode()


def _ctrl_c_at_score(where: str) -> str:
    """Python source that sends this process SIGINT while asrkit imports the score subcommand or
    while click parses its arguments: a fixed point of the run, not a time."""
    if where == "importing the subcommand":
        return ("_import = importlib.import_module\n"
                "def import_module(name, package=None):\n"
                "    if name == 'asrkit.cli.score':\n"
                "        os.kill(os.getpid(), signal.SIGINT)\n"
                "    return _import(name, package)\n"
                "importlib.import_module = import_module\n")
    return ("_parse = click.core.Command.parse_args\n"
            "def parse_args(self, ctx, args):\n"
            "    if self.name == 'score':\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "    return _parse(self, ctx, args)\n"
            "click.core.Command.parse_args = parse_args\n")


@pytest.mark.parametrize("where", ["importing the subcommand", "parsing its arguments"])
def test_ctrl_c_before_the_command_runs_says_one_line(tmp_path, where):
    """'asrkit score ...' stopped by Ctrl-C while the group imports the subcommand's module (0.15 s
    for compute-fbank) or while click parses the arguments: click's main printed 'Aborted!' and
    exited 1, so a shell loop went on. The SIGINT comes at that import or that parse (no timing)."""
    (tmp_path / "ref").write_text("u1 A\n")
    script = tmp_path / "run_m.py"
    script.write_text(
        "import importlib, os, runpy, signal, sys\n"
        "import click.core\n"
        + _ctrl_c_at_score(where)
        + "sys.argv[0] = 'asrkit'\n"
        "runpy.run_module('asrkit', run_name='__main__', alter_sys=True)\n")
    proc = subprocess.run([sys.executable, str(script), "score", "ref", "ref"], cwd=tmp_path, capture_output=True,
                          timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"), preexec_fn=_default_signals)
    err = proc.stderr.decode()
    assert proc.returncode == -signal.SIGINT, err
    assert err.splitlines() == ["ERROR (asrkit-score): interrupted"], err


def _user_program(path, text: str, *args, **kw) -> subprocess.CompletedProcess:
    path.write_text(text)
    return subprocess.run([sys.executable, str(path), *args], cwd=path.parent, capture_output=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), preexec_fn=_default_signals, **kw)


@pytest.mark.parametrize("name", ["asrkit-batch.py", "asrkit-batch"])
def test_a_program_calling_commands_keeps_its_own_ctrl_c(tmp_path, name):
    """A user's program (named like a command, asrkit-batch.py or asrkit-batch) calling commands
    one after another with arguments, then stopped by Ctrl-C: its except clause ran before the
    command's SIGINT reset, after which the first Ctrl-C killed it (its summary never written).
    Only the process's own entry (a console script or python -m asrkit: main() with no arguments)
    hands SIGINT back to its default. The SIGINT comes after the calls (no timing)."""
    (tmp_path / "ref").write_text("u1 A B\n")
    proc = _user_program(
        tmp_path / name,
        "import os, signal, sys, time\n"
        "from asrkit.cli.score import main as score\n"
        "for i in range(2):\n"
        "    try:\n"
        "        score(['ref', 'ref'], standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    print('summary written')\n")
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert proc.stdout.decode().splitlines()[-1:] == ["summary written"], proc.stdout.decode()


def test_a_console_script_run_inside_a_program_leaves_its_signals_alone(tmp_path):
    """runpy.run_path of a console script inside a host program (as IPython's %run runs it): the
    command's __main__ is the script only while it runs, yet its end set the host's SIGINT to its
    default (the host's next Ctrl-C killed it) and left asrkit's excepthook in the host."""
    (tmp_path / "ref").write_text("u1 A B\n")
    (tmp_path / "asrkit-score").write_text(
        "import sys\nfrom asrkit.cli.score import main\nif __name__ == '__main__':\n    sys.exit(main())\n")
    proc = _user_program(
        tmp_path / "host.py",
        "import runpy, signal, sys\n"
        "sys.argv = ['asrkit-score', 'ref', 'ref']\n"
        "try:\n"
        "    runpy.run_path('asrkit-score', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    print('exit', e.code)\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, sys.excepthook is sys.__excepthook__)\n")
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert proc.stdout.decode().splitlines()[-2:] == ["exit 0", "True True"], proc.stdout.decode()


def test_python_dash_i_keeps_its_prompts_ctrl_c(tmp_path):
    """python -i asrkit-score --help: a Ctrl-C at the prompt that follows killed the interpreter
    (SIGINT at its default) where Python says KeyboardInterrupt and goes on. The SIGINT is sent by
    the statement typed at the prompt (no timing)."""
    script = tmp_path / "asrkit-score"
    script.write_text("import sys\nfrom asrkit.cli.score import main\nif __name__ == '__main__':\n    sys.exit(main())\n")
    proc = subprocess.run([sys.executable, "-i", str(script), "--help"], cwd=tmp_path, capture_output=True, timeout=300,
                          input=b"import os, signal\nos.kill(os.getpid(), signal.SIGINT)\nprint('alive')\n",
                          env=dict(os.environ, OMP_NUM_THREADS="1"), preexec_fn=_default_signals)
    err = proc.stderr.decode()
    assert proc.returncode == 0 and "alive" in proc.stdout.decode(), err[-3000:]
    assert "KeyboardInterrupt" in err and "ERROR (" not in err, err[-3000:]


def test_ctrl_c_while_asrkit_help_lists_the_commands_names_asrkit(tmp_path):
    """'asrkit --help' imports every subcommand to list it: a Ctrl-C there was said as
    'ERROR (asrkit-score): interrupted', naming a command nobody ran. The SIGINT comes at the
    import of asrkit.cli.score (no timing)."""
    script = tmp_path / "run_m.py"
    script.write_text(
        "import importlib, os, runpy, signal, sys\n"
        "_import = importlib.import_module\n"
        "def import_module(name, package=None):\n"
        "    if name == 'asrkit.cli.score':\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return _import(name, package)\n"
        "importlib.import_module = import_module\n"
        "sys.argv[0] = 'asrkit'\n"
        "runpy.run_module('asrkit', run_name='__main__', alter_sys=True)\n")
    proc = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), preexec_fn=_default_signals)
    err = proc.stderr.decode()
    assert proc.returncode == -signal.SIGINT, err
    assert err.splitlines() == ["ERROR (asrkit): interrupted"], err


@pytest.mark.parametrize("where", ["importing the subcommand", "parsing its arguments"])
def test_ctrl_c_before_a_library_call_runs_stays_clicks(tmp_path, where):
    """main.main([...], standalone_mode=False) in a Python program (click as a library): a Ctrl-C
    while the group imported the subcommand or click parsed the arguments printed the command's
    'ERROR ... interrupted' and raised SystemExit(130), where click raises click.Abort for the
    program to handle, as a Ctrl-C in the command itself leaves its signals to the program. The
    SIGINT comes at that import or that parse (no timing)."""
    (tmp_path / "ref").write_text("u1 A\n")
    inject = _ctrl_c_at_score(where)
    proc = _user_program(
        tmp_path / "host.py",
        "import importlib, os, signal, sys\n"
        "import click, click.core\n" + inject +
        "from asrkit.cli import main\n"
        "try:\n"
        "    main.main(['score', 'ref', 'ref'], standalone_mode=False)\n"
        "except click.Abort:\n"
        "    print('click.Abort')\n")
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-3000:]
    assert proc.stdout.decode().split() == ["click.Abort"] and "ERROR" not in err, (proc.stdout.decode(), err)
