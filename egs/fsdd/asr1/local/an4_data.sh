#!/usr/bin/env bash
# AN4's 84 voices (train and test sets, 16 kHz) as one 8 kHz data dir for FSDD
# training: more speakers than FSDD's five is what a model needs to hold up on a
# voice it never heard. AN4's own split does not matter here: none of its speakers
# is an FSDD speaker. --words digits keeps the utterances made of digit words (OH
# read as ZERO), --words all every utterance (spelled letters, commands, numbers:
# a char model then also learns to spell). --resample says how the 16 kHz audio
# reaches 8 kHz: "none" (plain paths, for asrkit-compute-fbank --resample,
# in-process) or "sox" (a pipe per wav.scp entry, Kaldi style). With no
# --an4-root, CMU's AN4 tarball is downloaded into --download-dir, as the AN4
# recipe does.
#   e.g. local/an4_data.sh --an4-root /work/shared/corpora/an4 data/an4_8k
set -euo pipefail
# Paths below (data/, utils/, conf/) are the recipe directory's: started from elsewhere, bash's
# "./path.sh: No such file or directory" was all it said, after the script's path as $0.
[ -f ./path.sh ] || { echo "$0: run me from my recipe directory: cd $(cd "$(dirname "$0")/.." && pwd) && local/$(basename "$0") (no ./path.sh in $(pwd))" >&2; exit 1; }
. ./path.sh
an4_root=           # a copy of AN4 (etc/, wav/ with 16 kHz WAV); empty: download CMU's tarball
download_dir=downloads
words=digits        # digits | all
resample=none       # none | sox
. utils/parse_options.sh

die() { echo "$0: ERROR: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "expected one argument, the output data dir (see --help)"
out=$1
# (an empty one wrote wav.scp, text, utt2spk and spk2utt into the current directory, the recipe's)
[ -n "$out" ] || die "the output data dir is empty (e.g. data/an4_8k)"
an4_recipe=$ASRKIT_ROOT/egs/an4/asr1
case $words in digits|all) ;; *) die "--words must be digits or all, got '$words'" ;; esac
case $resample in
  sox) command -v sox > /dev/null || die "--resample sox: sox is not installed (apt-get install sox)" ;;
  none) ;;
  *) die "--resample must be sox or none, got '$resample'" ;;
esac

if [ -z "$an4_root" ]; then
  "$an4_recipe/local/download.sh" "$download_dir"
  an4_root=$download_dir/an4
fi
if ! { [ -d "$an4_root/etc" ] && [ -d "$an4_root/wav" ]; }; then
  # (the folder holding the copy given for the copy: CMU's tarball unpacks into an4/)
  [ ! -d "$an4_root/an4/etc" ] || die "--an4-root $an4_root: expected etc/ and wav/ there; they are in $an4_root/an4: give --an4-root $an4_root/an4"
  die "--an4-root $an4_root: expected etc/ and wav/ there"
fi

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "${out%/}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$an4_recipe/local/data_prep.py" "$an4_root" "$tmp"   # -> $tmp/{train,test}, 16 kHz
rm -rf "$out"
local/an4_to_fsdd.py --words "$words" --resample "$resample" "$tmp/train" "$tmp/test" "$out"
