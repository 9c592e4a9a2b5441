"""asrkit-score on transcripts that are legal but unusual, each compared with the real sclite:
utterance ids without '-', sclite's trn format, sclite's own markup."""
from __future__ import annotations

import pytest

from asrkit.scoring import score_texts
from asrkit.scoring.report import speaker_table

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
