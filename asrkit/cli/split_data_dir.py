"""asrkit-split-data-dir: N pieces of a data dir for N parallel jobs, in <data>/split<N>/<JOB>/."""
from __future__ import annotations

import click

from asrkit.cli._common import asrkit_command, refuse_empty_name
from asrkit.data.split import sizes_text, split_data_dir


@asrkit_command("split-data-dir")
@click.option("--per-spk/--per-utt", "per_spk", default=True, show_default=True,
              help="Keep each speaker's utterances in one piece (default), or split by utterance.")
@click.option("--force", is_flag=True, help="Split again even if split<N> is up to date.")
@click.argument("data_dir", metavar="<data-dir>", callback=refuse_empty_name)
@click.argument("num", metavar="<N>", type=click.IntRange(min=1))
def main(per_spk: bool, force: bool, data_dir: str, num: int) -> None:
    """Split <data-dir> into <N> pieces <data-dir>/split<N>/{1..N}/, as Kaldi's utils/split_data.sh.

    Each piece is a data dir of its own (wav.scp/segments, text, utt2spk, spk2utt, feats.scp,
    utt2num_frames, ... filtered to its utterances), balanced in utterances. By default speakers
    are kept whole (fails if N exceeds the number of speakers); --per-utt splits by utterance.
    A split made the same way from tables of the same content (sizes and hashes kept in
    split<N>/.split_mode), newer than every table of <data-dir>, is reused, unless a piece's
    file was changed since (edited by hand): then it is made again, saying so.

    e.g. asrkit-split-data-dir data/train 4 && ls data/train/split4/1
    """
    result = split_data_dir(data_dir, num, per_utt=not per_spk, force=force)
    how = "reused" if result.reused else "wrote"
    click.echo(f"Done: {how} {num} pieces in {data_dir}/split{num} "
               f"({'per speaker' if per_spk else 'per utterance'}; utterances {sizes_text(result.sizes)})",
               err=True)
