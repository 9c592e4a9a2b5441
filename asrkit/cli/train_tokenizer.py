"""asrkit-train-tokenizer: a sentencepiece char/bpe/unigram model and tokens.txt from a Kaldi text."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from asrkit.cli._common import OutputDir, asrkit_command, dash_as_stdio, refuse_empty_name
from asrkit.text.train_tokenizer import (MODEL_TYPES, TokenizerConfig, not_nfc, read_kaldi_text, train_sentencepiece,
                                         transcript_problem)
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger

log = get_logger("train_tokenizer")


@asrkit_command("train-tokenizer")
@click.option("--model-type", type=click.Choice(MODEL_TYPES), required=True, help="Sentencepiece model type.")
@click.option("--vocab-size", type=int, default=None,
              help="Sentencepiece vocabulary, <unk> included (model output size = this + 2 for <blank> "
                   "and <sos/eos>). Required for bpe/unigram; for char, default: every character seen.")
@click.option("--character-coverage", type=float, default=1.0, show_default=True)
@click.option("--user-defined-symbols", default="", metavar="A,B",
              help="Comma-separated symbols kept whole (e.g. <noise>), passed to sentencepiece.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.argument("text_file", callback=refuse_empty_name, metavar="<text-file>", type=click.Path(dir_okay=False))
@click.argument("lang_dir", callback=refuse_empty_name, metavar="<lang-dir>", type=OutputDir())
def main(model_type: str, vocab_size: Optional[int], character_coverage: float, user_defined_symbols: str,
         seed: int, text_file: str, lang_dir: str) -> None:
    """Train a tokenizer on the transcripts of <text-file> (Kaldi text: '<utt-id> <transcript>').

    Writes <lang-dir>/tokens.model (sentencepiece), <lang-dir>/tokens.txt ('<token> <id>': 0
    <blank>, 1 <unk>, the pieces, V-1 <sos/eos>) and <lang-dir>/tokenizer.yaml (the options used).
    Deterministic: the same text and options give the same model.

    \b
    e.g. asrkit-train-tokenizer --model-type bpe --vocab-size 30 \\
           data/train/text data/lang
    """
    from asrkit.text.token_list import token_list_text
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.utils.config import dump_yaml
    from asrkit.utils.fileio import AtomicFiles

    config = TokenizerConfig(model_type=model_type, vocab_size=vocab_size, character_coverage=character_coverage,
                             user_defined_symbols=[s for s in user_defined_symbols.split(",") if s], seed=seed)
    config.check()
    text_file = dash_as_stdio(text_file, "stdin")  # Kaldi's '-' (was "-: no such file")
    utts = read_kaldi_text(text_file)
    bad = [(utt, why) for utt, why in ((utt, transcript_problem(t, model_type)) for utt, t in utts) if why]
    if bad:
        raise AsrkitError(f"{text_file}: utterance {bad[0][0]!r} has {bad[0][1]}"
                          + (f" (and {len(bad) - 1} more utterance(s))" if len(bad) > 1 else "")
                          + ": clean the text before training a tokenizer on it")
    sentences = [t for _, t in utts if t.strip()]
    if not sentences:
        raise AsrkitError(f"{text_file}: no non-empty transcript to train a tokenizer on "
                          f"({len(utts)} lines, all with an empty transcript)" if utts else
                          f"{text_file}: no transcript to train a tokenizer on (the file is empty)")
    decomposed = not_nfc(utts)
    if decomposed:
        utt, word = decomposed[0]
        log.warning("%s: %d of %d transcripts are not in Unicode's NFC form (e.g. utterance %r: %s): a letter written "
                    "decomposed (e + U+0301) becomes other tokens than the same letter composed (U+00E9), so one "
                    "word written both ways is two words to the model and to asrkit-score; the text is trained on "
                    "as it is: put it in NFC (unicodedata.normalize('NFC', ...), uconv -x any-nfc) and train again",
                    text_file, len(decomposed), len(utts), utt, ascii(word))
    log.info("training a %s tokenizer on %d transcripts of %s", model_type, len(sentences), text_file)
    model = train_sentencepiece(sentences, config, verbose=bool(log.isEnabledFor(10)), where=str(text_file))
    tok = Tokenizer.from_bytes(model)
    out = Path(lang_dir)
    out.mkdir(parents=True, exist_ok=True)
    with AtomicFiles() as files:
        with files.open(out / "tokens.model", "wb") as f:
            f.write(model)
        # (written to its temporary name as it is: an atomic write of its own made a temporary file
        # of that temporary file, which a killed run left where no later run looks for it)
        with files.open(out / "tokens.txt") as f:
            f.write(token_list_text(tok.tokens))
        with files.open(out / "tokenizer.yaml") as f:
            f.write(dump_yaml({**config.to_dict(), "text": str(text_file), "output_size": tok.vocab_size},
                              sort_keys=False))
    log.info("wrote %s/tokens.model, tokens.txt, tokenizer.yaml", out)
    click.echo(f"Done: {model_type} tokenizer with {tok.vocab_size} tokens (ids 0..{tok.vocab_size - 1}) "
               f"from {len(sentences)} out of {len(utts)} transcripts in {out}", err=True)
