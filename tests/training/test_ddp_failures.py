"""How a 2-rank CPU training (gloo) fails: one line naming the cause, a non-zero exit, no rank left
waiting, the finished epochs' checkpoints intact.

The ranks are started here with torchrun's variables (RANK, WORLD_SIZE, MASTER_*), as srun or
asrkit-launch start them, but with no launcher that ends the others when one fails: what each
rank says of itself is then the same every time. Everything waits on files and log lines.
"""
from __future__ import annotations

import os
import re
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from asrkit.launch.distributed import DistInfo, init_distributed
from asrkit.training import checkpoint as ckpt
from asrkit.utils.errors import AsrkitError

from .yesno_dump import train_args

WAIT_S = 240  # only how long a broken run may take to show it is broken


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, args, program=("-m", "asrkit")) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    # (SIGINT as a terminal gives it: pytest-xdist's workers ignore it, and their children with them)
    return subprocess.Popen([sys.executable, *map(str, program), *map(str, args)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _lines(proc: subprocess.Popen) -> "queue.Queue":
    """``proc``'s stderr, line by line (None at its end), read on a thread; the lines are kept in
    ``proc.seen`` for the assertions."""
    lines: "queue.Queue" = queue.Queue()
    proc.seen = []

    def read():
        for line in proc.stderr:
            proc.seen.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for(lines: "queue.Queue", text: str) -> None:
    while True:
        line = lines.get(timeout=WAIT_S)
        assert line is not None, f"ended before saying {text!r}"
        if text in line:
            return


def _wait_blocked(pid: int, still_s: float = 2.0) -> None:
    """Until ``pid``'s main thread has slept ``still_s`` without using any CPU: waiting for a peer
    in a collective (a step computes all the way, whatever the load; a preempted thread is runnable,
    not asleep). WAIT_S bounds only a hang."""
    import time

    stat = Path(f"/proc/{pid}/task/{pid}/stat")
    began = time.monotonic()
    last, still_since = None, None
    while True:
        fields = stat.read_text().rsplit(")", 1)[1].split()  # (after the command name, which may hold spaces)
        state, cpu = fields[0], int(fields[11]) + int(fields[12])  # (utime and stime, in clock ticks)
        now = time.monotonic()
        if state != "S" or cpu != last:
            last, still_since = cpu, now
        elif now - still_since >= still_s:
            return
        assert now - began < WAIT_S, f"process {pid} never waited: state {state}, {cpu} ticks"
        time.sleep(0.05)


def _end(*procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def _two_ranks(args, program=("-m", "asrkit")) -> tuple:
    """Ranks 0 and 1 of a 2-rank run of ``program`` with ``args`` to their end: (procs, stderrs)."""
    port = _free_port()
    procs = [_rank(r, 2, port, args, program=program) for r in (0, 1)]
    try:
        err = [p.communicate(timeout=WAIT_S)[1] for p in procs]
    finally:
        _end(*procs)
    return procs, err


def _bad_dev(yesno_setup, tmp_path):
    """A dev dir 2 of whose 4 utterances are unreadable (past Kaldi's 5 %: rank 0, which alone
    reads the dev set before training, fails), and the command line that trains with it."""
    import shutil

    dev = tmp_path / "dev"
    shutil.copytree(yesno_setup / "dump" / "dev", dev)
    lines = (dev / "feats.scp").read_text().splitlines()
    lines[:2] = [f"{line.split()[0]} {yesno_setup / 'dump' / 'dev' / 'feats.ark'}:999999999" for line in lines[:2]]
    (dev / "feats.scp").write_text("\n".join(lines) + "\n")
    args = train_args(yesno_setup, tmp_path / "exp", "--set", "training.max_epochs=1")
    args[args.index("--valid-dir") + 1] = dev
    return dev, args


def test_torchruns_summary_names_the_failed_ranks_error(yesno_setup, tmp_path):
    """torchrun's closing summary, last on the screen, said of the root cause only 'traceback : To
    enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html'; it now quotes the
    rank's ERROR line (through torchrun's error file)."""
    dev, args = _bad_dev(yesno_setup, tmp_path)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "asrkit", *map(str, args)], capture_output=True, text=True, env=env, timeout=WAIT_S)
    assert proc.returncode != 0
    summary = proc.stderr.split("Root Cause (first observed failure):")[-1]
    assert f"traceback : ERROR (asrkit-train rank 0 of 2): {dev} (--valid-dir): 2 of 4" in summary, proc.stderr[-3000:]


def test_a_rank_whose_peer_failed_says_so_in_one_line(yesno_setup, tmp_path):
    """Rank 0 alone fails (a --valid-dir past Kaldi's 5 %, read by rank 0 only) while rank 1 waits
    for it in a collective: rank 1 printed gloo's 'Connection closed by peer' traceback, longer and
    later than rank 0's error, and asrkit-launch's summary could quote neither. Now rank 1 logs one
    line saying another rank left, no second ERROR line, exit 1; rank 0's ERROR line names the dev set."""
    dev, args = _bad_dev(yesno_setup, tmp_path)
    procs, err = _two_ranks(args)
    assert procs[0].returncode == 1 and "ERROR (asrkit-train rank 0 of 2): " + str(dev) + " (--valid-dir): 2 of 4" in err[0], err[0]
    assert procs[1].returncode == 1, err[1][-3000:]
    assert "Traceback" not in err[1] and "ERROR (" not in err[1], err[1][-3000:]
    # (gloo says 'closed' or 'reset' as the peer's socket went down before or after its last read,
    # the latter at times as 'Read error [127.0.0.1]:42208: Connection reset by peer')
    assert re.search(r"rank 1 of 2: stopped, as another rank left the training or stopped answering "
                     r"\((Read error \[[0-9.:a-f]+\]:[0-9]+: )?Connection (closed|reset) by peer", err[1]), err[1]


def test_a_rank_whose_peer_failed_after_training_says_so_in_one_line(yesno_setup, tmp_path):
    """Rank 0 fails packing model.pt while rank 1 waits for it in the run's last barrier, outside
    the training proper: rank 1's gloo traceback there is one line too."""
    args = train_args(yesno_setup, tmp_path / "exp", "--set", "training.max_epochs=1", "--set", "training.valid_cer=false")
    procs, err = _two_ranks(args, [Path(__file__).with_name("fail_packing.py")])
    assert procs[0].returncode == 1 and "ERROR (asrkit-train rank 0 of 2): model.pt: cannot be packed" in err[0], err[0][-3000:]
    assert procs[1].returncode == 1, err[1][-3000:]
    assert "Traceback" not in err[1] and "ERROR (" not in err[1], err[1][-3000:]
    assert "rank 1 of 2: stopped, as another rank left the training or stopped answering (" in err[1], err[1]


def test_failed_ranks_end_the_groups_threads_before_python_exits(yesno_setup, tmp_path):
    """A rank that failed (rank 0, packing model.pt) and the rank it left (rank 1, in the last
    barrier) leave the group before Python's exit: left to it (the exceptions' frames held the DDP
    wrapper, so the group), a gloo thread was ended there and aborted the process, exit 134
    'terminate called without an active exception' after the rank's own line, 1 run in 16 here.
    Counted, not waited for, as for a run that ended well (590aaa13)."""
    import json

    args = train_args(yesno_setup, tmp_path / "exp", "--set", "training.max_epochs=1", "--set", "training.valid_cer=false")
    program = [Path(__file__).with_name("fail_packing.py"), "--threads-to", tmp_path]
    procs, err = _two_ranks(args, program)
    assert [p.returncode for p in procs] == [1, 1], err[0][-2000:] + err[1][-2000:]
    assert "ERROR (asrkit-train rank 0 of 2): model.pt: cannot be packed" in err[0] and "stopped, as another rank" in err[1]
    for rank in (0, 1):
        counts = json.loads((tmp_path / f"threads{rank}.json").read_text())
        assert counts["trained"] > 0, counts  # the count sees gloo's threads
        assert counts["returned"] == 0, (rank, counts)


def test_an_interrupted_rank_ends_the_groups_threads_before_python_exits(yesno_setup, tmp_path):
    """The same for a rank stopped by Ctrl-C (or SIGTERM, which asrkit-train raises as one):
    'interrupted', the group gone before Python's exit, then the end by SIGINT (exit 130 before);
    the rank it left stops with one line."""
    import json

    args = train_args(yesno_setup, tmp_path / "exp", "--set", "training.max_epochs=1", "--set", "training.valid_cer=false")
    program = [Path(__file__).with_name("fail_packing.py"), "--threads-to", tmp_path, "--interrupt-rank", 1]
    procs, err = _two_ranks(args, program)
    assert [p.returncode for p in procs] == [1, -signal.SIGINT], err[0][-2000:] + err[1][-2000:]
    assert "ERROR (asrkit-train rank 1 of 2): interrupted" in err[1] and "rank 0 of 2: stopped, as another rank" in err[0]
    counts = json.loads((tmp_path / "threads1.json").read_text())
    assert counts["trained"] > 0 and counts["returned"] == 0, counts


def test_a_sigterm_while_a_failed_rank_leaves_the_group_waits_for_it(yesno_setup, tmp_path):
    """asrkit-launch and torchrun SIGTERM the other ranks once one has failed; one that came while
    a rank left the group after its own failure stopped that (the group then went with Python's
    exit), or surfaced in a collector's callback as 'Exception ignored ... Terminated: 15' and a
    traceback. It is now taken after the group is left: 'terminated by SIGTERM', then the end by
    SIGTERM (exit 143 before)."""
    import json

    args = train_args(yesno_setup, tmp_path / "exp", "--set", "training.max_epochs=1", "--set", "training.valid_cer=false")
    program = [Path(__file__).with_name("fail_packing.py"), "--threads-to", tmp_path, "--term-while-leaving"]
    procs, err = _two_ranks(args, program)
    for rank, p in enumerate(procs):
        assert p.returncode == -signal.SIGTERM and f"ERROR (asrkit-train rank {rank} of 2): terminated by SIGTERM" in err[rank], err[rank][-3000:]
        assert "Traceback" not in err[rank] and "Exception ignored" not in err[rank], err[rank][-3000:]
        counts = json.loads((tmp_path / f"threads{rank}.json").read_text())
        assert counts["trained"] > 0 and counts["returned"] == 0, (rank, counts)


def _two_ranks_past_first_checkpoint(yesno_setup, exp: Path):
    """Two ranks training into ``exp`` for up to 200 epochs, returned once rank 0 has written epoch
    1's checkpoint (renamed into place whole): (the processes, rank 0's line queue). Both ranks'
    output is read, so that no pipe fills; the caller ends them (_end)."""
    args = train_args(yesno_setup, exp, "--set", "training.max_epochs=200", "--set", "training.valid_cer=false")
    port = _free_port()
    procs = [_rank(r, 2, port, args) for r in (0, 1)]
    try:
        lines = _lines(procs[0])
        _lines(procs[1])
        _wait_for(lines, "wrote ")
    except BaseException:
        _end(*procs)
        raise
    return procs, lines


def test_a_rank_killed_mid_training_stops_the_other_and_the_run_resumes(yesno_setup, tmp_path):
    """kill -9 of rank 1 once epoch 1's checkpoint is written: rank 0 stops with one line (it was
    a gloo traceback), exit 1, and a 2-rank run started again resumes from the checkpoint."""
    exp = tmp_path / "exp"
    procs, lines = _two_ranks_past_first_checkpoint(yesno_setup, exp)
    try:
        procs[1].kill()
        procs[0].wait(timeout=WAIT_S)
        while lines.get(timeout=WAIT_S) is not None:
            pass
    finally:
        _end(*procs)
    err = "".join(procs[0].seen)
    assert procs[0].returncode == 1, err[-3000:]
    assert "Traceback" not in err and "rank 0 of 2: stopped, as another rank left the training or stopped answering" in err, err[-3000:]
    done = max(ckpt.list_checkpoints(exp))
    assert done < 200

    args = train_args(yesno_setup, exp, "--set", f"training.max_epochs={done + 1}", "--set", "training.valid_cer=false")
    procs, err = _two_ranks(args)
    assert [p.returncode for p in procs] == [0, 0], err[0][-3000:] + err[1][-3000:]
    assert f"epoch {done} done" in err[0] and (exp / "model.pt").is_file(), err[0][-3000:]
    assert max(ckpt.list_checkpoints(exp)) == done + 1


def test_waiting_for_a_rank_that_never_starts_is_said_and_ctrl_c_ends_it(yesno_setup, tmp_path):
    """WORLD_SIZE=2 with one process started: rank 0 waited in torch's rendezvous, one C++ call of
    up to 30 min, without a word and deaf to Ctrl-C and SIGTERM (``timeout 60 asrkit-train`` ran
    on). It now says where it waits, and SIGINT ends it: 'interrupted', then the end by SIGINT."""
    proc = _rank(0, 2, _free_port(), train_args(yesno_setup, tmp_path / "exp"))
    try:
        lines = _lines(proc)
        _wait_for(lines, "rank 0 of 2: joining the other ranks at 127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=WAIT_S)
        while lines.get(timeout=WAIT_S) is not None:
            pass
    finally:
        _end(proc)
    err = "".join(proc.seen)
    assert proc.returncode == -signal.SIGINT and "ERROR (asrkit-train rank 0 of 2): interrupted" in err, err[-3000:]
    assert "Traceback" not in err


def test_a_rank_that_never_joins_is_named_when_the_wait_ends():
    """The wait's end names the missing rank in one line (it was torch's DistStoreError traceback,
    'Timed out after 2 seconds waiting for clients. 1/2 clients joined.')."""
    port = _free_port()
    with pytest.raises(AsrkitError, match=rf"rank 0: 1 of 2 ranks \(WORLD_SIZE=2\) have joined at 127\.0\.0\.1:{port}; "
                                          r"missing: rank 1, after 2 s: start as many processes as WORLD_SIZE"):
        init_distributed(DistInfo(0, 0, 2, "127.0.0.1", port), "gloo", timeout_s=2)


def test_a_master_port_in_use_is_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(AsrkitError, match=rf"rank 0 cannot open the training's rendezvous at 127\.0\.0\.1:{port}: "
                                              rf"port {port} is in use \(another training's\? set MASTER_PORT"):
            init_distributed(DistInfo(0, 0, 2, "127.0.0.1", port), "gloo", timeout_s=5)


def test_a_master_addr_that_does_not_resolve_is_one_line_at_once():
    """It was a warning a second ('The IPv6 network addresses of (nohost.invalid, ...) cannot be
    retrieved') for the whole rendezvous timeout, 30 min, then a traceback."""
    try:
        socket.getaddrinfo("nohost.invalid", 1)
        pytest.skip("this machine's resolver answers for nohost.invalid")
    except socket.gaierror as e:
        if e.errno != socket.EAI_NONAME:
            pytest.skip(f"this machine's resolver says {e} (not 'no such name')")
    with pytest.raises(AsrkitError, match=r"MASTER_ADDR 'nohost\.invalid' does not resolve \(.*\): set MASTER_ADDR"):
        init_distributed(DistInfo(1, 1, 2, "nohost.invalid", _free_port()), "gloo", timeout_s=5)


def test_a_ranks_error_line_names_the_rank_once():
    """A multi-rank run's ERROR line names its rank in the parentheses; a message that began with
    it (a failed join's) does not say it twice; a single process's line is as it was."""
    from asrkit.utils.errors import error_source, rank_error

    e = rank_error(AsrkitError("rank 1 of 3: nothing answered at h:1"), 1, 3)
    assert (error_source("asrkit-train", e), str(e)) == ("asrkit-train rank 1 of 3", "nothing answered at h:1")
    e = rank_error(AsrkitError("rank 2: 2 of 3 ranks have joined"), 2, 3)
    assert (error_source("asrkit-train", e), str(e)) == ("asrkit-train rank 2 of 3", "2 of 3 ranks have joined")
    e = rank_error(AsrkitError("rank 10: x"), 1, 3)  # (another rank's number is the message's own)
    assert str(e) == "rank 10: x"
    assert error_source("asrkit-train", AsrkitError("x")) == "asrkit-train"


def test_a_resumed_run_with_another_config_warns_once(yesno_setup, tmp_path):
    """Resuming a 2-rank run with a changed config printed 'config differs from the checkpoint's'
    once per rank (8 lines for 8 ranks, one terminal); rank 0 says it once now."""
    exp = tmp_path / "exp"
    base = ("--set", "training.valid_cer=false")
    procs, err = _two_ranks(train_args(yesno_setup, exp, *base, "--set", "training.max_epochs=1"))
    assert [p.returncode for p in procs] == [0, 0], err[0][-3000:] + err[1][-3000:]
    procs, err = _two_ranks(train_args(yesno_setup, exp, *base, "--set", "training.max_epochs=2"))
    assert [p.returncode for p in procs] == [0, 0], err[0][-3000:] + err[1][-3000:]
    said = "config differs from the checkpoint's, continuing with the new values: "
    assert err[0].count(said) == 1 and said + "training.max_epochs" in err[0], err[0][-3000:]
    assert said not in err[1], err[1][-3000:]


def test_a_sigterm_ends_a_rank_waiting_for_a_stopped_peer(yesno_setup, tmp_path):
    """Rank 1 stopped (SIGSTOP: alive, not answering), rank 0 waiting for it in a collective: a
    SIGTERM to rank 0 did nothing until gloo's timeout (30 min; still running 30 s on here), so a
    launcher's SIGKILL ended it without a word. It now ends by the SIGTERM after the grace (3 s),
    saying why; the 60 s wait only bounds a hang."""
    import time

    procs, lines = _two_ranks_past_first_checkpoint(yesno_setup, tmp_path / "exp")
    try:
        procs[1].send_signal(signal.SIGSTOP)
        # (a fixed sleep here sent the SIGTERM while a loaded machine's rank 0 still computed the
        # step, which its main thread then took itself: not the wait this test is about)
        _wait_blocked(procs[0].pid)
        began = time.monotonic()
        procs[0].send_signal(signal.SIGTERM)
        try:
            procs[0].wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("rank 0 still runs 60 s after its SIGTERM")
        took = time.monotonic() - began
        while lines.get(timeout=WAIT_S) is not None:
            pass
    finally:
        if procs[1].poll() is None:
            procs[1].send_signal(signal.SIGCONT)
        _end(*procs)
    err = "".join(procs[0].seen)
    assert procs[0].returncode == -signal.SIGTERM, (took, err[-3000:])
    assert "ERROR (asrkit-train rank 0 of 2): terminated by SIGTERM while waiting for the other ranks in " in err, err[-3000:]
    assert "Traceback" not in err
