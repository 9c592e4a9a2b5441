"""asrkit-tokenize: text to token ids (or pieces) and back, with a model from asrkit-train-tokenizer."""
from __future__ import annotations

import sys

import click

from asrkit.cli._common import asrkit_command
from asrkit.text.tokenizer import Tokenizer
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import progress


@asrkit_command("tokenize")
@click.option("--decode", is_flag=True, help="Read token ids (or pieces with --pieces) and write text.")
@click.option("--pieces", is_flag=True, help="Write (or, with --decode, read) pieces instead of integer ids.")
@click.option("--utt-id/--no-utt-id", default=True, show_default=True,
              help="Lines start with an utterance id (Kaldi text), which is copied through.")
@click.argument("model", metavar="<tokens.model>", type=click.Path(dir_okay=False))
def main(decode: bool, pieces: bool, utt_id: bool, model: str) -> None:
    """Encode stdin's lines with <tokens.model> to stdout, or decode them with --decode.

    Lines are Kaldi text ('<utt-id> <transcript>') unless --no-utt-id. Ids follow data/lang/tokens.txt
    (0 <blank>, 1 <unk>, ..., V-1 <sos/eos>); decoding skips <blank> and <sos/eos>.

    e.g. asrkit-tokenize data/lang/tokens.model < data/train/text > data/train/token_int
    """
    tok = Tokenizer.load(model)
    stdin = sys.stdin.buffer
    out = sys.stdout
    n = 0
    for lineno, raw in enumerate(progress(stdin, desc="tokenize", unit="lines"), 1):
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            raise AsrkitError(f"<stdin>:{lineno}: not UTF-8 text ({e.reason})") from None
        if utt_id:
            fields = line.split(maxsplit=1)
            if not fields:
                raise AsrkitError(f"<stdin>:{lineno}: empty line (expected '<utt-id> <transcript>'; "
                                  "--no-utt-id for plain lines)")
            key, body = fields[0], (fields[1] if len(fields) > 1 else "")
        else:
            key, body = None, line
        try:
            result = _convert(tok, body, decode, pieces)
        except AsrkitError as e:
            raise AsrkitError(f"<stdin>:{lineno}: {e}") from None
        if key is None:
            out.write(result + "\n")
        else:
            out.write(f"{key} {result}\n" if result else f"{key}\n")
        n += 1
    out.flush()
    click.echo(f"Done {n} lines ({'decoded' if decode else 'encoded'} with {model}, {tok.vocab_size} tokens)", err=True)


def _convert(tok: Tokenizer, body: str, decode: bool, pieces: bool) -> str:
    if not decode:
        return " ".join(map(str, tok.encode_as_pieces(body) if pieces else tok.encode(body)))
    tokens = body.split()
    if pieces:
        return tok.decode_pieces(tokens)
    try:
        ids = [int(t) for t in tokens]
    except ValueError:
        raise AsrkitError(f"expected integer token ids, got {body!r} (--pieces to decode pieces)") from None
    return tok.decode(ids)
