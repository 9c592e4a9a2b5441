"""asrkit-align: forced alignment of known transcripts to audio with a packed model's CTC head."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import click

from asrkit.cli._common import OutputFile, asrkit_command, dash_as_stdio, max_bad_percent_option, refuse_empty_name
from asrkit.decoding.config import WORD_RULES
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger

# torch, numpy and the decoding library are imported inside main(): --help must not pay for them.

log = get_logger("align")


@asrkit_command("align")
@click.option("--model", "model_path", required=True, type=click.Path(dir_okay=False), callback=refuse_empty_name,
              help="Packed model with a CTC head (exp/<name>/model.pt).")
@click.option("--segments", default=None, type=click.Path(dir_okay=False), callback=refuse_empty_name,
              help="Segments file: align these pieces of the recordings in the wav.scp.")
@click.option("--channel", type=int, default=None,
              help="Take this channel (0-based) of multi-channel audio; default: the mean of the channels.")
@click.option("--word-rule", type=click.Choice(WORD_RULES), default=WORD_RULES[0], show_default=True,
              help="Word boundaries: the CTC alignment refined by frame energy, or the CTC alignment "
                   "alone (docs/decoding.md).")
@click.option("--batch-size", type=int, default=16, show_default=True, help="Utterances aligned together.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda[:N] or auto.")
@click.option("--max-samples", type=click.IntRange(min=1), default=1 << 28, show_default=True,
              help="Most samples (all channels) one audio file or recording may hold; longer ones are skipped.")
@max_bad_percent_option
@click.argument("wav_rspecifier", metavar="<wav-rspecifier>", callback=refuse_empty_name)
@click.argument("text", metavar="<text-file>", type=click.Path(dir_okay=False), callback=refuse_empty_name)
@click.argument("ctm_out", metavar="<ctm-out>", type=OutputFile(), callback=refuse_empty_name)
def main(model_path: str, segments: Optional[str], channel: Optional[int], word_rule: str, batch_size: int,
         device: str, max_samples: int, max_bad_percent: float, wav_rspecifier: str, text: str,
         ctm_out: str) -> None:
    """Align each utterance's transcript (<text-file>: '<utt> <words>'; - for stdin) to its audio
    (<wav-rspecifier>: a wav.scp, 'scp:wav.scp' as Kaldi writes it) and write the word times and
    confidences as Kaldi CTM ('<utt> 1 <start> <dur> <word> <conf>', seconds from the start of
    the utterance) to <ctm-out> (- for stdout).

    The alignment is the best CTC path of the transcript's tokens through the model's CTC
    posteriors (Viterbi), as asrkit-decode --ctm times its hypotheses; a word's confidence is
    the mean over its tokens of each token's highest CTC posterior on its frames. Audio at
    another rate than the model's is resampled. An utterance without a transcript, with
    unreadable audio, with more tokens than its audio has frames for, or with no token the model
    knows (every word <unk>: lower-case text for an upper-case model), is skipped, named and
    counted; the run fails (writing nothing) when none aligns or more than 5 % fail.

    \b
    e.g. asrkit-align --model exp/las/model.pt data/test/wav.scp data/test/text \\
           exp/las/align_test/ctm
    """
    from asrkit.decoding.config import DecodeConfig

    text, ctm_out = dash_as_stdio(text, "stdin"), dash_as_stdio(ctm_out)
    if segments is not None:
        from asrkit.utils.fileio import refuse_one_stream_twice

        segments = dash_as_stdio(segments, "stdin")  # Kaldi's '-', as <text-file>'s (was "-: no such file")
        refuse_one_stream_twice({"<text-file>": text, "--segments": segments})
    config = DecodeConfig(batch_size=batch_size, device=device, word_rule=word_rule, segment="never")
    config.validate("options")

    from asrkit.data.table import read_table
    from asrkit.data.not_a_text import looks_like_ctm, looks_like_wav_scp, read_again, refuse_other_file
    from asrkit.decoding.align import align_items, ctm_lines
    from asrkit.decoding.inputs import DecodeInputs
    from asrkit.decoding.recognizer import Recognizer
    from asrkit.utils.fileio import atomic_open

    from asrkit.utils.fileio import stdin_reader

    inputs = DecodeInputs(wav_scp=wav_rspecifier, segments=segments, channel=channel, max_samples=max_samples,
                          stdin_taken=stdin_reader([("<text-file>", text), ("--model", model_path)]))
    from asrkit.decoding.run import check_outputs_spare_inputs

    check_outputs_spare_inputs([(ctm_out, f"<ctm-out> {ctm_out}")],
                               [("<text-file>", Path(text)), ("<wav-rspecifier>", wav_rspecifier),
                                ("--segments", Path(segments) if segments else None), ("--model", Path(model_path))],
                               wav_sources=inputs.wav_sources())
    try:
        transcripts = read_table(text, allow_empty_value=True)
    except AsrkitError as e:
        again = read_again(text) if "duplicate key" in str(e) else []
        if not looks_like_ctm(again):
            raise
        transcripts = again  # a CTM of several words an utterance: named below
    if not transcripts:
        # Before the model and every recording are read: an empty text (a failed data prep, a
        # `> text` left behind) was "all N utterances failed (first: ...: no transcript ...)".
        raise AsrkitError(f"{text}: empty: no transcripts to align")
    if looks_like_wav_scp(transcripts):
        # Was, after every recording was read, "the transcripts are lower case ... upper-case the
        # words of the text" (paths of an upper-case model's), or, the arguments swapped, "all N
        # utterances failed (first: utterance 'u' (text:1: YES NO): no such file)".
        raise AsrkitError(f"{text}: every line is '<utt> <audio file>', a wav.scp, not transcripts: the arguments are "
                          f"<wav-rspecifier> <text-file> <ctm-out>, in that order")
    # A CTM: each line was an utterance's transcript ('1 0.00 0.30 YES 0.98': its numbers <unk>,
    # warned about, aligned with exit 0), or, with several words an utterance, a duplicate key.
    refuse_other_file(text, transcripts, "not transcripts: <text-file> is a Kaldi text ('<utt-id> <transcript>' "
                                         "lines), such as data/test/text")
    rec = Recognizer.from_files(model_path, config)
    rec.check_reads_audio(model_path)
    if not rec.has_ctc:
        raise AsrkitError(f"{model_path}: the model has no CTC head (ctc_weight 0 in training) to align with")
    items, total = inputs.open(rec.features)
    start = time.perf_counter()
    with atomic_open(ctm_out, "w") as out:
        summary = align_items(rec, items, total, transcripts,
                              lambda utt, words: out.write("".join(ln + "\n" for ln in ctm_lines(utt, words))),
                              max_bad_percent=max_bad_percent, source=text, items_source=inputs.source)
        log.info("aligned %.1f s of audio (%d words) in %.2f s of model time: real-time factor %.4f (%s, batch %d); "
                 "wall %.2f s", summary.audio_s, summary.words, summary.align_s, summary.rtf, rec.device,
                 batch_size, time.perf_counter() - start)
        summary.bad.check()  # inside the atomic write: past the rule, no CTM is left
    click.echo(f"Done {summary.bad.done} out of {summary.bad.total} utterances ({len(summary.bad.failed)} failed); "
               f"{summary.words} words in {Path(ctm_out)}", err=True)
    sys.stdout.flush()
