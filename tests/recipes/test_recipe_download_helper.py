"""bin/download.sh (utils/download.sh in a recipe), the one resumable fetch behind the AN4 and
LibriSpeech download stages, on its own against the local HTTP server (http_fixture.py): resume
of a cut transfer, a file already complete (HTTP 416), a 404, --tries, no downloader at all, bad
arguments. wget is taken when it is there, else curl; both branches run (for curl, PATH is a
folder of links to every program but wget). The recipes' own checks on top of it (gzip -t, md5)
are in test_recipe_download.py.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from http_fixture import FileServer
from recipe_helpers import REPO, path_without, run_sh

HELPER = str(REPO / "bin/download.sh")
TOOLS = ["wget", "curl"]
PATH = "/files/part.tar.gz"


def blob(n: int = 200_000) -> bytes:
    return np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes()


def tool_env(tool: str, tmp_path: Path) -> dict:
    """Environment under which the helper fetches with ``tool`` (it prefers wget)."""
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed")
    return {} if tool == "wget" else {"PATH": path_without({"wget"}, tmp_path / "path-without-wget")}


def fetch(url: str, dest: Path, env: dict, *options: str):
    cwd = next(d for d in dest.parents if d.is_dir())  # anything written by mistake stays in tmp_path
    return run_sh([HELPER, *options, url, str(dest)], cwd=cwd, check=False, env=env)


def errors(stderr: str) -> list:
    """The helper's error lines (not wget's own "ERROR 404: Not Found.")."""
    return [line for line in stderr.splitlines() if line.startswith(f"{HELPER}: ERROR")]


def test_help():
    proc = run_sh([HELPER, "--help"], cwd=REPO)
    assert proc.stdout.startswith(f"Usage: {HELPER} [--tries N] <url> <file>"), proc.stdout
    assert "--tries N" in proc.stdout and "416" in proc.stdout


@pytest.mark.parametrize("tool", TOOLS)
def test_a_cut_transfer_is_resumed_by_a_rerun(tmp_path, tool):
    env = tool_env(tool, tmp_path)
    data = blob()
    cut = len(data) // 3
    dest = tmp_path / "dl/sub/part.tar.gz"  # its folders are made
    with FileServer({PATH: data}, cut_first_after=cut, down_after_cut=True) as server:
        url = server.url + PATH
        proc = fetch(url, dest, env)
        assert proc.returncode == 1, proc.stderr
        assert errors(proc.stderr) == [
            f"{HELPER}: ERROR: {tool} could not fetch {url} into {dest}: "
            + ("network failure (no connection, or the transfer was cut short)" if tool == "wget"
               else "the transfer was cut short")
            + f" ({cut} bytes kept: re-run to resume)"], proc.stderr
        assert dest.stat().st_size == cut and dest.read_bytes() == data[:cut]

        server.restart()
        proc = fetch(url, dest, env)
        assert proc.returncode == 0, proc.stderr
        assert [r.range for r in server.requests] == [None, f"bytes={cut}-"], server.requests
        assert dest.read_bytes() == data
        assert f"{HELPER}: {url} -> {dest} ({len(data)} bytes)" in proc.stderr.splitlines()


@pytest.mark.parametrize("tool", TOOLS)
def test_a_complete_file_is_not_fetched_again(tmp_path, tool):
    """Its range starts past the end: the server answers 416, which is success for both tools."""
    env = tool_env(tool, tmp_path)
    data = blob()
    dest = tmp_path / "part.tar.gz"
    dest.write_bytes(data)
    with FileServer({PATH: data}) as server:
        proc = fetch(server.url + PATH, dest, env)
    assert proc.returncode == 0 and not errors(proc.stderr), proc.stderr
    assert [r.range for r in server.requests] == [f"bytes={len(data)}-"]
    assert dest.read_bytes() == data


@pytest.mark.parametrize("tool", TOOLS)
def test_a_missing_file_is_a_one_line_error_and_leaves_no_file(tmp_path, tool):
    env = tool_env(tool, tmp_path)
    dest = tmp_path / "part.tar.gz"
    with FileServer({}) as server:
        url = server.url + PATH
        proc = fetch(url, dest, env)
    assert proc.returncode == 1
    why = "the server answered with an error (wget's output above gives it, e.g. 404 Not Found)" if tool == "wget" else "HTTP 404"
    assert errors(proc.stderr) == [f"{HELPER}: ERROR: {tool} could not fetch {url} into {dest}: {why}"], proc.stderr
    assert not dest.exists()  # wget -O leaves an empty file: removed


@pytest.mark.parametrize("tool", TOOLS)
def test_a_404_keeps_a_partial_file(tmp_path, tool):
    """A partial file is the user's bytes (the URL may be mistyped this time): never removed."""
    env = tool_env(tool, tmp_path)
    dest = tmp_path / "part.tar.gz"
    dest.write_bytes(b"partial")
    with FileServer({}) as server:
        proc = fetch(server.url + PATH, dest, env)
    assert proc.returncode == 1 and "(7 bytes kept: re-run to resume)" in proc.stderr, proc.stderr
    assert dest.read_bytes() == b"partial"


def test_tries_are_attempts_in_all(tmp_path):
    """A transfer cut once (the server stays up): one attempt fails; with two, wget's second try
    resumes it. (curl's --retry skips a cut transfer, so only wget shows this.)"""
    env = tool_env("wget", tmp_path)
    data = blob()
    cut = len(data) // 2
    with FileServer({PATH: data}, cut_first_after=cut) as server:
        proc = fetch(server.url + PATH, tmp_path / "once", env, "--tries", "1")
        assert proc.returncode == 1 and "(100000 bytes kept: re-run to resume)" in proc.stderr, proc.stderr
    with FileServer({PATH: data}, cut_first_after=cut) as server:
        proc = fetch(server.url + PATH, tmp_path / "twice", env, "--tries=2")
        assert proc.returncode == 0, proc.stderr
        assert [r.range for r in server.requests] == [None, f"bytes={cut}-"]
    assert (tmp_path / "twice").read_bytes() == data


def test_neither_wget_nor_curl(tmp_path):
    env = {"PATH": path_without({"wget", "curl"}, tmp_path / "bare")}
    dest = tmp_path / "new/part.tar.gz"
    proc = fetch("http://127.0.0.1:9/x.tar.gz", dest, env)
    assert proc.returncode == 2
    assert errors(proc.stderr) == [
        f"{HELPER}: ERROR: neither wget nor curl is installed: cannot fetch http://127.0.0.1:9/x.tar.gz into {dest}"]
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("args,message", [
    (["http://x/y"], "expected <url> <file> (see --help)"),
    (["--tries", "0", "http://x/y", "f"], "--tries 0: expected a positive whole number"),
    (["--tries", "two", "http://x/y", "f"], "option --tries takes an integer, got 'two'"),
    (["http://x/y", "."], ". is a directory: give the file to write, not a folder"),
    (["--retries", "2", "http://x/y", "f"], "unknown option --retries"),
])
def test_bad_arguments(tmp_path, args, message):
    proc = run_sh([HELPER, *args], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("recipe,cmd,message", [
    ("an4", ["local/download.sh", "dl"],
     "local/download.sh: ERROR: neither wget nor curl is installed: download "
     "http://www.speech.cs.cmu.edu/databases/an4/an4_raw.bigendian.tar.gz yourself and pass --an4-root"),
    ("librispeech", ["local/download.sh", "--parts", "dev-clean", "dl"],
     "local/download.sh: ERROR: neither wget nor curl is installed"),
])
def test_the_recipes_keep_their_advice_when_there_is_no_downloader(recipe_dir, tmp_path, recipe, cmd, message):
    """The helper's exit status 2 is what lets each recipe say what to do instead."""
    path = recipe_dir(recipe)
    proc = run_sh(cmd, cwd=path, check=False, env={"PATH": path_without({"wget", "curl"}, tmp_path / "bare")})
    assert proc.returncode == 1 and proc.stderr.splitlines()[-1] == message, proc.stderr
    assert not list((path / "dl").iterdir())
