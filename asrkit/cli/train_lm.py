"""asrkit-train-lm: a token LSTM language model for shallow fusion in asrkit-decode."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from asrkit.cli._common import (OutputDir, asrkit_command, dash_as_stdio, refuse_empty_name,
                                require_unless_print_config)
from asrkit.data.table import iter_table_lines, read_bounded, refuse_bom
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import names_stdin, refuse_one_stream_twice, same_regular_file
from asrkit.utils.logging import get_logger, setup_logging

log = get_logger("train_lm")

# The files of the LM exp dir that the run itself writes (checkpoints/ aside, whose pipes the resume
# names): written in place when not regular files, so a named pipe among them is refused up front.
LM_RUN_FILES = ("lm.yaml", "lm.pt", "log/train_lm.log", "log/curves.csv")


def read_sentences(path: str, fmt: str) -> list:
    """Transcripts of a Kaldi text ('<utt-id> <words>') or a plain text (one sentence a line).

    ``auto`` takes a file for a Kaldi text when every line has a first field and those are all
    distinct (utterance ids), which sentences of real text almost never are; the choice is logged.
    """
    try:
        data = read_bounded(path)  # (a line with no end, /dev/zero: refused at its first MiB)
        raw_lines = data.splitlines()
    except FileNotFoundError:
        raise AsrkitError(f"{path}: no such file") from None
    except OSError as e:
        raise AsrkitError(f"{path}: cannot read: {e.strerror}") from None
    if raw_lines:
        refuse_bom(raw_lines[0], str(path))
    lines = []
    for lineno, raw in enumerate(raw_lines, 1):
        try:
            lines.append(raw.decode("utf-8").strip())
        except UnicodeDecodeError as e:
            raise AsrkitError(f"{path}:{lineno}: not UTF-8 text ({e.reason} at byte {e.start} of the line)") from None
    # A CTM's times were trained on (a warning of unknown characters, or none for a tokenizer with
    # digits), and a wav.scp was refused as "the text is lower case". Every line: as a dict, a
    # plain text's repeated first words kept only the last line of each.
    from asrkit.data.not_a_text import refuse_other_file

    fields = [line.split(maxsplit=1) for line in lines if line]
    refuse_other_file(path, [(f[0], f[1] if len(f) > 1 else "") for f in fields],
                      "not a text: an LM is trained on a Kaldi text ('<utt-id> <transcript>' lines) or a plain text "
                      "of sentences")
    if fmt == "auto":
        firsts = [line.split(maxsplit=1)[0] for line in lines if line]
        fmt = "kaldi" if len(firsts) == len(lines) and len(set(firsts)) == len(firsts) and len(lines) > 1 else "plain"
        log.info("%s: read as a %s text (--text-format auto; give kaldi or plain to choose)", path, fmt)
        if fmt == "plain":
            _warn_near_kaldi(path, lines)
    if fmt == "kaldi":
        # From the bytes read above: reading the path again gave nothing from a pipe (/dev/stdin,
        # <(...)), and the run failed as "no non-empty sentences to train on".
        table_lines = data.split(b"\n")
        if table_lines and table_lines[-1] == b"":
            table_lines.pop()
        return [line.value for line in iter_table_lines(table_lines, str(path), allow_empty_value=True)]
    return lines


def _warn_near_kaldi(path: str, lines: list) -> None:
    """Warn when a text read as plain looks like a Kaldi text: its first fields are nearly all
    distinct, which the first words of real sentences never are, and its ids would be trained on
    as words. Two causes make auto read one as plain: an id repeated (two texts concatenated,
    ``cat a/text b/text``) and an empty line (a blank line at its end), which no table has."""
    numbered = [(lineno, line.split(maxsplit=1)[0]) for lineno, line in enumerate(lines, 1) if line]
    distinct = len({first for _, first in numbered})
    if len(numbered) < 20 or distinct < 0.95 * len(numbered):
        return
    if distinct == len(numbered):
        # only empty lines kept it from being a Kaldi text: an info line said "plain", and every id was trained on
        empty = [lineno for lineno, line in enumerate(lines, 1) if not line]
        log.warning("%s: read as a plain text for its %d empty line(s) (first: line %d), but the first fields of its "
                    "other %d lines are all distinct, as a Kaldi text's utterance ids are. If it is a Kaldi text, "
                    "its ids are being trained on as words: remove the empty lines (--text-format kaldi names them; "
                    "--text-format plain for no warning)", path, len(empty), empty[0], len(numbered))
        return
    seen: dict = {}
    for lineno, first in numbered:
        if first in seen:
            log.warning("%s: read as a plain text, but its first fields are %d of %d distinct, as a Kaldi text's "
                        "utterance ids are: line %d repeats line %d's %r. If it is a Kaldi text, its ids are being "
                        "trained on as words: give --text-format kaldi (--text-format plain for no warning)",
                        path, distinct, len(numbered), lineno, seen[first], first)
            return
        seen[first] = lineno


def _refuse_nothing_known(tok, tok_path: Path, path: str, lines: list, encoded: list) -> None:
    """AsrkitError when the tokenizer knows no token of any sentence (every word became <unk>):
    asrkit-align's rule for a text an ASR model knows nothing of. An LM trained on it learnt
    only to predict <unk>, with one warning and exit 0 (lower-case text, an upper-case tokenizer)."""
    from asrkit.text.tokenizer import knows_some_token, nothing_known_error

    if not encoded or any(knows_some_token(tok, tok.tokens, lines[i - 1], ids) for i, ids in encoded):
        return
    head = (f"{path}: the tokenizer {tok_path} knows no token of any of the {len(encoded)} sentences (every word "
            f"became <unk>), so the LM would learn nothing")
    raise nothing_known_error(head, tok, tok.tokens, [lines[i - 1] for i, _ in encoded[:100]])


@asrkit_command("train-lm")
@click.option("--config", "config_path", callback=refuse_empty_name, type=click.Path(dir_okay=False), default=None,
              help="YAML training config (conf/lm.yaml; '-': stdin, e.g. from a pipe); options below override it.")
@click.option("--lang-dir", callback=refuse_empty_name, type=click.Path(file_okay=False),
              help="Holds tokens.model (asrkit-train-tokenizer): the ASR model's tokenizer. Required unless "
                   "--print-config.")
@click.option("--text-format", type=click.Choice(["auto", "kaldi", "plain"]), default="auto", show_default=True,
              help="kaldi: '<utt-id> <words>' lines (an id may repeat: Kaldi texts concatenated are "
                   "all trained on); plain: one sentence per line; auto: kaldi when the first fields are "
                   "all distinct.")
@click.option("--valid-text", callback=refuse_empty_name, type=click.Path(dir_okay=False), default=None,
              help="Dev text (same format); default: hold out dev_ratio of <text-file>.")
@click.option("--max-epochs", type=int, default=None, help="Epochs at most (early stopping may end sooner) [config: 20].")
@click.option("--batch-size", type=int, default=None, help="Sentences per batch [config: 64].")
@click.option("--lr", type=float, default=None, help="Adam learning rate [config: 0.001].")
@click.option("--seed", type=int, default=None, help="Seed of the weights, the batch order and the dev sentences held out [config: 1].")
@click.option("--max-len", type=int, default=None,
              help="Tokens per training sentence, at most; longer lines are cut into pieces [config: 400].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
              help="auto: a GPU when there is one [config: auto].")
@click.option("--print-config", is_flag=True,
              help="Print the resolved config (YAML, as lm.yaml records it) on stdout and exit, reading no text.")
@click.argument("text_file", callback=refuse_empty_name,
                metavar="<text-file>", type=click.Path(dir_okay=False), required=False)
@click.argument("exp_dir", callback=refuse_empty_name,
                metavar="<lm-exp-dir>", type=OutputDir(), required=False)
def main(config_path: Optional[str], lang_dir: Optional[str], text_file: Optional[str], exp_dir: Optional[str],
         text_format: str, valid_text: Optional[str], print_config: bool, **overrides) -> None:
    """Train a token LSTM LM on <text-file> with the tokenizer of <lang-dir>.

    Writes <lm-exp-dir>/checkpoints/epoch<N>.pt, log/curves.csv, log/train_lm.log, lm.yaml (the
    resolved config) and at the end lm.pt (the epoch with the best dev perplexity; it records a
    checksum of the token list, so asrkit-decode refuses it with a model of another tokenizer).
    Re-running on a <lm-exp-dir> with checkpoints resumes it, as asrkit-train does.

    \b
    e.g. asrkit-train-lm --config conf/lm.yaml --lang-dir data/lang \\
           data/train/text exp/lm
    """
    from asrkit.training.config import LMTrainConfig

    config_path = dash_as_stdio(config_path, "stdin")  # Kaldi's '-' (was "-: no such file")
    if config_path and names_stdin(config_path):  # before it is read: the text read as the YAML
        from asrkit.data.specifier import refuse_stdin_read_twice

        refuse_stdin_read_twice([("--config -", config_path), ("<text-file>", dash_as_stdio(text_file, "stdin")),
                                 ("--valid-text", dash_as_stdio(valid_text, "stdin"))])
    cfg = LMTrainConfig.load(config_path, {k: v for k, v in overrides.items() if v is not None})
    if print_config:  # ESPnet's habit, as asrkit-train's: a recipe checks its LM options before any stage
        from asrkit.utils.config import dump_yaml

        click.echo(dump_yaml(cfg.to_dict(), sort_keys=False), nl=False)
        return
    require_unless_print_config((lang_dir, "--lang-dir"), (text_file, "<text-file>"), (exp_dir, "<lm-exp-dir>"))
    out = Path(exp_dir)
    text_file = dash_as_stdio(text_file, "stdin")  # Kaldi's '-' (was "-: no such file")
    if valid_text is not None:
        valid_text = dash_as_stdio(valid_text, "stdin")  # (the same, for --valid-text)
    refuse_one_stream_twice({"<text-file>": text_file, "--valid-text": valid_text})
    from asrkit.training.exp_lock import claim_exp_dir

    # Before anything is written into the exp dir: a second run into it fails here (exp_lock.py).
    with claim_exp_dir(out, "asrkit-train-lm", LM_RUN_FILES):
        setup_logging(1 if log.isEnabledFor(10) else 0, str(out / "log" / "train_lm.log"))
        from asrkit.text.tokenizer import Tokenizer, UnknownTally  # sentencepiece: not for --help
        from asrkit.training.train_lm import split_dev, train_lm  # torch: after the config is known to be good
        tok = Tokenizer.load(Path(lang_dir) / "tokens.model")

        def encode(path: str):
            lines = read_sentences(path, text_format)
            unknown = UnknownTally()
            encoded = [(i, unknown.encode(tok, f"{path}:{i}", s)) for i, s in enumerate(lines, 1) if s.strip()]
            # before the warning: one cause, said once (as asrkit-align does)
            _refuse_nothing_known(tok, Path(lang_dir) / "tokens.model", path, lines, encoded)
            unknown.warn(log, path)
            sents, cut = [], []
            for lineno, ids in encoded:
                if len(ids) > cfg.max_len:
                    cut.append(lineno)
                sents.extend(ids[k:k + cfg.max_len] for k in range(0, len(ids), cfg.max_len))
            if cut:
                log.warning("%s: %d line(s) longer than max_len %d tokens cut into pieces of at most %d (first: "
                            "line %d)", path, len(cut), cfg.max_len, cfg.max_len, cut[0])
            log.info("%s: %d sentences (%d empty skipped), %d tokens", path, len(sents), len(lines) - len(encoded),
                     sum(map(len, sents)))
            return sents

        sents = encode(text_file)
        if not sents:
            raise AsrkitError(f"{text_file}: no non-empty sentences to train on")
        if valid_text:
            if same_regular_file(valid_text, text_file):
                # Not an error: a smoke test may do it on purpose (asrkit-train's --valid-dir warns alike).
                log.warning("%s: --valid-text is the training text %s: the dev perplexity, and the best epoch chosen "
                            "by it, measure sentences the LM trains on and nothing about how it does on new text; "
                            "give a held-out text, or leave --valid-text out to hold out dev_ratio (%g) of the "
                            "training text", valid_text, text_file, cfg.dev_ratio)
            train, dev = sents, encode(valid_text)
            if not dev:
                # A dev text given but empty (a stage that failed and left an empty file) trained
                # on with exit 0, the best epoch then chosen by train perplexity with an info line.
                raise AsrkitError(f"{valid_text}: no non-empty sentences to measure the dev perplexity on "
                                  f"(--valid-text; leave it out to hold out dev_ratio of {text_file})")
        else:
            train, dev = split_dev(sents, cfg.dev_ratio, cfg.seed)
        summary = train_lm(train, dev, tok.tokens, cfg, out)
        click.echo(f"Done: LM trained {summary['epochs']} epochs on {len(train)} sentences; best "
                   f"{'dev' if dev else 'train'} perplexity {summary['best_dev_ppl']:.3f} at epoch "
                   f"{summary['best_epoch']} -> {summary['path']}", err=True)
