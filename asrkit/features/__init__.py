"""Audio and features: wav.scp reading (``wav``), Kaldi fbank (``fbank``, ``extract``), CMVN
(``cmvn``) and SpecAugment (``specaug``).

Submodules are imported on demand: ``cmvn`` and ``wav`` need only numpy, so the commands
built on them start without loading torch.
"""
