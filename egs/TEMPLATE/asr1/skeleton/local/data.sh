#!/usr/bin/env bash
# Stage 0 of the @CORPUS@ recipe: Kaldi data dirs data/{train,dev,test} from the
# corpus's audio files and transcripts, read where they are (nothing is copied).
# Written by setup.sh for the two common layouts; set the options below (or on the
# command line) to fit the corpus:
#   a) audio files (any folder depth) and ONE transcript file of "<name> <text>"
#      lines, <name> being the file name without extension (or its path below the
#      audio folder, for names that repeat in two folders; a tab after the name
#      allows spaces in it):
#        local/data.sh --corpus-root /data/mine --audio-subdir wav \
#          --transcripts prompts.txt
#   b) a text file beside each audio file (a0001.wav + a0001.txt):
#        local/data.sh --corpus-root /data/mine
#   Another transcript format: write it as (a) into data/local/ with a line of awk
#   at the place marked "a transcript format of the corpus's own" below
#   (data/local/ is there, and so is $corpus_root), e.g. LJSpeech's metadata.csv
#   ('id|text|normalized text'):
#     awk -F'|' '{ print $1, $NF }' "$corpus_root/metadata.csv" \
#       > data/local/prompts.txt
#   and set transcripts=data/local/prompts.txt.
# Then: asrkit-make-data-dir -> data/all (audio without a transcript, a transcript
# without audio, empty transcripts are skipped and counted; more than
# --max-skip-ratio of them is an error); asrkit-holdout-lists ->
# data/local/{train,dev,test}.list (--dev-fraction / --test-fraction drawn with
# --seed, or explicit --dev-list / --test-list of utterance ids; --by-speaker true
# keeps dev and test speakers out of train); utils/subset_data_dir.sh ->
# data/{train,dev,test}; each checked with asrkit-validate-data-dir. Utterance ids
# are <speaker>-<path without extension>, or the file name alone where it repeats
# its folders (LibriSpeech's 100/2001/100-2001-0000; docs/data.md).
#   e.g. local/data.sh --corpus-root /data/@CORPUS@ --transcripts prompts.txt \
#          --speaker-from-dir true
set -euo pipefail
# Paths below (data/, utils/, conf/) are the recipe directory's: started from elsewhere, bash's
# "./path.sh: No such file or directory" was all it said.
[ -f ./path.sh ] || { echo "$0: run me from my recipe directory: cd $(cd "$(dirname "$0")/.." && pwd) && local/$(basename "$0") (no ./path.sh in $(pwd))" >&2; exit 1; }
. ./path.sh
# ---- configuration section (every name is an option: --dev-fraction 0.1 sets dev_fraction) ----
corpus_root=        # the corpus folder (required)
audio_subdir=       # where the audio is below corpus_root (empty: corpus_root itself)
transcripts=        # the "<name> <text>" file (a path, or a name below corpus_root); empty: layout (b)
text_ext=txt        # layout (b): extension of the transcript beside each audio file
audio_ext=wav,flac  # audio files to take (mono WAV/FLAC/OGG/MP3...: read in-process; other formats or channels: sox,
                    # or without sox, multi-channel WAV/FLAC/MP3... as mono WAV copies in data/all/mono_wav/)
speaker=@CORPUS@    # one speaker for every file, unless speaker_from_dir or speaker_regex
speaker_from_dir=false  # true: the speaker is the first folder below the audio folder
speaker_regex=      # or: group 1 of this pattern on the path, e.g. '^([a-z]+)_' for alice_001.wav
sample_rate=        # e.g. 16000: convert every file to it through sox; for audio not at conf/fbank.yaml's rate, or
                    # leave it empty and run ./run.sh --fbank-args --resample (in-process, no sox)
channel=            # e.g. 1: of files with several channels take channel 1 (0-based; the speaker's side of a
                    # stereo recording) instead of their average (through sox, or a mono copy); mono files as they are
# Text normalisation, for what a recogniser can hear: upper case (one token per letter for a char
# model; "The" and "the" score alike) and punctuation dropped (it is hardly audible; "trail," would
# be a word error against "trail"). keep/keep leaves the transcripts as they are.
text_case=upper     # keep | upper | lower
punctuation=drop    # keep | drop (an apostrophe inside a word stays)
dev_fraction=0.05   # share of utterances held out for validation (at least 1)
test_fraction=0.05  # share held out for the test set (0 and no --test-list: no test set)
dev_list=           # or: a file of utterance ids for dev (first column)
test_list=          # or: a file of utterance ids for test
by_speaker=false    # true: draw whole speakers for dev and test
seed=1              # the draw's seed: the same seed, the same split
max_skip_ratio=0.05 # fail when more than this share of files/transcripts is skipped
# ---- end of configuration section ----
. utils/parse_options.sh

die() { echo "$0: ERROR: $*" >&2; exit 1; }
[ $# -eq 0 ] || die "unexpected arguments: $* (see --help)"
# A relative path starting with '-' (a corpus folder named -2024-recordings) reached the commands
# below as an option ("No such option '-2'"): such paths get ./ in front.
dash_safe() { case $1 in -?*) printf '%s\n' "./$1" ;; *) printf '%s\n' "$1" ;; esac; }
corpus_root=$(dash_safe "$corpus_root"); transcripts=$(dash_safe "$transcripts")
dev_list=$(dash_safe "$dev_list"); test_list=$(dash_safe "$test_list")
[ -n "$corpus_root" ] || die "--corpus-root is required (the folder holding the corpus)"
[ -d "$corpus_root" ] || die "--corpus-root $corpus_root: no such directory"
audio_dir=$corpus_root${audio_subdir:+/$audio_subdir}
[ -d "$audio_dir" ] || die "--audio-subdir $audio_subdir: no such directory $audio_dir"

# data/ is rewritten piece by piece below: one that failed part-way (a --dev-list id not in the
# new data/all, a set refused by validation) left the last split's sets beside the new data/all,
# and ./run.sh --stage 1 went on with them. run.sh refuses data/ while this marker is there.
. utils/stage0_options.sh
mkdir -p data/local
stage0_mark_unfinished
rm -f data/stage0_options

# ---- a transcript format of the corpus's own, written as (a) here (see the top), e.g. ----
# awk -F'|' '{ print $1, $NF }' "$corpus_root/metadata.csv" > data/local/prompts.txt
# (The header's example was to be put "first": above, $corpus_root was not set yet, and in a new
# recipe data/local/ did not exist: 'data/local/prompts.txt: No such file or directory'.)
# ---- end ----

opts=(--text-ext "$text_ext" --audio-ext "$audio_ext" --case "$text_case" --punctuation "$punctuation"
  --max-skip-ratio "$max_skip_ratio")
if [ -n "$transcripts" ]; then
  [ -f "$transcripts" ] || [ ! -f "$corpus_root/$transcripts" ] || transcripts=$corpus_root/$transcripts
  [ -f "$transcripts" ] || die "--transcripts $transcripts: no such file (here or below $corpus_root)"
  opts+=(--transcripts "$transcripts")
fi
if [ "$speaker_from_dir" = true ]; then opts+=(--speaker-from-dir)
elif [ -n "$speaker_regex" ]; then opts+=(--speaker-regex "$speaker_regex")
else opts+=(--speaker "$speaker"); fi
[ -z "$sample_rate" ] || opts+=(--sample-rate "$sample_rate")
[ -z "$channel" ] || opts+=(--channel "$channel")
asrkit-make-data-dir "${opts[@]}" "$audio_dir" data/all

split=(--seed "$seed")
if [ -n "$dev_list" ]; then split+=(--dev-list "$dev_list"); else split+=(--dev-fraction "$dev_fraction"); fi
if [ -n "$test_list" ]; then split+=(--test-list "$test_list"); else split+=(--test-fraction "$test_fraction"); fi
if [ "$by_speaker" = true ]; then split+=(--by-speaker); fi
asrkit-holdout-lists "${split[@]}" data/all data/local

summary=
for set in train dev test; do
  rm -rf "data/$set"   # a set of an earlier split must not outlive it
  [ -f "data/local/$set.list" ] || continue
  utils/subset_data_dir.sh --utt-list "data/local/$set.list" data/all "data/$set"
  asrkit-validate-data-dir --no-feats "data/$set"
  summary="$summary data/$set ($(wc -l < "data/$set/utt2spk"))"
done
stage0_record "corpus-root=$(realpath -m -- "$corpus_root")"   # what ./run.sh --corpus-root is checked against
rm -f data/stage0_unfinished
echo "$0:$summary from $audio_dir" >&2
