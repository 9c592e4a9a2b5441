"""The decoding library's own loading and input assembly (what asrkit-decode and bench/decode_speed.py call)."""
from __future__ import annotations

import pytest

from asrkit.decoding.config import DecodeConfig
from asrkit.decoding.inputs import DecodeInputs
from asrkit.decoding.recognizer import Recognizer
from asrkit.features.fbank import FbankConfig
from asrkit.models.lm import save_lm
from asrkit.models.package import PackageMeta, save_package
from asrkit.utils.errors import AsrkitError

from decoding_tiny import IDIM, V, tiny_las, tiny_lm

TOKENS = ["<blank>", "<unk>"] + [f"p{i}" for i in range(V - 3)] + ["<sos/eos>"]


def test_from_files_loads_model_and_lm_and_knows_the_frame_shift(tmp_path):
    model, lm = tiny_las(), tiny_lm()
    fbank = FbankConfig(num_mel_bins=IDIM, frame_shift=12.5)
    save_package(tmp_path / "model.pt", model.state_dict(),
                 PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, feature_config=fbank, tokens=TOKENS))
    save_lm(tmp_path / "lm.pt", lm.state_dict(), lm.config, TOKENS)
    rec = Recognizer.from_files(tmp_path / "model.pt", DecodeConfig(lm_weight=0.5), tmp_path / "lm.pt")
    assert rec.lm is not None and rec.weights["lm"] == 0.5 and rec.frame_shift_s == 0.0125
    assert Recognizer.from_files(tmp_path / "model.pt", DecodeConfig(), tmp_path / "lm.pt").lm is None  # weight 0
    save_lm(tmp_path / "other.pt", lm.state_dict(), lm.config, TOKENS[:-2] + ["x", "<sos/eos>"])
    with pytest.raises(AsrkitError, match="different token list"):
        Recognizer.from_files(tmp_path / "model.pt", DecodeConfig(lm_weight=0.5), tmp_path / "other.pt")


def test_inputs_check_options_and_cut_jobs_as_kaldi(tmp_path):
    for kwargs, message in [({}, "give exactly one input"), ({"feats": "scp:a", "wavs": ["b.wav"]}, "exactly one"),
                            ({"wavs": ["a.wav"], "segments": "s"}, "--segments goes with --wav-scp"),
                            ({"wavs": ["a.wav"], "nj": 2, "job": 3}, "--job must be in 1..--nj (2)"),
                            # was "--job must be in 1..--nj (0), got 1", blaming the --job not given
                            ({"wavs": ["a.wav"], "nj": 0}, "--nj must be at least 1, got 0")]:
        with pytest.raises(AsrkitError, match=message.replace("(", r"\(").replace(")", r"\)")):
            DecodeInputs(**kwargs)
    wavs = [str(tmp_path / f"u{i}.wav") for i in range(5)]  # unreadable: each becomes a counted error
    first, total = DecodeInputs(wavs=wavs, nj=2, job=1).open(lambda *a: None)
    second, total2 = DecodeInputs(wavs=wavs, nj=2, job=2).open(lambda *a: None)
    assert (total, total2) == (3, 2)  # split_scp.pl: the first piece takes the extra one
    assert [u for u, _, _ in first] == ["u0", "u1", "u2"] and [u for u, _, e in second if e] == ["u3", "u4"]
    ids = tmp_path / "ids"
    ids.write_text("u4 x\nnosuch\nu1\n")
    items, total = DecodeInputs(wavs=wavs, utt_ids=str(ids)).open(lambda *a: None)
    items = list(items)
    # the ids asked for, in --utt-ids order (as for a wav.scp); one no file gives is a named error
    assert total == 3 and [u for u, _, _ in items] == ["nosuch", "u4", "u1"]
    assert "utterance 'nosuch': not among the audio files given" in str(items[0][2])


class _Payload:
    """Unpickling this creates ``marker`` (what a hostile lm.pt would do with weights_only=False)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("field, value, message", [
    ("version", "1", "damaged asrkit LM: version is '1', expected an integer >= 1"),
    ("vocab_size", "9", "damaged asrkit LM: vocab_size is '9', expected an integer >= 2"),
    # a key this asrkit lacks: a newer asrkit's LM, not a damaged one (nobody types into lm.pt)
    ("config", {"hiden": 3}, "unknown LM option 'config.hiden': the LM was probably written by a newer asrkit"),
    ("extra", "HOSTILE", "not an asrkit LM (not a torch file, or one holding more than tensors"),
])
def test_damaged_or_hostile_lm_is_one_clear_line(tmp_path, field, value, message):
    import torch

    from asrkit.models.lm import load_lm

    lm, path = tiny_lm(), tmp_path / "lm.pt"
    save_lm(path, lm.state_dict(), lm.config, TOKENS)
    blob = torch.load(path, weights_only=True)
    blob[field] = {"x": _Payload(str(tmp_path / "pwned"))} if value == "HOSTILE" else value
    torch.save(blob, path)
    with pytest.raises(AsrkitError) as e:
        load_lm(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "pwned").exists()


def test_attention_only_guards_follow_the_ctc_weight_used(tmp_path, monkeypatch):
    """The guards are on when the attention decoder decodes alone, also for a model without CTC."""
    import numpy as np

    from asrkit.decoding.scorers import AttentionScorer

    model = tiny_las()
    save_package(tmp_path / "model.pt", model.state_dict(),
                 PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS))
    joint = Recognizer.from_files(tmp_path / "model.pt", DecodeConfig(ctc_weight=0.3))
    assert (joint.opts.eos_threshold, joint.max_backtrack) == (0.0, 0)
    alone = Recognizer.from_files(tmp_path / "model.pt", DecodeConfig(ctc_weight=0.0))
    assert (alone.opts.eos_threshold, alone.max_backtrack) == (1.5, 8)
    seen = []
    init = AttentionScorer.__init__

    def spy(self, *args, **kwargs):
        init(self, *args, **kwargs)
        seen.append(self.max_backtrack)

    monkeypatch.setattr(AttentionScorer, "__init__", spy)
    alone.decode([("u", np.zeros((20, IDIM), dtype=np.float32))], normalized=True)
    assert seen == [8]
    no_ctc = tiny_las(ctc=0.0)  # decoded at ctc_weight 0 whatever the config says
    save_package(tmp_path / "noctc.pt", no_ctc.state_dict(),
                 PackageMeta(model_config=no_ctc.config, idim=IDIM, vocab_size=V, tokens=TOKENS))
    rec = Recognizer.from_files(tmp_path / "noctc.pt", DecodeConfig(ctc_weight=0.3))
    assert (rec.opts.eos_threshold, rec.max_backtrack) == (1.5, 8)



def test_length_bonus_without_ctc_warns(tmp_path, caplog):
    """conf/decode.yaml's bonus was tuned for joint decoding; alone it rewards attention loops."""
    model = tiny_las()
    save_package(tmp_path / "model.pt", model.state_dict(),
                 PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V, tokens=TOKENS))
    warned = []
    for kwargs in ({"ctc_weight": 0.0, "penalty": 1.0}, {"ctc_weight": 0.4, "penalty": 1.0},
                   {"ctc_weight": 0.0, "penalty": 0.0}, {"ctc_weight": 0.0, "penalty": 1.0, "mode": "greedy"}):
        caplog.clear()
        Recognizer.from_files(tmp_path / "model.pt", DecodeConfig(**kwargs))
        warned.append(any("length bonus (penalty 1) with attention-only beam search" in r.getMessage()
                          for r in caplog.records))
    assert warned == [True, False, False, False]

def test_lm_with_nan_weights_is_refused_by_name(tmp_path):
    import torch

    from asrkit.models.lm import load_lm

    lm, path = tiny_lm(), tmp_path / "lm.pt"
    sd = lm.state_dict()
    name = next(iter(sd))
    sd[name] = sd[name].clone()
    sd[name].view(-1)[0] = float("inf")
    save_lm(path, sd, lm.config, TOKENS)
    with pytest.raises(AsrkitError, match=rf"{path}: damaged asrkit LM: 1 non-finite value\(s\) \(NaN or Inf\) "
                                          rf"in weight '{name}'"):
        load_lm(path)


def test_text_has_no_extra_spaces_from_lone_word_boundaries():
    """A lone '▁' piece decodes as a space of its own: ['▁', 'A', '▁', 'R', '▁'] was "A R " (the
    Transcriber's text; asrkit-decode's text line lost only the trailing space) and '▁' '▁T' "R  T"
    (a cut recording's joined text held such double spaces)."""
    from types import SimpleNamespace

    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    tok = train_tokenizer(["A R", "R T"] * 5, TokenizerConfig(model_type="char"))
    ids = [tok.token_to_id(p) for p in ["▁", "A", "▁", "R", "▁", "▁", "T", "▁"]]
    stub = SimpleNamespace(pkg=SimpleNamespace(tokenizer=tok, tokens=tok.tokens))
    assert Recognizer.text(stub, ids) == "A R T"
    assert Recognizer.text(stub, [tok.token_to_id("▁")]) == ""


def test_features_normalised_already_are_told_from_raw_ones(tmp_path):
    """Recognizer.normalized_twice (asrkit-decode --feats's warning): features with about mean 0
    and deviation 1 per dim, given to a model whose training features were far from that, would be
    normalised twice by the packed CMVN. Raw features are not, at the training level or at a level
    that brings their mean near 0 (a quiet recording: the training mean's shape across the bins
    kept), nor is anything for a model whose training features were standard already or that has
    no CMVN packed."""
    import numpy as np

    model = tiny_las()
    bins = np.arange(IDIM)
    mean, sd, count = 11.0 + 0.4 * np.sin(bins), 2.5, 1000.0

    def rec_with(stats, name):
        save_package(tmp_path / name, model.state_dict(),
                     PackageMeta(model_config=model.config, idim=IDIM, vocab_size=V,
                                 feature_config=FbankConfig(num_mel_bins=IDIM), cmvn=stats, tokens=TOKENS))
        return Recognizer.from_files(tmp_path / name, DecodeConfig())

    def stats_of(m, s):
        return np.array([list(m * count) + [count], list((s ** 2 + m ** 2) * count) + [0.0]])

    rec = rec_with(stats_of(mean, sd), "model.pt")
    one, zero = np.ones(IDIM), np.zeros(IDIM)
    assert rec.normalized_twice(zero, one)  # asrkit-apply-cmvn's output
    assert rec.normalized_twice(0.2 * np.cos(bins), 0.4 * one)  # a few takes of speech, normalised globally
    assert not rec.normalized_twice(mean, sd * one)  # raw, at the training level
    assert not rec.normalized_twice(mean - 8.0, sd * one)  # raw, quieter
    assert not rec.normalized_twice(mean - np.median(mean), one)  # raw, at a level whose mean is near 0
    standard = rec_with(stats_of(0.1 * np.sin(bins), 1.0), "standard.pt")
    assert not standard.normalized_twice(zero, one)  # a model trained on normalised features
    assert not rec_with(None, "nocmvn.pt").normalized_twice(zero, one)
