"""Fixtures for the feature tests."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from feat_helpers import an4_test_wavs


@pytest.fixture(scope="session")
def an4_wavs(an4_root) -> List[Path]:
    wavs = an4_test_wavs(an4_root)
    assert len(wavs) == 130, f"expected AN4's 130 test utterances, found {len(wavs)}"
    return wavs
