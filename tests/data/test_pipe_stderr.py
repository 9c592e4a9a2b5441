"""The stderr of a matrix pipe (``ark:cmd |``, ``scp:cmd |``, an scp entry ending in ``|``) is kept
as a bounded tail in memory, not spooled to a temporary file: a command writing stderr without end
filled /tmp, and under a full disk or a file size limit it died (SIGXFSZ, status -25) and the error
named a cut-off line of noise instead of its real last line."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import kaldiio
import numpy as np

# Run in a child: the file size limit is inherited by the pipe commands, and stands in for a /tmp
# with 1 MiB free. Each case prints one JSON line: its name, then the matrices read or the error.
_READ_UNDER_FILE_SIZE_LIMIT = """
import json, resource, sys
from asrkit.data.matrix_io import iter_ark_file, iter_scp_items, read_entry, parse_scp_value
from asrkit.utils.errors import AsrkitError
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
readers = {
    "ark": lambda spec: [(k, m.tolist()) for k, m in iter_ark_file(spec)],
    "entry": lambda spec: [("x", read_entry(parse_scp_value("x", spec, "feats.scp:1")).tolist())],
    "scp": lambda spec: [(k, m.tolist()) if e is None else (k, "error: " + str(e))
                         for k, m, e in iter_scp_items(spec)],
}
for name, kind, spec in json.loads(sys.argv[1]):
    try:
        print(json.dumps([name, readers[kind](spec)]), flush=True)
    except AsrkitError as e:
        print(json.dumps([name, "error: " + str(e)]), flush=True)
"""

# 5.6 MB of stderr, five times the file size limit.
NOISE = "yes 'WARN: clipping in block' | head -n 200000 >&2"


def _pipe(script: str) -> str:
    return f"sh -c {shlex.quote(script)} |"


def test_pipes_writing_megabytes_of_stderr_read_and_fail_with_their_last_line(tmp_path):
    rng = np.random.default_rng(0)
    mats = {"u1": rng.standard_normal((3, 4)).astype(np.float32),
            "u2": rng.standard_normal((5, 4)).astype(np.float32)}
    ark, scp, one = tmp_path / "feats.ark", tmp_path / "feats.scp", tmp_path / "one.mat"
    kaldiio.save_ark(str(ark), mats, scp=str(scp))
    kaldiio.save_mat(str(one), mats["u2"])
    q = {p: shlex.quote(str(p)) for p in (ark, scp, one)}
    cases = [
        ("ark ok", "ark", _pipe(f"{NOISE}; cat {q[ark]}; {NOISE}")),
        ("ark failing", "ark", _pipe(f"{NOISE}; echo 'gunzip: crc error' >&2; exit 1")),
        ("ark cut short", "ark", _pipe(f"{NOISE}; head -c 40 {q[ark]}; echo 'gzip: unexpected end of file' >&2; "
                                       "exit 1")),
        # A child left writing to stderr after the command exits: not waited for, nor spooled.
        ("ark child", "ark", _pipe(f"(yes >&2 &); cat {q[ark]}")),
        ("entry ok", "entry", _pipe(f"{NOISE}; cat {q[one]}; {NOISE}")),
        ("entry failing", "entry", _pipe(f"{NOISE}; echo 'copy-feats: bad input' >&2; exit 2")),
        ("scp ok", "scp", _pipe(f"{NOISE}; cat {q[scp]}; {NOISE}")),
        ("scp failing", "scp", _pipe(f"{NOISE}; echo 'grep: feats.scp: no such file' >&2; exit 3")),
    ]
    out = subprocess.run([sys.executable, "-c", _READ_UNDER_FILE_SIZE_LIMIT, json.dumps(cases)], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    got = dict(json.loads(line) for line in out.stdout.splitlines())
    assert list(got) == [name for name, _, _ in cases], out.stdout[-3000:]

    def matrices(name):
        assert not isinstance(got[name], str), f"{name}: {got[name][-500:]}"
        return {k: np.asarray(m, dtype=np.float32) for k, m in got[name]}

    def error(name):
        assert isinstance(got[name], str) and "\n" not in got[name], f"{name}: {got[name]!r}"[-500:]
        return got[name]

    for name in ("ark ok", "ark child", "scp ok"):
        read = matrices(name)
        assert list(read) == ["u1", "u2"], name
        for key in read:
            np.testing.assert_array_equal(read[key], mats[key], err_msg=name)
    np.testing.assert_array_equal(matrices("entry ok")["x"], mats["u2"])
    assert error("ark failing").endswith("exited with status 1: gunzip: crc error"), got["ark failing"]
    assert "exited with status 1: gzip: unexpected end of file (its output read up to: " in error("ark cut short")
    assert error("entry failing").endswith("command exited with status 2: copy-feats: bad input")
    assert error("scp failing").endswith("command exited with status 3: grep: feats.scp: no such file")
