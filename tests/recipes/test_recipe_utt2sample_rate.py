"""asr.sh stage 1 writes dump/<set>/utt2sample_rate (each utterance's audio rate as read, before
--resample) beside utt2num_frames, for dumped features and for a raw training set alike: asrkit-train
records the rates it resampled up from in model.pt (docs/decoding.md). yesno's 8 kHz audio into a
16 kHz fbank config with --fbank-args --resample."""
from __future__ import annotations

import pytest

from recipe_helpers import read_table, run_sh


@pytest.mark.parametrize("feats_type", ["fbank", "raw"])
def test_stage1_writes_utt2sample_rate(recipe_dir, yesno_root, feats_type):
    recipe = recipe_dir("yesno")
    # (beside run.sh, not in conf/: the copy's conf/ is the checkout's, linked)
    (recipe / "fbank16k.yaml").write_text("num_mel_bins: 23\nsample_frequency: 16000\n")
    run_sh(["./run.sh", "--yesno-root", str(yesno_root), "--stop-stage", "1", "--fbank-config", "fbank16k.yaml",
            "--fbank-args", "--resample", "--feats-type", feats_type], cwd=recipe, timeout=600)
    for name in ("train_nodev", "train_dev", "test"):
        dump = recipe / "dump" / name
        rates = read_table(dump / "utt2sample_rate")
        assert set(rates) == set(read_table(dump / "utt2num_frames")) == set(read_table(dump / "text")), name
        assert set(rates.values()) == {"8000"}, name
