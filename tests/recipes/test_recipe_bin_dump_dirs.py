"""bin/subset_data_dir.sh and bin/combine_data.sh on dump dirs (what asr.sh's stage 1 writes): the
per-utterance sample rates and the feature options (fbank.yaml) go with the features, as
asrkit-train reads them beside feats.scp to pack the model's feature options and the rates it
resampled up."""
from __future__ import annotations

from recipe_helpers import REPO, read_table, run_sh

BIN = REPO / "bin"


def make_dump_dir(path, utts, fbank="num_mel_bins: 80\n", rate=16000):
    path.mkdir(parents=True)
    (path / "feats.scp").write_text("".join(f"{u} /x/feats.ark:{i}\n" for i, (u, _) in enumerate(utts)))
    (path / "text").write_text("".join(f"{u} WORDS\n" for u, _ in utts))
    (path / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utts))
    (path / "utt2num_frames").write_text("".join(f"{u} 100\n" for u, _ in utts))
    (path / "utt2sample_rate").write_text("".join(f"{u} {rate}\n" for u, _ in utts))
    (path / "fbank.yaml").write_text(fbank)
    run_sh(f"{BIN}/utt2spk_to_spk2utt.sh utt2spk > spk2utt", cwd=path)


def test_subset_of_a_dump_dir_keeps_rates_and_feature_options(tmp_path):
    make_dump_dir(tmp_path / "dump", [(f"a-{i}", "a") for i in range(4)], rate=8000)
    run_sh([f"{BIN}/subset_data_dir.sh", "--first", "2", "dump", "sub"], cwd=tmp_path)
    assert read_table(tmp_path / "sub/utt2sample_rate") == {"a-0": "8000", "a-1": "8000"}
    assert (tmp_path / "sub/fbank.yaml").read_text() == "num_mel_bins: 80\n"
    # Into the same dest from a plain data dir: neither is left there to describe other utterances.
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "utt2spk").write_text("b-0 b\nb-1 b\n")
    (plain / "text").write_text("b-0 X\nb-1 Y\n")
    run_sh([f"{BIN}/subset_data_dir.sh", "--first", "1", "plain", "sub"], cwd=tmp_path)
    assert not (tmp_path / "sub/utt2sample_rate").exists() and not (tmp_path / "sub/fbank.yaml").exists()


def test_combine_of_dump_dirs_keeps_rates_and_feature_options(tmp_path):
    make_dump_dir(tmp_path / "d1", [("a-0", "a")], rate=8000)
    make_dump_dir(tmp_path / "d2", [("b-0", "b")])
    run_sh([f"{BIN}/combine_data.sh", "all", "d1", "d2"], cwd=tmp_path)
    assert read_table(tmp_path / "all/utt2sample_rate") == {"a-0": "8000", "b-0": "16000"}
    assert (tmp_path / "all/fbank.yaml").read_text() == "num_mel_bins: 80\n"
    # Features made with other options: not one source's options passed off as the others'.
    make_dump_dir(tmp_path / "d3", [("c-0", "c")], fbank="num_mel_bins: 40\n")
    proc = run_sh([f"{BIN}/combine_data.sh", "all", "d1", "d3"], cwd=tmp_path)
    assert "d1/fbank.yaml and d3/fbank.yaml differ" in proc.stderr, proc.stderr
    assert not (tmp_path / "all/fbank.yaml").exists()
    assert set(read_table(tmp_path / "all/utt2sample_rate")) == {"a-0", "c-0"}
