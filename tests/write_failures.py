"""Write failures: every command that writes, run where its writes fail, and the verdict on each.

Shared by tests/test_write_failures.py (a fixed handful of cases) and the full sweep, run by hand:

    ASRKIT_CORPORA=../shared/corpora OMP_NUM_THREADS=1 tools/venv/bin/python tests/write_failures.py --out /tmp/wsweep

which builds the small valid inputs of tests/mutations.py (:func:`mutations.build_seeds`: AN4/FSDD
audio, a data dir, features, CMVN stats, a packed model, a tiny yesno training, a token LM), runs
each command once as it should run (its outputs kept as "the previous good output"), then again,
forked from this process (no interpreter start-up per case), with a write failure injected:

- ``fsize=N``: the file size limit (RLIMIT_FSIZE; Python ignores SIGXFSZ, so a write past it fails
  with EFBIG, as a quota or a full disk fails it) at 0, 1, 64, 300, 1000 bytes, 4 KiB and half the
  largest output, each into an empty output folder and over the previous good output (``+prior``);
- ``readonly``: the output folders mode 0555, the child without root's CAP_DAC_OVERRIDE;
- ``is-dir`` / ``dangling`` / ``in-file``: the main output path a folder, a dangling link, or
  below a regular file;
- for a command writing stdout: stdout a file under the limit, a pipe closed before the command
  starts (EPIPE), and a pipe whose reader takes 10 bytes and goes (``| head -c 10``).

Each run is judged (:func:`judge`): ``error`` (exit != 0, one ``ERROR (...)`` line naming the
path at fault or stdout, no traceback, no temporary file left, no output at a final path, a
previous good output left as it was: same inode, time and bytes), ``ok`` (exit 0 and the outputs
whole: a dangling link written through, a read-only folder's writable file rewritten), or
``BAD: why``. The BAD ones go to OUT/bad.txt, every run to OUT/all.tsv.
"""
from __future__ import annotations

import os
import re
import resource
import select
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutations import FAST, LEFTOVER  # noqa: E402

# ---------------------------------------------------------------- the commands and their outputs


@dataclass
class Case:
    """``asrkit-<command> args(s, i, o)``; ``i`` holds its prepared inputs, ``o`` is its output folder.
    ``outputs(o)``: the final paths it writes (judged); ``main``: the one path (c) puts something
    in the way of (None: the case has none of those injections); ``in_place``: it writes into its
    input (fix-data-dir), so ``prepare`` makes the input inside ``o``; ``stdout``: what it prints
    there is its output (the stdout injections apply)."""
    name: str
    command: str
    args: Callable
    outputs: Callable
    main: Optional[Callable] = None
    prepare: Optional[Callable] = None
    stdout: bool = False
    in_place: bool = False
    stdin: Optional[Callable] = None
    deterministic: bool = True
    stream: bool = False  # its output is a log, written as the job goes (only the exit is judged)
    sizes: Sequence[int] = ()  # more limits: a many-file command's smaller files reached one by one
    prior: bool = True  # whether its outputs can be there before (not when they are its input)
    timeout: int = 120


def _data_dir(s, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("wav.scp", "segments", "text", "utt2spk", "spk2utt"):
        shutil.copy(s.files[name], dest / name)
    return dest


def _audio_folder(s, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for i, w in enumerate([s.files["a16.wav"], *s.files["good"]]):
        shutil.copy(w, dest / f"a{i}.wav")
        (dest / f"a{i}.txt").write_text(["YES NO", "RUBOUT G", "ENTER SIX"][i] + "\n")
    return dest


def _exp_with_checkpoints(s, dest: Path) -> Path:
    exp = s.train_root / "exp"  # type: ignore[attr-defined]
    (dest / "checkpoints").mkdir(parents=True, exist_ok=True)
    for p in (exp / "checkpoints").glob("epoch*.pt"):
        shutil.copy(p, dest / "checkpoints" / p.name)
    return dest


def cases(s) -> List[Case]:
    f = s.files
    raw = f"scp:{f['raw.scp']}"
    model = f["model.pt"]
    good = f["good"]
    return [
        Case("compute-fbank", "compute-fbank",
             lambda s, i, o: ["--num-mel-bins", "40", "--segments", f["segments"], f"scp:{f['wav.scp']}",
                              f"ark,scp:{o}/feats.ark,{o}/feats.scp"],
             lambda o: [o / "feats.ark", o / "feats.scp"], main=lambda o: o / "feats.ark"),
        Case("compute-fbank-nj2", "compute-fbank",  # two worker processes, each its own ark
             lambda s, i, o: ["--nj", "2", "--num-mel-bins", "40", "--segments", f["segments"],
                              f"scp:{f['wav.scp']}", f"ark,scp:{o}/feats.ark,{o}/feats.scp"],
             lambda o: [o / "feats.1.ark", o / "feats.2.ark", o / "feats.scp", o / "utt2num_frames"],
             main=lambda o: o / "feats.scp"),
        Case("compute-fbank-text", "compute-fbank",
             lambda s, i, o: ["--num-mel-bins", "40", "--segments", f["segments"], f"scp:{f['wav.scp']}",
                              f"ark,t:{o}/feats.txt"],
             lambda o: [o / "feats.txt"], main=lambda o: o / "feats.txt"),
        Case("compute-fbank-stdout", "compute-fbank",
             lambda s, i, o: ["--num-mel-bins", "40", "--segments", f["segments"], f"scp:{f['wav.scp']}", "ark:-"],
             lambda o: [], stdout=True),
        Case("compute-cmvn", "compute-cmvn", lambda s, i, o: [raw, o / "cmvn.ark"],
             lambda o: [o / "cmvn.ark"], main=lambda o: o / "cmvn.ark"),
        Case("compute-cmvn-spk", "compute-cmvn",
             lambda s, i, o: ["--spk2utt", f["spk2utt"], raw, f"ark,scp:{o}/spk.ark,{o}/spk.scp"],
             lambda o: [o / "spk.ark", o / "spk.scp"], main=lambda o: o / "spk.scp"),
        Case("apply-cmvn", "apply-cmvn", lambda s, i, o: [f["cmvn.ark"], raw, f"ark,scp:{o}/n.ark,{o}/n.scp"],
             lambda o: [o / "n.ark", o / "n.scp"], main=lambda o: o / "n.ark"),
        Case("apply-cmvn-stdout", "apply-cmvn", lambda s, i, o: [f["cmvn.ark"], raw, "ark:-"],
             lambda o: [], stdout=True),
        Case("make-data-dir", "make-data-dir", lambda s, i, o: ["--speaker", "me", i / "audio", o / "data"],
             lambda o: [o / "data"], main=lambda o: o / "data" / "text",
             prepare=lambda s, i, o: _audio_folder(s, i / "audio")),
        Case("fix-data-dir", "fix-data-dir", lambda s, i, o: [o / "data"],
             lambda o: [o / "data" / t for t in ("wav.scp", "segments", "text", "utt2spk", "spk2utt")],
             prepare=lambda s, i, o: _fix_input(s, o / "data"), in_place=True, prior=False),
        Case("split-data-dir", "split-data-dir", lambda s, i, o: ["--per-utt", o / "data", "2"],
             lambda o: [o / "data" / "split2"], prepare=lambda s, i, o: _data_dir(s, o / "data"),
             in_place=True),
        Case("perturb-data-dir-speed", "perturb-data-dir-speed",
             lambda s, i, o: ["--factors", "0.9 1.0", i / "data", o / "sp"],
             lambda o: [o / "sp"], main=lambda o: o / "sp" / "wav.scp",
             prepare=lambda s, i, o: _data_dir(s, i / "data")),
        Case("perturb-audio", "perturb-data-dir-speed",
             lambda s, i, o: ["--factors", "0.9 1.0", "--method", "audio", i / "data", o / "sp"],
             lambda o: [o / "sp"], main=lambda o: o / "sp" / "text",
             prepare=lambda s, i, o: _data_dir(s, i / "data")),
        Case("holdout-lists", "holdout-lists",
             lambda s, i, o: ["--dev-fraction", "0.25", "--test-fraction", "0.25", i / "data", o / "lists"],
             lambda o: [o / "lists" / n for n in ("train.list", "dev.list", "test.list")],
             main=lambda o: o / "lists" / "dev.list", prepare=lambda s, i, o: _data_dir(s, i / "data")),
        Case("train-tokenizer", "train-tokenizer", lambda s, i, o: ["--model-type", "char", f["text"], o / "lang"],
             lambda o: [o / "lang" / "tokens.model", o / "lang" / "tokens.txt"],
             main=lambda o: o / "lang" / "tokens.model"),
        Case("tokenize", "tokenize", lambda s, i, o: [f["tokens.model"]], lambda o: [], stdout=True,
             stdin=lambda s: f["text"].read_bytes()),
        Case("decode", "decode",
             lambda s, i, o: ["--model", model, *FAST, "--feats", raw, "--output-dir", o / "dec", "--ctm",
                              o / "dec" / "ctm"],
             lambda o: [o / "dec" / n for n in ("text", "nbest.jsonl", "ctm")], main=lambda o: o / "dec" / "text"),
        Case("decode-segments-out", "decode",
             lambda s, i, o: ["--model", model, *FAST, "--segment", "always", "--max-segment-s", "1",
                              "--segments-out", o / "segs", *good],
             lambda o: [o / "segs"], main=lambda o: o / "segs"),
        Case("decode-stdout", "decode", lambda s, i, o: ["--model", model, *FAST, "--feats", raw],
             lambda o: [], stdout=True),
        Case("align", "align",
             lambda s, i, o: ["--model", model, "--segments", f["segments"], f"scp:{f['wav.scp']}", f["text"],
                              o / "a.ctm"],
             lambda o: [o / "a.ctm"], main=lambda o: o / "a.ctm"),
        Case("adapt-speakers", "adapt-speakers",
             lambda s, i, o: ["--model", model, "--utt2spk", f["utt2spk"], "--feats", raw, "--epochs", "1",
                              "--min-utts", "1", f["hyp"], f"ark:{o}/tr.ark"],
             lambda o: [o / "tr.ark"], main=lambda o: o / "tr.ark", deterministic=False),
        Case("score", "score", lambda s, i, o: ["--output-dir", o / "score", f["text"], f["hyp"]],
             lambda o: [o / "score" / "wer.txt", o / "score" / "result.txt"],
             main=lambda o: o / "score" / "result.txt"),
        Case("pack-model", "pack-model", lambda s, i, o: ["--decode-config", f["decode.yaml"], model, o / "final.pt"],
             lambda o: [o / "final.pt"], main=lambda o: o / "final.pt", deterministic=False),
        Case("average", "average", lambda s, i, o: ["--num", "2", "--out", o / "exp" / "avg.pt", o / "exp"],
             lambda o: [o / "exp" / "avg.pt"], main=lambda o: o / "exp" / "avg.pt",
             prepare=lambda s, i, o: _exp_with_checkpoints(s, o / "exp"), in_place=True, deterministic=False),
        Case("average-stdout", "average", lambda s, i, o: ["--num", "2", "--out", "-", i / "exp"],
             lambda o: [], stdout=True, prepare=lambda s, i, o: _exp_with_checkpoints(s, i / "exp"),
             deterministic=False),
        Case("launch", "launch", lambda s, i, o: [o / "log" / "x.log", "seq", "2000"],
             lambda o: [o / "log" / "x.log"], main=lambda o: o / "log" / "x.log", deterministic=False,
             stream=True),
        Case("launch-array", "launch", lambda s, i, o: ["JOB=1:2", o / "log" / "x.JOB.log", "seq", "2000"],
             lambda o: [o / "log" / "x.1.log", o / "log" / "x.2.log"], main=lambda o: o / "log" / "x.2.log",
             deterministic=False, stream=True),
        Case("train-lm", "train-lm",
             lambda s, i, o: ["--config", f["lm.pt"].parents[1] / "lm.yaml", "--lang-dir", f["tokens.model"].parent,
                              "--max-epochs", "1", f["lm.pt"].parents[1] / "text", o / "lm"],
             lambda o: [o / "lm" / "lm.pt"], main=lambda o: o / "lm" / "lm.pt", deterministic=False, timeout=300),
        Case("train", "train",
             lambda s, i, o: s.train_args(s.train_root, o / "exp", "--seed", "3", "--set",
                                          "training.max_epochs=1")[1:],
             lambda o: [o / "exp" / "model.pt"], main=lambda o: o / "exp" / "model.pt", deterministic=False, timeout=300),
        Case("train-plots", "train",  # two epochs, attention plots and the log: more files, later
             lambda s, i, o: s.train_args(s.train_root, o / "exp", "--seed", "3", "--set", "training.max_epochs=2",
                                          "--set", "training.num_plots=2")[1:],
             lambda o: [o / "exp" / "model.pt"], main=lambda o: o / "exp" / "plots" / "x.png", deterministic=False,
             sizes=(200, 700, 1500, 3000), timeout=300),
    ]


def _fix_input(s, d: Path) -> Path:
    """A data dir fix-data-dir has work on: an utterance without text, wav.scp in CRLF."""
    _data_dir(s, d)
    lines = (d / "text").read_text().splitlines(keepends=True)
    (d / "text").write_text("".join(lines[1:]))
    (d / "wav.scp").write_bytes((d / "wav.scp").read_bytes().replace(b"\n", b"\r\n"))
    return d


# ---------------------------------------------------------------- running one case in a fork


@dataclass
class Result:
    code: int
    stderr: str
    seconds: float = 0.0


_CAP_BITS = (1 << 1) | (1 << 2) | (1 << 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


def drop_root_override() -> bool:
    """Drop root's permission overrides from this process (it must be single-threaded: a fork's
    child), so that a folder's mode 0555 refuses root too; False when that cannot be."""
    import ctypes

    if os.geteuid() != 0:
        return True

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        data = (Data * 2)()
        if libc.capget(ctypes.byref(Header(0x20080522, 0)), data) != 0:
            return False
        data[0].effective &= ~_CAP_BITS
        return libc.capset(ctypes.byref(Header(0x20080522, 0)), data) == 0
    except (OSError, AttributeError):
        return False


def run_forked(command: str, args: Sequence, *, fsize: Optional[int] = None, no_override: bool = False,
               stdout: Optional[int] = None, stdin: Optional[bytes] = None, timeout: float = 120,
               cwd: Optional[Path] = None, real: bool = False) -> Result:
    """``asrkit-<command> args`` in a child forked from this process, its stderr read through a pipe
    (no file size limit applies to a pipe); ``stdout``: a descriptor for its stdout (/dev/null if
    None); ``fsize``: its RLIMIT_FSIZE; ``no_override``: without root's permission overrides;
    ``real``: a new interpreter instead (``python -m asrkit``: its own streams, and its own exit,
    whose last flush of stdout is part of what a stdout case judges)."""
    import importlib

    if real:
        return _run_process(command, args, fsize=fsize, stdout=stdout, stdin=stdin, timeout=timeout, cwd=cwd)
    module = importlib.import_module(f"asrkit.cli.{command.replace('-', '_')}")
    err_r, err_w = os.pipe()
    in_r = None
    if stdin is not None:
        stdin_file = Path(os.environ.get("TMPDIR", "/tmp")) / f".write_failures_stdin.{os.getpid()}"
        stdin_file.write_bytes(stdin)
        in_r = os.open(stdin_file, os.O_RDONLY)
        stdin_file.unlink()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 70
        try:
            os.dup2(err_w, 2)
            out = stdout if stdout is not None else os.open(os.devnull, os.O_WRONLY)
            os.dup2(out, 1)
            os.dup2(in_r if in_r is not None else os.open(os.devnull, os.O_RDONLY), 0)
            os.close(err_r)
            if cwd is not None:
                os.chdir(cwd)
            if no_override and not drop_root_override():
                os.write(2, b"write_failures: cannot drop CAP_DAC_OVERRIDE\n")
                os._exit(71)
            sys.dont_write_bytecode = True  # (see PYTHONDONTWRITEBYTECODE in _run_process)
            if fsize is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, resource.RLIM_INFINITY))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
            # Streams of their own on the new descriptors: the parent's cached what its own were
            # (its stdout a file: "seekable", which a pipe is not)
            import io

            sys.stdin = io.TextIOWrapper(open(0, "rb", closefd=False), encoding="utf-8")
            sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8")
            sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), encoding="utf-8",
                                          errors="backslashreplace", line_buffering=True)
            from asrkit.utils.logging import setup_logging

            setup_logging()  # (on the new fd 2)
            try:
                module.main([str(a) for a in args], prog_name=f"asrkit-{command}", standalone_mode=True)
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            try:
                sys.stdout.flush()
            except OSError as e:  # what the interpreter's exit would say
                os.write(2, f"Exception ignored ... {e!r}\n".encode())
                code = code or 120
        except BaseException:
            try:
                os.write(2, ("Traceback (most recent call last):\n" + traceback.format_exc()).encode())
            except BaseException:
                pass
            code = 99
        os._exit(code)
    os.close(err_w)
    if in_r is not None:
        os.close(in_r)
    chunks = []
    deadline = time.monotonic() + timeout
    killed = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0 and not killed:
            os.kill(pid, signal.SIGKILL)
            killed = True
        ready, _, _ = select.select([err_r], [], [], max(left, 0.1) if not killed else 1)
        if ready:
            chunk = os.read(err_r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(err_r)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    err = b"".join(chunks).decode(errors="replace")
    if killed:
        err += f"\nwrite_failures: HANG: killed after {timeout} s\n"
        code = -9
    return Result(code, err, time.monotonic() - t0)


def _run_process(command: str, args: Sequence, *, fsize: Optional[int], stdout: Optional[int],
                 stdin: Optional[bytes], timeout: float, cwd: Optional[Path]) -> Result:
    """A new interpreter, which writes no .pyc: under the limit, importlib's write of one (a module
    changed since its .pyc) is cut short without an error (FileIO's short write, unchecked) and
    renamed into place, and every later import of that module, by anyone using the checkout,
    fails with 'EOFError: marshal data too short' (measured: 50 truncated .pyc files of 64 bytes)."""
    import subprocess

    def limit():  # (Python ignores SIGXFSZ itself: a write past the limit fails with EFBIG)
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, resource.RLIM_INFINITY))

    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "asrkit", command, *map(str, args)], input=stdin or b"",
                              stdout=stdout if stdout is not None else subprocess.DEVNULL, stderr=subprocess.PIPE,
                              cwd=cwd, timeout=timeout, preexec_fn=limit,
                              env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1"))
    except subprocess.TimeoutExpired:
        return Result(-9, f"write_failures: HANG: killed after {timeout} s\n", time.monotonic() - t0)
    return Result(proc.returncode, proc.stderr.decode(errors="replace"), time.monotonic() - t0)


# ---------------------------------------------------------------- judging


def snapshot(paths: Sequence[Path]) -> Dict[str, tuple]:
    """(inode, mtime, bytes) of every file at or below ``paths`` (a link as its target name)."""
    out: Dict[str, tuple] = {}
    for p in paths:
        if p.is_symlink():
            out[str(p)] = ("link", os.readlink(p))
        elif p.is_dir():
            for q in sorted(p.rglob("*")):
                if q.is_file() and not q.is_symlink():
                    st = q.stat()
                    out[str(q)] = (st.st_ino, st.st_mtime_ns, q.read_bytes())
                elif q.is_symlink():
                    out[str(q)] = ("link", os.readlink(q))
        elif p.exists():
            st = p.stat()
            out[str(p)] = (st.st_ino, st.st_mtime_ns, p.read_bytes() if p.is_file() else None)
    return out


def leftovers(folder: Path) -> List[str]:
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.rglob("*") if LEFTOVER.search(p.name))


def judge(r: Result, o: Path, outputs: Sequence[Path], before: Dict[str, tuple], *, names: Sequence[str],
          expect_failure: bool, good: Optional[Dict[str, bytes]] = None) -> str:
    """``error``, ``ok`` or ``BAD: why``. ``before``: :func:`snapshot` of ``outputs`` before the run
    (a previous good output, or whatever was put in the way); ``names``: what the ERROR line may
    name (the output folder, stdout); ``expect_failure``: the injection leaves no way to write the
    outputs whole (exit 0 is then BAD); ``good``: the outputs' bytes from a good run, which an
    exit 0 must reproduce (None: not deterministic)."""
    if r.code == -9:
        return "BAD: hang"
    if "Traceback" in r.stderr or "Exception ignored" in r.stderr or "Logging error" in r.stderr:
        tail = [ln for ln in r.stderr.splitlines() if ln.strip()][-1:]
        return f"BAD: a traceback on stderr ({tail[0][:200] if tail else ''})"
    left = leftovers(o)
    if left:
        return f"BAD: temporary file(s) left: {left[:3]}"
    if r.code == 0:
        if expect_failure and before and snapshot(outputs) == before:
            return "ok"  # (found up to date: nothing written)
        if expect_failure:
            return "BAD: exit 0 though the outputs cannot have been written whole"
        missing = [str(p) for p in outputs if not p.exists()]
        if missing:
            return f"BAD: exit 0 but {missing} not written"
        if good is not None:
            now = {k: v[2] for k, v in snapshot(outputs).items() if len(v) == 3}
            differ = [k for k, v in good.items() if k in now and now[k] != v]
            if differ:
                return f"BAD: exit 0 but {differ[:2]} differ from a good run's"
        return "ok"
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("ERROR") and not ln.startswith("ERROR: ")]
    if len(errors) != 1:
        return f"BAD: exit {r.code} with {len(errors)} ERROR lines: {r.stderr[-300:]!r}"
    if not any(n in errors[0] for n in names):
        return f"BAD: the ERROR line names no output: {errors[0][:300]}"
    after = snapshot(outputs)
    if after != before:
        changed = sorted(k for k in set(after) | set(before) if after.get(k) != before.get(k))
        what = "previous output changed" if before else "partial output left"
        return f"BAD: {what}: {changed[:3]}"
    return "error"


# ---------------------------------------------------------------- the sweep


def _fresh(path: Path) -> Path:
    if path.exists() or path.is_symlink():
        for p in [path, *path.rglob("*")] if path.is_dir() and not path.is_symlink() else [path]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    path.mkdir(parents=True)
    return path


def _chmod_tree(top: Path, dir_mode: int) -> None:
    for p in [top, *top.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(dir_mode)


def injections(case: Case, biggest: int) -> List[str]:
    out = []
    # (64 to 1000 bytes: a many-file command's small files, each reached in its turn)
    sizes = [0, 1, 64, 300, 1000, 4096] + ([biggest // 2] if biggest // 2 > 4096 else []) + list(case.sizes)
    if case.stdout:
        out += [f"stdout-fsize={n}" for n in sizes] + ["stdout-closed-pipe", "stdout-head-c-10"]
        return out
    for n in sizes:
        out += [f"fsize={n}"] + ([f"fsize={n}+prior"] if case.prior else [])
    out += ["readonly"] + (["readonly+prior"] if case.prior else [])
    if case.main is not None:
        out += ["is-dir", "dangling"] + ([] if case.in_place else ["in-file"])
    return out


def run_case(s, case: Case, work: Path, how: str, baseline: Dict[str, tuple]) -> str:
    """Run ``case`` under injection ``how`` in ``work`` and judge it."""
    i, o = _fresh(work / "in"), work / "out"
    _fresh(o)
    if case.prepare is not None:
        case.prepare(s, i, o)
    outputs = case.outputs(o)
    fsize = None
    stdout_fd = None
    stdin = case.stdin(s) if case.stdin else None
    expect_failure = True
    names = [str(o)]
    reader_pid = None
    if "+prior" in how:  # the previous good output at every final path
        for k, v in baseline.items():
            p = Path(k)
            p.parent.mkdir(parents=True, exist_ok=True)
            if v[0] == "link":
                continue
            p.write_bytes(v[2])
    m = re.search(r"fsize=(\d+)", how)
    if m:
        fsize = int(m.group(1))
    if how.startswith("stdout-"):
        names = ["stdout"]
        if how.startswith("stdout-fsize"):
            stdout_fd = os.open(o / "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        else:
            r_fd, stdout_fd = os.pipe()
            if how == "stdout-closed-pipe":
                os.close(r_fd)
            else:
                reader_pid = os.fork()
                if reader_pid == 0:
                    os.close(stdout_fd)
                    got = b""
                    while len(got) < 10:
                        chunk = os.read(r_fd, 10 - len(got))
                        if not chunk:
                            break
                        got += chunk
                    os._exit(0)
                os.close(r_fd)
    main = case.main(o) if case.main is not None else None
    if how == "is-dir":
        main.mkdir(parents=True, exist_ok=True)
        (main / "keep").write_text("someone's file\n")
        outputs = [main]
    elif how == "dangling":
        main.parent.mkdir(parents=True, exist_ok=True)
        main.symlink_to(o / "nowhere" / "target")
        link_before = snapshot([main])
        expect_failure = False  # writing through the link, or replacing it, is as good as an error
    elif how == "in-file":
        shutil.rmtree(o)
        o.write_text("a file where the output folder should be\n")
        outputs = [o]
    before = snapshot(outputs)
    ro = how.startswith("readonly")
    if ro:
        for p in outputs:
            p.parent.mkdir(parents=True, exist_ok=True)
        before = snapshot(outputs)
        _chmod_tree(o, 0o555)
        expect_failure = "+prior" not in how
    timeout = case.timeout
    try:
        r = run_forked(case.command, case.args(s, i, o), fsize=fsize, no_override=ro, stdout=stdout_fd,
                       stdin=stdin, timeout=timeout, cwd=work, real=how.startswith("stdout-"))
    finally:
        if stdout_fd is not None:
            os.close(stdout_fd)
        if reader_pid is not None:
            os.waitpid(reader_pid, 0)
        if ro:
            _chmod_tree(o, 0o755)
    run_case.last = r  # type: ignore[attr-defined]
    biggest = max([len(v[2]) for v in baseline.values() if len(v) == 3 and v[2] is not None] or [0])
    if how.startswith("stdout-"):
        # a stream cannot be taken back: what reached it stays; the run must say it failed. A
        # reader that goes after 10 bytes fails a write only past what the pipe holds (64 KiB).
        expect_failure = biggest > (fsize if fsize is not None else 0 if "closed" in how else 1 << 16)
        return judge(r, o, [], {}, names=names, expect_failure=expect_failure)
    if case.stream:  # a log written as the job runs (run.pl's): it is there to be read as it grows
        return judge(r, o, [], {}, names=names, expect_failure=fsize is not None and fsize < biggest)
    good = {k: v[2] for k, v in baseline.items() if len(v) == 3} if case.deterministic else None
    if how == "dangling":
        if r.code == 0:
            return judge(r, o, case.outputs(o), {}, names=names, expect_failure=False, good=good)
        return judge(r, o, [main], link_before, names=names, expect_failure=True)
    if fsize is not None:
        expect_failure = fsize < biggest
    return judge(r, o, outputs, before, names=names, expect_failure=expect_failure, good=good)


def sweep(out: Path, only: Sequence[str] = ()) -> Dict[str, int]:
    import faulthandler

    from mutations import build_seeds

    corp = Path(os.environ.get("ASRKIT_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora"))
    out.mkdir(parents=True, exist_ok=True)
    s = build_seeds(out / "seeds", corp / "an4", corp / "fsdd", corp / "yesno")
    counts: Dict[str, int] = {}
    bad_log = open(out / "bad.txt", "w")
    all_log = open(out / "all.tsv", "w")
    t0 = time.time()
    for case in cases(s):
        if only and case.name not in only:
            continue
        work = out / "work" / case.name
        faulthandler.dump_traceback_later(1200, exit=True)
        # the good run: its outputs are the previous good output of the +prior injections
        i, o = _fresh(work / "in"), _fresh(work / "out")
        if case.prepare is not None:
            case.prepare(s, i, o)
        stdin = case.stdin(s) if case.stdin else None
        printed = os.open(o / "stdout", os.O_WRONLY | os.O_CREAT, 0o644) if case.stdout else None
        r = run_forked(case.command, case.args(s, i, o), stdin=stdin, timeout=case.timeout, cwd=work,
                       stdout=printed)
        if printed is not None:
            os.close(printed)
        if r.code != 0:
            print(f"{case.name}: the good run failed:\n{r.stderr[-2000:]}", file=sys.stderr)
            counts["setup-failed"] = counts.get("setup-failed", 0) + 1
            continue
        baseline = snapshot([o / "stdout"] if case.stdout else case.outputs(o))
        biggest = max([len(v[2]) for v in baseline.values() if len(v) == 3 and v[2] is not None] or [8192])
        for how in injections(case, biggest):
            started = time.monotonic()
            run_case.last = None  # type: ignore[attr-defined]
            try:
                v = run_case(s, case, work, how, baseline)
            except BaseException as e:  # the sweep itself: counted apart
                v = f"BAD: sweep raised {type(e).__name__}: {e}"
            key = "BAD" if v.startswith("BAD") else v
            counts[key] = counts.get(key, 0) + 1
            last = getattr(run_case, "last", None)
            line = [ln for ln in last.stderr.splitlines() if ln.strip()][-1:] if last is not None else []
            all_log.write(f"{case.name}\t{how}\t{v}\t{time.monotonic() - started:.1f}\t{line[0] if line else ''}\n")
            all_log.flush()
            if key == "BAD":
                bad_log.write(f"{case.name}\t{how}\t{v}\n")
                bad_log.flush()
                if last is not None:
                    (out / "bad").mkdir(exist_ok=True)
                    (out / "bad" / f"{case.name}.{how}.stderr").write_text(last.stderr)
        faulthandler.cancel_dump_traceback_later()
        print(f"{case.name}: {counts} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    return counts


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="a new folder for the inputs, logs and outputs")
    p.add_argument("--only", nargs="*", default=(), help="case names (compute-fbank, decode-stdout, train, ...)")
    a = p.parse_args()
    print(sweep(a.out, a.only))
