"""The lean utterance table: same utterances, lengths and tokens as reading the tables naively."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from asrkit.data.table import iter_table, iter_table_fast
from asrkit.text.tokenizer import Tokenizer
from asrkit.training.data import FeatureDataset, load_utterances
from asrkit.training.utt_table import IntListsBuilder, PrefixStrings, PrefixStringsBuilder, Ramp, StringsBuilder
from asrkit.utils.errors import AsrkitError


def test_table_matches_the_dump_dir(yesno_setup):
    train = yesno_setup / "dump" / "train"
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    table = load_utterances(str(train), tok)
    # key and value: the value is the rest of the line (an ark path with a space, under such a TMPDIR)
    scp = [line.split(maxsplit=1) for line in (train / "feats.scp").read_text().splitlines()]
    frames = dict(line.split() for line in (train / "utt2num_frames").read_text().splitlines())
    text = dict(line.split(maxsplit=1) for line in (train / "text").read_text().splitlines())
    assert [table.utt_id(i) for i in range(len(table))] == [u for u, _ in scp]
    assert table.num_frames.dtype == np.int32 and table.tokens.flat.dtype == np.uint8  # a char vocabulary's ids
    for i, (u, loc) in enumerate(scp):
        assert table.num_frames[i] == int(frames[u])
        assert table.tokens[i].tolist() == tok.encode(text[u])
        assert table.text(i) == text[u] and table.source(i) == loc and table.where(i) == f"{train / 'feats.scp'}:{i + 1}"
    u = table[3]  # a row as an object, for code that wants one
    assert (u.utt_id, u.num_frames, u.tokens) == (scp[3][0], int(frames[scp[3][0]]), tok.encode(text[scp[3][0]]))
    sub = table[2:5]
    assert len(sub) == 3 and sub.utt_id(0) == scp[2][0] and sub.tokens[2].tolist() == tok.encode(text[scp[4][0]])
    # Features read through the table equal the ark's (and the dataset pickles small, as it goes to spawned workers)
    import kaldiio

    ds = FeatureDataset(sub)
    _, feats, toks = ds[1]
    np.testing.assert_array_equal(feats.numpy(), kaldiio.load_mat(scp[3][1]))
    assert len(pickle.dumps(ds)) < 20000


def test_training_table_keeps_no_text(yesno_setup):
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    table = load_utterances(str(yesno_setup / "dump" / "train"), tok, keep_text=False)
    assert table.texts is None and table.text(0) == "" and len(table) == 12


def test_bad_feats_scp_entry_fails_at_load(yesno_setup, tmp_path):
    import shutil

    d = tmp_path / "train"
    shutil.copytree(yesno_setup / "dump" / "train", d)
    lines = (d / "feats.scp").read_text().splitlines()
    lines[2] = lines[2] + "[0:x]"
    (d / "feats.scp").write_text("\n".join(lines) + "\n")
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    with pytest.raises(AsrkitError, match=r"feats.scp:3: bad range"):
        load_utterances(str(d), tok)
    lines[2] = lines[1]
    (d / "feats.scp").write_text("\n".join(lines) + "\n")
    # named as every table reader names a duplicate, with the line it repeats
    with pytest.raises(AsrkitError, match=r"feats.scp:3: duplicate key '[^']+' \(first on line 2\)$"):
        load_utterances(str(d), tok)


@pytest.mark.parametrize("content,allow_empty", [
    ("a x\nb  y z \r\nc\twide\n", False),
    ("a x\nb\nc y\n", True),
    ("a x\nb y", False),  # no final newline
    # plain spaces only (the reader's quick path): runs of them, trailing ones, Unicode spaces kept
    ("a x\nb   y  z  \nc\nd   \n", True),
    ("k\u00a0x v\u3000w \nl  \u2028 y\n", False),
])
def test_fast_table_reader_equals_iter_table(tmp_path, content, allow_empty):
    p = tmp_path / "t"
    p.write_bytes(content.encode())
    assert list(iter_table_fast(p, allow_empty)) == [(x.key, x.value, x.lineno) for x in iter_table(p, allow_empty)]


@pytest.mark.parametrize("content", ["a x\n\nb y\n", "a x\n b y\n", "a x\nb\n", "a x\nb \xff\n", "a x\nb   \n", "a x\n\n"])
def test_fast_table_reader_words_errors_as_iter_table(tmp_path, content):
    p = tmp_path / "t"
    p.write_bytes(content.encode("latin-1"))
    with pytest.raises(AsrkitError) as slow:
        list(iter_table(p))
    with pytest.raises(AsrkitError) as fast:
        list(iter_table_fast(p))
    assert str(fast.value) == str(slow.value)


def test_builders_round_trip():
    s = StringsBuilder()
    s.add("é")
    s.add_many(["", "abc", "utt-1"])
    strings = s.build()
    assert list(strings) == ["é", "", "abc", "utt-1"]
    assert list(strings.take(np.array([3, 0]))) == ["utt-1", "é"]
    b = IntListsBuilder()
    b.add([1, 2])
    b.add_flat(np.array([7, 8, 9]), np.array([0, 3]))
    b.add([70000])  # too big for int16: the column stays int32
    lists = b.build()
    assert lists.flat.dtype == np.int32 and [x.tolist() for x in lists] == [[1, 2], [], [7, 8, 9], [70000]]
    # the narrowest type that holds every id, each a bound's both sides
    for values, dtype in (([0, 255], np.uint8), ([0, 256], np.int16), ([-1, 3], np.int16), ([32767], np.int16),
                          ([32768], np.int32), ([-32769], np.int32), ([], np.uint8)):
        b = IntListsBuilder()
        b.add(values)
        lists = b.build()
        assert lists.flat.dtype == dtype and lists[0].tolist() == values, values


def test_prefix_strings_round_trip_and_fall_back_to_whole_strings(monkeypatch):
    values = ["/a/b/feats.1.ark:12", "/a/b/feats.1.ark:345", "/a/b/feats.2.ark:0", "x.ark:7", "plain", "",
              "sox /c/d.wav -t wav - |", "/w/é.wav", "a:b/c", "trailing/", "ark:/x/y.ark:9"]
    b = PrefixStringsBuilder()
    b.add(values[0])
    b.add_many(values[1:])
    built = b.build()
    assert isinstance(built, PrefixStrings) and list(built) == values and len(built) == len(values)
    assert built.prefixes[:2] == ["/a/b/feats.1.ark:", "/a/b/feats.2.ark:"]
    assert list(built.take(np.array([2, 0]))) == [values[2], values[0]]
    assert built.rests.offsets.dtype == np.int32
    # values that share no prefix: kept whole, not as thousands of prefix strings
    monkeypatch.setattr(PrefixStringsBuilder, "MAX_PREFIXES", 3)
    b = PrefixStringsBuilder()
    b.add_many(values)
    whole = b.build()
    assert not isinstance(whole, PrefixStrings) and list(whole) == values


def test_feats_scp_values_are_read_back_whole(yesno_setup):
    """The table's sources are what feats.scp says, line for line, however they are stored."""
    d = yesno_setup / "dump" / "train"
    tok = Tokenizer.load(str(yesno_setup / "data" / "lang" / "tokens.model"))
    table = load_utterances(str(d), tok)
    scp = dict(line.split(maxsplit=1) for line in (d / "feats.scp").read_text().splitlines())
    assert [table.source(i) for i in range(len(table))] == [scp[table.utt_id(i)] for i in range(len(table))]
    assert isinstance(table.sources, PrefixStrings) and len(table.sources.prefixes) == 1


def test_ramp_columns_index_as_their_arrays(yesno_setup, tmp_path):
    """source_index and source_lines are held as a Ramp when they are one, and read as the array
    would be; a dropped utterance (a gap in source_index) keeps the array."""
    import shutil

    column = np.arange(5, 12, dtype=np.int32)
    ramp = Ramp.of(column)
    assert isinstance(ramp, Ramp) and ramp.nbytes == 0 and len(ramp) == 7
    assert [ramp[i] for i in range(-7, 7)] == column[np.arange(-7, 7)].tolist()
    assert ramp[np.int64(3)] == 8 and ramp[np.array([6, 0, 2])].tolist() == [11, 5, 7]
    for i in (7, -8):
        with pytest.raises(IndexError):
            ramp[i]
    for not_one in (np.array([1, 2, 4], dtype=np.int32), np.array([3, 2, 1, 4]), np.array([0, 2, 1, 3])):
        assert Ramp.of(not_one) is not_one

    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    d = tmp_path / "train"
    shutil.copytree(yesno_setup / "dump" / "train", d)
    scp = [line.split(maxsplit=1) for line in (d / "feats.scp").read_text().splitlines()]
    whole = load_utterances(str(d), tok)
    assert isinstance(whole.source_index, Ramp) and isinstance(whole.source_lines, Ramp)
    sub = whole[np.array([4, 1])]
    assert [sub.source(i) for i in range(2)] == [scp[4][1], scp[1][1]]
    assert [sub.where(i) for i in range(2)] == [f"{d / 'feats.scp'}:5", f"{d / 'feats.scp'}:2"]
    text = (d / "text").read_text().splitlines()
    (d / "text").write_text("\n".join(line for line in text if not line.startswith(scp[2][0] + " ")) + "\n")
    gap = load_utterances(str(d), tok, max_missing_ratio=0.5)
    assert not isinstance(gap.source_index, Ramp) and len(gap) == len(scp) - 1
    assert [gap.source(i) for i in range(len(gap))] == [v for k, v in scp if k != scp[2][0]]
    assert gap.where(2) == f"{d / 'feats.scp'}:4"
