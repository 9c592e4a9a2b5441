"""detect_distributed / init_distributed: env parsing for torchrun and srun, and a real gloo group."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from asrkit.launch.distributed import DistInfo, detect_distributed, first_host, init_distributed, slurm_port
from asrkit.utils.errors import AsrkitError


def test_not_distributed():
    assert detect_distributed({}) is None
    assert detect_distributed({"PATH": "/bin"}) is None


def test_torchrun_env():
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "node7", "MASTER_PORT": "29400"}
    assert detect_distributed(env) == DistInfo(rank=3, local_rank=1, world_size=4, master_addr="node7",
                                               master_port=29400)


def test_world_size_one_is_not_distributed():
    assert detect_distributed({"RANK": "0", "WORLD_SIZE": "1"}) is None
    assert detect_distributed({"SLURM_STEP_ID": "0", "SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_JOB_NODELIST": "a",
                               "SLURM_JOB_ID": "5"}) is None


def test_slurm_env():
    env = {"SLURM_STEP_ID": "0", "SLURM_PROCID": "2", "SLURM_NTASKS": "4", "SLURM_LOCALID": "0",
           "SLURM_JOB_NODELIST": "gpu[07-08,11],cpu3", "SLURM_JOB_ID": "123456"}
    info = detect_distributed(env)
    assert info == DistInfo(rank=2, local_rank=0, world_size=4, master_addr="gpu07",
                            master_port=slurm_port(123456))
    assert not info.is_main
    # Every task of the job derives the same port, inside the non-ephemeral range.
    assert 1024 < info.master_port < 32768


def test_sbatch_script_without_srun_is_not_distributed(caplog):
    env = {"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n1", "SLURM_JOB_ID": "9"}
    assert detect_distributed(env) is None
    assert "not started by srun" in caplog.text


def test_sbatch_script_without_srun_names_the_processes_ngpu_starts(capfd, monkeypatch, tmp_path):
    """asrkit-train --ngpu 2 in an sbatch script with --ntasks 2 was told "training as one process"
    while it started two (one per GPU on this node)."""
    import asrkit.training.train_asr as train_asr
    from asrkit.cli import train as train_cli

    monkeypatch.chdir(tmp_path)
    env = {"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n1", "SLURM_JOB_ID": "9"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("SLURM_STEP_ID", "SLURM_STEP_NUM_TASKS", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    started = []
    monkeypatch.setattr(train_asr, "launch_local", lambda args, nproc: started.append(nproc))
    monkeypatch.setattr("torch.cuda.device_count", lambda: 2)
    train_cli.main.main(["--train-dir", "tr", "--lang-dir", "lang", "--ngpu", "2", "exp"], standalone_mode=False)
    assert started == [2]
    err = capfd.readouterr().err
    assert "not started by srun" in err and "as one process" not in err, err
    assert "in the 2 processes --ngpu 2 starts on this node" in err, err


def test_slurm_step_tasks_win_over_allocation_tasks():
    env = {"SLURM_STEP_ID": "0", "SLURM_PROCID": "1", "SLURM_NTASKS": "8", "SLURM_STEP_NUM_TASKS": "2",
           "SLURM_JOB_NODELIST": "n1", "SLURM_JOB_ID": "9"}
    assert detect_distributed(env).world_size == 2


def test_master_env_overrides_slurm():
    env = {"SLURM_STEP_ID": "0", "SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n[1-2]", "SLURM_JOB_ID": "9",
           "MASTER_ADDR": "10.0.0.5", "MASTER_PORT": "23456"}
    info = detect_distributed(env)
    assert (info.master_addr, info.master_port, info.is_main) == ("10.0.0.5", 23456, True)


def test_torchrun_wins_over_slurm():
    env = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "2000",
           "SLURM_STEP_ID": "0", "SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_JOB_NODELIST": "n1", "SLURM_JOB_ID": "9"}
    assert detect_distributed(env).rank == 1


@pytest.mark.parametrize("nodelist,first", [
    ("node1", "node1"),
    ("node[001-004]", "node001"),
    ("gpu[07,09-10],cpu[1-2]", "gpu07"),
    ("rack[1-2]-n[01-04]", "rack1-n01"),
    ("a,b", "a"),
    ("node-x.example.org", "node-x.example.org"),
])
def test_first_host(nodelist, first):
    assert first_host(nodelist) == first


def test_first_host_range_of_non_ascii_digits_is_refused():
    """'gpu[٠٧-08]': str.isdigit() took the Arabic-Indic digits, giving host 'gpu٠٧'."""
    with pytest.raises(AsrkitError, match="bad range"):
        first_host("gpu[\u0660\u0667-08]")


@pytest.mark.parametrize("env,words", [
    ({"RANK": "x", "WORLD_SIZE": "2"}, "RANK='x'"),
    ({"RANK": "2", "WORLD_SIZE": "2"}, "rank 2 outside world size 2"),
    ({"SLURM_STEP_ID": "0", "SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_ID": "1"}, "SLURM_JOB_NODELIST"),
    ({"SLURM_STEP_ID": "0", "SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n1"}, "SLURM_JOB_ID"),
    ({"SLURM_STEP_ID": "0", "SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n[1-", "SLURM_JOB_ID": "1"}, "node list"),
    # int() took these (a ValueError traceback for the sbatch script's own SLURM_NTASKS)
    ({"SLURM_PROCID": "0", "SLURM_NTASKS": "abc"}, "SLURM_NTASKS='abc' is not an integer"),
    ({"RANK": "\u0661", "WORLD_SIZE": "2"}, "RANK='\u0661' is not an integer"),
    ({"RANK": "1", "WORLD_SIZE": "1_0"}, "WORLD_SIZE='1_0' is not an integer"),
    ({"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": ""}, "master address is empty"),
])
def test_bad_env_is_a_clear_error(env, words):
    with pytest.raises(AsrkitError, match=words.replace("[", r"\[")):
        detect_distributed(env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("port_taken", [None, "store", "listener"])
def test_init_distributed_gloo_all_reduce(port_taken, another_trainings_store):
    """Two real processes with Slurm-style variables meet on a derived address and all_reduce.

    port_taken: the port derived from the job id is another training's store (a job 20000 ids
    away on the same node): rank 0 stopped with 'port ... is in use' and rank 1 joined that
    store, counted among its ranks. Rank 0 now moves to a port both derive from the job, and
    rank 1 joins only the store marked as this job's. "listener": a program that takes
    connections and never answers (an HTTP server waiting for its request) holds the port, where
    rank 1's store client waited for good once rank 0 had moved on."""
    port, job, other = _free_port(), 1, None
    if port_taken:
        for job in range(4711, 4811):
            if port_taken == "store":
                other = another_trainings_store(slurm_port(job))
            else:
                with contextlib.suppress(OSError):
                    other = socket.create_server(("127.0.0.1", slurm_port(job)))
            if other is not None:
                break
        assert other is not None
        port, keys = slurm_port(job), other.num_keys() if port_taken == "store" else 0
    procs = []
    try:
        for rank in range(2):
            env = dict(os.environ, OMP_NUM_THREADS="1", SLURM_PROCID=str(rank), SLURM_STEP_ID="0", SLURM_NTASKS="2",
                       SLURM_LOCALID=str(rank), SLURM_JOB_NODELIST="127.0.0.1", SLURM_JOB_ID=str(job),
                       MASTER_PORT=str(port), CUDA_VISIBLE_DEVICES="")
            for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR") + (("MASTER_PORT",) if port_taken else ()):
                env.pop(key, None)
            procs.append(subprocess.Popen([sys.executable, str(Path(__file__).with_name("gloo_all_reduce.py"))], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs = [p.communicate(timeout=300) for p in procs]  # a hang bound (two torch imports on a loaded machine)
    finally:
        for p in procs:
            p.kill()
        if port_taken == "listener":
            other.close()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    got = sorted(out.strip() for out, _ in outs)
    # Not started by slurmd here: no node name or GPU count from Slurm.
    assert got == [f"rank {r}/2 local {r} master 127.0.0.1:{port} gloo sum 3 node - gpus -" for r in (0, 1)]
    if port_taken:
        assert f"rank 0: port {port} is in use" in outs[0][1], outs[0][1]
    if port_taken == "store":
        assert other.num_keys() == keys
    else:
        assert (f"something at 127.0.0.1:{port} takes connections but does not answer as a store" in outs[1][1]) == \
            (port_taken == "listener"), outs[1][1]


def test_a_listener_that_never_answers_leaves_no_thread_waiting():
    """A rank's store client, waiting at a port where a program that is no store never answers,
    is given up after its try (test_init_distributed_gloo_all_reduce[listener]); its thread was
    left waiting, and when the listener closed as the process exited, the waking thread aborted
    the interpreter ('terminate called without an active exception', exit 134). Its connection is
    now shut down, and the thread ends with the rendezvous (in-process: the rank gives up first)."""
    import threading

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with pytest.raises(AsrkitError, match=rf"^rank 1 of 2: nothing answered at 127\.0\.0\.1:{port} .*something at "
                                              rf"port {port} takes connections but does not answer as a store"):
            init_distributed(DistInfo(1, 1, 2, "127.0.0.1", port), "gloo", timeout_s=1)
        assert [t.name for t in threading.enumerate() if t.name == f"asrkit-rendezvous-{port}"] == []


def test_a_rendezvous_whose_ports_are_all_taken_is_one_line(another_trainings_store):
    """Rank 0 moves from a taken port to the next of the run's; when every one is taken it stops
    with one line naming them (in-process: no peer is needed to get there)."""
    from asrkit.launch.distributed import rendezvous_ports

    for n in range(100):
        ports = rendezvous_ports(_free_port(), f"slurm-{n}.0")
        if all(another_trainings_store(port) is not None for port in ports):
            break
    else:
        pytest.fail("no run whose ports are all free here")
    with pytest.raises(AsrkitError, match=rf"^rank 0 cannot open the training's rendezvous at 127\.0\.0\.1: ports "
                                          rf"{', '.join(map(str, ports))} are all in use \(set MASTER_PORT"):
        init_distributed(DistInfo(0, 0, 2, "127.0.0.1", ports[0], rendezvous_id=f"slurm-{n}.0"), "gloo", timeout_s=5)


def test_torchruns_agent_store_is_joined_whatever_rendezvous_name_was_inherited(another_trainings_store, monkeypatch):
    """torchrun started inside an asrkit-launch --ntasks task passes the task's ASRKIT_RENDEZVOUS_ID
    on to its ranks; its agent's store, already bound, holds no such name, and rank 0 must join it
    all the same (it waited for a mark that never came)."""
    import torch.distributed as dist

    agent = another_trainings_store()
    for name, value in {"TORCHELASTIC_USE_AGENT_STORE": "True", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(agent.port)}.items():
        monkeypatch.setenv(name, value)
    info = DistInfo(0, 0, 1, "127.0.0.1", agent.port, rendezvous_id="local-1-1-0")
    try:
        assert init_distributed(info, "gloo", timeout_s=5) == "gloo"
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_init_distributed_nccl_without_gpu_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(AsrkitError, match="local rank 0 has no GPU"):
        init_distributed(DistInfo(0, 0, 2, "127.0.0.1", 1), backend="nccl")


def test_a_slurm_step_without_a_task_count_is_a_clear_error():
    """SLURM_PROCID and SLURM_STEP_ID without SLURM_NTASKS or SLURM_STEP_NUM_TASKS (variables set
    by hand) was a KeyError traceback."""
    env = {"SLURM_STEP_ID": "0", "SLURM_PROCID": "1", "SLURM_JOB_NODELIST": "n1", "SLURM_JOB_ID": "9"}
    with pytest.raises(AsrkitError, match="without SLURM_STEP_NUM_TASKS or SLURM_NTASKS"):
        detect_distributed(env)


@pytest.mark.parametrize("env,words", [
    ({"WORLD_SIZE": "4"}, "WORLD_SIZE=4 is set but RANK is not"),
    ({"RANK": "1"}, "RANK=1 is set but WORLD_SIZE is not"),
    ({"RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "2000"}, "WORLD_SIZE is not"),
])
def test_half_of_torchrun_variables_is_an_error(env, words):
    """WORLD_SIZE=4 without RANK (or RANK=1 without WORLD_SIZE) was a single process, in silence:
    each copy trained alone as rank 0, all writing the same checkpoints."""
    with pytest.raises(AsrkitError, match=words):
        detect_distributed(env)


@pytest.mark.parametrize("env", [{"RANK": "0"}, {"WORLD_SIZE": "1"}, {"LOCAL_RANK": "0"},
                                 # inside an srun step Slurm's variables say it all
                                 {"WORLD_SIZE": "2", "SLURM_STEP_ID": "0", "SLURM_PROCID": "1", "SLURM_NTASKS": "2",
                                  "SLURM_JOB_NODELIST": "n1", "SLURM_JOB_ID": "9"}])
def test_a_lone_variable_that_says_one_process_or_srun_is_let_be(env):
    info = detect_distributed(env)
    assert info is None or (info.rank, info.world_size) == (1, 2)


@pytest.mark.parametrize("env, origin", [
    # exported by hand, or left in an salloc/sbatch shell from an earlier job step
    ({"RANK": "0", "WORLD_SIZE": "2"}, "RANK=0 and WORLD_SIZE=2 in the environment, not torchrun's: where no launcher "
                                       "started this process with its peers (left from an earlier job, or exported), "
                                       "unset them to train as one process"),
    # asrkit-train typed in an `srun -n2 --pty bash` shell: every command there is 'task 0 of 2'
    ({"SLURM_JOB_ID": "9", "SLURM_STEP_ID": "0", "SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_STEP_NUM_TASKS": "2",
      "SLURM_LOCALID": "0", "SLURM_JOB_NODELIST": "127.0.0.1"},
     "SLURM_PROCID=0 and SLURM_STEP_NUM_TASKS=2, an srun step's: where this is none of its tasks (a command typed "
     "in an `srun --pty` shell), unset SLURM_PROCID to train as one process"),
])
def test_a_lone_process_with_stale_rank_variables_is_told_how_to_train_alone(env, origin):
    """One process with ranks in its environment that no launcher set for it (left from an earlier
    job, exported, an srun --pty shell's) waited for ranks that never come, saying only
    'missing: rank 1' and 'start as many processes as WORLD_SIZE says'. Trusted still, as ESPnet
    trusts them (a multi-node run started by hand sets them so), but the wait's notes and its end
    say where the ranks came from and how to train alone."""
    info = detect_distributed({**env, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())})
    assert (info.rank, info.world_size) == (0, 2)
    with pytest.raises(AsrkitError) as e:
        init_distributed(info, "gloo", timeout_s=2)
    assert str(e.value).endswith(f"missing ones' logs ({origin})"), str(e.value)


def test_torchruns_own_variables_get_no_stale_hint():
    env = {"RANK": "0", "WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "none", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(_free_port())}
    with pytest.raises(AsrkitError) as e:
        init_distributed(detect_distributed(env), "gloo", timeout_s=2)
    assert str(e.value).endswith("or check the missing ones' logs"), str(e.value)


def test_an_salloc_shell_trains_as_one_process():
    """salloc -n 4's shell: the allocation's variables, no SLURM_PROCID (that is srun's): one process."""
    env = {"SLURM_JOB_ID": "9", "SLURM_NTASKS": "4", "SLURM_NPROCS": "4", "SLURM_NNODES": "1", "SLURM_JOB_NODELIST": "n1",
           "SLURM_NODELIST": "n1", "SLURM_TASKS_PER_NODE": "4"}
    assert detect_distributed(env) is None


def test_an_salloc_shell_of_several_tasks_says_it_trains_alone(caplog):
    """The twin of the batch script without srun: in an `salloc -n 4` shell asrkit-train trained
    as one process, on the host salloc ran on, without a word, where the user meant 4 tasks."""
    env = {"SLURM_JOB_ID": "9", "SLURM_NTASKS": "4", "SLURM_NPROCS": "4", "SLURM_JOB_NODELIST": "gpu[07-08]"}
    assert detect_distributed(env) is None
    assert "SLURM_NTASKS=4 of Slurm job 9, but not started by srun (no SLURM_PROCID: an salloc shell?): training " \
           "as one process here on " in caplog.text, caplog.text
    assert "not as the job's tasks on gpu[07-08]; run `srun asrkit-train ...` in it" in caplog.text
    caplog.clear()
    assert detect_distributed(env, local_processes=4) is None
    assert "training in the 4 processes --ngpu 4 starts here on " in caplog.text, caplog.text
    caplog.clear()
    # one task asked for (salloc's default), or no allocation at all: nothing to say
    for quiet in ({**env, "SLURM_NTASKS": "1"}, {"SLURM_NTASKS": "4"}):
        assert detect_distributed(quiet) is None
    assert caplog.text == ""


def test_an_salloc_shell_says_where_it_trains_once_and_takes_any_ntasks(caplog):
    """fd0b9038's warning said the host twice with --ngpu ('starts on this host, here on vm'), and
    refused a SLURM_NTASKS that is no number (an AsrkitError) where asrkit-train had trained as one
    process: this process trains alone whatever the variable says, so it is taken as unknown."""
    import socket

    host = socket.gethostname().split(".")[0]
    env = {"SLURM_JOB_ID": "9", "SLURM_NTASKS": "4", "SLURM_JOB_NODELIST": "gpu[07-08]"}
    assert detect_distributed(env, local_processes=2) is None
    assert f"training in the 2 processes --ngpu 2 starts here on {host}, not as the job's tasks on gpu[07-08]" \
        in caplog.text, caplog.text
    assert caplog.text.count(host) == 1 and "this host" not in caplog.text, caplog.text
    caplog.clear()
    for ntasks in ("x", "", " ", "4x"):
        assert detect_distributed({**env, "SLURM_NTASKS": ntasks}) is None
        assert detect_distributed({**env, "SLURM_NTASKS": ntasks}, local_processes=2) is None
    assert caplog.text == ""


def test_a_lone_rank_1_with_stale_variables_is_told_how_to_train_alone():
    """The same for RANK=1 left in the environment: it waits for a rank 0 that never answers."""
    info = detect_distributed({"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())})
    with pytest.raises(AsrkitError) as e:
        init_distributed(info, "gloo", timeout_s=2)
    assert str(e.value).endswith("; RANK=1 and WORLD_SIZE=2 in the environment, not torchrun's: where no launcher "
                                 "started this process with its peers (left from an earlier job, or exported), unset "
                                 "them to train as one process")


def test_a_rank_that_waits_briefly_for_rank_0_gets_no_stale_variable_hint(caplog):
    """A rank started a moment before rank 0 (asrkit-train --ngpu's spawned ranks, a hand-started
    pair) was told at once, on the first refused knock, that RANK/WORLD_SIZE were stale and to unset
    them, although asrkit had set them itself. The first note comes after a connection try's time
    and without the hint; the hint is for long waits and the final error."""
    import logging

    info = detect_distributed({"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())})
    with caplog.at_level(logging.WARNING), pytest.raises(AsrkitError) as e:
        init_distributed(info, "gloo", timeout_s=4)
    notes = [r.getMessage() for r in caplog.records if "does not answer" in r.getMessage()]
    assert len(notes) == 1 and "unset them" not in notes[0], notes
    assert str(e.value).endswith("unset them to train as one process")


def _torchrun_rank(rank: int, port: int) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), CUDA_VISIBLE_DEVICES="")
    for key in ("TORCHELASTIC_RUN_ID", "TORCHELASTIC_USE_AGENT_STORE", "SLURM_PROCID", "SLURM_STEP_ID"):
        env.pop(key, None)
    return subprocess.Popen([sys.executable, str(Path(__file__).with_name("gloo_all_reduce.py"))], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_rank_waiting_for_rank_0_prints_no_cpp_stack_dumps():
    """Rank 1 started before rank 0 (srun and hand-started runs start ranks in any order) printed
    torch's C++ '[E ... socket.cpp] The client socket has timed out' with 30 'frame #' lines every
    2 s of its wait, pages of them before rank 0 came. It now says it waits in one line, and joins
    once rank 0 is up. Rank 0 is started once rank 1 has said it waits: no timing."""
    port = _free_port()
    first = _torchrun_rank(1, port)
    second = None
    err = []
    try:
        for line in first.stderr:  # (ends, at the latest, with rank 1's own 1800 s rendezvous timeout)
            err.append(line)
            if "rank 0 does not answer at 127.0.0.1:" in line:
                break
        second = _torchrun_rank(0, port)
        # (a hang guard only: a 2-rank gloo all_reduce takes seconds)
        out1, rest = first.communicate(timeout=300)
        out0, err0 = second.communicate(timeout=300)
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    err1 = "".join(err) + rest
    assert first.returncode == 0 and second.returncode == 0, err1[-3000:] + err0[-3000:]
    assert f"rank 1/2 local 1 master 127.0.0.1:{port} gloo sum 3" in out1, out1
    assert "frame #" not in err1 and "socket.cpp" not in err1 and "TCPStore.cpp" not in err1, err1[-3000:]
    assert "rank 1 of 2: rank 0 does not answer at" in err1, err1


def test_the_timeout_says_what_each_port_met():
    """A rank that gave up on a named rendezvous quoted the last port's failure alone: a program
    listening at the first port (what kept rank 0 from it) went unsaid. Each port is named with
    what it met, ports that met the same together."""
    from asrkit.launch.distributed import rendezvous_ports

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        moved = rendezvous_ports(port, "t-ports")[1:]
        with pytest.raises(AsrkitError) as e:
            init_distributed(DistInfo(1, 1, 2, "127.0.0.1", port, rendezvous_id="t-ports"), "gloo", timeout_s=1)
    tried = str(e.value).split("(last tries: ", 1)[1]
    assert tried.startswith(f"something at port {port} takes connections but does not answer as a store"), tried
    assert f"; ports {', '.join(map(str, moved))}: " in tried and "Connection refused" in tried, tried


def test_a_lone_rank_1_waits_without_cpp_noise_and_ends_in_one_line():
    """The same wait to its end: one note, one error line, no C++ stack dumps."""
    code = ("import sys; from asrkit.launch.distributed import DistInfo, init_distributed\n"
            "from asrkit.utils.errors import AsrkitError\n"
            f"try: init_distributed(DistInfo(1, 1, 2, '127.0.0.1', {_free_port()}), 'gloo', timeout_s=2)\n"
            "except AsrkitError as e: print('ERROR:', e, file=sys.stderr); sys.exit(1)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1 and len(lines) == 2, proc.stderr[-3000:]
    assert "rank 1 of 2: rank 0 does not answer at 127.0.0.1:" in lines[0], lines
    assert lines[1].startswith("ERROR: rank 1 of 2: nothing answered at 127.0.0.1:") and "within 2 s" in lines[1], lines


def test_waiting_for_rank_0_builds_no_store_client_until_something_listens(monkeypatch):
    """TCPStore's client, where nothing listens, prints the C++ stack dumps and retries with a
    back-off of its own past the wait's deadline (timeout_s=4 ended after 8-12 s): it is built
    only once a plain connection to rank 0's port is accepted."""
    import torch.distributed as dist

    built = []

    def recorded(*args, **kwargs):
        built.append(args)
        raise RuntimeError("not built here")

    monkeypatch.setattr(dist, "TCPStore", recorded)
    with pytest.raises(AsrkitError, match=r"rank 1 of 2: nothing answered at .* within 1 s: .*Connection refused"):
        init_distributed(DistInfo(1, 1, 2, "127.0.0.1", _free_port()), "gloo", timeout_s=1)
    assert built == []


@pytest.mark.parametrize("gloo", [True, False])
def test_a_backward_counts_as_waiting_for_peers_only_in_a_gloo_group(monkeypatch, gloo):
    """The signal watch ends a rank whose main thread sits in autograd's backward using no CPU: on
    the CPU (gloo) that is DDP's all-reduce waiting, but a CUDA backward runs on autograd's device
    threads while the main thread idles, so a GPU rank still computing was ended as 'waiting'."""
    import asrkit.launch.distributed as distributed

    monkeypatch.setattr(distributed, "_gloo_group", lambda: gloo)
    ns: dict = {}
    exec(compile("def backward(f):\n    return f()\n", "/venv/site-packages/torch/autograd/__init__.py", "exec"), ns)
    frame = ns["backward"](lambda: sys._getframe())
    assert distributed._collective_of(frame) == ("backward() (DDP's all-reduce)" if gloo else None)
