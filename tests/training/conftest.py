"""Fixtures for the training tests: a tiny real yesno set-up (dump dirs, CMVN, char tokenizer) and a tiny model."""
from __future__ import annotations

import pytest
import yaml

from .yesno_dump import TINY_CONFIG, global_cmvn, make_dump, yesno_waves

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
