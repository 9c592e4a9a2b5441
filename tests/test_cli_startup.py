"""Every command's --help (and asrkit-decode --print-config) without torch, numpy, sentencepiece or
yaml: issue #9 asks --help in 0.5 s, and importing torch alone takes 1-2 s. Checked by what gets
imported, not by a clock (the test machines are loaded)."""
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
res = CliRunner().invoke(main, ["decode", "--beam", "4", "--print-config"])
assert res.exit_code == 0 and "beam: 4" in res.output, res.output
loaded = [m for m in heavy if m in sys.modules]
assert not loaded, f"asrkit decode --print-config imported {{loaded}}"
print(len(command_names()))
"""


def test_help_and_print_config_import_nothing_heavy():
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.strip()) >= 18  # every command was tried
