"""asrkit-decode: batched beam search (attention + CTC prefix + LM fusion) with a packed model."""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Optional, Tuple

import click
import torch

from asrkit.cli._common import asrkit_command
from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.inputs import DecodeInputs
from asrkit.decoding.recognizer import Recognizer
from asrkit.decoding.run import Outputs, decode_items
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger, setup_logging

log = get_logger("decode")

OVERRIDES = ("mode", "beam", "ctc_weight", "lm_weight", "penalty", "length_norm", "maxlenratio", "minlenratio",
             "nbest", "pre_beam_ratio", "eos_threshold", "max_backtrack", "batch_size", "device")


@asrkit_command("decode")
@click.option("--model", "model_path", required=True, type=click.Path(dir_okay=False),
              help="Packed model (exp/<name>/model.pt from asrkit-train / asrkit-average).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Decoding options (conf/decode.yaml); the flags below override it.")
@click.option("--lm", "lm_path", type=click.Path(dir_okay=False), default=None,
              help="Token LSTM LM (asrkit-train-lm) for shallow fusion; used when lm_weight > 0.")
@click.option("--feats", default=None, metavar="RSPECIFIER",
              help="Features already computed, e.g. scp:dump/test/feats.scp (the packed CMVN is applied).")
@click.option("--wav-scp", default=None, metavar="WAV_SCP",
              help="Audio, e.g. data/test/wav.scp (fbank + CMVN with the model's packed configs).")
@click.option("--segments", default=None, type=click.Path(dir_okay=False), help="Segments file for --wav-scp.")
@click.option("--utt-ids", default=None, type=click.Path(dir_okay=False),
              help="Decode only these utterances (first field of each line), in this order.")
@click.option("--nj", type=int, default=1, show_default=True, help="Split the utterances into this many pieces...")
@click.option("--job", type=int, default=1, show_default=True, help="...and decode piece JOB (1-based).")
@click.option("--output-dir", default=None, type=click.Path(file_okay=False),
              help="Write text, nbest.jsonl, decode.yaml and log/decode.log here; without it, print "
                   "'<utt> <text>' lines on stdout.")
@click.option("--mode", type=click.Choice(["beam", "greedy"]), default=None)
@click.option("--beam", type=int, default=None, help="Beam size (default 10).")
@click.option("--ctc-weight", type=float, default=None, help="CTC prefix score weight (default 0.3).")
@click.option("--lm-weight", type=float, default=None, help="LM weight (default 0).")
@click.option("--penalty", type=float, default=None, help="Per-token score bonus (>0) / penalty (<0).")
@click.option("--length-norm/--no-length-norm", default=None, help="Rank ended hypotheses by score per token.")
@click.option("--maxlenratio", type=float, default=None, help="Max output tokens / encoder frames (0: frames).")
@click.option("--minlenratio", type=float, default=None)
@click.option("--nbest", type=int, default=None, help="Hypotheses kept per utterance in nbest.jsonl.")
@click.option("--pre-beam-ratio", type=float, default=None, help="CTC scores ceil(ratio*beam) candidates (0: all).")
@click.option("--eos-threshold", type=float, default=None,
              help="<eos> only when its score >= this x the best other token's (log domain; 0: off) "
                   "[default: 1.5 when --ctc-weight is 0, else 0].")
@click.option("--max-backtrack", type=int, default=None,
              help="End a hypothesis whose attention peak falls more than this many encoder frames behind "
                   "its furthest one (a loop; 0: off) [default: 8 when --ctc-weight is 0, else 0].")
@click.option("--batch-size", type=int, default=None, help="Utterances decoded together (default 16).")
@click.option("--device", default=None, help="cpu, cuda[:N] or auto.")
@click.argument("wavs", nargs=-1, metavar="[WAV ...]", type=click.Path(dir_okay=False))
def main(model_path: str, config_path: Optional[str], lm_path: Optional[str], feats: Optional[str],
         wav_scp: Optional[str], segments: Optional[str], utt_ids: Optional[str], nj: int, job: int,
         output_dir: Optional[str], wavs: Tuple[str, ...], **flags) -> None:
    """Decode features, a wav.scp or wav files with a packed model.

    Exactly one input: --feats, --wav-scp, or WAV files (utterance id = file name without .wav).
    A bad utterance (unknown id, empty or unreadable audio) is reported and counted; the others
    still decode; the exit status is non-zero when none decodes. The log reports the real-time
    factor (model time from features to text / audio duration from frames x frame shift).

    e.g. asrkit-decode --model exp/las/model.pt a.wav b.wav

    e.g. asrkit-decode --model exp/las/model.pt --config conf/decode.yaml --lm exp/lm/lm.pt
    --feats scp:dump/test/feats.scp --output-dir exp/las/decode_test
    """
    inputs = DecodeInputs(feats=feats, wav_scp=wav_scp, segments=segments, wavs=wavs, utt_ids=utt_ids, nj=nj,
                          job=job)
    out = Path(output_dir) if output_dir else None
    if out is not None:
        setup_logging(1 if log.isEnabledFor(logging.DEBUG) else 0, str(out / "log" / "decode.log"))
        log.info("command line: asrkit-decode %s", " ".join(sys.argv[1:]))
    config = DecodeConfig.from_yaml(config_path) if config_path else DecodeConfig()
    for k in OVERRIDES:
        if flags.get(k) is not None:
            setattr(config, k, flags[k])
    config.validate("options")

    rec = Recognizer.from_files(model_path, config, lm_path)
    if rec.device.type == "cpu":
        log.info("device cpu, %d torch threads", torch.get_num_threads())
    items, total = inputs.open(rec.features)
    outputs = Outputs(out, sys.stdout, rec.weights)
    start = time.perf_counter()
    ok = False
    try:
        summary = decode_items(rec, items, total, outputs.emit)
        ok = summary.decoded > 0
    finally:
        outputs.close(ok, {**config.to_dict(), "model": model_path, "lm": lm_path if rec.lm is not None else None,
                           "weights": rec.weights})
    wall = time.perf_counter() - start
    log.info("decoded %.1f s of audio in %.2f s of model time: real-time factor %.4f (%s, beam %d, ctc %g, "
             "lm %g, batch %d; longest batch %d steps); reading/features %.2f s, wall %.2f s",
             summary.audio_s, summary.decode_s, summary.rtf, rec.device, config.beam if config.mode == "beam" else 1,
             rec.weights["ctc"], rec.weights.get("lm", 0.0), config.batch_size, summary.steps, summary.input_s, wall)
    if summary.failed:
        log.warning("%d utterance(s) failed: %s%s", len(summary.failed), " ".join(summary.failed[:20]),
                    " ..." if len(summary.failed) > 20 else "")
    click.echo(f"Done {summary.decoded} out of {summary.total} utterances ({len(summary.failed)} failed); "
               f"RTF {summary.rtf:.4f}" + (f"; outputs in {out}" if out else ""), err=True)
    if summary.decoded == 0:
        raise AsrkitError("no utterance was decoded" + (f" (see {out / 'log' / 'decode.log'})" if out else ""))
