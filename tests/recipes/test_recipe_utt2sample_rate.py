"""asr.sh stage 1 writes dump/<set>/utt2sample_rate (each utterance's audio rate as read, before
--resample) beside utt2num_frames, for dumped features and for a raw training set alike: asrkit-train
records the rates it resampled up from in model.pt (docs/decoding.md). yesno's 8 kHz audio into a
16 kHz fbank config with --fbank-args --resample. Without it, a set at another rate than the config's
stops stage 1 before any set's features are made."""
from __future__ import annotations

import os
import subprocess

import pytest

from recipe_helpers import REPO, read_table, run_sh
from user_corpus import an4_recordings


@pytest.mark.parametrize("feats_type", ["fbank", "raw"])
def test_stage1_writes_utt2sample_rate(recipe_dir, yesno_root, feats_type):
    recipe = recipe_dir("yesno")
    # (beside run.sh, not in conf/: the copy's conf/ is the checkout's, linked)
    (recipe / "fbank16k.yaml").write_text("num_mel_bins: 23\nsample_frequency: 16000\n")
    # (--nj 1: one job a set, each job a process that imports torch; the rates do not depend on it)
    run_sh(["./run.sh", "--yesno-root", str(yesno_root), "--stop-stage", "1", "--fbank-config", "fbank16k.yaml",
            "--fbank-args", "--resample", "--feats-type", feats_type, "--nj", "1"], cwd=recipe, timeout=600)
    for name in ("train_nodev", "train_dev", "test"):
        dump = recipe / "dump" / name
        rates = read_table(dump / "utt2sample_rate")
        assert set(rates) == set(read_table(dump / "utt2num_frames")) == set(read_table(dump / "text")), name
        assert set(rates.values()) == {"8000"}, name


def test_a_test_set_at_another_rate_stops_stage1_before_any_features(recipe_dir, yesno_root, an4_root):
    """Stage 1 made the sets one at a time: data/test at 16 kHz for yesno's 8 kHz config failed only
    once the training and validation sets' features were made (hours on a large corpus). Every
    set's first utterance is now read with the run's feature options before any set's features."""
    recipe = recipe_dir("yesno")
    run_sh(["./run.sh", "--yesno-root", str(yesno_root), "--stop-stage", "0"], cwd=recipe)
    scp = recipe / "data/test/wav.scp"
    utts = list(read_table(scp))
    wavs = [w for w, _, _ in an4_recordings(an4_root, len(utts))]
    scp.write_text("".join(f"{u} {w}\n" for u, w in zip(utts, wavs)))
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1"], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.splitlines()[-1] == (
        f"asr.sh: ERROR: stage 1: data/test (checked before any set's features): utterance '{utts[0]}': sample rate "
        f"16000 Hz does not match the fbank config's sample_frequency 8000 Hz (add --resample to resample it, in a "
        f"recipe ./run.sh --fbank-args --resample; or set --sample-frequency 16000 if the corpus is all at 16000 Hz) "
        f"[data/test/wav.scp: {wavs[0]}]"), proc.stderr
    assert not list((recipe / "dump").glob("*/feats.scp")), "features were made before the check"


def test_the_rate_check_interrupted_leaves_no_temporary_folder(tmp_path):
    """A Ctrl-C during stage 1's check of each set's first utterance (check_first_rates) exited
    before its temporary folder was removed: one asr.sh.rate.* left in $TMPDIR per interrupted run."""
    (tmp_path / "data/test").mkdir(parents=True)
    (tmp_path / "data/test/wav.scp").write_text("u1 a.wav\n")
    (tmp_path / "tmp").mkdir()
    script = r"""set -euo pipefail
die() { echo "asr.sh: ERROR: $*" >&2; exit 1; }
stop_if_interrupted() { [ "$1" -eq 130 ] || return 0; exit 130; }
asrkit-compute-fbank() { return 130; }  # (as one stopped by Ctrl-C)
fbank_config=fbank.yaml fbank_args=
eval "$(sed -n '/^check_first_rates() {/,/^}/p' ASR_SH)"
check_first_rates test
""".replace("ASR_SH", str(REPO / "egs/TEMPLATE/asr1/asr.sh"))
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TMPDIR": str(tmp_path / "tmp")})
    assert proc.returncode == 130, proc.stderr
    assert list((tmp_path / "tmp").iterdir()) == []
