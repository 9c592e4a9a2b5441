"""bin/combine_data.sh and bin/subset_data_dir.sh as a Kaldi user drives them (Kaldi's utils/)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

BIN = Path(__file__).resolve().parents[2] / "bin"


def run_sh(args, cwd, check=True, env=None):
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          env=None if env is None else {**os.environ, **env})
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def table(path):
    return dict((l.split(maxsplit=1) + [""])[:2] for l in path.read_text().splitlines())


def make_dir(path, utts, **tables):
    """A data dir of ``utts`` [(utt, spk)], plus ``tables`` {name: text}."""
    path.mkdir(parents=True)
    (path / "wav.scp").write_text("".join(f"{u} /x/{u}.wav\n" for u, _ in utts))
    (path / "text").write_text("".join(f"{u} WORDS OF {u}\n" for u, _ in utts))
    (path / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utts))
    spks = sorted({s for _, s in utts})
    (path / "spk2utt").write_text("".join(f"{s} {' '.join(u for u, t in utts if t == s)}\n" for s in spks))
    for name, text in tables.items():
        (path / name.replace("_scp", ".scp")).write_text(text)


def test_combine_a_speed_perturbed_set_with_one_without_utt2uniq(tmp_path):
    """Kaldi's combine_data.sh gives the utterances of a source without utt2uniq themselves as
    originals; utt2uniq was "in only 1 of 2 sources: not combined", and the perturbed copies'
    grouping was lost from the combination."""
    make_dir(tmp_path / "sp", [("a-0", "a"), ("sp0.9-a-0", "sp0.9-a")], utt2uniq="a-0 a-0\nsp0.9-a-0 a-0\n")
    make_dir(tmp_path / "extra", [("b-0", "b"), ("b-1", "b")])
    proc = run_sh([BIN / "combine_data.sh", "all", "sp", "extra"], tmp_path)
    assert "utt2uniq" not in proc.stderr, proc.stderr
    assert table(tmp_path / "all/utt2uniq") == {"a-0": "a-0", "b-0": "b-0", "b-1": "b-1", "sp0.9-a-0": "a-0"}
    # none has it: none is made
    run_sh([BIN / "combine_data.sh", "none", "extra"], tmp_path)
    assert not (tmp_path / "none/utt2uniq").exists()


def test_combine_carries_cmvn_scp_and_removes_a_stale_one(tmp_path):
    """cmvn.scp (per speaker) was neither combined nor removed from <dest>: one left there by an
    earlier data dir named other speakers' stats beside the new utt2spk."""
    make_dir(tmp_path / "x", [("a-0", "a")], cmvn_scp="a cmvn.ark:5\n")
    make_dir(tmp_path / "y", [("b-0", "b")], cmvn_scp="b cmvn.ark:9\n")
    run_sh([BIN / "combine_data.sh", "all", "x", "y"], tmp_path)
    assert table(tmp_path / "all/cmvn.scp") == {"a": "cmvn.ark:5", "b": "cmvn.ark:9"}
    make_dir(tmp_path / "z", [("c-0", "c")])
    run_sh([BIN / "combine_data.sh", "all", "x", "z"], tmp_path)
    assert not (tmp_path / "all/cmvn.scp").exists()
    # one speaker in two subsets of one dir: the same stats line in both is kept once
    make_dir(tmp_path / "v", [("a-2", "a")], cmvn_scp="a cmvn.ark:5\n")
    run_sh([BIN / "combine_data.sh", "all2", "x", "v"], tmp_path)
    assert table(tmp_path / "all2/cmvn.scp") == {"a": "cmvn.ark:5"}
    # one speaker's stats in two sources: two different entries, one would be lost
    make_dir(tmp_path / "w", [("a-1", "a")], cmvn_scp="a other.ark:7\n")
    proc = run_sh([BIN / "combine_data.sh", "all3", "x", "w"], tmp_path, check=False)
    assert proc.returncode == 1 and "more than one source's cmvn.scp with different values: a" in proc.stderr


def test_subset_filters_cmvn_scp_by_speaker_and_removes_a_stale_one(tmp_path):
    """cmvn.scp was not copied into the subset, and one left in <dest> by an earlier data dir
    stayed beside the new utt2spk, naming speakers the subset lacks."""
    make_dir(tmp_path / "src", [("a-0", "a"), ("b-0", "b")], cmvn_scp="a cmvn.ark:5\nb cmvn.ark:9\n")
    run_sh([BIN / "subset_data_dir.sh", "--first", "1", "src", "sub"], tmp_path)
    assert table(tmp_path / "sub/cmvn.scp") == {"a": "cmvn.ark:5"}
    (tmp_path / "src/cmvn.scp").unlink()
    run_sh([BIN / "subset_data_dir.sh", "--last", "1", "src", "sub"], tmp_path)
    assert not (tmp_path / "sub/cmvn.scp").exists()


def test_subset_spk_list_and_kaldis_num_utt_form(tmp_path):
    """Kaldi's --spk-list was "unknown option", and its '<src> <num-utt> <dest>' call "expected
    <src-data-dir> <dest-data-dir>"."""
    utts = [(f"a-{i}", "a") for i in range(4)] + [(f"b-{i}", "b") for i in range(4)] + [("c-0", "c")]
    make_dir(tmp_path / "src", utts, spk2gender="a f\nb m\nc f\n")
    (tmp_path / "spks").write_text("c\nb\nnobody\n")
    proc = run_sh([BIN / "subset_data_dir.sh", "--spk-list", "spks", "src", "bc"], tmp_path)
    assert list(table(tmp_path / "bc/utt2spk")) == ["b-0", "b-1", "b-2", "b-3", "c-0"]
    assert table(tmp_path / "bc/spk2gender") == {"b": "m", "c": "f"}
    assert "1 speaker(s) of spks are not in src/utt2spk: nobody" in proc.stderr
    (tmp_path / "none").write_text("nobody\n")
    proc = run_sh([BIN / "subset_data_dir.sh", "--spk-list", "none", "src", "x"], tmp_path, check=False)
    assert proc.returncode == 1 and "no utterances of src selected" in proc.stderr

    run_sh([BIN / "subset_data_dir.sh", "src", "3", "three"], tmp_path)
    assert list(table(tmp_path / "three/utt2spk")) == ["a-0", "a-3", "b-2"]   # lines 0, 3, 6 of 9
    run_sh([BIN / "subset_data_dir.sh", "src", "9", "all"], tmp_path)
    assert table(tmp_path / "all/text") == table(tmp_path / "src/text")
    for args, msg in ((["src", "10", "x"], "<num-utt> 10: src has only 9 utterances"),
                      (["src", "0", "x"], "got '0' for <num-utt>"),
                      (["src", "dest", "x"], "got 'dest' for <num-utt>"),
                      (["--first", "2", "src", "3", "x"], "give only one of")):
        proc = run_sh([BIN / "subset_data_dir.sh", *args], tmp_path, check=False)
        assert proc.returncode == 1 and msg in proc.stderr and not (tmp_path / "x").exists(), proc.stderr


def test_subset_takes_kaldis_flag_form_of_first_and_last(tmp_path):
    """Kaldi's 'subset_data_dir.sh --first <src> <num-utt> <dest>' (the count after the source)
    was "option --first takes an integer, got 'src'"."""
    make_dir(tmp_path / "src", [(f"a-{i}", "a") for i in range(5)])
    run_sh([BIN / "subset_data_dir.sh", "--first", "src", "2", "head"], tmp_path)
    assert list(table(tmp_path / "head/utt2spk")) == ["a-0", "a-1"]
    run_sh([BIN / "subset_data_dir.sh", "--last", "src", "2", "tail"], tmp_path)
    assert list(table(tmp_path / "tail/utt2spk")) == ["a-3", "a-4"]
    proc = run_sh([BIN / "subset_data_dir.sh", "--first", "src", "6", "x"], tmp_path, check=False)
    assert proc.returncode == 1 and "--first 6: src has only 5 utterances" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_subset_leaves_out_a_speaker_table_with_no_line_for_its_speakers(tmp_path):
    """A spk2gender that lacks some speakers (a warning in validation: the source validates) gave
    the subset of those speakers an empty spk2gender, which validation refuses ('empty file'); a
    stale one in <dest> goes too. A subset with a line left keeps its table, as before."""
    from asrkit.data.validate import validate_data_dir

    make_dir(tmp_path / "src", [("a-0", "a"), ("b-0", "b")], spk2gender="a f\n",
             reco2file_and_channel="a-0 a-0 A\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/spk2gender").write_text("b m\n")
    run_sh([BIN / "subset_data_dir.sh", "--last", "1", "src", "sub"], tmp_path)
    assert not (tmp_path / "sub/spk2gender").exists() and not (tmp_path / "sub/reco2file_and_channel").exists()
    assert not [p for p in validate_data_dir(tmp_path / "sub", check_wav_files=False) if p.is_error]
    run_sh([BIN / "subset_data_dir.sh", "--first", "1", "src", "sub"], tmp_path)
    assert table(tmp_path / "sub/spk2gender") == {"a": "f"}
    assert table(tmp_path / "sub/reco2file_and_channel") == {"a-0": "a-0 A"}


def test_split_then_combine_keeps_a_spk2gender_some_pieces_lack(tmp_path):
    """split-data-dir (9ee623dc) and subset_data_dir.sh (dcbc0a5b) leave spk2gender out of a piece
    none of whose speakers it has; combine_data.sh then dropped it as 'in only 1 of 4 sources: not
    combined', so split -> combine (or train + dev subsets -> combine) lost the genders there were.
    The optional speaker/recording tables are combined from the sources that have them."""
    from asrkit.data.split import split_data_dir
    from asrkit.data.validate import validate_data_dir

    utts = [(f"{s}-{i}", s) for s in "abcd" for i in range(2)]
    make_dir(tmp_path / "src", utts, spk2gender="a f\n", reco2dur="a-0 1.5\na-1 2\n")
    split_data_dir(tmp_path / "src", 4)
    pieces = [f"src/split4/{j}" for j in range(1, 5)]
    assert sum((tmp_path / p / "spk2gender").exists() for p in pieces) == 1
    proc = run_sh([BIN / "combine_data.sh", "all", *pieces], tmp_path)
    assert "spk2gender is in 1 of 4 sources: combined from those" in proc.stderr, proc.stderr
    for name in ("spk2gender", "reco2dur"):
        assert (tmp_path / "all" / name).read_text() == (tmp_path / "src" / name).read_text()
    assert (tmp_path / "all/utt2spk").read_text() == (tmp_path / "src/utt2spk").read_text()
    assert not [str(p) for p in validate_data_dir(tmp_path / "all", check_wav_files=False) if p.is_error]
    # subset train + dev -> combine, as a recipe holds a dev set out and puts it back
    run_sh([BIN / "subset_data_dir.sh", "--first", "src", "2", "dev"], tmp_path)
    run_sh([BIN / "subset_data_dir.sh", "--last", "src", "6", "train"], tmp_path)
    assert not (tmp_path / "train/spk2gender").exists()
    run_sh([BIN / "combine_data.sh", "again", "train", "dev"], tmp_path)
    assert table(tmp_path / "again/spk2gender") == {"a": "f"}
    # a required table some sources lack is still left out, as before
    (tmp_path / "dev/utt2dur").write_text("a-0 1.5\na-1 2\n")
    proc = run_sh([BIN / "combine_data.sh", "again", "train", "dev"], tmp_path)
    assert "utt2dur is in only 1 of 2 sources: not combined" in proc.stderr
    assert not (tmp_path / "again/utt2dur").exists()


def test_a_killed_runs_temporary_entries_go_with_the_next_run_into_its_dest(tmp_path):
    """subset_data_dir.sh stages <dest>'s tables in <dest>/.subset.XXXXXX/ and combine_data.sh
    writes each as <dest>/.<table>.<pid>.tmp; their EXIT traps remove them, but a SIGKILL runs no
    trap, and a next run left them for good: asrkit-perturb-data-dir-speed into that <dest> then
    refused it as holding .subset.XXXXXX/, 'not a data dir'. The next run into <dest> removes
    them (under an flock of <dest>: no other run of theirs writes there); others' stay."""
    from asrkit.data.perturb import perturb_data_dir_speed

    make_dir(tmp_path / "src", [("a-0", "a"), ("b-0", "b")])
    for script, args, left in (("subset_data_dir.sh", ["--first", "1", "src"], [".subset.Ab12Cd"]),
                               ("combine_data.sh", ["src"], [".text.4194305.tmp", ".spk2utt.77.tmp"])):
        dest = tmp_path / script
        dest.mkdir()
        dead = [dest / name for name in left]
        for p in dead:
            if p.name.startswith(".subset."):
                p.mkdir()
                (p / "utt2spk").write_text("a-0 a\n")
            else:
                p.write_text("a-0 WORDS\n")
        # (asrkit's own temporary name, and names not of their pattern)
        others = [dest / ".text.77.ab12cd34.tmp", dest / ".subset.notes.txt", dest / "notes.txt.1.tmp"]
        for p in others:
            p.write_text("kept\n")
        if script == "subset_data_dir.sh":
            args = [*args, dest.name]
        else:
            args = [dest.name, *args]
        run_sh([BIN / script, *args], tmp_path)
        assert [p for p in dead if p.exists()] == [] and all(p.exists() for p in others), script
    perturb_data_dir_speed(tmp_path / "subset_data_dir.sh", tmp_path / "combine_data.sh", [1.0])
    assert list(table(tmp_path / "combine_data.sh/utt2spk")) == ["a-0"]


def test_a_dest_that_cannot_be_locked_is_written_without_waiting_and_its_leftovers_kept(tmp_path):
    """On NFSv4 an flock of a folder open for reading fails (EBADF: flock(1) exits 65), and the
    scripts said 'waiting for another run writing <dest> to finish' on every run, where no run was
    there. Without the lock they write <dest> at once, say nothing of waiting, and leave a killed
    run's entries alone (another run may be writing them)."""
    fake = tmp_path / "nfs-bin"
    fake.mkdir()
    (fake / "flock").write_text('#!/bin/sh\necho "flock: ${3:-$1}: Bad file descriptor" >&2\nexit 65\n')
    (fake / "flock").chmod(0o755)
    env = {"PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    make_dir(tmp_path / "src", [("a-0", "a"), ("b-0", "b")])
    for script, args, left in (("subset_data_dir.sh", ["--first", "src", "1"], ".subset.Ab12Cd"),
                               ("combine_data.sh", ["src"], ".text.4194305.tmp")):
        dest = tmp_path / script
        dest.mkdir()
        (dest / left).write_text("a-0 WORDS\n")
        args = [*args, dest.name] if script == "subset_data_dir.sh" else [dest.name, *args]
        proc = run_sh([BIN / script, *args], tmp_path, env=env)
        assert "waiting" not in proc.stderr and (dest / left).exists(), (script, proc.stderr)
        assert "a-0" in table(dest / "utt2spk"), script
