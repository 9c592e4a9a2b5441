"""asrkit-perturb-data-dir-speed: speed-perturbed copies of a data dir (Kaldi's 3-way perturbation)."""
from __future__ import annotations

from typing import Tuple

import click

from asrkit.cli._common import asrkit_command, refuse_empty_name
from asrkit.data.datadir import kaldi_real
from asrkit.data.perturb import METHODS, perturb_data_dir_speed
from asrkit.utils.errors import AsrkitError
from asrkit.utils.logging import get_logger

log = get_logger("perturb_data_dir_speed")


def _factors(text: str) -> Tuple[float, ...]:
    # As Kaldi reads a real (kaldi_real): float() also took '0.9_5' and full-width digits.
    factors = tuple(kaldi_real(f) for f in text.replace(",", " ").split())
    if None in factors:
        raise AsrkitError(f"--factors {text!r}: expected numbers in ASCII digits such as '0.9 1.0 1.1'")
    return factors


@asrkit_command("perturb-data-dir-speed")
@click.option("--factors", default="0.9 1.0 1.1", show_default=True,
              help="Speed factors, space or comma separated; 1.0 keeps the original utterances.")
@click.option("--method", type=click.Choice(METHODS), default="sox", show_default=True,
              help="sox: 'sox ... speed F |' pipes in wav.scp (Kaldi's; needs sox); audio: the copies written "
                   "here as 16-bit FLAC under <dst-data-dir>/audio/ (torchaudio's resampling, no external program).")
@click.argument("src", callback=refuse_empty_name, metavar="<src-data-dir>")
@click.argument("dst", callback=refuse_empty_name, metavar="<dst-data-dir>")
def main(factors: str, method: str, src: str, dst: str) -> None:
    """Write <dst-data-dir>: every utterance of <src-data-dir> once per speed factor.

    As Kaldi's utils/data/perturb_data_dir_speed_3way.sh: the copy at factor F reads its audio
    through 'sox ... speed F |' in wav.scp (sox must be installed), or with --method audio from a
    FLAC file written here; its utterance, speaker and recording ids start with 'sp<F>-';
    segments and durations are scaled, utt2uniq maps each copy to its original, spk2gender,
    utt2lang and reco2file_and_channel are copied. feats.scp and utt2num_frames are not carried
    over: compute features again; other files are named in a warning.

    \b
    e.g. asrkit-perturb-data-dir-speed data/train data/train_sp &&
         asrkit-compute-fbank scp:data/train_sp/wav.scp \\
           ark,scp:dump/train_sp/feats.ark,dump/train_sp/feats.scp
    """
    report = perturb_data_dir_speed(src, dst, _factors(factors), method=method)
    if report.dropped_tables:
        log.info("not carried over (compute them again): %s", " ".join(report.dropped_tables))
    if report.other_files:
        log.warning("%s: not carried over to %s (not known to this command; copy or make them again for the "
                    "copies' ids): %s", src, dst, " ".join(report.other_files))
    click.echo(f"Wrote {report.num_utts * len(report.factors)} utterances ({report.num_utts} x speeds "
               f"{' '.join(f'{f:g}' for f in report.factors)}) to {dst}", err=True)
