"""Fixtures for the recipe tests; the helpers themselves are in recipe_helpers.py."""
from __future__ import annotations

import os

import pytest

from recipe_helpers import RecipeRuns, make_recipe_copy, run_sh


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


@pytest.fixture(scope="session")
def yesno_stage2_at(recipe_runs, yesno_root):
    """``yesno_stage2_at(tmp)``: a copy under ``tmp`` of yesno run through stage 2 with run.sh's
    defaults but --nj 1 (``./run.sh --yesno-root <yesno_root> --stop-stage 2 --nj 1``: data/, dump/,
    data/lang_char), the run made once per session. (--nj 1: one feature job a set, a process that
    imports torch; stage 1's .done does not record --nj, so a later run with the default takes the
    sets as done.)"""
    def make(recipe):
        return run_sh(["./run.sh", "--yesno-root", str(yesno_root), "--stop-stage", "2", "--nj", "1"],
                      cwd=recipe).stderr
    return lambda tmp: recipe_runs.get("yesno_stage2", "yesno", make, tmp)[0]


@pytest.fixture
def yesno_stage2(yesno_stage2_at, tmp_path):
    """:func:`yesno_stage2_at` under this test's tmp_path."""
    return yesno_stage2_at(tmp_path)
