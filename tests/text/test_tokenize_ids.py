"""asrkit-tokenize keeps a Kaldi text's utterance ids as the table readers read them."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path


def test_an_id_is_cut_at_ascii_white_space_only(asrkit, tmp_path):
    """A no-break space (U+00A0) inside an utterance id: every table reader keeps it in the key
    (Kaldi splits at ASCII white space), but asrkit-tokenize cut the id there, so token_int named
    utterance 'u2' (no such id in text) and the rest of the id was encoded as an unknown word."""
    lang = tmp_path / "lang"
    asrkit("train-tokenizer", "--model-type", "char", "-", lang, input=b"a YES NO\nb NO YES\n")
    text = "u1 YES\u00a0NO\nu2\u00a0x YES NO\nu3\tNO\x0bYES\nu4\n".encode()
    proc = asrkit("tokenize", lang / "tokens.model", input=text)
    keys = [line.split(" ")[0] for line in proc.stdout.decode().splitlines()]
    assert keys == ["u1", "u2\u00a0x", "u3", "u4"]
    lines = dict(line.split(" ", 1) for line in proc.stdout.decode().splitlines()[:3])
    # inside a transcript it is a word break, as the tokenizer was trained
    assert lines["u1"] == lines["u2\u00a0x"] and "tokenizer does not know" not in proc.stderr.decode()


def test_an_id_the_table_readers_refuse_is_refused_here_too(asrkit, tmp_path):
    """An id starting with a BOM (texts each saved with one and joined with cat) or holding an
    ESC (pasted 'ls --color' output): every table reader refuses it (3a2dfabf, b9b3d793), but
    asrkit-tokenize wrote it on to token_int, exit 0. A BOM or ^A inside a transcript is a value's,
    and --no-utt-id lines have no id."""
    lang = tmp_path / "lang"
    asrkit("train-tokenizer", "--model-type", "char", "-", lang, input=b"a YES NO\nb NO YES\n")
    model = lang / "tokens.model"
    for text, error in (("u1 YES\n\ufeffu2 NO\n", "<stdin>:2: starts with a UTF-8 byte-order mark (BOM), which would "
                                                   "become part of its key (files each saved with one and joined with "
                                                   "cat?); Kaldi tables are plain text: remove them (put sed in the pipe before "
                                                   f"it: ... | sed 's/^\\xEF\\xBB\\xBF//' | asrkit-tokenize "
                                                   f"{shlex.quote(str(model))})"),
                        ("u1 YES\nu\x1b[0m2 NO\n", "<stdin>:2: the control character U+001B '\\x1b' at character 1 of "
                                                   "the id 'u\\x1b[0m2': Kaldi ids cannot hold one; rename it in every "
                                                   "table that holds it")):
        proc = asrkit("tokenize", model, input=text.encode(), check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and err.strip().splitlines()[-1] == f"ERROR (asrkit-tokenize): {error}", err
    ok = asrkit("tokenize", model, input="u1 YES\ufeffNO\nu2 N\x01O\n".encode()).stdout.decode()
    assert [line.split(" ")[0] for line in ok.splitlines()] == ["u1", "u2"]
    plain = asrkit("tokenize", "--no-utt-id", model, input="YES\n\ufeffNO\n".encode()).stdout.decode()
    assert len(plain.splitlines()) == 2


def _model_in_my_data_and_a_shell(asrkit, tmp_path):
    """A char tokenizer in 'my data/lang' (a path to quote), its tokens.model as the printed
    commands name it, and bash run in ``tmp_path`` with the asrkit commands on its PATH."""
    lang = tmp_path / "my data" / "lang"
    asrkit("train-tokenizer", "--model-type", "char", "-", lang, input=b"a YES NO\nb NO YES\n")
    model = shlex.quote(os.path.relpath(lang / "tokens.model", tmp_path))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", OMP_NUM_THREADS="1")

    def sh(command):
        return subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, timeout=300)

    return lang, model, sh


def test_a_bom_on_stdin_is_refused_with_a_command_that_works(asrkit, tmp_path):
    """A BOM starting an id on stdin said only 'remove them' (no file there for 'sed -i'): the error
    now gives the sed that feeds asrkit-tokenize its input without them, with the file stdin was
    redirected from ('my data/Bob's text') and the file stdout went to, or the pipe form."""
    lang, model, sh = _model_in_my_data_and_a_shell(asrkit, tmp_path)

    text = tmp_path / "my data" / "Bob's text"
    for content, flags, sed in ((b"\xef\xbb\xbfu1 YES\n\xef\xbb\xbfu2 NO\n", "", "sed 's/^\\xEF\\xBB\\xBF//'"),
                                (b"u1 YES\n\xef\xbb\xbfu2 NO\n", "", "sed 's/^\\xEF\\xBB\\xBF//'"),
                                (b"\xef\xbb\xbfu1 YES\nu2 NO\n", " --no-utt-id", "sed '1s/^\\xEF\\xBB\\xBF//'")):
        text.write_bytes(content)
        want = asrkit("tokenize", *flags.split(), lang / "tokens.model", input=content.replace(b"\xef\xbb\xbf", b"")).stdout
        this = f"asrkit-tokenize{flags} {model}"
        proc = sh(f"{this} < {shlex.quote(os.path.relpath(text, tmp_path))} > out")
        err = proc.stderr.decode()
        assert proc.returncode == 1 and "Traceback" not in err, err
        command = re.search(r"\((sed .*)\)$", err.strip().splitlines()[-1]).group(1)
        assert command == f"{sed} 'my data/Bob'\"'\"'s text' | {this} > out", err
        (tmp_path / "out").unlink()
        assert sh(command).returncode == 0 and (tmp_path / "out").read_bytes() == want
        # stdin a pipe (texts joined with cat): sed goes in the pipe
        proc = sh(f"cat {shlex.quote(os.path.relpath(text, tmp_path))} | {this}")
        line = proc.stderr.decode().strip().splitlines()[-1]
        assert line.endswith(f"(put sed in the pipe before it: ... | {sed} | {this})"), line
        fixed = sh(f"cat {shlex.quote(os.path.relpath(text, tmp_path))} | {sed} | {this}")
        assert fixed.returncode == 0 and fixed.stdout == want


def test_utf16_on_stdin_is_refused_with_the_iconv_that_converts_it(asrkit, tmp_path):
    """A text saved as Notepad's 'Unicode' (UTF-16) on stdin was refused ending 'convert it', with
    no command: the table readers' iconv names a file, which stdin has not. The error now gives
    the iconv that feeds asrkit-tokenize its input as UTF-8, with the file stdin was redirected
    from and the file stdout went to, or the pipe form; each runs as printed."""
    lang, model, sh = _model_in_my_data_and_a_shell(asrkit, tmp_path)

    content = "u1 YES NO\nu2 NO\n"
    want = asrkit("tokenize", lang / "tokens.model", input=content.encode()).stdout
    text = tmp_path / "my data" / "Bob's text"
    iconv = "iconv -f UTF-16 -t UTF-8"
    for raw in (content.encode("utf-16-le"), content.encode("utf-16-be")):
        mark = b"\xff\xfe" if raw == content.encode("utf-16-le") else b"\xfe\xff"
        text.write_bytes(mark + raw)
        for flags in ("", " --no-utt-id"):
            this = f"asrkit-tokenize{flags} {model}"
            proc = sh(f"{this} < {shlex.quote(os.path.relpath(text, tmp_path))} > out")
            err = proc.stderr.decode()
            assert proc.returncode == 1 and "Traceback" not in err, err
            last = err.strip().splitlines()[-1]
            assert last.startswith(f"ERROR (asrkit-tokenize): <stdin>:1: the file is UTF-16 (it starts with the "
                                   f"byte-order mark {mark.hex(' ').upper()}, "), last
            command = re.search(r"convert it \((iconv .*)\)$", last).group(1)
            assert command == f"{iconv} 'my data/Bob'\"'\"'s text' | {this} > out", last
            (tmp_path / "out").unlink()
            assert sh(command).returncode == 0
            if not flags:
                assert (tmp_path / "out").read_bytes() == want
            # stdin a pipe: iconv goes in the pipe
            proc = sh(f"cat {shlex.quote(os.path.relpath(text, tmp_path))} | {this}")
            line = proc.stderr.decode().strip().splitlines()[-1]
            assert line.endswith(f"convert it (put iconv in the pipe before it: ... | {iconv} | {this})"), line
            fixed = sh(f"cat {shlex.quote(os.path.relpath(text, tmp_path))} | {iconv} | {this}")
            assert fixed.returncode == 0 and (flags or fixed.stdout == want), fixed.stderr
