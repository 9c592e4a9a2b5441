"""asrkit: Listen, Attend and Spell speech recognition with Kaldi-style data and recipes."""

__version__ = "0.1.0"
