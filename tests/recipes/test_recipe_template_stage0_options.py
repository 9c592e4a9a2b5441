"""A recipe made by egs/TEMPLATE/asr1/setup.sh, given one of local/data.sh's settings on
./run.sh's command line (asrkit-make-data-dir's own skip message says "to take it: --audio-ext
wav,flac,ogg"): asr.sh answered "unknown option --audio-ext", which sent the user to asr.sh's
--help, where it is not. run.sh now says whose setting it is and the two ways to give it."""
from __future__ import annotations

from recipe_helpers import new_recipe, run_sh


def test_a_local_data_sh_setting_given_to_run_sh_is_named_as_such(tmp_path):
    recipe = new_recipe(tmp_path)
    (tmp_path / "corpus").mkdir()
    for opt, value in (("--audio-ext", "wav,flac,ogg"), ("--transcripts", "prompts.txt"),
                       ("--speaker-from-dir", "true"), ("--max-skip-ratio", "0.2")):
        proc = run_sh(["./run.sh", "--corpus-root", str(tmp_path / "corpus"), opt, value, "--stop-stage", "0"],
                      cwd=recipe, check=False)
        assert proc.returncode == 1, (opt, proc.stderr)
        last = proc.stderr.strip().splitlines()[-1]
        name = opt[2:].replace("-", "_")
        assert last.startswith(f"./run.sh: ERROR: {opt} is a setting of stage 0's local/data.sh"), last
        assert f"set {name}= at the top of local/data.sh" in last and f"local/data.sh --corpus-root <dir> {opt}" in last
        assert not (recipe / "data").exists()


def test_asr_sh_options_of_the_same_name_still_pass_and_unknown_ones_still_fail(tmp_path):
    recipe = new_recipe(tmp_path)
    # --seed is both local/data.sh's (the held-out draw) and asr.sh's (training): asr.sh's, as before.
    proc = run_sh(["./run.sh", "--seed", "3", "--stage", "1", "--stop-stage", "0"], cwd=recipe, check=False)
    assert "local/data.sh" not in proc.stderr
    proc = run_sh(["./run.sh", "--no-such-thing", "1"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "unknown option --no-such-thing" in proc.stderr
