"""asrkit-decode on hostile audio files as an end user gives them (`asrkit-decode --model m.pt
files...`, --wav-scp), beside the format-by-format tests of tests/features: each file decodes to
the text its samples give, or is skipped with one line naming it while the others decode, and a
file decodes as its features from asrkit-compute-fbank do. Tiny random packed model (test_decode_cli's),
so texts are compared between paths, never with a reference."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from asrkit.utils.errors import AsrkitError

from test_decode_cli import an4, inproc  # noqa: F401  (fixtures)

FAST = ["--beam", "1", "--maxlenratio", "0.3"]


def lines(out: bytes) -> dict:
    return dict((ln.split(" ", 1) + [""])[:2] for ln in out.decode().splitlines())


@pytest.fixture(scope="module")
def clip8k(an4):
    """1.5 s of an AN4 recording at 8 kHz (12000 samples), and the same at the model's 16 kHz."""
    tmp, _, wavs = an4
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    assert rate == 16000
    d = tmp / "sweep"
    d.mkdir(exist_ok=True)
    sf.write(d / "low.wav", x[:24000:2], 8000, subtype="PCM_16")  # (aliased: the text does not matter)
    sf.write(d / "native.wav", x[:20000], 16000, subtype="PCM_16")
    return d / "low.wav", d / "native.wav"


def test_max_samples_caps_the_copy_resampled_to_the_model_rate(inproc, an4, clip8k, tmp_path):
    # 12000 samples at 8 kHz are under --max-samples 20000, their 16 kHz copy (24000) is not:
    # asrkit-compute-fbank --resample skipped the file, asrkit-decode decoded it at twice the
    # samples the limit allows (2**28 samples at 4 kHz, the default limit: 4 GB resampled).
    _, model, _ = an4
    low, native = clip8k
    proc = inproc("decode", "--model", model, *FAST, "--max-samples", "20000", "--max-bad-percent", "100",
                  low, native)
    assert list(lines(proc.stdout)) == ["native"]
    err = proc.stderr.decode()
    assert (f"skipping utterance 'low' ({low}): resampling 12000 samples from 8000 Hz to 16000 Hz gives 24000, "
            f"over the limit of 20000 samples per read (--max-samples;") in err
    assert "Done 1 out of 2 utterances (1 failed)" in err
    # the same cap, the same verdict as compute-fbank's, through a wav.scp and with segments
    scp = tmp_path / "wav.scp"
    scp.write_text(f"low {low}\nnative {native}\n")
    fbank = inproc("compute-fbank", "--resample", "--num-mel-bins", "40", "--max-samples", "20000",
                   "--max-bad-percent", "100", f"scp:{scp}", f"ark:{tmp_path / 'f.ark'}")
    assert "resampling 12000 samples from 8000 Hz to 16000 Hz gives 24000" in fbank.stderr.decode()
    proc = inproc("decode", "--model", model, *FAST, "--max-samples", "20000", "--max-bad-percent", "100",
                  "--wav-scp", scp)
    assert list(lines(proc.stdout)) == ["native"]
    seg = tmp_path / "segments"
    seg.write_text("low-a low 0 0.5\nlow-b low 0 1.4\n")  # 4000 samples -> 8000; 11200 -> 22400
    proc = inproc("decode", "--model", model, *FAST, "--max-samples", "20000", "--max-bad-percent", "100",
                  "--wav-scp", scp, "--segments", seg)
    assert list(lines(proc.stdout)) == ["low-a"]
    err = proc.stderr.decode()
    assert "utterance 'low-b'" in err and "gives 22400, over the limit of 20000" in err
    # under a limit the copy fits, the file decodes
    proc = inproc("decode", "--model", model, *FAST, "--max-samples", "24000", low)
    assert list(lines(proc.stdout)) == ["low"]


def test_transcriber_max_samples_caps_the_resampled_copy(an4, clip8k):
    from asrkit import Transcriber

    _, model, _ = an4
    low, _ = clip8k
    t = Transcriber.from_file(model, beam=1, maxlenratio=0.3, max_samples=20000)
    x, rate = sf.read(str(low), dtype="int16")
    for audio, shown in ((str(low), f"input 0 ({low})"), ((x, rate), "input 0")):
        with pytest.raises(AsrkitError) as e:
            t.transcribe(audio)
        assert str(e.value).startswith(f"{shown}: resampling 12000 samples from 8000 Hz to 16000 Hz gives 24000, "
                                       f"over the limit of 20000 samples per read (max_samples=;")
    assert t.transcribe((x[:9000], rate)).duration > 0  # 18000 resampled: under the limit


def test_a_kaldi_table_given_as_an_audio_file_names_the_option_it_belongs_to(inproc, an4, clip8k, tmp_path):
    # `asrkit-decode --model m.pt data/test/wav.scp` (--wav-scp forgotten) was skipped as "not a
    # recognised audio file ... convert anything else in wav.scp", as if it were audio to convert.
    _, model, wavs = an4
    _, native = clip8k
    (tmp_path / "data").mkdir()
    scp = tmp_path / "data" / "wav.scp"
    scp.write_text(f"a {wavs[0]}\nb cat {wavs[1]} |\n")
    inproc("compute-fbank", "--num-mel-bins", "40", f"scp:{scp}",
           f"ark,scp:{tmp_path / 'raw.ark'},{tmp_path / 'feats.scp'}")
    text = tmp_path / "text"
    text.write_text("a HELLO WORLD\nb GOOD MORNING\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("just some words\n")
    proc = inproc("decode", "--model", model, *FAST, "--max-bad-percent", "100",
                  scp, tmp_path / "feats.scp", tmp_path / "raw.ark", text, notes, native)
    assert list(lines(proc.stdout)) == ["native"]
    err = proc.stderr.decode()
    assert f"skipping utterance 'wav' ({scp}): a wav.scp, not an audio file: give it as --wav-scp {scp}\n" in err
    assert (f"skipping utterance 'feats' ({tmp_path / 'feats.scp'}): an scp of features, not an audio file: give "
            f"it as --feats scp:{tmp_path / 'feats.scp'}\n") in err
    assert (f"skipping utterance 'raw' ({tmp_path / 'raw.ark'}): a Kaldi ark of matrices (features?), not an "
            f"audio file: give it as --feats ark:{tmp_path / 'raw.ark'}\n") in err
    # other text is no table of these: the reader's own message
    for name in ("text", "notes"):
        assert f"skipping utterance '{name}' ({tmp_path / name}" in err
    assert err.count("not a recognised audio file") == 2
    assert "Done 1 out of 6 utterances (5 failed)" in err


def _wav_with_chunk_before_data(samples: np.ndarray, rate: int, cid: bytes, size: int) -> bytes:
    import struct

    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + cid + struct.pack("<I", size)
            + b"<x/>" * (size // 4)
            + b"data" + struct.pack("<I", samples.nbytes) + samples.astype("<i2").tobytes())
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _with_metadata(kind: str, x: np.ndarray, rate: int, size: int) -> bytes:
    """``x`` as a ``kind`` file with ``size`` bytes of metadata before its samples."""
    import io
    import struct

    if kind == "wav":
        return _wav_with_chunk_before_data(x, rate, b"iXML", size)
    buf = io.BytesIO()
    if kind == "ogg":  # a Vorbis comment (cover art goes there, base64), over many pages
        with sf.SoundFile(buf, "w", rate, 1, "VORBIS", format="OGG") as f:
            f.comment = "A" * size
            f.write(x)
        return buf.getvalue()
    sf.write(buf, x, rate, format=kind.upper())
    blob = buf.getvalue()
    if kind == "aiff":  # an application chunk before the SSND chunk
        at = blob.index(b"SSND")
        blob = blob[:at] + b"APPL" + struct.pack(">I", size) + b"\0" * size + blob[at:]
        return blob[:4] + struct.pack(">I", len(blob) - 8) + blob[8:]
    if kind == "mp3":  # an ID3v2 tag (cover art) before the frames
        assert blob[:3] != b"ID3"
        return b"ID3\x03\x00\x00" + bytes((size >> s) & 127 for s in (21, 14, 7, 0)) + b"\0" * size + blob
    # FLAC: a PADDING block after STREAMINFO (a PICTURE block is as large)
    assert blob[:4] == b"fLaC" and blob[4] & 0x7F == 0
    last = blob[4] & 0x80
    return (b"fLaC" + bytes([blob[4] & 0x7F]) + blob[5:42] + bytes([0x01 | last]) + size.to_bytes(3, "big")
            + b"\0" * size + blob[42:])


@pytest.mark.parametrize("kind", ["wav", "aiff", "flac", "mp3", "ogg"])
def test_a_stream_with_megabytes_of_metadata_before_its_samples_reads_as_its_file(inproc, an4, tmp_path, kind):
    # A field recorder's iXML before a WAV's data chunk, an AIFF's application chunk, cover art in
    # an MP3's ID3v2 tag, a FLAC's PICTURE block or an OGG's comments: the file decoded, the same
    # bytes from a pipe ('cat x |', curl, stdin) were "no recognisable audio header in the first
    # 1048576 bytes of the stream".
    _, model, wavs = an4
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    path = tmp_path / f"tagged.{kind}"
    path.write_bytes(_with_metadata(kind, x[:24000], rate, 3 << 20))
    from asrkit.features.wav import read_wav_source

    a, b = read_wav_source(str(path), "f"), read_wav_source(f"cat {path} |", "p")
    assert a[1] == b[1] == rate and np.array_equal(a[0], b[0])
    if kind in ("wav", "aiff", "flac"):
        assert np.array_equal(a[0], x[:24000])
    scp = tmp_path / "wav.scp"
    scp.write_text(f"file {path}\npipe cat {path} |\n")
    proc = inproc("decode", "--model", model, *FAST, "--wav-scp", scp)
    texts = lines(proc.stdout)
    assert list(texts) == ["file", "pipe"] and texts["file"] == texts["pipe"]


def test_a_wav_stream_of_endless_chunks_is_refused_after_a_bounded_read(tmp_path):
    # chunks of metadata without end: read no further than the metadata limit, then refused
    from asrkit.features import wav

    head = _wav_with_chunk_before_data(np.zeros(0, np.int16), 16000, b"JUNK", 8)[:-8]  # (no data chunk)
    (tmp_path / "head.bin").write_bytes(head)
    cmd = (f"cat {tmp_path / 'head.bin'}; while :; do printf 'JUNK\\000\\000\\020\\000'; "
           f"head -c 1048576 /dev/zero || exit; done |")
    with pytest.raises(AsrkitError, match="no recognisable audio header in the first"):
        wav.read_wav_source(cmd, "endless")


def _damaged_64bit_chunk_size(kind: str, x: np.ndarray, rate: int) -> bytes:
    """A W64 or CAF file whose first chunk after the header states a size near 2**63."""
    import io
    import struct

    buf = io.BytesIO()
    sf.write(buf, x, rate, format=kind, subtype="PCM_16")
    blob = bytearray(buf.getvalue())
    if kind == "W64":  # 40 bytes of header, then a 16-byte GUID and a little-endian size
        struct.pack_into("<Q", blob, 56, (1 << 63) - 16)
    else:  # CAF: 8 bytes of header, then a 4-byte type and a big-endian signed size
        struct.pack_into(">q", blob, 12, (1 << 63) - 16)
    return bytes(blob)


@pytest.mark.parametrize("kind", ["W64", "CAF"])
def test_a_damaged_64_bit_chunk_size_is_a_skip_not_a_traceback(inproc, an4, clip8k, tmp_path, kind):
    # The chunk walk reached an offset os.pread cannot take: "OverflowError: Python int too large
    # to convert to C long", a traceback that ended the run and the other files with it.
    _, model, wavs = an4
    _, native = clip8k
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    path = tmp_path / f"damaged.{kind.lower()}"
    path.write_bytes(_damaged_64bit_chunk_size(kind, x[:16000], rate))
    proc = inproc("decode", "--model", model, *FAST, "--max-bad-percent", "100", path, native)
    assert list(lines(proc.stdout)) == ["native"]
    err = proc.stderr.decode()
    assert f"skipping utterance 'damaged' ({path}): " in err and "Done 1 out of 2 utterances (1 failed)" in err


def test_float_samples_beyond_float32_are_named_as_what_they_are(inproc, an4, clip8k, tmp_path):
    # A finite 3e38 overflowed when scaled to int16 range (a numpy RuntimeWarning on stderr), then
    # was reported as "non-finite sample value (inf)", for a file holding no inf; a NaN in a
    # channel not asked for stopped the one that was.
    import warnings

    from asrkit.features.wav import read_wav_source

    _, model, wavs = an4
    _, native = clip8k
    x, rate = sf.read(str(wavs[0]), dtype="float32")
    x = x[:16000]
    huge = x.copy()
    huge[100] = 3e38
    sf.write(tmp_path / "huge.wav", huge, rate, subtype="FLOAT")
    double = x.astype(np.float64)
    double[100] = 1e300
    sf.write(tmp_path / "double.wav", double, rate, subtype="DOUBLE")
    stereo = np.stack([x, x], 1)
    stereo[5, 1] = np.nan
    sf.write(tmp_path / "stereo.wav", stereo, rate, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for src in (str(tmp_path / "huge.wav"), f"cat {tmp_path / 'huge.wav'} |"):
            with pytest.raises(AsrkitError, match=r"^h: float samples reach 3e\+38, beyond the \+-1.0 full scale"):
                read_wav_source(src, "h")
        with pytest.raises(AsrkitError, match=r"^d: non-finite sample value \(inf or a double beyond float32's "
                                              r"range\) at sample 100$"):
            read_wav_source(str(tmp_path / "double.wav"), "d")
        with pytest.raises(AsrkitError, match=r"^s: non-finite sample value \(nan\) at sample 5$"):
            read_wav_source(str(tmp_path / "stereo.wav"), "s")
        left, _ = read_wav_source(str(tmp_path / "stereo.wav"), "s", channel=0)
    assert np.array_equal(left, (x * 32768).astype(np.float32))
    proc = inproc("decode", "--model", model, *FAST, "--max-bad-percent", "100",
                  tmp_path / "huge.wav", tmp_path / "double.wav", native)
    assert list(lines(proc.stdout)) == ["native"]
    assert "RuntimeWarning" not in proc.stderr.decode()
