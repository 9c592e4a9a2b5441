"""The table readers on input with no line break: refused at once, in bounded memory."""
from __future__ import annotations

import io
import re
import shlex
import tracemalloc

import pytest

import asrkit.data.table as table
from asrkit.data.transcript_files import read_transcript_file
from asrkit.data.holdout import read_id_list
from asrkit.data.table import corpus_text_lines, iter_table, iter_table_fast, iter_table_lines, read_line_blocks, read_table
from asrkit.data.validate import scan_table
from asrkit.utils.errors import AsrkitError


@pytest.fixture
def zeros(tmp_path):
    """32 MB of NUL bytes and no line break (sparse: no disk cost), as a crash can leave a file
    (or /dev/zero, not read here: unbounded, a reader without the bound takes all memory)."""
    path = tmp_path / "zeros"
    with open(path, "wb") as f:
        f.truncate(32 << 20)
    return path


NUL_LINE = "a NUL byte in a line over 1 MiB long with no line break (a binary or damaged file?)"
READERS = {
    "read_table": lambda p: read_table(p),
    "iter_table": lambda p: list(iter_table(p)),
    "corpus_text_lines": corpus_text_lines,
    "read_transcript_file": read_transcript_file,
    "read_id_list": lambda p: read_id_list(p, {}),
}


@pytest.mark.parametrize("reader", READERS)
def test_nul_file_refused_without_reading_it_whole(zeros, reader):
    # Read whole, this took 3x the file in memory before its error (630 MB for 200 MB), and
    # /dev/zero or a bigger file a MemoryError traceback.
    tracemalloc.start()
    try:
        with pytest.raises(AsrkitError) as e:
            READERS[reader](zeros)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(e.value) == f"{zeros}:1: {NUL_LINE}"
    assert peak < 8 << 20


def test_validation_names_the_line(zeros):
    scanned = scan_table(zeros)
    assert [str(p) for p in scanned.problems] == [f"{zeros}:1: {NUL_LINE}"]


def test_overlong_line_refused_with_its_number(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "MAX_LINE_BYTES", 3 << 20)
    monkeypatch.setattr(table, "READ_BLOCK", 1 << 16)
    path = tmp_path / "text"
    path.write_bytes(b"a x\nb " + b"y" * (4 << 20) + b"\nc z\n")
    for reader in (lambda p: read_table(p), lambda p: list(iter_table(p)), corpus_text_lines):
        with pytest.raises(AsrkitError, match=rf"^{path}:2: a line over 3 MiB long \(no text table's line is; "):
            reader(path)
    # A long line within the bound (one speaker's spk2utt) is read whole.
    path.write_bytes(b"a x\nb " + b"y " * (1 << 20) + b"\nc z\n")
    assert read_table(path)["b"] == ("y " * (1 << 20)).strip()


TABLE = (b"u1 a b\nu2 \xc3\xa9t\xc3\xa9\nu3\tx\ty\r\nu4  z \nu5\n" + b"".join(b"u%d v%d\n" % (i, i) for i in range(6, 40))
         + b"u40 last")


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 20])
def test_lines_across_blocks_read_as_one_read(tmp_path, monkeypatch, block):
    path = tmp_path / "text"
    path.write_bytes(TABLE)
    whole = [(x.key, x.value, x.lineno) for x in iter_table(path, allow_empty_value=True)]
    monkeypatch.setattr(table, "READ_BLOCK", block)
    assert list(iter_table_fast(path, allow_empty_value=True)) == whole
    assert [(x.key, x.value, x.lineno) for x in iter_table(path, allow_empty_value=True)] == whole
    assert whole[1] == ("u2", "été", 2) and whole[2] == ("u3", "x\ty", 3) and whole[-1] == ("u40", "last", 40)
    # An error's line number is counted across blocks.
    path.write_bytes(TABLE.replace(b"u33 v33\n", b" u33 v33\n"))
    with pytest.raises(AsrkitError, match=rf"^{path}:33: line starts with whitespace$"):
        read_table(path, allow_empty_value=True)
    path.write_bytes(TABLE.replace(b"u21 v21\n", b"u21 v\xff\n"))
    with pytest.raises(AsrkitError, match=rf"^{path}:21: not UTF-8 text"):
        read_table(path, allow_empty_value=True)


def test_cli_score_and_make_data_dir(asrkit, an4_root, zeros, tmp_path):
    ref = tmp_path / "ref"
    ref.write_text("u1 A\n")
    audio = an4_root / "wav" / "an4test_clstk" / "fvap"
    for args in (("score", ref, zeros), ("make-data-dir", "--transcripts", zeros, audio, tmp_path / "out")):
        out = asrkit(*args, check=False)
        assert out.returncode == 1
        assert out.stderr.decode().strip().splitlines()[-1].endswith(f"{zeros}:1: {NUL_LINE}")


class Chunks(io.RawIOBase):
    """A pipe's reads: ``chunks`` one at a time; ``taken`` counts those read."""

    def __init__(self, chunks):
        self.chunks, self.taken = list(chunks), 0

    def readable(self):
        return True

    def readinto(self, b):
        if not self.chunks:
            return 0
        chunk = self.chunks.pop(0)
        self.taken += 1
        b[:len(chunk)] = chunk
        return len(chunk)


def test_a_stream_is_read_as_it_comes_and_short_nul_lines_are_the_readers(monkeypatch):
    raw = Chunks([b"u1 a\n", b"u2 b\n", b"u3 c\n"])
    blocks = read_line_blocks(io.BufferedReader(raw), "<stdin>")
    assert next(blocks) == (1, b"u1 a\n") and raw.taken == 1  # not waiting for a MiB (a pipe still open)
    assert list(blocks) == [(2, b"u2 b\n"), (3, b"u3 c\n")]
    # A line of NULs that a pipe hands over in pieces is refused for what it is, not as binary:
    # the bound counts the line's length, not how the pipe cut it.
    monkeypatch.setattr(table, "READ_BLOCK", 1 << 16)
    pieces = [b"u1 a\n" + b"\0" * 1000] + [b"\0" * 1000] * 4 + [b"\n"]
    blocks = list(read_line_blocks(io.BufferedReader(Chunks(pieces)), "<stdin>"))
    assert b"".join(b for _, b in blocks) == b"".join(pieces)
    with pytest.raises(AsrkitError, match=r"^<stdin>:2: a NUL byte in the key"):
        list(iter_table_lines(io.BytesIO(blocks[1][1]), "<stdin>", first_lineno=2))
    with pytest.raises(AsrkitError, match=r"^<stdin>:2: a NUL byte in a line over 0 MiB long"):
        list(read_line_blocks(io.BufferedReader(Chunks([b"u1 a\n"] + [b"\0" * 30000] * 3)), "<stdin>"))


def test_an_scp_from_stdin_or_a_pipe_is_read_in_bounded_blocks(tmp_path, monkeypatch):
    """scp:- and scp:'cmd |' read the whole stream before their first line: /dev/zero there was a
    MemoryError traceback (or the OOM killer). A pipe refused early is killed, not waited for."""
    import sys

    from asrkit.data.matrix_io import read_scp

    with open("/dev/zero", "rb") as zero:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(zero))
        with pytest.raises(AsrkitError, match=r"^<stdin>:1: a NUL byte in a line over 1 MiB long"):
            read_scp("-")
    monkeypatch.undo()
    with pytest.raises(AsrkitError, match=r"^scp 'cat /dev/zero \|':1: a NUL byte in a line over 1 MiB long"):
        read_scp("cat /dev/zero |")
    # a good pipe still reads, and a failed one still says so
    (tmp_path / "a.scp").write_text(f"u1 {tmp_path}/a.ark:5\nu2 {tmp_path}/a.ark:50\n")
    assert list(read_scp(f"cat {shlex.quote(str(tmp_path / 'a.scp'))} |")) == ["u1", "u2"]
    with pytest.raises(AsrkitError, match=r"^scp 'false \|': command exited with status 1"):
        read_scp("false |")


@pytest.mark.parametrize("line", ["b", "b  \t"])
def test_a_spk2utt_speaker_with_no_utterances_is_an_error_naming_the_line(tmp_path, line):
    """Kaldi's compute-cmvn-stats only warns "No stats accumulated for speaker" for such a line, but
    its validate_data_dir.sh refuses the table (it differs from utt2spk's): no tool writes one, so it
    is a damaged table, refused before any stats are made rather than a speaker silently missing."""
    from asrkit.utils.errors import AsrkitError

    path = tmp_path / "spk2utt"
    path.write_text(f"a u1 u2\n{line}\nc u3\n")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{path}:2: malformed line (expected '<key> <value>')")):
        table.read_spk2utt(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be-bom"])
def test_a_utf16_table_is_named_as_such(tmp_path, encoding):
    """A wav.scp saved as Windows Notepad's 'Unicode' was "not UTF-8 text (invalid start byte at
    byte 0 of the line)", which says nothing of what the file is or what to do."""
    text = "u1 a.wav\nu2 b.wav\n"
    raw = text.encode("utf-16") if encoding == "utf-16" else b"\xfe\xff" + text.encode("utf-16-be")
    path = tmp_path / "wav.scp"
    path.write_bytes(raw)
    mark = raw[:2].hex(" ").upper()
    want = (f"{path}:1: the file is UTF-16 (it starts with the byte-order mark {mark}, as Windows Notepad's "
            f"'Unicode' saves it); Kaldi tables are UTF-8 text: convert it (iconv -f UTF-16 -t UTF-8 {path} > "
            f"{path}.utf8)")
    for reader in (lambda: list(iter_table(path)), lambda: list(iter_table_fast(path)), lambda: read_table(path)):
        with pytest.raises(AsrkitError) as e:
            reader()
        assert str(e.value) == want


def test_utt2spk_speaker_id_with_a_nul_is_named(tmp_path):
    # It was taken, and written as a key of spk2utt and of asrkit-adapt-speakers' transform ark.
    from asrkit.data.table import read_utt2spk

    (tmp_path / "utt2spk").write_bytes(b"a-1 a\nb-1 b\x00x\n")
    with pytest.raises(AsrkitError, match=r"utt2spk:2: utterance 'b-1': a NUL byte in its speaker id \(a binary or "
                                          r"damaged file\?\)$"):
        read_utt2spk(tmp_path / "utt2spk")
    (tmp_path / "utt2spk").write_bytes(b"a-1 a\nb-1 b\n")
    assert read_utt2spk(tmp_path / "utt2spk") == {"a-1": "a", "b-1": "b"}


def test_a_bom_starting_a_later_line_is_refused_naming_the_line(asrkit, yesno_root, tmp_path):
    """Two wav.scp pieces each saved with a BOM and joined with cat: the second's BOM began its
    first key ('\ufeffu2'), which compute-fbank read and wrote to feats.scp, exit 0, and which then
    matched nothing in text or utt2spk (line 1's BOM was already refused). A BOM inside a value
    (a transcript's) is left alone."""
    bom = "\ufeff"
    path = tmp_path / "wav.scp"
    path.write_text(f"u1 a.wav\n{bom}u2 b.wav\nu3 c.wav\n")
    want = (f"{path}:2: starts with a UTF-8 byte-order mark (BOM), which would become part of its key (files "
            f"each saved with one and joined with cat?); Kaldi tables are plain text: remove them "
            f"(sed -i 's/^\\xEF\\xBB\\xBF//' {path})")
    for reader in (lambda: list(iter_table(path)), lambda: list(iter_table_fast(path)), lambda: read_table(path)):
        with pytest.raises(AsrkitError) as e:
            reader()
        assert str(e.value) == want
    ok = tmp_path / "text"
    ok.write_text(f"u1 A\nu2 B{bom}C\n")
    assert read_table(ok) == {"u1": "A", "u2": f"B{bom}C"}
    assert [x[:2] for x in iter_table_fast(ok)] == [("u1", "A"), ("u2", f"B{bom}C")]

    wavs = sorted(yesno_root.rglob("*.wav"))[:3]
    scp = tmp_path / "joined.scp"
    scp.write_text(f"a {wavs[0]}\n{bom}b {wavs[1]}\nc {wavs[2]}\n")
    out = tmp_path / "out"
    proc = asrkit("compute-fbank", "--sample-frequency", "8000", f"scp:{scp}", f"ark,scp:{out}/f.ark,{out}/f.scp",
                  check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == f"ERROR (asrkit-compute-fbank): {scp}:2: " + want.split(":2: ", 1)[1].replace(
        str(path), str(scp)), err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("char", ["\x1b", "\x01", "\x7f"])
def test_a_control_character_in_a_key_is_refused_by_the_readers_too(asrkit, yesno_root, tmp_path, char):
    """A wav.scp id holding an ESC (pasted 'ls --color' output), a ^A or a DEL: validate-data-dir
    refused it (Kaldi's IsToken does, in every table) but compute-fbank read it, wrote it to
    feats.scp and exited 0. A control character in a value (a transcript's) is left alone."""
    wavs = sorted(yesno_root.rglob("*.wav"))[:3]
    scp = tmp_path / "wav.scp"
    scp.write_text(f"a {wavs[0]}\nb{char}x {wavs[1]}\nc {wavs[2]}\n")
    want = (f"{scp}:2: the control character U+{ord(char):04X} {char!r} at character 1 of the id {'b' + char + 'x'!r}: "
            f"Kaldi ids cannot hold one; rename it in every table that holds it")
    for reader in (lambda: list(iter_table(scp)), lambda: list(iter_table_fast(scp)), lambda: read_table(scp)):
        with pytest.raises(AsrkitError) as e:
            reader()
        assert str(e.value) == want
    out = tmp_path / "out"
    proc = asrkit("compute-fbank", "--sample-frequency", "8000", f"scp:{scp}", f"ark,scp:{out}/f.ark,{out}/f.scp",
                  check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == f"ERROR (asrkit-compute-fbank): {want}", err
    assert not out.exists() or not any(out.iterdir())
    text = tmp_path / "text"
    text.write_text(f"u1 A{char}B\nu2 C\n")
    assert read_table(text) == {"u1": f"A{char}B", "u2": "C"}
    assert [x[:2] for x in iter_table_fast(text)] == [("u1", f"A{char}B"), ("u2", "C")]


@pytest.mark.parametrize("reader", [read_table, lambda p: list(iter_table(p)), lambda p: list(iter_table_fast(p))])
def test_a_table_that_is_a_broken_link_is_named_as_one(tmp_path, reader):
    """data/train/utt2spk -> ../../x/utt2spk, its target moved: "no such file" sent the user, who
    sees the link in ls, looking for a typo; a plain missing table keeps its message."""
    link = tmp_path / "utt2spk"
    link.symlink_to("../../x/utt2spk")
    with pytest.raises(AsrkitError, match=r"utt2spk: a broken symbolic link \(to \.\./\.\./x/utt2spk, which does not exist\)"):
        reader(link)
    with pytest.raises(AsrkitError, match=r"spk2utt: no such file$"):
        reader(tmp_path / "spk2utt")


def test_a_broken_link_given_to_a_command_is_named(asrkit, tmp_path):
    (tmp_path / "text").symlink_to("moved/text")
    (tmp_path / "hyp").write_text("u1 A\n")
    proc = asrkit("score", tmp_path / "text", tmp_path / "hyp", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("ERROR") == 1 and "Traceback" not in err, err
    assert "text: a broken symbolic link (to moved/text, which does not exist)" in err, err


# One rule for a CR in a table with no LF (asrkit.data.table.cr_only_at), for every reader:
# name -> (bytes, the table as read or None for "CR-only line endings", refused).
CR_CASES = {
    "cr-only, 2 lines": (b"u1 A B\ru2 C\r", None),
    "cr-only, 3 lines": (b"u1 A\ru2 B\ru3 C\r", None),
    "one line, CRLF": (b"u1 HELLO WORLD\r\n", {"u1": "HELLO WORLD"}),
    # with no ids to tell by, as an old Mac file whose last line has no CR: refused
    "cr-only, no CR after the last line": (b"u1 A B\ru2 C D", None),
    "one line, no LF, a CR inside": (b"u1 HELLO\rWORLD", None),
    "one line, no LF, two CRs inside": (b"u1 NO NO\rNO NO\rYES", None),
    "one line ending in a lone CR": (b"u1 HELLO WORLD\r", {"u1": "HELLO WORLD"}),
}


def _scanned(path):
    """validate- and fix-data-dir's reading (no other table: no ids to tell by), a CR-only problem raised."""
    t = scan_table(path, allow_empty_value=True)
    if any("CR-only" in p.message for p in t.problems):
        raise AsrkitError("CR-only (old Mac) line endings")
    return {line.key: line.value for line in t.lines}


CR_READERS = {
    "read_table": read_table,
    "iter_table_fast": lambda p: {k: v for k, v, _ in iter_table_fast(p)},
    "scan_table": _scanned,
}


@pytest.mark.parametrize("case", CR_CASES)
@pytest.mark.parametrize("reader", CR_READERS)
def test_a_cr_in_a_table_without_lf_is_a_line_end_where_no_ids_tell(tmp_path, reader, case):
    """With no other table's ids to tell by, a CR inside the only line of an input with no LF is a
    line end: 'u1 A B<CR>u2 C D' (an old Mac file whose last line has no CR) read as one line put
    every utterance in the first one's transcript. One-line CRLF and lone-CR-ended inputs read."""
    data, expected = CR_CASES[case]
    path = tmp_path / "text"
    path.write_bytes(data)
    if expected is None:
        with pytest.raises(AsrkitError, match=r"CR-only \(old Mac\) line endings"):
            CR_READERS[reader](path)
    else:
        assert CR_READERS[reader](path) == expected


@pytest.fixture(scope="module")
def char_lang(tmp_path_factory):
    from cli_checks import run_asrkit
    lang = tmp_path_factory.mktemp("cr") / "lang"
    run_asrkit("train-tokenizer", "--model-type", "char", "-", lang, input=b"u1 HELLO WORLD\nu2 NO YES ABC\n")
    return lang


@pytest.mark.parametrize("case", CR_CASES)
def test_score_and_tokenize_take_the_same_rule_for_a_cr(asrkit, tmp_path, char_lang, case):
    data, expected = CR_CASES[case]
    ref = tmp_path / "ref"
    ref.write_bytes(data)
    proc = asrkit("score", "--output-dir", tmp_path / "sc", ref, ref, check=False)
    tok = asrkit("tokenize", char_lang / "tokens.model", input=data, check=False)
    for p in (proc, tok):
        if expected is None:
            assert p.returncode == 1 and "CR-only (old Mac) line endings" in p.stderr.decode()
        else:
            assert p.returncode == 0, p.stderr.decode()
    if expected is not None:
        assert len(tok.stdout.decode().splitlines()) == 1
        assert "WER 0.00 [ 0 / " in (tmp_path / "sc" / "wer.txt").read_text()


def test_score_refuses_cr_only_lines_without_a_last_cr(asrkit, tmp_path):
    """A CR-only reference or hypothesis with no CR after its last line is refused, not scored as
    one utterance (exit 0), whichever side it is on."""
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    ref.write_bytes(b"u1 A B\ru2 C D")
    hyp.write_bytes(b"u1 A B\nu2 C D\n")
    for args in ((ref, hyp), (hyp, ref)):
        proc = asrkit("score", "--output-dir", tmp_path / "sc", *args, check=False)
        assert proc.returncode == 1 and proc.stderr.decode().splitlines()[-1] == (
            f"ERROR (asrkit-score): {ref}: CR-only (old Mac) line endings: no LF, a CR at byte 6 of the input; "
            f"convert it (tr '\\r' '\\n'), or take the CR out of a one-line transcript")


def test_the_cr_only_error_offers_the_one_line_reading_only_where_it_may_be_one():
    """'u1 A<CR>u2 B<CR>' is plainly lines (each ends in a CR): its error was also telling the user
    to take the CR out of a one-line transcript."""
    from asrkit.data.table import refuse_cr_only

    hint = "or take the CR out of a one-line transcript"
    with pytest.raises(AsrkitError) as lines:
        refuse_cr_only(b"u1 A\ru2 B\r", "text")
    with pytest.raises(AsrkitError) as maybe_one:
        refuse_cr_only(b"u1 A\rB", "text")
    assert str(lines.value) == "text: CR-only (old Mac) line endings: no LF, a CR at byte 4 of the input; convert it (tr '\\r' '\\n')"
    assert str(maybe_one.value).endswith(hint)
