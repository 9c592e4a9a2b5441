"""A decoding run: inputs -> batches -> ``text``, ``nbest.jsonl``, CTM, segments and the real-time factor.

What asrkit-decode calls once its options are parsed. A bad utterance (unreadable audio, a bad
scp entry, no frames, non-finite features, a long recording that cannot be cut) is skipped,
named and counted by :class:`asrkit.utils.bad_items.BadItems`, and the rest is decoded; the run
fails past Kaldi's 5 % rule (``summary.bad.check()``). Outputs are written under temporary
names and renamed into place at the end, so a failed run leaves no partial ``text``.
"""
from __future__ import annotations

import io
import json
import logging
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, TextIO, Tuple

import numpy as np

from asrkit.decoding.align import ctm_lines
from asrkit.decoding.inputs import Item
from asrkit.decoding.recognizer import Recognizer, UttResult
from asrkit.features.fbank import FbankConfig
from asrkit.utils.bad_items import MAX_FAILED_PERCENT, BadItems
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import AtomicFiles, name_os_error, same_regular_file
from asrkit.utils.logging import progress

log = logging.getLogger("decode")


EMPTY_RUN_MIN = 3  # decoded utterances, all with empty texts, that make the run's warning


@dataclass
class RunSummary:
    bad: BadItems = field(default_factory=lambda: BadItems(log, "utterances"))
    audio_s: float = 0.0  # frames * frame shift of the decoded utterances
    decode_s: float = 0.0  # model time: CMVN'd features in, text out (segmentation included)
    input_s: float = 0.0  # reading features / audio and computing fbank
    steps: int = 0  # the most decoder steps one batch ran
    pieces: int = 0  # pieces of the recordings that were cut
    empty: int = 0  # decoded utterances whose best text is empty

    @property
    def total(self) -> int:
        return self.bad.total

    @property
    def decoded(self) -> int:
        return self.bad.done

    @property
    def failed(self) -> List[str]:
        return self.bad.failed

    @property
    def rtf(self) -> float:
        return self.decode_s / self.audio_s if self.audio_s > 0 else float("nan")


def nbest_record(r: UttResult, weights) -> dict:
    rec: Dict[str, Any] = {
        "utt": r.utt_id,
        "hyps": [
            {"text": t, "tokens": h.tokens, "score": round(h.score, 4),
             **{k: round(v, 4) for k, v in h.scores.items()}, "length": len(h.tokens)}
            for h, t in zip(r.hyps, r.texts)
        ],
        "weights": weights,
        "num_frames": r.num_frames,
    }
    for hyp, words in zip(rec["hyps"], r.hyp_words):
        if words is not None:
            hyp["words"] = [w.to_dict() for w in words]
    if r.pieces is not None:
        rec["segments"] = [{"id": p.id, "start": round(p.start, 2), "end": round(p.end, 2), "text": p.text,
                            "score": round(p.score, 4)} for p in r.pieces]
    return rec


def ctm_of(r: UttResult) -> List[str]:
    """Kaldi CTM of the best hypothesis: ``<utt> 1 <start> <dur> <word> <conf>``, seconds."""
    return ctm_lines(r.utt_id, r.words or [])


# Kaldi's extract-segments skips (with a warning) a segment of its --min-segment-length, 0.1 s,
# or less; compute-fbank refuses one shorter than a window. Centiseconds, as the lines are written.
MIN_SEGMENT_CS = 10


def segment_lines(r: UttResult, least_audio_s: Callable[[int], float]) -> Tuple[List[str], List[str]]:
    """Kaldi ``segments`` lines of the pieces decoded (an utterance decoded whole is one piece,
    ending where the audio its frames were made from ends: ``least_audio_s``, the Recognizer's),
    and the ids of the pieces of 0.1 s or less, left out: a line the next stage refuses. The end
    of a whole utterance was its frames x shift, 10-20 ms short of it (a 30 ms file: 0.00 0.01)."""
    from asrkit.decoding.segment import end_centiseconds, piece_id

    if r.pieces is None:
        # (every whole 8 kHz file's audio ends at x.xx5 s: cut down, it lost a frame)
        end = end_centiseconds(least_audio_s(r.num_frames))
        spans = [(piece_id(r.utt_id, 0.0, end / 100), 0, end)]
    else:  # (a piece ends where its frames' audio does already: Recognizer._join)
        spans = [(p.id, int(round(p.start * 100)), int(round(p.end * 100))) for p in r.pieces]
    lines: List[str] = []
    short: List[str] = []
    for piece, start, end in spans:
        if end - start <= MIN_SEGMENT_CS:
            short.append(piece)
        else:
            lines.append(f"{piece} {r.utt_id} {start // 100}.{start % 100:02d} {end // 100}.{end % 100:02d}")
    return lines, short


def decode_items(rec: Recognizer, items: Iterable[Item], total: Optional[int],
                 emit: Callable[[UttResult], None], chunk: int = 0,
                 max_bad_percent: float = MAX_FAILED_PERCENT, source: Optional[str] = None) -> RunSummary:
    """Decode ``items`` in chunks (a few batches, sorted by length inside), calling ``emit`` per result.

    ``total`` (None: unknown) sizes the progress bar; audio durations for the real-time factor
    are frames x the recognizer's frame shift. Bad items are counted in ``summary.bad``; the
    caller applies the rule (``summary.bad.check()``) before committing its outputs, which names
    ``source`` (:attr:`DecodeInputs.source`) when it held no utterance.
    """
    frame_shift_s = rec.frame_shift_s
    s = RunSummary(bad=BadItems(log, "utterances", max_percent=max_bad_percent, source=source))
    chunk = chunk or rec.config.batch_size * 8
    pending: List[tuple] = []

    def flush():
        if not pending:
            return
        start = time.perf_counter()
        results = rec.decode([(u, p.feats) for u, p in pending], normalized=True,
                             pieces=[p.spans for _, p in pending], pads=[p.pad for _, p in pending])
        s.decode_s += time.perf_counter() - start
        for r in results:
            s.bad.ok()
            s.audio_s += r.num_frames * frame_shift_s
            if r.pieces is not None:
                s.pieces += len(r.pieces)
            if not r.hyps:
                log.warning("utterance %r: no hypothesis ended within the maximum length", r.utt_id)
            s.empty += not (r.texts and r.texts[0])
            emit(r)
        s.steps = max([s.steps] + [r.steps for r in results])
        pending.clear()

    for utt, feats, err in progress(_timed(items, s), total=total, desc="decode", unit="utt"):
        if err is None:
            start = time.perf_counter()
            try:
                prepared = rec.normalize_and_cut(utt, feats)
            except AsrkitError as e:
                err = e if utt in str(e) else AsrkitError(f"utterance {utt!r}: {e}")
            s.decode_s += time.perf_counter() - start
        if err is not None:
            s.bad.skip(utt, err)
            continue
        pending.append((utt, prepared))
        # A long recording's pieces fill batches by themselves: decode it with what came before.
        if len(pending) >= chunk or prepared.spans is not None:
            flush()
    flush()
    if s.decoded >= EMPTY_RUN_MIN and s.empty == s.decoded:
        # Said, not failed (silence decodes to nothing, rightly): a model of another corpus, features
        # it was not trained on, or damaged CMVN stats gave every line empty with exit 0.
        log.warning("every one of the %d decoded utterances got an empty text: are the inputs speech, and the "
                    "features (rate, --feats normalised already?) those the model was trained on?", s.decoded)
    return s


def warn_if_normalized_twice(rec: Recognizer, items: Iterable[Item], source: str,
                             first: int = 10, command: str = "asrkit-decode") -> Iterable[Item]:
    """Pass ``items`` (features given to ``command`` with ``--feats``) through, saying once, in a
    warning, when the first ``first`` good utterances look normalised already
    (:meth:`Recognizer.normalized_twice`): a Kaldi or ESPnet habit (apply-cmvn in the pipeline,
    ESPnet's normalised dump/) that the packed CMVN would normalise a second time, silently."""
    count, total, total_sq, said, dim = 0, 0.0, 0.0, False, rec.pkg.meta.idim

    def check() -> None:
        if count < 2:  # (fewer than two frames: no deviation to judge)
            return
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 0.0))
        if rec.normalized_twice(mean, std):
            log.warning("the features of %s look normalised already (medians over the dims: |mean| %.2f, "
                        "standard deviation %.2f), but %s applies the CMVN packed in the model to "
                        "--feats itself: give it the raw fbank (a recipe's dump/<set>/feats.scp), not "
                        "asrkit-apply-cmvn's output; normalised twice, its output is poor",
                        source, float(np.median(np.abs(mean))), float(np.median(std)), command)

    used = 0
    for item in items:
        _, feats, err = item
        if not said and err is None and feats is not None and feats.ndim == 2 and feats.shape[1] == dim \
                and np.isfinite(feats).all():
            x = feats.astype(np.float64)
            total = total + x.sum(0)
            total_sq = total_sq + (x * x).sum(0)
            count += x.shape[0]
            used += 1
            if used == first:
                check()
                said = True
        yield item
    if not said:
        check()


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


# What asrkit-decode writes in --output-dir (log/decode.log: the log file of the run).
LOG_NAME = "log/decode.log"
DIR_OUTPUTS = ("text", "nbest.jsonl", "decode.yaml", LOG_NAME)


def keep_earlier_log(path: Path) -> None:
    """Move ``path`` (--output-dir's log/decode.log), the log of an earlier run into the same
    directory, aside to ``<path>.<N>``, as asrkit-launch keeps a job's earlier logs
    (:func:`asrkit.launch.job.rotate_log`): one log per run, and a failed run, which leaves the
    earlier run's outputs in place, leaves their log too. Emptied (since 4503421d, so that a grep of
    the log found this run's lines only), the log of a complete decoding was lost to the failed run's
    (a full disk, a bad model). Left as it is when empty, or when it is this process's stdout or
    stderr (``2>> D/log/decode.log``, a launcher's log of the job), whose writer goes on at its
    own offset; emptied, with a warning, when log/ takes no new name."""
    from asrkit.launch.job import rotate_log

    try:
        st = os.stat(path)
    except OSError:  # (none yet; one that cannot be read is named when the log is opened)
        return
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return
    for fd in (1, 2):
        try:
            if os.path.samestat(st, os.fstat(fd)):
                return
        except OSError:
            continue
    try:
        rotate_log(str(path))
    except AsrkitError as e:
        # A log/ that takes no new name while the log itself may be written (a shared exp dir whose
        # log/ is another user's): the run went on into the emptied log before it was kept aside,
        # and failed then before decoding anything. Emptied as before, and said.
        try:
            os.truncate(path, 0)
        except OSError:
            raise e from None
        log.warning("%s; it is emptied for this run's log instead", e)


# Files that make a folder a Kaldi data directory (or a recipe's dump/<set>), whose ``text`` is the
# reference transcripts. A decode directory holds none of them.
DATA_DIR_FILES = ("utt2spk", "spk2utt", "wav.scp", "feats.scp")


def check_not_data_dir(output_dir: Path) -> None:
    """Refuse an --output-dir that is a Kaldi data directory: ``--wav-scp data/test/wav.scp
    --output-dir data/test`` replaced the reference transcripts data/test/text with the
    hypotheses at exit 0, and scoring them against themselves then said 0 % WER."""
    held = [name for name in DATA_DIR_FILES if (output_dir / name).is_file()]
    if held:
        raise AsrkitError(f"--output-dir {output_dir} holds {held[0]}: it is a Kaldi data directory, whose text is "
                          f"the reference transcripts, and the hypotheses would be written as it; give the "
                          f"decoding a directory of its own (exp/<model>/decode_<set>)")


def check_output_paths(output_dir: Optional[Path], ctm: Optional[Path], segments: Optional[Path],
                       inputs: Sequence[Tuple[str, Any]] = (), scp_lines: Sequence[str] = (),
                       wav_sources: Optional[Dict[str, Sequence[str]]] = None) -> None:
    """Refuse a --ctm or --segments-out that is another output of the run: both would be written
    to one temporary file (or decode.yaml written over the CTM) and renamed into place, a
    garbled or lost output with exit 0. Streams (/dev/stdout) may be shared. ``inputs``: (option,
    path or rspecifier) of what the run reads, see :func:`check_outputs_spare_inputs`."""
    outputs: List[Tuple[Any, str]] = []
    if output_dir is not None:
        check_not_data_dir(output_dir)
        outputs += [(output_dir / name, f"--output-dir's {name}") for name in DIR_OUTPUTS]
    outputs += [(path, f"{option} {path}") for option, path in (("--ctm", ctm), ("--segments-out", segments))]
    for path, label in outputs:
        # Found by the rename at the end (a decode.yaml or text folder in a reused --output-dir):
        # every utterance was decoded first, then the run failed with nothing written.
        if path is not None and path.is_dir():
            raise AsrkitError(f"{path}: is a directory, where the run would write {label}")
    check_outputs_spare_inputs(outputs, inputs, scp_lines, among_outputs=lambda path, label, _, first: (
        f"{label} is the same file as {first}: give it a path of its own"), wav_sources=wav_sources)


def check_outputs_spare_inputs(outputs: Sequence[Tuple[Any, str]], inputs: Sequence[Tuple[str, Any]],
                               scp_lines: Sequence[str] = (), among_outputs=None,
                               wav_scps: Sequence[str] = ("--wav-scp", "<wav-rspecifier>"),
                               wav_sources: Optional[Dict[str, Sequence[str]]] = None) -> None:
    """Refuse an output ((path, how the user named it); streams are written in place and pass)
    that is a file the run reads: it is renamed over the input at the end, so a slip
    (--segments-out data/x/segments given with --segments data/x/segments, asrkit-align's
    <ctm-out> the <text-file>) destroys the input with exit 0. ``inputs``: (option, a Path, or a
    str Kaldi rspecifier such as scp:x; a pipe is no file); None where not given. The options in
    ``scp_lines`` read matrices through their scp, so the arks its lines name are inputs too
    (--ctm dump/x/feats.ark with --feats scp:dump/x/feats.scp replaced the features); the options
    in ``wav_scps`` are wav.scp tables, whose recordings are inputs too (--ctm data/a.wav). See
    :func:`asrkit.data.specifier.check_distinct_files`. ``wav_sources``: {a wav.scp as given: the
    values of its lines}, for a table the command has read already (not read again here)."""
    from asrkit.data.specifier import check_distinct_files, spec_files, wav_scp_files_named
    from asrkit.features.wav_scp import scp_path_or_none

    read = [(f, f"{option} {value}") for option, value in inputs if value is not None
            for f in spec_files(value, scp_lines=option in scp_lines)]
    read += [(f, f"the recording {f} of {option} {value}") for option, value in inputs
             if value is not None and option in wav_scps
             for f in wav_scp_files_named(scp_path_or_none(str(value)), [o for o, _ in outputs],
                                          (wav_sources or {}).get(str(value)))]
    check_distinct_files(outputs, read, among_outputs=among_outputs, over_input=lambda _, label, __, inp: (
        f"{label} is the same file as {inp}, which the run reads: it would be overwritten; give the output a "
        f"path of its own"))


def _write_utf8(stream: TextIO, data: str) -> None:
    """Write ``data`` to a text stream as UTF-8 whatever its encoding, and flush: under a latin-1 or
    ASCII locale (PYTHONIOENCODING=ascii, a latin-1 terminal) the first id or word outside it was a
    UnicodeEncodeError traceback; a text output is UTF-8 wherever it goes."""
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "").replace("_", "")
    raw = getattr(stream, "buffer", None)
    if encoding == "utf8" or raw is None:
        stream.write(data)
        stream.flush()
        return
    stream.flush()  # what went out through the text layer first
    raw.write(data.encode("utf-8"))
    raw.flush()


class Outputs:
    """``text`` + ``nbest.jsonl`` in an output dir (atomically), or ``<utt> <text>`` lines on
    stdout; a CTM and a segments file where asked, written atomically wherever they go.

    ``weights`` (the recognizer's scorer weights) go into every nbest record; ``least_audio_s``
    (the Recognizer's) gives where an utterance decoded whole ends in the segments file. ``close(ok,
    settings)`` renames the outputs into place when ``ok`` (with ``settings`` as decode.yaml,
    what produced them), or removes them.
    """

    def __init__(self, output_dir: Optional[Path], stdout: TextIO, weights: Dict[str, float],
                 ctm: Optional[Path] = None, segments: Optional[Path] = None,
                 least_audio_s: Callable[[int], float] = FbankConfig().least_audio_s,
                 reads: Sequence[Any] = ()) -> None:
        check_output_paths(output_dir, ctm, segments)
        self.dir = output_dir
        self.reads = list(reads)  # the files the run reads: never called an earlier run's leftovers
        self.files = AtomicFiles()
        self.weights = weights
        self.least_audio_s = least_audio_s
        self.short_segments = 0  # pieces left out of the segments file (segment_lines)
        self.text: TextIO = stdout
        self.nbest = self.ctm = self.segments = None
        self._own: Dict[TextIO, Path] = {}  # the files opened here -> the outputs they become
        # A stream output (--ctm -, a FIFO) -> what is held for it until the run succeeds. Written
        # as it came, its buffer went out whenever it filled: 224 CTM lines of 60 AN4 utterances
        # between their text lines on stdout (the docs say after them), and the rest of it, with
        # the segments, at the close of a run that failed.
        self._held: Dict[TextIO, io.StringIO] = {}
        # The files of this run inside output_dir (names relative to it), recorded in decode.yaml
        # so that the next run there can tell which CTM or segments file was this run's.
        self.in_dir: List[str] = []
        try:
            if output_dir is not None:
                output_dir.mkdir(parents=True, exist_ok=True)
                remove_stale_temporaries(output_dir)
                self.in_dir = ["text", "nbest.jsonl"] + [name for name in (
                    _name_in(output_dir, p) for p in (ctm, segments) if p is not None) if name is not None]
                self.text = self._open(output_dir / "text")
                self.nbest = self._open(output_dir / "nbest.jsonl")
            if ctm is not None:
                self.ctm = self._open(ctm)
            if segments is not None:
                self.segments = self._open(segments)
        except BaseException:
            # An output that cannot be made (--ctm under a file, a directory without write
            # permission) must not leave the temporary files of the ones opened before it.
            self.close(False)
            raise

    def _open(self, path: Path) -> TextIO:
        f = self.files.open(path)  # (opened now: one that cannot be fails before decoding)
        self._own[f] = path
        if self.files.tmp(path) == path:  # a stream: nothing to rename, so it is held back instead
            held = self._held[f] = io.StringIO()
            self._own[held] = path
            return held
        return f

    def _write(self, f: TextIO, data: str) -> None:
        try:
            if f in self._own:
                f.write(data)
            else:  # text on stdout: each line as it is decoded, in UTF-8 as Kaldi's text files
                _write_utf8(f, data)
        except OSError as e:  # a full disk: a write error carries no file name (the files opened here name theirs)
            name_os_error(e, self._own.get(f, "<stdout>"))
            raise

    def emit(self, r: UttResult) -> None:
        best = r.texts[0] if r.texts else ""
        self._write(self.text, f"{r.utt_id} {best}".rstrip() + "\n")
        if self.nbest is not None:
            self._write(self.nbest, json.dumps(nbest_record(r, self.weights), ensure_ascii=False) + "\n")
        if self.ctm is not None:
            self._write(self.ctm, "".join(line + "\n" for line in ctm_of(r)))
        if self.segments is not None:
            lines, short = segment_lines(r, self.least_audio_s)
            for piece in short:
                log.warning("utterance %r: piece %s is 0.1 s or less, left out of %s (Kaldi's extract-segments "
                            "skips such a segment, compute-fbank one under a window)", r.utt_id, piece,
                            self._own[self.segments])
            self.short_segments += len(short)
            self._write(self.segments, "".join(line + "\n" for line in lines))

    def close(self, ok: bool, settings: Optional[Dict[str, Any]] = None) -> None:
        """Close every output, then rename them into place (``ok``) or remove them. A file that
        fails to close (its last buffer hits a full disk) fails the run, named; every temporary
        file is removed whatever happened."""
        error: Optional[OSError] = None
        committed = False
        streams = [f for f in self._own if f in self._held]
        for f, final in self._own.items():
            if f in self._held or isinstance(f, io.StringIO):
                continue  # (streams are written below, once the files are in place)
            try:
                f.close()
            except OSError as e:
                name_os_error(e, final)
                error = error or e
        try:
            if error is not None:
                raise error
            if ok:
                earlier: List[str] = []
                if settings is not None and self.dir is not None:
                    from asrkit.utils.config import dump_yaml

                    path = self.dir / "decode.yaml"
                    earlier = _earlier_outputs(path)
                    with self.files.open(path) as y:
                        y.write(dump_yaml({**settings, "outputs": self.in_dir}, sort_keys=False))
                self.files.commit()
                committed = True
                if self.short_segments:
                    log.warning("%d piece(s) of 0.1 s or less left out of %s (named above)", self.short_segments,
                                self._own[self.segments])
                self._warn_of_earlier(earlier)
        finally:
            self.files.abort()  # after a commit, nothing is left to remove
            for f in streams:
                try:
                    if committed:
                        f.write(self._held[f].getvalue())
                    f.close()
                except OSError as e:
                    name_os_error(e, self._own[f])
                    error = error or e
            self._held.clear()
        if error is not None and committed:
            raise error

    def _warn_of_earlier(self, names: List[str]) -> None:
        """Warn of the files the previous run into the output dir made there (``names``, from its
        decode.yaml) that this run did not write again: a CTM or
        segments file of the hypotheses this run has just replaced (``--ctm D/ctm``, then a run
        without it) stays beside the new text, with other words and times. Warned of, never
        removed: such a name can be a file the user put there since (``mv``, ``cp -p`` and
        ``rsync -a`` keep an old time) or one this run reads (``--segments D/segments``)."""
        for name in names if self.dir is not None else ():
            if name in self.in_dir or name in DIR_OUTPUTS:
                continue
            path = self.dir / name
            try:
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue
            except OSError:
                continue  # (removed or moved since)
            if any(same_regular_file(path, r) for r in self.reads):
                continue
            log.warning("%s, written by an earlier run into %s, is not of this run's hypotheses (%s): remove it, or "
                        "write it again (%s)", path, self.dir, self.dir / "text",
                        "--segments-out" if name.endswith("segments") else "--ctm or --segments-out")


def _name_in(directory: Path, path: Path) -> Optional[str]:
    """``path`` relative to ``directory`` when it lies inside it (not a stream), else None."""
    from asrkit.utils.fileio import is_stream

    if is_stream(path):
        return None
    rel = os.path.relpath(os.path.realpath(path), os.path.realpath(directory))
    return None if rel == os.curdir or rel.split(os.sep)[0] == os.pardir else rel


def _earlier_outputs(decode_yaml: Path) -> List[str]:
    """The files the previous run into a directory wrote there (its decode.yaml's ``outputs``);
    none when there is none or it cannot be read (an older asrkit recorded none)."""
    try:
        from asrkit.utils.config import load_yaml_mapping

        names = load_yaml_mapping(decode_yaml).get("outputs")
    except (OSError, AsrkitError):
        return []
    if not isinstance(names, list):
        return []
    # (only plain names below the directory: a decode.yaml edited to name '../x' is not looked at)
    return [n for n in names if isinstance(n, str) and n and not os.path.isabs(n) and os.pardir not in Path(n).parts]


def remove_stale_temporaries(output_dir: Path) -> None:
    """Remove the temporary files a killed run (SIGKILL, a power cut) left in ``output_dir``,
    whichever outputs they were for: a run removes those of the outputs it writes itself, but a
    killed run's ``--ctm D/ctm`` temporary stayed for good when the next run wrote no CTM. Only
    asrkit's temporary names that carry a process id (``.<name>.<pid>.<8 chars>.tmp``) whose process
    is gone are touched (:func:`remove_stale_tmp`): the older form without one matched a user's
    ``.notes.20241201.tmp``."""
    from asrkit.utils.fileio import remove_stale_tmp, tmp_output_with_pid

    for folder in (output_dir, output_dir / "log"):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            output = tmp_output_with_pid(name)
            if output is not None:
                remove_stale_tmp(folder / output)
