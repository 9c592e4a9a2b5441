"""Fixtures for the recipe tests; the helpers themselves are in recipe_helpers.py."""
from __future__ import annotations

import pytest

from recipe_helpers import make_recipe_copy


@pytest.fixture
def recipe_dir(tmp_path):
    return lambda name: make_recipe_copy(tmp_path, name)
