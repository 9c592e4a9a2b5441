"""Two runs of a recipe at once (one per training config, say) go through the stages that write
the shared data/ and dump/ one at a time (bin/data_lock.sh): the second waits, says so, and then
finds the first one's work done. Before, both rewrote and merged the same feature pieces at once."""
from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

from recipe_helpers import path_without, run_sh

WAIT_LINE = "waiting for another run in"


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 300.0) -> None:
    """Until ``text`` is in ``path`` (the run's stderr); the run ending first is a failure. The
    timeout only bounds a hang: no step here depends on how fast the machine is."""
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert proc.poll() is None, f"the run ended ({proc.returncode}) without waiting:\n{path.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {text!r} after {timeout:.0f} s:\n{path.read_text()[-3000:]}"
        time.sleep(0.2)


def _start(recipe: Path, args, log: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(log, "w") as err:
        return subprocess.Popen(["./run.sh", *args], cwd=recipe, stdout=subprocess.DEVNULL, stderr=err, env=env)


def _hold(recipe: Path):
    (recipe / "data").mkdir(exist_ok=True)
    f = open(recipe / "data/.lock", "a")
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what another run's flock(1) holds
    return f


def test_a_second_run_waits_for_the_data_stages(recipe_dir, tmp_path):
    recipe = recipe_dir("yesno")
    log = tmp_path / "run.err"

    # Stage 0 waits while another run holds the lock, and writes nothing meanwhile. (--nj 1: one
    # feature job a set, a process that imports torch; the lock is taken before any job)
    held = _hold(recipe)
    proc = _start(recipe, ["--stop-stage", "1", "--nj", "1"], log)
    try:
        _wait_for(log, WAIT_LINE, proc)
        assert "before stage 0" in log.read_text()
        assert not (recipe / "data/train_nodev").exists()
        held.close()  # the other run ends
        assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    finally:
        proc.kill()
    assert (recipe / "dump/train_nodev/.done").is_file()
    assert (recipe / "data/.lock").read_text().strip().isdigit()  # the holder's pid, for the next one's message

    # asr.sh's stages 1-3 likewise: stage 2 waits, then trains the tokenizer. Its input is not
    # there yet (the other run's stage 0 still making it): asr.sh's check of the inputs from
    # earlier stages waits for the lock and looks again, not "run stage 0 first" at once.
    held = _hold(recipe)
    text = recipe / "data/train_nodev/text"
    text.rename(tmp_path / "text")
    proc = _start(recipe, ["--stage", "2", "--stop-stage", "2"], log)
    try:
        _wait_for(log, WAIT_LINE, proc)
        assert "before stage 2" in log.read_text() and not (recipe / "data/lang_char").exists()
        (tmp_path / "text").rename(text)
        held.close()
        assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    finally:
        proc.kill()
    assert (recipe / "data/lang_char/.done").is_file()

    # Stages 4-6 take no such lock (training and decoding run side by side, each exp dir locked
    # by asrkit-train); a held lock does not stop a run that starts there: its option check fails
    # first here (no model), without waiting.
    held = _hold(recipe)
    try:
        proc = run_sh(["./run.sh", "--stage", "6"], cwd=recipe, check=False, timeout=300)
    finally:
        held.close()
    assert proc.returncode != 0 and WAIT_LINE not in proc.stderr


def test_a_run_without_flock_warns_and_goes_on(recipe_dir, tmp_path):
    """flock(1) is util-linux's: a machine without it runs the stages unguarded, as before, and
    says so."""
    recipe = recipe_dir("yesno")
    proc = run_sh(["./run.sh", "--stop-stage", "0"], cwd=recipe, env={"PATH": path_without(["flock"], tmp_path / "bin")})
    assert "no flock(1)" in proc.stderr and (recipe / "data/train_nodev/text").is_file()


def _fake_decoding(recipe: Path) -> Path:
    """A finished decoding of exp/train_char for stage 6 to score (its empty .done is an old
    asr.sh's marker, trusted), with the data/test it is scored against."""
    utts = [f"yesno-{i:02d}" for i in range(4)]
    (recipe / "data/test").mkdir(parents=True)
    (recipe / "data/test/text").write_text("".join(f"{u} YES NO\n" for u in utts))
    (recipe / "data/test/utt2spk").write_text("".join(f"{u} yesno\n" for u in utts))
    dec = recipe / "exp/train_char/decode_test_decode"
    dec.mkdir(parents=True)
    (dec / "text").write_text("".join(f"{u} YES NO\n" for u in utts))
    (dec / ".done").write_text("")
    return recipe / "exp/train_char"


def test_decoding_and_scoring_one_exp_go_one_run_at_a_time(recipe_dir, tmp_path):
    """Two stage 5 runs of one exp dir decoded into the same decode dirs at once; stages 5-6 now
    hold <exp>/.decode.lock, and a second run waits for it, says so, then goes on."""
    recipe = recipe_dir("yesno")
    exp = _fake_decoding(recipe)
    log = tmp_path / "run.err"
    held = open(exp / ".decode.lock", "a")
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    proc = _start(recipe, ["--stage", "6"], log)
    try:
        _wait_for(log, WAIT_LINE, proc)
        assert "to finish decoding and scoring exp/train_char" in log.read_text()
        assert not (recipe / "RESULTS.md").exists()  # nothing scored while it waits
        held.close()
        assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    finally:
        proc.kill()
    assert "| test | 0.00 | 0.00 |" in (recipe / "RESULTS.md").read_text()
    # The data lock is not this one: held, it does not keep stage 6 waiting.
    held = _hold(recipe)
    try:
        proc = run_sh(["./run.sh", "--stage", "6"], cwd=recipe, timeout=300)
    finally:
        held.close()
    assert WAIT_LINE not in proc.stderr


def test_stage_5_refuses_an_exp_another_run_is_training(recipe_dir):
    """Stage 5 decoded the model of an exp dir another run was training (asrkit-train's flock on
    <exp>/.lock), a model about to be replaced; it says so, as stage 4 does, before any work."""
    recipe = recipe_dir("yesno")
    exp = _fake_decoding(recipe)
    (recipe / "dump/test").mkdir(parents=True)
    (recipe / "dump/test/feats.scp").write_text("")
    training = open(exp / ".lock", "a")
    fcntl.flock(training, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        proc = run_sh(["./run.sh", "--stage", "5"], cwd=recipe, check=False, timeout=300)
    finally:
        training.close()
    assert proc.returncode == 1, proc.stderr
    assert "stage 5: exp/train_char is being trained by another run (it holds exp/train_char/.lock)" in proc.stderr
    assert not (exp / "final.pt").exists() and not (recipe / "RESULTS.md").exists()
