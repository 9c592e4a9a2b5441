"""asr.sh stage 5 run on its own (--stage 5) after what it decodes with changed: it must not
decode with, or call done already, an output made from other inputs."""
from __future__ import annotations

from recipe_helpers import run_sh


def test_stage_5_refuses_an_lm_of_another_config(recipe_dir, yesno_root):
    recipe = recipe_dir("yesno")
    run_sh(["./run.sh", "--yesno-root", str(yesno_root), "--stop-stage", "0"], cwd=recipe)
    proc = run_sh(["./run.sh", "--stage", "2", "--stop-stage", "3", "--use-lm", "true"], cwd=recipe)
    assert (recipe / "exp/lm_lang_char/lm.pt").is_file(), proc.stderr[-2000:]
    # What stage 5 checks first, without the minutes of stages 1 and 4: the test set's features
    # and a model (not one: packing it fails, after the check this is about).
    (recipe / "dump/test").mkdir(parents=True)
    (recipe / "dump/test/feats.scp").write_text("")
    (recipe / "exp/train_char").mkdir(parents=True)
    (recipe / "exp/train_char/model.pt").write_bytes(b"not a model")
    lm_yaml = (recipe / "conf/lm.yaml").read_text()
    (recipe / "lm_small.yaml").write_text(lm_yaml.replace("hidden: 32", "hidden: 24"))
    # Another LM config at --stage 5: the LM of conf/lm.yaml was decoded with, under the new name.
    proc = run_sh(["./run.sh", "--stage", "5", "--use-lm", "true", "--lm-config", "lm_small.yaml"], cwd=recipe,
                  check=False)
    assert proc.returncode == 1 and "asr.sh: ERROR: stage 5: exp/lm_lang_char was not trained from lm_small.yaml, " \
        "data/train_nodev/text and data/lang_char/tokens.txt as they are now" in proc.stderr, proc.stderr[-3000:]
    assert "pack_model" not in proc.stderr
    # The config it was trained with goes on to decode (here: to the model that is not one).
    proc = run_sh(["./run.sh", "--stage", "5", "--use-lm", "true"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "was not trained from" not in proc.stderr
    assert "stage 5 failed" in proc.stderr and "pack_model.log" in proc.stderr, proc.stderr[-3000:]
