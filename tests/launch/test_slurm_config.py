"""The slurm.pl-format config and the sbatch line / batch script built from it (no cluster needed)."""
from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from asrkit.launch.job import Launch, parse_job_range, resolve_tasks
from asrkit.launch.slurm import batch_script, script_name, submit_args
from asrkit.launch.slurm_config import DEFAULT_CONFIG, SlurmConfig
from asrkit.utils.errors import AsrkitError

REPO = Path(__file__).resolve().parents[2]
NONE = {"gpu": None, "mem": None, "num_threads": None, "time": None}

KALDI_STYLE = """\
command sbatch --export=PATH --partition=cpu --account=asr
option time=* --time $0
option mem=* --mem-per-cpu $0
option mem=0          # Do not add anything
option num_threads=* --cpus-per-task $0 --ntasks-per-node=1
option num_threads=1 --cpus-per-task 1  --ntasks-per-node=1
default gpu=0
option gpu=0
option gpu=* -p gpu --gres=gpu:$0 --time 4:0:0
"""


def test_default_config_maps_every_option():
    conf = SlurmConfig.parse(DEFAULT_CONFIG, "default")
    assert conf.resolve(NONE) == ["sbatch", "--export=ALL"]
    args = conf.resolve({"gpu": "2", "mem": "4G", "num_threads": "8", "time": "2:00:00"})
    assert args == ["sbatch", "--export=ALL", "--gres=gpu:2", "--mem=4G", "--cpus-per-task=8", "--time=2:00:00"]
    assert conf.resolve({**NONE, "mem": "0"}) == ["sbatch", "--export=ALL"]


def test_kaldi_slurm_pl_config_reads_unchanged():
    conf = SlurmConfig.parse(KALDI_STYLE, "conf/slurm.conf")
    assert conf.resolve(NONE) == ["sbatch", "--export=PATH", "--partition=cpu", "--account=asr"]
    assert conf.resolve({**NONE, "gpu": "1", "num_threads": "1"})[4:] == [
        "-p", "gpu", "--gres=gpu:1", "--time", "4:0:0", "--cpus-per-task", "1", "--ntasks-per-node=1"]


def test_a_config_saved_with_a_byte_order_mark_reads_as_without(tmp_path):
    """A Windows editor's UTF-8 with its mark: the first line was "unknown line type '\\ufeffcommand'"."""
    (tmp_path / "slurm.conf").write_bytes(b"\xef\xbb\xbf" + KALDI_STYLE.encode())
    assert SlurmConfig.load(str(tmp_path / "slurm.conf")).resolve(NONE) == \
        SlurmConfig.parse(KALDI_STYLE, "conf/slurm.conf").resolve(NONE)


def test_template_recipe_config_parses():
    path = REPO / "egs" / "TEMPLATE" / "asr1" / "conf" / "slurm.conf"
    conf = SlurmConfig.load(str(path))
    assert conf.command[0] == "sbatch"
    conf.resolve({"gpu": "1", "mem": "4G", "num_threads": "2", "time": "1:00:00"})


def test_conf_slurm_conf_is_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert SlurmConfig.load(None).source == "<built-in default>"
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "slurm.conf").write_text("command sbatch --qos=low\noption gpu=* --gres=gpu:$0\n")
    conf = SlurmConfig.load(None)
    assert conf.source == "conf/slurm.conf" and conf.resolve({"gpu": "1"}) == ["sbatch", "--qos=low", "--gres=gpu:1"]


@pytest.mark.parametrize("text,message", [
    ("option mem=* --mem=$0\n", "x.conf: no 'command' line"),
    ("command sbatch\nbogus line\n", "x.conf:2: unknown line type 'bogus'"),
    ("command sbatch\noption mem\n", "x.conf:2: expected 'option <name>=<value> ...'"),
    ("command\n", "x.conf:1: 'command' needs the submit command"),
    ("command sbatch 'unclosed\n", "x.conf:1: No closing quotation"),
])
def test_bad_config_lines(text, message):
    with pytest.raises(AsrkitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SlurmConfig.parse(text, "x.conf")


def test_option_without_a_rule_is_an_error():
    conf = SlurmConfig.parse("command sbatch\n", "c.conf")
    with pytest.raises(AsrkitError, match=r"c.conf: no 'option mem=...' line for --mem 4G"):
        conf.resolve({"mem": "4G"})


def test_missing_config_file(tmp_path):
    with pytest.raises(AsrkitError, match="cannot read Slurm config .*nope.conf"):
        SlurmConfig.load(str(tmp_path / "nope.conf"))


@pytest.mark.parametrize("data,message", [
    # hostile-input sweep 6: read_text() read /dev/zero until memory ran out, a byte that is not
    # UTF-8 was a UnicodeDecodeError traceback, a NUL went into sbatch's argv (a ValueError one)
    (None, "zero: over 1 MiB, not a Slurm config"),
    (b"command sbatch\noption mem=* --mem=$0 \xff\n", "bin.conf:2: not UTF-8 text"),
    (b"command sbatch\noption mem=* --mem=$0\x00x\n", "bin.conf:2: a NUL byte"),
    # was "bin.conf:1: not UTF-8 text (invalid start byte)", which says nothing of what it is or what to do
    ("command sbatch\n".encode("utf-16"), r"bin.conf: the file is UTF-16 \(it starts with the byte-order mark FF FE, "
     r"as Windows Notepad's 'Unicode' saves it\); Slurm configs are UTF-8 text: convert it \(iconv -f UTF-16"),
], ids=["dev-zero", "not-utf8", "nul", "utf16"])
def test_a_config_that_is_not_text_is_named(tmp_path, data, message):
    path = "/dev/zero" if data is None else tmp_path / "bin.conf"
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(AsrkitError, match=message):
        SlurmConfig.load(str(path))


def test_an_unmapped_option_leaves_nothing_in_the_queue_dir(tmp_path, monkeypatch):
    """The submit line is made before exp/x/log/q and its status dir: an option the config has
    no line for left an empty <name>.<time>.<pid>.status there at each try (hostile-input sweep 6)."""
    from asrkit.launch.slurm import run_slurm

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sbatch", "squeue", "scancel"):  # never run: the option is refused first
        (bin_dir / tool).write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    launch = Launch("true", str(tmp_path / "exp/log/x.log"))
    with pytest.raises(AsrkitError, match="c.conf: no 'option mem=...' line for --mem 4G"):
        run_slurm(launch, SlurmConfig.parse("command sbatch\n", "c.conf"), {"mem": "4G"}, show_progress=False)
    assert not (tmp_path / "exp/log/q").exists()


def _fake_slurm(tmp_path, monkeypatch, sbatch_out: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\nprintf '{sbatch_out}'\n")
    for tool in ("squeue", "scancel"):  # an id squeue does not know: nothing listed
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")


def test_a_submit_output_that_is_no_job_id_is_named(tmp_path, monkeypatch):
    """A site's sbatch wrapper printing 'Submitted batch job 42' (no --parsable): the whole line was
    taken for the id, squeue never found it, and after the grace time every task was failed as
    'Slurm ended the task' while the job still ran, out of Ctrl-C's reach (hostile-input sweep 6)."""
    from asrkit.launch.slurm import parsable_job_id, run_slurm

    assert parsable_job_id("42\n") == "42" and parsable_job_id("42;cluster2\n") == "42"
    assert parsable_job_id("Welcome to the cluster\n42\n") == "42"
    assert parsable_job_id("Submitted batch job 42\n") is None and parsable_job_id("") is None
    _fake_slurm(tmp_path, monkeypatch, "Submitted batch job 42\\n")
    launch = Launch("true", str(tmp_path / "exp/log/x.log"))
    with pytest.raises(AsrkitError, match=r"^sbatch printed 'Submitted batch job 42', not a job id as sbatch "
                                          r"--parsable prints it; the job may be queued all the same: find it with "
                                          r"squeue --name=x\n  submit line: sbatch "):
        run_slurm(launch, SlurmConfig.parse("command sbatch\n", "c.conf"), {}, show_progress=False,
                  queue_check_s=0.1, grace_s=0.1)
    assert [p.name for p in (tmp_path / "exp/log/q").iterdir()] == ["x.sh"]  # no status dir left


def test_the_job_script_keeps_the_users_umask(tmp_path, monkeypatch):
    """The job script was made 0755 whatever the umask: under umask 077 every other account could
    read the commands and paths of a user whose other outputs are private."""
    from asrkit.launch.slurm import run_slurm

    _fake_slurm(tmp_path, monkeypatch, "Submitted batch job 42\\n")  # refused after the script is written
    launch = Launch("true", str(tmp_path / "exp/log/x.log"))
    old = os.umask(0o077)
    try:
        with pytest.raises(AsrkitError, match="not a job id"):
            run_slurm(launch, SlurmConfig.parse("command sbatch\n", "c.conf"), {}, show_progress=False,
                      queue_check_s=0.1, grace_s=0.1)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "exp/log/q/x.sh").stat().st_mode) == 0o700


def test_submit_line_and_script(tmp_path):
    launch = Launch("echo JOB | cat > out.JOB", "exp/log/fbank.JOB.log", parse_job_range("JOB=1:8"), num_threads=2)
    assert script_name(launch) == "fbank"
    conf = SlurmConfig.parse(DEFAULT_CONFIG, "d")
    args = submit_args(launch, conf, {**NONE, "num_threads": "2"}, tmp_path / "q", "fbank", 3)
    assert "--array=1-8%3" in args and "--cpus-per-task=2" in args and args[-1] == "--parsable"
    script = batch_script(launch, tmp_path / "status", "sbatch ...")
    # JOB where the local backend replaces it (not inside other names) is the script's mark first
    assert "command=${command_template//ASRKIT_JOB_INDEX/$index}" in script
    assert "threads=2" in script
    # the script is valid bash, and its JOB substitution is the local backend's
    (tmp_path / "s.sh").write_text(script)
    assert subprocess.run(["bash", "-n", str(tmp_path / "s.sh")]).returncode == 0
    probe = script.split("status_dir=")[0].split("\n", 3)[3] + 'printf "%s\\n%s" "$command" "$log"'
    out = subprocess.run(["bash", "-c", probe], env={"SLURM_ARRAY_TASK_ID": "7", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, cwd=tmp_path).stdout
    assert out.splitlines()[-2:] == [launch.command_for(7), launch.log_path(7)]


def test_a_newline_in_an_option_stays_in_the_scripts_comment(tmp_path):
    """The submit line is copied into the script as a comment: a value with a newline in it
    (--mem $'4G\\ntouch x') ended the comment and left the rest to bash (a syntax error, or a command)."""
    launch = Launch("true", str(tmp_path / "x.log"))
    args = submit_args(launch, SlurmConfig.parse(DEFAULT_CONFIG, "d"), {**NONE, "mem": f"4G\ntouch {tmp_path}/ran"},
                       tmp_path / "q", "x", None)
    import shlex

    script = batch_script(launch, tmp_path / "status", " ".join(shlex.quote(a) for a in args))
    head = script.split("cd ", 1)[0]
    assert all(line.startswith("#") for line in head.splitlines())
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


def test_multi_task_job_runs_under_srun(tmp_path):
    launch = Launch("asrkit-train exp/a", "exp/a/log/train.log", ntasks=4, nodes=2)
    args = submit_args(launch, SlurmConfig.parse(DEFAULT_CONFIG, "d"), NONE, tmp_path, "train", None)
    # An even spread: with --ntasks, sbatch would take --ntasks-per-node as a mere maximum.
    assert "--nodes=2" in args and "--ntasks-per-node=2" in args
    assert not any(a.startswith(("--array", "--ntasks=")) for a in args)
    script = batch_script(launch, tmp_path, "sbatch ...")
    assert "srun --kill-on-bad-exit=1 --nodes=2 --ntasks=4 --ntasks-per-node=2 " in script
    assert "# Running 4 tasks (2 per node) of Slurm job $SLURM_JOB_ID on $SLURM_JOB_NODELIST" in script
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


def test_num_nodes_means_one_task_per_gpu(tmp_path):
    """asrkit-launch --num-nodes 2 --gpu 4: 8 tasks, 4 per node, and 4 GPUs per node from the config."""
    ntasks = resolve_tasks(2, None, None, "4")
    launch = Launch("asrkit-train exp/a", "exp/a/log/train.log", ntasks=ntasks, nodes=2)
    args = submit_args(launch, SlurmConfig.parse(DEFAULT_CONFIG, "d"), {"gpu": "4"}, tmp_path, "train", None)
    assert args[:2] == ["sbatch", "--export=ALL"]
    assert {"--gres=gpu:4", "--nodes=2", "--ntasks-per-node=4"} <= set(args)
    assert "--ntasks=8 --ntasks-per-node=4" in batch_script(launch, tmp_path, "sbatch ...")
    # Without GPUs one task per node (gloo); explicit counts win; one node stays one task.
    assert resolve_tasks(2, None, None, "0") == resolve_tasks(2, None, None, None) == 2
    assert resolve_tasks(3, None, 2, "4") == resolve_tasks(3, 6, None, "4") == resolve_tasks(3, 6, 2, "4") == 6
    assert resolve_tasks(1, None, None, "4") == 1 and resolve_tasks(1, 4, None, "4") == 4
    for bad, message in [((2, 3, None, None), "cannot be spread evenly"), ((2, 4, 3, None), "is not --num-nodes 2 x"),
                         ((0, None, None, None), "--num-nodes 0"), ((2, None, 0, None), "--ntasks-per-node 0"),
                         ((2, None, None, "a100:4"), "give --ntasks-per-node")]:
        with pytest.raises(AsrkitError, match=re.escape(message)):
            resolve_tasks(*bad)
    with pytest.raises(AsrkitError, match="--ntasks 3 cannot be spread evenly over --num-nodes 2"):
        Launch("x", "x.log", ntasks=3, nodes=2)
