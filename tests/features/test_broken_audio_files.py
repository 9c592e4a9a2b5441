"""Broken audio as an outside tester makes it from real recordings (AN4, FSDD): OGG and MP3 cut
short or damaged in the middle, stereo whose channels cancel in the mean, WAV headers with the
fmt chunk missing or after the data, a sample rate of 0 or 4 GHz. Each was read without a word
(shorter audio, digital silence) or failed with libsndfile's words for something else; each is
now a one-line error naming the file, skipped and counted by the commands that read audio."""
from __future__ import annotations

import io
import shlex
import struct
import subprocess
import sys
from typing import List

import kaldiio
import numpy as np
import pytest
import soundfile as sf
from feat_helpers import leftovers, run_cli, write_scp

from asrkit.cli import compute_fbank as compute_fbank_cli
from asrkit.features.wav import check_wav_file, read_audio_bytes, read_wav_source
from asrkit.utils.errors import AsrkitError


def _encode(x: np.ndarray, rate: int, fmt: str, subtype: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def _pages(blob: bytes) -> List[int]:
    return [i for i in range(len(blob)) if blob.startswith(b"OggS", i)]


@pytest.fixture(scope="module")
def speech(an4_wavs):
    x, rate = sf.read(an4_wavs[0], dtype="int16")
    return x, rate


def _q(path) -> str:
    """A path as one shell word, for the 'cat ... |' sources (TMPDIR may hold a space)."""
    return shlex.quote(str(path))


def _refused(source: str, match: str) -> str:
    with pytest.raises(AsrkitError) as e:
        read_wav_source(source, "utterance 'u'")
    assert str(e.value).startswith("utterance 'u': ") and match in str(e.value), str(e.value)
    return str(e.value)


def _refused_bytes(blob: bytes, match: str) -> None:
    with pytest.raises(AsrkitError) as e:
        read_audio_bytes(blob, "x")
    assert match in str(e.value), str(e.value)


def test_ogg_cut_short_or_missing_pages_is_an_error(tmp_path, speech):
    """libsndfile read an OGG cut in half as the 0.8 s before the cut (of 4 s), and one with a
    damaged page in the middle as 3.1 s (its frame count lowered to match), both without a word:
    trained on with the whole transcript, or decoded as part of the words."""
    x, rate = speech
    for subtype in ("VORBIS", "OPUS"):
        blob = _encode(x, rate, "OGG", subtype)
        whole = tmp_path / f"whole-{subtype}.ogg"
        whole.write_bytes(blob)
        assert len(read_wav_source(str(whole), "w")[0]) == len(x)
        # cut at each page boundary (the last whole page is then not the stream's end), and mid-page
        for cut in _pages(blob)[1:] + [len(blob) // 2]:
            with pytest.raises(AsrkitError, match=r"^x: truncated OGG file \(its last whole page, at byte \d+, is "
                                                  r"not the end of the stream"):
                read_audio_bytes(blob[:cut], "x")
        half = tmp_path / f"half-{subtype}.ogg"
        half.write_bytes(blob[: len(blob) // 2])
        _refused(str(half), "truncated OGG file (its last whole page, at byte ")
        _refused(f"cat {_q(half)} |", "truncated OGG stream (its last whole page, at byte ")
    # a damaged page in the middle: libsndfile skipped it (the page after the first audio page:
    # 3.1 s of 4 s read, its frame count lowered to match)
    for subtype in ("VORBIS", "OPUS"):
        blob = _encode(x, rate, "OGG", subtype)
        page = _pages(blob)[3]
        damaged = bytearray(blob)
        damaged[page + 100:page + 200] = b"\x55" * 100
        (tmp_path / "mid.ogg").write_bytes(bytes(damaged))
        for source in (str(tmp_path / "mid.ogg"), f"cat {_q(tmp_path / 'mid.ogg')} |"):
            _refused(source, f"corrupt OGG data (the page at byte {page} fails its CRC check)")
        # bytes where a page should start (a block of the file lost)
        _refused_bytes(blob[:page] + blob[page + 1000:], f"corrupt OGG data (no page starts at byte {page}, ")
    # the first page cut: nothing whole to go by
    _refused_bytes(blob[:20], "truncated OGG file (cut off in its first page)")
    # bytes after the end of the stream (an appended tag) are no damage
    assert len(read_audio_bytes(blob + b"TAG" + bytes(125), "x")[0]) == len(x)
    # as asrkit-make-data-dir checks it: header and size only
    with pytest.raises(AsrkitError, match="truncated OGG file"):
        check_wav_file(str(half), str(half))


def test_mp3_cut_short_is_an_error(tmp_path, speech):
    """A LAME MP3 (its first frame a Xing/Info tag stating frames and bytes) cut in half read as
    1.9 s of 4 s, and mpg123 printed its own 'Warning: Xing stream size off by more than 1%'."""
    x, rate = speech
    blob = _encode(x, rate, "MP3", "MPEG_LAYER_III")
    (tmp_path / "whole.mp3").write_bytes(blob)
    assert len(read_wav_source(str(tmp_path / "whole.mp3"), "w")[0]) == len(x)
    (tmp_path / "half.mp3").write_bytes(blob[: len(blob) // 2])
    want = f"truncated MP3 file (header promises {len(blob)} bytes, file has {len(blob) // 2})"
    _refused(str(tmp_path / "half.mp3"), want)
    _refused(f"cat {_q(tmp_path / 'half.mp3')} |", want.replace("file", "stream"))
    # the tag's frame count is checked too: frames decoded short of it (the byte count made to fit)
    short = bytearray(blob[: len(blob) // 2])
    at = short.find(b"Xing")
    assert at > 0 and struct.unpack_from(">I", short, at + 4)[0] & 3 == 3
    short[at + 12:at + 16] = struct.pack(">I", len(short))
    (tmp_path / "short.mp3").write_bytes(bytes(short))
    _refused(str(tmp_path / "short.mp3"), f"truncated MP3 (its header promises {len(x)} frames, ")
    # an MP3 without the tag states no length: a cut-off one is the audio it holds (a constant
    # bit rate's: libsndfile's estimate of a variable one's length falls short of what it holds,
    # test_a_vbr_mp3_without_a_length_tag_is_refused_not_cut)
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="MP3", bitrate_mode="CONSTANT", compression_level=0.5)
    untagged = _without_length_tag(buf.getvalue())
    assert b"Xing" not in untagged[:200] and b"Info" not in untagged[:200]
    assert 0 < len(read_audio_bytes(untagged[: len(untagged) // 2], "x")[0]) < len(x)
    untagged = _without_length_tag(blob)  # (blob's bit rate varies)
    _refused_bytes(untagged[: len(untagged) // 2], "MP3 without a Xing/Info/VBRI frame count: its frames hold ")


def test_channels_that_cancel_in_the_mean_are_an_error(tmp_path, speech):
    """A stereo recording whose right channel is its left inverted (a balanced lead wired
    backwards) averaged to digital silence, and asrkit-decode wrote a made-up text for it."""
    x, rate = speech
    inverted = np.stack([x, -x.astype(np.int32)], 1).clip(-32768, 32767).astype(np.int16)
    path = tmp_path / "inverted.wav"
    sf.write(path, inverted, rate, subtype="PCM_16")
    _refused(str(path), "its 2 channels cancel out when averaged (the mix is digital silence: one channel is "
                        "another inverted?); choose one with --channel N (0-based)")
    # nearly inverted (a little noise on one side): still 20 dB or more down
    noisy = inverted.astype(np.int32)
    noisy[:, 1] += np.random.default_rng(0).integers(-20, 21, len(x))
    sf.write(tmp_path / "noisy.wav", noisy.astype(np.int16), rate, subtype="PCM_16")
    assert "dB below the loudest channel" in _refused(str(tmp_path / "noisy.wav"), "channels cancel out")
    np.testing.assert_array_equal(read_wav_source(str(path), "u", channel=0)[0], x.astype(np.float32))
    # what a downmix is for still reads: one silent channel (-6 dB), the same speech twice
    for right in (np.zeros_like(x), x):
        sf.write(tmp_path / "ok.wav", np.stack([x, right], 1), rate, subtype="PCM_16")
        assert np.abs(read_wav_source(str(tmp_path / "ok.wav"), "u")[0]).max() > 0


def test_many_channels_that_merely_average_quiet_are_not_said_to_cancel(tmp_path, speech):
    """A header of 1000 channels over mono samples was refused (its mean, of a 62 ms run of one
    signal, is 40 dB down) as channels that "cancel out ... one channel is another inverted?",
    which they are not: the channel count is wrong. Twelve channels, one live, eleven silent (the
    mix 22 dB down) were said to cancel too."""
    x, rate = speech
    mono = x[: len(x) // 1000 * 1000].astype("<i2").tobytes()
    fmt = _chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1000, rate, rate * 2000, 2000, 16))
    (tmp_path / "many.wav").write_bytes(_riff(fmt, _chunk(b"data", mono)))
    e = _refused(str(tmp_path / "many.wav"), "its samples run on from one of its 1000 channels into the next, "
                                             "as one channel's do: the samples of fewer channels, read as 1000")
    assert "cancel out" not in e and "one channel is another inverted?" not in e
    one_live = np.zeros((len(x), 12), np.int16)
    one_live[:, 3] = x
    sf.write(tmp_path / "one-live.wav", one_live, rate, subtype="PCM_16")
    e = _refused(str(tmp_path / "one-live.wav"), "its 12 channels do not add up to one recording: their average is "
                                                 "22 dB below the loudest channel, and no channel is another inverted")
    assert "cancel out" not in e and "one channel is another inverted?" not in e
    np.testing.assert_array_equal(read_wav_source(str(tmp_path / "one-live.wav"), "u", channel=3)[0],
                                  x.astype(np.float32))


def _riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def _fmt(rate: int = 16000) -> bytes:
    return _chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, rate, (rate * 2) & 0xFFFFFFFF, 2, 16))


def test_wav_headers_without_fmt_or_with_impossible_rates_are_named(tmp_path, speech):
    """libsndfile's reasons were about something else: "No 'data' chunk marker" for a WAV whose
    data chunk is there but its fmt chunk is missing or written after it, or follows an odd-sized
    chunk written without its pad byte, "Internal error : SF_INFO struct incomplete" for a rate of
    0 or 4 GHz."""
    x, _ = speech
    pcm = _chunk(b"data", x.astype("<i2").tobytes())
    no_fmt = "malformed WAV header: no 'fmt ' chunk before the 'data' chunk (missing, or written after the samples)"
    cases = {
        "fmt-missing": (_riff(pcm), no_fmt),
        "fmt-after-data": (_riff(pcm, _fmt()), no_fmt),
        "rate-0": (_riff(_fmt(0), pcm), "malformed WAV header: sample rate 0 Hz"),
        "rate-4ghz": (_riff(_fmt(0xFFFFFFFF), pcm),
                      "sample rate 4294967295 Hz in the header is over the 768000 Hz asrkit reads"),
    }
    for name, (blob, message) in cases.items():
        (tmp_path / f"{name}.wav").write_bytes(blob)
        for source in (str(tmp_path / f"{name}.wav"), f"cat {_q(tmp_path / f'{name}.wav')} |"):
            _refused(source, message)
    # an odd-sized chunk without its pad byte (a hand-rolled writer's LIST): "No 'data' chunk marker"
    unpadded = _riff(_fmt(), b"LIST" + struct.pack("<I", 11) + b"INFOISFTab\0", pcm)
    (tmp_path / "unpadded.wav").write_bytes(unpadded)
    for source in (str(tmp_path / "unpadded.wav"), f"cat {_q(tmp_path / 'unpadded.wav')} |"):
        _refused(source, "malformed WAV: chunk 'LIST' at byte 36 has an odd size (11) but no pad byte after it")
    # what real writers put around the samples still reads, and gives the samples
    odd = _chunk(b"odd ", b"xyz")  # an odd-sized chunk with its pad byte
    for blob in (_riff(_chunk(b"JUNK", bytes(28)), _fmt(), _chunk(b"fact", struct.pack("<I", len(x))), odd, pcm),
                 _riff(_fmt(), pcm, _chunk(b"LIST", b"INFOISFT" + struct.pack("<I", 4) + b"abc\0"))):
        (tmp_path / "ok.wav").write_bytes(blob)
        np.testing.assert_array_equal(read_wav_source(str(tmp_path / "ok.wav"), "u")[0], x.astype(np.float32))


def test_a_float_wav_of_16_bits_is_named_as_such(tmp_path, speech):
    """A 16-bit IEEE float (half precision) WAV, as numpy or a GPU pipeline writes it: libsndfile
    says only "Unspecified internal error", file or pipe, plain fmt chunk or WAVE_FORMAT_EXTENSIBLE."""
    x, rate = speech
    half = (x / 32768).astype("<f2").tobytes()
    plain = _chunk(b"fmt ", struct.pack("<HHIIHH", 3, 1, rate, rate * 2, 2, 16))
    guid_tail = bytes.fromhex("000000001000800000aa00389b71")  # KSDATAFORMAT_SUBTYPE_IEEE_FLOAT after its tag
    extensible = _chunk(b"fmt ", struct.pack("<HHIIHHHHIH", 0xFFFE, 1, rate, rate * 2, 2, 16, 22, 16, 4, 3) + guid_tail)
    message = ("16-bit float WAV (IEEE half precision) is not supported: libsndfile and sox read float WAV of 32 or "
               "64 bits only; write it again as 16-bit PCM or 32-bit float WAV")
    # (a long one too: a stream is first judged by libsndfile at 1 MiB, before any header check)
    long_half = np.zeros(700_000, "<f2").tobytes()
    blobs = {"half": _riff(plain, _chunk(b"data", half)), "half-ext": _riff(extensible, _chunk(b"data", half)),
             "half-long": _riff(plain, _chunk(b"data", long_half))}
    for name, blob in blobs.items():
        (tmp_path / f"{name}.wav").write_bytes(blob)
        for source in (str(tmp_path / f"{name}.wav"), f"cat {_q(tmp_path / f'{name}.wav')} |"):
            assert "\n" not in _refused(source, message)
    # 32-bit float of the same layout still reads, to the same samples
    single = _chunk(b"fmt ", struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32))
    (tmp_path / "single.wav").write_bytes(_riff(single, _chunk(b"data", (x / 32768).astype("<f4").tobytes())))
    np.testing.assert_allclose(read_wav_source(str(tmp_path / "single.wav"), "u")[0], x, atol=1e-3)


def test_a_data_size_smaller_than_the_samples_is_an_error(tmp_path, speech):
    """libsndfile (and Kaldi) read the data size the header states: one damaged to 1000 of the
    samples' bytes decoded to 31 ms and the utterance to empty text, exit 0, not a word said."""
    x, _ = speech
    samples = x.astype("<i2").tobytes()
    damaged = _riff(_fmt(), b"data" + struct.pack("<I", 1000) + samples)  # the RIFF size still covers them
    (tmp_path / "damaged.wav").write_bytes(damaged)
    message = f"the data chunk states 1000 bytes of samples, but {len(samples) - 1000} more bytes that are not chunks"
    for source in (str(tmp_path / "damaged.wav"), f"cat {_q(tmp_path / 'damaged.wav')} |"):
        _refused(source, message)
    with pytest.raises(AsrkitError, match="not chunks follow it"):
        check_wav_file(str(tmp_path / "damaged.wav"), "u")
    # what may follow the samples still reads: chunks (a last one cut off), zero padding inside
    # the RIFF, anything appended after the RIFF's stated end
    pcm = _chunk(b"data", samples)
    listed = _riff(_fmt(), pcm, _chunk(b"LIST", b"INFOISFT" + struct.pack("<I", 4) + b"abc\0"), _chunk(b"id3 ", bytes(9)))
    cut_list = listed[:-6]
    padded = _riff(_fmt(), pcm, bytes(512))
    appended = _riff(_fmt(), pcm) + samples[:5000]
    for name, blob in {"listed": listed, "cut-list": cut_list, "padded": padded, "appended": appended}.items():
        (tmp_path / f"{name}.wav").write_bytes(blob)
        np.testing.assert_array_equal(read_wav_source(str(tmp_path / f"{name}.wav"), name)[0], x.astype(np.float32))


def test_an_rf64_data_size_smaller_than_the_samples_is_an_error(tmp_path, speech):
    """The same damage in an RF64's ds64 chunk (its sizes, the RIFF's 0xFFFFFFFF) read as 1000 of
    the 64000 samples, exit 0: the check above skipped RF64 files as stating no sizes."""
    x, rate = speech
    blob = bytearray(_encode(x, rate, "RF64", "PCM_16"))
    at = blob.find(b"ds64")
    blob[at + 16:at + 24] = struct.pack("<Q", 2000)  # its data size (after the RIFF's own)
    (tmp_path / "damaged.wav").write_bytes(bytes(blob))
    message = f"the data chunk states 2000 bytes of samples, but {2 * len(x) - 2000} more bytes that are not chunks"
    for source in (str(tmp_path / "damaged.wav"), f"cat {_q(tmp_path / 'damaged.wav')} |"):
        _refused(source, message)
    # whole, and with a chunk after the samples, it reads
    whole = _encode(x, rate, "RF64", "PCM_16")
    assert len(read_audio_bytes(whole, "u")[0]) == len(x)


def _damaged_size(blob: bytes, fmt: str, n_bytes: int) -> bytes:
    """``blob`` (as libsndfile writes ``fmt``) with its header's data size made ``n_bytes`` of samples."""
    out = bytearray(blob)
    if fmt == "AU":  # .snd, data offset, data size
        out[8:12] = struct.pack(">I", n_bytes)
    elif fmt == "AIFF":  # the SSND chunk's size counts its 8 bytes of offset and block size
        at = out.find(b"SSND")
        out[at + 4:at + 8] = struct.pack(">I", 8 + n_bytes)
    else:  # CAF: the data chunk's 64-bit size counts its 4-byte edit count
        at = out.find(b"data")
        out[at + 4:at + 12] = struct.pack(">q", 4 + n_bytes)
    return bytes(out)


@pytest.mark.parametrize("fmt", ["AIFF", "AU", "CAF"])
def test_an_aiff_au_or_caf_data_size_smaller_than_the_samples_is_an_error(tmp_path, speech, fmt):
    """The WAV check's damage in an AIFF's SSND chunk, an AU header or a CAF data chunk: a data
    size of 2000 bytes read as 1000 of the recording's samples, the rest lost, exit 0. A size
    larger than the file (a truncated file) stays an error."""
    x, rate = speech
    whole = _encode(x, rate, fmt, "PCM_16")
    path = tmp_path / f"damaged.{fmt.lower()}"
    path.write_bytes(_damaged_size(whole, fmt, 2000))
    message = (f"malformed {fmt} header: the {'header' if fmt == 'AU' else 'SSND chunk' if fmt == 'AIFF' else 'data chunk'} "
               f"states 2000 bytes of samples, but {2 * len(x) - 2000} more bytes")
    for source in (str(path), f"cat {_q(path)} |"):
        assert f"libsndfile would read only 1000 of its {len(x)} samples" in _refused(source, message)
    with pytest.raises(AsrkitError, match="a corrupt data size"):
        check_wav_file(str(path), "u")
    # larger than the file: truncated
    (tmp_path / "cut").write_bytes(_damaged_size(whole, fmt, 4 * len(x)))
    _refused(str(tmp_path / "cut"), f"truncated {fmt} file (header promises ")
    # whole, with zero padding after the samples, or (AIFF, CAF) a chunk after them, it reads
    blobs = [whole, whole + bytes(512)]
    if fmt == "AIFF":
        comment = b"ANNO" + struct.pack(">I", 6) + b"hello!"
        blobs.append(b"FORM" + struct.pack(">I", len(whole) - 8 + len(comment)) + whole[8:] + comment)
    elif fmt == "CAF":
        blobs.append(whole + b"info" + struct.pack(">q", 12) + struct.pack(">I", 1) + b"a\0b\0" + bytes(4))
    for blob in blobs:
        (tmp_path / "ok").write_bytes(blob)
        np.testing.assert_array_equal(read_wav_source(str(tmp_path / "ok"), "u")[0], x.astype(np.float32))


def test_a_second_data_chunk_is_an_error(tmp_path, speech):
    """A WAV holds one data chunk. With the samples split over two, libsndfile decoded the file
    (first chunk of odd size) to noise of half its length, exit 0, or (even size) failed as
    "SF_INFO struct incomplete"; sox and Kaldi read the first chunk only."""
    x, _ = speech
    samples = x.astype("<i2").tobytes()
    message = "malformed WAV: a second 'data' chunk at byte"
    for name, cut in {"odd": 4001, "even": 4000}.items():
        blob = _riff(_fmt(), _chunk(b"data", samples[:cut]), _chunk(b"data", samples[cut:]))
        path = tmp_path / f"{name}.wav"
        path.write_bytes(blob)
        for source in (str(path), f"cat {_q(path)} |"):
            assert "\n" not in _refused(source, message)
        with pytest.raises(AsrkitError, match=message):
            check_wav_file(str(path), "u")
    # one data chunk followed by other chunks still reads
    listed = _riff(_fmt(), _chunk(b"data", samples), _chunk(b"LIST", b"INFOISFT" + struct.pack("<I", 4) + b"abc\0"))
    (tmp_path / "listed.wav").write_bytes(listed)
    np.testing.assert_array_equal(read_wav_source(str(tmp_path / "listed.wav"), "u")[0], x.astype(np.float32))


def test_two_wavs_joined_with_cat_are_named_as_such(tmp_path, speech):
    """`cat a.wav b.wav > c.wav` was refused with libsndfile's "No 'RIFF' chunk marker", for a file
    that starts with one."""
    x, _ = speech
    one = _riff(_fmt(), _chunk(b"data", x.astype("<i2").tobytes()))
    path = tmp_path / "joined.wav"
    path.write_bytes(one + one)
    message = f"another WAV file follows this one's end at byte {len(one)} (files joined with cat?)"
    for source in (str(path), f"cat {_q(path)} |"):
        assert "\n" not in _refused(source, message)


@pytest.mark.parametrize("fmt,subtype,name", [
    ("FLAC", "PCM_16", "FLAC"), ("OGG", "VORBIS", "OGG"), ("OGG", "OPUS", "OGG"), ("MP3", "MPEG_LAYER_III", "MP3"),
    ("AU", "PCM_16", "AU"), ("CAF", "PCM_16", "CAF"), ("NIST", "PCM_16", "SPHERE"), ("W64", "PCM_16", "W64"),
    ("RF64", "PCM_16", "WAV")])
def test_two_files_of_other_formats_joined_with_cat_are_named_as_such(tmp_path, speech, fmt, subtype, name):
    """`cat a.flac b.flac > c.flac` (OGG, Opus, MP3, AU, CAF, RF64 alike) read as the first recording
    alone, the second lost without a word; a SPHERE or W64 pair read the second file's header as
    samples (a burst of noise) before it. Each is now refused as the WAV pair is."""
    x, rate = speech
    first, second = _encode(x, rate, fmt, subtype), _encode(x[::-1].copy(), rate, fmt, subtype)
    path = tmp_path / f"joined.{fmt.lower()}"
    path.write_bytes(first + second)
    message = f"another {name} file follows this one's end at byte {len(first)} (files joined with cat?)"
    for source in (str(path), f"cat {_q(path)} |"):
        assert "\n" not in _refused(source, message)
    for blob in (first, second):  # each alone still reads, whole
        assert len(read_audio_bytes(blob, "x")[0]) >= len(x) - 1152 * (fmt == "MP3")


def _without_length_tag(blob: bytes) -> bytes:
    """An MP3 as libsndfile writes it at 16 kHz (MPEG-2 layer III) less its first frame, the
    Xing/Info tag: what an encoder writing to a pipe, a stream capture or a cutting tool leaves."""
    assert blob[:2] == b"\xff\xf3" and blob[13:17] in (b"Xing", b"Info")
    bitrate = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)[blob[2] >> 4] * 1000
    return blob[72 * bitrate // 16000 + (blob[2] >> 1 & 1):]


def test_a_vbr_mp3_without_a_length_tag_is_refused_not_cut(tmp_path, speech):
    """Without a Xing/Info/VBRI tag libsndfile estimates an MP3's length from its size and the first
    frame's bit rate, and reads no further: a variable-bit-rate one read as 37944 of its 64000
    samples, the rest lost without a word. Its frame headers are counted now; a constant-rate one
    (estimated right) still reads whole."""
    x, rate = speech
    for mode, whole in (("VARIABLE", False), ("CONSTANT", True)):
        buf = io.BytesIO()
        sf.write(buf, x, rate, format="MP3", bitrate_mode=mode, compression_level=0.5)
        blob = _without_length_tag(buf.getvalue())
        path = tmp_path / f"{mode}.mp3"
        path.write_bytes(blob)
        if whole:
            assert len(read_wav_source(str(path), "u")[0]) >= len(x)
            continue
        message = "MP3 without a Xing/Info/VBRI frame count: its frames hold "
        for source in (str(path), f"cat {_q(path)} |"):
            assert "\n" not in _refused(source, message)
        _refused_bytes(blob, ", would read only the first ")


def test_an_mp3_holding_more_than_its_tag_states_is_refused_not_cut(tmp_path, speech):
    """libsndfile reads a tagged MP3 no further than its Xing/Info frame count: a tag whose count
    was damaged (3 frames) read as 64 samples, and a LAME MP3 with an untagged one joined after it
    by cat as the first alone, without a word. The frames are counted against the tag now."""
    x, rate = speech
    blob = _encode(x, rate, "MP3", "MPEG_LAYER_III")
    at = blob.find(b"Xing")
    damaged = bytearray(blob)
    damaged[at + 8:at + 12] = struct.pack(">I", 3)
    joined = blob + _without_length_tag(_encode(x[::-1].copy(), rate, "MP3", "MPEG_LAYER_III"))
    for name, data in (("damaged", bytes(damaged)), ("joined", joined)):
        (tmp_path / f"{name}.mp3").write_bytes(data)
        for source in (str(tmp_path / f"{name}.mp3"), f"cat {_q(tmp_path / f'{name}.mp3')} |"):
            assert "\n" not in _refused(source, "its Xing/Info/VBRI tag states ")
    assert len(read_audio_bytes(blob, "x")[0]) == len(x)


def test_a_flac_holding_more_than_its_streaminfo_states_is_an_error(tmp_path, speech):
    """libsndfile reads a FLAC no further than its STREAMINFO's sample count: one damaged to half
    the samples read as the first 2 s of 4, exit 0. Its last frame's header (found from the end,
    CRC-checked) says where the samples end."""
    x, rate = speech
    blob = _encode(x, rate, "FLAC", "PCM_16")
    damaged = bytearray(blob)
    # STREAMINFO: 36 bits of total samples end its 18th byte after the block header (bytes 18-25)
    word = int.from_bytes(damaged[18:26], "big")
    damaged[18:26] = (word & ~((1 << 36) - 1) | len(x) // 2).to_bytes(8, "big")
    (tmp_path / "damaged.flac").write_bytes(bytes(damaged))
    message = f"FLAC whose STREAMINFO states {len(x) // 2} samples, but its frames run to sample {len(x)}"
    for source in (str(tmp_path / "damaged.flac"), f"cat {_q(tmp_path / 'damaged.flac')} |"):
        assert "\n" not in _refused(source, message)
    # whole, or with an ID3v1 tag after its frames, it reads
    for data in (blob, blob + b"TAG" + bytes(125)):
        assert len(read_audio_bytes(data, "x")[0]) == len(x)


def test_a_flac_whose_streaminfo_rate_disagrees_with_its_frames_is_an_error(tmp_path, speech):
    """libsndfile takes a FLAC's sample rate from STREAMINFO alone: one damaged to 8000 Hz over
    frames that state 16000 Hz read at 8000 Hz, twice as slow, exit 0 (the model heard nonsense).
    The last frame's header (found for the end check, CRC-checked) states its rate too."""
    x, rate = speech
    assert rate == 16000
    blob = _encode(x, rate, "FLAC", "PCM_16")
    damaged = bytearray(blob)
    # STREAMINFO: 20 bits of sample rate start its 10th byte after the block header (byte 18)
    word = int.from_bytes(damaged[18:26], "big")
    damaged[18:26] = (word & ((1 << 44) - 1) | 8000 << 44).to_bytes(8, "big")
    (tmp_path / "damaged.flac").write_bytes(bytes(damaged))
    message = "FLAC whose STREAMINFO states a sample rate of 8000 Hz, but its frames state 16000 Hz"
    for source in (str(tmp_path / "damaged.flac"), f"cat {_q(tmp_path / 'damaged.flac')} |"):
        assert "\n" not in _refused(source, message)
    with pytest.raises(AsrkitError, match=message):
        check_wav_file(str(tmp_path / "damaged.flac"), "u")
    # rates the frames state with a code of their own (8 kHz) or in bits after it (11025 Hz) agree
    for r in (8000, 11025):
        assert read_audio_bytes(_encode(x, r, "FLAC", "PCM_16"), "x")[1] == r


def test_a_flac_of_unknown_length_is_named_as_such(tmp_path, speech):
    """A FLAC whose STREAMINFO gives 0 samples (what an encoder writing to a pipe leaves): libsndfile
    calls its length 2**63-1 frames, soundfile fails before its end, and it was refused as 'over
    the limit of ... samples per read (--max-samples)', a wrong reason."""
    x, rate = speech
    blob = bytearray(_encode(x, rate, "FLAC", "PCM_16"))
    assert blob[:4] == b"fLaC"
    # STREAMINFO: 36 bits of total samples end its 18th byte after the block header (bytes 18-25)
    blob[18:26] = (int.from_bytes(blob[18:26], "big") & ~((1 << 36) - 1)).to_bytes(8, "big")
    (tmp_path / "streamed.flac").write_bytes(bytes(blob))
    message = "FLAC/PCM_16 audio whose header gives no length (a FLAC written to a pipe says 0 samples)"
    for source in (str(tmp_path / "streamed.flac"), f"cat {_q(tmp_path / 'streamed.flac')} |"):
        _refused(source, message)


def test_a_flac_stream_of_unknown_length_says_to_write_wav_to_the_pipe(tmp_path, speech):
    """'<utt> sox x.wav -t flac - speed 0.9 |' in a wav.scp (sox cannot seek back in the pipe to fill
    in STREAMINFO's count) was told to "read it through a pipe in a wav.scp": it was one already.
    A pipe or stdin is now told to write WAV to it; a file keeps the conversion advice."""
    x, rate = speech
    blob = bytearray(_encode(x, rate, "FLAC", "PCM_16"))
    blob[18:26] = (int.from_bytes(blob[18:26], "big") & ~((1 << 36) - 1)).to_bytes(8, "big")
    (tmp_path / "streamed.flac").write_bytes(bytes(blob))
    piped = _refused(f"cat {_q(tmp_path / 'streamed.flac')} |", "header gives no length")
    assert piped.endswith("which asrkit cannot read: write '-t wav' to the pipe instead (sox ... -t wav - |): "
                          "a WAV stream reads to its end"), piped
    _refused_bytes(bytes(blob), "write '-t wav' to the pipe instead")
    in_file = _refused(str(tmp_path / "streamed.flac"), "header gives no length")
    assert in_file.endswith("convert it (sox in.flac out.wav), or read it through a pipe in a wav.scp "
                            "('<utt> sox <file> -t wav - |')"), in_file


def test_a_flac_of_unknown_length_on_stdin_from_a_file_is_told_to_convert_it(tmp_path, speech):
    """'u1 -' in a wav.scp with stdin redirected from the FLAC ('< p.flac') was told to "write '-t
    wav' to the pipe instead", where no pipe writes it: the conversion it needs is the file's. A
    pipe into stdin ('cat p.flac |' or an encoder) may want either, and gets both."""
    x, rate = speech
    blob = bytearray(_encode(x, rate, "FLAC", "PCM_16"))
    blob[18:26] = (int.from_bytes(blob[18:26], "big") & ~((1 << 36) - 1)).to_bytes(8, "big")
    flac = tmp_path / "p.flac"
    flac.write_bytes(bytes(blob))
    code = ("import sys\nfrom asrkit.features.wav import read_wav_source\nfrom asrkit.utils.errors import AsrkitError\n"
            "try:\n    read_wav_source('-', 'u1', stdin=True)\nexcept AsrkitError as e:\n    print(e)\n")
    with open(flac, "rb") as f:
        redirected = subprocess.run([sys.executable, "-c", code], stdin=f, capture_output=True, text=True).stdout
    assert redirected.strip().endswith("which asrkit cannot read: convert it (sox in.flac out.wav), or read it "
                                       "through a pipe in a wav.scp ('<utt> sox <file> -t wav - |')"), redirected
    piped = subprocess.run([sys.executable, "-c", code], input=bytes(blob), capture_output=True).stdout.decode()
    assert "convert it (sox in.flac out.wav); where a pipe writes it, write '-t wav' to the pipe instead" in piped, piped


def test_compute_fbank_skips_and_counts_the_broken_files(tmp_path, an4_wavs, speech):
    """One broken file of 25 is skipped, named and counted; its features are not written."""
    x, rate = speech
    ogg = _encode(x, rate, "OGG", "VORBIS")
    (tmp_path / "cut.ogg").write_bytes(ogg[: len(ogg) // 2])
    entries = [(w.stem, w) for w in an4_wavs[:24]] + [("zz-cut", tmp_path / "cut.ogg")]
    scp = write_scp(tmp_path / "wav.scp", entries)
    out = tmp_path / "out"
    result = run_cli(compute_fbank_cli, [f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp"])
    assert result.exit_code == 0, result.stderr
    assert f"skipping utterance 'zz-cut' ({scp}:25: {tmp_path}/cut.ogg): truncated OGG file" in result.stderr
    assert "Done 24 out of 25 utterances; failed 1" in result.stderr
    assert "zz-cut" not in kaldiio.load_scp(str(out / "feats.scp"))
    # two broken of three: past Kaldi's 5 %, nothing written
    scp = write_scp(tmp_path / "bad.scp", entries[:1] + [("zz-cut", tmp_path / "cut.ogg"),
                                                         ("zz-cut2", f"cat {_q(tmp_path / 'cut.ogg')} |")])
    out = tmp_path / "out2"
    result = run_cli(compute_fbank_cli, [f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp"])
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert [ln for ln in result.stderr.splitlines() if ln.startswith("ERROR")][0].startswith(
        "ERROR (asrkit-compute-fbank): 2 of 3 utterances failed")
    assert leftovers(out) == []


def test_make_data_dir_skips_a_cut_ogg(an4_root, tmp_path):
    """asrkit-make-data-dir's header check (check_wav_file) is the reader's: a cut OGG went into
    wav.scp, and sox (a speed-perturbed copy) reads the fragment without an error."""
    from asrkit.data.from_audio import make_data_dir
    from asrkit.data.make_report import TRUNCATED
    from user_corpus import make_user_corpus

    make_user_corpus(an4_root, tmp_path / "c", 4)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    name = prompts.read_text().split()[0]
    x, rate = sf.read(audio / f"{name}.wav", dtype="int16")
    (audio / f"{name}.wav").unlink()
    ogg = _encode(x, rate, "OGG", "VORBIS")
    # cut before its last page (libsndfile: 0.98 s of 1 s, into wav.scp) and mid-page (0 frames:
    # it was skipped as "no samples")
    for cut in (_pages(ogg)[-1], len(ogg) // 2):
        (audio / f"{name}.ogg").write_bytes(ogg[:cut])
        report = make_data_dir(audio, tmp_path / "d", transcripts=prompts, max_skip_ratio=0.5,
                               extensions=["wav", "ogg"])
        assert report.skipped == {TRUNCATED: [f"{name}.ogg"]} and report.num_utts == 3


def test_digital_silence_is_extracted_with_a_warning(tmp_path, an4_wavs, speech):
    """A recording of zeros (a muted device, a zero-filled download) or of a DC offset alone (which
    the fbank removes) gave features of nothing without a word, to be trained on with a transcript.
    Kaldi extracts it too, so it is not a failure; it is named."""
    x, rate = speech
    sf.write(tmp_path / "zeros.wav", np.zeros_like(x), rate, subtype="PCM_16")
    sf.write(tmp_path / "dc.wav", np.full_like(x, 1200), rate, subtype="PCM_16")
    scp = write_scp(tmp_path / "wav.scp", [("good", an4_wavs[0]), ("zeros", tmp_path / "zeros.wav"),
                                           ("dc", tmp_path / "dc.wav")])
    out = tmp_path / "out"
    result = run_cli(compute_fbank_cli, [f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp"])
    assert result.exit_code == 0, result.stderr
    assert (f"utterance 'zeros': every sample is 0 (digital silence): its features hold no sound "
            f"[{scp}:2: {tmp_path}/zeros.wav]") in result.stderr
    assert "utterance 'dc': every sample is 1200 (digital silence)" in result.stderr
    assert "utterance 'good': every sample" not in result.stderr
    assert "Done 3 out of 3 utterances" in result.stderr
    # A file of one sample holds one value too, but no frame: skipped as too short, not first
    # called digital silence (as asrkit-decode already said it).
    sf.write(tmp_path / "one.wav", x[:1], rate, subtype="PCM_16")
    scp = write_scp(tmp_path / "one.scp", [("good", an4_wavs[0]), ("one", tmp_path / "one.wav")])
    result = run_cli(compute_fbank_cli, ["--max-bad-percent", "100", f"scp:{scp}",
                                         f"ark,scp:{out}/one.ark,{out}/one.scp"])
    assert result.exit_code == 0, result.stderr
    assert "skipping utterance 'one': too short for one frame (1 samples < 400)" in result.stderr
    assert "utterance 'one': every sample" not in result.stderr


def test_mac_metadata_beside_an_mp3_is_not_taken_for_its_resource_fork(tmp_path, speech, monkeypatch):
    """libsndfile, not knowing an MP3 without an ID3 tag by its first bytes, looks for a Mac resource
    fork beside it ('._<name>', '.AppleDouble/<name>'; with no name, as for a descriptor or a
    stream, '._' and '.AppleDouble/' in the current directory) and took what it found for one:
    every such MP3 failed as "bad resource fork" (or "bad data offset") from a folder an AFP
    server keeps .AppleDouble folders in."""
    x, rate = speech
    blob = _encode(x, rate, "MP3", "MPEG_LAYER_III")
    assert blob[:3] != b"ID3"
    (tmp_path / "a.mp3").write_bytes(blob)
    here = tmp_path / "here"
    (here / ".AppleDouble").mkdir(parents=True)
    (here / "._").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    monkeypatch.chdir(here)
    for source in (str(tmp_path / "a.mp3"), f"cat {_q(tmp_path / 'a.mp3')} |"):
        assert len(read_wav_source(source, "u")[0]) == len(x)
    # asrkit-make-data-dir's header look: beside the ._a.mp3 a zip made on a Mac holds
    from asrkit.features.wav import audio_file_info

    (tmp_path / "._a.mp3").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(4000))
    assert audio_file_info(str(tmp_path / "a.mp3")) == (len(x), 1)


def test_make_data_dir_reads_mp3s_of_a_zip_made_on_a_mac(an4_root, tmp_path):
    """Each a.mp3 with its ._a.mp3 beside it: the metadata files were left out of the listing, but
    libsndfile's header look at a.mp3 read ._a.mp3 as its resource fork, and every MP3 was skipped
    as not audio (the corpus failed on the 5 % rule)."""
    from asrkit.data.from_audio import make_data_dir
    from user_corpus import make_user_corpus

    make_user_corpus(an4_root, tmp_path / "c", 4)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    for wav in sorted(audio.glob("*.wav")):
        x, rate = sf.read(wav, dtype="int16")
        wav.unlink()
        wav.with_suffix(".mp3").write_bytes(_encode(x, rate, "MP3", "MPEG_LAYER_III"))
        (audio / f"._{wav.stem}.mp3").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(4000))
    report = make_data_dir(audio, tmp_path / "d", transcripts=prompts, extensions=["mp3"])
    assert report.num_utts == 4 and not report.skipped


def test_a_sandbox_refusing_proc_reopens_reads_through_the_descriptor(tmp_path, an4_wavs, monkeypatch):
    want = read_wav_source(str(an4_wavs[0]), "u")[0]
    real = sf.SoundFile

    def refusing(source, *args, **kwargs):
        if isinstance(source, str) and source.startswith("/proc/self/fd/"):
            return real(str(tmp_path / "denied" / "x.wav"))  # libsndfile's "System error."
        return real(source, *args, **kwargs)

    monkeypatch.setattr(sf, "SoundFile", refusing)
    for source in (str(an4_wavs[0]), f"cat {an4_wavs[0]} |"):
        np.testing.assert_array_equal(read_wav_source(source, "u")[0], want)


def test_a_w64_stream_from_sox_is_refused_not_read_with_its_header_as_samples(tmp_path, yesno_root):
    """`sox x.wav -t w64 - |` in a wav.scp: sox, unable to seek back in the pipe, writes the W64
    header again after it and at the end, and libsndfile read those copies as 52 samples of noise
    at each end, no error. A W64 file through `cat ... |` (its sizes filled in) reads as it is."""
    from debian_packages import require_program

    require_program("sox")
    wav = next(iter(sorted((yesno_root / "waves_yesno").glob("*.wav"))))
    clean, rate = read_wav_source(str(wav), "w")
    with pytest.raises(AsrkitError, match=r"^x: a W64 stream with its header written again inside it .* write "
                                          r"'-t wav' to the pipe instead$"):
        read_wav_source(f"sox {shlex.quote(str(wav))} -t w64 - |", "x")
    sf.write(tmp_path / "a.w64", clean.astype(np.int16), rate, format="W64", subtype="PCM_16")
    piped, _ = read_wav_source(f"cat {shlex.quote(str(tmp_path / 'a.w64'))} |", "y")
    assert np.array_equal(piped, clean)


def test_a_caf_stream_from_sox_is_refused_naming_the_pipe_not_cat(tmp_path, yesno_root):
    """`sox x.wav -t caf - |` in a wav.scp: sox, unable to seek back in the pipe, writes the CAF
    header again where the samples start and at the end, as for W64; it was refused as "another
    CAF file follows this one's end (files joined with cat?)", sending the user after a cat that
    was never there. A CAF file through `cat ... |` reads as it is; two joined keep their error."""
    from debian_packages import require_program

    require_program("sox")
    wav = next(iter(sorted((yesno_root / "waves_yesno").glob("*.wav"))))
    clean, rate = read_wav_source(str(wav), "w")
    with pytest.raises(AsrkitError, match=r"^x: a CAF stream with its header written again inside it \(as sox "
                                          r"writes CAF to a pipe, where it cannot seek back\): .* write '-t wav' to "
                                          r"the pipe instead$"):
        read_wav_source(f"sox {shlex.quote(str(wav))} -t caf - |", "x")
    caf = tmp_path / "a.caf"
    sf.write(caf, clean.astype(np.int16), rate, format="CAF", subtype="PCM_16")
    piped, _ = read_wav_source(f"cat {shlex.quote(str(caf))} |", "y")
    assert np.array_equal(piped, clean)
    (tmp_path / "two.caf").write_bytes(caf.read_bytes() * 2)
    with pytest.raises(AsrkitError, match=r"another CAF file follows this one's end at byte \d+ \(files joined"):
        read_wav_source(f"cat {shlex.quote(str(tmp_path / 'two.caf'))} |", "z")


def test_wav_chunk_faults_libsndfile_misnames_are_named(tmp_path, speech):
    """libsndfile said "No 'data' chunk marker" for a WAV with two fmt chunks or with a chunk whose
    size runs past the end of the file (the data chunk is there), and "Unspecified internal
    error" for an RF64 without its ds64 chunk. The chunks are walked only once libsndfile has
    refused a file, so what it reads is never judged."""
    x, _ = speech
    samples = x.astype("<i2").tobytes()
    pcm = _chunk(b"data", samples)
    over = b"LIST" + struct.pack("<I", 100_000_000) + b"INFOISFT" + struct.pack("<I", 4) + b"abc\0"
    no_ds64 = b"RF64" + _riff(_fmt(), b"data" + struct.pack("<I", 0xFFFFFFFF) + samples)[4:]
    cases = {
        "two-fmt": (_riff(_fmt(), _fmt(), pcm), "malformed WAV: two 'fmt ' chunks (at bytes 12 and 36) before the "
                                                "'data' chunk"),
        "list-over": (_riff(_fmt(), over, pcm), f"malformed WAV: chunk 'LIST' at byte 36 claims 100000000 bytes, but "
                                                f"there are {len(_riff(_fmt(), over, pcm))} bytes in all"),
        "rf64-no-ds64": (no_ds64, "malformed WAV: RF64 without a ds64 chunk"),
    }
    for name, (blob, message) in cases.items():
        (tmp_path / f"{name}.wav").write_bytes(blob)
        for source in (str(tmp_path / f"{name}.wav"), f"cat {_q(tmp_path / f'{name}.wav')} |"):
            e = _refused(source, message)
            assert "libsndfile" not in e and "\n" not in e, e
    # a long stream's header is judged on its first MiB: two fmt chunks are named there too
    long_two = _riff(_fmt(), _fmt(), _chunk(b"data", np.zeros(1_000_000, "<i2").tobytes()))
    (tmp_path / "long.wav").write_bytes(long_two)
    _refused(f"cat {_q(tmp_path / 'long.wav')} |", "malformed WAV: two 'fmt ' chunks")
    # what libsndfile reads still reads: a second fmt chunk after the samples, a chunk after them
    # running past the end, an RF64 whose data size is its own (no ds64 needed)
    for blob in (_riff(_fmt(), pcm, _fmt()), _riff(_fmt(), pcm, over),
                 b"RF64" + _riff(_fmt(), pcm)[4:]):
        (tmp_path / "ok.wav").write_bytes(blob)
        np.testing.assert_array_equal(read_wav_source(str(tmp_path / "ok.wav"), "u")[0], x.astype(np.float32))
    # a file cut inside its fmt chunk, no samples after it: libsndfile's words stand (they are right)
    (tmp_path / "cut.wav").write_bytes(_riff(_fmt(), pcm)[:30])
    _refused(str(tmp_path / "cut.wav"), "libsndfile: Error in WAV file. No 'data' chunk marker.")
