"""asrkit-pack-model: the decoding options travel in the model file, and asrkit-decode,
asrkit-adapt-speakers and the Transcriber start from them when given no --config."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import yaml

from asrkit.decoding.config import RUNTIME_OPTIONS, DecodeConfig
from asrkit.decoding.pack import pack_model
from asrkit.models.package import DECODE_OPTIONS, load_package, packed_decode_options
from asrkit.utils.errors import AsrkitError

from test_decode_cli import build_model, inproc  # noqa: F401  (fixture)

# Far from asrkit's defaults (beam 10, ctc_weight 0.3, penalty 0), so that each shows where it came from.
CHOSEN = "beam: 3\nctc_weight: 0.6\npenalty: 0.5\ndevice: cpu\nbatch_size: 2\n"


@pytest.fixture(scope="module")
def yesno_model(yesno_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("packyesno")
    wavs = sorted((yesno_root / "waves_yesno").glob("*.wav"))[:5]
    sentences = [" ".join("YES" if c == "1" else "NO" for c in w.stem.split("_")) for w in wavs]
    return tmp, build_model(tmp, wavs, sentences, 8000, 23, "yesno", ends=True), wavs


@pytest.fixture
def asrkit(inproc):  # noqa: F811
    """These tests check what the commands print, write and exit with, nothing of a process (signals,
    start-up, a real stdin): run them in this process, without a torch import each (2-3 s CPU)."""
    return inproc


def printed_config(asrkit, *args) -> dict:
    return yaml.safe_load(asrkit("decode", *args, "--print-config").stdout)


def test_decode_starts_from_the_packed_options(asrkit, yesno_model, tmp_path):
    tmp, model, wavs = yesno_model
    conf = tmp_path / "decode.yaml"
    conf.write_text(CHOSEN)
    final = tmp_path / "final.pt"
    proc = asrkit("pack-model", "--decode-config", conf, model, final)
    assert "beam 3, ctc_weight 0.6, penalty 0.5" in proc.stderr.decode()
    options = packed_decode_options(final)
    assert options == DecodeConfig.from_yaml(conf).packed() and not set(RUNTIME_OPTIONS) & set(options)
    assert packed_decode_options(model) is None
    # the weights and everything else are the model's own
    a, b = load_package(model), load_package(final)
    assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())
    assert b.meta.decode_options == options and a.meta.decode_options is None

    assert {k: printed_config(asrkit, "--model", final)[k] for k in ("beam", "ctc_weight", "penalty")} == \
        {"beam": 3, "ctc_weight": 0.6, "penalty": 0.5}
    # the runtime options are the run's own; a flag overrides one packed option; --config replaces them all
    assert printed_config(asrkit, "--model", final)["batch_size"] == DecodeConfig().batch_size
    assert printed_config(asrkit, "--model", final, "--beam", "5")["beam"] == 5
    other = tmp_path / "other.yaml"
    other.write_text("beam: 7\n")
    shown = printed_config(asrkit, "--model", final, "--config", other)
    assert (shown["beam"], shown["ctc_weight"], shown["penalty"]) == (7, DecodeConfig().ctc_weight, 0.0)
    assert printed_config(asrkit, "--model", model)["beam"] == DecodeConfig().beam  # none packed: defaults

    # the same text as the model decoded with the file, and the log says where the options came from
    packed = asrkit("decode", "--model", final, *wavs)
    explicit = asrkit("decode", "--model", model, "--config", conf, *wavs)
    assert packed.stdout == explicit.stdout and packed.stdout.decode().count("\n") == len(wavs)
    assert f"decoding options: packed in {final}" in packed.stderr.decode()
    assert "beam 3, ctc 0.6" in packed.stderr.decode()


def test_transcriber_and_adapt_speakers_start_from_them_too(asrkit, yesno_model, tmp_path):
    from asrkit import Transcriber

    tmp, model, wavs = yesno_model
    conf = tmp_path / "decode.yaml"
    conf.write_text(CHOSEN)
    final = tmp_path / "final.pt"
    pack_model(model, final, DecodeConfig.from_yaml(conf))
    t = Transcriber.from_file(final)
    assert (t.config.beam, t.config.ctc_weight, t.config.penalty) == (3, 0.6, 0.5)
    assert Transcriber.from_file(final, beam=4).config.beam == 4
    assert Transcriber.from_file(final, config=DecodeConfig()).config.beam == DecodeConfig().beam
    assert Transcriber.from_file(model).config.beam == DecodeConfig().beam
    utt2spk = tmp_path / "utt2spk"
    utt2spk.write_text("".join(f"{w.stem} s\n" for w in sorted(wavs)))
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"{w.stem} {w}\n" for w in sorted(wavs)))
    hyp = tmp_path / "hyp"
    hyp.write_text("".join(f"{w.stem} YES\n" for w in sorted(wavs)))
    proc = asrkit("adapt-speakers", "--model", final, "--utt2spk", utt2spk, "--wav-scp", scp, "--epochs", "1",
                  "--min-utts", "1", hyp, f"ark:{tmp_path}/trans.ark")
    assert f"decoding options: packed in {final}" in proc.stderr.decode()


def test_a_packed_lm_weight_waits_for_an_lm(asrkit, yesno_model, tmp_path):
    """Options chosen with an LM name its weight; the LM is not in the model, and "lm_weight is 0.3
    but no LM was given" would refuse the model's own options."""
    tmp, model, wavs = yesno_model
    final = tmp_path / "final.pt"
    pack_model(model, final, DecodeConfig(lm_weight=0.3, beam=3))
    proc = asrkit("decode", "--model", final, wavs[0])
    assert "its lm_weight 0.3 is for decoding with an LM; without one, 0" in proc.stderr.decode()
    cfg, source = DecodeConfig.resolve(None, final, has_lm=True)
    assert cfg.lm_weight == 0.3 and source == f"packed in {final}"


def test_bad_options_and_files_are_one_line(asrkit, yesno_model, tmp_path):
    tmp, model, wavs = yesno_model
    bad = tmp_path / "bad.yaml"
    out = tmp_path / "final.pt"
    for text, message in (("beam: 0\n", "bad.yaml:1: beam must be"), ("beem: 3\n", "unknown key 'beem'"),
                          ("- 1\n", "bad.yaml")):
        bad.write_text(text)
        proc = asrkit("pack-model", "--decode-config", bad, model, out, check=False)
        assert proc.returncode == 1 and message in proc.stderr.decode() and not out.exists(), proc.stderr
    good = tmp_path / "good.yaml"
    good.write_text(CHOSEN)
    for args, message in (
            ((tmp_path / "nope.pt", out), "nope.pt: no such"),
            ((good, out), "not an asrkit model"),                      # a YAML file given as the model
            ((model, "-"), "<model-out> -: a model is written to a file, not to stdout"),
            ((model, good), f"<model-out> {good} is the --decode-config file {good}: give another path")):
        proc = asrkit("pack-model", "--decode-config", good, *args, check=False)
        assert proc.returncode == 1 and message in proc.stderr.decode(), proc.stderr
        assert "Traceback" not in proc.stderr.decode() and not out.exists()
    proc = asrkit("pack-model", "--decode-config", good, tmp, out, check=False)  # click's usage error, as decode's
    assert proc.returncode == 2 and "is a directory" in proc.stderr.decode() and not out.exists()
    # in place: <model-out> may be <model-in>
    copy = tmp_path / "copy.pt"
    copy.write_bytes(Path(model).read_bytes())
    asrkit("pack-model", "--decode-config", good, copy, copy)
    assert packed_decode_options(copy)["beam"] == 3


def test_a_run_s_checkpoint_is_not_replaced_by_a_packed_model(asrkit, yesno_model, tmp_path):
    """<model-out> exp/las/checkpoints/epoch1.pt replaced that epoch by a packed model, exit 0: a
    resume lost it and the next asrkit-average failed on it ('not an asrkit training checkpoint').
    asrkit-average refuses such an --out; pack-model does too, changing nothing. A name like a
    checkpoint's outside a checkpoints/ folder is still written."""
    tmp, model, wavs = yesno_model
    good = tmp_path / "good.yaml"
    good.write_text(CHOSEN)
    ckpt = tmp_path / "exp" / "checkpoints" / "epoch1.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"a checkpoint")
    proc = asrkit("pack-model", "--decode-config", good, model, ckpt, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert f"<model-out> {ckpt}: that is where {tmp_path / 'exp'}'s training checkpoints go" in err, err
    assert ckpt.read_bytes() == b"a checkpoint"
    asrkit("pack-model", "--decode-config", good, model, tmp_path / "exp" / "epoch1.pt")
    assert packed_decode_options(tmp_path / "exp" / "epoch1.pt")["beam"] == 3


@pytest.mark.parametrize("damage, message", [
    (lambda blob: blob.update(tokenizer=b"garbage"), "damaged tokenizer in the model"),
    (lambda blob: blob.update(model_config={}), "model does not match its config"),
    (lambda blob: blob.update(tokenizer=None, tokens=[]), "neither a tokenizer nor a token list"),
], ids=["garbage tokenizer", "config that does not fit the weights", "no spelling"])
def test_a_model_decoding_would_refuse_is_not_packed(asrkit, yesno_model, tmp_path, damage, message):
    # read_package alone (every field's form, every weight finite) passed both: pack-model wrote
    # final.pt with exit 0, and asrkit-decode refused it afterwards.
    tmp, model, wavs = yesno_model
    blob = torch.load(model, weights_only=True)
    damage(blob)
    bad, out, conf = tmp_path / "bad.pt", tmp_path / "final.pt", tmp_path / "decode.yaml"
    torch.save(blob, bad)
    conf.write_text(CHOSEN)
    decoded = asrkit("decode", "--model", bad, wavs[0], check=False)
    assert decoded.returncode == 1 and message in decoded.stderr.decode(), decoded.stderr
    proc = asrkit("pack-model", "--decode-config", conf, bad, out, check=False)
    assert proc.returncode == 1 and message in proc.stderr.decode() and not out.exists(), proc.stderr
    assert "Traceback" not in proc.stderr.decode() and not list(tmp_path.glob("final.pt*"))


def test_a_model_that_cannot_be_read_is_not_said_to_have_no_options(asrkit, yesno_model, tmp_path):
    # The "decoding options:" line used to come before the model was loaded: a missing model, or
    # a file that is not one, was first logged as "asrkit's defaults (the model has none packed)".
    tmp, model, wavs = yesno_model
    (tmp_path / "notes.pt").write_text("not a model\n")
    for bad, message in ((tmp_path / "nope.pt", "nope.pt: no such model file"), (tmp_path / "notes.pt", "not an asrkit model")):
        for cmd in (("decode", "--model", bad, wavs[0]),
                    ("adapt-speakers", "--model", bad, "--utt2spk", tmp_path / "utt2spk", "--wav-scp", tmp_path / "wav.scp",
                     tmp_path / "hyp", "ark:" + str(tmp_path / "t.ark"))):
            (tmp_path / "utt2spk").write_text("u s\n")
            (tmp_path / "wav.scp").write_text(f"u {wavs[0]}\n")
            (tmp_path / "hyp").write_text("u YES\n")
            proc = asrkit(*cmd, check=False)
            err = proc.stderr.decode()
            assert proc.returncode == 1 and message in err and "none packed" not in err, err


def _with_options(model: Path, path: Path, options) -> Path:
    blob = torch.load(model, weights_only=True)
    blob["extra"] = {DECODE_OPTIONS: options}
    torch.save(blob, path)
    return path


@pytest.mark.parametrize("options, message", [
    ({"beam": [3]}, "damaged asrkit model: extra: decode_options has 'beam' (a str): [3] (a list), expected option "
                    "names with plain values"),
    ("beam: 3", "damaged asrkit model: extra: decode_options is 'beam: 3' (a str), expected a mapping"),
    ({"beam": -1}, "its packed decoding options: beam must be"),
    ({"beam": 3, "new_option": 1}, "unknown model option 'decode_options.new_option': the model was probably "
                                   "written by a newer asrkit"),
])
def test_damaged_packed_options_name_the_model(asrkit, yesno_model, tmp_path, options, message):
    tmp, model, wavs = yesno_model
    damaged = _with_options(model, tmp_path / "damaged.pt", options)
    for args in (("decode", "--model", damaged, wavs[0]), ("decode", "--model", damaged, "--print-config")):
        proc = asrkit(*args, check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and f"{damaged}" in err and message in err and "Traceback" not in err, err
    with pytest.raises(AsrkitError, match="damaged|packed decoding options|newer asrkit"):
        from asrkit import Transcriber

        Transcriber.from_file(damaged)
    # --config stands for the options: the rest of the model is sound, and decodes
    if isinstance(options, dict) and all(isinstance(v, int) for v in options.values()):
        conf = tmp_path / "c.yaml"
        conf.write_text("beam: 2\n")
        assert asrkit("decode", "--model", damaged, "--config", conf, wavs[0]).returncode == 0


def test_options_are_read_where_files_cannot_be_mapped(yesno_model, tmp_path, monkeypatch):
    """A file system that cannot map files (mmap refused) must not make the options silently the
    defaults: they are read the ordinary way then."""
    tmp, model, wavs = yesno_model
    final = tmp_path / "final.pt"
    pack_model(model, final, DecodeConfig(beam=3))
    real_load = torch.load

    def no_mmap(*args, **kwargs):
        if kwargs.get("mmap"):
            raise RuntimeError("mmap not supported here")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", no_mmap)
    assert packed_decode_options(final)["beam"] == 3


class _RunsCode:
    """A pickled object whose loading would run a command (what an unsafe torch.load runs)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_the_options_are_read_as_tensors_and_plain_data_only(asrkit, yesno_model, tmp_path):
    """A model file a user was handed is read with weights_only: an object in it that would run code
    when unpickled is refused, and nothing runs, before the options (None: the full load names it)
    and in the full load."""
    tmp, model, wavs = yesno_model
    marker = tmp_path / "ran"
    hostile = tmp_path / "hostile.pt"
    blob = torch.load(model, weights_only=True)
    blob["extra"] = {DECODE_OPTIONS: {"beam": 3}, "payload": _RunsCode(marker)}
    torch.save(blob, hostile)
    assert packed_decode_options(hostile) is None and not marker.exists()
    proc = asrkit("decode", "--model", hostile, wavs[0], check=False)
    assert proc.returncode == 1 and "not an asrkit model" in proc.stderr.decode() and not marker.exists(), \
        proc.stderr


def test_upsampled_rates_given_are_added_to_those_the_model_records(asrkit, yesno_model, tmp_path):
    """--upsampled-from replaced the rates the model recorded (asrkit-train's, or an earlier pack's): 8 kHz
    audio then decoded with its empty bins filled, unlike training, and the log named the new rate alone."""
    from asrkit.models.package import read_package

    _, model, _ = yesno_model  # an 8 kHz model
    conf = tmp_path / "decode.yaml"
    conf.write_text("beam: 2\n")
    asrkit("pack-model", "--decode-config", conf, "--upsampled-from", "4000", model, tmp_path / "a.pt")
    proc = asrkit("pack-model", "--decode-config", conf, "--upsampled-from", "6000", tmp_path / "a.pt",
                  tmp_path / "b.pt")
    assert read_package(tmp_path / "b.pt")[0].upsampled_rates == [4000, 6000]
    assert "resampled up from 4000, 6000 Hz" in proc.stderr.decode()
    asrkit("pack-model", "--decode-config", conf, tmp_path / "b.pt", tmp_path / "c.pt")  # none given: kept
    assert read_package(tmp_path / "c.pt")[0].upsampled_rates == [4000, 6000]


def test_a_packed_model_is_marked_without_its_options_given_again(asrkit, yesno_model, tmp_path):
    """README's re-marking of a model (``--upsampled-from 8000``) stopped at click's ``Missing option
    '--decode-config'``: the user had to find the options stage 5 packed. Without one, the model's
    own options are kept (none stay none); with neither option there is nothing to do."""
    from asrkit.models.package import read_package

    _, model, _ = yesno_model
    conf = tmp_path / "decode.yaml"
    conf.write_text(CHOSEN)
    final = tmp_path / "final.pt"
    pack_model(model, final, DecodeConfig.from_yaml(conf))
    proc = asrkit("pack-model", "--upsampled-from", "4000", final, final)
    meta = read_package(final)[0]
    assert meta.upsampled_rates == [4000] and meta.decode_options == DecodeConfig.from_yaml(conf).packed()
    assert "with the decoding options it holds (" in proc.stderr.decode()
    asrkit("pack-model", "--upsampled-from", "4000", model, tmp_path / "bare.pt")
    assert read_package(tmp_path / "bare.pt")[0].decode_options is None
    proc = asrkit("pack-model", model, tmp_path / "x.pt", check=False)
    assert proc.returncode == 2 and "nothing to pack: give --decode-config FILE" in proc.stderr.decode()
    assert not (tmp_path / "x.pt").exists()
