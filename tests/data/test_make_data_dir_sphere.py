"""asrkit-make-data-dir on shorten-compressed NIST SPHERE files (WSJ's .wv1)."""
from __future__ import annotations

import numpy as np
import soundfile

from asrkit.data.from_audio import make_data_dir
from asrkit.data.make_report import COMPRESSED_SPHERE


def test_compressed_sphere_is_counted_as_such(tmp_path):
    # was "file that is not readable audio (bad or truncated header)" (or "truncated or malformed
    # audio file"): a damaged file, where it is a whole one that sph2pipe decompresses
    audio = tmp_path / "audio"
    audio.mkdir()
    tone = (np.sin(np.arange(8000) * 0.1) * 5000).astype(np.int16)
    soundfile.write(audio / "plain.sph", tone, 16000, format="NIST", subtype="PCM_16")
    head = (audio / "plain.sph").read_bytes()
    assert b"sample_coding -s3 pcm\n" in head[:1024]
    packed = head.replace(b"sample_coding -s3 pcm\n", b"sample_coding -s26 pcm,embedded-shorten-v2.00\n")
    (audio / "wv1.sph").write_bytes(packed)
    (audio / "bad.sph").write_bytes(packed[:60])  # a header cut short: libsndfile cannot open it
    for name in ("plain", "wv1", "bad"):
        (audio / f"{name}.txt").write_text("HELLO\n")
    report = make_data_dir(audio, tmp_path / "data", extensions=["sph"], max_skip_ratio=1)
    assert report.num_utts == 1
    assert report.skipped[COMPRESSED_SPHERE] == ["wv1.sph"]
    assert "bad.sph" not in report.skipped[COMPRESSED_SPHERE]
