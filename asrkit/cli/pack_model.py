"""asrkit-pack-model: a packed model with the decoding options it is to be decoded with."""
from __future__ import annotations

import click

from asrkit.cli._common import OutputFile, asrkit_command, dash_as_stdio, refuse_empty_name
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import names_stdin, same_regular_file
from asrkit.utils.logging import get_logger

log = get_logger("pack_model")


@asrkit_command("pack-model")
@click.option("--decode-config", "config_path", callback=refuse_empty_name, type=click.Path(dir_okay=False),
              help="The decoding options to pack (asrkit-decode's --config file, e.g. conf/decode.yaml; '-': "
                   "stdin; device and batch_size are left out: they are each run's own). Not given: the "
                   "options <model-in> holds are kept (to mark a model with --upsampled-from only).")
@click.option("--upsampled-from", "upsampled", multiple=True, type=click.IntRange(min=1), metavar="HZ",
              help="A sample rate below the model's of training recordings that were resampled up to it "
                   "(asrkit-compute-fbank --resample, ./run.sh --fbank-args --resample on a corpus with e.g. 8 kHz "
                   "recordings among 16 kHz ones); repeatable. The model learned their empty mel bins above "
                   "HZ/2 as they were, so asrkit-decode leaves those bins of audio resampled up as they are "
                   "instead of giving them the training mean (docs/decoding.md). Recorded in the model, with "
                   "the rates it records already.")
@click.argument("model", callback=refuse_empty_name, metavar="<model-in>", type=click.Path(dir_okay=False))
@click.argument("out", callback=refuse_empty_name, metavar="<model-out>", type=OutputFile())
def main(config_path: str, upsampled: tuple, model: str, out: str) -> None:
    """Copy the packed model <model-in> to <model-out> with the decoding options of --decode-config
    inside, so that asrkit-decode, asrkit-adapt-speakers and the Transcriber decode it with them
    when given no --config of their own (flags still override single options). Recipes' stage 5
    writes exp/<tag>/final.pt so, from the model it decodes and the recipe's conf/decode.yaml.
    <model-out> may be <model-in>.

    \b
    e.g. asrkit-pack-model --decode-config conf/decode.yaml \\
           exp/las/model.avg.pt exp/las/final.pt
         asrkit-decode --model exp/las/final.pt a.wav b.wav  # with those options
         asrkit-pack-model --upsampled-from 8000 \\
           exp/las/final.pt exp/las/final.pt  # its options kept
    """
    from asrkit.decoding.config import DecodeConfig
    from asrkit.decoding.pack import pack_model

    if config_path is None and not upsampled:
        raise click.UsageError("nothing to pack: give --decode-config FILE (the decoding options), "
                               "--upsampled-from HZ, or both")
    if out == "-":  # (a file named '-' would appear; and torch reads a model by seeking, so no stream holds one)
        raise AsrkitError("<model-out> -: a model is written to a file, not to stdout")
    config = None
    if config_path is not None:
        if same_regular_file(out, config_path):  # the options would be replaced by a model
            raise AsrkitError(f"<model-out> {out} is the --decode-config file {config_path}: give another path")
        path = dash_as_stdio(config_path, "stdin")
        if names_stdin(path):  # before it is read: a model piped in read as the YAML
            from asrkit.data.specifier import refuse_stdin_read_twice

            refuse_stdin_read_twice([("--decode-config -", path), ("<model-in>", dash_as_stdio(model, "stdin"))])
        config = DecodeConfig.from_yaml(path, "asrkit-pack-model --decode-config")
    meta = pack_model(model, out, config, upsampled)
    if upsampled:
        log.info("%s: recorded training audio resampled up from %s Hz", out,
                 ", ".join(str(r) for r in meta.upsampled_rates))
    if config is not None:
        log.info("wrote %s: %s with the decoding options of %s (beam %d, ctc_weight %g, penalty %g)", out, model,
                 config_path, config.beam, config.ctc_weight, config.penalty)
    elif meta.decode_options is not None:
        log.info("wrote %s: %s with the decoding options it holds (%s)", out, model,
                 ", ".join(f"{k} {v}" for k, v in sorted(meta.decode_options.items())))
    else:
        log.info("wrote %s: %s, which holds no decoding options (asrkit-decode's defaults; --decode-config "
                 "packs some)", out, model)
