"""asrkit-launch: run a command, or JOB=1:N pieces of it, locally or on Slurm (run.pl / slurm.pl)."""
from __future__ import annotations

import re

import click

from asrkit.cli._common import AsrkitCommand, asrkit_command, refuse_empty_name
from asrkit.data.table import ascii_int
from asrkit.launch.job import Launch, join_command, parse_job_range, refuse_range_as_option_value, resolve_tasks
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger

logger = get_logger(__name__)

# What run.pl calls a "suspicious first argument": NAME=... with a ':' or only digits and
# dashes after the '=' (JOB=a:b, JOB=1-4, JOB=) is a range gone wrong, not a log file name.
_LOOKS_LIKE_RANGE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=([^/]*:[^/]*|[\d\-]*)$")


class _RunPlArgs(AsrkitCommand):
    """run.pl's argument order as well as asrkit's: the launcher's options may also follow the JOB
    range (``JOB=1:4 --mem 2G exp/log/x.JOB.log cmd``), as run.pl's two rounds of option parsing
    allow. They were taken for the log file and the command: a log named '--mem' in the current
    directory running '2G exp/log/x.JOB.log cmd' (code 127)."""

    def parse_args(self, ctx: click.Context, args: list) -> list:
        # A dry run (ctx is not touched): the words from the first that is not an option on
        rest = self.make_parser(ctx).parse_args(args=list(args))[0].get("args")
        rest = list(rest) if isinstance(rest, (list, tuple)) else []  # (click's "unset" when none)
        moved = None
        if len(rest) >= 2 and rest[1].startswith("-") and (parse_range_quietly(rest[0]) or
                                                           _LOOKS_LIKE_RANGE.match(rest[0])):
            at = len(args) - len(rest)
            moved, args = args[at], args[:at] + args[at + 1:]
        out = super().parse_args(ctx, args)
        if moved is not None:
            ctx.params["args"] = (moved, *ctx.params["args"])
        return out


def parse_range_quietly(arg: str) -> bool:
    try:
        return parse_job_range(arg) is not None
    except AsrkitError:  # a range all the same (JOB=0:3): _parse_launch says what is wrong with it
        return True


@asrkit_command("launch", cls=_RunPlArgs)
@click.option("--backend", type=click.Choice(["local", "slurm"]), default="local", show_default=True,
              help="local: this machine, like run.pl; slurm: one sbatch (--array) job, like slurm.pl.")
@click.option("--config", "config_path", callback=refuse_empty_name, metavar="FILE",
              help="Slurm option mapping in slurm.pl's format [default: conf/slurm.conf if it exists, "
                   "else the built-in one]. Ignored by the local backend.")
@click.option("--gpu", metavar="N", help="GPUs per node of each job; the local backend ignores it.")
@click.option("--mem", metavar="SIZE", help="Memory per job, e.g. 4G; the local backend ignores it.")
@click.option("--num-threads", metavar="N", help="CPU threads per task: OMP_NUM_THREADS=N in its environment "
                                                  "(--cpus-per-task on Slurm); written to each log's Accounting "
                                                  "line.")
@click.option("--time", "time_limit", metavar="T", help="Time limit, e.g. 2:00:00; the local backend ignores it.")
@click.option("--max-jobs-run", type=int, metavar="N",
              help="At most N jobs at once [local default: the number of cores; Slurm: no limit].")
@click.option("--num-nodes", "--nodes", "num_nodes", type=int, default=1, show_default=True, metavar="N",
              help="Nodes per job (Slurm only). More than one makes the job a distributed run started by srun: "
                   "one task per GPU of each node (--gpu), or one per node without GPUs.")
@click.option("--ntasks", type=int, metavar="N",
              help="Tasks per job in all, for distributed training: under Slurm one allocation running the "
                   "command with srun, locally N copies with torchrun's RANK/WORLD_SIZE/MASTER_* variables "
                   "[default: 1 on one node, see --num-nodes].")
@click.option("--ntasks-per-node", type=int, metavar="N", help="Tasks per node (instead of --ntasks).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[JOB=1:N] LOG-FILE COMMAND...")
def main(backend, config_path, gpu, mem, num_threads, time_limit, max_jobs_run, num_nodes, ntasks, ntasks_per_node,
         args):
    """Run COMMAND through bash with its output in LOG-FILE, as Kaldi's run.pl/slurm.pl do.

    With JOB=1:N, runs N jobs, replacing JOB in LOG-FILE and COMMAND by 1..N. The options may also
    follow JOB=1:N, as with run.pl. Each log starts with
    the command line and the start time and ends with "# Accounting: time=... threads=..." and
    "# Ended (code C) at ..., elapsed time N seconds". A log already there (an earlier run) is kept
    as LOG-FILE.1, .2, ... (the next free number), never overwritten. Exits non-zero if any job failed, naming
    the failed JOBs and their logs. Ctrl-C (or SIGTERM) stops the local jobs or cancels the Slurm job
    and the launcher then ends by that signal, as every asrkit command (a shell says 130 or 143).

    \b
    e.g. asrkit-launch --max-jobs-run 4 JOB=1:8 exp/log/fbank.JOB.log \\
           asrkit-compute-fbank --write-utt2num-frames dump/utt2num_frames.JOB \\
           scp:data/train/split8/JOB/wav.scp \\
           ark,scp:dump/feats.JOB.ark,dump/feats.JOB.scp
         asrkit-launch --backend slurm --config conf/slurm.conf --num-nodes 2 \\
           --gpu 4 exp/a/log/train.log asrkit-train --config conf/train.yaml ... \\
           --ngpu 4 exp/a     # 8 tasks, one per GPU
    """
    refuse_range_as_option_value({"--config": config_path, "--gpu": gpu, "--mem": mem, "--num-threads": num_threads,
                                  "--time": time_limit})
    launch = _parse_launch(args, num_threads, resolve_tasks(num_nodes, ntasks, ntasks_per_node, gpu), num_nodes)
    if max_jobs_run is not None and max_jobs_run < 1:
        raise AsrkitError(f"--max-jobs-run must be at least 1, got {max_jobs_run}")
    if backend == "local":
        from asrkit.launch.local import default_max_jobs, run_local

        if num_nodes > 1:
            raise AsrkitError(f"--num-nodes {num_nodes} needs --backend slurm (the local backend runs on this machine)")
        limit = max_jobs_run if max_jobs_run is not None else default_max_jobs()
        result = run_local(launch, max_jobs_run=limit)
        how = f"local backend, at most {limit} at a time"
    else:
        from asrkit.launch.slurm import run_slurm
        from asrkit.launch.slurm_config import SlurmConfig

        config = SlurmConfig.load(config_path)
        options = {"gpu": gpu, "mem": mem, "num_threads": num_threads, "time": time_limit}
        result = run_slurm(launch, config, options, max_jobs_run=max_jobs_run)
        how = f"Slurm job {result.slurm_job_id}"
    n = len(result.results)
    if result.failed:
        raise AsrkitError(result.failure_message(launch))
    logger.info("Done %d out of %d job%s (%s) in %.1f s", n, n, "s" if n > 1 else "", how, result.elapsed_s)


# Everything after the log file belongs to the command, its options included.
main.allow_interspersed_args = False


def _parse_launch(args, num_threads, ntasks, nodes) -> Launch:
    args = list(args)
    jobs = None
    if args:
        jobs = parse_job_range(args[0])
        if jobs is not None:
            args.pop(0)
        elif _LOOKS_LIKE_RANGE.match(args[0]):
            raise AsrkitError(f"bad job range {args[0]!r} (expected e.g. JOB=1:4 or JOB=3)")
    if len(args) < 2:
        raise AsrkitError("expected [JOB=1:N] <log-file> <command> ... (see --help)")
    log, command = args[0], args[1:]
    if parse_job_range(log) is not None:
        raise AsrkitError(f"two job ranges ({log!r} after the first): give one JOB=1:N")
    # ASCII digits only, as every other number option (int() took '٣' and '1_0')
    threads = ascii_int(num_threads) if num_threads is not None else 1
    if threads is None:
        raise AsrkitError(f"--num-threads {num_threads!r} is not an integer in ASCII digits")
    return Launch(join_command(command), log, jobs, num_threads=threads, ntasks=ntasks, nodes=nodes,
                  threads_env=num_threads is not None)
