"""Transcripts that name a chosen part of the audio, as Common Voice's validated.tsv names a part of
its clips/ (the rest are in invalidated.tsv and other.tsv): every other clip is 'audio without a
transcript', more than --max-skip-ratio, and the error said only "fix the corpus or raise the
ratio", with nothing on the corpus to fix and no ratio. When every skip is audio without a
transcript, the error now says so and gives the ratio that takes them, which works as printed; a
skip of another kind (a file that is not audio) keeps the plain error."""
from __future__ import annotations

import re

import pytest

from asrkit.data.from_audio import make_data_dir
from asrkit.utils.errors import AsrkitError
from user_corpus import make_user_corpus


def _corpus_with_untranscribed(an4_root, tmp_path, n=10, untranscribed=3):
    expected = make_user_corpus(an4_root, tmp_path / "c", n)
    prompts = tmp_path / "c/prompts.txt"
    lines = prompts.read_text().splitlines(keepends=True)
    prompts.write_text("".join(lines[untranscribed:]))
    return tmp_path / "c/audio", prompts


def test_audio_the_transcripts_leave_out_is_named_with_the_ratio_that_takes_it(an4_root, tmp_path):
    audio, prompts = _corpus_with_untranscribed(an4_root, tmp_path)
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "data", transcripts=prompts)
    msg = str(e.value)
    assert msg.startswith(f"{audio}: 3 of 10 audio files and transcripts skipped") and \
        "all 3 are audio without a transcript" in msg and "Common Voice" in msg, msg
    ratio = float(re.search(r"--max-skip-ratio ([0-9.]+) takes them", msg).group(1))
    assert ratio == 0.3
    report = make_data_dir(audio, tmp_path / "data", transcripts=prompts, max_skip_ratio=ratio)
    assert report.num_utts == 7 and len(report.skipped["audio without a transcript"]) == 3


def test_other_skips_keep_the_plain_error(an4_root, tmp_path):
    audio, prompts = _corpus_with_untranscribed(an4_root, tmp_path)
    (audio / "notes.wav").write_text("not audio\n")
    prompts.write_text(prompts.read_text() + "notes some words\n")
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "data", transcripts=prompts)
    msg = str(e.value)
    assert msg.endswith("fix the corpus or raise the ratio") and "takes them" not in msg, msg


def test_one_untranscribed_file_is_named_in_the_singular(an4_root, tmp_path):
    """With one such skip the hint read "all 1 are audio without a transcript ... takes them"."""
    audio, prompts = _corpus_with_untranscribed(an4_root, tmp_path, n=10, untranscribed=1)
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "data", transcripts=prompts)
    msg = str(e.value)
    assert msg.startswith(f"{audio}: 1 of 10 audio files and transcripts skipped"), msg
    assert msg.endswith("fix the corpus or raise the ratio; it is audio without a transcript: if the transcripts "
                        "cover a chosen part of the audio (Common Voice's validated.tsv of its clips/), "
                        "--max-skip-ratio 0.1 takes it"), msg
    report = make_data_dir(audio, tmp_path / "data", transcripts=prompts, max_skip_ratio=0.1)
    assert report.num_utts == 9
