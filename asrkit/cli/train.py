"""asrkit-train: train (or resume) a LAS model from dump dirs and a tokenizer into an exp dir."""
from __future__ import annotations

import click

from asrkit.cli._common import asrkit_command, dash_as_stdio, refuse_empty_name, require_unless_print_config
from asrkit.utils.fileio import names_stdin


@asrkit_command("train")
@click.option("--config", "config", callback=refuse_empty_name, type=click.Path(dir_okay=False),
              help="Training config YAML (model:, optim:, batching:, training:, augment:, finetune:); '-': stdin, "
                   "e.g. from a pipe.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override one config value, e.g. --set training.max_epochs=3 (repeatable).")
@click.option("--train-dir", callback=refuse_empty_name, type=click.Path(),
              help="Dump dir: feats.scp, utt2num_frames, text; or audio (fbank computed while loading, augment: applies): "
                   "wav.scp [segments], utt2num_frames or utt2dur, text, fbank.yaml. "
                   "Required unless --print-config.")
@click.option("--valid-dir", callback=refuse_empty_name, type=click.Path(),
              help="Dev dump dir for validation loss/accuracy/CER and plots.")
@click.option("--lang-dir", callback=refuse_empty_name, type=click.Path(),
              help="Dir with tokens.model (asrkit-train-tokenizer). Required unless --print-config.")
@click.option("--cmvn", callback=refuse_empty_name, type=click.Path(),
              help="Global CMVN stats (asrkit-compute-cmvn), applied while loading.")
@click.option("--norm-vars", type=click.BOOL, default=True, show_default=True, help="Normalise variances too.")
@click.option("--fbank-config", callback=refuse_empty_name, type=click.Path(dir_okay=False),
              help="The options the features were made with, stored in model.pt for decoding audio "
                   "and, for a dump dir of audio, the ones to compute them with "
                   "[default: TRAIN_DIR/fbank.yaml, which asrkit-compute-fbank writes; without either, "
                   "model.pt decodes features only].")
@click.option("--ngpu", type=int, default=None,
              help="0: CPU; 1: one GPU; N>1: N processes with DDP on this machine [default: a GPU if there is one]. "
                   "Under torchrun or srun the environment sets the ranks.")
@click.option("--seed", type=int, default=None,
              help="Random seed (sets training.seed; a --set training.seed=N given beside it wins).")
@click.option("--init", "init", callback=refuse_empty_name, type=click.Path(dir_okay=False), default=None,
              help="Start from this packed model's (or training checkpoint's) weights (finetune.init), e.g. "
                   "exp/an4/model.pt or exp/an4/checkpoints/epoch5.pt; read only by a fresh run: a resumed one "
                   "takes its weights from its checkpoint.")
@click.option("--init-modules", default=None, metavar="NAME,...",
              help="What --init takes (finetune.init_modules) [default: all]: listener, speller, attention, ctc or a "
                   "finer dotted module path (speller.output, listener.layers.0). speller and ctc need the same "
                   "token list; the features' dimension must match in any case.")
@click.option("--freeze", default=None, metavar="NAME,...",
              help="Modules whose parameters are never updated (finetune.freeze), named as for --init-modules.")
@click.option("--print-config", is_flag=True,
              help="Print the resolved config (YAML, every default written out) on stdout and exit, reading no data.")
@click.argument("exp_dir", callback=refuse_empty_name, type=click.Path(), required=False)
def main(config, overrides, train_dir, valid_dir, lang_dir, cmvn, norm_vars, fbank_config, ngpu, seed, init,
         init_modules, freeze, print_config, exp_dir, **_):
    """Train a LAS model into EXP_DIR; re-running on an EXP_DIR with checkpoints resumes it.

    Writes EXP_DIR/config.yaml (the resolved config), checkpoints/epoch<N>.pt, log/train.log,
    log/curves.csv, plots/<utt>.epoch<N>.png and, at the end, model.pt (the best epoch, packed
    with the feature config, CMVN and tokenizer).

    With --init it starts from another packed model's weights (all of them, or the modules of
    --init-modules) and with --freeze keeps modules fixed (docs/training.md, "Fine-tuning").

    \b
    e.g.: asrkit-train --config conf/train.yaml --train-dir dump/train \\
            --valid-dir dump/dev --lang-dir data/lang --cmvn dump/train/cmvn.ark \\
            --ngpu 1 --seed 1 exp/las
    e.g.: asrkit-train ... --init ../an4/exp/las/model.pt \\
            --init-modules listener --freeze listener exp/ft
          asrkit-train --config conf/train.yaml --set optim.lr=0.002 \\
            --print-config
    """
    from asrkit.training.config import load_config, resolve_fbank_config
    from asrkit.utils.errors import AsrkitError

    if ngpu is not None and ngpu < 0:
        raise AsrkitError(f"--ngpu {ngpu}: must be >= 0")
    # The configs first, without torch: a bad one fails here, in a moment, before any data is read.
    finetune = []
    labels = {}  # an error these options bring in names the option, not the config file
    if init is not None:
        finetune.append(f"finetune.init={_yaml_str(init)}")
        labels[finetune[-1]] = f"--init {init}"
    for key, names in (("init_modules", init_modules), ("freeze", freeze)):
        if names is not None:
            finetune.append(f"finetune.{key}=[{', '.join(_yaml_str(n.strip()) for n in names.split(','))}]")
            labels[finetune[-1]] = f"--{key.replace('_', '-')} {names}"
    # --seed is applied as the first override, so that an explicit --set training.seed=N (given by
    # hand after a recipe's --seed 1) is not silently replaced by it.
    seed_set = [] if seed is None else [f"training.seed={seed}"]
    if seed is not None:
        labels[seed_set[0]] = f"--seed {seed}"
    # Kaldi's '-' (was "-: no such file")
    config, fbank_config = dash_as_stdio(config, "stdin"), dash_as_stdio(fbank_config, "stdin")
    if config and names_stdin(config):  # before it is read: the other input's data read as the YAML
        from asrkit.data.specifier import refuse_stdin_read_twice

        refuse_stdin_read_twice([("--config -", config), ("--fbank-config", fbank_config), ("--cmvn", cmvn),
                                 ("--init", init)])
    cfg = load_config(config, [*seed_set, *overrides, *finetune], labels)
    if print_config:  # ESPnet's habit: what would run, with nothing read, started or written
        from asrkit.training.config import dump_config

        click.echo(dump_config(cfg), nl=False)
        return
    require_unless_print_config((train_dir, "--train-dir"), (lang_dir, "--lang-dir"), (exp_dir, "EXP_DIR"))
    fbank = resolve_fbank_config(train_dir, fbank_config)
    from pathlib import Path

    from asrkit.training.checkpoint import has_checkpoints

    # (the same test as the run's own, which then skips --init: a glob of its own here took a
    # dangling interrupted.pt link for a resume, and --init was neither checked nor read)
    if cfg.finetune.init and not has_checkpoints(Path(exp_dir)):
        from asrkit.utils.torch_files import check_torch_file_path

        try:  # (a named pipe or /dev/null was 'no such model file')
            check_torch_file_path(cfg.finetune.init, "a model", "model.pt")
        except AsrkitError as e:
            # One from the config file was "--init <it>: no such model file", an option the command
            # line did not have: it is named at the file's line, which cfg.lines keeps only where no
            # --init or --set replaced it (TrainConfig.init_named's rule; --set is --init's spelling).
            line = cfg.lines.get("finetune.init")
            raise AsrkitError(f"{cfg.source}:{line}: finetune.init: {e}" if line else f"--init {e}") from None

    from asrkit.launch.distributed import detect_distributed
    from asrkit.training.train_asr import TrainArgs, launch_local, train

    args = TrainArgs(exp_dir=exp_dir, train_dir=train_dir, valid_dir=valid_dir, lang_dir=lang_dir, config=cfg,
                     fbank=fbank, cmvn=cmvn, norm_vars=norm_vars, ngpu=ngpu,
                     verbose=click.get_current_context().params.get("verbose", 0))
    if ngpu is not None and ngpu > 1 and detect_distributed(local_processes=ngpu) is None:
        import torch

        if torch.cuda.device_count() < ngpu:
            raise AsrkitError(f"--ngpu {ngpu}: this machine has {torch.cuda.device_count()} GPU(s)")
        launch_local(args, ngpu)
        return
    train(args)


def _yaml_str(text: str) -> str:
    """``text`` as a YAML string for a --set value (a path like ``1e3`` or ``on`` stays a string)."""
    import json

    return json.dumps(text)
