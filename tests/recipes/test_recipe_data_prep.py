"""Stage 0 of every recipe on the real corpora: valid Kaldi data dirs with the documented splits."""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from debian_packages import require_program
from recipe_helpers import make_librispeech_fixture, read_table, run_sh, without_root_override

VALIDATE = "asrkit-validate-data-dir"


def validate(recipe: Path, *dirs: str, no_check_files: bool = False) -> None:
    for d in dirs:
        run_sh(f". ./path.sh && {VALIDATE} {'--no-check-files ' if no_check_files else ''}data/{d}", cwd=recipe)


# ---------------------------------------------------------------------------------------- yesno
def test_yesno_data(recipe_dir, yesno_root):
    recipe = recipe_dir("yesno")
    run_sh(["local/data.sh", "--yesno-root", str(yesno_root)], cwd=recipe)
    validate(recipe, "train", "train_nodev", "train_dev", "test")
    train, test = read_table(recipe / "data/train/text"), read_table(recipe / "data/test/text")
    assert (len(train), len(test)) == (30, 30)  # Kaldi's split: sorted files, first half trains
    assert len(read_table(recipe / "data/train_nodev/text")) == 25
    assert not set(train) & set(test)
    assert train["yesno-0_0_0_0_1_1_1_1"] == "NO NO NO NO YES YES YES YES"
    # Alternating in sorted order (not Kaldi's halves): both sets hold files starting with YES and NO.
    ids = sorted(train) + sorted(test)
    assert sorted(ids)[0::2] == sorted(train) and sorted(ids)[1::2] == sorted(test)
    for s in (train, test):
        assert {t.split()[0] for t in s.values()} == {"YES", "NO"}
    dev = read_table(recipe / "data/train_dev/text")
    assert len(dev) == 5 and set(dev) <= set(train) and not set(dev) & set(read_table(recipe / "data/train_nodev/text"))
    wav = read_table(recipe / "data/test/wav.scp")["yesno-1_1_1_1_1_1_1_1"]
    assert Path(wav).is_absolute() and Path(wav).is_file()


def test_yesno_shipped_corpus_is_complete():
    from recipe_helpers import REPO

    shipped = REPO / "egs/yesno/asr1/corpus"
    assert len(list((shipped / "waves_yesno").glob("*.wav"))) == 60
    assert "CC BY 4.0" in (shipped / "LICENSE").read_text()


def test_yesno_bad_root(recipe_dir, tmp_path):
    recipe = recipe_dir("yesno")
    proc = run_sh(["local/data.sh", "--yesno-root", str(tmp_path / "nowhere")], cwd=recipe, check=False)
    assert proc.returncode != 0 and "no waves_yesno/ folder there" in proc.stderr
    bad = tmp_path / "bad" / "waves_yesno"
    bad.mkdir(parents=True)
    for name in ("0_1.wav", "1_0.wav", "x_y.wav", "1_1.wav"):
        (bad / name).write_bytes(b"")
    proc = run_sh(["local/data.sh", "--yesno-root", str(bad.parent)], cwd=recipe, check=False)
    assert proc.returncode != 0 and "x_y.wav: name is not a yes/no sequence" in proc.stderr
    # a folder named like a recording was counted and put in wav.scp (exit 0); stage 1 then
    # stopped at validation
    (bad / "x_y.wav").unlink()
    (bad / "0_0.wav").mkdir()
    proc = run_sh(["local/data.sh", "--yesno-root", str(bad.parent)], cwd=recipe, check=False)
    assert proc.returncode != 0 and "0_0.wav: is a folder, not a recording" in proc.stderr


def test_yesno_run_sh_empty_root_names_the_option(recipe_dir):
    """run.sh --yesno-root '' stopped at realpath's "realpath: '': No such file or directory"."""
    recipe = recipe_dir("yesno")
    for stage in ("0", "1"):
        proc = run_sh(["./run.sh", "--yesno-root", "", "--stage", stage, "--stop-stage", stage], cwd=recipe, check=False)
        assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == (
            "./run.sh: ERROR: --yesno-root is empty: give the folder holding waves_yesno/ (default: corpus, the "
            "copy shipped here)"), proc.stderr
        assert not (recipe / "data").exists()


@pytest.mark.parametrize("files", [6, 14])
def test_yesno_small_corpus_through_a_link(recipe_dir, yesno_root, tmp_path, files):
    """A yesno-layout corpus whose waves_yesno is a link to the folder (find listed the link alone:
    'found 0 .wav files'), with fewer than 2 x --num-dev training files (the dev step was 0, awk's
    'NR % 0' selected nothing: 'no utterances of data/train selected'): train_dev takes half of
    them, with a warning, and train_nodev keeps the rest."""
    recipe = recipe_dir("yesno")
    real = tmp_path / "real folder"
    real.mkdir()
    for wav in sorted((yesno_root / "waves_yesno").glob("*.wav"))[:files]:
        shutil.copy(wav, real / wav.name)
    (tmp_path / "root").mkdir()
    (tmp_path / "root/waves_yesno").symlink_to(real)
    proc = run_sh(["local/data.sh", "--yesno-root", str(tmp_path / "root")], cwd=recipe)
    n_train = (files + 1) // 2
    dev, nodev = read_table(recipe / "data/train_dev/text"), read_table(recipe / "data/train_nodev/text")
    assert len(dev) == n_train // 2 and len(nodev) == n_train - n_train // 2 and not set(dev) & set(nodev)
    assert f"WARNING: {n_train} training files: {n_train // 2} for train_dev instead of --num-dev 5" in proc.stderr
    assert len(read_table(recipe / "data/test/text")) == files // 2
    validate(recipe, "train_dev", "train_nodev", "test")
    proc = run_sh(["local/data.sh", "--yesno-root", str(tmp_path / "root"), "--num-dev", "0"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "--num-dev '0': asrkit-train needs a validation set" in proc.stderr


# ------------------------------------------------------------------------------------------ an4
def test_an4_data_espnet_split(recipe_dir, an4_root):
    recipe = recipe_dir("an4")
    run_sh(["local/data.sh", "--an4-root", str(an4_root)], cwd=recipe)
    validate(recipe, "train_nodev", "train_dev", "test")
    nodev, dev = read_table(recipe / "data/train_nodev/text"), read_table(recipe / "data/train_dev/text")
    test = read_table(recipe / "data/test/text")
    assert (len(nodev), len(dev), len(test)) == (848, 100, 130)
    assert sorted(dev) == sorted(list(nodev) + list(dev))[:100]  # ESPnet: the first 100 of train
    assert dev["fash-an251-b"] == "YES"  # "<s> YES </s> (an251-fash-b)": markers dropped, speaker first
    assert test["fcaw-an406-b"] == "RUBOUT G M E F THREE NINE"
    assert read_table(recipe / "data/test/utt2spk")["fcaw-an406-b"] == "fcaw"
    assert all(t == t.upper() for t in test.values())


def test_an4_data_slice(recipe_dir, an4_root):
    recipe = recipe_dir("an4")
    run_sh(["local/data.sh", "--an4-root", str(an4_root), "--max-utts", "20", "--num-dev", "5"], cwd=recipe)
    validate(recipe, "train_nodev", "train_dev", "test")
    assert len(read_table(recipe / "data/train_nodev/text")) == 15
    assert len(read_table(recipe / "data/test/text")) == 20


def test_an4_max_utts_negative_or_tiny(recipe_dir, an4_root):
    """--max-utts -5 held out N/4 = -1 utterances and the error named --num-dev '-1', an option not
    given (local/data.sh alone took all the utterances); --max-utts 3 held out 0, the same error."""
    recipe = recipe_dir("an4")
    for cmd in (["./run.sh", "--max-utts", "-5", "--stop-stage", "0"], ["local/data.sh", "--max-utts", "-5"]):
        proc = run_sh([*cmd, "--an4-root", str(an4_root)], cwd=recipe, check=False)
        assert proc.returncode == 1 and "--num-dev" not in proc.stderr, proc.stderr
        assert "ERROR: --max-utts must be 0 (all utterances) or more, got -5" in proc.stderr
        assert not (recipe / "data/train").exists()
    run_sh(["./run.sh", "--an4-root", str(an4_root), "--max-utts", "3", "--stop-stage", "0"], cwd=recipe)
    assert len(read_table(recipe / "data/train_dev/text")) == 1
    assert len(read_table(recipe / "data/train_nodev/text")) == 2


def test_an4_bad_num_dev_is_refused_before_stage_0(recipe_dir, an4_root):
    """--num-dev abc, 0 or -1 failed only in stage 0's local/data.sh, after data/ had been marked
    unfinished (data/stage0_unfinished), so the next --stage 1 asked for stage 0 again. run.sh
    refuses it with its other numbers, before stage 0 touches data/."""
    recipe = recipe_dir("an4")
    for value in ("abc", "0", "-1"):
        proc = run_sh(["./run.sh", "--an4-root", str(an4_root), "--num-dev", value, "--stop-stage", "0"],
                      cwd=recipe, check=False)
        assert proc.returncode == 1, proc.stderr
        assert (f"./run.sh: ERROR: --num-dev takes an integer of 1 or more (the training utterances held out "
                f"as train_dev), got '{value}'") in proc.stderr, proc.stderr
        assert not (recipe / "data").exists(), value


def test_an4_bad_inputs(recipe_dir, an4_root, tmp_path):
    recipe = recipe_dir("an4")
    proc = run_sh(["local/data.sh", "--an4-root", str(tmp_path)], cwd=recipe, check=False)
    assert proc.returncode != 0 and "expected etc/ and wav/ there" in proc.stderr
    # A malformed transcription line is reported with its file and line number.
    fake = tmp_path / "an4"
    editable_copy(an4_root / "etc", fake / "etc")
    (fake / "wav").symlink_to(an4_root / "wav")
    lines = (fake / "etc/an4_test.transcription").read_text().splitlines()
    lines[2] = "B A O Z FIVE THREE an408-fcaw-b"
    (fake / "etc/an4_test.transcription").write_text("\n".join(lines) + "\n")
    proc = run_sh(["local/data.sh", "--an4-root", str(fake)], cwd=recipe, check=False)
    assert proc.returncode != 0
    assert "an4_test.transcription:3: expected '<words> (<file-id>)'" in proc.stderr


def editable_copy(src: Path, dst: Path) -> None:
    """A copy of ``src`` the test may change: the shared corpora are read-only (r--r--r-- files in
    dr-xr-xr-x folders) and copytree keeps those modes, so the tests that edit a copied
    transcription passed only as root, who writes through them (PermissionError for a user)."""
    shutil.copytree(src, dst, copy_function=shutil.copyfile)
    for path in [dst, *dst.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)


def an4_copy(an4_root: Path, fake: Path) -> Path:
    """An AN4 layout: a copy of etc/, the test audio linked, each training speaker's folder linked
    into a folder of its own (so a speaker can be added)."""
    editable_copy(an4_root / "etc", fake / "etc")
    (fake / "wav/an4_clstk").mkdir(parents=True)
    (fake / "wav/an4test_clstk").symlink_to(an4_root / "wav/an4test_clstk")
    for spk in (an4_root / "wav/an4_clstk").iterdir():
        (fake / "wav/an4_clstk" / spk.name).symlink_to(spk)
    return fake


def test_an4_layout_of_another_copy(recipe_dir, an4_root, tmp_path):
    """Transcriptions saved by a Windows editor (CRLF, a UTF-8 BOM: it was read into the first
    utterance's text, 'fcaw-an406-b \ufeffRUBOUT ...', exit 0) read as AN4's own; a recording in no
    transcription line (an extra speaker's folder) is left out with a warning and a count, not
    unseen; a transcription that is not UTF-8 is one line naming file and line (was a
    UnicodeDecodeError traceback)."""
    recipe = recipe_dir("an4")
    fake = an4_copy(an4_root, tmp_path / "an4 copy")
    for name in ("an4_train.transcription", "an4_test.transcription"):
        path = fake / "etc" / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    (fake / "etc/an4_train.fileids").write_text((an4_root / "etc/an4_train.fileids").read_text().replace("\n", "\n\n"))
    (fake / "wav/an4_clstk/newspk").mkdir()
    shutil.copy(an4_root / "wav/an4_clstk/fash/an251-fash-b.wav", fake / "wav/an4_clstk/newspk/an999-newspk-b.wav")
    proc = run_sh(["local/data.sh", "--an4-root", str(fake)], cwd=recipe)
    assert ("1 recording(s) in no line of an4_train.transcription, left out: newspk/an999-newspk-b.wav"
            in proc.stderr), proc.stderr
    assert proc.stderr.count("WARNING") == 1
    test = read_table(recipe / "data/test/text")
    assert test["fcaw-an406-b"] == "RUBOUT G M E F THREE NINE" and len(test) == 130
    assert len(read_table(recipe / "data/train/text")) == 948
    assert not any("\r" in v or "\ufeff" in v for v in test.values())
    validate(recipe, "train_nodev", "train_dev", "test")

    path = fake / "etc/an4_train.transcription"
    lines = path.read_bytes().split(b"\r\n")
    lines[2] = lines[2].replace(b" (", b" CAF\xe9 (")
    path.write_bytes(b"\r\n".join(lines))
    proc = run_sh(["local/data.sh", "--an4-root", str(fake)], cwd=recipe, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "an4_train.transcription:3: not UTF-8 text (invalid continuation byte at byte " in proc.stderr, proc.stderr


def test_an4_unreadable_transcription_or_speaker_folder_is_one_line(recipe_dir, an4_root, tmp_path):
    """A transcription or a speaker's folder the user cannot read was a PermissionError traceback."""
    recipe = recipe_dir("an4")
    fake = an4_copy(an4_root, tmp_path / "an4")
    trans = fake / "etc/an4_train.transcription"
    spk = fake / "wav/an4_clstk/fash"
    spk.unlink()
    spk.mkdir()
    for wav in (an4_root / "wav/an4_clstk/fash").iterdir():
        (spk / wav.name).symlink_to(wav)
    for path, message in ((trans, f"data_prep.py: ERROR: {trans}: cannot read: Permission denied"),
                          (spk, f"data_prep.py: ERROR: {trans}:1: recording of an251-fash-b: cannot read "
                                f"{spk}/an251-fash-b.wav: Permission denied")):
        mode = path.stat().st_mode
        path.chmod(0)
        try:
            proc = run_sh(without_root_override(["local/data.sh", "--an4-root", str(fake)]), cwd=recipe, check=False)
        finally:
            path.chmod(mode)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.rstrip().splitlines()[-1] == message, proc.stderr


@pytest.mark.parametrize("name, message", [("an4", "data_prep.py: ERROR: data/train: permission denied"),
                                           ("fsdd", "make_connected_digits.py: ERROR: data/wav: permission denied")])
def test_stage_0_into_a_read_only_data_dir_is_one_line(recipe_dir, an4_root, fsdd_root, name, message):
    """data/ the user cannot write was a PermissionError traceback from AN4's data_prep.py and
    FSDD's make_connected_digits.py."""
    cmd = {"an4": ["local/data.sh", "--an4-root", str(an4_root), "--max-utts", "8", "--num-dev", "2"],
           "fsdd": ["local/data.sh", "--fsdd-root", str(fsdd_root), "--num-train", "2", "--num-dev", "1", "--num-test", "1"]}
    recipe = recipe_dir(name)
    data = recipe / "data"
    data.mkdir()
    data.chmod(0o555)
    try:
        proc = run_sh(without_root_override(cmd[name]), cwd=recipe, check=False)
    finally:
        data.chmod(0o755)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1] == message, proc.stderr


def test_an4_smaller_copy_takes_num_dev_from_run_sh(recipe_dir, an4_root, tmp_path):
    """An AN4-layout corpus with 60 training utterances: ESPnet's 100 held out cannot be, and the
    error said '--num-dev 100', an option run.sh did not take ('./asr.sh: unknown option
    --num-dev'), with an earlier run's train_nodev left beside the new data/train. run.sh
    --num-dev N now reaches local/data.sh, and a failed stage 0 leaves no earlier split."""
    recipe = recipe_dir("an4")
    fake = an4_copy(an4_root, tmp_path / "an4")
    trans = fake / "etc/an4_train.transcription"
    trans.write_text("".join(trans.read_text().splitlines(keepends=True)[:60]))
    run_sh(["local/data.sh", "--an4-root", str(an4_root), "--max-utts", "20", "--num-dev", "5"], cwd=recipe)
    proc = run_sh(["./run.sh", "--an4-root", str(fake), "--stop-stage", "0"], cwd=recipe, check=False)
    assert proc.returncode == 1
    assert ("data/train has 60 utterances, not more than --num-dev 100 (the utterances held out as "
            "train_dev: give a smaller --num-dev, e.g. 6; run.sh takes it too)") in proc.stderr, proc.stderr
    assert not (recipe / "data/train_nodev").exists() and not (recipe / "data/train_dev").exists()
    run_sh(["./run.sh", "--an4-root", str(fake), "--stop-stage", "0", "--num-dev", "6"], cwd=recipe)
    assert len(read_table(recipe / "data/train_dev/text")) == 6 and len(read_table(recipe / "data/train_nodev/text")) == 54
    validate(recipe, "train_nodev", "train_dev", "test")


def test_an4_raw_bigendian_conversion(recipe_dir, an4_root, tmp_path):
    """The download path: CMU's tarball holds headerless big-endian .raw audio; we convert it to WAV."""
    import numpy as np

    recipe = recipe_dir("an4")
    src = an4_root / "wav/an4_clstk/fash/an251-fash-b.wav"
    with wave.open(str(src)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    raw_dir = tmp_path / "an4/wav/an4_clstk/fash"
    raw_dir.mkdir(parents=True)
    (raw_dir / "an251-fash-b.raw").write_bytes(samples.astype(">i2").tobytes())
    run_sh(f". ./path.sh && local/raw_to_wav.py {shlex.quote(str(tmp_path / 'an4/wav'))}", cwd=recipe)
    with wave.open(str(raw_dir / "an251-fash-b.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert np.array_equal(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), samples)
    (raw_dir / "odd.raw").write_bytes(b"\x00\x01\x02")
    proc = run_sh(f". ./path.sh && local/raw_to_wav.py {shlex.quote(str(tmp_path / 'an4/wav'))}", cwd=recipe, check=False)
    assert proc.returncode == 1 and "odd number of bytes" in proc.stderr and "Done 1 out of 2" in proc.stderr


def test_an4_empty_raw_is_not_converted(recipe_dir, tmp_path):
    """An empty .raw (a download or unpacking cut short) became a WAV of no samples, counted in
    'Done 1 out of 1' with exit 0, for stage 1 to find."""
    recipe = recipe_dir("an4")
    raw_dir = tmp_path / "an4/wav/an4_clstk/fash"
    raw_dir.mkdir(parents=True)
    (raw_dir / "an251-fash-b.raw").write_bytes(b"")
    proc = run_sh(f". ./path.sh && local/raw_to_wav.py {shlex.quote(str(tmp_path / 'an4/wav'))}", cwd=recipe, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{raw_dir}/an251-fash-b.raw: empty (0 bytes), no audio" in proc.stderr and "Done 0 out of 1" in proc.stderr
    assert sorted(p.name for p in raw_dir.iterdir()) == ["an251-fash-b.raw"]


# ----------------------------------------------------------------------------------------- fsdd
def test_fsdd_connected_digits(recipe_dir, fsdd_root):
    recipe = recipe_dir("fsdd")
    args = ["local/data.sh", "--fsdd-root", str(fsdd_root), "--num-train", "30", "--num-dev", "6", "--num-test", "8"]
    run_sh(args, cwd=recipe)
    validate(recipe, "train", "dev", "test")
    text = {s: read_table(recipe / f"data/{s}/text") for s in ("train", "dev", "test")}
    assert [len(t) for t in text.values()] == [30, 6, 8]
    words = {"ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"}
    for t in text.values():
        for line in t.values():
            assert 1 <= len(line.split()) <= 7 and set(line.split()) <= words
    for s, t in text.items():  # a reference CTM line per word (tests/recipes/test_recipe_fsdd.py checks its times)
        ctm = [line.split() for line in (recipe / f"data/{s}/ref.ctm").read_text().splitlines()]
        assert [(c[0], c[4]) for c in ctm] == [(u, w) for u in sorted(t) for w in t[u].split()]
    spk = {s: set(read_table(recipe / f"data/{s}/utt2spk").values()) for s in text}
    assert spk["test"] == {"theo"} and "theo" not in spk["train"] | spk["dev"]  # speaker independent
    wav = Path(read_table(recipe / "data/test/wav.scp")[min(text["test"])])
    with wave.open(str(wav)) as w:
        assert (w.getframerate(), w.getnchannels()) == (8000, 1)
        n_digits = len(text["test"][min(text["test"])].split())
        assert w.getnframes() > n_digits * 0.1 * 8000  # digits plus pauses, not an empty file
    first = {p.name: p.read_bytes() for p in sorted((recipe / "data/wav/test").iterdir())}
    shutil.rmtree(recipe / "data")
    run_sh(args, cwd=recipe)  # same seed, same utterances, bit for bit
    assert {p.name: p.read_bytes() for p in sorted((recipe / "data/wav/test").iterdir())} == first
    proc = run_sh(args + ["--seed", "2"], cwd=recipe)
    assert read_table(recipe / "data/train/text") != text["train"]


def test_fsdd_bad_inputs(recipe_dir, fsdd_root, tmp_path):
    recipe = recipe_dir("fsdd")
    proc = run_sh(["local/data.sh"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "--fsdd-root is required" in proc.stderr
    proc = run_sh(["local/data.sh", "--fsdd-root", str(fsdd_root), "--test-speakers", "lucas"], cwd=recipe, check=False)
    assert proc.returncode != 0 and "--test-speakers lucas: not FSDD speakers here" in proc.stderr


# ----------------------------------------------------------------------------------- librispeech
def test_librispeech_data_prep_wav_fixture(recipe_dir, an4_root, tmp_path):
    recipe = recipe_dir("librispeech")
    expected = make_librispeech_fixture(an4_root, tmp_path / "LibriSpeech", "wav")
    for part in ("dev-clean", "test-clean"):
        run_sh(f". ./path.sh && local/data_prep.py --audio-ext wav {shlex.quote(str(tmp_path / 'LibriSpeech' / part))} data/{part.replace('-', '_')}",
               cwd=recipe)
    validate(recipe, "dev_clean", "test_clean")
    text = read_table(recipe / "data/dev_clean/text") | read_table(recipe / "data/test_clean/text")
    assert text == expected
    assert read_table(recipe / "data/dev_clean/utt2spk")["100-2000-0000"] == "100-2000"  # a chapter is a speaker
    assert read_table(recipe / "data/dev_clean/spk2gender") == {"100-2000": "f", "101-2000": "m"}
    # Features from the fixture through the real fbank command: the wav.scp entries are readable.
    run_sh(". ./path.sh && asrkit-compute-fbank scp:data/test_clean/wav.scp ark,t:feats.txt", cwd=recipe)


def test_librispeech_data_prep_other_copy(recipe_dir, an4_root, tmp_path):
    """A transcript saved with a UTF-8 BOM reads as any other (it was 'expected 100-2000-<n>
    <TRANSCRIPT>, got '\\ufeff100-2000-0000 ...''); audio in no transcript line is left out with a
    warning and a count (was unseen); a reader's name in Latin-1 in SPEAKERS.TXT does not matter
    (only ids and sex are read; it was a UnicodeDecodeError traceback), and a transcript that is
    not UTF-8 is one line naming file and line (was a traceback too)."""
    recipe = recipe_dir("librispeech")
    root = tmp_path / "LibriSpeech"
    expected = make_librispeech_fixture(an4_root, root, "wav")
    chapter = root / "dev-clean/100/2000"
    trans = chapter / "100-2000.trans.txt"
    trans.write_bytes(b"\xef\xbb\xbf" + trans.read_bytes().replace(b"\n", b"\r\n"))
    shutil.copy(chapter / "100-2000-0000.wav", chapter / "100-2000-0099.wav")
    speakers = root / "SPEAKERS.TXT"
    speakers.write_bytes(speakers.read_bytes().replace(b"| A\n", b"| Jos\xe9\n"))
    cmd = f". ./path.sh && local/data_prep.py --audio-ext wav {shlex.quote(str(root / 'dev-clean'))} data/dev_clean"
    proc = run_sh(cmd, cwd=recipe)
    assert "1 .wav file(s) in no line of a .trans.txt, left out: 100-2000-0099.wav" in proc.stderr, proc.stderr
    validate(recipe, "dev_clean")
    text = read_table(recipe / "data/dev_clean/text")
    assert text == {u: t for u, t in expected.items() if u in text} and len(text) == 6
    assert read_table(recipe / "data/dev_clean/spk2gender") == {"100-2000": "f", "101-2000": "m"}
    trans.write_bytes(trans.read_bytes().replace(b"\r\n", b"\xe9\r\n", 1))
    proc = run_sh(cmd, cwd=recipe, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{trans}:1: not UTF-8 text (unexpected end of data at byte 39 of the line" in proc.stderr, proc.stderr


def test_librispeech_data_prep_unreadable_or_missing_transcripts_stop_it(recipe_dir, an4_root, tmp_path):
    """A reader or chapter folder data_prep.py cannot read was passed over by its glob with exit 0
    (its utterances lost without a word); a .trans.txt it cannot read, a broken link or a folder
    by that name, and a data dir it cannot write were tracebacks; a chapter's .trans.txt missing
    left its audio out with a warning, where Kaldi's data_prep.sh stops ('expected file ... to
    exist'). Each is now one line naming the path, exit 1, and no data dir written."""
    recipe = recipe_dir("librispeech")
    root = tmp_path / "LibriSpeech"
    make_librispeech_fixture(an4_root, root, "wav")
    part = root / "dev-clean"
    chapter = part / "100/2000"
    trans = chapter / "100-2000.trans.txt"
    cmd = ["bash", "-c", f". ./path.sh && local/data_prep.py --audio-ext wav {shlex.quote(str(part))} data/dev_clean"]

    def fails(message, permissions=False):
        shutil.rmtree(recipe / "data", ignore_errors=True)
        proc = run_sh(without_root_override(cmd) if permissions else cmd, cwd=recipe, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.rstrip().splitlines()[-1] == f"data_prep.py: ERROR: {message}", proc.stderr
        assert not (recipe / "data/dev_clean").exists()

    for folder in (part / "100", chapter):
        folder.chmod(0)
        try:
            fails(f"{folder}: cannot read: Permission denied", permissions=True)
        finally:
            folder.chmod(0o755)
    trans.chmod(0)
    try:
        fails(f"{trans}: cannot read: Permission denied", permissions=True)
    finally:
        trans.chmod(0o644)
    saved = trans.read_bytes()
    trans.unlink()
    fails(f"{trans}: missing: the 3 .wav file(s) of {chapter} have no transcript (a copy unpacked in part?)")
    trans.symlink_to(tmp_path / "nowhere.txt")
    fails(f"{trans}: cannot read: No such file or directory")
    trans.unlink()
    trans.mkdir()
    fails(f"{trans}: cannot read: Is a directory")
    trans.rmdir()
    trans.write_bytes(saved)
    (recipe / "data").mkdir()
    (recipe / "data/dev_clean").write_text("")
    proc = run_sh(cmd, cwd=recipe, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1] == "data_prep.py: ERROR: data/dev_clean is a file, not a directory"
    (recipe / "data/dev_clean").unlink()
    run_sh(cmd, cwd=recipe)  # the copy as it was reads as before
    assert len(read_table(recipe / "data/dev_clean/text")) == 6


def test_librispeech_data_prep_flac_pipes(recipe_dir, an4_root, tmp_path):
    require_program("flac")
    recipe = recipe_dir("librispeech")
    expected = make_librispeech_fixture(an4_root, tmp_path / "LibriSpeech", "flac")
    run_sh(f". ./path.sh && local/data_prep.py {shlex.quote(str(tmp_path / 'LibriSpeech/test-clean'))} data/test_clean", cwd=recipe)
    validate(recipe, "test_clean")
    wav_scp = read_table(recipe / "data/test_clean/wav.scp")
    # Each a pipe of one flac command on one .flac file (quoted where its path needs it, as under
    # a TMPDIR with a space): the shell's words are the command, the file and the '|'.
    for v in wav_scp.values():
        words = shlex.split(v)
        assert words[:4] == ["flac", "-c", "-d", "-s"] and words[5:] == ["|"] and words[4].endswith(".flac"), v
        assert Path(words[4]).is_file() and v == f"flac -c -d -s {shlex.quote(words[4])} |", v
    assert set(wav_scp) <= set(expected)
    # The pipes decode: fbank of the FLAC pipes equals fbank of the original WAV files.
    run_sh(". ./path.sh && asrkit-compute-fbank scp:data/test_clean/wav.scp ark,t:flac.txt", cwd=recipe)
    make_librispeech_fixture(an4_root, tmp_path / "wav" / "LibriSpeech", "wav")
    run_sh(f". ./path.sh && local/data_prep.py --audio-ext wav {shlex.quote(str(tmp_path / 'wav/LibriSpeech/test-clean'))} data/test_wav "
           "&& asrkit-compute-fbank scp:data/test_wav/wav.scp ark,t:wav.txt", cwd=recipe)
    flac_feats = (recipe / "flac.txt").read_text()
    assert flac_feats.count("[") == len(wav_scp) and flac_feats == (recipe / "wav.txt").read_text()


def test_librispeech_data_sh_combines_sets(recipe_dir, an4_root, tmp_path):
    recipe = recipe_dir("librispeech")
    make_librispeech_fixture(an4_root, tmp_path / "LibriSpeech", "wav")
    for src, dst in (("dev-clean", "dev-other"), ("test-clean", "test-other"), ("dev-clean", "train-clean-100")):
        shutil.copytree(tmp_path / "LibriSpeech" / src, tmp_path / "LibriSpeech" / dst)
    proc = run_sh(["local/data.sh", "--librispeech-root", str(tmp_path / "LibriSpeech"), "--hours", "100",
                   "--audio-ext", "wav"], cwd=recipe, check=False)
    # dev-clean and dev-other hold the same ids here: combining them must fail loudly, not merge.
    assert proc.returncode != 0 and "ids found in more than one source" in proc.stderr
    # With distinct readers per part (as in the real corpus) every set is made and valid.
    shutil.rmtree(tmp_path / "LibriSpeech")
    spk = sorted(p.name for p in (an4_root / "wav/an4test_clstk").iterdir())
    layout = {"dev-clean": (100, spk[:1]), "dev-other": (200, spk[1:2]), "test-clean": (300, spk[2:3]),
              "test-other": (400, spk[3:4]), "train-clean-100": (500, spk[4:6]),
              "train-clean-360": (600, spk[6:7]), "train-other-500": (700, spk[7:8])}
    expected = make_librispeech_fixture(an4_root, tmp_path / "LibriSpeech", "wav", layout)
    shutil.rmtree(recipe / "data", ignore_errors=True)
    run_sh(["local/data.sh", "--librispeech-root", str(tmp_path / "LibriSpeech"), "--audio-ext", "wav"], cwd=recipe)
    sets = ["dev_clean", "dev_other", "test_clean", "test_other", "train_clean_100", "train_clean_360",
            "train_other_500", "dev", "train_960"]
    validate(recipe, *sets)
    assert read_table(recipe / "data/train_960/text") == {u: t for u, t in expected.items() if u[0] in "567"}
    assert set(read_table(recipe / "data/dev/utt2spk").values()) == {"100-2000", "200-2000"}
    proc = run_sh(["local/data.sh", "--librispeech-root", str(tmp_path / "nowhere")], cwd=recipe, check=False)
    assert proc.returncode != 0 and "no such directory" in proc.stderr


def test_librispeech_run_sh_checks_stage0_against_what_made_data(recipe_dir, an4_root, tmp_path):
    """From --stage 1 on, another --librispeech-root changed nothing and ran with exit 0 on the
    data/ of the last stage 0 (AN4's and yesno's run.sh already refused it); a stage 0 that
    stopped part-way left data/ part new, part old, and --stage 1 took it; a missing part was
    found after the parts before it had been written into data/; an empty --download-dir was
    named as --librispeech-root '/LibriSpeech'."""
    require_program("flac")
    recipe = recipe_dir("librispeech")
    spk = sorted(p.name for p in (an4_root / "wav/an4test_clstk").iterdir())
    layout = {part: (100 * (i + 1), spk[i:i + 1]) for i, part in enumerate(
        ("dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100", "train-clean-360", "train-other-500"))}
    first, second = tmp_path / "first/LibriSpeech", tmp_path / "second/LibriSpeech"
    make_librispeech_fixture(an4_root, first, "flac", layout)
    shutil.copytree(first, second)
    run_sh(["./run.sh", "--stage", "0", "--stop-stage", "0", "--librispeech-root", str(first)], cwd=recipe)
    assert f"librispeech-root={first}\n" in (recipe / "data/stage0_options").read_text()
    wav_scp = (recipe / "data/dev_clean/wav.scp").read_text()
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1", "--librispeech-root", str(second)],
                  cwd=recipe, check=False)
    assert proc.returncode == 1 and f"run.sh: ERROR: --librispeech-root '{second}': data/ was made by stage 0 with " \
        f"--librispeech-root '{first}'" in proc.stderr, proc.stderr
    assert not (recipe / "dump").exists()
    # ... and given in a --config file (only the command line's was checked: exit 0 on the old data/)
    (tmp_path / "my.conf").write_text(f"librispeech_root={second}\n")
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1", "--config", str(tmp_path / "my.conf")],
                  cwd=recipe, check=False)
    assert proc.returncode == 1 and f"run.sh: ERROR: --librispeech-root '{second}': data/ was made" in proc.stderr, \
        proc.stderr
    assert not (recipe / "dump").exists()
    # A part missing from the second copy: found before any data dir is written again.
    shutil.rmtree(second / "test-other")
    proc = run_sh(["./run.sh", "--stage", "0", "--stop-stage", "0", "--librispeech-root", str(second)], cwd=recipe,
                  check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == \
        f"local/data.sh: ERROR: {second}/test-other: missing (local/download.sh fetches it)", proc.stderr
    assert (recipe / "data/dev_clean/wav.scp").read_text() == wav_scp
    # ... and data/ of a stage 0 that did not finish is refused from --stage 1 on.
    proc = run_sh(["./run.sh", "--stage", "1", "--stop-stage", "1", "--nj", "1"], cwd=recipe, check=False)
    assert proc.returncode == 1 and "run.sh: ERROR: data/ is from a stage 0 that did not finish" in proc.stderr
    assert not (recipe / "dump").exists()
    proc = run_sh(["./run.sh", "--stage", "0", "--stop-stage", "0", "--librispeech-root", str(first.parent)],
                  cwd=recipe, check=False)
    assert proc.returncode == 1 and f"{first.parent}/dev-clean: missing; the parts are in {first}: give " \
        f"--librispeech-root {first}" in proc.stderr, proc.stderr
    proc = run_sh(["./run.sh", "--stage", "0", "--stop-stage", "0", "--download-dir", ""], cwd=recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.rstrip() == \
        "./run.sh: ERROR: --download-dir is empty (the folder stage -1 downloads into; default: downloads)"
    run_sh(["./run.sh", "--stage", "0", "--stop-stage", "0", "--librispeech-root", str(first)], cwd=recipe)
    assert not (recipe / "data/stage0_unfinished").exists()


def test_yesno_label_check_finds_the_one_mislabelled_recording(recipe_dir, yesno_root):
    """yesno-0_1_0_1_0_0_0_0 holds seven spoken words; the other 59 recordings match their names.

    The recipe's only test error is that file (RESULTS.md); this keeps the claim re-checked.
    """
    recipe = recipe_dir("yesno")
    waves = sorted(str(p) for p in (yesno_root / "waves_yesno").glob("*.wav"))
    assert len(waves) == 60
    proc = run_sh([sys.executable, str(recipe / "local/count_words.py"), *waves], cwd=recipe)
    lines = proc.stdout.splitlines()
    expected = f"{yesno_root}/waves_yesno/0_1_0_1_0_0_0_0.wav: 7 words spoken, 8 in its name"
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    assert "1 of 60 recordings differ from their names" in proc.stderr
