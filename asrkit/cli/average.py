"""asrkit-average: average the N best checkpoints of an exp dir into model.avg.pt."""
from __future__ import annotations

import click

from asrkit.cli._common import OutputFile, asrkit_command, dash_as_stdio, refuse_empty_name


@asrkit_command("average")
@click.option("--num", type=int, default=None,
              help="How many of the best checkpoints to average [default: 5; of checkpoint files given: all].")
@click.option("--metric", type=click.Choice(["valid_loss", "valid_acc", "valid_cer"]), default=None,
              help="Rank checkpoints by this [default: training.best_metric of the run].")
@click.option("--max-epoch", type=int, default=None,
              help="Only the epochs up to N, ranked as at epoch N: what a run stopped there would average "
                   "(with its checkpoints kept: training.keep_best).")
@click.option("--out", type=OutputFile(), default=None, callback=refuse_empty_name,
              help="Output ('-': stdout) [default: EXP_DIR/model.avg.pt].")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(), callback=refuse_empty_name,
                metavar="EXP_DIR | CHECKPOINT...")
def main(num, metric, max_epoch, out, inputs):
    """Average the weights of EXP_DIR's NUM best checkpoints into a packed model (EXP_DIR/model.avg.pt).
    Given checkpoint files of one run instead (EXP_DIR/checkpoints/epoch<N>.pt, as ESPnet's
    average_checkpoints.py takes snapshots), the NUM best of them (all by default).

    \b
    e.g.: asrkit-average --num 5 exp/las
          asrkit-average --num 5 --max-epoch 18 --out exp/las/model.avg_e18.pt \\
              exp/las
          asrkit-average exp/las/checkpoints/epoch{8,9,10}.pt
    """
    from asrkit.training.average import average_checkpoints, checkpoints_given

    exp_dir, only = checkpoints_given(inputs)
    if num is None:
        num = len(only) if only is not None else 5
    # Kaldi's '-' (was a file named '-' in the current directory)
    average_checkpoints(exp_dir, num, dash_as_stdio(out) if out else None, metric, max_epoch, only)
