"""A wav.scp recording ``-`` is read from stdin, as Kaldi's rxfilename ``-``: once, and only where
stdin holds nothing else. Each case runs the command as a user's shell would, audio piped in (the
by-path runs they are compared with, stdin unread, run in this process)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from asrkit.data.datadir import DataDir
from asrkit.features.fbank import FbankConfig
from asrkit.features.wav import read_wav_source
from asrkit.features.wav_scp import read_wav_scp
from asrkit.training.audio_data import raw_inputs
from asrkit.utils.errors import AsrkitError
from cli_checks import error_line, run, run_asrkit_in_process
from debian_packages import require_program
from process_checks import a_terminal

EIGHT_KHZ = ("--sample-frequency", "8000")


@pytest.fixture(scope="module")
def waves(yesno_root):
    return sorted((yesno_root / "waves_yesno").glob("*.wav"))[:2]


def by_path(args, cwd, monkeypatch):
    """The reference run, its recordings named by path and stdin unread: nothing of a process to
    check, so it runs in this process (a subprocess imports torch, 2-3 s CPU)."""
    monkeypatch.chdir(cwd)
    return run_asrkit_in_process(*args, check=False)


def test_compute_fbank_reads_dash_from_stdin_as_the_file(tmp_path, waves, monkeypatch):
    a, b = waves
    (tmp_path / "by_path.scp").write_text(f"u1 {a}\nu2 {b}\n")
    (tmp_path / "dash.scp").write_text(f"u1 -\nu2 {b}\n")
    assert by_path(["compute-fbank", *EIGHT_KHZ, "scp:by_path.scp", "ark,t:by_path.txt"], tmp_path,
                   monkeypatch).returncode == 0
    expected = (tmp_path / "by_path.txt").read_bytes()
    with open(a, "rb") as f:
        proc = run(["compute-fbank", *EIGHT_KHZ, "scp:dash.scp", "ark,t:dash.txt"], stdin=f, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert (tmp_path / "dash.txt").read_bytes() == expected
    # --nj 2: the workers are forked with /dev/null as stdin; the parent's read is theirs
    proc = run(["compute-fbank", *EIGHT_KHZ, "--nj", "2", "scp:dash.scp", "ark,t:nj.txt"], input=a.read_bytes(),
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert (tmp_path / "nj.1.txt").read_bytes() + (tmp_path / "nj.2.txt").read_bytes() == expected


def test_segments_of_the_stdin_recording_in_any_order(tmp_path, waves, monkeypatch):
    a, b = waves
    (tmp_path / "by_path.scp").write_text(f"r1 {a}\nr2 {b}\n")
    (tmp_path / "dash.scp").write_text(f"r1 -\nr2 {b}\n")
    # r1's pieces are not consecutive: the second is cut from the stdin read kept, not a re-read
    (tmp_path / "segments").write_text("s1 r1 0.0 2.0\ns2 r2 0.0 1.0\ns3 r1 3.0 5.0\n")
    by_path(["compute-fbank", *EIGHT_KHZ, "--segments", "segments", "scp:by_path.scp", "ark,t:by_path.txt"], tmp_path,
            monkeypatch)
    proc = run(["compute-fbank", *EIGHT_KHZ, "--segments", "segments", "scp:dash.scp", "ark,t:dash.txt"],
               input=a.read_bytes(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert (tmp_path / "dash.txt").read_bytes() == (tmp_path / "by_path.txt").read_bytes()


def test_stdin_that_holds_no_recording_is_named_with_the_line(tmp_path, waves):
    (tmp_path / "wav.scp").write_text("u1 -\n")
    args = ["compute-fbank", *EIGHT_KHZ, "scp:wav.scp", "ark,t:out.txt"]
    empty = error_line(run(args, stdin=subprocess.DEVNULL, cwd=tmp_path))
    assert "wav.scp:1: -" in empty and "no data on stdin (0 bytes read)" in empty
    closed = subprocess.run(["sh", "-c", f"exec {sys.executable} -m asrkit " + " ".join(args) + " <&-"],
                            capture_output=True, cwd=tmp_path)
    assert "wav.scp:1: -" in error_line(closed) and "stdin is closed" in error_line(closed)
    with a_terminal() as terminal:
        tty = error_line(run(args, stdin=terminal, cwd=tmp_path))
    assert "wav.scp:1: -" in tty and "stdin is a terminal" in tty
    assert not (tmp_path / "out.txt").exists()


def test_a_second_dash_or_stdin_read_as_something_else_is_refused(tmp_path, waves):
    a = waves[0]
    (tmp_path / "two.scp").write_text(f"u1 -\nu2 {a}\nu3 -\n")
    two = error_line(run(["compute-fbank", *EIGHT_KHZ, "scp:two.scp", "ark,t:out.txt"], input=a.read_bytes(),
                         cwd=tmp_path))
    assert "two.scp:3: recording 'u3' is '-' (stdin), as recording 'u1' on line 1 is" in two
    (tmp_path / "wav.scp").write_text("r1 -\n")
    seg = error_line(run(["compute-fbank", *EIGHT_KHZ, "--segments", "/dev/stdin", "scp:wav.scp", "ark,t:out.txt"],
                         input=b"s1 r1 0 1\n", cwd=tmp_path))
    assert "wav.scp:1: recording 'r1' is '-' (stdin), but stdin is read as the segments file /dev/stdin" in seg
    conf = error_line(run(["compute-fbank", "--config", "/dev/stdin", "scp:wav.scp", "ark,t:out.txt"],
                          input=b"sample_frequency: 8000\n", cwd=tmp_path))
    assert "wav.scp:1: recording 'r1' is '-' (stdin), but stdin is read as --config /dev/stdin" in conf
    # the wav.scp itself on stdin: its "-" line could only be the rest of the table
    itself = error_line(run(["compute-fbank", *EIGHT_KHZ, "scp:/dev/stdin", "ark,t:out.txt"], input=b"r1 -\n",
                            cwd=tmp_path))
    assert "/dev/stdin:1: recording 'r1' is '-' (stdin), but stdin is read as the wav.scp itself" in itself
    assert not (tmp_path / "out.txt").exists()


def test_training_and_other_readers_refuse_dash_by_line(tmp_path):
    d = tmp_path / "raw"
    d.mkdir()
    (d / "wav.scp").write_text("u1 /no/such.wav\nu2 -\n")
    (d / "text").write_text("u1 A\nu2 B\n")
    with pytest.raises(AsrkitError, match=r"wav.scp:2: recording 'u2' is '-' \(stdin\): training reads every "
                                          r"recording again each epoch"):
        raw_inputs(DataDir(str(d)), FbankConfig())
    with pytest.raises(AsrkitError, match=r"wav.scp:2: recording 'u2' is '-' \(stdin\): no stdin here"):
        read_wav_scp(str(d / "wav.scp"), stdin_refused="no stdin here")
    # a caller that never checked the table (asrkit-perturb-data-dir-speed's copies) does not read stdin
    with pytest.raises(AsrkitError, match=r"^recording 'u2': '-' \(the recording on stdin\) is read by "):
        read_wav_source("-", "recording 'u2'")


def test_speed_perturbation_refuses_dash_by_line(tmp_path, waves):
    from asrkit.data.perturb import perturb_data_dir_speed

    src = tmp_path / "src"
    src.mkdir()
    (src / "wav.scp").write_text(f"u1 {waves[0]}\nu2 -\n")
    (src / "utt2spk").write_text("u1 u1\nu2 u2\n")
    (src / "spk2utt").write_text("u1 u1\nu2 u2\n")
    # its copies were 'sox -t wav - -t wav - speed 0.9 |' beside 'u2 -': three reads of one stdin
    require_program("sox")  # the sox method checks that sox is there first
    for method in ("sox", "audio"):
        with pytest.raises(AsrkitError, match=r"src/wav.scp:2: recording 'u2' is '-' \(stdin\): its speed copies "):
            perturb_data_dir_speed(str(src), str(tmp_path / "dst"), [0.9, 1.0, 1.1], method=method)
        assert not (tmp_path / "dst").exists()


def test_validate_data_dir_takes_dash_for_stdin_not_a_missing_file(tmp_path, waves):
    from asrkit.data.validate import validate_data_dir

    d = tmp_path / "d"
    d.mkdir()
    (d / "wav.scp").write_text(f"u1 {waves[0]}\nu2 -\n")
    (d / "text").write_text("u1 YES\nu2 NO\n")
    (d / "utt2spk").write_text("u1 u1\nu2 u2\n")
    (d / "spk2utt").write_text("u1 u1\nu2 u2\n")
    assert [str(p) for p in validate_data_dir(str(d))] == []  # was "audio file of 'u2' does not exist: -"


def test_a_wav_scp_command_does_not_take_the_callers_stdin(tmp_path, waves):
    """A pipe command that reads stdin (ffmpeg without -nostdin, a stray 'cat |') took the input of
    the shell loop around asrkit ('while read f; do asrkit-decode ...; done < list' lost lines),
    or waited on a terminal: wav.scp commands run with stdin from /dev/null, as the workers of
    --nj do."""
    a, _ = waves
    (tmp_path / "wav.scp").write_text(f"u1 sh -c 'cat > took.txt; cat {a}' |\n")
    proc = run(["compute-fbank", *EIGHT_KHZ, "scp:wav.scp", "ark,t:out.txt"], input=b"the loop's next line\n",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert (tmp_path / "took.txt").read_bytes() == b""
    assert (tmp_path / "out.txt").read_bytes().startswith(b"u1  [")


def test_segments_dash_is_stdin(tmp_path, waves, monkeypatch):
    """--segments - is stdin, as Kaldi's '-' (it was "-: no such file"); read twice with the wav.scp
    (scp:/dev/stdin) it is one error naming both, not "no data on stdin" for the second."""
    a, _ = waves
    (tmp_path / "wav.scp").write_text(f"r1 {a}\n")
    (tmp_path / "segments").write_text("s1 r1 0.5 2.0\n")
    assert by_path(["compute-fbank", *EIGHT_KHZ, "--segments", "segments", "scp:wav.scp", "ark,t:by_path.txt"],
                   tmp_path, monkeypatch).returncode == 0
    proc = run(["compute-fbank", *EIGHT_KHZ, "--segments", "-", "scp:wav.scp", "ark,t:dash.txt"],
               input=b"s1 r1 0.5 2.0\n", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert (tmp_path / "dash.txt").read_bytes() == (tmp_path / "by_path.txt").read_bytes()
    twice = error_line(run(["compute-fbank", *EIGHT_KHZ, "--segments", "-", "scp:/dev/stdin", "ark,t:o.txt"],
                           input=f"r1 {a}\n".encode(), cwd=tmp_path))
    assert "WAV_RSPECIFIER and --segments are both stdin" in twice
    with a_terminal() as terminal:
        tty = error_line(run(["compute-fbank", *EIGHT_KHZ, "--segments", "-", "scp:wav.scp", "ark,t:o.txt"],
                             stdin=terminal, cwd=tmp_path))
    assert "/dev/stdin: stdin is a terminal, not a text file" in tty
    assert not (tmp_path / "o.txt").exists()
