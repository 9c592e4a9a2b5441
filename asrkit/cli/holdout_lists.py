"""asrkit-holdout-lists: which utterances of a data dir train, which are held out for dev and test."""
from __future__ import annotations

import click

from asrkit.cli._common import asrkit_command, dash_as_stdio, refuse_empty_name
from asrkit.data.holdout import holdout_lists
from asrkit.utils.fileio import refuse_one_stream_twice


@asrkit_command("holdout-lists")
@click.option("--dev-fraction", type=float, default=0.0, help="Share of utterances drawn for dev (at least 1).")
@click.option("--test-fraction", type=float, default=0.0, help="Share of utterances drawn for test (at least 1).")
@click.option("--dev-list", type=click.Path(dir_okay=False), callback=refuse_empty_name,
              help="Utterance ids for dev (first column of each line).")
@click.option("--test-list", type=click.Path(dir_okay=False), callback=refuse_empty_name,
              help="Utterance ids for test (first column of each line).")
@click.option("--by-speaker", is_flag=True,
              help="Draw whole speakers (no dev/test speaker is trained on) until the fraction is reached.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the draw: the same seed, the same split.")
@click.argument("data_dir", metavar="DATA-DIR", callback=refuse_empty_name)
@click.argument("out_dir", metavar="OUT-DIR", callback=refuse_empty_name)
def main(dev_fraction, test_fraction, dev_list, test_list, by_speaker, seed, data_dir, out_dir):
    """Write OUT-DIR/{train,dev,test}.list, the utterance ids of each set, from DATA-DIR/utt2spk.

    Each held-out set is a fraction drawn at random (seeded) or an explicit list; the rest is
    train. A set not asked for gets no list. Make the data dirs with bin/subset_data_dir.sh.

    \b
    e.g. asrkit-holdout-lists --dev-fraction 0.05 --test-fraction 0.05 \\
           data/all data/local &&
         utils/subset_data_dir.sh --utt-list data/local/dev.list data/all data/dev
    """
    # Kaldi's '-' (was "-: cannot read the list: No such file or directory")
    dev_list, test_list = (dash_as_stdio(p, "stdin") if p is not None else None for p in (dev_list, test_list))
    refuse_one_stream_twice({"--dev-list": dev_list, "--test-list": test_list})
    sets = holdout_lists(data_dir, out_dir, dev_fraction=dev_fraction, test_fraction=test_fraction,
                         dev_list=dev_list, test_list=test_list, by_speaker=by_speaker, seed=seed)
    sizes = ", ".join(f"{name} {len(utts)}" for name, utts in sets.items() if utts)
    written = [name for name, utts in sets.items() if utts]
    # Shell brace form for several lists; one alone in braces was printed as a literal "{train}.list",
    # a file name that does not exist (a shell expands braces only around a comma).
    names = written[0] if len(written) == 1 else f"{{{','.join(written)}}}"
    click.echo(f"Done: {sizes} utterances -> {out_dir}/{names}.list", err=True)
