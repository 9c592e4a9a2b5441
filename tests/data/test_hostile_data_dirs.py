"""make-, validate- and fix-data-dir on what a user's tree can hold where a file or folder is
expected: a directory named like a file, an empty file, a regular file for a folder, control
characters in transcripts, a sample rate no model can use."""
from __future__ import annotations

import os
import re
import shutil

import pytest

from asrkit.data.datadir import DataDir
from asrkit.data.fix import fix_data_dir
from asrkit.data.from_audio import make_data_dir
from asrkit.data.make_report import NO_TRANSCRIPT, NOT_A_FILE, TEXT_WITHOUT_AUDIO, TRANSCRIPT_NOT_A_FILE
from asrkit.data.validate import validate_data_dir
from asrkit.utils.errors import AsrkitError
from cli_checks import without_root_override
from user_corpus import make_user_corpus


def _errors(path, **kw):
    return [str(p) for p in validate_data_dir(path, **kw) if p.is_error]


# D6 ------------------------------------------------------------------------------------------
def test_transcript_beside_missing_audio_is_counted_as_with_a_transcript_file(an4_root, tmp_path):
    """A .txt whose audio is missing, or whose "audio" is a directory, was dropped without a word
    ("Done 12 utterances out of 12 audio files", exit 0); a --transcripts line for it was counted."""
    make_user_corpus(an4_root, tmp_path / "c", 12, layout="beside")
    audio = tmp_path / "c/audio"
    spk = sorted(p.name for p in audio.iterdir())[0]
    (audio / spk / "ghost.txt").write_text("HELLO\n")
    (audio / spk / "folder.txt").write_text("HELLO\n")
    (audio / spk / "folder.wav").mkdir()
    # A text file without audio may be a README: named and counted, not held against the ratio;
    # a directory named as the audio is a damaged corpus, and is.
    (audio / "README.txt").write_text("AN4 recordings\n")
    with pytest.raises(AsrkitError, match=r"1 of 13 audio files and transcripts skipped \(reasons above\), more than "
                                          r"--max-skip-ratio 0.05"):
        make_data_dir(audio, tmp_path / "data")
    assert not (tmp_path / "data").exists()
    report = make_data_dir(audio, tmp_path / "data", max_skip_ratio=0.2)
    assert report.skipped == {TEXT_WITHOUT_AUDIO: ["README.txt", f"{spk}/ghost.txt"],
                              NOT_A_FILE: [f"{spk}/folder.wav/ (beside {spk}/folder.txt)"]}
    assert report.num_utts == 12
    (audio / spk / "folder.txt").unlink()
    report = make_data_dir(audio, tmp_path / "data3")
    assert report.skipped == {TEXT_WITHOUT_AUDIO: ["README.txt", f"{spk}/ghost.txt"]} and report.num_utts == 12

    # The same in a transcript file: the directory is named as such there too.
    make_user_corpus(an4_root, tmp_path / "t", 12)
    (tmp_path / "t/audio/folder.wav").mkdir()
    prompts = tmp_path / "t/prompts.txt"
    prompts.write_text(prompts.read_text() + "folder HELLO\nfolder.wav HELLO AGAIN\n")  # one folder, one skip
    report = make_data_dir(tmp_path / "t/audio", tmp_path / "data2", transcripts=prompts, max_skip_ratio=0.2)
    assert report.skipped == {NOT_A_FILE: [f"folder ({prompts}:13)"]}


def test_a_transcript_name_that_is_no_file_is_named_not_called_missing(an4_root, tmp_path):
    """A <name>.txt beside the audio that is a broken link (a corpus copied without its link
    targets), a folder or a FIFO was "audio without a transcript: <name>.wav", the transcript's
    name right there in the folder. Each is now skipped for what it is, naming the transcript;
    a missing one is still "without a transcript"."""
    make_user_corpus(an4_root, tmp_path / "c", 12, layout="beside")
    audio = tmp_path / "c/audio"
    texts = sorted(audio.glob("*/*.txt"))
    rel = [t.relative_to(audio) for t in texts]
    texts[0].unlink()
    texts[0].symlink_to("gone.txt")
    texts[1].unlink()
    texts[1].mkdir()
    texts[2].unlink()
    os.mkfifo(texts[2])  # (never opened: a reader would wait for a writer)
    texts[3].unlink()
    report = make_data_dir(audio, tmp_path / "data", max_skip_ratio=0.5)
    assert report.skipped == {
        TRANSCRIPT_NOT_A_FILE: [f"{r} (beside {r.with_suffix('.wav')})" for r in rel[:3]],
        NO_TRANSCRIPT: [str(rel[3].with_suffix(".wav"))]}
    assert report.num_utts == 8 and report.num_audio == 12
    # Every transcript such a name (all links, their targets not copied): the skips are named, not
    # "no transcripts: none of its 12 audio files has a <name>.txt beside it"
    for t in texts[4:]:
        t.unlink()
        t.symlink_to("gone.txt")
    with pytest.raises(AsrkitError, match=r"no utterance has both audio and a non-empty transcript \(12 skipped"):
        make_data_dir(audio, tmp_path / "data2", max_skip_ratio=1)


# D7 ------------------------------------------------------------------------------------------
NUL = "the control character U+0000 '\\x00' (a terminal escape or a damaged transcript)"
ESC = "the control character U+001B '\\x1b' (a terminal escape or a damaged transcript)"


def test_control_characters_in_transcripts_are_refused_when_made(an4_root, tmp_path):
    make_user_corpus(an4_root, tmp_path / "c", 4)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    lines = prompts.read_text().splitlines()
    key = lines[1].split()[0]
    lines[1] = f"{key} HELLO\x00TWO\x1b[31m"
    prompts.write_text("\n".join(lines) + "\n")
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "data", transcripts=prompts)
    assert str(e.value) == f"{prompts}:2: {NUL} in the transcript of 'spk1-{key}'"
    assert not (tmp_path / "data").exists()

    make_user_corpus(an4_root, tmp_path / "b", 4, layout="beside")
    txt = sorted((tmp_path / "b/audio").rglob("*.txt"))[2]
    txt.write_text("HELLO \x1b[31mRED\n")
    with pytest.raises(AsrkitError, match=rf"^{txt}: the control character U\+001B"):
        make_data_dir(tmp_path / "b/audio", tmp_path / "data")


def test_control_characters_in_text_fail_validation_tab_does_not(an4_dir):
    lines = (an4_dir / "text").read_text().splitlines(keepends=True)
    utt2, words2 = lines[1].rstrip("\n").split(" ", 1)
    utt5, words5 = lines[4].rstrip("\n").split(" ", 1)
    utt7, words7 = lines[6].rstrip("\n").split(" ", 1)
    lines[1] = f"{utt2} {words2}\x00TWO\x1b[31m\n"
    lines[4] = f"{utt5} \x1b{words5}\n"
    lines[6] = f"{utt7} {words7.replace(' ', chr(9))}\n"  # a tab: white space, as everywhere
    (an4_dir / "text").write_text("".join(lines))
    assert _errors(an4_dir) == [f"{an4_dir}/text:2: {NUL} in the transcript of {utt2!r}",
                                f"{an4_dir}/text:5: {ESC} in the transcript of {utt5!r}"]


def test_a_nul_in_an_id_or_a_path_is_refused_by_validation_and_dropped_by_fix(an4_dir):
    """Validation passed NUL bytes in utterance and speaker ids (fix-data-dir "needed no change"),
    which split, fbank and holdout-lists then refused; a NUL in a wav.scp path was a ValueError
    traceback from its os.stat."""
    def nul(name, lineno, at):
        lines = (an4_dir / name).read_text().splitlines(keepends=True)
        lines[lineno - 1] = lines[lineno - 1][:at] + "\x00" + lines[lineno - 1][at:]
        (an4_dir / name).write_text("".join(lines))

    utts = list(DataDir(an4_dir).read("utt2spk"))
    nul("utt2spk", 2, 3)                                   # in an utterance id
    nul("utt2spk", 4, len(utts[3]) + 2)                    # in a speaker id
    nul("wav.scp", 6, len((an4_dir / "wav.scp").read_text().splitlines()[5]))  # at the end of a path
    errors = _errors(an4_dir)
    for name, lineno in (("utt2spk", 2), ("utt2spk", 4), ("wav.scp", 6)):
        assert any(e.startswith(f"{an4_dir}/{name}:{lineno}: a NUL byte at character ") for e in errors), errors
    report = fix_data_dir(an4_dir)
    assert report.num_dropped == 3
    kept = DataDir(an4_dir).read("utt2spk")
    assert not any("\x00" in u + s for u, s in kept.items()) and {utts[1], utts[3], utts[5]}.isdisjoint(kept)
    assert _errors(an4_dir) == []


# D8 ------------------------------------------------------------------------------------------
def test_wav_scp_naming_a_directory_or_an_empty_file(an4_dir, tmp_path):
    lines = (an4_dir / "wav.scp").read_text().splitlines(keepends=True)
    (tmp_path / "dir.wav").mkdir()
    (tmp_path / "empty.wav").write_bytes(b"")
    utt2, utt3, utt4 = (line.split()[0] for line in lines[1:4])
    lines[1] = f"{utt2} {tmp_path}/dir.wav\n"
    lines[2] = f"{utt3} {tmp_path}/empty.wav\n"
    lines[3] = f"{utt4} cat {tmp_path}/empty.wav |\n"  # a pipe is not looked into
    (an4_dir / "wav.scp").write_text("".join(lines))
    assert _errors(an4_dir) == [f"{an4_dir}/wav.scp:2: '{tmp_path}/dir.wav' is a directory, not an audio file"]
    # an empty file is said, as a warning: feature extraction skips and counts it (Kaldi's 95 % rule)
    warnings = [str(p) for p in validate_data_dir(an4_dir) if not p.is_error]
    assert f"{an4_dir}/wav.scp:3: '{tmp_path}/empty.wav' is an empty file (0 bytes), not audio; feature " \
           f"extraction will skip it" in warnings
    assert _errors(an4_dir, check_wav_files=False) == []


def test_a_table_that_is_a_directory(an4_dir, asrkit):
    (an4_dir / "text").unlink()
    (an4_dir / "text").mkdir()
    # fix-data-dir kept every utterance ("Kept 130 out of 130"), the text not there to it.
    with pytest.raises(AsrkitError) as e:
        fix_data_dir(an4_dir)
    assert str(e.value) == f"{an4_dir}/text: is a directory, not a table file"
    assert not (an4_dir / ".backup").exists()
    assert _errors(an4_dir) == [f"{an4_dir}/text: is a directory, not a table file"]
    out = asrkit("fix-data-dir", an4_dir, check=False)
    assert out.returncode == 1 and out.stderr.decode().strip().endswith(f"{an4_dir}/text: is a directory, not a table file")
    with pytest.raises(AsrkitError, match=r"/text: is a directory, not a table file \(required in data dir "):
        DataDir(an4_dir).require("text")


def test_a_table_that_is_no_regular_file(an4_dir, asrkit):
    """A link to /dev/zero (or a FIFO) where a table belongs was an absent table: fix-data-dir
    "needed no change", a required utt2spk was "no such file"."""
    import os

    why = "not a regular file (a device or pipe)"
    (an4_dir / "text").unlink()
    (an4_dir / "text").symlink_to("/dev/zero")
    with pytest.raises(AsrkitError) as e:
        fix_data_dir(an4_dir)
    assert str(e.value) == f"{an4_dir}/text: {why}"
    assert not (an4_dir / ".backup").exists() and (an4_dir / "text").is_symlink()
    assert _errors(an4_dir) == [f"{an4_dir}/text: {why}"]
    out = asrkit("fix-data-dir", an4_dir, check=False)
    assert out.returncode == 1 and out.stderr.decode().strip().endswith(f"{an4_dir}/text: {why}"), out.stderr
    (an4_dir / "utt2spk").unlink()
    os.mkfifo(an4_dir / "utt2spk")
    with pytest.raises(AsrkitError, match=rf"/utt2spk: {re.escape(why)} \(required in data dir "):
        DataDir(an4_dir).require("utt2spk")
    assert DataDir(an4_dir).not_a_file("wav.scp") is None and DataDir(an4_dir).not_a_file("segments") is None


def test_a_file_given_for_a_directory_is_not_a_directory(an4_dir, tmp_path, asrkit):
    f = tmp_path / "plain"
    f.write_text("x\n")
    assert _errors(f) == [f"{f}: not a directory"]
    assert _errors(tmp_path / "nope") == [f"{tmp_path}/nope: no such directory"]
    with pytest.raises(AsrkitError, match=rf"^{f}: not a directory$"):
        fix_data_dir(f)
    with pytest.raises(AsrkitError, match=rf"^{f}: not a directory \(the folder holding the audio files\)$"):
        make_data_dir(f, tmp_path / "data")
    with pytest.raises(AsrkitError, match=r"not a data directory \(not a directory\)"):
        DataDir(f).require("text")
    for cmd in ("validate-data-dir", "make-data-dir"):
        out = asrkit(cmd, f, *([tmp_path / "data"] if cmd == "make-data-dir" else []), check=False)
        assert out.returncode == 1 and f"{f}: not a directory" in out.stderr.decode()
    for path in (f, tmp_path / "nope"):  # one line, no "asrkit-fix-data-dir <it> repairs ..." for a dir not there
        out = asrkit("validate-data-dir", path, check=False)
        why = "not a directory" if path == f else "no such directory"
        assert out.returncode == 1 and out.stderr.decode().splitlines()[-1:] == [
            f"ERROR (asrkit-validate-data-dir): {path}: {why}"] and "fix-data-dir" not in out.stderr.decode()


# D10 -----------------------------------------------------------------------------------------
def test_a_sample_rate_too_low_to_decode_is_refused(an4_root, tmp_path, asrkit):
    from asrkit.features.resample import MIN_SAMPLE_RATE

    make_user_corpus(an4_root, tmp_path / "c", 2, layout="beside")
    for rate in (1, MIN_SAMPLE_RATE - 1):
        with pytest.raises(AsrkitError) as e:
            make_data_dir(tmp_path / "c/audio", tmp_path / "data", sample_rate=rate)
        assert str(e.value) == (f"--sample-rate {rate}: too low to recognise speech (at least {MIN_SAMPLE_RATE} Hz, "
                                f"as asrkit-decode requires)")
    assert not (tmp_path / "data").exists()
    out = asrkit("make-data-dir", "--sample-rate", "1", tmp_path / "c/audio", tmp_path / "data", check=False)
    assert out.returncode == 1 and "--sample-rate 1: too low to recognise speech" in out.stderr.decode()
    if shutil.which("sox"):
        report = make_data_dir(tmp_path / "c/audio", tmp_path / "data", sample_rate=MIN_SAMPLE_RATE)
        assert report.num_utts == 2
        assert all(f" -r {MIN_SAMPLE_RATE} " in v for v in DataDir(tmp_path / "data").read("wav.scp").values())


# Sweep: permissions ----------------------------------------------------------------------------
def test_unreadable_audio_and_folders_are_named_not_lost(an4_root, tmp_path):
    """A folder the user may not list was left out without a word (os.walk passes over it: its
    recordings missing, exit 0), and an audio file the user may not read was counted as "not
    readable audio (bad or truncated header)". Each is now a skip for what it is; the audio
    folder itself unreadable is one error line."""
    import subprocess
    import sys

    make_user_corpus(an4_root, tmp_path / "c", 24, layout="beside")
    audio = tmp_path / "c/audio"
    wavs = sorted(audio.glob("*/*.wav"))
    secret = wavs[0]
    real = secret.resolve()
    secret.unlink()  # (a link into the corpus: its target is not ours to chmod)
    shutil.copy(real, secret)
    locked = audio / "locked"
    locked.mkdir()
    shutil.copy(wavs[1].resolve(), locked / "a.wav")
    (locked / "a.txt").write_text("ONE\n")
    secret.chmod(0)
    locked.chmod(0)
    cmd = [sys.executable, "-m", "asrkit", "make-data-dir", "--max-skip-ratio", "0.2"]
    try:
        proc = subprocess.run(without_root_override([*cmd, audio, tmp_path / "data"]), capture_output=True, text=True)
        top = subprocess.run(without_root_override([*cmd, locked, tmp_path / "data2"]), capture_output=True, text=True)
    finally:
        locked.chmod(0o755)
        secret.chmod(0o644)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    rel = secret.relative_to(audio)
    assert (f"skipped 1: audio file that cannot be opened (no read permission, or an I/O error): {rel} "
            in proc.stderr), proc.stderr
    assert "skipped 1: folder that cannot be read, its files not looked at: locked/ (Permission denied)" in proc.stderr
    assert len(DataDir(tmp_path / "data").read("wav.scp")) == 23
    assert top.returncode == 1 and "Traceback" not in top.stderr, top.stderr
    assert top.stderr.rstrip().splitlines()[-1] == (f"ERROR (asrkit-make-data-dir): {locked}: cannot read the "
                                                    f"folder: Permission denied")
    assert not (tmp_path / "data2").exists()


@pytest.mark.parametrize("name", ["text", "segments", "utt2dur", "spk2gender"])
def test_perturb_refuses_a_table_that_is_a_directory_or_no_file(an4_dir, tmp_path, asrkit, name):
    """perturb-data-dir-speed took a table that is a directory (or a link to /dev/zero) for an
    absent one: a 'text' folder gave copies without transcripts, exit 0, where validate-, fix-
    and split-data-dir refuse it."""
    from asrkit.data.perturb import perturb_data_dir_speed

    path = an4_dir / name
    path.unlink(missing_ok=True)
    path.mkdir()
    with pytest.raises(AsrkitError, match=f"^{re.escape(str(path))}: is a directory, not a table file$"):
        perturb_data_dir_speed(an4_dir, tmp_path / "sp", [1.0])
    assert not (tmp_path / "sp").exists()
    path.rmdir()
    path.symlink_to("/dev/zero")
    out = asrkit("perturb-data-dir-speed", "--factors", "1.0", an4_dir, tmp_path / "sp", check=False)
    assert out.returncode == 1 and out.stderr.decode().strip().endswith(
        f"{path}: not a regular file (a device or pipe)"), out.stderr
    assert not (tmp_path / "sp").exists()
    # the nearest valid input, the table absent, is copied as before
    path.unlink()
    perturb_data_dir_speed(an4_dir, tmp_path / "sp", [1.0])
    assert (tmp_path / "sp/utt2spk").read_text() == (an4_dir / "utt2spk").read_text()


def test_a_table_that_is_a_broken_link_is_named_not_taken_for_absent(an4_dir, tmp_path, asrkit):
    """A table that is a link to a file that is gone (text -> ../../data/train/text, moved) was
    taken for an absent one: split-data-dir wrote pieces without text and perturb-data-dir-speed
    copies without transcripts (exit 0), fix-data-dir "needed no change"; validate-data-dir said
    'no such file' of a name that ls shows."""
    from asrkit.data.perturb import perturb_data_dir_speed
    from asrkit.data.split import split_data_dir

    text = an4_dir / "text"
    saved = text.read_bytes()
    text.unlink()
    text.symlink_to(tmp_path / "gone/text")
    why = f"{text}: a broken symbolic link (to {tmp_path}/gone/text, which does not exist)"
    assert _errors(an4_dir) == [why]
    for run in (lambda: split_data_dir(an4_dir, 2), lambda: fix_data_dir(an4_dir),
                lambda: perturb_data_dir_speed(an4_dir, tmp_path / "sp", [1.0])):
        with pytest.raises(AsrkitError) as e:
            run()
        assert str(e.value) == why
    assert not (an4_dir / "split2").exists() and not (an4_dir / ".backup").exists() and not (tmp_path / "sp").exists()
    out = asrkit("split-data-dir", an4_dir, "2", check=False)
    assert out.returncode == 1 and out.stderr.decode().strip().endswith(why), out.stderr
    # A required table's link names itself so too; a link to a table that is there is read as ever.
    (an4_dir / "utt2spk").rename(tmp_path / "utt2spk")
    (an4_dir / "utt2spk").symlink_to(tmp_path / "utt2spk.moved")
    with pytest.raises(AsrkitError, match=r"/utt2spk: a broken symbolic link \(to .*utt2spk.moved, which does not "
                                          r"exist\) \(required in data dir "):
        DataDir(an4_dir).require("utt2spk")
    (an4_dir / "utt2spk").unlink()
    (an4_dir / "utt2spk").symlink_to(tmp_path / "utt2spk")
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone/text").write_bytes(saved)
    assert _errors(an4_dir) == []
    assert split_data_dir(an4_dir, 2).sizes
