"""Speed perturbation of a data dir, as Kaldi's utils/data/perturb_data_dir_speed_3way.sh.

Each factor F other than 1 adds a copy of every utterance read through ``sox ... speed F |``
(tempo and pitch both change, as Ko et al. 2015), with utterance, speaker and recording ids
prefixed ``sp<F>-``; F = 1 keeps the original ids. Audio is not rewritten: the copies are wav.scp
pipes that the feature extraction runs, so the data dir stays a few text tables.
"""
from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

from asrkit.data.datadir import DataDir
from asrkit.data.table import utt2spk_to_spk2utt, write_table
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike

# Tables that no longer hold once the audio changes speed: features must be computed again.
DROPPED = ("feats.scp", "utt2num_frames", "cmvn.scp")


@dataclass
class PerturbReport:
    num_utts: int                # utterances in the source
    factors: List[float]
    dropped_tables: List[str]    # source tables not carried over (features to recompute)


def factor_prefix(factor: float) -> str:
    """'' for 1.0, else Kaldi's 'sp0.9-' ('%g' so 1.10 and 1.1 give the same ids)."""
    return "" if factor == 1.0 else f"sp{factor:g}-"


def speed_pipe(wav_entry: str, factor: float) -> str:
    """A wav.scp value (path or ``cmd |``) -> the same audio at ``factor`` times the speed."""
    if factor == 1.0:
        return wav_entry
    effect = f"-t wav - speed {factor:g} |"
    entry = wav_entry.rstrip()
    if entry.endswith("|"):
        return f"{entry} sox -t wav - {effect}"
    # wav.scp may name FLAC, OGG, MP3... files directly (libsndfile reads them): sox then picks
    # the input type from the extension. A .wav or extensionless path is forced to WAV, as Kaldi does.
    suffix = Path(entry).suffix.lower()
    in_type = "-t wav " if suffix in ("", ".wav") else ""
    return f"sox {in_type}{shlex.quote(entry)} {effect}"


def check_factors(factors: Sequence[float]) -> List[float]:
    out: List[float] = []
    for f in factors:
        if not f > 0:
            raise AsrkitError(f"speed factor {f:g} is not positive")
        if any(factor_prefix(f) == factor_prefix(g) for g in out):
            raise AsrkitError(f"speed factor {f:g} is given twice")
        out.append(f)
    if not out:
        raise AsrkitError("no speed factors given")
    return out


def perturb_data_dir_speed(src: PathLike, dst: PathLike, factors: Sequence[float]) -> PerturbReport:
    """Write ``dst``: ``src``'s utterances once per factor, combined in one sorted data dir."""
    factors = check_factors(factors)
    if any(f != 1.0 for f in factors) and shutil.which("sox") is None:
        raise AsrkitError("sox not found on PATH: speed-perturbed wav.scp entries are 'sox ... speed F |' "
                          "pipes (install it, e.g. apt-get install sox)")
    d = DataDir(src)
    d.require("wav.scp", "utt2spk")
    if Path(dst).resolve() == d.path.resolve():
        raise AsrkitError(f"{dst}: the output data dir must differ from the input")
    wav_scp, utt2spk = d.read("wav.scp"), d.read("utt2spk")
    segments = d.segments() if d.has("segments") else None
    text = d.read("text") if d.has("text") else None
    keyed_by_utt = {n: d.read(n) for n in ("utt2dur",) if d.has(n)}
    keyed_by_reco = {n: d.read(n) for n in ("reco2dur",) if d.has(n)}
    spk2gender = d.read("spk2gender") if d.has("spk2gender") else None

    out: Dict[str, Dict[str, str]] = {n: {} for n in ("wav.scp", "utt2spk", "utt2uniq")}
    if segments is not None:
        out["segments"] = {}
    if text is not None:
        out["text"] = {}
    for n in (*keyed_by_utt, *keyed_by_reco):
        out[n] = {}
    if spk2gender is not None:
        out["spk2gender"] = {}
    for f in factors:
        p = factor_prefix(f)
        for reco, entry in wav_scp.items():
            out["wav.scp"][p + reco] = speed_pipe(entry, f)
        for utt, spk in utt2spk.items():
            out["utt2spk"][p + utt] = p + spk
            out["utt2uniq"][p + utt] = utt
            if text is not None:
                if utt not in text:
                    raise AsrkitError(f"{d.file('text')}: no transcript for utterance {utt!r} (in utt2spk)")
                out["text"][p + utt] = text[utt]
        if segments is not None:
            for utt, (reco, start, end) in segments.items():
                # Times scale with the audio; -1 (to the end) stays -1.
                end_s = "-1" if end < 0 else f"{end / f:.3f}"
                out["segments"][p + utt] = f"{p + reco} {start / f:.3f} {end_s}"
        for name, table in keyed_by_utt.items():
            for key, value in table.items():
                out[name][p + key] = _scaled(value, f, d.file(name), key)
        for name, table in keyed_by_reco.items():
            for key, value in table.items():
                out[name][p + key] = _scaled(value, f, d.file(name), key)
        if spk2gender is not None:
            for spk, g in spk2gender.items():
                out["spk2gender"][p + spk] = g

    _write_atomically(Path(dst), out)
    return PerturbReport(num_utts=len(utt2spk), factors=factors,
                         dropped_tables=[n for n in DROPPED if d.has(n)])


def _scaled(value: str, factor: float, path: Path, key: str) -> str:
    try:
        return f"{float(value) / factor:.3f}"
    except ValueError:
        raise AsrkitError(f"{path}: {key!r}: {value!r} is not a duration in seconds") from None


def _write_atomically(dst: Path, tables: Dict[str, Dict[str, str]]) -> None:
    """Write every table into a sibling temp dir, then swap it in: no half-written data dir."""
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, table in tables.items():
        write_table(tmp / name, table, sort=True)
    spk2utt = utt2spk_to_spk2utt(dict(sorted(tables["utt2spk"].items())))
    write_table(tmp / "spk2utt", list(spk2utt.items()))
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
