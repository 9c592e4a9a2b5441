"""Decoding audio to samples: a file, a ``cmd |`` pipe or stdin (:func:`read_wav_source`).

Decoding is libsndfile's (through ``soundfile``): WAV of any PCM or float subtype (also WAVEX,
RF64, W64; float of 32 or 64 bits: float16 is refused by name), FLAC, OGG/Vorbis, OGG/Opus, MP3
where the installed libsndfile reads it (``soundfile.available_formats()``), AIFF, AU, NIST
SPHERE and the rest of its list.

**Scale.** Samples come back as float32 (N,) at int16 scale: full scale is +-32768 whatever the
file holds. 16-bit PCM gives its integers exactly (-32768..32767), as Kaldi's feature code sees
them, so energies and log-mel values match Kaldi's own numbers; 24-bit PCM gives ``x / 256``,
float WAV ``x * 32768``, 8-bit ``x * 256``. Float samples must be finite and within
``FLOAT_PEAK_LIMIT`` (16) times full scale: larger ones mean int16 values stored as floats, an error. A 16-bit recording stored as FLAC, 24-bit or float
WAV therefore gives the very same samples (and features) as the 16-bit WAV.

**Channels.** ``channel=DOWNMIX`` (None, the default of the read functions) averages the channels,
aligned first where one is another delayed (:func:`channel_lags`);
``channel=N`` takes channel N (0-based, Kaldi's ``--channel``); ``channel=EXPECT_MONO`` (-1,
what ``asrkit-compute-fbank`` uses unless given ``--channel``) makes multi-channel audio an error;
``channel=ALL_CHANNELS`` ("all") returns every channel, samples (frames, channels).
Channels that cancel in the average (one the other inverted: the mix 20 dB or more below the
loudest channel) are an error naming ``--channel``, not digital silence decoded to some text; so
is a mix as quiet for another reason, named (:func:`downmix`).

**Safety.** A regular file is opened by libsndfile, which reads only its header before the size
checks: an entry naming a large non-audio file fails at once. Pipes (and FIFOs or devices such as
``/dev/zero``) are read incrementally: the stream must be recognisable audio within its first
MiB (within 64 MiB past the metadata of a WAV, AIFF, FLAC, OGG or ID3v2-tagged stream), and
reading stops past what ``max_samples`` allows. One read (an utterance, or the recording
segments are cut from) holds at most ``max_samples`` samples over all channels, by default
``DEFAULT_MAX_SAMPLES`` = 2**28 (1 GiB as float32: 4.6 h of 16 kHz mono, 1.5 h of 48 kHz stereo).

**Headers first.** Before any sample is decoded, what the container's header states is checked
against the bytes there are (truncated, corrupt, or two files joined with ``cat``):
:func:`asrkit.features.containers.check_container`, one call for every reader here.

Kaldi's conventions are kept: a wav.scp value ending in ``|`` is run through ``/bin/sh`` and its
stdout read as audio (a plain file name, ``pipes=False``, never is); with ``segments`` the
utterance is ``samples[int(start * rate):int(end * rate)]`` of its recording, ``end == -1`` meaning to the end, and an end up to 0.5 s past the recording
(``extract-segments --max-overshoot``) is clipped rather than refused.

The wav.scp and segments tables are read by :mod:`asrkit.features.wav_scp`; resampling and speed
perturbation are :mod:`asrkit.features.resample`.

Every failure is an ``AsrkitError`` naming the utterance and its source. e.g.::

    >>> samples, rate = read_wav_source("a.flac", "a.flac")       # doctest: +SKIP
"""
from __future__ import annotations

import io
import math
import os
import shlex
import stat
import struct
import subprocess
import sys
from typing import IO, Callable, Optional, Tuple

from asrkit.features.containers import (MAX_CHUNKS, MAX_SAMPLE_RATE, ContainerFacts, RiffData, check_container,
                                        float_width_problem, riff_refusal_reason)
from asrkit.utils.errors import AsrkitError, shown_name
from asrkit.utils.fileio import names_stdin, stdin_closed_problem
from asrkit.utils.pipes import ended_with_shell, start_pipe

DOWNMIX: Optional[int] = None  # channel=None: the mean of all channels
EXPECT_MONO = -1  # channel=-1: multi-channel audio is an error (Kaldi's --channel -1 warns and takes channel 0)
# channel="all": every channel, samples (frames, channels), for copies of a recording (speed
# perturbation) that keep its channels as sox's would; not an int, so no --channel value means it.
ALL_CHANNELS = "all"
DEFAULT_MAX_SAMPLES = 1 << 28
INT16_SCALE = 32768.0
# The largest float sample accepted, in full scales: real float audio overshoots +-1 only a little
# (a mix, a gain before a limiter); int16 values stored as floats reach hundreds or thousands.
FLOAT_PEAK_LIMIT = 16.0
MAX_OVERSHOOT_S = 0.5  # as Kaldi's extract-segments
# A stream must show a recognisable header within this many bytes; sniffing is tried at the
# first threshold and again at the second (FLAC and WAV may carry large metadata up front).
_PROBE_AT = (64 << 10, 1 << 20)
_READ_CHUNK = 1 << 16
# Bytes per sample of the stored data, to stop a stream once it is certainly over the limit;
# compressed formats never take more than 4.
_SAMPLE_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "ULAW": 1, "ALAW": 1, "PCM_16": 2, "PCM_24": 3, "DOUBLE": 8}
_FLOAT_SUBTYPES = {"FLOAT", "DOUBLE"}
_HEADER_PREFIX = 4096  # bytes of a file read up front for the RIFF walk
# Subtypes libsndfile reads as int16 without loss (8-bit ones shifted left by 8: x * 256).
_INT16_SUBTYPES = {"PCM_16", "PCM_S8", "PCM_U8"}


def _soundfile():
    # Imported on first use: it loads libsndfile through cffi, and commands that never read
    # audio (or only print --help) should not pay for that.
    import soundfile

    return soundfile


_FILE_OFFSET_LIMIT = 1 << 62


def _file_reader(fd: int, prefix: bytes) -> Callable[[int, int], bytes]:
    """``read_at`` over a file whose first bytes are already in ``prefix`` (one pread for most headers)."""
    def read_at(offset: int, n: int) -> bytes:
        if offset + n <= len(prefix):
            return prefix[offset:offset + n]
        if offset >= _FILE_OFFSET_LIMIT:
            # Past any file: a damaged 64-bit chunk size (W64, CAF) walked the chunks to an offset
            # pread cannot take, an OverflowError traceback instead of the file's error.
            return b""
        return os.pread(fd, n, offset)

    return read_at


# --------------------------------------------------------------------------------------------
# Decoding (header first, then the samples)

def _sound_file(sf, source):
    """libsndfile's SoundFile over ``source``, a regular file's descriptor (at offset 0) or bytes.

    Opened by a name of ``/proc/self/fd/``: when libsndfile does not know a format by its first
    bytes (an MP3 without an ID3 tag) it looks for a Mac resource fork beside the file, as
    ``._<name>`` or ``.AppleDouble/<name>`` (for a descriptor or a stream, with no name, ``._``
    and ``.AppleDouble/`` in the current directory), and takes what it finds for one: every such
    MP3 failed as "bad resource fork" beside the ``._a.mp3`` macOS leaves in a zip, or anywhere
    under an AFP share's ``.AppleDouble`` folders. Nothing is ever beside ``/proc/self/fd/N``.
    Bytes go through a memfd for that name; a file object where ``/proc`` is missing.
    """
    fd, own = (source, False) if isinstance(source, int) else (_memfd(source), True)
    try:
        if fd is not None and os.path.exists(f"/proc/self/fd/{fd}"):
            try:
                return sf.SoundFile(f"/proc/self/fd/{fd}")
            except sf.LibsndfileError as e:
                if "System error" not in str(e.error_string):
                    raise
                # (a sandbox that refuses reopening through /proc: the descriptor as before)
        return sf.SoundFile(source, closefd=False) if isinstance(source, int) else sf.SoundFile(io.BytesIO(source))
    finally:
        if own and fd is not None:
            os.close(fd)  # (libsndfile holds its own open of it)


def _memfd(data: bytes) -> Optional[int]:
    """A memory-backed file holding ``data``, or None where the system has none."""
    try:
        fd = os.memfd_create("asrkit-audio", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        os.close(fd)
        return None
    return fd


def _libsndfile_error(e: Exception, what: str, head: bytes, riff: Optional[RiffData], source) -> AsrkitError:
    reason = str(getattr(e, "error_string", "") or e).strip()
    if "Format not recognised" in reason or "Format not recognized" in reason:
        return AsrkitError(f"{what}: not a recognised audio file (starts with {head[:4]!r}); "
                           f"libsndfile reads WAV, FLAC, OGG/Vorbis/Opus, MP3 and more, convert anything "
                           f"else in wav.scp, e.g. 'ffmpeg -nostdin -i x.m4a -f wav - |'")
    if head[:4] in (b"RIFF", b"RF64"):
        # (asked only now libsndfile has refused it: its reasons for these name another fault)
        if isinstance(source, int):
            fault = riff_refusal_reason(lambda offset, n: os.pread(source, n, offset), os.fstat(source).st_size)
        else:
            fault = riff_refusal_reason(lambda offset, n: bytes(source[offset:offset + n]), len(source))
        if fault is not None:
            return AsrkitError(f"{what}: malformed WAV: {fault}")
    tag = f", WAV format tag 0x{riff.format_tag:04x}" if riff is not None and riff.format_tag is not None else ""
    return AsrkitError(f"{what}: unsupported or corrupt audio{tag} (libsndfile: {reason})")


_SF_COUNT_MAX = 2 ** 63 - 1  # the frame count libsndfile gives audio of unknown length
# Samples an MP3's frames may hold past libsndfile's length: the encoder's delay and padding,
# which a LAME tag has decoders trim (up to 2,256 measured), and an estimate's last frame.
_MP3_SLACK = 4 * 1152


def _decode(source, what: str, channel: Optional[int], max_samples: int, head: bytes,
            facts: ContainerFacts, span: Optional[Tuple[float, float]] = None,
            piped: Optional[bool] = None) -> Tuple[np.ndarray, int]:
    """Open ``source`` (a regular file's descriptor at offset 0, or bytes) with libsndfile and return
    int16-scale samples; the checks come before any sample is read. ``facts``: what
    :func:`~asrkit.features.containers.check_container` read of its header (a WAV's format tag for
    libsndfile's errors; whether an MP3's frame count is its tag's, not an estimate, and the samples
    per channel its frame headers add up to). ``span``: (start, end) seconds, the segment to
    return; an int16 WAV (whose length the header checks vouch for, with no float or decoding
    checks to run over the rest) is read only there. ``piped``: the bytes are a wav.scp pipe's
    output (True), a file's (False, and always for a descriptor), or either (None: stdin, a FIFO,
    bytes a caller holds), for the advice an error gives."""
    import numpy as np

    sf = _soundfile()
    mp3_counted, mp3_walked = facts.mp3_counted, facts.mp3_walked
    try:
        f = _sound_file(sf, source)
    except sf.LibsndfileError as e:
        raise _libsndfile_error(e, what, head, facts.riff, source) from None
    except (RuntimeError, TypeError, ValueError) as e:  # soundfile's own checks of odd headers
        raise AsrkitError(f"{what}: unsupported or corrupt audio ({e})") from None
    with f:
        frames, channels, rate = f.frames, f.channels, f.samplerate
        fmt, subtype = f.format, f.subtype  # each a libsndfile query: asked once
        desc = f"{fmt}/{subtype}"
        if rate < 1 or channels < 1:
            raise AsrkitError(f"{what}: malformed header ({desc}, {channels} channels, {rate} Hz)")
        if rate > MAX_SAMPLE_RATE:
            raise AsrkitError(f"{what}: sample rate {rate} Hz in the header is over the {MAX_SAMPLE_RATE} Hz "
                              f"asrkit reads (a corrupt header?)")
        one = channel is not None and channel != ALL_CHANNELS
        if one and channel < EXPECT_MONO:
            raise AsrkitError(f"{what}: bad channel {channel} (-1: mono only, N >= 0: channel N, None: average)")
        if one and channel >= channels:
            raise AsrkitError(f"{what}: --channel {channel} but the audio has {channels} channel(s)")
        if channel == EXPECT_MONO and channels > 1:
            raise AsrkitError(f"{what}: audio has {channels} channels; choose one with --channel N "
                              f"(0-based), as Kaldi's --channel")
        if frames == 0:
            raise AsrkitError(f"{what}: empty {desc} audio (no samples)")
        if frames == _SF_COUNT_MAX:
            # libsndfile's "length unknown": a FLAC whose STREAMINFO says 0 samples, as an encoder
            # writing to a pipe leaves it. soundfile cannot read such a file to its end (its
            # remaining-frames check seeks, which fails there), and it was refused as "over the
            # limit of ... samples" at 2**63-1 frames.
            # A pipe entry's output: "read it through a pipe" sent its user in a circle. stdin may be
            # a file ('u1 -' with '< p.flac'), where there is no pipe to change: both, unless known.
            to_wav = "write '-t wav' to the pipe instead (sox ... -t wav - |): a WAV stream reads to its end"
            convert = "convert it (sox in.flac out.wav)"
            if isinstance(source, int):
                piped = False
            how = (to_wav if piped else
                   f"{convert}, or read it through a pipe in a wav.scp ('<utt> sox <file> -t wav - |')"
                   if piped is False else f"{convert}; where a pipe writes it, {to_wav}")
            raise AsrkitError(f"{what}: {desc} audio whose header gives no length (a FLAC written to a pipe says 0 "
                              f"samples), which asrkit cannot read: {how}")
        if fmt == "MP3" and mp3_walked is not None and mp3_walked > frames + _MP3_SLACK:
            # libsndfile reads an MP3 no further than its tag's frame count or, without one, the
            # file's size over the first frame's bit rate: a damaged tag, an MP3 joined after a
            # tagged one, a variable-rate one untagged, each lost the rest without a word.
            how = "; convert it first (ffmpeg -i in.mp3 out.wav), or in wav.scp: "
            if mp3_counted:
                raise AsrkitError(f"{what}: its Xing/Info/VBRI tag states {frames} samples, but its frames hold "
                                  f"{mp3_walked} (a damaged tag, or another MP3 joined after it with cat?): libsndfile "
                                  f"would read only the first {frames}{how}"
                                  f"'<utt> ffmpeg -nostdin -i <file> -f wav - |'")
            raise AsrkitError(f"{what}: MP3 without a Xing/Info/VBRI frame count: its frames hold {mp3_walked} samples, "
                              f"but libsndfile, estimating the length from the first frame's bit rate (which "
                              f"varies), would read only the first {frames}{how}"
                              f"'<utt> ffmpeg -nostdin -i <file> -f wav - |'")
        if frames * channels > max_samples:
            raise AsrkitError(f"{what}: {frames / rate:.1f} s of audio ({frames} frames x {channels} channels) "
                              f"is over the limit of {max_samples} samples per read (--max-samples)")
        exact = subtype in _INT16_SUBTYPES
        cut = None
        if span is not None:
            begin, stop = segment_bounds(frames, rate, span[0], span[1], what)
            # (mono or one channel: a downmix's check that the channels do not cancel stays whole)
            if fmt == "WAV" and exact and (channels == 1 or channel is not None) and f.seekable():
                f.seek(begin)
                frames = stop - begin
            else:
                cut = (begin, stop)
        try:
            # (frames, channels): int16 where that holds every value (libsndfile's integer path is
            # about twice as fast as its float one), else float32 at full scale +-1. The frame
            # count is given: soundfile refuses "read to the end" (a ValueError) for what libsndfile
            # calls unseekable, GSM 6.10 WAV among them, file or pipe alike.
            data = f.read(frames, dtype="int16" if exact else "float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as e:
            raise AsrkitError(f"{what}: truncated or corrupt {desc} data "
                              f"(libsndfile: {str(getattr(e, 'error_string', '') or e).strip()})") from None
        if len(data) < frames and fmt == "FLAC":
            raise AsrkitError(f"{what}: truncated FLAC (header promises {frames} frames, {len(data)} decoded)")
        # libsndfile skips what it cannot decode and returns the rest without an error: an OGG
        # whose count (from its last page) is not reached lost pages on the way (the page walk
        # catches most before), and an MP3 short of its Xing/Info count was cut or damaged.
        if len(data) < frames and fmt == "OGG":
            raise AsrkitError(f"{what}: corrupt OGG data (its last page ends the stream at frame {frames}, "
                              f"{len(data)} decoded)")
        if len(data) < frames and fmt == "MP3" and mp3_counted:
            raise AsrkitError(f"{what}: truncated MP3 (its header promises {frames} frames, {len(data)} decoded)")
        if len(data) == 0:
            raise AsrkitError(f"{what}: empty {desc} audio (no samples)")
    if subtype in _FLOAT_SUBTYPES and data.size:
        # Checked as read, before the scaling and the channels' mean: a finite 3e38 (or a double
        # beyond float32) overflowed there, a numpy RuntimeWarning and then "non-finite sample
        # value (inf)" for a file holding none.
        _check_float_samples(data[:, channel] if channels > 1 and one and channel >= 0 else data, what, subtype)
    if channel == ALL_CHANNELS:
        samples = np.ascontiguousarray(data, dtype=np.float32)
    elif channels == 1:
        samples = np.ascontiguousarray(data.reshape(-1), dtype=np.float32)
    elif channel is not None:
        samples = np.ascontiguousarray(data[:, channel], dtype=np.float32)
    else:
        samples = downmix(data, what, rate)
    if not exact:
        samples *= INT16_SCALE
    if cut is not None:
        samples = samples[cut[0]:cut[1]]
    return samples, rate


def _check_float_samples(data: np.ndarray, what: str, subtype: str) -> None:
    """Float samples (frames, or frames x channels, at full scale +-1) that are non-finite or far
    beyond full scale are an error naming the first frame at fault or the peak."""
    import numpy as np

    frames = data.reshape(len(data), -1)
    finite = np.isfinite(frames)
    if not finite.all():
        bad = int(np.flatnonzero(~finite.all(axis=1))[0])
        value = frames[bad][~finite[bad]][0]
        # (libsndfile gives a double beyond float32's range as inf)
        beyond = " or a double beyond float32's range" if subtype == "DOUBLE" and np.isinf(value) else ""
        raise AsrkitError(f"{what}: non-finite sample value ({value}{beyond}) at sample {bad}")
    # Float audio's full scale is +-1. Far beyond it, the file was written at integer scale
    # (int16 values stored as floats): read as float it would be 90 dB too loud and its
    # features far outside anything the model saw, so it is refused rather than decoded.
    peak = float(np.abs(frames).max())
    if peak > FLOAT_PEAK_LIMIT:
        raise AsrkitError(f"{what}: float samples reach {peak:.4g}, beyond the +-1.0 full scale of float "
                          f"audio by more than {FLOAT_PEAK_LIMIT:g}x: the file looks written at integer "
                          f"scale; rescale it to +-1 (e.g. sox -v {1 / peak:.3g} in.wav out.wav)")


# Averaging channels costs a recording 6 dB at most when they agree or one is silent (3 dB when
# they are unrelated); a mix this far below its loudest channel means they cancel: one is the
# other inverted (a balanced lead wired backwards, an "invert" effect left on one side).
DOWNMIX_CANCEL_DB = 20.0
# A channel correlated with the loudest one at this or below is that channel inverted (two channels
# of equal power mix 20 dB down only at -0.98 or below).
_INVERTED_CORRELATION = -0.9


def downmix(data: np.ndarray, what: str, rate: Optional[int] = None) -> np.ndarray:
    """The mean of the channels of ``data`` (frames, channels) as float32 (frames,); given the
    ``rate``, each channel is first shifted onto the loudest by the lag where they agree best
    (:func:`channel_lags`: one talker heard by microphones a little apart).

    A mix more than DOWNMIX_CANCEL_DB below the loudest channel is an AsrkitError naming ``what``
    and why: channels that cancel (the mix of a recording whose second channel is its first
    inverted is digital silence, decoded to some text without a word), samples that run on from
    one channel into the next (a header stating 1000 channels over mono samples), or channels
    that do not add up to one recording (many unrelated or silent ones).
    """
    import numpy as np

    mix = data.mean(axis=1, dtype=np.float32)
    powers = []
    for c in range(data.shape[1]):
        column = np.ascontiguousarray(data[:, c], dtype=np.float32)
        powers.append(float(np.dot(column, column)))
    loudest = max(powers)
    mixed = float(np.dot(mix, mix))
    if loudest > 0 and mixed < loudest * 10 ** (-DOWNMIX_CANCEL_DB / 10):
        down = "digital silence" if mixed == 0 else f"{10 * math.log10(loudest / mixed):.0f} dB below the loudest channel"
        n, top = data.shape[1], powers.index(loudest)
        values = np.asarray(data, dtype=np.float32)
        flat = values.reshape(-1)  # (interleaved, as the file holds them)
        if len(values) > 1 and np.mean(np.square(np.diff(flat))) < np.mean(np.square(flat[n:] - flat[:-n])):
            # Each sample is nearer the next channel's than its own channel's next one: one
            # channel's samples (speech changes little from one to the next) under a header stating
            # too many, whose mean over runs of consecutive samples is quiet.
            raise AsrkitError(f"{what}: its samples run on from one of its {n} channels into the next, as one "
                              f"channel's do: the samples of fewer channels, read as {n} (a wrong channel count in the "
                              f"header?), so their average is {down}; write the file again with its real channel count")
        # each channel's correlation with the loudest (a silent channel's: 0)
        correlation = values.T @ values[:, top] / np.sqrt(np.maximum(np.multiply(powers, loudest), 1e-30))
        if correlation.min() <= _INVERTED_CORRELATION:
            raise AsrkitError(f"{what}: its {n} channels cancel out when averaged (the mix is {down}: one "
                              f"channel is another inverted?); choose one with --channel N (0-based)")
        raise AsrkitError(f"{what}: its {n} channels do not add up to one recording: their average is {down}, and no "
                          f"channel is another inverted (unrelated or silent channels, or a wrong channel count in "
                          f"the header?); choose one with --channel N (0-based)")
    lags = channel_lags(data, powers.index(loudest), rate) if rate and loudest > 0 else None
    if lags is None:
        return mix
    del mix  # (held with the aligned mean, an hour of 48 kHz stereo took 700 MB more to read)
    aligned = np.zeros(len(data), dtype=np.float32)
    for c, lag in enumerate(lags):
        column = np.asarray(data[:, c], dtype=np.float32)
        if lag > 0:  # channel c hears the sound `lag` samples later than the loudest one
            aligned[:len(data) - lag] += column[lag:]
        elif lag < 0:
            aligned[-lag:] += column[:lag]
        else:
            aligned += column
    return aligned / np.float32(data.shape[1])


# Two microphones a little apart (a spaced stereo pair, a phone's or a laptop's two) hear a talker
# a fraction of a millisecond apart; the mean of such channels is comb-filtered, with notches at
# odd multiples of 1 / (2 * delay): at 8 kHz a 4-sample (0.5 ms) delay puts them at 1 and 3 kHz,
# and the yesno model read 28 of its 30 test recordings so made wrong (87 word errors of 240;
# either channel alone: the original's text). Each channel is therefore shifted onto the loudest
# by the lag, up to CHANNEL_LAG_S, where they agree best (delay-and-sum, as BeamformIt does for
# Kaldi's far-field recipes), when they agree there: normalised correlation
# CHANNEL_LAG_MIN_CORRELATION or more (one talker heard twice; unrelated channels, two recordings,
# stay as they are).
CHANNEL_LAG_S = 0.02
CHANNEL_LAG_MIN_CORRELATION = 0.5
# The lag is measured on at most this much of the recording, its loudest stretch (the FFT of an
# hour of audio costs far more than the mean it corrects).
CHANNEL_LAG_EXCERPT_S = 30.0
# Both measures are of the channels less their mean and pre-emphasised, as Kaldi's features are
# (coefficient 0.97): a DC offset or mains hum (50/60 Hz, its period inside CHANNEL_LAG_S) is not
# the talker. Where they dominated, an offset of opposite sign in the two channels hid the
# talker's lag, and hum of another phase in each channel drew the lag to where the hum lined up,
# up to 9 ms off, the speech then smeared by the shift.
_LAG_PREEMPHASIS = 0.97


def channel_lags(data: np.ndarray, top: int, rate: int) -> Optional[list]:
    """Per channel of ``data`` (frames, channels), the lag in samples by which it trails channel
    ``top`` (negative: leads it), 0 where it does not correlate with ``top`` at any lag within
    CHANNEL_LAG_S; None when every lag is 0.

    The lag is where the phase transform of their cross-spectrum peaks (GCC-PHAT, as BeamformIt's:
    each frequency counts alike, so a tone or hum in both channels, which the plain correlation
    peaks at wherever its phases line up, weighs as little as its band), and it is taken where the
    plain normalised correlation there is CHANNEL_LAG_MIN_CORRELATION or more."""
    import numpy as np

    n = len(data)
    most = max(1, min(int(CHANNEL_LAG_S * rate), n - 1))  # (a rate of 1e9 Hz given with 2 s of samples)
    m = min(n, max(int(CHANNEL_LAG_EXCERPT_S * rate), 2 * most))
    start = 0
    if m < n:
        # the loudest stretch of the reference channel, found on blocks (no per-sample cumsum)
        block = max(1, m // 16)
        ref_all = np.asarray(data[: n // block * block, top], dtype=np.float32).reshape(-1, block)
        energy = np.einsum("ij,ij->i", ref_all, ref_all, dtype=np.float64)
        run = np.convolve(energy, np.ones(16), mode="valid")
        start = min(int(np.argmax(run)) * block, n - m)

    def excerpt(c: int) -> np.ndarray:  # one channel at a time: 64 channels of 30 s at 48 kHz are 740 MB
        x = np.array(data[start:start + m, c], dtype=np.float64)  # (a copy: changed below)
        x -= x.mean()
        x[1:] -= _LAG_PREEMPHASIS * x[:-1].copy()
        x[0] *= 1 - _LAG_PREEMPHASIS
        return x

    size = 1 << int(np.ceil(np.log2(m + most)))
    r = excerpt(top)
    ref, ref_power = np.conj(np.fft.rfft(r, size)), float(np.dot(r, r))
    window = np.r_[0:most + 1, -most:0]  # lags 0..most, then -most..-1
    lags = [0] * data.shape[1]
    for c in range(data.shape[1]):
        x = excerpt(c)
        power = float(np.dot(x, x))
        if c == top or power == 0 or ref_power == 0:
            continue
        # phat[k]: over lags k (zero-padded past m + most: no wrap-around), x[t + k] against r[t]
        cross = ref * np.fft.rfft(x, size)
        magnitude = np.abs(cross)
        phat = np.fft.irfft(cross / np.maximum(magnitude, magnitude.max() * 1e-12), size)[window]
        lag = int(window[int(np.argmax(phat))])
        agree = np.dot(r[:m - lag], x[lag:]) if lag >= 0 else np.dot(r[-lag:], x[:m + lag])
        if agree / math.sqrt(power * ref_power) >= CHANNEL_LAG_MIN_CORRELATION:
            lags[c] = lag
    return lags if any(lags) else None


def constant_value(samples: np.ndarray) -> Optional[float]:
    """The one value every sample holds (digital silence: zeros, or a DC offset and nothing
    else, which the fbank removes), or None for audio that varies or is empty."""
    if samples.size == 0:
        return None
    low, high = samples.min(), samples.max()
    return float(low) if low == high else None


def audio_file_info(path: str) -> Tuple[int, int]:
    """``(frames, channels)`` of an audio file as libsndfile reads its header, opened as
    :func:`read_wav_source` opens it (no Mac resource fork beside it is looked at). OSError for a
    file that cannot be opened or is not a regular file, soundfile's errors (RuntimeError,
    ValueError) for one libsndfile does not read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path}: not a regular file")
        with _sound_file(_soundfile(), fd) as f:
            return f.frames, f.channels
    finally:
        os.close(fd)


def _refuse_nul_name(source: str, what: str) -> None:
    """A path or command with a NUL byte in it, named: os.open and subprocess raise ValueError
    ("embedded null byte"), a traceback."""
    if "\0" in source:
        raise AsrkitError(f"{what}: the name holds a NUL byte, which no file name or command can")


def check_wav_file(path: str, what: str) -> None:
    """The checks :func:`read_wav_source` makes of a file before decoding it (a WAV data chunk
    longer than the file, a sample layout that does not add up; a SPHERE, AU, AIFF, CAF or W64
    file holding fewer bytes than its header states, or an AU, AIFF or CAF one more, an OGG whose
    last page is not its end, a tagged MP3 shorter than its tag says, a FLAC whose last frame does
    not fit its STREAMINFO, two files joined with cat), from its headers and size (an OGG's pages
    and a FLAC's bytes are read through); an AsrkitError naming ``what``. Anything else passes
    (libsndfile judges it)."""
    _refuse_nul_name(path, what)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return
        check_container(_file_reader(fd, os.pread(fd, _HEADER_PREFIX, 0)), st.st_size, what, streamed=False)
    finally:
        os.close(fd)


def read_audio_bytes(data: bytes, what: str, streamed: bool = False, channel: Optional[int] = DOWNMIX,
                     max_samples: int = DEFAULT_MAX_SAMPLES, piped: Optional[bool] = None) -> Tuple[np.ndarray, int]:
    """Decode a whole audio file held in memory into ``(samples (N,) float32 int16-scale, rate)``.

    ``what`` names the source in errors (e.g. ``utterance 'a1' (a1.wav)``). ``streamed``: the
    bytes came from a pipe, so a WAV data size of 0 is the streaming marker, not "no samples".
    ``piped``: they are a wav.scp pipe entry's output (True), a file's (False), or unknown (None).
    """
    if len(data) == 0:
        raise AsrkitError(f"{what}: empty {'stream' if streamed else 'file'} (0 bytes)")
    facts = check_container(lambda offset, n: bytes(data[offset:offset + n]), len(data), what, streamed)
    riff = facts.riff
    if streamed and riff is not None and riff.declared == 0:
        # libsndfile reads a 0-size data chunk as empty; 0xFFFFFFFF makes it read to the end.
        data = bytearray(data)
        data[riff.size_field:riff.size_field + 4] = b"\xff\xff\xff\xff"
    return _decode(data, what, channel, max_samples, bytes(data[:4]), facts, piped=piped)


def _stream_cap(data: bytearray, what: str, max_samples: int, last_try: bool) -> Optional[int]:
    """Bytes a stream may hold once its header is known, or None to sniff again later."""
    sf = _soundfile()
    try:
        with _sound_file(sf, data) as f:
            subtype = f.subtype
    except Exception as e:
        # (a stream past the first probe never reaches read_audio_bytes' header check)
        unreadable = float_width_problem(lambda offset, n: bytes(data[offset:offset + n]), what)
        if unreadable is not None:
            raise unreadable from None
        if not last_try:
            return None
        fault = riff_refusal_reason(lambda offset, n: bytes(data[offset:offset + n]), None)
        if fault is not None:
            raise AsrkitError(f"{what}: malformed WAV: {fault}") from None
        raise AsrkitError(f"{what}: no recognisable audio header in the first {len(data)} bytes of the stream "
                          f"(starts with {bytes(data[:4])!r}; libsndfile: "
                          f"{str(getattr(e, 'error_string', '') or e).strip()})") from None
    return max(len(data), _PROBE_AT[-1]) + max_samples * _SAMPLE_BYTES.get(subtype, 4)


# The most bytes of metadata a stream may hold before its samples: the header sniff's 1 MiB
# refused a stream whose file reads (a field recorder's iXML before a WAV's data chunk, cover art
# in an MP3's ID3v2 tag or a FLAC's PICTURE block: a podcast read with 'curl ... |' or on stdin).
_STREAM_METADATA_LIMIT = 64 << 20


def _stream_header_wants(data: bytearray) -> Optional[int]:
    """How many bytes of a WAV (RIFF/RF64), AIFF, FLAC, OGG or ID3v2-tagged stream to hold for its header to
    be whole, with some samples after it, when its well-formed metadata runs past ``data``
    (within _STREAM_METADATA_LIMIT); else None."""
    riff = len(data) >= 12 and data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE"
    if riff or (len(data) >= 12 and data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC")):
        samples_id, sizes = (b"data", "<I") if riff else (b"SSND", ">I")
        pos = 12
        for _ in range(MAX_CHUNKS):
            if pos + 8 > len(data):
                return pos + 8 + _READ_CHUNK if pos <= _STREAM_METADATA_LIMIT else None
            if data[pos:pos + 4] == samples_id:
                return None  # (there: what libsndfile makes of it is the answer)
            size = struct.unpack_from(sizes, data, pos + 4)[0]
            pos += 8 + size + (size & 1)
        return None
    if len(data) >= 10 and data[:3] == b"ID3" and all(b < 0x80 for b in data[6:10]):
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        end = 10 + size + (10 if data[5] & 0x10 else 0)  # (a footer: 10 bytes more)
        return end + _READ_CHUNK if end <= _STREAM_METADATA_LIMIT else None
    if data[:4] == b"fLaC":
        pos = 4
        for _ in range(MAX_CHUNKS):
            if pos + 4 > len(data):
                return pos + 4 + _READ_CHUNK if pos <= _STREAM_METADATA_LIMIT else None
            last = data[pos] & 0x80
            pos += 4 + int.from_bytes(data[pos + 1:pos + 4], "big")
            if last:
                return pos + _READ_CHUNK if pos <= _STREAM_METADATA_LIMIT else None
        return None
    if data[:4] == b"OggS":  # (Vorbis comments holding cover art span pages before the first audio page)
        pos = 0
        for _ in range(MAX_CHUNKS * 2):
            if pos + 27 > len(data):
                return pos + 27 + _READ_CHUNK if pos <= _STREAM_METADATA_LIMIT else None
            if data[pos:pos + 4] != b"OggS" or struct.unpack_from("<q", data, pos + 6)[0] > 0:
                return None  # (audio reached, or not a page: what libsndfile makes of it is the answer)
            segments = data[pos + 26]
            if pos + 27 + segments > len(data):
                return pos + 27 + segments + _READ_CHUNK
            pos += 27 + segments + sum(data[pos + 27:pos + 27 + segments])
        return None
    return None


def _read_stream(stream: IO[bytes], what: str, max_samples: int) -> bytearray:
    """Read a non-seekable stream to its end, failing as soon as it is certainly not acceptable audio."""
    data = bytearray()
    cap: Optional[int] = None
    probes = list(_PROBE_AT)
    while True:
        chunk = stream.read(_READ_CHUNK)
        if not chunk:
            return data
        data += chunk
        if cap is None and len(data) >= probes[0]:
            wants = _stream_header_wants(data) if len(probes) == 1 else None
            if wants is not None and wants > len(data):
                probes = [wants]  # metadata running past the sniff: read on to the samples
                continue
            cap = _stream_cap(data, what, max_samples, last_try=len(probes) == 1)
            probes = probes[1:] or probes
        if cap is not None and len(data) > cap:
            raise AsrkitError(f"{what}: stream holds more than the limit of {max_samples} samples per read "
                              f"(stopped after {len(data)} bytes)")


def _read_pipe(cmd: str, what: str, max_samples: int) -> bytearray:
    # stdin from /dev/null: a command that reads it (ffmpeg without -nostdin, a stray 'cat |')
    # took the input of the shell loop around asrkit, or waited on a terminal.
    proc, err = start_pipe(cmd, what, stdin=subprocess.DEVNULL, bufsize=0)
    try:
        # (to the shell's exit, not to the end-of-file that a process it left in the background, 'cmd &'
        # or ssh's ControlPersist master, holds back: the whole WAV was read, then waited on for ever;
        # unbuffered, as proc.stdout is, so that a stream found to be no audio is refused at once)
        data = _read_stream(ended_with_shell(proc, buffered=False), what, max_samples)
    except BaseException:
        # Stop the command: closing our end gives its writers SIGPIPE, the kill stops the shell.
        proc.stdout.close()
        proc.kill()
        proc.wait()
        err.finish()
        raise
    proc.stdout.close()
    try:
        status = proc.wait()
    finally:
        detail = err.last_line()
    if status != 0:
        raise AsrkitError(f"{what}: command '{shown_name(cmd)}' exited with status {status}{detail}")
    return data


# Kaldi's rxfilename for standard input: a wav.scp line ``utt1 -`` reads that recording from stdin.
STDIN = "-"
# What stdin held, once read: (bytes, None) or (None, why it gave no audio). A segments file may
# cut several utterances from the recording on stdin, in any order, and stdin can be read once.
_stdin_read: Optional[Tuple[Optional[bytes], Optional[str]]] = None


def stdin_audio_bytes(max_samples: int) -> bytes:
    """The bytes on this process's stdin, read on the first call; an AsrkitError without the
    ``what`` prefix (the caller's) when stdin is closed, a terminal or empty. Public: wav_scp reads
    it before forking workers (:func:`asrkit.features.wav_scp.preload_stdin`)."""
    global _stdin_read
    if _stdin_read is None:
        _stdin_read = (None, "stdin is closed")
        if sys.stdin is not None:
            try:
                if os.isatty(0):
                    # Reading would wait for someone to type the audio in.
                    _stdin_read = (None, "stdin is a terminal, not audio; pipe the recording in "
                                         "(e.g. sox in.wav -t wav - | ...) or name its file in the wav.scp")
                else:
                    with open(0, "rb", buffering=0, closefd=False) as f:
                        data = _read_stream(f, "stdin", max_samples)
                    _stdin_read = (bytes(data), None) if data else (None, "no data on stdin (0 bytes read)")
            except AsrkitError as e:
                _stdin_read = (None, str(e))
            except OSError as e:
                _stdin_read = (None, f"stdin: cannot read: {e.strerror}")
    data, why = _stdin_read
    if data is None:
        raise AsrkitError(why)
    return data


def _stdin_piped() -> Optional[bool]:
    """Whether a pipe wrote stdin, as ``piped`` takes it: False where stdin is redirected from a
    regular file ('< p.flac'); None otherwise (a pipe from 'cat p.flac |' or from an encoder:
    either remedy may be the one)."""
    try:
        return False if stat.S_ISREG(os.fstat(0).st_mode) else None
    except OSError:
        return None


def read_wav_source(source: str, what: str, channel: Optional[int] = DOWNMIX,
                    max_samples: int = DEFAULT_MAX_SAMPLES, pipes: bool = True,
                    stdin: bool = False, span: Optional[Tuple[float, float]] = None) -> Tuple[np.ndarray, int]:
    """Read one wav.scp value, a file path or a shell command ending in ``|``, into
    ``(samples (N,) float32 int16-scale, sample_rate)``. ``what`` names it in errors.

    ``pipes=False``: ``source`` is a file name and nothing else (audio files given on a command
    line, a ``pathlib.Path``), so a name ending in ``|`` is opened as the file it names, never
    run: a file called ``x;rm -rf ~|`` in a directory a glob lists must not become a command.
    ``stdin``: the value ``-`` is the audio on stdin (read once, kept for later reads), as in
    Kaldi; only a table checked by :func:`asrkit.features.wav_scp.read_wav_scp` (one ``-`` at most,
    stdin not read as anything else) may say so, and elsewhere ``-`` is refused. ``span``: (start,
    end) seconds, the segment to return (:func:`segment_bounds`); an int16 WAV file is read only there.
    """
    samples, rate, cut = _read_wav_source(source, what, channel, max_samples, pipes, stdin, span)
    if span is None or cut:
        return samples, rate
    begin, stop = segment_bounds(len(samples), rate, span[0], span[1], what)
    return samples[begin:stop], rate


def _read_wav_source(source: str, what: str, channel: Optional[int], max_samples: int, pipes: bool,
                     stdin: bool, span: Optional[Tuple[float, float]]) -> Tuple[np.ndarray, int, bool]:
    """:func:`read_wav_source`'s reading: the samples, the rate and whether they are ``span``'s
    already (a regular file's are, :func:`_decode` cuts them)."""
    _refuse_nul_name(source, what)
    if pipes and source == STDIN:
        if not stdin:
            raise AsrkitError(f"{what}: '-' (the recording on stdin) is read by asrkit-compute-fbank, "
                              f"asrkit-decode --wav-scp and asrkit-align only; name the file here")
        try:
            data = stdin_audio_bytes(max_samples)
        except AsrkitError as e:
            raise AsrkitError(f"{what}: {e}") from None
        return (*read_audio_bytes(data, what, streamed=True, channel=channel, max_samples=max_samples,
                                  piped=_stdin_piped()), False)
    if pipes and source.endswith("|"):
        cmd = source[:-1].strip()
        data = _read_pipe(cmd, what, max_samples)
        if not data:
            raise AsrkitError(f"{what}: command '{shown_name(cmd)}' wrote no audio (0 bytes)")
        return (*read_audio_bytes(data, what, streamed=True, channel=channel, max_samples=max_samples,
                                  piped=True), False)
    if stdin_closed_problem(source):  # asrkit-decode - <&-: "no such file" otherwise
        raise AsrkitError(f"{what}: stdin is closed")
    try:
        # O_NONBLOCK: opening a named pipe nobody writes to would wait forever; opened this way
        # it reads as empty instead (a writer already waiting, as with `<(cmd)`, is read as usual).
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise AsrkitError(f"{what}: no such file{_archive_offset_hint(source)}") from None
    except OSError as e:
        raise AsrkitError(f"{what}: cannot read: {e.strerror}") from None
    # One open for everything: our look at the RIFF header (pread, so the offset stays at 0) and
    # libsndfile's decoding of the same descriptor.
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise AsrkitError(f"{what}: is a directory, not an audio file")
        if not stat.S_ISREG(st.st_mode):
            if os.isatty(fd):
                # (/dev/stdin or /dev/tty at a terminal: reading waited for someone to type the audio in,
                # where '-' is refused as such)
                raise AsrkitError(f"{what}: a terminal, not audio; pipe the recording in (e.g. sox in.wav -t wav - "
                                  f"| ...) or name its file")
            # A FIFO or a device (/dev/zero) has no size to check up front: read it as a stream.
            os.set_blocking(fd, True)
            with open(fd, "rb", buffering=0, closefd=False) as f:
                data = _read_stream(f, what, max_samples)
            if not data and names_stdin(source):
                # stdin is a pipe too, but not a named one waiting for a writer: its writer was
                # there and wrote nothing (true | asrkit-decode -), or it is /dev/null
                raise AsrkitError(f"{what}: no data on stdin (0 bytes read)")
            if not data and stat.S_ISFIFO(st.st_mode):
                raise AsrkitError(f"{what}: a named pipe with no writer (0 bytes read)")
            return (*read_audio_bytes(data, what, streamed=True, channel=channel, max_samples=max_samples), False)
        if st.st_size == 0:
            raise AsrkitError(f"{what}: empty file (0 bytes)")
        prefix = os.pread(fd, _HEADER_PREFIX, 0)
        facts = check_container(_file_reader(fd, prefix), st.st_size, what, streamed=False)
        return (*_decode(fd, what, channel, max_samples, prefix[:4], facts, span), span is not None)
    except OSError as e:
        raise AsrkitError(f"{what}: cannot read: {e.strerror}") from None
    finally:
        os.close(fd)


def _archive_offset_hint(source: str) -> str:
    """For a missing ``<file>:<offset>`` whose file is there: Kaldi's extended filename into an
    archive of WAVs (wav-copy's ark,scp output), which asrkit opens as a file of that whole name."""
    path, colon, offset = source.rpartition(":")
    if not (colon and offset.isdigit() and path and os.path.isfile(path)):
        return ""
    # Only where a WAV starts there (wav-copy writes '<key> RIFF...', the offset at RIFF): any other
    # file's name with ':12' after it (a typo, a time) is no archive.
    try:
        with open(path, "rb") as f:
            f.seek(int(offset))
            if f.read(4) != b"RIFF":
                return ""
    except (OSError, OverflowError, ValueError):
        return ""
    # (the wav.scp line as it is written, not wrapped in quotes of its own: it is pasted)
    return (f" ({path} is there: a Kaldi archive offset, which asrkit does not read; Kaldi reads it "
            f"with the wav.scp line: <utt> wav-copy {shlex.quote(source)} - |)")


def segment_bounds(n: int, rate: int, start: float, end: float, what: str) -> Tuple[int, int]:
    """The samples ``[begin, stop)`` of a segment from ``start`` to ``end`` seconds (-1: the end)
    of a recording of ``n`` samples, as Kaldi's extract-segments cuts it; an end a little past the
    recording (MAX_OVERSHOOT_S) is its end, further is an error, as is a segment with no samples."""
    # Compared as floats before any int(): a finite time such as 1e306 s is infinite in
    # samples, and int(inf) was an OverflowError traceback.
    stop_at = n if end == -1 else end * rate
    if stop_at > n:
        if stop_at - n > int(MAX_OVERSHOOT_S * rate):
            raise AsrkitError(f"{what}: segment ends at {end} s, past the recording ({n / rate:.3f} s)")
        stop_at = n
    stop = int(stop_at)
    begin = int(min(start * rate, n))
    if begin >= stop:
        raise AsrkitError(f"{what}: segment [{start}, {end}] s holds no samples (recording is {n / rate:.3f} s)")
    return begin, stop
