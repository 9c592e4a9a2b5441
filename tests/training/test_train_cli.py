"""asrkit-train / asrkit-average end to end on a tiny real yesno set-up, and their bad inputs."""
from __future__ import annotations

import csv
import os
import re
import shutil

import pytest
import torch
import yaml

from asrkit.features.fbank import FbankConfig
from asrkit.utils.errors import AsrkitError

from tests.cli_checks import run_asrkit_in_process, run_in_process

from .named_pipes import assert_named_pipe_refused
from .yesno_dump import train_args


def test_train_writes_everything_and_average(yesno_setup, tmp_path):
    exp = tmp_path / "exp"
    proc = run_asrkit_in_process(*train_args(yesno_setup, exp, "--seed", "3"))
    err = proc.stderr.decode()
    assert "Done 2 epochs out of 2" in err
    for name in ["config.yaml", "model.pt", "log/train.log", "log/curves.csv",
                 "checkpoints/epoch1.pt", "checkpoints/epoch2.pt"]:
        assert (exp / name).is_file(), name
    cfg = yaml.safe_load((exp / "config.yaml").read_text())
    assert cfg["training"]["seed"] == 3 and cfg["model"]["speller"]["hidden"] == 32
    log = (exp / "log" / "train.log").read_text()
    assert "frames/s" in log and "lr" in log and "epoch 2: train loss" in log
    rows = list(csv.DictReader(open(exp / "log" / "curves.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert all(float(r["valid_loss"]) > 0 and 0 <= float(r["valid_cer"]) for r in rows)
    plots = sorted(p.name for p in (exp / "plots").iterdir())
    assert len(plots) == 4 and all(p.endswith(".png") for p in plots)  # 2 dev utts x 2 epochs

    from asrkit.models.package import load_package

    pkg = load_package(exp / "model.pt")
    assert pkg.tokenizer is not None and pkg.meta.cmvn is not None and pkg.meta.cmvn.shape == (2, 24)
    assert pkg.meta.idim == 23 and pkg.meta.vocab_size == pkg.tokenizer.vocab_size
    assert pkg.meta.feature_config == FbankConfig(sample_frequency=8000, num_mel_bins=23)  # dump/train/fbank.yaml
    assert pkg.meta.extra["epochs"][0] in (1, 2)
    # How long the training utterances were (8 kHz, 10 ms frames), for joining a cut recording's
    # pieces back up to that length: kept through packing and averaging.
    import kaldiio

    seconds = sorted(m.shape[0] / 100 for _, m in kaldiio.load_scp_sequential(str(yesno_setup / "dump/train/feats.scp")))
    assert pkg.meta.extra["train_durations_s"]["max"] == pytest.approx(seconds[-1], abs=1e-3)
    assert seconds[0] < pkg.meta.train_duration_s("p50") <= pkg.meta.train_duration_s("p95") <= seconds[-1]

    # Re-running a finished run changes nothing but says so.
    before = (exp / "checkpoints" / "epoch2.pt").stat().st_mtime_ns
    proc = run_asrkit_in_process(*train_args(yesno_setup, exp))
    assert "already finished at epoch 2" in proc.stderr.decode()
    assert (exp / "checkpoints" / "epoch2.pt").stat().st_mtime_ns == before
    # ... also with fewer epochs asked for than it holds ("Done 2 epochs out of 1" before)
    err = run_asrkit_in_process(*train_args(yesno_setup, exp, "--set", "training.max_epochs=1")).stderr.decode()
    assert "Done 2 epochs (more than training.max_epochs 1: trained by an earlier run)" in err, err
    assert (exp / "checkpoints" / "epoch2.pt").stat().st_mtime_ns == before

    proc = run_asrkit_in_process("average", "--num", "2", exp)
    assert "Done averaging 2 checkpoint(s)" in proc.stderr.decode()
    avg = load_package(exp / "model.avg.pt")
    assert avg.meta.extra["train_durations_s"] == pkg.meta.extra["train_durations_s"]
    s1 = torch.load(exp / "checkpoints" / "epoch1.pt", weights_only=True)["model"]
    s2 = torch.load(exp / "checkpoints" / "epoch2.pt", weights_only=True)["model"]
    for k, v in avg.model.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, (s1[k] + s2[k]) / 2, rtol=1e-5, atol=1e-6)

    # --max-epoch: only the epochs up to N (what a run stopped there would average)
    proc = run_asrkit_in_process("average", "--num", "2", "--max-epoch", "1", "--out", tmp_path / "e1.pt", exp)
    assert "Done averaging 1 checkpoint(s)" in proc.stderr.decode()
    for k, v in load_package(tmp_path / "e1.pt").model.state_dict().items():
        assert torch.equal(v, s1[k]), k
    code, err = _run_inproc("average", "--max-epoch", "0", exp)
    assert code == 1 and "--max-epoch 0: must be at least 1" in err
    pruned = tmp_path / "pruned"  # as keep_best leaves it: epoch 1 deleted, a later epoch kept
    shutil.copytree(exp, pruned)
    (pruned / "checkpoints" / "epoch1.pt").unlink()
    shutil.copy(pruned / "checkpoints" / "epoch2.pt", pruned / "checkpoints" / "epoch3.pt")
    code, err = _run_inproc("average", "--max-epoch", "1", pruned)
    assert code == 1 and f"{pruned}/checkpoints: no checkpoint of epoch <= 1 (kept: epochs 2, 3)" in err
    proc = run_asrkit_in_process("average", "--max-epoch", "2", "--out", tmp_path / "e2.pt", pruned)
    assert "1 of the first 2 epochs have a checkpoint (training.keep_best deletes the others)" in proc.stderr.decode()
    # Among the best by the metric asked for, an epoch whose checkpoint keep_best deleted (kept by
    # another metric): said, naming it and what is averaged instead, not passed off as the best.
    (pruned / "checkpoints" / "epoch3.pt").unlink()
    for metric in ("valid_loss", "valid_cer"):
        proc = run_asrkit_in_process("average", "--num", "2", "--metric", metric, "--out", tmp_path / "p.pt", pruned)
        assert (f"epoch(s) 1 are among the 2 best by {metric} but have no checkpoint (training.keep_best kept the best "
                "by valid_loss): averaging the best that remain, 2") in proc.stderr.decode(), proc.stderr.decode()
    proc = run_asrkit_in_process("average", "--num", "2", "--metric", "valid_cer", "--out", tmp_path / "all.pt", exp)
    assert "have no checkpoint" not in proc.stderr.decode()

    # Checkpoints of two different models (one copied in from another run) are not averaged.
    mixed = tmp_path / "mixed"
    shutil.copytree(exp, mixed)
    other = torch.load(mixed / "checkpoints" / "epoch1.pt", weights_only=True)
    other["config"]["model"]["listener"]["hidden"] = 64
    torch.save(other, mixed / "checkpoints" / "epoch1.pt")
    code, err = _run_inproc("average", "--num", "2", mixed)
    assert code == 1 and "model.listener.hidden: 32 -> 64); average checkpoints of one run only" in err
    assert "epoch1.pt: another model than" in err and len(err.strip().splitlines()) <= 2  # command line + error
    assert (mixed / "model.avg.pt").read_bytes() == (exp / "model.avg.pt").read_bytes()  # left as it was
    # A checkpoint whose unpickling would run code is refused, naming it, and nothing runs.
    from .test_trainer import write_hostile_checkpoint

    write_hostile_checkpoint(mixed / "checkpoints" / "epoch2.pt", tmp_path / "pwned")
    code, err = _run_inproc("average", "--num", "2", mixed)
    assert code == 1 and f"{mixed}/checkpoints/epoch2.pt: not an asrkit checkpoint (not a torch file" in err
    assert not (tmp_path / "pwned").exists()

    # Another model config on the same exp dir is refused, and config.yaml is left as it was.
    before = (exp / "config.yaml").read_text()
    code, err = _run_inproc(*train_args(yesno_setup, exp, "--seed", "3", "--set", "model.ctc_weight=0.5"))
    assert code == 1 and "was trained with another model config" in err
    assert (exp / "config.yaml").read_text() == before

    # A finished run continues when asked for more epochs, saying what changed.
    proc = run_asrkit_in_process(*train_args(yesno_setup, exp, "--seed", "3", "--set", "training.max_epochs=3"))
    err = proc.stderr.decode()
    assert "training.max_epochs: 2 -> 3" in err and "Done 3 epochs out of 3" in err
    assert (exp / "checkpoints" / "epoch3.pt").is_file()


def _run_inproc(*args):
    """A command run in this process (cli_checks.run_in_process): fast, for the inputs rejected before
    training. Its exit status and stderr; an exception out of the command is exit status 1, as click's
    runner has it."""
    result = run_in_process(None, args, catch_exceptions=True)
    return result.exit_code, result.stderr


def test_bad_inputs_fail_clearly(yesno_setup, tmp_path, asrkit, monkeypatch):
    root = yesno_setup
    # missing feats.scp (run as a user would: a separate process, exit status 1)
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(root / "dump" / "train" / "text", empty / "text")
    args = train_args(root, tmp_path / "e1")
    args[args.index("--train-dir") + 1] = empty
    proc = asrkit(*args, check=False)
    assert proc.returncode == 1
    assert f"ERROR (asrkit-train): {empty}/feats.scp: no such file" in proc.stderr.decode()
    # and the run's own log says why it ended, as a Kaldi log does
    assert f"ERROR [asrkit-train] {empty}/feats.scp: no such file" in (tmp_path / "e1/log/train.log").read_text()

    # a bad config key names the key, and nothing is trained
    code, err = _run_inproc(*train_args(root, tmp_path / "e2", "--set", "training.max_epoch=3"))
    assert code == 1 and "unknown key 'training.max_epoch'" in err
    code, err = _run_inproc(*train_args(root, tmp_path / "e2", "--set", "model.listener.hiden=3"))
    assert code == 1 and "hiden" in err
    assert not (tmp_path / "e2" / "checkpoints").exists()
    # a worker count no machine has cores for (a typo) is refused before a process is started
    code, err = _run_inproc(*train_args(root, tmp_path / "e2w", "--set", "batching.num_workers=100000"))
    assert code == 1 and "batching.num_workers 100000 is more than 8 per core of this machine" in err
    assert not list((tmp_path / "e2w").glob("checkpoints/*.pt"))

    # transcripts missing for half the utterances: reported with their ids, and fatal
    notext = tmp_path / "notext"
    shutil.copytree(root / "dump" / "train", notext)
    lines = (notext / "text").read_text().splitlines()
    (notext / "text").write_text("\n".join(lines[:6]) + "\n")
    args = train_args(root, tmp_path / "e3")
    args[args.index("--train-dir") + 1] = notext
    code, err = _run_inproc(*args)
    assert code == 1
    assert "6 utterance(s) have features but no transcript" in err
    assert lines[6].split()[0] in err
    assert "6 of 12 utterances lack features or a transcript" in err

    # a missing tokenizer, a missing CMVN file, nothing to average
    args = train_args(root, tmp_path / "e4")
    args[args.index("--lang-dir") + 1] = tmp_path
    code, err = _run_inproc(*args)
    assert code == 1 and "tokens.model: no such file" in err
    # ...a directory of that name, a file given for the data dir: each was said to be missing
    (tmp_path / "lang_dir_tok" / "tokens.model").mkdir(parents=True)
    args[args.index("--lang-dir") + 1] = tmp_path / "lang_dir_tok"
    code, err = _run_inproc(*args)
    assert code == 1 and "lang_dir_tok/tokens.model: a directory, not a tokenizer model" in err, err
    # ...and a named pipe of that name was "no such file" too (Tokenizer.load names it, not waiting)
    (tmp_path / "lang_fifo_tok").mkdir()
    os.mkfifo(tmp_path / "lang_fifo_tok" / "tokens.model")
    args[args.index("--lang-dir") + 1] = tmp_path / "lang_fifo_tok"
    monkeypatch.setattr("asrkit.utils.fileio.FIFO_WRITER_WAIT_S", 0.5)  # (a minute's wait, as every named pipe's)
    code, err = _run_inproc(*args)
    assert code == 1 and "lang_fifo_tok/tokens.model: a named pipe with no writer (waited" in err, err
    args = train_args(root, tmp_path / "e4f")
    args[args.index("--train-dir") + 1] = root / "dump" / "train" / "text"
    code, err = _run_inproc(*args)
    assert code == 1 and f"{root}/dump/train/text: not a data directory (not a directory)" in err, err
    args = train_args(root, tmp_path / "e5")
    args[args.index("--cmvn") + 1] = tmp_path / "cmvn.ark"
    code, err = _run_inproc(*args)
    assert code == 1 and "cmvn.ark: no such file" in err
    (tmp_path / "e5").mkdir(exist_ok=True)
    code, err = _run_inproc("average", tmp_path / "e5")
    assert code == 1 and "no checkpoints" in err
    code, err = _run_inproc("average", tmp_path / "e-typo")  # was "e-typo/checkpoints: no checkpoints"
    assert code == 1 and f"{tmp_path / 'e-typo'}: no such exp dir" in err

    if not torch.cuda.is_available():  # GPUs asked for on a machine without them
        args = train_args(root, tmp_path / "e6")
        args[args.index("--ngpu") + 1] = "1"
        code, err = _run_inproc(*args)
        assert code == 1 and "CUDA is not available" in err
        args[args.index("--ngpu") + 1] = "2"
        code, err = _run_inproc(*args)
        assert code == 1 and "--ngpu 2: this machine has 0 GPU(s)" in err


def test_few_missing_transcripts_are_reported_not_fatal(yesno_setup, tmp_path):
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.data import load_utterances

    d = tmp_path / "train"
    shutil.copytree(yesno_setup / "dump" / "train", d)
    lines = (d / "text").read_text().splitlines()
    dropped = lines[3].split()[0]
    (d / "text").write_text("\n".join(lines[:3] + lines[4:]) + "\n")
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    with pytest.raises(Exception, match="1 of 12"):
        load_utterances(str(d), tok, max_missing_ratio=0.05)
    utts = load_utterances(str(d), tok, max_missing_ratio=0.1)
    assert len(utts) == 11 and dropped not in {u.utt_id for u in utts}


def test_help_has_example(asrkit):
    for cmd in ("train", "average"):
        out = asrkit(cmd, "--help").stdout.decode()
        assert "e.g.:" in out


def test_model_typo_fails_when_the_config_loads(tmp_path):
    """A misspelt model key is named with its path, before any data is read or any dir is made:
    the train dir given does not even exist, and the error is still about the config."""
    conf = tmp_path / "train.yaml"
    conf.write_text("model:\n  listner: {hidden: 32}\n  ctc_weight: 0.3\n")
    code, err = _run_inproc("train", "--config", conf, "--train-dir", tmp_path / "no_such_dump",
                            "--lang-dir", tmp_path / "no_such_lang", "--ngpu", "0", tmp_path / "exp")
    assert code == 1
    assert f"ERROR (asrkit-train): {conf}:2: unknown key 'model.listner' (known: listener, attention" in err
    assert "no_such_dump" not in err and "no_such_lang" not in err
    assert not (tmp_path / "exp").exists()


def test_feature_config_is_given_or_beside_the_features_never_guessed(yesno_setup, tmp_path, caplog):
    from asrkit.training.config import resolve_fbank_config

    train = yesno_setup / "dump" / "train"
    assert resolve_fbank_config(str(train), None) == FbankConfig(sample_frequency=8000, num_mel_bins=23)
    explicit = tmp_path / "fbank.yaml"
    explicit.write_text("sample_frequency: 8000\nnum_mel_bins: 40\n")
    assert resolve_fbank_config(str(train), str(explicit)).num_mel_bins == 40
    kaldi_dump = tmp_path / "kaldi_dump"  # features from another tool: no fbank.yaml beside them
    shutil.copytree(train, kaldi_dump)
    (kaldi_dump / "fbank.yaml").unlink()
    with caplog.at_level("WARNING"):
        assert resolve_fbank_config(str(kaldi_dump), None) is None
    assert "can decode features (asrkit-decode --feats) but not audio" in caplog.text
    # A feature config that does not describe the features is refused before training.
    code, err = _run_inproc(*train_args(yesno_setup, tmp_path / "exp", "--fbank-config", explicit))
    assert code == 1 and "the feature config (40-dim fbank) does not describe" in err
    assert not (tmp_path / "exp" / "checkpoints").exists()


def test_print_config_prints_the_resolved_config_and_reads_nothing(tmp_path):
    """--print-config: the config with every default, --set and --seed applied, on stdout; no data
    read (none is given), no exp dir made, and torch never started."""
    import subprocess
    import sys

    from asrkit.training.config import load_config

    conf = tmp_path / "train.yaml"
    conf.write_text("model: {listener: {hidden: 16}}\ntraining: {max_epochs: 2}\n")
    code = ("import sys; from asrkit.cli import main\n"
            "try:\n"
            f"    main(['train', '--config', {str(conf)!r}, '--set', 'optim.lr=0.01', '--seed', '9', "
            f"'--print-config'])\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    printed = yaml.safe_load(proc.stdout)
    expected = load_config(str(conf), ["optim.lr=0.01", "training.seed=9"]).to_dict()
    assert printed == expected
    assert printed["model"]["listener"]["hidden"] == 16 and printed["optim"]["lr"] == 0.01
    assert printed["batching"]["max_frames"] == 30000  # a default nobody wrote, written out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.yaml"]

    # Without --print-config the data options are still required, named plainly.
    code, err = _run_inproc("train", "--config", conf, "--lang-dir", tmp_path, tmp_path / "exp")
    assert code == 2 and "missing --train-dir" in err


def test_set_training_seed_wins_over_seed(tmp_path):
    """Recipes always pass --seed 1; a --set training.seed=N beside it (what a user adds through
    --train-args) must take effect, not be silently replaced by the recipe's --seed."""
    from click.testing import CliRunner

    from asrkit.cli import main

    conf = tmp_path / "train.yaml"
    conf.write_text("training: {max_epochs: 2}\n")

    def seed_of(*args):
        result = CliRunner().invoke(main, ["train", "--config", str(conf), *args, "--print-config"])
        assert result.exit_code == 0, result.output
        return yaml.safe_load(result.stdout)["training"]["seed"]

    assert seed_of("--seed", "1", "--set", "training.seed=2") == 2
    assert seed_of("--set", "training.seed=2", "--seed", "1") == 2
    assert seed_of("--seed", "7") == 7
    assert seed_of() == 1


def test_a_run_ended_by_a_full_disk_says_so_in_its_train_log(yesno_setup, tmp_path, monkeypatch):
    """A full disk (or a refused permission) stopping asrkit-train was on stderr only: log/train.log,
    closed before the command's wrapper words the error, ended at the epoch's INFO line (15ebdcc
    said it now holds the ERROR, as an AsrkitError's has since 962f748e; it did not)."""
    import errno
    import os

    from asrkit.training import checkpoint

    exp = tmp_path / "exp"
    where = exp / "checkpoints" / "epoch1.pt"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(where))
    monkeypatch.setattr(checkpoint, "save_checkpoint", full)
    code, err = _run_inproc(*train_args(yesno_setup, exp))
    assert code == 1 and err.rstrip().splitlines()[-1] == f"ERROR (asrkit-train): {where}: no space left on device", err
    last = (exp / "log" / "train.log").read_text().rstrip().splitlines()[-1]
    assert last.endswith(f" ERROR [asrkit-train] {where}: no space left on device"), last


def test_a_second_training_into_a_busy_exp_dir_fails_at_once(yesno_setup, tmp_path):
    # Two runs into one exp dir (asr.sh started again while the first trained; `timeout` killed
    # but not the python under it) both resumed from the same checkpoint and wrote the same
    # epochs, model.pt and train_runs.tsv over each other, with exit 0.
    import os

    from asrkit.training.exp_lock import exp_dir_lock

    exp = tmp_path / "exp"
    with exp_dir_lock(exp, "asrkit-train"):  # what the first run holds while it lives
        code, err = _run_inproc(*train_args(yesno_setup, exp))
        assert code == 1, err
        assert (f"ERROR (asrkit-train): {exp}: another asrkit-train (pid {os.getpid()} on " in err
                and "is training into this exp dir; wait for it to end or stop it" in err), err
        assert sorted(p.name for p in exp.iterdir()) == [".lock"]  # nothing of the second run: no log/
    # released with its holder (the kernel drops it when the process dies, SIGKILL too)
    with exp_dir_lock(exp, "asrkit-train"):
        pass
    (tmp_path / "afile").write_text("x")
    # (in the words every command gives an output dir in the way, since 0498ccc)
    with pytest.raises(Exception, match=r"/afile is a file, not a directory \(the exp dir to train into\)$"):
        with exp_dir_lock(tmp_path / "afile", "asrkit-train"):
            pass


def test_a_full_disk_at_the_exp_lock_names_the_lock_file(yesno_setup, tmp_path, monkeypatch):
    """On a full disk the lock file is made (an inode) but its pid line cannot be written: the run
    said only "no space left on device (writing an output whose name is not known here ...)"."""
    import errno
    import os

    from asrkit.training import exp_lock

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(exp_lock.os, "pwrite", full)
    exp = tmp_path / "exp"
    code, err = _run_inproc(*train_args(yesno_setup, exp))
    assert code == 1 and f"ERROR (asrkit-train): {exp}/.lock: no space left on device" in err, err
    assert "Traceback" not in err and "whose name is not known" not in err


def test_a_forked_child_does_not_keep_the_exp_lock(tmp_path):
    """A DataLoader worker is a fork of the run and shared its lock: SIGKILLed (the OOM killer, kill
    -9), the run left the worker holding it for ~6 s, until the worker noticed, and a re-run then
    was refused naming the dead run's pid. Here the run ends (its descriptor closed) while its
    child lives on: the lock must be free."""
    import os

    from asrkit.training.exp_lock import exp_dir_lock

    exp = tmp_path / "exp"
    r, w = os.pipe()
    ready_r, ready_w = os.pipe()
    with exp_dir_lock(exp, "asrkit-train"):
        pid = os.fork()
        if pid == 0:  # the worker: started (as a DataLoader worker has), lives until the pipe closes
            os.close(w)
            os.write(ready_w, b"x")
            os.read(r, 1)
            os._exit(0)
        assert os.read(ready_r, 1) == b"x"
    try:
        with exp_dir_lock(exp, "asrkit-train"):
            pass
    finally:
        os.close(w)
        os.waitpid(pid, 0)
        for fd in (r, ready_r, ready_w):
            os.close(fd)


@pytest.mark.parametrize("name", ["log/train_runs.tsv", "config.yaml"])
def test_a_named_pipe_among_the_runs_own_files_is_named_not_waited_on(yesno_setup, tmp_path, asrkit, name):
    """The run writes its own files in place when they are not regular files (a link to /dev/null
    stays one), and opening a pipe waits for a reader: log/train_runs.tsv as one hung the run before
    its first line (timeout's SIGTERM too, the run's last act being to write it); config.yaml
    after the data was read."""
    exp = tmp_path / "exp"
    assert_named_pipe_refused(asrkit, train_args(yesno_setup, exp), exp, name, "train", timeout=120)


@pytest.mark.parametrize("name", ["lm.pt", "lm.yaml", "log/train_lm.log"])
def test_an_lms_exp_dir_is_refused(yesno_setup, tmp_path, name):
    """asrkit-train given asrkit-train-lm's exp dir (exp/lm for exp/las) wrote its log/curves.csv
    over the LM's (the mirror of asrkit-train-lm's refusal of an acoustic model's dir)."""
    exp = tmp_path / "lm"
    (exp / "log").mkdir(parents=True)
    (exp / name).write_text("the LM's\n")
    (exp / "log" / "curves.csv").write_text("epoch,step,lr,train_loss,valid_loss\n1,3,0.001,4.2,4.0\n")
    proc = run_asrkit_in_process(*train_args(yesno_setup, exp), check=False)
    assert proc.returncode == 1 and (f"{exp}: the exp dir of an asrkit-train-lm run (it holds its {name}): this run "
                                     f"would write its log/curves.csv over that run's; give it an exp dir of its "
                                     f"own") in proc.stderr.decode(), proc.stderr.decode()
    assert (exp / "log" / "curves.csv").read_text() == "epoch,step,lr,train_loss,valid_loss\n1,3,0.001,4.2,4.0\n"
    assert not (exp / "checkpoints").exists() and not (exp / "config.yaml").exists()


def test_a_directory_at_model_pt_is_named_before_training(yesno_setup, tmp_path):
    """It failed only when the finished training packed its model, after every epoch."""
    exp = tmp_path / "exp"
    (exp / "model.pt").mkdir(parents=True)
    proc = run_asrkit_in_process(*train_args(yesno_setup, exp), check=False)
    assert proc.returncode == 1 and (f"ERROR (asrkit-train): {exp / 'model.pt'}: a directory where the run writes "
                                     f"its model.pt; move it away").encode() in proc.stderr, proc.stderr
    assert not (exp / "checkpoints").exists()


@pytest.mark.parametrize("option", ["--train-dir", "--valid-dir", "--lang-dir"])
def test_an_input_dir_given_as_the_exp_dir_is_refused_before_anything_is_written(yesno_setup, tmp_path, option):
    """An exp dir that is one of the run's own input dirs (a data or lang dir given as EXP_DIR, a
    positional argument left off) was trained into: checkpoints/, log/, config.yaml and model.pt
    went in among feats.scp and text, or tokens.model, with exit 0."""
    args = train_args(yesno_setup, tmp_path / "unused")
    source = {"--train-dir": yesno_setup / "dump" / "train", "--valid-dir": yesno_setup / "dump" / "dev",
              "--lang-dir": yesno_setup / "data" / "lang"}[option]
    inputs = tmp_path / "inputs"
    shutil.copytree(source, inputs)  # a copy: the session's set-up must not be written into if this fails
    args[args.index(option) + 1] = inputs
    before = sorted(p.name for p in inputs.iterdir())
    # the same directory, spelt another way
    args[-1] = f"{inputs}/../inputs"
    code, err = _run_inproc(*args)
    assert code == 1 and f"ERROR (asrkit-train): {inputs}/../inputs: is the {option} dir, not an exp dir" in err, err
    assert sorted(p.name for p in inputs.iterdir()) == before


def test_a_data_dir_given_as_the_exp_dir_is_refused(yesno_setup, tmp_path):
    """'--valid-dir' left off before dump/dev made it EXP_DIR: the run trained into the dev set's dir."""
    dev = tmp_path / "dev"
    shutil.copytree(yesno_setup / "dump" / "dev", dev)
    args = train_args(yesno_setup, dev)
    del args[args.index("--valid-dir"):args.index("--valid-dir") + 2]
    code, err = _run_inproc(*args)
    assert code == 1 and f"ERROR (asrkit-train): {dev}: holds feats.scp, so it is a data dir, not an exp dir" in err, err
    assert not (dev / "log").exists() and not (dev / ".lock").exists()


def test_a_file_given_as_the_lang_dir_is_named(yesno_setup, tmp_path):
    """--lang-dir data/lang/tokens.model (the model for its dir) said 'data/lang/tokens.model/tokens.model:
    no such file (make it with asrkit-train-tokenizer)', sending the user to remake a sound tokenizer."""
    model = yesno_setup / "data" / "lang" / "tokens.model"
    args = train_args(yesno_setup, tmp_path / "exp")
    args[args.index("--lang-dir") + 1] = model
    code, err = _run_inproc(*args)
    assert code == 1 and (f"ERROR (asrkit-train): --lang-dir {model}: a file, not a directory (give the directory "
                          f"that holds tokens.model: {model.parent})") in err, err
    assert "make it with asrkit-train-tokenizer" not in err


def test_patience_without_a_dev_set_is_warned_about(yesno_setup, tmp_path):
    """Without --valid-dir no epoch has a dev metric, so training.patience never stopped anything and
    'best epoch 2 by valid_loss (None)' was all the log said of model.pt: the last epoch."""
    args = train_args(yesno_setup, tmp_path / "exp", "--set", "training.patience=1")
    del args[args.index("--valid-dir"):args.index("--valid-dir") + 2]
    code, err = _run_inproc(*args)
    assert code == 0, err
    assert ("no --valid-dir: training.patience 1 stops nothing (early stopping watches valid_loss on the dev set); "
            "every one of training.max_epochs=2 epochs runs") in err, err
    assert "model.pt: the last epoch, 2 (no epoch has a valid_loss: trained without a dev set)" in err, err
    assert "(None)" not in err


@pytest.mark.parametrize("make, kind", [
    (lambda p: p.mkdir(), "a directory"),
    (lambda p: os.mkfifo(p), "a named pipe"),
    (lambda p: p.symlink_to(p.parent / "gone.yaml"), "a broken symbolic link"),
])
def test_a_feature_config_beside_the_features_that_is_no_file_is_named(yesno_setup, tmp_path, caplog, make, kind):
    """A directory, a named pipe or a dangling link at <train-dir>/fbank.yaml was warned about as
    'no --fbank-config and no .../fbank.yaml', and model.pt packed without the options it was there for."""
    from asrkit.training.config import resolve_fbank_config

    train = tmp_path / "train"
    shutil.copytree(yesno_setup / "dump" / "train", train)
    (train / "fbank.yaml").unlink()
    make(train / "fbank.yaml")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{train}/fbank.yaml: {kind}") + ".*, not the feature config"):
        resolve_fbank_config(str(train), None)


def test_dev_features_made_with_other_fbank_options_are_refused(yesno_setup, tmp_path):
    """Dev features of a 20 ms shift (a training set re-dumped with new options, its dev set left as
    it was) were validated on in silence: only their dimension was compared, and the dev loss and the
    best epoch measured features the model never saw."""
    dev = tmp_path / "dev"
    shutil.copytree(yesno_setup / "dump" / "dev", dev)
    train_fbank = FbankConfig.from_yaml(yesno_setup / "dump" / "train" / "fbank.yaml")
    FbankConfig(**{**train_fbank.to_dict(), "frame_shift": 20.0}).to_yaml(dev / "fbank.yaml")
    args = train_args(yesno_setup, tmp_path / "exp", "--set", "training.max_epochs=1")
    args[args.index("--valid-dir") + 1] = dev
    code, err = _run_inproc(*args)
    assert code == 1, err
    assert (f"ERROR (asrkit-train): {dev}/fbank.yaml: the dev features were made with other options than the "
            f"training features (frame_shift: 10.0 -> 20.0)") in err, err
    assert not list((tmp_path / "exp").glob("checkpoints/*.pt"))
    # an option that changes no feature's meaning (dither) is said, not refused
    FbankConfig(**{**train_fbank.to_dict(), "dither": 1.0}).to_yaml(dev / "fbank.yaml")
    code, err = _run_inproc(*args)
    assert code == 0, err
    assert f"{dev}/fbank.yaml: the dev features were made with other options than the training features " \
           f"(dither: 0.0 -> 1.0)" in err, err


def test_best_epoch_by_decoder_accuracy_is_refused_for_ctc_alone(yesno_setup, tmp_path):
    """model.ctc_weight 1 never trains the attention decoder, whose token accuracy valid_acc is: its
    ties at 0.0 chose epoch 1 for model.pt over the dev loss's best epoch, with exit 0."""
    args = train_args(yesno_setup, tmp_path / "exp", "--set", "model.ctc_weight=1.0", "--set",
                      "training.best_metric=valid_acc", "--set", "training.max_epochs=1")
    code, err = _run_inproc(*args)
    assert code == 1, err
    assert ("ERROR (asrkit-train): --set 'training.best_metric=valid_acc': training.best_metric valid_acc is the "
            "attention decoder's token accuracy, and model.ctc_weight 1 (CTC alone) never trains the decoder") in err, err
    assert not list((tmp_path / "exp").glob("checkpoints/*.pt"))
    args[args.index("training.best_metric=valid_acc")] = "training.best_metric=valid_cer"
    code, err = _run_inproc(*args)
    assert code == 0, err


def test_a_feature_config_that_does_not_describe_the_dumped_features_is_refused(yesno_setup, tmp_path):
    """--fbank-config saying a 20 ms shift for features whose own fbank.yaml says 10 ms was packed into
    model.pt in silence (only the dimension was compared): the model then computed other features
    from audio than it learnt from."""
    fbank = FbankConfig.from_yaml(yesno_setup / "dump" / "train" / "fbank.yaml")
    other = tmp_path / "fbank20.yaml"
    FbankConfig(**{**fbank.to_dict(), "frame_shift": 20.0}).to_yaml(other)
    code, err = _run_inproc(*train_args(yesno_setup, tmp_path / "exp", "--fbank-config", other))
    assert code == 1, err
    assert (f"ERROR (asrkit-train): the feature config (--fbank-config) is not the one "
            f"{yesno_setup}/dump/train/fbank.yaml records the training features were made with (frame_shift: 10.0 "
            f"-> 20.0)") in err, err
    assert not list((tmp_path / "exp").glob("checkpoints/*.pt"))
