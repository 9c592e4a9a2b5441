"""asrkit-compute-fbank end to end on real AN4/yesno audio: outputs, --nj, pipes, segments, bad inputs."""
from __future__ import annotations

import io
import re

import kaldiio
import numpy as np
import pytest
import torch
from feat_helpers import leftovers, run_cli, write_scp

from asrkit.cli import compute_fbank as compute_fbank_cli
from asrkit.features.extract import compute_fbank_table, job_ark_path
from asrkit.features.fbank import FbankConfig, compute_fbank, compute_fbank_chunked
from asrkit.utils.errors import AsrkitError
from asrkit.features.wav import read_wav_source
from cli_checks import run_asrkit_in_process

torch.set_num_threads(1)


@pytest.fixture
def asrkit():
    """These tests check what asrkit-compute-fbank prints, writes and exits with, nothing of a process
    (signals, start-up, a real stdin): run it in this process, without a torch import each (2-3 s CPU).
    The ``/dev/stdout`` appended to a file stays a subprocess: its stdout is the file."""
    return run_asrkit_in_process


def _direct(wav, cfg=FbankConfig()):
    samples, rate = read_wav_source(str(wav), str(wav))
    return compute_fbank(samples, rate, cfg)


def test_an4_end_to_end(tmp_path, an4_wavs, asrkit):
    wavs = an4_wavs[::13]  # 10 utterances across the speakers
    entries = [(w.stem, w if i % 2 else f"cat {w} |") for i, w in enumerate(wavs)]
    scp = write_scp(tmp_path / "wav.scp", entries)
    (tmp_path / "fbank.yaml").write_text("num_mel_bins: 40\nlow_freq: 40\n")
    out = tmp_path / "dump"
    proc = asrkit("compute-fbank", "--config", tmp_path / "fbank.yaml", "--num-mel-bins", "64",
                  f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp")
    assert "Done 10 out of 10 utterances; failed 0" in proc.stderr.decode()
    cfg = FbankConfig(num_mel_bins=64, low_freq=40)  # the command line overrides the YAML
    assert FbankConfig.from_yaml(out / "fbank.yaml") == cfg
    feats = kaldiio.load_scp(str(out / "feats.scp"))
    assert list(feats) == [w.stem for w in wavs], "scp in input order"
    num_frames = dict(line.split() for line in (out / "utt2num_frames").read_text().splitlines())
    for w in wavs:
        np.testing.assert_array_equal(feats[w.stem], _direct(w, cfg))
        assert feats[w.stem].dtype == np.float32 and int(num_frames[w.stem]) == feats[w.stem].shape[0]
    with kaldiio.ReadHelper(f"ark:{out}/feats.ark") as reader:
        assert [k for k, _ in reader] == list(feats)
    assert sorted(p.name for p in out.iterdir()) == ["fbank.yaml", "feats.ark", "feats.scp", "utt2num_frames"]
    assert (out / "feats.scp").stat().st_mode & 0o044 == 0o044, "outputs are readable by others"


def test_stdout_and_text_arks(tmp_path, an4_wavs):
    wavs = an4_wavs[:3]
    scp = write_scp(tmp_path / "wav.scp", [(w.stem, w) for w in wavs])
    result = run_cli(compute_fbank_cli, [f"scp:{scp}", "ark:-"])
    assert result.exit_code == 0, result.stderr
    got = dict(kaldiio.load_ark(io.BytesIO(result.stdout_bytes)))
    assert list(got) == [w.stem for w in wavs]
    for w in wavs:
        np.testing.assert_array_equal(got[w.stem], _direct(w))
    compute_fbank_table(f"scp:{scp}", f"ark,t,scp:{tmp_path}/t.txt,{tmp_path}/t.scp", FbankConfig())
    text = kaldiio.load_scp(str(tmp_path / "t.scp"))
    for w in wavs:
        np.testing.assert_allclose(text[w.stem], _direct(w), atol=1e-4)


def test_dev_stdout_ark_appended_to_a_file_keeps_what_was_there(tmp_path, an4_wavs):
    """``ark:/dev/stdout >> all.ark``: the ark was opened anew by name, which truncated all.ark (its
    earlier utterances lost, exit 0); ``ark:-`` appended. Both now write through stdout itself."""
    import os
    import subprocess
    import sys

    wavs = an4_wavs[:2]
    scp = write_scp(tmp_path / "wav.scp", [(w.stem, w) for w in wavs])
    for spec in ("ark:/dev/stdout", "ark:-"):
        out = tmp_path / "all.ark"
        kaldiio.save_ark(str(out), {"earlier": np.ones((2, 3), dtype=np.float32)})
        with open(out, "ab") as f:
            proc = subprocess.run([sys.executable, "-m", "asrkit", "compute-fbank", f"scp:{scp}", spec], stdout=f,
                                  stderr=subprocess.PIPE, text=True, timeout=600,
                                  env=dict(os.environ, OMP_NUM_THREADS="1"))
        assert proc.returncode == 0, proc.stderr
        with kaldiio.ReadHelper(f"ark:{out}") as reader:
            assert [k for k, _ in reader] == ["earlier"] + [w.stem for w in wavs], spec


def test_dev_null_ark_writes_nothing_beside_it(tmp_path, an4_wavs):
    """Kaldi's dry run, ark:/dev/null: fbank.yaml went beside the ark, to /dev/fbank.yaml (as root a
    file made in /dev; otherwise 'permission denied' after every utterance was computed), and with
    --nj 2 the job arks to /dev/null.1.ark. An scp to /dev/stdout put utt2num_frames in /dev too."""
    from pathlib import Path

    scp = write_scp(tmp_path / "wav.scp", [(w.stem, w) for w in an4_wavs[:2]])
    strays = [Path("/dev/fbank.yaml"), Path("/dev/utt2num_frames"), Path("/dev/null.1.ark"), Path("/dev/null.2.ark")]
    before = {p for p in strays if p.exists()}
    try:
        result = run_cli(compute_fbank_cli, [f"scp:{scp}", "ark:/dev/null"])
        assert result.exit_code == 0, result.stderr
        assert result.stderr.rstrip().endswith("-> /dev/null")
        result = run_cli(compute_fbank_cli, [f"scp:{scp}", f"ark,scp:{tmp_path}/f.ark,/dev/null"])
        assert result.exit_code == 0, result.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["f.ark", "fbank.yaml", "wav.scp"]
        result = run_cli(compute_fbank_cli, ["--nj", "2", f"scp:{scp}", "ark:/dev/null"])
        assert result.exit_code == 1 and "--nj > 1 writes one ark per job beside the ark" in result.stderr
        assert {p for p in strays if p.exists()} == before
    finally:
        for p in strays:
            if p not in before and p.exists():
                p.unlink()


def test_nj_segments_and_pipes_match_one_job(tmp_path, an4_wavs, asrkit):
    recs = an4_wavs[20:24]
    scp = write_scp(tmp_path / "wav.scp", [(f"rec{i}", w if i % 2 else f"cat {w} |") for i, w in enumerate(recs)])
    segments = write_scp(tmp_path / "segments", [
        (f"rec{i}-{j}", f"rec{i} {0.4 * j:.1f} {0.4 * j + 0.6:.1f}") for i in range(4) for j in range(2)
    ] + [("rec3-9", "rec3 0.5 -1")])
    one = compute_fbank_table(f"scp:{scp}", f"ark,scp:{tmp_path}/one/feats.ark,{tmp_path}/one/feats.scp",
                              FbankConfig(), segments=segments)
    assert (one.num_done, one.num_failed) == (9, 0)
    out = tmp_path / "three"
    asrkit("compute-fbank", "--nj", "3", "--segments", segments, f"scp:{scp}",
           f"ark,scp:{out}/feats.ark,{out}/feats.scp")
    assert sorted(p.name for p in out.iterdir()) == ["fbank.yaml", "feats.1.ark", "feats.2.ark", "feats.3.ark",
                                                     "feats.scp", "utt2num_frames"]
    a, b = kaldiio.load_scp(str(tmp_path / "one" / "feats.scp")), kaldiio.load_scp(str(out / "feats.scp"))
    assert list(a) == list(b) == [line.split()[0] for line in segments.read_text().splitlines()]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert (tmp_path / "one" / "utt2num_frames").read_text() == (out / "utt2num_frames").read_text()
    # A 0.6 s segment of 16 kHz audio: 1 + (9600 - 400) // 160 frames.
    assert a["rec0-0"].shape == (58, 80)
    assert job_ark_path("dump/x/feats.ark", 3) == "dump/x/feats.3.ark"
    # Two jobs cut 9 utterances as Kaldi's split_scp.pl (and asrkit-decode --nj 2) do: 5 + 4.
    two = tmp_path / "two"
    compute_fbank_table(f"scp:{scp}", f"ark,scp:{two}/feats.ark,{two}/feats.scp", FbankConfig(),
                        segments=segments, nj=2)
    # The value is the rest of the line (a path with a space, under such a TMPDIR, is one value).
    arks = [line.split(maxsplit=1)[1].rsplit(":", 1)[0] for line in (two / "feats.scp").read_text().splitlines()]
    assert [arks.count(str(two / "feats.1.ark")), arks.count(str(two / "feats.2.ark"))] == [5, 4]


def _bad_dir(tmp_path, an4_wavs, good: int):
    blob = an4_wavs[0].read_bytes()
    (tmp_path / "truncated.wav").write_bytes(blob[: len(blob) // 3])
    (tmp_path / "empty.wav").write_bytes(b"")
    entries = [(w.stem, w) for w in an4_wavs[:good]]
    entries += [("zz-truncated", tmp_path / "truncated.wav"), ("zz-empty", tmp_path / "empty.wav"),
                ("zz-missing", tmp_path / "missing.wav")]
    return write_scp(tmp_path / "wav.scp", entries)


def test_bad_utterances_are_skipped_and_counted(tmp_path, an4_wavs, asrkit):
    # 60 good + 3 bad: 3 failures is within Kaldi's 5 % (63 // 20 = 3), so the rest is written.
    scp = _bad_dir(tmp_path, an4_wavs, good=60)
    out = tmp_path / "out"
    proc = asrkit("compute-fbank", f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp")
    err = proc.stderr.decode()
    assert "Done 60 out of 63 utterances; failed 3" in err
    assert "utterance 'zz-truncated'" in err and "truncated WAV file" in err
    assert "utterance 'zz-empty'" in err and "empty file" in err
    assert "utterance 'zz-missing'" in err and "no such file" in err
    assert "3 of 63 utterances failed: zz-truncated zz-empty zz-missing" in err
    assert len((out / "feats.scp").read_text().splitlines()) == 60
    assert leftovers(out) == sorted(["feats.ark", "feats.scp", "fbank.yaml", "utt2num_frames"])


def test_more_than_5_percent_bad_fails_and_writes_nothing(tmp_path, an4_wavs, asrkit):
    scp = _bad_dir(tmp_path, an4_wavs, good=3)
    out = tmp_path / "out"
    proc = asrkit("compute-fbank", "--nj", "2", f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp",
                  check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Done 3 out of 6 utterances; failed 3" in err
    assert ("ERROR (asrkit-compute-fbank): 3 of 6 utterances failed (zz-truncated zz-empty zz-missing), "
            "more than 5 % (Kaldi's rule)") in err
    assert leftovers(out) == []


def test_bad_segments_lines_are_skipped_and_counted(tmp_path, an4_wavs, asrkit):
    """One bad segments line (reversed, not a number, an unknown recording) stopped the whole
    file before any audio was read; Kaldi's extract-segments skips it with a warning. Each is now
    a skipped utterance naming its line, counted under the 5 % rule."""
    scp = write_scp(tmp_path / "wav.scp", [(f"rec{i}", w) for i, w in enumerate(an4_wavs[:20])])
    rows = [(f"rec{i}-{j}", f"rec{i} {0.25 * j:.2f} {0.25 * j + 0.25:.2f}") for i in range(20) for j in range(3)]
    segs = write_scp(tmp_path / "segments", rows[:10] + [("zz-reversed", "rec1 1.0 0.5")] + rows[10:]
                     + [("zz-nan", "rec2 0 abc"), ("zz-unknown", "rec99 0 1")])
    out = tmp_path / "out"
    err = asrkit("compute-fbank", "--segments", segs, f"scp:{scp}",
                 f"ark,scp:{out}/feats.ark,{out}/feats.scp").stderr.decode()
    assert f"skipping utterance 'zz-reversed': {segs}:11: segment end 0.5 is not after its start 1.0" in err
    assert f"skipping utterance 'zz-nan': {segs}:62: start and end must be finite numbers, got '0' 'abc'" in err
    assert f"skipping utterance 'zz-unknown': {segs}:63: recording 'rec99' of utterance 'zz-unknown' is not in" in err
    assert "Done 60 out of 63 utterances; failed 3" in err
    assert [line.split()[0] for line in (out / "feats.scp").read_text().splitlines()] == [u for u, _ in rows]


def test_nothing_succeeded_fails_and_leaves_nothing(tmp_path, an4_wavs, asrkit):
    scp = _bad_dir(tmp_path, an4_wavs, good=0)
    out = tmp_path / "out"
    proc = asrkit("compute-fbank", f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Done 0 out of 3 utterances; failed 3" in err
    assert "ERROR (asrkit-compute-fbank): all 3 utterances failed (first: utterance 'zz-truncated'" in err
    assert leftovers(out) == []


def test_sample_rate_mismatch_is_fatal_and_8khz_works(tmp_path, an4_wavs, yesno_root, asrkit):
    yesno = sorted(yesno_root.rglob("*.wav"))[:2]
    scp = write_scp(tmp_path / "wav.scp", [(w.stem, w) for w in yesno])
    out = tmp_path / "out"
    proc = asrkit("compute-fbank", "--nj", "2", f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp",
                  check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    # Both jobs (--nj 2) hit the mismatch; the one that reports first stops the run, so either
    # utterance may be named (the run failed once under load naming the second).
    assert re.search(r"ERROR \(asrkit-compute-fbank\): utterance '(%s)': sample rate 8000 Hz does not match"
                     % "|".join(re.escape(w.stem) for w in yesno), err), err
    assert leftovers(out) == []
    result = run_cli(compute_fbank_cli, ["--sample-frequency", "8000", "--num-mel-bins", "40", f"scp:{scp}",
                                         f"ark,scp:{out}/feats.ark,{out}/feats.scp"])
    assert result.exit_code == 0, result.stderr
    feats = kaldiio.load_scp(str(out / "feats.scp"))
    cfg = FbankConfig(sample_frequency=8000, num_mel_bins=40)
    for w in yesno:
        np.testing.assert_array_equal(feats[w.stem], _direct(w, cfg))


@pytest.mark.parametrize("case", ["malformed-scp", "bad-option", "bad-wspecifier", "empty-mel-bin", "three-mel-bins"])
def test_bad_arguments(tmp_path, an4_wavs, case):
    scp = tmp_path / "wav.scp"
    scp.write_text(f"a {an4_wavs[0]}\nb\n" if case == "malformed-scp" else f"a {an4_wavs[0]}\n")
    out = tmp_path / "out"
    args = {"malformed-scp": [], "bad-option": ["--window-type", "square"], "bad-wspecifier": [],
            # 128 bins at 16 kHz: mel bin 3 catches no FFT bin (a constant column; Kaldi refuses it)
            "empty-mel-bin": ["--num-mel-bins", "128"], "three-mel-bins": ["--num-mel-bins", "3"]}[case]
    wspec = "scp:x.scp" if case == "bad-wspecifier" else f"ark,scp:{out}/feats.ark,{out}/feats.scp"
    result = run_cli(compute_fbank_cli, [*args, f"scp:{scp}", wspec])
    err = result.stderr
    assert result.exit_code == 1, err
    message = {"malformed-scp": "wav.scp:2: malformed line", "bad-option": "bad fbank config: window_type",
               "bad-wspecifier": "an ark is required",
               "empty-mel-bin": "num_mel_bins 128 is too many for frame_length 25.0 ms at 16000 Hz",
               "three-mel-bins": "num_mel_bins must be >= 4, got 3"}[case]
    assert message in err and "Traceback" not in err
    assert leftovers(out) == []


def test_print_config_is_what_fbank_yaml_records_and_reads_nothing(tmp_path, an4_wavs):
    """ESPnet's --print-config, as asrkit-train has it: asr.sh checks --fbank-config and
    --fbank-args with it before any stage (a misspelt key failed in stage 1's jobs)."""
    conf = tmp_path / "fbank.yaml"
    conf.write_text("num_mel_bins: 40\ndither: 0.5\n")
    result = run_cli(compute_fbank_cli, ["--config", str(conf), "--dither", "0", "--print-config"])
    assert result.exit_code == 0, result.stderr
    assert FbankConfig.from_yaml(_written(tmp_path / "p.yaml", result.stdout)) == FbankConfig(num_mel_bins=40, dither=0.0)
    # the same text as the fbank.yaml a run writes beside its scp
    scp = write_scp(tmp_path / "wav.scp", [("a", an4_wavs[0])])
    out = tmp_path / "out"
    run = run_cli(compute_fbank_cli, ["--config", str(conf), "--dither", "0", f"scp:{scp}",
                                      f"ark,scp:{out}/feats.ark,{out}/feats.scp"])
    assert run.exit_code == 0, run.stderr
    assert (out / "fbank.yaml").read_text() == result.stdout
    # Refused as the run refuses it (an empty mel bin before the first recording), and nothing read.
    bad = run_cli(compute_fbank_cli, ["--num-mel-bins", "128", "--print-config", "scp:/no/such.scp", "ark:/no/x.ark"])
    assert bad.exit_code == 1 and "num_mel_bins 128 is too many" in bad.stderr and bad.stdout == ""
    conf.write_text("num_mel_bin: 40\n")
    bad = run_cli(compute_fbank_cli, ["--config", str(conf), "--print-config"])
    assert bad.exit_code == 1 and f"{conf}:1: unknown fbank option 'num_mel_bin'" in bad.stderr, bad.stderr
    # without it, both arguments are still required
    missing = run_cli(compute_fbank_cli, [f"scp:{scp}"])
    assert missing.exit_code == 2 and "missing FEATS_WSPECIFIER (only --print-config runs without it)" in missing.stderr


def _written(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["compute_fbank", "compute_cmvn", "apply_cmvn"])
def test_help_has_a_usage_example(name):
    import importlib

    result = run_cli(importlib.import_module(f"asrkit.cli.{name}"), ["--help"])
    assert result.exit_code == 0 and "e.g.: asrkit-" + name.replace("_", "-") in result.stdout


def test_a_long_recording_is_computed_a_minute_at_a_time(tmp_path, monkeypatch):
    """compute-fbank gave torchaudio a recording whole: every frame's window and spectrum at once,
    1.9 GB for an hour of 8 kHz audio (hostile-input sweep 8a). It now goes a minute of frames at a
    time (1.07 GB, mostly torch's import), the features unchanged; a non-finite frame is still
    numbered from the recording's start."""
    import soundfile as sf
    import torchaudio.compliance.kaldi as kaldi

    rate = 8000
    x = (np.random.default_rng(0).normal(0, 2000, 150 * rate)).clip(-32768, 32767).astype(np.int16)
    sf.write(str(tmp_path / "long.wav"), x, rate, subtype="PCM_16")
    scp = write_scp(tmp_path / "wav.scp", [("long", tmp_path / "long.wav")])
    cfg = FbankConfig(sample_frequency=rate, num_mel_bins=23)
    whole = compute_fbank(x.astype(np.float32), rate, cfg)
    calls = []
    fbank = kaldi.fbank

    def counted(wave, **kw):
        calls.append(wave.shape[-1])
        return fbank(wave, **kw)

    monkeypatch.setattr(kaldi, "fbank", counted)
    compute_fbank_table(f"scp:{scp}", f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp", cfg)
    assert len(calls) == 3 and max(calls) <= 60 * rate + 200, calls
    np.testing.assert_array_equal(kaldiio.load_scp(str(tmp_path / "f.scp"))["long"], whole)
    y = x.astype(np.float32)
    y[100 * rate] = np.nan
    with pytest.raises(AsrkitError, match=r"non-finite features \(first at frame 9998\)"):
        compute_fbank(y, rate, cfg)
    with pytest.raises(AsrkitError, match=r"non-finite features \(first at frame 9998\)"):
        compute_fbank_chunked(y, rate, cfg)


def test_many_jobs_log_a_bounded_line(tmp_path, an4_wavs, asrkit):
    """The 'Wrote ...' line named every job's ark: --nj 600 made it 10 kB (hostile-input sweep 8a)."""
    scp = write_scp(tmp_path / "wav.scp", [(w.stem, w) for w in an4_wavs[:12]])
    proc = asrkit("compute-fbank", "--nj", "12", f"scp:{scp}", f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp")
    line = next(l for l in proc.stderr.decode().splitlines() if "real time ->" in l)
    assert line.endswith(f"-> {tmp_path}/f.1.ark, {tmp_path}/f.2.ark, ... (9 more), {tmp_path}/f.12.ark, "
                         f"{tmp_path}/f.scp, {tmp_path}/utt2num_frames, {tmp_path}/fbank.yaml"), line
    assert len(kaldiio.load_scp(str(tmp_path / "f.scp"))) == 12


def test_a_recording_below_4khz_is_a_bad_item_not_a_corpus_rate(tmp_path, an4_wavs, asrkit):
    """A 2 kHz file among 16 kHz ones stopped the run with 'set --sample-frequency 2000 if the
    corpus is all at 2000 Hz', a rate every command refuses: it is one broken recording, skipped
    and counted as the other unreadable ones."""
    import soundfile as sf

    sf.write(tmp_path / "low.wav", np.zeros(4000, dtype=np.int16) + 7, 2000)
    entries = [(w.stem, w) for w in an4_wavs[:40]] + [("zz-low", tmp_path / "low.wav")]
    scp = write_scp(tmp_path / "wav.scp", entries)
    out = tmp_path / "out"
    proc = asrkit("compute-fbank", f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp")
    err = proc.stderr.decode()
    assert "Done 40 out of 41 utterances; failed 1" in err
    assert "utterance 'zz-low': sample rate 2000 Hz is too low to recognise speech" in err
    assert "--sample-frequency 2000" not in err
    assert len((out / "feats.scp").read_text().splitlines()) == 40


def test_a_wav_scp_value_of_megabytes_is_quoted_cut_short(tmp_path, an4_wavs):
    """A damaged wav.scp line of 2 MB (a path, or a command ending in '|') was quoted whole in its
    skip line and again in the error line: 4 MB of stderr for one utterance. The pipe was an
    OSError traceback ('Argument list too long: /bin/sh'). Both are cut after 200 characters
    with their length said (asrkit.utils.errors.shown_name); ordinary paths stay whole."""
    long_path, long_cmd = "/tmp/" + "x" * 2_000_000 + ".wav", "cat " + "y" * 2_000_000 + " |"
    scp = write_scp(tmp_path / "wav.scp", [("big", long_path), ("cmd", long_cmd), ("ok", an4_wavs[0])])
    proc = run_asrkit_in_process("compute-fbank", f"scp:{scp}", f"ark:{tmp_path / 'f.ark'}", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and len(err) < 5000, err[:2000]
    assert "Traceback" not in err
    assert f"skipping utterance 'big' ({scp}:1: /tmp/xxx" in err
    assert f"... ({len(long_path)} characters))" in err and f"... ({len(long_cmd)} characters))" in err
    assert "): the command is 2000004 characters, too long for the system to start (argument list too long)" in err
    assert f"({scp}:3: {an4_wavs[0]})" not in err  # (the good one is not named at all)
    assert err.rstrip().splitlines()[-1].startswith("ERROR (asrkit-compute-fbank): 2 of 3 utterances failed (big cmd)")


def _first_utterance(kind, tmp_path, an4_wavs, fsdd_root, yesno_root):
    """(wav.scp value, segments line or None, the audio's rate; None: unreadable) of each kind of
    entry that asr.sh's check of a set's first utterance meets."""
    import shutil

    import soundfile as sf

    fsdd = sorted((fsdd_root / "recordings").glob("*.wav"))[0]
    yesno = sorted(yesno_root.rglob("*.wav"))[0]
    if kind == "sphere":
        samples, rate = sf.read(an4_wavs[0], dtype="int16")
        sf.write(tmp_path / "a.sph", samples, rate, format="NIST", subtype="PCM_16")
        return tmp_path / "a.sph", None, 16000
    if kind == "flac":
        samples, rate = sf.read(fsdd, dtype="int16")
        sf.write(tmp_path / "f.flac", samples, rate, format="FLAC")
        return tmp_path / "f.flac", None, 8000
    if kind == "sox-pipe":
        if not shutil.which("sox"):
            pytest.skip("no sox")
        return f"sox {an4_wavs[1]} -t wav - |", None, 16000
    if kind == "stereo":
        samples, rate = sf.read(yesno, dtype="int16")
        sf.write(tmp_path / "st.wav", np.stack([samples, samples], axis=1), rate)
        return tmp_path / "st.wav", None, 8000
    if kind == "truncated":
        (tmp_path / "t.wav").write_bytes(an4_wavs[2].read_bytes()[:30])
        return tmp_path / "t.wav", None, None
    if kind == "2khz":
        sf.write(tmp_path / "low.wav", np.zeros(4000, dtype=np.int16) + 7, 2000)
        return tmp_path / "low.wav", None, None
    return {"an4": (an4_wavs[0], None, 16000), "fsdd": (fsdd, None, 8000),
            "yesno-segments": (yesno, "1.0 2.5", 8000)}[kind]


@pytest.mark.parametrize("kind", ["an4", "fsdd", "yesno-segments", "sphere", "flac", "sox-pipe", "stereo",
                                  "truncated", "2khz"])
def test_check_rates_says_what_the_features_say_of_the_rate(tmp_path, an4_wavs, fsdd_root, yesno_root, kind):
    """asr.sh stage 1 checks each set's first utterance with --check-rates (no torch: 0.3 s of CPU,
    not 2.8 s): its answer, for each kind of wav.scp entry and the options that bear on the rate, is
    the features' (ark:/dev/null) own, the rate mismatch's message included."""
    value, cut, rate = _first_utterance(kind, tmp_path, an4_wavs, fsdd_root, yesno_root)
    scp = write_scp(tmp_path / "wav.scp", [("r1", value)])
    segments = write_scp(tmp_path / "segments", [("u1", f"r1 {cut or '0 -1'}")])

    def said(args):
        result = run_cli(compute_fbank_cli, ["--max-bad-percent", "100", "--segments", segments, *args])
        lines = [re.sub(r"^[-0-9]+ [:0-9]+ ", "", line) for line in result.stderr.splitlines()]
        return result.exit_code, [line for line in lines if line.startswith(("ERROR", "WARNING"))]

    for options in ([], ["--sample-frequency", "8000"], ["--resample"], ["--sample-frequency", "8000", "--channel", "0"]):
        features = said([*options, f"scp:{scp}", "ark:/dev/null"])
        assert said([*options, "--check-rates", f"scp:{scp}"]) == features, (kind, options)
        config_rate = 8000 if "8000" in options else 16000
        mismatch = (rate is not None and rate != config_rate and "--resample" not in options
                    and (kind != "stereo" or "--channel" in options))
        assert any(f"sample rate {rate} Hz does not match the fbank config's sample_frequency {config_rate} Hz" in line
                   for line in features[1]) == mismatch, (kind, options, features)
        assert (features[0] == 0) == (not mismatch and rate is not None and (kind != "stereo" or "--channel" in options)), \
            (kind, options, features)


def test_check_rates_says_it_checked_rates_not_that_it_computed(tmp_path, an4_wavs):
    """--check-rates ended with the features' "Done 2 out of 3 utterances; failed 1", read as
    features made; its summary says what it checked, with the same counts."""
    (tmp_path / "t.wav").write_bytes(an4_wavs[2].read_bytes()[:30])  # unreadable: skipped and counted
    scp = write_scp(tmp_path / "wav.scp", [("a", an4_wavs[0]), ("b", an4_wavs[1]), ("c", tmp_path / "t.wav")])
    for options, rate in (([], "16000 Hz"), (["--resample", "--sample-frequency", "8000"], "8000 Hz (--resample)")):
        result = run_cli(compute_fbank_cli, ["--max-bad-percent", "100", *options, "--check-rates", f"scp:{scp}"])
        assert result.exit_code == 0, result.stderr
        assert (f"Checked the sample rate of 3 utterances against the fbank config's {rate}, computing no features: "
                f"2 fine; failed 1") in result.stderr, result.stderr
        assert "Done " not in result.stderr, result.stderr


def test_check_rates_writes_nothing(tmp_path, an4_wavs):
    scp = write_scp(tmp_path / "wav.scp", [("a", an4_wavs[0])])
    for args in ([f"scp:{scp}", f"ark:{tmp_path}/f.ark"], ["--write-utt2sample-rate", tmp_path / "r", f"scp:{scp}"]):
        result = run_cli(compute_fbank_cli, ["--check-rates", *args])
        assert result.exit_code == 2 and "--check-rates writes nothing" in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wav.scp"]
