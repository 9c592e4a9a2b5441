"""What a recipe stage left unfinished (killed, failed, or made for other inputs) is never taken as
done by a later stage run on its own."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from recipe_helpers import REPO, path_without, run_sh

UTTS = [f"yesno-{i:02d}" for i in range(20)]


def test_stage_6_scores_only_a_finished_decoding(recipe_dir):
    """A stage 5 killed (or failed) while merging its pieces leaves decode_<set>/text short of
    utterances and no .done: './run.sh --stage 6' scored it, the missing ones as deletions within
    Kaldi's 5 %, and added the row to RESULTS.md as the model's result. Likewise a decoding of the
    model from before stage 4 was run again (which removes the decodings' .done)."""
    recipe = recipe_dir("yesno")
    (recipe / "data/test").mkdir(parents=True)
    (recipe / "data/test/text").write_text("".join(f"{u} YES NO\n" for u in UTTS))
    (recipe / "data/test/utt2spk").write_text("".join(f"{u} yesno\n" for u in UTTS))
    stage6 = ["./run.sh", "--stage", "6"]
    # No decoding at all: said, and nothing made (an empty dump/ was)
    proc = run_sh(stage6, cwd=recipe, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "stage 6: no exp/train_char/decode_test_decode/text: run stage 5 first" in proc.stderr
    assert sorted(p.name for p in recipe.iterdir() if p.name in ("data", "dump", "exp")) == ["data"]
    dec = recipe / "exp/train_char/decode_test_decode"
    dec.mkdir(parents=True)
    (dec / "text").write_text("".join(f"{u} YES NO\n" for u in UTTS[:19]))  # cut short by the kill
    proc = run_sh(stage6, cwd=recipe, check=False)
    assert proc.returncode != 0 and f"stage 6: {dec.relative_to(recipe)}/text is not a finished decoding" in proc.stderr
    assert "run stage 5 again" in proc.stderr and not (recipe / "RESULTS.md").exists()
    (dec / ".done").write_text("decoded with other options\n")
    assert run_sh(stage6, cwd=recipe, check=False).returncode != 0 and not (recipe / "RESULTS.md").exists()
    # An empty marker is one from before markers recorded their inputs: trusted, as stage 5 does.
    (dec / ".done").write_text("")
    (dec / "text").write_text("".join(f"{u} YES NO\n" for u in UTTS))
    run_sh(stage6, cwd=recipe)
    assert "| test | 0.00 | 0.00 |" in (recipe / "RESULTS.md").read_text()
    # Run again over the same decoding, stage 6 added the same row (another date) every time.
    proc = run_sh(stage6, cwd=recipe)
    assert "stage 6: test: CER 0.00 %, WER 0.00 % (exp/train_char/decode_test_decode/wer.txt); its row is in " \
        "RESULTS.md already" in proc.stderr, proc.stderr
    assert (recipe / "RESULTS.md").read_text().count("| test | 0.00 | 0.00 |") == 1
    assert "done: stages 6..6" in proc.stderr  # (was "6..100", the default stop stage)
    # A row that differs (another decoding's numbers) is added.
    (dec / "text").write_text("".join(f"{u} YES YES\n" for u in UTTS))
    run_sh(stage6, cwd=recipe)
    assert (recipe / "RESULTS.md").read_text().count("| test |") == 2


def test_stage_1_features_whose_ark_or_cmvn_is_gone_are_made_again(yesno_stage2):
    """An ark deleted under dump/ (or the training set's cmvn.ark) left the set 'done already' in
    stage 1; it was found only when training or decoding read it. Stage 1 looks for every file its
    feats.scp names (arks_missing, below) and the cmvn.ark and makes such a set again, saying which
    file was missing."""
    recipe = yesno_stage2  # (./run.sh --yesno-root <yesno_root> --stop-stage 2 --nj 1)
    dump = recipe / "dump/train_nodev"
    scp = (dump / "feats.scp").read_text()
    (dump / "cmvn.ark").unlink()
    # (--nj as the shared run's: feats.scp names each job's ark, so the same split makes the same one)
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1"], cwd=recipe)
    assert "stage 1: dump/train_nodev/cmvn.ark is not there (deleted?): making dump/train_nodev again" in proc.stderr
    assert (dump / "cmvn.ark").is_file() and (dump / "feats.scp").read_text() == scp


def test_arks_missing_names_the_first_ark_gone_and_nothing_else(tmp_path):
    """stage 1's done check (arks_missing): each ark a feats.scp names once, as Kaldi writes it
    (offsets, row ranges, a relative path, a dump reached through a link, CR line ends); a command
    entry ('copy-feats ... |') is no file, where it was taken for one gone (the set made again)."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/b.ark").write_bytes(b"")
    (tmp_path / "dump/s/data").mkdir(parents=True)
    (tmp_path / "dump/s/data/a.ark").write_bytes(b"")
    (tmp_path / "dump/s/big").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "dump/raw").mkdir()
    (tmp_path / "dump/raw/wav.scp").write_text("u1 a.wav\n")
    (tmp_path / "dump/none").mkdir()
    script = r"""set -euo pipefail
eval "$(sed -n '/^arks_missing() {/,/^}/p' ASR_SH)"
for d in s raw none; do echo "$d:$(arks_missing "dump/$d")"; done
""".replace("ASR_SH", str(REPO / "egs/TEMPLATE/asr1/asr.sh"))

    def missing(lines):
        (tmp_path / "dump/s/feats.scp").write_text("".join(line + "\n" for line in lines))
        proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    ok = ["u1 dump/s/data/a.ark:15", "u2 dump/s/data/a.ark:99[0:3]", f"u3 {tmp_path}/dump/s/big/b.ark:7\r",
          "u4 copy-feats ark:dump/s/data/gone.ark ark:- |"]
    assert missing(ok) == "s:\nraw:\nnone:dump/none/feats.scp\n"
    assert missing(ok + ["u5 dump/s/data/gone.ark:12"]).startswith("s:dump/s/data/gone.ark\n")


def test_stage_4_tells_a_checkpoint_by_asrkits_rule(tmp_path):
    """trained_on_other_inputs took any epoch*.pt for a checkpoint (compgen -G): with a stray
    epoch021.pt or epochX.pt, which asrkit-train passes over (it starts afresh and counts the rows
    of runs that finished no epoch), stage 4 refused the exp dir as trained on other data instead
    of moving those other data's rows aside. asr.sh and asrkit now agree on every name here
    (checkpoint.has_checkpoints; its 'epoch1.pt<newline>' was epoch 1 too)."""
    from asrkit.training import checkpoint as ckpt

    names = ["epoch1.pt", "epoch0.pt", "epoch12.pt", "epoch021.pt", "epoch.pt", "epochX.pt", "epoch1.pt.bak",
             "epoch\u0663.pt", "epoch1.pt\n", "epoch-1.pt", "epoch 1.pt", "interrupted.pt"]
    row = "# run\tstarted\tseconds\tfrom_epoch\tto_epoch\tstatus\n1\t2026-12-07T01:00:00Z\t600.0\t0\t0\tkilled\n"
    exps = []
    for i, name in enumerate(names + ["dangling epoch2.pt", "dangling interrupted.pt"]):
        exp = tmp_path / str(i)
        (exp / "checkpoints").mkdir(parents=True)
        (exp / "log").mkdir()
        (exp / "log/train_runs.tsv").write_text(row)
        (exp / "train_inputs").write_text("old inputs\n")
        if name.startswith("dangling "):
            (exp / "checkpoints" / name.split()[1]).symlink_to(tmp_path / "gone")
        else:
            (exp / "checkpoints" / name).write_bytes(b"")
        exps.append(exp)
    script = r"""set -euo pipefail
log() { echo "$*" >&2; }
current_stage=4
eval "$(sed -n '/^has_epoch_checkpoint() {/,/^}/p;/^trained_on_other_inputs() {/,/^}/p' ASR_SH)"
for exp; do if trained_on_other_inputs "$exp" "new inputs"; then echo other; else echo ours; fi; done
""".replace("ASR_SH", str(REPO / "egs/TEMPLATE/asr1/asr.sh"))
    proc = subprocess.run(["bash", "-c", script, "-", *map(str, exps)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    said = dict(zip(names + ["dangling epoch2.pt", "dangling interrupted.pt"], proc.stdout.split()))
    # Checkpoints there: trained on the old inputs, refused; none: the old inputs' rows moved aside.
    assert said == {name: "other" if ckpt.has_checkpoints(exp) else "ours" for name, exp in zip(said, exps)}
    assert [n for n, w in said.items() if w == "other"] == ["epoch1.pt", "epoch0.pt", "epoch12.pt", "interrupted.pt",
                                                          "dangling epoch2.pt"]
    for exp, whose in zip(exps, said.values()):
        assert (exp / "log/train_runs.tsv.old").is_file() == (whose == "ours")


def test_stage_markers_are_written_whole(tmp_path):
    """Every inputs-recording .done marker of asr.sh goes through mark_done (a temporary file, then
    a rename): 'echo ... > .done' on a disk that filled at that moment left an empty marker, which
    up_to_date accepts as an old asr.sh's, so the stage was never redone for other inputs."""
    asr = (Path(__file__).resolve().parents[2] / "egs/TEMPLATE/asr1/asr.sh").read_text()
    plain = [line.strip() for line in asr.splitlines() if re.search(r'>\s*"[^"]*\.done"', line)]
    assert not plain, plain
    assert len(re.findall(r"^\s*mark_done \"", asr, re.M)) >= 6
    func = next(line for line in asr.splitlines() if line.startswith("mark_done() "))
    marker = tmp_path / ".done"
    marker.write_text("old inputs\n")
    run = lambda: subprocess.run(["bash", "-c", f'{func}\nmark_done "$1" "new inputs"', "-", str(marker)])
    # a write that fails (here: the temporary name is taken by a directory) leaves the old marker whole
    (tmp_path / ".done.tmp").mkdir()
    assert run().returncode != 0 and marker.read_text() == "old inputs\n"
    (tmp_path / ".done.tmp").rmdir()
    assert run().returncode == 0 and marker.read_text() == "new inputs\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".done"]


# cmd.sh for the tests below: the real launcher, and an asrkit-train (or asrkit-train-lm: a function,
# which the launcher's bash -c inherits) that does what one stopped by SIGUSR1 in its first epoch
# does: it leaves checkpoints/interrupted.pt, logs where it stopped and exits 75 (its --print-config
# is the real one).
STOPPED_TRAINING_CMD = """\
export train_cmd="asrkit-launch --backend local" cuda_cmd="asrkit-launch --backend local" decode_cmd="asrkit-launch --backend local"
asrkit-train() {
  [[ " $* " != *" --print-config "* ]] || { command asrkit-train "$@"; return; }
  local exp=${*: -1}
  mkdir -p "$exp/checkpoints" && : > "$exp/checkpoints/interrupted.pt"
  echo "2026-12-07 01:02:03 WARNING [trainer] stopped by SIGUSR1 in epoch 1 after batch 4 of 6 (step 2): its state" \\
    "is in $exp/checkpoints/interrupted.pt; the same command run again continues from there" >&2
  return 75
}
export -f asrkit-train
"""


def test_stage_5_killed_while_writing_its_decoding_options_leaves_no_temp_file(yesno_stage2, tmp_path):
    """A run SIGKILLed (the OOM killer, a Slurm job's time limit) while asrkit-decode --print-config
    wrote exp/<tag>/final_decode.yaml.<pid>.tmp left that file for good: the next stage 5 wrote its
    own under its own pid. Holding the exp dir's lock, it removes them all: no other run is writing
    one then, whatever process has that pid now. Unguarded (no lock), it leaves them: the pid of a
    run on another host sharing exp/ says nothing on this one."""
    recipe = yesno_stage2  # (./run.sh --yesno-root <yesno_root> --stop-stage 2 --nj 1)
    exp = recipe / "exp/train_char"
    exp.mkdir(parents=True)
    # (stage 5 writes the options before it packs the model: one that is not one ends the run there)
    (exp / "model.pt").write_bytes(b"not a model")
    with subprocess.Popen(["./run.sh", "--stage", "5"], cwd=recipe, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, env=dict(os.environ, OMP_NUM_THREADS="1"),
                          start_new_session=True) as proc:
        deadline = time.monotonic() + 300  # (a hang bound)
        while not list(exp.glob("final_decode.yaml.*.tmp")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)  # (the whole run, asrkit-decode included)
    assert proc.returncode == -signal.SIGKILL and list(exp.glob("final_decode.yaml.*.tmp"))
    (exp / "final_decode.yaml.1.tmp").write_text("")  # (a killed run's, its pid another process's now)
    proc = run_sh(["./run.sh", "--stage", "5"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "pack_model.log" in proc.stderr, proc.stderr[-3000:]
    assert (exp / "final_decode.yaml").is_file() and not list(exp.glob("final_decode.yaml.*.tmp"))

    other_host_run = exp / "final_decode.yaml.4194305.tmp"  # (past any pid_max: no process here)
    other_host_run.write_text("")
    proc = run_sh(["./run.sh", "--stage", "5"], cwd=recipe, check=False,
                  env={"PATH": path_without(["flock"], tmp_path / "bin")})
    assert proc.returncode == 1 and "no flock(1)" in proc.stderr and "pack_model.log" in proc.stderr, proc.stderr[-3000:]
    assert other_host_run.is_file()


def test_stage_4_stopped_by_sigusr1_says_so_and_resumes_only_on_its_data(yesno_stage2):
    """A training stopped by SIGUSR1 (sbatch --signal=B:USR1@300) saves its state and exits 75: stage 4
    said 'stage 4 failed' (asrkit-launch's status 1), as if something were to fix; it says where
    the training stopped and exits 75 too. Stopped within its first epoch it has no epoch<N>.pt,
    only interrupted.pt: its recorded inputs were dropped as those of a start that failed, and a
    rerun on changed data resumed the stopped training on the new data in silence."""
    recipe = yesno_stage2  # (./run.sh --yesno-root <yesno_root> --stop-stage 2 --nj 1)
    (recipe / "cmd.sh").unlink()
    (recipe / "cmd.sh").write_text(STOPPED_TRAINING_CMD)
    stage4 = ["./run.sh", "--stage", "4", "--stop-stage", "4"]
    for _ in range(2):  # (run again on the same data, it goes on training)
        proc = run_sh(stage4, cwd=recipe, check=False)
        assert proc.returncode == 75, proc.stderr[-3000:]
        assert ("asr.sh: stage 4: training stopped by SIGUSR1 in epoch 1 after batch 4 of 6 (step 2): its state is in "
                "exp/train_char/checkpoints/interrupted.pt; rerun the same command to continue") in proc.stderr
        assert "failed" not in proc.stderr.replace("job failed (code 75)", ""), proc.stderr[-3000:]
    recorded = (recipe / "exp/train_char/train_inputs").read_text()
    (recipe / "exp/train_char/train_inputs").write_text("123-456\n")  # (as data made again would give)
    proc = run_sh(stage4, cwd=recipe, check=False)
    assert proc.returncode == 1 and "stage 4: exp/train_char was trained on other data" in proc.stderr, \
        proc.stderr[-3000:]
    # A start on other data that left nothing to resume (killed before its first checkpoint) left
    # its row in log/train_runs.tsv, which asrkit-train keeps and counts as the training's time:
    # moved aside, as not this training's. On the same data it stays.
    exp = recipe / "exp/train_char"
    runs, old_runs = exp / "log/train_runs.tsv", exp / "log/train_runs.tsv.old"
    # (a run that failed before training leaves the header alone: nothing to say)
    header = "# run\tstarted\tseconds\tfrom_epoch\tto_epoch\tstatus\n"
    row = header + "1\t2026-12-07T01:00:00Z\t600.0\t0\t0\tkilled\n"
    for inputs, table, moved in ((recorded, row, False), ("123-456\n", header, False), ("123-456\n", row, True)):
        shutil.rmtree(exp / "checkpoints")
        runs.write_text(table)
        (exp / "train_inputs").write_text(inputs)
        proc = run_sh(stage4, cwd=recipe, check=False)
        assert proc.returncode == 75, proc.stderr[-3000:]
        said = ("stage 4: exp/train_char/log/train_runs.tsv: runs on other inputs that left nothing to resume, moved "
                "to exp/train_char/log/train_runs.tsv.old (not counted in this training's time)")
        assert (said in proc.stderr) == moved, proc.stderr[-3000:]
        assert (runs.is_file(), old_runs.is_file()) == (not moved, moved)
    assert old_runs.read_text() == row


KILLED_TRAINING_CMD = """\
export train_cmd="asrkit-launch --backend local" cuda_cmd="asrkit-launch --backend local" decode_cmd="asrkit-launch --backend local"
asrkit-train() {
  [[ " $* " != *" --print-config "* ]] || { command asrkit-train "$@"; return; }
  kill -KILL $BASHPID
}
export -f asrkit-train
"""
# (a training that stops with its own error, as one refusing to resume an exp dir does)
FAILED_TRAINING_CMD = KILLED_TRAINING_CMD.replace(
    "kill -KILL $BASHPID", "echo 'ERROR (asrkit-train): exp/train_char: cannot resume: the model differs' >&2; return 1")


def test_stage_4_killed_says_that_running_it_again_resumes_from_its_checkpoints(yesno_stage2):
    """A training killed (the OOM killer, a job's time limit) said 'job failed (code 137: SIGKILL)
    ... stage 4 failed ... see exp/<tag>/log/train.log', and not that the same command run again
    resumes it from its last checkpoint. Said where there is one; a training killed before its
    first checkpoint has nothing to resume, and one that failed with its own error (exit 1, not a
    signal) fails there again."""
    recipe = yesno_stage2  # (./run.sh --yesno-root <yesno_root> --stop-stage 2 --nj 1)
    (recipe / "cmd.sh").unlink()
    (recipe / "cmd.sh").write_text(KILLED_TRAINING_CMD)
    stage4 = ["./run.sh", "--stage", "4", "--stop-stage", "4"]
    note = "its checkpoints are kept in exp/train_char/checkpoints: the same command run again resumes from the last one"
    proc = run_sh(stage4, cwd=recipe, check=False)
    assert proc.returncode == 1 and "stage 4 failed" in proc.stderr and note not in proc.stderr, proc.stderr[-3000:]
    checkpoints = recipe / "exp/train_char/checkpoints"
    checkpoints.mkdir()
    (checkpoints / "epoch1.pt").write_bytes(b"")  # (as the killed training left it)
    proc = run_sh(stage4, cwd=recipe, check=False)
    assert proc.returncode == 1 and "code 137: SIGKILL" in proc.stderr, proc.stderr[-3000:]
    assert "stage 4 failed: asrkit-launch" in proc.stderr and f"see exp/train_char/log/train.log; {note}" in \
        proc.stderr, proc.stderr[-3000:]
    # Not where the training stopped with its own error: run again, it stops there again.
    (recipe / "cmd.sh").write_text(FAILED_TRAINING_CMD)
    proc = run_sh(stage4, cwd=recipe, check=False)
    assert proc.returncode == 1 and "stage 4 failed" in proc.stderr and note not in proc.stderr, proc.stderr[-3000:]


def test_stage_3_resumes_a_stopped_lm_only_on_its_text(recipe_dir):
    """Stage 3 resumed an LM training stopped (SIGUSR1) or killed before it was done on whatever
    text it was now given: an LM of two texts, in silence. It records the LM's inputs when the
    training starts, as stage 4 does (trained_on_other_inputs), and trains one stopped on another
    text, tokenizer or config again from the start, as it does a finished one: the old one moves
    to exp/lm_<lang>.old."""
    recipe = recipe_dir("yesno")
    (recipe / "data/lang_char").mkdir(parents=True)
    (recipe / "data/lang_char/tokens.txt").write_text("<blank>\n<unk>\nN\nY\n<sos/eos>\n")
    (recipe / "data/train_nodev").mkdir(parents=True)
    (recipe / "data/train_nodev/text").write_text("yesno-00 YES NO\n")
    (recipe / "cmd.sh").unlink()
    (recipe / "cmd.sh").write_text(STOPPED_TRAINING_CMD.replace("asrkit-train", "asrkit-train-lm"))
    stage3 = ["./run.sh", "--stage", "3", "--stop-stage", "3", "--use-lm", "true"]
    for _ in range(2):  # (run again on the same text, it goes on training)
        proc = run_sh(stage3, cwd=recipe, check=False)
        assert proc.returncode == 75 and "stage 3: training stopped by SIGUSR1 in epoch 1" in proc.stderr, \
            proc.stderr[-3000:]
        assert "training it again" not in proc.stderr and not (recipe / "exp/lm_lang_char.old").exists()
    (recipe / "data/train_nodev/text").write_text("yesno-00 NO NO\n")
    proc = run_sh(stage3, cwd=recipe, check=False)
    assert proc.returncode == 75
    assert ("stage 3: data/train_nodev/text, data/lang_char/tokens.txt or conf/lm.yaml changed since "
            "exp/lm_lang_char was trained: training it again (the old one moved to exp/lm_lang_char.old)") \
        in proc.stderr, proc.stderr[-3000:]
    assert (recipe / "exp/lm_lang_char.old/checkpoints/interrupted.pt").is_file()
