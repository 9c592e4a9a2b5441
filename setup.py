"""asrkit: attention-based (LAS) speech recognition with Kaldi-style data and recipes."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def console_scripts():
    # One module per command in asrkit/cli/, so a command's code is found from its name:
    # asrkit-compute-fbank -> asrkit/cli/compute_fbank.py. Discovering them here keeps
    # setup.py from becoming a list everybody edits.
    scripts = ["asrkit = asrkit.cli:main"]
    for path in sorted((HERE / "asrkit" / "cli").glob("*.py")):
        if path.stem.startswith("_"):
            continue
        name = "asrkit-" + path.stem.replace("_", "-")
        scripts.append(f"{name} = asrkit.cli.{path.stem}:main")
    return scripts


setup(
    name="asrkit",
    version="0.1.0",
    description="Listen, Attend and Spell speech recognition with Kaldi-style data dirs and recipes",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["asrkit", "asrkit.*"]),
    install_requires=[
        # torch is not pinned: users bring the build that matches their CUDA. 2.5 is the oldest that
        # reads a model.pt: its tokenizer is bytes, which torch.load(weights_only=True) refuses
        # before 2.5 (docs/compatibility.md lists the pairs verified).
        "torch>=2.5",
        "torchaudio>=2.5",
        "kaldiio>=2.18",
        # libsndfile (bundled in its wheels): WAV of every subtype, FLAC, OGG/Vorbis/Opus, MP3.
        "soundfile>=0.12",
        "sentencepiece>=0.1.99",
        "click>=8.0",
        "pyyaml>=5.4",
        "tqdm>=4.60",
        "numpy",
    ],
    extras_require={
        # kaldi-native-fbank is Kaldi's reference fbank, used only to check ours; pytest-xdist runs
        # the suite on several cores (tools/run_tests.sh).
        "test": ["pytest>=7", "pytest-xdist>=3", "kaldi-native-fbank"],
    },
    entry_points={"console_scripts": console_scripts()},
)
