"""StderrTail (asrkit.utils.pipes): the drain of a ``cmd |`` input's stderr."""
import os
import threading

import pytest

from asrkit.utils.pipes import StderrTail, start_pipe


def test_a_finish_cut_short_by_a_signal_leaves_the_drain_to_end_quietly(monkeypatch):
    # SIGTERM's exception can land in finish()'s join: the stream was then closed under the running
    # drain, whose own traceback ("Exception in thread pipe-stderr") came out beside asrkit-decode's
    # one-line "terminated by SIGTERM" (a flaky CI failure of test_hostile_inputs). The steps are
    # held by events, so the drain is in its last reads, with more in the pipe, when the join ends.
    thread_errors = []
    monkeypatch.setattr(threading, "excepthook", thread_errors.append)
    r, w = os.pipe()
    stream = os.fdopen(r, "rb", buffering=0)
    tail = StderrTail(stream)
    first_read, first_go_on = threading.Event(), threading.Event()
    in_last_reads, last_go_on = threading.Event(), threading.Event()
    keep = tail._keep

    def held_keep(chunk):
        keep(chunk)
        if not tail._finished:
            first_read.set()
            first_go_on.wait(60)
        elif not in_last_reads.is_set():
            in_last_reads.set()
            last_go_on.wait(60)

    def interrupted_join(timeout=None):
        first_go_on.set()
        assert in_last_reads.wait(60)
        raise KeyboardInterrupt  # what the signal handler's exception does to the join

    tail._keep = held_keep
    drain = tail._thread
    real_join = drain.join
    monkeypatch.setattr(drain, "join", interrupted_join)
    try:
        os.write(w, b"first line\n")
        assert first_read.wait(60)
        os.write(w, b"more\n" * 200)  # still in the pipe when finish() stops the drain
        with pytest.raises(KeyboardInterrupt):
            tail.finish()
        last_go_on.set()
        real_join(timeout=60)
        assert not drain.is_alive()
        assert thread_errors == [], [e.exc_value for e in thread_errors]
        assert stream.closed  # by the drain, as it stopped
        assert tail.finish().endswith(b"more\n")
    finally:
        first_go_on.set()
        last_go_on.set()
        os.close(w)


def test_finish_keeps_the_end_and_closes_the_stream():
    proc, err = start_pipe("echo first >&2; echo last >&2")
    proc.stdout.read()
    proc.wait()
    assert err.last_line() == ": last"
    assert err.finish() == b"first\nlast\n"  # again: the same end
    assert proc.stderr.closed
    proc.stdout.close()
