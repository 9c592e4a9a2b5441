"""A Kaldi conf/fbank.conf given for asrkit's YAML fbank config is named as such."""
from __future__ import annotations

import re
import subprocess

import pytest

from asrkit.features.fbank import FbankConfig
from asrkit.utils.errors import AsrkitError


def test_a_kaldi_conf_is_named_with_its_conversion(tmp_path):
    # was "fbank.conf: expected a mapping of fbank options, got str"
    conf = tmp_path / "fbank.conf"
    conf.write_text("# from egs/x/s5/conf\n--num-mel-bins=40  # more\n--sample-frequency=8000\n")
    with pytest.raises(AsrkitError, match=r"fbank.conf:2: a Kaldi config \('--num-mel-bins=40'\), but asrkit's "
                                          r"fbank config is YAML") as err:
        FbankConfig.from_options(conf, {})
    # the conversion the message gives makes the YAML config of the same options
    command = re.search(r"convert it with (sed .*? > fbank.yaml)", str(err.value)).group(1)
    subprocess.run(command, shell=True, cwd=tmp_path, check=True)
    cfg = FbankConfig.from_yaml(tmp_path / "fbank.yaml")
    assert (cfg.num_mel_bins, cfg.sample_frequency) == (40, 8000.0)
    # a YAML file that is not a mapping keeps its own message
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(AsrkitError, match="list.yaml: expected a mapping of fbank options, got list"):
        FbankConfig.from_yaml(tmp_path / "list.yaml")
