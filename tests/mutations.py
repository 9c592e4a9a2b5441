"""Byte-level damage to valid files, and the verdict on what a command made of each damaged one.

Shared by tests/test_mutated_files.py (a fixed handful of cases) and the full sweep, run by hand:

    ASRKIT_CORPORA=../shared/corpora OMP_NUM_THREADS=1 tools/venv/bin/python tests/mutations.py --out /tmp/sweep

which builds small valid seeds from the real corpora (AN4 and FSDD WAVs, FLAC, OGG and NIST SPHERE
copies, a feats ark and scp, global and per-speaker CMVN stats, a Kaldi data dir, a tokenizer, a
packed model, decode/fbank/train YAML, a tiny yesno training's checkpoint and dump tables, a token
LM), damages each mechanically with a fixed seed (:func:`binary_mutations`,
:func:`text_mutations`), runs every command that reads the file in this process (click's runner,
an alarm per case so a hang is a verdict, resident memory watched) and classifies each run
(:func:`verdict`): ``error`` (exit != 0, one ERROR line, nothing left half-written), ``skip`` (the
damaged item named and counted, the others written), ``ok`` (a harmless change), or ``BAD: ...``.
"""
from __future__ import annotations

import random
import re
import resource
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple


# ---------------------------------------------------------------- mutations

def _u32_offsets(data: bytes, limit: int = 64) -> List[int]:
    """Where to write a 32-bit field (little-endian; 0 and 0xFFFFFFFF read the same either way): every
    4-byte-aligned offset of the head, where RIFF sizes, FLAC's STREAMINFO and OGG's page header sit."""
    return list(range(4, min(len(data) - 4, limit), 4))


def binary_mutations(data: bytes, seed: int, other: bytes = b"") -> Iterator[Tuple[str, bytes]]:
    """(name, damaged bytes) pairs of ``data``, the same for the same seed. ``other``: another
    format's valid bytes, whose prefix replaces this one's."""
    rng = random.Random(seed)
    n = len(data)
    head = min(n, 64)
    for k in (0, 1, 3, 4, 8, 11, 12, 20, 36, 43, 44, 45, 100):  # inside the headers
        if k < n:
            yield f"truncate@{k}", data[:k]
    yield "truncate-half", data[:n // 2]
    yield "truncate-last-byte", data[:n - 1]
    for i in range(6):
        pos = rng.randrange(head)
        yield f"flip-head-byte@{pos}", data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1:]
    for i in range(4):
        pos = rng.randrange(head, n) if n > head else rng.randrange(n)
        bit = 1 << rng.randrange(8)
        yield f"flip-body-bit@{pos}", data[:pos] + bytes([data[pos] ^ bit]) + data[pos + 1:]
    for i in range(3):
        pos = rng.randrange(n)
        yield f"random-bytes@{pos}", data[:pos] + bytes(rng.randrange(256) for _ in range(16)) + data[pos + 16:]
    for i in range(3):  # many small wounds: what a failing disk or a bad transfer leaves
        damaged = bytearray(data)
        for _ in range(20):
            damaged[rng.randrange(head, n) if n > head else rng.randrange(n)] ^= 1 << rng.randrange(8)
        yield f"flip-20-bits#{i}", bytes(damaged)
    if n >= 4096:
        blocks = [data[j:j + 512] for j in range(0, n, 512)]
        tail = blocks[1:]
        rng.shuffle(tail)
        yield "shuffle-512-blocks", blocks[0] + b"".join(tail)
    yield "zero-head", bytes(head) + data[head:]
    a = rng.randrange(n // 2)
    yield f"zero-range@{a}", data[:a] + bytes(min(4096, n - a)) + data[a + 4096:]
    pos = rng.randrange(n)
    yield f"insert@{pos}", data[:pos] + bytes(rng.randrange(256) for _ in range(7)) + data[pos:]
    pos = rng.randrange(n)
    yield f"delete@{pos}", data[:pos] + data[pos + 5:]
    yield "delete-middle", data[:n // 2] + data[n // 2 + 5:]
    a = rng.randrange(n // 2)
    chunk = data[a:a + 1000]
    yield f"duplicate@{a}", data[:a] + chunk + data[a:]
    if n > 200:
        a, b = sorted(rng.sample(range(0, n - 100), 2))
        if b - a >= 100:
            yield f"swap@{a},{b}", data[:a] + data[b:b + 100] + data[a + 100:b] + data[a:a + 100] + data[b + 100:]
    for off in _u32_offsets(data):
        for value, tag in ((0, "0"), (0xFFFFFFFF, "ffffffff"), (0x7FFFFFF0, "huge")):
            yield f"u32@{off}={tag}", data[:off] + struct.pack("<I", value) + data[off + 4:]
    # numbers a text header states (NIST SPHERE's sample_count, sample_rate, channel_count...; a
    # Kaldi text matrix's values): 0, all nines, negative, far too many digits
    for m in list(re.finditer(rb"(?<=[ \n])\d+(?=[\n ])", data[:1100]))[:10]:
        a, b = m.span()
        width = b - a
        for value, tag in ((b"0".ljust(width), "0"), (b"9" * width, "9s"), (b"-" + data[a:b], "neg"),
                           (b"99999999999", "huge")):
            yield f"number@{a}={tag}", data[:a] + value + data[b:]
    yield "append-garbage", data + bytes(rng.randrange(256) for _ in range(333))
    yield "append-self", data + data
    if other:
        yield "prefix-of-other-format", other[:max(64, n // 3)]
    yield "empty", b""


def text_mutations(text: bytes, seed: int) -> Iterator[Tuple[str, bytes]]:
    """(name, damaged bytes) pairs of a text table ``text`` (lines ending in LF)."""
    rng = random.Random(seed)
    lines = text.splitlines(keepends=True)
    if not lines:
        return
    for _ in range(2):
        i = rng.randrange(len(lines))
        yield f"delete-line{i + 1}", b"".join(lines[:i] + lines[i + 1:])
        yield f"duplicate-line{i + 1}", b"".join(lines[:i + 1] + lines[i:])
    for _ in range(4):
        pos = rng.randrange(len(text))
        yield f"invalid-utf8@{pos}", text[:pos] + bytes([0xC3, 0x28]) + text[pos + 1:]
    for _ in range(2):
        pos = rng.randrange(len(text))
        yield f"nul@{pos}", text[:pos] + b"\0" + text[pos + 1:]
    first = lines[0]
    mid = len(first.rstrip(b"\n")) * 2 // 3  # inside the first line's value
    yield "nul-in-value", first[:mid] + b"\0" + first[mid + 1:] + b"".join(lines[1:])
    for _ in range(3):
        pos = rng.randrange(len(text))
        yield f"flip-byte@{pos}", text[:pos] + bytes([text[pos] ^ (1 << rng.randrange(8))]) + text[pos + 1:]
    i = rng.randrange(len(lines))
    yield f"long-line{i + 1}", b"".join(lines[:i] + [lines[i].rstrip(b"\n") + b"x" * 300000 + b"\n"] + lines[i + 1:])
    # a table's numbers (segment times, frame counts, durations, an scp's byte offsets)
    hostile = (b"nan", b"inf", b"-1", b"1e309", b"99999999999999999999", b"0x10", "\u0661".encode(), b"1_0", b"")
    for m in list(re.finditer(rb"(?<=[ :])\d+(?:\.\d+)?(?=[\s\[])", text))[:4]:
        a, b = m.span()
        for value in hostile:
            yield f"number@{a}={value.decode()}", text[:a] + value + text[b:]
    yield "no-final-newline", text.rstrip(b"\n")
    yield "crlf", text.replace(b"\n", b"\r\n")
    yield "cr-only", text.replace(b"\n", b"\r")
    yield "tabs", text.replace(b" ", b"\t", 3)
    yield "bom", b"\xef\xbb\xbf" + text
    yield "lines-swapped", b"".join(reversed(lines))
    yield "blank-lines", b"\n".join(lines) + b"\n\n"
    yield f"truncate@{len(text) // 2}", text[:len(text) // 2]
    yield "binary-garbage", bytes(rng.randrange(256) for _ in range(500))
    yield "empty", b""


# ---------------------------------------------------------------- running and judging

class Hang(BaseException):
    """A case that ran past its alarm (BaseException: the commands' ``except Exception`` must not
    swallow it as a read error)."""


@dataclass
class Run:
    code: int
    stderr: str
    stdout: bytes
    exception: Optional[BaseException] = None
    seconds: float = 0.0
    rss_growth_mb: float = 0.0


def run_command(command: str, args: Sequence, timeout: int = 60, stdin: Optional[bytes] = None) -> Run:
    """``asrkit-<command> args`` in this process, under an alarm; an exception that gets out of the
    command (a bug: a user would see its traceback) is kept, not raised."""
    import time

    from cli_checks import run_in_process
    from process_checks import no_waiting_for

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    try:
        with no_waiting_for(f"asrkit-{command} for over {timeout} s", timeout, Hang):
            result = run_in_process(command, [str(a) for a in args], input=stdin, catch_exceptions=True)
    except Hang as e:  # raised outside the runner's own catch
        return Run(-1, "", b"", e, time.monotonic() - t0)
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    exc = result.exception if result.exception is not None and not isinstance(result.exception, SystemExit) else None
    return Run(result.exit_code, result.stderr, result.stdout_bytes, exc, time.monotonic() - t0, rss)


DONE = re.compile(r"Done (\d+) (?:utterances )?out of (\d+)")
LEFTOVER = re.compile(r"\.tmp|\.partial|~$|\.part$")


def verdict(run: Run, outputs: Sequence[Path] = (), expected_items: Optional[int] = None,
            written_items: Optional[Callable[[], int]] = None, rss_limit_mb: float = 1500) -> str:
    """``error``, ``skip``, ``ok`` or ``BAD: why``.

    ``outputs``: files the command writes (none may be left, nor a temporary file beside them,
    when it fails); ``expected_items``: how many items went in; ``written_items``: how many came out
    (every item not written must be counted as failed by the command's ``Done X out of Y``)."""
    if isinstance(run.exception, Hang):
        return f"BAD: hang ({run.exception})"
    if run.exception is not None:
        return f"BAD: traceback {type(run.exception).__name__}: {str(run.exception)[:200]}"
    if "Traceback" in run.stderr:
        return "BAD: a traceback on stderr"
    if run.rss_growth_mb > rss_limit_mb:
        return f"BAD: resident memory grew by {run.rss_growth_mb:.0f} MB"
    folders = {p.parent for p in outputs}
    left = sorted(str(p) for d in folders if d.is_dir() for p in d.iterdir() if LEFTOVER.search(p.name))
    if left:
        return f"BAD: temporary file(s) left: {left}"
    if run.code != 0:
        # one summary line; asrkit-validate-data-dir lists each problem before it as "ERROR: file:line: ..."
        errors = [ln for ln in run.stderr.splitlines() if ln.startswith("ERROR") and not ln.startswith("ERROR: ")]
        if len(errors) != 1:
            return f"BAD: exit {run.code} with {len(errors)} ERROR lines: {run.stderr[-300:]!r}"
        there = [str(p) for p in outputs if p.exists()]
        if there:
            return f"BAD: failed (exit {run.code}) but wrote {there}"
        return "error"
    if written_items is not None:
        written = written_items()
        done = DONE.findall(run.stderr)
        if done:
            ok, total = map(int, done[-1])
            if ok != written:
                return f"BAD: exit 0, {written} items written but the command says Done {ok} out of {total}"
            if expected_items is not None and total < expected_items:
                return (f"BAD: exit 0, Done {ok} out of {total}: {expected_items - total} of {expected_items} "
                        f"items vanished")
            return "skip" if written < total else "ok"
        if expected_items is not None and written < expected_items:
            return f"BAD: exit 0, {written} of {expected_items} items written, no 'Done X out of Y'"
    return "ok"


# ---------------------------------------------------------------- seeds and the commands that read them

@dataclass
class Seeds:
    root: Path
    files: Dict[str, Path] = field(default_factory=dict)


def build_seeds(root: Path, an4_root: Path, fsdd_root: Path, yesno_root: Path) -> Seeds:
    """Small valid inputs of every kind a command reads, made from the real corpora under ``root``."""
    import sys

    import numpy as np
    import soundfile as sf
    import yaml

    sys.path.insert(0, str(Path(__file__).resolve().parent / "decoding"))
    from test_decode_cli import an4_test_wavs, an4_transcripts, build_model  # noqa: E402

    root.mkdir(parents=True, exist_ok=True)
    s = Seeds(root)
    wavs = an4_test_wavs(an4_root)[:3]
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    x = x[:16000]  # one second keeps every decode fast
    seed = root / "seed"
    seed.mkdir()
    sf.write(seed / "a16.wav", x, rate, subtype="PCM_16")
    sf.write(seed / "a16.flac", x, rate, subtype="PCM_16")
    sf.write(seed / "a16.ogg", x.astype(np.float32) / 32768, rate, format="OGG", subtype="VORBIS")
    sf.write(seed / "a16.sph", x, rate, format="NIST", subtype="PCM_16")
    fsdd = sorted((fsdd_root / "recordings").glob("*_george_*.wav"))[0]
    (seed / "f8.wav").write_bytes(fsdd.read_bytes())
    for name in ("a16.wav", "a16.flac", "a16.ogg", "a16.sph", "f8.wav"):
        s.files[name] = seed / name
    good = []
    for i, w in enumerate(wavs[1:3]):
        y, r = sf.read(str(w), dtype="int16")
        p = seed / f"good{i}.wav"
        sf.write(p, y[:16000], r, subtype="PCM_16")
        good.append(p)
    s.files["good"] = good  # type: ignore[assignment]
    s.files["model.pt"] = build_model(seed, wavs, an4_transcripts(an4_root)[:300], 16000, 40, "model")
    s.files["tokens.model"] = seed / "model_lang" / "tokens.model"
    # a Kaldi data dir of the three one-second recordings, one cut in two by segments
    data = seed / "data"
    data.mkdir()
    recs = [("r1", seed / "a16.wav"), ("r2", good[0]), ("r3", good[1])]
    (data / "wav.scp").write_text("".join(f"{r} {p}\n" for r, p in recs))
    utts = [("r1-a", "r1", 0.0, 0.5), ("r1-b", "r1", 0.5, 1.0), ("r2-a", "r2", 0.0, 1.0), ("r3-a", "r3", 0.0, 1.0)]
    (data / "segments").write_text("".join(f"{u} {r} {b:.2f} {e:.2f}\n" for u, r, b, e in utts))
    words = ["YES NO", "RUBOUT G", "ENTER SIX", "TWO THREE"]
    (data / "text").write_text("".join(f"{u[0]} {w}\n" for u, w in zip(utts, words)))
    (data / "utt2spk").write_text("".join(f"{u[0]} {u[1]}\n" for u in utts))
    (data / "spk2utt").write_text("r1 r1-a r1-b\nr2 r2-a\nr3 r3-a\n")
    for name in ("wav.scp", "segments", "text", "utt2spk", "spk2utt"):
        s.files[name] = data / name
    # features of the data dir (ark + scp) and their CMVN stats, made by the commands themselves
    feats = seed / "feats"
    feats.mkdir()
    r = run_command("compute-fbank", ["--num-mel-bins", "40", "--segments", data / "segments",
                                      f"scp:{data / 'wav.scp'}", f"ark,scp:{feats / 'raw.ark'},{feats / 'raw.scp'}"])
    assert r.code == 0, r.stderr
    r = run_command("compute-cmvn", [f"scp:{feats / 'raw.scp'}", feats / "cmvn.ark"])
    assert r.code == 0, r.stderr
    r = run_command("apply-cmvn", ["--norm-vars", "false", feats / "cmvn.ark", f"scp:{feats / 'raw.scp'}",
                                   f"ark,t:{feats / 'text.ark'}"])
    assert r.code == 0, r.stderr
    r = run_command("compute-cmvn", ["--spk2utt", data / "spk2utt", f"scp:{feats / 'raw.scp'}",
                                     f"ark:{feats / 'spk.ark'}"])
    assert r.code == 0, r.stderr
    for name in ("raw.ark", "raw.scp", "cmvn.ark", "spk.ark", "text.ark"):
        s.files[name] = feats / name
    # a first pass's hypotheses and the speaker transforms asrkit-adapt-speakers estimates from them
    hyp = seed / "hyp"
    r = run_command("decode", ["--model", s.files["model.pt"], *FAST, "--feats", f"scp:{feats / 'raw.scp'}"])
    assert r.code == 0, r.stderr
    hyp.write_bytes(r.stdout)
    r = run_command("adapt-speakers", ["--model", s.files["model.pt"], "--utt2spk", data / "utt2spk", "--feats",
                                       f"scp:{feats / 'raw.scp'}", "--epochs", "1", "--min-utts", "1", hyp,
                                       f"ark:{feats / 'transforms.ark'}"])
    assert r.code == 0, r.stderr
    s.files["hyp"] = hyp
    s.files["transforms.ark"] = feats / "transforms.ark"
    # the reference as sclite's trn ('<words> (<id>)'), which asrkit-score also reads
    trn = seed / "ref.trn"
    trn.write_text("".join(f"{w} ({u})\n" for u, w in (ln.split(" ", 1) for ln in
                                                       (data / "text").read_text().splitlines())))
    s.files["ref.trn"] = trn
    conf = seed / "decode.yaml"
    conf.write_text(yaml.safe_dump({"beam": 2, "ctc_weight": 0.3, "maxlenratio": 0.3}))
    s.files["decode.yaml"] = conf
    fb = seed / "fbank.yaml"
    fb.write_text(yaml.safe_dump({"num_mel_bins": 40, "sample_frequency": 16000}))
    s.files["fbank.yaml"] = fb
    build_training_seeds(s, seed, an4_root, yesno_root)
    return s


def build_training_seeds(s: Seeds, seed: Path, an4_root: Path, yesno_root: Path) -> None:
    """A tiny yesno training set-up (tests/training's), a finished 2-epoch run's checkpoints, and a
    token LM: the files asrkit-train, asrkit-average and asrkit-decode --lm read."""
    import sys

    import yaml

    sys.path.insert(0, str(Path(__file__).resolve().parent / "training"))
    from test_decode_cli import an4_transcripts  # noqa: E402
    from yesno_dump import TINY_CONFIG, global_cmvn, make_dump, train_args, yesno_waves  # noqa: E402

    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    root = seed / "yesno"
    waves = yesno_waves(yesno_root)
    (root / "waves").mkdir(parents=True)
    for w in waves[:20]:
        (root / "waves" / w.name).symlink_to(w)
    train = make_dump(root / "dump" / "train", waves[:12])
    make_dump(root / "dump" / "dev", waves[12:16])
    global_cmvn(train)
    texts = (train / "text").read_text().splitlines()
    tok = train_tokenizer([t.split(maxsplit=1)[1] for t in texts], TokenizerConfig(model_type="char"))
    (root / "data" / "lang").mkdir(parents=True)
    (root / "data" / "lang" / "tokens.model").write_bytes(tok.to_bytes())
    (root / "conf").mkdir()
    config = dict(TINY_CONFIG, training=dict(TINY_CONFIG["training"], num_plots=0))
    (root / "conf" / "train.yaml").write_text(yaml.safe_dump(config))
    exp = root / "exp"
    r = run_command("train", train_args(root, exp, "--seed", "3")[1:], timeout=300)
    assert r.code == 0, r.stderr
    s.train_root = root  # type: ignore[attr-defined]
    s.train_args = train_args  # type: ignore[attr-defined]
    s.files["epoch1.pt"] = exp / "checkpoints" / "epoch1.pt"
    s.files["train.yaml"] = root / "conf" / "train.yaml"
    for name in ("feats.scp", "utt2num_frames"):
        s.files[f"train/{name}"] = train / name
    s.files["train/text"] = train / "text"
    s.files["train/cmvn.ark"] = train / "cmvn.ark"
    lm_dir = seed / "lm_train"
    lm_dir.mkdir()
    (lm_dir / "text").write_text("".join(f"u{i:04d} {t}\n" for i, t in enumerate(an4_transcripts(an4_root)[:100])))
    (lm_dir / "lm.yaml").write_text("model: {embed: 8, hidden: 16, layers: 1, dropout: 0.0}\nbatch_size: 32\n")
    r = run_command("train-lm", ["--config", lm_dir / "lm.yaml", "--lang-dir", s.files["tokens.model"].parent,
                                 "--max-epochs", "1", lm_dir / "text", lm_dir / "exp"], timeout=300)
    assert r.code == 0, r.stderr
    s.files["lm.pt"] = lm_dir / "exp" / "lm.pt"


# (command as the verdicts name it, check(damaged file, work dir) -> verdict)
Case = Tuple[str, Callable[[Path, Path], str]]

FAST = ["--beam", "1", "--maxlenratio", "0.3", "--max-bad-percent", "100"]


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.is_file() else 0


def _decoded(out: Path) -> int:
    """Utterances asrkit-decode wrote to ``out``: its text and nbest.jsonl must agree (-1 if not)."""
    n = _lines(out / "text")
    return n if n == _lines(out / "nbest.jsonl") else -1


def _items(table: Path) -> int:
    """The entries a damaged table holds as a reader that splits at LF sees them (blank lines aside)."""
    return sum(1 for ln in table.read_bytes().split(b"\n") if ln.strip())


def audio_cases(s: Seeds, name: str) -> List[Case]:
    """(command, check(damaged file, work dir) -> verdict) for audio file ``name``."""
    good = s.files["good"]

    def fbank(bad: Path, work: Path) -> str:
        scp = work / "wav.scp"
        scp.write_text(f"bad {bad}\n" + "".join(f"good{i} {p}\n" for i, p in enumerate(good)))
        ark, out = work / "f.ark", work / "f.scp"
        run = run_command("compute-fbank", ["--num-mel-bins", "23", "--resample", "--max-bad-percent", "100",
                                            f"scp:{scp}", f"ark,scp:{ark},{out}"])
        return verdict(run, [ark, out], 3, lambda: _lines(out))

    def decode(bad: Path, work: Path) -> str:
        out = work / "dec"
        run = run_command("decode", ["--model", s.files["model.pt"], *FAST, "--output-dir", out, bad, *good])
        return verdict(run, [out / "text", out / "nbest.jsonl"], 3, lambda: _decoded(out))

    def align(bad: Path, work: Path) -> str:
        scp = work / "wav.scp"
        scp.write_text(f"bad {bad}\n" + "".join(f"good{i} {p}\n" for i, p in enumerate(good)))
        text = work / "text"
        text.write_text("bad YES\ngood0 NO\ngood1 SIX\n")
        ctm = work / "a.ctm"
        run = run_command("align", ["--model", s.files["model.pt"], "--max-bad-percent", "100", f"scp:{scp}", text,
                                    ctm])
        return verdict(run, [ctm], 3, lambda: len({ln.split()[0] for ln in ctm.read_bytes().splitlines()})
                       if ctm.is_file() else 0)

    def make_data_dir(bad: Path, work: Path) -> str:
        import shutil

        audio = work / "audio"
        audio.mkdir()
        for i, p in enumerate([bad, *good]):
            shutil.copy(p, audio / f"u{i}{bad.suffix if i == 0 else p.suffix}")
            (audio / f"u{i}.txt").write_text("YES NO\n")
        data = work / "data"
        run = run_command("make-data-dir", ["--max-skip-ratio", "1", "--audio-ext", "wav,flac,ogg,sph", audio, data])
        return verdict(run, [data / "wav.scp", data / "text"], 3, lambda: _lines(data / "wav.scp"))

    def perturb(bad: Path, work: Path) -> str:
        src, dst = work / "src", work / "dst"
        src.mkdir()
        recs = [("r0", bad)] + [(f"r{i + 1}", p) for i, p in enumerate(good)]
        (src / "wav.scp").write_text("".join(f"{r} {p}\n" for r, p in recs))
        for table in ("utt2spk", "spk2utt"):
            (src / table).write_text("".join(f"{r} {r}\n" for r, _ in recs))
        (src / "text").write_text("".join(f"{r} YES\n" for r, _ in recs))
        run = run_command("perturb-data-dir-speed", ["--method", "audio", "--factors", "0.9", src, dst])
        return verdict(run, [dst / "wav.scp"], 3, lambda: _lines(dst / "wav.scp"))

    def train_from_audio(bad: Path, work: Path) -> str:
        """One epoch from a raw dump dir of 20 yesno recordings and the damaged one (Kaldi's 5 %
        lets one be bad), its utt2dur the undamaged file's, as a stale table would be."""
        import soundfile

        root = s.train_root  # type: ignore[attr-defined]
        d = work / "train"
        d.mkdir()
        waves = [(w.stem, w) for w in sorted((root / "waves").glob("*.wav"))[:20]] + [("zz-bad", bad)]
        (d / "wav.scp").write_text("".join(f"{u} {w}\n" for u, w in waves))
        (d / "text").write_text("".join(f"{u} YES NO\n" for u, _ in waves))
        dur = {w: soundfile.info(str(s.files[name] if u == "zz-bad" else w)).duration for u, w in waves}
        (d / "utt2dur").write_text("".join(f"{u} {dur[w]:.4f}\n" for u, w in waves))
        (d / "fbank.yaml").write_bytes((root / "dump" / "train" / "fbank.yaml").read_bytes())
        exp = work / "exp"
        args = s.train_args(root, exp, "--seed", "3", "--set",  # type: ignore[attr-defined]
                            "training.max_epochs=1")[1:]
        args[args.index("--train-dir") + 1] = d
        i = args.index("--valid-dir")
        del args[i:i + 2]
        return verdict(run_command("train", args, timeout=300), [exp / "model.pt"])

    cases = [("compute-fbank", fbank), ("decode", decode), ("align", align), ("make-data-dir", make_data_dir),
             ("perturb-data-dir-speed", perturb)]
    if name == "f8.wav":  # (the yesno recordings' rate)
        cases.append(("train from audio", train_from_audio))
    return cases


def feature_cases(s: Seeds, kind: str) -> List[Case]:
    """Checks for a damaged ``raw.ark`` (read through the seed's scp offsets and as a whole ark),
    ``raw.scp`` or ``cmvn.ark``."""
    n = 4

    def items(bad: Path) -> int:
        return _items(bad) if kind == "raw.scp" else n

    def scp_of(bad: Path, work: Path) -> str:
        if kind == "raw.ark":
            text = s.files["raw.scp"].read_text().replace(str(s.files["raw.ark"]), str(bad))
            scp = work / "feats.scp"
            scp.write_text(text)
            return f"scp:{scp}"
        return f"scp:{bad}"

    def decode_feats(bad: Path, work: Path) -> str:
        out = work / "dec"
        run = run_command("decode", ["--model", s.files["model.pt"], *FAST, "--output-dir", out,
                                     "--feats", scp_of(bad, work)])
        return verdict(run, [out / "text", out / "nbest.jsonl"], items(bad), lambda: _decoded(out))

    def decode_ark(bad: Path, work: Path) -> str:
        out = work / "dec"
        run = run_command("decode", ["--model", s.files["model.pt"], *FAST, "--output-dir", out, "--feats",
                                     f"ark{',t' if kind == 'text.ark' else ''}:{bad}"])
        return verdict(run, [out / "text", out / "nbest.jsonl"], n, lambda: _decoded(out))

    def cmvn(bad: Path, work: Path) -> str:
        out = work / "cmvn.ark"
        feats = f"ark,t:{bad}" if kind == "text.ark" else scp_of(bad, work)
        run = run_command("compute-cmvn", ["--max-bad-percent", "100", feats, out])
        return verdict(run, [out])

    def apply(bad: Path, work: Path) -> str:
        out, oscp = work / "n.ark", work / "n.scp"
        stats = bad if kind == "cmvn.ark" else s.files["cmvn.ark"]
        feats = f"scp:{s.files['raw.scp']}" if kind == "cmvn.ark" else scp_of(bad, work)
        run = run_command("apply-cmvn", ["--max-bad-percent", "100", stats, feats, f"ark,scp:{out},{oscp}"])
        return verdict(run, [out, oscp], n if kind == "cmvn.ark" else items(bad), lambda: _lines(oscp))

    if kind == "cmvn.ark":
        return [("apply-cmvn", apply)]
    if kind == "text.ark":  # (features with the global mean taken out, as Kaldi's ark,t holds them)
        return [("decode --feats ark,t", decode_ark), ("compute-cmvn", cmvn)]
    cases = [("decode --feats scp", decode_feats), ("compute-cmvn", cmvn), ("apply-cmvn", apply)]
    if kind == "raw.ark":
        cases.append(("decode --feats ark", decode_ark))
    return cases


def data_dir_cases(s: Seeds, table: str) -> List[Case]:
    data = s.files["wav.scp"].parent

    def copy(bad: Path, work: Path) -> Path:
        import shutil

        d = work / "data"
        shutil.copytree(data, d)
        shutil.copy(bad, d / table)
        return d

    def validate(bad: Path, work: Path) -> str:
        return verdict(run_command("validate-data-dir", [copy(bad, work)]))

    def fix(bad: Path, work: Path) -> str:
        d = copy(bad, work)
        run = run_command("fix-data-dir", [d])
        v = verdict(run)
        if v == "ok":  # what it kept must validate
            again = run_command("validate-data-dir", ["--no-check-files", d])
            if again.code != 0:
                return "BAD: fix-data-dir exit 0 but validate-data-dir then fails: " + \
                    " | ".join(ln for ln in again.stderr.splitlines() if "ERROR" in ln or "error" in ln)[:300]
        return v

    def fbank(bad: Path, work: Path) -> str:
        d = copy(bad, work)
        ark, out = work / "f.ark", work / "f.scp"
        run = run_command("compute-fbank", ["--num-mel-bins", "23", "--max-bad-percent", "100", "--segments",
                                            d / "segments", f"scp:{d / 'wav.scp'}", f"ark,scp:{ark},{out}"])
        return verdict(run, [ark, out], _items(d / "segments"), lambda: _lines(out))

    def decode(bad: Path, work: Path) -> str:
        d = copy(bad, work)
        out = work / "dec"
        run = run_command("decode", ["--model", s.files["model.pt"], *FAST, "--output-dir", out, "--wav-scp",
                                     d / "wav.scp", "--segments", d / "segments"])
        return verdict(run, [out / "text", out / "nbest.jsonl"], _items(d / "segments"), lambda: _decoded(out))

    def score(bad: Path, work: Path) -> str:
        d = copy(bad, work)
        out = work / "score"
        run = run_command("score", ["--output-dir", out, "--allow-missing", data / "text", d / "text"])
        return verdict(run, [out / "wer.txt"])

    def tokenize(bad: Path, work: Path) -> str:
        run = run_command("tokenize", [s.files["tokens.model"]], stdin=bad.read_bytes())
        return verdict(run)

    def train_tokenizer(bad: Path, work: Path) -> str:
        lang = work / "lang"
        run = run_command("train-tokenizer", ["--model-type", "char", bad, lang])
        return verdict(run, [lang / "tokens.model", lang / "tokens.txt"])

    def align(bad: Path, work: Path) -> str:
        d = copy(bad, work)
        ctm = work / "a.ctm"
        run = run_command("align", ["--model", s.files["model.pt"], "--max-bad-percent", "100", "--segments",
                                    d / "segments", f"scp:{d / 'wav.scp'}", d / "text", ctm])
        return verdict(run, [ctm])

    def split(bad: Path, work: Path) -> str:
        d = copy(bad, work)
        run = run_command("split-data-dir", ["--per-utt", d, "2"])
        v = verdict(run, [d / "split2" / "1" / "utt2spk"])
        if v == "ok":  # the pieces hold every utterance of utt2spk, once
            pieces = sorted(ln.split()[0] for j in (1, 2)
                            for ln in (d / "split2" / str(j) / "utt2spk").read_text().splitlines())
            whole = sorted(ln.split()[0] for ln in (d / "utt2spk").read_text().splitlines())
            if pieces != whole:
                return f"BAD: split-data-dir pieces hold {len(pieces)} utterances, utt2spk {len(whole)}"
        return v

    def spk_cmvn(bad: Path, work: Path) -> str:
        d = copy(bad, work)
        out = work / "spk.ark"
        run = run_command("compute-cmvn", ["--max-bad-percent", "100", "--spk2utt", d / "spk2utt",
                                           f"scp:{s.files['raw.scp']}", f"ark:{out}"])
        return verdict(run, [out])

    def apply_spk(bad: Path, work: Path) -> str:
        d = copy(bad, work)
        out, oscp = work / "n.ark", work / "n.scp"
        run = run_command("apply-cmvn", ["--max-bad-percent", "100", "--utt2spk", d / "utt2spk",
                                         f"ark:{s.files['spk.ark']}", f"scp:{s.files['raw.scp']}",
                                         f"ark,scp:{out},{oscp}"])
        return verdict(run, [out, oscp], 4, lambda: _lines(oscp))

    def score_spk(bad: Path, work: Path) -> str:
        d = copy(bad, work)
        out = work / "score"
        run = run_command("score", ["--output-dir", out, "--utt2spk", d / "utt2spk", data / "text", data / "text"])
        return verdict(run, [out / "wer.txt"])

    cases = [("validate-data-dir", validate), ("fix-data-dir", fix), ("split-data-dir", split)]
    if table == "spk2utt":
        cases += [("compute-cmvn --spk2utt", spk_cmvn)]
    if table == "utt2spk":
        cases += [("apply-cmvn --utt2spk", apply_spk), ("score --utt2spk", score_spk)]
    if table in ("wav.scp", "segments"):
        cases += [("compute-fbank", fbank), ("decode --wav-scp", decode)]
    if table == "text":
        cases += [("score", score), ("tokenize", tokenize), ("train-tokenizer", train_tokenizer), ("align", align)]
    return cases


def model_cases(s: Seeds, kind: str) -> List[Case]:
    good = s.files["good"]

    def decode(bad: Path, work: Path) -> str:
        out = work / "dec"
        args = {"model.pt": ["--model", bad],
                "decode.yaml": ["--model", s.files["model.pt"], "--config", bad]}[kind]
        run = run_command("decode", [*args, *FAST, "--output-dir", out, *good])
        return verdict(run, [out / "text", out / "nbest.jsonl"], 2, lambda: _decoded(out))

    def pack(bad: Path, work: Path) -> str:
        out = work / "final.pt"
        args = ["--decode-config", s.files["decode.yaml"] if kind == "model.pt" else bad,
                s.files["model.pt"] if kind == "decode.yaml" else bad, out]
        return verdict(run_command("pack-model", args), [out])

    def tokenize(bad: Path, work: Path) -> str:
        return verdict(run_command("tokenize", ["--no-utt-id", bad], stdin=b"YES NO\nSIX\n"))

    if kind == "tokens.model":
        return [("tokenize", tokenize)]
    return [("decode", decode), ("pack-model", pack)]


def training_cases(s: Seeds, name: str) -> List[Case]:
    """A damaged checkpoint averaged with a whole one; a damaged train config or train dump table
    trained on for one epoch (a fresh exp dir each time)."""
    import shutil

    root = s.train_root  # type: ignore[attr-defined]

    def average(bad: Path, work: Path) -> str:
        exp = work / "exp"
        (exp / "checkpoints").mkdir(parents=True)
        shutil.copy(bad, exp / "checkpoints" / "epoch1.pt")
        shutil.copy(root / "exp" / "checkpoints" / "epoch2.pt", exp / "checkpoints" / "epoch2.pt")
        out = work / "avg.pt"
        return verdict(run_command("average", ["--num", "2", "--out", out, exp]), [out])

    def train(bad: Path, work: Path) -> str:
        setup = work / "setup"
        shutil.copytree(root, setup, ignore=shutil.ignore_patterns("exp", "waves"))
        shutil.copy(bad, setup / ("conf/train.yaml" if name == "train.yaml" else f"dump/train/{name}"))
        exp = work / "exp"
        args = s.train_args(setup, exp, "--seed", "3", "--set",  # type: ignore[attr-defined]
                            "training.max_epochs=1")[1:]
        return verdict(run_command("train", args, timeout=300), [exp / "model.pt"])

    def decode_lm(bad: Path, work: Path) -> str:
        out = work / "dec"
        run = run_command("decode", ["--model", s.files["model.pt"], *FAST, "--lm", bad, "--lm-weight", "0.3",
                                     "--output-dir", out, *s.files["good"]])
        return verdict(run, [out / "text", out / "nbest.jsonl"], 2, lambda: _decoded(out))

    def fbank_config(bad: Path, work: Path) -> str:
        ark, out = work / "f.ark", work / "f.scp"
        run = run_command("compute-fbank", ["--config", bad, f"scp:{s.files['wav.scp']}", f"ark,scp:{ark},{out}"])
        return verdict(run, [ark, out], 3, lambda: _lines(out))

    return {"epoch1.pt": [("average", average)], "lm.pt": [("decode --lm", decode_lm)],
            "fbank.yaml": [("compute-fbank --config", fbank_config)]}.get(name, [("train", train)])


def adaptation_cases(s: Seeds, name: str) -> List[Case]:
    """Damaged speaker transforms given to asrkit-decode; damaged first-pass hypotheses given to
    asrkit-adapt-speakers; a damaged trn given to asrkit-score."""
    feats, utt2spk = f"scp:{s.files['raw.scp']}", s.files["utt2spk"]

    def decode(bad: Path, work: Path) -> str:
        out = work / "dec"
        run = run_command("decode", ["--model", s.files["model.pt"], *FAST, "--output-dir", out, "--feats", feats,
                                     "--spk-transforms", f"ark:{bad}", "--utt2spk", utt2spk])
        return verdict(run, [out / "text", out / "nbest.jsonl"], 4, lambda: _decoded(out))

    def adapt(bad: Path, work: Path) -> str:
        out = work / "tr.ark"
        run = run_command("adapt-speakers", ["--model", s.files["model.pt"], "--utt2spk", utt2spk, "--feats", feats,
                                             "--epochs", "1", "--min-utts", "1", bad, f"ark:{out}"])
        return verdict(run, [out])

    def score(bad: Path, work: Path) -> str:
        out = work / "score"
        return verdict(run_command("score", ["--output-dir", out, "--allow-missing", bad, s.files["hyp"]]),
                       [out / "wer.txt"])

    return {"transforms.ark": [("decode --spk-transforms", decode)], "hyp": [("adapt-speakers", adapt)],
            "ref.trn": [("score", score)]}[name]


def all_targets(s: Seeds):
    """(seed name, mutations kind, cases) for every seed."""
    other = {"a16.wav": "a16.flac", "a16.flac": "a16.ogg", "a16.ogg": "a16.wav", "a16.sph": "a16.wav",
             "f8.wav": "a16.sph", "raw.ark": "a16.wav", "cmvn.ark": "raw.ark", "model.pt": "tokens.model",
             "tokens.model": "model.pt"}
    out = []
    for name in ("a16.wav", "f8.wav", "a16.flac", "a16.ogg", "a16.sph"):
        out.append((name, "binary", other[name], audio_cases(s, name)))
    for name in ("raw.ark", "cmvn.ark"):
        out.append((name, "binary", other[name], feature_cases(s, name)))
    out.append(("raw.scp", "text", None, feature_cases(s, "raw.scp")))
    out.append(("text.ark", "text", None, feature_cases(s, "text.ark")))
    for name in ("wav.scp", "segments", "text", "utt2spk", "spk2utt"):
        out.append((name, "text", None, data_dir_cases(s, name)))
    out.append(("model.pt", "binary", other["model.pt"], model_cases(s, "model.pt")))
    out.append(("tokens.model", "binary", other["tokens.model"], model_cases(s, "tokens.model")))
    out.append(("decode.yaml", "text", None, model_cases(s, "decode.yaml")))
    out.append(("transforms.ark", "binary", "cmvn.ark", adaptation_cases(s, "transforms.ark")))
    out.append(("hyp", "text", None, adaptation_cases(s, "hyp")))
    out.append(("ref.trn", "text", None, adaptation_cases(s, "ref.trn")))
    out.append(("fbank.yaml", "text", None, training_cases(s, "fbank.yaml")))
    out.append(("epoch1.pt", "binary", "model.pt", training_cases(s, "epoch1.pt")))
    out.append(("lm.pt", "binary", "model.pt", training_cases(s, "lm.pt")))
    out.append(("train.yaml", "text", None, training_cases(s, "train.yaml")))
    for name in ("feats.scp", "utt2num_frames", "text"):
        out.append((f"train/{name}", "text", None, training_cases(s, name)))
    return out


def mutants(s: Seeds, name: str, kind: str, other: Optional[str], seed: int = 0):
    data = s.files[name].read_bytes()
    if kind == "binary":
        return list(binary_mutations(data, seed, s.files[other].read_bytes() if other else b""))
    return list(text_mutations(data, seed))


# Cases of a whole training (seconds each) run on every n-th mutation of an audio seed only.
SPARSE = {"train from audio": 5}


def damaged_file(work: Path, name: str, kind: str, data: bytes) -> Path:
    """``data`` written in ``work`` under a name a user's file of that kind might have."""
    bad = work / ("bad" + Path(name).suffix if kind == "binary" else Path(name).name)
    bad.write_bytes(data)
    return bad


def sweep(out: Path, only: Sequence[str] = (), limit: int = 0, seed: int = 0,
          kinds: Sequence[str] = ()) -> Dict[str, int]:
    import faulthandler
    import os
    import shutil
    import sys
    import time

    corp = Path(os.environ.get("ASRKIT_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora"))
    seeds = build_seeds(out, corp / "an4", corp / "fsdd", corp / "yesno")
    counts: Dict[str, int] = {}
    bad_log = open(out / "bad.txt", "w")
    all_log = open(out / "all.tsv", "w")
    t0 = time.time()
    for name, kind, other, cases in all_targets(seeds):
        if only and name not in only:
            continue
        muts = mutants(seeds, name, kind, other, seed)
        if kinds:
            muts = [(m, d) for m, d in muts if m.startswith(tuple(kinds))]
        if limit:
            muts = muts[:limit]
        for index, (mname, damaged) in enumerate(muts):
            for command, check in cases:
                if index % SPARSE.get(command, 1):
                    continue
                work = out / "work"
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir()
                bad = damaged_file(work, name, kind, damaged)
                (out / "current.txt").write_text(f"{name}\t{mname}\t{command}\n")
                # a hang inside C code (libsndfile, torch) never returns to the alarm's handler:
                # end the sweep with every thread's stack rather than wait forever
                faulthandler.dump_traceback_later(600, exit=True)
                started = time.monotonic()
                try:
                    v = check(bad, work)
                except BaseException as e:  # the check itself: count it apart
                    v = f"BAD: check raised {type(e).__name__}: {e}"
                faulthandler.cancel_dump_traceback_later()
                key = "BAD" if v.startswith("BAD") else v
                counts[key] = counts.get(key, 0) + 1
                all_log.write(f"{name}\t{mname}\t{command}\t{v}\t{time.monotonic() - started:.1f}\n")
                all_log.flush()
                if key == "BAD":
                    bad_log.write(f"{name}\t{mname}\t{command}\t{v}\n")
                    bad_log.flush()
                    keep = out / "bad" / f"{name.replace('/', '_')}.{mname}"
                    keep.parent.mkdir(exist_ok=True)
                    keep.write_bytes(damaged)
        print(f"{name}: {counts} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    return counts


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="a new folder for seeds, logs and the BAD cases' files")
    p.add_argument("--only", nargs="*", default=(), help="seed names (a16.wav, raw.ark, text, model.pt, ...)")
    p.add_argument("--limit", type=int, default=0, help="at most this many mutations per seed")
    p.add_argument("--seed", type=int, default=0, help="of the random positions and bytes")
    p.add_argument("--mutations", nargs="*", default=(), help="only the mutations whose names start so (truncate, u32@...)")
    a = p.parse_args()
    print(sweep(a.out, a.only, a.limit, a.seed, a.mutations))
