"""Programs some tests run (sox, flac), installed with apt-get when missing, as CI does.

``require_program("sox")`` returns the program's path; when it is missing and cannot be
installed (not root, no apt-get, the install failed) the test skips with why, unless
``ASRKIT_REQUIRE_TOOLS=1`` (set by .ci/run), which turns that skip into a failure.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Dict, Optional

import pytest

_tried: Dict[str, str] = {}   # package -> why its install failed ('' when it worked)


def _apt_install(package: str) -> str:
    if not shutil.which("apt-get"):
        return "apt-get not found"
    if os.geteuid() != 0:
        return "not root"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # Wait for the dpkg lock rather than fail when another install (a parallel test run) holds it.
    lock = ["-o", "DPkg::Lock::Timeout=600"]
    for cmd in (["apt-get", *lock, "update", "-q"], ["apt-get", *lock, "install", "-y", "-q", package]):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        except subprocess.TimeoutExpired:
            return f"{' '.join(cmd)} timed out"
        if proc.returncode != 0:
            return f"{' '.join(cmd)} failed: {proc.stderr.strip()[-300:]}"
    return ""


def require_program(program: str, package: Optional[str] = None) -> str:
    package = package or program
    if not shutil.which(program) and package not in _tried:
        _tried[package] = _apt_install(package)
    path = shutil.which(program)
    if path:
        return path
    msg = f"{program} is not installed and apt-get install {package} did not work ({_tried.get(package)})"
    if os.environ.get("ASRKIT_REQUIRE_TOOLS") == "1":
        pytest.fail(msg + "; ASRKIT_REQUIRE_TOOLS=1 forbids skipping", pytrace=False)
    pytest.skip(msg)
