"""``--config -`` reads the YAML config from stdin in asrkit-train, asrkit-train-lm and
asrkit-compute-fbank, as asrkit-decode's does (tests/decoding/test_decode_config_stdin.py, with
asrkit-pack-model's --decode-config -): it was "-: no such file". One reader serves them all
(asrkit.utils.config.load_yaml_mapping), so each refuses alike what stdin cannot give: an empty
stdin (a failed ``cat`` upstream ran with every default), a terminal (the run waited for typed
YAML), and stdin given to another input of the same command too."""
from __future__ import annotations

import os

import pytest

from cli_checks import error_line, run

# (command, a config file's text, what --print-config prints of it)
CASES = {
    "train": (b"training:\n  max_epochs: 3\noptim:\n  lr: 0.002\n", b"lr: 0.002"),
    "train-lm": (b"max_epochs: 3\nlr: 0.002\n", b"lr: 0.002\n"),
    "compute-fbank": (b"num_mel_bins: 40\nsample_frequency: 8000\n", b"num_mel_bins: 40\n"),
}
# what the terminal and empty-stdin errors call each command's config
WHAT = {"train": "sections (model:, optim:, batching:, training:, finetune:)", "train-lm": "LM training options",
        "compute-fbank": "fbank options"}


@pytest.mark.parametrize("command", sorted(CASES))
def test_config_dash_is_the_same_config_as_its_file(tmp_path, command):
    text, shown = CASES[command]
    (tmp_path / "conf.yaml").write_bytes(text)
    by_file = run([command, "--config", "conf.yaml", "--print-config"], cwd=tmp_path)
    assert by_file.returncode == 0, by_file.stderr.decode()
    assert shown in by_file.stdout
    for name in ("-", "/dev/stdin"):
        piped = run([command, "--config", name, "--print-config"], input=text, cwd=tmp_path)
        assert piped.returncode == 0, piped.stderr.decode()
        assert piped.stdout == by_file.stdout
    assert not (tmp_path / "-").exists()
    # an error in it names the option, not /dev/stdin, and the key's line as a file's does
    line = error_line(run([command, "--config", "-", "--print-config"], input=b"# x\nno_such_option: 1\n",
                          cwd=tmp_path))
    assert f"ERROR (asrkit-{command}): --config - (stdin):2: " in line and "no_such_option" in line, line


@pytest.mark.parametrize("command", sorted(CASES))
def test_config_dash_refuses_an_empty_stdin_and_a_terminal(tmp_path, command):
    args = [command, "--config", "-", "--print-config"]
    with open(os.devnull, "rb") as empty:
        line = error_line(run(args, stdin=empty, cwd=tmp_path))
    assert line == (f"ERROR (asrkit-{command}): --config - (stdin): no data on stdin (0 bytes read): no "
                    f"{WHAT[command]} were piped in"), line
    line = error_line(run(args, input=b" \n\n", cwd=tmp_path))
    assert "--config - (stdin): no data on stdin (3 bytes read)" in line, line
    # only comments: meant as all defaults, as an empty file is
    assert run(args, input=b"# all defaults\n", cwd=tmp_path).returncode == 0
    # an empty file redirected in (< empty.yaml) is that empty file, as by its name: every default, said
    (tmp_path / "empty.yaml").write_bytes(b"")
    with open(tmp_path / "empty.yaml", "rb") as empty:
        redirected = run([command, "--config", "/dev/stdin", "--print-config"], stdin=empty, cwd=tmp_path)
    assert redirected.returncode == 0 and b"empty file" in redirected.stderr, redirected.stderr
    leader, follower = os.openpty()
    try:
        line = error_line(run(args, stdin=follower, cwd=tmp_path))
    finally:
        os.close(leader)
        os.close(follower)
    assert line == (f"ERROR (asrkit-{command}): --config - (stdin): stdin is a terminal, not {WHAT[command]}: "
                    f"pipe the YAML in (... | asrkit-{command} --config - ...) or give its file"), line
    line = error_line(run(args, input=b"\xff\xfe\x00binary", cwd=tmp_path))
    assert line.endswith("--config - (stdin): not UTF-8 text (audio or a model piped in?)"), line


STDIN_TWICE = [
    (["train", "--config", "-", "--fbank-config", "-", "--print-config"], "--config - and --fbank-config"),
    (["train", "--config", "-", "--cmvn", "/dev/stdin", "--train-dir", "d", "--lang-dir", "l", "exp"],
     "--config - and --cmvn"),
    (["train-lm", "--config", "-", "--lang-dir", "lang", "-", "exp"], "--config - and <text-file>"),
    (["train-lm", "--config", "-", "--lang-dir", "lang", "--valid-text", "-", "text", "exp"],
     "--config - and --valid-text"),
    (["compute-fbank", "--config", "-", "scp:-", "ark:out.ark"], "--config - and WAV_RSPECIFIER scp:-"),
    (["compute-fbank", "--config", "-", "--segments", "-", "scp:wav.scp", "ark:out.ark"],
     "--config - and --segments"),
]


@pytest.mark.parametrize("args,readers", STDIN_TWICE, ids=[f"{a[0]} {r.split(' and ')[1]}" for a, r in STDIN_TWICE])
def test_config_dash_with_another_input_on_stdin_is_refused(tmp_path, args, readers):
    """stdin holds one input: the config read the other's data as YAML, or the other found it drained."""
    text, _ = CASES[args[0]]
    line = error_line(run(args, input=text, cwd=tmp_path))
    assert line == (f"ERROR (asrkit-{args[0]}): {readers} both read stdin: a stream can be read only once; give a "
                    f"file for one of them"), line
    assert not (tmp_path / "exp").exists() and not (tmp_path / "out.ark").exists()


def test_compute_fbank_config_dash_makes_the_features_of_its_file(tmp_path, yesno_root):
    wavs = sorted((yesno_root / "waves_yesno").glob("*.wav"))[:2]
    (tmp_path / "wav.scp").write_text("".join(f"u{i} {w}\n" for i, w in enumerate(wavs)))
    text, _ = CASES["compute-fbank"]
    (tmp_path / "fbank.yaml").write_bytes(text)
    for out in ("file", "pipe"):
        (tmp_path / out).mkdir()
    by_file = run(["compute-fbank", "--config", "fbank.yaml", "scp:wav.scp", "ark,scp:file/f.ark,file/f.scp"],
                  cwd=tmp_path)
    assert by_file.returncode == 0, by_file.stderr.decode()
    piped = run(["compute-fbank", "--config", "-", "scp:wav.scp", "ark,scp:pipe/f.ark,pipe/f.scp"], input=text,
                cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr.decode()
    for name in ("f.ark", "fbank.yaml"):  # (the options written beside the features: the file's)
        assert (tmp_path / "pipe" / name).read_bytes() == (tmp_path / "file" / name).read_bytes()
    # a wav.scp recording '-' cannot be read from the stdin that held the options
    (tmp_path / "dash.scp").write_text(f"u0 -\nu1 {wavs[1]}\n")
    line = error_line(run(["compute-fbank", "--config", "-", "scp:dash.scp", "ark:d.ark"], input=text, cwd=tmp_path))
    assert "--config" in line and "stdin" in line, line
    assert not (tmp_path / "d.ark").exists()
