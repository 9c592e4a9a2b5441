import re

import pytest

from asrkit.models.las import LASConfig
from asrkit.training.config import build_config, dump_config, load_config
from asrkit.utils.errors import AsrkitError


def test_yaml_sections_and_overrides(tmp_path):
    p = tmp_path / "train.yaml"
    p.write_text("model: {ctc_weight: 0.3}\noptim: {lr: 1e-3, name: adadelta}\ntraining: {max_epochs: 4}\n")
    cfg = load_config(str(p), ["training.max_epochs=7", "model.listener.hidden=16", "batching.cache_features=true"])
    assert cfg.optim.name == "adadelta" and cfg.optim.lr == 1e-3  # '1e-3' is a str in YAML 1.1
    assert cfg.training.max_epochs == 7
    assert isinstance(cfg.model, LASConfig)
    assert cfg.model.ctc_weight == 0.3 and cfg.model.listener.hidden == 16
    assert cfg.model.listener.proj == LASConfig().listener.proj  # the rest: defaults
    assert cfg.batching.cache_features is True
    again = build_config(__import__("yaml").safe_load(dump_config(cfg)))
    assert again == cfg  # the written config.yaml reads back to the same config


@pytest.mark.parametrize("raw, overrides, message", [
    ({"trainig": {}}, [], "unknown section 'trainig'"),
    ({"training": {"max_epoch": 3}}, [], "unknown key 'training.max_epoch'"),
    ({"model": {"listner": {"hidden": 3}}}, [], "unknown key 'model.listner' (known: listener, attention"),
    ({}, ["model.listener.hiden=3"], "unknown key 'model.listener.hiden' (known: "),
    ({"model": {"ctc_weight": 2}}, [], "model: ctc_weight must be in [0, 1], got 2"),
    ({"model": {"attention": {"type": "dot"}}}, [], "unknown attention type 'dot'"),
    ({"training": {"max_valid_decode_ratio": 1.0}}, [],
     "training.max_valid_decode_ratio was removed: it never had an effect"),
    ({}, ["training.max_epochs=three"], "training.max_epochs: expected a number"),
    ({}, ["training.max_epochs=2.5"], "training.max_epochs: expected a number"),
    ({}, ["max_epochs=3"], "expected section.key=value"),
    ({}, ["optim.name=sgd"], "optim.name: 'sgd' is not one of adam, adadelta"),
    ({}, ["training.best_metric=wer"], "best_metric: 'wer'"),
    ({}, ["batching.shuffle=maybe"], "expected true or false"),
    # a negative ratio failed only after the data was read: "0 of 10 utterances lack features ... (more than
    # batching.max_missing_ratio=-1.0 ...)"
    ({}, ["batching.max_missing_ratio=-1"], "batching.max_missing_ratio must be in [0, 1] (the share of utterances "
                                            "that may lack features or a transcript), got -1"),
    ({}, ["batching.max_missing_ratio=1.5"], "batching.max_missing_ratio must be in [0, 1]"),
    # sizes a model cannot be built with (torch's own errors would come as tracebacks, or not at all)
    ({}, ["model.listener.hidden=0"],
     "--set 'model.listener.hidden=0': model.listener: listener.hidden must be >= 1, got 0"),
    ({}, ["model.listener.proj=-1"],
     "--set 'model.listener.proj=-1': model.listener: listener.proj must be >= 0 (0: none), got -1"),
    ({}, ["model.listener.vgg_channels=[0,3]"], "listener.vgg_channels must list 2 channel counts >= 1"),
    ({}, ["model.attention.scaling=0"], "attention.dim, heads and conv_channels must be >= 1, conv_width >= 0"),
    # conv_width 1e8 passed the parameter count (2e9 weights) and then convolved for hours;
    # scaling 1e300 made the attention weights NaN
    ({}, ["model.attention.conv_width=100000000"],
     "model.attention: attention.conv_width must be at most 1000 (encoder frames each side), got 100000000"),
    ({}, ["model.attention.scaling=1e300"],
     "--set 'model.attention.scaling=1e300': model.attention: attention.scaling must be at most 1000, got 1e+300"),
    ({}, ["model.speller.embed=0"], "speller.hidden and speller.embed must be >= 1, got 320 and 0"),
    ({}, ["model.speller.dropout=1"], "speller.dropout must be in [0, 1), got 1.0"),
    ({}, ["model.label_smoothing=1"], "label_smoothing must be in [0, 1), got 1.0"),
    ({"model": {"specaug": {"freq_width": -1}}}, [], "specaug: mask counts, widths and time_warp must be >= 0"),
    ({}, ["training.device=gpu"], "training.device: 'gpu' is not one of auto, cpu, cuda"),
    # decoding's --device takes cuda:N; a training's ranks each take their local rank's GPU
    ({}, ["training.device=cuda:1"], "training.device: 'cuda:1' is not one of auto, cpu, cuda (each rank takes the "
                                     "GPU of its local rank; CUDA_VISIBLE_DEVICES picks which)"),
    ({}, ["optim.lr=nan"], "optim.lr: expected a finite number, got 'nan'"),
    # "optim: accum_grad must be >= 1, lr > 0 and warmup_steps >= 0" left the user to find which
    ({}, ["optim.lr=-1"], "--set 'optim.lr=-1': optim.lr must be > 0, got -1"),
    ({"optim": {"lr": 0, "warmup_steps": -3}}, [],
     "config: optim.lr must be > 0, got 0; optim.warmup_steps must be >= 0, got -3"),
    ({}, ["batching.num_workers=-2"], "--set 'batching.num_workers=-2': batching.num_workers must be >= 0, got -2"),
    # torch's Adam refused these with a ValueError traceback once the data was read; a negative
    # final_lr_ratio trained with a negative rate (gradient ascent), a negative grad_clip unclipped
    # (without "eps >= 0": eps has its own bound, > 0, below)
    ({}, ["optim.betas=[1.5, 0.9]"], "--set 'optim.betas=[1.5, 0.9]': optim.betas must be in [0, 1), got [1.5, 0.9]"),
    ({}, ["optim.eps=-1"], "--set 'optim.eps=-1': optim.eps must be > 0 (at least 1.18e-38, float32's smallest "
                           "normal number; usually 1e-8 for adam, 1e-6 for adadelta): the optimizer divides by it "
                           "where a gradient is 0, got -1"),
    # 0/0 where a weight's gradient was 0 at the first step (an unused token's embedding row): NaN
    # weights, and the run stopped at epoch 1 blaming optim.lr (1e-320 the same: 0 in float32)
    ({}, ["optim.eps=0"], "optim.eps must be > 0 (at least 1.18e-38, float32's smallest normal number; "),
    ({}, ["optim.name=adadelta", "optim.eps=1e-39"], "the optimizer divides by it where a gradient is 0, got 1e-39"),
    # each named with its value: "optim: betas must be in [0, 1), weight_decay >= 0 and rho in [0, 1]" left
    # the user to find which (and a file's error was at betas' line)
    ({}, ["optim.weight_decay=-0.1"], "--set 'optim.weight_decay=-0.1': optim.weight_decay must be >= 0, got -0.1"),
    ({}, ["optim.name=adadelta", "optim.rho=2"], "--set 'optim.rho=2': optim.rho must be in [0, 1], got 2"),
    ({"optim": {"betas": [1, 0.9], "rho": -1}}, [],
     "config: optim.betas must be in [0, 1), got [1.0, 0.9]; optim.rho must be in [0, 1], got -1"),
    ({}, ["optim.scheduler=warmup_linear", "optim.final_lr_ratio=-5"],
     "--set 'optim.final_lr_ratio=-5': optim.final_lr_ratio must be >= 0, got -5"),
    ({}, ["optim.grad_clip=-1"], "--set 'optim.grad_clip=-1': optim.grad_clip must be >= 0 (0: no clipping), got -1"),
    # torch.manual_seed's OverflowError came as a traceback, after the data was read
    ({}, ["training.seed=100000000000000000000000"],
     "training.seed must be a 64-bit integer (-2**63 <= seed < 2**63), got 100000000000000000000000"),
    # a huge finite value passed the checks above and broke training later: lr 1e300 overflowed
    # float32 at the first optimizer step (a traceback), weight_decay the same, eps 1e300 made every
    # update 0, max_epochs 1e30 trained "done about never"; num_plots -5 silently made no plots
    ({}, ["optim.lr=1e300"], "--set 'optim.lr=1e300': optim.lr must be at most 1e+38, got 1e+300"),
    # under that bound, Adam's first step lr / (1 - betas[0]) still overflowed float32 (a traceback)
    ({}, ["optim.lr=1e38"], "--set 'optim.lr=1e38': optim.lr 1e+38 with optim.betas[0] 0.9: Adam's first step is "
                            "lr / (1 - betas[0]) = 1e+39, more than float32 holds (3.4e+38); lower optim.lr"),
    ({}, ["optim.betas=[0.999999, 0.98]", "optim.lr=1e33"], "Adam's first step is lr / (1 - betas[0]) = 1e+39"),
    ({}, ["optim.eps=1e300", "optim.weight_decay=1e300"],
     "optim.eps must be at most 1, got 1e+300; optim.weight_decay must be at most 1, got 1e+300"),
    ({}, ["optim.scheduler=warmup_linear", "optim.final_lr_ratio=1e300"],
     "optim.final_lr_ratio must be at most 1, got 1e+300"),
    ({}, ["optim.warmup_steps=1000000001"], "optim.warmup_steps must be at most 1000000000, got 1000000001"),
    ({}, ["training.max_epochs=1e7"], "training.max_epochs must be at most 1000000, got 10000000"),
    # (a float past 64 bits is no int: 1e30 was quoted as int(1e30), 1000000000000000019884624838656)
    ({}, ["optim.warmup_steps=1e30"], "optim.warmup_steps: expected an int (at most 64 bits), got 1e+30"),
    ({}, ["training.max_epochs=1e30"], "training.max_epochs: expected an int (at most 64 bits), got 1e+30"),
    ({}, ["training.patience=10000000", "training.keep_best=10000000"],
     "training.patience must be at most 1000000, got 10000000; training.keep_best must be at most 1000000"),
    ({}, ["training.max_time=1e300"], "training.max_time must be at most 1e+08, got 1e+300"),
    ({}, ["batching.max_frames=1e10"], "batching.max_frames must be at most 1000000000, got 10000000000"),
    ({}, ["training.num_plots=-5"], "--set 'training.num_plots=-5': training.num_plots must be >= 0, got -5"),
    ({}, ["training.teacher_forcing_decay_epochs=-1"], "training.teacher_forcing_decay_epochs must be >= 0, got -1"),
    # "training: max_epochs, keep_best, log_interval and max_bad_steps must be >= 1, patience, num_plots and
    # teacher_forcing_decay_epochs >= 0" named no key of the seven, nor the value; max_epochs -1 was "optim.
    # decay_epochs must be in [0, training.max_epochs=-1] ..., got 0", a key nobody had set
    ({"training": {"max_epochs": -1}}, [], "config: training.max_epochs must be >= 1, got -1"),
    ({"training": {"keep_best": 0, "patience": -2}}, [],
     "config: training.keep_best must be >= 1, got 0; training.patience must be >= 0, got -2"),
    # 1e9 masks: one pass over the batch each, the first step never ended
    ({"model": {"specaug": {"time_masks": 1000000000}}}, [],
     "model.specaug.time_masks must be at most 1000, got 1000000000"),
    ({"model": {"specaug": {"time_warp": 10**40}}}, [],
     "model.specaug.time_warp must be at most 1000000, got 1" + "0" * 40),
    # a million layers passed the parameter count when small (hidden 1), and when not took minutes
    # building the model's skeleton before the count refused it (a speller of 10**6 LSTM cells: ~6 min)
    ({}, ["model.speller.layers=1000000"], "speller.layers must be at most 100, got 1000000"),
    # a width past int64 was torch's "cannot build the model: ... Overflow when unpacking long long" once
    # the data was read, naming no key (one that fits in int64 is the parameter count's, as before)
    ({}, ["model.listener.hidden=100000000000000000000000000"],
     "model.listener: listener.hidden must be at most 1000000, got 100000000000000000000000000"),
    ({}, ["model.listener.vgg_channels=[64, 10000000]"], "listener.vgg_channels[1] must be at most 1000000, got 10000000"),
    ({}, ["model.attention.type=multihead", "model.attention.heads=1000001"],
     "model.attention: attention.heads must be at most 1000000, got 1000001"),
    ({}, ["model.speller.embed=100000000000000000000000000"], "speller.embed must be at most 1000000, got 1"),
    # a factor past int64 was an OverflowError traceback once the data was read (the CTC length check)
    # (and a float past 64 bits is no int, quoted as written: it was int(1e308)'s 309 digits)
    ({}, ["model.listener.subsample=[1e308, 1]"],
     "listener.subsample must be a non-empty list of integers >= 1 (one per BLSTM layer), got [1e+308, 1]"),
    ({}, ["model.listener.subsample=[100000000000000000000, 1]"],
     "listener.subsample factors must be at most 1000 (frames concatenated into one), got 100000000000000000000"),
    # an empty path read as none: random weights / no noise at exit 0, where --init '' is refused
    ({"finetune": {"init": ""}}, [], "config: finetune.init: '' is an empty path: give a file, or null (or leave the "
                                     "key out) for none"),
    ({}, ["augment.noise_scp=' '"], "--set \"augment.noise_scp=' '\": augment.noise_scp: ' ' is an empty path"),
    ({}, ["model.listener.subsample=[2, 1001]"], "listener.subsample factors must be at most 1000 (frames "
                                                 "concatenated into one), got 1001"),
    ({}, ["model.listener.subsample=[" + ", ".join(["1"] * 101) + "]"],
     "listener.subsample must list at most 100 factors (one per BLSTM layer), got 101"),
    # float() reads any script's digits: an Arabic-Indic 3 trained 3 epochs, a full-width 1e-3 at
    # that rate, where every other number asrkit reads (the CLI's, Kaldi's tables) is ASCII digits
    ({}, ["training.max_epochs=\u0663"], "training.max_epochs: expected a number (int), got '\u0663'"),
    ({}, ["optim.lr=\uff11e-3"], "optim.lr: expected a number (float), got '\uff11e-3'"),
    # at -300 dB the noise overflowed the fbank, and each noisy utterance was skipped as "non-finite
    # features; is the audio corrupt?", naming its speech recording
    ({}, ["augment.noise_snr_db=[-300, -300]"],
     "augment.noise_snr_db must be [low, high] within [-30, 100] dB (the speech's power over the noise's: 0 is as "
     "loud, -30 a noise 1000 times louder), got [-300.0, -300.0]"),
    ({}, ["augment.noise_snr_db=[0, 1000]"], "augment.noise_snr_db must be [low, high] within [-30, 100] dB"),
    ({}, ["augment.noise_snr_db=[20, 10]"], "augment.noise_snr_db must be [low, high], got [20.0, 10.0]"),
    # refused by LASTask only once the training and dev sets had been read (--print-config: exit 0)
    ({"model": {"ctc_weight": 1.0}}, ["training.best_metric=valid_acc"],
     "training.best_metric valid_acc is the attention decoder's token accuracy, and model.ctc_weight 1 (CTC alone) "
     "never trains the decoder: choose the best epoch by valid_loss or valid_cer (greedy decoding by the CTC "
     "head alone)"),
    # a --set value is one line of error too (PyYAML's message spans five lines, with a caret)
    ({}, ["training.max_epochs=[1"], "--set 'training.max_epochs=[1': value: not valid YAML: expected ',' or ']', "
                                     "but got '<stream end>' (while parsing a flow sequence)"),
    ({}, ["model.listener.subsample=[&a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a], "
          "&c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b], &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c], "
          "&e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d], [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]]"],
     "its aliases (*name) expand to more than 100,000 values"),
])
def test_bad_config_is_a_clear_error(raw, overrides, message):
    with pytest.raises(AsrkitError, match=re.escape(message)):
        build_config(raw, overrides)


def test_the_largest_sane_values_load():
    cfg = build_config({}, ["optim.lr=1000", "optim.eps=1", "optim.weight_decay=1", "optim.final_lr_ratio=1",
                            "training.max_epochs=1000000", "training.num_plots=0", "model.specaug={time_masks: 1000}",
                            "augment.noise_snr_db=[-30, 100]", "model.listener.subsample=[1000, 1]"])
    assert cfg.optim.lr == 1000 and cfg.training.max_epochs == 10**6 and cfg.model.specaug.time_masks == 1000
    assert cfg.model.listener.subsample == [1000, 1]
    # the bounds themselves load: a width of MAX_UNITS, and eps at float32's smallest normal number
    # (ESPnet's 1e-8, 1e-9 and 1e-16 for adam, 1e-6 for adadelta, are far above it)
    cfg = build_config({}, ["model.listener.hidden=1000000", "model.speller.embed=1000000",
                            "optim.eps=1.1754943508222875e-38"])
    assert cfg.model.listener.hidden == cfg.model.speller.embed == 10**6 and cfg.optim.eps > 0


def test_an_error_an_override_brings_in_names_it(tmp_path):
    """--set model.listener.hidden=abc was 'conf.yaml: model.listener.hidden: expected a number (int),
    got 'abc'' though the file says 128; --seed 10**23 'conf.yaml: training.seed must be ...'."""
    conf = tmp_path / "conf.yaml"
    conf.write_text("model: {listener: {hidden: 128}}\ntraining: {max_epochs: 3}\n")
    with pytest.raises(AsrkitError, match=re.escape("--set 'model.listener.hidden=abc': model.listener.hidden: "
                                                    "expected a number (int), got 'abc'")) as e:
        load_config(str(conf), ["training.max_epochs=4", "model.listener.hidden=abc"])
    assert str(conf) not in str(e.value)
    seed = "training.seed=100000000000000000000000"
    with pytest.raises(AsrkitError, match=r"^--seed 100000000000000000000000: training.seed must be a 64-bit"):
        load_config(str(conf), [seed], {seed: "--seed 100000000000000000000000"})
    # an error of the file itself is still the file's, whatever the command line sets beside it
    conf.write_text("model: {listener: {hidden: abc}}\n")
    with pytest.raises(AsrkitError, match=re.escape(f"{conf}:1: model.listener.hidden: expected a number (int)")):
        load_config(str(conf), ["training.max_epochs=4"])
    conf.write_text("optim: {lr: 1e300}\n")
    with pytest.raises(AsrkitError, match=re.escape(f"{conf}:1: optim.lr must be at most 1e+38")):
        load_config(str(conf), ["training.max_epochs=4"])


@pytest.mark.parametrize("text, overrides, message", [
    ("model:\n  listener:\n    hidden: 0\n", [], "3: model.listener: listener.hidden must be >= 1"),
    ("optim:\n  lr: 0.001\n  decay_over: budget\n", [], "3: optim.decay_over: budget needs optim.scheduler: "),
    ("optim: {lr: 0.1}\nbatching: {max_frames: 10}\nfoo: {}\n", [], "3: unknown section 'foo'"),
    # a section named by a number (an AttributeError traceback when its line was looked up)
    ("optim: {lr: 0.1}\n1.5: x\n", [], "2: unknown section 1.5 (known: model, optim, "),
    ("training:\n  max_valid_decode_ratio: 2\n", [], "2: training.max_valid_decode_ratio was removed"),
    # the key at fault, not the first of the section's keys checked together
    ("optim:\n  betas: [0.9, 0.98]\n  weight_decay: -1\n", [], "3: optim.weight_decay must be >= 0, got -1"),
    ("optim:\n  grad_clip: 5\n  final_lr_ratio: -1\n", [], "3: optim.final_lr_ratio must be >= 0, got -1"),
    ("model:\n  listener:\n    hidden: 320\n    proj: -1\n", [],
     "4: model.listener: listener.proj must be >= 0 (0: none), got -1"),
    ("model:\n  attention:\n    conv_width: 10\n    scaling: 1.0e+300\n", [],
     "4: model.attention: attention.scaling must be at most 1000, got 1e+300"),
    # the file's own error, beside a --set of another key of its section
    ("training:\n  max_epochs: 3\n  seed: abc\n", ["training.max_epochs=4"], "3: training.seed: expected a number"),
    # ... and beside a bad value of the file that a --set replaces (the --set was blamed for it)
    ("optim:\n  lr: abc\n  eps: 0\n", ["optim.lr=0.1"], "3: optim.eps must be > 0 (at least 1.18e-38"),
    ("model:\n  listener:\n    hidden: 0\n    proj: -1\n", ["model.listener.hidden=10"],
     "4: model.listener: listener.proj must be >= 0 (0: none), got -1"),
    # messages naming several keys (none found in their words: no line) or a key at another depth
    # (the section's line): the key at fault, which the error carries
    ("training:\n  teacher_forcing_start: 1.0\n  teacher_forcing_end: 2\n", [],
     "3: training.teacher_forcing_start/end must be in [0, 1]"),
    ("model:\n  specaug:\n    freq_width: 10\n    time_width: -1\n", [],
     "4: model.specaug: specaug: mask counts, widths and time_warp must be >= 0"),
    ("model:\n  speller:\n    hidden: 10\n    embed: 0\n", [],
     "4: model.speller: speller.hidden and speller.embed must be >= 1, got 10 and 0"),
    ("model:\n  attention:\n    dim: 10\n    heads: 0\n", [], "4: model.attention: attention.dim, heads and "),
    # two keys at fault together: best_metric's line, the one to change (the file was not named)
    ("model:\n  ctc_weight: 1.0\ntraining:\n  best_metric: valid_acc\n", [],
     "4: training.best_metric valid_acc is the attention decoder's token accuracy, and model.ctc_weight 1 "),
    # a rate float32 holds as 0 (or subnormal) trained every epoch without changing a weight, exit 0
    ("training:\n  max_epochs: 3\noptim:\n  lr: 1.0e-320\n", [],
     "4: optim.lr must be at least 1.18e-38 (float32's smallest normal number: a smaller rate changes no weight), "
     "got 1e-320"),
])
def test_an_error_of_the_file_names_the_line_of_the_key_at_fault(tmp_path, text, overrides, message):
    conf = tmp_path / "conf.yaml"
    conf.write_text(text)
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:{message}")):
        load_config(str(conf), overrides)


def test_a_check_made_in_the_run_names_where_its_key_was_given(tmp_path):
    """A SettingError (a check made once the run is under way: workers against this machine's
    cores, max_frames against the data) named the key alone. It names the last option that gave
    it, a section's --set included, else the line of the key in the file; a default is left as it
    is, even under a section the file gives. The ranks of --ngpu N (spawned: the config pickled)
    and torchrun's (each loads it) have the same."""
    import pickle

    from asrkit.utils.config import SettingError

    conf = tmp_path / "conf.yaml"
    conf.write_text("batching:\n  max_frames: 10\n  num_workers: 9\nmodel:\n  specaug:\n    freq_width: 40\n")
    cfg = load_config(str(conf), ["training.seed=3", "batching.max_frames=20", "model.specaug.freq_width=5",
                                  "model.specaug={}"], {"training.seed=3": "--seed 3"})

    def named(keys):
        with pytest.raises(SettingError) as e, pickle.loads(pickle.dumps(cfg)).where_given():
            raise SettingError("it", keys)
        return str(e.value)

    assert named(["batching.num_workers"]) == f"{conf}:3: it"
    assert named(["batching.max_frames", "batching.num_workers"]) == "--set 'batching.max_frames=20': it"
    assert named(["model.specaug.freq_width"]) == "--set 'model.specaug={}': it"  # the last, the whole section
    assert named(["training.seed"]) == "--seed 3: it"
    assert named(["training.patience"]) == "it"
    assert named([]) == "it"
    # A default under a section the file gives is not at the section's line: the user never wrote
    # it ('batching:' was named for it), and a later key the file gives is named instead.
    assert named(["batching.max_batch_size"]) == "it"
    assert named(["batching.max_batch_size", "batching.num_workers"]) == f"{conf}:3: it"


def test_the_lm_config_names_the_line_of_the_key_at_fault(tmp_path):
    """With command-line values over the file's or without; an error the command line brings in
    names it, not a line."""
    from asrkit.training.config import LMTrainConfig

    conf = tmp_path / "lm.yaml"
    conf.write_text("max_epochs: 3\nlr: 0\n")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:2: lr must be positive, got 0")):
        LMTrainConfig.load(str(conf), {"max_epochs": 4})
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:2: lr must be positive, got 0")):
        LMTrainConfig.from_yaml(str(conf))
    with pytest.raises(AsrkitError, match=r"^command line: max_epochs must be positive, got 0$"):
        LMTrainConfig.load(str(conf), {"max_epochs": 0, "lr": 0.1})
    conf.write_text("max_epochs: 3\nlr: 1.0e-320\n")  # (float32 holds it as 0: nothing trained, exit 0)
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:2: lr must be at least 1.18e-38")):
        LMTrainConfig.from_yaml(str(conf))
    conf.write_text("max_epochs: 3\nmodel:\n  embed: 10\n  layers: 0\n")  # (a message naming four keys)
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:4: model: embed, hidden and layers must be >= 1")):
        LMTrainConfig.from_yaml(str(conf))
    # the key at fault, not the first of the keys checked together
    conf.write_text("patience: 3\ngrad_clip: -1\n")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{conf}:2: grad_clip must be >= 0 (0: no clipping), got -1")
                       + "$"):
        LMTrainConfig.from_yaml(str(conf))


def test_bad_set_value_is_one_line():
    with pytest.raises(AsrkitError) as e:
        build_config({}, ["training.max_epochs=[1"])
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("item", ["optim.name=" + "a" * 5000, "optim.lr=" + "1" * 5000, "optim" + "x" * 5000,
                                  "model.listener.subsample=[" + "1, " * 5000 + "1]"])
def test_a_long_set_is_quoted_cut(item):
    """A --set of 5000 characters was quoted whole in its error (5-15 KB on one line), where the
    same value in a config file is cut (utils/test_config's long values): cut as shown() cuts."""
    with pytest.raises(AsrkitError) as e:
        build_config({}, [item])
    message = str(e.value)
    assert message.startswith(f"--set {item[:200]!r}... ({len(item)} characters): ") and len(message) < 500, message


def test_a_set_value_builds_only_plain_data(tmp_path):
    """A --set value is read by the config files' SafeLoader: a tag that would construct an object
    (and run the command it names) is refused, and runs nothing; plain values still load."""
    marker = tmp_path / "pwned"
    with pytest.raises(AsrkitError, match=r"could not determine a constructor for the tag "
                                          r"'tag:yaml.org,2002:python/object/apply:os.system'"):
        build_config({}, [f'training.max_epochs=!!python/object/apply:os.system ["touch {marker}"]'])
    assert not marker.exists()
    assert build_config({}, ["model.listener.subsample=[1, 2, 2]"]).model.listener.subsample == [1, 2, 2]


@pytest.mark.parametrize("field, value, message", [
    # asrkit-train-lm's --lr/--seed set the fields directly, past from_dict's checks: NaN passed
    # "lr <= 0" and torch's Adam refused it with a traceback
    ("lr", float("nan"), "^command line: lr must be a finite number, got nan$"),
    ("lr", float("inf"), "^command line: lr must be a finite number, got inf$"),
    ("seed", 10**24, r"^command line: seed must be a 64-bit integer \(-2\*\*63 <= seed < 2\*\*63\)"),
    # patience -1 stopped after epoch 1 ("not improved for -1 epochs")
    ("patience", -1, r"^command line: patience must be >= 0 \(0: never stop early\), got -1$"),
    ("grad_clip", -1.0, r"^command line: grad_clip must be >= 0 \(0: no clipping\), got -1$"),
    # --lr 1e300 passed and overflowed float32 at the first step (a traceback)
    ("lr", 1e300, r"^command line: lr must be at most 1e\+38, got 1e\+300$"),
    ("lr", 1e38, r"^command line: lr 1e\+38: Adam's first step is lr / \(1 - betas\[0\]\) = 1e\+39, more than "
                 r"float32 holds \(3.4e\+38\); lower lr$"),
    ("max_epochs", 10**30, r"^command line: max_epochs must be at most 1000000, got 10{30}$"),
    ("batch_size", 10**7, r"^command line: batch_size must be at most 1000000, got 10000000$"),
    # an int past any float ('{v:g}' of -10**400) was an OverflowError traceback
    ("batch_size", -10**400, r"^command line: batch_size must be positive, got -10{400}$"),
])
def test_lm_config_checks_what_the_command_line_sets(field, value, message):
    from asrkit.training.config import LMTrainConfig

    cfg = LMTrainConfig()
    setattr(cfg, field, value)
    with pytest.raises(AsrkitError, match=message):
        cfg.validate("command line")


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(AsrkitError, match="no such file"):
        load_config(str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: [1, 2\n")
    with pytest.raises(AsrkitError, match="not valid YAML"):
        load_config(str(bad))


def test_an_empty_config_file_is_warned_about_one_of_comments_is_not(tmp_path, caplog):
    """A config cut short to nothing (a failed copy, '>' for '>>') trained with every default and
    no word; a file of only comments says that is what it means."""
    import logging

    empty = tmp_path / "train.yaml"
    empty.write_text("\n")
    with caplog.at_level(logging.WARNING):
        assert load_config(str(empty)) == build_config({})
    assert [r.getMessage() for r in caplog.records] == [
        f"{empty}: empty file: no sections (model:, optim:, batching:, training:, finetune:), every setting takes "
        f"its default"]
    caplog.clear()
    comments = tmp_path / "defaults.yaml"
    comments.write_text("# every default\n")
    with caplog.at_level(logging.WARNING):
        load_config(str(comments))
    assert not caplog.records


def test_teacher_forcing_schedule():
    cfg = build_config({"training": {"teacher_forcing_start": 1.0, "teacher_forcing_end": 0.6,
                                     "teacher_forcing_decay_epochs": 4}})
    assert [round(cfg.training.teacher_forcing(e), 3) for e in (1, 3, 5, 9)] == [1.0, 0.8, 0.6, 0.6]


def test_configs_load_without_torch(tmp_path):
    """asrkit-train's and asrkit-train-lm's configs (model sections included) load without importing
    torch, so a typo is reported in a moment, not after torch's start-up (seconds on a loaded machine)."""
    import subprocess
    import sys

    conf = tmp_path / "train.yaml"
    conf.write_text("model: {listener: {hidden: 16}, specaug: {freq_masks: 1}}\ntraining: {max_epochs: 2}\n")
    code = ("import sys; from asrkit.training.config import LMTrainConfig, load_config; "
            f"cfg = load_config({str(conf)!r}); LMTrainConfig.from_dict({{'model': {{'hidden': 8}}}}); "
            "assert cfg.model.listener.hidden == 16 and cfg.model.specaug.freq_masks == 1; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_an_unknown_key_in_a_users_yaml_stays_a_typo(tmp_path):
    """Only a file asrkit wrote (a packed model) blames a newer asrkit for a key it does not know:
    in a YAML the user wrote, a typo is far likelier."""
    p = tmp_path / "train.yaml"
    p.write_text("model: {listener: {rope_theta: 1.0}}\n")
    with pytest.raises(AsrkitError) as e:
        load_config(str(p), [])
    assert str(e.value).startswith(f"{p}:1: unknown key 'model.listener.rope_theta' (known: ")
    assert "newer" not in str(e.value)


@pytest.mark.parametrize("path", ["1e5", "0o17", "1_000", "010", "yes", "true"])
def test_a_string_that_reads_as_a_number_round_trips_through_print_config(tmp_path, path):
    """A string option (finetune.init, a path) holding '1e5' was printed plain by yaml.safe_dump
    and read back by the YAML 1.2 reader as a number (or refused, '010'): --print-config's output
    given back as --config was another config or an error."""
    cfg = build_config({"finetune": {"init": path}}, [])
    (tmp_path / "c.yaml").write_text(dump_config(cfg))
    assert load_config(tmp_path / "c.yaml", []).finetune.init == path
