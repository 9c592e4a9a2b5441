"""A decoding run: inputs -> batches -> ``text``, ``nbest.jsonl`` and the real-time factor.

What asrkit-decode calls once its options are parsed. Outputs are written under temporary
names and renamed into place at the end, so a failed run leaves no partial ``text``.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, TextIO

import yaml

from asrkit.decoding.inputs import Item
from asrkit.decoding.recognizer import Recognizer, UttResult
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import AtomicFiles
from asrkit.utils.logging import progress

log = logging.getLogger("decode")


@dataclass
class RunSummary:
    total: int = 0
    decoded: int = 0
    failed: List[str] = field(default_factory=list)
    audio_s: float = 0.0  # frames * frame shift of the decoded utterances
    decode_s: float = 0.0  # model time: CMVN'd features in, text out
    input_s: float = 0.0  # reading features / audio and computing fbank
    steps: int = 0  # the most decoder steps one batch ran

    @property
    def rtf(self) -> float:
        return self.decode_s / self.audio_s if self.audio_s > 0 else float("nan")


def nbest_record(r: UttResult, weights) -> dict:
    return {
        "utt": r.utt_id,
        "hyps": [
            {"text": t, "tokens": h.tokens, "score": round(h.score, 4),
             **{k: round(v, 4) for k, v in h.scores.items()}, "length": len(h.tokens)}
            for h, t in zip(r.hyps, r.texts)
        ],
        "weights": weights,
        "num_frames": r.num_frames,
    }


def decode_items(rec: Recognizer, items: Iterable[Item], total: Optional[int],
                 emit: Callable[[UttResult], None], chunk: int = 0) -> RunSummary:
    """Decode ``items`` in chunks (a few batches, sorted by length inside), calling ``emit`` per result.

    ``total`` (None: unknown) sizes the progress bar; audio durations for the real-time factor
    are frames x the recognizer's frame shift.
    """
    frame_shift_s = rec.frame_shift_s
    s = RunSummary()
    chunk = chunk or rec.config.batch_size * 8
    pending = []

    def flush():
        if not pending:
            return
        start = time.perf_counter()
        results = rec.decode(pending, normalized=True)
        s.decode_s += time.perf_counter() - start
        for r in results:
            s.decoded += 1
            s.audio_s += r.num_frames * frame_shift_s
            if not r.hyps:
                log.warning("utterance %r: no hypothesis ended within the maximum length", r.utt_id)
            emit(r)
        s.steps = max([s.steps] + [r.steps for r in results])
        pending.clear()

    for utt, feats, err in progress(_timed(items, s), total=total, desc="decode", unit="utt"):
        s.total += 1
        if err is None:
            try:
                feats = rec.normalize(feats)
            except AsrkitError as e:
                err = AsrkitError(f"utterance {utt!r}: {e}")
        if err is not None:
            log.warning("%s", err)
            s.failed.append(utt)
            continue
        pending.append((utt, feats))
        if len(pending) >= chunk:
            flush()
    flush()
    return s


def _timed(items: Iterable[Item], s: RunSummary) -> Iterable[Item]:
    """Pass items through, adding the time spent producing them (reading, fbank) to ``s.input_s``."""
    it = iter(items)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            return
        finally:
            s.input_s += time.perf_counter() - t0
        yield item


class Outputs:
    """``text`` + ``nbest.jsonl`` in an output dir (atomically), or ``<utt> <text>`` lines on stdout.

    ``weights`` (the recognizer's scorer weights) go into every nbest record. ``close(ok,
    settings)`` renames the outputs into place when ``ok`` (with ``settings`` as decode.yaml,
    what produced them), or removes them.
    """

    def __init__(self, output_dir: Optional[Path], stdout: TextIO, weights: Dict[str, float]) -> None:
        self.dir = output_dir
        self.files = AtomicFiles()
        self.weights = weights
        if output_dir is None:
            self.text, self.nbest = stdout, None
        else:
            output_dir.mkdir(parents=True, exist_ok=True)
            self.text = open(self.files.tmp(output_dir / "text"), "w", encoding="utf-8")
            self.nbest = open(self.files.tmp(output_dir / "nbest.jsonl"), "w", encoding="utf-8")

    def emit(self, r: UttResult) -> None:
        best = r.texts[0] if r.texts else ""
        self.text.write(f"{r.utt_id} {best}".rstrip() + "\n")
        if self.nbest is not None:
            self.nbest.write(json.dumps(nbest_record(r, self.weights), ensure_ascii=False) + "\n")
        else:
            self.text.flush()

    def close(self, ok: bool, settings: Optional[Dict[str, Any]] = None) -> None:
        if self.dir is None:
            return
        self.text.close()
        self.nbest.close()
        if ok:
            if settings is not None:
                self.files.tmp(self.dir / "decode.yaml").write_text(yaml.safe_dump(settings, sort_keys=False),
                                                                    encoding="utf-8")
            self.files.commit()
        else:
            self.files.abort()
