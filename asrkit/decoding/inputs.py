"""What asrkit-decode reads: features from an rspecifier, audio from a wav.scp, or wav files.

Every source yields ``(utt_id, feats (T, D) or None, error or None)`` in input order, so one bad
utterance is reported and counted while the others still decode (as Kaldi's tools do).
Features from audio are computed with the model's packed fbank config; CMVN is applied later,
by the recognizer, to features from every source alike.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from asrkit.utils.errors import AsrkitError

Item = Tuple[str, Optional[np.ndarray], Optional[AsrkitError]]
Featurize = Callable[[np.ndarray, int, str], np.ndarray]


def _select(ids: List[str], wanted: Optional[Sequence[str]], where: str) -> Tuple[List[str], List[str]]:
    """(ids to decode in order, requested ids that the source lacks)."""
    if wanted is None:
        return ids, []
    have = set(ids)
    return [u for u in wanted if u in have], [u for u in wanted if u not in have]


def from_feats(rspecifier: str, utt_ids: Optional[Sequence[str]] = None) -> Iterator[Item]:
    """Features already computed (``scp:dump/test/feats.scp``, ``ark:...``)."""
    from asrkit.data.specifier import load_scp, parse_rspecifier, read_matrices, read_matrix

    if utt_ids is None:
        for key, mat in read_matrices(rspecifier):
            yield key, np.asarray(mat), None
        return
    spec = parse_rspecifier(rspecifier)
    if spec.scp is None:
        raise AsrkitError(f"--utt-ids needs random access: give --feats as scp:..., not {rspecifier!r}")
    loader = load_scp(rspecifier)
    for utt in utt_ids:
        if utt not in loader:
            yield utt, None, AsrkitError(f"utterance {utt!r}: not in {spec.scp}")
            continue
        try:
            yield utt, np.asarray(read_matrix(loader, utt, spec.scp)), None
        except AsrkitError as e:
            yield utt, None, e


def from_wav_scp(wav_rspecifier: str, featurize: Featurize, segments: Optional[str] = None,
                 utt_ids: Optional[Sequence[str]] = None) -> Iterator[Item]:
    from asrkit.features.wav import iter_wavs, read_wav_scp

    entries = read_wav_scp(wav_rspecifier, segments)
    by_id = {e.utt_id: e for e in entries}
    keep, missing = _select([e.utt_id for e in entries], utt_ids, wav_rspecifier)
    for utt in missing:
        yield utt, None, AsrkitError(f"utterance {utt!r}: not in {wav_rspecifier}")
    for entry, audio, err in iter_wavs([by_id[u] for u in keep]):
        yield _featurize(entry.utt_id, audio, err, featurize)


def from_wav_files(paths: Sequence[str], featurize: Featurize) -> Iterator[Item]:
    """Plain wav files; the utterance id is the file name without its extension."""
    from asrkit.features.wav import read_wav_source

    for path in paths:
        utt = Path(path).stem
        try:
            audio = read_wav_source(path, f"utterance {utt!r} ({path})")
        except AsrkitError as e:
            yield utt, None, e
            continue
        yield _featurize(utt, audio, None, featurize)


def _featurize(utt: str, audio, err, featurize: Featurize) -> Item:
    if err is not None:
        return utt, None, err
    samples, rate = audio
    try:
        if samples.size == 0:
            raise AsrkitError(f"utterance {utt!r}: empty audio (no samples)")
        return utt, featurize(samples, rate, utt), None
    except AsrkitError as e:
        return utt, None, e
