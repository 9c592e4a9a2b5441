"""asrkit-launch --backend slurm against stand-in sbatch/squeue/scancel scripts (no cluster needed):
what it checks before submitting, and how it cancels."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import asrkit.launch.slurm as slurm
from asrkit.launch.job import Launch, join_command, parse_job_range
from asrkit.launch.slurm_config import SlurmConfig
from asrkit.utils.errors import AsrkitError

from .test_local import check_log

CONFIG = SlurmConfig.parse("command sbatch\n", "c.conf")


def _fake_slurm(tmp_path: Path, monkeypatch) -> Path:
    """sbatch says it queued job 42, which squeue never lists (it ends at once, without a status:
    a launch that submits fails its tasks at once); each call is noted in calls/."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    calls.mkdir()
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\ntouch {calls}/sbatch\necho 42\n")
    (bin_dir / "squeue").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "scancel").write_text(f"#!/bin/sh\necho \"$@\" > {calls}/scancel\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return calls


def test_a_log_that_is_a_directory_is_refused_before_submitting(tmp_path, monkeypatch):
    """The job itself found it could not write its log: every task failed with code 1 and
    'log is in exp/log' (a directory), the reason only in q/*.out."""
    calls = _fake_slurm(tmp_path, monkeypatch)
    (tmp_path / "exp/log").mkdir(parents=True)
    with pytest.raises(AsrkitError, match=f"^cannot write log file {tmp_path}/exp/log: Is a directory$"):
        slurm.run_slurm(Launch("true", str(tmp_path / "exp/log")), CONFIG, {}, show_progress=False,
                        queue_check_s=0.1, grace_s=0.1)
    assert not (calls / "sbatch").exists()
    assert not (tmp_path / "exp/q").exists()


def test_a_log_under_a_file_is_refused_before_any_log_is_moved(tmp_path, monkeypatch):
    calls = _fake_slurm(tmp_path, monkeypatch)
    (tmp_path / "log/1").mkdir(parents=True)
    (tmp_path / "log/1/x.log").write_text("an earlier run\n")
    (tmp_path / "log/2").write_text("a file where JOB=2's log directory would be\n")
    launch = Launch("true", str(tmp_path / "log/JOB/x.log"), parse_job_range("JOB=1:2"))
    with pytest.raises(AsrkitError, match=f"^cannot write log file {tmp_path}/log/2/x.log: "
                                          f"{tmp_path}/log/2 is a file, not a directory$"):
        slurm.run_slurm(launch, CONFIG, {}, show_progress=False, queue_check_s=0.1, grace_s=0.1)
    assert not (calls / "sbatch").exists()
    assert sorted(p.name for p in (tmp_path / "log/1").iterdir()) == ["x.log"]  # not kept as x.log.1


def test_a_second_ctrl_c_does_not_stop_the_cancel(tmp_path, monkeypatch):
    """Ctrl-C pressed again while scancel ran killed scancel (subprocess.run kills its child on
    an exception): the array stayed queued, running on after the launcher said it cancelled it."""
    calls = _fake_slurm(tmp_path, monkeypatch)

    def ctrl_c(items, **kwargs):
        raise KeyboardInterrupt
        yield  # a generator, as progress() is

    monkeypatch.setattr(slurm, "progress", ctrl_c)
    real_run = slurm.subprocess.run

    def run(args, **kwargs):
        if args[0] == "scancel":
            signal.raise_signal(signal.SIGINT)  # pressed again as the cancel starts
        return real_run(args, **kwargs)

    monkeypatch.setattr(slurm.subprocess, "run", run)
    with pytest.raises(KeyboardInterrupt):
        slurm.run_slurm(Launch("sleep 600", str(tmp_path / "log/x.log")), CONFIG, {}, show_progress=False)
    assert (calls / "scancel").read_text() == "42\n"
    # the launch's status directory goes too: each Ctrl-C left one more in log/q
    assert sorted(p.name for p in (tmp_path / "log/q").iterdir()) == ["x.sh"]


def test_a_log_that_is_an_input_of_the_command_is_refused(tmp_path, monkeypatch):
    calls = _fake_slurm(tmp_path, monkeypatch)
    (tmp_path / "text").write_text("u1 a b\n")
    launch = Launch(f"cut -d' ' -f1 {tmp_path}/text", str(tmp_path / "text"))
    with pytest.raises(AsrkitError, match="is also named in the command"):
        slurm.run_slurm(launch, CONFIG, {}, show_progress=False, queue_check_s=0.1, grace_s=0.1)
    assert not (calls / "sbatch").exists()
    assert (tmp_path / "text").read_text() == "u1 a b\n" and not (tmp_path / "text.1").exists()


def test_a_command_word_that_is_not_utf8_goes_into_the_script_as_its_bytes(tmp_path, monkeypatch):
    """The job script could not be written (a UnicodeEncodeError traceback) for a Latin-1 file name."""
    _fake_slurm(tmp_path, monkeypatch)
    name = os.fsdecode(b"caf\xe9.txt")
    result = slurm.run_slurm(Launch(f"cat {name}", str(tmp_path / "log/x.log")), CONFIG, {}, show_progress=False,
                             queue_check_s=0.1, grace_s=0.1)
    assert [r.code for r in result.results] == [-1]  # the stand-in runs nothing
    assert b"command_template='cat caf\xe9.txt'" in (tmp_path / "log/q/x.sh").read_bytes()


def test_ctrl_c_while_sbatch_runs_leaves_no_status_dir_and_says_the_job_may_be_queued(tmp_path, monkeypatch, caplog):
    """Ctrl-C while sbatch ran left the launch's status directory in log/q, and nothing said that
    the job may have been queued all the same."""
    _fake_slurm(tmp_path, monkeypatch)
    real_run = slurm.subprocess.run

    def run(args, **kwargs):
        if args[0] == "sbatch":
            raise KeyboardInterrupt
        return real_run(args, **kwargs)

    monkeypatch.setattr(slurm.subprocess, "run", run)
    with pytest.raises(KeyboardInterrupt):
        slurm.run_slurm(Launch("true", str(tmp_path / "log/x.log")), CONFIG, {}, show_progress=False)
    assert sorted(p.name for p in (tmp_path / "log/q").iterdir()) == ["x.sh"]
    assert "the job may be queued all the same: find it with squeue --name=x" in caplog.text


def _running_slurm(tmp_path: Path, monkeypatch) -> Path:
    """sbatch runs the job script at once in the background (a plain job, not an array), squeue
    lists job 42 while its shell lives, and scancel sends that shell SIGTERM, as Slurm does on a
    cancel or at the time limit. The shell's pid is in calls/job.pid."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    calls.mkdir()
    (bin_dir / "sbatch").write_text(
        "#!/bin/bash\n"
        f'for script; do :; done\nbash "$script" > {calls}/job.out 2>&1 < /dev/null &\n'
        f"echo $! > {calls}/job.pid\necho 42\n")
    (bin_dir / "squeue").write_text(f"#!/bin/sh\nkill -0 $(cat {calls}/job.pid) 2>/dev/null && echo 42\nexit 0\n")
    (bin_dir / "scancel").write_text(f"#!/bin/sh\nkill -TERM $(cat {calls}/job.pid)\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.chdir(tmp_path)  # the job script cds to the launch directory and sources its ./path.sh
    return calls


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie no one reaps counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _wait_for(condition, what: str, timeout: float = 300.0) -> None:  # (bounds a hang only)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _kill_leftovers(*pid_files: Path) -> None:
    for pid_file in pid_files:
        if pid_file.exists() and pid_file.read_text().strip():
            pid = int(pid_file.read_text())
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_task_slurm_terminates_reports_143(tmp_path, monkeypatch):
    """A task cancelled or out of time (Slurm's SIGTERM to the job script's shell) reported 'no exit
    status' after squeue's next look and the grace (~25 s), its log without a footer, where the local
    backend says code 143. The command here has the shell's SIGTERM sent as Slurm would."""
    calls = _running_slurm(tmp_path, monkeypatch)
    command = f"echo $$ > {calls}/command.pid; kill -TERM $PPID; exec sleep 600"
    try:
        result = slurm.run_slurm(Launch(command, "log/x.log"), CONFIG, {}, show_progress=False,
                                 queue_check_s=0.1, grace_s=0.1)
        [task] = result.results
        assert task.code == 143 and not task.note
        check_log(tmp_path / "log/x.log", command, 143)
        # the signal went on to the command, which Slurm's SIGKILL after KillWait would otherwise have to end
        _wait_for(lambda: _gone(int((calls / "command.pid").read_text())), "the command outlived its job script")
        assert (calls / "job.out").read_text() == ""
    finally:
        _kill_leftovers(calls / "job.pid", calls / "command.pid")


def test_ctrl_c_cancel_leaves_the_logs_ended_with_143(tmp_path, monkeypatch):
    """Ctrl-C cancels the job; the tasks' logs then end as the local backend's do, and the status the
    cancelled script would write into the removed status directory is no error in its q/*.out."""
    calls = _running_slurm(tmp_path, monkeypatch)
    log = tmp_path / "log/x.log"
    command = f"echo $$ > {calls}/command.pid; echo started; exec sleep 600"

    def ctrl_c_once_started(items, **kwargs):
        _wait_for(lambda: log.exists() and "\nstarted\n" in log.read_text(), "the job did not start")
        raise KeyboardInterrupt
        yield  # a generator, as progress() is

    monkeypatch.setattr(slurm, "progress", ctrl_c_once_started)
    try:
        with pytest.raises(KeyboardInterrupt):
            slurm.run_slurm(Launch(command, "log/x.log"), CONFIG, {}, show_progress=False)
        _wait_for(lambda: _gone(int((calls / "job.pid").read_text())), "the job script outlived the cancel")
        assert check_log(log, command, 143) == ["started"]
        _wait_for(lambda: _gone(int((calls / "command.pid").read_text())), "the command outlived the cancel")
        assert (calls / "job.out").read_text() == ""
        assert sorted(p.name for p in (tmp_path / "log/q").iterdir()) == ["x.sh"]
    finally:
        _kill_leftovers(calls / "job.pid", calls / "command.pid")


def test_a_task_that_never_started_is_said_to_have_no_log(tmp_path, monkeypatch):
    """A task that left the queue without starting (cancelled while pending: sbatch's stand-in queues
    a job squeue never lists) was "ended by Slurm (cancelled, out of time or memory?), see
    log/q/x.2.out", a file never written, as was the log it was "in". A task whose log is there is
    still said to have been ended by Slurm."""
    _fake_slurm(tmp_path, monkeypatch)
    (tmp_path / "log").mkdir()
    monkeypatch.chdir(tmp_path)
    launch = Launch("true", "log/x.JOB.log", parse_job_range("JOB=1:2"))
    real_wait = slurm._wait

    def wait_with_log_of_task_1(*args, **kwargs):
        (tmp_path / "log/x.1.log").write_text("# true\n")  # as task 1's script would, before it was killed
        yield from real_wait(*args, **kwargs)

    monkeypatch.setattr(slurm, "_wait", wait_with_log_of_task_1)
    result = slurm.run_slurm(launch, CONFIG, {}, show_progress=False, queue_check_s=0.1, grace_s=0.1)
    started, never = result.results
    assert started.code == never.code == -1
    assert started.note.startswith("no exit status: Slurm ended the task") and "log/q/x.1.out" in started.note
    assert never.note == "no exit status: the task never started, no log written (cancelled while pending?)"
    assert "JOB=2 (no exit status: the task never started" in result.failure_message(launch)
    # started (its .out is there) but ended before its log, e.g. the working directory not on the node
    (tmp_path / "log/x.1.log").unlink()
    (tmp_path / "log/q/x.2.out").write_text("cd: /work/x: No such file or directory\n")
    result = slurm.run_slurm(launch, CONFIG, {}, show_progress=False, queue_check_s=0.1, grace_s=0.1)
    assert result.results[1].note == "no exit status: the task ended before writing its log, see log/q/x.2.out"


def test_the_job_script_drops_the_submitting_shells_step_variables(tmp_path):
    """The batch script (run here with bash, no Slurm) ran its command with the SLURM_STEP_*
    variables of the shell that submitted it (an srun step's, through --export=ALL), which made a
    one-task training a rank of the submitter's step."""
    launch = Launch("env | grep -E '^SLURM_(STEP|JOB_ID=)' | sort", str(tmp_path / "log/x.log"))
    (tmp_path / "st").mkdir()
    (tmp_path / "s.sh").write_text(slurm.batch_script(launch, tmp_path / "st", "sbatch ..."))
    env = dict(os.environ, SLURM_JOB_ID="4711", SLURM_STEP_ID="7", SLURM_STEPID="7", SLURM_STEP_NUM_TASKS="2",
               SLURM_STEP_NODELIST="n9", SLURM_STEP_TASKS_PER_NODE="2")
    subprocess.run(["bash", str(tmp_path / "s.sh")], env=env, check=True, cwd=tmp_path, timeout=60)
    assert check_log(tmp_path / "log/x.log", launch.command, 0) == ["SLURM_JOB_ID=4711"]


@pytest.mark.parametrize("ntasks", [1, 2])
def test_a_command_too_long_for_one_argument_runs_in_the_job(tmp_path, monkeypatch, ntasks):
    """The batch script (run here with bash, no Slurm) gave its command to bash -c (and to srun, for
    several tasks) as one argument, and Linux takes none of 128 KiB or more (E2BIG): a job given
    30000 file names failed with code 126, "Argument list too long" in its log. Its bash now
    sources it from a file beside the log (the local backend's log/q/<log name>.command, which a
    task killed outright left for the next run to replace), removed when the task ends; log and
    status are as for any other."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # srun's stand-in: its options, then the task's command once per task, one after the other
    (bin_dir / "srun").write_text('#!/bin/bash\nwhile [[ $1 == --* ]]; do shift; done\n'
                                  'for r in 0 1; do SLURM_PROCID=$r "$@" || exit; done\n')
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    words = [str(i) for i in range(30000)]
    q = tmp_path / "log" / "q"
    launch = Launch(join_command(["echo", "JOB", *words, "|", "wc", "-w"]) + f" && test -f {q}/x.JOB.log.command",
                    str(tmp_path / "log/x.JOB.log"), parse_job_range("JOB=1:2"), ntasks=ntasks)
    assert len(launch.command) > 131072
    q.mkdir(parents=True)
    (q / "x.1.log.command").write_text("echo the killed task's command\n")
    status = tmp_path / "st"
    status.mkdir()
    (tmp_path / "s.sh").write_text(slurm.batch_script(launch, status, "sbatch ..."))

    def task(i):
        subprocess.run(["bash", str(tmp_path / "s.sh")], env=dict(os.environ, SLURM_ARRAY_TASK_ID=str(i)),
                       check=True, cwd=tmp_path, timeout=120)
        assert check_log(tmp_path / f"log/x.{i}.log", launch.command_for(i), 0) == ["30001"] * ntasks

    for i in (1, 2):
        task(i)
    assert sorted((p.name, p.read_text()) for p in status.iterdir()) == [("1", "0\n"), ("2", "0\n")]
    assert list(q.iterdir()) == []
    shutil.rmtree(status)  # the launcher gone: the script resubmitted by hand
    task(1)
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == ["q", "x.1.log", "x.2.log"]
    assert list(q.iterdir()) == []


def test_the_out_files_path_has_its_percent_signs_doubled(tmp_path, monkeypatch):
    """sbatch reads --output as a pattern (%j the job id, %% a '%'): a log directory holding a '%'
    sent the q/*.out elsewhere, where the task could not start."""
    monkeypatch.chdir(tmp_path)
    launch = Launch("true", "e%j/x.JOB.log", parse_job_range("JOB=1:2"))
    args = slurm.submit_args(launch, CONFIG, {}, slurm.queue_dir(launch), slurm.script_name(launch), None)
    assert f"--output={tmp_path}/e%%j/q/x.%a.out" in args, args


def test_a_queue_dir_that_cannot_be_made_leaves_the_earlier_log_in_place(tmp_path, monkeypatch):
    """A file named q in the log directory: the last run's log had already been renamed x.log.1
    (nothing ran), and the error said "File exists" of the name that was in the way."""
    calls = _fake_slurm(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "log").mkdir()
    (tmp_path / "log/x.log").write_text("the last run\n")
    (tmp_path / "log/q").write_text("")
    with pytest.raises(AsrkitError, match=r"^cannot create log/q: log/q is a file, not a directory$"):
        slurm.run_slurm(Launch("true", "log/x.log"), CONFIG, {}, show_progress=False)
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == ["q", "x.log"]
    assert (tmp_path / "log/x.log").read_text() == "the last run\n"
    assert not (calls / "sbatch").exists()


def test_a_job_sbatch_refuses_leaves_the_earlier_logs_in_place(tmp_path, monkeypatch):
    """sbatch refusing the job (a bad --time) left the last run's logs renamed x.1.log.1, with
    nothing run; the next try then kept nothing under the logs' own names."""
    _fake_slurm(tmp_path, monkeypatch)
    (tmp_path / "bin/sbatch").write_text("#!/bin/sh\necho 'sbatch: error: Invalid --time specification' >&2\nexit 1\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "log").mkdir()
    for i in (1, 2):
        (tmp_path / f"log/x.{i}.log").write_text(f"the last run {i}\n")
    (tmp_path / "log/x.2.log.1").write_text("an older run\n")
    launch = Launch("true", "log/x.JOB.log", parse_job_range("JOB=1:3"))
    with pytest.raises(AsrkitError, match="sbatch failed .*Invalid --time"):
        slurm.run_slurm(launch, CONFIG, {}, show_progress=False)
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == ["q", "x.1.log", "x.2.log", "x.2.log.1"]
    assert [(tmp_path / f"log/x.{i}.log").read_text() for i in (1, 2)] == ["the last run 1\n", "the last run 2\n"]
    assert sorted(p.name for p in (tmp_path / "log/q").iterdir()) == ["x.sh"]


def test_only_the_pending_reasons_slurm_does_not_resolve_are_warned_of_once_each(caplog):
    said: set = set()
    for _ in range(2):
        slurm._warn_stuck("5", [("PENDING", "Resources"), ("PENDING", "Priority"), ("RUNNING", "None"),
                                ("PENDING", "JobHeldUser"), ("PENDING", "launch failed requeued held")], said)
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2, warned
    assert "Slurm job 5 is pending (JobHeldUser: it is held (scontrol release))" in warned[0]


# What an srun step inside `salloc -n 2 -c 1 --mem 100M` (Slurm 22.05, the test cluster) is given,
# and srun's INPUT variables a user exported in it.
STEP_ENV = {"SLURMD_NODENAME": "n1", "SLURM_CLUSTER_NAME": "c", "SLURM_CPUS_ON_NODE": "2", "SLURM_CPUS_PER_TASK": "1",
            "SLURM_DISTRIBUTION": "cyclic", "SLURM_GTIDS": "0", "SLURM_JOBID": "1", "SLURM_JOB_CPUS_PER_NODE": "2",
            "SLURM_JOB_CPUS_PER_NODE_PACK_GROUP_0": "2", "SLURM_JOB_ID": "1", "SLURM_JOB_NAME": "interactive",
            "SLURM_JOB_NODELIST": "n1", "SLURM_JOB_NUM_NODES": "1", "SLURM_JOB_PARTITION": "debug",
            "SLURM_LAUNCH_NODE_IPADDR": "10.0.0.1", "SLURM_LOCALID": "0", "SLURM_MEM_PER_NODE": "100",
            "SLURM_NNODES": "1", "SLURM_NODEID": "0", "SLURM_NODELIST": "n1", "SLURM_NODE_ALIASES": "(null)",
            "SLURM_NPROCS": "1", "SLURM_NTASKS": "1", "SLURM_PRIO_PROCESS": "0", "SLURM_PROCID": "0",
            "SLURM_SRUN_COMM_HOST": "10.0.0.1", "SLURM_SRUN_COMM_PORT": "40609", "SLURM_STEPID": "0",
            "SLURM_STEP_ID": "0", "SLURM_STEP_LAUNCHER_PORT": "40609", "SLURM_STEP_NODELIST": "n1",
            "SLURM_STEP_NUM_NODES": "1", "SLURM_STEP_NUM_TASKS": "1", "SLURM_STEP_TASKS_PER_NODE": "1",
            "SLURM_SUBMIT_DIR": "/home/u", "SLURM_SUBMIT_HOST": "login", "SLURM_TASKS_PER_NODE": "1",
            "SLURM_TASK_PID": "20997", "SLURM_TOPOLOGY_ADDR": "n1", "SLURM_TOPOLOGY_ADDR_PATTERN": "node",
            "SLURM_WORKING_CLUSTER": "c:10.0.0.2:6817:9728:109", "SRUN_DEBUG": "3", "SRUN_CPUS_PER_TASK": "1",
            "SLURM_HET_SIZE": "2", "SLURM_NTASKS_HET_GROUP_1": "4", "SLURM_ARRAY_TASK_ID": "3",
            "SLURM_MEM_BIND_TYPE": "local", "SLURM_GPUS_ON_NODE": "2"}
# What srun sets in a step for CPU binding, the four together (srun -n1 --cpu-bind=cores on the
# test cluster gives SLURM_CPU_BIND=quiet,corescores): Slurm's form, not the user's.
STEP_CPU_BIND = {"SLURM_CPU_BIND": "quiet,corescores", "SLURM_CPU_BIND_TYPE": "corescores",
                 "SLURM_CPU_BIND_LIST": "", "SLURM_CPU_BIND_VERBOSE": "quiet"}
USERS_OWN = {"SLURM_CONF": "/etc/slurm/x.conf", "SLURM_UMASK": "0022", "SLURM_LABELIO": "1",
             "SLURM_UNBUFFEREDIO": "1", "SLURM_MPI_TYPE": "pmix", "SLURM_CPU_BIND": "cores", "SLURM_OVERLAP": "1",
             "SLURM_EXACT": "1", "SLURM_KILL_BAD_EXIT": "1", "SLURM_HINT": "nomultithread", "PATH": "/bin"}


def test_srun_settings_exported_inside_a_job_reach_the_submitted_job():
    """Run inside a Slurm job, sbatch got none of the SLURM_* variables but its own seven inputs
    (1becfc2f): srun's INPUT variables the user exported (SLURM_LABELIO, SLURM_UNBUFFEREDIO,
    SLURM_MPI_TYPE, SLURM_CPU_BIND, ...) reached the new job's srun outside a job and not inside
    one. Only what Slurm set for the enclosing job or step is dropped now."""
    assert slurm.submit_env(dict(STEP_ENV, **USERS_OWN)) == USERS_OWN
    assert slurm.submit_env(dict(SLURM_JOB_ID="7", **USERS_OWN)) == USERS_OWN
    outside = dict(USERS_OWN, SLURM_NTASKS="4", SLURM_MEM_PER_NODE="5000")  # (a user's own settings)
    assert slurm.submit_env(outside) == outside


def test_a_steps_cpu_binding_stays_with_the_step():
    """2da70a8a kept SLURM_CPU_BIND as the user's inside an srun step too, where srun had rewritten
    it ('quiet,corescores'): the submitted job's srun stopped at "unrecognized --cpu-bind argument"
    (or would bind its tasks to the step's CPUs). Dropped with the SLURM_CPU_BIND_TYPE srun sets
    beside it; the user's own, an salloc shell's SLURM_CPU_BIND alone, still reaches the job."""
    users = {k: v for k, v in USERS_OWN.items() if k != "SLURM_CPU_BIND"}
    assert slurm.submit_env(dict(STEP_ENV, **STEP_CPU_BIND, **users)) == users
    assert slurm.submit_env(dict(STEP_ENV, **users, SLURM_CPU_BIND="cores")) == dict(users, SLURM_CPU_BIND="cores")
