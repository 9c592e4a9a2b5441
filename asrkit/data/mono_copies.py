"""Without sox: the mono copies of multi-channel audio files that make-data-dir writes into
``DATA-DIR/mono_wav/`` (:func:`write_mono_copies`) and puts in place with the data dir's tables
as one step (:func:`place_copies_with_tables`); a folder of that name it did not write is refused
(:func:`refuse_foreign_mono_dir`).

Used by :mod:`asrkit.data.from_audio`; imports :mod:`asrkit.data.make_report`."""
from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from asrkit.data.datadir import write_data_dir
from asrkit.data.make_report import NO_MONO_COPY, MakeReport, has_control_char, is_utf8
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike
from asrkit.utils.logging import get_logger

log = get_logger(__name__)

# Without sox, a multi-channel file's mono audio (the average, or --channel N) is written here, in
# the data dir, as 16-bit WAV: the same audio the sox pipe gives, read alike by every asrkit
# command and every Kaldi tool. A plain path to the stereo file would not do: asrkit-compute-fbank
# (and training from audio) refuse multi-channel audio unless given --channel, which cannot say
# "average", and Kaldi's compute-fbank-feats takes channel 0 of it (and no FLAC or MP3 at all).
MONO_DIR = "mono_wav"
# In MONO_DIR: the folder is make-data-dir's to replace on the next run (a folder of that name
# without it is the user's, never replaced), and from_audio.find_audio leaves it out (a data dir
# made inside the audio folder had its own copies taken for corpus audio on the next run).
MONO_MARKER = ".asrkit-make-data-dir"


def refuse_foreign_mono_dir(folder: Path) -> None:
    """A ``folder`` there (DATA-DIR/mono_wav) that an earlier make-data-dir did not write is the
    user's: replacing it would delete their files. A path no wav.scp line can hold is refused too.
    Public: from_audio refuses it before reading any audio."""
    where = str(folder.absolute())
    if not is_utf8(where) or has_control_char(where):
        raise AsrkitError(f"{str(folder)!r}: the mono copies of multi-channel files go here (no sox that reads them), "
                          f"but no wav.scp line can hold this path (a line break, control character or bytes "
                          f"that are not UTF-8): give another data dir")
    if os.path.lexists(folder) and not (folder / MONO_MARKER).is_file():
        raise AsrkitError(f"{folder}: exists and was not written by asrkit-make-data-dir (no {MONO_MARKER} in it), "
                          f"but the mono copies of multi-channel files go there (no sox that reads them): move it "
                          f"away, or install sox (and its handler for the format)")


def missing_folders(path: Path) -> List[Path]:
    """``path`` and its parents that do not exist, deepest first. Public: from_audio removes them
    when its run fails (not :func:`asrkit.utils.fileio.missing_dirs`, which starts at each output's
    parent and raises OSError on a name too long, where this one counts it as missing)."""
    missing = []
    while not os.path.lexists(path) and path.parent != path:
        missing.append(path)
        path = path.parent
    return missing


def place_copies_with_tables(copies: Path, folder: Path, out_dir: PathLike, **tables: Dict[str, str]) -> None:
    """Move the filled temporary folder ``copies`` onto ``folder`` (DATA-DIR/mono_wav) and write the
    data dir's tables, which name its files, as one step. Where the tables are not written (a full
    disk), the folder that was there goes back, or none in a new data dir (signals wait till the
    end): the copies were replaced first, and a rerun into an existing data dir (--channel 1 after the channels' mean)
    left the old wav.scp naming copies of other audio under its ids, unsaid. Public: from_audio
    calls it once the skip counts are logged."""
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
    to put in place with the tables (:func:`place_copies_with_tables`). Returns that folder
    and utterance -> its copy's path as it will be (absolute); a file the reader refuses
    (channels that cancel out, a damaged MP3, more than the reader's sample limit) is skipped
    and counted, its reason logged. Where the copies cannot be written (a full disk) nothing is
    left behind."""
    import numpy as np
    import soundfile

    from asrkit.features.wav import DOWNMIX, read_wav_source
    from asrkit.utils.fileio import id_file_name, tmp_dir_for
    from asrkit.utils.logging import progress

    refuse_foreign_mono_dir(folder)
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
