#!/usr/bin/env bash
# Turn an utt2spk table into spk2utt: speakers sorted in C-locale order, as every table must be,
# each with its utterances in utt2spk's order. (Kaldi's utt2spk_to_spk2utt.pl keeps the speakers'
# first-seen order, which is sorted only when no speaker id is another's followed by '-' or '+':
# speakers 'john' and 'john-smith' with utterances john-take1 and john-smith-a1 come out as
# john-smith, john, and asrkit-validate-data-dir refuses the subset or combination made with it.)
# As Kaldi's, it reads its standard input when given no file (or '-').
#   e.g. bin/utt2spk_to_spk2utt.sh data/train/utt2spk > data/train/spk2utt
#        bin/utt2spk_to_spk2utt.sh < data/train/utt2spk > data/train/spk2utt
set -euo pipefail
usage() {
  echo "Usage: $0 [<utt2spk>] > <spk2utt>   (no <utt2spk>, or '-': the standard input)" >&2
  echo "e.g.: $0 data/train/utt2spk > data/train/spk2utt" >&2
}
if [ $# -gt 1 ] || [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  usage
  [ $# -eq 1 ] && exit 0 || exit 1
fi
# (no file and a terminal for input: the usage, not a wait for lines typed)
if [ $# -eq 0 ] && [ -t 0 ]; then usage; exit 1; fi
in=${1:--}
# A file, or a pipe (<(sort utt2spk)): '-f' refused the pipe as "no such file".
if [ "$in" != - ]; then
  [ -e "$in" ] || { echo "$0: $in: no such file" >&2; exit 1; }
  [ ! -d "$in" ] || { echo "$0: $in: is a directory, not an utt2spk file" >&2; exit 1; }
fi
# A Windows line end (\r) would stay on the speaker id, the last field: "spk0\r utt1 utt2".
awk -v name="$([ "$in" = - ] && echo "(standard input)" || echo "$in")" '
  { sub(/\r$/, "") }
  NF != 2 { printf "%s:%d: expected \"<utt> <spk>\", got \"%s\"\n", name, FNR, $0 > "/dev/stderr"; bad = 1; exit 1 }
  !($2 in u) { order[n++] = $2 }
  { u[$2] = u[$2] " " $1 }
  END { if (bad) exit 1; for (i = 0; i < n; i++) print order[i] u[order[i]] }
' "$in" | LC_ALL=C sort -k1,1
