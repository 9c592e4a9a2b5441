"""Training from audio (a raw dump dir) fed what a careless or unlucky user feeds it: lengths that
are not of the audio, broken noise lists, CMVN of other features. Each is named, with its file,
before it costs memory or silently changes what the model trains on."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from asrkit.features.fbank import FbankConfig
from asrkit.text.tokenizer import Tokenizer
from asrkit.training.audio_data import AudioDataset
from asrkit.training.config import AugmentConfig
from asrkit.training.data import load_utterances
from asrkit.utils.errors import AsrkitError

from .yesno_dump import make_raw_dump, train_args, yesno_waves


@pytest.fixture(scope="module")
def raw40(tmp_path_factory, yesno_root, yesno_setup):
    """A raw dump dir of 40 yesno recordings (Kaldi's 5 % lets 2 of them be bad), with utt2dur."""
    return make_raw_dump(tmp_path_factory.mktemp("raw40") / "train", yesno_waves(yesno_root)[:40],
                         yesno_setup / "dump" / "train" / "fbank.yaml")


def _copy(raw40: Path, tmp_path: Path) -> Path:
    d = tmp_path / "train"
    shutil.copytree(raw40, d)
    return d


def _table(d: Path, yesno_setup: Path, **kw):
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    fbank = FbankConfig.from_yaml(d / "fbank.yaml")
    return load_utterances(str(d), tok, fbank=fbank, **kw), fbank


def _raw_args(yesno_setup: Path, train: Path, exp: Path, *extra: str) -> list:
    a = train_args(yesno_setup, exp, "--set", "training.max_epochs=1", "--set", "training.num_plots=0", *extra)
    a[a.index("--train-dir") + 1] = train
    i = a.index("--valid-dir")
    del a[i:i + 2]
    return a


@pytest.mark.parametrize("table", ["utt2dur", "utt2num_frames"])
def test_an_utterance_longer_than_its_length_table_says_is_skipped_and_named(raw40, yesno_setup, tmp_path, table):
    """Batches are cut from utt2dur/utt2num_frames; one that was not of this audio (a stale one,
    another set's) made batches of 3x batching.max_frames, without a word (dumped features were
    checked against utt2num_frames, audio never)."""
    d = _copy(raw40, tmp_path)
    lines = (d / "utt2dur").read_text().splitlines()
    utt = lines[2].split()[0]
    if table == "utt2dur":
        lines[2] = f"{utt} 2.0"
    else:
        (d / "utt2dur").unlink()
        lines = [f"{line.split()[0]} {int(float(line.split()[1]) * 100) - 1}" for line in lines]
        lines[2] = f"{utt} 198"
    (d / table).write_text("".join(line + "\n" for line in lines))
    t, fbank = _table(d, yesno_setup, min_speed=0.9)
    ds = AudioDataset(t, fbank, augment=AugmentConfig(speed_factors=[0.9, 1.0]))
    assert t.utt_id(2) == utt and int(t.num_frames[2]) == 220  # 198 frames at speed 0.9
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{d}/wav.scp:3: utterance {utt!r} has ") + r"\d+ "
                       + re.escape(f"frames of audio, {d}/{table} gives it 220 at speed factor 0.9: that {table} "
                                   f"is not of this audio")):
        for epoch in (1, 2, 3, 4):  # whichever factor the epoch draws, 6 s is no 2 s
            ds.set_epoch(epoch)
            ds[2]
    for i in range(len(t)):  # the others, at every factor, are within what was counted
        if i != 2:
            ds[i]


def _noise_files(tmp_path: Path) -> dict:
    import soundfile

    rng = np.random.default_rng(0)
    files = {"ok": (rng.standard_normal(8000) * 1000).astype(np.int16, copy=False),
             "short": (rng.standard_normal(10) * 1000).astype(np.int16),
             "dc": np.full(8000, 300, np.int16)}
    out = {}
    for name, x in files.items():
        out[name] = tmp_path / f"{name}.wav"
        soundfile.write(out[name], x, 8000)
    out["16k"] = tmp_path / "16k.wav"
    soundfile.write(out["16k"], (rng.standard_normal(16000) * 1000).astype(np.int16), 16000)
    out["corrupt"] = tmp_path / "corrupt.wav"
    out["corrupt"].write_bytes(b"\x17\x03" * 1000)
    return out


@pytest.mark.parametrize("bad, message", [
    ("16k", "noise at 16000 Hz for the fbank config's 8000 Hz (resample it in the noise wav.scp, or set "
            "augment.resample=true)"),
    ("short", "10 samples of noise, shorter than one frame (200): tiled to an utterance's length it is a tone"),
    ("corrupt", "not a recognised audio file"),
    ("missing", "no such file"),
])
def test_a_bad_noise_file_is_named_before_training(raw40, yesno_setup, tmp_path, bad, message):
    """A noise recording that could not be mixed in failed only when an utterance drew it, and then
    as that utterance's fault: the speech was dropped from training, counted as bad data, and past
    5 % of draws the run failed blaming the training set. A 1-sample noise was tiled into a
    constant the fbank removes: those utterances trained clean, without a word."""
    noise = _noise_files(tmp_path)
    scp = tmp_path / "noise.scp"
    scp.write_text(f"n1 {noise['ok']}\nn2 {noise.get(bad, tmp_path / 'gone.wav')}\n")
    t, fbank = _table(raw40, yesno_setup)
    with pytest.raises(AsrkitError, match="^" + re.escape(f"augment.noise_scp: utterance 'n2' ({scp}:2: ")
                       + ".*" + re.escape(message)):
        AudioDataset(t, fbank, augment=AugmentConfig(noise_scp=str(scp), noise_prob=1.0))
    if bad == "16k":  # brought to the config's rate, it is good noise
        AudioDataset(t, fbank, augment=AugmentConfig(noise_scp=str(scp), noise_prob=1.0), resample=True)
        import soundfile  # but 2 kHz noise is none for speech (found at its first draw, mid-epoch)

        soundfile.write(tmp_path / "2k.wav", np.ones(4000, np.int16) * np.arange(4000, dtype=np.int16), 2000)
        scp.write_text(f"n1 {noise['ok']}\nn2 {tmp_path / '2k.wav'}\n")
        with pytest.raises(AsrkitError, match="^" + re.escape(f"augment.noise_scp: utterance 'n2' ({scp}:2: ")
                           + ".*: sample rate 2000 Hz is too low"):
            AudioDataset(t, fbank, augment=AugmentConfig(noise_scp=str(scp), noise_prob=1.0), resample=True)


@pytest.mark.parametrize("bad, message", [
    ("false |", "command 'false' exited with status 1"),
    ("{dc}", "a noise recording of one constant value (300), a DC offset the fbank removes"),
])
def test_a_noise_recording_that_fails_when_drawn_stops_the_run_naming_it(raw40, yesno_setup, tmp_path, asrkit,
                                                                         bad, message):
    """A noise command is run only when drawn: its failure is the noise list's, named as such in
    one line, not a training utterance skipped (and then 3 of 40 'bad training utts')."""
    noise = _noise_files(tmp_path)
    scp = tmp_path / "noise.scp"
    scp.write_text(f"n1 {noise['ok']}\nn2 {bad.format(dc=noise['dc'])}\n")
    proc = asrkit(*_raw_args(yesno_setup, raw40, tmp_path / "exp", "--set", f"augment.noise_scp={scp}",
                             "--set", "augment.noise_prob=1.0", "--set", "batching.num_workers=1"), check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"ERROR (asrkit-train): utterance 'n2' ({scp}:2: ") and message in last, err
    assert "[a recording of augment.noise_scp, drawn for utterance '" in last
    assert "Traceback" not in err and "training utts were skipped" not in err and "skipping" not in err


def test_speech_at_another_rate_is_its_own_fault_not_the_noises(raw40, yesno_setup, tmp_path):
    """With noise on, a 16 kHz utterance among 8 kHz ones stopped the run as 'noise at 8000 Hz for
    16000 Hz speech', blaming good noise; it is a bad utterance, skipped and counted. Its advice and
    a stereo file's named asrkit-compute-fbank's --sample-frequency and --channel, options
    asrkit-train has not."""
    import soundfile

    from asrkit.training.bad_utterances import BadItem, SkipBad

    noise = _noise_files(tmp_path)
    (tmp_path / "noise.scp").write_text(f"n1 {noise['ok']}\n")
    x, _ = soundfile.read(_first_wav(raw40), dtype="int16")
    soundfile.write(tmp_path / "16k.wav", np.repeat(x, 2), 16000)
    soundfile.write(tmp_path / "stereo.wav", np.stack([x, x], 1), 8000)
    d = _copy(raw40, tmp_path)
    lines = (d / "wav.scp").read_text().splitlines()
    lines[1] = f"{lines[1].split()[0]} {tmp_path / '16k.wav'}"
    lines[2] = f"{lines[2].split()[0]} {tmp_path / 'stereo.wav'}"
    (d / "wav.scp").write_text("".join(line + "\n" for line in lines))
    t, fbank = _table(d, yesno_setup)
    ds = SkipBad(AudioDataset(t, fbank, augment=AugmentConfig(noise_scp=str(tmp_path / "noise.scp"), noise_prob=1.0)))
    rate, stereo = ds[1], ds[2]
    assert isinstance(rate, BadItem) and not rate.fatal, rate
    assert rate.reason.startswith(f"utterance {t.utt_id(1)!r}: sample rate 16000 Hz does not match the fbank config's "
                                  f"sample_frequency 8000 Hz (resample it in wav.scp, or set augment.resample=true")
    assert isinstance(stereo, BadItem) and not stereo.fatal, stereo
    assert "audio has 2 channels; training reads mono audio: choose a channel in wav.scp" in stereo.reason
    assert "--channel" not in stereo.reason and "--sample-frequency" not in rate.reason
    assert not isinstance(ds[0], BadItem)


def _first_wav(d: Path) -> str:
    return (d / "wav.scp").read_text().split("\n", 1)[0].split()[1]


def test_a_named_pipe_in_the_noise_list_is_named_not_waited_on(raw40, yesno_setup, tmp_path, asrkit):
    """The noise files' headers are read before training: a FIFO among them (no writer) must not
    hold the run there forever."""
    import os
    import subprocess

    os.mkfifo(tmp_path / "noise.wav")
    (tmp_path / "noise.scp").write_text(f"n1 {tmp_path / 'noise.wav'}\n")
    try:
        proc = asrkit(*_raw_args(yesno_setup, raw40, tmp_path / "exp", "--set",
                                 f"augment.noise_scp={tmp_path / 'noise.scp'}"), check=False, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("asrkit-train waited on a named pipe named in augment.noise_scp")
    assert proc.returncode == 1
    # (named where it was given, as a config error is: test_a_noise_list_of_the_config_file_is_named_at_its_line)
    assert (f"ERROR (asrkit-train): --set 'augment.noise_scp={tmp_path}/noise.scp': augment.noise_scp: utterance 'n1' "
            f"({tmp_path}/noise.scp:1: {tmp_path}/noise.wav): a named pipe").encode() in proc.stderr, proc.stderr


def test_a_loader_worker_killed_mid_epoch_is_one_line_not_a_traceback(raw40, yesno_setup, tmp_path, asrkit):
    """A worker killed (the kernel's OOM killer picks a fbank worker; here a wav.scp command kills
    the worker that runs it) raised torch's RuntimeError from its SIGCHLD handler wherever the
    main process was, inside the model's forward: a 90-line traceback through the model's code."""
    d = _copy(raw40, tmp_path)
    lines = (d / "wav.scp").read_text().splitlines()
    # past the first 5, which the training process itself reads for the feature dimension
    lines[20] = f"{lines[20].split()[0]} kill -9 $PPID |"
    (d / "wav.scp").write_text("".join(line + "\n" for line in lines))
    proc = asrkit(*_raw_args(yesno_setup, d, tmp_path / "exp", "--set", "batching.num_workers=1"), check=False,
                  timeout=300)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(r"ERROR \(asrkit-train\): epoch 1, (after batch \d+|before its first batch): DataLoader worker \(pid \d+\) is killed by "
                        r"signal: Killed: a data loader worker died \(killed: most often by the kernel's out-of-memory "
                        r"killer, see dmesg; .*", last), last


@pytest.mark.parametrize("table, value, message", [
    ("utt2dur", "-5", "utt2dur: bad duration '-5' for '{utt}'"),
    ("utt2num_frames", "-5", "utt2num_frames:3: bad frame count '-5' for '{utt}' (expected an integer in ASCII "
                             "digits, not negative)"),
])
def test_a_negative_length_is_a_damaged_table(raw40, yesno_setup, tmp_path, table, value, message):
    """A negative duration or frame count left the utterance out as 'shorter than one frame' of
    wav.scp, whose recording is 6 s long."""
    d = _copy(raw40, tmp_path)
    lines = (d / "utt2dur").read_text().splitlines()
    if table == "utt2num_frames":
        (d / "utt2dur").unlink()
        lines = [f"{line.split()[0]} 500" for line in lines]
    utt = lines[2].split()[0]
    lines[2] = f"{utt} {value}"
    (d / table).write_text("".join(line + "\n" for line in lines))
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{d}/" + message.format(utt=utt))):
        _table(d, yesno_setup)


def test_an_utterance_a_stale_length_table_calls_too_long_is_named_as_such(raw40, yesno_setup, tmp_path, asrkit):
    """utt2dur saying 40 s for 6 s of audio: the utterance was left out as 'longer than
    batching.max_frames', passing a stale table off as data too long to train on (dumped features
    were read to tell the two apart, audio never)."""
    d = _copy(raw40, tmp_path)
    lines = (d / "utt2dur").read_text().splitlines()
    utt = lines[2].split()[0]
    lines[2] = f"{utt} 40.0"
    (d / "utt2dur").write_text("".join(line + "\n" for line in lines))
    proc = asrkit(*_raw_args(yesno_setup, d, tmp_path / "exp"), check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert re.search("skipping " + re.escape(f"{d}/wav.scp:3: utterance {utt!r} has ") + r"\d+ "
                     + re.escape(f"frames of audio, {d}/utt2dur gives it 3998: that utt2dur is not of this audio"), err), err
    assert "longer than batching.max_frames" not in err, err


def test_dither_is_seeded_per_epoch_and_utterance(raw40, yesno_setup, tmp_path):
    """fbank.yaml's dither (Kaldi's default is 1.0) drew from torch's global generator, that of
    whichever process read the utterance: its features depended on the number of loader workers
    and on the order of reads, against what the module promises (and a resume relied on)."""
    import torch

    d = _copy(raw40, tmp_path)
    t, fbank = _table(d, yesno_setup)
    fbank.dither = 1.0
    ds = AudioDataset(t, fbank, seed=3)
    ds.set_epoch(1)
    first = ds[4][1]
    torch.rand(7)  # whatever else the process draws in between
    again = ds[4][1]
    assert torch.equal(first, again)
    ds.set_epoch(2)
    assert not torch.equal(first, ds[4][1])  # still dither: fresh each epoch
    fbank.dither = 0.0
    assert not torch.equal(first, AudioDataset(t, fbank, seed=3)[4][1])


def test_noise_at_another_rate_is_resampled_only_where_drawn(raw40, yesno_setup, tmp_path, monkeypatch):
    """16 kHz noise for 8 kHz speech (augment.resample): the whole noise recording was resampled at
    every draw, 0.7 s for 10 minutes of MUSAN music, for each utterance: a training many times
    slower, without a word. Only the stretch drawn (and the filter's reach) is resampled, and
    it is what resampling the whole recording gives there."""
    import math

    import soundfile

    from asrkit.features.resample import resample
    from asrkit.training import audio_data

    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(16000 * 120) * 1000).astype(np.int16)
    soundfile.write(tmp_path / "long16k.wav", noise, 16000)
    (tmp_path / "noise.scp").write_text(f"n1 {tmp_path / 'long16k.wav'}\n")
    t, fbank = _table(raw40, yesno_setup)
    ds = AudioDataset(t, fbank, augment=AugmentConfig(noise_scp=str(tmp_path / "noise.scp"), noise_prob=1.0),
                      resample=True)
    sizes = []

    def counted(samples, rate, target):
        sizes.append(len(samples))
        return resample(samples, rate, target)

    monkeypatch.setattr(audio_data, "resample", counted)
    clean = AudioDataset(t, fbank)[3][1]
    noisy = ds[3][1]
    assert noisy.shape == clean.shape and not np.allclose(noisy.numpy(), clean.numpy())
    speech = len(soundfile.read(_first_wav(raw40))[0])
    assert sizes and max(sizes) < 2 * 2 * speech, sizes  # (a few seconds, not the 120 s recording)

    # the stretch equals the same samples of a resampling with room to spare either side
    drawn = np.random.default_rng(7)
    piece = ds._noise_at(ds.noises[0], 8000, 24000, drawn, "speech")
    pad = 8 + math.ceil(6.1 * 2)
    start = int(np.random.default_rng(7).integers(len(noise) - (48000 + 2 * pad) + 1))
    if start >= 400:
        wide = resample(noise[start - 400:start + 48000 + 2 * pad + 400].astype(np.float32), 16000, 8000)
        first = 200 + pad * 8000 // 16000
        np.testing.assert_allclose(piece, wide[first:first + 24000], rtol=0, atol=1e-3)


def test_a_segment_past_its_recording_is_named_not_called_too_long(raw40, yesno_setup, tmp_path, asrkit):
    """A segment ending at 30 s of a 6 s recording (segments of other recordings) was left out as
    'longer than batching.max_frames', a length only the segments file claimed; within max_frames the
    same segment is named for what it is when its batch reads it."""
    d = _copy(raw40, tmp_path)
    (d / "utt2dur").unlink()
    recos = [line.split()[0] for line in (d / "wav.scp").read_text().splitlines()]
    (d / "segments").write_text("".join(f"{r}-a {r} 0.5 {30.0 if i == 2 else 3.0}\n" for i, r in enumerate(recos)))
    (d / "text").write_text("".join(f"{r}-a NO YES\n" for r in recos))
    proc = asrkit(*_raw_args(yesno_setup, d, tmp_path / "exp"), check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert re.search("skipping " + re.escape(f"utterance '{recos[2]}-a' ({d}/wav.scp:3: ") + r".*segment ends at 30\.0 s, "
                     r"past the recording \(6\.\d+ s\)", err), err
    assert "longer than batching.max_frames" not in err, err


def test_a_noise_list_of_the_config_file_is_named_at_its_line(raw40, yesno_setup, tmp_path):
    """The noise list is read once the run is under way, and its errors named the key but not the
    config file's line that gave it, as an error found when the config loads does."""
    from tests.cli_checks import error_line, run_asrkit_in_process

    from .yesno_dump import TINY_CONFIG, config_at_lines

    (tmp_path / "empty.scp").write_text("")
    conf = tmp_path / "train.yaml"
    at = config_at_lines(conf, {**TINY_CONFIG, "augment": {"noise_scp": str(tmp_path / "empty.scp")}})
    args = _raw_args(yesno_setup, raw40, tmp_path / "exp")
    args[args.index("--config") + 1] = conf
    assert (f"ERROR (asrkit-train): {conf}:{at['noise_scp']}: augment.noise_scp: {tmp_path}/empty.scp: no noise "
            f"recordings") in error_line(run_asrkit_in_process(*args, check=False))


@pytest.mark.parametrize("noise_scp, message", [
    ("-", "augment.noise_scp: bad wav rspecifier '-'"),
    ("{tmp}", "augment.noise_scp: {tmp}: is a directory"),
    ("{tmp}/empty.scp", "augment.noise_scp: {tmp}/empty.scp: no noise recordings"),
])
def test_a_noise_list_that_is_no_list_names_the_option(raw40, yesno_setup, tmp_path, noise_scp, message):
    """'bad wav rspecifier' named an option asrkit-train has not: the noise list is augment.noise_scp."""
    (tmp_path / "empty.scp").write_text("")
    t, fbank = _table(raw40, yesno_setup)
    with pytest.raises(AsrkitError, match="^" + re.escape(message.format(tmp=tmp_path))):
        AudioDataset(t, fbank, augment=AugmentConfig(noise_scp=noise_scp.format(tmp=tmp_path), noise_prob=1.0))
