"""asrkit: Listen, Attend and Spell speech recognition with Kaldi-style data and recipes.

``from asrkit import Transcriber`` is the Python API for decoding (asrkit.decoding.transcriber);
it is loaded on first use, so ``import asrkit`` (and every command's ``--help``) stays free of
torch and numpy.
"""

__version__ = "0.1.0"
__all__ = ["Transcriber", "__version__"]


def __getattr__(name: str):
    if name == "Transcriber":
        from asrkit.decoding.transcriber import Transcriber

        return Transcriber
    raise AttributeError(f"module 'asrkit' has no attribute {name!r}")
