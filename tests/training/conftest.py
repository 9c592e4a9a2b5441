"""Fixtures for the training tests: a tiny real yesno set-up (dump dirs, CMVN, char tokenizer) and a tiny model."""
from __future__ import annotations

import pytest
import yaml

from .yesno_dump import TINY_CONFIG, global_cmvn, launch_two_ranks, make_dump, yesno_waves

@pytest.fixture(scope="session")
def yesno_setup(tmp_path_factory, yesno_root):
    """dump/{train (12 utts), dev (4 utts)}, train cmvn.ark, data/lang (char tokenizer), conf/train.yaml."""
    from asrkit.text.train_tokenizer import TokenizerConfig, train_tokenizer

    root = tmp_path_factory.mktemp("yesno")
    waves = yesno_waves(yesno_root)
    assert len(waves) >= 16, f"yesno corpus at {yesno_root} has {len(waves)} waves"
    train = make_dump(root / "dump" / "train", waves[:12])
    make_dump(root / "dump" / "dev", waves[12:16])
    global_cmvn(train)
    texts = (train / "text").read_text().splitlines()
    tok = train_tokenizer([t.split(maxsplit=1)[1] for t in texts], TokenizerConfig(model_type="char"))
    lang = root / "data" / "lang"
    lang.mkdir(parents=True)
    (lang / "tokens.model").write_bytes(tok.to_bytes())
    conf = root / "conf"
    conf.mkdir()
    (conf / "train.yaml").write_text(yaml.safe_dump(TINY_CONFIG))
    return root


@pytest.fixture(scope="session")
def two_rank_run(yesno_setup, tmp_path_factory):
    """One finished 2-rank run (launch_two_ranks) with test_stop_signal's settings: the reference its
    stopped 2-rank run must resume to, and test_ddp's run of --ngpu 2's processes (each start of 2
    ranks costs 15-30 s on 2 loaded cores)."""
    from .test_stop_signal import TWO_RANKS

    exp = tmp_path_factory.mktemp("two_ranks") / "exp"
    launch_two_ranks(yesno_setup, exp, TWO_RANKS)
    return exp
