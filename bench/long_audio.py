#!/usr/bin/env python3
"""Long recordings: the AN4 test set joined into one recording, and that recording ten times over.

``make`` writes, under --out (from the AN4 test set, or from any data dir given with --data):
- ``utts/wav.scp``, ``utts/text``: the 130 AN4 test utterances as they are (fileids order);
- ``joined.wav``: the same 130 utterances in that order, separated by pauses drawn uniformly from
  [--pause-min, --pause-max] s (seeded), and ``joined.txt`` its reference (``joined <words>``),
  ``joined.segments`` where each utterance lies in it;
- ``joined_x10.wav`` (``--repeat``): ``joined.wav`` ten times, with a pause between copies.
A pause is not digital silence but Gaussian noise at AN4's own background level (the median
over the utterances of the RMS of their quietest 100 ms), so it sounds like the room the
utterances were recorded in.

``run`` decodes, each with asrkit-decode in its own process (one thread): the 130 utterances
separately, ``joined.wav`` and ``joined_x10.wav``; it prints WER (asrkit's scorer, the joined
hypothesis scored against the joined reference as one utterance), the model-time real-time
factor the decode log reports (CMVN'd features -> segmentation -> search -> text), the whole
process's wall time per second of audio, and its peak resident memory (``wait4``'s
``ru_maxrss``)::

    bench/long_audio.py make --out /tmp/long
    bench/long_audio.py make --out /tmp/long --data egs/fsdd/asr1/data/test --max-utts 100 --repeat 10
    bench/long_audio.py run --out /tmp/long --model egs/an4/asr1/exp/x/model.avg.pt [--skip-x10] \
        [--config conf/decode.yaml] [--only joined]
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import _args  # noqa: E402
from decode_speed import an4_test  # noqa: E402 (bench/ is on sys.path: the script's own dir)

RATE = 16000
AN4 = os.environ.get("ASRKIT_CORPORA", str(REPO.parent / "shared/corpora")) + "/an4"


def data_dir(data: Path, max_utts: int):
    """[(utt_id, wav path, reference text)] of a Kaldi data dir whose wav.scp holds plain paths."""
    refs = dict((ln.split(maxsplit=1) + [""])[:2] for ln in (data / "text").read_text().splitlines())
    out = [(u, Path(w), refs[u]) for u, w in (ln.split(maxsplit=1) for ln in (data / "wav.scp").read_text().splitlines())]
    return out[:max_utts] if max_utts else out


def make(args) -> None:
    import soundfile as sf

    global RATE
    out = Path(args.out)
    (out / "utts").mkdir(parents=True, exist_ok=True)
    if args.data:
        utts = data_dir(Path(args.data), args.max_utts)
    else:
        utts = an4_test(Path(_args.existing_dir(args.an4 or AN4)))
    audio = []
    for utt, wav, _ in utts:
        x, rate = sf.read(str(wav), dtype="int16")
        RATE = rate if utt == utts[0][0] else RATE
        if rate != RATE:  # (an AssertionError traceback)
            raise _args.BenchError(f"{wav}: {rate} Hz, where {utts[0][1]} is {RATE} Hz: joined, the audio needs one rate")
        audio.append(x.astype(np.float64))
    quiet = []
    for x in audio:
        tenth = RATE // 10  # 100 ms
        frames = x[:len(x) // tenth * tenth].reshape(-1, tenth)
        quiet.append(float(np.sqrt((frames ** 2).mean(axis=1)).min()))
    noise = float(np.median(quiet))
    rng = np.random.default_rng(args.seed)
    pieces, segs, t = [], [], 0
    for i, ((utt, _, _), x) in enumerate(zip(utts, audio)):
        if i:
            gap = rng.normal(0, noise, int(rng.uniform(args.pause_min, args.pause_max) * RATE))
            pieces.append(gap)
            t += len(gap)
        segs.append(f"{utt} joined {t / RATE:.2f} {(t + len(x)) / RATE:.2f}")
        pieces.append(x)
        t += len(x)
    joined = np.clip(np.rint(np.concatenate(pieces)), -32768, 32767).astype(np.int16)
    sf.write(str(out / "joined.wav"), joined, RATE, subtype="PCM_16")
    (out / "utts" / "wav.scp").write_text("".join(f"{u} {w}\n" for u, w, _ in utts))
    (out / "utts" / "text").write_text("".join(f"{u} {r}\n" for u, _, r in utts))
    (out / "joined.txt").write_text("joined " + " ".join(r for _, _, r in utts) + "\n")
    (out / "joined.segments").write_text("".join(s + "\n" for s in segs))
    print(f"joined.wav: {len(utts)} utterances, {len(joined) / RATE:.1f} s, pause noise RMS {noise:.1f}")
    if args.repeat > 1:
        gap = np.clip(np.rint(rng.normal(0, noise, RATE)), -32768, 32767).astype(np.int16)
        big = np.concatenate([c for _ in range(args.repeat) for c in (joined, gap)][:-1])
        sf.write(str(out / f"joined_x{args.repeat}.wav"), big, RATE, subtype="PCM_16")
        (out / f"joined_x{args.repeat}.txt").write_text(
            f"joined_x{args.repeat} " + " ".join([(out / "joined.txt").read_text().split(" ", 1)[1].strip()]
                                                 * args.repeat) + "\n")
        print(f"joined_x{args.repeat}.wav: {len(big) / RATE / 60:.1f} min")


def decode(args, name: str, inputs, out: Path):
    """Run asrkit-decode in its own process; (wall s, peak RSS MiB, model-time RTF, audio s)."""
    cmd = [str(Path(sys.executable).parent / "asrkit-decode"), "--model", args.model, "--beam", str(args.beam),
           "--ctc-weight", str(args.ctc_weight), "--output-dir", str(out / name), *inputs]
    if args.config:  # the rest of the decoding options (e.g. segment_target_s); the flags above win
        cmd[1:1] = ["--config", args.config]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    print("$", " ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # wait4 gives this child's own rusage: its peak resident set, not the bench's.
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise _args.BenchError(f"{name}: {_args.command_failed(cmd, proc.returncode, err)}")
    log = (out / name / "log" / "decode.log").read_text()
    m = re.search(r"decoded ([\d.]+) s of audio in ([\d.]+) s of model time: real-time factor ([\d.]+)", log)
    return wall, usage.ru_maxrss / 1024, float(m.group(3)), float(m.group(1))


def wer(ref: Path, hyp: Path) -> str:
    from asrkit.data.table import read_table
    from asrkit.scoring.score import score_texts

    r = score_texts(read_table(str(ref)), read_table(str(hyp)), levels=("word",))
    t = r.word.totals
    return f"{r.wer:.2f} ({t.errors}/{t.ref_len})"


def run(args) -> None:
    out = Path(args.out)
    rows = []
    jobs = [("separate", ["--wav-scp", str(out / "utts" / "wav.scp")], out / "utts" / "text"),
            ("joined", [str(out / "joined.wav")], out / "joined.txt")]
    if not args.skip_x10:
        jobs.append(("joined_x10", [str(out / "joined_x10.wav")], out / "joined_x10.txt"))
    for name, inputs, ref in jobs:
        if args.only is not None and name not in args.only:
            continue
        wall, rss, rtf, audio = decode(args, name, inputs, out)
        rows.append((name, audio, wer(ref, out / name / "text"), rtf, wall / audio, wall, rss))
    load = os.getloadavg()
    print(f"\nmodel {args.model}, beam {args.beam}, ctc {args.ctc_weight}, one thread; "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("| decoding | audio s | WER % (errors/words) | model-time RTF | wall s / audio s | wall s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for name, audio, w, rtf, wrtf, wall, rss in rows:
        print(f"| {name} | {audio:.1f} | {w} | {rtf:.4f} | {wrtf:.4f} | {wall:.1f} | {rss:.0f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    m = sub.add_parser("make")
    m.add_argument("--an4", default=None, type=_args.existing_dir,
                   help=f"the AN4 corpus, whose test set is used without --data [default: {AN4}]")
    m.add_argument("--data", default=None, type=_args.existing_dir,
                   help="A Kaldi data dir (wav.scp of plain paths, text) to use instead of the AN4 test set")
    m.add_argument("--max-utts", type=_args.nonnegative_int, default=0, help="Only the first N utterances of --data")
    m.add_argument("--out", required=True, type=_args.output_dir)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--pause-min", type=_args.nonnegative_float, default=0.3)
    m.add_argument("--pause-max", type=_args.nonnegative_float, default=1.0)
    m.add_argument("--repeat", type=_args.positive_int, default=10)
    r = sub.add_parser("run")
    r.add_argument("--out", required=True)
    r.add_argument("--model", required=True)
    r.add_argument("--beam", type=_args.positive_int, default=10)
    r.add_argument("--ctc-weight", type=float, default=0.3)
    r.add_argument("--skip-x10", action="store_true")
    r.add_argument("--config", default=None, type=_args.existing_file,
                   help="a decode.yaml for the other options (--beam, --ctc-weight win)")
    r.add_argument("--only", nargs="*", default=None, help="only these decodings (separate, joined, joined_x10)")
    args = p.parse_args()
    if args.what == "make" and args.max_utts and not args.data:  # it took all 130 of AN4 test without a word
        m.error("--max-utts takes the first N utterances of --data; without --data the AN4 test set is used whole")
    if args.what == "make" and args.pause_min > args.pause_max:  # rng.uniform took them the other way round
        m.error(f"--pause-min {args.pause_min:g} is above --pause-max {args.pause_max:g}")
    if args.what == "run" and set(args.only or []) - {"separate", "joined", "joined_x10"}:
        r.error(f"--only: separate, joined and/or joined_x10, not {' '.join(sorted(set(args.only) - {'separate', 'joined', 'joined_x10'}))}")
    if args.what == "run":  # after the usage errors above: an --only typo is named whatever the paths
        _args.existing_dir(args.out), _args.existing_file(args.model)
    make(args) if args.what == "make" else run(args)


if __name__ == "__main__":
    _args.run(main)
