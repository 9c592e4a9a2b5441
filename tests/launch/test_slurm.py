"""asrkit-launch --backend slurm on a real Slurm cluster started by the test session.

The cluster (tests/launch/slurm_cluster.py) is private: its own munged, slurmctld and two
slurmd (two nodes of two stand-in GPUs on this one machine), ports and temp dir, stopped by
pid at the end. Multi-node training through the LibriSpeech recipe is in test_slurm_recipe.py.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asrkit.launch.distributed import slurm_port
from asrkit.launch.job import Launch, parse_job_range
import asrkit.launch.slurm as slurm
from asrkit.launch.slurm import run_slurm
from asrkit.launch.slurm_config import DEFAULT_CONFIG, SlurmConfig

from .test_local import check_log, ctrl_c_able

pytestmark = pytest.mark.slurm
PY = sys.executable
GLOO = Path(__file__).with_name("gloo_all_reduce.py")


def launch(cluster, *args, cwd, check=True, timeout=300):
    """asrkit-launch --backend slurm ..., run as a user's shell would, against the test cluster."""
    env = dict(cluster.env, OMP_NUM_THREADS="1")
    proc = subprocess.run([PY, "-m", "asrkit", "launch", "--backend", "slurm", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def test_array_job_logs_like_run_pl(slurm_cluster, tmp_path):
    proc = launch(slurm_cluster, "JOB=1:4", "exp/log/hello.JOB.log", "echo", "task", "JOB", "|", "tr", "a-z", "A-Z",
                  cwd=tmp_path)
    assert re.search(r"Done 4 out of 4 jobs \(Slurm job \d+\)", proc.stderr)
    for i in range(1, 5):
        log = tmp_path / f"exp/log/hello.{i}.log"
        assert check_log(log, f"echo task {i} | tr a-z A-Z", 0) == [f"TASK {i}"]
        assert re.search(rf"^# Running on \S+ as Slurm job \d+_{i}$", log.read_text(), re.M)
    script = (tmp_path / "exp/log/q/hello.sh").read_text()
    assert "# sbatch --export=ALL --job-name=hello --array=1-4 " in script
    assert not list((tmp_path / "exp/log/q").glob("*.status"))  # the status files are cleaned up


def test_failed_task_named_with_its_log(slurm_cluster, tmp_path):
    proc = launch(slurm_cluster, "--max-jobs-run", "2", "JOB=1:3", "log/f.JOB.log", "test", "JOB", "-ne", "2",
                  cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "ERROR (asrkit-launch): 1 / 3 failed, log is in log/f.2.log" in proc.stderr
    assert "JOB=2 (code 1): log/f.2.log" in proc.stderr
    check_log(tmp_path / "log/f.2.log", "test 2 -ne 2", 1)
    check_log(tmp_path / "log/f.3.log", "test 3 -ne 2", 0)
    assert "--array=1-3%2" in (tmp_path / "log/q/f.sh").read_text()


def test_fbank_array_equals_local_bit_for_bit(slurm_cluster, tmp_path, an4_root, monkeypatch):
    """AN4 slice: 8 utterances in 4 pieces, asrkit-compute-fbank as a Slurm array and locally."""
    waves = sorted((an4_root / "wav" / "an4_clstk").glob("*/*.wav"))[:8]
    assert len(waves) == 8
    for job in range(4):
        piece = tmp_path / "data" / "split4" / str(job + 1)
        piece.mkdir(parents=True)
        (piece / "wav.scp").write_text("".join(f"{w.stem} {w}\n" for w in waves[2 * job: 2 * job + 2]))
    cmd = [PY, "-m", "asrkit", "compute-fbank", "scp:data/split4/JOB/wav.scp",
           "ark,scp:OUT/feats.JOB.ark,OUT/feats.JOB.scp"]
    launch(slurm_cluster, "JOB=1:4", "slurm/log/fbank.JOB.log", *[c.replace("OUT", "slurm") for c in cmd],
           cwd=tmp_path)
    local = subprocess.run([PY, "-m", "asrkit", "launch", "JOB=1:4", "local/log/fbank.JOB.log",
                            *[c.replace("OUT", "local") for c in cmd]], cwd=tmp_path, capture_output=True, text=True,
                           env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert local.returncode == 0, local.stderr[-3000:]
    import kaldiio
    import numpy as np

    monkeypatch.chdir(tmp_path)  # the scp files name their arks relative to the launch directory
    n_utts = 0
    for job in range(1, 5):
        s, l = tmp_path / f"slurm/feats.{job}.ark", tmp_path / f"local/feats.{job}.ark"
        assert s.read_bytes() == l.read_bytes(), f"feats.{job}.ark differs"
        feats_s = kaldiio.load_scp(str(tmp_path / f"slurm/feats.{job}.scp"))
        feats_l = kaldiio.load_scp(str(tmp_path / f"local/feats.{job}.scp"))
        assert list(feats_s) == list(feats_l) == [w.stem for w in waves[2 * job - 2: 2 * job]]
        for utt in feats_s:
            assert np.array_equal(feats_s[utt], feats_l[utt]) and feats_s[utt].shape[1] == 80
            n_utts += 1
    assert n_utts == 8


def test_ctrl_c_cancels_the_array(slurm_cluster, tmp_path):
    proc = subprocess.Popen([PY, "-m", "asrkit", "launch", "--backend", "slurm", "JOB=1:3", "log/s.JOB.log",
                             "sleep", "120"], cwd=tmp_path, env=slurm_cluster.env, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_able)
    deadline = time.monotonic() + 300  # (the deadlines here bound a hang: Slurm is slow on a loaded machine)
    # until the task's header is whole (its '#' line: the command started): the log exists from the
    # header's redirect on, and a cancel landing between its lines left a log with no '#' line, which
    # check_log below could not read (seen once in CI, a loaded machine)
    log = tmp_path / "log/s.1.log"
    while not (log.exists() and "#" in log.read_text().splitlines()[2:]):
        assert time.monotonic() < deadline and proc.poll() is None, "the array did not start"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGINT, err  # (the launcher ends by the signal, as every asrkit command)
    job_id = re.search(r"submitted Slurm job (\d+)", err).group(1)
    assert f"cancelling Slurm job {job_id}" in err
    deadline = time.monotonic() + 300
    while slurm_cluster.run("squeue", "-h", "-j", job_id, "-o", "%i").stdout.strip():
        assert time.monotonic() < deadline, "the array is still queued after Ctrl-C"
        time.sleep(0.5)
    # the cancelled task's log ends as a local job's stopped by Ctrl-C (it had no footer)
    while not log.read_text().rstrip("\n").rsplit("\n", 1)[-1].startswith("# Ended"):
        assert time.monotonic() < deadline + 300, log.read_text()
        time.sleep(0.2)
    check_log(log, "sleep 120", 143)


def test_task_ended_by_slurm_reports_sigterm(slurm_cluster, tmp_path, monkeypatch, caplog):
    """A task that Slurm kills (here: it cancels itself) fails with 143, its log ended as the local
    backend's: the batch script traps Slurm's SIGTERM, which killed it before it wrote a status (or,
    in a race Slurm's process tracking decided, after), so the launcher said 'no exit status'."""
    monkeypatch.chdir(tmp_path)
    for key, value in slurm_cluster.env.items():
        if key.startswith("SLURM"):
            monkeypatch.setenv(key, value)
    # The range is named PIECE: run.pl-style substitution would turn the JOB of $SLURM_ARRAY_JOB_ID
    # into 2. (Not $SLURM_JOB_ID: one task of an array has the array's id, and cancels them all.)
    command = 'if [ PIECE = 2 ]; then scancel "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"; sleep 60; fi'
    job = Launch(command, "log/c.PIECE.log", parse_job_range("PIECE=1:2"))
    result = run_slurm(job, SlurmConfig.parse(DEFAULT_CONFIG, "d"), {}, show_progress=False, queue_check_s=1,
                       grace_s=1)
    assert result.results[0].code == 0
    cancelled = result.results[1]
    assert cancelled.code == 143 and not cancelled.note, cancelled
    assert "PIECE=2 failed (code 143: SIGTERM), log is in log/c.2.log" in caplog.text  # the range's own name
    check_log(tmp_path / "log/c.2.log", command.replace("PIECE", "2"), 143)


def test_bad_submission_is_a_clear_error(slurm_cluster, tmp_path):
    proc = launch(slurm_cluster, "--time", "not-a-time", "x.log", "true", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "ERROR (asrkit-launch): sbatch failed" in proc.stderr and "submit line: sbatch" in proc.stderr
    (tmp_path / "bad.conf").write_text("command sbatch\n")
    proc = launch(slurm_cluster, "--config", "bad.conf", "--mem", "4G", "x.log", "true", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "bad.conf: no 'option mem=...' line for --mem 4G" in proc.stderr


def test_srun_across_two_nodes_one_task_per_gpu(slurm_cluster, tmp_path):
    """--num-nodes 2 --gpu 2: 4 tasks, 2 per node, each seeing its node's GPUs; all 4 meet in gloo.

    The master address is the first node's name from Slurm's node list (the nodes are named by
    their loopback addresses, see slurm_cluster.py), the port derived from the job id.
    """
    launch(slurm_cluster, "--num-nodes", "2", "--gpu", "2", "log/gloo.log", PY, GLOO, cwd=tmp_path)
    lines = check_log(tmp_path / "log/gloo.log", f"{PY} {GLOO}", 0)
    text = "\n".join(lines)
    job = re.search(r"^# Running 4 tasks \(2 per node\) of Slurm job (\d+) on 127\.0\.0\.\[1-2\]$",
                    (tmp_path / "log/gloo.log").read_text(), re.M)
    assert job, text
    port = slurm_port(int(job.group(1)))
    # Found anywhere in the text: the tasks' output and gloo's warnings interleave in one log.
    got = sorted(re.findall(r"rank (\d)/(\d) local (\d) master (\S+) (\w+) sum (\d+) node (\S+) gpus (\S+)", text))
    master = f"127.0.0.1:{port}"
    assert got == [("0", "4", "0", master, "gloo", "10", "127.0.0.1", "2"),
                   ("1", "4", "1", master, "gloo", "10", "127.0.0.1", "2"),
                   ("2", "4", "0", master, "gloo", "10", "127.0.0.2", "2"),
                   ("3", "4", "1", master, "gloo", "10", "127.0.0.2", "2")], text
    script = (tmp_path / "log/q/gloo.sh").read_text()
    assert re.search(r"^# sbatch --export=ALL --gres=gpu:2 .*--nodes=2 --ntasks-per-node=2 ", script, re.M), script


def test_unwritable_log_dir_is_a_clear_error(slurm_cluster, tmp_path):
    (tmp_path / "file").write_text("")
    proc = launch(slurm_cluster, "JOB=1:2", "file/x.JOB.log", "true", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    # the local backend's words, naming the log and what is in its way (was "cannot create file/q: Not a directory")
    assert "cannot write log file file/x.1.log: file is a file, not a directory" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_submitting_shells_srun_step_does_not_reach_the_job(slurm_cluster, tmp_path):
    """asrkit-launch run inside an srun step of 2 tasks (an interactive 'srun -n2 --pty bash'):
    --export=ALL carried SLURM_STEP_ID and SLURM_STEP_NUM_TASKS=2 into the batch job, whose one
    task then took itself for rank 0 of 2 and would wait for a rank 1 that never came."""
    detect = "from asrkit.launch.distributed import detect_distributed as d; print('dist', d())"
    env = dict(slurm_cluster.env, OMP_NUM_THREADS="1", SLURM_STEP_ID="7", SLURM_STEPID="7",
               SLURM_STEP_NUM_TASKS="2", SLURM_STEP_NODELIST="127.0.0.2", SLURM_PROCID="1")
    proc = subprocess.run([PY, "-m", "asrkit", "launch", "--backend", "slurm", "log/d.log", PY, "-c", detect],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert check_log(tmp_path / "log/d.log", f'{PY} -c "{detect}"', 0)[-1] == "dist None"


def test_a_failing_task_of_an_srun_job_gives_the_job_its_code(slurm_cluster, tmp_path):
    """srun exits with the highest of its tasks' statuses: rank 1 failing with code 3 made the
    SIGTERM that --kill-on-bad-exit sent rank 0 the job's, "code 143: SIGTERM", as if Slurm had
    cancelled it. The local backend says the failing task's code; so does this one now."""
    command = "test $SLURM_PROCID = 0 || exit 3; sleep 120"
    proc = launch(slurm_cluster, "--num-nodes", "2", "log/t.log", command, cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "ERROR (asrkit-launch): job failed (code 3), log is in log/t.log" in proc.stderr, proc.stderr
    check_log(tmp_path / "log/t.log", command, 3)
    assert sorted(p.name for p in (tmp_path / "log/q").iterdir()) == ["t.out", "t.sh"]


def test_a_percent_sign_in_the_log_path_is_taken_literally(slurm_cluster, tmp_path):
    """sbatch expands %j, %a, ... anywhere in --output: logs in 'exp/50%j' had their q/*.out sent
    to 'exp/50<job id>', which did not exist, so the tasks never started (and failed ~25 s later
    with no exit status)."""
    proc = launch(slurm_cluster, "JOB=1:2", "exp/50%j/x%a.JOB.log", "echo", "hi", "JOB", cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    for i in (1, 2):
        assert check_log(tmp_path / f"exp/50%j/x%a.{i}.log", f"echo hi {i}", 0) == [f"hi {i}"]
    assert sorted(p.name for p in (tmp_path / "exp/50%j/q").iterdir()) == ["x%a.1.out", "x%a.2.out", "x%a.sh"]
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == ["50%j"]


def test_a_job_slurm_will_never_start_is_said_to_be_stuck(slurm_cluster, tmp_path, monkeypatch, caplog):
    """--time over the partition's limit: with EnforcePartLimits=NO (the default) sbatch accepts the
    job, which stays pending (PartitionTimeLimit) for ever, and the launcher waited on it without a
    word. It now warns once; here the user then cancels the job."""
    monkeypatch.chdir(tmp_path)
    for key, value in slurm_cluster.env.items():
        if key.startswith("SLURM"):
            monkeypatch.setenv(key, value)
    partition = slurm_cluster.run("sinfo", "-h", "-o", "%R").stdout.split()[0]
    slurm_cluster.run("scontrol", "update", f"PartitionName={partition}", "MaxTime=10", check=True)
    real_state, looks = slurm._queue_state, []

    def cancel_once_warned(job_id):
        state = real_state(job_id)
        looks.append(state)
        if "is pending (PartitionTimeLimit" in caplog.text:
            slurm_cluster.run("scancel", job_id)
        return state

    monkeypatch.setattr(slurm, "_queue_state", cancel_once_warned)
    try:
        result = run_slurm(Launch("true", "log/p.JOB.log", parse_job_range("JOB=1:2")),
                           SlurmConfig.parse(DEFAULT_CONFIG, "d"), {"time": "20"}, show_progress=False,
                           queue_check_s=0.2, grace_s=0.5)
    finally:
        slurm_cluster.run("scontrol", "update", f"PartitionName={partition}", "MaxTime=INFINITE", check=True)
    assert [r.code for r in result.results] == [-1, -1]
    warned = [r.getMessage() for r in caplog.records if "is pending (PartitionTimeLimit" in r.getMessage()]
    assert len(warned) == 1 and "over the partition's time limit" in warned[0], caplog.text


# What `salloc -n 3 -c 2 --mem 1500M` (Slurm 22.05) gives its shell, with an id no job of the test
# cluster has.
SALLOC_SHELL = {"SLURM_JOB_ID": "999999", "SLURM_JOBID": "999999", "SLURM_JOB_NAME": "interactive",
                "SLURM_JOB_NODELIST": "elsewhere", "SLURM_NODELIST": "elsewhere", "SLURM_JOB_NUM_NODES": "1",
                "SLURM_NNODES": "1", "SLURM_NTASKS": "3", "SLURM_NPROCS": "3", "SLURM_TASKS_PER_NODE": "3",
                "SLURM_CPUS_PER_TASK": "2", "SLURM_MEM_PER_NODE": "1500", "SLURM_JOB_CPUS_PER_NODE": "6"}


def test_a_job_submitted_from_inside_an_allocation_gets_none_of_its_variables(slurm_cluster, tmp_path):
    """asrkit-launch --backend slurm in an salloc shell (or in a run.sh submitted with sbatch):
    --export=ALL carried the enclosing allocation's variables into the new job, where Slurm
    overwrote only those it set itself. The allocation's SLURM_MEM_PER_NODE beside the job's own
    SLURM_MEM_PER_CPU stopped the srun of every multi-task job ("srun: fatal: SLURM_MEM_PER_CPU,
    SLURM_MEM_PER_GPU, and SLURM_MEM_PER_NODE are mutually exclusive"): stage 4 of a recipe run on
    2 nodes from an salloc shell failed at once. A one-task job was told SLURM_NTASKS=3."""
    env = dict(slurm_cluster.env, OMP_NUM_THREADS="1", **SALLOC_SHELL)
    show = "env | grep -E '^SLURM_(NTASKS|MEM_PER_NODE|CPUS_PER_TASK|JOB_NODELIST)=' | sort"
    for args, log in ((["--ntasks", "2"], "log/two.log"), ([], "log/one.log")):
        proc = subprocess.run([PY, "-m", "asrkit", "launch", "--backend", "slurm", *args, log, show], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (proc.stderr, (tmp_path / log).read_text())
        seen = "\n".join(check_log(tmp_path / log, show, 0))
        assert "MEM_PER_NODE" not in seen and "CPUS_PER_TASK" not in seen and "elsewhere" not in seen, seen
        assert "SLURM_NTASKS=3" not in seen, seen
        assert ("SLURM_NTASKS=2" in seen) == bool(args), seen  # (the two tasks' own)


@pytest.mark.parametrize("ntasks", [1, 2])
def test_sigusr1_to_the_batch_shell_reaches_the_command(slurm_cluster, tmp_path, monkeypatch, ntasks):
    """sbatch --signal=B:USR1@300 (a warning before the time limit, on which a training saves a
    checkpoint) and scancel --signal=USR1 --batch signal the batch shell alone: bash's default action
    killed it, the command ran on unowned, and the task failed with "no exit status". The shell
    now passes SIGUSR1 and SIGUSR2 on to the command and waits for it; under srun, which passes
    them on to every process of each task, the task's wrapper died of them (code 138: SIGUSR1).
    (Here the command asks for the signal itself, once its trap is set: no timing.)"""
    monkeypatch.chdir(tmp_path)
    for key, value in slurm_cluster.env.items():
        if key.startswith("SLURM"):
            monkeypatch.setenv(key, value)
    command = ("trap 'echo got USR1; exit 5' USR1; [ ${SLURM_PROCID:-0} = 0 ] && scancel --signal=USR1 --batch "
               "$SLURM_JOB_ID; for i in $(seq 600); do sleep 0.1; done; echo no USR1; exit 9")
    result = run_slurm(Launch(command, "log/u.log", ntasks=ntasks), SlurmConfig.parse(DEFAULT_CONFIG, "d"), {},
                       show_progress=False, queue_check_s=1, grace_s=1)
    assert [(r.code, r.note) for r in result.results] == [(5, "")], result.results
    # (the whole process group has it, as with Slurm's own --signal: bash says its sleep got it too)
    assert check_log(tmp_path / "log/u.log", command, 5).count("got USR1") == ntasks


def test_srun_settings_exported_inside_an_allocation_reach_the_submitted_job(slurm_cluster, tmp_path):
    """Inside an allocation, every SLURM_* but sbatch's own inputs was dropped (1becfc2f), srun's
    INPUT variables the user exported with them: SLURM_LABELIO=1 labelled the tasks' lines outside a
    job and not inside one. Only what Slurm set for the allocation is dropped now."""
    env = dict(slurm_cluster.env, OMP_NUM_THREADS="1", SLURM_LABELIO="1", **SALLOC_SHELL)
    proc = subprocess.run([PY, "-m", "asrkit", "launch", "--backend", "slurm", "--ntasks", "2", "log/l.log",
                           "echo rank $SLURM_PROCID"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, (proc.stderr, (tmp_path / "log/l.log").read_text())
    assert sorted(check_log(tmp_path / "log/l.log", "echo rank $SLURM_PROCID", 0)) == ["0: rank 0", "1: rank 1"]
