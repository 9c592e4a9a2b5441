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
