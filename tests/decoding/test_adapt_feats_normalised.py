"""asrkit-adapt-speakers --feats warns, as asrkit-decode --feats does, when the features look
normalised already: the packed CMVN normalises every input, so apply-cmvn's output (or ESPnet's
normalised dump/) was normalised a second time and the transforms were fitted to it without a
word. asrkit-align reads audio only (no --feats): nothing to warn about there."""
from __future__ import annotations

from test_decode_cli import an4, inproc, normalised_twice_variants  # noqa: F401  (fixtures)


def test_adapt_speakers_names_features_normalised_already(inproc, an4, tmp_path):  # noqa: F811
    _, model, wavs = an4
    raw = normalised_twice_variants(wavs, tmp_path)
    hyp, utt2spk = tmp_path / "hyp", tmp_path / "utt2spk"
    hyp.write_text("".join(f"{u} TWO ONE\n" for u, _ in raw))
    utt2spk.write_text("".join(f"{u} {u.split('-')[1]}\n" for u, _ in raw))
    said = {}
    for name in ("raw", "cmvn", "cmvn_per_utt"):
        out = tmp_path / f"{name}_trans.ark"
        proc = inproc("adapt-speakers", "--model", model, "--utt2spk", utt2spk, "--feats",
                      f"scp:{tmp_path}/{name}.scp", "--epochs", "1", hyp, f"ark:{out}")
        assert out.is_file()  # a warning: the transforms are still written
        err = proc.stderr.decode()
        said[name] = "look normalised already" in err
        if said[name]:
            assert "asrkit-adapt-speakers applies the CMVN packed in the model to --feats itself" in err
    assert said == {"raw": False, "cmvn": True, "cmvn_per_utt": True}
