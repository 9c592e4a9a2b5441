"""asrkit-fix-data-dir: keeps the intersection, reports drops per file, backs up, leaves a valid dir."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from an4_data import make_an4_data_dir
from cli_checks import run_in_process

from asrkit.data.fix import fix_data_dir
from asrkit.data.validate import validate_data_dir
from asrkit.utils.errors import AsrkitError


@pytest.fixture
def an4_dir(an4_root, tmp_path):
    d = tmp_path / "test"
    make_an4_data_dir(an4_root, d, "test")
    return d


def lines(path):
    return path.read_text().splitlines(keepends=True)


def test_fix_keeps_intersection_and_reports(an4_dir):
    text = lines(an4_dir / "text")
    dropped_text = text.pop(10).split()[0]
    text.insert(0, text.pop(50))                                     # unsorted
    (an4_dir / "text").write_text("".join(text) + "zzzz-extra-b HELLO\n")
    wav = lines(an4_dir / "wav.scp")
    dropped_wav = wav.pop(100).split()[0]
    wav.append(wav[3])                                               # duplicate line
    (an4_dir / "wav.scp").write_text("".join(wav))
    assert [p for p in validate_data_dir(an4_dir) if p.is_error]
    originals = {n: (an4_dir / n).read_text() for n in ("text", "wav.scp", "utt2spk", "spk2utt")}

    report = fix_data_dir(an4_dir)
    assert (report.num_utts_before, report.num_utts_after) == (130, 128)
    assert report.dropped["utt2spk"] == sorted([dropped_text, dropped_wav])
    assert report.dropped["text"] == sorted([dropped_wav, "zzzz-extra-b"])
    assert report.dropped["wav.scp"] == [dropped_text]
    assert report.bad_lines == {"wav.scp": [130]}
    assert validate_data_dir(an4_dir) == []
    assert dropped_text not in (an4_dir / "spk2utt").read_text()
    for name, content in originals.items():  # the originals of what changed are in .backup
        if name in report.changed:
            assert (an4_dir / ".backup" / name).read_text() == content

    again = fix_data_dir(an4_dir)  # idempotent: nothing left to change
    assert again.changed == [] and again.dropped == {} and again.num_utts_after == 128


def test_a_fix_that_fails_leaves_the_backups_of_the_last_one(an4_dir, monkeypatch):
    """The backups were committed on their own before the fixed tables were written: a full disk
    at the tables failed the run with the data dir unchanged, but .backup/ now held copies of those
    unchanged tables in place of the originals an earlier fix had saved there."""
    import errno
    from pathlib import Path

    import asrkit.utils.fileio

    (an4_dir / ".backup").mkdir()
    (an4_dir / ".backup" / "wav.scp").write_text("the originals of an earlier fix\n")
    wav = lines(an4_dir / "wav.scp")
    (an4_dir / "wav.scp").write_text("".join(wav[:-1]))  # one recording fewer: utt2spk, text change
    before = {p.relative_to(an4_dir): p.read_bytes() for p in an4_dir.rglob("*") if p.is_file()}

    real = asrkit.utils.fileio.tmp_path_for

    def full_disk_at_the_tables(path):
        if Path(path).parent == an4_dir:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path)

    monkeypatch.setattr(asrkit.utils.fileio, "tmp_path_for", full_disk_at_the_tables)
    with pytest.raises(OSError):
        fix_data_dir(an4_dir)
    assert {p.relative_to(an4_dir): p.read_bytes() for p in an4_dir.rglob("*") if p.is_file()} == before


def test_fix_rebuilds_spk2utt_and_utt2spk(an4_dir):
    (an4_dir / "spk2utt").unlink()
    report = fix_data_dir(an4_dir)
    assert report.changed == ["spk2utt"] and report.num_dropped == 0
    assert validate_data_dir(an4_dir) == []
    (an4_dir / "utt2spk").unlink()
    fix_data_dir(an4_dir)
    assert validate_data_dir(an4_dir) == []


def test_a_utt2spk_made_from_spk2utt_is_said(an4_dir):
    """A missing utt2spk was made from spk2utt with no word but 'Kept 130 out of 130 utterances'
    (and no backup line: there was no original), as if the dir had needed nothing."""
    (an4_dir / "utt2spk").unlink()
    result = run_in_process("fix-data-dir", [an4_dir])
    assert result.exit_code == 0, result.stderr
    assert f"{an4_dir}: no utt2spk: made it from spk2utt (130 utterances)" in result.stderr
    assert "Kept 130 out of 130 utterances" in result.stderr
    result = run_in_process("fix-data-dir", [an4_dir])
    assert result.exit_code == 0 and "made it from spk2utt" not in result.stderr, result.stderr


def test_fix_with_segments_drops_unused_recordings(an4_dir):
    wav = lines(an4_dir / "wav.scp")[:3]
    recos = [l.split()[0] for l in wav]
    (an4_dir / "wav.scp").write_text("".join(wav))
    utts = [f"{recos[0]}-a", f"{recos[0]}-b", f"{recos[1]}-a", "zz-orphan-a"]
    (an4_dir / "segments").write_text(f"{utts[0]} {recos[0]} 0 1\n{utts[1]} {recos[0]} 1 2\n"
                                      f"{utts[2]} {recos[1]} 0 1\nzz-orphan-a nosuchreco 0 1\n")
    (an4_dir / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in utts))
    (an4_dir / "text").write_text("".join(f"{u} YES\n" for u in utts))
    report = fix_data_dir(an4_dir)
    assert report.num_utts_after == 3
    assert report.dropped["wav.scp"] == [recos[2]]              # recording no segment uses
    assert report.dropped["segments"] == ["zz-orphan-a"]        # segment of a recording not in wav.scp
    assert validate_data_dir(an4_dir) == []


def test_fix_refuses_to_empty_a_dir(an4_dir):
    (an4_dir / "text").write_text("nobody-x-b HELLO\n")
    before = {p.name: p.read_text() for p in an4_dir.iterdir()}
    with pytest.raises(AsrkitError, match="nothing left to keep"):
        fix_data_dir(an4_dir)
    assert {p.name: p.read_text() for p in an4_dir.iterdir()} == before


def test_cli_reports_drops(asrkit, an4_dir, tmp_path):
    text = lines(an4_dir / "text")
    gone = [text.pop(5).split()[0], text.pop(5).split()[0]]
    (an4_dir / "text").write_text("".join(text))
    proc = asrkit("fix-data-dir", "-v", an4_dir)
    err = proc.stderr.decode()
    assert "utt2spk: dropped 2 id(s): 2 not in text" in err
    assert " ".join(gone) in err                                  # the ids at -v
    assert "Kept 128 out of 130 utterances" in err
    bad = asrkit("fix-data-dir", tmp_path / "nope", check=False)
    assert bad.returncode == 1 and b"no such directory" in bad.stderr


def test_tables_come_in_one_order_whatever_the_hash_seed(an4_dir, tmp_path):
    """The tables of report.changed and report.dropped (so the per-table lines and 'originals of
    ... saved') came in a set's order, which changed from run to run with Python's string hashing:
    the same fix said 'wav.scp utt2spk text' one time and 'text utt2spk wav.scp' the next."""
    for name, line in (("text", 3), ("wav.scp", 8), ("utt2spk", 10)):
        kept = lines(an4_dir / name)
        del kept[line]
        (an4_dir / name).write_text("".join(kept))
    orders = set()
    for seed in range(4):
        d = tmp_path / f"seed{seed}"
        shutil.copytree(an4_dir, d)
        orders.add(subprocess.run(
            [sys.executable, "-c", "import sys; from asrkit.data.fix import fix_data_dir; "
             "r = fix_data_dir(sys.argv[1], backup=False); print(*r.changed, '/', *r.dropped)", str(d)],
            env={**os.environ, "PYTHONHASHSEED": str(seed)}, capture_output=True, text=True, check=True).stdout)
    assert orders == {"utt2spk text wav.scp spk2utt / utt2spk text wav.scp\n"}


def test_fix_counts_only_the_lines_it_drops(an4_dir):
    """A missing final newline and a BOM on line 1 are repaired, their lines kept: they used to be
    reported as 'dropped 1 malformed or duplicate line(s)', a loss that did not happen."""
    text = (an4_dir / "text").read_bytes()
    (an4_dir / "text").write_bytes(text.rstrip(b"\n"))
    (an4_dir / "utt2spk").write_bytes(b"\xef\xbb\xbf" + (an4_dir / "utt2spk").read_bytes())
    (an4_dir / "wav.scp").write_bytes((an4_dir / "wav.scp").read_bytes() + b"broken-line-only-a-key\n")
    report = fix_data_dir(an4_dir)
    assert report.bad_lines == {"wav.scp": [131]}
    assert (report.num_utts_before, report.num_utts_after) == (130, 130)
    assert sorted(report.changed) == ["text", "utt2spk", "wav.scp"]
    assert (an4_dir / "text").read_bytes() == text
    assert validate_data_dir(an4_dir) == []


def test_a_bom_starting_a_later_line_is_named_and_repaired_not_dropped(an4_dir):
    """Tables each saved with a BOM and joined with cat: validation gave three errors about an id
    '\ufeff<utt>' missing from the other tables (none saying BOM) and fix-data-dir dropped the
    utterance as 'not in every table'. Named at its line, and repaired as line 1's BOM is."""
    before = (an4_dir / "wav.scp").read_bytes()
    lines = before.split(b"\n")
    lines[4] = b"\xef\xbb\xbf" + lines[4]
    (an4_dir / "wav.scp").write_bytes(b"\n".join(lines))
    path = an4_dir / "wav.scp"
    problems = [str(p) for p in validate_data_dir(an4_dir)]
    assert problems == [f"{path}:5: starts with a UTF-8 byte-order mark (BOM), which would become part of its key "
                        f"(files each saved with one and joined with cat?); Kaldi tables are plain text: remove "
                        f"them (sed -i 's/^\\xEF\\xBB\\xBF//' {path})"], problems
    report = fix_data_dir(an4_dir)
    assert (report.num_utts_before, report.num_utts_after) == (130, 130) and report.bad_lines == {}
    assert (an4_dir / "wav.scp").read_bytes() == before
    assert validate_data_dir(an4_dir) == []


def test_a_lone_carriage_return_inside_a_transcript_ends_no_line(an4_dir):
    """Every table reader ends lines at \\n only; validation and fix split at a lone \\r as well, so
    validation reported a bogus utterance (the words after the \\r) and fix cut the transcript at
    the \\r, reporting only the bogus id as dropped."""
    lines = (an4_dir / "text").read_bytes().split(b"\n")
    key, words = lines[2].split(b" ", 1)
    lines[2] = key + b" " + words.replace(b" ", b"\r", 1) if b" " in words else key + b" A\rB"
    (an4_dir / "text").write_bytes(b"\n".join(lines))
    cut = lines[2]
    assert validate_data_dir(an4_dir) == []
    report = fix_data_dir(an4_dir)
    assert report.dropped == {} and report.bad_lines == {}
    assert (an4_dir / "text").read_bytes().split(b"\n")[2] == cut


def test_fix_drops_unusable_segments_and_says_why(asrkit, an4_dir):
    """A segment with times every reader refuses (nan, end before start) was kept: fix said 'needed
    no change' and exit 0 while asrkit-validate-data-dir still failed on it; and every drop was
    only 'N id(s) not in every table' per file, never why (which table lacked it, a bad segment,
    two speakers)."""
    wav = lines(an4_dir / "wav.scp")[:3]
    recos = [l.split()[0] for l in wav]
    (an4_dir / "wav.scp").write_text("".join(wav))
    utts = [f"{r}-{k}" for r in recos for k in ("a", "b")]
    spans = ["0 1", "nan 2", "1.5 0.5", "0 -1", "-1 2", "0 1"]
    (an4_dir / "segments").write_text("".join(f"{u} {u[:-2]} {s}\n" for u, s in zip(utts, spans)))
    (an4_dir / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}{' x' if i == 5 else ''}\n"
                                             for i, u in enumerate(utts)))
    (an4_dir / "text").write_text("".join(f"{u} YES\n" for u in utts if u != utts[3]))
    (an4_dir / "spk2utt").unlink()
    assert [p for p in validate_data_dir(an4_dir) if p.is_error]
    report = fix_data_dir(an4_dir)
    assert report.num_utts_after == 1
    bad_times = "segment malformed or with unusable times (not finite, start < 0, end not after start)"
    assert report.reasons == {bad_times: [utts[1], utts[2], utts[4]], "not in text": [utts[3]],
                              "utt2spk gives not one speaker": [utts[5]]}
    assert list((an4_dir / "segments").read_text().splitlines()) == [f"{utts[0]} {recos[0]} 0 1"]
    assert validate_data_dir(an4_dir) == []
    assert fix_data_dir(an4_dir).changed == []
    # Nothing left: the error says why each went.
    (an4_dir / "text").write_text("".join(f"{u} YES\n" for u in utts[1:]))
    proc = asrkit("fix-data-dir", an4_dir, check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode().endswith("nothing left to keep (6 ids seen: 5 not in utt2spk; 1 not in text)\n")


def test_fix_drops_an_utterance_spk2utt_gives_two_speakers(an4_dir):
    """utt2spk rebuilt from spk2utt gave an utterance listed under two speakers to the last one,
    silently; it has no speaker to keep, so it is dropped and counted."""
    (an4_dir / "utt2spk").unlink()
    s2u = lines(an4_dir / "spk2utt")
    utt = s2u[0].split()[1]
    (an4_dir / "spk2utt").write_text("".join(s2u) + f"zzzz {utt}\n")
    report = fix_data_dir(an4_dir)
    assert (report.num_utts_before, report.num_utts_after) == (130, 129)
    assert report.reasons == {"under two speakers in spk2utt": [utt]}
    assert utt not in (an4_dir / "utt2spk").read_text() and "zzzz" not in (an4_dir / "spk2utt").read_text()
    assert validate_data_dir(an4_dir) == []


def test_fix_drops_what_validation_refuses_in_utt2num_frames_and_utt2dur(an4_dir):
    """An utt2num_frames of 0 or 'x', an utt2dur of 'nan' or 'inf': asrkit-validate-data-dir
    refuses them, fix-data-dir kept them ('needed no change')."""
    utts = [l.split()[0] for l in lines(an4_dir / "utt2spk")]
    (an4_dir / "feats.scp").write_text("".join(f"{u} feats.ark:{i}\n" for i, u in enumerate(utts)))
    bad_frames = {utts[2]: "0", utts[3]: "x"}
    bad_durs = {utts[5]: "nan", utts[6]: "inf", utts[7]: "-1"}
    (an4_dir / "utt2num_frames").write_text("".join(f"{u} {bad_frames.get(u, 100)}\n" for u in utts))
    (an4_dir / "utt2dur").write_text("".join(f"{u} {bad_durs.get(u, 1.5)}\n" for u in utts))
    assert [p for p in validate_data_dir(an4_dir, check_wav_files=False) if p.is_error]
    report = fix_data_dir(an4_dir)
    assert report.reasons == {"utt2num_frames not a positive integer": sorted(bad_frames),
                              "utt2dur not a positive number of seconds": sorted(bad_durs)}
    assert report.num_utts_after == 125
    assert validate_data_dir(an4_dir, check_wav_files=False) == []


def test_fix_drops_a_transcript_validation_refuses_for_a_control_character(an4_dir):
    """A NUL or an ANSI escape in a transcript (a damaged text file: the mutation sweep,
    tests/mutations.py, nul@25) was kept ('needed no change') and the fixed dir failed
    asrkit-validate-data-dir, which had pointed at this command."""
    text = lines(an4_dir / "text")
    utts = [ln.split()[0] for ln in text]
    text[3] = text[3].replace(" ", " A\0", 1)
    text[8] = text[8].rstrip("\n") + " \x1b[31m\n"
    (an4_dir / "text").write_text("".join(text))
    assert [p for p in validate_data_dir(an4_dir, check_wav_files=False) if p.is_error]
    report = fix_data_dir(an4_dir)
    assert report.reasons == {"transcript holds a control character or U+2581, which no tokenizer takes":
                              sorted([utts[3], utts[8]])}
    assert report.num_utts_after == 128
    assert validate_data_dir(an4_dir, check_wav_files=False) == []


def test_each_table_s_drops_are_counted_by_their_cause(an4_dir):
    """Every table's count said 'dropped N id(s) not in every table', also for an utterance every
    table had, dropped for its transcript, and for a speaker no utterance kept."""
    text = lines(an4_dir / "text")
    text[3] = text[3].replace(" ", " A\0", 1)
    (an4_dir / "text").write_text("".join(text))
    wav = lines(an4_dir / "wav.scp")
    del wav[10]
    (an4_dir / "wav.scp").write_text("".join(wav))
    spk = sorted({ln.split()[1] for ln in lines(an4_dir / "utt2spk")})
    (an4_dir / "spk2gender").write_text("".join(f"{s} f\n" for s in spk + ["zz-nobody"]))
    out = run_in_process("fix-data-dir", [str(an4_dir)]).output
    control = "transcript holds a control character or U+2581, which no tokenizer takes"
    assert f"/text: dropped 2 id(s): 1 not in wav.scp; 1 {control}\n" in out, out
    assert f"/utt2spk: dropped 2 id(s): 1 not in wav.scp; 1 {control}\n" in out, out
    assert f"/wav.scp: dropped 1 id(s): 1 {control}\n" in out, out
    assert "/spk2gender: dropped 1 id(s): 1 speaker(s) of no utterance kept\n" in out, out
    assert "not in every table" not in out


def test_segments_are_split_at_ascii_white_space_only(an4_dir):
    """parse_segment split a segments line with str.split(), at U+00A0 and U+3000 too, where every
    table reader (and Kaldi) splits at ASCII white space only: a recording id holding a no-break
    space, which validate-data-dir accepts, was "malformed" to fix-data-dir (dropped) and to the
    audio readers, and 'rec\\u30000 1' (two fields to Kaldi) was read as 'rec 0 1'."""
    from asrkit.data.datadir import parse_segment
    from asrkit.features.wav_scp import read_wav_scp

    assert parse_segment("rec\u00a0x 0 1.5", "segments:1") == ("rec\u00a0x", 0.0, 1.5)
    for value, said in [("rec\u30000 1", "malformed segment"),  # (two fields)
                        ("rec 0\u2028 1", "start and end must be finite numbers")]:
        with pytest.raises(AsrkitError, match="^segments:1: " + said):
            parse_segment(value, "segments:1")
    wav = lines(an4_dir / "wav.scp")[:2]
    recos = [f"{line.split()[0]}\u00a0x" for line in wav]
    (an4_dir / "wav.scp").write_text("".join(f"{r} {line.split(None, 1)[1]}" for r, line in zip(recos, wav)))
    utts = [f"s-u{i}" for i in range(2)]
    (an4_dir / "segments").write_text("".join(f"{u} {r} 0 0.5\n" for u, r in zip(utts, recos)))
    (an4_dir / "utt2spk").write_text("".join(f"{u} s\n" for u in utts))
    (an4_dir / "text").write_text("".join(f"{u} YES\n" for u in utts))
    (an4_dir / "spk2utt").write_text(f"s {' '.join(utts)}\n")
    assert [p for p in validate_data_dir(an4_dir) if p.is_error] == []
    report = fix_data_dir(an4_dir)
    assert report.num_utts_after == 2 and report.reasons == {}
    assert [e.utt_id for e in read_wav_scp(str(an4_dir / "wav.scp"), an4_dir / "segments")] == utts


def test_a_malformed_utt2spk_line_is_an_utterance_counted_as_dropped(an4_dir):
    """An utt2spk line whose id is not UTF-8 (so in every table: each line dropped as malformed)
    was left out of the count: 'Kept 129 out of 129' of 130 utterances, one gone without a reason.
    A line with no speaker whose id the other tables have is that utterance, 'not in utt2spk';
    a blank line, or a broken second line of an utterance utt2spk has, is no utterance."""
    first = lines(an4_dir / "utt2spk")[0].split()[0].encode()
    for name in ("text", "wav.scp", "utt2spk", "spk2utt"):
        data = (an4_dir / name).read_bytes()
        (an4_dir / name).write_bytes(data.replace(first, first + b"\xe9", 2 if name == "spk2utt" else 1))
    u2s = (an4_dir / "utt2spk").read_bytes().split(b"\n")[:-1]
    second, third = u2s[1].split()[0].decode(), u2s[2].split()[0]
    u2s[1] = second.encode()                                   # no speaker
    u2s += [b"", third]                                        # a blank line, a broken second line of one
    (an4_dir / "utt2spk").write_bytes(b"\n".join(u2s) + b"\n")
    report = fix_data_dir(an4_dir)
    assert (report.num_utts_before, report.num_utts_after) == (130, 128)
    assert report.reasons == {"a malformed line of utt2spk (no speaker, not UTF-8, ...)": ["utt2spk:1"],
                              "not in utt2spk": [second]}
    assert report.bad_lines["utt2spk"] == [1, 2, 131, 132]


def test_fix_filters_utt2sample_rate_with_the_other_tables(an4_dir):
    """compute-fbank's utt2sample_rate (the rate of each utterance's audio before --resample, which
    asrkit-train records for decoding) is a per-utterance table: an utterance fix-data-dir drops
    stayed there."""
    utts = [line.split()[0] for line in lines(an4_dir / "utt2spk")]
    (an4_dir / "utt2sample_rate").write_text("".join(f"{u} 16000\n" for u in utts))
    text = lines(an4_dir / "text")
    dropped = text.pop(7).split()[0]
    (an4_dir / "text").write_text("".join(text))
    report = fix_data_dir(an4_dir)
    assert report.dropped["utt2sample_rate"] == [dropped]
    kept = [line.split()[0] for line in lines(an4_dir / "utt2sample_rate")]
    assert kept == [u for u in utts if u != dropped]


def test_a_bad_utt2sample_rate_fails_validation_and_fix_drops_its_utterance(an4_dir):
    """asrkit-train refuses a utt2sample_rate whose rate is not a positive integer; validation did
    not look at the table ('8k', an id of no utterance and utterances without a rate "successfully
    validated"), and fix-data-dir kept the '8k' line, so the fixed dir validated and failed training."""
    from asrkit.training.sample_rates import read_utt2sample_rate

    utts = [line.split()[0] for line in lines(an4_dir / "utt2spk")]
    rates = [f"{u} {'8k' if i == 3 else '0' if i == 5 else 16000}\n" for i, u in enumerate(utts[:-1])]
    (an4_dir / "utt2sample_rate").write_text("".join(rates) + "zzzz-x 16000\n")
    problems = validate_data_dir(an4_dir, check_wav_files=False)
    table = an4_dir / "utt2sample_rate"
    assert sorted(str(p) for p in problems if p.is_error) == sorted([
        f"{table}:4: sample rate must be a positive integer (Hz), got '8k'",
        f"{table}:6: sample rate must be a positive integer (Hz), got '0'",
        f"{table}:{len(utts)}: utterance 'zzzz-x' is not in {an4_dir}/utt2spk"])
    assert f"{table}: utterance {utts[-1]!r} has no entry" in [str(p) for p in problems if not p.is_error]
    with pytest.raises(AsrkitError, match="sample rate '8k'"):
        read_utt2sample_rate(str(table))

    report = fix_data_dir(an4_dir)
    assert report.reasons == {"utt2sample_rate not a positive integer (Hz)": [utts[3], utts[5]],
                              "not in utt2sample_rate": [utts[-1]], "not in utt2spk": ["zzzz-x"]}
    assert not [p for p in validate_data_dir(an4_dir, check_wav_files=False) if p.is_error]
    assert sorted(read_utt2sample_rate(str(table))) == [u for i, u in enumerate(utts[:-1]) if i not in (3, 5)]


def test_fix_drops_the_utterances_of_a_speaker_cmvn_scp_lacks(an4_dir):
    """A speaker without stats in cmvn.scp is an error of asrkit-validate-data-dir (apply-cmvn skips
    its utterances), and Kaldi's fix_data_dir.sh keeps only the speakers cmvn.scp has; this one
    kept them all ('needed no change'), and the dir it had fixed failed validation."""
    u2s = dict(l.split() for l in lines(an4_dir / "utt2spk"))
    speakers = sorted(set(u2s.values()))
    lacking = speakers[1]
    (an4_dir / "cmvn.scp").write_text("".join(f"{s} cmvn.ark:{i}\n" for i, s in enumerate(speakers) if s != lacking))
    assert [p for p in validate_data_dir(an4_dir, check_wav_files=False) if p.is_error]
    report = fix_data_dir(an4_dir)
    gone = sorted((u for u, s in u2s.items() if s == lacking), key=str.encode)
    assert gone and report.reasons == {"speaker not in cmvn.scp": gone}
    assert report.num_utts_after == len(u2s) - len(gone)
    assert lacking not in (an4_dir / "spk2utt").read_text()
    assert validate_data_dir(an4_dir, check_wav_files=False) == []


def test_a_cmvn_scp_of_other_speakers_is_named_as_the_cause(an4_dir):
    """A stale cmvn.scp (made for other speakers) drops every utterance, as in Kaldi; the error
    began 'no utterance is in all of text, utt2spk, wav.scp', which is not so."""
    (an4_dir / "cmvn.scp").write_text("nobody cmvn.ark:1\n")
    with pytest.raises(AsrkitError, match=r"no utterance's speaker is in cmvn.scp \(made for other speakers\? "
                                          r"remove it, or compute it again"):
        fix_data_dir(an4_dir)


def test_fix_drops_the_lines_validation_refuses_in_the_speaker_and_recording_tables(an4_dir):
    """A gender 'x', a channel 'C', a reco2dur of 'nan', an utt2uniq of two ids: asrkit-validate-data-dir
    refuses them and sends the user to asrkit-fix-data-dir, which kept them ('needed no change').
    The line goes where a missing entry is only a warning (spk2gender, reco2file_and_channel,
    reco2dur); the utterance where it is a per-utterance table."""
    u2s = [l.split() for l in lines(an4_dir / "utt2spk")]
    speakers = sorted({s for _, s in u2s})
    utts = [u for u, _ in u2s]
    (an4_dir / "spk2gender").write_text("".join(f"{s} {'x' if i == 1 else 'f'}\n" for i, s in enumerate(speakers)))
    (an4_dir / "reco2file_and_channel").write_text(
        "".join(f"{u} {u}.wav {'C' if i == 2 else 'A'}\n" for i, u in enumerate(utts)))
    (an4_dir / "reco2dur").write_text("".join(f"{u} {'nan' if i == 3 else 1.5}\n" for i, u in enumerate(utts)))
    (an4_dir / "utt2uniq").write_text("".join(f"{u} {'a b' if i == 4 else u}\n" for i, u in enumerate(utts)))
    assert len([p for p in validate_data_dir(an4_dir, check_wav_files=False) if p.is_error]) == 4
    report = fix_data_dir(an4_dir)
    assert report.malformed == {"spk2gender": [2], "reco2file_and_channel": [3], "reco2dur": [4]}
    assert report.reasons == {"utt2uniq gives not one id": [utts[4]]}
    assert not [p for p in validate_data_dir(an4_dir, check_wav_files=False) if p.is_error]
    assert speakers[1] not in (an4_dir / "spk2gender").read_text()
    assert utts[2] not in (an4_dir / "reco2file_and_channel").read_text()
    assert utts[3] not in (an4_dir / "reco2dur").read_text()


def test_tables_fix_does_not_know_are_named_when_utterances_are_dropped(an4_dir, asrkit):
    """Kaldi's fix_data_dir.sh filters vad.scp (and --utt-extra-files) too; asrkit's left vad.scp,
    utt2category, ... as they were, naming the dropped utterances, without a word."""
    utts = [l.split()[0] for l in lines(an4_dir / "utt2spk")]
    (an4_dir / "vad.scp").write_text("".join(f"{u} vad.ark:{i}\n" for i, u in enumerate(utts)))
    (an4_dir / "utt2category").write_text("".join(f"{u} read\n" for u in utts))
    (an4_dir / "fbank.yaml").write_text("num_mel_bins: 80\n")  # not a table: not named
    report = fix_data_dir(an4_dir)
    assert report.num_dropped == 0 and report.unfiltered == []  # nothing dropped: nothing stale
    text = lines(an4_dir / "text")
    (an4_dir / "text").write_text("".join(text[1:]))
    out = asrkit("fix-data-dir", an4_dir).stderr.decode()
    assert (f"{an4_dir}: not filtered (not known to this command), so they may still name the dropped "
            f"utterances: utt2category vad.scp") in out, out
    assert len(lines(an4_dir / "vad.scp")) == len(utts)  # left as it was


def test_a_speaker_or_recording_table_left_with_no_line_is_removed_not_written_empty(an4_dir, asrkit):
    """A spk2gender of other speakers only, a reco2file_and_channel every line of which validation
    refuses (two fields), an empty reco2dur: fix-data-dir wrote them back empty ('needed no change'
    for the last), and asrkit-validate-data-dir refused each ('empty file'), sending the user back
    to fix-data-dir. They go now, their originals to .backup/, and the dir validates."""
    utts = [l.split()[0] for l in lines(an4_dir / "utt2spk")]
    (an4_dir / "spk2gender").write_text("zz_other_speaker m\n")
    (an4_dir / "reco2file_and_channel").write_text("".join(f"{u} {u}.wav\n" for u in utts))
    (an4_dir / "reco2dur").write_text("")
    proc = asrkit("fix-data-dir", an4_dir)
    err = proc.stderr.decode()
    for name in ("spk2gender", "reco2file_and_channel", "reco2dur"):
        assert not (an4_dir / name).exists(), name
        assert f"{name}: removed: no line left" in err, err
        assert (an4_dir / ".backup" / name).exists(), name
    assert (an4_dir / ".backup" / "spk2gender").read_text() == "zz_other_speaker m\n"
    assert not [p for p in validate_data_dir(an4_dir, check_wav_files=False) if p.is_error]
    # a table with a line left is kept, as before
    speaker = lines(an4_dir / "utt2spk")[0].split()[1]
    (an4_dir / "spk2gender").write_text(f"{speaker} f\nzz_other_speaker m\n")
    fix_data_dir(an4_dir)
    assert (an4_dir / "spk2gender").read_text() == f"{speaker} f\n"
