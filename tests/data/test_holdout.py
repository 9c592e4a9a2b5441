"""asrkit-holdout-lists: train/dev/test lists by fraction (seeded) or by list, by utterance or by speaker;
and both new data-prep commands from the command line on a real AN4 slice."""
from __future__ import annotations

import os

import pytest

from asrkit.data.holdout import choose_holdout, holdout_lists
from asrkit.utils.errors import AsrkitError
from user_corpus import make_user_corpus

UTT2SPK = {f"s{s}-u{u:02d}": f"s{s}" for s in range(5) for u in range(20)}  # 5 speakers x 20


def test_fractions_are_seeded_disjoint_and_cover_everything():
    a = choose_holdout(UTT2SPK, dev_fraction=0.05, test_fraction=0.1, seed=3)
    assert (len(a["train"]), len(a["dev"]), len(a["test"])) == (85, 5, 10)
    assert sorted(a["train"] + a["dev"] + a["test"]) == sorted(UTT2SPK)
    assert a == choose_holdout(UTT2SPK, dev_fraction=0.05, test_fraction=0.1, seed=3)
    assert a != choose_holdout(UTT2SPK, dev_fraction=0.05, test_fraction=0.1, seed=4)
    # A tiny corpus still gets one dev utterance; no test set asked: none.
    b = choose_holdout({"a": "s", "b": "s", "c": "s"}, dev_fraction=0.01)
    assert (len(b["train"]), len(b["dev"]), b["test"]) == (2, 1, [])


def test_by_speaker_keeps_speakers_apart():
    sets = choose_holdout(UTT2SPK, dev_fraction=0.2, test_fraction=0.2, by_speaker=True, seed=1)
    spk = {name: {UTT2SPK[u] for u in utts} for name, utts in sets.items()}
    assert len(spk["dev"]) == 1 and len(spk["test"]) == 1 and len(spk["train"]) == 3
    assert not (spk["dev"] & spk["train"] or spk["test"] & spk["train"] or spk["dev"] & spk["test"])
    with pytest.raises(AsrkitError, match=r"--by-speaker: 1 speaker\(s\) left"):
        choose_holdout({"a": "s", "b": "s"}, dev_fraction=0.5, by_speaker=True)


def test_by_speaker_overshoot_is_said(caplog):
    # two speakers and a 20 % dev set: one whole speaker, half the data, was held out in silence
    two = {f"s{s}-u{u:02d}": f"s{s}" for s in range(2) for u in range(20)}
    with caplog.at_level("WARNING"):
        sets = choose_holdout(two, dev_fraction=0.2, by_speaker=True)
    assert len(sets["dev"]) == 20
    assert ("--by-speaker: the dev set is 20 of 40 utterances (50 %) for --dev-fraction 0.2 (8): whole speakers "
            "come no closer (1 of 2 speakers taken)") in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        choose_holdout(UTT2SPK, dev_fraction=0.2, by_speaker=True)   # one of five: as asked
    assert "--by-speaker" not in caplog.text


def test_by_speaker_undershoot_is_said(caplog):
    # two speakers and a 90 % dev set: the last speaker stays for training, so half the data was
    # held out, in silence
    two = {f"s{s}-u{u:02d}": f"s{s}" for s in range(2) for u in range(20)}
    with caplog.at_level("WARNING"):
        sets = choose_holdout(two, dev_fraction=0.9, by_speaker=True)
    assert len(sets["dev"]) == 20
    assert ("--by-speaker: the dev set is 20 of 40 utterances (50 %) for --dev-fraction 0.9 (36): whole speakers "
            "come no closer, one at least staying for training (1 of 2 speakers taken)") in caplog.text


def test_explicit_lists(tmp_path):
    (tmp_path / "dev").write_text("s0-u00\ns0-u01 any other columns\n\n")
    (tmp_path / "test").write_text("s1-u00\n")
    sets = choose_holdout(UTT2SPK, dev_list=tmp_path / "dev", test_list=tmp_path / "test")
    assert (sets["dev"], sets["test"], len(sets["train"])) == (["s0-u00", "s0-u01"], ["s1-u00"], 97)
    # A list for dev and a fraction for test together.
    sets = choose_holdout(UTT2SPK, dev_list=tmp_path / "dev", test_fraction=0.1, seed=2)
    assert len(sets["test"]) == 10 and not set(sets["test"]) & {"s0-u00", "s0-u01"}

    (tmp_path / "bad").write_text("s0-u00\nnobody\n")
    with pytest.raises(AsrkitError, match=r"bad:2: 'nobody' is not an utterance of the data dir"):
        choose_holdout(UTT2SPK, dev_list=tmp_path / "bad")
    (tmp_path / "twice").write_text("s0-u00\ns0-u00\n")
    with pytest.raises(AsrkitError, match=r"twice:2: 's0-u00' is listed twice"):
        choose_holdout(UTT2SPK, dev_list=tmp_path / "twice")
    (tmp_path / "overlap").write_text("s0-u01\ns2-u00\n")
    with pytest.raises(AsrkitError, match=r"both list 1 utterance\(s\), e.g. 's0-u01'"):
        choose_holdout(UTT2SPK, dev_list=tmp_path / "dev", test_list=tmp_path / "overlap")
    with pytest.raises(AsrkitError, match=r"as a fraction or as a list, not both"):
        choose_holdout(UTT2SPK, dev_list=tmp_path / "dev", dev_fraction=0.1)
    with pytest.raises(AsrkitError, match=r"leave nothing to train on"):
        choose_holdout(UTT2SPK, dev_fraction=0.5, test_fraction=0.5)
    with pytest.raises(AsrkitError, match=r"must be in \[0, 1\)"):
        choose_holdout(UTT2SPK, dev_fraction=1.5)


def test_lists_written_and_a_stale_one_removed(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(UTT2SPK.items())))
    holdout_lists(d, tmp_path / "lists", dev_fraction=0.1, test_fraction=0.1)
    assert len((tmp_path / "lists/test.list").read_text().split()) == 10
    holdout_lists(d, tmp_path / "lists", dev_fraction=0.1)  # no test set this time
    assert not (tmp_path / "lists/test.list").exists()
    assert len((tmp_path / "lists/train.list").read_text().split()) == 90
    # a directory where the stale list would be removed: refused before the new lists are written
    # (its removal failed after them, the split half made)
    (tmp_path / "lists/test.list").mkdir()
    before = (tmp_path / "lists/train.list").read_text()
    with pytest.raises(AsrkitError, match=r"lists/test.list: a directory where an earlier split's test list would be "
                                          r"removed; move it away"):
        holdout_lists(d, tmp_path / "lists", dev_fraction=0.2)
    assert (tmp_path / "lists/train.list").read_text() == before


def test_nothing_held_out_is_said(tmp_path, caplog):
    d = tmp_path / "data"
    d.mkdir()
    (d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(UTT2SPK.items())))
    holdout_lists(d, tmp_path / "lists", dev_fraction=0.1)
    assert "nothing held out" not in caplog.text
    holdout_lists(d, tmp_path / "lists", dev_fraction=0.0, test_fraction=0.0)
    assert f"nothing held out (no --dev-fraction, --test-fraction, --dev-list or --test-list above 0): all 100 " \
           f"utterances of {d} are in train.list" in caplog.text
    assert sorted(p.name for p in (tmp_path / "lists").iterdir()) == ["train.list"]


def test_both_commands_on_a_real_slice(an4_root, tmp_path, asrkit):
    make_user_corpus(an4_root, tmp_path / "c", 10)
    proc = asrkit("make-data-dir", "--transcripts", tmp_path / "c/prompts.txt", "--speaker", "me",
                  tmp_path / "c/audio", tmp_path / "data/all")
    assert b"Done 10 utterances out of 10 audio files -> " in proc.stderr
    proc = asrkit("holdout-lists", "--dev-fraction", "0.2", "--test-fraction", "0.1", tmp_path / "data/all",
                  tmp_path / "data/local")
    assert b"Done: train 7, dev 2, test 1 utterances" in proc.stderr
    proc = asrkit("validate-data-dir", "--no-feats", tmp_path / "data/all")

    # Errors: one line, exit 1, naming the file.
    (tmp_path / "c/prompts.txt").write_text("an251-fash-b YES\nan251-fash-b NO\n")
    proc = asrkit("make-data-dir", "--transcripts", tmp_path / "c/prompts.txt", tmp_path / "c/audio",
                  tmp_path / "d2", check=False)
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1 and err[-1].startswith("ERROR (asrkit-make-data-dir): ")
    assert "prompts.txt:2: key 'an251-fash-b' appears twice" in err[-1]
    proc = asrkit("holdout-lists", "--dev-fraction", "2", tmp_path / "data/all", tmp_path / "l", check=False)
    assert proc.returncode == 1 and b"ERROR (asrkit-holdout-lists): --dev-fraction 2: must be in [0, 1)" in proc.stderr
    for cmd in ("make-data-dir", "holdout-lists"):
        assert b"e.g." in asrkit(cmd, "--help").stdout


def test_lists_are_written_all_or_none(tmp_path, monkeypatch):
    """Each list was renamed into place on its own: a full disk while writing dev.list left the
    new train.list beside the earlier split's dev.list, which shares utterances with it."""
    import errno
    from pathlib import Path

    (tmp_path / "data").mkdir()
    (tmp_path / "data/utt2spk").write_text("".join(f"{u} {s}\n" for u, s in UTT2SPK.items()))
    holdout_lists(tmp_path / "data", tmp_path / "lists", dev_fraction=0.1, seed=1)
    before = {p.name: p.read_text() for p in (tmp_path / "lists").iterdir()}
    import asrkit.utils.fileio

    real = asrkit.utils.fileio.tmp_path_for

    def full_disk_on_dev(path):
        if Path(path).name == "dev.list":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path)

    monkeypatch.setattr(asrkit.utils.fileio, "tmp_path_for", full_disk_on_dev)
    with pytest.raises(OSError):
        holdout_lists(tmp_path / "data", tmp_path / "lists", dev_fraction=0.1, seed=2)
    assert {p.name: p.read_text() for p in (tmp_path / "lists").iterdir()} == before


def test_a_signal_while_the_lists_are_renamed_lands_after_a_stale_list_is_removed(tmp_path, monkeypatch):
    """A Ctrl-C or SIGTERM while the new lists were renamed into place was held until the last
    rename and then landed before an earlier split's test.list (a set not asked for now) was
    removed: the command stopped with the new train.list, which holds that list's utterances,
    beside it (trained on and tested on)."""
    from process_checks import sigint_after_each_rename

    (tmp_path / "data").mkdir()
    (tmp_path / "data/utt2spk").write_text("".join(f"{u} {s}\n" for u, s in UTT2SPK.items()))
    lists = tmp_path / "lists"
    holdout_lists(tmp_path / "data", lists, dev_fraction=0.1, test_fraction=0.1, seed=1)
    with sigint_after_each_rename(monkeypatch), pytest.raises(KeyboardInterrupt):
        holdout_lists(tmp_path / "data", lists, dev_fraction=0.1, seed=2)  # no test set this time
    assert sorted(p.name for p in lists.iterdir()) == ["dev.list", "train.list"]
    assert len((lists / "train.list").read_text().split()) == 90


def test_the_done_line_names_the_lists_written(tmp_path, asrkit):
    """With nothing held out (both fractions 0, as the TEMPLATE recipe may ask), the last line named
    '<out>/{train}.list', in braces that no shell expands: a file that does not exist."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data/utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(UTT2SPK.items())))
    out = tmp_path / "lists"
    proc = asrkit("holdout-lists", "--dev-fraction", "0", "--test-fraction", "0", tmp_path / "data", out)
    assert proc.stderr.decode().strip().splitlines()[-1] == f"Done: train 100 utterances -> {out}/train.list"
    assert sorted(p.name for p in out.iterdir()) == ["train.list"]
    proc = asrkit("holdout-lists", "--dev-fraction", "0.1", tmp_path / "data", out)
    last = proc.stderr.decode().strip().splitlines()[-1]
    assert last == f"Done: train 90, dev 10 utterances -> {out}/{{train,dev}}.list"


def test_a_given_list_is_never_written_over_or_removed(tmp_path):
    """A --dev-list that is one of OUT-DIR's lists: re-run on an earlier split's dev.list it was
    rewritten as bare ids (its other columns lost); as the test.list of a run with no test set
    it was deleted as a stale list. Both with exit 0; refused before anything is written."""
    d = tmp_path / "data"
    d.mkdir()
    (d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(UTT2SPK.items())))
    out = tmp_path / "lists"
    out.mkdir()
    ids = sorted(UTT2SPK)
    for name, option, fate in (("dev", "dev_list", "overwritten"), ("train", "test_list", "overwritten"),
                               ("test", "dev_list", "removed (no test set is asked for)")):
        given = out / f"{name}.list"
        given.write_text(f"{ids[0]} 1.5\n{ids[1]} 2.0\n")
        with pytest.raises(AsrkitError) as e:
            holdout_lists(d, out, **{option: str(given)})
        assert str(e.value) == (f"{given} is the same file as --{option.replace('_', '-')} {given}, which the run "
                                f"reads: it would be {fate}; give another OUT-DIR, or move the list out of it")
        assert given.read_text() == f"{ids[0]} 1.5\n{ids[1]} 2.0\n"
        assert sorted(p.name for p in out.iterdir()) == [f"{name}.list"]
        given.unlink()
    # a list beside OUT-DIR's lists under another name is an input like any other
    (out / "mine.list").write_text(f"{ids[0]}\n")
    holdout_lists(d, out, dev_list=str(out / "mine.list"))
    assert (out / "dev.list").read_text() == f"{ids[0]}\n"


def test_dash_as_a_list_is_stdin(tmp_path, asrkit):
    """--dev-list - was "-: cannot read the list: No such file or directory"; both lists '-'
    would read stdin twice."""
    d = tmp_path / "data"
    d.mkdir()
    (d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(UTT2SPK.items())))
    ids = sorted(UTT2SPK)
    asrkit("holdout-lists", "--dev-list", "-", d, tmp_path / "lists", input=f"{ids[3]} x\n{ids[1]}\n".encode())
    assert (tmp_path / "lists" / "dev.list").read_text() == f"{ids[1]}\n{ids[3]}\n"
    proc = asrkit("holdout-lists", "--dev-list", "-", "--test-list", "-", d, tmp_path / "l2", input=b"x\n", check=False)
    assert proc.returncode == 1 and ("ERROR (asrkit-holdout-lists): --dev-list and --test-list are both stdin: a stream "
                                     "can be read only once; give a file for one of them") in proc.stderr.decode()
    assert not (tmp_path / "l2").exists()
    # one FIFO for both lists: refused before either is opened (without a writer, the first open waited for
    # ever; with one, the second read found the FIFO drained)
    os.mkfifo(tmp_path / "fifo")
    proc = asrkit("holdout-lists", "--dev-list", tmp_path / "fifo", "--test-list", tmp_path / "fifo", d,
                  tmp_path / "l3", check=False, timeout=120)
    assert proc.returncode == 1 and "--dev-list and --test-list are both " in proc.stderr.decode()
    assert not (tmp_path / "l3").exists()


def test_a_missing_list_is_named_as_other_inputs_are(tmp_path):
    """A missing --dev-list was "cannot read the list: No such file or directory", a link to
    nothing the same: every other input says "no such file", or what is wrong with the link."""
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    for name, why in (("missing", "no such file"),
                      ("broken", f"a broken symbolic link (to {tmp_path}/nowhere, which does not exist)")):
        with pytest.raises(AsrkitError) as e:
            choose_holdout(UTT2SPK, dev_list=tmp_path / name)
        assert str(e.value) == f"{tmp_path / name}: {why}"


def test_by_speaker_with_a_list_keeps_its_speakers_out_of_the_draw(tmp_path, caplog):
    """--by-speaker with a --dev-list holding part of a speaker: the test draw could take that
    speaker's other utterances (one voice in dev and test), or leave them in train, in silence."""
    dev = tmp_path / "dev.list"
    dev.write_text("".join(f"s0-u{u:02d}\n" for u in range(10)))   # half of speaker s0
    for seed in range(1, 9):
        caplog.clear()
        with caplog.at_level("WARNING"):
            sets = choose_holdout(UTT2SPK, dev_list=dev, test_fraction=0.2, by_speaker=True, seed=seed)
        assert "s0" not in {UTT2SPK[u] for u in sets["test"]}
        assert (f"--by-speaker: 1 speaker(s) of --dev-list {dev} also have utterances in train (e.g. 's0')"
                in caplog.text)
    dev.write_text("".join(f"s0-u{u:02d}\n" for u in range(20)))   # all of s0: nothing to say
    caplog.clear()
    with caplog.at_level("WARNING"):
        choose_holdout(UTT2SPK, dev_list=dev, test_fraction=0.2, by_speaker=True)
    assert "--by-speaker" not in caplog.text


@pytest.mark.parametrize("under", ["", "lists"])
def test_an_out_dir_through_a_broken_link_is_named_as_one(tmp_path, under):
    """OUT-DIR (or a folder above it) a link to storage that is gone (data/local -> an unmounted
    scratch disk) was "data/local: exists and is not a directory"."""
    d = tmp_path / "data"
    d.mkdir()
    (d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(UTT2SPK.items())))
    (tmp_path / "local").symlink_to(tmp_path / "gone")
    with pytest.raises(AsrkitError) as e:
        holdout_lists(d, tmp_path / "local" / under, dev_fraction=0.1)
    assert str(e.value) == f"{tmp_path / 'local'}: a broken symbolic link (to {tmp_path}/gone, which does not exist)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "local"]


def test_a_bom_starting_a_later_line_of_a_list_is_named(tmp_path, asrkit):
    """Lists each saved with a BOM and joined with cat: the second one's first id was read as
    '\\ufeff<id>' and refused as "not an utterance of the data dir", saying nothing of the BOM.
    Named as the table readers name it (3a2dfabf): the file, the line, the BOM."""
    d = tmp_path / "data"
    d.mkdir()
    (d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(UTT2SPK.items())))
    ids = sorted(UTT2SPK)
    joined = tmp_path / "dev.list"
    joined.write_bytes(f"{ids[0]}\n".encode() + b"\xef\xbb\xbf" + f"{ids[1]}\n".encode())
    with pytest.raises(AsrkitError) as e:
        choose_holdout(UTT2SPK, dev_list=joined)
    assert str(e.value).startswith(f"{joined}:2: starts with a UTF-8 byte-order mark (BOM), which would become part "
                                   f"of its key (files each saved with one and joined with cat?)"), str(e.value)
    proc = asrkit("holdout-lists", "--dev-list", joined, d, tmp_path / "lists", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and f"ERROR (asrkit-holdout-lists): {joined}:2: starts with a UTF-8 byte-order" in err
    assert "Traceback" not in err and not (tmp_path / "lists").exists()
    # a BOM inside a line is no key's start: left alone (the id is judged as any other)
    joined.write_bytes(f"{ids[0]} x".encode() + b"\xef\xbb\xbfy\n" + f"{ids[1]}\n".encode())
    assert choose_holdout(UTT2SPK, dev_list=joined)["dev"] == sorted(ids[:2])
