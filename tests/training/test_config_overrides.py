"""asrkit-train's --set at the edges of what it takes (the config files' own checks: test_config.py)."""
from __future__ import annotations

import pytest

from asrkit.training.config import build_config
from asrkit.utils.errors import AsrkitError


@pytest.mark.parametrize("item, whole", [
    ("model.listener.subsample[0]=3", "model.listener.subsample"),
    ("model.listener.subsample.0=3", "model.listener.subsample"),
    ("optim.betas.1=0.9", "optim.betas"),
    ("augment.noise_snr_db[1]=5", "augment.noise_snr_db"),
])
def test_one_item_of_a_list_is_refused_naming_the_list(item, whole):
    """Hydra's and jq's ways to one list item were "unknown key 'model.listener.subsample[0]'", or
    the list replaced by a mapping ("listener.subsample must be a non-empty list ..., got {'0': 3}")."""
    with pytest.raises(AsrkitError) as e:
        build_config({"model": {"listener": {"subsample": [2, 2]}}}, [item])
    assert str(e.value) == f"--set {item!r}: a list is set whole, not item by item: e.g. --set '{whole}=[...]'"
    assert build_config({}, [f"{whole}=[1, 2]" if "subsample" in whole else f"{whole}=[0.5, 0.6]"])


@pytest.mark.parametrize("raw, item, message", [
    ({"training": 3}, "training.seed=1", "train.yaml: training: expected a mapping, got 3"),
    ({"model": {"listener": [1]}}, "model.listener.hidden=8",
     "train.yaml: model.listener: expected a mapping, got [1]"),
    ({"model": {"specaug": 3}}, "model.specaug.freq_masks=1", "train.yaml: model.specaug: expected a mapping, got 3"),
])
def test_a_section_the_file_gives_no_mapping_is_the_files_error_not_the_overrides(raw, item, message):
    """--set into a section the file gave a number or a list was "--set 'training.seed=1': 'training'
    is not a section": the option blamed, and training called no section, for the file's error."""
    with pytest.raises(AsrkitError) as e:
        build_config(raw, [item], where="train.yaml")
    assert str(e.value) == message
    # A key that is no section is still the option's error; an earlier option's value is that option's.
    with pytest.raises(AsrkitError, match=r"^--set 'model.ctc_weight.x=1': 'ctc_weight' is not a section$"):
        build_config({"model": {"ctc_weight": 0.5}}, ["model.ctc_weight.x=1"], where="train.yaml")
    with pytest.raises(AsrkitError, match=r"^--set 'model.listener=\[1\]': model.listener: expected a mapping, got "
                                          r"\[1\]$"):
        build_config({}, ["model.listener=[1]", "model.listener.hidden=8"], where="train.yaml")
