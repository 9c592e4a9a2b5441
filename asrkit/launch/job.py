"""What a launch is, whatever runs it: the JOB range, the command line and the log format.

Both back-ends follow Kaldi's run.pl / slurm.pl: ``JOB=1:N`` names a variable and a range, each
occurrence of the variable's name in the log path and the command that stands as a name of its
own (:meth:`Launch.replace_job`) is replaced by the index, the
command runs through ``bash`` (so pipes work) and its log starts with the command line and the
start time and ends with the time taken and the exit status::

    # asrkit-compute-fbank scp:data/train/split4/3/wav.scp ark,scp:dump/train/feats.3.ark,...
    # Started at Tue Nov 24 18:00:00 UTC 2026
    #
    ... the command's stdout and stderr ...
    # Accounting: time=12 threads=1
    # Ended (code 0) at Tue Nov 24 18:00:12 UTC 2026, elapsed time 12 seconds

A log already there from an earlier launch is kept, renamed with the next free number
(``train.log`` -> ``train.log.1``, then ``train.log.2``, ...; the highest number is the newest
earlier run), so re-running a job, a resumed training above all, never loses the history.
"""
from __future__ import annotations

import errno
import os
import re
import shlex
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

from asrkit.data.table import ascii_int
from asrkit.utils.errors import MACHINE_ERRORS, AsrkitError
from asrkit.utils.fileio import (is_stream, missing_dirs, parent_not_a_directory, remove_empty_dirs,
                                 same_regular_file)
from asrkit.utils.logging import has_control_chars, shell_word

# re.ASCII: \d of a str pattern matches any script's digits, and int() reads them (JOB=1:٣ was 3 jobs)
_RANGE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+)(?::(\d+))?$", re.ASCII)
# More jobs than one launch is ever meant to run (Slurm caps an array at MaxArraySize, at most
# 4,000,001): JOB=1:99999999999999 is a typo, and listing its indexes ran out of memory
# (a MemoryError traceback; one past 2**63 an OverflowError).
MAX_JOBS = 1_000_000


@dataclass(frozen=True)
class JobRange:
    """``JOB=1:N`` (or ``JOB=3``, a single index); ``name`` is the variable replaced."""

    name: str
    start: int
    end: int

    @property
    def indexes(self) -> range:
        return range(self.start, self.end + 1)

    def __len__(self) -> int:
        return self.end - self.start + 1


def parse_job_range(arg: str) -> Optional[JobRange]:
    """``JOB=1:4`` -> JobRange; ``None`` when ``arg`` is not a range (i.e. it is the log file)."""
    m = _RANGE.match(arg)
    if not m:
        return None
    start = int(m.group(2))
    end = int(m.group(3)) if m.group(3) is not None else start
    if start < 1:
        raise AsrkitError(f"bad job range {arg!r}: indexes start at 1 (as in Kaldi)")
    if end < start:
        raise AsrkitError(f"bad job range {arg!r}: the end is before the start")
    if end - start + 1 > MAX_JOBS:
        raise AsrkitError(f"bad job range {arg!r}: {end - start + 1:,} jobs, more than asrkit-launch runs at once "
                          f"({MAX_JOBS:,})")
    return JobRange(m.group(1), start, end)


def refuse_range_as_option_value(options: Mapping[str, Optional[str]]) -> None:
    """An option whose value is a JOB range lost its own value: ``--mem $mem JOB=1:4 ...`` with
    ``$mem`` empty (cmd.sh's ``--mem ${mem}``) took JOB=1:4 for the memory, so the launch ran one
    job, with JOB unreplaced in its log name and command, and exited 0 (the local backend ignores
    --mem)."""
    for name, value in options.items():
        if value is not None and _RANGE.match(value):
            raise AsrkitError(f"{name} {value!r} is a job range: {name} lost its own value (an empty shell "
                              f"variable, e.g. in cmd.sh?)")


def join_command(args: Sequence[str]) -> str:
    """Join command words the way run.pl does, so Kaldi recipes' quoting carries over.

    A word without white space goes in as it is (so an escaped ``\\|`` from the caller's shell
    becomes a pipe, and ``$VAR`` or a glob is the job's shell's to expand); a word with white
    space (or an empty one) is quoted as one literal word (so ``"ark:gunzip -c $f |"`` stays one
    word): in double quotes, as run.pl, when that keeps it as it is, else in single quotes. Two
    exceptions: run.pl's idiom of a quote opened in one word and closed at the end of a later one
    (``awk \\'{print \\$2}\\' f``: :func:`_quoted_run`) goes in as run.pl joins it; any
    other word bash could not read as a word (a quote never closed: :func:`_left_open`; a
    backslash at its end) is quoted literally. A command given as one single word is taken as a
    whole shell command line (``asrkit-launch x.log 'a | b'``), since no program is named
    ``a | b``; run.pl would fail.
    """
    if len(args) == 1:
        return args[0]
    words = []
    i = 0
    while i < len(args):
        end = _quoted_run(args, i)
        if end is not None:
            words.extend(_run_pl_word(arg) for arg in args[i:end + 1])
            i = end + 1
            continue
        arg = args[i]
        if has_control_chars(arg):
            # (a newline in a file name: quoted as run.pl does, the log's '# <command>' header went
            # on over two lines; bash's $'...' keeps it one line, the same word to bash)
            words.append(shell_word(arg))
        else:
            words.append(_quote_word(arg) if _left_open(arg) or _escapes_space(arg) else _run_pl_word(arg))
        i += 1
    return " ".join(words)


def _run_pl_word(word: str) -> str:
    return word if word and not re.search(r"\s", word) else _quote_word(word)


def _quoted_run(args: Sequence[str], i: int) -> Optional[int]:
    """The last word of a quote that ``args[i]`` opens and a later word closes at its end, as
    run.pl's users write it, or None. ``\\'{print \\$2}\\'`` typed in the caller's shell gives
    the words ``'{print`` and ``$2}'``: one awk program to the job's shell; so do
    ``--opts=\\"--beam 10\\"`` (a quote after '=') and ``-F\\' \\'`` (a quote ending one word,
    closed by the next). Each word holds that quote character once, the words between not at all.
    Words that merely hold an apostrophe (``grep -e "don't" -e "can't"``) close no such quote:
    joined as they were, bash read them as one pattern 'dont -e cant'."""
    first = args[i]
    at = min((first.find(q) for q in "'\"" if q in first), default=-1)
    if at < 0:
        return None
    quote = first[at]
    if first.count(quote) != 1 or not (at == 0 or first[at - 1] == "=" or at == len(first) - 1):
        return None
    for j in range(i + 1, len(args)):
        n = args[j].count(quote)
        if n == 0 and at == len(first) - 1:
            return None  # (-d' ... : a quote ending a word is closed by the next word or is literal)
        if n == 0:
            continue
        return j if n == 1 and args[j].endswith(quote) else None
    return None


def _escapes_space(word: str) -> bool:
    """A word without quotes ending in a backslash: joined as it is, it escaped the space after
    it, joining the next word to it (``x\\`` then ``y`` reached the program as ``x y``)."""
    return word.endswith("\\") and "'" not in word and '"' not in word


def _left_open(word: str) -> bool:
    """Whether bash would find a quote in ``word`` never closed, or a backslash at its end: ``it's``
    (``grep "it's" text`` in the caller's shell gives that word) went in as it was, as run.pl has
    it, and the job ended with bash's "unexpected EOF while looking for matching `''" (code 2).
    Outside run.pl's idiom (:func:`_quoted_run`) such a word can only be meant literally. (``$'...'``,
    ANSI-C quoting, which shlex does not know, is left to bash.)"""
    if "'" not in word and '"' not in word and not word.endswith("\\") or "$'" in word:
        return False
    try:
        shlex.split(word)
    except ValueError:
        return True
    return False


def _quote_word(word: str) -> str:
    """``word`` as one literal bash word. run.pl put it in double quotes (single ones when it held
    a double quote), where bash still expands ``$``, runs backticks and eats backslashes: an
    argument 'a $HOME b' reached the program as 'a /root b', 'x `id` y' ran id, and one holding
    both quote kinds ('it's "q" x') ended the job with a bash syntax error."""
    if not re.search(r'[$`\\"!]', word):
        return f'"{word}"'  # run.pl's form, where it is literal
    if "'" not in word:
        return f"'{word}'"
    return "'" + word.replace("'", "'\"'\"'") + "'"


@dataclass
class Launch:
    """One ``asrkit-launch`` call: N jobs of one command (each maybe several tasks)."""

    command: str  # the bash command line, still with the JOB variable in it
    log_template: str  # the log path, still with the JOB variable in it
    jobs: Optional[JobRange] = None  # None: a single job, nothing substituted
    num_threads: int = 1
    ntasks: int = 1  # tasks per job in all, run together (srun under Slurm) for distributed training
    nodes: int = 1  # the tasks are spread evenly over this many nodes
    # --num-threads given: each task gets OMP_NUM_THREADS=num_threads. Inherited, path.sh's 1 held
    # a job given 4 CPUs (--cpus-per-task=4 on Slurm) to one thread, and the others sat idle.
    threads_env: bool = False

    def thread_env(self) -> dict:
        """What a task's environment gets for --num-threads ({} when not given)."""
        return {"OMP_NUM_THREADS": str(self.num_threads)} if self.threads_env else {}

    def __post_init__(self) -> None:
        if not self.log_template:  # an unset shell variable ("$log"): was "cannot write log file : No such file"
            raise AsrkitError("the log file name is empty (expected [JOB=1:N] <log-file> <command> ...)")
        if not self.command.strip():
            # a single empty word ("$cmd" unset) ran 'bash -c ""': nothing, "Done 1 out of 1 job", exit 0
            raise AsrkitError("the command is empty (an empty shell variable?): nothing to run")
        if self.jobs is not None and len(self.jobs) > 1 and self.replace_job(self.log_template, "") == self.log_template:
            # 'fbankJOB.log' holds the name, but next to a letter (replace_job's rule): "does not
            # contain JOB" of a name that visibly did sent users looking for a typo.
            how = (f" as a name of its own (one next to a letter or digit, or in a shell variable, is not "
                   f"replaced: e.g. fbank.{self.jobs.name}.log)") if self.jobs.name in self.log_template else ""
            raise AsrkitError(
                f"{len(self.jobs)} jobs but the log file {self.log_template!r} does not contain "
                f"{self.jobs.name}{how}: every job would write the same log")
        if self.ntasks < 1 or self.nodes < 1 or self.num_threads < 1:
            raise AsrkitError("--ntasks, --num-nodes and --num-threads must be at least 1")
        if self.ntasks % self.nodes:
            raise AsrkitError(f"--ntasks {self.ntasks} cannot be spread evenly over --num-nodes {self.nodes}")

    @property
    def ntasks_per_node(self) -> int:
        return self.ntasks // self.nodes

    @property
    def indexes(self) -> list[int]:
        return list(self.jobs.indexes) if self.jobs else [1]

    def replace_job(self, text: str, replacement: str) -> str:
        """``text`` with each occurrence of the range's name that stands as a name of its own
        replaced. run.pl replaces every occurrence, inside other words too: with JOB=1:4,
        $SLURM_JOB_ID became $SLURM_1_ID, --max-JOBS JOBS and a model 'myJOBnet' changed too.
        Not replaced: one with a letter or digit next to it (JOBS, xJOBx) and one in a shell
        variable's name ($SLURM_JOB_ID, ${MY_JOB}, $JOB); replaced: feats.JOB.ark,
        split4/JOB/wav.scp, decode_JOB.log, --job=JOB."""
        if self.jobs is None:
            return text
        return job_name_pattern(self.jobs.name).sub(
            lambda m: m.group(0) if _in_shell_variable(text, m.start()) else replacement, text)

    def substitute(self, text: str, index: int) -> str:
        return self.replace_job(text, str(index))

    def log_path(self, index: int) -> str:
        return self.substitute(self.log_template, index)

    def command_for(self, index: int) -> str:
        return self.substitute(self.command, index)

    def log_pattern(self) -> str:
        """The log path with the variable as ``*``, for "log is in exp/x/log/job.*.log"."""
        return self.replace_job(self.log_template, "*")


def job_name_pattern(name: str) -> "re.Pattern[str]":
    """The range's name where no letter or digit adjoins it (see :meth:`Launch.replace_job`)."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])")


def _in_shell_variable(text: str, start: int) -> bool:
    """Whether the name at ``start`` is part of a shell variable reference ($NAME_X, ${X_NAME})."""
    i = start
    while i > 0 and (text[i - 1].isascii() and (text[i - 1].isalnum() or text[i - 1] == "_")):
        i -= 1
    return text[i - 1:i] == "$" or text[max(i - 2, 0):i] == "${"


def resolve_tasks(nodes: int, ntasks: Optional[int], ntasks_per_node: Optional[int], gpu: Optional[str]) -> int:
    """How many tasks one job runs in all, from asrkit-launch's --num-nodes/--ntasks/--ntasks-per-node/--gpu.

    A job on one node is one task unless asked otherwise (``asrkit-train --ngpu N`` starts its N
    processes itself there). A job on several nodes is a distributed run, which only srun can
    start: one task per GPU of each node (``--gpu`` counts GPUs per node), or one per node
    without GPUs, unless ``--ntasks``/``--ntasks-per-node`` say otherwise.

    >>> resolve_tasks(2, None, None, "4"), resolve_tasks(2, None, None, "0"), resolve_tasks(1, None, None, "4")
    (8, 2, 1)
    """
    if nodes < 1:
        raise AsrkitError(f"--num-nodes {nodes}: must be at least 1")
    for name, value in (("--ntasks", ntasks), ("--ntasks-per-node", ntasks_per_node)):
        if value is not None and value < 1:
            raise AsrkitError(f"{name} {value}: must be at least 1")
    if ntasks is not None and ntasks_per_node is not None:
        if ntasks != nodes * ntasks_per_node:
            raise AsrkitError(f"--ntasks {ntasks} is not --num-nodes {nodes} x --ntasks-per-node {ntasks_per_node}")
        return ntasks
    if ntasks is not None:
        if ntasks % nodes:
            raise AsrkitError(f"--ntasks {ntasks} cannot be spread evenly over --num-nodes {nodes} "
                              "(give --ntasks-per-node instead)")
        return ntasks
    if ntasks_per_node is not None:
        return nodes * ntasks_per_node
    if nodes == 1:
        return 1
    # ASCII digits: int() read '٣' as 3 tasks per node (and '1_0' as 10) while sbatch got --gres=gpu:٣
    gpus = ascii_int(gpu.strip()) if gpu is not None else 0
    if gpus is None or gpus < 0:
        raise AsrkitError(f"--gpu {gpu!r} is not a number of GPUs: give --ntasks-per-node for a job on "
                          f"{nodes} nodes")
    return nodes * max(gpus, 1)


@dataclass
class JobResult:
    index: int
    code: int  # the exit status; 128+signal when killed, -1 when no status came back
    log: str
    elapsed_s: float = 0.0
    note: str = ""  # why there is no status, when code == -1


@dataclass
class LaunchResult:
    results: list[JobResult] = field(default_factory=list)
    backend: str = "local"
    elapsed_s: float = 0.0
    slurm_job_id: Optional[str] = None

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.code != 0]

    def failure_message(self, launch: Launch, max_listed: int = 10) -> str:
        """Kaldi's summary, naming the failed JOBs and their logs."""
        failed = sorted(self.failed, key=lambda r: r.index)
        if len(self.results) == 1:
            r = failed[0]
            return f"job failed{_code_text(r)}, log is in {r.log}{_error_of(r.log)}"
        listed = failed[:max_listed]
        more = f" and {len(failed) - len(listed)} more ({launch.log_pattern()})" if len(failed) > len(listed) else ""
        name = launch.jobs.name if launch.jobs else "JOB"
        lines = [f"{len(failed)} / {len(self.results)} failed, log is in "
                 + " ".join(r.log for r in listed) + more]
        lines += [f"  {name}={r.index}{_code_text(r)}: {r.log}{_error_of(r.log)}" for r in listed]
        return "\n".join(lines)


class FailureWarnings:
    """A warning for each job that fails as it fails, for the first ``shown`` of them: 2000
    failing jobs printed 2000 such lines ahead of the summary, which names the failures anyway
    (Kaldi's run.pl prints only the summary)."""

    def __init__(self, logger, launch: Launch, shown: int = 10) -> None:
        self.logger = logger
        self.shown = shown
        self.count = 0
        # A launch of one job: the summary follows at once and says the same ("JOB=1 failed" of a
        # launch without JOB= only misled). A range named otherwise (SPLIT=1:4) says SPLIT=3.
        self.name = launch.jobs.name if launch.jobs is not None and len(launch.jobs) > 1 else None

    def failed(self, r: JobResult) -> None:
        if self.name is None:
            return
        self.count += 1
        if self.count <= self.shown:
            self.logger.warning("%s=%d failed (%s), log is in %s", self.name, r.index,
                                code_words(r.code) if r.code >= 0 else r.note, r.log)
        if self.count == self.shown:
            self.logger.warning("further failed jobs are not named as they end: the summary at the end lists them")


_ERROR_TAIL_BYTES = 65536  # where a failed job's last ERROR line is looked for
_ERROR_SHOWN_CHARS = 300


def _error_of(log: str) -> str:
    """``: <the log's last ERROR line>`` (asrkit's and Kaldi's one-line errors, and click's
    ``Error: No such option '--bogus'`` of a command given a bad option), or "".

    Kaldi names only the log: the reason (a wrong sample rate, with its --resample hint) was then
    one more file to open, and a recipe's stage-1 failure read as "1 / 4 failed" on the console.
    """
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - _ERROR_TAIL_BYTES))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        return ""  # not written (yet): a Slurm node's log on a slow shared disk
    errors = [line.strip() for line in tail.splitlines() if line.startswith(("ERROR", "Error: "))]
    if not errors:
        return ""
    line = errors[-1]
    return ": " + (line if len(line) <= _ERROR_SHOWN_CHARS else line[:_ERROR_SHOWN_CHARS - 3] + "...")


def code_words(code: int) -> str:
    """``code 1``; for a shell's 128 + n, the signal too (``code 143: SIGTERM``): a job that Slurm
    cancelled or timed out, or that the kernel killed for memory (137: SIGKILL), is said to be."""
    if 128 < code < 128 + 65:
        try:
            return f"code {code}: {signal.Signals(code - 128).name}"
        except ValueError:
            pass
    return f"code {code}"


def _code_text(r: JobResult) -> str:
    if r.code == -1:
        return f" ({r.note or 'no exit status'})"
    return f" ({code_words(r.code)})"


def kaldi_date(t: Optional[float] = None) -> str:
    """``date``'s default format in the C locale: ``Tue Nov 24 18:00:00 UTC 2026``."""
    return time.strftime("%a %b %e %H:%M:%S %Z %Y", time.localtime(t))


def log_header(command: str, started: float, extra: Sequence[str] = ()) -> str:
    # Each line of a command holding a newline (an argument 'two\nlines') a comment too: the
    # header is the lines up to the first '#' alone, and a bare line would read as output.
    lines = [f"# {command}".replace("\n", "\n# "), f"# Started at {kaldi_date(started)}",
             *(f"# {e}" for e in extra), "#"]
    return "\n".join(lines) + "\n"


def log_footer(code: int, started: float, ended: float, threads: int) -> str:
    elapsed = int(round(ended - started))
    return (f"# Accounting: time={elapsed} threads={threads}\n"
            f"# Ended (code {code}) at {kaldi_date(ended)}, elapsed time {elapsed} seconds\n")


def make_log_dir(log: str) -> None:
    """``mkdir -p`` the directory of ``log``; a failure is raised naming the log."""
    try:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise log_error(e, log) from None


def check_logs(launch: "Launch") -> None:
    """Make every log's directory, and refuse a log that is a directory or that the command names,
    before anything runs (one AsrkitError naming the log). On a refusal the directories made for
    the earlier logs are removed again: nothing ran, and JOB=1:N with the 7th log refused left
    six empty exp/x/log/JOB/ folders behind."""
    made: set = set()
    # All of them at once, deepest first: folders shared by several logs (exp/ of exp/JOB/x.log)
    # come after every one made inside them, whichever log made them.
    created = missing_dirs([launch.log_path(index) for index in launch.indexes])
    try:
        for index in launch.indexes:
            log = launch.log_path(index)
            if os.path.dirname(log) not in made:
                make_log_dir(log)
                made.add(os.path.dirname(log))
            if os.path.isdir(log):
                raise AsrkitError(f"cannot write log file {log}: Is a directory")
            refuse_log_named_in_command(launch, index)
    except BaseException:
        remove_empty_dirs(created)
        raise


def refuse_log_named_in_command(launch: "Launch", index: int) -> None:
    """An error when job ``index``'s log, already there, is also a file its command names (an input
    given as the log by mistake: ``asrkit-launch data/train/text cut -f1 data/train/text``). The
    input was moved aside as an earlier log (text.1) and the job read its own log instead: run.pl
    truncates it."""
    log = launch.log_path(index)
    if not os.path.isfile(log) or is_stream(log):
        return
    # the words of the command, and the file names inside Kaldi's specifiers (scp:x.scp, ark,t:-)
    for word in dict.fromkeys(re.split(r"[\s,:=\"']+", launch.command_for(index))):
        if word and same_regular_file(word, log):
            raise AsrkitError(f"the log file {log} is also named in the command ({word}), an input given as the "
                              f"log? It would be moved aside as an earlier log ({log}.N) and the command would find "
                              f"the new log in its place: give another log file")


def log_error(e: OSError, log: str) -> BaseException:
    """What to raise when ``log`` cannot be made: a full disk or a refused permission as it is (the
    command's one handler words those, naming the log), else one line naming the log and, for
    mkdir -p's "File exists", the file in the way."""
    if e.errno in MACHINE_ERRORS:
        if e.filename is None:
            e.filename = log
        return e
    why = parent_not_a_directory(log) if e.errno in (errno.EEXIST, errno.ENOTDIR) else None
    return AsrkitError(f"cannot write log file {log}: {why or e.strerror}")


def rotate_log(path: str, kept: Optional["KeptLogs"] = None) -> Optional[str]:
    """Move an existing log at ``path`` to ``<path>.<N>``, N one above the highest kept; the new name.

    One rename, never a shift of the older ones, so a launcher killed half-way cannot leave the
    history out of order. Creation order: ``.1`` is the oldest run kept. Nothing to do (None)
    when there is no log yet. ``kept``: the numbers kept, for the many logs of one launch.
    """
    p = Path(path)
    # /dev/stdout (or a link into /dev, /proc) is a regular file when stdout is redirected to one:
    # "keeping" it renamed the node itself (as root, the system's /dev/stdout became
    # /dev/stdout.1 and the log a plain file in its place). A stream is written, never rotated.
    if not p.is_file() or is_stream(p):
        return None
    highest = (kept or KeptLogs()).highest(p)
    if kept is not None and os.path.lexists(p.with_name(f"{p.name}.{highest + 1}")):
        highest = KeptLogs().highest(p)  # made since the listing (another launcher): never replaced
    backup = p.with_name(f"{p.name}.{highest + 1}")
    try:
        os.replace(p, backup)
    except OSError as e:
        raise AsrkitError(f"cannot keep the earlier log {path} as {backup}: {e.strerror}") from None
    if kept is not None:
        kept.numbers[p.parent][p.name] = highest + 1
    return str(backup)


class KeptLogs:
    """The highest ``<log>.<N>`` kept for each log of a directory, the directory listed once.

    Listing it for each log made re-running a launch quadratic in its jobs: JOB=1:3000 took 26 s
    the second time against 4 s the first, 3000 listings of 6000 names.
    """

    def __init__(self) -> None:
        self.numbers: dict[Path, dict[str, int]] = {}

    def highest(self, log: Path) -> int:
        if log.parent not in self.numbers:
            found: dict[str, int] = {}
            for q in log.parent.iterdir():
                m = re.fullmatch(r"(.+)\.(\d+)", q.name, re.ASCII)
                if m:
                    found[m.group(1)] = max(found.get(m.group(1), 0), int(m.group(2)))
            self.numbers[log.parent] = found
        return self.numbers[log.parent].get(log.name, 0)
