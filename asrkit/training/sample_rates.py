"""The sample rates below the fbank config's of the audio a model is trained on, resampled up to
it: what the packed model records as ``extra["upsampled_rates"]`` (asrkit.models.package), so
that asrkit-decode leaves the mel bins those recordings had empty as the model learned them
(docs/decoding.md). Without it a recipe's own model.pt decoded 8 kHz audio of a mixed-rate corpus
unlike the recipe's stage 5 did its dumped features (WER 44 % against 30 %).

Where the rates come from: ``<train-dir>/utt2sample_rate`` (asrkit-compute-fbank
--write-utt2sample-rate; asr.sh stage 1 writes it), else, training from audio, the recordings'
headers (only with augment.resample: without it audio at another rate is refused, so none was
resampled). Dumped features without utt2sample_rate: not known (None), nothing recorded.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional

from asrkit.data.datadir import sample_rate_hz
from asrkit.data.table import iter_table_fast
from asrkit.features.fbank import FbankConfig
from asrkit.training.utt_table import UttTable
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger

log = get_logger(__name__)

UTT2SAMPLE_RATE = "utt2sample_rate"


def read_utt2sample_rate(path: str) -> Dict[str, int]:
    """``<utt> <rate in Hz>`` lines; an AsrkitError naming the line for a bad one."""
    rates: Dict[str, int] = {}
    for key, value, lineno in iter_table_fast(path):
        rate = sample_rate_hz(value)
        if rate is None:
            raise AsrkitError(f"{path}:{lineno}: sample rate {value!r} of utterance {key!r} is not a positive "
                              f"integer (Hz)")
        if key in rates:
            raise AsrkitError(f"{path}:{lineno}: duplicate utterance {key!r}")
        rates[key] = rate
    return rates


def _below(rates, fbank: FbankConfig) -> List[int]:
    return sorted({r for r in rates if r < fbank.sample_frequency})


def upsampled_rates(train_dir: str, table: UttTable, fbank: Optional[FbankConfig], raw: bool,
                    resample: bool) -> Optional[List[int]]:
    """The sorted rates below ``fbank``'s of the utterances of ``table`` (the training set read
    from ``train_dir``), [] for none, None where that cannot be known."""
    if fbank is None:
        return None  # (a model that reads no audio: nothing to record)
    if raw and not resample:
        return []  # audio at another rate is refused (a skipped utterance), never resampled
    path = os.path.join(train_dir, UTT2SAMPLE_RATE)
    if os.path.isfile(path):
        by_utt = read_utt2sample_rate(path)
        found, missing = set(), 0
        for i in range(len(table)):
            rate = by_utt.get(table.utt_id(i))
            if rate is None:
                missing += 1
            else:
                found.add(rate)
        rates = _below(found, fbank)
        if missing:
            # Rates found are known to have been trained on; that the rest were not lower is not.
            log.warning("%s: no sample rate for %d of the %d training utterances (not of this data?)%s",
                        path, missing, len(table), f"; recording the rates it gives ({rates})" if rates else
                        ": the model does not record whether its training audio was resampled up")
            return rates or None
        return rates
    if not raw:
        log.info("%s: no %s (asrkit-compute-fbank --write-utt2sample-rate): the model does not record whether "
                 "its training features were made from audio resampled up (docs/decoding.md)", train_dir,
                 UTT2SAMPLE_RATE)
        return None
    return _header_rates(table, fbank)


def _header_rates(table: UttTable, fbank: FbankConfig) -> Optional[List[int]]:
    """The rates below ``fbank``'s in the headers of the recordings of a raw training set (each
    file once); None when a recording is a command ('... |') or its header cannot be read, and no
    lower rate was found."""
    import soundfile

    sources = {int(table.source_index[i]): table.source(i) for i in range(len(table))}
    found, unknown = set(), 0
    for source in sources.values():
        if source.endswith("|") or not os.path.isfile(source):
            unknown += 1
            continue
        try:
            found.add(int(soundfile.info(source).samplerate))
        except (OSError, RuntimeError, ValueError):  # (its batch will say why; LibsndfileError is a RuntimeError)
            unknown += 1
    rates = _below(found, fbank)
    if unknown:
        log.info("%d of the %d training recordings are commands or have no readable header: %s", unknown,
                 len(sources), f"recording the rates found ({rates})" if rates else
                 f"the model does not record whether its training audio was resampled up (write "
                 f"{UTT2SAMPLE_RATE} with asrkit-compute-fbank --write-utt2sample-rate)")
        return rates or None
    return rates
