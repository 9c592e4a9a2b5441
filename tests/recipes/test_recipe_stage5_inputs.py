"""asr.sh stage 5 run on its own (--stage 5) after what it decodes with changed: it must not
decode with, or call done already, an output made from other inputs."""
from __future__ import annotations

import subprocess

import pytest

from recipe_helpers import REPO, run_sh


def test_stage_5_refuses_an_lm_of_another_config(yesno_stage2):
    recipe = yesno_stage2  # (./run.sh --yesno-root <yesno_root> --stop-stage 2 --nj 1)
    # What stage 5 checks first, without the minutes of stage 4: the test set's features (stage 1's,
    # shared) and a model (not one: packing it fails, after the check this is about).
    (recipe / "exp/train_char").mkdir(parents=True)
    (recipe / "exp/train_char/model.pt").write_bytes(b"not a model")
    # No LM yet: --stage 5 packed final.pt and failed in every decoding job ("no such LM file"), and
    # --stage 4 (another tag) so only after its training.
    for stages in (["--stage", "5"], ["--stage", "4", "--tag", "new", "--train-args", "--set training.max_epochs=1"]):
        proc = run_sh(["./run.sh", *stages, "--use-lm", "true"], cwd=recipe, check=False)
        assert proc.returncode == 1 and proc.stderr.endswith(
            "asr.sh: ERROR: no exp/lm_lang_char/lm.pt (--use-lm true, --token-type char): run stage 3 first "
            "(it trains the LM), or decode without --use-lm\n"), proc.stderr[-3000:]
    assert not (recipe / "exp/new").exists() and not (recipe / "exp/train_char/final.pt").exists()
    proc = run_sh(["./run.sh", "--stage", "2", "--stop-stage", "3", "--use-lm", "true"], cwd=recipe)
    assert (recipe / "exp/lm_lang_char/lm.pt").is_file(), proc.stderr[-2000:]
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


@pytest.mark.slow
def test_stages_4_and_5_refuse_features_of_data_changed_since(yesno_stage2):
    recipe = yesno_stage2  # (./run.sh --yesno-root <yesno_root> --stop-stage 2 --nj 1)
    (recipe / "exp/train_char").mkdir(parents=True)
    (recipe / "exp/train_char/model.pt").write_bytes(b"not a model")
    # Unchanged: past the check (to the model that is not one).
    proc = run_sh(["./run.sh", "--stage", "5"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "pack_model.log" in proc.stderr and "changed since" not in proc.stderr, \
        proc.stderr[-3000:]
    # A test transcript fixed: its features are still the audio's, and stage 6 scores against
    # data/test/text itself; stage 5 refused, asking for stage 1 (fbank made again) for nothing.
    text = recipe / "data/test/text"
    text.write_text(text.read_text().replace("YES", "NO", 1))
    proc = run_sh(["./run.sh", "--stage", "5"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "pack_model.log" in proc.stderr and "changed since" not in proc.stderr, \
        proc.stderr[-3000:]
    # data/test made again smaller (as stage 0 with another split does): its old features were
    # decoded and scored against the new references.
    for table in ("text", "utt2spk", "wav.scp"):
        path = recipe / "data/test" / table
        path.write_text("".join(path.read_text().splitlines(keepends=True)[2:]))
    run_sh("utils/utt2spk_to_spk2utt.sh data/test/utt2spk > data/test/spk2utt", cwd=recipe)
    proc = run_sh(["./run.sh", "--stage", "5"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "asr.sh: ERROR: stage 5: data/test changed since dump/test was made from it " \
        "(stage 0 run again?): run stage 1 again (--stage 1)" in proc.stderr, proc.stderr[-3000:]
    assert "pack_model" not in proc.stderr
    # A transcript of the training set fixed: trained on the old one.
    text = recipe / "data/train_nodev/text"
    text.write_text(text.read_text().replace("YES", "NO", 1))
    proc = run_sh(["./run.sh", "--stage", "4", "--stop-stage", "4", "--tag", "new"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "asr.sh: ERROR: stage 4: data/train_nodev changed since dump/train_nodev was " \
        "made from it" in proc.stderr, proc.stderr[-3000:]
    assert not (recipe / "exp/new/log/train.log").exists()
    # Stage 1 again makes them anew, and the check passes. (--nj 1: one feature job a set, a
    # process that imports torch; the check reads the data tables, not the split)
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1"], cwd=recipe)
    proc = run_sh(["./run.sh", "--stage", "5"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "changed since" not in proc.stderr and "pack_model.log" in proc.stderr


def test_a_decoding_in_other_pieces_leaves_no_stale_split(tmp_path):
    """Stage 5 again with another --nj left the earlier decoding's decode_<set>/split4/ beside the
    new split2/: hypotheses of an older model or options, under the same names, that nothing
    merges. decode_pass (run here with a launcher that writes each piece's outputs) removes them.
    So it does this --nj's split2/ of the run before: asrkit-decode kept each piece's earlier
    log/decode.log as decode.log.<N>, one more for every run of stage 5 (Kaldi writes a job's log anew)."""
    (tmp_path / "dump/test").mkdir(parents=True)
    (tmp_path / "dump/test/utt2spk").write_text("u1 s\nu2 s\n")
    stale = tmp_path / "dec/split4/3"
    stale.mkdir(parents=True)
    (stale / "text").write_text("u1 AN OLD HYPOTHESIS\n")
    earlier = tmp_path / "dec/split2/1/log"
    earlier.mkdir(parents=True)
    (earlier / "decode.log").write_text("the run before\n")
    (earlier / "decode.log.1").write_text("the run before that\n")
    (tmp_path / "dec/splitting.txt").write_text("a user's file\n")
    (tmp_path / "dec/split_by_speaker").mkdir()  # (and a folder of the user's: not another --nj's)
    script = r"""set -euo pipefail
die() { echo "asr.sh: ERROR: $*" >&2; exit 1; }
run() { shift; "$@"; }
pieces() { echo 2; }
warnings() { :; }
asrkit-split-data-dir() { :; }
# JOB=1:N <log> asrkit-decode ... --output-dir <dir>/splitN/JOB: each piece's text and nbest.jsonl
fake_launch() {
  local n=${3#JOB=1:} out j; shift 4
  while [ "$1" != --output-dir ]; do shift; done; out=$2
  for j in $(seq "$n"); do mkdir -p "${out//JOB/$j}"; echo "u$j HYP" > "${out//JOB/$j}/text"; : > "${out//JOB/$j}/nbest.jsonl"; done
}
decode_cmd=fake_launch decode_ngpu=0 dumpdir=dump model=m.pt decode_config=d.yaml decode_args=
lm_opts=() device_opts=()
eval "$(sed -n '/^decode_pass() {/,/^}/p' ASR_SH)"
decode_pass test dec
""".replace("ASR_SH", str(REPO / "egs/TEMPLATE/asr1/asr.sh"))
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "dec/text").read_text() == "u1 HYP\nu2 HYP\n"
    assert sorted(p.name for p in (tmp_path / "dec").iterdir()) == ["log", "nbest.jsonl", "split2", "split_by_speaker",
                                                                    "splitting.txt", "text"]
    assert sorted(p.name for p in (tmp_path / "dec/split2/1").iterdir()) == ["nbest.jsonl", "text"]
