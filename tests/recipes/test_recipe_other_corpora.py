"""Stage 0 of the recipes on corpora laid out like the real ones but holding other files: other
speakers, other counts, names and extensions a copy made elsewhere has. Each test builds its
small corpus under tmp_path from the real recordings."""
from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from recipe_helpers import make_librispeech_fixture, path_without, read_table, run_sh


def validate(recipe: Path, *dirs: str) -> None:
    for d in dirs:
        run_sh(f". ./path.sh && asrkit-validate-data-dir data/{d}", cwd=recipe)


# ---------------------------------------------------------------------------------------- yesno
def test_yesno_recordings_with_an_upper_case_extension_are_utterances(recipe_dir, yesno_root, tmp_path):
    """A copy made on Windows or a FAT card holds 0_1_1_0.WAV: find's '-name *.wav' left those out,
    said only as 'has 58 recordings, the corpus has 60', with exit 0."""
    recipe = recipe_dir("yesno")
    waves = tmp_path / "yn" / "waves_yesno"
    waves.mkdir(parents=True)
    names = sorted(p.name for p in (yesno_root / "waves_yesno").glob("*.wav"))[:12]
    for i, name in enumerate(names):
        shutil.copy(yesno_root / "waves_yesno" / name, waves / (name[:-4] + (".WAV" if i in (0, 5) else ".wav")))
    # named like a recording, not a WAV file: left out, and now said (it was not)
    shutil.copy(yesno_root / "waves_yesno" / names[1], waves / (names[1][:-4] + ".flac"))
    proc = run_sh(["local/data.sh", "--yesno-root", str(waves.parent)], cwd=recipe)
    text = {**read_table(recipe / "data/train/text"), **read_table(recipe / "data/test/text")}
    assert sorted(text) == sorted("yesno-" + n[:-4] for n in names), proc.stderr
    assert (f"WARNING: {waves}: 1 file(s) named like recordings but not .wav, left out: {names[1][:-4]}.flac"
            in proc.stderr), proc.stderr
    wav = {**read_table(recipe / "data/train/wav.scp"), **read_table(recipe / "data/test/wav.scp")}
    assert wav["yesno-" + names[0][:-4]] == str(waves / (names[0][:-4] + ".WAV"))
    validate(recipe, "train_nodev", "train_dev", "test")
    # the same recording twice, in both cases: one utterance id twice
    shutil.copy(waves / (names[0][:-4] + ".WAV"), waves / names[0])
    proc = run_sh(["local/data.sh", "--yesno-root", str(waves.parent)], cwd=recipe, check=False)
    assert proc.returncode == 1 and f"two recordings of {names[0][:-4]} (.wav and .WAV)" in proc.stderr


# ---------------------------------------------------------------------------------- librispeech
def test_librispeech_audio_with_an_upper_case_extension_is_found(recipe_dir, an4_root, tmp_path):
    """100-2000-0000.WAV (a copy made on Windows) was 'audio of 100-2000-0000 not found', though
    beside its transcript; and a part whose .trans.txt files are all empty made an empty data dir
    with exit 0, for stage 1 to stop at its validation, whose advice was asrkit-fix-data-dir."""
    recipe = recipe_dir("librispeech")
    root = tmp_path / "LibriSpeech"
    expected = make_librispeech_fixture(an4_root, root, "wav")
    part = root / "dev-clean"
    chapter = part / "100/2000"
    for wav in chapter.glob("*.wav"):
        wav.rename(wav.with_suffix(".WAV"))
    cmd = f". ./path.sh && local/data_prep.py --audio-ext wav {shlex.quote(str(part))} data/dev_clean"
    proc = run_sh(cmd, cwd=recipe)
    assert read_table(recipe / "data/dev_clean/text") == {u: t for u, t in expected.items()
                                                          if u.split("-")[0] in ("100", "101")}, proc.stderr
    assert read_table(recipe / "data/dev_clean/wav.scp")["100-2000-0000"] == str(chapter / "100-2000-0000.WAV")
    validate(recipe, "dev_clean")
    shutil.copy(chapter / "100-2000-0000.WAV", chapter / "100-2000-0000.wav")
    proc = run_sh(cmd, cwd=recipe, check=False)
    assert proc.returncode == 1 and f"{chapter}: two recordings of 100-2000-0000: " in proc.stderr, proc.stderr
    (chapter / "100-2000-0000.wav").unlink()
    for trans in part.glob("*/*/*.trans.txt"):
        trans.write_text("")
    shutil.rmtree(recipe / "data")
    proc = run_sh(cmd, cwd=recipe, check=False)
    assert proc.returncode == 1 and f"{part}: no utterances: its 2 .trans.txt file(s) hold no line" in proc.stderr
    assert not (recipe / "data/dev_clean").exists()


def test_librispeech_layout_with_a_reader_named_by_letters(recipe_dir, an4_root, tmp_path):
    """Another corpus in LibriSpeech's layout, a reader folder 'anna' (not a number): each line
    'anna-2000-0000 ...' was refused as "expected 'anna-2000-<n> <TRANSCRIPT>'", the very line; a
    reader not in SPEAKERS.TXT now says why spk2gender is not written, and audio outside the
    <reader>/<chapter>/ folders is left out with a warning (both went without a word)."""
    recipe = recipe_dir("librispeech")
    root = tmp_path / "LibriSpeech"
    expected = make_librispeech_fixture(an4_root, root, "wav")
    part = root / "dev-clean"
    (part / "101").rename(part / "anna")
    chapter = part / "anna/2000"
    for f in chapter.iterdir():
        f.rename(chapter / f.name.replace("101-", "anna-"))
    trans = chapter / "anna-2000.trans.txt"
    trans.write_text(trans.read_text().replace("101-", "anna-"))
    # audio beside the reader folders, in none of them (a copy flattened in part): was passed over unseen
    shutil.copy(chapter / "anna-2000-0000.wav", part / "anna-2000-0009.wav")
    proc = run_sh(f". ./path.sh && local/data_prep.py --audio-ext wav {shlex.quote(str(part))} data/dev_clean", cwd=recipe)
    text = read_table(recipe / "data/dev_clean/text")
    assert text == {u.replace("101-", "anna-"): t for u, t in expected.items() if u.split("-")[0] in ("100", "101")}
    assert read_table(recipe / "data/dev_clean/utt2spk")["anna-2000-0001"] == "anna-2000"
    assert (f"WARNING: 1 reader(s) of {part} without a sex M or F in {root}/SPEAKERS.TXT: anna (not listed): "
            "no spk2gender written") in proc.stderr, proc.stderr
    assert (f"WARNING: {part}: 1 .wav file(s) outside <reader>/<chapter>/ folders, left out: anna-2000-0009.wav"
            in proc.stderr), proc.stderr
    validate(recipe, "dev_clean")


def test_librispeech_speakers_txt_with_a_sex_other_than_m_or_f(recipe_dir, an4_root, tmp_path):
    """SPEAKERS.TXT giving a reader's sex as U, or none: spk2gender held 'u' or a line with no
    value, and stage 1's validation stopped ('gender must be m or f', 'malformed line')."""
    recipe = recipe_dir("librispeech")
    root = tmp_path / "LibriSpeech"
    make_librispeech_fixture(an4_root, root, "wav")
    speakers = root / "SPEAKERS.TXT"
    speakers.write_text(speakers.read_text().replace("100 | F |", "100 | U |").replace("101 | M |", "101 |  |"))
    proc = run_sh(f". ./path.sh && local/data_prep.py --audio-ext wav {shlex.quote(str(root / 'dev-clean'))} data/dev_clean",
                  cwd=recipe)
    assert (f"WARNING: 2 reader(s) of {root}/dev-clean without a sex M or F in {speakers}: 100 ('U'), 101 (''): "
            "no spk2gender written") in proc.stderr, proc.stderr
    assert not (recipe / "data/dev_clean/spk2gender").exists()
    validate(recipe, "dev_clean")


def test_librispeech_run_sh_with_a_root_downloads_nothing(recipe_dir, tmp_path):
    """./run.sh --librispeech-root COPY (no --stage: the default is -1) downloaded every part into
    downloads/ all the same, ~60 GB, before stage 0 read COPY (offline: a network error, exit 1);
    a copy of the 100 h parts alone with the default --hours 960 is told to give --hours 100."""
    recipe = recipe_dir("librispeech")
    root = tmp_path / "LibriSpeech"
    for part in ("dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100"):
        (root / part).mkdir(parents=True)
    env = {"PATH": path_without({"wget", "curl"}, tmp_path / "bin")}  # a fetch could not start
    proc = run_sh(["./run.sh", "--librispeech-root", str(root), "--stop-stage", "0"], cwd=recipe, check=False, env=env)
    assert f"stage -1: --librispeech-root {root} given: nothing to download" in proc.stderr, proc.stderr
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        f"local/data.sh: ERROR: {root}/train-clean-360: missing, and --hours 960 trains on it: give --hours 100 "
        "to train on train-clean-100 alone, or fetch it (local/download.sh)"), proc.stderr
    assert not (recipe / "downloads").exists()
    # one part given for the folder of the parts: said as such
    proc = run_sh(["./run.sh", "--librispeech-root", str(root / "dev-clean"), "--hours", "100", "--stop-stage", "0"],
                  cwd=recipe, check=False, env=env)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        f"local/data.sh: ERROR: --librispeech-root {root}/dev-clean: that is one part; give the folder holding the "
        f"parts: --librispeech-root {root}"), proc.stderr


def test_nbpe_more_than_a_small_corpus_makes_names_nbpe(recipe_dir, yesno_root):
    """A small corpus (yesno's six letters) with --token-type bpe --nbpe 30: stage 2 stopped at
    sentencepiece's advice 'use a smaller --vocab-size', an option no recipe user gives."""
    recipe = recipe_dir("yesno")
    run_sh(["./run.sh", "--yesno-root", str(yesno_root), "--stop-stage", "0"], cwd=recipe)
    proc = run_sh(["./run.sh", "--stage", "2", "--stop-stage", "2", "--token-type", "bpe", "--nbpe", "30"], cwd=recipe,
                  check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        "asr.sh: ERROR: stage 2 failed: --nbpe 30: data/train_nodev/text makes at most 15 tokens: give --nbpe 15 or "
        "less, or --token-type char -- see data/lang_bpe30/log/tokenizer.log"), proc.stderr
    assert not (recipe / "data/lang_bpe30/.done").exists()


# ------------------------------------------------------------------------------------------ an4
def small_an4(an4_root: Path, root: Path) -> dict:
    """An AN4-layout copy: two training speakers, one test speaker and a new training speaker
    'zoe' (fash's recordings, renamed); returns {set: {utterance id: text}} as data_prep.py should
    make them."""
    expected = {"train": {}, "test": {}}
    (root / "etc").mkdir(parents=True)
    for set_name, folder, speakers in (("train", "an4_clstk", {"fash": "fash", "fbbh": "fbbh", "fash ": "zoe"}),
                                       ("test", "an4test_clstk", {"fcaw": "fcaw"})):
        lines = []
        for line in (an4_root / f"etc/an4_{set_name}.transcription").read_text().splitlines():
            words, file_id = line.rsplit(" (", 1)
            pre, spk, post = file_id.rstrip(")").split("-")
            for src, dst in speakers.items():
                if spk != src.strip():
                    continue
                new_id = f"{pre}-{dst}-{post}"
                (root / "wav" / folder / dst).mkdir(parents=True, exist_ok=True)
                shutil.copy(an4_root / "wav" / folder / spk / f"{file_id.rstrip(')')}.wav",
                            root / "wav" / folder / dst / f"{new_id}.wav")
                lines.append(f"{words} ({new_id})")
                expected[set_name][f"{dst}-{pre}-{post}"] = " ".join(w for w in words.split() if w not in ("<s>", "</s>"))
        (root / f"etc/an4_{set_name}.transcription").write_text("\n".join(lines) + "\n")
    return expected


def test_an4_recordings_with_an_upper_case_extension_are_utterances(recipe_dir, an4_root, tmp_path):
    """A new speaker's recordings named *.WAV (a copy made on Windows) stopped stage 0 at
    'recording of an251-zoe-b not found: .../an251-zoe-b.wav', the file beside it; the new
    speaker's utterances are training utterances, as the transcription file says."""
    recipe = recipe_dir("an4")
    root = tmp_path / "an4"
    expected = small_an4(an4_root, root)
    for wav in (root / "wav/an4_clstk/zoe").iterdir():
        wav.rename(wav.with_suffix(".WAV"))
    proc = run_sh(["local/data.sh", "--an4-root", str(root), "--num-dev", "5"], cwd=recipe)
    assert "left out" not in proc.stderr
    # a recording in no speaker folder: left out, and now said (it was passed over unseen)
    shutil.copy(root / "wav/an4_clstk/fash/an251-fash-b.wav", root / "wav/an4_clstk/an999-fash-b.wav")
    proc = run_sh(["local/data.sh", "--an4-root", str(root), "--num-dev", "5"], cwd=recipe)
    assert (f"WARNING: {root}/wav/an4_clstk: 1 recording(s) in no line of an4_train.transcription, left out: "
            "an999-fash-b.wav") in proc.stderr, proc.stderr
    train = {**read_table(recipe / "data/train_nodev/text"), **read_table(recipe / "data/train_dev/text")}
    assert train == expected["train"] and read_table(recipe / "data/test/text") == expected["test"]
    assert read_table(recipe / "data/train/wav.scp")["zoe-an251-b"] == str(root / "wav/an4_clstk/zoe/an251-zoe-b.WAV")
    validate(recipe, "train_nodev", "train_dev", "test")


# ----------------------------------------------------------------------------------------- fsdd
def fsdd_copy(fsdd_root: Path, root: Path, speakers: dict, takes: int) -> Path:
    """An FSDD layout: each new speaker name reads the takes of the FSDD speaker it maps to."""
    rec = root / "recordings"
    rec.mkdir(parents=True)
    for new, old in speakers.items():
        for d in range(10):
            for i in range(takes):
                shutil.copy(fsdd_root / "recordings" / f"{d}_{old}_{i}.wav", rec / f"{d}_{new}_{i}.wav")
    return root


def test_fsdd_test_takes_not_at_8khz_mono_are_converted_as_the_connected_digits_are(recipe_dir, fsdd_root, tmp_path):
    """README: a recording at another rate or with more channels is resampled and averaged to mono
    in stage 0. The connected digits were; data/test_takes named the corpus file as it was, and
    stage 1 skipped a stereo take ('audio has 2 channels'), the test set one take short."""
    import numpy as np
    import soundfile

    recipe = recipe_dir("fsdd")
    corpus = fsdd_copy(fsdd_root, tmp_path / "fsdd", {"george": "george", "zoe": "jackson", "theo": "theo"}, 3)
    rec = corpus / "recordings"
    x, rate = soundfile.read(rec / "3_theo_1.wav", dtype="int16")
    soundfile.write(rec / "3_theo_1.wav", np.stack([x, x], axis=1), rate)
    x, rate = soundfile.read(rec / "4_theo_2.wav", dtype="int16")
    soundfile.write(rec / "4_theo_2.wav", np.repeat(x, 2), 2 * rate)
    args = ["local/data.sh", "--fsdd-root", str(corpus), "--dev-takes", "1", "--num-train", "4", "--num-dev", "2",
            "--num-test", "2"]
    proc = run_sh(args, cwd=recipe)
    assert ("takes_data.py: WARNING: 2 take(s) not 8 kHz mono, converted into data/wav/test_takes: "
            "3_theo_1.wav (2 channels), 4_theo_2.wav (16000 Hz)") in proc.stderr, proc.stderr
    wav = read_table(recipe / "data/test_takes/wav.scp")
    assert len(wav) == 30 and read_table(recipe / "data/test_takes/text")["theo-3_theo_1"] == "THREE"
    for utt, path in wav.items():
        info = soundfile.info(path)
        assert (info.samplerate, info.channels) == (8000, 1), (utt, path)
    assert wav["theo-3_theo_1"] == str(recipe / "data/wav/test_takes/3_theo_1.wav")
    assert wav["theo-0_theo_0"] == str(rec / "0_theo_0.wav")
    # the corpus repaired: the copies of the last run go, and only they
    soundfile.write(rec / "3_theo_1.wav", x, rate)
    shutil.copy(rec / "0_theo_0.wav", recipe / "data/wav/test_takes/theo-test-00000.wav")
    run_sh(args, cwd=recipe)
    assert sorted(p.name for p in (recipe / "data/wav/test_takes").iterdir()) == ["4_theo_2.wav", "theo-test-00000.wav"]


def test_fsdd_one_take_as_wav_and_wav_upper_case_is_an_error(recipe_dir, fsdd_root, tmp_path):
    """0_theo_1.wav beside 0_theo_1.WAV: both were takes, and data/test_takes (ids are the names
    without extension) kept one of them without a word."""
    recipe = recipe_dir("fsdd")
    corpus = fsdd_copy(fsdd_root, tmp_path / "fsdd", {"george": "george", "theo": "theo"}, 2)
    shutil.copy(corpus / "recordings/0_theo_1.wav", corpus / "recordings/0_theo_1.WAV")
    proc = run_sh(["local/data.sh", "--fsdd-root", str(corpus), "--dev-takes", "1", "--num-train", "2", "--num-dev", "1",
                   "--num-test", "1"], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        f"make_connected_digits.py: ERROR: {corpus}/recordings: two recordings of 0_theo_1: 0_theo_1.WAV and "
        "0_theo_1.wav: keep one"), proc.stderr


def test_an4_copy_of_raw_audio_says_how_to_convert_it(recipe_dir, an4_root, tmp_path):
    """CMU's tarball unpacked by hand holds .raw files where --an4-root's .wav go: 'recording of
    an251-zoe-b not found' was all it said; and the folder it unpacks into an4/ in, given as
    --an4-root, was only 'expected etc/ and wav/ there'."""
    recipe = recipe_dir("an4")
    root = tmp_path / "an4"
    small_an4(an4_root, root)
    # the folder holding the copy, given for the copy: said, not only "expected etc/ and wav/ there"
    proc = run_sh(["local/data.sh", "--an4-root", str(tmp_path), "--num-dev", "5"], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        f"local/data.sh: ERROR: --an4-root {tmp_path}: expected etc/ and wav/ there; they are in {root}: "
        f"give --an4-root {root}"), proc.stderr
    for wav in (root / "wav/an4_clstk/fash").iterdir():
        wav.rename(wav.with_suffix(".raw"))
    proc = run_sh(["local/data.sh", "--an4-root", str(root), "--num-dev", "5"], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        f"data_prep.py: ERROR: {root}/etc/an4_train.transcription:1: recording of an251-fash-b not found: "
        f"{root}/wav/an4_clstk/fash/an251-fash-b.wav (there is an251-fash-b.raw, CMU's headerless audio: "
        f"local/raw_to_wav.py {root}/wav writes a .wav beside each .raw)"), proc.stderr


def test_fsdd_root_given_the_recordings_or_the_folder_above_the_clone(recipe_dir, fsdd_root, tmp_path):
    """--fsdd-root naming recordings/ itself, or the folder a clone of FSDD is in: 'no recordings/
    folder there' was all it said."""
    recipe = recipe_dir("fsdd")
    corpus = fsdd_copy(fsdd_root, tmp_path / "free-spoken-digit-dataset", {"george": "george"}, 1)
    for given, said in ((corpus / "recordings", f"that is a folder of the recordings themselves; --fsdd-root is "
                         f"the folder holding them as recordings/: give --fsdd-root {corpus}"),
                        (tmp_path, f"no recordings/ folder there; there is {corpus}/recordings: give --fsdd-root {corpus}")):
        proc = run_sh(["local/data.sh", "--fsdd-root", str(given)], cwd=recipe, check=False)
        assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
            f"local/data.sh: ERROR: --fsdd-root {given}: {said}"), proc.stderr
    assert not (recipe / "data").exists()


def test_fsdd_an4_root_given_the_folder_holding_an4(recipe_dir, an4_root, tmp_path):
    """FSDD's AN4 voices (local/an4_data.sh) with --an4-root naming the folder that holds an4/:
    'expected etc/ and wav/ there' was all it said, as AN4's own stage 0 did."""
    recipe = recipe_dir("fsdd")
    (tmp_path / "corpora").mkdir()
    (tmp_path / "corpora/an4").symlink_to(an4_root)
    proc = run_sh(["local/an4_data.sh", "--an4-root", str(tmp_path / "corpora"), "data/an4_8k"], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
        f"local/an4_data.sh: ERROR: --an4-root {tmp_path}/corpora: expected etc/ and wav/ there; they are in "
        f"{tmp_path}/corpora/an4: give --an4-root {tmp_path}/corpora/an4"), proc.stderr


def test_fsdd_test_speakers_with_a_space_after_the_comma(recipe_dir, fsdd_root, tmp_path):
    """--test-speakers "theo, zoe" (a sixth speaker held out beside theo) named a speaker ' zoe':
    'not FSDD speakers here'."""
    recipe = recipe_dir("fsdd")
    corpus = fsdd_copy(fsdd_root, tmp_path / "fsdd", {"george": "george", "zoe": "jackson", "theo": "theo"}, 2)
    run_sh(["local/data.sh", "--fsdd-root", str(corpus), "--test-speakers", "theo, zoe", "--dev-takes", "1",
            "--num-train", "2", "--num-dev", "1", "--num-test", "4"], cwd=recipe)
    assert set(read_table(recipe / "data/train/utt2spk").values()) == {"george"}
    assert set(read_table(recipe / "data/test_takes/utt2spk").values()) == {"theo", "zoe"}
