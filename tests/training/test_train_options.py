"""asrkit-train's options at the edges of what they take: what the config accepts, training runs with."""
from __future__ import annotations

from .yesno_dump import make_raw_dump, yesno_waves


def test_a_negative_seed_trains_on_augmented_audio(yesno_setup, yesno_root, tmp_path, asrkit):
    """training.seed takes any 64-bit integer (torch does), but the on-the-fly augmentation of a
    dump dir of audio seeds numpy's SeedSequence with it, which takes no negative number:
    --seed -3 was a ValueError traceback at the first batch."""
    raw = make_raw_dump(tmp_path / "raw", yesno_waves(yesno_root)[:8], yesno_setup / "dump" / "train" / "fbank.yaml")
    exp = tmp_path / "exp"
    proc = asrkit("train", "--config", yesno_setup / "conf" / "train.yaml", "--train-dir", raw,
                  "--lang-dir", yesno_setup / "data" / "lang", "--ngpu", "0", "--seed", "-3",
                  "--set", "training.max_epochs=1", "--set", "augment.speed_factors=[0.9, 1.1]", exp)
    assert "Traceback" not in proc.stderr.decode()
    assert (exp / "model.pt").is_file()


def test_a_batch_the_cpu_cannot_allocate_is_skipped_as_an_out_of_memory_one(yesno_setup, monkeypatch, caplog):
    """The CPU allocator's failure reads "can't allocate memory", not CUDA's "out of memory": a model
    too big for the host (attention.conv_channels 1e8 asked for 190 GB in its first forward) was
    a traceback through the model's code, where a GPU's batch is skipped and named."""
    import pytest

    from asrkit.utils.errors import AsrkitError

    from .ddp_grads import build

    trainer, _, _ = build(yesno_setup)

    def no_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                           "memory: you tried to allocate 190800000000 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(trainer, "forward_backward", no_memory)
    with caplog.at_level("WARNING"), pytest.raises(AsrkitError, match=r"^epoch 1: no update was made: all \d+ "
                                                                      r"batches were skipped .*out of memory"):
        trainer.train_epoch(1)
    assert "epoch 1 batch 1: out of memory (" in caplog.text


def test_an_lm_config_value_the_command_line_replaces_is_checked_as_replaced(tmp_path):
    """asrkit-train-lm checked its config file before the options replaced its values: a file's
    max_epochs 0 with --max-epochs 3 was refused (asrkit-train's --set replaces a file's value
    before the checks). The file's own error, and the option's, are still named as theirs."""
    import yaml
    from click.testing import CliRunner

    from asrkit.cli import main

    conf = tmp_path / "lm.yaml"
    conf.write_text("max_epochs: 0\nlr: 0.01\n")
    res = CliRunner().invoke(main, ["train-lm", "--config", str(conf), "--max-epochs", "3", "--print-config"])
    assert res.exit_code == 0, res.stderr
    assert yaml.safe_load(res.stdout)["max_epochs"] == 3 and yaml.safe_load(res.stdout)["lr"] == 0.01
    res = CliRunner().invoke(main, ["train-lm", "--config", str(conf), "--print-config"])
    assert res.exit_code == 1 and f"ERROR (asrkit-train-lm): {conf}:1: max_epochs must be positive, got 0" in res.stderr
    # a value of the wrong type that an option replaces was refused by the file's type check
    conf.write_text("max_epochs: 3\nlr: abc\n")
    res = CliRunner().invoke(main, ["train-lm", "--config", str(conf), "--lr", "0.02", "--print-config"])
    assert res.exit_code == 0 and yaml.safe_load(res.stdout)["lr"] == 0.02, res.stderr
    conf.write_text("max_epochs: 0\nlr: 0.01\n")
    res = CliRunner().invoke(main, ["train-lm", "--config", str(conf), "--max-epochs", "2", "--batch-size", "0",
                                    "--print-config"])
    assert res.exit_code == 1 and "ERROR (asrkit-train-lm): command line: batch_size must be positive, got 0" \
        in res.stderr, res.stderr


def test_a_missing_finetune_init_is_named_where_it_was_given(yesno_setup, tmp_path):
    """finetune.init from the config file was reported as "--init <it>: no such model file", an
    option the command line did not have (--set finetune.init is --init's spelling, named so)."""
    from click.testing import CliRunner

    from asrkit.cli import main

    conf = tmp_path / "train.yaml"
    conf.write_text(f"finetune: {{init: {tmp_path / 'no.pt'}}}\n")
    base = ["train", "--train-dir", str(yesno_setup / "dump" / "train"), "--lang-dir",
            str(yesno_setup / "data" / "lang"), "--ngpu", "0"]
    for extra, named in (([], f"{conf}:1: finetune.init: {tmp_path / 'no.pt'}: no such model file"),  # at its line
                         (["--set", f"finetune.init={tmp_path / 'set.pt'}"],
                          f"--init {tmp_path / 'set.pt'}: no such model file"),
                         (["--init", str(tmp_path / "opt.pt")], f"--init {tmp_path / 'opt.pt'}: no such model file")):
        res = CliRunner().invoke(main, [*base, "--config", str(conf), *extra, str(tmp_path / "exp")])
        assert res.exit_code == 1 and f"ERROR (asrkit-train): {named}\n" in res.stderr, res.stderr
    assert not (tmp_path / "exp").exists()


def test_a_frequency_mask_as_wide_as_the_features_is_warned_about(yesno_setup, tmp_path, asrkit):
    """SpecAugConfig's freq_width 30 is ESPnet's for 80 bins: `specaug: {}` on the 23-bin yesno
    features trained with masks that hid every bin of one utterance in about twelve, without a word."""
    from .yesno_dump import train_args

    fast = ["--set", "training.max_epochs=1", "--set", "training.num_plots=0", "--set", "training.valid_cer=false"]
    err = asrkit(*train_args(yesno_setup, tmp_path / "wide", *fast, "--set", "model.specaug={}")).stderr.decode()
    assert ("--set 'model.specaug={}': model.specaug.freq_width 30 is not below the features' 23 bins: a frequency "
            "mask can hide every bin") in err  # (named where it was given: test_run_time_checks_name_the_config_line)
    err = asrkit(*train_args(yesno_setup, tmp_path / "narrow", *fast,
                             "--set", "model.specaug={freq_width: 5}")).stderr.decode()
    assert "is not below the features" not in err


def test_a_dev_batch_out_of_memory_is_one_line(yesno_setup, tmp_path, monkeypatch):
    """Training skips a batch that does not fit in memory; validation has no such rule, and its
    out-of-memory error (CUDA's, or the CPU allocator's) was a traceback through the model's code."""
    import pytest

    from asrkit.utils.errors import AsrkitError

    from .ddp_grads import build

    trainer, _, _ = build(yesno_setup)
    trainer.exp_dir = tmp_path
    trainer.loop.max_epochs = 1
    monkeypatch.setattr(trainer, "train_epoch", lambda e: {"train_loss": 1.0, "train_acc": 0.0,
                                                          "train_frames_per_s": 1.0, "train_time_s": 1.0})

    def no_memory(epoch):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.1 GiB total capacity)")

    monkeypatch.setattr(trainer, "validate", no_memory)
    with pytest.raises(AsrkitError, match=r"^epoch 1, validation: out of memory \(CUDA out of memory\. Tried to "
                                          r"allocate 20\.00 GiB .*\): lower batching\.max_frames; "):
        trainer.run()
    assert not (tmp_path / "checkpoints" / "epoch1.pt").exists()


def test_too_many_workers_are_refused_before_the_data_is_read(yesno_setup, tmp_path, monkeypatch):
    """batching.num_workers past 8 per core (a typo's 100000) was refused only where the first
    DataLoader was made: after the training and dev sets were read, with batching.cache_features
    every feature matrix of them (minutes on a large corpus), for a value known at the start."""
    from tests.cli_checks import error_line, run_asrkit_in_process

    from asrkit.training import train_asr
    from asrkit.utils.errors import AsrkitError

    from .yesno_dump import train_args

    read = []

    def no_reading(args, data_dir, *rest, **kwargs):
        read.append(data_dir)
        raise AsrkitError(f"{data_dir}: read")

    monkeypatch.setattr(train_asr, "_dataset", no_reading)
    proc = run_asrkit_in_process(*train_args(yesno_setup, tmp_path / "exp", "--set", "batching.cache_features=true",
                                             "--set", "batching.num_workers=100000"), check=False)
    assert ("ERROR (asrkit-train): --set 'batching.num_workers=100000': batching.num_workers 100000 is more than 8 "
            "per core of this machine") in error_line(proc)
    assert read == []


def test_run_time_checks_name_the_config_line(yesno_setup, tmp_path):
    """The checks made once the run is under way, against this machine or the data, named the key but
    not where it was given, as the checks made when the config loads do (conf/train.yaml:12:): a
    recipe's config, its --train-args and the defaults all hold a batching.max_frames. Here from
    the file: the workers past the cores, the SpecAugment mask as wide as the features (a warning),
    and a max_frames no utterance fits. (--set: the tests above; the ranks of --ngpu N get them in
    the pickled config: tests/training/test_config.py.)"""
    from tests.cli_checks import error_line, run_asrkit_in_process

    from .yesno_dump import TINY_CONFIG, config_at_lines, train_args

    conf = tmp_path / "train.yaml"
    model = {**TINY_CONFIG["model"], "specaug": {"freq_masks": 1, "freq_width": 40}}
    at = config_at_lines(conf, {**TINY_CONFIG, "model": model, "batching": {"max_frames": 10, "num_workers": 100000}})
    args = train_args(yesno_setup, tmp_path / "exp", "--set", "training.num_plots=0")
    args[args.index("--config") + 1] = conf
    proc = run_asrkit_in_process(*args, check=False)
    assert (f"ERROR (asrkit-train): {conf}:{at['num_workers']}: batching.num_workers 100000 is more than 8 per core "
            f"of this machine") in error_line(proc)
    config_at_lines(conf, {**TINY_CONFIG, "model": model, "batching": {"max_frames": 10}})
    proc = run_asrkit_in_process(*args, check=False)
    assert (f"{conf}:{at['freq_width']}: model.specaug.freq_width 40 is not below the features' 23 bins"
            in proc.stderr.decode())
    assert (f"ERROR (asrkit-train): {conf}:{at['max_frames']}: no training batch fits batching.max_frames=10 "
            f"(shortest utterance: ") in error_line(proc)


def test_a_finished_run_started_again_takes_more_workers_than_this_machine_has(yesno_setup, tmp_path):
    """A run trained on a larger machine (batching.num_workers within 8 per core there) and started
    again here, as asr.sh's stage 4 does, has no epoch left and makes no loader: it ends as before,
    not refused by the check made before the data is read, which is a fresh run's."""
    import os

    from tests.cli_checks import run_asrkit_in_process

    from .yesno_dump import train_args

    exp = tmp_path / "exp"
    run_asrkit_in_process(*train_args(yesno_setup, exp, "--set", "training.max_epochs=1"))
    workers = 8 * (os.cpu_count() or 1) + 1
    proc = run_asrkit_in_process(*train_args(yesno_setup, exp, "--set", "training.max_epochs=1",
                                             "--set", f"batching.num_workers={workers}"), check=False)
    assert proc.returncode == 0, proc.stderr
    assert "training already finished at epoch 1" in proc.stderr.decode()


def test_run_time_warnings_and_the_device_name_the_config_line(yesno_setup, tmp_path):
    """The warnings of a run under way about its config (no dev set for training.patience to
    watch, utterances longer than batching.max_frames) and a training.device this machine has not
    named the key but not where it was given, as the model.specaug.freq_width warning and the
    run-time errors above do: a recipe's config, its --train-args and the defaults all hold one."""
    import re

    import torch

    from tests.cli_checks import error_line, run_asrkit_in_process

    from .yesno_dump import TINY_CONFIG, config_at_lines, train_args

    conf = tmp_path / "train.yaml"
    at = config_at_lines(conf, {**TINY_CONFIG, "batching": {"max_frames": 650},
                                "training": {**TINY_CONFIG["training"], "max_epochs": 1, "patience": 1}})
    args = train_args(yesno_setup, tmp_path / "exp", "--set", "training.num_plots=0")
    args[args.index("--config") + 1] = conf
    del args[args.index("--valid-dir"):args.index("--valid-dir") + 2]
    proc = run_asrkit_in_process(*args, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert f"{conf}:{at['patience']}: no --valid-dir: training.patience 1 stops nothing" in err, err
    assert re.search(re.escape(f"{conf}:{at['max_frames']}: ") + r"\d+ of 12 training utterances \([0-9.]+ %\) are "
                     r"longer than batching\.max_frames=650", err), err
    if not torch.cuda.is_available():
        at = config_at_lines(conf, {**TINY_CONFIG, "training": {**TINY_CONFIG["training"], "device": "cuda"}})
        args = train_args(yesno_setup, tmp_path / "exp2")
        args[args.index("--config") + 1] = conf
        del args[args.index("--ngpu"):args.index("--ngpu") + 2]  # (--ngpu decides over training.device)
        proc = run_asrkit_in_process(*args, check=False)
        assert (f"ERROR (asrkit-train): {conf}:{at['device']}: training.device 'cuda': a GPU is asked for, but CUDA "
                f"is not available here") in error_line(proc)
