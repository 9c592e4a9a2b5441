import shutil
import sys
from pathlib import Path

import pytest

# an4_data.py is a plain helper module beside the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from an4_data import make_an4_data_dir  # noqa: E402  (found through the path above)


@pytest.fixture(scope="module")
def an4_clean(an4_root, tmp_path_factory):
    """AN4's test set as a data dir, made once per module: copy it (an4_dir) before damaging it."""
    d = tmp_path_factory.mktemp("an4") / "test"
    make_an4_data_dir(an4_root, d, "test")
    return d


@pytest.fixture
def an4_dir(an4_clean, tmp_path):
    d = tmp_path / "test"
    shutil.copytree(an4_clean, d)
    return d
