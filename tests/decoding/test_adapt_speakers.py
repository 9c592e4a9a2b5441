"""Speaker-adaptive decoding: asrkit-adapt-speakers' transforms and asrkit-decode --spk-transforms."""
from __future__ import annotations

import itertools
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from asrkit.data.specifier import read_matrices
from asrkit.decoding.adapt import AdaptConfig, apply_transform, confidence_losses, estimate_transform, identity_transform
from asrkit.utils.errors import AsrkitError

from decoding_tiny import IDIM, V, tiny_las
from test_decode_cli import inproc, read_text, yesno  # noqa: F401  (fixtures)


def items(n: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [(f"u{i}", rng.standard_normal((30 + 5 * i, IDIM)).astype(np.float32),
             [int(t) for t in rng.integers(2, V - 1, size=3 + i % 3)]) for i in range(n)]


def test_apply_transform_affine_linear_and_shapes():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert np.array_equal(apply_transform(x, identity_transform(3)), x)
    t = np.hstack([2 * np.eye(3), np.array([[1.0], [0.0], [-1.0]])]).astype(np.float32)
    assert np.allclose(apply_transform(x, t), 2 * x + np.array([1.0, 0.0, -1.0]))
    assert np.allclose(apply_transform(x, 3 * np.eye(3, dtype=np.float32)), 3 * x)   # Kaldi's linear form
    with pytest.raises(AsrkitError, match=r"transform of shape \(3, 5\) for 3-dim features"):
        apply_transform(x, np.zeros((3, 5), dtype=np.float32))


def test_estimate_lowers_the_loss_and_leaves_the_model_alone():
    model = tiny_las()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = AdaptConfig(epochs=8, lr=0.02, keep=1.0, batch_size=4, min_utts=1)
    result = estimate_transform(model, items(), config)
    assert result.transform.shape == (IDIM, IDIM + 1) and result.used == 6
    assert result.loss_after < result.loss_before
    assert not np.allclose(result.transform, identity_transform(IDIM))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.requires_grad for p in model.parameters()) and not model.training
    # the same inputs and seed give the same transform
    assert np.array_equal(estimate_transform(model, items(), config).transform, result.transform)


@pytest.mark.parametrize("batch_size", [1, 4, 16])
def test_confidence_is_each_utterances_own_loss_whatever_it_is_batched_with(batch_size):
    """The confidence pass runs in length-sorted batches: each utterance still gets the loss per
    token it gets alone (padding masked: the listener packs, attention and CTC take lengths)."""
    model = tiny_las().eval()
    its = items(9)[::-1]   # lengths 70..30, and 3-5 tokens: every batch padded both ways
    with torch.no_grad():
        alone = [model(*[t[None] if t.dim() else t.view(1) for t in (
            torch.from_numpy(f), torch.tensor(f.shape[0]), torch.tensor(y), torch.tensor(len(y)))]).loss.item()
            / (len(y) + 1) for _, f, y in its]
    got = confidence_losses(model, its, batch_size, torch.device("cpu"))
    np.testing.assert_allclose(got, alone, rtol=1e-5)


def test_keep_and_max_frames_choose_the_utterances():
    model = tiny_las()
    assert estimate_transform(model, items(), AdaptConfig(epochs=1, keep=0.5, min_utts=1)).used == 3
    # fewer than min_utts usable: no transform (the caller writes the identity); keep does not count
    assert estimate_transform(model, items(), AdaptConfig(epochs=1, keep=0.5, min_utts=7)) is None
    assert estimate_transform(model, items(), AdaptConfig(epochs=1, keep=0.2, min_utts=6)).used == 1
    # empty hypotheses and over-long utterances teach nothing
    useless = [(u, f, []) for u, f, _ in items(3)] + [("long", np.zeros((50, IDIM), np.float32), [3])]
    assert estimate_transform(model, useless, AdaptConfig(epochs=1, max_frames=40, min_utts=1)) is None


@pytest.mark.parametrize("field,value,match", [("lr", float("nan"), "lr must be"), ("keep", 0.0, "keep must be"),
                                               # Adam's step is 0 in float32: every transform stayed the identity
                                               ("lr", 1e-320, r"^options: lr must be at least 1\.18e-38 \(float32's"),
                                               ("keep", 1.5, "keep must be"), ("epochs", 0, "epochs must be"),
                                               # a ValueError traceback from torch's generator, once every
                                               # utterance had been read
                                               ("seed", 2**64, "seed must be a 64-bit integer"),
                                               ("seed", -2**63 - 1, "seed must be a 64-bit integer")])
def test_config_bounds(field, value, match):
    with pytest.raises(AsrkitError, match=match):
        AdaptConfig(**{field: value}).validate()


def test_a_config_device_that_device_replaces_is_not_checked(tmp_path):
    """--device cpu over a decoding config's 'device: gpu' was refused for the gpu, as asrkit-decode's
    flags were (the later source wins); the file's own error is still named at its line."""
    from click.testing import CliRunner

    from asrkit.cli import main

    conf = tmp_path / "decode.yaml"
    conf.write_text("device: gpu\n")
    res = CliRunner().invoke(main, ["adapt-speakers", "--config", str(conf), "--device", "cpu", "--print-config"])
    assert res.exit_code == 0, res.stderr
    res = CliRunner().invoke(main, ["adapt-speakers", "--config", str(conf), "--print-config"])
    assert res.exit_code == 1 and f"{conf}:1: device must be cpu, cuda[:N] or auto, got 'gpu'" in res.stderr, res.stderr
    # the file's error beside a bad --device: the file's, at its line, as asrkit-decode's since
    # 37a31bc0 (it was "options: nbest must be in [1, beam], got 0; device must be ...", the file's
    # problem under the options, without its line); the file mended, the flag's error is named
    conf.write_text("nbest: 0\n")
    res = CliRunner().invoke(main, ["adapt-speakers", "--config", str(conf), "--device", "gpu", "--print-config"])
    assert res.exit_code == 1 and res.stderr.splitlines()[-1] == (
        f"ERROR (asrkit-adapt-speakers): {conf}:1: nbest must be in [1, beam], got 0"), res.stderr
    conf.write_text("nbest: 1\n")
    res = CliRunner().invoke(main, ["adapt-speakers", "--config", str(conf), "--device", "gpu", "--print-config"])
    assert res.exit_code == 1 and res.stderr.splitlines()[-1] == (
        "ERROR (asrkit-adapt-speakers): options: device must be cpu, cuda[:N] or auto, got 'gpu' "
        f"(the options: --config {conf}, then the command line's flags)"), res.stderr


def two_speakers(tmp: Path, wavs) -> Path:
    """wav.scp and utt2spk of the yesno files, said by two made-up speakers."""
    (tmp / "wav.scp").write_text("".join(f"{w.stem} {w}\n" for w in wavs))
    utt2spk = tmp / "utt2spk"
    utt2spk.write_text("".join(f"{w.stem} {'a' if i % 2 else 'b'}\n" for i, w in enumerate(wavs)))
    return utt2spk


def test_two_passes_on_real_audio(inproc, yesno, tmp_path):  # noqa: F811
    _, model, wavs = yesno
    utt2spk = two_speakers(tmp_path, wavs)
    scp = tmp_path / "wav.scp"
    inproc("decode", "--mode", "greedy", "--model", model, "--wav-scp", scp, "--output-dir", tmp_path / "d1")
    res = inproc("adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--wav-scp", scp, "--epochs", "2",
                 "--keep", "1", "--min-utts", "2", tmp_path / "d1" / "text", f"ark,t:{tmp_path / 'trans.txt'}")
    assert b"wrote transforms of 2 speakers" in res.stderr
    transforms = dict(read_matrices(f"ark:{tmp_path / 'trans.txt'}"))
    assert sorted(transforms) == ["a", "b"] and all(t.shape == (23, 24) for t in transforms.values())
    assert not any(np.array_equal(t, identity_transform(23)) for t in transforms.values())
    # with the default --min-utts (50) these speakers' 2-3 utterances are too few: the identity, said so
    res = inproc("adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--wav-scp", scp, "--epochs", "2",
                 tmp_path / "d1" / "text", f"ark,t:{tmp_path / 'few.txt'}")
    assert b"fewer than --min-utts 50: identity transform" in res.stderr
    assert all(np.array_equal(t, identity_transform(23)) for _, t in read_matrices(f"ark:{tmp_path / 'few.txt'}"))
    inproc("decode", "--mode", "greedy", "--model", model, "--wav-scp", scp, "--utt2spk", utt2spk, "--spk-transforms",
           f"ark:{tmp_path / 'trans.txt'}", "--output-dir", tmp_path / "d2")
    assert sorted(read_text(tmp_path / "d2" / "text")) == sorted(w.stem for w in wavs)

    # identity transforms decode exactly as the first pass did
    (tmp_path / "id.txt").write_text("".join(f"{s} [\n" + "\n".join(" ".join(f"{v:g}" for v in row) for row in
                                                                  identity_transform(23)) + " ]\n" for s in "ab"))
    inproc("decode", "--mode", "greedy", "--model", model, "--wav-scp", scp, "--utt2spk", utt2spk, "--spk-transforms",
           f"ark,t:{tmp_path / 'id.txt'}", "--output-dir", tmp_path / "d3")
    assert read_text(tmp_path / "d3" / "text") == read_text(tmp_path / "d1" / "text")


def test_a_config_lm_weight_is_the_decoding_passes_not_the_adaptations(inproc, yesno, tmp_path):  # noqa: F811
    """asr.sh --use-lm true --adapt-speakers true gives stage 5's adaptation the --decode-config, whose
    lm_weight (ESPnet's decode.yaml habit) is the decoding passes': the command, which has no LM, was
    "lm_weight is 0.3 but no LM was given (--lm exp/lm/lm.pt)", an option it has not, after the
    training and the first pass. It is not the adaptation's, as a packed weight is not without an LM."""
    _, model, wavs = yesno
    utt2spk = two_speakers(tmp_path, wavs)
    scp = tmp_path / "wav.scp"
    inproc("decode", "--mode", "greedy", "--model", model, "--wav-scp", scp, "--output-dir", tmp_path / "d1")
    (tmp_path / "lm.yaml").write_text("mode: greedy\nlm_weight: 0.3\n")
    res = inproc("adapt-speakers", "--model", model, "--config", tmp_path / "lm.yaml", "--utt2spk", utt2spk,
                 "--wav-scp", scp, "--epochs", "1", "--keep", "1", "--min-utts", "2", tmp_path / "d1" / "text",
                 f"ark:{tmp_path / 'trans.ark'}", check=False)
    assert res.returncode == 0 and b"wrote transforms of 2 speakers" in res.stderr, res.stderr.decode()
    assert b"(its lm_weight 0.3 is the decoding passes': the adaptation uses no LM)" in res.stderr, res.stderr.decode()


def test_each_speakers_epochs_show_their_progress(inproc, yesno, tmp_path, monkeypatch):  # noqa: F811
    """Progress was counted in speakers: one speaker's epochs (an FSDD voice: minutes on a busy CPU)
    went by without a line until its end. They are a progress bar naming the speaker, or without a
    terminal a line every 30 s (here every reading of the clock is 31 s after the last)."""
    from asrkit.utils import logging as logging_mod

    _, model, wavs = yesno
    utt2spk = two_speakers(tmp_path, wavs)
    scp = tmp_path / "wav.scp"
    inproc("decode", "--mode", "greedy", "--model", model, "--wav-scp", scp, "--output-dir", tmp_path / "d1")
    clock = itertools.count(0, 31)
    monkeypatch.setattr(logging_mod, "time", types.SimpleNamespace(monotonic=lambda: next(clock)))
    res = inproc("adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--wav-scp", scp, "--epochs", "2",
                 "--keep", "1", "--min-utts", "2", tmp_path / "d1" / "text", f"ark,t:{tmp_path / 'trans.txt'}")
    for line in ("adapt 'b' (1/2) 1/2 epoch", "adapt 'b' (1/2) 2/2 epoch", "adapt 'a' (2/2) 2/2 epoch"):
        assert line.encode() in res.stderr, res.stderr.decode()


def test_bad_inputs_are_named(inproc, yesno, tmp_path):  # noqa: F811
    _, model, wavs = yesno
    utt2spk = two_speakers(tmp_path, wavs)
    scp = tmp_path / "wav.scp"
    inproc("decode", "--mode", "greedy", "--model", model, "--wav-scp", scp, "--output-dir", tmp_path / "d1")
    hyp = tmp_path / "d1" / "text"
    short = tmp_path / "short_text"
    short.write_text("".join(hyp.read_text().splitlines(keepends=True)[1:]))
    first = wavs[0].stem
    adapt = ("adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--wav-scp", scp, "--epochs", "1")

    # an utterance without a hypothesis: named, and past Kaldi's 5 % the run fails writing nothing
    res = inproc(*adapt, short, f"ark:{tmp_path / 't.ark'}", check=False)
    assert res.returncode == 1 and f"utterance {first!r}: no hypothesis in {short}".encode() in res.stderr
    assert not (tmp_path / "t.ark").exists()
    inproc(*adapt, "--max-bad-percent", "50", short, f"ark:{tmp_path / 't.ark'}")
    # a hypothesis of an utterance not in the audio (a whole set's text, one piece's audio): not
    # used, and said so with a count, not dropped in silence
    piece = tmp_path / "piece.scp"
    piece.write_text("".join(scp.read_text().splitlines(keepends=True)[1:]))
    res = inproc(*adapt[:-3], piece, *adapt[-2:], hyp, f"ark:{tmp_path / 'p.ark'}")
    assert (f"{hyp}: 1 hypothesis(es) have no utterance among the {len(wavs) - 1} given, and are not used: "
            f"{first}").encode() in res.stderr

    # hypotheses of which the model knows no token (lower case for upper-case tokens): one error, not an
    # identity transform for every speaker with a warning each and exit 0
    lower = tmp_path / "lower_text"
    lower.write_text("".join(f"{u} {t.lower()}\n" for u, _, t in (line.partition(" ")
                                                                 for line in hyp.read_text().splitlines())))
    res = inproc(*adapt, "--min-utts", "1", lower, f"ark:{tmp_path / 'low.ark'}", check=False)
    assert res.returncode == 1 and (f"{lower}: the model knows no token of any of the {len(wavs)} hypotheses (every "
                                    f"word is unknown to it): the hypotheses are lower case and the model's tokens "
                                    f"upper case; upper-case the words of the text (not the utterance ids) and adapt "
                                    f"again").encode() in res.stderr, res.stderr
    assert not (tmp_path / "low.ark").exists()

    # the output named as an input is refused before anything runs
    res = inproc(*adapt, hyp, f"ark:{hyp}", check=False)
    assert res.returncode == 1 and b"which the run reads" in res.stderr
    # ...and so is an output that cannot be written: it was refused only when the writer opened,
    # after every utterance had been read and every speaker adapted
    (tmp_path / "adir").mkdir()
    for spec, why in ((f"ark:{tmp_path / 'adir'}", b"is a directory, not an ark file name"),
                      ("ark:| gzip -c > t.gz", b"output pipes ('ark:| cmd') are not supported"),
                      (f"scp:{tmp_path / 't.scp'}", b"an ark is required"),
                      (f"ark:{hyp}/t.ark", f"{hyp} is a file, not a directory".encode())):
        res = inproc(*adapt, hyp, spec, check=False)
        assert res.returncode == 1 and why in res.stderr, res.stderr
        assert b"Done" not in res.stderr, res.stderr

    # the second pass: a speaker without a transform is an utterance skipped and named
    (tmp_path / "one.txt").write_text("a [\n" + "\n".join(" ".join(f"{v:g}" for v in row)
                                                        for row in identity_transform(23)) + " ]\n")
    res = inproc("decode", "--mode", "greedy", "--model", model, "--wav-scp", scp, "--utt2spk", utt2spk, "--spk-transforms",
                 f"ark,t:{tmp_path / 'one.txt'}", "--output-dir", tmp_path / "d4", check=False)
    assert res.returncode == 1 and b"no transform for its speaker 'b'" in res.stderr
    res = inproc("decode", "--mode", "greedy", "--model", model, "--wav-scp", scp, "--spk-transforms", f"ark,t:{tmp_path / 'one.txt'}",
                 check=False)
    assert res.returncode == 1 and b"--spk-transforms and --utt2spk go together" in res.stderr
    # a transform for other features
    (tmp_path / "small.txt").write_text("a [\n 1 0 0\n 0 1 0 ]\nb [\n 1 0 0\n 0 1 0 ]\n")
    res = inproc("decode", "--mode", "greedy", "--model", model, "--wav-scp", scp, "--utt2spk", utt2spk, "--spk-transforms",
                 f"ark,t:{tmp_path / 'small.txt'}", "--output-dir", tmp_path / "d5", check=False)
    assert res.returncode == 1 and b"transform of shape (2, 3) for 23-dim features" in res.stderr
    (tmp_path / "nan.txt").write_text("a [\n 1 nan\n 0 1 ]\n")
    res = inproc("decode", "--mode", "greedy", "--model", model, "--wav-scp", scp, "--utt2spk", utt2spk,
                 "--spk-transforms", f"ark,t:{tmp_path / 'nan.txt'}", check=False)
    assert res.returncode == 1 and b"speaker 'a': the transform holds a non-finite value" in res.stderr


def test_one_input_is_asked_for_in_this_commands_words(inproc, tmp_path):  # noqa: F811
    """No input, or two, was "give exactly one input: --feats RSPECIFIER, --wav-scp WAV_SCP, or
    WAV files": asrkit-decode's words, and this command takes no WAV files."""
    for inputs in ([], ["--feats", "scp:f.scp", "--wav-scp", "wav.scp"]):
        res = inproc("adapt-speakers", "--model", tmp_path / "m.pt", "--utt2spk", tmp_path / "utt2spk", *inputs,
                     tmp_path / "text", f"ark:{tmp_path / 't.ark'}", check=False)
        assert res.returncode == 1 and (b"ERROR (asrkit-adapt-speakers): give exactly one input: --feats RSPECIFIER or "
                                        b"--wav-scp WAV_SCP\n") in res.stderr, res.stderr


def test_a_transform_that_raises_the_loss_is_not_written(inproc, yesno, tmp_path, monkeypatch):  # noqa: F811
    """A transform that does worse than the identity on the utterances it was fitted to (AN4 with
    --lr 10: 0.36 -> 4.2 per token) was written, with exit 0, and the second pass decoded worse."""
    from asrkit.decoding import adapt as adapt_mod

    _, model, wavs = yesno
    utt2spk = two_speakers(tmp_path, wavs)
    scp = tmp_path / "wav.scp"
    inproc("decode", "--mode", "greedy", "--model", model, "--wav-scp", scp, "--output-dir", tmp_path / "d1")
    real = adapt_mod.estimate_transform

    def worse_for_a(model, items, config, device=None, desc="adapt"):
        result = real(model, items, config, device, desc)
        if items[0][0] in {w.stem for i, w in enumerate(wavs) if i % 2}:  # speaker a
            result = adapt_mod.AdaptResult(result.transform, result.used, result.loss_before, result.loss_before * 3)
        return result

    monkeypatch.setattr(adapt_mod, "estimate_transform", worse_for_a)
    res = inproc("adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--wav-scp", scp, "--epochs", "1",
                 "--keep", "1", "--min-utts", "2", tmp_path / "d1" / "text", f"ark,t:{tmp_path / 'trans.txt'}")
    assert b"speaker 'a': the transform raised the loss per token on the" in res.stderr, res.stderr
    transforms = dict(read_matrices(f"ark:{tmp_path / 'trans.txt'}"))
    assert np.array_equal(transforms["a"], identity_transform(23))
    assert not np.array_equal(transforms["b"], identity_transform(23))


def test_hypotheses_from_stdin(inproc, yesno, tmp_path):  # noqa: F811
    """<hyp-text> '-' is stdin, as Kaldi's '-' is wherever a table is read (it was "-: no such
    file"); stdin that is a terminal is refused, not waited on, and '-' read twice is named."""
    from cli_checks import error_line, run
    from process_checks import a_terminal

    _, model, wavs = yesno
    utt2spk = two_speakers(tmp_path, wavs)
    scp = tmp_path / "wav.scp"
    inproc("decode", "--mode", "greedy", "--model", model, "--wav-scp", scp, "--output-dir", tmp_path / "d1")
    hyp = tmp_path / "d1" / "text"
    adapt = ("adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--wav-scp", scp, "--epochs", "1",
             "--min-utts", "1")
    inproc(*adapt, hyp, f"ark,t:{tmp_path / 'by_path.txt'}")
    piped = run([*adapt, "-", f"ark,t:{tmp_path / 'dash.txt'}"], input=hyp.read_bytes())
    assert piped.returncode == 0, piped.stderr.decode()
    assert (tmp_path / "dash.txt").read_bytes() == (tmp_path / "by_path.txt").read_bytes()
    twice = run(["adapt-speakers", "--model", model, "--utt2spk", "/dev/stdin", "--wav-scp", scp, "-",
                 f"ark:{tmp_path / 't.ark'}"], input=hyp.read_bytes())
    assert "<hyp-text> and --utt2spk are both stdin" in error_line(twice)
    feats = run(["adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--feats", "ark:-", "-",
                 f"ark:{tmp_path / 't.ark'}"], input=hyp.read_bytes())
    assert "<hyp-text> - and --feats ark:- both read stdin" in error_line(feats)
    with a_terminal() as terminal:
        tty = error_line(run([*adapt, "-", f"ark:{tmp_path / 't.ark'}"], stdin=terminal))
    assert "/dev/stdin: stdin is a terminal, not a text file" in tty
    assert not (tmp_path / "t.ark").exists()
    # --utt2spk - and --segments - too (they were "-: no such file")
    by_utt2spk = run(["adapt-speakers", "--model", model, "--utt2spk", "-", "--wav-scp", scp, "--epochs", "1",
                      "--min-utts", "1", hyp, f"ark,t:{tmp_path / 'utt2spk_dash.txt'}"], input=utt2spk.read_bytes())
    assert by_utt2spk.returncode == 0, by_utt2spk.stderr.decode()
    assert (tmp_path / "utt2spk_dash.txt").read_bytes() == (tmp_path / "by_path.txt").read_bytes()
    segments = run(["adapt-speakers", "--model", model, "--utt2spk", "-", "--segments", "-", "--wav-scp", scp, hyp,
                    f"ark:{tmp_path / 't.ark'}"], input=utt2spk.read_bytes())
    assert "--utt2spk and --segments are both stdin" in error_line(segments)
    segments = run(["adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--segments", "-", "--feats", "ark:-",
                    hyp, f"ark:{tmp_path / 't.ark'}"], input=b"")
    assert "--segments - and --feats ark:- both read stdin" in error_line(segments)


@pytest.mark.parametrize("empty", ["hyp", "utt2spk"])
def test_an_empty_hypothesis_text_or_utt2spk_is_named(inproc, yesno, tmp_path, empty):  # noqa: F811
    """An empty <hyp-text> or --utt2spk (a first pass that wrote nothing, a `> text` left behind) was
    "all 5 utterances failed (first: utterance '...': no hypothesis in text)", every recording read."""
    _, model, wavs = yesno
    utt2spk = two_speakers(tmp_path, wavs)
    scp, hyp = tmp_path / "wav.scp", tmp_path / "text"
    hyp.write_text("".join(f"{w.stem}\n" for w in wavs))  # nothing recognised: a line per utterance
    (hyp if empty == "hyp" else utt2spk).write_text("")
    res = inproc("adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--wav-scp", scp, "--epochs", "1", hyp,
                 f"ark:{tmp_path / 't.ark'}", check=False)
    what = "no hypotheses" if empty == "hyp" else "no utterances"
    path = hyp if empty == "hyp" else utt2spk
    assert res.returncode == 1 and (f"ERROR (asrkit-adapt-speakers): {path}: empty: {what} to adapt on\n"
                                    .encode()) in res.stderr, res.stderr
    assert b"skipping utterance" not in res.stderr and not (tmp_path / "t.ark").exists()


def test_a_first_pass_that_recognised_nothing_is_not_empty(inproc, yesno, tmp_path):  # noqa: F811
    """Every hypothesis empty (a line per utterance, the id alone): each speaker keeps the identity, as before."""
    _, model, wavs = yesno
    utt2spk = two_speakers(tmp_path, wavs)
    hyp = tmp_path / "text"
    hyp.write_text("".join(f"{w.stem}\n" for w in wavs))
    res = inproc("adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--wav-scp", tmp_path / "wav.scp",
                 "--epochs", "1", "--min-utts", "1", hyp, f"ark,t:{tmp_path / 't.txt'}")
    assert b"wrote transforms of 2 speakers" in res.stderr
    assert all(np.array_equal(t, identity_transform(23)) for _, t in read_matrices(f"ark:{tmp_path / 't.txt'}"))


def test_the_models_own_unk_in_a_hypothesis_is_not_a_character_to_clean(inproc, yesno, tmp_path):  # noqa: F811
    """A first pass writes the model's <unk> as '⁇': read back, it was warned of as "characters the
    tokenizer does not know ... '⁇' x2 ...; clean the text or retrain the tokenizer on it", of the
    model's own output. It is still <unk> to adapt on; a character of the text's own is still warned of."""
    _, model, wavs = yesno
    utt2spk = two_speakers(tmp_path, wavs)
    hyp = tmp_path / "text"
    words = [" ".join("YES" if c == "1" else "NO" for c in w.stem.split("_")) for w in wavs]
    hyp.write_text("".join(f"{w.stem} {t} \u2047 NO\n" for w, t in zip(wavs, words)))
    adapt = ("adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--wav-scp", tmp_path / "wav.scp",
             "--epochs", "1", "--min-utts", "1")
    res = inproc(*adapt, hyp, f"ark,t:{tmp_path / 't.txt'}")
    assert b"does not know" not in res.stderr and b"wrote transforms of 2 speakers" in res.stderr, res.stderr
    hyp.write_text("".join(f"{w.stem} {t} \u2047 N\u00d8\n" for w, t in zip(wavs, words)))
    res = inproc(*adapt, hyp, f"ark,t:{tmp_path / 't2.txt'}")
    assert f"{len(wavs)} utterance(s) have characters the tokenizer does not know".encode() in res.stderr, res.stderr


def test_max_samples_is_the_first_pass_limit(inproc, yesno, tmp_path):  # noqa: F811
    """asrkit-decode --max-samples reads recordings over the default; asrkit-adapt-speakers had no
    such option, so it skipped them naming an option it refused ("No such option")."""
    import soundfile as sf

    _, model, wavs = yesno
    utt2spk = two_speakers(tmp_path, wavs)
    hyp = tmp_path / "text"
    hyp.write_text("".join(f"{w.stem} " + " ".join("YES" if c == "1" else "NO" for c in w.stem.split("_")) + "\n"
                           for w in wavs))
    adapt = ("adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--wav-scp", tmp_path / "wav.scp",
             "--epochs", "1", "--min-utts", "1")
    longest = max(sf.info(str(w)).frames for w in wavs)
    res = inproc(*adapt, "--max-samples", str(longest - 1), hyp, f"ark:{tmp_path / 'short.ark'}", check=False)
    assert res.returncode == 1 and b"samples per read (--max-samples)" in res.stderr, res.stderr
    assert not (tmp_path / "short.ark").exists()
    res = inproc(*adapt, "--max-samples", str(longest), hyp, f"ark:{tmp_path / 'all.ark'}")
    assert b"wrote transforms of 2 speakers" in res.stderr, res.stderr


def test_channel_of_stereo_audio_is_the_first_pass_channel(inproc, yesno, tmp_path):  # noqa: F811
    """asrkit-decode --channel 1 decodes one channel of stereo audio; asrkit-adapt-speakers had no
    --channel, so its transforms were estimated on the mean of the channels, features the second
    pass never sees. --channel 1 of [other, x] gives the transforms of x alone."""
    import soundfile as sf

    _, model, wavs = yesno
    utt2spk = two_speakers(tmp_path, wavs)  # writes tmp_path/wav.scp of the mono files
    stereo = tmp_path / "stereo.scp"
    lines = []
    for w in wavs:
        x, rate = sf.read(str(w), dtype="int16")
        sf.write(str(tmp_path / f"{w.stem}.wav"), np.stack([x[::-1], x], axis=1), rate)
        lines.append(f"{w.stem} {tmp_path / f'{w.stem}.wav'}\n")
    stereo.write_text("".join(lines))
    hyp = tmp_path / "text"
    hyp.write_text("".join(f"{w.stem} " + " ".join("YES" if c == "1" else "NO" for c in w.stem.split("_")) + "\n"
                           for w in wavs))
    adapt = ("adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--epochs", "2", "--keep", "1", "--min-utts", "1")
    inproc(*adapt, "--wav-scp", tmp_path / "wav.scp", hyp, f"ark:{tmp_path / 'mono.ark'}")
    inproc(*adapt, "--wav-scp", stereo, "--channel", "1", hyp, f"ark:{tmp_path / 'ch1.ark'}")
    inproc(*adapt, "--wav-scp", stereo, hyp, f"ark:{tmp_path / 'mean.ark'}")
    mono, ch1, mean = (dict(read_matrices(f"ark:{tmp_path / n}")) for n in ("mono.ark", "ch1.ark", "mean.ark"))
    assert sorted(mono) == sorted(ch1) == ["a", "b"]
    assert all(np.array_equal(mono[s], ch1[s]) for s in mono)
    assert not any(np.array_equal(mono[s], mean[s]) for s in mono)
    res = inproc(*adapt, "--wav-scp", stereo, "--channel", "2", "--max-bad-percent", "100", hyp,
                 f"ark:{tmp_path / 'ch2.ark'}", check=False)
    assert res.returncode == 1 and b"--channel 2 but the audio has 2 channel(s)" in res.stderr, res.stderr
    res = inproc(*adapt, "--feats", f"scp:{tmp_path / 'f.scp'}", "--channel", "1", hyp, f"ark:{tmp_path / 'f.ark'}",
                 check=False)
    assert res.returncode == 1 and b"--channel goes with audio input" in res.stderr, res.stderr
