"""asrkit-make-data-dir on real AN4 audio arranged as a user's corpus, and every bad input it meets."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from asrkit.data.datadir import DataDir
from asrkit.data.from_audio import make_data_dir
from asrkit.data.make_report import BAD_NAME, EMPTY, EMPTY_FILE, NO_AUDIO, NO_SAMPLES, NOT_AUDIO, NO_TRANSCRIPT, NOT_UTF8_NAME, BROKEN_LINK, NOT_REGULAR, safe_id
from asrkit.data.transcript_files import drop_punctuation
from asrkit.data.validate import validate_data_dir
from asrkit.features.wav import read_wav_source
from asrkit.utils.errors import AsrkitError
from debian_packages import require_program
from process_checks import a_terminal
from user_corpus import make_user_corpus


def _errors(path):
    return [str(p) for p in validate_data_dir(path) if p.is_error]


def test_one_transcript_file(an4_root, tmp_path):
    expected = make_user_corpus(an4_root, tmp_path / "c", 12)
    report = make_data_dir(tmp_path / "c/audio", tmp_path / "data", transcripts=tmp_path / "c/prompts.txt",
                           speaker="mine")
    assert (report.num_audio, report.num_utts, report.skipped) == (12, 12, {})
    d = DataDir(tmp_path / "data")
    assert d.read("text") == {f"mine-{k}": v for k, v in expected.items()}
    assert set(d.read("utt2spk").values()) == {"mine"}
    wav = d.read("wav.scp")
    assert wav["mine-an251-fash-b"] == str((tmp_path / "c/audio").resolve() / "an251-fash-b.wav")
    assert _errors(tmp_path / "data") == []
    samples, rate = read_wav_source(wav["mine-an251-fash-b"], "x")
    assert rate == 16000 and len(samples) > 8000


def test_tables_of_an_earlier_data_dir_there_are_removed(an4_root, tmp_path):
    """Made again into the same folder, the new wav.scp, text, utt2spk and spk2utt replaced the
    old ones, but a segments, feats.scp or spk2gender of the earlier data dir stayed beside them,
    describing other utterances (a stale segments file even decided which audio is read)."""
    make_user_corpus(an4_root, tmp_path / "c", 4)
    (tmp_path / "data").mkdir()
    for name, line in (("segments", "old-1 old 0 1"), ("feats.scp", "old-1 a.ark:9"), ("spk2gender", "old m"),
                       ("utt2dur", "old-1 1.5"), ("notes.txt", "mine")):
        (tmp_path / "data" / name).write_text(line + "\n")
    make_data_dir(tmp_path / "c/audio", tmp_path / "data", transcripts=tmp_path / "c/prompts.txt", speaker="mine")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "notes.txt", "spk2utt", "text", "utt2spk", "wav.scp"]       # a file of the user's own stays
    assert _errors(tmp_path / "data") == []


def test_a_signal_while_the_tables_are_renamed_lands_after_the_earlier_tables_are_removed(tmp_path, monkeypatch):
    """A Ctrl-C or SIGTERM while the four new tables were renamed into place was held until the last
    rename and then landed before an earlier data dir's segments and feats.scp were removed: the
    command stopped with the new tables beside them, the stale segments deciding which audio the
    new utterances are."""
    from process_checks import sigint_after_each_rename

    from asrkit.data.datadir import write_data_dir

    d = tmp_path / "data"
    d.mkdir()
    for name, line in (("segments", "old-1 old 0 1"), ("feats.scp", "old-1 a.ark:9")):
        (d / name).write_text(line + "\n")
    with sigint_after_each_rename(monkeypatch), pytest.raises(KeyboardInterrupt):
        write_data_dir(d, {"u1": "/a/u1.wav"}, {"u1": "YES"}, {"u1": "s1"})
    assert sorted(p.name for p in d.iterdir()) == ["spk2utt", "text", "utt2spk", "wav.scp"]


def test_text_beside_each_file_speaker_from_folder_and_same_name_in_two_folders(an4_root, tmp_path):
    expected = make_user_corpus(an4_root, tmp_path / "c", 12, layout="beside")
    audio = tmp_path / "c/audio"
    # The same file name in a second folder (another speaker's take of a prompt).
    (audio / "zed").mkdir()
    first = sorted(expected)[0]
    os.symlink(os.readlink(audio / f"{first}.wav"), audio / "zed" / "an251-fash-b.wav")
    (audio / "zed" / "an251-fash-b.txt").write_text("again\n")
    report = make_data_dir(audio, tmp_path / "data", speaker_from_dir=True, case="upper")
    assert report.num_utts == 13
    text = DataDir(tmp_path / "data").read("text")
    assert text["zed-an251-fash-b"] == "AGAIN"
    assert text["fash-an251-fash-b"] == expected["fash/an251-fash-b"].upper()
    u2s = DataDir(tmp_path / "data").read("utt2spk")
    assert u2s["zed-an251-fash-b"] == "zed" and u2s["fash-an251-fash-b"] == "fash"
    assert _errors(tmp_path / "data") == []

    # A regex picks the speaker from the path instead (here: the AN4 speaker inside the name).
    make_data_dir(audio, tmp_path / "data2", speaker_regex=r"-([a-z]+)-b$")
    assert set(DataDir(tmp_path / "data2").read("utt2spk").values()) == {"fash", "fbbh"}
    with pytest.raises(AsrkitError, match=r"does not match"):
        make_data_dir(audio, tmp_path / "data3", speaker_regex=r"^(nobody)/")


def test_every_transcript_beside_the_audio_that_is_not_utf8_is_named_at_once(an4_root, tmp_path):
    """A corpus saved on Windows (Notepad's 'Unicode') has all its .txt files in UTF-16: the error
    named the first alone, and came back naming the next after each file was converted."""
    expected = make_user_corpus(an4_root, tmp_path / "c", 12, layout="beside")
    audio = tmp_path / "c/audio"
    names = sorted(expected)
    for name in names[:7]:
        (audio / f"{name}.txt").write_bytes(expected[name].encode("utf-16"))
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "data", speaker_from_dir=True)
    shown = " ".join(f"{audio / n}.txt" for n in names[:5])
    assert str(e.value) == (f"{audio / names[0]}.txt: not UTF-8 text (invalid start byte at byte 0): it is UTF-16 "
                            f"(a byte-order mark FF FE or FE FF); save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8; "
                            f"7 of the 12 transcripts beside the audio are not UTF-8, each to be converted as what it "
                            f"is: 7 UTF-16 (a byte-order mark FF FE or FE FF), convert with iconv -f UTF-16 -t UTF-8: "
                            f"{shown} ...")
    # one such file alone: the message as it was
    for name in names[1:7]:
        (audio / f"{name}.txt").write_text(expected[name])
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "data", speaker_from_dir=True)
    assert str(e.value).endswith(": it is UTF-16 (a byte-order mark FF FE or FE FF); save it as UTF-8, e.g. "
                                 "iconv -f UTF-16 -t UTF-8"), str(e.value)
    assert not (tmp_path / "data").exists()


def test_transcripts_not_utf8_in_several_encodings_each_get_their_own_conversion(an4_root, tmp_path, monkeypatch):
    """Three UTF-16 transcripts and a Latin-1 one beside the audio: the error gave the first's
    'iconv -f UTF-16' and listed all four to 'convert them all', the Latin-1 one too (iconv made
    it garbage), and listed them under the audio folder where the first was an absolute path.
    Each file now gets the iconv for what it is, every path as the folder was given, joined; the
    commands as printed convert every file and the folder then reads."""
    audio, expected, names = _corpus_here(an4_root, tmp_path, monkeypatch)
    texts = {n: f"{expected[n]} CAF\xc9" for n in names}
    for name in names[:3]:
        (audio / f"{name}.txt").write_bytes(texts[name].encode("utf-16"))      # Notepad's 'Unicode'
    (audio / f"{names[3]}.txt").write_bytes(texts[names[3]].encode("latin-1"))  # an older corpus's É
    (audio / f"{names[4]}.txt").write_bytes(texts[names[4]].encode("utf-16-le"))  # an exporter's, no BOM
    for name in names[5:]:
        (audio / f"{name}.txt").write_text(texts[name], encoding="utf-8")
    message = _refusal(audio, tmp_path)
    assert message.startswith(f"c/audio/{names[0]}.txt: not UTF-8 text (invalid start byte at byte 0): it is "
                              f"UTF-16 "), message
    assert "5 of the 8 transcripts beside the audio are not UTF-8" in message and "them all" not in message
    groups = re.findall(r"(\d+) ([^;:]+?), (?:if Latin-1 or Windows-1252 )?convert with (iconv -f \S+ -t UTF-8): "
                        r"([^;]+)", message)
    assert [(n, cmd, paths.split()) for n, _, cmd, paths in groups] == [
        ("3", "iconv -f UTF-16 -t UTF-8", [f"c/audio/{n}.txt" for n in names[:3]]),
        ("1", "iconv -f WINDOWS-1252 -t UTF-8", [f"c/audio/{names[3]}.txt"]),
        ("1", "iconv -f UTF-16LE -t UTF-8", [f"c/audio/{names[4]}.txt"])], message
    assert "encoding unknown" in groups[1][1] and "without a byte-order mark" in groups[2][1]
    assert _texts_once_converted(groups, audio, tmp_path) == sorted(texts.values())


def _corpus_here(an4_root: Path, tmp_path: Path, monkeypatch):
    """8 AN4 recordings with their transcripts beside them, as c/audio relative to the current
    directory (tmp_path: the error names paths as the folder was given); (audio, expected, names)."""
    expected = make_user_corpus(an4_root, tmp_path / "c", 8, layout="beside")
    monkeypatch.chdir(tmp_path)
    return Path("c/audio"), expected, sorted(expected)


def _refusal(audio: Path, tmp_path: Path) -> str:
    """make-data-dir's error for ``audio``."""
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "data", speaker_from_dir=True)
    return str(e.value)


def _texts_once_converted(groups, audio: Path, tmp_path: Path) -> list:
    """Each (count, kind, iconv command, paths) group's iconv run, as the error printed it, over its
    files, in place; then the transcripts make-data-dir reads from ``audio``, sorted."""
    for _, _, cmd, paths in groups:
        for path in shlex.split(paths):
            converted = subprocess.run(cmd.split() + [path], check=True, capture_output=True).stdout
            Path(path).write_bytes(converted)
    make_data_dir(audio, tmp_path / "data", speaker_from_dir=True)
    return sorted(DataDir(tmp_path / "data").read("text").values())


def test_utf16_transcripts_without_a_byte_order_mark_in_other_scripts_are_named_as_utf16(an4_root, tmp_path,
                                                                                          monkeypatch):
    """UTF-16LE transcripts without a byte-order mark (review R4): Greek ones (not UTF-8) were
    grouped as 'encoding unknown (not UTF-16)' with an iconv -f WINDOWS-1252 that makes garbage;
    Cyrillic, CJK and mixed ones are valid UTF-8 byte for byte and were refused as 'the control
    character U+0004 ... (a terminal escape or a damaged transcript)', no conversion given. Each
    is now named UTF-16LE with its iconv, and the folder reads once converted; an 8-bit file is
    'encoding unknown' without the claim, and one real ESC keeps its message."""
    audio, expected, names = _corpus_here(an4_root, tmp_path, monkeypatch)
    texts = {names[0]: "γειά σου", names[1]: "καλημέρα", names[2]: "привет\n", names[3]: "你好\n",
             names[4]: "hello 你好 world"}
    for name, text in texts.items():
        (audio / f"{name}.txt").write_bytes(text.encode("utf-16-le"))
    for name in names[5:]:
        (audio / f"{name}.txt").write_text(expected[name], encoding="utf-8")
    message = _refusal(audio, tmp_path)
    assert message.startswith(f"c/audio/{names[0]}.txt: not UTF-8 text (invalid start byte at byte 0): it is "
                              f"UTF-16LE without a byte-order mark"), message
    assert "5 of the 8 transcripts" in message and "unknown" not in message and "terminal" not in message, message
    groups = re.findall(r"(\d+) ([^;:]+?), convert with (iconv -f \S+ -t UTF-8): ([^;]+)", message)
    assert [(n, cmd, paths.split()) for n, _, cmd, paths in groups] == [
        ("5", "iconv -f UTF-16LE -t UTF-8", [f"c/audio/{n}.txt" for n in names[:5]])], message
    assert _texts_once_converted(groups, audio, tmp_path) == sorted(
        [" ".join(t.split()) for t in texts.values()] + [expected[n] for n in names[5:]])

    # A Cyrillic one alone, and big-endian: the control character is UTF-16's
    (audio / f"{names[2]}.txt").write_bytes("привет".encode("utf-16-be"))
    with pytest.raises(AsrkitError, match=r"U\+0004 at byte 0, as UTF-16 text read as UTF-8 has\): it is UTF-16BE "
                                          r"without a byte-order mark .*iconv -f UTF-16BE -t UTF-8$"):
        make_data_dir(audio, tmp_path / "data", speaker_from_dir=True)
    # 8-bit text among them: its encoding is not known, and not said to be 'not UTF-16'
    (audio / f"{names[2]}.txt").write_bytes("привет".encode("koi8-r"))
    (audio / f"{names[3]}.txt").write_bytes("CAF\xc9".encode("latin-1"))
    with pytest.raises(AsrkitError) as e:
        make_data_dir(audio, tmp_path / "data", speaker_from_dir=True)
    assert "2 encoding unknown (find it with `file -i F`)" in str(e.value) and "not UTF-16" not in str(e.value)
    # One real control character, a terminal's colour escape: as it was
    (audio / f"{names[2]}.txt").write_text("hello \x1b[31mworld\n", encoding="utf-8")
    (audio / f"{names[3]}.txt").write_text("hello\n", encoding="utf-8")
    with pytest.raises(AsrkitError, match=r"the control character U\+001B .*\(a terminal escape or a damaged "
                                          r"transcript\) in the transcript of"):
        make_data_dir(audio, tmp_path / "data", speaker_from_dir=True)


def test_a_transcripts_file_in_utf16_without_a_byte_order_mark_is_named_as_utf16(an4_root, tmp_path):
    """A --transcripts file in UTF-16LE without a mark whose text is Cyrillic is valid UTF-8 byte
    for byte: its keys read as 'a\\x00n\\x00...', every line a transcript without audio and the
    folder 'no utterance has both audio and a non-empty transcript', UTF-16 never said."""
    expected = make_user_corpus(an4_root, tmp_path / "c", 4)
    prompts = tmp_path / "c/prompts.txt"
    prompts.write_bytes("".join(f"{name} привет\n" for name in sorted(expected)).encode("utf-16-le"))
    with pytest.raises(AsrkitError, match=rf"^{re.escape(str(prompts))}:1: not UTF-8 text \(the control character "
                                          r"U\+0000 at byte 1, .*: it is UTF-16LE without a byte-order mark.*"
                                          r"iconv -f UTF-16LE -t UTF-8$"):
        make_data_dir(tmp_path / "c/audio", tmp_path / "data", transcripts=prompts)


def test_bad_inputs_are_counted_skips_or_clear_errors(an4_root, tmp_path):
    make_user_corpus(an4_root, tmp_path / "c", 20)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    lines = prompts.read_text().splitlines()
    lines = [l for l in lines if not l.startswith("an253-fash-b ")]  # an audio file without its transcript
    lines.append("ghost-utt HELLO")  # a transcript without its audio
    lines = ["an254-fash-b" if l.startswith("an254-fash-b ") else l for l in lines]  # an empty transcript
    # A file name with spaces: kept (a tab ends its key in the transcript file), its id mapped.
    os.rename(audio / "an255-fash-b.wav", audio / "an255 fash b.wav")
    lines = ["an255 fash b\t" + l.split(" ", 1)[1] if l.startswith("an255-fash-b ") else l for l in lines]
    shutil.copy(audio / "an86-fbbh-b.wav", audio / "bad\nname.wav")  # a line break cannot go in wav.scp
    # A Latin-1 name (byte 0xe9): no UTF-8 table can hold it (it used to end in a traceback).
    shutil.copy(audio / "an86-fbbh-b.wav", os.path.join(os.fsencode(audio), b"caf\xe9.wav"))
    os.symlink("gone.wav", audio / "dangling.wav")  # its target is not there
    prompts.write_text("\n".join(lines) + "\n")

    with pytest.raises(AsrkitError, match=r"6 of 24 audio files and transcripts skipped \(reasons above\), more than "
                                          r"--max-skip-ratio 0.05"):
        make_data_dir(audio, tmp_path / "data", transcripts=prompts)
    assert not (tmp_path / "data").exists()  # nothing half-written

    report = make_data_dir(audio, tmp_path / "data", transcripts=prompts, max_skip_ratio=0.3)
    assert report.skipped == {NOT_UTF8_NAME: ["'caf\\udce9.wav'"], BROKEN_LINK: ["dangling.wav"], BAD_NAME: ["'bad\\nname.wav'"], NO_AUDIO: [f"ghost-utt ({prompts}:{len(lines)})"],
                              NO_TRANSCRIPT: ["an253-fash-b.wav"], EMPTY: ["an254-fash-b.wav"]}
    assert (report.num_audio, report.num_utts, report.mapped_ids) == (23, 18, 1)
    wav = DataDir(tmp_path / "data").read("wav.scp")
    assert wav["spk1-an255_fash_b"] == str(audio.resolve() / "an255 fash b.wav")
    assert read_wav_source(wav["spk1-an255_fash_b"], "x")[1] == 16000
    assert not any("an253" in u or "an254" in u or "bad" in u or "caf" in u for u in wav)
    assert _errors(tmp_path / "data") == []


def test_broken_audio_files_are_counted_skips_once(an4_root, tmp_path):
    """A 0-byte WAV, a text file named .wav, a truncated FLAC header and a WAV with a header but no
    samples are skipped for what they hold, each counted once (not also as 'transcript without
    audio'), and the good files still make the data dir."""
    import soundfile

    make_user_corpus(an4_root, tmp_path / "c", 12)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    lines = prompts.read_text().splitlines()
    (audio / "zero.wav").write_bytes(b"")
    (audio / "notes.wav").write_text("this is not audio\n")
    soundfile.write(audio / "cut.flac", soundfile.read(audio / "an251-fash-b.wav")[0], 16000)
    (audio / "cut.flac").write_bytes((audio / "cut.flac").read_bytes()[:30])  # the header cut short
    soundfile.write(audio / "silent.wav", [], 16000, subtype="PCM_16")
    lines += ["zero ONE", "notes TWO", "cut THREE", "silent FOUR"]
    prompts.write_text("\n".join(lines) + "\n")

    with pytest.raises(AsrkitError, match=r"4 of 16 audio files and transcripts skipped"):
        make_data_dir(audio, tmp_path / "data", transcripts=prompts)
    report = make_data_dir(audio, tmp_path / "data", transcripts=prompts, max_skip_ratio=0.3)
    assert report.skipped == {EMPTY_FILE: ["zero.wav"], NOT_AUDIO: ["cut.flac", "notes.wav"],
                              NO_SAMPLES: ["silent.wav"]}
    assert report.num_utts == 12
    assert _errors(tmp_path / "data") == []


def test_named_pipes_among_the_audio_are_skipped_as_such(an4_root, tmp_path):
    """A FIFO named x.wav was skipped as an 'empty (0-byte) audio file' (its size); one named
    x.m4a (read through sox) went into wav.scp, where sox waited on it for a writer and the
    feature job hung. Both are skipped, and counted, for what they are."""
    make_user_corpus(an4_root, tmp_path / "c", 12)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    os.mkfifo(audio / "pipe.wav")
    os.mkfifo(audio / "pipe2.m4a")
    prompts.write_text(prompts.read_text() + "pipe ONE\npipe2 TWO\n")
    report = make_data_dir(audio, tmp_path / "data", transcripts=prompts, extensions=["wav", "m4a"],
                           max_skip_ratio=0.3)
    assert report.skipped == {NOT_REGULAR: ["pipe.wav", "pipe2.m4a"]}
    assert report.num_utts == 12
    assert not any(u.endswith(("-pipe", "-pipe2")) for u in DataDir(tmp_path / "data").read("wav.scp"))


def test_errors_name_the_file_and_line(an4_root, tmp_path):
    make_user_corpus(an4_root, tmp_path / "c", 4)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    text = prompts.read_text()

    prompts.write_text(text + "an251-fash-b AGAIN\n")
    with pytest.raises(AsrkitError, match=r"prompts.txt:5: key 'an251-fash-b' appears twice \(first on line 1\)"):
        make_data_dir(audio, tmp_path / "d", transcripts=prompts)

    prompts.write_bytes(text.encode() + "an999-x-b caf\xe9\n".encode("latin-1"))  # an older corpus's é
    with pytest.raises(AsrkitError, match=r"prompts.txt:5: not UTF-8 text \(invalid continuation byte at byte \d+\); "
                                          r"if it is Latin-1 or Windows-1252 text, convert it, e.g. iconv -f "
                                          r"WINDOWS-1252 -t UTF-8$"):
        make_data_dir(audio, tmp_path / "d", transcripts=prompts)
    prompts.write_bytes(text.encode("utf-16"))  # Windows Notepad's "Unicode"
    with pytest.raises(AsrkitError, match=r"prompts.txt:1: not UTF-8 text \(.*\): it is UTF-16 \(a byte-order mark "
                                          r"FF FE or FE FF\); save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8$"):
        make_data_dir(audio, tmp_path / "d", transcripts=prompts)

    # The same name in two folders, keyed by the bare name: which one is meant?
    prompts.write_text(text)
    for sub in ("s1", "s2"):
        (audio / sub).mkdir()
        os.symlink(os.readlink(audio / "an251-fash-b.wav"), audio / sub / "an251-fash-b.wav")
    os.unlink(audio / "an251-fash-b.wav")
    with pytest.raises(AsrkitError, match=r"prompts.txt:1: 'an251-fash-b' matches 2 audio files \(s1/an251-fash-b.wav, "
                                          r"s2/an251-fash-b.wav\): use the path below .* as the key, e.g. "
                                          r"'s1/an251-fash-b'"):
        make_data_dir(audio, tmp_path / "d", transcripts=prompts)
    # Keyed by their paths (with or without the extension), both are taken, under two ids.
    prompts.write_text(text.replace("an251-fash-b ", "s1/an251-fash-b ") + "s2/an251-fash-b.wav NO\n")
    make_data_dir(audio, tmp_path / "d", transcripts=prompts, speaker="s")
    assert DataDir(tmp_path / "d").read("text")["s-s1-an251-fash-b"] == "YES"
    assert DataDir(tmp_path / "d").read("text")["s-s2-an251-fash-b"] == "NO"

    # Two names that map to the same id.
    (tmp_path / "e").mkdir()
    for name in ("a b.wav", "a_b.wav"):
        os.symlink(os.readlink(audio / "s1/an251-fash-b.wav"), tmp_path / "e" / name)
        (tmp_path / "e" / name).with_suffix(".txt").write_text("YES\n")
    with pytest.raises(AsrkitError, match=r"a b.wav and a_b.wav would both be utterance 'spk1-a_b'"):
        make_data_dir(tmp_path / "e", tmp_path / "d")

    with pytest.raises(AsrkitError, match=r"no audio files \(looked for \*.wav, \*.flac"):
        make_data_dir(tmp_path / "d", tmp_path / "d2")
    with pytest.raises(AsrkitError, match=r"none of its 5 audio files has a <name>.txt beside it"):
        make_data_dir(audio, tmp_path / "d2")
    with pytest.raises(AsrkitError, match=r"no such directory"):
        make_data_dir(tmp_path / "nope", tmp_path / "d2")
    with pytest.raises(AsrkitError, match=r"give one of --speaker"):
        make_data_dir(audio, tmp_path / "d2", speaker="a", speaker_from_dir=True)
    with pytest.raises(AsrkitError, match=r"not in a folder"):
        make_data_dir(audio, tmp_path / "d2", transcripts=prompts, speaker_from_dir=True)
    with pytest.raises(AsrkitError, match=r"needs a group"):
        make_data_dir(audio, tmp_path / "d2", speaker_regex="abc")


def test_formats_libsndfile_reads_are_plain_paths_without_sox(an4_root, tmp_path, monkeypatch):
    """Mono FLAC and OGG (and WAV at any rate) go into wav.scp as their paths, read in-process: a
    fresh machine with only tools/install.sh (no sox) makes a data dir of them."""
    import numpy as np
    import soundfile

    make_user_corpus(an4_root, tmp_path / "c", 2)
    audio = tmp_path / "c/audio"
    src = audio / "an251-fash-b.wav"
    samples, rate = soundfile.read(src, dtype="int16")
    soundfile.write(audio / "as flac.flac", samples, rate, subtype="PCM_16")
    soundfile.write(audio / "vorbis.ogg", samples, rate, format="OGG", subtype="VORBIS")
    soundfile.write(audio / "at8k.wav", samples[::2], 8000, subtype="PCM_16")
    prompts = tmp_path / "c/prompts.txt"
    prompts.write_text(prompts.read_text() + "as flac.flac\tYES\nvorbis YES\nat8k YES\n")
    monkeypatch.setattr("shutil.which", lambda name, *a, **k: None)  # no sox anywhere
    make_data_dir(audio, tmp_path / "d", transcripts=prompts, speaker="s", extensions=("wav", "flac", "ogg"))
    wav = DataDir(tmp_path / "d").read("wav.scp")
    assert wav["s-as_flac"] == str(audio / "as flac.flac") and wav["s-vorbis"] == str(audio / "vorbis.ogg")
    a, _ = read_wav_source(wav["s-as_flac"], "x")
    b, _ = read_wav_source(str(src), "y")
    assert (a == b).all()  # FLAC is lossless, and read at int16 scale as the WAV is
    c, r = read_wav_source(wav["s-vorbis"], "z")
    assert r == rate and abs(len(c) - len(b)) < 2000 and np.corrcoef(c[:len(b)], b[:len(c)])[0, 1] > 0.9
    assert read_wav_source(wav["s-at8k"], "x")[1] == 8000  # as it is: compute-fbank --resample converts


def test_several_channels_other_formats_and_rates_go_through_sox(an4_root, tmp_path):
    require_program("sox")
    import subprocess

    import numpy as np

    make_user_corpus(an4_root, tmp_path / "c", 2)
    audio = tmp_path / "c/audio"
    src = audio / "an251-fash-b.wav"
    subprocess.run(["sox", str(src), str(audio / "stereo.wav"), "remix", "1", "1"], check=True)
    subprocess.run(["sox", str(src), str(audio / "native.sox")], check=True)  # sox's own format
    prompts = tmp_path / "c/prompts.txt"
    prompts.write_text(prompts.read_text() + "stereo YES\nnative YES\n")
    make_data_dir(audio, tmp_path / "d", transcripts=prompts, speaker="s", extensions=("wav", "sox"))
    wav = DataDir(tmp_path / "d").read("wav.scp")
    b, _ = read_wav_source(str(src), "y")
    for utt in ("s-stereo", "s-native"):
        assert wav[utt].startswith("sox ") and wav[utt].endswith(" -t wav -c 1 -b 16 - |"), wav[utt]
        a, _ = read_wav_source(wav[utt], "x")
        # the same samples up to sox's dither (it dithers when it writes 16 bits from the 32 of
        # a .sox file or of its channel mixing)
        assert len(a) == len(b) and np.abs(a - b).max() <= 2, utt
    assert wav["s-an251-fash-b"] == str(src)
    make_data_dir(audio, tmp_path / "d16", transcripts=prompts, speaker="s", sample_rate=8000, extensions=("wav", "sox"))
    wav = DataDir(tmp_path / "d16").read("wav.scp")
    assert all(v.endswith(" -t wav -r 8000 -c 1 -b 16 - |") for v in wav.values())
    assert {read_wav_source(v, "x")[1] for v in wav.values()} == {8000}


def test_channel_takes_one_channel_of_multi_channel_files(an4_root, tmp_path):
    """A stereo corpus's speaker on one channel: without --channel the channels were averaged (the
    other side mixed in) and `--fbank-args "--channel 1"` then refused the mono pipes; --channel N
    takes channel N of each multi-channel file, mono files as they are, a file without it counted."""
    require_program("sox")
    import numpy as np
    import soundfile

    make_user_corpus(an4_root, tmp_path / "c", 3)
    audio = tmp_path / "c/audio"
    names = sorted(p.stem for p in audio.glob("*.wav"))
    a, rate = soundfile.read(audio / f"{names[0]}.wav", dtype="int16")
    b, _ = soundfile.read(audio / f"{names[1]}.wav", dtype="int16")
    b = np.resize(b, len(a))
    soundfile.write(audio / "two.wav", np.stack([b, a], 1), rate)  # the speaker on channel 1 (0-based)
    soundfile.write(audio / "three.wav", np.stack([b, a, b], 1), rate)
    prompts = tmp_path / "c/prompts.txt"
    prompts.write_text(prompts.read_text() + "two YES\nthree YES\n")
    report = make_data_dir(audio, tmp_path / "d", transcripts=prompts, speaker="s", channel=1)
    wav = DataDir(tmp_path / "d").read("wav.scp")
    assert wav["s-two"].endswith(" -t wav -b 16 - remix 2 |"), wav["s-two"]
    assert np.array_equal(read_wav_source(wav["s-two"], "x")[0], a.astype(np.float32))
    assert wav[f"s-{names[0]}"] == str(audio / f"{names[0]}.wav")  # mono: as it is
    assert report.skipped == {} and len(wav) == 5
    report = make_data_dir(audio, tmp_path / "d2", transcripts=prompts, speaker="s", channel=2, max_skip_ratio=0.5)
    assert report.skipped == {"file with fewer channels than --channel asks for": ["two.wav"]}
    assert DataDir(tmp_path / "d2").read("wav.scp")["s-three"].endswith(" remix 3 |")


def test_without_sox_what_needs_it_is_named(an4_root, tmp_path, monkeypatch):
    import numpy as np
    import soundfile

    make_user_corpus(an4_root, tmp_path / "c", 2)
    audio = tmp_path / "c/audio"
    samples, rate = soundfile.read(audio / "an251-fash-b.wav", dtype="int16")
    prompts = tmp_path / "c/prompts.txt"
    monkeypatch.setattr("shutil.which", lambda name, *a, **k: None)
    with pytest.raises(AsrkitError, match=r"sox not found on PATH: --sample-rate 8000 converts every file"):
        make_data_dir(audio, tmp_path / "d1", transcripts=prompts, speaker="s", sample_rate=8000)
    # WAVs need no sox for their rate: the in-process resampler is named, not a conversion to mono WAV
    with pytest.raises(AsrkitError, match=r"\(install it, e.g. apt-get install sox, or leave --sample-rate out: "
                                          r"asrkit-compute-fbank --resample converts the rate in-process "):
        make_data_dir(audio, tmp_path / "d1", transcripts=prompts, speaker="s", sample_rate=8000)
    (audio / "odd.sox").write_bytes(b"not read here")
    prompts.write_text(prompts.read_text() + "odd YES\n")
    with pytest.raises(AsrkitError, match=r"1 file\(s\) are in a format libsndfile does not read \(first: odd.sox\)"):
        make_data_dir(audio, tmp_path / "d2", transcripts=prompts, speaker="s", extensions=("wav", "sox"))
    # A stereo file libsndfile reads needs no sox: its mono copy is written in the data dir (it was
    # "1 file(s) have several channels (first: two.flac), averaged ... through 'sox ... |' pipes";
    # tests/data/test_make_data_dir_without_sox.py)
    soundfile.write(audio / "two.flac", np.stack([samples, samples], 1), rate)
    prompts.write_text(prompts.read_text() + "two YES\n")
    (audio / "odd.sox").unlink()
    make_data_dir(audio, tmp_path / "d3", transcripts=prompts, speaker="s", max_skip_ratio=0.5)
    wav = DataDir(tmp_path / "d3").read("wav.scp")
    assert wav["s-two"] == str((tmp_path / "d3/mono_wav/s-two.wav").absolute())
    assert np.array_equal(read_wav_source(wav["s-two"], "x", channel=-1)[0], samples)


def test_safe_id():
    assert safe_id("a b\tc/d'e") == "a_b_c_d_e"
    assert safe_id("ünïcode-1.2+x") == "ünïcode-1.2+x"


def test_text_normalisation(an4_root, tmp_path):
    assert drop_punctuation("Author of \"The Danger Trail\", Philip Steels, etc.").split() == \
        ["Author", "of", "The", "Danger", "Trail", "Philip", "Steels", "etc"]
    assert " ".join(drop_punctuation("don't 'quote' l\u2019eau well-known -- ¿qué?").split()) == \
        "don't quote l'eau well known qué"
    make_user_corpus(an4_root, tmp_path / "c", 3)
    prompts = tmp_path / "c/prompts.txt"
    names = [l.split()[0] for l in prompts.read_text().splitlines()]
    prompts.write_text(f"{names[0]} Go, \u201cnow\u201d!\n{names[1]} ... !\n{names[2]} it's   fine\n")
    report = make_data_dir(tmp_path / "c/audio", tmp_path / "d", transcripts=prompts, speaker="s", case="upper",
                           punctuation="drop", max_skip_ratio=0.5)
    assert DataDir(tmp_path / "d").read("text") == {f"s-{names[0]}": "GO NOW", f"s-{names[2]}": "IT'S FINE"}
    assert report.skipped == {EMPTY: [f"{names[1]}.wav"]}
    make_data_dir(tmp_path / "c/audio", tmp_path / "k", transcripts=prompts, speaker="s", max_skip_ratio=0.5)
    assert DataDir(tmp_path / "k").read("text")[f"s-{names[0]}"] == "Go, \u201cnow\u201d!"
    with pytest.raises(AsrkitError, match=r"--punctuation 'strip': one of keep, drop"):
        make_data_dir(tmp_path / "c/audio", tmp_path / "x", transcripts=prompts, punctuation="strip")
    # Kaldi's marker words keep their brackets ("[noise]" was the word NOISE) and take --case as any
    # word does, but <unk> stays sentencepiece's unknown symbol ("<UNK>" was a word of its own).
    prompts.write_text(f"{names[0]} [noise] go <unk>, now!\n{names[1]} <sil> [Laughter] ok.\n"
                       f"{names[2]} fine[noise] <no>]\n")
    make_data_dir(tmp_path / "c/audio", tmp_path / "m", transcripts=prompts, speaker="s", case="upper",
                  punctuation="drop")
    assert DataDir(tmp_path / "m").read("text") == {
        f"s-{names[0]}": "[NOISE] GO <unk> NOW", f"s-{names[1]}": "<SIL> [LAUGHTER] OK",
        f"s-{names[2]}": "FINE NOISE <NO>"}  # (not words of their own: text as any other)
    prompts.write_text(f"{names[0]} HELLO <UNK>, [NOISE] WORLD!\n{names[1]} a\n{names[2]} b\n")
    make_data_dir(tmp_path / "c/audio", tmp_path / "ml", transcripts=prompts, speaker="s", case="lower")
    assert DataDir(tmp_path / "ml").read("text")[f"s-{names[0]}"] == "hello <unk>, [noise] world!"
    make_data_dir(tmp_path / "c/audio", tmp_path / "mk", transcripts=prompts, speaker="s")  # --case keep
    assert DataDir(tmp_path / "mk").read("text")[f"s-{names[0]}"] == "HELLO <UNK>, [NOISE] WORLD!"


def test_transcript_lines_end_only_at_line_breaks(an4_root, tmp_path):
    """U+2028, U+0085 and a form feed inside a transcript are white space, not line ends: read as
    line ends they cut the transcript short and made its rest a bogus 'transcript without audio'
    (counted, but the utterance kept half its words and every later line number was off). A BOM
    at the start of a later line (files each saved with one, then concatenated) is dropped, and a
    transcript of nothing but invisible characters is empty."""
    make_user_corpus(an4_root, tmp_path / "c", 6)
    prompts = tmp_path / "c/prompts.txt"
    names = [l.split()[0] for l in prompts.read_text().splitlines()]
    body = (f"{names[0]} ALPHA\u2028BETA\r\n{names[1]} GAMMA\x85DELTA\r\n{names[2]} EPS\x0cZETA\r\n"
            f"\ufeff{names[3]} ETA\r\n{names[4]} \u200b\u200e\r\nghost THETA\r\n{names[5]} IOTA\r\n")
    prompts.write_bytes(b"\xef\xbb\xbf" + body.encode())
    report = make_data_dir(tmp_path / "c/audio", tmp_path / "d", transcripts=prompts, speaker="s",
                           max_skip_ratio=0.5)
    text = DataDir(tmp_path / "d").read("text")
    assert text == {f"s-{names[0]}": "ALPHA BETA", f"s-{names[1]}": "GAMMA DELTA", f"s-{names[2]}": "EPS ZETA",
                    f"s-{names[3]}": "ETA", f"s-{names[5]}": "IOTA"}
    assert report.skipped == {NO_AUDIO: [f"ghost ({prompts}:6)"], EMPTY: [f"{names[4]}.wav"]}


def test_the_same_name_in_two_formats_is_named_as_such(an4_root, tmp_path):
    """a.wav and a.flac: no key tells them apart, and they would be one id. The advice used to be
    to key by the path below the folder ('e.g. 'a'': the very key given) or that characters had
    been replaced by _ (none were)."""
    import soundfile

    make_user_corpus(an4_root, tmp_path / "c", 2)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    name = prompts.read_text().split()[0]
    samples, rate = soundfile.read(audio / f"{name}.wav", dtype="int16")
    soundfile.write(audio / f"{name}.flac", samples, rate)
    with pytest.raises(AsrkitError, match=rf"prompts.txt:1: '{name}' matches {name}.flac, {name}.wav: the same name "
                                          r"in two formats \(the same recording twice\?\): keep one, or take one "
                                          r"format with --audio-ext$"):
        make_data_dir(audio, tmp_path / "d", transcripts=prompts)
    (audio / f"{name}.txt").write_text("YES\n")
    with pytest.raises(AsrkitError, match=rf"{name}.flac and {name}.wav would both be utterance 'spk1-{name}': the "
                                          r"same name in two formats"):
        make_data_dir(audio, tmp_path / "d")
    assert make_data_dir(audio, tmp_path / "d", transcripts=prompts, extensions=("wav",)).num_utts == 2


def test_a_truncated_wav_is_a_counted_skip(an4_root, tmp_path):
    """A WAV cut short: libsndfile's header reports the shorter audio, so it used to go into wav.scp.
    Read as a plain path, compute-fbank refuses it later; but a speed-perturbed copy reads it through
    'sox ... speed F |', whose stream states no length, and its fragment (one frame) trained with
    the whole transcript. It is skipped here, counted under its own reason."""
    from asrkit.data.make_report import TRUNCATED

    make_user_corpus(an4_root, tmp_path / "c", 4)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    name = prompts.read_text().split()[0]
    data = (audio / f"{name}.wav").read_bytes()
    (audio / f"{name}.wav").unlink()
    (audio / f"{name}.wav").write_bytes(data[:1000])
    report = make_data_dir(audio, tmp_path / "d", transcripts=prompts, max_skip_ratio=0.5)
    assert report.skipped == {TRUNCATED: [f"{name}.wav"]} and report.num_utts == 3
    assert f"spk1-{name}" not in DataDir(tmp_path / "d").read("wav.scp")


def test_two_speakers_are_never_merged_into_one_id(an4_root, tmp_path):
    """Folders 'alice smith' and 'alice_smith' are two speakers; both became speaker 'alice_smith',
    silently (their utterance ids differ, so nothing else said so)."""
    make_user_corpus(an4_root, tmp_path / "c", 20, layout="beside")
    audio = tmp_path / "c/audio"
    first, second = sorted(audio.iterdir())[:2]
    first.rename(audio / "alice smith")
    second.rename(audio / "alice_smith")
    with pytest.raises(AsrkitError, match=r"speakers 'alice smith' and 'alice_smith' would both be speaker "
                                          r"'alice_smith' \(ids replace .*\): rename one"):
        make_data_dir(audio, tmp_path / "d", speaker_from_dir=True)
    assert not (tmp_path / "d").exists()
    (audio / "alice_smith").rename(audio / "bob")
    make_data_dir(audio, tmp_path / "d", speaker_from_dir=True)
    assert set(DataDir(tmp_path / "d").read("utt2spk").values()) == {"alice_smith", "bob"}


def test_speakers_whose_ids_sort_apart_from_their_utterances_are_refused(an4_root, tmp_path):
    """Folders 'a' and 'a-b' (--speaker-from-dir) gave utterances 'a-b-y' and 'a-x': sorted by
    utterance, speaker 'a-b' came before 'a', so utt2spk sorted by speaker was another order, and
    Kaldi's validate_data_dir.sh refused the data dir ('utt2spk is not in sorted order when sorted
    first on speaker-id') that make-data-dir had written without a word (asrkit-validate-data-dir
    warned). Refused now, naming both speakers; renamed, the dir validates without a warning."""
    make_user_corpus(an4_root, tmp_path / "c", 2, layout="beside")
    audio = tmp_path / "c/audio"
    (first, second) = sorted(audio.rglob("*.wav"))[:2]
    for folder, wav, stem in (("a", first, "x"), ("a-b", second, "y")):
        (audio / folder).mkdir()
        wav.rename(audio / folder / f"{stem}.wav")
        wav.with_suffix(".txt").rename(audio / folder / f"{stem}.txt")
    for old in {first.parent, second.parent}:
        old.rmdir()
    with pytest.raises(AsrkitError, match=r"speakers 'a-b' and 'a' clash: utterance 'a-x' \('a'\) sorts after "
                                          r"'a-b-y' \('a-b'\), their speakers the other way, an order Kaldi's "
                                          r"validate_data_dir.sh refuses .*: rename one of them \(e.g. 'a-b' as 'a_b'\)"):
        make_data_dir(audio, tmp_path / "d", speaker_from_dir=True)
    assert not (tmp_path / "d").exists()
    (audio / "a-b").rename(audio / "a_b")
    make_data_dir(audio, tmp_path / "d", speaker_from_dir=True)
    assert DataDir(tmp_path / "d").read("utt2spk") == {"a-x": "a", "a_b-y": "a_b"}
    assert [str(p) for p in validate_data_dir(tmp_path / "d")] == []


@pytest.mark.parametrize("option,name,what", [("speaker", "", "speaker name"), ("speaker", " ", "speaker name"),
                                              ("speaker_regex", "", "pattern")])
def test_an_empty_speaker_name_is_refused(an4_root, tmp_path, option, name, what):
    """--speaker '' ("$spk" left empty) was taken as --speaker not given, every file spk1's (beside
    --speaker-from-dir too), and --speaker ' ' made a speaker '_'; --speaker-regex '' alike."""
    make_user_corpus(an4_root, tmp_path / "c", 3)
    for also in ({}, {"speaker_from_dir": True}):
        with pytest.raises(AsrkitError, match=rf"^--{option.replace('_', '-')} '{name}': no {what} \(a shell "
                                              rf"variable left empty\?\)$"):
            make_data_dir(tmp_path / "c/audio", tmp_path / "d", transcripts=tmp_path / "c/prompts.txt",
                          **{option: name}, **also)
    assert not (tmp_path / "d").exists()


def test_a_write_failing_half_way_leaves_the_earlier_data_dir_whole(an4_root, tmp_path, monkeypatch):
    """The four tables are written together: a disk filling up after wav.scp used to leave the new
    wav.scp beside the text, utt2spk and spk2utt of an earlier run into the same data dir."""
    import errno
    from pathlib import Path

    make_user_corpus(an4_root, tmp_path / "c", 6)
    prompts = tmp_path / "c/prompts.txt"
    make_data_dir(tmp_path / "c/audio", tmp_path / "d", transcripts=prompts, speaker="old")
    before = {p.name: p.read_bytes() for p in (tmp_path / "d").iterdir()}
    import asrkit.utils.fileio as fileio

    real = fileio.tmp_path_for

    def full_at_spk2utt(path):  # the disk is full when the last table is written
        if Path(path).name == "spk2utt":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path)

    monkeypatch.setattr(fileio, "tmp_path_for", full_at_spk2utt)
    with pytest.raises(OSError) as e:
        make_data_dir(tmp_path / "c/audio", tmp_path / "d", transcripts=prompts, speaker="new")
    assert e.value.errno == errno.ENOSPC
    assert {p.name: p.read_bytes() for p in (tmp_path / "d").iterdir()} == before  # no temporary file either


def test_names_match_whatever_their_unicode_form(an4_root, tmp_path):
    """A file name written on macOS is decomposed ('e' + combining accent), the same name typed in
    the transcript file composed ('é'): they look identical, yet did not match, and the log named
    both as skipped ('audio without a transcript: café.wav', 'transcript without audio: café')."""
    make_user_corpus(an4_root, tmp_path / "c", 3)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    name = prompts.read_text().split()[0]
    os.rename(audio / f"{name}.wav", audio / "cafe\u0301.wav")
    prompts.write_text(prompts.read_text().replace(name, "caf\u00e9", 1))
    report = make_data_dir(audio, tmp_path / "d", transcripts=prompts, speaker="s")
    assert report.skipped == {} and report.num_utts == 3
    wav = DataDir(tmp_path / "d").read("wav.scp")
    assert wav["s-caf\u00e9"] == str(audio.resolve() / "cafe\u0301.wav")  # the id composed, the path as it is


def test_a_tab_inside_a_transcript_of_a_space_keyed_line(an4_root, tmp_path):
    """On a line with a tab the key ends at the tab (names with spaces); 'a0001 YES<TAB>NO' then
    gave the key 'a0001 YES', which names no file: the transcript and its audio were both skipped.
    When that key names nothing but its first word does, the space ended the key."""
    make_user_corpus(an4_root, tmp_path / "c", 3)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    names = [l.split()[0] for l in prompts.read_text().splitlines()]
    os.rename(audio / f"{names[2]}.wav", audio / "my take.wav")
    prompts.write_text(f"{names[0]} YES\tNO  GO\n{names[1]}\tSTOP\nmy take\tA\tB\n")
    report = make_data_dir(audio, tmp_path / "d", transcripts=prompts, speaker="s")
    assert report.skipped == {}
    assert DataDir(tmp_path / "d").read("text") == {f"s-{names[0]}": "YES NO GO", f"s-{names[1]}": "STOP",
                                                    "s-my_take": "A B"}


def test_keys_as_find_prints_them(an4_root, tmp_path):
    """A transcript file made from 'find' output keys its files './spk/a0001.wav' or by absolute
    path; neither matched, and every line and file was skipped."""
    make_user_corpus(an4_root, tmp_path / "c", 3)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    lines = prompts.read_text().splitlines()
    lines[0] = "./" + lines[0].replace(" ", ".wav ", 1)
    if not re.search(r"\s", str(audio)):  # a key is the line's first word: no absolute one under a TMPDIR with a space
        lines[1] = f"{audio}/{lines[1]}"
    prompts.write_text("\n".join(lines) + "\n")
    report = make_data_dir(audio, tmp_path / "d", transcripts=prompts, speaker="s")
    assert report.skipped == {} and report.num_utts == 3


def test_macos_metadata_files_are_left_out(an4_root, tmp_path, caplog):
    """A corpus unzipped from a Mac: __MACOSX/ holds a '._<name>.wav' (Finder attributes, a few
    hundred bytes of AppleDouble) for every file, and copies to FAT disks leave them beside the
    audio. Counted as unreadable audio, four of them failed a 4-file corpus on the skip limit."""
    make_user_corpus(an4_root, tmp_path / "c", 4)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(200)
    (audio / "__MACOSX").mkdir()
    for wav in sorted(audio.glob("*.wav")):
        (audio / "__MACOSX" / f"._{wav.name}").write_bytes(apple_double)
        (audio / f"._{wav.name}").write_bytes(apple_double)
    with caplog.at_level("INFO"):
        report = make_data_dir(audio, tmp_path / "d", transcripts=prompts)
    assert (report.num_audio, report.num_utts, report.skipped) == (4, 4, {})
    assert "left out 8 macOS metadata file(s)" in caplog.text
    assert not any("MACOSX" in v or "/._" in v for v in DataDir(tmp_path / "d").read("wav.scp").values())


def test_hidden_files_and_folders_are_left_out_and_counted(an4_root, tmp_path, caplog):
    """Hidden folders were read for audio: netatalk's .AppleDouble/<name>.wav (Finder attributes
    under the audio file's own name) were skipped as not audio, a .git/ or .cache/ copy of a
    recording became an utterance; while a file named '.wav' (no suffix to Python) was left out
    without a word. Every name starting with '.' is left out now, counted in one info line."""
    make_user_corpus(an4_root, tmp_path / "c", 3, layout="beside")
    audio = tmp_path / "c/audio"
    wavs = sorted(audio.glob("*/*.wav"))
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(200)
    (wavs[0].parent / ".AppleDouble").mkdir()
    (wavs[0].parent / ".AppleDouble" / wavs[0].name).write_bytes(apple_double)
    (audio / ".git" / "lfs").mkdir(parents=True)
    shutil.copy(wavs[1], audio / ".git" / "lfs" / "copy.wav")
    (audio / ".git" / "lfs" / "copy.txt").write_text("A COPY\n")
    shutil.copy(wavs[2], audio / ".wav")
    (audio / ".wav.txt").write_text("HIDDEN\n")
    (audio / ".DS_Store").write_bytes(bytes(8))
    with caplog.at_level("INFO"):
        report = make_data_dir(audio, tmp_path / "d", speaker_from_dir=True)
    assert (report.num_audio, report.num_utts, report.skipped) == (3, 3, {})
    # (.git/, .wav, .wav.txt and <spk>/.AppleDouble/; not .DS_Store, neither audio nor transcript)
    assert ("left out 4 hidden folder(s) and audio or transcript file(s) (a name starting with '.'): "
            ".git/, .wav, .wav.txt, ...") in caplog.text, caplog.text
    assert not any("/." in v for v in DataDir(tmp_path / "d").read("wav.scp").values())


def test_a_folder_link_back_up_is_read_once(an4_root, tmp_path, caplog):
    """`audio/loop -> .` was followed 40 levels deep (every file found 40 times, until ELOOP) and
    the corpus failed blaming 1600 skipped files; a second link to one folder read it twice."""
    make_user_corpus(an4_root, tmp_path / "c", 4)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    os.symlink(".", audio / "loop")
    (audio / "sub").mkdir()
    os.symlink("..", audio / "sub" / "up")
    with caplog.at_level("WARNING"):
        report = make_data_dir(audio, tmp_path / "d", transcripts=prompts)
    assert (report.num_audio, report.num_utts, report.skipped) == (4, 4, {})
    assert "left out 2 folder link(s) leading to a folder read already (a loop, or a second way to one folder): " \
           "loop, sub/up" in caplog.text
    assert _errors(tmp_path / "d") == []


def test_a_float16_wav_is_a_skip_of_its_own_reason(an4_root, tmp_path):
    """A 16-bit float WAV is well formed, in an encoding libsndfile does not decode: it was counted
    as 'not readable audio (bad or truncated header)', which sent the user looking for damage."""
    import struct

    import soundfile

    from asrkit.data.make_report import UNSUPPORTED

    make_user_corpus(an4_root, tmp_path / "c", 4)
    audio, prompts = tmp_path / "c/audio", tmp_path / "c/prompts.txt"
    name = prompts.read_text().split()[0]
    samples, rate = soundfile.read(audio / f"{name}.wav", dtype="float32")
    data = samples.astype("<f2").tobytes()
    (audio / f"{name}.wav").unlink()  # a link into the corpus: written through, it would damage the corpus file
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 3, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + fmt + b"data" + struct.pack("<I", len(data)) + data
    (audio / f"{name}.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    report = make_data_dir(audio, tmp_path / "d", transcripts=prompts, max_skip_ratio=0.5)
    assert report.skipped == {UNSUPPORTED: [f"{name}.wav"]} and report.num_utts == 3
    assert "16-bit float WAV" in UNSUPPORTED


def test_transcripts_from_stdin(an4_root, tmp_path):
    """--transcripts - is stdin, as Kaldi's '-' is wherever a table is read (it was "-: cannot read
    the transcripts: No such file or directory"); empty stdin is named as such, and stdin that is
    a terminal is refused rather than waited on."""
    import subprocess

    from cli_checks import error_line, run

    make_user_corpus(an4_root, tmp_path / "c", 4)
    prompts = (tmp_path / "c/prompts.txt").read_bytes()
    args = ["make-data-dir", "--speaker", "mine", tmp_path / "c/audio"]
    assert run([*args, "--transcripts", tmp_path / "c/prompts.txt", tmp_path / "by_path"]).returncode == 0
    piped = run([*args, "--transcripts", "-", tmp_path / "dash"], input=prompts)
    assert piped.returncode == 0, piped.stderr.decode()
    for table in ("text", "utt2spk", "wav.scp"):
        assert (tmp_path / "dash" / table).read_bytes() == (tmp_path / "by_path" / table).read_bytes()
    with open(tmp_path / "c/prompts.txt", "rb") as f:  # redirected from the file, as /dev/stdin
        assert run([*args, "--transcripts", "/dev/stdin", tmp_path / "redirected"], stdin=f).returncode == 0
    assert (tmp_path / "redirected/text").read_bytes() == (tmp_path / "by_path/text").read_bytes()
    empty = error_line(run([*args, "--transcripts", "-", tmp_path / "none"], stdin=subprocess.DEVNULL))
    assert "/dev/stdin: no data on stdin" in empty
    with a_terminal() as terminal:
        tty = error_line(run([*args, "--transcripts", "-", tmp_path / "none"], stdin=terminal))
    assert "/dev/stdin: stdin is a terminal, not a text file" in tty
    assert not (tmp_path / "none").exists()
