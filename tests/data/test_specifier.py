import os
from pathlib import Path

import kaldiio
import numpy as np
import pytest

from asrkit.data.specifier import MatrixWriter, check_distinct_files, load_scp, read_matrices, spec_files
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


@pytest.mark.parametrize("space", ["\v", "\f"])
def test_an_ark_key_holding_white_space_is_malformed(tmp_path, space):
    """A key with a \\v or \\f (white space to Kaldi, and to every table reader) was read whole, and
    asrkit-decode wrote it into its text, where the id ended there and its rest read as words."""
    mats = _mats()
    write = {("u" + space + "x" if k == "utt1" else k): v for k, v in mats.items()}
    ark = tmp_path / "k.ark"
    with open(ark, "wb") as f:
        for k, v in write.items():
            f.write(k.encode() + b" ")
            kaldiio.save_mat(f, v)
    with pytest.raises(AsrkitError) as e:
        list(read_matrices(f"ark:{ark}"))
    assert str(e.value) == f"{ark}: entry 2: malformed key b'u' (not a Kaldi archive?)"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_at_an_scp_offset_is_named_as_one(tmp_path):
    """'utt1 /dev/zero:0' was "offset 0 is past the end of /dev/zero (0 bytes)": a device has no
    size to seek in, which is the reason to give."""
    scp = tmp_path / "dev.scp"
    scp.write_text("utt1 /dev/zero:0\n")
    with pytest.raises(AsrkitError) as e:
        load_scp(f"scp:{scp}")["utt1"]
    assert str(e.value) == (f"{scp}:1: utterance 'utt1' (/dev/zero:0): /dev/zero: a character device, not a file "
                            f"(an scp offset is a seek); write the features to an ark file")


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


@pytest.mark.parametrize("text", ["a [\n 1 2\n 3 1_0 ]\n", "a [ 1 2 1_0 ]\n"])
def test_text_matrix_elements_are_numbers_as_kaldi_reads_them(tmp_path, text):
    """float() reads '1_0' as 10: such a feature value was silently taken, where Kaldi refuses the entry."""
    (tmp_path / "t.ark").write_text(text)
    with pytest.raises(AsrkitError, match=r"t.ark: utterance 'a': malformed Kaldi text matrix \(element '1_0'"):
        list(read_matrices(f"ark,t:{tmp_path}/t.ark"))


@pytest.mark.parametrize("spec", ["ark,bg:{d}/f.ark", "ark,b,ns,ncs,no,np:{d}/f.ark", "scp,bg,p,o:{d}/f.scp"])
def test_kaldi_options_are_accepted(tmp_path, spec):
    with MatrixWriter(f"ark,b,nf,scp:{tmp_path}/f.ark,{tmp_path}/f.scp") as w:
        w.write("a", np.ones((2, 4), np.float32))
    assert [k for k, _ in read_matrices(spec.format(d=tmp_path))] == ["a"]


@pytest.mark.parametrize("spec, message", [
    ("ark:", "no ark file name"), ("scp:", "no scp file name"), ("ark,scp:,", "no ark file name"),
    ("ark:| gzip -c > x.gz", "output pipes"), ("ark:{d}", "is a directory"),
    ("ark,scp:{d}/f.ark,{d}/./f.ark", "the ark and the scp are the same file"),
    # (a folder named with a comma: Kaldi's first-comma split wrote the ark to {d}/lr0.1, exit 0)
    ("ark,scp:{d}/lr0.1,bs32/f.ark,{d}/lr0.1,bs32/f.scp", r"3 commas after the colon, so where the ark's name ends "
                                                          r"and the scp's begins cannot be told"),
])
def test_bad_wspecifiers_write_nothing(tmp_path, monkeypatch, spec, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AsrkitError, match=message):
        MatrixWriter(spec.format(d=tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_ark_and_scp_through_a_symlinked_directory_are_the_same_file(tmp_path):
    """check_wspecifier compared absolute paths: ark,scp:d/f.ark,link-to-d/f.ark wrote both to one
    name, the scp renamed over the ark (compute-cmvn, apply-cmvn: exit 0, the features lost)."""
    (tmp_path / "d").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "d")
    with pytest.raises(AsrkitError, match="the ark and the scp are the same file"):
        MatrixWriter(f"ark,scp:{tmp_path}/d/f.ark,{tmp_path}/link/f.ark")
    assert list((tmp_path / "d").iterdir()) == []


def _refuse(outputs, inputs):
    check_distinct_files(outputs, inputs, among_outputs=lambda o, ol, f, fl: f"{ol} is {fl}",
                         over_input=lambda o, ol, i, il: f"{ol} reads {il}")


def test_one_file_by_any_name(tmp_path, monkeypatch):
    """The one same-file check of every command: relative vs absolute, '..', a symlinked
    directory, a symlink are one file; streams written in place and hard links are not."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "d")
    (tmp_path / "sym").symlink_to(tmp_path / "f")
    for other in ["f", f"{tmp_path}/f", "d/../f", f"{tmp_path}/link/../f", "sym", Path("f")]:
        with pytest.raises(AsrkitError, match="^out reads in$"):
            _refuse([(other, "out")], [(f"{tmp_path}/f", "in")])
        with pytest.raises(AsrkitError, match="^b is a$"):
            _refuse([(f"{tmp_path}/f", "a"), (other, "b")], [])
    _refuse([("d/f", "out")], [("link/g", "in")])
    # Written in place, never renamed over anything: no clash
    _refuse([("-", "a"), ("-", "b"), ("/dev/stdout", "c"), ("/dev/null", "d")], [("/dev/null", "in")])
    # An output is renamed onto its own name: the file another hard link holds is left as it was
    os.link(tmp_path / "f", tmp_path / "hard")
    _refuse([("hard", "out")], [("f", "in")])
    _refuse([(None, "out")], [(None, "in")])


@pytest.mark.parametrize("spec, lines, files", [
    ("scp:{d}/x.scp", True, ["{d}/x.scp", "{d}/a.ark", "{d}/b.ark"]),
    ("scp:{d}/x.scp", False, ["{d}/x.scp"]),
    ("ark,t:{d}/a.ark", True, ["{d}/a.ark"]),
    ("ark,scp:{d}/a.ark,{d}/a.scp", False, ["{d}/a.ark", "{d}/a.scp"]),
    ("ark:-", True, ["-"]),
    ("-", True, ["-"]),
    ("{d}/x.scp", True, ["{d}/x.scp"]),  # a bare file name is the file, not a table
    ("ark:gunzip -c {d}/a.ark.gz |", True, []),
    ("scp:", True, ["scp:"]),  # malformed: a name, its own error comes when it is read
])
def test_spec_files(tmp_path, spec, lines, files):
    (tmp_path / "x.scp").write_text(f"u1 {tmp_path}/a.ark:5\nu2 {tmp_path}/a.ark:90\nu3 {tmp_path}/b.ark:7[0:2]\n"
                                    f"u4 cat {tmp_path}/c.ark |\n")
    assert spec_files(spec.format(d=tmp_path), scp_lines=lines) == [f.format(d=tmp_path) for f in files]
    if spec == "scp:":
        with pytest.raises(AsrkitError, match="no scp file name"):
            spec_files(spec, strict=True)


def test_an_scp_read_from_a_pipe_is_left_to_the_command(tmp_path):
    """compute-cmvn scp:<(cat feats.scp) failed "no utterances to process": the overwrite check
    had read the pipe's lines (for the arks they name) before the command could."""
    r, w = os.pipe()
    os.write(w, f"u1 {tmp_path}/a.ark:5\n".encode())
    os.close(w)
    try:
        assert spec_files(f"scp:/dev/fd/{r}", scp_lines=True) == [f"/dev/fd/{r}"]
        assert os.read(r, 100) == f"u1 {tmp_path}/a.ark:5\n".encode()
    finally:
        os.close(r)


def test_one_stream_as_ark_and_scp_stays_refused():
    """Streams are written in place (no rename, no clash), but the binary ark and the scp's lines
    in one stream are of no use: refused as before the one same-file check."""
    with pytest.raises(AsrkitError, match="the ark and the scp are the same file"):
        MatrixWriter("ark,scp:/dev/null,/dev/null")


@pytest.mark.parametrize("how", ["ark", "scp"])
def test_a_large_matrix_is_held_once_while_read(tmp_path, how):
    """The reader gathered a matrix's bytes as a list of 1 MB chunks and joined them, so it held
    each matrix twice: 1.9 GB to read one of 960 MB (hostile-input sweep 8a). The bytes now fill one
    buffer that becomes the array."""
    import tracemalloc

    big = np.random.default_rng(0).standard_normal((200_000, 40)).astype(np.float32)  # 32 MB
    kaldiio.save_ark(str(tmp_path / "big.ark"), {"u": big}, scp=str(tmp_path / "big.scp"))
    tracemalloc.start()
    try:
        (key, got), = read_matrices(f"{how}:{tmp_path}/big.{how}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert key == "u" and np.array_equal(got, big)
    assert peak < 1.5 * big.nbytes, (peak, big.nbytes)


@pytest.mark.parametrize("space", ["\u00a0", "\u3000", "\u2028"])
def test_a_key_holding_unicode_white_space_is_written_as_kaldi_reads_it(tmp_path, space):
    """Kaldi and every asrkit reader split at ASCII white space only: compute-fbank and decode read
    a key holding U+00A0 as one id, and apply-cmvn (MatrixWriter, str.isspace) failed its whole run
    on it ("invalid utterance id")."""
    key = f"utt{space}1"
    m = np.arange(6, dtype=np.float32).reshape(3, 2)
    with MatrixWriter(f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp") as w:
        w.write(key, m)
    got = dict(read_matrices(f"scp:{tmp_path}/f.scp"))
    assert list(got) == [key]
    np.testing.assert_array_equal(got[key], m)
    for bad in ("utt 1", "utt\t1", ""):
        with pytest.raises(AsrkitError, match="invalid utterance id"):
            with MatrixWriter(f"ark:{tmp_path}/g.ark") as w:
                w.write(bad, m)


@pytest.mark.parametrize("text", [False, True])
def test_one_matrix_read_as_a_table_and_a_table_read_as_one_matrix_are_named(tmp_path, text):
    """Global CMVN stats given as ark:cmvn.ark read as an archive whose first key was the binary
    header ("utterance '\\x00BDM': not a Kaldi matrix or vector") or a text matrix's '['
    ("malformed key b'['"); a per-speaker stats ark given as a plain file name was "not a Kaldi
    matrix or vector: data starting with b'spk1 \\x00BDM'", of a file that is one (hostile-input
    sweep 9)."""
    from asrkit.features.cmvn import load_cmvn, write_stats

    stats = np.arange(10, dtype=np.float64).reshape(2, 5) + 1
    write_stats(stats, str(tmp_path / "global.ark"), binary=not text)
    kaldiio.save_ark(str(tmp_path / "spk.ark"), {"spk1": stats, "spk2": stats}, text=text)
    with pytest.raises(AsrkitError, match=r"^\S+/global.ark: one matrix with no key \(a single file, as global "
                                          r"CMVN stats are\), not a table of keyed entries: give its name without 'ark:'$"):
        load_cmvn(f"ark:{tmp_path}/global.ark")
    with pytest.raises(AsrkitError, match=r"^\S+/spk.ark: a Kaldi archive entry \(key 'spk1'\) where one matrix was "
                                          r"expected \(a table, such as per-speaker stats, is given as ark:<file>"):
        load_cmvn(str(tmp_path / "spk.ark"))
    # each read as what it is
    np.testing.assert_array_equal(load_cmvn(str(tmp_path / "global.ark")), stats)
    assert sorted(load_cmvn(f"ark:{tmp_path}/spk.ark")) == ["spk1", "spk2"]
    # a key that only starts with '[' is a key
    kaldiio.save_ark(str(tmp_path / "odd.ark"), {"[x]": stats}, text=text)
    assert [k for k, _ in read_matrices(f"ark:{tmp_path}/odd.ark")] == ["[x]"]
