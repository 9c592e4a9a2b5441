"""The FSDD recipe's own pieces on the real corpora: the reference CTM of stage 0 against the audio,
in-process speed perturbation, AN4's voices at 8 kHz, and local/loso.sh (leave-one-speaker-out)."""
from __future__ import annotations

import io
import re
import shlex
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from debian_packages import require_program
from recipe_helpers import path_without, printed_options, read_table, run_sh, without_root_override

DIGITS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"]
SPEAKERS = ["george", "jackson", "nicolas", "theo", "yweweler"]


def init_name(model: Path, relative: str) -> str:
    """The --init that run.sh hands asrkit-train for a pretrained model: its absolute path, or,
    where that has a space (a checkout under such a TMPDIR), its path relative to the directory
    run.sh runs in, as run.sh names it then: --train-args, which carries it, is split at spaces."""
    return relative if re.search(r"\s", str(model)) else str(model)


def read_ctm(path: Path) -> dict:
    out: dict = {}
    for line in path.read_text().splitlines():
        utt, chan, start, dur, word, conf = line.split()
        assert chan == "1" and conf == "1.00", line
        assert re.fullmatch(r"\d+\.\d{2,3}", start) and re.fullmatch(r"\d+\.\d{2,3}", dur), line
        out.setdefault(utt, []).append((float(start), float(dur), word))
    return out


def samples_of(path: str) -> np.ndarray:
    with wave.open(path) as w:
        assert w.getframerate() == 8000
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def frame_db(x: np.ndarray) -> np.ndarray:
    """Energy of each 10 ms frame, dB of 16-bit sample units squared."""
    n = len(x) // 80
    return 10 * np.log10((x[:n * 80].reshape(n, 80) ** 2).mean(1) + 1.0)


def read_text_matrix(path: Path) -> np.ndarray:
    """The one matrix of a text ark (``utt  [\n rows ]``)."""
    rows = [line.replace("]", "").split() for line in path.read_text().splitlines()[1:]]
    return np.array([[float(v) for v in row] for row in rows if row])


def check_ctm_against_audio(data: Path, set_name: str) -> int:
    """Every word of text has one span, in order, inside its utterance, without overlaps; each
    span holds speech (loud frames, far above the -80 dBFS pauses; louder than the silence
    between it and the previous word), and its edges are where the energy rises and falls."""
    text, wav = read_table(data / set_name / "text"), read_table(data / set_name / "wav.scp")
    ctm = read_ctm(data / set_name / "ref.ctm")
    assert set(ctm) == set(text)
    checked = 0
    for utt, line in text.items():
        spans = ctm[utt]
        assert [w for _, _, w in spans] == line.split(), utt  # order matches the text
        x = samples_of(wav[utt])
        db = frame_db(x)
        prev_end = 0.0
        for start, dur, word in spans:
            end = start + dur
            assert dur >= 0.03 and start >= prev_end and end <= len(x) / 8000 + 1e-9, (utt, start, dur, word)
            a, b = int(round(start * 100)), int(round(end * 100))
            inside = db[a:b]
            assert inside.max() > 35.0, (utt, word)  # the pauses are ~10 dB: this is speech
            # the frames wholly between the previous span and this one (a 10 ms grid frame
            # can straddle a span's edge)
            gap = db[int(prev_end * 100) + 2:max(0, int(start * 100) - 1)]  # (a word at 0 s: none, not db[2:-1])
            if len(gap) >= 3:
                assert np.percentile(inside, 75) > np.median(gap) + 3.0, (utt, word)
                # the span starts where the energy has risen: louder than the silence before it
                assert inside[:2].max() > np.median(gap), (utt, word, start)
            after = db[b + 1:b + 11]
            if len(after):
                assert inside[-2:].max() > np.median(after), (utt, word, end)
            prev_end = end
            checked += 1
    return checked


def test_fsdd_reference_ctm_matches_the_audio(recipe_dir, fsdd_root):
    recipe = recipe_dir("fsdd")
    run_sh(["local/data.sh", "--fsdd-root", str(fsdd_root), "--num-train", "12", "--num-dev", "6",
            "--num-test", "25", "--test-speakers", "nicolas"], cwd=recipe)  # nicolas: the noisiest recordings
    words = sum(check_ctm_against_audio(recipe / "data", s) for s in ("train", "dev", "test"))
    assert words > 100
    # The spans leave out a recording's own silence: the digits are shorter than the recordings.
    ctm = read_ctm(recipe / "data/test/ref.ctm")
    spans = [d for utt in ctm.values() for _, d, _ in utt]
    assert 0.2 < np.median(spans) < 0.6


def test_fsdd_speed_factors_change_only_the_training_audio(recipe_dir, fsdd_root):
    recipe = recipe_dir("fsdd")
    args = ["local/data.sh", "--fsdd-root", str(fsdd_root), "--num-train", "30", "--num-dev", "4", "--num-test", "4"]
    run_sh(args, cwd=recipe)
    plain = {s: read_table(recipe / f"data/{s}/text") for s in ("train", "dev", "test")}
    plain_len = {u: len(samples_of(p)) for u, p in read_table(recipe / "data/train/wav.scp").items()}
    test_wavs = {p.name: p.read_bytes() for p in (recipe / "data/wav/test").iterdir()}
    run_sh(args + ["--speed-factors", "0.9,1.1"], cwd=recipe)
    # The same digits, takes and pauses: the speed has a random stream of its own.
    assert {s: read_table(recipe / f"data/{s}/text") for s in plain} == plain
    assert {p.name: p.read_bytes() for p in (recipe / "data/wav/test").iterdir()} == test_wavs
    ratios = []
    for utt, path in read_table(recipe / "data/train/wav.scp").items():
        x = samples_of(path)
        ratios.append(len(x) / plain_len[utt])
    # Only the speech is stretched (the pauses are drawn in seconds): 0.9 makes utterances
    # longer, 1.1 shorter, and both factors are used.
    assert min(ratios) < 0.98 and max(ratios) > 1.02 and all(0.85 < r < 1.15 for r in ratios)
    check_ctm_against_audio(recipe / "data", "train")
    proc = run_sh(args + ["--speed-factors", "0.9,fast"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "--speed-factors '0.9,fast': expected numbers" in proc.stderr


def test_fsdd_background_and_long_edges_change_only_the_training_audio(recipe_dir, fsdd_root):
    """--background-prob / --long-edge-prob (multi-condition training): the training utterances get
    a background noise under them and longer edges, the digits, takes, pauses, dev and test stay
    those made without them, and ref.ctm follows the longer leading edge."""
    recipe = recipe_dir("fsdd")
    args = ["local/data.sh", "--fsdd-root", str(fsdd_root), "--num-train", "24", "--num-dev", "4", "--num-test", "4"]
    run_sh(args, cwd=recipe)
    plain = {s: read_table(recipe / f"data/{s}/text") for s in ("train", "dev", "test")}
    plain_audio = {u: samples_of(p) for u, p in read_table(recipe / "data/train/wav.scp").items()}
    plain_ctm = read_ctm(recipe / "data/train/ref.ctm")
    kept = {s: {p.name: p.read_bytes() for p in (recipe / f"data/wav/{s}").iterdir()} for s in ("dev", "test")}
    run_sh(args + ["--background-prob", "1.0", "--long-edge-prob", "1.0"], cwd=recipe)
    assert {s: read_table(recipe / f"data/{s}/text") for s in plain} == plain
    assert {s: {p.name: p.read_bytes() for p in (recipe / f"data/wav/{s}").iterdir()} for s in kept} == kept
    ctm = read_ctm(recipe / "data/train/ref.ctm")
    leads = []
    for utt, path in read_table(recipe / "data/train/wav.scp").items():
        x, old = samples_of(path), plain_audio[utt]
        # every edge drawn from 0.3 to 10 s (from 0.1-0.3 s): longer at both ends, by at most 9.9 s each
        assert len(old) + 2 <= len(x) <= len(old) + 2 * 9.9 * 8000 + 2, utt
        shift = [a - b for (a, _, _), (b, _, _) in zip(ctm[utt], plain_ctm[utt])]  # times to 1 ms each
        assert max(shift) - min(shift) < 0.0021 and -0.001 <= min(shift) <= 9.9, (utt, ctm[utt], plain_ctm[utt])
        assert [(round(d, 3), w) for _, d, w in ctm[utt]] == [(round(d, 3), w) for _, d, w in plain_ctm[utt]]
        # the background: -75 to -45 dBFS (16 to 46 dB of 16-bit units), over the edge's
        # std-3 noise (10 dB), under every frame of the utterance, the speech as it was under it
        lead = frame_db(x[:int(ctm[utt][0][0] * 8000)])
        leads.append(np.median(lead))
        assert 14.0 < np.median(lead) < 48.0, (utt, np.median(lead))
        start = int(round(ctm[utt][0][0] * 8000))
        old_start = int(round(plain_ctm[utt][0][0] * 8000))
        n = int(ctm[utt][0][1] * 8000)
        # (ref.ctm's times are to 1 ms, 8 samples: the best alignment within that)
        diff = min(np.sqrt(np.mean((x[start + k:start + k + n] - old[old_start:old_start + n]) ** 2)) for k in range(-8, 9))
        assert diff < 32768 * 10 ** (-45 / 20) * 1.3, utt
    assert max(leads) - min(leads) > 10.0  # the level is drawn, not one
    # --background-where edges: the noise before the first digit and after the last only, the
    # digits and the pauses between them sample for sample as they were
    run_sh(args + ["--background-prob", "1.0", "--long-edge-prob", "1.0", "--background-where", "edges"], cwd=recipe)
    assert read_ctm(recipe / "data/train/ref.ctm") == ctm
    for utt, path in read_table(recipe / "data/train/wav.scp").items():
        x, old = samples_of(path), plain_audio[utt]
        lead = int(round(ctm[utt][0][0] * 8000)) - int(round(plain_ctm[utt][0][0] * 8000))  # to 8 samples
        inner = min(range(lead - 8, lead + 9), key=lambda k: np.abs(x[k:k + len(old)] - old).max())
        tail = len(x) - inner - len(old)
        body = slice(int(0.3 * 8000), len(old) - int(0.3 * 8000))  # the plain edges are 0.1-0.3 s
        assert np.array_equal(x[inner:inner + len(old)][body], old[body]), utt
        assert 14.0 < np.median(frame_db(x[:inner])) < 48.0 and 14.0 < np.median(frame_db(x[-tail:])) < 48.0, utt
    for bad, message in ((["--background-prob", "1.5"], "--background-prob 1.5: must be a probability, from 0 to 1"),
                         (["--long-edge-prob", "-0.1"], "--long-edge-prob -0.1: must be a probability, from 0 to 1"),
                         (["--long-edge-prob", "nan"], "--long-edge-prob nan: must be a probability, from 0 to 1"),
                         (["--background-where", "under"], "--background-where must be all or edges, got 'under'")):
        proc = run_sh(args + bad, cwd=recipe, check=False)
        assert proc.returncode != 0 and proc.stderr.rstrip().splitlines()[-1].endswith(f": ERROR: {message}"), proc.stderr
    proc = run_sh(". ./path.sh && local/make_connected_digits.py --background-min-dbfs -40 --background-max-dbfs -60 "
                  f"--num-train 1 {shlex.quote(str(fsdd_root))} data data/wav", cwd=recipe, check=False)
    assert proc.returncode != 0 and proc.stderr.rstrip().splitlines()[-1] == (
        "make_connected_digits.py: ERROR: --background-min-dbfs -40 / --background-max-dbfs -60: need -120 <= min <= max <= 0")


def test_fsdd_tight_edges_cut_only_the_training_edges(recipe_dir, fsdd_root):
    """--tight-edge-prob: a training utterance's edges are cut away (the utterance starts or ends
    with its take, as FSDD's takes as recorded do); what is left is the utterance made without
    it, sample for sample, with the background noise it had, and ref.ctm's times move by the cut
    lead; dev, test and every other draw stay as they were. --single-take-prob: so are both edges
    of one-digit utterances."""
    recipe = recipe_dir("fsdd")
    args = ["local/data.sh", "--fsdd-root", str(fsdd_root), "--num-train", "40", "--num-dev", "4", "--num-test", "4",
            "--background-prob", "0.5", "--background-where", "edges", "--long-edge-prob", "0.3"]
    run_sh(args, cwd=recipe)
    plain = {s: read_table(recipe / f"data/{s}/text") for s in ("train", "dev", "test")}
    plain_audio = {u: samples_of(p) for u, p in read_table(recipe / "data/train/wav.scp").items()}
    plain_ctm = read_ctm(recipe / "data/train/ref.ctm")
    kept = {s: {p.name: p.read_bytes() for p in (recipe / f"data/wav/{s}").iterdir()} for s in ("dev", "test")}
    run_sh(args + ["--tight-edge-prob", "0.5"], cwd=recipe)
    assert {s: read_table(recipe / f"data/{s}/text") for s in plain} == plain
    assert {s: {p.name: p.read_bytes() for p in (recipe / f"data/wav/{s}").iterdir()} for s in kept} == kept
    ctm = read_ctm(recipe / "data/train/ref.ctm")
    cuts = [0, 0]
    for utt, path in read_table(recipe / "data/train/wav.scp").items():
        x, old = samples_of(path), plain_audio[utt]
        lead = next(k for k in range(len(old) - len(x) + 1) if np.array_equal(old[k:k + len(x)], x))
        trail = len(old) - len(x) - lead
        # an edge is all or nothing: before the first word's take, or after the last one's
        first_take = plain_ctm[utt][0][0] * 8000
        assert lead == 0 or 800 * 0.99 <= lead <= first_take + 8, (utt, lead)
        assert trail == 0 or trail >= 800 * 0.99, (utt, trail)
        cuts[0] += lead > 0
        cuts[1] += trail > 0
        # (each time rounded to 1 ms: the moved one may round the other way)
        assert [(d, w) for _, d, w in plain_ctm[utt]] == [(d, w) for _, d, w in ctm[utt]], utt
        assert all(abs(t - lead / 8000 - u) < 0.0011 for (t, _, _), (u, _, _) in zip(plain_ctm[utt], ctm[utt])), utt
    assert 8 <= cuts[0] <= 32 and 8 <= cuts[1] <= 32, cuts  # about half of 40 each
    # --single-take-prob 1: every one-digit training utterance is its take as recorded (both
    # edges cut), every other one as made without it
    run_sh(args + ["--single-take-prob", "1.0"], cwd=recipe)
    assert {s: read_table(recipe / f"data/{s}/text") for s in plain} == plain
    single = 0
    ctm = read_ctm(recipe / "data/train/ref.ctm")
    for utt, path in read_table(recipe / "data/train/wav.scp").items():
        x, old = samples_of(path), plain_audio[utt]
        if len(plain["train"][utt].split()) > 1:
            assert np.array_equal(x, old), utt
            continue
        single += 1
        cut = int(round((plain_ctm[utt][0][0] - ctm[utt][0][0]) * 8000))  # the lead, to ref.ctm's 1 ms
        assert cut >= 800 * 0.99 - 8 and len(old) - len(x) - cut >= 800 * 0.99 - 8, utt  # both edges, 0.1 s or more
        assert any(np.array_equal(old[k:k + len(x)], x) for k in range(cut - 8, cut + 9)), utt
    assert single >= 1
    for bad, message in ((["--tight-edge-prob", "2"], "--tight-edge-prob 2.0: must be a probability, from 0 to 1"),
                         (["--single-take-prob", "-1"], "--single-take-prob -1.0: must be a probability, from 0 to 1")):
        proc = run_sh(args + bad, cwd=recipe, check=False)
        assert proc.returncode != 0 and proc.stderr.rstrip().splitlines()[-1].endswith(f": ERROR: {message}"), proc.stderr


def test_takes_data_lists_the_takes_as_recorded(recipe_dir, fsdd_root):
    """local/takes_data.py: every take of the speakers named, the corpus file itself, its digit's
    word as the text; a speaker not in the corpus is a one-line error naming those there."""
    recipe = recipe_dir("fsdd")
    run_sh(f". ./path.sh && local/takes_data.py --speakers theo,jackson,theo {shlex.quote(str(fsdd_root))} data/takes",
           cwd=recipe)
    wav, text, utt2spk = (read_table(recipe / f"data/takes/{t}") for t in ("wav.scp", "text", "utt2spk"))
    takes = sorted(p for p in (fsdd_root / "recordings").iterdir() if re.fullmatch(r"\d_(theo|jackson)_\d+\.wav", p.name))
    assert len(takes) >= 100 and sorted(Path(p) for p in wav.values()) == [p.resolve() for p in takes]
    words = "ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE".split()
    for utt, path in wav.items():
        digit, spk, _ = Path(path).stem.split("_")
        assert utt == f"{spk}-{Path(path).stem}" and text[utt] == words[int(digit)] and utt2spk[utt] == spk
    assert sorted((recipe / "data/takes/spk2utt").read_text().split("\n")[:-1]) == [
        f"{s} " + " ".join(sorted(u for u in utt2spk if utt2spk[u] == s)) for s in ("jackson", "theo")]
    proc = run_sh(f". ./path.sh && local/takes_data.py --speakers theo,bob {shlex.quote(str(fsdd_root))} data/t2",
                  cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1].startswith(
        "takes_data.py: ERROR: --speakers: bob not in ") and not (recipe / "data/t2").exists(), proc.stderr


@pytest.mark.slow
def test_run_sh_later_stages_refuse_data_made_with_other_stage0_options(recipe_dir, fsdd_root, tmp_path):
    """Stage 0 records the options it made data/ with (data/stage0_options). A run from --stage 1
    on whose stage-0 options differ (one given differently, or a changed default: local/loso.sh
    re-used a fold's data/ made under run.sh's earlier defaults without a word) is a one-line error
    naming them; the same options, another number spelling or another (training) seed go on."""
    recipe = recipe_dir("fsdd")
    corpus = fsdd_slice(fsdd_root, tmp_path / "fsdd")
    common = ["./run.sh", "--fsdd-root", str(corpus), "--an4-words", "none", "--init-listener", "",
              "--num-dev", "2", "--num-test", "2", "--nj", "1"]
    base = common + ["--num-train", "6"]
    run_sh(base + ["--background-prob", "0.0", "--stop-stage", "0"], cwd=recipe)
    record = (recipe / "data/stage0_options").read_text()
    assert "background_prob=0 " in record and "background_where=edges " in record and "num_train=6 " in record
    assert "seed" not in record and str(corpus) not in record
    for other, made, now in ((["--background-prob", "0.5"], "background_prob=0", "background_prob=0.5"),  # run.sh's default
                             (["--background-prob", "0", "--num-train", "7"], "num_train=6", "num_train=7"),
                             (["--background-prob", "0", "--test-speakers", "george"], "test_speakers=theo",
                              "test_speakers=george")):
        args = (common if "--num-train" in other else base) + other
        proc = run_sh(args + ["--stage", "1", "--stop-stage", "1"], cwd=recipe, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.rstrip().splitlines()[-1] == (
            f"./run.sh: ERROR: data/ was made with {made}, these options give {now}: run from "
            "--stage 0 to make it again, or use another directory"), proc.stderr
        assert not (recipe / "dump").exists()
    # --an4-digit-words: the aligner that cut AN4's digit words is the data's too, a model given by
    # its content and the one stage 0 trains by its directory, which names --pretrain-max-utts
    # (neither was recorded: a trial's aligner's cuts went on as those of one trained on all of AN4).
    # (a record as a stage 0 cutting them with the aligner of all of AN4 leaves it; one costs minutes)
    (recipe / "data/stage0_options").write_text(record.replace("an4_digit_words=0 ", "an4_digit_words=5 ").rstrip("\n")
                                                + " an4_aligner=pretrain_an4/exp/an4_align\n")
    model = tmp_path / "aligner.pt"
    model.write_bytes(b"a model")
    for other, now in ((["--pretrain-max-utts", "200"], "an4_aligner=pretrain_an4_first200/exp/an4_align"),
                       (["--an4-aligner", str(model)], "an4_aligner=sha1:ca7b06fe230e")):
        proc = run_sh(base + ["--background-prob", "0", "--an4-digit-words", "5", *other, "--stage", "1", "--stop-stage", "1"],
                      cwd=recipe, check=False)
        assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
            f"./run.sh: ERROR: data/ was made with an4_aligner=pretrain_an4/exp/an4_align, these options give {now}: "
            "run from --stage 0 to make it again, or use another directory"), proc.stderr
    # A digit words' record by a run.sh before the aligner was recorded: its aligner is not checked
    # (a note), its other options are (refused as "made with ''", every such loso fold stopped).
    old = record.replace("an4_digit_words=0 ", "an4_digit_words=5 ")
    digit_words = base + ["--background-prob", "0", "--an4-digit-words", "5", "--stage", "1", "--stop-stage", "1"]
    (recipe / "data/stage0_options").write_text(old)
    proc = run_sh(digit_words, cwd=recipe, check=False)
    assert "data/stage0_options holds no record of the aligner that cut AN4's digit words (made by an older " \
           "run.sh): the aligner is not checked" in proc.stderr, proc.stderr
    # (past run.sh's check: this data/ has no such set)
    assert proc.stderr.rstrip().splitlines()[-1].startswith("asr.sh: ERROR: no data/train_cut5 "), proc.stderr
    (recipe / "data/stage0_options").write_text(old.replace("num_train=6 ", "num_train=7 "))
    proc = run_sh(digit_words, cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        "./run.sh: ERROR: data/ was made with num_train=7, these options give num_train=6: run from --stage 0 to make "
        "it again, or use another directory"), proc.stderr
    assert not (recipe / "dump").exists()
    # the test speakers are a set: the same ones in another order (or twice) are the same data
    run_sh(base + ["--background-prob", "0.0", "--test-speakers", "yweweler,theo", "--stop-stage", "0"], cwd=recipe)
    assert "test_speakers=theo,yweweler " in (recipe / "data/stage0_options").read_text()
    proc = run_sh(base + ["--background-prob", "0", "--test-speakers", "theo,yweweler,theo", "--seed", "3",
                          "--stage", "1", "--stop-stage", "1"], cwd=recipe)
    assert (recipe / "dump/train/feats.scp").is_file() and "ERROR" not in proc.stderr
    # data/ of a run.sh before the record: a note, not an error (nothing to check against)
    (recipe / "data/stage0_options").unlink()
    proc = run_sh(base + ["--stage", "1", "--stop-stage", "1"], cwd=recipe)
    assert "data/ holds no record of stage 0's options (made by an older run.sh): not checked" in proc.stderr
    # a stage 0 that fails part-way leaves no record of the one before it
    run_sh(base + ["--stop-stage", "0"], cwd=recipe)
    proc = run_sh(base + ["--background-where", "under", "--stop-stage", "0"], cwd=recipe, check=False)
    assert proc.returncode != 0 and not (recipe / "data/stage0_options").exists()


def test_run_sh_later_stages_refuse_data_of_a_stage0_that_failed(recipe_dir, fsdd_root, an4_root, tmp_path):
    """A stage 0 that fails after local/data.sh (here in AN4's part) leaves the new data/train
    beside the last run's data/train_an4_digits, made of the old data/train's texts over
    recordings now rewritten. A run from --stage 1 took it, with a note that an older run.sh had
    made data/, and made features of it: now an error naming the unfinished stage 0, until a stage
    0 ends."""
    recipe = recipe_dir("fsdd")
    base = ["./run.sh", "--fsdd-root", str(fsdd_root), "--init-listener", "", "--num-dev", "2", "--num-test", "2",
            "--num-train", "4", "--nj", "1"]
    run_sh(base + ["--an4-root", str(an4_root), "--stop-stage", "0"], cwd=recipe)
    old = read_table(recipe / "data/train_an4_digits/text")
    proc = run_sh(base + ["--seed", "2", "--an4-root", str(tmp_path / "nowhere"), "--stop-stage", "0"], cwd=recipe,
                  check=False)
    assert proc.returncode == 1 and "--an4-root" in proc.stderr, proc.stderr
    assert read_table(recipe / "data/train/text") != {u: t for u, t in old.items() if not u.startswith("an4_")}
    proc = run_sh(base + ["--seed", "2", "--an4-root", str(an4_root), "--stage", "1", "--stop-stage", "1"], cwd=recipe,
                  check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1] == (
        "./run.sh: ERROR: data/ is from a stage 0 that did not finish (it failed, was stopped, or is running now: "
        "data/stage0_unfinished): run from --stage 0 to make it again"), proc.stderr
    assert not (recipe / "dump").exists()
    # stage 0 again, to its end: data/ is whole and recorded, and the later stages go on
    run_sh(base + ["--seed", "2", "--an4-root", str(an4_root), "--stop-stage", "0"], cwd=recipe)
    assert not (recipe / "data/stage0_unfinished").exists() and (recipe / "data/stage0_options").is_file()


def test_an4_voices_at_8khz(recipe_dir, an4_root):
    """local/an4_data.sh: AN4's 84 speakers, OH read as ZERO, --words digits keeps digit strings
    only, the sox pipes give 8 kHz audio the FSDD features accept, and the default plain 16 kHz
    paths resampled in-process give the same features."""
    require_program("sox")
    recipe = recipe_dir("fsdd")
    sox = ["--resample", "sox"]
    run_sh(["local/an4_data.sh", "--an4-root", str(an4_root), *sox, "--words", "digits", "data/an4_digits"], cwd=recipe)
    run_sh(["local/an4_data.sh", "--an4-root", str(an4_root), *sox, "--words", "all", "data/an4_all"], cwd=recipe)
    digits, every = read_table(recipe / "data/an4_digits/text"), read_table(recipe / "data/an4_all/text")
    assert len(every) == 948 + 130 and 150 < len(digits) < 300
    assert set(digits) < set(every)
    assert all(set(t.split()) <= set(DIGITS) for t in digits.values())
    assert not any("OH" in t.split() for t in every.values())
    assert len(set(read_table(recipe / "data/an4_digits/utt2spk").values())) == 84
    assert all(u.startswith("an4_") for u in every)
    # AN4's own spelling of 0 inside numbers, read as ZERO (an4 train: "ONE FIVE OH FOUR FOUR").
    assert digits["an4_fbbh-cen6-b"] == "ONE FIVE ZERO FOUR FOUR"
    run_sh(". ./path.sh && asrkit-validate-data-dir data/an4_digits", cwd=recipe)
    scp = recipe / "one.scp"
    scp.write_text([line for line in (recipe / "data/an4_digits/wav.scp").read_text().splitlines()][0] + "\n")
    run_sh(". ./path.sh && asrkit-compute-fbank --config conf/fbank.yaml scp:one.scp ark,t:one.txt", cwd=recipe)
    assert (recipe / "one.txt").stat().st_size > 1000
    # The default, --resample none: the plain 16 kHz paths, which the 8 kHz features refuse
    # unless asked to resample in-process; then they match the sox pipe's features closely.
    run_sh(["local/an4_data.sh", "--an4-root", str(an4_root), "--words", "digits", "data/an4_plain"], cwd=recipe)
    plain = read_table(recipe / "data/an4_plain/wav.scp")
    assert set(plain) == set(digits) and all(p.endswith(".wav") and " " not in p for p in plain.values())
    utt = scp.read_text().split()[0]
    (recipe / "plain.scp").write_text(f"{utt} {plain[utt]}\n")
    proc = run_sh(". ./path.sh && asrkit-compute-fbank --config conf/fbank.yaml scp:plain.scp ark,t:x.txt",
                  cwd=recipe, check=False)
    assert proc.returncode != 0 and "16000" in proc.stderr and "--resample" in proc.stderr, proc.stderr
    run_sh(". ./path.sh && asrkit-compute-fbank --config conf/fbank.yaml --resample scp:plain.scp ark,t:plain.txt",
           cwd=recipe)
    by_sox, in_process = read_text_matrix(recipe / "one.txt"), read_text_matrix(recipe / "plain.txt")
    assert abs(len(by_sox) - len(in_process)) <= 1 and by_sox.shape[1] == in_process.shape[1] == 40
    n = min(len(by_sox), len(in_process))
    loud = by_sox[:n].mean(1) > np.median(by_sox[:n].mean(1))  # speech frames: log-mel of silence is noisy
    assert np.abs(by_sox[:n][loud] - in_process[:n][loud]).mean() < 0.3
    proc = run_sh(["local/an4_data.sh", "--an4-root", str(an4_root), "--words", "letters", "data/x"], cwd=recipe,
                  check=False)
    assert proc.returncode != 0 and "--words must be digits or all, got 'letters'" in proc.stderr
    # an empty output dir wrote the data dir's tables into the recipe directory itself
    proc = run_sh(["local/an4_data.sh", "--an4-root", str(an4_root), ""], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        "local/an4_data.sh: ERROR: the output data dir is empty (e.g. data/an4_8k)"), proc.stderr
    assert not (recipe / "wav.scp").exists() and not list(recipe.glob(".tmp.*"))


# ------------------------------------------------------------------------------------------- LOSO
def test_loso_dry_run_holds_each_speaker_out_in_its_own_directory(recipe_dir, fsdd_root):
    recipe = recipe_dir("fsdd")
    proc = run_sh(["local/loso.sh", "--fsdd-root", str(fsdd_root), "--dry-run", "true", "--tag", "t",
                   "--num-train", "20", "--train-config", "conf/train_specaug.yaml", "--nj", "1", "--seed", "3"],
                  cwd=recipe)
    pretraining, *lines = proc.stdout.splitlines()
    assert len(lines) == 2 * len(SPEAKERS)
    # the one AN4 pretraining of the tag, first: the folds' training options, feature jobs and seed
    # (it ran 2 jobs a set under --nj 1, and seed 1 whatever the folds' --seed)
    words = shlex.split(pretraining)
    assert words[:7] == ["pretraining:", "local/pretrain_an4.sh", "--dir", "loso/pretrain_an4", "--tag", "t",
                         "--train-config"], pretraining
    assert words[8:12] == ["--nj", "1", "--seed", "3"] and words[12:13] == ["->"], pretraining
    assert Path(words[13]).resolve() == recipe.resolve() / "loso/pretrain_an4/exp/t/pretrained.pt", pretraining
    for spk in SPEAKERS:
        fold = [line for line in lines if line.startswith(f"fold {spk}: ")]
        assert len(fold) == 2
        for line in fold:
            assert f"cd loso/{spk} && ./run.sh" in line and f"--test-speakers {spk} " in line
            assert "--num-train 20" in line
            # a config path relative to the recipe still names the same file from the fold's
            # directory: one shell word (quoted where the checkout's path has a space)
            words = shlex.split(line)
            assert words[words.index("--train-config") + 1] in (f"{recipe.resolve()}/conf/train_specaug.yaml",
                                                                f"{recipe}/conf/train_specaug.yaml"), line
        assert "--stop-stage 0" in fold[0] and f"loso/{spk}/exp/t/decode_test_decode_adapt/wer.txt" in fold[1]
    # without --nj, the folds' (run.sh's default, 4) is the pretraining's too: it ran pretrain_an4.sh's 2
    proc = run_sh(["local/loso.sh", "--fsdd-root", str(fsdd_root), "--dry-run", "true", "--speakers", "george"],
                  cwd=recipe)
    assert shlex.split(proc.stdout.splitlines()[0])[4:8] == ["--tag", "default", "--nj", "4"], proc.stdout
    # A fold is finished when asr.sh's decode directory of these decoding options has its wer.txt,
    # a directory named by them as asr.sh names it (decode_lm_adapt for every LM weight and
    # --adapt-args before: a sweep over them was refused as that directory's other options).
    proc = run_sh(["local/loso.sh", "--fsdd-root", str(fsdd_root), "--dry-run", "true", "--speakers", "george",
                   "--decode-args", "--beam 2", "--use-lm", "true", "--lm-weight", ".50", "--adapt-args", "--epochs 2"],
                  cwd=recipe)
    assert proc.stdout.splitlines()[-1].endswith(
        " -> loso/george/exp/default/decode_test_decode_beam2_lm0.5_adapt_epochs2/wer.txt"), proc.stdout
    assert not (recipe / "loso").exists()  # nothing made


def test_run_sh_print_config_prints_the_options_resolved(recipe_dir, tmp_path):
    """./run.sh --print-config true: every option of run.sh and of asr.sh as the run would have
    them (defaults, values worked out, asr.sh's tag), once each, as --config lines that read back
    the same, the values worked out as comment lines, worked out again when read back; nothing
    run, and options a run refuses refused."""
    recipe = recipe_dir("fsdd")
    given = ["--num-train", "20", "--num-avg", "5", "--train-args", "--set training.max_epochs=2"]
    proc = run_sh(["./run.sh", *given, "--an4-words", "none", "--print-config", "true"], cwd=recipe)
    opts, worked = printed_options(proc.stdout)
    assert "print_config" not in opts, proc.stdout
    assert opts["num_train"] == "20" and opts["background_prob"] == "0.5" and opts["num_avg"] == "5"
    assert opts["nbpe"] == "30", opts
    assert worked["train_set"] == ("train", "--an4-words, --an4-digit-words"), worked
    assert worked["tag"][0] == "train_umn_char" and worked["lm_train_text"][0] == "data/train/text", worked
    assert opts["train_args"] == '"--set training.max_epochs=2"'  # run.sh's, without --init-listener's model
    assert not (recipe / "data").exists() and not (recipe / "exp").exists()
    (tmp_path / "my.conf").write_text(proc.stdout)
    assert run_sh(["./run.sh", "--config", str(tmp_path / "my.conf"), "--print-config", "true"],
                  cwd=recipe).stdout == proc.stdout
    # Another --an4-words over the printed file gives what it gives alone: read back as given, its
    # train_set=train stayed, and asr.sh was given data/train, FSDD's alone, for AN4's digits too.
    over = run_sh(["./run.sh", "--config", str(tmp_path / "my.conf"), "--an4-words", "digits", "--print-config",
                   "true"], cwd=recipe)
    alone = run_sh(["./run.sh", *given, "--an4-words", "digits", "--print-config", "true"], cwd=recipe)
    assert over.stdout == alone.stdout and "# train_set=train_an4_digits  # worked out" in over.stdout
    # ... and a --train-set given is printed as given, not as worked out
    assert "\ntrain_set=mine\n" in run_sh(["./run.sh", "--train-set", "mine", "--print-config", "true"],
                                         cwd=recipe).stdout
    # A model under a folder with a space in its name: a run names it through a link it makes in
    # exp/ (--train-args is split at spaces); printing made the link too.
    model = tmp_path / "my models" / "m.pt"
    model.parent.mkdir()
    model.write_bytes(b"")
    proc = run_sh(["./run.sh", "--init-listener", str(model), "--print-config", "true"], cwd=recipe)
    assert f'init_listener="{model}"' in proc.stdout.splitlines() and not (recipe / "exp").exists()
    proc = run_sh(["./run.sh", "--token-type", "words", "--print-config", "true"], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stdout == "" and "--token-type must be char, bpe or unigram" in proc.stderr


# A fold whose stage 0 stops at once, after loso.sh has recorded its options: make_connected_digits.py
# refuses --speed-factors bogus (run.sh, which loso.sh asks for the options first, does not read them).
STOPS_AT_STAGE_0 = ["--init-listener", "", "--speed-factors", "bogus"]


def test_loso_options_given_their_defaults_are_the_run_without_them(recipe_dir, fsdd_root):
    """A fold records the options it runs with, as run.sh resolves them (--print-config true):
    run.sh's and asr.sh's defaults given (--pretrain-max-utts 0, 0.50 for 0.5, the default config
    by name, asr.sh's --nbpe) are the run made without them, and so are the same options in another
    order; another value is refused, naming the options that differ."""
    recipe = recipe_dir("fsdd")
    base = ["local/loso.sh", "--fsdd-root", str(fsdd_root), "--speakers", "george", *STOPS_AT_STAGE_0, "--num-train", "20"]
    proc = run_sh(base, cwd=recipe, check=False)
    assert proc.returncode != 0 and "fold george: stage 0 failed" in proc.stderr, proc.stderr
    record = (recipe / "loso/george/loso_data_options").read_text().splitlines()
    assert "num_train=20" in record and "background_prob=0.5" in record and record == sorted(record), record
    assert not any(line.startswith(("init_listener=", "fsdd_root=", "test_speakers=")) for line in record), record
    defaults = ["--pretrain-max-utts", "0", "--background-prob", "0.50", "--num-avg", "3", "--nj", "4",
                "--train-config", "conf/train_umn.yaml", "--adapt-speakers", "true", "--an4-digit-words", "0",
                "--nbpe", "30"]
    proc = run_sh(base + defaults + ["--dry-run", "true"], cwd=recipe)
    assert proc.stdout.count("fold george: ") == 2, proc.stderr
    reordered = ["local/loso.sh", "--num-train", "20", "--speed-factors", "bogus", "--speakers", "george",
                 "--fsdd-root", str(fsdd_root), "--init-listener", ""]
    proc = run_sh(reordered + ["--dry-run", "true"], cwd=recipe)
    assert proc.stdout.count("fold george: ") == 2, proc.stderr
    proc = run_sh(base + ["--background-prob", "0.4", "--num-dev", "7", "--dry-run", "true"], cwd=recipe, check=False)
    assert proc.returncode != 0 and proc.stderr.rstrip().splitlines()[-1] == (
        "local/loso.sh: ERROR: --dir loso was made with --background-prob 0.5 --num-dev 150, these options give "
        "--background-prob 0.4 --num-dev 7: use another --dir"), proc.stderr


def test_loso_records_of_the_loso_sh_before_are_still_read(recipe_dir, fsdd_root):
    """The records of the loso.sh before run.sh printed its options (loso_data_args, loso_args,
    loso_lm_args_<decode>: one line of the options given, either all of them or without those
    given their defaults) are still checked: the same options, in any order, take the fold as it
    is and its record is written anew; others are refused in one line, as they were."""
    recipe = recipe_dir("fsdd")
    fold = recipe / "loso/george"
    (fold / "exp/default").mkdir(parents=True)
    # as that loso.sh wrote them for: --num-train 20 --background-prob 0.50 --nj 4 <STOPS_AT_STAGE_0>
    # --train-args '--set training.max_epochs=2' (run.sh's defaults given left out; --init-listener's model last)
    (fold / "loso_data_args").write_text("--num-train 20 --speed-factors bogus\n")
    (fold / "exp/default/loso_args").write_text(
        "--num-train 20 --speed-factors bogus --train-args --set training.max_epochs=2 --init-listener \n")
    (fold / "exp/default/loso_lm_args_decode_adapt").write_text("\n")
    given = ["local/loso.sh", "--fsdd-root", str(fsdd_root), "--speakers", "george", *STOPS_AT_STAGE_0,
             "--train-args", "--set training.max_epochs=2", "--background-prob", "0.50", "--num-train", "20"]
    proc = run_sh(given + ["--num-train", "21", "--dry-run", "true"], cwd=recipe, check=False)
    assert proc.returncode != 0 and proc.stderr.rstrip().splitlines()[-1] == (
        "local/loso.sh: ERROR: --dir loso was made with '--num-train 20 --speed-factors bogus', these options give "
        "'--speed-factors bogus --num-train 21': use another --dir"), proc.stderr
    proc = run_sh(given, cwd=recipe, check=False)
    assert proc.returncode != 0 and "fold george: stage 0 failed" in proc.stderr, proc.stderr
    assert "num_train=20" in (fold / "loso_data_options").read_text()
    assert 'train_args=--set training.max_epochs=2' in (fold / "exp/default/loso_options").read_text().splitlines()
    # the first loso.sh's record: every option as given, in the order given
    (fold / "exp/default/loso_options").unlink()
    (fold / "exp/default/loso_args").write_text(
        "--num-train 20 --speed-factors bogus --init-listener  --train-args --set training.max_epochs=3\n")
    proc = run_sh([*given[:5], "--num-train", "20", *STOPS_AT_STAGE_0, "--train-args", "--set training.max_epochs=3",
                   "--dry-run", "true"], cwd=recipe)
    assert proc.stdout.count("fold george: ") == 2, proc.stderr


def test_loso_other_decode_args_decode_the_tag_again(recipe_dir, fsdd_root):
    """--decode-args (and --decode-ngpu) were among a tag's training options: another one, which
    changes no model, was refused as "use another --tag". It is a decoding of the tag's models, as
    another --decode-config is: a decode directory and a summary block of its own, named by it;
    a tag record made when they were the tag's (decode_args= in it) is read without them."""
    recipe = recipe_dir("fsdd")
    base = ["local/loso.sh", "--fsdd-root", str(fsdd_root), "--speakers", "george", *STOPS_AT_STAGE_0]
    proc = run_sh(base + ["--decode-args", "--beam 1"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "fold george: stage 0 failed" in proc.stderr, proc.stderr
    record = recipe / "loso/george/exp/default/loso_options"
    assert not any(line.startswith(("decode_args=", "decode_ngpu=")) for line in record.read_text().splitlines())
    record.write_text(record.read_text() + "decode_args=--beam 1\ndecode_ngpu=0\n")  # (as recorded before)
    proc = run_sh(base + ["--decode-args", "--beam 2", "--decode-ngpu", "1", "--dry-run", "true"], cwd=recipe)
    assert proc.stdout.splitlines()[-1].endswith(
        " -> loso/george/exp/default/decode_test_decode_beam2_adapt/wer.txt"), proc.stdout + proc.stderr
    assert "not compared" not in proc.stderr, proc.stderr
    proc = run_sh(base + ["--decode-args", "--beam 2", "--summary-only", "true"], cwd=recipe)
    results = (recipe / "RESULTS.md").read_text()
    assert "<!-- loso loso/default/decode_beam2_adapt -->" in results, results
    title = next(line for line in results.splitlines() if line.startswith("LOSO "))
    assert title.startswith("LOSO `loso` / `default` / `decode_beam2_adapt`: ") and '--decode-args "--beam 2"' in title
    assert re.search(r"^\| george \| unfinished \|", results, re.M), results


def test_loso_other_spellings_of_the_adapt_args_are_one_decoding(recipe_dir, fsdd_root):
    """A tag's record of a decoding with an LM or speaker adaptation (exp/<tag>/loso_lm_options_<decode>)
    compared --adapt-args as typed: '--epochs=2 --keep=0.5' after '--epochs 2 --keep 0.5', one decode
    directory and, for asr.sh (asrkit-adapt-speakers --print-config), one adaptation, was refused as
    made with other options, naming that directory as a --decode-config and sending the user to
    another one. The same resolved options pass; a real difference is named alone, with the
    directory it is a difference of."""
    recipe = recipe_dir("fsdd")
    base = ["local/loso.sh", "--fsdd-root", str(fsdd_root), "--speakers", "george", *STOPS_AT_STAGE_0]
    proc = run_sh(base + ["--adapt-args", "--epochs 2 --keep 0.5"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "fold george: stage 0 failed" in proc.stderr, proc.stderr
    record = recipe / "loso/george/exp/default/loso_lm_options_decode_adapt_epochs2_keep0.5"
    assert "adapt_args=--epochs 2 --keep 0.5" in record.read_text().splitlines()
    proc = run_sh(base + ["--adapt-args", "--epochs=2 --keep=0.5"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "fold george: stage 0 failed" in proc.stderr, proc.stderr
    assert "made with" not in proc.stderr and "not compared" not in proc.stderr, proc.stderr
    # Another LM config for the same directory, the adaptation spelt otherwise: the LM config alone.
    proc = run_sh(base + ["--use-lm", "true", "--adapt-args", "--epochs 2"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "fold george: stage 0 failed" in proc.stderr, proc.stderr
    (recipe / "lm2.yaml").write_text((recipe / "conf/lm.yaml").read_text())
    proc = run_sh(base + ["--use-lm", "true", "--lm-config", "lm2.yaml", "--adapt-args", "--epochs=2"], cwd=recipe,
                  check=False)
    assert proc.returncode != 0 and proc.stderr.rstrip().splitlines()[-1] == (
        "local/loso.sh: ERROR: the decode directory decode_test_decode_lm_adapt_epochs2 of --tag default (with an LM or "
        "speaker adaptation) was made with --lm-config conf/lm.yaml, these options give --lm-config lm2.yaml: give the "
        "options it was made with, or another --decode-config (a copy of conf/decode.yaml under another name decodes "
        "into a directory of its own)"), proc.stderr


def test_loso_adapt_args_that_asrkit_adapt_speakers_refuses_are_named_so(recipe_dir, fsdd_root):
    """An --adapt-args asrkit-adapt-speakers refuses ('--keep0.5', the decode directory of
    '--keep 0.5') was told it differed from the directory's record and sent to another
    --decode-config, where its fold would fail at stage 5, after the training: it is refused as
    asrkit-adapt-speakers refuses it, before its fold runs."""
    recipe = recipe_dir("fsdd")
    base = ["local/loso.sh", "--fsdd-root", str(fsdd_root), "--speakers", "george", *STOPS_AT_STAGE_0]
    proc = run_sh(base + ["--adapt-args", "--epochs 2 --keep 0.5"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "fold george: stage 0 failed" in proc.stderr, proc.stderr
    proc = run_sh(base + ["--adapt-args", "--epochs=2 --keep0.5"], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        "local/loso.sh: ERROR: --adapt-args \"--epochs=2 --keep0.5\": asrkit-adapt-speakers refuses it (No such "
        "option '--keep0.5'. Did you mean '--keep'?)"), proc.stderr
    assert "stage 0" not in proc.stderr, proc.stderr


def test_loso_decode_options_are_not_the_dirs_in_its_record_of_before(recipe_dir, fsdd_root):
    """--decode-args and --decode-ngpu, no longer the tag's options, were taken for the --dir's:
    a --dir of the loso.sh before the --print-config records (loso_data_args, which never held
    them) was refused as made with other options, even run again with the --decode-args it had."""
    recipe = recipe_dir("fsdd")
    fold = recipe / "loso/george"
    fold.mkdir(parents=True)
    (fold / "loso_data_args").write_text("--num-train 20 --speed-factors bogus\n")
    proc = run_sh(["local/loso.sh", "--fsdd-root", str(fsdd_root), "--speakers", "george", *STOPS_AT_STAGE_0,
                   "--num-train", "20", "--decode-args", "--beam 2", "--decode-ngpu", "1", "--dry-run", "true"],
                  cwd=recipe, check=False)
    assert proc.returncode == 0 and proc.stdout.count("fold george: ") == 2, proc.stderr


def test_loso_summary_before_any_fold_finished(recipe_dir, fsdd_root):
    """--summary-only with nothing finished: every fold listed as unfinished, no mean or worst
    made up, nothing run, and the command shown names the fold order given."""
    recipe = recipe_dir("fsdd")
    run_sh(["local/loso.sh", "--fsdd-root", str(fsdd_root), "--speakers", "theo george", "--summary-only", "true"],
           cwd=recipe)
    results = (recipe / "RESULTS.md").read_text()
    assert re.search(r"^\| theo \| unfinished \|", results, re.M) and re.search(r"^\| george \| unfinished \|", results, re.M)
    assert "mean" not in results and "worst" not in results, results
    assert '--speakers "theo george" --dir loso --tag default' in results
    assert not (recipe / "loso").exists()


@pytest.mark.parametrize("args,message", [
    ([], "--fsdd-root is required"),
    (["--speakers", "george lucas"], "--speakers: no recordings of 'lucas'"),
    (["--test-speakers", "theo"], "--test-speakers is set by local/loso.sh for each fold"),
    (["--stage", "4"], "--stage is set by local/loso.sh for each fold"),
    # run.sh reads it as --test-speakers: given after the fold's own, every fold tested theo
    (["--test_speakers", "theo"], "--test-speakers is set by local/loso.sh for each fold"),
    # passed on, each fold's run.sh printed its options (exit 0), after the AN4 pretraining ran
    (["--print-config", "true"], "--print-config true: run.sh's option, for one run"),
    (["--tag", "a b"], "--tag 'a b': use letters, digits"),
    # the folds went to /<speaker> (exit 0; a run made /theo at the file system's root)
    (["--dir", ""], "--dir '': the folds would go to /<speaker>"),
    (["--dir", "/"], "--dir '/': the folds would go to /<speaker>"),
    # one fold, summarised twice: the mean weighed it double
    (["--speakers", "theo george theo"], "--speakers: 'theo' is named twice"),
    # written after every fold: a Python traceback (IsADirectoryError) or touch's error, then
    (["--results", "conf"], "--results 'conf': not a file"),
    (["--results", ""], "--results '': not a file"),
    (["--results", "nowhere/R.md"], "--results nowhere/R.md: no folder nowhere for it"),
    (["--pretrain-max-utts", "-1"], "--pretrain-max-utts must be 0 (all of AN4) or more, got '-1'"),
])
def test_loso_bad_options_are_clear_errors(recipe_dir, fsdd_root, args, message):
    recipe = recipe_dir("fsdd")
    root = [] if not args else ["--fsdd-root", str(fsdd_root)]
    proc = run_sh(["local/loso.sh", *root, *args, "--dry-run", "true"], cwd=recipe, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr, proc  # no fold's command: refused before


TINY = ("--set training.max_epochs=1 --set model.listener.hidden=16 --set model.listener.proj=16 "
        "--set model.listener.subsample=[2,2] --set model.speller.hidden=16 --set model.speller.embed=8 "
        "--set model.attention.dim=16 --set training.valid_cer=false --set training.num_plots=0")
ADAPT = "--epochs 2"  # asrkit-adapt-speakers' default 30 passes took 20-40 s per decoding of FSDD's 500 takes
# The AN4 pretraining on AN4's first 200 of 1078 utterances (some 15 voices; local/pretrain_an4.sh
# --max-utts, run.sh's and loso.sh's --pretrain-max-utts), where a test checks nothing of its size:
# all of AN4 took 20-60 s CPU a pretraining
AN4_TRIAL = "200"


@pytest.mark.slow
def test_loso_fold_end_to_end_resumes_and_summarises(recipe_dir, fsdd_root, an4_root, tmp_path):
    """One fold on a tiny FSDD slice, with the default's AN4 voices (resampled in-process) and
    speed factors, and a 1-epoch tiny model: the summary block in RESULTS.md, a re-run that skips
    the finished fold and replaces (not repeats) the block, a summary while other folds are
    unfinished, and a tag re-used with other options refused."""
    recipe = recipe_dir("fsdd")
    fsdd = fsdd_slice(fsdd_root, tmp_path / "fsdd")
    # the fold's record of the tag's options against this run's: they differ in max_epochs
    other_tag = "^" + re.escape(f'local/loso.sh: ERROR: --tag tiny was made with --train-args "{TINY}", these options give '
                                f'--train-args "{TINY.replace("max_epochs=1", "max_epochs=2")}": use another --tag') + "$"
    (recipe / "RESULTS.md").write_text("# FSDD results\n\nearlier text\n")
    base = ["local/loso.sh", "--fsdd-root", str(fsdd), "--an4-root", str(an4_root), "--speakers", "yweweler", "--tag", "tiny",
            "--adapt-args", ADAPT, "--pretrain-max-utts", AN4_TRIAL, "--num-train", "16", "--num-dev", "4", "--num-test", "4",
            "--nj", "1", "--num-avg", "0"]
    run_sh(base + ["--train-args", TINY], cwd=recipe, timeout=900)
    fold = recipe / "loso/yweweler"
    # The default --init-listener an4: one pretraining on all of AN4 (the tag's model options) for
    # every fold, in <dir>/pretrain_an4/exp/<tag>, and the fold's listener starts from it.
    pretrained = recipe / "loso/pretrain_an4/exp/tiny/pretrained.pt"
    assert pretrained.is_file() and not (fold / "pretrain_an4").exists()
    assert f"train_args={TINY} " in (recipe / "loso/pretrain_an4/exp/tiny/pretrain_options").read_text()
    assert len(read_table(recipe / "loso/pretrain_an4/data/all/utt2spk")) == int(AN4_TRIAL)  # --pretrain-max-utts
    log = (fold / "exp/tiny/log/train.log").read_text()
    init = init_name(pretrained, "../pretrain_an4/exp/tiny/pretrained.pt")
    assert (fold / init).resolve() == pretrained.resolve()
    assert re.search(rf"--init {re.escape(init)}: \d+ tensors .* taken: listener", log), log[-2000:]
    assert set(read_table(fold / "data/test/utt2spk").values()) == {"yweweler"}
    assert "yweweler" not in set(read_table(fold / "data/train/utt2spk").values()) | \
        set(read_table(fold / "data/dev/utt2spk").values())
    assert (fold / "data/test/ref.ctm").is_file() and (fold / "exp/tiny/decode_test_decode_adapt_epochs2/wer.txt").is_file()
    # run.sh's default --adapt-speakers true: the first pass, then the held-out voice's transform and the second pass
    assert (fold / "exp/tiny/decode_test_decode/text").is_file() and (fold / "exp/tiny/decode_test_decode_adapt_epochs2/trans.ark").is_file()
    train = read_table(fold / "data/train_an4_digits/utt2spk")
    assert sum(u.startswith("an4_") for u in train) > 150 and len(set(train.values())) == 84 + 4
    assert "--resample" in (fold / "dump/train_an4_digits/log/fbank.1.log").read_text()
    assert not (recipe / "data").exists() and not (recipe / "exp").exists()  # all of it in the fold's directory
    results = (recipe / "RESULTS.md").read_text()
    assert results.startswith("# FSDD results\n\nearlier text\n")
    wer = re.search(r"^%WER ([0-9.]+)", (fold / "exp/tiny/decode_test_decode_adapt_epochs2/wer.txt").read_text(), re.M).group(1)
    # the held-out speaker's takes as recorded: all 70 of them, decoded beside test and in the summary
    takes = read_table(fold / "data/test_takes/wav.scp")
    assert len(takes) == 70 and set(read_table(fold / "data/test_takes/utt2spk").values()) == {"yweweler"}
    assert all(Path(f).parent == fsdd_root.resolve() / "recordings" for f in takes.values())
    takes_wer = re.search(r"^%WER ([0-9.]+)", (fold / "exp/tiny/decode_test_takes_decode_adapt_epochs2/wer.txt").read_text(),
                          re.M).group(1)
    assert re.search(rf"^\| yweweler \| {re.escape(wer)} \| [0-9.]+ \| \d+ / \d+ \| {re.escape(takes_wer)} \| \d+ s "
                     rf"\| 1 \(1\) \|$", results, re.M), results
    assert re.search(rf"^\| \*\*mean\*\* \| \*\*{float(wer):.2f}\*\* \| [0-9.]+ \| \| {float(takes_wer):.2f} \|", results,
                     re.M), results
    assert re.search(rf"^\| \*\*worst\*\* \| \*\*{float(wer):.2f}\*\* \(yweweler\) \|", results, re.M)
    assert "--tag tiny" in results and f'--train-args "{TINY}"' in results

    proc = run_sh(base + ["--train-args", TINY], cwd=recipe)
    assert "fold yweweler: done already" in proc.stderr
    assert (recipe / "RESULTS.md").read_text().count("<!-- loso loso/tiny/decode_adapt_epochs2 -->") == 1

    # A summary while other folds have not run: they are listed as unfinished, and the mean and
    # worst say how many folds they cover. Nothing is run for them.
    proc = run_sh([*base[:5], "--speakers", "theo yweweler", *base[7:], "--train-args", TINY,
                   "--summary-only", "true"], cwd=recipe)
    results = (recipe / "RESULTS.md").read_text()
    assert results.count("<!-- loso loso/tiny/decode_adapt_epochs2 -->") == 1 and not (recipe / "loso/theo").exists()
    assert re.search(r"^\| theo \| unfinished \|", results, re.M), results
    assert re.search(rf"^\| \*\*mean of 1/2 folds\*\* \| \*\*{float(wer):.2f}\*\* \|", results, re.M), results
    assert re.search(rf"^\| \*\*worst of 1/2 folds\*\* \| \*\*{float(wer):.2f}\*\* \(yweweler\) \|", results, re.M)
    proc = run_sh([*base, "--train-args", TINY.replace("max_epochs=1", "max_epochs=2"), "--summary-only", "true"],
                  cwd=recipe, check=False)
    assert proc.returncode != 0 and re.search(other_tag, proc.stderr, re.M), proc.stderr[-2000:]

    # Another decoding of the same models: a decode directory and a summary block of its own,
    # no training.
    (recipe / "beam1.yaml").write_text("beam: 1\nctc_weight: 0.0\n")
    proc = run_sh(base + ["--train-args", TINY, "--decode-config", "beam1.yaml"], cwd=recipe)
    assert "stage 4: exp/tiny done already" in proc.stderr
    assert (fold / "exp/tiny/decode_test_beam1_adapt_epochs2/wer.txt").is_file()
    results = (recipe / "RESULTS.md").read_text()
    assert results.count("<!-- loso loso/tiny/decode_adapt_epochs2 -->") == 1 and results.count("<!-- loso loso/tiny/beam1_adapt_epochs2 -->") == 1

    # The same models with an LM fused in: the fold's own LM (its training transcripts only), a
    # decode directory and a block of their own (named by the weight, and by --adapt-args as every
    # one above: asr.sh's name), no retraining.
    lm = ["--use-lm", "true", "--lm-weight", "0.2"]
    proc = run_sh(base + ["--train-args", TINY, *lm], cwd=recipe, timeout=900)
    assert "stage 4: exp/tiny done already" in proc.stderr and "stage 3: LM" in proc.stderr, proc.stderr[-3000:]
    assert (fold / "exp/lm_lang_char/lm.pt").is_file()
    assert (fold / "exp/tiny/decode_test_decode_lm0.2_adapt_epochs2/wer.txt").is_file()
    assert "--lm-weight 0.2" in (fold / "exp/tiny/decode_test_decode_lm0.2/log/decode.1.log").read_text()
    results = (recipe / "RESULTS.md").read_text()
    assert results.count("<!-- loso loso/tiny/decode_lm0.2_adapt_epochs2 -->") == 1 and "--use-lm true --lm-weight 0.2" in results
    # Another weight: a decode directory of its own (one for every weight refused it as made with
    # 0.2), as asr.sh decodes it; another LM config for the same directory is refused rather than
    # skipped as done.
    proc = run_sh(base + ["--train-args", TINY, "--use-lm", "true", "--lm-weight", "0.5", "--dry-run", "true"],
                  cwd=recipe)
    assert "-> loso/yweweler/exp/tiny/decode_test_decode_lm0.5_adapt_epochs2/wer.txt" in proc.stdout, proc.stdout
    (recipe / "lm2.yaml").write_text((recipe / "conf/lm.yaml").read_text().replace("hidden: 64", "hidden: 48"))
    proc = run_sh(base + ["--train-args", TINY, *lm, "--lm-config", "lm2.yaml"], cwd=recipe, check=False)
    assert proc.returncode != 0 and ("local/loso.sh: ERROR: the decode directory decode_test_decode_lm0.2_adapt_epochs2 "
                                     "of --tag tiny (with an LM or speaker adaptation) was made with --lm-config "
                                     "conf/lm.yaml, these options give --lm-config lm2.yaml: give the options it was made "
                                     "with, or another --decode-config (a copy of conf/decode.yaml under another name "
                                     "decodes into a directory of its own)\n") in proc.stderr, \
        proc.stderr[-2000:]

    # The same tag with other options: an error, not the old numbers under a new command line.
    proc = run_sh(base + ["--train-args", TINY.replace("max_epochs=1", "max_epochs=2")], cwd=recipe, check=False)
    assert proc.returncode != 0 and re.search(other_tag, proc.stderr, re.M), proc.stderr[-2000:]
    # Other data in the same --dir: an error too (its features would be stale).
    proc = run_sh(base[:-2] + ["--num-avg", "0", "--tag", "other", "--seed", "2"], cwd=recipe, check=False)
    assert proc.returncode != 0 and ("local/loso.sh: ERROR: --dir loso was made with --seed 1, these options give --seed 2: "
                                     "use another --dir\n") in proc.stderr, proc.stderr[-2000:]
    # ... and so is another pretraining size: every tag of a --dir pretrains on its one pretrain_an4/data.
    proc = run_sh([x if x != AN4_TRIAL else "300" for x in base] + ["--train-args", TINY], cwd=recipe, check=False)
    assert proc.returncode != 0 and (f"local/loso.sh: ERROR: --dir loso was made with --pretrain-max-utts {AN4_TRIAL}, "
                                     "these options give --pretrain-max-utts 300: use another --dir\n") in proc.stderr, \
        proc.stderr[-2000:]

    # --init-listener "": the fold trains from scratch; a training option, so the fold's data are reused.
    # (--adapt-speakers false here and below: the adapted pass is tag tiny's, checked above)
    scratch = [x if x != "tiny" else "tiny_scratch" for x in base] + ["--init-listener", "", "--train-args", TINY,
                                                                     "--adapt-speakers", "false"]
    proc = run_sh(scratch, cwd=recipe, timeout=900)
    assert "stage 1: dump/test done already" in proc.stderr and "pretrain" not in proc.stderr
    log = (fold / "exp/tiny_scratch/log/train.log").read_text()
    assert "--init" not in log and (fold / "exp/tiny_scratch/decode_test_decode/wer.txt").is_file()
    assert "init_listener" not in (fold / "loso_data_options").read_text()

    # Another tag with other training options in the same --dir: a pretraining of its own (its
    # model differs), not the first tag's listener.
    wide = TINY.replace("hidden=16", "hidden=24")
    other = [x if x != "tiny" else "tiny_wide" for x in base] + ["--train-args", wide, "--adapt-speakers", "false"]
    run_sh(other, cwd=recipe, timeout=900)
    log = (fold / "exp/tiny_wide/log/train.log").read_text()
    wide_pt = recipe / "loso/pretrain_an4/exp/tiny_wide/pretrained.pt"
    init = init_name(wide_pt, "../pretrain_an4/exp/tiny_wide/pretrained.pt")
    assert (fold / init).resolve() == wide_pt.resolve()
    assert re.search(rf"--init {re.escape(init)}: \d+ tensors .* taken: listener", log), log[-2000:]


@pytest.mark.slow
def test_run_sh_init_listener_an4_pretrains_once_then_fine_tunes(recipe_dir, fsdd_root, an4_root, tmp_path):
    """./run.sh's default --init-listener an4: local/pretrain_an4.sh first (same model options), in
    the recipe's pretrain_an4/, then stage 4 starts the listener from it; a model file that is not
    there is an error before anything runs, and so is an --init of its own in --train-args. The
    fold's fine-tuning options (--freeze) are the fold's: the pretraining trains every module."""
    recipe = recipe_dir("fsdd")
    # (--an4-words none: AN4's voices in the fold's training set are test_raw_training_resamples_an4_voices's
    # and the LOSO test's; here only the pretraining reads AN4)
    fsdd = fsdd_slice(fsdd_root, tmp_path / "fsdd")
    args = ["./run.sh", "--fsdd-root", str(fsdd), "--an4-root", str(an4_root), "--an4-words", "none",
            "--num-train", "16", "--num-dev", "4", "--num-test", "4", "--nj", "1", "--num-avg", "0", "--stop-stage", "4",
            "--pretrain-max-utts", AN4_TRIAL, "--train-args", TINY]
    proc = run_sh(args + ["--init-listener", "nothing/here.pt"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "--init-listener nothing/here.pt: no such file (a model, or an4)" in proc.stderr
    proc = run_sh(args[:-1] + [TINY + " --init other.pt"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "--train-args has --init, and --init-listener an4 gives the listener too" in proc.stderr
    assert not (recipe / "data").exists()
    ft = args[:-1] + [TINY + " --freeze listener.layers.0", "--tag", "ft"]
    run_sh(ft, cwd=recipe, timeout=900)
    trial = f"pretrain_an4_first{AN4_TRIAL}"  # --pretrain-max-utts: a directory of its own
    pretrained = recipe / trial / "exp/an4_8k/pretrained.pt"
    log = (recipe / "exp/ft/log/train.log").read_text()
    init = init_name(pretrained, f"{trial}/exp/an4_8k/pretrained.pt")
    assert re.search(rf"--init {re.escape(init)}: \d+ tensors .* taken: listener", log), log[-2000:]
    assert re.search(r"--freeze listener.layers.0: \d+ tensors .* get no updates", log), log[-2000:]
    pretrain_log = (recipe / trial / "exp/an4_8k/log/train.log").read_text()
    assert "--freeze" not in pretrain_log and f"train_args={TINY} " in (
        recipe / trial / "exp/an4_8k/pretrain_options").read_text()
    # run.sh's --nj is the pretraining's too (it made 2 feature jobs a set under --nj 1)
    assert sorted(p.name for p in (recipe / trial / "dump/train/log").glob("fbank.*.log")) == ["fbank.1.log"]
    # The same run again from stage 0, as Kaldi users do: stage 0 makes data/ again, the same
    # audio, and every later stage is done already (stage 0 wrote each recording anew, and their
    # times, which stage 1 records, made stage 4 refuse its model as "trained on other data").
    again = run_sh(ft, cwd=recipe)
    assert "stage 1: dump/train done already" in again.stderr, again.stderr[-2000:]
    assert "stage 4: exp/ft done already" in again.stderr, again.stderr[-2000:]
    # --pretrain-max-utts: AN4's first N utterances only, in pretrain_an4_first<N>; another N is
    # another directory, whose model stage 4's --init names: the tag fine-tuned from the first is
    # not "done already" (with one pretrain_an4/ for every N, it was, once that was made again).
    assert len(read_table(recipe / trial / "data/all/utt2spk")) == int(AN4_TRIAL)
    assert not (recipe / "pretrain_an4").exists()
    proc = run_sh(ft + ["--pretrain-max-utts", "300", "--stage", "4"], cwd=recipe, check=False, timeout=900)
    assert len(read_table(recipe / "pretrain_an4_first300/data/all/utt2spk")) == 300, proc.stderr[-2000:]
    assert proc.returncode != 0 and proc.stderr.rstrip().splitlines()[-1].startswith(
        "asr.sh: ERROR: stage 4: exp/ft was trained with other options: "), proc.stderr[-2000:]
    # Other model options later: the pretrained listener no longer fits them, so it is an error
    # naming what to delete, not a shape error or a stale listener.
    changed = args[:-1] + [TINY.replace("hidden=16", "hidden=24"), "--tag", "ft2"]
    proc = run_sh(changed, cwd=recipe, check=False)
    made, now = (re.escape(f"train_args={args} seed=1") for args in (TINY, TINY.replace("hidden=16", "hidden=24")))
    # (what run.sh's users can do: --dir and --tag are local/pretrain_an4.sh's, not run.sh's)
    assert proc.returncode != 0 and re.search(
        rf"^local/pretrain_an4\.sh: ERROR: {trial}/exp/an4_8k was made with '(train_config=train_umn\.yaml sha1=\w+) "
        rf"{made}', these options give '\1 {now}': delete {trial}/exp/an4_8k to make it again, or give run\.sh "
        r'--init-listener "" \(no pretraining\) or a model of your own \(e\.g\. one local/pretrain_an4\.sh made with '
        r"--dir and --tag\)$", proc.stderr, re.M), proc.stderr[-2000:]
    assert not (recipe / "exp/ft2").exists()


@pytest.mark.slow
def test_raw_training_resamples_an4_voices(recipe_dir, fsdd_root, an4_root, tmp_path):
    """--feats-type raw with the default's AN4 voices: the 16 kHz AN4 audio stays audio in the raw
    training set beside 8 kHz FSDD, and asrkit-train resamples it while reading
    (augment.resample, from run.sh's --fbank-args --resample) instead of refusing the run or
    counting every AN4 utterance as bad."""
    recipe = recipe_dir("fsdd")
    # (--init-listener "": the AN4 pretraining, which reads features whatever --feats-type, is
    # test_run_sh_init_listener_an4_pretrains_once_then_fine_tunes's)
    fsdd = fsdd_slice(fsdd_root, tmp_path / "fsdd")
    proc = run_sh(["./run.sh", "--fsdd-root", str(fsdd), "--an4-root", str(an4_root), "--init-listener", "",
                   "--num-train", "16", "--num-dev", "4", "--num-test", "4", "--nj", "1", "--num-avg", "0",
                   "--feats-type", "raw", "--stop-stage", "4", "--tag", "raw", "--train-args", TINY], cwd=recipe,
                  timeout=900)
    train = recipe / "dump/train_an4_digits"
    assert (train / "wav.scp").is_file() and not (train / "feats.scp").exists()
    # plain paths, each the rest of its line (a space in the checkout's path included)
    rates = {wave.open(p).getframerate() for p in read_table(train / "wav.scp").values()}
    assert rates == {8000, 16000}
    n = len(read_table(train / "text"))
    assert len(read_table(train / "utt2num_frames")) == n > 150
    exp = recipe / "exp/raw"
    assert "resample: true" in (exp / "config.yaml").read_text()
    log = (exp / "log/train.log").read_text()
    assert "fbank computed from the audio in the data loader" in log
    assert " skipped: " not in log and "does not match" not in log, log[-3000:]  # no utterance lost
    assert (exp / "model.pt").is_file(), proc.stderr[-2000:]
    # The durations decoding joins a cut recording's pieces up to: those of this training set (the
    # raw table's lengths, at the slowest on-the-fly speed), in seconds at the 10 ms frame shift.
    from asrkit.models.package import load_package

    seconds = sorted(int(v) / 100 for v in read_table(train / "utt2num_frames").values())
    d = load_package(exp / "model.pt").meta.extra["train_durations_s"]
    assert seconds[0] <= d["p50"] <= d["p95"] <= d["max"] <= seconds[-1] / 0.8 + 0.05, (d, seconds[0], seconds[-1])


def test_pretrain_an4_makes_a_listener_for_fine_tuning(recipe_dir, an4_root):
    """local/pretrain_an4.sh: all of AN4 at 8 kHz with FSDD's features, dev drawn as whole
    speakers, a model with FSDD's input dimension; a re-run trains nothing again."""
    recipe = recipe_dir("fsdd")
    args = ["local/pretrain_an4.sh", "--an4-root", str(an4_root), "--dir", "pt", "--tag", "tiny", "--nj", "1",
            "--max-utts", "200", "--train-args", TINY + " --set training.keep_best=1"]
    proc = run_sh(args, cwd=recipe, timeout=900)
    assert "AN4 (its first 200 utterances: --max-utts) at 8 kHz -> pt/data/all" in proc.stderr, proc.stderr[-2000:]
    pt = recipe / "pt"
    train, dev = read_table(pt / "data/train/utt2spk"), read_table(pt / "data/dev/utt2spk")
    assert len(train) + len(dev) == 200 and 0.05 * 200 < len(dev) < 0.2 * 200
    assert not set(train.values()) & set(dev.values())  # whole speakers held out
    assert "--resample" in (pt / "dump/train/log/fbank.1.log").read_text()
    assert "num_mel_bins: 40" in (pt / "dump/train/fbank.yaml").read_text()
    model = re.search(r"done: (\S+) -> model\.avg\.pt \(fine-tune with: --init-listener (\S+)\)", proc.stderr)
    init = model.group(2) if model else ""
    if re.search(r"\s", str(pt)):  # the name run.sh can take, from the recipe directory (see init_name)
        assert init == "pt/exp/tiny/pretrained.pt", proc.stderr[-2000:]
    else:
        assert init.startswith("/") and init.endswith("/pt/exp/tiny/pretrained.pt"), proc.stderr[-2000:]
    assert (recipe / init).resolve() == (pt / "exp/tiny/model.avg.pt").resolve()
    assert not (recipe / "data").exists() and not (recipe / "exp").exists()
    again = run_sh(args, cwd=recipe)
    assert "stage 4: exp/tiny done already" in again.stderr
    # A time budget that stops the training: nothing is averaged, and pretrained.pt is model.pt.
    budget = run_sh(args[:-2] + ["--tag", "budget", "--train-args",
                                  TINY + " --set training.max_epochs=3 --set training.max_time=0.001"], cwd=recipe, timeout=900)
    assert "pretrained.pt -> model.pt" in budget.stderr
    assert (pt / "exp/budget/pretrained.pt").resolve() == (pt / "exp/budget/model.pt").resolve()
    assert not (pt / "exp/budget/model.avg.pt").exists()
    # The same tag or the same data with other options: an error naming them, nothing retrained.
    proc = run_sh(args[:-1] + [TINY], cwd=recipe, check=False)
    assert proc.returncode != 0 and re.search(
        rf"^local/pretrain_an4\.sh: ERROR: pt/exp/tiny was made with '(train_config=train_umn\.yaml sha1=\w+ "
        rf"train_args={re.escape(TINY)}) --set training\.keep_best=1 seed=1', these options give '\1 seed=1': "
        r"delete pt/exp/tiny to make it again, or give another --dir or --tag$", proc.stderr, re.M), proc.stderr[-2000:]
    proc = run_sh(args + ["--dev-fraction", "0.2"], cwd=recipe, check=False)
    assert proc.returncode != 0 and proc.stderr.rstrip().splitlines()[-1] == (
        "local/pretrain_an4.sh: ERROR: pt/data was made with dev_fraction=0.1, these options give dev_fraction=0.2: "
        "delete pt/data to make it again, or give another --dir or --tag"), proc.stderr[-2000:]
    bad = run_sh(["local/pretrain_an4.sh", "--train-config", "nope.yaml"], cwd=recipe, check=False)
    assert bad.returncode != 0 and "--train-config nope.yaml: no such file" in bad.stderr


def small_fsdd(fsdd_root: Path, root: Path, new_speakers=("lucas",), takes=7, speakers=("george", "jackson")) -> Path:
    """An FSDD layout: ``speakers`` (links to the real recordings, ``takes`` of each digit) and
    each new speaker reading george's first two takes (copies, so one can be broken)."""
    rec = root / "recordings"
    rec.mkdir(parents=True)
    for spk in speakers:
        for d in range(10):
            for i in range(takes):
                (rec / f"{d}_{spk}_{i}.wav").symlink_to(fsdd_root / "recordings" / f"{d}_{spk}_{i}.wav")
    for spk in new_speakers:
        for d in range(10):
            for i in range(2):
                (rec / f"{d}_{spk}_{i}.wav").write_bytes((fsdd_root / "recordings" / f"{d}_george_{i}.wav").read_bytes())
    return root


def fsdd_slice(fsdd_root: Path, root: Path) -> Path:
    """FSDD's five speakers, 7 takes of each digit (links; run.sh's --dev-takes 5 leaves 2 for
    training), for the run.sh and loso.sh tests: run.sh dumps, and decodes, the test speakers'
    takes as recorded, 500 a speaker in all of FSDD, which those tests do not need."""
    return small_fsdd(fsdd_root, root, (), speakers=tuple(SPEAKERS))


def test_fsdd_speakers_of_another_corpus_and_extra_files(recipe_dir, fsdd_root, tmp_path):
    """Speaker names with a hyphen, an underscore, digits or upper case are speakers like any other
    (they were left out without a word: '--test-speakers mary-ann: not FSDD speakers here'); a
    .WAV is a recording; anything else in recordings/ is skipped with a count. A training speaker
    with only two takes needs a smaller --dev-takes, which data.sh (and run.sh) now pass on: the
    error named an option neither script had."""
    recipe = recipe_dir("fsdd")
    corpus = small_fsdd(fsdd_root, tmp_path / "other fsdd", ("mary-ann", "spk_2", "Lucas3"))
    rec = corpus / "recordings"
    (rec / "4_Lucas3_1.wav").rename(rec / "4_Lucas3_1.WAV")
    (rec / "README.md").write_text("not a recording\n")
    (rec / "10_george_1.wav").write_bytes(b"")
    (rec / "4_george_77.wav").mkdir()  # was said to be "not named <digit>_<speaker>_<take>.wav"
    args = ["local/data.sh", "--fsdd-root", str(corpus), "--test-speakers", "mary-ann,spk_2",
            "--num-train", "30", "--num-dev", "4", "--num-test", "20"]
    proc = run_sh(args, cwd=recipe, check=False)
    assert proc.returncode == 1 and "training speaker Lucas3 has 2 take(s) of digit 0: too few to keep " \
        "--dev-takes 5 for dev (give a smaller --dev-takes" in proc.stderr
    proc = run_sh(args + ["--dev-takes", "1"], cwd=recipe)
    assert "skipped 2 entries not named <digit>_<speaker>_<take>.wav (10_george_1.wav, README.md)" in proc.stderr
    assert "skipped 1 folders named like recordings (4_george_77.wav)" in proc.stderr
    train, test = read_table(recipe / "data/train/utt2spk"), read_table(recipe / "data/test/utt2spk")
    assert set(test.values()) == {"mary-ann", "spk_2"}
    assert set(train.values()) == {"george", "jackson", "Lucas3"}
    assert all(utt.startswith(spk + "-") for utt, spk in {**train, **test}.items())
    check_ctm_against_audio(recipe / "data", "test")


@pytest.mark.parametrize("breakage, message", [
    ("empty", "3_lucas_1.wav: empty file (0 bytes)"),
    ("header-only", "3_lucas_1.wav: empty WAV/PCM_16 audio (no samples)"),
    ("truncated", "3_lucas_1.wav: truncated WAV file (header promises"),
    ("dangling link", "3_lucas_1.wav: no such file"),
    ("silent", "3_lucas_1.wav: digital silence (every sample 0): no spoken digit in it"),
    ("cancelling stereo", "; keep one channel of that file (e.g. sox in.wav out.wav remix 1) and run again"),
])
def test_fsdd_broken_recording_is_one_line_naming_it(recipe_dir, fsdd_root, tmp_path, breakage, message):
    """A header-only or truncated recording was taken as it was: the text said THREE where the
    audio held nothing, or part of a word; an empty file said '(...)' with nothing in the brackets,
    and a dangling link was a Python traceback. (asrkit's own reader's messages.)"""
    recipe = recipe_dir("fsdd")
    corpus = small_fsdd(fsdd_root, tmp_path / "fsdd")
    bad = corpus / "recordings/3_lucas_1.wav"
    good = bad.read_bytes()
    bad.unlink()
    if breakage == "empty":
        bad.write_bytes(b"")
    elif breakage == "header-only":
        with wave.open(str(bad), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
    elif breakage == "truncated":
        bad.write_bytes(good[:1000])
    elif breakage in ("silent", "cancelling stereo"):
        # zeros pass every reader's check, and the noise joined between digits looked like speech;
        # a stereo pair that cancels was refused with advice to use an option the script lacks
        with wave.open(io.BytesIO(good), "rb") as w:
            x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        channels = [np.zeros_like(x)] if breakage == "silent" else [x, -x]
        with wave.open(str(bad), "wb") as w:
            w.setnchannels(len(channels))
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(np.stack(channels, 1).astype("<i2").tobytes())
    else:
        bad.symlink_to(tmp_path / "nowhere.wav")
    proc = run_sh(["local/data.sh", "--fsdd-root", str(corpus), "--test-speakers", "lucas",
                   "--num-train", "4", "--num-dev", "2", "--num-test", "30"], cwd=recipe, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert not (recipe / "data/test").exists()


def test_loso_folds_default_to_the_speakers_of_the_corpus(recipe_dir, fsdd_root, tmp_path):
    """Without --speakers, one fold per speaker of --fsdd-root: a corpus with a new speaker gets a
    fold for it, another corpus its own speakers (the fixed list of FSDD's five left 'mary-ann' in
    every fold's training and never held out, and a corpus without george stopped at "no
    recordings of 'george'")."""
    recipe = recipe_dir("fsdd")
    corpus = small_fsdd(fsdd_root, tmp_path / "fsdd", ("mary-ann",))
    proc = run_sh(["local/loso.sh", "--fsdd-root", str(corpus), "--dry-run", "true"], cwd=recipe)
    folds = [line.split(":")[0] for line in proc.stdout.splitlines()[1:]]  # (after the pretraining's)
    assert folds == ["fold george", "fold george", "fold jackson", "fold jackson", "fold mary-ann", "fold mary-ann"]
    proc = run_sh(["local/loso.sh", "--fsdd-root", str(corpus), "--speakers", "theo", "--dry-run", "true"],
                  cwd=recipe, check=False)
    assert proc.returncode == 1
    assert "--speakers: no recordings of 'theo' in " in proc.stderr and "(speakers there: george jackson mary-ann)" in proc.stderr
    proc = run_sh(["local/loso.sh", "--fsdd-root", str(corpus), "--summary-only", "true"], cwd=recipe)
    results = (recipe / "RESULTS.md").read_text()
    assert re.search(r"^\| mary-ann \| unfinished \|", results, re.M) and "--speakers" not in results


def test_fsdd_stage0_again_leaves_no_set_of_an_earlier_run(recipe_dir, fsdd_root, tmp_path):
    """Stage 0 again with other test speakers and --num-dev 0: the earlier dev (which held the new
    test speaker) is removed, not left for asr.sh to validate on, and a smaller set's recordings
    replace the earlier, larger set's instead of sitting beside them."""
    recipe = recipe_dir("fsdd")
    corpus = small_fsdd(fsdd_root, tmp_path / "fsdd", ("lucas",), takes=7)
    args = ["local/data.sh", "--fsdd-root", str(corpus), "--dev-takes", "1", "--speed-factors", ""]
    run_sh(args + ["--test-speakers", "jackson", "--num-train", "12", "--num-dev", "6", "--num-test", "2"], cwd=recipe)
    assert "lucas" in read_table(recipe / "data/dev/utt2spk").values()
    proc = run_sh(args + ["--test-speakers", "lucas", "--num-train", "5", "--num-dev", "0", "--num-test", "2"], cwd=recipe)
    assert "--num-dev 0: removed data/dev of an earlier run" in proc.stderr
    assert not (recipe / "data/dev").exists() and not (recipe / "data/wav/dev").exists()
    assert sorted(p.name for p in (recipe / "data/wav/train").iterdir()) == \
        sorted(Path(w).name for w in read_table(recipe / "data/train/wav.scp").values())
    assert len(read_table(recipe / "data/train/wav.scp")) == 5


def test_fsdd_negative_set_sizes_are_errors(recipe_dir, fsdd_root):
    """--num-train -1 was taken as 0 ("no such set"): stage 0 removed data/train and exited 0."""
    recipe = recipe_dir("fsdd")
    base = ["./run.sh", "--fsdd-root", str(fsdd_root), "--an4-words", "none", "--init-listener", "",
            "--num-train", "4", "--num-dev", "2", "--num-test", "2", "--stop-stage", "0"]
    for opt in ("--num-train", "--num-dev", "--num-test"):
        proc = run_sh(base + [opt, "-1"], cwd=recipe, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.rstrip().splitlines()[-1] == f"make_connected_digits.py: ERROR: {opt} -1: must be 0 (no such set) or more"
        assert not (recipe / "data/wav").exists()


@pytest.mark.parametrize("opt", ["--num-train", "--num-dev", "--num-test"])
def test_run_sh_empty_set_is_an_error_before_stage_0(recipe_dir, fsdd_root, opt):
    """run.sh --num-test 0: stage 0 removed data/test (local/data.sh's "no such set") with exit 0,
    and stage 1 then stopped at "no data/test ...: run stage 0 first"."""
    recipe = recipe_dir("fsdd")
    base = ["./run.sh", "--fsdd-root", str(fsdd_root), "--an4-words", "none", "--init-listener", "",
            "--num-train", "4", "--num-dev", "2", "--num-test", "2", "--stop-stage", "1"]
    proc = run_sh(base + [opt, "0"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1] == (
        f"./run.sh: ERROR: {opt} 0: run.sh's stages need data/{opt[6:]}: give 1 or more (local/data.sh {opt} 0 "
        "makes no such set)"), proc.stderr
    assert not (recipe / "data").exists()


@pytest.mark.parametrize("opt, what", [("--an4-digit-words", "none"), ("--pretrain-max-utts", "all of AN4")])
def test_fsdd_negative_an4_counts_are_errors(recipe_dir, fsdd_root, opt, what):
    """--an4-digit-words -3 cut no AN4 digit words and combined data/train alone into a training
    set named train_cut-3, with exit 0; --pretrain-max-utts -3 is refused before stage 0, not hours
    later by local/pretrain_an4.sh before stage 4."""
    recipe = recipe_dir("fsdd")
    proc = run_sh(["./run.sh", "--fsdd-root", str(fsdd_root), "--an4-words", "none", "--init-listener", "",
                   "--num-train", "4", "--num-dev", "2", "--num-test", "2", opt, "-3",
                   "--stop-stage", "0"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1] == f"./run.sh: ERROR: {opt} must be 0 ({what}) or more, got -3"
    assert not (recipe / "data").exists()


def test_make_noise_bad_out_or_length_is_one_line(recipe_dir, tmp_path):
    """local/make_noise.py: an --out that is a file or lies under one was an OSError traceback, a
    --seconds of nan a ValueError traceback, a huge one numpy's allocation error."""
    recipe = recipe_dir("fsdd")
    afile = tmp_path / "afile"
    afile.write_text("")
    for args, message in ((["--out", str(afile)], f"{afile} is a file, not a directory"),
                          (["--out", str(afile / "x")], f"{afile} is a file, not a directory"),
                          (["--out", str(tmp_path / "n"), "--seconds", "nan"], "got 8000, nan, 3"),
                          (["--out", str(tmp_path / "n"), "--seconds", "1e12"], "got 8000, 1000000000000.0, 3")):
        proc = run_sh(f". ./path.sh && local/make_noise.py {shlex.join(args)}", cwd=recipe, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.rstrip().splitlines()[-1].startswith("local/make_noise.py: ERROR: ") and message in proc.stderr
    assert not (tmp_path / "n").exists()
    run_sh(f". ./path.sh && local/make_noise.py --out {shlex.quote(str(tmp_path / 'n'))} --seconds 0.1 --takes 1", cwd=recipe)
    assert len((tmp_path / "n/wav.scp").read_text().splitlines()) == 6


def test_recipe_dir_refuses_the_recipe_itself_or_a_folder_above_it(recipe_dir, tmp_path, fsdd_root):
    """local/recipe_dir.sh . (or the recipe's path, or ..) linked the recipe's files into it, and
    local/pretrain_an4.sh --dir . then wrote its data/train and data/dev over the recipe's own;
    an empty <dir> was mkdir's "cannot create directory ''"; one named '-x' was taken for cd's options."""
    recipe = recipe_dir("fsdd")
    for d, shown in (("", "<dir> is empty"), (".", ". is the recipe directory"),
                     (str(recipe), f"{recipe} is the recipe directory"), ("..", ".. is the recipe directory")):
        proc = run_sh(["local/recipe_dir.sh", d], cwd=recipe, check=False)
        assert proc.returncode == 1 and proc.stderr.startswith(f"local/recipe_dir.sh: ERROR: {shown}"), proc.stderr
    assert not any(p.is_symlink() for p in recipe.parent.iterdir())  # nothing linked into egs/fsdd
    proc = run_sh(["local/pretrain_an4.sh", "--dir", ".", "--an4-root", str(tmp_path / "nowhere")], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        "local/pretrain_an4.sh: ERROR: --dir '.': not a folder of the pretraining's own (above)"), proc.stderr
    assert not (recipe / "data").exists()
    # A folder of its own, made again as it is; also one named with a leading '-' (or '-'), which
    # cd took for its options (or $OLDPWD): the second run was "cd: -x: invalid option", exit 2.
    for d in ("loso/theo", "-x", "-"):
        run_sh(["local/recipe_dir.sh", d], cwd=recipe)
        run_sh(["local/recipe_dir.sh", d], cwd=recipe)
        assert (recipe / d / "run.sh").is_symlink() and (recipe / d / "path.sh").is_file()
    # ...and the scripts that pass a --dir on to it: pretrain_an4.sh's `cd "$dir"` and loso.sh's
    # dirname, mkdir and cd of its folds took '-x' for their options too (cd '-' for $OLDPWD), so
    # they never got past it; they now reach their own errors.
    for d in ("-x", "-"):
        proc = run_sh(["local/pretrain_an4.sh", "--dir", d, "--an4-root", str(tmp_path / "nowhere")], cwd=recipe,
                      check=False)
        assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
            f"local/an4_data.sh: ERROR: --an4-root {tmp_path / 'nowhere'}: expected etc/ and wav/ there"), proc.stderr
    for _ in range(2):
        proc = run_sh(["local/loso.sh", "--fsdd-root", str(fsdd_root), "--speakers", "george", *STOPS_AT_STAGE_0,
                       "--dir", "-x"], cwd=recipe, check=False)
        assert proc.stderr.rstrip().splitlines()[-2:] == [
            "make_connected_digits.py: ERROR: --speed-factors 'bogus': expected numbers, e.g. 0.9,1.0,1.1",
            "local/loso.sh: ERROR: fold george: stage 0 failed"], proc.stderr
    assert (recipe / "-x/george/loso_data_options").is_file()


def test_fsdd_unreadable_recordings_folder_is_one_line(recipe_dir, fsdd_root, tmp_path):
    """recordings/ the user cannot list was a PermissionError traceback (an unreadable recording was already named)."""
    recipe = recipe_dir("fsdd")
    rec = small_fsdd(fsdd_root, tmp_path / "fsdd") / "recordings"
    rec.chmod(0)
    try:
        proc = run_sh(without_root_override(["local/data.sh", "--fsdd-root", str(rec.parent), "--test-speakers", "lucas"]),
                      cwd=recipe, check=False)
    finally:
        rec.chmod(0o755)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1] == f"make_connected_digits.py: ERROR: {rec}: cannot read: Permission denied"


def test_fsdd_bad_an4_resample_fails_before_stage_0(recipe_dir, fsdd_root):
    """--an4-resample ffmpeg was checked by local/an4_data.sh only after FSDD's audio was made (and
    never with --an4-words none)."""
    recipe = recipe_dir("fsdd")
    base = ["./run.sh", "--fsdd-root", str(fsdd_root), "--init-listener", "",
            "--num-train", "4", "--num-dev", "2", "--num-test", "2", "--stop-stage", "0"]
    for words in ("none", "digits"):
        proc = run_sh(base + ["--an4-words", words, "--an4-resample", "ffmpeg"], cwd=recipe, check=False)
        assert proc.returncode == 1 and "./run.sh: ERROR: --an4-resample must be none or sox, got 'ffmpeg'" in proc.stderr
        assert not (recipe / "data").exists()


def test_a_decode_config_that_decode_args_make_valid_passes_with_adaptation(recipe_dir):
    """Stage 5's asrkit-adapt-speakers (run.sh's default --adapt-speakers true) reads the decoding
    passes' options, --decode-args resolved in (exp/<tag>/final_decode.yaml): 'nbest: 20' under
    --decode-args '--beam 30' was refused before stage 0 as the adaptation's, checked without them.
    (The adaptation with such options: tests/recipes/test_recipe_results_md.py.)"""
    recipe = recipe_dir("fsdd")
    (recipe / "nbest.yaml").write_text("nbest: 20\n")
    base = ["./asr.sh", "--stage", "1", "--stop-stage", "0", "--train-set", "train", "--valid-set", "dev",
            "--adapt-speakers", "true", "--decode-config", "nbest.yaml"]
    run_sh(base + ["--decode-args", "--beam 30"], cwd=recipe)
    # (without them the decoding passes' own check refuses it, naming the line)
    proc = run_sh(base, cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        "asr.sh: ERROR: --decode-config: nbest.yaml:1: nbest must be in [1, beam], got 20"), proc.stderr


def test_run_sh_without_an4_says_how_to_go_on(recipe_dir, fsdd_root, tmp_path):
    """No --an4-root and AN4 not downloadable (no wget here; offline alike): the download's error,
    then what to give instead; it ended at the download helper's 're-run to resume', which no
    re-run offline could follow."""
    recipe = recipe_dir("fsdd")
    corpus = small_fsdd(fsdd_root, tmp_path / "fsdd")
    proc = run_sh(["./run.sh", "--fsdd-root", str(corpus), "--test-speakers", "lucas", "--dev-takes", "1",
                   "--num-train", "4", "--num-dev", "2", "--num-test", "2", "--stop-stage", "0"], cwd=recipe,
                  check=False, env={"PATH": path_without({"wget"}, tmp_path / "path")})
    assert proc.returncode == 1
    assert proc.stderr.rstrip().splitlines()[-1] == (
        './run.sh: ERROR: stage 0: AN4 (for --an4-words digits) could not be downloaded (above): give --an4-root '
        'DIR (a copy of AN4), or --an4-words none --init-listener "" to train on FSDD alone'), proc.stderr


def test_fsdd_recordings_of_other_rates_and_channels_are_converted(recipe_dir, fsdd_root, tmp_path):
    """Another person's recordings at 16 or 44.1 kHz, stereo, 24-bit, among 8 kHz mono ones: read
    with asrkit's reader, resampled to 8 kHz and averaged to mono, with one warning and a count
    (each stopped stage 0: 'expected 8 kHz 16-bit mono')."""
    require_program("sox")
    recipe = recipe_dir("fsdd")
    corpus = small_fsdd(fsdd_root, tmp_path / "fsdd")
    rec = corpus / "recordings"
    for name, opts in (("3_lucas_1.wav", ["-r", "44100", "-c", "2", "-b", "24"]), ("4_lucas_1.wav", ["-r", "16000"]),
                       ("5_lucas_1.wav", ["-c", "2"])):
        src = tmp_path / name
        (rec / name).rename(src)
        subprocess.run(["sox", str(src), *opts, str(rec / name)], check=True)
    proc = run_sh(["local/data.sh", "--fsdd-root", str(corpus), "--test-speakers", "lucas", "--dev-takes", "1",
                   "--num-train", "4", "--num-dev", "2", "--num-test", "40"], cwd=recipe)
    assert re.search(r"WARNING: 3 recording\(s\) not 8 kHz mono, converted: 3_lucas_1.wav \(2 channels, 44100 Hz\), "
                     r"4_lucas_1.wav \(16000 Hz\), 5_lucas_1.wav \(2 channels\)", proc.stderr), proc.stderr
    check_ctm_against_audio(recipe / "data", "test")


@pytest.mark.slow
def test_init_listener_with_a_space_in_its_path_fine_tunes(recipe_dir, fsdd_root, tmp_path):
    """--train-args, which carries --init-listener's model to asrkit-train, is split at spaces: a
    model under a folder with a space in its name failed at stage 4 with asrkit-train's 'Got
    unexpected extra argument', then with a one-line error; now run.sh names it through a link in
    exp/ (one per model path) and stage 4 starts from it."""
    recipe = recipe_dir("fsdd")
    fsdd = fsdd_slice(fsdd_root, tmp_path / "fsdd")
    args = ["./run.sh", "--fsdd-root", str(fsdd), "--an4-words", "none", "--num-train", "6", "--num-dev", "2",
            "--num-test", "2", "--nj", "1", "--num-avg", "0", "--stop-stage", "4", "--train-args", TINY]
    run_sh(args + ["--init-listener", "", "--tag", "a"], cwd=recipe, timeout=900)
    model = tmp_path / "my models/m.pt"
    model.parent.mkdir()
    shutil.copy(recipe / "exp/a/model.pt", model)
    # (--stage 4: the data and features of tag a's run are the same; stage 0 again would remake both)
    proc = run_sh(args + ["--init-listener", str(model), "--tag", "b", "--stage", "4"], cwd=recipe, timeout=900)
    links = list((recipe / "exp").glob("init_listener.*.pt"))
    assert len(links) == 1 and links[0].resolve() == model.resolve()
    link = f"exp/{links[0].name}"
    assert f"--init-listener {model}: a path with a space in it, named {link} (a link to it)" in proc.stderr
    log = (recipe / "exp/b/log/train.log").read_text()
    assert re.search(rf"--init {re.escape(link)}: \d+ tensors .* taken: listener", log), log[-2000:]
    # another model is another link, so stage 4 of another tag is not the first model's
    other = tmp_path / "my models/n.pt"
    shutil.copy(model, other)
    run_sh(args + ["--init-listener", str(other), "--stop-stage", "0"], cwd=recipe)
    assert len(list((recipe / "exp").glob("init_listener.*.pt"))) == 2