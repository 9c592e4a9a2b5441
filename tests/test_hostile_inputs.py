"""Hostile and broken inputs (issue #11): one table, every case.

Each row of CASES is an input builder, the command it is given to (an ``asrkit-*`` command run in
this process, or the library call that decode and train make), the exit status and message
expected, and the outputs that must not exist afterwards. Every row is also checked for what no
input may cause: code run from a data file (the marker a pickle would create), a traceback, and
a temporary file left behind. The disk rows run each writing command against a full tmpfs, a
read-only one and a directory it may not write (root's DAC override dropped for the call).

Real audio: the yesno waves (always there: shipped in egs/yesno). Everything runs in this
process except the tests at the end, of what only a process has: signals, a closed, piped or
redirected stdin or stdout, a stdout on a full disk.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import os
import pickle
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import kaldiio
import numpy as np
import pytest
from click.testing import CliRunner

from asrkit.data.specifier import write_matrices
from asrkit.features.cmvn import accumulate_cmvn, write_stats
from asrkit.features.fbank import FbankConfig, compute_fbank
from asrkit.features.wav import read_wav_source
from asrkit.utils.errors import AsrkitError
from cli_checks import run_asrkit_in_process
from process_checks import ended

N = 24  # utterances in the shared inputs: one bad one is within Kaldi's 5 % (24 // 20 = 1)
MEL = 23
FBANK = FbankConfig(sample_frequency=8000, num_mel_bins=MEL)


# -- hostile payloads ---------------------------------------------------------------------------
class _Payload:
    """Unpickling this creates the file ``marker``: what any code in a pickle could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pkl_entry(marker: Path) -> bytes:
    return b"PKL" + pickle.dumps(_Payload(marker))


def npy_entry() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, MEL), np.float32))
    data = buf.getvalue()
    return b"NPY" + bytes([4]) + len(data).to_bytes(4, "little") + data


def kaldi_entry(mat: np.ndarray, text: bool = False, compress: Optional[int] = None) -> bytes:
    buf = io.BytesIO()
    kaldiio.save_ark(buf, {"k": mat}, text=text, compression_method=compress)
    return buf.getvalue()[len(b"k "):]


Entry = Union[np.ndarray, bytes]


def write_ark_scp(ark: Path, entries: List[Tuple[str, Entry]], scp: Optional[Path] = None,
                  scp_values: Optional[Dict[str, str]] = None) -> None:
    """An ark of ``(key, matrix or raw bytes)`` entries and its scp (offsets just past the key)."""
    lines = []
    with open(ark, "wb") as f:
        for key, value in entries:
            f.write(key.encode("utf-8", "surrogateescape") + b" ")
            lines.append(f"{key} {ark}:{f.tell()}")
            f.write(value if isinstance(value, bytes) else kaldi_entry(value))
    if scp is not None:
        scp_values = scp_values or {}
        scp.write_text("".join(f"{k} {scp_values[k]}\n" if k in scp_values else f"{line}\n"
                               for (k, _), line in zip(entries, lines)))


# -- the shared inputs --------------------------------------------------------------------------
@dataclass
class World:
    root: Path
    wavs: List[Path]
    utts: List[str]
    feats: Dict[str, np.ndarray]
    stats: np.ndarray
    model: Path

    def entries(self, n: int = N) -> List[Tuple[str, Entry]]:
        return [(u, self.feats[u]) for u in self.utts[:n]]


@pytest.fixture(scope="module")
def world(yesno_root, tmp_path_factory) -> World:
    import torch

    from asrkit.models.las import LAS, LASConfig
    from asrkit.models.package import PackageMeta, save_package
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("hostile_world")
    wavs = sorted(yesno_root.rglob("*.wav"))[:N]
    assert len(wavs) == N
    utts = [w.stem for w in wavs]
    (root / "wav.scp").write_text("".join(f"{u} {w}\n" for u, w in zip(utts, wavs)))
    text = {u: " ".join("YES" if c == "1" else "NO" for c in u.split("_")) for u in utts}
    (root / "text").write_text("".join(f"{u} {t}\n" for u, t in text.items()))
    spk = {u: "a" if i % 2 else "b" for i, u in enumerate(utts)}
    (root / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in spk.items()))
    (root / "spk2utt").write_text("".join(f"{s} {' '.join(u for u in utts if spk[u] == s)}\n" for s in "ab"))
    feats = {}
    stats = None
    for u, w in zip(utts, wavs):
        samples, rate = read_wav_source(str(w), str(w))
        feats[u] = compute_fbank(samples, rate, FBANK, u)
        stats = accumulate_cmvn(feats[u], stats, u)
    write_matrices(f"ark,scp:{root}/feats.ark,{root}/feats.scp", feats)
    (root / "utt2num_frames").write_text("".join(f"{u} {m.shape[0]}\n" for u, m in feats.items()))
    write_stats(stats, str(root / "cmvn.ark"))
    tok = train_tokenizer(text.values(), TokenizerConfig(model_type="char"))
    (root / "lang").mkdir()
    (root / "lang" / "tokens.model").write_bytes(tok.to_bytes())
    cfg = LASConfig.from_dict({
        "listener": {"vgg": False, "hidden": 8, "subsample": [1, 2], "proj": 8},
        "attention": {"type": "location", "dim": 8, "conv_channels": 2, "conv_width": 3},
        "speller": {"hidden": 8, "embed": 4}, "ctc_weight": 0.5,
    })
    torch.manual_seed(0)
    model = root / "model.pt"
    meta = PackageMeta(model_config=cfg, idim=MEL, vocab_size=tok.vocab_size,
                       feature_config=FBANK, cmvn=stats, tokenizer=tok.to_bytes(),
                       tokens=list(tok.tokens))
    save_package(model, LAS(MEL, tok.vocab_size, cfg).state_dict(), meta)
    return World(root, wavs, utts, feats, stats, model)


# -- running a command --------------------------------------------------------------------------
@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@dataclass
class Run:
    """What a builder returns: the command's arguments, or a library call (a thunk)."""

    args: Union[List[object], Callable[[], object]]
    stdin: Optional[bytes] = None


def run_inproc(command: str, run: Run) -> Result:
    """An ``asrkit-*`` command in this process (no interpreter or torch start-up per case)."""
    import importlib

    from asrkit.utils.logging import setup_logging

    module = importlib.import_module(f"asrkit.cli.{command.replace('-', '_')}")
    try:
        # catch_exceptions=False: an exception the command does not turn into a clear error
        # (a traceback for the user) fails the test right here.
        r = CliRunner().invoke(module.main, [str(a) for a in run.args], input=run.stdin, catch_exceptions=False)
    finally:
        setup_logging()
    return Result(r.exit_code, r.stdout, r.stderr)


def run_library(run: Run) -> Result:
    try:
        value = run.args()
    except AsrkitError as e:
        return Result(1, "", f"AsrkitError: {e}")
    return Result(0, repr(value)[:2000], "")


# -- the table ----------------------------------------------------------------------------------
@dataclass
class Case:
    id: str
    command: str  # asrkit-<command>, or "lib" for a library call
    build: Callable[[World, Path], Run]
    code: Optional[int]  # expected exit status (lib: 1 = raises AsrkitError); None: any failure
    message: str  # expected in stderr (plain text, or a regex after "re:")
    absent: Tuple[str, ...] = ()  # outputs, relative to the case dir, that must not exist
    check: Optional[Callable[[World, Path, Result], None]] = None
    disk: Optional[str] = None  # "ENOSPC" / "EROFS" / "EACCES": outputs go to such a directory
    marks: Tuple = ()


def _scp_with(w: World, d: Path, bad: Dict[int, Entry], n: int = N, name: str = "f",
              scp_values: Optional[Dict[int, str]] = None) -> str:
    """An ark/scp of ``n`` real utterances with entries replaced by ``bad`` (index -> payload)."""
    entries = w.entries(n)
    entries = [(k, bad.get(i, v)) for i, (k, v) in enumerate(entries)]
    values = {entries[i][0]: v.format(d=d) for i, v in (scp_values or {}).items()}
    write_ark_scp(d / f"{name}.ark", entries, d / f"{name}.scp", values)
    return f"scp:{d}/{name}.scp"


def _ark_with(w: World, d: Path, bad: Dict[int, Entry], n: int = 3, name: str = "f") -> str:
    entries = [(k, bad.get(i, v)) for i, (k, v) in enumerate(w.entries(n))]
    write_ark_scp(d / f"{name}.ark", entries)
    return f"ark:{d}/{name}.ark"


def _written(name: str, n: int) -> Callable[[World, Path, Result], None]:
    def check(w: World, d: Path, r: Result) -> None:
        assert len(kaldiio.load_scp(str(d / name))) == n

    return check


def _scp_reads_as(n: int, normalised: bool) -> Callable[[World, Path, Result], None]:
    """f.scp reads its ``n`` utterances: the originals, or CMVN-normalised ones (mean ~0)."""
    def check(w: World, d: Path, r: Result) -> None:
        mats = dict(kaldiio.load_scp(str(d / "f.scp")))
        assert list(mats) == w.utts[:n]
        for u, m in mats.items():
            if normalised:
                assert m.shape == w.feats[u].shape and not np.allclose(m, w.feats[u])
            else:
                np.testing.assert_array_equal(m, w.feats[u])

    return check


def _stats_frames(n_utts: int) -> Callable[[World, Path, Result], None]:
    def check(w: World, d: Path, r: Result) -> None:
        stats = kaldiio.load_mat(str(d / "cmvn.ark"))
        frames = sum(w.feats[u].shape[0] for u in w.utts[:N])
        bad = w.feats[w.utts[3]].shape[0]
        assert int(stats[0, -1]) == (frames - bad if n_utts == N - 1 else frames)

    return check


def _stats_frames_without(bad: int) -> Callable[[World, Path, Result], None]:
    """The global stats hold the frames of the 24 utterances but utterance ``bad``."""
    def check(w: World, d: Path, r: Result) -> None:
        stats = kaldiio.load_mat(str(d / "cmvn.ark"))
        assert stats.shape == (2, MEL + 1)
        assert int(stats[0, -1]) == sum(w.feats[u].shape[0] for i, u in enumerate(w.utts[:N]) if i != bad)

    return check


def _lines(name: str, n: int) -> Callable[[World, Path, Result], None]:
    def check(w: World, d: Path, r: Result) -> None:
        assert len((d / name).read_text().splitlines()) == n

    return check


def _ctm_utts(n: int) -> Callable[[World, Path, Result], None]:
    def check(w: World, d: Path, r: Result) -> None:
        assert len({line.split()[0] for line in (d / "ctm").read_text().splitlines()}) == n

    return check


def _stdout_has(text: str) -> Callable[[World, Path, Result], None]:
    def check(w: World, d: Path, r: Result) -> None:
        assert text in r.stdout, r.stdout

    return check


def _data_dir(w: World, d: Path, name: str = "data", n: int = N, drop_text: int = -1,
              segments: Optional[str] = None) -> Path:
    out = d / name
    out.mkdir(parents=True, exist_ok=True)
    for t in ("wav.scp", "text", "utt2spk"):
        lines = (w.root / t).read_text().splitlines()[:n]
        if t == "text" and drop_text >= 0:
            del lines[drop_text]
        (out / t).write_text("".join(line + "\n" for line in lines))
    if segments is not None:
        reco = w.utts[0]
        (out / "wav.scp").write_text(f"{reco} {w.wavs[0]}\n")
        (out / "utt2spk").write_text("s1-a s1\ns1-b s1\n")
        (out / "text").write_text("s1-a YES\ns1-b NO\n")
        (out / "segments").write_text(segments.format(reco=reco))
    return out


def _two_speakers(data: Path) -> Path:
    """``data`` with its utt2spk's line 2 giving two speaker ids."""
    lines = (data / "utt2spk").read_text().splitlines()
    lines[1] += " other"
    (data / "utt2spk").write_text("".join(line + "\n" for line in lines))
    return data


def _library_decode(rspec: str):
    from asrkit.decoding.inputs import from_feats

    return lambda: [(k, None if m is None else m.shape, e) for k, m, e in from_feats(rspec)]


def _library_train_feats(scp: str):
    from asrkit.data.specifier import load_scp, read_matrix

    def call():
        table = load_scp(scp)
        return [read_matrix(table, k, scp).shape for k in table]

    return call


def _library_train_cmvn(path: str):
    from asrkit.training.data import load_cmvn

    return lambda: load_cmvn(path)


def _library_fbank_nan():
    samples = np.zeros(8000, np.float32)
    samples[4000] = np.nan
    return lambda: compute_fbank(samples, 8000, FBANK, "nan-audio")


def _truncated_wav(w: World, d: Path) -> Path:
    blob = w.wavs[0].read_bytes()
    (d / "truncated.wav").write_bytes(blob[: len(blob) // 3])
    return d / "truncated.wav"


def _nothing_read(w: World, d: Path, r: Result) -> None:
    assert "Done" not in r.stderr, r.stderr


def _wav_scp_intact(w: World, d: Path, r: Result) -> None:
    assert (d / "wav.scp").read_text() == "".join(f"{u} {wav}\n" for u, wav in zip(w.utts[:N], w.wavs[:N]))


def _in(part: str, text: str) -> None:
    assert part in text, text[-2000:]


def _a_copy(w: World, d: Path) -> str:
    """A copy of the first recording as {d}/a.wav, as a wav.scp entry."""
    (d / "a.wav").write_bytes(w.wavs[0].read_bytes())
    return "{d}/a.wav"


def _recording_intact(w: World, d: Path, r: Result) -> None:
    assert (d / "a.wav").read_bytes() == w.wavs[0].read_bytes()


def _wav_scp(w: World, d: Path, n: int, bad: Dict[int, str]) -> str:
    lines = []
    for i, (u, wav) in enumerate(zip(w.utts[:n], w.wavs[:n])):
        lines.append(f"{u} {bad[i].format(d=d) if i in bad else wav}\n")
    (d / "wav.scp").write_text("".join(lines))
    return f"scp:{d}/wav.scp"


def _nan(w: World, i: int, value: float = np.nan) -> np.ndarray:
    m = w.feats[w.utts[i]].copy()
    m[2, 5] = value
    return m


def _huge(w: World, i: int, value: float) -> np.ndarray:
    """Utterance ``i`` as a double matrix (Kaldi's DM) holding ``value`` at frame 2, dim 5."""
    m = w.feats[w.utts[i]].astype(np.float64)
    m[2, 5] = value
    return m


# A LAS small enough that one epoch of the 24 utterances takes a few seconds on one thread.
TRAIN_CONFIG = {
    "model": {"listener": {"vgg": False, "hidden": 8, "subsample": [2, 2], "proj": 8},
              "attention": {"type": "location", "dim": 8, "conv_channels": 2, "conv_width": 3},
              "speller": {"hidden": 8, "embed": 4}, "ctc_weight": 0.3},
    "optim": {"lr": 0.005, "warmup_steps": 2},
    "batching": {"max_frames": 4000},
    "training": {"max_epochs": 1, "valid_cer": False, "num_plots": 0, "max_bad_steps": 2},
}
TRAIN_OUT = ("exp/model.pt", "exp/checkpoints/epoch1.pt")


def _train(w: World, d: Path, bad: Dict[int, Entry], *options: str, text: Optional[Dict[int, str]] = None,
           frames: Optional[Dict[int, int]] = None) -> Run:
    """asrkit-train (CPU) on the 24 utterances, features replaced by ``bad``, transcripts by ``text``,
    utt2num_frames values by ``frames``."""
    import yaml

    dump = d / "dump"
    dump.mkdir()
    _scp_with(w, dump, bad, name="feats")
    lengths = (w.root / "utt2num_frames").read_text().splitlines()
    for i, n in (frames or {}).items():
        lengths[i] = f"{w.utts[i]} {n}"
    (dump / "utt2num_frames").write_text("".join(line + "\n" for line in lengths))
    lines = (w.root / "text").read_text().splitlines()
    for i, t in (text or {}).items():
        lines[i] = f"{w.utts[i]} {t}"
    (dump / "text").write_text("".join(line + "\n" for line in lines))
    (d / "train.yaml").write_text(yaml.safe_dump(TRAIN_CONFIG))
    return Run(["--config", d / "train.yaml", "--train-dir", dump, "--lang-dir", w.root / "lang", "--ngpu", "0",
                *options, d / "exp"])


def _frames_dir(w: World, d: Path, frames: Dict[int, str]) -> Path:
    """A data dir of the 24 utterances with feats.scp and utt2num_frames, whose values ``frames``
    (index -> value) replace."""
    data = _data_dir(w, d)
    for t in ("spk2utt", "feats.scp"):
        shutil.copy(w.root / t, data / t)
    lengths = (w.root / "utt2num_frames").read_text().splitlines()
    for i, n in frames.items():
        lengths[i] = f"{w.utts[i]} {n}"
    (data / "utt2num_frames").write_text("".join(line + "\n" for line in lengths))
    return data


def _token_list(d: Path, text: str):
    from asrkit.text.token_list import read_token_list

    (d / "tokens.txt").write_text(text)
    return lambda: read_token_list(d / "tokens.txt")


def _dev(w: World, d: Path, ids: List[str]) -> Path:
    """A dev dump dir of the first ``len(ids)`` utterances under the ids ``ids``."""
    dev = d / "dev"
    dev.mkdir()
    src = w.utts[:len(ids)]
    write_ark_scp(dev / "feats.ark", [(k, w.feats[u]) for k, u in zip(ids, src)], dev / "feats.scp")
    text = dict(line.split(" ", 1) for line in (w.root / "text").read_text().splitlines())
    (dev / "text").write_text("".join(f"{k} {text[u]}\n" for k, u in zip(ids, src)))
    (dev / "utt2num_frames").write_text("".join(f"{k} {w.feats[u].shape[0]}\n" for k, u in zip(ids, src)))
    return dev


def _plots_inside(w: World, d: Path, r: Result) -> None:
    plots = sorted(p.name for p in (d / "exp" / "plots").iterdir())
    assert plots == ["%2E.%2F..%2Fescaped.epoch1.png", "spk%2Fu1.epoch1.png"], plots
    _trained(w, d, r)


def _trained(w: World, d: Path, r: Result) -> None:
    import torch

    from asrkit.models.package import read_package_dict

    weights = read_package_dict(d / "exp" / "model.pt")["state_dict"]
    assert all(bool(torch.isfinite(v).all()) for v in weights.values() if v.is_floating_point())


def _stats_file(d: Path, stats: Entry) -> Path:
    path = d / "stats.ark"
    if isinstance(stats, bytes):
        path.write_bytes(stats)
    else:
        write_stats(stats, str(path))
    return path


def _hyp(d: Path, ref: str, hyp: str) -> List[object]:
    (d / "ref").write_text(ref)
    (d / "hyp").write_text(hyp)
    return [d / "ref", d / "hyp"]


def _with_utt2dur(data: Path, values: List[str]) -> Path:
    utts = [line.split()[0] for line in (data / "utt2spk").read_text().splitlines()]
    (data / "utt2dur").write_text("".join(f"{u} {v}\n" for u, v in zip(utts, values)))
    return data


def _text_bytes(w: World, replace: Dict[int, bytes]) -> bytes:
    lines = (w.root / "text").read_bytes().splitlines()
    return b"".join(replace.get(i, line) + b"\n" for i, line in enumerate(lines))


def _stdout_lines(n: int) -> Callable[[World, Path, Result], None]:
    def check(w: World, d: Path, r: Result) -> None:
        assert len(r.stdout.splitlines()) == n

    return check


def _stderr_has(text: str) -> Callable[[World, Path, Result], None]:
    def check(w: World, d: Path, r: Result) -> None:
        assert text in r.stderr, r.stderr

    return check


def _non_utf8(path: Path, good: str, bad: bytes) -> Path:
    """A table whose lines ``good`` are fine and whose last line ``bad`` is not UTF-8."""
    path.write_bytes(good.encode() + b"\n" + bad + b"\n")
    return path


def _bom(path: Path) -> Path:
    """``path`` with a UTF-8 byte-order mark put in front (as Windows editors save text)."""
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return path


def _hyp_bytes(d: Path, ref: str, hyp: bytes) -> List[object]:
    (d / "ref").write_text(ref)
    (d / "hyp").write_bytes(hyp)
    return [d / "ref", d / "hyp"]


def _a_file(d: Path) -> Path:
    """A regular file where a command is then told to make a directory."""
    (d / "afile").write_text("not a directory\n")
    return d / "afile"


def _pipe_named_wav(w: World, d: Path) -> Path:
    """A real wav named ``evil|`` beside an executable ``evil`` that creates the marker: read as a
    Kaldi rxfilename, the name would run ``evil`` (what a file name in a globbed directory can do)."""
    script = d / "evil"
    script.write_text(f"#!/bin/sh\ntouch {d}/MARKER\n")
    script.chmod(0o755)
    shutil.copy(w.wavs[0], d / "evil|")
    return d / "evil|"


def _copy(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    return dst


def _starts_with(name: str, head: str) -> Callable[[World, Path, Result], None]:
    def check(w: World, d: Path, r: Result) -> None:
        assert (d / name).read_text().startswith(_fmt(head, w, d)), f"{name} was overwritten"

    return check


def _pipe_path(data: bytes) -> str:
    """A path that reads ``data`` from a pipe once (what bash's <(...) gives a command)."""
    r, w = os.pipe()
    os.write(w, data)  # small: within the pipe's buffer
    os.close(w)
    return f"/dev/fd/{r}"  # r stays open for the command to open; the test process ends it


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _link_to(d: Path, name: str) -> Path:
    """``d/name``, a symlink to ``d``: a second name for every file in it."""
    (d / name).symlink_to(d)
    return d / name


def _hard_link(path: Path) -> Path:
    link = path.with_name(path.name + ".link")
    os.link(path, link)
    return link


def _a_dir(d: Path) -> Path:
    (d / "adir.wav").mkdir()
    return d / "adir.wav"


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _transcribe(w: World, audio):
    """Transcriber.transcribe(audio) with the world's model (8 kHz): the library call of the API."""
    def call():
        from asrkit import Transcriber

        return Transcriber.from_file(w.model, beam=1, maxlenratio=0.1).transcribe(audio)

    return call


def _model_with(w: World, d: Path, **fields) -> Path:
    """A copy of the world's model.pt with ``fields`` of its dict replaced (a hand-edited or damaged file)."""
    import torch

    blob = torch.load(w.model, weights_only=True)
    blob.update(fields)
    torch.save(blob, d / "m.pt")
    return d / "m.pt"


def _world_with_model(w: World, model: Path) -> World:
    return World(w.root, w.wavs, w.utts, w.feats, w.stats, model)


def _small_tokenizer() -> bytes:
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    return train_tokenizer(["YES YES", "YES"] * 10, TokenizerConfig(model_type="char")).to_bytes()


def _new_transcriber(w: World, **options):
    def call():
        from asrkit import Transcriber

        return Transcriber.from_file(w.model, **options)

    return call


def _transcriber_from(model, **options):
    def call():
        from asrkit import Transcriber

        return Transcriber.from_file(model, **options)

    return call


def _transcriber_ctor(arg):
    def call():
        from asrkit import Transcriber

        return Transcriber(arg)

    return call


def _transcriber_call(w: World, audio, **options):
    """Transcriber.from_file(model, **options).transcribe(audio), as _transcribe with options."""
    def call():
        from asrkit import Transcriber

        return Transcriber.from_file(w.model, beam=1, maxlenratio=0.1, **options).transcribe(audio)

    return call


def _torch():
    import torch

    return torch


def _wav_samples(w: World, dtype: str = "float32") -> np.ndarray:
    import soundfile as sf

    return sf.read(str(w.wavs[0]), dtype=dtype)[0]


def _dup_scp(w: World, d: Path) -> str:
    spec = _scp_with(w, d, {}, n=3)
    lines = (d / "f.scp").read_text().splitlines()
    (d / "f.scp").write_text(f"{lines[0]}\n{lines[1]}\n{lines[0]}\n")
    return spec


def _dup_ark(w: World, d: Path) -> str:
    e = w.entries(2)
    write_ark_scp(d / "f.ark", [e[0], e[1], e[0]])
    return f"ark:{d}/f.ark"


def _bad_key_ark(w: World, d: Path) -> str:
    with open(d / "f.ark", "wb") as f:
        f.write(w.utts[0].encode() + b" " + kaldi_entry(w.feats[w.utts[0]]))
        f.write(b"\xbb\xbfkey " + kaldi_entry(w.feats[w.utts[1]]))
    return f"ark:{d}/f.ark"


def _spk_stats(w: World, d: Path, b: Entry) -> str:
    """Per-speaker stats for the two speakers of utt2spk ('a' good, 'b' given)."""
    write_ark_scp(d / "st.ark", [("a", w.stats), ("b", b)])
    return f"ark:{d}/st.ark"


def _utt_stats(w: World, d: Path, empty: int) -> str:
    """Per-utterance stats of the 24 utterances; utterance ``empty``'s of 0 frames (its stats zero)."""
    write_ark_scp(d / "st.ark", [(u, accumulate_cmvn(w.feats[u][:0 if i == empty else None]))
                                 for i, u in enumerate(w.utts[:N])])
    return f"ark:{d}/st.ark"


def npy_file_bytes() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.zeros((2, MEL + 1)))
    return buf.getvalue()


REF5 = "a-1 the cat\na-2 sat on\na-3 the mat\nb-1 hello\nb-2 world\n"
OUT = ("out.ark", "out.scp", "cmvn.ark", "cmvn.scp")

CASES: List[Case] = [
    # -- code in data files: kaldiio's PKL and NPY entries are refused -------------------------------
    Case("pkl-ark-compute-cmvn", "compute-cmvn",
         lambda w, d: Run([_ark_with(w, d, {1: pkl_entry(d / "MARKER")}), d / "cmvn.ark"]), 1,
         "f.ark: utterance '{u1}': not a Kaldi matrix or vector: a pickled Python object", OUT),
    Case("pkl-scp-compute-cmvn-one-of-24-skipped", "compute-cmvn",
         lambda w, d: Run([_scp_with(w, d, {3: pkl_entry(d / "MARKER")}), d / "cmvn.ark"]), 0,
         "skipping {d}/f.scp:4: utterance '{u3}' ({d}/f.ark:", check=_stats_frames(N - 1)),
    Case("pkl-scp-compute-cmvn-per-speaker", "compute-cmvn",
         lambda w, d: Run(["--spk2utt", f"ark:{w.root}/spk2utt",
                           _scp_with(w, d, {0: pkl_entry(d / "MARKER")}, n=2), f"ark:{d}/cmvn.ark"]), 1,
         "f.scp:1: utterance '{u0}'", OUT),
    Case("npy-scp-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", _scp_with(w, d, {1: npy_entry()}, n=3),
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "f.scp:2: utterance '{u1}' ({d}/f.ark:", OUT),
    Case("pkl-ark-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", _ark_with(w, d, {0: pkl_entry(d / "MARKER")}),
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "f.ark: utterance '{u0}': not a Kaldi matrix or vector: a pickled Python object", OUT),
    Case("pkl-stats-file-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([_stats_file(d, pkl_entry(d / "MARKER")), f"scp:{w.root}/feats.scp",
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "{d}/stats.ark: not a Kaldi matrix or vector: a pickled Python object", OUT),
    Case("pkl-stats-table-apply-cmvn", "apply-cmvn",
         lambda w, d: Run(["--utt2spk", f"ark:{w.root}/utt2spk", _spk_stats(w, d, pkl_entry(d / "MARKER")),
                           f"scp:{w.root}/feats.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "st.ark: utterance 'b': not a Kaldi matrix or vector: a pickled Python object", OUT),
    Case("pkl-feats-decode-library", "lib",
         lambda w, d: Run(_library_decode(_ark_with(w, d, {1: pkl_entry(d / "MARKER")}))), 1,
         "f.ark: utterance '{u1}': not a Kaldi matrix or vector: a pickled Python object"),
    Case("pkl-feats-decode-cli", "decode",
         lambda w, d: Run(["--model", w.model, "--feats", _ark_with(w, d, {0: pkl_entry(d / "MARKER")}),
                           "--output-dir", d / "dec"]), None,
         "f.ark: utterance '{u0}': not a Kaldi matrix or vector: a pickled Python object", ("dec/text",)),
    Case("pkl-feats-train-library", "lib",
         lambda w, d: Run(_library_train_feats(_scp_with(w, d, {2: pkl_entry(d / "MARKER")}, n=4)[4:])), 1,
         "f.scp:3: utterance '{u2}' ({d}/f.ark:"),
    Case("pkl-cmvn-train-library", "lib",
         lambda w, d: Run(_library_train_cmvn(str(_stats_file(d, pkl_entry(d / "MARKER"))))), 1,
         "stats.ark: not a Kaldi matrix or vector: a pickled Python object"),
    Case("pkl-cmvn-train-cli", "train",
         lambda w, d: Run(["--train-dir", w.root, "--lang-dir", w.root / "lang",
                           "--cmvn", _stats_file(d, pkl_entry(d / "MARKER")), d / "exp"]), None,
         "stats.ark: not a Kaldi matrix or vector: a pickled Python object", ("exp/model.pt",)),
    Case("npy-file-as-stats", "apply-cmvn",
         lambda w, d: Run([_stats_file(d, npy_file_bytes()), f"scp:{w.root}/feats.scp",
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "stats.ark: not a Kaldi matrix or vector: a numpy .npy file", OUT),
    # Kaldi's own forms are read: compressed (CM, CM2, CM3) and text arks.
    Case("compressed-and-text-entries-read", "compute-cmvn",
         lambda w, d: Run([_ark_with(w, d, {0: kaldi_entry(w.feats[w.utts[0]], compress=1),
                                            1: kaldi_entry(w.feats[w.utts[1]], compress=3),
                                            2: kaldi_entry(w.feats[w.utts[2]], compress=5),
                                            3: kaldi_entry(w.feats[w.utts[3]], text=True)}, n=4),
                           f"ark,t:{d}/cmvn.txt"]), 0,
         "Done accumulating CMVN stats for 4 utterances", check=_lines("cmvn.txt", 4 * 3)),
    # -- NaN and Inf ------------------------------------------------------------------------------
    Case("nan-feats-apply-cmvn-one-of-24-skipped", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", _scp_with(w, d, {5: _nan(w, 5)}), f"ark,scp:{d}/out.ark,{d}/out.scp"]),
         0, "skipping utterance '{u5}': non-finite feature value nan at frame 2, dim 5",
         check=_written("out.scp", N - 1)),
    Case("nan-feats-apply-cmvn-two-of-3", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", _scp_with(w, d, {0: _nan(w, 0), 2: _nan(w, 2, np.inf)}, n=3),
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "2 of 3 utterances failed ({u0} {u2}), more than 5 %", OUT),
    Case("inf-feats-compute-cmvn-one-of-24-skipped", "compute-cmvn",
         lambda w, d: Run([_scp_with(w, d, {3: _nan(w, 3, -np.inf)}), d / "cmvn.ark"]), 0,
         "skipping utterance '{u3}': non-finite feature value -inf", check=_stats_frames(N - 1)),
    # Finite doubles (a DM entry) beyond float32: were inf in apply-cmvn's output and in
    # compute-cmvn's stats (sums of squares), exit 0 both.
    Case("huge-double-feats-compute-cmvn-one-of-24-skipped", "compute-cmvn",
         lambda w, d: Run([_scp_with(w, d, {3: _huge(w, 3, 1e200)}), d / "cmvn.ark"]), 0,
         "skipping utterance '{u3}': feature value 1e+200 at frame 2, dim 5 is beyond float32's range",
         check=_stats_frames(N - 1)),
    Case("huge-double-feats-apply-cmvn-one-of-24-skipped", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", _scp_with(w, d, {5: _huge(w, 5, -1e200)}),
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 0,
         "skipping utterance '{u5}': feature value -1e+200 at frame 2, dim 5 is beyond float32's range",
         check=_written("out.scp", N - 1)),
    # A float32 feature of 1e30 passed as finite: compute-cmvn summed its square (1e60) into the
    # set's stats, squashing dim 5 to ~0 for every other utterance, exit 0.
    Case("huge-float32-feats-compute-cmvn-one-of-24-skipped", "compute-cmvn",
         lambda w, d: Run([_scp_with(w, d, {3: _nan(w, 3, 1e30)}), d / "cmvn.ark"]), 0,
         "skipping utterance '{u3}': feature value 1e+30 at frame 2, dim 5 is beyond 1.84e+19, larger than any "
         "front end makes", check=_stats_frames(N - 1)),
    # ...and asrkit-decode wrote an empty text for it, exit 0, as for one of 1e10 or 1e6 (of which
    # the level normalisation spread the excess over every frame and bin)
    Case("huge-float32-feats-decode-one-of-24-skipped", "decode",
         lambda w, d: Run(["--model", w.model, "--feats", _scp_with(w, d, {4: _nan(w, 4, -1e30)}),
                           "--output-dir", d / "dec"]), 0,
         "skipping utterance '{u4}': feature value -1e+30 at frame 2, dim 5 is beyond 1.84e+19",
         check=_lines("dec/text", N - 1)),
    Case("far-feats-decode-one-of-24-skipped", "decode",
         lambda w, d: Run(["--model", w.model, "--feats", _scp_with(w, d, {6: _nan(w, 6, 1e6)}),
                           "--output-dir", d / "dec"]), 0,
         "skipping utterance '{u6}': feature 1e+06 at frame 2, dim 5 lies ", check=_lines("dec/text", N - 1)),
    # A (frames, 0) matrix first: its dimension 0 was the one all 23 real utterances were then
    # refused for ("feature dimension 23, earlier utterances have 0"), failing the run.
    Case("zero-dim-feats-first-compute-cmvn-one-of-24-skipped", "compute-cmvn",
         lambda w, d: Run([_scp_with(w, d, {0: np.zeros((10, 0), np.float32)}), d / "cmvn.ark"]), 0,
         "skipping utterance '{u0}': features with no dimensions (shape (10, 0))"),
    # The first utterance alone set the dimension: a 40-dim one first made the 23 good ones the bad
    # ones ("23 of 24 utterances failed", each "feature dimension 23, earlier utterances have 40").
    Case("odd-dimension-first-utterance-compute-cmvn-one-of-24-skipped", "compute-cmvn",
         lambda w, d: Run([_scp_with(w, d, {0: np.zeros((10, 40), np.float32)}), d / "cmvn.ark"]), 0,
         "skipping utterance '{u0}': feature dimension 40, the set's is 23", check=_stats_frames_without(0)),
    Case("odd-dimension-first-utterance-compute-cmvn-per-speaker", "compute-cmvn",
         lambda w, d: Run(["--spk2utt", f"ark:{w.root}/spk2utt", _scp_with(w, d, {0: np.zeros((10, 40), np.float32)}),
                           f"ark,t:{d}/cmvn.txt"]), 0,
         "1 of 24 utterances failed: {u0}", check=_lines("cmvn.txt", 2 * 3)),
    # The most common dimension wins, whatever it is: two 40-dim of 3 make the 23-dim one the bad one
    Case("odd-dimension-first-two-of-3-compute-cmvn-fails-naming-them", "compute-cmvn",
         lambda w, d: Run([_scp_with(w, d, {0: np.zeros((10, 40), np.float32), 1: np.zeros((10, 40), np.float32)},
                                     n=3), d / "cmvn.ark"]), 1,
         "1 of 3 utterances failed ({u2}), more than 5 %", ("cmvn.ark",)),
    # Stats of constant dims (variance floored to 1e-20: a scale of 1e10; stats in which no dim
    # varies are refused, as training refuses them) and a float32 feature of 1e30: the normalized
    # 1e40 was written as inf, exit 0. (Since features beyond 2^64 are refused on reading, no
    # feature apply-cmvn takes can overflow float32 even at a scale of 1e10; the overflow check on
    # the output is tested in tests/features/test_cmvn.py.)
    Case("cmvn-output-overflowing-float32-apply-cmvn-one-of-24-skipped", "apply-cmvn",
         lambda w, d: Run([_stats_file(d, accumulate_cmvn(np.eye(10, MEL, dtype=np.float32))),
                           _scp_with(w, d, {5: _nan(w, 5, 1e30)}), f"ark,scp:{d}/out.ark,{d}/out.scp"]), 0,
         "skipping utterance '{u5}': feature value 1e+30 at frame 2, dim 5 is beyond 1.84e+19",
         check=_written("out.scp", N - 1)),
    # Kaldi's "insufficient stats" of one key (an utterance or speaker of 0 frames) stopped the
    # whole run before the first utterance: now that key's utterances are the bad items.
    Case("zero-frame-stats-of-one-utterance-apply-cmvn-one-of-24-skipped", "apply-cmvn",
         lambda w, d: Run([_utt_stats(w, d, 7), f"scp:{w.root}/feats.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"]), 0,
         "skipping utterance '{u7}': ark:{d}/st.ark [{u7}]: insufficient stats for CMVN (frame count 0.0)",
         check=_written("out.scp", N - 1)),
    Case("nan-stats-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([_stats_file(d, np.where(np.arange(w.stats.size).reshape(w.stats.shape) == 3, np.nan, w.stats)),
                           f"scp:{w.root}/feats.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "stats.ark: non-finite CMVN stats (nan in row 0, column 3)", OUT),
    Case("inf-stats-table-apply-cmvn", "apply-cmvn",
         lambda w, d: Run(["--utt2spk", f"ark:{w.root}/utt2spk", _spk_stats(w, d, np.full_like(w.stats, np.inf)),
                           f"scp:{w.root}/feats.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "st.ark [b]: non-finite CMVN stats", OUT),
    Case("nan-audio-fbank-library", "lib", lambda w, d: Run(_library_fbank_nan()), 1,
         "utterance 'nan-audio': non-finite features"),
    # Training (was: exit 0, "train loss 0.0000", an untrained model.pt).
    Case("nan-feats-train-one-of-24-skipped", "train", lambda w, d: _train(w, d, {5: _nan(w, 5)}), 0,
         "skipping {d}/dump/feats.scp: utterance '{u5}': non-finite feature value nan at frame 2, dim 5",
         check=_trained),
    Case("huge-float32-feats-train-one-of-24-skipped", "train", lambda w, d: _train(w, d, {5: _nan(w, 5, 1e30)}), 0,
         "skipping {d}/dump/feats.scp: utterance '{u5}': feature value 1e+30 at frame 2, dim 5 is beyond 1.84e+19",
         check=_trained),
    Case("inf-and-pkl-train-two-of-24-fail", "train",
         lambda w, d: _train(w, d, {3: _nan(w, 3, np.inf), 9: pkl_entry(d / "MARKER")}), 1,
         "re:^ERROR \\(asrkit-train\\): epoch 1: 2 of 24 training utts were skipped \\(.*\\), more than 5 % "
         "\\(Kaldi's rule\\)", TRAIN_OUT),
    # Which non-finite value the blown-up weights give first depends on the CPU's float kernels
    # (nan on the AMD EPYC VMs, inf on an Intel Xeon one): either is the named cause.
    Case("diverging-train-stops-after-max-bad-steps", "train",
         lambda w, d: _train(w, d, {}, "--set", "optim.lr=1e37"), 1,
         "re:^ERROR \\(asrkit-train\\): epoch 1 batch \\d+: 2 updates in a row skipped for a non-finite loss or "
         "gradient norm \\(training.max_bad_steps=2; the last: (loss|gradient norm) is (nan|-?inf); their utts: \\S+",
         TRAIN_OUT),
    Case("transcript-too-long-for-ctc-train-named", "train",
         # 280 characters: more than the 4x-downsampled frames allow CTC, fewer than the frames
         lambda w, d: _train(w, d, {}, text={4: " ".join(["YES NO"] * 40)}), 0,
         "1 of 24 utterance(s) are too short for their transcripts to be aligned by CTC (first: utterance '{u4}': ",
         check=_trained),
    # A dev id is any string without whitespace: "../../escaped" wrote its attention plot
    # outside the exp dir (d/escaped.epoch1.png), "spk/u1" into a subdirectory of plots/.
    Case("dev-ids-with-slashes-plots-stay-in-plots-train", "train",
         lambda w, d: _train(w, d, {}, "--valid-dir", _dev(w, d, ["../../escaped", "spk/u1"]),
                             "--set", "training.num_plots=2"), 0,
         "Done 1 epochs out of 1", ("escaped.epoch1.png", "exp/plots/spk"), check=_plots_inside),
    # utt2num_frames is what batches are made from: one that lies (stale, of other features)
    # made batches of any size and CTC misfits of lengths the features do not have, in silence.
    Case("utt2num-frames-lying-for-one-of-24-skipped-train", "train",
         lambda w, d: _train(w, d, {}, frames={6: 900}), 0,
         "skipping {d}/dump/feats.scp: utterance '{u6}' has {f6} frames, {d}/dump/utt2num_frames says 900: that "
         "utt2num_frames is not of these features", check=_trained),
    # one that says more frames than batching.max_frames: left out as "too long" without a read,
    # so the stale table went unnamed
    Case("utt2num-frames-lying-too-long-named-train", "train",
         lambda w, d: _train(w, d, {}, frames={6: 10 ** 7}), 0,
         "skipping {d}/dump/feats.scp: utterance '{u6}' has {f6} frames, {d}/dump/utt2num_frames says 10000000: "
         "that utt2num_frames is not of these features", check=_trained),
    Case("utt2num-frames-of-other-features-train", "train",
         lambda w, d: _train(w, d, {}, frames={i: 900 + i for i in range(N)}), 1,
         "re:^ERROR \\(asrkit-train\\): .*/dump/feats.scp: not one utterance's features can be read \\(first: .*"
         "utterance '\\S+' has \\d+ frames, .*utt2num_frames says 900", TRAIN_OUT),
    # frame counts fewer than the transcripts' tokens: left out at the start, utt2num_frames named
    Case("utt2num-frames-fewer-than-tokens-train", "train",
         lambda w, d: _train(w, d, {}, frames={i: 7 + i for i in range(N)}), 1,
         "re:^ERROR \\(asrkit-train\\): .*/dump: \\d+ of 24 utterances lack features or a transcript", TRAIN_OUT,
         check=lambda w, d, r: _in("have more tokens than frames (by utt2num_frames; no speech is that fast", r.stderr)),
    # The first utterance alone set the dimension: a 40-dim one first made the 23 good ones the
    # bad ones (epoch 1: 23 of 24 skipped, "feature dimension 23, earlier utterances have 40").
    Case("odd-dimension-first-utterance-of-24-skipped-train", "train",
         lambda w, d: _train(w, d, {0: np.zeros((w.feats[w.utts[0]].shape[0], 40), np.float32)}), 0,
         "skipping {d}/dump/feats.scp: utterance '{u0}': feature dimension 40, the set's is 23", check=_trained),
    Case("model-larger-than-the-machine-train", "train",
         lambda w, d: _train(w, d, {}, "--set", "model.listener.hidden=1000000"), 1,
         "the config's model: section: the model would have ", ("exp/model.pt", "exp/checkpoints")),
    # (torch's "cannot build the model: ... Overflow when unpacking long long" once the data was read,
    # naming no key: now refused as the config loads, as any width past asrkit.models.config.MAX_UNITS)
    Case("model-size-torch-cannot-hold-train", "train",
         lambda w, d: _train(w, d, {}, "--set", "model.listener.hidden=100000000000000000000"), 1,
         "--set 'model.listener.hidden=100000000000000000000': model.listener: listener.hidden must be at most "
         "1000000, got 100000000000000000000", ("exp/model.pt", "exp/checkpoints")),
    # -- one rule for bad items: skipped, named, counted; the run fails past 5 % ---------------
    Case("fbank-one-bad-of-24-skipped", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", _wav_scp(w, d, N, {7: str(_truncated_wav(w, d))}),
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 0,
         "1 of 24 utterances failed: {u7}", check=_written("out.scp", N - 1)),
    Case("fbank-two-bad-of-4-fails", "compute-fbank",
         lambda w, d: Run(["--nj", "2", "--sample-frequency", "8000",
                           _wav_scp(w, d, 4, {0: str(_truncated_wav(w, d)), 3: "{d}/missing.wav"}),
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "2 of 4 utterances failed ({u0} {u3}), more than 5 % (Kaldi's rule)",
         ("out.1.ark", "out.2.ark", "out.scp", "utt2num_frames", "fbank.yaml")),
    Case("fbank-job-piece-with-max-bad-percent-100", "compute-fbank",
         lambda w, d: Run(["--max-bad-percent", "100", "--sample-frequency", "8000",
                           _wav_scp(w, d, 4, {0: str(_truncated_wav(w, d)), 3: "{d}/missing.wav"}),
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 0,
         "2 of 4 utterances failed: {u0} {u3}", check=_written("out.scp", 2)),
    Case("perturb-one-without-text-of-24-skipped", "perturb-data-dir-speed",
         lambda w, d: Run(["--factors", "1.0", _data_dir(w, d, drop_text=4), d / "sp"]), 0,
         "text: no transcript for utterance '{u4}'", check=_lines("sp/utt2spk", N - 1)),
    Case("perturb-bad-durations-fail", "perturb-data-dir-speed",
         lambda w, d: Run(["--factors", "1.0", _with_utt2dur(_data_dir(w, d, n=4), ["1.0", "nan", "x", "2"]), d / "sp"]),
         1, "2 of 4 utterances failed", ("sp",)),
    # float() read '1_0' as 10 s and a full-width '\uff12' as 2 s, written scaled into the copy's utt2dur
    Case("perturb-durations-not-in-ascii-fail", "perturb-data-dir-speed",
         lambda w, d: Run(["--factors", "1.0", _with_utt2dur(_data_dir(w, d, n=4), ["1.0", "1_0", "\uff12", "2"]),
                           d / "sp"]),
         1, "utterance '{u1}': '1_0' is not a duration in seconds", ("sp",)),
    Case("tokenize-one-bad-line-of-24-skipped", "tokenize",
         lambda w, d: Run([w.root / "lang" / "tokens.model"], _text_bytes(w, {4: b"bad \xbb\xbf line"})), 0,
         "skipping <stdin>:5: not UTF-8 text", check=_stdout_lines(N - 1)),
    Case("tokenize-unknown-characters-counted", "tokenize",
         lambda w, d: Run([w.root / "lang" / "tokens.model"], _text_bytes(w, {2: b"zz ZEBRA YES", 9: b"qq MAYBE"})), 0,
         "2 utterance(s) have characters the tokenizer does not know, mapped to <unk>: ",
         check=_stderr_has("(e.g. zz qq)")),
    Case("tokenize-all-bad-fails", "tokenize",
         lambda w, d: Run(["--decode", w.root / "lang" / "tokens.model"], b"u1 1 x\nu2 999\n"), 1,
         "all 2 lines failed (first: <stdin>:1: expected integer token ids"),
    # int() took these: "\u0663" (an Arabic-Indic 3) decoded to token 3, "1_0" to 10
    Case("tokenize-decode-ids-not-ascii-digits-fail", "tokenize",
         lambda w, d: Run(["--decode", w.root / "lang" / "tokens.model"],
                          "u1 2 \u0663\nu2 1_0\nu3 \uff12\nu4 +2\n".encode()), 1,
         "all 4 lines failed (first: <stdin>:1: expected integer token ids, got '2 \u0663'", check=_stdout_lines(0)),
    # -- scoring ------------------------------------------------------------------------------------
    Case("score-insertions-against-empty-references", "score",
         lambda w, d: Run(["--output-dir", d / "sc", *_hyp(d, "a-1\na-2\n", "a-1 x y z\na-2 u v w\n")]), 0,
         "has no reference words at all: the WER is undefined (6 inserted), printed as inf",
         check=_stdout_has("%WER inf [ 6 / 0, 6 ins, 0 del, 0 sub ]")),
    Case("score-empty-hypothesis-file", "score",
         lambda w, d: Run(["--output-dir", d / "sc", *_hyp(d, REF5, "")]), 1,
         "hyp: the hypothesis is empty: every reference utterance would be scored as all deletions "
         "(--allow-missing to score it anyway)", ("sc",)),
    Case("score-disjoint-hypothesis", "score",
         lambda w, d: Run(["--output-dir", d / "sc", *_hyp(d, REF5, "x-1 the cat\nx-2 sat\n")]), 1,
         "shares no utterance id with the reference", ("sc",)),
    Case("score-empty-hypothesis-allowed", "score",
         lambda w, d: Run(["--allow-missing", *_hyp(d, REF5, "")]), 0,
         "scoring it anyway (--allow-missing)", check=_stdout_has("%WER 100.00 [ 8 / 8, 0 ins, 8 del, 0 sub ]")),
    Case("score-hypothesis-ids-not-in-reference-named", "score",
         lambda w, d: Run(_hyp(d, REF5, REF5 + "zz-1 extra\nzz-2 more\n")), 0,
         "2 utterance(s) not in the reference {d}/ref were ignored: zz-1 zz-2",
         check=_stdout_has("%WER 0.00 [ 0 / 8")),
    # a duplicate id in a table read from a pipe: the second read that finds the first line gave
    # nothing, and next() raised StopIteration as a traceback (asrkit-score reads its inputs once
    # and keeps the first line's number)
    Case("score-duplicate-id-in-a-piped-hypothesis", "score",
         lambda w, d: Run([_write(d / "ref", REF5), _pipe_path((REF5 + "a-1 the cat\n").encode())]), 1,
         ":6: duplicate key 'a-1' (first on line 1)"),
    # two long lines (a book each): the alignment table of 2.5e9 cells, one Python step each, ran
    # for an hour towards 2.5 GB; two 10 MB lines for days towards 25 TB
    Case("score-alignment-too-large", "score",
         lambda w, d: Run(["--output-dir", d / "sc",
                           *_hyp(d, "a-1 " + "w " * 50000 + "\n", "a-1 " + "v " * 50000 + "\n")]),
         1, "utterance 'a-1': 50000 reference x 50000 hypothesis words is 2.5e+09 alignment cells, over the 2.15e+09 "
            "asrkit-score aligns", ("sc",)),
    Case("score-too-many-missing-hypotheses", "score",
         lambda w, d: Run(["--output-dir", d / "sc", *_hyp(d, REF5, "a-1 the cat\na-2 sat on\nb-1 hello\n")]), 1,
         "2 of 5 utterances have no hypothesis (a-3 b-2), more than 5 %", ("sc",)),
    # A dither of 1e30 (noise at 1e30 times a 16-bit step) overflowed every power spectrum: each
    # utterance "non-finite features ...; is the audio corrupt?", exit 1, blaming the audio.
    Case("huge-dither-fbank", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", "--dither", "1e30", f"scp:{w.root}/wav.scp",
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "re:^ERROR \\(asrkit-compute-fbank\\): bad fbank config: dither must be in \\[0, 32768\\] .*got 1e\\+30$",
         OUT + ("fbank.yaml",)),
    # 1e10 passed: features of the noise alone, exit 0
    Case("huge-dither-in-fbank-yaml", "compute-fbank",
         lambda w, d: Run(["--config", _write(d / "fb.yaml", "sample_frequency: 8000\ndither: 1.0e+10\n"),
                           f"scp:{w.root}/wav.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "fb.yaml:2: bad fbank config: dither must be in [0, 32768]", OUT + ("fbank.yaml",)),
    # -- tracebacks that are now errors naming file, line and utterance ------------------------------
    Case("segments-nan-times", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", "--segments",
                           _data_dir(w, d, segments="s1-a {reco} 0 1.5\ns1-b {reco} nan 2\n") / "segments",
                           f"scp:{d}/data/wav.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "data/segments:2: start and end must be finite numbers, got 'nan' '2'", OUT),
    Case("segments-inf-times-perturb", "perturb-data-dir-speed",
         lambda w, d: Run(["--factors", "1.0", _data_dir(w, d, segments="s1-a {reco} 0 inf\ns1-b {reco} 1 2\n"),
                           d / "sp"]), 1,
         "data/segments:1: start and end must be finite numbers, got '0' 'inf'", ("sp",)),
    Case("segments-nan-times-validate", "validate-data-dir",
         lambda w, d: Run(["--no-feats", _data_dir(w, d, segments="s1-a {reco} 0 1\ns1-b {reco} -inf 2\n")]), 1,
         "data/segments:2: start and end must be finite numbers, got '-inf' '2'"),
    Case("scp-offset-past-end-of-ark", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", _scp_with(w, d, {}, n=3, scp_values={1: "{d}/f.ark:99999999"}),
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "f.scp:2: utterance '{u1}' ({d}/f.ark:99999999): offset 99999999 is past the end of {d}/f.ark", OUT),
    Case("false-pipe-in-feats-scp", "compute-cmvn",
         lambda w, d: Run([_scp_with(w, d, {}, n=2, scp_values={0: "false |"}), d / "cmvn.ark"]), 1,
         "f.scp:1: utterance '{u0}' (false |): command exited with status 1", OUT),
    Case("false-pipe-as-ark", "compute-cmvn", lambda w, d: Run(["ark:false |", d / "cmvn.ark"]), 1,
         "command 'false' exited with status 1", OUT),
    # -- specifiers: Kaldi's options are accepted; names that cannot be what they say are refused ---
    Case("kaldi-only-specifier-options-accepted", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", f"scp,bg,ns,ncs,np,no:{w.root}/feats.scp",
                           f"ark,b,nf,scp:{d}/out.ark,{d}/out.scp"]), 0, "Done 24 out of 24", check=_written("out.scp", N)),
    Case("empty-ark-name-rspecifier", "compute-cmvn", lambda w, d: Run(["ark:", d / "cmvn.ark"]), 1,
         "bad specifier 'ark:': no ark file name", OUT),
    # Empty arguments: compute-cmvn refused an empty stats output only after reading every
    # utterance; apply-cmvn said ": no file in ''"; kaldiio's message for "" spoke of "the output file".
    Case("empty-stats-output-compute-cmvn-refused-before-reading", "compute-cmvn",
         lambda w, d: Run([_scp_with(w, d, {}), ""]), 1,
         "re:^ERROR \\(asrkit-compute-cmvn\\): bad stats output '': give a file name", check=_nothing_read),
    Case("empty-stats-apply-cmvn", "apply-cmvn",
         lambda w, d: Run(["", f"scp:{w.root}/feats.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "bad CMVN stats '': give a stats file (cmvn.ark) or a table", OUT),
    Case("empty-rspecifier-compute-cmvn", "compute-cmvn", lambda w, d: Run(["", d / "cmvn.ark"]), 1,
         "bad specifier '': empty (e.g. scp:dump/x/feats.scp", OUT),
    Case("empty-scp-name-rspecifier", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", "scp:", "ark:out.ark"]), 1, "bad specifier 'scp:': no scp file name", OUT),
    Case("empty-names-wspecifier", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", f"scp:{w.root}/feats.scp", "ark,scp:,"]), 1,
         "bad specifier 'ark,scp:,': no ark file name", OUT),
    Case("dot-as-ark-wspecifier", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", f"scp:{w.root}/feats.scp", "ark:."]), 1,
         "bad wspecifier 'ark:.': . is a directory, not an ark file name", OUT),
    Case("dir-as-scp-wspecifier-fbank", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", f"scp:{w.root}/wav.scp", f"ark,scp:{d}/out.ark,{_a_dir(d)}"]),
         1, "is a directory, not an scp file name", OUT + ("utt2num_frames", "fbank.yaml")),
    Case("output-pipe-wspecifier-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", f"scp:{w.root}/feats.scp", "ark:| gzip -c > x.gz"]), 1,
         "output pipes ('ark:| cmd') are not supported", ("| gzip -c > x.gz", "x.gz")),
    Case("output-pipe-wspecifier-fbank", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", f"scp:{w.root}/wav.scp", "ark:| gzip -c > x.gz"]), 1,
         "output pipes ('ark:| cmd') are not supported", ("| gzip -c > x.gz", "x.gz", "fbank.yaml")),
    Case("wav-scp-from-a-command-fbank", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", f"scp:cat {shlex.quote(str(w.root / 'wav.scp'))} |", "ark:out.ark"]), 1,
         "a wav.scp made by a command is not read here", OUT + ("fbank.yaml",)),
    Case("same-file-ark-and-scp-fbank", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", f"scp:{w.root}/wav.scp", f"ark,scp:{d}/out.ark,out.ark"]), 1,
         "the ark and the scp are the same file", OUT + ("utt2num_frames", "fbank.yaml")),
    # --write-utt2num-frames naming another output or the input: the features ark was replaced by
    # the frame counts (exit 0), the wav.scp read by them.
    Case("utt2num-frames-is-the-ark-fbank", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", "--num-mel-bins", str(MEL), "--write-utt2num-frames",
                           d / "out.ark", f"scp:{w.root}/wav.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "{d}/out.ark: --write-utt2num-frames and the ark ({d}/out.ark) are the same file", OUT + ("fbank.yaml",)),
    Case("utt2num-frames-is-the-wav-scp-fbank", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", "--num-mel-bins", str(MEL), "--write-utt2num-frames",
                           _wav_scp(w, d, N, {})[len("scp:"):], f"scp:{d}/wav.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"]),
         1, "the wav.scp read and --write-utt2num-frames ({d}/wav.scp) are the same file", OUT + ("fbank.yaml",),
         check=_wav_scp_intact),
    # An output that is an input of another kind: compute-cmvn's stats replaced the features (an
    # scp's ark too), apply-cmvn's features the stats file; exit 0 both.
    Case("stats-out-is-the-ark-an-scp-reads-compute-cmvn", "compute-cmvn",
         lambda w, d: Run([_scp_with(w, d, {}), f"ark:{d}/f.ark"]), 1,
         "{d}/f.ark: the stats output is a features input ({d}/f.ark), which the command reads: it would be replaced",
         check=lambda w, d, r: _written("f.scp", N)(w, d, r)),
    Case("feats-out-is-the-stats-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([_stats_file(d, w.stats), f"scp:{w.root}/feats.scp", f"ark,scp:{d}/out.ark,{d}/stats.ark"]),
         1, "{d}/stats.ark: the features output is the CMVN stats ({d}/stats.ark), which the command reads", OUT,
         check=lambda w, d, r: np.testing.assert_array_equal(kaldiio.load_mat(str(d / "stats.ark")), w.stats)),
    # ark and scp in one directory under two names (a symlink to it): compared as absolute paths,
    # they passed, and the scp was renamed over the ark (exit 0, the features lost)
    Case("same-file-ark-and-scp-through-a-symlinked-dir-compute-cmvn", "compute-cmvn",
         lambda w, d: Run([f"scp:{w.root}/feats.scp", f"ark,scp:{d}/out.ark,{_link_to(d, 'link')}/out.ark"]), 1,
         "the ark and the scp are the same file", OUT),
    Case("same-file-ark-and-scp-through-a-symlinked-dir-fbank", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", f"scp:{w.root}/wav.scp",
                           f"ark,scp:{d}/out.ark,{_link_to(d, 'link')}/out.ark"]), 1,
         "the ark and the scp are the same file", OUT + ("utt2num_frames", "fbank.yaml")),
    # a hard link is another name: the output is renamed onto its own, the stats keep theirs
    Case("feats-out-hard-linked-to-the-stats-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([_stats_file(d, w.stats), f"scp:{w.root}/feats.scp", f"ark:{_hard_link(d / 'stats.ark')}"]),
         0, "Done 24 out of 24",
         check=lambda w, d, r: np.testing.assert_array_equal(kaldiio.load_mat(str(d / "stats.ark")), w.stats)),
    # an scp read from a pipe (<(...)) is read once: the overwrite check had read it for its arks
    # ("no utterances to process")
    Case("feats-scp-from-a-pipe-compute-cmvn", "compute-cmvn",
         lambda w, d: Run(["scp:" + _pipe_path((w.root / "feats.scp").read_bytes()), f"{d}/cmvn.ark"]), 0,
         "Wrote global CMVN stats to"),
    # an ark an input scp reads, rewritten without that scp: the scp's offsets pointed into the old
    # layout (exit 0; with float64 input every later read failed)
    Case("feats-ark-its-scp-reads-rewritten-alone-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", _scp_with(w, d, {}), f"ark:{d}/f.ark"]), 1,
         "f.ark: the output ark is one that {d}/f.scp reads, and {d}/f.scp is not rewritten with it",
         check=_scp_reads_as(N, normalised=False)),
    Case("feats-ark-and-scp-rewritten-in-place-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", _scp_with(w, d, {}), f"ark,scp:{d}/f.ark,{d}/f.scp"]), 0,
         "Done 24 out of 24", check=_scp_reads_as(N, normalised=True)),
    Case("same-file-ark-and-scp-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", f"scp:{w.root}/feats.scp", "ark,scp:out.ark,./out.ark"]), 1,
         "the ark and the scp are the same file", OUT),
    Case("global-stats-to-stdout", "compute-cmvn",
         lambda w, d: Run(["--binary", "false", f"scp:{w.root}/feats.scp", "-"]), 0, "Wrote global CMVN stats to -",
         ("-",), check=_stdout_has("[")),
    Case("global-stats-to-output-pipe", "compute-cmvn",
         lambda w, d: Run([f"scp:{w.root}/feats.scp", "| gzip -c > x.gz"]), 1,
         "bad stats output '| gzip -c > x.gz': give a file name, or - for stdout", ("| gzip -c > x.gz", "x.gz")),
    Case("global-stats-to-a-directory", "compute-cmvn",
         lambda w, d: Run([f"scp:{w.root}/feats.scp", "."]), 1, "bad stats output '.': is a directory", OUT),
    Case("global-stats-from-stdin", "apply-cmvn",
         lambda w, d: Run(["-", f"scp:{w.root}/feats.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"],
                          stdin=(w.root / "cmvn.ark").read_bytes()), 0, "Done 24 out of 24", ("-",),
         check=_written("out.scp", N)),
    Case("global-stats-from-empty-stdin", "apply-cmvn",
         lambda w, d: Run(["-", f"scp:{w.root}/feats.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"], stdin=b""), 1,
         "<stdin>: no data (end of file)", OUT),
    Case("truncated-ark-entry", "compute-cmvn",
         lambda w, d: Run([_ark_with(w, d, {1: kaldi_entry(w.feats[w.utts[1]])[:-7]}, n=2), d / "cmvn.ark"]), 1,
         "f.ark: utterance '{u1}': truncated FM data", OUT),
    Case("corrupt-binary-header", "compute-cmvn",
         lambda w, d: Run([_ark_with(w, d, {0: b"\0BFM \4\xff\xff\xff\x7f\4\xff\xff\xff\x7f"}, n=2), d / "cmvn.ark"]), 1,
         "f.ark: utterance '{u0}': corrupt Kaldi binary header", OUT),
    Case("non-utf8-feats-scp", "compute-cmvn",
         lambda w, d: Run(["scp:" + str(_non_utf8(d / "f.scp", f"u1 {w.root}/feats.ark:5", b"u2 \xbbx.ark:5")),
                           d / "cmvn.ark"]),
         1, "f.scp:2: not UTF-8 text", OUT),
    Case("non-utf8-utt2spk", "apply-cmvn",
         lambda w, d: Run(["--utt2spk", "ark:" + str(_non_utf8(d / "utt2spk", "a a\nb b", b"c \xbb")),
                           _spk_stats(w, d, w.stats), f"scp:{w.root}/feats.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"]),
         1, "utt2spk:3: not UTF-8 text (invalid start byte at byte 2 of the line)", OUT),
    Case("non-utf8-ark-key", "compute-cmvn", lambda w, d: Run([_bad_key_ark(w, d), d / "cmvn.ark"]), 1,
         "f.ark: entry 2: key b'\\xbb\\xbfkey' is not UTF-8 text", OUT),
    Case("non-utf8-hypothesis", "score", lambda w, d: Run(_hyp_bytes(d, REF5, b"a-1 the cat\na-2 \xbb\n")), 1,
         "hyp:2: not UTF-8 text"),
    # a byte-order mark would make the first id "\ufeff<id>": that utterance then "missing" everywhere
    Case("bom-wav-scp-compute-fbank", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", "scp:" + str(_bom(Path(_wav_scp(w, d, 4, {})[4:]))),
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "wav.scp:1: starts with a UTF-8 byte-order mark (BOM)", ("out.ark", "out.scp", "fbank.yaml")),
    Case("bom-feats-scp-compute-cmvn", "compute-cmvn",
         lambda w, d: Run(["scp:" + str(_bom(Path(_scp_with(w, d, {}, n=3)[4:]))), d / "cmvn.ark"]), 1,
         "f.scp:1: starts with a UTF-8 byte-order mark (BOM)", OUT),
    # a NUL byte: in a wav.scp path os.open's "embedded null byte" traceback (now a bad utterance),
    # quoted as \x00 as a feats.scp value's is (shown_name: a raw NUL made the log binary to grep);
    # a file a crash left with blocks of zeros gave an id of 4096 NULs, printed to the terminal
    Case("nul-in-wav-scp-path-compute-fbank-one-of-24-skipped", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", _wav_scp(w, d, N, {2: "{d}/x\0y.wav"}),
                           f"ark,scp:{d}/out.ark,{d}/out.scp"]), 0,
         "skipping utterance '{u2}' ({d}/wav.scp:3: {d}/x\\x00y.wav): the name holds a NUL byte, which no file "
         "name or command can"),
    # old Mac line endings: one line, its first id holding the whole file; scored as one utterance, exit 0
    Case("cr-only-reference-score", "score",
         lambda w, d: Run(["--output-dir", d / "sc", *_hyp(d, REF5.replace("\n", "\r"), REF5)]), 1,
         "ref: CR-only (old Mac) line endings: no LF, a CR at byte 11 of the input", ("sc",)),
    Case("cr-only-stdin-tokenize", "tokenize",
         lambda w, d: Run([w.root / "lang" / "tokens.model"], _text_bytes(w, {}).replace(b"\n", b"\r")), 1,
         "<stdin>: CR-only (old Mac) line endings: no LF, a CR at byte", check=_stdout_lines(0)),
    Case("nul-padded-hypothesis-score", "score",
         lambda w, d: Run(["--output-dir", d / "sc", *_hyp_bytes(d, REF5, REF5.encode() + b"\0" * 4096)]), 1,
         "hyp:6: a NUL byte in the key, at character 0 of the line (a binary or damaged file?)", ("sc",)),
    Case("nul-in-path-transcriber", "lib", lambda w, d: Run(_transcribe(w, str(w.wavs[0]) + "\0x")), 1,
         "the name holds a NUL byte, which no file name or command can"),
    Case("bom-hypothesis-score", "score", lambda w, d: Run(_hyp_bytes(d, REF5, b"\xef\xbb\xbfa-1 the cat\n")), 1,
         "hyp:1: starts with a UTF-8 byte-order mark (BOM)"),
    Case("bom-text-validate-data-dir", "validate-data-dir",
         lambda w, d: Run(["--no-feats", _bom(_data_dir(w, d, n=4) / "text").parent]), 1,
         "text:1: starts with a UTF-8 byte-order mark (BOM)"),
    Case("bom-stdin-tokenize", "tokenize",
         lambda w, d: Run([w.root / "lang" / "tokens.model"], b"\xef\xbb\xbf" + _text_bytes(w, {})), 1,
         "<stdin>:1: starts with a UTF-8 byte-order mark (BOM)", check=_stdout_lines(0)),
    # an input holding nothing, a stats file that is not there: named once
    Case("empty-feats-scp-compute-cmvn", "compute-cmvn",
         lambda w, d: (d / "e.scp").write_text("") and None or Run([f"scp:{d}/e.scp", d / "cmvn.ark"]), 1,
         "re:ERROR \\(asrkit-compute-cmvn\\): scp:{d}/e.scp: no utterances to process$", OUT),
    Case("empty-feats-scp-apply-cmvn", "apply-cmvn",
         lambda w, d: (d / "e.scp").write_text("") and None or Run([w.root / "cmvn.ark", f"scp:{d}/e.scp",
                                                                     f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "re:ERROR \\(asrkit-apply-cmvn\\): scp:{d}/e.scp: no utterances to process$", OUT),
    Case("missing-stats-file-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([d / "nope.ark", f"scp:{w.root}/feats.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "re:ERROR \\(asrkit-apply-cmvn\\): {d}/nope.ark: no such file$", OUT),
    # A directory where an ark or stats file goes: os.open takes it, fdopen's IsADirectoryError carried
    # the descriptor as its file name, and the error report itself raised TypeError: a traceback.
    Case("directory-as-stats-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([_a_dir(d), f"scp:{w.root}/feats.scp", f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "re:ERROR \\(asrkit-apply-cmvn\\): {d}/adir.wav: is a directory, not an ark or matrix file$", OUT),
    Case("directory-in-feats-scp-decode-one-of-24-skipped", "decode",
         lambda w, d: Run(["--model", w.model, "--feats", _scp_with(w, d, {}, scp_values={5: "{d}"}),
                           "--output-dir", d / "dec"]), 0,
         "skipping {d}/f.scp:6: utterance '{u5}' ({d}): {d}: is a directory, not an ark or matrix file",
         check=_lines("dec/text", N - 1)),
    Case("directory-at-an-offset-in-feats-scp-compute-cmvn-one-of-24-skipped", "compute-cmvn",
         lambda w, d: Run([_scp_with(w, d, {}, scp_values={3: "{d}:12"}), d / "cmvn.ark"]), 0,
         "skipping {d}/f.scp:4: utterance '{u3}' ({d}:12): {d}: is a directory", check=_stats_frames(N - 1)),
    Case("directory-as-cmvn-train-cli", "train",
         lambda w, d: Run(["--train-dir", w.root, "--lang-dir", w.root / "lang", "--cmvn", _a_dir(d), d / "exp"]),
         1, "adir.wav: is a directory, not an ark or matrix file", ("exp/model.pt",)),
    # a held-out list is a table too (it used to end in a UnicodeDecodeError traceback)
    Case("non-utf8-dev-list-holdout-lists", "holdout-lists",
         lambda w, d: Run(["--dev-list", _non_utf8(d / "dev.list", w.utts[0], b"caf\xe9"), _data_dir(w, d, n=4),
                           d / "lists"]), 1,
         "dev.list:2: not UTF-8 text (unexpected end of data at byte 3 of the line)", ("lists",)),
    Case("bom-dev-list-holdout-lists", "holdout-lists",
         lambda w, d: Run(["--dev-list", _bom(_non_utf8(d / "dev.list", w.utts[0], w.utts[1].encode())),
                           _data_dir(w, d, n=4), d / "lists"]), 1,
         "dev.list:1: starts with a UTF-8 byte-order mark (BOM)", ("lists",)),
    # 'u spk0 two' in utt2spk: the pieces' and the perturbed copy's spk2utt listed speaker 'spk0'
    # with an utterance 'two'
    Case("two-speakers-in-utt2spk-split", "split-data-dir",
         lambda w, d: Run([_two_speakers(_data_dir(w, d, n=4)), "2"]), 1,
         "re:data/utt2spk:2: utterance '[^']+': expected one speaker id, got '\\S+ other' "
         "\\(asrkit-fix-data-dir (\\S+|'[^']+') drops that utterance\\)$", ("data/split2",)),
    Case("two-speakers-in-utt2spk-perturb", "perturb-data-dir-speed",
         lambda w, d: Run(["--factors", "1.0", _two_speakers(_data_dir(w, d, n=4)), d / "sp"]), 1,
         "data/utt2spk:2: utterance", ("sp",)),
    # --by-speaker drew 'spk0 other' as a speaker of its own, beside 'spk0'
    Case("two-speakers-in-utt2spk-holdout-lists", "holdout-lists",
         lambda w, d: Run(["--dev-fraction", "0.3", "--by-speaker", _two_speakers(_data_dir(w, d, n=4)), d / "lists"]),
         1, "re:data/utt2spk:2: utterance '[^']+': expected one speaker id, got '\\S+ other'$", ("lists",)),
    # an utterance listed twice in spk2utt (under one speaker or two): its frames were counted twice
    # in the stats (1266 frames for a 633-frame utterance), exit 0
    Case("utterance-twice-in-spk2utt-compute-cmvn", "compute-cmvn",
         lambda w, d: Run(["--spk2utt", f"ark:{_write(d / 'spk2utt', f'a {w.utts[0]} {w.utts[1]}{chr(10)}b {w.utts[2]} {w.utts[0]}{chr(10)}')}",
                           f"scp:{w.root}/feats.scp", f"ark:{d}/cmvn.ark"]), 1,
         "{d}/spk2utt:2: utterance '{u0}' is listed under speaker 'b' too (first under speaker 'a' on line 1)",
         ("cmvn.ark",)),
    Case("utterance-again-in-spk2utt-compute-cmvn", "compute-cmvn",
         lambda w, d: Run(["--spk2utt", f"ark:{_write(d / 'spk2utt', f'a {w.utts[0]} {w.utts[1]} {w.utts[0]}{chr(10)}')}",
                           f"scp:{w.root}/feats.scp", f"ark:{d}/cmvn.ark"]), 1,
         "{d}/spk2utt:1: utterance '{u0}' is listed again (first under speaker 'a' on line 1)", ("cmvn.ark",)),
    # ark:- or scp:- with nothing on stdin: was "ark:-: no utterances to process"
    Case("empty-stdin-ark-compute-cmvn", "compute-cmvn", lambda w, d: Run(["ark:-", d / "cmvn.ark"], stdin=b""), 1,
         "<stdin>: no data on stdin (no ark entries read)", ("cmvn.ark",)),
    Case("empty-stdin-scp-apply-cmvn", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", "scp:-", f"ark,scp:{d}/out.ark,{d}/out.scp"], stdin=b""), 1,
         "<stdin>: no data on stdin (0 lines read)", OUT),
    Case("launch-bad-job-range", "launch", lambda w, d: Run(["JOB=a:b", d / "log.JOB", "true"]), 1,
         "bad job range 'JOB=a:b' (expected e.g. JOB=1:4 or JOB=3)", ("JOB=a:b",)),
    # -- numbers in ASCII digits only, as Kaldi's strtol: str.isdigit() and int() take '٣' (an
    # Arabic-Indic 3), '３' (full-width) and int() '1_0' too, values no Kaldi tool reads -----------
    Case("non-ascii-digits-job-range-launch", "launch", lambda w, d: Run(["JOB=1:\u0663", d / "log.JOB", "true"]), 1,
         "bad job range 'JOB=1:\u0663' (expected e.g. JOB=1:4 or JOB=3)", ("log.1", "log.3")),
    Case("non-ascii-digits-utt2num-frames-validate", "validate-data-dir",
         lambda w, d: Run(["--no-wav", _frames_dir(w, d, {2: "\u0663\u0660"})]), 1,
         "data/utt2num_frames:3: number of frames must be a positive integer, got '\u0663\u0660'"),
    Case("non-ascii-digits-utt2num-frames-fix", "fix-data-dir",
         lambda w, d: Run([_frames_dir(w, d, {2: "\uff13\uff10"})]), 0,
         "dropped 1 utterance(s): utt2num_frames not a positive integer: {u2}"),
    Case("non-ascii-digits-utt2num-frames-train", "train",
         lambda w, d: _train(w, d, {}, frames={6: "\u0663\u0660"}), 1,
         "dump/utt2num_frames:7: bad frame count '\u0663\u0660' for '{u6}' (expected an integer in ASCII digits)",
         TRAIN_OUT),
    Case("underscore-digits-utt2num-frames-train", "train",
         lambda w, d: _train(w, d, {}, frames={6: "1_0"}), 1,
         "dump/utt2num_frames:7: bad frame count '1_0' for '{u6}'", TRAIN_OUT),
    Case("non-ascii-digits-token-list", "lib",
         lambda w, d: Run(_token_list(d, "<blank> 0\n<unk> \u0661\n<sos/eos> 2\n")), 1,
         "tokens.txt:2: expected id 1 for token '<unk>', got '\u0661'"),
    # -- an output path that cannot be made (a regular file where a directory must be) ---------------
    Case("output-under-a-file-compute-cmvn", "compute-cmvn",
         lambda w, d: Run([f"scp:{w.root}/feats.scp", _a_file(d) / "cmvn.ark"]), 1,
         "afile is a file, not a directory"),
    Case("output-under-a-file-compute-fbank", "compute-fbank",
         lambda w, d: Run(["--sample-frequency", "8000", f"scp:{w.root}/wav.scp",
                           f"ark,scp:{_a_file(d)}/sub/f.ark,{d}/f.scp"]), 1,
         "afile is a file, not a directory", ("f.scp",)),
    Case("output-under-a-file-decode", "decode",
         lambda w, d: Run(["--model", w.model, "--feats", f"scp:{w.root}/feats.scp", "--beam", "1",
                           "--output-dir", _a_file(d) / "dec"]), 1,
         "afile is a file, not a directory"),
    Case("output-is-a-directory-decode-ctm", "decode",
         lambda w, d: Run(["--model", w.model, "--feats", f"scp:{w.root}/feats.scp", "--beam", "1",
                           "--output-dir", d / "dec", "--ctm", d]), 1,
         "re:ERROR \\(asrkit-decode\\): {d}: is a directory, where the run would write --ctm$", ("dec/text",)),
    Case("output-under-a-file-decode-ctm-leaves-no-temp-files", "decode",
         lambda w, d: Run(["--model", w.model, "--feats", f"scp:{w.root}/feats.scp", "--beam", "1",
                           "--output-dir", d / "dec", "--segments-out", d / "segs", "--ctm", _a_file(d) / "ctm"]), 1,
         "afile is a file, not a directory", ("dec/text", "dec/nbest.jsonl", "segs")),
    # one output named twice: both written to one temporary file (text garbled, exit 0), or
    # decode.yaml written over the CTM
    Case("ctm-is-the-output-dirs-text-decode", "decode",
         lambda w, d: Run(["--model", w.model, "--feats", f"scp:{w.root}/feats.scp", "--beam", "1",
                           "--output-dir", d / "dec", "--ctm", d / "dec" / "text"]), 1,
         "--ctm {d}/dec/text is the same file as --output-dir's text: give it a path of its own", ("dec/text",)),
    Case("ctm-is-the-output-dirs-decode-yaml", "decode",
         lambda w, d: Run(["--model", w.model, "--feats", f"scp:{w.root}/feats.scp", "--beam", "1",
                           "--output-dir", d / "dec", "--ctm", d / "dec" / ".." / "dec" / "decode.yaml"]), 1,
         "is the same file as --output-dir's decode.yaml", ("dec/text", "dec/decode.yaml")),
    Case("ctm-and-segments-out-one-file-decode", "decode",
         lambda w, d: Run(["--model", w.model, "--feats", f"scp:{w.root}/feats.scp", "--beam", "1",
                           "--ctm", d / "out", "--segments-out", d / "out"]), 1,
         "--segments-out {d}/out is the same file as --ctm", ("out",)),
    # an output that is an input of the run: renamed over it at the end (exit 0, the input gone)
    Case("segments-out-is-the-segments-read-decode", "decode",
         lambda w, d: Run(["--model", w.model, "--beam", "1", "--wav-scp", f"scp:{d}/data/wav.scp",
                           "--segments", _data_dir(w, d, segments="s1-a {reco} 0 1.5\ns1-b {reco} 1 2\n") / "segments",
                           "--segments-out", d / "data" / "segments"]), 1,
         "--segments-out {d}/data/segments is the same file as --segments {d}/data/segments, which the run reads: "
         "it would be overwritten", check=_starts_with("data/segments", "s1-a ")),
    # --ctm naming the ark --feats' scp reads: checked against the scp alone, the features were
    # replaced by the CTM (exit 0)
    Case("ctm-is-the-ark-the-feats-scp-reads-decode", "decode",
         lambda w, d: Run(["--model", w.model, "--beam", "1", "--feats", _scp_with(w, d, {}), "--ctm", d / "f.ark"]),
         1, "--ctm {d}/f.ark is the same file as --feats scp:{d}/f.scp, which the run reads: it would be overwritten",
         check=lambda w, d, r: _written("f.scp", N)(w, d, r)),
    # an output that is a recording the wav.scp names (--ctm data/a.wav): renamed over it at the end
    Case("ctm-is-a-recording-the-wav-scp-names-decode", "decode",
         lambda w, d: Run(["--model", w.model, "--beam", "1", "--wav-scp", _wav_scp(w, d, 3, {0: _a_copy(w, d)}),
                           "--ctm", d / "a.wav"]), 1,
         "--ctm {d}/a.wav is the same file as the recording {d}/a.wav of --wav-scp scp:{d}/wav.scp, which the run "
         "reads: it would be overwritten", check=_recording_intact),
    Case("ctm-out-is-a-recording-the-wav-scp-names-align", "align",
         lambda w, d: Run(["--model", w.model, _wav_scp(w, d, 3, {0: _a_copy(w, d)}),
                           _copy(w.root / "text", d / "text"), d / "a.wav"]), 1,
         "<ctm-out> {d}/a.wav is the same file as the recording {d}/a.wav of <wav-rspecifier> scp:{d}/wav.scp",
         check=_recording_intact),
    Case("ark-is-a-recording-the-wav-scp-names-compute-fbank", "compute-fbank",
         lambda w, d: Run([_wav_scp(w, d, 3, {0: _a_copy(w, d)}), f"ark,scp:{d}/a.wav,{d}/f.scp"]), 1,
         "{d}/a.wav: a recording the wav.scp names and the ark ({d}/a.wav) are the same file", ("f.scp",),
         check=_recording_intact),
    Case("ctm-out-is-the-text-read-align", "align",
         lambda w, d: Run(["--model", w.model, f"scp:{w.root}/wav.scp", _copy(w.root / "text", d / "text"),
                           d / "text"]), 1,
         "<ctm-out> {d}/text is the same file as <text-file> {d}/text, which the run reads",
         check=_starts_with("text", "{u0} ")),
    Case("output-under-a-file-train-tokenizer", "train-tokenizer",
         lambda w, d: Run(["--model-type", "char", w.root / "text", _a_file(d) / "lang"]), 1,
         "afile is a file, not a directory"),
    # sentencepiece's seed is unsigned 32-bit: pybind's TypeError traceback for -1 and 2**32
    Case("negative-seed-train-tokenizer", "train-tokenizer",
         lambda w, d: Run(["--model-type", "char", "--seed", "-1", w.root / "text", d / "lang"]), 1,
         "--seed -1: must be a whole number in [0, 2**32 - 1]", ("lang",)),
    Case("seed-over-32-bits-train-tokenizer", "train-tokenizer",
         lambda w, d: Run(["--model-type", "char", "--seed", str(2 ** 32), w.root / "text", d / "lang"]), 1,
         "--seed 4294967296: must be a whole number in [0, 2**32 - 1]", ("lang",)),
    Case("output-name-too-long-score", "score",
         lambda w, d: Run([*_hyp(d, REF5, REF5), "--output-dir", d / ("x" * 300)]), 1,
         "file name too long"),
    # -- audio file names are files, not Kaldi rxfilenames; the Transcriber's arrays ---------------------
    Case("file-named-like-a-pipe-decode-is-read-not-run", "decode",
         lambda w, d: Run(["--model", w.model, "--beam", "1", "--maxlenratio", "0.1", _pipe_named_wav(w, d),
                           w.wavs[1]]), 0,
         "Done 2 out of 2 utterances (0 failed)", check=_stdout_has("evil|")),
    Case("directory-among-audio-files-decode-one-of-25-skipped", "decode",
         lambda w, d: Run(["--model", w.model, "--beam", "1", "--maxlenratio", "0.1", *w.wavs, _a_dir(d)]), 0,
         "skipping utterance 'adir' ({d}/adir.wav): is a directory, not an audio file", check=_stdout_lines(N)),
    Case("path-named-like-a-pipe-transcriber-is-read-not-run", "lib",
         lambda w, d: Run(_transcribe(w, _pipe_named_wav(w, d))), 0, ""),
    Case("channels-first-array-transcriber", "lib",
         lambda w, d: Run(_transcribe(w, (_wav_samples(w)[None], 8000))), 1,
         "input 0: samples of shape (1, {n0}) have more channels than frames; 2-D samples are (frames, channels), "
         "and torchaudio.load gives (channels, frames)"),
    Case("float-sample-rate-transcriber", "lib", lambda w, d: Run(_transcribe(w, (_wav_samples(w), 8000.0))), 0, ""),
    Case("fractional-sample-rate-transcriber", "lib",
         lambda w, d: Run(_transcribe(w, (_wav_samples(w), 8000.5))), 1, "input 0: bad sample rate 8000.5"),
    # a recording over the sample limit is named with the option that raises it, which decode
    # and align now have (the message named compute-fbank's --max-samples; decode had none, so a
    # 2 h 48 kHz stereo recording could not be decoded at all)
    Case("over-max-samples-decode", "decode",
         lambda w, d: Run(["--model", w.model, "--beam", "1", "--max-samples", "1000", *w.wavs[:2]]), 1,
         "all 2 utterances failed (first: utterance '{u0}' (", check=_stderr_has("is over the limit of 1000 samples "
                                                                                   "per read (--max-samples)")),
    Case("over-max-samples-align", "align",
         lambda w, d: Run(["--model", w.model, "--max-samples", "1000", f"scp:{w.root}/wav.scp", w.root / "text",
                           d / "ctm"]), 1, "is over the limit of 1000 samples per read (--max-samples)", ("ctm",)),
    # a wav.scp that is a pipe (--wav-scp <(...)): read once for the count and again for the
    # audio, it gave nothing the second time and the run failed with "no utterances to process"
    Case("wav-scp-from-a-pipe-decode", "decode",
         lambda w, d: Run(["--model", w.model, "--beam", "1", "--maxlenratio", "0.1",
                           "--wav-scp", _pipe_path(Path(_wav_scp(w, d, 4, {})[4:]).read_bytes())]), 0,
         "Done 4 out of 4 utterances (0 failed)", check=_stdout_lines(4)),
    Case("feats-scp-from-a-pipe-decode", "decode",
         lambda w, d: Run(["--model", w.model, "--beam", "1", "--maxlenratio", "0.1",
                           "--feats", "scp:" + _pipe_path((w.root / "feats.scp").read_bytes())]), 0,
         "Done 24 out of 24 utterances (0 failed)", check=_stdout_lines(N)),
    Case("channel-as-a-string-transcriber", "lib",
         lambda w, d: Run(_new_transcriber(w, channel="1")), 1,
         "channel must be None (the mean of the channels) or a channel number >= 0 (0-based), got '1'"),
    Case("ragged-samples-transcriber", "lib", lambda w, d: Run(_transcribe(w, ([0.0, [0.1, 0.2]], 8000))), 1,
         "input 0: samples are not an array of numbers"),
    # numpy counts timedelta64 as a signed integer: np.iinfo's "Invalid integer data type 'm'" traceback
    Case("timedelta-samples-transcriber", "lib",
         lambda w, d: Run(_transcribe(w, (np.arange(8000).astype("timedelta64[s]"), 8000))), 1,
         "input 0: samples of type timedelta64[s] are not audio"),
    # (frames=2, channels=0): the mean over no channels was NaN, "non-finite sample values" and a RuntimeWarning
    Case("zero-channel-samples-transcriber", "lib",
         lambda w, d: Run(_transcribe(w, (np.zeros((2, 0), np.float32), 8000))), 1, "input 0: empty audio"),
    # a list of ints is int64 to numpy: int16 values at int64's scale decoded to an empty text with no word
    Case("list-of-int16-values-transcriber", "lib",
         lambda w, d: Run(_transcribe(w, (_wav_samples(w, "int16").tolist(), 8000))), 1,
         "within int16's range: int16 values in a wider type, taken at int64's scale"),
    # torch tensors numpy cannot hold: bfloat16 ("Got unsupported ScalarType BFloat16"), sparse, meta
    Case("bfloat16-tensor-transcriber", "lib",
         lambda w, d: Run(_transcribe(w, (_torch().from_numpy(_wav_samples(w)).bfloat16(), 8000))), 0, ""),
    Case("sparse-tensor-transcriber", "lib",
         lambda w, d: Run(_transcribe(w, (_torch().from_numpy(_wav_samples(w)).to_sparse(), 8000))), 0, ""),
    Case("meta-tensor-transcriber", "lib",
         lambda w, d: Run(_transcribe(w, (_torch().empty(8000, device="meta"), 8000))), 1,
         "input 0: cannot read the tensor's samples (torch.float32 on meta: "),
    # from_file's arguments: None as model was os.stat's TypeError, bytes torch.load's "no attribute
    # 'seek'", a dict as config os.fspath's TypeError
    Case("model-none-transcriber", "lib", lambda w, d: Run(_transcriber_from(None)), 1,
         "Transcriber.from_file: model must be a path (str or os.PathLike) to a packed model.pt, got NoneType"),
    Case("model-bytes-transcriber", "lib", lambda w, d: Run(_transcriber_from(bytes(w.model))), 1,
         "Transcriber.from_file: model must be a path (str or os.PathLike) to a packed model.pt, got bytes"),
    # the constructor given a path (from_file was meant): "'str' object has no attribute 'features'" at
    # the first transcribe()
    Case("constructor-given-a-path-transcriber", "lib", lambda w, d: Run(_transcriber_ctor(w.model)), 1,
         "Transcriber() takes a loaded Recognizer, got PosixPath: load a model file with Transcriber.from_file(path)"),
    # the LM's exp dir for lm=: "no such LM file" (asrkit-decode --lm exp/lm the same)
    Case("lm-is-a-directory-transcriber", "lib", lambda w, d: Run(_new_transcriber(w, lm=str(d), lm_weight=0.3)), 1,
         "{d}: a directory, not an LM file (e.g. {d}/lm.pt)"),
    # asrkit-decode's --max-samples: arrays had no limit at all, and a file over it could not be
    # transcribed (the error named a command-line option the API did not have)
    Case("array-over-max-samples-transcriber", "lib",
         lambda w, d: Run(_transcriber_call(w, (_wav_samples(w), 8000), max_samples=1000)), 1,
         "input 0: {n0} samples (over all channels) is over the limit of 1000 samples per input (max_samples="),
    Case("file-over-max-samples-transcriber", "lib",
         lambda w, d: Run(_transcriber_call(w, str(w.wavs[0]), max_samples=1000)), 1,
         "is over the limit of 1000 samples per read"),
    Case("max-samples-zero-transcriber", "lib", lambda w, d: Run(_new_transcriber(w, max_samples=0)), 1,
         "max_samples must be a whole number >= 1 (samples per input, over its channels), got 0"),
    Case("config-dict-transcriber", "lib", lambda w, d: Run(_new_transcriber(w, config={"beam": 2})), 1,
         "Transcriber.from_file: config must be a decode.yaml path or a DecodeConfig"),
    # -- a model.pt that does not hold together (hand-edited, another tool's, another tokenizer's) -------
    # neither a tokenizer nor a token list: an IndexError traceback at the first hypothesis
    Case("model-without-tokens-decode", "decode",
         lambda w, d: Run(["--model", _model_with(w, d, tokenizer=None, tokens=[]), "--beam", "1",
                           "--maxlenratio", "0.1", "--output-dir", d / "dec", *w.wavs[:2]]), 1,
         "m.pt: the model holds neither a tokenizer nor a token list", ("dec/text",)),
    # another tokenizer's pieces: "token id 10 out of range" naming nothing, or garbage text with exit 0
    Case("model-with-a-smaller-tokenizer-decode", "decode",
         lambda w, d: Run(["--model", _model_with(w, d, tokenizer=_small_tokenizer(), tokens=[]), "--beam", "1",
                           *w.wavs[:2]]), 1, "m.pt: damaged asrkit model: its tokenizer has 7 tokens, its output "
                                             "layer 9"),
    # a sample rate no audio has: resampling to 1e12 Hz was a 3 TB allocation and a MemoryError traceback
    Case("model-fbank-rate-absurd-decode", "decode",
         lambda w, d: Run(["--model", _model_with(w, d, feature_config={**FBANK.to_dict(), "sample_frequency": 1e12}),
                           "--beam", "1", *w.wavs[:2]]), 1,
         "m.pt: damaged asrkit model: feature_config: bad fbank config: sample_frequency must be a whole number "
         "of Hz up to 768000, got 1e+12"),
    Case("model-fbank-rate-absurd-transcriber", "lib",
         lambda w, d: Run(_new_transcriber(_world_with_model(w, _model_with(
             w, d, feature_config={**FBANK.to_dict(), "sample_frequency": 8000.5})))), 1,
         "sample_frequency must be a whole number of Hz up to 768000, got 8000.5"),
    # transcripts without audio were left out with "Done 24 out of 24" and not a word
    Case("transcripts-without-audio-align-named", "align",
         lambda w, d: Run(["--model", w.model, f"scp:{w.root}/wav.scp",
                           _write(d / "text", (w.root / "text").read_text() + "ghost1 YES\nghost2 NO\n"), d / "ctm"]),
         0, "2 transcript(s) have no audio among the 24 utterances given, and are not aligned: ghost1 ghost2",
         check=_ctm_utts(N)),
    # lower-case transcripts for an upper-case model: every word <unk>, "aligned" with confidence 0, exit 0
    Case("lower-case-transcripts-align", "align",
         lambda w, d: Run(["--model", w.model, f"scp:{w.root}/wav.scp",
                           _write(d / "text", "".join(f"{u} {t.lower()}\n" for u, t in (
                               ln.split(" ", 1) for ln in (w.root / "text").read_text().splitlines()))), d / "ctm"]),
         1, "text: the model knows no token of any of the 24 transcripts (every word is unknown to it): the "
            "transcripts are lower case and the model's tokens upper case", ("ctm",)),
    # /dev/null, a FIFO or a device as the model or the LM: "no such model file" for a path that is there
    # (torch reads a zip archive by seeking: such a path cannot hold one, and is never opened)
    Case("model-is-dev-null-decode", "decode",
         lambda w, d: Run(["--model", "/dev/null", "--beam", "1", w.wavs[0]]), 1,
         "/dev/null: a character device, not a model file (a model is read from a regular file, which torch seeks "
         "in; copy it to one)"),
    Case("model-is-a-fifo-align", "align",
         lambda w, d: Run(["--model", _fifo(d / "m.pt"), f"scp:{w.root}/wav.scp", w.root / "text", d / "ctm"]), 1,
         "{d}/m.pt: a named pipe, not a model file", ("ctm",)),
    Case("lm-is-a-fifo-decode", "decode",
         lambda w, d: Run(["--model", w.model, "--lm", _fifo(d / "lm.pt"), "--lm-weight", "0.3", "--beam", "1",
                           w.wavs[0]]), 1, "{d}/lm.pt: a named pipe, not an LM file"),
    # a model packed without a feature config given audio: each recording was read and skipped as
    # "skipping the model holds no feature config ...", the run failing only at the end
    Case("model-without-feature-config-audio-decode", "decode",
         lambda w, d: Run(["--model", _model_with(w, d, feature_config=None), "--beam", "1", "--output-dir", d / "dec",
                           *w.wavs[:2]]), 1,
         "m.pt: the model holds no feature config (it was packed to decode given features only), so it cannot read "
         "audio, only features (asrkit-decode --feats)", ("dec/text",), check=_nothing_read),
    Case("model-without-feature-config-align", "align",
         lambda w, d: Run(["--model", _model_with(w, d, feature_config=None), f"scp:{w.root}/wav.scp", w.root / "text",
                           d / "ctm"]), 1, "m.pt: the model holds no feature config (it was packed to decode given "
                                           "features only), so it cannot read audio", ("ctm",), check=_nothing_read),
    Case("model-without-feature-config-feats-decode", "decode",
         lambda w, d: Run(["--model", _model_with(w, d, feature_config=None), "--beam", "1", "--maxlenratio", "0.1",
                           "--feats", f"scp:{w.root}/feats.scp"]), 0,
         "Done 24 out of 24 utterances (0 failed)", check=_stdout_lines(N)),
    # a model.pt of a newer asrkit: "damaged asrkit model: model: unknown option(s) ..." sent users to retrain
    Case("model-config-key-of-a-newer-asrkit-decode", "decode",
         lambda w, d: Run(["--model", _model_with(w, d, model_config={
             **__import__("torch").load(w.model, weights_only=True)["model_config"], "rope_theta": 1e4}),
                           "--beam", "1", *w.wavs[:2]]), 1,
         "m.pt: unknown model option 'model.rope_theta': the model was probably written by a newer asrkit than this "
         "one"),
    # a bare path for --feats: kaldiio's words spoke of an output ("The output file must be specified
    # with kaldi-specifier style, e.g. ark,scp:out.ark,out.scp")
    Case("bare-path-as-feats-decode", "decode",
         lambda w, d: Run(["--model", w.model, "--beam", "1", "--feats", w.root / "feats.scp"]), 1,
         "re:bad specifier '.*/feats.scp': no ark: or scp: before the file name \\(Kaldi's form: "
         "scp:data/x/feats.scp or ark:feats.ark to read"),
    # -- accepted without a word before --------------------------------------------------------------
    Case("duplicate-key-in-feats-scp", "compute-cmvn",
         lambda w, d: Run([_dup_scp(w, d), d / "cmvn.ark"]), 1,
         "f.scp:3: duplicate key '{u0}' (first on line 1)", OUT),
    Case("duplicate-key-in-feats-scp-random-access-library", "lib",
         lambda w, d: Run(_library_train_feats(_dup_scp(w, d)[4:])), 1, "f.scp:3: duplicate key '{u0}'"),
    Case("duplicate-id-in-utt-ids-decode", "decode",
         lambda w, d: Run(["--model", w.model, "--feats", f"scp:{w.root}/feats.scp", "--beam", "1",
                           "--utt-ids", _write(d / "ids", f"{w.utts[0]}\n{w.utts[1]}\n\n{w.utts[0]} again\n"),
                           "--output-dir", d / "dec"]), 1,
         "ids:4: duplicate utterance id '{u0}' (first on line 1)", ("dec/text",)),
    Case("duplicate-key-in-ark", "apply-cmvn",
         lambda w, d: Run([w.root / "cmvn.ark", _dup_ark(w, d), f"ark,scp:{d}/out.ark,{d}/out.scp"]), 1,
         "f.ark: duplicate key '{u0}' (entries 1 and 3)", OUT),
]


# -- disks that refuse to be written ----------------------------------------------------------------
# (command, arguments given the output dir `o` (prepared in advance), the path the error must name)
DISK_COMMANDS: List[Tuple[str, str, Callable[[World, Path], List[object]], str]] = [
    ("fbank", "compute-fbank",
     lambda w, o: ["--sample-frequency", "8000", f"scp:{w.root}/wav.scp", f"ark,scp:{o}/feats.ark,{o}/feats.scp"],
     "feats.ark"),
    ("fbank-nj2", "compute-fbank",
     lambda w, o: ["--nj", "2", "--sample-frequency", "8000", f"scp:{w.root}/wav.scp",
                   f"ark,scp:{o}/feats.ark,{o}/feats.scp"], r"feats\.[12]\.ark"),
    ("cmvn-global", "compute-cmvn", lambda w, o: [f"scp:{w.root}/feats.scp", o / "cmvn.ark"], "cmvn.ark"),
    ("cmvn-table", "compute-cmvn", lambda w, o: [f"scp:{w.root}/feats.scp", f"ark,scp:{o}/c.ark,{o}/c.scp"],
     r"c\.(ark|scp)"),
    ("apply-cmvn", "apply-cmvn",
     lambda w, o: [w.root / "cmvn.ark", f"scp:{w.root}/feats.scp", f"ark,scp:{o}/f.ark,{o}/f.scp"], r"f\.(ark|scp)"),
    ("score", "score", lambda w, o: ["--output-dir", o, w.root / "text", w.root / "text"], r"(wer|result)\.txt"),
    ("train-tokenizer", "train-tokenizer", lambda w, o: ["--model-type", "char", w.root / "text", o],
     r"tokens\.model"),
    ("launch", "launch", lambda w, o: [o / "x.log", "true"], r"x\.log"),
    # text on stdout; the segments file (a line per utterance) hits the full disk when closed
    ("decode", "decode",
     lambda w, o: ["--model", w.model, "--feats", f"scp:{w.root}/feats.scp", "--beam", "1", "--maxlenratio", "0.1",
                   "--ctm", o / "ctm", "--segments-out", o / "segs"], r"(ctm|segs)"),
    ("fix-data-dir", "fix-data-dir", lambda w, o: [o / "data"], r"data/(\.backup/)?\S+"),
    ("split-data-dir", "split-data-dir", lambda w, o: ["--per-utt", o / "data", "2"], r"data/split2\S*"),
    ("perturb", "perturb-data-dir-speed", lambda w, o: ["--factors", "1.0", o / "data", o / "sp"], r"sp\S*"),
    # FLAC copies written by libsndfile, which said only "System error." (a traceback) on a full disk
    ("perturb-audio", "perturb-data-dir-speed",
     lambda w, o: ["--factors", "0.9 1.0", "--method", "audio", o / "data", o / "sp"], r"sp\S*"),
]
DISK_ERRORS = {"ENOSPC": "no space left on device", "EROFS": "read-only file system", "EACCES": "permission denied"}


def _disk_case(kind: str, name: str, command: str, args, what: str) -> Case:
    def build(w: World, o: Path) -> Run:
        return Run(args(w, o))

    return Case(f"{kind}-{name}", command, build, 1, f"re:{{d}}/{what}: {DISK_ERRORS[kind]}$", disk=kind)


CASES += [_disk_case(kind, *spec) for kind in DISK_ERRORS for spec in DISK_COMMANDS]


def _prepare_disk_dir(w: World, o: Path) -> None:
    """What a disk case needs before its disk is filled or made read-only: its dir and a data dir."""
    o.mkdir(parents=True, exist_ok=True)
    data = o / "data"
    data.mkdir()
    for t in ("wav.scp", "text", "utt2spk"):
        shutil.copy(w.root / t, data / t)


@dataclass
class Disks:
    dirs: Dict[str, Path] = field(default_factory=dict)  # kind -> parent of the per-case dirs
    mounted: List[Path] = field(default_factory=list)
    how: Dict[str, str] = field(default_factory=dict)  # kind -> "tmpfs" or why it is simulated


# A test run's tmpfs mounts are named after its process, so a later run can tell the ones a
# killed run left behind (its finalizer never ran: they stayed mounted, under pytest's old temp
# dirs, which pytest could then not remove) from those of a run still going beside it.
MOUNT_NAME = "asrkit-test-"


def _mount(target: Path, options: str) -> Optional[str]:
    """Mount a tmpfs; None on success, else why not."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return "not root"
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, f"{MOUNT_NAME}{os.getpid()}", str(target)],
                          capture_output=True, text=True)
    return None if proc.returncode == 0 else proc.stderr.strip() or f"mount exited {proc.returncode}"


def _unmount_stale() -> None:
    """Unmount the tmpfs mounts of earlier runs of this module whose process is gone."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    for line in lines:
        fields = line.split()
        if len(fields) < 3 or fields[2] != "tmpfs" or not fields[0].startswith(MOUNT_NAME):
            continue
        pid = fields[0][len(MOUNT_NAME):]
        if not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        # /proc/mounts writes a space, tab, newline or backslash in a path as an octal escape
        target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
        subprocess.run(["umount", "-l", target], capture_output=True)


@pytest.fixture(scope="module")
def disks(world, tmp_path_factory) -> Disks:
    if os.geteuid() == 0:
        _unmount_stale()
    base = tmp_path_factory.mktemp("disks")
    result = Disks()
    try:
        for kind in DISK_ERRORS:
            top = base / kind
            top.mkdir()
            result.dirs[kind] = top
            why = _mount(top, "size=4m,mode=755") if kind != "EACCES" else None
            if kind != "EACCES" and why is None:
                result.mounted.append(top)
            for name, *_ in DISK_COMMANDS:
                _prepare_disk_dir(world, top / name)
            if kind == "ENOSPC" and why is None:
                _fill(top / "filler")
            if kind == "EROFS" and why is None:
                proc = subprocess.run(["mount", "-o", "remount,ro", str(top)], capture_output=True, text=True)
                why = None if proc.returncode == 0 else proc.stderr.strip()
            if kind == "EACCES":
                for name, *_ in DISK_COMMANDS:  # root's, not writable: EACCES once root's override is dropped
                    for p in [top / name, *(top / name).rglob("*")]:
                        p.chmod(0o555 if p.is_dir() else 0o444)
                why = None if _dac_override_can_drop() else "cannot drop CAP_DAC_OVERRIDE (capset)"
            result.how[kind] = "real" if why is None else f"simulated ({why})"
        yield result
    finally:
        for top in result.mounted:
            subprocess.run(["umount", "-l", str(top)], capture_output=True)
        eacces = result.dirs.get("EACCES")
        if eacces is not None:
            for p in [eacces, *eacces.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)


def _fill(path: Path) -> None:
    """Write ``path`` until the file system has not one byte left (unbuffered: nothing left to flush)."""
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 16, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * size)


# Root ignores directory permissions through CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH/CAP_FOWNER. They
# can be dropped from this thread's effective set for one call and raised again afterwards.
_CAP_BITS = (1 << 1) | (1 << 2) | (1 << 3)
_CAP_V3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _capset(effective: Optional[int]) -> Optional[int]:
    """Set this thread's effective capabilities (low word); returns the previous ones, None if impossible."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        data = (_CapData * 2)()
        if libc.capget(ctypes.byref(_CapHeader(_CAP_V3, 0)), data) != 0:
            return None
        previous = data[0].effective
        if effective is not None:
            data[0].effective = effective
            if libc.capset(ctypes.byref(_CapHeader(_CAP_V3, 0)), data) != 0:
                return None
        return previous
    except (OSError, AttributeError):
        return None


def _dac_override_can_drop() -> bool:
    if os.geteuid() != 0:
        return True  # not root: permissions apply anyway
    previous = _capset(None)
    if previous is None or _capset(previous & ~_CAP_BITS) is None:
        return False
    _capset(previous)
    return True


@contextlib.contextmanager
def _as_disk(kind: str, disks: Disks, monkeypatch):
    """Run the command against the prepared disk; simulated at the lowest write level where the
    real thing cannot be made here (no root, no mount): our temp-file creation then fails."""
    if disks.how[kind] != "real":
        import tempfile

        code = getattr(errno, kind)

        def refuse(*args, dir=None, prefix="", suffix="", **kw):
            raise OSError(code, os.strerror(code), os.path.join(str(dir), f"{prefix}xxxxxxxx{suffix}"))

        def refuse_open(path, mode="r", *args, **kw):
            if any(c in mode for c in "wax+"):
                raise OSError(code, os.strerror(code), str(path))
            return open(path, mode, *args, **kw)

        import asrkit.launch.local

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        monkeypatch.setattr(tempfile, "mkdtemp", refuse)
        monkeypatch.setattr(asrkit.launch.local, "open", refuse_open, raising=False)  # logs are not temp files
        yield
        return
    if kind == "EACCES" and os.geteuid() == 0:
        previous = _capset(None)
        _capset(previous & ~_CAP_BITS)
        try:
            yield
        finally:
            _capset(previous)
        return
    yield


def _fmt(text: str, w: World, d: Path) -> str:
    import soundfile as sf

    return text.format(d=d, n0=sf.info(str(w.wavs[0])).frames, **{f"u{i}": u for i, u in enumerate(w.utts)},
                       **{f"f{i}": w.feats[u].shape[0] for i, u in enumerate(w.utts)})


def _temp_files(directory: Path) -> List[str]:
    return sorted(str(p) for p in directory.rglob("*") if re.match(r"^\..+\.tmp$", p.name))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_hostile_input(case: Case, world: World, tmp_path: Path, request, monkeypatch):
    if case.disk is not None:
        disks = request.getfixturevalue("disks")
        d = disks.dirs[case.disk] / case.id.split("-", 1)[1]
        before = sorted(str(p) for p in d.rglob("*"))
    else:
        d = tmp_path
    run = case.build(world, d)
    monkeypatch.chdir(d)  # a command that took an argument for a relative output would write here
    if case.command == "lib":
        result = run_library(run)
    elif case.disk is not None:
        with _as_disk(case.disk, disks, monkeypatch):
            result = run_inproc(case.command, run)
    else:
        result = run_inproc(case.command, run)
    expected = _fmt(case.message, world, d)
    err = result.stderr
    assert "Traceback" not in err, err
    if case.code is None:
        assert result.code != 0, err
    else:
        assert result.code == case.code, err
    if expected.startswith("re:"):
        lines = [line for line in err.splitlines() if line.startswith("ERROR (")]
        assert len(lines) == 1 and re.search(expected[3:], lines[0]), err
    else:
        assert expected in err, err
    assert not (d / "MARKER").exists(), "the pickle in the data file was loaded: code ran from data"
    for name in case.absent:
        assert not (d / name).exists(), f"{name} written by a failed run"
    assert _temp_files(d) == []
    if case.disk is not None:
        assert sorted(str(p) for p in d.rglob("*")) == before, "the failed run left something behind"
    if case.check is not None:
        case.check(world, d, result)


def test_disks_are_real_where_possible(disks):
    """Says (in -rA output) which disk errors were real and which simulated; fails in CI if simulated."""
    simulated = {k: v for k, v in disks.how.items() if v != "real"}
    if simulated and os.environ.get("ASRKIT_REQUIRE_CORPORA") == "1" and os.geteuid() == 0:
        pytest.fail(f"disk errors simulated in CI: {simulated}")
    if simulated:
        pytest.skip(f"simulated: {simulated}")


# -- faults: killed and terminated runs ------------------------------------------------------------
def _blocking_wav_scp(w: World, d: Path, n: int = 4) -> Path:
    """A wav.scp whose pipes each announce themselves and then wait (for the test to kill them)."""
    lines = []
    for u, wav in zip(w.utts[:n], w.wavs[:n]):
        started, sleepers, wav = (shlex.quote(str(p)) for p in (d / f"started.{u}", d / "sleepers", wav))
        lines.append(f"{u} touch {started}; sleep 600 & echo $! >> {sleepers}; wait; cat {wav} |\n")
    (d / "wav.scp").write_text("".join(lines))
    return d / "wav.scp"


def _kill_sleepers(d: Path) -> None:
    if (d / "sleepers").exists():
        for pid in (d / "sleepers").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def _wait_for(condition: Callable[[], bool], what: str, deadline_s: float = 300.0) -> None:
    """Poll an observable condition; the deadline is for a hung test, not a speed assumption."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _fbank_cmd(d: Path, scp: Path, nj: int) -> List[str]:
    return [sys.executable, "-m", "asrkit", "compute-fbank", "--nj", str(nj), "--sample-frequency", "8000",
            f"scp:{scp}", f"ark,scp:{d}/out/feats.ark,{d}/out/feats.scp"]


def _workers(pid: int) -> List[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_sigkill_leaves_no_workers_and_the_next_run_cleans_up(world: World, tmp_path: Path):
    d = tmp_path
    scp = _blocking_wav_scp(world, d)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(_fbank_cmd(d, scp, 2), stderr=subprocess.PIPE, env=env)
    try:
        # Both jobs have started their first utterance: pieces are contiguous, 0-1 and 2-3.
        _wait_for(lambda: (d / f"started.{world.utts[0]}").exists() and (d / f"started.{world.utts[2]}").exists()
                  or proc.poll() is not None, "both fbank jobs to start")
        assert proc.poll() is None, proc.communicate()[1].decode()
        workers = [p for p in _workers(proc.pid)]
        assert len(workers) == 2, workers
        proc.kill()
        proc.wait()
        _wait_for(lambda: all(ended(p) for p in workers), "the workers to die with their parent")
    finally:
        _kill_sleepers(d)
        if proc.poll() is None:
            proc.kill()
    left = _temp_files(d / "out")
    assert len(left) == 2, left  # SIGKILL runs no clean-up: the next run must do it
    with open(scp, "w") as f:
        f.writelines(f"{u} {w}\n" for u, w in zip(world.utts[:4], world.wavs[:4]))
    done = subprocess.run(_fbank_cmd(d, scp, 2), capture_output=True, env=env)
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert err.count("a temporary file left by an interrupted run") == 2, err
    assert _temp_files(d / "out") == []
    assert len(kaldiio.load_scp(str(d / "out" / "feats.scp"))) == 4


def _signal_once_started(world: World, d: Path, cmd: List[str], command: str, sig: int,
                         while_running: Callable[[subprocess.Popen], Any] = lambda proc: None) -> Any:
    """Run ``cmd`` (asrkit-``command`` reading _blocking_wav_scp's list in ``d``) with the default
    signal handling, send it ``sig`` once it has started its first utterance, and check that it stops
    as that signal's one line says, no traceback, and ends by that signal (it exited 128 + sig
    before: the shell waiting for it went on as after an exit, test_interrupt_ends_by_signal.py). ``while_running(proc)`` checks it
    before the signal; what it returns is returned."""
    def default_signals():
        # (a suite run in the background inherits SIGINT ignored, one under nohup SIGHUP, and an
        # ignored signal is kept so; SIGHUP as a closed terminal sends it)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)

    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=dict(os.environ, OMP_NUM_THREADS="1"), preexec_fn=default_signals)
    try:
        _wait_for(lambda: (d / f"started.{world.utts[0]}").exists() or proc.poll() is not None, f"{command} to start")
        assert proc.poll() is None, proc.communicate()[1].decode()
        seen = while_running(proc)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=300)
    finally:
        _kill_sleepers(d)
        if proc.poll() is None:
            proc.kill()
    err = err.decode()
    assert proc.returncode == -sig, err
    said = "interrupted" if sig == signal.SIGINT else f"terminated by {signal.Signals(sig).name}"
    assert f"ERROR (asrkit-{command}): {said}" in err and "Traceback" not in err, err
    return seen


# SIGHUP: a closed terminal or ssh session; its default left the temporary outputs (hostile-input sweep 6)
@pytest.mark.parametrize("nj,sig", [(1, signal.SIGTERM), (2, signal.SIGTERM), (1, signal.SIGHUP)])
def test_sigterm_removes_temporary_files(world: World, tmp_path: Path, nj: int, sig: int):
    d = tmp_path
    scp = _blocking_wav_scp(world, d)

    def running(proc: subprocess.Popen) -> List[int]:
        workers = _workers(proc.pid)
        assert _temp_files(d / "out"), "no temporary output while running"
        return workers

    workers = _signal_once_started(world, d, _fbank_cmd(d, scp, nj), "compute-fbank", sig, running)
    assert list((d / "out").iterdir()) == [] if (d / "out").exists() else True
    _wait_for(lambda: all(ended(p) for p in workers), "the workers to stop")


# Ctrl-C or SIGTERM while decode/align wait on their first wav.scp pipe: nothing of the outputs stays
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", ["decode", "align"])
def test_signal_leaves_no_decode_or_align_output(world: World, tmp_path: Path, command: str, sig: int):
    d = tmp_path
    scp = _blocking_wav_scp(world, d)
    out = d / "out"
    args = (["decode", "--model", str(world.model), "--wav-scp", str(scp), "--output-dir", str(out),
             "--ctm", str(d / "ctm")] if command == "decode"
            else ["align", "--model", str(world.model), str(scp), str(world.root / "text"), str(d / "ctm")])
    _signal_once_started(world, d, [sys.executable, "-m", "asrkit", *args], command, sig)
    assert not (d / "ctm").exists() and _temp_files(d) == []
    if out.exists():  # only the log, which says what happened
        assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["log", "log/decode.log"]


def test_stdout_on_a_full_disk_is_named(world: World, disks: Disks):
    """A filter's stdout redirected to a full disk: the message says it was stdout."""
    if disks.how["ENOSPC"] != "real":
        pytest.skip(f"no full file system here: {disks.how['ENOSPC']}")
    text = b"".join(f"u{i} YES NO YES NO NO\n".encode() for i in range(20000))
    with open(disks.dirs["ENOSPC"] / "tokens.txt", "wb") as out:
        proc = subprocess.run([sys.executable, "-m", "asrkit", "tokenize", str(world.root / "lang" / "tokens.model")],
                              input=text, stdout=out, stderr=subprocess.PIPE, timeout=600)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "ERROR (asrkit-tokenize): <stdout>: no space left on device" in err, err
    assert "Traceback" not in err


def _apply_cmvn_to_stdout(world: World) -> List[str]:
    return [sys.executable, "-m", "asrkit", "apply-cmvn", str(world.root / "cmvn.ark"), f"scp:{world.root}/feats.scp",
            "ark:-"]


def test_stdout_reader_gone_is_named(world: World):
    """``ark:- | head -c 100``: what was not read is lost, so one line and exit 1 (click alone exits 1 silently)."""
    proc = subprocess.Popen(_apply_cmvn_to_stdout(world), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=600) == 1, err
    assert "ERROR (asrkit-apply-cmvn): <stdout>: broken pipe" in err and "Traceback" not in err, err
    assert "Exception ignored" not in err, err


def test_closed_stdout_is_named(world: World):
    """Started with stdout closed (``>&-``): one line, not an AttributeError traceback."""
    proc = subprocess.run(["bash", "-c", 'exec "$@" >&-', "-", *_apply_cmvn_to_stdout(world)],
                          stderr=subprocess.PIPE, timeout=600)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "ERROR (asrkit-apply-cmvn): bad wspecifier 'ark:-': stdout is closed" in err, err
    assert "Traceback" not in err, err


@pytest.mark.parametrize("closed, args, message", [
    ("<&-", ["compute-cmvn", "ark:-", "cmvn.ark"], "ERROR (asrkit-compute-cmvn): <stdin>: stdin is closed"),
    ("<&-", ["apply-cmvn", "-", "scp:{root}/feats.scp", "ark:out.ark"], "ERROR (asrkit-apply-cmvn): <stdin>: stdin is closed"),
    ("<&-", ["tokenize", "{root}/lang/tokens.model"], "ERROR (asrkit-tokenize): <stdin>: stdin is closed"),
    (">&-", ["tokenize", "{root}/lang/tokens.model"], "ERROR (asrkit-tokenize): <stdout>: stdout is closed"),
    # '-' as audio and a table read from /dev/stdin: were "no such file"
    ("<&-", ["decode", "--model", "{root}/model.pt", "-"], "ERROR (asrkit-decode): <stdin>: stdin is closed"),
    ("<&-", ["align", "--model", "{root}/model.pt", "{root}/wav.scp", "-", "-"],
     "ERROR (asrkit-align): <stdin>: stdin is closed"),
    # the summary lines went nowhere, with exit 0
    (">&-", ["score", "{root}/text", "{root}/text"], "ERROR (asrkit-score): <stdout>: stdout is closed"),
    ("<&-", ["score", "{root}/text", "-"], "ERROR (asrkit-score): <stdin>: stdin is closed"),
    ("<&-", ["train-tokenizer", "--model-type", "char", "-", "lang"],
     "ERROR (asrkit-train-tokenizer): <stdin>: stdin is closed"),
    (">&-", ["decode", "--model", "{root}/model.pt", "--wav-scp", "{root}/wav.scp"],
     "ERROR (asrkit-decode): <stdout>: stdout is closed"),
    # '-' is stdout: with it closed, descriptor 1 may name a file the command opened since
    (">&-", ["align", "--model", "{root}/model.pt", "{root}/wav.scp", "{root}/text", "-"],
     "ERROR (asrkit-align): /dev/stdout: stdout is closed"),
])
def test_closed_stdin_or_stdout_is_named(world: World, tmp_path: Path, closed: str, args: List[str], message: str):
    """stdin or stdout closed (``<&-``, ``>&-``) where a command reads or writes it: one line, no traceback."""
    args = [a.format(root=world.root) for a in args]
    proc = subprocess.run(["bash", "-c", f'exec "$@" {closed}', "-", sys.executable, "-m", "asrkit", *args],
                          stdout=subprocess.DEVNULL if closed == "<&-" else None, stderr=subprocess.PIPE,
                          cwd=tmp_path, timeout=600)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and message in err and "Traceback" not in err, err
    # With stdout closed, /dev/stdout links to nothing: taken for a file not made yet, it was
    # replaced by the CTM (a temporary file renamed over the symlink, as root), now and then.
    assert os.path.islink("/dev/stdout")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("source, args, message", [
    ("feats.ark", ["compute-cmvn", "ark:-", "f.ark"],
     "ERROR (asrkit-compute-cmvn): f.ark: the stats output is a features input (-), which the command reads"),
    ("cmvn.ark", ["apply-cmvn", "-", "scp:{root}/feats.scp", "ark:f.ark"],
     "ERROR (asrkit-apply-cmvn): f.ark: the features output is the CMVN stats (-), which the command reads"),
    ("feats.ark", ["decode", "--model", "{root}/model.pt", "--beam", "1", "--feats", "ark:-", "--ctm", "f.ark"],
     "ERROR (asrkit-decode): --ctm f.ark is the same file as --feats ark:-, which the run reads"),
])
def test_stdin_from_the_output_file_is_the_same_file(world: World, tmp_path: Path, source: str, args: List[str],
                                                      message: str):
    """'-' is stdin, and stdin redirected from a file (``< f.ark``) is that file: the output was
    renamed over it at the end (exit 0, the input gone). asrkit-decode refused /dev/stdin so, not
    ark:-; compute-cmvn and apply-cmvn neither."""
    data = (world.root / source).read_bytes()
    (tmp_path / "f.ark").write_bytes(data)
    args = [a.format(root=world.root) for a in args]
    with open(tmp_path / "f.ark", "rb") as stdin:
        proc = subprocess.run([sys.executable, "-m", "asrkit", *args], stdin=stdin, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, cwd=tmp_path, timeout=600)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and message in err and "Traceback" not in err, err
    assert (tmp_path / "f.ark").read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["f.ark"]


@pytest.mark.parametrize("stdin, args, message", [
    # were "a named pipe with no writer (0 bytes read)" (stdin is a pipe, not a named one) and,
    # from /dev/null, "empty stream (0 bytes)"
    (b"", ["decode", "--model", "{root}/model.pt", "-"],
     "utterance 'stdin' (/dev/stdin): no data on stdin (0 bytes read))"),
    (None, ["decode", "--model", "{root}/model.pt", "--wav-scp", "/dev/stdin"],
     "ERROR (asrkit-decode): /dev/stdin: no data on stdin (0 lines read)"),  # was "no utterances to process"
    # was "all 24 utterances failed (first: ...: no transcript in the text file)"
    (b"", ["align", "--model", "{root}/model.pt", "{root}/wav.scp", "-", "-"],
     "ERROR (asrkit-align): /dev/stdin: no data on stdin (0 lines read)"),
    # The text read once, then again from its start to name a BOM: stdin's second read was empty,
    # the BOM went unnamed and every utterance failed as "no transcript in the text file"
    (b"\xef\xbb\xbf" + b"u1 YES\n", ["align", "--model", "{root}/model.pt", "{root}/wav.scp", "-", "-"],
     "ERROR (asrkit-align): /dev/stdin:1: starts with a UTF-8 byte-order mark (BOM), which would become part of "
     "the first key; Kaldi tables are plain text: remove it\n"),
])
def test_empty_stdin_is_named(world: World, tmp_path: Path, stdin: Optional[bytes], args: List[str], message: str):
    """An empty pipe (``true | cmd -``) or /dev/null (None) on stdin where a command reads audio or a
    table from it: one line saying stdin gave nothing, not a named pipe's words nor a count of none."""
    args = [a.format(root=world.root) for a in args]
    proc = subprocess.run([sys.executable, "-m", "asrkit", *args], input=stdin,
                          stdin=subprocess.DEVNULL if stdin is None else None, capture_output=True, cwd=tmp_path,
                          timeout=600)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and message in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_dash_as_audio_is_stdin(world: World, tmp_path: Path, monkeypatch):
    """`cat a.wav | asrkit-decode --model m.pt -` failed as "utterance '-' (-): no such file";
    '-' is stdin, as in Kaldi, decoded as utterance "stdin" with the file's own text."""
    decode = ["decode", "--model", str(world.model), "--beam", "1", "--maxlenratio", "0.1"]
    # the file by name, stdin unread: in this process (a subprocess imports torch, 2-3 s CPU)
    monkeypatch.chdir(tmp_path)
    by_name = run_asrkit_in_process(*decode, str(world.wavs[0]), check=False)
    piped = subprocess.run([sys.executable, "-m", "asrkit", *decode, "-"], input=world.wavs[0].read_bytes(),
                           capture_output=True, cwd=tmp_path, timeout=600)
    assert piped.returncode == 0 and by_name.returncode == 0, piped.stderr.decode() + by_name.stderr.decode()
    text = by_name.stdout.decode().split(None, 1)
    assert piped.stdout.decode().split(None, 1) == ["stdin"] + text[1:], (piped.stdout, by_name.stdout)


def test_dash_and_dev_stdout_outputs_follow_the_text(world: World, tmp_path: Path):
    """asrkit-decode --ctm - wrote a file named '-'; --segments-out /dev/stdout with stdout
    redirected to a file reopened it, truncating it and writing from its start over the text
    lines. asrkit-align's <text-file> - was 'no such file' and its <ctm-out> - a file named '-'.
    Now '-' is stdout (stdin), and every output to stdout goes through the one descriptor."""
    (tmp_path / "wav.scp").write_text("".join(f"{u} {w}\n" for u, w in zip(world.utts[:2], world.wavs[:2])))
    text = "".join(line + "\n" for line in (world.root / "text").read_text().splitlines()[:2])
    asrkit = f"{shlex.quote(sys.executable)} -m asrkit"
    model = shlex.quote(str(world.model))
    script = (f"{asrkit} decode --model {model} --beam 1 --maxlenratio 0.1 --ctm - --segments-out /dev/stdout "
              f"--wav-scp wav.scp > out.txt && {asrkit} align --model {model} wav.scp - - > ctm.txt")
    proc = subprocess.run(["bash", "-c", script], input=text.encode(), stderr=subprocess.PIPE, cwd=tmp_path,
                          timeout=600)
    err = proc.stderr.decode()
    assert proc.returncode == 0 and "Traceback" not in err, err
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines[:2]] == world.utts[:2], lines  # the text, first and whole
    assert [line.split()[1] for line in lines[-2:]] == world.utts[:2] and len(lines[-1].split()) == 4, lines
    assert all(len(line.split()) == 6 for line in lines[2:-2]), lines  # the CTM between
    assert {line.split()[0] for line in (tmp_path / "ctm.txt").read_text().splitlines()} <= set(world.utts[:2])
    assert "Done 2 out of 2 utterances (0 failed)" in err.split("asrkit-align")[-1], err
    assert not (tmp_path / "-").exists()
    # Written to a temporary file and renamed into place, as files are, the segments replaced the
    # /dev/stdout symlink itself with a regular file (found so on the test machine as root).
    assert os.path.islink("/dev/stdout")
