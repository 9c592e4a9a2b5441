"""Recipes run for real: AN4 stages 0-2 on a slice (and the stage rules: skip what is done, stop
with the log's name on a failure), and the yesno quick start end to end."""
from __future__ import annotations

import re
import shutil
import time

import pytest
import yaml

from debian_packages import require_program
from recipe_helpers import path_without, printed_options, read_table, run_sh


@pytest.mark.slow
def test_an4_stages_0_to_2_on_a_slice(recipe_dir, an4_root):
    recipe = recipe_dir("an4")
    # 28 utterances: train_nodev gets 21, so its one unreadable recording (below) is within
    # Kaldi's 5 % (21 // 20 = 1); 20 would not be.
    run_sh(["./run.sh", "--an4-root", str(an4_root), "--max-utts", "28", "--stop-stage", "0"], cwd=recipe)
    # One recording is unreadable: stage 1 logs it, drops it from the dump dir and goes on.
    wav_scp = recipe / "data/train_nodev/wav.scp"
    lines = wav_scp.read_text().splitlines()
    bad_utt = lines[3].split()[0]
    (recipe / "empty.wav").write_bytes(b"")
    lines[3] = f"{bad_utt} {recipe / 'empty.wav'}"
    wav_scp.write_text("\n".join(lines) + "\n")
    # Without speed perturbation first (run.sh's default has it; it is checked below). One job a set:
    # each job is a process that imports torch; the runs below split the sets into two.
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "2", "--nj", "1", "--speed-perturb-factors", ""],
                  cwd=recipe)
    assert bad_utt not in read_table(recipe / "dump/train_nodev/text")
    assert bad_utt in "".join(p.read_text() for p in (recipe / "dump/train_nodev/log").glob("fbank.*.log"))
    for s, n in (("train_nodev", 20), ("train_dev", 7), ("test", 28)):
        dump = recipe / "dump" / s
        assert len(read_table(dump / "feats.scp")) == n
        assert set(read_table(dump / "text").items()) <= set(read_table(recipe / "data" / s / "text").items())
        assert (dump / ".done").is_file()
        run_sh(f". ./path.sh && asrkit-validate-data-dir --no-wav dump/{s}", cwd=recipe)
    assert (recipe / "dump/train_nodev/cmvn.ark").is_file()
    assert (recipe / "dump/train_nodev/fbank.yaml").is_file()
    tokens = (recipe / "data/lang_bpe30/tokens.txt").read_text().splitlines()
    assert tokens[0] == "<blank> 0" and tokens[-1].startswith("<sos/eos> ")

    # Re-running finished stages is safe and quick: every one is skipped.
    feats_before = (recipe / "dump/test/feats.scp").read_text()
    proc = run_sh(["./run.sh", "--an4-root", str(an4_root), "--max-utts", "28", "--nj", "1", "--speed-perturb-factors", "",
                   "--stage", "1", "--stop-stage", "2"], cwd=recipe)
    assert proc.stderr.count("done already") == 4, proc.stderr
    assert (recipe / "dump/test/feats.scp").read_text() == feats_before
    # ...but a stage-0 option given anew with another value changes nothing from --stage 1 on:
    # it ran on the 28-utterance data/ with exit 0, as the run of 40. Said before any stage.
    proc = run_sh(["./run.sh", "--an4-root", str(an4_root), "--max-utts", "40", "--stage", "1", "--stop-stage", "2"],
                  cwd=recipe, check=False)
    assert proc.returncode == 1 and "run.sh: ERROR: --max-utts '40': data/ was made by stage 0 with --max-utts " \
        "'28', and from --stage 1 on this option changes nothing: run from --stage 0" in proc.stderr, proc.stderr
    assert "stage 1" not in proc.stderr.split("ERROR")[0]

    # run.sh's default, --speed-perturb-factors "0.9 1.0 1.1" with --speed-perturb-method audio:
    # the train set's copies at each speed are FLAC files written in-process, with no sox on PATH
    # (the unreadable recording is skipped when the copies are made, so from every speed), and get
    # features and CMVN of their own.
    no_sox = {"PATH": path_without({"sox"}, recipe / "no-sox-bin")}
    run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "2"], cwd=recipe, env=no_sox)
    sp = read_table(recipe / "dump/train_nodev_sp/feats.scp")
    plain = read_table(recipe / "dump/train_nodev/feats.scp")
    assert set(sp) == {p + u for u in plain for p in ("", "sp0.9-", "sp1.1-")}
    assert (recipe / "dump/train_nodev_sp/cmvn.ark").is_file()
    copies = read_table(recipe / "data/train_nodev_sp/wav.scp")
    assert all(v.endswith(".flac") and "/data/train_nodev_sp/audio/sp" in v for k, v in copies.items() if k.startswith("sp"))
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "2", "--speed-perturb-method", "bogus"],
                  cwd=recipe, check=False, env=no_sox)
    assert proc.returncode == 1 and "--speed-perturb-method must be sox or audio, got 'bogus'" in proc.stderr
    # --speed-perturb-method sox: Kaldi's 'sox ... speed F |' pipes, the same utterances. (In a dump
    # dir of its own, where the test set's features would be made again too: not what this checks.)
    require_program("sox")
    run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1", "--speed-perturb-method", "sox",
            "--dumpdir", "dump_sox", "--test-sets", "train_dev"], cwd=recipe)
    assert set(read_table(recipe / "dump_sox/train_nodev_sp/feats.scp")) == set(sp)
    pipes = read_table(recipe / "data/train_nodev_sp/wav.scp")
    assert all(v.startswith("sox ") and v.endswith("|") for k, v in pipes.items() if k.startswith("sp"))

    # More than 5 % of a set unreadable: stage 1 stops, naming the logs, although each job alone
    # (2 of its 11, 1 of its 10) had something to write: the rule is for the whole set.
    before = wav_scp.read_text()
    lines = before.splitlines()
    for i in (5, 15):
        lines[i] = f"{lines[i].split()[0]} {recipe / 'empty.wav'}"
    wav_scp.write_text("\n".join(lines) + "\n")
    (recipe / "dump/train_nodev/.done").unlink()
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "2", "--speed-perturb-factors", ""],
                  cwd=recipe, check=False)
    assert proc.returncode != 0
    assert ("features for only 18 of the 21 utterances of data/train_nodev, more than 5 % failed (Kaldi's rule) "
            "-- see dump/train_nodev/log/fbank.*.log") in proc.stderr, proc.stderr

    # A failing stage stops the run and names the log to read (a model to start from that is not
    # there: what the config check before stage 0 cannot see). (data/ as the features were made
    # from: a data dir changed since stage 1 is refused before training.)
    wav_scp.write_text(before)
    proc = run_sh(["./run.sh", "--stage", "4", "--stop-stage", "6", "--tag", "bad", "--train-args", "--init nope.pt"],
                  cwd=recipe, check=False)
    assert proc.returncode != 0
    assert "stage 4 failed" in proc.stderr and "see exp/bad/log/train.log" in proc.stderr, proc.stderr
    assert "--init nope.pt: no such model file" in (recipe / "exp/bad/log/train.log").read_text()
    assert not (recipe / "exp/bad/.done").exists()
    # A config that cannot be read fails before any stage runs, naming the key.
    (recipe / "bad.yaml").write_text("model: {listener: {hidden: 8}}\noptim: {no_such_key: 1}\n")
    proc = run_sh(["./run.sh", "--stage", "4", "--stop-stage", "6", "--train-config", "bad.yaml"],
                  cwd=recipe, check=False)
    assert proc.returncode == 1 and "asr.sh: ERROR: --train-config: bad.yaml:2: unknown key 'optim.no_such_key'" \
        in proc.stderr, proc.stderr
    assert not (recipe / "exp/bad_bpe30_sp").exists()

    # Options are checked before any work starts.
    proc = run_sh(["./run.sh", "--an4-root", str(an4_root), "--ngpus", "1"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "unknown option --ngpus" in proc.stderr


@pytest.mark.slow
def test_yesno_end_to_end(recipe_dir, yesno_root):
    """The quick start: ./run.sh from stage 0 to the RESULTS.md row.

    Its speed (under 5 minutes on 2 cores) is a figure in egs/yesno/asr1/RESULTS.md, measured on
    a quiet machine, not asserted here: CI machines are loaded and tests do not depend on timing.

    The issue's target is 0 % test WER. Every model measured so far (RESULTS.md) makes exactly one
    error: a deleted NO in yesno-0_1_0_1_0_0_0_0 ("... NO NO NO NO"), so this checks for at most
    that one error of the 240 words; reaching 0 % is an open item, not something this hides.
    """
    recipe = recipe_dir("yesno")
    start = time.time()
    proc = run_sh(["./run.sh", "--yesno-root", str(yesno_root)], cwd=recipe, timeout=900)
    elapsed = time.time() - start
    wer_txt = (recipe / "exp/train_char/decode_test_decode/wer.txt").read_text()
    wer = float(re.search(r"^%WER ([0-9.]+)", wer_txt, re.M).group(1))
    rows = [l for l in (recipe / "RESULTS.md").read_text().splitlines() if l.startswith("| test |")]
    assert len(rows) == 1 and f"| {wer:.2f} |" in rows[0]
    assert len(read_table(recipe / "exp/train_char/decode_test_decode/text")) == 30
    errors = int(re.search(r"^%WER [0-9.]+ \[ (\d+) / 240,", wer_txt, re.M).group(1))
    assert errors <= 1, wer_txt + proc.stderr[-3000:]
    print(f"yesno end to end: {elapsed:.0f} s wall clock (RESULTS.md has the quiet-machine figure)")

    # exp/<tag>/final.pt is what an end user gets: decoded with no --config, it says what stage 5
    # said with conf/decode.yaml (beam 4 there, 10 by default), from the audio as from the features.
    assert "stage 5: exp/train_char/final.pt: exp/train_char/model.pt with the decoding options of " \
           "conf/decode.yaml" in proc.stderr
    stage5 = (recipe / "exp/train_char/decode_test_decode/text").read_text()
    proc = run_sh(". ./path.sh && asrkit-decode --model exp/train_char/final.pt --feats scp:dump/test/feats.scp | "
                  "LC_ALL=C sort", cwd=recipe)
    assert proc.stdout == stage5 and "beam 4, ctc 0.3" in proc.stderr, proc.stderr[-3000:]
    wavs = [line.split()[1] for line in (recipe / "data/test/wav.scp").read_text().splitlines()[:3]]
    proc = run_sh(". ./path.sh && asrkit-decode --model exp/train_char/final.pt " + " ".join(wavs), cwd=recipe)
    assert [line.split(" ", 1)[1] for line in proc.stdout.splitlines()] == \
        [line.split(" ", 1)[1] for line in stage5.splitlines() if line.split()[0].split("-", 1)[-1] in
         [w.rsplit("/", 1)[-1][:-4] for w in wavs]]

    # The speaker-adapted second pass: the first pass is reused, the transforms and the adapted
    # decoding go to decode_test_decode_adapt<its --adapt-args>, and stage 6 scores that one and
    # says so. (--lr 0.002: this model already fits the test set (0.069 per token), and the
    # default 0.01's two steps overshot it on one CPU (Intel: 0.0688 -> 0.0772, the identity kept)
    # and not on another (AMD).)
    proc = run_sh(["./run.sh", "--stage", "5", "--adapt-speakers", "true", "--adapt-args", "--epochs 2 --min-utts 5 --lr 0.002"], cwd=recipe,
                  timeout=600)
    assert "stage 5: exp/train_char/decode_test_decode done already" in proc.stderr
    adapted = recipe / "exp/train_char/decode_test_decode_adapt_epochs2_min-utts5_lr0.002"
    assert (adapted / "trans.ark").is_file() and len(read_table(adapted / "text")) == 30
    assert "speaker 'yesno': adapted on 15 of 30 utterances" in (adapted / "log/adapt.log").read_text()
    rows = [l for l in (recipe / "RESULTS.md").read_text().splitlines() if l.startswith("| test |")]
    assert len(rows) == 2 and "+ speaker adaptation (--epochs 2 --min-utts 5 --lr 0.002)" in rows[1]
    proc = run_sh(["./run.sh", "--stage", "5", "--stop-stage", "5", "--adapt-speakers", "true", "--adapt-args",
                   "--epochs 2 --min-utts 5 --lr 0.002"], cwd=recipe)
    assert f"stage 5: exp/train_char/{adapted.name} done already" in proc.stderr
    # Its options are checked before any stage, as the configs are (a bad share failed at stage 5).
    proc = run_sh(["./run.sh", "--stage", "5", "--adapt-speakers", "true", "--adapt-args", "--keep 2"], cwd=recipe,
                  check=False)
    assert proc.returncode == 1 and "--adapt-args '--keep 2': options: keep must be in (0, 1], got 2.0" in proc.stderr
    assert "stage 5:" not in proc.stderr


@pytest.mark.slow
def test_yesno_with_lm_end_to_end(yesno_stage2, yesno_root):
    """--use-lm true: stage 3 trains the recipe's conf/lm.yaml LM, stage 5 fuses it, stage 6 says so.

    A 2-epoch acoustic model keeps it short: what is checked is that the LM is trained, loaded and
    used with asr.sh's --lm-weight, not the accuracy (RESULTS.md has the full run's). (From stage 0
    on the shared run of stages 0-2, which stages 1 and 2 find done already: its options are theirs.)"""
    recipe = yesno_stage2
    # (--nj 1: one decoding job a run, a process that imports torch and loads the model and the LM)
    proc = run_sh(["./run.sh", "--yesno-root", str(yesno_root), "--use-lm", "true", "--lm-weight", "0.4",
                   "--train-args", "--set training.max_epochs=2", "--nj", "1"], cwd=recipe, timeout=900)
    lm_log = (recipe / "exp/lm_lang_char/log/train_lm.log").read_text()
    assert (recipe / "exp/lm_lang_char/lm.pt").is_file() and "# Ended (code 0)" in lm_log
    assert "stage 3: LM on data/train_nodev/text" in proc.stderr
    dec = recipe / "exp/train_char/decode_test_decode_lm0.4"  # (decode_lm: asr.sh's default weight, 0.3)
    assert len(read_table(dec / "text")) == 30
    logs = "".join(p.read_text() for p in sorted(dec.glob("log/decode.*.log")))
    assert "--lm exp/lm_lang_char/lm.pt --lm-weight 0.4" in logs and "lm 0.4" in logs, logs[-2000:]
    assert "is not used" not in logs
    rows = [l for l in (recipe / "RESULTS.md").read_text().splitlines() if l.startswith("| test |")]
    assert len(rows) == 1 and "conf/decode.yaml + LM (weight 0.4)" in rows[0]

    # Run again with another LM weight and --decode-args: the LM is kept, and the decoding goes to
    # a directory of those options, beside the weight-0.4 one (one directory for every weight and
    # beam kept only the last run's decoding, and RESULTS.md's rows of the others named it).
    # (the same --train-args: stage 4 is in the range, and another would be refused as other options)
    again = ["./run.sh", "--yesno-root", str(yesno_root), "--use-lm", "true", "--stage", "3", "--stop-stage", "5",
             "--train-args", "--set training.max_epochs=2", "--nj", "1"]
    sweep = ["--lm-weight", "0.2", "--decode-args", "--beam 3"]
    proc = run_sh(again + sweep, cwd=recipe, timeout=900)
    assert "stage 3: exp/lm_lang_char done already" in proc.stderr
    dec2 = recipe / "exp/train_char/decode_test_decode_beam3_lm0.2"
    assert f"-> exp/train_char/{dec2.name}\n" in proc.stderr, proc.stderr[-3000:]
    logs = "".join(p.read_text() for p in sorted(dec2.glob("log/decode.*.log")))
    assert "--lm-weight 0.2" in logs and "--lm-weight 0.4" not in logs and "--beam 3" in logs
    assert "--lm-weight 0.4" in "".join(p.read_text() for p in sorted(dec.glob("log/decode.*.log")))
    # final.pt carries what stage 5 decoded with: --decode-args and the LM weight on top of
    # conf/decode.yaml (beam 4), not the file alone; the weight applies with an LM, as documented.
    assert "+ --decode-args '--beam 3' + --lm-weight 0.2 (applied when decoding with --lm)" in proc.stderr
    packed = yaml.safe_load(run_sh(". ./path.sh && asrkit-decode --model exp/train_char/final.pt "
                                   "--lm exp/lm_lang_char/lm.pt --print-config", cwd=recipe).stdout)
    assert packed["beam"] == 3 and packed["lm_weight"] == 0.2, packed
    proc = run_sh(". ./path.sh && asrkit-decode --model exp/train_char/final.pt --print-config", cwd=recipe)
    assert yaml.safe_load(proc.stdout)["lm_weight"] == 0.0
    # Another LM config: the LM is trained again (its .done was a bare marker) and the decoding
    # that used the old LM is redone, in its directory (a byte-identical lm.pt would let it stand).
    lm_yaml = (recipe / "conf/lm.yaml").read_text()
    assert "hidden: 32" in lm_yaml
    # (in the recipe's own folder: its conf/ is a link into the checkout, which this wrote into)
    (recipe / "lm2.yaml").write_text(lm_yaml.replace("hidden: 32", "hidden: 24"))
    proc = run_sh(again + sweep + ["--lm-config", "lm2.yaml"], cwd=recipe, timeout=900)
    assert "changed since exp/lm_lang_char was trained: training it again" in proc.stderr, proc.stderr[-3000:]
    assert f"-> exp/train_char/{dec2.name}\n" in proc.stderr and f"{dec2.name} done already" not in proc.stderr
    assert "hidden: 24" in (recipe / "exp/lm_lang_char/lm.yaml").read_text()
    assert "hidden: 32" in (recipe / "exp/lm_lang_char.old/lm.yaml").read_text()
    # Nothing changed: both are skipped.
    proc = run_sh(again + sweep + ["--lm-config", "lm2.yaml"], cwd=recipe, timeout=900)
    assert "stage 3: exp/lm_lang_char done already" in proc.stderr
    assert f"stage 5: exp/train_char/{dec2.name} done already" in proc.stderr


@pytest.mark.slow
def test_changed_training_or_averaging_options_are_never_done_already(yesno_stage2, yesno_root):
    """Stage 4's marker recorded the data only: another train config, --train-args or --seed was
    "done already" and stage 6 wrote the new options into the old model's row; another --num-avg
    kept the old average, reported under the new N; a stage 5 with a misspelt --tag blamed the
    decode config; a start that failed before its first checkpoint blocked its tag for good."""
    recipe = yesno_stage2  # (stages 0-2 of the first run below found done already)
    # (--nj 1: one decoding job, a process that imports torch and loads the model; the decodings'
    # .done does not record it)
    args = ["./run.sh", "--yesno-root", str(yesno_root), "--train-args", "--set training.max_epochs=2", "--nj", "1"]
    run_sh(args + ["--stop-stage", "4", "--num-avg", "2"], cwd=recipe, timeout=900)
    exp = recipe / "exp/train_char"
    assert (exp / "model.avg.num").read_text().strip() == "2"
    for other in (["--train-args", "--set training.max_epochs=3"], ["--seed", "7"]):
        proc = run_sh(args + ["--stage", "4", "--stop-stage", "4", "--num-avg", "2"] + other, cwd=recipe, check=False)
        assert proc.returncode == 1 and "stage 4: exp/train_char was trained with other options" in proc.stderr, \
            proc.stderr[-2000:]
    # (in the recipe's own folder: its conf/ is a link into the checkout)
    (recipe / "train2.yaml").write_text((recipe / "conf/train.yaml").read_text() + "\n# edited\n")
    proc = run_sh(args + ["--stage", "4", "--stop-stage", "4", "--num-avg", "2", "--train-config", "train2.yaml",
                          "--tag", "train_char"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "trained with other options: train2.yaml's contents" in proc.stderr
    # the same options: done already
    proc = run_sh(args + ["--stage", "4", "--stop-stage", "4", "--num-avg", "2"], cwd=recipe)
    assert "stage 4: exp/train_char done already" in proc.stderr and "averaging" not in proc.stderr
    # another --num-avg: at stage 5 or 6 alone a clear error, at stage 4 averaged again
    for stage in ("5", "6"):
        proc = run_sh(args + ["--stage", stage, "--num-avg", "1"], cwd=recipe, check=False)
        assert proc.returncode == 1 and f"stage {stage}: exp/train_char/model.avg.pt averages 2 checkpoints, " \
            "--num-avg is 1: run stage 4 again" in proc.stderr, proc.stderr[-2000:]
    proc = run_sh(args + ["--stage", "4", "--stop-stage", "5", "--num-avg", "1"], cwd=recipe, timeout=900)
    assert "averaging the 1 best checkpoints again (--num-avg changed)" in proc.stderr
    assert (exp / "model.avg.num").read_text().strip() == "1" and "--num 1" in (exp / "log/average.log").read_text()
    # no model for the tag: said so, not blamed on the decode config
    proc = run_sh(args + ["--stage", "5", "--tag", "nosuch"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "stage 5: no exp/nosuch/model.pt: run stage 4 for --tag nosuch first" in \
        proc.stderr and "print-config" not in proc.stderr, proc.stderr[-2000:]
    # a start that failed before any checkpoint (no usable bpe tokenizer yet: a damaged tokens.model,
    # which passes asr.sh's check that some tokenizer is there, and fails the training's start)
    # does not block the tag
    bpe = args + ["--stage", "4", "--stop-stage", "4", "--token-type", "bpe", "--nbpe", "12", "--tag", "nb"]
    lang_bpe = recipe / "data/lang_bpe12"
    lang_bpe.mkdir()
    (lang_bpe / "tokens.model").write_bytes(b"not a sentencepiece model\n")
    proc = run_sh(bpe, cwd=recipe, check=False)
    assert proc.returncode == 1 and "stage 4 failed" in proc.stderr, proc.stderr[-2000:]
    assert (recipe / "exp/nb/train_inputs").is_file() and not (recipe / "exp/nb/checkpoints").exists()
    shutil.rmtree(lang_bpe)
    run_sh(args + ["--stage", "2", "--stop-stage", "2", "--token-type", "bpe", "--nbpe", "12"], cwd=recipe)
    run_sh(bpe, cwd=recipe, timeout=900)
    assert (recipe / "exp/nb/.done").is_file()
    # another run training the tag (holding the flock asrkit-train takes): refused before its
    # launcher writes the log over (the running training's log lost its head)
    import fcntl

    locked = recipe / "exp/locked"
    locked.mkdir()
    with open(locked / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        proc = run_sh(args + ["--stage", "4", "--stop-stage", "4", "--tag", "locked"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "stage 4: exp/locked is being trained by another run" in proc.stderr
    assert not (locked / "log").exists()


def test_a_stage0_option_from_stage_1_on_is_checked_against_what_made_data(recipe_dir, yesno_root):
    """--yesno-root given from --stage 1 on changed nothing, with exit 0 (issue sweep 13)."""
    recipe = recipe_dir("yesno")
    run_sh(["./run.sh", "--stop-stage", "0"], cwd=recipe)
    corpus = (recipe / "corpus").resolve()
    assert (recipe / "data/stage0_options").read_text() == f"yesno-root={corpus}\n"
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--yesno-root", str(yesno_root)], cwd=recipe,
                  check=False)
    assert proc.returncode == 1 and f"run.sh: ERROR: --yesno-root '{yesno_root.resolve()}': data/ was made by " \
        f"stage 0 with --yesno-root '{corpus}'" in proc.stderr, proc.stderr
    assert not (recipe / "dump").exists()
    # stage 0 again with it: data/ is made from it, and recorded so
    run_sh(["./run.sh", "--stage", "0", "--stop-stage", "0", "--yesno-root", str(yesno_root)], cwd=recipe)
    assert (recipe / "data/stage0_options").read_text() == f"yesno-root={yesno_root.resolve()}\n"


def test_use_lm_without_an_lm_config_fails_before_any_stage(recipe_dir):
    recipe = recipe_dir("yesno")
    proc = run_sh(["./run.sh", "--use-lm", "true", "--lm-config", "conf/none.yaml"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "--use-lm true needs the LM config conf/none.yaml (--lm-config)" in proc.stderr
    assert not (recipe / "data").exists()
    proc = run_sh(["./run.sh", "--use-lm", "yes"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "option --use-lm takes true or false, got 'yes'" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--stage", "abc"], "./run.sh: option --stage takes an integer, got 'abc'"),  # run.sh's own option
    (["--ngpu", "x"], "option --ngpu takes an integer, got 'x'"),  # failed only at stage 4, after the features
    (["--nj", "0"], "asr.sh: ERROR: --nj must be at least 1, got 0"),  # failed at stage 1 in a click message
    (["--num-avg", "-2"], "asr.sh: ERROR: --num-avg must be 0 or more, got -2"),
    # An empty range (a typo) exited 0 having done nothing.
    (["--stage", "5", "--stop-stage", "3"], "./run.sh: ERROR: --stage 5 is after --stop-stage 3: nothing to run"),
    # A stage number as an argument said only "unexpected arguments: 3 (see --help)"; run.sh's own
    # parsing names them now (bin/parse_options.sh), as it has the options before them.
    (["3"], "./run.sh: unexpected arguments: 3: stages are options: give --stage 3"),
    (["3", "5"], "./run.sh: unexpected arguments: 3 5: stages are options: give --stage 3 --stop-stage 5"),
    (["extra"], "./run.sh: unexpected arguments: extra (see ./run.sh --help)"),
    # asr.sh took the 4 alone: "give --stage 4"
    (["--stage", "3", "4"], "./run.sh: unexpected argument 4 after --stage 3: to run stages 3 to 4, give --stage 3 "
                            "--stop-stage 4"),
    # An empty set trained the tokenizer on data//text; a name with a space was two sets.
    (["--train-set", ""], "asr.sh: ERROR: --train-set '': give one data set name (data/<name>)"),
    (["--valid-set", "dev x"], "asr.sh: ERROR: --valid-set 'dev x': give one data set name (data/<name>)"),
    # exp/a/../../b is the recipe directory's b: the experiment was trained there, with exit 0
    (["--tag", "a/../../b"], "asr.sh: ERROR: --tag 'a/../../b': give a name for a directory under exp/"),
    (["--tag", "/tmp/x"], "asr.sh: ERROR: --tag '/tmp/x': give a name for a directory under exp/"),
    (["--tag", "."], "asr.sh: ERROR: --tag '.': give a name for a directory under exp/"),
    # exp was $expdir/$tag: /train_char, at the file system's root
    (["--expdir", ""], "asr.sh: ERROR: --expdir '': give a directory (default: exp)"),
    (["--dumpdir", ""], "asr.sh: ERROR: --dumpdir '': give a directory (default: dump)"),
    # asrkit-launch passes a word without white space to bash as it is (run.pl's habit): --tag
    # 'x$HOME' trained into exp/x/root, an apostrophe in a path wrote features into another tree
    (["--tag", "x$HOME"], "asr.sh: ERROR: --tag 'x$HOME' holds '$', which the jobs' shell would interpret"),
    (["--dumpdir", "o'dump"], "asr.sh: ERROR: --dumpdir 'o'dump' holds ''', which the jobs' shell would interpret"),
    (["--test-sets", "test;id"], "asr.sh: ERROR: --test-sets 'test;id' holds ';'"),
    (["--test-sets", "test test"], "asr.sh: ERROR: --test-sets 'test test': 'test' is named twice"),
    (["--lm-weight", "abc"], "asr.sh: ERROR: --lm-weight 'abc': not a number"),  # ignored without --use-lm
    # an option without its value: the error quoted '--print-config', which the user never typed
    (["--train-args", "--set"], "asr.sh: ERROR: --train-config with --train-args '--set': Option '--set' requires an argument"),
    (["--decode-args", "--beam"], "asr.sh: ERROR: --decode-config with --decode-args '--beam': Option '--beam' requires an argument"),
    # stage 6 appends to it: these failed with bash's "No such file or directory" after scoring
    (["--results", ""], "asr.sh: ERROR: --results '': give a file to append the rows to, in a folder that exists"),
    (["--results", "nodir/R.md"], "asr.sh: ERROR: --results 'nodir/R.md': give a file"),
    (["--results", "conf"], "asr.sh: ERROR: --results 'conf': give a file"),
])
def test_bad_numbers_fail_before_any_stage(recipe_dir, args, message):
    recipe = recipe_dir("yesno")
    proc = run_sh(["./run.sh", *args], cwd=recipe, check=False)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert "integer expression expected" not in proc.stderr and "unbound variable" not in proc.stderr
    assert not (recipe / "data").exists()


@pytest.mark.parametrize("args, message", [
    # Each failed only when its stage started: the decode config after the features and the whole
    # training, the train config after the features.
    (["--decode-config", "conf/nope.yaml"], "asr.sh: ERROR: --decode-config conf/nope.yaml: no such file in "),
    (["--train-config", "nope.yaml"], "asr.sh: ERROR: --train-config nope.yaml: no such file in "),
    (["--fbank-config", "nope.yaml"], "asr.sh: ERROR: --fbank-config nope.yaml: no such file in "),
    # And a config that is there but wrong, or a bad --train-args/--decode-args: each failed only at
    # its stage (stage 4 after the features, stage 5 after the whole training).
    (["--train-config", "conf/fbank.yaml"], "asr.sh: ERROR: --train-config: conf/fbank.yaml:2: unknown section 'num_mel_bins'"),
    (["--train-args", "--set optim.lr=abc"], "asr.sh: ERROR: --train-config with --train-args '--set optim.lr=abc': "
                                             "--set 'optim.lr=abc': optim.lr: expected a number (float), got 'abc'"),
    (["--train-args", "--sed 3"], "asr.sh: ERROR: --train-config with --train-args '--sed 3': No such option '--sed'"),
    (["--decode-config", "conf/train.yaml"], "asr.sh: ERROR: --decode-config: conf/train.yaml:6: unknown key"),
    (["--decode-args", "--beam 0"], "asr.sh: ERROR: --decode-config with --decode-args '--beam 0': options: beam must be"),
    # The budget failed at stage 4, after the features; the LM weight at stage 5, after the training.
    (["--train-max-time", "-5"], "asr.sh: ERROR: --train-config and --train-max-time '-5': --set 'training.max_time=-5': "
                                 "training.max_time must be >= 0 seconds"),
    (["--use-lm", "true", "--lm-weight", "nan"], "asr.sh: ERROR: --decode-config and --lm-weight 'nan': options: "
                                                 "lm_weight must be a finite number, got nan"),
    # With --feats-type raw these went to asrkit-train at stage 4, after the features.
    (["--speed-perturb-factors", "abc"], "--speed-perturb-factors 'abc': 'abc' is not a positive number"),
    (["--speed-perturb-factors", "0.9 0"], "--speed-perturb-factors '0.9 0': '0' is not a positive number"),
    (["--speed-perturb-factors", "1.0 -1", "--feats-type", "raw"], "'-1' is not a positive number"),
    (["--speed-perturb-factors", "1.0 *"], "'*' is not a positive number"),  # not globbed
    # past asrkit's range: failed at stage 1 (or in asrkit-train with --feats-type raw)
    (["--speed-perturb-factors", "0.9 1.0 100"], "'100' is outside [0.5, 2]"),
    (["--use-lm", "true", "--lm-train-text", "nope.txt"], "asr.sh: ERROR: --lm-train-text nope.txt: no such file in "),
    # A directory given as a config was "no such file", though it is there.
    (["--decode-config", "conf"], "asr.sh: ERROR: --decode-config conf: a directory, not a config file"),
    (["--use-lm", "true", "--lm-config", "conf"], "asr.sh: ERROR: --lm-config conf: a directory, not a config file"),
    # The fbank and LM configs' contents: a misspelt key failed in stage 1's jobs, or at stage 3
    # after the features.
    (["--fbank-config", "conf/decode.yaml"], "asr.sh: ERROR: --fbank-config: conf/decode.yaml:2: unknown fbank options 'beam'"),
    (["--fbank-args", "--num-mel-bins 0"], "asr.sh: ERROR: --fbank-config with --fbank-args '--num-mel-bins 0': "),
    (["--fbank-args", "--dither"], "asr.sh: ERROR: --fbank-config with --fbank-args '--dither': Option '--dither' requires an argument"),
    (["--use-lm", "true", "--lm-config", "conf/fbank.yaml"], "asr.sh: ERROR: --lm-config: conf/fbank.yaml:2: unknown key"),
    # A stray word in the *_args was taken for an argument at its stage: an exp dir of
    # asrkit-train's (the training failed, after the features), an audio file beside asrkit-decode's
    # --feats (after the whole training), a second wav.scp of asrkit-compute-fbank's.
    (["--train-args", "--set optim.lr=0.01 30"], "asr.sh: ERROR: --train-config with --train-args '--set optim.lr=0.01 30': "
                                                  "a word in it is neither an option nor an option's value"),
    (["--decode-args", "--beam 20 0.3"], "asr.sh: ERROR: --decode-config with --decode-args '--beam 20 0.3': "
                                         "a word in it is neither an option nor an option's value"),
    (["--fbank-args", "--dither 0 1"], "asr.sh: ERROR: --fbank-config with --fbank-args '--dither 0 1': "
                                       "a word in it is neither an option nor an option's value"),
    (["--adapt-speakers", "true", "--adapt-args", "--keep 0.3 0.5"],
     "asr.sh: ERROR: --adapt-args '--keep 0.3 0.5': a word in it is neither an option nor an option's value"),
    # An option asr.sh gives the command itself, given again in the *_args, came after its own and
    # counted: another model decoded and reported as exp/<tag>'s, another config than the decode
    # dir's name, an LM weight other than the one packed into final.pt.
    (["--decode-args", "--model exp/other/model.pt"], "asr.sh: ERROR: --decode-args '--model exp/other/model.pt': "
                                                      "--model is one of the options asr.sh gives itself: the model is "
                                                      "exp/<tag>'s, chosen by --tag and --num-avg"),
    (["--decode-args", "--beam 3 --config=conf/b.yaml"], "asr.sh: ERROR: --decode-args '--beam 3 --config=conf/b.yaml': "
                                                         "--config is one of the options asr.sh gives itself: give --decode-config"),
    (["--use-lm", "true", "--decode-args", "--lm-weight 0.5"], "asr.sh: ERROR: --decode-args '--lm-weight 0.5': --lm-weight "
                                                               "is one of the options asr.sh gives itself: give --lm-weight"),
    (["--adapt-speakers", "true", "--adapt-args", "--utt2spk data/test/utt2spk"],
     "asr.sh: ERROR: --adapt-args '--utt2spk data/test/utt2spk': --utt2spk is one of the options asr.sh gives itself: "
     "the stage gives it for each of --test-sets"),
    # Options of asrkit-decode that write one file: every one of stage 5's --nj jobs wrote it.
    (["--decode-args", "--beam 3 --ctm exp/ctm"], "asr.sh: ERROR: --decode-args '--beam 3 --ctm exp/ctm': --ctm writes "
                                                  "one file, and stage 5 decodes each set in --nj jobs"),
    (["--decode-args", "--segments-out=segs"], "asr.sh: ERROR: --decode-args '--segments-out=segs': --segments-out writes one file"),
    # An LM weight without --use-lm passed every check, and failed in each decoding job at stage 5.
    (["--decode-args", "--lm-weight 0.2"], "asr.sh: ERROR: --decode-args '--lm-weight 0.2' gives lm_weight 0.2, and "
                                           "--use-lm is false: there is no LM to fuse"),
    # ...after a tab too (the config, which has no lm_weight, was named)
    (["--decode-args", "--beam 3\t--lm-weight 0.2"], "asr.sh: ERROR: --decode-args '--beam 3\t--lm-weight 0.2' gives "
                                                     "lm_weight 0.2, and --use-lm is false"),
    # asrkit-adapt-speakers has neither: the hints named asr.sh options that do not reach it.
    (["--adapt-speakers", "true", "--adapt-args", "--lm-weight 0.5"],
     "asr.sh: ERROR: --adapt-args '--lm-weight 0.5': asrkit-adapt-speakers has no --lm-weight (it uses no LM"),
    (["--adapt-speakers", "true", "--adapt-args", "--nj 2"],
     "asr.sh: ERROR: --adapt-args '--nj 2': asrkit-adapt-speakers has no --nj (one job per test set"),
    # ...after a line break too, which the stages split on as on a space (and asr.sh reads as one).
    (["--decode-args", "--beam 3\n--model exp/other/model.pt"], "asr.sh: ERROR: --decode-args '--beam 3 --model "
                                                                 "exp/other/model.pt': --model is one of the options asr.sh gives itself"),
    # ESPnet's asr.sh names: "unknown option" alone left a user to search --help.
    (["--inference_config", "conf/decode.yaml"], "./asr.sh: unknown option --inference_config (see ./asr.sh --help): "
                                                 "ESPnet's --inference_config is --decode-config here"),
    # These were checked after run.sh's option check had exited 0: stage 0 ran to its end first.
    (["--token-type", "words"], "asr.sh: ERROR: --token-type must be char, bpe or unigram, got 'words'"),
    (["--feats-type", "mfcc"], "asr.sh: ERROR: --feats-type must be fbank or raw, got 'mfcc'"),
    (["--speed-perturb-method", "ffmpeg"], "asr.sh: ERROR: --speed-perturb-method must be sox or audio, got 'ffmpeg'"),
])
def test_missing_configs_and_bad_speed_factors_fail_before_any_stage(recipe_dir, args, message):
    recipe = recipe_dir("yesno")
    proc = run_sh(["./run.sh", *args], cwd=recipe, check=False)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert not (recipe / "data").exists()


def test_a_decode_config_with_an_lm_weight_needs_use_lm(recipe_dir):
    """A decode config with lm_weight > 0 and no --use-lm passed every start-up check, packed
    final.pt and failed in every decoding job ("lm_weight is 0.2 but no LM was given"); with
    --use-lm true asr.sh's --lm-weight is what counts, and the run goes on."""
    recipe = recipe_dir("yesno")
    (recipe / "lmw.yaml").write_text("beam: 4\nlm_weight: 0.2\n")
    proc = run_sh(["./run.sh", "--decode-config", "lmw.yaml"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "asr.sh: ERROR: --decode-config lmw.yaml has lm_weight 0.2, and --use-lm is " \
        "false: there is no LM to fuse (each decoding job would fail): give --use-lm true --lm-weight 0.2" in proc.stderr
    assert not (recipe / "data").exists()
    run_sh(["./run.sh", "--stop-stage", "0", "--decode-config", "lmw.yaml", "--use-lm", "true"], cwd=recipe)


def test_a_decode_directory_name_longer_than_a_file_name_can_be_fails_before_any_stage(recipe_dir, yesno_root):
    """decode_<set>_<config> is one file name, of at most 255 bytes: a --decode-config of a long name
    (decode_dir_name keeps the options' part short, not the config's) was trained for, then stage 5
    stopped at "rm: cannot remove 'exp/train_char/decode_test_ddd...': File name too long"."""
    recipe = recipe_dir("yesno")
    for n in (243, 244):  # decode_test_ and the name: 255 bytes, then 256
        (recipe / f"{'d' * n}.yaml").write_text((recipe / "conf/decode.yaml").read_text())
    run_sh(["./run.sh", "--print-config", "true", "--decode-config", f"{'d' * 243}.yaml"], cwd=recipe)
    proc = run_sh(["./run.sh", "--yesno-root", str(yesno_root), "--decode-config", f"{'d' * 244}.yaml"], cwd=recipe,
                  check=False)
    assert proc.returncode == 1 and (f"asr.sh: ERROR: --decode-config {'d' * 244}.yaml and --test-sets' test: the decode "
                                     f"directory, decode_test_{'d' * 244}, would be a file name of 256 bytes, more than "
                                     "the 255 a file name can have: give the config or the set a shorter name\n") \
        in proc.stderr, proc.stderr[-2000:]
    assert not (recipe / "data").exists()


def test_asr_sh_empty_stage_range_is_an_error(recipe_dir):
    """./asr.sh --stage 5 --stop-stage 3 exited 0 having done nothing; only run.sh's option check
    (--stage 1 --stop-stage 0) is an empty range on purpose."""
    recipe = recipe_dir("yesno")
    proc = run_sh(["./asr.sh", "--stage", "5", "--stop-stage", "3"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "asr.sh: ERROR: --stage 5 is after --stop-stage 3: nothing to run" in proc.stderr
    run_sh(["./asr.sh", "--stage", "1", "--stop-stage", "0"], cwd=recipe)
    # asr.sh's stage 0 (run.sh's) and stage 3 alone without --use-lm did nothing, exit 0 too.
    for args, message in ((["--stage", "0", "--stop-stage", "0"], "--stop-stage 0: asr.sh's stages are 1-6"),
                          (["--stage", "3", "--stop-stage", "3"], "--stage 3 --stop-stage 3: stage 3 trains the LM, which runs with --use-lm true")):
        proc = run_sh(["./asr.sh", *args], cwd=recipe, check=False)
        assert proc.returncode == 1 and f"asr.sh: ERROR: {message}" in proc.stderr, proc.stderr
    # A stage after the last (6) exited 0 too, saying "done: stages 7..9".
    proc = run_sh(["./run.sh", "--stage", "7", "--stop-stage", "9"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "asr.sh: ERROR: --stage 7: the last stage is 6 (scoring): nothing to run" in proc.stderr
    assert "done" not in proc.stderr, proc.stderr


def test_no_test_set_with_stage_5_or_6_in_the_range_fails_before_the_stages_work(recipe_dir):
    """--test-sets '' with stages 5 and 6 in the range decoded and scored nothing, exit 0. Without
    them (a training-only run) it is fine."""
    recipe = recipe_dir("yesno")
    run_sh(["./run.sh", "--stop-stage", "0"], cwd=recipe)
    proc = run_sh(["./run.sh", "--stage", "1", "--test-sets", " "], cwd=recipe, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "asr.sh: ERROR: --test-sets ' ': no set to decode and score (stages 5 and 6)" in proc.stderr
    assert not (recipe / "dump").exists()
    run_sh(["./asr.sh", "--stage", "1", "--stop-stage", "0", "--test-sets", ""], cwd=recipe)


def test_unknown_sets_fail_before_the_stage_works(recipe_dir):
    """A misspelt --test-sets failed after the training set's features (stage 1), or in stage 5
    with bash's "integer expression expected" before the split's own error."""
    recipe = recipe_dir("yesno")
    run_sh(["./run.sh", "--stop-stage", "0"], cwd=recipe)
    proc = run_sh(["./run.sh", "--stage", "1", "--test-sets", "test tset"], cwd=recipe, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "asr.sh: ERROR: no data/tset (--train-set, --valid-set, --test-sets): run stage 0 first" in proc.stderr
    assert not (recipe / "dump").exists()
    proc = run_sh(["./run.sh", "--stage", "5", "--test-sets", "tset"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "integer expression expected" not in proc.stderr, proc.stderr
    assert "asr.sh: ERROR: no dump/tset/feats.scp (--test-sets tset): run stage 1 first" in proc.stderr


def test_a_stage_without_its_inputs_says_which_stage_to_run_first(recipe_dir):
    """--stage 4 in a copy without dump/ launched the training, which failed in its job
    ("dump/train_nodev/fbank.yaml: no such file") and left exp/<tag>/log behind; --stage 3 (an LM)
    and 2 likewise, without a tokenizer or data/. Each says what to run first, as stages 1, 5 and
    6 do, and makes nothing."""
    recipe = recipe_dir("yesno")
    for args, message in (
            (["--stage", "4", "--stop-stage", "4"],
             "no dump/train_nodev/feats.scp (--train-set train_nodev, --valid-set train_dev): run stage 1 first"),
            (["--stage", "3", "--stop-stage", "3", "--use-lm", "true"],
             "no data/train_nodev/text (--train-set train_nodev): run stage 0 first"),
            (["--stage", "2", "--stop-stage", "2"], "no data/train_nodev/text (--train-set train_nodev): run stage 0 first")):
        proc = run_sh(["./run.sh", *args], cwd=recipe, check=False)
        assert proc.returncode == 1 and f"asr.sh: ERROR: {message}" in proc.stderr, (args, proc.stderr[-3000:])
        assert not any((recipe / d).exists() for d in ("data", "dump", "exp")), args
    run_sh(["./run.sh", "--stop-stage", "0"], cwd=recipe)
    for args, message in (
            (["--stage", "3", "--stop-stage", "3", "--use-lm", "true"],
             "no tokenizer in data/lang_char (tokens.model, tokens.txt; --token-type char): run stage 2 first"),
            (["--stage", "2", "--stop-stage", "4"], "no dump/train_nodev/feats.scp")):
        proc = run_sh(["./run.sh", *args], cwd=recipe, check=False)
        assert proc.returncode == 1 and f"asr.sh: ERROR: {message}" in proc.stderr, (args, proc.stderr[-3000:])
        assert not any((recipe / d).exists() for d in ("data/lang_char", "dump", "exp")), args


@pytest.mark.parametrize("name", ["yesno", "an4", "fsdd", "librispeech"])
def test_run_sh_from_another_directory_says_where_to_run_it(recipe_dir, name):
    recipe = recipe_dir(name)
    proc = run_sh([f"egs/{name}/asr1/run.sh", "--stop-stage", "0"], cwd=recipe.parents[2], check=False)
    assert proc.returncode == 1
    assert (f"egs/{name}/asr1/run.sh: run me from my recipe directory: cd egs/{name}/asr1 && ./run.sh "
            f"(no ./path.sh in {recipe.parents[2]})") in proc.stderr, proc.stderr
    assert "No such file" not in proc.stderr


def test_missing_environment_is_a_clear_error(recipe_dir, tmp_path):
    recipe = recipe_dir("yesno")
    proc = run_sh(["./run.sh"], cwd=recipe, check=False, env={"ASRKIT_VENV": str(tmp_path / "no-venv")})
    assert proc.returncode == 1
    assert f"path.sh: no asrkit environment at {tmp_path / 'no-venv'}: run" in proc.stderr
    assert "tools/install.sh first" in proc.stderr
    assert not (recipe / "data").exists()


def test_environment_this_user_cannot_run_is_named(recipe_dir, tmp_path):
    """A venv made by root from a Python under /root is there for another user but cannot run:
    path.sh said 'run tools/install.sh first', which the user had no need of."""
    recipe = recipe_dir("yesno")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    interpreter = tmp_path / "python3"  # what the user cannot run (root: no execute bit at all)
    interpreter.write_text("")
    interpreter.chmod(0o644)
    (venv / "bin/python").symlink_to(interpreter)
    (venv / "bin/asrkit").write_text("#!/bin/sh\n")
    (venv / "bin/asrkit").chmod(0o755)
    proc = run_sh(["./run.sh"], cwd=recipe, check=False, env={"ASRKIT_VENV": str(venv)})
    assert proc.returncode == 1
    assert f"path.sh: no asrkit environment at {venv}: {venv}/bin/python is there but " in proc.stderr, proc.stderr
    assert "install.sh" not in proc.stderr and "ASRKIT_VENV" in proc.stderr
    assert not (recipe / "data").exists()


def test_config_paths_with_a_space_are_taken(recipe_dir, tmp_path):
    """asr.sh checked --fbank/train/decode-config in an unquoted word list: a config under a folder
    with a space in its name (FSDD's pretrain_an4.sh passes an absolute one, so any checkout under
    '/home/me/my asr') failed every run with 'no such file' for a piece of the path."""
    recipe = recipe_dir("yesno")
    configs = tmp_path / "my confs"
    configs.mkdir()
    for name in ("fbank", "train", "decode"):
        shutil.copy(recipe / f"conf/{name}.yaml", configs / f"{name}.yaml")
    proc = run_sh(["./run.sh", "--stop-stage", "0", "--fbank-config", str(configs / "fbank.yaml"),
                   "--train-config", str(configs / "train.yaml"), "--decode-config", str(configs / "decode.yaml")],
                  cwd=recipe, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (recipe / "data/train_nodev/utt2spk").is_file()


def test_tmpdir_that_is_gone_stops_before_stage_0(recipe_dir, tmp_path):
    """TMPDIR naming a folder that is not there failed stage 0 part-way (data/train made) with
    mktemp's 'failed to create directory via template', which did not say TMPDIR; one with a
    space in its name works."""
    recipe = recipe_dir("yesno")
    missing = tmp_path / "gone"
    proc = run_sh(["./run.sh", "--stop-stage", "0"], cwd=recipe, check=False, env={"TMPDIR": str(missing)})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (f"path.sh: TMPDIR={missing} is not a directory this user "
                                                    "can write: create it or unset TMPDIR")
    assert not (recipe / "data").exists()
    spaced = tmp_path / "my tmp"
    spaced.mkdir()
    run_sh(["./run.sh", "--stop-stage", "0"], cwd=recipe, env={"TMPDIR": str(spaced)})
    assert (recipe / "data/train_nodev/utt2spk").is_file() and list(spaced.iterdir()) == []


def test_num_nodes_is_checked_before_any_stage(recipe_dir):
    """--num-nodes > 1 needs srun: with cmd.sh's local cuda_cmd it fails at once, not hours later."""
    recipe = recipe_dir("librispeech")
    proc = run_sh(["./run.sh", "--stage", "4", "--num-nodes", "2", "--ngpu", "4"], cwd=recipe, check=False)
    assert proc.returncode == 1
    assert ('--num-nodes 2 needs cuda_cmd="asrkit-launch --backend slurm ..." in cmd.sh '
            '(it is: asrkit-launch --backend local)') in proc.stderr
    proc = run_sh(["./run.sh", "--stage", "4", "--num-nodes", "two"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "option --num-nodes takes an integer, got 'two'" in proc.stderr
    assert not (recipe / "exp").exists()


@pytest.mark.parametrize("name", ["yesno", "an4", "fsdd", "librispeech", "a recipe of setup.sh"])
def test_recipe_files_and_help(name, tmp_path):
    """Every recipe has the same shared files, and its scripts answer --help with an e.g. line;
    every script's help (run.sh, asr.sh, local/*.sh) fits an 80-column terminal, as asrkit --help
    does (they ran to 135, 145 and, local/loso.sh's, 154 columns, which a terminal breaks at any
    character; local/recipe_dir.sh took --help for its <dir> and printed mkdir's help)."""
    from recipe_helpers import REPO, new_recipe

    recipe = new_recipe(tmp_path) if name == "a recipe of setup.sh" else REPO / "egs" / name / "asr1"
    template = REPO / "egs/TEMPLATE/asr1"
    assert (recipe / "path.sh").read_text() == (template / "path.sh").read_text()
    assert (recipe / "asr.sh").resolve() == (template / "asr.sh").resolve()
    for f in ("run.sh", "cmd.sh", "README.md", "RESULTS.md", "conf/fbank.yaml", "conf/train.yaml",
              "conf/decode.yaml", "conf/lm.yaml", "local/data.sh"):
        assert (recipe / f).is_file(), f"{recipe / f} is missing"
    local = [f"local/{p.name}" for p in sorted((recipe / "local").glob("*.sh"))]
    for script in ("run.sh", "asr.sh", *local):
        proc = run_sh([f"./{script}", "--help"], cwd=recipe)
        assert "e.g." in proc.stdout, (script, proc.stdout)
        wide = [line for line in proc.stdout.splitlines() if len(line) > 80]
        assert not wide, f"{name}/{script} --help is wider than 80 columns: {wide}"
    # Run from elsewhere, a script that sources the recipe's ./path.sh says where to run it from:
    # "egs/librispeech/asr1/local/download.sh: line 20: ./path.sh: No such file or directory" was
    # all it said.
    for p in sorted((recipe / "local").glob("*.sh")):
        if "\n. ./path.sh\n" in p.read_text():
            proc = run_sh([str(p)], cwd=tmp_path, check=False)
            assert proc.returncode == 1 and proc.stderr.startswith(
                f"{p}: run me from my recipe directory: cd {recipe} && local/{p.name} (no ./path.sh in "), proc.stderr
    for path in [recipe / "run.sh", *sorted((recipe / "local").glob("*.sh")), template / "asr.sh",
                 *sorted((REPO / "bin").glob("*.sh"))]:
        # (parse_options.sh, data_lock.sh, same_options.sh, stage0_options.sh and config_lines.sh are
        # sourced: they must leave the caller's shell options as they are, and every script that
        # sources them runs under set -euo pipefail)
        assert "set -euo pipefail" in path.read_text() or path.name in (
            "parse_options.sh", "data_lock.sh", "same_options.sh", "stage0_options.sh", "config_lines.sh",
            "decode_dir_name.sh"), path


@pytest.mark.parametrize("name,args,resolved,worked_out,changed", [
    ("yesno", [], {"train_set": "train_nodev", "nj": "2"}, {"tag": "train_char"}, ["--token-type", "bpe"]),
    ("an4", ["--max-utts", "40"], {"token_type": "bpe"}, {"num_dev": "10", "tag": "train_cpu_sp_const_bpe30_sp"},
     ["--max-utts", "80"]),
    ("librispeech", ["--hours", "100"], {"hours": "100"},
     {"train_set": "train_clean_100", "train_config": "conf/train_100h.yaml", "librispeech_root": "downloads/LibriSpeech"},
     ["--hours", "960", "--download-dir", "dl"]),
])
def test_run_sh_print_config_reads_back_as_the_same_run(recipe_dir, tmp_path, name, args, resolved, worked_out,
                                                        changed):
    """./run.sh --print-config true: run.sh's options and asr.sh's as run.sh gives them, resolved,
    once each, as --config lines that read back the same; the values worked out from other options
    as comment lines, worked out again when read back; nothing run (FSDD's: test_recipe_fsdd)."""
    recipe = recipe_dir(name)
    proc = run_sh(["./run.sh", *args, "--print-config", "true"], cwd=recipe)
    opts, worked = printed_options(proc.stdout)
    assert "print_config" not in opts and opts["stage"] in ("0", "-1"), proc.stdout
    assert {k: opts[k] for k in resolved} == resolved
    assert {k: worked[k][0] for k in worked_out} == worked_out, worked
    assert "lm_train_text" in worked and "tag" in worked
    assert not (recipe / "data").exists() and not (recipe / "downloads").exists()
    (tmp_path / "run.conf").write_text(proc.stdout)
    assert run_sh(["./run.sh", "--config", str(tmp_path / "run.conf"), "--print-config", "true"],
                  cwd=recipe).stdout == proc.stdout
    # An option changed over the printed file (Kaldi users keep configs so) gives what it gives
    # alone: read back as given, the values worked out from it stayed the printed run's (AN4's
    # --max-utts 80 kept num_dev=10, librispeech's --hours 960 train_clean_100 and its config).
    over = run_sh(["./run.sh", "--config", str(tmp_path / "run.conf"), *changed, "--print-config", "true"], cwd=recipe)
    assert over.stdout == run_sh(["./run.sh", *changed, "--print-config", "true"], cwd=recipe).stdout


def test_asr_sh_help_columns_line_up():
    """Every option's default and description start in the same column, the longest name included."""
    from recipe_helpers import REPO

    proc = run_sh(["./asr.sh", "--help"], cwd=REPO / "egs/an4/asr1")
    rows = [line for line in proc.stdout.splitlines() if line.startswith("  --")]
    assert len(rows) > 20 and any(r.startswith("  --speed-perturb-factors ") for r in rows)
    assert len({r.index(" (") for r in rows}) == 1, "\n".join(rows)
    assert len({re.search(r"\) +", r).end() for r in rows}) == 1, "\n".join(rows)


@pytest.mark.parametrize("name", ["yesno", "an4", "fsdd", "librispeech", "TEMPLATE"])
def test_recipe_configs_load(name):
    """Every shipped config is one the commands accept (a typo in a key is an error there)."""
    import torch
    import yaml

    from asrkit.decoding.config import DecodeConfig
    from asrkit.features.fbank import FbankConfig
    from asrkit.models.las import LAS, LASConfig
    from asrkit.training.config import LMTrainConfig, load_config
    from recipe_helpers import REPO

    conf = REPO / "egs" / name / "asr1" / "conf"
    FbankConfig.from_yaml(conf / "fbank.yaml")
    LMTrainConfig.from_yaml(conf / "lm.yaml")  # --use-lm true needs it in every recipe
    DecodeConfig.from_dict(yaml.safe_load((conf / "decode.yaml").read_text()))
    for train in sorted(conf.glob("train*.yaml")):
        cfg = load_config(str(train))
        assert isinstance(cfg.model, LASConfig)
        with torch.device("meta"):  # the LibriSpeech model is large: build it without memory
            LAS(80, 100, cfg.model)


def test_tokenizer_of_another_train_set_is_not_taken_as_done(recipe_dir):
    """Stage 2 keeps one data/lang_<type> whatever the train set: switching --train-set (say, to
    one with a second corpus's letters added) stops with a clear error instead of reusing it."""
    recipe = recipe_dir("fsdd")
    for name, text in (("a", "u1 ONE TWO\n"), ("b", "u1 ONE TWO\nu2 A B C\n")):
        (recipe / "data" / name).mkdir(parents=True)
        (recipe / "data" / name / "text").write_text(text)
    stage2 = ["./asr.sh", "--stage", "2", "--stop-stage", "2", "--train-set"]
    run_sh(stage2 + ["a"], cwd=recipe)
    assert (recipe / "data/lang_char/train_text").read_text() == "data/a/text\n"
    proc = run_sh(stage2 + ["a"], cwd=recipe)
    assert "data/lang_char done already" in proc.stderr
    proc = run_sh(stage2 + ["b"], cwd=recipe, check=False)
    assert proc.returncode != 0
    assert "data/lang_char was trained on data/a/text, not data/b/text: delete data/lang_char" in proc.stderr
