"""The training utterance table: ids, where each input is, lengths and token ids, in flat numpy arrays.

One Python object per utterance (a dataclass, its id, its token list of boxed ints) costs about
a kilobyte: ~1 GB for LibriSpeech 960 h's 281,241 utterances, and each forked DataLoader worker
soon holds its own copy, because merely reading a Python object writes its reference count and
so un-shares its page. Here every column is one numpy array (strings as one UTF-8 byte array
plus offsets, token ids as one flat uint8/int16 array plus offsets): tens of MB for the same corpus,
which workers only read, so their pages stay shared copy-on-write.

``table[i]`` still gives an :class:`Utterance` (built on demand) for code that reads one at a
time; loops over the whole corpus use the arrays (``table.num_frames``).
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Union

import numpy as np


@dataclass
class Utterance:
    """One row of the table, as a plain object (made on access, never stored)."""

    utt_id: str
    num_frames: int
    text: str  # "" when the table was built without transcripts
    tokens: List[int]


class Strings:
    """A sequence of strings stored as one UTF-8 byte array and int32 (int64 past 2 GiB) offsets."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        return self.blob[self.offsets[i]:self.offsets[i + 1]].tobytes().decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))

    def take(self, rows: np.ndarray) -> "Strings":
        b = StringsBuilder()
        for i in rows:
            b.add_bytes(self.blob[self.offsets[i]:self.offsets[i + 1]].tobytes())
        return b.build()

    @property
    def nbytes(self) -> int:
        return self.blob.nbytes + self.offsets.nbytes


class StringsBuilder:
    """Appends strings without keeping a Python object per string."""

    def __init__(self) -> None:
        self._blob = bytearray()
        self._offsets = array("q", [0])

    def add(self, s: str) -> None:
        self.add_bytes(s.encode("utf-8"))

    def add_bytes(self, b: bytes) -> None:
        self._blob += b
        self._offsets.append(len(self._blob))

    def add_many(self, items: Sequence[str]) -> None:
        encoded = [s.encode("utf-8") for s in items]
        start = len(self._blob)
        self._blob += b"".join(encoded)
        self._offsets.extend((start + np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64,
                                                            count=len(encoded)))).tolist())

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def build(self) -> Strings:
        return Strings(np.frombuffer(bytes(self._blob), dtype=np.uint8), _compact_offsets(self._offsets))


def _compact_offsets(offsets: array) -> np.ndarray:
    """int32 offsets while the data stays under 2 GiB (2.2 MB saved per column at 281k rows)."""
    wide = np.frombuffer(offsets, dtype=np.int64)
    return wide.astype(np.int32) if wide[-1] <= np.iinfo(np.int32).max else wide.copy()


class PrefixStrings:
    """Strings that share a few long prefixes, kept as a prefix number and the rest of each.

    feats.scp values all start with one of a few ``<ark path>:`` and wav.scp values with a few
    folders: 281k AN4 feats.scp values are 16.5 MB whole and ~3 MB so.
    """

    def __init__(self, prefixes: List[str], prefix_of: np.ndarray, rests: Strings) -> None:
        self.prefixes = prefixes
        self.prefix_of = prefix_of
        self.rests = rests

    def __len__(self) -> int:
        return len(self.rests)

    def __getitem__(self, i: int) -> str:
        return self.prefixes[self.prefix_of[i]] + self.rests[i]

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))

    def take(self, rows: np.ndarray) -> "PrefixStrings":
        return PrefixStrings(self.prefixes, self.prefix_of[rows].copy(), self.rests.take(rows))

    @property
    def nbytes(self) -> int:
        return self.prefix_of.nbytes + self.rests.nbytes + sum(len(p) for p in self.prefixes)


class PrefixStringsBuilder:
    """Cuts each string after its last ``/`` or ``:``; with more distinct prefixes than
    ``MAX_PREFIXES`` (values that share little) the strings are kept whole instead."""

    MAX_PREFIXES = 4096

    def __init__(self) -> None:
        self._ids: Dict[str, int] = {}
        self._prefix_of = array("i")
        self._rests = StringsBuilder()

    def _rest(self, s: str) -> str:
        """Files ``s``'s prefix (its number appended to ``_prefix_of``) and returns the rest."""
        cut = max(s.rfind("/"), s.rfind(":")) + 1
        self._prefix_of.append(self._ids.setdefault(s[:cut], len(self._ids)))
        return s[cut:]

    def add(self, s: str) -> None:
        self._rests.add(self._rest(s))

    def add_many(self, items: Sequence[str]) -> None:
        self._rests.add_many([self._rest(s) for s in items])

    def __len__(self) -> int:
        return len(self._rests)

    def build(self) -> Union[PrefixStrings, Strings]:
        prefixes = list(self._ids)
        rests = self._rests.build()
        prefix_of = np.frombuffer(self._prefix_of, dtype=np.int32).copy()
        if len(prefixes) <= self.MAX_PREFIXES:
            return PrefixStrings(prefixes, prefix_of, rests)
        whole = StringsBuilder()
        whole.add_many([prefixes[prefix_of[i]] + rests[i] for i in range(len(rests))])
        return whole.build()


class IntLists:
    """A sequence of int lists as one flat uint8/int16/int32 array and int32/int64 offsets (token ids)."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray) -> None:
        self.flat = flat
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.flat[self.offsets[i]:self.offsets[i + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def take(self, rows: np.ndarray) -> "IntLists":
        b = IntListsBuilder()
        for i in rows:
            b.add(self[i])
        return b.build()

    @property
    def nbytes(self) -> int:
        return self.flat.nbytes + self.offsets.nbytes


class IntListsBuilder:
    def __init__(self) -> None:
        self._flat = array("i")
        self._offsets = array("q", [0])

    def add(self, values: Iterable[int]) -> None:
        self._flat.extend(int(v) for v in values)
        self._offsets.append(len(self._flat))

    def add_flat(self, flat: np.ndarray, lengths: np.ndarray) -> None:
        """Many lists at once: their concatenation and their lengths."""
        start = len(self._flat)
        self._flat.frombytes(np.ascontiguousarray(flat, dtype=np.int32).tobytes())
        self._offsets.extend((start + np.cumsum(lengths, dtype=np.int64)).tolist())

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def build(self) -> IntLists:
        flat = np.frombuffer(self._flat, dtype=np.int32)
        # The largest column, so the narrowest type that holds it: a character vocabulary's ids
        # (under 256) fit uint8, those of any BPE vocabulary below 32k int16.
        lo, hi = (int(flat.min()), int(flat.max())) if flat.size else (0, 0)
        for dtype in (np.uint8, np.int16, np.int32):
            if np.iinfo(dtype).min <= lo and hi <= np.iinfo(dtype).max:
                break
        return IntLists(flat.astype(dtype), _compact_offsets(self._offsets))


class Ramp:
    """The column ``start, start + 1, ...`` of ``n`` rows, held as its two numbers.

    Usually what ``source_index`` (one source per utterance) and ``source_lines`` (a table
    without comments or blank lines) are: 2.2 MB of int32 at 281k rows, which the in-process
    raw-audio loader needs for its fbank (bench/scale_data.py). Indexed as the array would be.
    """

    def __init__(self, start: int, n: int) -> None:
        self.start = start
        self.n = n

    @staticmethod
    def of(column: np.ndarray) -> Union["Ramp", np.ndarray]:
        """``column`` as a Ramp when it is one, else itself."""
        n = len(column)
        if n and int(column[-1]) - int(column[0]) == n - 1 and bool((np.diff(column) == 1).all()):
            return Ramp(int(column[0]), n)
        return column

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            i = int(key)
            if not -self.n <= i < self.n:
                raise IndexError(i)
            return self.start + i % self.n
        return self.start + np.arange(self.n, dtype=np.int64)[key]

    nbytes = 0


class UttTable:
    """The trainable utterances of a dump dir, column by column.

    Columns: ``ids`` (:class:`Strings`), ``num_frames`` (int32, the length the batches are
    bucketed by), ``tokens`` (:class:`IntLists`), ``texts`` (:class:`Strings` or None),
    ``sources`` (:class:`Strings`: the feats.scp value, or the wav.scp value of the recording),
    ``source_index`` (int32 or a :class:`Ramp`: the row of ``sources`` each utterance reads),
    ``source_lines`` (int32 or a :class:`Ramp`: the line of each source in its file, for
    messages), ``source_file`` (that file), and for a raw dump dir with ``segments`` the float64
    ``starts``/``ends`` (seconds; -1: to the end). ``length_file``: the table ``num_frames`` was
    read from (utt2num_frames, utt2dur), None when the inputs were measured.
    """

    def __init__(self, ids: Strings, num_frames: np.ndarray, tokens: IntLists, sources: Union[Strings, PrefixStrings],
                 source_index: np.ndarray, source_lines: np.ndarray, source_file: str,
                 texts: Optional[Strings] = None, starts: Optional[np.ndarray] = None,
                 ends: Optional[np.ndarray] = None, length_file: Optional[str] = None) -> None:
        self.ids = ids
        self.num_frames = num_frames
        self.tokens = tokens
        self.texts = texts
        self.sources = sources
        self.source_index = Ramp.of(source_index)
        self.source_lines = Ramp.of(source_lines)
        self.source_file = source_file
        self.starts = starts
        self.ends = ends
        self.length_file = length_file

    def __len__(self) -> int:
        return len(self.num_frames)

    def utt_id(self, i: int) -> str:
        return self.ids[i]

    def fingerprint(self) -> str:
        """Which utterances with which token ids: a resume validating on another dev set is
        refused by it (Trainer.refuse_unranked_epochs), since its losses rank against no others."""
        import hashlib

        digest = hashlib.sha1()
        for column in (self.ids.blob, self.ids.offsets, self.tokens.flat, self.tokens.offsets):
            digest.update(np.ascontiguousarray(column, dtype=np.int64).tobytes())
        return f"{len(self)} utterances, sha1 {digest.hexdigest()[:12]}"

    def text(self, i: int) -> str:
        return self.texts[i] if self.texts is not None else ""

    def source(self, i: int) -> str:
        return self.sources[int(self.source_index[i])]

    def where(self, i: int) -> str:
        return f"{self.source_file}:{int(self.source_lines[self.source_index[i]])}"

    def __getitem__(self, key: Union[int, slice, Sequence[int]]) -> Union[Utterance, "UttTable"]:
        if isinstance(key, (int, np.integer)):
            i = int(key)
            if not -len(self) <= i < len(self):
                raise IndexError(i)
            i %= len(self)
            return Utterance(self.ids[i], int(self.num_frames[i]), self.text(i), [int(t) for t in self.tokens[i]])
        rows = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key, dtype=np.int64)
        return self.take(rows)

    def __iter__(self) -> Iterator[Utterance]:
        return (self[i] for i in range(len(self)))

    def take(self, rows: np.ndarray) -> "UttTable":
        """The table of ``rows`` only (sources kept whole: they are shared by index)."""
        return UttTable(self.ids.take(rows), self.num_frames[rows].copy(), self.tokens.take(rows), self.sources,
                        np.array(self.source_index[rows], dtype=np.int32), self.source_lines, self.source_file,
                        self.texts.take(rows) if self.texts is not None else None,
                        None if self.starts is None else self.starts[rows].copy(),
                        None if self.ends is None else self.ends[rows].copy(), self.length_file)

    @property
    def nbytes(self) -> int:
        arrays = [self.num_frames, self.source_index, self.source_lines, self.starts, self.ends]
        return (self.ids.nbytes + self.tokens.nbytes + self.sources.nbytes
                + (self.texts.nbytes if self.texts is not None else 0) + sum(a.nbytes for a in arrays if a is not None))
