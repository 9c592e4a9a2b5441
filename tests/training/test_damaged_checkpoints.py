"""Checkpoints that read as torch files but whose content does not fit: each reader (resume,
asrkit-average, --init) gives one line naming the file, never a traceback, and writes nothing."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import torch

from asrkit.training import checkpoint as ckpt
from asrkit.utils.errors import AsrkitError

from .test_train_cli import _run_inproc
from .yesno_dump import train_args


@pytest.fixture(scope="module")
def trained(yesno_setup, tmp_path_factory):
    """A finished 2-epoch tiny run: exp/checkpoints/epoch{1,2}.pt, model.pt."""
    exp = tmp_path_factory.mktemp("damaged") / "exp"
    code, err = _run_inproc(*train_args(yesno_setup, exp, "--seed", "3", "--set", "training.num_plots=0"))
    assert code == 0, err
    return exp


def _copy(trained: Path, tmp_path: Path) -> Path:
    exp = tmp_path / "exp"
    shutil.copytree(trained, exp)
    (exp / "model.pt").unlink()
    return exp


def _damage(path: Path, change) -> None:
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)


def _set(key, value):
    return lambda s: s.__setitem__(key, value)


def _nan_weight(s):
    name = next(iter(s["model"]))
    s["model"][name] = s["model"][name].clone()
    s["model"][name].view(-1)[0] = float("nan")


@pytest.mark.parametrize("change, message", [
    (_set("model", [1, 2]), "model is not a mapping of names to tensors"),
    (lambda s: s["model"].update({k: 1.0 for k in s["model"]}), "model is not a mapping of names to tensors"),
    (_set("config", "x"), "config is a str, expected a mapping"),
    (_set("train_state", [1]), "train_state is not the trainer's state (a mapping of epoch, step, history"),
    (lambda s: s["train_state"].update(bogus=1), "train_state is not the trainer's state"),
    (lambda s: s["train_state"].update(history="x"), "train_state.history is not a list of per-epoch rows of numbers"),
    (lambda s: s["train_state"]["history"][0].update(valid_loss="abc"), "train_state.history is not a list"),
    (_set("rng", 3), "rng is a int, expected a mapping (or one per rank)"),
])
def test_damaged_contents_are_named_by_every_reader(trained, tmp_path, change, message):
    """Each of these was a TypeError/AttributeError/ValueError traceback in asrkit-average, a resume
    or --init (asrkit-average: 'list indices must be integers', 'string indices must be integers')."""
    exp = _copy(trained, tmp_path)
    newest = exp / "checkpoints" / "epoch2.pt"
    _damage(newest, change)
    with pytest.raises(AsrkitError) as e:
        ckpt.load_checkpoint(newest)
    assert str(e.value).startswith(f"{newest}: damaged asrkit checkpoint: {message}")
    code, err = _run_inproc("average", "--num", "2", exp)
    assert code == 1 and f"ERROR (asrkit-average): {newest}: damaged asrkit checkpoint: {message}" in err
    assert "Traceback" not in err and not (exp / "model.avg.pt").exists()
    # a resume skips it (naming it) for the epoch before, as for a truncated one
    found = ckpt.latest_readable_checkpoint(exp)
    assert found is not None and found[0].name == "epoch1.pt"


def test_a_checkpoint_named_for_another_epoch_is_never_resumed_from(yesno_setup, trained, tmp_path):
    """Another run's epoch1.pt copied in as epoch3.pt (same model, tokens and CMVN) was resumed as
    'epoch 1 done': the run wrote its epoch 2 over this run's own epoch2.pt, exit 0; asrkit-average
    ranked by that file's history. The name is checked against the epoch the file holds."""
    exp = _copy(trained, tmp_path)
    foreign = exp / "checkpoints" / "epoch3.pt"
    shutil.copy(exp / "checkpoints" / "epoch1.pt", foreign)
    message = (f"{foreign}: damaged asrkit checkpoint: it holds the state after epoch 1, not after epoch 3 as its "
               f"name says (a checkpoint of another run, or renamed)")
    with pytest.raises(AsrkitError, match=re.escape(message)):
        ckpt.load_checkpoint(foreign)
    code, err = _run_inproc("average", "--num", "2", exp)
    assert code == 1 and f"ERROR (asrkit-average): {message}" in err and not (exp / "model.avg.pt").exists()
    epoch2 = (exp / "checkpoints" / "epoch2.pt").read_bytes()
    code, err = _run_inproc(*train_args(yesno_setup, exp, "--set", "training.max_epochs=3", "--set",
                                        "training.num_plots=0"))
    assert code == 0 and message in err and f"resumed from {exp / 'checkpoints' / 'epoch2.pt'}: epoch 2 done" in err
    assert (exp / "checkpoints" / "epoch2.pt").read_bytes() == epoch2
    assert ckpt.load_checkpoint(foreign)["train_state"]["epoch"] == 3  # trained again, as a cut-short one is


@pytest.mark.parametrize("make, kind", [(os.mkfifo, "a named pipe"), (os.mkdir, "a directory")])
def test_a_pipe_or_directory_under_a_checkpoints_name_is_named_never_waited_on(trained, tmp_path, make, kind):
    """A named pipe as checkpoints/epoch3.pt hung the resume and asrkit-average (opening it waited
    for a writer); skipped as a damaged file, it (or a directory) would have had the run train
    epoch 3 again only to fail writing it there."""
    import signal

    exp = _copy(trained, tmp_path)
    odd = exp / "checkpoints" / "epoch3.pt"
    make(odd)

    class Hung(Exception):  # not an OSError, which the readers word as a read error and go on
        pass

    def hung(*_):
        raise Hung("waited on the named pipe")

    old = signal.signal(signal.SIGALRM, hung)
    signal.siginterrupt(signal.SIGALRM, True)
    signal.alarm(20)
    try:
        with pytest.raises(AsrkitError, match=re.escape(f"{odd}: {kind} under a checkpoint's name, where this run "
                                                        f"would write epoch 3's checkpoint; move it away")):
            ckpt.latest_readable_checkpoint(exp)
        code, err = _run_inproc("average", "--num", "2", exp)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert code == 1 and f"ERROR (asrkit-average): {odd}: {kind if make is os.mkfifo else 'is a directory'}" in err
    assert not (exp / "model.avg.pt").exists()


def test_checkpoints_dir_that_is_a_file_fails_before_training(yesno_setup, tmp_path):
    """It was taken for "no checkpoints": a fresh run trained its first epoch and only then failed
    to write it; asrkit-average said there was nothing to average."""
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "checkpoints").write_text("")
    message = f"{exp}/checkpoints: not a directory (where the exp dir's checkpoints go); move it away"
    code, err = _run_inproc(*train_args(yesno_setup, exp))
    assert code == 1 and message in err and "epoch 1" not in err
    code, err = _run_inproc("average", exp)
    assert code == 1 and message in err


def test_average_refuses_an_lm_and_a_non_finite_checkpoint(trained, tmp_path):
    exp = _copy(trained, tmp_path)
    # an LM's exp dir: its config has no training: section (a KeyError traceback)
    lm_like = lambda s: s.update(package_format="asrkit-lm", config={"model": {}, "lr": 0.001})  # noqa: E731
    _damage(exp / "checkpoints" / "epoch2.pt", lm_like)
    code, err = _run_inproc("average", exp)
    assert code == 1 and "epoch2.pt: not a checkpoint of an acoustic model (asrkit-train) but of 'asrkit-lm'" in err
    # a NaN weight (asrkit-train never writes one) made a model.avg.pt every decoder then refused
    exp = _copy(trained, tmp_path / "nan")
    _damage(exp / "checkpoints" / "epoch1.pt", _nan_weight)
    code, err = _run_inproc("average", "--num", "2", exp)
    assert code == 1 and "epoch1.pt: damaged asrkit checkpoint: 1 non-finite value(s) (NaN or Inf) in weight" in err
    assert not (exp / "model.avg.pt").exists()
    # weights of other shapes than their config's model, alike in every checkpoint (so they agree
    # with each other), were averaged into a model.avg.pt every decoder refused, with exit 0
    exp = _copy(trained, tmp_path / "shape")
    for e in (1, 2):
        _damage(exp / "checkpoints" / f"epoch{e}.pt",
                lambda s: s["model"].update({k: v[:1] if v.dim() else v for k, v in s["model"].items()}))
    code, err = _run_inproc("average", "--num", "2", exp)
    assert code == 1 and "damaged asrkit checkpoint: model does not match its config: size mismatch" in err, err
    assert "Traceback" not in err and not (exp / "model.avg.pt").exists()


def test_an_unreadable_checkpoint_is_a_permission_error_never_skipped_as_damaged(yesno_setup, trained, tmp_path,
                                                                               monkeypatch):
    """A checkpoint this user cannot read was "not an asrkit checkpoint (not a torch file, ...:
    [Errno 13] Permission denied ...)": asrkit-average blamed its content, and a resume skipped it
    as damaged and trained its epoch again, with exit 0. (torch.load fails as it would: root reads
    a mode-0 file.)"""
    import errno

    exp = _copy(trained, tmp_path)
    newest = exp / "checkpoints" / "epoch2.pt"
    real_load = torch.load

    def load(f, *args, **kwargs):
        if os.fspath(f) == str(newest):
            raise PermissionError(errno.EACCES, "Permission denied", str(newest))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", load)
    with pytest.raises(PermissionError):
        ckpt.latest_readable_checkpoint(exp)
    code, err = _run_inproc("average", "--num", "2", exp)
    assert code == 1 and f"ERROR (asrkit-average): {newest}: permission denied" in err, err
    before = sorted(p.name for p in (exp / "checkpoints").iterdir())
    code, err = _run_inproc(*train_args(yesno_setup, exp, "--set", "training.max_epochs=3"))
    assert code == 1 and f"ERROR (asrkit-train): {newest}: permission denied" in err, err
    assert "skipped" not in err and sorted(p.name for p in (exp / "checkpoints").iterdir()) == before


def test_average_by_a_metric_never_recorded_says_it_took_the_latest(trained, tmp_path, caplog):
    """With no valid_cer in the history (training.valid_cer: false), the latest checkpoints were
    averaged after a warning, but the summary and model.avg.pt said "best by valid_cer"."""
    import logging

    from asrkit.training.average import average_checkpoints, best_epochs

    exp = _copy(trained, tmp_path)
    _damage(exp / "checkpoints" / "epoch2.pt", lambda s: [row.pop("valid_cer", None)
                                                          for row in s["train_state"]["history"]])
    assert best_epochs(exp, 1, "valid_cer") == ([2], "latest")
    with caplog.at_level(logging.INFO):
        out = average_checkpoints(exp, 1, metric="valid_cer")
    said = [r.getMessage() for r in caplog.records]
    assert f"Done averaging 1 checkpoint(s) (epochs 2, the latest) into {out}" in said, said
    assert not any("best by valid_cer" in m for m in said)


def test_a_train_state_without_history_ranks_nothing_and_takes_the_latest(trained, tmp_path):
    """Every train_state key may be missing (TrainState's defaults; load_checkpoint lets it pass),
    but asrkit-average and packing the best indexed train_state["history"]: a KeyError traceback."""
    from asrkit.training.average import best_epochs

    exp = _copy(trained, tmp_path)
    _damage(exp / "checkpoints" / "epoch2.pt", lambda s: s["train_state"].pop("history"))
    assert best_epochs(exp, 1, "valid_loss") == ([2], "latest")
    code, err = _run_inproc("average", "--num", "2", exp)
    assert code == 0 and "no valid_loss recorded" in err and "Traceback" not in err, err
    assert (exp / "model.avg.pt").is_file()
    assert ckpt.pack_best(exp, "valid_loss", exp / "model.pt") == exp / "model.pt" and (exp / "model.pt").is_file()


def test_resume_with_another_tokenizer_or_unusable_state_is_one_line(yesno_setup, trained, tmp_path):
    """Another --lang-dir on the same exp dir: a token list of another size was a load_state_dict
    traceback, and one of the same size resumed silently with every output unit meaning another
    token. State that does not fit the optimizer or the RNGs was a ValueError/KeyError traceback."""
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    exp = _copy(trained, tmp_path)
    texts = (yesno_setup / "dump" / "train" / "text").read_text().splitlines()
    tok = train_tokenizer([t.split(maxsplit=1)[1] for t in texts], TokenizerConfig(model_type="bpe", vocab_size=8))
    lang = tmp_path / "lang_bpe"
    lang.mkdir()
    (lang / "tokens.model").write_bytes(tok.to_bytes())
    args = [str(a) for a in train_args(yesno_setup, exp, "--set", "training.max_epochs=3")]
    other = args[:]
    other[other.index("--lang-dir") + 1] = str(lang)
    code, err = _run_inproc(*other)
    assert code == 1 and "epoch2.pt: was trained with another token list than this run's (id " in err
    assert err.rstrip().endswith("use a new exp dir, or the --lang-dir it was trained with"), err
    assert "Traceback" not in err and not (exp / "checkpoints" / "epoch3.pt").exists()

    for change, message in [(_set("rng", {"python": 1}), "cannot resume from this checkpoint: no 'numpy' entry"),
                            (_set("optimizer", {"state": {}, "param_groups": []}),
                             "cannot resume from this checkpoint: the optimizer state has 0 parameter groups, "
                             "this optimizer 1; move it away to resume from an earlier one")]:
        shutil.copy(trained / "checkpoints" / "epoch2.pt", exp / "checkpoints" / "epoch2.pt")
        _damage(exp / "checkpoints" / "epoch2.pt", change)
        code, err = _run_inproc(*args)
        assert code == 1 and f"epoch2.pt: {message}" in err and "Traceback" not in err


def test_init_from_a_non_finite_or_damaged_model_is_named(yesno_setup, trained, tmp_path):
    """--init with a diverged model's NaN trained on: every loss NaN, and the run stopped with
    'no update was made' or 'the training diverged (lower optim.lr ...)', never naming the file;
    a checkpoint whose model entry held floats was an AttributeError traceback."""
    bad = tmp_path / "nan.pt"
    shutil.copy(trained / "checkpoints" / "epoch2.pt", bad)
    _damage(bad, _nan_weight)
    code, err = _run_inproc(*train_args(yesno_setup, tmp_path / "ft", "--init", bad))
    assert code == 1 and f"--init {bad}: 1 non-finite value(s) (NaN or Inf) in weight" in err
    assert not (tmp_path / "ft" / "checkpoints").exists()
    floats = tmp_path / "floats.pt"
    shutil.copy(trained / "checkpoints" / "epoch2.pt", floats)
    _damage(floats, lambda s: s["model"].update({k: 1.0 for k in s["model"]}))
    code, err = _run_inproc(*train_args(yesno_setup, tmp_path / "ft2", "--init", floats))
    assert code == 1 and f"{floats}: damaged asrkit checkpoint: model is not a mapping of names to tensors" in err
    assert "Traceback" not in err


def test_average_never_writes_over_a_checkpoint(trained, tmp_path):
    """--out exp/checkpoints/epoch1.pt replaced that checkpoint by a packed model: the epoch was lost
    to a resume, and the next asrkit-average (or packing) failed on a file that is no checkpoint."""
    exp = _copy(trained, tmp_path)
    target = exp / "checkpoints" / "epoch1.pt"
    before = target.read_bytes()
    code, err = _run_inproc("average", "--num", "2", "--out", target, exp)
    assert code == 1 and f"--out {target}: that is where the run's checkpoints go" in err
    assert target.read_bytes() == before
    code, err = _run_inproc("average", "--num", "2", "--out", exp / "checkpoints" / "avg.pt", exp)
    assert code == 0, err  # another name in that directory is not a checkpoint's


def test_average_never_writes_over_the_runs_own_files(trained, tmp_path):
    """--out e/config.yaml replaced the run's config with a zip, exit 0 (only checkpoints/ was
    protected); model.pt (the best epoch) and the logs are the run's too. Refused before any
    checkpoint is read; model.avg.pt and other names beside them stay allowed."""
    exp = _copy(trained, tmp_path)
    shutil.copy(trained / "model.pt", exp / "model.pt")
    for name in ("config.yaml", "model.pt", "log/train.log", "log/train_runs.tsv"):
        target = exp / name
        before = target.read_bytes()
        code, err = _run_inproc("average", "--num", "2", "--out", target, exp)
        assert code == 1 and f"--out {target}: that is the run's own {name}; write the averaged model elsewhere" in err
        assert target.read_bytes() == before
    # the same file by another path: through a link to the exp dir and a detour
    (tmp_path / "link").symlink_to(exp)
    code, err = _run_inproc("average", "--num", "2", "--out", tmp_path / "link" / "log" / ".." / "config.yaml", exp)
    assert code == 1 and "that is the run's own config.yaml" in err
    code, err = _run_inproc("average", "--num", "2", "--out", exp / "model.e2.pt", exp)
    assert code == 0, err


def test_train_state_keys_are_the_trainers():
    from dataclasses import fields

    from asrkit.training.trainer import TrainState

    assert ckpt.TRAIN_STATE_KEYS == tuple(f.name for f in fields(TrainState))


def test_resume_with_another_cmvn_is_refused(yesno_setup, trained, tmp_path):
    """Another --cmvn (or none, or another --norm-vars) on the same exp dir resumed in silence, the
    trained weights then fed features of another scale; it is refused like another token list."""
    import kaldiio
    import numpy as np

    exp = _copy(trained, tmp_path)
    args = [str(a) for a in train_args(yesno_setup, exp, "--set", "training.max_epochs=3")]
    at = args.index("--cmvn")
    stats = np.array(kaldiio.load_mat(args[at + 1]))
    # every mean one higher, the variances kept: sum (x+1)^2 = sum x^2 + 2 sum x + n (shifting the
    # sums alone made every variance negative: stats the training now refuses as degenerate)
    stats[1, :-1] += 2 * stats[0, :-1] + stats[0, -1]
    stats[0, :-1] += stats[0, -1]
    kaldiio.save_mat(str(tmp_path / "other.ark"), stats)
    for other, why in [(args[:at] + args[at + 2:], "global stats there, none now"),
                       (args[:at + 1] + [str(tmp_path / "other.ark")] + args[at + 2:], "other stats"),
                       (args[:at] + ["--norm-vars", "false"] + args[at:], "norm_vars True there, False now")]:
        code, err = _run_inproc(*other)
        assert code == 1, err
        assert (f"epoch2.pt: was trained with another CMVN than this run's ({why}); use a new exp dir, or the "
                f"--cmvn and --norm-vars it was trained with") in err, err
        assert "Traceback" not in err and not (exp / "checkpoints" / "epoch3.pt").exists()


def test_a_resume_without_the_dev_set_its_epochs_were_ranked_by_is_refused(yesno_setup, trained, tmp_path):
    """Resumed without --valid-dir, the new epochs had no valid_loss: model.pt was packed from the
    best earlier epoch (epoch 2 of 4, exit 0) and keep_best pruned by the old epochs alone."""
    exp = _copy(trained, tmp_path)
    args = [str(a) for a in train_args(yesno_setup, exp, "--set", "training.max_epochs=4")]
    at = args.index("--valid-dir")
    code, err = _run_inproc(*args[:at], *args[at + 2:])
    assert code == 1 and (f"ERROR (asrkit-train): {exp}: its epochs up to 2 were validated on a dev set (valid_loss), "
                          f"this run has no --valid-dir: the epochs it trains could not be ranked against them") in err
    assert not (exp / "checkpoints" / "epoch3.pt").exists() and not (exp / "model.pt").exists()
    # a finished run trains nothing more: packed again as before
    args = [str(a) for a in train_args(yesno_setup, exp)]
    code, err = _run_inproc(*args[:at], *args[at + 2:])
    assert code == 0 and (exp / "model.pt").exists(), err


def test_a_resume_on_another_dev_set_is_refused(yesno_setup, trained, tmp_path):
    """Resumed with another --valid-dir, the new epochs' valid_loss was ranked against losses on
    other utterances: model.pt and keep_best chose among epochs measured on two dev sets."""
    exp = _copy(trained, tmp_path)
    args = [str(a) for a in train_args(yesno_setup, exp, "--set", "training.max_epochs=4")]
    at = args.index("--valid-dir")
    other = tmp_path / "dev3"
    shutil.copytree(args[at + 1], other)
    for name in ("feats.scp", "text", "utt2num_frames"):
        lines = (other / name).read_text().splitlines()
        (other / name).write_text("\n".join(lines[:3]) + "\n")
    args[at + 1] = str(other)
    code, err = _run_inproc(*args)
    assert code == 1 and (f"ERROR (asrkit-train): {exp}: its epochs up to 2 were validated on another dev set (4 "
                          f"utterances, sha1 ") in err and "than this run's (3 utterances, sha1 " in err, err
    assert not (exp / "checkpoints" / "epoch3.pt").exists() and not (exp / "model.pt").exists()
    # the same dev set resumes
    args[at + 1] = str(yesno_setup / "dump" / "dev")
    code, err = _run_inproc(*args)
    assert code == 0 and (exp / "checkpoints" / "epoch4.pt").exists(), err



def _other_stats(s):
    s["package"]["cmvn"] = s["package"]["cmvn"] * 2


def _swapped_tokens(s):
    t = s["package"]["tokens"]
    t[3], t[4] = t[4], t[3]


@pytest.mark.parametrize("change, difference", [
    (_swapped_tokens, "token 3: '{t3}' -> '{t4}'"),
    (lambda s: s["package"].update(tokens=[]), "tokens: {n} listed -> 0"),  # (the tokenizer alone spells them)
    (lambda s: s["package"].update(cmvn=None), "cmvn: global stats -> none"),
    (_other_stats, "cmvn: other stats"),
    (lambda s: s["package"].update(cmvn_norm_vars=False), "cmvn_norm_vars: True -> False"),
    (lambda s: s["package"]["feature_config"].update(dither=1.0), "features.dither: 0.0 -> 1.0"),
])
def test_average_refuses_checkpoints_of_another_token_list_or_input(trained, tmp_path, change, difference):
    """A checkpoint copied in from a run of another --lang-dir (as many tokens) or another --cmvn
    was averaged with exit 0: output units of other meanings, or weights fitted to features of
    another scale, packed under the best checkpoint's tokens and stats."""
    exp = _copy(trained, tmp_path)
    tokens = torch.load(exp / "checkpoints" / "epoch1.pt", weights_only=True)["package"]["tokens"]
    _damage(exp / "checkpoints" / "epoch1.pt", change)
    code, err = _run_inproc("average", "--num", "2", exp)
    difference = difference.format(t3=tokens[3], t4=tokens[4], n=len(tokens))
    assert code == 1 and (f"ERROR (asrkit-average): {exp}/checkpoints/epoch1.pt: another model than {exp}/checkpoints/"
                          f"epoch2.pt ({difference}); average checkpoints of one run only") in err, err
    assert not (exp / "model.avg.pt").exists()


def test_average_out_dash_is_stdout(trained, tmp_path, asrkit):
    """--out - wrote a file named '-' in the current directory, with exit 0."""
    from asrkit.models.package import load_package

    exp = _copy(trained, tmp_path)
    # run from tmp_path, to see no '-' made there: this checkout's asrkit, not an installed one
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    proc = asrkit("average", "--num", "2", "--out", "-", exp, cwd=tmp_path, env={"PYTHONPATH": path})
    assert not (tmp_path / "-").exists()
    (tmp_path / "avg.pt").write_bytes(proc.stdout)
    assert load_package(tmp_path / "avg.pt").meta.extra["epochs"] == [2, 1]


def test_average_of_the_checkpoints_folder_names_the_exp_dir(trained, tmp_path):
    """asrkit-average exp/checkpoints said "exp/checkpoints/checkpoints: no checkpoints (epoch<N>.pt)
    to average" of a folder full of them."""
    exp = _copy(trained, tmp_path)
    code, err = _run_inproc("average", exp / "checkpoints")
    assert code == 1 and (f"ERROR (asrkit-average): {exp}/checkpoints: holds the checkpoints themselves; give the exp "
                          f"dir they are in ({exp})") in err, err
    assert not (exp / "checkpoints" / "model.avg.pt").exists()


def test_training_into_the_checkpoints_folder_names_the_exp_dir(yesno_setup, trained, tmp_path):
    """asrkit-train (and asrkit-train-lm) given exp/checkpoints for exp trained afresh into
    exp/checkpoints/checkpoints, a run nested in its own run's folder."""
    exp = _copy(trained, tmp_path)
    before = sorted(p.name for p in (exp / "checkpoints").iterdir())
    code, err = _run_inproc(*train_args(yesno_setup, exp / "checkpoints"))
    assert code == 1 and (f"ERROR (asrkit-train): {exp}/checkpoints: holds the checkpoints themselves; give the exp "
                          f"dir they are in ({exp})") in err, err
    assert sorted(p.name for p in (exp / "checkpoints").iterdir()) == before
    from click.testing import CliRunner

    from asrkit.cli.train_lm import main

    (tmp_path / "text").write_text("YES NO\n")
    result = CliRunner().invoke(main, ["--lang-dir", str(yesno_setup / "data" / "lang"), "--device", "cpu",
                                       str(tmp_path / "text"), str(exp / "checkpoints")])
    assert result.exit_code == 1 and (f"{exp}/checkpoints: holds the checkpoints themselves; give the exp dir they "
                                      f"are in ({exp})") in result.stderr, result.stderr
    assert sorted(p.name for p in (exp / "checkpoints").iterdir()) == before


def test_average_never_writes_over_another_runs_files(trained, tmp_path):
    """--out exp2/checkpoints/epoch1.pt or exp2/model.pt (the other run's dir for this one's) replaced
    that run's checkpoint or its packed model, exit 0: only the averaged run's files were protected."""
    exp, other = _copy(trained, tmp_path), tmp_path / "exp2"
    shutil.copytree(trained, other)
    for name in ("checkpoints/epoch1.pt", "model.pt", "config.yaml"):
        target = other / name
        before = target.read_bytes()
        code, err = _run_inproc("average", "--num", "2", "--out", target, exp)
        assert code == 1 and (f"--out {target}: that is where {other}'s checkpoints go" in err
                              or f"--out {target}: that is the {name} of another training run" in err), err
        assert target.read_bytes() == before
    # a folder that is no run, and other names beside a run's files, stay allowed
    code, err = _run_inproc("average", "--num", "2", "--out", tmp_path / "packed" / "model.pt", exp)
    assert code == 0, err
    code, err = _run_inproc("average", "--num", "2", "--out", other / "model.avg.pt", exp)
    assert code == 0, err
