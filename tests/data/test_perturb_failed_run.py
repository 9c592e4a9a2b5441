"""asrkit-perturb-data-dir-speed after a failed run: nothing of it left behind."""
from __future__ import annotations

import pytest

from asrkit.data.perturb import perturb_data_dir_speed
from asrkit.utils.errors import AsrkitError


def test_failed_run_leaves_no_folders_it_made(tmp_path):
    src = tmp_path / "train"
    src.mkdir()
    (src / "wav.scp").write_text(f"a {tmp_path}/missing.wav\n")
    (src / "utt2spk").write_text("a s\n")
    # the one utterance cannot be read: the run fails, and the folders made for its output go too
    with pytest.raises(AsrkitError, match="all 1 utterances failed"):
        perturb_data_dir_speed(src, tmp_path / "new" / "deeper" / "train_sp", [0.9, 1.0], method="audio")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]
