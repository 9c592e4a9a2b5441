"""DDP on CPU (gloo, 2 processes under torchrun): the trainer's gradients equal one process on the whole batch."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from asrkit.training import checkpoint as ckpt

from .ddp_grads import build, grads
from .yesno_dump import launch_two_ranks, train_args

HERE = Path(__file__).parent


def _torchrun(*args, timeout=300) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           *map(str, args)], capture_output=True, env=env, timeout=timeout)


def test_ddp_gradients_equal_single_process(yesno_setup, tmp_path):
    proc = _torchrun(HERE / "ddp_grads.py", yesno_setup, tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    g0 = torch.load(tmp_path / "grads0.pt", weights_only=True)  # torch 2.5 warns without it
    g1 = torch.load(tmp_path / "grads1.pt", weights_only=True)

    torch.set_num_threads(1)
    trainer, ds, collate = build(yesno_setup)
    trainer.forward_backward(collate([ds[i] for i in range(4)]))  # the combined batch, one process
    ref = grads(trainer)
    assert ref.keys() == g0.keys() == g1.keys()
    for name, g in ref.items():
        torch.testing.assert_close(g0[name], g1[name], rtol=0, atol=0)  # every rank has the same gradient
        torch.testing.assert_close(g0[name], g, rtol=1e-4, atol=1e-6, msg=name)
    # and the comparison can fail: one half alone gives other gradients
    trainer.optimizer.zero_grad()
    trainer.forward_backward(collate([ds[0], ds[1]]))
    assert any(not torch.allclose(p, ref[n], rtol=1e-3) for n, p in grads(trainer).items())


@pytest.fixture(scope="module")
def torchrun_training(yesno_setup, tmp_path_factory):
    """(out dir, process) of one 2-rank ``asrkit train`` (1 epoch) under torchrun, through
    gloo_threads.py, which calls the command's main as its console script does and notes each
    rank's gloo threads: the run of both tests below (each torchrun start of 2 ranks costs 15-30 s
    on 2 loaded cores; tests/conftest.py keeps the two on one xdist worker)."""
    out = tmp_path_factory.mktemp("torchrun")
    args = train_args(yesno_setup, out / "exp", "--set", "training.max_epochs=1")
    return out, _torchrun(HERE / "gloo_threads.py", out, *args)


def test_train_under_torchrun(torchrun_training):
    """The command itself under torchrun: 2 ranks train, only rank 0 writes, one checkpoint per epoch."""
    out, proc = torchrun_training
    exp = out / "exp"
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-3000:]
    assert "rank 0 of 2 (gloo, cpu)" in err and "per rank (2 ranks)" in err
    # (said once: torchrun passes no SIGUSR1 on without --signals-to-handle, docs/launch.md)
    assert err.count("start torchrun with --signals-to-handle SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1") == 1, err[-3000:]
    assert (exp / "checkpoints" / "epoch1.pt").is_file() and (exp / "model.pt").is_file()
    state = torch.load(exp / "checkpoints" / "epoch1.pt", weights_only=True)
    assert isinstance(state["rng"], list) and len(state["rng"]) == 2  # each rank's RNG, for an exact resume
    assert err.count("Done 1 epochs out of 1") == 1  # the summary comes from rank 0 only


def test_a_finished_training_ends_the_groups_threads_before_python_exits(torchrun_training):
    """Every rank's gloo worker threads are joined when asrkit-train returns: left to the
    interpreter's exit (the group held by a reference cycle), one of them aborted a finished 2-rank
    training with SIGABRT, "terminate called without an active exception", about once in 40 runs
    (a CI failure on Slurm). Counted, not waited for: the old code left them there every time."""
    import json

    out, proc = torchrun_training
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-3000:]
    for rank in (0, 1):
        counts = json.loads((out / f"threads{rank}.json").read_text())
        assert counts["trained"] > 0, counts  # the count sees gloo's threads (torch names them)
        assert counts["returned"] == 0, (rank, counts)


def test_a_torchrun_restart_joins_a_new_group(tmp_path):
    """torchrun --max-restarts 1 after rank 1 failed: the restarted ranks' gloo group took its keys
    from torchrun's store, which outlives the first attempt, and connected to the dead attempt's
    addresses ("Connection refused") or waited past its timeout, in 7 restarts of 12 (review R)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "--max-restarts", "1", str(HERE / "restart_ranks.py")], capture_output=True, env=env,
                          timeout=400)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, err[-3000:]
    assert "attempt 1 rank 0 done" in out and "attempt 1 rank 1 done" in out, out


def test_launch_local_spawns_ranks(yesno_setup, two_rank_run, tmp_path):
    """What ``--ngpu N`` does, on CPU: N spawned processes join one gloo group and train (the run
    is conftest's two_rank_run, shared with test_stop_signal)."""
    from asrkit.utils.errors import AsrkitError

    state = torch.load(two_rank_run / "checkpoints" / "epoch1.pt", weights_only=True)
    assert len(state["rng"]) == 2 and (two_rank_run / "model.pt").is_file()

    with pytest.raises(AsrkitError, match="training process . exited with status 1"):
        launch_two_ranks(yesno_setup, tmp_path / "bad", lang_dir=str(tmp_path))


def _dump_with_bad(yesno_root, tmp_path, where):
    """A 40-utterance yesno dump (one utterance per batch at 700 frames: 20 batches per rank under
    seed 1) in which the utterance of each (rank, batch of epoch 1) in ``where`` points past the
    end of its ark; and those utterances."""
    from asrkit.training.sampler import BucketBatchSampler

    from .yesno_dump import global_cmvn, make_dump, yesno_waves

    train = make_dump(tmp_path / "train", yesno_waves(yesno_root)[:40])
    global_cmvn(train)
    lines = (train / "feats.scp").read_text().splitlines()
    frames = dict(line.split() for line in (train / "utt2num_frames").read_text().splitlines())
    lengths = [int(frames[line.split()[0]]) for line in lines]  # the utterance table's order: feats.scp's
    bad = []
    for rank, k in where:
        batch = BucketBatchSampler(lengths, 700, shuffle=True, seed=1, rank=rank, world_size=2).epoch_batches(1)[k]
        assert len(batch) == 1
        utt = lines[batch[0]].split()[0]
        lines[batch[0]] = f"{utt} {train / 'feats.ark'}:999999999"
        bad.append(utt)
    (train / "feats.scp").write_text("\n".join(lines) + "\n")
    return train, bad


def _train_ddp(yesno_setup, train, exp):
    args = train_args(yesno_setup, exp, "--set", "training.max_epochs=1", "--set", "batching.max_frames=700",
                      "--set", "training.valid_cer=false", "--set", "training.seed=1")
    args[args.index("--train-dir") + 1] = train
    args[args.index("--cmvn") + 1] = train / "cmvn.ark"
    return _torchrun("-m", "asrkit", *args)


def test_a_batch_all_bad_on_one_rank_does_not_stop_ddp(yesno_setup, yesno_root, tmp_path):
    """Under DDP a rank cannot just skip a batch whose utterances are all unreadable (the other
    rank waits for it in the gradient all-reduce): an earlier batch stands in at weight 0, the
    utterance is named and counted as on one process, and the run trains on. Two such of 40 on
    one rank are within Kaldi's 5 % of the epoch (2 <= 40 // 20), as on one process, although
    2 of that rank's 20 would not be."""
    train, bad = _dump_with_bad(yesno_root, tmp_path, [(0, 1), (0, 2)])
    exp = tmp_path / "exp"
    proc = _train_ddp(yesno_setup, train, exp)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-3000:]
    assert "rank 0 of 2 (gloo, cpu)" in err and (exp / "model.pt").is_file()
    assert "epoch 1: 2 of 40 training utts skipped: " in err and all(u in err for u in bad), err[-3000:]
    assert "999999999" in err  # the bad entry is named, where it is


def test_a_ranks_first_batch_all_bad_does_not_stop_ddp(yesno_setup, yesno_root, tmp_path):
    """The same when the all-bad batch is the rank's very first, with no earlier batch to stand
    in: the first readable training utterance does, at weight 0."""
    train, (bad_utt,) = _dump_with_bad(yesno_root, tmp_path, [(1, 0)])
    exp = tmp_path / "exp"
    proc = _train_ddp(yesno_setup, train, exp)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-3000:]
    assert "rank 1, epoch 1 batch 1: no earlier batch on this rank yet; 1 utterances x " in err, err[-3000:]
    assert bad_utt in err and "1 of 40 training utts skipped" in err, err[-3000:]
    assert (exp / "model.pt").is_file()


def test_kaldis_5_percent_counts_the_bad_utterances_of_all_ranks(yesno_setup, yesno_root, tmp_path):
    """Three bad utterances of 40 (two on one rank, one on the other) break Kaldi's 5 % of the
    epoch, though no rank alone has more than 2: both ranks stop with the same verdict."""
    train, bad = _dump_with_bad(yesno_root, tmp_path, [(0, 1), (0, 2), (1, 1)])
    exp = tmp_path / "exp"
    proc = _train_ddp(yesno_setup, train, exp)
    err = proc.stderr.decode()
    assert proc.returncode != 0
    # (each rank's own line: torchrun's closing summary quotes them again, through its error file)
    # (each names its rank: torchrun prints every rank's stderr to one terminal)
    lines = sorted(line for line in err.splitlines() if line.startswith(tuple(
        f"ERROR (asrkit-train rank {r} of 2): epoch 1: 3 of 40 training utts were skipped" for r in (0, 1))))
    assert len(lines) == 2 and lines[0].startswith("ERROR (asrkit-train rank 0") and lines[1].startswith(
        "ERROR (asrkit-train rank 1"), err[-3000:]
    assert all(u in lines[0] for u in bad) and "(on 2 ranks)" in lines[0], err[-3000:]
    assert "more than 5 % (Kaldi's rule)" in lines[0]
    assert not (exp / "model.pt").exists() and not ckpt.list_checkpoints(exp)


def test_launch_local_holds_its_master_port_while_the_ranks_run(monkeypatch, tmp_path):
    """--ngpu N: the port found free was let go at once and bound by rank 0 only after its start-up,
    free meanwhile for another training's --ngpu (two at once could share it) or any connection.
    It is held until the ranks end, still open to rank 0's store (SO_REUSEADDR)."""
    import errno
    import socket

    import torch.multiprocessing as mp

    from asrkit.training import train_asr

    seen = []

    def start_processes(fn, args, nprocs, join, start_method):
        port = args[2]
        plain = socket.socket()
        try:
            plain.bind(("127.0.0.1", port))
            seen.append("free for anyone")
        except OSError as e:
            seen.append("held" if e.errno == errno.EADDRINUSE else str(e))
        plain.close()
        with socket.socket() as server:  # (as torch's TCPStore binds)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", port))
            server.listen()
        seen.append(port)

    monkeypatch.setattr(mp, "start_processes", start_processes)
    train_asr.launch_local(train_asr.TrainArgs(exp_dir=str(tmp_path), train_dir="", valid_dir=None, lang_dir="",
                                               config=None), 2)
    assert seen[0] == "held", seen
    with socket.socket() as after:  # let go once the ranks have ended
        after.bind(("127.0.0.1", seen[1]))
