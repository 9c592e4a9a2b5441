"""The ``slurm_cluster`` fixture: one private Slurm cluster for the whole test session.

Slurm and munge are installed with apt-get when missing (as root, which CI is). Without root or
apt-get the Slurm tests skip with the reason, unless ``ASRKIT_REQUIRE_SLURM=1``, which turns
that skip into a failure.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from slurm_cluster import ClusterUnavailable, SlurmCluster, ensure_installed  # noqa: E402


@pytest.fixture(scope="session")
def slurm_cluster():
    try:
        ensure_installed()
    except ClusterUnavailable as e:
        if os.environ.get("ASRKIT_REQUIRE_SLURM") == "1":
            pytest.fail(f"{e}; ASRKIT_REQUIRE_SLURM=1 forbids skipping", pytrace=False)
        pytest.skip(str(e))
    # Two nodes of two (stand-in) GPUs on this one machine: a multi-node job runs for real.
    cluster = SlurmCluster(nodes=2, gpus=2).start()
    try:
        yield cluster
    finally:
        cluster.stop()
