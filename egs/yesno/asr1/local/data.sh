#!/usr/bin/env bash
# Stage 0 of the yesno recipe: Kaldi data dirs from the waves_yesno recordings.
# The transcript is the file name (1 = YES, 0 = NO), one speaker. The split is Kaldi's
# (egs/yesno/s5/local/create_yesno_waves_test_train.pl): of the 60 files in sorted order, the
# first half trains and the second half tests. asrkit needs a validation set for training, so
# the last 5 training files are held out as train_dev:
#   data/train (30) = data/train_nodev (25) + data/train_dev (5);  data/test (30)
#   e.g. local/data.sh --yesno-root corpus
set -euo pipefail
. ./path.sh
yesno_root=corpus   # folder holding waves_yesno/*.wav (default: the copy shipped with the recipe)
num_dev=5           # training files held out for validation
. utils/parse_options.sh

die() { echo "$0: ERROR: $*" >&2; exit 1; }
[ $# -eq 0 ] || die "unexpected arguments: $* (see --help)"
waves=$yesno_root/waves_yesno
[ -d "$waves" ] || die "--yesno-root $yesno_root: no waves_yesno/ folder there"
waves=$(cd "$waves" && pwd)

mkdir -p data/local
find "$waves" -maxdepth 1 -name '*.wav' -printf '%f\n' | LC_ALL=C sort > data/local/waves.list
total=$(wc -l < data/local/waves.list)
[ "$total" -ge 4 ] || die "$waves: found $total .wav files, expected 60"
bad=$(grep -Ev '^[01](_[01])*\.wav$' data/local/waves.list | head -1 || true)
[ -z "$bad" ] || die "$waves/$bad: name is not a yes/no sequence like 0_1_1_0_0_1_0_1.wav"
[ "$total" -eq 60 ] || echo "$0: WARNING: $waves has $total recordings, the corpus has 60" >&2

half=$(( total / 2 ))
head -n "$half" data/local/waves.list > data/local/train.list
tail -n +"$(( half + 1 ))" data/local/waves.list > data/local/test.list

for set in train test; do
  dir=data/$set
  mkdir -p "$dir"
  # One anonymous speaker, named "yesno"; utterance ids start with it (Kaldi's sorting rule).
  sed 's/\.wav$//' "data/local/$set.list" | awk -v w="$waves" '{ print "yesno-" $1, w "/" $1 ".wav" }' > "$dir/wav.scp"
  sed 's/\.wav$//' "data/local/$set.list" | awk '{
      n = split($1, b, "_"); s = "yesno-" $1
      for (i = 1; i <= n; i++) s = s " " (b[i] == "1" ? "YES" : "NO")
      print s }' > "$dir/text"
  awk '{ print $1, "yesno" }' "$dir/wav.scp" > "$dir/utt2spk"
  utils/utt2spk_to_spk2utt.sh "$dir/utt2spk" > "$dir/spk2utt"
done
utils/subset_data_dir.sh --last "$num_dev" data/train data/train_dev
utils/subset_data_dir.sh --first "$(( half - num_dev ))" data/train data/train_nodev
echo "$0: data/train_nodev ($(( half - num_dev ))), data/train_dev ($num_dev), data/test ($(( total - half ))) from $waves" >&2
