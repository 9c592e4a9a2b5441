"""The AN4 recipe's download path (stage 0 without --an4-root), offline: CMU's raw big-endian
tarball layout, built from real AN4 recordings, served by a local HTTP server."""
from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from an4_fixture_tarball import make_an4_raw_tarball
from http_fixture import FileServer
from recipe_helpers import read_table, run_sh

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
