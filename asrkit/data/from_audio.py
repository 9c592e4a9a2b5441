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
instead (:func:`write_mono_copies`).

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
import errno
import functools
import io
import os
import re
import shlex
import shutil
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Sequence, Tuple

from asrkit.data.datadir import dir_problem, write_data_dir
from asrkit.data.table import BOM, no_stdin_data, read_bounded, transcript_problem
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike, names_stdin
from asrkit.utils.logging import get_logger

log = get_logger(__name__)

DEFAULT_EXTENSIONS = ("wav", "flac")
CASES = ("keep", "upper", "lower")
PUNCTUATION = ("keep", "drop")
# Why an item was skipped, as the report and the log name it.
NO_TRANSCRIPT = "audio without a transcript"
NO_AUDIO = "transcript without audio"
# A .txt below the audio folder with no audio of its name: a transcript whose audio is missing,
# or a README. Named and counted, but not held against --max-skip-ratio: a corpus of 20
# recordings and a README.txt would be refused for it.
TEXT_WITHOUT_AUDIO = "text file with no audio of its name beside it (a transcript whose audio is missing, or a README)"
EMPTY = "empty transcript"
BAD_NAME = "file name with a line break or control character"
NOT_UTF8_NAME = "file name that is not UTF-8"
BROKEN_LINK = "broken or looping symbolic link"
EMPTY_FILE = "empty (0-byte) audio file"
FEW_CHANNELS = "file with fewer channels than --channel asks for"
NOT_A_FILE = "audio name that is a directory, not a file"
NOT_REGULAR = "audio name that is a named pipe, device or socket, not a file"
CANNOT_OPEN = "audio file that cannot be opened (no read permission, or an I/O error)"
# A folder os.walk cannot list (no permission): its files were left out without a word.
UNREADABLE_FOLDER = "folder that cannot be read, its files not looked at"
NOT_AUDIO = "file that is not readable audio (bad or truncated header)"
NO_SAMPLES = "audio file with no samples"
TRUNCATED = "truncated or malformed audio file (header and size disagree)"
UNSUPPORTED = "audio in an encoding libsndfile does not decode (a 16-bit float WAV: write it as 16-bit PCM)"
# (WSJ's .wv1: counted as "not readable audio (bad or truncated header)", a damaged file)
COMPRESSED_SPHERE = "compressed NIST SPHERE (WSJ's shorten: decompress it with Kaldi's sph2pipe -f wav)"
NO_MONO_COPY = "multi-channel file whose mono copy could not be made (the reader's reason in the log)"
# Without sox, a multi-channel file's mono audio (the average, or --channel N) is written here, in
# the data dir, as 16-bit WAV: the same audio the sox pipe gives, read alike by every asrkit
# command and every Kaldi tool. A plain path to the stereo file would not do: asrkit-compute-fbank
# (and training from audio) refuse multi-channel audio unless given --channel, which cannot say
# "average", and Kaldi's compute-fbank-feats takes channel 0 of it (and no FLAC or MP3 at all).
MONO_DIR = "mono_wav"
# In MONO_DIR: the folder is make-data-dir's to replace on the next run (a folder of that name
# without it is the user's, never replaced), and find_audio leaves it out (a data dir made inside
# the audio folder had its own copies taken for corpus audio on the next run).
MONO_MARKER = ".asrkit-make-data-dir"
# Extensions and the libsndfile format that reads them. A file of these goes into wav.scp as its
# path (asrkit reads it with libsndfile), its header checked here, so a broken file is a counted
# skip now rather than a failed feature job later. Other extensions go through sox pipes.
_LIBSNDFILE_FORMATS = {".wav": "WAV", ".wave": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG",
                       ".opus": "OGG", ".mp3": "MP3", ".aif": "AIFF", ".aiff": "AIFF", ".au": "AU",
                       ".snd": "AU", ".caf": "CAF", ".w64": "W64", ".rf64": "RF64", ".sph": "NIST",
                       ".nist": "NIST"}
# Audio a folder may hold in a format --audio-ext leaves out: with its transcript there, it is
# a recording the user meant to train on, not a file to pass over without a word.
_OTHER_AUDIO_SUFFIXES = frozenset(_LIBSNDFILE_FORMATS) | {".m4a", ".aac", ".wma", ".amr", ".webm", ".mka"}
_UNSAFE_ID_CHAR = re.compile(r"[^\w.+-]")  # \w: letters and digits of any script, and _
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Two files that differ only in their extension (a0001.wav and a0001.flac) have one id and no key
# that tells them apart.
SAME_NAME_ADVICE = ("the same name in two formats (the same recording twice?): keep one, or take one format "
                    "with --audio-ext")


@dataclass
class MakeReport:
    num_audio: int = 0  # audio files found
    num_utts: int = 0  # utterances written
    skipped: Dict[str, List[str]] = field(default_factory=dict)  # reason -> names
    mapped_ids: int = 0  # ids whose characters were replaced by _

    @property
    def num_skipped(self) -> int:
        return sum(len(v) for v in self.skipped.values())

    def skip(self, reason: str, name: str) -> None:
        self.skipped.setdefault(reason, []).append(name)


def _nfc(text: str) -> str:
    """Unicode's composed form: 'é' typed in a transcript file and the 'e' + accent of a file name
    written on macOS (decomposed) look the same, and are to match (and give the same id)."""
    return unicodedata.normalize("NFC", text)


def safe_id(text: str) -> str:
    """``text`` with every character a Kaldi id should not hold (white space, quotes, /) as ``_``."""
    return _UNSAFE_ID_CHAR.sub("_", text)


def _is_utf8(text: str) -> bool:
    """False for a name Python decoded with surrogate escapes (bytes that are not UTF-8), which
    no UTF-8 table can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _has_control_char(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


@functools.lru_cache(maxsize=1)
def _installed_formats() -> frozenset:
    """The formats the installed libsndfile reads: asked once (it enumerates them on every call)."""
    import soundfile

    return frozenset(soundfile.available_formats())


def libsndfile_reads(path: PurePosixPath) -> bool:
    """Whether the installed libsndfile reads files of ``path``'s extension (MP3 needs 1.1 or later)."""
    return _LIBSNDFILE_FORMATS.get(path.suffix.lower()) in _installed_formats()


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
    counted as unreadable audio they would fail a corpus on the skip limit.
    """
    exts = {"." + e.lower().lstrip(".") for e in extensions}
    found = []
    metadata = 0
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
        dirs[:] = [d for d in dirs if not os.path.isfile(os.path.join(root, d, MONO_MARKER))]
        if "__MACOSX" in dirs:
            dirs.remove("__MACOSX")
            metadata += sum(len(f) for _, _, f in os.walk(Path(root) / "__MACOSX"))
        dirs.sort()
        if folders is not None:
            folders.extend(rel_root / d for d in dirs if Path(d).suffix.lower() in exts)
        for name in sorted(files):
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
    if again:
        log.warning("%s: left out %d folder link(s) leading to a folder read already (a loop, or a second way to "
                    "one folder): %s", audio_dir, len(again),
                    ", ".join(map(str, again[:3])) + (", ..." if len(again) > 3 else ""))
    return found


@functools.lru_cache(maxsize=None)
def sox_formats() -> Optional[frozenset]:
    """The file types the installed sox reads ('AUDIO FILE FORMATS' of ``sox -h``); None when
    that cannot be told (no sox, or a help text of another shape)."""
    import subprocess

    try:
        out = subprocess.run(["sox", "-h"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if line.startswith("AUDIO FILE FORMATS:"):
            return frozenset(line.split(":", 1)[1].split())
    return None


def sox_info(path: PathLike):
    """``sox --i path`` run (its header read, no samples): the CompletedProcess, or None where sox
    could not be run. What sox itself makes of a file, whatever its extension says."""
    import subprocess

    try:
        return subprocess.run(["sox", "--i", str(path)], capture_output=True, text=True, errors="replace",
                              timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None


def sox_reads_by_content(path: Path) -> bool:
    """Whether sox reads ``path``, whose extension its 'sox -h' list lacks: it takes some types by
    their content whatever the name (a .wave or .rf64 WAV, an .oga Ogg Vorbis), which the list
    alone refused, though the pipes worked."""
    proc = sox_info(path)
    return proc is not None and proc.returncode == 0 and "Sample Rate" in proc.stdout


def needs_sox(path: PurePosixPath, sample_rate: Optional[int], channels: int = 1) -> bool:
    """Whether a file goes into wav.scp as a sox pipe: another format than libsndfile reads,
    several channels (averaged), or ``sample_rate`` asked for."""
    return sample_rate is not None or channels != 1 or not libsndfile_reads(path)


def wav_scp_entry(path: Path, sample_rate: Optional[int], channels: int = 1, channel: Optional[int] = None) -> str:
    """What wav.scp says for one file: its path (mono audio libsndfile reads), or a sox pipe to
    16-bit mono WAV (:func:`needs_sox`): the channels averaged, or ``channel`` (0-based) taken."""
    if not needs_sox(PurePosixPath(path.name), sample_rate, channels):
        text = str(path)
        if not text.endswith("|") and text == text.strip():
            return text
        return f"cat {shlex.quote(text)} |"  # a path a table would misread as a pipe or trim
    rate = f" -r {sample_rate}" if sample_rate else ""
    if channels > 1 and channel is not None:
        return f"sox {shlex.quote(str(path))} -t wav{rate} -b 16 - remix {channel + 1} |"  # (sox counts from 1)
    return f"sox {shlex.quote(str(path))} -t wav{rate} -c 1 -b 16 - |"


def _refuse_foreign_mono_dir(folder: Path) -> None:
    """A ``folder`` there (DATA-DIR/mono_wav) that an earlier make-data-dir did not write is the
    user's: replacing it would delete their files. A path no wav.scp line can hold is refused too."""
    where = str(folder.absolute())
    if not _is_utf8(where) or _has_control_char(where):
        raise AsrkitError(f"{str(folder)!r}: the mono copies of multi-channel files go here (no sox that reads them), "
                          f"but no wav.scp line can hold this path (a line break, control character or bytes "
                          f"that are not UTF-8): give another data dir")
    if os.path.lexists(folder) and not (folder / MONO_MARKER).is_file():
        raise AsrkitError(f"{folder}: exists and was not written by asrkit-make-data-dir (no {MONO_MARKER} in it), "
                          f"but the mono copies of multi-channel files go there (no sox that reads them): move it "
                          f"away, or install sox (and its handler for the format)")


def _missing_folders(path: Path) -> List[Path]:
    """``path`` and its parents that do not exist, deepest first."""
    missing = []
    while not os.path.lexists(path) and path.parent != path:
        missing.append(path)
        path = path.parent
    return missing


def _place_copies_with_tables(copies: Path, folder: Path, out_dir: PathLike, **tables: Dict[str, str]) -> None:
    """Move the filled temporary folder ``copies`` onto ``folder`` (DATA-DIR/mono_wav) and write the
    data dir's tables, which name its files, as one step. Where the tables are not written (a full
    disk), the folder that was there goes back, or none in a new data dir (signals wait till the
    end): the copies were replaced first, and a rerun into an existing data dir (--channel 1 after the channels' mean)
    left the old wav.scp naming copies of other audio under its ids, unsaid."""
    from asrkit.utils.fileio import file_identity, signals_deferred, tmp_dir_for

    wav_scp = Path(out_dir) / "wav.scp"
    before = file_identity(wav_scp)
    aside = tmp_dir_for(folder)  # (a killed run's is removed by the next, as replace_dir's are)
    try:
        with signals_deferred():
            moved_in = False
            try:
                if os.path.lexists(folder):
                    os.replace(folder, aside / "old")
                for attempt in range(10):
                    try:
                        os.replace(copies, folder)
                        moved_in = True
                        break
                    except OSError as e:
                        # Another run put its own there meanwhile (two identical commands at once): moved
                        # aside, as replace_dir does, so both succeed.
                        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == 9:
                            e.filename, e.filename2 = str(folder), None
                            raise
                        os.replace(folder, aside / f"other{attempt}")
                write_data_dir(out_dir, **tables)
            except BaseException:
                # A wav.scp renamed in names the new copies: they stay. Otherwise the old ones go back.
                if file_identity(wav_scp) == before:
                    with contextlib.suppress(OSError):
                        if moved_in:
                            os.replace(folder, aside / "new")
                        if os.path.lexists(aside / "old"):
                            os.replace(aside / "old", folder)
                raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def write_mono_copies(sources: Dict[str, Path], folder: Path, channel: Optional[int],
                      report: MakeReport) -> Tuple[Path, Dict[str, str]]:
    """Write each multi-channel file of ``sources`` (utterance -> file) as 16-bit mono WAV, the
    channels' mean or ``channel``, into a new temporary folder beside ``folder``, for the caller
    to put in place with the tables (:func:`_place_copies_with_tables`). Returns that folder
    and utterance -> its copy's path as it will be (absolute); a file the reader refuses
    (channels that cancel out, a damaged MP3, more than the reader's sample limit) is skipped
    and counted, its reason logged. Where the copies cannot be written (a full disk) nothing is
    left behind."""
    import numpy as np
    import soundfile

    from asrkit.features.wav import DOWNMIX, read_wav_source
    from asrkit.utils.fileio import id_file_name, tmp_dir_for
    from asrkit.utils.logging import progress

    _refuse_foreign_mono_dir(folder)
    done: Dict[str, str] = {}
    tmp = tmp_dir_for(folder)
    try:
        (tmp / MONO_MARKER).write_text("Mono copies of multi-channel audio files that wav.scp names, written by "
                                       "asrkit-make-data-dir where sox was not on PATH; replaced when it runs "
                                       "again into this data dir.\n", encoding="utf-8")
        clipped: List[str] = []
        for utt, path in progress(sorted(sources.items()), desc="mono copies", unit="files"):
            try:
                samples, rate = read_wav_source(str(path), str(path), channel=DOWNMIX if channel is None else channel,
                                                pipes=False)
            except AsrkitError as e:
                log.warning("%s", e)
                report.skip(NO_MONO_COPY, str(path))
                continue
            # (int16 scale already: 16-bit sources keep their values, a mean's halves rounded)
            out = np.rint(samples)
            if out.max(initial=0) > 32767 or out.min(initial=0) < -32768:
                clipped.append(path.name)  # a float or louder-than-full-scale source, as sox -b 16 clips it
            name = f"{id_file_name(utt)}.wav"  # (an id: one file name, within 255 bytes)
            wav = io.BytesIO()
            soundfile.write(wav, np.clip(out, -32768, 32767).astype(np.int16), rate, format="WAV", subtype="PCM_16")
            try:
                # (written by Python, not libsndfile: a full disk is then an OSError naming the copy)
                (tmp / name).write_bytes(wav.getbuffer())
            except OSError as e:
                e.filename, e.filename2 = str(folder / name), None
                raise
            done[utt] = str(folder.absolute() / name)
        if clipped:
            log.warning("%d mono cop%s clipped at 16-bit full scale (louder than full scale): %s", len(clipped),
                        "y" if len(clipped) == 1 else "ies", ", ".join(clipped[:5]) + (" ..." if len(clipped) > 5 else ""))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp, done


def _utf16_hint(raw: bytes) -> str:
    """What a transcript file that is not UTF-8 likely is, and the conversion, for the error: UTF-16
    (Windows Notepad's 'Unicode') by its byte-order mark, else the usual 8-bit encodings."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return ": it is UTF-16 (a byte-order mark FF FE or FE FF); save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8"
    # (older corpora and Windows editors: é as the single byte E9)
    return "; if it is Latin-1 or Windows-1252 text, convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8"


CSV_TO_TSV = ("python3 -c 'import csv,sys; [print(*r[:2], sep=\"\\t\") for r in csv.reader(open(sys.argv[1], "
              "newline=\"\"))]' {path} | tail -n +2 > prompts.tsv")


PIPE_TO_PROMPTS = "awk -F'|' '{{ print $1, $NF }}' {path} > prompts.txt"


def _refuse_csv(path: Path, content: str) -> None:
    """A .csv of "path,text" rows read as '<key> <text>' lines gave keys like '"my' (a quoted
    path cut at its first space: "key appears twice") or 'a0001.wav,HELLO' (no such file: every
    line skipped), neither saying that the file's format was the trouble."""
    if path.suffix.lower() != ".csv":
        return
    for lineno, line in enumerate(_LINE_BREAK.split(content), 1):
        line = line.lstrip(BOM)
        if not line.strip():
            continue
        key = line.split("\t", 1)[0].strip() if "\t" in line else line.split(maxsplit=1)[0]
        if "|" in key:
            # LJSpeech's metadata.csv ('LJ001-0001|text|normalized text'): every key was a whole
            # line, every transcript "without audio", and every recording "without a transcript".
            raise AsrkitError(f"{path}:{lineno}: a '|'-separated file ({line.strip()[:40]!r}; LJSpeech's "
                              f"metadata.csv is 'id|text|normalized text'): --transcripts reads '<key> <text>' "
                              f"lines; convert it first, e.g. {PIPE_TO_PROMPTS.format(path=shlex.quote(str(path)))} "
                              f"(the last field: LJSpeech's normalized text)")
        if "," in key or key.startswith('"'):
            raise AsrkitError(f"{path}:{lineno}: a CSV file ({line.strip()[:40]!r}): --transcripts reads '<key> <text>' "
                              f"or '<key><TAB><text>' lines; convert it first, e.g. "
                              f"{CSV_TO_TSV.format(path=shlex.quote(str(path)))} (tail drops a header row)")
        return


# CMU Sphinx's transcription files (AN4's etc/*.transcription, SphinxTrain's layout) put the
# utterance id last: "<s> YES </s> (an251-fash-b)". Read as '<key> <text>' lines, their first
# words became keys, and the error was "key 'RUBOUT' appears twice", which says nothing of the
# format; the <s> </s> markers would also have become words.
_SPHINX_LINE = re.compile(r"\(([^()\s]+)\)\s*$")
SPHINX_TO_PROMPTS = r"sed -E 's/\r$//; s/^(.*[^ ]) *\(([^()]+)\)$/\2 \1/; s/ *<\/?s> */ /g' {path} > prompts.txt"


def _sphinx_hint(path: Path, content: str) -> str:
    """For a duplicate key: the conversion, when every line ends in its own '(<id>)' as Sphinx's do
    (prompts annotated '(laughs)' repeat theirs)."""
    ids = [_SPHINX_LINE.search(line) for line in _LINE_BREAK.split(content) if line.strip()]
    if not ids or not all(ids) or len({m.group(1) for m in ids}) < len(ids):
        return ""
    return (f": it looks like a Sphinx transcription file ('<text> (<id>)' lines) and --transcripts reads "
            f"'<key> <text>' lines; convert it first, e.g. {SPHINX_TO_PROMPTS.format(path=shlex.quote(str(path)))}")


def read_transcript_file(path: Path) -> Dict[str, Tuple[str, int]]:
    """``<key> <text>`` lines -> {key: (text, line number)}; blank lines are ignored."""
    try:
        raw = read_bounded(path)
    except OSError as e:
        raise AsrkitError(f"{path}: cannot read the transcripts: {e.strerror}") from None
    if not raw and names_stdin(path):  # an empty or failed pipe upstream, not a file of no transcripts
        raise AsrkitError(no_stdin_data(path))
    try:
        content = raw.decode("utf-8-sig")  # a byte-order mark (Windows editors) is not part of the first key
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise AsrkitError(f"{path}:{line}: not UTF-8 text ({e.reason} at byte {e.start}){_utf16_hint(raw)}") from None
    _refuse_csv(path, content)
    out: Dict[str, Tuple[str, int]] = {}
    # Lines end at \n, \r\n or \r only. str.splitlines() would also break at U+2028, U+0085,
    # a form feed..., cutting a transcript short and making the rest a bogus key (and every
    # later line number wrong); inside a transcript those are white space.
    for lineno, line in enumerate(_LINE_BREAK.split(content), 1):
        # A BOM at the start of a later line: files each saved with one, then concatenated.
        line = line.lstrip(BOM)
        # A tab, when there is one, ends the key: then a key may hold spaces ("my take 1<TAB>text").
        parts = [p.strip() for p in line.split("\t", 1)] if "\t" in line else line.strip().split(maxsplit=1)
        if not parts or not parts[0]:
            continue
        key = parts[0]
        if key in out:
            raise AsrkitError(f"{path}:{lineno}: key {key!r} appears twice (first on line {out[key][1]})"
                              + _sphinx_hint(path, content))
        out[key] = (parts[1] if len(parts) > 1 else "", lineno)
    if not out:
        raise AsrkitError(f"{path}: no transcripts in it (expected '<file-name> <text>' lines)")
    return out


def drop_punctuation(text: str) -> str:
    """Punctuation (Unicode category P*) as word breaks, except an apostrophe inside a word (don't)."""
    out = []
    for i, c in enumerate(text):
        if unicodedata.category(c).startswith("P"):
            inside = 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
            out.append("'" if c in "'\u2019" and inside else " ")
        else:
            out.append(c)
    return "".join(out)


# A Kaldi/ESPnet marker word, <unk>, <sil>, [noise], [laughter] (a word of its own, punctuation
# after it allowed): its brackets kept by --punctuation drop, which made "[noise]" the word NOISE.
# --case applies to it as to any word ([NOISE] and [noise] one word), but <unk> in any case is
# sentencepiece's unknown symbol, <unk>: "<UNK>" under --case upper was a word of its own.
_MARKER = re.compile(r"(?<!\S)(<[^<>\[\]\s]+>|\[[^<>\[\]\s]+\])(?=$|\s|[,.;:!?])")


def _normalise(text: str, case: str, punctuation: str) -> str:
    def cased(part: str) -> str:
        return part.upper() if case == "upper" else part.lower() if case == "lower" else part

    parts = _MARKER.split(text)  # odd indices: the markers
    for i in range(len(parts)):
        if i % 2:
            parts[i] = "<unk>" if parts[i].lower() == "<unk>" and case != "keep" else cased(parts[i])
        else:
            parts[i] = cased(drop_punctuation(parts[i]) if punctuation == "drop" else parts[i])
    return " ".join("".join(parts).split())


def _visible(text: str) -> bool:
    """Whether ``text`` has a character that is not white space or an invisible format character
    (Unicode category Cf: zero-width space, BOM, direction marks): one that is only those reads as
    empty, and would train the model on an invisible label."""
    return any(not c.isspace() and unicodedata.category(c) != "Cf" for c in text)


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
    problem = dir_problem(audio_dir)
    if problem:
        raise AsrkitError(f"{audio_dir}: {problem} (the folder holding the audio files)")
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
    try:  # what transcript_beside does with it: '', '.' or 'a/b' was a ValueError traceback there
        PurePosixPath("x").with_suffix("." + text_ext.lstrip("."))
    except ValueError:
        raise AsrkitError(f"--text-ext {text_ext!r}: not a file extension (e.g. txt or lab)") from None
    if sample_rate is not None:
        # Decoding refuses audio below this rate, so every utterance of a data dir converted to
        # it (`sox ... -r 1 ...|`) failed later, one at a time. (Imported here: it brings torch.)
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
    audio_root = audio_dir.resolve()
    _check_output_dir(Path(out_dir), audio_root, transcripts)
    report = MakeReport()
    others: List[PurePosixPath] = []
    texts: List[PurePosixPath] = []  # the transcripts beside the audio (without --transcripts)
    folders: List[PurePosixPath] = []  # directories named like audio files
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
        raise AsrkitError(f"{audio_dir}: no audio files (looked for *.{', *.'.join(extensions)} in it and its "
                          f"folders; see --audio-ext{held})")
    if not _is_utf8(str(audio_root)):
        raise AsrkitError(f"{audio_dir!r}: the folder's path is not UTF-8, so no wav.scp can name its files: "
                          f"rename it or link it from a UTF-8 path")
    if _has_control_char(str(audio_root)):  # (a line break in it cut every wav.scp line in two, exit 0)
        raise AsrkitError(f"{str(audio_dir)!r}: the folder's path holds a line break or control character, which no "
                          f"wav.scp line can hold (the path as links resolve): rename it")
    good: List[PurePosixPath] = []
    unusable: List[PurePosixPath] = []  # skipped for what the file holds: their transcripts are not "without audio"
    channels_of: Dict[PurePosixPath, int] = {}
    for rel in files:
        # (each of these is unusable too: its line in --transcripts was a second skip, "transcript
        # without audio", and three broken links of 100 files failed --max-skip-ratio 0.05 as 6 of 103)
        if not _is_utf8(str(rel)):
            report.skip(NOT_UTF8_NAME, ascii(str(rel)))
            unusable.append(rel)
        elif _has_control_char(str(rel)):
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
        _refuse_foreign_mono_dir(Path(out_dir) / MONO_DIR)
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

    # Each file's transcript.
    text_of: Dict[PurePosixPath, str] = {}
    where_of: Dict[PurePosixPath, str] = {}  # the transcript's file (and line), for errors
    if transcripts is not None:
        table = read_transcript_file(Path(transcripts))
        # A key that is a path below the folder names one file; a bare name may name several.
        by_path: Dict[str, List[PurePosixPath]] = {}
        by_name: Dict[str, List[PurePosixPath]] = {}
        # A key's extension matches in any case, as --audio-ext's does: 'A.wav' in the transcripts
        # for A.WAV was a transcript without audio and the audio without a transcript. (Keyed
        # with the extension lower-cased, found by the key's extension lower-cased.)
        for rel in good + unusable:
            lower = rel.with_suffix(rel.suffix.lower())
            for key in {_nfc(str(rel.with_suffix(""))), _nfc(str(rel)), _nfc(str(lower))}:
                by_path.setdefault(key, []).append(rel)
            for key in {_nfc(rel.stem), _nfc(rel.name), _nfc(lower.name)}:
                by_name.setdefault(key, []).append(rel)
        def lookup(key: str) -> List[PurePosixPath]:
            # A key as 'find' prints it: './spk1/a0001.wav', or the absolute path of the file.
            path = PurePosixPath(key)
            if path.is_absolute():
                for root in (PurePosixPath(audio_dir.absolute()), PurePosixPath(audio_root)):
                    if path.is_relative_to(root) and path != root:
                        path = path.relative_to(root)
                        break
            key = _nfc(str(path) if str(path) != "." else key)
            found = by_path.get(key) or by_name.get(key, [])
            if not found and path.suffix.lower() in _OTHER_AUDIO_SUFFIXES and path.suffix != path.suffix.lower():
                key = _nfc(str(path.with_suffix(path.suffix.lower())))
                found = by_path.get(key) or by_name.get(key, [])
            return found

        def keys_of(paths: List[PurePosixPath]):
            return {_nfc(k) for r in paths for k in (str(r.with_suffix("")), str(r), r.stem, r.name)}
        other_keys, folder_keys = keys_of(others), keys_of(folders)
        def other_lookup(key: str, keys=other_keys) -> bool:
            path = PurePosixPath(key)
            if path.is_absolute() and path.is_relative_to(PurePosixPath(audio_root)):
                path = path.relative_to(audio_root)
            return _nfc(str(path)) in keys

        for key, (text, lineno) in table.items():
            matches = lookup(key)
            if not matches and len(key.split()) > 1 and lookup(key.split()[0]):
                # 'a0001 YES NO<TAB>GO': the tab is in the transcript, a space ended the key.
                key, rest = key.split(maxsplit=1)
                text, matches = f"{rest} {text}", lookup(key)
            if len({m.with_suffix("") for m in matches}) == 1 < len(matches):
                # No path key tells them apart: the advice below would name this very key.
                raise AsrkitError(f"{transcripts}:{lineno}: {key!r} matches {', '.join(map(str, matches))}: "
                                  f"{SAME_NAME_ADVICE}")
            if len(matches) > 1:
                raise AsrkitError(f"{transcripts}:{lineno}: {key!r} matches {len(matches)} audio files "
                                  f"({', '.join(map(str, matches[:3]))}): use the path below {audio_dir} as the "
                                  f"key, e.g. {str(matches[0].with_suffix(''))!r}")
            if not matches:
                why = other_reason if other_lookup(key) else NOT_A_FILE if other_lookup(key, folder_keys) else NO_AUDIO
                report.skip(why, f"{key} ({transcripts}:{lineno})")
                continue
            rel = matches[0]
            if rel in unusable:  # counted once, as its file's problem
                continue
            if rel in text_of:
                raise AsrkitError(f"{transcripts}:{lineno}: {key!r} is a second transcript for {rel}")
            text_of[rel] = text
            where_of[rel] = f"{transcripts}:{lineno}"
    else:
        ext = "." + text_ext.lstrip(".")
        names_in: Dict[Path, Dict[str, List[str]]] = {}

        def transcript_beside(audio: Path) -> Optional[Path]:
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
            found = [audio.parent / n for n in names_in[audio.parent].get(exact.name.lower(), [])
                     if (audio.parent / n).is_file()]
            if not found:
                # The exact stem's first, as before: a0001.wav.txt beside a0001.txt (whisper.cpp's
                # -otxt output beside a corpus's own) stays a text file with no audio, counted.
                found = [audio.parent / n for n in names_in[audio.parent].get(whole.name.lower(), [])
                         if (audio.parent / n).is_file()]
            for candidate in (exact, whole):
                if not found and candidate.is_file():  # a folder that cannot be listed, but read
                    return candidate
            if len(found) > 1:
                case = ", their names differing only in letter case" if len({f.name.lower() for f in found}) == 1 else ""
                raise AsrkitError(f"{audio}: two transcripts beside it ({', '.join(sorted(f.name for f in found))})"
                                  f"{case}: keep one")
            return found[0] if found else None

        for rel in good:
            beside = transcript_beside(audio_root / rel)
            if beside is not None:
                try:
                    raw = read_bounded(beside)
                except OSError as e:
                    raise AsrkitError(f"{beside}: cannot read: {e.strerror}") from None
                try:
                    # (its line ends, \r\n or \r, are white space that _normalise collapses)
                    text_of[rel] = raw.decode("utf-8-sig")
                    where_of[rel] = str(beside)
                except UnicodeDecodeError as e:
                    raise AsrkitError(f"{beside}: not UTF-8 text ({e.reason} at byte {e.start})"
                                      f"{_utf16_hint(raw)}") from None
        for rel in others:
            if transcript_beside(audio_root / rel) is not None:
                report.skip(other_reason, str(rel))
        # Only the audio's transcripts were looked for, so one whose audio is missing (or is a
        # directory) was dropped without a word, where --transcripts counts its line: counted alike.
        audio_names = {(r.parent, r.stem.lower()) for r in files + others}
        whole_names = {(r.parent, r.name.lower()) for r in files + others}
        folder_of = {(r.parent, r.stem.lower()): r for r in folders}
        text_stems = {(t.parent, t.stem.lower()) for t in texts}
        for t in texts:
            name = (t.parent, t.stem.lower())
            # (a0001.wav.txt is a0001.wav's when no a0001.txt was there to be read first)
            if name in whole_names and (t.parent, Path(t.stem).stem.lower()) not in text_stems:
                continue
            if name not in audio_names:
                if name in folder_of:
                    report.skip(NOT_A_FILE, f"{folder_of[name]}/ (beside {t})")
                else:
                    report.skip(TEXT_WITHOUT_AUDIO, str(t))
        if not text_of:
            raise AsrkitError(f"{audio_dir}: no transcripts: none of its {len(good)} audio files has a "
                              f"<name>{ext} beside it (other extension: --text-ext; one file of '<name> <text>' "
                              f"lines: --transcripts)")

    wav_scp: Dict[str, str] = {}
    text: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    source_of: Dict[str, PurePosixPath] = {}
    speaker_names: Dict[str, str] = {}  # speaker id -> the name it was made from
    for rel in good:
        if rel not in text_of:
            report.skip(NO_TRANSCRIPT, str(rel))
            continue
        words = _normalise(text_of[rel], case, punctuation)
        if not _visible(words):
            report.skip(EMPTY, str(rel))
            continue
        name = _speaker_of(rel, speaker, speaker_from_dir, regex)
        spk = safe_id(_nfc(name))
        # Folders 'alice smith' and 'alice_smith' are two speakers: one id would silently merge
        # them (and a by-speaker held-out set would draw them as one).
        if speaker_names.setdefault(spk, name) != name:
            raise AsrkitError(f"{audio_dir}: speakers {speaker_names[spk]!r} and {name!r} would both be speaker "
                              f"{spk!r} (ids replace characters other than letters, digits and ._+- by _): "
                              f"rename one")
        plain = "-".join(rel.with_suffix("").parts)
        utt = safe_id(_nfc(plain))
        report.mapped_ids += utt != plain
        if not (utt == spk or utt.startswith(spk + "-")):
            utt = f"{spk}-{utt}"
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
    to_copy = {utt: audio_root / rel for utt, rel in source_of.items() if rel in copied}
    total = report.num_audio + sum(len(report.skipped.get(r, [])) for r in (NO_AUDIO, NOT_A_FILE, other_reason))

    def counts_problem() -> Optional[str]:
        if not wav_scp:
            return (f"{audio_dir}: no utterance has both audio and a non-empty transcript "
                    f"({report.num_skipped} skipped, reasons above)")
        held = report.num_skipped - len(report.skipped.get(TEXT_WITHOUT_AUDIO, []))
        if held > max_skip_ratio * total:
            return (f"{audio_dir}: {held} of {total} audio files and transcripts skipped "
                    f"(reasons above), more than --max-skip-ratio {max_skip_ratio:g}: fix the corpus "
                    f"or raise the ratio")
        return None

    copies = None  # (the filled temporary folder, what goes where) until it is put in place
    # The folders this run makes, DATA-DIR and the parents it lacks (nd/sub for nd/sub/all), deepest
    # first: a run that fails removes them again (a full disk on the first copy left nd/sub/ there).
    created = _missing_folders(Path(out_dir))
    written = False
    folder = Path(out_dir) / MONO_DIR
    # (the counts first: a corpus refused anyway is not read whole for its copies)
    problem = counts_problem()
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
            problem = counts_problem()
        report.num_utts = len(wav_scp)
        for reason, names in report.skipped.items():
            log.warning("skipped %d: %s: %s%s (all with -v)", len(names), reason, ", ".join(names[:5]),
                        " ..." if len(names) > 5 else "")
            log.debug("%s: %s", reason, ", ".join(names))
        if report.mapped_ids:
            log.info("%d utterance id(s) have characters other than letters, digits and ._+- replaced by _",
                     report.mapped_ids)
        if problem:
            raise AsrkitError(problem)
        if copies is None:
            write_data_dir(out_dir, wav_scp=wav_scp, text=text, utt2spk=utt2spk)
        else:
            _place_copies_with_tables(copies[0], folder, out_dir, wav_scp=wav_scp, text=text, utt2spk=utt2spk)
        written = True
    finally:
        if not written:
            if copies is not None:  # (gone already where it was moved in)
                shutil.rmtree(copies[0], ignore_errors=True)
            for made in created:
                with contextlib.suppress(OSError):  # (not empty: the tables were written after all)
                    os.rmdir(made)
    return report
