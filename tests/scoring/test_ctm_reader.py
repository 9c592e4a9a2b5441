"""asrkit.data.ctm.read_ctm on CTMs as other tools and editors leave them."""
from __future__ import annotations

import pytest

from asrkit.data.ctm import CtmWord, read_ctm
from asrkit.utils.errors import AsrkitError


def test_a_bom_is_named_not_made_part_of_the_first_utterance(tmp_path):
    """A Windows editor's BOM went into the first id: the first word of 'u1' became an utterance
    '\\ufeffu1' of its own, with no error."""
    ctm = tmp_path / "a.ctm"
    ctm.write_bytes(b"\xef\xbb\xbfu1 1 0.00 0.50 yes 1.0\nu1 1 0.50 0.40 no\n")
    with pytest.raises(AsrkitError, match=r"a\.ctm:1: starts with a UTF-8 byte-order mark"):
        read_ctm(ctm)


def test_a_bom_starting_a_later_line_is_named(tmp_path):
    """Two CTMs each saved with a BOM and joined with cat: the second's first word went to an
    utterance '\ufeffu2' of its own, with no error (line 1's BOM was already named)."""
    ctm = tmp_path / "a.ctm"
    ctm.write_bytes(b"u1 1 0.00 0.50 yes 1.0\n\xef\xbb\xbfu2 1 0.00 0.50 no\nu2 1 0.50 0.40 no\n")
    with pytest.raises(AsrkitError, match=r"a\.ctm:2: starts with a UTF-8 byte-order mark \(BOM\), which would "
                                          r"become part of its key"):
        read_ctm(ctm)


def test_a_line_not_utf8_is_named_by_its_line(tmp_path):
    ctm = tmp_path / "a.ctm"
    ctm.write_bytes(b"u1 1 0.00 0.50 yes 1.0\n" * 500 + b"u2 1 0.50 0.40 n\xe9 0.5\n")
    with pytest.raises(AsrkitError, match=r"a\.ctm:501: not UTF-8 text \(.* at byte 16 of the line\)"):
        read_ctm(ctm)


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_line_ends(tmp_path, end):
    ctm = tmp_path / "a.ctm"
    ctm.write_bytes(end.join([b";; a comment", b"u1 1 0.00 0.50 yes 1.0", b"", b"u1 1 0.5 0.1 no 0.25"]) + end)
    assert read_ctm(ctm) == {"u1": [CtmWord(0.0, 0.5, "yes", 1.0), CtmWord(0.5, 0.6, "no", 0.25)]}


def test_a_file_without_line_breaks_is_refused_at_once(tmp_path):
    """/dev/zero, or a NUL-filled file a crash left, was read whole looking for a line's end."""
    ctm = tmp_path / "a.ctm"
    ctm.write_bytes(b"\0" * (3 << 20))
    with pytest.raises(AsrkitError, match=r"a\.ctm:1: a NUL byte in a line over 1 MiB long"):
        read_ctm(ctm)
