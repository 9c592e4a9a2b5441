"""A new user's first hour with a recipe made by egs/TEMPLATE/asr1/setup.sh, as README.md and
docs/recipes.md ("Adding a corpus") tell it: stage 0 once, then runs from a later stage without
the options given before (``./run.sh --stage 6`` to score again), as a Kaldi user does. Each run
must say only what is so: no stray tool errors, and RESULTS.md rows that describe the model
that was trained, not the command line of the run that scored it."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from recipe_helpers import REPO, make_recipe_copy, new_recipe, run_sh
from user_corpus import make_user_corpus

TINY1 = ("--set training.max_epochs=1 --set model.listener.hidden=32 --set model.listener.proj=32 "
         "--set model.attention.dim=32 --set model.attention.conv_channels=4 --set model.attention.conv_width=10 "
         "--set model.speller.hidden=32 --set model.speller.embed=16 --set training.num_plots=1")


def set_option(script: Path, name: str, value: str) -> None:
    """Set a variable at the top of local/data.sh, as the user edits it."""
    text, n = re.subn(rf"^{name}=\S*", f"{name}={value}", script.read_text(), flags=re.M)
    assert n == 1, name
    script.write_text(text)


def recipe_with_data(tmp_path: Path, an4_root: Path, n: int, **settings: str) -> Path:
    """A new recipe whose stage 0 has run on ``n`` AN4 recordings (a folder of WAVs + prompts.txt),
    the corpus given by a relative path with a space in it."""
    recipe = new_recipe(tmp_path)
    corpus = tmp_path / "my corpus"
    make_user_corpus(an4_root, corpus, n)
    set_option(recipe / "local/data.sh", "transcripts", "prompts.txt")
    set_option(recipe / "local/data.sh", "audio_subdir", "audio")
    for name, value in settings.items():
        set_option(recipe / "local/data.sh", name, value)
    rel = "../../../../my corpus"   # from asrkit/egs/mine/asr1
    assert (recipe / rel).resolve() == corpus.resolve()
    run_sh(["./run.sh", "--corpus-root", rel, "--stop-stage", "0"], cwd=recipe)
    assert (recipe / "data/stage0_options").read_text() == f"corpus-root={corpus.resolve()}\n"
    return recipe


def test_a_later_stage_without_corpus_root_prints_no_tool_error(tmp_path, an4_root):
    """From --stage 1 on --corpus-root is usually left out, and every such run of a setup.sh recipe
    began with realpath's "realpath: '': No such file or directory" (its check of the option ran
    realpath on the empty value), which reads as a failure of the run."""
    recipe = recipe_with_data(tmp_path, an4_root, 12)
    proc = run_sh(["./run.sh", "--stage", "2", "--stop-stage", "2"], cwd=recipe)
    assert "realpath" not in proc.stderr and "No such file" not in proc.stderr, proc.stderr
    assert (recipe / "data/lang_char/tokens.txt").is_file()
    # The check itself still works: the same corpus by its absolute path passes, another one is refused.
    run_sh(["./run.sh", "--stage", "2", "--stop-stage", "2", "--corpus-root", str(tmp_path / "my corpus")],
           cwd=recipe)
    proc = run_sh(["./run.sh", "--stage", "2", "--stop-stage", "2", "--corpus-root", str(tmp_path)],
                  cwd=recipe, check=False)
    assert proc.returncode == 1 and "data/ was made by stage 0 with --corpus-root" in proc.stderr, proc.stderr


def results_rows(recipe: Path) -> list:
    return [l for l in (recipe / "RESULTS.md").read_text().splitlines() if l.startswith("| test |")]


@pytest.mark.slow
def test_scoring_again_without_the_training_options_reports_the_trained_model(tmp_path, an4_root):
    """``./run.sh --stage 6`` (or ``--stage 5``) after a training with --train-args: the RESULTS.md
    row's model config was this run's command line ("conf/train.yaml" alone), so the row described
    a model that was never trained, with exit 0. The row must name the options the model was
    trained with, whatever a later run gives."""
    recipe = recipe_with_data(tmp_path, an4_root, 12)
    run_sh(["./run.sh", "--stage", "1", "--nj", "1", "--num-avg", "0", "--test-sets", "test",
            "--train-args", TINY1], cwd=recipe)
    first = results_rows(recipe)
    assert len(first) == 1 and f"| conf/train.yaml {TINY1}, model.pt (exp/train_char) |" in first[0], first
    trained = (recipe / "exp/train_char/model.pt").read_bytes()

    # The rows go (a user starting RESULTS.md afresh), and the model is scored again without --train-args.
    results = recipe / "RESULTS.md"
    results.write_text("\n".join(l for l in results.read_text().splitlines() if not l.startswith("| test |")) + "\n")
    for stage in ("6", "5"):
        proc = run_sh(["./run.sh", "--stage", stage, "--nj", "1", "--num-avg", "0", "--test-sets", "test"],
                      cwd=recipe)
        rows = results_rows(recipe)
        assert len(rows) == 1, (stage, rows, proc.stderr)
        assert f"| conf/train.yaml {TINY1}, model.pt (exp/train_char) |" in rows[0], (stage, rows)
        # the same row, but for its date: scoring again added nothing else
        assert re.sub(r"\| [^|]* \| [^|]* \|$", "", rows[0]) == re.sub(r"\| [^|]* \| [^|]* \|$", "", first[0])
    assert (recipe / "exp/train_char/model.pt").read_bytes() == trained

    # A training continued with another model config (.done deleted, as stage 4's refusal of other
    # options advises, then run without --train-args) is refused by asrkit-train: the model left
    # there is still the one trained with TINY1, and so is its row.
    (recipe / "exp/train_char/.done").unlink()
    results.write_text("\n".join(l for l in results.read_text().splitlines() if not l.startswith("| test |")) + "\n")
    proc = run_sh(["./run.sh", "--stage", "4", "--nj", "1", "--num-avg", "0", "--test-sets", "test"],
                  cwd=recipe, check=False)
    assert proc.returncode == 1 and "was trained with another model config" in proc.stderr, proc.stderr[-3000:]
    run_sh(["./run.sh", "--stage", "6", "--nj", "1", "--num-avg", "0", "--test-sets", "test"], cwd=recipe)
    rows = results_rows(recipe)
    assert len(rows) == 1 and f"| conf/train.yaml {TINY1}, model.pt (exp/train_char) |" in rows[0], rows


@pytest.mark.parametrize("given", [["--num-dev", "3"], ["--num-dev=3"]])
def test_yesno_run_sh_names_local_data_sh_for_its_settings(tmp_path, given):
    """egs/yesno/asr1/README.md names local/data.sh --num-dev; given to ./run.sh it reached asr.sh,
    whose "unknown option --num-dev (see ./asr.sh --help)" sent the user to the wrong script."""
    recipe = make_recipe_copy(tmp_path, "yesno")
    proc = run_sh(["./run.sh", *given, "--stop-stage", "0"], cwd=recipe, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "./run.sh: ERROR: --num-dev is a setting of stage 0's local/data.sh, not of run.sh: run local/data.sh "
        "--num-dev <value> (with --yesno-root if you give one), then ./run.sh --stage 1"], proc.stderr
    assert not (recipe / "data").exists()
    # run.sh's own options and asr.sh's still pass
    run_sh(["./run.sh", "--yesno-root", "corpus", "--nj", "1", "--stop-stage", "0"], cwd=recipe)
    assert (recipe / "data/train_nodev/text").is_file()


def test_subset_data_dir_takes_a_list_from_a_pipe(tmp_path):
    """Kaldi users give lists by process substitution (--utt-list <(head -3 dev.list)); subset_data_dir.sh
    tested them with -f and refused the pipe as "--utt-list /dev/fd/63: no such file"."""
    src = tmp_path / "src"
    src.mkdir()
    utts = [(f"{s}-u{i}", s) for s in ("alice", "bob") for i in range(3)]
    (src / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utts))
    (src / "text").write_text("".join(f"{u} HELLO\n" for u, _ in utts))
    (src / "wav.scp").write_text("".join(f"{u} /x/{u}.wav\n" for u, _ in utts))
    (src / "spk2utt").write_text("alice alice-u0 alice-u1 alice-u2\nbob bob-u0 bob-u1 bob-u2\n")
    bin_ = shlex.quote(str(REPO / "bin"))
    run_sh(f"{bin_}/subset_data_dir.sh --utt-list <(head -2 src/utt2spk) src first2", cwd=tmp_path)
    assert (tmp_path / "first2/utt2spk").read_text() == "alice-u0 alice\nalice-u1 alice\n"
    run_sh(f"{bin_}/subset_data_dir.sh --spk-list <(echo bob) src bob", cwd=tmp_path)
    assert (tmp_path / "bob/spk2utt").read_text() == "bob bob-u0 bob-u1 bob-u2\n"
    # what is still refused, in one line naming the option
    for arg, why in (("nolist", "no such file"), ("src", "is a directory, not a list of ids")):
        proc = run_sh([str(REPO / "bin/subset_data_dir.sh"), "--utt-list", arg, "src", "x"], cwd=tmp_path, check=False)
        assert proc.returncode == 1 and proc.stderr.endswith(f"--utt-list {arg}: {why}\n"), proc.stderr
        assert not (tmp_path / "x").exists()


def test_parse_options_reads_a_config_from_a_pipe(tmp_path):
    """./run.sh --config <(echo nj=2), as Kaldi's parse_options.sh (which sources the file) takes
    it, was "--config /dev/fd/63: no such file"; a directory was "no such file" too."""
    demo = tmp_path / "demo.sh"
    demo.write_text(f"#!/usr/bin/env bash\nset -euo pipefail\nnj=4\nuse_lm=false\n. {shlex.quote(str(REPO / 'bin/parse_options.sh'))}\n"
                    'echo "nj=$nj use_lm=$use_lm"\n')
    demo.chmod(0o755)
    proc = run_sh("./demo.sh --config <(printf 'nj=2\\nuse_lm=true\\n')", cwd=tmp_path)
    assert proc.stdout == "nj=2 use_lm=true\n", proc.stderr
    proc = run_sh("./demo.sh --config <(echo nj=x)", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "option --nj takes an integer, got 'x'" in proc.stderr, proc.stderr
    (tmp_path / "conf").mkdir()
    proc = run_sh(["./demo.sh", "--config", "conf"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and proc.stderr == "./demo.sh: --config conf: a directory, not a file of name=value lines\n"


def test_no_test_set_from_stage_0_scores_dev(tmp_path, an4_root):
    """test_fraction=0 in local/data.sh (its comment: no test set) and then ./run.sh as before: the
    template's default --test-sets "dev test" stopped stage 1, right after stage 0 had run, with
    "no data/test ...: run stage 0 first". Now dev alone is used, and said so; a --test-sets given
    on the command line is still taken as given."""
    recipe = recipe_with_data(tmp_path, an4_root, 12, test_fraction="0")
    assert not (recipe / "data/test").exists() and (recipe / "data/dev").is_dir()
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1"], cwd=recipe)
    assert "stage 0 made no test set (test_fraction=0 in local/data.sh): dev is decoded and scored" in proc.stderr
    assert (recipe / "dump/dev/feats.scp").is_file() and not (recipe / "dump/test").exists()
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1", "--test-sets", "dev test"],
                  cwd=recipe, check=False)
    assert proc.returncode == 1 and "no data/test" in proc.stderr and "dev is decoded" not in proc.stderr


def test_yesno_root_given_the_waves_folder_itself(tmp_path):
    """--yesno-root is the folder holding waves_yesno/; given the waves_yesno folder itself (what a
    user who unpacked Kaldi's tarball points at), it said only "no waves_yesno/ folder there"."""
    recipe = make_recipe_copy(tmp_path, "yesno")
    proc = run_sh(["./run.sh", "--yesno-root", "corpus/waves_yesno/", "--stop-stage", "0"], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        "local/data.sh: ERROR: --yesno-root corpus/waves_yesno/: that is the waves_yesno folder itself; "
        "give the folder holding it: --yesno-root corpus"), proc.stderr
    other = tmp_path / "my waves"   # the same files under another folder name
    other.mkdir()
    for wav in sorted((recipe / "corpus/waves_yesno").glob("*.wav"))[:6]:
        (other / wav.name).symlink_to(wav.resolve())
    proc = run_sh(["./run.sh", "--yesno-root", str(other), "--stop-stage", "0"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "that is a folder of the waves itself; --yesno-root is the folder holding " \
        f"them as waves_yesno/ (e.g. mkdir yesno && ln -s {other} yesno/waves_yesno" in proc.stderr, proc.stderr
    proc = run_sh(["./run.sh", "--yesno-root", str(tmp_path), "--stop-stage", "0"], cwd=recipe, check=False)
    assert proc.returncode == 1 and f"--yesno-root {tmp_path}: no waves_yesno/ folder there" in proc.stderr


@pytest.mark.parametrize("which", ["yesno", "setup.sh"])
def test_local_data_sh_from_another_directory_says_where_to_run_it(tmp_path, which):
    """local/data.sh started from elsewhere (the checkout root, or local/ itself) said only bash's
    "./path.sh: No such file or directory", as run.sh did before it was given the same guard."""
    recipe = make_recipe_copy(tmp_path, "yesno") if which == "yesno" else new_recipe(tmp_path)
    checkout = recipe.parent.parent.parent
    rel = recipe.relative_to(checkout)
    proc = run_sh([f"{rel}/local/data.sh", "--help"], cwd=checkout, check=False)
    assert proc.returncode == 1 and proc.stderr == (f"{rel}/local/data.sh: run me from my recipe directory: "
                                                    f"cd {recipe} && local/data.sh (no ./path.sh in {checkout})\n")
    # (the copy's local/ is a link: the folder named is where it leads)
    proc = run_sh(["./data.sh", "--help"], cwd=recipe / "local", check=False)
    assert proc.returncode == 1 and re.fullmatch(r"\./data\.sh: run me from my recipe directory: cd (\S+) && "
                                                 r"local/data\.sh \(no \./path\.sh in \S+\)\n", proc.stderr), proc.stderr
    assert run_sh(["local/data.sh", "--help"], cwd=recipe).stdout.startswith("Stage 0 of the ")


@pytest.mark.parametrize("run", ["egs/yesno/asr1/run.sh", "egs/TEMPLATE/asr1/skeleton/run.sh"])
def test_run_sh_help_lists_the_asr_sh_options_it_gives(run):
    """run.sh --help sent the user to ./asr.sh --help for the other options, whose defaults are
    asr.sh's (--num-avg 0, --test-sets test, --nj 4), not those this run.sh gives (--num-avg 5, dev and
    test scored, --nj 2). Its header now lists them: they must be those of its asr_args."""
    text = (REPO / run).read_text()
    listed = re.search(r"This script gives asr\.sh\n((?:#   --.*\n)+)", text)
    assert listed, "run.sh's header lists no options it gives asr.sh"
    listed_words = shlex.split(" ".join(l[1:] for l in listed.group(1).splitlines()))
    block = re.search(r"asr_args=\((.*?)\"\$\{passthrough_args\[@\]\}\"", text, re.S).group(1)
    given_words = shlex.split(block.replace("$default_test_sets", "dev test"))
    as_pairs = lambda words: dict(zip(words[::2], words[1::2]))   # noqa: E731
    assert as_pairs(listed_words) == as_pairs(given_words)
