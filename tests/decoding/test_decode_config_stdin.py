"""asrkit-decode --config - reads the decoding options from stdin, as '-' is stdin for its audio
and --utt-ids (and asrkit-pack-model --decode-config -); it was '-: no such file'. What stdin cannot
give (it is read by another input too, it is empty, a terminal) is one line naming --config -."""
from __future__ import annotations

import os

from cli_checks import error_line, run
from test_decode_cli import inproc, yesno  # noqa: F401  (fixtures)

YAML = b"beam: 2\nctc_weight: 0.5\n"


def test_config_dash_reads_the_options_from_stdin(tmp_path, yesno, inproc, monkeypatch):  # noqa: F811
    # (what reads a real stdin runs as a new process; the rest in this one: a torch import each saved)
    _, model, wavs = yesno
    (tmp_path / "decode.yaml").write_bytes(YAML)
    base = ["decode", "--model", model]
    monkeypatch.chdir(tmp_path)
    by_file = inproc(*base, "--config", "decode.yaml", wavs[0], check=False)
    assert by_file.returncode == 0, by_file.stderr.decode()
    piped = run([*base, "--config", "-", wavs[0]], input=YAML, cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr.decode()
    assert piped.stdout == by_file.stdout and piped.stdout.startswith(wavs[0].stem.encode() + b" ")
    printed = run([*base, "--config", "-", "--print-config"], input=YAML, cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr.decode()
    assert b"beam: 2\n" in printed.stdout and b"ctc_weight: 0.5\n" in printed.stdout
    bad = error_line(run([*base, "--config", "-", "--print-config"], input=b"beem: 2\n", cwd=tmp_path))
    assert bad.startswith("ERROR (asrkit-decode): --config - (stdin):1: unknown key 'beem'"), bad
    assert not (tmp_path / "-").exists()


def test_config_dash_refuses_what_stdin_cannot_give(tmp_path, yesno):
    _, model, wavs = yesno
    base = ["decode", "--model", model, "--config", "-"]
    # stdin holds one input: the audio '-' was read as the YAML ("not UTF-8 text")
    line = error_line(run([*base, "-"], input=wavs[0].read_bytes(), cwd=tmp_path))
    assert line == ("ERROR (asrkit-decode): --config - and the audio file '-' both read stdin: a stream can be read "
                    "only once; give a file for one of them")
    line = error_line(run([*base, "--feats", "ark:-"], input=YAML, cwd=tmp_path))
    assert "--config - and --feats ark:- both read stdin" in line, line
    # (an empty pipe: `cat conf/decod.yaml | asrkit-decode --config -` would decode with every default)
    line = error_line(run([*base, wavs[0]], stdin=open(os.devnull, "rb"), cwd=tmp_path))
    assert "--config - (stdin): no data on stdin (0 bytes read)" in line, line
    # at a prompt, the pipe forgotten: it waited for typed YAML
    leader, follower = os.openpty()
    try:
        line = error_line(run([*base, wavs[0]], stdin=follower, cwd=tmp_path))
    finally:
        os.close(leader)
        os.close(follower)
    assert "--config - (stdin): stdin is a terminal, not decoding options" in line, line


def test_pack_model_decode_config_dash_packs_the_options_of_its_file(tmp_path, yesno, inproc,  # noqa: F811
                                                                     monkeypatch):
    """asrkit-pack-model --decode-config - reads them through asrkit-decode's reader, and its errors
    name its own option (they said "--config - (stdin)", an option pack-model has not)."""
    _, model, _ = yesno
    (tmp_path / "decode.yaml").write_bytes(YAML)
    monkeypatch.chdir(tmp_path)
    by_file = inproc("pack-model", "--decode-config", "decode.yaml", model, "file.pt", check=False)
    assert by_file.returncode == 0, by_file.stderr.decode()
    piped = run(["pack-model", "--decode-config", "-", model, "pipe.pt"], input=YAML, cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr.decode()
    printed = [inproc("decode", "--model", m, "--print-config", check=False) for m in ("file.pt", "pipe.pt")]
    assert printed[0].returncode == 0 and b"beam: 2\n" in printed[0].stdout, printed[0].stderr.decode()
    assert printed[1].stdout == printed[0].stdout
    base = ["pack-model", "--decode-config", "-"]
    line = error_line(run([*base, model, "out.pt"], stdin=open(os.devnull, "rb"), cwd=tmp_path))
    assert line == ("ERROR (asrkit-pack-model): --decode-config - (stdin): no data on stdin (0 bytes read): no "
                    "decoding options were piped in"), line
    leader, follower = os.openpty()
    try:
        line = error_line(run([*base, model, "out.pt"], stdin=follower, cwd=tmp_path))
    finally:
        os.close(leader)
        os.close(follower)
    assert line == ("ERROR (asrkit-pack-model): --decode-config - (stdin): stdin is a terminal, not decoding options: "
                    "pipe the YAML in (... | asrkit-pack-model --decode-config - ...) or give its file"), line
    line = error_line(run([*base, "-", "out.pt"], input=YAML, cwd=tmp_path))
    assert line == ("ERROR (asrkit-pack-model): --decode-config - and <model-in> both read stdin: a stream can be read "
                    "only once; give a file for one of them"), line
    assert not (tmp_path / "out.pt").exists()
