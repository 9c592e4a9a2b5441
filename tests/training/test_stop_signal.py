"""SIGUSR1 (Slurm's ``sbatch --signal=B:USR1@300``) stops asrkit-train at the next optimizer step
with checkpoints/interrupted.pt, exit 75; the same command run again continues from there and
ends with exactly the weights of a run never stopped."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest
import torch

from asrkit.training import checkpoint as ckpt
from asrkit.training.stop_signal import STOPPED_STATUS
from asrkit.training.timing import read_runs
from asrkit.training.trainer import Trainer
from asrkit.utils.errors import AsrkitError
from tests.cli_checks import run_in_process

from .stop_at_batch import stop_at, wait_for
from .test_ddp import HERE
from .test_resume import RANDOM, assert_same_run
from .test_train_lm import _lm_setup, _run_inproc
from .test_trainer import _Payload
from .yesno_dump import launch_two_ranks, train_args

# 12 batches of one utterance an epoch, an update every 2 of them, 2 epochs; everything random on.
STOP = [*RANDOM, "--seed", "7", "--set", "training.max_epochs=2", "--set", "batching.max_frames=700",
        "--set", "optim.accum_grad=2"]


# STOP as config keys, for the 2-rank runs (yesno_dump.launch_two_ranks; conftest's two_rank_run too).
TWO_RANKS = [value for key, value in zip(STOP, STOP[1:]) if key == "--set"]


def _train(yesno_setup, exp, *extra):
    return run_in_process("train", [str(a) for a in train_args(yesno_setup, exp, *STOP, *extra)[1:]])


@pytest.fixture(scope="module")
def never_stopped(yesno_setup, tmp_path_factory):
    exp = tmp_path_factory.mktemp("never_stopped") / "exp"
    result = _train(yesno_setup, exp)
    assert result.exit_code == 0, result.stderr
    return exp


def test_stopped_mid_epoch_resumes_exactly(yesno_setup, never_stopped, tmp_path, monkeypatch):
    exp = tmp_path / "exp"
    monkeypatch.setattr(Trainer, "forward_backward", Trainer.forward_backward)  # (put back afterwards)
    stop_at(15)  # epoch 2's batch 3, the first of an update's two: the stop comes after batch 4
    result = _train(yesno_setup, exp)
    monkeypatch.undo()
    assert result.exit_code == STOPPED_STATUS, result.stderr
    said = (f"stopped by SIGUSR1 in epoch 2 after batch 4 of 12 (step 8): its state is in "
            f"{exp}/checkpoints/interrupted.pt")
    assert said in result.stderr and said in (exp / "log" / "train.log").read_text()
    assert "ERROR" not in result.stderr and not (exp / "model.pt").exists()
    assert sorted(ckpt.list_checkpoints(exp)) == [1]  # interrupted.pt is no epoch's checkpoint
    state = ckpt.load_checkpoint(ckpt.mid_epoch_path(exp))
    assert state["mid_epoch"]["epoch"] == 2 and state["mid_epoch"]["batch"] == 4
    assert state["train_state"]["epoch"] == 1 and state["sampler"]["start"] == 4
    assert [(r.run, r.status, r.to_epoch) for r in read_runs(exp)] == [(1, "stopped", 1)]

    result = _train(yesno_setup, exp)
    assert result.exit_code == 0, result.stderr
    assert "interrupted.pt: epoch 1 done, and batch 4 of epoch 2 (stopped there), 8 steps" in result.stderr
    assert_same_run(never_stopped, exp, 2)  # weights, optimizer, RNG and the epochs' mean losses
    assert not ckpt.mid_epoch_path(exp).exists()  # behind epoch 2's checkpoint now
    assert [(r.run, r.status) for r in read_runs(exp)] == [(1, "stopped"), (2, "done")]


def test_signals_while_the_state_is_written_leave_the_earlier_one_whole(yesno_setup, never_stopped, tmp_path,
                                                                       monkeypatch):
    """Stopped once (interrupted.pt after epoch 2's batch 4), resumed and stopped again; while that
    second state is written a second SIGUSR1 changes nothing and a SIGTERM ends the process: the
    first interrupted.pt is left whole, no temporary file stays, and the run resumes exactly."""
    exp = tmp_path / "exp"
    monkeypatch.setattr(Trainer, "forward_backward", Trainer.forward_backward)
    stop_at(15)
    assert _train(yesno_setup, exp).exit_code == STOPPED_STATUS
    first = ckpt.mid_epoch_path(exp).read_bytes()
    stop_at(3)  # (counted afresh: batch 7 of epoch 2, so a stop after batch 8)
    save = torch.save

    def killed_while_saving(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and "mid_epoch" in obj:
            f.write(b"\0" * 4096)  # (part of it written)
            signal.raise_signal(signal.SIGUSR1)
            signal.raise_signal(signal.SIGTERM)
        return save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", killed_while_saving)
    result = _train(yesno_setup, exp)
    monkeypatch.undo()
    assert result.exit_code == 128 + signal.SIGTERM and "terminated by SIGTERM" in result.stderr, result.stderr
    assert ckpt.mid_epoch_path(exp).read_bytes() == first
    assert sorted(p.name for p in (exp / "checkpoints").iterdir()) == ["epoch1.pt", "interrupted.pt"]
    assert _train(yesno_setup, exp).exit_code == 0
    assert_same_run(never_stopped, exp, 2)


def test_a_signal_from_outside_stops_the_process_at_the_next_update(yesno_setup, never_stopped, tmp_path):
    """The real thing: SIGUSR1 sent to the process group (the process and its loader worker) while
    it trains epoch 1's batch 5 (where it waits for the test); a second one while it stops, and a
    third as it exits (which ended it with status 138, by the default action put back), change
    nothing; the rerun is exact."""
    exp, hold = tmp_path / "exp", tmp_path / "hold"
    hold.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ASRKIT_TEST_STOP_CALL": "5", "ASRKIT_TEST_STOP_HOLD": str(hold),
           "ASRKIT_TEST_STOP_AGAIN_AT_EXIT": "1"}
    proc = subprocess.Popen([sys.executable, HERE / "stop_at_batch.py", *map(str, train_args(yesno_setup, exp, *STOP))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
    wait_for(hold / "reached", proc)
    os.killpg(proc.pid, signal.SIGUSR1)  # (as Ctrl-C reaches a terminal's job, or kill -USR1 -- -<pgid>)
    os.killpg(proc.pid, signal.SIGUSR1)
    (hold / "go").write_text("")
    err = proc.communicate(timeout=600)[1].decode()
    assert proc.returncode == STOPPED_STATUS, err[-3000:]
    assert "stopped by SIGUSR1 in epoch 1 after batch 6 of 12 (step 3)" in err and "Traceback" not in err
    assert not ckpt.list_checkpoints(exp) and ckpt.mid_epoch_path(exp).is_file()
    result = _train(yesno_setup, exp)
    assert result.exit_code == 0, result.stderr
    assert_same_run(never_stopped, exp, 2)


def test_a_stop_before_the_first_batch_or_during_validation_waits_for_no_batch(yesno_setup, tmp_path, monkeypatch):
    """Asked before training starts: ends at once, no checkpoint written (the rerun starts afresh).
    Asked while an epoch is validated: the epoch's checkpoint is written, and the run ends there."""
    exp = tmp_path / "exp"
    resume = Trainer.resume
    monkeypatch.setattr(Trainer, "resume", lambda self: (signal.raise_signal(signal.SIGUSR1), resume(self))[1])
    result = _train(yesno_setup, exp)
    assert result.exit_code == STOPPED_STATUS, result.stderr
    assert ("stopped by SIGUSR1 before its first batch: nothing was trained, no checkpoint written; the same "
            "command run again starts it") in result.stderr
    # (written: its row, kept and counted by the next run; the message said "nothing written")
    assert [(r.run, r.status, r.to_epoch) for r in read_runs(exp)] == [(1, "stopped", 0)]
    assert not ckpt.has_checkpoints(exp)
    monkeypatch.undo()

    validate = Trainer.validate
    monkeypatch.setattr(Trainer, "validate",
                        lambda self, e: (signal.raise_signal(signal.SIGUSR1), validate(self, e))[1])
    result = _train(yesno_setup, exp)
    assert result.exit_code == STOPPED_STATUS, result.stderr
    assert f"stopped by SIGUSR1 after epoch 1: its state is in {exp}/checkpoints/epoch1.pt" in result.stderr
    assert sorted(ckpt.list_checkpoints(exp)) == [1] and not ckpt.mid_epoch_path(exp).exists()
    # (the first run's row stays: the second, finding no checkpoint, dropped it and its time)
    assert [(r.run, r.status, r.to_epoch) for r in read_runs(exp)] == [(1, "stopped", 0), (2, "stopped", 1)]


def test_runs_that_left_nothing_count_only_for_their_config(yesno_setup, tmp_path, monkeypatch):
    """Runs stopped before their first batch (or killed in epoch 1) keep their rows, and the same
    command run again counts their time; a run with another config (here another optim.lr) counted
    it too, another training's time as its own: their rows now go to train_runs.tsv.old."""
    exp = tmp_path / "exp"
    resume = Trainer.resume
    monkeypatch.setattr(Trainer, "resume", lambda self: (signal.raise_signal(signal.SIGUSR1), resume(self))[1])
    for run in range(1, 3):  # (a requeue: the same config)
        result = _train(yesno_setup, exp)
        assert result.exit_code == STOPPED_STATUS and "another config" not in result.stderr, result.stderr
        assert [r.run for r in read_runs(exp)] == list(range(1, run + 1))
    table = (exp / "log/train_runs.tsv").read_text()
    result = _train(yesno_setup, exp, "--set", "optim.lr=0.002")
    assert result.exit_code == STOPPED_STATUS, result.stderr
    assert (f"{exp}/log/train_runs.tsv: runs with another config or data that left nothing to resume, moved to "
            f"{exp}/log/train_runs.tsv.old (not counted in this training's time)") in result.stderr
    assert (exp / "log/train_runs.tsv.old").read_text() == table
    assert [(r.run, r.status) for r in read_runs(exp)] == [(1, "stopped")]
    # The same config on other data (asrkit-train by hand with another --train-dir) is another
    # training too: its fingerprint was the config's alone, and it counted that run's time as its own.
    table = (exp / "log/train_runs.tsv").read_text()
    other = shutil.copytree(yesno_setup / "dump/train", tmp_path / "train_copy")
    result = _train(yesno_setup, exp, "--set", "optim.lr=0.002", "--train-dir", other)
    assert result.exit_code == STOPPED_STATUS, result.stderr
    assert (exp / "log/train_runs.tsv.old").read_text() == table
    assert [(r.run, r.status) for r in read_runs(exp)] == [(1, "stopped")]


@pytest.mark.slow  # (four rank processes started, besides the 2-rank reference shared with test_ddp)
def test_two_ranks_stop_together_when_one_is_signalled(yesno_setup, two_rank_run, tmp_path, monkeypatch):
    """DDP (--ngpu 2's processes, gloo): rank 1 alone gets SIGUSR1 (at its 3rd batch); both ranks
    stop after the same update, and the rerun on 2 ranks ends its epoch with the weights of the
    2-rank run never stopped. The first process, ending with the ranks' status 75, keeps SIGUSR1
    blocked (its relay takes one that comes now): unblocked, it died of one (status 138)."""
    exp = tmp_path / "exp"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE / "stop_site"), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("ASRKIT_TEST_STOP_CALL", "3")
    monkeypatch.setenv("ASRKIT_TEST_STOP_RANK", "1")
    with pytest.raises(SystemExit) as stopped:
        launch_two_ranks(yesno_setup, exp, TWO_RANKS)
    assert stopped.value.code == STOPPED_STATUS
    assert signal.SIGUSR1 in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    said = "stopped by SIGUSR1 in epoch 1 after batch 4 of 6 (step 2)"
    assert said in (exp / "log" / "train.log").read_text()
    state = ckpt.load_checkpoint(ckpt.mid_epoch_path(exp))
    assert len(state["mid_epoch"]["ranks"]) == 2 and len(state["rng"]) == 2
    monkeypatch.delenv("ASRKIT_TEST_STOP_CALL")
    launch_two_ranks(yesno_setup, exp, TWO_RANKS)
    assert signal.SIGUSR1 not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # (a run that ended well)
    a = torch.load(two_rank_run / "checkpoints" / "epoch1.pt", weights_only=True)
    b = torch.load(exp / "checkpoints" / "epoch1.pt", weights_only=True)
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    losses = [[r["train_loss"] for r in x["train_state"]["history"]] for x in (a, b)]
    assert losses[0] == losses[1]  # (the epoch's mean over both ranks: the stopped run's sums carried over)


def test_a_mid_epoch_state_is_never_an_epochs_checkpoint(yesno_setup, never_stopped, tmp_path, monkeypatch):
    """interrupted.pt renamed to epoch<N>.pt would be ranked, averaged and packed as a finished epoch:
    it is refused as damaged; asrkit-average given it is refused too; damaged, it is named."""
    exp = tmp_path / "exp"
    monkeypatch.setattr(Trainer, "forward_backward", Trainer.forward_backward)
    stop_at(15)
    assert _train(yesno_setup, exp).exit_code == STOPPED_STATUS
    renamed = exp / "checkpoints" / "epoch1.pt"  # (the epoch it holds finished: its name checks out)
    shutil.copy(ckpt.mid_epoch_path(exp), renamed)
    with pytest.raises(AsrkitError, match="state within epoch 2, not at an epoch's end"):
        ckpt.load_checkpoint(renamed)
    result = run_in_process("average", [str(ckpt.mid_epoch_path(exp))])
    assert result.exit_code == 1 and "interrupted.pt" in result.stderr, result.stderr

    # Its running sums damaged: one line naming the file, not a traceback from the epoch's loop.
    state = torch.load(ckpt.mid_epoch_path(exp), weights_only=True)
    del state["mid_epoch"]["ranks"][0]["tot_loss"]
    torch.save(state, ckpt.mid_epoch_path(exp))
    shutil.copy(never_stopped / "checkpoints" / "epoch1.pt", renamed)  # (an epoch 1 to resume after)
    result = _train(yesno_setup, exp)
    assert result.exit_code == 1, result.stderr
    assert (f"{ckpt.mid_epoch_path(exp)}: cannot resume from this checkpoint: no 'tot_loss' entry; move it away"
            in result.stderr), result.stderr


def test_a_stop_is_not_continued_with_another_seed(yesno_setup, tmp_path, monkeypatch):
    """The seed orders an epoch's batches: continued where it stopped (after batch 4 of epoch 2) with
    another --seed, that epoch trained some utterances twice and others not at all, in silence.
    The epoch is trained again from its start instead, as for other batching options."""
    exp = tmp_path / "exp"
    monkeypatch.setattr(Trainer, "forward_backward", Trainer.forward_backward)
    stop_at(15)
    assert _train(yesno_setup, exp).exit_code == STOPPED_STATUS
    monkeypatch.undo()
    result = _train(yesno_setup, exp, "--seed", "8")
    assert result.exit_code == 0, result.stderr
    assert (f"{ckpt.mid_epoch_path(exp)}: its epoch's batches were shuffled with seed 7, this run's seed is 8, so "
            f"it cannot continue that epoch where it stopped: resuming from {exp}/checkpoints/epoch1.pt, epoch 2 "
            f"trained again from its start") in result.stderr, result.stderr
    assert "(stopped there)" not in result.stderr and not ckpt.mid_epoch_path(exp).exists()


def test_a_hostile_interrupted_pt_runs_nothing_and_is_passed_over(yesno_setup, never_stopped, tmp_path):
    """interrupted.pt is read as the epoch checkpoints are, with torch.load(weights_only=True): one
    handed over with a pickled call in it (here in its mid_epoch entry) runs nothing; it is named
    and passed over, and the run resumes from the epoch checkpoint beside it."""
    exp, marker = tmp_path / "exp", tmp_path / "pwned"
    (exp / "checkpoints").mkdir(parents=True)
    shutil.copy(never_stopped / "checkpoints" / "epoch1.pt", exp / "checkpoints" / "epoch1.pt")
    state = torch.load(exp / "checkpoints" / "epoch1.pt", weights_only=True)
    state["mid_epoch"] = {"epoch": 2, "batch": 4, "ranks": [{"note": _Payload(str(marker))}]}
    torch.save(state, ckpt.mid_epoch_path(exp))
    result = _train(yesno_setup, exp)
    assert result.exit_code == 0, result.stderr
    assert not marker.exists()
    assert (f"{ckpt.mid_epoch_path(exp)}: not an asrkit checkpoint (not a torch file, or one holding"
            in result.stderr), result.stderr
    assert f"skipped, resuming from {exp}/checkpoints/epoch1.pt" in result.stderr, result.stderr


def test_a_stopped_lm_training_resumes_exactly(tmp_path, an4_root, monkeypatch):
    """asrkit-train-lm shares the Trainer: stopped at its 50th batch (epoch 2) and run again, its
    checkpoints end with the weights and losses of a run never stopped (dropout on, shuffled)."""
    text, lang, conf = _lm_setup(tmp_path, an4_root)

    def lm(exp):
        return _run_inproc("train-lm", "--config", conf, "--lang-dir", lang, "--seed", "3", text, exp)

    assert lm(tmp_path / "ref")[0] == 0
    exp = tmp_path / "exp"
    monkeypatch.setattr(Trainer, "forward_backward", Trainer.forward_backward)
    stop_at(50)
    code, err = lm(exp)
    monkeypatch.undo()
    assert code == STOPPED_STATUS and "stopped by SIGUSR1 in epoch 2 after batch 5 of 45 (step 50)" in err, err
    assert not (exp / "lm.pt").exists()
    code, err = lm(exp)
    assert code == 0 and "batch 5 of epoch 2 (stopped there)" in err, err
    last = [torch.load(e / "checkpoints" / "epoch4.pt", weights_only=True) for e in (tmp_path / "ref", exp)]
    for k in last[0]["model"]:
        assert torch.equal(last[0]["model"][k], last[1]["model"][k]), k
    losses = [[r["train_loss"] for r in x["train_state"]["history"]] for x in last]
    assert losses[0] == losses[1]


@pytest.mark.parametrize("handled", [False, True])
def test_torchrun_passes_sigusr1_on_only_when_told_to(tmp_path, handled):
    """torchrun (2 CPU ranks) starts its ranks in sessions of their own and has no handler for
    SIGUSR1: one sent to it or its process group (asrkit-launch's batch script, a B: signal) ended
    it with status 138 and never reached the ranks, which trained on unowned. Its
    --signals-to-handle with SIGUSR1 (docs/launch.md) passes it on: each rank's own handler (as
    asrkit-train's) hears it and exits 75, and torchrun ends with 1, not by the signal. Without it
    asrkit-train's log says so (stop_signal.torchrun_passes_no_stop, from torchrun's environment)."""
    from .test_ddp import HERE, _torchrun

    told = ["--signals-to-handle", "SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1", "--shutdown-timeout", "120"]
    proc = _torchrun(*(told if handled else []), HERE / "stop_under_torchrun.py", tmp_path, timeout=120)
    heard = sorted(p.name for p in tmp_path.glob("heard*"))
    notes = {(tmp_path / f"ready{r}").read_text() for r in (0, 1)}
    if handled:
        assert proc.returncode == 1 and heard == ["heard0", "heard1"], proc.stderr.decode()[-3000:]
        assert notes == {""}
    else:
        assert proc.returncode == -signal.SIGUSR1 and heard == [], proc.stderr.decode()[-3000:]
        assert notes == {"torchrun passes on only SIGTERM,SIGINT,SIGHUP,SIGQUIT: a SIGUSR1 (Slurm's warning before "
                         "the time limit) ends torchrun and never reaches this training; to stop it with its state "
                         "saved, start torchrun with --signals-to-handle SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1 "
                         "(docs/launch.md)"}, notes


def test_no_torchrun_note_elsewhere(monkeypatch):
    """The note is torchrun's alone: none for a process torchrun did not start (srun, --ngpu N's
    ranks, a RANK set by hand), nor under a torchrun too old to say what it passes on."""
    from asrkit.training.stop_signal import torchrun_passes_no_stop

    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    monkeypatch.setenv("TORCHELASTIC_SIGNALS_TO_HANDLE", "SIGTERM")
    assert torchrun_passes_no_stop() is None
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    monkeypatch.delenv("TORCHELASTIC_SIGNALS_TO_HANDLE")
    assert torchrun_passes_no_stop() is None
    monkeypatch.setenv("TORCHELASTIC_SIGNALS_TO_HANDLE", "SIGTERM, SIGUSR1")
    assert torchrun_passes_no_stop() is None


def test_torchrun_note_gives_a_command_that_pastes(monkeypatch):
    """The signals torchrun was given with spaces ('SIGTERM, SIGINT', which torchrun strips) were
    quoted as given in the --signals-to-handle the note tells to use: two words in a shell."""
    from asrkit.training.stop_signal import torchrun_passes_no_stop

    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    monkeypatch.setenv("TORCHELASTIC_SIGNALS_TO_HANDLE", " SIGTERM, SIGINT ,")
    note = torchrun_passes_no_stop()
    assert note.startswith("torchrun passes on only SIGTERM,SIGINT: ") and \
        "--signals-to-handle SIGTERM,SIGINT,SIGUSR1 (docs/launch.md)" in note, note
    monkeypatch.setenv("TORCHELASTIC_SIGNALS_TO_HANDLE", "")
    note = torchrun_passes_no_stop()
    assert note.startswith("torchrun passes on no signal: ") and "--signals-to-handle SIGUSR1 (" in note, note
