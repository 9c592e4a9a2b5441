"""The download stages, offline: AN4's stage 0 without --an4-root (CMU's raw big-endian tarball
layout) and LibriSpeech's local/download.sh (OpenSLR's part tarballs), each fixture built from
real AN4 recordings and served by a local HTTP server (http_fixture.py).

Each script takes wget when it is there, else curl; the tests run both branches (for curl, PATH
is a folder of links to every program but wget).
"""
from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tarfile
import wave
from pathlib import Path

import numpy as np
import pytest

from an4_fixture_tarball import make_an4_raw_tarball
from http_fixture import FileServer
from recipe_helpers import make_librispeech_fixture, path_without, read_table, run_sh

TARBALL = "/an4/an4_raw.bigendian.tar.gz"
TOOLS = ["wget", "curl"]


def downloader_env(tool: str, tmp_path: Path) -> dict:
    """Environment under which the scripts download with ``tool`` (they prefer wget)."""
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed")
    if tool == "wget":
        return {}
    return {"PATH": path_without({"wget"}, tmp_path / "path-without-wget")}


def wav_samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


# ------------------------------------------------------------------------------------------- an4
def data_sh(recipe: Path, server: FileServer, env: dict, check: bool = True):
    return run_sh(["local/data.sh", "--url", server.url + TARBALL, "--num-dev", "2"], cwd=recipe, check=check, env=env)


@pytest.mark.parametrize("tool", TOOLS)
def test_an4_download_resumes_converts_and_is_not_repeated(recipe_dir, an4_root, tmp_path, tool):
    env = downloader_env(tool, tmp_path)
    recipe = recipe_dir("an4")
    blob, originals = make_an4_raw_tarball(an4_root, n_train=6, n_test=3)
    cut = len(blob) // 3
    # The first transfer stops after a third of the file and the server goes away: the run fails
    # with a partial file, and the re-run must ask for the rest (a Range request), not start over.
    with FileServer({TARBALL: blob}, cut_first_after=cut, down_after_cut=True) as server:
        proc = data_sh(recipe, server, env, check=False)
        assert proc.returncode != 0
        assert f"download of {server.url + TARBALL} failed (re-run to resume)" in proc.stderr, proc.stderr
        assert (recipe / "downloads/an4_raw.bigendian.tar.gz").stat().st_size == cut
        assert not (recipe / "downloads/an4_raw.bigendian.tar.gz.complete").exists()
        assert not (recipe / "data").exists()

        server.restart()
        data_sh(recipe, server, env)
        assert [r.range for r in server.requests] == [None, f"bytes={cut}-"], server.requests
        assert (recipe / "downloads/an4_raw.bigendian.tar.gz").read_bytes() == blob

        # Every converted WAV holds exactly the samples of the original recording.
        for rel, original in originals.items():
            converted = recipe / "downloads/an4/wav" / rel
            np.testing.assert_array_equal(wav_samples(converted), wav_samples(original))
        # The data dirs are those that the WAV copy gives for the same utterances.
        run_sh(f". ./path.sh && local/data_prep.py {shlex.quote(str(an4_root))} ref", cwd=recipe)
        for s in ("train", "test"):
            got = read_table(recipe / f"data/{s}/text")
            ref = read_table(recipe / f"ref/{s}/text")
            assert len(got) == (6 if s == "train" else 3) and got == {u: ref[u] for u in got}
            assert read_table(recipe / f"data/{s}/utt2spk") == {u: read_table(recipe / f"ref/{s}/utt2spk")[u] for u in got}
            downloaded = (recipe / "downloads/an4/wav").resolve()
            assert all(Path(p).parent.parent.parent == downloaded for p in read_table(recipe / f"data/{s}/wav.scp").values())
        assert len(read_table(recipe / "data/train_nodev/text")) == 4
        assert len(read_table(recipe / "data/train_dev/text")) == 2
        run_sh(". ./path.sh && asrkit-validate-data-dir data/train_nodev && asrkit-validate-data-dir data/train_dev"
               " && asrkit-validate-data-dir data/test", cwd=recipe)

        # Done once: running again asks the server for nothing.
        seen = len(server.requests)
        data_sh(recipe, server, env)
        assert len(server.requests) == seen


@pytest.mark.parametrize("tool", TOOLS)
def test_an4_a_complete_file_without_its_marker_is_not_fetched_again(recipe_dir, an4_root, tmp_path, tool):
    """A run stopped after the transfer but before the check: the re-run's range is past the end
    (the server answers 416); wget calls that "fully retrieved", and curl must not fail on it."""
    env = downloader_env(tool, tmp_path)
    recipe = recipe_dir("an4")
    blob, _ = make_an4_raw_tarball(an4_root, n_train=3, n_test=1)
    (recipe / "downloads").mkdir()
    (recipe / "downloads/an4_raw.bigendian.tar.gz").write_bytes(blob)
    with FileServer({TARBALL: blob}) as server:
        run_sh(["local/data.sh", "--url", server.url + TARBALL, "--num-dev", "1"], cwd=recipe, env=env)
    assert [r.range for r in server.requests] == [f"bytes={len(blob)}-"]
    assert (recipe / "downloads/an4_raw.bigendian.tar.gz").read_bytes() == blob
    assert len(read_table(recipe / "data/test/text")) == 1


def test_an4_a_damaged_tarball_is_a_clear_error(recipe_dir, an4_root, tmp_path):
    env = downloader_env("wget" if shutil.which("wget") else "curl", tmp_path)
    recipe = recipe_dir("an4")
    blob, _ = make_an4_raw_tarball(an4_root, n_train=3, n_test=1)
    damaged = blob[: len(blob) // 2] + bytes(len(blob) - len(blob) // 2)
    with FileServer({TARBALL: damaged}) as server:
        proc = data_sh(recipe, server, env, check=False)
    assert proc.returncode != 0
    assert "downloads/an4_raw.bigendian.tar.gz is damaged: delete it and re-run" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (recipe / "downloads/an4_raw.bigendian.tar.gz.complete").exists()
    assert not (recipe / "downloads/an4").exists() and not (recipe / "data").exists()


@pytest.mark.parametrize("tool", TOOLS)
def test_an4_a_missing_file_on_the_server_is_a_clear_error(recipe_dir, tmp_path, tool):
    env = downloader_env(tool, tmp_path)
    recipe = recipe_dir("an4")
    with FileServer({}) as server:
        proc = data_sh(recipe, server, env, check=False)
    assert proc.returncode != 0
    assert f"download of {server.url + TARBALL} failed" in proc.stderr, proc.stderr
    assert not (recipe / "downloads/an4_raw.bigendian.tar.gz").exists()  # not even an empty file


# ----------------------------------------------------------------------------------- librispeech
def librispeech_tarballs(an4_root: Path, tmp_path: Path):
    """({part: <part>.tar.gz as OpenSLR packs it}, {utt: text}): LibriSpeech/<part>/<reader>/
    <chapter>/... with SPEAKERS.TXT beside the part; WAV audio, made by make_librispeech_fixture."""
    root = tmp_path / "src" / "LibriSpeech"
    expected = make_librispeech_fixture(an4_root, root, "wav")  # dev-clean and test-clean
    blobs = {}
    for part in ("dev-clean", "test-clean"):
        out = tmp_path / "src" / f"{part}.tar.gz"
        with tarfile.open(out, "w:gz") as tar:
            tar.add(root / "SPEAKERS.TXT", arcname="LibriSpeech/SPEAKERS.TXT")
            tar.add(root / part, arcname=f"LibriSpeech/{part}")
        blobs[part] = out.read_bytes()
    return blobs, expected


def download_sh(server: FileServer, sums: Path, dl: Path, parts: str = "dev-clean"):
    return ["local/download.sh", "--data-url", server.url + "/12", "--parts", parts, "--md5sum-file", str(sums), str(dl)]


@pytest.mark.parametrize("tool", TOOLS)
def test_librispeech_download_checks_md5_unpacks_and_skips_when_done(recipe_dir, an4_root, tmp_path, tool):
    env = downloader_env(tool, tmp_path)
    recipe = recipe_dir("librispeech")
    blobs, expected = librispeech_tarballs(an4_root, tmp_path)
    blob = blobs["dev-clean"]
    sums = tmp_path / "md5sum.txt"  # OpenSLR's format, one line per tarball
    sums.write_text("".join(f"{hashlib.md5(b).hexdigest()}  {p}.tar.gz\n" for p, b in blobs.items()))
    dl = tmp_path / "dl"
    cut = len(blob) // 2
    with FileServer({f"/12/{p}.tar.gz": b for p, b in blobs.items()}, cut_first_after=cut, down_after_cut=True) as server:
        cmd = download_sh(server, sums, dl)
        proc = run_sh(cmd, cwd=recipe, check=False, env=env)
        assert proc.returncode != 0
        assert f"download of {server.url}/12/dev-clean.tar.gz failed: run again to resume" in proc.stderr, proc.stderr
        assert (dl / "dev-clean.tar.gz").stat().st_size == cut
        assert not (dl / "dev-clean.tar.gz.md5-ok").exists() and not (dl / "LibriSpeech").exists()

        server.restart()
        run_sh(cmd, cwd=recipe, env=env)
        assert [r.range for r in server.requests] == [None, f"bytes={cut}-"], server.requests
        assert (dl / "dev-clean.tar.gz").read_bytes() == blob
        assert (dl / "dev-clean.tar.gz.md5-ok").is_file() and (dl / "LibriSpeech/dev-clean/.complete").is_file()

        seen = len(server.requests)
        proc = run_sh(cmd, cwd=recipe, env=env)
        assert len(server.requests) == seen and f"{dl}/LibriSpeech/dev-clean is there already" in proc.stderr
    # The unpacked part goes through the recipe's data prep: the fixture's transcripts, readers' genders.
    run_sh(f". ./path.sh && local/data_prep.py --audio-ext wav {shlex.quote(str(dl / 'LibriSpeech/dev-clean'))} data/dev_clean "
           "&& asrkit-validate-data-dir data/dev_clean", cwd=recipe)
    text = read_table(recipe / "data/dev_clean/text")
    assert text == {u: t for u, t in expected.items() if u.startswith(("100-", "101-"))} and len(text) == 6
    assert read_table(recipe / "data/dev_clean/spk2gender") == {"100-2000": "f", "101-2000": "m"}


@pytest.mark.parametrize("tool", TOOLS)
def test_librispeech_a_complete_file_without_its_marker_is_not_fetched_again(recipe_dir, an4_root, tmp_path, tool):
    """Stopped during the md5 check (minutes for a 30 GB part): the re-run finishes without a transfer."""
    env = downloader_env(tool, tmp_path)
    recipe = recipe_dir("librispeech")
    blobs, _ = librispeech_tarballs(an4_root, tmp_path)
    sums = tmp_path / "md5sum.txt"
    sums.write_text(f"{hashlib.md5(blobs['test-clean']).hexdigest()}  test-clean.tar.gz\n")
    dl = tmp_path / "dl"
    dl.mkdir()
    (dl / "test-clean.tar.gz").write_bytes(blobs["test-clean"])
    with FileServer({"/12/test-clean.tar.gz": blobs["test-clean"]}) as server:
        run_sh(download_sh(server, sums, dl, "test-clean"), cwd=recipe, env=env)
    assert [r.range for r in server.requests] == [f"bytes={len(blobs['test-clean'])}-"]
    assert (dl / "LibriSpeech/test-clean/.complete").is_file()


def test_librispeech_md5sum_file_takes_md5sum_output(recipe_dir, an4_root, tmp_path):
    """Checking a local copy: what `md5sum -b DIR/x.tar.gz` prints (a folder, '*', here no final
    newline) names the part as well as OpenSLR's own lines do, a folder with a space in its name
    too (it was refused as '<md5>  <part>.tar.gz' followed by junk)."""
    env = downloader_env("wget" if shutil.which("wget") else "curl", tmp_path)
    recipe = recipe_dir("librispeech")
    blobs, _ = librispeech_tarballs(an4_root, tmp_path)
    sums = tmp_path / "sums.md5"
    (tmp_path / "my copy").mkdir()
    shutil.copy(tmp_path / "src/dev-clean.tar.gz", tmp_path / "my copy/dev-clean.tar.gz")
    out = subprocess.run(["md5sum", "-b", str(tmp_path / "my copy/dev-clean.tar.gz")], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split()[1].startswith("*/")
    sums.write_text(out.stdout.rstrip("\n"))
    dl = tmp_path / "dl"
    with FileServer({"/12/dev-clean.tar.gz": blobs["dev-clean"]}) as server:
        run_sh(download_sh(server, sums, dl), cwd=recipe, env=env)
    assert (dl / "LibriSpeech/dev-clean/.complete").is_file()


@pytest.mark.parametrize("sums,part,message", [
    ("0" * 32 + "  dev-clean.tar.gz\n", "dev-clean",
     "dl/dev-clean.tar.gz: md5 {got}, expected " + "0" * 32 + ": delete it and run again"),
    # Parts the file does not list keep OpenSLR's sums (a real test-clean.tar.gz's, not the fixture's).
    ("{dev}  dev-clean.tar.gz\n", "test-clean",
     "dl/test-clean.tar.gz: md5 {got}, expected 32fa31d27d2e1cad72775fee3f4849a9: delete it and run again"),
    ("{dev}  dev-clean.tar.gz\nnot-a-sum  test-clean.tar.gz\n", "dev-clean",
     "md5sum.txt:2: expected '<md5>  <part>.tar.gz', got 'not-a-sum  test-clean.tar.gz'"),
], ids=["wrong-md5", "unlisted-part-keeps-openslr-sum", "malformed-line"])
def test_librispeech_bad_checksums_are_clear_errors(recipe_dir, an4_root, tmp_path, sums, part, message):
    env = downloader_env("wget" if shutil.which("wget") else "curl", tmp_path)
    recipe = recipe_dir("librispeech")
    blobs, _ = librispeech_tarballs(an4_root, tmp_path)
    (tmp_path / "md5sum.txt").write_text(sums.format(dev=hashlib.md5(blobs["dev-clean"]).hexdigest()))
    with FileServer({f"/12/{p}.tar.gz": b for p, b in blobs.items()}) as server:
        proc = run_sh(download_sh(server, tmp_path / "md5sum.txt", tmp_path / "dl", part), cwd=recipe,
                      check=False, env=env)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert message.format(got=hashlib.md5(blobs[part]).hexdigest()) in proc.stderr, proc.stderr
    assert len([l for l in proc.stderr.splitlines() if "ERROR" in l]) == 1
    assert not (tmp_path / f"dl/{part}.tar.gz.md5-ok").exists()
    assert not (tmp_path / "dl/LibriSpeech").exists()


def test_librispeech_parts_are_all_checked_before_any_download(recipe_dir, an4_root, tmp_path):
    """A typo among --parts was found only when the loop reached it, after the parts before it
    had been downloaded (hours for a train part); --parts "" downloaded nothing with exit 0."""
    env = downloader_env("wget" if shutil.which("wget") else "curl", tmp_path)
    recipe = recipe_dir("librispeech")
    blobs, _ = librispeech_tarballs(an4_root, tmp_path)
    dl = tmp_path / "dl"
    with FileServer({f"/12/{p}.tar.gz": b for p, b in blobs.items()}) as server:
        for parts, message in (("dev-clean dev-clen", "--parts: unknown part 'dev-clen' (known: "),
                               ("", "--parts is empty: nothing to download (known: ")):
            proc = run_sh(["local/download.sh", "--data-url", server.url + "/12", "--parts", parts, str(dl)],
                          cwd=recipe, check=False, env=env)
            assert proc.returncode == 1 and "Traceback" not in proc.stderr
            assert proc.stderr.rstrip().splitlines()[-1].startswith(f"local/download.sh: ERROR: {message}"), proc.stderr
            assert not server.requests and not dl.exists()
        proc = run_sh(["local/download.sh", "--data-url", server.url + "/12", "--parts", "dev-clean", ""],
                      cwd=recipe, check=False, env=env)
        assert proc.returncode == 1 and proc.stderr.rstrip() == "local/download.sh: ERROR: <download-dir> is empty"
