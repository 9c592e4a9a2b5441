"""What a recipe stage left unfinished (killed, failed, or made for other inputs) is never taken as
done by a later stage run on its own."""
from __future__ import annotations

from recipe_helpers import run_sh

UTTS = [f"yesno-{i:02d}" for i in range(20)]


def test_stage_6_scores_only_a_finished_decoding(recipe_dir):
    """A stage 5 killed (or failed) while merging its pieces leaves decode_<set>/text short of
    utterances and no .done: './run.sh --stage 6' scored it, the missing ones as deletions within
    Kaldi's 5 %, and added the row to RESULTS.md as the model's result. Likewise a decoding of the
    model from before stage 4 was run again (which removes the decodings' .done)."""
    recipe = recipe_dir("yesno")
    (recipe / "data/test").mkdir(parents=True)
    (recipe / "data/test/text").write_text("".join(f"{u} YES NO\n" for u in UTTS))
    (recipe / "data/test/utt2spk").write_text("".join(f"{u} yesno\n" for u in UTTS))
    dec = recipe / "exp/train_char/decode_test_decode"
    dec.mkdir(parents=True)
    (dec / "text").write_text("".join(f"{u} YES NO\n" for u in UTTS[:19]))  # cut short by the kill
    stage6 = ["./run.sh", "--stage", "6"]
    proc = run_sh(stage6, cwd=recipe, check=False)
    assert proc.returncode != 0 and f"stage 6: {dec.relative_to(recipe)}/text is not a finished decoding" in proc.stderr
    assert "run stage 5 again" in proc.stderr and not (recipe / "RESULTS.md").exists()
    (dec / ".done").write_text("decoded with other options\n")
    assert run_sh(stage6, cwd=recipe, check=False).returncode != 0 and not (recipe / "RESULTS.md").exists()
    # An empty marker is one from before markers recorded their inputs: trusted, as stage 5 does.
    (dec / ".done").write_text("")
    (dec / "text").write_text("".join(f"{u} YES NO\n" for u in UTTS))
    run_sh(stage6, cwd=recipe)
    assert "| test | 0.00 | 0.00 |" in (recipe / "RESULTS.md").read_text()
