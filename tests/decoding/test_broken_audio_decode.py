"""asrkit-decode, asrkit-align and the Transcriber on broken audio made from real AN4 recordings:
a stereo file whose channels cancel in the mean, an OGG cut short, an MP3 cut in half. Each was
decoded to some text without a word (digital silence, or the audio before the cut); each is now
skipped, named and counted, or one AsrkitError naming the input. Tiny random models, so texts are
never compared with a reference."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
import soundfile as sf

from asrkit.utils.errors import AsrkitError

from test_decode_cli import an4, inproc  # noqa: F401  (fixtures)

FAST = ["--beam", "1", "--maxlenratio", "0.3"]
CANCEL = "channels cancel out when averaged"


@pytest.fixture(scope="module")
def broken(an4):
    """(the AN4 wavs, {name: a broken copy of the first})."""
    tmp, _, wavs = an4
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    out = tmp / "broken"
    out.mkdir()
    sf.write(out / "inverted.wav", np.stack([x, -x.astype(np.int32)], 1).clip(-32768, 32767).astype(np.int16),
             rate, subtype="PCM_16")
    for name, fmt in (("cut.ogg", "OGG"), ("cut.mp3", "MP3")):
        buf = io.BytesIO()
        sf.write(buf, x, rate, format=fmt)
        blob = buf.getvalue()
        (out / name).write_bytes(blob[: len(blob) * 3 // 4])
    return wavs, {p.name: p for p in out.iterdir()}


def test_decode_skips_names_and_counts_broken_audio(inproc, an4, broken, tmp_path):
    _, model, _ = an4
    wavs, bad = broken
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"{w.stem} {w}\n" for w in wavs)
                   + "".join(f"zz-{n.replace('.', '-')} {p}\n" for n, p in sorted(bad.items())))
    out = tmp_path / "out"
    proc = inproc("decode", "--model", model, *FAST, "--max-bad-percent", "100", "--wav-scp", scp,
                  "--output-dir", out)
    err = proc.stderr.decode()
    assert f"utterance 'zz-inverted-wav' ({scp}:7: {bad['inverted.wav']}): its 2 {CANCEL}" in err, err
    assert "choose one with --channel N" in err
    assert "utterance 'zz-cut-ogg'" in err and "truncated OGG file" in err
    assert "utterance 'zz-cut-mp3'" in err and "truncated MP3 file" in err
    assert "Done 4 out of 7 utterances (3 failed)" in err
    assert sorted(ln.split()[0] for ln in (out / "text").read_text().splitlines()) == sorted(w.stem for w in wavs)
    # the way out the message names: one channel
    proc = inproc("decode", "--model", model, *FAST, "--channel", "0", bad["inverted.wav"])
    assert proc.stdout.decode().startswith("inverted ")
    # over Kaldi's 5 % without --max-bad-percent: the run fails, one ERROR line, no text
    proc = inproc("decode", "--model", model, *FAST, bad["inverted.wav"], wavs[0], check=False)
    errors = [ln for ln in proc.stderr.decode().splitlines() if ln.startswith("ERROR")]
    assert proc.returncode == 1 and len(errors) == 1 and CANCEL in errors[0], proc.stderr.decode()


def test_align_skips_broken_audio(inproc, an4, broken, tmp_path):
    _, model, _ = an4
    wavs, bad = broken
    scp = tmp_path / "wav.scp"
    scp.write_text(f"good {wavs[0]}\ninv {bad['inverted.wav']}\ncut {bad['cut.ogg']}\n")
    text = tmp_path / "text"
    text.write_text("good YES\ninv YES\ncut YES\n")
    proc = inproc("align", "--model", model, "--max-bad-percent", "100", scp, text, tmp_path / "ctm")
    err = proc.stderr.decode()
    assert "utterance 'inv'" in err and CANCEL in err and "truncated OGG file" in err
    assert "Done 1 out of 3 utterances (2 failed)" in err
    assert {ln.split()[0] for ln in (tmp_path / "ctm").read_text().splitlines()} == {"good"}


def test_transcriber_refuses_channels_that_cancel(an4, broken):
    from asrkit.decoding.transcriber import Transcriber

    _, model, _ = an4
    wavs, bad = broken
    t = Transcriber.from_file(model, beam=1)
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    for audio, name in ((str(bad["inverted.wav"]), f"input 0 ({bad['inverted.wav']})"),
                        ((np.stack([x, -x], 1), rate), "input 0"),
                        ((np.stack([x, -x], 1).astype(np.float32) / 32768, rate), "input 0")):
        with pytest.raises(AsrkitError, match=rf"^{re.escape(name)}: its 2 {CANCEL} \(the mix is "):
            t.transcribe(audio)
    # a downmix of channels that agree, or with one silent, still decodes
    for right in (x, np.zeros_like(x)):
        assert isinstance(t.transcribe((np.stack([x, right], 1), rate)).text, str)
    # and of one channel 0.5 ms after the other (two microphones a little apart) as the one channel:
    # the plain mean of such samples was comb-filtered (tests/features/test_audio_formats.py; this
    # tiny model's text does not show it, so the samples it reads are compared)
    later = np.concatenate([np.zeros(8, np.int16), x[:-8]])
    samples, _ = t._read((np.stack([later, x], 1), rate), "input 0")
    np.testing.assert_array_equal(samples[:-8], x[:-8].astype(np.float32))  # (onto the louder: x)


def test_digital_silence_is_decoded_with_a_warning(inproc, an4, tmp_path):
    """All zeros decoded to a made-up text without a word; the model still gives its text (a
    silent recording's text is the model's to give), and the user is told there was nothing."""
    tmp, model, wavs = an4
    x, rate = sf.read(str(wavs[0]), dtype="int16")
    sf.write(tmp_path / "zeros.wav", np.zeros_like(x), rate, subtype="PCM_16")
    proc = inproc("decode", "--model", model, *FAST, tmp_path / "zeros.wav", wavs[0])
    err = proc.stderr.decode()
    # (said so, not "any text for it is the model's guess": asrkit-align reads audio through here too,
    # where the text is the user's and the word times the guess)
    assert ("utterance 'zeros': every sample is 0 (digital silence): there is no speech in it, so what the model "
            "makes of it (a text, word times) is its guess") in err
    assert f"utterance {wavs[0].stem!r}: every sample" not in err
    assert len(proc.stdout.decode().splitlines()) == 2
    # a constant file too short for one frame is skipped as that alone, not first called silence
    sf.write(tmp_path / "one.wav", np.full(10, 205, np.int16), rate, subtype="PCM_16")
    proc = inproc("decode", "--model", model, *FAST, tmp_path / "one.wav", wavs[0], check=False)
    err = proc.stderr.decode()
    assert "skipping utterance 'one' (" in err and "too short for one frame (10 samples < " in err
    assert "every sample" not in err
