"""Valid but unusual own corpora through egs/TEMPLATE/asr1 (README.md's "Your own corpus"): each
case here was refused or mangled once, and must run as a user would expect."""
from __future__ import annotations

import shutil

from recipe_helpers import DIGITS, new_recipe, read_table, run_sh, stereo_digits_corpus


def test_a_corpus_folder_whose_name_starts_with_a_dash(tmp_path, fsdd_root):
    """./run.sh --corpus-root -2024-digits (a relative folder): local/data.sh passed the path on as
    it was, and asrkit-make-data-dir took '-2024-digits/prompts.txt' for an option ("No such
    option '-2'"); --dev-list / --test-list files named so went the same way."""
    recipe = new_recipe(tmp_path)
    corpus = recipe / "-2024-digits"
    (corpus / "wav").mkdir(parents=True)
    lines = []
    for i in range(10):
        shutil.copy(fsdd_root / "recordings" / f"{i}_theo_1.wav", corpus / "wav" / f"t{i}.wav")
        lines.append(f"t{i} {DIGITS[i]}\n")
    (corpus / "prompts.txt").write_text("".join(lines))
    (recipe / "-dev.list").write_text("mine-t3\n")
    proc = run_sh(["local/data.sh", "--corpus-root", "-2024-digits", "--audio-subdir", "wav",
                   "--transcripts", "prompts.txt", "--dev-list", "-dev.list", "--test-fraction", "0.1"],
                  cwd=recipe, check=False)
    assert proc.returncode == 0, proc.stderr
    text = read_table(recipe / "data/all/text")
    assert text == {f"mine-t{i}": DIGITS[i] for i in range(10)}
    assert list(read_table(recipe / "data/dev/text")) == ["mine-t3"]
    assert (recipe / "data/stage0_options").read_text() == f"corpus-root={corpus}\n"


def test_a_stereo_corpus_with_the_speaker_on_one_channel(tmp_path, fsdd_root):
    """local/data.sh --channel 1: the speaker's side of each stereo file, not the average of both
    sides (asrkit-make-data-dir --channel)."""
    from debian_packages import require_program

    require_program("sox")
    recipe = new_recipe(tmp_path)
    stereo_digits_corpus(recipe, fsdd_root, ".wav")
    proc = run_sh(["local/data.sh", "--corpus-root", "stereo", "--transcripts", "prompts.txt", "--channel", "1"],
                  cwd=recipe, check=False)
    assert proc.returncode == 0, proc.stderr
    wav = read_table(recipe / "data/all/wav.scp")
    assert len(wav) == 10 and all(v.endswith(" -t wav -b 16 - remix 2 |") for v in wav.values()), wav
