"""asrkit-perturb-data-dir-speed and the source's other tables: what Kaldi's
perturb_data_dir_speed.sh carries (utt2lang, reco2file_and_channel) is carried, the rest named."""
from __future__ import annotations

from debian_packages import require_program

from asrkit.data.perturb import perturb_data_dir_speed
from asrkit.data.validate import validate_data_dir


def table(path):
    return dict((l.split(maxsplit=1) + [""])[:2] for l in path.read_text().splitlines())


def test_utt2lang_and_reco2file_and_channel_are_copied(an4_dir, tmp_path, asrkit):
    require_program("sox")
    utts = list(table(an4_dir / "utt2spk"))
    wav = table(an4_dir / "wav.scp")
    # One recording per utterance, named apart from it, as a segmented corpus has them.
    (an4_dir / "wav.scp").write_text("".join(f"rec{i} {wav[u]}\n" for i, u in enumerate(utts)))
    (an4_dir / "segments").write_text("".join(f"{u} rec{i} 0.10 0.60\n" for i, u in enumerate(utts)))
    (an4_dir / "reco2file_and_channel").write_text("".join(f"rec{i} file{i} A\n" for i in range(len(utts))))
    (an4_dir / "utt2lang").write_text("".join(f"{u} en\n" for u in utts))
    out = tmp_path / "sp"
    asrkit("perturb-data-dir-speed", "--factors", "0.9 1.0", an4_dir, out)
    asrkit("validate-data-dir", "--no-feats", out)
    # They were left out of <dst> without a word: every copy, the originals' too, lost them.
    utt2lang, r2fc = table(out / "utt2lang"), table(out / "reco2file_and_channel")
    assert len(utt2lang) == 2 * len(utts) and utt2lang[utts[0]] == utt2lang["sp0.9-" + utts[0]] == "en"
    assert len(r2fc) == 2 * len(utts) and r2fc["rec0"] == r2fc["sp0.9-rec0"] == "file0 A"


def test_files_not_carried_over_are_named(an4_dir, tmp_path, asrkit):
    require_program("sox")
    (an4_dir / "utt2category").write_text("".join(f"{u} read\n" for u in table(an4_dir / "utt2spk")))
    (an4_dir / "vad.scp").write_text("")
    report = perturb_data_dir_speed(an4_dir, tmp_path / "sp", [0.9, 1.0])
    assert report.other_files == ["utt2category", "vad.scp"]
    assert not (tmp_path / "sp" / "utt2category").exists()
    stderr = asrkit("perturb-data-dir-speed", an4_dir, tmp_path / "sp2").stderr.decode()
    assert "not carried over" in stderr and "utt2category vad.scp" in stderr


def test_a_segment_too_short_to_scale_is_skipped_not_written_broken(an4_dir, tmp_path, asrkit):
    """A sub-millisecond segment (valid: its end is after its start) came out of the copies,
    written to the millisecond, as 'start == end': a segments file that asrkit-validate-data-dir
    and every reader refuse, from a source that passed, with exit 0."""
    require_program("sox")
    utts = list(table(an4_dir / "utt2spk"))
    wav = table(an4_dir / "wav.scp")
    (an4_dir / "wav.scp").write_text("".join(f"rec{i:03d} {wav[u]}\n" for i, u in enumerate(utts)))
    (an4_dir / "segments").write_text("".join(f"{u} rec{i:03d} {'1.0000 1.0004' if i == 3 else '0.1 0.6'}\n"
                                              for i, u in enumerate(utts)))
    asrkit("validate-data-dir", "--no-feats", an4_dir)
    out = tmp_path / "sp"
    proc = asrkit("perturb-data-dir-speed", "--factors", "0.9 1.0 1.1", an4_dir, out)
    assert f"utterance {utts[3]!r}: segment 1 1.0004 is too short to scale" in proc.stderr.decode()
    asrkit("validate-data-dir", "--no-feats", out)
    assert len(table(out / "segments")) == 3 * (len(utts) - 1) and utts[3] not in table(out / "utt2spk")


def test_a_duration_the_copies_would_write_as_0_is_skipped_not_written(an4_dir, tmp_path, caplog):
    """A utt2dur or reco2dur of 0 (>= 0 was taken), or of under half a millisecond (valid), came out
    of every copy, factor 1 too, as '0.000' with exit 0: a table asrkit-validate-data-dir refuses
    (and fix-data-dir then drops those utterances), the latter from a source that passed."""
    require_program("sox")
    utts = list(table(an4_dir / "utt2spk"))
    (an4_dir / "utt2dur").write_text("".join(f"{u} {'0.0004' if i == 3 else '0' if i == 5 else '1.5'}\n"
                                             for i, u in enumerate(utts)))
    (an4_dir / "reco2dur").write_text("".join(f"{u} {'0.000' if i == 7 else '1.5'}\n" for i, u in enumerate(utts)))
    out = tmp_path / "sp"
    report = perturb_data_dir_speed(an4_dir, out, [0.9, 1.0])
    assert report.num_utts == len(utts) - 3
    assert not [str(p) for p in validate_data_dir(out, no_feats=True) if p.is_error]
    assert not {utts[3], utts[5], utts[7]} & set(table(out / "utt2spk"))
    said = caplog.text
    assert f"utterance {utts[3]!r}: '0.0004' s is too short to scale: at speed 0.9 it is 0.000" in said
    assert f"utterance {utts[5]!r}: '0' is a duration of 0 s" in said
    assert f"recording {utts[7]!r}: '0.000' is a duration of 0 s" in said


def test_a_format_sox_cannot_read_is_refused_before_writing(an4_dir, tmp_path, asrkit):
    """asrkit reads MP3 in-process (asrkit-make-data-dir takes it), but a sox built without it
    cannot: the copies' 'sox x.mp3 ... speed F |' pipes were written with exit 0 and all failed
    at feature extraction. --method audio, which reads them in-process, still works."""
    import subprocess

    import pytest
    import soundfile as sf

    sox = require_program("sox")
    utts = list(table(an4_dir / "utt2spk"))[:3]
    for name in ("text", "utt2spk", "wav.scp"):
        rows = table(an4_dir / name)
        (an4_dir / name).write_text("".join(f"{u} {rows[u]}\n" for u in utts))
    (an4_dir / "spk2utt").unlink()
    wav = table(an4_dir / "wav.scp")
    samples, rate = sf.read(wav[utts[1]], dtype="int16")
    mp3 = tmp_path / "b.mp3"
    try:
        sf.write(mp3, samples, rate, format="MP3")
    except Exception:
        pytest.skip("libsndfile here writes no MP3")
    if subprocess.run([sox, "--i", str(mp3)], capture_output=True).returncode == 0:
        pytest.skip("this sox reads MP3")
    (an4_dir / "wav.scp").write_text("".join(f"{u} {mp3 if u == utts[1] else wav[u]}\n" for u in utts))
    proc = asrkit("perturb-data-dir-speed", an4_dir, tmp_path / "sp", check=False)
    assert proc.returncode == 1 and not (tmp_path / "sp").exists()
    assert (f"wav.scp:2: recording {utts[1]!r} is a .mp3 file, which this sox cannot read"
            in proc.stderr.decode()) and "use --method audio" in proc.stderr.decode()
    assert "in a recipe, --speed-perturb-method audio" in proc.stderr.decode()   # (asr.sh's name for it)
    asrkit("perturb-data-dir-speed", "--method", "audio", an4_dir, tmp_path / "sp")
    assert len(table(tmp_path / "sp/wav.scp")) == 9
    # 1.0 alone runs no sox
    asrkit("perturb-data-dir-speed", "--factors", "1", an4_dir, tmp_path / "sp1")
