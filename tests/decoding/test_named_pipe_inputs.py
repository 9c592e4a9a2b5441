"""A named pipe that nobody writes to, given where a command reads a table, a list or a config:
one line naming it after asrkit.utils.fileio.FIFO_WRITER_WAIT_S, never a wait for ever (open()
waited for a writer with no word: score's texts, make-data-dir --transcripts, compute-fbank's
wav.scp, --segments and --config, decode's --wav-scp, --utt-ids, --feats and --spk-transforms).
One with a writer is read whole, the bytes read to learn that it has one included."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from process_checks import a_writer_comes_and_goes_at_open

from test_decode_cli import inproc, yesno  # noqa: F401  (fixtures)

WAIT_S = 0.3


@pytest.fixture
def short_wait(monkeypatch):
    monkeypatch.setattr("asrkit.utils.fileio.FIFO_WRITER_WAIT_S", WAIT_S, raising=False)


class Hung(Exception):
    pass


def _hung(*_):
    raise Hung("waited for the named pipe's writer for ever")


def run_bounded(inproc, *args):  # noqa: F811
    """``inproc(*args)``, failed (not hung) where it waits 20 s."""
    old = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(20)
    try:
        return inproc(*args, check=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_a_named_pipe_with_no_writer_is_named_not_waited_on(inproc, yesno, tmp_path, short_wait):  # noqa: F811
    tmp, model, wavs = yesno
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text("".join(f"{w.stem} {w}\n" for w in wavs[:2]))
    (data / "segments").write_text("".join(f"s{i} {w.stem} 0.5 2.5\n" for i, w in enumerate(wavs[:2])))
    (data / "utt2spk").write_text("s0 a\ns1 a\n")
    (data / "text").write_text("s0 YES\ns1 NO\n")
    text, scp, segs = data / "text", data / "wav.scp", data / "segments"
    fb = ["--sample-frequency", "8000", "--num-mel-bins", "23"]
    dec = ["decode", "--model", model, "--beam", "2"]
    cases = [
        ["score", fifo, text], ["score", text, fifo], ["score", "--utt2spk", fifo, text, text],
        ["make-data-dir", "--transcripts", fifo, wavs[0].parent, tmp_path / "made"],
        ["compute-fbank", *fb, fifo, f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp"],
        ["compute-fbank", *fb, "--segments", fifo, scp, f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp"],
        ["compute-fbank", "--config", fifo, scp, f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp"],
        [*dec, "--wav-scp", fifo], [*dec, "--wav-scp", scp, "--segments", fifo],
        [*dec, "--wav-scp", scp, "--segments", segs, "--utt-ids", fifo], [*dec, "--config", fifo, wavs[0]],
        [*dec, "--feats", f"scp:{fifo}"], [*dec, "--feats", f"ark:{fifo}"],
        [*dec, "--wav-scp", scp, "--segments", segs, "--spk-transforms", f"ark:{fifo}", "--utt2spk", data / "utt2spk"],
    ]
    for args in cases:
        t = time.monotonic()
        proc = run_bounded(inproc, *args)
        err = proc.stderr.decode()
        errors = [ln for ln in err.splitlines() if ln.startswith("ERROR")]
        assert proc.returncode == 1 and errors and "Traceback" not in err, (args, err)
        assert f"{fifo}: a named pipe with no writer (waited 0 s for one" in errors[-1], (args, err)
        assert time.monotonic() - t < 10, args
    assert not (tmp_path / "made").exists() and not (tmp_path / "f.scp").exists()


def test_a_named_pipe_with_a_writer_is_read_whole(inproc, yesno, tmp_path):  # noqa: F811
    """A writer that opens the pipe only after the reader has started (within the wait), and one
    that opens it at once but writes later: both are read, none of their bytes lost. (The wait is
    the real one, not short_wait's 0.3 s: a thread of a loaded machine may open it later than that.)"""
    from asrkit.utils.fileio import open_read

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    data = b"".join(b"utt%06d some words here\n" % i for i in range(20000))  # 600 kB: over a pipe's buffer

    def write(open_after: float, write_after: float):
        time.sleep(open_after)
        with open(fifo, "wb") as f:
            time.sleep(write_after)
            f.write(data)

    for open_after, write_after in ((0.1, 0), (0, 0.5)):
        writer = threading.Thread(target=write, args=(open_after, write_after))
        writer.start()
        with open_read(fifo) as f:
            assert f.read() == data
        writer.join()
    # The command reads it as it reads a file: score of a text against itself through the pipe
    ref = tmp_path / "ref"
    ref.write_text("a YES NO\nb NO\n")
    writer = threading.Thread(target=lambda: fifo.write_bytes(ref.read_bytes()))
    writer.start()
    proc = run_bounded(inproc, "score", ref, fifo)
    writer.join()
    assert proc.returncode == 0 and "%WER 0.00" in proc.stdout.decode(), proc.stderr.decode()


def test_a_writer_that_comes_late_is_told_of_and_read(tmp_path, monkeypatch):
    """A named pipe's reader gave up after 5 s: a Kaldi-style 'asrkit-score ref p & prog --out p'
    whose writer opens p only once it has started (a Python program importing torch on a loaded
    machine) failed, and its writer then waited for ever on a pipe nobody read. The reader now says
    on stderr that it is waiting, after FIFO_WRITER_NOTE_S, and waits up to FIFO_WRITER_WAIT_S
    (a minute): a writer that comes only after that note, as a late one does, is read whole."""
    import logging

    from asrkit.utils.errors import AsrkitError
    from asrkit.utils.fileio import open_read

    monkeypatch.setattr("asrkit.utils.fileio.FIFO_WRITER_NOTE_S", 0.2, raising=False)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    data = b"".join(b"utt%06d some words here\n" % i for i in range(20000))
    noted, notes = threading.Event(), []

    class Note(logging.Handler):
        def emit(self, record):
            notes.append((record.levelno, record.getMessage()))
            if record.levelno >= logging.WARNING:
                noted.set()

    def write():
        noted.wait(8)  # (no note: a writer coming 8 s late, past the old 5 s)
        with open(fifo, "wb") as f:
            f.write(data)

    handler, log = Note(), logging.getLogger("fileio")
    log.addHandler(handler)
    writer = threading.Thread(target=write)
    writer.start()
    try:
        with open_read(fifo) as f:
            got = f.read()
    except AsrkitError as e:
        got = str(e).encode()
    finally:
        log.removeHandler(handler)
        if not noted.is_set():
            noted.set()
        writer.join(20)
    assert got == data, (got[:200], notes)
    warned = [m for lv, m in notes if lv >= logging.WARNING]
    assert len(warned) == 1 and f"{fifo}: a named pipe with no writer yet after 0.2 s" in warned[0], notes
    assert "start the program that writes it" in warned[0] and "up to 60 s" in warned[0], warned


def test_a_writer_that_writes_nothing_is_an_empty_input_at_once(tmp_path, monkeypatch):
    """A writer that opens the pipe and closes it having written nothing ('grep x a > p' finding no
    line, ': > p') gives what an empty file gives, at once. Where it had closed before the reader's
    first look (the reader preempted on a loaded machine), it was waited on as if no writer had
    come, then refused as 'a named pipe with no writer'. The writer here comes and goes right after
    the reader's open, before that look, every time (process_checks.a_writer_comes_and_goes_at_open), not by a race."""
    from asrkit.utils.errors import AsrkitError
    from asrkit.utils.fileio import open_read

    monkeypatch.setattr("asrkit.utils.fileio.FIFO_WRITER_WAIT_S", 10.0, raising=False)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    a_writer_comes_and_goes_at_open(monkeypatch, fifo)
    old = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(20)
    try:
        with open_read(fifo) as f:
            got = f.read()
    except AsrkitError as e:
        got = str(e)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert got == b""
