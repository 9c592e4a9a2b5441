import random

import pytest

from asrkit.training.sampler import BucketBatchSampler


@pytest.fixture
def lengths():
    rng = random.Random(0)
    return [rng.randint(50, 1500) for _ in range(300)] + [5000, 4001]


def test_budget_respected_every_utt_once_too_long_reported(lengths):
    s = BucketBatchSampler(lengths, max_frames=4000, seed=3)
    assert sorted(s.too_long) == [300, 301]  # 5000 and 4001 frames > 4000: reported, not silently lost
    for epoch in (1, 2):
        s.set_epoch(epoch)
        batches = list(s)
        assert len(batches) == len(s)
        seen = [i for b in batches for i in b]
        assert sorted(seen) == list(range(300))  # every trainable utterance exactly once
        for b in batches:
            assert len(b) * max(lengths[i] for i in b) <= 4000


def test_shuffled_between_epochs_and_reproducible(lengths):
    a = BucketBatchSampler(lengths, 4000, seed=3)
    b = BucketBatchSampler(lengths, 4000, seed=3)
    assert a.epoch_batches(1) == b.epoch_batches(1)
    assert a.epoch_batches(1) != a.epoch_batches(2)
    assert sorted(map(tuple, a.epoch_batches(1))) == sorted(map(tuple, a.epoch_batches(2)))  # same buckets
    assert BucketBatchSampler(lengths, 4000, seed=4).epoch_batches(1) != a.epoch_batches(1)
    # buckets are length-sorted: a batch holds utterances of similar length
    for batch in a.batches:
        ls = [lengths[i] for i in batch]
        assert max(ls) - min(ls) <= 300


def test_resume_position():
    s = BucketBatchSampler([100] * 40, 400, seed=1)
    s.set_epoch(3)
    full = list(s)
    s2 = BucketBatchSampler([100] * 40, 400, seed=1)
    s2.load_state_dict({"epoch": 3, "start": 4})
    assert list(s2) == full[4:] and len(s2) == len(full) - 4


def test_max_batch_size():
    s = BucketBatchSampler([10] * 25, 10_000, max_batch_size=8, shuffle=False)
    assert [len(b) for b in s] == [8, 8, 8, 1]


@pytest.mark.parametrize("world", [2, 3])
def test_ranks_get_disjoint_batches_same_count(lengths, world):
    ranks = [BucketBatchSampler(lengths, 4000, seed=5, rank=r, world_size=world) for r in range(world)]
    per_rank = [r.epoch_batches(2) for r in ranks]
    assert len({len(b) for b in per_rank}) == 1  # same count on every rank: no rank waits for a peer
    flat = [tuple(b) for bs in per_rank for b in bs]
    assert len(flat) == len(set(flat))  # disjoint
    total = len(ranks[0].batches)
    assert total - len(flat) < world  # at most world-1 batches left out per epoch


def _greedy_reference(lengths, max_frames, max_batch_size):
    """The batching rule spelled out one utterance at a time (what the sampler did before it
    kept its batches as slices of one array): longest first, ties in input order, a batch closed
    when one more utterance would take batch size x longest past max_frames."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches, batch, longest = [], [], 0
    for i in order:
        if lengths[i] > max_frames:
            continue
        longest = max(longest, lengths[i]) if batch else lengths[i]
        full = max_batch_size and len(batch) >= max_batch_size
        if batch and (full or (len(batch) + 1) * longest > max_frames):
            batches.append(batch)
            batch, longest = [], lengths[i]
        batch.append(i)
    return batches + ([batch] if batch else [])


def test_batches_follow_the_greedy_rule_on_random_lengths():
    rng = random.Random(0)
    for trial in range(300):
        lens = [rng.choice([0, 1, rng.randint(1, 50), rng.randint(1, 2000)]) for _ in range(rng.randint(0, 300))]
        max_frames, max_bs = rng.choice([1, 10, 100, 700, 4000]), rng.choice([0, 0, 1, 3, 17])
        world = rng.choice([1, 2, 3])
        s = BucketBatchSampler(lens, max_frames, max_bs, seed=trial, rank=rng.randrange(world), world_size=world)
        assert list(s.batches) == _greedy_reference(lens, max_frames, max_bs), (lens, max_frames, max_bs)
        # what LASTask.largest_batch relies on
        assert all(lens[b[0]] == max(lens[i] for i in b) for b in s.batches)
        for epoch in (1, 2):
            assert s.epoch_items(epoch) == sum(map(len, s.epoch_batches(epoch)))
            s.set_epoch(epoch, min(1, s.per_rank))
            assert list(s) == s.epoch_batches(epoch)[s.start:] and len(s) == len(list(s))


@pytest.mark.parametrize("world, batches", [(2, 3), (3, 7), (4, 5)])
def test_unshuffled_ranks_leave_out_other_batches_each_epoch(world, batches):
    """batching.shuffle=false under DDP: the batches left over for the ranks were the same last ones
    every epoch, so the shortest utterances were never trained on, in silence."""
    lengths = [100] * (4 * batches)
    ranks = [BucketBatchSampler(lengths, 400, shuffle=False, rank=r, world_size=world) for r in range(world)]
    assert len(ranks[0].batches) == batches
    seen = set()
    for epoch in range(1, batches + 1):
        per_rank = [s.epoch_batches(epoch) for s in ranks]
        assert len({len(b) for b in per_rank}) == 1
        flat = [i for bs in per_rank for b in bs for i in b]
        assert len(flat) == len(set(flat)) == 4 * (batches - batches % world)
        seen.update(flat)
        for bs in per_rank:  # still in the sorted order
            assert [b[0] for b in bs] == sorted(b[0] for b in bs)
    assert seen == set(range(len(lengths)))
    # the first epoch leaves out the last batches, as it did
    assert ranks[0].epoch_batches(1)[0] == [0, 1, 2, 3]


def test_fewer_batches_than_ranks_is_said_so(yesno_setup, tmp_path):
    """One batch for two ranks was 'no training batch fits batching.max_frames', about a batch that fit."""
    from asrkit.models.las import LAS
    from asrkit.models.package import PackageMeta
    from asrkit.text.tokenizer import Tokenizer
    from asrkit.training.config import build_config
    from asrkit.training.data import FeatureDataset, load_utterances
    from asrkit.training.las_task import LASTask
    from asrkit.utils.errors import AsrkitError

    from .yesno_dump import TINY_CONFIG

    cfg = build_config({**TINY_CONFIG, "batching": {"max_frames": 100_000}})
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    ds = FeatureDataset(load_utterances(str(yesno_setup / "dump" / "train"), tok))
    model = LAS(ds.idim, tok.vocab_size, cfg.model)
    meta = PackageMeta(model_config=cfg.model, idim=ds.idim, vocab_size=tok.vocab_size, tokens=tok.tokens)
    with pytest.raises(AsrkitError, match=r"only 1 training batch\(es\) of at most batching.max_frames=100000 frames "
                                          r"for 2 ranks"):
        LASTask(model, meta, cfg, ds, None, tok, tmp_path, rank=0, world_size=2)
    LASTask(model, meta, cfg, ds, None, tok, tmp_path, rank=0, world_size=1)  # one rank: it fits
