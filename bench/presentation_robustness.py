#!/usr/bin/env python3
"""The same recordings presented differently (container, bit depth, channels, rate, level, padding,
added noise, band limits, lossy codecs), each decoded with asrkit-decode and scored: a presentation
that keeps the information (FLAC, 24-bit or float WAV, duplicated channels, a clean resample, a DC
offset, silence around the speech, a gain without clipping) should give the original's text; one
that loses some (telephone band, low-bitrate codecs, 8-bit, clipping, noise) may cost accuracy and
is a figure, not a target. Prints one table row per presentation: texts unlike the original's, WER.

    e.g.: tools/venv/bin/python bench/presentation_robustness.py --model M --config egs/an4/asr1/conf/decode.yaml \\
            --an4 /work/shared/corpora/an4 --num 130 --out /tmp/pres
          tools/venv/bin/python bench/presentation_robustness.py --model M --data D/data/test --num 100 ...

Padding: "low noise" puts -60 dBFS white noise around the speech only (the original's own pauses
stay as they were); "room noise" adds it under the whole padded recording, as a quiet room would.

Kinds: same (the information is all there: the original's text is the target), lossy (a
figure), noise (noise added: a figure), refused (asrkit-decode says why and decodes nothing).
--only NAME ... decodes those presentations alone (the original always: the texts are compared
with its). Each copy is made from the original's samples with numpy and soundfile; the resamples
with sox when installed (else torchaudio), the telephone band with sox only. Copies and decoding
outputs stay under --out.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _args  # noqa: E402
from decode_speed import an4_test  # noqa: E402

from asrkit.scoring.score import score_texts  # noqa: E402

FULL = 32767.0


def db(x: float) -> float:
    return 10 ** (x / 20)


def rng_for(utt: str) -> np.random.Generator:
    return np.random.default_rng(sum(map(ord, utt)) * 7919)  # not hash(): the same noise every run


def sox_or_torch_resample(src: Path, x: np.ndarray, rate: int, new_rate: int, out: Path) -> None:
    if shutil.which("sox"):
        subprocess.run(["sox", "-R", str(src), "-r", str(new_rate), str(out)], check=True)
        return
    import torch
    import torchaudio.functional as taf

    y = taf.resample(torch.from_numpy(x.astype(np.float32)), rate, new_rate).numpy()
    sf.write(out, np.clip(np.round(y), -32768, 32767).astype(np.int16), new_rate, subtype="PCM_16")


def write16(out: Path, x: np.ndarray, rate: int) -> None:
    sf.write(out, np.clip(np.round(x), -32768, 32767).astype(np.int16), rate, subtype="PCM_16")


def noise(utt: str, n: int, level_dbfs: float) -> np.ndarray:
    """White noise at ``level_dbfs`` RMS (repeatable per utterance)."""
    return rng_for(utt).standard_normal(n) * FULL * db(level_dbfs)


def dither(utt: str, n: int) -> np.ndarray:
    """TPDF dither of +-1 LSB, what a recorder's 'silence' holds once requantised."""
    r = rng_for(utt)
    return np.round(r.uniform(-0.5, 0.5, n) + r.uniform(-0.5, 0.5, n))


# name -> (what it keeps, maker(src, samples at int16 scale, rate, utt, out dir) -> path)
Maker = Callable[[Path, np.ndarray, int, str, Path], Path]


def make_presentations(rate: int, model_rate: int) -> Dict[str, Tuple[str, Maker]]:
    def fmt(suffix: str, subtype: str, **kw) -> Maker:
        def make(src, x, r, utt, d):
            out = d / f"{utt}{suffix}"
            # float at full scale +-1: libsndfile converts it to the subtype (exactly, for 16-bit values)
            sf.write(out, (x / 32768.0).astype(np.float32), r, subtype=subtype, **kw)
            return out
        return make

    def wav(fn: Callable[[np.ndarray, str, int], np.ndarray], subtype: str = "PCM_16", channels: int = 1) -> Maker:
        def make(src, x, r, utt, d):
            out = d / f"{utt}.wav"
            y = fn(x, utt, r)
            if subtype == "PCM_16":
                write16(out, y, r)
            else:
                sf.write(out, (y / 32768.0).astype(np.float32), r, subtype=subtype)
            return out
        return make

    def resampled(new_rate: int) -> Maker:
        def make(src, x, r, utt, d):
            out = d / f"{utt}.wav"
            sox_or_torch_resample(src, x, r, new_rate, out)
            return out
        return make

    def sox_effect(*effect: str) -> Maker:
        def make(src, x, r, utt, d):
            out = d / f"{utt}.wav"
            subprocess.run(["sox", "-R", str(src), str(out), *effect], check=True)
            return out
        return make

    def pad(lead_s: float, trail_s: float, fill: str) -> Callable[[np.ndarray, str, int], np.ndarray]:
        def fn(x, utt, r):
            a, b = int(lead_s * r), int(trail_s * r)
            if fill == "zeros":
                side = np.zeros
                return np.concatenate([side(a), x, side(b)])
            if fill == "dither":
                return np.concatenate([dither(utt, a), x, dither(utt + "t", b)])
            if fill == "room":
                # a quiet room: the noise under the speech as well as around it
                y = np.concatenate([np.zeros(a), x, np.zeros(b)])
                return y + noise(utt, len(y), -60)
            return np.concatenate([noise(utt, a, -60), x, noise(utt + "t", b, -60)])  # low noise
        return fn

    def gain(g_db: float, clip: bool = True) -> Callable[[np.ndarray, str, int], np.ndarray]:
        def fn(x, utt, r):
            y = x * db(g_db)
            return np.clip(y, -32768, 32767) if clip else y
        return fn

    def stereo(kind: str) -> Maker:
        def make(src, x, r, utt, d):
            out = d / f"{utt}.wav"
            # "delayed": the same speech 0.5 ms later, as a second microphone 17 cm further away hears it
            lag = int(0.0005 * r)
            later = np.concatenate([np.zeros(lag), x[:len(x) - lag]])
            other = {"dup": x, "silent": np.zeros_like(x), "inverted": -x, "delayed": later}[kind]
            sf.write(out, np.clip(np.round(np.stack([x, other], 1)), -32768, 32767).astype(np.int16), r,
                     subtype="PCM_16")
            return out
        return make

    def hum(freq: float, level_dbfs: float) -> Callable[[np.ndarray, str, int], np.ndarray]:
        def fn(x, utt, r):
            t = np.arange(len(x)) / r
            return x + FULL * db(level_dbfs) * np.sqrt(2) * np.sin(2 * np.pi * freq * t)
        return fn

    def click(x, utt, r):
        # 1.5 s of room noise before the speech with a full-scale click (a 2 ms square pulse, a
        # button or a plug) 0.5 s in: the recorder's own start.
        lead = noise(utt, int(1.5 * r), -60)
        k = int(0.5 * r)
        lead[k:k + int(0.002 * r)] = 30000
        return np.concatenate([lead, x])

    p: Dict[str, Tuple[str, Maker]] = {
        "flac": ("same", fmt(".flac", "PCM_16")),
        "wav 24-bit": ("same", fmt(".wav", "PCM_24")),
        "wav float": ("same", fmt(".wav", "FLOAT")),
        "wav 32-bit": ("same", fmt(".wav", "PCM_32")),
        "wav float64": ("same", fmt(".wav", "DOUBLE")),
        "wavex": ("same", fmt(".wav", "PCM_16", format="WAVEX")),
        "rf64": ("same", fmt(".wav", "PCM_16", format="RF64")),
        "w64": ("same", fmt(".w64", "PCM_16")),
        "aiff": ("same", fmt(".aiff", "PCM_16")),
        "au": ("same", fmt(".au", "PCM_16")),
        "caf": ("same", fmt(".caf", "PCM_16")),
        "nist sphere": ("same", fmt(".sph", "PCM_16", format="NIST")),
        "wav ima adpcm": ("lossy", fmt(".wav", "IMA_ADPCM")),
        "wav ms adpcm": ("lossy", fmt(".wav", "MS_ADPCM")),
        "wav gsm 6.10": ("lossy", fmt(".wav", "GSM610")),
        "wav 8-bit": ("lossy", fmt(".wav", "PCM_U8")),
        "wav mu-law": ("lossy", fmt(".wav", "ULAW")),  # 8 bits, companded
        "wav a-law": ("lossy", fmt(".wav", "ALAW")),
        "ogg vorbis": ("lossy", fmt(".ogg", "VORBIS")),
        "mp3 low bitrate": ("lossy", fmt(".mp3", "MPEG_LAYER_III", format="MP3",
                                                       bitrate_mode="CONSTANT", compression_level=0.9)),
        "opus low bitrate": ("lossy", fmt(".opus", "OPUS", format="OGG", compression_level=1.0)),
        "stereo duplicate": ("same", stereo("dup")),
        "stereo one silent": ("same", stereo("silent")),
        "stereo one inverted": ("refused", stereo("inverted")),
        "stereo one delayed 0.5 ms": ("same", stereo("delayed")),
        "dc offset +3000": ("same", wav(lambda x, u, r: x + 3000)),
        "gain -10 dB": ("same", wav(gain(-10))),
        "gain -20 dB": ("same", wav(gain(-20))),
        "gain -40 dB": ("lossy", wav(gain(-40))),  # requantised to 16 bits: ~7 bits left
        "gain -40 dB float": ("same", wav(gain(-40), subtype="FLOAT")),
        "gain +10 dB float (no clip)": ("same", wav(gain(10, clip=False), subtype="FLOAT")),
        "gain +10 dB clipped": ("lossy", wav(gain(10))),
        "gain +20 dB clipped": ("lossy", wav(gain(20))),
        "zeros 1 s each side": ("same", wav(pad(1, 1, "zeros"))),
        "zeros 10 s each side": ("same", wav(pad(10, 10, "zeros"))),
        "zeros 30 s lead": ("same", wav(pad(30, 0, "zeros"))),
        "dither 1 s each side": ("same", wav(pad(1, 1, "dither"))),
        "dither 10 s each side": ("same", wav(pad(10, 10, "dither"))),
        "low noise 1 s each side": ("noise", wav(pad(1, 1, "noise"))),
        "low noise 10 s each side": ("noise", wav(pad(10, 10, "noise"))),
        "white noise 20 dB SNR": ("noise", wav(lambda x, u, r: x + rng_for(u).standard_normal(len(x))
                                                * np.sqrt(np.mean(np.square(x)) / 100))),
        "low noise 30 s lead": ("noise", wav(pad(30, 0, "noise"))),
        "room noise 1 s each side": ("noise", wav(pad(1, 1, "room"))),
        "room noise 10 s each side": ("noise", wav(pad(10, 10, "room"))),
        "click 0.5 s into 1.5 s lead": ("noise", wav(click)),
        "hum 50 Hz -30 dBFS": ("lossy", wav(hum(50, -30))),
        "hum 60 Hz -30 dBFS": ("lossy", wav(hum(60, -30))),
        "telephone band 300-3400 Hz": ("lossy", sox_effect("sinc", "300-3400")),
    }
    for new_rate in (8000, 16000, 22050, 44100, 48000):
        if new_rate != rate:
            kind = "lossy" if new_rate < rate or new_rate < model_rate else "same"
            p[f"resampled {new_rate} Hz"] = (kind, resampled(new_rate))
    return p


def concat_pairs(utts: List[Tuple[str, Path, str]], out: Path) -> Tuple[Path, Dict[str, str]]:
    """Consecutive utterances joined two by two into one file with 0.5 s of low noise between."""
    d = out / "concatenated_pairs"
    d.mkdir(parents=True, exist_ok=True)
    lines, refs = [], {}
    for (u1, w1, t1), (u2, w2, t2) in zip(utts[0::2], utts[1::2]):
        x1, r1 = sf.read(w1, dtype="int16")
        x2, r2 = sf.read(w2, dtype="int16")
        gap = noise(u1 + u2, int(0.5 * r1), -60)
        y = np.concatenate([x1.astype(np.float64), gap, x2.astype(np.float64)])
        path = d / f"{u1}.wav"
        write16(path, y, r1)
        lines.append(f"{u1} {path}\n")
        refs[u1] = f"{t1} {t2}"
    (d / "wav.scp").write_text("".join(lines))
    return d / "wav.scp", refs


def decode(model: str, scp: Path, out: Path, extra: List[str]) -> Tuple[Dict[str, str], float, str]:
    bindir = Path(sys.executable).parent
    cmd = [str(bindir / "asrkit-decode"), "--model", model, "--wav-scp", str(scp), "--output-dir", str(out),
           "--max-bad-percent", "100", *extra]
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    took = time.time() - t
    (out.parent / (out.name + ".log")).write_text(r.stderr)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        return {}, took, f"exit {r.returncode}: {last}"
    texts = dict((line.split(maxsplit=1) + [""])[:2] for line in (out / "text").read_text().splitlines())
    done = re.search(r"Done (\d+) out of (\d+)", r.stderr)
    return texts, took, done.group(0) if done else ""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, type=_args.existing_file)
    p.add_argument("--config", default=None, type=_args.existing_file, help="decoding options (conf/decode.yaml)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--an4", type=_args.existing_dir, help="the AN4 corpus (its test set, fileids order)")
    src.add_argument("--data", type=_args.existing_dir, help="a data dir with wav.scp (plain paths) and text")
    p.add_argument("--num", type=_args.positive_int, default=130, help="the first N utterances")
    p.add_argument("--only", nargs="*", default=None, help="these presentations (names as printed)")
    p.add_argument("--decode-args", default="", help="more asrkit-decode options")
    p.add_argument("--out", default="/tmp/presentation_robustness", type=_args.output_dir)
    args = p.parse_args()
    if args.an4:
        utts = an4_test(Path(args.an4))[:args.num]
    else:
        d = Path(args.data)
        refs0 = dict((ln.split(maxsplit=1) + [""])[:2] for ln in (d / "text").read_text().splitlines())
        utts = [(u, Path(w), refs0[u]) for u, w in (ln.split(maxsplit=1) for ln in
                                                     (d / "wav.scp").read_text().splitlines())][:args.num]
    refs = {u: t for u, _, t in utts}
    out = Path(args.out)
    extra = (["--config", args.config] if args.config else []) + args.decode_args.split()
    rate = sf.info(str(utts[0][1])).samplerate
    from asrkit.models.package import load_package

    model_rate = int(load_package(args.model, "cpu").meta.feature_config.sample_frequency)
    pres = make_presentations(rate, model_rate)
    # A name not among them (a typo) was passed over: the table held the original alone, exit 0.
    unknown = [n for n in args.only or [] if n not in ["original", *pres, "concatenated pairs"]]
    if unknown:
        p.error(f"--only: no presentation named {', '.join(map(repr, unknown))} "
                f"(the names: {', '.join(['original', *pres, 'concatenated pairs'])})")
    out.mkdir(parents=True, exist_ok=True)
    names = ["original"] + [n for n in list(pres) + ["concatenated pairs"] if args.only is None or n in args.only]
    words = sum(len(t.split()) for t in refs.values())
    print("command: " + " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv), flush=True)
    print(f"| presentation | kind | texts unlike the original's (of {len(utts)}) | WER % ({words} words) | "
          f"errors | decode s | note |\n|---|---|---|---|---|---|---|", flush=True)
    base: Dict[str, str] = {}
    for name in names:
        key = re.sub(r"[^a-z0-9]+", "_", name.lower().replace("+", "plus ").replace(" -", " minus ")).strip("_")
        d = out / key
        d.mkdir(parents=True, exist_ok=True)
        these = refs
        if name == "original":
            scp, kind = d / "wav.scp", "same"
            scp.write_text("".join(f"{u} {w}\n" for u, w, _ in utts))
        elif name == "concatenated pairs":
            scp, these = concat_pairs(utts, out)
            kind = "same"
        else:
            kind, maker = pres[name]
            lines = []
            for u, w, _ in utts:
                x, r = sf.read(str(w), dtype="int16")
                lines.append(f"{u} {maker(Path(w), x.astype(np.float64), r, u, d)}\n")
            scp = d / "wav.scp"
            scp.write_text("".join(lines))
        shutil.rmtree(d / "dec", ignore_errors=True)
        hyp, took, note = decode(args.model, scp, d / "dec", extra)
        if name == "original":
            base = hyp
        res = score_texts(these, {u: hyp.get(u, "") for u in these}, levels=("word",))
        c = res.word.totals
        errs = f"{c.ins} ins, {c.dels} del, {c.sub} sub"
        if name == "concatenated pairs":
            differ = sum(hyp.get(u1, "").split() != (base.get(u1, "").split() + base.get(u2, "").split())
                         for (u1, _, _), (u2, _, _) in zip(utts[0::2], utts[1::2]))
            differ_s = f"{differ} (of {len(these)} pairs)"
        else:
            differ_s = str(sum(hyp.get(u, "").split() != base.get(u, "").split() for u in refs))
        print(f"| {name} | {kind} | {differ_s} | {res.wer:.2f} | {errs} | {took:.0f} | {note} |", flush=True)


if __name__ == "__main__":
    _args.run(main)
