"""bin/ helpers: the data dir ones (subset, combine, utt2spk_to_spk2utt), same_options.sh and decode_dir_name.sh."""
from __future__ import annotations

import os
import re
import shlex

from recipe_helpers import REPO, read_table, run_sh

BIN = REPO / "bin"


def make_dir(path, utts):
    path.mkdir(parents=True)
    (path / "wav.scp").write_text("".join(f"{u} /x/{u}.wav\n" for u, _ in utts))
    (path / "text").write_text("".join(f"{u} WORDS OF {u}\n" for u, _ in utts))
    (path / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utts))
    # quoted: a TMPDIR with a space in it (pytest's tmp_path is under it) split the paths
    script, utt2spk, spk2utt = (shlex.quote(str(p)) for p in (BIN / "utt2spk_to_spk2utt.sh", path / "utt2spk",
                                                                 path / "spk2utt"))
    run_sh(f"{script} {utt2spk} > {spk2utt}", cwd=path)


def test_subset_first_last_list(tmp_path):
    utts = [(f"a-{i}", "a") for i in range(3)] + [(f"b-{i}", "b") for i in range(3)]
    make_dir(tmp_path / "src", utts)
    assert (tmp_path / "src/spk2utt").read_text() == "a a-0 a-1 a-2\nb b-0 b-1 b-2\n"
    run_sh([f"{BIN}/subset_data_dir.sh", "--first", "4", "src", "first"], cwd=tmp_path)
    assert list(read_table(tmp_path / "first/text")) == ["a-0", "a-1", "a-2", "b-0"]
    assert read_table(tmp_path / "first/spk2utt") == {"a": "a-0 a-1 a-2", "b": "b-0"}
    assert list(read_table(tmp_path / "first/wav.scp")) == ["a-0", "a-1", "a-2", "b-0"]
    run_sh([f"{BIN}/subset_data_dir.sh", "--last", "2", "src", "last"], cwd=tmp_path)
    assert list(read_table(tmp_path / "last/utt2spk")) == ["b-1", "b-2"]
    (tmp_path / "list").write_text("a-1\nb-2\n")
    run_sh([f"{BIN}/subset_data_dir.sh", "--utt-list", "list", "src", "some"], cwd=tmp_path)
    assert read_table(tmp_path / "some/text") == {"a-1": "WORDS OF a-1", "b-2": "WORDS OF b-2"}


def test_subset_errors(tmp_path):
    make_dir(tmp_path / "src", [("a-0", "a")])
    for args, msg in ((["--first", "5", "src", "x"], "--first 5: src has only 1 utterances"),
                      (["src", "x"], "give one of --first N, --last N, --utt-list FILE"),
                      (["--first", "1", "nodir", "x"], "nodir/utt2spk: no such file"),
                      (["--first", "1", "src", "src"], "source and destination are the same dir")):
        proc = run_sh([f"{BIN}/subset_data_dir.sh", *args], cwd=tmp_path, check=False)
        assert proc.returncode == 1 and msg in proc.stderr, proc.stderr


def test_subset_failing_part_way_leaves_dest_as_it_was(tmp_path):
    """A bad option left an empty <dest> (made before the options were checked); a failure
    part-way (a malformed utt2spk line, a full disk) left the new utt2spk and text beside an
    emptied spk2utt where an earlier subset had been. Now the subset is made aside and moved in
    whole: a failed run leaves <dest> as it was, and no <dest> it made."""
    make_dir(tmp_path / "src", [("a-0", "a"), ("a-1", "a"), ("b-0", "b")])
    run_sh([f"{BIN}/subset_data_dir.sh", "--first", "2", "src", "some"], cwd=tmp_path)
    before = {p.name: p.read_bytes() for p in (tmp_path / "some").iterdir()}
    assert sorted(before) == ["spk2utt", "text", "utt2spk", "wav.scp"]

    proc = run_sh([f"{BIN}/subset_data_dir.sh", "--first", "9", "src", "new"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and not (tmp_path / "new").exists(), proc.stderr

    (tmp_path / "src/utt2spk").write_text("a-0 a\na-1\nb-0 b\n")
    proc = run_sh([f"{BIN}/subset_data_dir.sh", "--first", "2", "src", "some"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and 'src/utt2spk:2: expected "<utt> <spk>", got "a-1"' in proc.stderr, proc.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "some").iterdir()} == before

    # A full disk, as a cp that fails writing text into <dest> or into a folder made in it
    (tmp_path / "src/utt2spk").write_text("a-0 a\na-1 a\nb-0 b\n")
    (tmp_path / "src/text").write_text("a-0 NEW\na-1 NEW\nb-0 NEW\n")
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "cp").write_text('#!/bin/bash\nfor last; do :; done\ncase "$last" in */text|*/.subset.*) '
                             'echo "cp: error writing \'$last\': No space left on device" >&2; exit 1;; esac\n'
                             'exec /bin/cp "$@"\n')
    (fake / "cp").chmod(0o755)
    env = {"PATH": f"{fake}:{os.environ['PATH']}"}
    for dest in ("some", "new"):
        proc = run_sh([f"{BIN}/subset_data_dir.sh", "--first", "2", "src", dest], cwd=tmp_path, check=False, env=env)
        assert proc.returncode == 1 and "No space left on device" in proc.stderr, proc.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "some").iterdir()} == before
    assert not (tmp_path / "new").exists()
    run_sh([f"{BIN}/subset_data_dir.sh", "--first", "2", "src", "some"], cwd=tmp_path)
    assert read_table(tmp_path / "some/text") == {"a-0": "NEW", "a-1": "NEW"}
    assert sorted(p.name for p in (tmp_path / "some").iterdir()) == sorted(before)


def test_subset_counts_a_last_line_without_newline_and_takes_one_selection(tmp_path):
    """'wc -l' missed utt2spk's last line when it had no newline ("2 of 1 utterances", --first 2
    refused for a source of 2); --first with --last took the first N without a word about --last;
    a list with a byte-order mark named its first id as not in the source, the mark invisible."""
    make_dir(tmp_path / "src", [("a-0", "a"), ("a-1", "a")])
    (tmp_path / "src/utt2spk").write_text("a-0 a\na-1 a")
    proc = run_sh([f"{BIN}/subset_data_dir.sh", "--first", "2", "src", "first"], cwd=tmp_path)
    assert "2 of 2 utterances of src" in proc.stderr, proc.stderr
    assert list(read_table(tmp_path / "first/utt2spk")) == ["a-0", "a-1"]
    for args in (["--first", "1", "--last", "1"], ["--last", "1", "--utt-list", "src/text"]):
        proc = run_sh([f"{BIN}/subset_data_dir.sh", *args, "src", "both"], cwd=tmp_path, check=False)
        assert proc.returncode == 1 and "give only one of --first N, --last N, --utt-list FILE" in proc.stderr
        assert not (tmp_path / "both").exists()
    (tmp_path / "afile").write_text("x\n")
    proc = run_sh([f"{BIN}/subset_data_dir.sh", "--first", "1", "src", "afile"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "afile: exists and is not a directory (<dest-data-dir>)" in proc.stderr
    assert (tmp_path / "afile").read_text() == "x\n"
    # a folder under it: mkdir's bare "cannot create directory 'afile': Not a directory"
    proc = run_sh([f"{BIN}/subset_data_dir.sh", "--first", "1", "src", "afile/x/y"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and proc.stderr == \
        f"{BIN}/subset_data_dir.sh: afile/x/y: afile is a file, not a directory (<dest-data-dir>)\n", proc.stderr
    # a link to no folder (a scratch disk not mounted) was called a file
    (tmp_path / "gone").symlink_to(tmp_path / "scratch" / "d")
    for dest, named in (("gone", "gone: "), ("gone/x", "gone/x: gone: ")):
        proc = run_sh([f"{BIN}/subset_data_dir.sh", "--first", "1", "src", dest], cwd=tmp_path, check=False)
        assert proc.returncode == 1 and proc.stderr == (
            f"{BIN}/subset_data_dir.sh: {named}a broken symbolic link (to {tmp_path}/scratch/d, which does not exist) "
            "(<dest-data-dir>)\n"), proc.stderr
    proc = run_sh([f"{BIN}/subset_data_dir.sh", "--first", "-1", "src", "neg"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "--first and --last take a number of utterances, got -1 and 0" in proc.stderr
    (tmp_path / "list").write_bytes(b"\xef\xbb\xbfa-1\n")
    proc = run_sh([f"{BIN}/subset_data_dir.sh", "--utt-list", "list", "src", "some"], cwd=tmp_path)
    assert "WARNING" not in proc.stderr and list(read_table(tmp_path / "some/utt2spk")) == ["a-1"], proc.stderr


def test_combine(tmp_path):
    make_dir(tmp_path / "x", [("b-0", "b"), ("b-1", "b")])
    make_dir(tmp_path / "y", [("a-0", "a")])
    run_sh([f"{BIN}/combine_data.sh", "all", "x", "y"], cwd=tmp_path)
    assert list(read_table(tmp_path / "all/text")) == ["a-0", "b-0", "b-1"]
    assert read_table(tmp_path / "all/spk2utt") == {"a": "a-0", "b": "b-0 b-1"}
    proc = run_sh([f"{BIN}/combine_data.sh", "again", "x", "x"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "ids found in more than one source" in proc.stderr
    assert not (tmp_path / "again").exists()  # neither a half-made table (wav.scp.tmp) nor an empty dir
    proc = run_sh([f"{BIN}/combine_data.sh", "x/../x", "x", "y"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "x/../x is also a source" in proc.stderr
    (tmp_path / "link").symlink_to("y")
    proc = run_sh([f"{BIN}/combine_data.sh", "link", "x", "y"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "link is also a source" in proc.stderr


def test_combine_a_table_without_a_final_newline_loses_no_line(tmp_path):
    """x's text without its last newline: 'cat' joined its last line to y's first, and the
    combination lacked that utterance's text (exit 0, the utterance count unchanged)."""
    make_dir(tmp_path / "x", [("b-0", "b"), ("b-1", "b")])
    make_dir(tmp_path / "y", [("a-0", "a")])
    (tmp_path / "x/text").write_text("b-0 WORDS OF b-0\nb-1 WORDS OF b-1")
    run_sh([f"{BIN}/combine_data.sh", "all", "x", "y"], cwd=tmp_path)
    assert read_table(tmp_path / "all/text") == {"a-0": "WORDS OF a-0", "b-0": "WORDS OF b-0",
                                                 "b-1": "WORDS OF b-1"}


def test_combine_a_malformed_utt2spk_line_writes_nothing(tmp_path):
    """A source's malformed utt2spk line failed only the spk2utt made last: <dest> was left with
    the new tables and an empty spk2utt, and the error named <dest>'s utt2spk."""
    make_dir(tmp_path / "x", [("b-0", "b")])
    make_dir(tmp_path / "y", [("a-0", "a")])
    run_sh([f"{BIN}/combine_data.sh", "all", "x", "y"], cwd=tmp_path)
    before = {p.name: p.read_bytes() for p in (tmp_path / "all").iterdir()}
    make_dir(tmp_path / "z", [("c-0", "c")])
    with open(tmp_path / "z/utt2spk", "a") as f:
        f.write("lonely\n")
    proc = run_sh([f"{BIN}/combine_data.sh", "all", "x", "z"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and 'z/utt2spk:2: expected "<utt> <spk>", got "lonely"' in proc.stderr, proc.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "all").iterdir()} == before


def test_utt2spk_to_spk2utt_bad_line(tmp_path):
    (tmp_path / "utt2spk").write_text("a-0 a\nbroken\n")
    proc = run_sh([f"{BIN}/utt2spk_to_spk2utt.sh", "utt2spk"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "utt2spk:2: expected" in proc.stderr


def test_utt2spk_to_spk2utt_reads_a_pipe_or_its_standard_input(tmp_path):
    """Kaldi's utt2spk_to_spk2utt.pl reads its standard input without a file (a recipe's
    'utils/utt2spk_to_spk2utt.pl < utt2spk > spk2utt'), which was the usage and exit 1 here, and
    a pipe given as the file (<(sort utt2spk)) was refused as 'no such file'."""
    (tmp_path / "utt2spk").write_text("a-0 a\na-1 a\nb-0 b\n")
    for cmd in ("{s} < utt2spk", "{s} - < utt2spk", "{s} <(cat utt2spk)", "cat utt2spk | {s}"):
        proc = run_sh(cmd.format(s=shlex.quote(f"{BIN}/utt2spk_to_spk2utt.sh")), cwd=tmp_path)
        assert proc.stdout == "a a-0 a-1\nb b-0\n", (cmd, proc)
    proc = run_sh(f"printf 'a-0 a\\nbroken\\n' | {shlex.quote(str(BIN / 'utt2spk_to_spk2utt.sh'))}", cwd=tmp_path,
                  check=False)
    assert proc.returncode == 1 and '(standard input):2: expected "<utt> <spk>", got "broken"' in proc.stderr
    proc = run_sh([f"{BIN}/utt2spk_to_spk2utt.sh", "."], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and proc.stderr.endswith(": .: is a directory, not an utt2spk file\n")


def test_spk2utt_sorted_when_a_speaker_id_extends_another(tmp_path):
    """Speakers 'john' and 'john-smith' (folders of a user's corpus): utt2spk sorted by utterance
    meets john-smith first, and a spk2utt in that order failed asrkit-validate-data-dir, so stage 0
    of a template recipe stopped on a valid corpus. The subset's spk2utt is sorted."""
    utts = [("john-smith-a1", "john-smith"), ("john-smith-a2", "john-smith"), ("john-take1", "john"),
            ("john-take2", "john"), ("john+x-b1", "john+x")]
    make_dir(tmp_path / "src", sorted(utts))
    assert (tmp_path / "src/spk2utt").read_text() == \
        "john john-take1 john-take2\njohn+x john+x-b1\njohn-smith john-smith-a1 john-smith-a2\n"
    (tmp_path / "list").write_text("john-smith-a2\njohn-take1\n")
    run_sh([f"{BIN}/subset_data_dir.sh", "--utt-list", "list", "src", "some"], cwd=tmp_path)
    assert list(read_table(tmp_path / "some/spk2utt")) == ["john", "john-smith"]
    from asrkit.data.validate import validate_data_dir
    assert [str(p) for p in validate_data_dir(tmp_path / "some", check_wav_files=False) if p.is_error] == []


def test_subset_list_with_windows_line_ends_and_unknown_ids(tmp_path):
    """A list saved on Windows: its ids ended in \\r and matched nothing, silently ('2 of 3'), and an
    id not in the source was left out without a word."""
    make_dir(tmp_path / "src", [("a-0", "a"), ("a-1", "a"), ("b-0", "b")])
    (tmp_path / "list").write_bytes(b"a-0\r\na-1\tany other column\r\n\r\nb-0\nzz-9\n")
    proc = run_sh([f"{BIN}/subset_data_dir.sh", "--utt-list", "list", "src", "some"], cwd=tmp_path)
    assert list(read_table(tmp_path / "some/utt2spk")) == ["a-0", "a-1", "b-0"]
    assert "WARNING: 1 id(s) of list are not in src/utt2spk: zz-9" in proc.stderr
    (tmp_path / "src/utt2spk").write_text("a-0\ta\na-1\ta\nb-0\tb\n")  # tab-separated, as Kaldi allows
    run_sh([f"{BIN}/subset_data_dir.sh", "--first", "2", "src", "first"], cwd=tmp_path)
    assert list(read_table(tmp_path / "first/text")) == ["a-0", "a-1"]


def test_subset_keeps_only_its_speakers_genders_and_no_stale_tables(tmp_path):
    """spk2gender was copied whole, so a subset listed speakers it does not have (which
    asrkit-validate-data-dir refuses, as Kaldi's does); utt2uniq and reco2dur were left out; and a
    table from an earlier subset into the same dir (feats.scp, segments) stayed beside the new
    utt2spk, describing other utterances."""
    make_dir(tmp_path / "src", [("a-0", "a"), ("a-1", "a"), ("b-0", "b")])
    (tmp_path / "src/spk2gender").write_text("a f\nb m\n")
    (tmp_path / "src/utt2uniq").write_text("a-0 a-0\na-1 a-1\nb-0 b-0\n")
    (tmp_path / "src/reco2dur").write_text("a-0 1.5\na-1 2\nb-0 3\n")
    (tmp_path / "some").mkdir()
    (tmp_path / "some/feats.scp").write_text("zz-0 old.ark:9\n")
    (tmp_path / "some/segments").write_text("zz-0 zz 0 1\n")
    run_sh([f"{BIN}/subset_data_dir.sh", "--first", "2", "src", "some"], cwd=tmp_path)
    assert read_table(tmp_path / "some/spk2gender") == {"a": "f"}
    assert list(read_table(tmp_path / "some/utt2uniq")) == ["a-0", "a-1"]
    assert list(read_table(tmp_path / "some/reco2dur")) == ["a-0", "a-1"]
    assert not (tmp_path / "some/feats.scp").exists() and not (tmp_path / "some/segments").exists()
    from asrkit.data.validate import validate_data_dir
    assert [str(p) for p in validate_data_dir(tmp_path / "some", check_wav_files=False)] == []


def test_spk2utt_from_a_windows_utt2spk(tmp_path):
    """utt2spk saved with Windows line ends: the \\r stayed on each speaker id, so spk2utt held
    'a\\r a-0 a-1' (and a subset's spk2gender, matched against those ids, came out empty)."""
    (tmp_path / "utt2spk").write_bytes(b"a-0 a\r\na-1 a\r\nb-0 b\r\n")
    assert run_sh([f"{BIN}/utt2spk_to_spk2utt.sh", "utt2spk"], cwd=tmp_path).stdout == "a a-0 a-1\nb b-0\n"
    make_dir(tmp_path / "src", [("a-0", "a"), ("a-1", "a"), ("b-0", "b")])
    (tmp_path / "src/utt2spk").write_bytes(b"a-0 a\r\na-1 a\r\nb-0 b\r\n")
    (tmp_path / "src/spk2gender").write_text("a f\nb m\n")
    run_sh([f"{BIN}/subset_data_dir.sh", "--first", "2", "src", "some"], cwd=tmp_path)
    assert read_table(tmp_path / "some/spk2gender") == {"a": "f"}
    assert (tmp_path / "some/spk2utt").read_text() == "a a-0 a-1\n"


def test_combine_leaves_no_stale_table_and_carries_utt2uniq(tmp_path):
    """A table none of the sources has stayed in <dest> from an earlier combination (a feats.scp
    of other utterances beside the new utt2spk); utt2uniq and reco2dur were not combined."""
    make_dir(tmp_path / "x", [("b-0", "b")])
    make_dir(tmp_path / "y", [("a-0", "a")])
    for name in ("x", "y"):
        u = "b-0" if name == "x" else "a-0"
        (tmp_path / name / "utt2uniq").write_text(f"{u} {u}\n")
    (tmp_path / "all").mkdir()
    (tmp_path / "all/feats.scp").write_text("zz-0 old.ark:9\n")
    run_sh([f"{BIN}/combine_data.sh", "all", "x", "y"], cwd=tmp_path)
    assert not (tmp_path / "all/feats.scp").exists()
    assert list(read_table(tmp_path / "all/utt2uniq")) == ["a-0", "b-0"]


def test_combine_checks_every_table_first_and_gender_conflicts(tmp_path):
    """A duplicate id in a later table (here two genders for one speaker: 'sort -u' kept either
    line without a word) failed the combination after wav.scp, text and utt2spk were already
    replaced in <dest>, beside the earlier combination's other tables."""
    make_dir(tmp_path / "x", [("b-0", "b")])
    make_dir(tmp_path / "y", [("a-0", "a")])
    (tmp_path / "x/spk2gender").write_text("a m\nb f\n")
    (tmp_path / "y/spk2gender").write_text("a m\n")            # the same line twice is fine
    run_sh([f"{BIN}/combine_data.sh", "all", "x", "y"], cwd=tmp_path)
    assert read_table(tmp_path / "all/spk2gender") == {"a": "m", "b": "f"}
    before = {p.name: p.read_text() for p in (tmp_path / "all").iterdir()}
    make_dir(tmp_path / "z", [("c-0", "c")])
    (tmp_path / "z/spk2gender").write_text("a f\nc m\n")
    proc = run_sh([f"{BIN}/combine_data.sh", "all", "x", "z"], cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "ids found in more than one source's spk2gender with different values: a" in proc.stderr
    assert {p.name: p.read_text() for p in (tmp_path / "all").iterdir()} == before


def same_options(tmp_path, *args):
    """``same_options <args>`` in a script that sourced bin/same_options.sh, run in ``tmp_path``."""
    script = tmp_path / "check.sh"
    script.write_text(f"set -euo pipefail\n. {shlex.quote(str(BIN / 'same_options.sh'))}\n"
                      'same_options "$@"\necho checked\n')
    return run_sh(["bash", "check.sh", *args], cwd=tmp_path, check=False)


def test_same_options_names_what_differs_and_records(tmp_path):
    """The one check behind run.sh's data/stage0_options, local/loso.sh's fold records and
    local/pretrain_an4.sh's: no record, nothing to check (--record writes one); the same line
    goes on; another line is one error line naming what was made with what, and what these
    options give: only the words that differ when both are key=value lists, else both lines."""
    remedy = "run from --stage 0 to make it again"
    proc = same_options(tmp_path, "data/stage0_options", "data/", "a=1 b=2", remedy)
    assert proc.returncode == 0 and proc.stdout == "checked\n" and not (tmp_path / "data").exists()
    proc = same_options(tmp_path, "--record", "data/stage0_options", "data/", "a=1 b=2 c=", remedy)
    assert proc.returncode == 0 and (tmp_path / "data/stage0_options").read_text() == "a=1 b=2 c=\n"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["stage0_options"]
    assert same_options(tmp_path, "data/stage0_options", "data/", "a=1 b=2 c=", remedy).stdout == "checked\n"
    for now, made, give in (("a=1 b=3 c=", "b=2", "b=3"),
                            ("c=x b=2 a=0", "a=1 c=", "a=0 c=x"),    # in C order, whatever the line's
                            ("a=1 b=2 c= d=4", "''", "d=4"),         # an option the record lacks
                            ("b=2 a=1 c=", "'a=1 b=2 c='", "'b=2 a=1 c='"),  # no word differs: both lines
                            ("--num-train 3", "'a=1 b=2 c='", "'--num-train 3'")):
        proc = same_options(tmp_path, "--record", "data/stage0_options", "data/", now, remedy)
        assert proc.returncode == 1 and proc.stdout == "", proc
        assert proc.stderr == f"check.sh: ERROR: data/ was made with {made}, these options give {give}: {remedy}\n"
        assert (tmp_path / "data/stage0_options").read_text() == "a=1 b=2 c=\n"  # never rewritten
    proc = same_options(tmp_path, "data/stage0_options", "data/", "a=1")
    assert proc.returncode == 1 and proc.stderr == \
        "check.sh: ERROR: same_options [--record] <record> <what> <options> <remedy>: got 3 arguments\n"


def test_combine_segmented_and_unsegmented_sources_makes_a_valid_dir(tmp_path):
    """One source with segments, one without: segments were left out with a WARNING and exit 0,
    leaving wav.scp keyed by recordings for some utterances and by utterances for the others (the
    dir failed validation). The unsegmented source now gets whole-recording segments (end -1), as
    Kaldi's combine_data.sh makes them."""
    from asrkit.data.datadir import DataDir
    from asrkit.data.validate import validate_data_dir

    waves = sorted((REPO / "egs/yesno/asr1/corpus/waves_yesno").glob("*.wav"))[:3]
    seg, whole = tmp_path / "seg", tmp_path / "whole"
    make_dir(seg, [("a-0", "a"), ("a-1", "a")])
    (seg / "wav.scp").write_text(f"rec-a {waves[0]}\n")
    (seg / "segments").write_text("a-0 rec-a 0.00 1.50\na-1 rec-a 1.50 3.00\n")
    make_dir(whole, [("b-0", "b")])
    (whole / "wav.scp").write_text(f"b-0 {waves[1]}\n")
    proc = run_sh([f"{BIN}/combine_data.sh", "all", "seg", "whole"], cwd=tmp_path)
    assert "WARNING" not in proc.stderr, proc.stderr
    assert read_table(tmp_path / "all/segments") == {"a-0": "rec-a 0.00 1.50", "a-1": "rec-a 1.50 3.00",
                                                     "b-0": "b-0 0 -1"}
    assert [str(p) for p in validate_data_dir(tmp_path / "all")] == []
    assert DataDir(tmp_path / "all").segments()["b-0"] == ("b-0", 0.0, -1.0)


def test_combine_pieces_of_a_segmented_dir_that_share_a_recording(tmp_path):
    """Pieces of one segmented data dir split by speaker (two speakers of one meeting) each hold
    that recording's wav.scp line, the same line: combine_data.sh refused them ('ids found in
    more than one source's wav.scp'), where Kaldi's combine_data.sh merges them. Identical lines
    are now kept once (reco2dur, reco2file_and_channel as much); different lines for one
    recording stay an error, naming the sources, and nothing is written."""
    from asrkit.data.validate import validate_data_dir

    wave = sorted((REPO / "egs/yesno/asr1/corpus/waves_yesno").glob("*.wav"))[0]
    for name, utt, spk, start in (("p1", "a-1", "a", "0.00"), ("p2", "b-1", "b", "2.00")):
        make_dir(tmp_path / name, [(utt, spk)])
        (tmp_path / name / "wav.scp").write_text(f"meet {wave}\n")
        (tmp_path / name / "segments").write_text(f"{utt} meet {start} {float(start) + 1.5:.2f}\n")
        (tmp_path / name / "reco2dur").write_text("meet 6.1\n")
        (tmp_path / name / "reco2file_and_channel").write_text("meet meet A\n")
    proc = run_sh([f"{BIN}/combine_data.sh", "all", "p1", "p2"], cwd=tmp_path)
    assert "WARNING" not in proc.stderr, proc.stderr
    assert (tmp_path / "all/wav.scp").read_text() == f"meet {wave}\n"
    assert read_table(tmp_path / "all/segments") == {"a-1": "meet 0.00 1.50", "b-1": "meet 2.00 3.50"}
    assert (tmp_path / "all/reco2dur").read_text() == "meet 6.1\n"
    assert (tmp_path / "all/reco2file_and_channel").read_text() == "meet meet A\n"
    assert [str(p) for p in validate_data_dir(tmp_path / "all")] == []
    # one recording, two different files: refused, naming both sources
    (tmp_path / "p2/wav.scp").write_text("meet /elsewhere/meet.wav\n")
    proc = run_sh([f"{BIN}/combine_data.sh", "other", "p1", "p2"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and proc.stderr.strip().endswith(
        f"ids found in more than one source's wav.scp with different values: meet (e.g. meet is '{wave}' in "
        f"p1/wav.scp and '/elsewhere/meet.wav' in p2/wav.scp): a recording has one wav.scp line in every source "
        f"that holds it: make them the same, or, if they are two recordings, rename one in its source (wav.scp, "
        f"segments, reco2dur, reco2file_and_channel)"), proc.stderr
    assert not (tmp_path / "other").exists()
    # one utterance in two sources stays an error, even with identical lines
    make_dir(tmp_path / "p3", [("a-1", "a")])
    for name in ("wav.scp", "segments", "text", "utt2spk"):
        (tmp_path / "p3" / name).write_text((tmp_path / "p1" / name).read_text())
    proc = run_sh([f"{BIN}/combine_data.sh", "dup", "p1", "p3"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "ids found in more than one source's segments: a-1 (e.g. a-1 in p1/segments " \
                                   "and p3/segments)" in proc.stderr, proc.stderr


def _segmented_piece(path, utt, spk, start, wav_line):
    make_dir(path, [(utt, spk)])
    (path / "wav.scp").write_text(wav_line)
    (path / "segments").write_text(f"{utt} meet {start} {start + 1.5}\n")


def test_combine_reads_a_shared_recordings_lines_as_kaldi_does(tmp_path):
    """Two pieces of one segmented dir whose lines for the shared recording differ only in white
    space (a tab, a double space, a trailing space: one line to every table reader) were refused
    as 'different values', and that message showed neither value. They are one line now, kept
    once; lines that really differ are refused showing both, cut short where long."""
    from asrkit.data.validate import validate_data_dir

    wave = sorted((REPO / "egs/yesno/asr1/corpus/waves_yesno").glob("*.wav"))[0]
    _segmented_piece(tmp_path / "p1", "a-1", "a", 0.0, f"meet {wave}\n")
    _segmented_piece(tmp_path / "p2", "b-1", "b", 2.0, f"meet\t{wave} \n")
    _segmented_piece(tmp_path / "p3", "c-1", "c", 4.0, f"meet  {wave}\n")
    (tmp_path / "p1/reco2dur").write_text("meet 6.1\n")
    (tmp_path / "p2/reco2dur").write_text("meet\t6.1 \n")
    (tmp_path / "p1/reco2file_and_channel").write_text("meet meet A\n")
    (tmp_path / "p3/reco2file_and_channel").write_text("meet  meet\tA\n")
    proc = run_sh([f"{BIN}/combine_data.sh", "all", "p1", "p2", "p3"], cwd=tmp_path)
    assert "WARNING" not in proc.stderr, proc.stderr
    assert read_table(tmp_path / "all/wav.scp") == {"meet": str(wave)}
    assert list(read_table(tmp_path / "all/segments")) == ["a-1", "b-1", "c-1"]
    assert read_table(tmp_path / "all/reco2dur") == {"meet": "6.1"}
    assert [str(p) for p in validate_data_dir(tmp_path / "all")] == []
    # really different: both values shown, a long one cut short, and what to do
    long = "sox " + "/a/very/long/folder/of/the/corpus" * 5 + "/meet.flac -t wav - |"
    (tmp_path / "p2/wav.scp").write_text(f"meet {long}\n")
    proc = run_sh([f"{BIN}/combine_data.sh", "other", "p1", "p2"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"(e.g. meet is '{wave}' in p1/wav.scp and '{long[:117]}...' in p2/wav.scp)" in proc.stderr, proc.stderr
    assert "make them the same, or, if they are two recordings, rename one" in proc.stderr
    (tmp_path / "p2/reco2dur").write_text("meet 6.2\n")
    (tmp_path / "p2/wav.scp").write_text(f"meet {wave}\n")
    proc = run_sh([f"{BIN}/combine_data.sh", "other", "p1", "p2"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "ids found in more than one source's reco2dur with different values: meet (e.g. " \
                                   "meet is '6.1' in p1/reco2dur and '6.2' in p2/reco2dur)" in proc.stderr, proc.stderr
    assert not (tmp_path / "other").exists()


def test_combine_refuses_a_recording_one_source_has_whole_and_another_in_segments(tmp_path):
    """An unsegmented source's utterance 'meet' (the whole recording, read as 'meet meet 0 -1')
    and a segmented source's segments of recording 'meet' had one wav.scp line and were merged
    without a word: the combination held 'meet meet 0 -1' and 'a-1 meet 0 1.5', that audio twice.
    Refused again, naming the recording and both sources; identical lines of two segmented
    sources stay merged."""
    wave = sorted((REPO / "egs/yesno/asr1/corpus/waves_yesno").glob("*.wav"))[0]
    _segmented_piece(tmp_path / "seg", "a-1", "a", 0.0, f"meet {wave}\n")
    make_dir(tmp_path / "whole", [("meet", "m")])
    (tmp_path / "whole/wav.scp").write_text(f"meet {wave}\n")
    for order in (["seg", "whole"], ["whole", "seg"]):
        proc = run_sh([f"{BIN}/combine_data.sh", "all", *order], cwd=tmp_path, check=False)
        assert proc.returncode == 1 and proc.stderr.strip() == (
            f"{BIN}/combine_data.sh: recording meet is segmented in seg and a whole-recording utterance in whole (no "
            f"segments file there): combined, its audio would be in the data twice, whole and in seg's segments; "
            f"leave one of them out of the combination"), proc.stderr
        assert not (tmp_path / "all").exists()
    # another file under the recording's id: one id for two recordings
    (tmp_path / "whole/wav.scp").write_text("meet /elsewhere/meet.wav\n")
    proc = run_sh([f"{BIN}/combine_data.sh", "all", "seg", "whole"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and (f"meet is a recording in seg/wav.scp ('{wave}') and a whole-recording utterance "
                                     f"in whole/wav.scp ('/elsewhere/meet.wav'; no segments file there): one id for "
                                     f"two recordings") in proc.stderr, proc.stderr
    # two segmented sources sharing it, beside an unsegmented one with other ids: merged
    _segmented_piece(tmp_path / "seg2", "b-1", "b", 2.0, f"meet {wave}\n")
    make_dir(tmp_path / "other", [("o-1", "o")])
    run_sh([f"{BIN}/combine_data.sh", "all", "seg", "seg2", "other"], cwd=tmp_path)
    assert read_table(tmp_path / "all/segments") == {"a-1": "meet 0.0 1.5", "b-1": "meet 2.0 3.5",
                                                     "o-1": "o-1 0 -1"}


def test_combine_shows_a_carriage_return_escaped_and_names_blank_lines_as_such(tmp_path):
    """Review R4 on 6d654a9a: a CRLF source's spk2gender value was shown with its raw carriage
    return ('m^M': it garbles the terminal, and 'm\\r' and 'm' look the same), and blank lines in
    two sources' text were 'ids found in more than one source's text:  (e.g.  in D/text and
    E/text)', an empty id. The carriage return is shown as \\r with the sed that drops it, the
    blank lines by file:line with the sed that deletes them; each printed sed mends its source."""
    make_dir(tmp_path / "d", [("d-0", "a")])
    make_dir(tmp_path / "my e", [("e-0", "a")])
    (tmp_path / "d/spk2gender").write_bytes(b"a m\n")
    (tmp_path / "my e/spk2gender").write_bytes(b"a m\r\n")
    proc = run_sh([f"{BIN}/combine_data.sh", "all", "d", "my e"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "\r" not in proc.stderr and len(proc.stderr.splitlines()) == 1, repr(proc.stderr)
    sed = "sed -i 's/\\r$//' my\\ e/spk2gender"
    assert f"(e.g. a is 'm' in d/spk2gender and 'm\\r' in my e/spk2gender (ends with a carriage return: CRLF " \
           f"line ends? {sed}))" in proc.stderr, proc.stderr
    run_sh(sed, cwd=tmp_path)
    run_sh([f"{BIN}/combine_data.sh", "all", "d", "my e"], cwd=tmp_path)
    assert read_table(tmp_path / "all/spk2gender") == {"a": "m"}

    (tmp_path / "d/text").write_text("d-0 WORDS\n\n")
    (tmp_path / "my e/text").write_text("\ne-0 WORDS\n")
    proc = run_sh([f"{BIN}/combine_data.sh", "all", "d", "my e"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "ids found" not in proc.stderr, proc.stderr
    assert "blank lines in text: d/text:2 my e/text:1 (" in proc.stderr, proc.stderr
    sed = proc.stderr.split("e.g. ", 1)[1].strip()
    assert sed == "sed -i '/^[[:space:]]*$/d' d/text my\\ e/text", sed
    run_sh(sed, cwd=tmp_path)
    run_sh([f"{BIN}/combine_data.sh", "all", "d", "my e"], cwd=tmp_path)
    assert read_table(tmp_path / "all/text") == {"d-0": "WORDS", "e-0": "WORDS"}


def test_decode_dir_name_follows_the_options_that_change_a_decoding(tmp_path):
    """asr.sh's and local/loso.sh's decode directory (bin/decode_dir_name.sh): --decode-args,
    another LM weight and --adapt-args in the name, as ESPnet spells its inference args, so a sweep
    keeps each run's directory; the names of before for none of them and the default weight."""
    script = tmp_path / "names.sh"
    script.write_text(f"set -euo pipefail\n. {shlex.quote(str(BIN / 'decode_dir_name.sh'))}\n"
                      'while [ $# -gt 0 ]; do n=$1; shift; decode_dir_name "${@:1:$n}"; shift "$n"; done\n')
    cases = [  # (arguments, name)
        (("conf/decode.yaml", "", "false", "0.3"), "decode"),
        (("conf/decode.yaml", "", "true", "0.3"), "decode_lm"),
        (("conf/decode.yaml", "", "false", "0.3", ""), "decode_adapt"),
        (("conf/decode.yaml", "", "true", "0.30", ""), "decode_lm_adapt"),
        (("conf/decode.yaml", "--beam 1", "false", "0.5"), "decode_beam1"),   # no LM: its weight is not used
        (("conf/decode.yaml", "--beam=1", "false", "0.3"), "decode_beam1"),
        (("conf/decode.yaml", "", "true", "0.50"), "decode_lm0.5"),
        (("conf/decode.yaml", "", "true", ".5"), "decode_lm0.5"),
        (("conf/decode.yaml", "", "true", "5e-1"), "decode_lm0.5"),
        (("beam1.yaml", "--beam 2 --ctc-weight 0.5", "true", "0", "--keep 0.3 --epochs 2"),
         "beam1_beam2_ctc-weight0.5_lm0_adapt_keep0.3_epochs2"),
        # white space of any kind, and characters a file name is better without, dropped
        (("conf/decode.yaml", "--beam\t3\n--set 'a/b=x y' *", "false", "0.3"), "decode_beam3_setabxy"),
        (("my.conf.yaml", "-b 1", "false", "0.3"), "my.conf_-b1"),
    ]
    argv = [str(x) for args, _ in cases for x in (len(args), *args)]
    proc = run_sh(["bash", "names.sh", *argv], cwd=tmp_path)
    assert proc.stdout.splitlines() == [name for _, name in cases], proc.stderr
    # Args too long for a file name's 255 bytes: their checksum, one per value.
    many = " ".join(f"--set beam_search.option_{i}=1" for i in range(20))
    names = run_sh(["bash", "names.sh", "4", "conf/decode.yaml", many, "false", "0.3",
                    "4", "conf/decode.yaml", many + "0", "false", "0.3"], cwd=tmp_path).stdout.split()
    assert len(set(names)) == 2 and all(re.fullmatch(r"decode_args[0-9]+", n) for n in names), names
    # The whole directory is one file name: decode_<set>_<name> within NAME_MAX (255 bytes) for a set
    # of up to 47 bytes, bytes counted whatever the locale (two lists of 113 characters each, or a
    # config's name of 2-byte characters, made a name of up to 290 bytes that mkdir refused). What
    # fits is spelt, and the adapted pass's name starts with the first pass's.
    beam, keep, wide = "--beam " + "1" * 108, "--keep " + "5" * 108, "\u00e9" * 80 + ".yaml"
    names = run_sh(["bash", "names.sh", "4", "conf/decode.yaml", beam, "true", "0.25",
                    "5", "conf/decode.yaml", beam, "true", "0.25", keep,
                    "4", wide, "--beam 12345678901234567890", "false", "0.3"],
                   cwd=tmp_path, env={"LC_ALL": "C.UTF-8"}).stdout.splitlines()
    assert names[0] == "decode_beam" + "1" * 108 + "_lm0.25", names
    assert re.fullmatch(re.escape(names[0]) + r"_adapt_args[0-9]+", names[1]), names
    assert re.fullmatch("\u00e9" * 80 + r"_args[0-9]+", names[2]), names
    assert all(len(f"decode_{'s' * 47}_{n}".encode()) <= 255 for n in names), names
    proc = run_sh(["bash", "names.sh", "3", "conf/decode.yaml", "", "true"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and proc.stderr == ("names.sh: ERROR: decode_dir_name <decode config> <decode args> "
                                                    "<use lm> <lm weight> [<adapt args>]: got 3 arguments\n")
