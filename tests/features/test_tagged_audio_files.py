"""Audio files as users' tools leave them, read as the plain recording they hold, from a file and
from a pipe alike: a broadcast-WAV field recorder's bext/JUNK chunks before fmt and LIST/id3/cue
chunks after the samples, MP3s with an ID3v2 tag holding cover art (larger than the first probe of
a stream), an ID3v1 or APE tag at the end, a FLAC a tagger put an ID3v2 tag in front of. None of
this is damage: every one must give the very samples of the untagged file, never an error."""
from __future__ import annotations

import os
import struct

import numpy as np
import pytest
import soundfile as sf

from asrkit.features.wav import read_wav_source


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _id3v2(frames: bytes) -> bytes:
    n = len(frames)
    return b"ID3\x03\x00\x00" + bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F]) + frames


def _id3_frame(fid: bytes, body: bytes) -> bytes:
    return fid + struct.pack(">I", len(body)) + b"\0\0" + body


def _without_id3v2(blob: bytes) -> bytes:
    if blob[:3] != b"ID3":
        return blob
    n = (blob[6] & 0x7F) << 21 | (blob[7] & 0x7F) << 14 | (blob[8] & 0x7F) << 7 | (blob[9] & 0x7F)
    return blob[10 + n:]


@pytest.fixture(scope="module")
def tagged(an4_wavs, tmp_path_factory):
    """{name: path} of tagged copies, and the plain files' samples by format."""
    tmp = tmp_path_factory.mktemp("tagged")
    x, rate = sf.read(str(an4_wavs[0]), dtype="int16")
    title = _id3_frame(b"TIT2", b"\x03interview 3")
    art = _id3_frame(b"APIC", b"\0image/jpeg\0\x03\0" + os.urandom(300_000))  # > the 64 KiB first probe
    id3v1 = b"TAG" + b"interview 3".ljust(30, b"\0") + bytes(94) + b"\x0c"
    ape = b"APETAGEX" + struct.pack("<IIII", 2000, 32, 0, 0) + bytes(8)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    pcm = x.tobytes()
    files = {}

    def riff(*chunks: bytes) -> bytes:
        body = b"WAVE" + b"".join(chunks)
        return b"RIFF" + struct.pack("<I", len(body)) + body

    files["bwf.wav"] = riff(_chunk(b"JUNK", bytes(28)), _chunk(b"bext", b"Zoom H5".ljust(603, b"\0")), _chunk(b"fmt ", fmt),
                            _chunk(b"data", pcm), _chunk(b"LIST", b"INFOISFT" + struct.pack("<I", 13) + b"Lavf58.76.100\0"),
                            _chunk(b"id3 ", _id3v2(title + art[:5000])), _chunk(b"cue ", bytes(4)))
    files["list_before_data.wav"] = riff(_chunk(b"fmt ", fmt + b"\0\0"), _chunk(b"fact", struct.pack("<I", len(x))),
                                         _chunk(b"LIST", b"adtl" + _chunk(b"labl", struct.pack("<I", 1) + b"x\0")),
                                         _chunk(b"data", pcm))
    plain = {}
    if "MP3" in sf.available_formats():
        sf.write(str(tmp / "plain.mp3"), x / 32768.0, rate, format="MP3")
        mp3 = (tmp / "plain.mp3").read_bytes()
        plain["mp3"] = tmp / "plain.mp3"
        frames = _without_id3v2(mp3)
        files["cover_art.mp3"] = _id3v2(title + art + bytes(1024)) + frames
        files["id3v1.mp3"] = mp3 + id3v1
        files["ape_and_id3v1.mp3"] = mp3 + ape + id3v1
        files["cover_art_and_id3v1.mp3"] = _id3v2(title + art) + frames + id3v1
    sf.write(str(tmp / "plain.flac"), x, rate, format="FLAC")
    plain["flac"] = tmp / "plain.flac"
    files["id3_in_front.flac"] = _id3v2(title) + (tmp / "plain.flac").read_bytes()
    paths = {}
    for name, blob in files.items():
        (tmp / name).write_bytes(blob)
        paths[name] = tmp / name
    return paths, x.astype(np.float32), {k: read_wav_source(str(p), k)[0] for k, p in plain.items()}


def test_tagged_files_and_streams_read_as_the_plain_recording(tagged):
    paths, pcm, plain = tagged
    for name, path in paths.items():
        ext = name.rsplit(".", 1)[1]
        want = pcm if ext == "wav" else plain[ext]
        for source in (str(path), f"cat '{path}' |"):
            samples, rate = read_wav_source(source, name)
            assert rate == 16000, (name, source)
            np.testing.assert_array_equal(samples, want, err_msg=f"{name} from {source}")
