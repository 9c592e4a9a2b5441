#!/usr/bin/env bash
# Stage 0 of the yesno recipe: Kaldi data dirs from the waves_yesno recordings.
# The transcript is the file name (1 = YES, 0 = NO), one speaker. 30 files train,
# 30 test, as in Kaldi, but not Kaldi's halves: Kaldi
# (local/create_yesno_waves_test_train.pl) trains on the first half of the sorted
# list, i.e. only on files that start with "no" (0_*), which an HMM system does
# not mind but an attention decoder learns as "every utterance starts with NO"
# (measured: 26 inserted NOs on the 29 test files that start with YES). So the
# files alternate in sorted order: 1st, 3rd, ... train; 2nd, 4th, ... test. Every
# 6th training file is held out for validation (asrkit-train needs a validation
# set):
#   data/train (30) = data/train_nodev (25) + data/train_dev (5);  data/test (30)
#   e.g. local/data.sh --yesno-root corpus
set -euo pipefail
# Paths below (data/, utils/, conf/) are the recipe directory's: started from elsewhere, bash's
# "./path.sh: No such file or directory" was all it said.
[ -f ./path.sh ] || { echo "$0: run me from my recipe directory: cd $(cd "$(dirname "$0")/.." && pwd) && local/$(basename "$0") (no ./path.sh in $(pwd))" >&2; exit 1; }
. ./path.sh
yesno_root=corpus   # folder holding waves_yesno/*.wav (default: the copy shipped with the recipe)
num_dev=5           # training files held out for validation (evenly spread)
. utils/parse_options.sh

die() { echo "$0: ERROR: $*" >&2; exit 1; }
[ $# -eq 0 ] || die "unexpected arguments: $* (see --help)"
[[ "$num_dev" =~ ^[0-9]+$ ]] && [ "$num_dev" -ge 1 ] || die "--num-dev '$num_dev': asrkit-train needs a validation set of 1 file or more"
waves=$yesno_root/waves_yesno
# A folder this user cannot open was bash's "line 38: cd: ...: Permission denied" (waves_yesno/)
# or "no waves_yesno/ folder there" (--yesno-root itself). --yesno-root is only passed through
# (waves_yesno/ is listed, not it): one of mode 711, as shared home folders are, is enough.
cannot_open() {  # <folder> <test...>: die when it is a folder that fails one of the tests
  local f=$1 t; shift
  [ -d "$f" ] || return 0
  for t in "$@"; do
    [ "$t" "$f" ] || die "--yesno-root $yesno_root: $(id -un) cannot read the folder $f ($(stat -c %A -- "$f"))"
  done
}
cannot_open "$yesno_root" -x
cannot_open "$waves" -r -x
if [ ! -d "$waves" ]; then
  # The folder of waves itself, given for the one holding it (as Kaldi's waves_yesno is unpacked):
  # said as such, not only "no waves_yesno/ folder there".
  if [ -d "$yesno_root" ] && compgen -G "$yesno_root/[01]_*.wav" > /dev/null; then
    if [ "$(basename -- "$(cd "$yesno_root" && pwd)")" = waves_yesno ]; then
      die "--yesno-root $yesno_root: that is the waves_yesno folder itself; give the folder holding it: --yesno-root $(dirname -- "$yesno_root")"
    fi
    die "--yesno-root $yesno_root: that is a folder of the waves itself; --yesno-root is the folder holding them as waves_yesno/ (e.g. mkdir yesno && ln -s $(cd "$yesno_root" && pwd) yesno/waves_yesno, then --yesno-root yesno)"
  fi
  die "--yesno-root $yesno_root: no waves_yesno/ folder there"
fi
# -P: a waves_yesno that is a link to the folder is listed too (find lists a link given as its
# start point as the link itself, not the files of the folder it points to: "found 0 .wav files").
waves=$(cd "$waves" && pwd -P)

mkdir -p data/local
# -iname: a copy made on Windows or a FAT card has 0_1_1_0.WAV, which '-name *.wav' left out with
# only a count in a warning.
find "$waves" -maxdepth 1 -iname '*.wav' -printf '%f\n' | LC_ALL=C sort > data/local/waves.list
total=$(wc -l < data/local/waves.list)
[ "$total" -ge 4 ] || die "$waves: found $total .wav files, expected 60"
bad=$(grep -Eiv '^[01](_[01])*\.wav$' data/local/waves.list | sed -n 1p || true)
[ -z "$bad" ] || die "$waves/$bad: name is not a yes/no sequence like 0_1_1_0_0_1_0_1.wav"
# Named like a recording but not a WAV file (0_1_1_0.flac, 0_1_1_0.wav.bak): left out, and said
# (it went as one more missing file of the count below, or unseen).
other=$(find "$waves" -maxdepth 1 ! -iname '*.wav' -printf '%f\n' | grep -E '^[01](_[01])*\.' | LC_ALL=C sort || true)
if [ -n "$other" ]; then
  echo "$0: WARNING: $waves: $(wc -l <<< "$other") file(s) named like recordings but not .wav, left out:" \
    "$(head -3 <<< "$other" | paste -sd, - | sed 's/,/, /g')$([ "$(wc -l <<< "$other")" -le 3 ] || echo ', ...')" >&2
fi
twice=$(sed 's/\.[^.]*$//' data/local/waves.list | uniq -d | sed -n 1p)
[ -z "$twice" ] || die "$waves: two recordings of $twice (.wav and .WAV): keep one"
# A folder named like a recording was listed, counted and put in wav.scp, for stage 1 to stop
# at validation ("is a directory"); a recording that is a link to a file is fine.
while IFS= read -r f; do
  [ ! -d "$waves/$f" ] || die "$waves/$f: is a folder, not a recording"
done < data/local/waves.list
[ "$total" -eq 60 ] || echo "$0: WARNING: $waves has $total recordings, the corpus has 60" >&2

awk 'NR % 2 == 1' data/local/waves.list > data/local/train.list
awk 'NR % 2 == 0' data/local/waves.list > data/local/test.list

# The sets run.sh trains on go first, as AN4's data.sh does: a stage 0 stopped part-way (Ctrl-C,
# a failure below) left the last run's data/train_nodev and data/train_dev beside a new
# data/train and data/test, and a run from --stage 1 trained and tested on the mix with exit 0;
# now it stops at "no data/train_nodev ...: run stage 0 first".
rm -rf data/train_dev data/train_nodev
for set in train test; do
  dir=data/$set
  mkdir -p "$dir"
  # One anonymous speaker, named "yesno"; utterance ids start with it (Kaldi's sorting rule).
  awk -v w="$waves" '{ id = $1; sub(/\.[^.]*$/, "", id); print "yesno-" id, w "/" $1 }' "data/local/$set.list" > "$dir/wav.scp"
  sed 's/\.[^.]*$//' "data/local/$set.list" | awk '{
      n = split($1, b, "_"); s = "yesno-" $1
      for (i = 1; i <= n; i++) s = s " " (b[i] == "1" ? "YES" : "NO")
      print s }' > "$dir/text"
  awk '{ print $1, "yesno" }' "$dir/wav.scp" > "$dir/utt2spk"
  utils/utt2spk_to_spk2utt.sh "$dir/utt2spk" > "$dir/spk2utt"
done
n_train=$(wc -l < data/train/utt2spk)
# A smaller corpus than Kaldi's 60 files: at least one training file stays in train_nodev (fewer
# than 2 * num_dev training files made the step 0, and awk's "NR % 0" selected nothing).
if [ $(( 2 * num_dev )) -gt "$n_train" ]; then
  echo "$0: WARNING: $n_train training files: $(( n_train / 2 )) for train_dev instead of --num-dev $num_dev" >&2
  num_dev=$(( n_train / 2 ))
fi
step=$(( n_train / num_dev ))
awk -v s="$step" -v n="$num_dev" 'NR % s == 0 && NR / s <= n { print $1 }' data/train/utt2spk > data/local/dev.list
awk 'NR == FNR { d[$1] = 1; next } !($1 in d) { print $1 }' data/local/dev.list data/train/utt2spk > data/local/nodev.list
utils/subset_data_dir.sh --utt-list data/local/dev.list data/train data/train_dev
utils/subset_data_dir.sh --utt-list data/local/nodev.list data/train data/train_nodev
echo "$0: data/train_nodev ($(wc -l < data/local/nodev.list)), data/train_dev ($(wc -l < data/local/dev.list)), data/test ($(wc -l < data/test/utt2spk)) from $waves" >&2
