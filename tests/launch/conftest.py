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


@pytest.fixture
def another_trainings_store():
    """``store(port=0)``: a rendezvous store of another training holding ``port`` (0: any), or None
    when that port is not free here; each is closed at the test's end."""
    from torch.distributed import TCPStore

    stores = []

    def store(port: int = 0):
        try:
            stores.append(TCPStore("127.0.0.1", port, 1, is_master=True, wait_for_workers=False))
        except RuntimeError:
            return None
        return stores[-1]

    yield store
    stores.clear()
