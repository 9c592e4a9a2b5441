"""The numpy alignment (rows of the table at once, two bits a cell) takes the path the
cell-by-cell loop takes, ties included; a very long hypothesis line is scored in seconds."""
from __future__ import annotations

import random

import asrkit.scoring.alignment as alignment
from asrkit.scoring import align, error_counts, score_texts


def both_ways(ref, hyp, monkeypatch, **kw):
    monkeypatch.setattr(alignment, "_VECTOR_CELLS", 10 ** 18)
    loop = align(ref, hyp, **kw)
    monkeypatch.setattr(alignment, "_VECTOR_CELLS", 1)
    return loop, align(ref, hyp, **kw)


def test_same_path_as_the_loop_on_tie_rich_random_strings(monkeypatch):
    rng = random.Random(7)
    for _ in range(1500):
        vocab = "abcdefghij"[:rng.choice([1, 2, 3, 5, 10])]
        ref = [rng.choice(vocab) for _ in range(rng.randint(0, 35))]
        hyp = [rng.choice(vocab + "AB") for _ in range(rng.randint(0, 35))]
        loop, vec = both_ways(ref, hyp, monkeypatch, case_sensitive=rng.random() < 0.5)
        assert vec == loop, (ref, hyp)
    # hand-checked ones (tests/scoring/test_align.py), through the numpy path
    monkeypatch.setattr(alignment, "_VECTOR_CELLS", 1)
    assert "".join(p.op for p in align("c c c b a".split(), "b a a b".split())) == "DDDCICI"
    assert "".join(p.op for p in align("the cat sat on the mat".split(), "the cat sat at mat mat".split())) == "CCCSSC"


def test_a_very_long_hypothesis_line_against_a_short_reference(monkeypatch):
    # a decoder stuck in a loop: 200k words against 6 (a 10 MB line took half a minute, a Python
    # step a cell, and 1 GB of Python integers)
    rng = random.Random(0)
    hyp = [rng.choice("yes no the cat sat on a MAT".split()) for _ in range(200_000)]
    ref = "the cat sat on the mat".split()
    loop, vec = both_ways(ref, hyp, monkeypatch)
    assert vec == loop
    counts = error_counts(vec)
    assert (counts.ref_len, counts.hyp_len, counts.ins) == (6, 200_000, 200_000 - 6)
    assert counts.corr == 6  # case folded: MAT is mat
    result = score_texts({"u1": " ".join(ref)}, {"u1": " ".join(hyp)}, levels=("word",))
    assert result.word.utts[0].alignment == vec


def test_equal_columns_of_a_long_alignment_are_one_object():
    # 3.75M character columns of a looping hypothesis were 240 MB of equal (op, ref, hyp) tuples
    hyp = list("yes no " * 20_000)
    vec = align(list("the cat"), hyp)
    assert len(vec) >= len(hyp) and len({id(p) for p in vec}) < 50
