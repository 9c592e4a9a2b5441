"""Fixtures for the recipe tests; the helpers themselves are in recipe_helpers.py."""
from __future__ import annotations

import os

import pytest

from recipe_helpers import RecipeRuns, make_recipe_copy


@pytest.fixture
def recipe_dir(tmp_path):
    return lambda name: make_recipe_copy(tmp_path, name)


@pytest.fixture(scope="session")
def recipe_runs(tmp_path_factory) -> RecipeRuns:
    """Recipe runs shared by the tests that start from one (:class:`recipe_helpers.RecipeRuns`): in
    this session's temp dir, which under xdist is the workers' common parent (each worker's own
    basetemp is a folder of it), so one run serves every worker."""
    base = tmp_path_factory.getbasetemp()
    return RecipeRuns((base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "recipe_runs")
