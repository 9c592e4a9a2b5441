"""asrkit-make-data-dir on a corpus in TIMIT's layout: SPEAKER/UTT.WAV (NIST SPHERE) with UTT.TXT
beside it, whose one line is '<first sample> <last sample> <sentence>'."""
from __future__ import annotations

import logging

import soundfile

from asrkit.data.from_audio import make_data_dir
from asrkit.data.table import read_table
from tests.user_corpus import an4_recordings


def test_timit_sample_ranges_are_no_part_of_the_transcripts(an4_root, tmp_path, caplog):
    # Every transcript was '0 57600 M O R E W O O D' in data/all/text: trained and scored with
    # two numbers no one said, and not a word in the log.
    root = tmp_path / "timit"
    expected = {}
    for i, (wav, spk, words) in enumerate(an4_recordings(an4_root, 6)):
        d = root / "TRAIN" / "DR1" / f"M{spk.upper()}0"
        d.mkdir(parents=True, exist_ok=True)
        x, rate = soundfile.read(wav, dtype="int16")
        soundfile.write(d / f"SX{i}.WAV", x, rate, format="NIST", subtype="PCM_16")
        (d / f"SX{i}.TXT").write_text(f"0 {len(x)} {words.capitalize()}.\n")
        expected[f"SX{i}"] = words
    # A transcript that starts with two numbers it says (a digit corpus) keeps them.
    x, rate = soundfile.read(wav, dtype="int16")
    soundfile.write(d / "DIGITS.WAV", x, rate, format="NIST", subtype="PCM_16")
    (d / "DIGITS.TXT").write_text("4 7 nine two\n")
    expected["DIGITS"] = "4 7 NINE TWO"
    out = tmp_path / "data"
    with caplog.at_level(logging.INFO):
        report = make_data_dir(root, out, speaker_regex=r"([^/]+)/[^/]+$", case="upper", punctuation="drop")
    assert report.num_utts == 7
    text = {utt.rsplit("-", 1)[1]: words for utt, words in read_table(out / "text").items()}
    assert text == expected
    assert "6 transcript(s) began with their audio's sample range" in caplog.text


def test_a_transcript_starting_with_numbers_longer_than_any_sample_count_is_kept(an4_root, tmp_path):
    # '0 <5000 digits> ...' beside its audio was a ValueError traceback (int() reads at most 4300
    # digits) in the sample-range check, where make-data-dir had taken it as a transcript.
    (wav, _, _), = an4_recordings(an4_root, 1)
    root = tmp_path / "c"
    root.mkdir()
    x, rate = soundfile.read(wav, dtype="int16")
    soundfile.write(root / "a.wav", x, rate)
    long_number = "9" * 5000
    (root / "a.txt").write_text(f"0 {long_number} hello\n")
    make_data_dir(root, tmp_path / "data", speaker="s")
    assert list(read_table(tmp_path / "data" / "text").values()) == [f"0 {long_number} hello"]
