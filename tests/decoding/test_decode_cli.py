"""asrkit-decode and asrkit-train-lm end to end on real yesno and AN4 audio, with tiny packed models."""
from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest
import torch

from asrkit.data.specifier import MatrixWriter
from asrkit.features.cmvn import accumulate_cmvn, apply_cmvn
from asrkit.features.fbank import FbankConfig, compute_fbank
from asrkit.features.wav import read_wav_source
from asrkit.models.package import PackageMeta, save_package
from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

from cli_checks import run_asrkit_in_process
from decoding_tiny import tiny_las

AN4_TEST = ["fcaw/an406-fcaw-b", "fcaw/an407-fcaw-b", "mmxg/an441-mmxg-b", "mmxg/an442-mmxg-b",
            "fjlp/an396-fjlp-b"]


def an4_test_wavs(an4_root: Path):
    paths = [an4_root / "wav" / "an4test_clstk" / f"{p}.wav" for p in AN4_TEST]
    return [p for p in paths if p.is_file()][:4]


def an4_transcripts(an4_root: Path):
    lines = (an4_root / "etc" / "an4_train.transcription").read_text().splitlines()
    return [ln.split("(")[0].replace("<s>", "").replace("</s>", "").strip() for ln in lines]


def build_model(tmp: Path, wavs, sentences, rate: int, mel: int, name: str, ends: bool = False) -> Path:
    """A tiny random LAS packed with a char tokenizer, fbank config and CMVN from ``wavs``.

    ``ends``: its hypotheses end with the speech of ``wavs`` (ctc_fires_on_speech), tens of
    tokens long, rather than run the whole search; for the tests of what a run does, not of its
    text (one letter repeated).
    """
    tok = train_tokenizer(sentences, TokenizerConfig(model_type="char"))
    fbank = FbankConfig(sample_frequency=float(rate), num_mel_bins=mel)
    stats, feats = None, []
    for w in wavs[:3]:
        samples, sr = read_wav_source(str(w), str(w))
        feats.append(compute_fbank(samples, sr, fbank))
        stats = accumulate_cmvn(feats[-1], stats)
    model = tiny_las(idim=mel, vocab=tok.vocab_size, eos_bias=3.0)
    if ends:
        letter = next(i for i, t in enumerate(tok.tokens) if t.isalpha())
        ctc_fires_on_speech(model, [apply_cmvn(f, stats) for f in feats], letter)
    path = tmp / f"{name}.pt"
    save_package(path, model.state_dict(), PackageMeta(model_config=model.config, idim=mel, vocab_size=tok.vocab_size,
                                                       feature_config=fbank, cmvn=stats, tokenizer=tok.to_bytes(),
                                                       tokens=tok.tokens))
    (tmp / f"{name}_lang").mkdir()
    (tmp / f"{name}_lang" / "tokens.model").write_bytes(tok.to_bytes())
    return path


def ctc_fires_on_speech(model, feats, token: int, quiet: float = 0.85, sharpness: float = 20.0) -> None:
    """Make the model say ``token`` where its CTC head leans most to it (the ``1 - quiet`` of the
    frames of ``feats``) and blank elsewhere, so that its hypotheses end with the speech.

    The random model's CTC head put a token on every frame, so every hypothesis ran the whole
    ~250 steps of the search (about 2 s CPU of CTC prefix scoring per utterance). Its lean to a
    token is strongest on the spoken words, though (on yesno): sharpened and past a threshold
    only there, it allows a few tokens; the speller's bias puts ``token`` level with <eos>
    (tiny_las's eos_bias 3) above the rest, so both are in the pre-beam (2 candidates at beam 1)
    and the CTC scores choose between them. On the yesno files: 20-25 tokens in a beam search,
    40-70 in a greedy one (the CTC head lets a word's frames be split), all one repeated letter.
    (A sharper head gives fewer, but its loss gradients make asrkit-adapt-speakers' transforms
    overshoot: test_adapt_speakers then gets identity transforms.)
    """
    with torch.no_grad():
        proj = model.ctc.proj
        margins = []
        for f in feats:
            enc, _ = model.encode(torch.from_numpy(f).float()[None], torch.tensor([len(f)]))
            logits = proj(enc)[0]
            margins.append(logits[:, token] - logits[:, 0])
        threshold = torch.cat(margins).quantile(quiet)
        proj.weight.mul_(sharpness)
        proj.bias.mul_(sharpness)
        proj.bias[0] += sharpness * threshold
        others = [i for i in range(1, proj.bias.numel()) if i != token]
        proj.weight[others] = 0.0
        proj.bias[others] = -30.0
        model.speller.output.bias[token] += 3.0  # (<eos> has tiny_las's eos_bias: 3)


@pytest.fixture(scope="module")
def an4(an4_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("an4dec")
    wavs = an4_test_wavs(an4_root)
    assert len(wavs) >= 3, "AN4 test wavs not found"
    model = build_model(tmp, wavs, an4_transcripts(an4_root), 16000, 40, "an4")
    return tmp, model, wavs


@pytest.fixture(scope="module")
def yesno(yesno_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("yesnodec")
    wavs = sorted((yesno_root / "waves_yesno").glob("*.wav"))[:5]
    sentences = [" ".join("YES" if c == "1" else "NO" for c in w.stem.split("_")) for w in wavs]
    model = build_model(tmp, wavs, sentences, 8000, 23, "yesno", ends=True)
    return tmp, model, wavs


@pytest.fixture
def inproc():
    """Run ``asrkit <sub> ...`` in this process (click's runner): no torch import per call.

    The end-to-end tests that matter as a user runs them (wav arguments, exit status) use the
    subprocess fixture ``asrkit``; the rest use this one to keep the suite fast on 2 cores.
    """
    return run_asrkit_in_process


def read_text(path: Path):
    return dict((ln.split(" ", 1) + [""])[:2] for ln in path.read_text().splitlines())


def test_wav_arguments_print_utt_and_text(asrkit, yesno):
    tmp, model, wavs = yesno
    proc = asrkit("decode", "--model", model, "--beam", "3", *wavs[:3])
    lines = proc.stdout.decode().splitlines()
    assert [ln.split()[0] for ln in lines] == [w.stem for w in wavs[:3]]
    err = proc.stderr.decode()
    assert "Done 3 out of 3" in err and "real-time factor" in err


def test_wav_scp_feats_and_outputs_agree(inproc, an4):
    tmp, model, wavs = an4
    scp = tmp / "wav.scp"
    scp.write_text("".join(f"{w.stem} {w}\n" for w in wavs))
    # --feats: the same fbank written as a Kaldi ark/scp (raw: decode applies the packed CMVN)
    fbank = FbankConfig(sample_frequency=16000.0, num_mel_bins=40)
    with MatrixWriter(f"ark,scp:{tmp}/feats.ark,{tmp}/feats.scp") as w:
        for p in wavs:
            samples, sr = read_wav_source(str(p), str(p))
            w.write(p.stem, compute_fbank(samples, sr, fbank))
    common = ["--model", model, "--beam", "4", "--ctc-weight", "0.3", "--nbest", "3"]
    inproc("decode", *common, "--wav-scp", scp, "--output-dir", tmp / "d_wav")
    inproc("decode", *common, "--feats", f"scp:{tmp}/feats.scp", "--output-dir", tmp / "d_feats")
    inproc("decode", *common, "--feats", f"scp:{tmp}/feats.scp", "--batch-size", "1", "--output-dir", tmp / "d_one")
    t_wav, t_feats, t_one = (read_text(tmp / d / "text") for d in ("d_wav", "d_feats", "d_one"))
    assert list(t_wav) == [w.stem for w in wavs]
    assert t_wav == t_feats == t_one  # batched == one at a time, audio == features
    recs = [json.loads(ln) for ln in (tmp / "d_wav" / "nbest.jsonl").read_text().splitlines()]
    assert [r["utt"] for r in recs] == list(t_wav)
    for r in recs:
        assert 1 <= len(r["hyps"]) <= 3
        scores = [h["score"] for h in r["hyps"]]
        assert scores == sorted(scores, reverse=True)
        assert {"att", "ctc", "score", "text", "tokens"} <= set(r["hyps"][0])
        assert r["hyps"][0]["text"] == t_wav[r["utt"]]
    log = (tmp / "d_wav" / "log" / "decode.log").read_text()
    assert "real-time factor" in log and "command line" in log
    assert (tmp / "d_wav" / "decode.yaml").is_file()


def test_greedy_equals_beam_one(inproc, an4):
    tmp, model, wavs = an4
    g = inproc("decode", "--model", model, "--mode", "greedy", *wavs).stdout
    # greedy's CTC sees up to 150 candidates by default, a beam search's ceil(1.5 * beam): the
    # same pre-beam gives the same search
    b = inproc("decode", "--model", model, "--beam", "1", "--pre-beam-ratio", "150", *wavs).stdout
    assert g == b


def test_train_lm_and_fusion(inproc, an4, an4_root, yesno):
    tmp, model, wavs = an4
    text = tmp / "lm_text"
    text.write_text("".join(f"utt{i:04d} {s}\n" for i, s in enumerate(an4_transcripts(an4_root)[:200])))
    conf = tmp / "lm.yaml"
    conf.write_text("model: {embed: 16, hidden: 32, layers: 1, dropout: 0.0}\nbatch_size: 32\n")
    proc = inproc("train-lm", "--config", conf, "--lang-dir", tmp / "an4_lang", "--max-epochs", "2", text, tmp / "lm")
    err = proc.stderr.decode()
    assert "read as a kaldi text" in err and "dev perplexity" in err and "Done: LM trained 2 epochs" in err
    assert (tmp / "lm" / "lm.pt").is_file() and (tmp / "lm" / "lm.yaml").is_file()
    assert "perplexity" in (tmp / "lm" / "log" / "train_lm.log").read_text()
    base = ["decode", "--model", model, "--beam", "3", *wavs[:2]]
    no_lm = inproc(*base).stdout
    assert inproc(*base, "--lm", tmp / "lm" / "lm.pt", "--lm-weight", "0").stdout == no_lm
    fused = inproc(*base, "--lm", tmp / "lm" / "lm.pt", "--lm-weight", "0.8", "--output-dir", tmp / "d_lm")
    rec = json.loads((tmp / "d_lm" / "nbest.jsonl").read_text().splitlines()[0])
    assert "lm" in rec["hyps"][0] and rec["weights"]["lm"] == 0.8
    # an LM of another tokenizer is refused, by name
    _, yes_model, _ = yesno
    bad = inproc("decode", "--model", yes_model, "--lm", tmp / "lm" / "lm.pt", "--lm-weight", "0.5",
                 *wavs[:1], check=False)
    assert bad.returncode == 1 and "different token list" in bad.stderr.decode()


def test_bad_utterances_are_counted_others_decode(inproc, an4, tmp_path):
    tmp, model, wavs = an4
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not a wav file at all")
    bad = [empty, garbage, tmp_path / "missing.wav"]
    # 3 of 4 bad is past Kaldi's 5 % rule: the run fails and writes no text
    proc = inproc("decode", "--model", model, "--beam", "2", "--output-dir", tmp_path / "rule", wavs[0], *bad,
                  check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "3 of 4 utterances failed (empty garbage missing), more than 5 %" in err
    assert not (tmp_path / "rule" / "text").exists() and not (tmp_path / "rule" / "nbest.jsonl").exists()
    assert not [p for p in (tmp_path / "rule").iterdir() if p.name != "log"]  # no temp files left either
    # a JOB piece passes --max-bad-percent 100: the good one is written, the bad ones named and counted
    proc = inproc("decode", "--model", model, "--beam", "2", "--max-bad-percent", "100", wavs[0], *bad)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert out.split()[0] == wavs[0].stem and len(out.splitlines()) == 1
    assert "'empty'" in err and "'garbage'" in err and "'missing'" in err
    assert "Done 1 out of 4 utterances (3 failed)" in err
    # unknown ids in --utt-ids: reported, the known one decodes
    scp = tmp_path / "wav.scp"
    scp.write_text(f"{wavs[0].stem} {wavs[0]}\n")
    ids = tmp_path / "ids"
    ids.write_text(f"nosuchutt\n{wavs[0].stem}\n")
    proc = inproc("decode", "--model", model, "--beam", "2", "--wav-scp", scp, "--utt-ids", ids,
                  "--max-bad-percent", "100", "--output-dir", tmp_path / "out")
    assert "utterance 'nosuchutt': not in" in proc.stderr.decode()
    assert list(read_text(tmp_path / "out" / "text")) == [wavs[0].stem]
    # all failed: non-zero exit, no text written
    proc = inproc("decode", "--model", model, "--output-dir", tmp_path / "none", empty, garbage, check=False)
    assert proc.returncode == 1 and "all 2 utterances failed" in proc.stderr.decode()
    assert not (tmp_path / "none" / "text").exists()
    assert "real-time factor nan" not in proc.stderr.decode()  # no rate is reported for nothing
    # a file too short for one frame: the error names the file, from the command line or a wav.scp
    short = tmp_path / "short.wav"
    with wave.open(str(short), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(b"\x01\x00" * 100)
    proc = inproc("decode", "--model", model, short, check=False)
    assert proc.returncode == 1 and f"utterance 'short' ({short}): too short for one frame" in proc.stderr.decode()
    scp.write_text(f"u1 {short}\n")
    proc = inproc("decode", "--model", model, "--wav-scp", scp, check=False)
    assert f"utterance 'u1' ({scp}:1: {short}): too short for one frame" in proc.stderr.decode()


def test_bad_model_and_usage_errors(asrkit, inproc, an4, tmp_path):
    tmp, model, wavs = an4
    notmodel = tmp_path / "model.pt"
    notmodel.write_text("hello")
    dictmodel = tmp_path / "dict.pt"
    torch.save({"weights": torch.zeros(2)}, dictmodel)
    cases = [
        (["--model", notmodel, wavs[0]], "not an asrkit model"),
        (["--model", dictmodel, wavs[0]], "not an asrkit model"),
        (["--model", tmp_path / "nope.pt", wavs[0]], "no such model file"),
        (["--model", model], "give exactly one input"),
        (["--model", model, "--wav-scp", tmp_path / "x.scp", wavs[0]], "give exactly one input"),
        (["--model", model, "--beam", "0", wavs[0]], "beam must be >= 1"),
        (["--model", model, "--max-segment-s", "0.001", wavs[0]], "max_segment_s must be at least 1 s (a piece"),
        (["--model", model, "--lm-weight", "0.5", wavs[0]], "no LM was given"),
        (["--model", model, "--lm", model, "--lm-weight", "0.5", wavs[0]], "not an asrkit LM"),
        (["--model", model, "--feats", f"scp:{tmp_path}/missing.scp"], "missing.scp"),
    ]
    if not torch.cuda.is_available():
        cases.append((["--model", model, "--device", "cuda", wavs[0]], "torch sees no CUDA device"))
    for i, (args, message) in enumerate(cases):
        proc = (asrkit if i == 0 else inproc)("decode", *args, check=False)  # the first as a real process
        assert proc.returncode == 1, (args, proc.stderr.decode())
        assert message in proc.stderr.decode(), (args, proc.stderr.decode()[-500:])
    conf = tmp_path / "decode.yaml"
    conf.write_text("beam_size: 3\nctc_wieght: 0.3\n")
    proc = inproc("decode", "--model", model, "--config", conf, wavs[0], check=False)
    assert proc.returncode == 1 and "ctc_wieght" in proc.stderr.decode()
    assert "e.g." in inproc("decode", "--help").stdout.decode()
    assert "e.g." in inproc("train-lm", "--help").stdout.decode()


def test_a_model_path_that_is_a_bad_symlink_says_so(inproc, tmp_path):
    """A symlink loop or a link to nothing was "no such model file": the user sees the link in ls."""
    (tmp_path / "loop.pt").symlink_to("loop.pt")
    (tmp_path / "dangling.pt").symlink_to("gone.pt")
    wav = tmp_path / "a.wav"
    cases = [("loop.pt", "loop.pt: a symbolic link loop (too many levels of symbolic links): it cannot be resolved"),
             ("dangling.pt", "dangling.pt: a broken symbolic link (to gone.pt, which does not exist)"),
             ("nope.pt", "nope.pt: no such model file")]
    for name, message in cases:
        proc = inproc("decode", "--model", tmp_path / name, wav, check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and f"{tmp_path}/{message}" in err, err

def test_nj_pieces_cover_all_utterances(inproc, yesno, tmp_path):
    tmp, model, wavs = yesno
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"{w.stem} {w}\n" for w in wavs))
    got = []
    for job in (1, 2):
        inproc("decode", "--model", model, "--beam", "2", "--maxlenratio", "0.1", "--wav-scp", scp, "--nj", "2",
               "--job", str(job),
               "--output-dir", tmp_path / str(job))
        got += list(read_text(tmp_path / str(job) / "text"))
    assert got == [w.stem for w in wavs]


def test_utt_ids_split_at_ascii_white_space_only(tmp_path):
    """--utt-ids took the first field at any Unicode white space: an id holding U+00A0 (one key in
    every table, as in Kaldi) was cut there and then not found."""
    from asrkit.decoding.inputs import read_utt_ids

    (tmp_path / "ids").write_text("a\u00a0b x\n\u3000\nc\n")
    assert read_utt_ids(str(tmp_path / "ids")) == ["a\u00a0b", "\u3000", "c"]


def test_utt_ids_with_a_bom_or_none_at_all_are_named(tmp_path):
    """A BOM became part of the first id, which was then skipped as 'not among the audio files' and
    counted, one of many, under the 5 % that fails a run: an utterance lost at exit 0. An empty
    list said 'no utterances to process', naming no file."""
    from asrkit.decoding.inputs import read_utt_ids
    from asrkit.utils.errors import AsrkitError

    (tmp_path / "ids").write_bytes(b"\xef\xbb\xbfa\nb\n")
    with pytest.raises(AsrkitError, match=r"ids:1: starts with a UTF-8 byte-order mark \(BOM\)"):
        read_utt_ids(str(tmp_path / "ids"))
    # lists each saved with one and joined with cat: the second's first id was '\ufeffb', then
    # "not among the inputs"; named as the table readers name it (3a2dfabf)
    (tmp_path / "ids").write_bytes(b"a\n\xef\xbb\xbfb\nc\n")
    with pytest.raises(AsrkitError, match=r"ids:2: starts with a UTF-8 byte-order mark \(BOM\), which would become "
                                          r"part of its key \(files each saved with one and joined with cat\?\)"):
        read_utt_ids(str(tmp_path / "ids"))
    (tmp_path / "ids").write_text("\n \n")
    with pytest.raises(AsrkitError, match=r"ids: no utterance ids in it \(--utt-ids: one utterance id per line\)"):
        read_utt_ids(str(tmp_path / "ids"))


def normalised_twice_variants(wavs, out):
    """The raw fbank of ``wavs`` (the AN4 fixture's; returned as (id, matrix) pairs), written as
    out/raw.{ark,scp}, and the same normalised already: with the model's CMVN
    (out/cmvn.{ark,scp}) and per utterance (out/cmvn_per_utt.{ark,scp})."""
    import numpy as np

    from asrkit.features.cmvn import apply_cmvn

    fbank = FbankConfig(sample_frequency=16000.0, num_mel_bins=40)
    raw = []
    for p in wavs:
        samples, sr = read_wav_source(str(p), str(p))
        raw.append((p.stem, compute_fbank(samples, sr, fbank)))
    stats = None
    for _, f in raw[:3]:  # the model's packed CMVN (build_model)
        stats = accumulate_cmvn(f, stats)
    variants = {
        "raw": raw,
        "cmvn": [(u, apply_cmvn(f, stats)) for u, f in raw],
        "cmvn_per_utt": [(u, (f - f.mean(0)) / f.std(0)) for u, f in raw],
    }
    for name, feats in variants.items():
        with MatrixWriter(f"ark,scp:{out}/{name}.ark,{out}/{name}.scp") as w:
            for u, f in feats:
                w.write(u, f.astype(np.float32))
    return raw


def test_features_normalised_already_are_named(inproc, an4, tmp_path):
    """--feats wants the raw fbank (the packed CMVN is applied to it). Features from a Kaldi-style
    `asrkit-compute-fbank | asrkit-apply-cmvn` pipeline, or ESPnet's normalised dump/, were
    normalised a second time without a word (the yesno model: 0.42 -> 52.5 % WER); now a warning
    says so, and the raw features get none (a quieter recording's: test_recognizer.py)."""
    tmp, model, wavs = an4
    raw = normalised_twice_variants(wavs, tmp_path)
    said = {}
    for name in ("raw", "cmvn", "cmvn_per_utt"):
        proc = inproc("decode", "--model", model, "--beam", "2", "--feats", f"scp:{tmp_path}/{name}.scp")
        assert len(proc.stdout.decode().splitlines()) == len(raw)  # a warning: every utterance decodes
        said[name] = "look normalised already" in proc.stderr.decode()
    assert said == {"raw": False, "cmvn": True, "cmvn_per_utt": True}


def test_a_kaldi_specifier_given_as_an_audio_file_names_the_option(tmp_path, monkeypatch):
    """`asrkit-decode --model m.pt scp:data/test/wav.scp` decoded a file named so: 'skipping
    utterance 'wav': ... no such file', and then 'none decoded'."""
    from asrkit.decoding.inputs import file_utt_ids
    from asrkit.utils.errors import AsrkitError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(AsrkitError, match=r"^'scp:data/test/wav.scp' is a Kaldi table specifier, not an audio "
                                          r"file: give it as --wav-scp data/test/wav.scp"):
        file_utt_ids(["a.wav", "scp:data/test/wav.scp"])
    with pytest.raises(AsrkitError, match=r"give it as --feats scp:dump/test/feats.scp"):
        file_utt_ids(["scp:dump/test/feats.scp"])
    with pytest.raises(AsrkitError, match=r"give it as --feats ark,s,cs:x.ark"):
        file_utt_ids(["ark,s,cs:x.ark"])
    # a file that is really named so is an audio file like any other
    (tmp_path / "scp:odd.wav").write_bytes(b"")
    assert file_utt_ids(["scp:odd.wav"]) == ["scp:odd"]
