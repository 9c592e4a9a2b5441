"""asrkit-train: train (or resume) a LAS model from dump dirs and a tokenizer into an exp dir."""
from __future__ import annotations

import click

from asrkit.cli._common import asrkit_command


@asrkit_command("train")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="Training config YAML (model:, optim:, batching:, training:, augment:).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override one config value, e.g. --set training.max_epochs=3 (repeatable).")
@click.option("--train-dir", type=click.Path(),
              help="Dump dir: feats.scp, utt2num_frames, text; or audio (fbank computed while loading, augment: applies): "
                   "wav.scp [segments], utt2num_frames or utt2dur, text, fbank.yaml. "
                   "Required unless --print-config.")
@click.option("--valid-dir", type=click.Path(), help="Dev dump dir for validation loss/accuracy/CER and plots.")
@click.option("--lang-dir", type=click.Path(),
              help="Dir with tokens.model (asrkit-train-tokenizer). Required unless --print-config.")
@click.option("--cmvn", type=click.Path(), help="Global CMVN stats (asrkit-compute-cmvn), applied while loading.")
@click.option("--norm-vars", type=click.BOOL, default=True, show_default=True, help="Normalise variances too.")
@click.option("--fbank-config", type=click.Path(dir_okay=False),
              help="The options the features were made with, stored in model.pt for decoding audio "
                   "and, for a dump dir of audio, the ones to compute them with "
                   "[default: TRAIN_DIR/fbank.yaml, which asrkit-compute-fbank writes; without either, "
                   "model.pt decodes features only].")
@click.option("--ngpu", type=int, default=None,
              help="0: CPU; 1: one GPU; N>1: N processes with DDP on this machine [default: a GPU if there is one]. "
                   "Under torchrun or srun the environment sets the ranks.")
@click.option("--seed", type=int, default=None, help="Random seed (overrides training.seed).")
@click.option("--print-config", is_flag=True,
              help="Print the resolved config (YAML, every default written out) on stdout and exit, reading no data.")
@click.argument("exp_dir", type=click.Path(), required=False)
def main(config, overrides, train_dir, valid_dir, lang_dir, cmvn, norm_vars, fbank_config, ngpu, seed, print_config,
         exp_dir, **_):
    """Train a LAS model into EXP_DIR; re-running on an EXP_DIR with checkpoints resumes it.

    Writes EXP_DIR/config.yaml (the resolved config), checkpoints/epoch<N>.pt, log/train.log,
    log/curves.csv, plots/<utt>.epoch<N>.png and, at the end, model.pt (the best epoch, packed
    with the feature config, CMVN and tokenizer).

    \b
    e.g.: asrkit-train --config conf/train.yaml --train-dir dump/train --valid-dir dump/dev \\
            --lang-dir data/lang --cmvn dump/train/cmvn.ark --ngpu 1 --seed 1 exp/las
          asrkit-train --config conf/train.yaml --set optim.lr=0.002 --print-config
    """
    from asrkit.training.config import load_config, resolve_fbank_config
    from asrkit.utils.errors import AsrkitError

    if ngpu is not None and ngpu < 0:
        raise AsrkitError(f"--ngpu {ngpu}: must be >= 0")
    # The configs first, without torch: a bad one fails here, in a moment, before any data is read.
    cfg = load_config(config, overrides)
    if seed is not None:
        cfg.training.seed = seed
    if print_config:  # ESPnet's habit: what would run, with nothing read, started or written
        from asrkit.training.config import dump_config

        click.echo(dump_config(cfg), nl=False)
        return
    for value, name in ((train_dir, "--train-dir"), (lang_dir, "--lang-dir"), (exp_dir, "EXP_DIR")):
        if not value:
            raise click.UsageError(f"missing {name} (only --print-config runs without it)")
    fbank = resolve_fbank_config(train_dir, fbank_config)

    from asrkit.launch.distributed import detect_distributed
    from asrkit.training.train_asr import TrainArgs, launch_local, train

    args = TrainArgs(exp_dir=exp_dir, train_dir=train_dir, valid_dir=valid_dir, lang_dir=lang_dir, config=cfg,
                     fbank=fbank, cmvn=cmvn, norm_vars=norm_vars, ngpu=ngpu,
                     verbose=click.get_current_context().params.get("verbose", 0))
    if ngpu is not None and ngpu > 1 and detect_distributed() is None:
        import torch

        if torch.cuda.device_count() < ngpu:
            raise AsrkitError(f"--ngpu {ngpu}: this machine has {torch.cuda.device_count()} GPU(s)")
        launch_local(args, ngpu)
        return
    train(args)
