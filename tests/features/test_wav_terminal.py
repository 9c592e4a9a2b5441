"""A wav.scp entry naming a terminal (/dev/stdin or /dev/tty at a prompt) is refused, not read."""
from __future__ import annotations

import os

import pytest

from asrkit.features.wav import read_wav_source
from asrkit.utils.errors import AsrkitError
from process_checks import a_terminal


def test_a_terminal_is_refused_without_reading_it():
    # Read, it waited for someone to type the audio in (where '-' is refused as a terminal). An
    # end of input (Ctrl-D) is typed first, so that a reader that does read it fails at once.
    with a_terminal() as tty:
        with pytest.raises(AsrkitError, match=r"utterance 'u': a terminal, not audio; pipe the recording in"):
            read_wav_source(os.ttyname(tty), "utterance 'u'")
