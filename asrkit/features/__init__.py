"""Audio and features: the audio reader for wav.scp entries (``wav``: soundfile/libsndfile,
pipes, segments, resampling), Kaldi fbank (``fbank``, ``extract``), CMVN (``cmvn``) and
SpecAugment (``specaug``).

Submodules are imported on demand: ``cmvn`` and ``wav`` need only numpy at import (``wav`` loads
soundfile on its first read, torch only to resample), so the commands built on them start
without loading torch.
"""
