"""A private single-node Slurm cluster for tests: munged, slurmctld and slurmd in a temp dir.

Everything it starts lives under one temporary directory (config, munge key and socket, state,
spool, logs, pid files) and listens on free ports picked at start, so it does not touch a
system-wide Slurm or munge, nor another developer's cluster. Daemons run in the foreground as
children of the test process and are stopped by pid; if the test run is killed they die with it,
and the next cluster started removes the job steps and temp dir a killed run left.

Used by the session fixture ``slurm_cluster`` in ``tests/launch/conftest.py``; also runnable by
hand to poke at a cluster::

    python tests/launch/slurm_cluster.py [NODES [GPUS]]  # starts one, prints SLURM_CONF, stops on Enter
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
BINARIES = ["slurmctld", "slurmd", "sbatch", "srun", "squeue", "sinfo", "scancel", "munged"]


class ClusterUnavailable(Exception):
    """Slurm cannot be installed or started here (the message says why)."""


def ensure_installed() -> None:
    """Install Debian's Slurm and munge packages when a binary is missing (needs root + apt-get)."""
    missing = [b for b in BINARIES if not _which(b)]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ClusterUnavailable(
            f"Slurm binaries missing ({', '.join(missing)}) and cannot install them "
            f"(needs root and apt-get): apt-get install {' '.join(PACKAGES)}")
    # Waits for the dpkg lock (and retries apt-get update's lists lock) while another install holds it.
    from debian_packages import apt_get

    for args in (("update", "-q"), ("install", "-y", "-q", *PACKAGES)):
        proc = apt_get(*args)
        if proc.returncode != 0:
            raise RuntimeError(f"apt-get {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    missing = [b for b in BINARIES if not _which(b)]
    if missing:
        raise RuntimeError(f"installed {PACKAGES} but still missing {missing}")


def _which(name: str) -> Optional[str]:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _die_with_parent() -> None:
    """In a daemon's child before exec: SIGTERM it when the thread that started it exits.

    stop() runs at the fixture's teardown, which a killed test run (SIGTERM or SIGKILL to pytest)
    never reaches; the daemons then kept running, each cluster in its temp dir, until killed by
    hand. Linux's PR_SET_PDEATHSIG has the kernel stop them instead. It follows the starting
    *thread*, so a cluster must be started from a thread that outlives it (the session fixture
    and ``__main__`` start it from the main thread).
    """
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


class SlurmCluster:
    """``nodes`` compute nodes on this machine, one partition ``debug``; ``env`` holds SLURM_CONF.

    One node is named after this host, as on a real cluster. Several nodes are several slurmd
    daemons (Debian's slurmd is built with multiple-slurmd support), each with its own port,
    spool dir and log, named by its own loopback address ``127.0.0.<i>``: Slurm hands tasks the
    node *names* (``SLURM_JOB_NODELIST``) and a distributed job takes the first as its master's
    address, so the names must resolve, as real node names do, without editing /etc/hosts.

    ``gpus`` declares that many GPUs per node (``Gres=gpu:N``) backed by empty files standing in
    for /dev/nvidia*: Slurm schedules and accounts for them (``--gres=gpu:N`` is accepted, tasks
    see ``SLURM_GPUS_ON_NODE``), though no CUDA device exists behind them.
    """

    def __init__(self, nodes: int = 1, gpus: int = 0) -> None:
        if nodes < 1 or gpus < 0:
            raise ValueError(f"nodes={nodes} gpus={gpus}")
        self.gpus = gpus
        # slurm.conf cannot quote a path: under a TMPDIR with a space in it slurmctld stopped at
        # 'Parse error ... AuthInfo=socket=/tmp/my' and every Slurm test errored. /tmp then.
        base = tempfile.gettempdir()
        base = "/tmp" if any(c.isspace() for c in base) else base
        _sweep_abandoned(Path(base))
        self.dir = Path(tempfile.mkdtemp(prefix="asrkit-slurm-", dir=base))
        (self.dir / "owner.pid").write_text(f"{os.getpid()}\n")
        self.host = socket.gethostname().split(".")[0]
        self.nodes = [self.host] if nodes == 1 else [f"127.0.0.{i}" for i in range(1, nodes + 1)]
        self.conf = self.dir / "slurm.conf"
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        for key in [k for k in self.env if k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_"))]:
            if key != "SLURM_CONF":
                del self.env[key]

    # --- start -------------------------------------------------------------------------------
    def start(self, timeout_s: float = 300.0) -> "SlurmCluster":  # (bounds a hang: daemons start slowly under load)
        try:
            self._start_munge()
            self._write_conf()
            self._spawn("slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(self.conf)])
            for node in self.nodes:
                self._spawn(self._slurmd(node), [_which("slurmd"), "-D", "-f", str(self.conf), "-N", node])
            self._wait_idle(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_munge(self) -> None:
        key = self.dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.munge_socket = self.dir / "munge.socket"
        self._spawn("munged", [
            _which("munged"), "--foreground", "--force",
            f"--socket={self.munge_socket}", f"--key-file={key}", f"--pid-file={self.dir / 'munged.pid'}",
            f"--log-file={self.dir / 'munged.log'}", f"--seed-file={self.dir / 'munged.seed'}",
        ])
        _wait_for(lambda: self.munge_socket.exists(), 60, "munged socket", self._log_tail("munged"))

    def _slurmd(self, node: str) -> str:
        """The daemon's name in ``procs`` and in its log files' names."""
        return "slurmd" if len(self.nodes) == 1 else f"slurmd.{node}"

    def _write_conf(self) -> None:
        for sub in ("state", "spool"):
            (self.dir / sub).mkdir()
        hardware = self._hardware()
        gres_types = ""
        if self.gpus:
            for i in range(self.gpus):
                (self.dir / f"nvidia{i}").touch()
            # Without AutoDetect=off slurmd would look for NVML; the File= entries give the count.
            (self.dir / "gres.conf").write_text(f"AutoDetect=off\nName=gpu File={self.dir}/nvidia[0-{self.gpus - 1}]\n")
            hardware += f" Gres=gpu:{self.gpus}"
            gres_types = "GresTypes=gpu\n"
        if len(self.nodes) == 1:
            node_lines = f"NodeName={self.host} NodeAddr=127.0.0.1 {hardware} State=UNKNOWN"
            per_node = "SlurmdPidFile={d}/slurmd.pid\nSlurmdSpoolDir={d}/spool\nSlurmdLogFile={d}/slurmd.log"
        else:
            # %n is the node name: each slurmd needs its own pid file, spool dir and log.
            node_lines = "\n".join(f"NodeName={n} NodeHostname={self.host} NodeAddr={n} Port={_free_port()} "
                                   f"{hardware} State=UNKNOWN" for n in self.nodes)
            per_node = "SlurmdPidFile={d}/slurmd.%n.pid\nSlurmdSpoolDir={d}/spool/%n\nSlurmdLogFile={d}/slurmd.%n.log"
            for n in self.nodes:  # slurmd does not create its spool dir (it wants its domain sockets there)
                (self.dir / "spool" / n).mkdir()
        d = self.dir
        # The daemons run as whoever runs the tests: a cluster of root's (SlurmUser=root) stopped a
        # non-root user's run at slurmctld's 'Failed to set GID to 0'; one user's cluster runs
        # that user's jobs, which is all the tests submit.
        user = pwd.getpwuid(os.geteuid()).pw_name
        self.conf.write_text(f"""\
# Private test cluster ({len(self.nodes)} node(s) on one machine) written by tests/launch/slurm_cluster.py
ClusterName=asrkittest
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={d}/state
{per_node.format(d=d)}
{gres_types}SlurmctldPidFile={d}/slurmctld.pid
SlurmctldLogFile={d}/slurmctld.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
SchedulerParameters=sched_interval=1
MinJobAge=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
{node_lines}
PartitionName=debug Nodes={",".join(self.nodes)} Default=YES MaxTime=INFINITE State=UP
""")

    def _hardware(self) -> str:
        # slurmd -C reports this machine's real layout; memory is trimmed a little so the node
        # is never drained for having less than configured. Every node of a multi-node cluster
        # declares the whole machine: each slurmd checks its node against the real hardware.
        # Daemons talk over loopback (NodeAddr) even if the host name resolves elsewhere.
        out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
        fields = dict(f.split("=", 1) for f in out.splitlines()[0].split())
        fields.pop("NodeName", None)
        fields["RealMemory"] = str(int(int(fields.get("RealMemory", "2048")) * 0.9))
        return " ".join(f"{k}={v}" for k, v in fields.items())

    def _spawn(self, name: str, cmd: list[str]) -> None:
        out = open(self.dir / f"{name}.out", "wb")
        self.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self.env, cwd=self.dir, start_new_session=True,
                                            preexec_fn=_die_with_parent)
        out.close()

    def _wait_idle(self, timeout_s: float) -> None:
        def idle() -> bool:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self._log_tail(name)}")
            r = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T"], env=self.env, capture_output=True, text=True)
            states = dict(line.split() for line in r.stdout.splitlines() if line.strip())
            return r.returncode == 0 and all(states.get(n) == "idle" for n in self.nodes)

        _wait_for(idle, timeout_s, f"the Slurm node(s) {', '.join(self.nodes)} to be idle",
                  lambda: self._log_tail("slurmctld") + "".join(self._log_tail(self._slurmd(n)) for n in self.nodes))

    def _log_tail(self, name: str) -> str:
        text = ""
        for path in (self.dir / f"{name}.log", self.dir / f"{name}.out"):
            if path.exists():
                text += f"--- {path.name} ---\n" + path.read_text(errors="replace")[-2000:]
        return text

    # --- use ---------------------------------------------------------------------------------
    def run(self, *cmd: str, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(list(cmd), env=self.env, **kw)

    # --- stop --------------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel leftover jobs, stop slurmd, slurmctld, munged (by pid), remove the temp dir."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            subprocess.run(["scancel", "--full", "--partition=debug"], env=self.env, capture_output=True,
                           timeout=30)
            _wait_for(lambda: not self.run("squeue", "-h", "-o", "%i").stdout.strip(), 20, "jobs to end",
                      lambda: "", fail=False)
        for name in [*(self._slurmd(n) for n in self.nodes), "slurmctld", "munged"]:
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        _kill_stepds_under(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


def _kill_stepds_under(cluster_dir: Path) -> None:
    # slurmstepd detaches from slurmd; one still running holds files under its cluster's dir
    # open, which tells it apart from any other cluster's step daemons.
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            if not (pid_dir / "cmdline").read_bytes().startswith(b"slurmstepd"):
                continue
            ours = any(os.readlink(fd).startswith(str(cluster_dir)) for fd in (pid_dir / "fd").iterdir())
        except OSError:
            continue
        if ours:
            try:
                os.kill(int(pid_dir.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _sweep_abandoned(tmp: Path) -> None:
    """What a killed test run's clusters left: their daemons died with it (``_die_with_parent``),
    but job steps (slurmstepd detaches) and the temp dir stay. ``owner.pid`` says whose a dir
    is; a live owner's (another run's) is never touched."""
    for cluster_dir in tmp.glob("asrkit-slurm-*"):
        try:
            owner = int((cluster_dir / "owner.pid").read_text())
            os.kill(owner, 0)
            continue                                   # its run is alive
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue                                   # no owner file (or not ours to signal)
        _kill_stepds_under(cluster_dir)
        shutil.rmtree(cluster_dir, ignore_errors=True)


def _wait_for(pred, timeout_s: float, what: str, diagnostics, fail: bool = True) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    if fail:
        extra = diagnostics() if callable(diagnostics) else diagnostics
        raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{extra}")
    return False


if __name__ == "__main__":
    import sys

    ensure_installed()
    t0 = time.monotonic()
    cluster = SlurmCluster(*map(int, sys.argv[1:3])).start()
    print(f"cluster up in {time.monotonic() - t0:.1f} s; export SLURM_CONF={cluster.conf}")
    try:
        input("Enter (or end of input) stops it> ")
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        cluster.stop()
