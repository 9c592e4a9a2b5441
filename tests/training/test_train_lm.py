"""asrkit-train-lm: its typed config fails before any text is read; a killed run resumes exactly."""
from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from .kill import sigkill_after_first_checkpoint
from .named_pipes import assert_named_pipe_refused
from .test_train_cli import _run_inproc


def test_model_typo_fails_when_the_config_loads(tmp_path):
    conf = tmp_path / "lm.yaml"
    conf.write_text("model: {hiden: 32}\nmax_epochs: 2\n")
    code, err = _run_inproc("train-lm", "--config", conf, "--lang-dir", tmp_path / "no_such_lang",
                            tmp_path / "no_such_text", tmp_path / "lm")
    assert code == 1
    assert f"ERROR (asrkit-train-lm): {conf}:1: unknown key 'model.hiden' (known: embed, hidden" in err
    assert "no_such_text" not in err and "no_such_lang" not in err
    assert not (tmp_path / "lm").exists()


def test_print_config_resolves_the_options_and_reads_nothing(tmp_path):
    """ESPnet's --print-config, as asrkit-train has it: asr.sh checks --lm-config with it before any
    stage (a misspelt key failed at stage 3, after the features)."""
    import yaml

    conf = tmp_path / "lm.yaml"
    conf.write_text("model: {hidden: 32}\nmax_epochs: 2\n")
    from asrkit.cli import main

    res = CliRunner().invoke(main, ["train-lm", "--config", str(conf), "--lr", "0.01", "--print-config"])
    assert res.exit_code == 0, res.stderr
    got = yaml.safe_load(res.stdout)
    assert got["model"]["hidden"] == 32 and got["max_epochs"] == 2 and got["lr"] == 0.01
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm.yaml"]  # no exp dir, no log
    code, err = _run_inproc("train-lm", "--config", conf, "--max-epochs", "0", "--print-config")
    assert code == 1 and "max_epochs must be positive, got 0" in err
    # A million layers of size 1 passed the memory check, then trained about never (killed at 300 s).
    conf.write_text("model: {layers: 1000000, hidden: 1, embed: 1}\n")
    code, err = _run_inproc("train-lm", "--config", conf, "--print-config")
    assert code == 1 and "layers must be at most 100, got 1000000" in err, err
    # without it, the tokenizer and both arguments are still required
    code, err = _run_inproc("train-lm", tmp_path / "text", tmp_path / "lm")
    assert code == 2 and "missing --lang-dir (only --print-config runs without it)" in err
    code, err = _run_inproc("train-lm", "--lang-dir", tmp_path, tmp_path / "text")
    assert code == 2 and "missing <lm-exp-dir> (only --print-config runs without it)" in err


LM_CONF = "model: {embed: 16, hidden: 32, layers: 1, dropout: 0.3}\nbatch_size: 8\nmax_epochs: 4\ndev_ratio: 0.1\n"


def _lm_setup(tmp_path, an4_root):
    """AN4 train transcripts as a Kaldi text, a char tokenizer of them, and a tiny LM config."""
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    lines = (an4_root / "etc" / "an4_train.transcription").read_text().splitlines()
    sents = [ln.split("(")[0].replace("<s>", "").replace("</s>", "").strip() for ln in lines[:400]]
    text = tmp_path / "text"
    text.write_text("".join(f"utt{i:04d} {s}\n" for i, s in enumerate(sents)))
    lang = tmp_path / "lang"
    lang.mkdir()
    (lang / "tokens.model").write_bytes(train_tokenizer(sents, TokenizerConfig(model_type="char")).to_bytes())
    conf = tmp_path / "lm.yaml"
    conf.write_text(LM_CONF)
    return text, lang, conf


def test_killed_lm_run_resumes_exactly(tmp_path, an4_root, asrkit):
    """asrkit-train-lm resumes as asrkit-train does: killed after its first checkpoint and started
    again, it ends with exactly the weights of a run never killed (dropout on, shuffled batches)."""
    text, lang, conf = _lm_setup(tmp_path, an4_root)
    args = ["train-lm", "--config", conf, "--lang-dir", lang, "--seed", "3"]
    asrkit(*args, text, tmp_path / "ref")

    exp = tmp_path / "killed"
    sigkill_after_first_checkpoint([*args, text, exp], exp)
    assert not (exp / "lm.pt").exists()

    err = asrkit(*args, text, exp).stderr.decode()
    assert "resumed from" in err and "Done: LM trained 4 epochs" in err
    a = torch.load(tmp_path / "ref" / "lm.pt", weights_only=True)
    b = torch.load(exp / "lm.pt", weights_only=True)
    assert a["extra"]["epochs"] == b["extra"]["epochs"]
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    last_a = torch.load(tmp_path / "ref" / "checkpoints" / "epoch4.pt", weights_only=True)
    last_b = torch.load(exp / "checkpoints" / "epoch4.pt", weights_only=True)
    for k in last_a["model"]:
        assert torch.equal(last_a["model"][k], last_b["model"][k]), k
    assert [r["train_loss"] for r in last_a["train_state"]["history"]] == \
        [r["train_loss"] for r in last_b["train_state"]["history"]]


def test_text_with_a_byte_order_mark_is_named(tmp_path):
    """A BOM would be read as part of the first sentence's first word (or utterance id)."""
    import pytest

    from asrkit.cli.train_lm import read_sentences
    from asrkit.utils.errors import AsrkitError

    text = tmp_path / "text"
    text.write_bytes(b"\xef\xbb\xbfHELLO WORLD\nYES NO\n")
    for fmt in ("plain", "kaldi", "auto"):
        with pytest.raises(AsrkitError, match=r"text:1: starts with a UTF-8 byte-order mark \(BOM\)"):
            read_sentences(str(text), fmt)
    text.write_bytes(b"HELLO WORLD\nYES NO\n")
    assert read_sentences(str(text), "plain") == ["HELLO WORLD", "YES NO"]


def test_a_kaldi_text_may_repeat_an_id(tmp_path):
    """--text-format kaldi trains on every line of texts concatenated (cat a/text b/text), as
    Kaldi's LM preparation does (cut -f2-): the advice auto's warning below gives for them."""
    from asrkit.cli.train_lm import read_sentences

    text = tmp_path / "text"
    text.write_text("u1 HELLO WORLD\nu2 YES NO\nu1 GOOD BYE\n")
    assert read_sentences(str(text), "kaldi") == ["HELLO WORLD", "YES NO", "GOOD BYE"]


def test_a_kaldi_text_with_a_repeated_id_read_as_plain_is_warned_about(tmp_path, caplog):
    """--text-format auto reads a text whose first fields repeat as plain: a Kaldi text with one id
    twice (two texts concatenated) had every utterance id trained on as a word, with only an info
    line saying 'plain' (hostile-input sweep 6). Real sentences' first words are never 95 %
    distinct, so such a text is warned about; a plain text of sentences is not."""
    import logging

    from asrkit.cli.train_lm import read_sentences

    text = tmp_path / "text"
    text.write_text("".join(f"spk-{i:03d} HELLO WORLD\n" for i in range(30)) + "spk-005 HELLO AGAIN\n")
    with caplog.at_level(logging.WARNING):
        assert read_sentences(str(text), "auto")[0] == "spk-000 HELLO WORLD"
    assert (f"{text}: read as a plain text, but its first fields are 30 of 31 distinct, as a Kaldi text's utterance "
            f"ids are: line 31 repeats line 6's 'spk-005'. If it is a Kaldi text, its ids are being trained on as "
            f"words: give --text-format kaldi") in caplog.text
    caplog.clear()
    text.write_text("".join(f"{w} SAID HELLO\n" for w in ["I", "YOU", "WE", "THEY", "HE"] * 6))
    with caplog.at_level(logging.WARNING):
        read_sentences(str(text), "auto")
        read_sentences(str(tmp_path / "text"), "plain")
    assert "WARNING" not in caplog.text


def test_a_kaldi_text_with_an_empty_line_read_as_plain_is_warned_about(tmp_path, caplog):
    """One empty line (a blank line at the end of a Kaldi text) made --text-format auto read it as
    plain, every id then trained on as a word with only an info line saying so: the repeated-id
    warning looked only at texts without empty lines. A plain text with one is not warned about."""
    import logging

    from asrkit.cli.train_lm import read_sentences

    text = tmp_path / "text"
    text.write_text("".join(f"spk-{i:03d} HELLO WORLD\n" for i in range(30)) + "\n")
    with caplog.at_level(logging.WARNING):
        assert read_sentences(str(text), "auto")[0] == "spk-000 HELLO WORLD"
    assert (f"{text}: read as a plain text for its 1 empty line(s) (first: line 31), but the first fields of its other "
            f"30 lines are all distinct, as a Kaldi text's utterance ids are. If it is a Kaldi text, its ids are being "
            f"trained on as words: remove the empty lines (--text-format kaldi names them; --text-format plain for no "
            f"warning)") in caplog.text
    caplog.clear()
    # with an id repeated as well, the repeat is named at its own line, empty lines counted
    text.write_text("\n" + "".join(f"spk-{i:03d} HELLO WORLD\n" for i in range(30)) + "spk-005 HELLO AGAIN\n")
    with caplog.at_level(logging.WARNING):
        read_sentences(str(text), "auto")
    assert "its first fields are 30 of 31 distinct, as a Kaldi text's utterance ids are: line 32 repeats line 7's" \
        in caplog.text
    caplog.clear()
    text.write_text("".join(f"{w} SAID HELLO\n" for w in ["I", "YOU", "WE", "THEY", "HE"] * 6) + "\n")
    with caplog.at_level(logging.WARNING):
        read_sentences(str(text), "auto")
    assert "WARNING" not in caplog.text


def test_a_kaldi_text_from_a_pipe_is_read_once(tmp_path):
    """A Kaldi text was read twice (once to guess the format, once as a table): from a pipe
    (asrkit-train-lm ... /dev/stdin or <(...)) the second read found nothing and the run failed as
    "no non-empty sentences to train on"."""
    import os

    from asrkit.cli.train_lm import read_sentences

    data = b"u1 HELLO WORLD\nu2\nu3 YES NO\n"
    for fmt in ("auto", "kaldi"):
        r, w = os.pipe()
        os.write(w, data)
        os.close(w)
        try:
            assert read_sentences(f"/dev/fd/{r}", fmt) == ["HELLO WORLD", "", "YES NO"]
        finally:
            os.close(r)


def test_lm_sizes_are_checked_when_the_config_loads():
    import pytest

    from asrkit.models.config import LMConfig
    from asrkit.utils.errors import AsrkitError

    with pytest.raises(AsrkitError, match=r"embed, hidden and layers must be >= 1 and dropout in \[0, 1\), got 256, 512, 0"):
        LMConfig.from_dict({"layers": 0})
    assert LMConfig.from_dict({"layers": 1}).layers == 1
    # past int64, torch's "Overflow when unpacking long long" once the text was read, naming no key
    with pytest.raises(AsrkitError, match=r"^lm model config: hidden must be at most 1000000, got 10{26}$"):
        LMConfig.from_dict({"hidden": 10 ** 26})


def test_a_failed_run_says_why_in_its_log(tmp_path):
    from asrkit.cli.train_lm import main

    (tmp_path / "text").write_text("u1 HELLO\n")
    result = CliRunner().invoke(main, ["--lang-dir", str(tmp_path / "nolang"), str(tmp_path / "text"),
                                       str(tmp_path / "exp")])
    assert result.exit_code == 1
    log = (tmp_path / "exp/log/train_lm.log").read_text()
    assert f"ERROR [asrkit-train-lm] {tmp_path}/nolang/tokens.model: no such file" in log, log


def test_a_line_longer_than_max_len_is_cut_into_pieces(tmp_path, an4_root):
    """One enormous line (a book on one line) was one LSTM sequence of one batch: 100k words held
    the 23 GB machine until it thrashed. It is cut into pieces of max_len tokens, named in a
    warning; nothing of it is dropped."""
    text, lang, conf = _lm_setup(tmp_path, an4_root)
    conf.write_text(LM_CONF.replace("max_epochs: 4", "max_epochs: 1"))
    lines = text.read_text().splitlines()
    long_line = "utt9999 " + " ".join(["TWO THREE"] * 200)  # 1999 characters: 1999 char tokens
    text.write_text("\n".join(lines[:30] + [long_line]) + "\n")
    code, err = _run_inproc("train-lm", "--config", conf, "--lang-dir", lang, "--max-len", "150",
                            "--text-format", "kaldi", text, tmp_path / "lm")
    assert code == 0, err
    log = (tmp_path / "lm/log/train_lm.log").read_text()
    assert f"{text}: 1 line(s) longer than max_len 150 tokens cut into pieces of at most 150 (first: line 31)" in log
    assert f"{text}: 44 sentences (0 empty skipped)" in log  # 30 + ceil(1999 / 150) = 30 + 14
    code, err = _run_inproc("train-lm", "--config", conf, "--lang-dir", lang, "--max-len", "0", text,
                            tmp_path / "lm0")
    assert code == 1 and "max_len must be positive" in err


def test_an_empty_dev_text_and_a_bad_number_are_named(tmp_path):
    """--valid-text naming an empty file (or bare ids) trained with exit 0, the best epoch chosen by
    train perplexity; --max-epochs 0 was "lr, batch_size, max_epochs and max_len must be positive"."""
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    (tmp_path / "text").write_text("u1 HELLO\nu2 WORLD\n")
    (tmp_path / "empty").write_text("")
    (tmp_path / "ids").write_text("u1\nu2\n")
    (tmp_path / "lang").mkdir()
    tok = train_tokenizer(["HELLO", "WORLD"], TokenizerConfig(model_type="char"))
    (tmp_path / "lang" / "tokens.model").write_bytes(tok.to_bytes())
    for dev in ("empty", "ids"):
        code, err = _run_inproc("train-lm", "--lang-dir", tmp_path / "lang", "--valid-text", tmp_path / dev,
                                tmp_path / "text", tmp_path / f"lm_{dev}")
        assert code == 1 and "no non-empty sentences to measure the dev perplexity on (--valid-text" in err, err
        assert not (tmp_path / f"lm_{dev}" / "lm.pt").exists()
    code, err = _run_inproc("train-lm", "--lang-dir", tmp_path / "nolang", "--max-epochs", "0", "--batch-size", "-2",
                            tmp_path / "text", tmp_path / "lm0")
    assert code == 1 and "command line: batch_size and max_epochs must be positive, got -2, 0" in err, err


def test_a_second_lm_training_into_a_busy_exp_dir_fails_at_once(tmp_path):
    # as for asrkit-train: two runs into one exp dir wrote the same checkpoints over each other
    import os

    from asrkit.cli.train_lm import main
    from asrkit.training.exp_lock import exp_dir_lock

    (tmp_path / "text").write_text("u1 HELLO\n")
    with exp_dir_lock(tmp_path / "exp", "asrkit-train-lm"):
        result = CliRunner().invoke(main, ["--lang-dir", str(tmp_path / "nolang"), str(tmp_path / "text"),
                                           str(tmp_path / "exp")])
    assert result.exit_code == 1
    assert (f"{tmp_path}/exp: another asrkit-train-lm (pid {os.getpid()} on " in result.stderr
            and "is training into this exp dir" in result.stderr), result.stderr
    assert not (tmp_path / "exp/log").exists()


@pytest.mark.parametrize("name", ["lm.yaml", "lm.pt", "log/train_lm.log", "log/curves.csv"])
def test_a_named_pipe_among_the_runs_own_files_is_named_not_waited_on(tmp_path, an4_root, asrkit, name):
    """As for asrkit-train (hostile-input sweep 7): the run writes its own files in place when they
    are not regular files, and opening a pipe waits for a reader; each of these hung the run."""
    text, lang, conf = _lm_setup(tmp_path, an4_root)
    exp = tmp_path / "exp"
    assert_named_pipe_refused(asrkit, ["train-lm", "--config", conf, "--lang-dir", lang, "--max-epochs", "1", text, exp],
                              exp, name, "train-lm", timeout=300)  # (a hang bound: the refusal takes seconds)


def test_a_directory_at_lm_pt_is_named_before_training(tmp_path, an4_root, asrkit):
    """It failed only when the finished training wrote its model, after every epoch."""
    text, lang, conf = _lm_setup(tmp_path, an4_root)
    exp = tmp_path / "exp"
    (exp / "lm.pt").mkdir(parents=True)
    proc = asrkit("train-lm", "--config", conf, "--lang-dir", lang, "--max-epochs", "1", text, exp, check=False)
    assert proc.returncode == 1 and (f"ERROR (asrkit-train-lm): {exp / 'lm.pt'}: a directory where the run writes "
                                     f"its lm.pt; move it away").encode() in proc.stderr, proc.stderr
    assert not (exp / "checkpoints").exists()


def test_a_text_with_no_line_break_is_refused_at_once():
    """/dev/zero as the LM text was read whole (a MemoryError traceback): refused at its first MiB."""
    import pytest

    from asrkit.cli.train_lm import read_sentences
    from asrkit.utils.errors import AsrkitError

    with pytest.raises(AsrkitError, match=r"^/dev/zero:1: a NUL byte in a line over 1 MiB long with no line break"):
        read_sentences("/dev/zero", "auto")


def test_a_text_the_tokenizer_knows_nothing_of_is_refused(tmp_path):
    """Lower-case text with an upper-case tokenizer: every word <unk>, one warning, exit 0 and an
    lm.pt that learnt nothing. asrkit-align's rule: when no sentence has a token the tokenizer
    knows, an error naming the likely cause; a text with some known sentences still trains."""
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    (tmp_path / "lang").mkdir()
    tok = train_tokenizer(["HELLO WORLD", "YES NO"], TokenizerConfig(model_type="char"))
    (tmp_path / "lang" / "tokens.model").write_bytes(tok.to_bytes())
    (tmp_path / "text").write_text("u1 hello world\nu2 yes no\nu3 no\n")
    code, err = _run_inproc("train-lm", "--lang-dir", tmp_path / "lang", "--max-epochs", "1", "--device", "cpu",
                            tmp_path / "text", tmp_path / "lm")
    assert code == 1 and (f"{tmp_path}/text: the tokenizer {tmp_path}/lang/tokens.model knows no token of any of "
                          f"the 3 sentences (every word became <unk>), so the LM would learn nothing: the text is "
                          f"lower case and the tokens upper case; upper-case the text and train again") in err, err
    assert not (tmp_path / "lm" / "lm.pt").exists()
    (tmp_path / "text").write_text("u1 привет\nu2 мир\n")
    code, err = _run_inproc("train-lm", "--lang-dir", tmp_path / "lang", "--max-epochs", "1", "--device", "cpu",
                            tmp_path / "text", tmp_path / "lm2")
    assert code == 1 and "the text and the tokenizer share no characters" in err, err
    (tmp_path / "text").write_text("u1 hello world\nu2 YES NO\nu3 NO\nu4 YES\n")
    code, err = _run_inproc("train-lm", "--lang-dir", tmp_path / "lang", "--max-epochs", "1", "--device", "cpu",
                            "--valid-text", tmp_path / "text", tmp_path / "text", tmp_path / "lm3")
    assert code == 0, err
    assert (tmp_path / "lm3" / "lm.pt").exists()


def test_a_resume_on_another_dev_set_is_refused(tmp_path, an4_root):
    """Resumed without its --valid-text (hostile-input sweep 7), a run held out dev_ratio of the
    text instead and ranked those perplexities against the dev text's: lm.pt was epoch 2 of 4 with
    exit 0. Refused now, as asrkit-train refuses a resume that drops its --valid-dir."""
    text, lang, conf = _lm_setup(tmp_path, an4_root)
    lines = text.read_text().splitlines()
    text.write_text("".join(line + "\n" for line in lines[:300]))
    dev = tmp_path / "dev"
    dev.write_text("".join(line + "\n" for line in lines[300:]))
    exp = tmp_path / "lm"
    args = ["train-lm", "--config", conf, "--lang-dir", lang]
    code, err = _run_inproc(*args, "--max-epochs", "2", "--valid-text", dev, text, exp)
    assert code == 0, err
    code, err = _run_inproc(*args, text, exp)
    assert code == 1 and f"ERROR (asrkit-train-lm): {exp}: its epochs up to 2 were validated on another dev set (100 " \
        "sentences, sha1 " in err and "so lm.pt could be the wrong epoch" in err, err
    assert not (exp / "checkpoints" / "epoch3.pt").exists()
    conf.write_text(LM_CONF.replace("dev_ratio: 0.1", "dev_ratio: 0"))  # no dev set at all
    code, err = _run_inproc(*args, text, exp)
    assert code == 1 and f"{exp}: its epochs up to 2 were validated on a dev set (valid_ppl), this run has no dev " \
        "sentences" in err, err
    code, err = _run_inproc(*args, "--valid-text", dev, text, exp)  # the same dev text: trains on
    assert code == 0 and "best dev perplexity" in err and (exp / "checkpoints" / "epoch4.pt").exists(), err


def test_validating_on_the_training_text_is_warned_about(tmp_path):
    """--valid-text naming the training text (or a link to it) trained with exit 0 and not a word: the
    best epoch was chosen by the perplexity of sentences the LM trains on. A warning, as asrkit-train's
    for a dev set of training utterances; a held-out text, even of the same lines, is not warned about."""
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    (tmp_path / "lang").mkdir()
    tok = train_tokenizer(["YES NO"], TokenizerConfig(model_type="char"))
    (tmp_path / "lang" / "tokens.model").write_bytes(tok.to_bytes())
    text = tmp_path / "text"
    text.write_text("u1 YES NO\nu2 NO\nu3 YES\n")
    (tmp_path / "link").symlink_to(text)
    (tmp_path / "copy").write_text(text.read_text())
    args = ["train-lm", "--lang-dir", tmp_path / "lang", "--max-epochs", "1", "--device", "cpu"]
    for n, dev in enumerate((text, tmp_path / "link")):
        code, err = _run_inproc(*args, "--valid-text", dev, text, tmp_path / f"lm{n}")
        assert code == 0, err
        assert (f"WARNING [train_lm] {dev}: --valid-text is the training text {text}: the dev perplexity, and the "
                f"best epoch chosen by it, measure sentences the LM trains on and nothing about how it does on new "
                f"text; give a held-out text, or leave --valid-text out to hold out dev_ratio (0.05) of the training "
                f"text") in err, err
    code, err = _run_inproc(*args, "--valid-text", tmp_path / "copy", text, tmp_path / "lm2")
    assert code == 0 and "--valid-text is the training text" not in err, err


def _tiny_lang(tmp_path):
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    (tmp_path / "lang").mkdir()
    tok = train_tokenizer(["HELLO WORLD", "YES NO"], TokenizerConfig(model_type="char"))
    (tmp_path / "lang" / "tokens.model").write_bytes(tok.to_bytes())
    (tmp_path / "text").write_text("u1 HELLO WORLD\nu2 YES NO\nu3 NO\nu4 YES\n")
    return tmp_path / "lang", tmp_path / "text"


@pytest.mark.parametrize("lines, kind", [
    (["u1 1 0.00 0.30 YES 0.98", "u2 1 0.00 0.41 NO 0.87"], "a CTM ('<utt> <channel> <start>"),
    (["u1 1 0.00 0.30 YES 0.98", "u1 1 0.30 0.30 NO 0.90", "u2 1 0.00 0.30 YES 0.91"], "a CTM ('<utt> <channel>"),
    (["u1 /data/waves/u1.wav", "u2 sox /data/waves/u2.flac -t wav - |"], "a wav.scp (every line"),
], ids=["ctm-one-word", "ctm-three-words", "wav.scp"])
def test_a_ctm_or_a_wav_scp_is_not_trained_on(tmp_path, lines, kind):
    """A CTM given for the text was trained on, its times as words (a warning of unknown
    characters, none with a tokenizer that has digits); a wav.scp was refused as 'the text is lower
    case and the tokens upper case'. As the text or the dev text, each is named for what it is."""
    lang, text = _tiny_lang(tmp_path)
    other = tmp_path / "other"
    other.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    for args in ([other], ["--valid-text", other, text]):
        code, err = _run_inproc("train-lm", "--lang-dir", lang, "--max-epochs", "1", "--device", "cpu", *args,
                                tmp_path / "lm")
        assert code == 1 and f"ERROR (asrkit-train-lm): {other}: {kind}" in err, err
        assert not (tmp_path / "lm" / "lm.pt").exists()



def test_a_text_is_refused_as_a_ctm_only_when_every_line_is_one(tmp_path):
    """The CTM rule looked at the last line of each first word only: a plain text whose first
    words repeat ('A ...' twice) was refused as a CTM when the last line of each was CTM-shaped,
    the sentence before them never looked at."""
    from asrkit.cli.train_lm import read_sentences

    text = tmp_path / "text"
    lines = ["A DAY AT THE SEA", "A 1 0.00 0.30 X 0.98", "B 1 0.10 0.20 Y 0.87"]
    text.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    assert read_sentences(str(text), "plain") == lines

def test_a_resume_with_another_model_config_names_the_lm_yaml(tmp_path):
    """An LM exp dir's resolved config is lm.yaml: the resume's refusal sent the user to a
    config.yaml that no LM run writes."""
    from asrkit.cli.train_lm import main

    lang, text = _tiny_lang(tmp_path)
    exp = tmp_path / "lm"
    for hidden, code in ((8, 0), (16, 1)):
        (tmp_path / "lm.yaml").write_text(f"model: {{embed: 8, hidden: {hidden}, layers: 1}}\nmax_epochs: {1 + code}\n")
        result = CliRunner().invoke(main, [
            "--config", str(tmp_path / "lm.yaml"), "--lang-dir", str(lang), "--device", "cpu", str(text), str(exp)])
        assert result.exit_code == code, result.stderr
    assert (f"epoch1.pt: was trained with another model config than the one given now (see {exp}/lm.yaml); use a "
            f"new exp dir, or that config to continue") in result.stderr, result.stderr
    assert "hidden: 8" in (exp / "lm.yaml").read_text()


def test_dash_as_the_dev_text_is_stdin(tmp_path, asrkit):
    """--valid-text - was "-: no such file" (only <text-file>'s '-' was stdin); both '-' would
    read stdin twice, the second time empty."""
    lang, text = _tiny_lang(tmp_path)
    args = ["train-lm", "--lang-dir", lang, "--max-epochs", "1", "--device", "cpu", "--valid-text", "-"]
    asrkit(*args, text, tmp_path / "lm", input=b"u9 YES NO\nu8 HELLO\n")
    assert "/dev/stdin: 2 sentences (0 empty skipped)" in (tmp_path / "lm/log/train_lm.log").read_text()
    proc = asrkit(*args, "-", tmp_path / "lm2", input=text.read_bytes(), check=False)
    assert proc.returncode == 1 and ("ERROR (asrkit-train-lm): <text-file> and --valid-text are both stdin: a stream "
                                     "can be read only once; give a file for one of them") in proc.stderr.decode()
    assert not (tmp_path / "lm2" / "lm.pt").exists()


@pytest.mark.parametrize("name", ["model.pt", "log/train_runs.tsv"])
def test_an_acoustic_models_exp_dir_is_refused(tmp_path, name):
    """asrkit-train-lm given asrkit-train's exp dir (exp/las for exp/lm) wrote its log/curves.csv
    over the acoustic model's, with exit 0, once that run's checkpoints had been pruned."""
    from asrkit.cli.train_lm import main

    lang, text = _tiny_lang(tmp_path)
    exp = tmp_path / "las"
    (exp / "log").mkdir(parents=True)
    (exp / name).write_text("the acoustic model's\n")
    (exp / "log" / "curves.csv").write_text("epoch,step,lr,train_loss\n1,4,0.005,111.8\n")
    result = CliRunner().invoke(main, ["--lang-dir", str(lang), "--max-epochs", "1", "--device", "cpu", str(text),
                                       str(exp)])
    assert result.exit_code == 1 and (f"ERROR (asrkit-train-lm): {exp}: the exp dir of an asrkit-train run (it holds "
                                      f"its {name}): this run would write its log/curves.csv over that run's; give it "
                                      f"an exp dir of its own") in result.stderr, result.stderr
    assert (exp / "log" / "curves.csv").read_text() == "epoch,step,lr,train_loss\n1,4,0.005,111.8\n"
    assert sorted(str(p.relative_to(exp)) for p in exp.rglob("*") if p.name != ".lock") == sorted(
        ["log", "log/curves.csv", name])
    # a launcher's log of the LM run itself ($cmd exp/lm/log/train.log asrkit-train-lm ...) is no such file
    (exp / name).unlink()
    (exp / "log" / "train.log").write_text("# asrkit-train-lm ...\n")
    result = CliRunner().invoke(main, ["--lang-dir", str(lang), "--max-epochs", "1", "--device", "cpu", str(text),
                                       str(exp)])
    assert result.exit_code == 0 and (exp / "lm.pt").exists(), result.stderr


def test_a_bad_device_in_the_config_fails_when_it_loads(tmp_path):
    """device: gpu (or CPU, or cuda:x) in conf/lm.yaml was refused only inside the training, once
    the whole text had been read and tokenized and the exp dir's log begun."""
    from asrkit.training.config import LMTrainConfig
    from asrkit.utils.errors import AsrkitError

    for device in ("gpu", "CPU", "", "cuda:x", "cpu:0"):
        with pytest.raises(AsrkitError, match=rf"^lm config: device must be auto, cpu, cuda or cuda:N, got '{device}'$"):
            LMTrainConfig.from_dict({"device": device})
    assert LMTrainConfig.from_dict({"device": "cuda:1"}).device == "cuda:1"
    conf = tmp_path / "lm.yaml"
    conf.write_text("device: gpu\n")
    code, err = _run_inproc("train-lm", "--config", conf, "--lang-dir", tmp_path / "no_such_lang",
                            tmp_path / "no_such_text", tmp_path / "lm")
    assert code == 1 and f"ERROR (asrkit-train-lm): {conf}:1: device must be auto, cpu, cuda or cuda:N, got 'gpu'" in err
    assert not (tmp_path / "lm").exists()


def test_the_perplexity_of_a_diverged_lm_is_infinite_not_a_traceback():
    """Over ~709 nats a token (a run with too high an lr) math.exp overflowed: an OverflowError
    traceback ended asrkit-train-lm at its first validation."""
    import math

    import torch

    from asrkit.models.lm import LMConfig, LSTMLM
    from asrkit.training.train_lm import perplexity

    lm = LSTMLM(6, LMConfig(embed=4, hidden=4, layers=1, dropout=0.0))
    with torch.no_grad():
        lm.output.weight.zero_()
        lm.output.bias.fill_(0.0)
        lm.output.bias[2] = 1e4  # every other token 10,000 nats below it
    assert perplexity(lm, [[3, 4, 3]], 4, torch.device("cpu")) == math.inf
    with torch.no_grad():
        lm.output.bias.zero_()  # uniform over the 6 tokens
    assert perplexity(lm, [[3, 4, 3]], 4, torch.device("cpu")) == pytest.approx(6.0)


def test_a_launchers_log_that_is_the_runs_own_log_has_each_line_once(tmp_path, asrkit):
    """asr.sh's stage 3 runs 'asrkit-launch exp/lm/log/train_lm.log asrkit-train-lm ... exp/lm': the
    job's stderr is the LM run's own log. train-lm opened it as a log file too: every line came
    twice, and the launcher, writing at its own offset, wrote over the lines the log file appended
    (the log ended in fragments such as ')'). A failed run's ERROR came twice as well."""
    import sys

    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    sents = ["YES NO YES", "NO NO YES", "YES YES", "NO YES NO NO", "YES NO", "NO"] * 2
    text = tmp_path / "text"
    text.write_text("".join(f"u{i:02d} {s}\n" for i, s in enumerate(sents)))
    dev = tmp_path / "dev"
    dev.write_text("d1 YES NO NO\nd2 NO YES\n")
    lang = tmp_path / "lang"
    lang.mkdir()
    (lang / "tokens.model").write_bytes(train_tokenizer(sents, TokenizerConfig(model_type="char")).to_bytes())
    lm = tmp_path / "lm"
    log = lm / "log" / "train_lm.log"
    train_lm = [sys.executable, "-m", "asrkit", "train-lm", "--max-epochs", "2", "--valid-text", dev]
    asrkit("launch", log, *train_lm, "--lang-dir", lang, text, lm)
    lines = log.read_text().splitlines()
    assert lines[-1].startswith("# Ended (code 0)"), lines
    body = [ln for ln in lines if not ln.startswith("#")]
    assert len(body) == len(set(body)), "\n".join(body)  # (each line once: a timestamp and its words)
    assert all(ln.startswith(("20", "asrkit-train-lm ", "Done: ")) for ln in body), "\n".join(body)
    assert sum("Done: LM trained 2 epochs" in ln for ln in body) == 1, "\n".join(body)

    proc = asrkit("launch", tmp_path / "bad" / "log" / "train_lm.log", *train_lm, "--lang-dir", tmp_path / "nolang",
                  text, tmp_path / "bad", check=False)
    assert proc.returncode != 0
    bad = (tmp_path / "bad" / "log" / "train_lm.log").read_text()
    assert bad.count(f"{tmp_path}/nolang/tokens.model: no such file") == 1, bad
