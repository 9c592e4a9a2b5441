"""asrkit-split-data-dir: pieces cover every utterance once, speakers stay whole, each piece is valid."""
from __future__ import annotations

import os
import re
import shutil

import pytest
from an4_data import make_an4_data_dir

from asrkit.data.split import split_by_weight, split_data_dir, split_scp
from asrkit.data.validate import validate_data_dir
from asrkit.utils.errors import AsrkitError


@pytest.fixture
def an4_dir(an4_root, tmp_path):
    d = tmp_path / "train"
    make_an4_data_dir(an4_root, d, "train")
    # feats.scp/utt2num_frames as after feature extraction, so they are split too.
    utts = [l.split()[0] for l in (d / "utt2spk").read_text().splitlines()]
    # a real ark: validation checks each ark's size against its offsets and reads its last header
    import kaldiio
    import numpy as np

    kaldiio.save_ark(str(tmp_path / "feats.ark"), {u: np.zeros((2, 3), dtype=np.float32) for u in utts},
                     scp=str(d / "feats.scp"))
    (d / "utt2num_frames").write_text("".join(f"{u} {100 + i}\n" for i, u in enumerate(utts)))
    return d


def table(path):
    return dict(l.split(maxsplit=1) for l in path.read_text().splitlines())


def test_split_scp_balanced_contiguous():
    assert split_scp(list("abcdefg"), 3) == [list("abc"), list("de"), list("fg")]
    assert split_scp(list("ab"), 2) == [["a"], ["b"]]
    # Kaldi's utils/split_scp.pl gives the first len % n pieces the extra line: 5 in 2 is [3, 2].
    assert split_scp(list("abcde"), 2) == [list("abc"), list("de")]
    with pytest.raises(AsrkitError):
        split_scp(list("ab"), 3)
    ranges = split_by_weight([5, 1, 1, 1, 1, 1, 5, 5], 3)
    # Sums 7, 8, 5 of 20: each cut at the item boundary nearest k/3 of the total.
    assert [(r.start, r.stop) for r in ranges] == [(0, 3), (3, 7), (7, 8)]
    assert [(r.start, r.stop) for r in split_by_weight([1] * 5, 5)] == [(i, i + 1) for i in range(5)]


def test_split_by_weight_reads_each_weight_a_bounded_number_of_times():
    """Each cut summed weights[:i] again, so 1M one-utterance speakers (utt2spk mapping each
    utterance to itself) into 1000 jobs read 5e8 weights, 7.4 s (hostile-input sweep 8a)."""
    class Counted(list):
        reads = 0

        def __getitem__(self, key):
            got = super().__getitem__(key)
            self.reads += len(got) if isinstance(key, slice) else 1
            return got

        def __iter__(self):
            for w in super().__iter__():
                self.reads += 1
                yield w

    weights = Counted([1, 3, 2] * 700)
    ranges = split_by_weight(weights, 300)
    assert [len(r) for r in ranges] == [7] * 300 and weights.reads <= 3 * len(weights), weights.reads


@pytest.mark.parametrize("per_utt,n", [(False, 7), (True, 10)])
def test_pieces_cover_every_utterance_once(an4_dir, per_utt, n):
    result = split_data_dir(an4_dir, n, per_utt=per_utt)
    assert result.dirs == [an4_dir / f"split{n}" / str(j) for j in range(1, n + 1)]
    whole = {name: table(an4_dir / name) for name in ("utt2spk", "text", "wav.scp", "feats.scp", "utt2num_frames")}
    seen = {}
    for piece in result.dirs:
        assert validate_data_dir(piece) == []
        for name, full in whole.items():
            part = table(piece / name)
            assert all(full[k] == v for k, v in part.items())
        for utt in table(piece / "utt2spk"):
            assert utt not in seen, f"{utt} in {piece} and {seen[utt]}"
            seen[utt] = piece
    assert set(seen) == set(whole["utt2spk"])
    sizes = result.sizes
    if per_utt:
        assert max(sizes) - min(sizes) <= 1
    else:
        # Speakers whole: each speaker's utterances all in one piece.
        spk_piece = {}
        for utt, piece in seen.items():
            spk = whole["utt2spk"][utt]
            assert spk_piece.setdefault(spk, piece) == piece
        # 948 utterances of 74 speakers (~13 each) in 7 pieces: within two speakers of even.
        assert max(sizes) - min(sizes) <= 30, sizes


def test_too_many_pieces(an4_dir):
    with pytest.raises(AsrkitError, match="cannot split 74 speakers into 75 pieces"):
        split_data_dir(an4_dir, 75)
    with pytest.raises(AsrkitError, match="cannot split 948 utterances into 949 pieces"):
        split_data_dir(an4_dir, 949, per_utt=True)
    assert not (an4_dir / "split75").exists()


def test_rerun_is_idempotent_and_notices_changes(an4_dir):
    first = split_data_dir(an4_dir, 4)
    assert not first.reused
    assert split_data_dir(an4_dir, 4).reused
    # Another mode, or a newer source table, splits again.
    assert not split_data_dir(an4_dir, 4, per_utt=True).reused
    stamp = an4_dir / "split4" / ".split_mode"
    past = (an4_dir / "text").stat().st_mtime - 10            # as if text changed after the split
    os.utime(stamp, (past, past))
    assert not split_data_dir(an4_dir, 4, per_utt=True).reused
    assert split_data_dir(an4_dir, 4, per_utt=True).reused
    (an4_dir / "utt2num_frames").unlink()                     # a table gone: split again
    assert not split_data_dir(an4_dir, 4, per_utt=True).reused
    assert not (an4_dir / "split4" / "1" / "utt2num_frames").exists()
    leftovers = [p.name for p in an4_dir.iterdir() if p.name.startswith(".split")]
    assert leftovers == []


def test_a_killed_runs_aside_split_goes_when_the_split_is_reused(an4_dir, monkeypatch):
    """A split made again renames the old split4/ aside and removes it last; a run killed (SIGKILL)
    during that removal left the old pieces under a temporary name, which the next run, finding the
    new split4/ up to date, left in place for good (only a run that wrote split4/ removed it)."""
    import subprocess

    import asrkit.utils.fileio as fileio

    split_data_dir(an4_dir, 4)
    monkeypatch.setattr(fileio.shutil, "rmtree", lambda *a, **k: None)  # killed before the removal
    split_data_dir(an4_dir, 4, per_utt=True)
    monkeypatch.undo()
    aside = [p for p in an4_dir.iterdir() if p.name.startswith(".split4.")]
    assert len(aside) == 1
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid no process has: the killed run's
    stale = aside[0].rename(an4_dir / f".split4.{dead.pid}.abcd1234.tmp")
    os.utime(stale, (fileio.RUN_START - 60, fileio.RUN_START - 60))
    assert split_data_dir(an4_dir, 4, per_utt=True).reused
    assert [p.name for p in an4_dir.iterdir() if p.name.startswith(".split")] == []


def test_reuse_is_decided_by_content_not_mtimes(an4_dir):
    """A split was reused when its stamp was newer than every source table: a table replaced by
    one with an older mtime (cp -a, cp -p, rsync -t, tar x), or edited within the same timestamp
    tick as the split, left the jobs on the old pieces, without a word."""
    split_data_dir(an4_dir, 2)
    stamp = (an4_dir / "split2" / ".split_mode").stat()
    text = an4_dir / "text"
    lines = text.read_text().splitlines(keepends=True)
    # as `cp -a edited/text data/text` with an edit made before the split
    text.write_text("".join(lines).replace(" ", " X ", 1))
    past = stamp.st_mtime - 3600
    os.utime(text, (past, past))
    assert not split_data_dir(an4_dir, 2).reused
    assert " X " in (an4_dir / "split2" / "1" / "text").read_text()
    assert split_data_dir(an4_dir, 2).reused
    # an edit of the same size within the stamp's own timestamp
    stamp = (an4_dir / "split2" / ".split_mode").stat()
    text.write_text("".join(lines).replace(" ", " Y ", 1))
    os.utime(text, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert not split_data_dir(an4_dir, 2).reused
    assert " Y " in (an4_dir / "split2" / "1" / "text").read_text()
    # a whole data dir copied with its split and times kept (cp -a), then unchanged: reused
    copy = an4_dir.parent / "copy"
    shutil.copytree(an4_dir, copy)
    assert split_data_dir(copy, 2).reused


def test_split_with_segments(an4_dir, tmp_path):
    d = tmp_path / "seg"
    d.mkdir()
    wav = (an4_dir / "wav.scp").read_text().splitlines(keepends=True)[:4]
    (d / "wav.scp").write_text("".join(wav))
    recos = [l.split()[0] for l in wav]
    utts = [f"{r}-{k}" for r in recos for k in ("a", "b")]
    (d / "segments").write_text("".join(f"{u} {u[:-2]} {0 if u.endswith('a') else 1} 2\n" for u in utts))
    (d / "utt2spk").write_text("".join(f"{u} {u[:-2]}\n" for u in utts))
    (d / "text").write_text("".join(f"{u} YES\n" for u in utts))
    result = split_data_dir(d, 2)
    for piece in result.dirs:
        assert validate_data_dir(piece) == []
        assert len(table(piece / "wav.scp")) == 2 and len(table(piece / "segments")) == 4


def test_cli(asrkit, an4_dir):
    proc = asrkit("split-data-dir", "--per-utt", an4_dir, 3)
    assert b"Done: wrote 3 pieces" in proc.stderr and b"316 316 316" in proc.stderr
    assert (an4_dir / "split3" / "3" / "feats.scp").is_file()
    again = asrkit("split-data-dir", "--per-utt", an4_dir, 3)
    assert b"Done: reused 3 pieces" in again.stderr
    bad = asrkit("split-data-dir", an4_dir, 100, check=False)
    assert bad.returncode == 1 and b"cannot split 74 speakers into 100 pieces" in bad.stderr
    assert asrkit("split-data-dir", an4_dir, 0, check=False).returncode == 2
    # hostile-input sweep 8a: one number per piece made two 20 kB lines for 5000 pieces
    many = asrkit("split-data-dir", "--per-utt", an4_dir, 400)
    assert b"utterances 3 3 3 3 3 3 3 3 ... 2 2 (from 2 to 3))\n" in many.stderr, many.stderr
    assert max(len(line) for line in many.stderr.splitlines()) < 200
    assert b"utterances 79 each)\n" in asrkit("split-data-dir", "--per-utt", an4_dir, 12).stderr


def test_utterances_utt2spk_lacks_are_named(an4_dir, caplog):
    """An utterance in text/feats.scp/wav.scp but not in utt2spk goes to no piece: Kaldi's
    split_data.sh warns on the count mismatch, so the split says so (it was silent)."""
    lines = (an4_dir / "utt2spk").read_text().splitlines()
    (an4_dir / "utt2spk").write_text("".join(l + "\n" for l in lines[:-2]))
    dropped = [l.split()[0] for l in lines[-2:]]
    split_data_dir(an4_dir, 2, force=True)
    for name in ("text", "feats.scp", "wav.scp"):
        assert f"{an4_dir / name} has 2 utterances that are not in utt2spk ({' '.join(dropped)})" in caplog.text
    assert f"{an4_dir / 'spk2utt'} does not match {an4_dir / 'utt2spk'}" in caplog.text


def test_segments_naming_recordings_wav_scp_lacks_are_named(an4_dir, caplog):
    """A segment whose recording wav.scp lacks went into its piece without that audio, without a
    word, as a table lacking utterances does not; feature extraction then skipped the utterance."""
    wav = dict(l.split(None, 1) for l in (an4_dir / "wav.scp").read_text().splitlines())
    utts = sorted(wav)
    (an4_dir / "segments").write_text("".join(f"{u} {'gone-' if i in (2, 5) else ''}{u} 0 -1\n"
                                              for i, u in enumerate(utts)))
    split_data_dir(an4_dir, 2, force=True)
    assert (f"{an4_dir / 'segments'} names 2 recordings that {an4_dir / 'wav.scp'} lacks (gone-{utts[2]} "
            f"gone-{utts[5]}); their utterances' pieces will lack their audio") in caplog.text
    caplog.clear()
    # every recording there: no word, as before
    (an4_dir / "segments").write_text("".join(f"{u} {u} 0 -1\n" for u in utts))
    split_data_dir(an4_dir, 2, force=True)
    assert "lacks" not in caplog.text


def test_segments_with_unusable_times_are_named(an4_dir, caplog):
    """A segment ending before its start (or whose times are no numbers) was split silently; the
    pieces' feature extraction skips it, so the split says so, with the commands that name and drop it."""
    utts = sorted(l.split()[0] for l in (an4_dir / "wav.scp").read_text().splitlines())
    times = {1: "2.0 1.0", 4: "0 x", 6: "-1 2"}
    (an4_dir / "segments").write_text("".join(f"{u} {u} {times.get(i, '0 -1')}\n" for i, u in enumerate(utts)))
    split_data_dir(an4_dir, 2, force=True)
    assert (f"{an4_dir / 'segments'} has 3 segments with unusable times or fields ({utts[1]} {utts[4]} {utts[6]}); "
            f"feature extraction will skip their utterances (asrkit-validate-data-dir {an4_dir} names each line; "
            f"asrkit-fix-data-dir {an4_dir} drops them)") in caplog.text
    caplog.clear()
    (an4_dir / "segments").write_text("".join(f"{u} {u} 0.5 -1\n" for u in utts))
    split_data_dir(an4_dir, 2, force=True)
    # (the message's words, not "unusable" alone: the tmp dir pytest names after this test holds it)
    assert "segments with unusable times" not in caplog.text


def test_unreadable_spk2utt_is_a_warning(an4_dir, caplog):
    (an4_dir / "spk2utt").write_text("lonely\n")
    split_data_dir(an4_dir, 2, force=True)
    assert "spk2utt cannot be read" in caplog.text


def test_a_table_that_is_no_regular_file_is_an_error(an4_dir, asrkit):
    """A table that is a directory, or a link to /dev/zero, was taken for an absent one: exit 0,
    and the pieces came without text or feats.scp."""
    for name, make, why in (("text", lambda p: p.mkdir(), "is a directory, not a table file"),
                            ("feats.scp", lambda p: p.mkdir(), "is a directory, not a table file"),
                            ("text", lambda p: p.symlink_to("/dev/zero"), "not a regular file (a device or pipe)"),
                            ("utt2spk", lambda p: p.symlink_to("/dev/zero"), "not a regular file (a device or pipe)")):
        saved = (an4_dir / name).read_bytes()
        (an4_dir / name).unlink()
        make(an4_dir / name)
        with pytest.raises(AsrkitError, match=f"^{re.escape(str(an4_dir / name))}: {re.escape(why)}"):
            split_data_dir(an4_dir, 2, per_utt=True)
        out = asrkit("split-data-dir", "--per-utt", an4_dir, "2", check=False)
        assert out.returncode == 1 and f"{an4_dir / name}: {why}".encode() in out.stderr, out.stderr
        assert not (an4_dir / "split2").exists()
        if (an4_dir / name).is_dir() and not (an4_dir / name).is_symlink():
            (an4_dir / name).rmdir()
        else:
            (an4_dir / name).unlink()
        (an4_dir / name).write_bytes(saved)
    assert split_data_dir(an4_dir, 2, per_utt=True).sizes


def test_two_splits_at_once_both_succeed(an4_dir, monkeypatch):
    """Two decodings of one test set split it at once: the other run's split4/ renamed in between
    this one's check and its rename failed this one with an OSError (directory not empty) traceback."""
    real = os.replace
    other = []

    def racing(src, dst):
        if os.path.basename(dst) == "split4" and not other:
            other.append(1)
            monkeypatch.setattr(os, "replace", real)
            split_data_dir(an4_dir, 4, force=True)  # the other run, finishing first
            monkeypatch.setattr(os, "replace", racing)
        real(src, dst)

    monkeypatch.setattr(os, "replace", racing)
    result = split_data_dir(an4_dir, 4, force=True)
    assert other and not result.reused and [p.name for p in an4_dir.iterdir() if p.name.startswith(".")] == []
    assert sum(len(table(p / "utt2spk")) for p in result.dirs) == len(table(an4_dir / "utt2spk"))


@pytest.mark.parametrize("make", ["file", "broken link"])
def test_a_file_where_the_pieces_go_is_refused_not_removed(an4_dir, asrkit, make):
    """A file (or a broken link) at <data>/split<N> was renamed aside and removed, without a word,
    and the pieces written in its place (hostile-input sweep 9)."""
    target = an4_dir / "split2"
    if make == "file":
        target.write_text("my notes\n")
    else:
        target.symlink_to(an4_dir / "nowhere")
    why = "a file, not a directory" if make == "file" else "a broken symbolic link"
    with pytest.raises(AsrkitError, match=f"^{re.escape(str(target))}: {why} where the 2 pieces go; move it away$"):
        split_data_dir(an4_dir, 2)
    out = asrkit("split-data-dir", an4_dir, "2", check=False)
    assert out.returncode == 1 and f"{target}: {why}".encode() in out.stderr, out.stderr
    assert target.is_symlink() if make != "file" else target.read_text() == "my notes\n"
    assert [p.name for p in an4_dir.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("per_utt", [False, True])
def test_an_empty_utt2spk_is_named_as_empty(an4_dir, per_utt):
    """It was 'cannot split 0 speakers into 2 pieces (use --per-utt, or fewer jobs)', after a
    warning for each table that its utterances are not in utt2spk (hostile-input sweep 9)."""
    (an4_dir / "utt2spk").write_text("")
    with pytest.raises(AsrkitError, match=f"^{re.escape(str(an4_dir / 'utt2spk'))}: no utterances \\(an empty file\\): "
                                          "nothing to split$"):
        split_data_dir(an4_dir, 2, per_utt=per_utt)
    assert not (an4_dir / "split2").exists()


def test_pieces_edited_by_hand_are_made_again(an4_dir, caplog):
    """The reuse stamp spoke for the source tables only: a piece whose utt2spk lost lines, or
    that lost a table, was reused ("utterances 1 12" of a 24-utterance dir), and its job left the
    utterances out without a word. Such a split is made again, with a warning saying why (the
    stamp's size and hash of each piece file; a stamp without them, of a split made before they
    were kept or cut short, is not up to date: made again too)."""
    n_utts = len((an4_dir / "utt2spk").read_text().splitlines())
    split_data_dir(an4_dir, 2)
    piece = an4_dir / "split2" / "1" / "utt2spk"
    piece.write_text("".join(piece.read_text().splitlines(keepends=True)[:1]))
    again = split_data_dir(an4_dir, 2)
    assert not again.reused and sum(again.sizes) == n_utts
    assert f"{an4_dir / 'split2'}: piece 1's utt2spk changed since the split (edited by hand?)" in caplog.text
    assert split_data_dir(an4_dir, 2).reused
    (an4_dir / "split2" / "2" / "feats.scp").unlink()
    assert not split_data_dir(an4_dir, 2).reused
    assert "piece 2 has no feats.scp" in caplog.text
    assert (an4_dir / "split2" / "2" / "feats.scp").is_file()
    stamp = an4_dir / "split2" / ".split_mode"
    whole = stamp.read_text()
    for cut in (whole.split("pieces\n")[0],                                          # an old stamp
                "".join(ln for ln in whole.splitlines(keepends=True) if not ln.startswith("2/text "))):
        (an4_dir / "split2" / "2" / "text").unlink()
        mtime = stamp.stat().st_mtime_ns
        stamp.write_text(cut)
        os.utime(stamp, ns=(mtime, mtime))
        again = split_data_dir(an4_dir, 2)
        assert not again.reused and sum(again.sizes) == n_utts and stamp.read_text() == whole
        assert (an4_dir / "split2" / "2" / "text").is_file()


def test_a_piece_table_edited_by_hand_is_made_again(an4_dir, caplog):
    """Only the pieces' utt2spk line counts and which tables they had were checked: a piece's
    text (or feats.scp, ...) edited by hand was reused, its job scoring or training on other
    words than the source's, without a word. Each piece file's size and hash are kept in the
    stamp; a changed one is made again, saying so. A file a job wrote into a piece is not the
    split's and changes nothing."""
    split_data_dir(an4_dir, 2)
    text = an4_dir / "split2" / "1" / "text"
    written = text.read_text()
    text.write_text(written.replace(" ", " X ", 1))
    (an4_dir / "split2" / "2" / "decode.log").write_text("a job's own file\n")
    again = split_data_dir(an4_dir, 2)
    assert not again.reused
    assert f"{an4_dir / 'split2'}: piece 1's text changed since the split (edited by hand?)" in caplog.text
    assert text.read_text() == written
    caplog.clear()
    (an4_dir / "split2" / "2" / "decode.log").write_text("a job's own file\n")
    assert split_data_dir(an4_dir, 2).reused and "changed" not in caplog.text


def test_tables_split_does_not_know_are_named(an4_dir, caplog):
    """Kaldi's split_data.sh splits vad.scp, utt2warp, ... too: asrkit's pieces came without them,
    unsaid. They are named (not split: their keys are not known to be utterances)."""
    utts = [l.split()[0] for l in (an4_dir / "utt2spk").read_text().splitlines()]
    (an4_dir / "vad.scp").write_text("".join(f"{u} vad.ark:{i}\n" for i, u in enumerate(utts)))
    (an4_dir / "fbank.yaml").write_text("num_mel_bins: 80\n")  # not a table: not named
    split_data_dir(an4_dir, 2, force=True)
    assert f"{an4_dir}: not in the pieces (not known to this command): vad.scp" in caplog.text
    assert "fbank.yaml" not in caplog.text and not (an4_dir / "split2/1/vad.scp").exists()


def test_a_piece_none_of_whose_speakers_spk2gender_has_gets_no_empty_spk2gender(an4_dir):
    """A spk2gender that lacks some speakers (a warning in validation, the source validates) gave
    the piece of those speakers an empty spk2gender, which validation refuses ('empty file'): the
    piece of a valid dir failed. An optional speaker/recording table with no line for a piece is
    left out of it, and the split is still reused."""
    speakers = sorted({l.split()[1] for l in (an4_dir / "utt2spk").read_text().splitlines()}, key=str.encode)
    (an4_dir / "spk2gender").write_text(f"{speakers[0]} f\n")
    assert not [p for p in validate_data_dir(an4_dir, check_wav_files=False) if p.is_error]
    split_data_dir(an4_dir, 2)
    first, second = an4_dir / "split2" / "1", an4_dir / "split2" / "2"
    assert table(first / "spk2gender") == {speakers[0]: "f"}
    assert not (second / "spk2gender").exists()
    for piece in (first, second):
        assert not [p for p in validate_data_dir(piece, check_wav_files=False) if p.is_error], piece
    assert split_data_dir(an4_dir, 2).reused
