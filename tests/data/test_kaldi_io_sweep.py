"""Kaldi table I/O through the real commands: hostile or unusual arks, scps and stats given to
asrkit-compute-cmvn, asrkit-apply-cmvn and asrkit-validate-data-dir.

Each input gives the right numbers (checked against Kaldi's own formulas, not against the reader
under test) or one ERROR line naming what is at fault, with nothing written.
"""
from __future__ import annotations

import io
import re
import shlex
import struct
import subprocess
from pathlib import Path

import kaldiio
import numpy as np
import pytest
from click.testing import CliRunner
from process_checks import a_process_left_holding_the_output

from asrkit.cli import apply_cmvn as apply_cmvn_cli
from asrkit.cli import compute_cmvn as compute_cmvn_cli
from asrkit.data.matrix_io import iter_ark
from asrkit.utils.errors import AsrkitError

D = 5


def _run(module, *args):
    from asrkit.utils.logging import setup_logging

    try:
        return CliRunner().invoke(module.main, [str(a) for a in args], catch_exceptions=False)
    finally:
        setup_logging()


def _error(result) -> str:
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("ERROR")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def _stats(mats) -> np.ndarray:
    """Kaldi's AccCmvnStats over float32 features, in double."""
    s = np.zeros((2, mats[0].shape[1] + 1))
    for m in mats:
        m = np.asarray(m, np.float32).astype(np.float64)
        s[0, :-1] += m.sum(0)
        s[1, :-1] += (m * m).sum(0)
        s[0, -1] += len(m)
    return s


def _entry(mat: np.ndarray, text: bool = False) -> bytes:
    buf = io.BytesIO()
    kaldiio.save_ark(buf, {"k": mat}, text=text)
    return buf.getvalue()[len(b"k "):]


# -- Kaldi's compressed matrices, built byte by byte and decoded with compressed-matrix.cc's formulas --
_F = np.float32


def _u16_to_float(min_value: float, range_: float, v: int) -> np.float32:
    # CompressedMatrix::Uint16ToFloat, in float as Kaldi computes it
    return _F(_F(min_value) + _F(_F(range_) * _F(1.52590218966964e-05)) * _F(v))


def _char_to_float(p0, p25, p75, p100, v: int) -> np.float32:
    # CompressedMatrix::CharToFloat
    if v <= 64:
        return _F(p0 + (p25 - p0) * _F(v) * _F(1 / 64.0))
    if v <= 192:
        return _F(p25 + (p75 - p25) * _F(v - 64) * _F(1 / 128.0))
    return _F(p75 + (p100 - p75) * _F(v - 192) * _F(1 / 63.0))


def _cm(rng, rows: int, cols: int, min_value: float, range_: float):
    """A "CM" (one byte per value, per-column percentile headers, data column by column)."""
    headers = np.sort(rng.integers(0, 65536, size=(cols, 4)), axis=1).astype("<u2")
    data = rng.integers(0, 256, size=(cols, rows)).astype(np.uint8)
    blob = b"\0BCM " + struct.pack("<ffii", min_value, range_, rows, cols) + headers.tobytes() + data.tobytes()
    ref = np.zeros((rows, cols), np.float32)
    for c in range(cols):
        p = [_u16_to_float(min_value, range_, int(h)) for h in headers[c]]
        for r in range(rows):
            ref[r, c] = _char_to_float(*p, int(data[c, r]))
    return blob, ref


def _cm2_cm3(rng, token: bytes, rows: int, cols: int, min_value: float, range_: float):
    """A "CM2" (uint16 per value) or "CM3" (uint8), row by row, scaled by range/65535 or range/255."""
    two = token == b"CM2"
    data = rng.integers(0, 65536 if two else 256, size=(rows, cols)).astype("<u2" if two else np.uint8)
    increment = _F(range_ * (1.0 / (65535.0 if two else 255.0)))
    blob = b"\0B" + token + b" " + struct.pack("<ffii", min_value, range_, rows, cols) + data.tobytes()
    return blob, (_F(min_value) + data.astype(np.float32) * increment).astype(np.float32)


def test_compressed_matrices_decode_as_kaldi_does(tmp_path):
    """CM, CM2 and CM3 entries of an ark, an scp (offsets and a row/column range) and a pipe give
    the values Kaldi's decompression gives (to float32 rounding), in compute-cmvn's stats."""
    rng = np.random.default_rng(7)
    entries = [("a", *_cm(rng, 11, D, -3.5, 20.25)), ("b", *_cm(rng, 1, D, 0.0, 1.0)),
               ("c", *_cm2_cm3(rng, b"CM2", 6, D, -100.0, 300.0)), ("d", *_cm2_cm3(rng, b"CM3", 4, D, -1.0, 2.0))]
    ark, scp = tmp_path / "c.ark", tmp_path / "c.scp"
    offsets = {}
    with open(ark, "wb") as f:
        for key, blob, _ in entries:
            f.write(key.encode() + b" ")
            offsets[key] = f.tell()
            f.write(blob)
    scp.write_text("".join(f"{k} {ark}:{o}\n" for k, o in offsets.items()))
    refs = [ref for _, _, ref in entries]
    for spec in (f"ark:{ark}", f"scp:{scp}", f"ark:cat {ark} |"):
        out = tmp_path / "cmvn.mat"
        r = _run(compute_cmvn_cli, spec, out)
        assert r.exit_code == 0, r.stderr
        np.testing.assert_allclose(kaldiio.load_mat(str(out)), _stats(refs), rtol=1e-6, atol=1e-4)
    ranged = tmp_path / "r.scp"
    ranged.write_text(f"a {ark}:{offsets['a']}[2:9,1:3]\n")
    r = _run(compute_cmvn_cli, f"scp:{ranged}", tmp_path / "r.mat")
    assert r.exit_code == 0, r.stderr
    np.testing.assert_allclose(kaldiio.load_mat(str(tmp_path / "r.mat")), _stats([refs[0][2:10, 1:4]]),
                               rtol=1e-6, atol=1e-4)


# -- keys ended as Kaldi's archive reader ends them ----------------------------------------------
def test_a_tab_or_line_break_after_an_ark_key_is_read_as_kaldi_reads_it(tmp_path):
    """Kaldi's archive reader takes a tab after the key in place of the space, and a line break
    before a text object ("so we can read archives generated by scripts"): such an ark was
    "entry 1: malformed key b'a' (not a Kaldi archive?)"."""
    rng = np.random.default_rng(1)
    a, b, c = (rng.standard_normal((4, D)).astype(np.float32) for _ in range(3))
    ark = tmp_path / "scripted.ark"
    ark.write_bytes(b"a\t" + _entry(a, text=True) + b"b\n" + _entry(b, text=True) + b"c\t" + _entry(c))
    out = tmp_path / "cmvn.mat"
    r = _run(compute_cmvn_cli, f"ark:{ark}", out)
    assert r.exit_code == 0, r.stderr
    np.testing.assert_allclose(kaldiio.load_mat(str(out)), _stats([a, b, c]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("space", [b"\r", b"\v", b"\f"])
def test_other_white_space_after_an_ark_key_stays_malformed(tmp_path, space):
    """Kaldi refuses these ("expected space after key"); a CRLF text ark's key was never read."""
    ark = tmp_path / "k.ark"
    ark.write_bytes(b"a" + space + b"\n" + _entry(np.zeros((2, D), np.float32), text=True))
    r = _run(compute_cmvn_cli, f"ark:{ark}", tmp_path / "cmvn.mat")
    assert _error(r) == f"ERROR (asrkit-compute-cmvn): {ark}: entry 1: malformed key b'a' (not a Kaldi archive?)"
    assert not (tmp_path / "cmvn.mat").exists()


# -- memory bombs --------------------------------------------------------------------------------
class _Zeros(io.RawIOBase):
    """``size`` NUL bytes, counting how many were read (a damaged file's zeroed tail, /dev/zero)."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.given = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        self.given += n
        return n


def test_a_text_matrix_running_into_nul_bytes_is_refused_at_once():
    """'u1 [ ' then zeros (a text ark a crash left with zeroed blocks, or '(printf ...; cat
    /dev/zero) |'): every byte was held looking for the ']', a MemoryError traceback from a pipe
    of 3 GB. Refused at the first block now, naming the utterance."""
    zeros = _Zeros(64 << 20)
    stream = io.BufferedReader(_ChainRaw(b"u1 [ 1 2 ", zeros))
    with pytest.raises(AsrkitError) as e:
        list(iter_ark(stream, "z.ark"))
    assert str(e.value) == "z.ark: utterance 'u1': malformed Kaldi text matrix (a NUL byte: a binary or damaged file?)"
    assert zeros.given <= 4 << 20


class _ChainRaw(io.RawIOBase):
    def __init__(self, head: bytes, rest: io.RawIOBase) -> None:
        self.head = head
        self.rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        return self.rest.readinto(b)


# -- CMVN stats that are no stats ----------------------------------------------------------------
def _ark_of(path: Path, mats) -> Path:
    with open(path, "wb") as f:
        kaldiio.save_ark(f, mats)
    return path


def test_stats_with_a_negative_variance_are_refused(tmp_path):
    """Sums of squares below the squared sums over the count are no frames' stats (a 2 x (D+1)
    matrix of two frames' features, a damaged file): Kaldi floors the variance to 1e-20, and
    apply-cmvn scaled those dims by 1e10, exit 0. Now the stats file is named, nothing written;
    in a per-speaker table, that speaker's utterances are the bad items."""
    rng = np.random.default_rng(2)
    feats = {f"u{i}": (rng.standard_normal((9, D)) * 2 + 3).astype(np.float32) for i in range(4)}
    ark = _ark_of(tmp_path / "feats.ark", feats)
    good = _stats(list(feats.values()))
    two_frames = rng.standard_normal((2, D + 1))  # features, not stats: row 1 holds no squares
    two_frames[0, D] = 7.0
    stats = tmp_path / "stats.mat"
    with open(stats, "wb") as f:
        kaldiio.save_mat(f, two_frames)
    out = tmp_path / "out"
    out.mkdir()
    r = _run(apply_cmvn_cli, stats, f"ark:{ark}", f"ark,scp:{out}/f.ark,{out}/f.scp")
    assert _error(r).startswith(f"ERROR (asrkit-apply-cmvn): {stats}: not valid CMVN stats: dim ")
    assert "negative variance" in r.stderr and not list(out.iterdir())

    bad = good.copy()
    bad[1, 2] = 0.0
    table = _ark_of(tmp_path / "spk.ark", {"a": good, "b": bad})
    utt2spk = tmp_path / "utt2spk"
    utt2spk.write_text("u0 a\nu1 a\nu2 a\nu3 b\n")
    r = _run(apply_cmvn_cli, "--utt2spk", f"ark:{utt2spk}", f"ark:{table}", f"ark:{ark}",
             f"ark,scp:{out}/f.ark,{out}/f.scp", "--max-bad-percent", "50")
    assert r.exit_code == 0, r.stderr
    assert f"skipping utterance 'u3': ark:{table} [b]: not valid CMVN stats: dim 2 has a negative variance" in r.stderr
    written = dict(kaldiio.load_scp(str(out / "f.scp")))
    assert sorted(written) == ["u0", "u1", "u2"]
    mean = good[0, :D] / good[0, D]
    std = np.sqrt(good[1, :D] / good[0, D] - mean ** 2)
    np.testing.assert_allclose(written["u0"], (feats["u0"] - mean) / std, rtol=1e-5, atol=1e-5)


def test_stats_of_constant_dims_are_floored_not_refused(tmp_path, caplog):
    """Rounding leaves a constant dim's variance a hair below 0 (and a text file's 6 digits
    more): Kaldi's flooring, not the negative-variance error."""
    x = np.tile(np.float32([5.1, -3.3, 0.7, 12.9, 1e-3]), (300, 1))
    x[:, 4] = np.arange(300) % 7  # one dim varies: stats in which none does are refused (below)
    s = _stats([x])
    s[1, :D] *= 1 - 2e-6  # as written to 6 significant digits
    from asrkit.features.cmvn import cmvn_transform

    scale, offset = cmvn_transform(s, True)
    assert "flooring variance of 4 dims" in caplog.text and np.isfinite(scale).all()


def test_global_stats_in_which_no_dim_varies_are_refused_a_keys_own_are_floored(tmp_path):
    """asrkit-apply-cmvn floored global stats of constant features with a warning and scaled every
    feature by up to 1e10, exit 0, while asrkit-train --cmvn and the packed model refused the
    same stats: the stats file is named, nothing written. A per-utterance or per-speaker table's
    stats are of that key's own utterances, where none varying is legitimate (one frame, digital
    silence): those are floored as Kaldi floors them and counted in one warning; skipping them
    lost the utterance from a dump (with the default --max-bad-percent, the whole set)."""
    rng = np.random.default_rng(3)
    feats = {f"u{i}": (rng.standard_normal((9, D)) * 2 + 3).astype(np.float32) for i in range(3)}
    feats["u3"] = np.tile(np.float32([5.1, -3.3, 0.7, 12.9, 1e-3]), (12, 1))  # digital silence's fbank
    feats["u4"] = feats["u0"][:1]  # one frame
    ark = _ark_of(tmp_path / "feats.ark", feats)
    stats = tmp_path / "stats.mat"
    with open(stats, "wb") as f:
        kaldiio.save_mat(f, _stats([feats["u3"]]))
    out = tmp_path / "out"
    out.mkdir()
    r = _run(apply_cmvn_cli, stats, f"ark:{ark}", f"ark,scp:{out}/f.ark,{out}/f.scp")
    error = _error(r)
    assert error.startswith(f"ERROR (asrkit-apply-cmvn): {stats}: ") and "stats of constant features" in error
    assert not list(out.iterdir())

    spk2utt = tmp_path / "spk2utt"
    spk2utt.write_text("a u0 u1 u2\nc u4\ns u3\n")
    (tmp_path / "utt2spk").write_text("u0 a\nu1 a\nu2 a\nu3 s\nu4 c\n")
    for what, make, use, said in (
            ("utt", [], [], "the stats of 2 of the 5 utterances have no dim that varies"),
            ("spk", ["--spk2utt", f"ark:{spk2utt}"], ["--utt2spk", f"ark:{tmp_path}/utt2spk"],
             "the stats of 2 of the 3 speakers have no dim that varies")):
        table = tmp_path / f"{what}.ark"
        assert _run(compute_cmvn_cli, *make, f"ark:{ark}", f"ark:{table}").exit_code == 0
        r = _run(apply_cmvn_cli, *use, f"ark:{table}", f"ark:{ark}", f"ark,scp:{out}/{what}.ark,{out}/{what}.scp")
        assert r.exit_code == 0, r.stderr
        assert said in r.stderr and "failed 0" in r.stderr, r.stderr
        written = dict(kaldiio.load_scp(str(out / f"{what}.scp")))
        assert sorted(written) == sorted(feats)
        for utt in ("u3", "u4"):  # their own mean: 0, as in Kaldi
            assert np.abs(written[utt]).max() < 1e-3


# -- scp entries that are pipes ------------------------------------------------------------------
def test_an_scp_pipe_is_read_for_its_object_not_held_whole(tmp_path):
    """'utt cmd |' was read to its end before its object was looked at: a command printing
    without end ('yes |', a mistyped 'cat /dev/zero |') grew the process until a MemoryError
    traceback (or the OOM killer). The object is read as it comes now; what follows it is
    read, not kept, for at most 64 MiB, and the command stopped there."""
    writer = tmp_path / "zeros.sh"
    count = tmp_path / "count"
    # 200 MiB, a MiB at a time, saying how far it got (each write blocks until it is read)
    writer.write_text(f"i=0; while [ $i -lt 200 ]; do head -c 1048576 /dev/zero || exit 1; i=$((i+1)); "
                      f"echo $i > {count}; done\n")
    scp = tmp_path / "feats.scp"
    scp.write_text(f"a sh {writer} |\n")
    r = _run(compute_cmvn_cli, f"scp:{scp}", tmp_path / "cmvn.mat")
    assert f"{scp}:1: utterance 'a' (sh {writer} |): not a Kaldi matrix or vector" in _error(r)
    assert int(count.read_text()) <= 70
    assert not (tmp_path / "cmvn.mat").exists()


def test_an_scp_pipe_keeps_its_exit_status_and_object(tmp_path):
    """What the pipe's output was read whole for stays so: a failed command is named by its
    status (and last stderr line) before any complaint about what it printed, an object with
    a short trailer is read, and output going on past the object is an error, not ignored."""
    rng = np.random.default_rng(4)
    feats = rng.standard_normal((6, D)).astype(np.float32)
    one = tmp_path / "one.mat"
    with open(one, "wb") as f:
        kaldiio.save_mat(f, feats)
    cases = {
        f"cat {one} |": None,
        f"(cat {one}; echo) |": None,
        f"(cat {one}; echo broke >&2; exit 3) |": "command exited with status 3: broke",
        f"(head -c 30 {one}; exit 4) |": "command exited with status 4",
        f"head -c 30 {one} |": "truncated FM data of a 6 x 5 matrix",
        "true |": "command printed nothing",
        f"(cat {one}; head -c 70000000 /dev/zero) |": "command printed more than 64 MiB after the matrix read from it",
    }
    for i, (value, message) in enumerate(cases.items()):
        scp = tmp_path / f"{i}.scp"
        scp.write_text(f"a {value}\n")
        out = tmp_path / f"{i}.mat"
        r = _run(compute_cmvn_cli, f"scp:{scp}", out)
        if message is None:
            assert r.exit_code == 0, (value, r.stderr)
            np.testing.assert_allclose(kaldiio.load_mat(str(out)), _stats([feats]), rtol=1e-6)
        else:
            assert message in _error(r), value
            assert not out.exists()


# -- validate-data-dir: tables that are there but are no files -------------------------------------
def _dump_dir(tmp_path: Path) -> Path:
    """A dump dir (feats.scp, no audio) of 3 utterances of speaker 'a', with utt2dur and utt2num_frames."""
    d = tmp_path / "dump"
    d.mkdir()
    utts = ["a-1", "a-2", "a-3"]
    mats = {u: np.zeros((4 + i, D), np.float32) for i, u in enumerate(utts)}
    from asrkit.data.specifier import write_matrices

    write_matrices(f"ark,scp:{d}/feats.ark,{d}/feats.scp", mats)
    (d / "utt2spk").write_text("".join(f"{u} a\n" for u in utts))
    (d / "spk2utt").write_text(f"a {' '.join(utts)}\n")
    (d / "utt2dur").write_text("".join(f"{u} 1.5\n" for u in utts))
    (d / "utt2num_frames").write_text("".join(f"{u} {m.shape[0]}\n" for u, m in mats.items()))
    return d


@pytest.mark.parametrize("table", ["feats.scp", "utt2num_frames", "utt2dur", "wav.scp"])
@pytest.mark.parametrize("kind", ["directory", "fifo", "dev-zero"])
def test_a_table_that_is_no_file_fails_validation(tmp_path, table, kind):
    """An optional table that was a directory, a FIFO or a link to /dev/zero was taken for
    absent: "Successfully validated data directory", and the features or durations it should
    hold were never looked at (a wav.scp of that kind beside feats.scp: audio never checked)."""
    from asrkit.cli import validate_data_dir as validate_cli

    d = _dump_dir(tmp_path)
    assert _run(validate_cli, "--no-text", d).exit_code == 0
    path = d / table
    if path.exists():
        path.unlink()
    if kind == "directory":
        path.mkdir()
        why = "is a directory, not a table file"
    elif kind == "fifo":
        import os

        os.mkfifo(path)
        why = "not a regular file (a device or pipe)"
    else:
        path.symlink_to("/dev/zero")
        why = "not a regular file (a device or pipe)"
    r = _run(validate_cli, "--no-text", d)
    assert r.exit_code == 1, r.stderr
    assert f"ERROR: {path}: {why}" in r.stderr.splitlines()


@pytest.mark.parametrize("head,name", [(b"<TransitionModel> <Topology> ", "<TransitionModel>"),
                                       (b"<Nnet3> \n<NumComponents> 3", "<Nnet3>")])
def test_a_kaldi_model_given_as_stats_or_features_is_named_as_one(tmp_path, head, name):
    """A final.mdl or nnet given where stats or features were expected was "corrupt Kaldi binary
    header (type b'<Tran')": the file is sound, only not a matrix."""
    mdl = tmp_path / "final.mdl"
    mdl.write_bytes(b"\0B" + head)
    feats = _ark_of(tmp_path / "f.ark", {"u1": np.ones((3, D), np.float32)})
    r = _run(apply_cmvn_cli, mdl, f"ark:{feats}", f"ark:{tmp_path}/out.ark")
    assert _error(r) == (f"ERROR (asrkit-apply-cmvn): {mdl}: a Kaldi binary object '{name}' (a model or another "
                         f"object), not a matrix or vector (asrkit reads FM, FV, DM, DV, CM, CM2, CM3)")
    ark = tmp_path / "m.ark"
    ark.write_bytes(b"u1 \0B" + head)
    r = _run(compute_cmvn_cli, f"ark:{ark}", tmp_path / "cmvn.mat")
    assert f"{ark}: utterance 'u1': a Kaldi binary object '{name}'" in _error(r)
    assert not (tmp_path / "out.ark").exists() and not (tmp_path / "cmvn.mat").exists()


def test_an_ark_or_stats_file_starting_with_a_bom_is_named_so(tmp_path):
    """A text ark saved by a Windows editor: its first key was '\\ufeffu1', so per-speaker
    compute-cmvn left u1 out of its speaker's stats (exit 0) and every table missed it; a text
    stats file so saved was "a Kaldi archive entry (key '\\ufeff') where one matrix was expected"."""
    rng = np.random.default_rng(5)
    feats = {u: rng.standard_normal((5, D)).astype(np.float32) for u in ("u1", "u2")}
    bom = b"\xef\xbb\xbf"
    ark = tmp_path / "bom.ark"
    ark.write_bytes(bom + b"".join(k.encode() + b" " + _entry(m, text=True) for k, m in feats.items()))
    spk2utt = tmp_path / "spk2utt"
    spk2utt.write_text("a u1 u2\n")
    problem = ("starts with a UTF-8 byte-order mark (BOM), which Kaldi reads as part of its first key or object: "
               "remove it ({})")
    r = _run(compute_cmvn_cli, "--spk2utt", f"ark:{spk2utt}", f"ark:{ark}", f"ark:{tmp_path}/cmvn.ark")
    assert _error(r) == f"ERROR (asrkit-compute-cmvn): {ark}: {problem.format(_sed_i(ark))}"
    stats = tmp_path / "stats.txt"
    from kaldiio.matio import write_array_ascii

    buf = io.BytesIO()
    write_array_ascii(buf, _stats(list(feats.values())))
    stats.write_bytes(bom + buf.getvalue())
    r = _run(apply_cmvn_cli, stats, f"ark:{tmp_path}/bom.ark", f"ark:{tmp_path}/out.ark")
    assert _error(r) == f"ERROR (asrkit-apply-cmvn): {stats}: {problem.format(_sed_i(stats))}"
    assert not (tmp_path / "cmvn.ark").exists() and not (tmp_path / "out.ark").exists()
    # The sed printed a literal '<file>' where the file was known: it is now the command to run,
    # and it mends the file. A pipe has no file to edit: the sed goes in the pipe.
    r = _run(apply_cmvn_cli, f"cat {stats} |", f"ark:{ark}", f"ark:{tmp_path}/out.ark")
    assert _error(r) == (f"ERROR (asrkit-apply-cmvn): cat {stats} |: "
                         f"{problem.format('pass it through ' + _SED_1 + ' on its way in')}")
    for path, run in ((ark, lambda: _run(compute_cmvn_cli, "--spk2utt", f"ark:{spk2utt}", f"ark:{ark}",
                                         f"ark:{tmp_path}/cmvn.ark")),
                      (stats, lambda: _run(apply_cmvn_cli, stats, f"ark:{ark}", f"ark:{tmp_path}/out.ark"))):
        command = re.search(r"\((sed -i .*)\)$", _error(run())).group(1)
        assert subprocess.run(["bash", "-c", command]).returncode == 0
        assert not path.read_bytes().startswith(bom)
        assert run().exit_code == 0


_SED_1 = "sed '1s/^\\xEF\\xBB\\xBF//'"


def _sed_i(path) -> str:
    return f"sed -i '1s/^\\xEF\\xBB\\xBF//' {shlex.quote(str(path))}"


# -- every truncation, every offset --------------------------------------------------------------
def _mixed_ark(tmp_path: Path):
    """An ark of every kind of entry Kaldi writes (FM, DM, CM, CM2, CM3, text), its offsets and values
    (those of the compressed ones by Kaldi's formulas)."""
    rng = np.random.default_rng(6)

    def plain(m, **kw):
        return _entry(m, **kw), m.astype(np.float32)

    m = [rng.standard_normal((3, D)).astype(np.float32) for _ in range(3)]
    kinds = [("fm", plain(m[0])), ("dm", (_entry(m[1].astype(np.float64)), m[1])),
             ("cm", _cm(rng, 10, D, -2.0, 9.0)), ("cm2", _cm2_cm3(rng, b"CM2", 3, D, 0, 4)),
             ("cm3", _cm2_cm3(rng, b"CM3", 3, D, -1, 2)), ("txt", plain(m[2], text=True))]
    parts, offsets, values = [], {}, {}
    pos = 0
    for key, (blob, value) in kinds:
        head = key.encode() + b" "
        offsets[key] = pos + len(head)
        values[key] = value
        parts.append(head + blob)
        pos += len(head) + len(blob)
    data = b"".join(parts)
    ark = tmp_path / "mixed.ark"
    ark.write_bytes(data)
    return ark, data, offsets, values


def test_a_bom_before_a_later_key_of_an_ark_is_named(tmp_path):
    """Two text arks each saved by a Windows editor and joined with cat: the second's first key
    was read as '\ufeffu2', so per-speaker compute-cmvn left u2 out of its speaker's stats and
    apply-cmvn wrote it on to an scp, exit 0 (the first entry's BOM was already refused)."""
    rng = np.random.default_rng(6)
    feats = {u: rng.standard_normal((5, D)).astype(np.float32) for u in ("u1", "u2", "u3")}
    bom = b"\xef\xbb\xbf"
    ark = tmp_path / "joined.ark"
    ark.write_bytes(b"".join((bom if k == "u2" else b"") + k.encode() + b" " + _entry(m, text=True)
                             for k, m in feats.items()))
    spk2utt = tmp_path / "spk2utt"
    spk2utt.write_text("a u1 u2 u3\n")
    problem = ("entry 2: the key '\\ufeffu2' starts with a UTF-8 byte-order mark (BOM), which Kaldi reads as part "
               f"of the key (text archives each saved with one and joined with cat?): remove them (sed -i "
               f"'s/^\\xEF\\xBB\\xBF//' {ark})")
    r = _run(compute_cmvn_cli, "--spk2utt", f"ark:{spk2utt}", f"ark:{ark}", f"ark:{tmp_path}/cmvn.ark")
    assert _error(r) == f"ERROR (asrkit-compute-cmvn): {ark}: {problem}"
    assert not (tmp_path / "cmvn.ark").exists()
    stats = tmp_path / "stats.mat"
    with open(stats, "wb") as f:
        kaldiio.save_mat(f, _stats(list(feats.values())))
    r = _run(apply_cmvn_cli, stats, f"ark:{ark}", f"ark,scp:{tmp_path}/o.ark,{tmp_path}/o.scp")
    assert _error(r) == f"ERROR (asrkit-apply-cmvn): {ark}: {problem}"
    assert not (tmp_path / "o.scp").exists()


def test_an_ark_cut_anywhere_is_an_error_or_its_whole_entries(tmp_path):
    """Cut at any byte, an ark gives an AsrkitError, or exactly the entries before the cut (a cut
    between entries cannot be told from the end, in Kaldi too), never a traceback or other values."""
    _, data, offsets, values = _mixed_ark(tmp_path)
    keys = list(values)
    for cut in range(len(data)):
        try:
            got = list(iter_ark(io.BufferedReader(io.BytesIO(data[:cut])), "x.ark"))
        except AsrkitError:
            continue
        assert [k for k, _ in got] == keys[:len(got)], cut
        for k, m in got:
            np.testing.assert_array_equal(np.asarray(m, np.float32), values[k], err_msg=f"cut {cut}")
        assert len(got) == len(keys) or cut <= offsets[keys[len(got)]] - len(keys[len(got)]) - 1, cut


def test_an_scp_offset_anywhere_reads_its_object_or_names_the_line(tmp_path):
    """An scp line's offset at every byte of the ark: the entry's values where the offset is the
    object's (text objects: also at the blanks before '['), else one error naming scp:line and
    utterance; all lines are checked in one run (each bad line is its own bad item)."""
    from asrkit.data.matrix_io import iter_scp_items

    ark, data, offsets, values = _mixed_ark(tmp_path)
    scp = tmp_path / "every.scp"
    scp.write_text("".join(f"o{i:05d} {ark}:{i}\n" for i in range(len(data))))
    starts = {o: k for k, o in offsets.items()}
    # a text object is read past any blanks before its '[' (Kaldi's reader skips them too): also
    # from the space that ends its key
    starts.update({o: "txt" for o in range(offsets["txt"] - 1, data.index(b"[", offsets["txt"]) + 1)})
    good = 0
    for n, (key, mat, error) in enumerate(iter_scp_items(str(scp)), 1):
        i = int(key[1:])
        if i in starts:
            assert error is None, (i, error)
            np.testing.assert_array_equal(np.asarray(mat, np.float32), values[starts[i]])
            good += 1
        else:
            assert error is not None and str(error).startswith(f"{scp}:{n}: utterance {key!r} ({ark}:{i}): "), (i, mat)
    assert good == len(starts)


def test_a_text_matrix_on_one_line_is_one_row_as_kaldi_reads_it(tmp_path):
    """'u1 [ 1 2 3 ]' is a 1 x 3 matrix to Kaldi's Matrix reader (copy-feats, compute-cmvn-stats):
    it was a vector here, and such a one-frame utterance "expected a (frames, dim) matrix, got
    shape (3,)", a skipped utterance that Kaldi reads."""
    ark = tmp_path / "t.ark"
    ark.write_text("a [ 1 2 3 4 5 ]\nb [\n 1 1 1 1 1\n 2 2 2 2 2 ]\nc [ 6 7 8 9 10 ]\n")
    out = tmp_path / "cmvn.mat"
    r = _run(compute_cmvn_cli, f"ark:{ark}", out)
    assert r.exit_code == 0, r.stderr
    x = np.array([[1, 2, 3, 4, 5], [1] * 5, [2] * 5, [6, 7, 8, 9, 10]], np.float32)
    np.testing.assert_array_equal(kaldiio.load_mat(str(out)), _stats([x]))
    assert "failed 0" in r.stderr


def test_an_ark_pipe_that_fails_midway_is_named_by_its_command(tmp_path):
    """'ark:gunzip -c feats.ark.gz |' of a damaged .gz: gunzip stops mid-entry and exits 1, and
    the run said only "utterance 'u2': truncated FM data", as if the ark were at fault. The
    command's status and last stderr line come first now; a command that succeeded keeps the
    reader's own error."""
    import gzip

    rng = np.random.default_rng(8)
    feats = {f"u{i}": rng.standard_normal((20, D)).astype(np.float32) for i in range(4)}
    ark = _ark_of(tmp_path / "f.ark", feats)
    gz = tmp_path / "f.ark.gz"
    gz.write_bytes(gzip.compress(ark.read_bytes())[:300])
    r = _run(compute_cmvn_cli, f"ark:gunzip -c {gz} |", tmp_path / "cmvn.mat")
    line = _error(r)
    assert line.startswith(f"ERROR (asrkit-compute-cmvn): ark 'gunzip -c {gz} |': command 'gunzip -c {gz}' exited "
                           f"with status 1: "), line
    assert "unexpected end of file" in line and "(its output read up to: utterance 'u" in line
    r = _run(compute_cmvn_cli, f"ark:head -c 500 {ark} |", tmp_path / "cmvn.mat")
    assert _error(r) == (f"ERROR (asrkit-compute-cmvn): ark 'head -c 500 {ark} |': utterance 'u1': truncated FM "
                         f"data of a 20 x 5 matrix (64 of 400 bytes)")
    assert not (tmp_path / "cmvn.mat").exists()


def test_an_ark_key_holding_a_nul_is_refused(tmp_path):
    """A key 'u\\x00x' (a damaged ark) was read whole: apply-cmvn wrote it into its output scp,
    exit 0, and every reader then refused that scp ("a NUL byte in the key")."""
    mat = _entry(np.ones((3, D), np.float32))
    ark = tmp_path / "nul.ark"
    ark.write_bytes(b"u1 " + mat + b"u\x00x " + mat)
    stats = tmp_path / "stats.mat"
    with open(stats, "wb") as f:
        kaldiio.save_mat(f, _stats([np.arange(2 * D, dtype=np.float32).reshape(2, D)]))
    out = tmp_path / "out"
    out.mkdir()
    r = _run(apply_cmvn_cli, stats, f"ark:{ark}", f"ark,scp:{out}/f.ark,{out}/f.scp")
    assert _error(r) == (f"ERROR (asrkit-apply-cmvn): {ark}: entry 2: a NUL byte in the key b'u\\x00x' (a binary "
                         f"or damaged file?)")
    assert not list(out.iterdir())


@pytest.mark.parametrize("value, why", [
    ("{d}\0f.ark:9", "({d}\\x00f.ark:9): {d}\\x00f.ark: the name holds a NUL byte, which no file name can"),
    # (a pipe's command too: Popen's ValueError was the same traceback, 'u2 cat dump/f\x00.ark |')
    ("cat {d}\0f.ark |", "(cat {d}\\x00f.ark |): the command holds a NUL byte, which no command can"),
], ids=["file", "pipe"])
def test_an_scp_line_whose_ark_path_holds_a_nul_is_a_bad_utterance(tmp_path, value, why):
    """A feats.scp line damaged to 'u2 dump/feats\x00raw.ark:15' (the mutation sweep, tests/mutations.py)
    was a ValueError traceback ('embedded null byte') from compute-cmvn and apply-cmvn, before any
    utterance was read (the check that no output overwrites an input took the realpath of every
    ark) and, past that, from opening the ark. It is now that utterance's skip, the NUL shown escaped."""
    # (u1 varies: stats in which no dim varies are refused before any utterance is read)
    ark = _ark_of(tmp_path / "f.ark", {"u1": np.arange(3 * D, dtype=np.float32).reshape(3, D),
                                       "u2": np.zeros((4, D), np.float32)})
    scp = tmp_path / "feats.scp"
    scp.write_bytes(f"u1 {ark}:3\nu2 {value.format(d=tmp_path)}\n".encode())
    stats = tmp_path / "cmvn.ark"
    skip = f"{scp}:2: utterance 'u2' {why.format(d=tmp_path)}"
    r = _run(compute_cmvn_cli, "--max-bad-percent", "100", f"scp:{scp}", stats)
    assert r.exit_code == 0 and f"skipping {skip}" in r.stderr and "Done 1 out of 2 utterances; failed 1" in r.stderr
    assert "\0" not in r.stderr
    out = tmp_path / "n.ark"
    r = _run(apply_cmvn_cli, stats, f"scp:{scp}", f"ark:{out}")
    assert _error(r).endswith(f"(first: {skip})") and not out.exists()


def test_an_empty_compressed_matrix_as_kaldi_writes_it(tmp_path):
    """Kaldi's CompressedMatrix::Write of an empty matrix (copy-feats --compress=true of a 0-frame
    utterance) writes the whole 20-byte GlobalHeader, its format field too, and Read takes 16: the
    next key read was '\\x00\\x00\\x00\\x00u2' (the utterance under a key no table has). The empty
    matrix is a 0 x 0 (a skipped utterance) and the next entry keeps its key."""
    rng = np.random.default_rng(9)
    u2 = rng.standard_normal((6, D)).astype(np.float32)
    empty_cm = b"\0BCM " + struct.pack("<iffii", 1, 0.0, 0.0, 0, 0)
    ark = tmp_path / "c.ark"
    ark.write_bytes(b"u1 " + empty_cm + b"u2 " + _entry(u2))
    got = list(iter_ark(io.BufferedReader(io.BytesIO(ark.read_bytes())), "c.ark"))
    assert [k for k, _ in got] == ["u1", "u2"] and got[0][1].shape == (0, 0)
    out = tmp_path / "cmvn.mat"
    r = _run(compute_cmvn_cli, f"ark:{ark}", out, "--max-bad-percent", "50")
    assert r.exit_code == 0, r.stderr
    assert "skipping utterance 'u1'" in r.stderr
    np.testing.assert_allclose(kaldiio.load_mat(str(out)), _stats([u2]), rtol=1e-6)


def test_compressed_matrices_are_exactly_kaldis_and_decoded_in_place(tmp_path):
    """Decoded bit for bit as Kaldi's CopyToMat (float32 arithmetic in its order; kaldiio's
    decoder, used before, was off in the last bit), into one array: kaldiio's held about six
    float32 copies at once (peak 6.5 x the output for a CM: 6.3 GB for one that decodes to 960 MB)."""
    import tracemalloc

    rng = np.random.default_rng(10)
    for blob, ref in (_cm(rng, 40, 7, -7.25, 31.5), _cm2_cm3(rng, b"CM2", 40, 7, -300.0, 600.0),
                      _cm2_cm3(rng, b"CM3", 40, 7, -1.0, 2.0)):
        (_, got), = iter_ark(io.BufferedReader(io.BytesIO(b"u " + blob)), "x.ark")
        assert got.dtype == np.float32 and got.flags["C_CONTIGUOUS"]
        np.testing.assert_array_equal(got, ref)
    rows, cols = 100_000, 40
    big = rng.standard_normal((rows, cols)).astype(np.float32)
    for method in (2, 3, 5):  # CM, CM2, CM3
        ark = tmp_path / "big.ark"
        kaldiio.save_ark(str(ark), {"u": big}, compression_method=method)
        data = ark.read_bytes()
        tracemalloc.start()
        try:
            (_, got), = iter_ark(io.BufferedReader(io.BytesIO(data)), "big.ark")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert got.shape == (rows, cols)
        assert peak < 2 * got.nbytes, (method, peak / got.nbytes)


def test_feats_scp_offsets_into_a_fifo_or_device_fail_validation(tmp_path):
    """'u1 /dev/zero:3' or an ark that is a FIFO, read at an offset: every reader refuses it (an
    offset is a seek), yet the dir "successfully validated" (the ark existed and was no directory)."""
    import os

    from asrkit.cli import validate_data_dir as validate_cli

    d = _dump_dir(tmp_path)
    fifo = tmp_path / "fifo.ark"
    os.mkfifo(fifo)
    lines = (d / "feats.scp").read_text().splitlines()
    lines[0] = lines[0].split()[0] + " /dev/zero:3"
    lines[2] = lines[2].split()[0] + f" {fifo}:10"
    (d / "feats.scp").write_text("\n".join(lines) + "\n")
    r = _run(validate_cli, "--no-text", d)
    assert r.exit_code == 1, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("ERROR: ")]
    assert errors == [
        f"ERROR: {d}/feats.scp:1: '/dev/zero' is a character device, not a file: an scp offset is a seek (the ark "
        f"of 'a-1')",
        f"ERROR: {d}/feats.scp:3: '{fifo}' is a named pipe, not a file: an scp offset is a seek (the ark of 'a-3')"]


def test_per_speaker_stats_hold_one_sum_per_speaker():
    """compute-cmvn --spk2utt held every utterance's stats until the end (1.3 KB each at 80
    dims: 370 MB for a 281k-utterance set); each utterance is now summed into its speaker's
    stats as it is read. Same numbers as summing them all at the end."""
    import tracemalloc

    from asrkit.features.cmvn import compute_cmvn_stats

    n, dim = 20_000, 80
    rng = np.random.default_rng(11)
    frames = rng.standard_normal((n, dim)).astype(np.float32)
    spk2utt = {"a": [f"u{i}" for i in range(0, n, 2)], "b": [f"u{i}" for i in range(1, n, 2)]}
    tracemalloc.start()
    try:
        out, counts = compute_cmvn_stats(((f"u{i}", frames[i:i + 1]) for i in range(n)), spk2utt)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert counts == {"utts": n, "missing": 0, "empty_speakers": 0, "unlisted": 0}
    np.testing.assert_allclose(out["a"], _stats([frames[0::2]]), rtol=1e-9)
    np.testing.assert_allclose(out["b"], _stats([frames[1::2]]), rtol=1e-9)
    assert peak < 12 << 20, peak  # 33 MB when every utterance's stats were held (6 MB: the id tables)


def test_an_ark_read_as_an_scp_and_an_scp_read_as_an_ark_are_named(tmp_path):
    """scp:feats.ark was "feats.ark:1: not UTF-8 text (invalid continuation byte ...)" (a text
    ark: "line starts with whitespace"); ark:feats.scp, or an scp given as the stats file, "not a
    Kaldi matrix or vector: data starting with b'/tmp/dum'"."""
    feats = {"u1": np.ones((3, D), np.float32), "u2": np.zeros((2, D), np.float32)}
    with open(tmp_path / "f.ark", "wb") as f:
        kaldiio.save_ark(f, feats, scp=str(tmp_path / "f.scp"))
    with open(tmp_path / "t.ark", "wb") as f:
        kaldiio.save_ark(f, feats, text=True)
    for ark in ("f.ark", "t.ark"):
        r = _run(compute_cmvn_cli, f"scp:{tmp_path}/{ark}", tmp_path / "cmvn.mat")
        assert _error(r) == (f"ERROR (asrkit-compute-cmvn): {tmp_path}/{ark}: a Kaldi archive (its first entry: key "
                             f"'u1' and a matrix), not an scp: read it as ark:{tmp_path}/{ark}")
    scp = tmp_path / "f.scp"
    first = scp.read_text().split("\n")[0]
    r = _run(compute_cmvn_cli, f"ark:{scp}", tmp_path / "cmvn.mat")
    assert _error(r) == (f"ERROR (asrkit-compute-cmvn): {scp}: utterance 'u1': an scp's line "
                         f"({first.split(' ', 1)[1]!r}), not a Kaldi matrix or vector: an scp is read as scp:<file>")
    r = _run(apply_cmvn_cli, scp, f"ark:{tmp_path}/f.ark", f"ark:{tmp_path}/out.ark")
    assert _error(r) == (f"ERROR (asrkit-apply-cmvn): {scp}: an scp's line ({first!r}), not a Kaldi matrix or "
                         f"vector: an scp is read as scp:<file>")
    assert not (tmp_path / "cmvn.mat").exists() and not (tmp_path / "out.ark").exists()


def test_a_large_text_matrix_is_read_in_little_more_than_its_text():
    """A text matrix was held as one str per element (and its bytes copied three times before):
    7.6 times its text at the peak, 37 times its float32 size (a 1 GB text matrix took 7.6 GB).
    Now the text twice at most, the values converted a block of rows at a time."""
    import tracemalloc

    big = np.random.default_rng(12).standard_normal((20_000, 40)).astype(np.float32)
    data = b"u " + _entry(big, text=True)
    tracemalloc.start()
    try:
        (_, got), = iter_ark(io.BufferedReader(io.BytesIO(data)), "t.ark")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(got, big)
    assert got.dtype == np.float32 and got.flags["C_CONTIGUOUS"]
    assert peak < 2.5 * len(data), peak / len(data)


def test_tables_with_tabs_or_line_breaks_after_keys_are_named_as_tables(tmp_path):
    """A per-speaker stats ark whose keys end in a tab or a line break (read as Kaldi reads them)
    given as one stats file is named as a table, as with a space; a transcript given as scp: is
    not taken for an ark."""
    ark = tmp_path / "spk.ark"
    ark.write_text("s1\t[\n 1 2 3\n 4 5 0 ]\ns2\n [\n 1 2 3\n 4 5 0 ]\n")
    feats = _ark_of(tmp_path / "f.ark", {"u1": np.ones((3, 2), np.float32)})
    r = _run(apply_cmvn_cli, ark, f"ark:{feats}", f"ark:{tmp_path}/out.ark")
    assert _error(r).startswith(f"ERROR (asrkit-apply-cmvn): {ark}: a Kaldi archive entry (key 's1') where one "
                                f"matrix was expected")
    text = tmp_path / "text"
    text.write_text("u1 [noise] hello\nu2 [laughter]\n")
    r = _run(compute_cmvn_cli, f"scp:{text}", tmp_path / "cmvn.mat")
    assert _error(r) == f"ERROR (asrkit-compute-cmvn): {text}:2: bad range [laughter] (expected e.g. [0:9] or [0:9,3:5])"


def test_a_named_pipe_given_as_an_scp_with_a_bad_line_is_an_error_not_a_wait(tmp_path):
    """scp:<named pipe> whose line is malformed: the error was found, then the reader opened the
    pipe again to see whether it was an ark given as an scp, and that open waited for a writer
    that had gone (asrkit-compute-cmvn hung until killed). Only a regular file is looked at again."""
    import os
    import threading

    from asrkit.data.matrix_io import read_scp
    from tests.process_checks import no_waiting_for

    fifo = tmp_path / "feats.scp"
    os.mkfifo(fifo)

    def write():
        with open(fifo, "wb") as f:
            f.write(b"lonely\n")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()

    with no_waiting_for("the named pipe"):
        with pytest.raises(AsrkitError, match=re.escape(f"{fifo}:1: malformed line (expected '<key> <value>'): "
                                                        f"'lonely'")):
            read_scp(str(fifo))
    writer.join(5)


def test_gzip_compressed_arks_scps_stats_and_tables_are_named_with_their_gunzip(tmp_path):
    """Kaldi reads a compressed ark as 'ark:gunzip -c f.ark.gz |'. Given the .gz itself, asrkit
    said 'entry 1: malformed key b'\\x1f\\x8b\\x08...' (not a Kaldi archive?)' for an ark, "not a
    Kaldi matrix or vector: data starting with b'\\x1f\\x8b...'" for stats, and for a feats.scp.gz
    'CR-only (old Mac) line endings' (its compressed bytes held a CR). Each is now named as gzip'ed,
    with the rspecifier (or the command, for a table) that reads it; what is printed works."""
    import gzip

    from asrkit.cli import validate_data_dir as validate_cli

    d = _dump_dir(tmp_path)
    mats = dict(kaldiio.load_scp(str(d / "feats.scp")).items())
    stats = _stats(list(mats.values()))
    (tmp_path / "my feats.ark.gz").write_bytes(gzip.compress((d / "feats.ark").read_bytes()))
    (tmp_path / "feats.scp.gz").write_bytes(gzip.compress((d / "feats.scp").read_bytes()))
    # (not the stats of these all-zero features, in which no dim varies: apply-cmvn refuses those)
    kaldiio.save_mat(str(tmp_path / "cmvn.ark"), _stats([np.arange(4 * D, dtype=np.float32).reshape(4, D)]))
    (tmp_path / "cmvn.ark.gz").write_bytes(gzip.compress((tmp_path / "cmvn.ark").read_bytes()))
    out = tmp_path / "out.ark"

    def printed(error: str) -> str:
        return shlex.split(error.rsplit(", as ", 1)[1])[0]

    ark = tmp_path / "my feats.ark.gz"
    error = _error(_run(compute_cmvn_cli, f"ark:{ark}", out))
    assert error == (f"ERROR (asrkit-compute-cmvn): {ark}: is gzip-compressed (it starts with gzip's bytes 1F 8B), not "
                     f"a Kaldi archive: read it through gunzip, as 'ark:gunzip -c '\"'\"'{ark}'\"'\"' |'")
    assert not out.exists()
    r = _run(compute_cmvn_cli, printed(error), out)
    assert r.exit_code == 0, r.stderr
    np.testing.assert_allclose(kaldiio.load_mat(str(out)), stats)
    out.unlink()

    error = _error(_run(compute_cmvn_cli, f"scp:{tmp_path}/feats.scp.gz", out))
    assert error == (f"ERROR (asrkit-compute-cmvn): {tmp_path}/feats.scp.gz: is gzip-compressed (it starts with gzip's "
                     f"bytes 1F 8B), not a Kaldi table: read it through gunzip, as "
                     f"'scp:gunzip -c {tmp_path}/feats.scp.gz |'")
    r = _run(compute_cmvn_cli, printed(error), out)
    assert r.exit_code == 0, r.stderr
    np.testing.assert_allclose(kaldiio.load_mat(str(out)), stats)

    error = _error(_run(apply_cmvn_cli, tmp_path / "cmvn.ark.gz", f"scp:{d}/feats.scp", f"ark:{tmp_path}/n.ark"))
    assert error == (f"ERROR (asrkit-apply-cmvn): {tmp_path}/cmvn.ark.gz: is gzip-compressed (it starts with gzip's "
                     f"bytes 1F 8B), not a Kaldi matrix: read it through gunzip, as "
                     f"'gunzip -c {tmp_path}/cmvn.ark.gz |'")
    assert not (tmp_path / "n.ark").exists()
    r = _run(apply_cmvn_cli, printed(error), f"scp:{d}/feats.scp", f"ark:{tmp_path}/n.ark")
    assert r.exit_code == 0, r.stderr

    # a table of a data dir, gzip'ed under its own name: was "utt2spk:1: not UTF-8 text", then
    # "has no entry in utt2spk" for every utterance
    (d / "utt2spk").write_bytes(gzip.compress((d / "utt2spk").read_bytes()))
    r = _run(validate_cli, "--no-text", d)
    assert r.exit_code == 1
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("ERROR: ")]
    remedy = f"mv {d}/utt2spk {d}/utt2spk.gz && gunzip {d}/utt2spk.gz"
    assert errors[0] == (f"ERROR: {d}/utt2spk:1: is gzip-compressed (it starts with gzip's bytes 1F 8B), not text: "
                         f"decompress it ({remedy})"), r.stderr
    subprocess.run(remedy, shell=True, check=True)
    r = _run(validate_cli, "--no-text", d)
    assert r.exit_code == 0, r.stderr


def test_a_table_value_of_a_megabyte_is_quoted_cut_short_in_its_error(tmp_path):
    """A damaged line (an utt2spk line with 300,000 words after the speaker id, a feats.scp value
    as long) was quoted whole: asrkit-validate-data-dir's errors were 1.2 MB each, asrkit-train's
    (utt2num_frames) as much, asrkit-decode's 4.8 MB (the feats.scp value in the warning, the log and
    the error). A value is now quoted up to 200 characters and its length said."""
    from asrkit.cli import validate_data_dir as validate_cli
    from asrkit.data.datadir import DataDir
    from asrkit.data.matrix_io import iter_scp_items
    from asrkit.training.data import frame_count

    d = _dump_dir(tmp_path)
    words = " YES" * 300_000
    lines = (d / "utt2spk").read_text().splitlines()
    (d / "utt2spk").write_text("\n".join([lines[0] + words] + lines[1:]) + "\n")
    cut = f"'{('a' + words)[:200]}'... (1200001 characters)"
    r = _run(validate_cli, "--no-text", d)
    assert r.exit_code == 1 and f"ERROR: {d}/utt2spk:1: expected one speaker id, got {cut}\n" in r.stderr
    assert len(r.stderr) < 5000, len(r.stderr)

    (d / "utt2num_frames").write_text(f"a-1 4{words}\n")
    with pytest.raises(AsrkitError) as e:
        frame_count(DataDir(d), "a-1", "4" + words)
    assert str(e.value).startswith(f"{d}/utt2num_frames:1: bad frame count '{('4' + words)[:200]}'... "
                                   f"(1200001 characters) for 'a-1'"), str(e.value)[:400]

    lines = (d / "feats.scp").read_text().splitlines()
    (d / "feats.scp").write_text("\n".join([lines[0] + words] + lines[1:]) + "\n")
    (key, _, error), *rest = list(iter_scp_items(str(d / "feats.scp")))
    value = lines[0].split(maxsplit=1)[1] + words
    assert key == "a-1" and len(rest) == 2 and all(err is None for _, _, err in rest)
    assert str(error).startswith(f"{d}/feats.scp:1: utterance 'a-1' ({value[:200]}... ({len(value)} characters)): ")
    assert len(str(error)) < 1000, len(str(error))


def test_the_table_readers_quote_a_value_of_a_megabyte_cut_short(tmp_path):
    """As the test above, for the table readers' own messages: asrkit-apply-cmvn --utt2spk and
    asrkit-split-data-dir read utt2spk with read_utt2spk, whose 'expected one speaker id, got ...'
    was 1.2 MB for such a line, and a line of one 1 MB token was as long an error."""
    from asrkit.data.table import read_table, read_utt2spk

    words = " YES" * 300_000
    (tmp_path / "utt2spk").write_text(f"a-1 a{words}\na-2 a\n")
    with pytest.raises(AsrkitError) as e:
        read_utt2spk(tmp_path / "utt2spk")
    assert str(e.value) == (f"{tmp_path}/utt2spk:1: utterance 'a-1': expected one speaker id, got "
                            f"'{('a' + words)[:200]}'... (1200001 characters)")
    (tmp_path / "t").write_text("a-1 x\n" + "y" * 1_000_000 + "\n")
    with pytest.raises(AsrkitError) as e:
        read_table(tmp_path / "t")
    assert str(e.value) == (f"{tmp_path}/t:2: malformed line (expected '<key> <value>'): '{'y' * 200}'... "
                            f"(1000000 characters)")


def test_utt2num_frames_without_feats_scp_is_validated(tmp_path):
    """A dump dir of audio (--feats-type raw) has utt2num_frames, which asrkit-train batches by, and
    no feats.scp: validate-data-dir read utt2num_frames only beside a feats.scp, so a duplicate id,
    a count of 'x' or an utterance missing from it "successfully validated", and the training
    then refused the table. It is checked as utt2dur is: ids against utt2spk, positive counts."""
    from asrkit.cli import validate_data_dir as validate_cli

    d = _dump_dir(tmp_path)
    (d / "feats.scp").unlink()
    (d / "feats.ark").unlink()
    r = _run(validate_cli, "--no-text", "--no-wav", d)
    assert r.exit_code == 0, r.stderr
    (d / "utt2num_frames").write_text("a-1 4\na-1 4\na-2 x\n")
    r = _run(validate_cli, "--no-text", "--no-wav", d)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("ERROR: ")]
    assert r.exit_code == 1 and errors == [
        f"ERROR: {d}/utt2num_frames:2: duplicate id 'a-1' (first on line 1)",
        f"ERROR: {d}/utt2num_frames:3: number of frames must be a positive integer, got 'x'",
        f"ERROR: {d}/utt2spk:3: utterance 'a-3' has no entry in {d}/utt2num_frames"], r.stderr
    # --no-feats still leaves it alone, as it does beside a feats.scp
    assert _run(validate_cli, "--no-text", "--no-wav", "--no-feats", d).exit_code == 0


def test_an_ark_path_a_file_system_can_hold_is_named_whole_in_its_error(tmp_path):
    """f5edc6b cut every scp value and ark path after 200 characters, so an ark missing at the end of a
    deep (290-character) path was named '.../level_04_of_a_... (287 characters): no such file': the
    file name and offset, the part that says which ark, were cut off. A path up to PATH_MAX is whole."""
    from asrkit.data.matrix_io import iter_scp_items

    d = _dump_dir(tmp_path)
    deep = tmp_path.joinpath(*[f"exp_dir_level_{i:02d}_of_a_deep_cluster_layout" for i in range(6)])
    deep.mkdir(parents=True)
    ark = f"{deep}/raw_fbank_train_sp.13.ark"
    assert len(ark) > 300
    lines = (d / "feats.scp").read_text().splitlines()
    key = lines[0].split()[0]
    (d / "feats.scp").write_text("\n".join([f"{key} {ark}:16"] + lines[1:]) + "\n")
    (first, _, error), *rest = list(iter_scp_items(str(d / "feats.scp")))
    assert first == key and all(err is None for _, _, err in rest)
    assert str(error) == f"{d}/feats.scp:1: utterance {key!r} ({ark}:16): {ark}: no such file", str(error)


def test_an_ark_key_starting_with_gzips_two_bytes_is_not_called_gzip(tmp_path):
    """ae9ee20 took an ark whose first key starts with bytes 1F 8B for a gzip'ed ark ('read it through
    gunzip', which fails on it), where the key's own fault had been named: 'key ... is not UTF-8 text'.
    A gzip stream's third byte is 08 (deflate, its one method); without it the key is named as before."""
    buf = io.BytesIO()
    kaldiio.save_ark(buf, {"u1": np.zeros((2, 3), dtype=np.float32)})
    data = buf.getvalue()
    with pytest.raises(AsrkitError) as e:
        list(iter_ark(io.BufferedReader(io.BytesIO(b"\x1f\x8bxx" + data[len(b"u1"):])), "odd.ark"))
    assert "is not UTF-8 text" in str(e.value) and "gzip" not in str(e.value), str(e.value)


def test_a_file_starting_with_gzips_two_bytes_alone_is_not_called_gzip(tmp_path):
    """ae9ee20 and d70e9ab called any table, scp or model starting with bytes 1F 8B gzip-compressed.
    Those two bytes begin damaged files too, which are no gzip: a utt2spk so damaged was 'decompress it
    (mv utt2spk utt2spk.gz && gunzip utt2spk.gz)', which gunzip refuses, leaving the table renamed,
    where 1742106 said 'not UTF-8 text'. gzip's third byte is 08 (deflate); without it, as before."""
    from asrkit.cli import validate_data_dir as validate_cli
    from asrkit.data.matrix_io import read_scp
    from asrkit.data.table import read_utt2spk
    from asrkit.utils.torch_files import load_weights_only

    d = _dump_dir(tmp_path)
    (d / "utt2spk").write_bytes(b"\x1f\x8bab a\n" + (d / "utt2spk").read_bytes())
    r = _run(validate_cli, "--no-text", d)
    assert r.exit_code == 1 and "not UTF-8 text" in r.stderr and "gzip-compressed" not in r.stderr, r.stderr
    with pytest.raises(AsrkitError) as e:
        read_utt2spk(d / "utt2spk")
    assert "not UTF-8 text" in str(e.value) and "gzip-compressed" not in str(e.value), str(e.value)
    (d / "feats.scp").write_bytes(b"\x1f\x8bab " + (d / "feats.scp").read_bytes())
    with pytest.raises(AsrkitError) as e:
        read_scp(str(d / "feats.scp"))
    assert "gzip-compressed" not in str(e.value), str(e.value)
    (tmp_path / "model.pt").write_bytes(b"\x1f\x8bxx" + bytes(100))
    with pytest.raises(AsrkitError) as e:
        load_weights_only(tmp_path / "model.pt", "asrkit model")
    assert "not a torch file: it starts with b'\\x1f\\x8bxx'" in str(e.value) and "gzip-compressed" not in str(e.value)

    # a real gzip'ed table is named as such still
    import gzip

    (d / "utt2spk").write_bytes(gzip.compress(b"a-1 a\n"))
    assert "is gzip-compressed" in _run(validate_cli, "--no-text", d).stderr


def test_an_ark_command_that_leaves_a_process_holding_its_output_is_read_when_it_ends(tmp_path):
    """'ark:cmd |' whose shell exits but leaves a process in the background holding its stdout open
    ('(cmd &); cat x.ark |'; ssh's ControlPersist master does so) never gives end-of-file: the whole
    ark was read, then waited on for ever (asrkit-decode --feats hung). Its end is now the shell's exit."""
    import kaldiio
    import numpy as np

    from asrkit.data.matrix_io import iter_ark_file

    ark = tmp_path / "x.ark"
    want = {f"u{i}": np.full((3, 4), i, dtype=np.float32) for i in range(3)}
    kaldiio.save_ark(str(ark), want)
    with a_process_left_holding_the_output(tmp_path) as holder:
        got = dict(iter_ark_file(f"{holder}cat {ark} |"))
    assert list(got) == list(want) and all(np.array_equal(got[k], want[k]) for k in want)


def test_an_ark_command_is_read_by_a_process_with_descriptors_past_1023(tmp_path):
    """'ark:cmd |' read to its shell's end looked at the command's stdout with select.select, which
    refuses a descriptor past 1023: under a raised ``ulimit -n`` a process holding many files open
    got a ValueError traceback for every such input. poll has no such limit."""
    import os
    import resource

    from asrkit.data.matrix_io import iter_ark_file

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"this machine allows {hard} open files")
    if soft != resource.RLIM_INFINITY and soft < 1100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1100 if hard == resource.RLIM_INFINITY else min(hard, 1100), hard))
    ark = tmp_path / "x.ark"
    want = {f"u{i}": np.full((3, 4), i, dtype=np.float32) for i in range(3)}
    kaldiio.save_ark(str(ark), want)
    held = []
    try:
        while not held or held[-1] < 1030:
            held.append(os.open(os.devnull, os.O_RDONLY))
        got = dict(iter_ark_file(f"cat {ark} |"))
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert list(got) == list(want) and all(np.array_equal(got[k], want[k]) for k in want)
