"""asrkit-average: average the N best checkpoints of an exp dir into model.avg.pt."""
from __future__ import annotations

import click

from asrkit.cli._common import asrkit_command, dash_as_stdio, refuse_empty_name


@asrkit_command("average")
@click.option("--num", type=int, default=5, show_default=True, help="How many of the best checkpoints to average.")
@click.option("--metric", type=click.Choice(["valid_loss", "valid_acc", "valid_cer"]), default=None,
              help="Rank checkpoints by this [default: training.best_metric of the run].")
@click.option("--max-epoch", type=int, default=None,
              help="Only the epochs up to N, ranked as at epoch N: what a run stopped there would average "
                   "(with its checkpoints kept: training.keep_best).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, callback=refuse_empty_name,
              help="Output ('-': stdout) [default: EXP_DIR/model.avg.pt].")
@click.argument("exp_dir", type=click.Path(), callback=refuse_empty_name)
def main(num, metric, max_epoch, out, exp_dir):
    """Average the weights of EXP_DIR's NUM best checkpoints into a packed model (EXP_DIR/model.avg.pt).

    \b
    e.g.: asrkit-average --num 5 exp/las
          asrkit-average --num 5 --max-epoch 18 --out exp/las/model.avg_e18.pt exp/las
    """
    from asrkit.training.average import average_checkpoints

    # Kaldi's '-' (was a file named '-' in the current directory)
    average_checkpoints(exp_dir, num, dash_as_stdio(out) if out else None, metric, max_epoch)
