"""Reading the audio a ``wav.scp`` names: files, ``cmd |`` pipes, and ``segments`` cut from them.

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

**Channels.** ``channel=DOWNMIX`` (None, the default of the read functions) averages the channels;
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

**Truncation.** A WAV whose data chunk is shorter than its header says is an error, from a file
or a pipe alike; only the sizes a streaming writer puts in a header it cannot seek back to fix
(0 from a pipe, 0xFFFFFFFF, 0x7FFFF000, 0x7FFFFFFF) mean "the data runs to the end of the
stream"; a file's data size of 0 means no samples, and samples after it are an error saying so. A
data size smaller than the samples there are (bytes inside the RIFF after the data
chunk that are neither chunks nor zero padding) is an error as well, as is an AIFF's SSND
chunk, an AU header's or a CAF data chunk's (libsndfile reads no further than any of these).
FLAC that decodes to fewer frames than its STREAMINFO states is an error too, and so is
a NIST SPHERE, AU or CAF file or stream, or an AIFF or W64 file, holding fewer bytes of samples than
its header states (libsndfile reads all of these as the shorter audio that is there), and a FLAC
whose last frame ends past its STREAMINFO's count (libsndfile reads no further) or states
another sample rate than STREAMINFO's (libsndfile reads it at STREAMINFO's). An OGG's
pages are walked: one whose last whole page is not marked as the end of its stream was cut short,
and a page failing its CRC (which libsndfile skips, its samples missing from the middle) or bytes
where a page should start are corruption: all errors. An MP3 with a
Xing/Info/VBRI tag (LAME's files) holding fewer bytes, or decoding to fewer frames, than the tag
states is an error too. (An MP3 without such a tag and an AIFF or W64 stream state no usable
length: a cut-off one reads as the shorter audio it holds.) An MP3 whose frame headers hold more
than libsndfile's length (the tag's count, or its estimate), which it reads no further, is an
error. Two files joined with ``cat`` (WAV,
RF64, FLAC, OGG, tagged MP3, AU, CAF, SPHERE, W64) are an error naming where the second starts:
libsndfile read the first alone, or the second's header as samples. A shorten-compressed SPHERE file
(WSJ's) is refused with the sph2pipe line that reads it.

Kaldi's conventions are kept: a wav.scp value ending in ``|`` is run through ``/bin/sh`` and its
stdout read as audio (a plain file name, ``pipes=False``, never is); with ``segments`` the
utterance is ``samples[int(start * rate):int(end * rate)]`` of its recording, ``end == -1`` meaning to the end, and an end up to 0.5 s past the recording
(``extract-segments --max-overshoot``) is clipped rather than refused.

Every failure is an ``AsrkitError`` naming the utterance and its source. e.g.::

    >>> for entry in read_wav_scp("data/test/wav.scp"):          # doctest: +SKIP
    ...     samples, rate = entry.load()
    >>> samples, rate = read_wav_source("a.flac", "a.flac")       # doctest: +SKIP
    >>> samples = resample(samples, rate, 16000)                  # doctest: +SKIP
"""
from __future__ import annotations

import io
import math
import os
import stat
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from typing import IO, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from asrkit.data.datadir import parse_segment
from asrkit.data.table import iter_table_fast
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike, names_stdin, stdin_closed_problem
from asrkit.utils.pipes import start_pipe

DOWNMIX: Optional[int] = None  # channel=None: the mean of all channels
EXPECT_MONO = -1  # channel=-1: multi-channel audio is an error (Kaldi's --channel -1)
# channel="all": every channel, samples (frames, channels), for copies of a recording (speed
# perturbation) that keep its channels as sox's would; not an int, so no --channel value means it.
ALL_CHANNELS = "all"
DEFAULT_MAX_SAMPLES = 1 << 28
INT16_SCALE = 32768.0
# The largest float sample accepted, in full scales: real float audio overshoots +-1 only a little
# (a mix, a gain before a limiter); int16 values stored as floats reach hundreds or thousands.
FLOAT_PEAK_LIMIT = 16.0
MAX_OVERSHOOT_S = 0.5  # as Kaldi's extract-segments
# Below 4 kHz (2 kHz of bandwidth) most consonants are gone: a model hears mostly the mean in its
# upper mel bins and names digits or letters at random (AN4's model: "ONE ONE ONE" for a 1 kHz
# copy of "P O W E L O"). Audio this far below the rate it is brought to is refused, like any
# unreadable input, instead of a confident guess (a header's 1 Hz is corruption, not speech).
MIN_SAMPLE_RATE = 4000
# The highest sample rate read: 768 kHz is the top of what audio converters record; a larger
# rate in a header is corruption (or an attack on the resampler's memory), not speech.
MAX_SAMPLE_RATE = 768_000  # (also the most an fbank config may ask for: fbank.MAX_SAMPLE_FREQUENCY)


def resample_problem(num_samples: int, rate: int, target: int, max_samples: int, whose: str,
                     limit_hint: str = "") -> Optional[str]:
    """Why ``num_samples`` at ``rate`` cannot be brought to ``target`` Hz for recognition, or None:
    a copy over ``max_samples`` (the read was capped, its resampled copy must be too: a corrupt
    header's 1 Hz made seconds of audio hours, gigabytes), or a rate under :data:`MIN_SAMPLE_RATE`.
    ``whose`` names the target (``"the model's"``); the callers add the utterance and its source."""
    out_len = math.ceil(num_samples * target / rate)
    if out_len > max_samples:
        return (f"resampling {num_samples} samples from {rate} Hz to {target} Hz gives {out_len}, over the limit of "
                f"{max_samples} samples per read ({limit_hint}a corrupt sample rate in the header?)")
    return low_rate_problem(rate, target, whose)


def low_rate_problem(rate: int, target: int, whose: str) -> Optional[str]:
    """Why audio at ``rate`` is refused for a ``target`` Hz model or config (``whose`` names it), or
    None: under :data:`MIN_SAMPLE_RATE`, and under the target (a model of a lower rate is the
    user's choice)."""
    if rate < min(MIN_SAMPLE_RATE, target):
        return (f"sample rate {rate} Hz is too low to recognise speech (at least {MIN_SAMPLE_RATE} Hz; {whose} is "
                f"{target} Hz)")
    return None

# Streaming writers (sox, ffmpeg to a pipe) cannot seek back to fill in the sizes, so they
# write one of these as the data chunk size; the data then simply runs to the end of the stream.
# A file's 0 is taken at its word (no samples), and samples after it are an error: a pipe's 0 is
# the streaming marker.
_UNKNOWN_SIZES = {0, 0xFFFFFFFF, 0x7FFFF000, 0x7FFFFFFF}
# A stream must show a recognisable header within this many bytes; sniffing is tried at the
# first threshold and again at the second (FLAC and WAV may carry large metadata up front).
_PROBE_AT = (64 << 10, 1 << 20)
_READ_CHUNK = 1 << 16
# Bytes per sample of the stored data, to stop a stream once it is certainly over the limit;
# compressed formats never take more than 4.
_SAMPLE_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "ULAW": 1, "ALAW": 1, "PCM_16": 2, "PCM_24": 3, "DOUBLE": 8}
_FLOAT_SUBTYPES = {"FLOAT", "DOUBLE"}
_MAX_CHUNKS = 1000  # RIFF chunks walked before the data chunk (real files have a handful)
_HEADER_PREFIX = 4096  # bytes of a file read up front for the RIFF walk
# Subtypes libsndfile reads as int16 without loss (8-bit ones shifted left by 8: x * 256).
_INT16_SUBTYPES = {"PCM_16", "PCM_S8", "PCM_U8"}


def _soundfile():
    # Imported on first use: it loads libsndfile through cffi, and commands that never read
    # audio (or only print --help) should not pay for that.
    import soundfile

    return soundfile


# --------------------------------------------------------------------------------------------
# RIFF header facts libsndfile does not report: the data size the header states (libsndfile
# silently shortens a truncated file to what is there) and the format tag it could not read.

@dataclass
class _RiffData:
    size_field: int  # byte offset of the data chunk's 32-bit size
    offset: int  # byte offset of the first sample
    declared: int  # data size the header states (RF64: from ds64)
    format_tag: Optional[int]
    channels: Optional[int] = None
    block_align: Optional[int] = None
    bits: Optional[int] = None
    rate: Optional[int] = None
    subformat: Optional[int] = None  # WAVE_FORMAT_EXTENSIBLE's: the format tag its GUID starts with
    riff64: Optional[int] = None  # RF64: the RIFF size its ds64 chunk states


def _riff_data(read_at: Callable[[int, int], bytes]) -> Optional[_RiffData]:
    """Walk a RIFF/RF64 WAVE file's chunk headers to its ``data`` chunk; None if not a WAVE or no data.

    ``read_at(offset, n)`` returns up to ``n`` bytes at ``offset``.
    """
    head = read_at(0, 12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    pos, tag, ds64, layout, subformat, riff64 = 12, None, None, (None, None, None, None), None, None
    for _ in range(_MAX_CHUNKS):
        hdr = read_at(pos, 24)  # a chunk header and the first 16 bytes of its body
        if len(hdr) < 8:
            return None
        cid, size = hdr[:4], struct.unpack_from("<I", hdr, 4)[0]
        if cid == b"ds64" and len(hdr) >= 24:
            riff64, ds64 = struct.unpack_from("<QQ", hdr, 8)
        elif cid == b"fmt " and len(hdr) >= 10:
            tag = struct.unpack_from("<H", hdr, 8)[0]
            if len(hdr) >= 24 and size >= 16:
                channels, rate, _, block_align, bits = struct.unpack_from("<HIIHH", hdr, 10)
                layout = (channels, block_align, bits, rate)
            if tag == _EXTENSIBLE and size >= 40:
                sub = read_at(pos + 32, 2)  # the SubFormat GUID, 24 bytes into the chunk's body
                subformat = struct.unpack("<H", sub)[0] if len(sub) == 2 else None
        elif cid == b"data":
            declared = ds64 if head[:4] == b"RF64" and size == 0xFFFFFFFF and ds64 is not None else size
            return _RiffData(pos + 4, pos + 8, declared, tag, *layout, subformat,
                             riff64 if head[:4] == b"RF64" else None)
        pos += 8 + size + (size & 1)  # chunks are padded to even sizes
    return None  # a pathological chunk list: leave it to libsndfile


def _unpadded_chunk(read_at: Callable[[int, int], bytes]) -> Optional[Tuple[bytes, int, int]]:
    """``(id, byte offset, size)`` of the odd-sized chunk written without its pad byte, when a
    RIFF/WAVE file's ``data`` chunk is reached only by walking its chunks unpadded; else None."""
    head = read_at(0, 12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, odd = 12, None
    for _ in range(_MAX_CHUNKS):
        hdr = read_at(pos, 8)
        if len(hdr) < 8:
            return None
        cid, size = hdr[:4], struct.unpack_from("<I", hdr, 4)[0]
        if cid == b"data":
            return odd
        if size & 1 and odd is None:
            odd = (cid, pos, size)
        pos += 8 + size
    return None


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


# Format tags whose frames are plain samples (PCM, IEEE float, A-law, mu-law, WAVE_FORMAT_EXTENSIBLE),
# so the block align must be the channels times the bytes per sample; ADPCM and the like are not.
_SAMPLE_FORMAT_TAGS = {0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE}
_IEEE_FLOAT = 0x0003
_EXTENSIBLE = 0xFFFE
_FLOAT_BITS = (32, 64)  # the IEEE float widths libsndfile (and sox) decode


class UnsupportedAudio(AsrkitError):
    """A well-formed file in an encoding the reader cannot decode (a float WAV of 16 bits): not a
    damaged file, so asrkit-make-data-dir counts it under a reason of its own."""


class CompressedSphere(UnsupportedAudio):
    """A NIST SPHERE file compressed with shorten (WSJ's), which sph2pipe reads and libsndfile does not."""


def _float_width_problem(riff: Optional[_RiffData], what: str) -> Optional[UnsupportedAudio]:
    """The error for an IEEE float WAV of a width libsndfile does not decode, or None.

    libsndfile's word for a 16-bit (half precision) float WAV, as numpy or a GPU pipeline writes
    it, is "Unspecified internal error", which says nothing of what is wrong with the file."""
    if riff is None or riff.bits is None:
        return None
    tag = riff.subformat if riff.format_tag == _EXTENSIBLE else riff.format_tag
    if tag != _IEEE_FLOAT or riff.bits in _FLOAT_BITS:
        return None
    half = riff.bits == 16
    return UnsupportedAudio(f"{what}: {riff.bits}-bit float WAV{' (IEEE half precision)' if half else ''} is not "
                            f"supported: libsndfile and sox read float WAV of 32 or 64 bits only; write it again as "
                            f"16-bit PCM or 32-bit float WAV"
                            + (" (numpy reads its samples as dtype '<f2')" if half else ""))


def _check_wav_header(riff: Optional[_RiffData], total: int, what: str, streamed: bool,
                      read_at: Optional[Callable[[int, int], bytes]] = None) -> None:
    """A WAV header whose sample layout is inconsistent, or whose data chunk is longer than the
    ``total`` bytes there are, is an error naming ``what``; so is one whose data chunk is found
    only past an odd-sized chunk written without its pad byte (``read_at`` given)."""
    if riff is None:
        odd = _unpadded_chunk(read_at) if read_at is not None else None
        if odd is not None:
            # libsndfile's word for it is "No 'data' chunk marker": after the odd chunk it reads
            # one byte off and finds no chunk it knows.
            cid, pos, size = odd
            raise AsrkitError(f"{what}: malformed WAV: chunk {cid.decode('latin-1')!r} at byte {pos} has an odd size "
                              f"({size}) but no pad byte after it (RIFF pads chunks to even sizes), so the chunks "
                              f"after it cannot be found; the program that wrote it is at fault: write the file "
                              f"again without that chunk")
        return
    if riff.format_tag is None:
        # libsndfile's word for it is "No 'data' chunk marker", though the data chunk is there.
        raise AsrkitError(f"{what}: malformed WAV header: no 'fmt ' chunk before the 'data' chunk (missing, or "
                          f"written after the samples), so nothing says how to read them")
    # (libsndfile's reason for 0 Hz or one over 2**31: "Internal error : SF_INFO struct incomplete")
    if riff.rate == 0:
        raise AsrkitError(f"{what}: malformed WAV header: sample rate 0 Hz")
    if riff.rate is not None and riff.rate > MAX_SAMPLE_RATE:
        raise AsrkitError(f"{what}: sample rate {riff.rate} Hz in the header is over the {MAX_SAMPLE_RATE} Hz "
                          f"asrkit reads (a corrupt header?)")
    unreadable = _float_width_problem(riff, what)
    if unreadable is not None:
        raise unreadable
    if riff.format_tag in _SAMPLE_FORMAT_TAGS and riff.bits is not None and riff.channels:
        # As Kaldi's WaveInfo: libsndfile reads such a header by one of its two fields and decodes
        # the samples at the wrong width (noise, at twice the length), so it is refused here.
        expected = riff.channels * ((riff.bits + 7) // 8)
        if riff.bits == 0 or riff.block_align != expected:
            raise AsrkitError(f"{what}: malformed WAV header: block align {riff.block_align} for "
                              f"{riff.channels} channel(s) of {riff.bits} bits (expected {expected})")
    available = total - riff.offset
    unknown = riff.declared in _UNKNOWN_SIZES and (streamed or riff.declared != 0)
    if not unknown and riff.declared > available:
        kind = "stream" if streamed else "file"
        raise AsrkitError(f"{what}: truncated WAV {kind} (header promises {riff.declared} bytes of samples, "
                          f"{kind} has {max(available, 0)})")
    if not unknown and read_at is not None:
        _check_after_data(riff, total, what, read_at)


# Bytes after the data chunk, inside the RIFF's stated size, that are not chunks and not zeros
# are the samples a corrupt (too small) data size cut off: up to this many are taken for padding.
_TAIL_SLACK = 7
_ZERO_PAD_CHECKED = 1 << 16


def _check_after_data(riff: _RiffData, total: int, what: str, read_at: Callable[[int, int], bytes]) -> None:
    """A data chunk whose stated size is smaller than the samples there are is an error.

    libsndfile (and Kaldi) read the stated size and ignore the rest, so a header whose data size
    was damaged (to 1000 of 67,000 bytes) decodes to 31 ms of audio, and the utterance to empty
    text, without a word. What follows a real data chunk, up to the end the RIFF header states, is
    more chunks (LIST, id3, cue) or zero padding; anything else within the RIFF means its data
    size is wrong. Bytes past the RIFF's own end (appended to the file) are not judged.
    """
    head = read_at(0, 8)
    riff_size = struct.unpack_from("<I", head, 4)[0]
    if head[:4] == b"RF64" and riff.riff64 is not None and 4 <= riff.riff64 < 1 << 62 \
            and riff.declared not in _UNKNOWN_SIZES:
        riff_size = riff.riff64  # RF64 states its sizes in ds64 (a damaged data size there read 1000 of 64000)
    elif head[:4] != b"RIFF" or (riff_size in _UNKNOWN_SIZES and riff.declared != 0):
        return  # a streaming writer's placeholder states nothing
    # A file whose data size is 0 under a placeholder RIFF size was written by a streaming writer
    # that never came back to fill the sizes in: its samples, if any, run to the end of the file,
    # and read as "no samples" they were an empty recording (Kaldi reads them to the end).
    # So is one whose RIFF size ends where the samples start: the header a writer puts down before
    # its first sample (Python's wave module: RIFF 36, data 0) and never came back to, killed before
    # close(); its seconds of recording past that end were "empty audio (no samples)". (RIFF 8 is
    # libsndfile's own such header, which it reads to the end of the file, as a stream's.)
    header_only = riff.declared == 0 and riff_size != 8 and 8 + riff_size <= riff.offset
    end = total if riff_size in _UNKNOWN_SIZES or header_only else min(8 + riff_size, total)
    if riff_size not in _UNKNOWN_SIZES:
        after = read_at(8 + riff_size, 12)
        if after[:4] in (b"RIFF", b"RF64") and after[8:12] == b"WAVE":
            # (two WAVs joined with cat: libsndfile's reason was "No 'RIFF' chunk marker", for a
            # file that starts with one; sox and Kaldi read the first and drop the second)
            raise AsrkitError(f"{what}: another WAV file follows this one's end at byte {8 + riff_size} (files "
                              f"joined with cat?): WAV readers take only the first; join recordings with sox "
                              f"(sox a.wav b.wav out.wav)")
    tail, chunks = _bytes_past_samples(read_at, riff.offset + riff.declared, end, _RIFF_CHUNKS, riff.declared & 1)
    second = next((pos for cid, pos in chunks if cid == b"data"), None)
    if second is not None:
        # RIFF allows one data chunk. libsndfile decoded such a file (the first chunk of odd
        # size) to noise of half its length, exit 0; of even size it failed as "SF_INFO struct
        # incomplete"; sox and Kaldi read the first chunk and drop the rest without a word.
        raise AsrkitError(f"{what}: malformed WAV: a second 'data' chunk at byte {second} (a WAV holds one; "
                          f"readers take the first, or misread both), so part of the recording would be "
                          f"lost; write the file again with its samples in one data chunk")
    if not tail:
        return
    if riff.declared == 0:
        raise AsrkitError(f"{what}: the WAV header states no samples (data size 0, as a writer that cannot seek back "
                          f"leaves it), but {tail} bytes that are not chunks follow it; if they are the recording, "
                          f"rewrite the file (sox --ignore-length in.wav out.wav) or read it through a pipe "
                          f"('<utt> cat <file> |' in wav.scp reads to the end)")
    frame = (riff.block_align, riff.channels) if riff.format_tag in _SAMPLE_FORMAT_TAGS else None
    raise _samples_left_out(what, "WAV", "the data chunk", riff.declared, tail, frame, " inside the RIFF")


# How a container's chunks are laid out: the size after each 4-byte id, and the alignment of
# each chunk's start (RIFF and AIFF pad to even sizes, CAF not at all).
_RIFF_CHUNKS = (struct.Struct("<I"), 2)
_AIFF_CHUNKS = (struct.Struct(">I"), 2)
_CAF_CHUNKS = (struct.Struct(">q"), 1)  # (a size of -1: the chunk runs to the end of the file)


def _chunks_after(read_at: Callable[[int, int], bytes], pos: int, end: int,
                  layout: Tuple[struct.Struct, int] = _RIFF_CHUNKS) -> Optional[List[Tuple[bytes, int]]]:
    """``(id, byte offset)`` of the chunks (printable ids, laid out as ``layout``) running from
    ``pos`` to ``end``, a missing last pad byte, a few bytes of slack or a last chunk cut off
    allowed; None when what is there is not chunks."""
    sizes, align = layout
    chunks: List[Tuple[bytes, int]] = []
    for _ in range(_MAX_CHUNKS):
        if end - pos <= _TAIL_SLACK:
            return chunks
        hdr = read_at(pos, 4 + sizes.size)
        if len(hdr) < 4 + sizes.size or not all(0x20 <= b <= 0x7E for b in hdr[:4]):
            return None
        chunks.append((bytes(hdr[:4]), pos))
        size = sizes.unpack_from(hdr, 4)[0]
        if size < 0 or pos + len(hdr) + size > end:
            return chunks  # metadata cut off after the samples (which are whole), or running to the end
        pos += len(hdr) + size + (-size % align)
    return chunks  # a pathological chunk list: leave it to libsndfile


def _bytes_past_samples(read_at: Callable[[int, int], bytes], data_end: int, end: int,
                        layout: Optional[Tuple[struct.Struct, int]], pad: int) -> Tuple[int, List[Tuple[bytes, int]]]:
    """What follows the samples a header states, from ``data_end`` to ``end`` (where the container
    says it ends, or the file does): ``(0, chunks)`` when it is chunks laid out as ``layout``
    (:func:`_chunks_after`; None: no chunk may follow, as in AU), zero padding or a few bytes of
    slack; else ``(its size in bytes, [])``: samples a corrupt (too small) data size leaves out,
    which libsndfile (and Kaldi, and sox) never read. ``pad``: the pad byte after the samples
    that may be there or left out."""
    if end - data_end <= _TAIL_SLACK:
        return 0, []
    if layout is not None:
        for start in sorted({data_end + pad, data_end}, reverse=True):  # (either walk will do)
            chunks = _chunks_after(read_at, start, end, layout)
            if chunks is not None:
                return 0, chunks
    tail = end - data_end
    if tail <= _ZERO_PAD_CHECKED and not read_at(data_end, tail).strip(b"\0"):
        return 0, []
    return tail, []


def _samples_left_out(what: str, fmt: str, holder: str, declared: int, tail: int,
                      frame: Optional[Tuple[Optional[int], Optional[int]]], inside: str = "") -> AsrkitError:
    """The error for a header whose data size (``declared`` bytes, stated by ``holder``) leaves out
    the ``tail`` bytes after it; ``frame``: (bytes per frame, channels), where known, to say how
    many samples libsndfile would read and how many it would lose."""
    nbytes, channels = frame or (None, None)
    lost = ""
    if nbytes:
        kept = declared // nbytes
        per = " per channel" if channels and channels > 1 else ""
        lost = f": libsndfile would read only {kept} of its {kept + tail // nbytes} samples{per}"
    follow = "follow them" if holder == "the header" else "that are not chunks follow it"
    return AsrkitError(f"{what}: malformed {fmt} header: {holder} states {declared} bytes of samples, but {tail} "
                       f"more bytes {follow}{inside} (a corrupt data size?){lost}; write the file again")


# Other containers whose header states the length: libsndfile reads a truncated one as the
# shorter audio that is there, without a word (half a NIST SPHERE file, as AN4, WSJ or TIMIT ship
# them, decoded to half the samples, trained on with the whole transcript).
_SPHERE_COMPRESSED = ("shorten", "wavpack", "shortpack")
_W64_RIFF = bytes.fromhex("726966662e91cf11a5d628db04c10000")  # "riff" GUID
_W64_DATA = bytes.fromhex("64617461f3acd3118cd100c04f8edb8a")  # "data" GUID
_AU_UNKNOWN = 0xFFFFFFFF
_AU_SAMPLE_BYTES = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1}  # by encoding: mu-law, PCM 8-32, float, A-law
_AIFC_SAMPLE_BYTES = {b"fl32": 4, b"FL32": 4, b"fl64": 8, b"FL64": 8, b"ulaw": 1, b"ULAW": 1, b"alaw": 1, b"ALAW": 1}
_AIFC_PCM = (b"NONE", b"twos", b"sowt", b"raw ", b"in24", b"in32", b"42ni", b"23ni")  # (sample size: COMM's)
# Formats libsndfile reads no further than the data size their header states, the samples after
# it lost (SPHERE and W64: it reads to the end of the file whatever the header says).
_READ_TO_STATED_SIZE = ("AU", "AIFF", "CAF")


class _Stated(NamedTuple):
    """What a NIST SPHERE, AU, AIFF/AIFF-C, CAF or Wave64 header states of its samples."""

    fmt: str
    offset: int  # byte offset of the samples (AIFF, CAF: of the body of the chunk holding them)
    size: int  # their size in bytes as the header states (AIFF, CAF: the chunk body's)
    lead: int = 0  # bytes of ``size`` before the first sample (AIFF: offset and block size; CAF: edit count)
    frame: Optional[Tuple[Optional[int], Optional[int]]] = None  # (bytes per frame, channels), where fixed
    chunks: Optional[Tuple[struct.Struct, int]] = None  # the layout of chunks that may follow the samples
    end: Optional[int] = None  # where the container states it ends (AIFF's FORM); None: the file's end
    stream_sized: bool = True  # False: a streaming writer leaves a placeholder (sox's AIFF: 0x7f000008)


def _declared_samples(read_at: Callable[[int, int], bytes], streamed: bool) -> Optional[_Stated]:
    """What the header of a NIST SPHERE, AU, AIFF/AIFF-C, CAF or Wave64 file states of its samples
    (:class:`_Stated`); None for anything else or an unknown size. W64 only from files, and an
    AIFF stream's size only where it is smaller than the samples: a streaming writer leaves
    placeholders larger than any (sox: FORM 0x7f000050)."""
    head = read_at(0, 16)
    if head.startswith(b"NIST_1A\n"):
        try:
            size = int(head[8:16])
            fields = {}
            for line in read_at(16, max(0, min(size, 1 << 16) - 16)).split(b"\n"):
                parts = line.split(None, 2)
                if parts and parts[0] == b"end_head":
                    break
                if len(parts) == 3:
                    fields[parts[0].decode("ascii", "replace")] = parts[2].strip().decode("ascii", "replace")
            coding = fields.get("sample_coding", "pcm").lower()
            if any(c in coding for c in _SPHERE_COMPRESSED):
                return _Stated("SPHERE-compressed:" + coding, size, 0)
            count = int(fields["sample_count"])
            return _Stated("SPHERE", size,
                           count * int(fields.get("channel_count", 1)) * int(fields.get("sample_n_bytes", 2)))
        except (ValueError, KeyError):
            return None  # no sample_count (or an odd header): nothing stated to check against
    if head.startswith(b".snd") and len(head) >= 12:
        offset, size = struct.unpack_from(">II", head, 4)
        fields = read_at(12, 12)
        encoding, _, channels = struct.unpack(">III", fields) if len(fields) == 12 else (0, 0, 0)
        nbytes = _AU_SAMPLE_BYTES.get(encoding)
        return None if size == _AU_UNKNOWN else _Stated("AU", offset, size, 0, (nbytes and nbytes * channels, channels))
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        frame = None
        for cid, pos, size in _sized_chunks(read_at, 12, 4, _AIFF_CHUNKS[0], False, 2):
            if cid not in (b"COMM", b"SSND"):
                continue
            hdr = read_at(pos, 30)  # the chunk header and COMM's body (AIFF-C's compression type ends it)
            if cid == b"COMM" and len(hdr) >= 16:
                channels, _, bits = struct.unpack_from(">HIH", hdr, 8)
                kind = hdr[26:30] if head[8:12] == b"AIFC" else b"NONE"
                nbytes = (bits + 7) // 8 if kind in _AIFC_PCM else _AIFC_SAMPLE_BYTES.get(kind)
                frame = (nbytes and nbytes * channels, channels)
            if cid == b"SSND":
                if size == 0:
                    return None  # (ffmpeg's placeholder: libsndfile reads to the end)
                lead = 8 + struct.unpack_from(">I", hdr, 8)[0] if len(hdr) >= 12 else 8
                return _Stated("AIFF", pos + 8, size, lead, frame, _AIFF_CHUNKS,
                               8 + struct.unpack_from(">I", head, 4)[0], stream_sized=False)
        return None
    if head[:4] == b"caff":
        frame = None
        for cid, pos, size in _caf_chunks(read_at):
            if cid == b"desc":
                desc = read_at(pos, 44)  # the chunk header and the desc chunk's body
                if len(desc) >= 44:
                    per_packet, frames_per_packet, channels = struct.unpack_from(">III", desc, 28)
                    frame = (per_packet if frames_per_packet == 1 else None, channels)
            if cid == b"data":
                return None if size < 4 else _Stated("CAF", pos + 12, size, 4, frame, _CAF_CHUNKS)
        return None
    if streamed:
        return None
    if head == _W64_RIFF:
        for cid, pos, size in _w64_chunks(read_at):
            if cid == _W64_DATA:
                return _Stated("W64", pos + 24, max(size - 24, 0))
    return None


def _sized_chunks(read_at: Callable[[int, int], bytes], pos: int, id_len: int, sizes: struct.Struct,
                  header_counted: bool, align: int) -> Iterator[Tuple[bytes, int, int]]:
    """``(id, offset, size)`` of the chunks from byte ``pos`` on, in order: an id of ``id_len``
    bytes and a size (``sizes``; counting the chunk's header or not), chunks aligned to ``align``;
    a size too small for a chunk (CAF's -1: it runs to the end) or a header cut off ends them."""
    header = id_len + sizes.size
    for _ in range(_MAX_CHUNKS):
        hdr = read_at(pos, header)
        if len(hdr) < header:
            return
        size = sizes.unpack_from(hdr, id_len)[0]
        yield bytes(hdr[:id_len]), pos, size
        body = size - header if header_counted else size
        if body < 0:
            return
        pos += -(-(header + body) // align) * align


def _caf_chunks(read_at: Callable[[int, int], bytes]) -> Iterator[Tuple[bytes, int, int]]:
    """A CAF file's chunks: a 4-byte type and a signed 64-bit size of the body, unaligned."""
    return _sized_chunks(read_at, 8, 4, _CAF_CHUNKS[0], False, 1)


def _w64_chunks(read_at: Callable[[int, int], bytes]) -> Iterator[Tuple[bytes, int, int]]:
    """A W64 file's chunks: a 16-byte GUID and a 64-bit size counting the 24-byte header, 8-byte aligned."""
    return _sized_chunks(read_at, 40, 16, struct.Struct("<Q"), True, 8)


# An Ogg page: "OggS", version 0, flags (0x04: the last page of its stream), granule, serial,
# sequence, CRC, segment count, then that many lacing values and the body they add up to.
_OGG_EOS = 0x04
_OGG_BOS = 0x02  # the first page of its stream
# Pages walked at most (an hour of 16 kHz Vorbis is ~2,500): a file crafted of millions of empty
# pages is left to libsndfile and the sample limit rather than walked in Python.
_OGG_MAX_PAGES = 1_000_000


# Ogg's CRC-32 is zlib's polynomial taken MSB first, with no inversion: zlib's (LSB-first) CRC of
# the bit-reversed bytes, itself bit-reversed, with zlib's inversions undone.
_BIT_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _ogg_page_ok(page: bytes) -> bool:
    """Whether ``page`` (one whole page) carries the CRC it states (computed over the page with
    its CRC field zeroed)."""
    stated = struct.unpack_from("<I", page, 22)[0]
    crc = zlib.crc32((page[:22] + b"\0\0\0\0" + page[26:]).translate(_BIT_REVERSED), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{crc:032b}"[::-1], 2) == stated


def _check_ogg_pages(read_at: Callable[[int, int], bytes], total: int, what: str, streamed: bool) -> None:
    """Walk an Ogg file's or stream's pages: one cut off, or a last whole page not marked as its
    stream's end, is "truncated"; a page failing its CRC, or bytes where a page should start, is
    "corrupt"; a stream starting after the first one's pages (``cat a.ogg b.ogg``, or a chained
    OGG) is a second file. libsndfile read all of these as the shorter audio there was, without a word: OGG
    states no length up front, and a damaged page is skipped (its samples missing from the middle,
    and from libsndfile's frame count too)."""
    kind = "stream" if streamed else "file"

    def truncated(cut: int) -> AsrkitError:
        if last is None:
            return AsrkitError(f"{what}: truncated OGG {kind} (cut off in its first page)")
        tail = f", followed by {cut} bytes of a page cut off" if cut else ""
        return AsrkitError(f"{what}: truncated OGG {kind} (its last whole page, at byte {last}, is not the end of "
                           f"the stream{tail})")

    pos, ended, last, data_seen = 0, False, None, False
    for _ in range(_OGG_MAX_PAGES):
        if pos >= total:
            break
        head = read_at(pos, 27)
        if len(head) < 27 and b"OggS".startswith(head[:4]):
            raise truncated(total - pos)
        if head[:4] != b"OggS":
            if ended:
                return  # bytes after the end of the stream (a tag some tools append)
            raise AsrkitError(f"{what}: corrupt OGG data (no page starts at byte {pos}, where the one before ends)")
        lacing = read_at(pos + 27, head[26])
        end = pos + 27 + len(lacing) + sum(lacing)
        if len(lacing) < head[26] or end > total:
            raise truncated(total - pos)
        if head[4] != 0 or not _ogg_page_ok(read_at(pos, end - pos)):
            raise AsrkitError(f"{what}: corrupt OGG data (the page at byte {pos} fails its CRC check)")
        if head[5] & _OGG_BOS and data_seen:
            # A stream's first pages come before any other (Ogg's rule, a Skeleton track's too): one
            # after them starts a second recording, of which libsndfile reads nothing.
            raise _joined_error(what, "OGG", pos)
        data_seen = data_seen or not head[5] & _OGG_BOS
        ended, last, pos = bool(head[5] & _OGG_EOS), pos, end
    else:
        return
    if not ended:
        raise truncated(0)


def _id3_end(read_at: Callable[[int, int], bytes]) -> int:
    """The byte offset past an ID3v2 tag at the start (0 without one): an MP3's first frame."""
    head = read_at(0, 10)
    if head[:3] == b"ID3" and len(head) == 10:
        return 10 + ((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F))
    return 0


# MPEG audio frame headers: bit rates in kbit/s by (MPEG-1, layer), sample rates by version.
_MPEG_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frame(hdr: bytes) -> Optional[Tuple[int, int]]:
    """``(bytes, samples per channel)`` of the MPEG audio frame whose 4-byte header is ``hdr``, or
    None for anything else (a free-format frame included: it states no size)."""
    if len(hdr) < 4 or hdr[0] != 0xFF or hdr[1] & 0xE0 != 0xE0:
        return None
    version, layer = hdr[1] >> 3 & 3, 4 - (hdr[1] >> 1 & 3)  # layer bits 3, 2, 1: I, II, III
    index, rate_index, pad = hdr[2] >> 4, hdr[2] >> 2 & 3, hdr[2] >> 1 & 1
    if version == 1 or layer == 4 or index in (0, 15) or rate_index == 3:
        return None
    bitrate, rate = _MPEG_BITRATES[(version == 3, layer)][index] * 1000, _MPEG_RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + pad) * 4, 384
    samples = 1152 if layer == 2 or version == 3 else 576
    return samples // 8 * bitrate // rate + pad, samples


def _mpeg_samples(read_at: Callable[[int, int], bytes], pos: int, total: int) -> int:
    """Samples per channel of the run of MPEG audio frames from byte ``pos``, counted from their
    headers (nothing decoded) up to the first bytes that are not one (an ID3v1 tag, the end)."""
    count, buf, buf_at = 0, b"", pos
    while pos + 4 <= total:
        if pos + 4 > buf_at + len(buf):
            buf_at, buf = pos, read_at(pos, _SCAN_BLOCK)
        frame = _mpeg_frame(buf[pos - buf_at:pos - buf_at + 4])
        if frame is None:
            break
        pos, count = pos + frame[0], count + frame[1]
    return count


def _mp3_tag(read_at: Callable[[int, int], bytes]) -> Optional[Tuple[int, Optional[int], bool]]:
    """``(offset of the first frame, the stream's size in bytes as the tag states or None, whether
    it states the frame count)`` of an MP3 whose first frame (after any ID3v2 tag) is a Xing,
    Info or VBRI tag; None for anything else. Only such an MP3 states its length: for the others
    libsndfile estimates it from the file's size and the first frame's bit rate, and a shortfall
    proves nothing. A count of 0 is a placeholder (a writer that could not seek back) and is no
    statement."""
    offset = _id3_end(read_at)
    frame = read_at(offset, 64)
    if len(frame) < 64 or frame[0] != 0xFF or frame[1] & 0xE0 != 0xE0:
        return None
    # Xing/Info follow the side information (4-byte header + 9, 17 or 32 bytes, 2 more with a
    # CRC); VBRI sits 32 bytes after the header.
    for at in (13, 21, 36, 15, 23, 38):
        if frame[at:at + 4] in (b"Xing", b"Info") and len(frame) >= at + 16:
            flags, first, second = struct.unpack_from(">III", frame, at + 4)
            frames = first if flags & 1 else 0
            size = (second if flags & 1 else first) if flags & 2 else 0
            return offset, size or None, frames > 0
    if frame[36:40] == b"VBRI":
        size, frames = struct.unpack_from(">II", frame, 46)
        return offset, size or None, frames > 0
    return None


def _joined_error(what: str, fmt: str, pos: int) -> AsrkitError:
    return AsrkitError(f"{what}: another {fmt} file follows this one's end at byte {pos} (files joined with cat?): "
                       f"audio readers take the first alone (or read the second's header as samples); join "
                       f"recordings with sox or ffmpeg, not cat")


_FLAC_STREAMINFO = (b"fLaC\x00\x00\x00\x22", b"fLaC\x80\x00\x00\x22")  # the marker and STREAMINFO's block header
_SCAN_BLOCK = 1 << 20


def _crc_table(poly: int, bits: int) -> List[int]:
    top, mask = 1 << (bits - 1), (1 << bits) - 1
    table = []
    for byte in range(256):
        crc = byte << (bits - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ poly if crc & top else crc << 1) & mask
        table.append(crc)
    return table


_CRC8, _CRC16 = _crc_table(0x07, 8), _crc_table(0x8005, 16)  # FLAC's frame header and frame CRCs


def _flac_crc(data: bytes, table: List[int], bits: int) -> int:
    crc, shift, mask = 0, bits - 8, (1 << bits) - 1
    for b in data:
        crc = ((crc << 8) & mask) ^ table[(crc >> shift) ^ b]
    return crc


_FLAC_TAIL = 1 << 16  # bytes searched from the end for the last frame (a frame is rarely over 16 KiB)
# A frame header's sample rate by its 4-bit code (0: STREAMINFO's; 12-14: in the bytes after it)
_FLAC_RATES = {1: 88200, 2: 176400, 3: 192000, 4: 8000, 5: 16000, 6: 22050, 7: 24000, 8: 32000, 9: 44100,
               10: 48000, 11: 96000}


def _flac_last_frame(read_at: Callable[[int, int], bytes], total: int, fixed_block: int,
                     stated: Tuple[int, int]) -> Optional[Tuple[int, Optional[int]]]:
    """``(the sample a FLAC's frames end at, the sample rate its frames state or None)``, read from
    the header of its last frame: the one that runs to the end of the file with both its CRCs
    right, searched for back from the end; None when no such frame is found (an ID3 tag after the
    frames, a last frame over :data:`_FLAC_TAIL`). ``fixed_block``: STREAMINFO's block size, which
    a fixed-block stream's frame numbers count in. ``stated``: STREAMINFO's (samples, rate): a
    header that agrees with them exactly is taken on its CRC-8 alone, as the CRC-16 over the frame,
    in Python, was most of the check's cost (0.2 of 0.8 ms per 3 s AN4 FLAC)."""
    start = max(0, total - _FLAC_TAIL)
    tail = read_at(start, total - start)
    at, tries = len(tail), 0
    while tries < 4:
        at = tail.rfind(b"\xff", 0, at)
        if at < 0:
            return None
        head = tail[at:at + 16]
        if len(head) < 6 or head[1] not in (0xF8, 0xF9) or head[3] & 1:
            continue
        # the frame or sample number, coded as UTF-8 is (up to 7 bytes, 36 bits)
        ones = 0
        while ones < 8 and head[4] & (0x80 >> ones):
            ones += 1
        if ones in (1, 8) or (ones and any(c & 0xC0 != 0x80 for c in head[5:4 + ones])):
            continue
        n = max(ones, 1)
        number = head[4] & (0x7F >> ones)
        for c in head[5:4 + n]:
            number = number << 6 | c & 0x3F
        code, rate_code, pos = head[2] >> 4, head[2] & 0x0F, 4 + n
        if code == 0 or rate_code == 15:
            continue
        if code in (6, 7):  # the block size (less one) follows in 8 or 16 bits
            size = int.from_bytes(head[pos:pos + code - 5], "big") + 1
            pos += code - 5
        else:
            size = 192 if code == 1 else 576 << (code - 2) if code <= 5 else 256 << (code - 8)
        rate_bytes = head[pos:pos + {12: 1, 13: 2, 14: 2}.get(rate_code, 0)]
        pos += len(rate_bytes)
        rate = _FLAC_RATES.get(rate_code) or int.from_bytes(rate_bytes, "big") * {12: 1000, 14: 10}.get(rate_code, 1)
        if pos >= len(head) or _flac_crc(head[:pos], _CRC8, 8) != head[pos]:
            continue
        tries += 1  # (a header's CRC-8 holds by chance for 1 in 256 bytes: the frame's CRC-16 decides)
        end = (number if head[1] == 0xF9 else number * fixed_block) + size
        if (end, rate or stated[1]) == stated:
            return end, rate or None
        frame = tail[at:]
        if len(frame) > pos + 2 and _flac_crc(frame[:-2], _CRC16, 16) == int.from_bytes(frame[-2:], "big"):
            return end, rate or None
    return None


def _joined_at(read_at: Callable[[int, int], bytes], total: int, mp3: Optional[Tuple[int, Optional[int], bool]],
               found: Optional[_Stated]) -> Optional[Tuple[str, int]]:
    """``(format, byte offset)`` of a second FLAC, MP3, AU, CAF, SPHERE or W64 file that starts
    where this one's stated end is (``cat a.flac b.flac > c.flac``), else None (WAV and RF64:
    :func:`_check_after_data`). ``mp3`` and ``found``: what :func:`_mp3_tag` and
    :func:`_declared_samples` read of this file's header (the caller's, read once).

    libsndfile reads such a pair as the first recording alone, the second lost without a word
    (SPHERE and W64: the second's header read as samples, then its recording), as Kaldi's readers
    do. Only the other file's own header at the very spot counts, never a guess from sizes: a
    FLAC, whose frames state no length in bytes, is searched for a second marker with its
    STREAMINFO block header (8 bytes that compressed audio leaves to chance once in 2**64)."""
    head = read_at(0, 16)
    if head[:4] == b"fLaC":
        pos, keep = 4, len(_FLAC_STREAMINFO[0]) - 1
        while pos < total:
            block = read_at(pos, _SCAN_BLOCK + keep)
            found = [i for i in (block.find(m) for m in _FLAC_STREAMINFO) if i >= 0]
            if found:
                return "FLAC", pos + min(found)
            pos += _SCAN_BLOCK
        return None
    if mp3 is not None:
        offset, declared, _ = mp3
        end = offset + declared if declared is not None else total
        if end < total and (read_at(end, 3) == b"ID3" or _mp3_tag(lambda o, n: read_at(end + o, n)) is not None):
            return "MP3", end
        return None
    if head[:4] == b"caff":
        return next((("CAF", pos) for cid, pos, _ in _caf_chunks(read_at) if cid == b"caff"), None)
    if head == _W64_RIFF:
        return next((("W64", pos) for cid, pos, _ in _w64_chunks(read_at) if cid == _W64_RIFF), None)
    if found is not None and found.fmt in ("SPHERE", "AU"):  # (what a stream states too)
        magic = b"NIST_1A\n" if found.fmt == "SPHERE" else b".snd"
        if read_at(found.offset + found.size, len(magic)) == magic:
            return found.fmt, found.offset + found.size
    return None


def _check_declared_length(read_at: Callable[[int, int], bytes], total: int, what: str,
                           streamed: bool) -> Tuple[bool, Optional[int]]:
    """A SPHERE, AU, AIFF, CAF or W64 file (or SPHERE, AU or CAF stream) with fewer bytes of
    samples than its header states, an AU, AIFF or CAF one with more (:func:`_bytes_past_samples`),
    a FLAC whose last frame does not fit its STREAMINFO (its count or its rate), an OGG with a
    page cut off or damaged (:func:`_check_ogg_pages`), or an MP3 holding fewer bytes than its
    Xing/Info/VBRI tag states, is an error naming ``what``, as a truncated WAV is. So is another
    file of the format after this one's end (:func:`_joined_at`). Returns whether the audio is an
    MP3 whose tag states its frame count, and for an MP3 the samples per channel its frame headers
    add up to (:func:`_decode`'s ``mp3_counted`` and ``mp3_walked``: the tag is read here once)."""
    if read_at(0, 4) == b"OggS":
        _check_ogg_pages(read_at, total, what, streamed)
        return False, None
    mp3 = _mp3_tag(read_at)
    found = _declared_samples(read_at, streamed)
    joined = _joined_at(read_at, total, mp3, found)
    if joined is not None:
        raise _joined_error(what, *joined)
    info = read_at(0, 26)
    if info[:5] in (b"fLaC\x00", b"fLaC\x80") and len(info) == 26:
        # libsndfile reads no further than STREAMINFO's count (a count damaged to half read half),
        # and at STREAMINFO's rate whatever the frames state (8000 Hz over 16 kHz frames: half speed).
        word = int.from_bytes(info[18:26], "big")
        stated, rate = word & ((1 << 36) - 1), word >> 44
        last = _flac_last_frame(read_at, total, int.from_bytes(info[8:10], "big"), (stated, rate)) if stated else None
        if last is not None and last[0] > stated:
            raise AsrkitError(f"{what}: FLAC whose STREAMINFO states {stated} samples, but its frames run to sample "
                              f"{last[0]} (a damaged header?): libsndfile would read only the first {stated}; encode "
                              f"it again from its source")
        if last is not None and last[1] is not None and last[1] != rate:
            raise AsrkitError(f"{what}: FLAC whose STREAMINFO states a sample rate of {rate} Hz, but its frames state "
                              f"{last[1]} Hz (a damaged header?): libsndfile would read it at {rate} Hz; encode it "
                              f"again from its source")
    if mp3 is not None:
        # Checked before libsndfile opens it, which also keeps mpg123's own line off stderr
        # ("Warning: Xing stream size off by more than 1%, ...").
        offset, declared, counted = mp3
        if declared is not None and declared > total - offset:
            kind = "stream" if streamed else "file"
            raise AsrkitError(f"{what}: truncated MP3 {kind} (header promises {declared} bytes, {kind} has "
                              f"{total - offset})")
        tag = _mpeg_frame(read_at(offset, 4))  # (the tag's own frame holds no audio)
        return counted, _mpeg_samples(read_at, offset + tag[0], total) if tag is not None else None
    first = _id3_end(read_at)
    if _mpeg_frame(read_at(first, 4)) is not None:
        return False, _mpeg_samples(read_at, first, total)
    if found is None:
        return False, None
    fmt, offset, declared = found.fmt, found.offset, found.size
    if fmt.startswith("SPHERE-compressed:"):
        raise CompressedSphere(f"{what}: NIST SPHERE compressed with {fmt.split(':', 1)[1]!r}, which libsndfile does not "
                          f"read; decompress it in wav.scp with Kaldi's sph2pipe: 'sph2pipe -f wav <file> |'")
    available = total - offset
    if declared > available:
        if streamed and not found.stream_sized:
            return False, None
        kind = "stream" if streamed else "file"
        raise AsrkitError(f"{what}: truncated {fmt} {kind} (header promises {declared} bytes of samples, "
                          f"{kind} has {max(available, 0)})")
    if fmt in _READ_TO_STATED_SIZE:
        # libsndfile reads no further than the stated size, as it does a WAV's (_check_after_data)
        end = total if found.end is None else min(found.end, total)
        tail, _ = _bytes_past_samples(read_at, offset + declared, end, found.chunks, declared & 1)
        if tail:
            holder = {"AU": "the header", "AIFF": "the SSND chunk", "CAF": "the data chunk"}[fmt]
            raise _samples_left_out(what, fmt, holder, declared - found.lead, tail, found.frame,
                                    " inside the FORM" if fmt == "AIFF" else "")
    return False, None


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


def _libsndfile_error(e: Exception, what: str, head: bytes, riff: Optional[_RiffData]) -> AsrkitError:
    reason = str(getattr(e, "error_string", "") or e).strip()
    if "Format not recognised" in reason or "Format not recognized" in reason:
        return AsrkitError(f"{what}: not a recognised audio file (starts with {head[:4]!r}); "
                           f"libsndfile reads WAV, FLAC, OGG/Vorbis/Opus, MP3 and more, convert anything "
                           f"else in wav.scp, e.g. 'ffmpeg -nostdin -i x.m4a -f wav - |'")
    tag = f", WAV format tag 0x{riff.format_tag:04x}" if riff is not None and riff.format_tag is not None else ""
    return AsrkitError(f"{what}: unsupported or corrupt audio{tag} (libsndfile: {reason})")


_SF_COUNT_MAX = 2 ** 63 - 1  # the frame count libsndfile gives audio of unknown length
# Samples an MP3's frames may hold past libsndfile's length: the encoder's delay and padding,
# which a LAME tag has decoders trim (up to 2,256 measured), and an estimate's last frame.
_MP3_SLACK = 4 * 1152


def _decode(source, what: str, channel: Optional[int], max_samples: int, head: bytes,
            riff: Optional[_RiffData], mp3_counted: bool = False, mp3_walked: Optional[int] = None,
            span: Optional[Tuple[float, float]] = None) -> Tuple[np.ndarray, int]:
    """Open ``source`` (a regular file's descriptor at offset 0, or bytes) with libsndfile and return
    int16-scale samples; the checks come before any sample is read. ``mp3_counted``: an MP3's
    frame count is its header's (:func:`_mp3_tag`), not an estimate; ``mp3_walked``: the samples
    per channel an MP3's frame headers add up to. ``span``: (start, end)
    seconds, the segment to return; an int16 WAV (whose length the header checks vouch for, with
    no float or decoding checks to run over the rest) is read only there."""
    import numpy as np

    sf = _soundfile()
    try:
        f = _sound_file(sf, source)
    except sf.LibsndfileError as e:
        raise _libsndfile_error(e, what, head, riff) from None
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
            raise AsrkitError(f"{what}: {desc} audio whose header gives no length (a FLAC written to a pipe says 0 "
                              f"samples), which asrkit cannot read: convert it (sox in.flac out.wav), or read it "
                              f"through a pipe in a wav.scp ('<utt> sox <file> -t wav - |')")
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
        samples = downmix(data, what)
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


def downmix(data: np.ndarray, what: str) -> np.ndarray:
    """The mean of the channels of ``data`` (frames, channels) as float32 (frames,).

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
    return mix


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
        prefix = os.pread(fd, _HEADER_PREFIX, 0)
        read_at = _file_reader(fd, prefix)
        _check_wav_header(_riff_data(read_at), st.st_size, what, streamed=False, read_at=read_at)
        _check_declared_length(read_at, st.st_size, what, streamed=False)
    finally:
        os.close(fd)


def _header_rewritten_in_stream(read_at: Callable[[int, int], bytes]) -> Optional[str]:
    """"W64" or "CAF" where a stream's samples start with its own format's header again (what sox
    writes to a pipe for these formats), else None. Two files joined with cat have the second
    header after the first's samples, not at their start."""
    head = read_at(0, 16)
    if head == _W64_RIFF:
        first = read_at(0, 1 << 16).find(_W64_DATA, 16)
        return "W64" if first != -1 and read_at(first + 24, 16) == _W64_RIFF else None
    if head[:4] == b"caff":
        # (the data chunk's body starts with a 4-byte edit count, then the samples)
        start = next((pos + 12 + 4 for cid, pos, _ in _caf_chunks(read_at) if cid == b"data"), None)
        return "CAF" if start is not None and read_at(start, 4) == b"caff" else None
    return None


def read_audio_bytes(data: bytes, what: str, streamed: bool = False, channel: Optional[int] = DOWNMIX,
                     max_samples: int = DEFAULT_MAX_SAMPLES) -> Tuple[np.ndarray, int]:
    """Decode a whole audio file held in memory into ``(samples (N,) float32 int16-scale, rate)``.

    ``what`` names the source in errors (e.g. ``utterance 'a1' (a1.wav)``). ``streamed``: the
    bytes came from a pipe, so a WAV data size of 0 is the streaming marker, not "no samples".
    """
    if len(data) == 0:
        raise AsrkitError(f"{what}: empty {'stream' if streamed else 'file'} (0 bytes)")
    read_at = lambda offset, n: bytes(data[offset:offset + n])  # noqa: E731
    rewritten = _header_rewritten_in_stream(read_at) if streamed else None
    if rewritten:
        # sox cannot seek back in a pipe to fill in W64's or CAF's sizes: it writes the header
        # again where the samples start and at the end, which libsndfile read as samples (W64: 52
        # of noise at each end, no error; CAF: "another CAF file follows", blaming cat). (Another
        # file after this one's samples is "joined with cat", below.)
        raise AsrkitError(f"{what}: a {rewritten} stream with its header written again inside it (as sox writes "
                          f"{rewritten} to a pipe, where it cannot seek back): its copies would be read as samples; "
                          f"write '-t wav' to the pipe instead")
    riff = _riff_data(read_at)
    _check_wav_header(riff, len(data), what, streamed, read_at)
    mp3_counted, mp3_walked = _check_declared_length(read_at, len(data), what, streamed)
    if streamed and riff is not None and riff.declared == 0:
        # libsndfile reads a 0-size data chunk as empty; 0xFFFFFFFF makes it read to the end.
        data = bytearray(data)
        data[riff.size_field:riff.size_field + 4] = b"\xff\xff\xff\xff"
    return _decode(data, what, channel, max_samples, bytes(data[:4]), riff, mp3_counted, mp3_walked)


def _stream_cap(data: bytearray, what: str, max_samples: int, last_try: bool) -> Optional[int]:
    """Bytes a stream may hold once its header is known, or None to sniff again later."""
    sf = _soundfile()
    try:
        with _sound_file(sf, data) as f:
            subtype = f.subtype
    except Exception as e:
        # (a stream past the first probe never reaches read_audio_bytes' header check)
        unreadable = _float_width_problem(_riff_data(lambda offset, n: bytes(data[offset:offset + n])), what)
        if unreadable is not None:
            raise unreadable from None
        if not last_try:
            return None
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
        for _ in range(_MAX_CHUNKS):
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
        for _ in range(_MAX_CHUNKS):
            if pos + 4 > len(data):
                return pos + 4 + _READ_CHUNK if pos <= _STREAM_METADATA_LIMIT else None
            last = data[pos] & 0x80
            pos += 4 + int.from_bytes(data[pos + 1:pos + 4], "big")
            if last:
                return pos + _READ_CHUNK if pos <= _STREAM_METADATA_LIMIT else None
        return None
    if data[:4] == b"OggS":  # (Vorbis comments holding cover art span pages before the first audio page)
        pos = 0
        for _ in range(_MAX_CHUNKS * 2):
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
    proc, err = start_pipe(cmd, stdin=subprocess.DEVNULL, bufsize=0)
    try:
        data = _read_stream(proc.stdout, what, max_samples)
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
        raise AsrkitError(f"{what}: command '{cmd}' exited with status {status}{detail}")
    return data


# Kaldi's rxfilename for standard input: a wav.scp line ``utt1 -`` reads that recording from stdin.
STDIN = "-"
# What stdin held, once read: (bytes, None) or (None, why it gave no audio). A segments file may
# cut several utterances from the recording on stdin, in any order, and stdin can be read once.
_stdin_read: Optional[Tuple[Optional[bytes], Optional[str]]] = None


def _stdin_bytes(max_samples: int) -> bytes:
    """The bytes on this process's stdin, read on the first call; an AsrkitError without the
    ``what`` prefix (the caller's) when stdin is closed, a terminal or empty."""
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


def preload_stdin(entries: Sequence["WavEntry"]) -> None:
    """Read stdin now when one of ``entries`` is ``-``: forked workers (compute-fbank --nj) get
    /dev/null as their stdin (multiprocessing's doing), and two reading it would split the
    stream between them. The result, audio or the reason there is none, is theirs by the fork."""
    if any(e.source == STDIN for e in entries):
        try:
            _stdin_bytes(entries[0].max_samples)
        except AsrkitError:
            pass  # kept, and given to each utterance of the recording when it is read


def read_wav_source(source: str, what: str, channel: Optional[int] = DOWNMIX,
                    max_samples: int = DEFAULT_MAX_SAMPLES, pipes: bool = True,
                    stdin: bool = False, span: Optional[Tuple[float, float]] = None) -> Tuple[np.ndarray, int]:
    """Read one wav.scp value, a file path or a shell command ending in ``|``, into
    ``(samples (N,) float32 int16-scale, sample_rate)``. ``what`` names it in errors.

    ``pipes=False``: ``source`` is a file name and nothing else (audio files given on a command
    line, a ``pathlib.Path``), so a name ending in ``|`` is opened as the file it names, never
    run: a file called ``x;rm -rf ~|`` in a directory a glob lists must not become a command.
    ``stdin``: the value ``-`` is the audio on stdin (read once, kept for later reads), as in
    Kaldi; only a table checked by :func:`read_wav_scp` (one ``-`` at most, stdin not read
    as anything else) may say so, and elsewhere ``-`` is refused. ``span``: (start, end) seconds,
    the segment to return (:func:`segment_bounds`); an int16 WAV file is read only there.
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
            data = _stdin_bytes(max_samples)
        except AsrkitError as e:
            raise AsrkitError(f"{what}: {e}") from None
        return (*read_audio_bytes(data, what, streamed=True, channel=channel, max_samples=max_samples), False)
    if pipes and source.endswith("|"):
        cmd = source[:-1].strip()
        data = _read_pipe(cmd, what, max_samples)
        if not data:
            raise AsrkitError(f"{what}: command '{cmd}' wrote no audio (0 bytes)")
        return (*read_audio_bytes(data, what, streamed=True, channel=channel, max_samples=max_samples), False)
    if stdin_closed_problem(source):  # asrkit-decode - <&-: "no such file" otherwise
        raise AsrkitError(f"{what}: stdin is closed")
    try:
        # O_NONBLOCK: opening a named pipe nobody writes to would wait forever; opened this way
        # it reads as empty instead (a writer already waiting, as with `<(cmd)`, is read as usual).
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise AsrkitError(f"{what}: no such file") from None
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
        read_at = _file_reader(fd, prefix)
        riff = _riff_data(read_at)
        _check_wav_header(riff, st.st_size, what, streamed=False, read_at=read_at)
        mp3_counted, mp3_walked = _check_declared_length(read_at, st.st_size, what, streamed=False)
        return (*_decode(fd, what, channel, max_samples, prefix[:4], riff, mp3_counted, mp3_walked, span),
                span is not None)
    except OSError as e:
        raise AsrkitError(f"{what}: cannot read: {e.strerror}") from None
    finally:
        os.close(fd)


# torchaudio's resampler builds one filter per output phase: target/g filters of about rate/g taps
# (g = gcd(rate, target)). For a rate sharing little with the target that is enormous (44101 Hz to
# 16 kHz: 16000 filters of 44135 taps, 12 GB and 90 s for one second of audio), so past this many
# filter elements the same windowed sinc is evaluated per output sample instead.
_RESAMPLE_KERNEL_LIMIT = 1 << 22
_LOWPASS_ZEROS, _ROLLOFF = 6, 0.99  # torchaudio.functional.resample's defaults
# Input samples resampled at a time (with the filter's reach either side): in one call
# torchaudio's resampler peaked at ~45 bytes per input sample, 2.6 GB for an hour of 16 kHz audio
# and ~12 GB for the 2**28 samples --max-samples lets through, where the samples are 1 GB.
_RESAMPLE_BLOCK = 1 << 22


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """``samples`` (N,) at ``rate`` -> (M,) float32 at ``target_rate``, with torchaudio's
    band-limited sinc interpolation (``torchaudio.functional.resample`` defaults)."""
    rate, target_rate = int(rate), int(target_rate)
    if rate == target_rate:
        return samples
    if rate < 1 or target_rate < 1:
        raise AsrkitError(f"cannot resample from {rate} Hz to {target_rate} Hz")
    g = math.gcd(rate, target_rate)
    orig, new = rate // g, target_rate // g
    width = math.ceil(_LOWPASS_ZEROS * orig / (min(orig, new) * _ROLLOFF))
    if new * (orig + 2 * width) > _RESAMPLE_KERNEL_LIMIT:
        return _resample_per_sample(samples, rate, target_rate)
    import numpy as np
    import torch
    import torchaudio.functional as taf

    wave = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    n = len(wave)
    # Blocks of whole filter periods (orig input samples give new outputs), each with the
    # filter's reach (width) of real samples either side: the outputs kept from a block are
    # computed from the very samples the whole-signal call would use, and the signal's own
    # edges get torchaudio's zero padding as before.
    step = max(1, _RESAMPLE_BLOCK // orig) * orig
    reach = -(-width // orig) * orig
    with torch.no_grad():
        if n <= step + 2 * reach:
            return taf.resample(wave, rate, target_rate).numpy()
        out = []
        for begin in range(0, n, step):
            end = min(begin + step, n)
            lo, hi = max(0, begin - reach), min(n, end + reach)
            piece = taf.resample(wave[lo:hi], rate, target_rate)
            first = (begin - lo) // orig * new
            out.append(piece[first:] if end == n else piece[first:first + (end - begin) // orig * new])
        return torch.cat(out).numpy()


def _resample_per_sample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """torchaudio's Hann-windowed sinc, evaluated at each output sample's own position: memory
    and time grow with the taps per output sample, not with the rates' lowest common multiple."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float64)
    n = len(x)
    out_len = math.ceil(target_rate * n / rate)
    base = min(rate, target_rate) * _ROLLOFF
    half = _LOWPASS_ZEROS * rate / base  # input samples either side with non-zero weight
    taps = int(2 * half) + 2
    chunk = max(1, (1 << 20) // taps)
    out = np.empty(out_len, dtype=np.float32)
    for start in range(0, out_len, chunk):
        j = np.arange(start, min(start + chunk, out_len), dtype=np.float64)
        centre = j * rate / target_rate
        first = np.ceil(centre - half).astype(np.int64)
        p = first[:, None] + np.arange(taps)[None, :]
        t = np.clip((p - centre[:, None]) * (base / rate), -_LOWPASS_ZEROS, _LOWPASS_ZEROS)
        window = np.cos(t * (math.pi / _LOWPASS_ZEROS / 2)) ** 2
        weights = np.sinc(t) * window * (base / rate)
        inside = (p >= 0) & (p < n)
        values = np.where(inside, x[np.clip(p, 0, max(n - 1, 0))], 0.0)
        out[start:start + len(j)] = (values * weights).sum(axis=1)
    return out


def speed_perturb(samples: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """``samples`` played ``factor`` times as fast (tempo and pitch), ``len / factor`` samples long."""
    if factor == 1.0:
        return samples
    # Read as if recorded at rate * factor, resampled back to rate (sox's "speed" does the same).
    src = int(round(rate * factor))
    g = math.gcd(src, int(rate))
    return resample(samples, src // g, int(rate) // g)


# --------------------------------------------------------------------------------------------
# wav.scp tables and segments

@dataclass(frozen=True)
class WavEntry:
    """One utterance to read: a whole wav.scp entry, or a segment of one."""

    utt_id: str
    source: str  # path or "cmd |"
    where: str  # the table line that named it, for messages: "data/x/wav.scp:12"
    reco_id: str = ""
    start: float = 0.0
    end: float = -1.0  # -1: to the end of the recording
    channel: Optional[int] = DOWNMIX
    max_samples: int = DEFAULT_MAX_SAMPLES

    @property
    def what(self) -> str:
        return f"utterance {self.utt_id!r} ({self.where}: {self.source})"

    def read_recording(self, what: Optional[str] = None) -> Tuple[np.ndarray, int]:
        # (a "-" entry got here through read_wav_scp's checks, or a caller's that refuses it)
        return read_wav_source(self.source, what or self.what, self.channel, self.max_samples, stdin=True)

    def load(self, recording: Optional[Tuple[np.ndarray, int]] = None) -> Tuple[np.ndarray, int]:
        """``(samples (N,) float32 int16-scale, sample_rate)``; raises AsrkitError naming the utterance.

        ``recording`` is the already-read whole recording, so consecutive segments of one
        recording are cut from a single read.
        """
        if recording is None and self.reco_id:
            # Only the segment's samples are read where the file allows (int16 WAV): each segment of
            # an hour-long recording read the whole of it, 138 ms for 2 s of 8 kHz audio, so a
            # training epoch from audio spent hours re-reading recordings.
            return read_wav_source(self.source, self.what, self.channel, self.max_samples, stdin=True,
                                   span=(self.start, self.end))
        samples, rate = recording if recording is not None else self.read_recording()
        if not self.reco_id:
            return samples, rate
        begin, stop = segment_bounds(len(samples), rate, self.start, self.end, self.what)
        return samples[begin:stop], rate


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


def scp_path_or_none(wav_rspecifier: str) -> Optional[str]:
    """:func:`_scp_path`, or None for what it refuses (its error comes when the table is read)."""
    try:
        return _scp_path(wav_rspecifier)
    except AsrkitError:
        return None


def _scp_path(wav_rspecifier: str) -> str:
    """The wav.scp path from ``scp:path`` (Kaldi's form) or a bare path."""
    spec = wav_rspecifier
    if ":" in spec and spec.split(":", 1)[0].replace(",", "").isalpha():
        opts, path = spec.split(":", 1)
        kinds = [o for o in opts.split(",") if o in ("scp", "ark")]
        if kinds != ["scp"]:
            raise AsrkitError(f"bad wav rspecifier {spec!r}: asrkit reads audio from a wav.scp, "
                              f"e.g. scp:data/test/wav.scp")
        spec = path
    if spec in ("", "-"):
        raise AsrkitError(f"bad wav rspecifier {wav_rspecifier!r}: give a wav.scp file, e.g. scp:data/test/wav.scp")
    if spec.rstrip().endswith("|"):
        # Kaldi's "scp:cmd |" would otherwise be "cmd |: no such file", as if it were a file name.
        raise AsrkitError(f"bad wav rspecifier {wav_rspecifier!r}: a wav.scp made by a command is not read here; "
                          "write it to a file first (cmd > wav.scp), then give scp:wav.scp")
    return spec


def read_wav_scp(wav_rspecifier: str, segments: Optional[PathLike] = None, channel: Optional[int] = DOWNMIX,
                 max_samples: int = DEFAULT_MAX_SAMPLES, stdin_taken: Optional[str] = None,
                 stdin_refused: Optional[str] = None) -> List[WavEntry]:
    """The utterances a wav.scp (and optional segments file) describes, in file order.

    Malformed lines and duplicate ids are errors naming ``file:line``, raised before any audio
    is read: a broken table is the user's to fix, not something to skip. ``channel`` and
    ``max_samples`` apply to every entry (see the module docstring).

    A recording ``-`` is read from stdin, as in Kaldi. One such line at most, and not when stdin
    is read as something else: the wav.scp or segments file itself, or the caller's input that
    ``stdin_taken`` names (``--utt-ids /dev/stdin``); each of these is an error naming the line.
    ``stdin_refused``: why this caller cannot read a recording from stdin at all (the error).
    """
    if channel is not None and channel < EXPECT_MONO:
        raise AsrkitError(f"--channel must be -1 (mono only) or a channel number >= 0, got {channel}")
    if max_samples < 1:
        raise AsrkitError(f"the sample limit must be >= 1, got {max_samples}")
    path = _scp_path(wav_rspecifier)
    _refuse_audio_as_table(path)
    recos: Dict[str, Tuple[str, int]] = {}
    # The fast reader (the same errors, word for word): a 300k-line wav.scp took 0.9 s to split
    # a line at a time, paid by every asrkit-decode --nj job before its first utterance.
    for key, value, lineno in iter_table_fast(path):
        if key in recos:
            raise AsrkitError(f"{path}:{lineno}: duplicate id {key!r} (first on line {recos[key][1]})")
        recos[key] = (value, lineno)
    _check_stdin_entries(path, recos, segments, stdin_taken, stdin_refused)
    if segments is None:
        return [WavEntry(utt, src, f"{path}:{n}", channel=channel, max_samples=max_samples)
                for utt, (src, n) in recos.items()]
    entries: List[WavEntry] = []
    seen: Dict[str, int] = {}
    for key, value, lineno in iter_table_fast(segments):
        where = f"{segments}:{lineno}"
        if key in seen:
            raise AsrkitError(f"{where}: duplicate utterance {key!r} (first on line {seen[key]})")
        seen[key] = lineno
        reco, start, end = parse_segment(value, where)
        if reco not in recos:
            raise AsrkitError(f"{where}: recording {reco!r} of utterance {key!r} is not in {path}")
        src, n = recos[reco]
        entries.append(WavEntry(key, src, f"{path}:{n}", reco, start, end, channel, max_samples))
    return entries


# How the audio files a wav.scp names begin: one given in its place was "x.wav:1: not UTF-8 text".
_AUDIO_MAGIC = (b"RIFF", b"RF64", b"fLaC", b"OggS", b"ID3", b"FORM", b".snd", b"caff")


def _refuse_audio_as_table(path: str) -> None:
    """An audio file given where its wav.scp goes is an error saying so. Its magic alone is not
    enough: a wav.scp's first id may begin so (caffrey_01, FORMAL_2, RIFF_07), and such tables
    were refused as audio; an audio file's next bytes are binary (sizes, with NULs), a table's
    text. A SPHERE header is text, but its first line is the magic alone."""
    try:
        with open(path, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return  # (a pipe's first bytes are the table's: not read here)
            head = f.read(64)
    except OSError:
        return  # (the table reader names it)
    if head.startswith(b"NIST_1A\n") or head.startswith(_AUDIO_MAGIC) and _binary(head):
        raise AsrkitError(f"{path}: is an audio file, not a wav.scp: give a table of '<utterance-id> <audio file or "
                          f"command |>' lines (e.g. echo \"utt1 {path}\" > wav.scp; then scp:wav.scp)")


def _binary(head: bytes) -> bool:
    if any(b < 0x20 and b not in b"\t\n\r" for b in head):
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < len(head) - 3  # (not merely a character cut where the read ended)
    return False


def _check_stdin_entries(path: str, recos: Dict[str, Tuple[str, int]], segments: Optional[PathLike],
                         stdin_taken: Optional[str], stdin_refused: Optional[str]) -> None:
    """The ``-`` (stdin) recordings of a wav.scp: refused where stdin cannot hold them (see read_wav_scp)."""
    first: Optional[Tuple[str, int]] = None
    for reco, (src, n) in recos.items():
        if src != STDIN:
            continue
        where = f"{path}:{n}: recording {reco!r} is '-' (stdin)"
        if stdin_refused:
            raise AsrkitError(f"{where}: {stdin_refused}")
        if first is not None:
            # Kaldi reads the second from a stdin already drained: an empty recording at best.
            raise AsrkitError(f"{where}, as recording {first[0]!r} on line {first[1]} is: stdin holds one "
                              f"recording; name the others by file")
        first = (reco, n)
        taken = stdin_taken or ("the wav.scp itself" if names_stdin(path) else
                                f"the segments file {segments}" if segments is not None and names_stdin(segments)
                                else None)
        if taken:
            raise AsrkitError(f"{where}, but stdin is read as {taken}: one of the two must be a file")


def iter_wavs(entries: List[WavEntry]) -> Iterator[Tuple[WavEntry, Optional[Tuple[np.ndarray, int]], Optional[AsrkitError]]]:
    """Yield ``(entry, (samples, rate), None)`` or ``(entry, None, error)`` for each entry in order.

    A bad utterance is reported, not raised, so a caller can log it and go on as Kaldi does.
    Consecutive segments of one recording share one read of it.
    """
    cache_key: Optional[str] = None
    cache: Optional[Tuple[np.ndarray, int]] = None
    cache_err: Optional[AsrkitError] = None
    for entry in entries:
        recording = None
        if entry.reco_id:
            if entry.reco_id != cache_key:
                cache_key, cache, cache_err = entry.reco_id, None, None
                try:
                    cache = entry.read_recording(f"recording {entry.reco_id!r} ({entry.where}: {entry.source})")
                except AsrkitError as e:
                    cache_err = e
            if cache_err is not None:
                yield entry, None, AsrkitError(f"utterance {entry.utt_id!r}: {cache_err}")
                continue
            recording = cache
        try:
            yield entry, entry.load(recording), None
        except AsrkitError as e:
            yield entry, None, e
