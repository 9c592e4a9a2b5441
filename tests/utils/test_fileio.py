import errno
import os
import stat

import pytest

from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import AtomicFiles, atomic_open, refuse_one_stream_twice


def test_atomic_open_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_open(target) as f:
            f.write("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_open_replaces_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_open(target) as f:
        f.write("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_files_commit_together_or_not_at_all(tmp_path):
    with pytest.raises(ValueError):
        with AtomicFiles() as files:
            files.tmp(tmp_path / "a").write_text("a")
            files.tmp(tmp_path / "b").write_text("b")
            raise ValueError
    assert list(tmp_path.iterdir()) == []
    with AtomicFiles() as files:
        files.tmp(tmp_path / "a").write_text("a")
        files.tmp(tmp_path / "b").write_text("b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_atomic_files_with_a_directory_as_an_output_rename_none(tmp_path):
    """A directory under one of the names was refused only at its own rename, the outputs before
    it already in place: asrkit-holdout-lists with a directory named dev.list wrote the new
    train.list, exit 1; asrkit-train-tokenizer with one named tokens.txt, a new tokens.model
    beside the old tokenizer.yaml. A link to a directory is replaced as a file is."""
    (tmp_path / "b").mkdir()
    (tmp_path / "c").write_text("old")
    with pytest.raises(IsADirectoryError) as e:
        with AtomicFiles() as files:
            for name in "abc":
                files.tmp(tmp_path / name).write_text("new")
    assert e.value.filename == str(tmp_path / "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "c"] and (tmp_path / "c").read_text() == "old"
    (tmp_path / "link").symlink_to(tmp_path / "b")
    with AtomicFiles() as files:
        files.tmp(tmp_path / "link").write_text("new")
    assert (tmp_path / "link").read_text() == "new" and not (tmp_path / "link").is_symlink()


def _dead_pid() -> int:
    """A pid no process has: one of our own children, reaped."""
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_stale_temp_files_of_killed_runs_are_removed(tmp_path):
    import os

    from asrkit.utils.fileio import RUN_START, remove_stale_tmp, tmp_path_for

    old = RUN_START - 60
    dead = _dead_pid()
    stale = tmp_path / f".feats.ark.{dead}.abcd1234.tmp"  # a killed run's
    legacy = tmp_path / ".feats.ark.zyxw9876.tmp"  # the pid-less name of older asrkit versions
    live = tmp_path / f".feats.ark.{os.getppid()}.abcd1234.tmp"  # a run still going (our parent)
    new = tmp_path / f".feats.ark.{dead}.efgh5678.tmp"  # written after this run started
    other = tmp_path / f".feats.scp.{dead}.abcd1234.tmp"  # another output's
    mine = tmp_path / ".feats.ark.mine.tmp"  # not our pattern
    stale_dir = tmp_path / f".split4.{dead}.abcd1234.tmp"
    for p in (stale, legacy, live, new, other, mine):
        p.write_text("x")
    stale_dir.mkdir()
    (stale_dir / "1").mkdir()
    for p in (stale, legacy, live, other, mine, stale_dir):
        os.utime(p, (old, old))
    assert sorted(p.name for p in remove_stale_tmp(tmp_path / "feats.ark")) == sorted([stale.name, legacy.name])
    assert not stale.exists() and not legacy.exists()
    assert live.exists() and new.exists() and other.exists() and mine.exists()
    assert remove_stale_tmp(tmp_path / "split4") == [stale_dir] and not stale_dir.exists()
    # Every temporary name handed out does the clean-up first, and carries our pid.
    os.utime(other, (old, old))
    tmp = tmp_path_for(tmp_path / "feats.scp")
    assert not other.exists() and tmp.name.startswith(f".feats.scp.{os.getpid()}.")


def test_final_name_of_temporary_paths():
    from asrkit.utils.fileio import final_name

    assert final_name("d/.feats.1.ark.123.ab12cd34.tmp") == "d/feats.1.ark"
    assert final_name("data/.train_sp.77.ab12cd_4.tmp/wav.scp") == "data/train_sp/wav.scp"
    assert final_name("d/feats.ark") == "d/feats.ark"


def test_a_fifo_or_device_is_written_in_place_not_replaced(tmp_path):
    """``--ctm /dev/stdout``: renaming a temporary file over it would replace the device node."""
    import os
    import stat
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []

    def reader():
        with open(fifo) as f:
            got.append(f.read())

    for write in ("atomic_open", "AtomicFiles"):
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        if write == "atomic_open":
            with atomic_open(fifo) as f:
                f.write("one\n")
        else:
            with AtomicFiles() as files:
                with open(files.tmp(fifo), "w") as f:
                    f.write("two\n")
        t.join(timeout=60)
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got == ["one\n", "two\n"] and sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


def test_a_symlinked_output_is_written_through_not_replaced(tmp_path):
    """``decode/text -> /data/hyp/text``: the temporary file renamed onto the link replaced the link
    with a regular file, and its target kept the old content; Kaldi's tools (and a shell's ``>``)
    write through a link. The temporary file goes beside the target, renamed onto it."""
    target = tmp_path / "elsewhere" / "text"
    target.parent.mkdir()
    target.write_text("old\n")
    out = tmp_path / "d"
    out.mkdir()
    (out / "text").symlink_to("../elsewhere/text")
    (out / "ctm").symlink_to(tmp_path / "elsewhere" / "ctm")  # (not there yet: made there, as open() does)
    with atomic_open(out / "text") as f:
        f.write("one\n")
    assert (out / "text").is_symlink() and target.read_text() == "one\n"
    with AtomicFiles() as files:
        with files.open(out / "text") as f, files.open(out / "ctm") as g:
            f.write("two\n")
            g.write("u1 1 0.0 0.5 yes\n")
    assert (out / "text").is_symlink() and (out / "ctm").is_symlink() and target.read_text() == "two\n"
    assert (tmp_path / "elsewhere" / "ctm").read_text() == "u1 1 0.0 0.5 yes\n"
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["ctm", "text"]  # (no temporary left)
    with pytest.raises(RuntimeError), atomic_open(out / "text") as f:  # (a failed write leaves both as they were)
        f.write("half")
        raise RuntimeError
    assert (out / "text").is_symlink() and target.read_text() == "two\n"
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["ctm", "text"]


def test_dev_stdout_is_a_stream_even_when_redirected_to_a_file(tmp_path):
    """With stdout redirected to a file, /dev/stdout links to a regular file; it is still written
    in place (checked on the name only: this test must never rename over the real /dev/stdout)."""
    import os

    from asrkit.utils.fileio import is_stream

    assert is_stream("/dev/stdout") and is_stream("/dev/null")
    link = tmp_path / "out"
    os.symlink("/proc/self/fd/1", link)
    assert is_stream(link)
    (tmp_path / "plain").write_text("x")
    assert not is_stream(tmp_path / "plain") and not is_stream(tmp_path / "missing") and not is_stream(tmp_path)


def test_tmp_dir_gets_the_umask_mode_not_0700(tmp_path):
    """mkdtemp's 0700 went with the rename: asrkit-split-data-dir's split<N>/ and a perturbed data
    dir could be entered by their owner only (an array job under another account, a colleague
    reading the data dir, were refused)."""
    from asrkit.utils.fileio import tmp_dir_for

    old = os.umask(0o022)
    try:
        d = tmp_dir_for(tmp_path / "split4")
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o755
        os.umask(0o077)
        assert stat.S_IMODE(os.stat(tmp_dir_for(tmp_path / "x")).st_mode) == 0o700
    finally:
        os.umask(old)


def test_dev_stdout_is_a_stream_even_when_stdout_is_closed(tmp_path):
    """Started with stdout closed (``>&-``), /dev/stdout links to a descriptor that is not open:
    is_stream took it for a file not there yet, atomic_open wrote a temporary file in /dev and
    renamed it over the /dev/stdout symlink (asrkit-align <ctm-out> - did so as root, twice on the
    test machine). Checked in a child process with its stdout closed; nothing is written."""
    import subprocess
    import sys

    code = ("import sys; from asrkit.utils.fileio import is_stream; "
            "sys.exit(0 if is_stream('/dev/stdout') and is_stream('/dev/fd/1') else 3)")
    proc = subprocess.run(["bash", "-c", 'exec "$@" >&-', "-", sys.executable, "-c", code],
                          stderr=subprocess.PIPE, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (writes fail with ENOSPC)")
@pytest.mark.parametrize("mode", ["w", "wb"])
def test_a_full_stream_output_is_named(mode):
    """A stream is written in place, so the full-disk error came without a file name:
    asrkit-compute-cmvn, asrkit-average and asrkit-align said 'an output whose name is not known'."""
    with pytest.raises(OSError) as e:
        with atomic_open("/dev/full", mode) as f:
            f.write("x" * (1 << 20) if mode == "w" else b"x" * (1 << 20))
    assert e.value.filename == "/dev/full"
    assert os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (writes fail with ENOSPC)")
def test_compute_cmvn_names_a_full_stream_output(tmp_path, asrkit):
    import kaldiio
    import numpy as np

    kaldiio.save_ark(str(tmp_path / "f.ark"), {"u1": np.ones((5, 3), np.float32)}, scp=str(tmp_path / "f.scp"))
    proc = asrkit("compute-cmvn", f"scp:{tmp_path / 'f.scp'}", "/dev/full", check=False)
    assert proc.returncode != 0
    assert "ERROR (asrkit-compute-cmvn): /dev/full: no space left on device" in proc.stderr.decode()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (writes fail with ENOSPC)")
def test_a_full_disk_names_the_output_being_written_not_the_newest_temporary(tmp_path, asrkit):
    """A write's OSError carries no file name, and AtomicFiles named the output whose temporary
    file was written last: an scp (or utt2num_frames) on a full disk beside an ark on another one
    was 'f.ark: no space left on device' (checked on a real full tmpfs too), and a stream output
    such as /dev/full, never a temporary file, was never named."""
    import numpy as np
    import soundfile as sf

    from asrkit.data.specifier import MatrixWriter

    with pytest.raises(OSError) as e:
        with MatrixWriter(f"ark,scp:{tmp_path}/m.ark,/dev/full") as w:
            for i in range(2000):
                w.write(f"utt{i:05d}", np.ones((20, 40), np.float32))
    assert e.value.filename == "/dev/full" and not (tmp_path / "m.ark").exists()
    sf.write(tmp_path / "a.wav", np.zeros(8000, np.int16), 8000)
    (tmp_path / "wav.scp").write_text(f"u1 {tmp_path}/a.wav\n")
    for args in (["scp:" + str(tmp_path / "wav.scp"), f"ark,scp:{tmp_path}/f.ark,/dev/full"],
                 ["--write-utt2num-frames", "/dev/full", "scp:" + str(tmp_path / "wav.scp"),
                  f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp"]):
        proc = asrkit("compute-fbank", "--sample-frequency", "8000", *args, check=False)
        assert proc.returncode == 1
        assert proc.stderr.decode().splitlines()[-1] == "ERROR (asrkit-compute-fbank): /dev/full: no space left on device"
        assert not (tmp_path / "f.ark").exists() and not (tmp_path / "f.scp").exists()


def test_an_interrupt_while_a_temporary_file_is_made_leaves_none(tmp_path, monkeypatch):
    """Ctrl-C or SIGTERM (raised as KeyboardInterrupt) after mkstemp but before the name was handed
    back: no caller knew the file to remove, so it stayed behind (a killed asrkit-score, now and then)."""
    from asrkit.utils.fileio import tmp_dir_for, tmp_path_for

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fchmod", interrupted)
    monkeypatch.setattr(os, "chmod", interrupted)
    for make in (tmp_path_for, tmp_dir_for):
        with pytest.raises(KeyboardInterrupt):
            make(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_replace_dir_when_another_run_put_its_own_there_first(tmp_path, monkeypatch):
    """Two identical commands at once (asrkit-split-data-dir of one test set by two decodings): the
    other's directory appearing between the check and the rename failed this one with an ENOTEMPTY
    traceback. Both succeed now, and no aside copy is left."""
    from asrkit.utils.fileio import replace_dir, tmp_dir_for

    out = tmp_path / "split2"
    ours, theirs = tmp_dir_for(out), tmp_dir_for(out)
    (ours / "mine").write_text("a")
    (theirs / "theirs").write_text("b")
    real = os.replace

    def racing(src, dst):
        if dst == out and theirs.exists():
            real(theirs, out)  # the other run renames its directory in first
        real(src, dst)

    monkeypatch.setattr(os, "replace", racing)
    replace_dir(ours, out)
    assert [p.name for p in tmp_path.iterdir()] == ["split2"]
    assert [p.name for p in out.iterdir()] == ["mine"]


def test_replace_dir_never_leaves_a_half_removed_directory(tmp_path, monkeypatch):
    """The old directory is renamed aside before it is removed: removed in place (perturb's data dir),
    a kill part-way left half of it under the final name. A killed run's aside copy goes with the
    next run's clean-up."""
    from asrkit.utils.fileio import RUN_START, replace_dir, tmp_dir_for

    out = tmp_path / "train_sp"
    out.mkdir()
    (out / "wav.scp").write_text("old")
    new = tmp_dir_for(out)
    (new / "wav.scp").write_text("new")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the removal of the old one interrupted

    monkeypatch.setattr("shutil.rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        replace_dir(new, out)
    monkeypatch.undo()
    assert (out / "wav.scp").read_text() == "new"
    aside = [p for p in tmp_path.iterdir() if p != out]
    assert len(aside) == 1 and aside[0].name.startswith(".train_sp.") and aside[0].name.endswith(".tmp")
    dead = _dead_pid()  # as if by a run that was killed
    stale = aside[0].rename(tmp_path / f".train_sp.{dead}.abcd1234.tmp")
    os.utime(stale, (RUN_START - 60, RUN_START - 60))
    tmp_dir_for(out).rmdir()
    assert [p.name for p in tmp_path.iterdir()] == ["train_sp"]


def test_a_signal_while_outputs_are_renamed_lands_after_the_last_one(tmp_path, monkeypatch):
    """A Ctrl-C (or SIGTERM) between the renames of an AtomicFiles set left the new ark beside the
    old scp: after asrkit-apply-cmvn in place (ark,scp:x.ark,x.scp over scp:x.scp) the old scp read
    the new, normalized ark, and the command run again normalized it twice. The signal now lands
    once every output is in place."""
    from process_checks import sigint_after_each_rename

    for name in ("x.ark", "x.scp"):
        (tmp_path / name).write_text("old")
    with sigint_after_each_rename(monkeypatch), pytest.raises(KeyboardInterrupt):
        with AtomicFiles() as files:
            files.tmp(tmp_path / "x.ark").write_text("new")
            files.tmp(tmp_path / "x.scp").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.ark", "x.scp"]
    assert (tmp_path / "x.ark").read_text() == (tmp_path / "x.scp").read_text() == "new"


def test_a_first_rename_that_fails_leaves_the_old_index_with_its_set(tmp_path, monkeypatch):
    """The index of a set (feats.scp) is renamed last and its old file taken away before the first
    rename, so a kill between two renames leaves no scp into the new ark; but it was removed, and a
    first rename that failed (the ark read-only to rename over, immutable, EIO) then left the old
    ark without its scp: a good output lost to a run that changed nothing. It is put back."""
    real = os.replace
    for name in ("x.ark", "x.scp"):
        (tmp_path / name).write_text("old")
    # the ark's rename, and (the next time) the move of the old scp aside, failing
    for refused in ("x.ark", ".x.scp."):
        def refusing(src, dst, *args, **kwargs):
            if os.path.basename(dst).startswith(refused):
                raise OSError(errno.EPERM, os.strerror(errno.EPERM), str(dst))
            return real(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "replace", refusing)
        with pytest.raises(PermissionError):
            with AtomicFiles() as files:
                files.tmp(tmp_path / "x.ark").write_text("new")
                with files.open(tmp_path / "x.scp", index=True) as f:
                    f.write("new")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["x.ark", "x.scp"], refused
        assert (tmp_path / "x.ark").read_text() == (tmp_path / "x.scp").read_text() == "old"
    monkeypatch.setattr(os, "replace", real)
    with AtomicFiles() as files:
        files.tmp(tmp_path / "x.ark").write_text("new")
        with files.open(tmp_path / "x.scp", index=True) as f:
            f.write("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.ark", "x.scp"]
    assert (tmp_path / "x.ark").read_text() == (tmp_path / "x.scp").read_text() == "new"


def test_parent_not_a_directory_names_the_first_file_in_the_way(tmp_path):
    from asrkit.utils.fileio import parent_not_a_directory

    (tmp_path / "f").write_text("")
    (tmp_path / "d").mkdir()
    assert parent_not_a_directory(tmp_path / "f/a/b/x.log") == f"{tmp_path / 'f'} is a file, not a directory"
    assert parent_not_a_directory(tmp_path / "d/x.log") is None
    assert parent_not_a_directory(tmp_path / "missing/f/x.log") is None
    assert parent_not_a_directory("/dev/null/x") == "/dev/null is a character device, not a directory"


def test_one_stream_named_twice_is_refused_a_file_twice_is_not(tmp_path):
    """A second read of stdin or of a FIFO finds it drained, and the error then blamed that input's
    contents ("empty list"); a regular file can be read twice."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(AsrkitError, match=r"^--a and --b are both .*/fifo: a stream can be read only once; give a "
                                          r"file for one of them$"):
        refuse_one_stream_twice({"--a": fifo, "--x": None, "--c": tmp_path, "--b": str(fifo)})
    with pytest.raises(AsrkitError, match=r"^<text> and --valid are both stdin: "):
        refuse_one_stream_twice({"<text>": "/dev/stdin", "--valid": "/proc/self/fd/0"})
    regular = tmp_path / "text"
    regular.write_text("a\n")
    other = tmp_path / "fifo2"
    os.mkfifo(other)
    refuse_one_stream_twice({"--a": regular, "--b": regular, "--c": fifo, "--d": other, "--e": None,
                             "--f": tmp_path / "missing"})


def test_an_output_under_a_broken_link_is_named_as_one(tmp_path):
    # exp -> an unmounted scratch disk (Kaldi's create_split_dir.pl makes such links): an output under
    # it was "exp: exists and is not a directory" (mkdir's EEXIST), or "no such file or directory".
    import errno
    import subprocess
    import sys

    from asrkit.utils.errors import os_error_message

    (tmp_path / "exp").symlink_to(tmp_path / "scratch-gone")
    why = f"{tmp_path / 'exp'}: a broken symbolic link (to {tmp_path / 'scratch-gone'}, which does not exist)"
    for code, name in ((errno.EEXIST, tmp_path / "exp"), (errno.ENOENT, tmp_path / "exp" / "a" / "b.ark")):
        assert os_error_message(OSError(code, os.strerror(code), str(name))) == why
    (tmp_path / "f.txt").write_text("u1 [ 1 2 3\n 4 5 6 ]\n")
    proc = subprocess.run([sys.executable, "-m", "asrkit", "compute-cmvn", "ark,t:f.txt", "exp/sub/cmvn.ark"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "ERROR (asrkit-compute-cmvn): exp: a broken symbolic link" in proc.stderr, proc.stderr
    # a real file in the way is still said so
    assert os_error_message(OSError(errno.EEXIST, "File exists", str(tmp_path / "f.txt"))) == \
        f"{tmp_path / 'f.txt'} is a file, not a directory"


def test_id_file_name_is_one_short_file_name_per_id():
    """Plots (per utterance) and perturb's audio copies (per recording) name files by id: one
    rule for both, which had each its own (perturb's kept '.x' hidden, plots' cut inside a %XX)."""
    import re

    from asrkit.utils.fileio import id_file_name

    assert id_file_name("spk1-a0001") == "spk1-a0001"
    assert id_file_name("spk/u1") == "spk%2Fu1" and id_file_name("..") == "%2E." and id_file_name(".x") == "%2Ex"
    cjk = ["語" * 28, "語" * 28 + "a", "語" * 27 + "b"]
    names = [id_file_name(k) for k in cjk]
    assert len(set(names)) == 3 and all(len(n) <= 160 and n.isascii() for n in names), names
    for n in names:  # cut between escapes, never inside one
        head = n[:n.rindex("-")]
        assert re.fullmatch(r"(%[0-9A-F]{2}|[^%])*", head), n
