#!/usr/bin/env python3
"""Connected-digit utterances from the Free Spoken Digit Dataset, deterministically.

FSDD holds isolated digits (``recordings/<digit>_<speaker>_<take>.wav``, 8 kHz, 50 takes of each
digit per speaker). Each utterance made here is 1-7 digits spoken by ONE speaker, chosen at
random (seeded), joined by short random pauses, with a little silence before and after. The
split is speaker independent: the test speakers' recordings are used only in test. Validation
utterances come from the training speakers but from takes that training never uses.

Silence is not digital zero but noise at about -80 dBFS, so the log mel energies of pauses
stay finite and look like a quiet recording. Output: ``<out>/<set>/{wav.scp,text,utt2spk,
spk2utt,ref.ctm}`` and the audio as WAV files under ``<wav-dir>/<set>/``.

``ref.ctm`` says where each digit's speech is (Kaldi CTM: ``<utt> 1 <start> <dur> <word> 1.00``,
seconds): the builder knows where it put each recording, and the recording's own leading and
trailing silence is left out by an energy rule (``speech_span``: frames 3-8 dB above the
speaker's noise floor), so the times are those of the speech itself, as a word aligner would
give them.

``--speed-factors 0.9,1.0,1.1`` (training set only): each training utterance is played at one
factor drawn from the list (tempo and pitch change together, as ``sox speed`` and Kaldi's speed
perturbation do), resampled in-process (torchaudio). It draws from a generator of its own, so
the digits, takes and pauses stay those of the unperturbed set.

``--background-prob P`` and ``--long-edge-prob Q`` (training set only; multi-condition training):
FSDD's takes are cut close around the word and its pauses are far quieter than most speakers' own
recording noise, so a model trained on them alone never hears a second of room noise without a
digit in it, and reads it as digits (the default model: 10 s of -60 dBFS white noise under and
around each dev utterance, 3240 inserted digits in 150 utterances). With probability P a training
utterance gets a background noise under all of it (white, pink or brown, at -75 to -45 dBFS RMS:
``--background-min-dbfs``, ``--background-max-dbfs``), and with probability Q each of its edges
is drawn log-uniformly from ``--edge-max`` to ``--long-edge-max`` (10) seconds instead.
``--background-edges-only`` puts the background before the first digit and after the last only,
the digits and the pauses between them as they were. Both draw
from a generator of their own, as the speed does: the digits, takes and pauses are those of the
set without them, and ref.ctm's times follow the longer edges.

``--tight-edge-prob T`` (training set only): FSDD's own takes are cut close around the word, so a
recording as FSDD holds it starts and ends within milliseconds of its speech, while every
utterance made here had 0.1-0.3 s of quiet before and after it; a model trained on them misread
45-66 % of a held-out speaker's takes as recorded. With probability T each edge is cut away after
the utterance is made (noise included), so the utterance starts or ends where its first or last
take does. It draws from a generator of its own and cuts nothing that other draws depend on: the
other utterances, and the rest of this one, are those made without it. (T = 0.25 took the five
folds' mean WER from 19.80 to 18.62 %, their takes from 57.7 to 52.6 %: RESULTS.md, "Tight edges".)

    e.g. local/make_connected_digits.py --seed 1 /work/shared/corpora/fsdd data data/wav
"""
from __future__ import annotations

import argparse
import io
import re
import shutil
import sys
import wave
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from asrkit.data.datadir import write_data_dir
from asrkit.features.resample import resample
from asrkit.features.wav import read_wav_source
from asrkit.utils.errors import AsrkitError, os_error_message
from asrkit.utils.fileio import atomic_open
from make_noise import colored  # this script's folder: the coloured noise of the noise recordings

WORDS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"]
# <digit>_<speaker>_<take>.wav: the speaker is everything between the first and the last "_"
# (mary-ann, mary_ann, spk2, Lucas), the extension in any case (.WAV). A speaker id goes into
# utterance ids and file names, so no whitespace, "/" or a leading "."/"-".
NAME = re.compile(r"^(\d)_([A-Za-z0-9][^\s/]*)_(\d+)\.wav$", re.IGNORECASE)
RATE = 8000
FRAME = RATE // 100  # 10 ms: the resolution of the speech spans in ref.ctm


# Recordings converted to RATE mono on reading (another person's 16 or 44.1 kHz, stereo, 24-bit
# files in FSDD's layout): path -> what it was, for one warning with a count.
CONVERTED: Dict[Path, str] = {}


def read_wav(path: Path) -> np.ndarray:
    """One recording as float32 in 16-bit sample units at RATE, mono: asrkit's reader (any
    sample rate, channel count and PCM width libsndfile reads; channels averaged) and its
    resampler. An empty, truncated, corrupt or unreadable file is a one-line error naming it."""
    try:
        samples, rate = read_wav_source(str(path), str(path), pipes=False)
    except AsrkitError as e:
        if "--channel" not in str(e):
            raise
        # the reader's advice names an option of asrkit's commands, which this script has not
        raise AsrkitError(str(e).split("; choose one with --channel")[0] + "; keep one channel of that file "
                          "(e.g. sox in.wav out.wav remix 1) and run again") from None
    what = []
    # The reader averages the channels without a word: the warning says so. libsndfile's count, as
    # the reader's: Python's wave module reads WAVE_FORMAT_EXTENSIBLE (sox's 24-bit or multi-channel
    # WAVs) only from Python 3.12 on, so a 24-bit stereo file was "44100 Hz" on 3.9 to 3.11.
    import soundfile

    try:
        channels = soundfile.info(str(path)).channels
    except (RuntimeError, OSError):  # soundfile's LibsndfileError is a RuntimeError
        channels = 1
    if channels > 1:
        what.append(f"{channels} channels")
    if rate != RATE:
        what.append(f"{rate} Hz")
        samples = resample(samples, rate, RATE)
    if what:
        CONVERTED[path] = ", ".join(what)
    # A recording is one digit of an utterance's text: with (almost) no audio the text would name
    # a word the audio does not hold.
    if len(samples) < FRAME:
        raise AsrkitError(f"{path}: {len(samples)} samples ({1000 * len(samples) / RATE:.0f} ms): too short to hold a spoken digit")
    if not np.any(np.abs(samples) >= 1.0):
        # no sample reaches one 16-bit step: the noise added between digits would pass for speech
        raise AsrkitError(f"{path}: digital silence (every sample 0): no spoken digit in it")
    return samples.astype(np.float32, copy=False)


# A 10 ms frame is speech when it is this far above its speaker's noise floor: a quarter of the
# recording's peak-to-floor range, but at least 3 dB (a quiet word in a noisy recording, nicolas's
# "three") and at most 8 dB (so the weak start of "six" and end of "nine" stay in the span).
MARGIN_RATIO, MARGIN_MIN_DB, MARGIN_MAX_DB = 0.25, 3.0, 8.0


def frame_energies(samples: np.ndarray) -> np.ndarray:
    """Energy (dB of 16-bit sample units squared) of each whole 10 ms frame."""
    n = len(samples) // FRAME
    frames = samples[:n * FRAME].astype(np.float64).reshape(n, FRAME)
    return 10.0 * np.log10((frames ** 2).mean(axis=1) + 1.0)


def noise_floor(recordings: Sequence[np.ndarray]) -> float:
    """A speaker's noise floor: the median over their recordings of the quietest 10 ms frame.

    Per speaker, because FSDD's speakers recorded at very different levels (floors from about 20 dB
    for yweweler to 50 dB for nicolas, peaks 50-80 dB), and not per recording, because some
    recordings start or end right on the speech and have no silence to measure.
    """
    mins = [frame_energies(x).min() for x in recordings if len(x) >= FRAME]
    return float(np.median(mins)) if mins else 0.0


def speech_span(samples: np.ndarray, floor: float) -> Tuple[int, int]:
    """(first, last + 1) sample of the speech in one isolated recording, to 10 ms: from the first
    to the last frame a margin above the speaker's noise ``floor`` (see MARGIN_RATIO); a quiet
    stretch inside the word, such as the closure in "eight", stays in the span. A recording with
    no such frame is all span."""
    energy = frame_energies(samples)
    if len(energy) == 0:
        return 0, len(samples)
    margin = min(MARGIN_MAX_DB, max(MARGIN_MIN_DB, MARGIN_RATIO * (energy.max() - floor)))
    loud = np.flatnonzero(energy >= floor + margin)
    if len(loud) == 0:
        return 0, len(samples)
    return int(loud[0]) * FRAME, min(len(samples), (int(loud[-1]) + 1) * FRAME)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """``samples`` (16-bit sample units) as a 16-bit mono RATE WAV file, written whole or not at all.
    A file there with these very bytes is left as it is, its modification time too: asr.sh's stage
    1 records each recording's size and time (audio_stamp), and a stage 0 run again with the same
    options, which rewrote every recording, had stage 1 make every set's features again and stage 4
    refuse the model as "trained on other data"."""
    pcm = np.clip(np.rint(samples), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    data = buf.getvalue()
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except OSError:  # none there yet (or unreadable: written anew)
        pass
    with atomic_open(path, "wb") as f:
        f.write(data)


_RESAMPLERS: Dict[int, object] = {}


def change_speed(samples: np.ndarray, factor: float) -> np.ndarray:
    """``samples`` played ``factor`` times faster (``sox speed``): resampled from RATE * factor to RATE."""
    if factor == 1.0:
        return samples
    import torch
    import torchaudio

    orig = int(round(RATE * factor))
    if orig not in _RESAMPLERS:  # the filter kernel is computed once per factor, not per recording
        _RESAMPLERS[orig] = torchaudio.transforms.Resample(orig_freq=orig, new_freq=RATE)
    with torch.no_grad():
        return _RESAMPLERS[orig](torch.from_numpy(samples.astype(np.float32))).numpy()


def background(rng: np.random.Generator, n: int, dbfs: float) -> np.ndarray:
    """``n`` samples of Gaussian noise whose power falls as 1/f**k (k = 0, 1 or 2 at random:
    white, pink or brown; nothing below 20 Hz, which Kaldi's per-frame DC removal takes out
    anyway), at ``dbfs`` RMS in 16-bit sample units. The noise is drawn before k, as it always
    was: a --seed makes the same utterances as before."""
    white = rng.standard_normal(max(n, 2))  # (two at least for the FFT)
    return colored(white, float(rng.integers(3)), RATE)[:n] * 32768.0 * 10.0 ** (dbfs / 20.0)


def index_recordings(fsdd_root: Path) -> Dict[str, Dict[int, List[Tuple[int, Path]]]]:
    """speaker -> digit -> [(take, path)], sorted so the result does not depend on the file system."""
    rec_dir = fsdd_root / "recordings"
    if not rec_dir.is_dir():
        raise AsrkitError(f"{rec_dir}: no such directory (is {fsdd_root} a copy of FSDD?)")
    index: Dict[str, Dict[int, List[Tuple[int, Path]]]] = {}
    skipped: List[str] = []
    try:  # (an unreadable folder was a PermissionError traceback)
        entries = sorted(rec_dir.iterdir())
    except OSError as e:
        raise AsrkitError(f"{rec_dir}: cannot read: {e.strerror}") from None
    folders: List[str] = []  # named like a recording, but a folder: said as such, not as misnamed
    stems: Dict[str, str] = {}
    for path in entries:
        m = NAME.match(path.name)
        if m and not path.is_dir():
            # 0_zoe_1.wav beside 0_zoe_1.WAV: one take twice, and data/test_takes, whose ids are
            # the names without extension, kept one of them without a word
            if path.stem in stems:
                raise AsrkitError(f"{rec_dir}: two recordings of {path.stem}: {stems[path.stem]} and {path.name}: keep one")
            stems[path.stem] = path.name
            index.setdefault(m[2], {}).setdefault(int(m[1]), []).append((int(m[3]), path))
        else:
            (folders if m else skipped).append(path.name)
    if not index:
        raise AsrkitError(f"{rec_dir}: no recordings named <digit>_<speaker>_<take>.wav")
    for names, what in ((skipped, "entries not named <digit>_<speaker>_<take>.wav"),
                        (folders, "folders named like recordings")):
        if names:  # a README, .DS_Store, 10_x_1.wav: said, not silently left out
            shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
            print(f"make_connected_digits.py: WARNING: {rec_dir}: skipped {len(names)} {what} ({shown})",
                  file=sys.stderr)
    for spk in index:
        for digit in index[spk]:
            index[spk][digit].sort()
    return index


def make_set(name: str, pools: Dict[str, Dict[int, List[Path]]], count: int, rng: np.random.Generator,
             args, wav_dir: Path, out_dir: Path, floors: Dict[str, float], speed_factors: Sequence[float] = (),
             speed_rng: Optional[np.random.Generator] = None, conditions: bool = False,
             cond_rng: Optional[np.random.Generator] = None,
             tight_rng: Optional[np.random.Generator] = None,
             single_rng: Optional[np.random.Generator] = None) -> int:
    """``conditions``: the training set's background noise and long edges (--background-prob,
    --long-edge-prob), drawn from ``cond_rng``; ``tight_rng``: its edges cut away
    (--tight-edge-prob), drawn from that; ``single_rng``: its one-digit utterances made a take as
    recorded (--single-take-prob)."""
    speakers = sorted(pools)
    cache: Dict[Tuple[Path, float], Tuple[np.ndarray, Tuple[int, int]]] = {}
    rows = []
    ctm: List[str] = []
    (wav_dir / name).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        spk = speakers[rng.integers(len(speakers))]
        n = int(rng.integers(args.min_digits, args.max_digits + 1))
        # The digits this voice says: all ten for FSDD's (the same draws as rng.integers(0, 10)),
        # some for another corpus's words (--all-train).
        said = sorted(pools[spk])
        digits = [said[int(k)] for k in rng.integers(0, len(said), size=n)]
        speed = float(speed_factors[speed_rng.integers(len(speed_factors))]) if speed_factors else 1.0
        pieces = [rng.uniform(args.edge_min, args.edge_max)]
        audio = []
        for j, d in enumerate(digits):
            choices = pools[spk][d]
            path = choices[rng.integers(len(choices))]
            if (path, speed) not in cache:
                recording = change_speed(read_wav(path), speed)
                cache[path, speed] = recording, speech_span(recording, floors[spk])
            audio.append(cache[path, speed])
            pieces.append(rng.uniform(args.pause_min, args.pause_max) if j < n - 1 else
                          rng.uniform(args.edge_min, args.edge_max))
        noise_dbfs = None
        tight = [tight_rng is not None and tight_rng.random() < args.tight_edge_prob for _ in range(2)]
        if n == 1 and single_rng is not None and single_rng.random() < args.single_take_prob:
            tight = [True, True]  # the take as recorded (noise under it, if drawn, kept)
        longer = [0.0] * len(pieces)  # seconds added to an edge; its noise from cond_rng, so rng's draws stay the same
        if conditions:
            for e in (0, len(pieces) - 1):  # the edges: before the first digit, after the last
                if cond_rng.random() < args.long_edge_prob:
                    # log-uniform: most long edges a second or two, some as long as a
                    # recording's lead-in, for the cost of a few
                    long = float(np.exp(cond_rng.uniform(np.log(args.edge_max), np.log(args.long_edge_max))))
                    longer[e] = max(0.0, long - pieces[e])
            if cond_rng.random() < args.background_prob:
                noise_dbfs = cond_rng.uniform(args.background_min_dbfs, args.background_max_dbfs)
        chunks = []
        offset = 0
        utt = f"{spk}-{name}-{i:05d}"
        spans = []  # (word, start, end) in samples of the whole utterance, edges included
        for j, pause in enumerate(pieces):
            chunks.append(rng.normal(0.0, args.noise, size=int(pause * RATE)).astype(np.float32))
            if longer[j]:
                extra = int((pause + longer[j]) * RATE) - len(chunks[-1])
                chunks[-1] = np.concatenate([chunks[-1], cond_rng.normal(0.0, args.noise, size=extra).astype(np.float32)])
            offset += len(chunks[-1])
            if j < len(audio):
                recording, (start, end) = audio[j]
                chunks.append(recording)
                spans.append((WORDS[digits[j]], offset + start, offset + end))
                offset += len(recording)
        wav = (wav_dir / name / f"{utt}.wav").resolve()
        samples = np.concatenate(chunks)
        if noise_dbfs is not None:
            noise = background(cond_rng, len(samples), noise_dbfs)
            if args.background_edges_only:
                # around the speech only: the digits and the pauses between them as they were
                lead, trail = len(chunks[0]), len(chunks[-1])
                noise[lead:len(samples) - trail] = 0.0
            samples = samples + noise
        # cut last, from the whole: the noise was drawn for every sample, so no draw changed
        lead = len(chunks[0]) if tight[0] else 0
        samples = samples[lead:len(samples) - (len(chunks[-1]) if tight[1] else 0)]
        ctm += [f"{utt} 1 {(a - lead) / RATE:.3f} {(b - a) / RATE:.3f} {word} 1.00" for word, a, b in spans]
        write_wav(wav, samples)
        rows.append((utt, spk, " ".join(WORDS[d] for d in digits), str(wav)))
    write_data_dir(out_dir / name, wav_scp={u: w for u, _, _, w in rows}, text={u: t for u, _, t, _ in rows},
                   utt2spk={u: s for u, s, _, _ in rows})
    # The recordings of an earlier, larger run of this set are no utterance now: removed, not left to fill the disk.
    made = {Path(w).name for _, _, _, w in rows}
    for old in (wav_dir / name).glob(f"*-{name}-*.wav"):
        if old.name not in made:
            old.unlink()
    # Sorted by utterance id (as the other tables), then time: a stable sort keeps each utterance's order.
    ctm.sort(key=lambda line: line.split(" ", 1)[0])
    with atomic_open(out_dir / name / "ref.ctm") as f:
        f.write("".join(line + "\n" for line in ctm))
    return len(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("fsdd_root", type=Path, help="folder holding recordings/")
    p.add_argument("data_dir", type=Path, help="where data/<set>/ go")
    p.add_argument("wav_dir", type=Path, help="where the generated WAV files go (<wav-dir>/<set>/)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--test-speakers", default="theo", help="comma-separated; never used in train or dev")
    p.add_argument("--dev-takes", type=int, default=5, help="the last N takes of each digit of each "
                   "training speaker are used only in dev")
    p.add_argument("--num-train", type=int, default=1500)
    p.add_argument("--num-dev", type=int, default=150)
    p.add_argument("--num-test", type=int, default=300)
    p.add_argument("--min-digits", type=int, default=1)
    p.add_argument("--max-digits", type=int, default=7)
    p.add_argument("--pause-min", type=float, default=0.05, help="seconds between digits")
    p.add_argument("--pause-max", type=float, default=0.30)
    p.add_argument("--edge-min", type=float, default=0.10, help="seconds before the first and after the last digit")
    p.add_argument("--edge-max", type=float, default=0.30)
    p.add_argument("--noise", type=float, default=3.0, help="std of the silence noise (16-bit sample units)")
    p.add_argument("--background-prob", type=float, default=0.0, help="training set only: the share of "
                   "utterances with a background noise, under the whole utterance or, with "
                   "--background-edges-only, around its speech (0: none)")
    p.add_argument("--background-min-dbfs", type=float, default=-75.0, help="the background's RMS level, "
                   "dBFS: drawn uniformly from this ...")
    p.add_argument("--background-max-dbfs", type=float, default=-45.0, help="... to this")
    p.add_argument("--background-edges-only", action="store_true", help="the background noise before the "
                   "first digit and after the last only, not under the digits and their pauses")
    p.add_argument("--long-edge-prob", type=float, default=0.0, help="training set only: the share of edges "
                   "(before the first digit, after the last) drawn from --edge-max to --long-edge-max (0: none)")
    p.add_argument("--tight-edge-prob", type=float, default=0.0, help="training set only: the share of edges "
                   "(before the first digit, after the last) cut away, so that the utterance starts or ends "
                   "with its take, as FSDD's takes as recorded do (0: none)")
    p.add_argument("--single-take-prob", type=float, default=0.0, help="training set only: the share of "
                   "one-digit utterances with both edges cut away, so that they are a take as recorded (0: none)")
    p.add_argument("--long-edge-max", type=float, default=10.0, help="seconds (a long edge's length is "
                   "log-uniform from --edge-max to this)")
    p.add_argument("--all-train", action="store_true", help="every speaker is a training speaker and may "
                   "lack some digits (AN4's words cut by local/an4_digit_words.py): only the train set is made, "
                   "--num-train utterances, and no dev takes are kept back")
    p.add_argument("--speed-factors", default="", help="comma-separated, e.g. 0.9,1.0,1.1: each training "
                   "utterance at one of these speeds (empty: none)")
    args = p.parse_args(argv)
    try:
        try:
            speed_factors = [float(f) for f in args.speed_factors.split(",") if f.strip()]
        except ValueError:
            raise AsrkitError(f"--speed-factors {args.speed_factors!r}: expected numbers, e.g. 0.9,1.0,1.1") from None
        if any(not 0.5 <= f <= 2.0 for f in speed_factors):
            raise AsrkitError(f"--speed-factors {args.speed_factors}: each factor must be in [0.5, 2]")
        for opt, prob in (("--background-prob", args.background_prob), ("--long-edge-prob", args.long_edge_prob),
                          ("--tight-edge-prob", args.tight_edge_prob), ("--single-take-prob", args.single_take_prob)):
            if not 0.0 <= prob <= 1.0:
                raise AsrkitError(f"{opt} {prob}: must be a probability, from 0 to 1")
        if not -120.0 <= args.background_min_dbfs <= args.background_max_dbfs <= 0.0:
            raise AsrkitError(f"--background-min-dbfs {args.background_min_dbfs:g} / --background-max-dbfs "
                              f"{args.background_max_dbfs:g}: need -120 <= min <= max <= 0")
        if not 0.0 < args.edge_min <= args.edge_max <= args.long_edge_max:
            raise AsrkitError(f"--edge-min {args.edge_min} / --edge-max {args.edge_max} / --long-edge-max "
                              f"{args.long_edge_max}: need 0 < min <= max <= long max")
        if args.dev_takes < 0:
            raise AsrkitError(f"--dev-takes {args.dev_takes}: must be 0 or more")
        # 0 means "no such set" (an earlier run's is removed); a negative count was taken as 0,
        # and --num-train -1 removed data/train with exit 0.
        for opt, count in (("--num-train", args.num_train), ("--num-dev", args.num_dev), ("--num-test", args.num_test)):
            if count < 0:
                raise AsrkitError(f"{opt} {count}: must be 0 (no such set) or more")
        if not 1 <= args.min_digits <= args.max_digits:
            raise AsrkitError(f"--min-digits {args.min_digits} / --max-digits {args.max_digits}: need 1 <= min <= max")
        index = index_recordings(args.fsdd_root)
        # (a space after a comma, "theo, zoe", named a speaker ' zoe', not found)
        test_spk = [] if args.all_train else [s.strip() for s in args.test_speakers.split(",") if s.strip()]
        unknown = [s for s in test_spk if s not in index]
        if unknown or not (test_spk or args.all_train):
            raise AsrkitError(f"--test-speakers {args.test_speakers}: not FSDD speakers here "
                              f"(found: {', '.join(sorted(index))})")
        train_spk = sorted(set(index) - set(test_spk))
        if not train_spk:
            raise AsrkitError("no training speakers left after removing the test speakers")
        pools = {"train": {}, "dev": {}, "test": {}}
        if args.all_train:
            pools["train"] = {spk: {digit: [path for _, path in takes] for digit, takes in index[spk].items()}
                              for spk in sorted(index)}
        for spk in [] if args.all_train else sorted(index):
            for digit in range(10):
                takes = [path for _, path in index[spk].get(digit, [])]
                if not takes:
                    raise AsrkitError(f"{args.fsdd_root}/recordings: no recording of digit {digit} by {spk}")
                if spk in test_spk:
                    pools["test"].setdefault(spk, {})[digit] = takes
                else:
                    if len(takes) <= args.dev_takes:
                        raise AsrkitError(f"training speaker {spk} has {len(takes)} take(s) of digit {digit}: too few to keep "
                                          f"--dev-takes {args.dev_takes} for dev (give a smaller --dev-takes, or 0: dev "
                                          "from the training takes)")
                    pools["train"].setdefault(spk, {})[digit] = takes[:-args.dev_takes] if args.dev_takes else takes
                    pools["dev"].setdefault(spk, {})[digit] = takes[-args.dev_takes:] if args.dev_takes else takes
        floors = {spk: noise_floor([read_wav(path) for takes in index[spk].values() for _, path in takes])
                  for spk in sorted(index)}
        # One generator per set, seeded from (seed, set), so changing --num-test leaves train as it was.
        sets = [("train", args.num_train)] + ([] if args.all_train else [("dev", args.num_dev), ("test", args.num_test)])
        for k, (name, count) in enumerate(sets):
            if count <= 0:
                # An earlier run's set must not stay as if made now: with other --test-speakers its
                # dev held today's test speaker (asr.sh validated on it without a word).
                for old in (args.data_dir / name, args.wav_dir / name):
                    if old.exists():
                        shutil.rmtree(old)
                        print(f"{p.prog}: --num-{name} 0: removed {old} of an earlier run", file=sys.stderr)
                continue
            rng = np.random.default_rng([args.seed, k])
            perturb = speed_factors if name == "train" else []
            conditions = name == "train" and (args.background_prob > 0 or args.long_edge_prob > 0)
            tight = np.random.default_rng([args.seed, k, 3]) if name == "train" and args.tight_edge_prob > 0 else None
            single = np.random.default_rng([args.seed, k, 4]) if name == "train" and args.single_take_prob > 0 else None
            n = make_set(name, pools[name], count, rng, args, args.wav_dir, args.data_dir, floors, perturb,
                         np.random.default_rng([args.seed, k, 1]), conditions, np.random.default_rng([args.seed, k, 2]),
                         tight, single)
            print(f"{p.prog}: {args.data_dir / name}: {n} utterances, speakers {', '.join(sorted(pools[name]))}"
                  + (f", speed factors {', '.join(map(str, perturb))}" if perturb else "")
                  + (f", background noise {args.background_prob:g} ({args.background_min_dbfs:g} to "
                     f"{args.background_max_dbfs:g} dBFS{', around the speech only' if args.background_edges_only else ''}), long edges "
                     f"{args.long_edge_prob:g} (to {args.long_edge_max:g} s)" if conditions else "")
                  + (f", tight edges {args.tight_edge_prob:g}" if tight is not None else "")
                  + (f", one-digit utterances as takes {args.single_take_prob:g}" if single is not None else ""),
                  file=sys.stderr)
    except AsrkitError as e:
        print(f"{p.prog}: ERROR: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # an output it cannot write (data/ read-only, a full disk) was a traceback
        if os_error_message(e) is None:
            raise
        print(f"{p.prog}: ERROR: {os_error_message(e)}", file=sys.stderr)
        return 1
    if CONVERTED:
        shown = ", ".join(f"{path.name} ({what})" for path, what in list(CONVERTED.items())[:3])
        print(f"{p.prog}: WARNING: {len(CONVERTED)} recording(s) not 8 kHz mono, converted: {shown}"
              + (", ..." if len(CONVERTED) > 3 else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
