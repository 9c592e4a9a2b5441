"""What an audio file's container states of its samples (RIFF/RF64, W64, AIFF, AU, CAF, NIST
SPHERE, OGG pages, MP3 tags and frames, FLAC's STREAMINFO and last frame), checked against the bytes
there are before libsndfile decodes them (:mod:`asrkit.features.wav`).

Every check reads through ``read_at(offset, n)`` (up to ``n`` bytes at ``offset``), over a file's
descriptor and a stream's bytes alike, and raises an ``AsrkitError`` naming ``what``.

**Truncation.** A WAV whose data chunk is shorter than its header says is an error, from a file
or a pipe alike; only the sizes a streaming writer puts in a header it cannot seek back to fix
(0 from a pipe, 0xFFFFFFFF, 0x7FFFF000 or sox's whole frames below it, 0x7FFFFFFF) mean "the data runs to the end of the
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
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Callable, Iterator, List, NamedTuple, Optional, Tuple

from asrkit.utils.errors import AsrkitError

# The highest sample rate read: 768 kHz is the top of what audio converters record; a larger
# rate in a header is corruption (or an attack on the resampler's memory), not speech.
MAX_SAMPLE_RATE = 768_000  # (also the most an fbank config may ask for: fbank.MAX_SAMPLE_FREQUENCY)
# Streaming writers (sox, ffmpeg to a pipe) cannot seek back to fill in the sizes, so they
# write one of these as the data chunk size; the data then simply runs to the end of the stream.
# A file's 0 is taken at its word (no samples), and samples after it are an error: a pipe's 0 is
# the streaming marker.
_UNKNOWN_SIZES = {0, 0xFFFFFFFF, 0x7FFFF000, 0x7FFFFFFF}
_SOX_UNSPEC = 0x7FFFF000


def _streaming_data_size(declared: int, block_align: Optional[int]) -> bool:
    """Whether a WAV data size is a streaming writer's placeholder. sox's is 0x7FFFF000 rounded
    down to whole sample frames (its wav.c: MS_UNSPEC / block align * block align), so for 24-bit
    mono it is 2147479551, for 24-bit stereo 2147479548: every 'sox x.wav -t wav - speed 0.9 |'
    pipe of a 24-bit recording (Kaldi's speed perturbation, asrkit-perturb-data-dir-speed) was
    refused as a truncated stream."""
    return declared in _UNKNOWN_SIZES or (
        bool(block_align) and declared == _SOX_UNSPEC // block_align * block_align)
# Chunks (or FLAC blocks, OGG pages) walked before the samples: real files have a handful, and a
# damaged size field must not walk a stream for ever (also the bound of wav.py's stream sniff).
MAX_CHUNKS = 1000


# --------------------------------------------------------------------------------------------
# RIFF header facts libsndfile does not report: the data size the header states (libsndfile
# silently shortens a truncated file to what is there) and the format tag it could not read.

@dataclass
class RiffData:
    """What a RIFF/RF64 WAVE header states of its ``data`` chunk and sample layout."""

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


def _riff_data(read_at: Callable[[int, int], bytes]) -> Optional[RiffData]:
    """Walk a RIFF/RF64 WAVE file's chunk headers to its ``data`` chunk; None if not a WAVE or no data.

    ``read_at(offset, n)`` returns up to ``n`` bytes at ``offset``.
    """
    head = read_at(0, 12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    pos, tag, ds64, layout, subformat, riff64 = 12, None, None, (None, None, None, None), None, None
    for _ in range(MAX_CHUNKS):
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
            return RiffData(pos + 4, pos + 8, declared, tag, *layout, subformat,
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
    for _ in range(MAX_CHUNKS):
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



# How far past a chunk that claims more bytes than the file has the 'data' id is looked for: a
# damaged LIST or JUNK size hides samples a few KiB on, not megabytes.
_HIDDEN_DATA_SEARCH = 1 << 20


def riff_refusal_reason(read_at: Callable[[int, int], bytes], total: Optional[int]) -> Optional[str]:
    """What is wrong with a RIFF/RF64 WAVE header that libsndfile has refused, when its chunks
    show it: libsndfile's own words for these are about something else ("No 'data' chunk marker"
    for a second fmt chunk or a chunk whose size runs past the end, "Unspecified internal error"
    for an RF64 without its ds64). None when the chunks show nothing (libsndfile's words stand).
    ``total``: the bytes there are, None for a stream's first bytes (no chunk's size is then judged).
    Public: wav.py asks it only after libsndfile refused a file, so no file it reads is judged."""
    head = read_at(0, 12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    pos, fmts, ds64 = 12, [], False
    for _ in range(MAX_CHUNKS):
        hdr = read_at(pos, 8)
        if len(hdr) < 8:
            return None
        cid, size = hdr[:4], struct.unpack_from("<I", hdr, 4)[0]
        name = cid.decode("latin-1")
        if cid == b"ds64":
            ds64 = True
        elif cid == b"fmt ":
            fmts.append(pos)
            if len(fmts) == 2:
                return (f"two 'fmt ' chunks (at bytes {fmts[0]} and {fmts[1]}) before the 'data' chunk, so it is not "
                        f"clear how to read the samples; write the file again with one")
        elif cid == b"data":
            if head[:4] == b"RF64" and not ds64:
                return ("RF64 without a ds64 chunk, which holds the 64-bit sizes the RIFF and 'data' sizes stand "
                        "in for; write it again as WAV (or RF64 by a tool that writes the ds64 chunk)")
            return None
        end = pos + 8 + size
        if total is not None and end > total:
            # (a file cut inside a header chunk with no samples after it keeps libsndfile's word)
            after = read_at(pos + 8, min(total - pos - 8, _HIDDEN_DATA_SEARCH))
            if b"data" in after:
                return (f"chunk {name!r} at byte {pos} claims {size} bytes, but there are {total} bytes in "
                        f"all (a damaged chunk size?), so the chunks after it, 'data' among them, cannot be found")
            return None
        pos = end + (size & 1)
    return None

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


def float_width_problem(read_at: Callable[[int, int], bytes], what: str) -> Optional[UnsupportedAudio]:
    """The error for an IEEE float WAV of a width libsndfile does not decode, or None: for a
    stream's first bytes that libsndfile would not open, whose own reason says nothing of it."""
    return _float_width_problem(_riff_data(read_at), what)


def _float_width_problem(riff: Optional[RiffData], what: str) -> Optional[UnsupportedAudio]:
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


def _check_wav_header(riff: Optional[RiffData], total: int, what: str, streamed: bool,
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
    unknown = _streaming_data_size(riff.declared, riff.block_align) and (streamed or riff.declared != 0)
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


def _check_after_data(riff: RiffData, total: int, what: str, read_at: Callable[[int, int], bytes]) -> None:
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
    for _ in range(MAX_CHUNKS):
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


# sox's SSND size in an AIFF it writes to a pipe: 0x7f000008, less for frames that do not divide
# 0x7f000000 (0x7f000004 for 24-bit stereo). A cut-off AIFF through 'cat x.aiff |' states its real
# size, which was taken for such a placeholder and read as the shorter audio without a word.
_AIFF_STREAM_PLACEHOLDER = 0x7E000000
# A W64 stream's data size at or above this is no size but a placeholder (ffmpeg's INT64_MAX on a
# pipe): no stream of 2^62 bytes exists to be cut off.
_W64_STREAM_PLACEHOLDER = 1 << 62


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
    (:class:`_Stated`); None for anything else or an unknown size. An AIFF stream's size larger
    than its samples is a truncation only below sox's placeholder (:data:`_AIFF_STREAM_PLACEHOLDER`),
    and a W64 stream's only where it is more than the data chunk's own header and below 2^62."""
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
                               8 + struct.unpack_from(">I", head, 4)[0], stream_sized=size < _AIFF_STREAM_PLACEHOLDER)
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
    if head == _W64_RIFF:
        for cid, pos, size in _w64_chunks(read_at):
            if cid == _W64_DATA:
                if streamed and (size <= 24 or size >= _W64_STREAM_PLACEHOLDER):
                    # a pipe writer's placeholder: sox's 23 (whose stream is refused as rewritten),
                    # ffmpeg's INT64_MAX (libavformat's w64 muxer patches it only where it can seek)
                    return None
                return _Stated("W64", pos + 24, max(size - 24, 0))
    return None


def _sized_chunks(read_at: Callable[[int, int], bytes], pos: int, id_len: int, sizes: struct.Struct,
                  header_counted: bool, align: int) -> Iterator[Tuple[bytes, int, int]]:
    """``(id, offset, size)`` of the chunks from byte ``pos`` on, in order: an id of ``id_len``
    bytes and a size (``sizes``; counting the chunk's header or not), chunks aligned to ``align``;
    a size too small for a chunk (CAF's -1: it runs to the end) or a header cut off ends them."""
    header = id_len + sizes.size
    for _ in range(MAX_CHUNKS):
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
    add up to (:class:`ContainerFacts`' ``mp3_counted`` and ``mp3_walked``: the tag is
    read here once)."""
    if read_at(0, 4) == b"OggS":
        _check_ogg_pages(read_at, total, what, streamed)
        return False, None
    first = _id3_end(read_at)
    frame = _mpeg_frame(read_at(first, 4))
    if frame is not None and first + frame[0] > total:
        # (libsndfile's words for it: "File does not exist or is not a regular file (possibly a
        # pipe?)", of a file that is there)
        kind = "stream" if streamed else "file"
        raise AsrkitError(f"{what}: truncated MP3 {kind} (cut off in its first frame: {kind} has {total - first} of "
                          f"its {frame[0]} bytes)")
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
    if frame is not None:
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


class ContainerFacts(NamedTuple):
    """What :func:`check_container` read of a header that decoding needs, so nothing is read twice."""

    riff: Optional[RiffData]  # a WAV's data chunk and format tag (None: not RIFF/RF64 WAVE)
    mp3_counted: bool  # an MP3 whose Xing/Info/VBRI tag states its frame count
    mp3_walked: Optional[int]  # an MP3's samples per channel, as its frame headers add up


def check_container(read_at: Callable[[int, int], bytes], total: int, what: str, streamed: bool) -> ContainerFacts:
    """Check what an audio container's header states against the ``total`` bytes there are, before
    libsndfile decodes it: an AsrkitError naming ``what`` for a truncated or corrupt header, files
    joined with cat, or (``streamed``: the bytes of a pipe or stdin) a W64/CAF stream whose header
    sox wrote again inside it. Anything else passes: libsndfile judges it.

    One call for the three readers in :mod:`asrkit.features.wav` (a file, a stream's bytes, the
    check alone), so what they check, and in what order, cannot drift apart.
    """
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
    _check_wav_header(riff, total, what, streamed, read_at)
    mp3_counted, mp3_walked = _check_declared_length(read_at, total, what, streamed)
    return ContainerFacts(riff, mp3_counted, mp3_walked)
