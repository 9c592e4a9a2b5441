"""Fine-tuning (asrkit-train --init / --init-modules / --freeze): what is taken, what is refused, what stays fixed."""
from __future__ import annotations

import pytest
import torch

from asrkit.models.las import LAS, LASConfig
from asrkit.models.package import PackageMeta, save_package
from asrkit.training import finetune
from asrkit.training.config import FinetuneConfig, build_config
from asrkit.utils.errors import AsrkitError

from .test_train_cli import _run_inproc
from .yesno_dump import TINY_CONFIG, TINY_MODEL, config_at_lines, train_args

TOKENS = ["<blank>", "<unk>", "a", "b", "c", "<sos/eos>"]


def tiny(idim=12, tokens=TOKENS, seed=0, **changes):
    torch.manual_seed(seed)
    cfg = {"listener": {"vgg": False, "hidden": 16, "proj": 16, "subsample": [1, 2]},
           "attention": {"type": "location", "dim": 16, "conv_channels": 2, "conv_width": 3},
           "speller": {"hidden": 16, "embed": 8}, "ctc_weight": 0.5}
    for section, value in changes.items():
        cfg[section] = {**cfg[section], **value} if isinstance(value, dict) else value
    return LAS(idim, len(tokens), LASConfig.from_dict(cfg))


def pack(tmp_path, model, tokens=TOKENS, name="src.pt"):
    path = tmp_path / name
    save_package(path, model.state_dict(), PackageMeta(model_config=model.config, idim=model.idim,
                                                       vocab_size=model.vocab_size, tokens=list(tokens)))
    return str(path)


def take(model, path, modules, tokens=TOKENS):
    meta, weights = finetune.read_init_model(path)
    finetune.check_features(meta, path, model.idim, None, "dump/train/feats.scp")
    return finetune.init_from(model, meta, weights, path, modules, tokens, "data/lang/tokens.model")


def same(a, b, prefix=""):
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa if k.startswith(prefix))


def test_init_all_equals_the_source_weights(tmp_path):
    src = tiny(seed=1)
    path = pack(tmp_path, src)
    model = tiny(seed=2)
    assert not same(model, src)
    taken = take(model, path, ["all"])
    assert set(taken) == set(model.state_dict()) and same(model, src)


def test_init_modules_takes_only_those(tmp_path):
    src = tiny(seed=1)
    path = pack(tmp_path, src)
    model = tiny(seed=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    taken = take(model, path, ["listener", "attention"])
    assert taken and all(k.startswith(("listener.", "speller.attention.")) for k in taken)
    assert same(model, src, "listener.") and same(model, src, "speller.attention.")
    for k, v in model.state_dict().items():
        if not k.startswith(("listener.", "speller.attention.")):
            assert torch.equal(v, before[k]), k  # left as initialised


def test_another_token_list_reuses_the_listener_only(tmp_path):
    src = tiny(seed=1, tokens=TOKENS)
    path = pack(tmp_path, src)
    other = ["<blank>", "<unk>", "x", "y", "z", "w", "<sos/eos>"]  # another size, another meaning
    model = tiny(seed=2, tokens=other)
    with pytest.raises(AsrkitError) as e:
        take(model, path, ["all"], tokens=other)
    msg = str(e.value)
    assert "\n" not in msg and "its token list is not this run's" in msg and "data/lang/tokens.model" in msg
    assert "speller.embed, speller.output, ctc are tied to token ids" in msg and "--init-modules listener" in msg
    with pytest.raises(AsrkitError, match="speller.embed, speller.output are tied"):
        take(model, path, ["speller"], tokens=other)
    # Same size, other symbols: still refused (ids would mean other tokens).
    renamed = TOKENS[:2] + ["x", "b", "c"] + TOKENS[-1:]
    with pytest.raises(AsrkitError, match="id 2 is 'a' there, 'x' here"):
        take(tiny(seed=2, tokens=renamed), path, ["ctc"], tokens=renamed)
    assert take(model, path, ["listener", "attention", "speller.cells"], tokens=other)
    assert same(model, src, "listener.") and same(model, src, "speller.cells.")


def test_mismatches_are_one_line_errors(tmp_path):
    path = pack(tmp_path, tiny(seed=1))
    with pytest.raises(AsrkitError) as e:
        take(tiny(idim=20), path, ["listener"])
    assert str(e.value) == (f"--init {path}: its model takes 12-dim features, dump/train/feats.scp has 20-dim ones: "
                            f"fine-tuning needs features made with the same number of bins")
    with pytest.raises(AsrkitError) as e:
        take(tiny(listener={"hidden": 24}), path, ["listener"])
    msg = str(e.value)
    assert "\n" not in msg and "listener.layers.0.lstm.weight_ih_l0 is (64, 12) there and (96, 12)" in msg
    assert "model.listener.hidden: 16 -> 24" in msg
    no_ctc = pack(tmp_path, tiny(seed=1, ctc_weight=0.0), name="no_ctc.pt")
    with pytest.raises(AsrkitError, match=r"its model has no ctc.proj.weight \(and 1 more\): leave that module out"):
        take(tiny(), no_ctc, ["all"])
    with pytest.raises(AsrkitError, match=r"--init-modules lisener: is not a module of this model \(top level: "
                                          r"listener, speller, attention"):
        take(tiny(), path, ["lisener"])
    with pytest.raises(AsrkitError, match="not an asrkit model"):
        (tmp_path / "junk.pt").write_bytes(b"junk")
        take(tiny(), str(tmp_path / "junk.pt"), ["all"])


def test_freeze_names_and_counts():
    model = tiny()
    frozen = finetune.freeze(model, ["listener", "attention"])
    assert frozen and all(k.startswith(("listener.", "speller.attention.")) for k in frozen)
    for k, p in model.named_parameters():
        assert p.requires_grad == (k not in frozen)
    with pytest.raises(AsrkitError, match="--freeze ctc: is not a module of this model"):
        finetune.freeze(tiny(ctc_weight=0.0), ["ctc"])
    with pytest.raises(AsrkitError, match="that is every parameter of the model, nothing would train"):
        finetune.freeze(tiny(), ["listener", "speller", "ctc"])


def test_config_section_and_its_checks():
    cfg = build_config({}, ["finetune.init=x.pt", "finetune.freeze=[listener]"])
    assert cfg.finetune == FinetuneConfig(init="x.pt", init_modules=["all"], freeze=["listener"])
    with pytest.raises(AsrkitError, match="'all' and listener together"):
        build_config({}, ["finetune.init_modules=[all, listener]"])
    with pytest.raises(AsrkitError, match="expected module names"):
        build_config({}, ["finetune.freeze=['listener,ctc']"])


def _source_model(yesno_setup, src_exp):
    """A packed model of the yesno setup's shape and tokens in ``src_exp``/model.pt (its weights need
    not be trained), to fine-tune from; its tokens."""
    from asrkit.text.tokenizer import Tokenizer

    tokens = Tokenizer.load(str(yesno_setup / "data" / "lang" / "tokens.model")).tokens
    src_exp.mkdir()
    torch.manual_seed(7)
    model = LAS(23, len(tokens), LASConfig.from_dict(TINY_MODEL))
    save_package(src_exp / "model.pt", model.state_dict(), PackageMeta(model_config=model.config, idim=23,
                                                                       vocab_size=len(tokens), tokens=list(tokens)))
    return tokens


def test_train_init_and_freeze_end_to_end(yesno_setup, tmp_path, asrkit):
    """A yesno model fine-tuned from another: starts from its weights, the frozen listener never moves."""
    src_exp = tmp_path / "src"
    tokens = _source_model(yesno_setup, src_exp)
    src = torch.load(src_exp / "model.pt", weights_only=True)["state_dict"]

    exp = tmp_path / "ft"
    proc = asrkit(*train_args(yesno_setup, exp, "--set", "training.max_epochs=1", "--seed", "5",
                              "--init", src_exp / "model.pt", "--freeze", "listener"))
    err = proc.stderr.decode()
    n_listener = sum(1 for k in src if k.startswith("listener."))
    assert f"--init {src_exp / 'model.pt'}: {len(src)} tensors" in err and "nothing initialised afresh" in err
    assert f"--freeze listener: {n_listener} tensors" in err and "get no updates; training" in err
    state = torch.load(exp / "checkpoints" / "epoch1.pt", weights_only=True)
    assert state["config"]["finetune"] == {"init": str(src_exp / "model.pt"), "init_modules": ["all"],
                                           "freeze": ["listener"]}
    assert sorted(state["frozen"]) == sorted(k for k in src if k.startswith("listener."))
    for k, v in state["model"].items():
        if k.startswith("listener."):
            assert torch.equal(v, src[k]), k  # frozen: unchanged after an epoch
    moved = [k for k, v in state["model"].items() if not k.startswith("listener.") and not torch.equal(v, src[k])]
    assert moved  # the rest trained from the source's weights
    assert len(state["optimizer"]["param_groups"][0]["params"]) == len(src) - n_listener
    # A checkpoint is a starting point as good as a packed model: the same meta, its weights.
    meta, weights = finetune.read_init_model(str(exp / "checkpoints" / "epoch1.pt"))
    assert meta.tokens == list(tokens) and meta.idim == 23
    assert all(torch.equal(weights[k], state["model"][k]) for k in state["model"])
    # Either kind of file is read once (it was read again to be checked as the kind it is).
    loads = []
    real_load = torch.load
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch, "load", lambda *a, **k: loads.append(a[0]) or real_load(*a, **k))
        for path in (exp / "checkpoints" / "epoch1.pt", src_exp / "model.pt"):
            loads.clear()
            finetune.read_init_model(str(path))
            assert len(loads) == 1, loads

    # A resume does not read --init (the checkpoint has the weights: the file may even be gone, or
    # another be named, which the config's changes must not then list as a new value it goes on with)...
    (src_exp / "model.pt").rename(src_exp / "gone.pt")
    proc = asrkit(*train_args(yesno_setup, exp, "--set", "training.max_epochs=2", "--seed", "5",
                              "--init", src_exp / "other.pt", "--freeze", "listener"))
    err = proc.stderr.decode()
    assert "not read: the exp dir has checkpoints" in err and "Done 2 epochs out of 2" in err
    assert "finetune.init" not in err and "training.max_epochs: 1 -> 2" in err, err
    state2 = torch.load(exp / "checkpoints" / "epoch2.pt", weights_only=True)
    assert all(torch.equal(state2["model"][k], src[k]) for k in src if k.startswith("listener."))
    # ...but it must freeze what the checkpoints froze.
    code, err = _run_inproc(*train_args(yesno_setup, exp, "--set", "training.max_epochs=3", "--seed", "5",
                                        "--init", src_exp / "model.pt", "--freeze", "attention"))
    assert code == 1 and f"was trained with {n_listener} frozen parameter tensors, this run freezes" in err

    # A fresh run with an init file that is not there fails at once, before any data is read.
    code, err = _run_inproc(*train_args(yesno_setup, tmp_path / "ft2", "--init", src_exp / "model.pt"))
    assert code == 1 and f"ERROR (asrkit-train): --init {src_exp / 'model.pt'}: no such model file" in err
    # An exp dir for its model.pt: click's --init refuses a directory itself; set in a config, it is named.
    code, err = _run_inproc(*train_args(yesno_setup, tmp_path / "ft3", "--set", f"finetune.init={src_exp}"))
    assert code == 1 and f"ERROR (asrkit-train): --init {src_exp}: a directory, not a model file" in err
    # A named pipe or /dev/null is there: it was 'no such model file' (and the library's read of a
    # pipe would have waited for a writer).
    import os

    os.mkfifo(tmp_path / "pipe.pt")
    for path, kind in ((tmp_path / "pipe.pt", "a named pipe"), ("/dev/null", "a character device")):
        code, err = _run_inproc(*train_args(yesno_setup, tmp_path / "ft4", "--init", path))
        assert code == 1 and f"ERROR (asrkit-train): --init {path}: {kind}, not a model file (a model is read " in err
    with pytest.raises(AsrkitError, match=f"^{tmp_path / 'pipe.pt'}: a named pipe, not a model file"):
        finetune.read_init_model(str(tmp_path / "pipe.pt"))


def test_a_dangling_interrupted_pt_is_no_resume_for_init(yesno_setup, tmp_path):
    """A link at checkpoints/interrupted.pt whose target is gone (an exp dir copied without it, a
    cleaned scratch disk) is passed over by the run, which starts from the start; but the command's
    own glob, and checkpoint.has_checkpoints, took it for a resume: --init was neither checked nor
    read, and the run trained from random weights after saying '--init ... not read'."""
    from asrkit.training.checkpoint import has_checkpoints, mid_epoch_path

    exp = tmp_path / "e"
    mid_epoch_path(exp).parent.mkdir(parents=True)
    mid_epoch_path(exp).symlink_to(tmp_path / "gone.pt")
    assert not has_checkpoints(exp)
    code, err = _run_inproc(*train_args(yesno_setup, exp, "--init", tmp_path / "model.pt"))
    assert code == 1 and f"ERROR (asrkit-train): --init {tmp_path / 'model.pt'}: no such model file" in err, err
    # (a stopped run's file there is one)
    mid_epoch_path(exp).unlink()
    mid_epoch_path(exp).write_bytes(b"")
    assert has_checkpoints(exp)


def test_init_is_not_left_unread_by_a_stop_that_cannot_be_resumed(yesno_setup, tmp_path):
    """A run stopped (SIGUSR1) within its first epoch leaves checkpoints/interrupted.pt alone, which
    the next run passes over when it cannot continue it (unreadable, or written by other ranks,
    batches or seed) and starts from the start; with --init it had taken the file for a resume and
    not read --init: a fine-tuning trained from random weights. That is now an error."""
    from asrkit.training.checkpoint import mid_epoch_path

    _source_model(yesno_setup, tmp_path / "src")
    exp = tmp_path / "e"
    mid_epoch_path(exp).parent.mkdir(parents=True)
    mid_epoch_path(exp).write_bytes(b"not a checkpoint")
    code, err = _run_inproc(*train_args(yesno_setup, exp, "--set", "training.max_epochs=1",
                                        "--init", tmp_path / "src" / "model.pt"))
    assert code == 1 and (f"ERROR (asrkit-train): {mid_epoch_path(exp)}: not resumed from (above), and --init "
                          f"{tmp_path / 'src' / 'model.pt'} is read only by a run that starts afresh: move it away "
                          f"to train from --init, or resume it as it was written") in err, err[-3000:]
    assert not (exp / "checkpoints" / "epoch1.pt").exists()

def test_train_init_of_other_features_is_one_line(yesno_setup, tmp_path):
    model = LAS(40, 5, LASConfig.from_dict(TINY_MODEL))
    path = tmp_path / "other.pt"
    save_package(path, model.state_dict(), PackageMeta(model_config=model.config, idim=40, vocab_size=5,
                                                       tokens=["<blank>", "<unk>", "N", "Y", "<sos/eos>"]))
    code, err = _run_inproc(*train_args(yesno_setup, tmp_path / "e", "--init", path, "--init-modules", "listener"))
    assert code == 1
    assert (f"ERROR (asrkit-train): --init {path}: its model takes 40-dim features, "
            f"{yesno_setup / 'dump' / 'train'}/feats.scp has 23-dim ones") in err
    assert not (tmp_path / "e" / "checkpoints").exists()
    # finetune.init from the config file is named at its line, as one naming no model file is: it
    # was "--init <it>", an option the command line did not have
    conf = tmp_path / "train.yaml"
    at = config_at_lines(conf, {**TINY_CONFIG, "finetune": {"init": str(path), "init_modules": ["listener"]}})
    args = train_args(yesno_setup, tmp_path / "e2")
    args[args.index("--config") + 1] = conf
    code, err = _run_inproc(*args)
    assert code == 1 and (f"ERROR (asrkit-train): {conf}:{at['init']}: finetune.init: {path}: its model takes 40-dim "
                          f"features") in err, err[-2000:]


def test_fbank_differences_is_public_and_splits_by_meaning():
    """las_task imported finetune's private _fbank_differences (955228b, 98419ea); it is a public
    name now, and says which differences change what a feature dim means."""
    from asrkit.features.fbank import FbankConfig

    meaning, other = finetune.fbank_differences(FbankConfig(frame_shift=20.0, dither=0.0),
                                                FbankConfig(frame_shift=10.0, dither=1.0))
    assert meaning == ["frame_shift: 20.0 -> 10.0"] and other == ["dither: 0.0 -> 1.0"]
    # high_freq 0 and the Nyquist frequency are the same edge
    assert finetune.fbank_differences(FbankConfig(sample_frequency=8000, high_freq=0.0),
                                      FbankConfig(sample_frequency=8000, high_freq=4000.0)) == ([], [])
