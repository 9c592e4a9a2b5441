"""asrkit-decode run again into the same --output-dir, as a recipe's stage 5 is: the directory
then holds that run's outputs only (its log, no other run's CTM, no killed run's temporary file)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from test_decode_cli import inproc, yesno  # noqa: F401  (fixtures)


def test_a_rerun_writes_a_fresh_log(inproc, yesno, tmp_path):
    """Kaldi's run.pl writes one log per run; appended to, log/decode.log held every run's lines
    and a grep of it for the real-time factor or 'Done' found the first run's."""
    _, model, wavs = yesno
    out = tmp_path / "d"
    inproc("decode", "--model", model, "--beam", "2", "--output-dir", out, wavs[0])
    inproc("decode", "--model", model, "--beam", "3", "--output-dir", out, wavs[0], wavs[1])
    log = (out / "log" / "decode.log").read_text()
    assert log.count("command line: ") == 1 and "beam 3, ctc" in log and "beam 2, ctc" not in log, log
    assert log.count("real-time factor") == 1 and "Done 2 out of 2" in log, log


@pytest.mark.parametrize("failure", ["full-disk", "no-utterance-decodes"])
def test_a_failed_rerun_keeps_the_log_of_the_outputs_it_leaves(inproc, yesno, tmp_path, monkeypatch, failure):
    """A run that fails into a D holding a complete decoding (a full disk, bad inputs) leaves that
    decoding's text in place, and now its log beside it, as log/decode.log.1: the log was emptied
    for the failed run's lines, and the text was left without a log."""
    import errno

    from asrkit.decoding.run import Outputs

    _, model, wavs = yesno
    out = tmp_path / "d"
    inproc("decode", "--model", model, "--beam", "2", "--output-dir", out, wavs[0], wavs[1])
    text, first = (out / "text").read_bytes(), (out / "log" / "decode.log").read_text()
    assert "Done 2 out of 2" in first, first
    if failure == "full-disk":
        def full(self, r):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / "text"))
        monkeypatch.setattr(Outputs, "emit", full)
        args = [wavs[2]]
    else:
        (tmp_path / "bad.wav").write_bytes(b"not audio")
        args = [tmp_path / "bad.wav"]
    r = inproc("decode", "--model", model, "--beam", "3", "--output-dir", out, *args, check=False)
    assert r.returncode == 1, r.stderr
    assert (out / "text").read_bytes() == text
    assert (out / "log" / "decode.log.1").read_text() == first
    log = (out / "log" / "decode.log").read_text()
    assert log.count("command line: ") == 1 and "Done 2 out of 2" not in log, log  # (the failed run's alone)
    # and the next run keeps the failed run's log too, one above
    monkeypatch.undo()
    inproc("decode", "--model", model, "--beam", "2", "--output-dir", out, wavs[0])
    assert (out / "log" / "decode.log.2").read_text() == log
    assert sorted(p.name for p in (out / "log").iterdir()) == ["decode.log", "decode.log.1", "decode.log.2"]


def test_a_log_dir_that_takes_no_new_name_still_takes_the_rerun(inproc, yesno, tmp_path, monkeypatch):
    """D/log/ that refuses a new name (another user's, in a shared exp dir) while decode.log may be
    written: keeping the earlier log as decode.log.1 (af02f6d) failed the rerun before it decoded
    anything, where the log was emptied and the run went on before. It goes on so again, and says so."""
    import errno

    _, model, wavs = yesno
    out = tmp_path / "d"
    inproc("decode", "--model", model, "--beam", "2", "--output-dir", out, wavs[0])
    real_replace = os.replace

    def no_new_name_in_log_dir(src, dst, *args, **kwargs):  # (what a log/ without write permission does)
        if os.path.dirname(os.path.abspath(src)) == str(out / "log"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(src), str(dst))
        return real_replace(src, dst, *args, **kwargs)
    monkeypatch.setattr(os, "replace", no_new_name_in_log_dir)
    r = inproc("decode", "--model", model, "--beam", "3", "--output-dir", out, wavs[1], check=False)
    assert r.returncode == 0, r.stderr
    assert f"cannot keep the earlier log {out / 'log' / 'decode.log'} as {out / 'log' / 'decode.log.1'}: " \
        "Permission denied; it is emptied for this run's log instead" in r.stderr.decode(), r.stderr
    log = (out / "log" / "decode.log").read_text()
    assert log.count("command line: ") == 1 and "beam 3, ctc" in log, log
    assert (out / "text").read_text().split()[0] == wavs[1].stem
    assert sorted(p.name for p in (out / "log").iterdir()) == ["decode.log"]


def test_a_run_ended_by_a_full_disk_says_so_in_its_log(inproc, yesno, tmp_path, monkeypatch):
    """A run stopped by the machine's error (a full disk, a refused permission) said why on stderr
    only: its log/decode.log ended at its last INFO line, as an AsrkitError's did before 962f748e."""
    import errno

    from asrkit.decoding.run import Outputs

    _, model, wavs = yesno
    out = tmp_path / "d"

    def full(self, r):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / "text"))
    monkeypatch.setattr(Outputs, "emit", full)
    r = inproc("decode", "--model", model, "--beam", "2", "--output-dir", out, wavs[0], check=False)
    line = f"ERROR [asrkit-decode] {out / 'text'}: no space left on device"
    assert r.returncode == 1 and r.stderr.decode().rstrip().splitlines()[-1] == \
        f"ERROR (asrkit-decode): {out / 'text'}: no space left on device", r.stderr
    assert (out / "log" / "decode.log").read_text().rstrip().splitlines()[-1].endswith(line)


def test_a_log_that_is_stderr_too_is_not_emptied(yesno, tmp_path):
    """`asrkit-decode --output-dir D ... 2>> D/log/decode.log` (or a launcher's log of the job
    there): the shell writes on at its own offset, so the lines already there are kept."""
    import shutil

    _, model, wavs = yesno
    out = tmp_path / "d"
    (out / "log").mkdir(parents=True)
    (out / "log" / "decode.log").write_text("# an earlier line\n")
    shutil.copy(wavs[0], tmp_path / "a b.wav")
    with open(out / "log" / "decode.log", "a") as err:
        proc = subprocess.run([sys.executable, "-m", "asrkit", "decode", "--model", str(model), "--beam", "2",
                               "--output-dir", "d", "a b.wav"], stderr=err, stdout=subprocess.PIPE, cwd=tmp_path)
    assert proc.returncode == 0
    log = (out / "log" / "decode.log").read_text()
    assert log.startswith("# an earlier line\n") and "real-time factor" in log and "\0" not in log, log
    # each line once: stderr is the log, and no log file is opened on it as well (every line came twice)
    assert log.count("real-time factor") == 1 and log.count("command line: ") == 1, log
    # the command line as typed (it was 'asrkit-decode decode ...' under `asrkit decode`, 'a b.wav' two words)
    assert f"command line: asrkit-decode --model {model} --beam 2 --output-dir d 'a b.wav'\n" in log, log


def test_a_rerun_warns_of_the_ctm_of_the_run_it_replaces_and_removes_nothing(inproc, yesno, tmp_path):
    """--ctm D/ctm, then a run into D without it (other inputs, other options): the first run's
    CTM stays beside the new text, other words and times for other utterances. Said, not removed:
    a file of that name may be the user's since (mv and cp -p keep its old time), or an input of
    this run (--segments D/segs, which a removal after 45034213 deleted as it was read)."""
    _, model, wavs = yesno
    out = tmp_path / "d"
    inproc("decode", "--model", model, "--beam", "2", "--output-dir", out, "--ctm", out / "ctm",
           "--segments-out", out / "segs", wavs[0], wavs[1])
    assert (out / "ctm").read_text().startswith(wavs[0].stem + " 1 ") and (out / "segs").is_file()
    ctm = (out / "ctm").read_bytes()
    inproc("decode", "--model", model, "--beam", "2", "--output-dir", out, "--segments-out", out / "segs", wavs[2])
    assert (out / "ctm").read_bytes() == ctm
    assert (out / "segs").read_text().split()[1] == wavs[2].stem  # written again: of this run
    log = (out / "log" / "decode.log").read_text()
    assert f"{out / 'ctm'}, written by an earlier run into {out}, is not of this run's hypotheses" in log, log
    assert "segs, written by" not in log
    # the earlier run's segments read as this run's --segments: neither removed nor warned of
    (tmp_path / "wav.scp").write_text(f"{wavs[2].stem} {wavs[2]}\n")
    segs = (out / "segs").read_bytes()
    inproc("decode", "--model", model, "--beam", "3", "--wav-scp", tmp_path / "wav.scp", "--segments", out / "segs",
           "--output-dir", out)
    assert (out / "segs").read_bytes() == segs
    assert "segs, written by" not in (out / "log" / "decode.log").read_text()


def test_a_rerun_removes_a_killed_runs_temporary_files(yesno, tmp_path):
    """SIGKILL runs no clean-up: the run's temporary text, nbest, CTM and segments stay in D.
    The next run into D removes them all, the CTM's and segments' too though it writes neither
    (a run removed only the temporaries of the outputs it wrote itself), and reads none of them."""
    import os
    import shlex
    import signal
    import time

    _, model, wavs = yesno
    d, out = tmp_path, tmp_path / "d"
    started, sleepers = d / "started", d / "sleepers"
    # a recording whose pipe says it has started, then waits to be killed
    (d / "wav.scp").write_text(f"u1 touch {shlex.quote(str(started))}; sleep 600 & echo $! >> "
                               f"{shlex.quote(str(sleepers))}; wait; cat {shlex.quote(str(wavs[0]))} |\n")
    base = [sys.executable, "-m", "asrkit", "decode", "--model", str(model), "--beam", "2", "--output-dir", str(out)]
    proc = subprocess.Popen(base + ["--wav-scp", str(d / "wav.scp"), "--ctm", str(out / "ctm"),
                                    "--segments-out", str(out / "segs")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not started.exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "decode did not start"
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1].decode()
        proc.kill()
        proc.wait()
    finally:
        if sleepers.exists():
            for pid in sleepers.read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if proc.poll() is None:
            proc.kill()
    left = sorted(p.name.split(".")[1] for p in out.iterdir() if p.name.endswith(".tmp"))
    assert left == ["ctm", "nbest", "segs", "text"], left
    # a user's hidden file that merely looks like a temporary (no process id in it) is not touched
    (out / ".notes.20241201.tmp").write_text("mine\n")
    os.utime(out / ".notes.20241201.tmp", (time.time() - 60, time.time() - 60))
    done = subprocess.run(base + [str(wavs[1])], capture_output=True)
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert err.count("a temporary file left by an interrupted run") == 4, err
    assert sorted(p.name for p in out.iterdir()) == [".notes.20241201.tmp", "decode.yaml", "log", "nbest.jsonl", "text"]
    assert (out / "text").read_text().split()[0] == wavs[1].stem
