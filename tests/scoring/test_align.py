"""Hand-checked alignments and scores (each one also confirmed with the real sclite 2.10)."""
from __future__ import annotations

import math

import pytest

from asrkit.scoring import ErrorCounts, align, char_tokens, error_counts, score_texts
from asrkit.scoring.report import result_report, speaker_table, summary_lines, utt_alignment_lines
from asrkit.scoring.score import sclite_pct, sclite_round

from .sclite_tool import parse_table


def ops(ref: str, hyp: str, **kw) -> str:
    return "".join(p.op for p in align(ref.split(), hyp.split(), **kw))


@pytest.mark.parametrize(
    "ref, hyp, expected",
    [
        ("the cat sat on the mat", "the cat sat at mat mat", "CCCSSC"),  # two subs (8) beat del+ins+sub (10)
        ("a b", "b a", "DCI"),  # del+ins tie with ins+del: sclite takes the insertion at the end
        ("ab cd", "abcd", "DS"),  # diagonal preferred when it ties with a deletion
        ("hello world", "hello", "CD"),
        ("a b c d", "a x c d e", "CSCCI"),
        ("", "x y", "II"),
        ("x y", "", "DD"),
        ("", "", ""),
        ("c c c b a", "b a a b", "DDDCICI"),  # 5 errors where Levenshtein needs 4: sclite's 4/3/3 weights
    ],
)
def test_hand_checked_word_alignments(ref, hyp, expected):
    assert ops(ref, hyp) == expected


def test_counts_and_rates():
    counts = error_counts(align("c c c b a".split(), "b a a b".split()))
    assert counts == ErrorCounts(corr=2, sub=0, dels=3, ins=2)
    assert (counts.ref_len, counts.hyp_len, counts.errors) == (5, 4, 5)
    assert counts.error_rate == pytest.approx(100.0)
    assert ErrorCounts(1, 2, 3, 4) + ErrorCounts(1, 1, 1, 1) == ErrorCounts(2, 3, 4, 5)
    # No reference word: undefined. 3 insertions are not 0 % (sclite's dtl says UNDEF, Kaldi's
    # compute-wer inf); no error at all is 0.
    assert ErrorCounts(0, 0, 0, 3).error_rate == math.inf
    assert ErrorCounts(0, 0, 0, 0).error_rate == 0.0


def test_case_is_ignored_like_sclite_unless_asked():
    assert ops("The Cat", "the cat") == "CC"
    assert ops("The Cat", "the cat", case_sensitive=True) == "SS"
    assert ops("ÉTÉ", "été") == "S"  # only ASCII is folded, as sclite's default 8-bit mode
    # tokens come back as given, not folded
    assert align(["The"], ["the"])[0] == ("C", "The", "the")


def test_characters_drop_spaces_like_sclite_c():
    assert char_tokens("ab cd") == ["a", "b", "c", "d"]
    assert char_tokens("  日本 語 ") == ["日", "本", "語"]
    r = score_texts({"s-1": "ab cd"}, {"s-1": "abcd"})
    assert r.wer == pytest.approx(100.0) and r.cer == 0.0


def test_score_texts_missing_extra_and_speakers():
    ref = {"spk1-a": "the cat sat on the mat", "spk1-b": "hello world", "spk2-c": "a b c d", "spk2-d": ""}
    hyp = {"spk1-a": "the cat sat at mat mat", "spk2-c": "a x c d e", "spk2-d": "foo", "spk9-z": "extra"}
    r = score_texts(ref, hyp)
    assert r.missing == ["spk1-b"] and r.extra == ["spk9-z"]
    t = r.word.totals
    assert (t.corr, t.sub, t.dels, t.ins) == (7, 3, 2, 2)
    assert r.wer == pytest.approx(100 * 7 / 12)
    assert [s.spk for s in r.word.speakers()] == ["spk1", "spk2"]
    assert r.word.sent_err == 4
    by_utt2spk = score_texts(ref, hyp, utt2spk={u: "all" for u in ref})
    assert [s.spk for s in by_utt2spk.word.speakers()] == ["all"]
    assert by_utt2spk.wer == r.wer
    assert r.word.confusions() == {("on", "at"): 1, ("the", "mat"): 1, ("b", "x"): 1}
    assert r.word.insertions() == {"e": 1, "foo": 1} and r.word.deletions() == {"hello": 1, "world": 1}


def test_only_requested_levels():
    r = score_texts({"a-1": "x"}, {"a-1": "y"}, levels=("char",))
    assert r.word is None and r.cer == 100.0
    with pytest.raises(ValueError):
        r.wer
    with pytest.raises(ValueError):
        score_texts({}, {}, levels=("phone",))


def test_sclite_rounding():
    assert sclite_round(56.25) == pytest.approx(56.3)  # printf alone would print 56.2
    assert sclite_round(-0.25) == pytest.approx(-0.3)
    assert sclite_pct(1, 3) == pytest.approx(33.333333, rel=1e-6)
    assert sclite_pct(5, 0) == 0.0


def test_speaker_table_matches_hand_checked_sclite_output():
    # sclite -i rm -o sum on these pairs printed exactly these numbers.
    ref = {"spk1-u1": "the cat sat on the mat", "spk1-u2": "hello world", "spk2-u3": "a b c d",
           "spk2-u4": "", "spk2-u5": "x y"}
    hyp = {"spk1-u1": "the cat sat at mat mat", "spk1-u2": "hello", "spk2-u3": "a x c d e",
           "spk2-u4": "foo", "spk2-u5": ""}
    rows = parse_table("\n".join(speaker_table(score_texts(ref, hyp).word)))
    assert rows == [
        ["spk1", "2", "8", "62.5", "25.0", "12.5", "0.0", "37.5", "100.0"],
        ["spk2", "3", "6", "50.0", "16.7", "33.3", "33.3", "83.3", "100.0"],
        ["Sum/Avg", "5", "14", "57.1", "21.4", "21.4", "14.3", "57.1", "100.0"],
        ["Mean", "2.5", "7.0", "56.3", "20.8", "22.9", "16.7", "60.4", "100.0"],
        ["S.D.", "0.7", "1.4", "8.8", "5.9", "14.7", "23.6", "32.4", "0.0"],
        ["Median", "2.5", "7.0", "56.3", "20.8", "22.9", "16.7", "60.4", "100.0"],
    ]


def test_pralign_lines_and_summary():
    r = score_texts({"spk1-u1": "the cat sat on the mat", "s-2": "x y"}, {"spk1-u1": "the cat sat at mat mat"})
    u = r.word.utts[0]
    assert utt_alignment_lines(u) == [
        "id: (spk1-u1)",
        "Scores: (#C #S #D #I) 4 2 0 0",
        "REF:  the cat sat ON THE mat ",
        "HYP:  the cat sat AT MAT mat ",
        "Eval:             S  S       ",
    ]
    assert utt_alignment_lines(r.word.utts[1])[2:] == ["REF:  X Y ", "HYP:  * * ", "Eval: D D "]
    assert summary_lines(r) == [
        "%WER 50.00 [ 4 / 8, 0 ins, 2 del, 2 sub ]",
        "%CER 36.84 [ 7 / 19, 1 ins, 3 del, 3 sub ]",
        "%SER 100.00 [ 2 / 2 ]",
        "Scored 2 sentences, 1 not present in hyp.",
    ]


def test_a_large_scoring_shares_its_columns_and_writes_its_report_as_made():
    """Each utterance had its own AlignedPair objects and result.txt was built whole before being
    written: 100k utterances took asrkit-score to 670 MB, 1M towards 6.5 GB (hostile-input sweep 8a;
    278 MB now). Columns equal in op and tokens are one object over the whole scoring, and the
    report is made line by line as it is written."""
    import random
    import types


    rng = random.Random(0)
    words = "YES NO ONE TWO THREE".split()
    ref = {f"s-{i:05d}": " ".join(rng.choice(words) for _ in range(6)) for i in range(3000)}
    hyp = {u: " ".join(w if rng.random() < 0.8 else rng.choice(words) for w in t.split()) for u, t in ref.items()}
    result = score_texts(ref, hyp)
    for level in (result.word, result.char):
        columns = [p for u in level.utts for p in u.alignment]
        assert len({id(p) for p in columns}) == len(set(columns)) < 100
    report = result_report(result)
    assert isinstance(report, types.GeneratorType)
    lines = list(report)
    assert "id: (s-02999)" in lines and lines.count("") > 6000


def test_speakers_without_reference_tokens_leave_the_statistics_as_sclite_drops_them():
    """sclite removes such speakers from the Mean/S.D./Median by deleting at each one's original
    index in arrays it has already shifted (so with several it may drop another speaker), which
    asrkit reproduces; done as list deletions that was quadratic, 11 s for 200,000 one-utterance
    speakers with a fifth of the references empty (hostile-input sweep 8a). Checked here against
    those deletions on random sets."""
    import random

    from asrkit.scoring.score import PERCENT_COLUMNS, _mean, _median, _sd

    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 12)
        ref = {f"s{i}-a": " ".join(rng.choice("AB") for _ in range(rng.randint(0, 3)) if rng.random() < 0.6)
               for i in range(n)}
        hyp = {u: " ".join(rng.choice("AB") for _ in range(rng.randint(0, 3))) for u in ref}
        score = score_texts(ref, hyp, levels=("word",)).word
        spks = score.speakers()
        for col in PERCENT_COLUMNS:
            values = [s.percents()[col] for s in spks]
            for i, s in enumerate(spks):  # sclite's loop
                if s.num_ref == 0:
                    del values[i]
                    values.append(-1000.0)
            values = values[:len(spks) - sum(s.num_ref == 0 for s in spks)]
            stats = score.speaker_stats()
            for name, fn in (("Mean", _mean), ("S.D.", _sd), ("Median", _median)):
                assert stats[name][col] == fn(values), (ref, hyp, col, name)
