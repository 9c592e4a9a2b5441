"""Helpers for the recipe tests (a module of its own: ``from conftest import`` resolves to whichever
conftest another test directory loaded first): run a recipe's shell scripts in a scratch copy of it.

A recipe writes data/, dump/, exp/ and RESULTS.md beside its run.sh, and finds asrkit through
relative paths (path.sh: ../../..; asr.sh -> ../../TEMPLATE/asr1/asr.sh; utils -> ../../../bin).
``recipe_dir`` builds, under tmp_path, a tree of the same shape whose entries are symlinks to the
real files, so a test runs the real scripts without writing into the checkout.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from cli_checks import without_root_override  # noqa: F401  (the recipe tests import it from here)

REPO = Path(__file__).resolve().parents[2]
# What a recipe run writes beside run.sh (the .gitignore's list): never linked into a copy, so a
# test neither reads nor writes a run made in the checkout (FSDD's pretrain_an4/ from ./run.sh's
# default --init-listener an4, local/loso.sh's loso/).
OUTPUTS = {"data", "dump", "exp", "downloads", "RESULTS.md", "pretrain_an4", "loso"}
OUTPUT_PREFIXES = ("dump_", "loso_", "pretrain_an4_")


def make_recipe_copy(tmp: Path, name: str) -> Path:
    root = tmp / "asrkit"
    for entry in ("asrkit", "bin", "tools", "setup.py"):
        (root / entry).parent.mkdir(parents=True, exist_ok=True)
        (root / entry).symlink_to(REPO / entry)
    (root / "egs").mkdir()
    # The other recipes as they are (FSDD borrows AN4's data prep): only this one gets outputs.
    for other in (REPO / "egs").iterdir():
        if other.name != name:
            (root / "egs" / other.name).symlink_to(other)
    src = REPO / "egs" / name / "asr1"
    dst = root / "egs" / name / "asr1"
    dst.mkdir(parents=True)
    for entry in src.iterdir():
        if entry.name in OUTPUTS or entry.name.startswith(OUTPUT_PREFIXES):
            continue
        if entry.is_symlink():  # asr.sh, utils: keep them relative, as in the checkout
            (dst / entry.name).symlink_to(os.readlink(entry))
        else:
            (dst / entry.name).symlink_to(entry)
    return dst


def copy_recipe_run(src: Path, tmp: Path) -> Path:
    """A scratch copy of recipe ``src`` (a :func:`make_recipe_copy` under another tmp) with the
    outputs a run made there, so a test can start where that run ended. Times are kept (the stages'
    "done already" checks read them); the absolute paths a run writes into text files (dump's
    feats.scp, logs) are rewritten to the copy's. A binary file holding one would still point into
    ``src``: an error, not a copy that reads another test's files. A digest of such a text file
    cannot be rewritten either: asr.sh's exp/<tag>/train_inputs (a cksum of feats.scp, which names
    the arks by absolute path) makes a copied stage 4 "trained on other data", so a shared run
    ends before stage 4."""
    dst = make_recipe_copy(tmp, src.parent.name)
    old, new = str(src).encode(), str(dst).encode()
    for entry in src.iterdir():
        if not (entry.name in OUTPUTS or entry.name.startswith(OUTPUT_PREFIXES)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, dst / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, dst / entry.name, follow_symlinks=False)
    for path in dst.rglob("*"):
        if path.is_symlink():
            if old in os.fsencode(os.readlink(path)):
                raise AssertionError(f"{path}: a link into the run copied from {src}")
            continue
        if not path.is_file():
            continue
        data = path.read_bytes()
        if old not in data:
            continue
        if b"\0" in data:
            raise AssertionError(f"{path}: a binary file naming {src}, which a copy cannot rewrite")
        stat = path.stat()
        path.write_bytes(data.replace(old, new))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return dst


class RecipeRuns:
    """Recipe runs made once per test session and copied into each test that starts from one.

    ``get(key, name, make, tmp)`` runs ``make(recipe)`` in a fresh copy of recipe ``name`` the
    first time ``key`` is asked for (under an flock, so a second xdist worker waits for the first's
    run instead of repeating it), keeps what it returned (the run's stderr, say) in ``<key>/made.txt``,
    and gives every caller a :func:`copy_recipe_run` of it under its own ``tmp`` and that text. A
    ``make`` that fails leaves nothing behind: the next caller runs it again and fails the same way."""

    def __init__(self, root: Path):
        self.root = root

    def get(self, key: str, name: str, make: Callable[[Path], str], tmp: Path):
        self.root.mkdir(parents=True, exist_ok=True)
        home, done = self.root / key, self.root / f"{key}.done"
        with open(self.root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not done.exists():
                shutil.rmtree(home, ignore_errors=True)
                home.mkdir()
                made = make(make_recipe_copy(home, name))
                (home / "made.txt").write_text(made)
                done.touch()
        src = home / "asrkit" / "egs" / name / "asr1"
        return copy_recipe_run(src, tmp), (home / "made.txt").read_text()


def run_sh(cmd, cwd: Path, check: bool = True, timeout: float = 600, env=None) -> subprocess.CompletedProcess:
    """Run a shell command line in ``cwd``; output captured as text."""
    full_env = dict(os.environ)
    full_env["OMP_NUM_THREADS"] = "1"
    if env:
        full_env.update(env)
    proc = subprocess.run(cmd, cwd=cwd, shell=isinstance(cmd, str), executable="/bin/bash" if isinstance(cmd, str) else None,
                          capture_output=True, text=True,
                          env=full_env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode} in {cwd}\n--- stdout ---\n{proc.stdout[-3000:]}"
                             f"\n--- stderr ---\n{proc.stderr[-6000:]}")
    return proc


def make_checkout(tmp: Path) -> Path:
    """A scratch tree shaped like the checkout (asrkit/, bin/, tools/, egs/TEMPLATE -> the real ones)."""
    root = tmp / "asrkit"
    root.mkdir()
    for entry in ("asrkit", "bin", "tools", "setup.py"):
        (root / entry).symlink_to(REPO / entry)
    (root / "egs").mkdir()
    (root / "egs/TEMPLATE").symlink_to(REPO / "egs/TEMPLATE")
    return root


def new_recipe(tmp: Path, name: str = "mine") -> Path:
    """egs/<name>/asr1 made by egs/TEMPLATE/asr1/setup.sh in a scratch checkout (:func:`make_checkout`)."""
    root = make_checkout(tmp)
    proc = run_sh(["egs/TEMPLATE/asr1/setup.sh", f"egs/{name}/asr1"], cwd=root)
    assert f"made egs/{name}/asr1 for corpus '{name}'" in proc.stderr
    return root / "egs" / name / "asr1"


def read_table(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        out[key] = value
    return out


WORKED_OUT = "  # worked out from "


def printed_options(stdout: str) -> tuple[dict, dict]:
    """run.sh/asr.sh --print-config true's lines: (the options as name -> value, the values worked
    out from other options, printed as '# name=value  # worked out from --x' comment lines, as
    name -> (value, the options named)). Every line is one of the two, each name once."""
    given, worked_out = {}, {}
    lines = stdout.splitlines()
    for line in lines:
        if line.startswith("# "):
            assert WORKED_OUT in line, line
            name, _, value = line[2:].partition("=")
            value, _, source = value.rpartition(WORKED_OUT)
            worked_out[name] = (value, source)
        else:
            name, _, value = line.partition("=")
            given[name] = value
    assert len(given) + len(worked_out) == len(lines) and not given.keys() & worked_out.keys(), lines
    return given, worked_out


def make_librispeech_fixture(an4_root: Path, root: Path, audio_ext: str, parts=None) -> dict:
    """A LibriSpeech-shaped tree (<part>/<reader>/<chapter>/...) from AN4 recordings and transcripts.

    AN4 speakers become readers (numbered), each speaker's recordings one chapter. With
    audio_ext="flac" the audio is real FLAC, encoded with the ``flac`` program.
    """
    trans = {}
    for line in (an4_root / "etc/an4_test.transcription").read_text().splitlines():
        words, file_id = line.rsplit(" (", 1)
        trans[file_id.rstrip(")")] = words
    speakers = sorted({f.split("-")[1] for f in trans})[:3]
    expected = {}
    # part -> (first reader id, AN4 speakers): reader ids are unique across parts, as in LibriSpeech.
    parts = parts or {"dev-clean": (100, speakers[:2]), "test-clean": (110, speakers[2:])}
    for part, (first_reader, spks) in parts.items():
        for r, spk in enumerate(spks):
            reader, chapter = str(first_reader + r), "2000"
            d = root / part / reader / chapter
            d.mkdir(parents=True)
            lines = []
            for i, file_id in enumerate(sorted(f for f in trans if f.split("-")[1] == spk)[:3]):
                utt = f"{reader}-{chapter}-{i:04d}"
                src = an4_root / "wav/an4test_clstk" / spk / f"{file_id}.wav"
                if audio_ext == "flac":
                    subprocess.run(["flac", "-s", "-o", str(d / f"{utt}.flac"), str(src)], check=True)
                else:
                    shutil.copy(src, d / f"{utt}.wav")
                lines.append(f"{utt} {trans[file_id].lower()}")
                expected[utt] = trans[file_id].upper()
            (d / f"{reader}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    (root / "SPEAKERS.TXT").write_text("; READER|SEX|SUBSET|MINUTES|NAME\n100 | F | dev-clean | 1 | A\n"
                                       "101 | M | dev-clean | 1 | B\n110 | F | test-clean | 1 | C\n")
    return expected


def path_without(programs, folder: Path) -> str:
    """A PATH on which none of ``programs`` is found: ``folder`` filled with links to every other
    program of the current PATH (the first of each name, as the shell would find it)."""
    folder.mkdir(parents=True, exist_ok=True)
    for d in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            link = folder / name
            if name not in programs and not link.exists() and not link.is_symlink():
                link.symlink_to(Path(d) / name)
    return str(folder)




DIGITS = "ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE".split()


def stereo_digits_corpus(recipe: Path, fsdd_root: Path, suffix: str) -> Path:
    """``<recipe>/stereo``: FSDD's theo saying 0-9 on channel 1 of ten stereo files (``t<i><suffix>``),
    something else (his speech reversed) on channel 0, and their ``prompts.txt``."""
    import numpy as np
    import soundfile

    corpus = recipe / "stereo"
    corpus.mkdir()
    lines = []
    for i in range(10):
        speech, rate = soundfile.read(fsdd_root / "recordings" / f"{i}_theo_1.wav", dtype="int16")
        other = np.resize(speech[::-1], len(speech))
        soundfile.write(corpus / f"t{i}{suffix}", np.stack([other, speech], 1), rate)
        lines.append(f"t{i} {DIGITS[i]}\n")
    (corpus / "prompts.txt").write_text("".join(lines))
    return corpus
