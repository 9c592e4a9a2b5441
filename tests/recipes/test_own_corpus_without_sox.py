"""A stereo corpus through egs/TEMPLATE/asr1's local/data.sh on a machine with only what
tools/install.sh installs (no sox): it stopped at asrkit-make-data-dir ("sox not found on PATH:
10 file(s) have several channels"). The mono copies in data/all/mono_wav/ now carry it through
the held-out split into data/train and data/dev."""
from __future__ import annotations

import numpy as np
import soundfile

from recipe_helpers import new_recipe, path_without, read_table, run_sh, stereo_digits_corpus

SOX_PROGRAMS = {"sox", "soxi", "play", "rec"}


def test_a_stereo_corpus_without_sox(tmp_path, fsdd_root):
    recipe = new_recipe(tmp_path)
    stereo_digits_corpus(recipe, fsdd_root, ".flac")
    env = {"PATH": path_without(SOX_PROGRAMS, tmp_path / "bin")}
    assert run_sh("command -v sox || echo none", cwd=recipe, env=env).stdout.strip() == "none"
    proc = run_sh(["local/data.sh", "--corpus-root", "stereo", "--transcripts", "prompts.txt", "--channel", "1",
                   "--dev-fraction", "0.2", "--test-fraction", "0"], cwd=recipe, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    wav = read_table(recipe / "data/all/wav.scp")
    assert wav == {f"mine-t{i}": str(recipe / f"data/all/mono_wav/mine-t{i}.wav") for i in range(10)}
    for i in range(10):
        speech, _ = soundfile.read(fsdd_root / "recordings" / f"{i}_theo_1.wav", dtype="int16")
        copy, _ = soundfile.read(wav[f"mine-t{i}"], dtype="int16")
        assert np.array_equal(copy, speech)  # the speaker's side, not the mean
    train, dev = read_table(recipe / "data/train/wav.scp"), read_table(recipe / "data/dev/wav.scp")
    assert len(train) + len(dev) == 10 and all(wav[u] == v for u, v in {**train, **dev}.items())
