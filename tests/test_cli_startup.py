"""Every command's --help (and --print-config of asrkit-decode, -train, -train-lm, -adapt-speakers
and -compute-fbank) without torch, numpy, sentencepiece or yaml: issue #9 asks --help in 0.5 s, and importing torch
alone takes 1-2 s. Checked by what gets imported, not by a clock (the test machines are loaded)."""
from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "numpy", "sentencepiece", "torchaudio", "kaldiio", "soundfile")

PROBE = r"""
import sys
from click.testing import CliRunner
from asrkit.cli import command_names, main
heavy = {heavy!r}
for name in command_names():
    res = CliRunner().invoke(main, [name, "--help"])
    assert res.exit_code == 0 and "Usage:" in res.output, (name, res.output)
    loaded = [m for m in heavy if m in sys.modules]
    assert not loaded, f"asrkit {{name}} --help imported {{loaded}}"
# (asr.sh checks its options with these before any stage: a second or so each, not three;
# compute-fbank's check of empty mel bins imported numpy, 0.1 s of CPU in every run.sh start-up
# check; a VTLN-warped bank still needs torchaudio's warp)
# (adapt-speakers': FSDD's asr.sh checks --adapt-args so twice a run.sh, and its torch cost 3 s of CPU each)
# (decode's with asr.sh's --feats placeholder too: the check of the inputs' names imported numpy,
# 0.1 of its 0.2 s of CPU, in every run.sh's start-up check and stage 5)
for args, want, allowed in ((["decode", "--beam", "4"], "beam: 4", ()), (["train-lm", "--lr", "0.01"], "lr: 0.01", ()),
                            (["decode", "--beam", "4", "--feats", "scp:FEATS"], "beam: 4", ()),
                            (["train", "--set", "training.max_epochs=2", "EXP_DIR"], "max_epochs: 2", ()),
                            (["adapt-speakers", "--epochs", "2", "HYP_TEXT", "ark:TRANSFORMS"], "epochs: 2", ()),
                            (["compute-fbank", "--num-mel-bins", "40"], "num_mel_bins: 40", ())):
    res = CliRunner().invoke(main, [*args, "--print-config"])
    assert res.exit_code == 0 and want in res.output, res.output
    loaded = [m for m in heavy if m in sys.modules and m not in allowed]
    assert not loaded, f"asrkit {{args[0]}} --print-config imported {{loaded}}"
print(len(command_names()))
"""


def test_help_and_print_config_import_nothing_heavy():
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.strip()) >= 18  # every command was tried


RATE_PROBE = r"""
import sys
from click.testing import CliRunner
from asrkit.cli import main
for args, code in (([], 0), (["--sample-frequency", "8000"], 1)):
    res = CliRunner().invoke(main, ["compute-fbank", "--check-rates", *args, "scp:" + sys.argv[1]])
    assert res.exit_code == code and (code == 0 or "sample rate 16000 Hz does not match" in res.output), res.output
loaded = [m for m in ("torch", "torchaudio") if m in sys.modules]
assert not loaded, f"asrkit compute-fbank --check-rates imported {loaded}"
"""


def test_the_rate_check_before_features_imports_no_torch(tmp_path, an4_root):
    """asr.sh's stage 1 reads each set's first utterance with compute-fbank --check-rates before any
    features: its torch import was 2.4 of its 2.8 s of CPU, for a sample rate."""
    wav = sorted((an4_root / "wav" / "an4test_clstk").glob("*/*.wav"))[0]
    (tmp_path / "wav.scp").write_text(f"u1 {wav}\nu2 cat {wav} |\n")
    proc = subprocess.run([sys.executable, "-c", RATE_PROBE, str(tmp_path / "wav.scp")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
