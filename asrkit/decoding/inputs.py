"""What asrkit-decode reads: features from an rspecifier, audio from a wav.scp, or wav files.

:class:`DecodeInputs` holds the input options as given (exactly one source; ``--utt-ids``;
piece ``--job`` of ``--nj``) and turns them into one stream. Every source yields
``(utt_id, feats (T, D) or None, error or None)`` in input order, so one bad utterance is
reported and counted while the others still decode (as Kaldi's tools do). Features from audio
are computed by ``featurize`` (the recognizer's packed fbank config, resampling audio at other
rates); CMVN is applied later, by the recognizer, to features from every source alike.
Multi-channel audio is averaged to one channel, or channel ``channel`` (0-based) is taken.

Utterance ids of audio files given by name (:func:`file_utt_ids`) are the file names without
their extension, with whitespace made ``_`` (``voice memo 1.wav`` -> ``voice_memo_1``, said in
the log); a name that cannot be an id (not UTF-8, nothing left) and two files giving the same id
(``a/x.wav`` and ``b/x.wav``, ``x.wav`` and ``x.flac``, ``a b.wav`` and ``a_b.wav``) are errors
naming the files, before anything is decoded, so no ``text`` line is ever split or doubled::

    inputs = DecodeInputs(wav_scp="data/test/wav.scp", nj=4, job=2)   # checks the options
    items, total = inputs.open(rec.features)                          # total: None when unknown
"""
from __future__ import annotations

import io
import itertools
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, List, Optional, Sequence, Set, Tuple

from asrkit.data.table import BOM, ID_CONTROL, mid_file_bom_problem, refuse_bom, refuse_terminal, split_fields
from asrkit.features.wav import DEFAULT_MAX_SAMPLES
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import names_stdin, open_read

# numpy is imported where items are read (from_feats): asrkit-decode --print-config checks the
# inputs' names with this module (asr.sh's start-up check, stage 5's options), and numpy was half
# of its CPU there.
if TYPE_CHECKING:
    import numpy as np

Item = Tuple[str, Optional["np.ndarray"], Optional[AsrkitError]]
Featurize = Callable[["np.ndarray", int, str], "np.ndarray"]


@dataclass
class DecodeInputs:
    """asrkit-decode's input options: one of ``feats`` (an rspecifier), ``wav_scp`` (with optional
    ``segments``) or ``wavs`` (files; the utterance id is the name without extension), optionally
    only the ids listed in the file ``utt_ids`` (in its order), and only piece ``job`` of ``nj``
    (the cut Kaldi's split_scp.pl and asrkit-split-data-dir --per-utt make). ``channel``: None
    averages the channels of multi-channel audio, N takes channel N. ``max_samples``: the most
    samples (all channels) one file or recording may hold (asrkit.features.wav)."""

    feats: Optional[str] = None
    wav_scp: Optional[str] = None
    segments: Optional[str] = None
    wavs: Sequence[str] = ()
    utt_ids: Optional[str] = None
    nj: int = 1
    job: int = 1
    channel: Optional[int] = None
    max_samples: int = DEFAULT_MAX_SAMPLES
    stdin_taken: Optional[str] = None  # another input the command reads from stdin (--model /dev/stdin)
    _entries: Optional[list] = field(default=None, init=False, repr=False)
    # (the wav.scp read without its segments is warned of once however many times it is read)
    _segments_said: Set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        if len([s for s in (self.feats, self.wav_scp, self.wavs or None) if s]) != 1:
            raise AsrkitError("give exactly one input: --feats RSPECIFIER, --wav-scp WAV_SCP, or WAV files")
        if self.segments and not self.wav_scp:
            raise AsrkitError("--segments goes with --wav-scp")
        if self.nj < 1:
            raise AsrkitError(f"--nj must be at least 1, got {self.nj}")
        if not 1 <= self.job <= self.nj:
            raise AsrkitError(f"--job must be in 1..--nj ({self.nj}), got {self.job}")
        if self.channel is not None and self.channel < 0:
            raise AsrkitError(f"--channel must be a channel number >= 0 (0-based), got {self.channel}")
        if self.feats and self.channel is not None:
            raise AsrkitError("--channel goes with audio input (--wav-scp or files), not --feats")
        hint = data_dir_hint(self.wav_scp) if self.wav_scp else None
        if hint:
            # (a Kaldi user's 'asrkit-decode --wav-scp data/test' was "is a directory, not a table file")
            raise AsrkitError(f"--wav-scp {self.wav_scp}: a data dir, not its wav.scp: {hint}")
        if self.wavs:
            from asrkit.utils.fileio import stdin_reader

            # (the audio then read what the other left: "no data on stdin (0 bytes read)")
            taken = self.stdin_taken or stdin_reader([("--utt-ids", self.utt_ids)])
            if taken and any(names_stdin(str(w)) for w in self.wavs):
                raise AsrkitError(f"the audio file '-' (stdin) and {taken} both read stdin: give one of them as a file")
            renamed: List[Tuple[str, str]] = []
            file_utt_ids(self.wavs, renamed)  # bad or clashing names fail before the model loads
            if renamed:
                from asrkit.utils.logging import get_logger

                log = get_logger("decode")
                for path, utt in renamed:
                    log.info("%r: utterance id %r (a Kaldi id has no whitespace)", path, utt)

    def open(self, featurize: Featurize) -> Tuple[Iterator[Item], Optional[int]]:
        """(the items to decode, how many there are or None for an ark stream). When ``featurize``
        is a Recognizer's method, the copy it resamples to the model's rate is held to the
        ``max_samples`` limit too."""
        sample_rate = getattr(getattr(featurize, "__self__", None), "sample_rate", None)
        if sample_rate:
            featurize = _capped(featurize, int(sample_rate), self.max_samples)
        wanted = read_utt_ids(self.utt_ids) if self.utt_ids else None
        entries = self.wav_entries() if self.wav_scp else None
        if self.nj > 1:
            from asrkit.data.split import split_scp

            ids = wanted if wanted is not None else self.all_ids(entries)
            if len(ids) < self.nj:
                # (split_scp's own words, "cannot split 4 lines into 6 non-empty pieces", named
                # neither the option nor what the lines were)
                source = (f"--utt-ids {self.utt_ids}" if wanted is not None else f"--wav-scp {self.wav_scp}"
                          if self.wav_scp else f"--feats {self.feats}" if self.feats else "the audio files given")
                raise AsrkitError(f"--nj {self.nj}: more pieces than the {len(ids)} utterance(s) of {source}; "
                                  f"give --nj {len(ids)} or fewer")
            wanted = split_scp(ids, self.nj)[self.job - 1]
        if wanted is not None:
            total: Optional[int] = len(wanted)
        elif self.wavs:
            total = len(self.wavs)
        else:
            try:
                total = len(self.all_ids(entries))
            except AsrkitError:
                total = None  # an ark stream or an scp that is a pipe: no count up front
        if self.feats:
            return from_feats(self.feats, wanted), total
        if self.wav_scp:
            return from_wav_scp(self.wav_scp, featurize, self.segments, wanted, self.channel,
                                self.max_samples, entries), total
        paths = list(self.wavs)
        if wanted is None:
            return from_wav_files(paths, featurize, self.channel, self.max_samples), total
        # As for a wav.scp: the ids asked for, in their order; one no file gives is a bad item.
        by_id = dict(zip(file_utt_ids(paths), paths))
        keep, missing = _select(list(by_id), wanted, "the audio files given")
        errors = [(u, None, AsrkitError(f"utterance {u!r}: not among the audio files given")) for u in missing]
        return itertools.chain(errors, from_wav_files([by_id[u] for u in keep], featurize, self.channel,
                                                      self.max_samples)), total

    @property
    def source(self) -> str:
        """The input the utterances come from, for messages: the segments file with --segments."""
        return self.segments or self.wav_scp or self.feats or "the audio files given"

    def wav_entries(self) -> list:
        """The --wav-scp's entries (:func:`asrkit.features.wav_scp.read_wav_scp`), read on the first call
        and kept: the same-file check of the outputs and the decoding share one read."""
        if self._entries is None:
            from asrkit.features.wav_scp import read_wav_scp
            from asrkit.utils.fileio import stdin_reader

            # Read once, for the output check, the count, the --nj cut and the audio: a wav.scp
            # that is a pipe (--wav-scp <(...), /dev/stdin) cannot be read twice, and counting it
            # first left nothing to decode ("no utterances to process"). A line "utt -" reads its
            # recording from stdin: not when stdin is the id list.
            taken = self.stdin_taken or stdin_reader([("--utt-ids", self.utt_ids)])
            self._entries = read_wav_scp(self.wav_scp, self.segments, channel=self.channel,
                                         max_samples=self.max_samples, stdin_taken=taken,
                                         segments_said=self._segments_said)
        return self._entries

    def wav_sources(self) -> dict:
        """{--wav-scp: the values its entries read} for the outputs' same-file check, or {}."""
        if not self.wav_scp:
            return {}
        return {self.wav_scp: list(dict.fromkeys(e.source for e in self.wav_entries()))}

    def all_ids(self, entries=None) -> List[str]:
        """Every utterance id of the source, in order (an error for an ark stream, or an scp that is
        a pipe, which the features could not be read from afterwards). ``entries``: the wav.scp's
        entries, already read."""
        if entries is not None:
            return [e.utt_id for e in entries]
        if self.wavs:
            return file_utt_ids(self.wavs)
        if self.feats:
            from asrkit.data.specifier import parse_rspecifier
            from asrkit.data.table import iter_table

            spec = parse_rspecifier(self.feats)
            if spec.scp is None:
                raise AsrkitError(f"--nj needs an scp to split: give --feats as scp:..., not {self.feats!r}")
            if not os.path.isfile(spec.scp):
                raise AsrkitError(f"--nj needs an scp file that can be read twice, not a pipe: {spec.scp}")
            return [line.key for line in iter_table(spec.scp)]
        from asrkit.features.wav_scp import read_wav_scp

        return [e.utt_id for e in read_wav_scp(self.wav_scp, self.segments, segments_said=self._segments_said)]


# A Kaldi rspecifier ('scp:f.scp', 'ark,s,cs:f.ark') where an audio file is expected
_RSPECIFIER = re.compile(r"^(scp|ark)(,[a-z]+)*:")


def read_utt_ids(path: str) -> List[str]:
    """The first field of each non-empty line (``--utt-ids``: a list, or any table of utterances).

    An id listed twice is an error naming both lines, as a duplicate key in any table: it would
    be decoded twice and give two ``text`` lines of one utterance.
    """
    ids: List[str] = []
    first: dict = {}
    try:
        # (open_read: a named pipe with no writer waited for ever)
        with io.TextIOWrapper(open_read(path), encoding="utf-8") as f:
            refuse_terminal(f, path)  # (--utt-ids - typed at a prompt waited for ever)
            for lineno, line in enumerate(f, 1):
                if lineno == 1:  # (a BOM became part of the first id, then skipped as one no input has)
                    refuse_bom(line.encode("utf-8"), path)
                elif line.startswith(BOM):  # (lists each saved with one, joined with cat: as the table readers)
                    raise AsrkitError(f"{path}:{lineno}: {mid_file_bom_problem(path)}")
                fields = split_fields(line, 1)  # ASCII white space, as table keys: U+00A0 may be in an id
                if not fields:
                    continue
                utt = fields[0]
                if utt in first:
                    raise AsrkitError(f"{path}:{lineno}: duplicate utterance id {utt!r} (first on line {first[utt]}): "
                                      f"it would be decoded twice, two text lines of one utterance")
                first[utt] = lineno
                ids.append(utt)
        if not ids:
            raise AsrkitError(f"{path}: no utterance ids in it (--utt-ids: one utterance id per line)")
        return ids
    except FileNotFoundError:
        raise AsrkitError(f"{path}: no such file (--utt-ids: one utterance id per line)") from None
    except UnicodeDecodeError as e:
        raise AsrkitError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def _select(ids: List[str], wanted: Optional[Sequence[str]], where: str) -> Tuple[List[str], List[str]]:
    """(ids to decode in order, requested ids that the source lacks)."""
    if wanted is None:
        return ids, []
    have = set(ids)
    return [u for u in wanted if u in have], [u for u in wanted if u not in have]


def _utf8_link_command(path: str) -> str:
    """``ln -s`` linking a file whose name is not UTF-8 (bytes kept as surrogates) under a UTF-8
    name in the current folder, its bytes written as bash's $'\\xNN' so it runs as printed."""
    raw = os.fsencode(os.path.abspath(path))
    source = "$'" + "".join(chr(b) if 32 <= b < 127 and b not in b"'\\" else f"\\x{b:02x}" for b in raw) + "'"
    name = os.fsencode(os.path.basename(path)).decode("utf-8", "replace").replace("\ufffd", "_")
    if name.startswith("-"):
        name = "./" + name  # (ln took '-caf_.wav' for an option: 'ln: invalid option')
    return f"ln -s {source} {shlex.quote(name)}"


def file_utt_ids(paths: Sequence[str], renamed: Optional[List[Tuple[str, str]]] = None) -> List[str]:
    """The utterance id of each audio file: its name without the extension (``a/x.flac`` -> ``x``).

    A Kaldi id has no whitespace, so each run of it (a space, a tab, a newline) becomes ``_``, as
    does an ASCII control character, which no table reader takes in an id (``voice memo 1.wav`` ->
    ``voice_memo_1``; appended to ``renamed`` as (path, id)): an end
    user's recordings are named so, and refusing them made a wav.scp necessary for one file.
    Nothing left to make an id of, a name that is not UTF-8, and two files with the same id
    (which would give two ``text`` lines of one utterance) are AsrkitErrors naming the files
    (list them in a wav.scp with ids of your own instead).
    """
    ids: List[str] = []
    first: dict = {}
    for p in paths:
        spec = _RSPECIFIER.match(str(p))
        if spec and not os.path.lexists(p):
            # (was "skipping utterance 'wav': ... no such file" for scp:data/test/wav.scp)
            option = "--feats" if spec.group(1) == "ark" or "feats" in str(p) else "--wav-scp"
            shown = str(p)[spec.end():] if option == "--wav-scp" else str(p)
            raise AsrkitError(f"{str(p)!r} is a Kaldi table specifier, not an audio file: give it as {option} "
                              f"{shown} (the arguments are audio files)")
        utt = Path(p).stem
        if any(c.isspace() for c in utt) or ID_CONTROL.search(utt):
            # (an ASCII control character too, ^A, an ESC of 'ls --color': written into text and
            # stdout, the id was refused by every table reader after, asrkit-score's included)
            utt = ID_CONTROL.sub("_", "_".join(utt.split()))
            if utt and renamed is not None:
                renamed.append((str(p), utt))
        if not utt:
            raise AsrkitError(f"{p!r}: no file name to make an utterance id of")
        try:
            utt.encode("utf-8")
        except UnicodeEncodeError:
            # (a wav.scp was the other remedy given, but its lines are UTF-8 text: it refused the path too)
            raise AsrkitError(f"{p!r}: the file name is not UTF-8, so it cannot be an utterance id, nor can a "
                              f"wav.scp line hold its name as it is; rename the file, or link to it under a UTF-8 name: "
                              f"{_utf8_link_command(str(p))}") from None
        if utt in first and os.path.abspath(first[utt]) == os.path.abspath(p):
            # (was "'/dev/stdin' and '/dev/stdin' both give utterance id 'stdin'", suggesting a
            # wav.scp, which takes one '-' too)
            if names_stdin(str(p)):
                raise AsrkitError("'-' (stdin, which holds one recording) is given twice")
            shown = repr(str(p)) if str(first[utt]) == str(p) else f"{str(first[utt])!r} and {str(p)!r}: the same file,"
            raise AsrkitError(f"{shown} given twice")
        if utt in first:
            raise AsrkitError(f"{first[utt]!r} and {p!r} both give utterance id {utt!r} (the file name without "
                              f"its extension); decode them in separate runs, or list them in a wav.scp with "
                              f"ids of your own (--wav-scp)")
        first[utt] = p
        ids.append(utt)
    return ids


def from_feats(rspecifier: str, utt_ids: Optional[Sequence[str]] = None) -> Iterator[Item]:
    """Features already computed (``scp:dump/test/feats.scp``, ``ark:...``); a bad scp entry is
    an item with its error (the others still decode), a malformed or duplicate line is fatal."""
    import numpy as np

    from asrkit.data.specifier import iter_matrices, load_scp, parse_rspecifier, read_matrix

    if utt_ids is None:
        for key, mat, err in iter_matrices(rspecifier):
            yield key, (np.asarray(mat) if mat is not None else None), err
        return
    spec = parse_rspecifier(rspecifier)
    if spec.scp is None:
        raise AsrkitError(f"--utt-ids needs random access: give --feats as scp:..., not {rspecifier!r}")
    loader = load_scp(rspecifier)
    for utt in utt_ids:
        if utt not in loader:
            yield utt, None, AsrkitError(f"utterance {utt!r}: not in {spec.scp}")
            continue
        try:
            yield utt, np.asarray(read_matrix(loader, utt, spec.scp)), None
        except AsrkitError as e:
            yield utt, None, e


def from_wav_scp(wav_rspecifier: str, featurize: Featurize, segments: Optional[str] = None,
                 utt_ids: Optional[Sequence[str]] = None, channel: Optional[int] = None,
                 max_samples: int = DEFAULT_MAX_SAMPLES, entries=None) -> Iterator[Item]:
    """``entries``: the wav.scp read already (:func:`asrkit.features.wav_scp.read_wav_scp`), else read here."""
    from asrkit.features.wav_scp import iter_wavs, read_wav_scp

    if entries is None:
        entries = read_wav_scp(wav_rspecifier, segments, channel=channel, max_samples=max_samples)
    by_id = {e.utt_id: e for e in entries}
    keep, missing = _select([e.utt_id for e in entries], utt_ids, wav_rspecifier)
    # With --segments the utterances are its segments: "not in wav.scp" named the wrong file, and
    # for a recording's id, one that wav.scp does hold.
    recordings = {e.reco_id for e in entries} if segments else set()
    for utt in missing:
        where = (f"not in {segments} (with --segments the utterances are its segments; {utt!r} is a recording of "
                 f"{wav_rspecifier})" if utt in recordings else f"not in {segments}") if segments \
            else f"not in {wav_rspecifier}"
        yield utt, None, AsrkitError(f"utterance {utt!r}: {where}")
    for entry, audio, err in iter_wavs([by_id[u] for u in keep]):
        item = _featurize(entry.utt_id, audio, err, featurize, entry.what)
        del audio  # (see from_wav_files)
        yield item


def data_dir_hint(path: str) -> Optional[str]:
    """For a folder holding a wav.scp (a Kaldi data dir), the options that decode it; else None."""
    if not os.path.isdir(path) or not os.path.isfile(os.path.join(path, "wav.scp")):
        return None
    base = path.rstrip("/") or "/"
    segments = f" --segments {shlex.quote(base + '/segments')}" if os.path.isfile(os.path.join(path, "segments")) else ""
    return f"decode it with --wav-scp {shlex.quote(base + '/wav.scp')}{segments}"


def _audio_globs(folder: str) -> str:
    """The shell patterns of the audio a folder holds, by extension, most files first (a folder of
    MP3s was told 'folder/*.wav', which matches nothing there); 'folder/*.wav' where it holds none."""
    from collections import Counter

    from asrkit.data.sox import LIBSNDFILE_FORMATS

    found: Counter = Counter()
    try:
        with os.scandir(folder) as entries:
            for entry in itertools.islice(entries, 100000):  # (a huge folder: its first names tell)
                suffix = os.path.splitext(entry.name)[1]
                if suffix.lower() in LIBSNDFILE_FORMATS and entry.is_file():
                    found[suffix] += 1  # (as written: the shell's patterns are case-sensitive)
    except OSError:
        pass
    base = folder.rstrip("/") or "/"
    return " ".join(f"{base}/*{suffix}" for suffix, _ in found.most_common()) or f"{base}/*.wav"


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")  # (https://, s3://...: what no file name starts with)


def from_wav_files(paths: Sequence[str], featurize: Featurize, channel: Optional[int] = None,
                   max_samples: int = DEFAULT_MAX_SAMPLES) -> Iterator[Item]:
    """Audio files; the utterance id is the file name without its extension (:func:`file_utt_ids`)."""
    from asrkit.features.wav import read_wav_source

    for path, utt in zip(paths, file_utt_ids(paths)):
        what = f"utterance {utt!r} ({path})"
        try:
            # A file name, never a command: only a wav.scp's values are Kaldi rxfilenames.
            audio = read_wav_source(path, what, channel=channel, max_samples=max_samples, pipes=False)
        except AsrkitError as e:
            table = _table_hint(path) if "not a recognised audio file" in str(e) else None
            data_dir = data_dir_hint(path) if table is None else None
            missing = str(e).endswith(": no such file")
            if data_dir:  # (asrkit-decode --model m.pt data/test)
                e = AsrkitError(f"{e}: a Kaldi data dir: {data_dir}")
            elif table is None and os.path.isdir(path):  # (asrkit-decode --model m.pt recordings/)
                e = AsrkitError(f"{e}: name its audio files, e.g. {_audio_globs(path)}")
            elif missing and any(c in os.path.basename(path) for c in "*?["):
                # asrkit-decode recordings/*.WAV where the files are *.wav: the shell, matching
                # nothing, passes the pattern itself. (Only here: in a wav.scp no shell was involved.)
                e = AsrkitError(f"{e} (a shell pattern that matched no file: the shell passes it on as it is; "
                                f"check the folder and the extension's case)")
            elif missing and path.rstrip().endswith("|"):
                # asrkit-decode 'sox a.mp3 -t wav - |': Kaldi's command syntax, which a wav.scp's values
                # take, given as an argument, was "no such file" alone.
                e = AsrkitError(f"{e} (a command: audio arguments are file names; a '<command> |' is read from a "
                                f"wav.scp line, '<utterance-id> <command> |', given with --wav-scp)")
            elif missing and _URL.match(path):
                e = AsrkitError(f"{e} (a URL: audio arguments are local files; download it first, or read it "
                                f"through a wav.scp line, '<utterance-id> curl -sfL {shlex.quote(path)} |', given "
                                f"with --wav-scp)")
            yield utt, None, AsrkitError(f"{what}: {table}") if table else e
            continue
        item = _featurize(utt, audio, None, featurize, what)
        # Not held while the item is decoded: this generator waits at its yield meanwhile, and
        # its samples (4 bytes a sample, 230 MB for an hour of 16 kHz) stayed in memory beside
        # their features through the whole decode of a long recording.
        del audio
        yield item


_AUDIO_SUFFIXES = {".wav", ".flac", ".sph", ".mp3", ".ogg", ".opus", ".m4a", ".aif", ".aiff", ".au", ".caf", ".w64"}


def _table_hint(path: str) -> Optional[str]:
    """What to give instead when an "audio file" argument is a Kaldi table: a wav.scp
    (``asrkit-decode --model m.pt data/test/wav.scp``, --wav-scp forgotten), a feats.scp or a
    feature ark, whose skip said "not a recognised audio file ... convert anything else in
    wav.scp", as if the wav.scp given were audio to convert. None for anything else."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return None
    key = head.split(b" ", 1)[0]
    if key and not any(c in key for c in b"\t\n\r\0") and head[len(key) + 1:len(key) + 3] == b"\0B":
        return f"a Kaldi ark of matrices (features?), not an audio file: give it as --feats ark:{path}"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:  # (not merely a character cut at the end of what was read)
            return None
        text = head[:e.start].decode("utf-8")
    rows = [ln.split(None, 1) for ln in text.splitlines()[:-1] or text.splitlines() if ln.strip()][:5]
    if not rows or any(len(r) < 2 for r in rows):
        return None
    values = [r[1].strip() for r in rows]
    if all(re.search(r"\.ark:\d+$", v) for v in values):
        return f"an scp of features, not an audio file: give it as --feats scp:{path}"
    if all(v.endswith("|") or os.path.splitext(v)[1].lower() in _AUDIO_SUFFIXES or os.path.isfile(v)
           for v in values):
        return f"a wav.scp, not an audio file: give it as --wav-scp {path}"
    return None


def resampled_problem(samples: np.ndarray, rate: int, target: int, max_samples: int, hint: str) -> Optional[str]:
    """Why ``samples`` at ``rate`` cannot be resampled to ``target`` Hz within ``max_samples``, or None.

    The read is capped at ``max_samples``, and its resampled copy must be too, as
    asrkit-compute-fbank --resample refuses it: 8 kHz audio under the cap was decoded at twice
    the samples the limit allows (the default 2**28 samples at 4 kHz: 4 GB for their 16 kHz copy),
    and a file that compute-fbank skipped was decoded. Rates too low to resample at all are the
    featurizer's error."""
    from asrkit.features.resample import low_rate_problem, resample_problem

    if rate == target or rate < 1 or low_rate_problem(rate, target, "") is not None:
        return None
    return resample_problem(len(samples), rate, target, max_samples, "the model's", limit_hint=hint)


def _capped(featurize: Featurize, target: int, max_samples: int) -> Featurize:
    def run(samples: np.ndarray, rate: int, utt: str) -> np.ndarray:
        problem = resampled_problem(samples, rate, target, max_samples, "--max-samples; ")
        if problem is not None:
            raise AsrkitError(f"utterance {utt!r}: {problem}")
        return featurize(samples, rate, utt)

    return run


def _featurize(utt: str, audio, err, featurize: Featurize, what: str) -> Item:
    """``what``: the utterance and its file, put in place of the bare utterance id in the errors
    of ``featurize`` (which sees samples, not files), so every error names the file at fault."""
    if err is not None:
        return utt, None, err
    samples, rate = audio
    try:
        if samples.size == 0:
            raise AsrkitError(f"{what}: empty audio (no samples)")
        return utt, featurize(samples, rate, utt), None
    except AsrkitError as e:
        message, bare = str(e), f"utterance {utt!r}"
        if message.startswith(bare) and what not in message:
            e = AsrkitError(what + message[len(bare):])
        return utt, None, e
