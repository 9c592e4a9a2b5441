"""Audio and features: the audio reader (``wav``: a file, pipe or stdin decoded by
soundfile/libsndfile, after ``containers``' header checks), wav.scp and segments tables
(``wav_scp``), resampling and speed perturbation (``resample``), Kaldi fbank (``fbank``,
``extract``), CMVN (``cmvn``) and SpecAugment (``specaug``).

Submodules are imported on demand: ``cmvn`` and the audio modules need only numpy at import
(``wav`` loads soundfile on its first read, ``resample`` torch on its first call), so the commands
built on them start without loading torch.
"""
