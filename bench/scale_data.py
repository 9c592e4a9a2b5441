#!/usr/bin/env python3
"""asrkit-train's data loading at LibriSpeech 960 h scale: memory, start-up, loader throughput.

Builds, from AN4, two dump dirs the size of LibriSpeech 960 h (281,241 utterances by default):
``scale_fbank/`` (feats.scp lines pointing into one real AN4 ark, utt2num_frames, AN4
transcripts) and ``scale_raw/`` (wav.scp naming the real AN4 WAVs, utt2dur, the same
transcripts), each utterance of AN4's train set repeated under new ids. The AN4 features come
from ``asrkit-compute-fbank`` run here on --an4-root's train set, the tokenizers from
``asrkit-train-tokenizer``; both are kept in --work-dir (its an4/) for the next run.

Then it prints:

1. the resident memory (RSS) of ``asrkit-train`` at its first batch, and the time from the
   process's start to that batch (target: <= 600 MB, <= 10 s), for char and BPE tokens, with
   the loader in the training process and with 2 workers (their proportional share, PSS, too);
   the time torch alone takes to import on this machine is printed beside it;
2. loader throughput per worker: utterances per CPU-second of one process, reading the dumped
   features, and computing fbank from the audio (plain, with speed perturbation 0.9/1.1, with
   noise mixed in), and the per-utterance costs behind it (read, resample, fbank);
3. how many workers one GPU needs to be fed 1800 utt/s (the measured H100 floor for an
   AN4-size LAS).

    e.g.: OMP_NUM_THREADS=1 bench/scale_data.py                     # everything, ~5 min on 2 busy cores
          OMP_NUM_THREADS=1 bench/scale_data.py --skip-train --num-utts 20000
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import _args  # noqa: E402 (bench/, the script's own dir, is on sys.path)

GPU_FLOOR_UTT_S = 1800.0  # utterances/s one H100 trains an AN4-size LAS at (issue #12)
LIBRISPEECH_UTTS = 281241


def sh(*cmd: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, **kw)
    if proc.returncode != 0:
        raise _args.command_failed(cmd, proc.returncode, proc.stderr)
    return proc


def asrkit_bin(name: str) -> str:
    return str(Path(sys.executable).parent / f"asrkit-{name}")


# ------------------------------------------------------------------------------------------ data
def an4_train(an4: Path) -> dict:
    """AN4 train: utt -> (wav path, transcript)."""
    paths = {Path(p).name: an4 / "wav" / (p + ".wav") for p in (an4 / "etc" / "an4_train.fileids").read_text().split()}
    out = {}
    for line in (an4 / "etc" / "an4_train.transcription").read_text().splitlines():
        text, _, rest = line.rpartition("(")
        utt = rest.strip().rstrip(")")
        out[utt] = (paths[utt], " ".join(w for w in text.split() if w not in ("<s>", "</s>")))
    return out


def prepare_an4(an4: Path, work: Path) -> Path:
    """work/an4/{data,dump,lang_char,lang_bpe30}: AN4 train's wav.scp/text, its fbank, CMVN, tokenizers."""
    root = work / "an4"
    if (root / ".done").exists():
        return root
    data, dump = root / "data", root / "dump"
    data.mkdir(parents=True, exist_ok=True)
    utts = an4_train(an4)
    (data / "wav.scp").write_text("".join(f"{u} {utts[u][0]}\n" for u in sorted(utts)))
    (data / "text").write_text("".join(f"{u} {utts[u][1]}\n" for u in sorted(utts)))
    conf = REPO / "egs" / "an4" / "asr1" / "conf" / "fbank.yaml"
    dump.mkdir(exist_ok=True)
    sh(asrkit_bin("compute-fbank"), "--config", conf, f"scp:{data / 'wav.scp'}",
       f"ark,scp:{dump / 'feats.ark'},{dump / 'feats.scp'}")
    sh(asrkit_bin("compute-cmvn"), f"scp:{dump / 'feats.scp'}", dump / "cmvn.ark")
    (dump / "text").write_text((data / "text").read_text())
    sh(asrkit_bin("train-tokenizer"), "--model-type", "char", data / "text", root / "lang_char")
    sh(asrkit_bin("train-tokenizer"), "--model-type", "bpe", "--vocab-size", "30", data / "text", root / "lang_bpe30")
    (root / ".done").touch()
    return root


def read_table(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        k, _, v = line.partition(" ")
        out[k] = v
    return out


def build_scale_dirs(an4: Path, dump: Path, data: Path, out: Path, n: int) -> tuple:
    """out/scale_fbank and out/scale_raw with ``n`` utterances each: AN4's train set repeated."""
    fb, raw = out / f"scale_fbank_{n}", out / f"scale_raw_{n}"
    if (fb / ".done").exists() and (raw / ".done").exists():
        return fb, raw
    feats, frames, text, wavs = (read_table(dump / "feats.scp"), read_table(dump / "utt2num_frames"),
                                 read_table(dump / "text"), read_table(data / "wav.scp"))
    base = sorted(u for u in feats if u in text and u in wavs)
    import soundfile

    dur = {u: f"{soundfile.info(wavs[u]).duration:.4f}" for u in base}
    fb.mkdir(parents=True, exist_ok=True)
    raw.mkdir(parents=True, exist_ok=True)
    files = {}
    for d, names in ((fb, ("feats.scp", "utt2num_frames", "text")), (raw, ("wav.scp", "utt2dur", "text"))):
        for name in names:
            files[(d, name)] = open(d / name, "w")
    try:
        written = 0
        for copy in range(math.ceil(n / len(base))):
            for u in base:
                if written == n:
                    break
                key = f"c{copy:03d}-{u}"  # sorted: the copy number first, then AN4's sorted ids
                files[(fb, "feats.scp")].write(f"{key} {feats[u]}\n")
                files[(fb, "utt2num_frames")].write(f"{key} {frames[u]}\n")
                files[(fb, "text")].write(f"{key} {text[u]}\n")
                files[(raw, "wav.scp")].write(f"{key} {wavs[u]}\n")
                files[(raw, "utt2dur")].write(f"{key} {dur[u]}\n")
                files[(raw, "text")].write(f"{key} {text[u]}\n")
                written += 1
    finally:
        for f in files.values():
            f.close()
    for d in (fb, raw):
        (d / "fbank.yaml").write_text((REPO / "egs" / "an4" / "asr1" / "conf" / "fbank.yaml").read_text())
        (d / ".done").touch()
    return fb, raw


# --------------------------------------------------------------------------- first batch of asrkit-train
# Run in a child process: asrkit-train's own command line, with LASTask.forward replaced by a probe
# that reports memory and time at the first batch and ends the process.
PROBE = r"""
import json, os, sys, time
T0 = float(os.environ["BENCH_T0"])
def kb(path, field):
    try:
        for line in open(path):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0
import asrkit.training.las_task as lt
def probe(self, model, batch, device):
    me = os.getpid()
    kids = []
    for t in os.listdir(f"/proc/{me}/task"):
        try:
            kids += [int(p) for p in open(f"/proc/{me}/task/{t}/children").read().split()]
        except OSError:
            pass
    out = {"t": time.time() - T0, "cpu_s": sum(os.times()[:2]), "rss_kb": kb("/proc/self/status", "VmRSS"),
           "anon_kb": kb("/proc/self/status", "RssAnon"), "pss_kb": kb("/proc/self/smaps_rollup", "Pss"),
           "workers": len(kids), "workers_rss_kb": sum(kb(f"/proc/{k}/status", "VmRSS") for k in kids),
           "workers_pss_kb": sum(kb(f"/proc/{k}/smaps_rollup", "Pss") for k in kids),
           "batch_utts": len(batch.indices)}
    with open(os.environ["BENCH_OUT"], "w") as f:
        json.dump(out, f)
    os._exit(0)
lt.LASTask.forward = probe
from asrkit.cli import main
main(["train", *sys.argv[1:]])
"""


def first_batch(train_dir: Path, lang: Path, cmvn: Path, work: Path, workers: int, extra=()) -> dict:
    exp = Path(tempfile.mkdtemp(dir=work, prefix="exp_"))
    out = exp / "probe.json"
    conf = REPO / "egs" / "an4" / "asr1" / "conf" / "train_cpu_sp_const.yaml"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BENCH_OUT": str(out), "BENCH_T0": repr(time.time())}
    cmd = [sys.executable, "-c", PROBE, "--config", str(conf), "--train-dir", str(train_dir), "--lang-dir", str(lang),
           "--cmvn", str(cmvn), "--ngpu", "0", "--set", "batching.cache_features=false",
           "--set", f"batching.num_workers={workers}", *extra, str(exp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if not out.exists():
            last = _args.last_line(proc.stderr)
            raise _args.BenchError(f"asrkit-train did not reach its first batch (exit {proc.returncode})"
                                   + (f": {last}" if last else ""))
        return json.loads(out.read_text())
    finally:
        # one exp dir per probe: a --repeat 3 run of every case left 24 of them in --work-dir
        shutil.rmtree(exp, ignore_errors=True)


# ------------------------------------------------------------------------------ loader throughput
def loader_throughput(an4: Path, work: Path, n: int) -> list:
    """Utterances per CPU-second of one process (a DataLoader worker's share), per way of loading."""
    import numpy as np
    import soundfile

    from asrkit.features.fbank import FbankConfig, compute_fbank
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.features.resample import speed_perturb
    from asrkit.training.audio_data import AudioDataset
    from asrkit.training.config import AugmentConfig
    from asrkit.training.data import FeatureDataset, load_cmvn, load_utterances

    data = an4 / "data"
    fbank = FbankConfig.from_yaml(REPO / "egs" / "an4" / "asr1" / "conf" / "fbank.yaml")
    (data / "fbank.yaml").write_text(fbank.to_yaml())
    noise = work / "noise.wav"  # 10 s of synthesised noise at 16 kHz, as a stand-in for MUSAN
    soundfile.write(noise, (np.random.default_rng(0).standard_normal(160000) * 2000).astype(np.int16), 16000)
    (work / "noise.scp").write_text(f"noise1 {noise}\n")
    tok = Tokenizer.load(an4 / "lang_char" / "tokens.model")
    cmvn = load_cmvn(str(an4 / "dump" / "cmvn.ark"))
    dumped = FeatureDataset(load_utterances(str(an4 / "dump"), tok), cmvn)
    raw_table = load_utterances(str(data), tok, fbank=fbank, min_speed=0.9)
    cases = [("dumped fbank (feats.scp)", dumped),
             ("raw audio, fbank on the fly", AudioDataset(raw_table, fbank, cmvn)),
             ("raw + speed perturbation 0.9/1.0/1.1",
              AudioDataset(raw_table, fbank, cmvn, augment=AugmentConfig(speed_factors=[0.9, 1.0, 1.1]))),
             ("raw + speed + noise (p=0.5)",
              AudioDataset(raw_table, fbank, cmvn, augment=AugmentConfig(speed_factors=[0.9, 1.0, 1.1],
                                                                         noise_scp=str(work / "noise.scp"))))]
    rows = []
    for name, ds in cases:
        ds[0]
        t = time.process_time()
        for i in range(n):
            ds[i]
        cpu = time.process_time() - t
        rows.append((name, n / cpu))
    # The parts of one raw utterance's cost
    parts = {"read audio": 0.0, "speed 0.9 resample": 0.0, "fbank": 0.0}
    audio_s = 0.0
    for i in range(n):
        entry = cases[1][1]._entry(i)
        t = time.process_time()
        samples, rate = entry.load()
        t2 = time.process_time()
        speed_perturb(samples, rate, 0.9)
        t3 = time.process_time()
        compute_fbank(samples, rate, fbank)
        t4 = time.process_time()
        parts["read audio"] += t2 - t
        parts["speed 0.9 resample"] += t3 - t2
        parts["fbank"] += t4 - t3
        audio_s += len(samples) / rate
    return rows, {k: 1000 * v / n for k, v in parts.items()}, audio_s / n


def torch_import_s() -> float:
    code = "import time; t = time.time(); import torch; print(time.time() - t)"
    return float(sh(sys.executable, "-c", code).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--an4-root", default=str(REPO.parent / "shared" / "corpora" / "an4"), type=_args.existing_dir)
    ap.add_argument("--work-dir", default=os.path.join(tempfile.gettempdir(), "asrkit_bench_scale"),
                    type=_args.output_dir)
    ap.add_argument("--num-utts", type=_args.positive_int, default=LIBRISPEECH_UTTS)
    ap.add_argument("--skip-train", action="store_true", help="skip the asrkit-train first-batch figures")
    ap.add_argument("--skip-loader", action="store_true", help="skip the loader throughput figures")
    ap.add_argument("--loader-utts", type=_args.positive_int, default=300, help="utterances per loader throughput case")
    ap.add_argument("--repeat", type=_args.positive_int, default=1,
                    help="first-batch runs per case (the median is printed)")
    args = ap.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    an4 = prepare_an4(Path(args.an4_root), work)
    fb, raw = build_scale_dirs(Path(args.an4_root), an4 / "dump", an4 / "data", work, args.num_utts)
    print(f"load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}, "
          f"{os.cpu_count()} cores")
    if not args.skip_train:
        print(f"\nasrkit-train at its first batch, {args.num_utts} utterances "
              f"(egs/an4/asr1/conf/train_cpu_sp_const.yaml, CPU, one thread; torch import alone: "
              f"{torch_import_s():.1f} s)")
        # PSS (shared pages split between the processes sharing them): main + workers is what the
        # node holds, which RSS alone hides when main and its workers share pages.
        print("| dump dir | tokens | loader | RSS MB | anon MB | time to first batch s | its CPU s | workers PSS MB | "
              "main + workers PSS MB |")
        print("|---|---|---|---|---|---|---|---|---|")
        for d, kind in ((fb, "fbank"), (raw, "raw")):
            for lang in ("lang_char", "lang_bpe30"):
                for workers in (0, 2):
                    runs = sorted((first_batch(d, an4 / lang, an4 / "dump" / "cmvn.ark", work, workers)
                                   for _ in range(args.repeat)), key=lambda r: r["t"])
                    r = runs[len(runs) // 2]
                    print(f"| {kind} | {lang[5:]} | {workers or 'main process'} | {r['rss_kb'] / 1024:.0f} | "
                          f"{r['anon_kb'] / 1024:.0f} | {r['t']:.1f} | {r['cpu_s']:.1f} | "
                          f"{r['workers_pss_kb'] / 1024:.0f} | {(r['pss_kb'] + r['workers_pss_kb']) / 1024:.0f} |",
                          flush=True)
    if not args.skip_loader:
        rows, parts, mean_s = loader_throughput(an4, work, args.loader_utts)
        print(f"\nloader throughput, one process, one thread ({args.loader_utts} AN4 train utterances, mean "
              f"{mean_s:.2f} s; utterances per CPU-second = per busy DataLoader worker)")
        print(f"| input | utt/s per worker | workers for {GPU_FLOOR_UTT_S:.0f} utt/s |")
        print("|---|---|---|")
        for name, rate in rows:
            print(f"| {name} | {rate:.0f} | {math.ceil(GPU_FLOOR_UTT_S / rate)} |")
        print("per raw utterance, ms of CPU: " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    print("command: " + " ".join(shlex.quote(a) for a in ["bench/scale_data.py"] + sys.argv[1:]))


if __name__ == "__main__":
    _args.run(main)
