"""bench/ scripts: an option that cannot be measured as given is a usage error before any work,
not a figure of something else under its name (each case ran with exit 0 before)."""
import os
import re
import subprocess
import sys
import wave
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def bench(*argv, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "bench" / argv[0]), *argv[1:]], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_audio_read_speed_tree_without_asrkit_is_refused(tmp_path):
    # A mistyped --tree measured this checkout's reader and printed '(asrkit from <the typo>)'.
    proc = bench("audio_read_speed.py", "--tree", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not proc.stdout
    assert proc.stderr.rstrip().splitlines()[-1] == (
        f"audio_read_speed.py: error: --tree {tmp_path / 'nowhere'}: no asrkit/__init__.py there "
        "(a checkout or git archive of asrkit)")
    proc = bench("audio_read_speed.py", "--wavs", "0")  # was a ZeroDivisionError traceback
    assert proc.returncode == 2 and proc.stderr.rstrip().splitlines()[-1].endswith(
        "--wavs and --oggs must be 1 or more, got 0 and 100")


def test_long_audio_options_it_would_pass_over_are_refused(tmp_path):
    # make --max-utts without --data joined all 130 AN4 test utterances without a word.
    proc = bench("long_audio.py", "make", "--out", str(tmp_path / "out"), "--max-utts", "2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
    assert proc.stderr.rstrip().splitlines()[-1].endswith(
        "--max-utts takes the first N utterances of --data; without --data the AN4 test set is used whole")
    proc = bench("long_audio.py", "run", "--out", str(tmp_path / "out"), "--model", "m.pt", "--only", "joint")
    assert proc.returncode == 2 and proc.stderr.rstrip().splitlines()[-1].endswith(
        "--only: separate, joined and/or joined_x10, not joint")


# --- Every script: a bad number is a usage error naming the option; a missing input, an
# AsrkitError or a failed command is one line '<script>: ERROR: <message>' (bench/_args.py).
# Each case gave a traceback, started the benchmark, or printed a figure of nothing with exit 0.
CORPORA = os.environ.get("ASRKIT_CORPORA", str(ROOT.parent / "shared" / "corpora"))


def usage_error(proc, script, option):
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not proc.stdout, proc.stderr[-2000:]
    last = proc.stderr.rstrip().splitlines()[-1]  # a subcommand's: 'long_audio.py make: error: ...'
    assert last.startswith(script) and f": error: argument {option}: " in last, proc.stderr


def one_line_error(proc, script, *words, alone=True):
    """Exit 1 and the ERROR line last on stderr (alone: the only line there), naming ``words``."""
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = proc.stderr.rstrip().splitlines()
    assert lines[-1].startswith(f"{script}: ERROR: ") and all(w in lines[-1] for w in words), proc.stderr
    assert len(lines) == 1 or not alone, proc.stderr


@pytest.mark.parametrize("script, argv, option", [
    ("fbank_speed.py", ["--repeat", "0"], "--repeat"),
    ("launch_overhead.py", ["--repeats", "0"], "--repeats"),
    ("launch_overhead.py", ["--jobs", "0"], "--jobs"),
    ("model_speed.py", ["--batch", "0"], "--batch"),
    ("model_speed.py", ["--steps", "0"], "--steps"),
    ("read_matrices_speed.py", ["--utts", "0"], "--utts"),
    ("read_matrices_speed.py", ["--repeat", "0"], "--repeat"),  # printed inf
    ("presentation_robustness.py", ["--num", "0", "--model", "{file}", "--an4", "{dir}"], "--num"),
    ("resample_memory.py", ["--rate", "0"], "--rate"),
    ("resample_memory.py", ["--target", "0"], "--target"),
    ("resample_memory.py", ["--seconds", "-1"], "--seconds"),
    ("resample_memory.py", ["--seconds", "nan"], "--seconds"),
    ("score_speed.py", ["--utts", "0"], "--utts"),  # a table of 0 tokens, exit 0
    ("score_speed.py", ["--error-rate", "2"], "--error-rate"),
    ("score_speed.py", ["--long-line", "-1"], "--long-line"),
    ("scale_data.py", ["--num-utts", "0"], "--num-utts"),  # ran the whole benchmark on no data
    ("audio_formats.py", ["--num", "-1", "--model", "{file}"], "--num"),  # started the benchmark
    ("decode_speed.py", ["--limit", "-1"], "--limit"),  # started the benchmark
    ("decode_speed.py", ["--batch-sizes", "16,0"], "--batch-sizes"),
    ("long_audio.py", ["make", "--out", "{tmp}/out", "--pause-min", "-1"], "--pause-min"),
    ("startup.py", ["--repeats", "0"], "--repeats"),
    ("train_speed.py", ["--epochs", "0"], "--epochs"),
    ("checkpoint_write.py", ["--repeats", "0"], "--repeats"),
    ("speaker_adapt_probe.py", ["--keep", "1.5", "m", "f", "h", "o"], "--keep"),
    ("attention_stall.py", ["--beam", "0", "m", "f"], "--beam"),
])
def test_a_number_it_cannot_measure_is_a_usage_error(tmp_path, script, argv, option):
    (tmp_path / "file").write_text("")
    (tmp_path / "dir").mkdir()
    argv = [a.format(file=tmp_path / "file", dir=tmp_path / "dir", tmp=tmp_path) for a in argv]
    usage_error(bench(script, *argv), script, option)
    assert not (tmp_path / "out").exists()


def test_long_audio_pause_range_upside_down_is_a_usage_error(tmp_path):
    proc = bench("long_audio.py", "make", "--out", str(tmp_path / "out"), "--pause-min", "2", "--pause-max", "1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
    assert proc.stderr.rstrip().splitlines()[-1].endswith("--pause-min 2 is above --pause-max 1")


@pytest.mark.parametrize("script, argv, missing", [
    ("attention_stall.py", ["{file}", "{none}"], "{none}"),  # the features
    ("attention_stall.py", ["{none}", "{file}"], "{none}"),  # the model
    ("audio_formats.py", ["--model", "{file}", "--an4", "{none}"], "{none}"),
    ("audio_formats.py", ["--model", "{none}"], "{none}"),  # was asrkit-decode's CalledProcessError
    ("decode_speed.py", ["--config", "{none}"], "{none}"),
    ("model_speed.py", ["--config", "{none}"], "{none}"),
    ("model_speed.py", ["--an4", "{none}"], "{none}"),
    ("long_audio.py", ["make", "--an4", "{none}", "--out", "{tmp}/out"], "{none}"),
    ("long_audio.py", ["make", "--data", "{none}", "--out", "{tmp}/out"], "{none}"),
    ("long_audio.py", ["run", "--out", "{none}", "--model", "{file}"], "{none}"),
    ("presentation_robustness.py", ["--model", "{file}", "--an4", "{none}"], "{none}"),
    ("presentation_robustness.py", ["--model", "{file}", "--data", "{none}"], "{none}"),
    ("recording_level.py", ["--model", "{file}", "--data", "{none}"], "{none}"),
    ("train_step_profile.py", ["--feats", "{none}", "--config", "{file}"], "{none}"),
    ("train_step_profile.py", ["--feats", "{file}", "--config", "{none}"], "{none}"),
    ("speaker_adapt_probe.py", ["{none}", "{file}", "{file}", "{tmp}/o"], "{none}"),
    ("checkpoint_write.py", ["--config", "{none}"], "{none}"),
    ("scale_data.py", ["--an4-root", "{none}", "--work-dir", "{tmp}/out"], "{none}"),  # ran on a cached work dir
    ("scale_data.py", ["--work-dir", "{file}/work"], "{file}"),  # a folder under a file
    ("long_audio.py", ["make", "--out", "{file}/out"], "{file}"),
    ("startup.py", ["--model", "{file}", "--wav", "{none}"], "{none}"),  # after every --help timing
    ("train_speed.py", ["--config", "{none}"], "{none}"),
])
def test_a_missing_input_or_an_output_under_a_file_is_one_line(tmp_path, script, argv, missing):
    (tmp_path / "file").write_text("")
    fmt = dict(file=tmp_path / "file", none=tmp_path / "nowhere", tmp=tmp_path)
    proc = bench(script, *[a.format(**fmt) for a in argv])
    one_line_error(proc, script, missing.format(**fmt))
    assert not proc.stdout and not (tmp_path / "out").exists()


def _not_a_model(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    (tmp_path / "feats.scp").write_text("")
    (tmp_path / "hyp").write_text("")
    return str(tmp_path / "bad.pt")


@pytest.mark.parametrize("script, argv", [
    ("attention_stall.py", ["{bad}", "{tmp}/feats.scp"]),
    ("speaker_adapt_probe.py", ["{bad}", "{tmp}/feats.scp", "{tmp}/hyp", "{tmp}/o"]),
    ("checkpoint_write.py", ["--config", "{tmp}/bad.yaml", "--repeats", "1"]),
])
def test_an_asrkit_error_is_one_line(tmp_path, script, argv):
    bad = _not_a_model(tmp_path)
    (tmp_path / "bad.yaml").write_text("model:\n  no_such_setting: 1\n")
    proc = bench(script, *[a.format(bad=bad, tmp=tmp_path) for a in argv])
    one_line_error(proc, script, str(tmp_path / "bad"))
    assert not proc.stdout


def test_a_failed_asrkit_decode_is_one_line(tmp_path):
    # recording_level.py runs asrkit-decode with check=True: its failure was a CalledProcessError traceback
    data = tmp_path / "data"
    data.mkdir()
    with wave.open(str(tmp_path / "a.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(b"\0\0" * 1600)
    (data / "wav.scp").write_text(f"a {tmp_path / 'a.wav'}\n")
    (data / "text").write_text("a A\n")
    proc = bench("recording_level.py", "--model", _not_a_model(tmp_path), "--data", str(data), "--gains", "1",
                 "--out", str(tmp_path / "out"))
    one_line_error(proc, "recording_level.py", "asrkit-decode failed (exit ", "bad.pt")


@pytest.mark.skipif(not os.path.isdir(os.path.join(CORPORA, "an4")), reason="needs the AN4 corpus")
def test_audio_formats_failed_decode_is_one_line(tmp_path):
    proc = bench("audio_formats.py", "--model", _not_a_model(tmp_path), "--num", "1",
                 "--an4", os.path.join(CORPORA, "an4"))
    one_line_error(proc, "audio_formats.py", "asrkit-decode failed (exit ", "bad.pt")


def _wav(path, rate=16000, seconds=0.1):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate), w.writeframes(b"\1\0" * int(rate * seconds))
    return path


def test_audio_soundfile_cannot_read_is_one_line(tmp_path):
    # soundfile's LibsndfileError was not an error of the input to bench/_args.py: a traceback
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "bad.wav").write_text("not audio\n")
    (data / "wav.scp").write_text(f"a {tmp_path / 'bad.wav'}\n")
    (data / "text").write_text("a A\n")
    proc = bench("long_audio.py", "make", "--data", str(data), "--out", str(tmp_path / "out"))
    one_line_error(proc, "long_audio.py", str(tmp_path / "bad.wav"), "Format not recognised")
    # two rates cannot be joined: was an AssertionError traceback
    _wav(tmp_path / "a.wav", 16000), _wav(tmp_path / "b.wav", 8000)
    (data / "wav.scp").write_text(f"a {tmp_path / 'a.wav'}\nb {tmp_path / 'b.wav'}\n")
    (data / "text").write_text("a A\nb B\n")
    proc = bench("long_audio.py", "make", "--data", str(data), "--out", str(tmp_path / "out"))
    one_line_error(proc, "long_audio.py", str(tmp_path / "b.wav"), "8000 Hz", "16000 Hz")


def test_what_a_script_finds_wrong_itself_has_the_error_prefix(tmp_path):
    # These were sys.exit(message): no '<script>: ERROR:' before it, or no ERROR, as every other error has.
    proc = bench("fbank_speed.py", "--an4", str(tmp_path))
    one_line_error(proc, "fbank_speed.py", str(tmp_path / "etc" / "an4_test.fileids"))
    proc = bench("audio_read_speed.py", "--an4-root", str(tmp_path), "--wavs", "1", "--oggs", "1")
    one_line_error(proc, "audio_read_speed.py", f"no AN4 WAVs under {tmp_path}")
    (tmp_path / "text").write_text("a A\n")
    proc = bench("time_to_wer.py", "--exp", str(tmp_path), "--feats", "scp:x.scp", "--text", str(tmp_path / "text"))
    one_line_error(proc, "time_to_wer.py", f"{tmp_path}/checkpoints: no epoch<N>.pt")
    (tmp_path / "bad.ctm").write_text("u 1 0.0 x.1\n")  # an AsrkitError of asrkit's CTM reader
    proc = bench("word_times.py", *[str(tmp_path / "bad.ctm")] * 3)
    one_line_error(proc, "word_times.py", f"{tmp_path / 'bad.ctm'}:1: expected")
    proc = bench("fbank_speed.py", "--formats", "mp3")  # an option's value: a usage error, as the numbers'
    assert proc.returncode == 2 and proc.stderr.rstrip().splitlines()[-1] == (
        "fbank_speed.py: error: --formats: wav and/or flac, not 'mp3'")


def test_a_command_the_script_runs_itself_fails_in_one_line(tmp_path):
    # long_audio.py run printed 'separate: asrkit-decode failed:' and 3000 characters of its stderr
    out = tmp_path / "out"
    (out / "utts").mkdir(parents=True)
    (out / "utts" / "wav.scp").write_text(f"a {_wav(tmp_path / 'a.wav')}\n")
    (out / "utts" / "text").write_text("a A\n")
    proc = bench("long_audio.py", "run", "--out", str(out), "--model", _not_a_model(tmp_path), "--only", "separate")
    one_line_error(proc, "long_audio.py", "separate: asrkit-decode failed (exit 1): ERROR (asrkit-decode): ",
                   "bad.pt", alone=False)
    assert "Traceback" not in proc.stderr and len(proc.stderr.rstrip().splitlines()) == 2  # the '$ command' line too


def test_scale_data_help_names_only_its_own_options():
    # its docstring (the --help epilog) offered --an4-dump and --an4-data, which it never had
    proc = bench("scale_data.py", "--help")
    assert proc.returncode == 0
    table, _, epilog = proc.stdout.split("options:", 1)[1].partition("\n\n")
    options, named = (set(re.findall(r"--[a-z][a-z0-9-]*", t)) for t in (table, epilog))
    assert options and named and named <= options, named - options
