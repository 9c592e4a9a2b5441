"""The batched CTC Viterbi aligner against brute force (and torchaudio's aligner where it exists),
and the words it times."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from asrkit.decoding.ctc_align import (ENERGY_DROP_DB, ENERGY_MAX_GAP, ENERGY_MAX_MOVE, Alignment, ctc_forced_align,
                                        energy_span, frame_energy_db, min_frames, word_groups, word_times)


def _collapse(path):
    out, prev = [], None
    for p in path:
        if p != prev and p != 0:
            out.append(p)
        prev = p
    return out


def _brute_force(lp: torch.Tensor, n: int, target):
    """(best score, all best paths) over every one of V**n frame labellings."""
    best, paths = -math.inf, []
    for path in itertools.product(range(lp.size(1)), repeat=n):
        if _collapse(path) != list(target):
            continue
        s = sum(lp[t, path[t]].item() for t in range(n))
        if s > best + 1e-9:
            best, paths = s, [path]
        elif abs(s - best) <= 1e-9:
            paths.append(path)
    return best, paths


@pytest.mark.parametrize("seed", range(6))
def test_viterbi_equals_brute_force_batched_with_own_lengths(seed):
    torch.manual_seed(seed)
    V, T = 4, 6
    lp = (torch.randn(4, T, V) * 2).log_softmax(-1)
    lens = torch.tensor([6, 4, 5, 6])
    targets = [[1, 2, 2], [3], [2, 1], [1, 1, 1]]  # repeats need a blank between them
    got = ctc_forced_align(lp, lens, targets)
    for b in range(4):
        n = int(lens[b])
        best, paths = _brute_force(lp[b, :n], n, targets[b])
        al = got[b]
        assert al is not None and abs(al.score - best) < 1e-4
        assert al.num_frames == n and al.tokens == targets[b]
        # The spans are those of one best path: every token's frames carry its label.
        labels = [0] * n
        for k, (a, e) in enumerate(al.spans):
            assert 0 <= a < e <= n
            for t in range(a, e):
                labels[t] = targets[b][k]
        assert any(all(p[t] == labels[t] or (labels[t] == 0 and p[t] == 0) for t in range(n)) for p in paths)
        assert [a for a, _ in al.spans] == sorted(a for a, _ in al.spans)
        assert all(0.0 <= c <= 1.0 for c in al.confidence)
        # One utterance alone gives the same alignment as in the batch.
        alone = ctc_forced_align(lp[b:b + 1], lens[b:b + 1], [targets[b]])[0]
        assert alone.spans == al.spans and abs(alone.score - al.score) < 1e-5


def test_unalignable_and_empty_transcripts_give_none():
    lp = torch.randn(3, 4, 5).log_softmax(-1)
    lens = torch.tensor([4, 4, 2])
    # 2 2 2 needs 5 frames (two blanks between the repeats); 4 tokens do not fit in 2 frames
    got = ctc_forced_align(lp, lens, [[2, 2, 2], [], [1, 2, 3, 4]])
    assert got == [None, None, None]
    assert min_frames([2, 2, 2]) == 5 and min_frames([1, 2]) == 2
    ok = ctc_forced_align(lp, lens, [[2, 2], [1], [3]])
    assert all(a is not None for a in ok)


def test_agrees_with_torchaudio_where_it_exists():
    taf = pytest.importorskip("torchaudio.functional")
    if not hasattr(taf, "forced_align"):
        pytest.skip("this torchaudio has no forced_align")
    torch.manual_seed(3)
    lp = (torch.randn(2, 30, 7) * 3).log_softmax(-1)
    targets = [[1, 3, 3, 5, 2], [6, 6, 1]]
    got = ctc_forced_align(lp, torch.tensor([30, 22]), targets)
    for b, n in ((0, 30), (1, 22)):
        path, scores = taf.forced_align(lp[b:b + 1, :n], torch.tensor([targets[b]]), blank=0)
        assert abs(float(scores.sum()) - got[b].score) < 1e-4


def test_word_groups_follow_sentencepiece_boundaries():
    # bpe-like: '▁T' starts a word, a lone '▁' separates and is in no word
    assert word_groups(["▁T", "H", "E", "▁", "C", "A", "T"]) == [[0, 1, 2], [4, 5, 6]]
    assert word_groups(["▁", "Y", "E", "S", "▁", "N", "O"]) == [[1, 2, 3], [5, 6]]  # char model
    assert word_groups(["A", "B", "▁C"]) == [[0, 1], [2]]
    assert word_groups(["YES", "NO"], sentencepiece=False) == [[0], [1]]


def test_a_recognised_texts_unknown_tokens_are_words_of_their_own():
    """A decoding's CTM words are its text's: sentencepiece spells <unk> ' ⁇ ' with spaces around,
    so '▁M <unk> L' is the text 'M ⁇ L' (three words scored), which the CTM had as one, 'M⁇L'.
    A given transcript (asrkit-align) keeps an unknown character inside its word."""
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    pieces = ["▁M", "<unk>", "L", "<unk>", "▁", "X", "M"]
    assert word_groups(pieces, unk_words=True) == [[0], [1], [2], [3], [5, 6]]
    assert word_groups(pieces) == [[0, 1, 2, 3], [5, 6]]
    assert word_groups(["<unk>", "<unk>", "▁A"], unk_words=True) == [[0], [1], [2]]
    tok = train_tokenizer(["MAX LEX", "ELM AXE", "EXAM"], TokenizerConfig(model_type="char"))
    ids = {p: i for i, p in enumerate(tok.tokens)}
    rng = np.random.default_rng(0)
    alphabet = [p for p in tok.tokens if p not in ("<blank>", "<sos/eos>")]
    for _ in range(300):
        seq = [ids[p] for p in rng.choice(alphabet, size=int(rng.integers(1, 12)))]
        text = " ".join(w for w in tok.decode(seq).split(" ") if w)  # Recognizer.text
        groups = word_groups([tok.tokens[t] for t in seq], unk_words=True)
        words = ["".join(tok.decode([seq[i] for i in g]).split()) for g in groups]
        assert [w for w in words if w] == text.split(), ([tok.tokens[t] for t in seq], text, words)


def test_word_times_spike_and_extend_rules():
    pieces = ["<blank>", "▁", "A", "B", "▁C"]
    al = Alignment(tokens=[1, 2, 3, 1, 4], spans=[(0, 1), (2, 3), (3, 5), (7, 8), (10, 11)],
                   confidence=[0.9, 0.8, 0.6, 0.9, 0.5], score=-1.0, num_frames=14)
    text = {(2, 3): "AB", (4,): "C"}
    words = word_times(al, pieces, lambda ids: text[tuple(ids)], frame_s=0.04, offset_s=0.0075)
    assert [w.word for w in words] == ["AB", "C"]
    # (kept to the millisecond, as the CTM writes them: ctc_align.TIME_DECIMALS)
    assert words[0].start == round(2 * 0.04 + 0.0075, 3) and words[0].end == round(5 * 0.04 + 0.0075, 3)
    assert words[0].confidence == pytest.approx(0.7) and words[1].confidence == pytest.approx(0.5)
    ext = word_times(al, pieces, lambda ids: text[tuple(ids)], frame_s=0.04, rule="extend", max_extend=2)
    # AB: 2 frames earlier (from 2 to 0), later by at most half the gap 5..10 (to 7); C: 10 -> 8, 11 -> 13
    assert [(round(w.start / 0.04), round(w.end / 0.04)) for w in ext] == [(0, 7), (8, 13)]
    with pytest.raises(ValueError):
        word_times(al, pieces, lambda ids: "", frame_s=0.04, rule="nope")
    # a word with an <unk> inside: sentencepiece spells it " ⁇ ", which made one CTM word several fields
    unk = word_times(al, pieces, lambda ids: {(2, 3): " ⁇ B", (4,): "C ⁇ "}[tuple(ids)], frame_s=0.04)
    assert [w.word for w in unk] == ["⁇B", "C⁇"]


def _contour(T, loud, level=60.0, quiet=10.0):
    """Frame energies (dB): ``quiet`` everywhere, ``level`` over the [a, b) ranges in ``loud``."""
    e = np.full(T, quiet)
    for a, b in loud:
        e[a:b] = level
    return e


def test_energy_span_follows_the_speech_around_the_ctc_span():
    e = _contour(100, [(20, 50)])
    # CTC saw frames 30-38 of a word whose speech is 20-50: both ends move to the speech's edges
    assert energy_span(e, 30, 38, 0, 100, floor_db=10.0) == (20, 50)
    # a CTC span running late, past the speech, is pulled back to where the speech ends
    assert energy_span(e, 40, 60, 0, 100, floor_db=10.0) == (20, 50)
    # a closure shorter than ENERGY_MAX_GAP frames stays inside the word; a longer pause ends it
    e2 = _contour(100, [(20, 40), (40 + ENERGY_MAX_GAP - 1, 60)])
    assert energy_span(e2, 22, 30, 0, 100, floor_db=10.0) == (20, 60)
    e3 = _contour(100, [(20, 40), (40 + ENERGY_MAX_GAP + 2, 60)])
    assert energy_span(e3, 22, 30, 0, 100, floor_db=10.0) == (20, 40)
    # never past the neighbours' CTC spans, nor further than ENERGY_MAX_MOVE from its own
    assert energy_span(e, 30, 38, 25, 45, floor_db=10.0) == (25, 45)
    long = _contour(200, [(0, 200)])
    assert energy_span(long, 100, 110, 0, 200, floor_db=0.0) == (100 - ENERGY_MAX_MOVE, 110 + ENERGY_MAX_MOVE)
    # frames more than ENERGY_DROP_DB under the word's peak are not speech (a fading tail, room noise)
    tail = _contour(100, [(20, 50)])
    tail[50:60] = 60.0 - ENERGY_DROP_DB - 1.0
    assert energy_span(tail, 30, 38, 0, 100, floor_db=0.0) == (20, 50)
    # a word no louder than the noise floor keeps its CTC span
    flat = _contour(100, [])
    assert energy_span(flat, 30, 38, 0, 100, floor_db=10.0) == (30, 38)


def test_word_times_energy_rule_refines_spike_words_on_feature_frames():
    pieces = ["<blank>", "▁", "A", "B", "▁C"]
    # encoder frames of 4 feature frames; AB spikes in encoder frames 2..5, C in 10..11
    al = Alignment(tokens=[1, 2, 3, 1, 4], spans=[(0, 1), (2, 3), (3, 5), (7, 8), (10, 11)],
                   confidence=[0.9, 0.8, 0.6, 0.9, 0.5], score=-1.0, num_frames=14)
    text = {(2, 3): "AB", (4,): "C"}
    energy = _contour(56, [(6, 23), (38, 47)])  # AB's speech: feature frames 6-23, C's: 38-47
    words = word_times(al, pieces, lambda ids: text[tuple(ids)], frame_s=0.04, offset_s=0.0075,
                       rule="energy", energy_db=energy, reduction=4)
    assert [w.word for w in words] == ["AB", "C"]
    assert [(round((w.start - 0.0075) / 0.01), round((w.end - 0.0075) / 0.01)) for w in words] == [(6, 23), (38, 47)]
    assert words[0].confidence == pytest.approx(0.7)  # confidences are the spike rule's
    # two words whose speech runs together meet halfway between their grown ends
    joined = _contour(56, [(4, 50)])
    w2 = word_times(al, pieces, lambda ids: text[tuple(ids)], frame_s=0.04, rule="energy", energy_db=joined,
                    reduction=4)
    assert w2[0].end == pytest.approx(w2[1].start) and w2[0].start < w2[0].end < w2[1].end
    with pytest.raises(ValueError, match="energy"):
        word_times(al, pieces, lambda ids: "", frame_s=0.04, rule="energy")


def test_frame_energy_db_of_log_mel_frames():
    f = np.log(np.array([[1.0, 1.0], [10.0, 90.0]]))
    assert frame_energy_db(f) == pytest.approx([10 * np.log10(2.0), 20.0])
    assert frame_energy_db(np.zeros((0, 2))).shape == (0,)
