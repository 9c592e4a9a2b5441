#!/usr/bin/env bash
# Stage 0 of the AN4 recipe: Kaldi data dirs with ESPnet's split.
#   data/train (948) = data/train_dev (the first 100, sorted by utterance id)
#                    + data/train_nodev (the other 848);   data/test (130)
# With --an4-root, AN4 is read in place (16 kHz WAV under wav/an4_clstk,
# wav/an4test_clstk and etc/an4_{train,test}.transcription, the layout of CMU's
# SphinxTrain copy). Without it, CMU's official tarball (an4_raw.bigendian.tar.gz,
# 64 MB, headerless big-endian audio) is downloaded into downloads/ (resumed if
# interrupted) and converted to WAV beside the .raw files.
#   e.g. local/data.sh --an4-root /work/shared/corpora/an4
#        local/data.sh                        # download first
set -euo pipefail
# Paths below (data/, utils/, conf/) are the recipe directory's: started from elsewhere, bash's
# "./path.sh: No such file or directory" was all it said, after the script's path as $0.
[ -f ./path.sh ] || { echo "$0: run me from my recipe directory: cd $(cd "$(dirname "$0")/.." && pwd) && local/$(basename "$0") (no ./path.sh in $(pwd))" >&2; exit 1; }
. ./path.sh
an4_root=           # a copy of AN4 with WAV audio; empty: download CMU's tarball into downloads/
download_dir=downloads
url=http://www.speech.cs.cmu.edu/databases/an4/an4_raw.bigendian.tar.gz
num_dev=100         # utterances of train held out as train_dev (ESPnet: 100)
max_utts=0          # keep only the first N utterances of train and test (0: all; a quick slice)
. utils/parse_options.sh

die() { echo "$0: ERROR: $*" >&2; exit 1; }
[ $# -eq 0 ] || die "unexpected arguments: $* (see --help)"

if [ -z "$an4_root" ]; then
  local/download.sh --url "$url" "$download_dir"
  an4_root=$download_dir/an4
fi
if ! { [ -d "$an4_root/etc" ] && [ -d "$an4_root/wav" ]; }; then
  # (the folder holding the copy given for the copy: CMU's tarball unpacks into an4/)
  [ ! -d "$an4_root/an4/etc" ] || die "--an4-root $an4_root: expected etc/ and wav/ there; they are in $an4_root/an4: give --an4-root $an4_root/an4"
  die "--an4-root $an4_root: expected etc/ and wav/ there"
fi

[ "$max_utts" -ge 0 ] || die "--max-utts must be 0 (all utterances) or more, got $max_utts"
[[ "$num_dev" =~ ^[0-9]+$ ]] && [ "$num_dev" -ge 1 ] || die "--num-dev '$num_dev': asrkit-train needs a train_dev of 1 utterance or more"
# This stage's sets of an earlier run go first: a failure below must not leave them beside a new
# data/train, for stage 1 to take as made from it.
rm -rf data/train_dev data/train_nodev
local/data_prep.py --max-utts "$max_utts" "$an4_root" data
total=$(wc -l < data/train/utt2spk)
[ "$total" -gt "$num_dev" ] || die "data/train has $total utterances, not more than --num-dev $num_dev" \
  "(the utterances held out as train_dev: give a smaller --num-dev, e.g. $(( total / 10 > 0 ? total / 10 : 1 )); run.sh takes it too)"
utils/subset_data_dir.sh --first "$num_dev" data/train data/train_dev
utils/subset_data_dir.sh --last "$(( total - num_dev ))" data/train data/train_nodev
echo "$0: data/train_nodev ($(( total - num_dev ))), data/train_dev ($num_dev), data/test ($(wc -l < data/test/utt2spk)) from $an4_root" >&2
