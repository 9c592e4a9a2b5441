"""asrkit-decode's options around the audio: where the outputs go, --nj/--job, --utt-ids, and what
a failed run leaves. Real yesno audio, the tiny packed model of test_decode_cli."""
from __future__ import annotations

from test_decode_cli import inproc, yesno  # noqa: F401  (fixtures)

FAST = ["--beam", "2", "--maxlenratio", "0.1"]


def test_an_output_dir_that_is_a_kaldi_data_dir_is_refused(inproc, yesno, tmp_path):
    """--wav-scp data/test/wav.scp --output-dir data/test replaced the reference transcripts
    data/test/text with the hypotheses at exit 0 (scored against themselves: 0 % WER)."""
    _, model, wavs = yesno
    data = tmp_path / "data" / "test"
    data.mkdir(parents=True)
    (data / "wav.scp").write_text("".join(f"{w.stem} {w}\n" for w in wavs[:2]))
    (data / "utt2spk").write_text("".join(f"{w.stem} {w.stem}\n" for w in wavs[:2]))
    ref = "".join(f"{w.stem} {w.stem.replace('_', ' ')}\n" for w in wavs[:2])
    (data / "text").write_text(ref)
    proc = inproc("decode", "--model", model, *FAST, "--wav-scp", data / "wav.scp", "--output-dir", data,
                  check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert f"--output-dir {data} holds utt2spk: it is a Kaldi data directory" in err, err
    assert (data / "text").read_text() == ref
    assert sorted(p.name for p in data.iterdir()) == ["text", "utt2spk", "wav.scp"]
    # A decode directory of its own, and one decoded into before, are fine.
    for _ in range(2):
        inproc("decode", "--model", model, *FAST, "--wav-scp", data / "wav.scp", "--output-dir", tmp_path / "dec")
    assert len((tmp_path / "dec" / "text").read_text().splitlines()) == 2
