"""A data dir made by another toolkit's data prep, its text with punctuation ('U, M, N, SIX.'):
put at data/train and run from stage 1, as README says, it skipped stage 0's normalisation."""
from __future__ import annotations

from asrkit.data.table import read_table
from cli_checks import run_asrkit_in_process


def _punctuate(d):
    # AN4's words as a prepared corpus writes them: commas between, a full stop at the end; one
    # transcript with what is not punctuation to drop: an apostrophe inside a word, a dash, markers
    lines = (d / "text").read_text().splitlines()
    out = []
    for i, line in enumerate(lines):
        utt, words = line.split(" ", 1)
        out.append(f"{utt} {words.replace(' ', ', ')}." if i else f"{utt} [noise] DON'T UH-HUH <unk> {words}")
    (d / "text").write_text("\n".join(out) + "\n")
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in lines}


def test_punctuation_in_a_prepared_text_is_warned_of_and_dropped_by_fix_data_dir(an4_dir, asrkit):
    # validate said 'Successfully validated' and nothing more: the recipe's char tokenizer made
    # ',' and '.' tokens, and the model trained for 60 s wrote ', , , ,' for every test utterance.
    words = _punctuate(an4_dir)
    n = len(words)
    r = asrkit("validate-data-dir", an4_dir)
    assert f"{n - 1} of {n} transcripts hold punctuation" in r.stderr.decode()
    assert f"asrkit-fix-data-dir --punctuation drop {an4_dir}" in r.stderr.decode()
    r = asrkit("fix-data-dir", "--punctuation", "drop", "--case", "upper", an4_dir)
    assert r.returncode == 0, r.stderr
    text = read_table(an4_dir / "text")
    first = min(words, key=str.encode)
    assert text.pop(first) == f"[NOISE] DON'T UH HUH <unk> {words.pop(first)}"
    assert text == words
    r = asrkit("validate-data-dir", an4_dir)
    assert b"WARNING" not in r.stderr, r.stderr


def _validate_with_first_transcript(an4_dir, asrkit, words: str):
    """validate-data-dir's run on ``an4_dir`` with its first transcript's words replaced by ``words``;
    (that utterance's id, the number of transcripts, the run)."""
    lines = (an4_dir / "text").read_text().splitlines()
    utt = lines[0].split()[0]
    lines[0] = f"{utt} {words}"
    (an4_dir / "text").write_text("\n".join(lines) + "\n")
    return utt, len(lines), asrkit("validate-data-dir", an4_dir)


def test_text_without_punctuation_to_drop_is_not_warned_of(an4_dir, asrkit):
    _, _, r = _validate_with_first_transcript(an4_dir, asrkit, "[noise] DON'T UH-HUH <unk> TH- YES")
    assert b"WARNING" not in r.stderr, r.stderr


def test_a_dump_dirs_copy_of_the_text_is_not_warned_of_again(an4_dir, asrkit):
    # stage 1 validates dump/<set> (feats, a copy of data/<set>'s text) after data/<set>: the second
    # warning's remedy, asrkit-fix-data-dir --punctuation drop dump/train, changed a copy nothing
    # trains on (the tokenizer reads data/train/text)
    _punctuate(an4_dir)
    # (in this process: a subprocess would import torch for it, 2-3 s CPU)
    run_asrkit_in_process("compute-fbank", f"scp:{an4_dir}/wav.scp", f"ark,scp:{an4_dir}/feats.ark,{an4_dir}/feats.scp")
    (an4_dir / "wav.scp").unlink()
    r = asrkit("validate-data-dir", "--no-wav", an4_dir)
    assert b"WARNING" not in r.stderr, r.stderr


def test_apostrophes_of_elisions_and_possessives_are_not_warned_of(an4_dir, asrkit):
    # LibriSpeech's text (its recipe's own data/<set>) and CMUdict's words hold apostrophes at a
    # word's edge: 'EM, 'TIS, possessive plurals (BOYS'), and TED-LIUM's "IT 'S". The warning
    # called them punctuation and gave as the remedy a --punctuation drop that rewrites the
    # corpus's own spelling ('EM -> EM), its test set's references too.
    _, _, r = _validate_with_first_transcript(an4_dir, asrkit, "TAKE 'EM TO THE BOYS' ROOM 'TIS IT 'S O'ER ’TWAS")
    assert b"WARNING" not in r.stderr, r.stderr
    # a quoted word is punctuation still, as is an apostrophe of its own
    for quoted, first in (("HE SAID 'YES' TO IT", "'YES'"), ("ROCK ' ROLL", "'")):
        utt, n, r = _validate_with_first_transcript(an4_dir, asrkit, quoted)
        assert f"1 of {n} transcripts hold punctuation ({first!r} in {utt!r})" in r.stderr.decode(), r.stderr


def test_a_transcript_left_empty_by_fix_data_dirs_punctuation_drop_is_counted(an4_dir, asrkit):
    # '...' under --punctuation drop is an empty transcript: kept (asrkit-train skips it, scoring
    # reads no words), but the run said 'Kept 130 out of 130 utterances' and nothing else
    lines = (an4_dir / "text").read_text().splitlines()
    utts = [line.split()[0] for line in lines]
    lines[1] = f"{utts[1]} ..."
    lines[2] = f"{utts[2]} -- ?"
    (an4_dir / "text").write_text("\n".join(lines) + "\n")
    r = asrkit("fix-data-dir", "--punctuation", "drop", an4_dir)
    assert r.returncode == 0, r.stderr
    assert (f"{an4_dir}/text: 2 transcript(s) held nothing but punctuation and are empty now (first: {utts[1]}): "
            f"kept") in r.stderr.decode(), r.stderr
    assert f"\n{utts[1]}\n" in (an4_dir / "text").read_text()
    r = asrkit("fix-data-dir", "--punctuation", "drop", an4_dir)
    assert b"held nothing but punctuation" not in r.stderr, r.stderr
