"""Programs some tests run (sox, flac), installed with apt-get when missing, as CI does.

``require_program("sox")`` returns the program's path; when it is missing and cannot be
installed (not root, no apt-get, the install failed) the test skips with why, unless
``ASRKIT_REQUIRE_TOOLS=1`` (set by .ci/run), which turns that skip into a failure.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import Dict, Optional

import pytest

_tried: Dict[str, str] = {}   # package -> why its install failed ('' when it worked)


# apt-get install waits this long for the dpkg lock another install holds (DPkg::Lock::Timeout);
# apt-get update has no such option for its lists lock, so apt_get() retries it as long.
LOCK_WAIT_S = 600
_LOCKED = ("Could not get lock", "Unable to lock", "is held by process")


def apt_get(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``apt-get -o DPkg::Lock::Timeout=600 <args>``, retried while another apt holds a lock.

    Concurrent test sessions (and unattended upgrades) install packages too; a held lock used
    to fail the install at once. Raises subprocess.TimeoutExpired past ``timeout`` in all.
    """
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "-o", f"DPkg::Lock::Timeout={LOCK_WAIT_S}", *args]
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired(cmd, timeout)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=left)
        if proc.returncode == 0 or not any(m in proc.stderr for m in _LOCKED):
            return proc
        time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))


def apt_install(*packages: str, extra: tuple = ()) -> str:
    """``apt-get update`` then ``install -y`` (as root); '' when it worked, else why not."""
    if not shutil.which("apt-get"):
        return "apt-get not found"
    if os.geteuid() != 0:
        return "not root"
    for args in (("update", "-q"), ("install", "-y", "-q", *extra, *packages)):
        try:
            proc = apt_get(*args)
        except subprocess.TimeoutExpired:
            return f"apt-get {' '.join(args)} timed out"
        if proc.returncode != 0:
            return f"apt-get {' '.join(args)} failed: {proc.stderr.strip()[-300:]}"
    return ""


def require_program(program: str, package: Optional[str] = None) -> str:
    package = package or program
    if not shutil.which(program) and package not in _tried:
        _tried[package] = apt_install(package)
    path = shutil.which(program)
    if path:
        return path
    msg = f"{program} is not installed and apt-get install {package} did not work ({_tried.get(package)})"
    if os.environ.get("ASRKIT_REQUIRE_TOOLS") == "1":
        pytest.fail(msg + "; ASRKIT_REQUIRE_TOOLS=1 forbids skipping", pytrace=False)
    pytest.skip(msg)
