"""tools/run_tests.sh with ASRKIT_VENV: the suite runs with that environment, as recipes do."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _checkout(tmp_path: Path) -> Path:
    """tools/run_tests.sh in a checkout whose install.sh only says it ran."""
    root = tmp_path / "checkout"
    (root / "tools").mkdir(parents=True)
    shutil.copy(REPO / "tools/run_tests.sh", root / "tools/run_tests.sh")
    (root / "tools/install.sh").write_text("#!/bin/sh\necho install.sh ran >&2\nexit 3\n")
    (root / "tools/install.sh").chmod(0o755)
    return root


def _venv(tmp_path: Path, imports_ok: bool = True) -> Path:
    venv = tmp_path / "user venv"
    (venv / "bin").mkdir(parents=True)
    check = "exit 0" if imports_ok else "echo 'No module named torch' >&2; exit 1"
    (venv / "bin/python").write_text(f'#!/bin/sh\nif [ "$1" = -c ]; then {check}; fi\necho "venv python in $PWD: $*"\n')
    (venv / "bin/python").chmod(0o755)
    return venv


def _run(root: Path, env: dict, workers: str = "1") -> subprocess.CompletedProcess:
    workers_env = {"ASRKIT_TEST_WORKERS": workers} if workers else {}
    return subprocess.run(["bash", str(root / "tools/run_tests.sh"), "tests/data"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **workers_env, **env}, timeout=60)


def test_asrkit_venv_runs_the_suite_without_install_sh(tmp_path):
    """run_tests.sh ran install.sh whatever ASRKIT_VENV said: a user pointing it at an environment
    of theirs (as README says path.sh takes) had a second tools/venv built (5.4 GB, network)."""
    root = _checkout(tmp_path)
    venv = _venv(tmp_path)
    proc = _run(root, {"ASRKIT_VENV": str(venv)})
    assert proc.returncode == 0, proc.stderr
    assert "install.sh ran" not in proc.stderr
    assert proc.stdout.strip() == f"venv python in {root}: -m pytest tests/data"


def test_asrkit_venv_that_cannot_import_is_one_line(tmp_path):
    root = _checkout(tmp_path)
    venv = _venv(tmp_path, imports_ok=False)
    proc = _run(root, {"ASRKIT_VENV": str(venv)})
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == (f"{root}/tools/run_tests.sh: ASRKIT_VENV={venv}: {venv}/bin/python cannot run "
                                   "or import pytest, torch and asrkit")


def test_without_asrkit_venv_install_sh_sets_up_tools_venv(tmp_path):
    root = _checkout(tmp_path)
    proc = _run(root, {})
    assert proc.returncode == 3 and "install.sh ran" in proc.stderr


def test_workers_are_the_cores_whatever_omp_num_threads_says(tmp_path):
    """GNU nproc prints OMP_NUM_THREADS when it is set: with path.sh's OMP_NUM_THREADS=1 in the
    shell (or the one a user sets for torch) the suite ran in one process on any machine."""
    root = _checkout(tmp_path)
    venv = _venv(tmp_path)
    cores = min(len(os.sched_getaffinity(0)), 4)
    xdist = f"-n {cores} --dist loadgroup " if cores > 1 else ""
    for omp in ({}, {"OMP_NUM_THREADS": "1"}, {"OMP_THREAD_LIMIT": "1"}):
        proc = _run(root, {"ASRKIT_VENV": str(venv), **omp}, workers="")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"venv python in {root}: -m pytest {xdist}tests/data", omp
