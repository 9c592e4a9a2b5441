"""Reading torch files (model.pt, lm.pt, checkpoints) so that nothing in them can run, and
writing them so that a full disk says so.

``torch.load(weights_only=True)`` unpickles only tensors and plain containers and numbers;
anything else (a pickled class, a numpy array, an object whose unpickling would run code) makes
it refuse the file. Every asrkit file that torch writes holds only such types, so every one is
read through :func:`load_weights_only`, and a file torch cannot read is one error shape for all.

Every one is written through :func:`save_torch`: ``torch.save`` turns a failed write (a full
disk) into ``RuntimeError: ... unexpected pos 190464 vs 190416``, which never mentions the disk;
:func:`save_torch` raises the write's own ``OSError`` instead, naming the file, so the command
wrapper reports it as any other full disk (``exp/x/model.pt: no space left on device``).
"""
from __future__ import annotations

import errno
import os
import re
import shlex
import warnings
import zipfile
from typing import IO, Any, Optional

from asrkit.utils.errors import MACHINE_ERRORS, AsrkitError
from asrkit.utils.fileio import PathLike, atomic_open, name_os_error, not_found_reason, special_kind


class _WriteErrors:
    """A binary file for torch.save that remembers the OSError a write raised (torch loses it)."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.error: Optional[OSError] = None

    def write(self, data) -> int:
        try:
            return self._f.write(data)
        except OSError as e:
            self.error = e
            raise

    def flush(self) -> None:
        try:
            self._f.flush()
        except OSError as e:
            self.error = e
            raise


def save_torch(obj: Any, path: PathLike) -> None:
    """``torch.save(obj)`` to ``path`` atomically; a failed write raises its OSError naming ``path``.

    Nothing is left under ``path`` or a temporary name when it fails. The file is written as
    torch writes any file object (no copy in memory): the wrapper costs a Python call per
    record, nothing measurable (bench/README.md, checkpoint writing).
    """
    import torch

    with atomic_open(path, "wb") as f:
        out = _WriteErrors(f)
        try:
            torch.save(obj, out)
        except RuntimeError:
            if out.error is None:
                raise
            name_os_error(out.error, path)
            raise out.error from None


def special_file_kind(path: PathLike) -> Optional[str]:
    """What ``path`` is when it exists but is neither a regular file nor a directory (``"a named
    pipe"``, ``"a character device"``, ...); None otherwise."""
    try:
        return special_kind(os.stat(path).st_mode)
    except (OSError, ValueError):
        return None


def check_torch_file_path(path: PathLike, thing: str, file_name: str) -> None:
    """An AsrkitError naming ``path`` unless it is a regular file, for the loaders of asrkit's torch
    files (``thing``: "a model", "an LM"; ``file_name``: what such a file is called in its exp dir):
    a directory (the exp dir, not the file in it), a FIFO or a device (a torch file is a zip
    archive read by seeking, so such a path cannot hold one: /dev/null was "no such model file"),
    or nothing there."""
    noun = thing.split(" ", 1)[1]
    if os.path.isdir(path):
        raise AsrkitError(f"{path}: a directory, not {thing} file (e.g. {os.path.join(path, file_name)})")
    if not os.path.isfile(path):
        kind = special_file_kind(path)
        if kind is not None:
            raise AsrkitError(f"{path}: {kind}, not {thing} file ({thing} is read from a regular file, which torch "
                              f"seeks in; copy it to one)")
        raise AsrkitError(f"{path}: {not_found_reason(path, f'{noun} file')}")


def torch_load_quietly(path: PathLike, **options: Any) -> Any:
    """``torch.load(path, weights_only=True)`` onto the CPU, without torch's UserWarnings.

    torch warns about the pickle protocol of a file it then refuses, and "Validating sparse tensor
    invariants" of a file holding a sparse weight, which asrkit then refuses itself: printed above
    the one ERROR line, they said nothing it does not. Every read of a model, LM or checkpoint
    goes through here.
    """
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.load(path, map_location="cpu", weights_only=True, **options)


def load_weights_only(path: PathLike, what: str) -> Any:
    """The object in ``path``; an AsrkitError naming it when it is missing or not a safe torch file.

    ``what`` says what the file should have been: ``<path>: not an <what> (not a torch file, or
    one holding more than tensors and plain types: <torch's first line>)``.
    """
    import torch

    kind = special_file_kind(path)
    if kind is not None:  # opening a named pipe waited for a writer: a resume or asrkit-average hung
        raise AsrkitError(f"{path}: {kind}, not an {what} (torch files are read from a regular file, which torch "
                          f"seeks in)")
    _check_crcs(path, what)
    try:
        return torch_load_quietly(path)
    except (FileNotFoundError, NotADirectoryError):
        raise AsrkitError(f"{path}: {not_found_reason(path)}") from None
    except IsADirectoryError:
        raise AsrkitError(f"{path}: is a directory, not an {what}") from None
    except Exception as e:  # torch raises many types for a file that is not a torch archive
        if isinstance(e, OSError) and e.errno == errno.ELOOP:  # the path, not the file's content, is at fault
            raise AsrkitError(f"{path}: {not_found_reason(path)}") from None
        if isinstance(e, OSError) and e.errno in MACHINE_ERRORS:
            # Not the file's content: an unreadable checkpoint was "not an asrkit checkpoint (not a
            # torch file ...: Permission denied)", and a resume skipped it as damaged and trained
            # its epoch again. Left an OSError, it is "<path>: permission denied" and stops the run.
            raise OSError(e.errno, os.strerror(e.errno), os.fspath(path)) from None
        start = _head(path, 64)
        head = start[:4]
        kaldi = _kaldi_object(start)
        if kaldi is not None:
            # a Kaldi final.mdl or final.raw given as the model: "not a torch file: it starts with
            # b'\x00B<T'", which a Kaldi user reads as a damaged torch file
            raise AsrkitError(f"{path}: not an {what} (a Kaldi model or object, {kaldi}: asrkit reads only the torch "
                              f"files it writes itself, and cannot convert Kaldi's)") from None
        if head.startswith(b"\x1f\x8b\x08"):  # gzip's mark and method (a model.pt.gz: "it starts with b'\x1f...'")
            raise AsrkitError(f"{path}: not an {what} (gzip-compressed: it starts with gzip's bytes 1F 8B; decompress "
                              f"it, e.g. {_gunzip_command(os.fspath(path))})") from None
        if head and not head.startswith((b"PK", b"\x80")):
            # neither a zip archive (torch.save) nor a pickle (the legacy format): torch's own
            # reason would be a parser's ("101", "pop from empty list")
            raise AsrkitError(f"{path}: not an {what} (not a torch file: it starts with {head!r})") from None
        if head.startswith(b"PK") and not _zip_end_found(path):
            # A zip archive keeps its directory at its end, so a copy or write cut short past the
            # first few hundred bytes loses it: torch said "[Errno 22] Invalid argument" (its
            # reader seeks before the start looking for it), which blamed nothing.
            raise AsrkitError(f"{path}: not an {what} (a truncated or damaged torch archive: it lacks the zip directory "
                              f"a whole one ends with, so a copy or write was cut short; copy it again)") from None
        if "_codecs.encode" in str(e):
            # pickle protocol 2 (torch.save's) writes bytes (a model's tokenizer) as _codecs.encode,
            # which torch.load(weights_only=True) reads only from torch 2.5 on: before, every
            # model with a tokenizer was "not an asrkit model" (seen with torch 2.1.2)
            raise AsrkitError(f"{path}: an {what} that torch {torch.__version__} cannot read: it holds bytes, "
                              f"which torch's safe loader reads from torch 2.5 on (asrkit needs torch >= 2.5)") from None
        raise AsrkitError(f"{path}: not an {what} (not a torch file, or one holding more than "
                          f"tensors and plain types: {_reason(e)})") from None


def _check_crcs(path: PathLike, what: str) -> None:
    """AsrkitError naming the first record of a torch archive whose bytes fail their CRC-32.

    torch's reader never checks the CRCs it writes, so a model damaged on disk or in transfer
    loads, passes the finite-weights check, and decodes everything to empty text with exit 0.
    Reading the archive once more costs a CRC over its bytes (about a millisecond per MB).
    A record stored with CRC 0 is not checked: ``torch.serialization.set_crc32_options(False)``
    writes that for every record.
    """
    if _head(path)[:2] != b"PK":
        return  # missing, a directory, a legacy pickle, or not torch's: torch.load's error says which
    try:
        with zipfile.ZipFile(path) as archive:
            for record in archive.infolist():
                if record.CRC == 0 or record.is_dir():
                    continue
                with archive.open(record) as f:
                    while f.read(1 << 20):  # zipfile raises BadZipFile at the end of a record whose CRC differs
                        pass
    except zipfile.BadZipFile as e:
        crc = re.match(r"Bad CRC-32 for file '([^']*)'", str(e))
        if crc:
            raise AsrkitError(f"{path}: a damaged {what}: its record {crc.group(1)!r} fails its CRC-32 check "
                              f"(changed on disk or in transfer; copy it again from where it was made)") from None
        if "span multiple disks" in str(e):
            # A changed byte in the ZIP64 locator before the archive's end record (its disk count):
            # zipfile's is_zipfile raised this too, a BadZipFile traceback from asrkit-decode --lm.
            raise AsrkitError(f"{path}: a damaged {what}: its zip end record names other disks, which torch never "
                              f"writes (changed on disk or in transfer; copy it again from where it was made)") from None
        # any other damage (a cut-short archive, a bad directory): torch.load's error names it
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
        # Bytes lost inside the archive (a cut-out block) shift its directory, whose first record then
        # lies before the file's start: zipfile's seek there was an "[Errno 22] Invalid argument" traceback.
        raise AsrkitError(f"{path}: a damaged {what}: its zip directory points before the start of the file (bytes "
                          f"were lost from it on disk or in transfer; copy it again from where it was made)") from None
    except (zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError, RuntimeError):
        pass  # not an archive zipfile reads: torch.load's error names it


def _zip_end_found(path: PathLike) -> bool:
    """Whether ``path`` ends as a zip archive does (its end-of-central-directory record)."""
    try:
        return zipfile.is_zipfile(path)
    except (OSError, zipfile.BadZipFile):
        return True  # unreadable now, or an end record there but damaged: not evidence of a cut; torch's error stands


def _head(path: PathLike, n: int = 4) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def _gunzip_command(name: str) -> str:
    """A command that decompresses gzip'ed ``name`` beside it, and the file to give then. Never into
    ``name`` itself: 'gunzip -c model.pt > model.pt' (the remedy for a gzip'ed model.pt given in its
    own directory) had the shell empty model.pt before gunzip read it, the only copy lost; nor into
    a fixed model.pt, which overwrote the model of the directory it was run in."""
    if name.endswith(".gz") and not os.path.basename(name).startswith(".gz"):
        # gunzip -k keeps the .gz and refuses to overwrite a file of the name it writes
        return f"gunzip -k {shlex.quote(name)}, then give {shlex.quote(name[:-3])}"
    root, ext = os.path.splitext(name)
    out = f"{root}.gunzipped{ext or '.pt'}"
    return f"gunzip -c {shlex.quote(name)} > {shlex.quote(out)}, then give {shlex.quote(out)}"


def _kaldi_object(head: bytes) -> Optional[str]:
    """``'<TransitionModel>' (binary)`` and the like when a file's first bytes ``head`` start as a
    Kaldi object does (binary: ``\\0B`` and a ``<Token>``; text: a ``<Token>``), else None."""
    binary = head.startswith(b"\0B")
    token = re.match(rb"\s*(<[A-Za-z][A-Za-z0-9_]{0,40}>)", head[2:] if binary else head)
    if token is None:
        return None
    return f"'{token.group(1).decode()}' ({'binary' if binary else 'text'})"


def other_content(blob: Any, fmt: str) -> str:
    """What a torch file's object ``blob`` is, for the error of a reader that wanted format ``fmt``
    and found no such entry: a bare state dict (ESPnet's model.acc.best; was "no format entry",
    which said nothing of what the file is), another format, or just that the entry is missing."""
    import torch

    if isinstance(blob, dict):
        other = blob.get("format")
        if isinstance(other, str):
            return f"its format is {other[:40]!r}, not {fmt!r}"
        if blob and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in blob.items()):
            return (f"a bare state dict of {len(blob)} tensors, as torch.save(model.state_dict()) writes and ESPnet's "
                    f"model.acc.best is: weights alone, without the config, features and tokenizer asrkit packs "
                    f"beside them")
    return f"no format: {fmt!r} entry"


def _reason(e: Exception) -> str:
    """torch's reason in a few words: the object refused (its long advice is about loading it anyway)."""
    if isinstance(e, EOFError):
        return "it ends before its content does (an empty or cut-short file)"
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    refused = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if refused:
        return f"it holds {refused.group(1)}, and unpickling that could run code"
    # The safe unpickler's own reason follows its advice to load the file unsafely; never repeat that.
    unpickler = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
    if unpickler:
        return f"the safe loader stopped at: {unpickler.group(1).strip()[:120]}"
    if "failed reading zip archive" in text:
        why = re.search(r"failed reading zip archive: ([^.]*)", text)
        return f"a truncated or damaged torch archive ({why.group(1) if why else 'unreadable'})"
    if "not in a subdirectory" in text or 'hasRecord("version")' in text:
        # A zip archive of other files (a zipped model directory, an .npz, a .docx): torch's
        # reason was "[enforce fail at inline_container.cc:180] ." or "Expected hasRecord(...)".
        return "a zip archive, but not one torch wrote (no torch records in it)"
    first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    return re.split(r"(?<=\.) ", first)[0][:200]


def refuse_non_dense(state_dict: Any, where: str) -> None:
    """AsrkitError naming the first weight that is not a dense tensor: torch loads a sparse one as
    safely as a dense one, and the first check that reads its values raised a NotImplementedError
    traceback. A meta-device one (a model built on torch.device("meta") and saved unfilled) holds
    no values at all: "Tensor.item() cannot be called on meta tensors", a traceback, for a model,
    an LM or a checkpoint."""
    import torch

    other = next((k for k, v in state_dict.items() if isinstance(v, torch.Tensor)
                  and (v.layout != torch.strided or v.is_meta)), None)
    if other is not None:
        value = state_dict[other]
        kind = "meta-device tensor (shape only, no values)" if value.is_meta else f"{value.layout} tensor"
        raise AsrkitError(f"{where}: weight {other!r} is a {kind}, not a dense one")


def check_finite_weights(state_dict: Any, where: str) -> None:
    """AsrkitError naming the first weight tensor with a NaN or infinite value (or one that is not
    dense, which could not be checked).

    A model whose training diverged decodes every utterance to an empty hypothesis and exits 0;
    that silent failure is caught here, when the model is loaded.
    """
    import torch

    refuse_non_dense(state_dict, where)
    for name, value in state_dict.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            bad = int((~torch.isfinite(value)).sum())
            raise AsrkitError(f"{where}: {bad} non-finite value(s) (NaN or Inf) in weight {name!r}; "
                              f"the training that made it diverged, or the file is damaged")
