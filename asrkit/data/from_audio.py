"""A Kaldi data dir from a folder of audio files and their transcripts: a new corpus's stage 0.

Two transcript layouts, the two most corpora come in:

* one transcript file (``transcripts=``) with ``<key> <text>`` lines, where the key is the
  audio file's name without its extension (``a0001``), or its path below the audio folder
  without the extension (``book1/a0001``; needed when two folders hold the same name), or
  either of those with the extension (``a0001.wav``); on a line with a tab, the key ends at
  the first tab, so it may hold spaces (``my take 1<TAB>the text``);
* a text file beside each audio file, same name, another extension (``a0001.wav`` +
  ``a0001.txt``): its whole content, lines joined, is the transcript.

Every audio file below the folder with one of ``extensions`` is taken (recursively, in sorted
order). Utterance ids are ``<speaker>-<path below the folder, '/' as '-', no extension>``, so two
``a0001.wav`` in two folders get two ids, and the speaker prefix keeps utt2spk and spk2utt
sorted alike (Kaldi's rule). Characters other than letters, digits and ``._+-`` (white space
above all) become ``_`` in ids; paths are written as they are. The speaker is one name for
all, the first folder below the audio folder, or group 1 of a regular expression on the path.

Transcripts keep their text (white space collapsed) unless asked: ``case`` upper or lower,
``punctuation="drop"`` (punctuation as word breaks, an apostrophe inside a word kept).

Mono files of a format libsndfile reads (WAV, FLAC, OGG/Vorbis/Opus, MP3 with libsndfile 1.1+,
AIFF, AU, CAF, W64, RF64, NIST SPHERE) go into wav.scp as absolute paths, read in-process (no
external program; a rate other than the fbank config's is then resampled by
``asrkit-compute-fbank --resample``). Files with several channels, other formats and, with
``sample_rate``, every file become ``sox <file> -t wav -r <rate> -c 1 -b 16 - |`` pipes (channels
averaged), which need sox. Without sox, a multi-channel file libsndfile reads has its mono audio
written to ``<out_dir>/mono_wav/<utt>.wav`` (16-bit WAV, what the pipe gives) and named in wav.scp
instead (:func:`asrkit.data.mono_copies.write_mono_copies`).

Nothing is silently lost: an audio file without a transcript, a transcript whose audio is not
there, an empty transcript, a path that cannot be a table line (a line break in it), and a file
of those formats that is empty, has no samples, whose header cannot be read or (WAV) promises more
samples than the file holds (only headers are read), and a recording in a format ``extensions``
leaves out whose transcript is there (no taken file of its name beside it) are
skipped and counted in the report, with their names; more than ``max_skip_ratio`` of them is an
error (as Kaldi's make_fbank.sh fails below 95 % success). A duplicate key in the transcript
file, a key that matches two files, or two files whose ids would be the same are errors.

e.g.::

    >>> report = make_data_dir("/corpora/mine/wav", "data/all",            # doctest: +SKIP
    ...                        transcripts="/corpora/mine/prompts.txt", speaker="mine")
    >>> report.num_utts, report.skipped                                    # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import math
import os
import re
import shlex
import shutil
import stat
from pathlib import Path, PurePosixPath
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from asrkit.data.datadir import dir_problem, speaker_order_break, write_data_dir
from asrkit.data.make_report import (BAD_NAME, BROKEN_LINK, CANNOT_OPEN, COMPRESSED_SPHERE, EMPTY, EMPTY_FILE,
                                     FEW_CHANNELS, NO_AUDIO, NO_SAMPLES, NO_TRANSCRIPT, NOT_A_FILE, NOT_AUDIO,
                                     NOT_REGULAR, NOT_UTF8_NAME, TEXT_WITHOUT_AUDIO, TRANSCRIPT_NOT_A_FILE, TRUNCATED,
                                     UNREADABLE_FOLDER, UNSUPPORTED, MakeReport, has_control_char, is_utf8, nfc, safe_id)
from asrkit.data.mono_copies import (MONO_DIR, MONO_MARKER, missing_folders, place_copies_with_tables,
                                     refuse_foreign_mono_dir, write_mono_copies)
from asrkit.data.sox import (LIBSNDFILE_FORMATS, libsndfile_reads, needs_sox, sox_formats, sox_reads_by_content,
                             wav_scp_entry)
from asrkit.data.table import read_bounded, transcript_problem
from asrkit.data.transcript_files import (has_visible_char, normalise_transcript, not_utf8_kind, read_transcript_file,
                                          utf16_control_problem, utf16_hint, utf16_kind, utf16_read_as_utf8)
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike
from asrkit.utils.logging import get_logger

log = get_logger(__name__)

DEFAULT_EXTENSIONS = ("wav", "flac")
CASES = ("keep", "upper", "lower")
PUNCTUATION = ("keep", "drop")
# Audio a folder may hold in a format --audio-ext leaves out: with its transcript there, it is
# a recording the user meant to train on, not a file to pass over without a word.
_OTHER_AUDIO_SUFFIXES = frozenset(LIBSNDFILE_FORMATS) | {".m4a", ".aac", ".wma", ".amr", ".webm", ".mka"}
# Two files that differ only in their extension (a0001.wav and a0001.flac) have one id and no key
# that tells them apart.
SAME_NAME_ADVICE = ("the same name in two formats (the same recording twice?): keep one, or take one format "
                    "with --audio-ext")


def _audio_info(path: Path) -> Tuple[Optional[str], int]:
    """(why the file cannot be used, or None; its channels) from its header alone, for the formats
    libsndfile reads; (None, 1) for the others, which sox reads later."""
    try:
        st = path.stat()
    except OSError:
        return BROKEN_LINK, 0
    if not stat.S_ISREG(st.st_mode):
        # A FIFO was "empty (0-byte)" (its size), and one of a format sox reads went into wav.scp,
        # where sox waits on it for a writer and the feature job hangs.
        return NOT_REGULAR, 0
    if not libsndfile_reads(PurePosixPath(path.name)):
        return None, 1
    if st.st_size == 0:
        return EMPTY_FILE, 0
    from asrkit.features.containers import CompressedSphere, UnsupportedAudio
    from asrkit.features.wav import audio_file_info, check_wav_file

    try:
        # (not soundfile.info(path): libsndfile took the ._a.mp3 a Mac leaves beside a.mp3 for its
        # resource fork, and every MP3 without an ID3 tag of a zip made on a Mac was "not audio")
        frames, channels = audio_file_info(str(path))
    except OSError:
        # (libsndfile's own errors are RuntimeErrors: an OSError is the open itself) A file the
        # user may not read was "not readable audio (bad or truncated header)".
        return CANNOT_OPEN, 0
    except (RuntimeError, ValueError):  # soundfile.LibsndfileError is a RuntimeError
        # libsndfile's "Unspecified internal error" for a float16 WAV is no broken header: the
        # header check names that encoding, and the report counts it apart from damaged files
        try:
            check_wav_file(str(path), str(path))
        except CompressedSphere:
            return COMPRESSED_SPHERE, 0
        except UnsupportedAudio:
            return UNSUPPORTED, 0
        except (AsrkitError, OSError):
            pass
        return NOT_AUDIO, 0
    # libsndfile reports a cut-off WAV (or OGG) as the shorter audio that is there. asrkit's reader
    # refuses it, but sox (the pipe a multi-channel file, a --sample-rate conversion or a
    # speed-perturbed copy reads it through) takes the fragment without an error, and it would
    # train with the whole transcript: a skip here, as the reader's own header check says. (Before
    # the frame count: an OGG cut mid-page reports 0 frames, and is cut, not empty.)
    try:
        check_wav_file(str(path), str(path))
    except CompressedSphere:
        return COMPRESSED_SPHERE, 0
    except AsrkitError:
        return TRUNCATED, 0
    except OSError:
        return NOT_AUDIO, 0
    if frames <= 0:
        return NO_SAMPLES, 0
    return None, int(channels)


def find_audio(audio_dir: Path, extensions: Sequence[str],
               others: Optional[List[PurePosixPath]] = None, text_ext: Optional[str] = None,
               texts: Optional[List[PurePosixPath]] = None,
               folders: Optional[List[PurePosixPath]] = None,
               unreadable: Optional[List[Tuple[PurePosixPath, str]]] = None) -> List[PurePosixPath]:
    """Paths below ``audio_dir`` (relative, sorted) of the files with one of ``extensions``;
    ``others``, when given, gets the audio files of the other formats (not taken), ``texts`` the
    files with extension ``text_ext`` (any letter case), ``folders`` the directories named
    like a file of ``extensions`` (``u05.wav/``) and ``unreadable`` the folders below it that
    cannot be listed, with the reason. ``audio_dir`` itself unreadable is an AsrkitError.

    macOS's metadata files are left out, with an info line: a zip made on a Mac holds a
    ``__MACOSX/`` folder with a ``._<name>`` beside every file (and copies to FAT or network
    disks leave ``._<name>`` files), which carry the file's Finder attributes, not its audio;
    counted as unreadable audio they would fail a corpus on the skip limit. So are hidden files
    and folders below ``audio_dir`` (a name starting with '.', as ``ls`` and a shell's ``*.wav``
    pass them over), with an info line counting the folders and the hidden files
    that would have been taken: ``.git/`` and ``.AppleDouble/`` (macOS's metadata on network
    disks, ``._<name>`` files that are not audio) were read for audio, while a file named
    ``.wav`` (no extension to Python's ``suffix``) was left out without a word.
    """
    exts = {"." + e.lower().lstrip(".") for e in extensions}
    found = []
    metadata = 0
    hidden: List[str] = []
    # Folder links are followed, each folder read once: a link back up (wav/loop -> .) was
    # followed 40 levels deep, every file counted 40 times, until the system's ELOOP stopped it.
    seen: set = set()
    again: List[PurePosixPath] = []
    def cannot_list(e: OSError) -> None:
        if os.path.realpath(e.filename or audio_dir) == os.path.realpath(audio_dir):
            raise AsrkitError(f"{audio_dir}: cannot read the folder: {e.strerror}")
        if unreadable is not None:
            unreadable.append((PurePosixPath(Path(e.filename).relative_to(audio_dir).as_posix()), e.strerror))

    for root, dirs, files in os.walk(audio_dir, followlinks=True, onerror=cannot_list):
        rel_root = PurePosixPath(Path(root).relative_to(audio_dir).as_posix())
        try:
            st = os.stat(root)
        except OSError:
            st = None
        if st is not None:
            if (st.st_dev, st.st_ino) in seen:
                dirs[:] = []
                again.append(rel_root)
                continue
            seen.add((st.st_dev, st.st_ino))
        hidden.extend(f"{rel_root / d}/" for d in sorted(dirs) if d.startswith("."))
        dirs[:] = [d for d in dirs if not d.startswith(".") and not os.path.isfile(os.path.join(root, d, MONO_MARKER))]
        if "__MACOSX" in dirs:
            dirs.remove("__MACOSX")
            metadata += sum(len(f) for _, _, f in os.walk(Path(root) / "__MACOSX"))
        dirs.sort()
        if folders is not None:
            folders.extend(rel_root / d for d in dirs if Path(d).suffix.lower() in exts)
        for name in sorted(files):
            if name.startswith(".") and not name.startswith("._"):
                suffix = name[name.rfind("."):].lower()  # ('.wav' is all suffix)
                if suffix in exts or suffix in _OTHER_AUDIO_SUFFIXES or (text_ext and suffix == text_ext.lower()):
                    hidden.append(str(rel_root / name))
                continue
            if Path(name).suffix.lower() in exts:
                if name.startswith("._"):
                    metadata += 1
                    continue
                found.append(rel_root / name)
            elif others is not None and Path(name).suffix.lower() in _OTHER_AUDIO_SUFFIXES \
                    and not name.startswith("._"):
                others.append(rel_root / name)
            elif texts is not None and text_ext and Path(name).suffix.lower() == text_ext.lower() \
                    and not name.startswith("._"):
                texts.append(rel_root / name)
    if metadata:
        log.info("left out %d macOS metadata file(s) (__MACOSX/, ._<name>): Finder attributes, not audio", metadata)
    if hidden:
        log.info("left out %d hidden folder(s) and audio or transcript file(s) (a name starting with '.'): %s",
                 len(hidden), ", ".join(hidden[:3]) + (", ..." if len(hidden) > 3 else ""))
    if again:
        log.warning("%s: left out %d folder link(s) leading to a folder read already (a loop, or a second way to "
                    "one folder): %s", audio_dir, len(again),
                    ", ".join(map(str, again[:3])) + (", ..." if len(again) > 3 else ""))
    return found


def _speaker_of(rel: PurePosixPath, speaker: Optional[str], speaker_from_dir: bool,
                speaker_regex: Optional[re.Pattern]) -> str:
    if speaker_from_dir:
        if len(rel.parts) < 2:
            raise AsrkitError(f"{rel}: not in a folder, but the speaker is taken from the first folder "
                              f"(--speaker-from-dir): put it in one, or give --speaker")
        return rel.parts[0]
    if speaker_regex is not None:
        m = speaker_regex.search(str(rel.with_suffix("")))
        if not m or not m.group(1):
            raise AsrkitError(f"{rel}: the speaker pattern {speaker_regex.pattern!r} does not match "
                              f"(its group 1 must match the speaker's part of the path without the extension)")
        return m.group(1)
    return speaker or "spk1"


def _check_output_dir(out_dir: Path, audio_root: Path, transcripts: Optional[PathLike]) -> None:
    """The data dir is not the audio folder, and its tables are not the transcripts read: the
    tables written there (and the other Kaldi tables of an earlier data dir, removed) replaced a
    corpus's own 'text' or 'segments' in place, and --transcripts data/all/text lost the very
    transcripts read (their letter case, with --case)."""
    from asrkit.data.datadir import RECO_TABLES, SPK_TABLES, TABLES, UTT_TABLES

    out = out_dir.resolve()
    if out == audio_root:
        raise AsrkitError(f"{out_dir}: the data dir is the audio folder itself: the tables written there (text, "
                          f"wav.scp...) would replace the corpus's files of those names; give another folder")
    if transcripts is not None:
        names = {"wav.scp", "text", "utt2spk", "spk2utt", *TABLES, *UTT_TABLES, *RECO_TABLES, *SPK_TABLES}
        read = Path(transcripts).resolve()
        if read.parent == out and read.name in names:
            raise AsrkitError(f"{transcripts}: the transcripts read are the data dir's own {read.name!r}, which "
                              f"this run replaces or removes: copy them elsewhere first")


def make_data_dir(audio_dir: PathLike, out_dir: PathLike, transcripts: Optional[PathLike] = None,
                  text_ext: str = "txt", extensions: Sequence[str] = DEFAULT_EXTENSIONS,
                  speaker: Optional[str] = None, speaker_from_dir: bool = False,
                  speaker_regex: Optional[str] = None, sample_rate: Optional[int] = None,
                  case: str = "keep", punctuation: str = "keep", max_skip_ratio: float = 0.05,
                  channel: Optional[int] = None) -> MakeReport:
    """Write ``out_dir``'s wav.scp, text, utt2spk and spk2utt; see the module docstring.
    ``channel``: the channel (0-based) of multi-channel files to take, not their average."""
    audio_dir = Path(audio_dir)
    regex = _check_options(audio_dir, text_ext, extensions, speaker, speaker_from_dir, speaker_regex, sample_rate,
                           case, punctuation, max_skip_ratio)
    audio_root = audio_dir.resolve()
    _check_output_dir(Path(out_dir), audio_root, transcripts)
    report = MakeReport()
    found = _find(audio_dir, audio_root, extensions, transcripts, text_ext, report)
    good, unusable, channels_of = _probe(found.files, audio_root, channel, report)
    copied, why_copied = _choose_readers(good, channels_of, audio_dir, audio_root, Path(out_dir), sample_rate)
    if transcripts is not None:
        text_of, where_of = _texts_from_file(transcripts, audio_dir, audio_root, good, unusable, found, report)
    else:
        text_of, where_of, no_file = _texts_beside(text_ext, audio_dir, audio_root, good, found, report)
        good = [rel for rel in good if rel not in no_file]  # (skipped for their transcript, not "without" one)
    wav_scp, text, utt2spk, source_of = _utterances(good, text_of, where_of, copied, channels_of, audio_dir,
                                                    audio_root, speaker, speaker_from_dir, regex, case, punctuation,
                                                    sample_rate, channel, report)
    _write(out_dir, audio_dir, audio_root, wav_scp, text, utt2spk, source_of, copied, why_copied,
           max_skip_ratio, channel, report)
    return report


def _check_options(audio_dir: Path, text_ext: str, extensions: Sequence[str], speaker: Optional[str],
                   speaker_from_dir: bool, speaker_regex: Optional[str], sample_rate: Optional[int], case: str,
                   punctuation: str, max_skip_ratio: float) -> Optional[re.Pattern]:
    """The options refused before any file is read; the speaker pattern compiled (None without one)."""
    problem = dir_problem(audio_dir)
    if problem:
        raise AsrkitError(f"{audio_dir}: {problem} (the folder holding the audio files)")
    for option, value, what in (("--speaker", speaker, "speaker name"), ("--speaker-regex", speaker_regex, "pattern")):
        if value is not None and not value.strip():
            # ('' was taken as the option not given, every file spk1's, also beside
            # --speaker-from-dir; --speaker ' ' was a speaker '_')
            raise AsrkitError(f"{option} {value!r}: no {what} (a shell variable left empty?)")
    if sum(bool(x) for x in (speaker, speaker_from_dir, speaker_regex)) > 1:
        raise AsrkitError("give one of --speaker, --speaker-from-dir and --speaker-regex")
    if case not in CASES:
        raise AsrkitError(f"--case {case!r}: one of {', '.join(CASES)}")
    if punctuation not in PUNCTUATION:
        raise AsrkitError(f"--punctuation {punctuation!r}: one of {', '.join(PUNCTUATION)}")
    if not 0 <= max_skip_ratio <= 1:
        raise AsrkitError(f"--max-skip-ratio {max_skip_ratio:g}: must be in [0, 1]")
    if not extensions:  # (was "no audio files (looked for *. in it ...)")
        raise AsrkitError("--audio-ext: no extension given (e.g. wav,flac)")
    for ext in extensions:
        # A file's extension is what follows its last dot: 'wav.gz' or '*' matched no file, and the
        # error then said the folder held no audio.
        if not ext.lstrip(".") or any(c in ext.lstrip(".") for c in "./*?[ "):
            raise AsrkitError(f"--audio-ext {ext!r}: an extension is the part of the name after its last dot, "
                              f"without wildcards (e.g. wav,flac)")
    try:  # what _transcript_beside does with it: '', '.' or 'a/b' was a ValueError traceback there
        PurePosixPath("x").with_suffix("." + text_ext.lstrip("."))
    except ValueError:
        raise AsrkitError(f"--text-ext {text_ext!r}: not a file extension (e.g. txt or lab)") from None
    if sample_rate is not None:
        # Decoding refuses audio below this rate, so every utterance of a data dir converted to
        # it (`sox ... -r 1 ...|`) failed later, one at a time.
        from asrkit.features.containers import MAX_SAMPLE_RATE
        from asrkit.features.resample import MIN_SAMPLE_RATE
        if sample_rate < MIN_SAMPLE_RATE:
            raise AsrkitError(f"--sample-rate {sample_rate}: too low to recognise speech (at least "
                              f"{MIN_SAMPLE_RATE} Hz, as asrkit-decode requires)")
        if sample_rate > MAX_SAMPLE_RATE:
            # (every utterance's sox pipe made audio the reader then refused, one at a time)
            raise AsrkitError(f"--sample-rate {sample_rate}: over the {MAX_SAMPLE_RATE} Hz asrkit reads")
    regex = None
    if speaker_regex:
        try:
            regex = re.compile(speaker_regex)
        except re.error as e:
            raise AsrkitError(f"--speaker-regex {speaker_regex!r}: {e}") from None
        if regex.groups < 1:
            raise AsrkitError(f"--speaker-regex {speaker_regex!r}: needs a group, e.g. '^([^/]+)/' or '_(spk\\d+)_'")
    return regex


class _Found(NamedTuple):
    files: List[PurePosixPath]  # the audio taken (--audio-ext)
    others: List[PurePosixPath]  # audio of the other formats with no taken file of its name beside it
    texts: List[PurePosixPath]  # the transcripts beside the audio (without --transcripts)
    folders: List[PurePosixPath]  # directories named like audio files
    other_reason: str  # the skip reason of a recording in another format, with the --audio-ext that takes it


def _find(audio_dir: Path, audio_root: Path, extensions: Sequence[str], transcripts: Optional[PathLike],
          text_ext: str, report: MakeReport) -> _Found:
    """The files below the audio folder; no audio to take, or a folder path no wav.scp can hold, is an error."""
    others: List[PurePosixPath] = []
    texts: List[PurePosixPath] = []
    folders: List[PurePosixPath] = []
    text_suffix = None if transcripts is not None else "." + text_ext.lstrip(".")
    unreadable: List[Tuple[PurePosixPath, str]] = []
    files = find_audio(audio_root, extensions, others, text_suffix, texts, folders, unreadable)
    report.num_audio = len(files)
    for rel, why in unreadable:
        report.skip(UNREADABLE_FOLDER, f"{rel}/ ({why})")
    # A recording in a format --audio-ext leaves out (a.ogg among wav and flac) whose transcript is
    # there is counted as a skip that says how to take it: passed over, the .txt beside it was
    # never looked at, and a third of a corpus could go missing without a word.
    taken_stems = {r.with_suffix("") for r in files}
    others = [r for r in others if r.with_suffix("") not in taken_stems]
    other_exts = sorted({r.suffix.lower().lstrip(".") for r in others})
    take_all = ",".join(list(extensions) + [e for e in other_exts if e not in {x.lower() for x in extensions}])
    other_reason = (f"audio in a format --audio-ext {','.join(extensions)} does not take (to take it: "
                    f"--audio-ext {take_all})")
    if not files:
        held = f"; it holds {len(others)} *.{', *.'.join(other_exts)} file(s): --audio-ext {take_all}" if others else ""
        if folders:  # (a folder named u05.wav was taken for no audio at all, unnamed)
            shown = ", ".join(f"{f}/" for f in folders[:3]) + (" ..." if len(folders) > 3 else "")
            held += f"; {shown} {'is a folder, not an audio file' if len(folders) == 1 else 'are folders, not audio files'}"
        raise AsrkitError(f"{audio_dir}: no audio files (looked for *.{', *.'.join(extensions)} in it and its "
                          f"folders; see --audio-ext{held})")
    if not is_utf8(str(audio_root)):
        raise AsrkitError(f"{audio_dir!r}: the folder's path is not UTF-8, so no wav.scp can name its files: "
                          f"rename it or link it from a UTF-8 path")
    if has_control_char(str(audio_root)):  # (a line break in it cut every wav.scp line in two, exit 0)
        raise AsrkitError(f"{str(audio_dir)!r}: the folder's path holds a line break or control character, which no "
                          f"wav.scp line can hold (the path as links resolve): rename it")
    return _Found(files, others, texts, folders, other_reason)


def _probe(files: List[PurePosixPath], audio_root: Path, channel: Optional[int],
           report: MakeReport) -> Tuple[List[PurePosixPath], List[PurePosixPath], Dict[PurePosixPath, int]]:
    """(the files to use, those skipped for their name or what they hold, each probed file's channels)."""
    good: List[PurePosixPath] = []
    unusable: List[PurePosixPath] = []  # skipped for what the file holds: their transcripts are not "without audio"
    channels_of: Dict[PurePosixPath, int] = {}
    for rel in files:
        # (each of these is unusable too: its line in --transcripts was a second skip, "transcript
        # without audio", and three broken links of 100 files failed --max-skip-ratio 0.05 as 6 of 103)
        if not is_utf8(str(rel)):
            report.skip(NOT_UTF8_NAME, ascii(str(rel)))
            unusable.append(rel)
        elif has_control_char(str(rel)):
            report.skip(BAD_NAME, repr(str(rel)))
            unusable.append(rel)
        elif not (audio_root / rel).exists():
            report.skip(BROKEN_LINK, str(rel))
            unusable.append(rel)
        else:
            problem, channels_of[rel] = _audio_info(audio_root / rel)
            if not problem and channel is not None and 1 < channels_of[rel] <= channel:
                # (a mono file has one channel to take: it is used as it is)
                problem = FEW_CHANNELS
            if problem:
                report.skip(problem, str(rel))
                unusable.append(rel)
            else:
                good.append(rel)
    return good, unusable, channels_of


def _choose_readers(good: List[PurePosixPath], channels_of: Dict[PurePosixPath, int], audio_dir: Path,
                    audio_root: Path, out_dir: Path, sample_rate: Optional[int]) -> Tuple[set, str]:
    """(the files to copy as mono into the data dir, why); the others are read in-process or piped
    through sox. A pipe that no sox, or no handler of the installed sox, reads is an error."""
    piped = [r for r in good if needs_sox(r, sample_rate, channels_of[r])]
    # Without sox, a multi-channel file libsndfile reads gets a mono copy in the data dir instead
    # of its pipe (write_mono_copies); converting formats or rates still needs sox.
    copied = set()
    why_copied = "sox not on PATH"
    no_sox = bool(piped) and shutil.which("sox") is None
    if no_sox and sample_rate is None:
        copied = {r for r in piped if libsndfile_reads(r)}
        piped = [r for r in piped if r not in copied]
    if piped and no_sox:
        first = piped[0]
        pipes = "through 'sox ... |' pipes in wav.scp"
        # (a multi-channel file libsndfile reads is copied as mono above, unless --sample-rate)
        why = (f"--sample-rate {sample_rate} converts every file {pipes}" if sample_rate else
               f"{len(piped)} file(s) are in a format libsndfile does not read (first: {first}), read {pipes}")
        # (where libsndfile reads every file, the rate needs no sox: "convert the files to mono WAV"
        # sent a corpus of mono WAVs at 44.1 kHz after a conversion it did not need)
        fix = ("leave --sample-rate out: asrkit-compute-fbank --resample converts the rate in-process "
               "(./run.sh --fbank-args --resample)" if sample_rate and all(libsndfile_reads(r) for r in piped) else
               "convert the files to mono WAV or FLAC")
        raise AsrkitError(f"sox not found on PATH: {why} (install it, e.g. apt-get install sox, or {fix})")
    # sox without its MP3 (or other) handler fails every such pipe at feature extraction, after
    # the data dir looked fine: a stereo MP3 corpus lost a fifth of its training set in stage 1.
    known = sox_formats() if piped else None
    unread = [r for r in piped if known is not None and r.suffix.lower().lstrip(".") not in known]
    # One file of each such extension asked (they are all of one type, as far as sox's choice goes).
    read_anyway = {suffix for suffix in {r.suffix.lower() for r in unread}
                   if sox_reads_by_content(audio_root / next(r for r in unread if r.suffix.lower() == suffix))}
    unread = [r for r in unread if r.suffix.lower() not in read_anyway]
    if sample_rate is None and any(libsndfile_reads(r) for r in unread):
        # (a stereo MP3 where Debian's sox lacks libsox-fmt-mp3: libsndfile reads it, as above)
        kinds = sorted({r.suffix.lower().lstrip(".") for r in unread if libsndfile_reads(r)})
        why_copied = f"the installed sox cannot read *.{', *.'.join(kinds)} (not in 'sox -h' AUDIO FILE FORMATS)"
        copied |= {r for r in unread if libsndfile_reads(r)}
        unread = [r for r in unread if r not in copied]
    if copied:
        refuse_foreign_mono_dir(out_dir / MONO_DIR)
    if unread:
        first = unread[0]
        kinds = sorted({r.suffix.lower().lstrip(".") for r in unread})
        # (a multi-channel file libsndfile reads is copied as mono above, unless --sample-rate)
        why = (f"--sample-rate {sample_rate} converts every file through 'sox ... |' pipes" if sample_rate else
               "files of a format libsndfile does not read go through 'sox ... |' pipes")
        pkg = " (Debian: apt-get install libsox-fmt-mp3)" if "mp3" in kinds else ""
        raise AsrkitError(f"{audio_dir}: the installed sox cannot read *.{', *.'.join(kinds)} (not in 'sox -h' AUDIO "
                          f"FILE FORMATS){pkg}, and {why}: {len(unread)} such file(s), first: {first}; install "
                          f"its handler, or convert them to mono WAV or FLAC")
    return copied, why_copied


def _texts_from_file(transcripts: PathLike, audio_dir: Path, audio_root: Path, good: List[PurePosixPath],
                     unusable: List[PurePosixPath], found: _Found,
                     report: MakeReport) -> Tuple[Dict[PurePosixPath, str], Dict[PurePosixPath, str]]:
    """(each file's transcript, and its file:line for errors) from the one ``--transcripts`` file; a line
    whose audio is not there is skipped, and a key that matches two files or a second line for a file is
    an error."""
    text_of: Dict[PurePosixPath, str] = {}
    where_of: Dict[PurePosixPath, str] = {}
    table = read_transcript_file(Path(transcripts))
    # A key that is a path below the folder names one file; a bare name may name several.
    by_path: Dict[str, List[PurePosixPath]] = {}
    by_name: Dict[str, List[PurePosixPath]] = {}
    # A key's extension matches in any case, as --audio-ext's does: 'A.wav' in the transcripts
    # for A.WAV was a transcript without audio and the audio without a transcript. (Keyed
    # with the extension lower-cased, found by the key's extension lower-cased.)
    for rel in good + unusable:
        lower = rel.with_suffix(rel.suffix.lower())
        for key in {nfc(str(rel.with_suffix(""))), nfc(str(rel)), nfc(str(lower))}:
            by_path.setdefault(key, []).append(rel)
        for key in {nfc(rel.stem), nfc(rel.name), nfc(lower.name)}:
            by_name.setdefault(key, []).append(rel)
    other_keys, folder_keys = _keys_of(found.others), _keys_of(found.folders)
    named_before: set = set()  # the recordings of other formats and folders counted so far
    unmatched: List[str] = []
    for key, (text, lineno) in table.items():
        matches = _lookup(key, by_path, by_name, audio_dir, audio_root)
        if not matches and len(key.split()) > 1 and _lookup(key.split()[0], by_path, by_name, audio_dir, audio_root):
            # 'a0001 YES NO<TAB>GO': the tab is in the transcript, a space ended the key.
            key, rest = key.split(maxsplit=1)
            text, matches = f"{rest} {text}", _lookup(key, by_path, by_name, audio_dir, audio_root)
        if len({m.with_suffix("") for m in matches}) == 1 < len(matches):
            # No path key tells them apart: the advice below would name this very key.
            raise AsrkitError(f"{transcripts}:{lineno}: {key!r} matches {', '.join(map(str, matches))}: "
                              f"{SAME_NAME_ADVICE}")
        if len(matches) > 1:
            raise AsrkitError(f"{transcripts}:{lineno}: {key!r} matches {len(matches)} audio files "
                              f"({', '.join(map(str, matches[:3]))}): use the path below {audio_dir} as the "
                              f"key, e.g. {str(matches[0].with_suffix(''))!r}")
        if not matches:
            other, folder = _named_by(key, other_keys, audio_root), _named_by(key, folder_keys, audio_root)
            if (other or folder) and named_before.issuperset(other or folder):
                # 'y' and 'y.ogg' on two lines name one recording, counted once (it was 2 skips of
                # 2 audio files)
                continue
            named_before.update(other or folder)
            why = found.other_reason if other else NOT_A_FILE if folder else NO_AUDIO
            report.skip(why, f"{key} ({transcripts}:{lineno})")
            if why == found.other_reason:
                report.num_audio += 1  # (an audio file all the same: the Done line's count and the ratio's total)
            if why == NO_AUDIO:
                unmatched.append(key)
            continue
        rel = matches[0]
        if rel in unusable:  # counted once, as its file's problem
            continue
        if rel in text_of:
            raise AsrkitError(f"{transcripts}:{lineno}: {key!r} is a second transcript for {rel}")
        text_of[rel] = text
        where_of[rel] = f"{transcripts}:{lineno}"
    _other_folder_hint(unmatched, [r for r in good if r not in text_of], transcripts)
    return text_of, where_of


_PLAIN_FOLDER = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*")


def _other_folder_hint(keys: List[str], untranscribed: List[PurePosixPath], transcripts: PathLike) -> None:
    """A warning for path keys that name, in one folder of their path, another folder than the
    audio of that name is in. VoxForge's etc/PROMPTS key its lines 'anonymous-2008-xyz/mfc/a0001'
    where the audio is wav/a0001.wav: every line a transcript without audio, every file audio
    without a transcript, and nothing said of why."""
    slots: Dict[Tuple[int, Tuple[str, ...]], List[PurePosixPath]] = {}
    for rel in untranscribed:
        parts = rel.with_suffix("").parts
        for i in range(len(parts) - 1):
            slots.setdefault((i, parts[:i] + parts[i + 1:]), []).append(rel)
    swaps: Dict[Tuple[int, str, str], List[str]] = {}
    for key in keys:
        path = PurePosixPath(key)
        if path.suffix.lower() in _OTHER_AUDIO_SUFFIXES:
            path = path.with_suffix("")
        parts = path.parts
        hits = [(i, rel) for i in range(len(parts) - 1) for rel in slots.get((i, parts[:i] + parts[i + 1:]), [])]
        if len(hits) == 1:
            i, rel = hits[0]
            swaps.setdefault((i, parts[i], rel.parts[i]), []).append(key)
    if not swaps:
        return
    (i, was, now), named = max(swaps.items(), key=lambda kv: len(kv[1]))
    if len(named) * 2 < len(keys):
        return
    fix = ""
    if _PLAIN_FOLDER.fullmatch(was) and _PLAIN_FOLDER.fullmatch(now):
        old, new = was.replace(".", r"\."), now
        sed = (f"s|^{old}/|{new}/|" if i == 0 else f"s|^\\([^[:space:]]*\\)/{old}/|\\1/{new}/|")
        # (not over the file sed reads: PROMPTS joined as prompts.txt, the name the docs give
        # --transcripts, were 'sed ... prompts.txt > prompts.txt', which emptied it first)
        out = "prompts.txt"
        if os.path.realpath(transcripts) == os.path.realpath(out):
            out = "prompts.fixed.txt"
        fix = (f": write them with the audio's folder, sed {shlex.quote(sed)} {shlex.quote(str(transcripts))} > "
               f"{out}, then --transcripts {out}")
    log.warning("%d of the %d keys of %s that name no audio file name folder %r where the audio of that name is "
                "in %r (first: %s; VoxForge's etc/PROMPTS name mfc/ for wav/)%s", len(named), len(keys),
                transcripts, was, now, named[0], fix)


def _lookup(key: str, by_path: Dict[str, List[PurePosixPath]], by_name: Dict[str, List[PurePosixPath]],
            audio_dir: Path, audio_root: Path) -> List[PurePosixPath]:
    """The files a transcript file's key names."""
    # A key as 'find' prints it: './spk1/a0001.wav', or the absolute path of the file.
    path = PurePosixPath(key)
    if path.is_absolute():
        for root in (PurePosixPath(audio_dir.absolute()), PurePosixPath(audio_root)):
            if path.is_relative_to(root) and path != root:
                path = path.relative_to(root)
                break
    key = nfc(str(path) if str(path) != "." else key)
    found = by_path.get(key) or by_name.get(key, [])
    if not found and path.suffix.lower() in _OTHER_AUDIO_SUFFIXES and path.suffix != path.suffix.lower():
        key = nfc(str(path.with_suffix(path.suffix.lower())))
        found = by_path.get(key) or by_name.get(key, [])
    return found


def _keys_of(paths: List[PurePosixPath]) -> Dict[str, List[PurePosixPath]]:
    """Each key a transcript file may name ``paths`` by (with or without the extension, the path
    below the folder or the name), and the paths it names."""
    keys: Dict[str, List[PurePosixPath]] = {}
    for r in paths:
        for k in {nfc(k) for k in (str(r.with_suffix("")), str(r), r.stem, r.name)}:
            keys.setdefault(k, []).append(r)
    return keys


def _named_by(key: str, keys: Dict[str, List[PurePosixPath]], audio_root: Path) -> List[PurePosixPath]:
    """The paths of ``keys`` (:func:`_keys_of`) that a transcript file's key names."""
    path = PurePosixPath(key)
    if path.is_absolute() and path.is_relative_to(PurePosixPath(audio_root)):
        path = path.relative_to(audio_root)
    return keys.get(nfc(str(path)), [])


def _texts_beside(text_ext: str, audio_dir: Path, audio_root: Path, good: List[PurePosixPath], found: _Found,
                  report: MakeReport) -> Tuple[Dict[PurePosixPath, str], Dict[PurePosixPath, str], set]:
    """(each file's transcript, its file for errors, and the audio files whose transcript name is no
    file, skipped here) from the text file beside it; a text file without its audio is skipped, and
    no transcript at all is an error."""
    text_of: Dict[PurePosixPath, str] = {}
    where_of: Dict[PurePosixPath, str] = {}
    ext = "." + text_ext.lstrip(".")
    names_in: Dict[Path, Dict[str, List[str]]] = {}
    # A corpus saved on Windows has every transcript in UTF-16, not one: naming only the first,
    # the error came back for the next after each conversion, one file a run.
    not_utf8: List[Tuple[Path, str, Tuple[str, str]]] = []  # (file, problem, its not_utf8_kind)
    no_file: set = set()
    audio_in: Dict[Path, Tuple[set, set]] = {}  # folder: (its audio files' stems, their names)
    for r in found.files + found.others:
        stems, names = audio_in.setdefault(audio_root / r.parent, (set(), set()))
        stems.add(r.stem)
        names.add(r.name)
    for rel in good:
        beside = _transcript_beside(audio_root / rel, ext, names_in, audio_in)
        if beside is None:
            odd = _transcript_not_a_file(audio_root / rel, ext, names_in)
            if odd is not None:
                report.skip(TRANSCRIPT_NOT_A_FILE, f"{rel.parent / odd} (beside {rel})")
                no_file.add(rel)
        else:
            try:
                raw = read_bounded(beside)
            except OSError as e:
                raise AsrkitError(f"{beside}: cannot read: {e.strerror}") from None
            try:
                # (its line ends, \r\n or \r, are white space that normalise_transcript collapses)
                text_of[rel] = raw.decode("utf-8-sig")
                where_of[rel] = str(beside)
                order = utf16_read_as_utf8(raw, text_of[rel])
                if order:
                    # (UTF-16 of ASCII, Cyrillic, most CJK is valid UTF-8 byte for byte: it was
                    # refused as 'a terminal escape or a damaged transcript', with no conversion)
                    del text_of[rel], where_of[rel]
                    not_utf8.append((audio_dir / rel.parent / beside.name, utf16_control_problem(raw),
                                     utf16_kind(order)))
            except UnicodeDecodeError as e:
                # (named under the folder as the user gave it, as the listing of the others is)
                not_utf8.append((audio_dir / rel.parent / beside.name, f"not UTF-8 text ({e.reason} at byte {e.start})",
                                 not_utf8_kind(raw)))
    if not_utf8:
        raise AsrkitError(_not_utf8_error(not_utf8, len(text_of) + len(not_utf8)))
    _drop_sample_ranges(text_of, audio_root)
    for rel in found.others:
        if _transcript_beside(audio_root / rel, ext, names_in, audio_in) is not None:
            report.skip(found.other_reason, str(rel))
            report.num_audio += 1
    # Only the audio's transcripts were looked for, so one whose audio is missing (or is a
    # directory) was dropped without a word, where --transcripts counts its line: counted alike.
    audio_names = {(r.parent, r.stem.lower()) for r in found.files + found.others}
    by_whole_name: Dict[Tuple[PurePosixPath, str], List[PurePosixPath]] = {}
    for r in found.files + found.others:
        by_whole_name.setdefault((r.parent, r.name.lower()), []).append(r)
    folder_of = {(r.parent, r.stem.lower()): r for r in found.folders}

    def takes(audio: PurePosixPath, text: PurePosixPath) -> bool:
        try:
            return _transcript_beside(audio_root / audio, ext, names_in, audio_in) == audio_root / text
        except AsrkitError:  # (two transcripts beside an audio file skipped for what it holds)
            return False

    for t in found.texts:
        name = (t.parent, t.stem.lower())
        # a0001.wav.txt is a0001.wav's when that file takes it, not an a0001.txt read first. (Told
        # by any a0001.txt there, A.txt beside A.wav and a.wav made a.wav.txt, which a.wav takes,
        # a "text file with no audio" too: counted twice.)
        if any(takes(r, t) for r in by_whole_name.get(name, ())):
            continue
        if name not in audio_names:
            if name in folder_of:
                report.skip(NOT_A_FILE, f"{folder_of[name]}/ (beside {t})")
            else:
                report.skip(TEXT_WITHOUT_AUDIO, str(t))
    # Every audio file skipped for what it holds or its name: where their transcripts are there,
    # "none of its 0 audio files has a <name>.txt" sent the user after them, and the counts check
    # names the skips instead; where none is, the advice on where transcripts go still fits.
    # So are transcripts that are no file (a corpus copied without its links' targets: every .txt a
    # dangling link), where "none of its 4 audio files has a <name>.txt beside it" was said of them.
    taken = set(good)
    skipped = [rel for rel in found.files if rel not in taken]
    if not text_of and not no_file and (good or not found.files
                        or all(_transcript_beside(audio_root / rel, ext, names_in, audio_in) is None
                               for rel in skipped)):
        counted = f"{len(good)} audio files" if good else f"{len(skipped)} audio files (skipped, reasons above)"
        if not good:
            _log_report(report)  # (the reasons the error points to)
        raise AsrkitError(f"{audio_dir}: no transcripts: none of its {counted} has a "
                          f"<name>{ext} beside it (other extension: --text-ext; one file of '<name> <text>' "
                          f"lines: --transcripts){_unmatched_texts_hint(audio_dir, found.texts, ext, found.files)}"
                          f"{_table_files_hint(audio_dir)}")
    return text_of, where_of, no_file


def _table_files_hint(audio_dir: Path) -> str:
    """For the no-transcripts error: a .csv or .tsv at the top of the audio folder or beside it, which
    may hold them. LJSpeech is wavs/ and metadata.csv: 'none of its 13100 audio files has a
    <name>.txt beside it' said nothing of the file that holds every transcript."""
    tables: List[Path] = []
    for folder in (audio_dir, audio_dir.parent):
        try:
            tables += sorted(folder / e.name for e in os.scandir(folder)
                             if e.name.lower().endswith((".csv", ".tsv")) and e.is_file())
        except OSError:
            pass
        if tables:
            break
    if not tables:
        return ""
    shown = ", ".join(shlex.quote(str(t)) for t in tables[:3]) + (" ..." if len(tables) > 3 else "")
    return (f"; {shown} {'is' if len(tables) == 1 else 'are'} there: if it holds the transcripts (LJSpeech's "
            f"metadata.csv, Common Voice's validated.tsv), give it as --transcripts {shlex.quote(str(tables[0]))}, "
            f"which names the command converting it where its lines are not '<name> <text>'")


# TIMIT's SX1.TXT is '0 46797 She had your dark suit ...': the sentence's first and last sample
# in SX1.WAV, then its words. Read as a transcript, every utterance trained and scored with two
# numbers in front of its words, without a word said. The two are taken for such a range only
# where the second is the audio's length (within 2 %), which no transcript's spoken numbers are.
# ASCII digits, at most 15 (a sample count): int() refuses a number of over 4300 digits, and a
# transcript '0 <5000 nines> ...' was a ValueError traceback.
_SAMPLE_RANGE = re.compile(r"\s*([0-9]{1,15})\s+([0-9]{1,15})\s+(?=\S)")
SAMPLE_RANGE_TOLERANCE = 0.02


def _drop_sample_ranges(text_of: Dict[PurePosixPath, str], audio_root: Path) -> None:
    """Leave out of each transcript a leading '<first sample> <last sample>' of its own audio
    (TIMIT's .TXT), counted in an info line."""
    from asrkit.features.wav import audio_file_info

    dropped = []
    for rel, text in text_of.items():
        m = _SAMPLE_RANGE.match(text)
        if not m or int(m.group(1)) >= int(m.group(2)) or not libsndfile_reads(rel):
            continue
        try:
            frames, _ = audio_file_info(str(audio_root / rel))
        except (OSError, RuntimeError, ValueError):
            continue
        if abs(int(m.group(2)) - frames) <= SAMPLE_RANGE_TOLERANCE * frames:
            text_of[rel] = text[m.end():]
            dropped.append(rel)
    if dropped:
        log.info("%d transcript(s) began with their audio's sample range, '<first> <last> <words>' (TIMIT's .TXT; "
                 "first: %s): the two numbers are left out of the text", len(dropped), dropped[0])


def _not_utf8_error(not_utf8: List[Tuple[Path, str, Tuple[str, str]]], total: int) -> str:
    """The one error for transcripts beside the audio that are not UTF-8 ((file, problem, its
    :func:`not_utf8_kind`), each file's bytes read for what they are once): the first's problem and
    advice as one file alone gets it, then every such file grouped by what it is, each group with
    its own iconv (one command for them all converted a Latin-1 file as UTF-16, into garbage)."""
    first, problem, kind = not_utf8[0]
    message = f"{first}: {problem}{utf16_hint(kind)}"
    if len(not_utf8) == 1:
        return message
    groups: Dict[Tuple[str, str], List[Path]] = {}
    for path, _, kind in not_utf8:
        groups.setdefault(kind, []).append(path)
    parts = []
    for (kind, iconv), paths in groups.items():
        shown = " ".join(shlex.quote(str(p)) for p in paths[:5]) + (" ..." if len(paths) > 5 else "")
        # (not told apart from 8-bit text: UTF-16 of CJK without a space or line end, say)
        what = f"{kind}, convert with {iconv}" if kind else \
            f"encoding unknown (find it with `file -i F`), if Latin-1 or Windows-1252 convert with {iconv}"
        parts.append(f"{len(paths)} {what}: {shown}")
    return (f"{message}; {len(not_utf8)} of the {total} transcripts beside the audio are not UTF-8, "
            f"each to be converted as what it is: " + "; ".join(parts))


def _unmatched_texts_hint(audio_dir: Path, texts: List[PurePosixPath], ext: str,
                          audio: Sequence[PurePosixPath] = ()) -> str:
    """For the no-transcripts error: the text files that are there, named after no audio file, and
    how to give them as --transcripts. LibriSpeech's <speaker>-<chapter>.trans.txt (one per
    chapter, '<id> <text>' lines) were only skipped as transcripts without audio."""
    if not texts:
        return ""
    names = sorted(str(t) for t in texts)
    # VCTK's txt/p225/p225_001.txt holds the words of wav48/p225/p225_001.wav: named after the
    # audio, in another folder. Joined as '<name> <text>' lines, as the advice below says, each
    # transcript's first word became its key.
    stems = {a.stem.lower() for a in audio}
    elsewhere = sorted(str(t) for t in texts if t.stem.lower() in stems)
    if len(elsewhere) * 2 >= len(texts):
        folder = shlex.quote(str(audio_dir))
        pattern = shlex.quote("*" + ext)
        return (f"; its {len(names)} {ext} file(s) ({elsewhere[0]}, ...) are named after audio files in another "
                f"folder (VCTK's txt/ beside wav48/): write them as one file of '<name><TAB><text>' lines and "
                f"give that: find {folder} -iname {pattern} | while IFS= read -r f; do printf '%s\\t%s\\n' "
                f"\"$(basename \"$f\" | sed 's/\\.[^.]*$//')\" \"$(tr '\\r\\n' '  ' < \"$f\")\"; done > prompts.txt; "
                f"then --transcripts prompts.txt")
    if len(names) == 1:
        how = f"give it as --transcripts {shlex.quote(str(audio_dir / names[0]))}"
    else:
        librispeech = all(n.lower().endswith(".trans" + ext.lower()) for n in names)
        pattern = f"*.trans{ext}" if librispeech else f"*{ext}"
        how = (f"join them into one and give that: find {shlex.quote(str(audio_dir))} -name {shlex.quote(pattern)} "
               f"-exec cat {{}} + > prompts.txt; then --transcripts prompts.txt")
    return (f"; its {len(names)} {ext} file{'s' if len(names) > 1 else ''} ({names[0]}"
            f"{', ...' if len(names) > 1 else ''}) {'are' if len(names) > 1 else 'is'} named after no audio file: "
            f"if {'they hold' if len(names) > 1 else 'it holds'} '<name> <text>' lines (LibriSpeech's "
            f"<speaker>-<chapter>.trans.txt), {how}")


def _transcript_beside(audio: Path, ext: str, names_in: Dict[Path, Dict[str, List[str]]],
                       audio_in: Dict[Path, Tuple[set, set]]) -> Optional[Path]:
    """The transcript file beside ``audio``, or None; ``names_in`` caches each folder's names by
    their lower case, ``audio_in`` gives each folder's audio files' stems and names."""
    # The audio extension is matched in any case (A.WAV), and so is the transcript's:
    # A.TXT beside A.WAV (a corpus from Windows or a camera) was "audio without a
    # transcript" with the transcript right there. a.wav.txt (some tools' naming) was too.
    exact = audio.with_suffix(ext)
    whole = audio.parent / (audio.name + ext)
    if audio.parent not in names_in:
        folder: Dict[str, List[str]] = {}
        try:
            for entry in os.scandir(audio.parent):
                folder.setdefault(entry.name.lower(), []).append(entry.name)
        except OSError:
            pass
        names_in[audio.parent] = folder
    stems, names = audio_in.get(audio.parent, (set(), set()))

    def beside(name: str, mine: str, recordings: set) -> List[Path]:
        # A.wav and a.wav (two files here), each with its own A.txt and a.txt: a transcript named
        # in another recording's letter case is that one's. A.wav took both ("two transcripts
        # beside it: keep one", which lost a recording's transcript), and a.wav beside A.wav and
        # A.txt alone took A.wav's. (What --text-ext leaves of the name, which may hold a dot:
        # LibriTTS's A.normalized.txt.)
        return [audio.parent / n for n in names_in[audio.parent].get(name.lower(), [])
                if (audio.parent / n).is_file() and (n[:len(n) - len(ext)] == mine
                                                     or n[:len(n) - len(ext)] not in recordings)]

    found = beside(exact.name, audio.stem, stems)
    if not found:
        # The exact stem's first, as before: a0001.wav.txt beside a0001.txt (whisper.cpp's
        # -otxt output beside a corpus's own) stays a text file with no audio, counted.
        found = beside(whole.name, audio.name, names)
    for candidate in (exact, whole):
        if not found and candidate.is_file():  # a folder that cannot be listed, but read
            return candidate
    if len(found) > 1:
        case = ", their names differing only in letter case" if len({f.name.lower() for f in found}) == 1 else ""
        raise AsrkitError(f"{audio}: two transcripts beside it ({', '.join(sorted(f.name for f in found))})"
                          f"{case}: keep one")
    return found[0] if found else None


def _transcript_not_a_file(audio: Path, ext: str, names_in: Dict[Path, Dict[str, List[str]]]) -> Optional[str]:
    """The name of an entry beside ``audio`` named as its transcript that is no regular file (a
    broken link, a folder, a FIFO), when no transcript file is there; ``names_in`` as
    :func:`_transcript_beside` filled it."""
    for name in (audio.with_suffix(ext).name, audio.name + ext):
        for entry in names_in.get(audio.parent, {}).get(name.lower(), []):
            if not (audio.parent / entry).is_file():
                return entry
    return None


def _utterances(good: List[PurePosixPath], text_of: Dict[PurePosixPath, str], where_of: Dict[PurePosixPath, str],
                copied: set, channels_of: Dict[PurePosixPath, int], audio_dir: Path, audio_root: Path,
                speaker: Optional[str], speaker_from_dir: bool, regex: Optional[re.Pattern], case: str,
                punctuation: str, sample_rate: Optional[int], channel: Optional[int], report: MakeReport
                ) -> Tuple[Dict[str, str], Dict[str, str], Dict[str, str], Dict[str, PurePosixPath]]:
    """(wav.scp, text, utt2spk, each utterance's file): a file without a transcript or with an empty
    one is skipped; two files or speakers with one id, or damaged text, are errors. A file to copy
    has an empty wav.scp entry until its copy is written."""
    wav_scp: Dict[str, str] = {}
    text: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    source_of: Dict[str, PurePosixPath] = {}
    speaker_names: Dict[str, str] = {}  # speaker id -> the name it was made from
    kept: List[Tuple[PurePosixPath, str, str, str, Optional[str]]] = []  # (file, words, speaker, id, stem's id)
    for rel in good:
        if rel not in text_of:
            report.skip(NO_TRANSCRIPT, str(rel))
            continue
        words = normalise_transcript(text_of[rel], case, punctuation)
        if not has_visible_char(words):
            report.skip(EMPTY, str(rel))
            continue
        name = _speaker_of(rel, speaker, speaker_from_dir, regex)
        spk = safe_id(nfc(name))
        # Folders 'alice smith' and 'alice_smith' are two speakers: one id would silently merge
        # them (and a by-speaker held-out set would draw them as one).
        if speaker_names.setdefault(spk, name) != name:
            raise AsrkitError(f"{audio_dir}: speakers {speaker_names[spk]!r} and {name!r} would both be speaker "
                              f"{spk!r} (ids replace characters other than letters, digits and ._+- by _): "
                              f"rename one")
        plain = "-".join(rel.with_suffix("").parts)
        utt = safe_id(nfc(plain))
        report.mapped_ids += utt != plain
        if not (utt == spk or utt.startswith(spk + "-")):
            utt = f"{spk}-{utt}"
        # A file whose name repeats its folders (LibriSpeech's 100/2001/100-2001-0000.flac) is its
        # own id, as in Kaldi's LibriSpeech recipe: the folders joined on gave 100-2001-100-2001-0000.
        # Only the whole folder path counts, so the id is a function of the file's path alone (a
        # name that merely starts with its speaker, sess1/alice-001, keeps its folders).
        stem = safe_id(nfc(rel.stem))
        own = None
        if len(rel.parts) > 1 and stem.startswith(safe_id(nfc("-".join(rel.parts[:-1]))) + "-"):
            own = stem if stem == spk or stem.startswith(spk + "-") else f"{spk}-{stem}"
        kept.append((rel, words, spk, utt, own))
    # Where that id is another file's too (100/2001-0000.flac beside 100/2001/100-2001-0000.flac:
    # distinct ids before), the name keeps its folders, as before.
    claimed: Dict[str, int] = {}
    for _, _, _, utt, stem in kept:
        for one in {utt, stem} - {None}:
            claimed[one] = claimed.get(one, 0) + 1
    shared = 0
    for rel, words, spk, utt, stem in kept:
        if stem is not None:
            if claimed[stem] == 1:
                utt = stem
            else:
                shared += 1
        if utt in source_of:
            if source_of[utt].with_suffix("") == rel.with_suffix(""):
                raise AsrkitError(f"{audio_dir}: {source_of[utt]} and {rel} would both be utterance {utt!r}: "
                                  f"{SAME_NAME_ADVICE}")
            raise AsrkitError(f"{audio_dir}: {source_of[utt]} and {rel} would both be utterance {utt!r} "
                              f"(ids replace characters other than letters, digits and ._+- by _): rename one")
        why = transcript_problem(words)
        if why:
            # Damaged text, as a line that is not UTF-8 is: fixed at its source, not trained on.
            raise AsrkitError(f"{where_of[rel]}: {why} in the transcript of {utt!r}")
        source_of[utt] = rel
        wav_scp[utt] = "" if rel in copied else wav_scp_entry(audio_root / rel, sample_rate, channels_of[rel], channel)
        text[utt] = words
        utt2spk[utt] = spk
    if shared:
        log.info("%d file(s) whose names repeat their folders keep the folders in their ids: the name alone is "
                 "another file's id too", shared)
    pair = speaker_order_break(utt2spk)
    if pair is not None:
        # (a data dir Kaldi's validate_data_dir.sh refuses: 'utt2spk is not in sorted order when
        # sorted first on speaker-id'; ids made otherwise would no longer be <speaker>-<path>)
        (first, spk_a), (then, spk_b) = ((u, utt2spk[u]) for u in pair)
        raise AsrkitError(f"{audio_dir}: speakers {speaker_names[spk_a]!r} and {speaker_names[spk_b]!r} clash: "
                          f"utterance {then!r} ({spk_b!r}) sorts after {first!r} ({spk_a!r}), their speakers the "
                          f"other way, an order Kaldi's validate_data_dir.sh refuses (one speaker id is the other "
                          f"and then '-' or '+'): rename one of them (e.g. {spk_a!r} as "
                          f"{spk_a.replace('-', '_').replace('+', '_')!r})")
    return wav_scp, text, utt2spk, source_of


def _write(out_dir: PathLike, audio_dir: Path, audio_root: Path, wav_scp: Dict[str, str], text: Dict[str, str],
           utt2spk: Dict[str, str], source_of: Dict[str, PurePosixPath], copied: set, why_copied: str,
           max_skip_ratio: float, channel: Optional[int], report: MakeReport) -> None:
    """The mono copies and the tables put in place, after the skip counts are logged; too many skips
    is an error, and a run that fails removes what it made."""
    to_copy = {utt: audio_root / rel for utt, rel in source_of.items() if rel in copied}
    # (num_audio holds the audio of other formats counted as skipped: the Done line says "out of" it)
    total = report.num_audio + sum(len(report.skipped.get(r, [])) for r in (NO_AUDIO, NOT_A_FILE))
    copies = None  # (the filled temporary folder, what goes where) until it is put in place
    # The folders this run makes, DATA-DIR and the parents it lacks (nd/sub for nd/sub/all), deepest
    # first: a run that fails removes them again (a full disk on the first copy left nd/sub/ there).
    created = missing_folders(Path(out_dir))
    written = False
    folder = Path(out_dir) / MONO_DIR
    # (the counts first: a corpus refused anyway is not read whole for its copies)
    problem = _counts_problem(audio_dir, wav_scp, total, max_skip_ratio, report)
    try:
        if to_copy and problem is None:
            log.info("%s: writing %d multi-channel file(s) as mono 16-bit WAV (%s) into %s", why_copied,
                     len(to_copy), "their channels' mean" if channel is None else f"channel {channel}", folder)
            copies = write_mono_copies(to_copy, folder, channel, report)
            for utt in to_copy:
                if utt in copies[1]:
                    wav_scp[utt] = wav_scp_entry(Path(copies[1][utt]), None)
                else:
                    del wav_scp[utt], text[utt], utt2spk[utt]
            problem = _counts_problem(audio_dir, wav_scp, total, max_skip_ratio, report)
        report.num_utts = len(wav_scp)
        _log_report(report)
        if problem:
            raise AsrkitError(problem)
        if copies is None:
            write_data_dir(out_dir, wav_scp=wav_scp, text=text, utt2spk=utt2spk)
        else:
            place_copies_with_tables(copies[0], folder, out_dir, wav_scp=wav_scp, text=text, utt2spk=utt2spk)
        written = True
    finally:
        if not written:
            if copies is not None:  # (gone already where it was moved in)
                shutil.rmtree(copies[0], ignore_errors=True)
            for made in created:
                with contextlib.suppress(OSError):  # (not empty: the tables were written after all)
                    os.rmdir(made)


def _counts_problem(audio_dir: Path, wav_scp: Dict[str, str], total: int, max_skip_ratio: float,
                    report: MakeReport) -> Optional[str]:
    """Why the data dir is refused for what was skipped (nothing left, or more than the ratio), or None."""
    if not wav_scp:
        return (f"{audio_dir}: no utterance has both audio and a non-empty transcript "
                f"({report.num_skipped} skipped, reasons above)")
    held = report.num_skipped - len(report.skipped.get(TEXT_WITHOUT_AUDIO, []))
    if held > max_skip_ratio * total:
        return (f"{audio_dir}: {held} of {total} audio files and transcripts skipped "
                f"(reasons above), more than --max-skip-ratio {max_skip_ratio:g}: fix the corpus "
                f"or raise the ratio{_untranscribed_hint(held, total, report)}")
    return None


def _untranscribed_hint(held: int, total: int, report: MakeReport) -> str:
    """When every skip is audio without a transcript: transcripts that cover a chosen part of the
    audio (Common Voice's validated.tsv of its clips/, which holds every clip) were told to "fix
    the corpus", with nothing to fix there and no ratio given."""
    if held != len(report.skipped.get(NO_TRANSCRIPT, [])):
        return ""
    ratio = math.ceil(100 * held / total) / 100
    while held > ratio * total:  # (0.29 * 100 is 28.999...)
        ratio = round(ratio + 0.01, 2)
    which, them = ("it is", "it") if held == 1 else (f"all {held} are", "them")  # (one read "all 1 are")
    return (f"; {which} audio without a transcript: if the transcripts cover a chosen part of the "
            f"audio (Common Voice's validated.tsv of its clips/), --max-skip-ratio {ratio:g} takes {them}")


def _log_report(report: MakeReport) -> None:
    for reason, names in report.skipped.items():
        log.warning("skipped %d: %s: %s%s (all with -v)", len(names), reason, ", ".join(names[:5]),
                    " ..." if len(names) > 5 else "")
        log.debug("%s: %s", reason, ", ".join(names))
    if report.mapped_ids:
        log.info("%d utterance id(s) have characters other than letters, digits and ._+- replaced by _",
                 report.mapped_ids)
