"""asrkit-perturb-data-dir-speed after a failed run: nothing of it left behind."""
from __future__ import annotations

import logging

import pytest

from asrkit.data.perturb import perturb_data_dir_speed
from asrkit.utils.errors import AsrkitError


def test_failed_run_leaves_no_folders_it_made(tmp_path):
    src = tmp_path / "train"
    src.mkdir()
    (src / "wav.scp").write_text(f"a {tmp_path}/missing.wav\n")
    (src / "utt2spk").write_text("a s\n")
    # the one utterance cannot be read: the run fails, and the folders made for its output go too
    with pytest.raises(AsrkitError, match="all 1 utterances failed"):
        perturb_data_dir_speed(src, tmp_path / "new" / "deeper" / "train_sp", [0.9, 1.0], method="audio")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]


def test_utterances_without_a_speaker_are_counted_not_dropped(tmp_path, caplog):
    # text (or segments) naming an utterance utt2spk lacks: it was left out of every copy in
    # silence, "Wrote 3 utterances" for a source of 4 transcripts
    src = tmp_path / "train"
    src.mkdir()
    (src / "wav.scp").write_text("r /a.wav\n")
    (src / "segments").write_text("a r 0 1\nb r 1 2\nc r 2 3\nd r 3 4\n")
    (src / "utt2spk").write_text("a s\nb s\n")
    (src / "text").write_text("a A\nb B\nc C\n")
    with pytest.raises(AsrkitError, match=r"2 of 4 utterances failed \(c d\).*text: utterance 'c' is not in utt2spk"):
        perturb_data_dir_speed(src, tmp_path / "sp", [0.9, 1.0])
    # under the bad-item limit: the copies are written, the one without a speaker named
    letters = "abcdefghijklmnopqrstuvwxy"
    (src / "utt2spk").write_text("".join(f"{u} s\n" for u in letters[:-1]))
    (src / "text").write_text("".join(f"{u} {u.upper()}\n" for u in letters))
    (src / "segments").write_text("".join(f"{u} r 0 1\n" for u in letters))
    with caplog.at_level(logging.WARNING):
        report = perturb_data_dir_speed(src, tmp_path / "sp", [0.9, 1.0])
    assert report.num_utts == 24 and len((tmp_path / "sp" / "text").read_text().splitlines()) == 48
    assert "1 of 25 utterances failed: y" in caplog.text


def test_audio_copies_under_a_path_with_a_line_break_are_refused(tmp_path):
    # the copies' wav.scp lines ('sp0.9-a /x/sp' and 'x/audio/sp0.9/a.flac') were cut in two, exit 0
    import numpy as np
    import soundfile

    src = tmp_path / "train"
    src.mkdir()
    soundfile.write(tmp_path / "a.wav", (np.sin(np.arange(8000) * 0.1) * 5000).astype(np.int16), 16000)
    (src / "wav.scp").write_text(f"a {tmp_path}/a.wav\n")
    (src / "utt2spk").write_text("a s\n")
    with pytest.raises(AsrkitError, match="the output path holds a line break or control character"):
        perturb_data_dir_speed(src, tmp_path / "sp\nx", [0.9, 1.0], method="audio")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "train"]


def test_a_rate_flac_cannot_hold_is_a_counted_skip(tmp_path):
    # 700 kHz audio (asrkit reads up to 768 kHz): libsndfile's "flac does not support this sample
    # rate" was a LibsndfileError traceback
    import numpy as np
    import soundfile

    src = tmp_path / "train"
    src.mkdir()
    tone = (np.sin(np.arange(35000) * 0.01) * 5000).astype(np.int16)
    soundfile.write(tmp_path / "hi.wav", tone, 700_000, subtype="PCM_16")
    soundfile.write(tmp_path / "ok.wav", tone[:16000], 16_000, subtype="PCM_16")
    (src / "wav.scp").write_text(f"hi {tmp_path}/hi.wav\n" + "".join(f"ok{i} {tmp_path}/ok.wav\n" for i in range(20)))
    (src / "utt2spk").write_text("hi s\n" + "".join(f"ok{i} s\n" for i in range(20)))
    report = perturb_data_dir_speed(src, tmp_path / "sp", [0.9, 1.0], method="audio")
    assert report.num_utts == 20
    assert "hi" not in (tmp_path / "sp" / "utt2spk").read_text().split()
    with pytest.raises(AsrkitError, match=r"all 1 utterances failed .*cannot be written as FLAC at 700000 Hz"):
        (src / "wav.scp").write_text(f"hi {tmp_path}/hi.wav\n")
        (src / "utt2spk").write_text("hi s\n")
        perturb_data_dir_speed(src, tmp_path / "sp2", [0.9, 1.0], method="audio")


def test_a_wav_scp_line_no_utterance_uses_is_named_not_counted_as_failed(tmp_path, caplog):
    # Without segments wav.scp is keyed by utterance: a line of it utt2spk lacks (a spare
    # recording; Kaldi's fix_data_dir.sh drops it) was left out of every copy in silence, "Done 3
    # out of 3"; then (85f0980d) counted as a failed utterance, so 10 spare lines beside 50
    # utterances failed the run as "10 of 60 utterances failed". It is left out with a count now.
    src = tmp_path / "train"
    src.mkdir()
    (src / "wav.scp").write_text("".join(f"u{i:02d} /u{i:02d}.wav\n" for i in range(60)))
    (src / "utt2spk").write_text("".join(f"u{i:02d} s\n" for i in range(50)))
    with caplog.at_level(logging.WARNING):
        report = perturb_data_dir_speed(src, tmp_path / "sp", [0.9, 1.0])
    assert report.num_utts == 50 and "failed" not in caplog.text
    assert (f"{src / 'wav.scp'}: 10 of its 60 lines name an id no utterance of {src / 'utt2spk'} uses "
            f"(u50 u51 u52 ...): left out of the copies (asrkit-fix-data-dir {src} removes them)") in caplog.text
    assert len((tmp_path / "sp" / "wav.scp").read_text().splitlines()) == 100
    # an id a transcript names is an utterance with no speaker: still a counted skip, named once
    (src / "text").write_text("".join(f"u{i:02d} HI\n" for i in range(51)))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        perturb_data_dir_speed(src, tmp_path / "sp", [0.9, 1.0])
    assert "1 of 51 utterances failed: u50" in caplog.text and "text: utterance 'u50' is not in utt2spk" in caplog.text
    assert "9 of its 60 lines" in caplog.text
    # with segments, a recording no segment uses is named the same way
    (src / "text").unlink()
    (src / "segments").write_text("".join(f"u{i:02d} u{i:02d} 0 1\n" for i in range(50)))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        report = perturb_data_dir_speed(src, tmp_path / "sp", [0.9, 1.0])
    assert report.num_utts == 50 and "failed" not in caplog.text
    assert f"10 of its 60 lines name a recording no utterance of {src / 'segments'} uses" in caplog.text
    # too many utterances that cannot be copied still fail the run
    (src / "segments").unlink()
    (src / "text").write_text("".join(f"u{i:02d} HI\n" for i in range(60)))
    with pytest.raises(AsrkitError, match=r"10 of 60 utterances failed.*text: utterance 'u50' is not in utt2spk"):
        perturb_data_dir_speed(src, tmp_path / "sp", [0.9, 1.0])
