"""Scoring: sclite-identical edit-distance alignment, WER/CER, and sclite/Kaldi-style reports.

The entry points others use::

    from asrkit.scoring import align, error_counts, score_texts
    error_counts(align("a b c".split(), "a x c".split()))   # ErrorCounts(corr=2, sub=1, dels=0, ins=0)
    score_texts(ref_dict, hyp_dict).wer                     # percent
"""
from asrkit.scoring.alignment import AlignedPair, ErrorCounts, align, error_counts
from asrkit.scoring.score import LevelScore, ScoreResult, score_texts
from asrkit.scoring.tokens import char_tokens, word_tokens

__all__ = [
    "AlignedPair",
    "ErrorCounts",
    "LevelScore",
    "ScoreResult",
    "align",
    "char_tokens",
    "error_counts",
    "score_texts",
    "word_tokens",
]
