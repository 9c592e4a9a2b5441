"""asrkit-adapt-speakers: per-speaker feature transforms from a first decoding pass (Kaldi's fMLLR habit)."""
from __future__ import annotations

from typing import Optional

import click

from asrkit.cli._common import asrkit_command, dash_as_stdio, max_bad_percent_option, refuse_empty_name
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger

# torch and the decoding library are imported inside main(): --help must not pay for them.

log = get_logger("adapt_speakers")


@asrkit_command("adapt-speakers", epilog="""\b
e.g.: asrkit-decode --model M --config conf/decode.yaml \\
          --feats scp:dump/test/feats.scp --output-dir d1
      asrkit-adapt-speakers --model M --config conf/decode.yaml \\
          --utt2spk data/test/utt2spk --feats scp:dump/test/feats.scp \\
          d1/text ark:d1/trans.ark
      asrkit-decode --model M --config conf/decode.yaml \\
          --feats scp:dump/test/feats.scp --utt2spk data/test/utt2spk \\
          --spk-transforms ark:d1/trans.ark --output-dir d2
""")
@click.option("--model", "model_path", callback=refuse_empty_name, default=None, type=click.Path(dir_okay=False),
              help="Packed model (exp/<name>/model.pt): the one that decoded the first pass. Required unless "
                   "--print-config.")
@click.option("--config", "config_path", callback=refuse_empty_name, type=click.Path(dir_okay=False), default=None,
              help="The decoding options of both passes (conf/decode.yaml): their recording-level step and "
                   "device; the transforms act on features normalised as those passes see them. Without "
                   "it: the options packed in the model (asrkit-pack-model), else asrkit's defaults.")
@click.option("--utt2spk", callback=refuse_empty_name, default=None, type=click.Path(dir_okay=False),
              help="Which speaker said each utterance (data/<set>/utt2spk; '-' for stdin): one transform per "
                   "speaker. Required unless --print-config.")
@click.option("--feats", callback=refuse_empty_name, default=None, metavar="RSPECIFIER",
              help="The utterances' features, as the first pass decoded them (scp:dump/test/feats.scp).")
@click.option("--wav-scp", callback=refuse_empty_name, default=None, metavar="WAV_SCP", help="...or their audio.")
@click.option("--segments", callback=refuse_empty_name,
              default=None, type=click.Path(dir_okay=False), help="Segments file for --wav-scp ('-' for stdin).")
@click.option("--channel", type=int, default=None,
              help="Take this channel (0-based) of multi-channel audio, as the first pass did (asrkit-decode "
                   "--channel); default: the mean of the channels.")
@click.option("--max-samples", type=click.IntRange(min=1), default=1 << 28, show_default=True,
              help="Most samples (all channels) one audio file or recording may hold, as asrkit-decode's "
                   "--max-samples; longer ones are skipped.")
@click.option("--epochs", type=click.IntRange(1, 10000), default=30, show_default=True,
              help="Passes over each speaker's chosen utterances.")
@click.option("--lr", type=float, default=0.01, show_default=True, help="Adam's learning rate.")
@click.option("--keep", type=float, default=0.5, show_default=True,
              help="Share of each speaker's utterances adapted on: those the model scores best on its own "
                   "hypothesis.")
@click.option("--batch-size", type=click.IntRange(1, 100000), default=16, show_default=True)
@click.option("--max-frames", type=click.IntRange(min=1), default=3000, show_default=True,
              help="Longer utterances are left out of the estimate (the backward pass holds them whole).")
@click.option("--min-utts", type=click.IntRange(min=1), default=50, show_default=True,
              help="A speaker with fewer usable utterances (a hypothesis, at most --max-frames) keeps the "
                   "identity: a transform fitted to a few utterances made decoding worse (docs/decoding.md).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default=None, help="cpu, cuda[:N] or auto (default: the --config's).")
@click.option("--print-config", is_flag=True,
              help="Print the resolved adaptation options (YAML) on stdout and exit: asr.sh checks --adapt-args so "
                   "before stage 0.")
@max_bad_percent_option
@click.argument("hyp_text", callback=refuse_empty_name,
                metavar="<hyp-text>", type=click.Path(dir_okay=False), required=False)
@click.argument("transforms_wspecifier", callback=refuse_empty_name, metavar="<transforms-wspecifier>", required=False)
def main(model_path: Optional[str], config_path: Optional[str], utt2spk: Optional[str], feats: Optional[str],
         wav_scp: Optional[str], segments: Optional[str], channel: Optional[int], max_samples: int, epochs: int,
         lr: float, keep: float,
         batch_size: int, max_frames: int, min_utts: int, seed: int, device: Optional[str], print_config: bool,
         max_bad_percent: float, hyp_text: Optional[str], transforms_wspecifier: Optional[str]) -> None:
    """Estimate one affine transform [A | b] of the model's normalised features per speaker of
    <utt2spk>, from the first pass's hypotheses (<hyp-text>: a decode directory's text, '-' for stdin), and
    write them as Kaldi matrices (D x D+1, as fMLLR transforms) to <transforms-wspecifier>
    (ark:trans.ark, ark,t:trans.txt). asrkit-decode --spk-transforms decodes the second pass with
    them.

    Each transform starts at the identity and is trained with the model's loss on the
    hypotheses of the half (--keep) of the speaker's utterances the model is surest of, the
    model itself frozen; no reference transcript is read. An utterance without a hypothesis,
    speaker or readable features is skipped, named and counted (the run fails, writing nothing,
    past 5 %); a speaker with fewer than --min-utts usable utterances, or whose transform
    does not lower the loss on them, gets the identity.
    docs/decoding.md, "Speaker adaptation".
    """
    from asrkit.decoding.adapt_config import AdaptConfig
    from asrkit.decoding.config import DecodeConfig

    adapt = AdaptConfig(epochs=epochs, lr=lr, keep=keep, batch_size=batch_size, max_frames=max_frames,
                        min_utts=min_utts, seed=seed)
    adapt.validate("options")
    # (--device replaces the file's device, which is not checked then: as asrkit-decode's flags)
    config, source = DecodeConfig.with_flags(config_path, model_path, given={} if device is None else {"device": device})
    if config.lm_weight > 0:
        # The decoding passes' LM weight (asr.sh's --use-lm decodes both with stage 3's LM): this
        # command has no LM, and its first-pass text already holds the LM's part, so the weight is
        # not this command's, as a packed one is not without an LM (DecodeConfig.resolve). It was
        # "lm_weight is 0.3 but no LM was given (--lm ...)", an option this command has not.
        source += f" (its lm_weight {config.lm_weight:g} is the decoding passes': the adaptation uses no LM)"
        config.lm_weight = 0.0
    if print_config:
        from asrkit.utils.config import dump_yaml, to_dict


        click.echo(dump_yaml(to_dict(adapt), sort_keys=False), nl=False)
        return
    for value, name in ((model_path, "option '--model'"), (utt2spk, "option '--utt2spk'"),
                        (hyp_text, "argument '<hyp-text>'"), (transforms_wspecifier, "argument '<transforms-wspecifier>'")):
        if value is None:
            raise click.UsageError(f"Missing {name}.")

    from pathlib import Path

    from asrkit.data.specifier import parse_matrix_wspecifier
    from asrkit.decoding.inputs import DecodeInputs
    from asrkit.decoding.run import check_outputs_spare_inputs

    if bool(feats) == bool(wav_scp):
        # (DecodeInputs' own words offer asrkit-decode's WAV files too, which this command has not)
        raise AsrkitError("give exactly one input: --feats RSPECIFIER or --wav-scp WAV_SCP")
    from asrkit.utils.fileio import refuse_one_stream_twice, stdin_reader

    # Kaldi's '-' for each text table (was "-: no such file")
    hyp_text, utt2spk = dash_as_stdio(hyp_text, "stdin"), dash_as_stdio(utt2spk, "stdin")
    segments = dash_as_stdio(segments, "stdin") if segments else segments
    tables = [("<hyp-text>", hyp_text), ("--utt2spk", utt2spk), ("--segments", segments)]
    refuse_one_stream_twice(dict(tables))
    from asrkit.data.specifier import spec_files
    from asrkit.utils.fileio import names_stdin

    on_stdin = next((option for option, value in tables if value and names_stdin(value)), None)
    for option, value in (("--feats", feats), ("--wav-scp", wav_scp)):
        # (read after the hypotheses, stdin was then "no data on stdin", as if the pipe had failed)
        if on_stdin and value and any(f == "-" or names_stdin(f) for f in spec_files(value)):
            raise AsrkitError(f"{on_stdin} - and {option} {value} both read stdin: give one of them as a file")
    # (without --channel, the transforms of a first pass decoded with asrkit-decode --channel 1 were
    # estimated on the mean of the channels, features the second pass never sees)
    # (--max-samples: a recording the first pass read under asrkit-decode --max-samples was skipped
    # here, over the default, naming an option this command did not have)
    inputs = DecodeInputs(feats=feats, wav_scp=wav_scp, segments=segments, channel=channel, max_samples=max_samples,
                          stdin_taken=stdin_reader(tables))
    out = parse_matrix_wspecifier(transforms_wspecifier)  # refused now, not once every speaker is adapted
    check_outputs_spare_inputs(
        [(Path(f), f"<transforms-wspecifier>'s {f}") for f in (out.ark, out.scp) if f and f != "-"],
        [("--model", Path(model_path)), ("<hyp-text>", Path(hyp_text)), ("--utt2spk", Path(utt2spk)),
         ("--config", Path(config_path) if config_path else None), ("--segments", Path(segments) if segments else None),
         ("--feats", feats), ("--wav-scp", wav_scp)],
        scp_lines=("--feats",), wav_sources=inputs.wav_sources())

    from asrkit.decoding.adapt import adapt_speakers
    from asrkit.decoding.recognizer import Recognizer

    rec = Recognizer.from_files(model_path, config)
    log.info("decoding options: %s", source)  # (after the load: a missing model "has none packed" misled)
    if not feats:
        rec.check_reads_audio(model_path)
    adapt_speakers(rec, inputs, hyp_text, utt2spk, transforms_wspecifier, adapt, max_bad_percent)
