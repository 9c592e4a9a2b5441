#!/usr/bin/env bash
# Turn an utt2spk table into spk2utt: speakers sorted in C-locale order, as every table must be,
# each with its utterances in utt2spk's order. (Kaldi's utt2spk_to_spk2utt.pl keeps the speakers'
# first-seen order, which is sorted only when no speaker id is another's followed by '-' or '+':
# speakers 'john' and 'john-smith' with utterances john-take1 and john-smith-a1 come out as
# john-smith, john, and asrkit-validate-data-dir refuses the subset or combination made with it.)
#   e.g. bin/utt2spk_to_spk2utt.sh data/train/utt2spk > data/train/spk2utt
set -euo pipefail
if [ $# -ne 1 ] || [ "$1" = --help ] || [ "$1" = -h ]; then
  echo "Usage: $0 <utt2spk> > <spk2utt>" >&2
  echo "e.g.: $0 data/train/utt2spk > data/train/spk2utt" >&2
  [ $# -eq 1 ] && exit 0 || exit 1
fi
[ -f "$1" ] || { echo "$0: $1: no such file" >&2; exit 1; }
# A Windows line end (\r) would stay on the speaker id, the last field: "spk0\r utt1 utt2".
awk '
  { sub(/\r$/, "") }
  NF != 2 { printf "%s:%d: expected \"<utt> <spk>\", got \"%s\"\n", FILENAME, FNR, $0 > "/dev/stderr"; bad = 1; exit 1 }
  !($2 in u) { order[n++] = $2 }
  { u[$2] = u[$2] " " $1 }
  END { if (bad) exit 1; for (i = 0; i < n; i++) print order[i] u[order[i]] }
' "$1" | LC_ALL=C sort -k1,1
