"""asrkit-perturb-data-dir-speed: Kaldi's 3-way speed perturbation as wav.scp sox pipes, on AN4 audio."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import kaldiio
import numpy as np
import pytest
from an4_data import make_an4_data_dir
from cli_checks import run_asrkit_in_process
from debian_packages import require_program

from asrkit.data.perturb import check_factors, copy_path, factor_prefix, perturb_data_dir_speed, speed_pipe
from asrkit.utils.errors import AsrkitError


def table(path):
    return dict((l.split(maxsplit=1) + [""])[:2] for l in path.read_text().splitlines())


@pytest.fixture
def an4_dir(an4_root, tmp_path):
    d = tmp_path / "test"
    make_an4_data_dir(an4_root, d, "test", limit=6)
    return d


def test_pipes_and_prefixes():
    assert factor_prefix(1.0) == "" and factor_prefix(0.9) == "sp0.9-" and factor_prefix(1.10) == "sp1.1-"
    assert speed_pipe("/a/b.wav", 1.0) == "/a/b.wav"
    assert speed_pipe("/a/b.wav", 0.9) == "sox -t wav /a/b.wav -t wav - speed 0.9 |"
    assert speed_pipe("/a/b c.wav", 1.1) == "sox -t wav '/a/b c.wav' -t wav - speed 1.1 |"
    # Other formats the reader takes directly: sox reads them by their extension.
    assert speed_pipe("/a/b.flac", 0.9) == "sox /a/b.flac -t wav - speed 0.9 |"
    # A pipe entry gets sox appended to the pipe, as Kaldi's perturb_data_dir_speed.sh does.
    assert speed_pipe("flac -c -d -s x.flac |", 0.9) == "flac -c -d -s x.flac | sox -t wav - -t wav - speed 0.9 |"


@pytest.mark.parametrize("factors,message", [
    ([0.9, -1.0], "speed factor -1 is not positive"),
    ([1.1, 1.10], "speed factor 1.1 is given twice"),
    # one that the ids and sox's effect spell as 1 ('%g') made an unperturbed duplicate 'sp1-' copy
    ([1.0, 1.00000000001], "speed factor 1 is given twice"),
    ([], "no speed factors given"),
    # inf was an OverflowError traceback with --method audio, 1e9 a 12 GB allocation, and with sox
    # both (and 1e-9, a copy 10**9 times as long) were written into wav.scp without a word
    ([0.9, float("inf")], r"speed factor inf is outside \[0.5, 2\]"),
    ([1e9], r"speed factor 1e\+09 is outside \[0.5, 2\]"),
    ([1e-9], r"speed factor 1e-09 is outside \[0.5, 2\]"),
    ([float("nan")], "speed factor nan is not positive"),
])
def test_bad_factors(factors, message):
    with pytest.raises(AsrkitError, match=message):
        check_factors(factors)


def test_three_way_copy_of_real_audio(an4_dir, tmp_path, asrkit):
    require_program("sox")
    out = tmp_path / "test_sp"
    asrkit("perturb-data-dir-speed", "--factors", "0.9,1.0,1.1", an4_dir, out)
    asrkit("validate-data-dir", "--no-feats", out)
    src_text, text = table(an4_dir / "text"), table(out / "text")
    assert len(text) == 3 * len(src_text)
    for utt, words in src_text.items():
        assert text[utt] == text["sp0.9-" + utt] == text["sp1.1-" + utt] == words
    utt2spk, utt2uniq = table(out / "utt2spk"), table(out / "utt2uniq")
    assert utt2spk["sp0.9-" + utt] == "sp0.9-" + table(an4_dir / "utt2spk")[utt]
    assert utt2uniq["sp1.1-" + utt] == utt and utt2uniq[utt] == utt

    # The pipes run: the original copy's features equal the source's, the others are
    # 1/F as long, and differ from the original (pitch and tempo both changed).
    # (in this process: a subprocess would import torch for it, 2-3 s CPU)
    run_asrkit_in_process("compute-fbank", f"scp:{an4_dir}/wav.scp", f"ark,scp:{tmp_path}/a.ark,{tmp_path}/a.scp")
    run_asrkit_in_process("compute-fbank", f"scp:{out}/wav.scp", f"ark,scp:{tmp_path}/b.ark,{tmp_path}/b.scp")
    src, sp = kaldiio.load_scp(str(tmp_path / "a.scp")), kaldiio.load_scp(str(tmp_path / "b.scp"))
    assert len(sp) == 3 * len(src)
    for utt in src_text:
        n = src[utt].shape[0]
        np.testing.assert_array_equal(sp[utt], src[utt])
        for f in (0.9, 1.1):
            m = sp[f"sp{f:g}-{utt}"].shape[0]
            assert abs(m - n / f) <= 2, (utt, f, n, m)
        assert not np.allclose(sp[f"sp1.1-{utt}"][: n // 2], src[utt][: n // 2], atol=0.5)


def test_flac_entries_are_perturbed(an4_dir, tmp_path):
    """A wav.scp of FLAC files (read directly by asrkit) gives working sox pipes too."""
    from asrkit.features.wav import read_wav_source

    sox = require_program("sox")
    utt, wav = next(iter(table(an4_dir / "wav.scp").items()))
    flac = tmp_path / "x.flac"
    subprocess.run([sox, wav, str(flac)], check=True)
    plain = read_wav_source(f"sox -t wav {wav} -t wav - speed 0.9 |", "wav")[0]
    got = read_wav_source(speed_pipe(str(flac), 0.9), "flac")[0]
    # Equal up to sox's dither (it adds +-1 LSB noise when writing the speed-changed 16-bit output).
    assert got.shape == plain.shape and np.abs(got - plain).max() <= 2


def test_segments_and_durations_scale(an4_dir, tmp_path):
    require_program("sox")
    utts = list(table(an4_dir / "utt2spk"))
    # Two segments of one recording: the copies' times are the original's divided by F.
    wav = table(an4_dir / "wav.scp")
    (an4_dir / "wav.scp").write_text(f"rec1 {wav[utts[0]]}\n")
    (an4_dir / "segments").write_text(f"{utts[0]} rec1 0.00 0.90\n{utts[1]} rec1 0.45 -1\n")
    (an4_dir / "utt2dur").write_text(f"{utts[0]} 0.90\n{utts[1]} 1.80\n")
    keep = {utts[0], utts[1]}
    for name in ("text", "utt2spk"):
        rows = [l for l in (an4_dir / name).read_text().splitlines() if l.split()[0] in keep]
        (an4_dir / name).write_text("\n".join(rows) + "\n")
    (an4_dir / "spk2utt").unlink()
    (an4_dir / "feats.scp").write_text(f"{utts[0]} x.ark:1\n{utts[1]} x.ark:2\n")
    out = tmp_path / "sp"
    report = perturb_data_dir_speed(an4_dir, out, [0.9, 1.0])
    assert report.dropped_tables == ["feats.scp"] and not (out / "feats.scp").exists()
    seg = table(out / "segments")
    assert seg[utts[0]] == "rec1 0.000 0.900"
    assert seg["sp0.9-" + utts[0]] == "sp0.9-rec1 0.000 1.000"
    assert seg["sp0.9-" + utts[1]] == "sp0.9-rec1 0.500 -1"
    assert table(out / "utt2dur")["sp0.9-" + utts[1]] == "2.000"
    assert table(out / "wav.scp")["sp0.9-rec1"].startswith("sox -t wav ")


def test_a_bad_segments_line_is_a_skipped_utterance(an4_root, tmp_path, caplog):
    """A segments line naming no usable segment (reversed times here) stopped the copy at the first,
    while compute-fbank, decode, align and asrkit-train skip and count its utterance (Kaldi's
    extract-segments; its perturb_data_dir_speed.sh scales whatever times it finds)."""
    require_program("sox")
    d = tmp_path / "d24"
    make_an4_data_dir(an4_root, d, "test", limit=24)
    utts = list(table(d / "utt2spk"))
    (d / "segments").write_text("".join(f"{u} {u} {'1.0 0.5' if i == 3 else '0 -1'}\n" for i, u in enumerate(utts)))
    out = tmp_path / "sp"
    report = perturb_data_dir_speed(d, out, [0.9, 1.0])
    text = table(out / "text")
    assert report.num_utts == 23 and len(text) == 46 and utts[3] not in text and f"sp0.9-{utts[3]}" not in text
    assert f"utterance '{utts[3]}': {d}/segments:4: segment end 0.5 is not after its start 1.0" in caplog.text
    assert "no utterance of" not in caplog.text  # (its recording is not one no segment names)


def test_bad_inputs_are_clear_and_write_nothing(an4_dir, tmp_path, asrkit):
    out = tmp_path / "sp"
    # A transcript missing for an utterance of utt2spk.
    broken = tmp_path / "broken"
    shutil.copytree(an4_dir, broken)
    lines = (broken / "text").read_text().splitlines()
    (broken / "text").write_text("\n".join(lines[1:]) + "\n")
    proc = asrkit("perturb-data-dir-speed", "--factors", "1.0", broken, out, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err
    assert f"{broken}/text: no transcript for utterance {lines[0].split()[0]!r}" in err
    assert not out.exists() and not (tmp_path / "sp.tmp").exists()

    (broken / "utt2spk").unlink()
    proc = asrkit("perturb-data-dir-speed", broken, out, check=False)
    assert proc.returncode == 1 and f"{broken}/utt2spk: no such file" in proc.stderr.decode()

    proc = asrkit("perturb-data-dir-speed", "--factors", "0.9 fast", an4_dir, out, check=False)
    assert proc.returncode == 1 and "--factors '0.9 fast': expected numbers" in proc.stderr.decode()
    # float() read these as 0.95 and 0.9, where every other number option refuses them
    for factors in ("0.9_5 1.1", "\uff10.\uff19"):
        proc = asrkit("perturb-data-dir-speed", "--factors", factors, an4_dir, out, check=False)
        assert proc.returncode == 1 and f"--factors {factors!r}: expected numbers in ASCII digits" in \
            proc.stderr.decode(), proc.stderr
        assert not out.exists()

    proc = asrkit("perturb-data-dir-speed", an4_dir, an4_dir, check=False)
    assert proc.returncode == 1 and "must differ from the input" in proc.stderr.decode()

    # Without sox on PATH the pipes could never run: an error, not a data dir of dead entries.
    env = {"PATH": os.path.dirname(sys.executable)}
    assert shutil.which("sox", path=env["PATH"]) is None
    proc = asrkit("perturb-data-dir-speed", an4_dir, out, check=False, env=env)
    assert proc.returncode == 1 and "sox not found on PATH" in proc.stderr.decode()
    assert "in a recipe, --speed-perturb-method audio" in proc.stderr.decode()
    assert not out.exists()


def test_audio_method_writes_flac_copies_close_to_sox_without_sox(an4_dir, tmp_path, monkeypatch):
    """--method audio: the copies are FLAC files of the in-process speed change (no sox on PATH),
    the 1.0 copy is the source itself, and the features are sox's up to the two resamplers'
    differences (same frame counts; mean |diff| well under the features' spread of ~3)."""
    from asrkit.features.fbank import FbankConfig, compute_fbank
    from asrkit.features.wav import read_wav_source

    sox = shutil.which("sox")
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    out = tmp_path / "sp"
    report = perturb_data_dir_speed(an4_dir, out, [0.9, 1.0, 1.1], method="audio")
    assert report.num_utts == 6
    wav, src = table(out / "wav.scp"), table(an4_dir / "wav.scp")
    for reco, entry in src.items():
        assert wav[reco] == entry
        for f in ("0.9", "1.1"):
            assert wav[f"sp{f}-{reco}"] == str(out.resolve() / "audio" / f"sp{f}" / f"{reco}.flac")
    assert sorted(p.name for p in (out / "audio").iterdir()) == ["sp0.9", "sp1.1"]
    assert not list(tmp_path.glob(".sp.*"))  # the temp dir became out
    if sox is None:
        pytest.skip("sox is not installed: the comparison with sox's copies needs it")
    monkeypatch.undo()
    kaldi = perturb_data_dir_speed(an4_dir, tmp_path / "sox", [0.9, 1.1], method="sox")
    assert kaldi.num_utts == 6
    by_sox = table(tmp_path / "sox" / "wav.scp")
    fb = FbankConfig(sample_frequency=16000, num_mel_bins=80)
    for reco in src:
        for f, limit in (("0.9", 0.4), ("1.1", 0.15)):
            key = f"sp{f}-{reco}"
            a = compute_fbank(*read_wav_source(wav[key], key), fb)
            b = compute_fbank(*read_wav_source(by_sox[key], key), fb)
            assert a.shape == b.shape and np.abs(a - b).mean() < limit, (key, np.abs(a - b).mean())


def _with_truncated_recording(src, dst, cut, index):
    shutil.copytree(src, dst)
    wav = table(dst / "wav.scp")
    bad_reco = sorted(wav)[index]
    cut.write_bytes(open(wav[bad_reco], "rb").read()[:1000])
    (dst / "wav.scp").write_text("".join(f"{k} {cut if k == bad_reco else v}\n" for k, v in sorted(wav.items())))
    return bad_reco


def test_audio_method_skips_unreadable_recordings_by_the_shared_rule(an4_root, an4_dir, tmp_path):
    out = tmp_path / "sp"
    # 1 of 6 is over Kaldi's 5 %: an error naming it, nothing written, no temp dir left.
    bad = _with_truncated_recording(an4_dir, tmp_path / "b6", tmp_path / "cut6.wav", 2)
    with pytest.raises(AsrkitError, match=rf"recording '{bad}': truncated WAV file"):
        perturb_data_dir_speed(tmp_path / "b6", out, [0.9, 1.0], method="audio")
    assert not out.exists() and not list(tmp_path.glob(".sp.*"))
    # 1 of 24 is within it: skipped from every copy, the others written.
    make_an4_data_dir(an4_root, tmp_path / "d24", "test", limit=24)
    bad = _with_truncated_recording(tmp_path / "d24", tmp_path / "b24", tmp_path / "cut24.wav", 5)
    report = perturb_data_dir_speed(tmp_path / "b24", out, [0.9, 1.0], method="audio")
    text = table(out / "text")
    assert report.num_utts == 23 and len(text) == 46 and bad not in text and f"sp0.9-{bad}" not in text
    assert not (out / "audio" / "sp0.9" / f"{bad}.flac").exists()


def test_unknown_method_is_an_error(an4_dir, tmp_path):
    with pytest.raises(AsrkitError, match="--method 'rubberband': one of sox, audio"):
        perturb_data_dir_speed(an4_dir, tmp_path / "sp", [0.9, 1.0], method="rubberband")


def test_sox_method_skips_truncated_wavs_by_the_shared_rule(an4_root, an4_dir, tmp_path):
    """A WAV cut short: asrkit's reader refuses the original, but 'sox ... speed F |' reads the
    fragment without an error and its stream states no length, so the copies' features were made
    from it (one frame) and trained with the whole transcript. Its header tells: skipped from every
    copy, named and counted as with --method audio."""
    require_program("sox")
    from asrkit.features.wav import read_wav_source

    make_an4_data_dir(an4_root, tmp_path / "d24", "test", limit=24)
    bad = _with_truncated_recording(tmp_path / "d24", tmp_path / "b24", tmp_path / "cut24.wav", 5)
    cut = table(tmp_path / "b24/wav.scp")[bad]
    assert len(read_wav_source(speed_pipe(cut, 0.9), "x")[0]) < 1000  # what sox makes of it, silently
    out = tmp_path / "sp"
    report = perturb_data_dir_speed(tmp_path / "b24", out, [0.9, 1.0])
    text = table(out / "text")
    assert report.num_utts == 23 and len(text) == 46 and bad not in text and f"sp0.9-{bad}" not in text
    # 1 of 6 is over Kaldi's 5 %: an error naming it, and the earlier output left as it was.
    bad = _with_truncated_recording(an4_dir, tmp_path / "b6", tmp_path / "cut6.wav", 2)
    with pytest.raises(AsrkitError, match=rf"recording '{bad}' \(.*cut6.wav\): truncated WAV file"):
        perturb_data_dir_speed(tmp_path / "b6", out, [0.9, 1.0])
    assert len(table(out / "text")) == 46


@pytest.mark.parametrize("method", ["sox", "audio"])
def test_a_nul_in_a_wav_scp_path_is_a_counted_bad_utterance(an4_dir, tmp_path, method):
    # The sox method's header check (check_wav_file) let os.open raise ValueError ("embedded
    # null byte"): a traceback where --method audio named the recording.
    lines = (an4_dir / "wav.scp").read_text().splitlines(keepends=True)
    bad = lines[1].split()[0]
    lines[1] = lines[1].rstrip("\n") + "\x00x\n"
    (an4_dir / "wav.scp").write_text("".join(lines))
    out = tmp_path / "sp"
    with pytest.raises(AsrkitError, match=rf"recording '{bad}'.*the name holds a NUL byte"):
        perturb_data_dir_speed(an4_dir, out, [0.9, 1.0], method=method)
    assert not out.exists() and not list(tmp_path.glob(".sp.*"))


@pytest.mark.parametrize("kind", ["utterance", "speaker", "recording"])
def test_source_ids_that_are_copy_ids_are_an_error(an4_dir, tmp_path, kind):
    """A source id 'sp0.9-X' beside 'X' (with 0.9 and 1.0 among the factors): the copy of X and the
    original sp0.9-X got one key, one of them silently lost (the run said it wrote 4 utterances,
    3 were there). Now a fatal error naming both, and nothing written."""
    src = tmp_path / "src"
    shutil.copytree(an4_dir, src)
    utts = sorted(table(src / "utt2spk"))
    first, second = utts[0], utts[1]
    if kind == "utterance":
        renamed = {second: f"sp0.9-{first}"}
        for name in ("wav.scp", "text", "utt2spk"):
            rows = table(src / name)
            (src / name).write_text("".join(f"{renamed.get(k, k)} {v}\n" for k, v in sorted(rows.items())))
        clash = first
    else:
        utt2spk = table(src / "utt2spk")
        spk = utt2spk[first]
        if kind == "speaker":
            utt2spk = {u: (f"sp0.9-{spk}" if u == second else utt2spk[u]) for u in utt2spk}
            (src / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(utt2spk.items())))
            clash = spk
        else:  # two utterances cut from recordings 'r' and 'sp0.9-r'
            wav = table(src / "wav.scp")
            (src / "wav.scp").write_text(f"r {wav[first]}\nsp0.9-r {wav[second]}\n")
            (src / "segments").write_text(f"{first} r 0 1\n{second} sp0.9-r 0 1\n")
            for name in ("text", "utt2spk"):
                rows = table(src / name)
                (src / name).write_text("".join(f"{u} {rows[u]}\n" for u in (first, second)))
            clash = "r"
        (src / "spk2utt").unlink()
    with pytest.raises(AsrkitError, match=f"the 0.9 copy of {kind} '{clash}' would be 'sp0.9-{clash}', which is also "
                                          f"the id of the source's own {kind}"):
        perturb_data_dir_speed(src, tmp_path / "sp", [0.9, 1.0], method="sox")
    assert not (tmp_path / "sp").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["src", "test"]
    # without the original ids (no 1.0) nothing clashes
    perturb_data_dir_speed(src, tmp_path / "sp", [0.9, 1.1], method="sox")
    assert len(table(tmp_path / "sp" / "utt2spk")) == 2 * len(table(src / "utt2spk"))


def test_output_that_holds_the_input_or_other_data_is_not_replaced(an4_dir, tmp_path):
    """The output dir is replaced as a whole: 'perturb data/train data' removed data/ with every
    other set in it (and the input); 'perturb data/train exp' all of exp/. Both now refused,
    touching nothing; an existing data dir (tables, audio/, split<N>/) is still replaced."""
    sets = tmp_path / "data"
    src = sets / "train"
    shutil.copytree(an4_dir, src)
    (sets / "test").mkdir()
    (sets / "test" / "text").write_text("keep me\n")
    (tmp_path / "exp" / "run1").mkdir(parents=True)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for dst, message in [(sets, "the output data dir holds the input"), (tmp_path, "the output data dir holds the input"),
                         (tmp_path / "exp", "exists and holds run1/, so it is not a data dir: it is not replaced"),
                         (sets / "test" / "text", "text is a file, not a directory: not replaced")]:
        with pytest.raises(AsrkitError, match=message):
            perturb_data_dir_speed(src, dst, [0.9, 1.0])
        assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    old = sets / "train_sp"
    (old / "split2" / "1").mkdir(parents=True)
    (old / "text").write_text("stale\n")
    perturb_data_dir_speed(src, old, [0.9, 1.0])
    assert len(table(old / "text")) == 2 * len(table(src / "text")) and not (old / "split2").exists()


def test_a_copy_of_copies_keeps_the_originals_in_utt2uniq(an4_dir, tmp_path):
    """Perturbing a dir that already has utt2uniq (a perturbed or reverberated set): each copy maps
    to the first original, as Kaldi's perturb_data_dir_speed.sh does; it mapped to the copy."""
    once = tmp_path / "sp"
    perturb_data_dir_speed(an4_dir, once, [0.9, 1.0])
    twice = tmp_path / "sp_sp"
    perturb_data_dir_speed(once, twice, [1.1, 1.0])
    uniq, originals = table(twice / "utt2uniq"), set(table(an4_dir / "utt2spk"))
    assert len(uniq) == 4 * len(originals) and set(uniq.values()) == originals
    u = sorted(originals)[0]
    assert uniq[f"sp1.1-sp0.9-{u}"] == uniq[f"sp0.9-{u}"] == uniq[f"sp1.1-{u}"] == u


def test_audio_method_copies_keep_every_channel_as_sox_does(an4_dir, tmp_path):
    # The copies were the channels' average: mono, so `--channel 1` refused them and `--channel 0`
    # (or the default, which refuses the stereo originals) trained the copies on the mix of both.
    import soundfile as sf

    from asrkit.features.resample import speed_perturb
    from asrkit.features.wav import ALL_CHANNELS, EXPECT_MONO, read_wav_source

    src = table(an4_dir / "wav.scp")
    first, second = sorted(src)[:2]
    a, rate = read_wav_source(src[first], first)
    b, _ = read_wav_source(src[second], second)
    b = np.resize(b, len(a))  # another voice on channel 1, as long as channel 0
    stereo_dir = tmp_path / "stereo"
    stereo_dir.mkdir()
    stereo = tmp_path / "two voices.wav"
    sf.write(stereo, np.stack([a, b], axis=1).astype(np.int16), rate, subtype="PCM_16")
    for name in ("text", "utt2spk"):
        (stereo_dir / name).write_text(f"{first} {table(an4_dir / name)[first]}\n")
    (stereo_dir / "wav.scp").write_text(f"{first} {stereo}\n")
    out = tmp_path / "sp"
    perturb_data_dir_speed(stereo_dir, out, [0.9, 1.0], method="audio")
    copy = table(out / "wav.scp")[f"sp0.9-{first}"]
    both, copy_rate = read_wav_source(copy, "copy", channel=ALL_CHANNELS)
    assert copy_rate == rate and both.shape[1] == 2
    for c, original in enumerate((a, b)):
        expected = np.clip(np.round(speed_perturb(original, rate, 0.9)), -32768, 32767)
        assert np.array_equal(read_wav_source(copy, "copy", channel=c)[0], expected)
    for entry in (str(stereo), copy):  # the copy refused where its original is
        with pytest.raises(AsrkitError, match="audio has 2 channels; choose one with --channel N"):
            read_wav_source(entry, "x", channel=EXPECT_MONO)


def test_audio_method_takes_recording_ids_too_long_for_a_file_name(an4_dir, tmp_path):
    """--method audio names each copy after its %-quoted recording id, 9 bytes for a non-ASCII
    letter: an id of 28 CJK characters (valid everywhere else, and with --method sox) failed the
    run with "file name too long". A long id's name is cut and a hash of the whole id added."""
    import soundfile as sf

    src = table(an4_dir / "wav.scp")
    utts = sorted(src)[:3]
    ids = ["音声データ" * 6 + "一", "音声データ" * 6 + "二", "x" * 300]  # alike up to the cut
    d = tmp_path / "long"
    d.mkdir()
    for name, value in (("wav.scp", lambda i, u: src[u]), ("utt2spk", lambda i, u: "spk"),
                        ("text", lambda i, u: "HELLO")):
        (d / name).write_text("".join(f"{ids[i]} {value(i, u)}\n" for i, u in sorted(enumerate(utts),
                                                                                  key=lambda e: ids[e[0]])))
    out = tmp_path / "sp"
    report = perturb_data_dir_speed(d, out, [0.9, 1.0], method="audio")
    assert report.num_utts == 3
    wav = table(out / "wav.scp")
    copies = {wav[f"sp0.9-{i}"] for i in ids}
    assert len(copies) == 3 and all(len(os.path.basename(c).encode()) <= 255 for c in copies)
    for i, u in enumerate(utts):
        rate = sf.info(wav[f"sp0.9-{ids[i]}"]).samplerate
        assert abs(sf.info(wav[f"sp0.9-{ids[i]}"]).frames - sf.info(src[u]).frames / 0.9) < rate * 0.01
    # a short id keeps its plain name
    assert os.path.basename(copy_path(out, 0.9, "spk1-a0001")) == "spk1-a0001.flac"
