import kaldiio
import numpy as np
import pytest

from asrkit.data.specifier import MatrixWriter, load_scp, read_matrices
from asrkit.utils.errors import AsrkitError


def _mats():
    rng = np.random.default_rng(0)
    return {f"utt{i}": rng.standard_normal((3 + i, 4)).astype(np.float32) for i in range(3)}


@pytest.mark.parametrize("text", [False, True])
def test_our_ark_scp_reads_in_kaldiio(tmp_path, text):
    mats = _mats()
    t = ",t" if text else ""
    with MatrixWriter(f"ark{t},scp:{tmp_path}/f.ark,{tmp_path}/f.scp") as w:
        for k, m in mats.items():
            w.write(k, m)
    got = kaldiio.load_scp(str(tmp_path / "f.scp"))
    for k, m in mats.items():
        np.testing.assert_allclose(got[k], m, rtol=1e-6 if text else 0, atol=1e-6 if text else 0)
    with kaldiio.ReadHelper(f"ark:{tmp_path}/f.ark") as r:
        assert [k for k, _ in r] == list(mats)


@pytest.mark.parametrize("text", [False, True])
def test_kaldiio_ark_reads_in_ours(tmp_path, text):
    mats = _mats()
    kaldiio.save_ark(str(tmp_path / "k.ark"), mats, scp=str(tmp_path / "k.scp"), text=text)
    for spec in (f"scp:{tmp_path}/k.scp", f"ark:{tmp_path}/k.ark"):
        got = dict(read_matrices(spec))
        assert list(got) == list(mats)
        for k in mats:
            np.testing.assert_allclose(got[k], mats[k], atol=1e-6 if text else 0)
    np.testing.assert_array_equal(load_scp(f"scp:{tmp_path}/k.scp")["utt1"], load_scp(str(tmp_path / "k.scp"))["utt1"])


def test_failed_writer_leaves_no_files(tmp_path):
    with pytest.raises(RuntimeError):
        with MatrixWriter(f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp") as w:
            w.write("a", np.zeros((2, 2), np.float32))
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_malformed_scp_names_file_and_line(tmp_path):
    scp = tmp_path / "bad.scp"
    scp.write_text("utt1 /x.ark:3\nutt2\n")
    with pytest.raises(AsrkitError, match=r"bad.scp:2: malformed line"):
        list(read_matrices(f"scp:{scp}"))


def test_bad_specifiers(tmp_path):
    with pytest.raises(AsrkitError, match="bad specifier"):
        MatrixWriter("feats.ark")
    with pytest.raises(AsrkitError, match="no such file"):
        list(read_matrices(f"ark:{tmp_path}/missing.ark"))
    with pytest.raises(AsrkitError, match="scp needs a seekable"):
        MatrixWriter("ark,scp:-,x.scp")


@pytest.mark.parametrize("suffix", ["[-1]", "[0:1,-2]", "[1_0]", "[\u0661]"])
def test_scp_ranges_are_plain_digits(tmp_path, suffix):
    """int() reads "-1" ("[-1]" was the empty slice -1:0: an utterance of no frames), "1_0" and other
    scripts' digits; Kaldi's ranges are plain non-negative numbers."""
    with MatrixWriter(f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp") as w:
        w.write("a", np.ones((12, 4), np.float32))
    value = (tmp_path / "f.scp").read_text().split()[1]
    (tmp_path / "x.scp").write_text(f"a {value}{suffix}\n")
    with pytest.raises(AsrkitError, match=r"x.scp:1: bad range"):
        list(read_matrices(f"scp:{tmp_path}/x.scp"))


def test_scp_offset_is_plain_digits(tmp_path):
    """"f.ark:\u0663" is a file of that name, as in Kaldi, not offset 3."""
    with MatrixWriter(f"ark:{tmp_path}/f.ark") as w:
        w.write("a", np.ones((2, 4), np.float32))
    (tmp_path / "x.scp").write_text(f"a {tmp_path}/f.ark:\u0663\n")
    with pytest.raises(AsrkitError, match="no such file"):
        list(read_matrices(f"scp:{tmp_path}/x.scp"))


@pytest.mark.parametrize("spec", ["ark,bg:{d}/f.ark", "ark,b,ns,ncs,no,np:{d}/f.ark", "scp,bg,p,o:{d}/f.scp"])
def test_kaldi_options_are_accepted(tmp_path, spec):
    with MatrixWriter(f"ark,b,nf,scp:{tmp_path}/f.ark,{tmp_path}/f.scp") as w:
        w.write("a", np.ones((2, 4), np.float32))
    assert [k for k, _ in read_matrices(spec.format(d=tmp_path))] == ["a"]


@pytest.mark.parametrize("spec, message", [
    ("ark:", "no ark file name"), ("scp:", "no scp file name"), ("ark,scp:,", "no ark file name"),
    ("ark:| gzip -c > x.gz", "output pipes"), ("ark:{d}", "is a directory"),
    ("ark,scp:{d}/f.ark,{d}/./f.ark", "the ark and the scp are the same file"),
])
def test_bad_wspecifiers_write_nothing(tmp_path, monkeypatch, spec, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AsrkitError, match=message):
        MatrixWriter(spec.format(d=tmp_path))
    assert list(tmp_path.iterdir()) == []
