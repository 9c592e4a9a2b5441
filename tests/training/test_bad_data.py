"""Bad training data on real yesno features (issue #11): unusable utterances are skipped, named and
counted under Kaldi's 5 % rule; a non-finite loss skips its update, and training.max_bad_steps of
them in a row stop the run with an error naming the utterances; no checkpoint of a NaN model."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Callable, Dict, Optional

import kaldiio
import numpy as np
import pytest
import torch

from asrkit.training import checkpoint as ckpt
from asrkit.utils.errors import AsrkitError

from .yesno_dump import TINY_CONFIG, make_dump, yesno_waves

N = 20  # one bad utterance of 20 is within Kaldi's 5 % (20 // 20 = 1), two are not


@pytest.fixture(scope="module")
def clean(yesno_root, tmp_path_factory) -> Path:
    """A dump dir of 20 real yesno utterances (23-dim Kaldi fbank, no CMVN)."""
    waves = yesno_waves(yesno_root)[:N]
    assert len(waves) == N
    return make_dump(tmp_path_factory.mktemp("bad_data") / "clean", waves)


def edited(clean: Path, out: Path, edit: Dict[int, Callable[[np.ndarray], Optional[np.ndarray]]],
           text: Optional[Dict[int, str]] = None) -> Path:
    """A copy of ``clean`` with utterance i's features replaced by ``edit[i](feats)`` (None: an scp
    line that points past the end of the ark) and its transcript by ``text[i]``."""
    out.mkdir(parents=True)
    mats = dict(kaldiio.load_scp(str(clean / "feats.scp")).items())
    utts = list(mats)
    new = {i: edit[i](mats[u]) for i, u in enumerate(utts) if i in edit}
    kaldiio.save_ark(str(out / "feats.ark"), {u: m if new.get(i) is None else new[i] for i, (u, m) in
                                              enumerate(mats.items())}, scp=str(out / "feats.scp"))
    lines = (out / "feats.scp").read_text().splitlines()
    for i, m in new.items():
        if m is None:
            lines[i] = f"{utts[i]} {out / 'feats.ark'}:{(out / 'feats.ark').stat().st_size + 100}"
    (out / "feats.scp").write_text("".join(line + "\n" for line in lines))
    (out / "utt2num_frames").write_text((clean / "utt2num_frames").read_text())
    texts = (clean / "text").read_text().splitlines()
    for i, t in (text or {}).items():
        texts[i] = f"{utts[i]} {t}"
    (out / "text").write_text("".join(line + "\n" for line in texts))
    return out


def nan_at(frame: int, value: float = np.nan) -> Callable[[np.ndarray], np.ndarray]:
    def f(m: np.ndarray) -> np.ndarray:
        m = m.copy()
        m[frame, 5] = value
        return m

    return f


def trainer_on(dump: Path, lang: Path, exp: Path, max_frames: int = 2500, optim: Optional[dict] = None,
               **training):
    """The tiny LAS trainer (as asrkit-train builds it) on ``dump``, CPU, no dev set."""
    from asrkit.models.las import LAS
    from asrkit.models.package import PackageMeta
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.config import build_config
    from asrkit.training.data import FeatureDataset, load_utterances
    from asrkit.training.las_task import LASTask
    from asrkit.training.trainer import Trainer

    conf = {**TINY_CONFIG, "batching": {"max_frames": max_frames}, "optim": {**TINY_CONFIG["optim"], **(optim or {})},
            "training": {**TINY_CONFIG["training"], "valid_cer": False, "num_plots": 0, **training}}
    cfg = build_config(conf)
    tok = Tokenizer.load(lang / "tokens.model")
    ds = FeatureDataset(load_utterances(str(dump), tok, ctc_misfits=cfg.model.ctc_misfits))
    torch.manual_seed(0)
    model = LAS(ds.idim, tok.vocab_size, cfg.model)
    meta = PackageMeta(model_config=cfg.model, idim=ds.idim, vocab_size=tok.vocab_size, tokens=tok.tokens)
    task = LASTask(model, meta, cfg, ds, None, tok, exp)
    return Trainer(task, cfg.optim, cfg.training, exp, cfg.to_dict(), torch.device("cpu"))


def finite_checkpoints(exp: Path) -> list:
    found = []
    for e in ckpt.list_checkpoints(exp):
        state = ckpt.load_checkpoint(ckpt.checkpoint_path(exp, e))
        assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
        found.append(e)
    return found


def warnings(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


def test_one_nan_utterance_of_20_is_skipped_named_and_counted(clean, yesno_setup, tmp_path, caplog):
    dump = edited(clean, tmp_path / "d", {7: nan_at(3)})
    bad = (dump / "feats.scp").read_text().splitlines()[7].split()[0]
    trainer = trainer_on(dump, yesno_setup / "data" / "lang", tmp_path / "exp", max_epochs=2)
    with caplog.at_level("INFO"):
        trainer.run()
    assert [r["skipped_utts"] for r in trainer.state.history] == [1, 1]
    assert all(np.isfinite(r["train_loss"]) and r["train_loss"] > 0 for r in trainer.state.history)
    text = warnings(caplog)
    # named once (with the file, the frame and the value), counted every epoch
    assert text.count(f"skipping {dump}/feats.scp: utterance '{bad}': non-finite feature value nan at frame 3") == 1
    assert f"epoch 2: 1 of {N} training utts skipped: {bad}" in text
    assert finite_checkpoints(tmp_path / "exp") == [2]  # no dev set: only the last is kept
    assert "skipped_utts" in (tmp_path / "exp" / "log" / "curves.csv").read_text().splitlines()[0]


def test_two_bad_utterances_of_20_fail_the_epoch(clean, yesno_setup, tmp_path):
    # a NaN and an scp offset past the end of the ark: 2 > 20 // 20
    dump = edited(clean, tmp_path / "d", {4: nan_at(0, np.inf), 11: lambda m: None})
    utts = [line.split()[0] for line in (dump / "feats.scp").read_text().splitlines()]
    trainer = trainer_on(dump, yesno_setup / "data" / "lang", tmp_path / "exp", max_epochs=1)
    with pytest.raises(AsrkitError) as e:
        trainer.run()
    message = str(e.value)
    assert message.startswith(f"epoch 1: 2 of {N} training utts were skipped (")
    assert utts[4] in message and utts[11] in message and "more than 5 % (Kaldi's rule)" in message
    assert not ckpt.list_checkpoints(tmp_path / "exp")


def test_non_finite_loss_skips_the_update_and_names_the_batch(clean, yesno_setup, tmp_path, caplog):
    trainer = trainer_on(clean, yesno_setup / "data" / "lang", tmp_path / "exp", max_frames=700, max_epochs=1,
                         max_bad_steps=2)  # one utterance a batch: one bad step, then good ones
    bad = trainer.task.train_set.table.utt_id(2)
    forward = trainer.task.forward

    def overflowing(model, batch, device):  # the loss of one utterance overflows, as in a diverging model
        out = forward(model, batch, device)
        if bad in trainer.task.item_ids(batch):
            out.loss = out.loss * float("inf")
        return out

    trainer.task.forward = overflowing
    with caplog.at_level("INFO"):
        trainer.run()
    assert re.search(rf"epoch 1 batch \d+: loss is inf, update skipped \(1 in a row; training stops at "
                     rf"training.max_bad_steps=2\); batch of 1 utterances x \d+ frames, first {bad}: {bad}$",
                     warnings(caplog), re.M)
    assert trainer.state.history[0]["skipped_batches"] == 1
    assert trainer.state.step == N - 1
    assert finite_checkpoints(tmp_path / "exp") == [1]


def test_max_bad_steps_in_a_row_stop_the_run_naming_the_utterances(clean, yesno_setup, tmp_path):
    # A learning rate that blows the weights up at the first update: every later loss is NaN.
    trainer = trainer_on(clean, yesno_setup / "data" / "lang", tmp_path / "exp", max_frames=700, max_epochs=1,
                         max_bad_steps=3, optim={"lr": 1e37})
    table = trainer.task.train_set.table
    utts = [table.utt_id(i) for i in range(len(table))]
    with pytest.raises(AsrkitError) as e:
        trainer.run()
    message = str(e.value)
    assert re.match(r"epoch 1 batch 4: 3 updates in a row skipped for a non-finite loss or gradient norm "
                    r"\(training.max_bad_steps=3; the last: loss is nan; their utts: \S+ \S+ \S+\): the model "
                    r"diverged \(lower optim.lr", message), message
    named = message.split("their utts: ")[1].split(")")[0].split()
    assert set(named) <= set(utts)
    assert "\n" not in message and trainer.state.step == 1
    assert not ckpt.list_checkpoints(tmp_path / "exp") and not (tmp_path / "exp" / "log" / "curves.csv").exists()


def test_a_model_with_nan_weights_is_never_checkpointed(yesno_setup, tmp_path):
    from .ddp_grads import build

    trainer, _, _ = build(yesno_setup)
    trainer.exp_dir = tmp_path
    with torch.no_grad():
        next(trainer.model.parameters())[0] = float("nan")
    trainer.state.epoch = 1
    with pytest.raises(AsrkitError, match=r"^epoch 1: the model's weights are not finite \(nan in listener\."):
        trainer.save_checkpoint()
    trainer.wait_checkpoint()
    assert not ckpt.list_checkpoints(tmp_path)


def test_transcripts_too_long_for_ctc_are_named_and_counted(clean, yesno_setup, tmp_path, caplog):
    from asrkit.models.config import LASConfig
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.data import load_utterances

    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    hybrid = LASConfig.from_dict({"listener": {"vgg": False, "subsample": [2, 2]}, "ctc_weight": 0.3})
    no_ctc = LASConfig.from_dict({"listener": {"vgg": False, "subsample": [2, 2]}, "ctc_weight": 0.0})
    frames = dict(line.split() for line in (clean / "utt2num_frames").read_text().splitlines())
    utts = list(frames)
    # 4x downsampling: a transcript of more than frames/4 characters has no CTC alignment
    long_text = " ".join(["YES NO"] * (int(frames[utts[5]]) // 4 // 6 + 1))
    dump = edited(clean, tmp_path / "one", {}, text={5: long_text})
    why = (rf"utterance '{utts[5]}': \d+ tokens need \d+ encoder frames for CTC, its {frames[utts[5]]} frames give "
           rf"\d+ after the listener's 4x downsampling")
    # named and counted (CTC's zero_infinity hid it), still trained on by the attention decoder
    with caplog.at_level("INFO"):
        kept = load_utterances(str(dump), tok, ctc_misfits=hybrid.ctc_misfits)
    assert [kept.utt_id(i) for i in range(len(kept))] == utts
    assert re.search(rf"1 of 20 utterance\(s\) are too short for their transcripts to be aligned by CTC \(first: "
                     rf"{why}\): their CTC loss is 0, only the attention decoder learns from them: {utts[5]} ",
                     warnings(caplog))
    # every transcript too long: an error, not a CTC head trained on nothing
    every = edited(clean, tmp_path / "every", {}, text={i: " ".join(["YES NO"] * (int(frames[u]) // 4 // 6 + 1))
                                                         for i, u in enumerate(utts)})
    with pytest.raises(AsrkitError, match=rf"every one of the 20 utterance\(s\) is too short for its transcript to be "
                                          rf"aligned by CTC \(first: utterance '{utts[0]}': .*\): the CTC branch would "
                                          rf"learn nothing; .* or model.ctc_weight: 0"):
        load_utterances(str(every), tok, ctc_misfits=hybrid.ctc_misfits)
    assert len(load_utterances(str(every), tok, ctc_misfits=no_ctc.ctc_misfits)) == N
    # without CTC nothing is said
    caplog.clear()
    with caplog.at_level("INFO"):
        assert len(load_utterances(str(dump), tok, ctc_misfits=no_ctc.ctc_misfits)) == N
    assert "CTC" not in warnings(caplog)
    # two of 20 left out (empty transcripts) break the rule
    dump = edited(clean, tmp_path / "two", {}, text={5: "", 9: ""})
    with pytest.raises(AsrkitError, match=r"2 of 20 utterances lack features or a transcript \(more than "
                                          r"batching.max_missing_ratio=0.05: probably a serious error"):
        load_utterances(str(dump), tok)


def test_dev_utterances_that_are_training_utterances_are_named(clean, yesno_setup, caplog):
    # --valid-dir given the training dir (or a dev set cut with overlap) trained with exit 0 and
    # not a word: the best epoch was then chosen by a loss on training data.
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.data import load_utterances, warn_dev_overlap

    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    train = load_utterances(str(clean), tok, keep_text=False)
    utts = [train.utt_id(i) for i in range(len(train))]
    with caplog.at_level("INFO"):
        assert warn_dev_overlap(train, train, "dump/train", "dump/train") == utts
    assert (f"dump/train: {N} of {N} dev utterance(s) are also training utterances in dump/train (the same ids): "
            f"the validation loss, and the best epoch chosen by it, measure data the model trains on; hold them "
            f"out of the training set (asrkit-holdout-lists): {' '.join(utts[:5])} ...") in warnings(caplog)
    # a disjoint dev set: nothing said
    caplog.clear()
    with caplog.at_level("INFO"):
        assert warn_dev_overlap(train.take(np.arange(2, N)), train.take(np.arange(2)), "tr", "dv") == []
        # one of them shared
        assert warn_dev_overlap(train.take(np.arange(1, N)), train.take(np.arange(2)), "tr", "dv") == [utts[1]]
    assert warnings(caplog).count("dev utterance(s) are also training utterances") == 1
    assert "dv: 1 of 2 dev utterance(s) are also training utterances in tr" in warnings(caplog)


def test_transcripts_with_more_tokens_than_frames_are_left_out_and_counted(clean, yesno_setup, tmp_path, caplog):
    """A transcript of more tokens than its audio has frames is no speech (100 frames a second):
    trained on, 21,000 tokens on 633 frames took minutes and GBs of memory per step."""
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.data import load_utterances

    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    frames = dict(line.split() for line in (clean / "utt2num_frames").read_text().splitlines())
    utts = list(frames)
    long_text = lambda i: " ".join(["YES"] * (int(frames[utts[i]]) // 4 + 1))  # noqa: E731 (> 1 token a frame)
    dump = edited(clean, tmp_path / "one", {}, text={7: long_text(7)})
    with caplog.at_level("INFO"):
        kept = load_utterances(str(dump), tok)
    assert [kept.utt_id(i) for i in range(len(kept))] == utts[:7] + utts[8:]
    assert re.search(rf"text: 1 utterance\(s\) have more tokens than frames \(by utt2num_frames; no speech is that "
                     rf"fast: a transcript not of this audio, or a wrong frame count\), left out: {utts[7]}",
                     warnings(caplog))
    # the most YESes that still fit (no more tokens than frames) are kept
    n = int(frames[utts[7]])
    k = max(k for k in range(1, n) if len(tok.encode(" ".join(["YES"] * k))) <= n)
    assert len(tok.encode(" ".join(["YES"] * (k + 1)))) > n
    assert len(load_utterances(str(edited(clean, tmp_path / "limit", {}, text={7: " ".join(["YES"] * k)})), tok)) == 20
    # two of 20 are more than the 5 % rule
    dump = edited(clean, tmp_path / "two", {}, text={7: long_text(7), 9: long_text(9)})
    with pytest.raises(AsrkitError, match=r"2 of 20 utterances lack features or a transcript"):
        load_utterances(str(dump), tok)


def test_cmvn_stats_are_checked_once_naming_their_file(clean, yesno_setup, tmp_path, caplog):
    """Zero-variance stats were said once per utterance read ("CMVN stats: flooring variance",
    70 lines an epoch of 60 utterances, no file named), and stats of 0 frames were blamed on the
    features ("feats.scp: not one utterance's features can be read")."""
    from asrkit.features.cmvn import write_stats
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.data import FeatureDataset, load_cmvn, load_utterances
    from asrkit.utils.errors import AsrkitError

    flat = np.zeros((2, 24))
    flat[0, :23], flat[1, :23], flat[0, 23] = 5.0, 2.5, 10.0  # mean 0.5, variance 0 in every dim
    flat[1, 0] = 12.5  # but dim 0: variance 1 (stats with no variance anywhere are refused, below)
    path = tmp_path / "cmvn.ark"
    write_stats(flat, str(path))
    tok = Tokenizer.load(yesno_setup / "data/lang/tokens.model")
    with caplog.at_level(logging.WARNING):
        ds = FeatureDataset(load_utterances(str(clean), tok), load_cmvn(str(path)))
        for i in range(5):
            ds[i]  # as a training reads them
    floors = [r.getMessage() for r in caplog.records if "flooring variance" in r.getMessage()]
    assert floors == [f"{path}: flooring variance of 22 dims to 1e-20"]
    caplog.clear()
    flat[1, 0] = 2.5  # no variance in any dim: every feature scaled by 1e10, a model the packing refuses
    write_stats(flat, str(path))
    with pytest.raises(AsrkitError, match=rf"^{path}: the variance of every one of the 23 dims is below 1e-20"):
        load_cmvn(str(path))
    with caplog.at_level(logging.WARNING):
        load_cmvn(str(path), norm_vars=False)  # means only: nothing floored
    assert not caplog.records
    # Constant features' stats seldom have a variance of exactly 0 (rounding leaves ~1e-11): the
    # run stopped at packing with "CMVN stats: none of the 23 dims varies", naming no file.
    rng = np.random.default_rng(0)
    const = np.tile(rng.uniform(1, 10, 23), (300, 1))
    stats = np.zeros((2, 24))
    stats[0, :23], stats[1, :23], stats[0, 23] = const.sum(0), (const ** 2).sum(0), 300
    stats[1, :23] *= 1 + 1e-12  # the rounding
    write_stats(stats, str(path))
    with pytest.raises(AsrkitError, match=rf"^{path}: none of the 23 dims varies"):
        load_cmvn(str(path))
    empty = np.zeros((2, 24))
    write_stats(empty, str(path))
    with pytest.raises(AsrkitError, match=rf"^{path}: insufficient stats for CMVN \(frame count 0"):
        load_cmvn(str(path))


def test_transcripts_the_tokenizer_knows_nothing_of_are_refused(clean, yesno_setup, tmp_path, caplog):
    """Lower-case transcripts for an upper-case tokenizer (or another corpus's --lang-dir) trained a
    model that learnt to emit <unk>, with one warning and exit 0: refused as asrkit-train-lm and
    asrkit-align refuse such a text, saying which case would be known; one unknown word is a warning."""
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.data import load_utterances

    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    texts = [line.split(maxsplit=1)[1] for line in (clean / "text").read_text().splitlines()]
    lower = edited(clean, tmp_path / "lower", {}, text={i: t.lower() for i, t in enumerate(texts)})
    head = (rf"^{lower / 'text'}: the tokenizer \(--lang-dir\) knows no token of any of the 20 transcripts \(every "
            rf"word became <unk>\): nothing to train or validate on: ")
    with pytest.raises(AsrkitError, match=head + "the text is lower case and the tokens upper case; upper-case the "
                                                 r"words of the text \(not the utterance ids\) and train again$"):
        load_utterances(str(lower), tok)
    alien = edited(clean, tmp_path / "alien", {}, text={i: "ДА НЕТ" for i in range(len(texts))})
    with pytest.raises(AsrkitError, match=head.replace("lower", "alien") + "the text and the tokenizer share no "
                                                                           "characters"):
        load_utterances(str(alien), tok)
    with caplog.at_level(logging.WARNING):
        kept = load_utterances(str(edited(clean, tmp_path / "one", {}, text={3: "ДА НЕТ"})), tok)
    assert len(kept) == 20 and "1 utterance(s) have characters the tokenizer does not know" in warnings(caplog)


def test_a_feats_scp_line_naming_a_named_pipe_is_skipped_not_waited_on(clean, yesno_setup, tmp_path):
    """A feats.scp line whose ark is a named pipe hung the training before its first epoch (opening
    it waited for a writer); timeout's SIGTERM then waited too. At an offset a pipe cannot serve
    (no seek), and a training reads every utterance again each epoch: such an utterance is skipped,
    named, like any other unreadable one."""
    import os

    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.data import FeatureDataset, load_utterances
    from tests.process_checks import no_waiting_for

    dump = edited(clean, tmp_path / "fifo", {})
    pipe = dump / "pipe.ark"
    os.mkfifo(pipe)
    lines = (dump / "feats.scp").read_text().splitlines()
    utts = [line.split()[0] for line in lines]
    lines[3], lines[4] = f"{utts[3]} {pipe}:5", f"{utts[4]} {pipe}"
    (dump / "feats.scp").write_text("".join(line + "\n" for line in lines))
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")

    with no_waiting_for("the named pipe"):
        ds = FeatureDataset(load_utterances(str(dump), tok))  # reads the first utterances for their dimension
        for i in (3, 4):
            with pytest.raises(AsrkitError, match=re.escape(f"{pipe}: a named pipe, not a file (a training reads its "
                                                            f"features again every epoch)")):
                ds[i]
        assert ds[5][1].shape[1] == 23


@pytest.mark.parametrize("value", [str(2**31), "1" + "0" * 30])
def test_a_frame_count_no_recording_has_is_named(clean, yesno_setup, tmp_path, value):
    """utt2num_frames saying 2**31 frames or more (a damaged table) was an OverflowError traceback
    from the table's int32 column; 10**7 (a stale table) stays an utterance too long for max_frames."""
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.data import load_utterances

    dump = edited(clean, tmp_path / "big", {})
    lines = (dump / "utt2num_frames").read_text().splitlines()
    utt = lines[6].split()[0]
    lines[6] = f"{utt} {value}"
    (dump / "utt2num_frames").write_text("".join(line + "\n" for line in lines))
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    with pytest.raises(AsrkitError, match="^" + re.escape(
            f"{dump}/utt2num_frames:7: utterance '{utt}' would have {value} frames, more than any recording (at "
            f"most 2147483647, 248 days at a 10 ms shift): a damaged table")):
        load_utterances(str(dump), tok)


def test_a_dev_set_past_the_rule_fails_before_the_first_epoch(clean, yesno_setup, tmp_path, asrkit):
    """2 of 20 dev utterances unreadable (hostile-input sweep 7): the run failed only at the first
    validation, after an epoch of training; the dev set is now read once before it, and the error
    names the dev dir."""
    from .yesno_dump import train_args

    dev = edited(clean, tmp_path / "dev", {6: lambda m: None, 9: lambda m: None})
    utts = [line.split()[0] for line in (dev / "feats.scp").read_text().splitlines()]
    args = [str(a) for a in train_args(yesno_setup, tmp_path / "exp")]
    args[args.index("--valid-dir") + 1] = str(dev)
    proc = asrkit(*args, check=False, timeout=300)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert (f"ERROR (asrkit-train): {dev} (--valid-dir): 2 of {N} dev utterances are unreadable ({utts[6]} {utts[9]}), "
            f"more than 5 % (Kaldi's rule)") in err, err
    assert "epoch 1" not in err and not ckpt.list_checkpoints(tmp_path / "exp")


def test_utterances_too_long_for_max_frames_are_counted_out_of_the_set(clean, yesno_setup, tmp_path, caplog):
    """Utterances longer than batching.max_frames are left out of training with a warning; the
    warning said "N training utterance(s)", and a 42 % share of a set dropped read like a few
    stragglers: it now says how many of how many, and the share."""
    lengths = sorted(int(line.split()[1]) for line in (clean / "utt2num_frames").read_text().splitlines())
    limit = lengths[N // 2]  # about half of them longer
    longer = sum(n > limit for n in lengths)
    assert 0 < longer < N
    with caplog.at_level("INFO"):
        trainer_on(clean, yesno_setup / "data" / "lang", tmp_path / "exp", max_frames=limit, max_epochs=1)
    assert (f"{longer} of {N} training utterances ({100.0 * longer / N:.1f} %) are longer than "
            f"batching.max_frames={limit} and are not trained on: ") in warnings(caplog)


def test_transcripts_too_long_for_ctc_alone_are_not_said_to_teach_the_decoder(clean, yesno_setup, tmp_path, caplog):
    """With model.ctc_weight 1 (CTC alone: the loss has no attention term) the warning said 'only the
    attention decoder learns from them' of utterances nothing learns from."""
    from asrkit.models.config import LASConfig
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.data import load_utterances

    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    ctc_alone = LASConfig.from_dict({"listener": {"vgg": False, "subsample": [2, 2]}, "ctc_weight": 1.0})
    frames = dict(line.split() for line in (clean / "utt2num_frames").read_text().splitlines())
    utts = list(frames)
    dump = edited(clean, tmp_path / "one", {}, text={5: " ".join(["YES NO"] * (int(frames[utts[5]]) // 4 // 6 + 1))})
    with caplog.at_level("INFO"):
        load_utterances(str(dump), tok, ctc_misfits=ctc_alone.ctc_misfits)
    said = warnings(caplog)
    assert re.search(r"1 of 20 utterance\(s\) are too short .*: their CTC loss is 0, nothing learns from them "
                     rf"\(model.ctc_weight 1: CTC alone\): {utts[5]} ", said), said
    assert "attention decoder" not in said


def test_a_run_whose_dev_loss_is_never_finite_packs_nothing(clean, yesno_setup, tmp_path):
    """A learning rate that blows the weights up to huge but finite values (no NaN for the
    checkpoint's check) gave a dev loss of inf every epoch, and that model was packed as the best
    epoch at exit 0 (asrkit-train --set optim.lr=3e37; asrkit-train-lm --lr 3e37 said "best dev
    perplexity nan")."""
    trainer = trainer_on(clean, yesno_setup / "data" / "lang", tmp_path / "exp", max_epochs=1,
                         optim={"lr": 3e37, "warmup_steps": 0})
    trainer.task.valid_set = trainer.task.train_set
    with pytest.raises(AsrkitError) as e:
        trainer.run()
    assert re.match(r"no epoch has a finite valid_loss \(epoch 1: (inf|nan)\): the training diverged; nothing packed\. "
                    r"Lower the learning rate and train again in a new exp dir \(or remove .*/exp/checkpoints: a rerun "
                    r"resumes from their diverged weights\)$", str(e.value)), str(e.value)
    assert not (tmp_path / "exp" / "model.pt").exists()


def test_accum_grad_past_the_batches_of_an_epoch_is_warned_about(clean, yesno_setup, tmp_path, caplog):
    """The epoch's last batch makes the update, scaled by 1 / accum_grad: optim.accum_grad 10**9 over a
    few batches made updates a billionth of the gradient, and an untrained model was packed at exit 0
    without a word."""
    with caplog.at_level("INFO"):
        trainer = trainer_on(clean, yesno_setup / "data" / "lang", tmp_path / "exp", max_epochs=1,
                             optim={"accum_grad": 1000})
    n = trainer.task.sampler.per_rank
    assert 1 < n < 1000
    assert (f"optim.accum_grad 1000 is more than the {n} batch(es) of an epoch: each epoch makes one update, from its "
            f"{n} batch(es) scaled by 1/1000, a {n / 1000:g} share of the gradient; give optim.accum_grad {n} or less"
            in warnings(caplog))
    caplog.clear()
    with caplog.at_level("INFO"):
        trainer_on(clean, yesno_setup / "data" / "lang", tmp_path / "exp2", max_epochs=1, optim={"accum_grad": n})
    assert "accum_grad" not in warnings(caplog)
