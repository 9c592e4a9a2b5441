"""asrkit-compute-fbank: Kaldi fbank features for a wav.scp, as Kaldi's compute-fbank-feats."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, List

import click

from asrkit.cli._common import (OutputFile, asrkit_command, dash_as_stdio, max_bad_percent_option, refuse_empty_name,
                               require_unless_print_config)
from asrkit.features.fbank import FbankConfig
from asrkit.features.wav import DEFAULT_MAX_SAMPLES  # numpy only: soundfile loads on the first read
from asrkit.utils.fileio import names_stdin

_TYPES = {"float": float, "int": int, "bool": click.BOOL, "str": str}


def fbank_options(fn: Callable) -> Callable:
    """One ``--foo-bar`` option per FbankConfig field, overriding --config (Kaldi's naming)."""
    for f in reversed(dataclasses.fields(FbankConfig)):
        default = f.default
        fn = click.option(
            "--" + f.name.replace("_", "-"), f.name, type=_TYPES[str(f.type)], default=None,
            metavar="BOOL" if f.type == "bool" else None,
            help=f"fbank option (default: {str(default).lower() if f.type == 'bool' else default}).",
        )(fn)
    return fn


@asrkit_command("compute-fbank", epilog="""\b
e.g.: asrkit-compute-fbank --config conf/fbank.yaml --nj 4 \\
        scp:data/test/wav.scp ark,scp:dump/test/feats.ark,dump/test/feats.scp
""")
@click.argument("wav_rspecifier", callback=refuse_empty_name, required=False)
@click.argument("feats_wspecifier", callback=refuse_empty_name, required=False)
@click.option("--config", "config_path", callback=refuse_empty_name,
              type=click.Path(dir_okay=False),
              help="YAML file of fbank options ('-': stdin, e.g. from a pipe; not with another input on stdin).")
@click.option("--segments", callback=refuse_empty_name, type=click.Path(dir_okay=False),
              help="Kaldi segments file: cut utterances from the wav.scp recordings ('-': stdin).")
@click.option("--write-utt2num-frames", "utt2num_frames", callback=refuse_empty_name, type=OutputFile(),
              help="Write frame counts here (default with an scp: <scp-dir>/utt2num_frames).")
@click.option("--write-utt2sample-rate", "utt2sample_rate", callback=refuse_empty_name, type=OutputFile(),
              help="Write each utterance's sample rate here, as its audio was read (before --resample): "
                   "asrkit-train records the rates below --sample-frequency that it was trained on, resampled "
                   "up, in the model (asr.sh writes dump/<set>/utt2sample_rate).")
@click.option("--nj", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local processes; outputs <ark-stem>.<JOB>.ark and one scp in input order.")
@click.option("--channel", type=click.IntRange(min=-1), default=-1, show_default=True,
              help="Channel of multi-channel audio, 0-based (-1: expect mono; multi-channel audio is then skipped).")
@click.option("--resample", is_flag=True,
              help="Resample audio at another rate to --sample-frequency instead of failing.")
@click.option("--max-samples", type=click.IntRange(min=1), default=DEFAULT_MAX_SAMPLES, show_default=True,
              help="Most samples (all channels) one file, pipe or recording may hold; longer ones are skipped.")
@max_bad_percent_option
@click.option("--check-rates", is_flag=True,
              help="Only read the audio and check each utterance's sample rate against the config, as the features "
                   "would (another rate is an error unless --resample; unreadable audio is skipped and counted), "
                   "in one process without torch, computing and writing nothing (no FEATS_WSPECIFIER): asr.sh so "
                   "checks each set's first utterance before stage 1 makes any features.")
@click.option("--print-config", is_flag=True,
              help="Print the resolved fbank config (--config with the options below on top, as fbank.yaml "
                   "records it) on stdout and exit, reading no audio.")
@fbank_options
def main(wav_rspecifier: str | None, feats_wspecifier: str | None, config_path: str | None, segments: str | None,
         utt2num_frames: str | None, utt2sample_rate: str | None, nj: int, channel: int, resample: bool, max_samples: int,
         max_bad_percent: float, check_rates: bool, print_config: bool, **overrides: Any) -> None:
    """Compute log-mel filterbank features of every utterance of WAV_RSPECIFIER (a wav.scp; paths
    or 'cmd |' pipes) into FEATS_WSPECIFIER (ark,scp:F.ark,F.scp | ark:F.ark | ark,t:F.txt | ark:-).

    Audio is read with libsndfile: WAV (any PCM or float subtype), FLAC, OGG/Vorbis/Opus, MP3 and
    more; every subtype is scaled to 16-bit range, so a FLAC copy of a 16-bit WAV gives identical
    features. Unreadable, empty, truncated or over-long audio is logged and skipped; a sample
    rate other than the config's is an error unless --resample. Writes fbank.yaml (the resolved
    config) beside the scp. Fails, writing nothing, if no utterance succeeded or more than
    --max-bad-percent failed; nothing is ever left half-written.
    """
    config_path = dash_as_stdio(config_path, "stdin")  # Kaldi's '-' (was "-: no such file")
    if config_path and names_stdin(config_path):  # before it is read: the other input's data read as the YAML
        from asrkit.data.specifier import refuse_stdin_read_twice

        refuse_stdin_read_twice([("--config -", config_path), (f"WAV_RSPECIFIER {wav_rspecifier}", wav_rspecifier),
                                 ("--segments", dash_as_stdio(segments, "stdin"))])
    config = FbankConfig.from_options(config_path, overrides)
    if print_config:  # ESPnet's habit, as asrkit-train's: a recipe checks its fbank options before any stage
        config.check_mel_bins()  # (refused by the real run before its first recording, so here too)
        click.echo(config.to_yaml(), nl=False)
        return
    if check_rates:
        # (an output named would be left as it was: read later as made by this run)
        for value, name in ((feats_wspecifier, "FEATS_WSPECIFIER"), (utt2num_frames, "--write-utt2num-frames"),
                            (utt2sample_rate, "--write-utt2sample-rate")):
            if value:
                raise click.UsageError(f"--check-rates writes nothing: {name} is not taken with it")
        require_unless_print_config((wav_rspecifier, "WAV_RSPECIFIER"))
    else:
        require_unless_print_config((wav_rspecifier, "WAV_RSPECIFIER"), (feats_wspecifier, "FEATS_WSPECIFIER"))
    # (numpy, kaldiio: not for --print-config; torch only once features are computed)
    from asrkit.features.extract import check_sample_rates, compute_fbank_table
    if segments is not None:
        segments = dash_as_stdio(segments, "stdin")  # Kaldi's '-' (was "-: no such file")
        from asrkit.data.specifier import spec_files
        from asrkit.utils.fileio import refuse_one_stream_twice

        # (scp:/dev/stdin --segments -: the second read was "no data on stdin", as if a pipe had failed)
        refuse_one_stream_twice({"WAV_RSPECIFIER": next(iter(spec_files(wav_rspecifier)), None),
                                 "--config": config_path, "--segments": segments})
    from asrkit.utils.fileio import stdin_reader
    from asrkit.utils.logging import get_logger

    if check_rates:
        check_sample_rates(wav_rspecifier, config, segments=segments, channel=channel, resample=resample,
                           max_samples=max_samples, max_bad_percent=max_bad_percent,
                           stdin_taken=stdin_reader([("--config", config_path)]))
        return
    result = compute_fbank_table(wav_rspecifier, feats_wspecifier, config, segments=segments,
                                 utt2num_frames=utt2num_frames, nj=nj, channel=channel, resample=resample,
                                 max_samples=max_samples, max_bad_percent=max_bad_percent,
                                 stdin_taken=stdin_reader([("--config", config_path)]),
                                 utt2sample_rate=utt2sample_rate)
    get_logger("compute_fbank").info(
        "Wrote %d frames (%.1f s of audio) in %.2f s: %.0fx real time -> %s", result.num_frames,
        result.audio_s, result.elapsed_s, result.real_time_factor, _files_text(result.outputs) or "stdout")


def _files_text(outputs: List[str], shown: int = 8) -> str:
    """The files written, for the log line: --nj 600 listed 600 arks in it, 10 kB."""
    if len(outputs) <= shown:
        return ", ".join(outputs)
    return ", ".join(outputs[:2] + [f"... ({len(outputs) - 6} more)"] + outputs[-4:])
