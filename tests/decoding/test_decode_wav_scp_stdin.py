"""asrkit-decode --wav-scp and asrkit-align read a wav.scp recording ``-`` from stdin, as
asrkit-compute-fbank does (tests/features/test_wav_scp_stdin.py), piped in as a user would."""
from __future__ import annotations

from cli_checks import error_line, run
from process_checks import a_terminal
from test_decode_cli import yesno  # noqa: F401  (fixture)


def test_decode_and_align_read_dash_from_stdin(tmp_path, yesno):
    _, model, wavs = yesno
    sentences = [" ".join("YES" if c == "1" else "NO" for c in w.stem.split("_")) for w in wavs]
    (tmp_path / "by_path.scp").write_text(f"u1 {wavs[0]}\nu2 {wavs[1]}\n")
    (tmp_path / "dash.scp").write_text(f"u1 -\nu2 {wavs[1]}\n")
    base = ["decode", "--model", model, "--ctc-weight", "0", "--beam", "2"]
    expected = run([*base, "--wav-scp", "by_path.scp"], cwd=tmp_path)
    assert expected.returncode == 0, expected.stderr.decode()
    got = run([*base, "--wav-scp", "dash.scp"], input=wavs[0].read_bytes(), cwd=tmp_path)
    assert got.returncode == 0, got.stderr.decode()
    assert got.stdout == expected.stdout and got.stdout.count(b"\n") == 2
    ids = error_line(run([*base, "--wav-scp", "dash.scp", "--utt-ids", "/dev/stdin"], input=b"u1\n", cwd=tmp_path))
    assert "dash.scp:1: recording 'u1' is '-' (stdin), but stdin is read as --utt-ids /dev/stdin" in ids
    (tmp_path / "text").write_text(f"u1 {sentences[0]}\nu2 {sentences[1]}\n")
    align = error_line(run(["align", "--model", model, "dash.scp", "-", "ctm"], input=b"u1 YES\n", cwd=tmp_path))
    assert "dash.scp:1: recording 'u1' is '-' (stdin), but stdin is read as <text-file> /dev/stdin" in align
    assert not (tmp_path / "ctm").exists()


def test_dash_twice_is_named_as_stdin_given_twice(tmp_path, yesno):
    """`asrkit-decode - -` said "'/dev/stdin' and '/dev/stdin' both give utterance id 'stdin'" and
    suggested a wav.scp, which takes one '-' too; stdin holds one recording."""
    _, model, wavs = yesno
    line = error_line(run(["decode", "--model", model, "-", "-"], input=wavs[0].read_bytes(), cwd=tmp_path))
    assert "'-' (stdin, which holds one recording) is given twice" in line, line


def test_utt_ids_from_a_terminal_are_refused():
    """--utt-ids - (or /dev/stdin) typed at a prompt with the pipe forgotten waited for ever for
    someone to type the ids in, where every other text table from a terminal is refused."""
    import os

    import pytest

    from asrkit.decoding.inputs import read_utt_ids
    from asrkit.utils.errors import AsrkitError

    with a_terminal(b"u1\n\x04") as tty:
        with pytest.raises(AsrkitError, match=r": a terminal, not a text file: pipe the lines in or name a file"):
            read_utt_ids(os.ttyname(tty))


def test_align_reads_segments_dash_from_stdin(tmp_path, yesno):
    """asrkit-align --segments - was "-: no such file" where its <text-file> '-' is stdin; with the
    text on stdin too it is one error naming both, not an empty second read."""
    _, model, wavs = yesno
    (tmp_path / "wav.scp").write_text(f"r1 {wavs[0]}\n")
    (tmp_path / "segments").write_text("s1 r1 0 -1\n")
    sentence = " ".join("YES" if c == "1" else "NO" for c in wavs[0].stem.split("_"))
    (tmp_path / "text").write_text(f"s1 {sentence}\n")
    align = ["align", "--model", model, "wav.scp", "text"]
    by_path = run([*align[:2], align[2], "--segments", "segments", *align[3:], "by_path.ctm"], cwd=tmp_path)
    assert by_path.returncode == 0, by_path.stderr.decode()
    dash = run([*align[:2], align[2], "--segments", "-", *align[3:], "dash.ctm"], input=b"s1 r1 0 -1\n",
               cwd=tmp_path)
    assert dash.returncode == 0, dash.stderr.decode()
    assert (tmp_path / "dash.ctm").read_bytes() == (tmp_path / "by_path.ctm").read_bytes()
    twice = error_line(run(["align", "--model", model, "--segments", "-", "wav.scp", "-", "o.ctm"],
                           input=f"s1 {sentence}\n".encode(), cwd=tmp_path))
    assert "<text-file> and --segments are both stdin" in twice
    assert not (tmp_path / "o.ctm").exists()
