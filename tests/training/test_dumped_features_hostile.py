"""Training from dumped features (feats.scp) given inputs that do not belong together: each is named
for what it is, with its file."""
from __future__ import annotations

import kaldiio
import numpy as np
import pytest

from asrkit.text.tokenizer import Tokenizer
from asrkit.training.data import FeatureDataset, load_cmvn, load_utterances
from asrkit.utils.errors import AsrkitError


def test_cmvn_stats_of_other_features_are_named_as_such(yesno_setup, tmp_path):
    """40-dim stats for 23-dim features: every utterance failed to normalise while its dimension
    was being found, and the run said 'not one utterance's features can be read' of a feats.scp
    whose every feature reads."""
    stats = np.zeros((2, 41))
    stats[0, -1] = 100.0
    stats[1, :-1] = 100.0
    kaldiio.save_mat(str(tmp_path / "cmvn.ark"), stats)
    cmvn = load_cmvn(str(tmp_path / "cmvn.ark"))
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    dump = yesno_setup / "dump" / "train"
    with pytest.raises(AsrkitError, match=f"^CMVN stats \\(--cmvn\\) are for 40-dim features, {dump}/feats.scp has "
                                          f"23-dim features: stats of other features$"):
        FeatureDataset(load_utterances(str(dump), tok), cmvn)
    # the right stats still pass
    FeatureDataset(load_utterances(str(dump), tok), load_cmvn(str(dump / "cmvn.ark")))


def test_a_negative_frame_count_is_a_damaged_table_not_a_short_utterance(yesno_setup, tmp_path):
    """utt2num_frames saying -5 left the utterance out as 'shorter than one frame', naming
    feats.scp, whose features for it are 633 frames long; with 12 utterances that failed the run
    as '1 of 12 utterances lack features or a transcript'."""
    import re
    import shutil

    dump = tmp_path / "train"
    shutil.copytree(yesno_setup / "dump" / "train", dump)
    lines = (dump / "utt2num_frames").read_text().splitlines()
    utt = lines[2].split()[0]
    lines[2] = f"{utt} -5"
    (dump / "utt2num_frames").write_text("".join(line + "\n" for line in lines))
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    with pytest.raises(AsrkitError, match="^" + re.escape(f"{dump}/utt2num_frames:3: bad frame count '-5' for {utt!r} "
                                                          f"(expected an integer in ASCII digits, not negative)")):
        load_utterances(str(dump), tok)


def test_a_set_with_nothing_left_says_why(yesno_setup, tmp_path):
    """Every transcript longer than its frames (frame counts of another frame shift, transcripts of
    other audio): the run said 'no utterance has both features and a non-empty transcript' of a
    set where every utterance has both, and past the 5 % rule 'lack features or a transcript'."""
    import shutil

    dump = tmp_path / "train"
    shutil.copytree(yesno_setup / "dump" / "train", dump)
    lines = (dump / "utt2num_frames").read_text().splitlines()
    (dump / "utt2num_frames").write_text("".join(f"{line.split()[0]} 6\n" for line in lines))
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    with pytest.raises(AsrkitError, match=f"^{dump}: no usable utterance is left \\(12 with more tokens than frames; "
                                          f"see the warnings above\\)$"):
        load_utterances(str(dump), tok)
    (dump / "utt2num_frames").write_text("".join(f"{line.split()[0]} {6 if i < 2 else line.split()[1]}\n"
                                                 for i, line in enumerate(lines)))
    with pytest.raises(AsrkitError, match=r"2 of 12 utterances lack features or a transcript \(more than .*\(left out: "
                                          r"2 with more tokens than frames\)$"):
        load_utterances(str(dump), tok)


def test_an_unreadable_matrix_measured_for_its_length_is_a_bad_item(yesno_setup, tmp_path, caplog):
    """Without utt2num_frames every matrix is read for its length: one entry pointing at a missing ark
    ended the run, while with utt2num_frames the same entry is skipped and counted when its batch
    reads it (as the raw-audio path already did)."""
    import re
    import shutil

    dump = tmp_path / "train"
    shutil.copytree(yesno_setup / "dump" / "train", dump)
    (dump / "utt2num_frames").unlink()
    lines = (dump / "feats.scp").read_text().splitlines()
    utt, value = lines[2].split()
    lines[2] = f"{utt} {tmp_path / 'gone.ark'}:{value.rsplit(':', 1)[1]}"
    (dump / "feats.scp").write_text("".join(line + "\n" for line in lines))
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    table = load_utterances(str(dump), tok, max_missing_ratio=0.1)
    assert len(table) == len(lines) - 1 and utt not in set(table.ids)
    assert f"skipping {dump}/feats.scp:3: utterance {utt!r}" in caplog.text
    assert f"{dump}/feats.scp: 1 utterance(s) could not be read for their length" in caplog.text
    # past the share, the run fails as for any utterance left out
    with pytest.raises(AsrkitError, match=re.escape(f"{dump}: 1 of {len(lines)} utterances lack features")):
        load_utterances(str(dump), tok)


def test_the_cmvn_stats_dimension_is_the_sets(yesno_setup, tmp_path):
    """The set's dimension was a vote of the first 5 utterances even with CMVN stats, which
    asrkit-compute-cmvn sums over the whole set's most common dimension: 3 utterances of another
    dimension at the start made theirs the set's, and training stopped with 'stats of other
    features' given the set's own stats. The stats' dimension is the set's; the odd ones are bad
    items when read."""
    from .test_bad_data import edited

    dump = edited(yesno_setup / "dump" / "train", tmp_path / "train",
                  {i: lambda m: np.ones((m.shape[0], 40), np.float32) for i in range(3)})
    utts = [line.split()[0] for line in (dump / "feats.scp").read_text().splitlines()]
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    ds = FeatureDataset(load_utterances(str(dump), tok), load_cmvn(str(yesno_setup / "dump" / "train" / "cmvn.ark")))
    assert ds.idim == 23
    with pytest.raises(AsrkitError, match=f"^{dump}/feats.scp: utterance '{utts[0]}': feature dimension 40, "
                                          f"the set's is 23$"):
        ds[0]
    assert ds[3][1].shape[1] == 23


def test_the_stats_dimension_is_looked_for_past_the_first_five(yesno_setup, tmp_path, caplog, monkeypatch):
    """With CMVN stats the first 5 readable utterances alone decided: 6 of another dimension at
    the start refused the set ('stats of other features') though the rest matched its stats.
    Utterances are now read until one has the stats' dimension (bounded), and those passed are
    named; past the bound the stats are still another set's."""
    import asrkit.training.data as data
    from .test_bad_data import edited

    dump = edited(yesno_setup / "dump" / "train", tmp_path / "train",
                  {i: lambda m: np.ones((m.shape[0], 40), np.float32) for i in range(6)})
    utts = [line.split()[0] for line in (dump / "feats.scp").read_text().splitlines()]
    tok = Tokenizer.load(yesno_setup / "data" / "lang" / "tokens.model")
    cmvn = load_cmvn(str(yesno_setup / "dump" / "train" / "cmvn.ark"))
    ds = FeatureDataset(load_utterances(str(dump), tok), cmvn)
    assert ds.idim == 23 and ds[6][1].shape[1] == 23
    assert (f"{dump}/feats.scp: the first 6 utterances read have 40-dim features, not the CMVN stats' 23 (bad items "
            f"when read): {' '.join(utts[:5])} ...") in caplog.text
    monkeypatch.setattr(data, "_STATS_DIM_LOOK", 6)
    with pytest.raises(AsrkitError, match=f"^CMVN stats \\(--cmvn\\) are for 23-dim features, {dump}/feats.scp has "
                                          f"40-dim features: stats of other features$"):
        FeatureDataset(load_utterances(str(dump), tok), cmvn)
