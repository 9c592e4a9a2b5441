"""Fixtures for the scoring tests: the real sclite (see sclite_tool.py for how it is found or installed)."""
from __future__ import annotations

import os

import pytest

from .sclite_tool import Sclite, _find_sclite, _install_sctk


@pytest.fixture(scope="session")
def sclite(tmp_path_factory) -> Sclite:
    cmd = _find_sclite()
    if cmd is None:
        why = _install_sctk()
        cmd = _find_sclite()
        if cmd is None:
            msg = f"sclite (Debian package sctk) is not installed and could not be installed: {why or 'unknown'}"
            if os.environ.get("ASRKIT_REQUIRE_SCLITE") == "1" or os.environ.get("ASRKIT_REQUIRE_CORPORA") == "1":
                pytest.fail(msg + "; CI requires it", pytrace=False)
            pytest.skip(msg)
    return Sclite(cmd, tmp_path_factory.mktemp("sclite"))
