"""asrkit-score on transcripts that are legal but unusual, each compared with the real sclite:
utterance ids without '-', sclite's trn format, sclite's own markup."""
from __future__ import annotations

import subprocess

import pytest

from asrkit.scoring import score_texts
from asrkit.scoring.report import speaker_table
from asrkit.scoring.transcripts import read_transcript_pair

from .sclite_tool import parse_table


@pytest.mark.parametrize("case_sensitive", [False, True])
def test_speakers_of_ids_without_a_dash_are_sclites(sclite, case_sensitive):
    """sclite -i rm takes the speaker up to the first '-', else up to the first '_', else keeps
    the previous utterance's ('' for the first), and folds ASCII case without -s. Every id without
    a '-' (yesno's 0_1_0, WSJ's 011c0201) was a speaker of its own here, and 'A-1' and 'a-2' two."""
    ids = ["utt1", "_lead", "ab_cd-ef", "x-y_z", "UPPER-1", "Upper-2", "upper_3", "s.1-2", "a__b", "trail_",
           "k_l.m", "xab", "nn-", "0_1_0_0", "0_0_1_1", "011c0201"]
    ref = {u: "a b c" for u in ids}
    hyp = {u: ("a b c" if i % 3 else "a x") for i, u in enumerate(ids)}
    ours = score_texts(ref, hyp, levels=("word",), case_sensitive=case_sensitive).word
    theirs = sclite.run(ref, hyp, case_sensitive=case_sensitive)
    assert parse_table("\n".join(speaker_table(ours))) == theirs.table


def _score_cli(*args):
    from click.testing import CliRunner

    from asrkit.cli.score import main as score_cli

    return CliRunner().invoke(score_cli, [str(a) for a in args])


def _write_trn(path, table):
    path.write_text("".join(f"{text} ({utt})\n" for utt, text in table.items()), encoding="utf-8")
    return path


def _write_text(path, table):
    path.write_text("".join(f"{utt} {text}\n".replace(" \n", "\n") for utt, text in table.items()), encoding="utf-8")
    return path


# sclite's markup that sclite scores as plain words by default (no -D, no -F): an optionally
# deletable word (uh), %HESITATION, a fragment sever-, and <unk>; a trn line may have no words.
MARKUP_REF = {"a-1": "i (uh) want it", "a-2": "i %hesitation want", "a-3": "the sever- server",
              "b-1": "hello <unk> world", "b-2": "i (%HESITATION) go", "b-3": "a b", "b-4": ""}
MARKUP_HYP = {"a-1": "i uh want it", "a-2": "i want", "a-3": "the server", "b-1": "hello <unk> world",
              "b-2": "i go", "b-3": "a (b)", "b-4": "x"}


@pytest.mark.parametrize("ref_format,hyp_format", [("trn", "trn"), ("text", "trn"), ("trn", "text")])
def test_trn_files_are_scored_as_sclite_scores_them(sclite, tmp_path, ref_format, hyp_format):
    """A trn file ('<transcript> (<utt-id>)', ESPnet's ref.trn/hyp.trn) was read as a Kaldi
    text: its first words became the ids and the ids words, scored with exit 0 (a CER of 7/29
    where sclite says 7/25, the speakers 'hello', 'foo'...). Either side may be either format."""
    writers = {"trn": _write_trn, "text": _write_text}
    ref = writers[ref_format](tmp_path / f"ref.{ref_format}", MARKUP_REF)
    hyp = writers[hyp_format](tmp_path / f"hyp.{hyp_format}", MARKUP_HYP)
    out = _score_cli("--mode", "wer", "--output-dir", tmp_path / "out", ref, hyp)
    assert out.exit_code == 0, out.output
    theirs = sclite.run(MARKUP_REF, MARKUP_HYP)
    report = (tmp_path / "out" / "result.txt").read_text(encoding="utf-8")
    assert parse_table(report) == theirs.table
    # sclite: 18 reference words, Sub 2, Del 3, Ins 1
    assert "%WER 33.33 [ 6 / 18, 1 ins, 3 del, 2 sub ]" in out.output, out.output


def test_a_kaldi_text_ending_each_line_in_parentheses_stays_a_kaldi_text(tmp_path):
    """A Kaldi text whose every transcript ends in the same '(noise)' is no trn file: it is
    still read by its first field."""
    text = {"a-1": "yes no (noise)", "a-2": "no (noise)"}
    ref = _write_text(tmp_path / "ref", text)
    hyp = _write_text(tmp_path / "hyp", {"a-1": "yes no", "a-2": "no (noise)"})
    out = _score_cli("--mode", "wer", ref, hyp)
    assert out.exit_code == 0, out.output
    assert "%WER 20.00 [ 1 / 5, 0 ins, 1 del, 0 sub ]" in out.output, out.output


@pytest.mark.parametrize("ref_text", [{"a-1": "yes no (noise)"}, {"a-1": "yes no (noise)", "a-2": "no (laugh)"}])
def test_a_kaldi_text_read_as_trn_shares_no_id_so_it_is_read_as_kaldi(tmp_path, ref_text):
    """One line, or tags that differ, ending in parentheses also read as a trn file: it was scored
    as one (utterances 'noise', 'laugh'), refused as sharing no id with its Kaldi hypothesis. The
    reading of both files that shares ids wins; a trn hypothesis of the same ids still pairs."""
    ref = _write_text(tmp_path / "ref", ref_text)
    hyp_text = {"a-1": "yes no", "a-2": "no (laugh)"}
    hyp = _write_text(tmp_path / "hyp", {k: hyp_text[k] for k in ref_text})
    out = _score_cli("--mode", "wer", ref, hyp)
    assert out.exit_code == 0, out.output
    assert "read as sclite trn" not in out.output
    expected = "%WER 33.33 [ 1 / 3, 0 ins, 1 del, 0 sub ]" if len(ref_text) == 1 else "%WER 20.00 [ 1 / 5, 0 ins, 1 del, 0 sub ]"
    assert expected in out.output, out.output
    # the same reference scored against a hypothesis whose ids are the tags: read as trn after all
    out = _score_cli("--mode", "wer", ref, _write_text(tmp_path / "hyp2", {"noise": "a-1 yes no", "laugh": "a-2 no"}))
    assert out.exit_code == 0 and "%WER 0.00" in out.output, out.output


def test_a_kaldi_text_whose_lines_mostly_end_in_tags_is_scored_not_refused(tmp_path):
    """19 of 20 lines ending in '(noise)' or '(laugh)' made the file 'a trn file with a bad line'
    (24046bb), refused before its Kaldi reading, which pairs with the hypothesis, was tried."""
    ref = {f"s-{i:02d}": "we saw it " + ("(noise)" if i % 2 else "(laugh)") for i in range(19)}
    ref["s-19"] = "no tag here"
    hyp = {utt: "we saw it" for utt in ref}
    out = _score_cli("--mode", "wer", _write_text(tmp_path / "ref", ref), _write_text(tmp_path / "hyp", hyp))
    assert out.exit_code == 0, out.output
    assert "%WER 27.85 [ 22 / 79, 0 ins, 19 del, 3 sub ]" in out.output, out.output
    # a trn file with one line missing its id is still named, when no Kaldi reading pairs
    trn = tmp_path / "ref.trn"
    trn.write_text("".join(f"{text} ({utt})\n" for utt, text in hyp.items() if utt != "s-19") + "no id\n")
    out = _score_cli(trn, _write_trn(tmp_path / "hyp.trn", hyp))
    assert out.exit_code == 1 and f"{trn}:20: no '(<utt-id>)' at the end of the line" in out.output, out.output


@pytest.mark.parametrize("writer", [_write_text, _write_trn])
def test_sclite_alternations_are_refused_naming_the_line(tmp_path, writer):
    """sclite scores '{ want / wanna }' as one word matching either; asrkit-score compared its
    tokens as written (four words, three of them errors) with exit 0."""
    ref = writer(tmp_path / "ref", {"a-1": "i want it", "a-2": "i { want / wanna } it"})
    hyp = writer(tmp_path / "hyp", {"a-1": "i want it", "a-2": "i wanna it"})
    out = _score_cli(ref, hyp)
    assert out.exit_code == 1
    assert f"ERROR (asrkit-score): {ref}:2: utterance 'a-2' holds '{{ want / wanna }}', sclite's alternation " \
           f"markup" in out.output, out.output


def test_a_duplicate_id_in_a_trn_file_names_both_lines(tmp_path):
    ref = _write_trn(tmp_path / "ref", {"a-1": "x y", "a-2": "z"})
    hyp = tmp_path / "hyp"
    hyp.write_text("x y (a-1)\nz (a-2)\nz z (a-1)\n", encoding="utf-8")
    out = _score_cli(ref, hyp)
    assert out.exit_code == 1
    assert f"{hyp}:3: duplicate key 'a-1' (first on line 1)" in out.output, out.output


def test_a_word_holding_a_unicode_space_is_warned_about(asrkit, tmp_path):
    """'日本\\u3000語' is one word to sclite, Kaldi and asrkit-score (test_vs_sclite), but
    asrkit's tokenizer breaks words at U+3000 and U+00A0, so a model's hypothesis is '日本 語':
    every such word scored wrong, with exit 0 and no hint why."""
    from asrkit.scoring.score import inner_spaces

    ref = _write_text(tmp_path / "ref", {"s1-1": "日本\u3000語 テスト", "s1-2": "a\u00a0b c", "s1-3": "plain é"})
    hyp = _write_text(tmp_path / "hyp", {"s1-1": "日本 語 テスト", "s1-2": "a b c", "s1-3": "plain é"})
    proc = asrkit("score", "--mode", "wer", ref, hyp)
    assert proc.stdout.decode().startswith("%WER 66.67 [ 4 / 6, 2 ins, 0 del, 2 sub ]")  # sclite's numbers
    assert (f"WARNING [score] 2 word(s) hold a white space other than ASCII's (e.g. utterance s1-1 of the reference "
            f"{ref}: '\\u65e5\\u672c\\u3000\\u8a9e' holds U+3000): each is scored as one word") \
        in proc.stderr.decode(), proc.stderr.decode()
    assert inner_spaces({"u": "x\u2028y z\u0085"}, {"u": "x y\u3000"}) == [
        ("u", "reference", "x\u2028y"), ("u", "reference", "z\u0085"), ("u", "hypothesis", "y\u3000")]
    assert inner_spaces({"u": "\u00e9t\u00e9 \u200bz"}, {"u": "x\u00a0y", "v": "a\tb"}) == [
        ("u", "hypothesis", "x\u00a0y")]
    assert "white space other than ASCII" not in asrkit("score", hyp, hyp).stderr.decode()


def test_trn_blank_lines_comments_and_tabs_as_sclite_reads_them(sclite, tmp_path):
    """sclite skips blank lines and ';;' comments of a trn file and takes tabs and leading white
    space; a Kaldi text with a blank line is still an error naming it."""
    ref = tmp_path / "ref.trn"
    ref.write_text(";; scored by hand\nhello world (a-1)\n\n\tfoo\tbar (a-2)\r\n\n", encoding="utf-8")
    hyp = _write_text(tmp_path / "hyp", {"a-1": "hello word", "a-2": "foo bar"})
    out = _score_cli("--mode", "wer", "--output-dir", tmp_path / "out", ref, hyp)
    assert out.exit_code == 0, out.output
    assert "%WER 25.00 [ 1 / 4, 0 ins, 0 del, 1 sub ]" in out.output, out.output
    hyp_trn = _write_trn(tmp_path / "hyp.trn", {"a-1": "hello word", "a-2": "foo bar"})
    proc = subprocess.run(sclite.cmd + ["-r", str(ref), "trn", "-h", str(hyp_trn), "trn", "-i", "rm", "-o", "sum",
                                        "stdout"], capture_output=True, text=True, check=True)
    assert parse_table((tmp_path / "out" / "result.txt").read_text(encoding="utf-8")) == parse_table(proc.stdout)
    kaldi = tmp_path / "ref"
    kaldi.write_text("a-1 hello world\n\na-2 foo bar\n", encoding="utf-8")
    out = _score_cli(kaldi, hyp)
    assert out.exit_code == 1 and f"{kaldi}:2: empty line" in out.output, out.output


def test_ids_differing_only_in_case_are_named(asrkit, tmp_path):
    """sclite folds the case of ids, Kaldi (and asrkit-score) does not: 'a-1' in the hypothesis
    is not 'A-1' of the reference. That stays, but the warning now says why they did not match."""
    ref = _write_text(tmp_path / "ref", {"A-1": "x y", "A-2": "z", "b-1": "q"})
    hyp = _write_text(tmp_path / "hyp", {"a-1": "x y", "a-2": "z", "b-1": "q"})
    proc = asrkit("score", "--allow-missing", "--mode", "wer", ref, hyp)
    assert proc.stdout.decode().startswith("%WER 75.00 [ 3 / 4, 0 ins, 3 del, 0 sub ]")
    assert (f"{hyp}: 2 of them differ from a reference utterance's id only in case (e.g. 'a-1' in the hypothesis, "
            f"'A-1' in {ref}): ids are compared as written") in proc.stderr.decode()
    assert "only in case" not in asrkit("score", "--allow-missing", ref, _write_text(
        tmp_path / "hyp2", {"A-1": "x", "c-1": "q"})).stderr.decode()


def test_a_trn_line_without_its_id_is_named(tmp_path):
    """One line of a trn file without its '(<utt-id>)' made the whole file a Kaldi text again:
    two such files were scored by their first words, with exit 0."""
    table = {f"s-{i}": f"w{i} x y" for i in range(30)}
    ref = _write_trn(tmp_path / "ref.trn", table)
    ref.write_text(ref.read_text().replace("w7 x y (s-7)", "w7 x y"), encoding="utf-8")
    out = _score_cli("--mode", "wer", ref, ref)
    assert out.exit_code == 1
    assert (f"ERROR (asrkit-score): {ref}:8: no '(<utt-id>)' at the end of the line, where the other 29 lines of "
            f"this sclite trn file have one") in out.output, out.output


@pytest.mark.parametrize("words", [["zero"], ["yes", "no", "yes"]], ids=["one-word", "three-words"])
@pytest.mark.parametrize("side", ["hyp", "ref"])
def test_a_ctm_is_named_not_scored_as_a_text(tmp_path, words, side):
    """A CTM given for a text (asrkit-decode --ctm's file for its text) was read as a Kaldi text:
    with one word an utterance (FSDD's digits) each line was one, scored with exit 0 ('1 0.00 0.30
    zero 0.98' against 'zero': a WER of 400 %); with more, 'duplicate key' named no CTM."""
    table = {f"s-{i}": " ".join(words) for i in range(3)}
    text = _write_text(tmp_path / "text", table)
    ctm = tmp_path / "ctm"
    ctm.write_text("".join(f"{utt} 1 {0.3 * k:.2f} 0.30 {w} 0.98\n" for utt in table for k, w in enumerate(words)),
                   encoding="utf-8")
    out = _score_cli(*((text, ctm) if side == "hyp" else (ctm, text)))
    assert out.exit_code == 1
    assert f"ERROR (asrkit-score): {ctm}: a CTM ('<utt> <channel> <start> <duration> <word> [<confidence>]' lines" \
        in out.output, out.output
    # a text whose transcripts are numbers is still a text
    numbers = _write_text(tmp_path / "numbers", {u: "1 0 3 5" for u in table})
    assert _score_cli("--mode", "wer", numbers, numbers).exit_code == 0


@pytest.mark.parametrize("name, value, kind", [
    ("wav.scp", "/data/waves/{}.wav", "a wav.scp (every line '<utt-id> <audio file or command |>')"),
    ("segments", "rec1 1.50 2.75", "a segments file (every line '<utt-id> <recording-id> <start> <end>')")],
    ids=["wav.scp", "segments"])
@pytest.mark.parametrize("side", ["hyp", "ref"])
def test_a_wav_scp_or_segments_is_named_not_scored_as_a_text(tmp_path, side, name, value, kind):
    """A data dir's wav.scp or segments given for its text (the wrong file of data/test) was scored
    with exit 0, each audio path (or recording and times) words against the transcript."""
    table = {f"s-{i}": "yes no" for i in range(3)}
    text = _write_text(tmp_path / "text", table)
    other = _write_text(tmp_path / name, {u: value.format(u) for u in table})
    out = _score_cli(*((text, other) if side == "hyp" else (other, text)))
    assert out.exit_code == 1
    assert f"ERROR (asrkit-score): {other}: {kind}, not a text" in out.output, out.output



@pytest.mark.parametrize("lines", [
    ["u1 A 1.5 2.0 X"],  # one line: a CTM line's shape (channel 'A') is no evidence alone
    ["u1 A 1.5 2.0 X 0.5"],
    ["u1 price 0.50 1.99"],  # a segments line's shape
    ["u1 data/x.wav"],  # an audio path's
    ["u1 один 1.5 2.0 два", "u2 три 0.5 1.0 четыре"],  # no CTM channel is a word
    ["u1 item 1.99 0.50", "u2 item 2.49 0.75"],  # no segment ends before it starts
    ["u1 w e |", "u2 w a s |"],  # letter targets: 'w' is a program, but no command's arguments
], ids=["ctm-shape-one-line", "ctm-shape-conf-one-line", "segments-shape-one-line", "audio-path-one-line",
        "cyrillic-channel", "prices", "letters-starting-with-a-program"])
def test_a_text_near_another_files_shape_is_scored(tmp_path, lines):
    """Valid texts near the CTM, segments and wav.scp rules: each was refused as one of those
    files (every line looked like one only because there was one line, or the rule took a word for
    a channel, a reversed pair of numbers for a segment, a letter for a command)."""
    text = tmp_path / "text"
    text.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    out = _score_cli("--mode", "wer", text, text)
    assert out.exit_code == 0, out.output
    assert "%WER 0.00" in out.output, out.output

def test_sclites_null_word_is_no_word(sclite, tmp_path):
    """sclite reads a word '@' (also '@*', '@\\') as no word at all, in either file, and drops
    '@' from words when it splits them into characters; asrkit-score scored '@' as a word (an
    insertion where sclite counts nothing). A word holding '@' is a word to both."""
    ref = {"a-1": "a b", "a-2": "c", "a-3": "x @@ y", "a-4": "a@b c"}
    hyp = {"a-1": "a @ b", "a-2": "c @* @\\", "a-3": "x y", "a-4": "ab c"}
    for level in ("word", "char"):
        ours = getattr(score_texts(ref, hyp, levels=(level,)), level)
        theirs = sclite.run(ref, hyp, char=level == "char")
        assert [(u.counts.corr, u.counts.sub, u.counts.dels, u.counts.ins) for u in ours.utts] == \
            [theirs.utts[u].counts for u in ref], level
    out = _score_cli("--mode", "wer", _write_text(tmp_path / "ref", ref), _write_text(tmp_path / "hyp", hyp))
    assert out.exit_code == 0 and "%WER 25.00 [ 2 / 8, 0 ins, 1 del, 1 sub ]" in out.output, out.output


def test_alignment_lines_upper_case_ascii_only_as_sclite(sclite, tmp_path):
    """An error's words are shown in upper case, ASCII letters only as sclite shows them:
    str.upper() showed the reference 'straße' as 'STRASSE', the hypothesis it was wrong against."""
    ref = {"a-1": "Été àb straße ωmega ok"}
    hyp = {"a-1": "été ÀB STRASSE Ωmega OK"}
    theirs = sclite.run(ref, hyp, utf8=True)
    out = _score_cli("--mode", "wer", "--output-dir", tmp_path / "out", _write_text(tmp_path / "ref", ref),
                     _write_text(tmp_path / "hyp", hyp))
    assert out.exit_code == 0, out.output
    lines = (tmp_path / "out" / "result.txt").read_text(encoding="utf-8").splitlines()
    at = lines.index("id: (a-1)")
    pairs = list(zip(lines[at + 2].split()[1:], lines[at + 3].split()[1:]))
    assert pairs == theirs.utts["a-1"].pairs == [("ÉTé", "éTé"), ("àB", "ÀB"), ("STRAßE", "STRASSE"),
                                                 ("ωMEGA", "ΩMEGA"), ("ok", "ok")]


@pytest.mark.parametrize("level", ["word", "char"])
def test_a_trailing_star_is_dropped_as_sclite_drops_it(sclite, level):
    """sclite reads 'q*' as 'q' and 'c**' as 'c*' (one trailing '*' off a word of two or more
    characters; '*' alone stays), in either file: asrkit-score scored 'q*' against 'q' as a
    substitution where sclite counts it correct."""
    ref = {"a-1": "q* ab* * c** x", "a-2": "b x y z * q", "b-1": "x ** *"}
    hyp = {"a-1": "q ab * c* x*", "a-2": "b** *x y*z z * * q*", "b-1": "x * **"}
    ours = getattr(score_texts(ref, hyp, levels=(level,)), level)
    theirs = sclite.run(ref, hyp, char=level == "char")
    for u in ours.utts:
        c = u.counts
        assert (c.corr, c.sub, c.dels, c.ins) == theirs.utts[u.utt].counts, u.utt
    assert parse_table("\n".join(speaker_table(ours))) == theirs.table


@pytest.mark.parametrize("text", ["a { b", "a b}", "a {noise}b"])
def test_braces_other_than_a_words_are_refused_as_sclite_markup(sclite, tmp_path, text):
    """sclite loses words after a lone '{'; asrkit-score scored the braces as characters of a word."""
    ref = _write_text(tmp_path / "ref", {"a-1": "x", "a-2": text})
    out = _score_cli(ref, _write_text(tmp_path / "hyp", {"a-1": "x", "a-2": "a noise b"}))
    assert out.exit_code == 1
    assert f"{ref}:2: utterance 'a-2' holds " in out.output and "braces are sclite's alternation markup" in out.output, \
        out.output


@pytest.mark.parametrize("level", ["word", "char"])
def test_a_braced_word_is_the_word_inside_as_sclite_reads_it(sclite, tmp_path, level):
    """TED-LIUM's {NOISE} {BREATH} tags: sclite reads a word '{x}' as x (a hypothesis 'noise' is
    correct). 17eb9f3 refused every brace, and the scoring of such a corpus stopped."""
    ref = {"a-1": "a {noise} b", "a-2": "{BREATH} so we {SMACK} went", "a-3": "{x} {y}"}
    hyp = {"a-1": "a noise b", "a-2": "so we {SMACK} want", "a-3": "x"}
    (ours_ref, _), (ours_hyp, _) = read_transcript_pair(_write_text(tmp_path / "ref", ref),
                                                        _write_text(tmp_path / "hyp", hyp))
    ours = getattr(score_texts(ours_ref, ours_hyp, levels=(level,)), level)
    theirs = sclite.run(ref, hyp, char=level == "char")
    for u in ours.utts:
        assert (u.counts.corr, u.counts.sub, u.counts.dels, u.counts.ins) == theirs.utts[u.utt].counts, u.utt


# Punctuation and symbols a transcript may hold (braces aside, which are refused; a line starting
# ';;' or '**' is a comment to sclite).
SYMBOLS = list("()*-%<>[]#'\"~+=/:!?.,&^_|$`\\") + ["a", "b", "A", "1", "é", "@"]


@pytest.mark.parametrize("level", ["word", "char"])
@pytest.mark.parametrize("seed", [1, 2])
def test_words_of_symbols_match_sclite(sclite, level, seed):
    """Words made of punctuation, backslashes, stars, '@' and parentheses, counted utterance by
    utterance against sclite. sclite removes every backslash from a word ('don\\'t' is "don't",
    a word '\\' a word of no characters) and drops '@' from characters: asrkit-score kept them,
    5 characters where sclite counts 4, and "don\\'t" against "don't" a substitution."""
    import random

    rng = random.Random(seed)

    def word():
        return "".join(rng.choice(SYMBOLS) for _ in range(rng.randint(1, 4)))

    def line(words):  # (not starting with '**': a comment to sclite)
        return ("a " if " ".join(words).startswith("**") else "") + " ".join(words)

    ref, hyp = {}, {}
    for k in range(300):
        r = [word() for _ in range(rng.randint(1, 5))]
        ref[f"s{k % 5}-u{k:03d}"] = line(r)
        hyp[f"s{k % 5}-u{k:03d}"] = line([w if rng.random() < 0.6 else word() for w in r])
    ours = getattr(score_texts(ref, hyp, levels=(level,)), level)
    theirs = sclite.run(ref, hyp, char=level == "char", utf8=True)
    wrong = [(u.utt, ref[u.utt], hyp[u.utt]) for u in ours.utts
             if (u.counts.corr, u.counts.sub, u.counts.dels, u.counts.ins) != theirs.utts[u.utt].counts]
    assert not wrong, wrong[:5]
    assert parse_table("\n".join(speaker_table(ours))) == theirs.table
    assert score_texts({"a-1": "don\\'t \\ x"}, {"a-1": "don't x"}).word.utts[0].counts.corr == 2


@pytest.mark.parametrize("writer", [_write_text, _write_trn])
def test_a_nul_byte_in_a_transcript_is_named(tmp_path, writer):
    """A NUL in a transcript (a file a crash left with zeros) was scored as a character, where
    sclite's C strings end at it: the file and line are named instead."""
    ref = writer(tmp_path / "ref", {"a-1": "x y", "a-2": "x\0y"})
    out = _score_cli(ref, writer(tmp_path / "hyp", {"a-1": "x y", "a-2": "x"}))
    assert out.exit_code == 1
    assert f"ERROR (asrkit-score): {ref}:2: utterance 'a-2': a NUL byte in its transcript, at character 1" \
        in out.output, out.output


def test_ids_without_a_speaker_part_are_warned_about(tmp_path):
    """WSJ's 011c0201 holds neither '-' nor '_': sclite -i rm gives it the speaker of the id before
    (the first an empty name), and the speaker table got a blank row with nothing said."""
    table = {"011c0201": "a b", "011c0202": "c"}
    ref, hyp = _write_text(tmp_path / "ref", table), _write_text(tmp_path / "hyp", table)
    out = _score_cli(ref, hyp)
    assert out.exit_code == 0
    assert (f"{ref}: 2 utterance id(s) hold neither '-' nor '_' (e.g. '011c0201'): each is given the speaker of "
            f"the id before it") in out.output, out.output
    utt2spk = tmp_path / "utt2spk"
    utt2spk.write_text("011c0201 011\n011c0202 011\n")
    out = _score_cli("--utt2spk", utt2spk, ref, hyp)
    assert out.exit_code == 0 and "hold neither" not in out.output, out.output


def test_a_hypothesis_pasted_without_newlines_is_refused_before_aligning(tmp_path, monkeypatch):
    """A hypothesis file that lost its newlines (pasted, or 'tr' gone wrong) is one 10 MB line under
    the first utterance's id, every other reference utterance missing: the 5 % rule refused it, but
    only after that line was aligned (minutes; sclite hangs on such a line). The ids decide it,
    so nothing is aligned; with --allow-missing it is scored as before."""
    import asrkit.cli.score as score_cli

    ref = {f"spk{k % 3}-{k:04d}": "the cat sat on the mat" for k in range(40)}
    ref_file = _write_text(tmp_path / "ref", ref)
    hyp_file = tmp_path / "hyp"
    hyp_file.write_text(" ".join(f"{utt} {text}" for utt, text in ref.items()) + "\n", encoding="utf-8")
    aligned = []

    def score_texts(*args, **kwargs):
        aligned.append(args)
        return real(*args, **kwargs)

    real = score_cli.score_texts
    monkeypatch.setattr(score_cli, "score_texts", score_texts)
    out = _score_cli(ref_file, hyp_file)
    assert out.exit_code == 1, out.output
    assert "39 of 40 utterances have no hypothesis" in out.stderr and "--allow-missing" in out.stderr, out.stderr
    assert not aligned
    # every id missing: refused before aligning as much
    other = _write_text(tmp_path / "other", {f"x-{k}": "a" for k in range(3)})
    out = _score_cli(ref_file, other)
    assert out.exit_code == 1 and "shares no utterance id with the reference" in out.stderr, out.stderr
    assert not aligned
    out = _score_cli("--allow-missing", ref_file, hyp_file)
    assert out.exit_code == 0 and len(aligned) == 1, out.stderr
    assert "%WER 211.25 [ 507 / 240, 273 ins, 234 del, 0 sub ]" in out.stdout, out.stdout
