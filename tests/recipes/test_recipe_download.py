"""The download stages, offline: AN4's stage 0 without --an4-root (CMU's raw big-endian tarball
layout) and LibriSpeech's local/download.sh (OpenSLR's part tarballs), each fixture built from
real AN4 recordings and served by a local HTTP server."""
from __future__ import annotations

import hashlib
import shutil
import tarfile
import wave
from pathlib import Path

import numpy as np
import pytest

from an4_fixture_tarball import make_an4_raw_tarball
from http_fixture import FileServer
from recipe_helpers import make_librispeech_fixture, read_table, run_sh

TARBALL = "/an4/an4_raw.bigendian.tar.gz"


def wav_samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def data_sh(recipe: Path, server: FileServer, check: bool = True):
    if not shutil.which("wget") and not shutil.which("curl"):
        pytest.skip("neither wget nor curl is installed")
    return run_sh(["local/data.sh", "--url", server.url + TARBALL, "--num-dev", "2"], cwd=recipe, check=check)


def test_an4_download_resumes_converts_and_is_not_repeated(recipe_dir, an4_root):
    recipe = recipe_dir("an4")
    blob, originals = make_an4_raw_tarball(an4_root, n_train=6, n_test=3)
    # The first transfer stops after a third of the file: the download must resume, not restart.
    with FileServer({TARBALL: blob}, cut_first_after=len(blob) // 3) as server:
        proc = data_sh(recipe, server, check=False)
        if proc.returncode != 0:  # curl gives up on a cut transfer: re-running resumes it
            assert "re-run to resume" in proc.stderr, proc.stderr
            data_sh(recipe, server)
        assert any(r.range == f"bytes={len(blob) // 3}-" for r in server.requests), server.requests
        assert (recipe / "downloads/an4_raw.bigendian.tar.gz").read_bytes() == blob

        # Every converted WAV holds exactly the samples of the original recording.
        for rel, original in originals.items():
            converted = recipe / "downloads/an4/wav" / rel
            np.testing.assert_array_equal(wav_samples(converted), wav_samples(original))
        assert len(read_table(recipe / "data/train_nodev/text")) == 4
        assert len(read_table(recipe / "data/train_dev/text")) == 2
        assert len(read_table(recipe / "data/test/text")) == 3
        for path in read_table(recipe / "data/test/wav.scp").values():
            assert path.endswith(".wav") and Path(recipe / path if not path.startswith("/") else path).is_file()
        run_sh(". ./path.sh && asrkit-validate-data-dir data/train_nodev && asrkit-validate-data-dir data/test",
               cwd=recipe)

        # Done once: running again asks the server for nothing.
        seen = len(server.requests)
        data_sh(recipe, server)
        assert len(server.requests) == seen


def test_a_damaged_tarball_is_a_clear_error(recipe_dir, an4_root):
    recipe = recipe_dir("an4")
    blob, _ = make_an4_raw_tarball(an4_root, n_train=3, n_test=1)
    damaged = blob[: len(blob) // 2] + bytes(len(blob) - len(blob) // 2)
    with FileServer({TARBALL: damaged}) as server:
        proc = data_sh(recipe, server, check=False)
    assert proc.returncode != 0
    assert "downloads/an4_raw.bigendian.tar.gz is damaged: delete it and re-run" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (recipe / "downloads/an4_raw.bigendian.tar.gz.complete").exists()
    assert not (recipe / "data/train_nodev").exists()


def test_a_missing_file_on_the_server_is_a_clear_error(recipe_dir):
    recipe = recipe_dir("an4")
    with FileServer({}) as server:
        proc = data_sh(recipe, server, check=False)
    assert proc.returncode != 0
    assert f"download of {server.url + TARBALL} failed" in proc.stderr, proc.stderr


# ----------------------------------------------------------------------------------- librispeech
def librispeech_tarball(an4_root: Path, tmp_path: Path, part: str) -> bytes:
    """<part>.tar.gz as OpenSLR packs it: LibriSpeech/<part>/<reader>/<chapter>/..., WAV audio."""
    root = tmp_path / "src" / "LibriSpeech"
    make_librispeech_fixture(an4_root, root, "wav", {part: (100, sorted(
        {l.rsplit("(", 1)[1].split("-")[1] for l in (an4_root / "etc/an4_test.transcription").read_text().splitlines()})[:2])})
    out = tmp_path / f"{part}.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        tar.add(root / part, arcname=f"LibriSpeech/{part}")
    return out.read_bytes()


def test_librispeech_download_checks_md5_unpacks_and_skips_when_done(recipe_dir, an4_root, tmp_path):
    if not shutil.which("wget") and not shutil.which("curl"):
        pytest.skip("neither wget nor curl is installed")
    recipe = recipe_dir("librispeech")
    blob = librispeech_tarball(an4_root, tmp_path, "dev-clean")
    sums = tmp_path / "md5sum.txt"
    sums.write_text(f"{hashlib.md5(blob).hexdigest()}  dev-clean.tar.gz\n")
    dl = tmp_path / "dl"
    with FileServer({"/12/dev-clean.tar.gz": blob}, cut_first_after=len(blob) // 2) as server:
        cmd = ["local/download.sh", "--data-url", server.url + "/12", "--parts", "dev-clean",
               "--md5sum-file", str(sums), str(dl)]
        proc = run_sh(cmd, cwd=recipe, check=False)
        if proc.returncode != 0:  # curl gives up on a cut transfer: re-running resumes it
            assert "run again to resume" in proc.stderr, proc.stderr
            run_sh(cmd, cwd=recipe)
        assert any(r.range for r in server.requests), server.requests
        assert (dl / "LibriSpeech/dev-clean/.complete").is_file()
        assert sorted(p.name for p in (dl / "LibriSpeech/dev-clean").glob("*/*/*.trans.txt"))
        seen = len(server.requests)
        proc = run_sh(cmd, cwd=recipe)
        assert len(server.requests) == seen and "is there already" in proc.stderr
    # The unpacked part goes through the recipe's data prep.
    run_sh(f". ./path.sh && local/data_prep.py --audio-ext wav {dl}/LibriSpeech/dev-clean data/dev_clean "
           "&& asrkit-validate-data-dir data/dev_clean", cwd=recipe)


@pytest.mark.parametrize("sums,message", [
    ("0" * 32 + "  dev-clean.tar.gz\n", "dev-clean.tar.gz: md5 {got}, expected " + "0" * 32 + ": delete it and run again"),
    ("not-a-sum  dev-clean.tar.gz\n", "md5sum.txt:1: expected '<md5>  <part>.tar.gz'"),
], ids=["wrong-md5", "malformed-line"])
def test_librispeech_bad_checksums_are_clear_errors(recipe_dir, an4_root, tmp_path, sums, message):
    if not shutil.which("wget") and not shutil.which("curl"):
        pytest.skip("neither wget nor curl is installed")
    recipe = recipe_dir("librispeech")
    blob = librispeech_tarball(an4_root, tmp_path, "dev-clean")
    (tmp_path / "md5sum.txt").write_text(sums)
    with FileServer({"/12/dev-clean.tar.gz": blob}) as server:
        proc = run_sh(["local/download.sh", "--data-url", server.url + "/12", "--parts", "dev-clean",
                       "--md5sum-file", str(tmp_path / "md5sum.txt"), str(tmp_path / "dl")], cwd=recipe, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert message.format(got=hashlib.md5(blob).hexdigest()) in proc.stderr, proc.stderr
    assert not (tmp_path / "dl/LibriSpeech/dev-clean").exists()
