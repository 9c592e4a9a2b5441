"""asrkit-decode: batched beam search (attention + CTC prefix + LM fusion) with a packed model."""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Tuple

import click

from asrkit.cli._common import (OutputDir, OutputFile, asrkit_command, dash_as_stdio, max_bad_percent_option, own_args,
                                refuse_empty_name)
from asrkit.decoding.config import WORD_RULES
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import command_line, get_logger, setup_logging

if TYPE_CHECKING:
    from asrkit.decoding.inputs import DecodeInputs

# torch, numpy and the decoding library are imported inside main(): --help and --print-config
# must not pay for them.

log = get_logger("decode")

OVERRIDES = ("mode", "beam", "ctc_weight", "lm_weight", "penalty", "length_norm", "maxlenratio", "minlenratio",
             "nbest", "pre_beam_ratio", "eos_threshold", "max_backtrack", "batch_size", "device", "segment",
             "max_segment_s", "word_rule", "level_norm", "edge_pad_s")


@asrkit_command("decode")
@click.option("--model", "model_path", callback=refuse_empty_name, default=None, type=click.Path(dir_okay=False),
              help="Packed model (exp/<name>/final.pt from a recipe, model.pt from asrkit-train, "
                   "model.avg.pt from asrkit-average). Required.")
@click.option("--config", "config_path", callback=refuse_empty_name, type=click.Path(dir_okay=False), default=None,
              help="Decoding options (conf/decode.yaml; - for stdin); the flags below override it. Without it: the "
                   "options packed in the model (asrkit-pack-model; a recipe's final.pt has its "
                   "conf/decode.yaml's), else asrkit's defaults.")
@click.option("--print-config", is_flag=True,
              help="Print the resolved decoding options (YAML: the file or the model's, and the flags) on "
                   "stdout and exit.")
@click.option("--lm", "lm_path", callback=refuse_empty_name, type=click.Path(dir_okay=False), default=None,
              help="Token LSTM LM (asrkit-train-lm) for shallow fusion; used when lm_weight > 0.")
@click.option("--feats", callback=refuse_empty_name, default=None, metavar="RSPECIFIER",
              help="Raw fbank already computed, e.g. scp:dump/test/feats.scp (the packed CMVN is applied: "
                   "not asrkit-apply-cmvn's output, which a warning names).")
@click.option("--wav-scp", callback=refuse_empty_name, default=None, metavar="WAV_SCP",
              help="Audio, e.g. data/test/wav.scp (fbank + CMVN with the model's packed configs).")
@click.option("--segments", callback=refuse_empty_name,
              default=None, type=click.Path(dir_okay=False), help="Segments file for --wav-scp.")
@click.option("--channel", type=int, default=None,
              help="Take this channel (0-based) of multi-channel audio; default: the mean of the channels.")
@click.option("--utt-ids", callback=refuse_empty_name, default=None, type=click.Path(dir_okay=False),
              help="Decode only these utterances (first field of each line), in this order.")
@click.option("--nj", type=int, default=1, show_default=True, help="Split the utterances into this many pieces...")
@click.option("--job", type=int, default=1, show_default=True, help="...and decode piece JOB (1-based).")
@click.option("--output-dir", callback=refuse_empty_name, default=None, type=OutputDir(),
              help="Write text, nbest.jsonl, decode.yaml and log/decode.log here; without it, print "
                   "'<utt> <text>' lines on stdout.")
@click.option("--ctm", "ctm_path", callback=refuse_empty_name, default=None, type=OutputFile(),
              help="Write word times and confidences of the best hypotheses as Kaldi CTM "
                   "('<utt> 1 <start> <dur> <word> <conf>'; - for stdout); needs a model with a CTC head.")
@click.option("--segments-out", callback=refuse_empty_name, default=None, type=OutputFile(),
              help="Write Kaldi segments of the pieces decoded ('<piece> <utt> <start> <end>'; an "
                   "utterance decoded whole is one piece; - for stdout).")
@click.option("--mode", type=click.Choice(["beam", "greedy"]), default=None,
              help="Beam search, or greedy (one hypothesis: faster) (default beam).")
@click.option("--beam", type=int, default=None, help="Beam size (default 10).")
@click.option("--ctc-weight", type=float, default=None, help="CTC prefix score weight (default 0.3).")
@click.option("--lm-weight", type=float, default=None, help="LM weight (default 0).")
@click.option("--penalty", type=float, default=None, help="Per-token score bonus (>0) / penalty (<0).")
@click.option("--length-norm/--no-length-norm", default=None, help="Rank ended hypotheses by score per token.")
@click.option("--maxlenratio", type=float, default=None, help="Max output tokens / encoder frames (0: frames).")
@click.option("--minlenratio", type=float, default=None,
              help="Min output tokens / encoder frames (default 0).")
@click.option("--nbest", type=int, default=None,
              help="Hypotheses kept per utterance in nbest.jsonl (at most --beam; 1 with --mode greedy).")
@click.option("--pre-beam-ratio", type=float, default=None,
              help="CTC scores ceil(ratio*beam) candidates (0: all; default 1.5, in greedy mode 150).")
@click.option("--eos-threshold", type=float, default=None,
              help="<eos> only when its score >= this x the best other token's (log domain; 0: off) "
                   "[default: 1.5 when --ctc-weight is 0, else 0].")
@click.option("--max-backtrack", type=int, default=None,
              help="End a hypothesis whose attention peak stays more than this many encoder frames behind "
                   "its furthest one for 3 steps (a loop; 0: off) [default: 8 when --ctc-weight is 0, else 0].")
@click.option("--batch-size", type=int, default=None, help="Utterances decoded together (default 16).")
@click.option("--device", default=None, help="cpu, cuda[:N] or auto (default cpu).")
@click.option("--segment", type=click.Choice(["auto", "always", "never"]), default=None,
              help="Cut recordings at their pauses: auto (default) those longer than --max-segment-s.")
@click.option("--max-segment-s", type=float, default=None, help="Longest piece decoded as one (default 20 s).")
@click.option("--level-norm/--no-level-norm", default=None,
              help="Shift each recording's log-mel level to the training data's, so a quiet or loud "
                   "recording decodes as well as one at the training level (default: on).")
@click.option("--edge-pad-s", type=float, default=None,
              help="Seconds of quiet added at an edge where a recording starts or ends in its speech (a take "
                   "cut close around one word); 0: none (default 0.2; docs/decoding.md).")
@click.option("--word-rule", type=click.Choice(WORD_RULES), default=None,
              help="Word boundaries: the CTC alignment refined by frame energy (default), or the CTC "
                   "alignment alone (docs/decoding.md).")
@click.option("--max-samples", type=click.IntRange(min=1), default=1 << 28, show_default=True,
              help="Most samples (all channels) one audio file or recording may hold (2^28: 4.6 h of 16 kHz "
                   "mono, 1.5 h of 48 kHz stereo), and its copy resampled to the model's rate; longer ones are "
                   "skipped. The whole recording is held in memory, ~18 MB per minute of 16 kHz audio with the "
                   "AN4 recipe's model.")
@click.option("--spk-transforms", callback=refuse_empty_name, default=None, metavar="RSPECIFIER",
              help="Per-speaker feature transforms from asrkit-adapt-speakers (ark:trans.ark): the second, "
                   "speaker-adapted pass; needs --utt2spk.")
@click.option("--utt2spk", callback=refuse_empty_name, default=None, type=click.Path(dir_okay=False),
              help="Which speaker said each utterance (data/<set>/utt2spk), for --spk-transforms.")
@max_bad_percent_option
# Plain strings: a directory among the files (`asrkit-decode ... dir/*`) is a bad item, skipped and
# counted as an unreadable file is, not a usage error that stops the other files (click.Path's check).
@click.argument("wavs", callback=refuse_empty_name, nargs=-1, metavar="[AUDIO ...]")
def main(model_path: Optional[str], config_path: Optional[str], print_config: bool, lm_path: Optional[str],
         feats: Optional[str], wav_scp: Optional[str], segments: Optional[str], channel: Optional[int],
         utt_ids: Optional[str], nj: int, job: int, output_dir: Optional[str], ctm_path: Optional[str],
         segments_out: Optional[str], max_samples: int, spk_transforms: Optional[str], utt2spk: Optional[str],
         max_bad_percent: float, wavs: Tuple[str, ...], **flags) -> None:
    """Decode features, a wav.scp or audio files with a packed model.

    Exactly one input: --feats, --wav-scp, or audio files (WAV, FLAC, OGG, MP3...; the utterance
    id is the file name without its extension; '-' is stdin, id "stdin"). Audio at another rate than the model's is
    resampled; multi-channel audio is averaged (or --channel N). Recordings longer than
    --max-segment-s are cut at their pauses (found with the model's CTC head), decoded in pieces
    and joined. A bad utterance (unknown id, unreadable audio, a bad scp entry, no frames,
    non-finite features) is skipped, named and counted, and the others are written; the run
    fails when none decodes or more than 5 % fail, writing no files (the lines already printed
    on stdout, without --output-dir, stay printed, as a Kaldi binary's do). The log reports the
    real-time factor (model time from features to text / audio duration).

    \b
    e.g. asrkit-decode --model exp/las/model.pt a.wav b.flac

    \b
    e.g. asrkit-decode --model exp/las/model.pt --config conf/decode.yaml \\
           --lm exp/lm/lm.pt --lm-weight 0.3 --feats scp:dump/test/feats.scp \\
           --output-dir exp/las/decode_test --ctm exp/las/decode_test/ctm
    """
    from asrkit.decoding.config import DecodeConfig

    ctm_path, segments_out = dash_as_stdio(ctm_path), dash_as_stdio(segments_out)
    # '-' is stdin, as in Kaldi (`sox in.mp3 -t wav - | asrkit-decode --model m.pt -`): read
    # through /dev/stdin, whose file name makes the utterance id "stdin".
    wavs = tuple(dash_as_stdio(w, "stdin") for w in wavs)
    utt_ids = dash_as_stdio(utt_ids, "stdin")  # (was "-: no such file")
    # --config - too (asrkit-pack-model's reads stdin): it was "-: no such file". Checked against
    # the other inputs before it is read: the audio '-' read as the YAML was "not UTF-8 text".
    config_path = dash_as_stdio(config_path, "stdin")
    from asrkit.utils.fileio import names_stdin

    if config_path and names_stdin(config_path):  # (two other inputs on stdin: DecodeInputs names them)
        from asrkit.data.specifier import refuse_stdin_read_twice

        refuse_stdin_read_twice([
            ("--config -", config_path), ("--model", model_path), ("--lm", lm_path), ("--utt-ids", utt_ids),
            ("--segments", segments), ("--utt2spk", utt2spk), *[("the audio file '-'", w) for w in wavs],
            *[(f"{option} {value}", value) for option, value in
              (("--feats", feats), ("--spk-transforms", spk_transforms), ("--wav-scp", wav_scp))]])
    config, source = DecodeConfig.with_flags(config_path, model_path, has_lm=lm_path is not None,
                                             given={k: flags[k] for k in OVERRIDES if flags.get(k) is not None})
    def decode_inputs() -> DecodeInputs:  # (checks the options' combination and the files' names; reads nothing)
        from asrkit.decoding.inputs import DecodeInputs  # (numpy: not for a plain --print-config)
        from asrkit.utils.fileio import stdin_reader

        return DecodeInputs(feats=feats, wav_scp=wav_scp, segments=segments, wavs=wavs, utt_ids=utt_ids, nj=nj,
                            job=job, channel=channel, max_samples=max_samples,
                            stdin_taken=stdin_reader([("--model", model_path), ("--lm", lm_path),
                                                      ("--config", config_path)]))

    if print_config:
        # Inputs given are checked too: asr.sh's start-up check gives a --feats, and a stray word in
        # its --decode-args ("--beam 20 0.3", taken for an audio file) then fails here, not at stage 5.
        if feats or wav_scp or wavs:
            decode_inputs()
        click.echo(config.to_yaml(), nl=False)
        return
    if model_path is None:
        raise click.UsageError("Missing option '--model'.")
    if (spk_transforms is None) != (utt2spk is None):
        raise AsrkitError("--spk-transforms and --utt2spk go together: the transforms are per speaker")
    inputs = decode_inputs()
    out = Path(output_dir) if output_dir else None
    if out is None and sys.stdout is None:
        # Started with stdout closed (">&-"): say so before the model loads, not an AttributeError
        # at the first hypothesis.
        raise AsrkitError("<stdout>: stdout is closed; the hypotheses go to stdout without --output-dir")
    from asrkit.decoding.run import check_output_paths

    read_files = [(option, Path(p) if p else None) for option, p in (
        ("--model", model_path), ("--lm", lm_path), ("--config", config_path), ("--segments", segments),
        ("--utt-ids", utt_ids), ("--utt2spk", utt2spk))]
    check_output_paths(out, Path(ctm_path) if ctm_path else None, Path(segments_out) if segments_out else None,
                       inputs=read_files + [("--feats", feats), ("--wav-scp", wav_scp),
                                            ("--spk-transforms", spk_transforms)]
                       + [("the audio file", Path(w)) for w in wavs],
                       scp_lines=("--feats", "--spk-transforms"), wav_sources=inputs.wav_sources())
    if out is not None:
        from asrkit.decoding.run import LOG_NAME, keep_earlier_log

        keep_earlier_log(out / LOG_NAME)
        setup_logging(1 if log.isEnabledFor(logging.DEBUG) else 0, str(out / LOG_NAME))
        # (as the echo on stderr: sys.argv[1:] under `asrkit decode ...` logged 'asrkit-decode decode ...',
        # and a file name with a space in it as two words)
        log.info("command line: asrkit-decode %s", command_line(own_args()))

    import torch

    from asrkit.decoding.recognizer import Recognizer
    from asrkit.decoding.run import Outputs, decode_items

    rec = Recognizer.from_files(model_path, config, lm_path, lm_weight_chosen=flags.get("lm_weight") is not None)
    # (after the load: before it, a missing or damaged model was logged as one that "has none packed")
    log.info("decoding options: %s", source)
    if not feats:
        rec.check_reads_audio(model_path)
    if spk_transforms is not None:
        from asrkit.data.specifier import read_matrices
        from asrkit.data.table import read_utt2spk

        rec.set_speaker_transforms(dict(read_matrices(spk_transforms)), read_utt2spk(utt2spk), spk_transforms)
    if ctm_path and not rec.word_times:
        raise AsrkitError(f"--ctm needs word times: {model_path} has no CTC head to align with"
                          if not rec.has_ctc else "--ctm needs word_times: true in the decoding options")
    if rec.device.type == "cpu":
        log.info("device cpu, %d torch threads", torch.get_num_threads())
    items, total = inputs.open(rec.features)
    if feats:
        from asrkit.decoding.run import warn_if_normalized_twice

        items = warn_if_normalized_twice(rec, items, feats)
    outputs = Outputs(out, sys.stdout, rec.weights, ctm=Path(ctm_path) if ctm_path else None,
                      segments=Path(segments_out) if segments_out else None, least_audio_s=rec.least_audio_s,
                      reads=[p for _, p in read_files if p is not None])
    start = time.perf_counter()
    ok = False
    try:
        summary = decode_items(rec, items, total, outputs.emit, max_bad_percent=max_bad_percent, source=inputs.source)
        wall = time.perf_counter() - start
        if summary.audio_s > 0:  # nothing decoded: no rate to report (the error below says why)
            log.info("decoded %.1f s of audio in %.2f s of model time: real-time factor %.4f (%s, beam %d, ctc %g, "
                     "lm %g, batch %d; longest batch %d steps%s); reading/features %.2f s, wall %.2f s",
                     summary.audio_s, summary.decode_s, summary.rtf, rec.device,
                     config.beam if config.mode == "beam" else 1, rec.weights["ctc"], rec.weights.get("lm", 0.0),
                     config.batch_size, summary.steps, f"; {summary.pieces} pieces of long recordings"
                     if summary.pieces else "", summary.input_s, wall)
        try:
            summary.bad.check()
        except AsrkitError as e:
            raise AsrkitError(f"{e}" + (f" (see {out / 'log' / 'decode.log'})" if out else "")) from None
        ok = True
    finally:
        outputs.close(ok, {**config.to_dict(), "model": model_path, "lm": lm_path if rec.lm is not None else None,
                           "weights": rec.weights})
    click.echo(f"Done {summary.decoded} out of {summary.total} utterances ({len(summary.failed)} failed); "
               f"RTF {summary.rtf:.4f}" + (f"; outputs in {out}" if out else ""), err=True)
