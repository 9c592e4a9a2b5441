"""asrkit-align given a text that does not fit its audio (hostile-input sweep): one line naming the file."""
from __future__ import annotations

from test_decode_cli import inproc, yesno  # noqa: F401  (fixtures)


def test_an_empty_text_is_named_before_any_audio_is_read(inproc, yesno, tmp_path):  # noqa: F811
    """An empty text file (a failed data prep, a `> text` left behind) was "all 5 utterances failed
    (first: utterance '...': no transcript in the text file)", after every recording was read."""
    _, model, wavs = yesno
    scp, text, ctm = tmp_path / "wav.scp", tmp_path / "text", tmp_path / "ctm"
    scp.write_text("".join(f"{w.stem} {w}\n" for w in wavs))
    text.write_text("")
    proc = inproc("align", "--model", model, scp, text, ctm, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and f"ERROR (asrkit-align): {text}: empty: no transcripts to align\n" in err, err
    assert "skipping utterance" not in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["text", "wav.scp"]
    # a text with only empty transcripts is not empty: each aligns to no words, as before
    text.write_text("".join(f"{w.stem}\n" for w in wavs))
    proc = inproc("align", "--model", model, scp, text, ctm)
    assert f"Done {len(wavs)} out of {len(wavs)} utterances (0 failed); 0 words" in proc.stderr.decode()
    assert ctm.read_text() == ""


def test_an_utterance_without_a_transcript_names_the_text_file(inproc, yesno, tmp_path):  # noqa: F811
    """"no transcript in the text file" did not say which: with a text per set (data/train/text,
    data/test/text), the one given for the wrong set is the usual cause."""
    _, model, wavs = yesno
    scp, text, ctm = tmp_path / "wav.scp", tmp_path / "text", tmp_path / "ctm"
    scp.write_text("".join(f"{w.stem} {w}\n" for w in wavs))
    text.write_text("".join(f"{w.stem} " + " ".join("YES" if c == "1" else "NO" for c in w.stem.split("_")) + "\n"
                            for w in wavs[1:]))
    proc = inproc("align", "--model", model, "--max-bad-percent", "100", scp, text, ctm)
    err = proc.stderr.decode()
    assert f"skipping utterance {wavs[0].stem!r}: no transcript in {text}\n" in err, err
    assert f"Done {len(wavs) - 1} out of {len(wavs)} utterances (1 failed)" in err
    # another set's text altogether: every utterance fails, the first one named with the file
    text.write_text("other_1 YES\nother_2 NO\n")
    proc = inproc("align", "--model", model, scp, text, ctm, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and (f"ERROR (asrkit-align): all {len(wavs)} utterances failed (first: utterance "
                                     f"{wavs[0].stem!r}: no transcript in {text})") in err, err
    assert "2 transcript(s) have no audio" in err


def test_a_wav_scp_given_as_the_text_is_named(inproc, yesno, tmp_path):  # noqa: F811
    """The two arguments swapped (text, then wav.scp) were "all 5 utterances failed (first: utterance
    'u' (text:1: NO NO ...): no such file)"; a wav.scp as the text alone, after every recording was
    read, "the transcripts are lower case ...: upper-case the words of the text" (of its paths)."""
    _, model, wavs = yesno
    scp, text, ctm = tmp_path / "wav.scp", tmp_path / "text", tmp_path / "ctm"
    scp.write_text("".join(f"{w.stem} {w}\n" for w in wavs))
    words = {w.stem: " ".join("YES" if c == "1" else "NO" for c in w.stem.split("_")) for w in wavs}
    text.write_text("".join(f"{u} {t}\n" for u, t in words.items()))
    piped = tmp_path / "piped.scp"  # Kaldi's command form
    piped.write_text("".join(f"{w.stem} cat {w} |\n" for w in wavs))
    for wav_arg, text_arg in ((text, scp), (scp, scp), (scp, piped)):
        proc = inproc("align", "--model", model, wav_arg, text_arg, ctm, check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and (f"ERROR (asrkit-align): {text_arg}: every line is '<utt> <audio file>', a "
                                         f"wav.scp, not transcripts: the arguments are <wav-rspecifier> <text-file> "
                                         f"<ctm-out>, in that order\n") in err, err
        assert "skipping utterance" not in err and not ctm.exists()
    # the nearest valid texts still align: one-word transcripts, and one of them a file name
    text.write_text("".join(f"{w.stem} {'NO.WAV' if i == 0 else 'YES'}\n" for i, w in enumerate(wavs)))
    proc = inproc("align", "--model", model, scp, text, ctm)
    assert f"Done {len(wavs)} out of {len(wavs)}" in proc.stderr.decode()
    # ...and are not taken for a wav.scp: every transcript a word that looks like a file name, or
    # letter targets with '|' ending each word (wav2vec's .ltr: 'N O | Y E S |') (review of 7e9425ea)
    for line in ("YES.WAV", "N O | Y E S |"):
        text.write_text("".join(f"{w.stem} {line}\n" for w in wavs))
        proc = inproc("align", "--model", model, scp, text, ctm, check=False)
        assert "a wav.scp, not transcripts" not in proc.stderr.decode(), proc.stderr.decode()


def test_a_ctm_given_as_the_text_is_named(inproc, yesno, tmp_path):  # noqa: F811
    """A CTM (asrkit-decode --ctm's, or this command's own output) given as the text: with one
    word an utterance each line was its transcript ('1 0.00 0.30 YES 0.98', the numbers <unk>),
    aligned with exit 0; with more, a duplicate key that did not say what the file is."""
    _, model, wavs = yesno
    scp, ctm, out = tmp_path / "wav.scp", tmp_path / "ctm", tmp_path / "out.ctm"
    scp.write_text("".join(f"{w.stem} {w}\n" for w in wavs))
    for words in (["YES"], ["YES", "NO", "YES"]):
        ctm.write_text("".join(f"{w.stem} 1 {0.3 * k:.2f} 0.30 {word} 0.98\n" for w in wavs
                               for k, word in enumerate(words)))
        proc = inproc("align", "--model", model, scp, ctm, out, check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and (f"ERROR (asrkit-align): {ctm}: a CTM ('<utt> <channel> <start> <duration> "
                                         f"<word> [<confidence>]' lines), not transcripts") in err, err
        assert not out.exists()
    # a data dir's segments file (with times of these recordings) is named too
    ctm.write_text("".join(f"{w.stem} {w.stem} 0.00 1.50\n" for w in wavs))
    proc = inproc("align", "--model", model, scp, ctm, out, check=False)
    assert proc.returncode == 1 and "a segments file (every line '<utt-id> <recording-id> <start> <end>'), not " \
        "transcripts" in proc.stderr.decode(), proc.stderr.decode()
