"""What asrkit-make-data-dir reports, and the names it turns into ids: the skip reasons (each
item left out is counted under one, by name), :class:`MakeReport`, and the checks and mapping of
a file's name (:func:`safe_id`, Unicode NFC, UTF-8, control characters).

Shared by :mod:`asrkit.data.from_audio` (``make_data_dir``) and :mod:`asrkit.data.mono_copies`;
it imports neither."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Dict, List

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
# A transcript beside the audio that is no file: a broken link, a folder, a FIFO named u.txt. The
# audio was "audio without a transcript", and the user found the transcript right there.
TRANSCRIPT_NOT_A_FILE = ("transcript name that is a broken or looping link, directory, named pipe, device or socket, "
                         "not a file")
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
_UNSAFE_ID_CHAR = re.compile(r"[^\w.+-]")  # \w: letters and digits of any script, and _


@dataclass
class MakeReport:
    # audio files found: those --audio-ext takes, and those of another format with a transcript
    # (each a skip): the Done line said "out of 8 audio files" where the skip ratio's error counted 12
    num_audio: int = 0
    num_utts: int = 0  # utterances written
    skipped: Dict[str, List[str]] = field(default_factory=dict)  # reason -> names
    mapped_ids: int = 0  # ids whose characters were replaced by _

    @property
    def num_skipped(self) -> int:
        return sum(len(v) for v in self.skipped.values())

    def skip(self, reason: str, name: str) -> None:
        self.skipped.setdefault(reason, []).append(name)


def nfc(text: str) -> str:
    """Unicode's composed form: 'é' typed in a transcript file and the 'e' + accent of a file name
    written on macOS (decomposed) look the same, and are to match (and give the same id). Public:
    from_audio keys audio files and transcripts by it."""
    return unicodedata.normalize("NFC", text)


def safe_id(text: str) -> str:
    """``text`` with every character a Kaldi id should not hold (white space, quotes, /) as ``_``."""
    return _UNSAFE_ID_CHAR.sub("_", text)


def is_utf8(text: str) -> bool:
    """False for a name Python decoded with surrogate escapes (bytes that are not UTF-8), which
    no UTF-8 table can hold. Public: from_audio and mono_copies check the paths they write with it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def has_control_char(text: str) -> bool:
    """Whether ``text`` holds an ASCII control character (a line break would cut a wav.scp line in
    two). Public: from_audio and mono_copies check the paths they write with it."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)
