"""asrkit-validate-data-dir: check a Kaldi data directory, listing every problem as file:line."""
from __future__ import annotations

import shlex
from pathlib import Path

import click

from asrkit.cli._common import asrkit_command, refuse_empty_name
from asrkit.data.datadir import dir_problem
from asrkit.data.validate import validate_data_dir
from asrkit.utils.errors import AsrkitError


@asrkit_command("validate-data-dir")
@click.option("--no-text", is_flag=True, help="Do not require a text file.")
@click.option("--no-feats", is_flag=True, help="Do not check feats.scp / utt2num_frames even if present.")
@click.option("--no-wav", is_flag=True, help="Do not require audio (wav.scp / segments).")
@click.option("--no-check-files", is_flag=True, help="Do not check that the audio files of wav.scp and the arks of feats.scp exist.")
@click.option("--check-feats-headers", is_flag=True,
              help="Read the matrix header at every feats.scp offset (one small read per utterance; by default "
                   "only each ark's last, which finds an ark cut short), and check utt2num_frames against it.")
@click.argument("data_dir", callback=refuse_empty_name, metavar="<data-dir>")
def main(no_text: bool, no_feats: bool, no_wav: bool, no_check_files: bool, check_feats_headers: bool,
         data_dir: str) -> None:
    """Check <data-dir> as Kaldi's utils/validate_data_dir.sh does.

    Tables sorted in C-locale order with unique ids; every utterance with audio (wav.scp, or
    segments into wav.scp) and text; utt2spk and spk2utt consistent; feats.scp and utt2num_frames
    consistent when present; segments well formed. Every problem is printed as file:line; exit
    status 1 if there is any error (warnings alone pass).

    e.g. asrkit-validate-data-dir data/train
    """
    missing = dir_problem(Path(data_dir))
    if missing:  # one line; "asrkit-fix-data-dir nodir repairs ... sorting" followed it, a fix for nothing
        raise AsrkitError(f"{data_dir}: {missing}")
    problems = validate_data_dir(data_dir, no_text=no_text, no_feats=no_feats, no_wav=no_wav,
                                 check_wav_files=not no_check_files, check_feats_headers=check_feats_headers)
    errors = [p for p in problems if p.is_error]
    # Grouped by file and line so a user can walk through each file once.
    for p in sorted(problems, key=lambda p: (p.file, p.line or 0)):
        click.echo(f"{'ERROR' if p.is_error else 'WARNING'}: {p}", err=True)
    if errors:
        raise AsrkitError(f"{data_dir}: {len(errors)} error(s), {len(problems) - len(errors)} warning(s); "
                          f"asrkit-fix-data-dir {shlex.quote(str(data_dir))} repairs missing/extra ids and sorting")
    click.echo(f"Successfully validated data directory {data_dir}"
               + (f" ({len(problems)} warning(s))" if problems else ""), err=True)
