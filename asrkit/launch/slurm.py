"""The Slurm back-end (Kaldi's slurm.pl): JOB=1:N as one ``sbatch --array`` job, waited for.

For ``exp/x/log/fbank.JOB.log`` it writes the batch script ``exp/x/log/q/fbank.sh`` (kept, so a
failed job can be resubmitted or read by hand), submits it with the options the config file maps
(:mod:`asrkit.launch.slurm_config`), and waits for each task's exit status: the script writes it
to ``exp/x/log/q/fbank.<token>.status/<JOB>`` when the command ends, as slurm.pl's ``.sync``
files. A task Slurm cancels or times out writes 143 (its script traps Slurm's SIGTERM); one whose
job left the queue without writing a status (out of memory, SIGKILL) counts as failed with a note. Ctrl-C or SIGTERM cancels the whole array (``scancel``).

A job with ``ntasks > 1`` is one allocation of ``--nodes=N --ntasks-per-node=T`` running the
command under ``srun`` with the same shape, so ``asrkit-train`` finds its rank, world size and
master (the first node of the job) in Slurm's environment (:mod:`asrkit.launch.distributed`).
Each task sees every GPU the job has on its node (srun gives a step all of the job's generic
resources by default) and takes the one of its node-local rank.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator, Mapping, Optional

from asrkit.launch.job import FailureWarnings, JobResult, KeptLogs, Launch, LaunchResult, check_logs, rotate_log
from asrkit.launch.local import MAX_BASH_C_BYTES
from asrkit.launch.slurm_config import SlurmConfig
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import atomic_open, current_umask, parent_not_a_directory, signals_deferred
from asrkit.utils.logging import get_logger, progress

logger = get_logger(__name__)


def queue_dir(launch: Launch) -> Path:
    """``exp/x/log/q`` for logs in ``exp/x/log``, where slurm.pl keeps its scripts too."""
    return Path(launch.log_path(launch.indexes[0])).parent / "q"


def script_name(launch: Launch) -> str:
    """``fbank.JOB.log`` -> ``fbank``: the name of the batch script and of the Slurm job."""
    base = Path(launch.log_template).name
    if base.endswith(".log"):
        base = base[: -len(".log")]
    if launch.jobs is not None:
        base = base.replace("." + launch.jobs.name, "").replace(launch.jobs.name, "")
    return base.strip(".") or "job"


def batch_script(launch: Launch, status_dir: Path, submit_line: str) -> str:
    """The bash script every array task runs: substitute JOB, log like run.pl, write the status."""
    q = shlex.quote
    command_template, log_template = launch.command, launch.log_template
    if launch.jobs is not None:
        # The occurrences the local back-end replaces (Launch.replace_job, not every one) become
        # a mark no command holds, which bash's plain ${var//mark/$index} then replaces.
        mark = "ASRKIT_JOB_INDEX"
        while mark in launch.command or mark in launch.log_template:
            mark += "_"
        command_template, log_template = launch.replace_job(command_template, mark), launch.replace_job(log_template, mark)
        index = "index=$SLURM_ARRAY_TASK_ID"
        substitute = (f'command=${{command_template//{mark}/$index}}\n'
                      f'log=${{log_template//{mark}/$index}}')
    else:
        index = "index=1"
        substitute = 'command=$command_template\nlog=$log_template'
    # Linux takes no single argument of 128 KiB or more (MAX_ARG_STRLEN): a command that long (a
    # job given 30000 file names), one argument of bash -c (and of srun), failed the task with code
    # 126 and bash's "Argument list too long" in its log. Its bash sources it from a file instead,
    # as the local backend's does: one the task writes beside its log, in the log folder's q/ as
    # this script (_WRITE_COMMAND), removed when the task ends and replaced by the next run of a
    # task killed outright (in the status directory, it stayed when the launcher was killed too).
    # (The local backend's has no name; a task here may be on another node than the launcher.)
    from_file = _too_long_for_an_argument(launch)
    given = "$command_source" if from_file else "$command"  # what the command's bash is given
    if launch.ntasks > 1:
        # The step's shape is spelled out (an even spread, as the allocation's), and srun 22.05+
        # does not take --cpus-per-task from the allocation: it is passed on explicitly.
        # Each task that ends by itself writes its exit status for the job's (see _TASK_CODES).
        # SIGUSR1/SIGUSR2, which srun passes on to every process of a task, are the command's: this
        # wrapper died of them (bash's default action), and with it the task's status (a handler,
        # not '', which the command would inherit as ignored).
        task = ('trap : USR1 USR2; bash -c "set -o pipefail; $1"; c=$?; '
                '[ -d "$ASRKIT_TASK_CODES" ] && echo "$c" > "$ASRKIT_TASK_CODES/$SLURM_PROCID"; exit "$c"')
        run = (f'srun --kill-on-bad-exit=1 --nodes={launch.nodes} --ntasks={launch.ntasks} '
               f'--ntasks-per-node={launch.ntasks_per_node} '
               '${SLURM_CPUS_PER_TASK:+--cpus-per-task=$SLURM_CPUS_PER_TASK} '
               f'bash -c {q(task)} asrkit-task "{given}"')
        codes = _TASK_CODES.format(ntasks=launch.ntasks)
        # (not made when the launcher is gone: mkdir -p would make its removed status directory again)
        prepare = 'export ASRKIT_TASK_CODES="$status_dir/$index.tasks"\n' \
                  '[ -d "$status_dir" ] && mkdir -p "$ASRKIT_TASK_CODES"\n'
        per_node = f" ({launch.ntasks_per_node} per node)" if launch.nodes > 1 else ""
        where = f'Running {launch.ntasks} tasks{per_node} of Slurm job $SLURM_JOB_ID on $SLURM_JOB_NODELIST'
    else:
        run = f'bash -c "set -o pipefail; {given}"'
        codes, prepare = "code=$waited\n", ""
        where = 'Running on $(hostname) as Slurm job ${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}${SLURM_ARRAY_TASK_ID:+_$SLURM_ARRAY_TASK_ID}'
    write_command, remove_command = "", ""
    if from_file:
        write_command, remove_command = _WRITE_COMMAND, '  rm -f -- ${command_file:+"$command_file"}\n'
    # Every line of it a comment: an option value with a newline in it (--mem $'4G\n...') would
    # otherwise end the comment and leave the rest of the submit line to bash as commands.
    submitted = "\n".join("# " + line for line in submit_line.splitlines())
    # (after path.sh, whose OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} the submitting shell exported)
    threads = "".join(f"export {k}={q(v)}\n" for k, v in launch.thread_env().items())
    return f"""\
#!/bin/bash
# Written by asrkit-launch; submitted with:
{submitted}
cd {q(os.getcwd())} || exit 1
if [ -f ./path.sh ]; then . ./path.sh; fi
# The step variables of the shell that submitted (--export=ALL), when that ran inside an srun step
# (an interactive 'srun -n2 --pty bash'): this job has no step of its own until srun makes one, and
# SLURM_STEP_NUM_TASKS=2 there made a one-task training wait for a rank 1 that never came.
unset "${{!SLURM_STEP@}}"
{threads}{index}
command_template={q(command_template)}
log_template={q(log_template)}
{substitute}
status_dir={q(str(status_dir))}
finish() {{
  trap : TERM  # a second SIGTERM must not cut the footer or the status short
  t1=$(date +%s)
  {{
    echo "# Accounting: time=$((t1 - t0)) threads={launch.num_threads}"
    echo "# Ended (code $1) at $(LC_ALL=C date), elapsed time $((t1 - t0)) seconds"
  }} >> "$log"
{remove_command}  # No status directory: the launcher is gone (it cancelled the job on Ctrl-C) and needs none.
  if [ -d "$status_dir" ]; then
    echo "$1" > "$status_dir/$index.tmp" && mv "$status_dir/$index.tmp" "$status_dir/$index"
  fi
  exit "$1"
}}
# Slurm's SIGTERM (scancel, the time limit) killed this shell, which wrote neither footer nor status:
# the launcher said "no exit status" ~25 s later. The command is stopped as the local backend stops
# a job (its process group: SIGTERM, SIGKILL after a grace, below the usual KillWait of Slurm's own
# SIGKILL) and the task ends 143 whatever the command then exits with, as a task Slurm cut short.
stop() {{
  trap : TERM
  pid=${{pid:-$!}}  # (a signal just after the command started, before pid=$! ran)
  if [ -n "$pid" ]; then
    kill -TERM -- "-$pid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
      kill -0 -- "-$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null
  fi
  finish 143
}}
mkdir -p "$(dirname "$log")"
{prepare}t0=$(date +%s)
pid=
trap stop TERM
{{
  nl=$'\\n'
  echo "# ${{command//$nl/$nl# }}"  # each line of a command with a newline a comment
  echo "# Started at $(LC_ALL=C date)"
  echo "# {where}"
  echo "#"
}} > "$log"
{write_command}# In the background, as a process group of its own (set -m), so that the trap runs at once (bash
# runs one only once a foreground command ends) and the command can be signalled as a whole;
# without job control a background command would have SIGINT ignored.
set -m
{run} >> "$log" 2>&1 &
pid=$!
set +m
# SIGUSR1/SIGUSR2 (sbatch --signal=B:USR1@300, the time-limit warning a training checkpoints on;
# scancel --signal=USR1 --batch) are the command's: they killed this shell (bash's default action),
# whose command ran on unowned, and the task was failed ~25 s later with "no exit status". A
# wait that such a trap cut short (status > 128, the trap run) is waited again (not 'kill -0 $pid':
# a command ending at once on the signal was already reaped, and its 138 taken for its status).
trap 'signalled=1; kill -USR1 -- "-$pid" 2>/dev/null' USR1
trap 'signalled=1; kill -USR2 -- "-$pid" 2>/dev/null' USR2
while signalled=; wait "$pid"; waited=$?; [ "$waited" -gt 128 ] && [ -n "$signalled" ]; do :; done
{codes}finish "$code"
"""


def _too_long_for_an_argument(launch: Launch) -> bool:
    """Whether the command of some task (JOB replaced by its index: the last has the most digits)
    is too long for one argument (:data:`asrkit.launch.local.MAX_BASH_C_BYTES`)."""
    return any(len(launch.command_for(i).encode("utf-8", "surrogateescape")) >= MAX_BASH_C_BYTES
               for i in (launch.indexes[0], launch.indexes[-1]))


# (a failure to write it is the task's error, in its log, as the command's would be)
# The path is <log dir>/q/<log name>.command (a stream log has no folder: a temporary file); one a
# task killed outright left is replaced by the next run.
_WRITE_COMMAND = """\
case $log in
  /dev/*|/proc/*) command_file=$(mktemp "${TMPDIR:-/tmp}/asrkit-launch-XXXXXX.sh" 2>> "$log") ;;
  */*) command_file=${log%/*}/q/${log##*/}.command ;;
  *) command_file=q/$log.command ;;
esac
if [ -z "$command_file" ] || ! mkdir -p -- "${command_file%/*}" 2>> "$log" ||
    ! printf '%s\\n' "$command" 2>> "$log" > "$command_file"; then
  echo "asrkit-launch: cannot write the command (${#command} characters, too long for one argument) to a file" >> "$log"
  finish 1
fi
printf -v command_source '. %q' "$command_file"
"""


# srun's status is the highest of its tasks', so a task failing with code 3 made its peers'
# SIGTERM (--kill-on-bad-exit) the job's: "code 143: SIGTERM", as if Slurm had cancelled it. The
# job's status is now the first task's (by rank) that ended by itself with neither 0 nor 143, as
# the local backend's is the failing task's; srun's when there is none. A peer srun stops dies of
# the signal with the shell that wraps it, and writes nothing.
_TASK_CODES = """\
code=$waited
if [ "$code" -ne 0 ] && [ -d "$ASRKIT_TASK_CODES" ]; then
  for ((r = 0; r < {ntasks}; r++)); do
    c=$(cat "$ASRKIT_TASK_CODES/$r" 2>/dev/null) || continue
    if [ -n "$c" ] && [ "$c" != 0 ] && [ "$c" != 143 ]; then code=$c; break; fi
  done
fi
rm -rf "$ASRKIT_TASK_CODES"
"""


def submit_args(launch: Launch, config: SlurmConfig, options: Mapping[str, Optional[str]], qdir: Path,
                name: str, max_jobs_run: Optional[int]) -> list[str]:
    """The full sbatch command line except the script path."""
    args = config.resolve(options)
    args += [f"--job-name={name}"]
    # sbatch expands %j, %x, ... in the whole --output path: a log directory named 'exp/50%x' had
    # the .out go under 'exp/50fbank', which does not exist, and the task never started.
    out = str(qdir.resolve()).replace("%", "%%") + "/" + name.replace("%", "%%")
    if launch.jobs is not None:
        spec = f"{launch.jobs.start}-{launch.jobs.end}"
        if max_jobs_run:
            spec += f"%{max_jobs_run}"
        args += [f"--array={spec}", f"--output={out}.%a.out"]
    else:
        args += [f"--output={out}.out"]
    if launch.ntasks > 1:
        # Not --ntasks: with it, sbatch takes --ntasks-per-node as a maximum and may put 6 of 8
        # tasks on one node, where a task's local rank would find no GPU of its own.
        args += [f"--nodes={launch.nodes}", f"--ntasks-per-node={launch.ntasks_per_node}"]
    return args + ["--parsable"]


def run_slurm(launch: Launch, config: SlurmConfig, options: Mapping[str, Optional[str]],
              max_jobs_run: Optional[int] = None, show_progress: bool = True, max_poll_s: float = 2.0,
              queue_check_s: float = 15.0, grace_s: float = 10.0) -> LaunchResult:
    """Submit ``launch`` as one Slurm job (an array for JOB=1:N), wait, and collect exit statuses.

    ``max_poll_s`` bounds the wait between looks at the status files; ``squeue`` is asked every
    ``queue_check_s`` whether the job is still there, and tasks still without a status
    ``grace_s`` after it left the queue are failed with a note.
    """
    for tool in (config.command[0], "squeue", "scancel"):
        if not shutil.which(tool):
            raise AsrkitError(f"{tool} not found on PATH: is this a Slurm submit host? (or use --backend local)")
    t0 = time.monotonic()
    qdir = queue_dir(launch)
    name = script_name(launch)
    status_dir = (qdir / f"{name}.{time.strftime('%Y%m%d%H%M%S')}.{os.getpid()}.status").resolve()
    # Before anything is made: an option the config has no line for left an empty status dir in
    # exp/x/log/q at each try.
    args = submit_args(launch, config, options, qdir, name, max_jobs_run)
    # Here, not only in the job: a log that is a directory, or under a file, failed every task with
    # code 1 and "log is in <that directory>", the reason only in q/*.out.
    check_logs(launch)
    # Before the earlier logs are moved aside: a q that could not be made (a file in its place)
    # left the last run's log renamed <log>.1, and nothing run.
    try:
        qdir.mkdir(parents=True, exist_ok=True)
        status_dir.mkdir()
    except OSError as e:
        why = parent_not_a_directory(qdir / status_dir.name) if e.errno in (errno.EEXIST, errno.ENOTDIR) else None
        raise AsrkitError(f"cannot create {e.filename}: {why or e.strerror}") from None
    script = qdir / f"{name}.sh"
    submit_line = " ".join(shlex.quote(a) for a in args + [str(script)])
    try:
        moved = _keep_earlier_logs(launch)
        try:
            job_id = _submit(launch, config, args, script, status_dir, submit_line, name)
        except (_NotQueued, OSError):
            # Nothing runs: the last run's logs were left renamed <log>.1 when sbatch refused the job
            # (a bad --time), and the next try kept nothing under the log's own name.
            _put_back(moved)
            raise
        logger.info("submitted Slurm job %s (%d task%s) from %s", job_id, len(launch.indexes),
                    "s" if len(launch.indexes) > 1 else "", script)
        result = LaunchResult(backend="slurm", slurm_job_id=job_id)
        warnings = FailureWarnings(logger, launch)
        try:
            waiting = _wait(launch, job_id, status_dir, qdir, name, max_poll_s, queue_check_s, grace_s)
            for r in progress(waiting, total=len(launch.indexes), desc=f"Slurm job {job_id}", unit="task",
                              disable=not show_progress or len(launch.indexes) == 1):
                if r.code != 0:
                    warnings.failed(r)
                result.results.append(r)
        except BaseException:
            # A second Ctrl-C while scancel ran killed scancel (subprocess.run's way): the array stayed queued.
            with signals_deferred():
                cancel(job_id)
            raise
    finally:
        # However the launch ends: an error or a Ctrl-C before the job is known (a full disk for
        # the script, sbatch refusing, Ctrl-C while sbatch ran) left it in exp/x/log/q. (A status
        # a cancelled task still writes has nowhere to go, which is harmless.)
        with signals_deferred():
            shutil.rmtree(status_dir, ignore_errors=True)
    result.results.sort(key=lambda r: r.index)
    result.elapsed_s = time.monotonic() - t0
    return result


def _keep_earlier_logs(launch: Launch) -> list:
    """Keep an earlier run's log as <log>.<N> (it must not look like this one's); the (log, kept
    as) pairs. All or none: one that cannot be moved puts back those moved before it."""
    kept, moved = KeptLogs(), []
    try:
        for index in launch.indexes:
            log = launch.log_path(index)
            backup = rotate_log(log, kept)
            if backup is not None:
                moved.append((log, backup))
    except BaseException:
        _put_back(moved)
        raise
    return moved


def _put_back(moved: list) -> None:
    for log, backup in reversed(moved):
        if not os.path.lexists(log):
            with contextlib.suppress(OSError):
                os.replace(backup, log)


class _NotQueued(AsrkitError):
    """The submit command refused the job: nothing is queued."""


def _submit(launch: Launch, config: SlurmConfig, args: list, script: Path, status_dir: Path, submit_line: str,
            name: str) -> str:
    """Write the job script and submit it; the job id."""
    with atomic_open(script, "wb") as f:  # a command word that is not UTF-8 stays the bytes it was
        f.write(batch_script(launch, status_dir, submit_line).encode("utf-8", "surrogateescape"))
    # Executable as a script should be, within the user's umask: 0755 whatever the umask gave a
    # umask-077 user's job scripts (their commands and paths) to every account on the machine.
    script.chmod(0o777 & ~current_umask())
    try:
        proc = subprocess.run(args + [str(script)], capture_output=True, text=True, env=submit_env(os.environ))
    except KeyboardInterrupt:
        logger.warning("interrupted while %s ran: the job may be queued all the same: find it with squeue --name=%s",
                       config.command[0], name)
        raise
    if proc.returncode != 0:
        raise _NotQueued(f"sbatch failed (code {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
                          f"\n  submit line: {submit_line}")
    job_id = parsable_job_id(proc.stdout)
    if job_id is None:
        # The job is queued, but under an id not known here: squeue would not find it, so its tasks
        # were failed as 'ended by Slurm' while it still ran, and Ctrl-C could not cancel it.
        shown = proc.stdout.strip()[:200] or "nothing"
        raise AsrkitError(f"{config.command[0]} printed {shown!r}, not a job id as sbatch --parsable prints it; the "
                          f"job may be queued all the same: find it with squeue --name={name}\n"
                          f"  submit line: {submit_line}")
    return job_id


# What Slurm sets for a job and its steps: the OUTPUT ENVIRONMENT VARIABLES of salloc, sbatch and
# srun (their 22.05 man pages; a few of other versions, --pty's, SPANK plugins' options, and
# SLURM_WORKING_CLUSTER, which srun sets unlisted). Only these are the enclosing job's; any other
# SLURM_* is a setting of the user's own (srun's INPUT variables: SLURM_MPI_TYPE, SLURM_CPU_BIND,
# SLURM_LABELIO, SLURM_UNBUFFEREDIO, SLURM_OVERLAP, SLURM_EXACT, ...), which reaches the new job's
# srun as it does outside a job. A name that is both (SLURM_NTASKS, SLURM_MEM_PER_NODE,
# SLURM_DISTRIBUTION) counts as the job's: inside a job, the job set it.
_JOB_OUTPUTS = frozenset("""
    SLURM_CLUSTER_NAME SLURM_CONTAINER SLURM_DISTRIBUTION SLURM_DIST_PLANESIZE SLURM_EXPORT_ENV
    SLURM_GPU_BIND SLURM_GPU_FREQ SLURM_GTIDS SLURM_JOBID SLURM_LAUNCH_NODE_IPADDR SLURM_LOCALID
    SLURM_NNODES SLURM_NODEID SLURM_NODELIST SLURM_NODE_ALIASES SLURM_NPROCS SLURM_OVERCOMMIT
    SLURM_PRIO_PROCESS SLURM_PROCID SLURM_PROFILE SLURM_RESTART_COUNT SLURM_SHARDS_ON_NODE SLURM_STEPID
    SLURM_TASKS_PER_NODE SLURM_TASK_PID SLURM_THREADS_PER_CORE SLURM_CPU_FREQ_REQ SLURM_TRES_PER_TASK
    SLURM_WORKING_CLUSTER SLURMD_NODENAME SRUN_CPUS_PER_TASK SRUN_DEBUG""".split())
_JOB_OUTPUT_PREFIXES = ("SLURM_JOB_", "SLURM_STEP_", "SLURM_ARRAY_", "SLURM_HET_", "SLURM_CPUS_", "SLURM_GPUS",
                        "SLURM_MEM_PER_", "SLURM_MEM_BIND", "SLURM_CPU_BIND_", "SLURM_NTASKS", "SLURM_SUBMIT_",
                        "SLURM_SRUN_COMM_", "SLURM_TOPOLOGY_ADDR", "SLURM_PTY_", "SLURM_SPANK_", "SLURM_PACK_")
# sbatch's own inputs among those names (SLURM_STEP_KILLED_MSG_NODE_ID; SLURM_UMASK is srun's
# output of the user's own umask), kept.
_SUBMIT_INPUTS = {"SLURM_STEP_KILLED_MSG_NODE_ID", "SLURM_UMASK"}


def _is_job_output(name: str) -> bool:
    """Whether ``name`` is a variable Slurm sets for a job or step (a heterogeneous job's
    ``SLURM_*_HET_GROUP_<n>`` too), not a setting of the user's."""
    if name in _SUBMIT_INPUTS:
        return False
    base = re.sub(r"_(HET|PACK)_GROUP_\d+$", "", name)
    return base in _JOB_OUTPUTS or base.startswith(_JOB_OUTPUT_PREFIXES)


def submit_env(env: Mapping[str, str]) -> dict:
    """The environment sbatch is run with: ``env`` without the variables that the Slurm job the
    launcher itself runs in was given (an ``salloc`` shell, a run.sh submitted with sbatch, an srun
    step); a user's own SLURM_* settings (srun's inputs: SLURM_MPI_TYPE, SLURM_LABELIO, ...) stay.

    ``--export=ALL`` carried the job's variables into the new job, where Slurm overwrites only
    those it sets for that job: an ``salloc --mem 5G`` shell's SLURM_MEM_PER_NODE beside the job's
    own SLURM_MEM_PER_CPU stopped every srun of an ``--ntasks 2`` job at "srun: fatal:
    SLURM_MEM_PER_CPU, SLURM_MEM_PER_GPU, and SLURM_MEM_PER_NODE are mutually exclusive"; an
    ``salloc -c 8`` shell's SLURM_CPUS_PER_TASK went to srun as the job's; SLURM_NTASKS=4 told a
    one-task training that it was not started by srun. Outside a job nothing is dropped."""
    if not (env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")):
        return dict(env)
    kept = {k: v for k, v in env.items() if not _is_job_output(k)}
    # In a step srun rewrites SLURM_CPU_BIND into its own form ('quiet,corescores', 'quiet,mask_cpu:0x3')
    # and sets SLURM_CPU_BIND_TYPE beside it; handed on, a nested srun stopped at "unrecognized
    # --cpu-bind argument" or bound the new job's tasks to this step's CPUs. The user's own is
    # SLURM_CPU_BIND alone (an salloc shell before any srun).
    if "SLURM_CPU_BIND_TYPE" in env:
        kept.pop("SLURM_CPU_BIND", None)
    return kept


def parsable_job_id(out: str) -> Optional[str]:
    """The job id in what ``sbatch --parsable`` printed (``<id>`` or ``<id>;<cluster>``, on its last
    line: a site's wrapper may print a banner first), or None."""
    lines = out.strip().splitlines()
    m = re.fullmatch(r"(\d+)(;\S+)?", lines[-1].strip()) if lines else None
    return m.group(1) if m else None


def cancel(job_id: str) -> None:
    """Cancel the whole job (every array task); said on stderr so the user knows it happened."""
    logger.warning("cancelling Slurm job %s", job_id)
    subprocess.run(["scancel", job_id], capture_output=True, timeout=60)


def _wait(launch: Launch, job_id: str, status_dir: Path, qdir: Path, name: str, max_poll_s: float,
          queue_check_s: float, grace_s: float) -> Iterator[JobResult]:
    remaining = set(launch.indexes)
    started = time.time()
    interval = 0.1
    last_check = time.monotonic()
    gone_since: Optional[float] = None
    said: set = set()  # the pending reasons warned of
    while remaining:
        present = set(os.listdir(status_dir))
        for index in sorted(remaining):
            if str(index) in present:
                remaining.discard(index)
                yield JobResult(index, _read_code(status_dir / str(index)), launch.log_path(index),
                                time.time() - started)
        if not remaining:
            return
        now = time.monotonic()
        if now - last_check >= queue_check_s or gone_since is not None:
            last_check = now
            queued = _queue_state(job_id)
            if queued is not None:
                _warn_stuck(job_id, queued, said)
            if queued == []:
                gone_since = gone_since if gone_since is not None else now
                if now - gone_since >= grace_s:
                    for index in sorted(remaining):
                        out = qdir / (f"{name}.{index}.out" if launch.jobs is not None else f"{name}.out")
                        yield JobResult(index, -1, launch.log_path(index), time.time() - started,
                                        note=_no_status_note(launch.log_path(index), out))
                    return
            else:
                gone_since = None
        time.sleep(interval)
        interval = min(interval * 1.5, max_poll_s)


def _no_status_note(log: str, out: Path) -> str:
    """Why a task that left the queue has no exit status. Its log is this run's (an earlier one was
    moved aside before submitting), so none means the task never got as far as its command: a task
    cancelled while pending was said to have been "ended (cancelled, out of time or memory?), see
    q/x.5.out", both that .out and the log it was "in" never written. One whose .out is there
    started and failed before its log (its directory not reachable from the node?)."""
    if not os.path.lexists(log):
        if os.path.lexists(out):
            return f"no exit status: the task ended before writing its log, see {out}"
        return "no exit status: the task never started, no log written (cancelled while pending?)"
    return f"no exit status: Slurm ended the task (cancelled, out of time or memory?), see {out}"


def _read_code(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return -1


# Pending reasons Slurm does not resolve by itself (squeue's reason codes): a job held, a request
# over its partition's limits (with EnforcePartLimits=NO sbatch accepts --time 48:00:00 on a 24-hour
# partition), a dependency that can no longer be met. The launcher waited on such a job in silence.
_STUCK_REASONS = {
    "PartitionTimeLimit": "its --time is over the partition's time limit",
    "PartitionNodeLimit": "it asks for more nodes than the partition allows",
    "PartitionDown": "the partition is down",
    "PartitionInactive": "the partition is inactive",
    "BadConstraints": "no node can meet its constraints",
    "DependencyNeverSatisfied": "a job it depends on failed",
    "JobHeldUser": "it is held (scontrol release)",
    "JobHeldAdmin": "it is held by an administrator",
    "launch_failed_requeued_held": "its launch failed and Slurm held it",
    "launch failed requeued held": "its launch failed and Slurm held it",  # (either spelling)
    "InvalidAccount": "its account is not valid",
    "InvalidQOS": "its QOS is not valid",
    "QOSMaxWallDurationPerJobLimit": "its --time is over its QOS's limit",
    "AssocMaxWallDurationPerJobLimit": "its --time is over its association's limit",
}


def _warn_stuck(job_id: str, queued: list, said: set) -> None:
    """Warn, once for each, of a pending reason Slurm will not resolve by itself."""
    for state, reason in queued:
        if state == "PENDING" and reason in _STUCK_REASONS and reason not in said:
            said.add(reason)
            logger.warning("Slurm job %s is pending (%s: %s) and will not start until that changes; Ctrl-C "
                           "cancels it", job_id, reason, _STUCK_REASONS[reason])


def _queue_state(job_id: str) -> Optional[list]:
    """(state, pending reason) of each task of the job still pending or running ([] when none);
    ``None`` when squeue cannot tell."""
    try:
        proc = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T %r"], capture_output=True, text=True,
                              timeout=60)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        # A job purged from the controller's memory is "Invalid job id": it is over.
        return [] if "Invalid job id" in proc.stderr else None
    return [tuple((line.split(None, 1) + [""])[:2]) for line in proc.stdout.splitlines() if line.strip()]
