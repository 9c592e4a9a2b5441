"""Training straight from audio: on-the-fly fbank equals asrkit-compute-fbank's, augmentation is
seeded per (seed, epoch, utterance), and a tiny raw-audio training runs and resumes exactly."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import kaldiio
import numpy as np
import pytest

from asrkit.features.fbank import FbankConfig
from asrkit.text.tokenizer import Tokenizer
from asrkit.training.audio_data import AudioDataset, mix_noise, num_frames
from asrkit.training.config import AugmentConfig
from asrkit.training.data import load_utterances
from asrkit.utils.errors import AsrkitError
from tests.cli_checks import error_line, run_asrkit_in_process

from .yesno_dump import make_raw_dump, train_args, yesno_waves

REPO = Path(__file__).resolve().parents[2]


def an4_wavs(an4_root: Path, n: int):
    return sorted((an4_root / "wav" / "an4_clstk" / "fash").glob("*.wav"))[:n]


@pytest.fixture(scope="module")
def an4_raw(tmp_path_factory, an4_root):
    """A raw dump dir of 4 AN4 utterances plus 2 segments of a fifth, and its tokenizer."""
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    root = tmp_path_factory.mktemp("an4raw")
    wavs = an4_wavs(an4_root, 5)
    raw = root / "raw"
    raw.mkdir()
    (raw / "wav.scp").write_text("".join(f"{w.stem} {w}\n" for w in wavs[:4]))
    (raw / "text").write_text("".join(f"{w.stem} A B C\n" for w in wavs[:4]))
    shutil.copy(REPO / "egs" / "an4" / "asr1" / "conf" / "fbank.yaml", raw / "fbank.yaml")
    seg = root / "seg"
    seg.mkdir()
    (seg / "wav.scp").write_text(f"rec {wavs[4]}\n")
    (seg / "segments").write_text("s1 rec 0.1 0.9\ns2 rec 0.5 -1\n")
    (seg / "text").write_text("s1 A B\ns2 C\n")
    shutil.copy(raw / "fbank.yaml", seg / "fbank.yaml")
    tok = train_tokenizer(["A B C"], TokenizerConfig(model_type="char"))
    (root / "tokens.model").write_bytes(tok.to_bytes())
    return root


@pytest.mark.parametrize("name,segments", [("raw", False), ("seg", True)])
def test_on_the_fly_fbank_equals_compute_fbank(an4_raw, asrkit, name, segments):
    d = an4_raw / name
    out = an4_raw / f"dumped_{name}"
    out.mkdir(exist_ok=True)
    asrkit("compute-fbank", "--config", d / "fbank.yaml", *(["--segments", d / "segments"] if segments else []),
           f"scp:{d / 'wav.scp'}", f"ark,scp:{out / 'feats.ark'},{out / 'feats.scp'}")
    dumped = dict(kaldiio.load_scp(str(out / "feats.scp")).items())
    fbank = FbankConfig.from_yaml(d / "fbank.yaml")
    table = load_utterances(str(d), Tokenizer.load(an4_raw / "tokens.model"), fbank=fbank)
    ds = AudioDataset(table, fbank)
    assert len(ds) == len(dumped) == (2 if segments else 4)
    for i in range(len(ds)):
        _, feats, _ = ds[i]
        ref = dumped[table.utt_id(i)]
        assert feats.shape == ref.shape
        np.testing.assert_allclose(feats.numpy(), ref, atol=1e-5, rtol=0)
        # the length batches are cut by, from the wav's duration (no utt2dur here: read once)
        assert table.num_frames[i] == ref.shape[0]


def test_resample_brings_other_rates_to_the_fbank_config(an4_raw, asrkit, tmp_path):
    """16 kHz AN4 read with FSDD's 8 kHz fbank config: refused by name without augment.resample
    (as asrkit-compute-fbank without --resample), equal to compute-fbank --resample's with it."""
    d = tmp_path / "raw8k"
    d.mkdir()
    for f in ("wav.scp", "text"):
        shutil.copy(an4_raw / "raw" / f, d / f)
    shutil.copy(REPO / "egs" / "fsdd" / "asr1" / "conf" / "fbank.yaml", d / "fbank.yaml")
    fbank = FbankConfig.from_yaml(d / "fbank.yaml")
    assert fbank.sample_frequency == 8000
    tok = Tokenizer.load(an4_raw / "tokens.model")
    with pytest.raises(AsrkitError, match="sample rate 16000 Hz does not match"):
        AudioDataset(load_utterances(str(d), tok, fbank=fbank), fbank)
    asrkit("compute-fbank", "--config", d / "fbank.yaml", "--resample", f"scp:{d / 'wav.scp'}",
           f"ark,scp:{tmp_path / 'feats.ark'},{tmp_path / 'feats.scp'}")
    dumped = dict(kaldiio.load_scp(str(tmp_path / "feats.scp")).items())
    table = load_utterances(str(d), tok, fbank=fbank)
    ds = AudioDataset(table, fbank, resample=True)
    assert len(ds) == len(dumped) == 4
    for i in range(len(ds)):
        _, feats, _ = ds[i]
        ref = dumped[table.utt_id(i)]
        assert feats.shape == ref.shape and feats.shape[1] == 40
        np.testing.assert_allclose(feats.numpy(), ref, atol=1e-5, rtol=0)
        assert table.num_frames[i] == ref.shape[0]  # batches are cut for the resampled length
    # A corrupt header's 1 Hz: 6 s of samples would become 14 hours at 8 kHz (a MemoryError in a
    # loader worker); refused as that utterance's error, as compute-fbank --resample skips it.
    with pytest.raises(AsrkitError, match=r"^utterance 'u': resampling 50800 samples from 1 Hz to 8000 Hz gives "
                                          r"406400000, over the limit of 268435456 samples per read"):
        ds._at_config_rate(np.zeros(50800, np.float32), 1, "utterance 'u'")
    # Within the limit, but at a rate no speech survives: refused as asrkit-decode and
    # compute-fbank --resample refuse it, not trained on as seconds of upsampled noise.
    with pytest.raises(AsrkitError, match=r"^utterance 'u': sample rate 1000 Hz is too low to recognise speech \(at "
                                          r"least 4000 Hz; the fbank config's is 8000 Hz\)$"):
        ds._at_config_rate(np.zeros(1000, np.float32), 1000, "utterance 'u'")


def test_dataset_checks_its_audio_without_computing_features(an4_raw, tmp_path, monkeypatch):
    """The start-up check reads audio and applies compute_fbank's refusals, but leaves the
    features to the loader workers: computing them in the training process cost ~19 MB of its
    first-batch RSS (issue #12; bench/scale_data.py)."""
    from asrkit.training import audio_data

    calls = []
    real = audio_data.compute_fbank
    monkeypatch.setattr(audio_data, "compute_fbank", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    d = an4_raw / "raw"
    fbank = FbankConfig.from_yaml(d / "fbank.yaml")
    table = load_utterances(str(d), Tokenizer.load(an4_raw / "tokens.model"), fbank=fbank)
    ds = AudioDataset(table, fbank)
    assert ds.idim == fbank.dim == 80 and calls == []
    ds[1]
    assert calls == [table.utt_id(1)]
    # a set with no usable audio still fails at the start, naming the first utterance's error
    d = tmp_path / "corrupt"
    d.mkdir()
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF" + bytes(range(256)) * 4)
    (d / "wav.scp").write_text(f"s1 {bad}\n")
    (d / "utt2num_frames").write_text("s1 100\n")  # so the table need not read it
    (d / "text").write_text("s1 A B\n")
    fbank = FbankConfig.from_yaml(an4_raw / "raw" / "fbank.yaml")
    scp = re.escape(str(d / "wav.scp"))
    with pytest.raises(AsrkitError, match=rf"^{scp}: not one utterance's features can be read \(first: "
                                          rf"utterance 's1' \({scp}:1: {re.escape(str(bad))}\): not a recognised audio file"):
        AudioDataset(load_utterances(str(d), Tokenizer.load(an4_raw / "tokens.model"), fbank=fbank), fbank)


def test_augmentation_is_seeded_per_epoch_and_utterance(an4_raw, tmp_path):
    d = an4_raw / "raw"
    fbank = FbankConfig.from_yaml(d / "fbank.yaml")
    tok = Tokenizer.load(an4_raw / "tokens.model")
    noise = tmp_path / "noise.wav"
    import soundfile

    soundfile.write(noise, (np.random.default_rng(0).standard_normal(8000) * 3000).astype(np.int16), 16000)
    (tmp_path / "noise.scp").write_text(f"n1 {noise}\n")
    aug = AugmentConfig(speed_factors=[0.9, 1.1], noise_scp=str(tmp_path / "noise.scp"), noise_prob=0.5)
    table = load_utterances(str(d), tok, fbank=fbank, min_speed=0.9)
    plain = AudioDataset(table, fbank)
    a, b = AudioDataset(table, fbank, augment=aug, seed=3), AudioDataset(table, fbank, augment=aug, seed=3)
    a.set_epoch(2)
    b.set_epoch(2)
    for i in (2, 0, 3):  # any order, any process: the same draw for (seed, epoch, utterance)
        assert np.array_equal(a[i][1].numpy(), b[i][1].numpy())
    b.set_epoch(5)
    assert any(not np.array_equal(a[i][1].numpy(), b[i][1].numpy()) or a[i][1].shape != b[i][1].shape
               for i in range(4))
    for i in range(4):
        n = plain[i][1].shape[0]
        m = a[i][1].shape[0]
        assert abs(m - n / 0.9) <= 2 or abs(m - n / 1.1) <= 2  # one of the two speeds
        assert table.num_frames[i] >= m  # batches are cut for the slowest factor


def test_noise_is_mixed_at_the_snr():
    rng = np.random.default_rng(1)
    speech = rng.standard_normal(16000).astype(np.float32) * 1000
    noise = rng.standard_normal(5000).astype(np.float32) * 50
    mixed = mix_noise(speech, noise, 10.0, rng)
    added = mixed - speech
    snr = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(added.astype(np.float64) ** 2))
    assert abs(snr - 10.0) < 0.05 and len(mixed) == len(speech)


def test_num_frames_is_kaldis():
    cfg = FbankConfig()
    assert [num_frames(n, cfg) for n in (399, 400, 559, 560)] == [0, 1, 1, 2]


def test_raw_dir_without_fbank_options_is_refused(an4_raw, tmp_path):
    d = tmp_path / "d"
    shutil.copytree(an4_raw / "raw", d)
    with pytest.raises(AsrkitError, match="needs the fbank options"):
        load_utterances(str(d), Tokenizer.load(an4_raw / "tokens.model"))


@pytest.fixture(scope="module")
def yesno_raw(tmp_path_factory, yesno_root, yesno_setup):
    """The yesno set-up's train (8 utts) and dev (4) as raw dump dirs (wav.scp, utt2dur, text, fbank.yaml)."""
    root = tmp_path_factory.mktemp("yesno_raw")
    waves = yesno_waves(yesno_root)
    for name, ws in (("train", waves[:8]), ("dev", waves[12:16])):
        make_raw_dump(root / "dump" / name, ws, yesno_setup / "dump" / "train" / "fbank.yaml")
    return root


def test_tiny_training_from_audio_resumes_exactly(yesno_setup, yesno_raw, tmp_path, asrkit):
    """Speed perturbation on, a loader worker, SpecAugment: 2 epochs in one run, or 1 and then 1
    more in a second run, give bit-identical weights."""
    from .test_resume import assert_same_run

    def args(exp, epochs):
        a = train_args(yesno_setup, exp, "--seed", "5", "--set", "augment.speed_factors=[0.9,1.0,1.1]",
                       "--set", "batching.num_workers=1", "--set", f"training.max_epochs={epochs}",
                       "--set", "training.num_plots=0",
                       "--set", "model.specaug={freq_masks: 1, freq_width: 4, time_masks: 1, time_width: 20}")
        a[a.index("--train-dir") + 1] = yesno_raw / "dump" / "train"
        a[a.index("--valid-dir") + 1] = yesno_raw / "dump" / "dev"
        return a

    asrkit(*args(tmp_path / "ref", 2))
    asrkit(*args(tmp_path / "two", 1))
    asrkit(*args(tmp_path / "two", 2))
    assert_same_run(tmp_path / "ref", tmp_path / "two", 2)
    log = (tmp_path / "ref" / "log" / "train.log").read_text()
    assert "fbank computed from the audio" in log and (tmp_path / "ref" / "model.pt").is_file()


def test_augmentation_of_dumped_features_is_refused(yesno_setup, tmp_path, asrkit):
    proc = asrkit(*train_args(yesno_setup, tmp_path / "exp", "--set", "augment.speed_factors=[0.9,1.1]"), check=False)
    assert proc.returncode == 1 and "needs a dump dir of audio (wav.scp)" in proc.stderr.decode()
    proc = asrkit(*train_args(yesno_setup, tmp_path / "exp2", "--set", "augment.resample=true"), check=False)
    assert proc.returncode == 1 and "augment.resample: only for a dump dir of audio" in proc.stderr.decode()
    # named where the key that turns it on was given, not at a speed_factors of [1.0] beside it
    noise = f"augment.noise_scp={tmp_path}/noise.scp"
    proc = run_asrkit_in_process(*train_args(yesno_setup, tmp_path / "exp3", "--set", "augment.speed_factors=[1.0]",
                                             "--set", noise), check=False)
    assert f"ERROR (asrkit-train): --set '{noise}': augment: on-the-fly augmentation needs" in error_line(proc)


@pytest.mark.parametrize("value, message", [
    ("nan", "utt2dur: bad duration 'nan' for"),  # was a ValueError traceback (cannot convert float NaN to integer)
    ("inf", "utt2dur: bad duration 'inf' for"),  # an OverflowError traceback
    ("1e30", "utt2dur:3: utterance '{utt}' would have 1000000000000000"),  # an OverflowError in the table
])
def test_a_duration_no_recording_has_is_named(yesno_raw, yesno_setup, tmp_path, value, message):
    dump = tmp_path / "train"
    shutil.copytree(yesno_raw / "dump" / "train", dump)
    lines = (dump / "utt2dur").read_text().splitlines()
    utt = lines[2].split()[0]
    lines[2] = f"{utt} {value}"
    (dump / "utt2dur").write_text("".join(line + "\n" for line in lines))
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{dump}/" + message.format(utt=utt))):
        load_utterances(str(dump), tok, fbank=FbankConfig.from_yaml(dump / "fbank.yaml"))


def test_a_segment_no_recording_has_is_named_by_its_line(yesno_raw, yesno_setup, tmp_path):
    """A segment ending at 1e30 s was named as if utt2dur said so, in a dump dir with no utt2dur."""
    dump = tmp_path / "train"
    shutil.copytree(yesno_raw / "dump" / "train", dump)
    (dump / "utt2dur").unlink()
    recos = [line.split()[0] for line in (dump / "wav.scp").read_text().splitlines()]
    (dump / "segments").write_text("".join(f"{r}-a {r} 0.0 {1e30 if i == 2 else 4.0}\n" for i, r in enumerate(recos)))
    (dump / "text").write_text("".join(f"{r}-a NO\n" for r in recos))
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{dump}/segments:3: utterance '{recos[2]}-a' would have more "
                                                          f"frames than any recording")):
        load_utterances(str(dump), tok, fbank=FbankConfig.from_yaml(dump / "fbank.yaml"))


def test_an_unreadable_recording_measured_for_its_length_is_a_bad_item(yesno_raw, yesno_setup, tmp_path, caplog):
    """Without utt2num_frames or utt2dur every recording is read for its length: one that could not
    be read ended the run, while the same file is skipped and counted when a batch reads it."""
    dump = tmp_path / "train"
    shutil.copytree(yesno_raw / "dump" / "train", dump)
    (dump / "utt2dur").unlink()
    lines = (dump / "wav.scp").read_text().splitlines()
    utt = lines[2].split()[0]
    (tmp_path / "cut.wav").write_bytes(b"RIFF\x00\x00")
    lines[2] = f"{utt} {tmp_path / 'cut.wav'}"
    (dump / "wav.scp").write_text("".join(line + "\n" for line in lines))
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    fbank = FbankConfig.from_yaml(dump / "fbank.yaml")
    table = load_utterances(str(dump), tok, max_missing_ratio=0.2, fbank=fbank)
    assert len(table) == len(lines) - 1 and utt not in {table.utt_id(i) for i in range(len(table))}
    assert f"skipping utterance {utt!r} ({dump}/wav.scp:3: {tmp_path}/cut.wav)" in caplog.text
    assert "1 utterance(s) could not be read for their length" in caplog.text
    # past the share, the run fails as for any utterance left out
    with pytest.raises(AsrkitError, match=re.escape(f"{dump}: 1 of {len(lines)} utterances lack features")):
        load_utterances(str(dump), tok, fbank=fbank)


def test_a_bad_segments_line_is_a_skipped_utterance(yesno_raw, yesno_setup, tmp_path, caplog):
    """A segments line naming no usable segment (reversed, a recording not in wav.scp) ended the
    training at the first, while compute-fbank, decode and align skip and count its utterance (as
    Kaldi's extract-segments): the training now does too, under batching.max_missing_ratio."""
    dump = tmp_path / "train"
    shutil.copytree(yesno_raw / "dump" / "train", dump)
    recos = [line.split()[0] for line in (dump / "wav.scp").read_text().splitlines()]
    spans = {1: "{r} 2.0 1.0", 3: "nosuch 0.0 1.0"}
    (dump / "segments").write_text("".join(f"{r}-a {spans.get(i, '{r} 0.5 3.0').format(r=r)}\n"
                                           for i, r in enumerate(recos)))
    (dump / "text").write_text("".join(f"{r}-a NO YES\n" for r in recos))
    (dump / "utt2dur").unlink()
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    fbank = FbankConfig.from_yaml(dump / "fbank.yaml")
    table = load_utterances(str(dump), tok, max_missing_ratio=0.3, fbank=fbank)
    assert sorted(table.ids) == sorted(f"{r}-a" for i, r in enumerate(recos) if i not in spans)
    assert f"skipping utterance '{recos[1]}-a': {dump}/segments:2: segment end 1.0 is not after its start 2.0" \
        in caplog.text
    assert (f"skipping utterance '{recos[3]}-a': {dump}/segments:4: recording 'nosuch' of utterance '{recos[3]}-a' "
            f"is not in {dump}/wav.scp") in caplog.text
    with pytest.raises(AsrkitError, match=re.escape(f"{dump}: 2 of {len(recos)} utterances lack features")):
        load_utterances(str(dump), tok, fbank=fbank)


def test_a_noise_recording_of_digital_silence_is_named_not_mixed_as_nothing(yesno_raw, yesno_setup, tmp_path):
    """A noise recording whose every sample is 0 (a failed conversion of a MUSAN file) was 'mixed'
    as nothing, without a word: with only such noise, augment.noise_scp trained on clean audio."""
    import soundfile

    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(8000, np.int16), 8000)
    (tmp_path / "noise.scp").write_text(f"n1 {silent}\n")
    dump = yesno_raw / "dump" / "train"
    fbank = FbankConfig.from_yaml(dump / "fbank.yaml")
    table = load_utterances(str(dump), Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model"), fbank=fbank)
    aug = AugmentConfig(noise_scp=str(tmp_path / "noise.scp"), noise_prob=1.0)
    ds = AudioDataset(table, fbank, augment=aug, seed=1)
    with pytest.raises(AsrkitError, match="^" + re.escape(f"utterance 'n1' ({tmp_path}/noise.scp:1: {silent}): a noise "
                                                          f"recording of digital silence (every sample 0)")):
        ds[0]


def test_a_transcript_longer_than_measured_audio_names_no_absent_length_table(yesno_raw, yesno_setup, tmp_path, caplog):
    """Lengths measured from the recordings (no utt2num_frames, no utt2dur) were said to be 'by utt2dur',
    a file the dump dir does not have."""
    import soundfile

    dump = tmp_path / "train"
    shutil.copytree(yesno_raw / "dump" / "train", dump)
    (dump / "utt2dur").unlink()
    lines = (dump / "wav.scp").read_text().splitlines()
    utt, wav = lines[2].split()
    samples, rate = soundfile.read(wav, dtype="int16")
    soundfile.write(tmp_path / "short.wav", samples[:250], rate)  # one frame, for a transcript of many tokens
    lines[2] = f"{utt} {tmp_path / 'short.wav'}"
    (dump / "wav.scp").write_text("".join(line + "\n" for line in lines))
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    table = load_utterances(str(dump), tok, max_missing_ratio=0.2, fbank=FbankConfig.from_yaml(dump / "fbank.yaml"))
    assert utt not in set(table.ids)
    assert f"{dump}/text: 1 utterance(s) have more tokens than frames (by the lengths measured from wav.scp;" in caplog.text
    assert "(by utt2dur" not in caplog.text


def test_lengths_read_from_segments_are_said_to_be_theirs(yesno_raw, yesno_setup, tmp_path, caplog):
    """Segments that all end give the lengths even beside a utt2dur: a transcript too long for its 30 ms
    segment was said to be too long 'by utt2dur', which gave it 2.5 s."""
    dump = tmp_path / "train"
    shutil.copytree(yesno_raw / "dump" / "train", dump)
    recos = [line.split()[0] for line in (dump / "wav.scp").read_text().splitlines()]
    (dump / "segments").write_text("".join(f"{r}-a {r} 0.5 {0.53 if i == 2 else 3.0}\n" for i, r in enumerate(recos)))
    (dump / "text").write_text("".join(f"{r}-a NO YES NO YES\n" for r in recos))
    (dump / "utt2dur").write_text("".join(f"{r}-a 2.5\n" for r in recos))
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    table = load_utterances(str(dump), tok, max_missing_ratio=0.2, fbank=FbankConfig.from_yaml(dump / "fbank.yaml"))
    assert f"{recos[2]}-a" not in set(table.ids)
    assert f"{dump}/text: 1 utterance(s) have more tokens than frames (by segments;" in caplog.text
    assert "(by utt2dur" not in caplog.text


def test_a_noise_list_with_a_segments_file_beside_it_is_read_whole_without_a_warning(yesno_raw, yesno_setup,
                                                                                      tmp_path, caplog):
    """augment.noise_scp reads its clips whole on purpose: a MUSAN-style noise dir with a segments
    file beside the list was warned 'give --segments', an option asrkit-train has not."""
    import logging

    import soundfile

    noise = tmp_path / "noise" / "n1.wav"
    noise.parent.mkdir()
    soundfile.write(noise, (np.random.default_rng(0).standard_normal(8000) * 3000).astype(np.int16), 8000)
    (noise.parent / "wav.scp").write_text(f"n1 {noise}\n")
    (noise.parent / "segments").write_text("n1-a n1 0.0 0.5\n")
    dump = yesno_raw / "dump" / "train"
    fbank = FbankConfig.from_yaml(dump / "fbank.yaml")
    table = load_utterances(str(dump), Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model"), fbank=fbank)
    with caplog.at_level(logging.WARNING):
        ds = AudioDataset(table, fbank, augment=AugmentConfig(noise_scp=str(noise.parent / "wav.scp"), noise_prob=1.0),
                          seed=1)
    assert [e.utt_id for e in ds.noises] == ["n1"]
    assert not [r for r in caplog.records if "segments" in r.getMessage()], [r.getMessage() for r in caplog.records]
