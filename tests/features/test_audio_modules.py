"""The boundary between asrkit.features.wav and asrkit.features.containers (DEVELOPERS.md's four
audio modules): the readers run the header checks through one public call, check_container (wav.py
imported seven of containers.py's private names, and repeated the header/length-check sequence in
each of its three readers, which could drift apart). That no module reaches into containers.py's
private names, or any other module's, is tests/test_module_boundaries.py's check."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from asrkit.features.containers import ContainerFacts, check_container
from asrkit.utils.errors import AsrkitError


def _wav(seconds: float = 0.2, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(int(seconds * rate), dtype=np.int16), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _reader(blob: bytes):
    return lambda offset, n: blob[offset:offset + n]


def test_check_container_returns_the_facts_decoding_needs():
    blob = _wav()
    facts = check_container(_reader(blob), len(blob), "u", streamed=False)
    assert isinstance(facts, ContainerFacts)
    assert facts.riff is not None and facts.riff.format_tag == 1 and facts.riff.declared == len(blob) - 44
    assert (facts.mp3_counted, facts.mp3_walked) == (False, None)


def test_check_container_names_what_and_refuses_a_truncated_wav():
    blob = _wav()
    with pytest.raises(AsrkitError, match=r"^utterance 'u' \(a.wav\): truncated WAV file \(header promises"):
        check_container(_reader(blob[:-100]), len(blob) - 100, "utterance 'u' (a.wav)", streamed=False)


def test_check_container_refuses_a_header_written_again_only_in_a_stream():
    # What sox writes to a pipe for W64: the header again where the samples start.
    buf = io.BytesIO()
    sf.write(buf, np.zeros(3200, dtype=np.int16), 16000, format="W64", subtype="PCM_16")
    w64 = buf.getvalue()
    data = w64.find(bytes.fromhex("64617461f3acd3118cd100c04f8edb8a")) + 24
    blob = w64[:data] + w64[:data] + w64[data:]
    with pytest.raises(AsrkitError, match="a W64 stream with its header written again inside it"):
        check_container(_reader(blob), len(blob), "u", streamed=True)
    assert check_container(_reader(blob), len(blob), "u", streamed=False).riff is None
