"""A speech engineer's own corpus through egs/TEMPLATE/asr1/setup.sh, following README.md's "Your
own corpus" and docs/recipes.md ("Adding a corpus") only: real FSDD and AN4 recordings re-arranged
as a user's corpus arrives (one folder per speaker, one CSV of transcripts, FLAC, MP3, 44.1 kHz
stereo and 24-bit WAV at 8 and 16 kHz, spaces, upper-case extensions and non-ASCII letters in the
names) with broken files mixed in (0-byte, a cut header, a text file named .wav, a transcript
without audio, audio without a transcript); stages 0-6 with a tiny model, then the packed model
through asrkit-decode on new files, as an end user decodes."""
from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile

from debian_packages import require_program
from recipe_helpers import REPO, new_recipe, read_table, run_sh
from user_corpus import an4_recordings, make_user_corpus

TINY = ("--set training.max_epochs=2 --set model.listener.hidden=32 --set model.listener.proj=32 "
        "--set model.attention.dim=32 --set model.attention.conv_channels=4 --set model.attention.conv_width=10 "
        "--set model.speller.hidden=32 --set model.speller.embed=16 --set training.num_plots=1")
DIGITS = "ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE".split()


def asr_sh_results_header() -> list:
    """The two header lines asr.sh's stage 6 writes into a RESULTS.md it creates (in one printf)."""
    lines = [l for l in (REPO / "egs/TEMPLATE/asr1/asr.sh").read_text().splitlines()
             if re.match(r"\s*printf '%s\| set ", l)]
    assert len(lines) == 1, lines
    return re.search(r"printf '%s(.*)\\n'", lines[0]).group(1).replace("%%", "%").split("\\n")


def table_cells(line: str) -> int:
    return line.strip().count("|") - 1


def test_new_recipe_results_md_holds_the_table_header(tmp_path):
    """setup.sh's RESULTS.md exists, so asr.sh never wrote its table header into it: the rows that
    stage 6 appended followed the prose without one, no Markdown table and no column named."""
    recipe = new_recipe(tmp_path)
    lines = (recipe / "RESULTS.md").read_text().rstrip("\n").splitlines()
    header = asr_sh_results_header()
    assert lines[-2:] == header, lines
    assert table_cells(header[0]) == table_cells(header[1]) == 8


def make_own_corpus(root: Path, fsdd_root: Path, an4_root: Path) -> dict:
    """The corpus under root/audio/<speaker>/ and root/transcripts.csv; returns {speaker: good files}."""
    audio = root / "audio"
    rows = []
    rec = fsdd_root / "recordings"
    for d in ("george", "jackson", "José", "fash", "fbbh"):
        (audio / d).mkdir(parents=True)
    for i in range(8):   # 8 kHz WAV as it is, a space in the name and an upper-case extension
        shutil.copy(rec / f"{i}_george_0.wav", audio / "george" / f"george take {i:02d}.WAV")
        rows.append((f"george take {i:02d}", DIGITS[i]))
    for i in range(8):   # 8 kHz FLAC
        x, r = soundfile.read(rec / f"{i}_jackson_1.wav")
        soundfile.write(audio / "jackson" / f"jackson_{i:02d}.FLAC", x, r, format="FLAC")
        rows.append((f"jackson_{i:02d}", DIGITS[i]))
    mp3 = "MP3" in soundfile.available_formats()
    for i in range(6):   # 8 kHz MP3 (OGG where this libsndfile writes no MP3), a non-ASCII name
        x, r = soundfile.read(rec / f"{i}_nicolas_2.wav")
        soundfile.write(audio / "José" / f"prise_é_{i:02d}.{'mp3' if mp3 else 'ogg'}", x, r,
                        format="MP3" if mp3 else "OGG")
        rows.append((f"prise_é_{i:02d}", DIGITS[i]))
    an4 = an4_recordings(an4_root, 40)
    fash = [a for a in an4 if a[1] == "fash"][:8]
    fbbh = [a for a in an4 if a[1] == "fbbh"][:8]
    for i, (wav, _, words) in enumerate(fash):   # 44.1 kHz stereo WAV (sox pipes at stage 0)
        subprocess.run(["sox", str(wav), "-r", "44100", "-c", "2", str(audio / "fash" / f"fash_{i:02d}.wav")],
                       check=True)
        rows.append((f"fash_{i:02d}", words))
    for i, (wav, _, words) in enumerate(fbbh):   # 24-bit WAV
        x, r = soundfile.read(wav)
        soundfile.write(audio / "fbbh" / f"fbbh_{i:02d}.Wav", x, r, subtype="PCM_24")
        rows.append((f"fbbh_{i:02d}", words))
    # The broken ones: each with a transcript, so only its audio is at fault.
    (audio / "george/empty.wav").write_bytes(b"")
    (audio / "george/trunc.wav").write_bytes((rec / "5_george_3.wav").read_bytes()[:30])
    (audio / "jackson/notes.wav").write_text("recorded on tuesday, mic 2\n")
    rows += [("empty", "ONE"), ("trunc", "FIVE"), ("notes", "TWO"), ("ghost_utt", "NINE")]
    shutil.copy(rec / "7_theo_0.wav", audio / "fash/orphan.wav")
    with open(root / "transcripts.csv", "w", newline="") as f:   # as a spreadsheet exports it
        w = csv.writer(f)
        w.writerow(["file", "transcript"])
        for name, text in rows:
            w.writerow([name, text.lower().capitalize() + "."])
    return {"george": 8, "jackson": 8, "José": 6, "fash": len(fash), "fbbh": len(fbbh)}


def set_option(script: Path, name: str, value: str) -> None:
    text = script.read_text()
    new, n = re.subn(rf"^{name}=\S*", f"{name}={value}", text, flags=re.M)
    assert n == 1, name
    script.write_text(new)


@pytest.mark.slow
def test_own_corpus_from_stage_0_to_asrkit_decode(tmp_path, fsdd_root, an4_root):
    require_program("sox")
    corpus = tmp_path / "corpus"
    good = make_own_corpus(corpus, fsdd_root, an4_root)
    n_good = sum(good.values())
    recipe = new_recipe(tmp_path)
    data_sh = recipe / "local/data.sh"
    set_option(data_sh, "audio_subdir", "audio")
    set_option(data_sh, "transcripts", "transcripts.csv")
    set_option(data_sh, "speaker_from_dir", "true")

    # The CSV is refused with the command that converts it; run as it says, into data/local/.
    proc = run_sh(["./run.sh", "--corpus-root", str(corpus), "--stop-stage", "0"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "transcripts.csv:1: a CSV file" in proc.stderr, proc.stderr
    assert not (recipe / "data/all").exists()
    convert = re.search(r"e\.g\. (python3 -c .*? > )prompts\.tsv", proc.stderr).group(1)
    (recipe / "data/local").mkdir(parents=True, exist_ok=True)  # (stage 0 makes it)
    run_sh(convert + "data/local/prompts.tsv", cwd=recipe)
    set_option(data_sh, "transcripts", "data/local/prompts.tsv")

    # MP3 is not in the default --audio-ext: its files are counted out, and the message names the fix.
    proc = run_sh(["./run.sh", "--corpus-root", str(corpus), "--stop-stage", "0"], cwd=recipe, check=False)
    ext = "mp3" if "MP3" in soundfile.available_formats() else "ogg"
    assert proc.returncode == 1 and f"--audio-ext wav,flac,{ext}" in proc.stderr, proc.stderr
    assert "more than --max-skip-ratio 0.05" in proc.stderr and not (recipe / "data/all").exists()
    set_option(data_sh, "audio_ext", f"wav,flac,{ext}")
    # 5 broken of 43 is more than 5 %: a user who has looked at them raises the ratio.
    set_option(data_sh, "max_skip_ratio", "0.15")
    proc = run_sh(["./run.sh", "--corpus-root", str(corpus), "--stop-stage", "0"], cwd=recipe)
    for bad in ("george/empty.wav", "george/trunc.wav", "jackson/notes.wav", "ghost_utt", "fash/orphan.wav"):
        assert bad in proc.stderr, (bad, proc.stderr)
    assert f"Done {n_good} utterances out of {n_good + 4} audio files" in proc.stderr, proc.stderr
    spk = read_table(recipe / "data/all/utt2spk")
    assert len(spk) == n_good and {s: list(spk.values()).count(s) for s in good} == good
    assert read_table(recipe / "data/all/wav.scp")["george-george_take_03"] == \
        str(corpus.resolve() / "audio/george/george take 03.WAV")

    # 8 kHz audio through the 16 kHz fbank: stage 1 stops naming the rate and the option to add.
    args = ["./run.sh", "--stage", "1", "--nj", "1", "--train-args", TINY]
    proc = run_sh(args + ["--stop-stage", "1"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "sample rate 8000 Hz does not match" in proc.stderr
    assert "--fbank-args --resample" in proc.stderr and not (recipe / "dump/train/.done").exists()

    # Stages 1-6 with the template's defaults (--num-avg 5) and a tiny model of 2 epochs.
    proc = run_sh(args + ["--fbank-args", "--resample"], cwd=recipe)
    assert "done: stages 1..6" in proc.stderr
    exp = recipe / "exp/train_char"
    lines = (recipe / "RESULTS.md").read_text().rstrip("\n").splitlines()
    header = asr_sh_results_header()
    at = lines.index(header[0])
    assert lines[at + 1] == header[1] and len(lines) == at + 4, lines
    for s, row in zip(("dev", "test"), lines[at + 2:]):
        assert row.startswith(f"| {s} | ") and table_cells(row) == 8, row
        # asrkit-average found 2 checkpoints to average, not --num-avg's 5: the row said "5 best averaged"
        assert "model.avg.pt (2 best averaged: no more checkpoints for --num-avg 5) (exp/train_char)" in row, row
    assert (exp / "model.avg.count").read_text().strip() == "2"

    # The end user: the packed model on new files, any rate, format, channel count or name.
    new = tmp_path / "new"
    new.mkdir()
    shutil.copy(fsdd_root / "recordings/3_theo_5.wav", new / "new take 1.WAV")
    wav = an4_recordings(an4_root, 1, "test")[0][0]
    subprocess.run(["sox", str(wav), "-r", "44100", "-c", "2", str(new / "élan.flac")], check=True)
    proc = run_sh([str(REPO / "tools/venv/bin/asrkit-decode"), "--model", str(exp / "final.pt"),
                   str(new / "new take 1.WAV"), str(new / "élan.flac")], cwd=tmp_path)
    assert sorted(l.split(" ", 1)[0] for l in proc.stdout.splitlines()) == ["new_take_1", "élan"], proc.stdout
    assert "Done 2 out of 2 utterances" in proc.stderr


def test_stage_1_refuses_a_stage_0_left_part_done_or_another_corpus_root(tmp_path, an4_root):
    """From --stage 1 on, run.sh went on with exit 0 on data/ that a failed stage 0 left half new
    (data/all of the corpus as it is now beside the last split's sets), and on the old corpus's
    data under a new --corpus-root (which from --stage 1 on changes nothing)."""
    recipe = new_recipe(tmp_path)
    corpus, other = tmp_path / "corpus", tmp_path / "other"
    make_user_corpus(an4_root, corpus, 24)
    make_user_corpus(an4_root, other, 12)
    for c in (corpus, other):
        (c / "prompts.txt").rename(c / "audio/prompts.txt")
    set_option(recipe / "local/data.sh", "transcripts", "audio/prompts.txt")
    set_option(recipe / "local/data.sh", "audio_subdir", "audio")
    run_sh(["./run.sh", "--corpus-root", str(corpus), "--stop-stage", "0"], cwd=recipe)
    assert (recipe / "data/stage0_options").read_text() == f"corpus-root={corpus.resolve()}\n"
    assert not (recipe / "data/stage0_unfinished").exists()

    proc = run_sh(["./run.sh", "--corpus-root", str(other), "--stage", "1", "--nj", "1"], cwd=recipe, check=False)
    assert proc.returncode == 1 and f"--corpus-root '{other.resolve()}': data/ was made by stage 0 with " \
        f"--corpus-root '{corpus.resolve()}'" in proc.stderr, proc.stderr
    assert not (recipe / "dump").exists()

    # local/data.sh alone (as run.sh's refusal of its settings advises), failing after data/all.
    (tmp_path / "dev.list").write_text("mine-no-such-utterance\n")
    proc = run_sh(["local/data.sh", "--corpus-root", str(other), "--dev-list", str(tmp_path / "dev.list")],
                  cwd=recipe, check=False)
    assert proc.returncode != 0 and "no-such-utterance" in proc.stderr
    assert len(read_table(recipe / "data/all/utt2spk")) == 12 and len(read_table(recipe / "data/train/utt2spk")) > 12
    proc = run_sh(["./run.sh", "--stage", "1", "--nj", "1"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "data/ is from a stage 0 that did not finish" in proc.stderr, proc.stderr
    assert not (recipe / "dump").exists()
    # Done again, it is taken.
    run_sh(["local/data.sh", "--corpus-root", str(other)], cwd=recipe)
    assert not (recipe / "data/stage0_unfinished").exists()
    proc = run_sh(["./run.sh", "--corpus-root", str(other), "--stage", "2", "--stop-stage", "2"], cwd=recipe)
    assert (recipe / "data/lang_char/tokens.txt").is_file()


def test_stage_1_waits_for_a_stage_0_another_run_has_under_way(tmp_path, an4_root):
    """A run from --stage 1 started while another run's stage 0 is writing data/ (its marker there)
    waits for that stage 0's lock, as a second run does (docs/recipes.md, "Two runs at once"), and
    then goes on with its data rather than refusing it as unfinished."""
    import fcntl
    import os
    import time

    recipe, corpus = new_recipe(tmp_path), tmp_path / "corpus"
    make_user_corpus(an4_root, corpus, 12)
    set_option(recipe / "local/data.sh", "transcripts", "prompts.txt")
    set_option(recipe / "local/data.sh", "audio_subdir", "audio")
    run_sh(["./run.sh", "--corpus-root", str(corpus), "--stop-stage", "0"], cwd=recipe)
    held = open(recipe / "data/.lock", "a")
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)   # the other run's stage 0, under way
    (recipe / "data/stage0_unfinished").write_text("stage 0 started\n")
    log = tmp_path / "second.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(["./run.sh", "--stage", "2", "--stop-stage", "2"], cwd=recipe,
                                stdout=subprocess.DEVNULL, stderr=err, env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        deadline = time.monotonic() + 300   # bounds a hang only
        while "waiting for another run in" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        (recipe / "data/stage0_unfinished").unlink()   # the other stage 0 ends well
        held.close()
        assert proc.wait(timeout=300) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (recipe / "data/lang_char/tokens.txt").is_file()
