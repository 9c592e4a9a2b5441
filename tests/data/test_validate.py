"""asrkit-validate-data-dir on a real AN4 data dir: clean passes, each kind of damage is named file:line."""
from __future__ import annotations

import re
import shlex

import pytest

from asrkit.data.validate import validate_data_dir
from cli_checks import run_asrkit_in_process


def errors(d, **kw):
    return [str(p) for p in validate_data_dir(d, **kw) if p.is_error]


def lines(path):
    return path.read_text().splitlines(keepends=True)


def write_ark(ark, utts, rows=3, **kw):
    """A real ark of a small matrix per utterance (validation reads the arks' sizes and headers):
    utt -> its feats.scp value '<ark>:<offset>'. ``kw`` as kaldiio.save_ark's (compression, text)."""
    import kaldiio
    import numpy as np

    scp = ark.with_name(ark.name + ".scp")
    kaldiio.save_ark(str(ark), {u: np.full((rows, 4), i, dtype=np.float32) for i, u in enumerate(utts)},
                     scp=str(scp), **kw)
    return dict(line.split(None, 1) for line in scp.read_text().splitlines())


def test_clean_an4_dir_is_valid(an4_clean):
    assert validate_data_dir(an4_clean) == []


def test_unsorted_scp_named_with_line(an4_dir):
    wav = lines(an4_dir / "wav.scp")
    wav[4], wav[5] = wav[5], wav[4]
    (an4_dir / "wav.scp").write_text("".join(wav))
    errs = errors(an4_dir)
    assert len(errs) == 1
    assert errs[0].startswith(f"{an4_dir}/wav.scp:6: not sorted")


def test_unsorted_file_reported_briefly(an4_dir):
    # A reverse-sorted file: the first lines out of order, then a count, not 129 lines.
    (an4_dir / "text").write_text("".join(reversed(lines(an4_dir / "text"))))
    errs = errors(an4_dir)
    assert errs[0].startswith(f"{an4_dir}/text:2: not sorted")
    assert errs[5] == f"{an4_dir}/text: 124 more lines out of order (sort with LC_ALL=C sort)"
    assert len(errs) == 6


def test_duplicate_id(an4_dir):
    text = lines(an4_dir / "text")
    text.insert(3, text[2])
    (an4_dir / "text").write_text("".join(text))
    assert errors(an4_dir) == [f"{an4_dir}/text:4: duplicate id 'fcaw-an408-b' (first on line 3)"]


def test_utt_missing_from_text(an4_dir):
    text = lines(an4_dir / "text")
    del text[6]
    (an4_dir / "text").write_text("".join(text))
    assert errors(an4_dir) == [f"{an4_dir}/utt2spk:7: utterance 'fcaw-cen2-b' has no entry in {an4_dir}/text"]
    assert errors(an4_dir, no_text=True) == []


def test_missing_wav_entry_and_missing_wav_file(an4_dir):
    wav = lines(an4_dir / "wav.scp")
    del wav[0]
    wav[1] = wav[1].split()[0] + " /nonexistent/x.wav\n"
    wav[2] = wav[2].split()[0] + " /nonexistent/my recordings/y.wav\n"      # a path with a space
    wav[3] = wav[3].split()[0] + " cat /nonexistent/z.wav |\n"              # a pipe is not checked
    ark = an4_dir / "wav.ark"
    ark.write_bytes(b"x")
    wav[4] = wav[4].split()[0] + f" {ark}:12\n"          # Kaldi's wav-in-ark: asrkit's reader does not read it
    (an4_dir / "wav.scp").write_text("".join(wav))
    errs = errors(an4_dir)
    assert f"{an4_dir}/utt2spk:1: utterance 'fcaw-an406-b' has no entry in {an4_dir}/wav.scp" in errs
    assert f"{an4_dir}/wav.scp:2: audio file of 'fcaw-an408-b' does not exist: /nonexistent/x.wav" in errs
    assert f"{an4_dir}/wav.scp:3: audio file of 'fcaw-an409-b' does not exist: /nonexistent/my recordings/y.wav" in errs
    assert f"{an4_dir}/wav.scp:5: audio file of 'fcaw-cen1-b' does not exist: {ark}:12 (Kaldi's wav-in-ark " \
        "offset form, which asrkit does not read: give the audio file, or a command ending in '|')" in errs
    assert len(errs) == 4


def test_a_missing_audio_path_of_megabytes_is_quoted_cut_short(an4_dir):
    """A damaged wav.scp line of 2 MB was quoted whole in 'audio file of ... does not exist: ...':
    a 2 MB error line (the readers cut such a value: asrkit.utils.errors.shown_name)."""
    wav = lines(an4_dir / "wav.scp")
    long_path = "/nonexistent/" + "x" * 2_000_000 + ".wav"
    wav[1] = wav[1].split()[0] + f" {long_path}\n"
    (an4_dir / "wav.scp").write_text("".join(wav))
    assert errors(an4_dir) == [f"{an4_dir}/wav.scp:2: audio file of 'fcaw-an407-b' does not exist: "
                               f"{long_path[:200]}... ({len(long_path)} characters)"]


def test_spk2utt_inconsistent(an4_dir):
    s2u = lines(an4_dir / "spk2utt")
    s2u[0] = s2u[0].replace(" fcaw-an407-b", "")
    s2u[1] = s2u[1].rstrip("\n") + " fcaw-an407-b\n"
    (an4_dir / "spk2utt").write_text("".join(s2u))
    errs = errors(an4_dir)
    assert any(e.startswith(f"{an4_dir}/spk2utt:2: utterance 'fcaw-an407-b' is under speaker 'fjlp' here but 'fcaw'")
               for e in errs), errs


def test_all_problems_listed_not_just_first(an4_dir):
    (an4_dir / "text").write_text("".join(lines(an4_dir / "text")[1:]))      # utt 1 has no text
    u2s = lines(an4_dir / "utt2spk")
    u2s.append(u2s[-1])                                                       # duplicate at the end
    (an4_dir / "utt2spk").write_text("".join(u2s))
    (an4_dir / "feats.scp").write_text("a b:1\n")                            # feats for an unknown utt
    errs = errors(an4_dir)
    assert len(errs) >= 3 + 129  # 129 utterances lack feats; the bad feats line itself
    assert sorted(errors(an4_dir, no_feats=True)) == [
        f"{an4_dir}/utt2spk:131: duplicate id 'mmxg-cen8-b' (first on line 130)",
        f"{an4_dir}/utt2spk:1: utterance 'fcaw-an406-b' has no entry in {an4_dir}/text",
    ]


def test_feats_and_utt2num_frames(an4_dir):
    utts = [l.split()[0] for l in lines(an4_dir / "utt2spk")]
    at = write_ark(an4_dir / "feats.ark", utts)
    (an4_dir / "feats.scp").write_text("".join(f"{u} {at[u]}\n" for u in utts))
    (an4_dir / "utt2num_frames").write_text("".join(f"{u} {100 if i != 3 else 0}\n" for i, u in enumerate(utts[:-1])))
    errs = errors(an4_dir)
    assert f"{an4_dir}/utt2num_frames:4: number of frames must be a positive integer, got '0'" in errs
    assert f"{an4_dir}/feats.scp:130: utterance '{utts[-1]}' has no entry in {an4_dir}/utt2num_frames" in errs
    assert len(errs) == 2


def test_utt2dur(an4_dir):
    utts = [l.split()[0] for l in lines(an4_dir / "utt2spk")]
    (an4_dir / "utt2dur").write_text("".join(f"{u} {'2.5' if i != 7 else 'x'}\n" for i, u in enumerate(utts[1:])))
    assert sorted(errors(an4_dir)) == [
        f"{an4_dir}/utt2dur:8: duration must be a positive number of seconds, got 'x'",
        f"{an4_dir}/utt2spk:1: utterance '{utts[0]}' has no entry in {an4_dir}/utt2dur",
    ]


def test_dump_dir_without_audio(an4_dir):
    # After feature extraction (dump/<set>/): feats.scp instead of wav.scp; audio is not required.
    utts = [l.split()[0] for l in lines(an4_dir / "utt2spk")]
    (an4_dir / "wav.scp").unlink()
    at = write_ark(an4_dir / "feats.ark", utts)
    (an4_dir / "feats.scp").write_text("".join(f"{u} {at[u]}\n" for u in utts))
    assert errors(an4_dir) == []
    (an4_dir / "feats.scp").unlink()
    assert errors(an4_dir) == [f"{an4_dir}/wav.scp: no such file (every utterance needs audio; use --no-wav to skip)"]
    assert errors(an4_dir, no_wav=True) == []


def test_arks_that_feats_scp_names_are_looked_for(an4_dir, tmp_path):
    """A dump dir whose arks were moved or deleted validated; training failed at its first batch."""
    utts = [l.split()[0] for l in lines(an4_dir / "utt2spk")]
    (an4_dir / "wav.scp").unlink()
    at = write_ark(tmp_path / "a.ark", utts[::3])
    (tmp_path / "dir.ark").mkdir()
    arks = ["a.ark", "gone.ark", "dir.ark"]
    scp = [f"{u} {at[u] if i % 3 == 0 else f'{tmp_path}/{arks[i % 3]}:{i}'}\n" for i, u in enumerate(utts)]
    scp[9] = f"{utts[9]} {tmp_path}/a.ark:9[5:x]\n"       # a bad range
    scp[10] = f"{utts[10]} cat {tmp_path}/gone.ark |\n"    # a pipe: not looked into
    (an4_dir / "feats.scp").write_text("".join(scp))
    assert sorted(errors(an4_dir)) == [
        f"{an4_dir}/feats.scp:10: bad range [5:x] (expected e.g. [0:9] or [0:9,3:5])",
        f"{an4_dir}/feats.scp:2: '{tmp_path}/gone.ark': No such file or directory (the ark of {utts[1]!r})",
        f"{an4_dir}/feats.scp:3: '{tmp_path}/dir.ark' is a directory, not an ark file"]
    assert errors(an4_dir, check_wav_files=False) == []


def _dump_dir(an4_dir, **kw):
    """an4_dir as a dump dir: feats.scp into one real ark, no audio. -> (utts, ark, feats.scp values)"""
    utts = [l.split()[0] for l in lines(an4_dir / "utt2spk")]
    (an4_dir / "wav.scp").unlink()
    ark = an4_dir / "feats.ark"
    at = write_ark(ark, utts, **kw)
    (an4_dir / "feats.scp").write_text("".join(f"{u} {at[u]}\n" for u in utts))
    return utts, ark, at


def test_an_ark_cut_short_fails_validation(an4_dir):
    """An ark cut short (a full disk, a killed copy): its offsets past the end, and the matrix the
    end cuts, were not looked at; the dir "successfully validated" and training or decoding failed
    on its last utterances ("truncated FM data")."""
    utts, ark, at = _dump_dir(an4_dir)
    assert errors(an4_dir) == []
    offsets = [int(at[u].rpartition(":")[2]) for u in utts]
    cut = offsets[100] + 20  # inside the data of utterance 100's matrix (15 bytes of header, 48 of data)
    ark.write_bytes(ark.read_bytes()[:cut])
    scp = an4_dir / "feats.scp"
    why = "the ark was cut short (a full disk, a killed run or copy?): make its features again"
    expected = [f"{scp}:101: the matrix of {utts[100]!r} at offset {offsets[100]:,} (3 x 4 FM) ends at byte "
                f"{offsets[100] + 63:,}, past the end of {str(ark)!r} ({cut:,} bytes): {why}"]
    expected += [f"{scp}:{i + 1}: offset {offsets[i]:,} of {utts[i]!r} is past the end of {str(ark)!r} ({cut:,} "
                 f"bytes): {why}" for i in range(101, 106)]
    expected += [f"{scp}: {len(utts) - 106} more offsets past the end of {str(ark)!r}"]
    assert sorted(errors(an4_dir)) == sorted(expected)
    assert errors(an4_dir, check_feats_headers=True) == errors(an4_dir)
    assert errors(an4_dir, check_wav_files=False) == []  # --no-check-files: the arks are not looked at
    # only the last matrix cut: every offset is inside the ark
    write_ark(ark, utts)
    ark.write_bytes(ark.read_bytes()[:-1])
    assert errors(an4_dir) == [f"{scp}:{len(utts)}: the matrix of {utts[-1]!r} at offset {offsets[-1]:,} (3 x 4 FM) ends at "
                               f"byte {offsets[-1] + 63:,}, past the end of {str(ark)!r} ({offsets[-1] + 62:,} "
                               f"bytes): {why}"]
    # cut inside the last matrix's header
    for keep in (6, 1):
        ark.write_bytes(ark.read_bytes()[:offsets[-1] + keep])
        assert errors(an4_dir) == [f"{scp}:{len(utts)}: {str(ark)!r} ({offsets[-1] + keep:,} bytes) ends inside the "
                                   f"header of the matrix of {utts[-1]!r} at offset {offsets[-1]:,}: {why}"]


@pytest.mark.parametrize("kw", [{"compression_method": 2}, {"compression_method": 3}, {"compression_method": 5},
                                {"text": True}], ids=["CM", "CM2", "CM3", "text"])
def test_compressed_and_text_arks_are_measured_as_they_are(an4_dir, kw):
    """Each of Kaldi's forms has its own header and size: a whole ark passes, one a byte short fails."""
    utts, ark, at = _dump_dir(an4_dir, **kw)
    assert errors(an4_dir, check_feats_headers=True) == []
    ark.write_bytes(ark.read_bytes()[:-1])
    errs = errors(an4_dir, check_feats_headers=True)
    if kw.get("text"):  # a text matrix's size is not in a header: its ']' is read only by the readers
        assert errs == []
    else:
        assert len(errs) == 1 and errs[0].startswith(f"{an4_dir}/feats.scp:{len(utts)}: the matrix of {utts[-1]!r} at offset")


def test_every_header_is_read_with_check_feats_headers(an4_dir, asrkit):
    """An offset into the middle of an ark that points at no matrix (at its key, say), or a row
    range past its matrix: found by reading each entry's header, which the default (one read per
    ark, for 281k-utterance dirs) does not."""
    utts, ark, at = _dump_dir(an4_dir)
    scp = an4_dir / "feats.scp"
    values = [at[u] for u in utts]
    path, _, off = values[4].rpartition(":")
    values[4] = f"{path}:{int(off) - len(utts[4]) - 1}"   # at the key, not past it
    values[7] = values[7] + "[1:3]"                        # rows 1..3 of a 3-row matrix
    values[8] = values[8] + "[0:2]"                        # a range inside it
    scp.write_text("".join(f"{u} {v}\n" for u, v in zip(utts, values)))
    assert errors(an4_dir) == []
    expected = [f"{scp}:5: no Kaldi matrix at offset {int(off) - len(utts[4]) - 1:,} of {path!r}, the entry of "
                f"{utts[4]!r} (data starting with {utts[4][:8].encode()!r}): the offset is wrong, or the ark was "
                f"written over",
                f"{scp}:8: row range [1:3] of {utts[7]!r} is past the 3 rows of its matrix"]
    assert errors(an4_dir, check_feats_headers=True) == expected
    proc = asrkit("validate-data-dir", "--check-feats-headers", an4_dir, check=False)
    assert proc.returncode == 1
    assert [l.removeprefix("ERROR: ") for l in proc.stderr.decode().splitlines() if l.startswith("ERROR: ")] == expected


def test_an_ark_cut_short_by_compute_fbank_fails_through_the_command(an4_dir, asrkit, tmp_path):
    """The whole path a user takes: asrkit-compute-fbank's ark, cut short, and asrkit-validate-data-dir."""
    # (the ark is made in this process: a subprocess would import torch for it, 2-3 s CPU)
    run_asrkit_in_process("compute-fbank", f"scp:{an4_dir}/wav.scp",
                          f"ark,scp:{tmp_path}/feats.ark,{an4_dir}/feats.scp")
    asrkit("validate-data-dir", an4_dir)
    ark = tmp_path / "feats.ark"
    ark.write_bytes(ark.read_bytes()[:-100])
    proc = asrkit("validate-data-dir", an4_dir, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert f"ERROR: {an4_dir}/feats.scp:130: the matrix of 'mmxg-cen8-b' at offset" in err, err
    assert "Successfully validated" not in err


def test_speaker_and_utterance_orders_that_disagree_are_a_warning(an4_dir):
    # Kaldi's validate_data_dir.sh refuses it; the prefix warning missed it (each speaker id
    # is a prefix of its utterances' ids). Speakers 'a' and 'a+b': 'a+b-..' sorts before 'a-..'.
    u2s = {"a+b-1": "a+b", "a+b-2": "a+b", "a-1": "a", "a-2": "a"}
    (an4_dir / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in u2s.items()))
    (an4_dir / "spk2utt").write_text("a a-1 a-2\na+b a+b-1 a+b-2\n")
    (an4_dir / "text").write_text("".join(f"{u} A\n" for u in u2s))
    wav = lines(an4_dir / "wav.scp")[0].split()[1]
    (an4_dir / "wav.scp").write_text("".join(f"{u} {wav}\n" for u in u2s))
    problems = validate_data_dir(an4_dir)
    assert [str(p) for p in problems] == [
        f"{an4_dir}/utt2spk:3: sorted by speaker, utterance 'a-1' (speaker 'a') comes elsewhere than sorted by "
        f"utterance id: Kaldi's validate_data_dir.sh refuses this (make speaker ids prefixes that no other speaker "
        f"id extends, e.g. ending in '-'); asrkit's tools accept it"]
    assert not problems[0].is_error


def test_segments(an4_dir):
    # Two segments of each of the first two recordings, one ending before it starts.
    wav = lines(an4_dir / "wav.scp")[:2]
    (an4_dir / "wav.scp").write_text("".join(wav))
    recos = [l.split()[0] for l in wav]
    utts = [f"{r}-{k}" for r in recos for k in ("a", "b")]
    spans = ["0.0 1.0", "1.0 2.0", "0.5 0.2", "0 -1"]
    (an4_dir / "segments").write_text("".join(f"{u} {u[:-2]} {s}\n" for u, s in zip(utts, spans)))
    (an4_dir / "utt2spk").write_text("".join(f"{u} fcaw\n" for u in utts))
    (an4_dir / "spk2utt").write_text("fcaw " + " ".join(utts) + "\n")
    (an4_dir / "text").write_text("".join(f"{u} YES\n" for u in utts))
    assert errors(an4_dir) == [f"{an4_dir}/segments:3: segment end 0.2 is not after its start 0.5"]
    (an4_dir / "wav.scp").write_text(wav[0])
    errs = errors(an4_dir)
    assert f"{an4_dir}/segments:3: recording '{recos[1]}' of utterance '{utts[2]}' is not in {an4_dir}/wav.scp" in errs


def test_a_bad_segment_is_named_alike_by_validate_and_the_readers(an4_dir):
    """A bad segments line is an error here and a skipped utterance in the readers (Kaldi's
    extract-segments skips it): the two named one line two ways ('segment end 0.2 is not after its
    start 0.5' here, 'bad segment times start=0.5 end=0.2' there). The same words now."""
    from asrkit.features.wav_scp import read_wav_scp

    wav = lines(an4_dir / "wav.scp")[:1]
    (an4_dir / "wav.scp").write_text("".join(wav))
    reco = wav[0].split()[0]
    spans = ["0.0 1.0", "0.5 0.2", "-1 2", "0 nan", "0 1_0", "0.5", "0 -1"]
    utts = [f"{reco}-{k}" for k in "abcdefg"]
    (an4_dir / "segments").write_text("".join(f"{u} {reco} {s}\n" for u, s in zip(utts, spans)))
    (an4_dir / "utt2spk").write_text("".join(f"{u} fcaw\n" for u in utts))
    (an4_dir / "spk2utt").write_text("fcaw " + " ".join(utts) + "\n")
    (an4_dir / "text").write_text("".join(f"{u} YES\n" for u in utts))
    said_here = errors(an4_dir)
    said_there = [e.problem.split(": ", 1)[1] for e in read_wav_scp(f"scp:{an4_dir}/wav.scp", an4_dir / "segments")
                  if e.problem]
    assert said_here == said_there and len(said_here) == 5, (said_here, said_there)


def test_a_segment_channel_field_is_refused_as_not_supported(an4_dir, tmp_path):
    """Kaldi's extract-segments reads an optional fifth field, the channel; asrkit carries no per-segment
    channel, so every reader refuses it, saying so: "malformed line" sent users looking for a typo."""
    from asrkit.data.datadir import DataDir
    from asrkit.data.fix import fix_data_dir
    from asrkit.features.wav_scp import read_wav_scp
    from asrkit.utils.errors import AsrkitError

    wav = lines(an4_dir / "wav.scp")[:1]
    (an4_dir / "wav.scp").write_text("".join(wav))
    reco = wav[0].split()[0]
    utts = [f"{reco}-a", f"{reco}-b", f"{reco}-c"]
    (an4_dir / "segments").write_text(f"{utts[0]} {reco} 0.0 1.0\n{utts[1]} {reco} 1.0 2.0 1\n"
                                      f"{utts[2]} {reco} 0.0 1.0 x\n")
    (an4_dir / "utt2spk").write_text("".join(f"{u} fcaw\n" for u in utts))
    (an4_dir / "spk2utt").write_text("fcaw " + " ".join(utts) + "\n")
    (an4_dir / "text").write_text("".join(f"{u} YES\n" for u in utts))
    channel = (f"{an4_dir}/segments:2: a fifth field, channel 1 (which Kaldi's extract-segments reads), is not "
               f"supported: asrkit reads no per-segment channel; give the channel its own recording id in wav.scp, "
               f"e.g. '<reco>-1 sox <file> -t wav - remix 2 |'")
    errs = errors(an4_dir)
    assert len(errs) == 2 and errs[0].startswith(channel), errs
    # a fifth field that is no channel number is still a malformed line
    assert errs[1] == f"{an4_dir}/segments:3: malformed segment (expected '<utt> <recording> <start> <end>')"
    warnings = [str(p) for p in validate_data_dir(an4_dir) if not p.is_error]
    assert not any("not used by any segment" in w for w in warnings), warnings
    with pytest.raises(AsrkitError, match="^" + re.escape(channel)):
        read_wav_scp(f"scp:{an4_dir}/wav.scp", an4_dir / "segments")
    with pytest.raises(AsrkitError, match="^" + re.escape(channel)):
        DataDir(an4_dir).segments()
    out = tmp_path / "fixed"
    import shutil
    shutil.copytree(an4_dir, out)
    report = fix_data_dir(out)
    assert (out / "segments").read_text() == f"{utts[0]} {reco} 0.0 1.0\n"
    assert report.reasons.get("segment has a channel (fifth) field, which asrkit does not support "
                              "(see asrkit-validate-data-dir)") == [utts[1]], report.reasons

def test_times_read_as_kaldi_and_compute_fbank_read_them(an4_dir):
    # Python's float() reads '1_0' as 10 and '\u0661' (Arabic-Indic 1) as 1; strtod, and so Kaldi and
    # asrkit-compute-fbank's segments reader, refuse both: a dir validated here was refused there.
    wav = lines(an4_dir / "wav.scp")[:1]
    (an4_dir / "wav.scp").write_text("".join(wav))
    reco = wav[0].split()[0]
    utts = [f"{reco}-{k}" for k in "abcd"]
    spans = ["0.0 1.0", "0.5 1_0", "0 \u0661", "1e-1 2.5E0"]
    (an4_dir / "segments").write_text("".join(f"{u} {reco} {s}\n" for u, s in zip(utts, spans)))
    (an4_dir / "utt2spk").write_text("".join(f"{u} fcaw\n" for u in utts))
    (an4_dir / "spk2utt").write_text("fcaw " + " ".join(utts) + "\n")
    (an4_dir / "text").write_text("".join(f"{u} YES\n" for u in utts))
    (an4_dir / "utt2dur").write_text("".join(f"{u} {d}\n" for u, d in zip(utts, ["1", "\uff12", "2_5", "0.5"])))
    assert errors(an4_dir) == [
        f"{an4_dir}/utt2dur:2: duration must be a positive number of seconds, got '\uff12'",
        f"{an4_dir}/utt2dur:3: duration must be a positive number of seconds, got '2_5'",
        f"{an4_dir}/segments:2: start and end must be finite numbers, got '0.5' '1_0'",
        f"{an4_dir}/segments:3: start and end must be finite numbers, got '0' '\u0661'",
    ]


def test_malformed_and_missing_files(an4_dir, tmp_path):
    (an4_dir / "utt2spk").write_text("".join(lines(an4_dir / "utt2spk")[:-1]) + "\n")
    errs = errors(an4_dir)
    assert f"{an4_dir}/utt2spk:130: empty line" in errs
    (an4_dir / "spk2utt").unlink()
    assert any(e.startswith(f"{an4_dir}/spk2utt: no such file") for e in errors(an4_dir))
    assert errors(tmp_path / "nope") == [f"{tmp_path}/nope: no such directory"]


def test_speaker_prefix_is_a_warning(an4_dir):
    u2s = lines(an4_dir / "utt2spk")
    s2u = {}
    for i, line in enumerate(u2s):
        utt, spk = line.split()
        spk = "zz" + spk
        u2s[i] = f"{utt} {spk}\n"
        s2u.setdefault(spk, []).append(utt)
    (an4_dir / "utt2spk").write_text("".join(u2s))
    (an4_dir / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(s2u.items())))
    problems = validate_data_dir(an4_dir)
    assert problems and not any(p.is_error for p in problems)
    assert str(problems[0]).startswith(f"{an4_dir}/utt2spk:1: speaker id 'zzfcaw' is not a prefix")
    assert "125 more utterances" in str(problems[-1])


def test_cli_exit_codes(asrkit, an4_dir):
    ok = asrkit("validate-data-dir", an4_dir)
    assert b"Successfully validated" in ok.stderr
    text = lines(an4_dir / "text")
    text[0], text[1] = text[1], text[0]
    (an4_dir / "text").write_text("".join(text))
    bad = asrkit("validate-data-dir", an4_dir, check=False)
    assert bad.returncode == 1
    err = bad.stderr.decode()
    assert f"ERROR: {an4_dir}/text:2: not sorted: 'fcaw-an406-b' comes after 'fcaw-an407-b'" in err
    assert "ERROR (asrkit-validate-data-dir): " in err and "1 error(s)" in err
    help_ = asrkit("validate-data-dir", "--help")
    assert b"e.g. asrkit-validate-data-dir data/train" in help_.stdout


def test_speaker_and_recording_tables_checked(an4_dir):
    """spk2gender, cmvn.scp, reco2file_and_channel, reco2dur, utt2uniq and utt2lang were not looked
    at: a dir whose spk2gender named a speaker it does not have, or gave 'x' as a gender, passed,
    though asrkit-fix-data-dir then changed it (and Kaldi's validate_data_dir.sh refuses it)."""
    utts = [l.split()[0] for l in lines(an4_dir / "utt2spk")]
    spks = [l.split()[0] for l in lines(an4_dir / "spk2utt")]
    (an4_dir / "spk2gender").write_text(f"{spks[0]} x\n" + "".join(f"{s} f\n" for s in spks[2:]) + "zzzz m\n")
    (an4_dir / "cmvn.scp").write_text("".join(f"{s} cmvn.ark:{i}\n" for i, s in enumerate(spks[1:])))
    (an4_dir / "reco2file_and_channel").write_text(f"{utts[0]} {utts[0]} A\n{utts[1]} {utts[1]}\n")
    (an4_dir / "reco2dur").write_text("".join(f"{u} {'nan' if i == 3 else 1.5}\n" for i, u in enumerate(utts)))
    (an4_dir / "utt2uniq").write_text("".join(f"{u} {u}\n" for u in utts) + "zzzz-x zzzz-x\n")
    problems = validate_data_dir(an4_dir)
    errs = [str(p) for p in problems if p.is_error]
    assert sorted(errs) == sorted([
        f"{an4_dir}/spk2gender:1: gender must be m or f, got 'x'",
        f"{an4_dir}/spk2gender:{len(spks)}: speaker 'zzzz' is not in {an4_dir}/utt2spk",
        f"{an4_dir}/cmvn.scp: speaker '{spks[0]}' has no entry",
        f"{an4_dir}/reco2file_and_channel:2: malformed line (expected '<recording> <file> <channel A or B>'), "
        f"got '{utts[1]}'",
        f"{an4_dir}/reco2dur:4: duration must be a positive number of seconds, got 'nan'",
        f"{an4_dir}/utt2uniq:{len(utts) + 1}: utterance 'zzzz-x' is not in {an4_dir}/utt2spk",
    ])
    warnings = [str(p) for p in problems if not p.is_error]
    assert f"{an4_dir}/spk2gender: speaker '{spks[1]}' has no entry" in warnings
    assert f"{an4_dir}/reco2file_and_channel: {len(utts) - 2 - 5} more recordings have no entry" in warnings


def test_empty_transcript_is_a_warning(an4_dir):
    """A text line with a key alone passed without a word; asrkit-train then skipped the utterance."""
    text = lines(an4_dir / "text")
    text[4] = text[4].split()[0] + "\n"
    (an4_dir / "text").write_text("".join(text))
    problems = validate_data_dir(an4_dir)
    assert [str(p) for p in problems] == [f"{an4_dir}/text:5: empty transcript for 'fcaw-an410-b' (asrkit-train "
                                          "skips the utterance)"]
    assert not problems[0].is_error


def test_the_fix_command_a_message_suggests_can_be_pasted(asrkit, an4_dir, tmp_path):
    """'asrkit-fix-data-dir <dir> ...' in the validation and utt2spk errors named a dir with a space
    in it unquoted: pasted into a shell it fixed '/tmp/my' (no such dir) and left the data as it was."""
    from asrkit.data.datadir import DataDir
    from asrkit.utils.errors import AsrkitError

    spaced = tmp_path / "my data"
    spaced.mkdir()
    (spaced / "utt2spk").write_text("u1 a other\n")
    with pytest.raises(AsrkitError, match=re.escape(f"(asrkit-fix-data-dir '{spaced}' drops that utterance)")):
        DataDir(spaced).read("utt2spk")
    moved = an4_dir.rename(tmp_path / "an4 dir")  # (a space: quoted in the message)
    text = lines(moved / "text")
    text[0], text[1] = text[1], text[0]
    (moved / "text").write_text("".join(text))
    bad = asrkit("validate-data-dir", moved, check=False)
    assert bad.returncode == 1
    assert f"asrkit-fix-data-dir '{moved}' repairs missing/extra ids and sorting" in bad.stderr.decode()


def test_an_id_with_a_control_character_is_refused_and_fixed_to_c_sort_order(an4_dir):
    """An id holding an ASCII control character (a ^A, an ESC from 'ls --color' output) passed
    validation, though Kaldi's IsToken refuses it in every table key, and fix-data-dir sorted
    'a\\x01x' after 'a', where LC_ALL=C sort (which compares whole lines) puts it before 'a ...':
    a "fixed" dir that Kaldi's validate_data_dir.sh refuses as unsorted."""
    import subprocess

    from asrkit.data.fix import fix_data_dir

    utts = [line.split()[0] for line in lines(an4_dir / "utt2spk")]
    bad = utts[0] + "\x01x"
    for name in ("utt2spk", "text", "wav.scp"):
        rows = lines(an4_dir / name)
        rows.insert(1, bad + rows[0][len(utts[0]):])
        (an4_dir / name).write_text("".join(rows))
    rows = lines(an4_dir / "utt2spk")
    spk = rows[5].split()[1]
    rows[5] = rows[5].replace(f" {spk}", f" \x1b[0m{spk}")
    (an4_dir / "utt2spk").write_text("".join(rows))
    why = (f"the control character U+0001 '\\x01' at character {len(utts[0])} of the id {bad!r}: Kaldi ids cannot "
           f"hold one; rename it in every table that holds it, or let asrkit-fix-data-dir {shlex.quote(str(an4_dir))} "
           f"drop it")
    errs = errors(an4_dir)
    for name in ("utt2spk", "text", "wav.scp"):
        assert f"{an4_dir}/{name}:2: {why}" in errs, errs
    assert (f"{an4_dir}/utt2spk:6: utterance {utts[4]!r}: speaker id: the control character U+001B '\\x1b' at "
            f"character 0 of the id '\\x1b[0m{spk}': Kaldi ids cannot hold one; rename it in every table that holds "
            f"it, or let asrkit-fix-data-dir {shlex.quote(str(an4_dir))} drop it") in errs
    report = fix_data_dir(an4_dir)
    assert report.reasons["speaker id holds a control character"] == [utts[4]]
    assert report.num_utts_after == len(utts) - 1
    assert errors(an4_dir) == []
    for name in ("utt2spk", "text", "wav.scp", "spk2utt"):
        subprocess.run(["sort", "-c", an4_dir / name], env={"LC_ALL": "C"}, check=True)
    # the nearest valid ids, non-ASCII letters and a no-break space (which Kaldi's IsToken takes:
    # not ASCII), pass as before
    rows = lines(an4_dir / "utt2spk")
    rows.append(f"{utts[-1]}é\u00a0z {rows[-1].split()[1]}\n")
    (an4_dir / "utt2spk").write_text("".join(rows))
    assert not any("control character" in e for e in errors(an4_dir, no_text=True))


@pytest.mark.parametrize("compress", [None, 2])
def test_check_feats_headers_compares_utt2num_frames_and_names_matrices_of_no_frames(an4_dir, compress):
    """With every header read, utt2num_frames was not compared with it: a stale count (5 for a
    matrix of 3, from other features) validated, and training batches by those counts. A matrix
    of no frames, which compute-cmvn and training skip, passed without a word."""
    import kaldiio
    import numpy as np

    kw = {} if compress is None else {"compression_method": compress}
    utts, ark, at = _dump_dir(an4_dir, **kw)
    kaldiio.save_ark(str(an4_dir / "empty.ark"), {utts[6]: np.zeros((0, 4), np.float32)},
                     scp=str(an4_dir / "empty.scp"))
    at[utts[6]] = (an4_dir / "empty.scp").read_text().split()[1]
    scp = an4_dir / "feats.scp"
    scp.write_text("".join(f"{u} {at[u]}{'[1:2]' if i == 9 else ''}\n" for i, u in enumerate(utts)))
    counts = {u: 0 if i == 6 else 2 if i == 9 else 5 if i == 2 else 3 for i, u in enumerate(utts)}
    counts.pop(utts[6])
    (an4_dir / "utt2num_frames").write_text("".join(f"{u} {n}\n" for u, n in counts.items()))
    assert sorted(errors(an4_dir, check_feats_headers=True)) == [
        f"{scp}:7: utterance {utts[6]!r} has no entry in {an4_dir}/utt2num_frames",
        f"{an4_dir}/utt2num_frames:3: {utts[2]!r} has 5 frames here but 3 in its matrix ({scp}:3): stale (from "
        f"other features?); make it again from feats.scp"]
    warnings = [str(p) for p in validate_data_dir(an4_dir, check_feats_headers=True) if not p.is_error]
    assert f"{scp}:7: the matrix of {utts[6]!r} has no frames (0 x 4): asrkit-compute-cmvn and asrkit-train skip " \
           f"the utterance" in warnings
    # without the headers read, as before: the counts are not known
    assert errors(an4_dir) == [f"{scp}:7: utterance {utts[6]!r} has no entry in {an4_dir}/utt2num_frames"]


def test_a_table_with_cr_only_line_ends_is_named_once_and_fixed(an4_dir):
    """A table with old Mac (CR-only) line ends, which every reader refuses, was one key whose value
    held every other line: validation listed 519 errors, none saying why, and fix-data-dir failed
    with "no utterance is in all of ..."."""
    from asrkit.data.fix import fix_data_dir

    utt2spk = an4_dir / "utt2spk"
    saved = utt2spk.read_bytes()
    utt2spk.write_bytes(saved.replace(b"\n", b"\r"))
    at = saved.index(b"\n")
    assert errors(an4_dir) == [f"{utt2spk}: CR-only (old Mac) line endings: no LF, a CR at byte {at} (convert it: "
                               f"tr '\\r' '\\n')"]
    report = fix_data_dir(an4_dir)
    assert report.num_dropped == 0 and utt2spk.read_bytes() == saved
    assert errors(an4_dir) == []
    # a lone CR inside a line of an LF file stays part of that line, as before
    text = an4_dir / "text"
    rows = lines(text)
    rows[2] = rows[2].rstrip("\n") + "\rMORE\n"
    text.write_text("".join(rows))
    assert not any("CR-only" in e for e in errors(an4_dir))


def test_crlf_tables_are_a_warning_each_and_fixed(an4_dir):
    """Tables saved on Windows (CRLF) validated without a word: asrkit's readers take the CR for
    white space, but awk, cut and Kaldi's perl scripts (combine_data.sh too) keep it in the last
    field. One warning per table, counted, with the fix and the sed; each mends it."""
    import subprocess

    from asrkit.data.fix import fix_data_dir

    for name in ("text", "wav.scp"):
        (an4_dir / name).write_bytes((an4_dir / name).read_bytes().replace(b"\n", b"\r\n"))
    n = len(lines(an4_dir / "text"))
    found = [str(p) for p in validate_data_dir(an4_dir)]
    assert errors(an4_dir) == [] and found == [
        f"{an4_dir / name}: {n} of its {n} lines end in CR (Windows CRLF line ends): asrkit reads them as LF, but "
        f"awk, cut and Kaldi's perl scripts keep the CR in the last field; convert it: asrkit-fix-data-dir "
        f"{an4_dir} rewrites the tables with LF, or sed -i 's/\\r$//' {an4_dir / name}" for name in ("text", "wav.scp")]
    subprocess.run(found[0].rsplit(" or ", 1)[1], shell=True, check=True)
    assert [str(p) for p in validate_data_dir(an4_dir)] == found[1:]
    report = fix_data_dir(an4_dir)  # (and it says so: it was silent about it)
    assert validate_data_dir(an4_dir) == [] and b"\r" not in (an4_dir / "wav.scp").read_bytes()
    assert report.crlf == ["wav.scp"] and "wav.scp" in report.changed


@pytest.mark.parametrize("name", ["text", "utt2spk", "wav.scp"])
def test_a_utf16_table_is_named_once_and_fix_changes_nothing(an4_dir, name):
    """A table saved as Windows Notepad's 'Unicode' (UTF-16, which every reader names so) gave one
    "not UTF-8" and a "NUL byte" error per line, then "has no entry" for every utterance, none of
    them saying what the file is; fix-data-dir failed "130 not in text"."""
    from asrkit.data.fix import fix_data_dir
    from asrkit.utils.errors import AsrkitError

    path = an4_dir / name
    path.write_bytes(path.read_text().encode("utf-16"))
    why = (f"the file is UTF-16 (it starts with the byte-order mark FF FE, as Windows Notepad's 'Unicode' saves "
           f"it); Kaldi tables are UTF-8 text: convert it (iconv -f UTF-16 -t UTF-8 {path} > {path}.utf8)")
    assert errors(an4_dir) == [f"{path}:1: {why}"]
    before = {p.name: p.read_bytes() for p in an4_dir.iterdir()}
    with pytest.raises(AsrkitError) as e:
        fix_data_dir(an4_dir)
    assert str(e.value) == f"{path}: {why}"
    assert {p.name: p.read_bytes() for p in an4_dir.iterdir()} == before


def test_a_segment_past_its_recordings_end_in_reco2dur_is_a_warning(an4_dir):
    """With reco2dur there, a segment past its recording's end (beyond the 0.5 s extract-segments
    clips) validated without a word, and feature extraction skipped its utterance stages later."""
    utts = [l.split()[0] for l in lines(an4_dir / "utt2spk")]
    wav = dict(l.split(None, 1) for l in (an4_dir / "wav.scp").read_text().splitlines())
    (an4_dir / "wav.scp").write_text("".join(f"r{u} {wav[u]}\n" for u in utts))
    times = {1: "1.0 3.4", 2: "1.0 3.6", 3: "3.0 -1", 4: "0 -1"}  # recording of 3 s
    (an4_dir / "segments").write_text("".join(f"{u} r{u} {times.get(i, '0.5 1.5')}\n" for i, u in enumerate(utts)))
    assert errors(an4_dir) == [] and not [p for p in validate_data_dir(an4_dir) if "past" in p.message]
    (an4_dir / "reco2dur").write_text("".join(f"r{u} 3.0\n" for u in utts))
    warnings = [str(p) for p in validate_data_dir(an4_dir) if not p.is_error]
    assert errors(an4_dir) == []
    assert [w for w in warnings if "past the end" in w] == [
        f"{an4_dir}/segments:{n}: segment {times[i]} of {utts[i]!r} goes past the end of its recording 'r{utts[i]}' "
        f"(3 s in reco2dur, 0.5 s of overshoot allowed): feature extraction will skip it" for i, n in ((2, 3), (3, 4))]


def test_a_lone_cr_in_a_one_line_text_is_no_cr_only_line_end(tmp_path, an4_dir):
    """A one-utterance text with no LF anywhere and a CR inside its transcript was kept whole (fix
    added the LF); read as CR-only line ends, the transcript was cut to 'NO NO' and the rest dropped
    as an utterance 'NO'. CR-split lines are table lines only where they start with the dir's ids."""
    from asrkit.data.fix import fix_data_dir

    utt = "spk1-0_0_0_0_1_1_1_1"
    d = tmp_path / "d"
    d.mkdir()
    (d / "wav.scp").write_text(f"{utt} {an4_dir}/x.wav\n")
    (d / "utt2spk").write_text(f"{utt} spk1\n")
    (d / "spk2utt").write_text(f"spk1 {utt}\n")
    (d / "text").write_bytes(f"{utt} NO NO\rNO NO YES YES".encode())
    assert errors(d, check_wav_files=False) == [f"{d}/text:1: no newline at end of file"]
    report = fix_data_dir(d)
    assert (report.num_dropped, report.dropped) == (0, {})
    assert (d / "text").read_bytes() == f"{utt} NO NO\rNO NO YES YES\n".encode()
    # A CR-only table with a line of an utterance no other table has is still one: that line dropped.
    utt2spk = an4_dir / "utt2spk"
    rows = lines(utt2spk)
    spk = rows[0].split()[1]
    saved = "".join(rows + [f"{spk}-zz-stale {spk}\n"])
    utt2spk.write_bytes(saved.replace("\n", "\r").encode())
    assert [e for e in errors(an4_dir) if "CR-only" in e] == [
        f"{utt2spk}: CR-only (old Mac) line endings: no LF, a CR at byte {len(rows[0]) - 1} (convert it: "
        f"tr '\\r' '\\n')"]
    report = fix_data_dir(an4_dir)
    assert report.dropped == {"utt2spk": [f"{spk}-zz-stale"]} and utt2spk.read_text() == "".join(rows)


def test_an_id_in_another_unicode_form_is_named_as_one(an4_dir):
    """text written on macOS (NFD: 'e' + U+0301) beside tables made on Linux (NFC): the ids look
    the same, so "utterance 'fcaw-é1' is not in utt2spk" beside an utt2spk showing 'fcaw-é1' said
    no reason; the message now says which form each table has."""
    import unicodedata

    nfc, nfd = "fcaw-\u00e91", unicodedata.normalize("NFD", "fcaw-\u00e91")
    assert nfc != nfd
    for name in ("text", "utt2spk", "wav.scp"):
        rows = lines(an4_dir / name)
        key, rest = rows[6].split(" ", 1)
        rows[6] = f"{nfd if name == 'text' else nfc} {rest}"
        (an4_dir / name).write_text("".join(sorted(rows, key=lambda r: r.split(" ", 1)[0].encode())))
    u2s = lines(an4_dir / "spk2utt")
    (an4_dir / "spk2utt").write_text("".join(ln.replace(f" {key}", f" {nfc}") for ln in u2s))
    found = [e for e in errors(an4_dir) if "Unicode form" in e]
    assert len(found) == 2, errors(an4_dir)
    assert f"utterance {nfd!r} is not in {an4_dir}/utt2spk ({nfc!r} there: the same characters in another " \
           f"Unicode form, NFD here, NFC there; ids are compared byte by byte, so write every table in one form, " \
           f"NFC)" in found[0] + found[1]
    assert f"has no entry in {an4_dir}/text ({nfd!r} there: the same characters in another Unicode form, NFC " \
           f"here, NFD there;" in found[0] + found[1]


def test_a_malformed_line_of_megabytes_is_quoted_cut_short(an4_dir):
    """A utt2spk line of 20 MB with no white space (a damaged file) was quoted whole: one error
    line of 20 MB on stderr (the table readers' same message already cut it with shown())."""
    with open(an4_dir / "utt2spk", "a") as f:
        f.write("x" * 2_000_000 + "\n")
    found = [e for e in errors(an4_dir) if "malformed line" in e]
    assert found == [f"{an4_dir}/utt2spk:{len(lines(an4_dir / 'utt2spk'))}: malformed line (expected '<id> <value>'): "
                     f"{'x' * 200!r}... (2000000 characters)"], [e[:300] for e in errors(an4_dir)]


def test_an_id_of_a_damaged_line_is_refused_cut_short_not_quoted_whole(an4_dir, tmp_path):
    """A text line of megabytes with no white space (a damaged file) is an id with an empty
    transcript to the readers; it was quoted whole in every message naming it: 40 MB of
    validate-data-dir's stderr for a 20 MB line, 80 MB of asrkit-score's, 20 MB of fix-data-dir's.
    A key over MAX_ID_CHARS is now a bad line, named at its line, the id cut short."""
    n = 200_000  # (over asrkit.data.table.MAX_ID_CHARS, 65536)
    ref = tmp_path / "ref"
    ref.write_text((an4_dir / "text").read_text())
    with open(an4_dir / "text", "a") as f:
        f.write("x" * n + "\n")
    last = len(lines(an4_dir / "text"))
    why = (f"an id {'x' * 80!r}... ({n} characters): no id is that long (a line whose white space was lost: a "
           f"damaged or binary file?); mend the line")
    why += f", or let asrkit-fix-data-dir {an4_dir} drop it"
    assert errors(an4_dir) == [f"{an4_dir}/text:{last}: {why}"]
    for args in ((ref, an4_dir / "text"), (an4_dir / "text", ref)):
        proc = run_asrkit_in_process("score", *args, check=False)
        assert proc.returncode == 1 and len(proc.stderr) < 2000, proc.stderr[:3000]
        assert proc.stderr.decode().splitlines()[-1] == f"ERROR (asrkit-score): {an4_dir}/text:{last}: {why}"
    proc = run_asrkit_in_process("fix-data-dir", an4_dir)
    assert len(proc.stderr) < 2000 and f"text: dropped 1 malformed or duplicate line(s): {last}" in proc.stderr.decode()
    assert (an4_dir / "text").read_text() == ref.read_text()


def test_a_speaker_id_too_long_to_be_an_id_is_named_and_fix_drops_its_utterance(an4_dir):
    """utt2spk's value is a speaker id, the key of spk2utt: one over MAX_ID_CHARS (a damaged line,
    the mutation sweep's --seed 80 long-line1) passed validation in utt2spk, asrkit-fix-data-dir kept
    its utterance and made spk2utt with it as a key, and the fixed dir then failed validation
    ("spk2utt:2: an id ... no id is that long"), exit 0 from the command that was to mend it."""
    from asrkit.data.fix import fix_data_dir

    rows = lines(an4_dir / "utt2spk")
    utt = rows[0].split()[0]
    n = 100_000  # (over asrkit.data.table.MAX_ID_CHARS, 65536)
    rows[0] = f"{utt} {'s' * n}\n"
    (an4_dir / "utt2spk").write_text("".join(rows))
    (an4_dir / "spk2utt").unlink(missing_ok=True)
    errs = errors(an4_dir)
    assert (f"{an4_dir}/utt2spk:1: utterance {utt!r}: speaker id: an id {'s' * 80!r}... ({n} characters): no id is "
            f"that long (a line whose white space was lost: a damaged or binary file?); mend the line, or let "
            f"asrkit-fix-data-dir {shlex.quote(str(an4_dir))} drop it") in errs, [e[:300] for e in errs]
    report = fix_data_dir(an4_dir)
    assert report.reasons["speaker id too long to be an id"] == [utt]
    assert report.num_utts_after == len(rows) - 1
    assert errors(an4_dir) == []
