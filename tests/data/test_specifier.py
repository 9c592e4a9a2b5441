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
