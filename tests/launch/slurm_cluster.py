"""A private single-node Slurm cluster for tests: munged, slurmctld and slurmd in a temp dir.

Everything it starts lives under one temporary directory (config, munge key and socket, state,
spool, logs, pid files) and listens on free ports picked at start, so it does not touch a
system-wide Slurm or munge, nor another developer's cluster. Daemons run in the foreground as
children of the test process and are stopped by pid.

Used by the session fixture ``slurm_cluster`` in ``tests/launch/conftest.py``; also runnable by
hand to poke at a cluster::

    python tests/launch/slurm_cluster.py   # starts one, prints SLURM_CONF, stops on Enter
"""
from __future__ import annotations

import os
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


class SlurmCluster:
    """One node, one partition ``debug``; ``env`` holds SLURM_CONF for client commands."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="asrkit-slurm-"))
        self.host = socket.gethostname().split(".")[0]
        self.conf = self.dir / "slurm.conf"
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        for key in [k for k in self.env if k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_"))]:
            if key != "SLURM_CONF":
                del self.env[key]

    # --- start -------------------------------------------------------------------------------
    def start(self, timeout_s: float = 60.0) -> "SlurmCluster":
        try:
            self._start_munge()
            self._write_conf()
            self._spawn("slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(self.conf)])
            self._spawn("slurmd", [_which("slurmd"), "-D", "-f", str(self.conf), "-N", self.host])
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
        _wait_for(lambda: self.munge_socket.exists(), 10, "munged socket", self._log_tail("munged"))

    def _write_conf(self) -> None:
        node = self._node_line()
        for sub in ("state", "spool"):
            (self.dir / sub).mkdir()
        d = self.dir
        self.conf.write_text(f"""\
# Private single-node test cluster written by tests/launch/slurm_cluster.py
ClusterName=asrkittest
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
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
{node} State=UNKNOWN
PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")

    def _node_line(self) -> str:
        # slurmd -C reports this machine's real layout; memory is trimmed a little so the node
        # is never drained for having less than configured.
        out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
        fields = dict(f.split("=", 1) for f in out.splitlines()[0].split())
        fields["NodeName"] = self.host
        fields["NodeAddr"] = "127.0.0.1"  # daemons talk over loopback even if the name resolves elsewhere
        fields["RealMemory"] = str(int(int(fields.get("RealMemory", "2048")) * 0.9))
        return " ".join(f"{k}={v}" for k, v in fields.items())

    def _spawn(self, name: str, cmd: list[str]) -> None:
        out = open(self.dir / f"{name}.out", "wb")
        self.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self.env, cwd=self.dir, start_new_session=True)
        out.close()

    def _wait_idle(self, timeout_s: float) -> None:
        def idle() -> bool:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self._log_tail(name)}")
            r = subprocess.run(["sinfo", "-h", "-o", "%T", "-n", self.host], env=self.env, capture_output=True,
                               text=True)
            return r.returncode == 0 and r.stdout.strip() == "idle"

        _wait_for(idle, timeout_s, "the Slurm node to be idle",
                  lambda: self._log_tail("slurmctld") + self._log_tail("slurmd"))

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
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._kill_stray_stepds()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _kill_stray_stepds(self) -> None:
        # slurmstepd detaches from slurmd; one still running holds files under our dir open,
        # which tells it apart from any other cluster's step daemons.
        for pid_dir in Path("/proc").iterdir():
            if not pid_dir.name.isdigit():
                continue
            try:
                if not (pid_dir / "cmdline").read_bytes().startswith(b"slurmstepd"):
                    continue
                ours = any(os.readlink(fd).startswith(str(self.dir)) for fd in (pid_dir / "fd").iterdir())
            except OSError:
                continue
            if ours:
                try:
                    os.kill(int(pid_dir.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass


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
    ensure_installed()
    t0 = time.monotonic()
    cluster = SlurmCluster().start()
    print(f"cluster up in {time.monotonic() - t0:.1f} s; export SLURM_CONF={cluster.conf}")
    try:
        input("Enter (or end of input) stops it> ")
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        cluster.stop()
