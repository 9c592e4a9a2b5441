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


def test_an_utterance_only_in_wav_scp_is_counted_not_dropped(tmp_path, caplog):
    # Without segments wav.scp is keyed by utterance: one there but not in utt2spk (a set with no
    # text, unlabelled audio) was left out of every copy in silence, "Done 3 out of 3".
    src = tmp_path / "train"
    src.mkdir()
    (src / "wav.scp").write_text("a /a.wav\nb /b.wav\nc /c.wav\nd /d.wav\n")
    (src / "utt2spk").write_text("a s\nb s\nc s\n")
    with pytest.raises(AsrkitError, match=r"1 of 4 utterances failed \(d\).*wav.scp: utterance 'd' is not in utt2spk"):
        perturb_data_dir_speed(src, tmp_path / "sp", [0.9, 1.0])
    letters = "abcdefghijklmnopqrstuvwxy"
    (src / "wav.scp").write_text("".join(f"{u} /{u}.wav\n" for u in letters))
    (src / "utt2spk").write_text("".join(f"{u} s\n" for u in letters[:-1]))
    with caplog.at_level(logging.WARNING):
        report = perturb_data_dir_speed(src, tmp_path / "sp", [0.9, 1.0])
    assert report.num_utts == 24 and "1 of 25 utterances failed: y" in caplog.text
    # with a text, one in both text and wav.scp is named once, for the text
    (src / "text").write_text("".join(f"{u} {u.upper()}\n" for u in letters))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        perturb_data_dir_speed(src, tmp_path / "sp", [0.9, 1.0])
    assert "1 of 25 utterances failed: y" in caplog.text and "wav.scp: utterance 'y'" not in caplog.text
