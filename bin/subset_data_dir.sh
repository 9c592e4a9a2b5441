#!/usr/bin/env bash
# Copy part of a Kaldi data dir: the first N, the last N utterances, those in a list, or those of
# the speakers in a list (Kaldi's --spk-list), with
# every per-utterance table filtered to match (wav.scp/reco2file_and_channel by recording when
# there are segments, spk2gender by speaker) and spk2utt rebuilt. The subset of a sorted dir is sorted.
#   e.g. bin/subset_data_dir.sh --first 100 data/train data/train_dev
#        bin/subset_data_dir.sh --last 848 data/train data/train_nodev
#        bin/subset_data_dir.sh --first data/train 100 data/train_dev   # Kaldi's order, the same
#        bin/subset_data_dir.sh --utt-list dev.list data/train data/dev
#        bin/subset_data_dir.sh --spk-list dev_spk.list data/train data/dev
#        bin/subset_data_dir.sh data/train 1000 data/train_1k   # Kaldi's: N spread evenly over the dir
set -euo pipefail
first=0
last=0
utt_list=
spk_list=
help_message="Usage: $0 (--first N | --last N | --utt-list FILE | --spk-list FILE) <src-data-dir> <dest-data-dir>
   or: $0 <src-data-dir> N <dest-data-dir>   (N utterances spread evenly over the dir, as Kaldi's)
e.g.: $0 --first 100 data/train data/train_dev"
# Kaldi's utils/subset_data_dir.sh takes --first/--last as flags with the count in the middle:
# '--first data/train 100 data/dev' was "option --first takes an integer, got 'data/train'".
if [ $# -eq 4 ] && { [ "$1" = --first ] || [ "$1" = --last ]; } && ! [[ "$2" =~ ^[0-9]+$ ]] \
    && [[ "$3" =~ ^[0-9]+$ ]]; then
  set -- "$1" "$3" "$2" "$4"
fi
. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh"
. "$(dirname "${BASH_SOURCE[0]}")/data_lock.sh"

die() { echo "$0: $*" >&2; exit 1; }
# Kaldi's most common call, '<src> <num-utt> <dest>', was "expected <src-data-dir> <dest-data-dir>".
spread=0
if [ $# -eq 3 ]; then
  [[ "$2" =~ ^[0-9]{1,15}$ ]] && [ "$((10#$2))" -gt 0 ] \
    || die "expected <src-data-dir> <num-utt> <dest-data-dir>, got '$2' for <num-utt> (a number > 0)"
  spread=$((10#$2))
  set -- "$1" "$3"
fi
[ $# -eq 2 ] || die "expected <src-data-dir> <dest-data-dir> (see --help)"
src=$1; dest=$2
# (mkdir's "File exists" was all that said so, after the subset was made; for a folder under a file,
# mkdir's "Not a directory", without this script's name)
[ ! -e "$dest" ] || [ -d "$dest" ] || die "$dest: exists and is not a directory (<dest-data-dir>)"
in_way=$dest; while [ ! -e "$in_way" ] && [ ! -L "$in_way" ]; do in_way=$(dirname -- "$in_way"); done
# (a link to no folder, a scratch disk not mounted, was called a file)
if [ -L "$in_way" ] && [ ! -e "$in_way" ]; then
  die "$dest: $([ "$in_way" = "$dest" ] || echo "$in_way: ")a broken symbolic link (to $(readlink -- "$in_way"), which does not exist) (<dest-data-dir>)"
fi
[ -d "$in_way" ] || die "$dest: $in_way is a file, not a directory (<dest-data-dir>)"
[ -f "$src/utt2spk" ] || die "$src/utt2spk: no such file (not a data dir?)"
# <dest> is made only once the subset is complete: a bad option or a failure part-way left an
# empty <dest>, or the new utt2spk and text beside an emptied spk2utt in an earlier subset's place.
[ ! -d "$dest" ] || [ "$(cd "$src" && pwd -P)" != "$(cd "$dest" && pwd -P)" ] \
  || die "source and destination are the same dir: $src"

tmp=$(mktemp -d)
stage=
made_dest=
cleanup() {
  status=$?
  rm -rf "$tmp"
  [ -z "$stage" ] || rm -rf "$stage"
  # a <dest> this run created and could not fill goes too
  [ "$status" -eq 0 ] || [ -z "$made_dest" ] || rmdir "$dest" 2>/dev/null || true
}
trap cleanup EXIT
out=$tmp/out
mkdir "$out"
# Lines, not newlines: 'wc -l' missed a last line without its newline ("2 of 15 utterances" of 16,
# and --first 16 refused as more than there are).
total=$(awk 'END { print NR }' "$src/utt2spk")
# list_readable <option> <file>: a list given as a file, or as a pipe (--utt-list <(head dev.list)),
# which is read once; '-f' refused the pipe as "no such file".
list_readable() {
  [ -e "$2" ] || die "$1 $2: no such file"
  [ ! -d "$2" ] || die "$1 $2: is a directory, not a list of ids"
}
[ "$first" -ge 0 ] && [ "$last" -ge 0 ] || die "--first and --last take a number of utterances, got $first and $last"
# Two of them: --first won and the others were ignored without a word.
[ $(( (first > 0) + (last > 0) + (${#utt_list} > 0) + (${#spk_list} > 0) + (spread > 0) )) -le 1 ] \
  || die "give only one of --first N, --last N, --utt-list FILE, --spk-list FILE, <num-utt>"
if [ "$first" -gt 0 ]; then
  [ "$first" -le "$total" ] || die "--first $first: $src has only $total utterances"
  head -n "$first" "$src/utt2spk" | awk '{ print $1 }' > "$tmp/utts"
elif [ "$last" -gt 0 ]; then
  [ "$last" -le "$total" ] || die "--last $last: $src has only $total utterances"
  tail -n "$last" "$src/utt2spk" | awk '{ print $1 }' > "$tmp/utts"
elif [ -n "$utt_list" ]; then
  list_readable --utt-list "$utt_list"
  # The first column of each line (a text or utt2spk works as a list), without a Windows \r or a
  # UTF-8 byte-order mark (which made the first id one no table has, named in a warning as an id
  # that looked the same as one of utt2spk's).
  awk '{ sub(/\r$/, "") } FNR == 1 { sub(/^\357\273\277/, "") } NF { print $1 }' "$utt_list" > "$tmp/utts"
elif [ "$spread" -gt 0 ]; then
  [ "$spread" -le "$total" ] || die "<num-utt> $spread: $src has only $total utterances"
  # Lines int(i * total / N), i = 0..N-1: every part of the dir (each speaker, in a sorted one)
  # has its share, as Kaldi's subset_scp.pl picks them.
  awk -v n="$spread" -v total="$total" 'BEGIN { j = 0 } { while (j < n && int(j * total / n) == NR - 1) {
       print $1; j++ } }' "$src/utt2spk" > "$tmp/utts"
elif [ -n "$spk_list" ]; then
  list_readable --spk-list "$spk_list"
  # The first column, as --utt-list's (a spk2utt or spk2gender works as a list).
  awk '{ sub(/\r$/, "") } FNR == 1 { sub(/^\357\273\277/, "") } NF { print $1 }' "$spk_list" > "$tmp/spk_list"
  awk 'NR == FNR { k[$1] = 1; next } { sub(/\r$/, "") } ($2 in k) { print $1 }' "$tmp/spk_list" "$src/utt2spk" \
    > "$tmp/utts"
  awk 'NR == FNR { sub(/\r$/, ""); k[$2] = 1; next } !($1 in k)' "$src/utt2spk" "$tmp/spk_list" > "$tmp/missing"
  if [ -s "$tmp/missing" ]; then
    echo "$0: WARNING: $(wc -l < "$tmp/missing") speaker(s) of $spk_list are not in $src/utt2spk:" \
      "$(head -5 "$tmp/missing" | tr '\n' ' ')" >&2
  fi
else
  die "give one of --first N, --last N, --utt-list FILE, --spk-list FILE"
fi

# filter <keys> <table>: the lines of <table> whose first field is in <keys>, in table order.
filter() { awk 'NR == FNR { k[$1] = 1; next } ($1 in k)' "$1" "$2"; }

# (utt2sample_rate and fbank.yaml, which stage 1 writes into a dump dir: a subset of one lost them,
# and asrkit-train on it packed a model without its feature options or the rates it resampled up)
utt_tables="utt2spk text segments feats.scp utt2num_frames utt2dur utt2uniq utt2lang utt2sample_rate"
reco_tables="wav.scp reco2file_and_channel reco2dur"
for f in $utt_tables; do
  [ ! -f "$src/$f" ] || filter "$tmp/utts" "$src/$f" > "$out/$f"
done
if [ -f "$src/segments" ]; then
  awk '{ print $2 }' "$out/segments" | sort -u > "$tmp/recos"
else
  cp "$tmp/utts" "$tmp/recos"   # no segments: a recording is an utterance
fi
for f in $reco_tables; do
  [ ! -f "$src/$f" ] || filter "$tmp/recos" "$src/$f" > "$out/$f"
done
# spk2gender and cmvn.scp of the subset's speakers only: the whole file listed speakers the
# subset lacks, which asrkit-validate-data-dir refuses (as Kaldi's does). (cmvn.scp was not
# copied at all, and one left in <dest> by an earlier data dir stayed beside the new utt2spk.)
spk_tables="spk2gender cmvn.scp"
awk '{ sub(/\r$/, ""); print $2 }' "$out/utt2spk" | sort -u > "$tmp/spks"
for f in $spk_tables; do
  [ ! -f "$src/$f" ] || filter "$tmp/spks" "$src/$f" > "$out/$f"
done
# An optional table with no line for the subset's speakers or recordings (a spk2gender that lacks
# some speakers, a warning in validation) is left out: written empty, asrkit-validate-data-dir
# refused the subset of a valid dir ("empty file"), as split- and fix-data-dir once did.
for f in spk2gender reco2file_and_channel reco2dur; do
  [ ! -f "$out/$f" ] || [ -s "$out/$f" ] || rm -f "$out/$f"
done
n=$(wc -l < "$out/utt2spk")
[ "$n" -gt 0 ] || die "no utterances of $src selected"
if [ -n "$utt_list" ]; then
  # An id of the list that is not in the source is named, not silently left out.
  awk 'NR == FNR { k[$1] = 1; next } !($1 in k)' "$src/utt2spk" "$tmp/utts" > "$tmp/missing"
  if [ -s "$tmp/missing" ]; then
    echo "$0: WARNING: $(wc -l < "$tmp/missing") id(s) of $utt_list are not in $src/utt2spk:" \
      "$(head -5 "$tmp/missing" | tr '\n' ' ')" >&2
  fi
fi
# A malformed utt2spk line of the subset, named by the source's file and line (the subset is
# made in a temporary folder, whose name would mean nothing).
awk 'NR == FNR { k[$1] = 1; next } { sub(/\r$/, "") } ($1 in k) && NF != 2 {
       printf "%s:%d: expected \"<utt> <spk>\", got \"%s\"\n", FILENAME, FNR, $0 > "/dev/stderr"; exit 1 }' \
  "$tmp/utts" "$src/utt2spk" || die "$src/utt2spk: malformed (nothing written to $dest)"
"$(dirname "${BASH_SOURCE[0]}")/utt2spk_to_spk2utt.sh" "$out/utt2spk" > "$out/spk2utt"
for f in cmvn.ark fbank.yaml; do [ ! -f "$src/$f" ] || cp "$src/$f" "$out/$f"; done

# The whole subset is made; now into <dest>: copied to a folder inside it (the same file system,
# so a full disk or a read-only <dest> fails here, with <dest> as it was), then each table
# renamed into place. A table the source lacks goes from <dest> too: one left from an earlier
# subset into the same dir (another list, or a source that had segments or feats.scp then)
# would describe other utterances than the new utt2spk.
if [ ! -d "$dest" ]; then
  mkdir -p "$dest"
  made_dest=1
fi
# A run SIGKILLed past this point left its folder (no EXIT trap runs), and
# asrkit-perturb-data-dir-speed then refused <dest> as no data dir: removed here, once no other
# run writes into <dest>.
if take_dir_lock "$dest"; then rm -rf -- "$dest"/.subset.??????; fi
stage=$(mktemp -d "$dest/.subset.XXXXXX")
cp "$out"/* "$stage/"
for f in $utt_tables $reco_tables $spk_tables spk2utt cmvn.ark fbank.yaml; do
  if [ -f "$stage/$f" ]; then mv -f "$stage/$f" "$dest/$f"; else rm -f "$dest/$f"; fi
done
echo "$0: $n of $total utterances of $src -> $dest" >&2
