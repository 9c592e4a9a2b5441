"""egs/TEMPLATE/asr1/setup.sh: a new recipe for a user's corpus (a slice of real AN4 audio arranged as a
folder of WAVs plus a transcript file), run from stage 0 to the RESULTS.md row with the template's
defaults (a tiny model and 2 epochs through --train-args), including a training killed and resumed
(logs kept, times added up) and a time budget continued with a larger one; and setup.sh's refusals
and local/data.sh's bad inputs."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from recipe_helpers import REPO, make_checkout, new_recipe, read_table, run_sh
from user_corpus import make_user_corpus

TINY = ("--set training.max_epochs=2 --set model.listener.hidden=32 --set model.listener.proj=32 "
        "--set model.attention.dim=32 --set model.attention.conv_channels=4 --set model.attention.conv_width=10 "
        "--set model.speller.hidden=32 --set model.speller.embed=16 --set training.num_plots=1")


def _training_pids(exp: Path) -> list:
    """The asrkit-train processes (not their launcher or shell) training into ``exp``."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().decode(errors="replace").split("\0")
            cwd = Path(os.readlink(d / "cwd"))
        except OSError:
            continue
        if any(os.path.basename(a) == "asrkit-train" for a in argv[:2]) and \
                any(Path(cwd, a).resolve() == exp.resolve() for a in argv if a.endswith(exp.name)):
            pids.append(int(d.name))
    return pids


HOLD_TRAINING = Path(__file__).with_name("hold_training")  # its sitecustomize.py


def run_killing_training(cmd, recipe: Path, exp: Path) -> subprocess.CompletedProcess:
    """``cmd`` with its asrkit-train SIGKILLed as soon as its first checkpoint is on disk.

    From outside, as a user's kill or the OOM killer would: the checkpoint is renamed into place
    whole, so the kill lands in epoch 2 of 2. The training is held where it would write its second
    checkpoint (hold_training/sitecustomize.py, on PYTHONPATH: path.sh keeps it after the
    checkout's), so it is still running when this looks, however loaded the machine: before, a
    look that came only after epoch 2 found the run ended.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HOLD_TRAINING), os.environ.get("PYTHONPATH")]))}
    with subprocess.Popen(cmd, cwd=recipe, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as proc:
        first = exp / "checkpoints" / "epoch1.pt"
        deadline = time.monotonic() + 600  # (a hang bound)
        killed = []
        try:
            while not killed and proc.poll() is None and time.monotonic() < deadline:
                if first.exists():
                    for pid in _training_pids(exp):
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                time.sleep(0.005)
        finally:
            if not killed:  # (a held training outlives the test otherwise: asrkit-launch's jobs have their own session)
                for pid in _training_pids(exp):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=600)
    assert killed, f"asrkit-train ended before it could be killed:\n{err[-3000:]}"
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def set_option(script: Path, name: str, value: str) -> None:
    """Edit a default in a script's configuration section, as a user adapting local/data.sh does."""
    text = script.read_text()
    new, n = re.subn(rf"^{name}=\S*", f"{name}={value}", text, flags=re.M)
    assert n == 1, name
    script.write_text(new)


def user_recipe(tmp_path: Path, an4_root: Path):
    """(a new recipe, its corpus): 24 AN4 recordings in a folder with a transcript file, 10 % dev and test."""
    recipe = new_recipe(tmp_path)
    corpus = tmp_path / "corpus"
    make_user_corpus(an4_root, corpus, 24)
    set_option(recipe / "local/data.sh", "audio_subdir", "audio")
    set_option(recipe / "local/data.sh", "transcripts", "prompts.txt")
    set_option(recipe / "local/data.sh", "dev_fraction", "0.1")
    set_option(recipe / "local/data.sh", "test_fraction", "0.1")
    return recipe, corpus


@pytest.mark.slow
def test_setup_makes_a_recipe_that_runs_end_to_end(tmp_path, an4_root):
    recipe = new_recipe(tmp_path)
    template = REPO / "egs/TEMPLATE/asr1"
    # The same shape as every recipe: symlinks into the template and bin/, copies of cmd.sh and conf/.
    assert os.readlink(recipe / "asr.sh") == "../../TEMPLATE/asr1/asr.sh"
    assert os.readlink(recipe / "path.sh") == "../../TEMPLATE/asr1/path.sh"
    assert os.readlink(recipe / "utils") == "../../../bin"
    for f in ("cmd.sh", "conf/fbank.yaml", "conf/train.yaml", "conf/train_gpu.yaml", "conf/decode.yaml",
              "conf/lm.yaml"):
        assert not (recipe / f).is_symlink() and (recipe / f).read_text() == (template / f).read_text(), f
    for f in ("run.sh", "local/data.sh", "README.md", "RESULTS.md"):
        text = (recipe / f).read_text()
        assert "@CORPUS@" not in text and "mine" in text, f
    assert os.access(recipe / "run.sh", os.X_OK) and os.access(recipe / "local/data.sh", os.X_OK)
    shown = run_sh(["./run.sh", "--help"], cwd=recipe).stdout
    assert "e.g." in shown and max(map(len, shown.splitlines())) <= 80, shown
    assert "e.g." in run_sh(["local/data.sh", "--help"], cwd=recipe).stdout
    # It refuses to overwrite, even an empty directory.
    proc = run_sh(["egs/TEMPLATE/asr1/setup.sh", "egs/mine/asr1"], cwd=recipe.parents[2], check=False)
    assert proc.returncode == 1 and "egs/mine/asr1 already exists: setup.sh never overwrites" in proc.stderr

    # The corpus: 40 AN4 recordings as a folder of WAVs and one transcript file, outside the recipe.
    corpus = tmp_path / "corpus"
    make_user_corpus(an4_root, corpus, 40)
    set_option(recipe / "local/data.sh", "audio_subdir", "audio")
    set_option(recipe / "local/data.sh", "transcripts", "prompts.txt")
    run_sh(["./run.sh", "--corpus-root", str(corpus), "--stop-stage", "0"], cwd=recipe)
    sizes = {s: len(read_table(recipe / "data" / s / "utt2spk")) for s in ("train", "dev", "test")}
    assert sizes == {"train": 36, "dev": 2, "test": 2}
    assert read_table(recipe / "data/train/wav.scp")["mine-an251-fash-b"] == str(corpus.resolve() / "audio/an251-fash-b.wav")
    assert not list(recipe.rglob("*.wav"))  # the corpus is read in place, never copied

    # Stages 1-6 with the template's defaults but a tiny model; the training is killed in epoch 2.
    args = ["./run.sh", "--stage", "1", "--nj", "1", "--num-avg", "2", "--train-args", TINY]
    exp = recipe / "exp/train_char"
    proc = run_killing_training(args + ["--stop-stage", "4"], recipe, exp)
    assert proc.returncode != 0 and "stage 4 failed" in proc.stderr
    for s in ("train", "dev", "test"):
        assert len(read_table(recipe / "dump" / s / "feats.scp")) == sizes[s]
    assert (recipe / "dump/train/cmvn.ark").is_file() and (recipe / "data/lang_char/tokens.txt").is_file()
    assert (exp / "checkpoints/epoch1.pt").is_file() and not (exp / ".done").exists()

    run_sh(args, cwd=recipe)  # resumes from epoch 1, then decodes and scores
    # The killed run's log is kept (asrkit-launch numbers it), the resumed run's is train.log.
    first, second = (exp / "log/train.log.1").read_text(), (exp / "log/train.log").read_text()
    assert "epoch 1: train loss" in first and "# Ended (code 137)" in first
    assert "resumed from" in second and "epoch 2: train loss" in second and "epoch 1 took" in first
    # Both runs count: train_seconds is the sum of train_runs.tsv, and the row says so.
    rows = [l.split("\t") for l in (exp / "log/train_runs.tsv").read_text().splitlines()[1:]]
    assert [r[5] for r in rows] == ["killed", "done"]
    total = sum(float(r[2]) for r in rows)
    assert (exp / "train_seconds").read_text().strip() == str(int(total + 0.5))
    assert (exp / "model.pt").is_file() and (exp / "model.avg.pt").is_file() and (exp / ".done").is_file()
    results = (recipe / "RESULTS.md").read_text()
    for s in ("dev", "test"):
        d = exp / f"decode_{s}_decode"
        assert len(read_table(d / "text")) == sizes[s] and (d / "wer.txt").is_file()
        row = [l for l in results.splitlines() if l.startswith(f"| {s} |")]
        assert len(row) == 1, results
        assert re.match(rf"^\| {s} \| [0-9.]+ \| [0-9.]+ \| conf/train.yaml --set training.max_epochs=2 .*"
                        rf"\| {int(total + 0.5)} s \(2 runs\) \|", row[0]), row[0]

    # A time budget: stops after epoch 1 (smaller than any epoch), decodes that model, not .done;
    # a larger budget continues the same training and the decodings are redone.
    # A budget-stopped training decodes its best epoch (model.pt), not an average; the finished
    # one averages as --num-avg says.
    budget = args + ["--stage", "4", "--tag", "budget", "--test-sets", "test", "--num-avg", "2"]
    proc = run_sh(budget + ["--train-max-time", "0.001"], cwd=recipe)
    assert "stopped by the time budget after epoch 1" in proc.stderr
    bexp = recipe / "exp/budget"
    assert not (bexp / ".done").exists() and not (bexp / "checkpoints/epoch2.pt").exists()
    assert not (bexp / "model.avg.pt").exists() and "the best epoch: the training stopped at its time budget" in proc.stderr
    row = (recipe / "RESULTS.md").read_text().splitlines()[-1]
    assert re.search(r", model\.pt \(exp/budget\) \|.*\| [0-9]+ s \(time budget, 1 epochs\) \|", row), row
    # Run again with no --train-max-time (./run.sh --stage 3 --use-lm true, to add an LM): it
    # resumed under the config's budget, none, and trained to the last epoch; it stays stopped now.
    proc = run_sh(budget, cwd=recipe)
    assert "stage 4: exp/budget stopped at its time budget after" in proc.stderr, proc.stderr[-3000:]
    assert not (bexp / ".done").exists() and not (bexp / "checkpoints/epoch2.pt").exists()
    proc = run_sh(budget + ["--train-max-time", "86400"], cwd=recipe)
    assert (bexp / ".done").is_file() and (bexp / "checkpoints/epoch2.pt").is_file()
    assert "decode_test_decode done already" not in proc.stderr
    assert (bexp / "model.avg.pt").is_file()
    assert ", model.avg.pt (2 best averaged) (exp/budget) |" in (recipe / "RESULTS.md").read_text().splitlines()[-1]
    assert re.search(r"\(exp/budget\) \| conf/decode.yaml \| [0-9]+ s \(2 runs\) \|",
                     (recipe / "RESULTS.md").read_text().splitlines()[-1])
    # --avg-on-budget true (AN4's default): a budget-stopped training averages as well
    proc = run_sh(args + ["--stage", "4", "--tag", "budget_avg", "--test-sets", "test", "--num-avg", "2",
                          "--avg-on-budget", "true", "--train-max-time", "0.001"], cwd=recipe)
    assert "stopped by the time budget after epoch 1" in proc.stderr
    assert (recipe / "exp/budget_avg/model.avg.pt").is_file() and "the best epoch: the training" not in proc.stderr
    # One checkpoint is all a budget stop after epoch 1 keeps: the row said "2 best averaged".
    assert ", model.avg.pt (1 best averaged: no more checkpoints for --num-avg 2) (exp/budget_avg) |" in (recipe / "RESULTS.md").read_text().splitlines()[-1]
    proc = run_sh(args + ["--stage", "4", "--avg-on-budget", "yes"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "option --avg-on-budget takes true or false, got 'yes'" in proc.stderr


@pytest.mark.slow
def test_stage_0_run_again_on_a_changed_corpus_remakes_what_depends_on_it(tmp_path, an4_root):
    """Stage 0 run again after the corpus changed (files added or removed) draws another split, but
    the .done markers of stage 1 and 2 used to keep the old features: an utterance now in the test
    set was still in dump/train, trained on and then scored as test. Each marker now records what
    its output was made from: features and tokenizer are made again, and stage 4 refuses a model
    trained on other data."""
    recipe, corpus = user_recipe(tmp_path, an4_root)
    args = ["./run.sh", "--corpus-root", str(corpus), "--stop-stage", "2", "--nj", "1"]
    run_sh(args, cwd=recipe)
    proc = run_sh(args[:1] + ["--stage", "1"] + args[3:], cwd=recipe)
    assert "stage 1: dump/train done already" in proc.stderr and "data/lang_char done already" in proc.stderr
    before = set(read_table(recipe / "dump/train/utt2spk"))

    # Four recordings fewer: another draw of dev and test.
    gone = sorted((corpus / "audio").glob("*.wav"))[:4]
    for wav in gone:
        wav.unlink()
    prompts = corpus / "prompts.txt"
    prompts.write_text("".join(l for l in prompts.read_text().splitlines(keepends=True)
                               if l.split()[0] not in {w.stem for w in gone}))
    proc = run_sh(args, cwd=recipe, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for s in ("train", "dev", "test"):
        assert (f"stage 1: data/{s} (its tables or audio) or the feature options changed since dump/{s} was made: "
                f"making it again") in proc.stderr
        assert set(read_table(recipe / "dump" / s / "utt2spk")) == set(read_table(recipe / "data" / s / "utt2spk"))
    assert before - set(read_table(recipe / "dump/train/utt2spk"))
    assert "stage 2: data/train/text changed since data/lang_char was trained: training it again" in proc.stderr

    # A model trained on the old sets is not taken as done, nor resumed on the new ones.
    exp = recipe / "exp/train_char"
    exp.mkdir(parents=True)
    (exp / "train_inputs").write_text("123-456\n")
    (exp / ".done").touch()
    proc = run_sh(["./run.sh", "--stage", "4", "--stop-stage", "4"], cwd=recipe, check=False)
    assert proc.returncode == 1
    assert ("stage 4: exp/train_char was trained on other data: dump/train, dump/dev or data/lang_char changed "
            "since (stage 0 or 1 run again?); delete exp/train_char to train on the new data, or give another "
            "--tag") in proc.stderr


def test_audio_changed_in_place_remakes_its_features(tmp_path, an4_root):
    """A recording replaced under its own name (repaired after stage 1 skipped it, or written
    again by a data prep, as FSDD's stage 0 does) left every table as it was, so stage 1 kept
    the features of the old audio as done. Its marker now records each audio file's size and
    time: that set's features are made again, the others' kept."""
    import kaldiio

    recipe, corpus = user_recipe(tmp_path, an4_root)
    args = ["./run.sh", "--corpus-root", str(corpus), "--stop-stage", "1", "--nj", "1"]
    run_sh(args, cwd=recipe)
    utt, path = sorted(read_table(recipe / "data/test/wav.scp").items())[0]
    before = kaldiio.load_scp(str(recipe / "dump/test/feats.scp"))[utt].copy()
    # another take under the same name (the corpus holds links to the shared AN4: replace the link),
    # a silent one: the job log's warning about it is said on the console too
    import soundfile as sf

    samples, rate = sf.read(os.path.realpath(path), dtype="int16")
    Path(path).unlink()
    sf.write(path, 0 * samples, rate)
    again = args[:1] + ["--stage", "1"] + args[3:]
    proc = run_sh(again, cwd=recipe)
    assert ("stage 1: data/test (its tables or audio) or the feature options changed since dump/test was made: "
            "making it again") in proc.stderr, proc.stderr[-3000:]
    assert (f"stage 1: 1 warning(s) in dump/test/log/fbank.*.log, the first: [extract] utterance '{utt}': every "
            f"sample is 0 (digital silence)") in proc.stderr
    assert "stage 1: dump/train done already" in proc.stderr and "stage 1: dump/dev done already" in proc.stderr
    after = kaldiio.load_scp(str(recipe / "dump/test/feats.scp"))[utt]
    assert after.shape != before.shape or not (after == before).all()
    assert "stage 1: dump/test done already" in run_sh(again, cwd=recipe).stderr


def test_template_lm_config_loads():
    """The LM config setup.sh copies is one asrkit-train-lm accepts (the others: test_recipe_configs_load)."""
    import yaml

    from asrkit.training.config import LMTrainConfig

    LMTrainConfig.from_dict(yaml.safe_load((REPO / "egs/TEMPLATE/asr1/conf/lm.yaml").read_text()))


def test_setup_refuses_bad_targets(tmp_path):
    root = make_checkout(tmp_path)
    setup = "egs/TEMPLATE/asr1/setup.sh"
    cases = [
        (["egs/mine"], "must be called asr1"),
        (["egs/mine/asr2"], "must be called asr1"),
        # the checkout's place for it was named as egs/TEMPLATE/<corpus>/asr1
        (["elsewhere/mine/asr1"], f"must be egs/<corpus>/asr1 in this checkout ({root}/egs/<corpus>/asr1)"),
        # an option reached dirname: "dirname: unrecognized option '--force'"
        (["--force"], "setup.sh: ERROR: unknown option --force: the only argument is the new recipe's directory"),
        (["--"], "setup.sh: ERROR: unknown option --: the only argument"),
        (["egs/my corpus/asr1"], "should be letters, digits and ._+-"),
        (["egs/TEMPLATE/asr1"], "already exists"),
        ([], "expected one argument"),
        (["egs/a/asr1", "egs/b/asr1"], "expected one argument"),
    ]
    (root / "elsewhere").mkdir()
    for argv, message in cases:
        proc = run_sh([setup, *argv], cwd=root, check=False)
        assert proc.returncode == 1 and message in proc.stderr, (argv, proc.stderr)
    (root / "egs/empty/asr1").mkdir(parents=True)
    proc = run_sh([setup, "egs/empty/asr1"], cwd=root, check=False)
    assert proc.returncode == 1 and "already exists" in proc.stderr
    assert sorted(p.name for p in (root / "egs").iterdir()) == ["TEMPLATE", "empty"]  # nothing left behind
    assert "e.g." in run_sh([setup, "--help"], cwd=root).stdout


def test_setup_refuses_a_corpus_folder_linked_out_of_egs(tmp_path):
    """egs/<corpus> a symlink to a folder on another disk: setup.sh made the recipe there with
    exit 0, but its relative links (asr.sh, path.sh, utils) are read from where it really is and
    led nowhere, so its run.sh said 'run me from my recipe directory'. A link inside egs/ works."""
    root = make_checkout(tmp_path)
    setup = "egs/TEMPLATE/asr1/setup.sh"
    elsewhere = tmp_path / "big disk"
    elsewhere.mkdir()
    (root / "egs/mine").symlink_to(elsewhere)
    proc = run_sh([setup, "egs/mine/asr1"], cwd=root, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip() == (
        f"setup.sh: ERROR: egs/mine is {elsewhere}, not a folder of {root / 'egs'}: the recipe's relative symlinks "
        "(../../TEMPLATE/asr1, ../../../bin) would lead nowhere from there; make egs/mine a real folder (link data/, "
        "dump/ or exp/ inside the recipe to another disk instead)"), proc.stderr
    assert list(elsewhere.iterdir()) == []
    (root / "egs/real").mkdir()
    (root / "egs/linked").symlink_to("real")
    run_sh([setup, "egs/linked/asr1"], cwd=root)
    assert "stage 0: local/data.sh" in run_sh(["./run.sh", "--help"], cwd=root / "egs/linked/asr1").stdout
    assert (root / "egs/linked/asr1/asr.sh").resolve() == (root / "egs/TEMPLATE/asr1/asr.sh").resolve()


def test_local_data_sh_bad_inputs(tmp_path, an4_root):
    """Each documented case: a counted skip (named in the log) or a one-line error, exit status 1."""
    recipe = new_recipe(tmp_path)
    corpus = tmp_path / "corpus"
    make_user_corpus(an4_root, corpus, 20, layout="beside")
    audio = corpus / "audio"
    speakers = sorted(p.name for p in audio.iterdir())
    data_sh = ["local/data.sh", "--corpus-root", str(corpus), "--audio-subdir", "audio", "--speaker-from-dir", "true"]

    # The same file name in two folders: two utterances, two ids.
    (audio / "extra").mkdir()
    first = sorted((audio / speakers[0]).glob("*.wav"))[0]
    os.symlink(os.readlink(first), audio / "extra" / first.name)
    (audio / "extra" / first.with_suffix(".txt").name).write_text("AGAIN\n")
    # A file name with spaces: kept, its id mapped.
    spaced = sorted((audio / speakers[0]).glob("*.wav"))[1]
    os.rename(spaced, spaced.with_name("take one.wav"))
    os.rename(spaced.with_suffix(".txt"), spaced.with_name("take one.txt"))
    run_sh(data_sh, cwd=recipe)
    every = {}
    for s in ("train", "dev", "test"):
        every.update(read_table(recipe / "data" / s / "text"))
    assert len(every) == 21 and every[f"extra-{first.stem}"] == "AGAIN"
    assert f"{speakers[0]}-{first.stem}" in every and f"{speakers[0]}-take_one" in every

    # A missing transcript and an empty transcript: skipped and named; with the default
    # --max-skip-ratio 0.05, two of 20 is an error.
    victims = sorted((audio / speakers[-1]).glob("*.wav"))
    victims[0].with_suffix(".txt").unlink()
    victims[1].unlink()
    victims[2].with_suffix(".txt").write_text("  \n")
    proc = run_sh(data_sh, cwd=recipe, check=False)
    assert proc.returncode == 1
    err = proc.stderr
    assert f"skipped 1: audio without a transcript: {speakers[-1]}/{victims[0].name}" in err
    assert f"skipped 1: empty transcript: {speakers[-1]}/{victims[2].name}" in err
    assert "ERROR (asrkit-make-data-dir): " in err and "more than --max-skip-ratio 0.05" in err
    proc = run_sh(data_sh + ["--max-skip-ratio", "0.2"], cwd=recipe)
    assert ("Done 18 utterances out of 20 audio files, 1 text file with no audio of its name beside it (a transcript "
            "whose audio is missing, or a README), 1 audio without a transcript, 1 empty transcript") in proc.stderr
    assert "skipped 1: text file with no audio of its name beside it" in proc.stderr \
        and f"{speakers[-1]}/{victims[1].with_suffix('.txt').name}" in proc.stderr
    # (the .txt left without its audio is named, and not held against the ratio, as it may be a
    # README; a transcript file's line without audio is, as the skip above would have been:)
    prompts = corpus / "prompts.txt"
    prompts.write_text("".join(f"{p.relative_to(audio).with_suffix('')}\t{p.with_suffix('.txt').read_text().strip()}\n"
                               for p in sorted(audio.rglob("*.wav")) if p.with_suffix(".txt").is_file())
                       + "ghost NOBODY\n")
    proc = run_sh(data_sh + ["--transcripts", "prompts.txt", "--max-skip-ratio", "0.2"], cwd=recipe)
    assert f"transcript without audio: ghost ({prompts}:" in proc.stderr

    # One-line errors.
    for extra, message in [
        (["--corpus-root", str(tmp_path / "none")], "no such directory"),
        (["--transcripts", "nothing.txt"], "--transcripts nothing.txt: no such file"),
        (["--dev-fraction", "0.7", "--test-fraction", "0.5", "--max-skip-ratio", "0.2"], "leave nothing to train on"),
        (["--by-speaker", "maybe"], "true or false"),
    ]:
        proc = run_sh(data_sh + extra, cwd=recipe, check=False)
        assert proc.returncode == 1 and message in proc.stderr, (extra, proc.stderr[-2000:])


def test_raw_feats_type_records_the_fbank_args_it_computes_with(tmp_path, an4_root):
    """asr.sh --feats-type raw --fbank-args "--low-freq 40": CMVN and the dev dump were made with
    --fbank-args, but the training set's fbank.yaml (what asrkit-train computes fbank with, and
    packs) was a copy of --fbank-config alone, so training refused the dev set as made with other
    options (and before that check, trained on other features than CMVN's)."""
    recipe = new_recipe(tmp_path)
    corpus = tmp_path / "corpus"
    make_user_corpus(an4_root, corpus, 12)
    set_option(recipe / "local/data.sh", "audio_subdir", "audio")
    set_option(recipe / "local/data.sh", "transcripts", "prompts.txt")
    run_sh(["./run.sh", "--corpus-root", str(corpus), "--stop-stage", "0"], cwd=recipe)
    run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1", "--feats-type", "raw",
            "--fbank-args", "--low-freq 40", "--test-sets", "test"], cwd=recipe)
    for part in ("train", "dev"):
        fbank = yaml.safe_load((recipe / f"dump/{part}/fbank.yaml").read_text())
        assert fbank["low_freq"] == 40.0, (part, fbank)


@pytest.mark.slow
def test_raw_feats_type_trains_from_audio(tmp_path, an4_root):
    """asr.sh --feats-type raw: the training set stays audio (no feats.scp, no sox copies), its CMVN
    and utt2num_frames come from one streamed fbank pass, the speed factors go to asrkit-train, and
    stages 1-6 end with a RESULTS.md row."""
    recipe = new_recipe(tmp_path)
    corpus = tmp_path / "corpus"
    make_user_corpus(an4_root, corpus, 40)
    set_option(recipe / "local/data.sh", "audio_subdir", "audio")
    set_option(recipe / "local/data.sh", "transcripts", "prompts.txt")
    run_sh(["./run.sh", "--corpus-root", str(corpus), "--stop-stage", "0"], cwd=recipe)
    proc = run_sh(["./run.sh", "--stage", "1", "--nj", "1", "--num-avg", "0", "--feats-type", "raw", "--speed-perturb-factors",
                   "0.9 1.0 1.1", "--test-sets", "test", "--train-args", TINY.replace("max_epochs=2", "max_epochs=1")],
                  cwd=recipe)
    train = recipe / "dump/train"
    assert (train / "wav.scp").is_file() and not (train / "feats.scp").exists()
    assert len(read_table(train / "utt2num_frames")) == 36 and (train / "cmvn.ark").is_file()
    assert not (recipe / "data/train_sp").exists() and (recipe / "dump/dev/feats.scp").is_file()
    exp = recipe / "exp/train_char_sp_raw"
    log = (exp / "log/train.log").read_text()
    assert "fbank computed from the audio in the data loader (augmented" in log and "speed_factors=[0.9, 1.0, 1.1]" in log
    assert (exp / "model.pt").is_file() and "stage 6: test: CER" in proc.stderr
    row = (recipe / "RESULTS.md").read_text().splitlines()[-1]
    assert ", speed perturbation 0.9 1.0 1.1 (on the fly), --feats-type raw, model" in row and "exp/train_char_sp_raw" in row
