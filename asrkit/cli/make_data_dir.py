"""asrkit-make-data-dir: a Kaldi data dir from a folder of audio files and their transcripts."""
from __future__ import annotations

import click

from asrkit.cli._common import asrkit_command, dash_as_stdio, refuse_empty_name
from asrkit.data.from_audio import CASES, PUNCTUATION, make_data_dir


@asrkit_command("make-data-dir")
@click.option("--transcripts", callback=refuse_empty_name, type=click.Path(dir_okay=False),
              help="One file of '<key> <text>' lines ('-': stdin); the key is the audio file's name without "
                   "extension, or its path below AUDIO-DIR (e.g. book1/a0001). Without it: <name>.txt beside each "
                   "audio file.")
@click.option("--text-ext", default="txt", show_default=True,
              help="Extension of the transcript beside each audio file (without --transcripts).")
@click.option("--audio-ext", default="wav,flac", show_default=True,
              help="Audio file extensions to take, comma separated. Mono files libsndfile reads (WAV, FLAC, "
                   "OGG, MP3, AIFF, SPHERE...) are read in-process; other formats and multi-channel files "
                   "through sox pipes (without sox, multi-channel files of those formats as mono WAV copies "
                   "written to DATA-DIR/mono_wav/).")
@click.option("--speaker", help="One speaker name for every file [default: spk1].")
@click.option("--speaker-from-dir", is_flag=True, help="The speaker is the first folder below AUDIO-DIR.")
@click.option("--speaker-regex", metavar="REGEX",
              help="The speaker is group 1 of REGEX searched in the path below AUDIO-DIR without the "
                   "extension, e.g. '^([a-z]+)_' for alice_001.wav.")
@click.option("--sample-rate", type=click.IntRange(min=1),
              help="Convert every file to this rate, 16-bit mono, through sox pipes (without it, audio at "
                   "another rate than conf/fbank.yaml's is resampled in-process by asrkit-compute-fbank "
                   "--resample).")
@click.option("--channel", type=click.IntRange(min=0), default=None,
              help="Of files with several channels, take channel N (0-based, Kaldi's --channel) through a "
                   "'sox ... remix N+1 |' pipe (without sox: a mono copy in DATA-DIR/mono_wav/), not the "
                   "average of them; mono files are used as they are, and a file with N channels or fewer is "
                   "skipped and counted.")
@click.option("--case", type=click.Choice(CASES), default="keep", show_default=True,
              help="Change the transcripts' letter case.")
@click.option("--punctuation", type=click.Choice(PUNCTUATION), default="keep", show_default=True,
              help="drop: punctuation becomes a word break (an apostrophe inside a word stays).")
@click.option("--max-skip-ratio", type=float, default=0.05, show_default=True,
              help="Fail when more than this share of files and transcripts had to be skipped.")
@click.argument("audio_dir", callback=refuse_empty_name, metavar="AUDIO-DIR")
@click.argument("out_dir", callback=refuse_empty_name, metavar="DATA-DIR")
def main(transcripts, text_ext, audio_ext, speaker, speaker_from_dir, speaker_regex, sample_rate, channel, case,
         punctuation, max_skip_ratio, audio_dir, out_dir):
    """Write DATA-DIR/{wav.scp,text,utt2spk,spk2utt} from the audio files below AUDIO-DIR.

    Utterance ids are <speaker>-<path below AUDIO-DIR without extension, '/' as '-'>, so the same
    file name in two folders gives two ids, or the file name alone where it repeats its folders
    (LibriSpeech's 100/2001/100-2001-0000.flac is 100-2001-0000); characters other than letters, digits and ._+- (spaces)
    become _ in ids. An audio file without a transcript, a transcript without its audio, an empty
    transcript and a path with a line break are skipped and counted (names in the log); more than
    --max-skip-ratio of them is an error, as are a key given twice or matching two files.

    \b
    e.g. asrkit-make-data-dir --transcripts /corpora/mine/prompts.txt \\
           --speaker mine /corpora/mine/wav data/all
         asrkit-make-data-dir --speaker-from-dir --sample-rate 16000 \\
           /corpora/mine data/all   # x.wav + x.txt
    """
    if transcripts is not None:
        transcripts = dash_as_stdio(transcripts, "stdin")  # Kaldi's '-' (was "-: cannot read the transcripts")
    report = make_data_dir(audio_dir, out_dir, transcripts=transcripts, text_ext=text_ext,
                           extensions=[e.strip() for e in audio_ext.split(",") if e.strip()], speaker=speaker,
                           speaker_from_dir=speaker_from_dir, speaker_regex=speaker_regex,
                           sample_rate=sample_rate, case=case, punctuation=punctuation,
                           max_skip_ratio=max_skip_ratio, channel=channel)
    skipped = "".join(f", {len(v)} {k}" for k, v in report.skipped.items())
    click.echo(f"Done {report.num_utts} utterances out of {report.num_audio} audio files{skipped} -> {out_dir}",
               err=True)
