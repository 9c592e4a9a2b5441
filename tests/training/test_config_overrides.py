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
