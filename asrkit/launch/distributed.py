"""Distributed set-up from the launcher's environment: torchrun or Slurm's srun.

A training script calls :func:`detect_distributed` once; under ``torchrun`` it reads ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; under ``srun --ntasks=N`` it
reads ``SLURM_PROCID``, the step's task count and ``SLURM_LOCALID``, and takes the first host of
the job's node list as the master, with a port derived from the job id so that every task
computes the same address without talking to the others. ``MASTER_ADDR``/``MASTER_PORT`` in the
environment override the Slurm-derived values (e.g. when the first node's name does not resolve).

Example::

    >>> info = detect_distributed({"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_LOCALID": "1",
    ...                            "SLURM_STEP_ID": "0", "SLURM_JOB_NODELIST": "gpu[07-08]",
    ...                            "SLURM_JOB_ID": "4242"})
    >>> info.rank, info.world_size, info.master_addr, info.master_port
    (1, 2, 'gpu07', 16242)
"""
from __future__ import annotations

import contextlib
import gc
import os
import re
import sys
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable, Iterator, Mapping, Optional

from asrkit.data.table import ascii_int
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger

logger = get_logger(__name__)

# Derived ports stay below the Linux ephemeral range (32768-60999), so a port picked from the
# job id does not collide with an outgoing connection's port on a busy node.
SLURM_PORT_BASE = 12000
SLURM_PORT_SPAN = 20000
# How many ports rank 0 tries, in an order every rank derives alike (rendezvous_ports), when the
# port it was given is taken and was a launcher's pick, not the user's MASTER_PORT.
RENDEZVOUS_PORT_TRIES = 8
# Set by asrkit-launch --ntasks for its tasks beside torchrun's variables: MASTER_PORT is its
# pick (found free, then let go) and this names the job's rendezvous.
RENDEZVOUS_ID_VAR = "ASRKIT_RENDEZVOUS_ID"


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in a distributed run."""

    rank: int
    local_rank: int
    world_size: int
    master_addr: str
    master_port: int
    # Where the ranks came from, when the environment may be stale (not torchrun's own): said when a
    # rank waits for ranks that do not come, with how to train as one process instead.
    origin: str = field(default="", compare=False)
    # Names this run's rendezvous when its port was picked for it (asrkit-launch's, or derived
    # from the Slurm job id) rather than given by the user: rank 0 then moves to another port of
    # rendezvous_ports() when that one is taken, and the other ranks join only a store that
    # holds this name. Empty: the port is the user's, used as it is.
    rendezvous_id: str = field(default="", compare=False)

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs, writes checkpoints and plots."""
        return self.rank == 0


def detect_distributed(env: Optional[Mapping[str, str]] = None, local_processes: int = 1) -> Optional[DistInfo]:
    """Read torchrun's or srun's environment; ``None`` when this is a single process.

    torchrun's variables win when both are present (torchrun started inside a Slurm job).
    A world size of 1 counts as not distributed, so ``srun --ntasks=1`` or a plain ``sbatch``
    job trains exactly like a local run. Slurm's variables count only inside an srun step
    (``SLURM_STEP_ID`` set): a batch script has ``SLURM_PROCID=0`` and ``SLURM_NTASKS=N`` but
    is a single process. Half of torchrun's pair (RANK or WORLD_SIZE alone) outside an srun step
    is an error unless it says a single process (RANK=0, WORLD_SIZE=1). ``local_processes``: how
    many processes the caller starts on this machine when not distributed (``asrkit-train --ngpu
    N``), for the warning of a batch script without srun.
    """
    env = os.environ if env is None else env
    slurm_step = "SLURM_PROCID" in env and ("SLURM_STEP_ID" in env or "SLURM_STEP_NUM_TASKS" in env)
    if "RANK" in env and "WORLD_SIZE" in env:
        info = _from_torchrun(env)
    elif slurm_step:
        info = _from_slurm(env)
    elif ("RANK" in env) != ("WORLD_SIZE" in env):
        _refuse_half_torchrun(env)
        return None
    elif "SLURM_PROCID" in env and env.get("SLURM_NTASKS") and _int(env, "SLURM_NTASKS") > 1:
        # An sbatch script with --ntasks=N but no srun: only one process exists, and waiting
        # for N-1 peers would hang until the rendezvous times out.
        # (--ngpu N starts N processes here: "training as one process" was untrue of them)
        how = ("as one process" if local_processes <= 1 else
               f"in the {local_processes} processes --ngpu {local_processes} starts on this node, not as the job's tasks")
        logger.warning("SLURM_NTASKS=%s but not started by srun (no SLURM_STEP_ID): training %s; run "
                       "`srun asrkit-train ...` for one task per GPU", env["SLURM_NTASKS"], how)
        return None
    elif "SLURM_PROCID" not in env and (env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")) and \
            (ascii_int(env.get("SLURM_NTASKS", "").strip()) or 0) > 1:
        # The batch script's twin: an `salloc -n 4` shell (Slurm's variables, no task of its own)
        # trained alone without a word, on the host salloc ran on, not on the allocated nodes.
        # A SLURM_NTASKS that is no number is not refused: this process trains alone whatever it
        # says, as it did before this warning.
        job = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
        how = ("as one process" if local_processes <= 1 else
               f"in the {local_processes} processes --ngpu {local_processes} starts")
        logger.warning("SLURM_NTASKS=%s of Slurm job %s, but not started by srun (no SLURM_PROCID: an salloc shell?): "
                       "training %s here on %s, not as the job's tasks on %s; run `srun asrkit-train ...` in it "
                       "for one task per GPU", env["SLURM_NTASKS"], job, how, _hostname(),
                       env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST") or "its nodes")
        return None
    else:
        return None
    if info.world_size <= 1:
        return None
    return info


def init_distributed(info: DistInfo, backend: Optional[str] = None, timeout_s: float = 1800.0) -> str:
    """Join the process group described by ``info``; returns the backend used.

    ``backend=None`` picks ``nccl`` when CUDA is available (and binds this process to GPU
    ``local_rank``) and ``gloo`` otherwise.
    """
    import torch
    import torch.distributed as dist

    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        n_gpus = torch.cuda.device_count()
        if info.local_rank >= n_gpus:
            raise AsrkitError(
                f"local rank {info.local_rank} has no GPU: this node shows {n_gpus} "
                "(ask for as many GPUs per node as tasks per node, e.g. srun --gpus-per-task=1)"
            )
        torch.cuda.set_device(info.local_rank)
    # Imported before the group exists: its functions take ``group=group.WORLD`` as a default
    # argument, evaluated at import, and DDP imports it; imported later, ten defaults held the
    # group to the interpreter's exit, past destroy_process_group (see leave_distributed).
    import torch.distributed.nn.functional  # noqa: F401

    dist.init_process_group(
        backend=backend,
        store=_join(info, timeout_s),
        rank=info.rank,
        world_size=info.world_size,
        timeout=timedelta(seconds=timeout_s),
    )
    return backend


# How long one attempt to reach rank 0's store may block in C++, where no signal handler runs.
_CONNECT_TRY_S = 2.0
# When a rank waiting for the others says so again (seconds since it began to wait).
_WAIT_NOTES_S = (10.0, 60.0, 300.0)


def _join(info: DistInfo, timeout_s: float):
    """Rank 0's key-value store (hosted by rank 0, or under torchrun by its agent) once every rank
    has reached it; an AsrkitError naming the cause when that cannot be.

    torch's own tcp:// rendezvous (init_process_group's init_method) waited for the missing ranks
    inside one C++ call of up to ``timeout_s`` (30 min): without a word (WORLD_SIZE=3 with two
    processes started), deaf to Ctrl-C and SIGTERM (Python runs its handlers only between its own
    steps; ``timeout 60 asrkit-train`` ran on), and a MASTER_ADDR that does not resolve was a
    warning every second for those 30 min. Here each blocking step is short, the waiting happens
    in Python (signals end it), is said, and ends in one line naming the missing ranks."""
    import socket
    import time

    import torch.distributed as dist

    host, world = info.master_addr, info.world_size
    where = f"{_bracket_ipv6(host)}:{info.master_port}"
    deadline = time.monotonic() + timeout_s
    # torchrun's agent hosts the store at its MASTER_ADDR:MASTER_PORT (its rank 0 only a client)
    agent = (os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True" and os.environ.get("MASTER_ADDR") == host
             and os.environ.get("MASTER_PORT") == str(info.master_port))
    hosts = not agent and info.rank == 0
    # A picked port may be taken by the time rank 0 binds it (asrkit-launch lets it go for its
    # command to bind, and a Slurm job id's port is another job's 20000 ids on): rank 0 then moves
    # to the next of the ports every rank derives alike, and marks its store with the rendezvous's
    # name, so that a rank never joins another training's store found at a port (it counted
    # itself among that training's ranks). Not torchrun's agent's store, bound before its ranks
    # start and never marked (a name inherited from an asrkit-launch task around torchrun).
    named = bool(info.rendezvous_id) and not agent
    ports = rendezvous_ports(info.master_port, info.rendezvous_id) if named else [info.master_port]
    mark = f"asrkit/rendezvous/{info.rendezvous_id}" if named else None
    full = timedelta(seconds=timeout_s)
    if hosts:
        store, port = _host_store(host, ports, world, full, mark)
        where = f"{_bracket_ipv6(host)}:{port}"
    else:
        waiting_since = time.monotonic()
        # Said once rank 0 has not answered for a connection try's time (a rank started a moment
        # before rank 0, as asrkit-train --ngpu's and hand-started ranks often are, says nothing),
        # then at the wait notes' times with where the ranks came from when that may be stale.
        notes = [_CONNECT_TRY_S, *_WAIT_NOTES_S]
        unanswered: dict = {}  # (_reach_store's connections still waiting, by port)
        while True:
            _resolve(host, info.master_port)
            # Knocked at with a plain socket first: TCPStore's client, finding no one, printed a C++
            # "client socket has timed out" stack dump (30 frames) every 2 s of the wait, and its own
            # retry back-off ran past the deadline (timeout_s=4 ended after 8-12 s).
            try:
                store, port = _reach_store(host, ports, world, mark, deadline, unanswered)
                where = f"{_bracket_ipv6(host)}:{port}"
                break
            except (OSError, RuntimeError) as e:  # (refused; DistNetworkError, DistStoreError: not there yet)
                if time.monotonic() >= deadline:
                    moved = f", nor at the ports rank 0 moves to ({', '.join(map(str, ports[1:]))})" if ports[1:] else ""
                    raise AsrkitError(f"rank {info.rank} of {world}: nothing answered at {where} (MASTER_ADDR:"
                                      f"MASTER_PORT){moved} within {timeout_s:.0f} s: rank 0 did not start, or failed "
                                      f"(its log says why), or listens elsewhere (last tries: {_first_line(e)})"
                                      f"{f'; {info.origin}' if info.origin else ''}") from None
                time.sleep(max(0.0, min(_KNOCK_PAUSE_S, deadline - time.monotonic())))
            waited = time.monotonic() - waiting_since
            if notes and waited >= notes[0]:
                first = notes[0] == _CONNECT_TRY_S
                while notes and waited >= notes[0]:
                    notes.pop(0)
                logger.warning("rank %d of %d: rank 0 does not answer at %s yet; waiting for it (up to %.0f s)%s",
                               info.rank, world, where, timeout_s,
                               f" ({info.origin})" if info.origin and not first else "")
        store.set_timeout(full)
    # A count of its own, as torchrun's store outlives a restarted attempt's ranks.
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")  # (torchrun's restarts; 0 for any other launcher)
    joined = dist.PrefixStore(f"asrkit/attempt{attempt}/", store)
    joined.set(f"rank{info.rank}", socket.gethostname())
    joined.add("joined", 1)
    began = time.monotonic()
    notes = list(_WAIT_NOTES_S)
    logger.info("rank %d of %d: joining the other ranks at %s", info.rank, world, where)
    while True:
        n = joined.add("joined", 0)
        if n >= world:
            # The group's own keys under this attempt's name too: torchrun's store outlives a
            # restarted attempt, whose gloo connected to the dead attempt's addresses ("Connection
            # refused") or waited in init_process_group past its timeout (7 restarts in 12 failed).
            return dist.PrefixStore(f"/worker/attempt_{attempt}", store) if agent else store
        now = time.monotonic()
        if now >= deadline or (notes and now - began >= notes[0]):
            missing = [r for r in range(world) if not joined.check([f"rank{r}"])]
            said = (f"{n} of {world} ranks (WORLD_SIZE={world}) have joined at {where}; "
                    f"missing: rank{'s' if len(missing) > 1 else ''} {_ranks(missing)}")
            origin = f" ({info.origin})" if info.origin else ""
            if now >= deadline:
                raise AsrkitError(f"rank {info.rank}: {said}, after {timeout_s:.0f} s: start as many processes "
                                  f"as WORLD_SIZE says, or check the missing ones' logs{origin}")
            while notes and now - began >= notes[0]:
                notes.pop(0)
            logger.warning("rank %d: %s; waiting (up to %.0f s in all)%s", info.rank, said, timeout_s, origin)
        time.sleep(0.05)


def rendezvous_ports(first: int, rendezvous_id: str, tries: int = RENDEZVOUS_PORT_TRIES) -> list[int]:
    """The ports a rendezvous named ``rendezvous_id`` may be at, in the order rank 0 tries them:
    ``first``, then ports derived from the name (the same in every rank, on every node) in the
    Slurm range, below the ephemeral ports."""
    ports, i = [first], 0
    while len(ports) < tries:
        port = SLURM_PORT_BASE + zlib.crc32(f"{rendezvous_id}/{i}".encode()) % SLURM_PORT_SPAN
        i += 1
        if port not in ports:
            ports.append(port)
    return ports


def _host_store(host: str, ports: list, world: int, timeout: timedelta, mark: Optional[str]):
    """Rank 0's store at the first of ``ports`` it can bind, marked with ``mark``; (store, port)."""
    import torch.distributed as dist

    for i, port in enumerate(ports):
        where = f"{_bracket_ipv6(host)}:{port}"
        try:
            store = dist.TCPStore(host, port, world, is_master=True, timeout=timeout, wait_for_workers=False,
                                  multi_tenant=True)
        except RuntimeError as e:
            if "EADDRINUSE" in str(e) or "address already in use" in str(e):
                if len(ports) == 1:
                    raise AsrkitError(f"rank 0 cannot open the training's rendezvous at {where}: port {port} is in "
                                      f"use (another training's? set MASTER_PORT to a free port)") from None
                if i + 1 < len(ports):
                    logger.warning("rank 0: port %d is in use (another program's, or another job's); the "
                                   "rendezvous moves to port %d", port, ports[i + 1])
                    continue
                raise AsrkitError(f"rank 0 cannot open the training's rendezvous at {_bracket_ipv6(host)}: ports "
                                  f"{', '.join(map(str, ports))} are all in use (set MASTER_PORT to a free port)"
                                  ) from None
            if "EADDRNOTAVAIL" in str(e) or "assign requested address" in str(e):
                raise AsrkitError(f"rank 0 cannot open the training's rendezvous at {where}: {host} is not an "
                                  f"address of this machine (MASTER_ADDR must name the node rank 0 runs on)") from None
            raise
        if mark is not None:
            store.set(mark, "rank 0")
        return store, port
    raise AssertionError("no port to try")  # (ports is never empty)


def _reach_store(host: str, ports: list, world: int, mark: Optional[str], deadline: float, unanswered: dict):
    """(store, port): rank 0's store at the first of ``ports`` that answers and, with a ``mark``,
    holds it; an OSError when none does yet, saying what each port met (:func:`_tried`).
    ``unanswered``: the ports where something took the connection but did not answer as a store,
    as (when, the connection's thread), kept between calls (_connect_store says why)."""
    import time

    failures: dict = {}
    for port in ports:
        try_s = max(0.1, min(_CONNECT_TRY_S, deadline - time.monotonic()))
        try:
            try:
                _knock(host, port, try_s)
            except OSError:
                unanswered.pop(port, None)  # (what listened there has gone: rank 0 may come)
                raise
            when, thread = unanswered.get(port, (None, None))
            if thread is not None and thread.is_alive() or when is not None and \
                    time.monotonic() - when < _UNANSWERED_RETRY_S:
                raise OSError(f"something at port {port} takes connections but does not answer as a store")
            store, marked = _connect_store(host, port, world, mark, try_s, unanswered)
            if marked:
                return store, port
            del store  # another training's store, or rank 0's before it marked it: not joined
            failures[port] = OSError(f"port {port} is another rendezvous's")
        except (OSError, RuntimeError) as e:  # (refused; DistNetworkError, DistStoreError: not there yet)
            failures[port] = e
    raise OSError(_tried(failures))


def _tried(failures: dict) -> str:
    """What each port's try met, in brief, ports that met the same named together: the timeout's
    error quoted the last port's alone, where rank 0 may have been kept from the first by another."""
    by_reason: dict = {}
    for port, e in failures.items():
        by_reason.setdefault(_first_line(e), []).append(port)
    return "; ".join(reason if len(ports) == 1 and f"port {ports[0]}" in reason else
                     f"port{'s' if len(ports) > 1 else ''} {', '.join(map(str, ports))}: {reason}"
                     for reason, ports in by_reason.items()) or "no port to try"


def _connect_store(host: str, port: int, world: int, mark: Optional[str], try_s: float, unanswered: dict):
    """(store, whether it holds ``mark``, True without one): a client of the store at ``host:port``.

    Connected in a thread of its own: TCPStore's client waits for its handshake's answer without
    the bound of its timeout, and a program listening at the port that does not answer (an HTTP
    server waiting for its request, anything but a store) held the rank there for good (measured:
    more than 150 s with a 2 s timeout, torch 2.14), as rank 0 moved on from that port and waited
    for it. Such a connection is shut down after the try's time (and some), and the port is put in
    ``unanswered``: passed over for a while (torch prints a stack dump of each such connection),
    and while its thread waits where the connection could not be shut down."""
    import threading
    import time

    import torch.distributed as dist

    got: dict = {}

    def connect() -> None:
        try:
            # wait_for_workers=False: a client that waits adds itself to the store's count of workers,
            # a key written into another training's store
            store = dist.TCPStore(host, port, world, is_master=False, timeout=timedelta(seconds=try_s),
                                  wait_for_workers=False)
            got["store"] = store, mark is None or store.check([mark])
        except (OSError, RuntimeError) as e:
            got["error"] = e

    thread = threading.Thread(target=connect, name=f"asrkit-rendezvous-{port}", daemon=True)
    thread.start()
    thread.join(try_s + _ANSWER_GRACE_S)
    if thread.is_alive():
        logger.warning("something at %s:%d takes connections but does not answer as a store (another "
                       "program's?): not rank 0's; passed over", _bracket_ipv6(host), port)
        # Its connection shut down from here, the client gives up and the thread ends while Python
        # runs: one still waiting at the interpreter's exit aborted it when the listener closed then
        # ('terminate called without an active exception', exit 134, after a finished training).
        _shut_down_connections(host, port)
        thread.join(_ANSWER_GRACE_S)
        unanswered[port] = time.monotonic(), thread
        raise OSError(f"something at port {port} takes connections but does not answer as a store "
                      f"(within {try_s:.0f} s)")
    if "error" in got:
        raise got["error"]
    return got["store"]


# Beyond a connection try's time, what a store's answer may take on a loaded machine.
_ANSWER_GRACE_S = 2.0
# How long a port found so is passed over while something still listens there.
_UNANSWERED_RETRY_S = 60.0


def _shut_down_connections(host: str, port: int) -> None:
    """Shut down this process's TCP connections to ``host:port`` (Linux's /proc/self/fd lists
    them): a thread blocked reading from one returns."""
    import socket

    try:
        addrs = {_plain_ip(a[4][0]) for a in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return
    for fd in fds:
        try:
            sock = socket.socket(fileno=os.dup(int(fd)))  # (the duplicate is closed, the connection shut down)
        except (OSError, ValueError):  # (not a socket, or closed since)
            continue
        with sock:
            try:
                peer = sock.getpeername()
                if (sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM
                        and peer[1] == port and _plain_ip(peer[0]) in addrs):
                    sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # (not connected)
                continue


def _plain_ip(addr: str) -> str:
    """``addr`` as written for comparison: an IPv4-mapped IPv6 address as its IPv4 address."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


# Between two knocks at a port that refused (a refusal is at once: without a pause the wait spins).
_KNOCK_PAUSE_S = 0.2


def _knock(host: str, port: int, timeout_s: float) -> None:
    """Return once something accepts a connection at ``host:port``; OSError (refused, timed out)
    when nothing does. The connection is closed unused: TCPStore's server takes that silently."""
    import socket

    with socket.create_connection((host, port), timeout=timeout_s):
        pass


def _resolve(host: str, port: int) -> None:
    import socket

    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        # A temporary failure (EAI_AGAIN) is waited out as an absent rank 0 is; a name that does
        # not exist will not come to, and torch retried it, a warning a second, for 30 min.
        if e.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            raise AsrkitError(f"MASTER_ADDR {host!r} does not resolve ({e.strerror}): set MASTER_ADDR to the "
                              f"name or address of the node rank 0 runs on") from None


def _hostname() -> str:
    import socket

    return socket.gethostname().split(".")[0]


def _ranks(ranks: list) -> str:
    shown = ", ".join(map(str, ranks[:10]))
    return shown + (f" and {len(ranks) - 10} more" if len(ranks) > 10 else "")


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def peer_failure(e: BaseException, rank: int, world: int) -> Optional[str]:
    """The one line for a collective that failed because another rank is gone (``None`` for any
    other error): the rank that failed says why itself; its peers printed gloo's
    "Connection closed by peer" traceback, longer and later than that rank's own error, and a
    launcher's summary took it for the cause."""
    import torch.distributed as dist

    text = str(e)
    if not dist.is_available() or not dist.is_initialized():
        return None
    # gloo's transport errors are plain RuntimeErrors, their source file named first
    if not (isinstance(e, dist.DistError) or "gloo/transport" in text or "Connection closed by peer" in text
            or "Connection reset by peer" in text):
        return None
    detail = re.sub(r"^\[[^\]]*\]\s*", "", _first_line(e))  # gloo's [.../pair.cc:561]
    detail = detail.split(". This is typically caused")[0]
    return (f"rank {rank} of {world}: stopped, as another rank left the training or stopped answering "
            f"({detail}); that rank's own error, above or in its log, says why")


def leave_distributed() -> None:
    """Wait for every rank, leave the process group, and end its gloo threads before Python exits.

    destroy_process_group() only unregisters the group; the group, and gloo's worker threads with
    it, live on while anything refers to it: torch.distributed.nn's default arguments did (see
    init_distributed), and rank 0's DDP wrapper, in a cycle with the trainer and the run record,
    until a collection. The group then went with the interpreter's exit, where the worker thread that
    frees the last collective (the barrier, holding the broadcast before it) needs the GIL, which
    a finalizing Python no longer gives: the thread is ended, C++ aborts the process ("terminate
    called without an active exception", SIGABRT) after a finished training, about 3 of 400 2-rank
    trainings here (1 in 4 for a bare gloo+DDP script). Collected now, the group's destructor joins its threads while Python still runs.
    Call it after the training's own frames are gone (they hold the DDP wrapper itself)."""
    import torch.distributed as dist

    if not dist.is_initialized():
        return
    dist.barrier()
    _end_group(broken_ok=False)


def abandon_distributed() -> None:
    """Leave the process group after a failure, without leave_distributed's barrier: a rank
    waiting for this one in a collective hears at once that it is gone (and stops, saying so),
    and the group's gloo threads end while Python runs, not in its exit (see leave_distributed).
    Call it once the failed training's frames, and its exception's, are gone."""
    _end_group(broken_ok=True)


def _end_group(broken_ok: bool) -> None:
    """Unregister the group and collect it now, so that its destructor joins gloo's threads while
    Python still runs (see leave_distributed); ``broken_ok``: a group already broken by a failure
    is ended all the same."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        try:
            dist.destroy_process_group()
        except RuntimeError:
            if not broken_ok:
                raise
    gc.collect()


# How long a terminating signal may go unheard while the main thread waits in a collective
# before the watch ends the process: under asrkit-launch's 5 s before its SIGKILL (torchrun's
# and Slurm's KillWait are 30 s).
SIGNAL_GRACE_S = 3.0
# Less CPU than this (s) in the main thread over the grace is waiting, not computing.
_WAITING_CPU_S = 0.2


@contextlib.contextmanager
def signals_heard_in_collectives(say: Callable[[str], None]) -> Iterator[None]:
    """End the process when SIGTERM, SIGINT or SIGHUP cannot reach the main thread: it waits in a
    collective for a rank that is alive but does not answer (stopped, swapping). (nccl's waits are
    mostly in CUDA calls outside any collective: not covered.)

    Python runs a signal's handler in the main thread between its own steps; one waiting in gloo
    for a stopped peer heard nothing until gloo's timeout (30 min), so a launcher's SIGKILL came
    first and the rank died without a word (measured: SIGTERM to rank 0 with rank 1 SIGSTOPped,
    still running 30 s on). C's handler still writes the signal's number to the wake-up fd at
    once: a thread reads it, and if the main thread is still in a collective (or DDP's backward,
    which waits on the all-reduce) ``SIGNAL_GRACE_S`` later, using no CPU, it ``say``s one line
    and ends the process by the signal (:func:`_die_by`; the group cannot be left from here: gloo
    holds it in the main thread's call; the exp dir's lock is the kernel's, dropped with the
    process). A main thread that takes the signal unwinds as before."""
    import signal
    import socket
    import threading
    import time

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    heard, tell = socket.socketpair()
    tell.setblocking(False)
    try:
        previous = signal.set_wakeup_fd(tell.fileno(), warn_on_full_buffer=False)
    except ValueError:  # (not the main thread of the main interpreter)
        heard.close()
        tell.close()
        yield
        return
    done = threading.Event()
    main = threading.main_thread().ident
    clock = time.pthread_getcpuclockid(main)
    terminating = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}

    def watch() -> None:
        while not done.is_set():
            try:
                got = heard.recv(64)
            except OSError:
                return
            if not got:  # (shut down: the training is over)
                return
            signums = [n for n in got if n in terminating]
            if not signums:
                continue
            cpu = time.clock_gettime(clock)
            if done.wait(SIGNAL_GRACE_S):
                return
            where = _collective_of(sys._current_frames().get(main))
            if where is None or time.clock_gettime(clock) - cpu > _WAITING_CPU_S:
                continue  # (computing, or taking the signal: its handler runs)
            say(f"{signal.Signals(signums[0]).name} while waiting for the other ranks in {where} for "
                f"{SIGNAL_GRACE_S:.0f} s: a rank that neither answers nor ends (stopped? its log says)")
            _die_by(signums[0])

    thread = threading.Thread(target=watch, name="asrkit-signal-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        signal.set_wakeup_fd(previous)
        heard.shutdown(socket.SHUT_RDWR)
        thread.join(5)
        heard.close()
        tell.close()


def _die_by(signum: int) -> None:
    """End the process by ``signum`` from a thread that is not the main one, as every asrkit command
    ends by the signal that stopped it (cli._common.EndBySignal): an exit 128 + n told the shell
    waiting for the rank that it had ended on its own. Python lets only the main thread set a
    handler, and its own handler there would only note the signal again for the stuck main
    thread: the default action is put back through libc. Where that fails, the exit status says it."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.signal.restype = ctypes.c_void_p
        libc.signal.argtypes = (ctypes.c_int, ctypes.c_void_p)
        if libc.signal(signum, None) != ctypes.c_void_p(-1).value:  # (None: SIG_DFL, 0; -1: SIG_ERR)
            os.kill(os.getpid(), signum)
    except (OSError, AttributeError):  # (no libc to ask)
        pass
    os._exit(128 + signum)


def _collective_of(frame) -> Optional[str]:
    """The torch.distributed call (or autograd's backward, waiting on DDP's all-reduce) the stack of
    ``frame`` is in; None when it is in none.

    Backward counts only in a gloo group: a CPU backward runs in the calling thread, so one using no
    CPU waits on the all-reduce; a CUDA backward runs on autograd's device threads while the main
    thread idles, and one still computing 3 s after a SIGTERM would have been taken for a wait."""
    while frame is not None:
        path = frame.f_code.co_filename.replace(os.sep, "/")
        if "/torch/distributed/" in path:
            return f"torch.distributed's {frame.f_code.co_name}()"
        if "/torch/autograd/" in path and "backward" in frame.f_code.co_name:
            return "backward() (DDP's all-reduce)" if _gloo_group() else None
        frame = frame.f_back
    return None


def _gloo_group() -> bool:
    import torch.distributed as dist

    try:
        return dist.is_initialized() and dist.get_backend() == "gloo"
    except (RuntimeError, ValueError):  # (the group going away meanwhile)
        return False


def _refuse_half_torchrun(env: Mapping[str, str]) -> None:
    """RANK without WORLD_SIZE, or the other way round, outside an srun step: torchrun sets both,
    so the other was lost (a launcher script's typo, an ``export`` left out). Taken as a single
    process, every copy trained alone as rank 0 (WORLD_SIZE=4 without RANK: four runs writing
    the same checkpoints), or rank 1 trained alone as the main process; one that says a single
    process all the same (RANK=0, WORLD_SIZE=1) is let be."""
    given, missing = ("RANK", "WORLD_SIZE") if "RANK" in env else ("WORLD_SIZE", "RANK")
    value = _int(env, given)
    if (given == "RANK" and value != 0) or (given == "WORLD_SIZE" and value != 1):
        raise AsrkitError(f"{given}={env[given]} is set but {missing} is not: torchrun sets both (set {missing} too, "
                          f"or unset {given} for a single process)")


def _from_torchrun(env: Mapping[str, str]) -> DistInfo:
    rank = _int(env, "RANK")
    world_size = _int(env, "WORLD_SIZE")
    local_rank = _int(env, "LOCAL_RANK") if "LOCAL_RANK" in env else rank
    # Trusted, as ESPnet trusts them (a hand-started multi-node run sets them so), but a lone
    # process with RANK/WORLD_SIZE left from an earlier job waits for ranks that never come.
    origin = "" if "TORCHELASTIC_RUN_ID" in env else (
        f"RANK={rank} and WORLD_SIZE={world_size} in the environment, not torchrun's: where no launcher started this "
        f"process with its peers (left from an earlier job, or exported), unset them to train as one process")
    return _checked(rank, local_rank, world_size, env.get("MASTER_ADDR", "127.0.0.1"),
                    _int(env, "MASTER_PORT") if "MASTER_PORT" in env else 29500, origin,
                    env.get(RENDEZVOUS_ID_VAR, "").strip())


def _from_slurm(env: Mapping[str, str]) -> DistInfo:
    rank = _int(env, "SLURM_PROCID")
    # SLURM_NTASKS is the allocation's task count; inside `srun -n K` within a larger
    # allocation the step has K tasks, and only those join the group.
    world_key = "SLURM_STEP_NUM_TASKS" if "SLURM_STEP_NUM_TASKS" in env else "SLURM_NTASKS"
    if world_key not in env:  # (was a KeyError traceback)
        raise AsrkitError("Slurm task without SLURM_STEP_NUM_TASKS or SLURM_NTASKS: cannot tell the number of "
                          "tasks (srun sets them: started by hand with SLURM_PROCID set?)")
    world_size = _int(env, world_key)
    local_rank = _int(env, "SLURM_LOCALID") if "SLURM_LOCALID" in env else 0
    if "MASTER_ADDR" in env:
        master_addr = env["MASTER_ADDR"]
    else:
        nodelist = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
        if not nodelist:
            raise AsrkitError("Slurm task without SLURM_JOB_NODELIST: cannot tell the master node "
                              "(set MASTER_ADDR)")
        master_addr = first_host(nodelist)
    rendezvous_id = ""
    if "MASTER_PORT" in env:
        master_port = _int(env, "MASTER_PORT")
    else:
        job_id = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
        if not job_id:
            raise AsrkitError("Slurm task without SLURM_JOB_ID: cannot derive the master port (set MASTER_PORT)")
        master_port = slurm_port(_int({"SLURM_JOB_ID": job_id}, "SLURM_JOB_ID"))
        # (the step too: a batch script's second srun is a rendezvous of its own)
        rendezvous_id = f"slurm-{job_id.strip()}.{env.get('SLURM_STEP_ID', '').strip()}"
    # An `srun -n2 --pty bash` shell has them too, for every command typed in it.
    origin = (f"SLURM_PROCID={rank} and {world_key}={world_size}, an srun step's: where this is none of its "
              f"tasks (a command typed in an `srun --pty` shell), unset SLURM_PROCID to train as one process")
    return _checked(rank, local_rank, world_size, master_addr, master_port, origin, rendezvous_id)


def reserve_port(host: str = "127.0.0.1") -> "socket.socket":
    """A port for a rendezvous on this machine, held: a bound socket (SO_REUSEADDR, not listening)
    whose ``getsockname()[1]`` is the port; keep it open until the ranks are done with the port.
    Needed by asrkit-train --ngpu, which picks MASTER_PORT for the torch ranks it starts. Not by
    asrkit-launch --ntasks: its command may be anyone's, and a server binding MASTER_PORT without
    SO_REUSEADDR (a plain socket, socketserver.TCPServer) is refused a held port (EADDRINUSE).

    A port found free and let go (bind to 0, close) was free for anyone until rank 0 bound it a
    second or more later: two launches at once could get the same one, and an outgoing
    connection could take it; a rank 1 could then join the other training's store. Held, the
    kernel gives it to no other bind to port 0 nor connect(), while rank 0's server (TCPStore,
    which sets SO_REUSEADDR as torchrun's agent store and most servers do) may still listen on
    it, as Linux lets sockets that all set SO_REUSEADDR share a port while none of the others listens."""
    import socket

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, 0))
    except BaseException:
        s.close()
        raise
    return s


def slurm_port(job_id: int) -> int:
    """The rendezvous port every task of job ``job_id`` agrees on without communicating."""
    return SLURM_PORT_BASE + job_id % SLURM_PORT_SPAN


_BRACKET = re.compile(r"\[([^\]]*)\]")


def first_host(nodelist: str) -> str:
    """First host of a Slurm hostlist expression: ``gpu[07-08,11],cpu3`` -> ``gpu07``.

    Handles several bracket groups (``rack[1-2]-n[01-04]`` -> ``rack1-n01``) and keeps the
    zero padding of ranges, as ``scontrol show hostnames`` does.
    """
    first = _split_top_level(nodelist.strip())[0].strip()
    if not first:
        raise AsrkitError(f"empty Slurm node list {nodelist!r}")

    def first_of_group(match: re.Match) -> str:
        item = match.group(1).split(",")[0].strip()
        lo = item.split("-")[0].strip()
        if not (lo.isascii() and lo.isdigit()):  # not '٠٧': a host name is ASCII
            raise AsrkitError(f"cannot parse Slurm node list {nodelist!r}: bad range {match.group(0)!r}")
        return lo

    host = _BRACKET.sub(first_of_group, first)
    if "[" in host or "]" in host:
        raise AsrkitError(f"cannot parse Slurm node list {nodelist!r}: unbalanced brackets")
    return host


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _int(env: Mapping[str, str], key: str) -> int:
    # ASCII digits, as Slurm and torchrun write them: int() read RANK='١' as 1 and '1_0' as 10
    value = env[key]
    number = ascii_int(value.strip())
    if number is None:
        raise AsrkitError(f"environment variable {key}={value!r} is not an integer")
    return number


def _checked(rank: int, local_rank: int, world_size: int, master_addr: str, master_port: int,
             origin: str = "", rendezvous_id: str = "") -> DistInfo:
    if world_size < 1:
        raise AsrkitError(f"world size {world_size} must be at least 1")
    if not 0 <= rank < world_size:
        raise AsrkitError(f"rank {rank} outside world size {world_size}")
    if local_rank < 0:
        raise AsrkitError(f"local rank {local_rank} must be non-negative")
    if not master_addr.strip():  # "tcp://:29500" (an exported but empty MASTER_ADDR) is no address
        raise AsrkitError("the master address is empty (MASTER_ADDR set to ''?)")
    if not 0 < master_port < 65536:
        raise AsrkitError(f"master port {master_port} is not a TCP port")
    return DistInfo(rank, local_rank, world_size, master_addr, master_port, origin, rendezvous_id)


def _bracket_ipv6(addr: str) -> str:
    return f"[{addr}]" if ":" in addr and not addr.startswith("[") else addr
