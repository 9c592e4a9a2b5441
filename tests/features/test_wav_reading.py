"""Reading wav.scp entries: files, pipes, segments, and every way audio can be bad."""
from __future__ import annotations

import re
import shlex
import struct

import numpy as np
import pytest
from feat_helpers import read_wav_reference, write_scp, write_wav
from process_checks import a_process_left_holding_the_output

from asrkit.features.wav import EXPECT_MONO, read_audio_bytes, read_wav_source
from asrkit.features.wav_scp import iter_wavs, read_wav_scp
from asrkit.utils.errors import AsrkitError


def _load_all(entries):
    out = {}
    for entry, audio, error in iter_wavs(entries):
        out[entry.utt_id] = error if error is not None else audio
    return out


def test_paths_and_pipes_read_the_same_samples(tmp_path, an4_wavs):
    wav = an4_wavs[0]
    scp = write_scp(tmp_path / "wav.scp", [("a", wav), ("b", f"cat {wav} |"), ("c", f"cat {wav}|")])
    got = _load_all(read_wav_scp(f"scp:{scp}"))
    ref, rate = read_wav_reference(wav)
    for utt in "abc":
        samples, r = got[utt]
        assert r == rate == 16000 and samples.dtype == np.float32
        np.testing.assert_array_equal(samples, ref)
    assert abs(ref).max() > 1000, "int16 scale, as Kaldi's features expect"


def test_a_wav_scp_read_without_the_segments_beside_it_says_so(tmp_path, caplog):
    """The README's pipeline 'asrkit-compute-fbank scp:data/test/wav.scp ark:- | ...' on a data dir
    with a segments file computed each recording whole, as one utterance under its recording id (one
    61 s utterance for 23), without a word; asrkit-decode --wav-scp alike. Now a warning names the
    option; given --segments, or with no segments file beside the wav.scp, nothing is said."""
    import logging

    d = tmp_path / "data test"
    d.mkdir()
    wav = write_wav(d / "rec.wav", (np.arange(1600) % 200 - 100).astype(np.int16), 8000)
    (d / "wav.scp").write_text(f"rec {wav}\n")
    (d / "segments").write_text("rec-a rec 0.00 0.10\nrec-b rec 0.10 0.20\n")
    said = set()  # (the command's: a command reading its table twice says it once)
    with caplog.at_level(logging.WARNING):
        entries = read_wav_scp(f"scp:{d / 'wav.scp'}", segments_said=said)
        read_wav_scp(str(d / "wav.scp"), segments_said=said)
    assert [e.utt_id for e in entries] == ["rec"]
    assert [r.getMessage() for r in caplog.records] == [
        f"{d / 'wav.scp'} has a segments file beside it, which was not given: its recordings are read whole, as "
        f"utterances named by their recording ids; to read the utterances it describes, give --segments "
        f"{d / 'segments'}"]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert [e.utt_id for e in read_wav_scp(f"scp:{d / 'wav.scp'}", d / "segments")] == ["rec-a", "rec-b"]
        (tmp_path / "plain").mkdir()
        (tmp_path / "plain" / "wav.scp").write_text(f"rec {wav}\n")
        read_wav_scp(str(tmp_path / "plain" / "wav.scp"))
    assert caplog.records == []


def test_the_unused_segments_warning_is_each_commands_and_blank_segments_say_nothing(tmp_path, caplog):
    """The once-per-table memory was a module-level set never cleared: a second command run in the
    same process (a notebook, a test, a driver script) was not warned. It is the command's now:
    asrkit-decode's inputs read the table twice and say it once, another command says it again. A
    segments file of white space only describes no utterance and is not warned of."""
    import logging

    from asrkit.decoding.inputs import DecodeInputs

    d = tmp_path / "data"
    d.mkdir()
    wav = write_wav(d / "rec.wav", (np.arange(1600) % 200 - 100).astype(np.int16), 8000)
    (d / "wav.scp").write_text(f"rec {wav}\n")
    (d / "segments").write_text("rec-a rec 0.00 0.10\n")
    with caplog.at_level(logging.WARNING):
        for _ in range(2):  # two commands, each reading its table twice
            inputs = DecodeInputs(wav_scp=str(d / "wav.scp"))
            inputs.wav_entries()
            assert inputs.all_ids() == ["rec"]
    assert [r.getMessage().split(" has a segments file")[0] for r in caplog.records] == [str(d / "wav.scp")] * 2
    caplog.clear()
    (d / "segments").write_text("\n  \t\n\n")
    with caplog.at_level(logging.WARNING):
        assert [e.utt_id for e in read_wav_scp(str(d / "wav.scp"))] == ["rec"]
    assert caplog.records == []


@pytest.mark.parametrize("marker", [0xFFFFFFFF, 0x7FFFF000, 0])
def test_streamed_header_sizes_are_accepted_from_pipes(tmp_path, marker):
    samples = (np.arange(800) % 200 - 100).astype(np.int16)
    wav = write_wav(tmp_path / "x.wav", samples, 8000).read_bytes()
    # What a streaming writer puts in the header: it cannot seek back to fill in the sizes.
    streamed = wav[:4] + struct.pack("<I", marker) + wav[8:40] + struct.pack("<I", marker) + wav[44:]
    got, rate = read_audio_bytes(streamed, "x", streamed=True)
    np.testing.assert_array_equal(got, samples)
    assert rate == 8000
    (tmp_path / "s.bin").write_bytes(streamed)
    got, _ = read_wav_source(f"cat {shlex.quote(str(tmp_path / 's.bin'))} |", "x")
    np.testing.assert_array_equal(got, samples)
    if marker == 0:
        # In a file, a data size of 0 is taken at its word: the writer said there are no samples.
        with pytest.raises(AsrkitError, match="no samples"):
            read_wav_source(str(tmp_path / "s.bin"), "x")


@pytest.mark.parametrize("subtype,channels", [("PCM_24", 1), ("PCM_24", 2), ("PCM_16", 3), ("FLOAT", 3)])
def test_sox_placeholders_rounded_to_whole_frames_are_streams_not_truncation(tmp_path, subtype, channels):
    """sox writing WAV to a pipe states 0x7FFFF000 rounded down to whole frames as its data size
    (2147479551 for 24-bit mono, 2147479548 for 24-bit stereo): a speed-perturbed copy of a 24-bit
    recording ('sox -t wav x.wav -t wav - speed 0.9 |', asrkit-perturb-data-dir-speed's and Kaldi's
    pipes) was skipped as "truncated WAV stream", every such utterance of a corpus. One frame less
    than the placeholder is still a truncated stream."""
    import soundfile as sf

    samples = ((np.arange(800 * channels) % 200 - 100) / 400).reshape(800, channels)
    sf.write(tmp_path / "x.wav", samples, 8000, subtype=subtype)
    wav = (tmp_path / "x.wav").read_bytes()
    want, _ = read_wav_source(str(tmp_path / "x.wav"), "x")
    data = wav.index(b"data")
    block = struct.unpack_from("<H", wav, wav.index(b"fmt ") + 20)[0]
    placeholder = 0x7FFFF000 // block * block
    assert (placeholder == 0x7FFFF000) == (block in (1, 2, 4, 8))  # the sizes the old set knew

    def streamed(size):
        return wav[:4] + struct.pack("<I", size + data - 8) + wav[8:data + 4] + struct.pack("<I", size) + wav[data + 8:]

    got, rate = read_audio_bytes(streamed(placeholder), "x", streamed=True)
    np.testing.assert_array_equal(got, want)
    assert rate == 8000
    with pytest.raises(AsrkitError, match=f"^x: truncated WAV stream \\(header promises {placeholder - block} bytes"):
        read_audio_bytes(streamed(placeholder - block), "x", streamed=True)


def test_a_sox_speed_pipe_of_a_24_bit_recording_reads(tmp_path):
    from debian_packages import require_program

    require_program("sox")
    import soundfile as sf

    samples = np.sin(np.arange(16000) * 0.05) * 0.3
    sf.write(tmp_path / "take 24.wav", samples, 16000, subtype="PCM_24")
    want, _ = read_wav_source(str(tmp_path / "take 24.wav"), "x")
    got, rate = read_wav_source(f"sox -t wav {shlex.quote(str(tmp_path / 'take 24.wav'))} -t wav - speed 1.0 |", "x")
    assert rate == 16000 and len(got) == len(want)
    np.testing.assert_allclose(got, want, atol=2)  # (sox's speed effect resamples: within 2 of 32768)


@pytest.mark.parametrize("riff_size", [0, 0xFFFFFFFF, None])
def test_a_file_with_samples_after_a_data_size_of_0_says_so(tmp_path, riff_size):
    """A streaming writer's header left in a file (sizes never filled in) with the samples after it:
    read as "empty WAV/PCM_16 audio (no samples)", the recording seemed empty. It is an error that
    counts the bytes there and says how to read them (a pipe does, as Kaldi reads such a file)."""
    samples = (np.arange(800) % 200 - 100).astype(np.int16)
    wav = write_wav(tmp_path / "x.wav", samples, 8000).read_bytes()
    size = len(wav) - 8 if riff_size is None else riff_size
    (tmp_path / "s.wav").write_bytes(wav[:4] + struct.pack("<I", size) + wav[8:40] + struct.pack("<I", 0) + wav[44:])
    with pytest.raises(AsrkitError) as e:
        read_wav_source(str(tmp_path / "s.wav"), "utterance 'u'")
    assert str(e.value) == ("utterance 'u': the WAV header states no samples (data size 0, as a writer that cannot "
                            "seek back leaves it), but 1600 bytes that are not chunks follow it; if they are the "
                            "recording, rewrite the file (sox --ignore-length in.wav out.wav) or read it through a "
                            "pipe ('<utt> cat <file> |' in wav.scp reads to the end)")
    got, _ = read_wav_source(f"cat {shlex.quote(str(tmp_path / 's.wav'))} |", "u")
    np.testing.assert_array_equal(got, samples)
    # a recording that is empty, said so by its header, is still "no samples" (chunks or padding after it too)
    for after in (b"", b"LIST" + struct.pack("<I", 4) + b"INFO", bytes(64)):
        head = wav[:4] + struct.pack("<I", 36 + len(after) if riff_size is None else riff_size) + wav[8:40]
        (tmp_path / "e.wav").write_bytes(head + struct.pack("<I", 0) + after)
        with pytest.raises(AsrkitError, match=r"empty WAV/PCM_16 audio \(no samples\)"):
            read_wav_source(str(tmp_path / "e.wav"), "u")


def test_a_recording_whose_python_wave_writer_died_before_close_is_not_called_empty(tmp_path):
    """Python's wave module writes its header before the first sample (RIFF size 36, data size 0)
    and fills the sizes in at close(): a recorder killed before that left a file whose RIFF ends
    where the samples start, with seconds of them after it. Read as "empty WAV/PCM_16 audio (no
    samples)" (and counted by make-data-dir as a file with no samples), it is now the error that
    counts the bytes and says how to read them. libsndfile's own such header (RIFF 8), which it
    reads to the end, is read as before; a header alone is still empty."""
    import wave

    samples = (np.arange(800) % 200 - 100).astype(np.int16)
    with open(tmp_path / "killed.wav", "wb") as f:
        w = wave.open(f, "wb")
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframesraw(b"")   # the header, sizes 0
        f.write(samples.tobytes())  # the recording, then no close(): the process died
        w._file = None  # (keep wave's __del__ from finishing the file)
    raw = (tmp_path / "killed.wav").read_bytes()
    assert struct.unpack_from("<I", raw, 4)[0] == 36 and struct.unpack_from("<I", raw, 40)[0] == 0
    with pytest.raises(AsrkitError) as e:
        read_wav_source(str(tmp_path / "killed.wav"), "u")
    assert "the WAV header states no samples" in str(e.value) and "1600 bytes that are not chunks" in str(e.value)
    got, _ = read_wav_source(f"cat {shlex.quote(str(tmp_path / 'killed.wav'))} |", "u")
    np.testing.assert_array_equal(got, samples)
    (tmp_path / "sf.wav").write_bytes(raw[:4] + struct.pack("<I", 8) + raw[8:])
    got, _ = read_wav_source(str(tmp_path / "sf.wav"), "u")
    np.testing.assert_array_equal(got, samples)
    (tmp_path / "header.wav").write_bytes(raw[:44])
    with pytest.raises(AsrkitError, match=r"empty WAV/PCM_16 audio \(no samples\)"):
        read_wav_source(str(tmp_path / "header.wav"), "u")


def test_segments_cut_as_kaldi_does(tmp_path, an4_wavs):
    ref, rate = read_wav_reference(an4_wavs[1])
    dur = len(ref) / rate
    scp = write_scp(tmp_path / "wav.scp", [("rec1", an4_wavs[1]), ("rec2", f"cat {an4_wavs[1]} |")])
    segments = write_scp(tmp_path / "segments", [
        ("u1", "rec1 0.1 0.5"), ("u2", "rec1 0.5 -1"), ("u3", f"rec2 0.25 {dur + 0.3:.3f}"),  # overshoot clipped
    ])
    got = _load_all(read_wav_scp(f"scp:{scp}", segments))
    assert list(got) == ["u1", "u2", "u3"]
    np.testing.assert_array_equal(got["u1"][0], ref[int(0.1 * rate):int(0.5 * rate)])
    np.testing.assert_array_equal(got["u2"][0], ref[int(0.5 * rate):])
    np.testing.assert_array_equal(got["u3"][0], ref[int(0.25 * rate):])


def test_bad_segments(tmp_path, an4_wavs):
    """A segments file with no usable line is an error naming its first bad line."""
    scp = write_scp(tmp_path / "wav.scp", [("rec1", an4_wavs[0])])
    for line, message in [("u1 rec9 0 1", r"segments:1: recording 'rec9' of utterance 'u1' is not in"),
                          ("u1 rec1 0.5", r"segments:1: malformed segment"),
                          ("u1 rec1 1.0 0.5", r"segments:1: segment end 0.5 is not after its start 1.0"),
                          # Python's float() reads these as 10 and 1; Kaldi's strtod does not
                          ("u1 rec1 0 1_0", r"segments:1: start and end must be finite numbers"),
                          ("u1 rec1 0 \u0661", r"segments:1: start and end must be finite numbers")]:
        segs = write_scp(tmp_path / "segments", [tuple(line.split(maxsplit=1))])
        with pytest.raises(AsrkitError, match=message):
            read_wav_scp(f"scp:{scp}", segs)
    segs = write_scp(tmp_path / "segments", [("u1", "rec1 0.1 99"), ("u2", "rec1 0.1 0.2"),
                                             # finite seconds, infinite samples: int() of them was
                                             # an OverflowError traceback
                                             ("u3", "rec1 1e306 2e306"), ("u4", "rec1 0 1e306"),
                                             ("u5", "rec1 1e306 -1"), ("u6", "rec1 0 -1.0")])
    got = _load_all(read_wav_scp(f"scp:{scp}", segs))
    assert isinstance(got["u1"], AsrkitError) and "past the recording" in str(got["u1"])
    assert not isinstance(got["u2"], AsrkitError)
    assert "segment ends at 2e+306 s, past the recording" in str(got["u3"])
    assert "segment ends at 1e+306 s, past the recording" in str(got["u4"])
    assert "segment [1e+306, -1.0] s holds no samples" in str(got["u5"])
    assert not isinstance(got["u6"], AsrkitError)


def test_a_bad_segments_line_is_a_failed_utterance_not_the_end_of_the_file(tmp_path, an4_wavs):
    """Kaldi's extract-segments warns of a bad segments line and goes on; asrkit stopped every
    utterance of the file on it. Its utterance now fails when read, naming the line, as one past
    its recording's end does, and the callers skip and count it."""
    scp = write_scp(tmp_path / "wav.scp", [("rec1", an4_wavs[0]), ("rec2", an4_wavs[1])])
    segs = write_scp(tmp_path / "segments", [("u1", "rec1 0 1"), ("u2", "rec1 1.0 0.5"), ("u3", "rec2 0 abc"),
                                             ("u4", "rec9 0 1"), ("u5", "rec1 0.5"), ("u6", "rec2 0.5 1.5")])
    entries = read_wav_scp(f"scp:{scp}", segs)
    assert [e.utt_id for e in entries] == ["u1", "u2", "u3", "u4", "u5", "u6"]
    got = _load_all(entries)
    assert [u for u, v in got.items() if not isinstance(v, AsrkitError)] == ["u1", "u6"]
    assert str(got["u2"]) == f"utterance 'u2': {segs}:2: segment end 0.5 is not after its start 1.0"
    assert str(got["u3"]) == f"utterance 'u3': {segs}:3: start and end must be finite numbers, got '0' 'abc'"
    assert str(got["u4"]) == f"utterance 'u4': {segs}:4: recording 'rec9' of utterance 'u4' is not in {scp}"
    assert str(got["u5"]) == f"utterance 'u5': {segs}:5: malformed segment (expected '<utt> <recording> <start> <end>')"
    with pytest.raises(AsrkitError, match=re.escape(f"utterance 'u2': {segs}:2: segment end 0.5")):
        entries[1].load()
    segs.write_text("u1 rec1 2 1\nu2 rec7 0 1\n")
    with pytest.raises(AsrkitError, match="^" + re.escape(
            f"{segs}: no usable segment in its 2 line(s) (first: utterance 'u1': {segs}:1: segment end 1 is not "
            f"after its start 2); asrkit-validate-data-dir names each bad line") + "$"):
        read_wav_scp(f"scp:{scp}", segs)


def test_bad_audio_is_reported_per_utterance(tmp_path, an4_wavs):
    good = an4_wavs[0].read_bytes()
    (tmp_path / "truncated.wav").write_bytes(good[: len(good) // 2])
    (tmp_path / "empty.wav").write_bytes(b"")
    write_wav(tmp_path / "nosamples.wav", np.zeros(0), 16000)
    (tmp_path / "text.wav").write_bytes(b"this is not audio at all\n")
    (tmp_path / "header.wav").write_bytes(good[:30])
    write_wav(tmp_path / "stereo.wav", np.zeros(3200), 16000, channels=2)
    scp = write_scp(tmp_path / "wav.scp", [
        ("good", an4_wavs[0]), ("truncated", tmp_path / "truncated.wav"), ("empty", tmp_path / "empty.wav"),
        ("nosamples", tmp_path / "nosamples.wav"), ("text", tmp_path / "text.wav"),
        ("header", tmp_path / "header.wav"), ("stereo", tmp_path / "stereo.wav"),
        ("missing", tmp_path / "missing.wav"), ("failing", "exit 3 |"),
    ])
    got = _load_all(read_wav_scp(f"scp:{scp}", channel=EXPECT_MONO))
    assert not isinstance(got.pop("good"), AsrkitError)
    expected = {
        "truncated": f"truncated WAV file (header promises {len(good) - 44} bytes of samples, "
                     f"file has {len(good) // 2 - 44})",
        "empty": "empty file (0 bytes)",
        "nosamples": "empty WAV/PCM_16 audio (no samples)",
        "text": "not a recognised audio file (starts with b'this')",
        "header": "unsupported or corrupt audio (libsndfile: Error in WAV file. No 'data' chunk marker.)",
        "stereo": "audio has 2 channels; choose one with --channel N (0-based)",
        "missing": "no such file",
        "failing": "command 'exit 3' exited with status 3",
    }
    for utt, message in expected.items():
        err = got[utt]
        assert isinstance(err, AsrkitError), utt
        assert f"utterance '{utt}'" in str(err) and message in str(err), str(err)
        assert f"wav.scp:" in str(err), "the error names the wav.scp line"
        assert "\n" not in str(err), "one line"
    # --channel picks one channel of a multi-channel file; by default the channels are averaged.
    stereo = _load_all(read_wav_scp(f"scp:{scp}", channel=1))["stereo"]
    assert stereo[0].shape == (1600,)
    assert _load_all(read_wav_scp(f"scp:{scp}"))["stereo"][0].shape == (1600,)
    third = _load_all(read_wav_scp(f"scp:{scp}", channel=2))["stereo"]
    assert "--channel 2 but the audio has 2 channel(s)" in str(third)


def test_malformed_tables_fail_up_front(tmp_path, an4_wavs):
    scp = tmp_path / "wav.scp"
    scp.write_text(f"a {an4_wavs[0]}\nb\n")
    with pytest.raises(AsrkitError, match=r"wav.scp:2: malformed line"):
        read_wav_scp(f"scp:{scp}")
    scp.write_text(f"a {an4_wavs[0]}\na {an4_wavs[1]}\n")
    with pytest.raises(AsrkitError, match=r"wav.scp:2: duplicate id 'a' \(first on line 1\)"):
        read_wav_scp(f"scp:{scp}")
    with pytest.raises(AsrkitError, match="no such file"):
        read_wav_scp(f"scp:{tmp_path / 'nope.scp'}")
    with pytest.raises(AsrkitError, match="asrkit reads audio from a wav.scp"):
        read_wav_scp(f"ark:{scp}")


def _wav_header(channels: int, rate: int, bits: int, block_align: int, data: bytes) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block_align, block_align, bits)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)


def test_inconsistent_or_absurd_wav_headers_are_refused(tmp_path, an4_wavs):
    pcm = an4_wavs[0].read_bytes()[44:]
    cases = {
        # libsndfile read this by its block align (one byte per sample): 16-bit speech decoded as
        # 8-bit noise of twice the length, and the decode "succeeded" with a made-up text.
        "bits7": (_wav_header(1, 16000, 7, 0, pcm), "malformed WAV header: block align 0 for 1 channel(s) of "
                                                    "7 bits (expected 1)"),
        "align4": (_wav_header(1, 16000, 16, 4, pcm), "block align 4 for 1 channel(s) of 16 bits (expected 2)"),
        # torchaudio's resampler would have built a 68 TB filter for this rate
        "rate_1ghz": (_wav_header(1, 1_073_741_823, 16, 2, pcm), "sample rate 1073741823 Hz in the header is over "
                                                                 "the 768000 Hz asrkit reads"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / f"{name}.wav").write_bytes(data)
        for source in (str(tmp_path / f"{name}.wav"), f"cat {shlex.quote(str(tmp_path / f'{name}.wav'))} |"):
            with pytest.raises(AsrkitError) as e:
                read_wav_source(source, f"utterance {name!r}")
            assert message in str(e.value) and f"utterance {name!r}" in str(e.value), str(e.value)
    # consistent headers of the other widths still read: 12 bits in 2-byte containers, stereo
    (tmp_path / "ok12.wav").write_bytes(_wav_header(1, 16000, 12, 2, pcm))
    (tmp_path / "stereo.wav").write_bytes(_wav_header(2, 16000, 16, 4, pcm))
    assert read_wav_source(str(tmp_path / "ok12.wav"), "x")[0].size > 0
    assert read_wav_source(str(tmp_path / "stereo.wav"), "x")[0].size == len(pcm) // 4


@pytest.mark.parametrize("rate,target", [(44100, 16000), (8000, 16000), (16000, 22050)])
def test_per_sample_resampler_is_torchaudios_filter(an4_wavs, rate, target):
    from asrkit.features.resample import _resample_per_sample, resample

    x, _ = read_wav_reference(an4_wavs[0])
    ours, theirs = _resample_per_sample(x, rate, target), resample(x, rate, target)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    # the same windowed sinc; float32 kernels in torchaudio against float64 here
    assert np.abs(ours - theirs).max() < 1e-4 * np.abs(theirs).max()


def test_rates_sharing_little_with_the_target_resample_in_bounded_memory(an4_wavs):
    import resource

    from asrkit.features.resample import resample

    x, _ = read_wav_reference(an4_wavs[0])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # 44101 Hz and 16 kHz are coprime: torchaudio's filter bank for them is 16000 x 44135
    # elements (12 GB with its temporaries, 90 s for one second of audio).
    odd = resample(x, 44101, 16000)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 500, grown_mb
    assert len(odd) == int(np.ceil(len(x) * 16000 / 44101))
    # and it is a resampler: a 1 kHz tone at 44101 Hz comes out as the same tone at 16 kHz
    t = np.arange(44101) / 44101
    tone = resample((1000 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), 44101, 16000)
    want = 1000 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    inner = slice(100, -100)  # the ends see the zero padding
    assert np.abs(tone[inner] - want[inner]).max() < 5, np.abs(tone[inner] - want[inner]).max()


@pytest.mark.parametrize("rate, target", [(16000, 8000), (8000, 16000), (44100, 16000), (48000, 8000)])
def test_long_audio_is_resampled_a_block_at_a_time(an4_wavs, monkeypatch, rate, target):
    """torchaudio's resampler holds ~45 bytes per input sample: an hour of 16 kHz audio resampled
    for an 8 kHz model peaked at 2.6 GB (decode: 2.9 GB), the 2**28 samples --max-samples allows
    at ~12 GB. It now gets a block at a time, with the filter's reach of real samples either side,
    so the samples come out as from one call (to float rounding) whatever the block size."""
    import torch
    import torchaudio.functional as taf

    from asrkit.features import resample

    x, _ = read_wav_reference(an4_wavs[0])
    whole = taf.resample(torch.from_numpy(x), rate, target).numpy()
    block = 5000
    monkeypatch.setattr(resample, "_RESAMPLE_BLOCK", block)
    lengths = []
    real = taf.resample
    monkeypatch.setattr(taf, "resample", lambda w, *a, **k: lengths.append(len(w)) or real(w, *a, **k))
    got = resample.resample(x, rate, target)
    assert len(lengths) > 3 and max(lengths) < 2 * block, lengths
    assert len(got) == len(whole)
    assert np.abs(got - whole).max() < 0.01, np.abs(got - whole).max()  # (int16 scale: 3e-7 of full scale)


def test_a_segment_alone_reads_only_its_samples(tmp_path, monkeypatch):
    """A segment loaded on its own (training from audio reads each utterance so) read its whole
    recording: 138 ms for 2 s of an hour of 8 kHz audio, hours an epoch (hostile-input sweep 8a).
    An int16 WAV is now read only between the segment's ends, with the same samples and errors as
    the whole read; other formats and pipes are cut after a whole read as before."""
    import soundfile

    from asrkit.features.wav_scp import WavEntry

    rate = 8000
    x = (np.random.default_rng(0).normal(0, 3000, 60 * rate)).clip(-32768, 32767).astype(np.int16)
    write_wav(tmp_path / "mono.wav", x, rate)
    write_wav(tmp_path / "stereo.wav", np.stack([x, x // 2], axis=1).reshape(-1), rate, channels=2)
    soundfile.write(str(tmp_path / "mono.flac"), x, rate, subtype="PCM_16")
    frames_read = []
    read = soundfile.SoundFile.read

    def counted(self, frames=-1, *args, **kwargs):
        frames_read.append(frames)
        return read(self, frames, *args, **kwargs)

    monkeypatch.setattr(soundfile.SoundFile, "read", counted)
    cases = [("mono.wav", EXPECT_MONO, x), ("stereo.wav", 1, x // 2), ("mono.flac", EXPECT_MONO, x),
             (f"cat {shlex.quote(str(tmp_path / 'mono.wav'))} |", EXPECT_MONO, x)]
    for name, channel, ref in cases:
        source = name if name.endswith("|") else str(tmp_path / name)
        for start, end in ((10.0, 12.5), (0.0, 0.3), (59.5, -1), (59.0, 60.4)):
            frames_read.clear()
            entry = WavEntry("u", source, "segments:1", reco_id="r", start=start, end=end, channel=channel)
            got, got_rate = entry.load()
            stop = len(ref) if end == -1 or end * rate > len(ref) else int(end * rate)
            np.testing.assert_array_equal(got, ref[int(start * rate):stop].astype(np.float32))
            assert got_rate == rate
            if name.endswith(".wav"):
                assert frames_read == [stop - int(start * rate)], (name, start, end, frames_read)
            elif name.endswith(".flac"):
                assert frames_read == [len(ref)]
        for start, end, message in ((0.0, 61.0, r"segment ends at 61.0 s, past the recording \(60.000 s\)"),
                                    (70.0, -1, r"segment \[70.0, -1\] s holds no samples")):
            with pytest.raises(AsrkitError, match=message):
                WavEntry("u", source, "segments:1", reco_id="r", start=start, end=end, channel=channel).load()


def test_a_failing_pipes_long_stderr_gives_its_last_line(tmp_path, monkeypatch):
    # A chatty command (ffmpeg's progress, sox -V) can write megabytes to stderr before it fails:
    # the message names its last line, from the end kept of it, never the whole of it in memory.
    from asrkit.utils.pipes import StderrTail
    kept_sizes = []
    keep = StderrTail._keep

    def counted(self, chunk):
        keep(self, chunk)
        kept_sizes.append(len(self._tail))

    monkeypatch.setattr(StderrTail, "_keep", counted)
    scp = write_scp(tmp_path / "wav.scp", [
        ("chatty", "python3 -c \"import sys; sys.stderr.write('x' * 5000000 + '\\nsox FAIL formats: "
                   "no handler for file extension\\n'); sys.exit(2)\" |"),
    ])
    err = _load_all(read_wav_scp(f"scp:{scp}"))["chatty"]
    assert isinstance(err, AsrkitError)
    assert "exited with status 2: sox FAIL formats: no handler for file extension" in str(err), str(err)
    assert "\n" not in str(err)
    assert len(kept_sizes) > 1 and max(kept_sizes) <= 4096, kept_sizes


_READ_UNDER_FILE_SIZE_LIMIT = """
import resource, sys
from asrkit.features.wav_scp import iter_wavs, read_wav_scp
# 1 MiB: the most any file may grow to, here and in the pipe commands (they inherit it); stands in
# for a /tmp with 1 MiB free.
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
for entry, audio, error in iter_wavs(read_wav_scp("scp:" + sys.argv[1])):
    print(entry.utt_id, "error: " + str(error) if error is not None else f"{len(audio[0])} samples")
"""


def test_a_pipes_stderr_is_not_spooled_to_a_file(tmp_path):
    # The stderr of a 'cmd |' entry went to an unlinked temporary file, unbounded: a command writing
    # stderr without end (a warning per block for hours) filled /tmp unseen. Under a 1 MiB file size
    # limit, 5.6 MB of stderr killed the command (SIGXFSZ) and hid its last line; now both read.
    samples = (np.arange(16000) % 200 - 100).astype(np.int16)
    wav = write_wav(tmp_path / "x.wav", samples, 16000)
    noise = "yes 'WARN: clipping in block' | head -n 200000 >&2"
    scp = write_scp(tmp_path / "wav.scp", [
        ("ok", f"sh -c {shlex.quote(f'{noise}; cat {shlex.quote(str(wav))}; {noise}')} |"),
        ("failing", f"sh -c {shlex.quote(f'{noise}; echo sox FAIL: last words >&2; exit 3')} |"),
        # A child left writing to stderr after the command exits: not waited for, nor spooled.
        ("child", f"sh -c {shlex.quote(f'(yes >&2 &); cat {shlex.quote(str(wav))}')} |"),
    ])
    import os
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", _READ_UNDER_FILE_SIZE_LIMIT, str(scp)], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    got = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert got["ok"] == "16000 samples", got["ok"][-500:]
    assert got["failing"].endswith("exited with status 3: sox FAIL: last words"), got["failing"][-500:]
    assert got["child"] == "16000 samples", got["child"][-500:]


def test_a_missing_file_in_a_wav_scp_is_no_shell_pattern(tmp_path):
    """asrkit-decode's 'a shell pattern that matched no file' hint (66e7332b) came from the reader
    every wav.scp goes through: compute-fbank on a wav.scp naming a missing take[1].wav said it was
    a shell pattern, where no shell was involved (review R); the reader says no such file."""
    with pytest.raises(AsrkitError) as err:
        read_wav_source(str(tmp_path / "take[1].wav"), "utterance 'u1'")
    assert str(err.value) == "utterance 'u1': no such file"


def test_a_command_that_leaves_a_process_holding_its_output_is_read_when_it_ends(tmp_path, an4_wavs):
    """A wav.scp command whose shell exits but leaves a process in the background that keeps its
    stdout open (``cmd &``; ssh's ControlPersist master does so) never gives end-of-file: its whole
    WAV was read, then waited on for ever (compute-fbank and decode hung). The command's end is
    now its shell's exit; its samples are the file's."""
    wav = an4_wavs[0]
    with a_process_left_holding_the_output(tmp_path) as holder:
        samples, rate = read_wav_source(f"{holder}cat {wav} |", "u")
    ref, ref_rate = read_wav_reference(wav)
    assert rate == ref_rate and np.array_equal(samples, ref)


def test_a_command_is_read_by_a_process_with_descriptors_past_1023(an4_wavs):
    """The wait for a wav.scp command's shell to end looked at its stdout with select.select, which
    refuses a descriptor past 1023: a process holding many files open (a raised ``ulimit -n``, as
    containers give) read every 'cmd |' recording as a ValueError traceback. poll has no such limit."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"this machine allows {hard} open files")
    if soft != resource.RLIM_INFINITY and soft < 1100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1100 if hard == resource.RLIM_INFINITY else min(hard, 1100), hard))
    held = []
    try:
        while not held or held[-1] < 1030:
            held.append(os.open(os.devnull, os.O_RDONLY))
        samples, rate = read_wav_source(f"cat {an4_wavs[0]} |", "u")
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    ref, ref_rate = read_wav_reference(an4_wavs[0])
    assert rate == ref_rate and np.array_equal(samples, ref)
