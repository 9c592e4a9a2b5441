#!/usr/bin/env python3
"""A data dir of FSDD's takes as recorded: one utterance per take, its digit's word as the text.

The recipe's test sets are connected digits built by stage 0, every one with 0.1-0.3 s of quiet
before and after its speech. A take as FSDD holds it starts and ends within milliseconds of the
word, as a user's single-word recording often does; this set measures that presentation
(RESULTS.md, "Tight edges"). wav.scp names the corpus files themselves; utterance ids are
``<speaker>-<digit>_<speaker>_<take>``. A take not at 8 kHz mono (another person's 16 kHz or
stereo recording) is converted as stage 0's connected digits convert it, into ``--wav-dir``
(default ``<data_dir>/../wav/<name>``), with a warning and a count: named as it was, a stereo take
was skipped by stage 1's feature extraction and left out of the set.

    e.g. local/takes_data.py --speakers theo /work/shared/corpora/fsdd data/test_takes
         asrkit-decode --model exp/<tag>/model.avg.pt --config conf/decode.yaml \\
             --wav-scp data/test_takes/wav.scp --output-dir exp/<tag>/decode_test_takes
         asrkit-score data/test_takes/text exp/<tag>/decode_test_takes/text
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asrkit.data.datadir import write_data_dir
from asrkit.utils.errors import AsrkitError, os_error_message
import make_connected_digits as mcd  # this script's folder: FSDD's file names and reader, one copy
from make_connected_digits import WORDS, index_recordings


def as_recorded(path: Path) -> bool:
    """Whether ``path`` is what stage 1 reads as it is: 8 kHz mono. A file soundfile cannot read
    is left to stage 1, which names it (stage 0's connected digits have read it already)."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except (RuntimeError, OSError):
        return True
    return info.channels == 1 and info.samplerate == mcd.RATE


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("fsdd_root", type=Path, help="folder holding recordings/")
    p.add_argument("data_dir", type=Path, help="the data dir to write (wav.scp, text, utt2spk, spk2utt)")
    p.add_argument("--speakers", required=True, help="comma-separated FSDD speakers, e.g. theo or theo,george")
    p.add_argument("--wav-dir", type=Path, help="where the takes not at 8 kHz mono go, converted "
                   "(default: <data_dir>/../wav/<name of data_dir>)")
    args = p.parse_args(argv)
    wav_dir = args.wav_dir or args.data_dir.parent / "wav" / args.data_dir.name
    try:
        speakers = sorted({s.strip() for s in args.speakers.split(",") if s.strip()})
        if not speakers:
            raise AsrkitError(f"--speakers {args.speakers!r}: no speaker named")
        index = index_recordings(args.fsdd_root)
        missing = [s for s in speakers if s not in index]
        if missing:
            raise AsrkitError(f"--speakers: {', '.join(missing)} not in {args.fsdd_root / 'recordings'} "
                              f"(its speakers: {', '.join(sorted(index))})")
        wav, text, utt2spk = {}, {}, {}
        converted = set()
        for spk in speakers:
            for digit, takes in index[spk].items():
                for _, path in takes:
                    utt = f"{spk}-{path.stem}"
                    wav[utt], text[utt], utt2spk[utt] = str(path.resolve()), WORDS[digit], spk
                    if not as_recorded(path):
                        copy = wav_dir / f"{path.stem}.wav"
                        wav_dir.mkdir(parents=True, exist_ok=True)
                        mcd.write_wav(copy, mcd.read_wav(path))
                        wav[utt] = str(copy.resolve())
                        converted.add(copy.name)
        write_data_dir(args.data_dir, wav_scp=wav, text=text, utt2spk=utt2spk)
        # An earlier run's copies of takes now at 8 kHz mono, or of other speakers: not left behind.
        # Only takes' names: a --wav-dir shared with other audio (data/wav/test, the connected
        # digits') keeps that.
        for old in wav_dir.glob("*.wav") if wav_dir.is_dir() else ():
            if old.name not in converted and mcd.NAME.match(old.name):
                old.unlink()
    except AsrkitError as e:
        print(f"{p.prog}: ERROR: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        if os_error_message(e) is None:
            raise
        print(f"{p.prog}: ERROR: {os_error_message(e)}", file=sys.stderr)
        return 1
    print(f"{p.prog}: {args.data_dir}: {len(wav)} takes of {', '.join(speakers)}", file=sys.stderr)
    if mcd.CONVERTED:
        shown = ", ".join(f"{path.name} ({what})" for path, what in list(mcd.CONVERTED.items())[:3])
        print(f"{p.prog}: WARNING: {len(mcd.CONVERTED)} take(s) not 8 kHz mono, converted into {wav_dir}: {shown}"
              + (", ..." if len(mcd.CONVERTED) > 3 else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
