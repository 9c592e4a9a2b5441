"""Kaldi rspecifiers and wspecifiers (``scp:feats.scp``, ``ark:-``, ``ark,scp:f.ark,f.scp``).

Reading goes through :mod:`asrkit.data.matrix_io`, which accepts Kaldi's own arks and scps
(pipes, offsets, ranges, ``ark,t``, compressed matrices) and nothing else: kaldiio's pickle and
numpy extensions are refused. Writing is our own thin layer over :func:`kaldiio.save_ark`: the ark and scp are written to
temporary names and renamed into place together on success, so a failed job never leaves a
partial feats.ark/feats.scp behind; the scp already names the final ark path. The scp goes in
last, its old file moved aside first: a run SIGKILLed between the renames leaves no scp, never an old
one pointing into the new ark.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import IO, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, TypeVar

import kaldiio
import numpy as np

from asrkit.data.matrix_io import ScpTable, iter_ark_file, iter_scp, iter_scp_items
from asrkit.data.table import SPACE
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import AtomicFiles, PathLike, file_identity, is_stream, name_os_error, parent_not_a_directory

L = TypeVar("L")  # how a caller labels a file for its messages


@dataclass(frozen=True)
class Specifier:
    """A parsed r/wspecifier: the ark and/or scp paths and the options that matter to us."""

    spec: str
    ark: Optional[str]
    scp: Optional[str]
    text: bool = False  # ",t": text-form ark


# Options Kaldi's tables accept (kaldi-table.cc ClassifyRspecifier/ClassifyWspecifier) that kaldiio's
# parser does not know and that change nothing here: binary output is the default ("b"), reading
# is never in a background thread ("bg"), and the negations of "o", "p", "s", "cs", "f". Kaldi
# recipes write them ("ark,bg:...", "ark,b:..."), so they are accepted and ignored, not refused.
_IGNORED_OPTIONS = ("b", "bg", "no", "np", "ns", "ncs", "nf")


def parse_specifier(spec: str) -> Specifier:
    if not spec.strip():
        # kaldiio's own message speaks of "the output file", for inputs too
        raise AsrkitError(f"bad specifier {spec!r}: empty (e.g. scp:dump/x/feats.scp, ark:f.ark, "
                          f"ark,scp:f.ark,f.scp)")
    options, colon, files = spec.partition(":")
    kept = [o for o in options.split(",") if o not in _IGNORED_OPTIONS]
    if not colon or not {"ark", "scp"} & set(kept):
        # kaldiio's words for a bare path ("The output file must be specified with kaldi-specifier
        # style, e.g. ark,scp:out.ark,out.scp") spoke of an output to asrkit-decode --feats data/x/feats.scp
        raise AsrkitError(f"bad specifier {spec!r}: no ark: or scp: before the file name (Kaldi's form: "
                          f"scp:data/x/feats.scp or ark:feats.ark to read, ark,scp:feats.ark,feats.scp to write)")
    try:
        d = kaldiio.parse_specifier(",".join(kept) + colon + files)
    except ValueError as e:
        raise AsrkitError(f"bad specifier {spec!r}: {e}") from None
    for kind in ("ark", "scp"):
        # "ark:" would open "" (no such file) or, written, try to rename over "." (EBUSY).
        if d[kind] is not None and not d[kind].strip():
            raise AsrkitError(f"bad specifier {spec!r}: no {kind} file name (e.g. {kind}:data/x/feats.{kind}, "
                              f"or {kind}:- for a stream)")
    return Specifier(spec=spec, ark=d["ark"], scp=d["scp"], text=bool(d["t"]))


def parse_rspecifier(spec: str) -> Specifier:
    s = parse_specifier(spec)
    if s.ark is not None and s.scp is not None:
        raise AsrkitError(f"bad rspecifier {spec!r}: give either ark: or scp:, not both")
    return s


def read_matrices(spec: str) -> Iterator[Tuple[str, np.ndarray]]:
    """Iterate ``(key, matrix)`` over an rspecifier in its order.

    Only Kaldi's matrix and vector formats are read (:mod:`asrkit.data.matrix_io`): kaldiio's
    pickle and numpy entries are refused. A key seen twice is an error naming the file.
    """
    s = parse_rspecifier(spec)
    if s.scp is not None:
        yield from iter_scp(s.scp)
        return
    yield from iter_ark_file(s.ark)


def iter_matrices(spec: str) -> Iterator[Tuple[str, Optional[np.ndarray], Optional[AsrkitError]]]:
    """Like :func:`read_matrices`, but a bad scp entry comes back as ``(key, None, error)``.

    Each line of an scp stands alone, so one unreadable utterance (a PKL entry, an offset past
    the end, a failing pipe) is the caller's to skip and count (:mod:`asrkit.utils.bad_items`).
    In an ark a broken entry leaves no way to find the next one, so it stays fatal.
    """
    s = parse_rspecifier(spec)
    if s.scp is None:
        for key, mat in iter_ark_file(s.ark):
            yield key, mat, None
        return
    yield from iter_scp_items(s.scp)


def load_scp(spec_or_path: str) -> ScpTable:
    """Random access by key to an scp (``scp:feats.scp`` or a bare path): a lazy mapping.

    Every line is checked up front (malformed lines and duplicate keys are ``file:line`` errors).
    """
    path = spec_or_path
    if ":" in spec_or_path and spec_or_path.split(":", 1)[0].split(",")[0] in ("scp", "ark"):
        s = parse_rspecifier(spec_or_path)
        if s.scp is None:
            raise AsrkitError(f"random access needs an scp, got {spec_or_path!r}")
        path = s.scp
    return ScpTable(path)


def read_matrix(loader: ScpTable, key: str, where: str = "") -> np.ndarray:
    """Load one entry from :func:`load_scp`'s mapping with an error naming the key."""
    try:
        return loader[key]
    except KeyError:
        raise AsrkitError(f"{where or loader.path}: no entry for utterance {key!r}") from None


def check_wspecifier(s: Specifier) -> None:
    """Refuse output names that would not give the ark (and scp) they say, before anything runs."""
    spec = s.spec
    commas = spec.partition(":")[2].count(",")
    if s.ark is not None and s.scp is not None and commas > 1:
        # ark,scp:exp/lr0.1,bs32/f.ark,exp/lr0.1,bs32/f.scp: Kaldi (and kaldiio) end the ark's name
        # at the first comma, so the ark went to exp/lr0.1 and the scp into a folder
        # 'bs32/f.ark,exp/lr0.1,bs32/' made for it, exit 0.
        raise AsrkitError(f"bad wspecifier {spec!r}: {commas} commas after the colon, so where the ark's name ends "
                          f"and the scp's begins cannot be told (Kaldi takes the first: ark {s.ark!r}, scp "
                          f"{s.scp!r}); give file names without a comma (for a folder whose name holds one, "
                          f"names relative to it, or a link to it)")
    for kind, name in (("ark", s.ark), ("scp", s.scp)):
        if name is None or name == "-":
            continue
        if name.lstrip().startswith("|"):
            # Kaldi's output pipe: here it would be a file literally named "| gzip -c > x.gz".
            raise AsrkitError(f"bad wspecifier {spec!r}: output pipes ('{kind}:| cmd') are not supported; write "
                              "ark:- and pipe the command's output instead (... ark:- | gzip -c > f.ark.gz)")
        if os.path.isdir(name):  # renaming the finished file onto it fails (EBUSY for ".")
            raise AsrkitError(f"bad wspecifier {spec!r}: {name} is a directory, not an "
                              f"{kind} file name")
        # (a file where a folder of the name should be: found only when the writer opened, after
        # every utterance's work in a command that writes at the end, asrkit-adapt-speakers)
        in_the_way = parent_not_a_directory(name)
        if in_the_way:
            raise AsrkitError(f"bad wspecifier {spec!r}: {in_the_way}")
    # Both would be renamed onto the same name: one output silently lost (also through a
    # symlinked directory: ark,scp:d/f.ark,link-to-d/f.ark). One stream named twice
    # (ark,scp:/dev/stdout,/dev/stdout) is no rename, but the binary ark and the scp's lines in
    # one stream are of no use either.
    same = f"bad wspecifier {spec!r}: the ark and the scp are the same file"
    check_distinct_files([(s.ark, "ark"), (s.scp, "scp")], [], over_input=None, among_outputs=lambda *_: same)
    if s.ark not in (None, "-") and s.scp is not None and os.path.abspath(s.ark) == os.path.abspath(s.scp):
        raise AsrkitError(same)
    if s.ark == "-" and s.scp is None and sys.stdout is None:  # started with stdout closed (">&-")
        raise AsrkitError(f"bad wspecifier {spec!r}: stdout is closed")


def spec_files(value: PathLike, scp_lines: bool = False, strict: bool = False) -> List[str]:
    """The files a command reading or writing ``value`` touches, for telling two of them apart.

    A Path, or a str that is no specifier, is one file; an r/wspecifier (``scp:x``, ``ark,t:x``,
    ``ark,scp:a.ark,a.scp``) gives its ark and scp, ``-`` standing for the stream; with
    ``scp_lines``, also the arks its scp's lines name (unless the scp is a stream). Pipes
    (``cmd |``) are no file. A malformed specifier is :func:`parse_specifier`'s AsrkitError when
    ``strict``, else taken as a file name (its own error comes when the command opens it); an
    unreadable scp adds no lines.
    """
    if isinstance(value, os.PathLike):
        return [os.fspath(value)]
    if not re.match(r"^[a-z]+(,[a-z]+)*:", value):
        return [] if value.rstrip().endswith("|") else [value]
    try:
        s = parse_specifier(value)
    except AsrkitError:
        if strict:
            raise
        return [value]
    files = [f for f in (s.ark, s.scp) if f is not None and not f.rstrip().endswith("|")]
    if scp_lines and s.scp in files and s.scp != "-" and not is_stream(s.scp):
        # (an scp read from a pipe, <(cut ... feats.scp), can be read once only: by the command)
        files += _scp_arks(s.scp)
    return files


def refuse_stdin_read_twice(inputs: Sequence[Tuple[str, Optional[str]]]) -> None:
    """An AsrkitError when two of ``inputs`` ((label, rspecifier or file name or None)) read stdin
    (``-``, ``ark:-``, ``scp:/dev/stdin``...): the second found it drained, and its "no data on
    stdin" blamed a pipe upstream, or the first read the other's data (asrkit-decode's audio '-'
    read as its ``--config -`` YAML: "not UTF-8 text"). Labels name the input as the user gave
    it (``--feats ark:-``); the first two readers are named, in the order given."""
    from asrkit.utils.fileio import names_stdin

    readers = [label for label, value in inputs
               if value and any(f == "-" or names_stdin(f) for f in spec_files(value))]
    if len(readers) > 1:
        raise AsrkitError(f"{readers[0]} and {readers[1]} both read stdin: a stream can be read only once; give a "
                          f"file for one of them")


def _scp_arks(scp: str) -> List[str]:
    """The files (not pipes) an scp's lines read, sorted; none when it cannot be read."""
    from asrkit.data.matrix_io import parse_scp_value
    from asrkit.data.table import iter_table_fast

    arks, seen = set(), set()
    try:
        for key, value, _ in iter_table_fast(scp):
            # "<ark>:<offset>" is parsed once per ark, not once per line: a 300k-line feats.scp
            # took 5 s, a cost asrkit-decode --feats would pay before its first utterance.
            stem = value.rstrip("0123456789")
            if stem != value and stem.endswith(":"):
                if stem in seen:
                    continue
                seen.add(stem)
            entry = parse_scp_value(key, value, "")
            if not entry.pipe and "\0" not in entry.path:
                # (a NUL names no file: realpath's ValueError was a traceback before the reader
                # could skip that utterance as a bad item)
                arks.add(entry.path)
    except (AsrkitError, OSError):
        return []
    return sorted(arks)


def wav_scp_files_named(wav_scp: Optional[PathLike], outputs: Sequence[Optional[PathLike]],
                        values: Optional[Sequence[str]] = None) -> List[str]:
    """The audio files ``wav_scp``'s plain entries name that an output could be (``--ctm
    data/a.wav`` replaced a recording the run read), for :func:`check_distinct_files` to judge.

    Only those, found cheaply: a real path for each of 300k lines costs a second. An entry is
    one when its base name is an output's, or its real file's (an output that is a symlink
    ``x.ctm -> a.wav``); or, only when an output already exists as a file (a rerun), when it
    is a symlink whose target is that file (``data/wav/u1.wav -> /corpus/a.wav`` and ``--ctm
    /corpus/a.wav``): symlinks are found by listing each directory once (no stat per line)
    and only they are stat'ed. Pipes (``sox x.wav -t wav - |``) and ``-`` (stdin) are no file;
    a wav.scp that is a stream or cannot be read adds none. ``values``: its lines' values, read
    already by the caller (then the file is not read here, and may be a stream)."""
    names = [os.fspath(o) for o in outputs if o is not None and os.fspath(o) and not is_stream(o)]
    if not names:
        return []
    if values is None and (wav_scp is None or os.fspath(wav_scp) == "-" or is_stream(wav_scp)):
        return []
    bases = {os.path.basename(n) for n in names} | {os.path.basename(os.path.realpath(n)) for n in names}
    existing = {file_identity(n) for n in names} - {None}
    from asrkit.data.table import iter_table_fast

    found = []
    symlinks: Dict[str, set] = {}  # directory -> the names of the symlinks in it
    try:
        for value in (values if values is not None else (v for _, v, _ in iter_table_fast(wav_scp))):
            if value.endswith("|") or value == "-":
                continue
            head, slash, base = value.rpartition("/")
            if base in bases:
                found.append(value)
            elif existing and base in _symlinks_in(head or slash or ".", symlinks) and file_identity(value) in existing:
                found.append(value)
    except AsrkitError:
        return []  # the reader names it
    return found


def _symlinks_in(directory: str, cache: Dict[str, set]) -> set:
    """The names of the symlinks in ``directory`` (cached), from one listing: the file types a
    directory listing gives need no stat per file."""
    names = cache.get(directory)
    if names is None:
        names = set()
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    if entry.is_symlink():
                        names.add(entry.name)
        except (OSError, ValueError):
            pass
        cache[directory] = names
    return names


def check_distinct_files(outputs: Sequence[Tuple[Optional[PathLike], L]],
                         inputs: Sequence[Tuple[Optional[PathLike], L]],
                         over_input: Callable[[PathLike, L, PathLike, L], str],
                         among_outputs: Optional[Callable[[PathLike, L, PathLike, L], str]] = None) -> None:
    """Refuse, before anything runs, an output that is a file the command reads, or (given
    ``among_outputs``) one that another output is too: every output is written under a temporary
    name and renamed onto its own at the end, so an input there is replaced by it (exit 0, the
    input gone) and of two outputs there one is lost. The one check behind every command's.

    ``outputs`` and ``inputs`` are ``(file name, label)``, the names as :func:`spec_files` gives
    them; None is skipped. Two names are one file when their real paths are: relative or absolute,
    through ``..``, a symlinked directory or a symlink. An output that is a stream (``-``,
    /dev/stdout, a FIFO) is written in place, not renamed: no clash. An input ``-`` is stdin, the
    file it is redirected from when it is one (``< stats.ark``). Hard links are two files here:
    renaming onto one name leaves the file the other name holds as it was.

    The message of the first clash found (outputs first, then outputs against inputs, each in the
    order given) is ``among_outputs(output, label, earlier output, its label)`` or
    ``over_input(output, label, input, its label)``, in the command's own words.
    """
    def real(name: PathLike) -> str:
        return os.path.realpath("/dev/stdin" if os.fspath(name) == "-" else name)

    written: Dict[str, Tuple[PathLike, L]] = {}
    for name, label in outputs:
        if name is None or os.fspath(name) in ("", "-") or is_stream(name):
            continue
        key = real(name)
        if key in written and among_outputs is not None:
            raise AsrkitError(among_outputs(name, label, *written[key]))
        written.setdefault(key, (name, label))
    read: Dict[str, Tuple[PathLike, L]] = {}
    for name, label in inputs:
        if name is not None and os.fspath(name):
            read.setdefault(real(name), (name, label))
    for key, (name, label) in written.items():
        if key in read:
            raise AsrkitError(over_input(name, label, *read[key]))


def check_scp_kept_valid(rspecifier: str, out: Specifier) -> None:
    """Refuse writing, in place, an ark that ``rspecifier``'s scp reads unless that scp is rewritten
    with it (``ark,scp:x.ark,x.scp`` over ``scp:x.scp``): an ark alone rewritten leaves the scp's
    offsets pointing into the old layout (exit 0, and float64 input made every later read fail)."""
    if out.ark is None or out.ark == "-" or is_stream(out.ark):
        return
    try:
        src = parse_specifier(rspecifier)
    except AsrkitError:
        return  # the reader names it
    if src.scp is None or src.scp == "-" or is_stream(src.scp):
        return
    real = os.path.realpath
    if real(out.ark) not in {real(a) for a in _scp_arks(src.scp)}:
        return
    if out.scp is not None and real(out.scp) == real(src.scp):
        return
    raise AsrkitError(f"{out.ark}: the output ark is one that {src.scp} reads, and {src.scp} is not rewritten with "
                      f"it: its offsets would point into the old ark; write elsewhere, or rewrite both "
                      f"(ark,scp:{out.ark},{src.scp})")


def check_not_overwriting(outputs: List[Tuple[str, str]], inputs: List[Tuple[str, str]]) -> None:
    """Refuse an output that is one of the files the command reads (``(path, role)`` each), before
    anything runs: compute-cmvn ark:f.ark ark:f.ark replaced the features with their stats, and
    apply-cmvn's output named as its stats replaced the stats (exit 0 both)."""
    check_distinct_files(outputs, inputs, lambda path, role, read, read_role: (
        f"{path}: {role} is {read_role} ({read}), which the command reads: it would be replaced; write the "
        f"output elsewhere"))


def parse_matrix_wspecifier(spec: str) -> Specifier:
    """``spec`` parsed as :class:`MatrixWriter` takes it; its AsrkitError when it cannot be: for a
    command that opens its writer only after the work, to refuse the name before it."""
    s = parse_specifier(spec)
    if s.ark is None:
        raise AsrkitError(f"bad wspecifier {spec!r}: an ark is required (e.g. ark,scp:f.ark,f.scp)")
    check_wspecifier(s)
    return s


class MatrixWriter:
    """Write matrices to a wspecifier: ``ark:f.ark``, ``ark,t:f.txt``, ``ark,scp:f.ark,f.scp``, ``ark:-``.

    Files appear under their final names only when :meth:`close` runs without error; use it as a
    context manager. ``ark:-`` streams to stdout (binary), as Kaldi pipelines expect.
    """

    def __init__(self, spec: str) -> None:
        s = parse_matrix_wspecifier(spec)
        self.spec = s
        self._files = AtomicFiles()
        self._scp: Optional[IO[str]] = None
        self.count = 0
        if s.ark == "-":
            if s.scp is not None:
                raise AsrkitError(f"bad wspecifier {spec!r}: an scp needs a seekable ark file, not '-'")
            self._ark: IO[bytes] = sys.stdout.buffer
            self._own_ark = False
        else:
            self._own_ark = False
            try:
                # (each names its own write errors: the ark and the scp may be on different disks)
                self._ark = self._files.open(s.ark, "wb")
                self._own_ark = True
                if s.scp is not None:
                    self._scp = self._files.open(s.scp, "w", encoding="utf-8", index=True)
            except BaseException:
                if self._own_ark:
                    self._ark.close()
                self._files.abort()
                raise
        if s.scp is not None:
            self._ark_final = os.path.abspath(s.ark) if os.path.isabs(s.ark) else s.ark

    def write(self, key: str, mat: np.ndarray) -> None:
        # ASCII white space only, as every reader (table.SPACE): str.isspace refused a key holding
        # U+00A0 that compute-fbank, decode and Kaldi read as one id, failing apply-cmvn's whole run.
        if not key or any(c in SPACE for c in key):
            raise AsrkitError(f"invalid utterance id {key!r}: ids must be non-empty and have no whitespace")
        start = self._ark.tell() if self._scp is not None else 0
        kaldiio.save_ark(self._ark, {key: mat}, text=self.spec.text)
        if self._scp is not None:
            # Kaldi's scp offset points just past "<key> " in the ark.
            offset = start + len(key.encode("utf-8")) + 1
            self._scp.write(f"{key} {self._ark_final}:{offset}\n")
        self.count += 1

    def close(self, ok: bool = True) -> None:
        # Closing flushes: on a full disk it is close() that fails, and the temporary files
        # must still go.
        try:
            try:
                if self._own_ark:
                    self._ark.close()
                else:
                    self._ark.flush()
            finally:
                if self._scp is not None:
                    self._scp.close()
        except BaseException as e:
            self._name_error(e)
            self._files.abort()
            raise
        if ok:
            self._files.commit()
        else:
            self._files.abort()

    def __enter__(self) -> "MatrixWriter":
        return self

    def _name_error(self, e: BaseException) -> None:
        if self.spec.ark == "-":  # (the ark and scp files name their own write errors)
            name_os_error(e, "<stdout>")

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None:
            self._name_error(exc)
        self.close(ok=exc_type is None)


def write_matrices(spec: str, items: Dict[str, np.ndarray]) -> None:
    with MatrixWriter(spec) as w:
        for key, mat in items.items():
            w.write(key, mat)
