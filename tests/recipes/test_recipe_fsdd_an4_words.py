"""FSDD recipe: AN4's digit words cut at aligned times (local/an4_digit_words.py) and joined into
connected-digit utterances of AN4's voices (make_connected_digits.py --all-train), on real AN4
recordings."""
from __future__ import annotations

import shlex
import wave
from pathlib import Path

import numpy as np

from recipe_helpers import read_table, run_sh


def q(*paths) -> str:
    """Paths as shell words, for the command lines below (TMPDIR may hold a space)."""
    return " ".join(shlex.quote(str(p)) for p in paths)

DIGITS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"]


def an4_dir(an4_root: Path, root: Path) -> Path:
    """Two real AN4 utterances by two speakers as a data dir (16 kHz paths, as an4_data.sh writes)."""
    d = root / "an4"
    d.mkdir()
    wav = an4_root / "wav/an4_clstk"
    (d / "wav.scp").write_text(f"an4_fbbh-cen6-b {wav}/fbbh/cen6-fbbh-b.wav\nan4_fash-cen7-b {wav}/fash/cen7-fash-b.wav\n")
    (d / "utt2spk").write_text("an4_fbbh-cen6-b an4_fbbh\nan4_fash-cen7-b an4_fash\n")
    return d


def frames(path: Path) -> int:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.getnframes()


def test_digit_words_cut_at_the_aligned_times_then_joined(recipe_dir, an4_root, tmp_path):
    recipe = recipe_dir("fsdd")
    data = an4_dir(an4_root, tmp_path)
    ctm = tmp_path / "align.ctm"
    # Hand-made times: a digit between two words is cut to the midpoints of the gaps when the
    # padding would reach into its neighbours; a doubtful word is left out; OH is digit 0.
    ctm.write_text("an4_fbbh-cen6-b 1 0.300 0.300 ONE 0.90\n"
                   "an4_fbbh-cen6-b 1 0.620 0.300 FIVE 0.90\n"
                   "an4_fbbh-cen6-b 1 1.000 0.200 OH 0.90\n"
                   "an4_fbbh-cen6-b 1 1.400 0.300 FOUR 0.10\n"
                   "an4_fash-cen7-b 1 0.500 0.250 ENTER 0.90\n"
                   "an4_fash-cen7-b 1 0.900 0.300 TWO 0.80\n")
    proc = run_sh(f". ./path.sh && local/an4_digit_words.py --pad 0.05 {q(data, ctm, tmp_path / 'words')}", cwd=recipe)
    assert "4 digit words; left out 1 doubtful" in proc.stderr, proc.stderr
    rec = tmp_path / "words/recordings"
    assert sorted(p.name for p in rec.iterdir()) == ["0_an4-fbbh_0.wav", "1_an4-fbbh_0.wav", "2_an4-fash_0.wav",
                                                      "5_an4-fbbh_0.wav"]
    # ONE: 0.25 (pad) .. 0.61 (midpoint to FIVE's 0.62); FIVE: 0.61 .. 0.96 (midpoint to OH's 1.0);
    # OH: 0.96 .. 1.25 (pad: FOUR starts at 1.4); TWO: 0.85 (pad: ENTER ends at 0.75) .. 1.25.
    for name, seconds in [("1_an4-fbbh_0", 0.36), ("5_an4-fbbh_0", 0.35), ("0_an4-fbbh_0", 0.29), ("2_an4-fash_0", 0.40)]:
        assert abs(frames(rec / f"{name}.wav") - seconds * 8000) <= 2, name
    # The cut is the recording's own audio, resampled: not silence.
    with wave.open(str(rec / "5_an4-fbbh_0.wav")) as w:
        assert np.abs(np.frombuffer(w.readframes(w.getnframes()), "<i2")).max() > 300

    proc = run_sh(". ./path.sh && local/make_connected_digits.py --all-train --num-train 20 --seed 3 "
                  f"--speed-factors 0.9,1.1 {q(tmp_path / 'words', tmp_path / 'out', tmp_path / 'out/wav')}", cwd=recipe)
    assert not (tmp_path / "out/dev").exists() and not (tmp_path / "out/test").exists()
    text = read_table(tmp_path / "out/train/text")
    spk = read_table(tmp_path / "out/train/utt2spk")
    assert len(text) == 20 and set(spk.values()) == {"an4-fbbh", "an4-fash"}
    said = {"an4-fbbh": {"ZERO", "ONE", "FIVE"}, "an4-fash": {"TWO"}}
    assert all(set(text[u].split()) <= said[spk[u]] for u in text)  # only the digits each voice said
    run_sh(f". ./path.sh && asrkit-validate-data-dir --no-feats {q(tmp_path / 'out/train')}", cwd=recipe)


def test_digit_words_bad_inputs_are_one_line_errors(recipe_dir, an4_root, tmp_path):
    recipe = recipe_dir("fsdd")
    data = an4_dir(an4_root, tmp_path)
    bad = tmp_path / "bad.ctm"
    bad.write_text("an4_fbbh-cen6-b 1 0.300 0.300 ONE 0.90\nan4_fbbh-cen6-b 1 zero 0.3 FIVE\n")
    proc = run_sh(f". ./path.sh && local/an4_digit_words.py {q(data, bad, tmp_path / 'w')}", cwd=recipe, check=False)
    assert proc.returncode == 1 and (f"{bad}:2: expected '<utt> <channel> <start> <duration> <word> [<confidence>]' with numbers for the "
                                    f"times, got 'an4_fbbh-cen6-b 1 zero 0.3 FIVE'") in proc.stderr
    assert "Traceback" not in proc.stderr
    none = tmp_path / "none.ctm"
    none.write_text("an4_fash-cen7-b 1 0.500 0.250 ENTER 0.90\n")
    proc = run_sh(f". ./path.sh && local/an4_digit_words.py {q(data, none, tmp_path / 'w')}", cwd=recipe, check=False)
    assert proc.returncode == 1 and "no digit word cut" in proc.stderr
    # Every digit word doubtful: a weak aligner's CTM (a --pretrain-max-utts trial's aligner left
    # 85 % of AN4's out), said as such, not as a CTM of other utterances.
    weak = tmp_path / "weak.ctm"
    weak.write_text("an4_fbbh-cen6-b 1 0.300 0.300 ONE 0.20\nan4_fash-cen7-b 1 0.900 0.300 TWO 0.10\n")
    proc = run_sh(f". ./path.sh && local/an4_digit_words.py {q(data, weak, tmp_path / 'w')}", cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        f"an4_digit_words.py: ERROR: {weak}: no digit word cut: all 2 were aligned with a confidence under --min-conf "
        "0.5, or too short: the aligner is too weak for them (one trained on a few utterances, as run.sh "
        "--pretrain-max-utts N trains it?)"), proc.stderr
    for args, message in [(["--an4-digit-words", "many"], "option --an4-digit-words takes an integer, got 'many'"),
                          (["--an4-digit-words", "10", "--an4-aligner", "nope.pt"], "--an4-aligner nope.pt: no such file")]:
        proc = run_sh(["./run.sh", "--fsdd-root", "x", *args], cwd=recipe, check=False)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr


def test_loso_cuts_every_fold_with_one_aligner(recipe_dir, fsdd_root):
    """local/loso.sh --an4-digit-words: one aligner, <dir>/pretrain_an4/exp/an4_align, made once
    and given to every fold (a fold of its own would train it again); a given one is used as is."""
    recipe = recipe_dir("fsdd")
    proc = run_sh(["local/loso.sh", "--fsdd-root", str(fsdd_root), "--dry-run", "true", "--speakers", "george theo",
                   "--an4-digit-words", "100", "--nj", "1", "--seed", "3"], cwd=recipe)
    pretraining, aligner, *lines = proc.stdout.splitlines()
    assert len(lines) == 4 and pretraining.startswith("pretraining: ")
    # made first, with the folds' feature jobs and seed (it ran 2 jobs a set, and seed 1, whatever they were)
    words = shlex.split(aligner)
    assert words[:-1] == ["aligner:", "local/pretrain_an4.sh", "--dir", "loso/pretrain_an4", "--tag", "an4_align",
                          "--train-config", "conf/align_an4.yaml", "--nj", "1", "--seed", "3", "->"], aligner
    assert Path(words[-1]).resolve() == recipe.resolve() / "loso/pretrain_an4/exp/an4_align/pretrained.pt", aligner
    for line in lines:
        assert "--an4-digit-words 100" in line
        # one shell word (the dry run quotes a path with a space in it)
        words = shlex.split(line)
        assert words[words.index("--an4-aligner") + 1] in (f"{recipe}/loso/pretrain_an4/exp/an4_align/pretrained.pt",
                                                           f"{recipe.resolve()}/loso/pretrain_an4/exp/an4_align/pretrained.pt"), line
    mine = recipe / "mine.pt"
    mine.write_bytes(b"")
    proc = run_sh(["local/loso.sh", "--fsdd-root", str(fsdd_root), "--dry-run", "true", "--speakers", "george",
                   "--an4-digit-words", "100", "--an4-aligner", "mine.pt"], cwd=recipe)
    assert "aligner: " not in proc.stdout
    for line in proc.stdout.splitlines()[1:]:  # (the pretraining's, then the fold's)
        words = shlex.split(line)
        assert words[words.index("--an4-aligner") + 1] == f"{recipe}/mine.pt" and "an4_align" not in line, line
    proc = run_sh(["local/loso.sh", "--fsdd-root", str(fsdd_root), "--dry-run", "true", "--speakers", "george"], cwd=recipe)
    assert "--an4-aligner" not in proc.stdout
    assert not (recipe / "loso").exists()  # nothing made
