"""Kaldi CMVN stats and their application, checked against plain numpy on real AN4 features."""
from __future__ import annotations

import io

import kaldiio
import numpy as np
import pytest
from feat_helpers import leftovers, run_cli, write_scp

from asrkit.cli import apply_cmvn as apply_cmvn_cli
from asrkit.cli import compute_cmvn as compute_cmvn_cli
from asrkit.data.specifier import write_matrices
from asrkit.features.cmvn import Cmvn, accumulate_cmvn, apply_cmvn, compute_cmvn_stats, load_cmvn
from asrkit.utils.errors import AsrkitError


@pytest.fixture(scope="module")
def an4_feats(tmp_path_factory, an4_wavs):
    """fbank of 9 AN4 test utterances (3 speakers x 3) as feats.ark/scp, plus spk2utt/utt2spk."""
    from asrkit.features.extract import compute_fbank_table
    from asrkit.features.fbank import FbankConfig

    d = tmp_path_factory.mktemp("cmvn")
    by_spk = {}
    for w in an4_wavs:
        by_spk.setdefault(w.parent.name, []).append(w)
    wavs = [w for spk in sorted(by_spk)[:3] for w in by_spk[spk][:3]]
    scp = write_scp(d / "wav.scp", [(w.stem, w) for w in wavs])
    compute_fbank_table(f"scp:{scp}", f"ark,scp:{d}/feats.ark,{d}/feats.scp", FbankConfig())
    utt2spk = {w.stem: w.parent.name for w in wavs}
    spk2utt = {}
    for utt, spk in utt2spk.items():
        spk2utt.setdefault(spk, []).append(utt)
    write_scp(d / "utt2spk", utt2spk.items())
    write_scp(d / "spk2utt", [(s, " ".join(u)) for s, u in spk2utt.items()])
    feats = dict(kaldiio.load_scp(str(d / "feats.scp")).items())
    return d, feats, utt2spk, spk2utt


def numpy_stats(mats):
    x = np.concatenate(mats).astype(np.float64)
    stats = np.zeros((2, x.shape[1] + 1))
    stats[0, :-1], stats[1, :-1], stats[0, -1] = x.sum(0), (x * x).sum(0), len(x)
    return stats


def numpy_cmvn(feats, stats, norm_vars=True):
    count = stats[0, -1]
    mean = stats[0, :-1] / count
    out = feats - mean
    if norm_vars:
        out = out / np.sqrt(stats[1, :-1] / count - mean ** 2)
    return out


def test_global_stats_equal_numpy(an4_feats, asrkit):
    d, feats, _, _ = an4_feats
    asrkit("compute-cmvn", f"scp:{d}/feats.scp", d / "cmvn.ark")
    raw = (d / "cmvn.ark").read_bytes()
    assert raw.startswith(b"\0BDM "), "Kaldi's binary double matrix, no key: readable by Kaldi's apply-cmvn"
    stats = kaldiio.load_mat(str(d / "cmvn.ark"))
    assert stats.shape == (2, 81) and stats.dtype == np.float64
    expected = numpy_stats(list(feats.values()))
    np.testing.assert_allclose(stats, expected, rtol=1e-12)
    assert stats[0, -1] == sum(len(m) for m in feats.values()) and stats[1, -1] == 0
    np.testing.assert_array_equal(load_cmvn(str(d / "cmvn.ark")), stats)
    result = run_cli(compute_cmvn_cli, ["--binary", "false", f"ark:{d}/feats.ark", d / "cmvn.txt"])
    assert result.exit_code == 0, result.stderr
    assert (d / "cmvn.txt").read_text().lstrip().startswith("[")
    # kaldiio reads a text matrix back as float32: compare at float32 precision.
    np.testing.assert_allclose(load_cmvn(str(d / "cmvn.txt")), expected, rtol=1e-6)


def test_per_speaker_and_per_utterance_stats(an4_feats, tmp_path):
    d, feats, _, spk2utt = an4_feats
    spk2utt = dict(spk2utt)
    first = next(iter(spk2utt))
    spk2utt[first] = spk2utt[first] + ["not-an-utt"]
    spk2utt["ghost"] = ["nobody-1", "nobody-2"]
    write_scp(tmp_path / "spk2utt", [(s, " ".join(u)) for s, u in sorted(spk2utt.items())])
    result = run_cli(compute_cmvn_cli, ["--spk2utt", f"ark:{tmp_path}/spk2utt", f"scp:{d}/feats.scp",
                                        f"ark,scp:{tmp_path}/cmvn_spk.ark,{tmp_path}/cmvn_spk.scp"])
    assert result.exit_code == 0, result.stderr
    assert "no features for utterance 'not-an-utt'" in result.stderr and "speaker 'ghost' has no features" in result.stderr
    table = kaldiio.load_scp(str(tmp_path / "cmvn_spk.scp"))
    assert sorted(table) == sorted(s for s in spk2utt if s != "ghost")
    for spk in table:
        np.testing.assert_allclose(table[spk], numpy_stats([feats[u] for u in spk2utt[spk] if u in feats]), rtol=1e-12)
    # Without --spk2utt a wspecifier gets stats per utterance, as Kaldi's compute-cmvn-stats does.
    result = run_cli(compute_cmvn_cli, [f"scp:{d}/feats.scp", f"ark:{tmp_path}/cmvn_utt.ark"])
    assert result.exit_code == 0, result.stderr
    per_utt = dict(kaldiio.load_ark(str(tmp_path / "cmvn_utt.ark")))
    assert list(per_utt) == list(feats)
    for utt, m in feats.items():
        np.testing.assert_allclose(per_utt[utt], numpy_stats([m]), rtol=1e-12)
    result = run_cli(compute_cmvn_cli, ["--spk2utt", f"ark:{tmp_path}/spk2utt", f"scp:{d}/feats.scp", "x.ark"])
    assert result.exit_code == 1 and "with --spk2utt the output must be a wspecifier" in result.stderr
    # An utterance with features but in no speaker's list: left out of every speaker's stats, now
    # with a warning naming it (it was left out without a word).
    dropped = spk2utt[first][0]
    spk2utt[first] = spk2utt[first][1:]
    write_scp(tmp_path / "spk2utt", [(s, " ".join(u)) for s, u in sorted(spk2utt.items())])
    result = run_cli(compute_cmvn_cli, ["--spk2utt", f"ark:{tmp_path}/spk2utt", f"scp:{d}/feats.scp",
                                        f"ark:{tmp_path}/cmvn_spk2.ark"])
    assert result.exit_code == 0, result.stderr
    assert (f"1 utterance(s) with features are in no speaker of spk2utt, left out of the stats: {dropped}"
            in result.stderr)
    # The summary counts what went into the stats: it said "Done 9 out of 9", "(9 utterances)".
    n = len(feats) - 1
    assert f"Done {n} out of {n} utterances; failed 0" in result.stderr, result.stderr
    assert (f"stats for {len(spk2utt) - 1} speakers ({n} utterances); 1 speakers without features, 3 utterances "
            f"missing, 1 in no speaker (left out)") in result.stderr, result.stderr
    _, counts = compute_cmvn_stats(iter(feats.items()), {s: u for s, u in spk2utt.items()})
    assert counts["utts"] == n and counts["unlisted"] == 1
    # None of them in spk2utt: the warning names them before the error it explains.
    write_scp(tmp_path / "spk2utt", [("ghost", "nobody-1")])
    result = run_cli(compute_cmvn_cli, ["--spk2utt", f"ark:{tmp_path}/spk2utt", f"scp:{d}/feats.scp",
                                        f"ark:{tmp_path}/cmvn_spk3.ark"])
    assert result.exit_code == 1 and "no speaker in spk2utt has features" in result.stderr, result.stderr
    assert f"{len(feats)} utterance(s) with features are in no speaker of spk2utt" in result.stderr


@pytest.mark.parametrize("norm_vars", [True, False])
def test_apply_cmvn_global_equals_numpy(an4_feats, norm_vars):
    d, feats, _, _ = an4_feats
    stats = numpy_stats(list(feats.values()))
    write_matrices(f"ark:{d}/g{norm_vars}.ark", {"x": stats})  # any matrix file works as a stats file
    kaldiio.save_mat(str(d / f"g{norm_vars}.mat"), stats)
    # A pipeline: features in on stdin (ark:-), normalized features out on stdout (ark:-).
    result = run_cli(apply_cmvn_cli, ["--norm-vars", str(norm_vars).lower(), d / f"g{norm_vars}.mat", "ark:-", "ark:-"],
                     input=(d / "feats.ark").read_bytes())
    assert result.exit_code == 0, result.stderr
    assert "Done 9 out of 9 utterances; failed 0" in result.stderr
    got = dict(kaldiio.load_ark(io.BytesIO(result.stdout_bytes)))
    assert list(got) == list(feats)
    for utt, m in feats.items():
        assert got[utt].dtype == np.float32
        np.testing.assert_allclose(got[utt], numpy_cmvn(m.astype(np.float64), stats, norm_vars), atol=2e-5)
    if norm_vars:
        allx = np.concatenate(list(got.values()))
        np.testing.assert_allclose(allx.mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(allx.std(0), 1, atol=1e-4)


def test_apply_cmvn_per_speaker(an4_feats, tmp_path, asrkit):
    d, feats, utt2spk, spk2utt = an4_feats
    speakers = sorted(spk2utt)
    table = {s: numpy_stats([feats[u] for u in spk2utt[s]]) for s in speakers}
    write_matrices(f"ark:{tmp_path}/cmvn_spk.ark", table)
    out = tmp_path / "out"
    proc = asrkit("apply-cmvn", "--utt2spk", f"ark:{d}/utt2spk", f"ark:{tmp_path}/cmvn_spk.ark",
                  f"scp:{d}/feats.scp", f"ark,scp:{out}/feats.ark,{out}/feats.scp")
    assert "Done 9 out of 9 utterances; failed 0" in proc.stderr.decode()
    got = kaldiio.load_scp(str(out / "feats.scp"))
    assert sorted(got) == sorted(feats)
    for utt in got:
        np.testing.assert_allclose(got[utt], numpy_cmvn(feats[utt].astype(np.float64), table[utt2spk[utt]]), atol=2e-5)
    # A speaker without stats: its 3 of the 9 utterances are skipped and named, which is more
    # than Kaldi's 5 %: exit 1 and nothing written.
    write_matrices(f"ark:{tmp_path}/cmvn_2spk.ark", {s: table[s] for s in speakers[:2]})
    out1 = tmp_path / "out1"
    proc = asrkit("apply-cmvn", "--utt2spk", f"ark:{d}/utt2spk", f"ark:{tmp_path}/cmvn_2spk.ark",
                  f"scp:{d}/feats.scp", f"ark,scp:{out1}/feats.ark,{out1}/feats.scp", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Done 6 out of 9 utterances; failed 3" in err and f"no stats for speaker '{speakers[2]}'" in err
    assert "3 of 9 utterances failed" in err
    assert leftovers(out1) == []
    # Every utterance failing: exit 1 and nothing written.
    write_matrices(f"ark:{tmp_path}/other.ark", {"nobody": table[speakers[0]]})
    out2 = tmp_path / "out2"
    proc = asrkit("apply-cmvn", "--utt2spk", f"ark:{d}/utt2spk", f"ark:{tmp_path}/other.ark",
                  f"scp:{d}/feats.scp", f"ark,scp:{out2}/feats.ark,{out2}/feats.scp", check=False)
    assert proc.returncode == 1 and "all 9 utterances failed" in proc.stderr.decode()
    assert leftovers(out2) == []


def test_non_finite_features_are_an_error(tmp_path, asrkit):
    rng = np.random.default_rng(0)
    good, bad = rng.standard_normal((20, 4)).astype(np.float32), rng.standard_normal((10, 4)).astype(np.float32)
    bad[3, 2] = np.nan
    write_matrices(f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp", {"good": good, "bad": bad})
    out = tmp_path / "out"
    proc = asrkit("compute-cmvn", f"scp:{tmp_path}/f.scp", out / "cmvn.ark", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "skipping utterance 'bad': non-finite feature value nan at frame 3, dim 2" in err
    assert "ERROR (asrkit-compute-cmvn): 1 of 2 utterances failed (bad)" in err
    assert leftovers(out) == []
    proc = asrkit("compute-cmvn", f"scp:{tmp_path}/missing.scp", out / "cmvn.ark", check=False)
    assert proc.returncode == 1 and "missing.scp: no such file" in proc.stderr.decode()


def test_library_edge_cases(caplog):
    x = np.random.default_rng(1).standard_normal((50, 3)).astype(np.float32)
    x[:, 1] = 7.0  # a constant dimension: the variance is floored, not divided by zero
    stats = accumulate_cmvn(x)
    out = apply_cmvn(x, stats)
    assert "flooring variance of 1 dims" in caplog.text
    assert out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 1], 0.0)
    np.testing.assert_allclose(apply_cmvn(x, stats, norm_vars=False), x - x.mean(0), atol=1e-5)
    with pytest.raises(AsrkitError, match="insufficient stats"):
        apply_cmvn(x, np.zeros((2, 4)))
    with pytest.raises(AsrkitError, match="stats are for 3-dim features"):
        apply_cmvn(x[:, :2], stats)
    with pytest.raises(AsrkitError, match="not Kaldi CMVN stats"):
        apply_cmvn(x, np.zeros((3, 4)))
    with pytest.raises(AsrkitError, match="feature dimension 2 does not match"):
        accumulate_cmvn(x[:, :2], stats)
    cmvn = Cmvn({"spk1": stats}, utt2spk={"u1": "spk1", "u2": "spk2"})
    np.testing.assert_allclose(cmvn("u1", x), apply_cmvn(x, stats))
    with pytest.raises(AsrkitError, match="no stats for speaker 'spk2' of utterance 'u2'"):
        cmvn("u2", x)
    with pytest.raises(AsrkitError, match="utterance 'u3': not in utt2spk"):
        cmvn("u3", x)



def test_an_utterance_missing_from_utt2spk_is_skipped_naming_the_table(an4_feats, tmp_path, asrkit):
    """The warning read "skipping utterance 'X' is not in utt2spk": the grammar off, and which
    utt2spk (a subset's, another set's?) not said."""
    d, feats, utt2spk, spk2utt = an4_feats
    table = {s: numpy_stats([feats[u] for u in spk2utt[s]]) for s in spk2utt}
    write_matrices(f"ark:{tmp_path}/cmvn_spk.ark", table)
    missing = sorted(utt2spk)[0]
    write_scp(tmp_path / "utt2spk", [(u, s) for u, s in sorted(utt2spk.items()) if u != missing])
    proc = asrkit("apply-cmvn", "--utt2spk", f"ark:{tmp_path}/utt2spk", f"ark:{tmp_path}/cmvn_spk.ark",
                  f"scp:{d}/feats.scp", f"ark:{tmp_path}/out.ark", check=False)
    err = proc.stderr.decode()
    assert f"skipping utterance '{missing}': not in {tmp_path}/utt2spk\n" in err, err
    assert "Done 8 out of 9 utterances; failed 1" in err


@pytest.mark.parametrize("text", [False, True])
def test_stats_from_kaldiio_written_features(an4_feats, tmp_path, text):
    """Features written by another tool (kaldiio, as Kaldi writes them), binary and text arks."""
    _, feats, _, _ = an4_feats
    kaldiio.save_ark(str(tmp_path / "k.ark"), feats, scp=str(tmp_path / "k.scp"), text=text)
    result = run_cli(compute_cmvn_cli, [f"scp:{tmp_path}/k.scp", tmp_path / "cmvn.ark"])
    assert result.exit_code == 0, result.stderr
    np.testing.assert_allclose(load_cmvn(str(tmp_path / "cmvn.ark")), numpy_stats(list(feats.values())),
                               rtol=1e-6 if text else 1e-12)


def test_stats_read_from_a_pipe_by_name(tmp_path):
    """'--cmvn <(...)' (asrkit-train) and 'asrkit-apply-cmvn <(...)' read the stats from a pipe
    named /dev/fd/N: the reader's seek to its start was an io.UnsupportedOperation traceback."""
    import os

    x = np.random.default_rng(2).standard_normal((40, 3))
    stats = accumulate_cmvn(x)
    path = tmp_path / "cmvn.ark"
    kaldiio.save_mat(str(path), stats)
    r, w = os.pipe()
    try:
        os.write(w, path.read_bytes())  # a few hundred bytes: within the pipe's buffer
        os.close(w)
        np.testing.assert_allclose(load_cmvn(f"/dev/fd/{r}"), stats)
    finally:
        os.close(r)


def test_a_long_utterance_is_summed_and_normalized_in_chunks():
    """Stats and normalization converted the whole matrix to float64 (plus a mask of its size): 3.1 GB
    for one 960 MB utterance of 3M frames (hostile-input sweep 8a). Now CHUNK_FRAMES at a time, with
    the same results within float64 rounding and errors naming the frame in the whole utterance."""
    import tracemalloc

    from asrkit.features.cmvn import CHUNK_FRAMES

    rng = np.random.default_rng(0)
    feats = rng.normal(3.0, 2.0, (10 * CHUNK_FRAMES + 7, 40)).astype(np.float32)
    tracemalloc.start()
    try:
        stats = accumulate_cmvn(feats)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        out = apply_cmvn(feats, stats)
        _, peak_apply = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < feats.nbytes / 2 and peak_apply < 1.5 * feats.nbytes, (peak, peak_apply, feats.nbytes)
    x = feats.astype(np.float64)
    np.testing.assert_allclose(stats[0, :40], x.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats[1, :40], (x * x).sum(axis=0), rtol=1e-12)
    assert stats[0, 40] == len(feats)
    mean, std = x.mean(axis=0), x.std(axis=0)
    np.testing.assert_allclose(out, ((x - mean) / std).astype(np.float32), atol=1e-5)
    frame = 3 * CHUNK_FRAMES + 5
    feats[frame, 2] = np.nan
    with pytest.raises(AsrkitError, match=rf"non-finite feature value nan at frame {frame}, dim 2"):
        accumulate_cmvn(feats, utt_id="u")
    feats[frame, 2] = 1e38
    with pytest.raises(AsrkitError, match=rf"normalized feature .* at frame {frame}, dim 2 overflows float32"):
        # (dim 2's variance floored to 1e-20; dim 0's is 1: stats in which no dim varies are refused)
        apply_cmvn(feats, np.array([[0.0] * 40 + [1.0], [1.0] + [1e-30] * 39 + [0.0]]), utt_id="u")


def test_utterances_of_no_frames_are_bad_items_of_compute_cmvn(tmp_path):
    """A 0-frame matrix adds nothing to the stats: features of nothing but such utterances were
    written as global stats of 0 frames with exit 0 ('Wrote global CMVN stats ...: 24 utterances,
    0 frames'), which every reader refuses later (Kaldi's 'insufficient stats'), and one among
    others passed without a word (hostile-input sweep 9). Now each is a bad item, named and counted."""
    rng = np.random.default_rng(3)
    feats = {f"u{i:02d}": rng.standard_normal((30, 4)).astype(np.float32) for i in range(24)}
    feats["u05"] = np.zeros((0, 4), np.float32)
    write_matrices(f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp", feats)
    result = run_cli(compute_cmvn_cli, [f"scp:{tmp_path}/f.scp", tmp_path / "cmvn.ark"])
    assert result.exit_code == 0, result.stderr
    assert "skipping utterance 'u05': no frames (a 0 x 4 matrix)" in result.stderr
    assert "Done 23 out of 24 utterances; failed 1" in result.stderr
    assert load_cmvn(str(tmp_path / "cmvn.ark"))[0, -1] == 23 * 30
    empty = {u: np.zeros((0, 4), np.float32) for u in ("a", "b", "c")}
    write_matrices(f"ark,scp:{tmp_path}/e.ark,{tmp_path}/e.scp", empty)
    (tmp_path / "spk2utt").write_text("s a b c\n")
    out = tmp_path / "out"
    for args in ([out / "cmvn.ark"], [f"ark:{out}/utt.ark"], ["--spk2utt", f"ark:{tmp_path}/spk2utt", f"ark:{out}/spk.ark"]):
        result = run_cli(compute_cmvn_cli, [f"scp:{tmp_path}/e.scp", *args])
        assert result.exit_code == 1, result.stderr
        assert "ERROR (asrkit-compute-cmvn): all 3 utterances failed (first: utterance 'a': no frames" in result.stderr
        assert leftovers(out) == []


def test_speaker_tables_from_stdin(an4_feats, tmp_path, asrkit):
    """--spk2utt and --utt2spk '-' (or ark:-) are stdin, as in Kaldi and asrkit-score: '-' was "-: no
    such file" and ark:- "a file is required". Read twice (features on stdin too) it is one error
    naming both, not "no data on stdin" for the second."""
    d, feats, utt2spk, spk2utt = an4_feats
    asrkit("compute-cmvn", "--spk2utt", f"ark:{d}/spk2utt", f"scp:{d}/feats.scp", f"ark:{tmp_path}/by_path.ark")
    expected = (tmp_path / "by_path.ark").read_bytes()
    for i, spec in enumerate(("-", "ark:-")):
        asrkit("compute-cmvn", "--spk2utt", spec, f"scp:{d}/feats.scp", f"ark:{tmp_path}/dash{i}.ark",
               input=(d / "spk2utt").read_bytes())
        assert (tmp_path / f"dash{i}.ark").read_bytes() == expected
    asrkit("apply-cmvn", "--utt2spk", f"ark:{d}/utt2spk", f"ark:{tmp_path}/by_path.ark", f"scp:{d}/feats.scp",
           f"ark:{tmp_path}/applied.ark")
    asrkit("apply-cmvn", "--utt2spk", "-", f"ark:{tmp_path}/by_path.ark", f"scp:{d}/feats.scp",
           f"ark:{tmp_path}/applied_dash.ark", input=(d / "utt2spk").read_bytes())
    assert (tmp_path / "applied_dash.ark").read_bytes() == (tmp_path / "applied.ark").read_bytes()
    twice = asrkit("apply-cmvn", "--utt2spk", "-", f"ark:{tmp_path}/by_path.ark", "ark:-", f"ark:{tmp_path}/o.ark",
                   input=(d / "utt2spk").read_bytes(), check=False)
    assert twice.returncode == 1 and (b"FEATS_RSPECIFIER ark:- and --utt2spk - both read stdin: a stream can be read "
                                      b"only once") in twice.stderr, twice.stderr
    twice = asrkit("compute-cmvn", "--spk2utt", "-", "scp:-", f"ark:{tmp_path}/o.ark", input=b"x", check=False)
    assert twice.returncode == 1 and b"FEATS_RSPECIFIER scp:- and --spk2utt - both read stdin" in twice.stderr
    assert not (tmp_path / "o.ark").exists()


def test_a_global_stats_output_that_cannot_be_written_fails_before_reading(an4_feats, tmp_path):
    """Global stats are written once every utterance is read: an output under a file, in a folder
    this user cannot write or under a broken link failed only then ("x: exists and is not a
    directory", "permission denied"), after reading the whole set. Each is said before the first
    utterance is read."""
    import os
    import subprocess
    import sys

    from cli_checks import without_root_override

    d = an4_feats[0]
    (tmp_path / "afile").write_text("x\n")
    r = run_cli(compute_cmvn_cli, [f"scp:{d}/feats.scp", tmp_path / "afile/sub/cmvn.ark"])
    assert r.exit_code == 1
    assert r.stderr.strip().splitlines()[-1] == (f"ERROR (asrkit-compute-cmvn): {tmp_path}/afile is a file, not "
                                                 f"a directory (the stats output {tmp_path}/afile/sub/cmvn.ark goes "
                                                 f"under it)")
    assert "Done" not in r.stderr
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for out in (locked / "cmvn.ark", locked / "new/sub/cmvn.ark"):
            proc = subprocess.run(without_root_override([sys.executable, "-m", "asrkit", "compute-cmvn",
                                                         f"scp:{d}/feats.scp", str(out)]),
                                  capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
            err = proc.stderr.decode()
            assert proc.returncode == 1, err
            assert err.strip().splitlines()[-1] == f"ERROR (asrkit-compute-cmvn): {out}: permission denied", err
            assert "Done" not in err and not out.exists()
        # per-speaker stats: the table was opened only once every utterance was read
        proc = subprocess.run(without_root_override([sys.executable, "-m", "asrkit", "compute-cmvn", "--spk2utt",
                                                     f"ark:{d}/spk2utt", f"scp:{d}/feats.scp",
                                                     f"ark,scp:{locked}/s.ark,{locked}/s.scp"]),
                              capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and "Done" not in err, err
        assert err.strip().splitlines()[-1] == f"ERROR (asrkit-compute-cmvn): {locked}/s.ark: permission denied", err
    finally:
        locked.chmod(0o755)
    (tmp_path / "scratch").symlink_to(tmp_path / "unmounted")
    r = run_cli(compute_cmvn_cli, [f"scp:{d}/feats.scp", tmp_path / "scratch/cmvn.ark"])
    assert r.exit_code == 1 and "Done" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == (f"ERROR (asrkit-compute-cmvn): {tmp_path}/scratch: a broken symbolic "
                                                 f"link (to {tmp_path}/unmounted, which does not exist)")
    # the nearest valid outputs: a new folder where one can be made, the null device
    for out in (tmp_path / "new/sub/cmvn.ark", "/dev/null"):
        assert run_cli(compute_cmvn_cli, [f"scp:{d}/feats.scp", out]).exit_code == 0
    assert load_cmvn(str(tmp_path / "new/sub/cmvn.ark"))[0, -1] > 0


def test_a_global_stats_output_is_created_before_the_features_are_read(an4_feats, tmp_path, monkeypatch):
    """The global output's check was os.access on its folder, which a quota, a disk with no inode
    left, or a file system that refuses what the mode bits allow pass: the run read every utterance
    and failed only at the write. Its temporary file is now created first, as the per-speaker
    table's is, and the folders made for it go with a failure."""
    import errno
    import os
    import tempfile

    import asrkit.data.specifier as specifier

    d = an4_feats[0]
    full = tmp_path / "quota"
    real_mkstemp = tempfile.mkstemp

    def over_quota(*args, dir=None, **kw):
        if str(dir).startswith(str(full)):
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), str(dir))
        return real_mkstemp(*args, dir=dir, **kw)

    read = []
    real_iter = specifier.iter_matrices

    def counting(*args, **kw):
        for item in real_iter(*args, **kw):
            read.append(item[0])
            yield item

    monkeypatch.setattr(tempfile, "mkstemp", over_quota)
    monkeypatch.setattr(specifier, "iter_matrices", counting)
    for out in (full / "cmvn.ark", full / "new/sub/cmvn.ark"):
        r = run_cli(compute_cmvn_cli, [f"scp:{d}/feats.scp", out])
        assert r.exit_code == 1
        assert r.stderr.strip().splitlines()[-1] == f"ERROR (asrkit-compute-cmvn): {out}: disk quota exceeded"
        assert read == [] and not full.exists()
    # the nearest valid output is written as before
    r = run_cli(compute_cmvn_cli, [f"scp:{d}/feats.scp", tmp_path / "ok/cmvn.ark"])
    assert r.exit_code == 0 and len(read) > 0 and load_cmvn(str(tmp_path / "ok/cmvn.ark"))[0, -1] > 0
    assert [p.name for p in (tmp_path / "ok").iterdir()] == ["cmvn.ark"]


def test_per_speaker_stats_without_utt2spk_name_the_option(an4_feats, tmp_path):
    """Per-speaker stats given without --utt2spk (the usual slip) failed with "no stats for
    utterance" for each one, which said nothing of why."""
    d = an4_feats[0]
    spk = tmp_path / "cmvn_spk.ark"
    r = run_cli(compute_cmvn_cli, ["--spk2utt", f"ark:{d}/spk2utt", f"scp:{d}/feats.scp", f"ark:{spk}"])
    assert r.exit_code == 0
    speakers = sorted(an4_feats[3])
    r = run_cli(apply_cmvn_cli, [f"ark:{spk}", f"scp:{d}/feats.scp", f"ark:{tmp_path}/out.ark"])
    assert r.exit_code == 1
    assert r.stderr.strip().splitlines()[-1].endswith(
        f"; ark:{spk} is keyed by none of these utterances but by 3 other id(s) ({' '.join(speakers)}): per-speaker "
        f"stats? give --utt2spk ark:data/<set>/utt2spk (or the stats of another set)")
    assert not (tmp_path / "out.ark").exists()
    # with it, as before; and per-utterance stats lacking one utterance fail that one only, no hint
    assert run_cli(apply_cmvn_cli, ["--utt2spk", f"ark:{d}/utt2spk", f"ark:{spk}", f"scp:{d}/feats.scp",
                                    f"ark:{tmp_path}/out.ark"]).exit_code == 0
    utt = tmp_path / "cmvn_utt.ark"
    assert run_cli(compute_cmvn_cli, [f"scp:{d}/feats.scp", f"ark:{utt}"]).exit_code == 0
    r = run_cli(apply_cmvn_cli, [f"ark:{utt}", f"scp:{d}/feats.scp", f"ark:{tmp_path}/out2.ark"])
    assert r.exit_code == 0 and "--utt2spk" not in r.stderr
    # the other way round: per-utterance stats with --utt2spk
    r = run_cli(apply_cmvn_cli, ["--utt2spk", f"ark:{d}/utt2spk", f"ark:{utt}", f"scp:{d}/feats.scp",
                                 f"ark:{tmp_path}/out3.ark"])
    assert r.exit_code == 1 and r.stderr.strip().splitlines()[-1].endswith(
        f"; ark:{utt} is keyed by the utterances, not by speakers: per-utterance stats? leave --utt2spk out")
    # Each utterance its own speaker (ESPnet's habit), stats of other features: the failures are
    # the feature dim's, and the stats are the speakers' too, so no hint about --utt2spk.
    feats = dict(kaldiio.load_scp(str(d / "feats.scp")))
    (tmp_path / "utt2spk_self").write_text("".join(f"{u} {u}\n" for u in sorted(feats)))
    write_matrices(f"ark:{tmp_path}/narrow.ark", {u: m[:, :10] for u, m in sorted(feats.items())})
    r = run_cli(apply_cmvn_cli, ["--utt2spk", f"ark:{tmp_path}/utt2spk_self", f"ark:{utt}", f"ark:{tmp_path}/narrow.ark",
                                 f"ark:{tmp_path}/out4.ark"])
    assert r.exit_code == 1 and "CMVN stats are for" in r.stderr and "--utt2spk" not in r.stderr.strip().splitlines()[-1], r.stderr


def _odd_dimension_first():
    """24 utterances of 4 dims but the first 3, of 2: ``(feats, the ark's bytes)``."""
    rng = np.random.default_rng(5)
    feats = {f"u{i:02d}": rng.standard_normal((20, 2 if i < 3 else 4)).astype(np.float32) for i in range(24)}
    buf = io.BytesIO()
    kaldiio.save_ark(buf, feats)
    return feats, buf


def test_the_whole_sets_most_common_dimension_is_the_sets(tmp_path):
    """The set's dimension was a vote of the first 5 utterances: 3 odd ones of 2 dims at the start
    of 24 of 4 dims made the 21 good ones the bad ones ('feature dimension 4, the set's is 2') and,
    with --max-bad-percent 100, 2-dim stats were written, exit 0. The whole set decides now, read
    once (ark:- on stdin), in global and per-speaker stats; the odd ones are the bad items."""
    feats, buf = _odd_dimension_first()
    (tmp_path / "spk2utt").write_text("a " + " ".join(list(feats)[:12]) + "\nb " + " ".join(list(feats)[12:]) + "\n")
    good = [u for u in feats if u >= "u03"]
    outputs = {"global": [tmp_path / "cmvn.ark"],
               "spk": ["--spk2utt", f"ark:{tmp_path}/spk2utt", f"ark:{tmp_path}/spk.ark"]}
    for kind, out in outputs.items():
        result = run_cli(compute_cmvn_cli, ["ark:-", *out], input=buf.getvalue())
        assert result.exit_code == 1, (kind, result.stderr)
        assert ("3 of 24 utterances failed (u00 u01 u02), more than 5 % (Kaldi's rule)" in result.stderr
                and "first: utterance 'u00': feature dimension 2, the set's is 4" in result.stderr), result.stderr
        result = run_cli(compute_cmvn_cli, ["--max-bad-percent", "100", "ark:-", *out], input=buf.getvalue())
        assert result.exit_code == 0, (kind, result.stderr)
        assert "skipping utterance 'u02': feature dimension 2, the set's is 4" in result.stderr
        assert "Done 21 out of 24 utterances; failed 3" in result.stderr, result.stderr
    np.testing.assert_allclose(load_cmvn(str(tmp_path / "cmvn.ark")), numpy_stats([feats[u] for u in good]))
    per_spk = load_cmvn(f"ark:{tmp_path}/spk.ark")
    np.testing.assert_allclose(per_spk["a"], numpy_stats([feats[u] for u in good[:9]]))
    np.testing.assert_allclose(per_spk["b"], numpy_stats([feats[u] for u in good[9:]]))
    # A library caller that does not ask for the others is told of them.
    with pytest.raises(AsrkitError, match=r"utterance 'u00': feature dimension 2, the set's is 4 \(and 2 more"):
        compute_cmvn_stats(iter(feats.items()))


def test_per_utterance_stats_are_each_utterances_own_written_as_read(tmp_path, monkeypatch):
    """Per-utterance stats are of each utterance's own features, whatever the others' dimension
    (Kaldi's compute-cmvn-stats checks none there). They were held until the whole set's dimension
    was known, in temporary files of the system's temp dir (a full or missing one failed the run
    with an OS error naming no output; ark:- gave nothing until the input's end), and the 3 odd
    utterances of 24 were skipped, failing the run. Now every one is written as it is read."""
    import tempfile

    feats, buf = _odd_dimension_first()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-temp-dir"))
    result = run_cli(compute_cmvn_cli, ["ark:-", "ark:-"], input=buf.getvalue())
    assert result.exit_code == 0, result.stderr
    assert "Done 24 out of 24 utterances; failed 0" in result.stderr and "skipping" not in result.stderr
    per_utt = dict(kaldiio.load_ark(io.BytesIO(result.stdout_bytes)))
    assert list(per_utt) == list(feats)
    for utt in ("u00", "u07"):
        np.testing.assert_allclose(per_utt[utt], numpy_stats([feats[utt]]))
