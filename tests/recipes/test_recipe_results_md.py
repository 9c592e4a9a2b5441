"""asr.sh stages 5 and 6 on a trained model: stage 6's rows in RESULTS.md (--results), under the
table's header whatever the file held before, one run at a time adding them; the warnings of the
training, averaging, decoding and scoring jobs said on the console."""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess

import pytest
import yaml

from recipe_helpers import run_sh

# Every test here starts from the module's `trained` run (stages 0-5, a training and a decoding):
# under pytest-xdist a module fixture is made on each worker that runs one of its tests, and CI made
# it twice (8 s of CPU in Python processes each, 11-16 s). One xdist group keeps them on one worker,
# as SHARED_ON_ONE_WORKER does by fixture name (tests/conftest.py; 'trained' is also
# tests/training/test_damaged_checkpoints.py's).
pytestmark = pytest.mark.xdist_group("results_md_trained")

TINY1 = ("--set training.max_epochs=1 --set model.listener.hidden=16 --set model.listener.proj=16 "
         "--set model.attention.dim=16 --set model.attention.conv_channels=4 --set model.attention.conv_width=10 "
         "--set model.speller.hidden=16 --set model.speller.embed=8 --set training.num_plots=0")
HEADER = "| set | CER % | WER % | model config | decode config | training time | date | machine |"


def rows(path):
    return [line for line in path.read_text().splitlines() if line.startswith("| test |")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, yesno_root, yesno_stage2_at):
    """yesno with a tiny model trained (1 epoch) and decoded (stages 0-5): run from stage 0 on the
    shared run of stages 0-2 (run.sh's defaults), which stages 1 and 2 find done already."""
    recipe = yesno_stage2_at(tmp_path_factory.mktemp("stages56"))
    # (--nj 1: one decoding job, a process that imports torch and loads the model; what stage 6 scores
    # does not depend on it)
    proc = run_sh(["./run.sh", "--yesno-root", str(yesno_root), "--stop-stage", "5", "--train-args", TINY1,
                   "--nj", "1"], cwd=recipe, timeout=600)
    assert "stage 2: data/lang_char done already" in proc.stderr, proc.stderr[-3000:]
    return recipe


def test_rows_go_under_a_header_and_one_run_at_a_time(trained):
    recipe = trained
    results = recipe / "RESULTS.md"
    # Emptied to start the results afresh: the rows came under no header (no Markdown table).
    results.write_text("")
    run_sh(["./run.sh", "--stage", "6"], cwd=recipe)
    lines = results.read_text().splitlines()
    assert lines[0] == HEADER and lines[1].startswith("|---|") and lines[2].startswith("| test |"), lines
    # Notes of one's own, the last line without its newline: the row was joined to it.
    results.write_text("# runs on my laptop\nsee below")
    run_sh(["./run.sh", "--stage", "6"], cwd=recipe)
    lines = results.read_text().splitlines()
    assert lines[:2] == ["# runs on my laptop", "see below"] and HEADER in lines and len(rows(results)) == 1, lines
    # A header followed by notes (FSDD's RESULTS.md): the rows went after the notes, no table's.
    results.write_text(HEADER + "\n|---|---|---|---|---|---|---|---|\n| old | 1 | 2 | x | y | z | d | m |\n\nNotes.\n")
    run_sh(["./run.sh", "--stage", "6"], cwd=recipe)
    lines = results.read_text().splitlines()
    assert lines.count(HEADER) == 2 and lines[-3:-1] == [HEADER, "|---|---|---|---|---|---|---|---|"], lines
    assert lines[-1].startswith("| test |"), lines
    # A second table is not started under one already there.
    results.write_text("")
    run_sh(["./run.sh", "--stage", "6", "--results", "RESULTS.md"], cwd=recipe)
    run_sh(["./run.sh", "--stage", "6", "--tag", "train_char"], cwd=recipe)
    assert results.read_text().count(HEADER) == 1 and len(rows(results)) == 1

    # Another run adding to it (of another exp dir): stage 6 waits for it rather than writing beside it.
    results.write_text("")
    with open(results, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        proc = subprocess.Popen(["./run.sh", "--stage", "6"], cwd=recipe, stderr=subprocess.PIPE, text=True, env=env)
        waited = False
        for line in proc.stderr:
            if "stage 6: waiting for another run adding its rows to RESULTS.md" in line:
                waited = True
                break
        assert waited and proc.poll() is None and results.read_text() == ""
        held.write(HEADER + "\n|---|---|---|---|---|---|---|---|\n| other | 1 | 2 | x | y | z | d | m |\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_UN)
    # (read to its end: a stage 6 that said more than a pipe holds waited on it; 600 s bounds a hang only)
    err = proc.communicate(timeout=600)[1]
    assert proc.returncode == 0, err
    lines = results.read_text().splitlines()
    assert lines.count(HEADER) == 1 and lines[2].startswith("| other |") and lines[3].startswith("| test |"), lines


def _killed_in_stage_6(recipe, name, sig, when):
    """Stage 6 with a bash function ``name`` (exported into asr.sh) that sends asr.sh ``sig`` once
    called with arguments matching the glob ``when`` (after doing what the builtin or command does)."""
    body = f'() {{ command {name} "$@"; case "$*" in {when}) kill -{sig} $$ ;; esac; }}'
    return run_sh(["./run.sh", "--stage", "6"], cwd=recipe, check=False, env={f"BASH_FUNC_{name}%%": body})


def test_a_stage_6_killed_after_its_header_leaves_a_whole_one(trained):
    """The header went in two writes: a run killed between them left it without its separator
    line, which the next run took for its table's (its rows under it: no Markdown table)."""
    recipe = trained
    results = recipe / "RESULTS.md"
    results.write_text("")
    proc = _killed_in_stage_6(recipe, "printf", "KILL", "*'| set | CER'*")
    assert proc.returncode != 0 and results.read_text().count(HEADER) == 1, proc.stderr[-3000:]
    run_sh(["./run.sh", "--stage", "6"], cwd=recipe)
    lines = results.read_text().splitlines()
    assert lines[0] == HEADER and lines[1].startswith("|---|") and lines[2].startswith("| test |"), lines


def test_a_stage_6_stopped_before_its_first_row_leaves_no_empty_results_md(trained):
    """Stopped (SIGTERM, as by Ctrl-C) after the scoring, before a row: the RESULTS.md made for
    the lock stayed behind, empty."""
    recipe = trained
    results = recipe / "RESULTS.md"
    results.unlink(missing_ok=True)  # (there only if an earlier test of this module ran stage 6)
    proc = _killed_in_stage_6(recipe, "hostname", "TERM", "*")
    assert proc.returncode != 0 and "stage 6: scoring" in proc.stderr, proc.stderr[-3000:]
    assert not results.exists()
    # One there already, even empty (the user's, emptied to start afresh), is kept.
    results.write_text("")
    _killed_in_stage_6(recipe, "hostname", "TERM", "*")
    assert results.exists()
    # A symlink to where the user keeps their results, the file not made yet: the link was removed
    # as a file this run had made.
    results.unlink()
    (recipe / "shared").mkdir()
    results.symlink_to("shared/results.md")
    _killed_in_stage_6(recipe, "hostname", "TERM", "*")
    assert results.is_symlink() and os.readlink(results) == "shared/results.md"
    results.unlink()
    results.write_text("")
    # A run waiting for the lock on a file that the run holding it removes (as above): its rows went
    # to the removed file. It opens the file anew.
    with open(results, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.Popen(["./run.sh", "--stage", "6"], cwd=recipe, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, OMP_NUM_THREADS="1"))
        for line in proc.stderr:
            if "stage 6: waiting for another run adding its rows to RESULTS.md" in line:
                break
        results.unlink()
    err = proc.communicate(timeout=600)[1]
    assert proc.returncode == 0, err
    lines = results.read_text().splitlines()
    assert lines[0] == HEADER and lines[2].startswith("| test |"), lines


def test_each_decode_args_value_has_its_decode_dir_and_row(trained):
    """--decode-args names the decode directory (bin/decode_dir_name.sh), as ESPnet's asr.sh has
    its inference args name its own: a beam sweep decoded each run into decode_test_decode, over
    the run before, and the earlier run's RESULTS.md row named a directory that no longer held it."""
    recipe = trained
    results = recipe / "RESULTS.md"
    results.write_text("")
    exp = recipe / "exp/train_char"
    first = (exp / "decode_test_decode/text").read_text()
    # (--nj 1: one decoding job, a process that imports torch and loads the model)
    proc = run_sh(["./run.sh", "--stage", "5", "--nj", "1", "--decode-args", "--beam 1"], cwd=recipe)
    assert "-> exp/train_char/decode_test_decode_beam1\n" in proc.stderr, proc.stderr[-3000:]
    assert "--beam 1" in (exp / "decode_test_decode_beam1/log/decode.1.log").read_text()
    assert (exp / "decode_test_decode/text").read_text() == first
    assert "--beam 1" not in (exp / "decode_test_decode/log/decode.1.log").read_text()
    # The decoding of conf/decode.yaml alone is still there to score: a row of its own.
    proc = run_sh(["./run.sh", "--stage", "6"], cwd=recipe)
    assert "stage 6: scoring exp/train_char/decode_test_decode\n" in proc.stderr, proc.stderr[-3000:]
    assert (exp / "decode_test_decode/wer.txt").is_file() and (exp / "decode_test_decode_beam1/wer.txt").is_file()
    decode_configs = [row.split(" | ")[4] for row in rows(results)]
    assert decode_configs == ["conf/decode.yaml --beam 1", "conf/decode.yaml"], rows(results)


def test_an_lm_weight_spelt_another_way_finds_its_decoding_and_row(trained):
    """--lm-weight 0.50 and .5 name one directory, decode_test_decode_lm0.5, and asr.sh spells the
    weight as the name does everywhere (its .done fingerprint, final.pt, the row): as typed, .5
    after 0.50 decoded that directory again and stage 6 added a second row for it."""
    recipe = trained
    results = recipe / "RESULTS.md"
    results.write_text("")
    lm = ["--use-lm", "true", "--nj", "1"]
    run_sh(["./run.sh", "--stage", "3", "--stop-stage", "3", *lm], cwd=recipe)
    proc = run_sh(["./run.sh", "--stage", "5", *lm, "--lm-weight", "0.50"], cwd=recipe)
    assert "-> exp/train_char/decode_test_decode_lm0.5\n" in proc.stderr, proc.stderr[-3000:]
    proc = run_sh(["./run.sh", "--stage", "5", *lm, "--lm-weight", ".5"], cwd=recipe)
    assert "stage 5: exp/train_char/decode_test_decode_lm0.5 done already" in proc.stderr, proc.stderr[-3000:]
    assert "+ --lm-weight 0.5 (applied when decoding with --lm)" in proc.stderr
    assert [row.split(" | ")[4] for row in rows(results)] == ["conf/decode.yaml + LM (weight 0.5)"], rows(results)


def test_two_spellings_of_the_same_options_are_one_decoding_and_one_row(trained):
    """--decode-args '--beam 3' and '--beam=3' name one directory, decode_test_decode_beam3, and
    are one decoding: stage 5's .done recorded the options as typed, so the second spelling decoded
    it again and stage 6 added a second row. It records them as asrkit-decode resolves them too
    (--print-config): another spelling, or a comment added to the config, is done already; a value
    that changes the decoding in a config of the same name decodes again, and has a row of its own."""
    recipe = trained
    results = recipe / "RESULTS.md"
    results.write_text("")
    exp = recipe / "exp/train_char"
    proc = run_sh(["./run.sh", "--stage", "5", "--nj", "1", "--decode-args", "--beam 3"], cwd=recipe)
    assert "-> exp/train_char/decode_test_decode_beam3\n" in proc.stderr, proc.stderr[-3000:]
    proc = run_sh(["./run.sh", "--stage", "5", "--nj", "1", "--decode-args", "--beam=3"], cwd=recipe)
    assert "stage 5: exp/train_char/decode_test_decode_beam3 done already" in proc.stderr, proc.stderr[-3000:]
    assert "its row is in RESULTS.md already" in proc.stderr, proc.stderr[-3000:]
    assert [row.split(" | ")[4] for row in rows(results)] == ["conf/decode.yaml --beam 3"], rows(results)
    # (and stage 6 alone, which resolves the options itself)
    proc = run_sh(["./run.sh", "--stage", "6", "--decode-args", "--beam=3"], cwd=recipe)
    assert len(rows(results)) == 1 and "its row is in RESULTS.md already" in proc.stderr, proc.stderr[-3000:]

    mine = recipe / "mine.yaml"
    mine.write_text("beam: 4\nctc_weight: 0.3\n")
    mine_args = ["--nj", "1", "--decode-config", "mine.yaml", "--decode-args", "--beam 3"]
    proc = run_sh(["./run.sh", "--stage", "5", *mine_args], cwd=recipe)
    assert "-> exp/train_char/decode_test_mine_beam3\n" in proc.stderr, proc.stderr[-3000:]
    mine.write_text("# my beam search\nbeam: 4\nctc_weight: 0.3\n")
    proc = run_sh(["./run.sh", "--stage", "5", *mine_args], cwd=recipe)
    assert "stage 5: exp/train_char/decode_test_mine_beam3 done already" in proc.stderr, proc.stderr[-3000:]
    mine.write_text("beam: 4\nctc_weight: 0.5\n")
    proc = run_sh(["./run.sh", "--stage", "5", *mine_args], cwd=recipe)
    assert "-> exp/train_char/decode_test_mine_beam3\n" in proc.stderr, proc.stderr[-3000:]
    assert "ctc_weight: 0.5" in (exp / "final_decode.yaml").read_text()


def test_a_decoding_keeps_one_row_when_its_row_was_found_or_holds_a_tab(trained):
    """<decode dir>/.rows records the row stage 6 added for a decoding, so that another spelling of
    its options adds none. A directory removed and decoded again finds its row by text (the same
    inputs, the same rates) and added nothing: unrecorded, '--beam=3' then found neither and added
    a second row. And a row of --decode-args with a tab in them was recorded cut at the tab."""
    recipe = trained
    results = recipe / "RESULTS.md"
    results.write_text("")
    decoded = recipe / "exp/train_char/decode_test_decode_beam3"
    shutil.rmtree(decoded, ignore_errors=True)
    run_sh(["./run.sh", "--stage", "5", "--nj", "1", "--decode-args", "--beam 3"], cwd=recipe)
    shutil.rmtree(decoded)
    proc = run_sh(["./run.sh", "--stage", "5", "--nj", "1", "--decode-args", "--beam 3"], cwd=recipe)
    assert "-> exp/train_char/decode_test_decode_beam3\n" in proc.stderr, proc.stderr[-3000:]
    assert "its row is in RESULTS.md already" in proc.stderr, proc.stderr[-3000:]
    proc = run_sh(["./run.sh", "--stage", "5", "--nj", "1", "--decode-args", "--beam=3"], cwd=recipe)
    assert "decode_test_decode_beam3 done already" in proc.stderr, proc.stderr[-3000:]
    assert [row.split(" | ")[4] for row in rows(results)] == ["conf/decode.yaml --beam 3"], rows(results)

    results.write_text("")
    shutil.rmtree(decoded)
    run_sh(["./run.sh", "--stage", "5", "--nj", "1", "--decode-args", "--beam\t3"], cwd=recipe)
    proc = run_sh(["./run.sh", "--stage", "5", "--nj", "1", "--decode-args", "--beam 3"], cwd=recipe)
    assert "its row is in RESULTS.md already" in proc.stderr, proc.stderr[-3000:]
    assert [row.split(" | ")[4] for row in rows(results)] == ["conf/decode.yaml --beam\t3"], rows(results)


def test_two_spellings_of_the_adaptation_options_are_one_decoding_and_one_row(trained):
    """--adapt-args '--epochs 1 --keep 0.5' and '--epochs=1 --keep=0.5' name one directory,
    decode_test_decode_adapt_epochs1_keep0.5, and are one adaptation: its .done recorded them as
    typed only (the decoding options as resolved too), so the second spelling adapted and decoded
    it again and stage 6 added a second row."""
    recipe = trained
    results = recipe / "RESULTS.md"
    results.write_text("")
    adapt = ["./run.sh", "--stage", "5", "--nj", "1", "--adapt-speakers", "true", "--adapt-args"]
    proc = run_sh([*adapt, "--epochs 1 --keep 0.5"], cwd=recipe)
    assert "the adapted pass -> exp/train_char/decode_test_decode_adapt_epochs1_keep0.5\n" in proc.stderr, proc.stderr[-3000:]
    proc = run_sh([*adapt, "--epochs=1 --keep=0.5"], cwd=recipe)
    assert "stage 5: exp/train_char/decode_test_decode_adapt_epochs1_keep0.5 done already" in proc.stderr, proc.stderr[-3000:]
    assert "its row is in RESULTS.md already" in proc.stderr, proc.stderr[-3000:]
    assert [row.split(" | ")[4] for row in rows(results)] == [
        "conf/decode.yaml + speaker adaptation (--epochs 1 --keep 0.5)"], rows(results)


def test_the_adaptation_reads_the_decoding_passes_options(trained):
    """Stage 5's asrkit-adapt-speakers gets the options both decoding passes get, --decode-args
    resolved in (<adapted dir>/decode_options.yaml): given --decode-config alone, its transforms
    were estimated on features normalised otherwise (--edge-pad-s) than the second pass's, and a
    config that only --decode-args makes valid (nbest: 5 at beam 4, under '--beam 5') was refused
    before stage 0, though both passes decode with it. The file is the directory's own: it read
    exp/<tag>/final_decode.yaml, which another stage 5 run (another decode dir's options) may have
    written since."""
    recipe = trained
    (recipe / "nbest.yaml").write_text("beam: 4\nnbest: 5\n")
    # (--min-utts 5: yesno's test set is one speaker of 30 utterances, under the default 50)
    proc = run_sh(["./run.sh", "--stage", "5", "--stop-stage", "5", "--nj", "1", "--decode-config", "nbest.yaml",
                   "--decode-args", "--beam 5 --edge-pad-s 0.1", "--adapt-speakers", "true",
                   "--adapt-args", "--epochs 1 --min-utts 5"], cwd=recipe)
    adapted = recipe / "exp/train_char/decode_test_nbest_beam5_edge-pad-s0.1_adapt_epochs1_min-utts5"
    assert (adapted / "trans.ark").is_file() and (adapted / ".done").is_file(), proc.stderr[-3000:]
    log = (adapted / "log/adapt.log").read_text()
    assert f"decoding options: --config {adapted.relative_to(recipe)}/decode_options.yaml" in log, log[-3000:]
    # (estimated: a tiny model's transform may also raise the loss and be left as the identity)
    assert "speaker 'yesno': adapted on 15 of 30 utterances" in log or \
        "speaker 'yesno': the transform raised the loss per token on the 15 utterances" in log, log[-3000:]
    options = yaml.safe_load((adapted / "decode_options.yaml").read_text())
    assert (options["beam"], options["nbest"], options["edge_pad_s"]) == (5, 5, 0.1)
    assert (adapted / "decode_options.yaml").read_text() == (recipe / "exp/train_char/final_decode.yaml").read_text()


def test_a_line_break_in_the_decode_and_adapt_args_is_a_space(trained):
    """A line break in --decode-args or --adapt-args (a run.sh line of a script, the options over
    two lines) reached the commands as a space, but stage 6's RESULTS.md row held it: the row went
    over two lines, no Markdown table row, and --print-config true refused the value. asr.sh takes
    each such option as its lines joined by one space (the blanks at their ends dropped): the same
    decoding, .done record and row as the one-line spelling."""
    recipe = trained
    results = recipe / "RESULTS.md"
    results.write_text("")
    decode_args, adapt_args = "--beam 2\n  --penalty 0.5\n", "--epochs 1 \r\n--keep 0.5"
    args = ["--nj", "1", "--adapt-speakers", "true"]
    proc = run_sh(["./run.sh", "--print-config", "true", *args, "--decode-args", decode_args, "--adapt-args", adapt_args],
                  cwd=recipe)
    assert 'decode_args="--beam 2 --penalty 0.5"' in proc.stdout.splitlines(), proc.stdout
    assert 'adapt_args="--epochs 1 --keep 0.5"' in proc.stdout.splitlines(), proc.stdout
    proc = run_sh(["./run.sh", "--stage", "5", *args, "--decode-args", decode_args, "--adapt-args", adapt_args],
                  cwd=recipe)
    adapted = "exp/train_char/decode_test_decode_beam2_penalty0.5_adapt_epochs1_keep0.5"
    assert "stage 6: test: CER " in proc.stderr and adapted in proc.stderr, proc.stderr[-3000:]
    assert results.read_text().splitlines()[2:] == rows(results), results.read_text()
    assert [row.split(" | ")[4] for row in rows(results)] == [
        "conf/decode.yaml --beam 2 --penalty 0.5 + speaker adaptation (--epochs 1 --keep 0.5)"], rows(results)
    # (the record: a line of the options as typed, one as resolved)
    with open(recipe / adapted / ".done", newline="") as f:
        done = f.read()
    assert done.count("\n") == 2 and "\r" not in done and " --beam 2 --penalty 0.5 " in done.split("\n")[0] \
        and done.split("\n")[0].endswith(" --epochs 1 --keep 0.5"), done
    # The one-line spelling is the same decoding, and has that row.
    proc = run_sh(["./run.sh", "--stage", "5", *args, "--decode-args", "--beam 2 --penalty 0.5",
                   "--adapt-args", "--epochs 1 --keep 0.5"], cwd=recipe)
    assert f"stage 5: {adapted} done already" in proc.stderr and "its row is in RESULTS.md already" in proc.stderr, \
        proc.stderr[-3000:]
    assert len(rows(results)) == 1, results.read_text()


def test_the_adaptations_decoding_options_are_written_whole_or_not_at_all(trained):
    """<adapted dir>/decode_options.yaml was written in place, after the directory's .done was
    removed: an asrkit-decode --print-config that failed part-way (a full disk, the job killed)
    left half a file of options there. It goes to a temporary file, renamed once whole."""
    recipe = trained
    # asrkit-decode (a function asr.sh inherits) writing one line, then failing, for that file alone
    body = ('() { local me=$BASHPID; if [[ " $* " == *" --print-config "* && '
            '$(readlink /proc/$me/fd/1) == */decode_options.yaml* ]]; then echo "beam: 4"; return 1; fi; '
            'command asrkit-decode "$@"; }')
    proc = run_sh(["./run.sh", "--stage", "5", "--stop-stage", "5", "--nj", "1", "--adapt-speakers", "true",
                   "--adapt-args", "--epochs 1 --min-utts 7"], cwd=recipe, check=False,
                  env={"BASH_FUNC_asrkit-decode%%": body})
    assert proc.returncode == 1 and proc.stderr.endswith(
        "asr.sh: ERROR: stage 5: asrkit-decode --print-config failed for conf/decode.yaml\n"), proc.stderr[-3000:]
    adapted = recipe / "exp/train_char/decode_test_decode_adapt_epochs1_min-utts7"
    assert adapted.is_dir() and sorted(p.name for p in adapted.iterdir()) == ["log"], sorted(adapted.iterdir())


def test_stage_5_packs_final_pt_again_only_for_another_model_or_options(trained):
    """Stage 5 packed exp/<tag>/final.pt on every run, every decoding done already (a copy of a few
    MB, a Python process: 35 times in CI, every run again of a user's). It packs it again when the
    model's contents or the resolved decoding options differ from those .final.pt.done records
    (written once a pack has succeeded), or final.pt is gone; a model only touched does not."""
    recipe = trained
    exp = recipe / "exp/train_char"
    final, pack_log = exp / "final.pt", exp / "log/pack_model.log"
    stage5 = ["./run.sh", "--stage", "5", "--stop-stage", "5", "--nj", "1"]
    up_to_date = "stage 5: exp/train_char/final.pt up to date\n"
    # (packed for these options here, whatever an earlier test of the module left)
    proc = run_sh(stage5, cwd=recipe)
    model = recipe / re.search(r"stage 5: exp/train_char/final\.pt: (\S+) with the decoding options", proc.stderr).group(1)

    def packed(*args):
        pack_log.write_text("not packed again\n")  # (the launcher writes a job's log anew)
        before = final.stat().st_mtime_ns
        proc = run_sh(stage5 + list(args), cwd=recipe, check=False)
        again = pack_log.read_text() != "not packed again\n"
        assert again == (up_to_date not in proc.stderr), proc.stderr[-3000:]
        # (a pack that failed leaves final.pt as it was)
        assert proc.returncode != 0 or again == (final.stat().st_mtime_ns != before), proc.stderr[-3000:]
        return proc, again

    proc, again = packed()
    assert proc.returncode == 0 and not again, proc.stderr[-3000:]
    # Other --decode-args (one spelling of them, then another of the same ones), and back.
    proc, again = packed("--decode-args", "--beam 1")
    assert proc.returncode == 0 and again and "(beam 1, " in pack_log.read_text(), proc.stderr[-3000:]
    assert packed("--decode-args", "--beam=1")[1] is False
    assert packed()[1] is True and packed()[1] is False
    # The model touched, not changed: up to date.
    os.utime(model)
    assert packed()[1] is False
    # Another model under the same name (not one: its pack fails), then the one before again: the
    # failed pack left no record, and final.pt is packed again.
    good = model.read_bytes()
    model.write_bytes(b"not a model")
    proc, again = packed()
    assert proc.returncode == 1 and "pack_model.log" in proc.stderr and again, proc.stderr[-3000:]
    model.write_bytes(good)
    proc, again = packed()
    assert proc.returncode == 0 and again, proc.stderr[-3000:]
    # final.pt removed: packed again.
    final.unlink()
    pack_log.write_text("not packed again\n")
    proc = run_sh(stage5, cwd=recipe)
    assert final.is_file() and pack_log.read_text() != "not packed again\n" and up_to_date not in proc.stderr


def test_a_final_pt_changed_since_stage_5_packed_it_is_packed_again(trained):
    """Stage 5 packed final.pt on every run, so it was always the model decoded with the options
    decoded with. Packed only when the model or the options changed, a final.pt written over by hand
    since (another model's, a half copy) was called up to date and handed out as stage 5's."""
    recipe = trained
    exp = recipe / "exp/train_char"
    final = exp / "final.pt"
    stage5 = ["./run.sh", "--stage", "5", "--stop-stage", "5", "--nj", "1"]
    up_to_date = "stage 5: exp/train_char/final.pt up to date\n"
    run_sh(stage5, cwd=recipe)
    packed = final.read_bytes()
    assert up_to_date in run_sh(stage5, cwd=recipe).stderr
    final.write_bytes(b"not a model")
    proc = run_sh(stage5, cwd=recipe)
    assert up_to_date not in proc.stderr and final.read_bytes() != b"not a model", proc.stderr[-3000:]
    assert len(final.read_bytes()) == len(packed)
    # (and up to date again after that pack)
    assert up_to_date in run_sh(stage5, cwd=recipe).stderr


def test_warnings_of_the_decoding_and_scoring_jobs_are_said(trained):
    recipe = trained
    dec = "exp/train_char/decode_test_decode_maxlenratio0.01"  # (its --decode-args' own)
    # Hypotheses cut at a maximum length of a token or two: said in each decoding job's log alone.
    proc = run_sh(["./run.sh", "--stage", "5", "--stop-stage", "5", "--nj", "1",
                   "--decode-args", "--maxlenratio 0.01"], cwd=recipe)
    assert "stage 5: " in proc.stderr and f" warning(s) in {dec}/log/decode.*.log, " \
        "the first: [decode] utterance '" in proc.stderr, proc.stderr[-3000:]
    # The reference has lost two utterances since (data/test made again): their hypotheses are ignored.
    text = recipe / "data/test/text"
    text.write_text("".join(text.read_text().splitlines(keepends=True)[2:]))
    proc = run_sh(["./run.sh", "--stage", "6", "--decode-args", "--maxlenratio 0.01"], cwd=recipe)
    assert f"stage 6: 1 warning(s) in {dec}/log/score.log, the first: [score] " \
        f"{dec}/text: 2 utterance(s) not in the reference data/test/text were ignored" \
        in proc.stderr, proc.stderr[-3000:]


def test_warnings_of_the_training_and_averaging_are_said(trained):
    # Utterances left out of the training, fewer checkpoints than --num-avg: only in the logs.
    proc = run_sh(["./run.sh", "--stage", "4", "--stop-stage", "4", "--tag", "short", "--num-avg", "5",
                   "--train-args", TINY1 + " --set batching.max_frames=620"], cwd=trained)
    assert "stage 4: 1 warning(s) in exp/short/log/train.log, the first: [las_task] " in proc.stderr \
        and "are longer than batching.max_frames=620 and are not trained on" in proc.stderr, proc.stderr[-3000:]
    assert "stage 4: 1 warning(s) in exp/short/log/average.log, the first: [average] 5 checkpoint(s) asked for, " \
        "1 available" in proc.stderr, proc.stderr[-3000:]
