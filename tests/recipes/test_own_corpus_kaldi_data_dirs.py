"""Kaldi data dirs made elsewhere (README.md's "Kaldi data dirs you already have"), put at a new
recipe's data/ and run from --stage 1, as docs/recipes.md says."""
from __future__ import annotations

import subprocess

from recipe_helpers import new_recipe, read_table, run_sh
from user_corpus import an4_recordings


def _data_dir(d, recordings):
    # another toolkit's data prep: speaker-prefixed ids, upper-case words with punctuation
    d.mkdir(parents=True)
    rows = sorted((f"{spk}-{wav.stem}", spk, wav, words) for wav, spk, words in recordings)
    (d / "wav.scp").write_text("".join(f"{u} {wav}\n" for u, _, wav, _ in rows))
    (d / "text").write_text("".join(f"{u} {w.replace(' ', ', ')}.\n" for u, _, _, w in rows))
    (d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s, _, _ in rows))
    spk2utt = {}
    for u, s, _, _ in rows:
        spk2utt.setdefault(s, []).append(u)
    (d / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items())))


def test_train_and_test_only_is_told_how_to_hold_out_a_dev_set(tmp_path, an4_root):
    # 'no data/dev (...): run stage 0 first, or check the set names': no stage 0 to run, and
    # nothing of where a validation set comes from.
    recipe = new_recipe(tmp_path)
    _data_dir(recipe / "data" / "train", an4_recordings(an4_root, 20))
    _data_dir(recipe / "data" / "test", an4_recordings(an4_root, 3, "test"))
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1"], cwd=recipe, check=False)
    assert proc.returncode == 1
    assert ("no data/dev (--train-set, --valid-set, --test-sets): run stage 0 first, or check the set names; "
            "data dirs made elsewhere without a validation set: hold one out of data/train") in proc.stderr
    # docs/recipes.md's three lines, as written there (data/train in place of the copy's cp)
    (recipe / "data" / "train").rename(recipe / "data" / "train_all")
    subprocess.run(["bash", "-c", ". ./path.sh; "
                    "asrkit-holdout-lists --dev-fraction 0.05 --test-fraction 0 data/train_all data/local\n"
                    "for set in train dev; do utils/subset_data_dir.sh --utt-list data/local/$set.list "
                    "data/train_all data/$set; done"], cwd=recipe, check=True)
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1"], cwd=recipe)
    assert len(read_table(recipe / "dump" / "dev" / "feats.scp")) == 1
    assert len(read_table(recipe / "dump" / "train" / "feats.scp")) == 19
    # stage 1's check says what the text's punctuation would do
    assert "data/train/text:1: 19 of 19 transcripts hold punctuation" in proc.stderr
