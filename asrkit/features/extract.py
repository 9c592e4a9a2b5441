"""Feature extraction over a whole wav.scp: what ``asrkit-compute-fbank`` does.

Kaldi's ``compute-fbank-feats`` plus the bookkeeping of ``steps/make_fbank.sh``: each bad
utterance (unreadable, empty, truncated, too short, non-finite features) is logged and skipped,
the run ends with "Done X out of Y utterances; failed Z", and it fails when nothing was
extracted or more than 5 % failed (:mod:`asrkit.utils.bad_items`). A sample-rate mismatch is
fatal, since it means the config does not fit the corpus, unless ``resample`` asks for audio at
other rates to be resampled to the config's (after cutting any segment).

With ``nj > 1`` the utterances are cut into ``nj`` contiguous pieces, each written by its own
process to ``<ark-stem>.<JOB>.ark``; one scp lists them all in input order. The workers die with
the command, even when it is SIGKILLed (:mod:`asrkit.utils.workers`). Every output (arks, scp,
utt2num_frames, utt2sample_rate, fbank.yaml) is written under a temporary name and renamed into place only when
the whole run succeeded, so a failed or interrupted run leaves nothing half-written; the
temporary files of a SIGKILLed run are removed by the next run that writes the same outputs. The
scp is renamed last, its old file moved aside before the first rename: killed between two renames, a
run over an older output leaves no scp rather than the old one beside the new arks.
"""
from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, List, NamedTuple, Optional, Set, Tuple

import kaldiio
import numpy as np

from asrkit.data.specifier import check_wspecifier, parse_specifier
from asrkit.data.split import split_scp
from asrkit.features.fbank import FbankConfig, SampleRateMismatch, compute_fbank_chunked
from asrkit.features.resample import low_rate_problem, resample, resample_problem
from asrkit.features.wav import DEFAULT_MAX_SAMPLES, EXPECT_MONO, constant_value
from asrkit.features.wav_scp import WavEntry, iter_wavs, preload_stdin, read_wav_scp
from asrkit.utils.bad_items import MAX_FAILED_PERCENT, BadItems
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import (AtomicFiles, NamedOutput, PathLike, is_stream, missing_dirs, name_os_error,
                                 open_output, remove_empty_dirs)
from asrkit.utils.logging import get_logger, progress
from asrkit.utils.workers import run_workers

log = get_logger(__name__)


class Extracted(NamedTuple):
    utt: str
    offset: int  # in its ark
    frames: int
    rate: int  # the audio's, as read (before any resampling)


@dataclass
class JobResult:
    utts: List[Extracted] = field(default_factory=list)
    failed: List[Tuple[str, str]] = field(default_factory=list)  # (utt, message) per skipped utterance
    audio_s: float = 0.0
    resampled: int = 0


@dataclass
class ExtractResult:
    num_total: int
    num_done: int
    num_failed: int
    num_frames: int
    num_resampled: int
    audio_s: float
    elapsed_s: float
    outputs: List[str]

    @property
    def real_time_factor(self) -> float:
        """Seconds of audio per second of wall time (higher is faster)."""
        return self.audio_s / self.elapsed_s if self.elapsed_s > 0 else float("inf")


def _check_rate(num_samples: int, rate: int, entry: WavEntry, config: FbankConfig, allow: bool) -> None:
    """Audio at another rate than the config's: SampleRateMismatch (fatal) unless ``allow``, else
    an AsrkitError (a bad utterance) when it cannot be resampled to it."""
    target = int(config.sample_frequency)
    if rate == target:
        return
    if not allow:
        low = low_rate_problem(rate, target, "the fbank config's")
        if low is not None:  # (no use suggesting --sample-frequency at a rate that is refused)
            raise AsrkitError(f"utterance {entry.utt_id!r}: {low} [{entry.line}]")
        raise SampleRateMismatch(f"utterance {entry.utt_id!r}: sample rate {rate} Hz does not match the fbank config's "
                          f"sample_frequency {target} Hz (add --resample to resample it, in a recipe ./run.sh "
                          f"--fbank-args --resample; or set "
                          f"--sample-frequency {rate} if the corpus is all at {rate} Hz) "
                          f"[{entry.line}]")
    problem = resample_problem(num_samples, rate, target, entry.max_samples, "the fbank config's",
                               limit_hint="--max-samples; ")
    if problem is not None:
        raise AsrkitError(f"utterance {entry.utt_id!r}: {problem} [{entry.line}]")


def _to_config_rate(samples: np.ndarray, rate: int, entry: WavEntry, config: FbankConfig, allow: bool,
                    told: Set[int]) -> Tuple[np.ndarray, int]:
    """The audio at the config's rate: resampled when ``allow``, else a (fatal) error."""
    _check_rate(len(samples), rate, entry, config, allow)
    target = int(config.sample_frequency)
    if rate == target:
        return samples, rate
    if rate not in told:
        told.add(rate)
        log.info("resampling utterance %r from %d Hz to %d Hz (--resample); further %d Hz audio is "
                 "resampled without a message", entry.utt_id, rate, target, rate)
    return resample(samples, rate, target), target


# The readers' "choose one with --channel N" names this command's option; a recipe passes it through
# asr.sh, which a user reading the log in dump/<set>/log/ was not told (the rate error says so).
_ASK_CHANNEL = "choose one with --channel N"
_RECIPE_CHANNEL = "; in a recipe ./run.sh --fbank-args '--channel 0' (or --fbank-args '--resample --channel 0')"


def _raw_channel_hint(entry: WavEntry) -> str:
    """The wav.scp line that picks channel 0. A recipe with --feats-type raw trains on the audio as
    wav.scp gives it, reading it as mono whatever --fbank-args say: --channel 0 got stage 1 through
    and training then failed on the same recording."""
    source = entry.source.strip()
    key = entry.reco_id or entry.utt_id
    if source.endswith("|") or source == "-":
        line = f"{key} sox <file> -t wav - remix 1 |"
    else:
        line = f"{key} sox {shlex.quote(source)} -t wav - remix 1 |"
    return f"; with --feats-type raw, which trains on the audio as wav.scp gives it, choose the channel " \
           f"in wav.scp instead (sox counts from 1): {line}"


def _with_channel_hint(error: AsrkitError, entry: WavEntry) -> AsrkitError:
    if _ASK_CHANNEL in str(error):
        return AsrkitError(f"{error}{_RECIPE_CHANNEL}{_raw_channel_hint(entry)}")
    return error


def _run_job(entries: List[WavEntry], ark: IO[bytes], text: bool, config: FbankConfig, desc: str,
             allow_resample: bool = False) -> JobResult:
    """Extract ``entries`` into the open ``ark`` stream, skipping (and recording) bad utterances."""
    result = JobResult()
    seekable = ark.seekable()
    told: Set[int] = set()
    for entry, audio, error in progress(iter_wavs(entries), total=len(entries), desc=desc, unit="utt"):
        if error is None:
            samples, rate = audio
            value = constant_value(samples)
            try:
                # (a rate mismatch without --resample is fatal: the config does not fit the corpus)
                samples, rate = _to_config_rate(samples, rate, entry, config, allow_resample, told)
            except SampleRateMismatch:
                raise
            except AsrkitError as e:
                error = e
        if error is None:
            result.resampled += rate != audio[1]
            try:
                # A minute of frames at a time: in one call an hour of 8 kHz audio peaked at 1.9 GB
                # (torchaudio holds every frame's window and spectrum), 4.6 h of 16 kHz (what
                # --max-samples lets through) would need ~15 GB.
                feats = compute_fbank_chunked(samples, rate, config, entry.utt_id)
            except AsrkitError as e:
                error = AsrkitError(f"{e} [{entry.line}]")
        if error is not None:
            error = _with_channel_hint(error, entry)
            log.warning("skipping %s", error)
            result.failed.append((entry.utt_id, str(error)))
            continue
        if value is not None:
            # Not a failure (Kaldi extracts it too), but features of nothing that a transcript
            # would be trained on: a muted device, a zero-filled download. (Said once it has
            # features: a 1-sample file was called silence, then skipped as too short for a frame.)
            log.warning("utterance %r: every sample is %g (digital silence): its features hold no sound "
                        "[%s: %s]", entry.utt_id, value, entry.where, entry.source)
        # kaldiio writes "<key> " then the matrix; the scp offset points just past that space.
        offset = ark.tell() + len(entry.utt_id.encode("utf-8")) + 1 if seekable else 0
        kaldiio.save_ark(ark, {entry.utt_id: feats}, text=text)
        result.utts.append(Extracted(entry.utt_id, offset, feats.shape[0], int(audio[1])))
        result.audio_s += len(samples) / rate
    return result


def _job_main(job: int, entries: List[WavEntry], ark_path: str, text: bool, config: FbankConfig,
              allow_resample: bool = False) -> JobResult:
    """One ``--nj`` worker: its own process, one thread, writing its own (temporary) ark."""
    import torch

    torch.set_num_threads(1)
    # (its write errors name it: a job's ark may fill the disk while the others' are written).
    # open_output: ark:/dev/stdout opened anew truncated a file that stdout appends to (>> all.ark).
    with NamedOutput(open_output(ark_path, "wb"), ark_path) as ark:
        return _run_job(entries, ark, text, config, desc=f"fbank job {job}", allow_resample=allow_resample)


def job_ark_path(ark: str, job: int) -> str:
    """``dump/x/feats.ark`` -> ``dump/x/feats.3.ark`` for job 3."""
    p = Path(ark)
    suffix = p.suffix or ".ark"
    return str(p.with_name(f"{p.stem if p.suffix else p.name}.{job}{suffix}"))


def _check_distinct_outputs(spec, pieces, utt2num_frames, side_dir, wav_rspecifier, segments,
                            utt2sample_rate=None) -> None:
    """Every file the run writes is a different file, and none is an input: --write-utt2num-frames
    naming the ark replaced the features with the frame counts (exit 0), naming the scp or
    fbank.yaml lost one of the two, naming wav.scp replaced the input table."""
    from asrkit.data.specifier import check_distinct_files, wav_scp_files_named
    from asrkit.features.wav_scp import scp_path

    arks = [spec.ark] if len(pieces) == 1 else [job_ark_path(spec.ark, j) for j in range(1, len(pieces) + 1)]
    named = [(a, "the ark") for a in arks]
    if spec.scp is not None:
        named.append((spec.scp, "the scp"))
    if utt2num_frames is not None:
        named.append((str(utt2num_frames), "--write-utt2num-frames"))
    if utt2sample_rate is not None:
        named.append((str(utt2sample_rate), "--write-utt2sample-rate"))
    if side_dir is not None:
        named.append((str(side_dir / "fbank.yaml"), "fbank.yaml (written beside the scp or ark)"))
    inputs = [(scp_path(wav_rspecifier), "the wav.scp read")]
    sources = list(dict.fromkeys(e.source for piece in pieces for e in piece))  # (the table read once)
    inputs += [(f, "a recording the wav.scp names") for f in wav_scp_files_named(scp_path(wav_rspecifier),
                                                                               [n for n, _ in named], sources)]
    if segments is not None:
        inputs.append((str(segments), "the segments file read"))

    def clash(later, later_role, first, first_role):
        return f"{later}: {later_role} and {first_role} ({first}) are the same file: one would overwrite the other"

    check_distinct_files(named, inputs, among_outputs=clash,
                         over_input=lambda out, out_role, inp, in_role: clash(inp, in_role, out, out_role))


def _text_table_path(value: Optional[PathLike], option: str) -> Optional[PathLike]:
    """The file a ``--write-utt2num-frames``-like option names: a path, or Kaldi's ``ark,t:PATH``
    (what make_fbank.sh passes compute-fbank-feats), which made a file named 'ark,t:PATH'."""
    if value is None:
        return None
    text = str(value)
    head, sep, rest = text.partition(":")
    opts = head.split(",")
    if not sep or not set(opts) <= {"ark", "t", "f", "nf", "p", "b"} or "ark" not in opts:
        if text == "-":
            raise AsrkitError(f"{option} -: give a file name (the table is written to a file, not to stdout)")
        return value
    if "t" not in opts:
        raise AsrkitError(f"{option} {text!r}: the table is written as text: give a file name, or ark,t:FILE")
    if not rest or rest == "-":
        raise AsrkitError(f"{option} {text!r}: give a file name after 'ark,t:' (written to a file, not to stdout)")
    return rest


def compute_fbank_table(
    wav_rspecifier: str,
    feats_wspecifier: str,
    config: FbankConfig,
    segments: Optional[PathLike] = None,
    utt2num_frames: Optional[PathLike] = None,
    nj: int = 1,
    channel: int = EXPECT_MONO,
    resample: bool = False,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    max_bad_percent: float = MAX_FAILED_PERCENT,
    stdin_taken: Optional[str] = None,
    utt2sample_rate: Optional[PathLike] = None,
) -> ExtractResult:
    """Extract fbank features for every utterance of ``wav_rspecifier`` into ``feats_wspecifier``.

    ``utt2num_frames`` defaults to ``<scp-dir>/utt2num_frames`` when the wspecifier has an scp.
    The resolved config goes to ``fbank.yaml`` beside the scp (or the ark). ``channel``: -1
    takes mono audio only (multi-channel audio is a skipped utterance), N takes channel N.
    ``resample``: audio at another rate than ``config.sample_frequency`` is resampled to it
    instead of being an error. ``max_samples`` caps one read (asrkit.features.wav). Raises
    AsrkitError when the inputs are malformed, on a sample-rate mismatch (without ``resample``),
    or when no utterance succeeded or more than ``max_bad_percent`` failed
    (:mod:`asrkit.utils.bad_items`). A recording ``-`` is read from stdin (``stdin_taken``: the
    caller's other input that reads stdin, which refuses it; see :func:`read_wav_scp`).
    ``utt2sample_rate``: where to write each extracted utterance's audio rate as read, before any
    resampling (training records the rates it resampled up from in the model: docs/decoding.md).
    """
    start = time.perf_counter()
    config.check_mel_bins()
    utt2num_frames = _text_table_path(utt2num_frames, "--write-utt2num-frames")
    utt2sample_rate = _text_table_path(utt2sample_rate, "--write-utt2sample-rate")
    entries = read_wav_scp(wav_rspecifier, segments, channel, max_samples, stdin_taken=stdin_taken)
    if not entries:
        raise AsrkitError(f"{segments or wav_rspecifier}: no utterances")
    spec = parse_specifier(feats_wspecifier)
    if spec.ark is None:
        raise AsrkitError(f"bad wspecifier {feats_wspecifier!r}: an ark is required, "
                          f"e.g. ark,scp:dump/test/feats.ark,dump/test/feats.scp")
    check_wspecifier(spec)
    if spec.ark == "-" and (spec.scp is not None or nj > 1):
        raise AsrkitError(f"bad wspecifier {feats_wspecifier!r}: an scp or --nj > 1 needs an ark file, not '-'")
    # An ark that is a stream (ark:/dev/null, a FIFO) has no directory of its own: --nj pieces
    # beside it were /dev/null.1.ark, and fbank.yaml beside it /dev/fbank.yaml (as root: files
    # made in /dev; else "permission denied" once every utterance was computed).
    ark_stream = spec.ark == "-" or is_stream(spec.ark)
    if spec.scp is not None and ("\n" in spec.ark or "\r" in spec.ark):
        # (each feats.scp line names the ark: a line break cut every one in two, exit 0)
        raise AsrkitError(f"bad wspecifier {feats_wspecifier!r}: the ark's name holds a line break, which no scp "
                          f"line naming it can hold")
    if ark_stream and spec.scp is not None:
        # (an scp of offsets into /dev/null or a FIFO: "u1 /dev/null:3", every entry unreadable, exit 0)
        raise AsrkitError(f"bad wspecifier {feats_wspecifier!r}: an scp points into its ark, which must be a file, "
                          f"not {spec.ark!r} (for frame counts alone: ark:/dev/null --write-utt2num-frames FILE)")
    if ark_stream and nj > 1:
        raise AsrkitError(f"bad wspecifier {feats_wspecifier!r}: --nj > 1 writes one ark per job beside the ark "
                          f"(<ark-stem>.<JOB>.ark), so the ark must be a file, not {spec.ark!r}")
    if nj < 1:
        raise AsrkitError(f"--nj must be >= 1, got {nj}")
    # Imported after the input checks (so a bad table fails fast) and off the clock: torch's
    # start-up is a fixed cost per process, not per second of audio, and the real-time factor
    # reported should be about the audio.
    t_import = time.perf_counter()
    import torchaudio.compliance.kaldi  # noqa: F401

    start += time.perf_counter() - t_import
    pieces = split_scp(entries, min(nj, len(entries)))
    if len(pieces) < nj:
        log.warning("--nj %d is more than the %d utterances; using %d jobs", nj, len(entries), len(pieces))
    scp_file = spec.scp is not None and not is_stream(spec.scp)
    side_dir = Path(spec.scp).parent if scp_file else (Path(spec.ark).parent if not ark_stream else None)
    if utt2num_frames is None and scp_file:
        utt2num_frames = side_dir / "utt2num_frames"
    _check_distinct_outputs(spec, pieces, utt2num_frames, side_dir, wav_rspecifier, segments, utt2sample_rate)

    made_dirs = missing_dirs([spec.ark, spec.scp, utt2num_frames, utt2sample_rate,
                              side_dir / "fbank.yaml" if side_dir is not None else None])
    files = AtomicFiles()
    try:
        if spec.ark == "-":
            ark_names = ["-"]
            results = [_run_job(entries, sys.stdout.buffer, spec.text, config, desc="fbank",
                                allow_resample=resample)]
            sys.stdout.buffer.flush()
        elif len(pieces) == 1:
            ark_names = [spec.ark]
            results = [_job_main(1, entries, str(files.tmp(spec.ark)), spec.text, config, resample)]
        else:
            ark_names = [job_ark_path(spec.ark, j) for j in range(1, len(pieces) + 1)]
            tmps = [str(files.tmp(a)) for a in ark_names]
            preload_stdin(entries)
            # Forked, so the workers inherit the parsed entries and config without a second torch import.
            results = run_workers(_job_main, [(j, piece, tmp, spec.text, config, resample)
                                              for j, (piece, tmp) in enumerate(zip(pieces, tmps), 1)],
                                  name="fbank job")

        tally = BadItems(log, "utterances", max_percent=max_bad_percent)
        for r in results:
            tally.ok(len(r.utts))
            for utt, message in r.failed:
                tally.skip(utt, message, logged=True)
        resampled = sum(r.resampled for r in results)
        if resampled:
            log.info("Resampled %d of them to %g Hz", resampled, config.sample_frequency)
        tally.check(total=len(entries))
        done, failed = tally.done, len(tally.failed)

        outputs = [a for a in ark_names if a != "-"]
        if spec.scp is not None:
            with files.open(spec.scp, index=True) as f:  # (renamed last: see AtomicFiles)
                for name, r in zip(ark_names, results):
                    f.writelines(f"{u.utt} {name}:{u.offset}\n" for u in r.utts)
            outputs.append(spec.scp)
        if utt2num_frames is not None:
            with files.open(utt2num_frames) as f:
                for r in results:
                    f.writelines(f"{u.utt} {u.frames}\n" for u in r.utts)
            outputs.append(str(utt2num_frames))
        if utt2sample_rate is not None:
            with files.open(utt2sample_rate) as f:
                for r in results:
                    f.writelines(f"{u.utt} {u.rate}\n" for u in r.utts)
            outputs.append(str(utt2sample_rate))
        if side_dir is not None:
            with files.open(side_dir / "fbank.yaml") as f:
                f.write(config.to_yaml())
            outputs.append(str(side_dir / "fbank.yaml"))
        files.commit()
    except BaseException as e:
        if spec.ark == "-":  # (every file output names its own write errors)
            name_os_error(e, "<stdout>")
        files.abort()
        remove_empty_dirs(made_dirs)
        raise
    return ExtractResult(
        num_total=len(entries), num_done=done, num_failed=failed, num_resampled=resampled,
        num_frames=sum(u.frames for r in results for u in r.utts), audio_s=sum(r.audio_s for r in results),
        elapsed_s=time.perf_counter() - start, outputs=outputs,
    )


def check_sample_rates(
    wav_rspecifier: str,
    config: FbankConfig,
    segments: Optional[PathLike] = None,
    channel: int = EXPECT_MONO,
    resample: bool = False,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    max_bad_percent: float = MAX_FAILED_PERCENT,
    stdin_taken: Optional[str] = None,
) -> None:
    """What :func:`compute_fbank_table` says of each utterance's sample rate, computing no features
    and writing nothing: the same reader, the same SampleRateMismatch (fatal) and the same bad
    utterances (unreadable audio, a rate that cannot be resampled) skipped and counted. Without
    torch, whose import (2-3 s of CPU) cost more than asr.sh's check of each set's first utterance
    before stage 1 makes any features. Features of the audio may still fail where this passes (a
    recording too short for a frame)."""
    config.check_mel_bins()
    entries = read_wav_scp(wav_rspecifier, segments, channel, max_samples, stdin_taken=stdin_taken)
    if not entries:
        raise AsrkitError(f"{segments or wav_rspecifier}: no utterances")
    tally = BadItems(log, "utterances", max_percent=max_bad_percent,
                     summary=f"Checked the sample rate of {{total}} {{what}} against the fbank config's "
                             f"{config.sample_frequency:g} Hz{' (--resample)' if resample else ''}, computing no "
                             f"features: {{done}} fine; failed {{failed}}")
    for entry, audio, error in iter_wavs(entries):
        if error is None:
            try:
                _check_rate(len(audio[0]), audio[1], entry, config, resample)
            except SampleRateMismatch:
                raise
            except AsrkitError as e:
                error = e
        if error is None:
            tally.ok()
        else:
            tally.skip(entry.utt_id, _with_channel_hint(error, entry))
    tally.check(total=len(entries))
