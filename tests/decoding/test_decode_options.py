"""asrkit-decode's options around the audio: where the outputs go, --nj/--job, --utt-ids, and what
a failed run leaves. Real yesno audio, the tiny packed model of test_decode_cli."""
from __future__ import annotations

from test_decode_cli import inproc, yesno  # noqa: F401  (fixtures)

FAST = ["--beam", "2", "--maxlenratio", "0.1"]


def test_an_output_dir_that_is_a_kaldi_data_dir_is_refused(inproc, yesno, tmp_path):
    """--wav-scp data/test/wav.scp --output-dir data/test replaced the reference transcripts
    data/test/text with the hypotheses at exit 0 (scored against themselves: 0 % WER)."""
    _, model, wavs = yesno
    data = tmp_path / "data" / "test"
    data.mkdir(parents=True)
    (data / "wav.scp").write_text("".join(f"{w.stem} {w}\n" for w in wavs[:2]))
    (data / "utt2spk").write_text("".join(f"{w.stem} {w.stem}\n" for w in wavs[:2]))
    ref = "".join(f"{w.stem} {w.stem.replace('_', ' ')}\n" for w in wavs[:2])
    (data / "text").write_text(ref)
    proc = inproc("decode", "--model", model, *FAST, "--wav-scp", data / "wav.scp", "--output-dir", data,
                  check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert f"--output-dir {data} holds utt2spk: it is a Kaldi data directory" in err, err
    assert (data / "text").read_text() == ref
    assert sorted(p.name for p in data.iterdir()) == ["text", "utt2spk", "wav.scp"]
    # A decode directory of its own, and one decoded into before, are fine.
    for _ in range(2):
        inproc("decode", "--model", model, *FAST, "--wav-scp", data / "wav.scp", "--output-dir", tmp_path / "dec")
    assert len((tmp_path / "dec" / "text").read_text().splitlines()) == 2


def _results(n: int):
    from asrkit.decoding.beam_search import Hypothesis
    from asrkit.decoding.ctc_align import Word
    from asrkit.decoding.recognizer import UttResult

    words = [Word(w, 0.1 * i, 0.1 * i + 0.05, 0.9) for i, w in enumerate("YES NO YES NO".split())]
    return [UttResult(f"utt{i:04d}", [Hypothesis([1, 2, 1, 2], -1.0, {"att": -1.0})], ["YES NO YES NO"], 100, 4,
                      hyp_words=[words]) for i in range(n)]


def _drain(fd: int) -> str:
    import os

    got = b""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return got.decode()
        if not chunk:
            return got.decode()
        got += chunk


def test_a_ctm_or_segments_on_a_stream_comes_whole_after_the_run_and_not_after_a_failure():
    """--ctm - and --segments-out - were written as they came: once their buffer filled, CTM lines
    went out between the text lines on stdout (224 CTM lines of 60 AN4 utterances after the 40th
    text line), and what was left of them came out at the end of a run that failed."""
    import io
    import os
    from pathlib import Path

    from asrkit.decoding.run import Outputs

    for ok in (False, True):
        r, w = os.pipe()
        os.set_blocking(r, False)
        try:
            text = io.StringIO()
            outputs = Outputs(None, text, {"att": 1.0}, ctm=Path(f"/dev/fd/{w}"), segments=Path(f"/dev/fd/{w}"))
            for res in _results(300):  # 1200 CTM lines, 40 kB: several buffers' worth
                outputs.emit(res)
            assert _drain(r) == ""
            assert len(text.getvalue().splitlines()) == 300
            outputs.close(ok, {"beam": 2})
            got = _drain(r).splitlines()
        finally:
            os.close(r)
            os.close(w)
        if not ok:
            assert got == []
        else:
            assert len(got) == 1200 + 300
            assert got[0] == "utt0000 1 0.000 0.050 YES 0.900" and got[1199].startswith("utt0299 1 0.300")
            # (100 frames of 25 ms every 10 ms: 1.015 s of audio)
            assert got[1200:] == [f"utt{i:04d}-0000000-0000102 utt{i:04d} 0.00 1.02" for i in range(300)]


def test_segments_out_are_segments_compute_fbank_reads(inproc, yesno, fsdd_root, tmp_path):
    """An utterance decoded whole ended at its frames x shift in --segments-out: a 30 ms file was
    '0.00 0.01', which asrkit-compute-fbank --segments refused ('too short for one frame'; the
    run failed past the 5 % rule), as Kaldi's extract-segments skips one of 0.1 s or less. Then
    it ended where the audio of its frames ends, cut down to the centisecond (1.015 s: 1.01), and
    the segment cut again held one frame fewer than the utterance (every whole 8 kHz recording).
    It ends at the centisecond at or after that, under 10 ms past the recording (which both
    readers take as its end): the same frames again. One of 0.1 s or less is left out with a
    warning and a count."""
    import soundfile as sf

    _, model, wavs = yesno
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    take = sorted((fsdd_root / "recordings").glob("*_theo_*.wav"))[0]  # a real FSDD take, 8 kHz
    y, take_rate = sf.read(str(take), dtype="int16")
    assert take_rate == rate
    lengths = {"tiny": 240, "odd": rate + 123, "whole": len(x), "fsdd": len(y)}  # 30 ms, 1.015 s, a yesno file
    for name, n in lengths.items():
        sf.write(str(tmp_path / f"{name}.wav"), (y if name == "fsdd" else x)[:n], rate, subtype="PCM_16")
    segs = tmp_path / "segs"
    proc = inproc("decode", "--model", model, *FAST, "--segments-out", segs,
                  *[tmp_path / f"{name}.wav" for name in lengths])
    err = proc.stderr.decode()
    assert "utterance 'tiny': piece tiny-0000000-0000003 is 0.1 s or less, left out of" in err, err
    assert f"1 piece(s) of 0.1 s or less left out of {segs}" in err, err
    lines = [ln.split() for ln in segs.read_text().splitlines()]
    assert [ln[1] for ln in lines] == ["odd", "whole", "fsdd"]
    for piece, utt, start, end in lines:
        assert start == "0.00" and lengths[utt] / rate - 0.01 < float(end) < lengths[utt] / rate + 0.01
        assert piece == f"{utt}-0000000-{round(float(end) * 100):07d}"
    (tmp_path / "wav.scp").write_text("".join(f"{name} {tmp_path / name}.wav\n" for name in lengths))
    frames = {}
    for how, more in (("whole", []), ("cut", ["--segments", segs])):
        fbank = inproc("compute-fbank", "--sample-frequency", rate, *more, "--write-utt2num-frames",
                       tmp_path / f"{how}.frames", f"scp:{tmp_path / 'wav.scp'}", f"ark:{tmp_path / how}.ark")
        frames[how] = dict(ln.split() for ln in (tmp_path / f"{how}.frames").read_text().splitlines())
    assert "Done 3 out of 3 utterances; failed 0" in fbank.stderr.decode()
    # the segments cut again: as many frames as the utterances decoded whole
    assert {piece: frames["cut"][piece] for piece, *_ in lines} == {piece: frames["whole"][utt]
                                                                    for piece, utt, *_ in lines}


def test_more_jobs_than_utterances_names_nj_and_the_source(tmp_path):
    """--nj 6 on a wav.scp of 4 said 'cannot split 4 lines into 6 non-empty pieces' (split_scp's
    words), naming neither the option nor what the lines were."""
    import pytest

    from asrkit.decoding.inputs import DecodeInputs
    from asrkit.utils.errors import AsrkitError

    wavs = [str(tmp_path / f"u{i}.wav") for i in range(4)]
    with pytest.raises(AsrkitError, match=r"^--nj 6: more pieces than the 4 utterance\(s\) of the audio files given; "
                                          r"give --nj 4 or fewer$"):
        DecodeInputs(wavs=wavs, nj=6, job=5).open(lambda *a: None)
    (tmp_path / "ids").write_text("u1\nu3\n")
    with pytest.raises(AsrkitError, match=rf"^--nj 3: more pieces than the 2 utterance\(s\) of --utt-ids {tmp_path}/ids"):
        DecodeInputs(wavs=wavs, utt_ids=str(tmp_path / "ids"), nj=3, job=1).open(lambda *a: None)
    items, total = DecodeInputs(wavs=wavs, nj=4, job=4).open(lambda *a: None)
    assert total == 1 and [u for u, _, _ in items] == ["u3"]


def test_utt_ids_missing_from_segments_name_the_segments_file(yesno_root, tmp_path):
    """With --segments, an --utt-ids entry naming a recording (or nothing) was skipped as 'not in
    wav.scp': the wrong file, and for the recording, one that wav.scp does hold."""
    import itertools

    from asrkit.decoding.inputs import DecodeInputs

    wav = sorted((yesno_root / "waves_yesno").glob("*.wav"))[0]
    (tmp_path / "wav.scp").write_text(f"rec1 {wav}\n")
    (tmp_path / "segments").write_text("rec1-a rec1 0.0 1.0\nrec1-b rec1 1.0 2.0\n")
    (tmp_path / "ids").write_text("rec1\nrec1-b\nnone\n")
    items, _ = DecodeInputs(wav_scp=str(tmp_path / "wav.scp"), segments=str(tmp_path / "segments"),
                            utt_ids=str(tmp_path / "ids")).open(lambda *a: None)
    errors = {u: str(e) for u, _, e in itertools.islice(items, 2)}
    assert errors == {
        "rec1": f"utterance 'rec1': not in {tmp_path}/segments (with --segments the utterances are its segments; "
                f"'rec1' is a recording of {tmp_path}/wav.scp)",
        "none": f"utterance 'none': not in {tmp_path}/segments"}


def test_a_bad_segments_line_is_one_skipped_utterance(yesno_root, tmp_path):
    """asrkit-decode and asrkit-align stopped on one bad segments line before decoding anything;
    its utterance is now a bad item naming the line, the others decoded (as compute-fbank)."""
    from asrkit.decoding.inputs import DecodeInputs

    wav = sorted((yesno_root / "waves_yesno").glob("*.wav"))[0]
    (tmp_path / "wav.scp").write_text(f"rec1 {wav}\n")
    (tmp_path / "segments").write_text("rec1-a rec1 0.0 1.0\nrec1-b rec1 2.0 1.0\nrec1-c rec1 1.0 2.0\n")
    items, total = DecodeInputs(wav_scp=str(tmp_path / "wav.scp"), segments=str(tmp_path / "segments")).open(
        lambda samples, rate, utt: samples)
    got = {u: str(e) if e is not None else "ok" for u, _, e in items}
    assert total == 3 and got == {"rec1-a": "ok", "rec1-c": "ok", "rec1-b": f"utterance 'rec1-b': {tmp_path}/segments:2: "
                                                                           f"segment end 1.0 is not after its start 2.0"}


def test_an_input_without_utterances_is_named(inproc, yesno, tmp_path):
    """An empty wav.scp, segments file or feats.scp failed with 'no utterances to process', naming
    none of them."""
    _, model, wavs = yesno
    (tmp_path / "empty").write_text("")
    (tmp_path / "wav.scp").write_text(f"{wavs[0].stem} {wavs[0]}\n")
    for args, named in ((["--wav-scp", tmp_path / "empty"], f"{tmp_path}/empty"),
                        (["--wav-scp", tmp_path / "wav.scp", "--segments", tmp_path / "empty"], f"{tmp_path}/empty"),
                        (["--feats", f"scp:{tmp_path}/empty"], f"scp:{tmp_path}/empty")):
        proc = inproc("decode", "--model", model, *FAST, *args, "--output-dir", tmp_path / "out", check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and f"ERROR (asrkit-decode): {named}: no utterances to process" in err, err
        assert not (tmp_path / "out" / "text").exists()


def test_align_and_adapt_speakers_name_an_input_without_utterances(inproc, yesno, tmp_path):
    """asrkit-align said 'no utterances to process' naming nothing, and asrkit-adapt-speakers named
    its <hyp-text>, which held every hypothesis, for an empty wav.scp."""
    _, model, wavs = yesno
    (tmp_path / "empty").write_text("")
    (tmp_path / "text").write_text(f"{wavs[0].stem} YES\n")
    (tmp_path / "utt2spk").write_text(f"{wavs[0].stem} s1\n")
    for args in (["align", "--model", model, tmp_path / "empty", tmp_path / "text", tmp_path / "ctm"],
                 ["adapt-speakers", "--model", model, "--utt2spk", tmp_path / "utt2spk", "--wav-scp", tmp_path / "empty",
                  tmp_path / "text", f"ark:{tmp_path}/trans.ark"]):
        proc = inproc(*args, check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and f"ERROR (asrkit-{args[0]}): {tmp_path}/empty: no utterances to process" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "text", "utt2spk"]


def test_a_directory_where_an_output_goes_is_refused_before_decoding(inproc, yesno, tmp_path):
    """A reused --output-dir holding a folder named decode.yaml (or nbest.jsonl, log/decode.log)
    was found by the rename at the end: every utterance was decoded, then the run failed."""
    _, model, wavs = yesno
    for name in ("decode.yaml", "nbest.jsonl", "log/decode.log"):
        out = tmp_path / name.replace("/", "_")
        (out / name).mkdir(parents=True)
        proc = inproc("decode", "--model", model, *FAST, "--output-dir", out, wavs[0], check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 1, err
        assert f"{out / name}: is a directory, where the run would write --output-dir's {name}" in err, err
        assert "decoded" not in err and not (out / "text").exists(), err


def test_speaker_transforms_of_another_feature_size_are_refused_up_front(inproc, yesno, tmp_path):
    """Transforms of another model's features (12-dim for this 23-dim model) had every utterance
    read, featurised and skipped, one warning each, before the run failed on 'all failed'."""
    import numpy as np

    from asrkit.data.specifier import MatrixWriter

    _, model, wavs = yesno
    (tmp_path / "wav.scp").write_text("".join(f"{w.stem} {w}\n" for w in wavs[:3]))
    (tmp_path / "utt2spk").write_text("".join(f"{w.stem} s1\n" for w in wavs[:3]))
    with MatrixWriter(f"ark:{tmp_path}/trans.ark") as w:
        w.write("s1", np.hstack([np.eye(12), np.zeros((12, 1))]).astype(np.float32))
    proc = inproc("decode", "--model", model, *FAST, "--wav-scp", tmp_path / "wav.scp", "--utt2spk",
                  tmp_path / "utt2spk", "--spk-transforms", f"ark:{tmp_path}/trans.ark", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert (f"ERROR (asrkit-decode): ark:{tmp_path}/trans.ark: speaker 's1': transform of shape (12, 13) for 23-dim "
            f"features (expected (23, 24) or (23, 23))") in err, err
    assert "skipping" not in err, err


def test_utt_ids_dash_is_stdin_and_may_not_share_it_with_the_audio(asrkit, yesno, tmp_path):
    """--utt-ids - was 'no such file' (every other file option takes Kaldi's '-'), and --utt-ids
    /dev/stdin beside the audio file '-' left the audio nothing: 'no data on stdin (0 bytes read)'."""
    import pytest

    from asrkit.decoding.inputs import DecodeInputs
    from asrkit.utils.errors import AsrkitError

    _, model, wavs = yesno
    (tmp_path / "wav.scp").write_text("".join(f"{w.stem} {w}\n" for w in wavs[:3]))
    proc = asrkit("decode", "--model", model, *FAST, "--wav-scp", tmp_path / "wav.scp", "--utt-ids", "-",
                  input=f"{wavs[1].stem}\n".encode())
    assert [ln.split(" ")[0] for ln in proc.stdout.decode().splitlines()] == [wavs[1].stem]
    with pytest.raises(AsrkitError, match=r"^the audio file '-' \(stdin\) and --utt-ids /dev/stdin both read stdin"):
        DecodeInputs(wavs=("/dev/stdin",), utt_ids="/dev/stdin")


def test_a_folder_given_for_audio_files_names_the_glob(inproc, yesno, tmp_path):
    """asrkit-decode --model m.pt recordings/ said only 'is a directory, not an audio file'."""
    _, model, wavs = yesno
    folder = tmp_path / "recordings"
    folder.mkdir()
    proc = inproc("decode", "--model", model, *FAST, "--output-dir", tmp_path / "out", f"{folder}/", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert f"is a directory, not an audio file: name its audio files, e.g. {folder}/*.wav" in err, err


def test_a_folder_of_other_formats_names_their_globs(tmp_path):
    """A folder of MP3s given for audio files was told 'e.g. folder/*.wav', which matches none of them."""
    from asrkit.decoding.inputs import from_wav_files

    folder = tmp_path / "recordings"
    folder.mkdir()
    for name in ("a.mp3", "b.mp3", "c.FLAC", "notes.txt"):
        (folder / name).write_bytes(b"")
    (folder / "d.wav").mkdir()  # (a folder, whatever its name)
    [(_, _, err)] = list(from_wav_files([str(folder)], lambda *a: None))
    assert str(err).endswith(f"name its audio files, e.g. {folder}/*.mp3 {folder}/*.FLAC"), str(err)


def test_a_kaldi_data_dir_given_as_audio_or_wav_scp_names_the_options(tmp_path):
    """A Kaldi user's 'asrkit-decode --model m.pt data/test' was told to name its audio files
    (data/test/*.wav), and '--wav-scp data/test' heard 'is a directory, not a table file': both now
    give the --wav-scp (and --segments, where the dir has one) that decode it."""
    import re

    import pytest

    from asrkit.decoding.inputs import DecodeInputs, from_wav_files
    from asrkit.utils.errors import AsrkitError

    d = tmp_path / "my data" / "test"
    d.mkdir(parents=True)
    (d / "wav.scp").write_text("rec /nowhere/rec.wav\n")
    with pytest.raises(AsrkitError) as e:
        DecodeInputs(wav_scp=f"{d}/")
    assert str(e.value) == f"--wav-scp {d}/: a data dir, not its wav.scp: decode it with --wav-scp '{d}/wav.scp'"
    [(utt, feats, err)] = list(from_wav_files([str(d)], lambda *a: None))
    assert utt == "test" and feats is None
    assert str(err).endswith(f"is a directory, not an audio file: a Kaldi data dir: decode it with "
                             f"--wav-scp '{d}/wav.scp'"), str(err)
    (d / "segments").write_text("rec-1 rec 0 1\n")
    with pytest.raises(AsrkitError, match=f"--segments '{re.escape(str(d))}/segments'$"):
        DecodeInputs(wav_scp=str(d))
    # a folder of recordings (no wav.scp) keeps its advice
    [(_, _, err)] = list(from_wav_files([str(tmp_path / "my data")], lambda *a: None))
    assert str(err).endswith(f"name its audio files, e.g. {tmp_path / 'my data'}/*.wav"), str(err)


def test_a_pattern_that_matched_no_file_is_named_as_one(inproc, yesno, tmp_path):
    """asrkit-decode --model m.pt recordings/*.WAV where the files are *.wav: the shell passes the
    pattern on, and the run said only "utterance '*' (recordings/*.WAV): no such file"."""
    _, model, wavs = yesno
    pattern = f"{tmp_path}/*.WAV"
    proc = inproc("decode", "--model", model, *FAST, "--output-dir", tmp_path / "out", pattern, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert f"({pattern}): no such file (a shell pattern that matched no file" in err, err
    # a missing file named without a pattern keeps the plain message
    proc = inproc("decode", "--model", model, *FAST, "--output-dir", tmp_path / "out", tmp_path / "a.wav", check=False)
    err = proc.stderr.decode()
    assert f"({tmp_path}/a.wav): no such file) (see " in err and "shell pattern" not in err, err


def test_a_command_or_a_url_given_as_audio_is_named_as_one(tmp_path):
    """asrkit-decode --model m.pt 'sox a.mp3 -t wav - |' (Kaldi's command syntax, which only a
    wav.scp's values take) or an https:// URL said only "no such file"."""
    from asrkit.decoding.inputs import from_wav_files

    cmd, url = "sox a.mp3 -t wav - |", "https://example.com/a b.wav"
    [(_, _, err_cmd), (_, _, err_url), (_, _, err_file)] = list(from_wav_files([cmd, url, str(tmp_path / "x.wav")],
                                                                              lambda *a: None))
    assert str(err_cmd).endswith(f"({cmd}): no such file (a command: audio arguments are file names; a "
                                 f"'<command> |' is read from a wav.scp line, '<utterance-id> <command> |', given "
                                 f"with --wav-scp)"), str(err_cmd)
    assert str(err_url).endswith(f"({url}): no such file (a URL: audio arguments are local files; download it "
                                 f"first, or read it through a wav.scp line, '<utterance-id> curl -sfL "
                                 f"'{url}' |', given with --wav-scp)"), str(err_url)
    assert str(err_file).endswith("x.wav): no such file"), str(err_file)
