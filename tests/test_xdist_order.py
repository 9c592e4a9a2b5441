"""How tests/conftest.py hands the suite to pytest-xdist (tools/run_tests.sh): a small suite with the
real conftest runs with ``-n 2 --dist loadgroup``, each test noting its worker in order.log."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

NOTE = """
import os
from pathlib import Path

import pytest


def note(name):
    with open(Path(__file__).parent / "order.log", "a") as f:
        f.write(f"{os.environ['PYTEST_XDIST_WORKER']} {name}\\n")
"""

# Two tests sharing the 2-rank run of tests/training/conftest.py (SHARED_ON_ONE_WORKER), first in
# their file: the first two tests handed out go one to each worker, were they not one group.
SHARED = """
@pytest.fixture(scope="session")
def two_rank_run():
    note("two_rank_run")


@pytest.mark.parametrize("i", range(2))
def test_shared(request, two_rank_run, i):
    note(request.node.nodeid.split("@")[0])
"""


def run_on_two_workers(tmp_path: Path, files: dict) -> list:
    """[(worker, test or fixture name)] in the order they ran, of ``files`` ({name: code}) run with
    the suite's conftest under ``-n 2 --dist loadgroup``."""
    for name in ("conftest.py", "cli_checks.py"):
        shutil.copy(TESTS / name, tmp_path / name)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow\n    xdist_group: group\n")
    for name, code in files.items():
        (tmp_path / name).write_text(NOTE + code)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                           "--dist", "loadgroup"], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [tuple(line.split()) for line in (tmp_path / "order.log").read_text().splitlines()]


def test_tests_sharing_a_session_resource_run_on_one_worker(tmp_path):
    runs = run_on_two_workers(tmp_path, {"test_a.py": SHARED + """

@pytest.mark.parametrize("i", range(4))
def test_other(i):
    note(f"other{i}")
"""})
    assert len(runs) == 7, runs
    shared = [(worker, name) for worker, name in runs if "shared" in name or name == "two_rank_run"]
    assert [name for _, name in shared] == ["two_rank_run", "test_a.py::test_shared[0]", "test_a.py::test_shared[1]"], runs
    assert len({worker for worker, _ in shared}) == 1, runs


def test_files_with_slow_tests_start_first(tmp_path):
    """The slow test's file goes first, whole (its module fixtures made no more often); the xdist
    group still goes before any other test, on one worker."""
    runs = run_on_two_workers(tmp_path, {"test_a.py": """
@pytest.mark.parametrize("i", range(6))
def test_fast(i):
    note(f"test_a.py::fast{i}")
""", "test_z.py": SHARED + """

def test_before():
    note("test_z.py::before")


@pytest.mark.slow
def test_slow():
    note("test_z.py::slow")


def test_after():
    note("test_z.py::after")
"""})
    assert len(runs) == 12, runs
    for worker in {worker for worker, _ in runs}:
        files = [name.split("::")[0] for w, name in runs if w == worker and "::" in name]
        assert files == sorted(files, key=lambda f: f != "test_z.py"), (worker, runs)  # test_z's tests first
    assert len({worker for worker, name in runs if "shared" in name or name == "two_rank_run"}) == 1, runs


def test_a_files_own_xdist_group_keeps_its_tests_on_one_worker(tmp_path):
    """A file whose tests all start from a module fixture of a common name (test_recipe_results_md's
    'trained') names its group itself (pytestmark): its tests go to one worker, the fixture made once."""
    runs = run_on_two_workers(tmp_path, {"test_a.py": """
pytestmark = pytest.mark.xdist_group("mine")


@pytest.fixture(scope="module")
def trained():
    note("trained")


@pytest.mark.parametrize("i", range(4))
def test_mine(request, trained, i):
    note(request.node.nodeid.split("@")[0])
""", "test_b.py": """
@pytest.mark.parametrize("i", range(4))
def test_other(i):
    note(f"other{i}")
"""})
    assert len(runs) == 9, runs
    mine = [(worker, name) for worker, name in runs if "mine" in name or name == "trained"]
    assert [name for _, name in mine] == ["trained"] + [f"test_a.py::test_mine[{i}]" for i in range(4)], runs
    assert len({worker for worker, _ in mine}) == 1, runs
