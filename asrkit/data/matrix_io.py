"""Reading Kaldi matrices and vectors from arks, scps and single-object files -- and nothing else.

kaldiio's readers recognise more than Kaldi's formats: an entry that starts with ``PKL`` is
unpickled (which runs whatever code the pickle names), ``NPY`` goes to ``numpy.load``, and
``RIFF``/``fLaC``/``AUDIO`` to audio readers. A ``feats.ark`` or ``cmvn.ark`` is a plain data
file that people download, share and are sent, so asrkit reads each entry's marker itself and
accepts only what Kaldi itself writes:

- binary: ``\\0B`` then one of ``FM FV DM DV`` (float/double matrix/vector, decoded here) or
  ``CM CM2 CM3`` (Kaldi's compressed matrices: the header is checked and the exact bytes are
  read, then decompressed here as Kaldi does it);
- text: ``[ ... ]``, a matrix (one row when on one line, as Kaldi's Matrix reads it), parsed
  here from the ``[`` on.

Anything else is refused before a byte of its payload is interpreted, with an error naming the
file (and scp line) and the utterance. Sizes in headers are checked against what can be read,
so a corrupt header is an error, not a multi-gigabyte allocation; a scp offset past the end of
its ark, a pipe that fails or prints nothing, a duplicate key and a truncated entry are errors
naming the file and utterance too.

e.g.::

    >>> for utt, feats in iter_ark_file("dump/test/feats.ark"):      # doctest: +SKIP
    ...     print(utt, feats.shape)
    >>> table = ScpTable("dump/test/feats.scp"); table["utt1"]      # doctest: +SKIP
"""
from __future__ import annotations

import io
import os
import re
import stat
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Dict, Iterator, List, Optional, Tuple

import numpy as np

from asrkit.data.table import (GZIP_MAGIC, bom_sed, bounded_lines, gzip_problem, iter_table, iter_table_lines,
                               read_line_blocks, refuse_terminal)
from asrkit.utils.errors import AsrkitError, shown_name
from asrkit.utils.fileio import names_stdin, open_read, special_kind
from asrkit.utils.pipes import ended_with_shell, start_pipe

# Kaldi's binary object types this reader accepts: token -> (dtype, is_matrix) for the plain ones.
_PLAIN_TYPES = {b"FM": ("<f4", True), b"FV": ("<f4", False), b"DM": ("<f8", True), b"DV": ("<f8", False)}
_COMPRESSED_TYPES = (b"CM", b"CM2", b"CM3")
KALDI_BINARY_TYPES = tuple(t.decode() for t in (*_PLAIN_TYPES, *_COMPRESSED_TYPES))
# A matrix bigger than this many elements is taken for a corrupt header (it would be 8 GiB of floats).
MAX_ELEMENTS = 1 << 31
_CHUNK = 1 << 20

# What a refused marker is, for the message (kaldiio's extensions, and common file types).
_FOREIGN = (
    (b"PKL", "a pickled Python object (kaldiio's 'PKL' extension), which would run code when loaded"),
    (b"NPY", "a numpy array (kaldiio's 'NPY' extension)"),
    (b"\x93NUMPY", "a numpy .npy file"),
    (b"RIFF", "WAV audio"),
    (b"fLaC", "FLAC audio"),
    (b"AUDIO", "audio (kaldiio's 'AUDIO' extension)"),
    (b"PK\x03\x04", "a zip archive (e.g. a torch or numpy .npz file)"),
    (b"\x80", "a pickled Python object"),
)


def _read_exact(stream: IO[bytes], n: int, what: str, part: str) -> bytearray:
    """``n`` bytes, read in chunks so a corrupt size cannot allocate more than the data holds.

    They grow one buffer (a large one is enlarged in place): a list of chunks joined at the end
    held each matrix twice, 1.9 GB to read one of 960 MB."""
    data = bytearray()
    while len(data) < n:
        chunk = stream.read(min(n - len(data), _CHUNK))
        if not chunk:
            raise AsrkitError(f"{what}: truncated {part} ({len(data)} of {n} bytes)")
        data += chunk
    return data


def _read_int32(stream: IO[bytes], what: str, part: str) -> int:
    data = _read_exact(stream, 5, what, part)
    if data[0] != 4:
        raise AsrkitError(f"{what}: corrupt Kaldi binary header ({part}: size byte {data[0]}, expected 4)")
    return struct.unpack("<i", data[1:])[0]


def _check_shape(rows: int, cols: int, what: str) -> None:
    if rows < 0 or cols < 0 or rows * cols > MAX_ELEMENTS:
        raise AsrkitError(f"{what}: corrupt Kaldi binary header ({rows} x {cols} matrix)")


def _describe_foreign(head: bytes) -> str:
    for marker, name in _FOREIGN:
        if head.startswith(marker):
            return name
    return f"data starting with {head[:8]!r}"


# "<key> " and a Kaldi object: an archive's entry where one matrix was expected (a table ark given
# as a single stats file, or an scp offset at a key instead of past it)
_ARK_ENTRY = re.compile(rb"([^\0\s]{1,256})(?:[ \t](?:\0B|\s*\[)|\n\s*\[)")  # (a key ends as _read_key ends it)
ONE_MATRIX = ("one matrix with no key (a single file, as global CMVN stats are), not a table of keyed "
              "entries: give its name without 'ark:'")


_BOM = b"\xef\xbb\xbf"
# (a text ark or stats file saved by a Windows editor: its first key, or its matrix, held the BOM)
def _bom_problem(file: Optional[str]) -> str:
    """What is wrong with a text ark or stats file that starts with a BOM, with the sed that removes
    it: editing ``file`` in place where the BOM starts that file (it printed a literal '<file>'),
    else (stdin, a pipe, an object at an offset) as a filter."""
    how = (bom_sed(True, file) if file is not None and not names_stdin(file) and os.path.isfile(file)
           else f"pass it through {bom_sed(True)} on its way in")
    return f"starts with a UTF-8 byte-order mark (BOM), which Kaldi reads as part of its first key or object: remove it ({how})"


# an scp's line, or its value: "[key ]file:offset[range]" and the line's end
_SCP_LINE = re.compile(rb"((?:[^\s\0]{1,256}[ \t]+)?[^\s\0]{1,1024}:\d{1,20}(?:\[[\d:,]{0,60}\])?)[ \t]*\r?\n")


def _refuse(head: bytes, what: str, file: Optional[str] = None) -> AsrkitError:
    if head.startswith(_BOM):  # was "a Kaldi archive entry (key '\ufeff')" for a text stats file
        return AsrkitError(f"{what}: {_bom_problem(file)}")
    if head.startswith(GZIP_MAGIC):  # (a cmvn.ark.gz was "data starting with b'\x1f\x8b\x08...'")
        return AsrkitError(f"{what}: {gzip_problem(file if file is not None else what, '')}")
    line = _SCP_LINE.match(head)
    if line:
        # an scp given as ark: or as a stats file: was "not a Kaldi matrix or vector: data starting
        # with b'/tmp/dum'"
        text = line.group(1).decode("utf-8", "replace")
        return AsrkitError(f"{what}: an scp's line ({text!r}), not a Kaldi matrix or vector: an scp is read as "
                           f"scp:<file>")
    entry = _ARK_ENTRY.match(head)
    if entry:
        key = entry.group(1).decode("utf-8", "replace")
        return AsrkitError(f"{what}: a Kaldi archive entry (key {key!r}) where one matrix was expected (a table, "
                           f"such as per-speaker stats, is given as ark:<file>; an scp's offset points past the key)")
    return AsrkitError(f"{what}: not a Kaldi matrix or vector: {_describe_foreign(head)}; asrkit reads only "
                       f"Kaldi's binary ({', '.join(KALDI_BINARY_TYPES)}) and text ('[ ... ]') formats")


def read_object(stream: IO[bytes], what: str, file: Optional[str] = None) -> np.ndarray:
    """One Kaldi matrix or vector at the stream's position (no key), as a numpy array.

    ``what`` names it in errors (``feats.ark: utterance 'a1'``); ``file``: the file the object
    starts, for the sed of a BOM's error. Only Kaldi's formats are read; see the module docstring.
    The stream is left just past the object.
    """
    head = stream.read(2)
    if not head:
        raise AsrkitError(f"{what}: no data (end of file)")
    if head == b"\0B":
        return _read_binary(stream, what)
    # Kaldi's text objects may be preceded by white space (after the key's single space).
    head = head.lstrip(b" \t\r\n")
    while not head:
        c = stream.read(1)
        if not c:
            raise AsrkitError(f"{what}: no data (end of file)")
        head = c.lstrip(b" \t\r\n")
    if head[:1] != b"[":
        raise _refuse(head + stream.read(262), what, file)  # (enough for a key and what follows it)
    return _read_text(head, stream, what)


def _read_binary(stream: IO[bytes], what: str) -> np.ndarray:
    if getattr(stream, "peek", lambda n: b"")(1)[:1] == b"\4":
        raise AsrkitError(f"{what}: a Kaldi integer vector (e.g. an alignment), not a matrix or vector of "
                          "features or statistics")
    token = b""
    while True:
        c = stream.read(1)
        if c == b" " or not c or len(token) > 4:
            break
        token += c
    if token.startswith(b"<") and len(token) > 4:
        # Kaldi's other binary objects start with a <Token>: a model or a transform given where
        # features or stats were expected was "corrupt Kaldi binary header (type b'<Tran')".
        name = token + c + stream.read(64)
        name = name[:name.index(b">") + 1] if b">" in name else name[:20] + b"..."
        raise AsrkitError(f"{what}: a Kaldi binary object {name.decode(errors='replace')!r} (a model or another "
                          f"object), not a matrix or vector (asrkit reads {', '.join(KALDI_BINARY_TYPES)})")
    if token in _PLAIN_TYPES:
        dtype, is_matrix = _PLAIN_TYPES[token]
        rows = _read_int32(stream, what, "rows")
        cols = _read_int32(stream, what, "columns") if is_matrix else 1
        _check_shape(rows, cols, what)
        data = _read_exact(stream, rows * cols * np.dtype(dtype).itemsize, what,
                           f"{token.decode()} data of a {rows} x {cols} {'matrix' if is_matrix else 'vector'}")
        array = np.frombuffer(data, dtype=dtype)
        return array.reshape(rows, cols) if is_matrix else array
    if token in _COMPRESSED_TYPES:
        header = _read_exact(stream, 16, what, f"{token.decode()} header")
        rows, cols = struct.unpack("<ii", header[8:])
        _check_shape(rows, cols, what)
        if token == b"CM" and rows == cols == 0 and getattr(stream, "peek", lambda n: b"")(4)[:4] == bytes(4):
            # Kaldi writes an empty compressed matrix (copy-feats --compress of a 0-frame
            # utterance) with its whole 20-byte header, format field included, and reads 16: the
            # last 4, zeros, then began the next key ('\0\0\0\0u2', in Kaldi too).
            stream.read(4)
        body = {b"CM": 8 * cols + rows * cols, b"CM2": 2 * rows * cols, b"CM3": rows * cols}[token]
        data = _read_exact(stream, body, what, f"{token.decode()} data of a {rows} x {cols} matrix")
        return _decompress(token, header, data, rows, cols)
    if not token or token.isalnum():
        raise AsrkitError(f"{what}: unsupported Kaldi binary object {token.decode(errors='replace')!r} "
                          f"(asrkit reads {', '.join(KALDI_BINARY_TYPES)})")
    raise AsrkitError(f"{what}: corrupt Kaldi binary header (type {token!r})")


def _decompress(token: bytes, header: bytes, data: bytearray, rows: int, cols: int) -> np.ndarray:
    """Kaldi's CompressedMatrix::CopyToMat, in float32 as Kaldi computes it, into one float32
    array: kaldiio's decoder, used before, held some six float32 copies of the matrix at once
    (6.3 GB to decode a CM whose output is 960 MB) and differed from Kaldi in the last bit."""
    f32 = np.float32
    min_value, range_ = struct.unpack("<ff", header[:8])
    out = np.empty((rows, cols), dtype=np.float32)
    if token == b"CM":
        # four uint16 percentiles per column, then each column's bytes, one column after another
        percentiles = np.frombuffer(data, dtype="<u2", count=4 * cols).reshape(cols, 4).astype(np.float32)
        columns = np.frombuffer(data, dtype=np.uint8, offset=8 * cols).reshape(cols, rows)
        # Uint16ToFloat: min + (range * 1/65535) * value
        points = f32(min_value) + (f32(range_) * f32(1.52590218966964e-05)) * percentiles
        for c in range(cols):
            p0, p25, p75, p100 = points[c]
            v = columns[c].astype(np.float32)
            # CharToFloat: piecewise linear through the percentiles (0..64, 64..192, 192..255)
            out[:, c] = np.where(v <= 64, p0 + (p25 - p0) * v * f32(1 / 64.0),
                                 np.where(v <= 192, p25 + (p75 - p25) * (v - f32(64)) * f32(1 / 128.0),
                                          p75 + (p100 - p75) * (v - f32(192)) * f32(1 / 63.0)))
        return out
    two_bytes = token == b"CM2"
    values = np.frombuffer(data, dtype="<u2" if two_bytes else np.uint8).reshape(rows, cols)
    # (the increment is computed in double, then kept as a float, as Kaldi does)
    increment = f32(float(range_) * (1.0 / 65535.0 if two_bytes else 1.0 / 255.0))
    step = max(1, (1 << 16) // max(cols, 1))  # (rows of 64k values: small temporaries)
    for first in range(0, rows, step):
        out[first:first + step] = f32(min_value) + values[first:first + step].astype(np.float32) * increment
    return out


def _read_until(stream: IO[bytes], end: bytes, what: str, buf: bytearray) -> None:
    """Append to ``buf`` the bytes up to and including ``end``, taking whole buffered chunks where
    the stream allows (one buffer grown in place: a list of parts joined, then copied twice more,
    held a text matrix four times over)."""
    peek = getattr(stream, "peek", None)
    while True:
        chunk = peek(_CHUNK) if peek is not None else b""
        if chunk:
            i = chunk.find(end)
            part = stream.read(i + 1 if i >= 0 else len(chunk))
        else:
            part = stream.read(1)
            if not part:
                raise AsrkitError(f"{what}: truncated Kaldi text matrix (no closing ']')")
            i = 0 if part == end else -1
        if b"\0" in part:
            # Text holds no NUL; a damaged file's zeroed blocks (or /dev/zero in a pipe) were held
            # in memory, gigabytes of them, looking for the ']' (a MemoryError traceback).
            raise AsrkitError(f"{what}: malformed Kaldi text matrix (a NUL byte: a binary or damaged file?)")
        buf += part
        if i >= 0:
            return
        if len(buf) > 8 * MAX_ELEMENTS:
            raise AsrkitError(f"{what}: malformed Kaldi text matrix (no closing ']')")


def _read_text(head: bytes, stream: IO[bytes], what: str) -> np.ndarray:
    """Kaldi's text form: ``[ 1 2 3 ]`` (one row) or ``[\n 1 2\n 3 4 ]``, as a float32 matrix
    (``[ ]``: 0 x 0), as Kaldi's Matrix reads it.

    ``head`` holds what was already read, from the ``[`` on.
    """
    body = bytearray(head[1:])
    if b"]" not in body:
        _read_until(stream, b"]", what, body)
    end = body.index(b"]")
    after = bytes(body[end + 1:])
    if after.strip():
        raise AsrkitError(f"{what}: malformed Kaldi text matrix (unexpected {after[:20]!r} after ']')")
    # Kaldi ends the object's line after the ']'; the newline belongs to the object.
    if not after:
        peek = getattr(stream, "peek", None)
        if peek is not None and peek(1)[:1] == b"\n":
            stream.read(1)
    try:
        with memoryview(body) as view:
            text = str(view[:end], "ascii")
    except UnicodeDecodeError:
        raise AsrkitError(f"{what}: malformed Kaldi text matrix (not ASCII text)") from None
    if "_" in text:  # float() reads '1_0' as 10; strtod, and so Kaldi, stops at the '_'
        bad = next(t for t in text.split() if "_" in t)
        raise AsrkitError(f"{what}: malformed Kaldi text matrix (element {bad[:20]!r} is not a number)")
    del body
    # Converted a block of rows at a time: a str per element for the whole matrix held ~37 times
    # its float32 size (7.6 times the text: a 1 GB text matrix took 7.6 GB).
    # "[ 1 2 3 ]" is one row, as Kaldi's matrix reader takes it (every reader here wants a matrix):
    # it was a vector, and a one-frame utterance so written "not a (frames, dim) matrix".
    blocks: List[np.ndarray] = []
    block: List[str] = []
    width: Optional[int] = None
    nrows = 0
    try:
        pos = 0
        while pos < len(text):  # (io.StringIO would hold the text again, 4 bytes a character)
            nl = text.find("\n", pos)
            nl = len(text) if nl < 0 else nl
            row = text[pos:nl].split()
            pos = nl + 1
            if not row:
                continue
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise AsrkitError(f"{what}: malformed Kaldi text matrix (rows of different lengths "
                                  f"{sorted((width, len(row)))})")
            block += row
            nrows += 1
            if len(block) >= 1 << 16:
                blocks.append(np.array(block, dtype=np.float64).astype(np.float32))
                block = []
        blocks.append(np.array(block, dtype=np.float64).astype(np.float32))
    except ValueError as e:
        raise AsrkitError(f"{what}: malformed Kaldi text matrix ({e})") from None
    out = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return out.reshape(nrows, width or 0)


def _read_key(stream: IO[bytes], what: str, index: int) -> Optional[str]:
    """The next ``<key> `` of an ark (Kaldi skips white space before it); None at the end.

    As Kaldi's archive reader, a tab may end the key in place of the space, and so may a line
    break before a text object (``utt1\n [ ... ]``): scripts write both, and Kaldi reads them."""
    c = stream.read(1)
    while c and c in b" \t\r\n\v\f":
        c = stream.read(1)
    if not c:
        return None
    key = bytearray()
    while c and c not in b" \t\n":
        # (all of Kaldi's white space: a key holding a \v or \f was taken whole, and the text
        # asrkit-decode wrote split it there, the id cut short and the rest read as words)
        if index == 1 and key == GZIP_MAGIC[:2] and c == GZIP_MAGIC[2:]:
            # a feats.ark.gz given as ark: was "malformed key b'\x1f\x8b\x08\x00...' (not a Kaldi archive?)".
            raise AsrkitError(f"{what}: {gzip_problem(what, 'ark:')}")
        if index == 1 and (key == b"\0B" or key == b"[" and c in b"\r\v\f"):
            # was "utterance '\x00BDM': not a Kaldi matrix" or "malformed key b'['"
            raise AsrkitError(f"{what}: {ONE_MATRIX}")
        if c in b"\r\v\f" or len(key) > 4096:
            raise AsrkitError(f"{what}: entry {index}: malformed key {bytes(key[:40])!r} (not a Kaldi archive?)")
        key += c
        c = stream.read(1)
    if index == 1 and key == b"[":
        raise AsrkitError(f"{what}: {ONE_MATRIX}")
    if b"\0" in key:
        # (as in a text table's key: written to an scp, such a key made it one that every reader
        # refuses, after apply-cmvn's exit 0)
        raise AsrkitError(f"{what}: entry {index}: a NUL byte in the key {bytes(key[:40])!r} (a binary or "
                          f"damaged file?)")
    if index == 1 and key.startswith(_BOM):
        # the key was '\ufeffu1': left out of every speaker's stats, its utterance matched nothing
        # (what: the ark's path, '<stdin>' or "ark 'cmd |'")
        raise AsrkitError(f"{what}: {_bom_problem(what)}")
    if key.startswith(_BOM):
        # text archives each saved with one and joined with cat: '\ufeffu7' was read and written on
        # to an scp, matching nothing in utt2spk or text
        raise AsrkitError(f"{what}: entry {index}: the key {bytes(key[:40]).decode('utf-8', 'replace')!r} starts with a "
                          f"UTF-8 byte-order mark (BOM), which Kaldi reads as part of the key (text archives each "
                          f"saved with one and joined with cat?): remove them{_later_bom_remedy(stream, what, c)}")
    if not c:
        raise AsrkitError(f"{what}: entry {index}: truncated archive (key {bytes(key[:40])!r} without a value)")
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        raise AsrkitError(f"{what}: entry {index}: key {bytes(key[:40])!r} is not UTF-8 text") from None


def _later_bom_remedy(stream: IO[bytes], what: str, end: bytes) -> str:
    """The sed that removes the BOMs starting the keys of text archive ``what`` (the key just read
    ended with ``end``), or "" where there is no file to edit (stdin, a pipe) or the entry is
    binary: in a binary archive a key need not start a line, and sed would edit any run of the
    BOM's three bytes after a line feed in its data (a float matrix holds such runs)."""
    if not os.path.isfile(what) or names_stdin(what):
        return ""
    # (a file opened by iter_ark_file can peek; what it gives past the key is a text object's '[',
    # after white space, or a binary one's '\0B')
    if end != b"\n" and not getattr(stream, "peek", lambda n: b"")(64).lstrip(b" \t\r\n\v\f").startswith(b"["):
        return ""
    return f" ({bom_sed(False, what)})"


def iter_ark(stream: IO[bytes], name: str) -> Iterator[Tuple[str, np.ndarray]]:
    """``(key, array)`` for each entry of an open ark stream; ``name`` is the file in messages.

    A key seen twice is an error: each utterance would be used twice.
    """
    seen: Dict[str, int] = {}
    index = 0
    while True:
        index += 1
        key = _read_key(stream, name, index)
        if key is None:
            return
        if key in seen:
            raise AsrkitError(f"{name}: duplicate key {key!r} (entries {seen[key]} and {index})")
        seen[key] = index
        yield key, read_object(stream, f"{name}: utterance {key!r}")


def stdin_bytes(matrices: bool = False) -> IO[bytes]:
    """stdin's binary stream; a command started with stdin closed (``<&-``) gets one line, not a traceback.
    ``matrices``: Kaldi objects are read, which nobody types: a terminal there (``ark:-`` typed at a
    prompt, the pipe forgotten) waited for ever with no word, and is refused."""
    if sys.stdin is None:
        raise AsrkitError("<stdin>: stdin is closed")
    if matrices:
        try:
            terminal = os.isatty(sys.stdin.fileno())
        except (OSError, ValueError):
            terminal = False
        if terminal:
            raise AsrkitError("<stdin>: stdin is a terminal, not a Kaldi ark; pipe the features in "
                              "(e.g. asrkit-compute-fbank ... ark:- | ...) or name a file (ark:feats.ark)")
    return sys.stdin.buffer


def _nonempty_stdin_lines():
    """scp:-'s lines; none at all is an error (an empty or failed pipe upstream)."""
    n = 0
    stream = stdin_bytes()
    refuse_terminal(stream, "<stdin>", close=False)  # (scp:- typed at a prompt waited for ever)
    # In bounded blocks: /dev/zero as scp:- was read whole looking for its first line end.
    for n, line in enumerate(iter_table_lines(bounded_lines(stream, "<stdin>"), "<stdin>"), 1):
        yield line
    if n == 0:
        raise AsrkitError("<stdin>: no data on stdin (0 lines read)")


# What a pipe may print after the object it is read for (discarded, to learn its exit status).
PIPE_TRAILER_MAX = 64 << 20


def _drained(stream: IO[bytes], limit: int) -> bool:
    """Read ``stream`` to its end, keeping nothing; False when more than ``limit`` bytes are left."""
    left = limit
    while left >= 0:
        chunk = stream.read1(1 << 20)
        if not chunk:
            return True
        left -= len(chunk)
    return False


def iter_ark_file(path: str) -> Iterator[Tuple[str, np.ndarray]]:
    """The entries of an ark file, ``-`` (stdin) or ``cmd |`` (a pipe whose status is checked)."""
    if path == "-":
        n = 0
        for n, entry in enumerate(iter_ark(stdin_bytes(matrices=True), "<stdin>"), 1):
            yield entry
        if n == 0:  # an empty or failed pipe upstream: "ark:-: no utterances to process" said less
            raise AsrkitError("<stdin>: no data on stdin (no ark entries read)")
        return
    if path.rstrip().endswith("|"):
        cmd = path.rstrip()[:-1].strip()
        # stderr is drained as it comes into a bounded tail (StderrTail), never spooled to a file:
        # a command writing stderr without end filled /tmp, and died of a full disk.
        proc, err = start_pipe(cmd)
        name = f"ark '{path}'"
        out = ended_with_shell(proc)  # (to the shell's exit: not to a background child's hold of the pipe)
        try:
            try:
                yield from iter_ark(out, name)
            except AsrkitError as e:
                # A command that failed (gunzip of a damaged .gz) cut its output short: "truncated FM
                # data" alone hid that, and its reason. Its status is learnt as _read_pipe learns it.
                ended = _drained(out, PIPE_TRAILER_MAX)
                if not ended:
                    proc.kill()
                status = proc.wait()
                if ended and status != 0:
                    raise AsrkitError(f"{name}: command '{cmd}' exited with status {status}{err.last_line()} "
                                      f"(its output read up to: {str(e).removeprefix(name + ': ')})") from None
                raise
            except BaseException:  # stopped early (an error, or the reader closed): stop the command too
                proc.kill()
                proc.wait()
                raise
            finally:
                proc.stdout.close()
            status = proc.wait()
            if status != 0:
                raise AsrkitError(f"{name}: command '{cmd}' exited with status {status}{err.last_line()}")
        finally:
            err.finish()
        return
    try:
        f = open_read(path)  # (an ark:<named pipe> with no writer waited for ever; now FIFO_WRITER_WAIT_S)
    except FileNotFoundError:
        raise AsrkitError(f"{path}: no such file") from None
    except OSError as e:
        raise AsrkitError(f"{path}: cannot read: {e.strerror}") from None
    with f:
        yield from iter_ark(f, path)


@dataclass(frozen=True)
class ScpEntry:
    """Where one scp line says an object is: ``feats.ark:123``, ``feats.ark:123[0:9]``, ``cmd |``."""

    key: str
    value: str
    where: str  # "dump/x/feats.scp:12"
    path: str  # the ark file, or the command of a pipe
    offset: Optional[int] = None
    pipe: bool = False
    rows: Optional[slice] = None
    cols: Optional[slice] = None

    @property
    def what(self) -> str:
        if not self.key:  # a single-object file (rxfilename): the file is all there is to name
            return self.where
        return f"{self.where}: utterance {self.key!r} ({shown_name(self.value)})"


def _parse_range(text: str, where: str) -> slice:
    """Kaldi's ``a:b`` (inclusive) or ``a`` range of rows or columns; empty means all."""
    if text in ("", ":"):
        return slice(None)
    parts = [p.strip() for p in text.split(":")]
    # Plain ASCII digits only: int() also takes "-1" (which made "[-1]" the empty slice -1:0, an
    # utterance of no frames), "1_0" and other scripts' digits, none of which Kaldi accepts.
    if not all(p.isascii() and p.isdigit() for p in parts):
        raise AsrkitError(f"{where}: bad range [{text}] (expected e.g. [0:9] or [0:9,3:5])")
    nums = [int(p) for p in parts]
    if len(nums) == 1:
        return slice(nums[0], nums[0] + 1)
    if len(nums) == 2 and 0 <= nums[0] <= nums[1]:
        return slice(nums[0], nums[1] + 1)
    raise AsrkitError(f"{where}: bad range [{text}] (expected e.g. [0:9] or [0:9,3:5])")


def parse_scp_value(key: str, value: str, where: str) -> ScpEntry:
    """One scp value (Kaldi's extended filename, with an optional ``:offset`` and ``[range]``)."""
    v = value.strip()
    if v.endswith("|"):
        return ScpEntry(key, value, where, v[:-1].strip(), pipe=True)
    if v.startswith("|"):
        raise AsrkitError(f"{where}: '{v}' is an output pipe, not something to read from")
    rows = cols = None
    if v.endswith("]") and "[" in v:
        v, _, rng = v[:-1].rpartition("[")
        parts = rng.split(",")
        if len(parts) > 2:
            raise AsrkitError(f"{where}: bad range [{rng}] (expected e.g. [0:9] or [0:9,3:5])")
        rows = _parse_range(parts[0], where)
        cols = _parse_range(parts[1], where) if len(parts) == 2 else None
    path, sep, off = v.rpartition(":")
    offset = None
    if sep and off.isascii() and off.isdigit():  # not "feats.ark:٣" (int() reads any script's digits)
        offset = int(off)
    else:
        path = v
    if not path:
        raise AsrkitError(f"{where}: no file in {value!r}")
    return ScpEntry(key, value, where, path, offset, False, rows, cols)


def _read_pipe(entry: ScpEntry) -> np.ndarray:
    """The object ``cmd |`` prints, read as it comes, as Kaldi reads it. Its whole output was held
    first: a command that printed without end (``yes |``, a mistyped ``cat /dev/zero |``) was a
    MemoryError traceback after gigabytes. The command's exit status is checked as before
    when it ends within PIPE_TRAILER_MAX bytes of its object; else it is stopped."""
    if "\0" in entry.path:  # (Popen's ValueError was a traceback: a damaged feats.scp line, as _open_ark's)
        raise AsrkitError(f"{entry.what}: the command holds a NUL byte, which no command can")
    proc, err = start_pipe(entry.path, entry.what)
    try:
        array: Optional[np.ndarray] = None
        error: Optional[AsrkitError] = None
        if proc.stdout.peek(1):
            try:
                array = read_object(proc.stdout, entry.what)
            except AsrkitError as e:
                error = e
        ended = _drained(proc.stdout, PIPE_TRAILER_MAX)
        if not ended:
            proc.kill()
        status = proc.wait()
        if ended and status != 0:  # (the status explains a bad or missing object best)
            raise AsrkitError(f"{entry.what}: command exited with status {status}{err.last_line()}")
        if error is not None:
            raise error
        if array is None:
            raise AsrkitError(f"{entry.what}: command printed nothing")
        if not ended:
            raise AsrkitError(f"{entry.what}: command printed more than {PIPE_TRAILER_MAX >> 20} MiB after "
                              f"the matrix read from it (an scp's pipe prints one object)")
        return array
    finally:
        if proc.poll() is None:  # stopped by an exception from outside (an interrupt)
            proc.kill()
            proc.wait()
        proc.stdout.close()
        err.finish()


def _slice(array: np.ndarray, entry: ScpEntry) -> np.ndarray:
    if entry.rows is None:
        return array
    n = array.shape[0]
    if entry.rows.start is not None and entry.rows.stop > n:
        raise AsrkitError(f"{entry.what}: row range past the {n} rows of the matrix")
    if entry.cols is not None:
        if array.ndim != 2:
            raise AsrkitError(f"{entry.what}: a column range on a vector")
        if entry.cols.start is not None and entry.cols.stop > array.shape[1]:
            raise AsrkitError(f"{entry.what}: column range past the {array.shape[1]} columns of the matrix")
        return array[entry.rows, entry.cols]
    return array[entry.rows]


def read_entry(entry: ScpEntry, open_file: Optional[IO[bytes]] = None, files_only: bool = False) -> np.ndarray:
    """The object an scp line points to; ``open_file`` is ``entry.path`` already open (reused);
    ``files_only``: refuse a path that is not a regular file (:func:`_open_ark`)."""
    if entry.pipe:
        return _slice(_read_pipe(entry), entry)
    f = open_file if open_file is not None else _open_ark(entry, files_only)
    try:
        if entry.offset is not None:
            size = os.fstat(f.fileno()).st_size
            if entry.offset >= size:
                raise AsrkitError(f"{entry.what}: offset {entry.offset} is past the end of {entry.path} "
                                  f"({size} bytes)")
            f.seek(entry.offset)
        elif f.seekable():
            # (a named pipe, read whole, is at its start and cannot seek: '--cmvn <(...)' was an
            # io.UnsupportedOperation traceback)
            f.seek(0)
        return _slice(read_object(f, entry.what, entry.path if not entry.offset else None), entry)
    finally:
        if open_file is None:
            f.close()


def _scp_lines(path: str):
    """The scp's lines: a file, ``-`` (stdin) or ``cmd |``."""
    if path == "-":
        return _nonempty_stdin_lines()
    if path.rstrip().endswith("|"):
        cmd = path.rstrip()[:-1].strip()
        name = f"scp '{path}'"
        proc, err = start_pipe(cmd)
        try:
            try:
                # read as it comes, in bounded blocks: 'cat /dev/zero |' was read whole
                data = b"".join(block for _, block in read_line_blocks(proc.stdout, name))
            except BaseException:
                proc.kill()  # refused before its end: nothing more is read from it
                raise
            finally:
                proc.stdout.close()
                code = proc.wait()
            if code != 0:
                raise AsrkitError(f"scp '{path}': command exited with status {code}{err.last_line()}")
        finally:
            err.finish()
        return iter_table_lines(io.BytesIO(data), name)
    return iter_table(path)


def read_scp(path: str) -> Dict[str, ScpEntry]:
    """Parse every line of an scp up front: malformed lines and duplicate keys are ``file:line`` errors."""
    entries: Dict[str, ScpEntry] = {}
    try:
        for line in _scp_lines(path):
            where = f"{path}:{line.lineno}"
            if line.key in entries:
                raise AsrkitError(f"{where}: duplicate key {line.key!r} (first on line "
                                  f"{entries[line.key].where.rsplit(':', 1)[1]})")
            entries[line.key] = parse_scp_value(line.key, line.value, where)
    except AsrkitError:
        if _file_head(path, len(GZIP_MAGIC)) == GZIP_MAGIC:  # (the table reader's remedy: gunzip -k; Kaldi's: a pipe)
            raise AsrkitError(f"{path}: {gzip_problem(path, 'scp:')}") from None
        ark_key = _ark_file_key(path)
        if ark_key is not None:  # was "feats.ark:1: not UTF-8 text (invalid continuation byte ...)"
            raise AsrkitError(f"{path}: a Kaldi archive (its first entry: key {ark_key!r} and a matrix), not an "
                              f"scp: read it as ark:{path}") from None
        raise
    return entries


def _file_head(path: str, n: int) -> bytes:
    """The first ``n`` bytes of ``path`` when it is a regular file, else b"". Looked at before it is
    opened: opening a named pipe whose writer has gone waits for ever (a feats.scp FIFO with a
    malformed line hung, here, after its error had been found)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return b""
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def _ark_file_key(path: str) -> Optional[str]:
    """The first key of ``path`` when it is a regular file that starts as a Kaldi archive, else None."""
    entry = _ARK_START.match(_file_head(path, 300))
    return entry.group(1).decode("utf-8", "replace") if entry else None


# A key and the start of a matrix, stricter than _ARK_ENTRY: "u1 [noise] hello", a transcript, is
# not taken for one.
_ARK_START = re.compile(rb"([^\0\s]{1,256})(?:[ \t]\0B(?:FM|DM|FV|DV|CM|CM2|CM3) |"
                        rb"[ \t\n]\s*\[\s*(?:[-+]?\.?\d|\]|nan|inf))")


def iter_scp_items(path: str) -> Iterator[Tuple[str, Optional[np.ndarray], Optional[AsrkitError]]]:
    """``(key, array, None)`` or ``(key, None, error)`` in scp order: a bad entry does not stop
    the others. The current ark stays open while consecutive lines share it."""
    entries = read_scp(path)
    current: Optional[IO[bytes]] = None
    current_path: Optional[str] = None
    try:
        for key, entry in entries.items():
            try:
                if not entry.pipe and entry.path != current_path:
                    if current is not None:
                        current.close()
                        current = None
                    current_path = entry.path
                    current = _open_ark(entry)
                yield key, read_entry(entry, None if entry.pipe else current), None
            except AsrkitError as e:
                yield key, None, e
    finally:
        if current is not None:
            current.close()


def iter_scp(path: str) -> Iterator[Tuple[str, np.ndarray]]:
    """``(key, array)`` in scp order; the first bad entry raises."""
    for key, array, error in iter_scp_items(path):
        if error is not None:
            raise error
        yield key, array


def _open_ark(entry: ScpEntry, files_only: bool = False) -> IO[bytes]:
    """``entry.path`` open for reading. A named pipe or device is refused where it cannot serve: at
    an offset (it cannot seek, and opening a pipe waited for a writer that never came: a feats.scp
    line naming one hung the training before its first epoch), and with ``files_only`` anything but
    a regular file (a training reads each utterance again every epoch)."""
    # A single-object file (a stats file given by name) is named once, not as "x: x: no such file".
    where = "" if entry.what == entry.path else f"{entry.what}: "
    if "\0" in entry.path:  # (os.open's ValueError was a traceback: a damaged feats.scp line)
        raise AsrkitError(f"{where}{shown_name(entry.path)}: the name holds a NUL byte, which no file name can")
    try:
        # Non-blocking, so that a pipe without a writer is looked at rather than waited on.
        fd = os.open(entry.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise AsrkitError(f"{where}{shown_name(entry.path)}: no such file") from None
    except OSError as e:
        raise AsrkitError(f"{where}cannot read {shown_name(entry.path)}: {e.strerror}") from None
    mode = os.fstat(fd).st_mode
    if stat.S_ISDIR(mode):
        # os.open reads a directory without complaint; fdopen then raised IsADirectoryError with
        # the descriptor as its file name, and that crashed the error report (a traceback for a
        # feats.scp line or a --cmvn naming a directory).
        os.close(fd)
        raise AsrkitError(f"{where}{shown_name(entry.path)}: is a directory, not an ark or matrix file")
    kind = special_kind(mode)
    # (A device at an offset, /dev/zero:0, has no size to seek in: it was "offset 0 is past the
    # end of /dev/zero (0 bytes)", the wrong reason.)
    if kind is not None and (files_only or entry.offset is not None):
        os.close(fd)
        why = "a training reads its features again every epoch" if files_only else "an scp offset is a seek"
        raise AsrkitError(f"{where}{shown_name(entry.path)}: {kind}, not a file ({why}); write the features to an ark file")
    if stat.S_ISFIFO(mode):
        # A whole-object read from a pipe (one pass, no offset) waits for its writer: FIFO_WRITER_WAIT_S
        # where it has none yet (open_read), then is refused, where it waited for ever.
        os.close(fd)
        return _open_blocking(entry, where)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _open_blocking(entry: ScpEntry, where: str) -> IO[bytes]:
    try:
        return open_read(entry.path)  # (a named pipe's writer waited on FIFO_WRITER_WAIT_S, not for ever)
    except OSError as e:
        raise AsrkitError(f"{where}cannot read {shown_name(entry.path)}: {e.strerror}") from None


class ScpTable(Mapping):
    """Random access by key to an scp's objects (opened on each access, so forked DataLoader
    workers never share a file position). Missing keys raise KeyError; bad entries AsrkitError."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.entries = read_scp(path)

    def __getitem__(self, key: str) -> np.ndarray:
        return read_entry(self.entries[key])

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: object) -> bool:
        return key in self.entries


def read_single(rxfilename: str) -> np.ndarray:
    """One object from a file with no key (Kaldi's rxfilename: ``file``, ``file:offset``, ``cmd |``, ``-``)."""
    if rxfilename == "-":  # stdin, as in Kaldi (compute-cmvn-stats ... - | apply-cmvn - ...)
        return read_object(stdin_bytes(matrices=True), "<stdin>")
    return read_entry(parse_scp_value("", rxfilename, rxfilename))
